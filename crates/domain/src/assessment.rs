//! Security threat assessments and their workflow (2010 report ¶58, ¶63):
//! a security adviser submits a proposed level, the regional desk validates it
//! (or sends it back), and the Designated Official approves it after consulting
//! the Security Management Team (or rejects it). Only an approved assessment
//! changes the level of an area.

use crate::role::{has_role_for_area, has_role_for_country};
use crate::{AreaCode, CountryCode, DomainError, Role, RoleGrant, SecurityLevel};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The threat categories of the Security Level System.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreatCategory {
    ArmedConflict,
    Terrorism,
    Crime,
    CivilUnrest,
    Hazards,
}

impl ThreatCategory {
    pub const ALL: [ThreatCategory; 5] = [
        ThreatCategory::ArmedConflict,
        ThreatCategory::Terrorism,
        ThreatCategory::Crime,
        ThreatCategory::CivilUnrest,
        ThreatCategory::Hazards,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ThreatCategory::ArmedConflict => "armed_conflict",
            ThreatCategory::Terrorism => "terrorism",
            ThreatCategory::Crime => "crime",
            ThreatCategory::CivilUnrest => "civil_unrest",
            ThreatCategory::Hazards => "hazards",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A rating (1-6, on the scale of the levels) for every threat category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryRatings(BTreeMap<ThreatCategory, SecurityLevel>);

impl CategoryRatings {
    /// Every category must be rated exactly once, each 1-6.
    pub fn new(input: &BTreeMap<String, i64>) -> Result<Self, DomainError> {
        let mut out = BTreeMap::new();
        for (k, v) in input {
            let cat = ThreatCategory::parse(k).ok_or_else(|| {
                DomainError::invalid(
                    format!("ratings.{k}"),
                    format!(
                        "unknown threat category; expected {}",
                        ThreatCategory::ALL.map(|c| c.as_str()).join(", ")
                    ),
                )
            })?;
            let lvl = SecurityLevel::new(*v).map_err(|_| {
                DomainError::invalid(
                    format!("ratings.{k}"),
                    format!("rating must be 1-6, got {v}"),
                )
            })?;
            out.insert(cat, lvl);
        }
        for c in ThreatCategory::ALL {
            if !out.contains_key(&c) {
                return Err(DomainError::invalid(
                    format!("ratings.{}", c.as_str()),
                    "every threat category must be rated (1-6)",
                ));
            }
        }
        Ok(CategoryRatings(out))
    }
    pub fn get(&self, c: ThreatCategory) -> SecurityLevel {
        self.0[&c]
    }
    /// The highest category rating: a reference point shown to reviewers,
    /// never imposed (the adviser's judgement sets the proposed level).
    pub fn highest(&self) -> SecurityLevel {
        *self.0.values().max().expect("all categories rated")
    }
    pub fn to_map(&self) -> BTreeMap<String, i64> {
        self.0
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.get() as i64))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentStatus {
    /// Submitted by a security adviser, awaiting the regional desk.
    Submitted,
    /// Sent back by the regional desk for revision.
    Returned,
    /// Validated by the regional desk, awaiting the Designated Official.
    Validated,
    /// Approved by the Designated Official: the area's level changed.
    Approved,
    /// Rejected by the Designated Official.
    Rejected,
    /// Withdrawn by its author before a decision.
    Withdrawn,
    /// Superseded by a later assessment of the same area.
    Superseded,
}

impl AssessmentStatus {
    pub const ALL: [AssessmentStatus; 7] = [
        AssessmentStatus::Submitted,
        AssessmentStatus::Returned,
        AssessmentStatus::Validated,
        AssessmentStatus::Approved,
        AssessmentStatus::Rejected,
        AssessmentStatus::Withdrawn,
        AssessmentStatus::Superseded,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            AssessmentStatus::Submitted => "submitted",
            AssessmentStatus::Returned => "returned",
            AssessmentStatus::Validated => "validated",
            AssessmentStatus::Approved => "approved",
            AssessmentStatus::Rejected => "rejected",
            AssessmentStatus::Withdrawn => "withdrawn",
            AssessmentStatus::Superseded => "superseded",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
    /// Still waiting for somebody's decision.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            AssessmentStatus::Submitted | AssessmentStatus::Validated | AssessmentStatus::Returned
        )
    }
}

/// What somebody does to an assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentAction {
    /// The author resubmits a returned assessment.
    Resubmit,
    Validate,
    SendBack,
    Approve,
    Reject,
    Withdraw,
}

impl AssessmentAction {
    pub const ALL: [AssessmentAction; 6] = [
        AssessmentAction::Resubmit,
        AssessmentAction::Validate,
        AssessmentAction::SendBack,
        AssessmentAction::Approve,
        AssessmentAction::Reject,
        AssessmentAction::Withdraw,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            AssessmentAction::Resubmit => "resubmit",
            AssessmentAction::Validate => "validate",
            AssessmentAction::SendBack => "send_back",
            AssessmentAction::Approve => "approve",
            AssessmentAction::Reject => "reject",
            AssessmentAction::Withdraw => "withdraw",
        }
    }
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "action",
                    format!(
                        "unknown action `{s}`; expected one of {}",
                        Self::ALL.map(|a| a.as_str()).join(", ")
                    ),
                )
            })
    }
    /// The role that may take this action.
    pub fn role(self) -> Role {
        match self {
            AssessmentAction::Resubmit | AssessmentAction::Withdraw => Role::SecurityAdviser,
            AssessmentAction::Validate | AssessmentAction::SendBack => Role::RegionalDesk,
            AssessmentAction::Approve | AssessmentAction::Reject => Role::DesignatedOfficial,
        }
    }
    /// A reason must be given: a refusal or return must say why.
    pub fn needs_reason(self) -> bool {
        matches!(
            self,
            AssessmentAction::SendBack | AssessmentAction::Reject | AssessmentAction::Withdraw
        )
    }
}

/// What the rules need to know about the actor and the assessment.
pub struct TransitionContext<'a> {
    pub grants: &'a [RoleGrant],
    pub actor_is_author: bool,
    pub area: &'a AreaCode,
    pub country: &'a CountryCode,
    pub status: AssessmentStatus,
    pub reason: &'a str,
    /// For approvals: how many SMT members the DO says were consulted.
    pub smt_consulted: usize,
}

/// The workflow's single rule book: given the current state, the actor and
/// the action, the next state, or why not.
pub fn transition(
    action: AssessmentAction,
    ctx: &TransitionContext<'_>,
) -> Result<AssessmentStatus, DomainError> {
    use AssessmentAction as A;
    use AssessmentStatus as S;
    let role = action.role();
    let allowed = match role {
        Role::RegionalDesk => has_role_for_country(ctx.grants, role, ctx.country),
        _ => has_role_for_area(ctx.grants, role, ctx.area, ctx.country),
    };
    if !allowed {
        return Err(DomainError::Forbidden(format!(
            "only a {} responsible for {} may {} this assessment",
            role.as_str().replace('_', " "),
            ctx.area,
            action.as_str().replace('_', " ")
        )));
    }
    if matches!(action, A::Resubmit | A::Withdraw) && !ctx.actor_is_author {
        return Err(DomainError::Forbidden(
            "only the author of an assessment may resubmit or withdraw it".into(),
        ));
    }
    if action.needs_reason() && ctx.reason.trim().is_empty() {
        return Err(DomainError::invalid(
            "reason",
            "a reason is required for this decision",
        ));
    }
    if action == A::Approve && ctx.smt_consulted == 0 {
        return Err(DomainError::invalid(
            "smt_consulted",
            "the Designated Official approves after consulting the Security Management Team: name at least one SMT member consulted",
        ));
    }
    let next = match (ctx.status, action) {
        (S::Returned, A::Resubmit) => S::Submitted,
        (S::Submitted, A::Validate) => S::Validated,
        (S::Submitted, A::SendBack) => S::Returned,
        (S::Validated, A::SendBack) => S::Returned,
        (S::Validated, A::Approve) => S::Approved,
        (S::Validated, A::Reject) => S::Rejected,
        (S::Submitted | S::Returned | S::Validated, A::Withdraw) => S::Withdrawn,
        (s, a) => {
            return Err(DomainError::Conflict(format!(
                "an assessment that is {} cannot be {}",
                s.as_str(),
                match a {
                    A::Resubmit => "resubmitted",
                    A::Validate => "validated",
                    A::SendBack => "sent back",
                    A::Approve => "approved",
                    A::Reject => "rejected",
                    A::Withdraw => "withdrawn",
                }
            )))
        }
    };
    Ok(next)
}

/// Limits on free text, so that one request cannot store megabytes.
pub const NARRATIVE_MAX: usize = 20_000;
pub const REASON_MAX: usize = 4_000;

pub fn check_text(field: &str, text: &str, required: bool, max: usize) -> Result<(), DomainError> {
    if required && text.trim().is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("is longer than {max} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scope;

    fn grants(role: Role, scope: &str) -> Vec<RoleGrant> {
        vec![RoleGrant {
            role,
            scope: Scope::parse(scope).unwrap(),
            agency: None,
        }]
    }

    fn ctx<'a>(
        g: &'a [RoleGrant],
        status: AssessmentStatus,
        area: &'a AreaCode,
        cc: &'a CountryCode,
    ) -> TransitionContext<'a> {
        TransitionContext {
            grants: g,
            actor_is_author: false,
            area,
            country: cc,
            status,
            reason: "",
            smt_consulted: 0,
        }
    }

    #[test]
    fn full_path() {
        let area = AreaCode::parse("AF-KAB").unwrap();
        let cc = area.country();
        let desk = grants(Role::RegionalDesk, "AF");
        assert_eq!(
            transition(
                AssessmentAction::Validate,
                &ctx(&desk, AssessmentStatus::Submitted, &area, &cc)
            )
            .unwrap(),
            AssessmentStatus::Validated
        );
        let g = grants(Role::DesignatedOfficial, "AF");
        let mut c = ctx(&g, AssessmentStatus::Validated, &area, &cc);
        assert!(
            matches!(transition(AssessmentAction::Approve, &c), Err(DomainError::Invalid { field, .. }) if field == "smt_consulted")
        );
        c.smt_consulted = 2;
        assert_eq!(
            transition(AssessmentAction::Approve, &c).unwrap(),
            AssessmentStatus::Approved
        );
        // An approved assessment is final.
        c.status = AssessmentStatus::Approved;
        assert!(matches!(
            transition(AssessmentAction::Approve, &c),
            Err(DomainError::Conflict(_))
        ));
    }

    #[test]
    fn wrong_role_or_area() {
        let area = AreaCode::parse("AF-KAB").unwrap();
        let cc = area.country();
        // A DO of another country cannot approve.
        let g = grants(Role::DesignatedOfficial, "ML");
        let mut c = ctx(&g, AssessmentStatus::Validated, &area, &cc);
        c.smt_consulted = 1;
        assert!(matches!(
            transition(AssessmentAction::Approve, &c),
            Err(DomainError::Forbidden(_))
        ));
        // A security adviser cannot approve.
        let g = grants(Role::SecurityAdviser, "AF");
        let mut c = ctx(&g, AssessmentStatus::Validated, &area, &cc);
        c.smt_consulted = 1;
        assert!(matches!(
            transition(AssessmentAction::Approve, &c),
            Err(DomainError::Forbidden(_))
        ));
        // A DO cannot skip the regional desk.
        let g = grants(Role::DesignatedOfficial, "AF");
        let mut c = ctx(&g, AssessmentStatus::Submitted, &area, &cc);
        c.smt_consulted = 1;
        assert!(matches!(
            transition(AssessmentAction::Approve, &c),
            Err(DomainError::Conflict(_))
        ));
    }

    #[test]
    fn reasons_and_authorship() {
        let area = AreaCode::parse("ML-7").unwrap();
        let cc = area.country();
        let g = grants(Role::RegionalDesk, "global");
        let mut c = ctx(&g, AssessmentStatus::Submitted, &area, &cc);
        assert!(transition(AssessmentAction::SendBack, &c).is_err());
        c.reason = "Add the attack of 3 May";
        assert_eq!(
            transition(AssessmentAction::SendBack, &c).unwrap(),
            AssessmentStatus::Returned
        );
        let g = grants(Role::SecurityAdviser, "ML-7");
        let mut c = ctx(&g, AssessmentStatus::Returned, &area, &cc);
        assert!(matches!(
            transition(AssessmentAction::Resubmit, &c),
            Err(DomainError::Forbidden(_))
        ));
        c.actor_is_author = true;
        assert_eq!(
            transition(AssessmentAction::Resubmit, &c).unwrap(),
            AssessmentStatus::Submitted
        );
    }

    #[test]
    fn ratings() {
        let mut m: BTreeMap<String, i64> = ThreatCategory::ALL
            .iter()
            .map(|c| (c.as_str().to_string(), 2))
            .collect();
        m.insert("crime".into(), 5);
        let r = CategoryRatings::new(&m).unwrap();
        assert_eq!(r.highest().get(), 5);
        m.insert("crime".into(), 9);
        assert!(
            matches!(CategoryRatings::new(&m), Err(DomainError::Invalid { field, .. }) if field == "ratings.crime")
        );
        m.remove("crime");
        assert!(
            matches!(CategoryRatings::new(&m), Err(DomainError::Invalid { field, .. }) if field == "ratings.crime")
        );
        m.insert("weather".into(), 1);
        assert!(CategoryRatings::new(&m).is_err());
    }
}
