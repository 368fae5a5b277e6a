//! OpenAPI v2 and v3 documents of the served resources, good enough for
//! `kubectl explain` (it reads `/openapi/v3`) and for `kubectl apply`'s
//! default `--validate=true` (it checks the v3 PATCH operations for the
//! `fieldValidation` parameter and then leaves validation to the server),
//! and carrying the patch merge keys kubectl's client-side apply uses.
//!
//! [`OpenApi::build`] derives every document from a [`Catalog`] once and
//! keeps them as bytes; [`SharedOpenApi`] builds them on first use and
//! rebuilds them when the server replaces the catalog (custom resources).
//!
//! # Mounting
//!
//! ```no_run
//! use rkube_apiserver::openapi::{self, SharedOpenApi};
//! # fn app(catalog: rkube_api::Catalog, new_catalog: rkube_api::Catalog) -> axum::Router {
//! let docs = SharedOpenApi::new(catalog);
//! let router = axum::Router::new()
//!     // ... the API routes ...
//!     .merge(openapi::router(docs.clone()));
//! // later, after the catalog changed:
//! docs.replace(new_catalog);
//! // and for fieldValidation, off the async runtime:
//! let unknown = docs.current().unknown_fields("apps", "v1", "Deployment", &serde_json::json!({}));
//! # router
//! # }
//! ```
//!
//! A server not built on axum calls [`serve`] first for each request (it
//! answers `None` for other paths):
//!
//! ```no_run
//! # async fn handle(docs: &rkube_apiserver::openapi::SharedOpenApi, req: http::Request<()>) {
//! if let Some(response) = rkube_apiserver::openapi::serve(docs, &req).await {
//!     // send `response` (an `http::Response<bytes::Bytes>`)
//! }
//! # }
//! ```
//!
//! Both serve `GET /openapi/v2` (JSON, or gnostic's protobuf when that is
//! what the client accepts, as client-go does), `GET /openapi/v3` (the
//! index: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=…"}}}`)
//! and `GET /openapi/v3/<api/v1 | apis/<group>/<version>>`. Authentication
//! is the caller's job: mount the router behind the same layers as the API.

mod definitions;
mod documents;
mod duplicate_fields;
mod handlers;
mod paths;
mod protobuf;
mod unknown_fields;

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, OnceLock, RwLock};

use bytes::Bytes;
use rkube_api::Catalog;
use serde_json::{json, Map, Value};

pub use duplicate_fields::duplicate_fields;
pub use handlers::{respond, router, serve};

/// One group-version's v3 document.
#[derive(Debug, Clone)]
pub struct GroupVersionDocument {
    /// The JSON document.
    pub body: Bytes,
    /// Its content hash, the `?hash=` of its URL and its ETag.
    pub hash: String,
}

/// Every OpenAPI document of one catalog, serialised once.
#[derive(Debug, Clone)]
pub struct OpenApi {
    definitions: Arc<definitions::Definitions>,
    v2: Bytes,
    v2_protobuf: Bytes,
    v2_hash: String,
    v3_index: Bytes,
    group_versions: HashMap<String, GroupVersionDocument>,
}

impl OpenApi {
    /// Builds the documents of every resource in `catalog`.
    pub fn build(catalog: &Catalog) -> Self {
        let definitions = definitions::Definitions::build(catalog);
        let groups = documents::group_versions(catalog, &definitions);
        let v2_document = documents::v2_document(&groups, &definitions);
        let v2 = to_bytes(&v2_document);
        let v2_protobuf = Bytes::from(protobuf::encode_document(&v2_document));
        let mut group_versions = HashMap::new();
        let mut index = Map::new();
        for group in &groups {
            let body = to_bytes(&documents::v3_document(group, &definitions));
            let hash = content_hash(&body);
            index.insert(
                group.key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{}?hash={hash}", group.key)}),
            );
            group_versions.insert(group.key.clone(), GroupVersionDocument { body, hash });
        }
        OpenApi {
            definitions: Arc::new(definitions),
            v2_hash: content_hash(&v2),
            v2,
            v2_protobuf,
            v3_index: to_bytes(&json!({"paths": index})),
            group_versions,
        }
    }

    /// The Swagger 2.0 document (JSON).
    pub fn v2(&self) -> &Bytes {
        &self.v2
    }

    /// The Swagger 2.0 document as gnostic's `openapi.v2.Document` protobuf,
    /// which client-go asks for.
    pub fn v2_protobuf(&self) -> &Bytes {
        &self.v2_protobuf
    }

    /// The hash of the v2 document, its ETag.
    pub fn v2_hash(&self) -> &str {
        &self.v2_hash
    }

    /// The v3 index (JSON).
    pub fn v3_index(&self) -> &Bytes {
        &self.v3_index
    }

    /// The fields of `object` that the schema of its kind does not declare,
    /// as upstream's strict decoding names them
    /// (`spec.template.spec.containers[0].bogus`); empty for kinds without a
    /// published schema. `fieldValidation=Strict` answers 400 BadRequest
    /// with `strict decoding error: unknown field "<path>", unknown field
    /// "<path>"`; `Warn` sends one `Warning: 299 - "unknown field \"<path>\""`
    /// header per field.
    pub fn unknown_fields(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        object: &Value,
    ) -> Vec<String> {
        match self.definitions.name_of(group, version, kind) {
            Some(root) => unknown_fields::unknown_fields(&self.definitions, root, object),
            None => Vec::new(),
        }
    }

    /// The v3 document of `key` (`api/v1`, `apis/apps/v1`).
    pub fn v3_group_version(&self, key: &str) -> Option<&GroupVersionDocument> {
        self.group_versions.get(key)
    }
}

/// The documents of the current catalog, built on first use (building takes
/// a moment, and many servers, tests above all, never serve OpenAPI) and
/// rebuilt after the catalog is replaced.
#[derive(Debug, Clone)]
pub struct SharedOpenApi(Arc<RwLock<Arc<LazyOpenApi>>>);

/// A catalog and, once asked for, its documents.
#[derive(Debug)]
struct LazyOpenApi {
    catalog: Catalog,
    docs: OnceLock<Arc<OpenApi>>,
}

impl SharedOpenApi {
    /// Serves the documents of `catalog`.
    pub fn new(catalog: Catalog) -> Self {
        SharedOpenApi(Arc::new(RwLock::new(Self::slot(catalog))))
    }

    fn slot(catalog: Catalog) -> Arc<LazyOpenApi> {
        Arc::new(LazyOpenApi {
            catalog,
            docs: OnceLock::new(),
        })
    }

    /// The documents now, built if this is the first use since the catalog
    /// was set. Blocks while building: call it off the async runtime.
    pub fn current(&self) -> Arc<OpenApi> {
        let slot = match self.0.read() {
            Ok(slot) => Arc::clone(&slot),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        Arc::clone(
            slot.docs
                .get_or_init(|| Arc::new(OpenApi::build(&slot.catalog))),
        )
    }

    /// Serves the documents of `catalog` from now on (after custom
    /// resources changed).
    pub fn replace(&self, catalog: Catalog) {
        let slot = Self::slot(catalog);
        match self.0.write() {
            Ok(mut current) => *current = slot,
            Err(poisoned) => *poisoned.into_inner() = slot,
        }
    }
}

fn to_bytes(value: &Value) -> Bytes {
    // Serialising a `Value` cannot fail: its keys are strings.
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

/// A content hash for cache keys. Upstream uses SHA-512; clients treat the
/// value as opaque and only compare it, so a 128-bit SipHash pair is enough.
fn content_hash(body: &[u8]) -> String {
    let half = |seed: u64| {
        let mut hasher = DefaultHasher::new();
        seed.hash(&mut hasher);
        body.hash(&mut hasher);
        hasher.finish()
    };
    format!("{:016X}{:016X}", half(0), half(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_lists_every_group_version_with_its_hash() {
        let docs = OpenApi::build(&Catalog::builtin());
        let index: Value = serde_json::from_slice(docs.v3_index()).unwrap_or_default();
        let Some(paths) = index.get("paths").and_then(Value::as_object) else {
            panic!("index has paths: {index}");
        };
        for key in [
            "api/v1",
            "apis/apps/v1",
            "apis/batch/v1",
            "apis/rbac.authorization.k8s.io/v1",
        ] {
            let document = docs.v3_group_version(key);
            let Some(document) = document else {
                panic!("{key} is served");
            };
            assert_eq!(
                paths.get(key).and_then(|p| p.get("serverRelativeURL")),
                Some(&json!(format!("/openapi/v3/{key}?hash={}", document.hash)))
            );
        }
        assert_eq!(
            docs.v3_group_version("apis/nope/v1")
                .map(|d| d.hash.clone()),
            None
        );
    }

    #[test]
    fn unknown_fields_are_found_by_kind() {
        let docs = OpenApi::build(&Catalog::builtin());
        let pod = json!({"spec": {"containers": [{"name": "a", "imagePullPolice": "Always"}]}});
        assert_eq!(
            docs.unknown_fields("", "v1", "Pod", &pod),
            vec!["spec.containers[0].imagePullPolice"]
        );
        assert_eq!(
            docs.unknown_fields("example.com", "v1", "Widget", &pod),
            Vec::<String>::new()
        );
    }

    #[test]
    fn hashes_follow_content() {
        assert_eq!(content_hash(b"a"), content_hash(b"a"));
        assert_ne!(content_hash(b"a"), content_hash(b"b"));
        assert_eq!(content_hash(b"a").len(), 32);
    }

    #[test]
    fn replacing_shared_documents_serves_the_new_ones() {
        let shared = SharedOpenApi::new(Catalog::default());
        assert!(shared.current().v3_group_version("api/v1").is_none());
        shared.replace(Catalog::builtin());
        assert!(shared.current().v3_group_version("api/v1").is_some());
    }
}
