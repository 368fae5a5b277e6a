#!/usr/bin/env bash
# Installs the Debian packages rkube's cluster and tests need. Idempotent:
# packages already present are skipped without touching the network.
set -euo pipefail

packages=(
  containerd runc containernetworking-plugins  # the container runtime the kubelet drives
  nftables iptables conntrack                  # the service proxy
  busybox-static                               # offline test images
  protobuf-compiler                            # CRI stubs at build time
  etcd-server etcd-client                      # the etcd store backend and its tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian enables and starts etcd.service on install; rkube's tests start their own etcd on free
# ports, and a stray system etcd on 2379 is only in the way.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
  systemctl stop etcd || true
fi
