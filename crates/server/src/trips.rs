//! TRIP rules that need the store: resolving an itinerary's places, who may
//! see and decide a trip, setting an area's processing mode. Shared by the JSON
//! API and the web pages so both enforce the same rules.

use crate::api::areas::parse_code;
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::service;
use crate::state::AppState;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;
use warden_domain::people::AirlineCode;
use warden_domain::role::{has_role_for_area, has_role_for_country};
use warden_domain::trip::{
    check_decision, check_itinerary, ClearanceDecision, DenialGround, LegTimes, ProcessingMode,
    TripPurpose,
};
use warden_domain::{AreaCode, CountryCode, Role, Scope};
use warden_store::{
    AirlineList, LegDecision, NewLeg, NewTravelRequest, ProcessingModeChange, TravelRequest,
};

type Timed<T> = (std::time::Instant, T);
/// The airline list in force, for the UTC day it was read.
type AirlinesOfDay = Timed<(chrono::NaiveDate, Option<Arc<AirlineList>>)>;

/// What every TRIP answer shows and rarely changes: the approved-airline list
/// in force and the security advisers per country. Kept for at most
/// [`TripCache::TTL`]; publishing a list, creating a user or importing
/// profiles in this process forgets them at once.
#[derive(Default)]
pub struct TripCache {
    /// The list in force, for the UTC day it was read (a new month may bring another).
    airlines: std::sync::Mutex<Option<AirlinesOfDay>>,
    reviewers: std::sync::Mutex<HashMap<CountryCode, Timed<Arc<Vec<warden_store::User>>>>>,
}

impl TripCache {
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(60);

    /// The approved-airline list in force today.
    pub async fn airlines(&self, state: &AppState) -> ApiResult<Option<Arc<AirlineList>>> {
        let today = Utc::now().date_naive();
        if let Some((at, (day, list))) = &*self.airlines.lock().unwrap_or_else(|p| p.into_inner()) {
            if *day == today && at.elapsed() < Self::TTL {
                return Ok(list.clone());
            }
        }
        let list = state.store.airline_list(None).await?.map(Arc::new);
        *self.airlines.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((std::time::Instant::now(), (today, list.clone())));
        Ok(list)
    }

    /// The users holding the security adviser role in a country.
    async fn advisers(
        &self,
        state: &AppState,
        country: &CountryCode,
    ) -> ApiResult<Arc<Vec<warden_store::User>>> {
        if let Some((at, users)) = self
            .reviewers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(country)
        {
            if at.elapsed() < Self::TTL {
                return Ok(users.clone());
            }
        }
        let users = Arc::new(
            state
                .store
                .users_with_role(Role::SecurityAdviser, country)
                .await?,
        );
        self.reviewers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(country.clone(), (std::time::Instant::now(), users.clone()));
        Ok(users)
    }

    /// An airline list was published.
    pub fn forget_airlines(&self) {
        *self.airlines.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Users, their roles or names changed.
    pub fn forget_reviewers(&self) {
        self.reviewers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// Security advisers per country, fetched once per response.
#[derive(Default)]
pub struct Reviewers(HashMap<CountryCode, Arc<Vec<warden_store::User>>>);

impl Reviewers {
    pub async fn for_area(
        &mut self,
        state: &AppState,
        area: &AreaCode,
        country: &CountryCode,
    ) -> ApiResult<Vec<String>> {
        if !self.0.contains_key(country) {
            let users = state.trip_cache.advisers(state, country).await?;
            self.0.insert(country.clone(), users);
        }
        Ok(self.0[country]
            .iter()
            .filter(|u| !u.disabled)
            .filter(|u| has_role_for_area(&u.grants, Role::SecurityAdviser, area, country))
            .map(|u| u.display_name.clone())
            .collect())
    }
}

/// A place of an itinerary, resolved.
#[derive(Clone)]
struct Place {
    label: String,
    /// The SLS area it lies in, if any.
    area: Option<AreaCode>,
    /// Its IANA zone (none for an area code).
    tz: Option<chrono_tz::Tz>,
}

async fn resolve(state: &AppState, text: &str, field: &str) -> ApiResult<Place> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ApiError::invalid(
            field,
            "give an area code (AF-KAB), an airport code (KBL) or a city (\"Juba, SS\")",
        ));
    }
    let as_code = AreaCode::parse(t).ok();
    if let Some(code) = &as_code {
        if let Some(a) = state.store.get_area(code).await? {
            return Ok(Place {
                label: format!("{} ({})", a.name, a.code),
                area: Some(a.code),
                tz: None,
            });
        }
    }
    let m = match warden_geo::resolve_place(t) {
        Ok(m) => m,
        Err(warden_geo::PlaceError::Ambiguous { candidates, .. }) => {
            return Err(ApiError::invalid(
                field,
                format!(
                    "{t:?} is ambiguous; did you mean one of: {}? Add a country code (\"{t}, CC\") or use an airport code",
                    candidates.join("; ")
                ),
            ))
        }
        Err(_) if as_code.is_some() => {
            return Err(ApiError::invalid(
                field,
                format!("there is no area {t} (nor an airport or city of that name)"),
            ))
        }
        Err(e) => return Err(ApiError::invalid(field, e.to_string())),
    };
    let (lon, lat) = m.lon_lat();
    let area = state
        .geo()
        .index
        .lookup(lon, lat)
        .and_then(|c| AreaCode::parse(c).ok());
    let tz = m.tz().parse::<chrono_tz::Tz>().ok();
    Ok(Place {
        label: m.label(),
        area,
        tz,
    })
}

/// RFC 3339 with an offset, or a local time in the place's zone.
fn parse_time(
    text: &str,
    place: &Place,
    place_text: &str,
    field: impl Fn() -> String,
) -> ApiResult<DateTime<Utc>> {
    let t = text.trim();
    // A local time has no offset and RFC 3339 requires one: no text reads
    // as both, so the order of the two does not matter.
    let Some(local) = plain_local_time(t).or_else(|| chrono_local_time(t)) else {
        return DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| {
                ApiError::invalid(
                    field(),
                    format!("`{t}` is not a time: give RFC 3339 (2026-12-01T08:30:00+04:30) or local YYYY-MM-DDTHH:MM"),
                )
            });
    };
    let Some(tz) = place.tz else {
        return Err(ApiError::invalid(
            field(),
            format!(
                "`{t}` has no UTC offset and {} is an area, whose local time zone is not known: add the offset (e.g. {t}+04:30), or give an airport or city",
                place_text.trim()
            ),
        ));
    };
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(d) => Ok(d.with_timezone(&Utc)),
        // A clock set back: the earlier of the two instants.
        chrono::LocalResult::Ambiguous(a, _) => Ok(a.with_timezone(&Utc)),
        chrono::LocalResult::None => Err(ApiError::invalid(
            field(),
            format!("`{t}` does not exist in {tz} (the clocks skip it): give an offset"),
        )),
    }
}

/// A local time in the form an ERP export writes it, `YYYY-MM-DDTHH:MM`
/// (or `YYYY-MM-DDTHH:MM:SS`, or `YYYY-MM-DD HH:MM`), read digit by digit:
/// an import reads millions, and chrono's format parser re-reads its format
/// for each. Anything else (other widths, a leap second, an offset) is
/// `None` and goes to chrono, which reads these forms to the same value.
fn plain_local_time(t: &str) -> Option<NaiveDateTime> {
    let b = t.as_bytes();
    let seconds = match (b.len(), b.get(10)) {
        (16, Some(b'T' | b' ')) => false,
        (19, Some(b'T')) => true,
        _ => return None,
    };
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || (seconds && b[16] != b':') {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?;
    let sec = if seconds { num(17, 19)? } else { 0 };
    date.and_hms_opt(num(11, 13)?, num(14, 16)?, sec)
}

/// The local-time forms through chrono's format parser, in order.
fn chrono_local_time(t: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
}

/// One leg as a person or an ERP gives it.
#[derive(Debug, Clone, Default)]
pub struct LegInput {
    /// An area code (AF-KAB), an IATA airport code (KBL) or a city ("Juba, SS").
    pub from: String,
    pub to: String,
    /// RFC 3339 with an offset, or local `YYYY-MM-DDTHH:MM` in the place's zone.
    pub depart: String,
    pub arrive: String,
    /// The flight (`ET 308`) or airline (`ET`), if the leg is flown.
    pub flight: Option<String>,
}

/// Resolve and check an itinerary; the field names of errors are
/// `legs[i].from`, `legs[i].to`, `legs[i].depart`, `legs[i].arrive`.
pub async fn build_legs(state: &AppState, input: &[LegInput]) -> ApiResult<Vec<NewLeg>> {
    build_legs_with(state, &mut Resolver::default(), input).await
}

/// Remembers resolved places, for imports where the same few places recur
/// across a million rows.
#[derive(Default)]
pub struct Resolver(HashMap<String, Place>);

impl Resolver {
    /// The place `text` names; `field` names it in an error (built only then).
    async fn get(
        &mut self,
        state: &AppState,
        text: &str,
        field: impl FnOnce() -> String,
    ) -> ApiResult<Place> {
        if let Some(p) = self.0.get(text) {
            return Ok(p.clone());
        }
        let p = resolve(state, text, &field()).await?;
        if self.0.len() < 100_000 {
            self.0.insert(text.to_string(), p.clone());
        }
        Ok(p)
    }
}

/// [`build_legs`] with a shared place cache.
pub async fn build_legs_with(
    state: &AppState,
    places: &mut Resolver,
    input: &[LegInput],
) -> ApiResult<Vec<NewLeg>> {
    if input.is_empty() {
        return Err(ApiError::invalid("legs", "a trip needs at least one leg"));
    }
    if input.len() > 50 {
        return Err(ApiError::invalid("legs", "a trip has at most 50 legs"));
    }
    let mut legs = Vec::with_capacity(input.len());
    let mut times = Vec::with_capacity(input.len());
    for (i, l) in input.iter().enumerate() {
        // Field names are built only for an error: an import checks millions of legs.
        let field = |name: &str| format!("legs[{i}].{name}");
        let from = places.get(state, &l.from, || field("from")).await?;
        let to = places.get(state, &l.to, || field("to")).await?;
        let Some(area) = to.area.clone() else {
            return Err(ApiError::invalid(
                format!("legs[{i}].to"),
                format!("{} lies outside every SLS area this Warden knows", to.label),
            ));
        };
        let depart = parse_time(&l.depart, &from, &l.from, || field("depart"))?;
        let arrive = parse_time(&l.arrive, &to, &l.to, || field("arrive"))?;
        let carrier = match l.flight.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
            None => None,
            Some(f) if f.len() <= 3 => Some(
                AirlineCode::parse(f)
                    .map_err(|e| ApiError::invalid(format!("legs[{i}].flight"), e.message()))?,
            ),
            Some(f) => Some(
                AirlineCode::of_flight(f)
                    .map_err(|e| ApiError::invalid(format!("legs[{i}].flight"), e.message()))?,
            ),
        };
        times.push(LegTimes {
            area: area.clone(),
            depart,
            arrive,
        });
        legs.push(NewLeg {
            origin: from.label,
            destination: to.label,
            area,
            depart,
            arrive,
            depart_tz: from.tz.map(|z| z.name().to_string()),
            arrive_tz: to.tz.map(|z| z.name().to_string()),
            carrier,
        });
    }
    check_itinerary(&times)?;
    Ok(legs)
}

/// A trip submitted by `who` for themself.
pub async fn build_request(
    state: &AppState,
    who: &Authed,
    purpose: &str,
    ta_number: Option<&str>,
    legs: &[LegInput],
) -> ApiResult<NewTravelRequest> {
    let purpose = TripPurpose::parse(purpose)?;
    let ta_number = ta_number
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if ta_number.as_ref().is_some_and(|s| s.chars().count() > 64) {
        return Err(ApiError::invalid("ta_number", "at most 64 characters"));
    }
    let legs = build_legs(state, legs).await?;
    Ok(NewTravelRequest {
        traveller: who.user.id,
        submitted_by: who.user.id,
        purpose,
        ta_number,
        legs,
    })
}

/// Check and record a decision on leg `n` of trip `id`.
pub async fn decide(
    state: &AppState,
    who: &Authed,
    id: Uuid,
    n: i32,
    decision: &str,
    comment: &str,
    grounds: &[String],
) -> ApiResult<TravelRequest> {
    let t = state
        .store
        .get_travel_request(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("travel request {id}")))?;
    let leg = t
        .legs
        .iter()
        .find(|l| l.seq == n)
        .ok_or_else(|| ApiError::not_found(format!("leg {n} of travel request {id}")))?;
    if !reviews_area(who, &leg.area, &leg.country) {
        return Err(ApiError::forbidden(format!(
            "only a security adviser or the Designated Official covering {} decides this leg",
            leg.area
        )));
    }
    if t.traveller == who.user.id {
        return Err(ApiError::forbidden(
            "you cannot decide a clearance for your own travel",
        ));
    }
    let decision = ClearanceDecision::parse(decision)?;
    let mut parsed = Vec::with_capacity(grounds.len());
    for (i, g) in grounds.iter().enumerate() {
        parsed.push(DenialGround::parse(g).ok_or_else(|| {
            ApiError::invalid(
                format!("grounds[{i}]"),
                format!(
                    "`{g}` is not a ground; expected one of {}",
                    DenialGround::ALL.map(|g| g.as_str()).join(", ")
                ),
            )
        })?);
    }
    parsed.dedup();
    let comment = comment.trim().to_string();
    if comment.chars().count() > 4000 {
        return Err(ApiError::invalid("comment", "at most 4000 characters"));
    }
    let to = check_decision(leg.status, decision, &parsed, &comment)?;
    if decision != ClearanceDecision::Deny && !parsed.is_empty() {
        return Err(ApiError::invalid(
            "grounds",
            "grounds are given only with a denial",
        ));
    }
    Ok(state
        .store
        .decide_leg(
            &LegDecision {
                request: id,
                seq: n,
                decision,
                grounds: parsed,
                comment,
                actor: who.user.id,
            },
            to,
            &who.audit(),
        )
        .await?)
}

/// The traveller (or whoever submitted the trip) answers a returned leg.
pub async fn answer(
    state: &AppState,
    who: &Authed,
    id: Uuid,
    n: i32,
    answer: &str,
) -> ApiResult<TravelRequest> {
    let t = load_visible(state, who, id).await?;
    if t.traveller != who.user.id && t.submitted_by != who.user.id {
        return Err(ApiError::forbidden(
            "only the traveller answers a returned leg",
        ));
    }
    if !t.legs.iter().any(|l| l.seq == n) {
        return Err(ApiError::not_found(format!(
            "leg {n} of travel request {id}"
        )));
    }
    let answer = answer.trim();
    if answer.is_empty() {
        return Err(ApiError::invalid(
            "answer",
            "give the information the reviewer asked for",
        ));
    }
    if answer.chars().count() > 4000 {
        return Err(ApiError::invalid("answer", "at most 4000 characters"));
    }
    Ok(state.store.answer_leg(id, n, answer, &who.audit()).await?)
}

/// Roles that review clearance requests.
pub const REVIEWERS: [Role; 2] = [Role::SecurityAdviser, Role::DesignatedOfficial];

/// Whether `who` reviews clearance requests anywhere.
pub fn is_reviewer(who: &Authed) -> bool {
    who.user.grants.iter().any(|g| REVIEWERS.contains(&g.role))
}

/// The part of the queue `who` may see, from the filters asked for: an error
/// when the filters go beyond their roles or are needed and missing.
pub fn queue_scope(
    who: &Authed,
    country: Option<&str>,
    area: Option<&str>,
) -> ApiResult<(Option<CountryCode>, Option<AreaCode>)> {
    let grants: Vec<_> = who
        .user
        .grants
        .iter()
        .filter(|g| REVIEWERS.contains(&g.role))
        .collect();
    let global = grants.iter().any(|g| g.scope == Scope::Global);
    let country = country
        .map(|c| {
            CountryCode::parse(c).map_err(|e| {
                ApiError::invalid(
                    "country",
                    e.to_string().trim_start_matches("country: ").to_string(),
                )
            })
        })
        .transpose()?;
    let mut area = area.map(parse_code).transpose()?;
    match (&country, &area) {
        (Some(c), Some(a)) if &a.country() != c => {
            return Err(ApiError::invalid("area", format!("{a} is not in {c}")))
        }
        (None, None) if !global => {
            return Err(ApiError::invalid(
                "country",
                "give the country whose clearance requests you review",
            ))
        }
        _ => {}
    }
    let country = country.or_else(|| area.as_ref().map(|a| a.country()));
    if let Some(cc) = &country {
        if !REVIEWERS
            .iter()
            .any(|r| has_role_for_country(&who.user.grants, *r, cc))
        {
            return Err(ApiError::forbidden(format!(
                "you are not a security adviser or Designated Official in {cc}"
            )));
        }
        let whole_country = grants.iter().any(|g| {
            matches!(&g.scope, Scope::Global) || matches!(&g.scope, Scope::Country(c) if c == cc)
        });
        if !whole_country {
            // Roles limited to some areas of the country.
            let mine: Vec<AreaCode> = grants
                .iter()
                .filter_map(|g| match &g.scope {
                    Scope::Area(a) if &a.country() == cc => Some(a.clone()),
                    _ => None,
                })
                .collect();
            match &area {
                Some(a) if !mine.contains(a) => {
                    return Err(ApiError::forbidden(format!("your roles do not cover {a}")))
                }
                Some(_) => {}
                None if mine.len() == 1 => area = Some(mine[0].clone()),
                None => {
                    return Err(ApiError::invalid(
                        "area",
                        "your roles cover only some areas of this country: give the area",
                    ))
                }
            }
        }
    }
    Ok((country, area))
}

/// An area, or a 404 naming it.
pub async fn load_area(state: &AppState, code: &str) -> ApiResult<warden_store::Area> {
    let code = parse_code(code)?;
    state
        .store
        .get_area(&code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("area {code}")))
}

/// Whether `who` is the Designated Official for the area.
pub fn sets_mode(who: &Authed, area: &warden_store::Area) -> bool {
    has_role_for_area(
        &who.user.grants,
        Role::DesignatedOfficial,
        &area.code,
        &area.country,
    )
}

/// Set an area's processing mode (its Designated Official); returns the
/// change recorded and how many future legs were re-evaluated.
pub async fn set_mode(
    state: &AppState,
    who: &Authed,
    code: &str,
    mode: &str,
    reason: &str,
) -> ApiResult<(ProcessingModeChange, u64)> {
    let area = load_area(state, code).await?;
    if !sets_mode(who, &area) {
        return Err(ApiError::forbidden(format!(
            "only the Designated Official for {} sets its processing mode",
            area.code
        )));
    }
    let mode = ProcessingMode::parse(mode)?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ApiError::invalid(
            "reason",
            "say why the mode is set (e.g. the SMT decision)",
        ));
    }
    if reason.chars().count() > 2000 {
        return Err(ApiError::invalid("reason", "at most 2000 characters"));
    }
    let reevaluated = state
        .store
        .set_processing_mode(&area.code, mode, who.user.id, reason, &who.audit())
        .await?;
    let latest = state
        .store
        .processing_mode_history(&area.code)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("processing mode set but no history recorded"))?;
    Ok((latest, reevaluated))
}

pub fn reviews_area(who: &Authed, area: &AreaCode, country: &CountryCode) -> bool {
    has_role_for_area(&who.user.grants, Role::SecurityAdviser, area, country)
        || has_role_for_area(&who.user.grants, Role::DesignatedOfficial, area, country)
}

pub async fn load_visible(state: &AppState, who: &Authed, id: Uuid) -> ApiResult<TravelRequest> {
    let t = state
        .store
        .get_travel_request(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("travel request {id}")))?;
    let visible = t.traveller == who.user.id
        || t.submitted_by == who.user.id
        || service::is_admin(who)
        || t.legs
            .iter()
            .any(|l| reviews_area(who, &l.area, &l.country));
    if !visible {
        // Do not reveal that it exists.
        return Err(ApiError::not_found(format!("travel request {id}")));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::{chrono_local_time, plain_local_time};

    #[test]
    fn plain_local_times_read_as_chrono_reads_them() {
        let mut day = chrono::NaiveDate::from_ymd_opt(2023, 12, 25).unwrap();
        let mut n = 0;
        while day < chrono::NaiveDate::from_ymd_opt(2028, 3, 5).unwrap() {
            for (h, m, s) in [(0, 0, 0), (8, 5, 0), (23, 59, 59), (12, 30, 7)] {
                for form in [
                    format!("{day}T{h:02}:{m:02}"),
                    format!("{day} {h:02}:{m:02}"),
                    format!("{day}T{h:02}:{m:02}:{s:02}"),
                ] {
                    let fast = plain_local_time(&form);
                    assert!(fast.is_some(), "{form}");
                    assert_eq!(fast, chrono_local_time(&form), "{form}");
                    n += 1;
                }
            }
            day = day.succ_opt().unwrap();
        }
        assert!(n > 18_000);
    }

    #[test]
    fn anything_else_is_left_to_chrono() {
        for t in [
            "2026-02-29T08:00",
            "2026-13-01T08:00",
            "2026-12-01T24:00",
            "2026-12-01T08:60",
            "2026-12-01T23:59:60",
            "2026-12-01 08:00:00",
            "2026-12-1T08:00",
            "2026-12-01T8:00",
            "2026/12/01T08:00",
            "2026-12-01T08:00Z",
            "2026-12-01T08:00:00+04:30",
            "+2026-12-01T08:00",
            "2026-12-01x08:00",
            "",
            "2026-12-01",
            "２０２６-12-01T08:00",
        ] {
            assert_eq!(plain_local_time(t), None, "{t}");
        }
    }
}
