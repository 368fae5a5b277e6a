//! Applying rulesets: the [`Nftables`] boundary and its real implementation
//! that runs `nft`.

use std::process::Stdio;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::error::{Error, Result};

/// What the proxy asks of nftables; a trait so the sync loop can be tested
/// without the kernel.
#[async_trait]
pub trait Nftables: Send + Sync {
    /// Replaces table `table` (family ip) with `definition` in one
    /// transaction: either the new table is in place or the old one is.
    async fn replace_table(&self, table: &str, definition: &str) -> Result<()>;
    /// Applies `transaction` (nft commands, e.g. from
    /// [`incremental::transaction`](crate::incremental::transaction)) all or
    /// nothing.
    async fn apply(&self, transaction: &str) -> Result<()>;
    /// Removes the table if it is there.
    async fn delete_table(&self, table: &str) -> Result<()>;
    /// Whether the table exists.
    async fn table_exists(&self, table: &str) -> Result<bool>;
}

/// The transaction that replaces `table` with `definition`. Adding the
/// (possibly existing) empty table first makes the delete valid when there
/// is nothing to delete yet; nft applies the whole input atomically.
pub fn replace_transaction(table: &str, definition: &str) -> String {
    format!("table ip {table}\ndelete table ip {table}\n{definition}")
}

/// Runs `/usr/sbin/nft` (or `nft` from PATH).
#[derive(Debug, Clone)]
pub struct NftCommand {
    program: String,
}

impl Default for NftCommand {
    fn default() -> Self {
        NftCommand {
            program: "nft".to_string(),
        }
    }
}

impl NftCommand {
    /// Feeds `input` to `nft <args> -f -`.
    async fn run_file(&self, action: &'static str, args: &[&str], input: &str) -> Result<()> {
        let mut child = Command::new(&self.program)
            .args(args)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(Error::NftSpawn)?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input.as_bytes())
                .await
                .map_err(Error::NftSpawn)?;
        }
        let output = child.wait_with_output().await.map_err(Error::NftSpawn)?;
        if output.status.success() {
            Ok(())
        } else {
            Err(Error::NftRejected {
                action,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            })
        }
    }

    /// Checks `input` with `nft -c` (parses and validates against the
    /// kernel without changing anything).
    pub async fn check(&self, input: &str) -> Result<()> {
        self.run_file("check", &["-c"], input).await
    }
}

#[async_trait]
impl Nftables for NftCommand {
    async fn replace_table(&self, table: &str, definition: &str) -> Result<()> {
        self.run_file("apply", &[], &replace_transaction(table, definition))
            .await
    }

    async fn apply(&self, transaction: &str) -> Result<()> {
        self.run_file("apply", &[], transaction).await
    }

    async fn delete_table(&self, table: &str) -> Result<()> {
        self.run_file(
            "delete",
            &[],
            &format!("table ip {table}\ndelete table ip {table}\n"),
        )
        .await
    }

    async fn table_exists(&self, table: &str) -> Result<bool> {
        let status = Command::new(&self.program)
            .args(["list", "table", "ip", table])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .status()
            .await
            .map_err(Error::NftSpawn)?;
        Ok(status.success())
    }
}
