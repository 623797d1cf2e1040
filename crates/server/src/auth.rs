//! Who is calling: bearer tokens for the API, session cookies for the web
//! interface, passwords (Argon2id) and TOTP (RFC 6238) with replay protection.

use crate::error::{ApiError, Code};
use crate::state::AppState;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Duration;
use std::net::SocketAddr;
use std::time::Instant;
use warden_store::{AuditContext, Session, SessionKind, User};

pub const SESSION_COOKIE: &str = "warden_session";
pub const LANG_COOKIE: &str = "warden_lang";

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn client_ip(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// A signed-in caller.
#[derive(Clone, Debug)]
pub struct Authed {
    pub user: User,
    pub session: Session,
    pub ip: Option<String>,
}

impl Authed {
    pub fn audit(&self) -> AuditContext {
        AuditContext {
            actor: Some(self.user.id),
            actor_name: self.user.username.clone(),
            ip: self.ip.clone(),
            at: warden_store::now_micros(),
        }
    }
    pub fn fully_authenticated(&self) -> bool {
        self.session.two_factor || !self.user.needs_two_factor()
    }
}

/// Fully authenticated API sessions recently looked up, by token digest, for
/// at most a minute (and never past the session's expiry). Signing out, the
/// second factor and a change of the user's TOTP forget them at once in this
/// process; the pages always read the session from the store.
#[derive(Default)]
pub struct SessionCache {
    map: std::sync::Mutex<std::collections::HashMap<String, (Instant, Session, User)>>,
}

impl SessionCache {
    const TTL: std::time::Duration = std::time::Duration::from_secs(60);
    const MAX: usize = 100_000;

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (Instant, Session, User)>>
    {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, digest: &str, now: chrono::DateTime<chrono::Utc>) -> Option<(Session, User)> {
        self.lock()
            .get(digest)
            .filter(|(at, s, _)| at.elapsed() < Self::TTL && s.expires_at > now)
            .map(|(_, s, u)| (s.clone(), u.clone()))
    }

    fn put(&self, s: &Session, u: &User) {
        let mut map = self.lock();
        if map.len() >= Self::MAX {
            map.retain(|_, (at, ..)| at.elapsed() < Self::TTL);
            if map.len() >= Self::MAX {
                map.clear();
            }
        }
        map.insert(s.digest.clone(), (Instant::now(), s.clone(), u.clone()));
    }

    /// A session ended or changed (sign-out, second factor done).
    pub fn forget(&self, digest: &str) {
        self.lock().remove(digest);
    }

    /// Every session of a user whose account changed.
    pub fn forget_user(&self, user: uuid::Uuid) {
        self.lock().retain(|_, (_, _, u)| u.id != user);
    }
}

fn bearer_or_cookie(parts: &Parts) -> Result<Option<String>, ApiError> {
    Ok(
        match parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            Some(h) => match h.strip_prefix("Bearer ") {
                Some(t) => Some(t.trim().to_string()),
                None => {
                    return Err(ApiError::new(
                        Code::Unauthenticated,
                        "the Authorization header must be `Bearer <token>`",
                    ))
                }
            },
            None => cookie(&parts.headers, SESSION_COOKIE).map(str::to_string),
        },
    )
}

/// [`resolve`] for the API through the [`SessionCache`]: only fully
/// authenticated sessions are kept.
async fn resolve_api(parts: &Parts, state: &AppState) -> Result<Option<Authed>, ApiError> {
    let Some(token) = bearer_or_cookie(parts)? else {
        return Ok(None);
    };
    let digest = warden_auth::token_digest(&token);
    let now = warden_store::now_micros();
    if let Some((session, user)) = state.sessions.get(&digest, now) {
        return Ok(Some(Authed {
            user,
            session,
            ip: client_ip(parts),
        }));
    }
    let found = state.store.get_session(&digest, now).await?;
    Ok(found.map(|(session, user)| {
        let a = Authed {
            user,
            session,
            ip: client_ip(parts),
        };
        if a.fully_authenticated() {
            state.sessions.put(&a.session, &a.user);
        }
        a
    }))
}

async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Authed>, ApiError> {
    let token = bearer_or_cookie(parts)?;
    let Some(token) = token else { return Ok(None) };
    let digest = warden_auth::token_digest(&token);
    Ok(state
        .store
        .get_session(&digest, warden_store::now_micros())
        .await?
        .map(|(session, user)| Authed {
            user,
            session,
            ip: client_ip(parts),
        }))
}

/// The API caller, fully authenticated (two-factor done where the roles need it).
pub struct ApiUser(pub Authed);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match resolve_api(parts, state).await? {
            None => Err(ApiError::new(
                Code::Unauthenticated,
                "sign in or send a bearer token (POST /api/v1/auth/token)",
            )),
            Some(a) if !a.fully_authenticated() => Err(ApiError::new(
                Code::TwoFactorRequired,
                "this account's roles require two-factor authentication: complete the TOTP step",
            )),
            Some(a) => Ok(ApiUser(a)),
        }
    }
}

impl OptionalFromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        match resolve_api(parts, state).await? {
            Some(a) if a.fully_authenticated() => Ok(Some(ApiUser(a))),
            _ => Ok(None),
        }
    }
}

/// A web page's signed-in user; otherwise the browser goes to the login page.
pub struct WebUser(pub Authed);

pub struct ToLogin(Response);
impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        self.0
    }
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = ToLogin;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ToLogin> {
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let to_login = || {
            ToLogin(
                Redirect::to(&format!(
                    "/login?next={}",
                    percent_encoding::utf8_percent_encode(
                        &next,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                ))
                .into_response(),
            )
        };
        match resolve(parts, state).await {
            Ok(Some(a)) if a.fully_authenticated() => Ok(WebUser(a)),
            Ok(Some(a)) if a.user.totp_enabled => {
                Err(ToLogin(Redirect::to("/login/totp").into_response()))
            }
            Ok(Some(_)) => Err(ToLogin(Redirect::to("/account/two-factor").into_response())),
            _ => Err(to_login()),
        }
    }
}

impl OptionalFromRequestParts<AppState> for WebUser {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(match resolve(parts, state).await {
            Ok(Some(a)) if a.fully_authenticated() => Some(WebUser(a)),
            _ => None,
        })
    }
}

/// A web session that has passed the password step but may still owe TOTP.
pub struct PendingUser(pub Authed);

impl FromRequestParts<AppState> for PendingUser {
    type Rejection = ToLogin;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ToLogin> {
        match resolve(parts, state).await {
            Ok(Some(a)) => Ok(PendingUser(a)),
            _ => Err(ToLogin(Redirect::to("/login").into_response())),
        }
    }
}

/// Checks the password; counts failures per username and address.
pub async fn check_password(
    state: &AppState,
    username: &str,
    password: &str,
    ip: Option<&str>,
) -> Result<User, ApiError> {
    let key = format!("{}|{}", username.to_lowercase(), ip.unwrap_or("-"));
    if let Err(wait) = state.limiter.check(&key, Instant::now()) {
        state.metrics.login("rate_limited");
        let mut e = ApiError::new(
            Code::RateLimited,
            format!(
                "too many failed sign-in attempts; try again in {} minutes",
                wait.as_secs().div_ceil(60)
            ),
        );
        e.retry_after = Some(wait.as_secs().max(1));
        return Err(e);
    }
    let user = state.store.get_user_by_username(username.trim()).await?;
    let pw = password.to_string();
    // Hash even for unknown users, so timing does not reveal which names exist.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$J0lMu3HqkfRzTHlwUf3m3bTPvLKKQmE1iE/1v5jYcZI".into());
    let ok = tokio::task::spawn_blocking(move || warden_auth::verify_password(&hash, &pw))
        .await
        .map_err(ApiError::internal)?;
    match user {
        Some(u) if ok && !u.disabled => {
            state.limiter.reset(&key);
            Ok(u)
        }
        _ => {
            state.limiter.record_failure(&key, Instant::now());
            state.metrics.login("bad_password");
            state
                .store
                .append_audit(
                    &AuditContext {
                        actor: None,
                        actor_name: username.chars().take(100).collect(),
                        ip: ip.map(str::to_string),
                        at: warden_store::now_micros(),
                    },
                    "auth.login_failed",
                    &format!(
                        "username:{}",
                        username.chars().take(100).collect::<String>()
                    ),
                    serde_json::json!({}),
                )
                .await?;
            Err(ApiError::new(
                Code::Unauthenticated,
                "unknown username or wrong password",
            ))
        }
    }
}

/// Checks a TOTP code and burns its time step, so the same code cannot be used twice.
pub async fn check_totp(state: &AppState, user: &User, code: &str) -> Result<(), ApiError> {
    let secret = user.totp_secret.as_deref().ok_or_else(|| {
        ApiError::new(
            Code::TwoFactorRequired,
            "two-factor authentication is not set up for this account",
        )
    })?;
    let secret = warden_auth::TotpSecret::from_base32(secret).map_err(ApiError::internal)?;
    let key = format!("totp|{}", user.id);
    if let Err(wait) = state.limiter.check(&key, Instant::now()) {
        let mut e = ApiError::new(
            Code::RateLimited,
            "too many wrong codes; wait and try again",
        );
        e.retry_after = Some(wait.as_secs().max(1));
        return Err(e);
    }
    let now = chrono::Utc::now().timestamp();
    match warden_auth::verify_totp(&secret, code.trim(), now, None) {
        Ok(step) => {
            if state.store.advance_totp_step(user.id, step).await? {
                state.limiter.reset(&key);
                Ok(())
            } else {
                state.metrics.login("totp_replayed");
                let mut e = ApiError::new(
                    Code::Unauthenticated,
                    "this code has already been used; wait for the next one",
                );
                e.field = Some("totp".into());
                Err(e)
            }
        }
        Err(_) => {
            state.limiter.record_failure(&key, Instant::now());
            state.metrics.login("bad_totp");
            let mut e = ApiError::new(
                Code::Unauthenticated,
                "the one-time code is wrong or has expired",
            );
            e.field = Some("totp".into());
            Err(e)
        }
    }
}

/// Creates a session and returns its token (shown once, stored as a digest).
pub async fn open_session(
    state: &AppState,
    user: &User,
    kind: SessionKind,
    two_factor: bool,
    ip: Option<String>,
) -> Result<(String, Session), ApiError> {
    let token = warden_auth::random_token();
    let now = warden_store::now_micros();
    let hours = match kind {
        SessionKind::Web => state.config.session_hours,
        SessionKind::Api => state.config.api_token_hours,
    };
    let session = Session {
        digest: warden_auth::token_digest(&token),
        user_id: user.id,
        kind,
        two_factor,
        created_at: now,
        expires_at: now + Duration::hours(hours),
        ip,
    };
    state.store.create_session(&session).await?;
    Ok((token, session))
}

pub fn session_cookie(state: &AppState, token: &str) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        state.config.session_hours * 3600,
        if state.config.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    )
}

pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}
