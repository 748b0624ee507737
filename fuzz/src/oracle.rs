//! The fuzz oracle: hostile bytes through the whole pure pipeline, with the invariants that
//! must hold whatever the bytes are.
//!
//! bytes -> `normalize::parse_feed` -> dedupe keys and decisions -> stories -> the merged Atom
//! feed and the JSON Feed -> both re-parsed (quick-xml strictly, feed-rs, tributary itself).
//! A document may be refused (that is a feed's ordinary error); anything else that goes wrong
//! panics, which is what libFuzzer records as a crash:
//!
//! - a panic anywhere, including one `parse_feed` caught (it is contained in the daemon, but it
//!   is still a bug);
//! - Atom output that is not well-formed XML 1.0 (a forbidden character, a bad reference, an
//!   unbalanced or duplicate-attribute tag, more than one root), or that feed-rs or tributary
//!   cannot read back with every entry;
//! - JSON Feed output that is not JSON, or that tributary cannot read back with every item;
//! - sanitised HTML that still carries a script, an event handler, a style, a frame or a link
//!   or image that is not http(s) (or mailto for links), in either output or after re-parsing.
//!
//! [`item_fields_document`] is the `item_fields` target's input format, here so that its
//! crash inputs can be rebuilt into documents by the regression test.
//!
//! This file is also compiled into the integration tests (`tests/it/hostile.rs` includes it by
//! path), so every crash input kept as a regression test is checked by the same oracle in CI.

use chrono::{DateTime, Duration, TimeZone, Utc};
use quick_xml::Reader;
use quick_xml::events::Event;
use tributary::dedupe::{self, Candidate, Probe, Thresholds};
use tributary::emit::{self, FeedMeta};
use tributary::ingest::story_atom_id;
use tributary::model::{Item, MatchReason, Member, MemberRole, Role, StoredItem, Story};
use tributary::normalize::{NormalizeError, ParsedItem, parse_feed};
use url::Url;

/// Items looked at per document: enough for every code path, few enough to stay fast.
const MAX_ITEMS: usize = 32;

/// What one round trip produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundTrip {
    /// Items the document yielded.
    pub items: usize,
    /// Entries written to (and read back from) the merged feed.
    pub entries: usize,
}

/// A fixed "now", so a run is reproducible.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .expect("a valid fixed date")
}

pub fn feed_url() -> Url {
    Url::parse("https://fuzz.example/feed.xml").expect("a valid URL")
}

fn base_url() -> Url {
    Url::parse("https://merged.example/").expect("a valid URL")
}

/// Runs `bytes` through the pipeline and checks every invariant; `Err` when the document is
/// refused, a panic when an invariant breaks.
pub fn round_trip(bytes: &[u8]) -> Result<RoundTrip, NormalizeError> {
    let parsed = match parse_feed(bytes, &feed_url(), "fuzz", now()) {
        Err(NormalizeError::Panic(message)) => panic!("parse_feed caught a panic: {message}"),
        other => other?,
    };
    let sanitized: Vec<Item> = parsed
        .items
        .iter()
        .take(MAX_ITEMS)
        .map(ParsedItem::sanitized)
        .collect();
    let items: Vec<&Item> = sanitized.iter().collect();
    for item in &items {
        check_item(item);
    }
    exercise_dedupe(&items);
    let stories = stories(&items);
    let meta = FeedMeta {
        title: parsed.title.clone().unwrap_or_else(|| "fuzz".into()),
        base_url: base_url(),
        generated_at: now(),
        hub: None,
    };

    let atom = emit::atom(&stories, &meta);
    check_well_formed(&atom);
    let feed = feed_rs::parser::parse(atom.as_slice()).unwrap_or_else(|e| {
        panic!(
            "feed-rs cannot read the merged feed: {e}\n{}",
            String::from_utf8_lossy(&atom)
        )
    });
    assert_eq!(feed.entries.len(), stories.len(), "feed-rs lost entries");
    for entry in &feed.entries {
        let bodies = [
            entry.content.as_ref().and_then(|c| c.body.as_deref()),
            entry.summary.as_ref().map(|s| s.content.as_str()),
        ];
        for html in bodies.into_iter().flatten() {
            assert_safe_html(html, "the merged Atom feed");
        }
    }
    let again = match parse_feed(&atom, &base_url(), "again", now()) {
        Ok(again) => again,
        Err(error) => panic!(
            "tributary cannot read its own merged feed: {error}\n{}",
            String::from_utf8_lossy(&atom)
        ),
    };
    assert_eq!(
        again.items.len(),
        stories.len(),
        "tributary lost entries reading its own merged feed"
    );
    for item in &again.items {
        check_item(&item.sanitized());
    }

    let json = emit::json_feed(&stories, &meta);
    let value: serde_json::Value =
        serde_json::from_slice(&json).unwrap_or_else(|e| panic!("the JSON Feed is not JSON: {e}"));
    for item in value["items"].as_array().into_iter().flatten() {
        if let Some(html) = item["content_html"].as_str() {
            assert_safe_html(html, "the JSON Feed");
        }
    }
    // Read back by tributary, not by feed-rs directly: feed-rs 3.0 panics on some author
    // names (see src/normalize/defuse.rs), which tributary works around when reading.
    match parse_feed(&json, &base_url(), "again-json", now()) {
        Ok(again) => assert_eq!(again.items.len(), stories.len(), "JSON Feed lost items"),
        Err(error) => panic!("tributary cannot read its own JSON Feed: {error}"),
    }

    // The RSS twin: well-formed whatever the input, and read back whole.
    let rss = emit::rss(&stories, &meta, &emit::Channel::defaults(&meta.title));
    check_well_formed(&rss);
    match parse_feed(&rss, &base_url(), "again-rss", now()) {
        Ok(again) => assert_eq!(again.items.len(), stories.len(), "RSS lost items"),
        Err(error) => panic!(
            "tributary cannot read its own RSS: {error}\n{}",
            String::from_utf8_lossy(&rss)
        ),
    }

    Ok(RoundTrip {
        items: parsed.items.len(),
        entries: stories.len(),
    })
}

/// What normalisation promises about every item.
fn check_item(item: &Item) {
    assert!(
        !item.title.chars().any(char::is_control),
        "a title keeps a control character: {:?}",
        item.title
    );
    for html in [item.summary.as_deref(), item.content.as_deref()]
        .into_iter()
        .flatten()
    {
        assert_safe_html(html, "a normalised item");
    }
    let web = |url: &str| url.starts_with("http://") || url.starts_with("https://");
    if let Some(link) = &item.link {
        assert!(web(link), "an item link is not http(s): {link}");
    }
    if let Some(enclosure) = &item.enclosure {
        assert!(
            web(&enclosure.url),
            "an enclosure is not http(s): {}",
            enclosure.url
        );
    }
    if let Some(image) = &item.image {
        assert!(web(image), "an image is not http(s): {image}");
    }
}

/// Dedupe keys for every item, and a decision for each against the ones before it.
fn exercise_dedupe(items: &[&Item]) {
    let thresholds = Thresholds::default();
    let mut candidates: Vec<Candidate> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let published = item.published.unwrap_or_else(now);
        let probe = Probe::new(
            item,
            Role::Origin,
            published,
            &dedupe::Decorations::default(),
            &std::collections::HashSet::new(),
        );
        let decision = dedupe::decide(&probe, &candidates, &thresholds);
        if let dedupe::Decision::Join { score, .. } = decision {
            assert!(
                (0.0..=1.0).contains(&score),
                "a dedupe score out of range: {score}"
            );
        }
        let id = i64::try_from(index).expect("few items");
        // Every other item as if from a mirror feed, so both same-feed and cross-feed
        // decisions, and both roles, are exercised.
        let (source, role) = if index % 2 == 0 {
            (item.source.clone(), Role::Origin)
        } else {
            (format!("{}-mirror", item.source), Role::Mirror)
        };
        candidates.push(Candidate::alone(id, id, item, &source, role, published));
    }
}

/// One story per item (an origin post), and one more folding every item together (the first
/// leads, the rest are mirrors), so single- and multi-member entries are both written.
fn stories(items: &[&Item]) -> Vec<Story> {
    let stored = |index: usize, item: &Item, role: Role| StoredItem {
        id: i64::try_from(index).expect("few items") + 1,
        item: item.clone(),
        role,
        first_seen: now() - Duration::hours(1),
        changed_at: now(),
    };
    let member = |stored: StoredItem, reason: MatchReason| Member {
        member_role: MemberRole::implied(stored.role, stored.item.kind),
        stored,
        reason,
        score: 1.0,
    };
    let mut stories: Vec<Story> = items
        .iter()
        .enumerate()
        .map(|(index, item)| Story {
            id: i64::try_from(index).expect("few items") + 1,
            atom_id: story_atom_id("fuzz", &item.guid),
            members: vec![member(stored(index, item, Role::Origin), MatchReason::New)],
            created_at: now(),
        })
        .collect();
    if items.len() > 1 {
        stories.push(Story {
            id: 0,
            atom_id: story_atom_id("fuzz-merged", &items[0].guid),
            members: items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    let (role, reason) = if index == 0 {
                        (Role::Origin, MatchReason::New)
                    } else {
                        (Role::Mirror, MatchReason::Content)
                    };
                    member(stored(index, item, role), reason)
                })
                .collect(),
            created_at: now(),
        });
    }
    stories
}

/// Whether XML 1.0 allows the character at all.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Panics unless `bytes` is one well-formed XML 1.0 document.
pub fn check_well_formed(bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).expect("the merged feed is UTF-8");
    if let Some(bad) = text.chars().find(|&c| !is_xml_char(c)) {
        panic!(
            "the merged feed carries U+{:04X}, which XML forbids",
            bad as u32
        );
    }
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    let mut depth = 0_usize;
    let mut roots = 0_usize;
    loop {
        let event = reader.read_event().unwrap_or_else(|e| {
            panic!(
                "the merged feed is not well-formed at byte {}: {e}",
                reader.error_position()
            )
        });
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if depth == 0 {
                    roots += 1;
                }
                for attribute in start.attributes() {
                    let attribute = attribute.unwrap_or_else(|e| panic!("bad attribute: {e}"));
                    attribute
                        .unescape_value()
                        .unwrap_or_else(|e| panic!("bad attribute value: {e}"));
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::GeneralRef(reference) => {
                if reference.is_char_ref() {
                    let c = reference
                        .resolve_char_ref()
                        .unwrap_or_else(|e| panic!("bad character reference: {e}"))
                        .unwrap_or_else(|| panic!("bad character reference"));
                    assert!(is_xml_char(c), "a reference to U+{:04X}", c as u32);
                } else {
                    let name = reference.decode().expect("UTF-8");
                    assert!(
                        matches!(name.as_ref(), "lt" | "gt" | "amp" | "quot" | "apos"),
                        "an undeclared entity &{name};"
                    );
                }
            }
            Event::DocType(_) => panic!("the merged feed has a DOCTYPE"),
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "unclosed elements");
    assert_eq!(
        roots, 1,
        "the merged feed must have exactly one root element"
    );
}

/// Panics if sanitised HTML carries something it must not: a dangerous element, an event
/// handler or style attribute, a `srcset`, or a link or image that is not an absolute http(s)
/// (or mailto) URL. Relies on the sanitiser's serialisation: every `<` starts a tag and
/// attributes are `name="value"`.
pub fn assert_safe_html(html: &str, where_: &str) {
    if let Some(what) = unsafe_markup(html) {
        panic!("unsafe markup in {where_}: {what}\n{html}");
    }
}

/// The first unsafe tag in sanitised HTML, if any.
pub fn unsafe_markup(html: &str) -> Option<String> {
    const ELEMENTS: &[&str] = &[
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form",
        "input", "button", "svg", "math", "link", "meta", "base", "body", "html", "source",
    ];
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if ELEMENTS.contains(&name.as_str()) {
            return Some(format!("<{tag}>"));
        }
        let mut rest = tag
            .trim_start_matches('/')
            .get(name.len()..)
            .unwrap_or_default();
        while let Some(eq) = rest.find("=\"") {
            let attribute = rest[..eq].trim().to_ascii_lowercase();
            let after = &rest[eq + 2..];
            let end = after.find('"').unwrap_or(after.len());
            let value = after[..end].trim().to_ascii_lowercase();
            rest = after.get(end + 1..).unwrap_or_default();
            let url_attribute = matches!(
                attribute.as_str(),
                "href" | "src" | "cite" | "action" | "formaction" | "poster" | "background"
            );
            let allowed: &[&str] = if attribute == "href" {
                &["http", "https", "mailto"]
            } else {
                &["http", "https"]
            };
            // The sanitiser makes every URL absolute, so each must name an allowed scheme.
            let scheme = value.split_once(':').map(|(scheme, _)| scheme);
            let bad_url = url_attribute && !scheme.is_some_and(|s| allowed.contains(&s));
            if attribute.starts_with("on")
                || attribute == "style"
                || attribute == "srcset"
                || attribute == "srcdoc"
                || bad_url
            {
                return Some(format!("<{tag}>"));
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The item_fields target

const FIELDS: usize = 9;

/// The `item_fields` target's document: the input split at 0xFF bytes into a format selector
/// and the fields of two items (title, link, description, content, guid, enclosure URL,
/// enclosure type, category, author), written into RSS (fields in CDATA, escaped, or raw),
/// Atom (escaped HTML, or raw XHTML) or JSON Feed. `None` for an empty input.
pub fn item_fields_document(data: &[u8]) -> Option<String> {
    let (&selector, rest) = data.split_first()?;
    let parts: Vec<String> = rest
        .split(|&b| b == 0xFF)
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect();
    let field = |item: usize, index: usize| -> &str {
        parts.get(item * FIELDS + index).map_or("", String::as_str)
    };
    let items: Vec<[&str; FIELDS]> = (0..2)
        .map(|item| std::array::from_fn(|index| field(item, index)))
        .collect();
    Some(match selector % 6 {
        0 => rss(&items, Style::Cdata),
        1 => rss(&items, Style::Escaped),
        2 => rss(&items, Style::Raw),
        3 => atom(&items, false),
        4 => atom(&items, true),
        _ => json(&items),
    })
}

#[derive(Clone, Copy)]
enum Style {
    Cdata,
    Escaped,
    Raw,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

fn markup(text: &str, style: Style) -> String {
    match style {
        Style::Cdata => cdata(text),
        Style::Escaped => escape(text),
        Style::Raw => text.to_owned(),
    }
}

fn rss(items: &[[&str; FIELDS]], style: Style) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>fuzz</title>\
         <link>https://fuzz.example/</link>",
    );
    for [
        title,
        link,
        description,
        content,
        guid,
        url,
        mime,
        category,
        author,
    ] in items
    {
        let text = |t: &str| match style {
            Style::Raw => t.to_owned(),
            _ => escape(t),
        };
        out.push_str(&format!(
            "<item><title>{}</title><link>{}</link><description>{}</description>\
             <content:encoded>{}</content:encoded><guid>{}</guid>\
             <enclosure url=\"{}\" type=\"{}\" length=\"1\"/><category>{}</category>\
             <dc:creator>{}</dc:creator><pubDate>Sun, 01 Mar 2026 10:00:00 GMT</pubDate></item>",
            markup(title, style),
            text(link),
            markup(description, style),
            markup(content, style),
            text(guid),
            escape(url),
            escape(mime),
            markup(category, style),
            markup(author, style),
        ));
    }
    out.push_str("</channel></rss>");
    out
}

fn atom(items: &[[&str; FIELDS]], xhtml: bool) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\
         <title>fuzz</title><id>urn:fuzz</id><updated>2026-03-01T10:00:00Z</updated>",
    );
    for [
        title,
        link,
        description,
        content,
        guid,
        url,
        mime,
        category,
        author,
    ] in items
    {
        let body = if xhtml {
            format!(
                "<content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">{content}</div></content>"
            )
        } else {
            format!("<content type=\"html\">{}</content>", escape(content))
        };
        out.push_str(&format!(
            "<entry><title type=\"html\">{}</title><link rel=\"alternate\" href=\"{}\"/>\
             <link rel=\"enclosure\" href=\"{}\" type=\"{}\" length=\"1\"/><id>{}</id>\
             <updated>2026-03-01T10:00:00Z</updated><summary type=\"html\">{}</summary>{body}\
             <category term=\"{}\"/><author><name>{}</name></author></entry>",
            escape(title),
            escape(link),
            escape(url),
            escape(mime),
            escape(guid),
            escape(description),
            escape(category),
            escape(author),
        ));
    }
    out.push_str("</feed>");
    out
}

fn json(items: &[[&str; FIELDS]]) -> String {
    let items: Vec<serde_json::Value> = items
        .iter()
        .map(
            |[
                title,
                link,
                description,
                content,
                guid,
                url,
                mime,
                category,
                author,
            ]| {
                serde_json::json!({
                    "id": guid,
                    "url": link,
                    "title": title,
                    "summary": description,
                    "content_html": content,
                    "date_published": "2026-03-01T10:00:00Z",
                    "tags": [category],
                    "authors": [{ "name": author }],
                    "attachments": [{ "url": url, "mime_type": mime }],
                })
            },
        )
        .collect();
    serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "fuzz",
        "items": items,
    })
    .to_string()
}
