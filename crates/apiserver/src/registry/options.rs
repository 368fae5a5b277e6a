//! The query parameters and bodies that shape a registry call
//! (`metav1.CreateOptions`, `UpdateOptions`, `DeleteOptions`, `ListOptions`).

use serde_json::Value;

use crate::status::{ApiError, ApiResult};

/// `dryRun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DryRun {
    /// Persist.
    #[default]
    No,
    /// `dryRun=All`: run every step except the write.
    All,
}

/// `propagationPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Delete now; the garbage collector removes dependents later.
    Background,
    /// Keep the object until its dependents are gone (`foregroundDeletion`).
    Foreground,
    /// Leave dependents (`orphan` finalizer).
    Orphan,
}

impl Propagation {
    /// The finalizer that records the policy, as upstream.
    pub fn finalizer(self) -> Option<&'static str> {
        match self {
            Propagation::Background => None,
            Propagation::Foreground => Some("foregroundDeletion"),
            Propagation::Orphan => Some("orphan"),
        }
    }
}

/// `resourceVersionMatch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionMatch {
    /// Any state at least this new.
    NotOlderThan,
    /// Exactly this revision.
    Exact,
}

/// Options of a write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Dry run.
    pub dry_run: DryRun,
    /// `fieldManager`.
    pub field_manager: Option<String>,
}

/// Options of a delete: query parameters merged with a DeleteOptions body.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// Dry run.
    pub dry_run: DryRun,
    /// `gracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
    /// `preconditions.uid`.
    pub precondition_uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub precondition_resource_version: Option<String>,
    /// `propagationPolicy` (or the legacy `orphanDependents`).
    pub propagation: Option<Propagation>,
}

/// Options of a list or watch.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `limit` (0: none).
    pub limit: usize,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub version_match: Option<VersionMatch>,
    /// `timeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// `allowWatchBookmarks`.
    pub allow_bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: Option<bool>,
}

/// Query parameters as pairs.
pub type Query = Vec<(String, String)>;

fn param<'a>(query: &'a Query, name: &str) -> Option<&'a str> {
    query
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn bool_param(query: &Query, name: &str) -> ApiResult<Option<bool>> {
    match param(query, name) {
        None => Ok(None),
        Some("true") | Some("1") | Some("") => Ok(Some(true)),
        Some("false") | Some("0") => Ok(Some(false)),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid value {other:?} for {name}: must be true or false"
        ))),
    }
}

fn dry_run(value: Option<&str>) -> ApiResult<DryRun> {
    match value {
        None | Some("") => Ok(DryRun::No),
        Some("All") => Ok(DryRun::All),
        Some(other) => Err(ApiError::bad_request(format!(
            "dryRun: Unsupported value: \"{other}\": supported values: \"All\""
        ))),
    }
}

impl WriteOptions {
    /// From query parameters.
    pub fn from_query(query: &Query) -> ApiResult<Self> {
        Ok(WriteOptions {
            dry_run: dry_run(param(query, "dryRun"))?,
            field_manager: param(query, "fieldManager").map(String::from),
        })
    }
}

impl DeleteOptions {
    /// From query parameters and an optional JSON `DeleteOptions` body
    /// (the body wins, as upstream decodes it over the query).
    pub fn from_request(query: &Query, body: Option<&Value>) -> ApiResult<Self> {
        let mut opts = DeleteOptions {
            dry_run: dry_run(param(query, "dryRun"))?,
            grace_period_seconds: match param(query, "gracePeriodSeconds") {
                Some(v) => Some(v.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid gracePeriodSeconds {v:?}"))
                })?),
                None => None,
            },
            precondition_uid: None,
            precondition_resource_version: None,
            propagation: match param(query, "propagationPolicy") {
                Some(p) => Some(propagation(p)?),
                None => None,
            },
        };
        if let Some(true) = bool_param(query, "orphanDependents")? {
            opts.propagation.get_or_insert(Propagation::Orphan);
        }
        let Some(body) = body else {
            return Ok(opts);
        };
        if let Some(g) = body.get("gracePeriodSeconds").and_then(Value::as_i64) {
            opts.grace_period_seconds = Some(g);
        }
        if let Some(p) = body.get("propagationPolicy").and_then(Value::as_str) {
            opts.propagation = Some(propagation(p)?);
        }
        if body.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
            opts.propagation.get_or_insert(Propagation::Orphan);
        }
        if let Some(pre) = body.get("preconditions") {
            opts.precondition_uid = pre.get("uid").and_then(Value::as_str).map(String::from);
            opts.precondition_resource_version = pre
                .get("resourceVersion")
                .and_then(Value::as_str)
                .map(String::from);
        }
        if let Some(d) = body.get("dryRun").and_then(Value::as_array) {
            if d.iter().any(|v| v.as_str() == Some("All")) {
                opts.dry_run = DryRun::All;
            }
        }
        Ok(opts)
    }
}

fn propagation(value: &str) -> ApiResult<Propagation> {
    match value {
        "Background" => Ok(Propagation::Background),
        "Foreground" => Ok(Propagation::Foreground),
        "Orphan" => Ok(Propagation::Orphan),
        other => Err(ApiError::bad_request(format!(
            "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
        ))),
    }
}

impl ListOptions {
    /// From query parameters.
    pub fn from_query(query: &Query) -> ApiResult<Self> {
        let non_empty = |name| {
            param(query, name)
                .filter(|v| !v.is_empty())
                .map(String::from)
        };
        let limit = match param(query, "limit") {
            None | Some("") => 0,
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {v:?}")))?
                .max(0) as usize,
        };
        let timeout_seconds = match param(query, "timeoutSeconds") {
            None | Some("") => None,
            Some(v) => Some(
                v.parse()
                    .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {v:?}")))?,
            ),
        };
        let version_match = match param(query, "resourceVersionMatch") {
            None | Some("") => None,
            Some("NotOlderThan") => Some(VersionMatch::NotOlderThan),
            Some("Exact") => Some(VersionMatch::Exact),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\", \"\""
                )))
            }
        };
        Ok(ListOptions {
            label_selector: non_empty("labelSelector"),
            field_selector: non_empty("fieldSelector"),
            limit,
            continue_token: non_empty("continue"),
            resource_version: non_empty("resourceVersion"),
            version_match,
            timeout_seconds,
            allow_bookmarks: bool_param(query, "allowWatchBookmarks")?.unwrap_or(false),
            send_initial_events: bool_param(query, "sendInitialEvents")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Query {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn delete_options_merge_query_and_body() {
        let body =
            serde_json::json!({"propagationPolicy": "Foreground", "preconditions": {"uid": "u"}});
        let opts = DeleteOptions::from_request(&q(&[("gracePeriodSeconds", "0")]), Some(&body))
            .expect("should succeed");
        assert_eq!(opts.grace_period_seconds, Some(0));
        assert_eq!(opts.propagation, Some(Propagation::Foreground));
        assert_eq!(opts.precondition_uid.as_deref(), Some("u"));
    }

    #[test]
    fn bad_parameters_are_bad_requests() {
        assert!(ListOptions::from_query(&q(&[("limit", "x")])).is_err());
        assert!(ListOptions::from_query(&q(&[("resourceVersionMatch", "Newest")])).is_err());
        assert!(WriteOptions::from_query(&q(&[("dryRun", "Some")])).is_err());
        assert!(DeleteOptions::from_request(&q(&[("propagationPolicy", "x")]), None).is_err());
    }

    #[test]
    fn list_options_read_watch_parameters() {
        let opts = ListOptions::from_query(&q(&[
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", "5"),
            ("resourceVersion", "10"),
            ("limit", "2"),
        ]))
        .expect("should succeed");
        assert!(opts.allow_bookmarks);
        assert_eq!(opts.timeout_seconds, Some(5));
        assert_eq!(opts.resource_version.as_deref(), Some("10"));
        assert_eq!(opts.limit, 2);
    }
}
