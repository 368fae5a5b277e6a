//! `rkube image import FILE.tar`: puts an image tarball (OCI layout or
//! docker-archive) into the node's containerd, or, when that is not
//! running, into `<data-dir>/agent/images/` for the next agent start.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

/// `rkube image` arguments.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ImageCommand,
}

/// `rkube image` subcommands.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Import image tarballs into the node's containerd (k8s.io namespace).
    Import {
        /// The rkube data dir of the node.
        #[arg(long, env = "RKUBE_DATA_DIR", default_value = "/var/lib/rkube")]
        data_dir: PathBuf,
        /// A containerd socket to import into (default: the agent's own).
        #[arg(long)]
        address: Option<PathBuf>,
        /// The tarballs.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Runs an image command.
pub async fn run(args: ImageArgs) -> anyhow::Result<()> {
    match args.command {
        ImageCommand::Import {
            data_dir,
            address,
            files,
        } => {
            let options = rkube_kubelet::KubeletOptions::new(
                String::new(),
                crate::kubelet::agent_dir(&data_dir),
            );
            let socket = address.unwrap_or_else(|| options.containerd_layout().socket());
            if socket.exists() {
                for file in &files {
                    rkube_kubelet::images::import(&socket, file).await?;
                    eprintln!("imported {}", file.display());
                }
                return Ok(());
            }
            let dir = options.images_dir();
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for file in &files {
                let name = file.file_name().context("the file has no name")?;
                std::fs::copy(file, dir.join(name)).with_context(|| {
                    format!("copying {} into {}", file.display(), dir.display())
                })?;
                eprintln!(
                    "containerd is not running ({}); {} will be imported when the agent starts",
                    socket.display(),
                    file.display()
                );
            }
            Ok(())
        }
    }
}
