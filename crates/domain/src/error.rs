use thiserror::Error;

/// A rule of the domain was broken. `field` names the offending input (a JSON
/// pointer-like path such as `level` or `ratings.crime`) so that the HTTP layer
/// can tell the caller exactly what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The offending input of an `Invalid` error (empty otherwise).
    pub fn field(&self) -> &str {
        match self {
            DomainError::Invalid { field, .. } => field,
            _ => "",
        }
    }

    /// The message without the field name.
    pub fn message(&self) -> String {
        match self {
            DomainError::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}
