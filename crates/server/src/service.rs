//! Operations shared by the JSON API, the web pages and the CLI. Each checks
//! the caller's authority with the domain rules, then writes through the store.

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use std::collections::BTreeMap;
use uuid::Uuid;
use warden_domain::assessment::{
    check_text, transition, TransitionContext, NARRATIVE_MAX, REASON_MAX,
};
use warden_domain::role::{has_role, has_role_for_area, has_role_for_country};
use warden_domain::{
    AreaCode, AssessmentAction, AssessmentStatus, CategoryRatings, CountryCode, Role, SecurityLevel,
};
use warden_store::{Assessment, AssessmentTransition, NewAssessment};

/// A proposal as a security adviser enters it.
#[derive(Debug, Clone, Default)]
pub struct Proposal {
    pub area: String,
    pub level: i64,
    pub ratings: BTreeMap<String, i64>,
    pub narrative: String,
    pub advisory_text: String,
    pub measures: Vec<Uuid>,
    pub mitigation_text: String,
}

impl Proposal {
    fn validate(&self, author: Uuid) -> ApiResult<NewAssessment> {
        let area = AreaCode::parse(&self.area).map_err(|e| {
            ApiError::invalid(
                "area",
                e.to_string().trim_start_matches("code: ").to_string(),
            )
        })?;
        let level = SecurityLevel::new(self.level)?;
        CategoryRatings::new(&self.ratings)?;
        check_text("narrative", &self.narrative, true, NARRATIVE_MAX)?;
        check_text("advisory_text", &self.advisory_text, false, NARRATIVE_MAX)?;
        check_text(
            "mitigation_text",
            &self.mitigation_text,
            false,
            NARRATIVE_MAX,
        )?;
        Ok(NewAssessment {
            area,
            author,
            proposed_level: level,
            ratings: self.ratings.clone(),
            narrative: self.narrative.trim().to_string(),
            advisory_text: self.advisory_text.trim().to_string(),
            measures: self.measures.clone(),
            mitigation_text: self.mitigation_text.trim().to_string(),
        })
    }
}

pub async fn submit_assessment(
    state: &AppState,
    who: &Authed,
    p: &Proposal,
) -> ApiResult<Assessment> {
    let new = p.validate(who.user.id)?;
    let area = state
        .store
        .get_area(&new.area)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("area {}", new.area)))?;
    if !has_role_for_area(
        &who.user.grants,
        Role::SecurityAdviser,
        &area.code,
        &area.country,
    ) {
        return Err(ApiError::forbidden(format!(
            "only a security adviser responsible for {} may submit an assessment for it",
            area.code
        )));
    }
    Ok(state.store.create_assessment(&new, &who.audit()).await?)
}

#[derive(Debug, Clone, Default)]
pub struct Decision {
    pub action: String,
    pub reason: String,
    pub smt_consulted: Vec<Uuid>,
    pub revision: Option<Proposal>,
}

pub async fn act_on_assessment(
    state: &AppState,
    who: &Authed,
    id: Uuid,
    d: &Decision,
) -> ApiResult<Assessment> {
    let action = AssessmentAction::parse(&d.action)?;
    check_text("reason", &d.reason, false, REASON_MAX)?;
    let detail = state
        .store
        .get_assessment(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("assessment {id}")))?;
    let a = &detail.assessment;
    // The SMT members named must really be SMT members for this country.
    if action == AssessmentAction::Approve {
        let smt = state
            .store
            .users_with_role(Role::SmtMember, &a.country)
            .await?;
        for (i, m) in d.smt_consulted.iter().enumerate() {
            if !smt.iter().any(|u| u.id == *m) {
                return Err(ApiError::invalid(
                    format!("smt_consulted[{i}]"),
                    format!(
                        "{m} is not a member of the Security Management Team for {}",
                        a.country
                    ),
                ));
            }
        }
    }
    let revision = match (&d.revision, action) {
        (Some(p), AssessmentAction::Resubmit) => {
            let mut p = p.clone();
            p.area = a.area.to_string();
            Some(p.validate(a.author)?)
        }
        (Some(_), _) => {
            return Err(ApiError::invalid(
                "revision",
                "a revision can only accompany a resubmission",
            ))
        }
        (None, _) => None,
    };
    let to = transition(
        action,
        &TransitionContext {
            grants: &who.user.grants,
            actor_is_author: who.user.id == a.author,
            area: &a.area,
            country: &a.country,
            status: a.status,
            reason: &d.reason,
            smt_consulted: d.smt_consulted.len(),
        },
    )?;
    let t = AssessmentTransition {
        id,
        action,
        to,
        actor: who.user.id,
        reason: d.reason.trim().to_string(),
        smt_consulted: d.smt_consulted.clone(),
        revision,
    };
    let out = state
        .store
        .apply_assessment_action(&t, a.status, &who.audit())
        .await?;
    if to == AssessmentStatus::Approved {
        state.metrics.level_changes.inc();
        tracing::info!(area = %a.area, level = a.proposed_level.get(), by = %who.user.username, "security level approved");
    }
    Ok(out)
}

/// Which actions this user may take on the assessment now (for the UI).
pub fn available_actions(who: &Authed, a: &Assessment) -> Vec<AssessmentAction> {
    AssessmentAction::ALL
        .into_iter()
        .filter(|act| {
            transition(
                *act,
                &TransitionContext {
                    grants: &who.user.grants,
                    actor_is_author: who.user.id == a.author,
                    area: &a.area,
                    country: &a.country,
                    status: a.status,
                    reason: "x",
                    smt_consulted: 1,
                },
            )
            .is_ok()
        })
        .collect()
}

/// Roles that may see assessments (internal threat analysis) of a country.
pub fn can_see_assessments(who: &Authed, country: &CountryCode) -> bool {
    [
        Role::SecurityAdviser,
        Role::RegionalDesk,
        Role::DesignatedOfficial,
        Role::SmtMember,
        Role::Administrator,
    ]
    .into_iter()
    .any(|r| has_role_for_country(&who.user.grants, r, country))
}

pub fn is_admin(who: &Authed) -> bool {
    has_role(&who.user.grants, Role::Administrator)
}

/// Who may edit the advisory text of an area: its security adviser or DO.
pub fn can_edit_advisory(who: &Authed, area: &AreaCode, country: &CountryCode) -> bool {
    has_role_for_area(&who.user.grants, Role::SecurityAdviser, area, country)
        || has_role_for_area(&who.user.grants, Role::DesignatedOfficial, area, country)
}
