//! The files the agent writes for its own containerd: `config.toml` and the
//! CNI conflist for the node's pod CIDR. Pure rendering, no I/O, so the
//! settings that make pods start on these machines are unit-tested
//! (RUNTIME-NOTES.md "containerd configuration that works").

use std::path::{Path, PathBuf};

/// Where one containerd instance keeps everything, all under one directory
/// so several agents (nodes) can run on one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerdLayout {
    /// The directory holding everything below.
    pub dir: PathBuf,
}

impl ContainerdLayout {
    /// The layout under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ContainerdLayout { dir: dir.into() }
    }
    /// The generated `config.toml`.
    pub fn config_file(&self) -> PathBuf {
        self.dir.join("config.toml")
    }
    /// The gRPC socket (CRI and the containerd API).
    pub fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }
    /// The ttrpc socket for shims.
    pub fn ttrpc_socket(&self) -> PathBuf {
        self.dir.join("containerd.sock.ttrpc")
    }
    /// Persistent root (content, snapshots, metadata).
    pub fn root(&self) -> PathBuf {
        self.dir.join("root")
    }
    /// Runtime state (tasks, netns mounts).
    pub fn state(&self) -> PathBuf {
        self.dir.join("state")
    }
    /// The CNI config directory containerd reads.
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.dir.join("cni")
    }
    /// The CNI conflist file.
    pub fn cni_conflist(&self) -> PathBuf {
        self.cni_conf_dir().join("10-rkube.conflist")
    }
    /// host-local's IP allocation state.
    pub fn ipam_dir(&self) -> PathBuf {
        self.dir.join("ipam")
    }
    /// runc's state root for this instance.
    pub fn runc_root(&self) -> PathBuf {
        self.dir.join("runc")
    }
    /// containerd's own log.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("containerd.log")
    }
}

/// The CNI settings of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CniSettings {
    /// The node's pod CIDR, e.g. `10.42.0.0/24`.
    pub pod_cidr: String,
    /// The Linux bridge name (at most 15 bytes), own per node.
    pub bridge: String,
}

/// Debian's `containernetworking-plugins` install directory.
pub const DEBIAN_CNI_BIN_DIR: &str = "/usr/lib/cni";

/// containerd's `config.toml` (version 2) for `layout`, using `sandbox_image`
/// as the pause image and CNI binaries from `cni_bin_dir`.
pub fn render_config(layout: &ContainerdLayout, sandbox_image: &str, cni_bin_dir: &Path) -> String {
    let q = |p: PathBuf| toml_string(&p.to_string_lossy());
    format!(
        r#"# Written by rkube; rewritten at every agent start.
version = 2
root = {root}
state = {state}

[grpc]
  address = {socket}

[ttrpc]
  address = {ttrpc}

[plugins."io.containerd.internal.v1.opt"]
  path = {opt}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = {sandbox}
  # Root here lacks CAP_SYS_RESOURCE: negative oom_score_adj values are refused.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = {runc_root}

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = {cni_bin}
    conf_dir = {cni_conf}
    max_conf_num = 1
"#,
        root = q(layout.root()),
        state = q(layout.state()),
        socket = q(layout.socket()),
        ttrpc = q(layout.ttrpc_socket()),
        opt = q(layout.dir.join("opt")),
        sandbox = toml_string(sandbox_image),
        runc_root = q(layout.runc_root()),
        cni_bin = toml_string(&cni_bin_dir.to_string_lossy()),
        cni_conf = q(layout.cni_conf_dir()),
    )
}

/// The CNI conflist: bridge with host-local IPAM over the pod CIDR, then
/// portmap for hostPorts. containerd 1.6 brings `lo` up itself, so no
/// `loopback` plugin (RUNTIME-NOTES.md).
pub fn render_cni_conflist(layout: &ContainerdLayout, cni: &CniSettings) -> serde_json::Value {
    serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "rkube",
        "plugins": [
            {
                "type": "bridge",
                "bridge": cni.bridge,
                "isGateway": true,
                // Masquerade is the pod network's (network::masquerade): the
                // bridge's would hide pods' addresses from other nodes' pods.
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "dataDir": layout.ipam_dir(),
                    "ranges": [[{ "subnet": cni.pod_cidr }]],
                    "routes": [{ "dst": "0.0.0.0/0" }]
                }
            },
            {
                "type": "portmap",
                "capabilities": { "portMappings": true }
            }
        ]
    })
}

/// A TOML basic string: quotes and backslashes escaped.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_config_keeps_every_path_under_the_layout_dir_and_restricts_oom_score_adj() {
        let layout = ContainerdLayout::new("/data/containerd");
        let config = render_config(
            &layout,
            "registry.k8s.io/pause:3.10",
            Path::new("/usr/lib/cni"),
        );
        for needle in [
            "root = \"/data/containerd/root\"",
            "state = \"/data/containerd/state\"",
            "address = \"/data/containerd/containerd.sock\"",
            "address = \"/data/containerd/containerd.sock.ttrpc\"",
            "restrict_oom_score_adj = true",
            "netns_mounts_under_state_dir = true",
            "SystemdCgroup = false",
            "Root = \"/data/containerd/runc\"",
            "conf_dir = \"/data/containerd/cni\"",
            "sandbox_image = \"registry.k8s.io/pause:3.10\"",
        ] {
            assert!(config.contains(needle), "missing {needle:?} in\n{config}");
        }
    }

    #[test]
    fn toml_strings_escape_quotes_and_backslashes() {
        let cases = [
            ("plain", "\"plain\""),
            ("a\"b", "\"a\\\"b\""),
            ("a\\b", "\"a\\\\b\""),
        ];
        for (input, want) in cases {
            assert_eq!(toml_string(input), want, "{input}");
        }
    }

    #[test]
    fn the_conflist_chains_bridge_then_portmap_over_the_pod_cidr() {
        let layout = ContainerdLayout::new("/d");
        let cni = CniSettings {
            pod_cidr: "10.42.3.0/24".into(),
            bridge: "rkube0".into(),
        };
        let list = render_cni_conflist(&layout, &cni);
        assert_eq!(list["plugins"][0]["type"], "bridge");
        assert_eq!(list["plugins"][0]["bridge"], "rkube0");
        assert_eq!(
            list["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.42.3.0/24"
        );
        assert_eq!(list["plugins"][0]["ipam"]["dataDir"], "/d/ipam");
        assert_eq!(list["plugins"][1]["type"], "portmap");
        assert_eq!(list["plugins"].as_array().map(Vec::len), Some(2));
    }
}
