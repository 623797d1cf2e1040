//! Roll calls in the browser: the list (open first, with totals), starting
//! one from an area's headcount page, the live board (accounted / needs
//! help / no answer by agency, who to chase, updated from the server-sent
//! events, refreshed every 30 seconds without JavaScript) and closing it.
//! Every rule and audit entry is the API's (`api::rollcall`).

use super::pages::{show_page, PageError};
use super::presence::{area_headcount_page, category_label, partner_rows, PartnerRow};
use super::{fmt_time, lang, see_other, Base};
use crate::api::rollcall::{board as api_board, close as api_close, list as api_list};
use crate::api::rollcall::{start as api_start, RollCallListQuery, StartRollCall};
use crate::auth::{ApiUser, WebUser};
use crate::error::{ApiError, Code};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use axum_extra::extract::Form;
use serde::Deserialize;
use uuid::Uuid;
use warden_domain::rollcall::may_run_roll_call;
use warden_domain::AreaCode;

/// Roll calls per page of the list.
const PER_PAGE: i64 = 20;

/// The areas' names, in the reader's language, joined.
async fn area_names(
    state: &AppState,
    t: &crate::i18n::T,
    codes: &[String],
) -> Result<String, ApiError> {
    let mut out = vec![];
    for c in codes {
        let name = match AreaCode::parse(c) {
            Ok(code) => state
                .store
                .get_area(&code)
                .await?
                .map(|a| a.names.get(t.code()).cloned().unwrap_or(a.name))
                .unwrap_or_else(|| c.clone()),
            Err(_) => c.clone(),
        };
        out.push(name);
    }
    Ok(out.join(", "))
}

fn percent(n: i64, of: i64) -> i64 {
    if of <= 0 {
        0
    } else {
        (n * 100 + of / 2) / of
    }
}

// ---------------------------------------------------------------------------
// the list
// ---------------------------------------------------------------------------

pub struct ListRow {
    pub id: String,
    pub areas: String,
    pub open: bool,
    pub state: String,
    pub started: String,
    pub by: String,
    pub people: i64,
    pub accounted: i64,
    pub needs_help: i64,
    pub no_answer: i64,
    pub closed: String,
}

#[derive(Template)]
#[template(path = "rollcall_list.html")]
struct ListPage {
    b: Base,
    rows: Vec<ListRow>,
    total: i64,
    page: i64,
    pages: i64,
    state_filter: String,
}

#[derive(Deserialize)]
pub struct ListParams {
    page: Option<i64>,
    state: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Query(q): Query<ListParams>,
) -> Response {
    let t = lang(&headers, &state);
    let page = q.page.unwrap_or(1).max(1);
    let state_filter = q
        .state
        .clone()
        .filter(|s| s == "open" || s == "closed")
        .unwrap_or_default();
    let r = async {
        let Json(p) = api_list(
            State(state.clone()),
            ApiUser(who.clone()),
            crate::api::Query(RollCallListQuery {
                state: (!state_filter.is_empty()).then(|| state_filter.clone()),
                area: None,
                limit: Some(PER_PAGE),
                offset: Some((page - 1) * PER_PAGE),
            }),
        )
        .await?;
        let mut rows = vec![];
        for s in p.items {
            let r = s.roll_call;
            let open = r.state == "open";
            rows.push(ListRow {
                id: r.id.to_string(),
                areas: area_names(&state, &t, &r.areas).await?,
                open,
                state: t.get(&format!("rollcall.state_{}", r.state)).to_string(),
                started: fmt_time(&r.started_at),
                by: r.started_by_name,
                people: r.people,
                accounted: s.totals.accounted,
                needs_help: s.totals.needs_help,
                no_answer: s.totals.no_answer,
                closed: r.closed_at.map(|c| fmt_time(&c)).unwrap_or_default(),
            });
        }
        Ok::<_, ApiError>(ListPage {
            b: Base::new(
                t,
                Some(&who),
                t.get("rollcall.list_title").into(),
                "rollcalls",
                "/roll-calls",
            ),
            rows,
            total: p.total,
            page,
            pages: ((p.total + PER_PAGE - 1) / PER_PAGE).max(1),
            state_filter,
        })
    }
    .await;
    show_page(r, &state, &headers, Some(&who))
}

// ---------------------------------------------------------------------------
// starting one
// ---------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct StartForm {
    /// One or more area codes (repeated, or separated by commas).
    #[serde(default)]
    area: Vec<String>,
    #[serde(default)]
    message: String,
}

pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Form(f): Form<StartForm>,
) -> Response {
    let areas: Vec<String> = f
        .area
        .iter()
        .flat_map(|a| a.split(','))
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    let r = api_start(
        State(state.clone()),
        ApiUser(who.clone()),
        crate::api::Body(StartRollCall {
            areas: areas.clone(),
            message: f.message.clone(),
        }),
    )
    .await;
    match r {
        Ok((_, Json(rc))) => see_other(&format!("/roll-calls/{}?done=started", rc.id)),
        // A message too long: the area's page again, with the text kept.
        Err(e)
            if e.code == Code::InvalidInput
                && e.field.as_deref() == Some("message")
                && areas.len() == 1 =>
        {
            area_headcount_page(
                &state,
                &headers,
                who,
                areas[0].clone(),
                None,
                Some((f.message, e.detail)),
            )
            .await
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

// ---------------------------------------------------------------------------
// the board
// ---------------------------------------------------------------------------

pub struct AgencyRow {
    pub agency: String,
    pub accounted: i64,
    pub needs_help: i64,
    pub no_answer: i64,
    pub total: i64,
}

pub struct ChaseRow {
    pub name: String,
    pub agency: String,
    pub category: String,
    pub needs_help: bool,
    pub status: String,
    pub answered: String,
}

#[derive(Template)]
#[template(path = "rollcall_board.html")]
struct BoardPage {
    b: Base,
    id: String,
    areas: Vec<(String, String)>,
    area_names: String,
    message: String,
    open: bool,
    state: String,
    started: String,
    started_by: String,
    closed: String,
    people: i64,
    sms: i64,
    accounted: i64,
    needs_help: i64,
    no_answer: i64,
    accounted_pct: i64,
    needs_help_pct: i64,
    agencies: Vec<AgencyRow>,
    /// None: counts only.
    chase: Option<Vec<ChaseRow>>,
    /// No names yet: the caller's roles would show them after the
    /// undertaking on the use of location data.
    needs_undertaking: bool,
    partners: Vec<PartnerRow>,
    can_close: bool,
}

#[derive(Deserialize)]
pub struct DoneParams {
    done: Option<String>,
}

pub async fn board(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Path(id): Path<String>,
    Query(q): Query<DoneParams>,
) -> Response {
    let t = lang(&headers, &state);
    let r = async {
        let id = Uuid::parse_str(id.trim())
            .map_err(|_| ApiError::not_found(format!("roll call {id}")))?;
        let Json(bd) = api_board(
            State(state.clone()),
            ApiUser(who.clone()),
            crate::api::Path(id),
        )
        .await?;
        let as_value = serde_json::to_value(&bd).unwrap_or_default();
        let rc = &bd.roll_call;
        let mut areas = vec![];
        let mut pairs = vec![];
        for c in &rc.areas {
            let code = AreaCode::parse(c)?;
            let a = state.store.get_area(&code).await?;
            let name = a
                .as_ref()
                .map(|a| a.names.get(t.code()).cloned().unwrap_or(a.name.clone()))
                .unwrap_or_else(|| c.clone());
            if let Some(a) = a {
                pairs.push((a.code, a.country));
            }
            areas.push((c.clone(), name));
        }
        let open = rc.state == "open";
        let agencies = bd
            .by_agency
            .iter()
            .map(|a| AgencyRow {
                agency: a
                    .agency_code
                    .clone()
                    .unwrap_or_else(|| t.get("presence.no_agency").to_string()),
                accounted: a.counts.accounted,
                needs_help: a.counts.needs_help,
                no_answer: a.counts.no_answer,
                total: a.counts.accounted + a.counts.needs_help + a.counts.no_answer,
            })
            .collect();
        let chase = bd.to_chase.as_ref().map(|c| {
            c.iter()
                .map(|p| ChaseRow {
                    name: p.name.clone(),
                    agency: p.agency_code.clone().unwrap_or_default(),
                    category: category_label(&t, &p.category),
                    needs_help: p.status == "needs_help",
                    status: t.get(&format!("rollcall.{}", p.status)).to_string(),
                    answered: match (&p.channel, &p.answered_at) {
                        (Some(ch), Some(at)) => format!("{} · {}", ch, fmt_time(at)),
                        _ => String::new(),
                    },
                })
                .collect()
        });
        let title = t.fmt(
            "rollcall.board_title",
            &[(
                "areas",
                &areas
                    .iter()
                    .map(|a| a.1.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            )],
        );
        let mut b = Base::new(
            t,
            Some(&who),
            title,
            "rollcalls",
            &format!("/roll-calls/{id}"),
        );
        match q.done.as_deref() {
            Some("started") => {
                b = b.with_flash(
                    "success",
                    t.fmt("rollcall.done_started", &[("n", &rc.people.to_string())]),
                )
            }
            Some("closed") => b = b.with_flash("success", t.get("rollcall.done_closed").into()),
            _ => {}
        }
        let total = bd.totals.accounted + bd.totals.needs_help + bd.totals.no_answer;
        Ok::<_, ApiError>(BoardPage {
            id: id.to_string(),
            area_names: areas
                .iter()
                .map(|a| a.1.clone())
                .collect::<Vec<_>>()
                .join(", "),
            areas,
            message: rc.message.clone(),
            open,
            state: t.get(&format!("rollcall.state_{}", rc.state)).to_string(),
            started: fmt_time(&rc.started_at),
            started_by: rc.started_by_name.clone(),
            closed: rc.closed_at.map(|c| fmt_time(&c)).unwrap_or_default(),
            people: total,
            sms: rc.sms_recipients,
            accounted: bd.totals.accounted,
            needs_help: bd.totals.needs_help,
            no_answer: bd.totals.no_answer,
            accounted_pct: percent(bd.totals.accounted, total),
            needs_help_pct: percent(bd.totals.needs_help, total),
            agencies,
            needs_undertaking: chase.is_none() && bd.people_withheld.is_some(),
            chase,
            partners: partner_rows(&t, &as_value),
            can_close: open && may_run_roll_call(&who.user.grants, &pairs),
            b,
        })
    }
    .await;
    show_page(r, &state, &headers, Some(&who))
}

pub async fn close(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Path(id): Path<String>,
) -> Response {
    let r = async {
        let id = Uuid::parse_str(id.trim())
            .map_err(|_| ApiError::not_found(format!("roll call {id}")))?;
        let Json(_closed) = api_close(
            State(state.clone()),
            ApiUser(who.clone()),
            crate::api::Path(id),
        )
        .await?;
        Ok::<_, ApiError>(id)
    }
    .await;
    match r {
        Ok(id) => see_other(&format!("/roll-calls/{id}?done=closed")),
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}
