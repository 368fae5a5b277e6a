//! `/metrics`: a few kubelet gauges in the Prometheus text format, counted
//! from the runtime (upstream `kubelet_running_pods`,
//! `kubelet_running_containers`).

use http::Response;
use k8s_cri::v1 as cri;

use super::response::{text, Body, Failure};
use crate::runtime::cri::Cri;

/// Answers a scrape.
pub async fn serve(cri: &Cri) -> Response<Body> {
    let sandboxes = cri.list_pod_sandboxes(Default::default()).await;
    let containers = cri.list_containers(Default::default()).await;
    match (sandboxes, containers) {
        (Ok(sandboxes), Ok(containers)) => {
            let ready = sandboxes
                .iter()
                .filter(|s| s.state == cri::PodSandboxState::SandboxReady as i32)
                .count();
            let count = |state: cri::ContainerState| {
                containers
                    .iter()
                    .filter(|c| c.state == state as i32)
                    .count()
            };
            text(render(
                ready,
                &[
                    ("created", count(cri::ContainerState::ContainerCreated)),
                    ("running", count(cri::ContainerState::ContainerRunning)),
                    ("exited", count(cri::ContainerState::ContainerExited)),
                ],
            ))
        }
        (Err(e), _) | (_, Err(e)) => Failure::internal(e).into_response(),
    }
}

fn render(running_pods: usize, containers: &[(&str, usize)]) -> String {
    let mut out = String::from(
        "# HELP kubelet_running_pods Number of pods that have a running pod sandbox\n\
         # TYPE kubelet_running_pods gauge\n",
    );
    out.push_str(&format!("kubelet_running_pods {running_pods}\n"));
    out.push_str(
        "# HELP kubelet_running_containers Number of containers currently running\n\
         # TYPE kubelet_running_containers gauge\n",
    );
    for (state, count) in containers {
        out.push_str(&format!(
            "kubelet_running_containers{{container_state=\"{state}\"}} {count}\n"
        ));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn gauges_are_prometheus_text() {
        let text = render(2, &[("running", 3), ("exited", 1)]);
        assert!(text.contains("kubelet_running_pods 2\n"));
        assert!(text.contains("kubelet_running_containers{container_state=\"running\"} 3\n"));
        assert!(text.contains("kubelet_running_containers{container_state=\"exited\"} 1\n"));
    }
}
