//! What the Job controller reads from its pods and how it makes new ones
//! (upstream `pkg/controller/job/job_controller.go`): a pod is active,
//! succeeded or failed; a pod being deleted before it succeeded counts as
//! failed (it may never reach a phase); each pod carries the
//! `batch.kubernetes.io/job-tracking` finalizer until the Job has counted it.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;

use super::indexes::{COMPLETION_INDEX_ANNOTATION, COMPLETION_INDEX_ENV};

/// The finalizer that keeps a finished pod until the Job has counted it.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";

/// Where a pod stands for its Job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodState {
    /// Running or waiting to run.
    Active,
    /// Finished successfully.
    Succeeded,
    /// Failed, or deleted before it succeeded.
    Failed,
}

/// The pod's state (upstream `isPodFailed` counts deleted unfinished pods
/// as failures so orphans that never reach a phase are not lost).
pub fn state(pod: &Pod) -> PodState {
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Succeeded") => PodState::Succeeded,
        Some("Failed") => PodState::Failed,
        _ if pod.metadata.deletion_timestamp.is_some() => PodState::Failed,
        _ => PodState::Active,
    }
}

/// Whether the pod still carries the tracking finalizer.
pub fn is_tracked(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|x| x == TRACKING_FINALIZER))
}

/// Whether the pod is being deleted without having finished.
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
        && !matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded") | Some("Failed")
        )
}

/// The pod's completion index, if it has a valid one.
pub fn completion_index(pod: &Pod) -> Option<i32> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(COMPLETION_INDEX_ANNOTATION)?
        .parse::<i32>()
        .ok()
        .filter(|i| *i >= 0)
}

/// Whether the pod's Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    crate::endpointslice::pods::is_pod_ready(pod)
}

/// When the pod finished: its containers' latest termination, else its
/// deletion time, else its creation.
pub fn finish_time(pod: &Pod) -> Option<Timestamp> {
    let terminated = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max();
    terminated
        .or_else(|| pod.metadata.deletion_timestamp.as_ref().map(|t| t.0))
        .or_else(|| pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// The Job as its pods' controlling owner.
pub fn job_owner(job: &Job) -> OwnerReference {
    OwnerReference {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        name: job.metadata.name.clone().unwrap_or_default(),
        uid: job.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// A new pod from the Job's template, for `index` in Indexed mode: named
/// `<job>-<index>-<random>`, annotated and labelled with its index, which
/// containers also get as `JOB_COMPLETION_INDEX`; its hostname is
/// `<job>-<index>` when the template names a subdomain.
pub fn new_pod(job: &Job, index: Option<i32>) -> Pod {
    let job_name = job.metadata.name.clone().unwrap_or_default();
    let template = job
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let template_meta = template.metadata.unwrap_or_default();
    let mut labels: BTreeMap<String, String> = template_meta.labels.unwrap_or_default();
    let mut annotations: BTreeMap<String, String> = template_meta.annotations.unwrap_or_default();
    let mut spec = template.spec.unwrap_or_default();
    let generate_name = match index {
        Some(i) => {
            labels.insert(COMPLETION_INDEX_ANNOTATION.into(), i.to_string());
            annotations.insert(COMPLETION_INDEX_ANNOTATION.into(), i.to_string());
            let env = EnvVar {
                name: COMPLETION_INDEX_ENV.into(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        api_version: None,
                        field_path: format!(
                            "metadata.annotations['{COMPLETION_INDEX_ANNOTATION}']"
                        ),
                    }),
                    ..Default::default()
                }),
            };
            let containers = spec
                .containers
                .iter_mut()
                .chain(spec.init_containers.iter_mut().flatten());
            for container in containers {
                let vars = container.env.get_or_insert_with(Vec::new);
                if !vars.iter().any(|v| v.name == COMPLETION_INDEX_ENV) {
                    vars.push(env.clone());
                }
            }
            if spec.subdomain.as_deref().is_some_and(|s| !s.is_empty()) {
                spec.hostname = Some(format!("{job_name}-{i}"));
            }
            format!("{job_name}-{i}-")
        }
        None => format!("{job_name}-"),
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: job.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            finalizers: Some(vec![TRACKING_FINALIZER.into()]),
            owner_references: Some(vec![job_owner(job)]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::JobSpec;
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodStatus, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    /// A Job `pi` with uid `job-uid` and one container.
    pub(crate) fn job() -> Job {
        Job {
            metadata: ObjectMeta {
                name: Some("pi".into()),
                namespace: Some("default".into()),
                uid: Some("job-uid".into()),
                ..Default::default()
            },
            spec: Some(JobSpec {
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some([("job-name".to_string(), "pi".to_string())].into()),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "pi".into(),
                            ..Default::default()
                        }],
                        restart_policy: Some("Never".into()),
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            status: None,
        }
    }

    /// A tracked pod of the Job in the given phase.
    pub(crate) fn pod(name: &str, phase: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                finalizers: Some(vec![TRACKING_FINALIZER.into()]),
                creation_timestamp: Some(Time(Timestamp::UNIX_EPOCH)),
                ..Default::default()
            },
            spec: None,
            status: Some(PodStatus {
                phase: Some(phase.into()),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn pods_are_active_succeeded_or_failed() {
        let mut deleted = pod("d", "Running");
        deleted.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let mut deleted_done = pod("e", "Succeeded");
        deleted_done.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let cases = [
            (
                "a pending pod",
                pod("a", "Pending"),
                PodState::Active,
                false,
            ),
            (
                "a succeeded pod",
                pod("b", "Succeeded"),
                PodState::Succeeded,
                false,
            ),
            ("a failed pod", pod("c", "Failed"), PodState::Failed, false),
            ("a deleted running pod", deleted, PodState::Failed, true),
            (
                "a deleted succeeded pod",
                deleted_done,
                PodState::Succeeded,
                false,
            ),
        ];
        for (name, p, want, terminating) in cases {
            assert_eq!(state(&p), want, "{name}");
            assert_eq!(is_terminating(&p), terminating, "{name}");
        }
    }

    #[test]
    fn new_pods_are_owned_tracked_and_indexed() {
        let j = job();
        let plain = new_pod(&j, None);
        assert_eq!(plain.metadata.generate_name.as_deref(), Some("pi-"));
        assert!(is_tracked(&plain));
        assert_eq!(
            plain
                .metadata
                .owner_references
                .as_ref()
                .map(|o| o[0].uid.as_str()),
            Some("job-uid")
        );
        assert_eq!(completion_index(&plain), None);

        let indexed = new_pod(&j, Some(2));
        assert_eq!(indexed.metadata.generate_name.as_deref(), Some("pi-2-"));
        assert_eq!(completion_index(&indexed), Some(2));
        let env = indexed
            .spec
            .as_ref()
            .and_then(|s| s.containers[0].env.clone())
            .unwrap_or_default();
        assert_eq!(
            env.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            vec![COMPLETION_INDEX_ENV]
        );
        assert_eq!(
            indexed
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("job-name"))
                .map(String::as_str),
            Some("pi")
        );
    }
}
