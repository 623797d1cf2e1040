//! TRIP pages: submitting a trip, my trips, one trip (with the reviewers'
//! decision form), the clearance queue, and an area's processing mode. Every
//! rule comes from `crate::trips`, shared with the JSON API.

use super::pages::PageError;
use super::{error_page, fmt_time, lang, render, see_other, Base, LevelView};
use crate::auth::{Authed, WebUser};
use crate::error::ApiError;
use crate::i18n::T;
use crate::state::AppState;
use crate::trips::{self, LegInput, Reviewers, REVIEWERS};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::Form;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;
use warden_domain::trip::{DenialGround, LegStatus, ProcessingMode, TripPurpose, TripStatus};
use warden_domain::{AreaCode, CountryCode, Scope};
use warden_store::{Area, ClearanceQuery, Leg, PageRequest, TravelRequest};

/// Trips per page of "my trips"; clearance requests per page of the queue.
const TRIPS_PER_PAGE: i64 = 20;
const QUEUE_PER_PAGE: i64 = 50;
/// A clearance request departing sooner than this is marked urgent.
const URGENT_HOURS: i64 = 48;

fn with_status(mut r: Response, status: StatusCode) -> Response {
    *r.status_mut() = status;
    r
}

/// A moment as the traveller gave it (in the place's time zone) and in UTC.
pub struct When {
    /// `2030-03-01 08:00 (Europe/Zurich, UTC+01:00)`; empty when the zone is unknown.
    pub local: String,
    pub utc: String,
    pub iso: String,
}

fn when(t: &DateTime<Utc>, tz: Option<&str>) -> When {
    let local = tz
        .and_then(|z| z.parse::<chrono_tz::Tz>().ok())
        .map(|z| {
            let l = t.with_timezone(&z);
            format!(
                "{} ({}, UTC{})",
                l.format("%Y-%m-%d %H:%M"),
                z.name(),
                l.format("%:z")
            )
        })
        .unwrap_or_default();
    When {
        local,
        utc: fmt_time(t),
        iso: t.to_rfc3339(),
    }
}

fn purpose_label(t: &T, p: TripPurpose) -> String {
    t.get(&format!("purpose.{}", p.as_str())).to_string()
}

fn leg_status_label(t: &T, s: LegStatus) -> String {
    t.get(&format!("leg_status.{}", s.as_str())).to_string()
}

fn leg_badge(s: LegStatus) -> &'static str {
    match s {
        LegStatus::Acknowledged | LegStatus::Granted => "badge-success",
        LegStatus::Pending => "badge-info",
        LegStatus::Returned => "badge-warning",
        LegStatus::Denied => "badge-danger",
        LegStatus::Cancelled => "badge-muted",
    }
}

fn trip_badge(s: TripStatus) -> &'static str {
    match s {
        TripStatus::Cleared => "badge-success",
        TripStatus::Pending => "badge-info",
        TripStatus::Returned => "badge-warning",
        TripStatus::Denied => "badge-danger",
        TripStatus::Cancelled => "badge-muted",
    }
}

fn area_name(t: &T, a: &Area) -> String {
    a.names
        .get(t.code())
        .cloned()
        .unwrap_or_else(|| a.name.clone())
}

/// The areas of some legs, each read once.
async fn areas_of<'a>(
    state: &AppState,
    legs: impl Iterator<Item = &'a Leg>,
) -> Result<HashMap<AreaCode, Area>, ApiError> {
    let mut out = HashMap::new();
    for l in legs {
        if !out.contains_key(&l.area) {
            if let Some(a) = state.store.get_area(&l.area).await? {
                out.insert(l.area.clone(), a);
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// submitting a trip
// ---------------------------------------------------------------------------

/// One leg of the form as typed, with the error that concerns it.
pub struct LegRow {
    /// 0-based, as in the field names of errors (`legs[0].to`).
    pub i: usize,
    /// "Leg 2"
    pub title: String,
    pub from: String,
    pub to: String,
    pub depart: String,
    pub arrive: String,
    pub flight: String,
    /// `from`, `to`, `depart`, `arrive` or `flight` when the error is about this leg.
    pub error_field: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "trip_new.html")]
struct NewTripPage {
    b: Base,
    purpose: String,
    purposes: Vec<(String, String)>,
    ta_number: String,
    legs: Vec<LegRow>,
    max_legs: usize,
    /// The error summary, and the anchor of the field it concerns.
    error: Option<String>,
    error_field: String,
    error_anchor: String,
}

/// `legs[1].to` → (1, "to").
fn leg_field(field: &str) -> Option<(usize, &str)> {
    let (i, rest) = field.strip_prefix("legs[")?.split_once("].")?;
    Some((i.parse().ok()?, rest))
}

fn new_trip_page(
    t: T,
    who: &Authed,
    purpose: &str,
    ta_number: &str,
    legs: &[LegInput],
    error: Option<&ApiError>,
) -> NewTripPage {
    let field = error.and_then(|e| e.field.clone()).unwrap_or_default();
    // The message without its `field: ` prefix, to show next to the field.
    let message = error
        .map(|e| {
            e.detail
                .strip_prefix(&format!("{field}: "))
                .unwrap_or(&e.detail)
                .to_string()
        })
        .unwrap_or_default();
    let at_leg = leg_field(&field);
    let (summary, anchor) = match (error, at_leg) {
        (None, _) => (None, String::new()),
        (Some(_), Some((i, f))) => (
            Some(format!(
                "{} — {}: {message}",
                t.fmt("trip.leg_n", &[("n", &(i + 1).to_string())]),
                t.get(&format!("trip.field_{f}"))
            )),
            format!("leg-{i}-{f}"),
        ),
        (Some(e), None) => (Some(e.detail.clone()), field.clone()),
    };
    let mut rows: Vec<LegRow> = legs
        .iter()
        .enumerate()
        .map(|(i, l)| LegRow {
            i,
            title: t.fmt("trip.leg_n", &[("n", &(i + 1).to_string())]),
            from: l.from.clone(),
            to: l.to.clone(),
            depart: l.depart.clone(),
            arrive: l.arrive.clone(),
            flight: l.flight.clone().unwrap_or_default(),
            error_field: String::new(),
            error: String::new(),
        })
        .collect();
    if rows.is_empty() {
        rows.push(LegRow {
            i: 0,
            title: t.fmt("trip.leg_n", &[("n", "1")]),
            from: String::new(),
            to: String::new(),
            depart: String::new(),
            arrive: String::new(),
            flight: String::new(),
            error_field: String::new(),
            error: String::new(),
        });
    }
    if let Some((i, f)) = at_leg {
        if let Some(r) = rows.get_mut(i) {
            r.error_field = f.to_string();
            r.error = message.clone();
        }
    }
    NewTripPage {
        b: Base::new(
            t,
            Some(who),
            t.get("trip.new_title").into(),
            "trips",
            "/trips/new",
        ),
        purpose: if purpose.is_empty() {
            TripPurpose::Official.as_str().into()
        } else {
            purpose.to_string()
        },
        purposes: [
            TripPurpose::Official,
            TripPurpose::Entitlement,
            TripPurpose::Personal,
        ]
        .iter()
        .map(|p| (p.as_str().to_string(), purpose_label(&t, *p)))
        .collect(),
        ta_number: ta_number.to_string(),
        legs: rows,
        max_legs: 50,
        error_field: if at_leg.is_some() {
            String::new()
        } else {
            field
        },
        error_anchor: anchor,
        error: summary,
    }
}

pub async fn new_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
) -> Response {
    let t = lang(&headers, &state);
    render(&new_trip_page(t, &who, "", "", &[], None))
}

#[derive(Deserialize, Default)]
pub struct TripForm {
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    ta_number: String,
    #[serde(default)]
    from: Vec<String>,
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    depart: Vec<String>,
    #[serde(default)]
    arrive: Vec<String>,
    #[serde(default)]
    flight: Vec<String>,
    /// `add` or `remove-N`: the buttons that change the list of legs
    /// without JavaScript. Anything else submits the trip.
    #[serde(default)]
    op: String,
}

impl TripForm {
    fn legs(&self) -> Vec<LegInput> {
        let n = [
            self.from.len(),
            self.to.len(),
            self.depart.len(),
            self.arrive.len(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        let at = |v: &[String], i: usize| v.get(i).cloned().unwrap_or_default();
        (0..n)
            .map(|i| LegInput {
                from: at(&self.from, i),
                to: at(&self.to, i),
                depart: at(&self.depart, i),
                arrive: at(&self.arrive, i),
                flight: Some(at(&self.flight, i)).filter(|f| !f.trim().is_empty()),
            })
            .collect()
    }
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Form(f): Form<TripForm>,
) -> Response {
    let t = lang(&headers, &state);
    let mut legs = f.legs();
    // Editing the list (no JavaScript): show the form again, nothing saved.
    if f.op == "add" {
        if legs.len() < 50 {
            // The next leg starts where the last one ended.
            let from = legs.last().map(|l| l.to.clone()).unwrap_or_default();
            legs.push(LegInput {
                from,
                ..Default::default()
            });
        }
        return render(&new_trip_page(
            t,
            &who,
            &f.purpose,
            &f.ta_number,
            &legs,
            None,
        ));
    }
    if let Some(i) =
        f.op.strip_prefix("remove-")
            .and_then(|i| i.parse::<usize>().ok())
    {
        if legs.len() > 1 && i < legs.len() {
            legs.remove(i);
        }
        return render(&new_trip_page(
            t,
            &who,
            &f.purpose,
            &f.ta_number,
            &legs,
            None,
        ));
    }
    let r = async {
        let new = trips::build_request(&state, &who, &f.purpose, Some(&f.ta_number), &legs).await?;
        Ok::<_, ApiError>(
            state
                .store
                .create_travel_request(&new, &who.audit())
                .await?,
        )
    }
    .await;
    match r {
        Ok(trip) => see_other(&format!("/trips/{}?done=submitted", trip.id)),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => with_status(
            render(&new_trip_page(
                t,
                &who,
                &f.purpose,
                &f.ta_number,
                &legs,
                Some(&e),
            )),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

// ---------------------------------------------------------------------------
// my trips
// ---------------------------------------------------------------------------

pub struct TripLegSummary {
    pub area: String,
    pub status: String,
    pub badge: &'static str,
}

pub struct TripRow {
    pub id: String,
    pub submitted: String,
    pub submitted_iso: String,
    /// `Geneva (GVA), Switzerland → Kabul (KBL), Afghanistan → …`
    pub route: String,
    /// The first departure, in local time where known.
    pub departs: String,
    pub purpose: String,
    pub status_key: String,
    pub status: String,
    pub badge: &'static str,
    pub legs: Vec<TripLegSummary>,
}

#[derive(Template)]
#[template(path = "trip_list.html")]
struct TripListPage {
    b: Base,
    rows: Vec<TripRow>,
    total: i64,
    page: i64,
    pages: i64,
}

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<i64>,
}

pub(super) fn trip_row(t: &T, tr: TravelRequest) -> TripRow {
    let route = tr
        .legs
        .first()
        .map(|l| l.origin.clone())
        .into_iter()
        .chain(tr.legs.iter().map(|l| l.destination.clone()))
        .collect::<Vec<_>>()
        .join(" → ");
    let departs = tr
        .legs
        .first()
        .map(|l| {
            let w = when(&l.depart, l.depart_tz.as_deref());
            if w.local.is_empty() {
                w.utc
            } else {
                w.local
            }
        })
        .unwrap_or_default();
    TripRow {
        id: tr.id.to_string(),
        submitted: fmt_time(&tr.created_at),
        submitted_iso: tr.created_at.to_rfc3339(),
        route,
        departs,
        purpose: purpose_label(t, tr.purpose),
        status_key: tr.status.as_str().into(),
        status: t
            .get(&format!("trip_status.{}", tr.status.as_str()))
            .to_string(),
        badge: trip_badge(tr.status),
        legs: tr
            .legs
            .iter()
            .map(|l| TripLegSummary {
                area: format!("{} ({})", l.area_name, l.area),
                status: leg_status_label(t, l.status),
                badge: leg_badge(l.status),
            })
            .collect(),
    }
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let t = lang(&headers, &state);
    let page = q.page.unwrap_or(1).max(1);
    let r = async {
        let p = state
            .store
            .list_travel_requests(
                who.user.id,
                &PageRequest::new(Some(TRIPS_PER_PAGE), Some((page - 1) * TRIPS_PER_PAGE)),
            )
            .await?;
        Ok::<_, ApiError>(TripListPage {
            b: Base::new(
                t,
                Some(&who),
                t.get("trips.title").into(),
                "trips",
                "/trips",
            ),
            total: p.total,
            page,
            pages: ((p.total + TRIPS_PER_PAGE - 1) / TRIPS_PER_PAGE).max(1),
            rows: p.items.into_iter().map(|tr| trip_row(&t, tr)).collect(),
        })
    }
    .await;
    super::pages::show_page(r, &state, &headers, Some(&who))
}

// ---------------------------------------------------------------------------
// one trip
// ---------------------------------------------------------------------------

pub struct LegView {
    pub seq: i32,
    pub from: String,
    pub to: String,
    pub area_code: String,
    pub area_name: String,
    /// The area's current level.
    pub level: LevelView,
    /// `notification` or `clearance`.
    pub kind_key: String,
    pub kind: String,
    pub status_key: String,
    pub status: String,
    pub badge: &'static str,
    pub depart: When,
    pub arrive: When,
    /// Security advisers covering the area (display names, joined).
    pub reviewers: String,
    pub decided_by: String,
    pub decided_at: String,
    pub decided_iso: String,
    pub grounds: Vec<String>,
    pub comment: String,
    /// The viewer may decide this leg (it is pending, in their area, not their own trip).
    pub can_decide: bool,
    /// Airline designator of the flight, if given.
    pub airline: String,
    /// The airline is not on the approved-airline list in force.
    pub airline_unapproved: bool,
    /// The traveller's answer to a return, and when.
    pub answer: String,
    pub answered_at: String,
    /// The viewer is the traveller and the leg awaits their answer.
    pub can_answer: bool,
}

#[derive(Template)]
#[template(path = "trip_detail.html")]
struct TripPage {
    b: Base,
    id: String,
    /// The viewer is the traveller.
    is_own: bool,
    purpose: String,
    ta_number: String,
    status_key: String,
    status: String,
    badge: &'static str,
    submitted: String,
    submitted_iso: String,
    legs: Vec<LegView>,
    /// The traveller's training certificates: name, dates, valid today.
    certificates: Vec<(String, String, bool)>,
    /// Grounds a denial may give: (value, label).
    grounds: Vec<(String, String)>,
    /// A refused decision: the message, the leg it concerns, the field, and
    /// what was entered.
    error: Option<String>,
    error_leg: i32,
    error_field: String,
    comment: String,
    picked: Vec<String>,
}

impl TripPage {
    fn leg(&self, seq: i32) -> Option<&LegView> {
        self.legs.iter().find(|l| l.seq == seq)
    }
    /// The ground was ticked in the refused decision on leg `seq`.
    fn picked(&self, seq: &i32, ground: &str) -> bool {
        self.error_leg == *seq && self.picked.iter().any(|g| g == ground)
    }
}

async fn trip_page(state: &AppState, t: T, who: &Authed, id: Uuid) -> Result<TripPage, ApiError> {
    let tr = trips::load_visible(state, who, id).await?;
    let areas = areas_of(state, tr.legs.iter()).await?;
    let mut rv = Reviewers::default();
    let airlines = state.store.airline_list(None).await?;
    let mut legs = Vec::with_capacity(tr.legs.len());
    for l in &tr.legs {
        let reviewers = rv.for_area(state, &l.area, &l.country).await?;
        let airline_unapproved = airlines
            .as_ref()
            .and_then(|list| list.approves(l.carrier.as_ref()))
            == Some(false);
        let area = areas.get(&l.area);
        legs.push(LegView {
            seq: l.seq,
            from: l.origin.clone(),
            to: l.destination.clone(),
            area_code: l.area.to_string(),
            area_name: area
                .map(|a| area_name(&t, a))
                .unwrap_or_else(|| l.area_name.clone()),
            level: LevelView::new(&t, area.and_then(|a| a.level)),
            kind_key: l.kind.as_str().into(),
            kind: t.get(&format!("leg_kind.{}", l.kind.as_str())).to_string(),
            status_key: l.status.as_str().into(),
            status: leg_status_label(&t, l.status),
            badge: leg_badge(l.status),
            depart: when(&l.depart, l.depart_tz.as_deref()),
            arrive: when(&l.arrive, l.arrive_tz.as_deref()),
            reviewers: reviewers.join(", "),
            decided_by: l.decided_by_name.clone().unwrap_or_default(),
            decided_at: l.decided_at.map(|d| fmt_time(&d)).unwrap_or_default(),
            decided_iso: l.decided_at.map(|d| d.to_rfc3339()).unwrap_or_default(),
            grounds: l
                .grounds
                .iter()
                .map(|g| t.get(&format!("ground.{}", g.as_str())).to_string())
                .collect(),
            comment: l.comment.clone(),
            can_decide: l.status == LegStatus::Pending
                && tr.traveller != who.user.id
                && trips::reviews_area(who, &l.area, &l.country),
            airline: l
                .carrier
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default(),
            airline_unapproved,
            answer: l.answer.clone(),
            answered_at: l.answered_at.map(|d| fmt_time(&d)).unwrap_or_default(),
            can_answer: l.status == LegStatus::Returned
                && (tr.traveller == who.user.id || tr.submitted_by == who.user.id),
        });
    }
    Ok(TripPage {
        b: Base::new(
            t,
            Some(who),
            t.fmt("trip.title", &[("name", &tr.traveller_name)]),
            if tr.traveller == who.user.id {
                "trips"
            } else if trips::is_reviewer(who) {
                "clearances"
            } else {
                ""
            },
            &format!("/trips/{id}"),
        ),
        id: tr.id.to_string(),
        is_own: tr.traveller == who.user.id,
        purpose: purpose_label(&t, tr.purpose),
        ta_number: tr.ta_number.clone().unwrap_or_default(),
        status_key: tr.status.as_str().into(),
        status: t
            .get(&format!("trip_status.{}", tr.status.as_str()))
            .to_string(),
        badge: trip_badge(tr.status),
        submitted: fmt_time(&tr.created_at),
        submitted_iso: tr.created_at.to_rfc3339(),
        legs,
        certificates: {
            let today = chrono::Utc::now().date_naive();
            state
                .store
                .get_profile(tr.traveller)
                .await?
                .map(|p| p.certificates)
                .unwrap_or_default()
                .into_iter()
                .map(|c| {
                    let dates = match c.expires_on {
                        Some(e) => format!("{} – {}", c.completed_on, e),
                        None => c.completed_on.to_string(),
                    };
                    let valid = c.valid_on(today);
                    (c.name, dates, valid)
                })
                .collect()
        },
        grounds: DenialGround::ALL
            .iter()
            .map(|g| {
                (
                    g.as_str().to_string(),
                    t.get(&format!("ground.{}", g.as_str())).to_string(),
                )
            })
            .collect(),
        error: None,
        error_leg: 0,
        error_field: String::new(),
        comment: String::new(),
        picked: vec![],
    })
}

/// The answer for each leg, in a sentence.
fn answer_lines(t: &T, legs: &[LegView]) -> Vec<String> {
    legs.iter()
        .map(|l| {
            let n = l.seq.to_string();
            let area = format!("{} ({})", l.area_name, l.area_code);
            let args = [("n", n.as_str()), ("area", area.as_str())];
            match l.status_key.as_str() {
                "acknowledged" => t.fmt("trip.answer_acknowledged", &args),
                "pending" if l.reviewers.is_empty() => t.fmt("trip.answer_pending_nobody", &args),
                "pending" => t.fmt(
                    "trip.answer_pending",
                    &[
                        ("n", n.as_str()),
                        ("area", area.as_str()),
                        ("reviewers", l.reviewers.as_str()),
                    ],
                ),
                _ => t.fmt(
                    "trip.answer_other",
                    &[
                        ("n", n.as_str()),
                        ("area", area.as_str()),
                        ("status", l.status.as_str()),
                    ],
                ),
            }
        })
        .collect()
}

#[derive(Deserialize)]
pub struct TripQuery {
    done: Option<String>,
}

pub async fn detail(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Path(id): Path<Uuid>,
    Query(q): Query<TripQuery>,
) -> Response {
    let t = lang(&headers, &state);
    match trip_page(&state, t, &who, id).await {
        Ok(mut p) => {
            match q.done.as_deref() {
                Some("submitted") => {
                    p.b =
                        p.b.with_flash("success", t.get("trip.done_submitted").into());
                    p.b.flash_items = answer_lines(&t, &p.legs);
                }
                Some(k @ ("granted" | "denied" | "returned" | "answered")) => {
                    p.b =
                        p.b.with_flash("success", t.get(&format!("trip.done_{k}")).into());
                }
                _ => {}
            }
            render(&p)
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    grounds: Vec<String>,
}

pub async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Path((id, n)): Path<(Uuid, i32)>,
    Form(f): Form<DecisionForm>,
) -> Response {
    let t = lang(&headers, &state);
    let e = match trips::decide(&state, &who, id, n, &f.decision, &f.comment, &f.grounds).await {
        Ok(tr) => {
            let status = tr
                .legs
                .iter()
                .find(|l| l.seq == n)
                .map(|l| l.status.as_str())
                .unwrap_or("granted");
            return see_other(&format!("/trips/{id}?done={status}#leg-{n}"));
        }
        Err(e) => e,
    };
    let status = e.status();
    if !matches!(status.as_u16(), 409 | 422) {
        return e.into_response_page(&state, &headers, Some(&who));
    }
    match trip_page(&state, t, &who, id).await {
        Ok(mut p) => {
            p.error_leg = n;
            if status == StatusCode::CONFLICT {
                // Somebody decided first: say so, and what they decided.
                p.error = Some(match p.leg(n) {
                    Some(l) if !l.decided_by.is_empty() => t.fmt(
                        "trip.already_decided",
                        &[
                            ("n", &n.to_string()),
                            ("status", &l.status),
                            ("by", &l.decided_by),
                            ("at", &l.decided_at),
                        ],
                    ),
                    _ => e.detail.clone(),
                });
            } else {
                p.error_field = e.field.clone().unwrap_or_default();
                p.error = Some(e.detail.clone());
                p.comment = f.comment;
                p.picked = f.grounds;
            }
            with_status(render(&p), status)
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

// ---------------------------------------------------------------------------
// the clearance queue
// ---------------------------------------------------------------------------

pub struct QueueRow {
    pub request: String,
    pub seq: i32,
    pub traveller: String,
    pub purpose: String,
    pub from: String,
    pub to: String,
    pub area_code: String,
    pub area_name: String,
    pub depart: When,
    pub submitted: String,
    /// `soon` (within 48 hours), `passed` (the departure is past), or empty.
    pub urgency: &'static str,
}

#[derive(Template)]
#[template(path = "clearances.html")]
struct ClearancesPage {
    b: Base,
    rows: Vec<QueueRow>,
    total: i64,
    page: i64,
    pages: i64,
    /// The filter: the country and area asked for.
    country: String,
    area: String,
    /// Countries to choose from: (code, name).
    countries: Vec<(String, String)>,
    /// The reviewer's roles are global: "all countries" is a choice.
    global: bool,
    /// Areas of the chosen country the reviewer covers: (code, name).
    areas: Vec<(String, String)>,
    /// Several countries and none chosen yet.
    pick_country: bool,
    error: Option<String>,
    error_field: String,
}

#[derive(Deserialize)]
pub struct QueueParams {
    country: Option<String>,
    area: Option<String>,
    page: Option<i64>,
}

/// Countries where `who` reviews clearance requests; `None` when their
/// roles are global.
fn reviewer_countries(who: &Authed) -> Option<Vec<CountryCode>> {
    let mut out = vec![];
    for g in who
        .user
        .grants
        .iter()
        .filter(|g| REVIEWERS.contains(&g.role))
    {
        match &g.scope {
            Scope::Global => return None,
            Scope::Country(c) => out.push(c.clone()),
            Scope::Area(a) => out.push(a.country()),
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

pub async fn clearances(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Query(q): Query<QueueParams>,
) -> Response {
    let t = lang(&headers, &state);
    let b = Base::new(
        t,
        Some(&who),
        t.get("clearances.title").into(),
        "clearances",
        "/clearances",
    );
    if !trips::is_reviewer(&who) {
        return error_page(b, &ApiError::forbidden(t.get("clearances.reviewers_only")));
    }
    let mine = reviewer_countries(&who);
    let global = mine.is_none();
    let asked = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let country = asked(&q.country).or_else(|| match &mine {
        Some(m) if m.len() == 1 => Some(m[0].to_string()),
        _ => None,
    });
    let area = asked(&q.area);
    let page = q.page.unwrap_or(1).max(1);
    let r = async {
        let names: HashMap<String, String> = state
            .store
            .list_countries()
            .await?
            .into_iter()
            .map(|c| {
                let name = c
                    .country
                    .names
                    .get(t.code())
                    .cloned()
                    .unwrap_or(c.country.name);
                (c.country.alpha2.to_string(), name)
            })
            .collect();
        let mut countries: Vec<(String, String)> = match &mine {
            Some(m) => m
                .iter()
                .map(|c| {
                    (
                        c.to_string(),
                        names.get(c.as_str()).cloned().unwrap_or_default(),
                    )
                })
                .collect(),
            None => names.clone().into_iter().collect(),
        };
        countries.sort_by(|a, b| a.1.cmp(&b.1));
        let mut p = ClearancesPage {
            b,
            rows: vec![],
            total: 0,
            page,
            pages: 1,
            country: country.clone().unwrap_or_default(),
            area: area.clone().unwrap_or_default(),
            countries,
            global,
            areas: vec![],
            pick_country: false,
            error: None,
            error_field: String::new(),
        };
        if country.is_none() && area.is_none() && !global {
            // Several countries: let them choose.
            p.pick_country = true;
            return Ok(p);
        }
        let (cc, ar) = match trips::queue_scope(&who, country.as_deref(), area.as_deref()) {
            Ok(s) => s,
            Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
                p.error_field = e.field.clone().unwrap_or_default();
                p.error = Some(e.detail);
                return Ok(p);
            }
            Err(e) => return Err(e),
        };
        if let Some(cc) = &cc {
            p.country = cc.to_string();
            p.areas = state
                .all_areas(Some(cc))
                .await?
                .into_iter()
                .filter(|a| trips::reviews_area(&who, &a.code, &a.country))
                .map(|a| (a.code.to_string(), area_name(&t, &a)))
                .collect();
            p.areas.sort_by(|a, b| a.1.cmp(&b.1));
        }
        p.area = ar.as_ref().map(|a| a.to_string()).unwrap_or_default();
        let queue = state
            .store
            .clearance_queue(&ClearanceQuery {
                country: cc,
                area: ar,
                page: PageRequest::new(Some(QUEUE_PER_PAGE), Some((page - 1) * QUEUE_PER_PAGE)),
            })
            .await?;
        let now = Utc::now();
        p.total = queue.total;
        p.pages = ((queue.total + QUEUE_PER_PAGE - 1) / QUEUE_PER_PAGE).max(1);
        p.rows = queue
            .items
            .into_iter()
            .map(|qd| {
                let l = qd.leg;
                let urgency = if l.depart <= now {
                    "passed"
                } else if l.depart - now <= chrono::Duration::hours(URGENT_HOURS) {
                    "soon"
                } else {
                    ""
                };
                QueueRow {
                    request: qd.request.to_string(),
                    seq: l.seq,
                    traveller: qd.traveller_name,
                    purpose: purpose_label(&t, qd.purpose),
                    from: l.origin,
                    to: l.destination,
                    area_code: l.area.to_string(),
                    area_name: l.area_name,
                    depart: when(&l.depart, l.depart_tz.as_deref()),
                    submitted: fmt_time(&qd.submitted_at),
                    urgency,
                }
            })
            .collect();
        Ok::<_, ApiError>(p)
    }
    .await;
    match r {
        Ok(p) => {
            let status = if p.error.is_some() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            with_status(render(&p), status)
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

// ---------------------------------------------------------------------------
// an area's processing mode
// ---------------------------------------------------------------------------

pub struct ModeRow {
    pub at: String,
    pub at_iso: String,
    pub by: String,
    pub mode: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "area_settings.html")]
struct SettingsPage {
    b: Base,
    code: String,
    name: String,
    country: String,
    country_name: String,
    level: LevelView,
    mode_key: String,
    mode: String,
    /// (value, label, explanation)
    modes: Vec<(String, String, String)>,
    history: Vec<ModeRow>,
    /// The form: the mode chosen and the reason typed.
    form_mode: String,
    reason: String,
    error: Option<String>,
    error_field: String,
}

fn mode_label(t: &T, m: ProcessingMode) -> String {
    t.get(&format!("mode.{}", m.as_str())).to_string()
}

async fn settings_page(
    state: &AppState,
    t: T,
    who: &Authed,
    code: &str,
    form: Option<&ModeForm>,
    error: Option<&ApiError>,
) -> Result<SettingsPage, ApiError> {
    let a = trips::load_area(state, code).await?;
    if !trips::sets_mode(who, &a) {
        return Err(ApiError::forbidden(t.get("settings.only_do")));
    }
    let country = state.store.get_country(&a.country).await?;
    let mode = state.store.processing_mode(&a.code).await?;
    let history = state.store.processing_mode_history(&a.code).await?;
    let name = area_name(&t, &a);
    Ok(SettingsPage {
        b: Base::new(
            t,
            Some(who),
            t.fmt("settings.title", &[("area", &name)]),
            "home",
            &format!("/areas/{}/settings", a.code),
        ),
        code: a.code.to_string(),
        name,
        country: a.country.to_string(),
        country_name: country
            .map(|c| c.names.get(t.code()).cloned().unwrap_or(c.name))
            .unwrap_or_default(),
        level: LevelView::new(&t, a.level),
        mode_key: mode.as_str().into(),
        mode: mode_label(&t, mode),
        modes: [ProcessingMode::Automatic, ProcessingMode::Manual]
            .iter()
            .map(|m| {
                (
                    m.as_str().to_string(),
                    mode_label(&t, *m),
                    t.get(&format!("mode.{}_hint", m.as_str())).to_string(),
                )
            })
            .collect(),
        history: history
            .into_iter()
            .map(|c| ModeRow {
                at: fmt_time(&c.at),
                at_iso: c.at.to_rfc3339(),
                by: c.set_by_name,
                mode: mode_label(&t, c.mode),
                reason: c.reason,
            })
            .collect(),
        form_mode: form
            .map(|f| f.mode.clone())
            .unwrap_or_else(|| mode.as_str().into()),
        reason: form.map(|f| f.reason.clone()).unwrap_or_default(),
        error_field: error.and_then(|e| e.field.clone()).unwrap_or_default(),
        error: error.map(|e| e.detail.clone()),
    })
}

#[derive(Deserialize)]
pub struct SettingsQuery {
    done: Option<String>,
    reevaluated: Option<u64>,
}

pub async fn settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Path(code): Path<String>,
    Query(q): Query<SettingsQuery>,
) -> Response {
    let t = lang(&headers, &state);
    match settings_page(&state, t, &who, &code, None, None).await {
        Ok(mut p) => {
            if q.done.as_deref() == Some("saved") {
                let msg = match q.reevaluated.unwrap_or(0) {
                    0 => t.get("settings.saved_none").to_string(),
                    1 => t.get("settings.saved_one").to_string(),
                    n => t.fmt("settings.saved", &[("n", &n.to_string())]),
                };
                p.b = p.b.with_flash("success", msg);
            }
            render(&p)
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

#[derive(Deserialize)]
pub struct ModeForm {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    reason: String,
}

pub async fn set_mode(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Path(code): Path<String>,
    Form(f): Form<ModeForm>,
) -> Response {
    let t = lang(&headers, &state);
    match trips::set_mode(&state, &who, &code, &f.mode, &f.reason).await {
        Ok((change, reevaluated)) => see_other(&format!(
            "/areas/{}/settings?done=saved&reevaluated={reevaluated}",
            change.area
        )),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            match settings_page(&state, t, &who, &code, Some(&f), Some(&e)).await {
                Ok(p) => with_status(render(&p), StatusCode::UNPROCESSABLE_ENTITY),
                Err(e) => e.into_response_page(&state, &headers, Some(&who)),
            }
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

#[derive(Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    answer: String,
}

/// The traveller answers a leg returned for more information.
pub async fn answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Path((id, n)): Path<(Uuid, i32)>,
    Form(f): Form<AnswerForm>,
) -> Response {
    let t = lang(&headers, &state);
    let e = match trips::answer(&state, &who, id, n, &f.answer).await {
        Ok(_) => return see_other(&format!("/trips/{id}?done=answered#leg-{n}")),
        Err(e) => e,
    };
    let status = e.status();
    if !matches!(status.as_u16(), 409 | 422) {
        return e.into_response_page(&state, &headers, Some(&who));
    }
    match trip_page(&state, t, &who, id).await {
        Ok(mut p) => {
            p.error_leg = n;
            p.error_field = e.field.clone().unwrap_or_default();
            p.error = Some(e.detail.clone());
            p.comment = f.answer;
            with_status(render(&p), status)
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

// ---------------------------------------------------------------------------
// notifications
// ---------------------------------------------------------------------------

pub struct NoteRow {
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub link: String,
    pub at: String,
    pub at_iso: String,
    pub unread: bool,
    /// What became of the e-mail.
    pub email: String,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotesPage {
    b: Base,
    items: Vec<NoteRow>,
    unread: i64,
    total: i64,
    page: i64,
    pages: i64,
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

/// The signed-in user's notifications, newest first.
pub async fn notifications(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Query(q): Query<PageQuery>,
) -> Response {
    let t = lang(&headers, &state);
    const PER: i64 = 50;
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let req = warden_store::PageRequest {
        limit: PER,
        offset: (page - 1) * PER,
    };
    let (all, unread) = match tokio::try_join!(
        state.store.list_notifications(who.user.id, false, &req),
        state.store.list_notifications(
            who.user.id,
            true,
            &warden_store::PageRequest {
                limit: 1,
                offset: 0
            }
        )
    ) {
        Ok(x) => x,
        Err(e) => return ApiError::from(e).into_response_page(&state, &headers, Some(&who)),
    };
    let items = all
        .items
        .into_iter()
        .map(|n| NoteRow {
            kind: n.kind,
            subject: n.subject,
            body: n.body,
            link: n.link,
            at: fmt_time(&n.created_at),
            at_iso: n.created_at.to_rfc3339(),
            unread: n.read_at.is_none(),
            email: t.get(&format!("notes.email_{}", n.email_state)).to_string(),
        })
        .collect();
    render(&NotesPage {
        b: Base::new(
            t,
            Some(&who),
            t.get("notes.title").into(),
            "notifications",
            "/notifications",
        ),
        items,
        unread: unread.total,
        total: all.total,
        page,
        pages: ((all.total + PER - 1) / PER).max(1),
    })
}

/// Marks every notification of the user read.
pub async fn notifications_read(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
) -> Response {
    match state
        .store
        .mark_notifications_read(who.user.id, &[], warden_store::now_micros())
        .await
    {
        Ok(_) => see_other("/notifications"),
        Err(e) => ApiError::from(e).into_response_page(&state, &headers, Some(&who)),
    }
}
