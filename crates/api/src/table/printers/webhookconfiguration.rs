//! `kubectl get mutatingwebhookconfigurations` and
//! `validatingwebhookconfigurations`: NAME WEBHOOKS AGE
//! (`printMutatingWebhook`, `printValidatingWebhook`: the same table).

use std::time::SystemTime;

use serde_json::Value;

use crate::json_path::array_at;
use crate::table::{age_cell, name_cell, Column, Printer};

/// Prints webhook configurations.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookConfigurationPrinter;

impl Printer for WebhookConfigurationPrinter {
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::integer(
                "Webhooks",
                "Webhooks indicates the number of webhooks registered in this configuration",
            ),
            Column::age(),
        ]
    }

    fn cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        vec![
            name_cell(obj),
            Value::from(array_at(obj, &["webhooks"]).len()),
            age_cell(obj, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn counts_webhooks() {
        let cfg = json!({"metadata": {"name": "policy"}, "webhooks": [{"name": "a.example.com"}, {"name": "b.example.com"}]});
        assert_eq!(
            WebhookConfigurationPrinter.cells(&cfg, SystemTime::UNIX_EPOCH)[1],
            json!(2)
        );
    }
}
