//! Masquerade of what pods send off the cluster network. The CNI bridge's
//! own `ipMasq` would also rewrite traffic to pods on other nodes, which
//! must keep its source address (a flat pod network, no NAT between pods),
//! so the node keeps one small nftables table instead, as flannel's
//! ip-masq rules do: pod CIDR → anywhere but the cluster CIDR (and
//! multicast) is masqueraded.

use ipnet::Ipv4Net;

/// The node's table: one per bridge, so that several nodes can share a
/// machine (and a network namespace) in tests. nft table names are
/// identifiers, so anything else than letters, digits, `-` and `_` becomes `_`.
pub fn table_name(bridge: &str) -> String {
    let bridge: String = bridge
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("rkube-podnet-{bridge}")
}

/// The table's definition.
pub fn definition(table: &str, pod_cidr: Ipv4Net, cluster_cidr: Ipv4Net) -> String {
    format!(
        "table ip {table} {{\n\tchain postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tip saddr {pod} ip daddr != {cluster} ip daddr != 224.0.0.0/4 masquerade\n\t}}\n}}\n",
        pod = pod_cidr.trunc(),
        cluster = cluster_cidr.trunc(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_named_for_the_bridge_in_characters_nft_accepts() {
        assert_eq!(table_name("rkube0"), "rkube-podnet-rkube0");
        assert_eq!(table_name("br.lab@x"), "rkube-podnet-br_lab_x");
    }

    #[test]
    fn only_pod_traffic_leaving_the_cluster_network_is_masqueraded() {
        let text = definition(
            "t",
            "10.42.1.0/24".parse().unwrap(),
            "10.42.7.7/16".parse().unwrap(),
        );
        assert!(text.contains(
            "ip saddr 10.42.1.0/24 ip daddr != 10.42.0.0/16 ip daddr != 224.0.0.0/4 masquerade"
        ));
        assert!(text.contains("type nat hook postrouting priority srcnat"));
    }
}
