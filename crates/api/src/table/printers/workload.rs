//! The layout every pod-controller printer shares (`printDeployment`,
//! `printReplicaSet`, `printJob`, … in pkg/printers/internalversion):
//! NAME, the kind's status columns, AGE, then wide CONTAINERS, IMAGES and,
//! for most kinds, SELECTOR. A kind supplies only its status columns and
//! cells and how its selector prints.

use std::time::SystemTime;

use serde_json::Value;

use super::{container_cells, count, format_label_selector, selector_string};
use crate::json_path::{count_at, format_labels, get};
use crate::table::{age_cell, name_cell, Column, Printer};

/// The wide `Containers` and `Images` columns of workloads.
const CONTAINER_COLUMNS: [Column; 2] = [
    Column::string("Containers", "Names of each container in the template.").wide(),
    Column::string(
        "Images",
        "Images referenced by each container in the template.",
    )
    .wide(),
];

/// The wide `Selector` column of workloads.
const SELECTOR_COLUMN: Column =
    Column::string("Selector", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.").wide();

/// The `Ready` column of Deployments and StatefulSets.
pub(super) const READY_OVER_DESIRED_COLUMN: Column =
    Column::string("Ready", "Number of the pod with ready state");

/// How a workload prints its wide `Selector` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WideSelector {
    /// A `metav1.LabelSelector`: `<none>` when empty, `<error>` when
    /// invalid (`metav1.FormatLabelSelector`).
    LabelSelector,
    /// Deployments: the selector string, `<invalid>` when it does not
    /// parse (`metav1.LabelSelectorAsSelector`).
    LabelSelectorOrInvalid,
    /// A ReplicationController's plain label map (`labels.FormatLabels`).
    LabelMap,
    /// No selector column (StatefulSets).
    Omitted,
}

/// A pod controller's table: the kind supplies its status columns and
/// cells and how its selector prints; the layout around them comes from
/// the [`Printer`] impl below.
pub trait WorkloadPrinter: Send + Sync {
    /// How the wide `Selector` column prints.
    const SELECTOR: WideSelector;

    /// The columns between NAME and AGE.
    fn status_columns(&self) -> Vec<Column>;

    /// The cells of [`WorkloadPrinter::status_columns`].
    fn status_cells(&self, obj: &Value, now: SystemTime) -> Vec<Value>;

    /// The controller spec holding the pod template and selector.
    fn controller_spec<'a>(&self, obj: &'a Value) -> &'a Value {
        spec_of(obj)
    }
}

impl<T: WorkloadPrinter> Printer for T {
    fn columns(&self) -> Vec<Column> {
        workload_columns(self.status_columns(), T::SELECTOR)
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        workload_cells(
            obj,
            self.controller_spec(obj),
            now,
            self.status_cells(obj, now),
            T::SELECTOR,
        )
    }
}

/// NAME, `status`, AGE, wide CONTAINERS IMAGES and the selector column.
fn workload_columns(status: Vec<Column>, selector: WideSelector) -> Vec<Column> {
    let mut cols = vec![Column::name()];
    cols.extend(status);
    cols.push(Column::age());
    cols.extend(CONTAINER_COLUMNS);
    if selector != WideSelector::Omitted {
        cols.push(SELECTOR_COLUMN);
    }
    cols
}

/// The cells matching [`workload_columns`]: the pod template and selector
/// are read from `spec`, the controller spec (`spec`, or a CronJob's
/// `spec.jobTemplate.spec`).
fn workload_cells(
    obj: &Value,
    spec: &Value,
    now: SystemTime,
    status: Vec<Value>,
    selector: WideSelector,
) -> Vec<Value> {
    let [names, images] = container_cells(get(spec, &["template", "spec"]).unwrap_or(&Value::Null));
    let mut cells = vec![name_cell(obj)];
    cells.extend(status);
    cells.extend([age_cell(obj, now), names, images]);
    let sel = get(spec, &["selector"]);
    match selector {
        WideSelector::LabelSelector => cells.push(Value::from(format_label_selector(sel))),
        WideSelector::LabelSelectorOrInvalid => cells.push(Value::from(
            selector_string(sel).unwrap_or_else(|| "<invalid>".to_owned()),
        )),
        WideSelector::LabelMap => cells.push(Value::from(format_labels(sel))),
        WideSelector::Omitted => {}
    }
    cells
}

/// The object's `spec`, or null.
fn spec_of(obj: &Value) -> &Value {
    get(obj, &["spec"]).unwrap_or(&Value::Null)
}

/// DESIRED CURRENT READY of ReplicaSets and ReplicationControllers;
/// `ready` describes the Ready column for the kind.
pub(super) fn replica_columns(ready: &'static str) -> Vec<Column> {
    vec![
        Column::integer("Desired", "Replicas is the number of desired replicas."),
        Column::integer(
            "Current",
            "Replicas is the most recently observed number of replicas.",
        ),
        Column::integer("Ready", ready),
    ]
}

/// The cells of [`replica_columns`].
pub(super) fn replica_cells(obj: &Value) -> Vec<Value> {
    vec![
        count(obj, &["spec", "replicas"]),
        count(obj, &["status", "replicas"]),
        count(obj, &["status", "readyReplicas"]),
    ]
}

/// `ready/desired` (`2/3`) of Deployments and StatefulSets.
pub(super) fn ready_over_desired(obj: &Value) -> Value {
    Value::from(format!(
        "{}/{}",
        count_at(obj, &["status", "readyReplicas"]),
        count_at(obj, &["spec", "replicas"])
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_selector_column_prints_per_kind() {
        let cases = [
            (
                "a label selector",
                json!({"matchLabels": {"app": "web"}}),
                WideSelector::LabelSelector,
                Some(json!("app=web")),
            ),
            (
                "an absent label selector",
                Value::Null,
                WideSelector::LabelSelector,
                Some(json!("<none>")),
            ),
            (
                "an invalid label selector",
                json!({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}),
                WideSelector::LabelSelector,
                Some(json!("<error>")),
            ),
            (
                "an invalid deployment selector",
                json!({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}),
                WideSelector::LabelSelectorOrInvalid,
                Some(json!("<invalid>")),
            ),
            (
                "an absent deployment selector",
                Value::Null,
                WideSelector::LabelSelectorOrInvalid,
                Some(json!("")),
            ),
            (
                "a label map",
                json!({"app": "web"}),
                WideSelector::LabelMap,
                Some(json!("app=web")),
            ),
            (
                "no selector column",
                json!({"app": "web"}),
                WideSelector::Omitted,
                None,
            ),
        ];
        for (name, selector, kind, want) in cases {
            let obj = json!({"metadata": {"name": "w"}, "spec": {"selector": selector}});
            let cells = workload_cells(&obj, spec_of(&obj), SystemTime::UNIX_EPOCH, vec![], kind);
            assert_eq!(cells.len(), workload_columns(vec![], kind).len(), "{name}");
            assert_eq!(cells.get(4).cloned(), want, "{name}");
        }
    }
}
