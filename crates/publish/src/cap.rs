//! OASIS Common Alerting Protocol (CAP) 1.2.
//!
//! * [`validate`] checks an [`Alert`] against the CAP 1.2 rules that matter for
//!   producing a valid message and names the offending field.
//! * [`to_xml`] validates, then writes the alert in the exact element order of
//!   the CAP 1.2 XSD (`schema/CAP-v1.2.xsd`). It returns `Result` so an invalid
//!   alert can never be published.
//! * [`from_xml`] reads a CAP 1.2 message (namespace
//!   `urn:oasis:names:tc:emergency:cap:1.2`); errors name the element.
//!
//! Date-times are written as `YYYY-MM-DDThh:mm:ss±hh:mm`: no fractional
//! seconds, explicit offset, UTC as `+00:00` (Warden's choice; the XSD pattern
//! accepts both signs).
//!
//! Beyond the fields listed in Warden's design, [`Info::resources`] carries
//! `<resource>` elements (used by the official example A.1), so that official
//! messages round-trip. XML digital signatures (`<ds:Signature>`, the XSD's
//! trailing `<any>` from the xmldsig namespace) and other foreign-namespace
//! elements are skipped by the reader and never written.

use chrono::{DateTime, FixedOffset};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::xml::{elem, is_xml_char, tag};

/// The CAP 1.2 XML namespace.
pub const CAP_NS: &str = "urn:oasis:names:tc:emergency:cap:1.2";

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Errors of CAP validation and parsing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CapError {
    /// A field of the model is not valid CAP (validation, before writing).
    #[error("invalid CAP field `{field}`: {reason}")]
    InvalidField { field: String, reason: String },
    /// The input is not well-formed XML.
    #[error("malformed XML at byte {position}: {message}")]
    Xml { position: u64, message: String },
    /// The root element is not a CAP 1.2 `<alert>`.
    #[error(
        "not a CAP 1.2 message: root element is `{found}`, expected `alert` in namespace {CAP_NS}"
    )]
    NotCap { found: String },
    /// A required element is missing.
    #[error("missing required element `{element}`")]
    MissingElement { element: String },
    /// An element appears more often than the schema allows.
    #[error("element `{element}` may appear only once")]
    DuplicateElement { element: String },
    /// An element that CAP 1.2 does not define at this place.
    #[error("unexpected element `{element}`")]
    UnexpectedElement { element: String },
    /// An element's content is not a valid value.
    #[error("invalid value {value:?} in element `{element}`: expected {expected}")]
    InvalidValue {
        element: String,
        value: String,
        expected: String,
    },
}

// ---------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------

macro_rules! cap_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// All values, in schema order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The CAP code value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the CAP code value (exact, case-sensitive, as in the XSD).
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }

            fn expected() -> String {
                let v: Vec<&str> = vec![$($text),+];
                format!("one of {}", v.join(", "))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

cap_enum!(
    /// `<status>`: the appropriate handling of the alert message.
    Status { Actual => "Actual", Exercise => "Exercise", System => "System", Test => "Test", Draft => "Draft" }
);
cap_enum!(
    /// `<msgType>`: the nature of the alert message.
    MsgType { Alert => "Alert", Update => "Update", Cancel => "Cancel", Ack => "Ack", Error => "Error" }
);
cap_enum!(
    /// `<scope>`: the intended distribution.
    Scope { Public => "Public", Restricted => "Restricted", Private => "Private" }
);
cap_enum!(
    /// `<category>` of the subject event.
    Category {
        Geo => "Geo", Met => "Met", Safety => "Safety", Security => "Security", Rescue => "Rescue",
        Fire => "Fire", Health => "Health", Env => "Env", Transport => "Transport", Infra => "Infra",
        CBRNE => "CBRNE", Other => "Other",
    }
);
cap_enum!(
    /// `<responseType>`: the recommended type of action.
    ResponseType {
        Shelter => "Shelter", Evacuate => "Evacuate", Prepare => "Prepare", Execute => "Execute",
        Avoid => "Avoid", Monitor => "Monitor", Assess => "Assess", AllClear => "AllClear", None => "None",
    }
);
cap_enum!(
    /// `<urgency>`.
    Urgency { Immediate => "Immediate", Expected => "Expected", Future => "Future", Past => "Past", Unknown => "Unknown" }
);
cap_enum!(
    /// `<severity>`.
    Severity { Extreme => "Extreme", Severe => "Severe", Moderate => "Moderate", Minor => "Minor", Unknown => "Unknown" }
);
cap_enum!(
    /// `<certainty>`.
    Certainty { Observed => "Observed", Likely => "Likely", Possible => "Possible", Unlikely => "Unlikely", Unknown => "Unknown" }
);

/// One entry of `<references>`: an earlier message, as `sender,identifier,sent`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub sender: String,
    pub identifier: String,
    pub sent: DateTime<FixedOffset>,
}

/// The `<alert>` segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub identifier: String,
    pub sender: String,
    pub sent: DateTime<FixedOffset>,
    pub status: Status,
    pub msg_type: MsgType,
    pub source: Option<String>,
    pub scope: Scope,
    pub restriction: Option<String>,
    /// Space-separated list of addressees (quote names containing spaces).
    pub addresses: Option<String>,
    pub codes: Vec<String>,
    pub note: Option<String>,
    pub references: Vec<Reference>,
    /// Space-separated list of incident identifiers.
    pub incidents: Option<String>,
    pub infos: Vec<Info>,
}

/// The `<info>` segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    /// RFC 3066 language tag; when `<language>` is absent the reader uses the
    /// schema default `en-US`, and the writer always writes it.
    pub language: String,
    pub categories: Vec<Category>,
    pub event: String,
    pub response_types: Vec<ResponseType>,
    pub urgency: Urgency,
    pub severity: Severity,
    pub certainty: Certainty,
    pub audience: Option<String>,
    /// `<eventCode>` pairs (valueName, value).
    pub event_codes: Vec<(String, String)>,
    pub effective: Option<DateTime<FixedOffset>>,
    pub onset: Option<DateTime<FixedOffset>>,
    pub expires: Option<DateTime<FixedOffset>>,
    pub sender_name: Option<String>,
    pub headline: Option<String>,
    pub description: Option<String>,
    pub instruction: Option<String>,
    pub web: Option<String>,
    pub contact: Option<String>,
    /// `<parameter>` pairs (valueName, value).
    pub parameters: Vec<(String, String)>,
    /// `<resource>` elements (not in Warden's original design; needed for
    /// official messages such as example A.1).
    pub resources: Vec<Resource>,
    pub areas: Vec<Area>,
}

/// The `<resource>` segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub resource_desc: String,
    pub mime_type: String,
    pub size: Option<u64>,
    pub uri: Option<String>,
    pub deref_uri: Option<String>,
    pub digest: Option<String>,
}

/// The `<area>` segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub area_desc: String,
    /// Each polygon as `"lat,lon lat,lon ..."` (WGS 84), at least four pairs,
    /// first and last equal.
    pub polygons: Vec<String>,
    /// Each circle as `"lat,lon radius_km"`.
    pub circles: Vec<String>,
    /// `<geocode>` pairs (valueName, value), e.g. `("ISO3166-2", "AF-KAB")`.
    pub geocodes: Vec<(String, String)>,
    /// Feet above mean sea level.
    pub altitude: Option<f64>,
    /// Feet above mean sea level; only together with `altitude`.
    pub ceiling: Option<f64>,
}

// ---------------------------------------------------------------------------
// Date-times
// ---------------------------------------------------------------------------

/// Formats a CAP date-time: `2002-05-24T16:49:00-07:00` (seconds precision,
/// explicit numeric offset, UTC as `+00:00`).
pub fn format_cap_datetime(dt: &DateTime<FixedOffset>) -> String {
    dt.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

fn parse_cap_datetime(element: &str, s: &str) -> Result<DateTime<FixedOffset>, CapError> {
    let t = s.trim();
    // Accepts the CAP form and, leniently, other RFC 3339 forms ("Z",
    // fractional seconds) found in the wild.
    DateTime::parse_from_rfc3339(t).map_err(|_| CapError::InvalidValue {
        element: element.to_string(),
        value: t.to_string(),
        expected: "a date-time like 2002-05-24T16:49:00-07:00".into(),
    })
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> CapError {
    CapError::InvalidField {
        field: field.into(),
        reason: reason.into(),
    }
}

/// identifier / sender / references parts: no whitespace, commas, `<` or `&`.
fn check_id(field: &str, v: &str) -> Result<(), CapError> {
    if v.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if let Some(c) = v
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, ',' | '<' | '&'))
    {
        return Err(invalid(
            field,
            format!("must not contain spaces, commas, '<' or '&' (found {c:?})"),
        ));
    }
    Ok(())
}

fn check_text(field: &str, v: &str) -> Result<(), CapError> {
    if let Some(c) = v.chars().find(|c| !is_xml_char(*c)) {
        return Err(invalid(
            field,
            format!("contains a character XML cannot carry: U+{:04X}", c as u32),
        ));
    }
    Ok(())
}

fn check_nonempty(field: &str, v: &str) -> Result<(), CapError> {
    check_text(field, v)?;
    if v.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    Ok(())
}

fn check_opt(field: &str, v: &Option<String>) -> Result<(), CapError> {
    match v {
        Some(s) => check_text(field, s),
        None => Ok(()),
    }
}

fn check_pairs(field: &str, pairs: &[(String, String)]) -> Result<(), CapError> {
    for (i, (n, v)) in pairs.iter().enumerate() {
        check_text(&format!("{field}[{i}].valueName"), n)?;
        check_text(&format!("{field}[{i}].value"), v)?;
    }
    Ok(())
}

fn parse_point(field: &str, p: &str) -> Result<(f64, f64), CapError> {
    let bad = || invalid(field, format!("{p:?} is not a WGS 84 \"lat,lon\" pair"));
    let (la, lo) = p.split_once(',').ok_or_else(bad)?;
    let lat: f64 = la.parse().map_err(|_| bad())?;
    let lon: f64 = lo.parse().map_err(|_| bad())?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(invalid(
            field,
            format!("{p:?} is out of range (lat -90..90, lon -180..180)"),
        ));
    }
    Ok((lat, lon))
}

fn check_polygon(field: &str, poly: &str) -> Result<(), CapError> {
    let pts = poly
        .split_whitespace()
        .map(|p| parse_point(field, p))
        .collect::<Result<Vec<_>, _>>()?;
    if pts.len() < 4 {
        return Err(invalid(
            field,
            format!(
                "a polygon needs at least 4 coordinate pairs, found {}",
                pts.len()
            ),
        ));
    }
    if pts.first() != pts.last() {
        return Err(invalid(
            field,
            "the first and last coordinate pairs of a polygon must be equal",
        ));
    }
    Ok(())
}

fn check_circle(field: &str, circle: &str) -> Result<(), CapError> {
    let mut parts = circle.split_whitespace();
    let (Some(p), Some(r), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid(
            field,
            format!("{circle:?} is not \"lat,lon radius\""),
        ));
    };
    parse_point(field, p)?;
    match r.parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(()),
        _ => Err(invalid(
            field,
            format!("radius {r:?} is not a non-negative number of kilometres"),
        )),
    }
}

/// xs:language: `[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*`.
fn check_language(field: &str, lang: &str) -> Result<(), CapError> {
    let mut parts = lang.split('-');
    let first = parts.next().unwrap_or("");
    let ok_first = (1..=8).contains(&first.len()) && first.bytes().all(|b| b.is_ascii_alphabetic());
    let ok_rest =
        parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if ok_first && ok_rest {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{lang:?} is not a language tag like en-US"),
        ))
    }
}

/// Checks an alert against the CAP 1.2 rules; the error names the field,
/// e.g. `identifier` or `infos[0].areas[1].polygons[0]`.
pub fn validate(alert: &Alert) -> Result<(), CapError> {
    check_id("identifier", &alert.identifier)?;
    check_id("sender", &alert.sender)?;
    check_opt("source", &alert.source)?;
    check_opt("restriction", &alert.restriction)?;
    check_opt("addresses", &alert.addresses)?;
    if alert.scope == Scope::Private
        && alert
            .addresses
            .as_deref()
            .is_none_or(|a| a.trim().is_empty())
    {
        return Err(invalid("addresses", "required when scope is Private"));
    }
    for (i, c) in alert.codes.iter().enumerate() {
        check_nonempty(&format!("codes[{i}]"), c)?;
    }
    check_opt("note", &alert.note)?;
    for (i, r) in alert.references.iter().enumerate() {
        check_id(&format!("references[{i}].sender"), &r.sender)?;
        check_id(&format!("references[{i}].identifier"), &r.identifier)?;
    }
    check_opt("incidents", &alert.incidents)?;
    for (i, info) in alert.infos.iter().enumerate() {
        let f = |name: &str| format!("infos[{i}].{name}");
        check_language(&f("language"), &info.language)?;
        if info.categories.is_empty() {
            return Err(invalid(
                f("categories"),
                "at least one category is required",
            ));
        }
        check_nonempty(&f("event"), &info.event)?;
        check_opt(&f("audience"), &info.audience)?;
        check_pairs(&f("event_codes"), &info.event_codes)?;
        check_opt(&f("sender_name"), &info.sender_name)?;
        check_opt(&f("headline"), &info.headline)?;
        check_opt(&f("description"), &info.description)?;
        check_opt(&f("instruction"), &info.instruction)?;
        if let Some(web) = &info.web {
            check_nonempty(&f("web"), web)?;
        }
        check_opt(&f("contact"), &info.contact)?;
        check_pairs(&f("parameters"), &info.parameters)?;
        for (j, r) in info.resources.iter().enumerate() {
            let g = |name: &str| format!("infos[{i}].resources[{j}].{name}");
            check_nonempty(&g("resource_desc"), &r.resource_desc)?;
            check_nonempty(&g("mime_type"), &r.mime_type)?;
            check_opt(&g("uri"), &r.uri)?;
            check_opt(&g("deref_uri"), &r.deref_uri)?;
            check_opt(&g("digest"), &r.digest)?;
        }
        for (j, a) in info.areas.iter().enumerate() {
            let g = |name: &str| format!("infos[{i}].areas[{j}].{name}");
            check_nonempty(&g("area_desc"), &a.area_desc)?;
            for (k, p) in a.polygons.iter().enumerate() {
                check_polygon(&g(&format!("polygons[{k}]")), p)?;
            }
            for (k, c) in a.circles.iter().enumerate() {
                check_circle(&g(&format!("circles[{k}]")), c)?;
            }
            check_pairs(&g("geocodes"), &a.geocodes)?;
            if a.altitude.is_some_and(|x| !x.is_finite()) {
                return Err(invalid(g("altitude"), "must be a finite number"));
            }
            if let Some(c) = a.ceiling {
                if !c.is_finite() {
                    return Err(invalid(g("ceiling"), "must be a finite number"));
                }
                if a.altitude.is_none() {
                    return Err(invalid(
                        g("ceiling"),
                        "may only be used together with altitude",
                    ));
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

fn opt(out: &mut String, indent: usize, name: &str, v: &Option<String>) {
    if let Some(v) = v {
        elem(out, indent, name, v);
    }
}

fn pairs(out: &mut String, indent: usize, name: &str, ps: &[(String, String)]) {
    for (n, v) in ps {
        tag(out, indent, &format!("<{name}>"));
        elem(out, indent + 2, "valueName", n);
        elem(out, indent + 2, "value", v);
        tag(out, indent, &format!("</{name}>"));
    }
}

/// xs:decimal text of a finite f64 (Rust's `Display` never uses exponents).
fn decimal(x: f64) -> String {
    format!("{x}")
}

/// Validates the alert, then serialises it as a CAP 1.2 XML document (UTF-8,
/// XML declaration, default namespace, elements in XSD order, two-space
/// indentation). Text is escaped (`& < > " '`; CR as `&#xD;`).
pub fn to_xml(alert: &Alert) -> Result<String, CapError> {
    validate(alert)?;
    let mut o = String::with_capacity(2048);
    o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    o.push_str(&format!("<alert xmlns=\"{CAP_NS}\">\n"));
    elem(&mut o, 2, "identifier", &alert.identifier);
    elem(&mut o, 2, "sender", &alert.sender);
    elem(&mut o, 2, "sent", &format_cap_datetime(&alert.sent));
    elem(&mut o, 2, "status", alert.status.as_str());
    elem(&mut o, 2, "msgType", alert.msg_type.as_str());
    opt(&mut o, 2, "source", &alert.source);
    elem(&mut o, 2, "scope", alert.scope.as_str());
    opt(&mut o, 2, "restriction", &alert.restriction);
    opt(&mut o, 2, "addresses", &alert.addresses);
    for c in &alert.codes {
        elem(&mut o, 2, "code", c);
    }
    opt(&mut o, 2, "note", &alert.note);
    if !alert.references.is_empty() {
        let refs: Vec<String> = alert
            .references
            .iter()
            .map(|r| {
                format!(
                    "{},{},{}",
                    r.sender,
                    r.identifier,
                    format_cap_datetime(&r.sent)
                )
            })
            .collect();
        elem(&mut o, 2, "references", &refs.join(" "));
    }
    opt(&mut o, 2, "incidents", &alert.incidents);
    for info in &alert.infos {
        tag(&mut o, 2, "<info>");
        elem(&mut o, 4, "language", &info.language);
        for c in &info.categories {
            elem(&mut o, 4, "category", c.as_str());
        }
        elem(&mut o, 4, "event", &info.event);
        for r in &info.response_types {
            elem(&mut o, 4, "responseType", r.as_str());
        }
        elem(&mut o, 4, "urgency", info.urgency.as_str());
        elem(&mut o, 4, "severity", info.severity.as_str());
        elem(&mut o, 4, "certainty", info.certainty.as_str());
        opt(&mut o, 4, "audience", &info.audience);
        pairs(&mut o, 4, "eventCode", &info.event_codes);
        for (name, dt) in [
            ("effective", &info.effective),
            ("onset", &info.onset),
            ("expires", &info.expires),
        ] {
            if let Some(dt) = dt {
                elem(&mut o, 4, name, &format_cap_datetime(dt));
            }
        }
        opt(&mut o, 4, "senderName", &info.sender_name);
        opt(&mut o, 4, "headline", &info.headline);
        opt(&mut o, 4, "description", &info.description);
        opt(&mut o, 4, "instruction", &info.instruction);
        opt(&mut o, 4, "web", &info.web);
        opt(&mut o, 4, "contact", &info.contact);
        pairs(&mut o, 4, "parameter", &info.parameters);
        for r in &info.resources {
            tag(&mut o, 4, "<resource>");
            elem(&mut o, 6, "resourceDesc", &r.resource_desc);
            elem(&mut o, 6, "mimeType", &r.mime_type);
            if let Some(size) = r.size {
                elem(&mut o, 6, "size", &size.to_string());
            }
            opt(&mut o, 6, "uri", &r.uri);
            opt(&mut o, 6, "derefUri", &r.deref_uri);
            opt(&mut o, 6, "digest", &r.digest);
            tag(&mut o, 4, "</resource>");
        }
        for a in &info.areas {
            tag(&mut o, 4, "<area>");
            elem(&mut o, 6, "areaDesc", &a.area_desc);
            for p in &a.polygons {
                elem(&mut o, 6, "polygon", p);
            }
            for c in &a.circles {
                elem(&mut o, 6, "circle", c);
            }
            pairs(&mut o, 6, "geocode", &a.geocodes);
            if let Some(x) = a.altitude {
                elem(&mut o, 6, "altitude", &decimal(x));
            }
            if let Some(x) = a.ceiling {
                elem(&mut o, 6, "ceiling", &decimal(x));
            }
            tag(&mut o, 4, "</area>");
        }
        tag(&mut o, 2, "</info>");
    }
    o.push_str("</alert>\n");
    Ok(o)
}

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

/// A minimal element tree of the CAP-namespace content.
struct Node {
    name: String,
    cap: bool,
    text: String,
    children: Vec<Node>,
}

fn xml_err(reader: &NsReader<&[u8]>, e: impl std::fmt::Display) -> CapError {
    CapError::Xml {
        position: reader.error_position(),
        message: e.to_string(),
    }
}

fn parse_tree(xml: &str) -> Result<Node, CapError> {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let res = reader.read_resolved_event().map(|(ns, ev)| {
            (
                matches!(ns, ResolveResult::Bound(n) if n.as_ref() == CAP_NS.as_bytes()),
                ev,
            )
        });
        let (cap, ev) = match res {
            Ok(x) => x,
            Err(e) => return Err(xml_err(&reader, e)),
        };
        match ev {
            Event::Start(e) | Event::Empty(e) if root.is_some() => {
                let _ = e;
                return Err(CapError::Xml {
                    position: reader.buffer_position(),
                    message: "content after the root element".into(),
                });
            }
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                stack.push(Node {
                    name,
                    cap,
                    text: String::new(),
                    children: Vec::new(),
                });
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let node = Node {
                    name,
                    cap,
                    text: String::new(),
                    children: Vec::new(),
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| xml_err(&reader, "unexpected end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let s = t.unescape().map_err(|e| xml_err(&reader, e))?;
                    top.text.push_str(&s);
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    let s = c.decode().map_err(|e| xml_err(&reader, e))?;
                    top.text.push_str(&s);
                }
            }
            Event::Eof => break,
            // Declaration, comments, processing instructions, DOCTYPE.
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(CapError::Xml {
            position: reader.buffer_position(),
            message: format!(
                "unexpected end of document inside <{}>",
                stack.last().map_or("", |n| &n.name)
            ),
        });
    }
    root.ok_or(CapError::Xml {
        position: 0,
        message: "no root element".into(),
    })
}

/// Children of a CAP element, checked against the allowed names and
/// cardinalities; foreign-namespace children (e.g. ds:Signature) are ignored.
struct Children<'a> {
    path: String,
    nodes: Vec<&'a Node>,
}

impl<'a> Children<'a> {
    fn of(node: &'a Node, path: &str, allowed: &[&str]) -> Result<Self, CapError> {
        let mut nodes = Vec::new();
        for c in &node.children {
            if !c.cap {
                continue;
            }
            if !allowed.contains(&c.name.as_str()) {
                return Err(CapError::UnexpectedElement {
                    element: format!("{path}/{}", c.name),
                });
            }
            nodes.push(c);
        }
        Ok(Children {
            path: path.to_string(),
            nodes,
        })
    }

    fn elem_path(&self, name: &str) -> String {
        format!("{}/{name}", self.path)
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &'a Node> + '_ {
        let name = name.to_string();
        self.nodes.iter().copied().filter(move |n| n.name == name)
    }

    fn opt(&self, name: &str) -> Result<Option<&'a Node>, CapError> {
        let mut it = self.all(name);
        let first = it.next();
        if it.next().is_some() {
            return Err(CapError::DuplicateElement {
                element: self.elem_path(name),
            });
        }
        Ok(first)
    }

    fn req(&self, name: &str) -> Result<&'a Node, CapError> {
        self.opt(name)?.ok_or_else(|| CapError::MissingElement {
            element: self.elem_path(name),
        })
    }

    fn opt_text(&self, name: &str) -> Result<Option<String>, CapError> {
        Ok(self.opt(name)?.map(|n| n.text.clone()))
    }

    fn req_text(&self, name: &str) -> Result<String, CapError> {
        Ok(self.req(name)?.text.clone())
    }

    fn texts(&self, name: &str) -> Vec<String> {
        self.all(name).map(|n| n.text.clone()).collect()
    }

    fn enum_value<T>(
        &self,
        n: &Node,
        parse: fn(&str) -> Option<T>,
        expected: fn() -> String,
    ) -> Result<T, CapError> {
        let v = n.text.trim();
        parse(v).ok_or_else(|| CapError::InvalidValue {
            element: self.elem_path(&n.name),
            value: v.to_string(),
            expected: expected(),
        })
    }

    fn datetime(&self, name: &str) -> Result<Option<DateTime<FixedOffset>>, CapError> {
        self.opt(name)?
            .map(|n| parse_cap_datetime(&self.elem_path(name), &n.text))
            .transpose()
    }

    fn pairs(&self, name: &str) -> Result<Vec<(String, String)>, CapError> {
        self.all(name)
            .map(|n| {
                let c = Children::of(n, &self.elem_path(name), &["valueName", "value"])?;
                Ok((c.req_text("valueName")?, c.req_text("value")?))
            })
            .collect()
    }

    fn decimal(&self, name: &str) -> Result<Option<f64>, CapError> {
        self.opt(name)?
            .map(|n| {
                let v = n.text.trim();
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| CapError::InvalidValue {
                        element: self.elem_path(name),
                        value: v.to_string(),
                        expected: "a decimal number".into(),
                    })
            })
            .transpose()
    }
}

fn parse_references(element: &str, s: &str) -> Result<Vec<Reference>, CapError> {
    s.split_whitespace()
        .map(|triple| {
            let bad = || CapError::InvalidValue {
                element: element.to_string(),
                value: triple.to_string(),
                expected: "sender,identifier,sent".into(),
            };
            let mut parts = triple.splitn(3, ',');
            let (Some(sender), Some(identifier), Some(sent)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad());
            };
            Ok(Reference {
                sender: sender.to_string(),
                identifier: identifier.to_string(),
                sent: DateTime::parse_from_rfc3339(sent).map_err(|_| bad())?,
            })
        })
        .collect()
}

const ALERT_CHILDREN: &[&str] = &[
    "identifier",
    "sender",
    "sent",
    "status",
    "msgType",
    "source",
    "scope",
    "restriction",
    "addresses",
    "code",
    "note",
    "references",
    "incidents",
    "info",
];
const INFO_CHILDREN: &[&str] = &[
    "language",
    "category",
    "event",
    "responseType",
    "urgency",
    "severity",
    "certainty",
    "audience",
    "eventCode",
    "effective",
    "onset",
    "expires",
    "senderName",
    "headline",
    "description",
    "instruction",
    "web",
    "contact",
    "parameter",
    "resource",
    "area",
];
const RESOURCE_CHILDREN: &[&str] = &[
    "resourceDesc",
    "mimeType",
    "size",
    "uri",
    "derefUri",
    "digest",
];
const AREA_CHILDREN: &[&str] = &[
    "areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling",
];

/// Reads a CAP 1.2 XML message. Free-text content is kept exactly (after
/// entity decoding); coded values, date-times, numbers, polygons and circles
/// are trimmed. The reader is lenient about element order but strict about
/// names, cardinality and values. The result is not passed through
/// [`validate`]; call it if the message is to be re-published.
pub fn from_xml(xml: &str) -> Result<Alert, CapError> {
    let root = parse_tree(xml)?;
    if !root.cap || root.name != "alert" {
        return Err(CapError::NotCap { found: root.name });
    }
    let a = Children::of(&root, "alert", ALERT_CHILDREN)?;
    // Header first, so that errors come in document order.
    let identifier = a.req_text("identifier")?.trim().to_string();
    let sender = a.req_text("sender")?.trim().to_string();
    let sent = parse_cap_datetime("alert/sent", &a.req("sent")?.text)?;
    let status = a.enum_value(a.req("status")?, Status::parse, Status::expected)?;
    let msg_type = a.enum_value(a.req("msgType")?, MsgType::parse, MsgType::expected)?;
    let scope = a.enum_value(a.req("scope")?, Scope::parse, Scope::expected)?;
    let references = match a.opt("references")? {
        Some(n) => parse_references("alert/references", &n.text)?,
        None => Vec::new(),
    };
    let mut infos = Vec::new();
    for info_node in a.all("info") {
        let i = Children::of(info_node, "alert/info", INFO_CHILDREN)?;
        let categories = i
            .all("category")
            .map(|n| i.enum_value(n, Category::parse, Category::expected))
            .collect::<Result<Vec<_>, _>>()?;
        if categories.is_empty() {
            return Err(CapError::MissingElement {
                element: "alert/info/category".into(),
            });
        }
        let response_types = i
            .all("responseType")
            .map(|n| i.enum_value(n, ResponseType::parse, ResponseType::expected))
            .collect::<Result<Vec<_>, _>>()?;
        let mut resources = Vec::new();
        for rn in i.all("resource") {
            let r = Children::of(rn, "alert/info/resource", RESOURCE_CHILDREN)?;
            let size = r
                .opt("size")?
                .map(|n| {
                    let v = n.text.trim();
                    v.parse::<u64>().map_err(|_| CapError::InvalidValue {
                        element: "alert/info/resource/size".into(),
                        value: v.to_string(),
                        expected: "a size in bytes".into(),
                    })
                })
                .transpose()?;
            resources.push(Resource {
                resource_desc: r.req_text("resourceDesc")?,
                mime_type: r.req_text("mimeType")?,
                size,
                uri: r.opt_text("uri")?,
                deref_uri: r.opt_text("derefUri")?,
                digest: r.opt_text("digest")?,
            });
        }
        let mut areas = Vec::new();
        for an in i.all("area") {
            let ar = Children::of(an, "alert/info/area", AREA_CHILDREN)?;
            areas.push(Area {
                area_desc: ar.req_text("areaDesc")?,
                polygons: ar
                    .texts("polygon")
                    .into_iter()
                    .map(|s| s.trim().to_string())
                    .collect(),
                circles: ar
                    .texts("circle")
                    .into_iter()
                    .map(|s| s.trim().to_string())
                    .collect(),
                geocodes: ar.pairs("geocode")?,
                altitude: ar.decimal("altitude")?,
                ceiling: ar.decimal("ceiling")?,
            });
        }
        infos.push(Info {
            language: i
                .opt_text("language")?
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|| "en-US".into()),
            categories,
            event: i.req_text("event")?,
            response_types,
            urgency: i.enum_value(i.req("urgency")?, Urgency::parse, Urgency::expected)?,
            severity: i.enum_value(i.req("severity")?, Severity::parse, Severity::expected)?,
            certainty: i.enum_value(i.req("certainty")?, Certainty::parse, Certainty::expected)?,
            audience: i.opt_text("audience")?,
            event_codes: i.pairs("eventCode")?,
            effective: i.datetime("effective")?,
            onset: i.datetime("onset")?,
            expires: i.datetime("expires")?,
            sender_name: i.opt_text("senderName")?,
            headline: i.opt_text("headline")?,
            description: i.opt_text("description")?,
            instruction: i.opt_text("instruction")?,
            web: i.opt_text("web")?.map(|s| s.trim().to_string()),
            contact: i.opt_text("contact")?,
            parameters: i.pairs("parameter")?,
            resources,
            areas,
        });
    }
    Ok(Alert {
        identifier,
        sender,
        sent,
        status,
        msg_type,
        source: a.opt_text("source")?,
        scope,
        restriction: a.opt_text("restriction")?,
        addresses: a.opt_text("addresses")?,
        codes: a.texts("code"),
        note: a.opt_text("note")?,
        references,
        incidents: a.opt_text("incidents")?,
        infos,
    })
}
