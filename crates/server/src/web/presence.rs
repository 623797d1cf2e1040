//! Who is where in the browser: the presence map (every area coloured by
//! the people placed in it at a moment, with a table of the same figures),
//! an area's headcount (totals, agencies, personnel categories, the flagged,
//! and the people with why and how fresh for those allowed), and the
//! undertaking on the use of location data that the people need first.
//! Every figure comes from the API handlers (`api::presence`,
//! `api::presence_world`), so the pages apply the same rules and write the
//! same audit entries.

use super::pages::{show_page, PageError};
use super::{fmt_time, lang, render, see_other, Base};
use crate::api::presence::{headcount, HeadcountQuery, PersonWhereabouts};
use crate::api::presence_world::{world_headcount, WorldQuery};
use crate::auth::{ApiUser, Authed, WebUser};
use crate::error::ApiError;
use crate::i18n::T;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use axum_extra::extract::Form;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use warden_domain::eta::UNDERTAKING_VERSION;
use warden_domain::presence::HEADCOUNT_ROLES;
use warden_domain::rollcall::{may_run_roll_call, MAX_MESSAGE_CHARS};
use warden_domain::{AreaCode, CountryCode};

/// Colour classes of the presence map, by the people present: the lower
/// bound of each class (0 is "nobody").
pub const BUCKETS: [i64; 5] = [1, 5, 20, 50, 100];

/// The class of a count (`presence-0` … `presence-5`).
pub fn bucket(n: i64) -> usize {
    BUCKETS.iter().take_while(|b| n >= **b).count()
}

/// `at` as the pages take it: RFC 3339, or the `YYYY-MM-DDTHH:MM` of a
/// `datetime-local` field, read as UTC. Empty: now.
pub fn page_at(at: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(s) = at.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if DateTime::parse_from_rfc3339(s).is_ok() {
        return Ok(Some(s.to_string()));
    }
    for f in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(Some(
                t.and_utc()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ));
        }
    }
    Err(ApiError::invalid(
        "at",
        format!("`{s}` is not a date and time (e.g. 2026-11-30T12:00 in UTC)"),
    ))
}

/// The value of a `datetime-local` field for a moment (UTC).
pub fn local_input(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M").to_string()
}

/// How long ago, in words.
pub fn ago(t: &T, then: &DateTime<Utc>, now: &DateTime<Utc>) -> String {
    let mins = (*now - *then).num_minutes();
    if mins < 0 {
        return t.get("presence.ago_future").to_string();
    }
    if mins < 60 {
        return t.fmt("presence.ago_minutes", &[("n", &mins.max(1).to_string())]);
    }
    let hours = mins / 60;
    if hours < 48 {
        return t.fmt("presence.ago_hours", &[("n", &hours.to_string())]);
    }
    t.fmt("presence.ago_days", &[("n", &(hours / 24).to_string())])
}

pub fn category_label(t: &T, c: &str) -> String {
    t.get(&format!("personnel.{c}")).to_string()
}

fn area_name(t: &T, a: &warden_store::Area) -> String {
    a.names
        .get(t.code())
        .cloned()
        .unwrap_or_else(|| a.name.clone())
}

fn has_headcount_role(who: &Authed) -> bool {
    who.user
        .grants
        .iter()
        .any(|g| HEADCOUNT_ROLES.contains(&g.role))
}

// ---------------------------------------------------------------------------
// the presence map
// ---------------------------------------------------------------------------

pub struct MapRow {
    pub code: String,
    pub name: String,
    pub country: String,
    pub present: i64,
    pub flagged: i64,
    pub bucket: usize,
    /// Per agency, `CODE n` joined.
    pub agencies: String,
}

#[derive(Template)]
#[template(path = "presence.html")]
struct PresencePage {
    b: Base,
    at_input: String,
    at_label: String,
    /// The `at` query to carry in links (`?at=…` or empty).
    at_query: String,
    country: String,
    countries: Vec<(String, String)>,
    rows: Vec<MapRow>,
    present: i64,
    flagged: i64,
    geojson_url: String,
    counts_json: String,
    legend: Vec<(usize, String)>,
    restricted: bool,
}

#[derive(Deserialize)]
pub struct MapParams {
    at: Option<String>,
    country: Option<String>,
}

/// The countries of the caller's headcount grants, and whether some grant
/// reaches beyond single countries (global or regional).
fn headcount_countries(who: &Authed) -> (BTreeSet<CountryCode>, bool) {
    let mut countries = BTreeSet::new();
    let mut wider = false;
    for g in who
        .user
        .grants
        .iter()
        .filter(|g| HEADCOUNT_ROLES.contains(&g.role))
    {
        match &g.scope {
            warden_domain::Scope::Country(c) => {
                countries.insert(c.clone());
            }
            warden_domain::Scope::Area(a) => {
                countries.insert(a.country());
            }
            _ => wider = true,
        }
    }
    (countries, wider)
}

/// The one country all the caller's headcount grants lie in, if any.
fn only_country(who: &Authed) -> Option<CountryCode> {
    let (countries, wider) = headcount_countries(who);
    (!wider && countries.len() == 1)
        .then(|| countries.into_iter().next())
        .flatten()
}

pub async fn map(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Query(q): Query<MapParams>,
) -> Response {
    let t = lang(&headers, &state);
    let b = Base::new(
        t,
        Some(&who),
        t.get("presence.title").into(),
        "presence",
        "/presence",
    );
    if !has_headcount_role(&who) {
        return super::error_page(b, &ApiError::forbidden(t.get("presence.no_role")));
    }
    let r = async {
        let at = page_at(q.at.as_deref())?;
        // No country asked: the caller's only country, else the world.
        let country = match q.country.as_deref().map(str::trim) {
            None => only_country(&who).map(|c| c.to_string()),
            Some("") => None,
            Some(c) => Some(c.to_ascii_uppercase()),
        };
        let Json(w) = world_headcount(
            State(state.clone()),
            ApiUser(who.clone()),
            crate::api::Query(WorldQuery {
                at: at.clone(),
                country: country.clone(),
            }),
        )
        .await?;
        let cc = country.as_deref().map(CountryCode::parse).transpose()?;
        let names: HashMap<AreaCode, String> = state
            .all_areas(cc.as_ref())
            .await?
            .iter()
            .map(|a| (a.code.clone(), area_name(&t, a)))
            .collect();
        let mut rows: Vec<MapRow> = w
            .areas
            .iter()
            .map(|a| MapRow {
                code: a.area.clone(),
                name: AreaCode::parse(&a.area)
                    .ok()
                    .and_then(|c| names.get(&c).cloned())
                    .unwrap_or_else(|| a.area.clone()),
                country: a.country.clone(),
                present: a.present,
                flagged: a.flagged,
                bucket: bucket(a.present),
                agencies: a
                    .by_agency
                    .iter()
                    .map(|g| format!("{} {}", g.agency_code.as_deref().unwrap_or("—"), g.present))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect();
        rows.sort_by(|a, b| b.present.cmp(&a.present).then(a.code.cmp(&b.code)));
        let counts: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|r| {
                (
                    r.code.clone(),
                    serde_json::json!({"present": r.present, "flagged": r.flagged,
                                       "bucket": r.bucket, "name": r.name}),
                )
            })
            .collect();
        // The countries to choose from: those of the caller's grants and
        // those where someone is.
        let summaries = state.store.list_countries().await?;
        let mut wanted: BTreeSet<String> = rows.iter().map(|r| r.country.clone()).collect();
        wanted.extend(headcount_countries(&who).0.iter().map(|c| c.to_string()));
        if let Some(c) = &country {
            wanted.insert(c.clone());
        }
        let mut countries: Vec<(String, String)> = summaries
            .iter()
            .filter(|c| wanted.contains(c.country.alpha2.as_str()))
            .map(|c| {
                (
                    c.country.alpha2.to_string(),
                    c.country
                        .names
                        .get(t.code())
                        .cloned()
                        .unwrap_or_else(|| c.country.name.clone()),
                )
            })
            .collect();
        countries.sort_by(|a, b| a.1.cmp(&b.1));
        let legend = (0..=BUCKETS.len())
            .map(|i| {
                let label = match i {
                    0 => t.get("presence.nobody").to_string(),
                    i if i == BUCKETS.len() => format!("{}+", BUCKETS[i - 1]),
                    i => format!("{}–{}", BUCKETS[i - 1], BUCKETS[i] - 1),
                };
                (i, label)
            })
            .collect();
        Ok::<_, ApiError>(PresencePage {
            at_input: local_input(&w.at),
            at_label: fmt_time(&w.at),
            at_query: at
                .as_ref()
                .map(|a| format!("?at={}", urlencoding(a)))
                .unwrap_or_default(),
            geojson_url: match &country {
                Some(c) => format!("/api/v1/map/areas.geojson?country={c}"),
                None => "/api/v1/map/areas.geojson".into(),
            },
            country: country.unwrap_or_default(),
            countries,
            restricted: w.areas.iter().any(|a| a.by_agency_restricted),
            present: w.present,
            flagged: w.flagged,
            counts_json: serde_json::Value::Object(counts).to_string(),
            rows,
            legend,
            b,
        })
    }
    .await;
    show_page(r, &state, &headers, Some(&who))
}

/// Percent-encodes a query value.
pub fn urlencoding(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

// ---------------------------------------------------------------------------
// an area's headcount
// ---------------------------------------------------------------------------

pub struct PersonRow {
    pub name: String,
    pub agency: String,
    pub category: String,
    pub present: bool,
    /// Where they are placed, in words (the area, in transit to…, unknown).
    pub place: String,
    pub place_code: String,
    pub duty_station: String,
    pub reason_key: String,
    pub reason: String,
    pub as_of: String,
    pub as_of_iso: String,
    pub fresh: String,
    pub flags: Vec<(String, String)>,
    pub flagged: bool,
}

pub struct CountRow {
    pub label: String,
    pub present: i64,
    pub away: i64,
    /// Flagged (per agency only).
    pub flagged: i64,
}

/// A partner system's figure (`partners` of the API's headcount and board
/// answers): another agency's system reports its own people.
pub struct PartnerRow {
    pub agency: String,
    pub partner: String,
    pub total: i64,
    /// By personnel category, in words.
    pub categories: String,
    /// The partner's own roll-call figures, when it gave them.
    pub roll_call: Option<(i64, i64, i64)>,
    pub reported: String,
}

pub struct OpenRollCall {
    pub id: String,
    pub started: String,
    pub by: String,
}

#[derive(Template)]
#[template(path = "area_headcount.html")]
struct AreaHeadcountPage {
    b: Base,
    code: String,
    name: String,
    country: String,
    country_name: String,
    at_input: String,
    at_label: String,
    at_query: String,
    is_now: bool,
    total: i64,
    away: i64,
    by_duty_station: i64,
    by_travel: i64,
    by_phone: i64,
    flagged: i64,
    overdue: i64,
    stale: i64,
    unknown: i64,
    agencies: Vec<CountRow>,
    categories: Vec<CountRow>,
    /// None: counts only.
    people: Option<Vec<PersonRow>>,
    /// Whose whereabouts the caller's roles would show once the undertaking is accepted.
    needs_undertaking: bool,
    csv_url: String,
    partners: Vec<PartnerRow>,
    can_start: bool,
    open_roll_calls: Vec<OpenRollCall>,
    form_message: String,
    form_error: String,
    flag_summary: String,
    message_hint: String,
    start_label: String,
}

#[derive(Deserialize)]
pub struct AtParams {
    at: Option<String>,
}

/// Reads the optional `partners` section of an API answer: a list of
/// figures (`agency_code`, `partner`, `total`, `counts` by category,
/// `roll_call`, `as_of`), or of agencies each with such figures under
/// `areas` (the roll-call board's shape).
pub fn partner_rows(t: &T, v: &serde_json::Value) -> Vec<PartnerRow> {
    let Some(items) = v.get("partners").and_then(|p| p.as_array()) else {
        return vec![];
    };
    let str_of = |o: &serde_json::Value, k: &str| {
        o.get(k)
            .and_then(|s| s.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let roll_call = |o: &serde_json::Value| {
        o.get("roll_call").and_then(|r| {
            Some((
                r.get("accounted")?.as_i64()?,
                r.get("needs_help")?.as_i64()?,
                r.get("no_answer")?.as_i64()?,
            ))
        })
    };
    items
        .iter()
        .map(|o| {
            let figures: Vec<&serde_json::Value> = match o.get("areas").and_then(|a| a.as_array()) {
                Some(areas) => areas.iter().collect(),
                None => vec![o],
            };
            let mut cats: std::collections::BTreeMap<String, i64> = Default::default();
            let mut partners: BTreeSet<String> = BTreeSet::new();
            let mut latest: Option<DateTime<Utc>> = None;
            for f in &figures {
                if let Some(c) = f.get("counts").and_then(|c| c.as_object()) {
                    for (k, n) in c {
                        *cats.entry(k.clone()).or_default() += n.as_i64().unwrap_or(0);
                    }
                }
                let p = str_of(f, "partner");
                if !p.is_empty() {
                    partners.insert(p);
                }
                if let Ok(d) = DateTime::parse_from_rfc3339(&str_of(f, "as_of")) {
                    let d = d.with_timezone(&Utc);
                    latest = Some(latest.map_or(d, |l| l.max(d)));
                }
            }
            PartnerRow {
                agency: str_of(o, "agency_code"),
                partner: partners.into_iter().collect::<Vec<_>>().join(", "),
                total: o.get("total").and_then(|n| n.as_i64()).unwrap_or(0),
                categories: cats
                    .iter()
                    .map(|(k, n)| format!("{} {n}", category_label(t, k)))
                    .collect::<Vec<_>>()
                    .join(", "),
                roll_call: roll_call(o),
                reported: latest.map(|d| fmt_time(&d)).unwrap_or_default(),
            }
        })
        .collect()
}

/// The words for where the evidence places someone.
fn place(t: &T, p: &PersonWhereabouts, names: &HashMap<String, String>) -> (String, String) {
    let named = |c: &String| {
        names
            .get(c)
            .map(|n| format!("{n} ({c})"))
            .unwrap_or_else(|| c.clone())
    };
    match (&p.area, &p.in_transit_to) {
        (Some(a), _) => (named(a), a.clone()),
        (None, Some(to)) => (
            t.fmt("presence.in_transit_to", &[("area", &named(to))]),
            to.clone(),
        ),
        (None, None) => (
            t.get("presence.whereabouts_unknown").to_string(),
            String::new(),
        ),
    }
}

pub async fn area_headcount(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Path(code): Path<String>,
    Query(q): Query<AtParams>,
) -> Response {
    area_headcount_page(&state, &headers, who, code, q.at, None).await
}

/// The page, with the roll call form's text and error when a start was refused.
pub async fn area_headcount_page(
    state: &AppState,
    headers: &HeaderMap,
    who: Authed,
    code: String,
    at: Option<String>,
    form: Option<(String, String)>,
) -> Response {
    let t = lang(headers, state);
    let r = async {
        let at = page_at(at.as_deref())?;
        let Json(h) = headcount(
            State(state.clone()),
            ApiUser(who.clone()),
            crate::api::Path(code.clone()),
            crate::api::Query(HeadcountQuery { at: at.clone() }),
        )
        .await?;
        let area_code = AreaCode::parse(&h.area)?;
        let area = state
            .store
            .get_area(&area_code)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("area {area_code}")))?;
        let country = state
            .store
            .get_country(&area.country)
            .await?
            .map(|c| c.names.get(t.code()).cloned().unwrap_or(c.name))
            .unwrap_or_else(|| area.country.to_string());
        let as_value = serde_json::to_value(&h).unwrap_or_default();
        let now = warden_store::now_micros();
        let agencies = h
            .by_agency
            .iter()
            .map(|a| CountRow {
                label: a
                    .agency_code
                    .clone()
                    .unwrap_or_else(|| t.get("presence.no_agency").to_string()),
                present: a.present,
                away: a.away,
                flagged: a.flagged,
            })
            .collect();
        let categories = h
            .by_category
            .iter()
            .map(|c| CountRow {
                label: category_label(&t, &c.category),
                present: c.present,
                away: c.away,
                flagged: 0,
            })
            .collect();
        let people = match &h.people {
            None => None,
            Some(people) => {
                // Names of the areas people are placed in or stationed at.
                let mut codes: BTreeSet<String> = BTreeSet::new();
                for p in people {
                    codes.extend(p.area.iter().cloned());
                    codes.extend(p.in_transit_to.iter().cloned());
                    codes.extend(p.duty_station.iter().cloned());
                }
                let mut names = HashMap::new();
                for c in codes {
                    if let Ok(ac) = AreaCode::parse(&c) {
                        if let Some(a) = state.store.get_area(&ac).await? {
                            names.insert(c, area_name(&t, &a));
                        }
                    }
                }
                let mut rows: Vec<PersonRow> = people
                    .iter()
                    .map(|p| {
                        let (place, place_code) = place(&t, p, &names);
                        PersonRow {
                            name: p.name.clone(),
                            agency: p.agency_code.clone().unwrap_or_default(),
                            category: category_label(&t, &p.category),
                            present: p.present,
                            place,
                            place_code,
                            duty_station: p
                                .duty_station
                                .as_ref()
                                .map(|d| names.get(d).cloned().unwrap_or_else(|| d.clone()))
                                .unwrap_or_default(),
                            reason_key: p.reason.clone().unwrap_or_else(|| "none".into()),
                            reason: t
                                .get(&format!(
                                    "presence.reason_{}",
                                    p.reason.as_deref().unwrap_or("none")
                                ))
                                .to_string(),
                            as_of: p.as_of.map(|a| fmt_time(&a)).unwrap_or_default(),
                            as_of_iso: p.as_of.map(|a| a.to_rfc3339()).unwrap_or_default(),
                            fresh: p.as_of.map(|a| ago(&t, &a, &h.at)).unwrap_or_default(),
                            flags: p
                                .flags
                                .iter()
                                .map(|f| {
                                    (f.clone(), t.get(&format!("presence.flag_{f}")).to_string())
                                })
                                .collect(),
                            flagged: !p.flags.is_empty(),
                        }
                    })
                    .collect();
                // The flagged first, then those present, then those away; by name.
                rows.sort_by(|a, b| {
                    (!a.flagged, !a.present, &a.name).cmp(&(!b.flagged, !b.present, &b.name))
                });
                Some(rows)
            }
        };
        let pair = [(area.code.clone(), area.country.clone())];
        let can_start = may_run_roll_call(&who.user.grants, &pair);
        let open_roll_calls = state
            .store
            .list_roll_calls(Some(&area.code), true)
            .await?
            .into_iter()
            .map(|r| OpenRollCall {
                id: r.id.to_string(),
                started: fmt_time(&r.started_at),
                by: r.started_by_name,
            })
            .collect();
        let at_query = at
            .as_ref()
            .map(|a| format!("?at={}", urlencoding(a)))
            .unwrap_or_default();
        let (form_message, form_error) = form.unwrap_or_default();
        let name = area_name(&t, &area);
        Ok::<_, ApiError>(AreaHeadcountPage {
            b: Base::new(
                t,
                Some(&who),
                t.fmt("headcount.title", &[("area", &name)]),
                "presence",
                &format!("/areas/{}/headcount", area.code),
            ),
            csv_url: format!("/api/v1/areas/{}/headcount.csv{at_query}", area.code),
            code: area.code.to_string(),
            country: area.country.to_string(),
            country_name: country,
            name,
            at_input: local_input(&h.at),
            at_label: fmt_time(&h.at),
            at_query,
            is_now: at.is_none() || (now - h.at).num_seconds().abs() < 60,
            total: h.total,
            away: h.away,
            by_duty_station: h.by_reason.duty_station,
            by_travel: h.by_reason.travel,
            by_phone: h.by_reason.phone,
            flagged: h.flagged.total,
            overdue: h.flagged.overdue,
            stale: h.flagged.stale_location,
            unknown: h.flagged.unknown,
            agencies,
            categories,
            needs_undertaking: h.people.is_none() && h.people_withheld.is_some(),
            people,
            partners: partner_rows(&t, &as_value),
            can_start,
            open_roll_calls,
            form_message,
            form_error,
            flag_summary: t.fmt(
                "headcount.flag_summary",
                &[("n", &h.flagged.total.to_string())],
            ),
            message_hint: t.fmt(
                "rollcall.message_hint",
                &[("n", &MAX_MESSAGE_CHARS.to_string())],
            ),
            start_label: t.fmt("rollcall.start", &[("n", &h.total.to_string())]),
        })
    }
    .await;
    match r {
        Ok(p) => {
            let mut resp = render(&p);
            if !p.form_error.is_empty() {
                *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            }
            resp
        }
        Err(e) => e.into_response_page(state, headers, Some(&who)),
    }
}

// ---------------------------------------------------------------------------
// the undertaking
// ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "presence_undertaking.html")]
struct UndertakingPage {
    b: Base,
    text: String,
    version: String,
    accepted: String,
    next: String,
}

#[derive(Deserialize)]
pub struct NextParams {
    next: Option<String>,
}

/// Only a path of this site (no scheme, no `//`), else the presence map.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.into(),
        _ => "/presence".into(),
    }
}

pub async fn undertaking(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Query(q): Query<NextParams>,
) -> Response {
    let t = lang(&headers, &state);
    let r = async {
        let u = state.store.undertaking(who.user.id).await?;
        Ok::<_, ApiError>(UndertakingPage {
            b: Base::new(
                t,
                Some(&who),
                t.get("undertaking.title").into(),
                "presence",
                "/undertaking",
            ),
            text: crate::eta::UNDERTAKING_TEXT.into(),
            version: UNDERTAKING_VERSION.into(),
            accepted: u
                .filter(|u| u.version == UNDERTAKING_VERSION)
                .map(|u| fmt_time(&u.accepted_at))
                .unwrap_or_default(),
            next: safe_next(q.next.as_deref()),
        })
    }
    .await;
    show_page(r, &state, &headers, Some(&who))
}

#[derive(Deserialize)]
pub struct AcceptForm {
    version: String,
    next: Option<String>,
}

pub async fn accept_undertaking(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Form(f): Form<AcceptForm>,
) -> Response {
    let r = crate::api::eta::accept_undertaking(
        State(state.clone()),
        ApiUser(who.clone()),
        crate::api::Body(crate::api::eta::AcceptIn { version: f.version }),
    )
    .await;
    match r {
        Ok(_) => see_other(&safe_next(f.next.as_deref())),
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}
