//! The demo data set: real geography, real agency names, demo people with
//! roles, a catalogue of measures, and levels set through the real workflow
//! (submitted, validated, approved), with some assessments left in progress.

use crate::db::progress;
use std::collections::BTreeMap;
use std::sync::Arc;
use warden_domain::{
    AssessmentAction, AssessmentStatus, CountryCode, Role, RoleGrant, Scope, SecurityLevel,
    ThreatCategory,
};
use warden_store::{
    AreaQuery, AssessmentTransition, AuditContext, NewAgency, NewAssessment, NewMeasure, NewUser,
    PageRequest, Store, User,
};

/// Username, display name, roles with scope, description.
type DemoPerson = (
    &'static str,
    &'static str,
    Vec<(Role, &'static str)>,
    &'static str,
);

pub const DEMO_PASSWORD: &str = "warden-demo-2026";

pub struct DemoLogin {
    pub username: String,
    pub role: String,
    pub totp_secret: Option<String>,
}

const AGENCIES: &[(&str, &str)] = &[
    ("UNDP", "United Nations Development Programme"),
    ("UNICEF", "United Nations Children's Fund"),
    ("WFP", "World Food Programme"),
    (
        "UNHCR",
        "Office of the United Nations High Commissioner for Refugees",
    ),
    ("WHO", "World Health Organization"),
    ("IOM", "International Organization for Migration"),
    (
        "OCHA",
        "Office for the Coordination of Humanitarian Affairs",
    ),
    ("UNFPA", "United Nations Population Fund"),
    ("FAO", "Food and Agriculture Organization"),
    ("UNOPS", "United Nations Office for Project Services"),
];

const MEASURES: &[(&str, &str, &str, &str)] = &[
    ("MOV-01", "movement", "Armoured vehicles for road movement", "Road movement in armoured vehicles only, with radio communication."),
    ("MOV-02", "movement", "Convoy movement", "Road travel outside the city in convoys of at least two vehicles, with a movement plan filed."),
    ("MOV-03", "movement", "Curfew for personnel", "Personnel remain at their residence between 22:00 and 05:00."),
    ("MOV-04", "movement", "Daylight travel only", "Road travel between towns only in daylight hours."),
    ("COM-01", "communications", "Radio check-ins", "Daily radio check-in with the security communications centre."),
    ("COM-02", "communications", "Satellite phone on field missions", "Every field mission carries a satellite phone."),
    ("PRE-01", "premises", "Residential security measures", "Residences meet the residential security measures for the area."),
    ("PRE-02", "premises", "Guarded premises", "Premises have 24-hour guards and access control."),
    ("PER-01", "personnel", "Security awareness training", "All personnel complete security awareness training before arrival."),
    ("PER-02", "personnel", "Hostile environment training", "Personnel complete SSAFE hostile environment training before deployment."),
    ("MED-01", "medical", "Trauma kits", "Individual first aid kits (IFAK) and trauma kits in every vehicle."),
    ("PLN-01", "planning", "Updated security plan", "The area security plan and relocation plan are reviewed and rehearsed."),
];

/// (country, baseline level, spread): the demo's levels are illustrative,
/// not the United Nations' current levels.
const COUNTRIES: &[(&str, i64, i64)] = &[
    ("AF", 4, 2),
    ("ML", 4, 2),
    ("SS", 4, 2),
    ("SO", 5, 1),
    ("YE", 5, 1),
    ("SD", 4, 2),
    ("HT", 4, 1),
    ("CD", 3, 3),
    ("NG", 3, 2),
    ("KE", 2, 2),
    ("UA", 3, 3),
    ("CO", 2, 2),
    ("CH", 1, 0),
];

async fn user(
    store: &dyn Store,
    ctx: &AuditContext,
    hash: &str,
    agency: Option<uuid::Uuid>,
    username: &str,
    name: &str,
    grants: Vec<(Role, &str)>,
) -> anyhow::Result<User> {
    Ok(store
        .create_user(
            &NewUser {
                username: username.into(),
                display_name: name.into(),
                email: format!("{username}@demo.warden.invalid"),
                agency,
                password_hash: hash.into(),
                grants: grants
                    .into_iter()
                    .map(|(role, s)| RoleGrant {
                        role,
                        scope: Scope::parse(s).expect("scope"),
                        agency: None,
                    })
                    .collect(),
                locale: "en".into(),
            },
            ctx,
        )
        .await?)
}

fn ratings(level: i64, seed: u64) -> BTreeMap<String, i64> {
    ThreatCategory::ALL
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let d = ((seed >> (i * 3)) % 3) as i64 - 1;
            (c.as_str().to_string(), (level + d).clamp(1, 6))
        })
        .collect()
}

fn narrative(area: &str, level: i64) -> (String, String) {
    let threat = match level {
        1 => "No significant threat to personnel has been reported.",
        2 => "Petty crime is the main concern; incidents affecting personnel are rare.",
        3 => "Crime and occasional civil unrest affect the area; armed incidents occur outside urban centres.",
        4 => "Armed groups are active. Road ambushes, kidnapping for ransom and criminal violence are reported.",
        5 => "Frequent armed clashes and attacks, including with explosive devices, affect the area and its main roads.",
        _ => "Active hostilities. Attacks on civilians and aid operations are likely at any time.",
    };
    (
        format!("{area}: {threat} Sources: security cell reporting, partner agencies and open sources over the last 90 days."),
        threat.to_string(),
    )
}

/// Seeds everything; returns the demo logins.
pub async fn seed(store: Arc<dyn Store>) -> anyhow::Result<Vec<DemoLogin>> {
    let s = store.as_ref();
    let ctx = AuditContext::system("warden demo");
    let mut agencies = BTreeMap::new();
    for (code, name) in AGENCIES {
        let a = s
            .create_agency(
                &NewAgency {
                    code: (*code).into(),
                    name: (*name).into(),
                },
                &ctx,
            )
            .await?;
        agencies.insert(*code, a.id);
    }
    let mut measures = vec![];
    for (code, cat, title, desc) in MEASURES {
        measures.push(
            s.create_measure(
                &NewMeasure {
                    code: (*code).into(),
                    title: (*title).into(),
                    description: (*desc).into(),
                    category: (*cat).into(),
                    country: None,
                },
                &ctx,
            )
            .await?,
        );
    }
    let hash = tokio::task::spawn_blocking(|| warden_auth::hash_password(DEMO_PASSWORD)).await??;
    let undp = Some(agencies["UNDP"]);
    let mut logins = vec![];
    let people: Vec<DemoPerson> = vec![
        (
            "admin",
            "Amina Diallo",
            vec![(Role::Administrator, "global")],
            "administrator",
        ),
        (
            "sa.afghanistan",
            "Farid Rahimi",
            vec![(Role::SecurityAdviser, "AF")],
            "security adviser, Afghanistan (roll calls as delegate)",
        ),
        (
            "desk.asia",
            "Mei Lin Tan",
            vec![
                (Role::RegionalDesk, "AF"),
                (Role::RegionalDesk, "YE"),
                (Role::RegionalDesk, "UA"),
            ],
            "regional desk (Afghanistan, Yemen, Ukraine)",
        ),
        (
            "do.afghanistan",
            "Ingrid Solberg",
            vec![(Role::DesignatedOfficial, "AF")],
            "Designated Official, Afghanistan (starts roll calls)",
        ),
        (
            "smt.afghanistan.wfp",
            "Joseph Okello",
            vec![(Role::SmtMember, "AF")],
            "SMT member, Afghanistan",
        ),
        (
            "smt.afghanistan.unicef",
            "Sara Haddad",
            vec![(Role::SmtMember, "AF")],
            "SMT member, Afghanistan",
        ),
        (
            "sa.mali",
            "Moussa Keita",
            vec![(Role::SecurityAdviser, "ML")],
            "security adviser, Mali",
        ),
        (
            "desk.africa",
            "Grace Wanjiru",
            vec![
                (Role::RegionalDesk, "ML"),
                (Role::RegionalDesk, "SS"),
                (Role::RegionalDesk, "SO"),
                (Role::RegionalDesk, "SD"),
                (Role::RegionalDesk, "CD"),
                (Role::RegionalDesk, "NG"),
                (Role::RegionalDesk, "KE"),
            ],
            "regional desk (Africa)",
        ),
        (
            "do.mali",
            "Pierre Lambert",
            vec![(Role::DesignatedOfficial, "ML")],
            "Designated Official, Mali",
        ),
        (
            "smt.mali.unhcr",
            "Aïcha Traoré",
            vec![(Role::SmtMember, "ML")],
            "SMT member, Mali",
        ),
        (
            "sfp.undp",
            "Carlos Mendoza",
            vec![(Role::AgencyFocalPoint, "global")],
            "agency security focal point, UNDP",
        ),
        (
            "traveller",
            "Nadia Benali",
            vec![(Role::Traveller, "global")],
            "traveller (phone in Kabul: asked by a roll call there)",
        ),
    ];
    let mut users = BTreeMap::new();
    for (username, name, grants, label) in people {
        let u = user(s, &ctx, &hash, undp, username, name, grants).await?;
        let secret = if u.needs_two_factor() {
            let sec = warden_auth::TotpSecret::generate().to_base32();
            s.set_totp(u.id, Some(&sec), true, &ctx).await?;
            Some(sec)
        } else {
            None
        };
        logins.push(DemoLogin {
            username: username.into(),
            role: label.into(),
            totp_secret: secret,
        });
        users.insert(username, u);
    }
    // One security team per other country so every level goes through the workflow.
    let mut total = 0u64;
    let mut plan = vec![];
    for (cc, base, spread) in COUNTRIES {
        let ccode = CountryCode::parse(cc)?;
        let areas = s
            .list_areas(&AreaQuery {
                country: Some(ccode.clone()),
                page: PageRequest::new(Some(1000), None),
                ..Default::default()
            })
            .await?;
        total += areas.items.len() as u64;
        plan.push((ccode, *base, *spread, areas.items));
    }
    let pb = progress(total, "levels via workflow");
    for (cc, base, spread, areas) in plan {
        let key = cc.as_str().to_ascii_lowercase();
        let sa = match users.get(
            format!(
                "sa.{}",
                if cc.as_str() == "AF" {
                    "afghanistan"
                } else if cc.as_str() == "ML" {
                    "mali"
                } else {
                    ""
                }
            )
            .as_str(),
        ) {
            Some(u) => u.clone(),
            None => {
                user(
                    s,
                    &ctx,
                    &hash,
                    undp,
                    &format!("sa.{key}"),
                    &format!("Security Adviser {}", cc),
                    vec![(Role::SecurityAdviser, cc.as_str())],
                )
                .await?
            }
        };
        let desk = user(
            s,
            &ctx,
            &hash,
            undp,
            &format!("desk.{key}"),
            &format!("Regional Desk {}", cc),
            vec![(Role::RegionalDesk, cc.as_str())],
        )
        .await?;
        let dof = match cc.as_str() {
            "AF" => users["do.afghanistan"].clone(),
            "ML" => users["do.mali"].clone(),
            _ => {
                user(
                    s,
                    &ctx,
                    &hash,
                    undp,
                    &format!("do.{key}"),
                    &format!("Designated Official {}", cc),
                    vec![(Role::DesignatedOfficial, cc.as_str())],
                )
                .await?
            }
        };
        let smt = match cc.as_str() {
            "AF" => users["smt.afghanistan.wfp"].clone(),
            "ML" => users["smt.mali.unhcr"].clone(),
            _ => {
                user(
                    s,
                    &ctx,
                    &hash,
                    undp,
                    &format!("smt.{key}"),
                    &format!("SMT member {}", cc),
                    vec![(Role::SmtMember, cc.as_str())],
                )
                .await?
            }
        };
        for (i, area) in areas.iter().enumerate() {
            let seed = area
                .code
                .as_str()
                .bytes()
                .fold(1469598103934665603u64, |h, b| {
                    (h ^ b as u64).wrapping_mul(1099511628211)
                });
            let level = (base + (seed % (2 * spread as u64 + 1)) as i64 - spread).clamp(1, 6);
            let (text, adv) = narrative(&area.name, level);
            let picked: Vec<_> = measures
                .iter()
                .filter(|m| match level {
                    1 | 2 => m.code == "PER-01",
                    3 => ["PER-01", "MOV-04", "COM-01"].contains(&m.code.as_str()),
                    _ => [
                        "PER-02", "MOV-01", "MOV-02", "MOV-03", "COM-02", "MED-01", "PLN-01",
                    ]
                    .contains(&m.code.as_str()),
                })
                .map(|m| m.id)
                .collect();
            let new = NewAssessment {
                area: area.code.clone(),
                author: sa.id,
                proposed_level: SecurityLevel::new(level)?,
                ratings: ratings(level, seed),
                narrative: text,
                advisory_text: adv,
                measures: picked,
                mitigation_text: if level >= 4 {
                    "Field missions file a movement plan with the security cell and carry the approved communications kit.".into()
                } else {
                    String::new()
                },
            };
            let a = s.create_assessment(&new, &ctx).await?;
            // Leave a few in progress so the queue has work: the first area of AF and ML awaits approval,
            // the second awaits the regional desk.
            let stop_at = match (cc.as_str(), i) {
                ("AF" | "ML", 0) => Some(AssessmentStatus::Validated),
                ("AF" | "ML", 1) => Some(AssessmentStatus::Submitted),
                _ => None,
            };
            if stop_at == Some(AssessmentStatus::Submitted) {
                pb.inc(1);
                continue;
            }
            step(
                s,
                &ctx,
                a.id,
                AssessmentAction::Validate,
                AssessmentStatus::Submitted,
                AssessmentStatus::Validated,
                desk.id,
                vec![],
            )
            .await?;
            if stop_at == Some(AssessmentStatus::Validated) {
                pb.inc(1);
                continue;
            }
            step(
                s,
                &ctx,
                a.id,
                AssessmentAction::Approve,
                AssessmentStatus::Validated,
                AssessmentStatus::Approved,
                dof.id,
                vec![smt.id],
            )
            .await?;
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    trips(store.clone(), &users).await?;
    eta(s, &users).await?;
    let n = presence(s, &users, &agencies).await?;
    eprintln!("  {n} personnel with profiles, trips and phones (who is where)");
    partner(s, &agencies).await?;
    Ok(logins)
}

/// A partner system, as IOM's SCAAN exchanges with the UN's eTA: registered
/// for IOM, with its own figure for Kabul reported an hour ago (it joins the
/// area's headcount and its roll-call boards). Its token is printed so that
/// the exchange can be tried (`docs/partner-exchange.md`).
async fn partner(s: &dyn Store, agencies: &BTreeMap<&str, uuid::Uuid>) -> anyhow::Result<()> {
    use warden_store::{NewPartner, PartnerHeadcountInput, PartnerRollCallFigures};
    let ctx = AuditContext::system("warden demo");
    let token = format!("wpt_{}", warden_auth::random_token());
    let p = s
        .create_partner(
            &NewPartner {
                code: "iom-scaan".into(),
                name: "IOM SCAAN (demo)".into(),
                agency: agencies["IOM"],
                push_url: None,
                token_digest: warden_auth::token_digest(&token),
            },
            &ctx,
        )
        .await?;
    let counts = [
        ("international_staff", 14),
        ("national_staff", 61),
        ("dependant", 9),
        ("consultant", 4),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    s.submit_partner_headcounts(
        p.id,
        &[PartnerHeadcountInput {
            area: warden_domain::AreaCode::parse("AF-KAB")?,
            as_of: warden_store::now_micros() - chrono::Duration::hours(1),
            total: 88,
            counts,
            roll_call: Some(PartnerRollCallFigures {
                accounted: 80,
                needs_help: 1,
                no_answer: 7,
            }),
            reference: Some("SCAAN-KBL-demo".into()),
        }],
        &ctx,
    )
    .await?;
    eprintln!("  partner system iom-scaan (IOM), token {token}");
    Ok(())
}

/// eTA: the traveller's phone, enrolled (she has TOTP, which enrolment
/// needs; her key is not printed: `warden totp-code traveller` gives the
/// code), last reported in Kabul an hour ago, and an alert for Kabul issued
/// by the security adviser reaching it. The device's token is thrown away:
/// the demo never shows it.
async fn eta(s: &dyn Store, users: &BTreeMap<&str, User>) -> anyhow::Result<()> {
    use chrono::Duration;
    use warden_domain::eta::{AlertSeverity, LocationReport};
    use warden_store::{LocationBatch, NewDevice, NewGeoAlert, ResolvedReport};

    let nadia = &users["traveller"];
    let as_nadia = || AuditContext {
        actor: Some(nadia.id),
        actor_name: nadia.username.clone(),
        ip: None,
        at: warden_store::now_micros(),
    };
    let secret = warden_auth::TotpSecret::generate().to_base32();
    s.set_totp(nadia.id, Some(&secret), true, &as_nadia())
        .await?;
    let phone = s
        .create_device(
            &NewDevice {
                user: nadia.id,
                name: "Nadia's phone".into(),
                platform: "web".into(),
                token_digest: warden_auth::token_digest(&warden_auth::random_token()),
            },
            &as_nadia(),
        )
        .await?;
    let kabul = warden_domain::AreaCode::parse("AF-KAB")?;
    let now = warden_store::now_micros();
    // Kabul city centre, resolved to its area as the ingest endpoint does.
    let reports = [
        (Duration::minutes(95), 34.5281, 69.1723),
        (Duration::minutes(60), 34.5310, 69.1650),
    ]
    .into_iter()
    .map(|(ago, lat, lon)| ResolvedReport {
        report: LocationReport {
            lat,
            lon,
            accuracy_m: Some(25.0),
            recorded_at: now - ago,
        },
        area: Some(kabul.clone()),
    })
    .collect();
    s.ingest_locations(&LocationBatch {
        device: phone.id,
        user: nadia.id,
        reports,
        received_at: now - Duration::minutes(60),
    })
    .await?;
    // She has read the "you are in Kabul" notification; the alert is new.
    let entered: Vec<uuid::Uuid> = s
        .list_notifications(nadia.id, true, &PageRequest::default())
        .await?
        .items
        .into_iter()
        .filter(|n| n.kind == "eta.area_entered")
        .map(|n| n.id)
        .collect();
    s.mark_notifications_read(nadia.id, &entered, now).await?;
    let sa = &users["sa.afghanistan"];
    s.issue_alert(
        &NewGeoAlert {
            area: kabul,
            headline: "Demonstration near Pashtunistan Square".into(),
            description: "A large demonstration is gathering near Pashtunistan Square and the Presidential Palace; roads around it are closed by the police.".into(),
            instruction: "Avoid the city centre until 18:00. Stay where you are if you are already there, and check in with the security cell.".into(),
            severity: AlertSeverity::Moderate,
            expires_at: now + Duration::hours(12),
            issued_by: sa.id,
        },
        now - Duration::hours(24),
        &AuditContext {
            actor: Some(sa.id),
            actor_name: sa.username.clone(),
            ip: None,
            at: warden_store::now_micros(),
        },
    )
    .await?;
    Ok(())
}

/// Travel (TRIP): Kabul under manual processing, set by the Designated
/// Official; trips resolved by the same rules as the pages and the API,
/// submitted by the demo people: one waiting for a clearance (departing
/// within 48 hours), one acknowledged, one already granted.
async fn trips(store: Arc<dyn Store>, users: &BTreeMap<&str, User>) -> anyhow::Result<()> {
    use chrono::DurationRound;
    use warden_domain::trip::{ClearanceDecision, LegStatus, ProcessingMode, TripPurpose};
    use warden_server::trips::{build_legs, LegInput};
    use warden_store::{LegDecision, NewTravelRequest};

    let s = store.as_ref();
    // Each step at its own time (the context's time is the record's).
    let ctx = || AuditContext::system("warden demo");
    s.set_processing_mode(
        &warden_domain::AreaCode::parse("AF-KAB")?,
        ProcessingMode::Manual,
        users["do.afghanistan"].id,
        "SMT decision (demo): road movement in and around Kabul needs a security clearance.",
        &ctx(),
    )
    .await?;

    let state = warden_server::state::AppState::new(
        store.clone(),
        warden_server::config::Config::default(),
    )
    .await?;
    // Whole hours from now, as RFC 3339 (each leg keeps its places' time zones).
    let hour = chrono::Utc::now()
        .duration_trunc(chrono::Duration::hours(1))
        .unwrap_or_else(|_| chrono::Utc::now());
    let at = |h: i64| (hour + chrono::Duration::hours(h)).to_rfc3339();
    let leg = |from: &str, to: &str, depart: i64, hours: i64| LegInput {
        from: from.into(),
        to: to.into(),
        depart: at(depart),
        arrive: at(depart + hours),
        flight: None,
    };
    let flight = |l: LegInput, f: &str| LegInput {
        flight: Some(f.into()),
        ..l
    };

    // The approved-airline list for this month, published by the security department.
    let admin = &users["admin"];
    let month = chrono::Utc::now().date_naive();
    let month = chrono::NaiveDate::from_ymd_opt(
        chrono::Datelike::year(&month),
        chrono::Datelike::month(&month),
        1,
    )
    .expect("first of the month");
    let airlines: Vec<warden_store::ApprovedAirline> = [
        ("ET", "Ethiopian Airlines"),
        ("KQ", "Kenya Airways"),
        ("EK", "Emirates"),
        ("TK", "Turkish Airlines"),
        ("QR", "Qatar Airways"),
        ("AF", "Air France"),
        ("LX", "Swiss"),
        ("LH", "Lufthansa"),
        ("FZ", "flydubai"),
    ]
    .iter()
    .map(|(c, n)| {
        Ok(warden_store::ApprovedAirline {
            code: warden_domain::people::AirlineCode::parse(c)?,
            name: (*n).into(),
        })
    })
    .collect::<Result<_, warden_domain::DomainError>>()?;
    s.publish_airline_list(
        month,
        &airlines,
        "Monthly review (demo).",
        &AuditContext {
            actor: Some(admin.id),
            actor_name: admin.display_name.clone(),
            ip: None,
            at: warden_store::now_micros(),
        },
    )
    .await?;
    let submit = |who: &User, purpose: TripPurpose, ta: Option<&str>, legs: Vec<LegInput>| {
        let state = state.clone();
        let (id, ta) = (who.id, ta.map(str::to_string));
        async move {
            let legs = build_legs(&state, &legs)
                .await
                .map_err(|e| anyhow::anyhow!("demo trip: {}", e.detail))?;
            let t = state
                .store
                .create_travel_request(
                    &NewTravelRequest {
                        traveller: id,
                        submitted_by: id,
                        purpose,
                        ta_number: ta,
                        legs,
                    },
                    &ctx(),
                )
                .await?;
            Ok::<_, anyhow::Error>(t)
        }
    };

    // Nadia Benali: a personal trip to Bamako (acknowledged), then a mission
    // to Kabul (clearance pending, departing tomorrow) and Herat (acknowledged).
    let nadia = &users["traveller"];
    submit(
        nadia,
        TripPurpose::Personal,
        None,
        vec![leg("DSS", "BKO", 24 * 20, 2), leg("BKO", "DSS", 24 * 27, 2)],
    )
    .await?;
    let mission = submit(
        nadia,
        TripPurpose::Official,
        Some("TA-UNDP-2026-0412"),
        vec![
            flight(leg("GVA", "KBL", 30, 14), "FZ 305"),
            flight(leg("KBL", "HEA", 24 * 4, 2), "RQ 341"),
        ],
    )
    .await?;
    debug_assert_eq!(mission.legs[0].status, LegStatus::Pending);

    // Carlos Mendoza: a mission to Kabul, already granted by the adviser.
    let carlos = submit(
        &users["sfp.undp"],
        TripPurpose::Official,
        Some("TA-UNDP-2026-0398"),
        vec![
            flight(leg("FRA", "KBL", 24 * 9, 11), "TK 1592"),
            flight(leg("KBL", "FRA", 24 * 16, 11), "TK 1593"),
        ],
    )
    .await?;
    s.decide_leg(
        &LegDecision {
            request: carlos.id,
            seq: 1,
            decision: ClearanceDecision::Grant,
            grounds: vec![],
            comment: "Granted: fly UNHAS from Dubai if the commercial flight is cancelled, and check in with the security cell on arrival.".into(),
            actor: users["sa.afghanistan"].id,
        },
        ClearanceDecision::Grant.outcome(),
        &ctx(),
    )
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn step(
    s: &dyn Store,
    ctx: &AuditContext,
    id: uuid::Uuid,
    action: AssessmentAction,
    from: AssessmentStatus,
    to: AssessmentStatus,
    actor: uuid::Uuid,
    smt: Vec<uuid::Uuid>,
) -> anyhow::Result<()> {
    let reason = match action {
        AssessmentAction::Approve => "Approved after consultation of the SMT.",
        _ => "Consistent with regional trend analysis.",
    };
    s.apply_assessment_action(
        &AssessmentTransition {
            id,
            action,
            to,
            actor,
            reason: reason.into(),
            smt_consulted: smt,
            revision: None,
        },
        from,
        ctx,
    )
    .await?;
    Ok(())
}

/// Duty stations of the demo personnel and how many are stationed at each:
/// most in Afghanistan and Mali, a few at headquarters and regional hubs.
const STATIONS: &[(&str, usize)] = &[
    ("AF-KAB", 90),
    ("AF-HER", 34),
    ("AF-BAL", 24),
    ("AF-NAN", 18),
    ("AF-KAN", 18),
    ("AF-KDZ", 10),
    ("AF-BAM", 8),
    ("ML-BKO", 38),
    ("ML-7", 12),
    ("ML-5", 8),
    ("ML-6", 6),
    ("CH-GE", 10),
    ("KE-110", 10),
];

const GIVEN: &[&str] = &[
    "Ahmad",
    "Mariam",
    "Hamid",
    "Zahra",
    "Farhad",
    "Laila",
    "Omar",
    "Shabnam",
    "Yusuf",
    "Parwin",
    "Aminata",
    "Boubacar",
    "Fatoumata",
    "Ibrahim",
    "Kadiatou",
    "Seydou",
    "Awa",
    "Mamadou",
    "Hawa",
    "Oumar",
    "Elena",
    "Lucas",
    "Sofia",
    "Mateo",
    "Hannah",
    "Jonas",
    "Chloé",
    "Thomas",
    "Wanjiku",
    "Otieno",
    "Achieng",
    "Kamau",
    "Priya",
    "Rohan",
    "Mei",
    "Kenji",
    "Noura",
    "Tariq",
    "Isabel",
    "Diego",
];
const FAMILY: &[&str] = &[
    "Ahmadzai",
    "Karimi",
    "Noori",
    "Sadat",
    "Rahmani",
    "Hashimi",
    "Popal",
    "Wardak",
    "Stanekzai",
    "Safi",
    "Coulibaly",
    "Diarra",
    "Touré",
    "Sangaré",
    "Cissé",
    "Dembélé",
    "Konaté",
    "Maïga",
    "Sidibé",
    "Bâ",
    "Müller",
    "Rossi",
    "García",
    "Novak",
    "Dubois",
    "Jansen",
    "Silva",
    "Okafor",
    "Mwangi",
    "Odhiambo",
    "Njoroge",
    "Sharma",
    "Chen",
    "Tanaka",
    "Haddad",
    "Khalil",
    "Moreno",
    "Lindqvist",
    "O'Brien",
    "Kowalski",
];

/// Rough coordinates inside the demo's areas (the phone reports are
/// resolved to the area; only the area is kept, tracking being off).
fn point(area: &str) -> (f64, f64) {
    match area {
        "AF-KAB" => (34.5281, 69.1723),
        "AF-HER" => (34.3482, 62.1997),
        "AF-BAL" => (36.7090, 67.1109),
        "AF-NAN" => (34.4265, 70.4515),
        "AF-KAN" => (31.6289, 65.7372),
        "ML-BKO" => (12.6392, -8.0029),
        "ML-7" => (16.2666, -0.0440),
        "CH-GE" => (46.2044, 6.1432),
        _ => (0.0, 0.0),
    }
}

/// Who is where: a few hundred personnel of every demo agency, imported as
/// an agency's legacy system sends profiles (categories, dependants, duty
/// stations across Afghanistan and Mali and a few elsewhere); trips (people
/// in Kabul on mission now, some in transit, some who flew in on a one-way
/// ticket weeks ago and are overdue, some back home); phones (fresh, stale,
/// and one outside every area). Kabul's headcount then shows residents,
/// visitors, phones and flagged people, and a roll call there reaches the
/// demo traveller, whose phone is in Kabul. Returns the people created.
async fn presence(
    s: &dyn Store,
    users: &BTreeMap<&str, User>,
    agencies: &BTreeMap<&str, uuid::Uuid>,
) -> anyhow::Result<usize> {
    use chrono::Duration;
    use warden_domain::eta::LocationReport;
    use warden_domain::people::PersonnelCategory as C;
    use warden_domain::trip::{ClearanceDecision, LegStatus, TripPurpose};
    use warden_domain::AreaCode;
    use warden_store::{
        LegDecision, LocationBatch, NewDevice, NewLeg, NewTravelRequest, ProfileInput,
        ResolvedReport,
    };

    let ctx = || AuditContext::system("warden demo");
    let codes: Vec<&str> = AGENCIES.iter().map(|(c, _)| *c).collect();
    // (personnel id, agency code, duty station)
    let mut people: Vec<(String, &str, &str)> = vec![];
    let mut rows: BTreeMap<&str, Vec<ProfileInput>> = BTreeMap::new();
    let mut i = 0usize;
    for (station, n) in STATIONS {
        for _ in 0..*n {
            let agency = codes[(i * 7 + i / 10) % codes.len()];
            let category = match i % 20 {
                0..=4 => C::InternationalStaff,
                5..=13 => C::NationalStaff,
                14 | 15 => C::Consultant,
                16 => C::Contractor,
                _ => C::Dependant,
            };
            let name = format!(
                "{} {}",
                GIVEN[(i * 13 + 5) % GIVEN.len()],
                FAMILY[(i * 17 + i / GIVEN.len()) % FAMILY.len()]
            );
            let pid = format!("{}-{:04}", agency, 1000 + i);
            let country = &station[..2];
            rows.entry(agency).or_default().push(ProfileInput {
                agency: agencies[agency],
                personnel_id: pid.clone(),
                display_name: name,
                email: String::new(),
                category,
                nationality: CountryCode::parse(if category == C::NationalStaff {
                    country
                } else {
                    ["FR", "DE", "KE", "IN", "BR", "CA", "JP", "SN"][i % 8]
                })
                .ok(),
                // National staff in the field have a phone number (a text
                // message reaches them without a smartphone).
                phone: if category == C::NationalStaff && country != "CH" {
                    format!(
                        "+{}{:07}",
                        if country == "AF" { "9370" } else { "22370" },
                        i
                    )
                } else {
                    String::new()
                },
                duty_station: Some(AreaCode::parse(station)?),
                emergency_contacts: vec![],
                certificates: vec![],
            });
            people.push((pid, agency, *station));
            i += 1;
        }
    }
    let mut ids: BTreeMap<String, uuid::Uuid> = BTreeMap::new();
    for (agency, rows) in &rows {
        s.import_profiles(rows, &ctx()).await?;
        let pids: Vec<String> = rows.iter().map(|r| r.personnel_id.clone()).collect();
        ids.extend(s.profile_users(agencies[agency], &pids).await?);
    }
    let now = warden_store::now_micros();
    let h = |hours: i64| now + Duration::hours(hours);
    // People of each duty station, in order.
    let at = |station: &str| -> Vec<uuid::Uuid> {
        people
            .iter()
            .filter(|p| p.2 == station)
            .map(|p| ids[&p.0])
            .collect()
    };
    let sa = users["sa.afghanistan"].id;
    let trip = |who: uuid::Uuid,
                legs: Vec<(&'static str, &'static str, &'static str, i64, i64)>| async move {
        let t = s
            .create_travel_request(
                &NewTravelRequest {
                    traveller: who,
                    submitted_by: who,
                    purpose: TripPurpose::Official,
                    ta_number: None,
                    legs: legs
                        .iter()
                        .map(|(from, to, area, depart, arrive)| {
                            Ok(NewLeg {
                                origin: (*from).into(),
                                destination: (*to).into(),
                                area: AreaCode::parse(area)?,
                                depart: h(*depart),
                                arrive: h(*arrive),
                                depart_tz: None,
                                arrive_tz: None,
                                carrier: None,
                            })
                        })
                        .collect::<Result<_, warden_domain::DomainError>>()?,
                },
                &ctx(),
            )
            .await?;
        // Kabul is under manual processing: the adviser cleared these trips.
        for l in t.legs.iter().filter(|l| l.status == LegStatus::Pending) {
            s.decide_leg(
                &LegDecision {
                    request: t.id,
                    seq: l.seq,
                    decision: ClearanceDecision::Grant,
                    grounds: vec![],
                    comment: "Cleared (demo).".into(),
                    actor: sa,
                },
                ClearanceDecision::Grant.outcome(),
                &ctx(),
            )
            .await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let herat = at("AF-HER");
    let balkh = at("AF-BAL");
    let bamako = at("ML-BKO");
    let geneva = at("CH-GE");
    let nairobi = at("KE-110");
    let kabul = at("AF-KAB");
    // On mission in Kabul now, back in a few days.
    for (k, who) in herat.iter().take(8).enumerate() {
        let k = k as i64;
        trip(
            *who,
            vec![
                ("Herat", "Kabul", "AF-KAB", -72 - 6 * k, -70 - 6 * k),
                ("Kabul", "Herat", "AF-HER", 48 + 12 * k, 50 + 12 * k),
            ],
        )
        .await?;
    }
    for (k, who) in balkh.iter().take(4).enumerate() {
        let k = k as i64;
        trip(
            *who,
            vec![
                (
                    "Mazar-i-Sharif",
                    "Kabul",
                    "AF-KAB",
                    -30 - 5 * k,
                    -29 - 5 * k,
                ),
                ("Kabul", "Mazar-i-Sharif", "AF-BAL", 72, 73),
            ],
        )
        .await?;
    }
    for who in geneva.iter().take(3).chain(nairobi.iter().take(2)) {
        trip(
            *who,
            vec![
                ("Geneva", "Kabul", "AF-KAB", -120, -106),
                ("Kabul", "Geneva", "CH-GE", 96, 110),
            ],
        )
        .await?;
    }
    // In transit now: departed, not yet arrived.
    for who in geneva.iter().skip(3).take(2) {
        trip(
            *who,
            vec![
                ("Geneva", "Kabul", "AF-KAB", -4, 6),
                ("Kabul", "Geneva", "CH-GE", 24 * 8, 24 * 8 + 14),
            ],
        )
        .await?;
    }
    trip(
        bamako[0],
        vec![
            ("Bamako", "Gao", "ML-7", -1, 2),
            ("Gao", "Bamako", "ML-BKO", 72, 75),
        ],
    )
    .await?;
    // Overdue: flew in on a one-way ticket weeks ago, nothing since.
    for (k, who) in herat.iter().skip(8).take(3).enumerate() {
        trip(
            *who,
            vec![(
                "Herat",
                "Kabul",
                "AF-KAB",
                -24 * (18 + 5 * k as i64),
                -24 * (18 + 5 * k as i64) + 2,
            )],
        )
        .await?;
    }
    trip(
        bamako[1],
        vec![("Bamako", "Kabul", "AF-KAB", -24 * 25, -24 * 25 + 16)],
    )
    .await?;
    // Kabul staff away on mission elsewhere now.
    for (k, who) in kabul.iter().skip(40).take(6).enumerate() {
        let k = k as i64;
        trip(
            *who,
            vec![
                ("Kabul", "Herat", "AF-HER", -48 - 3 * k, -46 - 3 * k),
                ("Herat", "Kabul", "AF-KAB", 24 + 6 * k, 26 + 6 * k),
            ],
        )
        .await?;
    }
    // Back home from a mission last month.
    for who in kabul.iter().skip(50).take(3) {
        trip(
            *who,
            vec![
                ("Kabul", "Bamyan", "AF-BAM", -24 * 30, -24 * 30 + 3),
                ("Bamyan", "Kabul", "AF-KAB", -24 * 26, -24 * 26 + 3),
            ],
        )
        .await?;
    }

    // Phones: (who, area or None for outside every area, hours ago).
    let mut phones: Vec<(uuid::Uuid, Option<&str>, i64)> = vec![];
    for (k, who) in kabul.iter().take(24).enumerate() {
        phones.push((*who, Some("AF-KAB"), 1 + (k as i64 % 9)));
    }
    // Stationed in Herat or Balkh, but their phones are in Kabul.
    for who in herat
        .iter()
        .skip(12)
        .take(3)
        .chain(balkh.iter().skip(5).take(2))
    {
        phones.push((*who, Some("AF-KAB"), 2));
    }
    // Stale: last heard of in Kabul two or three days ago.
    for (k, who) in kabul.iter().skip(24).take(5).enumerate() {
        phones.push((*who, Some("AF-KAB"), 50 + 8 * k as i64));
    }
    // Outside every area (at sea, or beyond the shipped geography).
    phones.push((kabul[30], None, 3));
    phones.push((herat[20], None, 5));
    for (k, who) in herat.iter().skip(22).take(6).enumerate() {
        phones.push((*who, Some("AF-HER"), 1 + k as i64));
    }
    for (k, who) in bamako.iter().skip(2).take(8).enumerate() {
        phones.push((*who, Some("ML-BKO"), 1 + k as i64));
    }
    for (who, area, ago) in phones {
        let d = s
            .create_device(
                &NewDevice {
                    user: who,
                    name: "Phone".into(),
                    platform: "owntracks".into(),
                    token_digest: warden_auth::token_digest(&warden_auth::random_token()),
                },
                &ctx(),
            )
            .await?;
        let (lat, lon) = area.map(point).unwrap_or((18.5, 63.0));
        let t = h(-ago);
        s.ingest_locations(&LocationBatch {
            device: d.id,
            user: who,
            reports: vec![ResolvedReport {
                report: LocationReport {
                    lat,
                    lon,
                    accuracy_m: Some(30.0),
                    recorded_at: t,
                },
                area: area.map(AreaCode::parse).transpose()?,
            }],
            received_at: t,
        })
        .await?;
    }
    Ok(people.len())
}
