mod common;

use chrono::{DateTime, FixedOffset};
use common::*;
use warden_publish::*;

fn dt(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn example(n: u32) -> String {
    let p = crate_dir().join(format!("tests/data/cap/v1dot2_appendix_adot{n}.xml"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

#[test]
fn schema_rejects_invalid_documents() {
    // Guard: the validation helper really fails on schema violations
    // (wrong element order: <sender> before <identifier>).
    let bad = r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><sender>a</sender><identifier>b</identifier><sent>2003-04-02T14:39:01-05:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope></alert>"#;
    let schema = cap_schema();
    let (ok, err) = xmllint(bad, &["--noout", "--schema", schema.to_str().unwrap()]);
    assert!(!ok, "xmllint accepted an invalid document");
    assert!(
        err.contains("identifier") || err.contains("sender"),
        "{err}"
    );
    // And the official examples validate as they are.
    for n in 1..=4 {
        assert_cap_valid(&example(n));
    }
}

#[test]
fn official_examples_parse_reserialise_and_validate() {
    for n in 1..=4 {
        let src = example(n);
        let alert = from_xml(&src).unwrap_or_else(|e| panic!("example A.{n}: {e}"));
        let xml = to_xml(&alert).unwrap_or_else(|e| panic!("example A.{n}: {e}"));
        assert_cap_valid(&xml);
        // Re-reading the output gives the same alert.
        assert_eq!(from_xml(&xml).unwrap(), alert, "example A.{n} round trip");
    }
}

#[test]
fn official_examples_content() {
    let a1 = from_xml(&example(1)).unwrap();
    assert_eq!(a1.identifier, "43b080713727");
    assert_eq!(a1.sender, "hsas@dhs.gov");
    assert_eq!(a1.sent, dt("2003-04-02T14:39:01-05:00"));
    assert_eq!(a1.status, Status::Actual);
    assert_eq!(a1.msg_type, MsgType::Alert);
    assert_eq!(a1.scope, Scope::Public);
    let i = &a1.infos[0];
    assert_eq!(i.language, "en-US"); // schema default, absent in the file
    assert_eq!(i.categories, vec![Category::Security]);
    assert_eq!(
        (i.urgency, i.severity, i.certainty),
        (Urgency::Immediate, Severity::Severe, Certainty::Likely)
    );
    assert_eq!(
        i.parameters,
        vec![("HSAS".to_string(), "ORANGE".to_string())]
    );
    assert_eq!(i.resources[0].mime_type, "image/gif");
    assert_eq!(
        i.resources[0].uri.as_deref(),
        Some("http://www.dhs.gov/dhspublic/getAdvisoryImage")
    );
    assert!(i
        .instruction
        .as_deref()
        .unwrap()
        .starts_with(" A High Condition"));

    let a2 = from_xml(&example(2)).unwrap();
    let i = &a2.infos[0];
    assert_eq!(i.expires, Some(dt("2003-06-17T16:00:00-07:00")));
    assert_eq!(i.event_codes, vec![("SAME".to_string(), "SVR".to_string())]);
    assert_eq!(
        i.areas[0].polygons,
        vec!["38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-120.14"]
    );

    let a3 = from_xml(&example(3)).unwrap();
    assert_eq!(a3.msg_type, MsgType::Update);
    assert_eq!(
        a3.references,
        vec![Reference {
            sender: "trinet@caltech.edu".into(),
            identifier: "TRI13970876.1".into(),
            sent: dt("2003-06-11T20:30:00-07:00"),
        }]
    );
    assert_eq!(a3.infos[0].areas[0].circles, vec!["32.9525,-115.5527 0"]);
    assert_eq!(a3.infos[0].parameters.len(), 5);

    let a4 = from_xml(&example(4)).unwrap();
    assert_eq!(a4.source.as_deref(), Some("SW"));
    assert_eq!(a4.infos.len(), 2);
    assert_eq!(a4.infos[1].language, "es-US");
    assert_eq!(a4.infos[1].event, "Abducción de Niño");
    assert!(a4.infos[0]
        .description
        .as_deref()
        .unwrap()
        .contains("3'0\", 40"));
    assert_eq!(
        a4.infos[0].areas[0].geocodes,
        vec![("SAME".to_string(), "006037".to_string())]
    );
}

fn warden_alert() -> Alert {
    Alert {
        identifier: "warden-2024-000123".into(),
        sender: "security@warden.example.org".into(),
        sent: dt("2024-05-01T09:30:00+04:30"),
        status: Status::Actual,
        msg_type: MsgType::Alert,
        source: Some("Warden security management".into()),
        scope: Scope::Restricted,
        restriction: Some("UN system personnel and implementing partners".into()),
        addresses: None,
        codes: vec!["warden:security-level".into()],
        note: None,
        references: vec![Reference {
            sender: "security@warden.example.org".into(),
            identifier: "warden-2024-000100".into(),
            sent: dt("2024-04-20T12:00:00+00:00"),
        }],
        incidents: Some("INC-2024-0042".into()),
        infos: vec![Info {
            language: "en".into(),
            categories: vec![Category::Security],
            event: "Security level change".into(),
            response_types: vec![ResponseType::Avoid, ResponseType::Monitor],
            urgency: Urgency::Expected,
            severity: Severity::Severe,
            certainty: Certainty::Likely,
            audience: Some("All personnel in Kabul province".into()),
            event_codes: vec![("warden:security-level".into(), "5".into())],
            effective: Some(dt("2024-05-01T09:30:00+04:30")),
            onset: Some(dt("2024-05-01T10:00:00+04:30")),
            expires: Some(dt("2024-05-15T00:00:00+00:00")),
            sender_name: Some("Warden — Country Security Office Afghanistan".into()),
            headline: Some("Afghanistan — Kabul: security level raised to 5 (High)".into()),
            description: Some(
                "The security level for Kabul was raised from 4 (Substantial) to 5 (High).".into(),
            ),
            instruction: Some(
                "Restrict movement to essential travel; check in with the SIOC twice daily.".into(),
            ),
            web: Some("https://warden.example.org/areas/AF-KAB".into()),
            contact: Some("SIOC Kabul +93 20 000 0000".into()),
            parameters: vec![
                ("previous_level".into(), "4".into()),
                ("new_level".into(), "5".into()),
            ],
            resources: vec![],
            areas: vec![Area {
                area_desc: "Afghanistan — Kabul province".into(),
                polygons: vec![
                    "34.75,68.80 34.75,69.60 34.30,69.60 34.30,68.80 34.75,68.80".into(),
                ],
                circles: vec!["34.5553,69.2075 25".into()],
                geocodes: vec![("ISO3166-2".into(), "AF-KAB".into())],
                altitude: Some(5900.0),
                ceiling: Some(12000.5),
            }],
        }],
    }
}

#[test]
fn warden_alert_validates_and_round_trips() {
    let alert = warden_alert();
    validate(&alert).unwrap();
    let xml = to_xml(&alert).unwrap();
    assert_cap_valid(&xml);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">"));
    assert!(xml.contains("<category>Security</category>"));
    assert!(
        xml.contains("<headline>Afghanistan — Kabul: security level raised to 5 (High)</headline>")
    );
    assert!(
        xml.contains("<valueName>ISO3166-2</valueName>\n        <value>AF-KAB</value>"),
        "{xml}"
    );
    assert!(xml.contains("<sent>2024-05-01T09:30:00+04:30</sent>"));
    // UTC is written "+00:00", never "-00:00" or "Z".
    assert!(xml.contains("<expires>2024-05-15T00:00:00+00:00</expires>"));
    assert!(!xml.contains("-00:00<") && !xml.contains("Z<"));
    assert!(xml.contains("<references>security@warden.example.org,warden-2024-000100,2024-04-20T12:00:00+00:00</references>"));
    assert!(
        xml.contains("<altitude>5900</altitude>") && xml.contains("<ceiling>12000.5</ceiling>")
    );
    let back = from_xml(&xml).unwrap();
    assert_eq!(back, alert);
}

#[test]
fn datetimes_have_no_fraction_and_explicit_offset() {
    let mut alert = warden_alert();
    alert.sent = dt("2024-05-01T09:30:15.987654Z");
    let xml = to_xml(&alert).unwrap();
    assert!(
        xml.contains("<sent>2024-05-01T09:30:15+00:00</sent>"),
        "{xml}"
    );
    assert_cap_valid(&xml);
    assert_eq!(
        format_cap_datetime(&dt("2002-05-24T16:49:00-07:00")),
        "2002-05-24T16:49:00-07:00"
    );
}

#[test]
fn text_is_escaped() {
    let mut alert = warden_alert();
    let nasty = r#"Tom & Jerry's <b>"bold"</b> ]]> &amp; done"#;
    alert.note = Some(nasty.into());
    alert.infos[0].headline = Some(nasty.into());
    alert.infos[0].description = Some(format!("line 1\r\nline 2\t{nasty}"));
    alert.infos[0].parameters.push(("a<b".into(), "c&d".into()));
    alert.infos[0].areas[0].area_desc = "<script>alert('x')</script>".into();
    let xml = to_xml(&alert).unwrap();
    assert!(
        xml.contains("<note>Tom &amp; Jerry&apos;s &lt;b&gt;&quot;bold&quot;&lt;/b&gt; ]]&gt; &amp;amp; done</note>"),
        "{xml}"
    );
    assert!(!xml.contains("<b>") && !xml.contains("<script>"));
    assert_cap_valid(&xml);
    let back = from_xml(&xml).unwrap();
    assert_eq!(back, alert);
    assert_eq!(back.note.as_deref(), Some(nasty));
    assert!(back.infos[0]
        .description
        .as_deref()
        .unwrap()
        .starts_with("line 1\r\nline 2\t"));
}

#[test]
fn invalid_identifier_is_rejected_naming_the_field() {
    for bad in ["with space", "a,b", "a<b", "a&b", "", "tab\there"] {
        let mut alert = warden_alert();
        alert.identifier = bad.into();
        let err = validate(&alert).unwrap_err();
        assert!(
            matches!(&err, CapError::InvalidField { field, .. } if field == "identifier"),
            "{bad:?}: {err:?}"
        );
        assert!(err.to_string().contains("identifier"), "{err}");
        assert_eq!(to_xml(&alert).unwrap_err(), err, "to_xml must refuse too");
    }
    let mut alert = warden_alert();
    alert.sender = "security office@warden".into();
    let err = to_xml(&alert).unwrap_err();
    assert!(err.to_string().contains("`sender`"), "{err}");
    let mut alert = warden_alert();
    alert.references[0].identifier = "x,y".into();
    assert!(validate(&alert)
        .unwrap_err()
        .to_string()
        .contains("references[0].identifier"));
}

#[test]
fn other_validation_rules_name_the_field() {
    let field_of = |a: &Alert| match validate(a).unwrap_err() {
        CapError::InvalidField { field, .. } => field,
        e => panic!("{e:?}"),
    };
    let mut a = warden_alert();
    a.infos[0].categories.clear();
    assert_eq!(field_of(&a), "infos[0].categories");

    let mut a = warden_alert();
    a.infos[0].areas[0].polygons[0] = "34.75,68.80 34.75,69.60 34.30,69.60 34.30,68.80".into();
    assert_eq!(field_of(&a), "infos[0].areas[0].polygons[0]"); // not closed

    let mut a = warden_alert();
    a.infos[0].areas[0].polygons[0] = "1,2 3,4 1,2".into();
    assert_eq!(field_of(&a), "infos[0].areas[0].polygons[0]"); // too few points

    let mut a = warden_alert();
    a.infos[0].areas[0].circles[0] = "95,10 5".into();
    assert_eq!(field_of(&a), "infos[0].areas[0].circles[0]");

    let mut a = warden_alert();
    a.infos[0].areas[0].altitude = None;
    assert_eq!(field_of(&a), "infos[0].areas[0].ceiling");

    let mut a = warden_alert();
    a.infos[0].language = "en US".into();
    assert_eq!(field_of(&a), "infos[0].language");

    let mut a = warden_alert();
    a.scope = Scope::Private;
    assert_eq!(field_of(&a), "addresses");
    a.addresses = Some("\"Head of Office\" sso@example.org".into());
    assert!(validate(&a).is_ok());
    assert_cap_valid(&to_xml(&a).unwrap());

    let mut a = warden_alert();
    a.infos[0].description = Some("bell \u{7}".into());
    assert_eq!(field_of(&a), "infos[0].description");
}

#[test]
fn minimal_alert_without_info_is_valid() {
    let a = Alert {
        identifier: "ack-1".into(),
        sender: "warden".into(),
        sent: dt("2024-01-01T00:00:00+00:00"),
        status: Status::System,
        msg_type: MsgType::Ack,
        source: None,
        scope: Scope::Public,
        restriction: None,
        addresses: None,
        codes: vec![],
        note: None,
        references: vec![],
        incidents: None,
        infos: vec![],
    };
    let xml = to_xml(&a).unwrap();
    assert_cap_valid(&xml);
    assert_eq!(from_xml(&xml).unwrap(), a);
}

#[test]
fn reader_errors_name_the_element() {
    let src = example(1);
    let err = from_xml(&src.replace("<urgency>Immediate</urgency>", "<urgency>Soon</urgency>"))
        .unwrap_err();
    assert!(
        matches!(&err, CapError::InvalidValue { element, value, .. } if element == "alert/info/urgency" && value == "Soon"),
        "{err:?}"
    );
    assert!(err.to_string().contains("alert/info/urgency"));

    let err = from_xml(&src.replace(
        "<event>Homeland Security Advisory System Update</event>",
        "",
    ))
    .unwrap_err();
    assert_eq!(
        err,
        CapError::MissingElement {
            element: "alert/info/event".into()
        }
    );

    let err = from_xml(&src.replace(
        "<sent>2003-04-02T14:39:01-05:00</sent>",
        "<sent>yesterday</sent>",
    ))
    .unwrap_err();
    assert!(err.to_string().contains("alert/sent"), "{err}");

    let err = from_xml(&src.replace(
        "<scope>Public</scope>",
        "<scope>Public</scope><scope>Public</scope>",
    ))
    .unwrap_err();
    assert_eq!(
        err,
        CapError::DuplicateElement {
            element: "alert/scope".into()
        }
    );

    let err = from_xml(&src.replace("<areaDesc>", "<bogus/><areaDesc>")).unwrap_err();
    assert_eq!(
        err,
        CapError::UnexpectedElement {
            element: "alert/info/area/bogus".into()
        }
    );

    let err = from_xml(&src.replace("cap:1.2", "cap:1.1")).unwrap_err();
    assert!(matches!(err, CapError::NotCap { .. }), "{err:?}");

    let err = from_xml(&src.replace("</headline>", "")).unwrap_err();
    assert!(matches!(err, CapError::Xml { .. }), "{err:?}");

    let err = from_xml(&example(3).replace("TRI13970876.1,", "TRI13970876.1;")).unwrap_err();
    assert!(err.to_string().contains("alert/references"), "{err}");
}

#[test]
fn reader_skips_signatures_and_reads_cdata_and_prefixes() {
    let xml = r#"<?xml version="1.0"?>
<cap:alert xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2">
  <cap:identifier>id-1</cap:identifier><cap:sender>s</cap:sender>
  <cap:sent>2024-01-01T00:00:00-00:00</cap:sent><cap:status>Test</cap:status>
  <cap:msgType>Alert</cap:msgType><cap:scope>Public</cap:scope>
  <cap:note><![CDATA[a <raw> & note]]></cap:note>
  <Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo/></Signature>
</cap:alert>"#;
    let a = from_xml(xml).unwrap();
    assert_eq!(a.identifier, "id-1");
    assert_eq!(a.status, Status::Test);
    assert_eq!(a.note.as_deref(), Some("a <raw> & note"));
    // "-00:00" is read as UTC and written back as "+00:00".
    let out = to_xml(&a).unwrap();
    assert!(
        out.contains("<sent>2024-01-01T00:00:00+00:00</sent>"),
        "{out}"
    );
    assert_cap_valid(&out);
}
