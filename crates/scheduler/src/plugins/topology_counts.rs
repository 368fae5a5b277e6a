//! Counts per topology domain (node label key → label value → count), shared
//! by the affinity and spreading plugins. Lookups and increments of existing
//! domains borrow the key and value, so the per-node hot path allocates only
//! when a domain is seen for the first time.

use std::collections::HashMap;

/// Counts per topology domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopologyCounts(HashMap<String, HashMap<String, i64>>);

impl TopologyCounts {
    /// Adds `by` to the domain `key=value`, creating it at 0 first.
    pub fn add(&mut self, key: &str, value: &str, by: i64) {
        let domains = match self.0.get_mut(key) {
            Some(d) => d,
            None => self.0.entry(key.to_string()).or_default(),
        };
        match domains.get_mut(value) {
            Some(count) => *count += by,
            None => {
                domains.insert(value.to_string(), by);
            }
        }
    }

    /// The domain's count, if the domain is known.
    pub fn get(&self, key: &str, value: &str) -> Option<i64> {
        self.0.get(key).and_then(|d| d.get(value)).copied()
    }

    /// Mutable access to a known domain's count.
    pub fn get_mut(&mut self, key: &str, value: &str) -> Option<&mut i64> {
        self.0.get_mut(key).and_then(|d| d.get_mut(value))
    }

    /// The known domains of a key and their counts.
    pub fn domains(&self, key: &str) -> Option<&HashMap<String, i64>> {
        self.0.get(key)
    }

    /// Every key with its domains.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &HashMap<String, i64>)> {
        self.0.iter()
    }

    /// True when no domain has a positive count.
    pub fn all_zero(&self) -> bool {
        self.0.values().flat_map(|d| d.values()).all(|c| *c <= 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accumulate_per_domain() {
        let mut c = TopologyCounts::default();
        assert!(c.all_zero());
        c.add("zone", "a", 1);
        c.add("zone", "a", 2);
        c.add("zone", "b", 0);
        assert_eq!(
            (c.get("zone", "a"), c.get("zone", "b"), c.get("zone", "c")),
            (Some(3), Some(0), None)
        );
        assert_eq!(c.domains("zone").map(|d| d.len()), Some(2));
        assert!(!c.all_zero());
        if let Some(v) = c.get_mut("zone", "b") {
            *v += 5;
        }
        assert_eq!(c.get("zone", "b"), Some(5));
    }
}
