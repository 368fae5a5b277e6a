//! The real kubectl drives the apiserver unchanged: the common flows of the
//! docs, each against its own server.

mod common;

use std::time::Duration;

use common::{wait_for_line, TestServer};

fn examples() -> String {
    TestServer::examples_dir().display().to_string()
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn kubectl_creates_gets_and_deletes_a_configmap() {
    let server = TestServer::start();
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c1\ndata:\n  a: b\n";
    let out = server.kubectl_stdin(&["create", "-f", "-"], Some(manifest));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout_of(&out).contains("configmap/c1 created"));
    let out = server.kubectl_ok(&["get", "configmap", "c1", "-o", "jsonpath={.data.a}"]);
    assert_eq!(out, "b");
    let out = server.kubectl_ok(&["get", "configmaps"]);
    assert!(out.contains("c1") && out.contains("DATA"), "{out}");
    let out = server.kubectl_ok(&["delete", "configmap", "c1"]);
    assert!(out.contains("configmap \"c1\" deleted"), "{out}");
    let out = server.kubectl(&["get", "configmap", "c1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("configmaps \"c1\" not found"), "{err}");
}

#[test]
fn applying_every_example_twice_reports_unchanged_the_second_time() {
    let server = TestServer::start();
    let dir = examples();
    let first = server.kubectl_ok(&["apply", "-f", &dir]);
    assert!(
        first.contains("deployment.apps/nginx-deployment created"),
        "{first}"
    );
    assert!(first.contains("configmap/app-config created"), "{first}");
    let second = server.kubectl_ok(&["apply", "-f", &dir]);
    // A Secret applied with `stringData` reads back with `data` only, so
    // kubectl's three-way diff re-sends it every time, as upstream.
    for line in second.lines().filter(|l| !l.starts_with("secret/")) {
        assert!(line.ends_with(" unchanged"), "{line}\n{second}");
    }
    assert!(
        second.contains("deployment.apps/nginx-deployment unchanged"),
        "{second}"
    );
}

#[test]
fn get_prints_every_output_format() {
    let server = TestServer::start();
    server.kubectl_ok(&["apply", "-f", &format!("{}/labels.yaml", examples())]);
    let table = server.kubectl_ok(&["get", "pods"]);
    assert!(
        table.lines().next().unwrap_or("").contains("NAME") && table.contains("frontend-prod"),
        "{table}"
    );
    let wide = server.kubectl_ok(&["get", "pods", "-o", "wide"]);
    assert!(wide.contains("NODE"), "{wide}");
    let yaml = server.kubectl_ok(&["get", "pod", "frontend-qa", "-o", "yaml"]);
    assert!(
        yaml.contains("name: frontend-qa") && yaml.contains("resourceVersion:"),
        "{yaml}"
    );
    let json = server.kubectl_ok(&["get", "pod", "frontend-qa", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("should succeed");
    assert_eq!(v["metadata"]["labels"]["environment"], "qa");
    let names = server.kubectl_ok(&["get", "pods", "-o", "name"]);
    assert_eq!(names.lines().count(), 3, "{names}");
    assert!(names.contains("pod/backend-dev"));
    let path = server.kubectl_ok(&["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"]);
    assert_eq!(path, "backend-dev frontend-prod frontend-qa");
    let described = server.kubectl_ok(&["describe", "pod", "frontend-qa"]);
    assert!(
        described.contains("environment=qa") && described.contains("busybox:1.35"),
        "{described}"
    );
    let all = server.kubectl_ok(&["get", "all"]);
    assert!(all.contains("pod/frontend-qa"), "{all}");
    assert!(
        all.contains("service/kubernetes") && all.contains("10.43.0.1"),
        "{all}"
    );
    let events = server.kubectl(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=frontend-qa",
    ]);
    assert!(
        events.status.success(),
        "{}",
        String::from_utf8_lossy(&events.stderr)
    );
}

#[test]
fn label_and_field_selectors_and_all_namespaces_filter_lists() {
    let server = TestServer::start();
    server.kubectl_ok(&["apply", "-f", &format!("{}/labels.yaml", examples())]);
    let set_based = server.kubectl_ok(&[
        "get",
        "pods",
        "-o",
        "name",
        "-l",
        "environment in (production, qa),tier in (frontend)",
    ]);
    assert_eq!(
        set_based.lines().collect::<Vec<_>>(),
        vec!["pod/frontend-prod", "pod/frontend-qa"]
    );
    let not = server.kubectl_ok(&["get", "pods", "-o", "name", "-l", "!release,tier"]);
    assert_eq!(not, "");
    let field = server.kubectl_ok(&[
        "get",
        "pods",
        "-o",
        "name",
        "--field-selector",
        "metadata.name=backend-dev",
    ]);
    assert_eq!(field.trim(), "pod/backend-dev");
    let all = server.kubectl_ok(&["get", "namespaces", "-o", "name"]);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(all.contains(&format!("namespace/{ns}")), "{all}");
    }
    let across = server.kubectl_ok(&["get", "pods", "-A"]);
    assert!(across.starts_with("NAMESPACE"), "{across}");
    assert_eq!(across.lines().count(), 4, "{across}");
    let bad = server.kubectl(&["get", "pods", "--field-selector", "spec.bogus=x"]);
    assert!(!bad.status.success());
}

#[test]
fn watch_prints_events_as_they_happen() {
    let server = TestServer::start();
    let (_child, lines) =
        server.kubectl_stream(&["get", "configmaps", "-w", "--request-timeout=0"]);
    // Whether the watch starts before or after the create, the new object
    // shows up: in the initial list or as an event.
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: watched\n";
    let out = server.kubectl_stdin(&["create", "-f", "-"], Some(manifest));
    assert!(out.status.success());
    let seen = wait_for_line(&lines, Duration::from_secs(30), |l| {
        l.starts_with("watched")
    });
    assert!(
        seen.is_ok(),
        "watch never showed the new configmap: {seen:?}"
    );
    server.kubectl_ok(&["label", "configmap", "watched", "seen=yes"]);
    server.kubectl_ok(&["delete", "configmap", "watched"]);
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: second\n";
    server.kubectl_stdin(&["create", "-f", "-"], Some(manifest));
    let seen = wait_for_line(&lines, Duration::from_secs(30), |l| l.starts_with("second"));
    assert!(
        seen.is_ok(),
        "watch stopped after the first events: {seen:?}"
    );
}

#[test]
fn patch_scale_label_annotate_and_describe_a_deployment() {
    let server = TestServer::start();
    server.kubectl_ok(&[
        "apply",
        "-f",
        &format!("{}/nginx-deployment.yaml", examples()),
    ]);
    let d = "deployment/nginx-deployment";
    server.kubectl_ok(&[
        "patch",
        d,
        "--type=merge",
        "-p",
        r#"{"spec":{"minReadySeconds":3}}"#,
    ]);
    server.kubectl_ok(&[
        "patch",
        d,
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/revisionHistoryLimit","value":4}]"#,
    ]);
    server.kubectl_ok(&[
        "patch",
        d,
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.16"}]}}}}"#,
    ]);
    let json = server.kubectl_ok(&["get", d, "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("should succeed");
    assert_eq!(v["spec"]["minReadySeconds"], 3);
    assert_eq!(v["spec"]["revisionHistoryLimit"], 4);
    assert_eq!(
        v["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.16"
    );
    assert_eq!(
        v["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );
    let out = server.kubectl_ok(&["scale", d, "--replicas=5"]);
    assert!(out.contains("scaled"), "{out}");
    let replicas = server.kubectl_ok(&["get", d, "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "5");
    server.kubectl_ok(&["label", d, "team=web"]);
    server.kubectl_ok(&["annotate", d, "note=hello"]);
    let meta = server.kubectl_ok(&[
        "get",
        d,
        "-o",
        "jsonpath={.metadata.labels.team} {.metadata.annotations.note}",
    ]);
    assert_eq!(meta, "web hello");
    let described = server.kubectl_ok(&["describe", d]);
    assert!(
        described.contains("Name:") && described.contains("nginx-deployment"),
        "{described}"
    );
    assert!(described.contains("nginx:1.16"), "{described}");
}

#[test]
fn discovery_commands_list_resources_and_versions() {
    let server = TestServer::start();
    let resources = server.kubectl_ok(&["api-resources"]);
    assert!(
        resources.contains("deployments")
            && resources.contains("deploy")
            && resources.contains("apps/v1"),
        "{resources}"
    );
    let versions = server.kubectl_ok(&["api-versions"]);
    for gv in ["v1", "apps/v1", "batch/v1", "rbac.authorization.k8s.io/v1"] {
        assert!(
            versions.lines().any(|l| l == gv),
            "{gv} missing: {versions}"
        );
    }
}

#[test]
fn server_dry_run_validates_without_storing() {
    let server = TestServer::start();
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\n";
    let out = server.kubectl_stdin(&["create", "--dry-run=server", "-f", "-"], Some(manifest));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout_of(&out).contains("configmap/dry created (server dry run)"),
        "{}",
        stdout_of(&out)
    );
    assert!(!server
        .kubectl(&["get", "configmap", "dry"])
        .status
        .success());
}

#[test]
fn metrics_count_requests() {
    let server = TestServer::start();
    server.kubectl_ok(&["get", "pods"]);
    let metrics = server.kubectl_ok(&["get", "--raw", "/metrics"]);
    assert!(
        metrics.contains("apiserver_request_total{code=\"200\""),
        "{metrics}"
    );
    assert!(metrics.contains("resource=\"pods\""), "{metrics}");
    assert!(
        metrics.contains("apiserver_request_duration_seconds_bucket"),
        "{metrics}"
    );
}

#[test]
fn deleting_a_namespace_marks_it_terminating_and_refuses_new_content() {
    let server = TestServer::start();
    server.kubectl_stdin(
        &["create", "-f", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: doomed\n"),
    );
    server.kubectl_ok(&["delete", "namespace", "doomed", "--wait=false"]);
    let phase = server.kubectl_ok(&[
        "get",
        "namespace",
        "doomed",
        "-o",
        "jsonpath={.status.phase}",
    ]);
    assert_eq!(phase, "Terminating");
    let out = server.kubectl_stdin(
        &["create", "-n", "doomed", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: late\n"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "unable to create new content in namespace doomed because it is being terminated"
        ),
        "{err}"
    );
    let out = server.kubectl_stdin(
        &["create", "-n", "missing", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("namespaces \"missing\" not found"));
}

#[test]
fn strict_validation_refuses_unknown_fields_and_explain_reads_openapi() {
    let server = TestServer::start();
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndatta:\n  a: b\n";
    let out = server.kubectl_stdin(&["apply", "-f", "-"], Some(manifest));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field \"datta\""), "{err}");
    // The same typo in an update (a patch) is refused too.
    let good = manifest.replace("datta", "data");
    server.kubectl_stdin(&["apply", "-f", "-"], Some(&good));
    let typo = good.replace("a: b", "a: c\nbinaryDatta: {}");
    let out = server.kubectl_stdin(&["apply", "-f", "-"], Some(&typo));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("unknown field"),
        "{err}"
    );
    let explained = server.kubectl_ok(&["explain", "pod.spec.containers"]);
    assert!(
        explained.contains("KIND:") && explained.contains("Pod"),
        "{explained}"
    );
}

#[test]
fn server_side_apply_creates_and_then_updates_with_ownership() {
    let server = TestServer::start();
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: b\n";
    let out = server.kubectl_stdin(&["apply", "--server-side", "-f", "-"], Some(manifest));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout_of(&out).contains("configmap/ssa serverside-applied"),
        "{}",
        stdout_of(&out)
    );
    let managers = server.kubectl_ok(&[
        "get",
        "configmap",
        "ssa",
        "--show-managed-fields",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
    ]);
    assert_eq!(managers, "kubectl");
    let changed = manifest.replace("a: b", "a: c");
    let out = server.kubectl_stdin(&["apply", "--server-side", "-f", "-"], Some(&changed));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        server.kubectl_ok(&["get", "configmap", "ssa", "-o", "jsonpath={.data.a}"]),
        "c"
    );
}

#[test]
fn cascading_deletes_record_the_propagation_policy() {
    let server = TestServer::start();
    server.kubectl_ok(&[
        "apply",
        "-f",
        &format!("{}/nginx-deployment.yaml", examples()),
    ]);
    server.kubectl_ok(&[
        "delete",
        "deployment",
        "nginx-deployment",
        "--cascade=orphan",
        "--wait=false",
    ]);
    // Without a garbage collector running, the orphan finalizer keeps it.
    let finalizers = server.kubectl_ok(&[
        "get",
        "deployment",
        "nginx-deployment",
        "-o",
        "jsonpath={.metadata.finalizers}",
    ]);
    assert!(finalizers.contains("orphan"), "{finalizers}");
    server.kubectl_ok(&[
        "patch",
        "deployment",
        "nginx-deployment",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    let gone = server.kubectl(&["get", "deployment", "nginx-deployment"]);
    assert!(
        !gone.status.success(),
        "removing the last finalizer deletes the object"
    );
}

#[test]
fn typed_create_commands_send_protobuf_that_the_server_decodes() {
    let server = TestServer::start();
    let out = server.kubectl_ok(&["create", "namespace", "team"]);
    assert!(out.contains("namespace/team created"), "{out}");
    let out = server.kubectl_ok(&[
        "create",
        "configmap",
        "c",
        "-n",
        "team",
        "--from-literal=a=b",
    ]);
    assert!(out.contains("configmap/c created"), "{out}");
    assert_eq!(
        server.kubectl_ok(&[
            "get",
            "configmap",
            "c",
            "-n",
            "team",
            "-o",
            "jsonpath={.data.a}"
        ]),
        "b"
    );
    server.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "s",
        "-n",
        "team",
        "--from-literal=p=hi",
    ]);
    assert_eq!(
        server.kubectl_ok(&[
            "get",
            "secret",
            "s",
            "-n",
            "team",
            "-o",
            "jsonpath={.data.p}"
        ]),
        "aGk="
    );
    server.kubectl_ok(&["create", "serviceaccount", "robot", "-n", "team"]);
    server.kubectl_ok(&["get", "serviceaccount", "robot", "-n", "team"]);
    server.kubectl_ok(&[
        "create",
        "deployment",
        "web",
        "-n",
        "team",
        "--image=nginx:1.25",
        "--port=80",
        "--replicas=2",
    ]);
    let d = server.kubectl_ok(&["get", "deployment", "web", "-n", "team", "-o", "json"]);
    let d: serde_json::Value = serde_json::from_str(&d).expect("json");
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "web");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.25"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );
    server.kubectl_ok(&[
        "create",
        "service",
        "nodeport",
        "web",
        "-n",
        "team",
        "--tcp=80:8080",
    ]);
    let svc = server.kubectl_ok(&["get", "service", "web", "-n", "team", "-o", "json"]);
    let svc: serde_json::Value = serde_json::from_str(&svc).expect("json");
    assert_eq!(svc["spec"]["type"], "NodePort");
    assert_eq!(svc["spec"]["ports"][0]["port"], 80);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    assert!(
        svc["spec"]["ports"][0]["nodePort"]
            .as_i64()
            .is_some_and(|p| p >= 30000),
        "{svc}"
    );
}

#[test]
fn typed_create_commands_for_batch_rbac_policy_and_networking_kinds_work() {
    let server = TestServer::start();
    let json_of = |args: &[&str]| -> serde_json::Value {
        serde_json::from_str(&server.kubectl_ok(args)).expect("json")
    };
    server.kubectl_ok(&[
        "create",
        "cronjob",
        "tick",
        "--image=busybox:1.35",
        "--schedule=*/5 * * * *",
        "--",
        "date",
    ]);
    let cj = json_of(&["get", "cronjob", "tick", "-o", "json"]);
    assert_eq!(cj["spec"]["schedule"], "*/5 * * * *");
    let container = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["command"], serde_json::json!(["date"]));

    // `--from` copies the CronJob's template and sets an owner reference.
    server.kubectl_ok(&["create", "job", "now", "--from=cronjob/tick"]);
    let job = json_of(&["get", "job", "now", "-o", "json"]);
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox:1.35"
    );

    server.kubectl_ok(&["create", "quota", "q", "--hard=pods=3,requests.cpu=1"]);
    let q = json_of(&["get", "resourcequota", "q", "-o", "json"]);
    assert_eq!(q["spec"]["hard"]["pods"], "3");

    server.kubectl_ok(&["create", "priorityclass", "high", "--value=1000"]);
    let pc = json_of(&["get", "priorityclass", "high", "-o", "json"]);
    assert_eq!(pc["value"], 1000);

    server.kubectl_ok(&[
        "create",
        "role",
        "reader",
        "--verb=get,list",
        "--resource=pods",
    ]);
    server.kubectl_ok(&[
        "create",
        "rolebinding",
        "rb",
        "--role=reader",
        "--user=alice",
    ]);
    server.kubectl_ok(&[
        "create",
        "clusterrole",
        "cr",
        "--verb=get",
        "--resource=nodes",
    ]);
    server.kubectl_ok(&[
        "create",
        "clusterrolebinding",
        "crb",
        "--clusterrole=cr",
        "--group=ops",
    ]);
    let rb = json_of(&["get", "rolebinding", "rb", "-o", "json"]);
    assert_eq!(rb["roleRef"]["name"], "reader");
    assert_eq!(rb["subjects"][0]["name"], "alice");
    let cr = json_of(&["get", "clusterrole", "cr", "-o", "json"]);
    assert_eq!(cr["rules"][0]["resources"], serde_json::json!(["nodes"]));

    server.kubectl_ok(&[
        "create",
        "pdb",
        "p",
        "--selector=app=web",
        "--min-available=50%",
    ]);
    let pdb = json_of(&["get", "pdb", "p", "-o", "json"]);
    assert_eq!(pdb["spec"]["minAvailable"], "50%");

    server.kubectl_ok(&[
        "create",
        "ingress",
        "i",
        "--rule=shop.example/cart*=cart:8080",
    ]);
    let ing = json_of(&["get", "ingress", "i", "-o", "json"]);
    let path = &ing["spec"]["rules"][0]["http"]["paths"][0];
    assert_eq!(ing["spec"]["rules"][0]["host"], "shop.example");
    assert_eq!(path["backend"]["service"]["port"]["number"], 8080);
    assert_eq!(path["pathType"], "Prefix");
}
