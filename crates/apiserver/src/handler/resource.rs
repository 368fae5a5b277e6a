//! Resource requests: find the catalog row, then call the one generic
//! registry for the verb and subresource.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use rkube_api::{ResourceDef, Scope, Subresource, WriteScope};
use serde_json::{json, Map, Value};

use super::field_validation::{self, FieldValidation};
use super::ApiServer;
use crate::negotiation::{self, json_response, Body, Output};
use crate::registry::{
    self, DeleteOptions, Deleted, Filter, ListOptions, ListPage, ObjectRef, Query, WriteOptions,
};
use crate::request_info::{ResourceRequest, Verb};
use crate::status::{ApiError, ApiResult};
use crate::table::{self, Headers, IncludeObject};

/// Everything a verb handler needs about the request.
pub(super) struct Call<'a> {
    pub api: &'a ApiServer,
    pub def: &'a Arc<ResourceDef>,
    pub namespace: Option<&'a str>,
    pub query: &'a Query,
    pub output: Output,
}

fn param<'a>(query: &'a Query, name: &str) -> Option<&'a str> {
    query
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn subresource_of(def: &ResourceDef, name: &str) -> Option<Subresource> {
    def.subresources.iter().copied().find(|s| s.path() == name)
}

pub(super) async fn handle<B>(
    api: &ApiServer,
    req: Request<B>,
    r: &ResourceRequest,
    query: &Query,
    user: Option<&crate::authn::User>,
) -> ApiResult<Response<Body>>
where
    B: hyper::body::Body<Data = bytes::Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let def = api
        .registry
        .catalog()
        .get(&r.group, &r.version, &r.resource)
        .ok_or_else(ApiError::no_such_path)?
        .clone();
    if def.scope == Scope::Cluster && r.namespace.is_some() {
        return Err(ApiError::no_such_path());
    }
    let needs_namespace = def.scope == Scope::Namespaced
        && !matches!(r.verb, Verb::List | Verb::Watch | Verb::DeleteCollection);
    if needs_namespace && r.namespace.is_none() {
        return Err(match r.verb {
            Verb::Create => ApiError::method_not_allowed(req.method()),
            _ => ApiError::no_such_path(),
        });
    }
    let sub = match &r.subresource {
        None => None,
        Some(s) => Some(subresource_of(&def, s).ok_or_else(ApiError::no_such_path)?),
    };
    let output = negotiation::output(req.headers());
    let media = negotiation::request_media_type(req.headers());
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let method = req.method().clone();
    let user_agent = req
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if let Some(verb) = api_verb(r.verb, sub.is_some()) {
        if !def.allows(verb) {
            return Err(ApiError::method_not_allowed(&method));
        }
    }
    if let Some(stream) = sub.and_then(super::pod_streams::PodStream::of) {
        return super::pod_streams::handle(api, req, &def, r, stream, query).await;
    }
    let body = match r.verb {
        Verb::Create | Verb::Update | Verb::Patch | Verb::Delete | Verb::DeleteCollection => {
            negotiation::read_body(req.into_body()).await?
        }
        _ => bytes::Bytes::new(),
    };
    let call = Call {
        api,
        def: &def,
        namespace: r.namespace.as_deref(),
        query,
        output,
    };
    let name = r.name.as_deref().unwrap_or("");
    let obj_ref = ObjectRef {
        def: &def,
        namespace: r.namespace.as_deref(),
        name,
    };
    let object = |bytes: &[u8]| negotiation::decode(bytes, media.clone()?);
    match (sub, r.verb) {
        (None, Verb::Get) => get(&call, &obj_ref).await,
        (None, Verb::List) => list(&call).await,
        (None | Some(Subresource::Status), Verb::Watch) => {
            super::watch::watch(&call, r.name.as_deref()).await
        }
        (None, Verb::Create) => {
            let (mut obj, warnings) = checked_object(&call, &body, media.clone()?).await?;
            super::csr::record_requester(&def, &mut obj, user);
            let created = api
                .registry
                .create(
                    &def,
                    r.namespace.as_deref(),
                    obj,
                    &write_opts(query, &user_agent)?,
                )
                .await?;
            let mut response = object_response(&call, StatusCode::CREATED, created);
            field_validation::add_warnings(&mut response, &warnings);
            Ok(response)
        }
        (None, Verb::Update) => {
            let (obj, warnings) = checked_object(&call, &body, media.clone()?).await?;
            let mut response = update(
                &call,
                &obj_ref,
                WriteScope::Main,
                obj,
                write_opts(query, &user_agent)?,
            )
            .await?;
            field_validation::add_warnings(&mut response, &warnings);
            Ok(response)
        }
        // Approval writes conditions, status the certificate: both only
        // the status (upstream keeps them apart with two strategies).
        (Some(Subresource::Status | Subresource::Approval), Verb::Update) => {
            update(
                &call,
                &obj_ref,
                WriteScope::Status,
                object(&body)?,
                write_opts(query, &user_agent)?,
            )
            .await
        }
        (None, Verb::Patch) => {
            super::patch::patch(
                &call,
                &obj_ref,
                WriteScope::Main,
                &content_type,
                &body,
                write_opts(query, &user_agent)?,
            )
            .await
        }
        (Some(Subresource::Status | Subresource::Approval), Verb::Patch) => {
            super::patch::patch(
                &call,
                &obj_ref,
                WriteScope::Status,
                &content_type,
                &body,
                write_opts(query, &user_agent)?,
            )
            .await
        }
        (Some(Subresource::Status | Subresource::Approval), Verb::Get) => {
            get(&call, &obj_ref).await
        }
        (None, Verb::Delete) => delete(&call, &obj_ref, &body).await,
        (None, Verb::DeleteCollection) => delete_collection(&call, &body).await,
        (Some(Subresource::Scale), Verb::Get) => {
            let scale = api.registry.get_scale(&obj_ref).await?;
            Ok(json_response(StatusCode::OK, &scale, plain(output)))
        }
        (Some(Subresource::Scale), Verb::Update) => {
            let scale = object(&body)?;
            let updated = api
                .registry
                .update_scale(&obj_ref, &scale, &write_opts(query, &user_agent)?)
                .await?;
            Ok(json_response(StatusCode::OK, &updated, plain(output)))
        }
        (Some(Subresource::Scale), Verb::Patch) => {
            super::patch::patch_scale(
                &call,
                &obj_ref,
                &content_type,
                &body,
                write_opts(query, &user_agent)?,
            )
            .await
        }
        (Some(Subresource::Binding), Verb::Create) => {
            api.registry
                .bind(&obj_ref, &object(&body)?, &write_opts(query, &user_agent)?)
                .await?;
            Ok(success(StatusCode::CREATED))
        }
        (Some(Subresource::Eviction), Verb::Create) => {
            api.registry.evict(&obj_ref, &object(&body)?).await?;
            Ok(success(StatusCode::CREATED))
        }
        (Some(Subresource::Finalize), Verb::Update) => {
            finalize(&call, &obj_ref, object(&body)?).await
        }
        (Some(Subresource::Proxy), _) => {
            // Routed here so clients get a clear answer.
            api.registry.get(&obj_ref).await?;
            Err(ApiError::unavailable(format!(
                "{}/proxy is not implemented by this server yet",
                def.plural
            )))
        }
        _ => Err(ApiError::method_not_allowed(&method)),
    }
}

/// Decodes a create or update body and runs server-side field validation.
async fn checked_object(
    call: &Call<'_>,
    body: &[u8],
    media: negotiation::MediaType,
) -> ApiResult<(Value, Vec<String>)> {
    let mode = FieldValidation::from_query(call.query)?;
    let obj = negotiation::decode(body, media)?;
    let raw_json = (media == negotiation::MediaType::Json).then_some(body);
    let warnings =
        field_validation::check(&call.api.openapi, call.def, raw_json, &obj, mode).await?;
    Ok((obj, warnings))
}

/// The catalog verb a request needs (subresources have their own verbs).
fn api_verb(verb: Verb, subresource: bool) -> Option<rkube_api::Verb> {
    if subresource {
        return None;
    }
    Some(match verb {
        Verb::Get => rkube_api::Verb::Get,
        Verb::List => rkube_api::Verb::List,
        Verb::Watch => rkube_api::Verb::Watch,
        Verb::Create => rkube_api::Verb::Create,
        Verb::Update => rkube_api::Verb::Update,
        Verb::Patch => rkube_api::Verb::Patch,
        Verb::Delete => rkube_api::Verb::Delete,
        Verb::DeleteCollection => rkube_api::Verb::DeleteCollection,
    })
}

/// Write options; the field manager defaults to the user agent's product
/// (`kubectl/v1.32 …` → `kubectl`), as upstream.
fn write_opts(query: &Query, user_agent: &str) -> ApiResult<WriteOptions> {
    let mut opts = WriteOptions::from_query(query)?;
    if opts.field_manager.as_deref().is_none_or(str::is_empty) {
        let product = user_agent.split('/').next().unwrap_or("").trim();
        opts.field_manager = Some(if product.is_empty() {
            "unknown".to_string()
        } else {
            product.to_string()
        });
    }
    Ok(opts)
}

/// Subresource views (Scale, Status results of binding) are never tables.
fn plain(output: Output) -> Output {
    match output {
        Output::Yaml => Output::Yaml,
        _ => Output::Json,
    }
}

fn success(code: StatusCode) -> Response<Body> {
    let mut bytes = crate::status::success_bytes(&crate::status::Details::default());
    // `success_bytes` says 200; creation answers carry their own code.
    if code != StatusCode::OK {
        let text = String::from_utf8_lossy(&bytes)
            .replace("\"code\":200", &format!("\"code\":{}", code.as_u16()));
        bytes = text.into_bytes();
    }
    negotiation::bytes_response(code, "application/json", bytes)
}

/// An object in the representation the client asked for.
pub(super) fn object_response(call: &Call<'_>, code: StatusCode, obj: Value) -> Response<Body> {
    match call.output {
        Output::Table => {
            let include =
                IncludeObject::parse(param(call.query, "includeObject")).unwrap_or_default();
            let mut meta = Map::new();
            meta.insert(
                "resourceVersion".into(),
                Value::String(registry::meta::meta_str(&obj, "resourceVersion").to_string()),
            );
            let t = table::table(call.def, &[Arc::new(obj)], meta, include, Headers::Include);
            json_response(code, &t, Output::Json)
        }
        Output::PartialMetadata => {
            json_response(code, &table::partial_metadata(&obj), Output::Json)
        }
        other => json_response(code, &obj, other),
    }
}

async fn get(call: &Call<'_>, obj_ref: &ObjectRef<'_>) -> ApiResult<Response<Body>> {
    let from_cache = param(call.query, "resourceVersion") == Some("0");
    let obj = if from_cache {
        let cache = call.api.registry.cache(call.def).await?;
        let (obj, _) = cache.get(&obj_ref.key());
        obj.map(|o| (*o).clone())
            .ok_or_else(|| ApiError::not_found(call.def, obj_ref.name))?
    } else {
        call.api.registry.get(obj_ref).await?
    };
    Ok(object_response(call, StatusCode::OK, obj))
}

fn filter(call: &Call<'_>, opts: &ListOptions) -> ApiResult<Filter> {
    Filter::parse(
        call.def,
        opts.label_selector.as_deref(),
        opts.field_selector.as_deref(),
    )
}

fn list_meta(page: &ListPage) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert(
        "resourceVersion".into(),
        Value::String(page.revision.to_string()),
    );
    if let Some(token) = &page.continue_token {
        meta.insert("continue".into(), Value::String(token.clone()));
    }
    if let Some(n) = page.remaining {
        meta.insert("remainingItemCount".into(), Value::from(n));
    }
    meta
}

async fn list(call: &Call<'_>) -> ApiResult<Response<Body>> {
    let opts = ListOptions::from_query(call.query)?;
    let filter = filter(call, &opts)?;
    let page = call
        .api
        .registry
        .list(call.def, call.namespace, &filter, &opts)
        .await?;
    let meta = list_meta(&page);
    let body = match call.output {
        Output::Table => {
            let include = IncludeObject::parse(param(call.query, "includeObject"))?;
            table::table(call.def, &page.items, meta, include, Headers::Include)
        }
        Output::PartialMetadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": meta,
            "items": page.items.iter().map(|o| table::partial_metadata(o)).collect::<Vec<_>>(),
        }),
        _ => json!({
            "kind": format!("{}List", call.def.kind),
            "apiVersion": call.def.api_version(),
            "metadata": meta,
            "items": page.items.iter().map(|o| (**o).clone()).collect::<Vec<_>>(),
        }),
    };
    Ok(json_response(
        StatusCode::OK,
        &body,
        plain_unless_table(call.output),
    ))
}

fn plain_unless_table(output: Output) -> Output {
    match output {
        Output::Yaml => Output::Yaml,
        _ => Output::Json,
    }
}

async fn update(
    call: &Call<'_>,
    obj_ref: &ObjectRef<'_>,
    scope: WriteScope,
    obj: Value,
    opts: WriteOptions,
) -> ApiResult<Response<Body>> {
    let updated = call.api.registry.update(obj_ref, scope, obj, &opts).await?;
    Ok(object_response(call, StatusCode::OK, updated))
}

fn delete_options(call: &Call<'_>, body: &[u8]) -> ApiResult<DeleteOptions> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let media = if body.starts_with(b"k8s\0") {
            negotiation::MediaType::Protobuf
        } else {
            negotiation::MediaType::Json
        };
        Some(negotiation::decode(body, media)?)
    };
    DeleteOptions::from_request(call.query, body.as_ref())
}

async fn delete(
    call: &Call<'_>,
    obj_ref: &ObjectRef<'_>,
    body: &[u8],
) -> ApiResult<Response<Body>> {
    let opts = delete_options(call, body)?;
    let obj = match call.api.registry.delete(obj_ref, &opts).await? {
        Deleted::Removed(obj) | Deleted::Pending(obj) => obj,
    };
    Ok(json_response(StatusCode::OK, &obj, plain(call.output)))
}

async fn delete_collection(call: &Call<'_>, body: &[u8]) -> ApiResult<Response<Body>> {
    let opts = delete_options(call, body)?;
    let list_opts = ListOptions::from_query(call.query)?;
    let filter = filter(call, &list_opts)?;
    let items = call
        .api
        .registry
        .delete_collection(call.def, call.namespace, &filter, &list_opts, &opts)
        .await?;
    let body = json!({
        "kind": format!("{}List", call.def.kind),
        "apiVersion": call.def.api_version(),
        "metadata": {},
        "items": items,
    });
    Ok(json_response(StatusCode::OK, &body, plain(call.output)))
}

/// PUT `namespaces/<name>/finalize`: replaces only `spec.finalizers`.
async fn finalize(
    call: &Call<'_>,
    obj_ref: &ObjectRef<'_>,
    body: Value,
) -> ApiResult<Response<Body>> {
    let opts = WriteOptions::from_query(call.query)?;
    let finalizers = body
        .pointer("/spec/finalizers")
        .cloned()
        .unwrap_or_else(|| json!([]));
    let updated = call
        .api
        .registry
        .finalize_namespace(obj_ref, finalizers, &opts)
        .await?;
    Ok(object_response(call, StatusCode::OK, updated))
}
