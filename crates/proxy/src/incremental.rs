//! Incremental syncs, as upstream's nftables proxier does them
//! (`pkg/proxy/nftables/proxier.go`): once a whole table is in place, a
//! change is applied as one transaction that touches only what differs from
//! the table last applied — new sets and chains are added, chains whose
//! rules changed are flushed and refilled, map elements are deleted and
//! added one by one, and what is gone is emptied, then deleted. nft applies
//! the transaction atomically, like a full replace, but its cost follows
//! the size of the change instead of the number of Services.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use crate::ruleset::{Object, ObjectKind, Ruleset};

/// The transaction that turns table `table` holding `applied` into
/// `wanted`: empty when they are the same, `None` when only a full replace
/// can do it (an object's declaration changed — a hook, a type, a timeout —
/// or a base chain is new).
pub fn transaction(table: &str, applied: &Ruleset, wanted: &Ruleset) -> Option<String> {
    let before: HashMap<(ObjectKind, &str), &Object> = index(applied);
    let after: HashMap<(ObjectKind, &str), &Object> = index(wanted);
    let mut tx = String::new();

    // 1. What is new is declared first: later rules and elements refer to it.
    for object in &wanted.objects {
        match before.get(&(object.kind, object.name.as_str())) {
            Some(old) if old.declaration != object.declaration => return None,
            Some(_) => {}
            None if object.kind == ObjectKind::Chain && !object.declaration.is_empty() => {
                return None
            }
            None => {
                let kind = object.kind.keyword();
                let name = &object.name;
                if object.declaration.is_empty() {
                    let _ = writeln!(tx, "add {kind} ip {table} {name}");
                } else {
                    let declaration = object.declaration.join("; ");
                    let _ = writeln!(tx, "add {kind} ip {table} {name} {{ {declaration}; }}");
                }
            }
        }
    }

    // 2. Contents: chains refilled, map elements swapped one by one.
    for object in &wanted.objects {
        let old = before.get(&(object.kind, object.name.as_str()));
        let name = &object.name;
        match object.kind {
            ObjectKind::Chain => {
                if old.map(|o| &o.items) == Some(&object.items) {
                    continue;
                }
                if old.is_some() {
                    let _ = writeln!(tx, "flush chain ip {table} {name}");
                }
                for rule in &object.items {
                    let _ = writeln!(tx, "add rule ip {table} {name} {rule}");
                }
            }
            ObjectKind::Map => {
                let old_items = old.map(|o| o.items.as_slice()).unwrap_or_default();
                let (removed, added) = element_changes(old_items, &object.items);
                if !removed.is_empty() {
                    let _ = writeln!(
                        tx,
                        "delete element ip {table} {name} {{ {} }}",
                        removed.join(", ")
                    );
                }
                if !added.is_empty() {
                    let _ = writeln!(
                        tx,
                        "add element ip {table} {name} {{ {} }}",
                        added.join(", ")
                    );
                }
            }
            // Affinity sets are filled by the kernel, never by us.
            ObjectKind::Set => {}
        }
    }

    // 3. What is gone: chains emptied first (they refer to each other and to
    //    sets), then everything deleted.
    let gone: Vec<&Object> = applied
        .objects
        .iter()
        .filter(|o| !after.contains_key(&(o.kind, o.name.as_str())))
        .collect();
    for object in gone.iter().filter(|o| o.kind == ObjectKind::Chain) {
        let _ = writeln!(tx, "flush chain ip {table} {}", object.name);
    }
    for object in gone.iter().rev() {
        let _ = writeln!(
            tx,
            "delete {} ip {table} {}",
            object.kind.keyword(),
            object.name
        );
    }
    Some(tx)
}

fn index(ruleset: &Ruleset) -> HashMap<(ObjectKind, &str), &Object> {
    ruleset
        .objects
        .iter()
        .map(|o| ((o.kind, o.name.as_str()), o))
        .collect()
}

/// Map elements (`key : verdict`) to delete (by key) and to add, turning
/// `old` into `new`; a changed verdict is a delete and an add.
fn element_changes<'a>(old: &'a [String], new: &'a [String]) -> (Vec<&'a str>, Vec<&'a str>) {
    let split = |e: &'a String| e.split_once(" : ").unwrap_or((e.as_str(), ""));
    let old: BTreeMap<&str, &str> = old.iter().map(split).collect();
    let new_map: BTreeMap<&str, &str> = new.iter().map(split).collect();
    let removed = old
        .iter()
        .filter(|(key, verdict)| new_map.get(*key) != Some(*verdict))
        .map(|(key, _)| *key)
        .collect();
    let added = new
        .iter()
        .filter(|e| {
            let (key, verdict) = split(e);
            old.get(key) != Some(&verdict)
        })
        .map(String::as_str)
        .collect();
    (removed, added)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(name: &str, rules: &[&str]) -> Object {
        Object {
            kind: ObjectKind::Chain,
            name: name.into(),
            declaration: vec![],
            items: rules.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn map(elements: &[&str]) -> Object {
        Object {
            kind: ObjectKind::Map,
            name: "service-ips".into(),
            declaration: vec!["type ipv4_addr . inet_proto . inet_service : verdict".into()],
            items: elements.iter().map(|e| e.to_string()).collect(),
        }
    }

    fn ruleset(objects: Vec<Object>) -> Ruleset {
        Ruleset {
            text: String::new(),
            rules: 0,
            objects,
        }
    }

    fn lines(tx: Option<String>) -> Vec<String> {
        tx.expect("incremental")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_same_table_needs_nothing() {
        let table = ruleset(vec![
            chain("ep-a", &["dnat to 10.42.0.2:80"]),
            map(&["1.2.3.4 . tcp . 80 : goto svc-a"]),
        ]);
        assert_eq!(transaction("t", &table, &table).as_deref(), Some(""));
    }

    #[test]
    fn a_new_endpoint_adds_its_chain_and_refills_the_dispatch_chain() {
        let before = ruleset(vec![
            chain("ep-a", &["dnat to 10.42.0.2:80"]),
            chain("cluster-x", &["goto ep-a"]),
        ]);
        let after = ruleset(vec![
            chain("ep-a", &["dnat to 10.42.0.2:80"]),
            chain("ep-b", &["dnat to 10.42.0.3:80"]),
            chain(
                "cluster-x",
                &["numgen random mod 2 vmap { 0 : goto ep-a, 1 : goto ep-b }"],
            ),
        ]);
        assert_eq!(
            lines(transaction("t", &before, &after)),
            [
                "add chain ip t ep-b",
                "add rule ip t ep-b dnat to 10.42.0.3:80",
                "flush chain ip t cluster-x",
                "add rule ip t cluster-x numgen random mod 2 vmap { 0 : goto ep-a, 1 : goto ep-b }",
            ]
        );
    }

    #[test]
    fn a_removed_service_loses_its_elements_before_its_chains_are_deleted() {
        let before = ruleset(vec![
            Object {
                kind: ObjectKind::Set,
                name: "affinity-a".into(),
                declaration: vec!["type ipv4_addr".into(), "timeout 10s".into()],
                items: vec![],
            },
            chain(
                "ep-a",
                &["update @affinity-a { ip saddr }", "dnat to 10.42.0.2:80"],
            ),
            chain("svc-x", &["goto ep-a"]),
            map(&[
                "10.43.0.5 . tcp . 80 : goto svc-x",
                "10.43.0.6 . tcp . 80 : goto svc-y",
            ]),
        ]);
        let after = ruleset(vec![map(&["10.43.0.6 . tcp . 80 : goto svc-y"])]);
        assert_eq!(
            lines(transaction("t", &before, &after)),
            [
                "delete element ip t service-ips { 10.43.0.5 . tcp . 80 }",
                "flush chain ip t ep-a",
                "flush chain ip t svc-x",
                "delete chain ip t svc-x",
                "delete chain ip t ep-a",
                "delete set ip t affinity-a",
            ]
        );
    }

    #[test]
    fn new_sets_are_declared_and_changed_verdicts_swapped() {
        let before = ruleset(vec![map(&["10.43.0.5 . tcp . 80 : goto svc-x"])]);
        let after = ruleset(vec![
            Object {
                kind: ObjectKind::Set,
                name: "affinity-a".into(),
                declaration: vec!["type ipv4_addr".into(), "flags dynamic,timeout".into()],
                items: vec![],
            },
            map(&["10.43.0.5 . tcp . 80 : goto reject-chain"]),
        ]);
        assert_eq!(
            lines(transaction("t", &before, &after)),
            [
                "add set ip t affinity-a { type ipv4_addr; flags dynamic,timeout; }",
                "delete element ip t service-ips { 10.43.0.5 . tcp . 80 }",
                "add element ip t service-ips { 10.43.0.5 . tcp . 80 : goto reject-chain }",
            ]
        );
    }

    #[test]
    fn changed_declarations_and_new_base_chains_need_a_full_replace() {
        let base = |hook: &str| Object {
            kind: ObjectKind::Chain,
            name: "nat-output".into(),
            declaration: vec![hook.into()],
            items: vec![],
        };
        let before = ruleset(vec![base(
            "type nat hook output priority -100; policy accept;",
        )]);
        let after = ruleset(vec![base(
            "type nat hook output priority -90; policy accept;",
        )]);
        assert_eq!(transaction("t", &before, &after), None);
        assert_eq!(transaction("t", &ruleset(vec![]), &after), None);
    }
}
