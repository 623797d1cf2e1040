//! Server-rendered pages (askama). They work without JavaScript; the map
//! and small conveniences are progressive enhancements.

mod assessments;
mod eta;
mod pages;
mod presence;
mod rollcall;
mod session;
mod trips;

use crate::auth::{Authed, LANG_COOKIE};
use crate::error::ApiError;
use crate::i18n::{LANGUAGES, T};
use crate::state::AppState;
use askama::Template;
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use warden_domain::role::has_role;
use warden_domain::{Role, SecurityLevel};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::dashboard))
        .route("/countries/{cc}", get(pages::country))
        .route("/areas/{code}", get(pages::area))
        .route("/advisories/{cc}", get(pages::advisory))
        .route("/audit", get(pages::audit))
        .route("/assessments", get(assessments::queue))
        .route(
            "/assessments/new",
            get(assessments::new_form).post(assessments::create),
        )
        .route("/assessments/{id}", get(assessments::detail))
        .route("/assessments/{id}/action", post(assessments::act))
        .route("/trips", get(trips::list))
        .route("/trips/new", get(trips::new_form).post(trips::create))
        .route("/trips/{id}", get(trips::detail))
        .route("/trips/{id}/legs/{n}/decision", post(trips::decide))
        .route("/trips/{id}/legs/{n}/answer", post(trips::answer))
        .route("/notifications", get(trips::notifications))
        .route("/notifications/read", post(trips::notifications_read))
        .route("/clearances", get(trips::clearances))
        .route(
            "/areas/{code}/settings",
            get(trips::settings).post(trips::set_mode),
        )
        .route("/eta", get(eta::page))
        .route("/eta/wellbeing", post(eta::wellbeing))
        .route("/eta/profile", post(eta::profile))
        .route("/eta/read", post(eta::read))
        .route("/eta/devices", post(eta::enrol))
        .route("/eta/devices/{id}/revoke", post(eta::revoke))
        .route("/eta/manifest.webmanifest", get(eta::manifest))
        .route("/eta/sw.js", get(eta::service_worker))
        .route("/me/location-data", get(eta::location_data))
        .route("/me/location-data/delete", post(eta::delete_location_data))
        .route("/alerts/{id}", get(eta::alert))
        .route("/tracking", get(eta::tracking).post(eta::authorise))
        .route("/tracking/{id}/end", post(eta::end))
        .route("/presence", get(presence::map))
        .route("/areas/{code}/headcount", get(presence::area_headcount))
        .route(
            "/undertaking",
            get(presence::undertaking).post(presence::accept_undertaking),
        )
        .route("/roll-calls", get(rollcall::list).post(rollcall::start))
        .route("/roll-calls/{id}", get(rollcall::board))
        .route("/roll-calls/{id}/close", post(rollcall::close))
        .route("/login", get(session::login_form).post(session::login))
        .route("/login/totp", get(session::totp_form).post(session::totp))
        .route(
            "/account/two-factor",
            get(session::enrol_form).post(session::enrol),
        )
        .route("/logout", post(session::logout))
        .route("/lang/{code}", get(session::set_lang))
        .layer(axum::middleware::from_fn(same_origin_posts))
}

/// Form posts must come from our own pages (with SameSite=Lax cookies this
/// closes cross-site request forgery).
async fn same_origin_posts(req: Request, next: Next) -> Response {
    if req.method() == axum::http::Method::POST {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if let Some(origin) = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
        {
            let origin_host = origin.split("://").nth(1).unwrap_or("");
            if origin != "null" && origin_host != host {
                return (StatusCode::FORBIDDEN, "cross-site form submission refused")
                    .into_response();
            }
        }
    }
    next.run(req).await
}

/// What every page's frame needs.
pub struct Base {
    pub t: T,
    pub title: String,
    pub user_name: Option<String>,
    pub is_staff: bool,
    pub is_admin: bool,
    /// Security advisers and Designated Officials: they see the clearance queue.
    pub is_reviewer: bool,
    /// Security roles that oversee tracking (`crate::eta::OVERSEERS`).
    pub oversees_tracking: bool,
    /// Security roles that see headcounts (`warden_domain::presence::HEADCOUNT_ROLES`).
    pub sees_presence: bool,
    pub nav: &'static str,
    pub path: String,
    pub flash: Option<(String, String)>,
    /// Lines under the flash message (e.g. the answer for each leg of a trip).
    pub flash_items: Vec<String>,
    pub langs: Vec<(&'static str, &'static str, bool)>,
}

impl Base {
    pub fn new(t: T, who: Option<&Authed>, title: String, nav: &'static str, path: &str) -> Base {
        let staff_roles = [
            Role::SecurityAdviser,
            Role::RegionalDesk,
            Role::DesignatedOfficial,
            Role::SmtMember,
            Role::Administrator,
        ];
        Base {
            t,
            title,
            user_name: who.map(|a| a.user.display_name.clone()),
            is_staff: who.is_some_and(|a| staff_roles.iter().any(|r| has_role(&a.user.grants, *r))),
            is_admin: who.is_some_and(|a| has_role(&a.user.grants, Role::Administrator)),
            is_reviewer: who.is_some_and(crate::trips::is_reviewer),
            oversees_tracking: who.is_some_and(|a| crate::eta::is_overseer(&a.user.grants)),
            sees_presence: who.is_some_and(|a| {
                a.user
                    .grants
                    .iter()
                    .any(|g| warden_domain::presence::HEADCOUNT_ROLES.contains(&g.role))
            }),
            nav,
            path: path.to_string(),
            flash: None,
            flash_items: vec![],
            langs: LANGUAGES
                .iter()
                .map(|l| (l.code, l.name, l.code == t.code()))
                .collect(),
        }
    }
    pub fn with_flash(mut self, kind: &str, msg: String) -> Base {
        self.flash = Some((kind.to_string(), msg));
        self
    }
    pub fn level_labels_json(&self) -> String {
        let m: serde_json::Map<String, serde_json::Value> = (1..=6u8)
            .map(|i| (i.to_string(), self.t.level_name(i).into()))
            .collect();
        serde_json::Value::Object(m).to_string()
    }
}

/// The language of this request: cookie, then Accept-Language, then the default.
pub fn lang(headers: &HeaderMap, state: &AppState) -> T {
    T::negotiate(
        crate::auth::cookie(headers, LANG_COOKIE),
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
        &state.config.default_locale,
    )
}

pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// A level shown as a badge.
#[derive(Clone)]
pub struct LevelView {
    pub class: String,
    pub num: String,
    pub label: String,
}

impl LevelView {
    pub fn new(t: &T, l: Option<SecurityLevel>) -> LevelView {
        match l {
            Some(l) => LevelView {
                class: format!("level-{}", l.get()),
                num: l.get().to_string(),
                label: t.level_name(l.get()).to_string(),
            },
            None => LevelView {
                class: "level-none".into(),
                num: String::new(),
                label: t.get("level.none").to_string(),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub b: Base,
    pub heading: String,
    pub body: String,
}

/// A full page for an error (403, 404…), in the user's language.
pub fn error_page(b: Base, e: &ApiError) -> Response {
    let status = e.status();
    let heading = match status.as_u16() {
        403 => b.t.get("error.forbidden"),
        404 => b.t.get("error.not_found"),
        _ => b.t.get("error.generic"),
    }
    .to_string();
    let mut resp = render(&MessagePage {
        b,
        heading,
        body: e.detail.clone(),
    });
    *resp.status_mut() = status;
    resp
}

pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

pub fn fmt_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}
