use crate::api::Body;
use crate::auth::{check_password, check_totp, open_session, ApiUser};
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa::ToSchema;
use uuid::Uuid;
use warden_store::SessionKind;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub username: String,
    pub password: String,
    /// The current 6-digit TOTP code; required for every role except traveller.
    #[serde(default)]
    pub totp: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantDto {
    pub role: String,
    /// `global`, a country code or an area code.
    pub scope: String,
    pub agency: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub agency: Option<Uuid>,
    pub two_factor_enabled: bool,
    pub locale: String,
    pub grants: Vec<GrantDto>,
    pub created_at: DateTime<Utc>,
}

impl From<warden_store::User> for UserDto {
    fn from(u: warden_store::User) -> Self {
        UserDto {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            email: u.email,
            agency: u.agency,
            two_factor_enabled: u.totp_enabled,
            locale: u.locale,
            grants: u
                .grants
                .into_iter()
                .map(|g| GrantDto {
                    role: g.role.as_str().into(),
                    scope: g.scope.to_text(),
                    agency: g.agency,
                })
                .collect(),
            created_at: u.created_at,
        }
    }
}

/// Exchange credentials (and a TOTP code) for a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "session", request_body = TokenRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn create_token(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Body(req): Body<TokenRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let ip = addr.ip().to_string();
    let user = check_password(&state, &req.username, &req.password, Some(&ip)).await?;
    if user.needs_two_factor() {
        if !user.totp_enabled {
            return Err(ApiError::new(
                Code::TwoFactorRequired,
                "this account's roles require two-factor authentication; set it up in the web interface first",
            ));
        }
        let code = req.totp.as_deref().ok_or_else(|| {
            ApiError::invalid("totp", "a one-time code is required for this account")
        })?;
        check_totp(&state, &user, code).await?;
    }
    let (token, session) = open_session(&state, &user, SessionKind::Api, true, Some(ip)).await?;
    state.metrics.login("ok");
    Ok(Json(TokenResponse {
        token,
        expires_at: session.expires_at,
    }))
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "session", security(("bearer" = [])),
    responses((status = 200, body = UserDto), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn me(ApiUser(who): ApiUser) -> Json<UserDto> {
    Json(who.user.into())
}
