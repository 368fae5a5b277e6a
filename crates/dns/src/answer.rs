//! Answers to queries for cluster names, computed from the index. Pure: no
//! I/O, so every rule is a table test.
//!
//! Which names exist and what they hold follow the Kubernetes DNS
//! specification and CoreDNS's kubernetes plugin (`kubernetes.go`
//! `findServices`/`findPods`, `handler.go`, `plugin/backend_lookup.go`):
//! a name that does not exist is NXDOMAIN, a name that exists without
//! records of the asked type is NOERROR with no answers (NODATA), and both
//! carry the zone's SOA in the authority section.

use std::net::IpAddr;

use hickory_proto::op::{Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::index::{ClusterIndex, ObjectKey, ServiceKind, ServiceRecord};
use crate::name::{classify, ClusterName, QueryName, Selector};

/// The schema version `dns-version.<zone>` answers (specification §2.2).
const SCHEMA_VERSION: &str = "1.1.0";
/// Where the kube-dns Service lives; `ns.dns.<zone>` answers its IPs.
const KUBE_DNS: (&str, &str) = ("kube-system", "kube-dns");
/// CNAMEs inside the zone are followed at most this deep.
const MAX_CNAME_DEPTH: usize = 8;

/// Which pod records (`<dashed-ip>.<ns>.pod.<zone>`) are answered, as
/// CoreDNS's `pods` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PodRecords {
    /// Any dashed address in an existing namespace (CoreDNS `pods insecure`,
    /// the kubeadm and k3s default).
    #[default]
    Insecure,
    /// None: every pod name is NXDOMAIN.
    Disabled,
}

/// The zone being served.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The cluster domain, fully qualified and lower case.
    pub domain: Name,
    /// TTL of every answer.
    pub ttl: u32,
    /// Which pod records exist.
    pub pods: PodRecords,
}

/// What to do with a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// Answer from the cluster.
    Answer(Answer),
    /// Not a cluster name: ask the upstream resolvers.
    Forward,
}

/// A response computed from the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// NOERROR or NXDOMAIN.
    pub code: ResponseCode,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section (the SOA for negative answers).
    pub authorities: Vec<Record>,
    /// The additional section (addresses of SRV and NS targets).
    pub additionals: Vec<Record>,
    /// A CNAME target outside the zone whose addresses the server should
    /// look up upstream and append, as CoreDNS does for ExternalName.
    pub chase: Option<Name>,
}

/// What a cluster name resolves to before the query type is applied
/// (CoreDNS's `msg.Service`).
#[derive(Debug, Clone, PartialEq)]
struct Hit {
    host: Host,
    /// The port, for SRV; `None` for addresses without ports.
    port: Option<u16>,
    /// The name SRV records point at.
    target: Name,
}

#[derive(Debug, Clone, PartialEq)]
enum Host {
    Ip(IpAddr),
    Alias(Name),
}

/// The name does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NoSuchName;

/// Resolves `query` against the cluster.
pub fn resolve(index: &ClusterIndex, zone: &Zone, query: &Query) -> Resolution {
    match classify(&query.name, &zone.domain) {
        QueryName::Outside => Resolution::Forward,
        QueryName::Reverse(ip) => reverse(index, zone, query, ip),
        QueryName::Cluster(name) => Resolution::Answer(cluster(index, zone, query, &name)),
    }
}

fn cluster(index: &ClusterIndex, zone: &Zone, query: &Query, name: &ClusterName) -> Answer {
    let qname = &query.name;
    let qtype = query.query_type;
    let mut answer = Answer {
        code: ResponseCode::NoError,
        answers: Vec::new(),
        authorities: Vec::new(),
        additionals: Vec::new(),
        chase: None,
    };
    match (name, qtype) {
        (ClusterName::Apex, RecordType::SOA) => answer.answers.push(soa(index, zone)),
        (ClusterName::Apex, RecordType::NS) => {
            let nameserver = nameserver_name(zone);
            answer
                .answers
                .push(record(qname, zone, RData::NS(NS(nameserver.clone()))));
            for ip in kube_dns_ips(index) {
                answer.additionals.push(address(&nameserver, zone, ip));
            }
        }
        (ClusterName::DnsVersion, RecordType::TXT) => answer.answers.push(record(
            qname,
            zone,
            RData::TXT(TXT::new(vec![SCHEMA_VERSION.to_owned()])),
        )),
        // CoreDNS parses any other type on this name as a request and
        // finds no such name.
        (ClusterName::DnsVersion, _) => answer.code = ResponseCode::NXDomain,
        _ => match lookup(index, zone, name) {
            Err(NoSuchName) => answer.code = ResponseCode::NXDomain,
            Ok(hits) => typed_records(index, zone, qname, qtype, &hits, &mut answer, 0),
        },
    }
    if answer.answers.is_empty() {
        answer.authorities.push(soa(index, zone));
    }
    answer
}

/// Turns hits into records of the asked type.
fn typed_records(
    index: &ClusterIndex,
    zone: &Zone,
    qname: &Name,
    qtype: RecordType,
    hits: &[Hit],
    answer: &mut Answer,
    depth: usize,
) {
    match qtype {
        RecordType::A | RecordType::AAAA => {
            for hit in hits {
                match &hit.host {
                    Host::Ip(ip) if family_matches(*ip, qtype) => {
                        push_unique(&mut answer.answers, address(qname, zone, *ip));
                    }
                    Host::Ip(_) => {}
                    Host::Alias(target) => {
                        push_unique(
                            &mut answer.answers,
                            record(qname, zone, RData::CNAME(CNAME(target.clone()))),
                        );
                        follow_alias(index, zone, target, qtype, answer, depth);
                    }
                }
            }
        }
        RecordType::CNAME => {
            for hit in hits {
                if let Host::Alias(target) = &hit.host {
                    push_unique(
                        &mut answer.answers,
                        record(qname, zone, RData::CNAME(CNAME(target.clone()))),
                    );
                }
            }
        }
        RecordType::SRV => srv_records(zone, qname, hits, answer),
        _ => {}
    }
}

/// Follows a CNAME: inside the zone by resolving the target here, outside
/// by asking the server to chase it upstream.
fn follow_alias(
    index: &ClusterIndex,
    zone: &Zone,
    target: &Name,
    qtype: RecordType,
    answer: &mut Answer,
    depth: usize,
) {
    match classify(target, &zone.domain) {
        QueryName::Cluster(name) if depth < MAX_CNAME_DEPTH => {
            if let Ok(hits) = lookup(index, zone, &name) {
                typed_records(index, zone, target, qtype, &hits, answer, depth + 1);
            }
        }
        QueryName::Cluster(_) => {}
        QueryName::Reverse(_) | QueryName::Outside => answer.chase = Some(target.clone()),
    }
}

/// SRV records, one per distinct (port, target), weights splitting 100
/// evenly (CoreDNS `plugin.SRV`), with the targets' addresses as additional
/// records.
fn srv_records(zone: &Zone, qname: &Name, hits: &[Hit], answer: &mut Answer) {
    let mut targets: Vec<(u16, &Name, &Host)> = Vec::new();
    for hit in hits {
        if let Some(port) = hit.port {
            if !targets
                .iter()
                .any(|(p, t, _)| *p == port && *t == &hit.target)
            {
                targets.push((port, &hit.target, &hit.host));
            }
        }
    }
    let weight = u16::try_from(100 / targets.len().max(1))
        .unwrap_or(1)
        .max(1);
    for (port, target, host) in targets {
        answer.answers.push(record(
            qname,
            zone,
            RData::SRV(SRV::new(0, weight, port, target.clone())),
        ));
        if let Host::Ip(ip) = host {
            push_unique(&mut answer.additionals, address(target, zone, *ip));
        }
    }
}

/// What a cluster name refers to, before the query type matters.
fn lookup(index: &ClusterIndex, zone: &Zone, name: &ClusterName) -> Result<Vec<Hit>, NoSuchName> {
    match name {
        ClusterName::Apex | ClusterName::Branch => Ok(Vec::new()),
        ClusterName::DnsVersion | ClusterName::Invalid => Err(NoSuchName),
        ClusterName::Nameserver => Ok(kube_dns_ips(index)
            .into_iter()
            .map(|ip| Hit {
                host: Host::Ip(ip),
                port: None,
                target: nameserver_name(zone),
            })
            .collect()),
        ClusterName::Namespace(namespace) => {
            existing_namespace(index, namespace).map(|()| Vec::new())
        }
        ClusterName::Pod { namespace, ip } => {
            existing_namespace(index, namespace)?;
            match (zone.pods, ip) {
                (PodRecords::Insecure, Some(ip)) => Ok(vec![Hit {
                    host: Host::Ip(*ip),
                    port: None,
                    target: Name::root(),
                }]),
                _ => Err(NoSuchName),
            }
        }
        ClusterName::Service {
            namespace,
            service,
            selector,
        } => {
            existing_namespace(index, namespace)?;
            let key = ObjectKey::new(namespace, service);
            let record = index.service(&key).ok_or(NoSuchName)?;
            service_hits(index, zone, &key, record, selector)
        }
    }
}

fn existing_namespace(index: &ClusterIndex, namespace: &str) -> Result<(), NoSuchName> {
    if index.has_namespace(namespace) {
        Ok(())
    } else {
        Err(NoSuchName)
    }
}

/// A service's hits (CoreDNS `findServices`): the name exists when at least
/// one port (or endpoint) matches the selector.
fn service_hits(
    index: &ClusterIndex,
    zone: &Zone,
    key: &ObjectKey,
    record: &ServiceRecord,
    selector: &Selector,
) -> Result<Vec<Hit>, NoSuchName> {
    let service_name = child(zone, &[&key.name, &key.namespace, "svc"]).ok_or(NoSuchName)?;
    let hits: Vec<Hit> = match (&record.kind, selector) {
        (ServiceKind::ExternalName(target), Selector::All) => vec![Hit {
            host: Host::Alias(target.clone()),
            port: None,
            target: service_name,
        }],
        (ServiceKind::ExternalName(_), _) => Vec::new(),
        (ServiceKind::Headless, _) | (ServiceKind::ClusterIp(_), Selector::Endpoint(_)) => {
            let mut hits = Vec::new();
            for found in index.endpoints(key, record.publish_not_ready) {
                let label = found.endpoint.label();
                if let Selector::Endpoint(wanted) = selector {
                    if *wanted != label {
                        continue;
                    }
                }
                let Some(target) = child(zone, &[&label, &key.name, &key.namespace, "svc"]) else {
                    continue;
                };
                // A slice without ports still names its addresses.
                let ports: Vec<Option<u16>> = if found.ports.is_empty() {
                    vec![None]
                } else {
                    found
                        .ports
                        .iter()
                        .filter(|port| port_matches(selector, &port.name, &port.protocol))
                        .map(|port| Some(port.port))
                        .collect()
                };
                for port in ports {
                    hits.push(Hit {
                        host: Host::Ip(found.endpoint.ip),
                        port,
                        target: target.clone(),
                    });
                }
            }
            hits
        }
        (ServiceKind::ClusterIp(ips), _) => {
            let mut hits = Vec::new();
            for port in &record.ports {
                if !port_matches(selector, &port.name, &port.protocol) {
                    continue;
                }
                // The port matched, so the name exists even without IPs.
                hits.push(None);
                for ip in ips {
                    hits.push(Some(Hit {
                        host: Host::Ip(*ip),
                        port: Some(port.port),
                        target: service_name.clone(),
                    }));
                }
            }
            if hits.is_empty() {
                return Err(NoSuchName);
            }
            return Ok(hits.into_iter().flatten().collect());
        }
    };
    if hits.is_empty() {
        Err(NoSuchName)
    } else {
        Ok(hits)
    }
}

/// CoreDNS `matchPortAndProtocol`: no port in the name matches every port.
fn port_matches(selector: &Selector, name: &str, protocol: &str) -> bool {
    match selector {
        Selector::Port {
            name: wanted,
            protocol: wanted_protocol,
        } => wanted == name && wanted_protocol == protocol,
        Selector::All | Selector::Endpoint(_) => true,
    }
}

/// PTR answers for a service IP (its service name) or else an endpoint IP
/// (the endpoint's name under its service), like CoreDNS
/// `serviceRecordForIP`; unknown addresses are forwarded (the default
/// Corefile's `fallthrough in-addr.arpa ip6.arpa`).
fn reverse(index: &ClusterIndex, zone: &Zone, query: &Query, ip: IpAddr) -> Resolution {
    let mut targets: Vec<Name> = index
        .services_with_ip(ip)
        .into_iter()
        .take(1)
        .filter_map(|key| child(zone, &[&key.name, &key.namespace, "svc"]))
        .collect();
    if targets.is_empty() {
        for (key, endpoints) in index.endpoints_with_ip(ip) {
            for endpoint in endpoints {
                targets.extend(child(
                    zone,
                    &[&endpoint.label(), &key.name, &key.namespace, "svc"],
                ));
            }
        }
    }
    if targets.is_empty() {
        return Resolution::Forward;
    }
    let mut answer = Answer {
        code: ResponseCode::NoError,
        answers: Vec::new(),
        authorities: Vec::new(),
        additionals: Vec::new(),
        chase: None,
    };
    if query.query_type == RecordType::PTR {
        for target in targets {
            push_unique(
                &mut answer.answers,
                record(&query.name, zone, RData::PTR(PTR(target))),
            );
        }
    } else {
        answer.authorities.push(soa(index, zone));
    }
    Resolution::Answer(answer)
}

fn kube_dns_ips(index: &ClusterIndex) -> Vec<IpAddr> {
    match index.service(&ObjectKey::new(KUBE_DNS.0, KUBE_DNS.1)) {
        Some(ServiceRecord {
            kind: ServiceKind::ClusterIp(ips),
            ..
        }) => ips.clone(),
        _ => Vec::new(),
    }
}

/// The zone's SOA (CoreDNS `plugin.SOA`: `ns.dns.<zone>`,
/// `hostmaster.<zone>`, refresh 7200, retry 1800, expire 86400, minimum =
/// the TTL).
fn soa(index: &ClusterIndex, zone: &Zone) -> Record {
    let hostmaster = child(zone, &["hostmaster"]).unwrap_or_else(|| zone.domain.clone());
    record(
        &zone.domain,
        zone,
        RData::SOA(SOA::new(
            nameserver_name(zone),
            hostmaster,
            index.serial(),
            7200,
            1800,
            86400,
            zone.ttl,
        )),
    )
}

fn nameserver_name(zone: &Zone) -> Name {
    child(zone, &["ns", "dns"]).unwrap_or_else(|| zone.domain.clone())
}

/// `labels…` followed by the zone, or `None` when a label is not valid in
/// a name (too long, say).
fn child(zone: &Zone, labels: &[&str]) -> Option<Name> {
    Name::from_labels(labels.iter().map(|label| label.as_bytes()))
        .ok()?
        .append_domain(&zone.domain)
        .ok()
}

fn family_matches(ip: IpAddr, qtype: RecordType) -> bool {
    matches!(
        (ip, qtype),
        (IpAddr::V4(_), RecordType::A) | (IpAddr::V6(_), RecordType::AAAA)
    )
}

fn address(name: &Name, zone: &Zone, ip: IpAddr) -> Record {
    match ip {
        IpAddr::V4(v4) => record(name, zone, RData::A(A(v4))),
        IpAddr::V6(v6) => record(name, zone, RData::AAAA(AAAA(v6))),
    }
}

fn record(name: &Name, zone: &Zone, data: RData) -> Record {
    Record::from_rdata(name.clone(), zone.ttl, data)
}

fn push_unique(records: &mut Vec<Record>, record: Record) {
    if !records.contains(&record) {
        records.push(record);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::index::{EndpointRecord, PortRecord, SliceRecord};

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn port(name: &str, protocol: &str, port: u16) -> PortRecord {
        PortRecord {
            name: name.into(),
            protocol: protocol.into(),
            port,
        }
    }

    fn service(kind: ServiceKind, ports: Vec<PortRecord>) -> Option<ServiceRecord> {
        Some(ServiceRecord {
            kind,
            ports,
            publish_not_ready: false,
        })
    }

    fn endpoint(address: &str, hostname: Option<&str>, ready: bool) -> EndpointRecord {
        EndpointRecord {
            ip: ip(address),
            hostname: hostname.map(Into::into),
            ready,
        }
    }

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    /// default/web (ClusterIP, http + unnamed port), default/db (headless,
    /// three endpoints, one not ready), default/ext (ExternalName out of
    /// the zone), default/alias (ExternalName into the zone), default/dual
    /// (dual-stack), kube-system/kube-dns.
    fn fixture() -> ClusterIndex {
        let mut index = ClusterIndex::default();
        index.replace_namespaces(["default".to_owned(), "kube-system".to_owned()]);
        let services = [
            (
                "default",
                "web",
                service(
                    ServiceKind::ClusterIp(vec![ip("10.43.0.5")]),
                    vec![port("http", "tcp", 80), port("", "tcp", 8080)],
                ),
            ),
            (
                "default",
                "db",
                service(ServiceKind::Headless, vec![port("pg", "tcp", 5432)]),
            ),
            (
                "default",
                "ext",
                service(ServiceKind::ExternalName(name("db.example.com.")), vec![]),
            ),
            (
                "default",
                "alias",
                service(
                    ServiceKind::ExternalName(name("web.default.svc.cluster.local.")),
                    vec![],
                ),
            ),
            (
                "default",
                "dual",
                service(
                    ServiceKind::ClusterIp(vec![ip("10.43.0.6"), ip("fd00::6")]),
                    vec![port("http", "tcp", 80)],
                ),
            ),
            (
                "default",
                "noports",
                service(ServiceKind::ClusterIp(vec![ip("10.43.0.7")]), vec![]),
            ),
            (
                "kube-system",
                "kube-dns",
                service(
                    ServiceKind::ClusterIp(vec![ip("10.43.0.10")]),
                    vec![port("dns", "udp", 53)],
                ),
            ),
        ];
        for (namespace, service, record) in services {
            index.put_service(ObjectKey::new(namespace, service), record);
        }
        index.put_slice(
            ObjectKey::new("default", "db-abc"),
            Some(SliceRecord {
                service: "db".into(),
                ports: vec![port("pg", "tcp", 5432)],
                endpoints: vec![
                    endpoint("10.42.0.7", Some("db-0"), true),
                    endpoint("10.42.0.8", None, true),
                    endpoint("10.42.0.9", None, false),
                ],
            }),
        );
        index.mark_modified(1000);
        index
    }

    fn zone() -> Zone {
        Zone {
            domain: name("cluster.local."),
            ttl: 5,
            pods: PodRecords::Insecure,
        }
    }

    #[derive(Debug, PartialEq)]
    enum Want {
        Forward,
        /// Response code, answers as "TYPE rdata", whether the SOA is in
        /// the authority section.
        Answer(ResponseCode, Vec<String>, bool),
    }

    fn summarise(resolution: Resolution) -> Want {
        match resolution {
            Resolution::Forward => Want::Forward,
            Resolution::Answer(answer) => Want::Answer(
                answer.code,
                answer
                    .answers
                    .iter()
                    .map(|record| format!("{} {}", record.record_type(), record.data))
                    .collect(),
                answer
                    .authorities
                    .iter()
                    .any(|record| record.record_type() == RecordType::SOA),
            ),
        }
    }

    fn ok(answers: &[&str]) -> Want {
        Want::Answer(
            ResponseCode::NoError,
            answers.iter().map(|a| (*a).to_owned()).collect(),
            false,
        )
    }

    fn nodata() -> Want {
        Want::Answer(ResponseCode::NoError, Vec::new(), true)
    }

    fn nxdomain() -> Want {
        Want::Answer(ResponseCode::NXDomain, Vec::new(), true)
    }

    #[test]
    fn queries_get_the_answers_coredns_gives() {
        let index = fixture();
        let cases = [
            ("web.default.svc.cluster.local.", RecordType::A, ok(&["A 10.43.0.5"])),
            ("WEB.Default.svc.CLUSTER.local.", RecordType::A, ok(&["A 10.43.0.5"])),
            ("web.default.svc.cluster.local.", RecordType::AAAA, nodata()),
            ("web.default.svc.cluster.local.", RecordType::MX, nodata()),
            ("missing.default.svc.cluster.local.", RecordType::A, nxdomain()),
            ("web.nowhere.svc.cluster.local.", RecordType::A, nxdomain()),
            ("noports.default.svc.cluster.local.", RecordType::A, nxdomain()),
            ("default.svc.cluster.local.", RecordType::A, nodata()),
            ("nowhere.svc.cluster.local.", RecordType::A, nxdomain()),
            ("svc.cluster.local.", RecordType::A, nodata()),
            ("other.cluster.local.", RecordType::A, nxdomain()),
            (
                "_http._tcp.web.default.svc.cluster.local.",
                RecordType::SRV,
                ok(&["SRV 0 100 80 web.default.svc.cluster.local."]),
            ),
            (
                "web.default.svc.cluster.local.",
                RecordType::SRV,
                ok(&["SRV 0 50 80 web.default.svc.cluster.local.", "SRV 0 50 8080 web.default.svc.cluster.local."]),
            ),
            ("_http._udp.web.default.svc.cluster.local.", RecordType::SRV, nxdomain()),
            ("_http._tcp.web.default.svc.cluster.local.", RecordType::A, ok(&["A 10.43.0.5"])),
            ("db.default.svc.cluster.local.", RecordType::A, ok(&["A 10.42.0.7", "A 10.42.0.8"])),
            ("db-0.db.default.svc.cluster.local.", RecordType::A, ok(&["A 10.42.0.7"])),
            ("10-42-0-8.db.default.svc.cluster.local.", RecordType::A, ok(&["A 10.42.0.8"])),
            ("10-42-0-9.db.default.svc.cluster.local.", RecordType::A, nxdomain()),
            ("10-42-0-7.db.default.svc.cluster.local.", RecordType::A, nxdomain()),
            (
                "_pg._tcp.db.default.svc.cluster.local.",
                RecordType::SRV,
                ok(&[
                    "SRV 0 50 5432 db-0.db.default.svc.cluster.local.",
                    "SRV 0 50 5432 10-42-0-8.db.default.svc.cluster.local.",
                ]),
            ),
            ("ext.default.svc.cluster.local.", RecordType::A, ok(&["CNAME db.example.com."])),
            ("ext.default.svc.cluster.local.", RecordType::CNAME, ok(&["CNAME db.example.com."])),
            ("_http._tcp.ext.default.svc.cluster.local.", RecordType::SRV, nxdomain()),
            (
                "alias.default.svc.cluster.local.",
                RecordType::A,
                ok(&["CNAME web.default.svc.cluster.local.", "A 10.43.0.5"]),
            ),
            ("dual.default.svc.cluster.local.", RecordType::AAAA, ok(&["AAAA fd00::6"])),
            ("dual.default.svc.cluster.local.", RecordType::A, ok(&["A 10.43.0.6"])),
            ("10-42-0-99.default.pod.cluster.local.", RecordType::A, ok(&["A 10.42.0.99"])),
            ("10-42-0-99.default.pod.cluster.local.", RecordType::AAAA, nodata()),
            ("10-42-0-99.nowhere.pod.cluster.local.", RecordType::A, nxdomain()),
            ("nonsense.default.pod.cluster.local.", RecordType::A, nxdomain()),
            ("dns-version.cluster.local.", RecordType::TXT, ok(&["TXT 1.1.0"])),
            ("ns.dns.cluster.local.", RecordType::A, ok(&["A 10.43.0.10"])),
            ("cluster.local.", RecordType::NS, ok(&["NS ns.dns.cluster.local."])),
            (
                "cluster.local.",
                RecordType::SOA,
                ok(&["SOA ns.dns.cluster.local. hostmaster.cluster.local. 1000 7200 1800 86400 5"]),
            ),
            ("example.com.", RecordType::A, Want::Forward),
            ("5.0.43.10.in-addr.arpa.", RecordType::PTR, ok(&["PTR web.default.svc.cluster.local."])),
            ("7.0.42.10.in-addr.arpa.", RecordType::PTR, ok(&["PTR db-0.db.default.svc.cluster.local."])),
            ("8.0.42.10.in-addr.arpa.", RecordType::PTR, ok(&["PTR 10-42-0-8.db.default.svc.cluster.local."])),
            ("9.0.42.10.in-addr.arpa.", RecordType::PTR, Want::Forward),
            ("1.1.1.1.in-addr.arpa.", RecordType::PTR, Want::Forward),
        ];
        for (qname, qtype, want) in cases {
            let got = summarise(resolve(&index, &zone(), &Query::query(name(qname), qtype)));
            assert_eq!(got, want, "{qname} {qtype}");
        }
    }

    #[test]
    fn answers_keep_the_case_the_client_asked_in() {
        let index = fixture();
        let query = Query::query(name("Web.Default.Svc.Cluster.Local."), RecordType::A);
        let Resolution::Answer(answer) = resolve(&index, &zone(), &query) else {
            panic!("a cluster name was forwarded");
        };
        assert_eq!(answer.answers[0].name, query.name);
    }

    #[test]
    fn external_names_ask_for_their_target_to_be_chased_and_srv_targets_get_addresses() {
        let index = fixture();
        let Resolution::Answer(external) = resolve(
            &index,
            &zone(),
            &Query::query(name("ext.default.svc.cluster.local."), RecordType::A),
        ) else {
            panic!("forwarded");
        };
        assert_eq!(external.chase, Some(name("db.example.com.")));

        let Resolution::Answer(srv) = resolve(
            &index,
            &zone(),
            &Query::query(
                name("_pg._tcp.db.default.svc.cluster.local."),
                RecordType::SRV,
            ),
        ) else {
            panic!("forwarded");
        };
        let additionals: Vec<String> = srv.additionals.iter().map(ToString::to_string).collect();
        assert_eq!(additionals.len(), 2, "{additionals:?}");
        assert!(
            additionals[0].starts_with("db-0.db.default.svc.cluster.local. 5 IN A 10.42.0.7"),
            "{additionals:?}"
        );
    }

    #[test]
    fn pod_records_can_be_disabled() {
        let index = fixture();
        let zone = Zone {
            pods: PodRecords::Disabled,
            ..zone()
        };
        let got = summarise(resolve(
            &index,
            &zone,
            &Query::query(name("10-42-0-99.default.pod.cluster.local."), RecordType::A),
        ));
        assert_eq!(got, nxdomain());
    }
}
