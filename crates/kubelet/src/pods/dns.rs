//! A pod's resolver and hosts file: DNS config from `dnsPolicy`
//! (pkg/kubelet/network/dns/dns.go) and the kubelet-managed `/etc/hosts`
//! (pkg/kubelet/kubelet_pods.go `managedHostsFileContent`).

use k8s_cri::v1::DnsConfig;
use k8s_openapi::api::core::v1::Pod;

/// The cluster's DNS settings, from the kubelet's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDns {
    /// The cluster DNS Service IPs (10.43.0.10 by default).
    pub servers: Vec<String>,
    /// The cluster domain (`cluster.local`).
    pub domain: String,
}

/// The resolver a pod gets. `host` is the node's own resolv.conf content,
/// used for `Default` and for host-network pods under `ClusterFirst`.
pub fn dns_config(pod: &Pod, cluster: &ClusterDns, host: &DnsConfig) -> DnsConfig {
    let spec = pod.spec.as_ref();
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let policy = spec
        .and_then(|s| s.dns_policy.as_deref())
        .unwrap_or("ClusterFirst");
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut config = match policy {
        "None" => DnsConfig::default(),
        "Default" => host.clone(),
        // ClusterFirst on the host network falls back to the host's resolver.
        "ClusterFirst" if host_network => host.clone(),
        _ => {
            let d = &cluster.domain;
            let mut searches = vec![
                format!("{namespace}.svc.{d}"),
                format!("svc.{d}"),
                d.clone(),
            ];
            searches.extend(host.searches.iter().cloned());
            DnsConfig {
                servers: cluster.servers.clone(),
                searches,
                options: vec!["ndots:5".into()],
            }
        }
    };
    if let Some(extra) = spec.and_then(|s| s.dns_config.as_ref()) {
        config
            .servers
            .extend(extra.nameservers.iter().flatten().cloned());
        config
            .searches
            .extend(extra.searches.iter().flatten().cloned());
        for option in extra.options.iter().flatten() {
            let Some(name) = option.name.as_deref() else {
                continue;
            };
            config.options.retain(|o| o.split(':').next() != Some(name));
            config.options.push(match &option.value {
                Some(v) => format!("{name}:{v}"),
                None => name.to_string(),
            });
        }
    }
    config.searches.dedup();
    config
}

/// The node's resolv.conf as a CRI DNS config.
pub fn parse_resolv_conf(text: &str) -> DnsConfig {
    let mut config = DnsConfig::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => config.servers.extend(words.next().map(str::to_string)),
            Some("search") | Some("domain") => config.searches.extend(words.map(str::to_string)),
            Some("options") => config.options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    config
}

/// The pod's hostname and optional `subdomain`-based FQDN.
pub fn pod_hostname(pod: &Pod) -> String {
    let spec = pod.spec.as_ref();
    let name = spec
        .and_then(|s| s.hostname.clone())
        .or_else(|| pod.metadata.name.clone())
        .unwrap_or_default();
    // Hostnames are at most 63 bytes (upstream truncates the same way).
    name.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches(['-', '.'])
        .to_string()
}

/// The managed /etc/hosts for a pod with IP `pod_ip`.
pub fn hosts_file(pod: &Pod, pod_ip: &str, cluster_domain: &str) -> String {
    let hostname = pod_hostname(pod);
    let mut out = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    let spec = pod.spec.as_ref();
    if !pod_ip.is_empty() {
        match spec.and_then(|s| s.subdomain.as_deref()) {
            Some(sub) if !sub.is_empty() => {
                let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
                out.push_str(&format!(
                    "{pod_ip}\t{hostname}.{sub}.{namespace}.svc.{cluster_domain}\t{hostname}\n"
                ));
            }
            _ => out.push_str(&format!("{pod_ip}\t{hostname}\n")),
        }
    }
    for alias in spec
        .and_then(|s| s.host_aliases.as_ref())
        .into_iter()
        .flatten()
    {
        let names = alias.hostnames.as_deref().unwrap_or(&[]);
        if !names.is_empty() {
            out.push_str(&format!(
                "\n# Entries added by HostAliases.\n{}\t{}\n",
                alias.ip,
                names.join("\t")
            ));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-1", "namespace": "shop"},
            "spec": spec
        }))
        .unwrap()
    }

    fn cluster() -> ClusterDns {
        ClusterDns {
            servers: vec!["10.43.0.10".into()],
            domain: "cluster.local".into(),
        }
    }

    #[test]
    fn dns_policies_choose_the_resolver() {
        let host = parse_resolv_conf("nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n");
        let cases = [
            (
                "ClusterFirst uses cluster DNS",
                serde_json::json!({"containers": []}),
                vec!["10.43.0.10"],
                "shop.svc.cluster.local",
            ),
            (
                "Default uses the node's resolver",
                serde_json::json!({"dnsPolicy": "Default", "containers": []}),
                vec!["192.0.2.53"],
                "corp.example",
            ),
            (
                "ClusterFirst on the host network uses the node's",
                serde_json::json!({"hostNetwork": true, "containers": []}),
                vec!["192.0.2.53"],
                "corp.example",
            ),
            (
                "ClusterFirstWithHostNet uses cluster DNS",
                serde_json::json!({"hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet", "containers": []}),
                vec!["10.43.0.10"],
                "shop.svc.cluster.local",
            ),
        ];
        for (name, spec, servers, first_search) in cases {
            let config = dns_config(&pod(spec), &cluster(), &host);
            assert_eq!(config.servers, servers, "{name}");
            assert_eq!(
                config.searches.first().map(String::as_str),
                Some(first_search),
                "{name}"
            );
        }
        let cluster_first = dns_config(
            &pod(serde_json::json!({"containers": []})),
            &cluster(),
            &host,
        );
        assert_eq!(cluster_first.options, vec!["ndots:5"]);
        assert_eq!(
            cluster_first.searches,
            vec![
                "shop.svc.cluster.local",
                "svc.cluster.local",
                "cluster.local",
                "corp.example"
            ]
        );
    }

    #[test]
    fn the_hosts_file_names_the_pod_and_its_aliases() {
        let p = pod(serde_json::json!({
            "containers": [],
            "hostAliases": [{"ip": "192.0.2.9", "hostnames": ["db", "db.local"]}]
        }));
        let hosts = hosts_file(&p, "10.42.0.4", "cluster.local");
        assert!(hosts.contains("127.0.0.1\tlocalhost\n"));
        assert!(hosts.contains("10.42.0.4\tweb-1\n"));
        assert!(hosts.contains("192.0.2.9\tdb\tdb.local\n"));
    }
}
