//! Travel submissions through the group-commit writer: many at once are
//! written together, each answered with exactly what is stored, and one bad
//! submission (an unknown area, a TA number already recorded) fails alone.

use std::sync::Arc;
use uuid::Uuid;
use warden_domain::trip::{LegKind, LegStatus, ProcessingMode, TripPurpose};
use warden_domain::{AreaCode, CountryCode, Role, RoleGrant, Scope};
use warden_store::{
    AuditContext, AuditQuery, NewAgency, NewArea, NewLeg, NewTravelRequest, NewUser, Store,
    StoreError,
};
use warden_store_sqlite::SqliteStore;

fn sys() -> AuditContext {
    AuditContext::system("test")
}

fn square(lon: f64, lat: f64) -> String {
    serde_json::json!({"type": "MultiPolygon", "coordinates": [[[[lon, lat], [lon + 1.0, lat], [lon + 1.0, lat + 1.0], [lon, lat + 1.0], [lon, lat]]]]})
        .to_string()
}

fn leg(code: &str, day: i64) -> NewLeg {
    let d = chrono::Utc::now() + chrono::Duration::days(day);
    NewLeg {
        origin: "Geneva (GVA), Switzerland".into(),
        destination: format!("{code} destination"),
        area: AreaCode::parse(code).unwrap(),
        depart: d,
        arrive: d + chrono::Duration::hours(8),
        depart_tz: Some("Europe/Zurich".into()),
        arrive_tz: None,
        carrier: Some(warden_domain::people::AirlineCode::parse("ET").unwrap()),
    }
}

/// A migrated store in a new directory, and that directory.
async fn fresh() -> (SqliteStore, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("warden-sqlite-test-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let s = SqliteStore::open(dir.join("t.db").to_str().unwrap())
        .await
        .unwrap();
    s.migrate().await.unwrap();
    (s, dir)
}

#[tokio::test]
async fn concurrent_submissions_are_answered_with_what_is_stored() {
    let (s, dir) = fresh().await;
    let s = Arc::new(s);
    s.upsert_countries(&[warden_store::Country {
        alpha2: CountryCode::parse("AF").unwrap(),
        alpha3: "AFG".into(),
        name: "Afghanistan".into(),
        names: Default::default(),
        region: Some("Asia".into()),
    }])
    .await
    .unwrap();
    let areas: Vec<NewArea> = [("AF-KAB", "Kabul", 69.0), ("AF-HER", "Herat", 62.0)]
        .iter()
        .map(|(code, name, lon)| NewArea {
            code: AreaCode::parse(code).unwrap(),
            iso_3166_2: Some((*code).into()),
            country: CountryCode::parse("AF").unwrap(),
            name: (*name).into(),
            names: Default::default(),
            kind: warden_store::AreaKind::Admin1,
            subtype: None,
            label_lon: *lon + 0.5,
            label_lat: 34.5,
            geometry: square(*lon, 34.0),
            members: vec![],
        })
        .collect();
    s.upsert_areas(&areas, &sys()).await.unwrap();
    let agency = s
        .create_agency(
            &NewAgency {
                code: "UNX".into(),
                name: "Agency X".into(),
            },
            &sys(),
        )
        .await
        .unwrap();
    let mk = |name: &str, grants: Vec<(Role, &str)>| NewUser {
        username: name.into(),
        display_name: format!("{name} Display"),
        email: format!("{name}@example.org"),
        agency: Some(agency.id),
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
    };
    let dof = s
        .create_user(&mk("do", vec![(Role::DesignatedOfficial, "AF")]), &sys())
        .await
        .unwrap();
    let mut travellers = vec![];
    for i in 0..8 {
        travellers.push(
            s.create_user(
                &mk(&format!("t{i}"), vec![(Role::Traveller, "global")]),
                &sys(),
            )
            .await
            .unwrap(),
        );
    }
    let kab = AreaCode::parse("AF-KAB").unwrap();
    s.set_processing_mode(&kab, ProcessingMode::Manual, dof.id, "SMT", &sys())
        .await
        .unwrap();
    let audit_before = s.list_audit(&AuditQuery::default()).await.unwrap().total;

    // 200 submissions at once; every 50th names an unknown area, and two
    // carry the same TA number.
    let mut tasks = vec![];
    for i in 0..200usize {
        let s = s.clone();
        let t = travellers[i % travellers.len()].clone();
        tasks.push(tokio::spawn(async move {
            let to = if i % 50 == 7 { "AF-NOPE" } else { "AF-KAB" };
            let ta = match i {
                10 | 11 => Some("TA-SAME".to_string()),
                i if i % 3 == 0 => Some(format!("TA-{i}")),
                _ => None,
            };
            let r = s
                .create_travel_request(
                    &NewTravelRequest {
                        traveller: t.id,
                        submitted_by: t.id,
                        purpose: TripPurpose::Official,
                        ta_number: ta,
                        legs: vec![leg("AF-HER", 3 + i as i64 % 20), leg(to, 30)],
                    },
                    &AuditContext {
                        actor: Some(t.id),
                        actor_name: t.username.clone(),
                        ip: Some("192.0.2.1".into()),
                        at: warden_store::now_micros(),
                    },
                )
                .await;
            (i, t, r)
        }));
    }
    let mut ok = 0;
    let mut ta_same = vec![];
    for task in tasks {
        let (i, t, r) = task.await.unwrap();
        if i % 50 == 7 {
            assert!(matches!(r, Err(StoreError::NotFound(_))), "{i}: {r:?}");
            continue;
        }
        if i == 10 || i == 11 {
            ta_same.push(r);
            continue;
        }
        let r = r.unwrap_or_else(|e| panic!("{i}: {e}"));
        ok += 1;
        assert_eq!(r.traveller, t.id);
        assert_eq!(r.traveller_name, format!("{} Display", t.username));
        assert_eq!(
            (r.legs[0].kind, r.legs[0].status),
            (LegKind::Notification, LegStatus::Acknowledged)
        );
        assert_eq!(
            (
                r.legs[1].kind,
                r.legs[1].status,
                r.legs[1].area_name.as_str()
            ),
            (LegKind::Clearance, LegStatus::Pending, "Kabul")
        );
        assert_eq!(r.agency, r.ta_number.as_ref().map(|_| agency.id));
        // The answer is exactly what is stored.
        assert_eq!(s.get_travel_request(r.id).await.unwrap().unwrap(), r, "{i}");
    }
    // Of two submissions with the same TA number, one is recorded and the
    // other refused as a conflict.
    assert_eq!(ta_same.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(ta_same
        .iter()
        .any(|r| matches!(r, Err(StoreError::Conflict(m)) if m.contains("TA-SAME"))));
    ok += 1;
    // One audit entry per recorded trip, and the chain intact.
    assert_eq!(
        s.list_audit(&AuditQuery::default()).await.unwrap().total,
        audit_before + ok
    );
    assert_eq!(s.verify_audit_chain().await.unwrap().first_broken, None);
    let _ = std::fs::remove_dir_all(&dir);
}
