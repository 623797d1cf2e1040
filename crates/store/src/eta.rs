//! Records of the eTA: devices, locations, tracking authorisations, freezes,
//! geo-alerts, undertakings and "are you safe?" answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use warden_domain::eta::{
    AlertSeverity, FreezeRequest, LocationReport, TrackingRequest, Wellbeing,
};
use warden_domain::{AreaCode, CountryCode};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewDevice {
    pub user: Uuid,
    pub name: String,
    /// `web`, `owntracks`, `sms` …
    pub platform: String,
    /// SHA-256 of the device token; the token itself is never stored.
    pub token_digest: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Device {
    pub id: Uuid,
    pub user: Uuid,
    pub name: String,
    pub platform: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A report with the area it falls in (None: outside every area, at sea).
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedReport {
    pub report: LocationReport,
    pub area: Option<AreaCode>,
}

/// One device's reports, resolved to areas, as the ingest endpoint hands them
/// to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationBatch {
    pub device: Uuid,
    pub user: Uuid,
    pub reports: Vec<ResolvedReport>,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IngestOutcome {
    /// Reports taken (the area kept; positions only under tracking).
    pub accepted: u32,
    /// Precise positions kept because tracking was authorised there and then.
    pub positions_kept: u32,
    /// The person's area after this batch.
    pub area: Option<AreaCode>,
    /// Set when the batch moved the person into a new area (an advisory
    /// notification was written for them).
    pub entered: Option<AreaCode>,
}

/// Where a person's phone last put them: the area only, no coordinates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LastLocation {
    pub user: Uuid,
    pub device: Uuid,
    pub area: Option<AreaCode>,
    /// When the phone first reported this area (since the previous one).
    pub since: DateTime<Utc>,
    /// When the phone recorded its latest report.
    pub reported_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewTracking {
    pub request: TrackingRequest,
    pub authorised_by: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrackingAuthorisation {
    pub id: Uuid,
    pub area: AreaCode,
    pub area_name: String,
    pub country: CountryCode,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
    pub authorised_by: Uuid,
    pub authorised_by_name: String,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<Uuid>,
    pub end_reason: Option<String>,
}

impl TrackingAuthorisation {
    pub fn active_at(&self, at: DateTime<Utc>) -> bool {
        warden_domain::eta::tracking_active(self.starts_at, self.ends_at, self.ended_at, at)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TrackingQuery {
    /// Only authorisations in force at this moment.
    pub active_at: Option<DateTime<Utc>>,
    pub country: Option<CountryCode>,
    pub area: Option<AreaCode>,
}

/// A precise position, kept only under tracking.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Position {
    pub user: Uuid,
    pub user_name: String,
    pub agency: Option<Uuid>,
    pub device: Uuid,
    pub area: AreaCode,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
    pub recorded_at: DateTime<Utc>,
    pub tracking: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewFreeze {
    pub request: FreezeRequest,
    pub created_by: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Freeze {
    pub id: Uuid,
    pub person: Uuid,
    pub person_name: String,
    pub agency: Option<Uuid>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub case_reference: String,
    pub reason: String,
    pub created_by: Uuid,
    pub created_by_name: String,
    pub created_at: DateTime<Utc>,
    pub lifted_at: Option<DateTime<Utc>>,
    pub lifted_by: Option<Uuid>,
    pub lift_reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FreezeQuery {
    pub person: Option<Uuid>,
    pub agency: Option<Uuid>,
    pub active_only: bool,
}

/// One step of a purge: what went, and where to go on from (None: done).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PurgeChunk {
    pub positions: u64,
    pub last_locations: u64,
    pub next: Option<DateTime<Utc>>,
}

/// Everything held about one person's whereabouts, for the person.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HeldLocationData {
    pub last_location: Option<LastLocation>,
    pub positions: Vec<Position>,
    pub freezes: Vec<Freeze>,
    pub devices: Vec<Device>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeletionOutcome {
    pub positions_deleted: u64,
    /// Kept because a freeze covers them.
    pub positions_frozen: u64,
    pub last_location_deleted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Undertaking {
    pub user: Uuid,
    pub version: String,
    pub accepted_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewGeoAlert {
    pub area: AreaCode,
    pub headline: String,
    pub description: String,
    pub instruction: String,
    pub severity: AlertSeverity,
    pub expires_at: DateTime<Utc>,
    pub issued_by: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GeoAlert {
    pub id: Uuid,
    pub area: AreaCode,
    pub area_name: String,
    pub country: CountryCode,
    pub headline: String,
    pub description: String,
    pub instruction: String,
    pub severity: AlertSeverity,
    pub issued_by: Uuid,
    pub issued_by_name: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// People whose phone put them in the area, notified with the alert.
    pub recipients: i64,
    /// People stationed in the area without a smartphone, texted (SMS).
    pub sms_recipients: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DependantStatus {
    pub name: String,
    pub status: Wellbeing,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewWellbeing {
    pub user: Uuid,
    pub status: Wellbeing,
    pub dependants: Vec<DependantStatus>,
    pub note: String,
    /// `web`, `sms`, `api`
    pub channel: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WellbeingReport {
    pub id: Uuid,
    pub user: Uuid,
    pub status: Wellbeing,
    pub dependants: Vec<DependantStatus>,
    pub note: String,
    pub channel: String,
    pub area: Option<AreaCode>,
    pub at: DateTime<Utc>,
}

/// A text message due for sending, claimed by the SMS gateway.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutgoingSms {
    pub id: Uuid,
    pub user: Option<Uuid>,
    pub phone: String,
    pub body: String,
    pub attempts: i32,
}

/// A text message as recorded (for the issuer's view of an alert).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SmsRecord {
    pub id: Uuid,
    pub user: Option<Uuid>,
    pub phone: String,
    pub kind: String,
    pub reference: String,
    /// pending, sending, sent, failed
    pub state: String,
    pub attempts: i32,
    pub receipt: Option<String>,
    pub created_at: DateTime<Utc>,
}
