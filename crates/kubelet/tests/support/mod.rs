//! Fixtures for kubelet tests against a real containerd: the offline test
//! images (built once per run), a node (its own temp dir, containerd,
//! socket, bridge and pod CIDR; cleaned up by PID and by name on drop, even
//! when the test fails), and waits on pod conditions under deadlines.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::runtime::wait::await_condition;
use rkube_kubelet::runtime::containerd::{Containerd, ContainerdOptions};
use rkube_kubelet::runtime::containerd_config::{CniSettings, ContainerdLayout};
use rkube_kubelet::{KubeletOptions, RuntimeEndpoint};
use tokio_util::sync::CancellationToken;

/// How long a pod may take to reach a state in these tests.
pub const POD_DEADLINE: Duration = Duration::from_secs(90);

/// The directory holding busybox-1.35.tar and pause-3.10.tar, built once per
/// test run by scripts/build-test-images.sh.
pub fn test_images() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rkube-test-images");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-test-images.sh");
        let status = Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .status()
            .expect("run build-test-images.sh");
        assert!(status.success(), "build-test-images.sh failed");
        dir
    })
}

/// A node's runtime: its own containerd in a temp dir.
pub struct TestNode {
    /// The node's temp dir (agent data dir).
    pub dir: tempfile::TempDir,
    /// The bridge name.
    pub bridge: String,
    /// The pod CIDR.
    pub pod_cidr: String,
    containerd: Option<Containerd>,
}

impl TestNode {
    /// A node numbered `n` (unique per test: bridge `rkt<n>`, CIDR 10.88.<n>.0/24).
    pub fn new(n: u8) -> TestNode {
        let dir = tempfile::Builder::new()
            .prefix("rkube-kubelet-")
            .tempdir()
            .unwrap();
        TestNode {
            dir,
            bridge: format!("rkt{n}"),
            pod_cidr: format!("10.88.{n}.0/24"),
            containerd: None,
        }
    }

    /// Options for a kubelet of this node named `name`, managing its own containerd.
    pub fn options(&self, name: &str) -> KubeletOptions {
        let mut options = KubeletOptions::new(name, self.dir.path().join("agent"));
        options.pod_cidr = self.pod_cidr.clone();
        options.pod_cidr_wait = Duration::ZERO;
        options.bridge = self.bridge.clone();
        // The node is the whole cluster: pods talking to each other are not masqueraded.
        options.cluster_cidr = self.pod_cidr.parse().unwrap();
        options.node_ip = Some("127.0.0.1".parse().unwrap());
        options
    }

    /// Starts this node's containerd outside the kubelet (so kubelets can
    /// come and go) and imports the test images; returns kubelet options
    /// that use it.
    pub async fn start_containerd(&mut self, name: &str) -> KubeletOptions {
        let mut options = self.options(name);
        let layout = options.containerd_layout();
        let cni = CniSettings {
            pod_cidr: self.pod_cidr.clone(),
            bridge: self.bridge.clone(),
        };
        let containerd = Containerd::start(ContainerdOptions::new(
            layout.clone(),
            &options.sandbox_image,
            cni,
        ))
        .await
        .expect("containerd starts");
        let imported = rkube_kubelet::images::import_dir(&layout.socket(), test_images())
            .await
            .unwrap();
        assert_eq!(imported, 2);
        options.runtime = RuntimeEndpoint::External(containerd.socket());
        self.containerd = Some(containerd);
        options
    }

    /// Copies the test images into the agent's images dir (imported at start).
    pub fn stage_images(&self, options: &KubeletOptions) {
        std::fs::create_dir_all(options.images_dir()).unwrap();
        for name in ["busybox-1.35.tar", "pause-3.10.tar"] {
            std::fs::copy(test_images().join(name), options.images_dir().join(name)).unwrap();
        }
    }

    /// The CRI client of the containerd started by [`start_containerd`].
    pub fn cri(&self) -> rkube_kubelet::runtime::cri::Cri {
        let layout = ContainerdLayout::new(self.dir.path().join("agent/containerd"));
        rkube_kubelet::runtime::cri::Cri::connect(&layout.socket()).unwrap()
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        // containerd dies with its Child (kill_on_drop); shims and the pods'
        // processes outlive it, so find them by our temp dir in their command
        // line, then remove the bridge and any mounts left under the dir.
        drop(self.containerd.take());
        let marker = self.dir.path().to_string_lossy().to_string();
        for _ in 0..2 {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let pid = entry.file_name().to_string_lossy().to_string();
                if !pid.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&marker) {
                    let _ = Command::new("kill").args(["-9", &pid]).status();
                }
            }
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
        let table = rkube_kubelet::network::masquerade::table_name(&self.bridge);
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &table])
            .output();
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&marker))
            .collect();
        ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mount in ours {
            let _ = Command::new("umount").args(["-l", mount]).status();
        }
    }
}

/// A kubelet running in this process until dropped or stopped.
pub struct RunningKubelet {
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<Result<(), rkube_kubelet::Error>>>,
}

impl RunningKubelet {
    /// Starts a kubelet.
    pub fn start(client: kube::Client, options: KubeletOptions) -> RunningKubelet {
        let stop = CancellationToken::new();
        let task = tokio::spawn(rkube_kubelet::run(
            client,
            options,
            stop.clone().cancelled_owned(),
        ));
        RunningKubelet {
            stop,
            task: Some(task),
        }
    }

    /// Stops it and returns how it ended.
    pub async fn stop(mut self) -> Result<(), rkube_kubelet::Error> {
        self.stop.cancel();
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("the kubelet stops within 60s")
            .expect("the kubelet task did not panic")
    }
}

impl Drop for RunningKubelet {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Creates `pod` (YAML or JSON) in `default`, bound to `node`.
pub async fn create_pod(client: &kube::Client, node: &str, manifest: serde_json::Value) -> Pod {
    let mut pod: Pod = serde_json::from_value(manifest).unwrap();
    pod.spec.as_mut().unwrap().node_name = Some(node.to_string());
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &pod).await.unwrap()
}

/// Waits until pod `name` satisfies `condition`; panics with the pod's last
/// status after the deadline.
pub async fn wait_pod(
    client: &kube::Client,
    name: &str,
    what: &str,
    condition: impl Fn(&Pod) -> bool,
) -> Pod {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let waited = tokio::time::timeout(
        POD_DEADLINE,
        await_condition(api.clone(), name, move |p: Option<&Pod>| {
            p.is_some_and(&condition)
        }),
    )
    .await;
    match waited {
        Ok(Ok(Some(pod))) => pod,
        _ => {
            let last = api
                .get_opt(name)
                .await
                .ok()
                .flatten()
                .and_then(|p| p.status);
            panic!(
                "pod {name} did not become {what} within {POD_DEADLINE:?}; last status: {last:#?}"
            )
        }
    }
}

/// The pod's phase.
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// The waiting reason of container `name`.
pub fn waiting_reason<'a>(pod: &'a Pod, name: &str) -> Option<&'a str> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == name)?
        .state
        .as_ref()?
        .waiting
        .as_ref()?
        .reason
        .as_deref()
}

/// A manifest from examples, one document by kind.
pub fn example(file: &str, kind: &str) -> serde_json::Value {
    let text =
        std::fs::read_to_string(rkube_testkit::TestApiserver::examples_dir().join(file)).unwrap();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let value: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
        if value["kind"] == kind {
            return value;
        }
    }
    panic!("no {kind} in {file}")
}

/// The terminated state of container `name`.
pub fn terminated<'a>(
    pod: &'a Pod,
    name: &str,
) -> Option<&'a k8s_openapi::api::core::v1::ContainerStateTerminated> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == name)?
        .state
        .as_ref()?
        .terminated
        .as_ref()
}
