//! Why a selector was rejected; the message is upstream's, which the
//! apiserver returns in a 400 BadRequest Status.

/// A label or field selector that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The string form does not parse (`labels.Parse`, `fields.ParseSelector`).
    #[error("{0}")]
    Syntax(String),
    /// A `metav1.LabelSelector` that cannot become a selector
    /// (`LabelSelectorAsSelector`).
    #[error("{0}")]
    Invalid(String),
    /// A field selector names a field the kind does not index.
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}

/// `Result` with a [`SelectorError`].
pub type Result<T, E = SelectorError> = std::result::Result<T, E>;
