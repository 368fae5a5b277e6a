//! A pod's priority when admission has not set `spec.priority`.
//!
//! Upstream's Priority admission plugin (plugin/pkg/admission/priority)
//! copies the PriorityClass value into `spec.priority` at create time. Where
//! the apiserver has not done that, the scheduler resolves it the same way
//! from the PriorityClasses it watches, so preemption and queue order see the
//! priority the user asked for.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::scheduling::v1::PriorityClass;

use crate::informers::Mirror;

/// Built-in classes upstream's apiserver always knows
/// (pkg/apis/scheduling/types.go).
const SYSTEM_CLASSES: [(&str, i32); 2] = [
    ("system-node-critical", 2_000_001_000),
    ("system-cluster-critical", 2_000_000_000),
];

/// `pod` with `spec.priority` filled in from its class (or the global
/// default class) when it is unset; unchanged otherwise, and when the class
/// does not exist.
pub(crate) fn resolve(mut pod: Pod, classes: &Mirror<PriorityClass>) -> Pod {
    let Some(spec) = pod.spec.as_mut() else {
        return pod;
    };
    if spec.priority.is_some() {
        return pod;
    }
    spec.priority = match spec
        .priority_class_name
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        Some(name) => SYSTEM_CLASSES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .or_else(|| classes.get(name).map(|c| c.value)),
        // Upstream: the global default class with the lowest value, else 0.
        None => Some(
            classes
                .values()
                .filter(|c| c.global_default == Some(true))
                .map(|c| c.value)
                .min()
                .unwrap_or(0),
        ),
    };
    pod
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use kube::runtime::watcher::Event;

    fn class(name: &str, value: i32, global_default: bool) -> PriorityClass {
        PriorityClass {
            metadata: ObjectMeta {
                name: Some(name.into()),
                resource_version: Some("1".into()),
                ..Default::default()
            },
            value,
            global_default: Some(global_default),
            ..Default::default()
        }
    }

    fn pod(class: Option<&str>, priority: Option<i32>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                priority_class_name: class.map(str::to_string),
                priority,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn priority_comes_from_the_class_the_default_or_the_spec() {
        let mut classes = Mirror::default();
        for c in [class("high", 1000, false), class("low", 10, true)] {
            classes.apply(Event::Apply(c));
        }
        let cases = [
            (
                "a named class gives its value",
                pod(Some("high"), None),
                Some(1000),
            ),
            (
                "no class gives the global default",
                pod(None, None),
                Some(10),
            ),
            (
                "a set priority is kept",
                pod(Some("high"), Some(5)),
                Some(5),
            ),
            (
                "a system class is known without an object",
                pod(Some("system-node-critical"), None),
                Some(2_000_001_000),
            ),
            (
                "an unknown class stays unset",
                pod(Some("nope"), None),
                None,
            ),
        ];
        for (name, input, want) in cases {
            let got = resolve(input, &classes).spec.and_then(|s| s.priority);
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn without_a_global_default_the_priority_is_zero() {
        let classes = Mirror::default();
        let got = resolve(pod(None, None), &classes)
            .spec
            .and_then(|s| s.priority);
        assert_eq!(got, Some(0));
    }
}
