//! A handle to make single simulated nodes go silent and come back, as a
//! kubelet that dies and restarts would (node lifecycle tests).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// Stops and resumes the heartbeats of given nodes. Cheap to clone.
///
/// A stopped node renews neither its Lease nor its status, and reports
/// nothing about its pods (new pods stay Pending, exits are not reported)
/// until it is resumed; then it reports its current status, renews its
/// Lease and reports its pods at once.
#[derive(Debug, Clone)]
pub struct NodeControl {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    names: Vec<String>,
    index: HashMap<String, usize>,
    active: Vec<AtomicBool>,
    /// Told the index of each resumed node: the heartbeat loop and the pod
    /// simulator.
    resumed: Vec<mpsc::UnboundedSender<usize>>,
}

impl NodeControl {
    /// Control over `names`, all active; each receiver hears of resumes.
    pub(crate) fn new(
        names: Vec<String>,
        listeners: usize,
    ) -> (Self, Vec<mpsc::UnboundedReceiver<usize>>) {
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let active = names.iter().map(|_| AtomicBool::new(true)).collect();
        let (senders, receivers) = (0..listeners).map(|_| mpsc::unbounded_channel()).unzip();
        let control = NodeControl {
            inner: Arc::new(Inner {
                names,
                index,
                active,
                resumed: senders,
            }),
        };
        (control, receivers)
    }

    /// The names of the simulated nodes.
    pub fn node_names(&self) -> &[String] {
        &self.inner.names
    }

    /// The index of node `name`, if it is ours.
    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        self.inner.index.get(name).copied()
    }

    /// Whether node `index` is heartbeating.
    pub(crate) fn is_active(&self, index: usize) -> bool {
        self.inner
            .active
            .get(index)
            .is_some_and(|a| a.load(Ordering::Acquire))
    }

    /// Node `name` stops renewing its Lease and reporting status.
    pub fn stop_heartbeats(&self, name: &str) -> Result<()> {
        self.flag(name)?.store(false, Ordering::Release);
        Ok(())
    }

    /// Node `name` reports again, at once.
    pub fn resume_heartbeats(&self, name: &str) -> Result<()> {
        let was_active = self.flag(name)?.swap(true, Ordering::AcqRel);
        if !was_active {
            if let Some(index) = self.index_of(name) {
                for listener in &self.inner.resumed {
                    // A listener that stopped has nothing left to resume.
                    let _ = listener.send(index);
                }
            }
        }
        Ok(())
    }

    fn flag(&self, name: &str) -> Result<&AtomicBool> {
        self.index_of(name)
            .and_then(|i| self.inner.active.get(i))
            .ok_or_else(|| Error::UnknownNode(name.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn resuming_a_stopped_node_tells_every_listener_once() {
        let (control, mut listeners) = NodeControl::new(vec!["a".into(), "b".into()], 2);
        control.stop_heartbeats("b").unwrap();
        assert!(control.is_active(0) && !control.is_active(1));
        control.resume_heartbeats("b").unwrap();
        control.resume_heartbeats("b").unwrap();
        control.resume_heartbeats("a").unwrap();
        for rx in &mut listeners {
            assert_eq!(rx.try_recv().ok(), Some(1));
            assert!(
                rx.try_recv().is_err(),
                "an active node is not resumed again"
            );
        }
        assert!(control.is_active(1));
    }

    #[test]
    fn unknown_nodes_are_errors() {
        let (control, _) = NodeControl::new(vec!["a".into()], 0);
        assert!(matches!(control.stop_heartbeats("z"), Err(Error::UnknownNode(n)) if n == "z"));
    }
}
