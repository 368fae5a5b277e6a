#!/bin/sh
# Idle simulated nodes: the agent's RSS and the API writes/s they cost.
#
#   crates/simnode/benches/idle-nodes.sh RKUBE_BINARY NODES [WINDOW_SECONDS]
#
# Starts `rkube server` on a free loopback port with a temp data dir, then
# `rkube agent --simulate NODES` against it, waits until the nodes are
# registered, lets them settle for 15 s, and counts the write requests
# (POST/PUT/PATCH/DELETE in apiserver_request_total) over the window. Both
# processes are killed on exit.
set -eu
rkube=$1
nodes=$2
window=${3:-60}
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server_pid=""
agent_pid=""
cleanup() {
    [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

"$rkube" server --data-dir "$dir" --bind-address 127.0.0.1 --https-listen-port "$port" 2>"$dir/server.log" &
server_pid=$!
kc="$dir/admin.kubeconfig"
k() { kubectl --kubeconfig "$kc" "$@"; }
for _ in $(seq 600); do
    [ -f "$kc" ] && k get --raw /readyz >/dev/null 2>&1 && break
    sleep 0.1
done

start=$(date +%s.%N)
RUST_LOG=info "$rkube" agent --simulate "$nodes" --data-dir "$dir" 2>"$dir/agent.log" &
agent_pid=$!
for _ in $(seq 6000); do
    grep -q "simulated nodes registered" "$dir/agent.log" && break
    kill -0 "$agent_pid" || { cat "$dir/agent.log"; exit 1; }
    sleep 0.1
done
registered=$(date +%s.%N)
ready=$(k get nodes --no-headers | grep -c " Ready ")

writes() {
    k get --raw /metrics | awk '/^apiserver_request_total/ && /verb="(POST|PUT|PATCH|DELETE)"/ { n += $NF } END { print n + 0 }'
}
rss_mib() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

sleep 15
w0=$(writes)
t0=$(date +%s.%N)
sleep "$window"
w1=$(writes)
t1=$(date +%s.%N)

echo "nodes:                 $nodes ($ready Ready in kubectl get nodes)"
echo "registration:          $(echo "$registered - $start" | bc) s"
echo "API writes/s (idle):   $(echo "scale=1; ($w1 - $w0) / ($t1 - $t0)" | bc)"
echo "agent RSS:             $(rss_mib "$agent_pid") MiB"
echo "server RSS:            $(rss_mib "$server_pid") MiB"
