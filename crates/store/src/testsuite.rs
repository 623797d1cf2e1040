//! The conformance suite every `Store` implementation must pass. Each backend
//! crate calls `run_all` from its own tests against a fresh database, so the
//! same behaviour is checked on SQLite and on PostgreSQL.

use crate::*;
use std::collections::BTreeMap;
use warden_domain::{AssessmentAction, Role, Scope, SecurityLevel};

fn square(lon: f64, lat: f64, d: f64) -> String {
    serde_json::json!({
        "type": "MultiPolygon",
        "coordinates": [[[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]]
    })
    .to_string()
}

fn area(code: &str, name: &str) -> NewArea {
    let code = AreaCode::parse(code).unwrap();
    NewArea {
        country: code.country(),
        iso_3166_2: Some(code.to_string()),
        code,
        name: name.into(),
        names: BTreeMap::from([("fr".to_string(), format!("{name} (fr)"))]),
        kind: AreaKind::Admin1,
        subtype: Some("Province".into()),
        label_lon: 69.2,
        label_lat: 34.5,
        geometry: square(69.0, 34.0, 1.0),
        members: vec![],
    }
}

fn country(cc: &str, name: &str) -> Country {
    Country {
        alpha2: CountryCode::parse(cc).unwrap(),
        alpha3: format!("{cc}X"),
        name: name.into(),
        names: BTreeMap::new(),
        region: Some("Asia".into()),
    }
}

fn ratings(n: i64) -> BTreeMap<String, i64> {
    warden_domain::ThreatCategory::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), n))
        .collect()
}

pub(crate) fn sys() -> AuditContext {
    AuditContext::system("test")
}

/// Minutes from a fixed moment (30 November 2026, noon UTC).
pub(crate) fn minute(min: i64) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
        .unwrap()
        + chrono::Duration::minutes(min)
}

/// The system acting at [`minute`] `min`.
pub(crate) fn sys_at(min: i64) -> AuditContext {
    AuditContext {
        at: minute(min),
        ..sys()
    }
}

pub(crate) async fn seed_geo(s: &dyn Store) {
    s.upsert_countries(&[country("AF", "Afghanistan"), country("ML", "Mali")])
        .await
        .unwrap();
    let n = s
        .upsert_areas(
            &[
                area("AF-KAB", "Kabul"),
                area("AF-HER", "Herat"),
                area("ML-BKO", "Bamako"),
            ],
            &sys(),
        )
        .await
        .unwrap();
    assert_eq!(n, 3);
}

pub(crate) async fn user(s: &dyn Store, name: &str, grants: Vec<(Role, &str)>) -> User {
    s.create_user(
        &NewUser {
            username: name.into(),
            display_name: format!("{name} Display"),
            email: format!("{name}@example.org"),
            agency: None,
            password_hash: "$argon2id$fake".into(),
            grants: grants
                .into_iter()
                .map(|(role, sc)| RoleGrant {
                    role,
                    scope: Scope::parse(sc).unwrap(),
                    agency: None,
                })
                .collect(),
            locale: "en".into(),
        },
        &sys(),
    )
    .await
    .unwrap()
}

/// Runs every check. `fresh` must return a store on an empty database.
pub async fn run_all<S: Store, F, Fut>(fresh: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    migrations_are_idempotent(&fresh().await).await;
    geography(&fresh().await).await;
    users_and_roles(&fresh().await).await;
    totp_replay(&fresh().await).await;
    sessions(&fresh().await).await;
    assessment_workflow(&fresh().await).await;
    concurrent_transitions_keep_the_first(&fresh().await).await;
    failed_writes_change_nothing(&fresh().await).await;
    advisory_edits(&fresh().await).await;
    processing_modes(&fresh().await).await;
    travel_requests(&fresh().await).await;
    travel_request_lists(&fresh().await).await;
    racing_leg_decisions_keep_the_first(&fresh().await).await;
    mode_changes_reevaluate_future_legs(&fresh().await).await;
    profiles_import_idempotently(&fresh().await).await;
    own_contacts_are_corrected(&fresh().await).await;
    travel_authorisations_create_update_cancel(&fresh().await).await;
    travel_authorisation_loads(&fresh().await).await;
    returned_legs_are_answered(&fresh().await).await;
    approved_airline_lists(&fresh().await).await;
    notifications_and_email_outbox(&fresh().await).await;
    crate::testsuite_eta::run_all(&fresh).await;
    crate::testsuite_presence::run_all(&fresh).await;
    crate::testsuite_rollcall::run_all(&fresh).await;
    crate::testsuite_presence_all::run_all(&fresh).await;
    crate::testsuite_partners::run_all(&fresh).await;
}

pub async fn migrations_are_idempotent(s: &dyn Store) {
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    s.ping().await.unwrap();
    assert_eq!(s.area_count().await.unwrap(), 0);
}

pub async fn geography(s: &dyn Store) {
    seed_geo(s).await;
    assert_eq!(s.area_count().await.unwrap(), 3);
    let kab = s
        .get_area(&AreaCode::parse("AF-KAB").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kab.name, "Kabul");
    assert_eq!(kab.names["fr"], "Kabul (fr)");
    assert_eq!(kab.level, None);
    assert!(s
        .get_area(&AreaCode::parse("AF-XXX").unwrap())
        .await
        .unwrap()
        .is_none());

    let af = CountryCode::parse("AF").unwrap();
    let page = s
        .list_areas(&AreaQuery {
            country: Some(af.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(
        page.items
            .iter()
            .map(|a| a.code.as_str())
            .collect::<Vec<_>>(),
        ["AF-HER", "AF-KAB"]
    );
    let page = s
        .list_areas(&AreaQuery {
            search: Some("kab".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    let page = s
        .list_areas(&AreaQuery {
            page: PageRequest {
                limit: 1,
                offset: 1,
            },
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (3, 1));
    assert_eq!(page.items[0].code.as_str(), "AF-KAB");

    let g = s.area_geometries(Some(&af)).await.unwrap();
    assert_eq!(g.len(), 2);
    let v: serde_json::Value = serde_json::from_str(&g[0].geometry).unwrap();
    assert_eq!(v["type"], "MultiPolygon");

    let countries = s.list_countries().await.unwrap();
    assert_eq!(countries.len(), 2);
    let afs = countries.iter().find(|c| c.country.alpha2 == af).unwrap();
    assert_eq!(afs.areas, 2);
    assert_eq!(
        s.get_country(&af).await.unwrap().unwrap().name,
        "Afghanistan"
    );

    // Re-importing replaces names and geometry, never duplicates.
    let mut again = area("AF-KAB", "Kabul City");
    again.geometry = square(69.1, 34.1, 0.5);
    s.upsert_areas(&[again], &sys()).await.unwrap();
    assert_eq!(s.area_count().await.unwrap(), 3);
    let kab = s
        .get_area(&AreaCode::parse("AF-KAB").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kab.name, "Kabul City");
}

pub async fn users_and_roles(s: &dyn Store) {
    seed_geo(s).await;
    let ag = s
        .create_agency(
            &NewAgency {
                code: "UNDP".into(),
                name: "UN Development Programme".into(),
            },
            &sys(),
        )
        .await
        .unwrap();
    assert!(matches!(
        s.create_agency(
            &NewAgency {
                code: "UNDP".into(),
                name: "dup".into()
            },
            &sys()
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.get_agency_by_code("UNDP").await.unwrap().unwrap().id,
        ag.id
    );
    assert_eq!(s.list_agencies().await.unwrap().len(), 1);

    let u = user(
        s,
        "do.kabul",
        vec![
            (Role::DesignatedOfficial, "AF"),
            (Role::SmtMember, "AF-KAB"),
        ],
    )
    .await;
    assert_eq!(u.grants.len(), 2);
    let again = s.get_user_by_username("do.kabul").await.unwrap().unwrap();
    assert_eq!(again.id, u.id);
    assert_eq!(again.grants, u.grants);
    assert!(again.needs_two_factor());
    assert!(s.get_user(u.id).await.unwrap().is_some());
    let dup = s
        .create_user(
            &NewUser {
                username: "do.kabul".into(),
                display_name: "x".into(),
                email: "x@example.org".into(),
                agency: Some(ag.id),
                password_hash: "h".into(),
                grants: vec![],
                locale: "en".into(),
            },
            &sys(),
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))));

    let af = CountryCode::parse("AF").unwrap();
    let ml = CountryCode::parse("ML").unwrap();
    let _g = user(s, "smt.global", vec![(Role::SmtMember, "global")]).await;
    let smt = s.users_with_role(Role::SmtMember, &af).await.unwrap();
    assert_eq!(
        smt.len(),
        2,
        "area-scoped and global SMT members both count for the country"
    );
    assert_eq!(
        s.users_with_role(Role::SmtMember, &ml).await.unwrap().len(),
        1
    );
    assert_eq!(
        s.users_with_role(Role::DesignatedOfficial, &ml)
            .await
            .unwrap()
            .len(),
        0
    );

    s.add_grant(
        u.id,
        &RoleGrant {
            role: Role::SecurityAdviser,
            scope: Scope::Global,
            agency: Some(ag.id),
        },
        &sys(),
    )
    .await
    .unwrap();
    assert_eq!(s.get_user(u.id).await.unwrap().unwrap().grants.len(), 3);

    s.set_totp(u.id, Some("JBSWY3DPEHPK3PXP"), true, &sys())
        .await
        .unwrap();
    let t = s.get_user(u.id).await.unwrap().unwrap();
    assert_eq!(t.totp_secret.as_deref(), Some("JBSWY3DPEHPK3PXP"));
    assert!(t.totp_enabled);
    s.set_password(u.id, "newhash", &sys()).await.unwrap();
    assert_eq!(
        s.get_user(u.id).await.unwrap().unwrap().password_hash,
        "newhash"
    );
    let users = s.list_users(&PageRequest::default()).await.unwrap();
    assert_eq!(users.total, 2);
}

pub async fn totp_replay(s: &dyn Store) {
    let u = user(s, "sa", vec![(Role::SecurityAdviser, "AF")]).await;
    assert!(s.advance_totp_step(u.id, 100).await.unwrap());
    assert!(
        !s.advance_totp_step(u.id, 100).await.unwrap(),
        "same step twice is a replay"
    );
    assert!(
        !s.advance_totp_step(u.id, 99).await.unwrap(),
        "an older step is a replay"
    );
    assert!(s.advance_totp_step(u.id, 101).await.unwrap());
}

pub async fn sessions(s: &dyn Store) {
    let u = user(s, "t", vec![(Role::Traveller, "global")]).await;
    let now = now_micros();
    let live = Session {
        digest: "d1".into(),
        user_id: u.id,
        kind: SessionKind::Web,
        two_factor: false,
        created_at: now,
        expires_at: now + chrono::Duration::hours(1),
        ip: Some("127.0.0.1".into()),
    };
    s.create_session(&live).await.unwrap();
    let expired = Session {
        digest: "d2".into(),
        expires_at: now - chrono::Duration::seconds(1),
        ..live.clone()
    };
    s.create_session(&expired).await.unwrap();
    let (got, gu) = s.get_session("d1", now).await.unwrap().unwrap();
    assert_eq!(got, live);
    assert_eq!(gu.id, u.id);
    assert!(
        s.get_session("d2", now).await.unwrap().is_none(),
        "expired sessions are not returned"
    );
    assert!(s.get_session("nope", now).await.unwrap().is_none());
    s.mark_session_two_factor("d1").await.unwrap();
    assert!(
        s.get_session("d1", now)
            .await
            .unwrap()
            .unwrap()
            .0
            .two_factor
    );
    s.delete_session("d1").await.unwrap();
    assert!(s.get_session("d1", now).await.unwrap().is_none());
}

pub(crate) async fn submit(s: &dyn Store, author: &User, code: &str, level: i64) -> Assessment {
    let m = s
        .create_measure(
            &NewMeasure {
                code: format!("M-{code}-{level}"),
                title: "Armoured vehicles".into(),
                description: "Use armoured vehicles for road movement".into(),
                category: "movement".into(),
                country: None,
            },
            &sys(),
        )
        .await
        .unwrap();
    s.create_assessment(
        &NewAssessment {
            area: AreaCode::parse(code).unwrap(),
            author: author.id,
            proposed_level: SecurityLevel::new(level).unwrap(),
            ratings: ratings(level),
            narrative: "Complex attacks reported in the capital".into(),
            advisory_text: "Threat from armed groups is high.".into(),
            measures: vec![m.id],
            mitigation_text: "Movement in convoy only.".into(),
        },
        &sys(),
    )
    .await
    .unwrap()
}

pub(crate) fn step(
    id: Uuid,
    action: AssessmentAction,
    to: AssessmentStatus,
    actor: &User,
    smt: Vec<Uuid>,
) -> AssessmentTransition {
    AssessmentTransition {
        id,
        action,
        to,
        actor: actor.id,
        reason: "checked".into(),
        smt_consulted: smt,
        revision: None,
    }
}

pub async fn assessment_workflow(s: &dyn Store) {
    seed_geo(s).await;
    let sa = user(s, "sa", vec![(Role::SecurityAdviser, "AF")]).await;
    let desk = user(s, "desk", vec![(Role::RegionalDesk, "AF")]).await;
    let dof = user(s, "do", vec![(Role::DesignatedOfficial, "AF")]).await;
    let smt = user(s, "smt", vec![(Role::SmtMember, "AF")]).await;
    let audit_before = s.list_audit(&AuditQuery::default()).await.unwrap().total;

    let a = submit(s, &sa, "AF-KAB", 5).await;
    assert_eq!(a.status, AssessmentStatus::Submitted);
    assert_eq!(a.area_name, "Kabul");
    assert_eq!(a.author_name, "sa Display");
    assert_eq!(a.previous_level, None);

    let open = s
        .list_assessments(&AssessmentQuery {
            statuses: vec![AssessmentStatus::Submitted],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(open.total, 1);

    let v = s
        .apply_assessment_action(
            &step(
                a.id,
                AssessmentAction::Validate,
                AssessmentStatus::Validated,
                &desk,
                vec![],
            ),
            AssessmentStatus::Submitted,
            &sys(),
        )
        .await
        .unwrap();
    assert_eq!(v.status, AssessmentStatus::Validated);
    // The level has not changed yet: only approval changes it.
    let kab = AreaCode::parse("AF-KAB").unwrap();
    assert_eq!(s.get_area(&kab).await.unwrap().unwrap().level, None);
    assert!(s.advisory_changes(None, 10).await.unwrap().is_empty());

    let ap = s
        .apply_assessment_action(
            &step(
                a.id,
                AssessmentAction::Approve,
                AssessmentStatus::Approved,
                &dof,
                vec![smt.id],
            ),
            AssessmentStatus::Validated,
            &sys(),
        )
        .await
        .unwrap();
    assert_eq!(ap.status, AssessmentStatus::Approved);
    let area = s.get_area(&kab).await.unwrap().unwrap();
    assert_eq!(area.level, Some(SecurityLevel::new(5).unwrap()));
    assert_eq!(area.level_assessment, Some(a.id));
    assert!(area.level_since.is_some());

    let hist = s.level_history(&kab).await.unwrap();
    assert_eq!(hist.len(), 1);
    assert_eq!((hist[0].old_level, hist[0].new_level.get()), (None, 5));
    assert_eq!(hist[0].approved_by, dof.id);

    let adv = s.get_advisory(&kab.country()).await.unwrap().unwrap();
    assert_eq!(adv.version, 1);
    let entry = adv.areas.iter().find(|e| e.area.code == kab).unwrap();
    assert_eq!(entry.text, "Threat from armed groups is high.");
    assert_eq!(entry.mitigation_text, "Movement in convoy only.");
    assert_eq!(entry.measures.len(), 1);
    assert_eq!(entry.area.level.map(|l| l.get()), Some(5));
    let changes = s.advisory_changes(Some(&kab.country()), 10).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].kind, "level");
    assert_eq!(changes[0].new_level.map(|l| l.get()), Some(5));
    assert_eq!(changes[0].version, 1);

    let detail = s.get_assessment(a.id).await.unwrap().unwrap();
    let actions: Vec<_> = detail.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["submit", "validate", "approve"]);
    assert_eq!(detail.events[2].smt_consulted, vec![smt.id]);
    assert_eq!(detail.events[2].actor_name, "do Display");

    // A second approved assessment lowers the level; history keeps both.
    let b = submit(s, &sa, "AF-KAB", 4).await;
    assert_eq!(b.previous_level.map(|l| l.get()), Some(5));
    s.apply_assessment_action(
        &step(
            b.id,
            AssessmentAction::Validate,
            AssessmentStatus::Validated,
            &desk,
            vec![],
        ),
        AssessmentStatus::Submitted,
        &sys(),
    )
    .await
    .unwrap();
    s.apply_assessment_action(
        &step(
            b.id,
            AssessmentAction::Approve,
            AssessmentStatus::Approved,
            &dof,
            vec![smt.id],
        ),
        AssessmentStatus::Validated,
        &sys(),
    )
    .await
    .unwrap();
    let hist = s.level_history(&kab).await.unwrap();
    assert_eq!(hist.len(), 2);
    assert_eq!(
        (hist[0].old_level.map(|l| l.get()), hist[0].new_level.get()),
        (Some(5), 4),
        "newest first"
    );
    assert_eq!(
        s.get_advisory(&kab.country())
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
    let summaries = s.list_countries().await.unwrap();
    let afs = summaries
        .iter()
        .find(|c| c.country.alpha2.as_str() == "AF")
        .unwrap();
    assert_eq!(
        (afs.highest_level.map(|l| l.get()), afs.areas_with_level),
        (Some(4), 1)
    );

    // Every write left an audit entry and the chain verifies.
    let audit_after = s.list_audit(&AuditQuery::default()).await.unwrap();
    assert!(
        audit_after.total >= audit_before + 6,
        "{} -> {}",
        audit_before,
        audit_after.total
    );
    let approvals = s
        .list_audit(&AuditQuery {
            action_prefix: Some("assessment.approve".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(approvals.total, 2);
    assert_eq!(
        approvals.items[0].target,
        format!("assessment:{}", b.id),
        "newest first"
    );
    let v = s.verify_audit_chain().await.unwrap();
    assert_eq!(v.first_broken, None);
    assert_eq!(v.entries, audit_after.total);
}

pub async fn concurrent_transitions_keep_the_first(s: &dyn Store) {
    seed_geo(s).await;
    let sa = user(s, "sa", vec![(Role::SecurityAdviser, "AF")]).await;
    let desk = user(s, "desk", vec![(Role::RegionalDesk, "AF")]).await;
    let a = submit(s, &sa, "AF-HER", 3).await;
    let t1 = step(
        a.id,
        AssessmentAction::Validate,
        AssessmentStatus::Validated,
        &desk,
        vec![],
    );
    let mut t2 = step(
        a.id,
        AssessmentAction::SendBack,
        AssessmentStatus::Returned,
        &desk,
        vec![],
    );
    t2.reason = "second".into();
    let (c1, c2) = (sys(), sys());
    let (r1, r2) = tokio::join!(
        s.apply_assessment_action(&t1, AssessmentStatus::Submitted, &c1),
        s.apply_assessment_action(&t2, AssessmentStatus::Submitted, &c2)
    );
    assert!(
        r1.is_ok() ^ r2.is_ok(),
        "exactly one of two racing decisions wins: {r1:?} {r2:?}"
    );
    let loser = if r1.is_err() { r1 } else { r2 };
    assert!(matches!(loser, Err(StoreError::Conflict(_))));
    let d = s.get_assessment(a.id).await.unwrap().unwrap();
    assert_eq!(d.events.len(), 2);
}

pub async fn failed_writes_change_nothing(s: &dyn Store) {
    seed_geo(s).await;
    let sa = user(s, "sa", vec![(Role::SecurityAdviser, "AF")]).await;
    let before = s.list_audit(&AuditQuery::default()).await.unwrap().total;
    // Unknown area.
    let r = s
        .create_assessment(
            &NewAssessment {
                area: AreaCode::parse("AF-NOPE").unwrap(),
                author: sa.id,
                proposed_level: SecurityLevel::new(2).unwrap(),
                ratings: ratings(2),
                narrative: "n".into(),
                advisory_text: String::new(),
                measures: vec![],
                mitigation_text: String::new(),
            },
            &sys(),
        )
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    // Unknown measure: nothing is written, not even the assessment.
    let r = s
        .create_assessment(
            &NewAssessment {
                area: AreaCode::parse("AF-KAB").unwrap(),
                author: sa.id,
                proposed_level: SecurityLevel::new(2).unwrap(),
                ratings: ratings(2),
                narrative: "n".into(),
                advisory_text: String::new(),
                measures: vec![Uuid::now_v7()],
                mitigation_text: String::new(),
            },
            &sys(),
        )
        .await;
    assert!(r.is_err());
    assert_eq!(
        s.list_assessments(&AssessmentQuery::default())
            .await
            .unwrap()
            .total,
        0
    );
    // Transition of an unknown assessment.
    let r = s
        .apply_assessment_action(
            &step(
                Uuid::now_v7(),
                AssessmentAction::Validate,
                AssessmentStatus::Validated,
                &sa,
                vec![],
            ),
            AssessmentStatus::Submitted,
            &sys(),
        )
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))));
    // Area import with one bad code in the batch: nothing of it lands.
    let mut bad = area("AF-BAD", "Bad");
    bad.geometry = "not json".into();
    let r = s.upsert_areas(&[area("AF-NEW", "New"), bad], &sys()).await;
    assert!(matches!(r, Err(StoreError::Invalid { .. })), "{r:?}");
    assert!(s
        .get_area(&AreaCode::parse("AF-NEW").unwrap())
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        s.list_audit(&AuditQuery::default()).await.unwrap().total,
        before
    );
}

pub async fn advisory_edits(s: &dyn Store) {
    seed_geo(s).await;
    let ml = CountryCode::parse("ML").unwrap();
    // A country with no decisions yet still has an advisory listing its areas.
    let adv = s.get_advisory(&ml).await.unwrap().unwrap();
    assert_eq!(adv.version, 0);
    assert_eq!(adv.areas.len(), 1);
    assert!(s
        .get_advisory(&CountryCode::parse("ZZ").unwrap())
        .await
        .unwrap()
        .is_none());
    s.update_advisory_area(
        &AdvisoryAreaUpdate {
            area: AreaCode::parse("ML-BKO").unwrap(),
            text: "Curfew 22:00-05:00".into(),
            mitigation_text: String::new(),
            measures: vec![],
        },
        &sys(),
    )
    .await
    .unwrap();
    let adv = s.get_advisory(&ml).await.unwrap().unwrap();
    assert_eq!(adv.version, 1);
    assert_eq!(adv.areas[0].text, "Curfew 22:00-05:00");
    let ch = s.advisory_changes(Some(&ml), 10).await.unwrap();
    assert_eq!((ch.len(), ch[0].kind.as_str()), (1, "text"));
    let r = s
        .update_advisory_area(
            &AdvisoryAreaUpdate {
                area: AreaCode::parse("ML-NOPE").unwrap(),
                text: "x".into(),
                mitigation_text: String::new(),
                measures: vec![],
            },
            &sys(),
        )
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))));
}

use warden_domain::trip::{
    ClearanceDecision, DenialGround, LegKind, LegStatus, ProcessingMode, TripPurpose, TripStatus,
};

fn at(day: u32, hour: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2026, 12, day, hour, 0, 0)
        .unwrap()
}

fn leg(code: &str, day: u32) -> NewLeg {
    NewLeg {
        origin: "Geneva (GVA), Switzerland".into(),
        destination: format!("{code} destination"),
        area: AreaCode::parse(code).unwrap(),
        depart: at(day, 6),
        arrive: at(day, 14),
        depart_tz: Some("Europe/Zurich".into()),
        arrive_tz: Some("Asia/Kabul".into()),
        carrier: None,
    }
}

pub async fn processing_modes(s: &dyn Store) {
    seed_geo(s).await;
    let dof = user(s, "do", vec![(Role::DesignatedOfficial, "AF")]).await;
    let kab = AreaCode::parse("AF-KAB").unwrap();
    assert_eq!(
        s.processing_mode(&kab).await.unwrap(),
        ProcessingMode::Automatic,
        "automatic until the DO decides"
    );
    s.set_processing_mode(
        &kab,
        ProcessingMode::Manual,
        dof.id,
        "SMT decision of 3 December",
        &sys(),
    )
    .await
    .unwrap();
    assert_eq!(
        s.processing_mode(&kab).await.unwrap(),
        ProcessingMode::Manual
    );
    s.set_processing_mode(
        &kab,
        ProcessingMode::Automatic,
        dof.id,
        "situation eased",
        &sys(),
    )
    .await
    .unwrap();
    let h = s.processing_mode_history(&kab).await.unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[0].mode, h[0].reason.as_str()),
        (ProcessingMode::Automatic, "situation eased"),
        "newest first"
    );
    assert_eq!(h[1].set_by_name, "do Display");
    let r = s
        .set_processing_mode(
            &AreaCode::parse("AF-NOPE").unwrap(),
            ProcessingMode::Manual,
            dof.id,
            "x",
            &sys(),
        )
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    let audit = s
        .list_audit(&AuditQuery {
            action_prefix: Some("area.processing_mode".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.total, 2);
}

pub async fn travel_requests(s: &dyn Store) {
    seed_geo(s).await;
    let dof = user(s, "do", vec![(Role::DesignatedOfficial, "AF")]).await;
    let sa = user(s, "sa", vec![(Role::SecurityAdviser, "AF")]).await;
    let t = user(s, "traveller", vec![(Role::Traveller, "global")]).await;
    let kab = AreaCode::parse("AF-KAB").unwrap();
    s.set_processing_mode(
        &kab,
        ProcessingMode::Manual,
        dof.id,
        "clearance required",
        &sys(),
    )
    .await
    .unwrap();
    let before = s.list_audit(&AuditQuery::default()).await.unwrap().total;
    let r = s
        .create_travel_request(
            &NewTravelRequest {
                traveller: t.id,
                submitted_by: t.id,
                purpose: TripPurpose::Official,
                ta_number: Some("TA-1".into()),
                legs: vec![leg("AF-HER", 1), leg("AF-KAB", 3)],
            },
            &sys(),
        )
        .await
        .unwrap();
    assert_eq!(r.legs.len(), 2);
    assert_eq!(
        (r.legs[0].seq, r.legs[0].kind, r.legs[0].status),
        (1, LegKind::Notification, LegStatus::Acknowledged)
    );
    assert_eq!(
        (r.legs[1].seq, r.legs[1].kind, r.legs[1].status),
        (2, LegKind::Clearance, LegStatus::Pending)
    );
    assert_eq!(r.legs[1].area_name, "Kabul");
    assert_eq!(r.legs[1].depart, at(3, 6));
    assert_eq!(r.legs[1].arrive_tz.as_deref(), Some("Asia/Kabul"));
    assert_eq!(r.status, TripStatus::Pending);
    assert_eq!(r.traveller_name, "traveller Display");
    assert_eq!(s.get_travel_request(r.id).await.unwrap().unwrap(), r);
    assert!(s
        .get_travel_request(Uuid::now_v7())
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        s.list_audit(&AuditQuery::default()).await.unwrap().total,
        before + 1
    );

    let q = s
        .clearance_queue(&ClearanceQuery {
            country: Some(CountryCode::parse("AF").unwrap()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(q.total, 1);
    assert_eq!((q.items[0].request, q.items[0].leg.seq), (r.id, 2));
    assert_eq!(
        s.clearance_queue(&ClearanceQuery {
            country: Some(CountryCode::parse("ML").unwrap()),
            ..Default::default()
        })
        .await
        .unwrap()
        .total,
        0
    );

    let d = LegDecision {
        request: r.id,
        seq: 2,
        decision: ClearanceDecision::Return,
        grounds: vec![],
        comment: "Which hotel?".into(),
        actor: sa.id,
    };
    let r2 = s.decide_leg(&d, LegStatus::Returned, &sys()).await.unwrap();
    assert_eq!(
        (r2.legs[1].status, r2.status),
        (LegStatus::Returned, TripStatus::Returned)
    );
    assert_eq!(r2.legs[1].decided_by_name.as_deref(), Some("sa Display"));
    assert_eq!(r2.legs[1].comment, "Which hotel?");
    // A decided leg keeps its first decision.
    let d2 = LegDecision {
        decision: ClearanceDecision::Deny,
        grounds: vec![DenialGround::SecuritySituation],
        comment: "no".into(),
        ..d.clone()
    };
    assert!(matches!(
        s.decide_leg(&d2, LegStatus::Denied, &sys()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.get_travel_request(r.id).await.unwrap().unwrap().legs[1].status,
        LegStatus::Returned
    );
    // Unknown request or leg.
    assert!(matches!(
        s.decide_leg(
            &LegDecision {
                seq: 9,
                ..d.clone()
            },
            LegStatus::Granted,
            &sys()
        )
        .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.decide_leg(
            &LegDecision {
                request: Uuid::now_v7(),
                ..d.clone()
            },
            LegStatus::Granted,
            &sys()
        )
        .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        s.clearance_queue(&ClearanceQuery::default())
            .await
            .unwrap()
            .total,
        0
    );

    // A leg into an unknown area writes nothing.
    let n = s.list_audit(&AuditQuery::default()).await.unwrap().total;
    let bad = s
        .create_travel_request(
            &NewTravelRequest {
                traveller: t.id,
                submitted_by: t.id,
                purpose: TripPurpose::Personal,
                ta_number: None,
                legs: vec![leg("AF-HER", 1), leg("AF-NOPE", 2)],
            },
            &sys(),
        )
        .await;
    assert!(matches!(bad, Err(StoreError::NotFound(_))), "{bad:?}");
    assert_eq!(s.list_audit(&AuditQuery::default()).await.unwrap().total, n);
}

pub async fn travel_request_lists(s: &dyn Store) {
    seed_geo(s).await;
    let dof = user(s, "do", vec![(Role::DesignatedOfficial, "AF")]).await;
    let t = user(s, "traveller", vec![(Role::Traveller, "global")]).await;
    let other = user(s, "other", vec![(Role::Traveller, "global")]).await;
    let none = s
        .list_travel_requests(t.id, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!((none.total, none.items.len()), (0, 0));
    s.set_processing_mode(
        &AreaCode::parse("AF-KAB").unwrap(),
        ProcessingMode::Manual,
        dof.id,
        "clearance required",
        &sys(),
    )
    .await
    .unwrap();
    let trip = |who: &User, legs: Vec<NewLeg>| NewTravelRequest {
        traveller: who.id,
        submitted_by: who.id,
        purpose: TripPurpose::Official,
        ta_number: None,
        legs,
    };
    // Submitted one after the other: a, b (two legs), c; and one of someone else.
    let mut mine = vec![];
    for legs in [
        vec![leg("AF-HER", 1)],
        vec![leg("AF-HER", 3), leg("AF-KAB", 4)],
        vec![leg("ML-BKO", 6)],
    ] {
        mine.push(
            s.create_travel_request(&trip(&t, legs), &sys())
                .await
                .unwrap(),
        );
    }
    let theirs = s
        .create_travel_request(&trip(&other, vec![leg("AF-KAB", 8)]), &sys())
        .await
        .unwrap();

    let p = s
        .list_travel_requests(t.id, &PageRequest::new(Some(2), None))
        .await
        .unwrap();
    assert_eq!((p.total, p.limit, p.offset), (3, 2, 0));
    let ids: Vec<Uuid> = p.items.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![mine[2].id, mine[1].id], "newest first");
    // Each item is the whole request, legs in order, as one read would give it.
    assert_eq!(p.items[1], mine[1]);
    assert_eq!(p.items[1].status, TripStatus::Pending);
    assert_eq!(
        p.items[1].legs.iter().map(|l| l.seq).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(
        p.items[0],
        s.get_travel_request(mine[2].id).await.unwrap().unwrap()
    );
    let p2 = s
        .list_travel_requests(t.id, &PageRequest::new(Some(2), Some(2)))
        .await
        .unwrap();
    assert_eq!(p2.total, 3);
    assert_eq!(p2.items, vec![mine[0].clone()]);
    // Only the traveller's own trips.
    let p = s
        .list_travel_requests(other.id, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!((p.total, p.items), (1, vec![theirs]));
    assert_eq!(
        s.list_travel_requests(dof.id, &PageRequest::default())
            .await
            .unwrap()
            .total,
        0
    );
}

pub async fn racing_leg_decisions_keep_the_first(s: &dyn Store) {
    seed_geo(s).await;
    let dof = user(s, "do", vec![(Role::DesignatedOfficial, "AF")]).await;
    let t = user(s, "t", vec![(Role::Traveller, "global")]).await;
    let kab = AreaCode::parse("AF-KAB").unwrap();
    s.set_processing_mode(&kab, ProcessingMode::Manual, dof.id, "x", &sys())
        .await
        .unwrap();
    let r = s
        .create_travel_request(
            &NewTravelRequest {
                traveller: t.id,
                submitted_by: t.id,
                purpose: TripPurpose::Official,
                ta_number: None,
                legs: vec![leg("AF-KAB", 1)],
            },
            &sys(),
        )
        .await
        .unwrap();
    let grant = LegDecision {
        request: r.id,
        seq: 1,
        decision: ClearanceDecision::Grant,
        grounds: vec![],
        comment: String::new(),
        actor: dof.id,
    };
    let deny = LegDecision {
        decision: ClearanceDecision::Deny,
        grounds: vec![DenialGround::SecuritySituation],
        comment: "fighting".into(),
        ..grant.clone()
    };
    let (c1, c2) = (sys(), sys());
    let (a, b) = tokio::join!(
        s.decide_leg(&grant, LegStatus::Granted, &c1),
        s.decide_leg(&deny, LegStatus::Denied, &c2)
    );
    assert!(
        a.is_ok() ^ b.is_ok(),
        "exactly one decision wins: {a:?} {b:?}"
    );
    let final_status = s.get_travel_request(r.id).await.unwrap().unwrap().legs[0].status;
    assert_eq!(
        final_status,
        if a.is_ok() {
            LegStatus::Granted
        } else {
            LegStatus::Denied
        }
    );
}

pub async fn mode_changes_reevaluate_future_legs(s: &dyn Store) {
    seed_geo(s).await;
    let dof = user(s, "do", vec![(Role::DesignatedOfficial, "AF")]).await;
    let t = user(s, "t", vec![(Role::Traveller, "global")]).await;
    let kab = AreaCode::parse("AF-KAB").unwrap();
    let now = now_micros();
    let rel = |code: &str, days: i64| NewLeg {
        depart: now + chrono::Duration::days(days),
        arrive: now + chrono::Duration::days(days) + chrono::Duration::hours(3),
        ..leg(code, 1)
    };
    let trip = |legs: Vec<NewLeg>| NewTravelRequest {
        traveller: t.id,
        submitted_by: t.id,
        purpose: TripPurpose::Official,
        ta_number: None,
        legs,
    };
    let a = s
        .create_travel_request(
            &trip(vec![rel("AF-KAB", -3), rel("AF-KAB", 2), rel("AF-HER", 3)]),
            &sys(),
        )
        .await
        .unwrap();
    assert!(a.legs.iter().all(|l| l.status == LegStatus::Acknowledged));

    // Manual: only the future leg into Kabul becomes a clearance request.
    assert_eq!(
        s.set_processing_mode(&kab, ProcessingMode::Manual, dof.id, "SMT decision", &sys())
            .await
            .unwrap(),
        1
    );
    let a = s.get_travel_request(a.id).await.unwrap().unwrap();
    assert_eq!(
        (a.legs[0].kind, a.legs[0].status),
        (LegKind::Notification, LegStatus::Acknowledged),
        "past legs stay as they were"
    );
    assert_eq!(
        (a.legs[1].kind, a.legs[1].status),
        (LegKind::Clearance, LegStatus::Pending)
    );
    assert_eq!(
        a.legs[2].status,
        LegStatus::Acknowledged,
        "other areas are untouched"
    );
    assert_eq!(a.status, TripStatus::Pending);
    let audit = s
        .list_audit(&AuditQuery {
            action_prefix: Some("area.processing_mode".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        audit.items[0].detail.contains("\"reevaluated_legs\":1"),
        "{}",
        audit.items[0].detail
    );

    // A decided leg keeps its decision; a pending one goes back to a notification.
    s.decide_leg(
        &LegDecision {
            request: a.id,
            seq: 2,
            decision: ClearanceDecision::Grant,
            grounds: vec![],
            comment: String::new(),
            actor: dof.id,
        },
        LegStatus::Granted,
        &sys(),
    )
    .await
    .unwrap();
    let b = s
        .create_travel_request(&trip(vec![rel("AF-KAB", 5)]), &sys())
        .await
        .unwrap();
    assert_eq!(b.legs[0].status, LegStatus::Pending);
    assert_eq!(
        s.set_processing_mode(&kab, ProcessingMode::Automatic, dof.id, "eased", &sys())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.get_travel_request(a.id).await.unwrap().unwrap().legs[1].status,
        LegStatus::Granted
    );
    let b = s.get_travel_request(b.id).await.unwrap().unwrap();
    assert_eq!(
        (b.legs[0].kind, b.legs[0].status, b.status),
        (
            LegKind::Notification,
            LegStatus::Acknowledged,
            TripStatus::Cleared
        )
    );
    // Setting the same mode again changes nothing.
    assert_eq!(
        s.set_processing_mode(&kab, ProcessingMode::Automatic, dof.id, "again", &sys())
            .await
            .unwrap(),
        0
    );
}

// ---------------------------------------------------------------------------
// profiles, travel authorisations, answers, airlines, notifications
// ---------------------------------------------------------------------------

use warden_domain::people::{AirlineCode, Certificate, EmergencyContact, PersonnelCategory};

fn profile(agency: uuid::Uuid, id: &str, name: &str) -> ProfileInput {
    ProfileInput {
        agency,
        personnel_id: id.into(),
        display_name: name.into(),
        email: format!("{}@agency.example", id.to_lowercase()),
        category: PersonnelCategory::InternationalStaff,
        nationality: Some(CountryCode::parse("KE").unwrap()),
        phone: "+254700000000".into(),
        duty_station: Some(AreaCode::parse("AF-KAB").unwrap()),
        emergency_contacts: vec![EmergencyContact {
            name: "Amina".into(),
            relation: "spouse".into(),
            phone: "+254711111111".into(),
            email: String::new(),
        }],
        certificates: vec![Certificate {
            name: "BSAFE".into(),
            completed_on: chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
            expires_on: chrono::NaiveDate::from_ymd_opt(2028, 3, 1),
        }],
    }
}

pub async fn profiles_import_idempotently(s: &dyn Store) {
    seed_geo(s).await;
    let ag = s
        .create_agency(
            &NewAgency {
                code: "WFP".into(),
                name: "World Food Programme".into(),
            },
            &sys(),
        )
        .await
        .unwrap();
    let rows = vec![
        profile(ag.id, "100234", "Ada Lovelace"),
        profile(ag.id, "100235", "Grace Hopper"),
    ];
    let c = s.import_profiles(&rows, &sys()).await.unwrap();
    assert_eq!((c.created, c.updated, c.unchanged), (2, 0, 0));
    // The same file again: nothing written.
    let c = s.import_profiles(&rows, &sys()).await.unwrap();
    assert_eq!((c.created, c.updated, c.unchanged), (0, 0, 2));
    // One row changed.
    let mut changed = rows.clone();
    changed[1].phone = "+254722222222".into();
    changed[1].display_name = "Grace B. Hopper".into();
    let c = s.import_profiles(&changed, &sys()).await.unwrap();
    assert_eq!((c.created, c.updated, c.unchanged), (0, 1, 1));
    let ids = s
        .profile_users(ag.id, &["100235".into(), "999".into()])
        .await
        .unwrap();
    assert_eq!(ids.len(), 1, "unknown ids are simply absent");
    let p = s.get_profile(ids["100235"]).await.unwrap().unwrap();
    assert_eq!(p.display_name, "Grace B. Hopper");
    assert_eq!(p.phone, "+254722222222");
    assert_eq!(p.username, "wfp/100235");
    assert_eq!(p.agency_code, "WFP");
    assert_eq!(p.certificates[0].name, "BSAFE");
    assert_eq!(p.emergency_contacts[0].relation, "spouse");
    assert_eq!(p.duty_station.unwrap().as_str(), "AF-KAB");
    let u = s.get_user(p.user).await.unwrap().unwrap();
    assert_eq!(u.display_name, "Grace B. Hopper");
    assert!(
        u.grants.iter().any(|g| g.role == Role::Traveller),
        "imported people can travel"
    );
    assert_eq!(
        s.list_users(&PageRequest::default()).await.unwrap().total,
        2,
        "no duplicates after three imports"
    );
    // A batch with the same person twice is refused whole.
    let dup = vec![profile(ag.id, "200001", "A"), profile(ag.id, "200001", "B")];
    assert!(matches!(
        s.import_profiles(&dup, &sys()).await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(s
        .profile_users(ag.id, &["200001".into()])
        .await
        .unwrap()
        .is_empty());
}

/// The person corrects their phone and emergency contacts; a re-sent
/// identical import keeps the correction, a changed one replaces it.
pub async fn own_contacts_are_corrected(s: &dyn Store) {
    seed_geo(s).await;
    let ag = s
        .create_agency(
            &NewAgency {
                code: "WFP".into(),
                name: "World Food Programme".into(),
            },
            &sys(),
        )
        .await
        .unwrap();
    let rows = vec![profile(ag.id, "100234", "Ada Lovelace")];
    s.import_profiles(&rows, &sys()).await.unwrap();
    let id = s.profile_users(ag.id, &["100234".into()]).await.unwrap()["100234"];
    let before = s.get_profile(id).await.unwrap().unwrap();
    let update_query = AuditQuery {
        action_prefix: Some("profile.update".into()),
        ..Default::default()
    };
    let updates = || s.list_audit(&update_query);
    assert_eq!(updates().await.unwrap().total, 0);

    let contacts = vec![
        EmergencyContact {
            name: "Amina Lovelace".into(),
            relation: "spouse".into(),
            phone: "+254733333333".into(),
            email: String::new(),
        },
        EmergencyContact {
            name: "Office".into(),
            relation: String::new(),
            phone: String::new(),
            email: "duty@agency.example".into(),
        },
    ];
    let mut ctx = sys();
    ctx.actor = Some(id);
    let p = s
        .update_own_contacts(id, "+93700123456", &contacts, &ctx)
        .await
        .unwrap();
    assert_eq!(p.phone, "+93700123456");
    assert_eq!(p.emergency_contacts, contacts);
    // Nothing else moves.
    assert_eq!(p.certificates, before.certificates);
    assert_eq!(p.duty_station, before.duty_station);
    assert_eq!(p.display_name, before.display_name);
    assert_eq!(p.personnel_id, before.personnel_id);
    assert!(p.updated_at >= before.updated_at);
    assert_eq!(s.get_profile(id).await.unwrap().unwrap(), p, "as stored");
    let entries = updates().await.unwrap();
    assert_eq!(entries.total, 1);
    assert_eq!(entries.items[0].actor, Some(id));
    assert_eq!(entries.items[0].target, format!("user:{id}"));
    assert!(
        !entries.items[0].detail.to_string().contains("+93700123456"),
        "the audit names the fields, not the values"
    );

    // Emptied: no phone, no contacts.
    let p = s.update_own_contacts(id, "", &[], &ctx).await.unwrap();
    assert_eq!(p.phone, "");
    assert!(p.emergency_contacts.is_empty());
    let p = s
        .update_own_contacts(id, "+93700123456", &contacts, &ctx)
        .await
        .unwrap();

    // The legacy system sends the same row again: the correction stays.
    let c = s.import_profiles(&rows, &sys()).await.unwrap();
    assert_eq!((c.created, c.updated, c.unchanged), (0, 0, 1));
    assert_eq!(s.get_profile(id).await.unwrap().unwrap(), p);
    // A changed row from it replaces the correction.
    let mut changed = rows.clone();
    changed[0].phone = "+254744444444".into();
    let c = s.import_profiles(&changed, &sys()).await.unwrap();
    assert_eq!((c.created, c.updated, c.unchanged), (0, 1, 0));
    let q = s.get_profile(id).await.unwrap().unwrap();
    assert_eq!(q.phone, "+254744444444");
    assert_eq!(q.emergency_contacts, rows[0].emergency_contacts);

    // Someone without a profile: NotFound, nothing written.
    let plain = user(s, "plain", vec![(Role::Traveller, "global")]).await;
    let audit = s.list_audit(&AuditQuery::default()).await.unwrap().total;
    assert!(matches!(
        s.update_own_contacts(plain.id, "+41790000000", &contacts, &sys())
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(s.get_profile(plain.id).await.unwrap().is_none());
    assert_eq!(
        s.list_audit(&AuditQuery::default()).await.unwrap().total,
        audit
    );
    assert_eq!(updates().await.unwrap().total, 3);
}

/// An agency with its ERP's user and one traveller (personnel id 7).
async fn erp_agency(s: &dyn Store) -> (Agency, User, Uuid) {
    seed_geo(s).await;
    let ag = s
        .create_agency(
            &NewAgency {
                code: "UNDP".into(),
                name: "UNDP".into(),
            },
            &sys(),
        )
        .await
        .unwrap();
    let erp = user(s, "erp", vec![(Role::AgencyFocalPoint, "global")]).await;
    s.import_profiles(&[profile(ag.id, "7", "Traveller Seven")], &sys())
        .await
        .unwrap();
    let t = s.profile_users(ag.id, &["7".into()]).await.unwrap()["7"];
    (ag, erp, t)
}

pub async fn travel_authorisations_create_update_cancel(s: &dyn Store) {
    let (ag, erp, t) = erp_agency(s).await;
    let dof = user(s, "do", vec![(Role::DesignatedOfficial, "AF")]).await;
    let kab = AreaCode::parse("AF-KAB").unwrap();
    s.set_processing_mode(&kab, ProcessingMode::Manual, dof.id, "SMT", &sys())
        .await
        .unwrap();
    let now = now_micros();
    let rel = |code: &str, days: i64| NewLeg {
        depart: now + chrono::Duration::days(days),
        arrive: now + chrono::Duration::days(days) + chrono::Duration::hours(3),
        carrier: Some(AirlineCode::parse("ET").unwrap()),
        ..leg(code, 1)
    };
    let ta = |n: &str, legs: Vec<NewLeg>, cancelled: bool| TravelAuthorisation {
        ta_number: n.into(),
        traveller: t,
        purpose: TripPurpose::Official,
        cancelled,
        legs,
    };
    let batch = vec![
        ta("TA-1", vec![rel("AF-KAB", 2), rel("AF-HER", 4)], false),
        ta("TA-2", vec![rel("ML-BKO", 3)], false),
    ];
    let r = s
        .apply_travel_authorisations(ag.id, erp.id, &batch, &sys())
        .await
        .unwrap();
    assert_eq!(
        r.iter().map(|x| x.outcome).collect::<Vec<_>>(),
        vec![TaOutcome::Created, TaOutcome::Created]
    );
    let one = s.get_travel_request(r[0].request).await.unwrap().unwrap();
    assert_eq!(one.ta_number.as_deref(), Some("TA-1"));
    assert_eq!(one.agency, Some(ag.id));
    assert_eq!(one.traveller, t);
    assert_eq!(
        one.legs.iter().map(|l| l.status).collect::<Vec<_>>(),
        vec![LegStatus::Pending, LegStatus::Acknowledged],
        "a TA still needs its own clearance in a manual area"
    );
    assert_eq!(one.legs[0].carrier.as_ref().unwrap().as_str(), "ET");

    // The same batch again: nothing changes, nothing is duplicated.
    let again = s
        .apply_travel_authorisations(ag.id, erp.id, &batch, &sys())
        .await
        .unwrap();
    assert!(again.iter().all(|x| x.outcome == TaOutcome::Unchanged));
    assert_eq!(again[0].request, r[0].request);

    // Grant the Kabul leg, then the ERP moves the Herat leg: Kabul keeps its grant.
    s.decide_leg(
        &LegDecision {
            request: r[0].request,
            seq: 1,
            decision: ClearanceDecision::Grant,
            grounds: vec![],
            comment: "ok".into(),
            actor: dof.id,
        },
        LegStatus::Granted,
        &sys(),
    )
    .await
    .unwrap();
    let moved = vec![ta("TA-1", vec![rel("AF-KAB", 2), rel("AF-HER", 6)], false)];
    let u = s
        .apply_travel_authorisations(ag.id, erp.id, &moved, &sys())
        .await
        .unwrap();
    assert_eq!(u[0].outcome, TaOutcome::Updated);
    let one = s.get_travel_request(r[0].request).await.unwrap().unwrap();
    assert_eq!(
        one.legs[0].status,
        LegStatus::Granted,
        "unchanged leg keeps its decision"
    );
    assert_eq!(one.legs[0].decided_by, Some(dof.id));
    assert_eq!(one.legs[1].depart, rel("AF-HER", 6).depart);
    // A changed Kabul leg must be cleared again.
    let moved = vec![ta("TA-1", vec![rel("AF-KAB", 3), rel("AF-HER", 6)], false)];
    s.apply_travel_authorisations(ag.id, erp.id, &moved, &sys())
        .await
        .unwrap();
    let one = s.get_travel_request(r[0].request).await.unwrap().unwrap();
    assert_eq!(one.legs[0].status, LegStatus::Pending);
    assert_eq!(one.legs[0].decided_by, None);

    // Cancelling cancels the trip.
    let c = s
        .apply_travel_authorisations(
            ag.id,
            erp.id,
            &[ta("TA-2", vec![rel("ML-BKO", 3)], true)],
            &sys(),
        )
        .await
        .unwrap();
    assert_eq!(c[0].outcome, TaOutcome::Cancelled);
    let two = s.get_travel_request(r[1].request).await.unwrap().unwrap();
    assert_eq!(two.status, TripStatus::Cancelled);

    // A batch naming one TA twice is refused whole.
    let bad = vec![
        ta("TA-9", vec![rel("ML-BKO", 3)], false),
        ta("TA-9", vec![rel("ML-BKO", 4)], false),
    ];
    assert!(matches!(
        s.apply_travel_authorisations(ag.id, erp.id, &bad, &sys())
            .await,
        Err(StoreError::Invalid { .. })
    ));
    // A traveller's own submission with a TA number is found by the ERP's copy.
    let own = s
        .create_travel_request(
            &NewTravelRequest {
                traveller: t,
                submitted_by: t,
                purpose: TripPurpose::Official,
                ta_number: Some("TA-3".into()),
                legs: vec![rel("ML-BKO", 8)],
            },
            &sys(),
        )
        .await
        .unwrap();
    assert_eq!(own.agency, Some(ag.id));
    let linked = s
        .apply_travel_authorisations(
            ag.id,
            erp.id,
            &[ta("TA-3", vec![rel("ML-BKO", 8)], false)],
            &sys(),
        )
        .await
        .unwrap();
    assert_eq!(linked[0].request, own.id, "no double input");
    assert!(matches!(
        s.create_travel_request(
            &NewTravelRequest {
                traveller: t,
                submitted_by: t,
                purpose: TripPurpose::Official,
                ta_number: Some("TA-3".into()),
                legs: vec![rel("ML-BKO", 9)],
            },
            &sys(),
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
}

/// Loads of TAs (`begin_ta_load`): a whole load is seen by nobody until
/// it finishes, and one abandoned (dropped, or after a batch fails) leaves
/// nothing behind; a load by batches keeps each batch as it is applied.
pub async fn travel_authorisation_loads(s: &dyn Store) {
    let (ag, erp, t) = erp_agency(s).await;
    let now = now_micros();
    let ta = |n: usize, traveller: Uuid| TravelAuthorisation {
        ta_number: format!("TA-{n}"),
        traveller,
        purpose: TripPurpose::Official,
        cancelled: false,
        legs: vec![NewLeg {
            depart: now + chrono::Duration::days(n as i64),
            arrive: now + chrono::Duration::days(n as i64) + chrono::Duration::hours(3),
            ..leg("AF-KAB", 1)
        }],
    };
    let trips = || async {
        s.list_travel_requests(
            t,
            &PageRequest {
                limit: 100,
                offset: 0,
            },
        )
        .await
        .unwrap()
        .total
    };
    assert_eq!(s.legs_stored().await.unwrap(), 0);
    let audit = s.list_audit(&AuditQuery::default()).await.unwrap().total;

    // Dropped unfinished: nothing.
    let mut load = s
        .begin_ta_load(ag.id, erp.id, TaLoadMode::Whole, &sys())
        .await
        .unwrap();
    let r = load.apply(&[ta(1, t), ta(2, t)]).await.unwrap();
    assert!(r.iter().all(|x| x.outcome == TaOutcome::Created));
    drop(load);
    assert_eq!(trips().await, 0);

    // A batch that fails (an unknown traveller) ends the load: nothing.
    let mut load = s
        .begin_ta_load(ag.id, erp.id, TaLoadMode::Whole, &sys())
        .await
        .unwrap();
    load.apply(&[ta(1, t), ta(2, t)]).await.unwrap();
    assert!(load.apply(&[ta(3, Uuid::now_v7())]).await.is_err());
    drop(load);
    assert_eq!(trips().await, 0);
    assert_eq!(
        s.list_audit(&AuditQuery::default()).await.unwrap().total,
        audit
    );

    // Finished: everything at once, and not before.
    let mut load = s
        .begin_ta_load(ag.id, erp.id, TaLoadMode::Whole, &sys())
        .await
        .unwrap();
    load.apply(&[ta(1, t), ta(2, t)]).await.unwrap();
    let r = load.apply(&[ta(3, t), ta(1, t)]).await.unwrap();
    assert_eq!(
        r.iter().map(|x| x.outcome).collect::<Vec<_>>(),
        vec![TaOutcome::Created, TaOutcome::Unchanged]
    );
    assert_eq!(trips().await, 0, "a whole load is seen at its end");
    load.finish().await.unwrap();
    assert_eq!(trips().await, 3);
    assert_eq!(s.legs_stored().await.unwrap(), 3);
    let one = s.get_travel_request(r[1].request).await.unwrap().unwrap();
    assert_eq!(one.ta_number.as_deref(), Some("TA-1"));
    assert_eq!(one.legs[0].status, LegStatus::Acknowledged);

    // By batches: each batch kept as it is applied, also when a later one
    // fails.
    let mut load = s
        .begin_ta_load(ag.id, erp.id, TaLoadMode::Batches, &sys())
        .await
        .unwrap();
    let r = load.apply(&[ta(4, t), ta(1, t)]).await.unwrap();
    assert_eq!(
        r.iter().map(|x| x.outcome).collect::<Vec<_>>(),
        vec![TaOutcome::Created, TaOutcome::Unchanged]
    );
    assert_eq!(trips().await, 4);
    assert!(load.apply(&[ta(5, Uuid::now_v7())]).await.is_err());
    drop(load);
    assert_eq!(trips().await, 4);
}

pub async fn returned_legs_are_answered(s: &dyn Store) {
    seed_geo(s).await;
    let dof = user(s, "do", vec![(Role::DesignatedOfficial, "AF")]).await;
    let sa = user(s, "sa", vec![(Role::SecurityAdviser, "AF")]).await;
    let t = user(s, "t", vec![(Role::Traveller, "global")]).await;
    let kab = AreaCode::parse("AF-KAB").unwrap();
    s.set_processing_mode(&kab, ProcessingMode::Manual, dof.id, "SMT", &sys())
        .await
        .unwrap();
    let now = now_micros();
    let r = s
        .create_travel_request(
            &NewTravelRequest {
                traveller: t.id,
                submitted_by: t.id,
                purpose: TripPurpose::Official,
                ta_number: None,
                legs: vec![NewLeg {
                    depart: now + chrono::Duration::days(2),
                    arrive: now + chrono::Duration::days(2) + chrono::Duration::hours(2),
                    ..leg("AF-KAB", 1)
                }],
            },
            &sys(),
        )
        .await
        .unwrap();
    // Answering a leg that was not returned is a conflict.
    assert!(matches!(
        s.answer_leg(r.id, 1, "here", &sys()).await,
        Err(StoreError::Conflict(_))
    ));
    s.decide_leg(
        &LegDecision {
            request: r.id,
            seq: 1,
            decision: ClearanceDecision::Return,
            grounds: vec![],
            comment: "Which hotel?".into(),
            actor: sa.id,
        },
        LegStatus::Returned,
        &sys(),
    )
    .await
    .unwrap();
    let note = s
        .list_notifications(t.id, true, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(note.total, 1, "the traveller is told of the return");
    assert_eq!(note.items[0].kind, "leg_decided");
    assert!(note.items[0].body.contains("Which hotel?"));
    let a = s
        .answer_leg(r.id, 1, "Serena Hotel, room booked", &sys())
        .await
        .unwrap();
    assert_eq!(a.legs[0].status, LegStatus::Pending, "resubmitted");
    assert_eq!(a.legs[0].answer, "Serena Hotel, room booked");
    assert!(a.legs[0].answered_at.is_some());
    assert_eq!(a.legs[0].decided_by, None);
    assert_eq!(
        a.legs[0].comment, "Which hotel?",
        "the question stays visible"
    );
    let sa_notes = s
        .list_notifications(sa.id, true, &PageRequest::default())
        .await
        .unwrap();
    assert!(sa_notes.items.iter().any(|n| n.kind == "leg_answered"));
    assert!(matches!(
        s.answer_leg(r.id, 1, "again", &sys()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.answer_leg(r.id, 7, "x", &sys()).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn approved_airline_lists(s: &dyn Store) {
    let admin = user(s, "admin", vec![(Role::Administrator, "global")]).await;
    let ctx = AuditContext {
        actor: Some(admin.id),
        actor_name: "admin".into(),
        ip: None,
        at: now_micros(),
    };
    assert!(s.airline_list(None).await.unwrap().is_none());
    let air = |c: &str, n: &str| ApprovedAirline {
        code: AirlineCode::parse(c).unwrap(),
        name: n.into(),
    };
    let today = chrono::Utc::now().date_naive();
    let this_month = chrono::NaiveDate::from_ymd_opt(
        chrono::Datelike::year(&today),
        chrono::Datelike::month(&today),
        1,
    )
    .unwrap();
    let last_month = this_month - chrono::Months::new(1);
    let next_month = this_month + chrono::Months::new(1);
    s.publish_airline_list(
        last_month,
        &[air("ET", "Ethiopian Airlines"), air("KQ", "Kenya Airways")],
        "",
        &ctx,
    )
    .await
    .unwrap();
    s.publish_airline_list(next_month, &[air("ET", "Ethiopian Airlines")], "", &ctx)
        .await
        .unwrap();
    let cur = s.airline_list(None).await.unwrap().unwrap();
    assert_eq!(cur.month, last_month, "a future month is not yet in force");
    assert_eq!(cur.airlines.len(), 2);
    // Republishing replaces the month's list.
    s.publish_airline_list(
        this_month,
        &[air("ET", "Ethiopian Airlines"), air("5Y", "Atlas Air")],
        "quarterly review",
        &ctx,
    )
    .await
    .unwrap();
    let l = s
        .publish_airline_list(this_month, &[air("ET", "Ethiopian Airlines")], "fix", &ctx)
        .await
        .unwrap();
    assert_eq!(l.airlines.len(), 1);
    assert_eq!(l.note, "fix");
    assert_eq!(l.published_by, admin.id);
    let cur = s.airline_list(None).await.unwrap().unwrap();
    assert_eq!(cur.month, this_month);
    let months = s.airline_lists().await.unwrap();
    assert_eq!(
        months
            .iter()
            .map(|m| (m.month, m.count))
            .collect::<Vec<_>>(),
        vec![(next_month, 1), (this_month, 1), (last_month, 2)],
        "history, newest first"
    );
    assert_eq!(
        s.airline_list(Some(last_month))
            .await
            .unwrap()
            .unwrap()
            .airlines[1]
            .code
            .as_str(),
        "KQ"
    );
}

pub async fn notifications_and_email_outbox(s: &dyn Store) {
    seed_geo(s).await;
    let dof = user(s, "do", vec![(Role::DesignatedOfficial, "AF")]).await;
    let sa = user(s, "sa", vec![(Role::SecurityAdviser, "AF-KAB")]).await;
    let other_sa = user(s, "sa2", vec![(Role::SecurityAdviser, "ML")]).await;
    let t1 = user(s, "t1", vec![(Role::Traveller, "global")]).await;
    let t2 = user(s, "t2", vec![(Role::Traveller, "global")]).await;
    let kab = AreaCode::parse("AF-KAB").unwrap();
    let now = now_micros();
    let rel = |code: &str, days: i64| NewLeg {
        depart: now + chrono::Duration::days(days),
        arrive: now + chrono::Duration::days(days) + chrono::Duration::hours(3),
        ..leg(code, 1)
    };
    for (t, legs) in [
        (
            &t1,
            vec![rel("AF-KAB", 2), rel("AF-HER", 3), rel("AF-KAB", 4)],
        ),
        (&t2, vec![rel("AF-KAB", -2)]),
        (&t2, vec![rel("ML-BKO", 2)]),
    ] {
        s.create_travel_request(
            &NewTravelRequest {
                traveller: t.id,
                submitted_by: t.id,
                purpose: TripPurpose::Official,
                ta_number: None,
                legs,
            },
            &sys(),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        s.set_processing_mode(&kab, ProcessingMode::Manual, dof.id, "SMT", &sys())
            .await
            .unwrap(),
        2
    );
    let n1 = s
        .list_notifications(t1.id, false, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(n1.total, 1, "one notification per trip, not per leg");
    assert_eq!(n1.items[0].kind, "leg_reevaluated");
    assert!(
        n1.items[0].subject.contains("Kabul"),
        "{}",
        n1.items[0].subject
    );
    assert!(n1.items[0].link.starts_with("/trips/"));
    assert_eq!(n1.items[0].email_state, "pending");
    assert_eq!(
        s.list_notifications(t2.id, false, &PageRequest::default())
            .await
            .unwrap()
            .total,
        0,
        "past legs and other areas are not re-evaluated"
    );
    let sa_n = s
        .list_notifications(sa.id, false, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(sa_n.total, 1, "the area's adviser is told");
    assert_eq!(sa_n.items[0].kind, "clearances_added");
    assert_eq!(
        s.list_notifications(other_sa.id, false, &PageRequest::default())
            .await
            .unwrap()
            .total,
        0
    );

    // The outbox: claim, send, fail and retry.
    let later = now + chrono::Duration::seconds(1);
    let batch = s.claim_emails(10, later).await.unwrap();
    assert_eq!(batch.len(), 2, "the traveller's and the adviser's");
    assert!(batch.iter().any(|e| e.to == "t1@example.org"));
    assert!(
        s.claim_emails(10, later).await.unwrap().is_empty(),
        "claimed e-mails are not handed out twice"
    );
    let (ok, ko) = (&batch[0], &batch[1]);
    s.finish_email(ok.id, Ok(()), later).await.unwrap();
    s.finish_email(ko.id, Err("421 try later".into()), later)
        .await
        .unwrap();
    assert!(
        s.claim_emails(10, later).await.unwrap().is_empty(),
        "a failure waits before the retry"
    );
    let retry = s
        .claim_emails(10, later + chrono::Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!((retry[0].id, retry[0].attempts), (ko.id, 2));
    // A crashed mailer's claim expires.
    let again = s
        .claim_emails(10, later + chrono::Duration::minutes(10))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 3);

    // Read marks.
    assert_eq!(
        s.mark_notifications_read(t1.id, &[], later).await.unwrap(),
        1
    );
    assert_eq!(
        s.list_notifications(t1.id, true, &PageRequest::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        s.mark_notifications_read(t2.id, &[n1.items[0].id], later)
            .await
            .unwrap(),
        0,
        "nobody marks another's notification"
    );

    // An approved level change tells travellers with future legs there.
    let sa_full = user(s, "sa3", vec![(Role::SecurityAdviser, "AF")]).await;
    let desk = user(s, "desk", vec![(Role::RegionalDesk, "AF")]).await;
    let a = submit(s, &sa_full, "AF-KAB", 4).await;
    let smt = user(s, "smt", vec![(Role::SmtMember, "AF")]).await;
    for (actor, action, to, from, consulted) in [
        (
            &desk,
            AssessmentAction::Validate,
            AssessmentStatus::Validated,
            AssessmentStatus::Submitted,
            vec![],
        ),
        (
            &dof,
            AssessmentAction::Approve,
            AssessmentStatus::Approved,
            AssessmentStatus::Validated,
            vec![smt.id],
        ),
    ] {
        s.apply_assessment_action(&step(a.id, action, to, actor, consulted), from, &sys())
            .await
            .unwrap();
    }
    let n1 = s
        .list_notifications(t1.id, true, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(n1.total, 1);
    assert_eq!(n1.items[0].kind, "level_changed");
    assert!(n1.items[0].body.contains("level 4") || n1.items[0].subject.contains('4'));
}
