//! Text to short messages and back: the coding choice, segmentation with a
//! concatenation UDH, and decoding of what an SMSC delivers.
//!
//! Outgoing text goes as data_coding 0 (the SMSC's GSM 7-bit default
//! alphabet) when every character is one whose GSM code is its ASCII code,
//! so the octets are the same whichever way the SMSC reads them; anything
//! else goes as UCS-2 (data_coding 8, UTF-16BE). One message holds 160 GSM
//! or 70 UCS-2 characters; longer text is split into segments of 153 or 67
//! with the 8-bit-reference concatenation element `00 03 ref total seq`.

use crate::pdu::esm_class;

/// data_coding values used here.
pub mod data_coding {
    /// SMSC default alphabet (GSM 03.38 in GSM networks).
    pub const DEFAULT: u8 = 0x00;
    pub const IA5: u8 = 0x01;
    pub const BINARY: u8 = 0x02;
    pub const LATIN1: u8 = 0x03;
    pub const BINARY_8BIT: u8 = 0x04;
    pub const UCS2: u8 = 0x08;
}

/// Characters per message and per segment of a concatenated message.
pub const GSM_SINGLE: usize = 160;
pub const GSM_SEGMENT: usize = 153;
pub const UCS2_SINGLE: usize = 70;
pub const UCS2_SEGMENT: usize = 67;

/// One short message ready for submit_sm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub data_coding: u8,
    /// [`esm_class::UDHI`] for a segment of a concatenated message, else 0.
    pub esm_class: u8,
    /// UDH (if any) then the text's octets.
    pub short_message: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("the text needs {0} segments; concatenation allows at most 255")]
    TooManySegments(usize),
}

/// True for the characters whose GSM 03.38 default-alphabet code is their
/// ASCII code: letters, digits, space, CR, LF and the punctuation
/// `! " # % & ' ( ) * + , - . / : ; < = > ?`. (`@ $ _` and the brackets
/// have other codes in GSM, so text holding them goes as UCS-2.)
pub fn is_gsm_ascii_safe(c: char) -> bool {
    matches!(c, '\n' | '\r' | ' '..='#' | '%'..='?' | 'A'..='Z' | 'a'..='z')
}

/// Splits `text` into the short messages to submit. `reference` is the
/// concatenation reference shared by the segments (used only when there is
/// more than one).
pub fn segments(text: &str, reference: u8) -> Result<Vec<Segment>, TextError> {
    if text.chars().all(is_gsm_ascii_safe) {
        let bytes = text.as_bytes();
        if bytes.len() <= GSM_SINGLE {
            return Ok(vec![single(data_coding::DEFAULT, bytes.to_vec())]);
        }
        let chunks: Vec<Vec<u8>> = bytes.chunks(GSM_SEGMENT).map(<[u8]>::to_vec).collect();
        return concatenated(data_coding::DEFAULT, chunks, reference);
    }
    let units: Vec<u16> = text.encode_utf16().collect();
    if units.len() <= UCS2_SINGLE {
        return Ok(vec![single(data_coding::UCS2, utf16be(&units))]);
    }
    let mut chunks = Vec::new();
    let mut rest = units.as_slice();
    while !rest.is_empty() {
        let mut take = rest.len().min(UCS2_SEGMENT);
        // Never split a surrogate pair across two segments.
        if take < rest.len() && (0xD800..0xDC00).contains(&rest[take - 1]) {
            take -= 1;
        }
        chunks.push(utf16be(&rest[..take]));
        rest = &rest[take..];
    }
    concatenated(data_coding::UCS2, chunks, reference)
}

fn single(data_coding: u8, short_message: Vec<u8>) -> Segment {
    Segment {
        data_coding,
        esm_class: 0,
        short_message,
    }
}

fn concatenated(
    data_coding: u8,
    chunks: Vec<Vec<u8>>,
    reference: u8,
) -> Result<Vec<Segment>, TextError> {
    let total = chunks.len();
    let total_u8 = u8::try_from(total).map_err(|_| TextError::TooManySegments(total))?;
    Ok(chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut short_message = vec![0x05, 0x00, 0x03, reference, total_u8, i as u8 + 1];
            short_message.extend_from_slice(&chunk);
            Segment {
                data_coding,
                esm_class: esm_class::UDHI,
                short_message,
            }
        })
        .collect())
}

fn utf16be(units: &[u16]) -> Vec<u8> {
    units.iter().flat_map(|u| u.to_be_bytes()).collect()
}

/// The concatenation element of a received segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    /// The reference (8- or 16-bit element).
    pub reference: u16,
    pub total: u8,
    /// 1-based.
    pub seq: u8,
}

/// Separates a user-data header (when esm_class says there is one) from
/// the text octets, and reads a concatenation element from it. A header
/// whose length runs past the data is treated as no header.
pub fn split_udh(esm_class: u8, data: &[u8]) -> (Option<Concat>, &[u8]) {
    if esm_class & esm_class::UDHI == 0 || data.is_empty() {
        return (None, data);
    }
    let udhl = data[0] as usize;
    if udhl + 1 > data.len() {
        return (None, data);
    }
    let (udh, rest) = (&data[1..=udhl], &data[udhl + 1..]);
    let mut concat = None;
    let mut i = 0;
    while i + 2 <= udh.len() {
        let (iei, len) = (udh[i], udh[i + 1] as usize);
        let Some(value) = udh.get(i + 2..i + 2 + len) else {
            break;
        };
        match (iei, value) {
            (0x00, [r, total, seq]) => {
                concat = Some(Concat {
                    reference: u16::from(*r),
                    total: *total,
                    seq: *seq,
                })
            }
            (0x08, [r1, r2, total, seq]) => {
                concat = Some(Concat {
                    reference: u16::from_be_bytes([*r1, *r2]),
                    total: *total,
                    seq: *seq,
                })
            }
            _ => {}
        }
        i += 2 + len;
    }
    (concat, rest)
}

/// Decodes text octets by data_coding: 0 as the GSM 03.38 default alphabet
/// (one septet per octet, with the extension table; Latin-1 if any octet
/// has its high bit set, as some SMSCs send), 1 as ASCII, 3 as Latin-1,
/// 8 as UTF-16BE, the 0xF0 group by its alphabet bit, anything else as
/// Latin-1. Never fails: what cannot be decoded becomes U+FFFD.
pub fn decode(data_coding: u8, data: &[u8]) -> String {
    match data_coding {
        data_coding::DEFAULT => {
            if data.iter().all(|&b| b < 0x80) {
                decode_gsm(data)
            } else {
                latin1(data)
            }
        }
        data_coding::IA5 => data
            .iter()
            .map(|&b| if b < 0x80 { b as char } else { '\u{FFFD}' })
            .collect(),
        data_coding::UCS2 => {
            let units: Vec<u16> = data
                .chunks(2)
                .map(|c| match c {
                    [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                    _ => 0xFFFD,
                })
                .collect();
            String::from_utf16_lossy(&units)
        }
        0xF0..=0xFF if data_coding & 0x04 == 0 => decode_gsm(data),
        _ => latin1(data),
    }
}

fn latin1(data: &[u8]) -> String {
    data.iter().map(|&b| b as char).collect()
}

/// GSM 03.38 default alphabet, codes 0x00..=0x7F.
const GSM_BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

fn gsm_extension(code: u8) -> Option<char> {
    Some(match code {
        0x0A => '\u{0C}',
        0x14 => '^',
        0x28 => '{',
        0x29 => '}',
        0x2F => '\\',
        0x3C => '[',
        0x3D => '~',
        0x3E => ']',
        0x40 => '|',
        0x65 => '€',
        _ => return None,
    })
}

fn decode_gsm(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len());
    let mut iter = data.iter().map(|&b| b & 0x7F);
    while let Some(code) = iter.next() {
        if code == 0x1B {
            match iter.next() {
                // An unknown extension code shows as a space (GSM 03.38).
                Some(ext) => out.push(gsm_extension(ext).unwrap_or(' ')),
                None => out.push(' '),
            }
        } else {
            out.push(GSM_BASIC[code as usize]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inverse of [`segments`] as a receiver would do it.
    fn reassemble(segments: &[Segment]) -> String {
        segments
            .iter()
            .map(|s| {
                let (_, text) = split_udh(s.esm_class, &s.short_message);
                decode(s.data_coding, text)
            })
            .collect()
    }

    #[test]
    fn gsm_safe_characters() {
        for c in "Are you safe? Reply 1 (yes) or 2 (I need help), 100% \"now\"!\r\n#&'*+,-./:;<=>"
            .chars()
        {
            assert!(is_gsm_ascii_safe(c), "{c:?}");
        }
        for c in "@$_[]\\^`{|}~\u{0}\té€ا".chars() {
            assert!(!is_gsm_ascii_safe(c), "{c:?}");
        }
        // Every safe character has the same code in GSM 03.38.
        for code in 0u8..0x80 {
            let c = code as char;
            if is_gsm_ascii_safe(c) {
                assert_eq!(GSM_BASIC[code as usize], c);
            }
        }
    }

    #[test]
    fn short_gsm_text_is_one_plain_segment() {
        let s = segments("Are you safe? Reply 1 or 2", 7).unwrap();
        assert_eq!(
            s,
            vec![Segment {
                data_coding: 0,
                esm_class: 0,
                short_message: b"Are you safe? Reply 1 or 2".to_vec()
            }]
        );
        let full = "a".repeat(160);
        assert_eq!(segments(&full, 0).unwrap().len(), 1);
        assert_eq!(segments("", 0).unwrap()[0].short_message, b"");
    }

    #[test]
    fn long_gsm_text_is_split_in_153s() {
        let text: String = (0..400).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        let s = segments(&text, 0x2A).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            &s[0].short_message[..6],
            &[0x05, 0x00, 0x03, 0x2A, 0x03, 0x01]
        );
        assert_eq!(
            &s[2].short_message[..6],
            &[0x05, 0x00, 0x03, 0x2A, 0x03, 0x03]
        );
        assert_eq!(s[0].short_message.len(), 6 + 153);
        assert_eq!(s[2].short_message.len(), 6 + 400 - 306);
        assert!(s.iter().all(|s| s.esm_class == 0x40 && s.data_coding == 0));
        assert_eq!(reassemble(&s), text);
        assert_eq!(segments(&"a".repeat(161), 0).unwrap().len(), 2);
    }

    #[test]
    fn non_gsm_text_is_ucs2() {
        let s = segments("نعم", 0).unwrap();
        assert_eq!(
            s,
            vec![Segment {
                data_coding: 8,
                esm_class: 0,
                short_message: vec![0x06, 0x46, 0x06, 0x39, 0x06, 0x45],
            }]
        );
        // One character outside the safe set is enough.
        assert_eq!(segments("user@example.org", 0).unwrap()[0].data_coding, 8);
        assert_eq!(segments(&"ب".repeat(70), 0).unwrap().len(), 1);
        assert_eq!(segments(&"ب".repeat(71), 0).unwrap().len(), 2);
    }

    #[test]
    fn long_ucs2_text_is_split_in_67s() {
        let text = "هل أنت بخير؟ أجب بـ 1 إذا كنت بأمان أو 2 إذا كنت بحاجة إلى مساعدة. ".repeat(3);
        let units = text.encode_utf16().count();
        let s = segments(&text, 200).unwrap();
        assert_eq!(s.len(), units.div_ceil(67));
        for (i, seg) in s.iter().enumerate() {
            assert_eq!(seg.data_coding, 8);
            assert_eq!(seg.esm_class, 0x40);
            assert_eq!(
                &seg.short_message[..6],
                &[5, 0, 3, 200, s.len() as u8, i as u8 + 1]
            );
            assert!(seg.short_message.len() <= 6 + 134);
        }
        assert_eq!(reassemble(&s), text);
    }

    #[test]
    fn surrogate_pairs_stay_whole() {
        // 66 BMP characters, then emoji (two UTF-16 units each).
        let text = format!("{}{}", "ا".repeat(66), "😀".repeat(10));
        let s = segments(&text, 1).unwrap();
        assert_eq!(s[0].short_message.len(), 6 + 66 * 2);
        assert_eq!(reassemble(&s), text);
    }

    #[test]
    fn too_many_segments() {
        let text = "a".repeat(153 * 255 + 1);
        assert_eq!(segments(&text, 0), Err(TextError::TooManySegments(256)));
        assert_eq!(segments(&"a".repeat(153 * 255), 0).unwrap().len(), 255);
    }

    #[test]
    fn udh_parsing() {
        let data = [5, 0, 3, 9, 2, 1, b'h', b'i'];
        assert_eq!(
            split_udh(0x40, &data),
            (
                Some(Concat {
                    reference: 9,
                    total: 2,
                    seq: 1
                }),
                &b"hi"[..]
            )
        );
        // Without UDHI the octets are all text.
        assert_eq!(split_udh(0, &data), (None, &data[..]));
        // 16-bit reference.
        let data16 = [6, 8, 4, 0x12, 0x34, 3, 3, b'x'];
        assert_eq!(
            split_udh(0x40, &data16).0,
            Some(Concat {
                reference: 0x1234,
                total: 3,
                seq: 3
            })
        );
        // Broken headers do not panic.
        assert_eq!(split_udh(0x40, &[200, 1, 2]), (None, &[200u8, 1, 2][..]));
        assert_eq!(split_udh(0x40, &[3, 0, 9, 1]).0, None);
        assert_eq!(split_udh(0x40, &[]).0, None);
    }

    #[test]
    fn decoding() {
        assert_eq!(decode(0, b"1"), "1");
        assert_eq!(decode(0, &[0x00, 0x02, 0x11, 0x1B, 0x65, 0x1B]), "@$_€ ");
        assert_eq!(decode(0, &[0xE9, b't', 0xE9]), "été");
        assert_eq!(decode(1, &[b'o', b'k', 0xFF]), "ok\u{FFFD}");
        assert_eq!(decode(3, &[0xE9]), "é");
        assert_eq!(decode(8, &[0x06, 0x46, 0x06]), "ن\u{FFFD}");
        assert_eq!(decode(8, &[0xD8, 0x3D]), "\u{FFFD}");
        assert_eq!(decode(0xF0, b"2"), "2");
        assert_eq!(decode(4, &[0x41, 0xFF]), "Aÿ");
    }
}
