//! Records read from and written to the store.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;
use warden_domain::people::{AirlineCode, Certificate, EmergencyContact, PersonnelCategory};
use warden_domain::{
    AreaCode, AssessmentAction, AssessmentStatus, CountryCode, RoleGrant, SecurityLevel,
};

/// Timestamps are kept to the microsecond, the precision both databases store.
pub fn now_micros() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Country {
    pub alpha2: CountryCode,
    pub alpha3: String,
    pub name: String,
    pub names: BTreeMap<String, String>,
    pub region: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CountrySummary {
    pub country: Country,
    pub areas: i64,
    pub highest_level: Option<SecurityLevel>,
    pub areas_with_level: i64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AreaKind {
    /// A first-level administrative unit from the shipped geography.
    Admin1,
    /// An area defined by an administrator (a polygon or a union of units).
    Custom,
}

impl AreaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AreaKind::Admin1 => "admin1",
            AreaKind::Custom => "custom",
        }
    }
    pub fn parse(s: &str) -> AreaKind {
        if s == "custom" {
            AreaKind::Custom
        } else {
            AreaKind::Admin1
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewArea {
    pub code: AreaCode,
    pub iso_3166_2: Option<String>,
    pub country: CountryCode,
    pub name: String,
    pub names: BTreeMap<String, String>,
    pub kind: AreaKind,
    pub subtype: Option<String>,
    pub label_lon: f64,
    pub label_lat: f64,
    /// RFC 7946 geometry (a MultiPolygon) as JSON text.
    pub geometry: String,
    /// For custom areas made of admin-1 units: their codes.
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Area {
    pub code: AreaCode,
    pub iso_3166_2: Option<String>,
    pub country: CountryCode,
    pub name: String,
    pub names: BTreeMap<String, String>,
    pub kind: AreaKind,
    pub subtype: Option<String>,
    pub label_lon: f64,
    pub label_lat: f64,
    pub members: Vec<String>,
    pub level: Option<SecurityLevel>,
    pub level_since: Option<DateTime<Utc>>,
    pub level_assessment: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AreaGeometry {
    pub code: AreaCode,
    pub kind: AreaKind,
    pub geometry: String,
}

#[derive(Debug, Clone, Default)]
pub struct AreaQuery {
    pub country: Option<CountryCode>,
    /// Case-insensitive match on name or code.
    pub search: Option<String>,
    pub level: Option<SecurityLevel>,
    pub page: PageRequest,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    pub offset: i64,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: 100,
            offset: 0,
        }
    }
}

impl PageRequest {
    pub const MAX_LIMIT: i64 = 1000;
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> PageRequest {
        PageRequest {
            limit: limit.unwrap_or(100).clamp(1, Self::MAX_LIMIT),
            offset: offset.unwrap_or(0).max(0),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewAgency {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Agency {
    pub id: Uuid,
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub agency: Option<Uuid>,
    pub password_hash: String,
    pub grants: Vec<RoleGrant>,
    pub locale: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub agency: Option<Uuid>,
    #[serde(skip_serializing)]
    pub password_hash: String,
    #[serde(skip_serializing)]
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub disabled: bool,
    pub locale: String,
    pub grants: Vec<RoleGrant>,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn needs_two_factor(&self) -> bool {
        self.grants.iter().any(|g| g.role.requires_two_factor())
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Web,
    Api,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Web => "web",
            SessionKind::Api => "api",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    /// SHA-256 of the token; the token itself is never stored.
    pub digest: String,
    pub user_id: Uuid,
    pub kind: SessionKind,
    pub two_factor: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewMeasure {
    pub code: String,
    pub title: String,
    pub description: String,
    pub category: String,
    /// A measure specific to one country; None for the shared basket.
    pub country: Option<CountryCode>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Measure {
    pub id: Uuid,
    pub code: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub country: Option<CountryCode>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewAssessment {
    pub area: AreaCode,
    pub author: Uuid,
    pub proposed_level: SecurityLevel,
    pub ratings: BTreeMap<String, i64>,
    /// The threat assessment (internal).
    pub narrative: String,
    /// Text for the travel advisory once approved.
    pub advisory_text: String,
    pub measures: Vec<Uuid>,
    pub mitigation_text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Assessment {
    pub id: Uuid,
    pub area: AreaCode,
    pub area_name: String,
    pub country: CountryCode,
    pub author: Uuid,
    pub author_name: String,
    pub proposed_level: SecurityLevel,
    pub previous_level: Option<SecurityLevel>,
    pub ratings: BTreeMap<String, i64>,
    pub narrative: String,
    pub advisory_text: String,
    pub measures: Vec<Uuid>,
    pub mitigation_text: String,
    pub status: AssessmentStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AssessmentEvent {
    pub seq: i64,
    pub action: String,
    pub actor: Uuid,
    pub actor_name: String,
    pub from_status: Option<AssessmentStatus>,
    pub to_status: AssessmentStatus,
    pub reason: String,
    pub smt_consulted: Vec<Uuid>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AssessmentDetail {
    pub assessment: Assessment,
    pub events: Vec<AssessmentEvent>,
}

#[derive(Debug, Clone, Default)]
pub struct AssessmentQuery {
    pub area: Option<AreaCode>,
    pub country: Option<CountryCode>,
    pub statuses: Vec<AssessmentStatus>,
    pub page: PageRequest,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AssessmentTransition {
    pub id: Uuid,
    pub action: AssessmentAction,
    pub to: AssessmentStatus,
    pub actor: Uuid,
    pub reason: String,
    pub smt_consulted: Vec<Uuid>,
    /// On resubmission the author may revise the proposal.
    pub revision: Option<NewAssessment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LevelChange {
    pub id: Uuid,
    pub area: AreaCode,
    pub old_level: Option<SecurityLevel>,
    pub new_level: SecurityLevel,
    pub assessment: Uuid,
    pub approved_by: Uuid,
    pub approved_by_name: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AdvisoryArea {
    pub area: Area,
    pub text: String,
    pub mitigation_text: String,
    pub measures: Vec<Measure>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Advisory {
    pub country: Country,
    /// Increases with every change of the advisory.
    pub version: i64,
    pub updated_at: Option<DateTime<Utc>>,
    pub areas: Vec<AdvisoryArea>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AdvisoryAreaUpdate {
    pub area: AreaCode,
    pub text: String,
    pub mitigation_text: String,
    pub measures: Vec<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AdvisoryChange {
    pub id: Uuid,
    pub country: CountryCode,
    pub area: AreaCode,
    pub area_name: String,
    pub version: i64,
    /// `level` (an approved level change) or `text` (narrative or measures).
    pub kind: String,
    pub old_level: Option<SecurityLevel>,
    pub new_level: Option<SecurityLevel>,
    pub summary: String,
    pub at: DateTime<Utc>,
}

/// Who is acting, from where: stamped on every audit entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditContext {
    pub actor: Option<Uuid>,
    pub actor_name: String,
    pub ip: Option<String>,
    pub at: DateTime<Utc>,
}

impl AuditContext {
    pub fn system(name: &str) -> AuditContext {
        AuditContext {
            actor: None,
            actor_name: name.to_string(),
            ip: None,
            at: now_micros(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<Uuid>,
    pub actor_name: String,
    pub ip: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub action_prefix: Option<String>,
    pub target: Option<String>,
    pub actor: Option<Uuid>,
    pub page: PageRequest,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditVerification {
    pub entries: i64,
    /// Sequence number of the first entry whose hash does not match.
    pub first_broken: Option<i64>,
    pub head: String,
}

/// The hash of the first link of the chain.
pub const AUDIT_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The canonical text of an audit entry, which its hash covers.
#[allow(clippy::too_many_arguments)]
pub fn audit_canonical(
    seq: i64,
    at: &DateTime<Utc>,
    actor: Option<Uuid>,
    actor_name: &str,
    ip: Option<&str>,
    action: &str,
    target: &str,
    detail: &str,
) -> String {
    let at = at.format("%Y-%m-%dT%H:%M:%S%.6fZ");
    let actor = actor.map(|a| a.to_string()).unwrap_or_default();
    let ip = ip.unwrap_or("");
    // Lengths make the encoding unambiguous whatever the fields contain.
    format!(
        "{seq}|{at}|{}:{actor}|{}:{actor_name}|{}:{ip}|{}:{action}|{}:{target}|{}:{detail}",
        actor.len(),
        actor_name.len(),
        ip.len(),
        action.len(),
        target.len(),
        detail.len()
    )
}

/// SHA-256 over the previous hash and the canonical entry, hex-encoded.
pub fn audit_hash(prev_hash: &str, canonical: &str) -> String {
    warden_auth::audit_chain_hash(prev_hash, canonical)
}

impl AuditEntry {
    pub fn expected_hash(&self) -> String {
        audit_hash(
            &self.prev_hash,
            &audit_canonical(
                self.seq,
                &self.at,
                self.actor,
                &self.actor_name,
                self.ip.as_deref(),
                &self.action,
                &self.target,
                &self.detail,
            ),
        )
    }
}

// ---- TRIP ----

use warden_domain::trip::{
    ClearanceDecision, DenialGround, LegKind, LegStatus, ProcessingMode, TripPurpose, TripStatus,
};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProcessingModeChange {
    pub area: AreaCode,
    pub mode: ProcessingMode,
    pub set_by: Uuid,
    pub set_by_name: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewLeg {
    /// What the traveller typed for the origin and destination, resolved labels.
    pub origin: String,
    pub destination: String,
    /// The area the leg enters.
    pub area: AreaCode,
    pub depart: DateTime<Utc>,
    pub arrive: DateTime<Utc>,
    /// IANA zones the times were given in (for display in local time).
    pub depart_tz: Option<String>,
    pub arrive_tz: Option<String>,
    /// The airline flown, if the leg is a flight.
    pub carrier: Option<AirlineCode>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewTravelRequest {
    pub traveller: Uuid,
    pub submitted_by: Uuid,
    pub purpose: TripPurpose,
    /// Travel authorisation number from an agency's ERP, if any.
    pub ta_number: Option<String>,
    pub legs: Vec<NewLeg>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Leg {
    /// 1-based position in the itinerary.
    pub seq: i32,
    pub origin: String,
    pub destination: String,
    pub area: AreaCode,
    pub area_name: String,
    pub country: CountryCode,
    pub depart: DateTime<Utc>,
    pub arrive: DateTime<Utc>,
    pub depart_tz: Option<String>,
    pub arrive_tz: Option<String>,
    /// The area's processing mode when the leg was (re-)evaluated.
    pub kind: LegKind,
    pub status: LegStatus,
    pub decided_by: Option<Uuid>,
    pub decided_by_name: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub grounds: Vec<DenialGround>,
    pub comment: String,
    pub carrier: Option<AirlineCode>,
    /// The traveller's answer to a return for more information.
    pub answer: String,
    pub answered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TravelRequest {
    pub id: Uuid,
    pub traveller: Uuid,
    pub traveller_name: String,
    pub submitted_by: Uuid,
    pub purpose: TripPurpose,
    pub ta_number: Option<String>,
    /// The agency whose ERP sent it (for a TA), else the traveller's.
    pub agency: Option<Uuid>,
    pub status: TripStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub legs: Vec<Leg>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LegDecision {
    pub request: Uuid,
    pub seq: i32,
    pub decision: ClearanceDecision,
    pub grounds: Vec<DenialGround>,
    pub comment: String,
    pub actor: Uuid,
}

#[derive(Debug, Clone, Default)]
pub struct ClearanceQuery {
    /// Pending legs in this country (required unless global).
    pub country: Option<CountryCode>,
    pub area: Option<AreaCode>,
    pub page: PageRequest,
}

/// A pending clearance request in a reviewer's queue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueuedLeg {
    pub request: Uuid,
    pub traveller_name: String,
    pub purpose: TripPurpose,
    pub leg: Leg,
    pub submitted_at: DateTime<Utc>,
}

// ---------------------------------------------------------------------------
// travellers' profiles
// ---------------------------------------------------------------------------

/// A traveller's profile as a legacy system or an administrator gives it. The
/// person is found again by agency and personnel id, so re-importing a file
/// updates instead of duplicating.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProfileInput {
    pub agency: Uuid,
    /// The agency's own identifier of the person (index number, employee id).
    pub personnel_id: String,
    pub display_name: String,
    pub email: String,
    pub category: PersonnelCategory,
    pub nationality: Option<CountryCode>,
    pub phone: String,
    pub duty_station: Option<AreaCode>,
    pub emergency_contacts: Vec<EmergencyContact>,
    pub certificates: Vec<Certificate>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    pub user: Uuid,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub agency: Uuid,
    pub agency_code: String,
    pub personnel_id: String,
    pub category: PersonnelCategory,
    pub nationality: Option<CountryCode>,
    pub phone: String,
    pub duty_station: Option<AreaCode>,
    pub emergency_contacts: Vec<EmergencyContact>,
    pub certificates: Vec<Certificate>,
    pub updated_at: DateTime<Utc>,
}

/// What an import did, row by row.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportCounts {
    pub created: u64,
    pub updated: u64,
    /// Rows identical to what is stored (a re-run).
    pub unchanged: u64,
}

impl ImportCounts {
    pub fn add(&mut self, o: ImportCounts) {
        self.created += o.created;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
    }
    pub fn total(&self) -> u64 {
        self.created + self.updated + self.unchanged
    }
}

// ---------------------------------------------------------------------------
// travel authorisations from agencies' ERP systems
// ---------------------------------------------------------------------------

/// A travel authorisation (TA) from an agency's ERP: creates or updates the
/// travel request with the same agency and TA number.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TravelAuthorisation {
    pub ta_number: String,
    pub traveller: Uuid,
    pub purpose: TripPurpose,
    /// A cancelled TA cancels the trip.
    pub cancelled: bool,
    pub legs: Vec<NewLeg>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TaOutcome {
    Created,
    Updated,
    Unchanged,
    Cancelled,
}

impl TaOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            TaOutcome::Created => "created",
            TaOutcome::Updated => "updated",
            TaOutcome::Unchanged => "unchanged",
            TaOutcome::Cancelled => "cancelled",
        }
    }
}

/// What became of one TA of a batch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaResult {
    pub ta_number: String,
    pub request: Uuid,
    pub outcome: TaOutcome,
}

// ---------------------------------------------------------------------------
// approved airlines
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApprovedAirline {
    pub code: AirlineCode,
    pub name: String,
}

/// The approved-airline list published for a month.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AirlineList {
    /// First day of the month it is published for.
    pub month: NaiveDate,
    pub published_by: Uuid,
    pub published_by_name: String,
    pub published_at: DateTime<Utc>,
    pub note: String,
    pub airlines: Vec<ApprovedAirline>,
}

impl AirlineList {
    /// Whether the list approves a leg's airline (None when the leg names none).
    pub fn approves(&self, carrier: Option<&AirlineCode>) -> Option<bool> {
        carrier.map(|c| self.airlines.iter().any(|a| &a.code == c))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AirlineListSummary {
    pub month: NaiveDate,
    pub published_by_name: String,
    pub published_at: DateTime<Utc>,
    pub count: i64,
}

// ---------------------------------------------------------------------------
// notifications (in-app, and e-mail through an outbox)
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notification {
    pub id: Uuid,
    pub user: Uuid,
    /// leg_reevaluated, level_changed, leg_decided
    pub kind: String,
    pub subject: String,
    pub body: String,
    /// Path of the page it is about, e.g. /trips/{id}.
    pub link: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    /// pending, sending, sent, failed, none (no address)
    pub email_state: String,
}

/// A notification to e-mail, claimed by the mailer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutgoingEmail {
    pub id: Uuid,
    pub to: String,
    pub to_name: String,
    pub subject: String,
    pub body: String,
    pub link: String,
    pub attempts: i32,
}

/// A stable digest of a record's content (SHA-256 of its JSON), used to skip
/// unchanged rows when the same file is imported again.
pub fn content_digest<T: Serialize>(v: &T) -> String {
    warden_auth::token_digest(&serde_json::to_string(v).unwrap_or_default())
}

/// How a digest from [`ta_digest`] begins; a stored digest without it is
/// the [`content_digest`] (JSON) that earlier versions stored.
const TA_DIGEST_PREFIX: &str = "b1:";

/// A TA's content digest: SHA-256 over every field of the TA in a fixed
/// binary layout (a length before each string, a tag before each optional
/// value, times as seconds and nanoseconds), written without formatting
/// anything, since an ERP import digests a million TAs.
pub fn ta_digest(t: &TravelAuthorisation) -> String {
    use sha2::{Digest, Sha256};
    fn text(h: &mut Sha256, s: &str) {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    fn maybe(h: &mut Sha256, s: Option<&str>) {
        match s {
            None => h.update([0]),
            Some(s) => {
                h.update([1]);
                text(h, s);
            }
        }
    }
    fn time(h: &mut Sha256, t: &DateTime<Utc>) {
        h.update(t.timestamp().to_le_bytes());
        h.update(t.timestamp_subsec_nanos().to_le_bytes());
    }
    let mut h = Sha256::new();
    text(&mut h, &t.ta_number);
    h.update(t.traveller.as_bytes());
    text(&mut h, t.purpose.as_str());
    h.update([u8::from(t.cancelled)]);
    h.update((t.legs.len() as u64).to_le_bytes());
    for l in &t.legs {
        text(&mut h, &l.origin);
        text(&mut h, &l.destination);
        text(&mut h, l.area.as_str());
        time(&mut h, &l.depart);
        time(&mut h, &l.arrive);
        maybe(&mut h, l.depart_tz.as_deref());
        maybe(&mut h, l.arrive_tz.as_deref());
        maybe(&mut h, l.carrier.as_ref().map(|c| c.as_str()));
    }
    let mut out = String::with_capacity(TA_DIGEST_PREFIX.len() + 64);
    out.push_str(TA_DIGEST_PREFIX);
    data_encoding::HEXLOWER.encode_append(&h.finalize(), &mut out);
    out
}

/// Whether `stored`, the digest kept with a TA, is that of `t`, whose
/// [`ta_digest`] is `fresh`. A digest stored by an earlier version (JSON)
/// is compared as it was made.
pub fn ta_digest_same(stored: &str, fresh: &str, t: &TravelAuthorisation) -> bool {
    stored == fresh || (!stored.starts_with(TA_DIGEST_PREFIX) && stored == content_digest(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_domain::AreaCode;

    fn ta() -> TravelAuthorisation {
        let at = |h| {
            chrono::DateTime::parse_from_rfc3339(&format!("2026-12-01T{h:02}:30:00.123456+00:00"))
                .unwrap()
                .with_timezone(&Utc)
        };
        TravelAuthorisation {
            ta_number: "TA00000042".into(),
            traveller: Uuid::from_u128(42),
            purpose: TripPurpose::Official,
            cancelled: false,
            legs: vec![
                NewLeg {
                    origin: "Geneva (GVA)".into(),
                    destination: "Kabul (KBL)".into(),
                    area: AreaCode::parse("AF-KAB").unwrap(),
                    depart: at(8),
                    arrive: at(20),
                    depart_tz: Some("Europe/Zurich".into()),
                    arrive_tz: Some("Asia/Kabul".into()),
                    carrier: Some(AirlineCode::parse("ET").unwrap()),
                },
                NewLeg {
                    origin: "Kabul (KBL)".into(),
                    destination: "Herat (HEA)".into(),
                    area: AreaCode::parse("AF-HER").unwrap(),
                    depart: at(21),
                    arrive: at(23),
                    depart_tz: None,
                    arrive_tz: None,
                    carrier: None,
                },
            ],
        }
    }

    #[test]
    fn a_ta_digest_changes_with_every_field() {
        let base = ta();
        let d = ta_digest(&base);
        assert!(d.starts_with(TA_DIGEST_PREFIX) && d.len() == TA_DIGEST_PREFIX.len() + 64);
        assert_eq!(d, ta_digest(&ta()), "the same TA digests the same");
        type Change = Box<dyn Fn(&mut TravelAuthorisation)>;
        let changes: Vec<(&str, Change)> = vec![
            ("ta_number", Box::new(|t| t.ta_number.push('1'))),
            ("traveller", Box::new(|t| t.traveller = Uuid::from_u128(43))),
            ("purpose", Box::new(|t| t.purpose = TripPurpose::Personal)),
            ("cancelled", Box::new(|t| t.cancelled = true)),
            ("a leg less", Box::new(|t| drop(t.legs.pop()))),
            ("origin", Box::new(|t| t.legs[0].origin.push(' '))),
            ("destination", Box::new(|t| t.legs[1].destination.clear())),
            (
                "area",
                Box::new(|t| t.legs[1].area = AreaCode::parse("AF-KAB").unwrap()),
            ),
            (
                "depart",
                Box::new(|t| t.legs[0].depart += chrono::Duration::microseconds(1)),
            ),
            (
                "arrive",
                Box::new(|t| t.legs[1].arrive += chrono::Duration::nanoseconds(1)),
            ),
            ("depart_tz", Box::new(|t| t.legs[0].depart_tz = None)),
            (
                "arrive_tz",
                Box::new(|t| t.legs[1].arrive_tz = Some(String::new())),
            ),
            ("carrier", Box::new(|t| t.legs[0].carrier = None)),
            // Strings next to each other: a length before each keeps
            // "Geneva (GVA)" + "Kabul (KBL)" apart from "Geneva (GVA)K" + "abul (KBL)".
            (
                "a boundary between strings",
                Box::new(|t| {
                    t.legs[0].origin.push('K');
                    t.legs[0].destination.remove(0);
                }),
            ),
        ];
        for (what, change) in changes {
            let mut t = ta();
            change(&mut t);
            assert_ne!(ta_digest(&t), d, "{what}");
            assert!(!ta_digest_same(&d, &ta_digest(&t), &t), "{what}");
        }
    }

    #[test]
    fn a_digest_stored_by_an_earlier_version_still_matches() {
        let t = ta();
        let fresh = ta_digest(&t);
        let stored = content_digest(&t);
        assert!(ta_digest_same(&stored, &fresh, &t));
        assert!(ta_digest_same(&fresh, &fresh, &t));
        let mut other = ta();
        other.legs[0].origin = "Dubai (DXB)".into();
        assert!(!ta_digest_same(&stored, &ta_digest(&other), &other));
    }
}
