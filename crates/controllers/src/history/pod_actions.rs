//! Creating and deleting the pods of a revisioned workload (DaemonSet, StatefulSet), with
//! the events upstream records (`SuccessfulCreate`, `SuccessfulDelete` and their failures).

use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Resource, ResourceExt};

use crate::framework::EventRecorder;
use crate::replicaset::{FAILED_CREATE, FAILED_DELETE, SUCCESSFUL_CREATE, SUCCESSFUL_DELETE};

/// Creates `pod` for `owner`; an already existing namesake counts as created (a previous
/// sync made it and the cache has not caught up).
pub async fn create<O: Resource<DynamicType = ()>>(
    api: &Api<Pod>,
    recorder: &EventRecorder,
    owner: &O,
    pod: &Pod,
) -> Result<Option<Pod>, kube::Error> {
    match api.create(&PostParams::default(), pod).await {
        Ok(created) => {
            recorder.normal(
                owner,
                SUCCESSFUL_CREATE,
                format!("Created pod: {}", created.name_any()),
            );
            Ok(Some(created))
        }
        Err(kube::Error::Api(status)) if status.code == 409 && pod.metadata.name.is_some() => {
            Ok(None)
        }
        Err(error) => {
            recorder.warning(owner, FAILED_CREATE, format!("Error creating: {error}"));
            Err(error)
        }
    }
}

/// Deletes `pod` of `owner`; an already deleted one is fine.
pub async fn delete<O: Resource<DynamicType = ()>>(
    api: &Api<Pod>,
    recorder: &EventRecorder,
    owner: &O,
    pod: &Pod,
) -> Result<(), kube::Error> {
    match api.delete(&pod.name_any(), &DeleteParams::default()).await {
        Ok(_) => {
            recorder.normal(
                owner,
                SUCCESSFUL_DELETE,
                format!("Deleted pod: {}", pod.name_any()),
            );
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => {
            recorder.warning(owner, FAILED_DELETE, format!("Error deleting: {error}"));
            Err(error)
        }
    }
}
