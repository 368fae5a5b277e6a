//! Patch errors and the HTTP status upstream answers each with.

use crate::patch::field_path::FieldPath;
use crate::patch::managed_fields::ManagerId;

/// A field another manager owns that an apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The owning manager, printed like upstream: `"kubectl"` for appliers,
    /// `"kubectl-client-side-apply" using apps/v1` for updaters.
    pub manager: String,
    /// The contested field.
    pub path: FieldPath,
}

impl Conflict {
    pub(crate) fn new(manager: &ManagerId, path: FieldPath) -> Self {
        Conflict {
            manager: manager.printed(),
            path,
        }
    }
}

/// Why a patch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The body is not a well-formed patch of its type (400 BadRequest).
    #[error("{0}")]
    Malformed(String),
    /// A well-formed patch that cannot apply to this object, e.g. a failed
    /// `test` or a path that does not exist (422, like upstream's
    /// `NewGenericServerResponse(StatusUnprocessableEntity, …)`).
    #[error("{0}")]
    CannotApply(String),
    /// More JSON patch operations than upstream allows (413).
    #[error("The allowed maximum operations in a JSON patch is {max}, got {got}")]
    TooManyOperations {
        /// The limit (10,000 upstream).
        max: usize,
        /// Operations in the request.
        got: usize,
    },
    /// The `Content-Type` (held here) is not a patch type (415; upstream's
    /// `NewUnsupportedMediaTypeError` wording, listing the built-in types in
    /// the installer's order).
    #[error("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml")]
    UnsupportedMediaType(String),
    /// A server-side apply would change fields other managers own (409).
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<Conflict>),
}

impl PatchError {
    /// The HTTP status upstream answers with.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::Malformed(_) => 400,
            PatchError::CannotApply(_) => 422,
            PatchError::TooManyOperations { .. } => 413,
            PatchError::UnsupportedMediaType(_) => 415,
            PatchError::Conflicts(_) => 409,
        }
    }
}

/// Result alias of this module.
pub type Result<T, E = PatchError> = std::result::Result<T, E>;

/// Upstream's wording (`fieldmanager/internal/conflict.go`
/// `getConflictMessage`): one conflict on one line, several grouped by
/// manager in sorted order.
fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager, only.path
        );
    }
    let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
    managers.sort_unstable();
    managers.dedup();
    let mut lines = Vec::new();
    for manager in managers {
        lines.push(format!("conflicts with {manager}:"));
        for conflict in conflicts.iter().filter(|c| c.manager == manager) {
            lines.push(format!("- {}", conflict.path));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::field_path::PathElement;

    fn path(fields: &[&str]) -> FieldPath {
        FieldPath::from(
            fields
                .iter()
                .map(|f| PathElement::Field(f.to_string()))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn conflict_messages_match_upstream_wording() {
        let updater = "\"kubectl-client-side-apply\" using apps/v1".to_string();
        let one = PatchError::Conflicts(vec![Conflict {
            manager: updater.clone(),
            path: path(&["spec", "replicas"]),
        }]);
        assert_eq!(
            one.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        );
        let two = PatchError::Conflicts(vec![
            Conflict {
                manager: updater,
                path: path(&["spec", "replicas"]),
            },
            Conflict {
                manager: "\"a\"".to_string(),
                path: path(&["data", "x"]),
            },
        ]);
        assert_eq!(
            two.to_string(),
            "Apply failed with 2 conflicts: conflicts with \"a\":\n- .data.x\nconflicts with \"kubectl-client-side-apply\" using apps/v1:\n- .spec.replicas"
        );
        assert_eq!(two.code(), 409);
    }
}
