//! The result of running one plugin at one extension point.
//!
//! Upstream's `framework.Status` (staging/src/k8s.io/kube-scheduler/framework/
//! interface.go) carries a code plus reasons; the codes that matter keep
//! "the pod does not fit here, but preemption might help" apart from
//! "nothing short of a cluster change helps" and from an internal error.

/// What a plugin concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The pod passes this plugin.
    Success,
    /// (PreFilter / PreScore only) this plugin has nothing to say about the
    /// pod; its Filter / Score for this cycle is skipped.
    Skip,
    /// The pod does not fit; evicting pods (preemption) might make it fit.
    Unschedulable(Vec<String>),
    /// The pod does not fit and preemption cannot help (e.g. a node selector).
    UnschedulableAndUnresolvable(Vec<String>),
    /// Something went wrong that is not about the pod's fit.
    Error(String),
}

impl Status {
    /// An `Unschedulable` status with one reason.
    pub fn unschedulable(reason: impl Into<String>) -> Self {
        Status::Unschedulable(vec![reason.into()])
    }

    /// An `UnschedulableAndUnresolvable` status with one reason.
    pub fn unresolvable(reason: impl Into<String>) -> Self {
        Status::UnschedulableAndUnresolvable(vec![reason.into()])
    }

    /// True for `Success`.
    pub fn is_success(&self) -> bool {
        matches!(self, Status::Success)
    }

    /// True for both unschedulable variants.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            Status::Unschedulable(_) | Status::UnschedulableAndUnresolvable(_)
        )
    }

    /// The reasons of a rejection (empty otherwise).
    pub fn reasons(&self) -> &[String] {
        match self {
            Status::Unschedulable(r) | Status::UnschedulableAndUnresolvable(r) => r,
            _ => &[],
        }
    }
}
