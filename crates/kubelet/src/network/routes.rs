//! Routes to other nodes' pod CIDRs (flannel's host-gw backend): each node
//! that runs rkube's pod network says so with [`GATEWAY_ANNOTATION`] on its
//! Node, and every other node routes that node's `spec.podCIDR` via the
//! address the annotation names. The routes carry [`ROUTE_PROTOCOL`], so
//! they are told apart from everyone else's and found again after a restart.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use k8s_openapi::api::core::v1::Node;
use tokio::process::Command;

/// The annotation a node's pod network puts on its Node: the address other
/// nodes route its pod CIDR through (flannel's `public-ip` annotation).
/// Nodes without it (simulated ones, or nodes with another CNI) get no route.
pub const GATEWAY_ANNOTATION: &str = "network.rkube.io/host-gw-ip";

/// The routing protocol number on rkube's routes (`ip route … proto 218`);
/// iproute2 reserves no name for it.
pub const ROUTE_PROTOCOL: u8 = 218;

/// Pod CIDR → the node address it is routed through.
pub type RouteTable = BTreeMap<Ipv4Net, Ipv4Addr>;

/// Why a route could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// `ip` could not be run.
    #[error("running ip {args}: {source}")]
    Spawn {
        /// Its arguments.
        args: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `ip` refused the command, e.g. "Nexthop has invalid gateway" when a
    /// node is not on a directly connected network (host-gw needs one).
    #[error("ip {args}: {stderr}")]
    Rejected {
        /// Its arguments.
        args: String,
        /// What it said.
        stderr: String,
    },
    /// `ip -j route show` printed something else than its JSON.
    #[error("reading `ip -j route show`: {0}")]
    Parse(#[from] serde_json::Error),
}

/// Who asks for routes: a node's name, its address and its own pod CIDR.
#[derive(Debug, Clone, Copy)]
pub struct OwnNode<'a> {
    /// The Node's name.
    pub name: &'a str,
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its pods' addresses.
    pub pod_cidr: Ipv4Net,
}

/// The routes this node wants: every other annotated node's pod CIDR via
/// its annotated address. Left out: nodes without a podCIDR yet or with
/// values that do not parse (until they are fixed), nodes at this node's
/// own address (several nodes on one host reach each other's bridges
/// directly, and such a route would replace the bridge's own), and CIDRs
/// overlapping this node's.
pub fn desired<'a>(nodes: impl IntoIterator<Item = &'a Node>, own: OwnNode<'_>) -> RouteTable {
    nodes
        .into_iter()
        .filter(|node| node.metadata.name.as_deref() != Some(own.name))
        .filter_map(|node| {
            let gateway: Ipv4Addr = node
                .metadata
                .annotations
                .as_ref()?
                .get(GATEWAY_ANNOTATION)?
                .parse()
                .ok()?;
            let cidr: Ipv4Net = node.spec.as_ref()?.pod_cidr.as_deref()?.parse().ok()?;
            Some((cidr.trunc(), gateway))
        })
        .filter(|(cidr, gateway)| {
            *gateway != own.ip && !cidr.contains(&own.pod_cidr) && !own.pod_cidr.contains(cidr)
        })
        .collect()
}

/// What turns `installed` into `desired`: routes to add or change, and
/// destinations to delete.
pub fn plan(installed: &RouteTable, desired: &RouteTable) -> (RouteTable, Vec<Ipv4Net>) {
    let replace = desired
        .iter()
        .filter(|(dst, via)| installed.get(dst) != Some(via))
        .map(|(dst, via)| (*dst, *via))
        .collect();
    let delete = installed
        .keys()
        .filter(|dst| !desired.contains_key(dst))
        .copied()
        .collect();
    (replace, delete)
}

/// One route as `ip -j route show` prints it.
#[derive(serde::Deserialize)]
struct ShownRoute {
    dst: String,
    gateway: Option<Ipv4Addr>,
}

/// The routes with [`ROUTE_PROTOCOL`] in the main table.
pub async fn installed() -> Result<RouteTable, RouteError> {
    let proto = ROUTE_PROTOCOL.to_string();
    let out = ip(&["-4", "-j", "route", "show", "proto", &proto]).await?;
    // An empty table prints nothing at all on some iproute2 versions.
    if out.trim().is_empty() {
        return Ok(RouteTable::new());
    }
    let shown: Vec<ShownRoute> = serde_json::from_str(&out)?;
    Ok(shown
        .into_iter()
        .filter_map(|r| Some((r.dst.parse().ok()?, r.gateway?)))
        .collect())
}

/// Makes the kernel's rkube routes `desired`; returns the routes that
/// failed (the others are in place).
pub async fn sync(desired: &RouteTable) -> Result<Vec<RouteError>, RouteError> {
    let (replace, delete) = plan(&installed().await?, desired);
    let proto = ROUTE_PROTOCOL.to_string();
    let mut failed = Vec::new();
    for (dst, via) in replace {
        let (dst, via) = (dst.to_string(), via.to_string());
        let args = ["route", "replace", &dst, "via", &via, "proto", &proto];
        if let Err(e) = ip(&args).await {
            failed.push(e);
        }
    }
    for dst in delete {
        let dst = dst.to_string();
        if let Err(e) = ip(&["route", "del", &dst, "proto", &proto]).await {
            failed.push(e);
        }
    }
    Ok(failed)
}

/// Runs `ip ARGS`, returning its stdout.
async fn ip(args: &[&str]) -> Result<String, RouteError> {
    let output = Command::new("ip")
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| RouteError::Spawn {
            args: args.join(" "),
            source,
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(RouteError::Rejected {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeSpec;
    use kube::api::ObjectMeta;

    fn node(name: &str, pod_cidr: Option<&str>, gateway: Option<&str>) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                annotations: gateway
                    .map(|g| [(GATEWAY_ANNOTATION.to_string(), g.to_string())].into()),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                pod_cidr: pod_cidr.map(Into::into),
                ..NodeSpec::default()
            }),
            ..Node::default()
        }
    }

    fn table(routes: &[(&str, &str)]) -> RouteTable {
        routes
            .iter()
            .map(|(dst, via)| (dst.parse().unwrap(), via.parse().unwrap()))
            .collect()
    }

    #[test]
    fn every_other_annotated_node_with_a_pod_cidr_gets_a_route() {
        let nodes = [
            node("self", Some("10.42.0.0/24"), Some("10.201.0.2")),
            node("b", Some("10.42.1.0/24"), Some("10.201.0.3")),
            node("c", Some("10.42.2.7/24"), Some("10.201.0.4")),
            node("simulated", Some("10.42.3.0/24"), None),
            node("no-cidr-yet", None, Some("10.201.0.6")),
            node("garbage", Some("not-a-cidr"), Some("10.201.0.7")),
            node("v6", Some("fd00::/64"), Some("10.201.0.8")),
            node("same-host", Some("10.42.5.0/24"), Some("10.201.0.2")),
            node("overlapping", Some("10.42.0.0/23"), Some("10.201.0.9")),
        ];
        let own = OwnNode {
            name: "self",
            ip: "10.201.0.2".parse().unwrap(),
            pod_cidr: "10.42.0.0/24".parse().unwrap(),
        };
        assert_eq!(
            desired(&nodes, own),
            table(&[
                ("10.42.1.0/24", "10.201.0.3"),
                ("10.42.2.0/24", "10.201.0.4")
            ])
        );
    }

    #[test]
    fn the_plan_replaces_changed_and_new_routes_and_deletes_gone_ones() {
        let installed = table(&[
            ("10.42.1.0/24", "10.201.0.3"),
            ("10.42.2.0/24", "10.201.0.4"),
            ("10.42.3.0/24", "10.201.0.5"),
        ]);
        let desired = table(&[
            ("10.42.1.0/24", "10.201.0.3"),
            ("10.42.2.0/24", "10.201.0.9"),
            ("10.42.4.0/24", "10.201.0.6"),
        ]);
        let (replace, delete) = plan(&installed, &desired);
        assert_eq!(
            replace,
            table(&[
                ("10.42.2.0/24", "10.201.0.9"),
                ("10.42.4.0/24", "10.201.0.6")
            ])
        );
        assert_eq!(delete, vec!["10.42.3.0/24".parse::<Ipv4Net>().unwrap()]);
        assert_eq!(plan(&desired, &desired), (RouteTable::new(), Vec::new()));
    }
}
