//! The spec/status split of every kind with a `status` subresource, as one
//! wrapper around the kind's own strategy (upstream writes a
//! `xxxStatusStrategy` per kind; the rule is the same for all of them).
//!
//! - A write to the main resource keeps the stored `status`
//!   (`deploymentStrategy.PrepareForUpdate`: `newDeployment.Status = oldDeployment.Status`).
//! - A write to `/status` keeps everything stored except `status` and
//!   `metadata` (`deploymentStatusStrategy.PrepareForUpdate`:
//!   `newDeployment.Spec = oldDeployment.Spec`).
//! - Kinds that track `metadata.generation` start at 1 and bump it when
//!   anything outside `metadata` and `status` changes.

use std::sync::Arc;

use serde_json::Value;

use crate::field_error::FieldErrors;
use crate::meta::{generation, set_generation};
use crate::strategy::{Strategy, WriteScope};

/// Whether a kind counts spec changes in `metadata.generation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// Workloads, pods, CRDs…: controllers compare it with
    /// `status.observedGeneration`.
    Tracked,
    /// Services, nodes, namespaces…: no generation.
    Untracked,
}

/// What happens to a client-supplied `status` on create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOnCreate {
    /// Dropped, like almost every upstream strategy.
    Cleared,
    /// Kept: nodes are created by the kubelet with their status
    /// (`nodeStrategy.PrepareForCreate` leaves it).
    Kept,
}

/// How a kind with a status subresource splits spec from status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusPolicy {
    /// Generation tracking.
    pub generation: Generation,
    /// Status handling on create.
    pub on_create: StatusOnCreate,
}

impl StatusPolicy {
    /// Generation tracked, status cleared on create (workloads).
    pub const TRACKED: StatusPolicy = StatusPolicy {
        generation: Generation::Tracked,
        on_create: StatusOnCreate::Cleared,
    };
    /// No generation, status cleared on create (services, namespaces…).
    pub const UNTRACKED: StatusPolicy = StatusPolicy {
        generation: Generation::Untracked,
        on_create: StatusOnCreate::Cleared,
    };
}

/// A kind's strategy plus the spec/status split.
pub struct StatusSplit {
    inner: Arc<dyn Strategy>,
    policy: StatusPolicy,
}

impl StatusSplit {
    /// Wraps `inner` with `policy`.
    pub fn new(inner: Arc<dyn Strategy>, policy: StatusPolicy) -> StatusSplit {
        StatusSplit { inner, policy }
    }
}

/// Top-level fields that are neither the object's identity nor its status:
/// the "spec" in the generic sense (also `data`, `rules`, `webhooks`…).
fn is_spec_field(key: &str) -> bool {
    !matches!(key, "metadata" | "status" | "apiVersion" | "kind")
}

fn spec_part(obj: &Value) -> Vec<(&String, &Value)> {
    match obj.as_object() {
        Some(map) => map.iter().filter(|(k, _)| is_spec_field(k)).collect(),
        None => Vec::new(),
    }
}

fn spec_changed(new: &Value, old: &Value) -> bool {
    let mut a = spec_part(new);
    let mut b = spec_part(old);
    a.sort_by_key(|(k, _)| *k);
    b.sort_by_key(|(k, _)| *k);
    a != b
}

/// Replaces `to[key]` with `from[key]`, or removes it when `from` has none.
fn carry(to: &mut Value, from: &Value, key: &str) {
    let Some(to) = to.as_object_mut() else {
        return;
    };
    match from.get(key) {
        Some(v) => {
            to.insert(key.to_owned(), v.clone());
        }
        None => {
            to.remove(key);
        }
    }
}

impl Strategy for StatusSplit {
    fn prepare_for_create(&self, obj: &mut Value) {
        if self.policy.on_create == StatusOnCreate::Cleared {
            if let Some(map) = obj.as_object_mut() {
                map.remove("status");
            }
        }
        if self.policy.generation == Generation::Tracked {
            set_generation(obj, 1);
        }
        self.inner.prepare_for_create(obj);
    }

    fn prepare_for_update(&self, scope: WriteScope, new: &mut Value, old: &Value) {
        match scope {
            WriteScope::Main => carry(new, old, "status"),
            WriteScope::Status => {
                let spec_keys: Vec<String> = new
                    .as_object()
                    .into_iter()
                    .chain(old.as_object())
                    .flat_map(|m| m.keys())
                    .filter(|k| is_spec_field(k))
                    .cloned()
                    .collect();
                for key in spec_keys {
                    carry(new, old, &key);
                }
            }
        }
        self.inner.prepare_for_update(scope, new, old);
        if self.policy.generation == Generation::Tracked {
            let old_generation = generation(old).unwrap_or(1);
            let bumped = scope == WriteScope::Main && spec_changed(new, old);
            set_generation(new, old_generation + i64::from(bumped));
        }
    }

    fn default(&self, obj: &mut Value) {
        self.inner.default(obj);
    }

    fn validate_create(&self, obj: &Value) -> FieldErrors {
        self.inner.validate_create(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        self.inner.validate_update(new, old)
    }

    fn field_labels(&self, obj: &Value) -> Vec<(&'static str, String)> {
        self.inner.field_labels(obj)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::strategy::DefaultStrategy;

    fn split(policy: StatusPolicy) -> StatusSplit {
        StatusSplit::new(Arc::new(DefaultStrategy), policy)
    }

    fn stored() -> Value {
        json!({
            "metadata": {"name": "web", "generation": 3},
            "spec": {"replicas": 1},
            "status": {"replicas": 1}
        })
    }

    #[test]
    fn create_clears_status_and_starts_generation_at_one() {
        let mut obj =
            json!({"metadata": {"name": "web", "generation": 9}, "spec": {}, "status": {"x": 1}});
        split(StatusPolicy::TRACKED).prepare_for_create(&mut obj);
        assert_eq!(
            obj,
            json!({"metadata": {"name": "web", "generation": 1}, "spec": {}})
        );
    }

    #[test]
    fn create_keeps_status_when_the_kind_says_so() {
        let policy = StatusPolicy {
            generation: Generation::Untracked,
            on_create: StatusOnCreate::Kept,
        };
        let mut obj = json!({"metadata": {"name": "n1"}, "status": {"capacity": {}}});
        split(policy).prepare_for_create(&mut obj);
        assert_eq!(obj["status"], json!({"capacity": {}}));
        assert!(obj["metadata"].get("generation").is_none());
    }

    #[test]
    fn update_cases() {
        struct Case {
            name: &'static str,
            scope: WriteScope,
            new: Value,
            want: Value,
        }
        let cases = [
            Case {
                name: "a main write with a new spec keeps stored status and bumps generation",
                scope: WriteScope::Main,
                new: json!({"metadata": {"name": "web", "generation": 3}, "spec": {"replicas": 2}, "status": {"replicas": 7}}),
                want: json!({"metadata": {"name": "web", "generation": 4}, "spec": {"replicas": 2}, "status": {"replicas": 1}}),
            },
            Case {
                name: "a main write without a spec change keeps the generation",
                scope: WriteScope::Main,
                new: json!({"metadata": {"name": "web", "generation": 3, "labels": {"a": "b"}}, "spec": {"replicas": 1}}),
                want: json!({"metadata": {"name": "web", "generation": 3, "labels": {"a": "b"}}, "spec": {"replicas": 1}, "status": {"replicas": 1}}),
            },
            Case {
                name: "a status write keeps the stored spec and the generation",
                scope: WriteScope::Status,
                new: json!({"metadata": {"name": "web", "generation": 3}, "spec": {"replicas": 5}, "status": {"replicas": 2}}),
                want: json!({"metadata": {"name": "web", "generation": 3}, "spec": {"replicas": 1}, "status": {"replicas": 2}}),
            },
            Case {
                name: "a status write cannot add spec-like top-level fields",
                scope: WriteScope::Status,
                new: json!({"metadata": {"name": "web", "generation": 3}, "spec": {"replicas": 1}, "extra": 1, "status": {}}),
                want: json!({"metadata": {"name": "web", "generation": 3}, "spec": {"replicas": 1}, "status": {}}),
            },
        ];
        for case in cases {
            let mut new = case.new;
            split(StatusPolicy::TRACKED).prepare_for_update(case.scope, &mut new, &stored());
            assert_eq!(new, case.want, "{}", case.name);
        }
    }

    #[test]
    fn untracked_kinds_never_get_a_generation() {
        let mut new = json!({"metadata": {"name": "svc"}, "spec": {"type": "NodePort"}});
        let old = json!({"metadata": {"name": "svc"}, "spec": {"type": "ClusterIP"}});
        split(StatusPolicy::UNTRACKED).prepare_for_update(WriteScope::Main, &mut new, &old);
        assert!(new["metadata"].get("generation").is_none());
    }
}
