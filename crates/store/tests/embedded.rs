//! The embedded store against the shared conformance suite.

#[macro_use]
mod conformance;

use std::any::Any;
use std::sync::Arc;

use rkube_store::embedded::{EmbeddedOptions, EmbeddedStore};
use rkube_store::Store;

async fn fixture() -> (Arc<dyn Store>, Box<dyn Any + Send>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).expect("open store");
    (Arc::new(store), Box::new(dir))
}

store_conformance!();
