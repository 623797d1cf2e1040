//! The eTA part of the conformance suite: devices, areas without
//! coordinates, positions only under tracking, the 96-hour purge and
//! freezes, deletion on request, audited access, alerts.

use crate::testsuite::{seed_geo, step, submit, sys, user};
use crate::*;
use chrono::Duration;
use warden_domain::eta::{
    AlertSeverity, FreezeRequest, LocationReport, TrackingRequest, Wellbeing,
};
use warden_domain::{AssessmentAction, AssessmentStatus, Role};

pub async fn run_all<S: Store, F, Fut>(fresh: &F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    devices_and_tokens(&fresh().await).await;
    areas_are_kept_without_coordinates(&fresh().await).await;
    positions_only_under_tracking(&fresh().await).await;
    purge_keeps_frozen_data_only(&fresh().await).await;
    deletion_on_request_spares_frozen_data(&fresh().await).await;
    access_to_positions_is_audited(&fresh().await).await;
    alerts_reach_everyone_in_the_area(&fresh().await).await;
    level_changes_reach_phones_in_the_area(&fresh().await).await;
    alerts_text_people_without_smartphones(&fresh().await).await;
    concurrent_batches_settle_as_if_one_by_one(&fresh().await).await;
    undertakings_and_wellbeing(&fresh().await).await;
}

fn kab() -> AreaCode {
    AreaCode::parse("AF-KAB").unwrap()
}
fn her() -> AreaCode {
    AreaCode::parse("AF-HER").unwrap()
}

async fn device(s: &dyn Store, u: &User, token: &str) -> Device {
    s.create_device(
        &NewDevice {
            user: u.id,
            name: format!("{}'s phone", u.username),
            platform: "owntracks".into(),
            token_digest: format!("digest-{token}"),
        },
        &sys(),
    )
    .await
    .unwrap()
}

fn report(at: DateTime<Utc>, area: Option<AreaCode>) -> ResolvedReport {
    ResolvedReport {
        report: LocationReport {
            lat: 34.53,
            lon: 69.17,
            accuracy_m: Some(10.0),
            recorded_at: at,
        },
        area,
    }
}

async fn send(
    s: &dyn Store,
    d: &Device,
    reports: Vec<ResolvedReport>,
    now: DateTime<Utc>,
) -> Result<IngestOutcome> {
    s.ingest_locations(&LocationBatch {
        device: d.id,
        user: d.user,
        reports,
        received_at: now,
    })
    .await
}

async fn track(
    s: &dyn Store,
    dof: &User,
    area: AreaCode,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> TrackingAuthorisation {
    s.authorise_tracking(
        &NewTracking {
            request: TrackingRequest {
                area,
                starts_at,
                ends_at,
                reason: "Armed clashes near the compound".into(),
            },
            authorised_by: dof.id,
        },
        &sys(),
    )
    .await
    .unwrap()
}

async fn positions_of(s: &dyn Store, u: &User) -> Vec<Position> {
    s.held_location_data(u.id).await.unwrap().positions
}

pub async fn devices_and_tokens(s: &dyn Store) {
    seed_geo(s).await;
    let t = user(s, "t", vec![(Role::Traveller, "global")]).await;
    let other = user(s, "o", vec![(Role::Traveller, "global")]).await;
    let d1 = device(s, &t, "a").await;
    let d2 = device(s, &t, "b").await;
    let (found, who) = s.device_by_token("digest-a").await.unwrap().unwrap();
    assert_eq!(found.id, d1.id);
    assert_eq!(who.id, t.id);
    assert!(s.device_by_token("digest-zzz").await.unwrap().is_none());
    // The most recently used device is listed first: the active one.
    let now = now_micros();
    send(s, &d2, vec![report(now, Some(kab()))], now)
        .await
        .unwrap();
    let list = s.list_devices(t.id).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].id, d2.id);
    assert!(list[0].last_seen_at.is_some());
    send(
        s,
        &d1,
        vec![report(now + Duration::seconds(1), Some(kab()))],
        now + Duration::seconds(1),
    )
    .await
    .unwrap();
    assert_eq!(s.list_devices(t.id).await.unwrap()[0].id, d1.id);
    // Someone else cannot revoke it; the owner can, and the token dies.
    assert!(matches!(
        s.revoke_device(other.id, d1.id, &sys()).await,
        Err(StoreError::NotFound(_))
    ));
    s.revoke_device(t.id, d1.id, &sys()).await.unwrap();
    assert!(s.device_by_token("digest-a").await.unwrap().is_none());
    assert!(s.list_devices(t.id).await.unwrap()[1].revoked_at.is_some());
    // A revoked device's reports are refused and change nothing.
    let before = s.last_location(t.id).await.unwrap();
    let r = send(
        s,
        &d1,
        vec![report(now + Duration::seconds(5), Some(her()))],
        now,
    )
    .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert_eq!(s.last_location(t.id).await.unwrap(), before);
}

pub async fn areas_are_kept_without_coordinates(s: &dyn Store) {
    seed_geo(s).await;
    let t = user(s, "t", vec![(Role::Traveller, "global")]).await;
    let d = device(s, &t, "a").await;
    let t0 = now_micros() - Duration::minutes(30);
    let out = send(
        s,
        &d,
        vec![
            report(t0, Some(kab())),
            report(t0 + Duration::minutes(1), Some(kab())),
        ],
        t0 + Duration::minutes(2),
    )
    .await
    .unwrap();
    assert_eq!(out.accepted, 2);
    assert_eq!(out.positions_kept, 0);
    assert_eq!(out.area, Some(kab()));
    assert_eq!(out.entered, Some(kab()));
    let held = s.held_location_data(t.id).await.unwrap();
    assert!(held.positions.is_empty(), "no coordinates outside tracking");
    let last = held.last_location.unwrap();
    assert_eq!(last.area, Some(kab()));
    assert_eq!(last.since, t0);
    assert_eq!(last.reported_at, t0 + Duration::minutes(1));
    // The person was told the advisory of the area entered, once.
    let notes = s
        .list_notifications(t.id, false, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(notes.total, 1);
    assert_eq!(notes.items[0].kind, "eta.area_entered");
    assert!(
        notes.items[0].subject.contains("Kabul"),
        "{}",
        notes.items[0].subject
    );
    let out = send(
        s,
        &d,
        vec![report(t0 + Duration::minutes(5), Some(kab()))],
        t0,
    )
    .await
    .unwrap();
    assert_eq!(out.entered, None);
    assert_eq!(s.last_location(t.id).await.unwrap().unwrap().since, t0);
    // A late batch recorded before the latest one does not move the person back.
    let out = send(
        s,
        &d,
        vec![report(t0 - Duration::minutes(5), Some(her()))],
        t0,
    )
    .await
    .unwrap();
    assert_eq!(out.entered, None);
    assert_eq!(out.area, Some(kab()));
    assert_eq!(
        s.last_location(t.id).await.unwrap().unwrap().area,
        Some(kab())
    );
    // Moving on: a new area, a new advisory.
    let out = send(
        s,
        &d,
        vec![report(t0 + Duration::minutes(9), Some(her()))],
        t0,
    )
    .await
    .unwrap();
    assert_eq!(out.entered, Some(her()));
    let last = s.last_location(t.id).await.unwrap().unwrap();
    assert_eq!(
        (last.area, last.since),
        (Some(her()), t0 + Duration::minutes(9))
    );
    // Outside every area (at sea): known to be nowhere we cover.
    let out = send(s, &d, vec![report(t0 + Duration::minutes(20), None)], t0)
        .await
        .unwrap();
    assert_eq!(out.area, None);
    assert_eq!(s.last_location(t.id).await.unwrap().unwrap().area, None);
    assert_eq!(
        s.list_notifications(t.id, false, &PageRequest::default())
            .await
            .unwrap()
            .total,
        2
    );
}

pub async fn positions_only_under_tracking(s: &dyn Store) {
    seed_geo(s).await;
    let dof = user(s, "do", vec![(Role::DesignatedOfficial, "AF")]).await;
    let t = user(s, "t", vec![(Role::Traveller, "global")]).await;
    let d = device(s, &t, "a").await;
    let now = now_micros();
    let auth = track(
        s,
        &dof,
        kab(),
        now - Duration::hours(1),
        now + Duration::hours(1),
    )
    .await;
    assert_eq!(auth.area_name, "Kabul");
    assert_eq!(auth.authorised_by_name, "do Display");
    assert!(auth.active_at(now));
    let out = send(
        s,
        &d,
        vec![
            report(now - Duration::minutes(90), Some(kab())), // before the window
            report(now - Duration::minutes(10), Some(her())), // another area
            report(now - Duration::minutes(5), Some(kab())),  // kept
            report(now - Duration::minutes(4), None),         // nowhere
        ],
        now,
    )
    .await
    .unwrap();
    assert_eq!((out.accepted, out.positions_kept), (4, 1));
    let p = positions_of(s, &t).await;
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].area, kab());
    assert_eq!(p[0].recorded_at, now - Duration::minutes(5));
    assert_eq!(
        (p[0].lat, p[0].lon, p[0].accuracy_m),
        (34.53, 69.17, Some(10.0))
    );
    assert_eq!(p[0].tracking, auth.id);
    // Oversight lists what is in force.
    let active = s
        .list_tracking(
            &TrackingQuery {
                active_at: Some(now),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(active.total, 1);
    // Ended early: later reports are not kept; ending twice is a conflict.
    let ended = s
        .end_tracking(auth.id, dof.id, "Situation calm", &sys())
        .await
        .unwrap();
    assert!(ended.ended_at.is_some());
    assert_eq!(ended.end_reason.as_deref(), Some("Situation calm"));
    assert!(matches!(
        s.end_tracking(auth.id, dof.id, "again", &sys()).await,
        Err(StoreError::Conflict(_))
    ));
    let later = now_micros() + Duration::seconds(1);
    let out = send(s, &d, vec![report(later, Some(kab()))], later)
        .await
        .unwrap();
    assert_eq!(out.positions_kept, 0);
    assert_eq!(positions_of(s, &t).await.len(), 1);
    let active = s
        .list_tracking(
            &TrackingQuery {
                active_at: Some(later),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(active.total, 0);
    let all = s
        .list_tracking(&TrackingQuery::default(), &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.total, 1);
    assert_eq!(
        s.get_tracking(auth.id).await.unwrap().unwrap().ended_by,
        Some(dof.id)
    );
}

/// Positions recorded `hours_ago`, under a tracking window covering them.
async fn old_positions(s: &dyn Store, d: &Device, now: DateTime<Utc>, hours_ago: &[i64]) {
    let reports = hours_ago
        .iter()
        .map(|h| report(now - Duration::hours(*h), Some(kab())))
        .collect();
    let out = send(s, d, reports, now).await.unwrap();
    assert_eq!(out.positions_kept as usize, hours_ago.len());
}

async fn purge_all(s: &dyn Store, cutoff: DateTime<Utc>) -> PurgeChunk {
    let mut total = PurgeChunk::default();
    let mut after = None;
    for _ in 0..50 {
        let c = s.purge_locations(cutoff, after, 1).await.unwrap();
        total.positions += c.positions;
        total.last_locations += c.last_locations;
        match c.next {
            Some(n) => after = Some(n),
            None => return total,
        }
    }
    panic!("the purge must make progress");
}

pub async fn purge_keeps_frozen_data_only(s: &dyn Store) {
    seed_geo(s).await;
    let dof = user(s, "do", vec![(Role::DesignatedOfficial, "AF")]).await;
    let inv = user(s, "inv", vec![(Role::Investigator, "global")]).await;
    let a = user(s, "a", vec![(Role::Traveller, "global")]).await;
    let b = user(s, "b", vec![(Role::Traveller, "global")]).await;
    let (da, db) = (device(s, &a, "a").await, device(s, &b, "b").await);
    let now = now_micros();
    track(
        s,
        &dof,
        kab(),
        now - Duration::hours(200),
        now + Duration::hours(1),
    )
    .await;
    // 120 h, 110 h, 100 h old (due), and 10 h, 1 h (kept).
    old_positions(s, &da, now, &[120, 110, 100, 10, 1]).await;
    old_positions(s, &db, now, &[120, 110, 100, 10, 1]).await;
    // a's 105-125 h are frozen for an investigation.
    let freeze = s
        .create_freeze(
            &NewFreeze {
                request: FreezeRequest {
                    person: a.id,
                    from: now - Duration::hours(125),
                    to: now - Duration::hours(105),
                    case_reference: "INV-2026-031".into(),
                    reason: "Road incident under investigation".into(),
                },
                created_by: inv.id,
            },
            &sys(),
        )
        .await
        .unwrap();
    assert_eq!(freeze.person_name, "a Display");
    assert_eq!(freeze.created_by_name, "inv Display");
    let cutoff = now - Duration::hours(96);
    let done = purge_all(s, cutoff).await;
    assert_eq!(done.positions, 4, "a's 100 h and b's 120/110/100 h");
    let mut ages: Vec<i64> = positions_of(s, &a)
        .await
        .iter()
        .map(|p| (now - p.recorded_at).num_hours())
        .collect();
    ages.sort();
    assert_eq!(ages, vec![1, 10, 110, 120], "the frozen ones survive");
    assert_eq!(positions_of(s, &b).await.len(), 2);
    // The freeze is listed, for the person and for the agency view.
    let listed = s
        .list_freezes(&FreezeQuery {
            person: Some(a.id),
            active_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    // Lifted: the 96-hour rule applies again.
    let lifted = s
        .lift_freeze(freeze.id, inv.id, "Case closed", &sys())
        .await
        .unwrap();
    assert!(lifted.lifted_at.is_some());
    assert!(matches!(
        s.lift_freeze(freeze.id, inv.id, "again", &sys()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(purge_all(s, cutoff).await.positions, 2);
    assert_eq!(positions_of(s, &a).await.len(), 2);
    // Last locations older than the cutoff go too (here: none yet).
    let stale = user(s, "stale", vec![(Role::Traveller, "global")]).await;
    let ds = device(s, &stale, "s").await;
    send(
        s,
        &ds,
        vec![report(now - Duration::hours(97), Some(her()))],
        now,
    )
    .await
    .unwrap();
    assert!(s.last_location(stale.id).await.unwrap().is_some());
    assert_eq!(purge_all(s, cutoff).await.last_locations, 1);
    assert!(s.last_location(stale.id).await.unwrap().is_none());
    assert!(s.last_location(a.id).await.unwrap().is_some());
}

pub async fn deletion_on_request_spares_frozen_data(s: &dyn Store) {
    seed_geo(s).await;
    let dof = user(s, "do", vec![(Role::DesignatedOfficial, "AF")]).await;
    let inv = user(s, "inv", vec![(Role::Investigator, "global")]).await;
    let a = user(s, "a", vec![(Role::Traveller, "global")]).await;
    let da = device(s, &a, "a").await;
    let now = now_micros();
    track(
        s,
        &dof,
        kab(),
        now - Duration::hours(20),
        now + Duration::hours(1),
    )
    .await;
    old_positions(s, &da, now, &[15, 10, 5, 1]).await;
    s.create_freeze(
        &NewFreeze {
            request: FreezeRequest {
                person: a.id,
                from: now - Duration::hours(12),
                to: now - Duration::hours(8),
                case_reference: "INV-9".into(),
                reason: "Assault reported at the checkpoint".into(),
            },
            created_by: inv.id,
        },
        &sys(),
    )
    .await
    .unwrap();
    let out = s.delete_location_data(a.id, &sys()).await.unwrap();
    assert_eq!(out.positions_deleted, 3);
    assert_eq!(out.positions_frozen, 1);
    assert!(out.last_location_deleted);
    let held = s.held_location_data(a.id).await.unwrap();
    assert_eq!(held.positions.len(), 1);
    assert_eq!((now - held.positions[0].recorded_at).num_hours(), 10);
    assert!(held.last_location.is_none());
    assert_eq!(held.freezes.len(), 1);
    assert_eq!(held.devices.len(), 1);
    let audit = s
        .list_audit(&AuditQuery {
            action_prefix: Some("location.delete".into()),
            target: None,
            actor: None,
            page: PageRequest::default(),
        })
        .await
        .unwrap();
    assert_eq!(audit.total, 1);
}

pub async fn access_to_positions_is_audited(s: &dyn Store) {
    seed_geo(s).await;
    let dof = user(s, "do", vec![(Role::DesignatedOfficial, "AF")]).await;
    let a = user(s, "a", vec![(Role::Traveller, "global")]).await;
    let b = user(s, "b", vec![(Role::Traveller, "global")]).await;
    let now = now_micros();
    track(
        s,
        &dof,
        kab(),
        now - Duration::hours(2),
        now + Duration::hours(1),
    )
    .await;
    old_positions(s, &device(s, &a, "a").await, now, &[1]).await;
    old_positions(s, &device(s, &b, "b").await, now, &[1]).await;
    let mut ctx = sys();
    ctx.actor = Some(dof.id);
    ctx.actor_name = "do".into();
    let all = s
        .positions_in_area(&kab(), now - Duration::hours(3), now, &|_| true, &ctx)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    // The caller's rule decides per person; nobody visible, nothing shown.
    let none = s
        .positions_in_area(&kab(), now - Duration::hours(3), now, &|_| false, &ctx)
        .await
        .unwrap();
    assert!(none.is_empty());
    let audit = s
        .list_audit(&AuditQuery {
            action_prefix: Some("location.view".into()),
            target: None,
            actor: Some(dof.id),
            page: PageRequest::default(),
        })
        .await
        .unwrap();
    assert_eq!(audit.total, 2, "every access is written down");
    assert_eq!(audit.items[0].target, "area:AF-KAB");
}

pub async fn alerts_reach_everyone_in_the_area(s: &dyn Store) {
    seed_geo(s).await;
    let sa = user(s, "sa", vec![(Role::SecurityAdviser, "AF")]).await;
    let now = now_micros();
    let mut people = vec![];
    for (i, (area, hours_ago)) in [(kab(), 0), (kab(), 1), (kab(), 30), (her(), 0)]
        .into_iter()
        .enumerate()
    {
        let u = user(s, &format!("p{i}"), vec![(Role::Traveller, "global")]).await;
        let d = device(s, &u, &format!("p{i}")).await;
        send(
            s,
            &d,
            vec![report(now - Duration::hours(hours_ago), Some(area))],
            now,
        )
        .await
        .unwrap();
        people.push(u);
    }
    let alert = s
        .issue_alert(
            &NewGeoAlert {
                area: kab(),
                headline: "Road closed at Pul-e-Charkhi".into(),
                description: "Security operation under way".into(),
                instruction: "Avoid the eastern road; stay indoors".into(),
                severity: AlertSeverity::Severe,
                expires_at: now + Duration::hours(6),
                issued_by: sa.id,
            },
            now - Duration::hours(24),
            &sys(),
        )
        .await
        .unwrap();
    assert_eq!(
        alert.recipients, 2,
        "the two fresh in Kabul, not the stale one"
    );
    assert_eq!(alert.area_name, "Kabul");
    assert_eq!(alert.issued_by_name, "sa Display");
    for (i, u) in people.iter().enumerate() {
        let n = s
            .list_notifications(u.id, true, &PageRequest::default())
            .await
            .unwrap();
        let got = n.items.iter().any(|n| n.kind == "eta.alert");
        assert_eq!(got, i < 2, "person {i}");
    }
    assert_eq!(s.get_alert(alert.id).await.unwrap().unwrap(), alert);
    let list = s
        .list_alerts(Some(&kab()), &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(list.total, 1);
    assert_eq!(
        s.list_alerts(Some(&her()), &PageRequest::default())
            .await
            .unwrap()
            .total,
        0
    );
}

pub async fn undertakings_and_wellbeing(s: &dyn Store) {
    seed_geo(s).await;
    let sa = user(s, "sa", vec![(Role::SecurityAdviser, "AF")]).await;
    assert!(s.undertaking(sa.id).await.unwrap().is_none());
    let u = s
        .accept_undertaking(sa.id, "2026-11", &sys())
        .await
        .unwrap();
    assert_eq!(u.version, "2026-11");
    assert_eq!(
        s.undertaking(sa.id).await.unwrap().unwrap().version,
        "2026-11"
    );
    let t = user(s, "t", vec![(Role::Traveller, "global")]).await;
    let d = device(s, &t, "t").await;
    let now = now_micros();
    send(s, &d, vec![report(now, Some(kab()))], now)
        .await
        .unwrap();
    assert!(s.latest_wellbeing(t.id).await.unwrap().is_none());
    let r = s
        .record_wellbeing(
            &NewWellbeing {
                user: t.id,
                status: Wellbeing::NeedHelp,
                dependants: vec![DependantStatus {
                    name: "Amina".into(),
                    status: Wellbeing::Safe,
                }],
                note: "Car broke down near the airport".into(),
                channel: "web".into(),
            },
            &sys(),
        )
        .await
        .unwrap();
    assert_eq!(r.area, Some(kab()));
    assert_eq!(s.latest_wellbeing(t.id).await.unwrap().unwrap(), r);
}

pub async fn level_changes_reach_phones_in_the_area(s: &dyn Store) {
    seed_geo(s).await;
    let sa = user(s, "sa", vec![(Role::SecurityAdviser, "AF")]).await;
    let desk = user(s, "desk", vec![(Role::RegionalDesk, "AF")]).await;
    let dof = user(s, "do", vec![(Role::DesignatedOfficial, "AF")]).await;
    let smt = user(s, "smt", vec![(Role::SmtMember, "AF")]).await;
    let now = now_micros();
    let mut people = vec![];
    for (i, area) in [kab(), kab(), her()].into_iter().enumerate() {
        let u = user(s, &format!("p{i}"), vec![(Role::Traveller, "global")]).await;
        let d = device(s, &u, &format!("p{i}")).await;
        send(s, &d, vec![report(now, Some(area))], now)
            .await
            .unwrap();
        people.push(u);
    }
    let a = submit(s, &sa, "AF-KAB", 5).await;
    for (action, to, from, who, smt_ids) in [
        (
            AssessmentAction::Validate,
            AssessmentStatus::Validated,
            AssessmentStatus::Submitted,
            &desk,
            vec![],
        ),
        (
            AssessmentAction::Approve,
            AssessmentStatus::Approved,
            AssessmentStatus::Validated,
            &dof,
            vec![smt.id],
        ),
    ] {
        s.apply_assessment_action(&step(a.id, action, to, who, smt_ids), from, &sys())
            .await
            .unwrap();
    }
    for (i, u) in people.iter().enumerate() {
        let n = s
            .list_notifications(u.id, true, &PageRequest::default())
            .await
            .unwrap();
        let told: Vec<_> = n
            .items
            .iter()
            .filter(|n| n.kind == "eta.level_changed")
            .collect();
        assert_eq!(told.len(), usize::from(i < 2), "person {i}");
        if let Some(t) = told.first() {
            assert!(t.subject.contains("Kabul"), "{}", t.subject);
            assert_eq!(t.email_state, "none");
        }
    }
}

pub async fn alerts_text_people_without_smartphones(s: &dyn Store) {
    seed_geo(s).await;
    let sa = user(s, "sa", vec![(Role::SecurityAdviser, "AF")]).await;
    let agency = s
        .create_agency(
            &NewAgency {
                code: "WFP".into(),
                name: "World Food Programme".into(),
            },
            &sys(),
        )
        .await
        .unwrap();
    let row = |id: &str, phone: &str, station: AreaCode| ProfileInput {
        agency: agency.id,
        personnel_id: id.into(),
        display_name: format!("Person {id}"),
        email: String::new(),
        category: warden_domain::people::PersonnelCategory::NationalStaff,
        nationality: None,
        phone: phone.into(),
        duty_station: Some(station),
        emergency_contacts: vec![],
        certificates: vec![],
    };
    s.import_profiles(
        &[
            row("N1", "+15550000001", kab()),
            row("N2", "+15550000002", kab()),
            row("N3", "", kab()),
            row("N4", "+15550000004", her()),
        ],
        &sys(),
    )
    .await
    .unwrap();
    let ids = s
        .profile_users(agency.id, &["N1".into(), "N2".into()])
        .await
        .unwrap();
    // N2 has a smartphone with the eTA: no text message for them.
    let n2 = s.get_user(ids["N2"]).await.unwrap().unwrap();
    device(s, &n2, "n2").await;
    let now = now_micros();
    let issue = |headline: &'static str| NewGeoAlert {
        area: kab(),
        headline: headline.into(),
        description: String::new(),
        instruction: "Stay indoors".into(),
        severity: AlertSeverity::Extreme,
        expires_at: now + Duration::hours(6),
        issued_by: sa.id,
    };
    let a = s
        .issue_alert(
            &issue("Shooting near the market"),
            now - Duration::hours(24),
            &sys(),
        )
        .await
        .unwrap();
    assert_eq!(a.sms_recipients, 1);
    let sms = s.sms_for(&format!("alert:{}", a.id)).await.unwrap();
    assert_eq!(sms.len(), 1);
    assert_eq!(
        (sms[0].phone.as_str(), sms[0].state.as_str()),
        ("+15550000001", "pending")
    );
    assert_eq!(sms[0].user, Some(ids["N1"]));
    let claimed = s.claim_sms(10, now).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(claimed[0].body.contains("Shooting near the market"));
    assert!(claimed[0].body.contains("Reply 1"));
    assert_eq!(claimed[0].attempts, 1);
    assert!(s.claim_sms(10, now).await.unwrap().is_empty(), "leased");
    // The SMSC's receipt may overtake the record of the sending.
    assert!(!s.sms_receipt("m-1", "ENROUTE", now).await.unwrap());
    s.finish_sms(claimed[0].id, Ok(vec!["m-1".into(), "m-2".into()]), now)
        .await
        .unwrap();
    let sms = s.sms_for(&format!("alert:{}", a.id)).await.unwrap();
    assert_eq!(sms[0].receipt.as_deref(), Some("ENROUTE"));
    assert!(s
        .sms_receipt("m-2", "DELIVRD", now + Duration::seconds(1))
        .await
        .unwrap());
    assert!(!s.sms_receipt("m-9", "DELIVRD", now).await.unwrap());
    let sms = s.sms_for(&format!("alert:{}", a.id)).await.unwrap();
    assert_eq!(
        (sms[0].state.as_str(), sms[0].receipt.as_deref()),
        ("sent", Some("DELIVRD"))
    );
    // A failure is retried after a pause, then given up.
    let b = s
        .issue_alert(&issue("Road blocked"), now - Duration::hours(24), &sys())
        .await
        .unwrap();
    let mut at = now;
    for attempt in 1..=5 {
        let c = s.claim_sms(10, at).await.unwrap();
        assert_eq!(c.len(), 1, "attempt {attempt}");
        s.finish_sms(c[0].id, Err("SMSC unreachable".into()), at)
            .await
            .unwrap();
        assert!(
            s.claim_sms(10, at).await.unwrap().is_empty(),
            "back-off after {attempt}"
        );
        at += Duration::minutes(20);
    }
    assert!(s.claim_sms(10, at).await.unwrap().is_empty());
    let sms = s.sms_for(&format!("alert:{}", b.id)).await.unwrap();
    assert_eq!((sms[0].state.as_str(), sms[0].attempts), ("failed", 5));
    // Replies come from a phone number: whose is it?
    assert_eq!(
        s.user_by_phone("+15550000001").await.unwrap().unwrap().id,
        ids["N1"]
    );
    assert!(s.user_by_phone("+19999999999").await.unwrap().is_none());
}

/// Polls every future to completion, concurrently, in one task.
async fn join_all<'a, T>(
    mut futs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>>,
) -> Vec<T> {
    let mut out: Vec<Option<T>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futs.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|v| v.expect("ready")).collect()
}

/// Many phones reporting at once (the store may write them together): each
/// person ends where their newest report puts them, a revoked phone changes
/// nothing, and each arrival in a new area is announced.
pub async fn concurrent_batches_settle_as_if_one_by_one(s: &dyn Store) {
    seed_geo(s).await;
    let now = now_micros();
    let mut phones = vec![];
    for i in 0..20 {
        let u = user(s, &format!("p{i}"), vec![(Role::Traveller, "global")]).await;
        phones.push((u.clone(), device(s, &u, &format!("p{i}")).await));
    }
    let revoked = phones[0].1.clone();
    s.revoke_device(revoked.user, revoked.id, &sys())
        .await
        .unwrap();
    let mut futs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send + '_>>> = vec![];
    for (k, minutes, area) in [(0, 30, her()), (1, 10, kab()), (2, 20, kab())] {
        for (_, d) in &phones {
            let (d, area) = (d.clone(), area.clone());
            futs.push(Box::pin(async move {
                let at = now - Duration::minutes(60 - minutes);
                (
                    k,
                    d.user,
                    send(s, &d, vec![report(at, Some(area))], now).await,
                )
            }));
        }
    }
    let results = join_all(futs).await;
    for (_, user, r) in &results {
        if *user == revoked.user {
            assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
        } else {
            assert!(r.is_ok(), "{r:?}");
        }
    }
    assert!(s.last_location(revoked.user).await.unwrap().is_none());
    for (u, _) in phones.iter().skip(1) {
        let l = s.last_location(u.id).await.unwrap().unwrap();
        assert_eq!(l.area, Some(her()), "{}", u.username);
        assert_eq!(l.reported_at, now - Duration::minutes(30));
        assert_eq!(l.since, now - Duration::minutes(30));
        let n = s
            .list_notifications(u.id, false, &PageRequest::default())
            .await
            .unwrap();
        assert!((1..=2).contains(&n.total), "{}", n.total);
        assert!(
            n.items[0].subject.contains("Herat"),
            "{}",
            n.items[0].subject
        );
    }
}
