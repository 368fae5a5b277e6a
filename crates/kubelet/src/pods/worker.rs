//! One worker per pod: each pass reads what the runtime has for the pod
//! (by UID label), moves it one step toward the spec (sandbox, then init
//! containers in order, then containers, restarts with back-off, or
//! termination), and reports the status (pkg/kubelet/pod_workers.go,
//! kuberuntime_manager.go `SyncPod`/`computePodActions`).
//!
//! Nothing about running containers is kept only in memory, so a restarted
//! kubelet adopts them: it never kills what it finds running.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn, Instrument};

use super::backoff::Backoff;
use super::dns::{dns_config, hosts_file, ClusterDns};
use super::env::{container_env, EnvSources, PodAddresses};
use super::hooks::{self, Hook, HookTarget};
use super::observed::{observe, ObservedPod, RuntimeState};
use super::probes::events::{PodEvents, Reason};
use super::probes::ProbeManager;
use super::resources::linux_resources;
use super::runtime_config::{container_config, sandbox_config, ContainerInputs};
use super::status::init_progress;
use super::status::{
    init_containers, phase, pod_status, InitProgress, RestartPolicy, StatusInput, Waiting,
    WaitingReason,
};
use super::termination_message;
use super::volumes::{self, HostVolume};
use super::ConfigError;
use crate::images::{ensure_image, ImageFailure};
use crate::runtime::cri::{Cri, CriError};

/// How often a pod is re-read from the runtime while it runs (upstream's
/// PLEG relist period).
const RESYNC: Duration = Duration::from_secs(1);
/// The grace period when the pod does not say.
const DEFAULT_GRACE: i64 = 30;
/// The longest a postStart hook may hold the worker; upstream sets none,
/// but a hook that never returns would stall the pod for good.
const POST_START_LIMIT: Duration = Duration::from_secs(300);

/// What every pod worker shares.
pub struct PodContext {
    /// The runtime.
    pub cri: Cri,
    /// The API client.
    pub client: kube::Client,
    /// This node's IP.
    pub host_ip: String,
    /// Where pod directories (volumes, hosts files, logs) live.
    pub pods_dir: PathBuf,
    /// Cluster DNS settings.
    pub cluster_dns: ClusterDns,
    /// The node's resolver.
    pub host_dns: cri::DnsConfig,
    /// The lowest oom_score_adj we may ask for: our own (RUNTIME-NOTES.md).
    pub oom_score_adj_floor: i64,
}

/// What a worker does after a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Pass again after this long (or sooner on a pod update).
    After(Duration),
    /// The pod is gone: the worker ends.
    Done,
}

/// Runs the worker for the pod with `uid` until the pod is gone and cleaned
/// up. `updates` carries the latest pod, `None` once it left the API.
pub async fn run(ctx: Arc<PodContext>, uid: String, mut updates: watch::Receiver<Option<Pod>>) {
    let mut worker = PodWorker {
        probes: ProbeManager::new(ctx.cri.clone()),
        events: None,
        ctx,
        uid: uid.clone(),
        backoff: Backoff::default(),
        waiting: HashMap::new(),
        volumes: None,
        hosts_written_for: None,
        last_status: None,
    };
    loop {
        let pod = updates.borrow_and_update().clone();
        let span = tracing::debug_span!("pod", %uid, name = pod.as_ref().and_then(|p| p.metadata.name.clone()));
        let next = async {
            match &pod {
                Some(pod) => worker.sync(pod).await,
                None => worker.remove_orphan().await,
            }
        }
        .instrument(span)
        .await;
        let next = next.unwrap_or_else(|e| {
            warn!(%uid, error = %e, "pod sync failed; retrying");
            Next::After(RESYNC)
        });
        match next {
            Next::Done => return,
            Next::After(delay) => {
                tokio::select! {
                    changed = updates.changed() => if changed.is_err() {
                        // The manager stopped (kubelet shutdown): leave the pod running.
                        return;
                    },
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// A pass failed.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    Cri(#[from] CriError),
    #[error("API: {0}")]
    Api(#[from] kube::Error),
}

struct PodWorker {
    ctx: Arc<PodContext>,
    uid: String,
    backoff: Backoff,
    waiting: HashMap<String, Waiting>,
    volumes: Option<HashMap<String, HostVolume>>,
    hosts_written_for: Option<String>,
    last_status: Option<serde_json::Value>,
    /// The probes of the running containers.
    probes: ProbeManager,
    /// Events about the pod, once it was seen.
    events: Option<PodEvents>,
}

impl PodWorker {
    fn pod_dir(&self) -> PathBuf {
        self.ctx.pods_dir.join(&self.uid)
    }

    async fn sync(&mut self, pod: &Pod) -> Result<Next, SyncError> {
        let events = self
            .events
            .get_or_insert_with(|| PodEvents::new(self.ctx.client.clone(), pod))
            .clone();
        let observed = observe(&self.ctx.cri, &self.uid).await?;
        if pod.metadata.deletion_timestamp.is_some() {
            return self.finish_deletion(pod, &observed).await;
        }
        self.collect_garbage(&observed).await;
        let already_terminal = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_some_and(|p| p == "Succeeded" || p == "Failed");
        if already_terminal || phase(pod, &observed).is_terminal() {
            // Upstream stops a finished pod's sandbox; its containers stay
            // for logs until the pod is deleted.
            self.stop_sandboxes(&observed).await;
            let observed = observe(&self.ctx.cri, &self.uid).await?;
            // Probes of containers that stopped with the pod stop too.
            self.probes.sync(pod, &observed, "", &events);
            self.report(pod, &observed, "").await?;
            return Ok(Next::After(Duration::from_secs(10)));
        }

        let dns = dns_config(pod, &self.ctx.cluster_dns, &self.ctx.host_dns);
        let sandbox = match observed.sandbox().filter(|s| s.ready) {
            Some(s) => s.clone(),
            None => {
                self.stop_sandboxes(&observed).await;
                let attempt = observed.sandbox().map_or(0, |s| s.attempt + 1);
                if let Err(e) = self.prepare_pod_dir(pod, "").await {
                    self.wait_all(
                        pod,
                        WaitingReason::CreateContainerConfigError,
                        e.to_string(),
                    );
                    self.report(pod, &observed, "").await?;
                    return Ok(Next::After(RESYNC));
                }
                let config =
                    sandbox_config(pod, attempt, dns.clone(), &self.pod_dir().join("logs"));
                info!(pod = ?pod.metadata.name, attempt, "starting the pod sandbox");
                if let Err(e) = self.ctx.cri.run_pod_sandbox(config).await {
                    self.wait_all(
                        pod,
                        WaitingReason::ContainerCreating,
                        format!("failed to create the pod sandbox: {}", e.message()),
                    );
                    self.report(pod, &observed, "").await?;
                    return Ok(Next::After(RESYNC * 5));
                }
                let observed = observe(&self.ctx.cri, &self.uid).await?;
                match observed.sandbox() {
                    Some(s) => s.clone(),
                    None => return Ok(Next::After(RESYNC)),
                }
            }
        };
        let pod_ip = self
            .ctx
            .cri
            .pod_sandbox_status(&sandbox.id)
            .await?
            .network
            .map(|n| n.ip)
            .unwrap_or_default();
        let host_network = pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        let pod_ip = if host_network {
            self.ctx.host_ip.clone()
        } else {
            pod_ip
        };
        if self.hosts_written_for.as_deref() != Some(&sandbox.id) || self.volumes.is_none() {
            if let Err(e) = self.prepare_pod_dir(pod, &pod_ip).await {
                self.wait_all(
                    pod,
                    WaitingReason::CreateContainerConfigError,
                    e.to_string(),
                );
            } else {
                self.hosts_written_for = Some(sandbox.id.clone());
            }
        }
        let sandbox_config =
            sandbox_config(pod, sandbox.attempt, dns, &self.pod_dir().join("logs"));
        let target = Target {
            sandbox_id: &sandbox.id,
            sandbox_config: &sandbox_config,
            pod_ip: &pod_ip,
        };

        let policy = RestartPolicy::of(pod);
        self.kill_unhealthy(pod, &observed, policy, &events).await;
        match init_progress(pod, &observed) {
            InitProgress::InProgress => {
                for init in init_containers(pod) {
                    match observed.latest(&init.name) {
                        Some(c) if c.state == RuntimeState::Exited && c.exit_code == 0 => continue,
                        Some(c) if c.state == RuntimeState::Running => break,
                        Some(c) if c.state == RuntimeState::Exited => {
                            let attempt = c.attempt + 1;
                            self.restart(pod, init, attempt, &target).await;
                            break;
                        }
                        Some(c) if c.state == RuntimeState::Created => {
                            self.start_created(pod, init, &c.id, target.pod_ip).await;
                            break;
                        }
                        _ => {
                            self.start(pod, init, 0, &target).await;
                            break;
                        }
                    }
                }
            }
            InitProgress::Failed => {}
            InitProgress::Done => {
                for container in super::status::containers(pod) {
                    match observed.latest(&container.name) {
                        None => self.start(pod, container, 0, &target).await,
                        Some(c) if c.state == RuntimeState::Created => {
                            self.start_created(pod, container, &c.id, target.pod_ip)
                                .await
                        }
                        Some(c)
                            if c.state == RuntimeState::Exited && policy.restarts(c.exit_code) =>
                        {
                            let attempt = c.attempt + 1;
                            self.restart(pod, container, attempt, &target).await
                        }
                        Some(_) => {
                            self.waiting.remove(&container.name);
                        }
                    }
                }
            }
        }
        let observed = observe(&self.ctx.cri, &self.uid).await?;
        self.probes.sync(pod, &observed, &pod_ip, &events);
        self.report(pod, &observed, &pod_ip).await?;
        Ok(Next::After(RESYNC))
    }

    /// Kills the containers whose liveness or startup probe failed; the
    /// restart policy then restarts them (kuberuntime_manager.go
    /// `computePodActions`), with the probe's grace period when it sets one.
    async fn kill_unhealthy(
        &self,
        pod: &Pod,
        observed: &ObservedPod,
        policy: RestartPolicy,
        events: &PodEvents,
    ) {
        for failed in self.probes.failed(pod, observed) {
            let Some(spec) = super::status::containers(pod)
                .iter()
                .find(|c| c.name == failed.container)
            else {
                continue;
            };
            let mut message = format!(
                "Container {} failed {} probe",
                failed.container,
                failed.kind.as_str().to_lowercase()
            );
            // A killed container exits non-zero, so only Never keeps it down.
            if policy != RestartPolicy::Never {
                message.push_str(", will be restarted");
            }
            info!(container = %failed.container, kind = failed.kind.as_str(), "killing an unhealthy container");
            events.record(&failed.container, Reason::Killing, message);
            let grace = probe_grace(pod, spec, failed.kind);
            if let Err(e) = self
                .stop_container(pod, Some(spec), failed.id.clone(), Instant::now() + grace)
                .await
            {
                warn!(container = %failed.container, error = %e, "could not kill an unhealthy container");
            }
        }
    }

    /// Restarts an exited container unless its back-off holds it.
    async fn restart(
        &mut self,
        pod: &Pod,
        container: &Container,
        attempt: u32,
        target: &Target<'_>,
    ) {
        let now = Instant::now();
        if self.backoff.remaining(&container.name, now).is_some() {
            let message = format!(
                "back-off {}s restarting failed container={} pod={}_{}({})",
                self.backoff.delay(&container.name).as_secs(),
                container.name,
                pod.metadata.name.as_deref().unwrap_or(""),
                pod.metadata.namespace.as_deref().unwrap_or(""),
                self.uid
            );
            self.set_waiting(&container.name, WaitingReason::CrashLoopBackOff, message);
            return;
        }
        self.backoff.record(&container.name, now);
        self.start(pod, container, attempt, target).await;
    }

    /// Pulls (per policy), resolves config, creates and starts a container.
    async fn start(&mut self, pod: &Pod, container: &Container, attempt: u32, target: &Target<'_>) {
        let name = container.name.clone();
        let pull_key = format!("pull/{name}");
        let now = Instant::now();
        if self.backoff.remaining(&pull_key, now).is_some() {
            let image = container.image.as_deref().unwrap_or("");
            self.set_waiting(
                &name,
                WaitingReason::ImagePullBackOff,
                format!("Back-off pulling image \"{image}\""),
            );
            return;
        }
        match ensure_image(&self.ctx.cri, pod, container).await {
            Ok(()) => self.backoff.clear(&pull_key),
            Err(ImageFailure { reason, message }) => {
                if reason == WaitingReason::ErrImagePull {
                    self.backoff.record(&pull_key, now);
                }
                self.set_waiting(&name, reason, message);
                return;
            }
        }
        let config = match self
            .container_config(pod, container, attempt, target.pod_ip)
            .await
        {
            Ok(config) => config,
            Err(StartError::Config(e)) => {
                self.set_waiting(
                    &name,
                    WaitingReason::CreateContainerConfigError,
                    e.to_string(),
                );
                return;
            }
            Err(StartError::Api(e)) => {
                self.set_waiting(
                    &name,
                    WaitingReason::CreateContainerConfigError,
                    e.to_string(),
                );
                return;
            }
        };
        let id = match self
            .ctx
            .cri
            .create_container(target.sandbox_id, config, target.sandbox_config.clone())
            .await
        {
            Ok(id) => id,
            Err(e) => {
                self.set_waiting(&name, WaitingReason::CreateContainerError, e.message());
                return;
            }
        };
        self.start_created(pod, container, &id, target.pod_ip).await;
    }

    async fn start_created(&mut self, pod: &Pod, container: &Container, id: &str, pod_ip: &str) {
        let name = container.name.as_str();
        match self.ctx.cri.start_container(id).await {
            Ok(()) => {
                debug!(container = name, id, "started");
                self.waiting.remove(name);
                self.post_start(pod, container, id, pod_ip).await;
            }
            Err(e) => self.set_waiting(name, WaitingReason::RunContainerError, e.message()),
        }
    }

    /// Runs the postStart hook; a failure kills the container
    /// (kuberuntime_container.go `startContainer`), whose restart policy
    /// then decides.
    async fn post_start(&self, pod: &Pod, container: &Container, id: &str, pod_ip: &str) {
        let Some(handler) = Hook::PostStart.handler(container) else {
            return;
        };
        let target = HookTarget {
            cri: &self.ctx.cri,
            container,
            id,
            pod_ip,
            pod: pod_label(pod, &self.uid),
        };
        let Err(e) = hooks::run(handler, &target, POST_START_LIMIT).await else {
            return;
        };
        warn!(container = %container.name, error = %e, "postStart hook failed; killing the container");
        if let Some(events) = &self.events {
            events.record(&container.name, Reason::FailedPostStartHook, e.to_string());
        }
        let grace = Duration::from_secs(pod_grace(pod));
        if let Err(e) = self.ctx.cri.stop_container(id, grace).await {
            warn!(container = %container.name, error = %e, "could not kill the container");
        }
    }

    async fn container_config(
        &mut self,
        pod: &Pod,
        container: &Container,
        attempt: u32,
        pod_ip: &str,
    ) -> Result<cri::ContainerConfig, StartError> {
        let sources = self.env_sources(pod).await?;
        let addresses = PodAddresses {
            host_ip: self.ctx.host_ip.clone(),
            pod_ip: pod_ip.to_string(),
        };
        let env = container_env(pod, container, &sources, &addresses)?;
        let volumes = match &self.volumes {
            Some(v) => v.clone(),
            None => {
                let v = volumes::prepare(pod, &self.pod_dir(), &sources, &addresses)?;
                self.volumes = Some(v.clone());
                v
            }
        };
        let mut mounts = volumes::mounts(container, &volumes)?;
        let host_network = pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        let mounts_hosts = mounts.iter().any(|m| m.container_path == "/etc/hosts");
        if !host_network && !mounts_hosts {
            mounts.push(cri::Mount {
                container_path: "/etc/hosts".into(),
                host_path: self
                    .pod_dir()
                    .join("etc-hosts")
                    .to_string_lossy()
                    .into_owned(),
                ..Default::default()
            });
        }
        let message_file = termination_message::mount(&self.pod_dir(), container, attempt)
            .map_err(|e| ConfigError::Volume(format!("termination message file: {e}")))?;
        mounts.push(message_file);
        let log_dir = self.pod_dir().join("logs").join(&container.name);
        std::fs::create_dir_all(&log_dir)
            .map_err(|e| ConfigError::Volume(format!("{}: {e}", log_dir.display())))?;
        Ok(container_config(
            pod,
            container,
            ContainerInputs {
                env,
                mounts,
                attempt,
                resources: linux_resources(
                    container.resources.as_ref(),
                    self.ctx.oom_score_adj_floor.max(0),
                ),
                log_path: format!("{}/{attempt}.log", container.name),
            },
        ))
    }

    /// Fetches the ConfigMaps, Secrets and Services the pod's env and
    /// volumes name.
    async fn env_sources(&self, pod: &Pod) -> Result<EnvSources, kube::Error> {
        let namespace = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let client = &self.ctx.client;
        let (config_maps, secrets) = referenced_objects(pod);
        let mut sources = EnvSources::default();
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
        for name in config_maps {
            if let Some(cm) = cms.get_opt(&name).await? {
                sources.config_maps.insert(name, cm);
            }
        }
        let secret_api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
        for name in secrets {
            if let Some(secret) = secret_api.get_opt(&name).await? {
                sources.secrets.insert(name, secret);
            }
        }
        let links = pod
            .spec
            .as_ref()
            .and_then(|s| s.enable_service_links)
            .unwrap_or(true);
        let services: Api<Service> = Api::namespaced(client.clone(), &namespace);
        if links {
            sources.services = services.list(&ListParams::default()).await?.items;
        }
        if namespace != "default" {
            let default: Api<Service> = Api::namespaced(client.clone(), "default");
            if let Some(kubernetes) = default.get_opt("kubernetes").await? {
                sources.services.push(kubernetes);
            }
        }
        Ok(sources)
    }

    /// Writes the pod's dir: volumes (once) and /etc/hosts.
    async fn prepare_pod_dir(&mut self, pod: &Pod, pod_ip: &str) -> Result<(), StartError> {
        let dir = self.pod_dir();
        std::fs::create_dir_all(dir.join("logs"))
            .map_err(|e| ConfigError::Volume(format!("{}: {e}", dir.display())))?;
        if self.volumes.is_none() {
            let sources = self.env_sources(pod).await?;
            let addresses = PodAddresses {
                host_ip: self.ctx.host_ip.clone(),
                pod_ip: pod_ip.to_string(),
            };
            self.volumes = Some(volumes::prepare(pod, &dir, &sources, &addresses)?);
        }
        let hosts = hosts_file(pod, pod_ip, &self.ctx.cluster_dns.domain);
        std::fs::write(dir.join("etc-hosts"), hosts)
            .map_err(|e| ConfigError::Volume(format!("/etc/hosts: {e}")))?;
        Ok(())
    }

    fn set_waiting(&mut self, name: &str, reason: WaitingReason, message: String) {
        debug!(container = name, reason = reason.as_str(), %message, "waiting");
        self.waiting
            .insert(name.to_string(), Waiting { reason, message });
    }

    fn wait_all(&mut self, pod: &Pod, reason: WaitingReason, message: String) {
        for c in init_containers(pod)
            .iter()
            .chain(super::status::containers(pod))
        {
            self.set_waiting(&c.name, reason, message.clone());
        }
    }

    /// Patches pods/status when it changed since the last report.
    async fn report(
        &mut self,
        pod: &Pod,
        observed: &ObservedPod,
        pod_ip: &str,
    ) -> Result<(), SyncError> {
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        let health = self.probes.health(pod, observed);
        let status = pod_status(&StatusInput {
            pod,
            observed,
            waiting: &self.waiting,
            health: &health,
            pod_ip,
            host_ip: &self.ctx.host_ip,
            now,
        });
        let body = serde_json::to_value(&status).unwrap_or_default();
        let current = pod
            .status
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok());
        if self.last_status.as_ref() == Some(&body) || current.as_ref() == Some(&body) {
            return Ok(());
        }
        let (Some(name), Some(namespace)) = (&pod.metadata.name, &pod.metadata.namespace) else {
            return Ok(());
        };
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), namespace);
        let patch = serde_json::json!({ "status": body });
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                self.last_status = Some(body);
                Ok(())
            }
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// A deleted pod: preStop hooks, stop every container within the grace
    /// period, remove the sandboxes, then delete the pod object for good
    /// (grace 0, only this UID).
    async fn finish_deletion(
        &mut self,
        pod: &Pod,
        observed: &ObservedPod,
    ) -> Result<Next, SyncError> {
        let grace = pod
            .metadata
            .deletion_grace_period_seconds
            .or_else(|| {
                pod.spec
                    .as_ref()
                    .and_then(|s| s.termination_grace_period_seconds)
            })
            .unwrap_or(DEFAULT_GRACE)
            .max(0);
        info!(pod = ?pod.metadata.name, grace, "stopping the pod's containers");
        self.kill_pod(pod, observed, Duration::from_secs(grace as u64))
            .await?;
        let observed = observe(&self.ctx.cri, &self.uid).await?;
        self.report(pod, &observed, "").await.ok();
        let (Some(name), Some(namespace)) = (&pod.metadata.name, &pod.metadata.namespace) else {
            return Ok(Next::Done);
        };
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), namespace);
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
        self.remove_pod_dir();
        info!(pod = %name, "pod deleted");
        Ok(Next::Done)
    }

    /// The pod left the API without us: kill what is left of it.
    async fn remove_orphan(&mut self) -> Result<Next, SyncError> {
        let observed = observe(&self.ctx.cri, &self.uid).await?;
        info!(uid = %self.uid, "removing the containers of a pod that is gone");
        self.kill_pod(&Pod::default(), &observed, Duration::from_secs(2))
            .await?;
        self.remove_pod_dir();
        Ok(Next::Done)
    }

    async fn kill_pod(
        &self,
        pod: &Pod,
        observed: &ObservedPod,
        grace: Duration,
    ) -> Result<(), CriError> {
        let deadline = Instant::now() + grace;
        let stops = observed
            .containers
            .iter()
            .filter(|c| c.state == RuntimeState::Running)
            .map(|c| {
                let spec = super::status::containers(pod)
                    .iter()
                    .chain(init_containers(pod))
                    .find(|s| s.name == c.name);
                self.stop_container(pod, spec, c.id.clone(), deadline)
            });
        for result in futures::future::join_all(stops).await {
            if let Err(e) = result {
                if !e.is_not_found() {
                    return Err(e);
                }
            }
        }
        for sandbox in &observed.sandboxes {
            let removed = match self.ctx.cri.stop_pod_sandbox(&sandbox.id).await {
                Ok(()) => self.ctx.cri.remove_pod_sandbox(&sandbox.id).await,
                Err(e) => Err(e),
            };
            match removed {
                Err(e) if !e.is_not_found() => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// preStop, then StopContainer with what is left of the grace.
    async fn stop_container(
        &self,
        pod: &Pod,
        spec: Option<&Container>,
        id: String,
        deadline: Instant,
    ) -> Result<(), CriError> {
        if let Some((container, handler)) =
            spec.and_then(|c| Hook::PreStop.handler(c).map(|h| (c, h)))
        {
            let pod_ip = pod
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.clone())
                .unwrap_or_default();
            let target = HookTarget {
                cri: &self.ctx.cri,
                container,
                id: &id,
                pod_ip: &pod_ip,
                pod: pod_label(pod, &self.uid),
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if let Err(e) = hooks::run(handler, &target, left).await {
                warn!(container = %container.name, error = %e, "preStop hook failed");
                if let Some(events) = &self.events {
                    events.record(&container.name, Reason::FailedPreStopHook, e.to_string());
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        self.ctx.cri.stop_container(&id, left).await
    }

    async fn stop_sandboxes(&self, observed: &ObservedPod) {
        for sandbox in observed.sandboxes.iter().filter(|s| s.ready) {
            if let Err(e) = self.ctx.cri.stop_pod_sandbox(&sandbox.id).await {
                warn!(sandbox = %sandbox.id, error = %e, "could not stop a sandbox");
            }
        }
    }

    /// Exited instances beyond the newest two per container.
    async fn collect_garbage(&self, observed: &ObservedPod) {
        for c in observed.garbage() {
            if let Err(e) = self.ctx.cri.remove_container(&c.id).await {
                debug!(container = %c.id, error = %e, "could not remove an old container");
            }
        }
    }

    fn remove_pod_dir(&self) {
        let dir = self.pod_dir();
        if dir.exists() {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                warn!(dir = %dir.display(), error = %e, "could not remove the pod's dir");
            }
        }
    }
}

/// The pod's grace period in seconds (terminationGracePeriodSeconds).
fn pod_grace(pod: &Pod) -> u64 {
    let seconds = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(DEFAULT_GRACE);
    u64::try_from(seconds).unwrap_or(0)
}

/// How long a container killed for a failed probe gets: the probe's own
/// terminationGracePeriodSeconds overrides the pod's.
fn probe_grace(
    pod: &Pod,
    container: &Container,
    kind: super::probes::state::ProbeKind,
) -> Duration {
    use super::probes::state::ProbeKind;
    let probe = match kind {
        ProbeKind::Startup => container.startup_probe.as_ref(),
        ProbeKind::Liveness => container.liveness_probe.as_ref(),
        ProbeKind::Readiness => None,
    };
    let seconds = probe
        .and_then(|p| p.termination_grace_period_seconds)
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or_else(|| pod_grace(pod));
    Duration::from_secs(seconds)
}

/// `name_namespace(uid)`, how upstream names a pod in messages.
fn pod_label(pod: &Pod, uid: &str) -> String {
    format!(
        "{}_{}({uid})",
        pod.metadata.name.as_deref().unwrap_or(""),
        pod.metadata.namespace.as_deref().unwrap_or("")
    )
}

/// Where a container goes.
struct Target<'a> {
    sandbox_id: &'a str,
    sandbox_config: &'a cri::PodSandboxConfig,
    pod_ip: &'a str,
}

/// Why a container config could not be built.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("reading config from the API: {0}")]
    Api(#[from] kube::Error),
}

/// The ConfigMaps and Secrets the pod's env, envFrom and volumes name.
fn referenced_objects(pod: &Pod) -> (Vec<String>, Vec<String>) {
    let mut config_maps = Vec::new();
    let mut secrets = Vec::new();
    let Some(spec) = &pod.spec else {
        return (config_maps, secrets);
    };
    for c in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        for from in c.env_from.iter().flatten() {
            config_maps.extend(from.config_map_ref.as_ref().map(|r| r.name.clone()));
            secrets.extend(from.secret_ref.as_ref().map(|r| r.name.clone()));
        }
        for var in c.env.iter().flatten() {
            let Some(from) = &var.value_from else {
                continue;
            };
            config_maps.extend(from.config_map_key_ref.as_ref().map(|r| r.name.clone()));
            secrets.extend(from.secret_key_ref.as_ref().map(|r| r.name.clone()));
        }
    }
    for v in spec.volumes.iter().flatten() {
        config_maps.extend(v.config_map.as_ref().map(|c| c.name.clone()));
        secrets.extend(v.secret.as_ref().and_then(|s| s.secret_name.clone()));
        let projected = v.projected.iter().flat_map(|p| p.sources.iter().flatten());
        for source in projected {
            config_maps.extend(source.config_map.as_ref().map(|c| c.name.clone()));
            secrets.extend(source.secret.as_ref().map(|s| s.name.clone()));
        }
    }
    config_maps.sort();
    config_maps.dedup();
    secrets.sort();
    secrets.dedup();
    (config_maps, secrets)
}
