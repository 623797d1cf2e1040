use super::{error_page, fmt_time, lang, render, Base, LevelView};
use crate::api::areas::parse_code;
use crate::auth::WebUser;
use crate::error::ApiError;
use crate::service;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use warden_domain::{AssessmentStatus, CountryCode, Role};
use warden_store::{AssessmentQuery, AuditQuery, PageRequest};

pub struct CountryRow {
    pub code: String,
    pub name: String,
    pub areas: i64,
    pub with_level: i64,
    pub level: LevelView,
}

pub struct WorkItem {
    pub id: String,
    pub area: String,
    pub proposed: LevelView,
    pub status: String,
    pub author: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    b: Base,
    countries: Vec<CountryRow>,
    total_areas: i64,
    areas_with_level: i64,
    high_areas: i64,
    work: Vec<WorkItem>,
    recent: Vec<(String, String, String, LevelView)>,
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn flash(b: Base, done: Option<&str>) -> Base {
    match done {
        Some(k) if k.chars().all(|c| c.is_ascii_lowercase() || c == '_') => {
            let msg = b.t.get(&format!("done.{k}")).to_string();
            if msg.starts_with("done.") {
                b
            } else {
                b.with_flash("success", msg)
            }
        }
        _ => b,
    }
}

pub(super) fn work_items(
    t: &crate::i18n::T,
    items: Vec<warden_store::Assessment>,
) -> Vec<WorkItem> {
    items
        .into_iter()
        .map(|a| WorkItem {
            id: a.id.to_string(),
            area: format!("{} ({})", a.area_name, a.area),
            proposed: LevelView::new(t, Some(a.proposed_level)),
            status: t.get(&format!("status.{}", a.status.as_str())).to_string(),
            author: a.author_name,
            updated: fmt_time(&a.updated_at),
        })
        .collect()
}

pub async fn dashboard(
    State(state): State<AppState>,
    headers: HeaderMap,
    who: Option<WebUser>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let t = lang(&headers, &state);
    let who = who.map(|w| w.0);
    let b = flash(
        Base::new(
            t,
            who.as_ref(),
            t.get("dashboard.title").into(),
            "home",
            "/",
        ),
        q.done.as_deref(),
    );
    if let Some(to_login) = public_gate(&state, who.as_ref()) {
        return to_login;
    }
    let r = async {
        let summaries = state.store.list_countries().await?;
        let mut ordered: Vec<_> = summaries.iter().collect();
        // Countries with levels first, most dangerous first; then the rest by name.
        ordered.sort_by_key(|c| std::cmp::Reverse(c.highest_level.map(|l| l.get()).unwrap_or(0)));
        let countries: Vec<CountryRow> = ordered
            .into_iter()
            .map(|c| CountryRow {
                code: c.country.alpha2.to_string(),
                name: c
                    .country
                    .names
                    .get(t.code())
                    .cloned()
                    .unwrap_or_else(|| c.country.name.clone()),
                areas: c.areas,
                with_level: c.areas_with_level,
                level: LevelView::new(&t, c.highest_level),
            })
            .collect();
        let total_areas = summaries.iter().map(|c| c.areas).sum();
        let areas_with_level = summaries.iter().map(|c| c.areas_with_level).sum();
        let high = state
            .store
            .list_areas(&warden_store::AreaQuery {
                level: Some(warden_domain::SecurityLevel::new(5)?),
                page: PageRequest::new(Some(1), None),
                ..Default::default()
            })
            .await?
            .total
            + state
                .store
                .list_areas(&warden_store::AreaQuery {
                    level: Some(warden_domain::SecurityLevel::new(6)?),
                    page: PageRequest::new(Some(1), None),
                    ..Default::default()
                })
                .await?
                .total;
        let mut work = vec![];
        if let Some(w) = &who {
            // What waits for this user's decision.
            let mut statuses = vec![];
            if w.user.grants.iter().any(|g| g.role == Role::RegionalDesk) {
                statuses.push(AssessmentStatus::Submitted);
            }
            if w.user
                .grants
                .iter()
                .any(|g| g.role == Role::DesignatedOfficial)
            {
                statuses.push(AssessmentStatus::Validated);
            }
            if w.user
                .grants
                .iter()
                .any(|g| g.role == Role::SecurityAdviser)
            {
                statuses.push(AssessmentStatus::Returned);
            }
            if !statuses.is_empty() {
                let page = state
                    .store
                    .list_assessments(&AssessmentQuery {
                        statuses,
                        page: PageRequest::new(Some(200), None),
                        ..Default::default()
                    })
                    .await?;
                let mine: Vec<_> = page
                    .items
                    .into_iter()
                    .filter(|a| {
                        service::available_actions(w, a)
                            .iter()
                            .any(|act| !matches!(act, warden_domain::AssessmentAction::Withdraw))
                    })
                    .take(10)
                    .collect();
                work = work_items(&t, mine);
            }
        }
        let recent = state
            .store
            .advisory_changes(None, 8)
            .await?
            .into_iter()
            .map(|c| {
                (
                    c.area.to_string(),
                    c.summary,
                    fmt_time(&c.at),
                    LevelView::new(&t, c.new_level),
                )
            })
            .collect();
        Ok::<_, ApiError>(Dashboard {
            b,
            countries,
            total_areas,
            areas_with_level,
            high_areas: high,
            work,
            recent,
        })
    }
    .await;
    show_page(r, &state, &headers, who.as_ref())
}

/// Renders a page, or the error page in the user's language.
pub(super) fn show_page<P: Template>(
    r: Result<P, ApiError>,
    state: &AppState,
    headers: &HeaderMap,
    who: Option<&crate::auth::Authed>,
) -> Response {
    match r {
        Ok(p) => render(&p),
        Err(e) => e.into_response_page(state, headers, who),
    }
}

/// When levels are not public, anonymous visitors go to the login page.
fn public_gate(state: &AppState, who: Option<&crate::auth::Authed>) -> Option<Response> {
    (!state.config.public_advisories && who.is_none()).then(|| super::see_other("/login"))
}

pub(super) trait PageError {
    fn into_response_page(
        self,
        state: &AppState,
        headers: &HeaderMap,
        who: Option<&crate::auth::Authed>,
    ) -> Response;
}
impl PageError for ApiError {
    fn into_response_page(
        self,
        state: &AppState,
        headers: &HeaderMap,
        who: Option<&crate::auth::Authed>,
    ) -> Response {
        let t = lang(headers, state);
        error_page(
            Base::new(t, who, t.get("error.generic").into(), "", "/"),
            &self,
        )
    }
}

pub struct AreaRow {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub level: LevelView,
    pub since: String,
}

#[derive(Template)]
#[template(path = "country.html")]
struct CountryPage {
    b: Base,
    code: String,
    name: String,
    areas: Vec<AreaRow>,
    distribution: Vec<(String, i64)>,
}

pub async fn country(
    State(state): State<AppState>,
    headers: HeaderMap,
    who: Option<WebUser>,
    Path(cc): Path<String>,
) -> Response {
    let t = lang(&headers, &state);
    let who = who.map(|w| w.0);
    if let Some(to_login) = public_gate(&state, who.as_ref()) {
        return to_login;
    }
    let r = async {
        let cc = CountryCode::parse(&cc)?;
        let c = state
            .store
            .get_country(&cc)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("country {cc}")))?;
        let areas = state.all_areas(Some(&cc)).await?;
        let mut dist = [0i64; 7];
        for a in &areas {
            dist[a.level.map(|l| l.get() as usize).unwrap_or(0)] += 1;
        }
        let name = c.names.get(t.code()).cloned().unwrap_or(c.name.clone());
        Ok::<_, ApiError>(CountryPage {
            b: Base::new(
                t,
                who.as_ref(),
                name.clone(),
                "home",
                &format!("/countries/{cc}"),
            ),
            code: cc.to_string(),
            name,
            distribution: (1..=6)
                .map(|i| (format!("level-{i}"), dist[i]))
                .chain(std::iter::once(("level-none".to_string(), dist[0])))
                .filter(|(_, n)| *n > 0)
                .collect(),
            areas: areas
                .into_iter()
                .map(|a| AreaRow {
                    code: a.code.to_string(),
                    name: a.names.get(t.code()).cloned().unwrap_or(a.name),
                    kind: a.subtype.unwrap_or_default(),
                    level: LevelView::new(&t, a.level),
                    since: a.level_since.map(|s| fmt_time(&s)).unwrap_or_default(),
                })
                .collect(),
        })
    }
    .await;
    show_page(r, &state, &headers, who.as_ref())
}

pub struct HistoryRow {
    pub at: String,
    pub at_iso: String,
    pub by: String,
    pub old: LevelView,
    pub new: LevelView,
    pub reason: String,
    pub assessment: String,
}

#[derive(Template)]
#[template(path = "area.html")]
struct AreaPage {
    b: Base,
    code: String,
    name: String,
    country: String,
    country_name: String,
    iso: String,
    kind: String,
    level: LevelView,
    since: String,
    history: Vec<HistoryRow>,
    threat: String,
    mitigation: String,
    measures: Vec<(String, String)>,
    can_propose: bool,
    open: Vec<WorkItem>,
    /// How travel into the area is processed (TRIP), and whether the viewer sets it.
    travel_mode: String,
    can_set_mode: bool,
}

pub async fn area(
    State(state): State<AppState>,
    headers: HeaderMap,
    who: Option<WebUser>,
    Path(code): Path<String>,
) -> Response {
    let t = lang(&headers, &state);
    let who = who.map(|w| w.0);
    if let Some(to_login) = public_gate(&state, who.as_ref()) {
        return to_login;
    }
    let r = async {
        let code = parse_code(&code)?;
        let a = state
            .store
            .get_area(&code)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("area {code}")))?;
        let country = state
            .store
            .get_country(&a.country)
            .await?
            .ok_or_else(|| ApiError::not_found("country"))?;
        let adv = state
            .store
            .get_advisory(&a.country)
            .await?
            .ok_or_else(|| ApiError::not_found("advisory"))?;
        let entry = adv.areas.into_iter().find(|e| e.area.code == a.code);
        let history = state
            .store
            .level_history(&a.code)
            .await?
            .into_iter()
            .map(|h| HistoryRow {
                at: fmt_time(&h.at),
                at_iso: h.at.to_rfc3339(),
                by: h.approved_by_name,
                old: LevelView::new(&t, h.old_level),
                new: LevelView::new(&t, Some(h.new_level)),
                reason: h.reason,
                assessment: h.assessment.to_string(),
            })
            .collect();
        let can_propose = who.as_ref().is_some_and(|w| {
            warden_domain::role::has_role_for_area(
                &w.user.grants,
                Role::SecurityAdviser,
                &a.code,
                &a.country,
            )
        });
        let open = match &who {
            Some(w) if service::can_see_assessments(w, &a.country) => {
                let p = state
                    .store
                    .list_assessments(&AssessmentQuery {
                        area: Some(a.code.clone()),
                        statuses: vec![
                            AssessmentStatus::Submitted,
                            AssessmentStatus::Validated,
                            AssessmentStatus::Returned,
                        ],
                        ..Default::default()
                    })
                    .await?;
                work_items(&t, p.items)
            }
            _ => vec![],
        };
        let travel_mode = state.store.processing_mode(&a.code).await?;
        let can_set_mode = who.as_ref().is_some_and(|w| crate::trips::sets_mode(w, &a));
        let name = a.names.get(t.code()).cloned().unwrap_or(a.name.clone());
        Ok::<_, ApiError>(AreaPage {
            b: Base::new(
                t,
                who.as_ref(),
                name.clone(),
                "home",
                &format!("/areas/{code}"),
            ),
            code: a.code.to_string(),
            name,
            country: a.country.to_string(),
            country_name: country.names.get(t.code()).cloned().unwrap_or(country.name),
            iso: a.iso_3166_2.clone().unwrap_or_default(),
            kind: a.subtype.clone().unwrap_or_default(),
            level: LevelView::new(&t, a.level),
            since: a.level_since.map(|s| fmt_time(&s)).unwrap_or_default(),
            history,
            threat: entry.as_ref().map(|e| e.text.clone()).unwrap_or_default(),
            mitigation: entry
                .as_ref()
                .map(|e| e.mitigation_text.clone())
                .unwrap_or_default(),
            measures: entry
                .map(|e| {
                    e.measures
                        .into_iter()
                        .map(|m| (m.title, m.description))
                        .collect()
                })
                .unwrap_or_default(),
            can_propose,
            open,
            travel_mode: t.get(&format!("mode.{}", travel_mode.as_str())).to_string(),
            can_set_mode,
        })
    }
    .await;
    show_page(r, &state, &headers, who.as_ref())
}

pub struct AdvisoryRow {
    pub code: String,
    pub name: String,
    pub level: LevelView,
    pub threat: String,
    pub mitigation: String,
    pub measures: Vec<(String, String)>,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "advisory.html")]
struct AdvisoryPage {
    b: Base,
    code: String,
    name: String,
    version: i64,
    updated: String,
    rows: Vec<AdvisoryRow>,
    unassessed: Vec<(String, String)>,
    cyber_section: bool,
}

pub async fn advisory(
    State(state): State<AppState>,
    headers: HeaderMap,
    who: Option<WebUser>,
    Path(cc): Path<String>,
) -> Response {
    let t = lang(&headers, &state);
    let who = who.map(|w| w.0);
    if let Some(to_login) = public_gate(&state, who.as_ref()) {
        return to_login;
    }
    let r = async {
        let adv = crate::api::advisories::load_advisory(&state, &cc).await?;
        let name = adv
            .country
            .names
            .get(t.code())
            .cloned()
            .unwrap_or(adv.country.name.clone());
        let (rated, unrated): (Vec<_>, Vec<_>) =
            adv.areas.into_iter().partition(|e| e.area.level.is_some());
        Ok::<_, ApiError>(AdvisoryPage {
            b: Base::new(
                t,
                who.as_ref(),
                t.fmt("advisory.title", &[("country", &name)]),
                "home",
                &format!("/advisories/{cc}"),
            ),
            code: adv.country.alpha2.to_string(),
            name,
            version: adv.version,
            updated: adv.updated_at.map(|u| fmt_time(&u)).unwrap_or_default(),
            rows: rated
                .into_iter()
                .map(|e| AdvisoryRow {
                    code: e.area.code.to_string(),
                    name: e
                        .area
                        .names
                        .get(t.code())
                        .cloned()
                        .unwrap_or(e.area.name.clone()),
                    level: LevelView::new(&t, e.area.level),
                    threat: e.text,
                    mitigation: e.mitigation_text,
                    measures: e
                        .measures
                        .into_iter()
                        .map(|m| (m.title, m.description))
                        .collect(),
                    updated: e.updated_at.map(|u| fmt_time(&u)).unwrap_or_default(),
                })
                .collect(),
            unassessed: unrated
                .into_iter()
                .map(|e| (e.area.code.to_string(), e.area.name))
                .collect(),
            cyber_section: state.config.advisory_cyber_section,
        })
    }
    .await;
    show_page(r, &state, &headers, who.as_ref())
}

pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub ip: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub hash: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    b: Base,
    rows: Vec<AuditRow>,
    total: i64,
    page: i64,
    pages: i64,
    action: String,
    intact: Option<bool>,
    broken_at: String,
}

#[derive(Deserialize)]
pub struct AuditParams {
    page: Option<i64>,
    action: Option<String>,
    verify: Option<String>,
}

pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Query(q): Query<AuditParams>,
) -> Response {
    let t = lang(&headers, &state);
    let b = Base::new(
        t,
        Some(&who),
        t.get("audit.title").into(),
        "audit",
        "/audit",
    );
    if !service::is_admin(&who) {
        return error_page(b, &ApiError::forbidden(t.get("audit.admins_only")));
    }
    let per = 50;
    let page = q.page.unwrap_or(1).max(1);
    let action = q.action.clone().filter(|a| !a.trim().is_empty());
    let r = async {
        let p = state
            .store
            .list_audit(&AuditQuery {
                action_prefix: action.clone(),
                page: PageRequest::new(Some(per), Some((page - 1) * per)),
                ..Default::default()
            })
            .await?;
        let v = if q.verify.is_some() {
            Some(state.store.verify_audit_chain().await?)
        } else {
            None
        };
        Ok::<_, ApiError>(AuditPage {
            b,
            total: p.total,
            page,
            pages: ((p.total + per - 1) / per).max(1),
            action: action.unwrap_or_default(),
            intact: v.as_ref().map(|v| v.first_broken.is_none()),
            broken_at: v
                .and_then(|v| v.first_broken)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            rows: p
                .items
                .into_iter()
                .map(|e| AuditRow {
                    seq: e.seq,
                    at: fmt_time(&e.at),
                    actor: e.actor_name,
                    ip: e.ip.unwrap_or_default(),
                    action: e.action,
                    target: e.target,
                    detail: e.detail,
                    hash: e.hash[..12].to_string(),
                })
                .collect(),
        })
    }
    .await;
    show_page(r, &state, &headers, Some(&who))
}
