//! The `rkube` binary: parses the command line, sets up logging, and hands
//! over to the command's `run`.

mod agent;
mod backup;
mod cli;
mod cluster_info;
mod components;
mod controller_manager;
mod dns;
mod image;
mod join;
mod kubectl;
mod kubelet;
mod node;
mod proxy;
mod scheduler;
mod server;
mod token;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    init_logging(cli.verbosity);
    match cli.command {
        cli::Command::Server(args) => runtime()?.block_on(server::run(args)),
        cli::Command::Kubectl(args) => kubectl::run(args),
        cli::Command::Backup(args) => backup::run(args),
        cli::Command::Scheduler(args) => runtime()?.block_on(scheduler::run(args)),
        cli::Command::Agent(args) => runtime()?.block_on(agent::run(args)),
        cli::Command::ControllerManager(args) => runtime()?.block_on(controller_manager::run(args)),
        cli::Command::Proxy(args) => runtime()?.block_on(proxy::run(args)),
        cli::Command::Kubelet(args) => runtime()?.block_on(kubelet::run(args)),
        cli::Command::Image(args) => runtime()?.block_on(image::run(args)),
        cli::Command::Dns(args) => runtime()?.block_on(dns::run(args)),
        cli::Command::Token(args) => runtime()?.block_on(token::run(args)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Logs go to stderr; `RUST_LOG` overrides `-v`.
fn init_logging(verbosity: u8) {
    let default = match verbosity {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
