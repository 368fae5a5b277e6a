//! The part of the cluster DNS answers from: namespaces, services and
//! endpoint slices, reduced to what a DNS answer needs and indexed by the
//! keys queries use. Fed by the watchers (`watch.rs`), read by `answer.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use hickory_proto::rr::Name;

/// A namespaced object's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// The key of `namespace/name`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// What DNS keeps of a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    /// How the service's own name is answered.
    pub kind: ServiceKind,
    /// Its ports.
    pub ports: Vec<PortRecord>,
    /// `spec.publishNotReadyAddresses`: not-ready endpoints are answered too.
    pub publish_not_ready: bool,
}

/// How a service's name is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceKind {
    /// The cluster IPs (one per family).
    ClusterIp(Vec<IpAddr>),
    /// `clusterIP: None`: the endpoints' addresses.
    Headless,
    /// `type: ExternalName`: a CNAME to this name.
    ExternalName(Name),
}

/// A service or endpoint-slice port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRecord {
    /// The port's name in lower case ("" when unnamed).
    pub name: String,
    /// The protocol in lower case (`tcp`, `udp`, `sctp`).
    pub protocol: String,
    /// The port number.
    pub port: u16,
}

/// What DNS keeps of an EndpointSlice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceRecord {
    /// The service it belongs to (`kubernetes.io/service-name`).
    pub service: String,
    /// Its ports; none means "addresses without ports" (A records only).
    pub ports: Vec<PortRecord>,
    /// Its endpoints, one per address.
    pub endpoints: Vec<EndpointRecord>,
}

/// One endpoint address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRecord {
    /// The address.
    pub ip: IpAddr,
    /// `hostname` (StatefulSet pods, pods with hostname+subdomain).
    pub hostname: Option<String>,
    /// `conditions.ready` (unset counts as ready, as the API says).
    pub ready: bool,
}

impl EndpointRecord {
    /// The label naming this endpoint under its service: its hostname, or
    /// its dashed address (CoreDNS `endpointHostname`).
    pub fn label(&self) -> String {
        match &self.hostname {
            Some(hostname) => hostname.to_lowercase(),
            None => crate::name::dashed_label(self.ip),
        }
    }
}

/// An endpoint together with the ports of the slice it came from.
#[derive(Debug, Clone, Copy)]
pub struct EndpointWithPorts<'a> {
    /// The endpoint.
    pub endpoint: &'a EndpointRecord,
    /// Its slice's ports.
    pub ports: &'a [PortRecord],
}

/// The indexed cluster state.
#[derive(Debug, Default)]
pub struct ClusterIndex {
    namespaces: HashSet<String>,
    services: HashMap<ObjectKey, ServiceRecord>,
    slices: HashMap<ObjectKey, SliceRecord>,
    slices_by_service: HashMap<ObjectKey, BTreeSet<String>>,
    serial: u32,
}

impl ClusterIndex {
    /// Whether the namespace exists.
    pub fn has_namespace(&self, namespace: &str) -> bool {
        self.namespaces.contains(namespace)
    }

    /// The service `key`, if DNS knows it.
    pub fn service(&self, key: &ObjectKey) -> Option<&ServiceRecord> {
        self.services.get(key)
    }

    /// The endpoints of service `key` that DNS should answer with: ready
    /// ones, or all when the service publishes not-ready addresses. Each
    /// address once per service, in a stable order.
    pub fn endpoints(
        &self,
        key: &ObjectKey,
        publish_not_ready: bool,
    ) -> Vec<EndpointWithPorts<'_>> {
        let Some(names) = self.slices_by_service.get(key) else {
            return Vec::new();
        };
        let mut seen = HashSet::new();
        let mut endpoints = Vec::new();
        for name in names {
            let Some(slice) = self.slices.get(&ObjectKey::new(&key.namespace, name)) else {
                continue;
            };
            for endpoint in &slice.endpoints {
                if (endpoint.ready || publish_not_ready) && seen.insert(endpoint.ip) {
                    endpoints.push(EndpointWithPorts {
                        endpoint,
                        ports: &slice.ports,
                    });
                }
            }
        }
        endpoints
    }

    /// Every service whose cluster IPs include `ip`, by key.
    pub fn services_with_ip(&self, ip: IpAddr) -> BTreeSet<&ObjectKey> {
        self.services
            .iter()
            .filter(|(_, service)| matches!(&service.kind, ServiceKind::ClusterIp(ips) if ips.contains(&ip)))
            .map(|(key, _)| key)
            .collect()
    }

    /// Every answerable endpoint with address `ip`, with its service's key.
    pub fn endpoints_with_ip(&self, ip: IpAddr) -> BTreeMap<ObjectKey, Vec<&EndpointRecord>> {
        let mut found: BTreeMap<ObjectKey, Vec<&EndpointRecord>> = BTreeMap::new();
        for (key, slice) in &self.slices {
            let service = ObjectKey::new(&key.namespace, &slice.service);
            let Some(record) = self.services.get(&service) else {
                continue;
            };
            for endpoint in &slice.endpoints {
                if endpoint.ip == ip && (endpoint.ready || record.publish_not_ready) {
                    found.entry(service.clone()).or_default().push(endpoint);
                }
            }
        }
        found
    }

    /// The SOA serial: bumped on every change.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// Records that the index changed at `unix_seconds` (CoreDNS uses the
    /// time of the last change as the serial); the serial never goes back.
    pub fn mark_modified(&mut self, unix_seconds: u32) {
        self.serial = unix_seconds.max(self.serial.wrapping_add(1));
    }

    /// Adds or (with `None`) removes a namespace.
    pub fn put_namespace(&mut self, name: &str, present: Option<()>) {
        match present {
            Some(()) => self.namespaces.insert(name.to_owned()),
            None => self.namespaces.remove(name),
        };
    }

    /// Replaces every namespace.
    pub fn replace_namespaces(&mut self, all: impl IntoIterator<Item = String>) {
        self.namespaces = all.into_iter().collect();
    }

    /// Adds, updates or (with `None`) removes a service.
    pub fn put_service(&mut self, key: ObjectKey, record: Option<ServiceRecord>) {
        match record {
            Some(record) => self.services.insert(key, record),
            None => self.services.remove(&key),
        };
    }

    /// Replaces every service.
    pub fn replace_services(&mut self, all: impl IntoIterator<Item = (ObjectKey, ServiceRecord)>) {
        self.services = all.into_iter().collect();
    }

    /// Adds, updates or (with `None`) removes an endpoint slice.
    pub fn put_slice(&mut self, key: ObjectKey, record: Option<SliceRecord>) {
        if let Some(old) = self.slices.remove(&key) {
            self.unlink_slice(&key, &old.service);
        }
        if let Some(record) = record {
            self.link_slice(&key, &record.service);
            self.slices.insert(key, record);
        }
    }

    /// Replaces every endpoint slice.
    pub fn replace_slices(&mut self, all: impl IntoIterator<Item = (ObjectKey, SliceRecord)>) {
        self.slices.clear();
        self.slices_by_service.clear();
        for (key, record) in all {
            self.put_slice(key, Some(record));
        }
    }

    fn link_slice(&mut self, slice: &ObjectKey, service: &str) {
        self.slices_by_service
            .entry(ObjectKey::new(&slice.namespace, service))
            .or_default()
            .insert(slice.name.clone());
    }

    fn unlink_slice(&mut self, slice: &ObjectKey, service: &str) {
        let service = ObjectKey::new(&slice.namespace, service);
        if let Some(names) = self.slices_by_service.get_mut(&service) {
            names.remove(&slice.name);
            if names.is_empty() {
                self.slices_by_service.remove(&service);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn endpoint(ip: &str, ready: bool) -> EndpointRecord {
        EndpointRecord {
            ip: ip.parse().unwrap(),
            hostname: None,
            ready,
        }
    }

    fn slice(service: &str, endpoints: Vec<EndpointRecord>) -> SliceRecord {
        SliceRecord {
            service: service.into(),
            ports: Vec::new(),
            endpoints,
        }
    }

    fn ips(index: &ClusterIndex, service: &str, publish_not_ready: bool) -> Vec<String> {
        index
            .endpoints(&ObjectKey::new("default", service), publish_not_ready)
            .iter()
            .map(|e| e.endpoint.ip.to_string())
            .collect()
    }

    #[test]
    fn endpoints_merge_slices_skip_not_ready_and_follow_relabelled_slices() {
        let mut index = ClusterIndex::default();
        let a = ObjectKey::new("default", "web-a");
        let b = ObjectKey::new("default", "web-b");
        index.put_slice(
            a.clone(),
            Some(slice(
                "web",
                vec![endpoint("10.0.0.1", true), endpoint("10.0.0.2", false)],
            )),
        );
        index.put_slice(
            b.clone(),
            Some(slice(
                "web",
                vec![endpoint("10.0.0.1", true), endpoint("10.0.0.3", true)],
            )),
        );
        assert_eq!(ips(&index, "web", false), ["10.0.0.1", "10.0.0.3"]);
        assert_eq!(
            ips(&index, "web", true),
            ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        );

        index.put_slice(b, Some(slice("api", vec![endpoint("10.0.0.3", true)])));
        assert_eq!(ips(&index, "web", false), ["10.0.0.1"]);
        assert_eq!(ips(&index, "api", false), ["10.0.0.3"]);

        index.put_slice(a, None);
        assert!(ips(&index, "web", true).is_empty());
    }

    #[test]
    fn the_serial_only_moves_forward() {
        let mut index = ClusterIndex::default();
        for (now, want) in [(100, 100), (100, 101), (50, 102), (200, 200)] {
            index.mark_modified(now);
            assert_eq!(index.serial(), want);
        }
    }
}
