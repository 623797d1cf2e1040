use super::pages::{show_page, work_items, PageError, WorkItem};
use super::{error_page, fmt_time, lang, render, see_other, Base, LevelView};
use crate::api::areas::parse_code;
use crate::auth::{Authed, WebUser};
use crate::error::ApiError;
use crate::service::{self, Decision, Proposal};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::Form;
use serde::Deserialize;
use std::collections::BTreeMap;
use uuid::Uuid;
use warden_domain::{AssessmentAction, AssessmentStatus, CountryCode, Role, Scope, ThreatCategory};
use warden_store::{AssessmentQuery, PageRequest};

#[derive(Template)]
#[template(path = "assessments.html")]
struct QueuePage {
    b: Base,
    items: Vec<WorkItem>,
    status: String,
    statuses: Vec<(String, String)>,
    country: String,
    countries: Vec<String>,
    total: i64,
}

#[derive(Deserialize)]
pub struct QueueQuery {
    status: Option<String>,
    country: Option<String>,
}

/// Countries whose assessments the user may see (None: all).
fn user_countries(who: &Authed) -> Option<Vec<String>> {
    let mut out = vec![];
    for g in &who.user.grants {
        if matches!(g.role, Role::Traveller | Role::AgencyFocalPoint) {
            continue;
        }
        match &g.scope {
            Scope::Global => return None,
            Scope::Country(c) => out.push(c.to_string()),
            Scope::Area(a) => out.push(a.country().to_string()),
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

pub async fn queue(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Query(q): Query<QueueQuery>,
) -> Response {
    let t = lang(&headers, &state);
    let b = Base::new(
        t,
        Some(&who),
        t.get("queue.title").into(),
        "assessments",
        "/assessments",
    );
    let allowed = user_countries(&who);
    if allowed.as_ref().is_some_and(|a| a.is_empty()) {
        return error_page(b, &ApiError::forbidden(t.get("queue.no_roles")));
    }
    let country = q.country.clone().filter(|c| !c.is_empty()).or_else(|| {
        allowed
            .as_ref()
            .and_then(|a| (a.len() == 1).then(|| a[0].clone()))
    });
    let r = async {
        let cc = country.as_deref().map(CountryCode::parse).transpose()?;
        if let (Some(cc), Some(a)) = (&cc, &allowed) {
            if !a.contains(&cc.to_string()) {
                return Err(ApiError::forbidden(t.get("queue.no_roles")));
            }
        }
        if cc.is_none() && allowed.is_some() {
            return Err(ApiError::invalid("country", t.get("queue.pick_country")));
        }
        let status = q.status.clone().unwrap_or_else(|| "open".into());
        let statuses = match status.as_str() {
            "open" => vec![
                AssessmentStatus::Submitted,
                AssessmentStatus::Validated,
                AssessmentStatus::Returned,
            ],
            "all" => vec![],
            s => vec![AssessmentStatus::parse(s)
                .ok_or_else(|| ApiError::invalid("status", "unknown status"))?],
        };
        let page = state
            .store
            .list_assessments(&AssessmentQuery {
                country: cc,
                statuses,
                page: PageRequest::new(Some(200), None),
                ..Default::default()
            })
            .await?;
        Ok(QueuePage {
            b,
            total: page.total,
            items: work_items(&t, page.items),
            statuses: [
                "open",
                "submitted",
                "validated",
                "returned",
                "approved",
                "rejected",
                "withdrawn",
                "all",
            ]
            .iter()
            .map(|s| (s.to_string(), t.get(&format!("status.{s}")).to_string()))
            .collect(),
            status,
            country: country.clone().unwrap_or_default(),
            countries: allowed.clone().unwrap_or_default(),
        })
    }
    .await;
    show_page(r, &state, &headers, Some(&who))
}

#[derive(Template)]
#[template(path = "assessment_new.html")]
struct NewPage {
    b: Base,
    area_code: String,
    area_name: String,
    current: LevelView,
    categories: Vec<(String, String, i64)>,
    levels: Vec<(i64, String)>,
    level: i64,
    narrative: String,
    advisory_text: String,
    mitigation_text: String,
    measures: Vec<(String, String, String, bool)>,
    error: Option<String>,
    error_field: String,
}

#[derive(Deserialize)]
pub struct NewQuery {
    area: String,
}

async fn new_page(
    state: &AppState,
    t: crate::i18n::T,
    who: &Authed,
    area: &str,
    form: Option<&ProposalForm>,
    error: Option<ApiError>,
) -> Result<NewPage, ApiError> {
    let code = parse_code(area)?;
    let a = state
        .store
        .get_area(&code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("area {code}")))?;
    if !warden_domain::role::has_role_for_area(
        &who.user.grants,
        Role::SecurityAdviser,
        &a.code,
        &a.country,
    ) {
        return Err(ApiError::forbidden(t.get("assessment.only_sa")));
    }
    let measures = state.store.list_measures().await?;
    let current = a.level.map(|l| l.get() as i64).unwrap_or(1);
    Ok(NewPage {
        b: Base::new(
            t,
            Some(who),
            t.get("assessment.new_title").into(),
            "assessments",
            "/assessments/new",
        ),
        area_code: a.code.to_string(),
        area_name: a.name.clone(),
        current: LevelView::new(&t, a.level),
        categories: ThreatCategory::ALL
            .iter()
            .map(|c| {
                let v = form.and_then(|f| f.rating(c.as_str())).unwrap_or(current);
                (
                    c.as_str().to_string(),
                    t.get(&format!("category.{}", c.as_str())).to_string(),
                    v,
                )
            })
            .collect(),
        levels: (1..=6)
            .map(|i| (i, format!("{i} — {}", t.level_name(i as u8))))
            .collect(),
        level: form.map(|f| f.level).unwrap_or(current),
        narrative: form.map(|f| f.narrative.clone()).unwrap_or_default(),
        advisory_text: form.map(|f| f.advisory_text.clone()).unwrap_or_default(),
        mitigation_text: form.map(|f| f.mitigation_text.clone()).unwrap_or_default(),
        measures: measures
            .into_iter()
            .filter(|m| m.country.is_none() || m.country.as_ref() == Some(&a.country))
            .map(|m| {
                let checked = form.is_some_and(|f| f.measures.contains(&m.id));
                (m.id.to_string(), m.title, m.category, checked)
            })
            .collect(),
        error_field: error
            .as_ref()
            .and_then(|e| e.field.clone())
            .unwrap_or_default(),
        error: error.map(|e| e.detail),
    })
}

pub async fn new_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Query(q): Query<NewQuery>,
) -> Response {
    let t = lang(&headers, &state);
    match new_page(&state, t, &who, &q.area, None, None).await {
        Ok(p) => render(&p),
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

#[derive(Deserialize)]
pub struct ProposalForm {
    area: String,
    level: i64,
    #[serde(default)]
    rating_armed_conflict: i64,
    #[serde(default)]
    rating_terrorism: i64,
    #[serde(default)]
    rating_crime: i64,
    #[serde(default)]
    rating_civil_unrest: i64,
    #[serde(default)]
    rating_hazards: i64,
    #[serde(default)]
    narrative: String,
    #[serde(default)]
    advisory_text: String,
    #[serde(default)]
    mitigation_text: String,
    #[serde(default)]
    measures: Vec<Uuid>,
}

impl ProposalForm {
    fn rating(&self, cat: &str) -> Option<i64> {
        Some(match cat {
            "armed_conflict" => self.rating_armed_conflict,
            "terrorism" => self.rating_terrorism,
            "crime" => self.rating_crime,
            "civil_unrest" => self.rating_civil_unrest,
            "hazards" => self.rating_hazards,
            _ => return None,
        })
    }
    fn proposal(&self) -> Proposal {
        let ratings: BTreeMap<String, i64> = ThreatCategory::ALL
            .iter()
            .map(|c| (c.as_str().to_string(), self.rating(c.as_str()).unwrap_or(0)))
            .collect();
        Proposal {
            area: self.area.clone(),
            level: self.level,
            ratings,
            narrative: self.narrative.clone(),
            advisory_text: self.advisory_text.clone(),
            measures: self.measures.clone(),
            mitigation_text: self.mitigation_text.clone(),
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Form(f): Form<ProposalForm>,
) -> Response {
    let t = lang(&headers, &state);
    match service::submit_assessment(&state, &who, &f.proposal()).await {
        Ok(a) => see_other(&format!("/assessments/{}?done=submitted", a.id)),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            match new_page(&state, t, &who, &f.area, Some(&f), Some(e)).await {
                Ok(p) => {
                    let mut r = render(&p);
                    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                    r
                }
                Err(e) => e.into_response_page(&state, &headers, Some(&who)),
            }
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

pub struct EventRow {
    pub at: String,
    pub at_iso: String,
    pub actor: String,
    pub action: String,
    pub reason: String,
    pub smt: String,
}

#[derive(Template)]
#[template(path = "assessment.html")]
struct DetailPage {
    b: Base,
    id: String,
    area_code: String,
    area_name: String,
    status: String,
    status_key: String,
    author: String,
    created: String,
    proposed: LevelView,
    previous: LevelView,
    ratings: Vec<(String, LevelView)>,
    narrative: String,
    advisory_text: String,
    mitigation_text: String,
    measures: Vec<String>,
    events: Vec<EventRow>,
    actions: Vec<(String, String, String)>,
    can_approve: bool,
    smt: Vec<(String, String)>,
    error: Option<String>,
}

async fn detail_page(
    state: &AppState,
    t: crate::i18n::T,
    who: &Authed,
    id: Uuid,
    error: Option<String>,
) -> Result<DetailPage, ApiError> {
    let d = crate::api::assessments::load_visible(state, who, id).await?;
    let a = &d.assessment;
    let actions = service::available_actions(who, a);
    // SMT members of the country: offered for an approval, and used to name
    // those recorded as consulted in past events.
    let smt_members: Vec<(String, String)> = state
        .store
        .users_with_role(Role::SmtMember, &a.country)
        .await?
        .into_iter()
        .map(|u| (u.id.to_string(), u.display_name))
        .collect();
    let all_users_smt: BTreeMap<String, String> = smt_members.iter().cloned().collect();
    let smt = if actions.contains(&AssessmentAction::Approve) {
        smt_members
    } else {
        vec![]
    };
    let measures = state.store.list_measures().await?;
    Ok(DetailPage {
        b: Base::new(
            t,
            Some(who),
            t.fmt("assessment.title", &[("area", &a.area_name)]),
            "assessments",
            &format!("/assessments/{id}"),
        ),
        id: a.id.to_string(),
        area_code: a.area.to_string(),
        area_name: a.area_name.clone(),
        status: t.get(&format!("status.{}", a.status.as_str())).to_string(),
        status_key: a.status.as_str().to_string(),
        author: a.author_name.clone(),
        created: fmt_time(&a.created_at),
        proposed: LevelView::new(&t, Some(a.proposed_level)),
        previous: LevelView::new(&t, a.previous_level),
        ratings: ThreatCategory::ALL
            .iter()
            .map(|c| {
                let v = a
                    .ratings
                    .get(c.as_str())
                    .and_then(|v| warden_domain::SecurityLevel::new(*v).ok());
                (
                    t.get(&format!("category.{}", c.as_str())).to_string(),
                    LevelView::new(&t, v),
                )
            })
            .collect(),
        narrative: a.narrative.clone(),
        advisory_text: a.advisory_text.clone(),
        mitigation_text: a.mitigation_text.clone(),
        measures: measures
            .into_iter()
            .filter(|m| a.measures.contains(&m.id))
            .map(|m| m.title)
            .collect(),
        events: d
            .events
            .iter()
            .map(|e| EventRow {
                at: fmt_time(&e.at),
                at_iso: e.at.to_rfc3339(),
                actor: e.actor_name.clone(),
                action: t.get(&format!("action.{}", e.action)).to_string(),
                reason: e.reason.clone(),
                smt: e
                    .smt_consulted
                    .iter()
                    .map(|id| {
                        all_users_smt
                            .get(&id.to_string())
                            .cloned()
                            .unwrap_or_else(|| id.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
        can_approve: actions.contains(&AssessmentAction::Approve),
        actions: actions
            .iter()
            .map(|a| {
                let class = match a {
                    AssessmentAction::Reject | AssessmentAction::Withdraw => "button-danger",
                    AssessmentAction::SendBack => "button-secondary",
                    _ => "",
                };
                (
                    a.as_str().to_string(),
                    t.get(&format!("do.{}", a.as_str())).to_string(),
                    class.to_string(),
                )
            })
            .collect(),
        smt,
        error,
    })
}

#[derive(Deserialize)]
pub struct DetailQuery {
    done: Option<String>,
}

pub async fn detail(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Path(id): Path<Uuid>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let t = lang(&headers, &state);
    match detail_page(&state, t, &who, id, None).await {
        Ok(mut p) => {
            if let Some(k) = q
                .done
                .as_deref()
                .filter(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            {
                let msg = t.get(&format!("done.{k}")).to_string();
                if !msg.starts_with("done.") {
                    p.b = p.b.with_flash("success", msg);
                }
            }
            render(&p)
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}

#[derive(Deserialize)]
pub struct ActionForm {
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    smt_consulted: Vec<Uuid>,
}

pub async fn act(
    State(state): State<AppState>,
    headers: HeaderMap,
    WebUser(who): WebUser,
    Path(id): Path<Uuid>,
    Form(f): Form<ActionForm>,
) -> Response {
    let t = lang(&headers, &state);
    let d = Decision {
        action: f.action.clone(),
        reason: f.reason,
        smt_consulted: f.smt_consulted,
        revision: None,
    };
    match service::act_on_assessment(&state, &who, id, &d).await {
        Ok(a) => see_other(&format!("/assessments/{}?done={}", a.id, a.status.as_str())),
        Err(e) if matches!(e.status().as_u16(), 409 | 422) => {
            match detail_page(&state, t, &who, id, Some(e.detail.clone())).await {
                Ok(p) => {
                    let mut r = render(&p);
                    *r.status_mut() = e.status();
                    r
                }
                Err(e) => e.into_response_page(&state, &headers, Some(&who)),
            }
        }
        Err(e) => e.into_response_page(&state, &headers, Some(&who)),
    }
}
