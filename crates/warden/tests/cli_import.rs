//! `warden import profiles` and `warden import travel-authorisations` on a demo
//! database: per-row errors with line numbers, valid rows imported, re-runs
//! idempotent.

use std::path::Path;
use std::process::{Command, Output};

fn warden(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("--database")
        .arg(format!("sqlite://{}", db.display()))
        .args(args)
        .env("WARDEN_LOG", "warn")
        .output()
        .expect("run warden")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn imports_report_bad_rows_and_rerun_idempotently() {
    let dir = std::env::temp_dir().join(format!("warden-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("demo.db");
    let o = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["demo", "--no-serve", "--reset", "--file"])
        .arg(&db)
        .env("WARDEN_LOG", "warn")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));

    let profiles = dir.join("profiles.csv");
    std::fs::write(
        &profiles,
        "personnel_id,name,category,email,nationality,duty_station,emergency_contacts,certificates\n\
         900001,Nadia Rahimi,international staff,n.rahimi@wfp.example,AF,AF-KAB,Omar|brother|+93700000000|,BSAFE:2025-01-15:2028-01-15\n\
         900002,Jean Mbeki,national_staff,,CD,,,\n\
         900003,Ana Costa,volunteer,,BR,,,\n\
         900004,Li Wei,consultant,li@wfp.example,CN,,,BSAFE:2026-01-01:2025-01-01\n\
         900001,Nadia Again,international_staff,,AF,,,\n\
         900005,Sam Okello,dependant,,UG,ZZ-NOPE,,\n",
    )
    .unwrap();
    let p = profiles.to_str().unwrap();
    let o = warden(&db, &["import", "profiles", p, "--agency", "WFP"]);
    let t = text(&o);
    assert!(
        !o.status.success(),
        "rejected rows make the exit status non-zero: {t}"
    );
    assert!(
        t.contains("6 rows read: 2 profiles created, 0 updated, 0 unchanged, 4 rejected"),
        "{t}"
    );
    assert!(t.contains("line 4: category:"), "{t}");
    assert!(t.contains("line 5: certificates[0]: expires before"), "{t}");
    assert!(
        t.contains("line 6: personnel_id: 900001 appears on an earlier line"),
        "{t}"
    );
    assert!(t.contains("line 7: duty_station:"), "{t}");
    let o = warden(&db, &["import", "profiles", p, "--agency", "WFP"]);
    assert!(
        text(&o).contains("0 profiles created, 0 updated, 2 unchanged"),
        "{}",
        text(&o)
    );

    let tas = dir.join("tas.csv");
    let day = (chrono::Utc::now() + chrono::Duration::days(20))
        .format("%Y-%m-%d")
        .to_string();
    let back = (chrono::Utc::now() + chrono::Duration::days(27))
        .format("%Y-%m-%d")
        .to_string();
    std::fs::write(
        &tas,
        format!(
            "ta_number,traveller,status,purpose,from,to,depart,arrive,flight\n\
             TA-1,900001,approved,official,GVA,KBL,{day}T08:00,{day}T22:15,ET 308\n\
             TA-1,900001,approved,official,KBL,GVA,{back}T06:00,{back}T19:40,ET 309\n\
             TA-2,900002,approved,official,FIH,\"Goma, CD\",{day}T07:00,{day}T09:00,\n\
             TA-3,900002,approved,official,FIH,Nowhereville Zq,{day}T07:00,{day}T09:00,\n\
             TA-4,123456,approved,official,FIH,GOM,{day}T07:00,{day}T09:00,\n\
             TA-5,900001,approved,official,GVA,KBL,{back}T08:00,{day}T22:15,\n"
        ),
    )
    .unwrap();
    let f = tas.to_str().unwrap();
    let o = warden(
        &db,
        &["import", "travel-authorisations", f, "--agency", "WFP"],
    );
    let t = text(&o);
    assert!(
        // The demo's trips outnumber the file's rows: a transaction per
        // batch, not one for the whole file.
        t.contains(
            "6 rows read (a transaction per batch): 2 trips created, 0 updated, 0 unchanged, 3 rejected"
        ),
        "{t}"
    );
    assert!(t.contains("line 5: legs[0].to:"), "{t}");
    assert!(t.contains("line 6: traveller:"), "{t}");
    assert!(t.contains("line 7: legs[0].arrive:"), "{t}");
    // Again, each TA in a transaction of its own: nothing changes. A batch
    // of none is refused.
    let batched = |n: &str| {
        warden(
            &db,
            &[
                "import",
                "travel-authorisations",
                f,
                "--agency",
                "WFP",
                "--batch",
                n,
            ],
        )
    };
    let o = batched("1");
    assert!(
        text(&o).contains("(a transaction per batch): 0 trips created, 0 updated, 2 unchanged"),
        "{}",
        text(&o)
    );
    let o = batched("0");
    assert!(!o.status.success());
    assert!(text(&o).contains("--batch"), "{}", text(&o));
    // The whole file at once, asked for: nothing changes either; a batch size
    // with it is refused.
    let whole = |more: &[&str]| {
        let mut args = vec!["import", "travel-authorisations", f, "--agency", "WFP"];
        args.extend_from_slice(&["--load", "whole"]);
        args.extend_from_slice(more);
        warden(&db, &args)
    };
    let o = whole(&[]);
    assert!(
        text(&o).contains(
            "(the whole file, committed at its end): 0 trips created, 0 updated, 2 unchanged"
        ),
        "{}",
        text(&o)
    );
    let more = dir.join("more.csv");
    std::fs::write(
        &more,
        format!(
            "ta_number,traveller,status,purpose,from,to,depart,arrive,flight\n\
             TA-6,900002,approved,official,FIH,GOM,{back}T07:00,{back}T09:00,\n"
        ),
    )
    .unwrap();
    let o = warden(
        &db,
        &[
            "import",
            "travel-authorisations",
            more.to_str().unwrap(),
            "--agency",
            "WFP",
            "--load",
            "whole",
        ],
    );
    assert!(
        text(&o).contains("(the whole file, committed at its end): 1 trips created"),
        "{}",
        text(&o)
    );
    let o = whole(&["--batch", "5"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("--load whole commits the whole file at its end"),
        "{}",
        text(&o)
    );
    let o = warden(
        &db,
        &["import", "travel-authorisations", f, "--agency", "NOPE"],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("there is no agency NOPE"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
