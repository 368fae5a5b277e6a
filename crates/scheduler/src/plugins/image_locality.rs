//! ImageLocality: prefer nodes that already hold the pod's images, weighting
//! each image by its size and by how widely it is spread across nodes (so a
//! pod does not pile onto the one node that has a rare image) (upstream
//! plugins/imagelocality).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::framework::node_info::normalized_image_name;
use crate::framework::{
    ClusterEvent, CycleState, NodeInfo, Plugin, PodInfo, PreScore, Score, Snapshot, Status,
    MAX_NODE_SCORE,
};

/// The plugin's configuration name.
pub const NAME: &str = "ImageLocality";

const MB: i64 = 1024 * 1024;
/// Below this the score is 0: small images are cheap to pull anyway.
const MIN_THRESHOLD: i64 = 23 * MB;
/// Per container, above this the score is full.
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// PreScore state: each of the pod's images (one entry per container using
/// it) with the fraction of nodes holding it.
#[derive(Debug)]
struct PreScoreState {
    images: Vec<(String, f64)>,
    containers: i64,
}

/// The ImageLocality plugin.
#[derive(Debug, Default)]
pub struct ImageLocality;

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
    fn events_to_register(&self) -> &'static [ClusterEvent] {
        &[]
    }
}

impl PreScore for ImageLocality {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        _: &[Arc<NodeInfo>],
    ) -> Status {
        let Some(spec) = pod.pod.spec.as_ref() else {
            return Status::Skip;
        };
        let total = snapshot.nodes().len().max(1) as f64;
        let mut spread_cache: BTreeMap<String, f64> = BTreeMap::new();
        let containers: Vec<_> = spec
            .init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
            .collect();
        let images = containers
            .iter()
            .filter_map(|c| c.image.as_deref())
            .map(|image| {
                let name = normalized_image_name(image);
                let spread = *spread_cache
                    .entry(name.clone())
                    .or_insert_with(|| snapshot.nodes_with_image(&name) as f64 / total);
                (name, spread)
            })
            .collect();
        state.write(PreScoreState {
            images,
            containers: containers.len() as i64,
        });
        Status::Success
    }
}

impl Score for ImageLocality {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, String> {
        let Some(s) = state.read::<PreScoreState>() else {
            return Ok(0);
        };
        let sum: i64 = s
            .images
            .iter()
            .filter_map(|(name, spread)| {
                node.image_size(name)
                    .map(|size| (size as f64 * spread) as i64)
            })
            .sum();
        let max_threshold = MAX_CONTAINER_THRESHOLD.saturating_mul(s.containers.max(1));
        let clamped = sum.clamp(MIN_THRESHOLD, max_threshold);
        Ok(MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod, score_all, snapshot};

    #[test]
    fn nodes_holding_big_widespread_images_score_higher() {
        let big = 500 * MB;
        let cases = [
            (
                "an image on every node scores by size",
                vec![
                    node("a").image("app:v1", big).build(),
                    node("b").image("app:v1", big).build(),
                ],
                pod("p").image("app:v1").info(),
                // (500 - 23) * 100 / (1000 - 23)
                vec![48, 48],
            ),
            (
                "an image on half the nodes counts half",
                vec![node("a").image("app:v1", big).build(), node("b").build()],
                pod("p").image("app:v1").info(),
                vec![23, 0],
            ),
            (
                "untagged names mean latest",
                vec![node("a").image("app:latest", big).build()],
                pod("p").image("app").info(),
                vec![48],
            ),
            (
                "small images score nothing",
                vec![node("a").image("tiny:1", 10 * MB).build()],
                pod("p").image("tiny:1").info(),
                vec![0],
            ),
        ];
        for (name, nodes, p, want) in cases {
            assert_eq!(
                score_all(&ImageLocality, &p, &snapshot(nodes, vec![])),
                want,
                "{name}"
            );
        }
    }
}
