//! Per-controller settings that come from the command line (upstream's
//! `--cluster-cidr`, `--node-cidr-mask-size`, `--node-monitor-grace-period`,
//! `--terminated-pod-gc-threshold`, `--root-ca-file`, …), handed to every
//! controller through its [`Context`](crate::framework::Context). Plain
//! values, as the flags give them; each controller interprets its own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Settings for the individual controllers; `Default` gives upstream's
/// values (and k3s's cluster CIDR).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The pod network nodes get blocks of (`--cluster-cidr`).
    pub cluster_cidr: String,
    /// The prefix length of each node's block (`--node-cidr-mask-size`).
    pub node_cidr_mask_size: u8,
    /// How long a node may go without heartbeat before it is `Unknown`
    /// (`--node-monitor-grace-period`).
    pub node_monitor_grace_period: Duration,
    /// The cluster CA bundle (PEM) published as `kube-root-ca.crt`; the
    /// publisher idles without it.
    pub root_ca_pem: Option<String>,
    /// The apiserver's advertised address, which the `kubernetes` Service's
    /// endpoints name; left alone when unset.
    pub apiserver_endpoint: Option<SocketAddr>,
    /// How many finished pods may exist before the oldest are deleted
    /// (`--terminated-pod-gc-threshold`; 0 disables).
    pub terminated_pod_gc_threshold: usize,
    /// How often the pod garbage collector runs (upstream's 20 s).
    pub pod_gc_period: Duration,
    /// The Job controller's delay after a pod's first failure, doubled per
    /// further failure (upstream's 10 s).
    pub job_backoff_base: Duration,
    /// The longest such delay (upstream's 6 min).
    pub job_backoff_max: Duration,
    /// The time the CronJob controller schedules by (the system clock; tests may run a
    /// faster one).
    pub clock: Arc<dyn crate::framework::Clock>,
    /// The CA certificate `csrsigning` signs with
    /// (`--cluster-signing-cert-file`); it idles without one.
    pub cluster_signing_cert_file: Option<PathBuf>,
    /// That CA's private key (`--cluster-signing-key-file`).
    pub cluster_signing_key_file: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cluster_cidr: "10.42.0.0/16".into(),
            node_cidr_mask_size: 24,
            node_monitor_grace_period: Duration::from_secs(40),
            root_ca_pem: None,
            apiserver_endpoint: None,
            terminated_pod_gc_threshold: 12_500,
            pod_gc_period: Duration::from_secs(20),
            job_backoff_base: Duration::from_secs(10),
            job_backoff_max: Duration::from_secs(360),
            clock: Arc::new(crate::framework::SystemClock),
            cluster_signing_cert_file: None,
            cluster_signing_key_file: None,
        }
    }
}
