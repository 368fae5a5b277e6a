//! Deployments (pkg/registry/apps/deployment/strategy.go,
//! pkg/apis/apps/v1/defaults.go, pkg/apis/apps/validation): a RollingUpdate
//! strategy of 25%/25% by default, a selector that matches the template
//! and never changes.

use serde_json::{json, Value};

use super::meta_strategy::validate_namespaced_create;
use super::workload::{
    default_spec_template, default_update_strategy, non_negative, spec_of,
    validate_apps_selector_and_template, validate_update, SelectorUpdate,
};
use crate::field_error::{ErrorType, FieldErrors};
use crate::json_path::{default, existing_mut, get, go_int_or_string, i64_at, str_at};
use crate::strategy::Strategy;

/// The strategy of `deployments`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeploymentStrategy;

/// `25%` or `3`: an int, or a string of digits and `%`, at most 100%
/// (`ValidatePositiveIntOrPercent`, `IsNotMoreThan100Percent`). Returns
/// the value as a number (percent or count) when valid.
fn int_or_percent(v: &Value, at: &str, errs: &mut FieldErrors) -> Option<i64> {
    let invalid = |errs: &mut FieldErrors, msg: &str| {
        errs.push(ErrorType::Invalid, at, Some(go_int_or_string(v)), msg);
    };
    match v {
        Value::String(s) => {
            let digits = s
                .strip_suffix('%')
                .filter(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()));
            let Some(n) = digits.and_then(|d| d.parse::<i64>().ok()) else {
                invalid(errs, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')");
                return None;
            };
            if n > 100 {
                invalid(errs, "must not be greater than 100%");
            }
            Some(n)
        }
        other => {
            let n = other.as_i64().unwrap_or_default();
            if n < 0 {
                invalid(errs, "must be greater than or equal to 0");
            }
            Some(n)
        }
    }
}

fn validate_strategy(spec: &Value, errs: &mut FieldErrors) {
    let kind = str_at(spec, &["strategy", "type"]);
    let rolling = get(spec, &["strategy", "rollingUpdate"]).filter(|v| !v.is_null());
    match kind {
        "Recreate" => {
            if rolling.is_some() {
                errs.forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                );
            }
        }
        "RollingUpdate" => match rolling {
            None => errs.required(
                "spec.strategy.rollingUpdate",
                "this should be defaulted and never be nil",
            ),
            Some(ru) => {
                let unavailable = ru.get("maxUnavailable").map(|v| {
                    (
                        v,
                        int_or_percent(v, "spec.strategy.rollingUpdate.maxUnavailable", errs),
                    )
                });
                let surge = ru
                    .get("maxSurge")
                    .and_then(|v| int_or_percent(v, "spec.strategy.rollingUpdate.maxSurge", errs));
                if let (Some((v, Some(0))), Some(0)) = (unavailable, surge) {
                    errs.push(
                        ErrorType::Invalid,
                        "spec.strategy.rollingUpdate.maxUnavailable",
                        Some(go_int_or_string(v)),
                        "may not be 0 when `maxSurge` is 0",
                    );
                }
            }
        },
        // Upstream reports the capitalised field name here.
        other => errs.not_supported("spec.strategy.Type", other, &["Recreate", "RollingUpdate"]),
    }
}

impl Strategy for DeploymentStrategy {
    fn default(&self, obj: &mut Value) {
        let Some(spec) = existing_mut(obj, &["spec"]) else {
            return;
        };
        default(spec, "replicas", json!(1));
        default(spec, "revisionHistoryLimit", json!(10));
        default(spec, "progressDeadlineSeconds", json!(600));
        default_spec_template(spec);
        default_update_strategy(
            obj,
            "strategy",
            &[("maxUnavailable", json!("25%")), ("maxSurge", json!("25%"))],
        );
    }

    fn validate_create(&self, obj: &Value) -> FieldErrors {
        validate_namespaced_create(obj, validate_spec)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> FieldErrors {
        validate_update(new, old, validate_spec, SelectorUpdate::Immutable)
    }
}

fn validate_spec(obj: &Value) -> FieldErrors {
    let mut errs = FieldErrors::default();
    let spec = spec_of(obj);
    non_negative(
        spec,
        "spec",
        &[
            "replicas",
            "minReadySeconds",
            "revisionHistoryLimit",
            "progressDeadlineSeconds",
        ],
        &mut errs,
    );
    errs.extend(validate_apps_selector_and_template(spec, "deployment"));
    validate_strategy(spec, &mut errs);
    if let Some(deadline) = i64_at(spec, &["progressDeadlineSeconds"]) {
        if deadline <= i64_at(spec, &["minReadySeconds"]).unwrap_or_default() {
            errs.invalid_number(
                "spec.progressDeadlineSeconds",
                deadline,
                "must be greater than minReadySeconds",
            );
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(spec: Value) -> Value {
        let mut obj = json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec});
        DeploymentStrategy.default(&mut obj);
        obj
    }

    fn valid_spec() -> Value {
        json!({
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
        })
    }

    #[test]
    fn defaults_are_upstreams() {
        let obj = deployment(valid_spec());
        assert_eq!(obj["spec"]["replicas"], json!(1));
        assert_eq!(obj["spec"]["revisionHistoryLimit"], json!(10));
        assert_eq!(obj["spec"]["progressDeadlineSeconds"], json!(600));
        assert_eq!(
            obj["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(
            obj["spec"]["template"]["spec"]["restartPolicy"],
            json!("Always")
        );
        assert!(DeploymentStrategy.validate_create(&obj).is_empty());
        let recreate = deployment(json!({"strategy": {"type": "Recreate"}}));
        assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn validation_cases() {
        let with = |patch: Value| {
            let mut spec = valid_spec();
            if let (Some(s), Some(p)) = (spec.as_object_mut(), patch.as_object()) {
                for (k, v) in p {
                    s.insert(k.clone(), v.clone());
                }
            }
            deployment(spec)
        };
        let cases = [
            ("negative replicas", with(json!({"replicas": -1})), vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
            (
                "both rolling bounds zero",
                with(json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}}})),
                vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0"],
            ),
            (
                "a bad percentage",
                with(json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%", "maxSurge": 1}}})),
                vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%"],
            ),
            (
                "an unknown strategy",
                with(json!({"strategy": {"type": "BlueGreen"}})),
                vec!["spec.strategy.Type: Unsupported value: \"BlueGreen\": supported values: \"Recreate\", \"RollingUpdate\""],
            ),
            (
                "a deadline under minReadySeconds",
                with(json!({"minReadySeconds": 700})),
                vec!["spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"],
            ),
        ];
        for (name, obj, want) in cases {
            let got = DeploymentStrategy.validate_create(&obj).messages();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn the_selector_cannot_change() {
        let old = deployment(valid_spec());
        let mut new = old.clone();
        new["spec"]["selector"] = json!({"matchLabels": {"app": "web", "v": "2"}});
        new["spec"]["template"]["metadata"]["labels"] = json!({"app": "web", "v": "2"});
        let fields: Vec<String> = DeploymentStrategy
            .validate_update(&new, &old)
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["spec.selector"]);
    }
}
