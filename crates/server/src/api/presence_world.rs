//! Who is where, beyond one area (issue 5): the headcount of every area at
//! once for the world presence map, the headcount of an ad-hoc crisis zone
//! drawn as a GeoJSON polygon, and an area's people as CSV.
//!
//! Counts only (no names) except the CSV, which shows exactly the people the
//! JSON headcount of the area shows, with the same authority and audit.

use crate::api::presence::{
    headcount, AgencyCount, CategoryCount, FlagCounts, HeadcountQuery, ReasonCounts,
};
use crate::api::{Path, Query};
use crate::auth::ApiUser;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use warden_domain::presence::{
    may_see_headcount, whereabouts, PresenceRules, Reason, HEADCOUNT_ROLES,
};
use warden_domain::{AreaCode, CountryCode, RoleGrant};
use warden_store::PresenceCandidate;

/// More areas than this in a zone: read everyone's evidence in one go
/// rather than area by area.
const ZONE_AREAS_ONE_BY_ONE: usize = 40;

pub(crate) fn parse_at(at: Option<&str>) -> ApiResult<DateTime<Utc>> {
    match at {
        None => Ok(warden_store::now_micros()),
        Some(s) => DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                ApiError::invalid(
                    "at",
                    format!(
                        "`{s}` is not an RFC 3339 date and time (e.g. 2026-11-30T12:00:00Z): {e}"
                    ),
                )
            }),
    }
}

fn rules(state: &AppState) -> PresenceRules {
    PresenceRules {
        fresh_hours: state.config.location_fresh_hours,
        overdue_days: state.config.presence_overdue_days,
    }
}

/// The agencies whose counts the caller sees in an area: None for all (a
/// headcount grant over the area not limited to an agency), else the
/// agencies of the caller's agency-scoped grants over it.
fn agencies_shown(grants: &[RoleGrant], area: &AreaCode) -> Option<BTreeSet<Uuid>> {
    let country = area.country();
    let mut only = BTreeSet::new();
    for g in grants
        .iter()
        .filter(|g| HEADCOUNT_ROLES.contains(&g.role) && g.scope.covers_area(area, &country))
    {
        match g.agency {
            None => return None,
            Some(a) => {
                only.insert(a);
            }
        }
    }
    Some(only)
}

fn shown(only: &Option<BTreeSet<Uuid>>, agency: Option<Uuid>) -> bool {
    match only {
        None => true,
        Some(set) => agency.is_some_and(|a| set.contains(&a)),
    }
}

/// Present, flagged and per agency, of one area.
type AreaTally = (i64, i64, BTreeMap<Option<Uuid>, AgencyPresent>);

#[derive(Debug, Deserialize, IntoParams)]
pub struct WorldQuery {
    /// The moment (RFC 3339, e.g. `2026-11-30T12:00:00Z`); default: now.
    pub at: Option<String>,
    /// Only the areas of this country (ISO 3166-1 alpha-2, e.g. `AF`).
    pub country: Option<String>,
}

/// The people of one agency placed in an area.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgencyPresent {
    /// None: people of no agency.
    pub agency: Option<Uuid>,
    pub agency_code: Option<String>,
    pub present: i64,
    /// Of those present, flagged overdue, stale location or unknown.
    pub flagged: i64,
}

/// Who is in one area at the moment (counts only).
#[derive(Debug, Serialize, ToSchema)]
pub struct AreaPresence {
    pub area: String,
    pub country: String,
    /// People placed in the area.
    pub present: i64,
    /// Of those, flagged (overdue or stale location).
    pub flagged: i64,
    /// Per agency; only the caller's own agencies when every grant that
    /// shows this area is limited to an agency (see `by_agency_restricted`).
    pub by_agency: Vec<AgencyPresent>,
    pub by_agency_restricted: bool,
}

/// Who is in one country at the moment (counts only): the sums over the
/// country's entries in `areas`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountryPresence {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// Areas of the country in `areas` (with someone present).
    pub areas: i64,
    pub present: i64,
    /// Of those, flagged (overdue or stale location).
    pub flagged: i64,
}

/// Every area's headcount at a moment, for the world presence map.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorldHeadcount {
    pub at: DateTime<Utc>,
    pub country: Option<String>,
    /// The areas the caller may see where someone is present (areas with
    /// nobody are left out), by code.
    pub areas: Vec<AreaPresence>,
    /// Sums over `areas`.
    pub present: i64,
    pub flagged: i64,
    /// Per country: sums over its `areas`, by country code.
    pub by_country: Vec<CountryPresence>,
    /// Per agency: sums of the areas' `by_agency` entries (an agency's
    /// people counted only in the areas where the caller sees that
    /// agency's counts; see `by_agency_restricted`), by agency.
    pub by_agency: Vec<AgencyPresent>,
    /// Some area's per-agency counts are limited to the caller's agencies.
    pub by_agency_restricted: bool,
}

/// Headcount of every area at once (the world presence map): how many people
/// each area holds at the moment, by agency, and how many of them are
/// flagged: everywhere by the store's aggregate of the presence rule, in
/// one country from its people's evidence (the same rules, and the same
/// totals, as each area's own headcount). Counts only, and only
/// of the areas the caller's security roles cover; per-agency counts only of
/// the caller's agency where their grants are limited to it.
#[utoipa::path(get, path = "/api/v1/headcount", tag = "presence", security(("bearer" = [])),
    params(WorldQuery),
    responses((status = 200, body = WorldHeadcount),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn world_headcount(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Query(q): Query<WorldQuery>,
) -> ApiResult<Json<WorldHeadcount>> {
    let at = parse_at(q.at.as_deref())?;
    let country = q
        .country
        .as_deref()
        .map(|c| {
            CountryCode::parse(c.trim()).map_err(|e| ApiError::invalid("country", e.to_string()))
        })
        .transpose()?;
    let grants = &who.user.grants;
    let any = grants.iter().any(|g| {
        HEADCOUNT_ROLES.contains(&g.role)
            && country.as_ref().is_none_or(|c| g.scope.covers_country(c))
    });
    if !any {
        return Err(ApiError::forbidden(match &country {
            Some(c) => format!("your roles give no access to headcounts in {c}"),
            None => "your roles give no access to headcounts".to_string(),
        }));
    }
    let rules = rules(&state);
    let mut areas: BTreeMap<AreaCode, AreaTally> = BTreeMap::new();
    let mut tally =
        |area: AreaCode, agency: Option<Uuid>, code: &Option<String>, n: i64, f: i64| {
            let e = areas.entry(area).or_default();
            e.0 += n;
            e.1 += f;
            let a = e.2.entry(agency).or_insert_with(|| AgencyPresent {
                agency,
                agency_code: code.clone(),
                present: 0,
                flagged: 0,
            });
            a.present += n;
            a.flagged += f;
        };
    if let Some(country) = &country {
        // One country: its people's evidence (found by its areas' indexes),
        // decided here.
        for c in state.store.presence_everyone(at, Some(country)).await? {
            let w = whereabouts(&c.evidence, at, rules);
            let Some(area) = w.area.clone() else {
                continue;
            };
            if area.country() != *country {
                continue;
            }
            tally(area, c.agency, &c.agency_code, 1, i64::from(w.flagged()));
        }
    } else {
        // Everywhere: the same rule as one aggregate in the store (the
        // people never leave the database).
        for c in state.store.presence_counts(at, rules).await? {
            tally(c.area, c.agency, &c.agency_code, c.present, c.flagged);
        }
    }
    let mut out = WorldHeadcount {
        at,
        country: country.map(|c| c.to_string()),
        areas: vec![],
        present: 0,
        flagged: 0,
        by_country: vec![],
        by_agency: vec![],
        by_agency_restricted: false,
    };
    let mut countries: BTreeMap<CountryCode, CountryPresence> = BTreeMap::new();
    let mut agencies: BTreeMap<Option<Uuid>, AgencyPresent> = BTreeMap::new();
    for (area, (present, flagged, by_agency)) in areas {
        let area_country = area.country();
        if !may_see_headcount(grants, &area, &area_country) {
            continue;
        }
        let only = agencies_shown(grants, &area);
        out.present += present;
        out.flagged += flagged;
        let c = countries
            .entry(area_country.clone())
            .or_insert_with(|| CountryPresence {
                country: area_country.to_string(),
                areas: 0,
                present: 0,
                flagged: 0,
            });
        c.areas += 1;
        c.present += present;
        c.flagged += flagged;
        let by_agency: Vec<AgencyPresent> = by_agency
            .into_values()
            .filter(|a| shown(&only, a.agency))
            .collect();
        for a in &by_agency {
            let t = agencies.entry(a.agency).or_insert_with(|| AgencyPresent {
                agency: a.agency,
                agency_code: a.agency_code.clone(),
                present: 0,
                flagged: 0,
            });
            t.present += a.present;
            t.flagged += a.flagged;
        }
        out.by_agency_restricted |= only.is_some();
        out.areas.push(AreaPresence {
            area: area.to_string(),
            country: area_country.to_string(),
            present,
            flagged,
            by_agency,
            by_agency_restricted: only.is_some(),
        });
    }
    out.by_country = countries.into_values().collect();
    out.by_agency = agencies.into_values().collect();
    Ok(Json(out))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ZoneQuery {
    /// The moment (RFC 3339, e.g. `2026-11-30T12:00:00Z`); default: now.
    pub at: Option<String>,
}

/// One area of the zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneArea {
    pub area: String,
    pub name: String,
    /// People placed in the area.
    pub present: i64,
}

/// Headcount of an ad-hoc zone: the areas it intersects, taken whole.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneHeadcount {
    pub at: DateTime<Utc>,
    /// The areas intersecting the polygon that are counted (those the
    /// caller's roles cover), by code.
    pub areas: Vec<ZoneArea>,
    /// Areas intersecting the polygon that the caller's roles do not cover,
    /// left out of every count.
    pub areas_withheld: Vec<String>,
    /// People placed in one of `areas`.
    pub total: i64,
    /// People stationed in one of `areas` and placed outside all of them, in
    /// transit or nowhere.
    pub away: i64,
    pub by_reason: ReasonCounts,
    pub flagged: FlagCounts,
    /// Per agency; only the caller's own agencies when a grant limited to an
    /// agency is what shows some area (see `by_agency_restricted`).
    pub by_agency: Vec<AgencyCount>,
    pub by_agency_restricted: bool,
    pub by_category: Vec<CategoryCount>,
}

/// Reads the body: a GeoJSON (RFC 7946, lon/lat) Polygon or MultiPolygon,
/// validated like imported areas; problems name the member.
fn zone_geometry(body: &str) -> ApiResult<geo::MultiPolygon<f64>> {
    let v: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| ApiError::invalid("body", format!("not JSON: {e}")))?;
    match v.get("type").and_then(|t| t.as_str()) {
        Some("Polygon" | "MultiPolygon") => {}
        Some(other) => {
            return Err(ApiError::invalid(
                "type",
                format!("expected a GeoJSON Polygon or MultiPolygon, found {other}"),
            ))
        }
        None => {
            return Err(ApiError::invalid(
                "type",
                "expected a GeoJSON Polygon or MultiPolygon geometry with a `type` member",
            ))
        }
    }
    let mut feats = warden_geo::parse_geojson(body).map_err(|e| {
        let field = if e.path.is_empty() {
            "coordinates".to_string()
        } else {
            e.path.clone()
        };
        ApiError::invalid(field, e.to_string())
    })?;
    match feats.pop() {
        Some(f) if feats.is_empty() => Ok(f.geometry),
        _ => Err(ApiError::invalid("type", "expected one geometry")),
    }
}

/// The codes of the areas (of the geometry cache) whose shape intersects the
/// zone: candidates by bounding box from the R-tree, then the exact test.
pub(crate) fn areas_intersecting(state: &AppState, zone: &geo::MultiPolygon<f64>) -> Vec<String> {
    use geo::{BoundingRect, Intersects};
    let Some(bb) = zone.bounding_rect() else {
        return vec![];
    };
    let geo = state.geo();
    let mut codes: Vec<String> = geo
        .index
        .intersecting_bbox(bb.min().x, bb.min().y, bb.max().x, bb.max().y)
        .into_iter()
        .filter(|code| {
            geo.index
                .get(code)
                .is_some_and(|s| s.geometry.intersects(zone))
        })
        .map(str::to_string)
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

/// Headcount of an ad-hoc crisis zone: the people whom their duty station,
/// travel or phone place in an area intersecting the GeoJSON Polygon or
/// MultiPolygon of the body (RFC 7946, lon/lat), counted as for one area
/// (present, away, by reason, agency and category, flags), with the areas
/// included. Counts only, over the areas the caller's security roles cover.
#[utoipa::path(post, path = "/api/v1/headcount/polygon", tag = "presence", security(("bearer" = [])),
    params(ZoneQuery),
    request_body(content = Object, content_type = "application/geo+json",
        description = "A GeoJSON Polygon or MultiPolygon geometry (lon/lat)"),
    responses((status = 200, body = ZoneHeadcount),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn zone_headcount(
    State(state): State<AppState>,
    ApiUser(who): ApiUser,
    Query(q): Query<ZoneQuery>,
    body: String,
) -> ApiResult<Json<ZoneHeadcount>> {
    let at = parse_at(q.at.as_deref())?;
    let zone = zone_geometry(&body)?;
    let grants = &who.user.grants;
    if !grants.iter().any(|g| HEADCOUNT_ROLES.contains(&g.role)) {
        return Err(ApiError::forbidden(
            "your roles give no access to headcounts",
        ));
    }
    let mut included: Vec<AreaCode> = vec![];
    let mut withheld = vec![];
    for code in areas_intersecting(&state, &zone) {
        // Shapes of the cache that are no area code (none today) are skipped.
        let Ok(area) = AreaCode::parse(&code) else {
            continue;
        };
        if may_see_headcount(grants, &area, &area.country()) {
            included.push(area);
        } else {
            withheld.push(code);
        }
    }
    if included.is_empty() && !withheld.is_empty() {
        return Err(ApiError::forbidden(format!(
            "your roles give no access to the headcount of {}",
            withheld.join(", ")
        )));
    }
    // Per-agency counts: all agencies only where every included area shows
    // all; otherwise the agencies every included area shows.
    let mut only: Option<BTreeSet<Uuid>> = None;
    for a in &included {
        if let Some(set) = agencies_shown(grants, a) {
            only = Some(match only {
                None => set,
                Some(prev) => prev.intersection(&set).copied().collect(),
            });
        }
    }
    let in_zone: HashSet<&AreaCode> = included.iter().collect();
    let candidates: Vec<PresenceCandidate> = if included.len() > ZONE_AREAS_ONE_BY_ONE {
        state.store.presence_everyone(at, None).await?
    } else {
        let mut seen = HashSet::new();
        let mut all = vec![];
        for a in &included {
            for c in state.store.presence_candidates(a, at).await? {
                if seen.insert(c.user) {
                    all.push(c);
                }
            }
        }
        all
    };
    let rules = rules(&state);
    let mut out = ZoneHeadcount {
        at,
        areas: vec![],
        areas_withheld: withheld,
        total: 0,
        away: 0,
        by_reason: ReasonCounts::default(),
        flagged: FlagCounts::default(),
        by_agency: vec![],
        by_agency_restricted: only.is_some(),
        by_category: vec![],
    };
    let mut per_area: BTreeMap<&AreaCode, i64> = included.iter().map(|a| (a, 0)).collect();
    let mut agencies: BTreeMap<Option<Uuid>, AgencyCount> = BTreeMap::new();
    let mut categories: BTreeMap<String, CategoryCount> = BTreeMap::new();
    for c in candidates {
        let w = whereabouts(&c.evidence, at, rules);
        let present = w.area.as_ref().is_some_and(|a| in_zone.contains(a));
        let stationed = c
            .evidence
            .duty_station
            .as_ref()
            .is_some_and(|d| in_zone.contains(d));
        if !present && !stationed {
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
                category,
                present: 0,
                away: 0,
            });
        if present {
            if let Some(n) = w.area.as_ref().and_then(|a| per_area.get_mut(a)) {
                *n += 1;
            }
            out.total += 1;
            a.present += 1;
            k.present += 1;
            match w.reason {
                Some(Reason::DutyStation) => out.by_reason.duty_station += 1,
                Some(Reason::Travel) => out.by_reason.travel += 1,
                Some(Reason::Phone) => out.by_reason.phone += 1,
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
    }
    for (area, present) in per_area {
        let name = match state.store.get_area(area).await? {
            Some(a) => a.name,
            None => area.to_string(),
        };
        out.areas.push(ZoneArea {
            area: area.to_string(),
            name,
            present,
        });
    }
    out.by_agency = agencies
        .into_values()
        .filter(|a| shown(&only, a.agency))
        .collect();
    out.by_category = categories.into_values().collect();
    Ok(Json(out))
}

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or
/// LF, quotes doubled. A text that a spreadsheet would take for a formula
/// (`=`, `+`, `-`, `@`, tab or CR first) is prefixed with `'`.
pub(crate) fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The people of an area's headcount as CSV (RFC 4180, CRLF; columns name,
/// agency, category, present, area, reason, as_of, flags): exactly the
/// people the JSON headcount shows the caller, with the same authority and
/// the same `whereabouts.view` audit entry. Callers who would see counts
/// only are refused.
#[utoipa::path(get, path = "/api/v1/areas/{code}/headcount.csv", tag = "presence", security(("bearer" = [])),
    params(("code" = String, Path, description = "Area code, e.g. AF-KAB"), HeadcountQuery),
    responses((status = 200, body = String, content_type = "text/csv"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn headcount_csv(
    state: State<AppState>,
    user: ApiUser,
    code: Path<String>,
    q: Query<HeadcountQuery>,
) -> ApiResult<Response> {
    let area = code.0.clone();
    let Json(h) = headcount(state, user, code, q).await?;
    let Some(people) = h.people else {
        return Err(ApiError::forbidden(h.people_withheld.unwrap_or_else(
            || format!("your roles show the counts of {area} but not its people"),
        )));
    };
    let mut out = String::from("name,agency,category,present,area,reason,as_of,flags\r\n");
    for p in people {
        let place = match (&p.area, &p.in_transit_to) {
            (Some(a), _) => a.clone(),
            (None, Some(t)) => format!("in transit to {t}"),
            (None, None) => String::new(),
        };
        let fields = [
            p.name,
            p.agency_code.unwrap_or_default(),
            p.category,
            p.present.to_string(),
            place,
            p.reason.unwrap_or_default(),
            p.as_of
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            p.flags.join(" "),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    let file = format!(
        "attachment; filename=\"headcount-{}-{}.csv\"",
        h.area,
        h.at.format("%Y%m%dT%H%M%SZ")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, file),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_as_rfc_4180_says() {
        assert_eq!(csv_field("Amina"), "Amina");
        assert_eq!(csv_field("Doe, Jane"), "\"Doe, Jane\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field(""), "");
    }
}
