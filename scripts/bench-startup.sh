#!/usr/bin/env bash
# How fast `rkube server` is a working single-node cluster, and how much
# memory it takes (issue 8's goal figures). Needs root, as `rkube server` with
# its agent does; start it on a machine without another rkube node running.
#
#   bash scripts/bench-startup.sh [path/to/rkube] [runs]
#
# Prints, per run: seconds until the apiserver answers /readyz, until the Node
# is Ready, until cluster DNS answers for kubernetes.default; then the VmRSS of
# the rkube process and of its containerd, idle and with the web Deployment
# (3 busybox pods) running. Each run uses a fresh data dir (cold start), with
# the offline images staged so no registry is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

rkube=${1:-target/release/rkube}
runs=${2:-3}
images=${RKUBE_BENCH_IMAGES:-target/bench-images}
[ -e "$images/busybox-1.35.tar" ] || bash scripts/build-test-images.sh "$images" >/dev/null

rss_mib() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc | xargs printf '%.2f'; }

pid=
dir=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
  fi
  [ -n "$dir" ] && rm -rf "$dir"
  pid= dir=
}
trap cleanup EXIT

for run in $(seq 1 "$runs"); do
  dir=$(mktemp -d /tmp/rkube-bench-startup-XXXX)
  mkdir -p "$dir/agent/images"
  cp "$images"/*.tar "$dir/agent/images/"
  kubeconfig="$dir/admin.kubeconfig"
  start=$(now)
  "$rkube" server --data-dir "$dir" >"$dir/server.log" 2>&1 &
  pid=$!
  until [ -e "$kubeconfig" ] && kubectl --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null 2>&1; do sleep 0.02; done
  ready_api=$(since "$start")
  until kubectl --kubeconfig "$kubeconfig" get nodes --no-headers 2>/dev/null | grep -q ' Ready '; do sleep 0.05; done
  ready_node=$(since "$start")
  node_ip=$(kubectl --kubeconfig "$kubeconfig" get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}')
  until busybox nslookup kubernetes.default.svc.cluster.local "$node_ip" 2>/dev/null | grep -q 'Address.*10\.43\.0\.1$'; do sleep 0.05; done
  ready_dns=$(since "$start")
  sleep 5 # let start-up work (image import, first syncs) settle before sampling idle memory
  containerd=$(pgrep -f "containerd --config $dir" | head -1)
  idle_rkube=$(rss_mib "$pid")
  idle_containerd=$(rss_mib "$containerd")
  kubectl --kubeconfig "$kubeconfig" apply -f examples/web-deployment.yaml >/dev/null
  kubectl --kubeconfig "$kubeconfig" rollout status deployment/web --timeout=180s >/dev/null
  busy_rkube=$(rss_mib "$pid")
  busy_containerd=$(rss_mib "$containerd")
  printf 'run %s: apiserver ready %ss, node Ready %ss, DNS answering %ss; RSS idle: rkube %s MiB, containerd %s MiB; with 3 pods: rkube %s MiB, containerd %s MiB\n' \
    "$run" "$ready_api" "$ready_node" "$ready_dns" "$idle_rkube" "$idle_containerd" "$busy_rkube" "$busy_containerd"
  cleanup
done
