//! Atom Syndication Format (RFC 4287) feed writer.

use chrono::{DateTime, FixedOffset, SecondsFormat};

use crate::xml::{elem, escape, strip_invalid, tag};

/// The Atom namespace.
pub const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

/// An Atom feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// Permanent, universally unique IRI (e.g. `urn:uuid:...` or a tag: URI).
    pub id: String,
    pub title: String,
    pub updated: DateTime<FixedOffset>,
    /// URL of the feed itself (`<link rel="self">`).
    pub self_link: String,
    /// URL of the HTML page of the feed (`<link rel="alternate">`).
    pub alternate_link: Option<String>,
    /// Feed-level author name; it applies to every entry.
    pub author: String,
    pub entries: Vec<Entry>,
}

/// An Atom entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    pub title: String,
    pub updated: DateTime<FixedOffset>,
    pub published: Option<DateTime<FixedOffset>>,
    /// URL of the entry's HTML page (`<link rel="alternate">`).
    pub link: Option<String>,
    /// Plain-text summary.
    pub summary: Option<String>,
    /// HTML content, written escaped as `<content type="html">`.
    pub content_html: Option<String>,
    /// Category terms.
    pub categories: Vec<String>,
}

/// RFC 3339 timestamp, seconds precision (`2024-05-01T12:00:00Z`,
/// `2024-05-01T14:00:00+02:00`).
fn rfc3339(dt: &DateTime<FixedOffset>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn attr(s: &str) -> String {
    escape(&strip_invalid(s))
}

/// Serialises the feed as an Atom 1.0 document (UTF-8, XML declaration).
///
/// Text is escaped; HTML content is carried as escaped text in
/// `<content type="html">`. RFC 4287 requires an entry without content to
/// have an alternate link, so an entry with neither `content_html` nor
/// `link` gets an empty `<content type="html"/>`-equivalent element.
pub fn atom_xml(feed: &Feed) -> String {
    let mut o = String::with_capacity(1024 + feed.entries.len() * 512);
    o.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    o.push_str(&format!("<feed xmlns=\"{ATOM_NS}\">\n"));
    elem(&mut o, 2, "id", &feed.id);
    elem(&mut o, 2, "title", &feed.title);
    elem(&mut o, 2, "updated", &rfc3339(&feed.updated));
    tag(
        &mut o,
        2,
        &format!(
            r#"<link rel="self" type="application/atom+xml" href="{}"/>"#,
            attr(&feed.self_link)
        ),
    );
    if let Some(alt) = &feed.alternate_link {
        tag(
            &mut o,
            2,
            &format!(
                r#"<link rel="alternate" type="text/html" href="{}"/>"#,
                attr(alt)
            ),
        );
    }
    tag(&mut o, 2, "<author>");
    elem(&mut o, 4, "name", &feed.author);
    tag(&mut o, 2, "</author>");
    for e in &feed.entries {
        tag(&mut o, 2, "<entry>");
        elem(&mut o, 4, "id", &e.id);
        elem(&mut o, 4, "title", &e.title);
        elem(&mut o, 4, "updated", &rfc3339(&e.updated));
        if let Some(p) = &e.published {
            elem(&mut o, 4, "published", &rfc3339(p));
        }
        if let Some(link) = &e.link {
            tag(
                &mut o,
                4,
                &format!(
                    r#"<link rel="alternate" type="text/html" href="{}"/>"#,
                    attr(link)
                ),
            );
        }
        for c in &e.categories {
            tag(&mut o, 4, &format!(r#"<category term="{}"/>"#, attr(c)));
        }
        if let Some(s) = &e.summary {
            tag(
                &mut o,
                4,
                &format!(r#"<summary type="text">{}</summary>"#, attr(s)),
            );
        }
        match (&e.content_html, &e.link) {
            (Some(html), _) => {
                tag(
                    &mut o,
                    4,
                    &format!(r#"<content type="html">{}</content>"#, attr(html)),
                );
            }
            (None, None) => tag(&mut o, 4, r#"<content type="html"></content>"#),
            (None, Some(_)) => {}
        }
        tag(&mut o, 2, "</entry>");
    }
    o.push_str("</feed>\n");
    o
}
