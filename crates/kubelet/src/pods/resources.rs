//! Container resources → CRI Linux resources, with upstream's conversions
//! (pkg/kubelet/kuberuntime/kuberuntime_container_linux.go): CPU shares from
//! the request (2 minimum), CFS quota from the limit over a 100 ms period,
//! memory limit in bytes.

use k8s_cri::v1::LinuxContainerResources;
use k8s_openapi::api::core::v1::ResourceRequirements;

/// The CFS period upstream uses.
const CPU_PERIOD_US: i64 = 100_000;
/// cgroup v1's lowest cpu.shares.
const MIN_SHARES: i64 = 2;

/// The CRI resources for a container's requirements. `oom_score_adj` is
/// the value to ask for (already clamped by the caller).
pub fn linux_resources(
    resources: Option<&ResourceRequirements>,
    oom_score_adj: i64,
) -> LinuxContainerResources {
    let get = |which: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >,
               name: &str| {
        which
            .and_then(|m| m.get(name))
            .and_then(|q| parse_quantity(&q.0))
    };
    let requests = resources.and_then(|r| r.requests.as_ref());
    let limits = resources.and_then(|r| r.limits.as_ref());
    // A request defaults to the limit (the apiserver does this too).
    let cpu_request = get(requests, "cpu").or_else(|| get(limits, "cpu"));
    let cpu_limit = get(limits, "cpu");
    let memory_limit = get(limits, "memory");
    let millis = |cores: f64| (cores * 1000.0).ceil() as i64;
    LinuxContainerResources {
        cpu_shares: cpu_request.map_or(MIN_SHARES, |c| (millis(c) * 1024 / 1000).max(MIN_SHARES)),
        cpu_period: if cpu_limit.is_some() {
            CPU_PERIOD_US
        } else {
            0
        },
        cpu_quota: cpu_limit.map_or(0, |c| (millis(c) * CPU_PERIOD_US / 1000).max(1000)),
        memory_limit_in_bytes: memory_limit.map_or(0, |m| m.ceil() as i64),
        oom_score_adj,
        ..Default::default()
    }
}

/// A Kubernetes quantity as a number: `500m`, `2`, `1.5`, `128Mi`, `1G`,
/// `1e3`. `None` when it is not one.
pub fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "Pi" => 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "Ei" => 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0,
        exp => {
            let e: i32 = exp.strip_prefix(['e', 'E'])?.parse().ok()?;
            10f64.powi(e)
        }
    };
    Some(number * factor)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use std::collections::BTreeMap;

    #[test]
    fn quantities_parse_with_every_suffix_kind() {
        let cases = [
            ("500m", Some(0.5)),
            ("2", Some(2.0)),
            ("1.5", Some(1.5)),
            ("128Mi", Some(134_217_728.0)),
            ("1G", Some(1e9)),
            ("1e3", Some(1000.0)),
            ("lots", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_quantity(input), want, "{input}");
        }
    }

    #[test]
    fn requests_become_shares_and_limits_become_quota_and_memory() {
        let q = |s: &str| Quantity(s.into());
        let resources = ResourceRequirements {
            requests: Some(BTreeMap::from([("cpu".into(), q("250m"))])),
            limits: Some(BTreeMap::from([
                ("cpu".into(), q("500m")),
                ("memory".into(), q("64Mi")),
            ])),
            ..Default::default()
        };
        let linux = linux_resources(Some(&resources), 0);
        assert_eq!(linux.cpu_shares, 256);
        assert_eq!(linux.cpu_period, 100_000);
        assert_eq!(linux.cpu_quota, 50_000);
        assert_eq!(linux.memory_limit_in_bytes, 64 * 1024 * 1024);

        let none = linux_resources(None, 0);
        assert_eq!(
            (none.cpu_shares, none.cpu_quota, none.memory_limit_in_bytes),
            (2, 0, 0)
        );
    }
}
