//! Pod IP allocation on one node, as the CNI host-local IPAM plugin does it:
//! addresses of the node's pod CIDR, skipping the network address, the
//! gateway (the first host, the bridge's address) and the broadcast
//! address, handed out round-robin so a released address is not reused at
//! once.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Parses `a.b.c.d/n` with host bits cleared (`10.42.3.7/24` is
/// `10.42.3.0/24`), as the node's `spec.podCIDR` is read.
pub fn parse_cidr(text: &str) -> Option<Ipv4Net> {
    text.parse::<Ipv4Net>().ok().map(|net| net.trunc())
}

/// The `index`-th /24 inside `net`, or `None` past its end.
pub fn nth_slash24(net: Ipv4Net, index: usize) -> Option<Ipv4Net> {
    net.subnets(24).ok()?.nth(index)
}

/// The pod addresses of one node.
#[derive(Debug, Clone)]
pub struct IpPool {
    cidr: Ipv4Net,
    used: HashSet<u32>,
    /// Where the round-robin search starts.
    next: u32,
}

impl IpPool {
    /// An empty pool over `cidr`.
    pub fn new(cidr: Ipv4Net) -> Self {
        IpPool {
            cidr,
            used: HashSet::new(),
            next: first_usable(cidr),
        }
    }

    /// The network the pool hands out.
    pub fn cidr(&self) -> Ipv4Net {
        self.cidr
    }

    /// A free address, or `None` when the range is full.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        let (first, last) = (first_usable(self.cidr), last_usable(self.cidr));
        if first > last {
            return None;
        }
        let size = last - first + 1;
        let mut candidate = self.next.clamp(first, last);
        for _ in 0..size {
            if self.used.insert(candidate) {
                self.next = if candidate == last {
                    first
                } else {
                    candidate + 1
                };
                return Some(Ipv4Addr::from(candidate));
            }
            candidate = if candidate == last {
                first
            } else {
                candidate + 1
            };
        }
        None
    }

    /// Marks `addr` as taken (a pod that already has it); false when it is
    /// outside the range or already taken.
    pub fn claim(&mut self, addr: Ipv4Addr) -> bool {
        let a = u32::from(addr);
        a >= first_usable(self.cidr) && a <= last_usable(self.cidr) && self.used.insert(a)
    }

    /// Returns `addr` to the pool.
    pub fn release(&mut self, addr: Ipv4Addr) {
        self.used.remove(&u32::from(addr));
    }
}

/// Network address and gateway come first; a /31 or /32 has only what it has.
fn first_usable(cidr: Ipv4Net) -> u32 {
    let network = u32::from(cidr.network());
    if cidr.prefix_len() >= 31 {
        network
    } else {
        network + 2
    }
}

fn last_usable(cidr: Ipv4Net) -> u32 {
    let broadcast = u32::from(cidr.broadcast());
    if cidr.prefix_len() >= 31 {
        broadcast
    } else {
        broadcast - 1
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Net {
        parse_cidr(s).unwrap()
    }

    #[test]
    fn cidrs_parse_and_clear_host_bits() {
        let cases = [
            ("10.42.3.0/24", Some("10.42.3.0/24")),
            ("10.42.3.7/24", Some("10.42.3.0/24")),
            ("100.64.0.0/10", Some("100.64.0.0/10")),
            ("10.0.0.1/32", Some("10.0.0.1/32")),
            ("10.0.0.0/33", None),
            ("fd00::/64", None),
            ("10.0.0.0", None),
        ];
        for (input, want) in cases {
            let got = parse_cidr(input).map(|c| c.to_string());
            assert_eq!(got.as_deref(), want, "{input}");
        }
    }

    #[test]
    fn nth_slash24_walks_the_network_and_stops_at_its_end() {
        let net = cidr("100.64.0.0/10");
        assert_eq!(nth_slash24(net, 0).unwrap().to_string(), "100.64.0.0/24");
        assert_eq!(nth_slash24(net, 257).unwrap().to_string(), "100.65.1.0/24");
        assert_eq!(
            nth_slash24(net, (1 << 14) - 1).unwrap().to_string(),
            "100.127.255.0/24"
        );
        assert!(nth_slash24(net, 1 << 14).is_none());
    }

    #[test]
    fn addresses_skip_network_gateway_and_broadcast() {
        let mut pool = IpPool::new(cidr("10.42.1.0/29"));
        let got: Vec<String> = std::iter::from_fn(|| pool.allocate())
            .map(|a| a.to_string())
            .collect();
        assert_eq!(
            got,
            [
                "10.42.1.2",
                "10.42.1.3",
                "10.42.1.4",
                "10.42.1.5",
                "10.42.1.6"
            ]
        );
    }

    #[test]
    fn released_addresses_are_reused_only_after_the_rest() {
        let mut pool = IpPool::new(cidr("10.42.1.0/29"));
        let a = pool.allocate().unwrap();
        let b = pool.allocate().unwrap();
        pool.release(a);
        assert_eq!(pool.allocate().unwrap().to_string(), "10.42.1.4");
        pool.release(b);
        let rest: Vec<String> = std::iter::from_fn(|| pool.allocate())
            .map(|a| a.to_string())
            .collect();
        assert_eq!(rest, ["10.42.1.5", "10.42.1.6", "10.42.1.2", "10.42.1.3"]);
    }

    #[test]
    fn claimed_addresses_are_not_handed_out() {
        let mut pool = IpPool::new(cidr("10.42.1.0/30"));
        assert!(pool.claim("10.42.1.2".parse().unwrap()));
        assert!(!pool.claim("10.42.1.2".parse().unwrap()), "already taken");
        assert!(
            !pool.claim("10.42.2.2".parse().unwrap()),
            "outside the range"
        );
        assert_eq!(pool.allocate(), None, "a /30 has one usable pod address");
    }
}
