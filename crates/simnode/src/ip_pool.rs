//! Pod IP allocation on one node, as the CNI host-local IPAM plugin does it:
//! addresses of the node's pod CIDR, skipping the network address, the
//! gateway (the first host, the bridge's address) and the broadcast
//! address, handed out round-robin so a released address is not reused at
//! once.

use std::collections::HashSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network such as `10.42.3.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    network: u32,
    prefix: u8,
}

/// Why a string is not an IPv4 CIDR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IPv4 CIDR like 10.42.0.0/24")]
pub struct BadCidr(pub String);

impl Ipv4Cidr {
    /// The network of `addr` with `prefix` bits (host bits cleared).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, BadCidr> {
        if prefix > 32 {
            return Err(BadCidr(format!("{addr}/{prefix}")));
        }
        Ok(Ipv4Cidr {
            network: u32::from(addr) & mask(prefix),
            prefix,
        })
    }

    /// The `index`-th /24 inside this network, or `None` past its end.
    pub fn nth_slash24(&self, index: usize) -> Option<Ipv4Cidr> {
        let count = 1u64 << 24u8.saturating_sub(self.prefix);
        let index = u64::try_from(index).ok().filter(|i| *i < count)?;
        let base = u64::from(self.network) + (index << 8);
        Some(Ipv4Cidr {
            network: u32::try_from(base).ok()?,
            prefix: 24,
        })
    }

    fn broadcast(&self) -> u32 {
        self.network | !mask(self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for Ipv4Cidr {
    type Err = BadCidr;

    fn from_str(s: &str) -> Result<Self, BadCidr> {
        let bad = || BadCidr(s.to_string());
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        Ipv4Cidr::new(addr, prefix).map_err(|_| bad())
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

/// The pod addresses of one node.
#[derive(Debug, Clone)]
pub struct IpPool {
    cidr: Ipv4Cidr,
    used: HashSet<u32>,
    /// Where the round-robin search starts.
    next: u32,
}

impl IpPool {
    /// An empty pool over `cidr`.
    pub fn new(cidr: Ipv4Cidr) -> Self {
        IpPool {
            cidr,
            used: HashSet::new(),
            next: first_usable(cidr),
        }
    }

    /// The network the pool hands out.
    pub fn cidr(&self) -> Ipv4Cidr {
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
fn first_usable(cidr: Ipv4Cidr) -> u32 {
    if cidr.prefix >= 31 {
        cidr.network
    } else {
        cidr.network + 2
    }
}

fn last_usable(cidr: Ipv4Cidr) -> u32 {
    if cidr.prefix >= 31 {
        cidr.broadcast()
    } else {
        cidr.broadcast() - 1
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
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
            let got = input.parse::<Ipv4Cidr>().ok().map(|c| c.to_string());
            assert_eq!(got.as_deref(), want, "{input}");
        }
    }

    #[test]
    fn nth_slash24_walks_the_network_and_stops_at_its_end() {
        let net = cidr("100.64.0.0/10");
        assert_eq!(net.nth_slash24(0).unwrap().to_string(), "100.64.0.0/24");
        assert_eq!(net.nth_slash24(257).unwrap().to_string(), "100.65.1.0/24");
        assert_eq!(
            net.nth_slash24((1 << 14) - 1).unwrap().to_string(),
            "100.127.255.0/24"
        );
        assert!(net.nth_slash24(1 << 14).is_none());
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
