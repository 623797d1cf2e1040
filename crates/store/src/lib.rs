//! The storage boundary of Warden.
//!
//! `Store` is implemented by `warden-store-sqlite` (the embedded default) and
//! `warden-store-postgres`. Nothing here knows about SQL drivers. Every method
//! that writes does so in one transaction, together with its audit entry, so
//! that an acknowledged write is whole and accounted for, or absent.

pub mod eta;
pub mod messages;
pub mod partners;
pub mod presence;
pub mod records;
pub mod rollcall;
pub mod testsuite;
pub mod testsuite_eta;
pub mod testsuite_partners;
pub mod testsuite_presence;
pub mod testsuite_presence_all;
pub mod testsuite_rollcall;

pub use eta::*;
pub use partners::*;

/// The wait before an outbox's next attempt (e-mail, SMS, partner pushes)
/// after `attempts` failed ones: 1, 2, 4, 8 … minutes.
pub fn retry_backoff(attempts: i64) -> chrono::Duration {
    chrono::Duration::minutes(1 << (attempts - 1).clamp(0, 10))
}
pub use presence::*;
pub use records::*;
pub use rollcall::*;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use warden_domain::{AreaCode, AssessmentStatus, CountryCode, RoleGrant};

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("storage error: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// How a load of travel authorisations is written (`Store::begin_ta_load`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaLoadMode {
    /// One transaction per batch: each batch is durable and visible once
    /// applied, and other writers go between batches.
    Batches,
    /// The whole load committed at its end, for a first load or one that
    /// is large against what is stored. The store may set aside the indexes
    /// the load does not read and rebuild them once at the end (SQLite
    /// does), or write it by a few transactions, each for its own
    /// travellers, committed one after the other at the end (PostgreSQL
    /// does: its backends then work on as many cores); other writers wait
    /// until the load ends.
    Whole,
}

/// A load of travel authorisations in progress (`Store::begin_ta_load`).
/// Dropped without `finish`, a whole load leaves nothing behind.
#[async_trait]
pub trait TaLoad: Send {
    /// Applies the next batch (TA numbers must not repeat within the load).
    async fn apply(&mut self, tas: &[TravelAuthorisation]) -> Result<Vec<TaResult>>;
    /// Ends the load; a whole load commits here.
    async fn finish(self: Box<Self>) -> Result<()>;
}

/// The legs a batch of TAs wrote: those of every TA not left unchanged
/// (`results` in the order of `tas`, as `TaLoad::apply` returns them).
pub fn legs_written(tas: &[TravelAuthorisation], results: &[TaResult]) -> u64 {
    tas.iter()
        .zip(results)
        .filter(|(_, r)| r.outcome != TaOutcome::Unchanged)
        .map(|(t, _)| t.legs.len() as u64)
        .sum()
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Applies pending schema migrations.
    async fn migrate(&self) -> Result<()>;
    async fn ping(&self) -> Result<()>;
    /// Closes the store's connections once the work in flight is done (at
    /// the end of a command). SQLite's last connection to close copies the
    /// WAL into the database file and removes it, so that a command leaves
    /// one compact file and the next opener has no log to recover.
    async fn close(&self) {}

    // ---- geography ----
    async fn upsert_countries(&self, countries: &[Country]) -> Result<()>;
    async fn list_countries(&self) -> Result<Vec<CountrySummary>>;
    async fn get_country(&self, cc: &CountryCode) -> Result<Option<Country>>;
    /// Inserts or replaces areas (geometry, names); keeps levels. One transaction.
    async fn upsert_areas(&self, areas: &[NewArea], audit: &AuditContext) -> Result<usize>;
    async fn get_area(&self, code: &AreaCode) -> Result<Option<Area>>;
    async fn list_areas(&self, q: &AreaQuery) -> Result<Page<Area>>;
    /// GeoJSON geometry text of areas, optionally of one country.
    async fn area_geometries(&self, country: Option<&CountryCode>) -> Result<Vec<AreaGeometry>>;
    async fn area_count(&self) -> Result<i64>;

    // ---- agencies, users, roles ----
    async fn create_agency(&self, a: &NewAgency, audit: &AuditContext) -> Result<Agency>;
    async fn list_agencies(&self) -> Result<Vec<Agency>>;
    async fn get_agency_by_code(&self, code: &str) -> Result<Option<Agency>>;
    async fn create_user(&self, u: &NewUser, audit: &AuditContext) -> Result<User>;
    async fn get_user(&self, id: Uuid) -> Result<Option<User>>;
    async fn get_user_by_username(&self, username: &str) -> Result<Option<User>>;
    async fn list_users(&self, page: &PageRequest) -> Result<Page<User>>;
    /// Users holding `role` whose scope covers the country.
    async fn users_with_role(
        &self,
        role: warden_domain::Role,
        country: &CountryCode,
    ) -> Result<Vec<User>>;
    async fn set_totp(
        &self,
        user: Uuid,
        secret_base32: Option<&str>,
        enabled: bool,
        audit: &AuditContext,
    ) -> Result<()>;
    /// Records that a TOTP time step was used. Returns false (and changes
    /// nothing) when a step at or after it was already used: a replay.
    async fn advance_totp_step(&self, user: Uuid, step: i64) -> Result<bool>;
    async fn set_password(
        &self,
        user: Uuid,
        password_hash: &str,
        audit: &AuditContext,
    ) -> Result<()>;
    async fn add_grant(&self, user: Uuid, grant: &RoleGrant, audit: &AuditContext) -> Result<()>;

    // ---- sessions and API tokens ----
    async fn create_session(&self, s: &Session) -> Result<()>;
    /// The live (unexpired) session with this token digest, and its user.
    async fn get_session(
        &self,
        digest: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Session, User)>>;
    async fn mark_session_two_factor(&self, digest: &str) -> Result<()>;
    async fn delete_session(&self, digest: &str) -> Result<()>;

    // ---- mitigation measures catalogue ----
    async fn create_measure(&self, m: &NewMeasure, audit: &AuditContext) -> Result<Measure>;
    async fn list_measures(&self) -> Result<Vec<Measure>>;

    // ---- assessments ----
    async fn create_assessment(
        &self,
        a: &NewAssessment,
        audit: &AuditContext,
    ) -> Result<Assessment>;
    async fn get_assessment(&self, id: Uuid) -> Result<Option<AssessmentDetail>>;
    async fn list_assessments(&self, q: &AssessmentQuery) -> Result<Page<Assessment>>;
    /// Moves an assessment from `expected` to `t.to` (fails with Conflict if
    /// somebody else moved it first). An approval also sets the area's level,
    /// records the level change, and updates the country's travel advisory,
    /// all in the same transaction.
    async fn apply_assessment_action(
        &self,
        t: &AssessmentTransition,
        expected: AssessmentStatus,
        audit: &AuditContext,
    ) -> Result<Assessment>;
    async fn level_history(&self, area: &AreaCode) -> Result<Vec<LevelChange>>;

    // ---- travel advisories ----
    async fn get_advisory(&self, cc: &CountryCode) -> Result<Option<Advisory>>;
    async fn update_advisory_area(
        &self,
        u: &AdvisoryAreaUpdate,
        audit: &AuditContext,
    ) -> Result<()>;
    async fn advisory_changes(
        &self,
        cc: Option<&CountryCode>,
        limit: i64,
    ) -> Result<Vec<AdvisoryChange>>;

    // ---- TRIP ----
    /// The DO sets how an area processes travel; recorded with who, when, why.
    /// Future legs into the area are re-evaluated in the same transaction:
    /// turning manual makes their acknowledged notifications pending clearance
    /// requests; turning automatic acknowledges their pending requests. Legs
    /// already granted, denied, returned or cancelled keep their status.
    /// The traveller of every trip with a re-evaluated leg, and the area's
    /// security advisers, get a notification in the same transaction.
    /// Returns how many legs changed.
    async fn set_processing_mode(
        &self,
        area: &AreaCode,
        mode: warden_domain::trip::ProcessingMode,
        actor: Uuid,
        reason: &str,
        audit: &AuditContext,
    ) -> Result<u64>;
    /// The area's current mode (automatic when never set).
    async fn processing_mode(&self, area: &AreaCode)
        -> Result<warden_domain::trip::ProcessingMode>;
    /// Every change of the area's mode, newest first.
    async fn processing_mode_history(&self, area: &AreaCode) -> Result<Vec<ProcessingModeChange>>;
    /// Records a trip. Each leg's kind and first status come from its area's
    /// mode, read in the same transaction: acknowledged (automatic) or pending (manual).
    async fn create_travel_request(
        &self,
        r: &NewTravelRequest,
        audit: &AuditContext,
    ) -> Result<TravelRequest>;
    async fn get_travel_request(&self, id: Uuid) -> Result<Option<TravelRequest>>;
    /// One traveller's trips with their legs, newest first (by submission).
    async fn list_travel_requests(
        &self,
        traveller: Uuid,
        page: &PageRequest,
    ) -> Result<Page<TravelRequest>>;
    /// Decides a pending leg (compare-and-set: a leg already decided is a
    /// Conflict and keeps its first decision).
    async fn decide_leg(
        &self,
        d: &LegDecision,
        to: warden_domain::trip::LegStatus,
        audit: &AuditContext,
    ) -> Result<TravelRequest>;
    /// Pending clearance requests, oldest departure first.
    async fn clearance_queue(&self, q: &ClearanceQuery) -> Result<Page<QueuedLeg>>;
    /// The traveller answers a leg returned for more information: the leg is
    /// evaluated again under its area's current mode (pending, or acknowledged
    /// in an automatic area). Compare-and-set: a leg not returned is a Conflict.
    async fn answer_leg(
        &self,
        request: Uuid,
        seq: i32,
        answer: &str,
        audit: &AuditContext,
    ) -> Result<TravelRequest>;

    // ---- travellers' profiles ----
    /// Creates or updates profiles by (agency, personnel id), each with its user
    /// (a new user has no password). Rows identical to the stored ones are
    /// counted unchanged and not written. One transaction, one audit entry.
    async fn import_profiles(
        &self,
        rows: &[ProfileInput],
        audit: &AuditContext,
    ) -> Result<ImportCounts>;
    async fn get_profile(&self, user: Uuid) -> Result<Option<Profile>>;
    /// The person corrects their own phone and emergency contacts (from the
    /// eTA). NotFound when they have no profile. The import digest is kept:
    /// a legacy system re-sending the same row leaves the correction in
    /// place, a changed row replaces it. One transaction with its audit
    /// entry (`profile.update`, naming the fields, not their values).
    async fn update_own_contacts(
        &self,
        user: Uuid,
        phone: &str,
        emergency_contacts: &[warden_domain::people::EmergencyContact],
        audit: &AuditContext,
    ) -> Result<Profile>;
    /// The users of these personnel ids of the agency (those that exist).
    async fn profile_users(
        &self,
        agency: Uuid,
        personnel_ids: &[String],
    ) -> Result<std::collections::HashMap<String, Uuid>>;

    // ---- travel authorisations (ERP) ----
    /// Creates or updates the travel request of each TA, by (agency, TA
    /// number), in one transaction. An unchanged TA writes nothing; a changed
    /// one keeps the decisions of legs whose place and times did not change and
    /// evaluates the others afresh; a cancelled one cancels every leg.
    async fn apply_travel_authorisations(
        &self,
        agency: Uuid,
        submitted_by: Uuid,
        tas: &[TravelAuthorisation],
        audit: &AuditContext,
    ) -> Result<Vec<TaResult>>;
    /// Starts a load of TAs from one file, applied batch by batch in the
    /// file's order, each batch as `apply_travel_authorisations` applies it.
    /// With `TaLoadMode::Whole` the load is durable and visible at
    /// `TaLoad::finish` and not before; dropped or failed before, it leaves
    /// nothing. Written by several transactions, a failure between their
    /// commits keeps those committed, each whole: the same file applied
    /// again writes the rest.
    async fn begin_ta_load(
        &self,
        agency: Uuid,
        submitted_by: Uuid,
        mode: TaLoadMode,
        audit: &AuditContext,
    ) -> Result<Box<dyn TaLoad>>;
    /// How many legs are stored, all agencies together, or a bound above
    /// that is cheaper to read (SQLite: the last leg's number): what a load
    /// is measured against.
    async fn legs_stored(&self) -> Result<u64>;

    // ---- approved airlines ----
    /// Publishes (or republishes) the list for a month.
    async fn publish_airline_list(
        &self,
        month: chrono::NaiveDate,
        airlines: &[ApprovedAirline],
        note: &str,
        audit: &AuditContext,
    ) -> Result<AirlineList>;
    /// The list for `month`, or with None the list in force today (the latest
    /// published for this month or before).
    async fn airline_list(&self, month: Option<chrono::NaiveDate>) -> Result<Option<AirlineList>>;
    /// Every published month, newest first.
    async fn airline_lists(&self) -> Result<Vec<AirlineListSummary>>;

    // ---- notifications ----
    async fn list_notifications(
        &self,
        user: Uuid,
        unread_only: bool,
        page: &PageRequest,
    ) -> Result<Page<Notification>>;
    /// Marks the user's notifications read (all of them when `ids` is empty).
    async fn mark_notifications_read(
        &self,
        user: Uuid,
        ids: &[Uuid],
        at: DateTime<Utc>,
    ) -> Result<u64>;
    /// Claims up to `limit` notifications due for e-mail (pending, or sending
    /// with an expired lease); they stay claimed for five minutes.
    async fn claim_emails(&self, limit: i64, now: DateTime<Utc>) -> Result<Vec<OutgoingEmail>>;
    /// Records the outcome of sending one; a failure is retried later with
    /// back-off, up to five attempts.
    async fn finish_email(
        &self,
        id: Uuid,
        outcome: std::result::Result<(), String>,
        now: DateTime<Utc>,
    ) -> Result<()>;

    // ---- eTA: devices and locations ----
    async fn create_device(&self, d: &NewDevice, audit: &AuditContext) -> Result<Device>;
    /// The user's devices, most recently used first (the first unrevoked
    /// one is the active device).
    async fn list_devices(&self, user: Uuid) -> Result<Vec<Device>>;
    /// Revokes one of the user's devices: its token stops working.
    async fn revoke_device(&self, user: Uuid, device: Uuid, audit: &AuditContext) -> Result<()>;
    /// The unrevoked device with this token digest, and its user.
    async fn device_by_token(&self, digest: &str) -> Result<Option<(Device, User)>>;
    /// Takes one device's reports in one transaction: marks the device used,
    /// keeps the person's area (no coordinates), keeps precise positions only
    /// for reports recorded in an area and at a time covered by a tracking
    /// authorisation in force, and when the person entered a new area writes
    /// them a notification with its advisory. Nothing is acknowledged before
    /// it is durable. A revoked device is a Conflict.
    async fn ingest_locations(&self, b: &LocationBatch) -> Result<IngestOutcome>;
    async fn last_location(&self, user: Uuid) -> Result<Option<LastLocation>>;

    // ---- eTA: tracking, access, retention ----
    async fn authorise_tracking(
        &self,
        t: &NewTracking,
        audit: &AuditContext,
    ) -> Result<TrackingAuthorisation>;
    /// Ends an authorisation early (compare-and-set: one already ended is a Conflict).
    async fn end_tracking(
        &self,
        id: Uuid,
        by: Uuid,
        reason: &str,
        audit: &AuditContext,
    ) -> Result<TrackingAuthorisation>;
    async fn get_tracking(&self, id: Uuid) -> Result<Option<TrackingAuthorisation>>;
    /// Newest first.
    async fn list_tracking(
        &self,
        q: &TrackingQuery,
        page: &PageRequest,
    ) -> Result<Page<TrackingAuthorisation>>;
    /// Precise positions recorded in the area in [from, to), newest first, of
    /// the people for whom `visible` is true (the caller's rule, given each
    /// person's agency). The access is written to the audit log in the same
    /// transaction, with how many positions of how many people were shown.
    async fn positions_in_area(
        &self,
        area: &AreaCode,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        visible: &(dyn Fn(Option<Uuid>) -> bool + Send + Sync),
        audit: &AuditContext,
    ) -> Result<Vec<Position>>;
    async fn create_freeze(&self, f: &NewFreeze, audit: &AuditContext) -> Result<Freeze>;
    /// Lifts a freeze (compare-and-set: one already lifted is a Conflict);
    /// the retention rule applies again to what it held.
    async fn lift_freeze(
        &self,
        id: Uuid,
        by: Uuid,
        reason: &str,
        audit: &AuditContext,
    ) -> Result<Freeze>;
    async fn get_freeze(&self, id: Uuid) -> Result<Option<Freeze>>;
    async fn list_freezes(&self, q: &FreezeQuery) -> Result<Vec<Freeze>>;
    /// One step of the purge: deletes up to about `limit` positions recorded
    /// before `cutoff` (from `after` on, in time order), none that a freeze
    /// in force covers, and when positions are done, last locations reported
    /// before the cutoff. Short transactions, so that ingest goes on.
    async fn purge_locations(
        &self,
        cutoff: DateTime<Utc>,
        after: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<PurgeChunk>;
    /// What is held about the person's whereabouts (their own request).
    async fn held_location_data(&self, user: Uuid) -> Result<HeldLocationData>;
    /// Deletes the person's location data that no freeze covers.
    async fn delete_location_data(
        &self,
        user: Uuid,
        audit: &AuditContext,
    ) -> Result<DeletionOutcome>;
    async fn accept_undertaking(
        &self,
        user: Uuid,
        version: &str,
        audit: &AuditContext,
    ) -> Result<Undertaking>;
    async fn undertaking(&self, user: Uuid) -> Result<Option<Undertaking>>;

    // ---- eTA: alerts and answers ----
    /// Records an alert for an area and, in the same transaction, notifies
    /// every person whose phone reported the area at or after `fresh_after`,
    /// and queues a text message (SMS outbox, reference `alert:{id}`) to
    /// everyone stationed there (profile duty station) with a phone number
    /// and no enrolled device.
    async fn issue_alert(
        &self,
        a: &NewGeoAlert,
        fresh_after: DateTime<Utc>,
        audit: &AuditContext,
    ) -> Result<GeoAlert>;
    async fn get_alert(&self, id: Uuid) -> Result<Option<GeoAlert>>;
    /// Newest first.
    async fn list_alerts(
        &self,
        area: Option<&AreaCode>,
        page: &PageRequest,
    ) -> Result<Page<GeoAlert>>;
    /// "I am safe / I need help", with the area the phone last reported.
    async fn record_wellbeing(
        &self,
        r: &NewWellbeing,
        audit: &AuditContext,
    ) -> Result<WellbeingReport>;
    async fn latest_wellbeing(&self, user: Uuid) -> Result<Option<WellbeingReport>>;

    // ---- eTA: bulk SMS ----
    /// Claims up to `limit` text messages due (pending, or sending with an
    /// expired lease); they stay claimed for five minutes.
    async fn claim_sms(&self, limit: i64, now: DateTime<Utc>) -> Result<Vec<OutgoingSms>>;
    /// Records the outcome of sending one: the SMSC's message ids (one per
    /// segment), or an error (retried with back-off, up to five attempts).
    async fn finish_sms(
        &self,
        id: Uuid,
        outcome: std::result::Result<Vec<String>, String>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// A delivery receipt for one of the SMSC's message ids; false when the
    /// id is unknown.
    async fn sms_receipt(&self, message_id: &str, state: &str, at: DateTime<Utc>) -> Result<bool>;
    /// The text messages about one thing (e.g. `alert:{id}`), oldest first.
    async fn sms_for(&self, reference: &str) -> Result<Vec<SmsRecord>>;
    /// The person whose profile has this phone number (exactly as stored).
    async fn user_by_phone(&self, phone: &str) -> Result<Option<User>>;

    // ---- audit ----
    async fn append_audit(
        &self,
        audit: &AuditContext,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<()>;
    async fn list_audit(&self, q: &AuditQuery) -> Result<Page<AuditEntry>>;
    /// Re-computes the hash chain over the whole log.
    async fn verify_audit_chain(&self) -> Result<AuditVerification>;

    // ---- who is where ----
    /// The people whom some evidence may place in the area at `at`: those
    /// stationed there (profile duty station), those whose latest leg
    /// departed at or before `at` enters it, and those whose phone was there
    /// at `at` (last location since `at` or earlier). Each comes with all
    /// their evidence: duty station and the profile's update, their latest
    /// legs departed at or before `at` (cancelled and denied legs are no
    /// evidence) and when the next one departs (`next_departure`), their
    /// last phone location. Read in one snapshot, by a fixed number of
    /// statements whatever the number of people (the stays covering `at` by
    /// ranges of an index, one seek per candidate for the latest leg);
    /// ordered by name.
    async fn presence_candidates(
        &self,
        area: &AreaCode,
        at: DateTime<Utc>,
    ) -> Result<Vec<PresenceCandidate>>;

    // ---- who is where: every area ----
    /// Everyone whom some evidence may place anywhere at `at` (a duty
    /// station, a live leg departed by then, a phone location), each with
    /// the same evidence as [`Store::presence_candidates`] gives. With
    /// `country`, only people whom some evidence ties to that country
    /// (stationed there, their latest departed leg or their phone there).
    /// Read in one snapshot, by a fixed number of statements (no query per
    /// area, and everywhere no seek per person: the people and the stays
    /// covering `at` are each read in one pass); ordered by user id.
    /// Applying `warden_domain::presence::whereabouts` and grouping by area
    /// gives every area's headcount at once, equal to the per-area
    /// headcounts.
    async fn presence_everyone(
        &self,
        at: DateTime<Utc>,
        country: Option<&CountryCode>,
    ) -> Result<Vec<PresenceCandidate>>;

    /// Every area's headcount at `at` at once: per area and agency (the
    /// profile's, else the user's), how many people
    /// `warden_domain::presence::whereabouts` places there under `rules`
    /// and how many of them are flagged; areas where nobody is placed are
    /// absent. The same rule written as one aggregate query, so that the
    /// people never leave the database (the conformance suite holds it to
    /// the rule on [`Store::presence_everyone`]'s evidence). One statement,
    /// one snapshot; ordered by area, then agency.
    async fn presence_counts(
        &self,
        at: DateTime<Utc>,
        rules: warden_domain::presence::PresenceRules,
    ) -> Result<Vec<PresenceCount>>;

    // ---- roll calls ----
    /// Starts a roll call over the areas (at least one; each must exist,
    /// else Invalid naming `areas[i]`) asking `people` (the server computes
    /// who is present; unknown or disabled users are left out, duplicates
    /// counted once). One transaction: the event and its people, one
    /// in-app notification each (kind `rollcall.ask`, e-mailed to those
    /// with an address), one text message (SMS outbox, kind `rollcall`,
    /// reference `rollcall:{id}`) to each with a phone and no enrolled
    /// device, and the audit entry `rollcall.start`.
    async fn start_roll_call(
        &self,
        areas: &[AreaCode],
        started_by: Uuid,
        message: &str,
        people: &[Uuid],
        audit: &AuditContext,
    ) -> Result<RollCall>;
    async fn get_roll_call(&self, id: Uuid) -> Result<Option<RollCall>>;
    /// Newest first; only those covering `area` when given; only open ones
    /// when `open_only`.
    async fn list_roll_calls(
        &self,
        area: Option<&AreaCode>,
        open_only: bool,
    ) -> Result<Vec<RollCall>>;
    /// Everyone asked, by name, each placed by `warden_domain::rollcall::tally`
    /// from their "are you safe?" answers given while the roll call was open.
    async fn roll_call_board(&self, id: Uuid) -> Result<Option<RollCallBoard>>;
    /// Closes an open roll call (compare-and-set: one already closed is a
    /// Conflict); it keeps its record, and later answers do not count.
    async fn close_roll_call(&self, id: Uuid, by: Uuid, audit: &AuditContext) -> Result<RollCall>;

    // ---- partners ----
    /// Registers a partner system (code unique, else Conflict; the agency
    /// must exist, else Invalid naming `agency`), audited `partner.create`.
    async fn create_partner(&self, p: &NewPartner, audit: &AuditContext) -> Result<Partner>;
    /// Every partner, revoked ones too, by code.
    async fn list_partners(&self) -> Result<Vec<Partner>>;
    async fn get_partner(&self, code: &str) -> Result<Option<Partner>>;
    /// The partner with this token digest (revoked or not: the caller decides).
    async fn partner_by_token(&self, digest: &str) -> Result<Option<Partner>>;
    /// Revokes a partner (compare-and-set: one already revoked is a
    /// Conflict): its token stops working and its pending pushes are
    /// cancelled; its figures stay. Audited `partner.revoke`.
    async fn revoke_partner(&self, code: &str, audit: &AuditContext) -> Result<Partner>;
    /// Takes a partner's headcount reports in one transaction, idempotent on
    /// (partner, area, as_of): a report equal to the stored one is
    /// Unchanged and writes nothing; a different one is a Conflict naming
    /// `reports[i]` and nothing of the batch is written. Each area must
    /// exist (else Invalid naming `reports[i].area`). One audit entry
    /// `partner.headcount` when anything was created.
    async fn submit_partner_headcounts(
        &self,
        partner: Uuid,
        reports: &[PartnerHeadcountInput],
        audit: &AuditContext,
    ) -> Result<Vec<PartnerReportOutcome>>;
    /// The latest partner figure per (agency, area) of these areas with
    /// `as_of` in [from, to] (from unbounded when None); by area, agency code.
    async fn partner_headcounts(
        &self,
        areas: &[AreaCode],
        from: Option<DateTime<Utc>>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PartnerHeadcount>>;
    /// CAP messages published to partners, newest first.
    async fn partner_cap_messages(&self, limit: i64) -> Result<Vec<CapMessage>>;
    async fn get_partner_cap_message(&self, id: Uuid) -> Result<Option<CapMessage>>;
    /// Claims up to `limit` pushes due (pending, or sending with an expired
    /// lease) of partners not revoked; they stay claimed for the lease.
    async fn claim_partner_deliveries(
        &self,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<PartnerDelivery>>;
    /// Records the outcome of one push: the HTTP status of a success, or the
    /// status (if any) and error of a failure, retried with back-off
    /// ([`partner_push_backoff`]) up to [`PARTNER_PUSH_MAX_ATTEMPTS`].
    async fn finish_partner_delivery(
        &self,
        id: Uuid,
        outcome: std::result::Result<u16, (Option<u16>, String)>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// The pushes of one message, by partner code.
    async fn partner_deliveries(&self, message: Uuid) -> Result<Vec<DeliveryRecord>>;
}
