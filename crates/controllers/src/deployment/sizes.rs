//! How big each ReplicaSet of a deployment should be: the rolling update arithmetic and
//! proportional scaling of upstream `pkg/controller/deployment/rolling.go` and `sync.go`,
//! as pure functions over [`SetView`]s.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::jiff::Timestamp;

use super::revision::{int_annotation, MAX_REPLICAS};

/// The numbers of one ReplicaSet that the arithmetic needs.
#[derive(Clone, Debug, PartialEq)]
pub struct SetView {
    /// Its name (ties in creation time break by name).
    pub name: String,
    /// Its creation time.
    pub created: Option<Timestamp>,
    /// `spec.replicas`: the size we set, and may change.
    pub replicas: i32,
    /// `status.availableReplicas`.
    pub available: i32,
    /// The `max-replicas` annotation: the deployment's size + surge when last scaled.
    pub max_replicas: Option<i32>,
}

impl SetView {
    /// The view of `rs`.
    pub fn of(rs: &ReplicaSet) -> Self {
        SetView {
            name: rs.metadata.name.clone().unwrap_or_default(),
            created: rs.metadata.creation_timestamp.as_ref().map(|time| time.0),
            replicas: rs.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(1),
            available: rs
                .status
                .as_ref()
                .and_then(|status| status.available_replicas)
                .unwrap_or(0),
            max_replicas: int_annotation(rs, MAX_REPLICAS),
        }
    }
}

/// Oldest first, ties by name (upstream `ReplicaSetsByCreationTimestamp`).
pub fn by_creation(a: &SetView, b: &SetView) -> Ordering {
    a.created.cmp(&b.created).then_with(|| a.name.cmp(&b.name))
}

/// The size of the new ReplicaSet during a rolling update: grow it as far as maxSurge allows
/// over all ReplicaSets' sizes, never past `desired` (upstream `NewRSNewReplicas`).
pub fn rolling_new_size(desired: i32, max_surge: i32, total: i32, new: i32) -> i32 {
    let max_total = desired.saturating_add(max_surge);
    if total >= max_total {
        return new;
    }
    new + (max_total - total).min(desired - new).max(0)
}

/// The new size of the new ReplicaSet, if it changes (upstream `reconcileNewReplicaSet`).
pub fn reconcile_new(desired: i32, max_surge: i32, total: i32, new: i32) -> Option<i32> {
    let size = match new.cmp(&desired) {
        Ordering::Equal => return None,
        Ordering::Greater => desired,
        Ordering::Less => rolling_new_size(desired, max_surge, total, new),
    };
    (size != new).then_some(size)
}

/// Scales old ReplicaSets down as far as maxUnavailable allows (upstream
/// `reconcileOldReplicaSets`): first their unavailable pods (which cost no availability),
/// then available ones, oldest ReplicaSet first. `old` must be sorted [`by_creation`].
/// Returns whether any size changed.
pub fn scale_down_old(
    desired: i32,
    max_unavailable: i32,
    old: &mut [SetView],
    new: &SetView,
) -> bool {
    let old_total: i32 = old.iter().map(|set| set.replicas).sum();
    if old_total == 0 {
        return false;
    }
    let all_total = old_total + new.replicas;
    let min_available = desired - max_unavailable;
    let new_unavailable = new.replicas - new.available;
    let max_scaled_down = all_total - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return false;
    }
    // Unhealthy pods first (upstream `cleanupUnhealthyReplicas`).
    let mut cleaned = 0;
    for set in old.iter_mut() {
        if cleaned >= max_scaled_down {
            break;
        }
        if set.replicas == 0 || set.replicas == set.available {
            continue;
        }
        let down = (max_scaled_down - cleaned).min(set.replicas - set.available);
        set.replicas -= down;
        cleaned += down;
    }
    // Then available pods, keeping minAvailable (upstream
    // `scaleDownOldReplicaSetsForRollingUpdate`).
    let available: i32 = old.iter().map(|set| set.available).sum::<i32>() + new.available;
    let mut scaled = 0;
    if available > min_available {
        let budget = available - min_available;
        for set in old.iter_mut() {
            if scaled >= budget {
                break;
            }
            if set.replicas == 0 {
                continue;
            }
            let down = set.replicas.min(budget - scaled);
            set.replicas -= down;
            scaled += down;
        }
    }
    cleaned + scaled > 0
}

/// Spreads a change of the deployment's size over its active ReplicaSets in proportion to
/// their sizes, so a mid-rollout scale keeps the rollout's shape (upstream `scale` for
/// RollingUpdate). `status_replicas` is the deployment's `status.replicas`, used for sets
/// without a `max-replicas` annotation.
pub fn proportional(desired: i32, max_surge: i32, status_replicas: i32, sets: &mut [SetView]) {
    let total: i32 = sets.iter().map(|set| set.replicas).sum();
    let allowed = if desired > 0 {
        desired.saturating_add(max_surge)
    } else {
        0
    };
    let to_add = allowed - total;
    if to_add == 0 {
        return;
    }
    // Growing favours the largest and then newest sets; shrinking the largest and then oldest.
    sets.sort_by(|a, b| {
        b.replicas.cmp(&a.replicas).then_with(|| {
            if to_add > 0 {
                by_creation(b, a)
            } else {
                by_creation(a, b)
            }
        })
    });
    let mut added = 0;
    let mut sizes: Vec<i32> = Vec::with_capacity(sets.len());
    for set in sets.iter() {
        let share = if set.replicas == 0 || to_add == added {
            0
        } else {
            let fraction = fraction(set, desired, max_surge, status_replicas);
            let left = to_add - added;
            if to_add > 0 {
                fraction.min(left)
            } else {
                fraction.max(left)
            }
        };
        sizes.push(set.replicas + share);
        added += share;
    }
    // Rounding leftovers go to the first (largest) set.
    if let Some(first) = sizes.first_mut() {
        *first = (*first + to_add - added).max(0);
    }
    for (set, size) in sets.iter_mut().zip(sizes) {
        set.replicas = size.max(0);
    }
}

/// How many replicas `set` gains or loses when the deployment moves to `desired` (upstream
/// `getReplicaSetFraction`).
fn fraction(set: &SetView, desired: i32, max_surge: i32, status_replicas: i32) -> i32 {
    if desired == 0 {
        return -set.replicas;
    }
    let deployment_replicas = desired.saturating_add(max_surge);
    let annotated = set.max_replicas.unwrap_or(status_replicas);
    if annotated == 0 {
        return 0;
    }
    let size = f64::from(set.replicas) * f64::from(deployment_replicas) / f64::from(annotated);
    // The result is bounded by the i32 inputs' ratio; the cast cannot overflow in practice.
    #[allow(clippy::cast_possible_truncation)]
    let rounded = size.round() as i32;
    rounded - set.replicas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, created: i64, replicas: i32, available: i32) -> SetView {
        SetView {
            name: name.to_owned(),
            created: Timestamp::from_second(created).ok(),
            replicas,
            available,
            max_replicas: None,
        }
    }

    #[test]
    fn the_new_replica_set_grows_within_max_surge() {
        // (desired, surge, total, new, want)
        let cases = [
            (10, 3, 10, 0, Some(3)),
            (10, 3, 13, 3, None),
            (10, 3, 11, 3, Some(5)),
            (10, 0, 10, 0, None),
            (10, 3, 5, 8, Some(10)),
            (3, 1, 5, 4, Some(3)),
            (3, 1, 3, 3, None),
        ];
        for (desired, surge, total, new, want) in cases {
            assert_eq!(
                reconcile_new(desired, surge, total, new),
                want,
                "{desired} {surge} {total} {new}"
            );
        }
    }

    #[test]
    fn old_replica_sets_shrink_within_max_unavailable() {
        // desired 10, maxUnavailable 2: min available 8.
        // (old sets (replicas, available), new (replicas, available), want old sizes)
        // (old sets (replicas, available), new (replicas, available), want old sizes)
        type Case<'a> = (&'a [(i32, i32)], (i32, i32), &'a [i32]);
        let cases: &[Case] = &[
            // New set not available yet: only 2 old pods may go.
            (&[(10, 10)], (3, 0), &[8]),
            // New set has 3 available: 13 pods, 13 available, keep 8 → drop 5.
            (&[(10, 10)], (3, 3), &[5]),
            // Unavailable old pods go first, at no availability cost: 4 of them, then 1 more.
            (&[(10, 6)], (3, 3), &[5]),
            // Oldest set first.
            (&[(2, 2), (8, 8)], (3, 3), &[0, 5]),
            // Nothing may go: at the minimum.
            (&[(8, 8)], (2, 0), &[8]),
        ];
        for (old, (new_replicas, new_available), want) in cases {
            let mut views: Vec<SetView> = old
                .iter()
                .enumerate()
                .map(|(i, (replicas, available))| {
                    set(
                        &format!("old{i}"),
                        i64::try_from(i).unwrap_or(0),
                        *replicas,
                        *available,
                    )
                })
                .collect();
            let new = set("new", 100, *new_replicas, *new_available);
            let changed = scale_down_old(10, 2, &mut views, &new);
            let got: Vec<i32> = views.iter().map(|set| set.replicas).collect();
            assert_eq!(&got, want, "{old:?} {new_replicas}/{new_available}");
            assert_eq!(
                changed,
                old.iter().map(|(r, _)| *r).collect::<Vec<_>>() != got
            );
        }
    }

    #[test]
    fn scaling_mid_rollout_keeps_proportions() {
        // Upstream's example: 10 replicas, surge 3, old 8 / new 5 (13 = 10 + 3); scaled to 15
        // (18 allowed): 5 more pods split ~8:5.
        let mut sets = vec![set("old", 1, 8, 8), set("new", 2, 5, 0)];
        for set in &mut sets {
            set.max_replicas = Some(13);
        }
        proportional(15, 3, 13, &mut sets);
        let mut got: Vec<(String, i32)> = sets
            .iter()
            .map(|set| (set.name.clone(), set.replicas))
            .collect();
        got.sort();
        assert_eq!(got, vec![("new".to_owned(), 7), ("old".to_owned(), 11)]);

        // Scaling to zero empties every set.
        proportional(0, 0, 18, &mut sets);
        assert!(sets.iter().all(|set| set.replicas == 0), "{sets:?}");
    }
}
