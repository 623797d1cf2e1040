use crate::api::advisories::MeasureDto;
use crate::api::session::UserDto;
use crate::api::Query;
use crate::api::{Body, PageOf, Paging};
use crate::auth::{ApiUser, Authed};
use crate::error::{ApiError, ApiResult, Problem};
use crate::service;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use warden_domain::{CountryCode, Role, RoleGrant, Scope};
use warden_store::{AuditQuery, NewMeasure, NewUser};

fn admin(who: &Authed) -> ApiResult<()> {
    if service::is_admin(who) {
        Ok(())
    } else {
        Err(ApiError::forbidden("this needs the administrator role"))
    }
}

/// The shared catalogue ("basket") of mitigation measures.
#[utoipa::path(get, path = "/api/v1/measures", tag = "admin", responses((status = 200, body = Vec<MeasureDto>)))]
pub async fn list_measures(
    State(state): State<AppState>,
    who: Option<ApiUser>,
) -> ApiResult<Json<Vec<MeasureDto>>> {
    crate::api::areas::check_public(&state, &who)?;
    Ok(Json(
        state
            .store
            .list_measures()
            .await?
            .into_iter()
            .map(MeasureDto::from)
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureRequest {
    pub code: String,
    pub title: String,
    pub description: String,
    pub category: String,
    /// Country-specific measure; omit for the shared basket.
    pub country: Option<String>,
}

/// Add a measure to the catalogue (administrators).
#[utoipa::path(post, path = "/api/v1/measures", tag = "admin", security(("bearer" = [])), request_body = MeasureRequest,
    responses((status = 201, body = MeasureDto), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_measure(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Body(r): Body<MeasureRequest>,
) -> ApiResult<(StatusCode, Json<MeasureDto>)> {
    admin(&who)?;
    for (f, v, max) in [
        ("code", &r.code, 40),
        ("title", &r.title, 200),
        ("category", &r.category, 60),
    ] {
        if v.trim().is_empty() || v.chars().count() > max {
            return Err(ApiError::invalid(f, format!("must be 1-{max} characters")));
        }
    }
    let m = NewMeasure {
        code: r.code.trim().into(),
        title: r.title.trim().into(),
        description: r.description.trim().into(),
        category: r.category.trim().into(),
        country: r.country.as_deref().map(CountryCode::parse).transpose()?,
    };
    Ok((
        StatusCode::CREATED,
        Json(state.store.create_measure(&m, &who.audit()).await?.into()),
    ))
}

/// Users (administrators).
#[utoipa::path(get, path = "/api/v1/users", tag = "admin", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = PageOf<UserDto>), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_users(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Query(p): Query<Paging>,
) -> ApiResult<Json<PageOf<UserDto>>> {
    admin(&who)?;
    Ok(Json(PageOf::map(
        state.store.list_users(&p.request()).await?,
        UserDto::from,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    pub role: String,
    /// `global`, a country code or an area code.
    pub scope: String,
    /// Agency code, to limit the role to one agency.
    pub agency: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRequest {
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub password: String,
    /// Agency code (e.g. UNDP).
    pub agency: Option<String>,
    #[serde(default)]
    pub grants: Vec<GrantRequest>,
    #[serde(default = "default_locale")]
    pub locale: String,
}

fn default_locale() -> String {
    "en".into()
}

/// Validates and creates a user; shared by the API and `warden user add`.
pub async fn create_user_checked(
    state: &AppState,
    r: &UserRequest,
    audit: &warden_store::AuditContext,
) -> ApiResult<warden_store::User> {
    let name = r.username.trim();
    if name.len() < 2
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
    {
        return Err(ApiError::invalid(
            "username",
            "2-64 characters: letters, digits, '.', '_', '-', '@'",
        ));
    }
    if r.display_name.trim().is_empty() {
        return Err(ApiError::invalid("display_name", "must not be empty"));
    }
    if !r.email.contains('@') || r.email.contains(char::is_whitespace) {
        return Err(ApiError::invalid("email", "not an e-mail address"));
    }
    warden_auth::check_password_policy(&r.password)
        .map_err(|e| ApiError::invalid("password", e.to_string()))?;
    if !crate::i18n::LANGUAGES.iter().any(|l| l.code == r.locale) {
        return Err(ApiError::invalid("locale", "one of en, fr, ar"));
    }
    let agency = match &r.agency {
        Some(code) => Some(
            state
                .store
                .get_agency_by_code(code)
                .await?
                .ok_or_else(|| ApiError::invalid("agency", format!("unknown agency {code}")))?
                .id,
        ),
        None => None,
    };
    let mut grants = vec![];
    for (i, g) in r.grants.iter().enumerate() {
        let role = Role::parse(&g.role).map_err(|e| {
            ApiError::invalid(
                format!("grants[{i}].role"),
                e.to_string().trim_start_matches("role: ").to_string(),
            )
        })?;
        let scope = Scope::parse(&g.scope).map_err(|e| {
            ApiError::invalid(
                format!("grants[{i}].scope"),
                e.to_string().trim_start_matches("scope: ").to_string(),
            )
        })?;
        let agency = match &g.agency {
            Some(code) => Some(
                state
                    .store
                    .get_agency_by_code(code)
                    .await?
                    .ok_or_else(|| {
                        ApiError::invalid(
                            format!("grants[{i}].agency"),
                            format!("unknown agency {code}"),
                        )
                    })?
                    .id,
            ),
            None => None,
        };
        grants.push(RoleGrant {
            role,
            scope,
            agency,
        });
    }
    let pw = r.password.clone();
    let hash = tokio::task::spawn_blocking(move || warden_auth::hash_password(&pw))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let user = state
        .store
        .create_user(
            &NewUser {
                username: name.into(),
                display_name: r.display_name.trim().into(),
                email: r.email.trim().into(),
                agency,
                password_hash: hash,
                grants,
                locale: r.locale.clone(),
            },
            audit,
        )
        .await?;
    state.trip_cache.forget_reviewers();
    Ok(user)
}

/// Create a user with roles (administrators).
#[utoipa::path(post, path = "/api/v1/users", tag = "admin", security(("bearer" = [])), request_body = UserRequest,
    responses((status = 201, body = UserDto), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_user(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Body(r): Body<UserRequest>,
) -> ApiResult<(StatusCode, Json<UserDto>)> {
    admin(&who)?;
    Ok((
        StatusCode::CREATED,
        Json(create_user_checked(&state, &r, &who.audit()).await?.into()),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryDto {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<Uuid>,
    pub actor_name: String,
    pub ip: Option<String>,
    pub action: String,
    pub target: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub hash: String,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditFilter {
    /// Actions starting with this, e.g. `assessment.`
    pub action: Option<String>,
    /// Exact target, e.g. `assessment:0190…`
    pub target: Option<String>,
}

/// The audit log, newest first (administrators).
#[utoipa::path(get, path = "/api/v1/audit", tag = "admin", security(("bearer" = [])), params(AuditFilter, Paging),
    responses((status = 200, body = PageOf<AuditEntryDto>), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_audit(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Query(f): Query<AuditFilter>,
    Query(p): Query<Paging>,
) -> ApiResult<Json<PageOf<AuditEntryDto>>> {
    admin(&who)?;
    let q = AuditQuery {
        action_prefix: f.action,
        target: f.target,
        actor: None,
        page: p.request(),
    };
    Ok(Json(PageOf::map(state.store.list_audit(&q).await?, |e| {
        AuditEntryDto {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            actor_name: e.actor_name,
            ip: e.ip,
            action: e.action,
            target: e.target,
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
            hash: e.hash,
        }
    })))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditVerificationDto {
    pub entries: i64,
    /// Sequence number of the first entry whose hash does not match, if any.
    pub first_broken: Option<i64>,
    pub head: String,
    pub intact: bool,
}

/// Re-compute the audit log's hash chain (administrators).
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = AuditVerificationDto), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn verify_audit(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
) -> ApiResult<Json<AuditVerificationDto>> {
    admin(&who)?;
    let v = state.store.verify_audit_chain().await?;
    Ok(Json(AuditVerificationDto {
        entries: v.entries,
        intact: v.first_broken.is_none(),
        first_broken: v.first_broken,
        head: v.head,
    }))
}
