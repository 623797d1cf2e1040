//! The message catalogue. Every piece of interface text is looked up here by
//! key; `en` is complete, `fr` is complete, `ar` covers the frame of the site
//! and falls back to English for the rest (and lays pages out right-to-left).

use std::collections::HashMap;
use std::sync::OnceLock;

pub struct Language {
    pub code: &'static str,
    pub name: &'static str,
    pub rtl: bool,
    source: &'static str,
}

pub const LANGUAGES: [Language; 3] = [
    Language {
        code: "en",
        name: "English",
        rtl: false,
        source: include_str!("../i18n/en.toml"),
    },
    Language {
        code: "fr",
        name: "Français",
        rtl: false,
        source: include_str!("../i18n/fr.toml"),
    },
    Language {
        code: "ar",
        name: "العربية",
        rtl: true,
        source: include_str!("../i18n/ar.toml"),
    },
];

type Catalog = HashMap<String, String>;

fn flatten(prefix: &str, v: &toml::Value, out: &mut Catalog) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => panic!("catalogue value for {prefix} must be a string, got {other}"),
    }
}

fn catalogs() -> &'static HashMap<&'static str, Catalog> {
    static C: OnceLock<HashMap<&'static str, Catalog>> = OnceLock::new();
    C.get_or_init(|| {
        LANGUAGES
            .iter()
            .map(|l| {
                let v: toml::Value = toml::from_str(l.source)
                    .unwrap_or_else(|e| panic!("i18n/{}.toml: {e}", l.code));
                let mut c = Catalog::new();
                flatten("", &v, &mut c);
                (l.code, c)
            })
            .collect()
    })
}

/// Keys of a language's catalogue (for completeness tests).
pub fn keys(lang: &str) -> Vec<String> {
    let mut k: Vec<String> = catalogs()
        .get(lang)
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// A translator for one request's language.
#[derive(Clone, Copy)]
pub struct T {
    pub lang: &'static Language,
}

impl T {
    pub fn new(code: &str) -> T {
        let lang = LANGUAGES
            .iter()
            .find(|l| l.code == code)
            .unwrap_or(&LANGUAGES[0]);
        T { lang }
    }

    /// Picks the first supported language of an Accept-Language header.
    pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>, default: &str) -> T {
        if let Some(c) = cookie {
            if LANGUAGES.iter().any(|l| l.code == c) {
                return T::new(c);
            }
        }
        if let Some(h) = accept_language {
            for part in h.split(',') {
                let tag = part.split(';').next().unwrap_or("").trim();
                let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
                if LANGUAGES.iter().any(|l| l.code == primary) {
                    return T::new(&primary);
                }
            }
        }
        T::new(default)
    }

    pub fn code(&self) -> &'static str {
        self.lang.code
    }
    pub fn dir(&self) -> &'static str {
        if self.lang.rtl {
            "rtl"
        } else {
            "ltr"
        }
    }

    /// The text for `key`, falling back to English, then to the key itself.
    pub fn get<'a>(&self, key: &'a str) -> &'a str
    where
        'static: 'a,
    {
        let c = catalogs();
        c.get(self.lang.code)
            .and_then(|m| m.get(key))
            .or_else(|| c.get("en").and_then(|m| m.get(key)))
            .map(|s| s.as_str())
            .unwrap_or(key)
    }

    /// `get` with `{name}` placeholders replaced.
    pub fn fmt(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut s = self.get(key).to_string();
        for (k, v) in args {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    }

    pub fn level_name(&self, level: u8) -> &'static str {
        const KEYS: [&str; 6] = [
            "level.1", "level.2", "level.3", "level.4", "level.5", "level.6",
        ];
        self.get(KEYS[(level.clamp(1, 6) - 1) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_is_complete_and_nothing_is_extra() {
        let en = keys("en");
        let fr = keys("fr");
        let missing: Vec<_> = en.iter().filter(|k| !fr.contains(k)).collect();
        let extra: Vec<_> = fr.iter().filter(|k| !en.contains(k)).collect();
        assert!(missing.is_empty(), "fr lacks {missing:?}");
        assert!(extra.is_empty(), "fr has keys en lacks: {extra:?}");
        let ar = keys("ar");
        let extra: Vec<_> = ar.iter().filter(|k| !en.contains(k)).collect();
        assert!(extra.is_empty(), "ar has keys en lacks: {extra:?}");
        assert!(
            ar.len() >= 30,
            "Arabic covers at least the frame of the site"
        );
    }

    #[test]
    fn every_key_used_in_templates_and_code_exists() {
        let en = keys("en");
        let mut missing = vec![];
        let dirs = [
            concat!(env!("CARGO_MANIFEST_DIR"), "/templates"),
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/web"),
        ];
        for dir in dirs {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                for pat in ["t.get(\"", "t.fmt(\""] {
                    for (i, _) in text.match_indices(pat) {
                        let rest = &text[i + pat.len()..];
                        let key = &rest[..rest.find('"').unwrap()];
                        if !en.contains(&key.to_string()) {
                            missing.push(format!("{}: {key}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from en.toml: {missing:#?}"
        );
    }

    #[test]
    fn negotiation_and_fallback() {
        assert_eq!(
            T::negotiate(None, Some("fr-CH, en;q=0.8"), "en").code(),
            "fr"
        );
        assert_eq!(T::negotiate(Some("ar"), Some("fr"), "en").dir(), "rtl");
        assert_eq!(T::negotiate(Some("xx"), Some("de"), "en").code(), "en");
        assert_eq!(T::new("fr").get("level.6"), "Extrême");
        assert_eq!(T::new("en").get("no.such.key"), "no.such.key");
    }
}
