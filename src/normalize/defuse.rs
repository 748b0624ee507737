//! Workarounds for values that make feed-rs 3.0 panic, applied only to a document whose parse
//! panicked: a feed that parses is never rewritten, and one that panics is retried once with
//! the offending values rewritten instead of being lost whole.
//!
//! The panics known (found by `fuzz/`; see docs/hostile.md), each in code feed-rs runs on a
//! value it extracted:
//!
//! - `parse_person_name_email` (RSS `author`, `managingEditor`, `webMaster`, Dublin Core
//!   `creator`, `itunes:author`, the `itunes:name` of `itunes:owner`) slices one byte either
//!   side of an e-mail address, taking that byte to be an ASCII delimiter; a multi-byte
//!   punctuation character next to the address (`编辑部：editor@example.cn`) makes that a slice
//!   inside a character. A space there is the delimiter it expects, so the retry reads the
//!   name and the address the author meant. (JSON Feed author names get the same space,
//!   always, when `json.rs` prepares them.)
//! - `parse_npt` (`itunes:duration`; Media RSS `start`, `end`, `time`) parses every `\d+` as
//!   a u64 and unwraps: a non-ASCII digit (`۱:۲۳:۴۵`) or twenty digits panic, and so does a
//!   huge hour count multiplied by 3600. Such values are blanked; tributary reads
//!   `itunes:duration` itself from the document as served ([`super::scan`]).
//! - An XML declaration after the start of the document (two feeds concatenated, a CMS that
//!   pastes a fragment with its own `<?xml ...?>`) makes feed-rs switch the reader's encoding
//!   mid-stream, which quick-xml refuses with a panic. A declaration is only allowed first, so
//!   any later one (outside CDATA) is dropped.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::entities;

/// A person element with text content (a CDATA section allowed): the RSS, Dublin Core and
/// iTunes elements feed-rs reads with `parse_person_name_email` (`itunes:owner` has its
/// `itunes:name`), under any prefix.
static PERSON: LazyLock<Regex> =
    LazyLock::new(|| element_with_text("author|managingEditor|webMaster|creator|name"));

/// A `duration` element under any prefix, with text content.
static DURATION: LazyLock<Regex> = LazyLock::new(|| element_with_text("duration"));

/// The Media RSS attributes holding normal play time.
static NPT_ATTRIBUTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(\s(?:start|end|time)\s*=\s*)("[^"]*"|'[^']*')"#).expect("a valid regex")
});

/// An address as feed-rs's person parser finds one (its regex, without the delimiters).
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").expect("a valid regex")
});

/// A value `parse_npt` would panic on: a non-ASCII decimal digit, or a run of digits too long
/// for its u64 arithmetic.
static NPT_PANIC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\p{Nd}--0-9]|[0-9]{16,}").expect("a valid regex"));

/// An XML declaration (not a processing instruction such as `<?xml-stylesheet ...?>`).
static DECLARATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)<\?xml\s.*?\?>").expect("a valid regex"));

fn element_with_text(names: &str) -> Regex {
    Regex::new(&format!(
        r"(?s)(<(?:[A-Za-z_][\w.-]*:)?(?:{names})(?:\s[^>]*)?>)([^<]*(?:<!\[CDATA\[.*?\]\]>[^<]*)?)(</)"
    ))
    .expect("a valid regex")
}

/// The document with the values feed-rs panics on rewritten, or `None` when there is nothing
/// to rewrite (the panic has another cause, and a retry would panic again).
pub(crate) fn defuse(text: &str) -> Option<String> {
    let people = PERSON.replace_all(text, |caps: &Captures<'_>| {
        rewrite_content(caps, |content| {
            let spaced = space_out_emails(content);
            (spaced != content).then_some(spaced)
        })
    });
    let durations = DURATION.replace_all(&people, |caps: &Captures<'_>| {
        rewrite_content(caps, |content| {
            NPT_PANIC.is_match(content).then(String::new)
        })
    });
    let attributes = NPT_ATTRIBUTE.replace_all(&durations, |caps: &Captures<'_>| {
        let value = &caps[2];
        if NPT_PANIC.is_match(&entities::decode(&value[1..value.len() - 1])) {
            format!("{}\"\"", &caps[1])
        } else {
            caps[0].to_string()
        }
    });
    let declarations = drop_late_declarations(&attributes);
    (declarations != text).then(|| declarations.into_owned())
}

/// The text without XML declarations after its start, except inside CDATA sections.
fn drop_late_declarations(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut kept = 0;
    for found in DECLARATION.find_iter(text) {
        let before = &text[..found.start()];
        let in_cdata = before
            .rfind("<![CDATA[")
            .is_some_and(|open| !before[open..].contains("]]>"));
        if found.start() == 0 || in_cdata {
            continue;
        }
        out.push_str(&text[kept..found.start()]);
        kept = found.end();
    }
    if kept == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[kept..]);
    Cow::Owned(out)
}

/// Re-emits an element matched by [`element_with_text`], its content replaced by `rewrite`'s
/// result (given the decoded text, returning new text or `None` to leave it as it was).
fn rewrite_content(caps: &Captures<'_>, rewrite: impl Fn(&str) -> Option<String>) -> String {
    let content = decoded_text(&caps[2]);
    match rewrite(&content) {
        Some(new) => format!("{}{}{}", &caps[1], escape(&new), &caps[3]),
        None => caps[0].to_string(),
    }
}

/// Element content as text: CDATA unwrapped, references decoded.
fn decoded_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find("<![CDATA[") {
        out.push_str(&entities::decode(&rest[..start]));
        let inner = &rest[start + 9..];
        let end = inner.find("]]>").unwrap_or(inner.len());
        out.push_str(&inner[..end]);
        rest = inner.get(end + 3..).unwrap_or_default();
    }
    out.push_str(&entities::decode(rest));
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A space between an address and a non-ASCII punctuation character touching it.
pub(crate) fn space_out_emails(text: &str) -> String {
    let needs_space = |c: Option<char>| c.is_some_and(|c| !c.is_ascii() && !c.is_alphanumeric());
    let mut out = String::with_capacity(text.len() + 4);
    let mut last = 0;
    for found in EMAIL.find_iter(text) {
        out.push_str(&text[last..found.start()]);
        if needs_space(text[..found.start()].chars().next_back()) {
            out.push(' ');
        }
        out.push_str(found.as_str());
        if needs_space(text[found.end()..].chars().next()) {
            out.push(' ');
        }
        last = found.end();
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_touching_wide_punctuation_get_a_space() {
        let text = "<rss><channel><managingEditor>编辑部：editor@example.cn</managingEditor>\
                    <item><dc:creator><![CDATA[a@b.example（Ana）]]></dc:creator>\
                    <author>Bo &#x2014;bo@c.example</author><author>ok@d.example (Ok)</author>\
                    </item></channel></rss>";
        let defused = defuse(text).expect("rewritten");
        assert!(defused.contains("<managingEditor>编辑部： editor@example.cn</managingEditor>"));
        assert!(defused.contains("<dc:creator>a@b.example （Ana）</dc:creator>"));
        assert!(defused.contains("<author>Bo — bo@c.example</author>"));
        assert!(
            defused.contains("<author>ok@d.example (Ok)</author>"),
            "untouched"
        );
    }

    #[test]
    fn durations_that_overflow_or_use_other_digits_are_blanked() {
        let text = "<item><itunes:duration>۱:۲۳:۴۵</itunes:duration>\
                    <itunes:duration>99999999999999999999</itunes:duration>\
                    <itunes:duration>1:02:03</itunes:duration>\
                    <media:scene start='&#1777;' end=\"00:01:00\"/></item>";
        let defused = defuse(text).expect("rewritten");
        assert_eq!(
            defused,
            "<item><itunes:duration></itunes:duration><itunes:duration></itunes:duration>\
             <itunes:duration>1:02:03</itunes:duration><media:scene start=\"\" end=\"00:01:00\"/></item>"
        );
    }

    #[test]
    fn feeds_that_made_feed_rs_panic_parse_with_their_authors_and_durations() {
        use chrono::TimeZone;
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
            .single()
            .expect("valid date");
        let url = url::Url::parse("https://feed.example/rss").expect("valid URL");
        let feed = "<rss version=\"2.0\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\">\
                    <channel><title>t</title><managingEditor>编辑部：editor@example.cn</managingEditor>\
                    <itunes:owner><itunes:name>Bo—bo@example.cn</itunes:name><itunes:email>bo@example.cn</itunes:email></itunes:owner>\
                    <item><title>a</title><guid>a</guid><author>Ana·ana@example.cn</author></item>\
                    <item><title>b</title><guid>b</guid><itunes:duration>۱:۲۳:۴۵</itunes:duration>\
                    <enclosure url=\"https://feed.example/b.mp3\" type=\"audio/mpeg\"/></item>\
                    <item><title>c</title><guid>c</guid><itunes:duration>123456789012345678901234</itunes:duration></item>\
                    <item><?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><title>d</title><guid>d</guid></item>\
                    </channel></rss>";
        // The premise: feed-rs 3.0 panics on each of these values as served.
        for value in [
            "<managingEditor>编辑部：editor@example.cn</managingEditor>",
            "<item><author>Ana·ana@example.cn</author></item>",
            "<itunes:owner><itunes:name>Bo—bo@example.cn</itunes:name><itunes:email>bo@example.cn</itunes:email></itunes:owner>",
            "<item><itunes:duration>۱:۲۳:۴۵</itunes:duration></item>",
            "<item><itunes:duration>123456789012345678901234</itunes:duration></item>",
            "<item><?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><title>x</title></item>",
        ] {
            let doc = format!(
                "<rss version=\"2.0\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\"><channel>{value}</channel></rss>"
            );
            assert!(
                matches!(
                    super::super::run_feed_rs(doc.as_bytes(), &url),
                    Err(super::super::Failure::Panic(_))
                ),
                "feed-rs no longer panics on {value}; this workaround may go"
            );
        }
        let parsed = super::super::parse_feed(feed.as_bytes(), &url, "t", now)
            .expect("parses despite feed-rs panicking on the document as served");
        let titles: Vec<&str> = parsed
            .items
            .iter()
            .map(|i| i.fields().title.as_str())
            .collect();
        assert_eq!(titles, ["a", "b", "c", "d"]);
        assert_eq!(parsed.items[0].fields().authors, ["Ana·"]);
    }

    #[test]
    fn late_declarations_go_except_in_cdata() {
        let text = "<?xml version=\"1.0\"?><?xml-stylesheet href=\"s.xsl\"?><feed><entry>\
                    <?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?><title>t</title></entry>\
                    <entry><content><![CDATA[<?xml version=\"1.0\"?> sample]]></content></entry></feed>";
        assert_eq!(
            defuse(text).expect("rewritten"),
            "<?xml version=\"1.0\"?><?xml-stylesheet href=\"s.xsl\"?><feed><entry>\
             <title>t</title></entry>\
             <entry><content><![CDATA[<?xml version=\"1.0\"?> sample]]></content></entry></feed>"
        );
    }

    #[test]
    fn nothing_to_defuse_is_none() {
        assert_eq!(defuse("<rss><author>a@b.example (A)</author></rss>"), None);
        assert_eq!(defuse("<x>"), None);
    }
}
