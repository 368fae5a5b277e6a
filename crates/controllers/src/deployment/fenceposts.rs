//! maxSurge and maxUnavailable as pod counts (upstream `ResolveFenceposts`, `MaxSurge`,
//! `MaxUnavailable` in `pkg/controller/deployment/util/deployment_util.go`).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Upstream's default for both values.
const DEFAULT: &str = "25%";

/// A value like `3` or `"25%"` scaled against `total`: percentages round up for maxSurge and
/// down for maxUnavailable (upstream `GetScaledValueFromIntOrPercent`). Malformed values
/// count as 0 (validation rejects them before they get here).
pub fn scaled(value: &IntOrString, total: i32, round_up: bool) -> i32 {
    match value {
        IntOrString::Int(n) => *n,
        IntOrString::String(text) => {
            let parsed = text
                .strip_suffix('%')
                .and_then(|digits| digits.parse::<i64>().ok());
            let Some(percent) = parsed else {
                return text.parse().unwrap_or(0);
            };
            let product = percent * i64::from(total);
            let value = if round_up {
                (product + 99).div_euclid(100)
            } else {
                product.div_euclid(100)
            };
            i32::try_from(value).unwrap_or(i32::MAX)
        }
    }
}

/// (maxSurge, maxUnavailable) for `desired` replicas; both 0 would never progress, so
/// maxUnavailable becomes 1 (upstream `ResolveFenceposts`).
pub fn resolve(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> (i32, i32) {
    let default = IntOrString::String(DEFAULT.to_owned());
    let surge = scaled(max_surge.unwrap_or(&default), desired, true);
    let unavailable = scaled(max_unavailable.unwrap_or(&default), desired, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// The deployment uses the RollingUpdate strategy (the default).
pub fn is_rolling_update(deployment: &Deployment) -> bool {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.strategy.as_ref())
        .and_then(|strategy| strategy.type_.as_deref())
        .is_none_or(|kind| kind == "RollingUpdate")
}

/// `spec.replicas` (1 when unset).
pub fn desired(deployment: &Deployment) -> i32 {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1)
}

fn fenceposts(deployment: &Deployment) -> (i32, i32) {
    let rolling = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.strategy.as_ref())
        .and_then(|strategy| strategy.rolling_update.as_ref());
    resolve(
        rolling.and_then(|rolling| rolling.max_surge.as_ref()),
        rolling.and_then(|rolling| rolling.max_unavailable.as_ref()),
        desired(deployment),
    )
}

/// How many pods above `spec.replicas` a rollout may run (0 for Recreate).
pub fn max_surge(deployment: &Deployment) -> i32 {
    if !is_rolling_update(deployment) {
        return 0;
    }
    fenceposts(deployment).0
}

/// How many of `spec.replicas` may be unavailable during a rollout (0 for Recreate), at most
/// `spec.replicas`.
pub fn max_unavailable(deployment: &Deployment) -> i32 {
    let desired = desired(deployment);
    if !is_rolling_update(deployment) || desired == 0 {
        return 0;
    }
    fenceposts(deployment).1.min(desired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> IntOrString {
        IntOrString::String(value.to_owned())
    }

    #[test]
    fn fenceposts_round_like_upstream() {
        let cases = [
            (Some(text("25%")), Some(text("25%")), 10, (3, 2)),
            (Some(text("25%")), Some(text("25%")), 3, (1, 0)),
            (Some(text("25%")), Some(text("25%")), 1, (1, 0)),
            (
                Some(IntOrString::Int(0)),
                Some(IntOrString::Int(0)),
                5,
                (0, 1),
            ),
            (Some(text("0%")), Some(text("0%")), 5, (0, 1)),
            (Some(IntOrString::Int(2)), Some(text("50%")), 5, (2, 2)),
            (None, None, 4, (1, 1)),
            (Some(text("100%")), Some(text("0%")), 3, (3, 0)),
        ];
        for (surge, unavailable, desired, want) in cases {
            assert_eq!(
                resolve(surge.as_ref(), unavailable.as_ref(), desired),
                want,
                "{surge:?} {unavailable:?} of {desired}"
            );
        }
    }
}
