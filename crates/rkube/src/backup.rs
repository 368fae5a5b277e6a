//! `rkube backup FILE` and `rkube server --restore FILE`: the embedded store
//! copied consistently while the cluster runs, and a cluster started from
//! such a copy (k3s's `etcd-snapshot` for the embedded case).

use std::fs::File;
use std::path::Path;

use anyhow::{bail, Context};
use rkube_store::embedded::{snapshot_database, DATABASE_FILE};

use crate::cli::BackupArgs;

/// Writes the backup and says which revision it holds.
pub fn run(args: BackupArgs) -> anyhow::Result<()> {
    let db = store_dir(&args.data_dir);
    let revision = snapshot_database(&db, &args.file)
        .with_context(|| format!("backing up {} to {}", db.display(), args.file.display()))?;
    println!(
        "backup of {} at revision {revision} written to {}",
        db.display(),
        args.file.display()
    );
    Ok(())
}

/// Puts `backup` in place as the data dir's store, before the server opens it.
/// Refuses to replace an existing store: that is the user's call to make.
pub fn restore(backup: &Path, data_dir: &Path) -> anyhow::Result<()> {
    let db = store_dir(data_dir);
    let target = db.join(DATABASE_FILE);
    if target.exists() {
        bail!(
            "refusing to restore over the existing store {}: move {} away first",
            target.display(),
            db.display()
        );
    }
    std::fs::create_dir_all(&db)?;
    std::fs::copy(backup, &target)
        .with_context(|| format!("copying {} to {}", backup.display(), target.display()))?;
    // The restored store must be durable before the server acknowledges anything on top of it.
    File::open(&target)?.sync_all()?;
    File::open(&db)?.sync_all()?;
    Ok(())
}

/// Where the embedded store lives in a data dir.
pub fn store_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("db")
}
