//! RFC 9457 problem details. Every error the service returns goes through
//! `ApiError`; one table maps each error code to its HTTP status.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use warden_domain::DomainError;
use warden_store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidInput,
    MalformedBody,
    UnsupportedMediaType,
    PayloadTooLarge,
    Unauthenticated,
    TwoFactorRequired,
    Forbidden,
    NotFound,
    Conflict,
    RateLimited,
    Internal,
}

impl Code {
    /// The one table from error code to status and title.
    pub fn meta(self) -> (StatusCode, &'static str, &'static str) {
        use Code::*;
        match self {
            InvalidInput => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                "The request contains invalid values",
            ),
            MalformedBody => (
                StatusCode::BAD_REQUEST,
                "malformed-body",
                "The request body could not be read",
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported content type",
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "The request body is too large",
            ),
            Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            TwoFactorRequired => (
                StatusCode::UNAUTHORIZED,
                "two-factor-required",
                "Two-factor authentication required",
            ),
            Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Conflict => (
                StatusCode::CONFLICT,
                "conflict",
                "Conflict with the current state",
            ),
            RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many attempts",
            ),
            Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: Code,
    pub detail: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// URI reference identifying the problem type, e.g. `/problems/invalid-input`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The input field at fault, as a path (`level`, `ratings.crime`, `features[2].geometry`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A list of field errors (one today; a list so clients need not change later).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        ApiError {
            code,
            detail: detail.into(),
            field: None,
            retry_after: None,
        }
    }
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        let field = field.into();
        let detail = detail.into();
        ApiError {
            code: Code::InvalidInput,
            detail: format!("{field}: {detail}"),
            field: Some(field),
            retry_after: None,
        }
    }
    /// The detail without the `field: ` it starts with for invalid input.
    pub fn message(&self) -> &str {
        self.field
            .as_deref()
            .and_then(|f| self.detail.strip_prefix(f))
            .and_then(|rest| rest.strip_prefix(": "))
            .unwrap_or(&self.detail)
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::new(Code::NotFound, format!("{} not found", what.into()))
    }
    pub fn forbidden(why: impl Into<String>) -> Self {
        ApiError::new(Code::Forbidden, why)
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        ApiError::new(
            Code::Internal,
            "an internal error occurred; it has been logged",
        )
    }
    pub fn status(&self) -> StatusCode {
        self.code.meta().0
    }
    pub fn problem(&self) -> Problem {
        let (status, slug, title) = self.code.meta();
        Problem {
            kind: format!("/problems/{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail: self.detail.clone(),
            field: self.field.clone(),
            errors: self
                .field
                .iter()
                .map(|f| FieldError {
                    field: f.clone(),
                    message: self.detail.clone(),
                })
                .collect(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).expect("serialisable");
        let mut resp = (
            self.status(),
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, s.into());
        }
        resp
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { field, message } => ApiError::invalid(field, message),
            DomainError::Forbidden(m) => ApiError::new(Code::Forbidden, m),
            DomainError::Conflict(m) => ApiError::new(Code::Conflict, m),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(w) => ApiError::not_found(w),
            StoreError::Conflict(m) => ApiError::new(Code::Conflict, m),
            StoreError::Invalid { field, message } => ApiError::invalid(field, message),
            StoreError::Backend(m) => ApiError::internal(m),
        }
    }
}

impl From<warden_geo::GeoError> for ApiError {
    fn from(e: warden_geo::GeoError) -> Self {
        ApiError::invalid(e.path.to_string(), e.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
