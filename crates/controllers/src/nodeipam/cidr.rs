//! The pod-CIDR allocator: the cluster CIDR cut into equal per-node blocks
//! (upstream `pkg/controller/nodeipam/ipam/cidrset/cidr_set.go`). Blocks are
//! handed out round-robin from the last allocation so that a block released
//! by a deleted node is not immediately reused by the next one.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Why a CIDR could not be parsed, allocated or occupied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidrError {
    /// The text is not `a.b.c.d/len` with `len` ≤ 32.
    #[error("invalid CIDR {0:?}")]
    Invalid(String),
    /// The per-node size is not inside the cluster CIDR's size.
    #[error("node mask size /{node} must be between the cluster's /{cluster} and /32")]
    NodeMask {
        /// The cluster CIDR's prefix length.
        cluster: u8,
        /// The requested per-node prefix length.
        node: u8,
    },
    /// Every block is taken (upstream's `ErrCIDRRangeNoCIDRsRemaining`).
    #[error("CIDR range {0} has no CIDRs remaining")]
    Exhausted(Ipv4Net),
    /// The block is not one of this allocator's blocks.
    #[error("{cidr} is not a /{node_prefix} block of {cluster}")]
    OutOfRange {
        /// The offending block.
        cidr: Ipv4Net,
        /// The cluster CIDR.
        cluster: Ipv4Net,
        /// The per-node prefix length.
        node_prefix: u8,
    },
}

/// Parses `a.b.c.d/len` with host bits cleared (`10.42.7.9/16` is
/// `10.42.0.0/16`), as upstream reads `--cluster-cidr` and `spec.podCIDR`.
pub fn parse_cidr(text: &str) -> Result<Ipv4Net, CidrError> {
    text.parse::<Ipv4Net>()
        .map(|net| net.trunc())
        .map_err(|_| CidrError::Invalid(text.to_string()))
}

/// The per-node blocks of one cluster CIDR and which of them are taken.
#[derive(Debug, Clone)]
pub struct CidrSet {
    cluster: Ipv4Net,
    node_prefix: u8,
    used: BTreeSet<u32>,
    next_candidate: u32,
}

impl CidrSet {
    /// An empty set of `/node_prefix` blocks inside `cluster`.
    pub fn new(cluster: Ipv4Net, node_prefix: u8) -> Result<Self, CidrError> {
        if node_prefix < cluster.prefix_len() || node_prefix > 32 {
            return Err(CidrError::NodeMask {
                cluster: cluster.prefix_len(),
                node: node_prefix,
            });
        }
        Ok(CidrSet {
            cluster,
            node_prefix,
            used: BTreeSet::new(),
            next_candidate: 0,
        })
    }

    /// How many blocks the cluster CIDR holds.
    pub fn capacity(&self) -> u64 {
        1u64 << (self.node_prefix - self.cluster.prefix_len())
    }

    fn block(&self, index: u32) -> Ipv4Net {
        let size = 1u64 << (32 - u32::from(self.node_prefix));
        // index < capacity, so the offset stays inside the cluster CIDR.
        let offset = u64::from(index) * size;
        let network = u32::from(self.cluster.network()).wrapping_add(offset as u32);
        Ipv4Net::new_assert(Ipv4Addr::from(network), self.node_prefix)
    }

    fn index_of(&self, cidr: Ipv4Net) -> Result<u32, CidrError> {
        if cidr.prefix_len() != self.node_prefix || !self.cluster.contains(&cidr) {
            return Err(CidrError::OutOfRange {
                cidr,
                cluster: self.cluster,
                node_prefix: self.node_prefix,
            });
        }
        let offset = u32::from(cidr.network()) - u32::from(self.cluster.network());
        Ok(match 32 - u32::from(self.node_prefix) {
            32 => 0,
            shift => offset >> shift,
        })
    }

    /// Takes the next free block after the last one handed out.
    pub fn allocate_next(&mut self) -> Result<Ipv4Net, CidrError> {
        let capacity = self.capacity();
        for step in 0..capacity {
            let index = ((u64::from(self.next_candidate) + step) % capacity) as u32;
            if self.used.insert(index) {
                self.next_candidate = ((u64::from(index) + 1) % capacity) as u32;
                return Ok(self.block(index));
            }
        }
        Err(CidrError::Exhausted(self.cluster))
    }

    /// Marks a block as taken (a node that already has it, seen at start).
    pub fn occupy(&mut self, cidr: Ipv4Net) -> Result<(), CidrError> {
        let index = self.index_of(cidr)?;
        self.used.insert(index);
        Ok(())
    }

    /// Returns a block to the free pool.
    pub fn release(&mut self, cidr: Ipv4Net) -> Result<(), CidrError> {
        let index = self.index_of(cidr)?;
        self.used.remove(&index);
        Ok(())
    }

    /// Whether the block is taken.
    pub fn is_used(&self, cidr: Ipv4Net) -> bool {
        self.index_of(cidr).is_ok_and(|i| self.used.contains(&i))
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
    fn parsing_normalises_host_bits_and_rejects_garbage() {
        let cases = [
            ("10.42.0.0/16", Some("10.42.0.0/16")),
            ("10.42.7.9/16", Some("10.42.0.0/16")),
            ("0.0.0.0/0", Some("0.0.0.0/0")),
            ("10.42.0.0", None),
            ("10.42.0.0/33", None),
            ("10.420.0.0/16", None),
            ("fd00::/64", None),
        ];
        for (input, want) in cases {
            let got = parse_cidr(input).ok().map(|c| c.to_string());
            assert_eq!(got.as_deref(), want, "{input}");
        }
    }

    #[test]
    fn blocks_are_handed_out_in_order_and_not_reused_at_once() {
        let mut set = CidrSet::new(cidr("10.42.0.0/16"), 24).unwrap();
        assert_eq!(set.allocate_next().unwrap(), cidr("10.42.0.0/24"));
        assert_eq!(set.allocate_next().unwrap(), cidr("10.42.1.0/24"));
        set.release(cidr("10.42.0.0/24")).unwrap();
        assert_eq!(set.allocate_next().unwrap(), cidr("10.42.2.0/24"));
    }

    #[test]
    fn occupied_blocks_from_existing_nodes_are_skipped() {
        let mut set = CidrSet::new(cidr("10.42.0.0/16"), 24).unwrap();
        set.occupy(cidr("10.42.0.0/24")).unwrap();
        set.occupy(cidr("10.42.1.0/24")).unwrap();
        assert_eq!(set.allocate_next().unwrap(), cidr("10.42.2.0/24"));
        assert!(set.is_used(cidr("10.42.1.0/24")));
    }

    #[test]
    fn a_full_range_is_an_error_until_a_block_is_released() {
        let mut set = CidrSet::new(cidr("10.0.0.0/30"), 31).unwrap();
        assert_eq!(set.capacity(), 2);
        set.allocate_next().unwrap();
        set.allocate_next().unwrap();
        assert!(matches!(set.allocate_next(), Err(CidrError::Exhausted(_))));
        set.release(cidr("10.0.0.2/31")).unwrap();
        assert_eq!(set.allocate_next().unwrap(), cidr("10.0.0.2/31"));
    }

    #[test]
    fn foreign_blocks_are_out_of_range() {
        let mut set = CidrSet::new(cidr("10.42.0.0/16"), 24).unwrap();
        for foreign in ["10.43.0.0/24", "10.42.0.0/25", "10.42.0.0/16"] {
            assert!(
                matches!(set.occupy(cidr(foreign)), Err(CidrError::OutOfRange { .. })),
                "{foreign}"
            );
        }
    }

    #[test]
    fn node_masks_outside_the_cluster_size_are_refused() {
        for node in [8, 15, 33] {
            assert!(CidrSet::new(cidr("10.42.0.0/16"), node).is_err(), "/{node}");
        }
        assert!(CidrSet::new(cidr("10.42.0.0/16"), 32).is_ok());
    }
}
