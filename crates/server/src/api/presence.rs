//! Who is where: the headcount of an area at a moment (issue 5; 2010 report
//! ¶153, 2019 ¶74-86). Counts for the area's security roles; names and
//! whereabouts only of the people the caller may see, after the undertaking,
//! each such view written to the audit log.

use crate::api::{Path, Query};
use crate::auth::ApiUser;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::trips::load_area;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use warden_domain::eta::may_view_some_positions;
use warden_domain::presence::{
    may_see_headcount, may_see_whereabouts, whereabouts, PresenceRules, Whereabouts,
};

#[derive(Debug, Deserialize, IntoParams)]
pub struct HeadcountQuery {
    /// The moment (RFC 3339, e.g. `2026-11-30T12:00:00Z`); default: now.
    pub at: Option<String>,
}

/// Counts of one agency's people.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgencyCount {
    /// None: people of no agency.
    pub agency: Option<Uuid>,
    pub agency_code: Option<String>,
    /// Placed in the area.
    pub present: i64,
    /// Stationed in the area but placed elsewhere, in transit or nowhere.
    pub away: i64,
    /// Of those present or away, flagged overdue, stale or unknown.
    pub flagged: i64,
}

/// Counts of one personnel category (`none` for people without a profile).
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryCount {
    pub category: String,
    pub present: i64,
    pub away: i64,
}

/// Why people are counted present.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ReasonCounts {
    pub duty_station: i64,
    pub travel: i64,
    pub phone: i64,
}

/// People present or away who need checking.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct FlagCounts {
    /// Flagged for any reason (a person counts once).
    pub total: i64,
    pub overdue: i64,
    pub stale_location: i64,
    pub unknown: i64,
}

/// One person, with why we think they are where we say and how fresh that is.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonWhereabouts {
    pub user: Uuid,
    pub name: String,
    pub agency: Option<Uuid>,
    pub agency_code: Option<String>,
    /// Personnel category (`none` without a profile).
    pub category: String,
    /// Placed in the area at the moment.
    pub present: bool,
    pub duty_station: Option<String>,
    /// The area the evidence places them in (null: in transit or unknown).
    pub area: Option<String>,
    pub in_transit_to: Option<String>,
    /// `duty_station`, `travel` or `phone` (null: nothing places them).
    pub reason: Option<String>,
    /// When the deciding evidence was recorded.
    pub as_of: Option<DateTime<Utc>>,
    /// `overdue`, `stale_location`, `unknown`.
    pub flags: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Headcount {
    pub area: String,
    pub area_name: String,
    pub at: DateTime<Utc>,
    /// People placed in the area.
    pub total: i64,
    /// People stationed in the area and placed elsewhere, in transit or nowhere.
    pub away: i64,
    pub by_reason: ReasonCounts,
    pub flagged: FlagCounts,
    pub by_agency: Vec<AgencyCount>,
    pub by_category: Vec<CategoryCount>,
    /// Present and away people the caller may see (only for the area's DO and
    /// security advisers, and agency focal points for their agency's people,
    /// after the undertaking); absent for counts-only callers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people: Option<Vec<PersonWhereabouts>>,
    /// Why `people` is absent, when the caller's roles could show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people_withheld: Option<String>,
    /// Partner systems' figures: the latest reported for each agency with
    /// `as_of` at or before `at` (`POST /api/v1/partners/{partner}/headcounts`).
    pub partners: Vec<crate::api::partners::PartnerFigure>,
}

fn flags(w: &Whereabouts) -> Vec<String> {
    let mut f = vec![];
    if w.overdue {
        f.push("overdue".to_string());
    }
    if w.stale_location {
        f.push("stale_location".to_string());
    }
    if w.unknown {
        f.push("unknown".to_string());
    }
    f
}

/// Headcount of an area at a moment: who is there (stationed, travelled in,
/// placed by their phone), who is stationed there but away, who is flagged
/// (overdue, stale location, unknown), by agency and personnel category.
/// The people themselves only for callers allowed to see them; each such
/// response is written to the audit log (`whereabouts.view`).
#[utoipa::path(get, path = "/api/v1/areas/{code}/headcount", tag = "presence", security(("bearer" = [])),
    params(("code" = String, Path, description = "Area code, e.g. AF-KAB"), HeadcountQuery),
    responses((status = 200, body = Headcount),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn headcount(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Path(code): Path<String>,
    Query(q): Query<HeadcountQuery>,
) -> ApiResult<Json<Headcount>> {
    let at = match q.at.as_deref() {
        None => warden_store::now_micros(),
        Some(s) => DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                ApiError::invalid(
                    "at",
                    format!(
                        "`{s}` is not an RFC 3339 date and time (e.g. 2026-11-30T12:00:00Z): {e}"
                    ),
                )
            })?,
    };
    let area = load_area(&state, &code).await?;
    let grants = &who.user.grants;
    if !may_see_headcount(grants, &area.code, &area.country) {
        return Err(ApiError::forbidden(format!(
            "your roles give no access to the headcount of {}",
            area.code
        )));
    }
    let rules = PresenceRules {
        fresh_hours: state.config.location_fresh_hours,
        overdue_days: state.config.presence_overdue_days,
    };
    let candidates = state.store.presence_candidates(&area.code, at).await?;

    // Whether the caller's roles could show people, and whether the
    // undertaking lets them.
    let could = may_view_some_positions(grants, &area.code, &area.country);
    let withheld = if could {
        crate::eta::undertaking_missing(&state, who.user.id).await?
    } else {
        None
    };
    let shows_people = could && withheld.is_none();

    let mut out = Headcount {
        area: area.code.to_string(),
        area_name: area.name.clone(),
        at,
        total: 0,
        away: 0,
        by_reason: ReasonCounts::default(),
        flagged: FlagCounts::default(),
        by_agency: vec![],
        by_category: vec![],
        people: None,
        people_withheld: withheld,
        partners: crate::api::partners::figures(&state, std::slice::from_ref(&area.code), None, at)
            .await?,
    };
    let mut agencies: BTreeMap<Option<Uuid>, AgencyCount> = BTreeMap::new();
    let mut categories: BTreeMap<String, CategoryCount> = BTreeMap::new();
    let mut people = vec![];
    for c in candidates {
        let w = whereabouts(&c.evidence, at, rules);
        let present = w.is_in(&area.code);
        let stationed = c.evidence.duty_station.as_ref() == Some(&area.code);
        if !present && !stationed {
            // Placed elsewhere by fresher evidence: counted there.
            continue;
        }
        let category = c.category.map_or("none", |k| k.as_str()).to_string();
        let a = agencies.entry(c.agency).or_insert_with(|| AgencyCount {
            agency: c.agency,
            agency_code: c.agency_code.clone(),
            present: 0,
            away: 0,
            flagged: 0,
        });
        let k = categories
            .entry(category.clone())
            .or_insert_with(|| CategoryCount {
                category: category.clone(),
                present: 0,
                away: 0,
            });
        if present {
            out.total += 1;
            a.present += 1;
            k.present += 1;
            match w.reason {
                Some(warden_domain::presence::Reason::DutyStation) => {
                    out.by_reason.duty_station += 1
                }
                Some(warden_domain::presence::Reason::Travel) => out.by_reason.travel += 1,
                Some(warden_domain::presence::Reason::Phone) => out.by_reason.phone += 1,
                None => {}
            }
        } else {
            out.away += 1;
            a.away += 1;
            k.away += 1;
        }
        if w.flagged() {
            a.flagged += 1;
            out.flagged.total += 1;
            out.flagged.overdue += i64::from(w.overdue);
            out.flagged.stale_location += i64::from(w.stale_location);
            out.flagged.unknown += i64::from(w.unknown);
        }
        if shows_people && may_see_whereabouts(grants, &area.code, &area.country, c.agency) {
            people.push(PersonWhereabouts {
                user: c.user,
                name: c.name,
                agency: c.agency,
                agency_code: c.agency_code,
                category,
                present,
                duty_station: c.evidence.duty_station.map(|d| d.to_string()),
                area: w.area.as_ref().map(|a| a.to_string()),
                in_transit_to: w.in_transit_to.as_ref().map(|a| a.to_string()),
                reason: w.reason.map(|r| r.as_str().to_string()),
                as_of: w.as_of,
                flags: flags(&w),
            });
        }
    }
    out.by_agency = agencies.into_values().collect();
    out.by_category = categories.into_values().collect();
    if shows_people {
        // The view is on the record before anything is shown.
        state
            .store
            .append_audit(
                &who.audit(),
                "whereabouts.view",
                &format!("area:{}", area.code),
                json!({
                    "at": at,
                    "people": people.len(),
                    "present": out.total,
                    "away": out.away,
                }),
            )
            .await?;
        out.people = Some(people);
    }
    Ok(Json(out))
}
