//! Bytes as served -> UTF-8 text: gzip, byte-order marks, declared and sniffed charsets.
//!
//! Everything downstream (feed-rs, the repair pass, the side scan) then sees one encoding, so
//! none of them has to trust a declaration: feed-rs 3.0 panics on UTF-16BE and knows no
//! UTF-32, and real feeds declare one charset while sending another. The XML declaration is
//! rewritten to say UTF-8, so a parser that honours it reads the text as what it now is.

use std::borrow::Cow;
use std::io::Read;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use flate2::read::MultiGzDecoder;

use super::NormalizeError;

/// The most a gzip body may inflate to. A feed is rarely over a few MiB; this bounds a
/// compression bomb while leaving room for the largest real podcast feeds.
pub const MAX_INFLATED_BYTES: u64 = 64 * 1024 * 1024;

/// The declaration the decoded text starts with, replacing whatever the document declared.
const UTF8_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// How the bytes turned out to be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charset {
    Utf8,
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
    /// Any ASCII-compatible encoding encoding_rs knows (windows-1252, koi8-r, big5, ...).
    Legacy(&'static Encoding),
}

impl Charset {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Charset::Utf8 => "UTF-8",
            Charset::Utf16Le => "UTF-16LE",
            Charset::Utf16Be => "UTF-16BE",
            Charset::Utf32Le => "UTF-32LE",
            Charset::Utf32Be => "UTF-32BE",
            Charset::Legacy(encoding) => encoding.name(),
        }
    }
}

/// The charset decision and the length of the byte-order mark to skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Detected {
    pub charset: Charset,
    pub bom_len: usize,
}

/// The body as text, ready for a parser.
#[derive(Debug, Clone)]
pub(crate) struct Decoded {
    pub text: String,
    pub charset: Charset,
}

/// Inflates a gzip body (detected by its magic bytes, since a misconfigured server sends a
/// `.gz` file without `Content-Encoding`), refusing to grow past [`MAX_INFLATED_BYTES`].
pub(crate) fn inflate_if_gzip(bytes: &[u8]) -> Result<Cow<'_, [u8]>, NormalizeError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut inflated = Vec::new();
    MultiGzDecoder::new(bytes)
        .take(MAX_INFLATED_BYTES + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| NormalizeError::Gzip(e.to_string()))?;
    if inflated.len() as u64 > MAX_INFLATED_BYTES {
        return Err(NormalizeError::TooLarge {
            limit: MAX_INFLATED_BYTES,
        });
    }
    Ok(Cow::Owned(inflated))
}

/// Decodes the (already inflated) body to UTF-8 and normalises its prolog: no byte-order mark,
/// no whitespace before the first markup, and a declaration that says UTF-8.
pub(crate) fn decode(bytes: &[u8]) -> Decoded {
    let detected = detect_charset(bytes);
    let body = bytes.get(detected.bom_len..).unwrap_or_default();
    let text = match detected.charset {
        // One copy, validated once; only invalid bytes take the slower lossy route.
        Charset::Utf8 => String::from_utf8(body.to_vec())
            .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned()),
        Charset::Utf16Le => encoding_rs::UTF_16LE
            .decode_without_bom_handling(body)
            .0
            .into_owned(),
        Charset::Utf16Be => encoding_rs::UTF_16BE
            .decode_without_bom_handling(body)
            .0
            .into_owned(),
        Charset::Utf32Le => decode_utf32(body, u32::from_le_bytes),
        Charset::Utf32Be => decode_utf32(body, u32::from_be_bytes),
        Charset::Legacy(encoding) => encoding.decode_without_bom_handling(body).0.into_owned(),
    };
    Decoded {
        text: normalize_prolog(text),
        charset: detected.charset,
    }
}

/// Decides the charset: a byte-order mark wins, then the byte pattern of `<` in a wide
/// encoding, then the XML declaration; UTF-8 that does not validate falls back to an HTML
/// `<meta charset>` or windows-1252 (what ISO-8859-1 labels mean on the web), and a
/// single-byte label on bytes that are valid, non-ASCII UTF-8 is taken as a mislabel.
pub(crate) fn detect_charset(bytes: &[u8]) -> Detected {
    let with_bom = |charset, bom_len| Detected { charset, bom_len };
    match bytes {
        [0xEF, 0xBB, 0xBF, ..] => return with_bom(Charset::Utf8, 3),
        [0x00, 0x00, 0xFE, 0xFF, ..] => return with_bom(Charset::Utf32Be, 4),
        [0xFF, 0xFE, 0x00, 0x00, ..] => return with_bom(Charset::Utf32Le, 4),
        [0xFE, 0xFF, ..] => return with_bom(Charset::Utf16Be, 2),
        [0xFF, 0xFE, ..] => return with_bom(Charset::Utf16Le, 2),
        [0, 0, 0, a, ..] if *a != 0 => return with_bom(Charset::Utf32Be, 0),
        [a, 0, 0, 0, ..] if *a != 0 => return with_bom(Charset::Utf32Le, 0),
        [0, a, 0, b, ..] if *a != 0 && *b != 0 => return with_bom(Charset::Utf16Be, 0),
        [a, 0, b, 0, ..] if *a != 0 && *b != 0 => return with_bom(Charset::Utf16Le, 0),
        _ => {}
    }
    let declared = declared_encoding(bytes)
        .and_then(|label| Encoding::for_label_no_replacement(label.as_bytes()))
        // Bytes that are ASCII-compatible cannot be UTF-16, whatever the declaration says.
        .filter(|encoding| {
            *encoding != encoding_rs::UTF_16LE && *encoding != encoding_rs::UTF_16BE
        });
    let charset = match declared {
        Some(encoding) if encoding == UTF_8 => utf8_or_fallback(bytes),
        None => utf8_or_fallback(bytes),
        Some(encoding) if encoding == WINDOWS_1252 => {
            if std::str::from_utf8(bytes).is_ok() && !bytes.is_ascii() {
                Charset::Utf8
            } else {
                Charset::Legacy(WINDOWS_1252)
            }
        }
        Some(encoding) => Charset::Legacy(encoding),
    };
    Detected {
        charset,
        bom_len: 0,
    }
}

/// UTF-8 when the bytes mostly are; otherwise the page's `<meta charset>` or windows-1252.
fn utf8_or_fallback(bytes: &[u8]) -> Charset {
    let (valid_multibyte, invalid) = utf8_census(bytes);
    if invalid == 0 || valid_multibyte > invalid * 2 {
        return Charset::Utf8;
    }
    meta_charset(bytes)
        .and_then(|label| Encoding::for_label_no_replacement(label.as_bytes()))
        .filter(|encoding| encoding.is_ascii_compatible() && *encoding != UTF_8)
        .map_or(Charset::Legacy(WINDOWS_1252), Charset::Legacy)
}

/// Counts valid multi-byte UTF-8 sequences and invalid bytes: a document with many of the
/// first and a stray few of the second is UTF-8 with damage, not windows-1252.
fn utf8_census(mut bytes: &[u8]) -> (usize, usize) {
    let mut valid_multibyte = 0;
    let mut invalid = 0;
    loop {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                valid_multibyte += text.chars().filter(|c| !c.is_ascii()).count();
                return (valid_multibyte, invalid);
            }
            Err(error) => {
                let (good, rest) = bytes.split_at(error.valid_up_to());
                valid_multibyte += String::from_utf8_lossy(good)
                    .chars()
                    .filter(|c| !c.is_ascii())
                    .count();
                invalid += 1;
                let skip = error.error_len().unwrap_or(rest.len()).max(1);
                bytes = rest.get(skip..).unwrap_or_default();
            }
        }
    }
}

/// The `encoding` pseudo-attribute of an XML declaration at the start of ASCII-compatible
/// bytes (after optional whitespace).
pub(crate) fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(1024)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &head[start..];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = String::from_utf8_lossy(&head[..end]);
    pseudo_attribute(&decl, "encoding")
}

/// A charset named by an HTML `<meta charset=...>` or `<meta http-equiv content="...;
/// charset=...">` in the first 4 KiB.
pub(crate) fn meta_charset(bytes: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).to_ascii_lowercase();
    let mut rest = head.as_str();
    while let Some(pos) = rest.find("<meta") {
        rest = &rest[pos + 5..];
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        if let Some(at) = tag.find("charset=") {
            let value = tag[at + 8..].trim_start_matches(['"', '\'', ' ']);
            let label: String = value
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
                .collect();
            if !label.is_empty() {
                return Some(label);
            }
        }
    }
    None
}

/// The value of `name="..."` (or single-quoted) inside a declaration.
fn pseudo_attribute(decl: &str, name: &str) -> Option<String> {
    let mut rest = decl;
    while let Some(pos) = rest.find(name) {
        let after = rest[pos + name.len()..].trim_start();
        rest = &rest[pos + name.len()..];
        let Some(after_eq) = after.strip_prefix('=') else {
            continue;
        };
        let after_eq = after_eq.trim_start();
        let quote = after_eq.chars().next()?;
        if quote != '"' && quote != '\'' {
            return None;
        }
        let value = &after_eq[1..];
        let end = value.find(quote)?;
        return Some(value[..end].trim().to_string());
    }
    None
}

/// UTF-32, which encoding_rs does not implement: four bytes a code point, invalid values as
/// U+FFFD.
fn decode_utf32(body: &[u8], to_u32: fn([u8; 4]) -> u32) -> String {
    body.chunks_exact(4)
        .map(|chunk| {
            let quad = [chunk[0], chunk[1], chunk[2], chunk[3]];
            char::from_u32(to_u32(quad)).unwrap_or('\u{FFFD}')
        })
        .collect()
}

/// Drops a byte-order mark and leading whitespace, and makes the XML declaration (if any)
/// say UTF-8, which the text now is.
pub(crate) fn normalize_prolog(mut text: String) -> String {
    // In place: a feed is decoded on every poll that fetched it, and is mostly body.
    let start = text.len()
        - text
            .trim_start_matches(['\u{FEFF}', ' ', '\t', '\r', '\n'])
            .len();
    if let Some(rest) = text[start..].strip_prefix("<?xml")
        && rest.starts_with(|c: char| c.is_ascii_whitespace() || c == '?')
        && let Some(end) = rest.find("?>")
    {
        let declaration_end = start + "<?xml".len() + end + "?>".len();
        text.replace_range(..declaration_end, UTF8_DECLARATION);
        return text;
    }
    text.drain(..start);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charset(bytes: &[u8]) -> Charset {
        detect_charset(bytes).charset
    }

    #[test]
    fn byte_order_marks_win() {
        assert_eq!(
            detect_charset(b"\xEF\xBB\xBF<rss/>"),
            Detected {
                charset: Charset::Utf8,
                bom_len: 3
            }
        );
        assert_eq!(detect_charset(b"\xFE\xFF\0<").bom_len, 2);
        assert_eq!(charset(b"\xFE\xFF\0<"), Charset::Utf16Be);
        assert_eq!(charset(b"\xFF\xFE<\0"), Charset::Utf16Le);
        assert_eq!(charset(b"\0\0\xFE\xFF\0\0\0<"), Charset::Utf32Be);
        assert_eq!(charset(b"\xFF\xFE\0\0<\0\0\0"), Charset::Utf32Le);
    }

    #[test]
    fn wide_encodings_sniffed_without_bom() {
        assert_eq!(charset(b"\0<\0?\0x\0m"), Charset::Utf16Be);
        assert_eq!(charset(b"<\0?\0x\0m\0"), Charset::Utf16Le);
        assert_eq!(charset(b"\0\0\0<\0\0\0?"), Charset::Utf32Be);
        assert_eq!(charset(b"<\0\0\0?\0\0\0"), Charset::Utf32Le);
    }

    #[test]
    fn declared_charset_is_used() {
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss>caf\xE9</rss>";
        assert_eq!(charset(latin1), Charset::Legacy(WINDOWS_1252));
        let koi8 = b"<?xml version='1.0' encoding='koi8-r'?><rss>\xC1</rss>";
        assert_eq!(charset(koi8), Charset::Legacy(encoding_rs::KOI8_R));
        assert_eq!(
            declared_encoding(b"  <?xml version=\"1.0\" encoding = 'UTF-8' ?>"),
            Some("UTF-8".into())
        );
        assert_eq!(declared_encoding(b"<rss encoding=\"x\">"), None);
    }

    #[test]
    fn utf16_label_on_ascii_bytes_is_ignored() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"UTF-16\"?><rss/>";
        assert_eq!(charset(bytes), Charset::Utf8);
    }

    #[test]
    fn single_byte_label_on_utf8_bytes_is_a_mislabel() {
        let bytes = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss>café</rss>".as_bytes();
        assert_eq!(charset(bytes), Charset::Utf8);
    }

    #[test]
    fn invalid_utf8_falls_back_to_windows_1252_or_meta() {
        assert_eq!(
            charset(b"<rss>caf\xE9 na\xEFve</rss>"),
            Charset::Legacy(WINDOWS_1252)
        );
        let html = b"<html><head><meta charset=\"koi8-r\"></head>\xC1\xC2</html>";
        assert_eq!(charset(html), Charset::Legacy(encoding_rs::KOI8_R));
        // Mostly UTF-8 with one stray byte stays UTF-8.
        let mostly = "<rss>é è à ü ö ä </rss>\u{0}".as_bytes();
        let mut damaged = mostly.to_vec();
        damaged.push(0xE9);
        assert_eq!(charset(&damaged), Charset::Utf8);
    }

    #[test]
    fn meta_charset_forms() {
        assert_eq!(
            meta_charset(
                b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=Shift_JIS\">"
            ),
            Some("shift_jis".into())
        );
        assert_eq!(meta_charset(b"<p>no meta</p>"), None);
    }

    #[test]
    fn decodes_utf16_and_rewrites_declaration() {
        let source = "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss>é</rss>";
        let mut bytes = vec![0xFE, 0xFF];
        for unit in source.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        let decoded = decode(&bytes);
        assert_eq!(decoded.charset, Charset::Utf16Be);
        assert_eq!(decoded.text, format!("{UTF8_DECLARATION}<rss>é</rss>"));
    }

    #[test]
    fn decodes_utf32() {
        let mut bytes = Vec::new();
        for ch in "<rss>€</rss>".chars() {
            bytes.extend_from_slice(&(ch as u32).to_le_bytes());
        }
        assert_eq!(decode(&bytes).text, "<rss>€</rss>");
    }

    #[test]
    fn prolog_is_normalised() {
        assert_eq!(
            normalize_prolog(
                "\u{FEFF}\n  <?xml version='1.0' encoding='iso-8859-1'?>\n<rss/>".into()
            ),
            format!("{UTF8_DECLARATION}\n<rss/>")
        );
        assert_eq!(normalize_prolog("  <rss/>".into()), "<rss/>");
        assert_eq!(
            normalize_prolog("<?xml-stylesheet href='x'?><rss/>".into()),
            "<?xml-stylesheet href='x'?><rss/>"
        );
    }

    #[test]
    fn gzip_is_inflated_with_a_cap() {
        use flate2::Compression;
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(b"<rss/>").expect("write to memory");
        let compressed = encoder.finish().expect("finish gzip");
        let inflated = inflate_if_gzip(&compressed).expect("inflates");
        assert_eq!(&*inflated, b"<rss/>");
        assert!(matches!(inflate_if_gzip(b"<rss/>"), Ok(Cow::Borrowed(_))));
        assert!(matches!(
            inflate_if_gzip(&[0x1f, 0x8b, 0, 0]),
            Err(NormalizeError::Gzip(_))
        ));
    }
}
