//! Small XML writing helpers shared by the encoders.

/// Escapes text for use in element content or in a double- or single-quoted
/// attribute value. Carriage returns are written as a character reference so
/// that they survive XML end-of-line normalisation.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// True for characters allowed in an XML 1.0 document.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\u{9}' | '\u{A}' | '\u{D}'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// Removes characters that XML 1.0 cannot represent (control characters
/// other than tab, newline and carriage return; U+FFFE/U+FFFF).
pub(crate) fn strip_invalid(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(s.chars().filter(|c| is_xml_char(*c)).collect())
    }
}

/// Appends `<name>escaped text</name>` on its own line with `indent` spaces.
pub(crate) fn elem(out: &mut String, indent: usize, name: &str, text: &str) {
    for _ in 0..indent {
        out.push(' ');
    }
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape(&strip_invalid(text)));
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

/// Appends an opening or closing tag line.
pub(crate) fn tag(out: &mut String, indent: usize, tag: &str) {
    for _ in 0..indent {
        out.push(' ');
    }
    out.push_str(tag);
    out.push('\n');
}
