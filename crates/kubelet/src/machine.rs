//! Facts about this machine for the Node object: capacity, addresses,
//! system info. Parsing is pure; the readers only open /proc and /etc.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::Path;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// How many pods a node takes (upstream's default `--max-pods`).
pub const MAX_PODS: u32 = 110;

/// The machine's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    /// CPUs.
    pub cpus: usize,
    /// Memory in bytes.
    pub memory_bytes: u64,
    /// Bytes on the filesystem holding the data dir.
    pub storage_bytes: u64,
}

impl Capacity {
    /// As a Node's capacity map.
    pub fn to_quantities(&self) -> BTreeMap<String, Quantity> {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(self.cpus.to_string())),
            (
                "memory".to_string(),
                Quantity(format!("{}Ki", self.memory_bytes / 1024)),
            ),
            (
                "ephemeral-storage".to_string(),
                Quantity(format!("{}Ki", self.storage_bytes / 1024)),
            ),
            ("pods".to_string(), Quantity(MAX_PODS.to_string())),
        ])
    }
}

/// Reads the machine's capacity; `data_dir` decides which filesystem counts.
pub fn capacity(data_dir: &Path) -> Capacity {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let storage = rustix::fs::statvfs(data_dir)
        .map(|s| s.f_blocks.saturating_mul(s.f_frsize))
        .unwrap_or(0);
    Capacity {
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        memory_bytes: meminfo_kib(&meminfo, "MemTotal").unwrap_or(0) * 1024,
        storage_bytes: storage,
    }
}

/// Free memory and disk right now, for the pressure conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Available {
    /// MemAvailable in bytes.
    pub memory_bytes: u64,
    /// Free bytes for unprivileged users on the data dir's filesystem.
    pub storage_bytes: u64,
    /// Total bytes of that filesystem.
    pub storage_total: u64,
    /// Processes running / the pid limit.
    pub pids: (u64, u64),
}

/// Reads what is available now.
pub fn available(data_dir: &Path) -> Available {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let (free, total) = rustix::fs::statvfs(data_dir)
        .map(|s| {
            (
                s.f_bavail.saturating_mul(s.f_frsize),
                s.f_blocks.saturating_mul(s.f_frsize),
            )
        })
        .unwrap_or((0, 0));
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(32768);
    let running = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .count() as u64
        })
        .unwrap_or(0);
    Available {
        memory_bytes: meminfo_kib(&meminfo, "MemAvailable").unwrap_or(0) * 1024,
        storage_bytes: free,
        storage_total: total,
        pids: (running, pid_max),
    }
}

/// A `/proc/meminfo` field in KiB.
pub fn meminfo_kib(meminfo: &str, field: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The address other hosts reach this one at: the source address of the
/// default route (a UDP "connect" sends nothing), else loopback.
pub fn node_ip() -> IpAddr {
    let routed = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|s| {
            s.connect((Ipv4Addr::new(192, 0, 2, 1), 9))?;
            s.local_addr()
        })
        .map(|a| a.ip());
    routed.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Kubernetes' name for this CPU architecture (GOARCH).
pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        other => other,
    }
}

/// `PRETTY_NAME` from an os-release file.
pub fn os_image(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".to_string())
}

/// A file's trimmed content, empty if unreadable.
pub fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_fields_parse_in_kib() {
        let text = "MemTotal:       16303428 kB\nMemFree:  100 kB\nMemAvailable:   8000000 kB\n";
        let cases = [
            ("MemTotal", Some(16_303_428)),
            ("MemAvailable", Some(8_000_000)),
            ("Mem", None),
            ("Swap", None),
        ];
        for (field, want) in cases {
            assert_eq!(meminfo_kib(text, field), want, "{field}");
        }
    }

    #[test]
    fn os_image_reads_pretty_name() {
        assert_eq!(
            os_image("ID=debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)"
        );
        assert_eq!(os_image(""), "Linux");
    }

    #[test]
    fn capacity_quantities_use_kib_and_max_pods() {
        let c = Capacity {
            cpus: 2,
            memory_bytes: 2048 * 1024,
            storage_bytes: 4096,
        };
        let q = c.to_quantities();
        assert_eq!(q["cpu"].0, "2");
        assert_eq!(q["memory"].0, "2048Ki");
        assert_eq!(q["ephemeral-storage"].0, "4Ki");
        assert_eq!(q["pods"].0, "110");
    }
}
