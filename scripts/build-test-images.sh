#!/usr/bin/env bash
# Builds the offline test images as OCI image layout tarballs, from local material only
# (Debian's busybox-static), so pods run with no registry (DESIGN.md §5):
#   OUT/busybox-1.35.tar   docker.io/library/busybox:1.35
#   OUT/pause-3.10.tar     registry.k8s.io/pause:3.10 (a busybox shell that waits and exits on TERM)
# Import them with `rkube image import FILE` or put them in <data-dir>/agent/images/.
# Usage: scripts/build-test-images.sh OUT_DIR     (reproducible: same input, same digests)
set -euo pipefail

out=${1:?usage: $0 OUT_DIR}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] && "$busybox" --list >/dev/null 2>&1 || {
  echo "$busybox is not a static busybox: apt-get install busybox-static" >&2; exit 1; }
case "$(uname -m)" in
  x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; armv7l) arch=arm ;; *) arch=$(uname -m) ;;
esac
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# rootfs DIR: busybox, one symlink per applet, the files a shell expects.
rootfs() {
  local root=$1
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,proc,sys,dev,var/spool/cron/crontabs}
  install -d -m 1777 "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  local applet
  for applet in $("$root/bin/busybox" --list-full); do
    [ "$applet" = bin/busybox ] || [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
}

# image NAME REF FILE ENTRYPOINT_JSON CMD_JSON: one-layer OCI layout tarball.
image() {
  local name=$1 ref=$2 file=$3 entrypoint=$4 cmd=$5
  local dir=$work/$name root=$work/$name-rootfs
  rootfs "$root"
  mkdir -p "$dir/blobs/sha256"
  tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$root" -cf "$dir/layer.tar" .
  local diff_id; diff_id=$(sha "$dir/layer.tar")
  gzip -n -9 "$dir/layer.tar"
  local layer; layer=$(sha "$dir/layer.tar.gz")
  local layer_size; layer_size=$(size "$dir/layer.tar.gz")
  mv "$dir/layer.tar.gz" "$dir/blobs/sha256/$layer"

  printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Entrypoint":%s,"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"rkube scripts/build-test-images.sh"}]}' \
    "$arch" "$entrypoint" "$cmd" "$diff_id" >"$dir/config.json"
  local config; config=$(sha "$dir/config.json")
  local config_size; config_size=$(size "$dir/config.json")
  mv "$dir/config.json" "$dir/blobs/sha256/$config"

  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config" "$config_size" "$layer" "$layer_size" >"$dir/manifest.json"
  local manifest; manifest=$(sha "$dir/manifest.json")
  local manifest_size; manifest_size=$(size "$dir/manifest.json")
  mv "$dir/manifest.json" "$dir/blobs/sha256/$manifest"

  printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
  # Without io.containerd.image.name containerd invents a name (RUNTIME-NOTES.md).
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$manifest_size" "$arch" "$ref" "${ref##*:}" >"$dir/index.json"
  tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$dir" -cf "$out/$file.tmp" oci-layout index.json blobs
  mv "$out/$file.tmp" "$out/$file"
  echo "$out/$file  $ref  sha256:$manifest"
}

image busybox docker.io/library/busybox:1.35 busybox-1.35.tar 'null' '["sh"]'
# The sandbox's infra process: waits forever, exits 0 on TERM/INT, and (as PID 1 of the pod)
# reaps what it is handed.
image pause registry.k8s.io/pause:3.10 pause-3.10.tar \
  '["/bin/sh","-c","trap \"exit 0\" TERM INT; while :; do sleep 3600 & wait; done"]' 'null'
