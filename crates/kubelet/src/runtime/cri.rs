//! A CRI v1 client over a unix socket: the only way the kubelet touches
//! containers, so any CRI runtime (containerd, CRI-O) plugs in.
//!
//! The calls are thin wrappers that name what failed; the worker logic lives
//! elsewhere and reads the results.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1 as cri;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

/// List responses can be large on a busy node (RUNTIME-NOTES.md).
const MAX_DECODE: usize = 16 * 1024 * 1024;
/// Longer than the longest call we make (a pull or a stop with a long grace).
const CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// A CRI call that failed.
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    /// The socket could not be reached.
    #[error("connecting to the CRI socket {socket}: {source}")]
    Connect {
        /// The socket.
        socket: PathBuf,
        /// The cause.
        #[source]
        source: tonic::transport::Error,
    },
    /// The runtime answered with an error.
    #[error("CRI {call}: {status}")]
    Call {
        /// The RPC.
        call: &'static str,
        /// The runtime's answer.
        #[source]
        status: Box<tonic::Status>,
    },
}

impl CriError {
    /// Whether the runtime said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, CriError::Call { status, .. } if status.code() == tonic::Code::NotFound)
    }
    /// The runtime's message, for pod status messages.
    pub fn message(&self) -> String {
        match self {
            CriError::Call { status, .. } => status.message().to_string(),
            other => other.to_string(),
        }
    }
}

/// A CRI result.
pub type Result<T, E = CriError> = std::result::Result<T, E>;

/// Label the kubelet puts on sandboxes and containers; upstream's names,
/// so `crictl` users see the familiar keys (pkg/kubelet/types/labels.go).
pub mod labels {
    /// The pod's UID.
    pub const POD_UID: &str = "io.kubernetes.pod.uid";
    /// The pod's name.
    pub const POD_NAME: &str = "io.kubernetes.pod.name";
    /// The pod's namespace.
    pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
    /// The container's name in the pod spec.
    pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
}

/// A connected CRI client (runtime and image services on one channel).
#[derive(Clone)]
pub struct Cri {
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
}

fn call_error(call: &'static str) -> impl FnOnce(tonic::Status) -> CriError {
    move |status| CriError::Call {
        call,
        status: Box::new(status),
    }
}

impl Cri {
    /// Connects to the CRI socket at `socket` (lazily: the first call dials,
    /// and the channel redials after the runtime restarts).
    pub fn connect(socket: &Path) -> Result<Cri> {
        let path = socket.to_path_buf();
        // The URI is required by tonic and ignored by the connector.
        let channel = Endpoint::from_static("http://cri.invalid")
            .timeout(CALL_TIMEOUT)
            .connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                let path = path.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(path).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            }));
        Ok(Cri {
            runtime: RuntimeServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_DECODE),
            images: ImageServiceClient::new(channel).max_decoding_message_size(MAX_DECODE),
        })
    }

    /// The runtime's name and version.
    pub async fn version(&self) -> Result<cri::VersionResponse> {
        let request = cri::VersionRequest {
            version: "v1".into(),
        };
        Ok(self
            .runtime
            .clone()
            .version(request)
            .await
            .map_err(call_error("Version"))?
            .into_inner())
    }

    /// Whether the runtime reports RuntimeReady and NetworkReady.
    pub async fn conditions(&self) -> Result<Vec<cri::RuntimeCondition>> {
        let response = self
            .runtime
            .clone()
            .status(cri::StatusRequest { verbose: false })
            .await
            .map_err(call_error("Status"))?
            .into_inner();
        Ok(response.status.map(|s| s.conditions).unwrap_or_default())
    }

    /// Starts a pod sandbox; returns its id.
    pub async fn run_pod_sandbox(&self, config: cri::PodSandboxConfig) -> Result<String> {
        let request = cri::RunPodSandboxRequest {
            config: Some(config),
            runtime_handler: String::new(),
        };
        Ok(self
            .runtime
            .clone()
            .run_pod_sandbox(request)
            .await
            .map_err(call_error("RunPodSandbox"))?
            .into_inner()
            .pod_sandbox_id)
    }

    /// Stops a sandbox (its containers and network).
    pub async fn stop_pod_sandbox(&self, id: &str) -> Result<()> {
        let request = cri::StopPodSandboxRequest {
            pod_sandbox_id: id.into(),
        };
        self.runtime
            .clone()
            .stop_pod_sandbox(request)
            .await
            .map_err(call_error("StopPodSandbox"))?;
        Ok(())
    }

    /// Removes a stopped sandbox and its containers.
    pub async fn remove_pod_sandbox(&self, id: &str) -> Result<()> {
        let request = cri::RemovePodSandboxRequest {
            pod_sandbox_id: id.into(),
        };
        self.runtime
            .clone()
            .remove_pod_sandbox(request)
            .await
            .map_err(call_error("RemovePodSandbox"))?;
        Ok(())
    }

    /// A sandbox's status (state and IPs).
    pub async fn pod_sandbox_status(&self, id: &str) -> Result<cri::PodSandboxStatus> {
        let request = cri::PodSandboxStatusRequest {
            pod_sandbox_id: id.into(),
            verbose: false,
        };
        self.runtime
            .clone()
            .pod_sandbox_status(request)
            .await
            .map_err(call_error("PodSandboxStatus"))?
            .into_inner()
            .status
            .ok_or_else(|| CriError::Call {
                call: "PodSandboxStatus",
                status: Box::new(tonic::Status::not_found("no status in the answer")),
            })
    }

    /// Sandboxes whose labels include `selector`.
    pub async fn list_pod_sandboxes(
        &self,
        selector: HashMap<String, String>,
    ) -> Result<Vec<cri::PodSandbox>> {
        let request = cri::ListPodSandboxRequest {
            filter: Some(cri::PodSandboxFilter {
                label_selector: selector,
                ..Default::default()
            }),
        };
        Ok(self
            .runtime
            .clone()
            .list_pod_sandbox(request)
            .await
            .map_err(call_error("ListPodSandbox"))?
            .into_inner()
            .items)
    }

    /// Creates a container in a sandbox; returns its id.
    pub async fn create_container(
        &self,
        sandbox_id: &str,
        config: cri::ContainerConfig,
        sandbox_config: cri::PodSandboxConfig,
    ) -> Result<String> {
        let request = cri::CreateContainerRequest {
            pod_sandbox_id: sandbox_id.into(),
            config: Some(config),
            sandbox_config: Some(sandbox_config),
        };
        Ok(self
            .runtime
            .clone()
            .create_container(request)
            .await
            .map_err(call_error("CreateContainer"))?
            .into_inner()
            .container_id)
    }

    /// Starts a created container.
    pub async fn start_container(&self, id: &str) -> Result<()> {
        let request = cri::StartContainerRequest {
            container_id: id.into(),
        };
        self.runtime
            .clone()
            .start_container(request)
            .await
            .map_err(call_error("StartContainer"))?;
        Ok(())
    }

    /// Stops a container: SIGTERM (or the image's stop signal), SIGKILL after
    /// `timeout`.
    pub async fn stop_container(&self, id: &str, timeout: Duration) -> Result<()> {
        let request = cri::StopContainerRequest {
            container_id: id.into(),
            timeout: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        };
        self.runtime
            .clone()
            .stop_container(request)
            .await
            .map_err(call_error("StopContainer"))?;
        Ok(())
    }

    /// Removes a stopped container.
    pub async fn remove_container(&self, id: &str) -> Result<()> {
        let request = cri::RemoveContainerRequest {
            container_id: id.into(),
        };
        self.runtime
            .clone()
            .remove_container(request)
            .await
            .map_err(call_error("RemoveContainer"))?;
        Ok(())
    }

    /// Containers whose labels include `selector`.
    pub async fn list_containers(
        &self,
        selector: HashMap<String, String>,
    ) -> Result<Vec<cri::Container>> {
        let request = cri::ListContainersRequest {
            filter: Some(cri::ContainerFilter {
                label_selector: selector,
                ..Default::default()
            }),
        };
        Ok(self
            .runtime
            .clone()
            .list_containers(request)
            .await
            .map_err(call_error("ListContainers"))?
            .into_inner()
            .containers)
    }

    /// One container's full status (exit code, reason, times).
    pub async fn container_status(&self, id: &str) -> Result<cri::ContainerStatus> {
        let request = cri::ContainerStatusRequest {
            container_id: id.into(),
            verbose: false,
        };
        self.runtime
            .clone()
            .container_status(request)
            .await
            .map_err(call_error("ContainerStatus"))?
            .into_inner()
            .status
            .ok_or_else(|| CriError::Call {
                call: "ContainerStatus",
                status: Box::new(tonic::Status::not_found("no status in the answer")),
            })
    }

    /// Runs a command in a container and waits for it (exec probes, hooks).
    pub async fn exec_sync(
        &self,
        id: &str,
        cmd: Vec<String>,
        timeout: Duration,
    ) -> Result<cri::ExecSyncResponse> {
        let request = cri::ExecSyncRequest {
            container_id: id.into(),
            cmd,
            timeout: i64::try_from(timeout.as_secs().max(1)).unwrap_or(i64::MAX),
        };
        Ok(self
            .runtime
            .clone()
            .exec_sync(request)
            .await
            .map_err(call_error("ExecSync"))?
            .into_inner())
    }

    /// A URL on the runtime's streaming server that runs `request`'s
    /// command interactively (`kubectl exec`).
    pub async fn exec(&self, request: cri::ExecRequest) -> Result<String> {
        Ok(self
            .runtime
            .clone()
            .exec(request)
            .await
            .map_err(call_error("Exec"))?
            .into_inner()
            .url)
    }

    /// A URL on the runtime's streaming server attached to a container's
    /// main process (`kubectl attach`).
    pub async fn attach(&self, request: cri::AttachRequest) -> Result<String> {
        Ok(self
            .runtime
            .clone()
            .attach(request)
            .await
            .map_err(call_error("Attach"))?
            .into_inner()
            .url)
    }

    /// A URL on the runtime's streaming server forwarding to ports of a
    /// sandbox's network namespace (`kubectl port-forward`).
    pub async fn port_forward(&self, sandbox_id: &str) -> Result<String> {
        let request = cri::PortForwardRequest {
            pod_sandbox_id: sandbox_id.into(),
            port: Vec::new(),
        };
        Ok(self
            .runtime
            .clone()
            .port_forward(request)
            .await
            .map_err(call_error("PortForward"))?
            .into_inner()
            .url)
    }

    /// The image's record if the runtime has it.
    pub async fn image_status(&self, image: &str) -> Result<Option<cri::Image>> {
        let request = cri::ImageStatusRequest {
            image: Some(image_spec(image)),
            verbose: false,
        };
        Ok(self
            .images
            .clone()
            .image_status(request)
            .await
            .map_err(call_error("ImageStatus"))?
            .into_inner()
            .image)
    }

    /// Pulls an image; returns its reference (digest).
    pub async fn pull_image(&self, image: &str, auth: Option<cri::AuthConfig>) -> Result<String> {
        let request = cri::PullImageRequest {
            image: Some(image_spec(image)),
            auth,
            sandbox_config: None,
        };
        Ok(self
            .images
            .clone()
            .pull_image(request)
            .await
            .map_err(call_error("PullImage"))?
            .into_inner()
            .image_ref)
    }
}

/// An image reference as CRI wants it.
pub fn image_spec(image: &str) -> cri::ImageSpec {
    cri::ImageSpec {
        image: image.into(),
        user_specified_image: image.into(),
        ..Default::default()
    }
}

/// A label selector with one key.
pub fn selector(key: &str, value: &str) -> HashMap<String, String> {
    HashMap::from([(key.to_string(), value.to_string())])
}
