//! The objects of the docs' examples (examples/*.yaml) go through
//! every create and update hook of their catalog row without a validation
//! error, and a second identical apply (an empty patch, so an update with
//! the stored object) changes nothing.

use rkube_api::{Catalog, WriteScope};
use serde_json::{json, Value};

fn examples() -> Vec<(&'static str, &'static str, Value)> {
    let busybox = "docker.io/library/busybox:1.35";
    vec![
        (
            "batch",
            "jobs",
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "count"},
            "spec": {"completions": 3, "parallelism": 2, "backoffLimit": 2, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "count", "image": busybox, "command": ["sh", "-c", "echo 1"]}]}}}}),
        ),
        (
            "",
            "configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config"},
            "data": {"GREETING": "hello", "app.properties": "color=blue\nsize=large\n"}}),
        ),
        (
            "",
            "secrets",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-secret"}, "type": "Opaque",
            "stringData": {"password": "s3cr3t"}}),
        ),
        (
            "",
            "pods",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "config-reader"},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "reader", "image": busybox,
                "env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "GREETING"}}}],
                "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}, {"name": "secret", "mountPath": "/etc/secret", "readOnly": true}]}],
                "volumes": [{"name": "config", "configMap": {"name": "app-config"}}, {"name": "secret", "secret": {"secretName": "app-secret"}}]}}),
        ),
        (
            "",
            "pods",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "frontend-prod",
            "labels": {"environment": "production", "tier": "frontend", "release": "stable"}},
            "spec": {"containers": [{"name": "main", "image": busybox, "command": ["sleep", "3600"]}]}}),
        ),
        (
            "",
            "pods",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "two-containers", "labels": {"app": "demo", "release": "canary"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "server", "image": busybox}, {"name": "client", "image": busybox}]}}),
        ),
        (
            "apps",
            "deployments",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"},
            "spec": {"selector": {"matchLabels": {"app": "nginx"}}, "replicas": 2, "template": {"metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2", "ports": [{"containerPort": 80}]}]}}}}),
        ),
        (
            "apps",
            "deployments",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {"metadata": {"labels": {"app": "web", "tier": "frontend", "environment": "production"}},
                    "spec": {"containers": [{"name": "httpd", "image": busybox, "ports": [{"name": "http", "containerPort": 8080}],
                        "readinessProbe": {"httpGet": {"path": "/index.html", "port": "http"}, "periodSeconds": 2},
                        "livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 5},
                        "resources": {"requests": {"cpu": "50m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
                        "volumeMounts": [{"name": "www", "mountPath": "/www"}]}],
                        "volumes": [{"name": "www", "emptyDir": {}}]}}}}),
        ),
        (
            "",
            "services",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}),
        ),
    ]
}

/// What the registry adds before `prepare_for_create`.
fn with_system_fields(mut obj: Value, n: usize) -> Value {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("namespace".into(), json!("default"));
        meta.insert(
            "uid".into(),
            json!(format!("00000000-0000-0000-0000-{n:012}")),
        );
        meta.insert("creationTimestamp".into(), json!("2024-01-01T00:00:00Z"));
    }
    obj
}

#[test]
fn every_example_is_valid_and_a_second_apply_changes_nothing() {
    let catalog = Catalog::builtin();
    for (n, (group, plural, obj)) in examples().into_iter().enumerate() {
        let def = catalog.get(group, "v1", plural);
        let Some(def) = def else {
            panic!("{plural} is not in the catalog");
        };
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let s = &def.strategy;

        let mut stored = with_system_fields(obj.clone(), n);
        s.default(&mut stored);
        s.prepare_for_create(&mut stored);
        let errs = s.validate_create(&stored);
        assert!(errs.is_empty(), "{plural}/{name}: {}", errs.aggregate());

        let mut again = stored.clone();
        s.default(&mut again);
        s.prepare_for_update(WriteScope::Main, &mut again, &stored);
        let errs = s.validate_update(&again, &stored);
        assert!(
            errs.is_empty(),
            "{plural}/{name} update: {}",
            errs.aggregate()
        );
        assert_eq!(
            again, stored,
            "{plural}/{name}: a second apply changed the object"
        );

        let cells = def
            .printer
            .cells(&stored, std::time::SystemTime::UNIX_EPOCH);
        assert_eq!(cells.len(), def.printer.columns().len(), "{plural}");
    }
}
