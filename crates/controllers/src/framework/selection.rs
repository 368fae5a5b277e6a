//! `--controllers`: which controllers run, in upstream's syntax: `*` is every controller that
//! is on by default, `foo` turns `foo` on, `-foo` turns it off (`*,-garbagecollector`).

use std::collections::BTreeSet;

/// Whether a controller runs when the selection only says `*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultState {
    /// Runs under `*`.
    Enabled,
    /// Runs only when named.
    Disabled,
}

/// A parsed `--controllers` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    defaults: bool,
    enabled: BTreeSet<String>,
    disabled: BTreeSet<String>,
}

impl Default for Selection {
    /// `*`: the default set, upstream's default.
    fn default() -> Self {
        Selection {
            defaults: true,
            enabled: BTreeSet::new(),
            disabled: BTreeSet::new(),
        }
    }
}

/// A `--controllers` value that cannot be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectionError {
    /// An item is empty (`a,,b` or `-`).
    #[error("empty controller name in {0:?}")]
    Empty(String),
    /// An item names no known controller.
    #[error("{0:?} is not a known controller (known: {1})")]
    Unknown(String, String),
}

impl Selection {
    /// Parses `value`, checking names against `known`.
    pub fn parse<'a>(
        value: &str,
        known: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Result<Self, SelectionError> {
        let mut selection = Selection {
            defaults: false,
            enabled: BTreeSet::new(),
            disabled: BTreeSet::new(),
        };
        for item in value.split(',').map(str::trim) {
            if item == "*" {
                selection.defaults = true;
                continue;
            }
            let (name, set) = match item.strip_prefix('-') {
                Some(name) => (name, &mut selection.disabled),
                None => (item, &mut selection.enabled),
            };
            if name.is_empty() {
                return Err(SelectionError::Empty(value.to_owned()));
            }
            if !known.clone().into_iter().any(|known| known == name) {
                let all: Vec<&str> = known.clone().into_iter().collect();
                return Err(SelectionError::Unknown(name.to_owned(), all.join(", ")));
            }
            set.insert(name.to_owned());
        }
        Ok(selection)
    }

    /// Whether the controller `name` runs.
    pub fn runs(&self, name: &str, default: DefaultState) -> bool {
        if self.disabled.contains(name) {
            return false;
        }
        self.enabled.contains(name) || (self.defaults && default == DefaultState::Enabled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: [&str; 3] = ["replicaset", "deployment", "bootstrapsigner"];

    #[test]
    fn selections_follow_upstream_syntax() {
        use DefaultState::{Disabled, Enabled};
        let cases = [
            ("*", "replicaset", Enabled, true),
            ("*", "bootstrapsigner", Disabled, false),
            ("*,bootstrapsigner", "bootstrapsigner", Disabled, true),
            ("*,-replicaset", "replicaset", Enabled, false),
            ("deployment", "replicaset", Enabled, false),
            ("deployment", "deployment", Enabled, true),
            ("-deployment,*", "deployment", Enabled, false),
        ];
        for (value, name, default, want) in cases {
            let selection = Selection::parse(value, KNOWN).unwrap_or_default();
            assert_eq!(selection.runs(name, default), want, "{value} {name}");
        }
    }

    #[test]
    fn unknown_or_empty_names_are_rejected() {
        for value in ["*,nope", "-nope", "a,,b", "-"] {
            assert!(Selection::parse(value, KNOWN).is_err(), "{value}");
        }
    }
}
