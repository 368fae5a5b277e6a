#!/usr/bin/env bash
# From a fresh clone to a running single-node cluster: installs the Debian
# packages the cluster needs, builds rkube in release mode, runs `rkube server`.
# Extra arguments go to `rkube server` (e.g. --data-dir /tmp/rkube).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cargo build --release --locked -p rkube
exec ./target/release/rkube server "$@"
