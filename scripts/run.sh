#!/usr/bin/env bash
# From a fresh clone to a running single-node cluster: installs the Debian
# packages the cluster needs, builds rkube in release mode, builds the offline
# images (busybox, pause) into the data dir's image directory (no registry is
# needed), and runs `rkube server`.
# Extra arguments go to `rkube server` (e.g. --data-dir /tmp/rkube).
set -euo pipefail
cd "$(dirname "$0")/.."

data_dir=${RKUBE_DATA_DIR:-/var/lib/rkube}
args=("$@")
for i in "${!args[@]}"; do
  case ${args[$i]} in
    --data-dir) data_dir=${args[$((i + 1))]:-$data_dir} ;;
    --data-dir=*) data_dir=${args[$i]#--data-dir=} ;;
  esac
done

bash scripts/install-deps.sh
cargo build --release --locked -p rkube
images="$data_dir/agent/images"
if [ ! -e "$images/busybox-1.35.tar" ]; then
  bash scripts/build-test-images.sh "$images"
fi
exec ./target/release/rkube server "$@"
