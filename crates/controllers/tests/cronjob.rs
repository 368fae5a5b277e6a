//! CronJobs with simulated nodes and a controller clock that runs sixty times faster than
//! real time (a minute a second), so `*/1 * * * *` fires every second: Jobs are created
//! per scheduled minute, finished ones beyond the history limit are deleted, Forbid skips
//! while a run is active, and an unknown time zone is reported.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{wait_for, Cluster};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ListParams};
use rkube_controllers::framework::Clock;
use serde_json::Value;

/// A clock that runs `SPEED` times faster than real time from when it was made.
#[derive(Debug)]
struct FastClock {
    started: Instant,
    start: Timestamp,
}

const SPEED: u32 = 60;

impl Clock for FastClock {
    fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.started.elapsed() * SPEED).unwrap();
        self.start.checked_add(elapsed).unwrap()
    }

    fn real_wait(&self, span: SignedDuration) -> Duration {
        Duration::try_from(span).unwrap_or(Duration::ZERO) / SPEED
    }
}

async fn start() -> Cluster {
    Cluster::start("job,cronjob", 1, |s| rkube_controllers::Settings {
        clock: Arc::new(FastClock {
            started: Instant::now(),
            start: Timestamp::now(),
        }),
        ..s
    })
    .await
}

/// A CronJob firing every (fast) minute whose pods run `run_seconds` real seconds.
fn cronjob(name: &str, policy: &str, run_seconds: u32, extra: &str) -> String {
    format!(
        r#"apiVersion: batch/v1
kind: CronJob
metadata:
  name: {name}
spec:
  schedule: "*/1 * * * *"
  concurrencyPolicy: {policy}
  successfulJobsHistoryLimit: 2
{extra}  jobTemplate:
    metadata:
      labels:
        cron: {name}
    spec:
      template:
        metadata:
          annotations:
            sim.rkube.io/run-seconds: "{run_seconds}"
        spec:
          nodeName: sim-0001
          restartPolicy: Never
          containers:
          - name: c
            image: busybox
"#
    )
}

/// The reasons of the Events about CronJob `name`, once per occurrence (repeats of one
/// event are aggregated into its `count`).
async fn reasons(cluster: &Cluster, name: &str) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), "default");
    events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .filter(|e| e.involved_object.kind.as_deref() == Some("CronJob"))
        .flat_map(|e| {
            let times = e.count.unwrap_or(1).max(1);
            std::iter::repeat_n(
                e.reason.unwrap_or_default(),
                usize::try_from(times).unwrap(),
            )
        })
        .collect()
}

fn count(reasons: &[String], reason: &str) -> usize {
    reasons.iter().filter(|r| *r == reason).count()
}

fn finished(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.status == "True" && (c.type_ == "Complete" || c.type_ == "Failed"))
}

async fn jobs_of(cluster: &Cluster, name: &str) -> Vec<Job> {
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), "default");
    jobs.list(&ListParams::default().labels(&format!("cron={name}")))
        .await
        .unwrap()
        .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cronjob_runs_every_minute_and_prunes_its_history() {
    let cluster = start().await;
    cluster.api.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(&cronjob("tick", "Allow", 0, "")),
    );
    wait_for("four runs and a pruned one", || async {
        let seen = reasons(&cluster, "tick").await;
        (count(&seen, "SuccessfulCreate") >= 4
            && count(&seen, "SawCompletedJob") >= 3
            && count(&seen, "SuccessfulDelete") >= 1)
            .then_some(())
    })
    .await;
    // Each Job is named after its scheduled minute and says so in its annotation.
    for job in jobs_of(&cluster, "tick").await {
        let name = job.metadata.name.clone().unwrap();
        let minutes: i64 = name.strip_prefix("tick-").unwrap().parse().unwrap();
        let stamp = job.metadata.annotations.as_ref().unwrap()
            ["batch.kubernetes.io/cronjob-scheduled-timestamp"]
            .parse::<Timestamp>()
            .unwrap();
        assert_eq!(stamp.as_second(), minutes * 60, "{name}");
        assert_eq!(stamp.as_second() % 60, 0, "{name}");
    }
    // At most two finished Jobs are kept.
    wait_for("the history to be within its limit", || async {
        let jobs = jobs_of(&cluster, "tick").await;
        (jobs.iter().filter(|j| finished(j)).count() <= 2).then_some(())
    })
    .await;
    let cronjob: Value =
        serde_json::from_str(&cluster.kubectl(&["get", "cronjob", "tick", "-o", "json"])).unwrap();
    assert!(
        cronjob["status"]["lastScheduleTime"].is_string(),
        "{cronjob}"
    );
    assert!(
        cronjob["status"]["lastSuccessfulTime"].is_string(),
        "{cronjob}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbid_skips_runs_while_one_is_active() {
    let cluster = start().await;
    // Each run lasts three (fast) minutes.
    cluster.api.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(&cronjob("solo", "Forbid", 3, "")),
    );
    let most_running = std::cell::Cell::new(0);
    wait_for("a skipped run and a second run", || async {
        let running = jobs_of(&cluster, "solo")
            .await
            .iter()
            .filter(|j| !finished(j))
            .count();
        most_running.set(most_running.get().max(running));
        let seen = reasons(&cluster, "solo").await;
        (count(&seen, "JobAlreadyActive") >= 1 && count(&seen, "SuccessfulCreate") >= 2)
            .then_some(())
    })
    .await;
    let most_running = most_running.get();
    assert!(most_running <= 1, "Forbid let {most_running} runs overlap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_time_zone_is_reported_and_nothing_runs() {
    let cluster = start().await;
    cluster.api.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(&cronjob(
            "lost",
            "Allow",
            0,
            "  timeZone: Mars/Olympus_Mons\n",
        )),
    );
    wait_for("the UnknownTimeZone warning", || async {
        reasons(&cluster, "lost")
            .await
            .iter()
            .any(|r| r == "UnknownTimeZone")
            .then_some(())
    })
    .await;
    assert!(jobs_of(&cluster, "lost").await.is_empty());
}
