//! Several hosts on one machine, for multi-node tests: network namespaces
//! joined by veth pairs to one Linux bridge in the root namespace, which is
//! their gateway (RUNTIME-NOTES.md, "Several nodes on one machine").
//!
//! Everything is named after the lab, so a lab left behind by a killed run
//! is removed by the next one with the same name before it starts; dropping
//! the lab kills what still runs in its namespaces and removes them.

use std::net::Ipv4Addr;
use std::process::{Command, Output};

use crate::{Error, Result};

/// One host of a lab.
#[derive(Debug, Clone)]
pub struct LabHost {
    /// Its network namespace (`ip netns exec NETNS …` runs a program there).
    pub netns: String,
    /// Its address on the lab's network.
    pub ip: Ipv4Addr,
    /// The root namespace's end of its veth pair (down = the host is cut off).
    pub link: String,
}

/// A bridge `NAME` with address 10.201.`octet`.1/24 and hosts `NAME-0` …
/// at .2, .3, … each with a default route via the bridge.
#[derive(Debug)]
pub struct NetnsLab {
    bridge: String,
    gateway: Ipv4Addr,
    hosts: Vec<LabHost>,
}

impl NetnsLab {
    /// Creates the lab (after removing any leftover of the same name).
    /// `name` must be at most 10 characters (interface names are ≤ 15).
    pub fn create(name: &str, octet: u8, hosts: usize) -> Result<Self> {
        let gateway = Ipv4Addr::new(10, 201, octet, 1);
        let hosts = (0..hosts)
            .map(|i| LabHost {
                netns: format!("{name}-{i}"),
                ip: Ipv4Addr::new(10, 201, octet, 2 + i as u8),
                link: format!("{name}v{i}"),
            })
            .collect();
        let lab = NetnsLab {
            bridge: name.to_string(),
            gateway,
            hosts,
        };
        lab.remove();
        lab.build()?;
        Ok(lab)
    }

    fn build(&self) -> Result<()> {
        let gw = format!("{}/24", self.gateway);
        ip(&["link", "add", &self.bridge, "type", "bridge"])?;
        ip(&["addr", "add", &gw, "dev", &self.bridge])?;
        ip(&["link", "set", &self.bridge, "up"])?;
        for host in &self.hosts {
            let addr = format!("{}/24", host.ip);
            let gateway = self.gateway.to_string();
            ip(&["netns", "add", &host.netns])?;
            ip(&[
                "link",
                "add",
                &host.link,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &host.netns,
            ])?;
            ip(&["link", "set", &host.link, "master", &self.bridge, "up"])?;
            let inside = |args: &[&str]| {
                let mut all = vec!["netns", "exec", &host.netns, "ip"];
                all.extend_from_slice(args);
                ip(&all)
            };
            inside(&["addr", "add", &addr, "dev", "eth0"])?;
            inside(&["link", "set", "eth0", "up"])?;
            inside(&["link", "set", "lo", "up"])?;
            inside(&["route", "add", "default", "via", &gateway])?;
        }
        Ok(())
    }

    /// The root namespace's address on the lab network.
    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// The hosts.
    pub fn hosts(&self) -> &[LabHost] {
        &self.hosts
    }

    /// `program` to be run inside host `index`'s network namespace. Through
    /// nsenter, not `ip netns exec`: that one also remounts /sys, which hides
    /// the cgroup hierarchies containerd and runc need.
    pub fn command(&self, index: usize, program: &str) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net=/run/netns/{}", self.hosts[index].netns))
            .arg("--")
            .arg(program);
        command
    }

    /// Connects (`true`) or cuts off (`false`) host `index`.
    pub fn set_link(&self, index: usize, up: bool) -> Result<()> {
        let state = if up { "up" } else { "down" };
        ip(&["link", "set", &self.hosts[index].link, state]).map(|_| ())
    }

    /// Kills whatever runs in the hosts' namespaces, deletes them and the
    /// bridge. Errors are ignored: parts may already be gone.
    fn remove(&self) {
        for host in &self.hosts {
            if let Ok(out) = Command::new("ip")
                .args(["netns", "pids", &host.netns])
                .output()
            {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = Command::new("ip")
                .args(["netns", "del", &host.netns])
                .output();
            let _ = Command::new("ip")
                .args(["link", "del", &host.link])
                .output();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .output();
    }
}

impl Drop for NetnsLab {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Runs `ip ARGS`, failing with its stderr.
fn ip(args: &[&str]) -> Result<Output> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|source| Error::Io {
            what: "running ip".into(),
            source,
        })?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(Error::Io {
            what: format!("ip {}", args.join(" ")),
            source: std::io::Error::other(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        })
    }
}
