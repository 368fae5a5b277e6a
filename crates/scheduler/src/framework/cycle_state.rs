//! Typed state shared by a plugin's extension points within one scheduling
//! cycle (upstream `framework.CycleState`).
//!
//! Each plugin stores values of its own private type, so the type itself is
//! the key: no string keys, no downcasting by callers.

use std::any::{Any, TypeId};
use std::collections::HashMap;

/// Per-cycle storage keyed by value type.
#[derive(Default)]
pub struct CycleState {
    values: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl CycleState {
    /// An empty state for a new cycle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value`, replacing any earlier value of the same type.
    pub fn write<T: Any + Send + Sync>(&mut self, value: T) {
        self.values.insert(TypeId::of::<T>(), Box::new(value));
    }

    /// The stored value of type `T`, if any.
    pub fn read<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.values
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>())
    }
}

impl std::fmt::Debug for CycleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CycleState")
            .field("values", &self.values.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Counts(u32);
    #[derive(Debug, PartialEq)]
    struct Other(&'static str);

    #[test]
    fn values_are_keyed_by_their_type() {
        let mut state = CycleState::new();
        assert_eq!(state.read::<Counts>(), None);
        state.write(Counts(1));
        state.write(Other("x"));
        state.write(Counts(2));
        assert_eq!(state.read::<Counts>(), Some(&Counts(2)));
        assert_eq!(state.read::<Other>(), Some(&Other("x")));
    }
}
