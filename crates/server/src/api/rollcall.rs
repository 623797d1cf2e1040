//! Roll call (issue 5, "who is where" item 3): the DO (or a security adviser
//! of the areas, as delegate) asks everyone present in one or more areas
//! "are you safe?"; answers come through the eTA, the API or an SMS reply;
//! the board shows accounted / needs help / no answer by agency, and the
//! people to chase to those allowed to see names (each such view audited as
//! `rollcall.view`).

use crate::api::{Body, Path};
use crate::auth::ApiUser;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use utoipa::ToSchema;
use uuid::Uuid;
use warden_domain::presence::{may_see_headcount, may_see_whereabouts, whereabouts, PresenceRules};
use warden_domain::rollcall::{may_run_roll_call, Tally, MAX_AREAS, MAX_MESSAGE_CHARS};
use warden_domain::{AreaCode, CountryCode};
use warden_store::{Area, RollCall, RollCallBoard};

/// How often the event stream looks at the board.
const POLL: Duration = Duration::from_secs(2);

#[derive(Debug, Deserialize, ToSchema)]
pub struct StartRollCall {
    /// Area codes, e.g. `["AF-KAB"]` (at least one).
    pub areas: Vec<String>,
    /// Said to everyone asked, before the question (at most 500 characters).
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RollCallDto {
    pub id: Uuid,
    pub areas: Vec<String>,
    pub message: String,
    /// `open` or `closed`.
    pub state: String,
    pub started_by: Uuid,
    pub started_by_name: String,
    pub started_at: DateTime<Utc>,
    pub closed_by: Option<Uuid>,
    pub closed_at: Option<DateTime<Utc>>,
    /// People asked (present in the areas at the start).
    pub people: i64,
    /// Of them, asked by text message (a phone and no enrolled device).
    pub sms_recipients: i64,
}

impl From<RollCall> for RollCallDto {
    fn from(r: RollCall) -> Self {
        RollCallDto {
            id: r.id,
            areas: r.areas.iter().map(|a| a.to_string()).collect(),
            message: r.message,
            state: r.state.as_str().to_string(),
            started_by: r.started_by,
            started_by_name: r.started_by_name,
            started_at: r.started_at,
            closed_by: r.closed_by,
            closed_at: r.closed_at,
            people: r.people,
            sms_recipients: r.sms_recipients,
        }
    }
}

/// Counts of the board.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TallyCounts {
    pub accounted: i64,
    pub needs_help: i64,
    pub no_answer: i64,
}

impl TallyCounts {
    fn add(&mut self, t: Tally) {
        match t {
            Tally::Accounted => self.accounted += 1,
            Tally::NeedsHelp => self.needs_help += 1,
            Tally::NoAnswer => self.no_answer += 1,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgencyTally {
    /// None: people of no agency.
    pub agency: Option<Uuid>,
    pub agency_code: Option<String>,
    #[serde(flatten)]
    pub counts: TallyCounts,
}

/// Somebody to chase: needing help or not answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChasePerson {
    pub user: Uuid,
    pub name: String,
    pub agency: Option<Uuid>,
    pub agency_code: Option<String>,
    /// Personnel category (`none` without a profile).
    pub category: String,
    /// `needs_help` or `no_answer`.
    pub status: String,
    /// The deciding answer's channel (`web`, `api`, `sms`) and time.
    pub channel: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Board {
    pub roll_call: RollCallDto,
    pub totals: TallyCounts,
    pub by_agency: Vec<AgencyTally>,
    /// Those needing help, then those not answered, by name; only the people
    /// the caller may see (the areas' DO and security advisers, focal points
    /// for their agency's people); absent for counts-only callers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_chase: Option<Vec<ChasePerson>>,
    /// Why `to_chase` is absent for a caller whose roles could show it: the
    /// undertaking on the use of location data is to be accepted first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people_withheld: Option<String>,
    /// Partner systems' figures per agency, next to our own tallies: for
    /// each of the roll call's areas the latest figure each agency's partner
    /// reported since the roll call started (until it closed).
    pub partners: Vec<crate::api::partners::PartnerAgencyFigures>,
}

/// The roll call's areas with their countries.
async fn areas_of(state: &AppState, rc: &RollCall) -> ApiResult<Vec<(AreaCode, CountryCode)>> {
    let mut out = vec![];
    for code in &rc.areas {
        let a = state
            .store
            .get_area(code)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("area {code}")))?;
        out.push((a.code, a.country));
    }
    Ok(out)
}

async fn load(state: &AppState, id: Uuid) -> ApiResult<RollCallBoard> {
    state
        .store
        .roll_call_board(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("roll call {id}")))
}

fn totals(board: &RollCallBoard) -> TallyCounts {
    let mut t = TallyCounts::default();
    for p in &board.people {
        t.add(p.status);
    }
    t
}

/// Whether the caller may see the board's counts.
fn may_view(grants: &[warden_domain::RoleGrant], areas: &[(AreaCode, CountryCode)]) -> bool {
    areas.iter().any(|(a, c)| may_see_headcount(grants, a, c))
}

/// Starts a roll call: everyone present in the areas now (by duty station,
/// travel or phone, as the headcount places them) gets "are you safe?" as a
/// notification (e-mailed when they have an address) and, without a
/// smartphone, a text message. Only the DO of every area named, or a
/// security adviser of those areas as delegate.
#[utoipa::path(post, path = "/api/v1/roll-calls", tag = "rollcall", security(("bearer" = [])),
    request_body = StartRollCall,
    responses((status = 201, body = RollCallDto),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn start(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Body(body): Body<StartRollCall>,
) -> ApiResult<(StatusCode, Json<RollCallDto>)> {
    if body.areas.is_empty() {
        return Err(ApiError::invalid("areas", "name at least one area"));
    }
    if body.areas.len() > MAX_AREAS {
        return Err(ApiError::invalid(
            "areas",
            format!("at most {MAX_AREAS} areas in one roll call"),
        ));
    }
    let message = body.message.trim().to_string();
    if message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::invalid(
            "message",
            format!("at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    let mut areas: Vec<Area> = vec![];
    for (i, code) in body.areas.iter().enumerate() {
        let field = format!("areas[{i}]");
        let parsed = AreaCode::parse(code.trim())
            .map_err(|e| ApiError::invalid(field.clone(), e.to_string()))?;
        if areas.iter().any(|a| a.code == parsed) {
            return Err(ApiError::invalid(field, format!("{parsed} is named twice")));
        }
        let area = state
            .store
            .get_area(&parsed)
            .await?
            .ok_or_else(|| ApiError::invalid(field, format!("no area {parsed}")))?;
        areas.push(area);
    }
    let pairs: Vec<(AreaCode, CountryCode)> = areas
        .iter()
        .map(|a| (a.code.clone(), a.country.clone()))
        .collect();
    if !may_run_roll_call(&who.user.grants, &pairs) {
        return Err(ApiError::forbidden(
            "only the Designated Official of every area named, or a security adviser of them, may start a roll call",
        ));
    }
    // Who is present now, as the headcount places them.
    let at = warden_store::now_micros();
    let rules = PresenceRules {
        fresh_hours: state.config.location_fresh_hours,
        overdue_days: state.config.presence_overdue_days,
    };
    let mut people = BTreeSet::new();
    for a in &areas {
        for c in state.store.presence_candidates(&a.code, at).await? {
            if whereabouts(&c.evidence, at, rules).is_in(&a.code) {
                people.insert(c.user);
            }
        }
    }
    let people: Vec<Uuid> = people.into_iter().collect();
    let codes: Vec<AreaCode> = areas.iter().map(|a| a.code.clone()).collect();
    let rc = state
        .store
        .start_roll_call(&codes, who.user.id, &message, &people, &who.audit())
        .await?;
    Ok((StatusCode::CREATED, Json(rc.into())))
}

/// The board: totals and per agency accounted / needs help / no answer; the
/// people to chase for callers allowed to see names, after their
/// undertaking on the use of location data (each such view is written to
/// the audit log, `rollcall.view`). For the areas' security roles.
#[utoipa::path(get, path = "/api/v1/roll-calls/{id}", tag = "rollcall", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Roll call id")),
    responses((status = 200, body = Board),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn board(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Board>> {
    let b = load(&state, id).await?;
    let areas = areas_of(&state, &b.roll_call).await?;
    let grants = &who.user.grants;
    if !may_view(grants, &areas) {
        return Err(ApiError::forbidden(
            "your roles give no access to this roll call",
        ));
    }
    // Names only for roles that may see some of these people, and only
    // after their undertaking on the use of location data.
    let could = areas
        .iter()
        .any(|(a, c)| warden_domain::eta::may_view_some_positions(grants, a, c));
    let people_withheld = if could {
        crate::eta::undertaking_missing(&state, who.user.id).await?
    } else {
        None
    };
    let shows_people = could && people_withheld.is_none();
    let mut agencies: BTreeMap<Option<Uuid>, AgencyTally> = BTreeMap::new();
    let mut chase = vec![];
    for p in &b.people {
        agencies
            .entry(p.agency)
            .or_insert_with(|| AgencyTally {
                agency: p.agency,
                agency_code: p.agency_code.clone(),
                counts: TallyCounts::default(),
            })
            .counts
            .add(p.status);
        if shows_people
            && p.status != Tally::Accounted
            && areas
                .iter()
                .any(|(a, c)| may_see_whereabouts(grants, a, c, p.agency))
        {
            chase.push(ChasePerson {
                user: p.user,
                name: p.name.clone(),
                agency: p.agency,
                agency_code: p.agency_code.clone(),
                category: p.category.map_or("none", |k| k.as_str()).to_string(),
                status: p.status.as_str().to_string(),
                channel: p.channel.clone(),
                answered_at: p.answered_at,
            });
        }
    }
    // Needs help first, then no answer; by name within.
    chase.sort_by(|a, b| {
        (a.status != "needs_help", &a.name).cmp(&(b.status != "needs_help", &b.name))
    });
    let totals = totals(&b);
    let to_chase = if shows_people {
        // The view is on the record before anything is shown.
        state
            .store
            .append_audit(
                &who.audit(),
                "rollcall.view",
                &format!("rollcall:{id}"),
                json!({"people": chase.len(), "accounted": totals.accounted,
                       "needs_help": totals.needs_help, "no_answer": totals.no_answer}),
            )
            .await?;
        Some(chase)
    } else {
        None
    };
    let partners = crate::api::partners::by_agency(
        crate::api::partners::figures(
            &state,
            &b.roll_call.areas,
            Some(b.roll_call.started_at),
            b.roll_call
                .closed_at
                .unwrap_or_else(warden_store::now_micros),
        )
        .await?,
    );
    Ok(Json(Board {
        roll_call: b.roll_call.into(),
        totals,
        by_agency: agencies.into_values().collect(),
        to_chase,
        people_withheld,
        partners,
    }))
}

/// Closes the roll call (once: a second close is 409). It keeps its record;
/// answers given after it are not counted. The DO or a security adviser of
/// every area of the roll call.
#[utoipa::path(post, path = "/api/v1/roll-calls/{id}/close", tag = "rollcall", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Roll call id")),
    responses((status = 200, body = RollCallDto),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn close(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<RollCallDto>> {
    let rc = state
        .store
        .get_roll_call(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("roll call {id}")))?;
    let areas = areas_of(&state, &rc).await?;
    if !may_run_roll_call(&who.user.grants, &areas) {
        return Err(ApiError::forbidden(
            "only the Designated Official of every area of the roll call, or a security adviser of them, may close it",
        ));
    }
    Ok(Json(
        state
            .store
            .close_roll_call(id, who.user.id, &who.audit())
            .await?
            .into(),
    ))
}

/// One event of the stream: the board's totals.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TallyEvent {
    /// `open` or `closed`.
    pub state: String,
    #[serde(flatten)]
    pub totals: TallyCounts,
}

/// Server-sent events (`text/event-stream`): a `tally` event with the
/// board's totals (`{"state":…,"accounted":…,"needs_help":…,"no_answer":…}`)
/// at once and whenever they change; the stream ends after the roll call is
/// closed. Counts only, for whoever may see the board.
#[utoipa::path(get, path = "/api/v1/roll-calls/{id}/events", tag = "rollcall", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Roll call id")),
    responses((status = 200, description = "`tally` events, each a TallyEvent in JSON", content_type = "text/event-stream", body = TallyEvent),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn events(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>>> {
    let b = load(&state, id).await?;
    let areas = areas_of(&state, &b.roll_call).await?;
    if !may_view(&who.user.grants, &areas) {
        return Err(ApiError::forbidden(
            "your roles give no access to this roll call",
        ));
    }
    // (store, last sent, done, first)
    let stream = futures_util::stream::unfold(
        (state, None::<TallyEvent>, false),
        move |(state, last, done)| async move {
            if done {
                return None;
            }
            let mut first = last.is_none();
            loop {
                if !first {
                    tokio::time::sleep(POLL).await;
                }
                first = false;
                let b = match state.store.roll_call_board(id).await {
                    Ok(Some(b)) => b,
                    Ok(None) => return None,
                    Err(e) => {
                        tracing::warn!(%id, "roll call events: {e}");
                        continue;
                    }
                };
                let now = TallyEvent {
                    state: b.roll_call.state.as_str().to_string(),
                    totals: totals(&b),
                };
                if last.as_ref() != Some(&now) {
                    let closed = now.state == "closed";
                    let ev = Event::default()
                        .event("tally")
                        .json_data(&now)
                        .unwrap_or_else(|_| Event::default().event("tally"));
                    return Some((Ok(ev), (state, Some(now), closed)));
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RollCallListQuery {
    /// `open` or `closed`; default both (open ones first).
    pub state: Option<String>,
    /// Only roll calls covering this area (e.g. `AF-KAB`).
    pub area: Option<String>,
    /// At most this many items (1-100, default 20).
    pub limit: Option<i64>,
    /// Skip this many items.
    pub offset: Option<i64>,
}

/// One roll call of the list, with its board's totals.
#[derive(Debug, Serialize, ToSchema)]
pub struct RollCallSummary {
    #[serde(flatten)]
    pub roll_call: RollCallDto,
    pub totals: TallyCounts,
}

/// A page of roll calls.
#[derive(Debug, Serialize, ToSchema)]
pub struct RollCallPage {
    pub items: Vec<RollCallSummary>,
    /// Roll calls the caller may see (matching the filters).
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// The roll calls the caller may see (those with an area whose headcount
/// the caller's security roles cover): open ones first, then closed, newest
/// first within each, with each board's totals (counts only, no names).
#[utoipa::path(get, path = "/api/v1/roll-calls", tag = "rollcall", security(("bearer" = [])),
    params(RollCallListQuery),
    responses((status = 200, body = RollCallPage),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    crate::api::Query(q): crate::api::Query<RollCallListQuery>,
) -> ApiResult<Json<RollCallPage>> {
    let only = match q.state.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(
            warden_domain::rollcall::RollCallState::parse(s)
                .map_err(|e| ApiError::invalid("state", e.to_string()))?,
        ),
    };
    let area = match q.area.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(a) => Some(AreaCode::parse(a).map_err(|e| ApiError::invalid("area", e.to_string()))?),
    };
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit", "between 1 and 100"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid("offset", "0 or more"));
    }
    let grants = &who.user.grants;
    if !grants
        .iter()
        .any(|g| warden_domain::presence::HEADCOUNT_ROLES.contains(&g.role))
    {
        return Err(ApiError::forbidden(
            "your roles give no access to roll calls",
        ));
    }
    let all = state
        .store
        .list_roll_calls(
            area.as_ref(),
            only == Some(warden_domain::rollcall::RollCallState::Open),
        )
        .await?;
    let mut visible: Vec<RollCall> = all
        .into_iter()
        .filter(|r| only.is_none_or(|s| r.state == s))
        .filter(|r| {
            r.areas
                .iter()
                .any(|a| may_see_headcount(grants, a, &a.country()))
        })
        .collect();
    // Open first; newest first within (the store's order, kept by a stable sort).
    visible.sort_by_key(|r| r.state != warden_domain::rollcall::RollCallState::Open);
    let total = visible.len() as i64;
    let mut items = vec![];
    for r in visible
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
    {
        let totals = match state.store.roll_call_board(r.id).await? {
            Some(b) => totals(&b),
            None => TallyCounts::default(),
        };
        items.push(RollCallSummary {
            roll_call: r.into(),
            totals,
        });
    }
    Ok(Json(RollCallPage {
        items,
        total,
        limit,
        offset,
    }))
}
