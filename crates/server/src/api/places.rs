//! Place search for itineraries: what a traveller may type for a leg's origin
//! or destination (an IATA airport, a city, an SLS area code), as a picker
//! shows it while they type.

use crate::api::areas::check_public;
use crate::api::Query;
use crate::auth::ApiUser;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warden_domain::AreaCode;
use warden_geo::PlaceMatch;
use warden_store::{AreaQuery, PageRequest};

#[derive(Debug, Deserialize, IntoParams)]
pub struct PlaceQuery {
    /// What was typed so far: an airport code (`KBL`), the start of a city
    /// or airport name (`Kab`), or an area code or name (`AF-KAB`).
    pub q: String,
    /// At most this many places (1-50, default 10).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlaceDto {
    /// `airport`, `city` or `area`.
    pub kind: String,
    /// The text to put in a leg's `from` or `to`: it resolves back to this
    /// place (`KBL`, `Kabul, AF`, `AF-KAB`).
    pub value: String,
    /// How to show it: `Kabul (KBL), Afghanistan`, `Kabul, AF`, `Kabul (AF-KAB)`.
    pub label: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// IANA time zone the local times of a leg are read in; none for an area
    /// (give times with a UTC offset, or pick an airport or city).
    pub tz: Option<String>,
    /// The SLS area the place lies in, when it lies in one.
    pub area: Option<String>,
}

/// Places matching what was typed: airports and cities (largest first), then
/// SLS areas by code or name. For a picker; `value` is what to submit.
#[utoipa::path(get, path = "/api/v1/places", tag = "trips", params(PlaceQuery),
    responses((status = 200, body = Vec<PlaceDto>), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn search(
    State(state): State<AppState>,
    who: Option<ApiUser>,
    Query(p): Query<PlaceQuery>,
) -> ApiResult<Json<Vec<PlaceDto>>> {
    check_public(&state, &who)?;
    let limit = p.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(ApiError::invalid("limit", "give a limit from 1 to 50"));
    }
    let limit = limit as usize;
    let q = p.q.trim();
    if q.chars().count() > 100 {
        return Err(ApiError::invalid("q", "at most 100 characters"));
    }
    if q.is_empty() {
        return Ok(Json(vec![]));
    }

    // Areas by code or name, from the store (one indexed query). An exact
    // area code comes first; other area matches share the list with places.
    let areas = if q.chars().count() >= 2 {
        state
            .store
            .list_areas(&AreaQuery {
                search: Some(q.to_string()),
                page: PageRequest::new(Some(limit as i64), None),
                ..Default::default()
            })
            .await?
            .items
    } else {
        vec![]
    };
    let exact = AreaCode::parse(q).ok();
    let (first, rest): (Vec<_>, Vec<_>) = areas
        .into_iter()
        .partition(|a| exact.as_ref() == Some(&a.code));
    let area_dto = |a: warden_store::Area| PlaceDto {
        kind: "area".into(),
        value: a.code.to_string(),
        label: format!("{} ({})", a.name, a.code),
        country: a.country.to_string(),
        tz: None,
        area: Some(a.code.to_string()),
    };
    // Places keep most of the list; areas get a quarter of it at least.
    let area_room = rest.len().min((limit / 4).max(1));
    let place_room = limit.saturating_sub(first.len() + area_room);

    let geo = state.geo();
    let mut out: Vec<PlaceDto> = first.into_iter().map(area_dto).collect();
    for m in warden_geo::search_places(q, place_room) {
        let (lon, lat) = m.lon_lat();
        let (kind, value) = match m {
            PlaceMatch::Airport(a) => ("airport", a.iata.clone()),
            PlaceMatch::City(c) => ("city", format!("{}, {}", c.name, c.country)),
        };
        // Offer only what resolves back to this very place: a city sharing
        // its name with a similar one in the same country would be refused
        // as ambiguous (its airport, if any, is offered instead).
        if kind == "city" && warden_geo::resolve_place(&value).ok() != Some(m) {
            continue;
        }
        out.push(PlaceDto {
            kind: kind.into(),
            value,
            label: m.label(),
            country: m.country().to_string(),
            tz: Some(m.tz().to_string()),
            area: geo.index.lookup(lon, lat).map(str::to_string),
        });
    }
    let room = limit.saturating_sub(out.len());
    out.extend(rest.into_iter().take(room).map(area_dto));
    Ok(Json(out))
}
