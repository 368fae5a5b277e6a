//! What a query name asks about: a name inside the cluster domain, a
//! reverse-lookup name, or something to forward.
//!
//! Parsing follows the Kubernetes DNS specification
//! (kubernetes/dns `docs/specification.md`) and CoreDNS's kubernetes plugin
//! (`plugin/kubernetes/parse.go`): labels are read from the right, below the
//! zone: `svc`/`pod`, then the namespace, then the service (or dashed pod IP),
//! then either one endpoint label or a `_port._protocol` pair. Names are
//! compared in lower case.

use std::net::IpAddr;

use hickory_proto::rr::Name;

/// The label below the zone that CoreDNS answers with the schema version.
const DNS_VERSION_LABEL: &str = "dns-version";

/// Where a query name belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryName {
    /// Inside the cluster domain.
    Cluster(ClusterName),
    /// `….in-addr.arpa` or `….ip6.arpa` naming one whole address.
    Reverse(IpAddr),
    /// Anything else: forwarded upstream.
    Outside,
}

/// A name inside the cluster domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterName {
    /// The zone apex (`cluster.local.`).
    Apex,
    /// `ns.dns.<zone>`: the name the apex NS record points at.
    Nameserver,
    /// `dns-version.<zone>`: TXT with the schema version.
    DnsVersion,
    /// `svc.<zone>` or `pod.<zone>`: names with children but no records.
    Branch,
    /// `<ns>.svc.<zone>` or `<ns>.pod.<zone>`.
    Namespace(String),
    /// `[<endpoint>. | _<port>._<proto>.]<svc>.<ns>.svc.<zone>`.
    Service {
        /// The namespace.
        namespace: String,
        /// The service name.
        service: String,
        /// Which part of the service the name picks.
        selector: Selector,
    },
    /// `<dashed-ip>.<ns>.pod.<zone>`.
    Pod {
        /// The namespace.
        namespace: String,
        /// The address the dashed label spells, if it spells one.
        ip: Option<IpAddr>,
    },
    /// Below the zone but not a name the schema defines: NXDOMAIN.
    Invalid,
}

/// Which records of a service a name picks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The service itself, every port.
    All,
    /// One endpoint, by hostname or dashed IP.
    Endpoint(String),
    /// One named port, `_<port>._<protocol>`.
    Port {
        /// The port name, without the underscore.
        name: String,
        /// The protocol (`tcp`, `udp`, `sctp`), without the underscore.
        protocol: String,
    },
}

/// Classifies `name` against the cluster `zone` (both fully qualified).
pub fn classify(name: &Name, zone: &Name) -> QueryName {
    let name = name.to_lowercase();
    if zone.zone_of(&name) {
        return QueryName::Cluster(cluster_name(&name, zone));
    }
    match reverse_address(&name) {
        Some(ip) => QueryName::Reverse(ip),
        None => QueryName::Outside,
    }
}

/// The labels of `name` below `zone`, rightmost first.
fn cluster_name(name: &Name, zone: &Name) -> ClusterName {
    let below = usize::from(name.num_labels().saturating_sub(zone.num_labels()));
    let labels: Option<Vec<String>> = name
        .iter()
        .take(below)
        .map(|label| String::from_utf8(label.to_vec()).ok())
        .collect();
    let Some(mut labels) = labels else {
        return ClusterName::Invalid;
    };
    labels.reverse();
    parse_labels(&labels)
}

/// Parses the labels below the zone, rightmost first.
fn parse_labels(labels: &[String]) -> ClusterName {
    let mut rest = labels.iter().map(String::as_str);
    let branch = match rest.next() {
        None => return ClusterName::Apex,
        Some(label) => label,
    };
    if branch == DNS_VERSION_LABEL && labels.len() == 1 {
        return ClusterName::DnsVersion;
    }
    if labels == ["dns", "ns"] {
        return ClusterName::Nameserver;
    }
    let is_pod = match branch {
        "svc" => false,
        "pod" => true,
        _ => return ClusterName::Invalid,
    };
    let Some(namespace) = rest.next().map(str::to_owned) else {
        return ClusterName::Branch;
    };
    let Some(object) = rest.next() else {
        return ClusterName::Namespace(namespace);
    };
    let remaining: Vec<&str> = rest.collect();
    if is_pod {
        // CoreDNS ignores labels left of the pod label; a name that long
        // is not one the schema defines, so it does not exist here.
        if !remaining.is_empty() {
            return ClusterName::Invalid;
        }
        return ClusterName::Pod {
            namespace,
            ip: dashed_ip(object),
        };
    }
    let selector = match remaining.as_slice() {
        [] => Selector::All,
        [endpoint] => Selector::Endpoint((*endpoint).to_owned()),
        [protocol, port] => Selector::Port {
            name: strip_underscore(port).to_owned(),
            protocol: strip_underscore(protocol).to_owned(),
        },
        _ => return ClusterName::Invalid,
    };
    ClusterName::Service {
        namespace,
        service: object.to_owned(),
        selector,
    }
}

fn strip_underscore(label: &str) -> &str {
    label.strip_prefix('_').unwrap_or(label)
}

/// The address a pod label spells: `10-42-0-7` or `fd00--7` (CoreDNS
/// `findPods`: three dashes and no double dash is IPv4, else IPv6).
pub fn dashed_ip(label: &str) -> Option<IpAddr> {
    let text = if label.matches('-').count() == 3 && !label.contains("--") {
        label.replace('-', ".")
    } else {
        label.replace('-', ":")
    };
    text.parse().ok()
}

/// The label an address gets when an endpoint has no hostname (CoreDNS
/// `endpointHostname`): dots or colons become dashes.
pub fn dashed_label(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string().replace('.', "-"),
        IpAddr::V6(v6) => v6.to_string().replace(':', "-"),
    }
}

/// The address a full-length reverse name spells, if it is one.
fn reverse_address(name: &Name) -> Option<IpAddr> {
    let net = name.parse_arpa_name().ok()?;
    (net.prefix_len() == net.max_prefix_len()).then(|| net.addr())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn zone() -> Name {
        Name::from_ascii("cluster.local.").unwrap()
    }

    fn classify_str(name: &str) -> QueryName {
        classify(&Name::from_ascii(name).unwrap(), &zone())
    }

    fn service(namespace: &str, service: &str, selector: Selector) -> QueryName {
        QueryName::Cluster(ClusterName::Service {
            namespace: namespace.into(),
            service: service.into(),
            selector,
        })
    }

    #[test]
    fn names_are_classified_like_coredns_parses_them() {
        let cases = [
            ("cluster.local.", QueryName::Cluster(ClusterName::Apex)),
            (
                "ns.dns.cluster.local.",
                QueryName::Cluster(ClusterName::Nameserver),
            ),
            (
                "dns-version.cluster.local.",
                QueryName::Cluster(ClusterName::DnsVersion),
            ),
            (
                "svc.cluster.local.",
                QueryName::Cluster(ClusterName::Branch),
            ),
            (
                "pod.cluster.local.",
                QueryName::Cluster(ClusterName::Branch),
            ),
            (
                "default.svc.cluster.local.",
                QueryName::Cluster(ClusterName::Namespace("default".into())),
            ),
            (
                "web.default.svc.cluster.local.",
                service("default", "web", Selector::All),
            ),
            (
                "WEB.Default.SVC.Cluster.Local.",
                service("default", "web", Selector::All),
            ),
            (
                "web-0.web.default.svc.cluster.local.",
                service("default", "web", Selector::Endpoint("web-0".into())),
            ),
            (
                "_http._tcp.web.default.svc.cluster.local.",
                service(
                    "default",
                    "web",
                    Selector::Port {
                        name: "http".into(),
                        protocol: "tcp".into(),
                    },
                ),
            ),
            (
                "a.b.c.web.default.svc.cluster.local.",
                QueryName::Cluster(ClusterName::Invalid),
            ),
            (
                "foo.cluster.local.",
                QueryName::Cluster(ClusterName::Invalid),
            ),
            (
                "10-42-0-7.default.pod.cluster.local.",
                QueryName::Cluster(ClusterName::Pod {
                    namespace: "default".into(),
                    ip: Some("10.42.0.7".parse().unwrap()),
                }),
            ),
            (
                "fd00--7.default.pod.cluster.local.",
                QueryName::Cluster(ClusterName::Pod {
                    namespace: "default".into(),
                    ip: Some("fd00::7".parse().unwrap()),
                }),
            ),
            (
                "not-an-ip.default.pod.cluster.local.",
                QueryName::Cluster(ClusterName::Pod {
                    namespace: "default".into(),
                    ip: None,
                }),
            ),
            (
                "x.10-42-0-7.default.pod.cluster.local.",
                QueryName::Cluster(ClusterName::Invalid),
            ),
            (
                "10.0.43.10.in-addr.arpa.",
                QueryName::Reverse("10.43.0.10".parse().unwrap()),
            ),
            ("0.43.10.in-addr.arpa.", QueryName::Outside),
            ("example.com.", QueryName::Outside),
            ("local.", QueryName::Outside),
        ];
        for (name, want) in cases {
            assert_eq!(classify_str(name), want, "{name}");
        }
    }

    #[test]
    fn dashed_labels_round_trip_through_dashed_ip() {
        for ip in ["10.42.0.7", "fd00::7", "2001:db8:0:1::5"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(dashed_ip(&dashed_label(ip)), Some(ip), "{ip}");
        }
    }
}
