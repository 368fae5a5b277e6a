//! How many nodes to simulate and what they look like.

use std::time::Duration;

/// Resource amounts of a node, as Kubernetes quantities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeResources {
    /// CPU, e.g. `"4"` or `"3500m"`.
    pub cpu: String,
    /// Memory, e.g. `"16Gi"`.
    pub memory: String,
    /// How many pods fit.
    pub pods: u32,
    /// Local ephemeral storage, e.g. `"100Gi"`.
    pub ephemeral_storage: String,
}

impl Default for NodeResources {
    /// A mid-sized cloud VM with the kubelet's default `maxPods` (110).
    fn default() -> Self {
        NodeResources {
            cpu: "4".into(),
            memory: "16Gi".into(),
            pods: 110,
            ephemeral_storage: "100Gi".into(),
        }
    }
}

/// What to simulate. Build with [`SimOptions::new`] and the `with_…`
/// methods; the fields are public for flags that map one to one.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// How many nodes.
    pub count: usize,
    /// Node names are the prefix and a 1-based number of at least four
    /// digits: `sim-0001`.
    pub name_prefix: String,
    /// `status.capacity`.
    pub capacity: NodeResources,
    /// `status.allocatable`; the capacity when `None`.
    pub allocatable: Option<NodeResources>,
    /// Nodes are spread round-robin over this many zones
    /// (`topology.kubernetes.io/zone` = `zone-0` …).
    pub zones: usize,
    /// `node.kubernetes.io/instance-type`.
    pub instance_type: String,
    /// `kubernetes.io/arch` and `nodeInfo.architecture`.
    pub arch: String,
    /// How often each Lease is renewed (kubelet: `leaseDuration` / 4 = 10 s).
    pub lease_renew_interval: Duration,
    /// `spec.leaseDurationSeconds` of the Leases (kubelet default 40).
    pub lease_duration_seconds: i32,
    /// How often an unchanged node status is reported anyway (kubelet
    /// `nodeStatusReportFrequency`, 5 min).
    pub status_report_frequency: Duration,
    /// At most this many API writes in flight at once.
    pub write_concurrency: usize,
}

/// The fake pod ranges are /24s carved out of 100.64.0.0/10, which holds
/// this many.
pub const MAX_NODES: usize = 1 << 14;

impl SimOptions {
    /// `count` nodes with the defaults: `sim-` names, 4 CPUs, 16Gi, 110 pods,
    /// 3 zones, leases renewed every 10 s, status every 5 min.
    pub fn new(count: usize) -> Self {
        SimOptions {
            count,
            name_prefix: "sim-".into(),
            capacity: NodeResources::default(),
            allocatable: None,
            zones: 3,
            instance_type: "sim.standard".into(),
            arch: "amd64".into(),
            lease_renew_interval: Duration::from_secs(10),
            lease_duration_seconds: 40,
            status_report_frequency: Duration::from_secs(300),
            write_concurrency: 64,
        }
    }

    /// Node names start with `prefix`.
    pub fn with_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = prefix.into();
        self
    }

    /// Each node's capacity (and allocatable, unless set apart).
    pub fn with_capacity(mut self, capacity: NodeResources) -> Self {
        self.capacity = capacity;
        self
    }

    /// Each node's allocatable, apart from its capacity.
    pub fn with_allocatable(mut self, allocatable: NodeResources) -> Self {
        self.allocatable = Some(allocatable);
        self
    }

    /// Spread nodes over `zones` zones.
    pub fn with_zones(mut self, zones: usize) -> Self {
        self.zones = zones;
        self
    }

    /// Renew leases every `interval`.
    pub fn with_lease_renew_interval(mut self, interval: Duration) -> Self {
        self.lease_renew_interval = interval;
        self
    }

    /// Report unchanged node status every `frequency`.
    pub fn with_status_report_frequency(mut self, frequency: Duration) -> Self {
        self.status_report_frequency = frequency;
        self
    }

    /// Checks that the options describe a usable set of nodes.
    pub fn validate(&self) -> Result<(), String> {
        if self.count > MAX_NODES {
            return Err(format!(
                "at most {MAX_NODES} nodes (one fake /24 pod range each), not {}",
                self.count
            ));
        }
        if self.zones == 0 {
            return Err("zones must be at least 1".into());
        }
        if self.lease_renew_interval.is_zero() || self.status_report_frequency.is_zero() {
            return Err("the lease and status intervals must be positive".into());
        }
        if self.write_concurrency == 0 {
            return Err("write concurrency must be at least 1".into());
        }
        Ok(())
    }

    /// The name of node number `index` (0-based).
    pub fn node_name(&self, index: usize) -> String {
        format!("{}{:04}", self.name_prefix, index + 1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn node_names_are_one_based_with_four_digits() {
        let cases = [
            ("sim-", 0, "sim-0001"),
            ("n", 41, "n0042"),
            ("sim-", 12344, "sim-12345"),
        ];
        for (prefix, index, want) in cases {
            assert_eq!(
                SimOptions::new(1).with_name_prefix(prefix).node_name(index),
                want
            );
        }
    }

    #[test]
    fn validation_rejects_options_that_cannot_work() {
        let cases = [
            (SimOptions::new(10), true),
            (SimOptions::new(MAX_NODES + 1), false),
            (SimOptions::new(10).with_zones(0), false),
            (
                SimOptions::new(10).with_lease_renew_interval(Duration::ZERO),
                false,
            ),
        ];
        for (options, ok) in cases {
            assert_eq!(options.validate().is_ok(), ok, "{options:?}");
        }
    }
}
