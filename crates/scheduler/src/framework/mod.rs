//! The scheduling framework: extension-point traits, statuses, per-cycle
//! state, node and pod infos, snapshots, profiles and the cycle itself.

pub mod cycle;
pub mod cycle_state;
pub mod events;
pub mod interface;
pub mod node_info;
pub mod pod_info;
pub mod profile;
pub mod snapshot;
pub mod status;

pub use cycle::{Algorithm, Diagnosis, FitError, ScheduleError, ScheduleResult, TieBreak};
pub use cycle_state::CycleState;
pub use events::ClusterEvent;
pub use interface::{
    default_normalize, Filter, NodeScore, NormalizeScore, Plugin, PreFilter, PreScore, Score,
    ScoreOrder, MAX_NODE_SCORE,
};
pub use node_info::NodeInfo;
pub use pod_info::{pod_key, AffinityTerm, HostPort, PodInfo, PodKey, WeightedAffinityTerm};
pub use profile::{ExtensionPoint, Profile, DEFAULT_SCHEDULER_NAME};
pub use snapshot::Snapshot;
pub use status::Status;
