//! `kubectl get cronjobs`: NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST
//! SCHEDULE AGE, wide CONTAINERS IMAGES SELECTOR (`printCronJob`).

use std::time::SystemTime;

use serde_json::Value;

use super::workload::{WideSelector, WorkloadPrinter};
use crate::json_path::{array_at, get, str_at};
use crate::table::{age_since, Column};

/// Prints cron jobs.
#[derive(Debug, Clone, Copy, Default)]
pub struct CronJobPrinter;

/// `True`, `False`, or `<unset>` (`printBoolPtr`).
fn bool_cell(v: Option<&Value>) -> &'static str {
    match v.and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".to_owned()
    } else {
        s.to_owned()
    }
}

impl WorkloadPrinter for CronJobPrinter {
    const SELECTOR: WideSelector = WideSelector::LabelSelector;

    fn status_columns(&self) -> Vec<Column> {
        vec![
            Column::string("Schedule", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
            Column::string("Timezone", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones."),
            Column {
                type_: "boolean",
                ..Column::string("Suspend", "This flag tells the controller to suspend subsequent executions.")
            },
            Column::integer("Active", "A list of pointers to currently running jobs."),
            Column::string("Last Schedule", "Information when was the last time the job was successfully scheduled."),
        ]
    }

    fn status_cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        let last = str_at(obj, &["status", "lastScheduleTime"]);
        let last_cell = if last.is_empty() {
            "<none>".to_owned()
        } else {
            age_since(Some(last), now)
        };
        vec![
            Value::from(str_at(obj, &["spec", "schedule"])),
            Value::from(or_none(str_at(obj, &["spec", "timeZone"]))),
            Value::from(bool_cell(get(obj, &["spec", "suspend"]))),
            Value::from(array_at(obj, &["status", "active"]).len()),
            Value::from(last_cell),
        ]
    }

    /// The job template's spec: its pod template and selector print.
    fn controller_spec<'a>(&self, obj: &'a Value) -> &'a Value {
        get(obj, &["spec", "jobTemplate", "spec"]).unwrap_or(&Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::table::Printer;

    #[test]
    fn prints_schedule_and_activity() {
        let obj = json!({"metadata": {"name": "hello"}, "spec": {"schedule": "*/1 * * * *", "suspend": false}, "status": {"active": [{"name": "hello-1"}]}});
        let cells = CronJobPrinter.cells(&obj, SystemTime::UNIX_EPOCH);
        assert_eq!(
            cells[..6],
            [
                json!("hello"),
                json!("*/1 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("<none>")
            ]
        );
        assert_eq!(cells.len(), CronJobPrinter.columns().len());
    }
}
