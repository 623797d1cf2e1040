use super::{lang, render, see_other, Base};
use crate::auth::{
    check_password, check_totp, clear_session_cookie, open_session, session_cookie, PendingUser,
    LANG_COOKIE,
};
use crate::error::ApiError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use serde::Deserialize;
use std::net::SocketAddr;
use warden_store::SessionKind;

/// Only local paths may follow a sign-in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".into(),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    b: Base,
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let t = lang(&headers, &state);
    render(&LoginPage {
        b: Base::new(t, None, t.get("login.title").into(), "", "/login"),
        next: safe_next(q.next.as_deref()),
        username: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Form(f): Form<LoginForm>,
) -> Response {
    let t = lang(&headers, &state);
    let next = safe_next(f.next.as_deref());
    let ip = addr.ip().to_string();
    match check_password(&state, &f.username, &f.password, Some(&ip)).await {
        Ok(user) => {
            let (token, _) =
                match open_session(&state, &user, SessionKind::Web, false, Some(ip)).await {
                    Ok(s) => s,
                    Err(e) => return e.into_response(),
                };
            let to = if !user.needs_two_factor() {
                state.metrics.login("ok");
                next
            } else if user.totp_enabled {
                format!(
                    "/login/totp?next={}",
                    percent_encoding::utf8_percent_encode(
                        &next,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                )
            } else {
                "/account/two-factor".into()
            };
            let mut resp = see_other(&to);
            resp.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(&state, &token).parse().expect("cookie"),
            );
            resp
        }
        Err(e) => {
            let mut resp = render(&LoginPage {
                b: Base::new(t, None, t.get("login.title").into(), "", "/login"),
                next,
                username: f.username,
                error: Some(if e.status() == StatusCode::TOO_MANY_REQUESTS {
                    e.detail.clone()
                } else {
                    t.get("login.failed").into()
                }),
            });
            *resp.status_mut() = e.status();
            resp
        }
    }
}

#[derive(Template)]
#[template(path = "totp.html")]
struct TotpPage {
    b: Base,
    next: String,
    error: Option<String>,
}

pub async fn totp_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    PendingUser(_who): PendingUser,
    Query(q): Query<NextQuery>,
) -> Response {
    let t = lang(&headers, &state);
    render(&TotpPage {
        b: Base::new(t, None, t.get("totp.title").into(), "", "/login/totp"),
        next: safe_next(q.next.as_deref()),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
    next: Option<String>,
}

pub async fn totp(
    State(state): State<AppState>,
    headers: HeaderMap,
    PendingUser(who): PendingUser,
    Form(f): Form<CodeForm>,
) -> Response {
    let t = lang(&headers, &state);
    let next = safe_next(f.next.as_deref());
    match check_totp(&state, &who.user, &f.code).await {
        Ok(()) => {
            if let Err(e) = state
                .store
                .mark_session_two_factor(&who.session.digest)
                .await
            {
                return ApiError::from(e).into_response();
            }
            state.sessions.forget(&who.session.digest);
            state.metrics.login("ok");
            see_other(&next)
        }
        Err(e) => {
            let mut resp = render(&TotpPage {
                b: Base::new(t, None, t.get("totp.title").into(), "", "/login/totp"),
                next,
                error: Some(e.detail.clone()),
            });
            *resp.status_mut() = e.status();
            resp
        }
    }
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage {
    b: Base,
    secret: String,
    qr_svg: String,
    error: Option<String>,
}

async fn pending_secret(state: &AppState, who: &crate::auth::Authed) -> Result<String, ApiError> {
    if let Some(s) = &who.user.totp_secret {
        return Ok(s.clone());
    }
    let s = warden_auth::TotpSecret::generate().to_base32();
    state
        .store
        .set_totp(who.user.id, Some(&s), false, &who.audit())
        .await?;
    state.sessions.forget_user(who.user.id);
    Ok(s)
}

fn enrol_page(
    t: crate::i18n::T,
    who: &crate::auth::Authed,
    secret: String,
    error: Option<String>,
) -> Response {
    let secret_obj =
        warden_auth::TotpSecret::from_base32(&secret).expect("stored secret is base32");
    let uri = warden_auth::otpauth_uri("Warden", &who.user.username, &secret_obj);
    let qr_svg = warden_auth::qr_svg(&uri).unwrap_or_default();
    let grouped = secret
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    render(&EnrolPage {
        b: Base::new(
            t,
            None,
            t.get("enrol.title").into(),
            "",
            "/account/two-factor",
        ),
        secret: grouped,
        qr_svg,
        error,
    })
}

pub async fn enrol_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    PendingUser(who): PendingUser,
) -> Response {
    let t = lang(&headers, &state);
    if who.user.totp_enabled {
        return see_other("/");
    }
    match pending_secret(&state, &who).await {
        Ok(secret) => enrol_page(t, &who, secret, None),
        Err(e) => e.into_response(),
    }
}

pub async fn enrol(
    State(state): State<AppState>,
    headers: HeaderMap,
    PendingUser(who): PendingUser,
    Form(f): Form<CodeForm>,
) -> Response {
    let t = lang(&headers, &state);
    if who.user.totp_enabled {
        return see_other("/");
    }
    let Some(secret) = who.user.totp_secret.clone() else {
        return see_other("/account/two-factor");
    };
    let secret_obj =
        warden_auth::TotpSecret::from_base32(&secret).expect("stored secret is base32");
    match warden_auth::verify_totp(
        &secret_obj,
        f.code.trim(),
        chrono::Utc::now().timestamp(),
        None,
    ) {
        Ok(step) => {
            let r = async {
                state
                    .store
                    .set_totp(who.user.id, Some(&secret), true, &who.audit())
                    .await?;
                state.store.advance_totp_step(who.user.id, step).await?;
                state
                    .store
                    .mark_session_two_factor(&who.session.digest)
                    .await
            }
            .await;
            state.sessions.forget_user(who.user.id);
            match r {
                Ok(()) => see_other("/?done=two_factor_on"),
                Err(e) => ApiError::from(e).into_response(),
            }
        }
        Err(_) => {
            let mut resp = enrol_page(t, &who, secret, Some(t.get("totp.wrong").into()));
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            resp
        }
    }
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = crate::auth::cookie(&headers, crate::auth::SESSION_COOKIE) {
        let digest = warden_auth::token_digest(token);
        let _ = state.store.delete_session(&digest).await;
        state.sessions.forget(&digest);
    }
    let mut resp = see_other("/login");
    resp.headers_mut().insert(
        header::SET_COOKIE,
        clear_session_cookie().parse().expect("cookie"),
    );
    resp
}

pub async fn set_lang(Path(code): Path<String>, headers: HeaderMap) -> Response {
    let code = if crate::i18n::LANGUAGES.iter().any(|l| l.code == code) {
        code
    } else {
        "en".into()
    };
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_string()))
        .unwrap_or_else(|| "/".into());
    let mut resp = see_other(&safe_next(Some(&back)));
    resp.headers_mut().insert(
        header::SET_COOKIE,
        format!("{LANG_COOKIE}={code}; Path=/; SameSite=Lax; Max-Age=31536000")
            .parse()
            .expect("cookie"),
    );
    resp
}
