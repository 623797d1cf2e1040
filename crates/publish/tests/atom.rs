mod common;

use chrono::{DateTime, FixedOffset};
use common::*;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use warden_publish::*;

fn dt(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn feed(entries: Vec<Entry>) -> Feed {
    Feed {
        id: "urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6".into(),
        title: "Warden — security advisories".into(),
        updated: dt("2024-05-01T09:30:00+04:30"),
        self_link: "https://warden.example.org/feeds/advisories.atom?lang=en&region=AF".into(),
        alternate_link: Some("https://warden.example.org/advisories".into()),
        author: "Warden Security Office".into(),
        entries,
    }
}

/// (namespace, local name, attributes, text) of an element.
type El = (String, String, Vec<(String, String)>, String);

/// Every element, in document order, via quick-xml.
fn elements(xml: &str) -> Vec<El> {
    let mut r = NsReader::from_str(xml);
    let mut out: Vec<El> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    loop {
        let (ns, ev) = r.read_resolved_event().unwrap();
        let ns = match ns {
            ResolveResult::Bound(n) => String::from_utf8(n.as_ref().to_vec()).unwrap(),
            _ => String::new(),
        };
        let is_start = matches!(ev, Event::Start(_));
        match ev {
            Event::Start(e) | Event::Empty(e) => {
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (
                            String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                            a.unescape_value().unwrap().into_owned(),
                        )
                    })
                    .collect();
                let name = String::from_utf8(e.local_name().as_ref().to_vec()).unwrap();
                out.push((ns, name, attrs, String::new()));
                if is_start {
                    stack.push(out.len() - 1);
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                if let Some(&i) = stack.last() {
                    out[i].3.push_str(&t.unescape().unwrap());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

#[test]
fn atom_feed_is_well_formed_namespaced_and_escaped() {
    let html = r#"<p>Level <b>5</b> — "High" & rising; don't travel</p>"#;
    let f = feed(vec![
        Entry {
            id: "tag:warden.example.org,2024:advisory/123".into(),
            title: "Kabul: security level raised to 5 <High> & more".into(),
            updated: dt("2024-05-01T09:30:00+04:30"),
            published: Some(dt("2024-05-01T05:00:00Z")),
            link: Some("https://warden.example.org/advisories/123?a=1&b=2".into()),
            summary: Some("Security level 5 \"High\" in Kabul".into()),
            content_html: Some(html.into()),
            categories: vec!["Security".into(), "AF-KAB".into()],
        },
        Entry {
            id: "tag:warden.example.org,2024:advisory/124".into(),
            title: "No link, no content".into(),
            updated: dt("2024-05-02T00:00:00+00:00"),
            published: None,
            link: None,
            summary: None,
            content_html: None,
            categories: vec![],
        },
    ]);
    let xml = atom_xml(&f);
    assert_well_formed(&xml);
    assert!(xml.starts_with(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">"
    ));
    assert!(
        !xml.contains("<b>") && !xml.contains("<p>"),
        "raw HTML leaked:\n{xml}"
    );

    let els = elements(&xml);
    assert!(
        els.iter().all(|(ns, ..)| ns == ATOM_NS),
        "every element is in the Atom namespace"
    );
    let texts = |name: &str| -> Vec<String> {
        els.iter()
            .filter(|e| e.1 == name)
            .map(|e| e.3.clone())
            .collect()
    };
    // Dates are RFC 3339.
    let dates: Vec<String> = ["updated", "published"]
        .iter()
        .flat_map(|n| texts(n))
        .collect();
    assert_eq!(dates.len(), 4);
    for d in &dates {
        assert!(DateTime::parse_from_rfc3339(d).is_ok(), "{d}");
    }
    assert_eq!(texts("updated")[0], "2024-05-01T09:30:00+04:30");
    assert_eq!(texts("published"), vec!["2024-05-01T05:00:00Z"]);
    // Escaped text survives a parse unchanged.
    assert_eq!(
        texts("title")[1],
        "Kabul: security level raised to 5 <High> & more"
    );
    let content = els.iter().find(|e| e.1 == "content").unwrap();
    assert_eq!(content.2, vec![("type".to_string(), "html".to_string())]);
    assert_eq!(content.3, html);
    assert_eq!(texts("name"), vec!["Warden Security Office"]);
    // Links and their attributes.
    let links: Vec<&Vec<(String, String)>> =
        els.iter().filter(|e| e.1 == "link").map(|e| &e.2).collect();
    assert!(links[0].contains(&("rel".into(), "self".into())));
    assert!(links[0].contains(&(
        "href".into(),
        "https://warden.example.org/feeds/advisories.atom?lang=en&region=AF".into()
    )));
    assert!(links[2].contains(&(
        "href".into(),
        "https://warden.example.org/advisories/123?a=1&b=2".into()
    )));
    let terms: Vec<&str> = els
        .iter()
        .filter(|e| e.1 == "category")
        .map(|e| e.2[0].1.as_str())
        .collect();
    assert_eq!(terms, vec!["Security", "AF-KAB"]);
    // RFC 4287 4.1.1.1: an entry without a link has content.
    assert_eq!(els.iter().filter(|e| e.1 == "content").count(), 2);
    assert_eq!(els.iter().filter(|e| e.1 == "entry").count(), 2);
}

#[test]
fn empty_feed_is_valid() {
    let mut f = feed(vec![]);
    f.alternate_link = None;
    let xml = atom_xml(&f);
    assert_well_formed(&xml);
    let els = elements(&xml);
    let names: Vec<&str> = els.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(
        names,
        vec!["feed", "id", "title", "updated", "link", "author", "name"]
    );
    assert!(els.iter().all(|(ns, ..)| ns == ATOM_NS));
}

#[test]
fn well_formedness_check_can_fail() {
    // Guard for the helper itself.
    let (ok, _) = xmllint("<feed><a></feed>", &["--noout"]);
    assert!(!ok);
}
