//! Leader election through a `coordination.k8s.io/v1` Lease, as client-go's
//! `tools/leaderelection` does it for kube-controller-manager: several managers may run, the
//! one holding the Lease leads; the others wait for it to stop renewing.
//!
//! Expiry is judged by how long *we* have seen the same Lease record, not by the holder's
//! `renewTime`, so clock skew between machines does not matter (upstream `observedTime`).

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;

/// Where the Lease lives and who we are.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// The Lease's namespace (upstream: `kube-system`).
    pub namespace: String,
    /// The Lease's name (upstream: `kube-controller-manager`).
    pub name: String,
    /// This manager's identity, unique among the candidates (upstream: hostname + `_` + uuid).
    pub identity: String,
    /// How long a Lease is honoured after its last observed change (upstream default 15 s).
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up leading (10 s).
    pub renew_deadline: Duration,
    /// How often candidates try to acquire and the leader renews (2 s).
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// kube-controller-manager's Lease and upstream's default timings.
    pub fn controller_manager(identity: impl Into<String>) -> Self {
        LeaseConfig {
            namespace: "kube-system".to_owned(),
            name: "kube-controller-manager".to_owned(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What a candidate may do with the Lease as it now stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Someone else holds it and has renewed it within the lease duration.
    HeldByOther,
    /// We hold it: renew it.
    Renew,
    /// Nobody holds it, or its holder stopped renewing: take it over.
    TakeOver,
}

/// Decides from the current record and how long we have observed it unchanged.
pub fn claim(
    spec: &LeaseSpec,
    identity: &str,
    unchanged_for: Duration,
    lease_duration: Duration,
) -> Claim {
    match spec.holder_identity.as_deref() {
        Some(holder) if holder == identity => Claim::Renew,
        Some(holder) if !holder.is_empty() && unchanged_for < lease_duration => Claim::HeldByOther,
        _ => Claim::TakeOver,
    }
}

/// The record we write to acquire or renew: acquisition time and transitions are kept on a
/// renewal and bumped on a takeover (upstream `tryAcquireOrRenew`).
pub fn next_record(
    current: Option<&LeaseSpec>,
    identity: &str,
    now: Timestamp,
    lease_duration: Duration,
) -> LeaseSpec {
    let renewing = current
        .and_then(|spec| spec.holder_identity.as_deref())
        .is_some_and(|holder| holder == identity);
    let transitions = current.and_then(|spec| spec.lease_transitions).unwrap_or(0);
    LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(i32::try_from(lease_duration.as_secs()).unwrap_or(i32::MAX)),
        acquire_time: if renewing {
            current.and_then(|spec| spec.acquire_time.clone())
        } else {
            Some(MicroTime(now))
        },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(match current {
            Some(_) if !renewing => transitions.saturating_add(1),
            _ => transitions,
        }),
        ..LeaseSpec::default()
    }
}

/// How leading ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Leadership {
    /// We could not renew within the renew deadline: stop acting now.
    Lost,
    /// We were asked to shut down (and released the Lease).
    ShutDown,
}

/// A candidate for one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
    /// The last record seen and when it was first seen.
    observed: Option<(LeaseSpec, Instant)>,
}

impl LeaderElector {
    /// A candidate using `client`.
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        LeaderElector {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
        }
    }

    /// Waits until we lead; `false` if shutdown came first.
    pub async fn acquire(&mut self, shutdown: &CancellationToken) -> bool {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(lease = %self.config.name, identity = %self.config.identity, "became leader");
                    return true;
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "could not read or write the leader Lease"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return false,
                () = tokio::time::sleep(self.config.retry_period) => {}
            }
        }
    }

    /// Renews the Lease until it is lost or shutdown; on shutdown releases it so another
    /// manager takes over at once (upstream `ReleaseOnCancel`).
    pub async fn hold(&mut self, shutdown: &CancellationToken) -> Leadership {
        let mut renewed = Instant::now();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => {
                    self.release().await;
                    return Leadership::ShutDown;
                }
                () = tokio::time::sleep(self.config.retry_period) => {}
            }
            match self.try_acquire_or_renew().await {
                Ok(true) => renewed = Instant::now(),
                Ok(false) => return Leadership::Lost,
                Err(error) => tracing::warn!(%error, "could not renew the leader Lease"),
            }
            if renewed.elapsed() >= self.config.renew_deadline {
                return Leadership::Lost;
            }
        }
    }

    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(next_record(
                    None,
                    &self.config.identity,
                    now,
                    self.config.lease_duration,
                )),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                // Another candidate created it first.
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(error) => Err(error),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let unchanged_for = match &self.observed {
            Some((seen, since)) if *seen == spec => since.elapsed(),
            _ => {
                self.observed = Some((spec.clone(), Instant::now()));
                Duration::ZERO
            }
        };
        if claim(
            &spec,
            &self.config.identity,
            unchanged_for,
            self.config.lease_duration,
        ) == Claim::HeldByOther
        {
            return Ok(false);
        }
        let record = next_record(
            Some(&spec),
            &self.config.identity,
            now,
            self.config.lease_duration,
        );
        lease.spec = Some(record.clone());
        // The replace carries the resourceVersion we read: a concurrent writer makes it 409.
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                self.observed = Some((record, Instant::now()));
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        }
    }

    async fn release(&mut self) {
        let result = async {
            let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
                return Ok(());
            };
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
                return Ok(());
            }
            // Upstream releases by clearing the holder and shortening the duration to 1 s.
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            spec.renew_time = Some(MicroTime(Timestamp::now()));
            self.api
                .replace(&self.config.name, &PostParams::default(), &lease)
                .await
                .map(|_| ())
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, "could not release the leader Lease");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_by(holder: Option<&str>) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_owned),
            lease_transitions: Some(3),
            acquire_time: Some(MicroTime(Timestamp::UNIX_EPOCH)),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn a_candidate_takes_the_lease_only_when_free_or_expired() {
        let lease = Duration::from_secs(15);
        let cases = [
            (Some("me"), 0, Claim::Renew),
            (Some("me"), 100, Claim::Renew),
            (Some("other"), 0, Claim::HeldByOther),
            (Some("other"), 14, Claim::HeldByOther),
            (Some("other"), 15, Claim::TakeOver),
            (Some(""), 0, Claim::TakeOver),
            (None, 0, Claim::TakeOver),
        ];
        for (holder, seconds, want) in cases {
            let got = claim(&held_by(holder), "me", Duration::from_secs(seconds), lease);
            assert_eq!(got, want, "{holder:?} unchanged for {seconds}s");
        }
    }

    #[test]
    fn renewing_keeps_the_acquisition_and_taking_over_counts_a_transition() {
        let now = Timestamp::from_second(1000).unwrap_or(Timestamp::UNIX_EPOCH);
        let lease = Duration::from_secs(15);
        let renewed = next_record(Some(&held_by(Some("me"))), "me", now, lease);
        assert_eq!(renewed.lease_transitions, Some(3));
        assert_eq!(renewed.acquire_time, Some(MicroTime(Timestamp::UNIX_EPOCH)));
        assert_eq!(renewed.renew_time, Some(MicroTime(now)));

        let taken = next_record(Some(&held_by(Some("other"))), "me", now, lease);
        assert_eq!(taken.lease_transitions, Some(4));
        assert_eq!(taken.acquire_time, Some(MicroTime(now)));
        assert_eq!(taken.holder_identity.as_deref(), Some("me"));
        assert_eq!(taken.lease_duration_seconds, Some(15));

        let created = next_record(None, "me", now, lease);
        assert_eq!(created.lease_transitions, Some(0));
    }
}
