//! Random JSON documents for the patch property tests.

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};

/// A random JSON document without nulls (merge patches cannot express
/// null values), small enough to shrink by reading.
pub(crate) fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    let choice = if depth == 0 {
        rng.random_range(0..4)
    } else {
        rng.random_range(0..6)
    };
    match choice {
        0 => Value::Bool(rng.random()),
        1 => json!(rng.random_range(-3..4)),
        2 => json!(["a", "b", "c"][rng.random_range(0..3)]),
        3 => json!(rng.random_range(0..3) as f64 + 0.5),
        4 => Value::Array(
            (0..rng.random_range(0..3))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        _ => random_object(rng, depth - 1),
    }
}

pub(crate) fn random_object(rng: &mut StdRng, depth: u32) -> Value {
    let mut map = Map::new();
    for _ in 0..rng.random_range(0..4) {
        let key = ["k", "l", "m", "n"][rng.random_range(0..4)].to_string();
        map.insert(key, random_value(rng, depth));
    }
    Value::Object(map)
}
