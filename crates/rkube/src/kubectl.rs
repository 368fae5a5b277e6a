//! `rkube kubectl …`: kubectl with this cluster's admin kubeconfig, as k3s's
//! `k3s kubectl`.

use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::{bail, Context};

use crate::cli::KubectlArgs;

/// Replaces this process with kubectl. Returns only on failure.
pub fn run(args: KubectlArgs) -> anyhow::Result<()> {
    let kubeconfig = args.data_dir.join("admin.kubeconfig");
    if !kubeconfig.exists() {
        bail!(
            "{} does not exist: start the cluster first with `rkube server --data-dir {}`",
            kubeconfig.display(),
            args.data_dir.display()
        );
    }
    // An explicit KUBECONFIG wins, as with k3s.
    let kubeconfig = std::env::var_os("KUBECONFIG").unwrap_or_else(|| kubeconfig.into_os_string());
    let err = Command::new("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .args(&args.args)
        .exec();
    Err(err).context("running kubectl (is it installed and on PATH?)")
}
