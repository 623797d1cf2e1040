//! Place names a traveller may type for a trip leg: IATA airports and cities, resolved to a
//! point and a time zone (see `data/places/PROVENANCE.md`).
//!
//! * airports: `airportsdata` (MIT), every airport with an IATA code;
//! * cities: GeoNames cities over 15,000 inhabitants (CC BY 4.0 — attribution required,
//!   see `data/places/PROVENANCE.md`), with up to 8 Latin-script alternate names.
//!
//! Both files are embedded in the binary and decoded on first use (each separately).
//! Name matching is case-, accent- and punctuation-insensitive: "Genève", "GENEVE" and
//! "geneve" are the same key, so are "N'Djamena" and "Ndjamena", "Saint-Louis" and
//! "Saint Louis".
//!
//! Area codes ("AF-KAB") are not handled here: the caller looks them up in its area table
//! first and uses [`resolve_place`] for anything else.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::sync::OnceLock;

use serde::Deserialize;

static AIRPORTS_GZ: &[u8] = include_bytes!("../../../data/places/airports.json.gz");
static CITIES_GZ: &[u8] = include_bytes!("../../../data/places/cities.json.gz");

/// An airport with an IATA code.
#[derive(Debug, Clone, PartialEq)]
pub struct Airport {
    /// IATA code, 3 upper-case letters.
    pub iata: String,
    /// ICAO code, when it has one.
    pub icao: Option<String>,
    pub name: String,
    /// City served (may be empty).
    pub city: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub lon: f64,
    pub lat: f64,
    /// IANA time zone ("Asia/Kabul").
    pub tz: String,
}

/// A city (GeoNames, over 15,000 inhabitants).
#[derive(Debug, Clone, PartialEq)]
pub struct City {
    /// GeoNames id.
    pub id: u32,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub lon: f64,
    pub lat: f64,
    pub population: u32,
    /// IANA time zone ("Africa/Bamako").
    pub tz: String,
}

/// A resolved place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlaceMatch {
    Airport(&'static Airport),
    City(&'static City),
}

/// Why [`resolve_place`] found no single place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceError {
    /// Nothing (or only blanks) was given.
    Empty,
    /// No airport code nor city name matches.
    Unknown(String),
    /// Several places are equally plausible; `candidates` are their labels, most populous
    /// first, e.g. `"Springfield, US (pop. 170,188; 37.2153, -93.2982)"`.
    Ambiguous {
        text: String,
        candidates: Vec<String>,
    },
}

impl fmt::Display for PlaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlaceError::Empty => write!(f, "no place given"),
            PlaceError::Unknown(t) => write!(f, "unknown place {t:?}: not an airport code nor a known city"),
            PlaceError::Ambiguous { text, candidates } => write!(
                f,
                "ambiguous place {text:?}: {} (add a country code, e.g. \"{}, CC\", or use an airport code)",
                candidates.join("; "),
                text
            ),
        }
    }
}

impl std::error::Error for PlaceError {}

impl PlaceMatch {
    /// Airport name ("Kabul International Airport") or city name ("Juba").
    pub fn name(&self) -> &'static str {
        match self {
            PlaceMatch::Airport(a) => &a.name,
            PlaceMatch::City(c) => &c.name,
        }
    }

    /// ISO 3166-1 alpha-2 country code.
    pub fn country(&self) -> &'static str {
        match self {
            PlaceMatch::Airport(a) => &a.country,
            PlaceMatch::City(c) => &c.country,
        }
    }

    /// `(lon, lat)` in WGS 84 degrees.
    pub fn lon_lat(&self) -> (f64, f64) {
        match self {
            PlaceMatch::Airport(a) => (a.lon, a.lat),
            PlaceMatch::City(c) => (c.lon, c.lat),
        }
    }

    /// IANA time zone.
    pub fn tz(&self) -> &'static str {
        match self {
            PlaceMatch::Airport(a) => &a.tz,
            PlaceMatch::City(c) => &c.tz,
        }
    }

    /// Display label: `"Kabul (KBL), Afghanistan"` for an airport (served city, or the
    /// airport name when the city is unknown, and the English country name when Warden
    /// knows the country, else its code); `"Juba, SS"` for a city — a form that
    /// [`resolve_place`] accepts back.
    pub fn label(&self) -> String {
        match self {
            PlaceMatch::Airport(a) => {
                let place = if a.city.is_empty() { &a.name } else { &a.city };
                let country = country_name(&a.country).unwrap_or(&a.country);
                format!("{place} ({}), {country}", a.iata)
            }
            PlaceMatch::City(c) => format!("{}, {}", c.name, c.country),
        }
    }
}

fn country_name(alpha2: &str) -> Option<&'static str> {
    static NAMES: OnceLock<HashMap<String, String>> = OnceLock::new();
    NAMES
        .get_or_init(|| {
            crate::builtin_countries()
                .into_iter()
                .map(|c| (c.alpha2, c.name))
                .collect()
        })
        .get(alpha2)
        .map(String::as_str)
}

// ---------------------------------------------------------------------------------------
// Folding

/// Generated from Unicode NFKD decompositions (plus ø, ł, đ, ß, æ, œ, þ, ... ) by the
/// same rules as `ascii_name` in scripts/derive_places.py: letter → lower-case ASCII.
const FOLD: &[(char, &str)] = &[
    ('À', "a"),
    ('Á', "a"),
    ('Â', "a"),
    ('Ã', "a"),
    ('Ä', "a"),
    ('Å', "a"),
    ('Æ', "ae"),
    ('Ç', "c"),
    ('È', "e"),
    ('É', "e"),
    ('Ê', "e"),
    ('Ë', "e"),
    ('Ì', "i"),
    ('Í', "i"),
    ('Î', "i"),
    ('Ï', "i"),
    ('Ð', "d"),
    ('Ñ', "n"),
    ('Ò', "o"),
    ('Ó', "o"),
    ('Ô', "o"),
    ('Õ', "o"),
    ('Ö', "o"),
    ('Ø', "o"),
    ('Ù', "u"),
    ('Ú', "u"),
    ('Û', "u"),
    ('Ü', "u"),
    ('Ý', "y"),
    ('Þ', "th"),
    ('ß', "ss"),
    ('à', "a"),
    ('á', "a"),
    ('â', "a"),
    ('ã', "a"),
    ('ä', "a"),
    ('å', "a"),
    ('æ', "ae"),
    ('ç', "c"),
    ('è', "e"),
    ('é', "e"),
    ('ê', "e"),
    ('ë', "e"),
    ('ì', "i"),
    ('í', "i"),
    ('î', "i"),
    ('ï', "i"),
    ('ð', "d"),
    ('ñ', "n"),
    ('ò', "o"),
    ('ó', "o"),
    ('ô', "o"),
    ('õ', "o"),
    ('ö', "o"),
    ('ø', "o"),
    ('ù', "u"),
    ('ú', "u"),
    ('û', "u"),
    ('ü', "u"),
    ('ý', "y"),
    ('þ', "th"),
    ('ÿ', "y"),
    ('Ā', "a"),
    ('ā', "a"),
    ('Ă', "a"),
    ('ă', "a"),
    ('Ą', "a"),
    ('ą', "a"),
    ('Ć', "c"),
    ('ć', "c"),
    ('Ĉ', "c"),
    ('ĉ', "c"),
    ('Ċ', "c"),
    ('ċ', "c"),
    ('Č', "c"),
    ('č', "c"),
    ('Ď', "d"),
    ('ď', "d"),
    ('Đ', "d"),
    ('đ', "d"),
    ('Ē', "e"),
    ('ē', "e"),
    ('Ĕ', "e"),
    ('ĕ', "e"),
    ('Ė', "e"),
    ('ė', "e"),
    ('Ę', "e"),
    ('ę', "e"),
    ('Ě', "e"),
    ('ě', "e"),
    ('Ĝ', "g"),
    ('ĝ', "g"),
    ('Ğ', "g"),
    ('ğ', "g"),
    ('Ġ', "g"),
    ('ġ', "g"),
    ('Ģ', "g"),
    ('ģ', "g"),
    ('Ĥ', "h"),
    ('ĥ', "h"),
    ('Ħ', "h"),
    ('ħ', "h"),
    ('Ĩ', "i"),
    ('ĩ', "i"),
    ('Ī', "i"),
    ('ī', "i"),
    ('Ĭ', "i"),
    ('ĭ', "i"),
    ('Į', "i"),
    ('į', "i"),
    ('İ', "i"),
    ('ı', "i"),
    ('Ĳ', "ij"),
    ('ĳ', "ij"),
    ('Ĵ', "j"),
    ('ĵ', "j"),
    ('Ķ', "k"),
    ('ķ', "k"),
    ('Ĺ', "l"),
    ('ĺ', "l"),
    ('Ļ', "l"),
    ('ļ', "l"),
    ('Ľ', "l"),
    ('ľ', "l"),
    ('Ł', "l"),
    ('ł', "l"),
    ('Ń', "n"),
    ('ń', "n"),
    ('Ņ', "n"),
    ('ņ', "n"),
    ('Ň', "n"),
    ('ň', "n"),
    ('Ō', "o"),
    ('ō', "o"),
    ('Ŏ', "o"),
    ('ŏ', "o"),
    ('Ő', "o"),
    ('ő', "o"),
    ('Œ', "oe"),
    ('œ', "oe"),
    ('Ŕ', "r"),
    ('ŕ', "r"),
    ('Ŗ', "r"),
    ('ŗ', "r"),
    ('Ř', "r"),
    ('ř', "r"),
    ('Ś', "s"),
    ('ś', "s"),
    ('Ŝ', "s"),
    ('ŝ', "s"),
    ('Ş', "s"),
    ('ş', "s"),
    ('Š', "s"),
    ('š', "s"),
    ('Ţ', "t"),
    ('ţ', "t"),
    ('Ť', "t"),
    ('ť', "t"),
    ('Ŧ', "t"),
    ('ŧ', "t"),
    ('Ũ', "u"),
    ('ũ', "u"),
    ('Ū', "u"),
    ('ū', "u"),
    ('Ŭ', "u"),
    ('ŭ', "u"),
    ('Ů', "u"),
    ('ů', "u"),
    ('Ű', "u"),
    ('ű', "u"),
    ('Ų', "u"),
    ('ų', "u"),
    ('Ŵ', "w"),
    ('ŵ', "w"),
    ('Ŷ', "y"),
    ('ŷ', "y"),
    ('Ÿ', "y"),
    ('Ź', "z"),
    ('ź', "z"),
    ('Ż', "z"),
    ('ż', "z"),
    ('Ž', "z"),
    ('ž', "z"),
    ('ſ', "s"),
    ('Ơ', "o"),
    ('ơ', "o"),
    ('Ư', "u"),
    ('ư', "u"),
    ('Ǆ', "dz"),
    ('ǅ', "dz"),
    ('ǆ', "dz"),
    ('Ǉ', "lj"),
    ('ǈ', "lj"),
    ('ǉ', "lj"),
    ('Ǌ', "nj"),
    ('ǋ', "nj"),
    ('ǌ', "nj"),
    ('Ǎ', "a"),
    ('ǎ', "a"),
    ('Ǐ', "i"),
    ('ǐ', "i"),
    ('Ǒ', "o"),
    ('ǒ', "o"),
    ('Ǔ', "u"),
    ('ǔ', "u"),
    ('Ǖ', "u"),
    ('ǖ', "u"),
    ('Ǘ', "u"),
    ('ǘ', "u"),
    ('Ǚ', "u"),
    ('ǚ', "u"),
    ('Ǜ', "u"),
    ('ǜ', "u"),
    ('Ǟ', "a"),
    ('ǟ', "a"),
    ('Ǡ', "a"),
    ('ǡ', "a"),
    ('Ǣ', "ae"),
    ('ǣ', "ae"),
    ('Ǧ', "g"),
    ('ǧ', "g"),
    ('Ǩ', "k"),
    ('ǩ', "k"),
    ('Ǫ', "o"),
    ('ǫ', "o"),
    ('Ǭ', "o"),
    ('ǭ', "o"),
    ('ǰ', "j"),
    ('Ǳ', "dz"),
    ('ǲ', "dz"),
    ('ǳ', "dz"),
    ('Ǵ', "g"),
    ('ǵ', "g"),
    ('Ǹ', "n"),
    ('ǹ', "n"),
    ('Ǻ', "a"),
    ('ǻ', "a"),
    ('Ǽ', "ae"),
    ('ǽ', "ae"),
    ('Ǿ', "o"),
    ('ǿ', "o"),
    ('Ȁ', "a"),
    ('ȁ', "a"),
    ('Ȃ', "a"),
    ('ȃ', "a"),
    ('Ȅ', "e"),
    ('ȅ', "e"),
    ('Ȇ', "e"),
    ('ȇ', "e"),
    ('Ȉ', "i"),
    ('ȉ', "i"),
    ('Ȋ', "i"),
    ('ȋ', "i"),
    ('Ȍ', "o"),
    ('ȍ', "o"),
    ('Ȏ', "o"),
    ('ȏ', "o"),
    ('Ȑ', "r"),
    ('ȑ', "r"),
    ('Ȓ', "r"),
    ('ȓ', "r"),
    ('Ȕ', "u"),
    ('ȕ', "u"),
    ('Ȗ', "u"),
    ('ȗ', "u"),
    ('Ș', "s"),
    ('ș', "s"),
    ('Ț', "t"),
    ('ț', "t"),
    ('Ȟ', "h"),
    ('ȟ', "h"),
    ('Ȧ', "a"),
    ('ȧ', "a"),
    ('Ȩ', "e"),
    ('ȩ', "e"),
    ('Ȫ', "o"),
    ('ȫ', "o"),
    ('Ȭ', "o"),
    ('ȭ', "o"),
    ('Ȯ', "o"),
    ('ȯ', "o"),
    ('Ȱ', "o"),
    ('ȱ', "o"),
    ('Ȳ', "y"),
    ('ȳ', "y"),
    ('Ḁ', "a"),
    ('ḁ', "a"),
    ('Ḃ', "b"),
    ('ḃ', "b"),
    ('Ḅ', "b"),
    ('ḅ', "b"),
    ('Ḇ', "b"),
    ('ḇ', "b"),
    ('Ḉ', "c"),
    ('ḉ', "c"),
    ('Ḋ', "d"),
    ('ḋ', "d"),
    ('Ḍ', "d"),
    ('ḍ', "d"),
    ('Ḏ', "d"),
    ('ḏ', "d"),
    ('Ḑ', "d"),
    ('ḑ', "d"),
    ('Ḓ', "d"),
    ('ḓ', "d"),
    ('Ḕ', "e"),
    ('ḕ', "e"),
    ('Ḗ', "e"),
    ('ḗ', "e"),
    ('Ḙ', "e"),
    ('ḙ', "e"),
    ('Ḛ', "e"),
    ('ḛ', "e"),
    ('Ḝ', "e"),
    ('ḝ', "e"),
    ('Ḟ', "f"),
    ('ḟ', "f"),
    ('Ḡ', "g"),
    ('ḡ', "g"),
    ('Ḣ', "h"),
    ('ḣ', "h"),
    ('Ḥ', "h"),
    ('ḥ', "h"),
    ('Ḧ', "h"),
    ('ḧ', "h"),
    ('Ḩ', "h"),
    ('ḩ', "h"),
    ('Ḫ', "h"),
    ('ḫ', "h"),
    ('Ḭ', "i"),
    ('ḭ', "i"),
    ('Ḯ', "i"),
    ('ḯ', "i"),
    ('Ḱ', "k"),
    ('ḱ', "k"),
    ('Ḳ', "k"),
    ('ḳ', "k"),
    ('Ḵ', "k"),
    ('ḵ', "k"),
    ('Ḷ', "l"),
    ('ḷ', "l"),
    ('Ḹ', "l"),
    ('ḹ', "l"),
    ('Ḻ', "l"),
    ('ḻ', "l"),
    ('Ḽ', "l"),
    ('ḽ', "l"),
    ('Ḿ', "m"),
    ('ḿ', "m"),
    ('Ṁ', "m"),
    ('ṁ', "m"),
    ('Ṃ', "m"),
    ('ṃ', "m"),
    ('Ṅ', "n"),
    ('ṅ', "n"),
    ('Ṇ', "n"),
    ('ṇ', "n"),
    ('Ṉ', "n"),
    ('ṉ', "n"),
    ('Ṋ', "n"),
    ('ṋ', "n"),
    ('Ṍ', "o"),
    ('ṍ', "o"),
    ('Ṏ', "o"),
    ('ṏ', "o"),
    ('Ṑ', "o"),
    ('ṑ', "o"),
    ('Ṓ', "o"),
    ('ṓ', "o"),
    ('Ṕ', "p"),
    ('ṕ', "p"),
    ('Ṗ', "p"),
    ('ṗ', "p"),
    ('Ṙ', "r"),
    ('ṙ', "r"),
    ('Ṛ', "r"),
    ('ṛ', "r"),
    ('Ṝ', "r"),
    ('ṝ', "r"),
    ('Ṟ', "r"),
    ('ṟ', "r"),
    ('Ṡ', "s"),
    ('ṡ', "s"),
    ('Ṣ', "s"),
    ('ṣ', "s"),
    ('Ṥ', "s"),
    ('ṥ', "s"),
    ('Ṧ', "s"),
    ('ṧ', "s"),
    ('Ṩ', "s"),
    ('ṩ', "s"),
    ('Ṫ', "t"),
    ('ṫ', "t"),
    ('Ṭ', "t"),
    ('ṭ', "t"),
    ('Ṯ', "t"),
    ('ṯ', "t"),
    ('Ṱ', "t"),
    ('ṱ', "t"),
    ('Ṳ', "u"),
    ('ṳ', "u"),
    ('Ṵ', "u"),
    ('ṵ', "u"),
    ('Ṷ', "u"),
    ('ṷ', "u"),
    ('Ṹ', "u"),
    ('ṹ', "u"),
    ('Ṻ', "u"),
    ('ṻ', "u"),
    ('Ṽ', "v"),
    ('ṽ', "v"),
    ('Ṿ', "v"),
    ('ṿ', "v"),
    ('Ẁ', "w"),
    ('ẁ', "w"),
    ('Ẃ', "w"),
    ('ẃ', "w"),
    ('Ẅ', "w"),
    ('ẅ', "w"),
    ('Ẇ', "w"),
    ('ẇ', "w"),
    ('Ẉ', "w"),
    ('ẉ', "w"),
    ('Ẋ', "x"),
    ('ẋ', "x"),
    ('Ẍ', "x"),
    ('ẍ', "x"),
    ('Ẏ', "y"),
    ('ẏ', "y"),
    ('Ẑ', "z"),
    ('ẑ', "z"),
    ('Ẓ', "z"),
    ('ẓ', "z"),
    ('Ẕ', "z"),
    ('ẕ', "z"),
    ('ẖ', "h"),
    ('ẗ', "t"),
    ('ẘ', "w"),
    ('ẙ', "y"),
    ('ẛ', "s"),
    ('Ạ', "a"),
    ('ạ', "a"),
    ('Ả', "a"),
    ('ả', "a"),
    ('Ấ', "a"),
    ('ấ', "a"),
    ('Ầ', "a"),
    ('ầ', "a"),
    ('Ẩ', "a"),
    ('ẩ', "a"),
    ('Ẫ', "a"),
    ('ẫ', "a"),
    ('Ậ', "a"),
    ('ậ', "a"),
    ('Ắ', "a"),
    ('ắ', "a"),
    ('Ằ', "a"),
    ('ằ', "a"),
    ('Ẳ', "a"),
    ('ẳ', "a"),
    ('Ẵ', "a"),
    ('ẵ', "a"),
    ('Ặ', "a"),
    ('ặ', "a"),
    ('Ẹ', "e"),
    ('ẹ', "e"),
    ('Ẻ', "e"),
    ('ẻ', "e"),
    ('Ẽ', "e"),
    ('ẽ', "e"),
    ('Ế', "e"),
    ('ế', "e"),
    ('Ề', "e"),
    ('ề', "e"),
    ('Ể', "e"),
    ('ể', "e"),
    ('Ễ', "e"),
    ('ễ', "e"),
    ('Ệ', "e"),
    ('ệ', "e"),
    ('Ỉ', "i"),
    ('ỉ', "i"),
    ('Ị', "i"),
    ('ị', "i"),
    ('Ọ', "o"),
    ('ọ', "o"),
    ('Ỏ', "o"),
    ('ỏ', "o"),
    ('Ố', "o"),
    ('ố', "o"),
    ('Ồ', "o"),
    ('ồ', "o"),
    ('Ổ', "o"),
    ('ổ', "o"),
    ('Ỗ', "o"),
    ('ỗ', "o"),
    ('Ộ', "o"),
    ('ộ', "o"),
    ('Ớ', "o"),
    ('ớ', "o"),
    ('Ờ', "o"),
    ('ờ', "o"),
    ('Ở', "o"),
    ('ở', "o"),
    ('Ỡ', "o"),
    ('ỡ', "o"),
    ('Ợ', "o"),
    ('ợ', "o"),
    ('Ụ', "u"),
    ('ụ', "u"),
    ('Ủ', "u"),
    ('ủ', "u"),
    ('Ứ', "u"),
    ('ứ', "u"),
    ('Ừ', "u"),
    ('ừ', "u"),
    ('Ử', "u"),
    ('ử', "u"),
    ('Ữ', "u"),
    ('ữ', "u"),
    ('Ự', "u"),
    ('ự', "u"),
    ('Ỳ', "y"),
    ('ỳ', "y"),
    ('Ỵ', "y"),
    ('ỵ', "y"),
    ('Ỷ', "y"),
    ('ỷ', "y"),
    ('Ỹ', "y"),
    ('ỹ', "y"),
];

/// Lower-case, accents removed (Latin), apostrophes dropped, any other run of
/// non-alphanumerics as one space, trimmed.
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    let push = |out: &mut String, piece: &str, space: &mut bool| {
        if *space && !out.is_empty() {
            out.push(' ');
        }
        *space = false;
        out.push_str(piece);
    };
    let mut buf = [0u8; 4];
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            push(
                &mut out,
                ch.to_ascii_lowercase().encode_utf8(&mut buf),
                &mut space,
            );
        } else if matches!(
            ch,
            '\'' | '`'
                | '\u{2018}'
                | '\u{2019}'
                | '\u{02BB}'
                | '\u{02BC}'
                | '\u{02BE}'
                | '\u{02BF}'
        ) || ('\u{0300}'..='\u{036F}').contains(&ch)
        {
            // apostrophes and combining marks vanish
        } else if let Ok(i) = FOLD.binary_search_by(|(c, _)| c.cmp(&ch)) {
            push(&mut out, FOLD[i].1, &mut space);
        } else if ch.is_alphanumeric() {
            let lower: String = ch.to_lowercase().collect();
            push(&mut out, &lower, &mut space);
        } else {
            space = true;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Data

#[derive(Deserialize)]
struct RawAirport {
    iata: String,
    icao: Option<String>,
    name: String,
    city: String,
    country: String,
    lat: f64,
    lon: f64,
    tz: String,
}

#[derive(Deserialize)]
struct RawCity {
    id: u32,
    name: String,
    ascii: Option<String>,
    country: String,
    lat: f64,
    lon: f64,
    pop: u32,
    tz: String,
    #[serde(default)]
    alt: Vec<String>,
}

/// How a key relates to its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum KeyKind {
    /// The (folded) name or ASCII name of a city; the city served by an airport.
    Primary = 0,
    /// A city's alternate name; an airport's name.
    Alternate = 1,
    /// A later word of a name ("york" in "new york").
    Word = 2,
}

/// A sorted list of (folded key, kind, record index) for exact and prefix searches.
struct KeyIndex(Vec<(String, KeyKind, u32)>);

impl KeyIndex {
    fn build(mut keys: Vec<(String, KeyKind, u32)>) -> Self {
        keys.sort_unstable();
        keys.dedup();
        KeyIndex(keys)
    }

    /// Entries whose key starts with `prefix` (a folded string): `(exact, kind, index)`.
    fn prefixed<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (bool, KeyKind, u32)> + 'a {
        let start = self.0.partition_point(|(k, _, _)| k.as_str() < prefix);
        self.0[start..]
            .iter()
            .take_while(move |(k, _, _)| k.starts_with(prefix))
            .map(move |(k, kind, i)| (k.len() == prefix.len(), *kind, *i))
    }

    /// Entries whose key equals `key`.
    fn exact<'a>(&'a self, key: &'a str) -> impl Iterator<Item = (KeyKind, u32)> + 'a {
        self.prefixed(key)
            .filter(|(e, _, _)| *e)
            .map(|(_, k, i)| (k, i))
    }
}

/// Word-start suffixes of a folded name after the first word: "a b c" → ["b c", "c"].
fn later_words(folded: &str) -> impl Iterator<Item = &str> {
    folded
        .match_indices(' ')
        .map(move |(i, _)| &folded[i + 1..])
}

struct Airports {
    list: Vec<Airport>,
    keys: KeyIndex,
}

struct Cities {
    list: Vec<City>,
    keys: KeyIndex,
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 5);
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("embedded places data is a valid gzip stream");
    out
}

fn airport_data() -> &'static Airports {
    static DATA: OnceLock<Airports> = OnceLock::new();
    DATA.get_or_init(decode_airports)
}

/// Decode and index the embedded airports (once per process, through [`airport_data`]).
fn decode_airports() -> Airports {
    {
        let raw: Vec<RawAirport> = serde_json::from_slice(&gunzip(AIRPORTS_GZ))
            .expect("embedded airports.json.gz is valid");
        let mut list: Vec<Airport> = raw
            .into_iter()
            .map(|a| Airport {
                iata: a.iata,
                icao: a.icao.filter(|s| !s.is_empty()),
                name: a.name,
                city: a.city,
                country: a.country,
                lon: a.lon,
                lat: a.lat,
                tz: a.tz,
            })
            .collect();
        list.sort_by(|a, b| a.iata.cmp(&b.iata));
        let mut keys = Vec::with_capacity(list.len() * 5);
        for (i, a) in list.iter().enumerate() {
            let i = i as u32;
            let city = fold(&a.city);
            if !city.is_empty() {
                for w in later_words(&city) {
                    keys.push((w.to_string(), KeyKind::Word, i));
                }
                keys.push((city, KeyKind::Primary, i));
            }
            let name = fold(&a.name);
            if !name.is_empty() {
                for w in later_words(&name) {
                    keys.push((w.to_string(), KeyKind::Word, i));
                }
                keys.push((name, KeyKind::Alternate, i));
            }
        }
        Airports {
            list,
            keys: KeyIndex::build(keys),
        }
    }
}

fn city_data() -> &'static Cities {
    static DATA: OnceLock<Cities> = OnceLock::new();
    DATA.get_or_init(decode_cities)
}

/// Decode and index the embedded cities (once per process, through [`city_data`]).
fn decode_cities() -> Cities {
    {
        let raw: Vec<RawCity> =
            serde_json::from_slice(&gunzip(CITIES_GZ)).expect("embedded cities.json.gz is valid");
        let mut list = Vec::with_capacity(raw.len());
        let mut keys = Vec::with_capacity(raw.len() * 10);
        for (i, c) in raw.into_iter().enumerate() {
            let i = i as u32;
            let name = fold(&c.name);
            for w in later_words(&name) {
                keys.push((w.to_string(), KeyKind::Word, i));
            }
            if let Some(ascii) = &c.ascii {
                keys.push((fold(ascii), KeyKind::Primary, i));
            }
            keys.push((name, KeyKind::Primary, i));
            for alt in &c.alt {
                keys.push((fold(alt), KeyKind::Alternate, i));
            }
            list.push(City {
                id: c.id,
                name: c.name,
                country: c.country,
                lon: c.lon,
                lat: c.lat,
                population: c.pop,
                tz: c.tz,
            });
        }
        keys.retain(|(k, _, _)| !k.is_empty());
        Cities {
            list,
            keys: KeyIndex::build(keys),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Public API

/// The airport with this IATA code (case-insensitive; exactly 3 ASCII letters).
pub fn airport(iata: &str) -> Option<&'static Airport> {
    let iata = iata.trim();
    if iata.len() != 3 || !iata.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let code = iata.to_ascii_uppercase();
    let list = &airport_data().list;
    list.binary_search_by(|a| a.iata.as_str().cmp(&code))
        .ok()
        .map(|i| &list[i])
}

/// All airports, sorted by IATA code.
pub fn airports() -> &'static [Airport] {
    &airport_data().list
}

/// All cities, sorted by GeoNames id.
pub fn cities() -> &'static [City] {
    &city_data().list
}

fn normalize_country(country: Option<&str>) -> Option<String> {
    country
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
}

/// Cities whose keys match `key` (exactly, or as a prefix when `prefix`; later-word keys
/// only when `words`), with their best match `(exact, kind)`, in no particular order.
fn city_matches(
    key: &str,
    country: Option<&str>,
    prefix: bool,
    words: bool,
) -> Vec<(bool, KeyKind, &'static City)> {
    let data = city_data();
    let mut best: HashMap<u32, (bool, KeyKind)> = HashMap::new();
    let hits: Box<dyn Iterator<Item = (bool, KeyKind, u32)>> = if prefix {
        Box::new(data.keys.prefixed(key))
    } else {
        Box::new(data.keys.exact(key).map(|(k, i)| (true, k, i)))
    };
    for (exact, kind, i) in hits {
        if kind == KeyKind::Word && !words {
            continue;
        }
        let c = &data.list[i as usize];
        if country.is_some_and(|cc| cc != c.country) {
            continue;
        }
        let e = best.entry(i).or_insert((exact, kind));
        // better = exact first, then lower kind
        if (!exact, kind) < (!e.0, e.1) {
            *e = (exact, kind);
        }
    }
    best.into_iter()
        .map(|(i, (e, k))| (e, k, &data.list[i as usize]))
        .collect()
}

/// Cities matching a name (case- and accent-insensitive; exact or prefix match on the
/// name, the ASCII name and the alternate names), optionally in a country (alpha-2,
/// case-insensitive). Exact matches come before prefix-only matches; within each group the
/// most populous first (ties: by name, then id). At most `limit`.
pub fn find_cities(name: &str, country: Option<&str>, limit: usize) -> Vec<&'static City> {
    let key = fold(name);
    if key.is_empty() || limit == 0 {
        return Vec::new();
    }
    let country = normalize_country(country);
    let mut m = city_matches(&key, country.as_deref(), true, false);
    m.sort_by(|a, b| {
        (!a.0)
            .cmp(&!b.0)
            .then(b.2.population.cmp(&a.2.population))
            .then(a.2.name.cmp(&b.2.name))
            .then(a.2.id.cmp(&b.2.id))
    });
    m.into_iter().take(limit).map(|(_, _, c)| c).collect()
}

fn city_candidate_label(c: &City) -> String {
    format!(
        "{}, {} (pop. {}; {:.4}, {:.4})",
        c.name,
        c.country,
        thousands(c.population),
        c.lat,
        c.lon
    )
}

fn thousands(n: u32) -> String {
    let s = n.to_string();
    let head = match s.len() % 3 {
        0 => 3,
        r => r,
    };
    let mut out = s[..head.min(s.len())].to_string();
    let mut rest = &s[head.min(s.len())..];
    while !rest.is_empty() {
        out.push(',');
        out.push_str(&rest[..3]);
        rest = &rest[3..];
    }
    out
}

/// At most this many candidates in [`PlaceError::Ambiguous`].
const MAX_CANDIDATES: usize = 10;

/// The most populous of several same-name cities is taken when it has at least this many
/// times the inhabitants of the next one.
const DOMINANCE: u64 = 10;

/// Resolve what a traveller typed for a trip leg.
///
/// * a 3-letter code is tried as an IATA airport first (`"kbl"` → Kabul International);
/// * otherwise a city name, optionally `"Name, CC"` with an ISO alpha-2 country code.
///   Cities whose name or ASCII name matches exactly are preferred over cities that only
///   match an alternate name ("Geneva" is the Swiss and the Illinois city by name, never a
///   city that merely has "Geneva" among its alternates). Of several matches the most
///   populous is taken when it has at least 10× the inhabitants of the next one
///   ("London" → London, GB); else the result is [`PlaceError::Ambiguous`] listing those
///   within that factor ("Springfield");
/// * when no city matches, an airport whose served city has that name (small towns under
///   15,000 inhabitants with an airport);
/// * area codes ("AF-KAB") are not handled here.
pub fn resolve_place(text: &str) -> Result<PlaceMatch, PlaceError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(PlaceError::Empty);
    }
    let (name, country) = match text.rsplit_once(',') {
        Some((n, cc))
            if cc.trim().len() == 2 && cc.trim().bytes().all(|b| b.is_ascii_alphabetic()) =>
        {
            (n.trim(), Some(cc.trim().to_ascii_uppercase()))
        }
        _ => (text, None),
    };
    if name.is_empty() {
        return Err(PlaceError::Empty);
    }
    if let Some(a) = airport(name) {
        if country.as_ref().is_none_or(|cc| *cc == a.country) {
            return Ok(PlaceMatch::Airport(a));
        }
    }
    let key = fold(name);
    if key.is_empty() {
        return Err(PlaceError::Unknown(text.to_string()));
    }
    let mut m = city_matches(&key, country.as_deref(), false, false);
    if m.iter().any(|(_, k, _)| *k == KeyKind::Primary) {
        m.retain(|(_, k, _)| *k == KeyKind::Primary);
    }
    m.sort_by(|a, b| {
        b.2.population
            .cmp(&a.2.population)
            .then(a.2.id.cmp(&b.2.id))
    });
    match m.as_slice() {
        [] => {}
        [(_, _, c)] => return Ok(PlaceMatch::City(c)),
        [(_, _, top), (_, _, next), ..] => {
            let top_pop = u64::from(top.population);
            if top_pop > 0 && top_pop >= DOMINANCE * u64::from(next.population) {
                return Ok(PlaceMatch::City(top));
            }
            let candidates = m
                .iter()
                .filter(|(_, _, c)| u64::from(c.population) * DOMINANCE >= top_pop)
                .take(MAX_CANDIDATES)
                .map(|(_, _, c)| city_candidate_label(c))
                .collect();
            return Err(PlaceError::Ambiguous {
                text: text.to_string(),
                candidates,
            });
        }
    }
    // No city: an airport whose served city has this name.
    let data = airport_data();
    let mut ap: Vec<&'static Airport> = data
        .keys
        .exact(&key)
        .filter(|(k, _)| *k == KeyKind::Primary)
        .map(|(_, i)| &data.list[i as usize])
        .filter(|a| country.as_ref().is_none_or(|cc| *cc == a.country))
        .collect();
    ap.sort_by(|a, b| a.iata.cmp(&b.iata));
    ap.dedup_by(|a, b| a.iata == b.iata);
    match ap.as_slice() {
        [] => Err(PlaceError::Unknown(text.to_string())),
        [a] => Ok(PlaceMatch::Airport(a)),
        _ => Err(PlaceError::Ambiguous {
            text: text.to_string(),
            candidates: ap
                .iter()
                .take(MAX_CANDIDATES)
                .map(|a| PlaceMatch::Airport(a).label())
                .collect(),
        }),
    }
}

/// Rank of a match for [`search_places`]: exact name; name prefix or exact alternate;
/// alternate prefix; later word of a name.
fn tier(exact: bool, kind: KeyKind) -> u8 {
    match (exact, kind) {
        (true, KeyKind::Primary) => 1,
        (false, KeyKind::Primary) | (true, KeyKind::Alternate) => 2,
        (false, KeyKind::Alternate) => 3,
        (_, KeyKind::Word) => 4,
    }
}

/// Search for a place picker: the airport with that IATA code first, then cities by name
/// (exact name; name prefix or exact alternate; alternate prefix; later word of the name;
/// most populous first within each), each followed by its airports (same country, served
/// city of that name), then the other airports matching by served city or airport name
/// (those with an ICAO code first). Case- and accent-insensitive; at most `limit` results.
pub fn search_places(q: &str, limit: usize) -> Vec<PlaceMatch> {
    let key = fold(q);
    if key.is_empty() || limit == 0 {
        return Vec::new();
    }
    let mut out: Vec<PlaceMatch> = Vec::with_capacity(limit);
    let mut used: std::collections::HashSet<*const Airport> = Default::default();
    let mut push_airport = |out: &mut Vec<PlaceMatch>, a: &'static Airport| {
        if used.insert(a as *const Airport) {
            out.push(PlaceMatch::Airport(a));
        }
    };
    if let Some(a) = airport(q) {
        push_airport(&mut out, a);
    }

    // Airports matching by served city or name.
    let adata = airport_data();
    let mut best_ap: HashMap<u32, (bool, KeyKind)> = HashMap::new();
    for (exact, kind, i) in adata.keys.prefixed(&key) {
        let e = best_ap.entry(i).or_insert((exact, kind));
        if (!exact, kind) < (!e.0, e.1) {
            *e = (exact, kind);
        }
    }
    let mut aps: Vec<(u8, &'static Airport)> = best_ap
        .into_iter()
        .map(|(i, (exact, kind))| (tier(exact, kind), &adata.list[i as usize]))
        .collect();
    aps.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(b.1.icao.is_some().cmp(&a.1.icao.is_some()))
            .then(a.1.iata.cmp(&b.1.iata))
    });

    let mut cities = city_matches(&key, None, true, true);
    cities.sort_by(|a, b| {
        tier(a.0, a.1)
            .cmp(&tier(b.0, b.1))
            .then(b.2.population.cmp(&a.2.population))
            .then(a.2.id.cmp(&b.2.id))
    });

    for (_, _, c) in cities {
        if out.len() >= limit {
            break;
        }
        out.push(PlaceMatch::City(c));
        let cname = fold(&c.name);
        let served: Vec<&'static Airport> = aps
            .iter()
            .filter(|(_, a)| a.country == c.country && fold(&a.city) == cname)
            .map(|(_, a)| *a)
            .take(3)
            .collect();
        for a in served {
            push_airport(&mut out, a);
        }
    }
    for (_, a) in aps {
        if out.len() >= limit {
            break;
        }
        push_airport(&mut out, a);
    }
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn city(m: PlaceMatch) -> &'static City {
        match m {
            PlaceMatch::City(c) => c,
            other => panic!("expected a city, got {other:?}"),
        }
    }

    #[test]
    fn places_decode_time_and_counts() {
        // Fresh decodes (not through the OnceLocks, which other tests may have filled).
        let t = std::time::Instant::now();
        let a = decode_airports();
        let ta = t.elapsed();
        let t = std::time::Instant::now();
        let c = decode_cities();
        let tc = t.elapsed();
        println!(
            "places: {} airports ({} keys) decoded+indexed in {ta:?} from {} bytes gz; \
             {} cities ({} keys) in {tc:?} from {} bytes gz",
            a.list.len(),
            a.keys.0.len(),
            AIRPORTS_GZ.len(),
            c.list.len(),
            c.keys.0.len(),
            CITIES_GZ.len()
        );
        let (a, c) = (a.list.len(), c.list.len());
        assert_eq!(a, airports().len());
        assert_eq!(c, cities().len());
        assert!(a > 5000, "{a} airports");
        assert!(c > 20000, "{c} cities");
    }

    #[test]
    fn places_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(170188), "170,188");
        assert_eq!(thousands(4227569), "4,227,569");
    }

    #[test]
    fn places_fold() {
        assert_eq!(fold("Genève"), "geneve");
        assert_eq!(fold("  SAINT-ÉTIENNE "), "saint etienne");
        assert_eq!(fold("N'Djamena"), "ndjamena");
        assert_eq!(fold("Łódź"), "lodz");
        assert_eq!(fold("Hồ Chí Minh"), "ho chi minh");
        assert_eq!(fold("München"), "munchen");
        assert_eq!(fold("Ge\u{0301}ne\u{0300}ve"), "geneve"); // combining marks
        assert_eq!(fold("Москва"), "москва");
        assert_eq!(fold(" ,. "), "");
    }

    #[test]
    fn places_airport_kbl() {
        let a = airport("KBL").expect("KBL");
        assert_eq!(a.country, "AF");
        assert_eq!(a.tz, "Asia/Kabul");
        assert_eq!(a.icao.as_deref(), Some("OAKB"));
        assert!(
            (a.lon - 69.2).abs() < 0.1 && (a.lat - 34.6).abs() < 0.1,
            "{a:?}"
        );
        assert_eq!(airport("kbl"), Some(a));
        assert_eq!(airport("KB"), None);
        assert_eq!(airport("KBL1"), None);
        assert_eq!(airport("K1L"), None);
        let m = resolve_place("kbl").unwrap();
        assert_eq!(m, PlaceMatch::Airport(a));
        assert_eq!(m.label(), "Kabul (KBL), Afghanistan");
        assert_eq!(m.tz(), "Asia/Kabul");
        assert_eq!(m.country(), "AF");
        assert_eq!(m.lon_lat(), (a.lon, a.lat));
        assert_eq!(m.name(), a.name);
        // sorted, unique codes
        assert!(airports().windows(2).all(|w| w[0].iata < w[1].iata));
    }

    #[test]
    fn places_resolve_cities() {
        let c = city(resolve_place("Bamako").unwrap());
        assert_eq!((c.country.as_str(), c.tz.as_str()), ("ML", "Africa/Bamako"));
        let c = city(resolve_place(" bamako ").unwrap());
        assert_eq!(c.name, "Bamako");

        let m = resolve_place("Juba, SS").unwrap();
        let c = city(m);
        assert_eq!(
            (c.name.as_str(), c.country.as_str(), c.tz.as_str()),
            ("Juba", "SS", "Africa/Juba")
        );
        assert_eq!(m.label(), "Juba, SS");
        assert_eq!(resolve_place(&m.label()).unwrap(), m);
        assert_eq!(resolve_place("juba, ss").unwrap(), m);

        // accented alternate name
        let c = city(resolve_place("Genève").unwrap());
        assert_eq!((c.name.as_str(), c.country.as_str()), ("Geneva", "CH"));
        let c = city(resolve_place("Geneva, CH").unwrap());
        assert_eq!(c.tz, "Europe/Zurich");
        let c = city(resolve_place("München").unwrap());
        assert_eq!(c.name, "Munich");
        let c = city(resolve_place("Saint Etienne").unwrap());
        assert_eq!(c.name, "Saint-Étienne");
        let c = city(resolve_place("NDJAMENA").unwrap());
        assert_eq!(c.country, "TD");
        // dominant: London GB (8.9M) over London CA (0.4M)
        let c = city(resolve_place("London").unwrap());
        assert_eq!(c.country, "GB");
        let c = city(resolve_place("London, CA").unwrap());
        assert_eq!(c.country, "CA");
    }

    #[test]
    fn places_resolve_errors() {
        assert_eq!(resolve_place("   "), Err(PlaceError::Empty));
        assert_eq!(resolve_place(""), Err(PlaceError::Empty));
        assert!(
            matches!(resolve_place("Xyzzyplugh"), Err(PlaceError::Unknown(t)) if t == "Xyzzyplugh")
        );
        assert!(matches!(
            resolve_place("Bamako, FR"),
            Err(PlaceError::Unknown(_))
        ));
        match resolve_place("Springfield") {
            Err(PlaceError::Ambiguous { text, candidates }) => {
                assert_eq!(text, "Springfield");
                assert!(candidates.len() >= 2, "{candidates:?}");
                assert!(
                    candidates.iter().all(|c| c.starts_with("Springfield, US")),
                    "{candidates:?}"
                );
                let e = resolve_place("Springfield").unwrap_err().to_string();
                assert!(e.contains("ambiguous"), "{e}");
            }
            other => panic!("expected ambiguous, got {other:?}"),
        }
        // Geneva CH has fewer than 10x the inhabitants of Geneva, Illinois.
        assert!(matches!(
            resolve_place("Geneva"),
            Err(PlaceError::Ambiguous { .. })
        ));
    }

    #[test]
    fn places_find_cities() {
        let v = find_cities("paris", None, 5);
        assert_eq!(v[0].country, "FR");
        assert!(
            v.windows(2)
                .all(|w| w[0].population >= w[1].population
                    || w[0].name.eq_ignore_ascii_case("paris"))
        );
        let v = find_cities("PARIS", Some("us"), 5);
        assert!(!v.is_empty() && v.iter().all(|c| c.country == "US"));
        let v = find_cities("Genève", None, 3);
        assert_eq!(v[0].country, "CH");
        assert!(find_cities("", None, 5).is_empty());
        assert!(find_cities("nai", None, 0).is_empty());
        let v = find_cities("nai", None, 5);
        assert_eq!(v[0].name, "Nairobi");
    }

    #[test]
    fn places_search() {
        let v = search_places("nai", 10);
        assert!(
            v.iter()
                .any(|m| matches!(m, PlaceMatch::City(c) if c.name == "Nairobi")),
            "{v:?}"
        );
        assert!(v.len() <= 10);
        let v = search_places("kbl", 5);
        assert!(
            matches!(v[0], PlaceMatch::Airport(a) if a.iata == "KBL"),
            "{v:?}"
        );
        let v = search_places("kenyatta", 5);
        assert!(
            v.iter()
                .any(|m| matches!(m, PlaceMatch::Airport(a) if a.iata == "NBO")),
            "{v:?}"
        );
        let v = search_places("nairobi", 5);
        assert!(
            matches!(v[0], PlaceMatch::City(c) if c.name == "Nairobi"),
            "{v:?}"
        );
        assert!(
            v.iter()
                .any(|m| matches!(m, PlaceMatch::Airport(a) if a.iata == "NBO")),
            "{v:?}"
        );
        assert!(search_places("", 5).is_empty());
        assert!(search_places("a", 7).len() == 7);
        for m in search_places("nai", 10) {
            println!("search nai: {}", m.label());
        }
    }

    #[test]
    fn places_every_tz_parses() {
        let ok = |tz: &str| !tz.is_empty() && (tz.contains('/') || tz == "UTC");
        for a in airports() {
            assert!(ok(&a.tz), "{a:?}");
            assert!(a.iata.len() == 3 && a.country.len() == 2, "{a:?}");
            assert!(
                (-180.0..=180.0).contains(&a.lon) && (-90.0..=90.0).contains(&a.lat),
                "{a:?}"
            );
        }
        for c in cities() {
            assert!(ok(&c.tz), "{c:?}");
            assert!(c.country.len() == 2, "{c:?}");
            assert!(
                (-180.0..=180.0).contains(&c.lon) && (-90.0..=90.0).contains(&c.lat),
                "{c:?}"
            );
        }
    }

    #[test]
    fn places_resolve_into_builtin_areas() {
        let idx = crate::builtin_index();
        let (lon, lat) = resolve_place("KBL").unwrap().lon_lat();
        assert_eq!(idx.lookup(lon, lat), Some("AF-KAB"));
        let (lon, lat) = resolve_place("Bamako").unwrap().lon_lat();
        assert_eq!(idx.lookup(lon, lat), Some("ML-BKO"));
    }
}
