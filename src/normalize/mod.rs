//! Normalise: a fetched body -> [`ParsedFeed`], the [`Item`]s of one source in tributary's one
//! schema. This stage owns everything between the raw bytes and the model: gzip and charsets,
//! recovery from broken XML, the format parser (feed-rs: RSS 0.9x/1.0/2.0, Atom, JSON Feed),
//! and the normalisation that makes items comparable and safe (plain-text titles, HTML with
//! absolute URLs, sanitised when the item is stored ([`ParsedItem`]), post vs episode,
//! durations, deterministic ids, sane dates).
//!
//! The design decision: **feed-rs parses first, and only a document it refuses (or finds no
//! items in) is repaired and parsed again.** A well-formed feed therefore reaches the parser
//! exactly as served (apart from being transcoded to UTF-8), while a broken one still yields
//! what a forgiving reader would show. The repair ([`repair`]) is a rewrite to well-formed
//! XML, not a second parser, so there is one interpretation of every format; formats feed-rs
//! does not read (Atom 0.3, RSS 0.90, CDF, RSS 1.0 items without a link) are likewise rewritten
//! into ones it does ([`translate`]) after the repair.
//!
//! Everything here is pure: bytes, the feed URL and `now` in, values out. No I/O, no clock, and
//! no panic escapes: a parser panic, a compression bomb or a pathologically nested document is
//! that feed's [`NormalizeError`].

mod changed;
mod convert;
mod decode;
mod defuse;
mod entities;
mod html;
mod json;
mod media;
mod parsed;
mod podcast;
mod repair;
mod scan;
mod translate;

use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, Utc};
use feed_rs::model::Feed;
use feed_rs::parser::{ParseErrorKind, ParseFeedError};
use thiserror::Error;
use url::Url;

pub use decode::MAX_INFLATED_BYTES;
pub use html::plain_text;
pub use media::type_by_extension;
pub use parsed::ParsedItem;
pub use repair::MAX_DEPTH;

/// One feed document, normalised.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedFeed {
    /// The feed's title, as plain text.
    pub title: Option<String>,
    /// The site the feed belongs to (absolute, http or https).
    pub link: Option<String>,
    /// How long the feed says it may be cached (RSS `ttl`).
    pub ttl: Option<std::time::Duration>,
    /// In document order; without the items [`parse_feed_since`] left out.
    pub items: Vec<ParsedItem>,
    /// Items left out because the last poll saw them byte for byte.
    pub unchanged_items: usize,
    /// A hash of each item's bytes, in document order, for the next [`parse_feed_since`];
    /// empty when the document was not one whose items can be told apart that way.
    pub item_digests: Vec<u64>,
}

/// Why a document yielded no feed. Each names the problem in words a feed's owner can act on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NormalizeError {
    #[error("empty document")]
    Empty,
    #[error("not a feed: looks like an HTML page")]
    HtmlPage,
    /// An HTML page that names its feeds: the error points at them, so the fix is one paste.
    #[error(
        "not a feed: looks like an HTML page; it advertises {}",
        crate::discover::describe(.0)
    )]
    AdvertisesFeeds(Vec<crate::discover::AdvertisedFeed>),
    #[error("not a feed: {0}")]
    NotAFeed(String),
    /// The first error a strict XML reader finds; `position` is a byte offset in the document
    /// after transcoding to UTF-8.
    #[error("XML error at byte {position}: {message}")]
    Xml { position: u64, message: String },
    #[error("JSON error: {0}")]
    Json(String),
    /// A failure feed-rs reported that has no more specific variant.
    #[error("feed parser error: {0}")]
    Parser(String),
    #[error("gzip body cannot be inflated: {0}")]
    Gzip(String),
    #[error("gzip body inflates to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("document nests elements more than {limit} deep")]
    TooDeep { limit: usize },
    #[error("parser panicked: {0}")]
    Panic(String),
}

/// Parses one fetched document into normalised items.
///
/// `bytes` is the body exactly as received (after HTTP content decoding, never after a
/// charset decode: the document's own declaration is what tells its charset). `feed_url`
/// resolves relative links; `source` is copied into every item; `now` bounds dates.
pub fn parse_feed(
    bytes: &[u8],
    feed_url: &Url,
    source: &str,
    now: DateTime<Utc>,
) -> Result<ParsedFeed, NormalizeError> {
    parse_feed_since(bytes, feed_url, source, now, &[])
}

/// [`parse_feed`], leaving out the items whose bytes the last poll saw: `seen` is that poll's
/// [`ParsedFeed::item_digests`].
pub fn parse_feed_since(
    bytes: &[u8],
    feed_url: &Url,
    source: &str,
    now: DateTime<Utc>,
    seen: &[u64],
) -> Result<ParsedFeed, NormalizeError> {
    no_panic(|| parse(bytes, feed_url, source, now, seen))
}

/// No panic escapes a parse: it becomes that feed's [`NormalizeError::Panic`].
fn no_panic(
    parse: impl FnOnce() -> Result<ParsedFeed, NormalizeError>,
) -> Result<ParsedFeed, NormalizeError> {
    catch_unwind(AssertUnwindSafe(parse))
        .unwrap_or_else(|payload| Err(NormalizeError::Panic(panic_message(payload.as_ref()))))
}

fn parse(
    bytes: &[u8],
    feed_url: &Url,
    source: &str,
    now: DateTime<Utc>,
    seen: &[u64],
) -> Result<ParsedFeed, NormalizeError> {
    let inflated = decode::inflate_if_gzip(bytes)?;
    let decoded = decode::decode(&inflated);
    let text = decoded.text;
    if text.trim().is_empty() {
        return Err(NormalizeError::Empty);
    }
    let ctx = convert::Context {
        feed_url,
        source,
        now,
    };
    if text.starts_with(['{', '[']) {
        return parse_json(&text, &ctx);
    }
    let text = if repair::looks_like_html(&text) {
        // A page that wraps a feed in its template still carries the feed.
        match repair::embedded_feed_start(&text) {
            Some(start) => text[start..].to_string(),
            None => {
                let feeds = crate::discover::advertised_feeds(&text, feed_url);
                return Err(if feeds.is_empty() {
                    NormalizeError::HtmlPage
                } else {
                    NormalizeError::AdvertisesFeeds(feeds)
                });
            }
        }
    } else {
        text
    };
    let Some(reduced) = changed::cut_seen_items(&text, feed_url, seen) else {
        return parse_xml(&text, &ctx, decoded.charset);
    };
    let cut = match &reduced.text {
        // A cut document the parser refuses (it never should) is parsed whole instead.
        Some(cut) => parse_xml(cut, &ctx, decoded.charset).ok(),
        None => None,
    };
    let mut parsed = match cut {
        Some(parsed) => ParsedFeed {
            unchanged_items: reduced.unchanged,
            ..parsed
        },
        None => parse_xml(&text, &ctx, decoded.charset)?,
    };
    parsed.item_digests = reduced.digests;
    Ok(parsed)
}

/// Parses an XML document (as UTF-8 text).
fn parse_xml(
    text: &str,
    ctx: &convert::Context<'_>,
    charset: decode::Charset,
) -> Result<ParsedFeed, NormalizeError> {
    let (source, feed_url) = (ctx.source, ctx.feed_url);
    // feed-rs recurses on some nested elements and a stack overflow cannot be caught: a
    // document nested too deep goes straight to the repair, whose output is bounded (unclosed
    // HTML inside a description nests deep without being deep).
    let first = if repair::max_depth(text, MAX_DEPTH) > MAX_DEPTH {
        Err(Failure::TooDeep)
    } else {
        run_feed_rs_xml(text, feed_url)
    };
    if let Ok(feed) = &first
        && !feed.entries.is_empty()
    {
        let facts = scan::scan_items(text, feed_url);
        // feed-rs leaves out RSS 1.0 items without a `<link>`; the translation keeps them.
        if facts.len() <= feed.entries.len() {
            return Ok(convert::convert_feed(feed, &facts, &[], ctx));
        }
    }

    // Refused, no items, or fewer than the document has: try the repaired document, in a
    // format feed-rs reads.
    let mut repaired = repair::repair(text)
        .map_err(|repair::TooDeep| NormalizeError::TooDeep { limit: MAX_DEPTH })?;
    if let Some(translated) = translate::translate(&repaired.text) {
        repaired.text = translated;
    }
    let second = if repaired.text == text {
        None
    } else {
        Some(run_feed_rs_xml(&repaired.text, feed_url))
    };
    match (first, second) {
        (Ok(original), Some(Ok(fixed))) if fixed.entries.len() > original.entries.len() => {
            note_recovery(source, charset, &repaired);
            Ok(convert_xml(&fixed, &repaired.text, ctx))
        }
        (Ok(original), _) => Ok(convert_xml(&original, text, ctx)),
        (Err(_), Some(Ok(fixed))) => {
            note_recovery(source, charset, &repaired);
            Ok(convert_xml(&fixed, &repaired.text, ctx))
        }
        // The document as served only failed to announce a format feed-rs reads (an `<rss>`
        // without a version): what stopped the repaired one is the real problem.
        (
            Err(Failure::Parse(ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot))),
            Some(Err(error)),
        ) if !matches!(
            &error,
            Failure::Parse(ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot))
        ) =>
        {
            Err(classify(error, &repaired.text))
        }
        (Err(error), _) => Err(classify(error, text)),
    }
}

fn note_recovery(source: &str, charset: decode::Charset, repaired: &repair::Repaired) {
    tracing::debug!(
        source,
        charset = charset.name(),
        stopped_at = ?repaired.stopped_at,
        "feed was not well-formed; parsed the repaired document"
    );
}

fn parse_json(text: &str, ctx: &convert::Context<'_>) -> Result<ParsedFeed, NormalizeError> {
    let prepared = json::prepare(text)?;
    let feed = run_feed_rs(&prepared.bytes, ctx.feed_url).map_err(|error| classify(error, ""))?;
    Ok(convert::convert_feed(
        &feed,
        &[],
        &prepared.item_images,
        ctx,
    ))
}

fn convert_xml(feed: &Feed, text: &str, ctx: &convert::Context<'_>) -> ParsedFeed {
    let facts = scan::scan_items(text, ctx.feed_url);
    convert::convert_feed(feed, &facts, &[], ctx)
}

/// How a feed-rs run failed (or why it was not attempted).
enum Failure {
    Parse(ParseFeedError),
    Panic(String),
    TooDeep,
}

/// One feed-rs parse, with ids left empty where the feed has none (feed-rs would invent a
/// random UUID; [`convert`] derives a stable one instead) and any panic caught.
fn run_feed_rs(input: &[u8], feed_url: &Url) -> Result<Feed, Failure> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(feed_url.as_str()))
        .id_generator(|_links, _title, _uri| String::new())
        .sanitize_content(false)
        .build();
    match catch_unwind(AssertUnwindSafe(|| parser.parse(input))) {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(error)) => Err(Failure::Parse(error)),
        Err(payload) => Err(Failure::Panic(panic_message(payload.as_ref()))),
    }
}

/// One feed-rs parse of an XML document. A parse that panics is retried once with the values
/// feed-rs is known to panic on rewritten ([`defuse`]), so one odd author or duration does not
/// cost the whole feed; if that does not help, the panic is the result.
fn run_feed_rs_xml(text: &str, feed_url: &Url) -> Result<Feed, Failure> {
    match run_feed_rs(text.as_bytes(), feed_url) {
        Err(Failure::Panic(message)) => {
            match defuse::defuse(text).map(|defused| run_feed_rs(defused.as_bytes(), feed_url)) {
                Some(Ok(feed)) => {
                    tracing::debug!(panic = %message, "feed-rs panicked; parsed the defused document");
                    Ok(feed)
                }
                // With the panic out of the way, the document's own problem shows: report that.
                Some(Err(Failure::Parse(error))) => Err(Failure::Parse(error)),
                _ => Err(Failure::Panic(message)),
            }
        }
        other => other,
    }
}

/// Turns feed-rs's failure on the document as served into the error a person can act on.
fn classify(failure: Failure, text: &str) -> NormalizeError {
    let error = match failure {
        Failure::Panic(message) => return NormalizeError::Panic(message),
        Failure::TooDeep => return NormalizeError::TooDeep { limit: MAX_DEPTH },
        Failure::Parse(error) => error,
    };
    match error {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => {
            if let Some((position, message)) = repair::first_xml_error(text) {
                return NormalizeError::Xml { position, message };
            }
            NormalizeError::NotAFeed(match repair::root_element_name(text) {
                Some(root) if root.eq_ignore_ascii_case("rss") => {
                    "an <rss> document without a <channel>".into()
                }
                Some(root) => format!("root element <{root}> is not RSS, Atom or RDF"),
                None => "no XML element or JSON object found".into(),
            })
        }
        ParseFeedError::XmlReader(error) => match repair::first_xml_error(text) {
            Some((position, message)) => NormalizeError::Xml { position, message },
            None => NormalizeError::Parser(error.to_string()),
        },
        ParseFeedError::JsonSerde(error) => NormalizeError::Json(error.to_string()),
        ParseFeedError::JsonUnsupportedVersion(version) => {
            NormalizeError::Json(format!("unsupported JSON Feed version {version}"))
        }
        other => NormalizeError::Parser(other.to_string()),
    }
}

/// What a panic said, for the error that takes its place.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 10, 12, 0, 0)
            .single()
            .expect("valid test date")
    }

    fn url() -> Url {
        Url::parse("https://example.com/feed").expect("valid test URL")
    }

    #[test]
    fn errors_name_the_problem() {
        let parse = |text: &str| parse_feed(text.as_bytes(), &url(), "t", now());
        assert_eq!(parse("   "), Err(NormalizeError::Empty));
        assert_eq!(
            parse("<!DOCTYPE html><html><body>hi</body></html>"),
            Err(NormalizeError::HtmlPage)
        );
        assert_eq!(
            parse("<!DOCTYPE html><html><body>hi</body></html>")
                .map(|_| ())
                .expect_err("an HTML page")
                .to_string(),
            "not a feed: looks like an HTML page"
        );
        assert!(matches!(parse("<opml/>"), Err(NormalizeError::NotAFeed(_))));
        assert!(matches!(
            parse("<rss version=\"2.0\"><channel><title>x</title></rss"),
            Err(NormalizeError::Xml { .. }) | Ok(_)
        ));
        assert!(matches!(
            parse("{\"a\": 1}"),
            Err(NormalizeError::NotAFeed(_))
        ));
    }

    #[test]
    fn panics_become_errors() {
        let payload: Box<dyn std::any::Any + Send> = Box::new("boom");
        assert_eq!(panic_message(payload.as_ref()), "boom");
    }
}
