#!/usr/bin/env bash
# Runs everything CI runs: formatting, lints, then every test of the workspace
# (unit, integration against real etcd / kubectl / containerd).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
# A one-shot build gains nothing from incremental state, which only costs disk.
export CARGO_INCREMENTAL=0
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --all-targets --locked
