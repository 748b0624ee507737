//! The HTML 4 named character references (plus `apos`), and the two operations built on them:
//! turning an HTML name into a code point, and decoding text that carries references.
//!
//! XML defines only five named entities, yet feeds written by HTML tools use `&nbsp;`,
//! `&mdash;` and friends everywhere; an XML parser rejects them. The recovery pass rewrites them
//! as numeric references (which every XML parser accepts), and the title cleaner decodes them.
//! HTML 5 defines over 2,000 names; the 253 of HTML 4 (with HTML 5's code points) cover what
//! feeds actually use.

/// `(name, code point)`, sorted by name (byte order) so lookup is a binary search.
const ENTITIES: &[(&str, u32)] = &[
    ("AElig", 198),
    ("Aacute", 193),
    ("Acirc", 194),
    ("Agrave", 192),
    ("Alpha", 913),
    ("Aring", 197),
    ("Atilde", 195),
    ("Auml", 196),
    ("Beta", 914),
    ("Ccedil", 199),
    ("Chi", 935),
    ("Dagger", 8225),
    ("Delta", 916),
    ("ETH", 208),
    ("Eacute", 201),
    ("Ecirc", 202),
    ("Egrave", 200),
    ("Epsilon", 917),
    ("Eta", 919),
    ("Euml", 203),
    ("Gamma", 915),
    ("Iacute", 205),
    ("Icirc", 206),
    ("Igrave", 204),
    ("Iota", 921),
    ("Iuml", 207),
    ("Kappa", 922),
    ("Lambda", 923),
    ("Mu", 924),
    ("Ntilde", 209),
    ("Nu", 925),
    ("OElig", 338),
    ("Oacute", 211),
    ("Ocirc", 212),
    ("Ograve", 210),
    ("Omega", 937),
    ("Omicron", 927),
    ("Oslash", 216),
    ("Otilde", 213),
    ("Ouml", 214),
    ("Phi", 934),
    ("Pi", 928),
    ("Prime", 8243),
    ("Psi", 936),
    ("Rho", 929),
    ("Scaron", 352),
    ("Sigma", 931),
    ("THORN", 222),
    ("Tau", 932),
    ("Theta", 920),
    ("Uacute", 218),
    ("Ucirc", 219),
    ("Ugrave", 217),
    ("Upsilon", 933),
    ("Uuml", 220),
    ("Xi", 926),
    ("Yacute", 221),
    ("Yuml", 376),
    ("Zeta", 918),
    ("aacute", 225),
    ("acirc", 226),
    ("acute", 180),
    ("aelig", 230),
    ("agrave", 224),
    ("alefsym", 8501),
    ("alpha", 945),
    ("amp", 38),
    ("and", 8743),
    ("ang", 8736),
    ("apos", 39),
    ("aring", 229),
    ("asymp", 8776),
    ("atilde", 227),
    ("auml", 228),
    ("bdquo", 8222),
    ("beta", 946),
    ("brvbar", 166),
    ("bull", 8226),
    ("cap", 8745),
    ("ccedil", 231),
    ("cedil", 184),
    ("cent", 162),
    ("chi", 967),
    ("circ", 710),
    ("clubs", 9827),
    ("cong", 8773),
    ("copy", 169),
    ("crarr", 8629),
    ("cup", 8746),
    ("curren", 164),
    ("dArr", 8659),
    ("dagger", 8224),
    ("darr", 8595),
    ("deg", 176),
    ("delta", 948),
    ("diams", 9830),
    ("divide", 247),
    ("eacute", 233),
    ("ecirc", 234),
    ("egrave", 232),
    ("empty", 8709),
    ("emsp", 8195),
    ("ensp", 8194),
    ("epsilon", 949),
    ("equiv", 8801),
    ("eta", 951),
    ("eth", 240),
    ("euml", 235),
    ("euro", 8364),
    ("exist", 8707),
    ("fnof", 402),
    ("forall", 8704),
    ("frac12", 189),
    ("frac14", 188),
    ("frac34", 190),
    ("frasl", 8260),
    ("gamma", 947),
    ("ge", 8805),
    ("gt", 62),
    ("hArr", 8660),
    ("harr", 8596),
    ("hearts", 9829),
    ("hellip", 8230),
    ("iacute", 237),
    ("icirc", 238),
    ("iexcl", 161),
    ("igrave", 236),
    ("image", 8465),
    ("infin", 8734),
    ("int", 8747),
    ("iota", 953),
    ("iquest", 191),
    ("isin", 8712),
    ("iuml", 239),
    ("kappa", 954),
    ("lArr", 8656),
    ("lambda", 955),
    ("lang", 10216),
    ("laquo", 171),
    ("larr", 8592),
    ("lceil", 8968),
    ("ldquo", 8220),
    ("le", 8804),
    ("lfloor", 8970),
    ("lowast", 8727),
    ("loz", 9674),
    ("lrm", 8206),
    ("lsaquo", 8249),
    ("lsquo", 8216),
    ("lt", 60),
    ("macr", 175),
    ("mdash", 8212),
    ("micro", 181),
    ("middot", 183),
    ("minus", 8722),
    ("mu", 956),
    ("nabla", 8711),
    ("nbsp", 160),
    ("ndash", 8211),
    ("ne", 8800),
    ("ni", 8715),
    ("not", 172),
    ("notin", 8713),
    ("nsub", 8836),
    ("ntilde", 241),
    ("nu", 957),
    ("oacute", 243),
    ("ocirc", 244),
    ("oelig", 339),
    ("ograve", 242),
    ("oline", 8254),
    ("omega", 969),
    ("omicron", 959),
    ("oplus", 8853),
    ("or", 8744),
    ("ordf", 170),
    ("ordm", 186),
    ("oslash", 248),
    ("otilde", 245),
    ("otimes", 8855),
    ("ouml", 246),
    ("para", 182),
    ("part", 8706),
    ("permil", 8240),
    ("perp", 8869),
    ("phi", 966),
    ("pi", 960),
    ("piv", 982),
    ("plusmn", 177),
    ("pound", 163),
    ("prime", 8242),
    ("prod", 8719),
    ("prop", 8733),
    ("psi", 968),
    ("quot", 34),
    ("rArr", 8658),
    ("radic", 8730),
    ("rang", 10217),
    ("raquo", 187),
    ("rarr", 8594),
    ("rceil", 8969),
    ("rdquo", 8221),
    ("real", 8476),
    ("reg", 174),
    ("rfloor", 8971),
    ("rho", 961),
    ("rlm", 8207),
    ("rsaquo", 8250),
    ("rsquo", 8217),
    ("sbquo", 8218),
    ("scaron", 353),
    ("sdot", 8901),
    ("sect", 167),
    ("shy", 173),
    ("sigma", 963),
    ("sigmaf", 962),
    ("sim", 8764),
    ("spades", 9824),
    ("sub", 8834),
    ("sube", 8838),
    ("sum", 8721),
    ("sup", 8835),
    ("sup1", 185),
    ("sup2", 178),
    ("sup3", 179),
    ("supe", 8839),
    ("szlig", 223),
    ("tau", 964),
    ("there4", 8756),
    ("theta", 952),
    ("thetasym", 977),
    ("thinsp", 8201),
    ("thorn", 254),
    ("tilde", 732),
    ("times", 215),
    ("trade", 8482),
    ("uArr", 8657),
    ("uacute", 250),
    ("uarr", 8593),
    ("ucirc", 251),
    ("ugrave", 249),
    ("uml", 168),
    ("upsih", 978),
    ("upsilon", 965),
    ("uuml", 252),
    ("weierp", 8472),
    ("xi", 958),
    ("yacute", 253),
    ("yen", 165),
    ("yuml", 255),
    ("zeta", 950),
    ("zwj", 8205),
    ("zwnj", 8204),
];

/// How far a scanner looks for the `;` that ends a reference (numeric ones may be padded).
const MAX_REFERENCE_LEN: usize = 32;

/// The code point an HTML named reference stands for (`"mdash"` -> U+2014). Case-sensitive,
/// as in HTML: `&Aacute;` and `&aacute;` differ.
pub(crate) fn lookup(name: &str) -> Option<char> {
    ENTITIES
        .binary_search_by(|(candidate, _)| candidate.cmp(&name))
        .ok()
        .and_then(|index| ENTITIES.get(index))
        .and_then(|(_, code)| char::from_u32(*code))
}

/// Whether XML itself defines the name, so an XML parser needs no help with it.
pub(crate) fn is_xml_predefined(name: &str) -> bool {
    matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
}

/// The character a numeric reference's value stands for, as HTML reads it: the C1 range
/// (128-159) is taken as windows-1252, since `&#150;` in a feed means an en dash, not a
/// control character. `None` for values no document may contain (NUL, other control
/// characters, surrogates, beyond U+10FFFF).
pub(crate) fn numeric_char(value: u32) -> Option<char> {
    const C1_AS_WINDOWS_1252: [u32; 32] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
        0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC,
        0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ];
    let value = match value {
        0x80..=0x9F => C1_AS_WINDOWS_1252
            .get((value - 0x80) as usize)
            .copied()
            .filter(|mapped| *mapped != 0)?,
        other => other,
    };
    let ch = char::from_u32(value)?;
    is_xml_char(ch).then_some(ch)
}

/// Whether XML 1.0 allows the character in a document at all.
pub(crate) fn is_xml_char(ch: char) -> bool {
    matches!(ch, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Parses the reference that starts right after a `&`: `name;`, `#123;` or `#x1F;`. Returns
/// the decoded character and how many bytes (after the `&`) the reference spans, or `None`
/// when the text is not a complete reference this table knows.
pub(crate) fn parse_reference(after_amp: &str) -> Option<(Reference, usize)> {
    let end = after_amp
        .char_indices()
        .take(MAX_REFERENCE_LEN)
        .find(|(_, ch)| *ch == ';')
        .map(|(index, _)| index)?;
    let body = after_amp.get(..end)?;
    let span = end + 1;
    if let Some(number) = body.strip_prefix('#') {
        let value = match number.strip_prefix(['x', 'X']) {
            Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u32::from_str_radix(hex, 16).ok()
            }
            None if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
                number.parse::<u32>().ok()
            }
            // Digits that do not form a number are not a reference at all (`&#xyz;`).
            _ => return None,
        };
        return Some((Reference::Numeric(value.and_then(numeric_char)), span));
    }
    let mut bytes = body.bytes();
    let starts_with_letter = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    if !starts_with_letter || !bytes.all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    if is_xml_predefined(body) {
        return Some((Reference::XmlNamed(body.len()), span));
    }
    lookup(body).map(|ch| (Reference::HtmlNamed(ch), span))
}

/// What [`parse_reference`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reference {
    /// One of XML's five names (`amp`, `lt`, ...); the payload is the name's length.
    XmlNamed(usize),
    /// An HTML-only name, resolved.
    HtmlNamed(char),
    /// A numeric reference; `None` when its value is not a character a document may hold.
    Numeric(Option<char>),
}

/// Decodes every reference this module knows (`&amp;`, `&mdash;`, `&#8212;`, `&#x2014;`),
/// leaving anything else (`&bogus;`, a bare `&`) as written.
pub(crate) fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        match parse_reference(after) {
            Some((Reference::XmlNamed(len), span)) => {
                let name = &after[..len];
                out.push(match name {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    _ => '\'',
                });
                rest = &after[span..];
            }
            Some((Reference::HtmlNamed(ch), span)) => {
                out.push(ch);
                rest = &after[span..];
            }
            Some((Reference::Numeric(ch), span)) => {
                if let Some(ch) = ch {
                    out.push(ch);
                }
                rest = &after[span..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique_so_binary_search_works() {
        for pair in ENTITIES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        assert_eq!(ENTITIES.len(), 253);
        assert!(
            ENTITIES
                .iter()
                .all(|(name, _)| name.len() < MAX_REFERENCE_LEN)
        );
    }

    #[test]
    fn looks_up_common_names() {
        assert_eq!(lookup("nbsp"), Some('\u{A0}'));
        assert_eq!(lookup("mdash"), Some('—'));
        assert_eq!(lookup("hellip"), Some('…'));
        assert_eq!(lookup("eacute"), Some('é'));
        assert_eq!(lookup("Eacute"), Some('É'));
        assert_eq!(lookup("euro"), Some('€'));
        assert_eq!(lookup("rsquo"), Some('\u{2019}'));
        assert_eq!(lookup("bogus"), None);
        assert_eq!(lookup("NBSP"), None);
    }

    #[test]
    fn numeric_references_follow_html() {
        assert_eq!(numeric_char(0x2014), Some('—'));
        assert_eq!(numeric_char(150), Some('–'));
        assert_eq!(numeric_char(0), None);
        assert_eq!(numeric_char(0x1B), None);
        assert_eq!(numeric_char(0xD800), None);
        assert_eq!(numeric_char(0x11_0000), None);
    }

    #[test]
    fn parses_references() {
        assert_eq!(parse_reference("amp; x"), Some((Reference::XmlNamed(3), 4)));
        assert_eq!(
            parse_reference("mdash;"),
            Some((Reference::HtmlNamed('—'), 6))
        );
        assert_eq!(
            parse_reference("#x41;"),
            Some((Reference::Numeric(Some('A')), 5))
        );
        assert_eq!(
            parse_reference("#65;"),
            Some((Reference::Numeric(Some('A')), 4))
        );
        assert_eq!(parse_reference("#0;"), Some((Reference::Numeric(None), 3)));
        assert_eq!(parse_reference("#xyz;"), None);
        assert_eq!(parse_reference("copy=2;mode"), None);
        assert_eq!(parse_reference("bogus;"), None);
        assert_eq!(parse_reference(" nbsp;"), None);
        assert_eq!(parse_reference("nbsp"), None);
    }

    #[test]
    fn decodes_text() {
        assert_eq!(decode("a &amp; b &mdash; c&#33;"), "a & b — c!");
        assert_eq!(
            decode("Tom &amp Jerry & co &bogus;"),
            "Tom &amp Jerry & co &bogus;"
        );
        assert_eq!(decode("&lt;b&gt;"), "<b>");
    }
}
