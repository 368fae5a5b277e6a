//! The built-in rows: every resource of Kubernetes v1.34 that rkube serves.
//!
//! Group, version, kind, plural and scope come from k8s-openapi's
//! `Resource` constants, so they are written once; the rest (short names,
//! categories, subresources, verbs) is upstream's discovery data
//! (`kubectl api-resources -o wide` of a v1.34 cluster).

use std::sync::Arc;

use k8s_openapi::api::{
    admissionregistration, apps, autoscaling, batch, certificates, coordination, core, discovery,
    events, networking, node, policy, rbac, scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope, Resource};

use super::{ResourceDef, Scope, Subresource, Verb};
use crate::kinds::{self, MetaStrategy};
use crate::status_split::{Generation, StatusOnCreate, StatusPolicy, StatusSplit};
use crate::strategy::Strategy;
use crate::table::printers;
use crate::table::{DefaultPrinter, Printer};
use crate::validation::NameRule;

use Subresource::{
    Approval, Attach, Binding, Eviction, Exec, Finalize, Log, PortForward, Proxy, Scale, Token,
};

/// Maps k8s-openapi's scope marker types to [`Scope`].
trait ScopeOf {
    const SCOPE: Scope;
}

impl ScopeOf for NamespaceResourceScope {
    const SCOPE: Scope = Scope::Namespaced;
}

impl ScopeOf for ClusterResourceScope {
    const SCOPE: Scope = Scope::Cluster;
}

/// A row under construction. Without a strategy of its own, a kind's
/// metadata is validated with DNS-1123 subdomain names.
struct Row {
    def: ResourceDef,
    status: Option<StatusPolicy>,
}

/// Starts the row of `K` with the facts k8s-openapi knows.
fn row<K>() -> Row
where
    K: Resource,
    K::Scope: ScopeOf,
{
    Row {
        def: ResourceDef {
            group: K::GROUP.to_owned(),
            version: K::VERSION.to_owned(),
            kind: K::KIND.to_owned(),
            plural: K::URL_PATH_SEGMENT.to_owned(),
            singular: K::KIND.to_ascii_lowercase(),
            scope: <K::Scope as ScopeOf>::SCOPE,
            short_names: Vec::new(),
            categories: Vec::new(),
            subresources: Vec::new(),
            verbs: Verb::ALL.to_vec(),
            strategy: Arc::new(MetaStrategy::new(
                <K::Scope as ScopeOf>::SCOPE,
                NameRule::Subdomain,
            )),
            printer: Arc::new(DefaultPrinter),
        },
        status: None,
    }
}

impl Row {
    fn short(mut self, names: &[&str]) -> Row {
        self.def.short_names = names.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// In the `all` category: what `kubectl get all` lists.
    fn in_all(self) -> Row {
        self.category("all")
    }

    fn category(mut self, name: &str) -> Row {
        self.def.categories.push(name.to_owned());
        self
    }

    /// Serves `/status` with the spec/status split of `policy`.
    fn status(mut self, policy: StatusPolicy) -> Row {
        self.status = Some(policy);
        self
    }

    /// Serves these subresources besides `/status`.
    fn subresources(mut self, subs: &[Subresource]) -> Row {
        self.def.subresources.extend_from_slice(subs);
        self
    }

    fn verbs(mut self, verbs: &[Verb]) -> Row {
        self.def.verbs = verbs.to_vec();
        self
    }

    fn strategy(mut self, strategy: impl Strategy + 'static) -> Row {
        self.def.strategy = Arc::new(strategy);
        self
    }

    /// Names follow `rule` instead of DNS-1123 subdomains (kinds without
    /// their own strategy).
    fn names(self, rule: NameRule) -> Row {
        let scope = self.def.scope;
        self.strategy(MetaStrategy::new(scope, rule))
    }

    fn printer(mut self, printer: impl Printer + 'static) -> Row {
        self.def.printer = Arc::new(printer);
        self
    }

    fn build(mut self) -> ResourceDef {
        if let Some(policy) = self.status {
            self.def.subresources.insert(0, Subresource::Status);
            self.def.strategy = Arc::new(StatusSplit::new(self.def.strategy, policy));
        }
        self.def
    }
}

/// Node status is written by the kubelet at registration.
const NODE_STATUS: StatusPolicy = StatusPolicy {
    generation: Generation::Untracked,
    on_create: StatusOnCreate::Kept,
};

const TRACKED: StatusPolicy = StatusPolicy::TRACKED;
const UNTRACKED: StatusPolicy = StatusPolicy::UNTRACKED;

/// Every built-in row, core first, then the named groups.
pub(super) fn rows() -> Vec<ResourceDef> {
    let rows = vec![
        // core/v1
        row::<core::v1::Namespace>()
            .short(&["ns"])
            .status(UNTRACKED)
            .subresources(&[Finalize])
            .verbs(&Verb::WITHOUT_COLLECTION_DELETE)
            .strategy(kinds::namespace::NamespaceStrategy)
            .printer(printers::NamespacePrinter),
        row::<core::v1::Pod>()
            .short(&["po"])
            .in_all()
            .status(TRACKED)
            .subresources(&[Binding, Eviction, Log, Exec, Attach, PortForward, Proxy])
            .strategy(kinds::pod::PodStrategy)
            .printer(printers::PodPrinter),
        row::<core::v1::Service>()
            .short(&["svc"])
            .in_all()
            .status(UNTRACKED)
            .subresources(&[Proxy])
            .verbs(&Verb::WITHOUT_COLLECTION_DELETE)
            .strategy(kinds::service::ServiceStrategy)
            .printer(printers::ServicePrinter),
        row::<core::v1::Endpoints>()
            .short(&["ep"])
            .printer(printers::EndpointsPrinter),
        row::<core::v1::ConfigMap>()
            .short(&["cm"])
            .strategy(kinds::configmap::ConfigMapStrategy)
            .printer(printers::ConfigMapPrinter),
        row::<core::v1::Secret>()
            .strategy(kinds::secret::SecretStrategy)
            .printer(printers::SecretPrinter),
        row::<core::v1::ServiceAccount>()
            .short(&["sa"])
            .subresources(&[Token])
            .printer(printers::ServiceAccountPrinter),
        row::<core::v1::Node>()
            .short(&["no"])
            .status(NODE_STATUS)
            .subresources(&[Proxy])
            .strategy(kinds::node::NodeStrategy)
            .printer(printers::NodePrinter),
        row::<core::v1::Event>()
            .short(&["ev"])
            .strategy(kinds::event::EventStrategy)
            .printer(printers::EventPrinter),
        row::<core::v1::LimitRange>().short(&["limits"]),
        row::<core::v1::ResourceQuota>()
            .short(&["quota"])
            .status(UNTRACKED)
            .printer(printers::ResourceQuotaPrinter),
        row::<core::v1::PersistentVolume>()
            .short(&["pv"])
            .status(UNTRACKED)
            .printer(printers::PersistentVolumePrinter),
        row::<core::v1::PersistentVolumeClaim>()
            .short(&["pvc"])
            .status(UNTRACKED)
            .printer(printers::PersistentVolumeClaimPrinter),
        row::<core::v1::PodTemplate>().printer(printers::PodTemplatePrinter),
        row::<core::v1::ReplicationController>()
            .short(&["rc"])
            .in_all()
            .status(TRACKED)
            .subresources(&[Scale])
            .strategy(kinds::replicationcontroller::ReplicationControllerStrategy)
            .printer(printers::ReplicationControllerPrinter),
        // apps/v1
        row::<apps::v1::Deployment>()
            .short(&["deploy"])
            .in_all()
            .status(TRACKED)
            .subresources(&[Scale])
            .strategy(kinds::deployment::DeploymentStrategy)
            .printer(printers::DeploymentPrinter),
        row::<apps::v1::ReplicaSet>()
            .short(&["rs"])
            .in_all()
            .status(TRACKED)
            .subresources(&[Scale])
            .strategy(kinds::replicaset::ReplicaSetStrategy)
            .printer(printers::ReplicaSetPrinter),
        row::<apps::v1::StatefulSet>()
            .short(&["sts"])
            .in_all()
            .status(TRACKED)
            .subresources(&[Scale])
            .strategy(kinds::statefulset::StatefulSetStrategy)
            .printer(printers::StatefulSetPrinter),
        row::<apps::v1::DaemonSet>()
            .short(&["ds"])
            .in_all()
            .status(TRACKED)
            .strategy(kinds::daemonset::DaemonSetStrategy)
            .printer(printers::DaemonSetPrinter),
        row::<apps::v1::ControllerRevision>().printer(printers::ControllerRevisionPrinter),
        // batch/v1
        row::<batch::v1::Job>()
            .in_all()
            .status(TRACKED)
            .strategy(kinds::job::JobStrategy)
            .printer(printers::JobPrinter),
        row::<batch::v1::CronJob>()
            .short(&["cj"])
            .in_all()
            .status(TRACKED)
            .strategy(kinds::cronjob::CronJobStrategy)
            .printer(printers::CronJobPrinter),
        // autoscaling
        row::<autoscaling::v2::HorizontalPodAutoscaler>()
            .short(&["hpa"])
            .in_all()
            .status(TRACKED)
            .printer(printers::HorizontalPodAutoscalerPrinter),
        row::<autoscaling::v1::HorizontalPodAutoscaler>()
            .short(&["hpa"])
            .in_all()
            .status(TRACKED)
            .printer(printers::HorizontalPodAutoscalerPrinter),
        // coordination.k8s.io/v1, discovery.k8s.io/v1, events.k8s.io/v1
        row::<coordination::v1::Lease>().printer(printers::LeasePrinter),
        row::<discovery::v1::EndpointSlice>().printer(printers::EndpointSlicePrinter),
        row::<events::v1::Event>()
            .short(&["ev"])
            .printer(printers::EventsV1Printer),
        // networking.k8s.io/v1
        row::<networking::v1::NetworkPolicy>()
            .short(&["netpol"])
            .printer(printers::NetworkPolicyPrinter),
        row::<networking::v1::Ingress>()
            .short(&["ing"])
            .status(TRACKED)
            .printer(printers::IngressPrinter),
        row::<networking::v1::IngressClass>().printer(printers::IngressClassPrinter),
        row::<networking::v1::IPAddress>()
            .short(&["ip"])
            .printer(printers::IPAddressPrinter),
        row::<networking::v1::ServiceCIDR>()
            .status(UNTRACKED)
            .printer(printers::ServiceCIDRPrinter),
        // policy/v1
        row::<policy::v1::PodDisruptionBudget>()
            .short(&["pdb"])
            .status(TRACKED)
            .printer(printers::PodDisruptionBudgetPrinter),
        // rbac.authorization.k8s.io/v1
        row::<rbac::v1::ClusterRole>().names(NameRule::PathSegment),
        row::<rbac::v1::ClusterRoleBinding>()
            .names(NameRule::PathSegment)
            .printer(printers::RoleBindingPrinter),
        row::<rbac::v1::Role>().names(NameRule::PathSegment),
        row::<rbac::v1::RoleBinding>()
            .names(NameRule::PathSegment)
            .printer(printers::RoleBindingPrinter),
        // storage.k8s.io/v1
        row::<storage::v1::StorageClass>()
            .short(&["sc"])
            .printer(printers::StorageClassPrinter),
        row::<storage::v1::CSIDriver>(),
        row::<storage::v1::CSINode>(),
        row::<storage::v1::VolumeAttachment>()
            .status(UNTRACKED)
            .printer(printers::VolumeAttachmentPrinter),
        row::<storage::v1::CSIStorageCapacity>().printer(printers::CSIStorageCapacityPrinter),
        row::<storage::v1::VolumeAttributesClass>().short(&["vac"]),
        // scheduling.k8s.io/v1, node.k8s.io/v1
        row::<scheduling::v1::PriorityClass>()
            .short(&["pc"])
            .printer(printers::PriorityClassPrinter),
        row::<node::v1::RuntimeClass>().printer(printers::RuntimeClassPrinter),
        // apiextensions.k8s.io/v1
        row::<apiextensions::v1::CustomResourceDefinition>()
            .short(&["crd", "crds"])
            .category("api-extensions")
            .status(TRACKED),
        // certificates.k8s.io/v1
        row::<certificates::v1::CertificateSigningRequest>()
            .short(&["csr"])
            .status(UNTRACKED)
            .subresources(&[Approval])
            .printer(printers::CertificateSigningRequestPrinter),
        // admissionregistration.k8s.io/v1
        row::<admissionregistration::v1::MutatingWebhookConfiguration>()
            .category("api-extensions")
            .printer(printers::WebhookConfigurationPrinter),
        row::<admissionregistration::v1::ValidatingWebhookConfiguration>()
            .category("api-extensions")
            .printer(printers::WebhookConfigurationPrinter),
        row::<admissionregistration::v1::ValidatingAdmissionPolicy>()
            .category("api-extensions")
            .status(TRACKED),
        row::<admissionregistration::v1::ValidatingAdmissionPolicyBinding>()
            .category("api-extensions"),
    ];
    rows.into_iter().map(Row::build).collect()
}

#[cfg(test)]
mod tests {
    use super::super::Catalog;
    use super::*;

    #[test]
    fn rows_take_their_identity_from_k8s_openapi() {
        let catalog = Catalog::builtin();
        let cases = [
            ("", "v1", "pods", "Pod", Scope::Namespaced),
            ("", "v1", "nodes", "Node", Scope::Cluster),
            ("apps", "v1", "deployments", "Deployment", Scope::Namespaced),
            (
                "networking.k8s.io",
                "v1",
                "ingressclasses",
                "IngressClass",
                Scope::Cluster,
            ),
            (
                "autoscaling",
                "v2",
                "horizontalpodautoscalers",
                "HorizontalPodAutoscaler",
                Scope::Namespaced,
            ),
            (
                "autoscaling",
                "v1",
                "horizontalpodautoscalers",
                "HorizontalPodAutoscaler",
                Scope::Namespaced,
            ),
            (
                "apiextensions.k8s.io",
                "v1",
                "customresourcedefinitions",
                "CustomResourceDefinition",
                Scope::Cluster,
            ),
            (
                "storage.k8s.io",
                "v1",
                "csistoragecapacities",
                "CSIStorageCapacity",
                Scope::Namespaced,
            ),
        ];
        for (group, version, plural, kind, scope) in cases {
            let def = catalog.get(group, version, plural);
            assert!(def.is_some(), "{group}/{version} {plural} missing");
            if let Some(def) = def {
                assert_eq!(def.kind, kind);
                assert_eq!(def.scope, scope, "{plural}");
                assert_eq!(def.singular, kind.to_ascii_lowercase());
            }
        }
    }

    #[test]
    fn every_row_is_unique_and_has_verbs() {
        let catalog = Catalog::builtin();
        let rows: Vec<_> = catalog.iter().collect();
        assert_eq!(rows.len(), super::rows().len());
        for r in &rows {
            assert!(r.verbs().contains(&Verb::Get), "{}", r.plural);
            let twins = rows
                .iter()
                .filter(|o| o.group == r.group && o.version == r.version && o.plural == r.plural)
                .count();
            assert_eq!(twins, 1, "{} appears twice", r.plural);
        }
    }

    #[test]
    fn the_all_category_is_upstreams() {
        let catalog = Catalog::builtin();
        let mut all: Vec<_> = catalog
            .iter()
            .filter(|r| r.categories.iter().any(|c| c == "all"))
            .map(|r| r.plural.as_str())
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            all,
            [
                "cronjobs",
                "daemonsets",
                "deployments",
                "horizontalpodautoscalers",
                "jobs",
                "pods",
                "replicasets",
                "replicationcontrollers",
                "services",
                "statefulsets"
            ]
        );
    }

    #[test]
    fn subresources_and_verbs_follow_upstream() {
        let catalog = Catalog::builtin();
        let subs = |g: &str, p: &str| -> Vec<&'static str> {
            catalog
                .get(g, "v1", p)
                .map(|r| r.subresources.iter().map(|s| s.path()).collect())
                .unwrap_or_default()
        };
        assert_eq!(
            subs("", "pods"),
            [
                "status",
                "binding",
                "eviction",
                "log",
                "exec",
                "attach",
                "portforward",
                "proxy"
            ]
        );
        assert_eq!(subs("", "nodes"), ["status", "proxy"]);
        assert_eq!(subs("", "services"), ["status", "proxy"]);
        assert_eq!(subs("", "namespaces"), ["status", "finalize"]);
        assert_eq!(subs("", "serviceaccounts"), ["token"]);
        assert_eq!(subs("apps", "deployments"), ["status", "scale"]);
        assert_eq!(subs("apps", "daemonsets"), ["status"]);
        assert_eq!(subs("", "replicationcontrollers"), ["status", "scale"]);
        assert_eq!(
            subs("certificates.k8s.io", "certificatesigningrequests"),
            ["status", "approval"]
        );
        assert_eq!(subs("", "configmaps"), Vec::<&str>::new());

        let deletes_collections = |g: &str, p: &str| {
            catalog
                .get(g, "v1", p)
                .is_some_and(|r| r.allows(Verb::DeleteCollection))
        };
        assert!(!deletes_collections("", "namespaces"));
        assert!(!deletes_collections("", "services"));
        assert!(deletes_collections("", "pods"));
        assert!(deletes_collections("apps", "deployments"));
    }

    #[test]
    fn rows_carry_their_kinds_behaviour() {
        let catalog = Catalog::builtin();
        let pods = catalog.get("", "v1", "pods");
        let columns: Vec<&str> = pods
            .map(|p| p.printer.columns().iter().map(|c| c.name).collect())
            .unwrap_or_default();
        assert_eq!(columns[..5], ["Name", "Ready", "Status", "Restarts", "Age"]);
        // A pod without containers fails its kind's validation, through
        // the status-split wrapper.
        let bad = serde_json::json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {}});
        let errs = pods
            .map(|p| p.strategy.validate_create(&bad))
            .unwrap_or_default();
        assert!(errs.0.iter().any(|e| e.field == "spec.containers"));
        // RBAC names only need to be path segments; other kinds'
        // metadata is still validated.
        let role = serde_json::json!({"metadata": {"name": "system:admin"}});
        let cr = catalog.get("rbac.authorization.k8s.io", "v1", "clusterroles");
        assert_eq!(
            cr.map(|r| r.strategy.validate_create(&role).is_empty()),
            Some(true)
        );
        let sc = catalog.get("storage.k8s.io", "v1", "storageclasses");
        assert_eq!(
            sc.map(|r| r.strategy.validate_create(&role).0.len()),
            Some(1)
        );
        // Kinds without a printer print NAME and CREATED AT.
        let lr = catalog.get("", "v1", "limitranges");
        assert_eq!(lr.map(|r| r.printer.columns().len()), Some(2));
    }

    /// Field names objects of every kind use, so random objects hit the
    /// strategies' and printers' real paths.
    const KEYS: [&str; 24] = [
        "metadata",
        "spec",
        "status",
        "name",
        "namespace",
        "labels",
        "template",
        "selector",
        "matchLabels",
        "matchExpressions",
        "containers",
        "initContainers",
        "ports",
        "port",
        "containerPort",
        "image",
        "replicas",
        "strategy",
        "rollingUpdate",
        "maxSurge",
        "conditions",
        "type",
        "data",
        "schedule",
    ];

    fn random_json(rng: &mut rand::rngs::StdRng, depth: u32) -> serde_json::Value {
        use rand::Rng;
        use serde_json::{json, Map, Value};
        match rng.random_range(0..if depth == 0 { 5 } else { 8 }) {
            0 => Value::Null,
            1 => json!(rng.random_bool(0.5)),
            2 => json!(rng.random_range(-70000i64..70000)),
            3 => json!(
                ["", "web", "Always", "-x", "a=b", "25%", "*/5 * * * *", "é"]
                    [rng.random_range(0..8)]
            ),
            4 => json!(KEYS[rng.random_range(0..KEYS.len())]),
            5 => Value::Array(
                (0..rng.random_range(0..3))
                    .map(|_| random_json(rng, depth - 1))
                    .collect(),
            ),
            _ => {
                let mut map = Map::new();
                for _ in 0..rng.random_range(0..5) {
                    let key = KEYS[rng.random_range(0..KEYS.len())];
                    map.insert(key.to_owned(), random_json(rng, depth - 1));
                }
                Value::Object(map)
            }
        }
    }

    #[test]
    fn property_no_row_panics_on_arbitrary_objects() {
        use rand::SeedableRng;
        let catalog = Catalog::builtin();
        let mut rng = rand::rngs::StdRng::seed_from_u64(0xdead_beef);
        let now = std::time::SystemTime::UNIX_EPOCH;
        for _ in 0..300 {
            let old = random_json(&mut rng, 4);
            let new = random_json(&mut rng, 4);
            for row in catalog.iter() {
                let s = &row.strategy;
                let mut created = old.clone();
                s.prepare_for_create(&mut created);
                s.default(&mut created);
                let _ = s.validate_create(&created);
                for scope in [
                    crate::strategy::WriteScope::Main,
                    crate::strategy::WriteScope::Status,
                ] {
                    let mut updated = new.clone();
                    s.prepare_for_update(scope, &mut updated, &created);
                    s.default(&mut updated);
                    let _ = s.validate_update(&updated, &created);
                }
                let _ = s.field_labels(&new);
                assert_eq!(
                    row.printer.cells(&new, now).len(),
                    row.printer.columns().len(),
                    "{}",
                    row.plural
                );
            }
        }
    }

    #[test]
    fn property_defaulting_before_or_after_prepare_gives_the_same_object() {
        use rand::SeedableRng;
        let catalog = Catalog::builtin();
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x0dd_5eed);
        for _ in 0..300 {
            let obj = random_json(&mut rng, 4);
            for row in catalog.iter() {
                let s = &row.strategy;
                let mut a = obj.clone();
                s.default(&mut a);
                s.prepare_for_create(&mut a);
                let mut b = obj.clone();
                s.prepare_for_create(&mut b);
                s.default(&mut b);
                assert_eq!(a, b, "{} from {obj}", row.plural);
            }
        }
    }

    #[test]
    fn short_names_resolve_to_one_row_per_group_version() {
        let catalog = Catalog::builtin();
        let cases = [
            ("po", "pods"),
            ("svc", "services"),
            ("deploy", "deployments"),
            ("cm", "configmaps"),
            ("ns", "namespaces"),
            ("sts", "statefulsets"),
            ("cj", "cronjobs"),
            ("pvc", "persistentvolumeclaims"),
            ("netpol", "networkpolicies"),
            ("crd", "customresourcedefinitions"),
        ];
        for (short, plural) in cases {
            let found: Vec<_> = catalog
                .iter()
                .filter(|r| r.short_names.iter().any(|s| s == short))
                .map(|r| r.plural.as_str())
                .collect();
            assert_eq!(found, [plural], "{short}");
        }
    }
}
