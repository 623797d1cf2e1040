//! The eTA in the browser: the phone app at `/eta` (my area and its
//! advisory, alerts, my next trips, "I am safe / I need help", this phone,
//! my contact details), installable with a manifest and a service worker;
//! what is held about my whereabouts; one geo-alert; and the oversight of
//! tracking. Every rule comes from `crate::eta` and the API handlers.

use super::pages::PageError;
use super::{error_page, fmt_time, lang, render, see_other, Base, LevelView};
use crate::api::eta::{record_wellbeing_for, DependantIn, WellbeingIn};
use crate::auth::{Authed, WebUser};
use crate::error::ApiError;
use crate::eta::{self as service, MAX_CONTACTS};
use crate::i18n::T;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;
use uuid::Uuid;
use warden_domain::eta::{may_authorise_tracking, AlertSeverity, Wellbeing};
use warden_domain::people::EmergencyContact;
use warden_domain::trip::TripStatus;
use warden_domain::{Role, Scope};
use warden_store::{Area, Notification, PageRequest, TrackingAuthorisation, WellbeingReport};

/// eTA notifications shown on the page; the next trips shown.
const ALERTS_SHOWN: usize = 20;
const TRIPS_SHOWN: usize = 3;
/// How often the page asks for new alerts, and sends the phone's position
/// while the person shares it.
const POLL_SECONDS: u32 = 20;
const SHARE_MINUTES: u32 = 5;

fn with_status(mut r: Response, status: StatusCode) -> Response {
    *r.status_mut() = status;
    r
}

fn area_name(t: &T, a: &Area) -> String {
    a.names
        .get(t.code())
        .cloned()
        .unwrap_or_else(|| a.name.clone())
}

fn wellbeing_label(t: &T, w: Wellbeing) -> String {
    t.get(&format!("wellbeing.{}", w.as_str())).to_string()
}

fn wellbeing_badge(w: Wellbeing) -> &'static str {
    match w {
        Wellbeing::Safe => "badge-success",
        Wellbeing::NeedHelp => "badge-danger",
    }
}

fn severity_badge(s: AlertSeverity) -> &'static str {
    match s {
        AlertSeverity::Extreme | AlertSeverity::Severe => "badge-danger",
        AlertSeverity::Moderate => "badge-warning",
        AlertSeverity::Minor => "badge-info",
    }
}

/// The person's eTA notifications (alerts, areas entered, level changes),
/// newest first.
async fn eta_notifications(state: &AppState, user: Uuid) -> Result<Vec<Notification>, ApiError> {
    const PER: i64 = 100;
    let mut out = vec![];
    for page in 0..5 {
        let p = state
            .store
            .list_notifications(
                user,
                false,
                &PageRequest {
                    limit: PER,
                    offset: page * PER,
                },
            )
            .await?;
        let n = p.items.len() as i64;
        out.extend(p.items.into_iter().filter(|n| n.kind.starts_with("eta.")));
        if out.len() >= ALERTS_SHOWN || n < PER {
            break;
        }
    }
    out.truncate(ALERTS_SHOWN);
    Ok(out)
}

// ---------------------------------------------------------------------------
// the phone app
// ---------------------------------------------------------------------------

pub struct AreaView {
    pub code: String,
    pub name: String,
    pub country: String,
    pub level: LevelView,
    pub advisory: String,
    pub mitigation: String,
    pub measures: Vec<String>,
}

pub struct AlertRow {
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub link: String,
    pub at: String,
    pub at_iso: String,
    pub unread: bool,
}

pub struct WellbeingView {
    pub status_key: String,
    pub status: String,
    pub badge: &'static str,
    pub at: String,
    pub at_iso: String,
    pub note: String,
    /// (name, answer, badge)
    pub dependants: Vec<(String, String, &'static str)>,
}

pub struct DependantRow {
    pub i: usize,
    pub name: String,
    pub status: String,
    /// `name` or `status` when the refused answer concerns this row.
    pub error: String,
}

pub struct ContactRow {
    pub i: usize,
    pub title: String,
    pub name: String,
    pub relation: String,
    pub phone: String,
    pub email: String,
    /// `name`, `relation`, `phone` or `email` when the refusal concerns this contact.
    pub error: String,
}

pub struct DeviceRow {
    pub id: String,
    pub name: String,
    pub platform: String,
    pub created: String,
    pub last_seen: String,
    pub last_seen_iso: String,
    pub active: bool,
    pub revoked: bool,
}

pub struct ProfileView {
    /// "From your agency's records (UNDP)…"
    pub lead: String,
    pub updated: String,
    pub updated_iso: String,
}

#[derive(Template)]
#[template(path = "eta.html")]
struct EtaPage {
    b: Base,
    user_id: String,
    /// Texts for eta.js (JSON).
    texts: String,
    poll_seconds: u32,
    share_minutes: u32,
    rendered_iso: String,
    // (a) my area
    area: Option<AreaView>,
    /// The phone reported, but outside every area.
    outside: bool,
    reported: bool,
    reported_at: String,
    reported_iso: String,
    since: String,
    since_iso: String,
    fresh: bool,
    /// "Older than 12 hours…"
    stale: String,
    // (b) alerts
    alerts: Vec<AlertRow>,
    unread: usize,
    alerts_auto: String,
    // (c) trips
    trips: Vec<super::trips::TripRow>,
    // (d) are you safe?
    latest: Option<WellbeingView>,
    dependants: Vec<DependantRow>,
    note: String,
    wb_error: Option<String>,
    wb_error_anchor: String,
    // (e) my contact details
    profile: Option<ProfileView>,
    own_phone: String,
    contacts: Vec<ContactRow>,
    profile_error: Option<String>,
    profile_error_anchor: String,
    // (f) this phone
    totp_enabled: bool,
    devices: Vec<DeviceRow>,
    owntracks_url: String,
    username: String,
    kept_purge: String,
    share_hint: String,
    device_name: String,
    enrol_error: Option<String>,
}

impl EtaPage {
    fn wb_field(&self, anchor: &str) -> bool {
        self.wb_error.is_some() && self.wb_error_anchor == anchor
    }
    fn profile_field(&self, anchor: &str) -> bool {
        self.profile_error.is_some() && self.profile_error_anchor == anchor
    }
}

fn texts_json(t: &T) -> String {
    let keys = [
        "eta.js_new",
        "eta.js_mark_read",
        "eta.js_checked",
        "eta.js_check_failed",
        "eta.js_offline",
        "eta.js_sending",
        "eta.js_sent",
        "eta.js_sent_outside",
        "eta.js_send_failed",
        "eta.js_geo_denied",
        "eta.js_geo_unavailable",
        "eta.js_sharing_on",
        "eta.js_sharing_off",
        "eta.js_enrolled_as",
        "eta.js_enrol_failed",
        "eta.js_revoked",
        "eta.js_saved_answer",
        "eta.js_answer_failed",
        "eta.js_reported_now",
        "eta.wellbeing_latest",
        "eta.advisory",
        "eta.no_advisory",
        "wellbeing.safe",
        "wellbeing.need_help",
    ];
    let m: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .map(|k| {
            (
                k.rsplit('.').next().unwrap_or(k).to_string(),
                t.get(k).into(),
            )
        })
        .collect();
    serde_json::Value::Object(m).to_string()
}

fn wellbeing_view(t: &T, w: &WellbeingReport) -> WellbeingView {
    WellbeingView {
        status_key: w.status.as_str().into(),
        status: wellbeing_label(t, w.status),
        badge: wellbeing_badge(w.status),
        at: fmt_time(&w.at),
        at_iso: w.at.to_rfc3339(),
        note: w.note.clone(),
        dependants: w
            .dependants
            .iter()
            .map(|d| {
                (
                    d.name.clone(),
                    wellbeing_label(t, d.status),
                    wellbeing_badge(d.status),
                )
            })
            .collect(),
    }
}

/// Dependant rows of the form: the names of the last answer, then two empty rows.
fn dependant_rows(names: impl IntoIterator<Item = (String, String)>) -> Vec<DependantRow> {
    let mut rows: Vec<DependantRow> = names
        .into_iter()
        .enumerate()
        .map(|(i, (name, status))| DependantRow {
            i,
            name,
            status,
            error: String::new(),
        })
        .collect();
    for _ in 0..2 {
        rows.push(DependantRow {
            i: rows.len(),
            name: String::new(),
            status: String::new(),
            error: String::new(),
        });
    }
    rows
}

fn contact_rows(t: &T, contacts: &[EmergencyContact]) -> Vec<ContactRow> {
    let mut rows: Vec<ContactRow> = contacts
        .iter()
        .enumerate()
        .map(|(i, c)| ContactRow {
            i,
            title: t.fmt("eta.contact_n", &[("n", &(i + 1).to_string())]),
            name: c.name.clone(),
            relation: c.relation.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            error: String::new(),
        })
        .collect();
    if rows.len() < MAX_CONTACTS {
        let i = rows.len();
        rows.push(ContactRow {
            i,
            title: t.fmt("eta.contact_n", &[("n", &(i + 1).to_string())]),
            name: String::new(),
            relation: String::new(),
            phone: String::new(),
            email: String::new(),
            error: String::new(),
        });
    }
    rows
}

async fn eta_page(state: &AppState, t: T, who: &Authed) -> Result<EtaPage, ApiError> {
    let user = who.user.id;
    let now = Utc::now();
    // (a) where the phone last put me
    let last = state.store.last_location(user).await?;
    let mut area = None;
    if let Some(code) = last.as_ref().and_then(|l| l.area.as_ref()) {
        let (a, entry) = service::area_with_advisory(state, code).await?;
        area = Some(AreaView {
            code: a.code.to_string(),
            name: area_name(&t, &a),
            country: a.country.to_string(),
            level: LevelView::new(&t, a.level),
            advisory: entry.as_ref().map(|e| e.text.clone()).unwrap_or_default(),
            mitigation: entry
                .as_ref()
                .map(|e| e.mitigation_text.clone())
                .unwrap_or_default(),
            measures: entry
                .map(|e| e.measures.into_iter().map(|m| m.title).collect())
                .unwrap_or_default(),
        });
    }
    let fresh_hours = state.config.location_fresh_hours;
    // (b) alerts
    let alerts: Vec<AlertRow> = eta_notifications(state, user)
        .await?
        .into_iter()
        .map(|n| AlertRow {
            id: n.id.to_string(),
            kind: n.kind,
            subject: n.subject,
            body: n.body,
            link: n.link,
            at: fmt_time(&n.created_at),
            at_iso: n.created_at.to_rfc3339(),
            unread: n.read_at.is_none(),
        })
        .collect();
    // (c) the next trips: not over, not cancelled, soonest first
    let mut trips: Vec<_> = state
        .store
        .list_travel_requests(user, &PageRequest::new(Some(100), None))
        .await?
        .items
        .into_iter()
        .filter(|tr| {
            tr.status != TripStatus::Cancelled && tr.legs.last().is_some_and(|l| l.arrive >= now)
        })
        .collect();
    trips.sort_by_key(|tr| tr.legs.first().map(|l| l.depart));
    trips.truncate(TRIPS_SHOWN);
    // (d) the latest answer
    let latest = state.store.latest_wellbeing(user).await?;
    // (e) the profile
    let profile = state.store.get_profile(user).await?;
    // (f) devices
    let devices = state.store.list_devices(user).await?;
    let first_active = devices
        .first()
        .filter(|d| d.revoked_at.is_none() && d.last_seen_at.is_some())
        .map(|d| d.id);
    Ok(EtaPage {
        b: Base::new(t, Some(who), t.get("eta.title").into(), "eta", "/eta"),
        user_id: user.to_string(),
        texts: texts_json(&t),
        poll_seconds: POLL_SECONDS,
        share_minutes: SHARE_MINUTES,
        rendered_iso: now.to_rfc3339(),
        outside: last.as_ref().is_some_and(|l| l.area.is_none()),
        reported: last.is_some(),
        reported_at: last
            .as_ref()
            .map(|l| fmt_time(&l.reported_at))
            .unwrap_or_default(),
        reported_iso: last
            .as_ref()
            .map(|l| l.reported_at.to_rfc3339())
            .unwrap_or_default(),
        since: last
            .as_ref()
            .map(|l| fmt_time(&l.since))
            .unwrap_or_default(),
        since_iso: last
            .as_ref()
            .map(|l| l.since.to_rfc3339())
            .unwrap_or_default(),
        fresh: last
            .as_ref()
            .is_some_and(|l| now - l.reported_at < Duration::hours(fresh_hours)),
        stale: t.fmt("eta.stale", &[("hours", &fresh_hours.to_string())]),
        alerts_auto: t.fmt("eta.alerts_auto", &[("n", &POLL_SECONDS.to_string())]),
        area,
        unread: alerts.iter().filter(|a| a.unread).count(),
        alerts,
        trips: trips
            .into_iter()
            .map(|tr| super::trips::trip_row(&t, tr))
            .collect(),
        dependants: dependant_rows(
            latest
                .iter()
                .flat_map(|w| w.dependants.iter())
                .map(|d| (d.name.clone(), String::new())),
        ),
        latest: latest.as_ref().map(|w| wellbeing_view(&t, w)),
        note: String::new(),
        wb_error: None,
        wb_error_anchor: String::new(),
        own_phone: profile
            .as_ref()
            .map(|p| p.phone.clone())
            .unwrap_or_default(),
        contacts: contact_rows(
            &t,
            profile
                .as_ref()
                .map(|p| p.emergency_contacts.as_slice())
                .unwrap_or_default(),
        ),
        profile: profile.map(|p| ProfileView {
            lead: t.fmt("eta.profile_lead", &[("agency", &p.agency_code)]),
            updated: fmt_time(&p.updated_at),
            updated_iso: p.updated_at.to_rfc3339(),
        }),
        profile_error: None,
        profile_error_anchor: String::new(),
        totp_enabled: who.user.totp_enabled,
        devices: devices
            .into_iter()
            .map(|d| DeviceRow {
                id: d.id.to_string(),
                active: Some(d.id) == first_active,
                revoked: d.revoked_at.is_some(),
                name: d.name,
                platform: d.platform,
                created: fmt_time(&d.created_at),
                last_seen: d.last_seen_at.map(|x| fmt_time(&x)).unwrap_or_default(),
                last_seen_iso: d.last_seen_at.map(|x| x.to_rfc3339()).unwrap_or_default(),
            })
            .collect(),
        owntracks_url: service::owntracks_url(state),
        username: who.user.username.clone(),
        kept_purge: t.fmt(
            "eta.kept_purge",
            &[("hours", &state.config.location_retention_hours.to_string())],
        ),
        share_hint: t.fmt("eta.share_hint", &[("n", &SHARE_MINUTES.to_string())]),
        device_name: String::new(),
        enrol_error: None,
    })
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Query(q): Query<DoneQuery>,
) -> Response {
    let t = lang(&headers, &state);
    match eta_page(&state, t, &who).await {
        Ok(mut p) => {
            if let Some(k @ ("wellbeing" | "profile" | "revoked")) = q.done.as_deref() {
                p.b =
                    p.b.with_flash("success", t.get(&format!("eta.done_{k}")).into());
            }
            render(&p)
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

// "I am safe / I need help" without JavaScript ------------------------------

#[derive(Deserialize)]
pub struct WellbeingForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    dep_name: Vec<String>,
    #[serde(default)]
    dep_status: Vec<String>,
    #[serde(default)]
    note: String,
}

pub async fn wellbeing(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Form(f): Form<WellbeingForm>,
) -> Response {
    let t = lang(&headers, &state);
    let n = f.dep_name.len().max(f.dep_status.len());
    let at = |v: &[String], i: usize| v.get(i).cloned().unwrap_or_default();
    // Rows without an answer are left out; `rows[j]` is the form row of dependants[j].
    let mut rows = vec![];
    let mut dependants = vec![];
    for i in 0..n {
        let (name, status) = (at(&f.dep_name, i), at(&f.dep_status, i));
        if status.trim().is_empty() {
            continue;
        }
        rows.push(i);
        dependants.push(DependantIn { name, status });
    }
    let r = WellbeingIn {
        status: f.status.clone(),
        dependants,
        note: f.note.clone(),
    };
    let e = match record_wellbeing_for(&state, &who, &r, "web").await {
        Ok(_) => return see_other("/eta?done=wellbeing#wellbeing"),
        Err(e) => e,
    };
    if e.status() != StatusCode::UNPROCESSABLE_ENTITY {
        return e.into_response_page(&state, &headers, Some(&who));
    }
    let field = e.field.clone().unwrap_or_default();
    // `dependants[j].name` → the form row of dependants[j], and the field.
    let at_row = field
        .strip_prefix("dependants[")
        .and_then(|r| r.split_once("]."))
        .and_then(|(j, what)| Some((*rows.get(j.parse::<usize>().ok()?)?, what.to_string())));
    let anchor = match (field.as_str(), &at_row) {
        ("status", _) => "i-am-safe".to_string(),
        ("note", _) => "wb-note".to_string(),
        (_, Some((row, what))) => format!("dep-{row}-{what}"),
        _ => "wellbeing-form".into(),
    };
    match eta_page(&state, t, &who).await {
        Ok(mut p) => {
            p.wb_error = Some(e.message().to_string());
            p.wb_error_anchor = anchor;
            p.note = f.note;
            p.dependants =
                dependant_rows((0..n).map(|i| (at(&f.dep_name, i), at(&f.dep_status, i))));
            if let Some((row, what)) = at_row {
                if let Some(d) = p.dependants.get_mut(row) {
                    d.error = what;
                }
            }
            with_status(render(&p), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

// my contact details ------------------------------------------------------

#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    phone: String,
    #[serde(default)]
    c_name: Vec<String>,
    #[serde(default)]
    c_relation: Vec<String>,
    #[serde(default)]
    c_phone: Vec<String>,
    #[serde(default)]
    c_email: Vec<String>,
}

/// `emergency_contacts[1].phone` → `contact-1-phone`.
fn profile_anchor(field: &str) -> String {
    match field {
        "phone" => "own-phone".into(),
        "emergency_contacts" => "contact-0-name".into(),
        f => f
            .strip_prefix("emergency_contacts[")
            .and_then(|r| r.split_once("]."))
            .map(|(i, what)| format!("contact-{i}-{what}"))
            .unwrap_or_else(|| "profile-form".into()),
    }
}

pub async fn profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Form(f): Form<ProfileForm>,
) -> Response {
    let t = lang(&headers, &state);
    let n = [
        f.c_name.len(),
        f.c_relation.len(),
        f.c_phone.len(),
        f.c_email.len(),
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let at = |v: &[String], i: usize| v.get(i).cloned().unwrap_or_default();
    // Empty rows (the blank one offered for a new contact) are left out.
    let contacts: Vec<EmergencyContact> = (0..n)
        .map(|i| EmergencyContact {
            name: at(&f.c_name, i),
            relation: at(&f.c_relation, i),
            phone: at(&f.c_phone, i),
            email: at(&f.c_email, i),
        })
        .filter(|c| {
            [&c.name, &c.relation, &c.phone, &c.email]
                .iter()
                .any(|s| !s.trim().is_empty())
        })
        .collect();
    let e = match service::update_own_contacts(&state, &who, &f.phone, &contacts).await {
        Ok(_) => return see_other("/eta?done=profile#profile"),
        Err(e) => e,
    };
    if e.status() != StatusCode::UNPROCESSABLE_ENTITY {
        return e.into_response_page(&state, &headers, Some(&who));
    }
    match eta_page(&state, t, &who).await {
        Ok(mut p) => {
            let field = e.field.as_deref().unwrap_or_default();
            p.profile_error_anchor = profile_anchor(field);
            p.profile_error = Some(e.message().to_string());
            p.own_phone = f.phone;
            p.contacts = contact_rows(&t, &contacts);
            if let Some((i, what)) = field
                .strip_prefix("emergency_contacts[")
                .and_then(|r| r.split_once("]."))
            {
                if let Some(c) = i.parse::<usize>().ok().and_then(|i| p.contacts.get_mut(i)) {
                    c.error = what.to_string();
                }
            }
            with_status(render(&p), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

// alerts read -------------------------------------------------------------

#[derive(Deserialize)]
pub struct ReadForm {
    /// One notification; none: every unread eTA notification.
    #[serde(default)]
    id: Vec<String>,
}

pub async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Form(f): Form<ReadForm>,
) -> Response {
    let r = async {
        let mut ids = vec![];
        for s in &f.id {
            ids.push(Uuid::parse_str(s.trim()).map_err(|_| ApiError::invalid("id", "not an id"))?);
        }
        if ids.is_empty() {
            ids = eta_notifications(&state, who.user.id)
                .await?
                .into_iter()
                .filter(|n| n.read_at.is_none())
                .map(|n| n.id)
                .collect();
        }
        if !ids.is_empty() {
            state
                .store
                .mark_notifications_read(who.user.id, &ids, warden_store::now_micros())
                .await?;
        }
        Ok::<_, ApiError>(())
    }
    .await;
    match r {
        Ok(()) => see_other("/eta#alerts"),
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

// enrolling a phone without JavaScript --------------------------------------

#[derive(Template)]
#[template(path = "eta_enrolled.html")]
struct EnrolledPage {
    b: Base,
    device_name: String,
    url: String,
    username: String,
    token: String,
}

#[derive(Deserialize)]
pub struct EnrolForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    totp: String,
}

/// Enrols a device for the OwnTracks app (the page's own reporting needs
/// JavaScript, which enrols through the API instead) and shows its settings
/// once. The page is not cached.
pub async fn enrol(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Form(f): Form<EnrolForm>,
) -> Response {
    let t = lang(&headers, &state);
    match service::enrol_device(&state, &who, &f.name, "owntracks", &f.totp).await {
        Ok((d, token)) => {
            let mut r = render(&EnrolledPage {
                b: Base::new(
                    t,
                    Some(&who),
                    t.get("eta.enrolled_title").into(),
                    "eta",
                    "/eta",
                ),
                device_name: d.name,
                url: service::owntracks_url(&state),
                username: who.user.username.clone(),
                token,
            });
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            r
        }
        Err(e) if matches!(e.status().as_u16(), 401 | 422 | 429) => {
            match eta_page(&state, t, &who).await {
                Ok(mut p) => {
                    let status = e.status();
                    p.enrol_error = Some(e.message().to_string());
                    p.device_name = f.name;
                    with_status(render(&p), status)
                }
                Err(e) => e.into_response_page(&state, &headers, Some(&who)),
            }
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Path(id): Path<Uuid>,
) -> Response {
    match state
        .store
        .revoke_device(who.user.id, id, &who.audit())
        .await
    {
        Ok(()) => {
            state.devices.forget_device(id);
            see_other("/eta?done=revoked#this-phone")
        }
        Err(e) => ApiError::from(e).into_response_page(&state, &headers, Some(&who)),
    }
}

// installable: manifest and service worker -------------------------------------

/// The web app manifest: the eTA installs as an app that opens at /eta.
pub async fn manifest(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let t = lang(&headers, &state);
    let m = serde_json::json!({
        "name": t.get("eta.app_name"),
        "short_name": "eTA",
        "description": t.get("eta.app_description"),
        "lang": t.code(),
        "dir": t.dir(),
        "id": "/eta",
        "start_url": "/eta",
        "scope": "/eta",
        "display": "standalone",
        "background_color": "#f4f6f8",
        "theme_color": "#0d2440",
        "icons": [
            {"src": "/assets/eta-icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any maskable"},
            {"src": "/assets/eta-icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any maskable"},
            {"src": "/assets/eta-icon.svg", "sizes": "any", "type": "image/svg+xml"}
        ]
    });
    (
        [
            (header::CONTENT_TYPE, "application/manifest+json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        m.to_string(),
    )
        .into_response()
}

/// The service worker, at /eta so that it may control the app; it keeps the
/// app shell (and the last /eta page) so that the app opens offline.
pub async fn service_worker() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (
                header::HeaderName::from_static("service-worker-allowed"),
                "/eta",
            ),
        ],
        include_str!("../../assets/eta-sw.js"),
    )
        .into_response()
}

// ---------------------------------------------------------------------------
// what is held about my whereabouts
// ---------------------------------------------------------------------------

pub struct PositionRow {
    pub at: String,
    pub at_iso: String,
    pub area: String,
    pub lat: String,
    pub lon: String,
    pub accuracy: String,
    pub frozen: bool,
}

pub struct FreezeRow {
    pub case_reference: String,
    pub from: String,
    pub to: String,
    pub reason: String,
    pub by: String,
    pub at: String,
    pub lifted: String,
    pub lift_reason: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "location_data.html")]
struct LocationDataPage {
    b: Base,
    last_area: String,
    last_area_code: String,
    last_since: String,
    last_reported: String,
    has_last: bool,
    positions: Vec<PositionRow>,
    positions_total: usize,
    freezes: Vec<FreezeRow>,
    devices: Vec<DeviceRow>,
    /// "Everything is deleted 96 hours after it was recorded…"
    retention: String,
    nothing: bool,
}

/// Positions shown on the page (all are counted).
const POSITIONS_SHOWN: usize = 500;

#[derive(Deserialize)]
pub struct DeletedQuery {
    deleted: Option<u64>,
    frozen: Option<u64>,
    last: Option<u8>,
}

pub async fn location_data(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Query(q): Query<DeletedQuery>,
) -> Response {
    let t = lang(&headers, &state);
    let r = async {
        let h = state.store.held_location_data(who.user.id).await?;
        let (last_area, last_area_code) =
            match h.last_location.as_ref().and_then(|l| l.area.as_ref()) {
                Some(code) => match state.store.get_area(code).await? {
                    Some(a) => (area_name(&t, &a), code.to_string()),
                    None => (code.to_string(), code.to_string()),
                },
                None => (t.get("data.outside").to_string(), String::new()),
            };
        let covered = |at: &DateTime<Utc>| {
            h.freezes
                .iter()
                .any(|f| f.lifted_at.is_none() && f.from <= *at && *at <= f.to)
        };
        let positions_total = h.positions.len();
        let positions = h
            .positions
            .iter()
            .take(POSITIONS_SHOWN)
            .map(|p| PositionRow {
                at: fmt_time(&p.recorded_at),
                at_iso: p.recorded_at.to_rfc3339(),
                area: p.area.to_string(),
                lat: format!("{:.5}", p.lat),
                lon: format!("{:.5}", p.lon),
                accuracy: p
                    .accuracy_m
                    .map(|a| format!("{a:.0} m"))
                    .unwrap_or_default(),
                frozen: covered(&p.recorded_at),
            })
            .collect();
        let freezes: Vec<FreezeRow> = h
            .freezes
            .iter()
            .map(|f| FreezeRow {
                case_reference: f.case_reference.clone(),
                from: fmt_time(&f.from),
                to: fmt_time(&f.to),
                reason: f.reason.clone(),
                by: f.created_by_name.clone(),
                at: fmt_time(&f.created_at),
                lifted: f.lifted_at.map(|x| fmt_time(&x)).unwrap_or_default(),
                lift_reason: f.lift_reason.clone().unwrap_or_default(),
                active: f.lifted_at.is_none(),
            })
            .collect();
        let first_active = h
            .devices
            .first()
            .filter(|d| d.revoked_at.is_none() && d.last_seen_at.is_some())
            .map(|d| d.id);
        let devices: Vec<DeviceRow> = h
            .devices
            .iter()
            .map(|d| DeviceRow {
                id: d.id.to_string(),
                active: Some(d.id) == first_active,
                revoked: d.revoked_at.is_some(),
                name: d.name.clone(),
                platform: d.platform.clone(),
                created: fmt_time(&d.created_at),
                last_seen: d.last_seen_at.map(|x| fmt_time(&x)).unwrap_or_default(),
                last_seen_iso: d.last_seen_at.map(|x| x.to_rfc3339()).unwrap_or_default(),
            })
            .collect();
        let mut b = Base::new(
            t,
            Some(&who),
            t.get("data.title").into(),
            "eta",
            "/me/location-data",
        );
        if let Some(deleted) = q.deleted {
            let mut msg = t.fmt("data.deleted", &[("n", &deleted.to_string())]);
            if q.last == Some(1) {
                msg.push(' ');
                msg.push_str(t.get("data.deleted_last"));
            }
            if let Some(frozen) = q.frozen.filter(|n| *n > 0) {
                msg.push(' ');
                msg.push_str(&t.fmt("data.kept_frozen", &[("n", &frozen.to_string())]));
            }
            b = b.with_flash("success", msg);
        }
        Ok::<_, ApiError>(LocationDataPage {
            b,
            has_last: h.last_location.is_some(),
            last_since: h
                .last_location
                .as_ref()
                .map(|l| fmt_time(&l.since))
                .unwrap_or_default(),
            last_reported: h
                .last_location
                .as_ref()
                .map(|l| fmt_time(&l.reported_at))
                .unwrap_or_default(),
            nothing: h.last_location.is_none() && positions_total == 0,
            last_area,
            last_area_code,
            positions,
            positions_total,
            freezes,
            devices,
            retention: t.fmt(
                "data.retention",
                &[("hours", &state.config.location_retention_hours.to_string())],
            ),
        })
    }
    .await;
    super::pages::show_page(r, &state, &headers, Some(&who))
}

/// Deletes what is held about my whereabouts, except what a freeze keeps.
pub async fn delete_location_data(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
) -> Response {
    match state
        .store
        .delete_location_data(who.user.id, &who.audit())
        .await
    {
        Ok(d) => see_other(&format!(
            "/me/location-data?deleted={}&frozen={}&last={}",
            d.positions_deleted,
            d.positions_frozen,
            u8::from(d.last_location_deleted)
        )),
        Err(e) => ApiError::from(e).into_response_page(&state, &headers, Some(&who)),
    }
}

// ---------------------------------------------------------------------------
// one geo-alert
// ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "alert.html")]
struct AlertPage {
    b: Base,
    id: String,
    headline: String,
    severity_key: String,
    severity: String,
    badge: &'static str,
    area_code: String,
    area_name: String,
    country: String,
    level: LevelView,
    instruction: String,
    description: String,
    issued_by: String,
    issued_at: String,
    issued_iso: String,
    expires_at: String,
    expires_iso: String,
    expired: bool,
    recipients: i64,
}

pub async fn alert(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Path(id): Path<Uuid>,
) -> Response {
    let t = lang(&headers, &state);
    let r = async {
        let a = state
            .store
            .get_alert(id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("alert {id}")))?;
        let area = state.store.get_area(&a.area).await?;
        Ok::<_, ApiError>(AlertPage {
            b: Base::new(
                t,
                Some(&who),
                a.headline.clone(),
                "eta",
                &format!("/alerts/{id}"),
            ),
            id: a.id.to_string(),
            severity_key: a.severity.as_str().into(),
            severity: t
                .get(&format!("severity.{}", a.severity.as_str()))
                .to_string(),
            badge: severity_badge(a.severity),
            area_code: a.area.to_string(),
            area_name: area
                .as_ref()
                .map(|x| area_name(&t, x))
                .unwrap_or_else(|| a.area_name.clone()),
            country: a.country.to_string(),
            level: LevelView::new(&t, area.and_then(|x| x.level)),
            headline: a.headline,
            instruction: a.instruction,
            description: a.description,
            issued_by: a.issued_by_name,
            issued_at: fmt_time(&a.issued_at),
            issued_iso: a.issued_at.to_rfc3339(),
            expires_at: fmt_time(&a.expires_at),
            expires_iso: a.expires_at.to_rfc3339(),
            expired: a.expires_at <= Utc::now(),
            recipients: a.recipients,
        })
    }
    .await;
    super::pages::show_page(r, &state, &headers, Some(&who))
}

// ---------------------------------------------------------------------------
// tracking: oversight, and the DO's authorisations
// ---------------------------------------------------------------------------

pub struct TrackingRow {
    pub id: String,
    pub area_code: String,
    pub area_name: String,
    pub starts: String,
    pub starts_iso: String,
    pub ends: String,
    pub ends_iso: String,
    pub reason: String,
    pub by: String,
    pub created: String,
    /// `active`, `scheduled`, `ended` (early) or `expired`.
    pub state_key: &'static str,
    pub state: String,
    pub badge: &'static str,
    pub overdue: bool,
    /// "in force for N days"
    pub running: String,
    pub ended: String,
    pub end_reason: String,
    pub can_end: bool,
}

#[derive(Template)]
#[template(path = "tracking.html")]
struct TrackingPage {
    b: Base,
    /// The explanation, with the oversight limit.
    lead: String,
    /// "In force over 7 days"
    overdue_label: String,
    /// The limit on one authorisation's length, and that times are UTC.
    ends_hint: String,
    rows: Vec<TrackingRow>,
    /// The caller is the DO of these areas: (code, name); empty for none.
    do_areas: Vec<(String, String)>,
    /// A global DO types the area code.
    do_anywhere: bool,
    form_area: String,
    form_ends: String,
    form_reason: String,
    error: Option<String>,
    error_field: String,
    /// A refused end: the authorisation, the message, the reason typed.
    end_error_id: String,
    end_error: String,
    end_reason: String,
}

fn tracking_row(state: &AppState, t: &T, who: &Authed, a: TrackingAuthorisation) -> TrackingRow {
    let now = warden_store::now_micros();
    let (active, overdue) = service::tracking_flags(state, &a, now);
    let (state_key, badge) = if active {
        (
            "active",
            if overdue {
                "badge-danger"
            } else {
                "badge-warning"
            },
        )
    } else if a.ended_at.is_some() {
        ("ended", "badge-muted")
    } else if a.starts_at > now {
        ("scheduled", "badge-info")
    } else {
        ("expired", "badge-muted")
    };
    let days = (now - a.starts_at).num_days().max(0);
    TrackingRow {
        id: a.id.to_string(),
        can_end: (active || state_key == "scheduled")
            && may_authorise_tracking(&who.user.grants, &a.area, &a.country),
        area_code: a.area.to_string(),
        area_name: a.area_name,
        starts: fmt_time(&a.starts_at),
        starts_iso: a.starts_at.to_rfc3339(),
        ends: fmt_time(&a.ends_at),
        ends_iso: a.ends_at.to_rfc3339(),
        reason: a.reason,
        by: a.authorised_by_name,
        created: fmt_time(&a.created_at),
        state_key,
        state: t.get(&format!("tracking.state_{state_key}")).to_string(),
        badge,
        overdue,
        running: match (active, days) {
            (false, _) => String::new(),
            (true, 0) => t.fmt(
                "tracking.running_hours",
                &[("n", &(now - a.starts_at).num_hours().max(0).to_string())],
            ),
            (true, d) => t.fmt("tracking.running", &[("n", &d.to_string())]),
        },
        ended: a.ended_at.map(|x| fmt_time(&x)).unwrap_or_default(),
        end_reason: a.end_reason.unwrap_or_default(),
    }
}

/// The areas whose tracking the caller may authorise (the DO's), and
/// whether a grant is global (then the area is typed).
async fn do_areas(
    state: &AppState,
    t: &T,
    who: &Authed,
) -> Result<(Vec<(String, String)>, bool), ApiError> {
    let mut areas = BTreeMap::new();
    let mut anywhere = false;
    for g in who
        .user
        .grants
        .iter()
        .filter(|g| g.role == Role::DesignatedOfficial)
    {
        match &g.scope {
            Scope::Global => anywhere = true,
            Scope::Country(cc) => {
                for a in state.all_areas(Some(cc)).await? {
                    areas.insert(a.code.to_string(), area_name(t, &a));
                }
            }
            Scope::Area(code) => {
                if let Some(a) = state.store.get_area(code).await? {
                    areas.insert(a.code.to_string(), area_name(t, &a));
                }
            }
        }
    }
    let mut v: Vec<(String, String)> = areas.into_iter().collect();
    v.sort_by(|a, b| a.1.cmp(&b.1));
    Ok((v, anywhere))
}

async fn tracking_page(state: &AppState, t: T, who: &Authed) -> Result<TrackingPage, ApiError> {
    if !service::is_overseer(&who.user.grants) {
        return Err(ApiError::forbidden(t.get("tracking.only_security")));
    }
    let page = PageRequest::new(Some(PageRequest::MAX_LIMIT), None);
    let mut all = vec![];
    match service::overseen_countries(&who.user.grants) {
        None => {
            all = service::list_tracking(state, who, None, None, &page)
                .await?
                .items
        }
        Some(countries) => {
            for cc in countries {
                all.extend(
                    service::list_tracking(state, who, Some(cc.as_str()), None, &page)
                        .await?
                        .items,
                );
            }
        }
    }
    let mut rows: Vec<TrackingRow> = all
        .into_iter()
        .map(|a| tracking_row(state, &t, who, a))
        .collect();
    // In force first (overdue ones at the top), then scheduled, then the rest; newest first.
    let rank = |r: &TrackingRow| match (r.state_key, r.overdue) {
        ("active", true) => 0,
        ("active", false) => 1,
        ("scheduled", _) => 2,
        _ => 3,
    };
    rows.sort_by(|a, b| rank(a).cmp(&rank(b)).then(b.starts_iso.cmp(&a.starts_iso)));
    let (do_areas, do_anywhere) = do_areas(state, &t, who).await?;
    let default_end = (Utc::now() + Duration::hours(24)).format("%Y-%m-%dT%H:00");
    Ok(TrackingPage {
        b: Base::new(
            t,
            Some(who),
            t.get("tracking.title").into(),
            "tracking",
            "/tracking",
        ),
        lead: t.fmt(
            "tracking.lead",
            &[
                ("days", &state.config.tracking_warn_days.to_string()),
                ("hours", &state.config.location_retention_hours.to_string()),
            ],
        ),
        overdue_label: t.fmt(
            "tracking.overdue",
            &[("days", &state.config.tracking_warn_days.to_string())],
        ),
        ends_hint: t.fmt(
            "tracking.ends_hint",
            &[("days", &warden_domain::eta::MAX_TRACKING_DAYS.to_string())],
        ),
        rows,
        do_areas,
        do_anywhere,
        form_area: String::new(),
        form_ends: default_end.to_string(),
        form_reason: String::new(),
        error: None,
        error_field: String::new(),
        end_error_id: String::new(),
        end_error: String::new(),
        end_reason: String::new(),
    })
}

pub async fn tracking(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Query(q): Query<DoneQuery>,
) -> Response {
    let t = lang(&headers, &state);
    match tracking_page(&state, t, &who).await {
        Ok(mut p) => {
            if let Some(k @ ("authorised" | "ended")) = q.done.as_deref() {
                p.b =
                    p.b.with_flash("success", t.get(&format!("tracking.done_{k}")).into());
            }
            render(&p)
        }
        Err(e) if e.status() == StatusCode::FORBIDDEN => error_page(
            Base::new(
                t,
                Some(&who),
                t.get("tracking.title").into(),
                "tracking",
                "/tracking",
            ),
            &e,
        ),
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

#[derive(Deserialize)]
pub struct AuthoriseForm {
    #[serde(default)]
    area: String,
    /// `YYYY-MM-DDTHH:MM`, UTC.
    #[serde(default)]
    ends_at: String,
    #[serde(default)]
    reason: String,
}

fn parse_utc(s: &str, field: &str) -> Result<DateTime<Utc>, ApiError> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .map(|n| n.and_utc())
        .map_err(|_| ApiError::invalid(field, "give a date and time in UTC (2030-03-01T18:00)"))
}

pub async fn authorise(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Form(f): Form<AuthoriseForm>,
) -> Response {
    let t = lang(&headers, &state);
    let r = async {
        let ends_at = parse_utc(&f.ends_at, "ends_at")?;
        service::authorise_tracking(&state, &who, &f.area, None, ends_at, &f.reason).await
    }
    .await;
    let e = match r {
        Ok(_) => return see_other("/tracking?done=authorised"),
        Err(e) => e,
    };
    if e.status() != StatusCode::UNPROCESSABLE_ENTITY {
        return e.into_response_page(&state, &headers, Some(&who));
    }
    match tracking_page(&state, t, &who).await {
        Ok(mut p) => {
            p.error_field = e.field.clone().unwrap_or_default();
            p.error = Some(e.message().to_string());
            p.form_area = f.area;
            p.form_ends = f.ends_at;
            p.form_reason = f.reason;
            with_status(render(&p), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

#[derive(Deserialize)]
pub struct EndForm {
    #[serde(default)]
    reason: String,
}

pub async fn end(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Path(id): Path<Uuid>,
    Form(f): Form<EndForm>,
) -> Response {
    let t = lang(&headers, &state);
    let e = match service::end_tracking(&state, &who, id, &f.reason).await {
        Ok(_) => return see_other("/tracking?done=ended"),
        Err(e) => e,
    };
    let status = e.status();
    if !matches!(status.as_u16(), 409 | 422) {
        return e.into_response_page(&state, &headers, Some(&who));
    }
    match tracking_page(&state, t, &who).await {
        Ok(mut p) => {
            p.end_error_id = id.to_string();
            p.end_error = e.message().to_string();
            p.end_reason = f.reason;
            with_status(render(&p), status)
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}
