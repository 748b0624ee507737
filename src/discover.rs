//! Feed autodiscovery: the feeds an HTML page advertises with
//! `<link rel="alternate" type="application/rss+xml|atom+xml|feed+json" href=...>`.
//!
//! People paste a site's address where its feed's belongs; the page usually names the feed.
//! `tributary discover URL` prints those feeds, and a feed URL that turns out to be such a page
//! fails with them named (`NormalizeError::AdvertisesFeeds`).
//!
//! Design decision: the page is read by html5ever's tokenizer (the HTML standard's own
//! tokenizing rules: attribute quoting, character references, comments, and the raw text of
//! `<script>` and `<style>`, where a `<link>` is only text), not by a pattern over the bytes.
//! Without a tree builder, so no DOM is built for pages that may be megabytes of markup: a
//! `<link>` means the same wherever it stands.

use std::cell::RefCell;

use html5ever::TokenizerResult;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use url::Url;

/// The media types of feeds, as the autodiscovery convention names them.
const FEED_TYPES: [&str; 3] = [
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
];

/// One feed a page advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertisedFeed {
    /// Absolute: resolved against the page's `<base href>`, else the page's own URL.
    pub url: Url,
    /// One of [`FEED_TYPES`], lower-case and without parameters.
    pub media_type: String,
    /// The link's `title` attribute, which sites use to tell several feeds apart.
    pub title: Option<String>,
}

/// The feeds `html` advertises, in document order, each URL once. `page` is where the page
/// was fetched from (after redirects), for relative links.
pub fn advertised_feeds(html: &str, page: &Url) -> Vec<AdvertisedFeed> {
    let tokenizer = Tokenizer::new(Links::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    // The sink never asks to pause for a script, so one feed reads everything; the loop only
    // guards against a tokenizer that returns early anyway.
    while !matches!(tokenizer.feed(&input), TokenizerResult::Done) {}
    tokenizer.end();
    let links = tokenizer.sink.found.into_inner();

    // The first `<base href>` is the document's base wherever it stands (HTML standard,
    // "document base URL"), so links before it resolve against it too.
    let base = links
        .base
        .and_then(|href| page.join(href.trim()).ok())
        .unwrap_or_else(|| page.clone());
    let mut feeds: Vec<AdvertisedFeed> = Vec::new();
    for link in links.feeds {
        let Ok(url) = base.join(link.href.trim()) else {
            continue;
        };
        if !matches!(url.scheme(), "http" | "https") || feeds.iter().any(|f| f.url == url) {
            continue;
        }
        feeds.push(AdvertisedFeed {
            url,
            media_type: link.media_type,
            title: link.title,
        });
    }
    feeds
}

/// The feeds in words, for an error message: "the feed URL" or "the feeds URL, URL".
pub fn describe(feeds: &[AdvertisedFeed]) -> String {
    let urls: Vec<&str> = feeds.iter().map(|f| f.url.as_str()).collect();
    match urls.as_slice() {
        [one] => format!("the feed {one}"),
        many => format!("the feeds {}", many.join(", ")),
    }
}

/// A feed link as written, before resolution.
struct RawLink {
    href: String,
    media_type: String,
    title: Option<String>,
}

#[derive(Default)]
struct Found {
    base: Option<String>,
    feeds: Vec<RawLink>,
}

/// Collects `<base>` and feed `<link>` start tags. `TokenSink` takes `&self`, hence the cell.
#[derive(Default)]
struct Links {
    found: RefCell<Found>,
}

impl TokenSink for Links {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let Token::TagToken(tag) = token else {
            return TokenSinkResult::Continue;
        };
        if tag.kind != TagKind::StartTag {
            return TokenSinkResult::Continue;
        }
        match &*tag.name {
            "link" => {
                if let Some(link) = feed_link(&tag) {
                    self.found.borrow_mut().feeds.push(link);
                }
            }
            "base" => {
                let mut found = self.found.borrow_mut();
                if found.base.is_none() {
                    found.base = attribute(&tag, "href").map(str::to_owned);
                }
            }
            // What the tree builder would tell the tokenizer: these elements hold text, not
            // markup, so a `<link>` inside a script's string is not a link.
            "script" => return TokenSinkResult::RawData(RawKind::ScriptData),
            "style" | "xmp" | "iframe" | "noembed" | "noframes" => {
                return TokenSinkResult::RawData(RawKind::Rawtext);
            }
            "title" | "textarea" => return TokenSinkResult::RawData(RawKind::Rcdata),
            "plaintext" => return TokenSinkResult::Plaintext,
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

fn attribute<'t>(tag: &'t Tag, name: &str) -> Option<&'t str> {
    tag.attrs
        .iter()
        .find(|a| &*a.name.local == name)
        .map(|a| &*a.value)
}

/// A `<link>` whose `rel` holds the token `alternate` and whose `type` is a feed's.
fn feed_link(tag: &Tag) -> Option<RawLink> {
    let rel = attribute(tag, "rel")?;
    if !rel
        .split_ascii_whitespace()
        .any(|token| token.eq_ignore_ascii_case("alternate"))
    {
        return None;
    }
    // `application/rss+xml; charset=utf-8` is still RSS.
    let media_type = attribute(tag, "type")?
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !FEED_TYPES.contains(&media_type.as_str()) {
        return None;
    }
    let href = attribute(tag, "href").filter(|href| !href.trim().is_empty())?;
    Some(RawLink {
        href: href.to_owned(),
        media_type,
        title: attribute(tag, "title")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://blog.example/posts/hello").expect("valid test URL")
    }

    fn urls(html: &str) -> Vec<String> {
        advertised_feeds(html, &page())
            .into_iter()
            .map(|f| f.url.to_string())
            .collect()
    }

    #[test]
    fn each_feed_type_is_found_and_resolved_against_the_page() {
        let feeds = advertised_feeds(
            r#"<!DOCTYPE html><html><head>
            <link rel="stylesheet" href="/style.css">
            <link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml">
            <LINK REL="Alternate feed" TYPE="Application/Atom+XML; charset=utf-8" href="atom.xml">
            <link rel=alternate type=application/feed+json href='https://cdn.example/feed.json?a=1&amp;b=2'>
            <link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
            <link rel="alternate" type="application/rss+xml" href="/feed.xml">
            </head><body></body></html>"#,
            &page(),
        );
        assert_eq!(
            feeds,
            [
                AdvertisedFeed {
                    url: Url::parse("https://blog.example/feed.xml").expect("url"),
                    media_type: "application/rss+xml".into(),
                    title: Some("RSS".into()),
                },
                AdvertisedFeed {
                    url: Url::parse("https://blog.example/posts/atom.xml").expect("url"),
                    media_type: "application/atom+xml".into(),
                    title: None,
                },
                AdvertisedFeed {
                    url: Url::parse("https://cdn.example/feed.json?a=1&b=2").expect("url"),
                    media_type: "application/feed+json".into(),
                    title: None,
                },
            ]
        );
    }

    #[test]
    fn base_href_wins_wherever_it_stands() {
        assert_eq!(
            urls(
                r#"<head><link rel="alternate" type="application/rss+xml" href="rss">
                <base href="https://static.example/site/"></head>"#
            ),
            ["https://static.example/site/rss"]
        );
    }

    #[test]
    fn links_in_text_comments_and_scripts_are_not_links() {
        assert_eq!(
            urls(
                r#"<html><head><title><link rel="alternate" type="application/rss+xml" href="/t"></title>
                <script>document.write('<link rel="alternate" type="application/rss+xml" href="/s">')</script>
                <!-- <link rel="alternate" type="application/rss+xml" href="/c"> -->
                <style>/* <link rel="alternate" type="application/rss+xml" href="/y"> */</style>
                </head><body><p>&lt;link rel="alternate" type="application/rss+xml" href="/p"&gt;</p>
                <link rel="alternate" type="application/atom+xml" href="/real">
                </body></html>"#
            ),
            ["https://blog.example/real"]
        );
    }

    #[test]
    fn unusable_links_are_left_out() {
        assert!(
            urls(
                r#"<link rel="alternate" type="application/rss+xml">
                <link rel="alternate" type="application/rss+xml" href="  ">
                <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
                <link rel="alternate" type="application/rss+xml" href="http://[bad">
                <link rel="feed" type="application/rss+xml" href="/not-alternate">
                <link rel="alternate" href="/no-type">"#
            )
            .is_empty()
        );
        assert!(urls("<html><body>no feed here</body></html>").is_empty());
    }
}
