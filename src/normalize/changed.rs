//! Which items of a feed changed since the last poll, by their bytes.
//!
//! A feed that changed usually changed in one item: a new post on top, nineteen old ones below,
//! byte for byte as before. One shallow quick-xml pass finds each item element's span, hashes
//! it, and cuts the spans whose hash the last poll already saw out of the document, so the
//! parser, the sanitiser and the store only ever see new and edited items. Everything outside
//! the cut spans (the channel's title, ttl, namespaces) is left as it was.
//!
//! Any doubt keeps the whole document: an XML error, a DOCTYPE (entities could make the same
//! bytes mean something else), or no items found. The hash covers the feed's URL too, since
//! relative links in an item resolve against it.

use quick_xml::Reader;
use quick_xml::events::Event;
use url::Url;
use xxhash_rust::xxh3::Xxh3;

use super::scan::ITEM_PARENTS;

/// What the pass found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reduced {
    /// The document without the items seen before; `None` when nothing was cut.
    pub text: Option<String>,
    /// Every item's hash, in document order: what the next poll compares against.
    pub digests: Vec<u64>,
    /// Items cut because they were seen before.
    pub unchanged: usize,
}

/// Cuts from `text` the items whose hash is in `seen`; `None` when the document should be
/// parsed whole (see the module comment).
pub(crate) fn cut_seen_items(text: &str, feed_url: &Url, seen: &[u64]) -> Option<Reduced> {
    let spans = item_spans(text)?;
    if spans.is_empty() {
        return None;
    }
    let mut digests = Vec::with_capacity(spans.len());
    let mut cut = Vec::new();
    for span in spans {
        let digest = item_digest(feed_url, &text[span.clone()]);
        if seen.contains(&digest) {
            cut.push(span);
        }
        digests.push(digest);
    }
    let unchanged = cut.len();
    let text = (!cut.is_empty()).then(|| {
        let mut kept = String::with_capacity(text.len());
        let mut at = 0;
        for span in cut {
            kept.push_str(&text[at..span.start]);
            at = span.end;
        }
        kept.push_str(&text[at..]);
        kept
    });
    Some(Reduced {
        text,
        digests,
        unchanged,
    })
}

/// What the reader takes from an item's bytes, by version: raise it whenever a new release
/// reads more from the same bytes (it last did for the Podcasting 2.0 tags), so that items
/// seen by an older release are read once more and not skipped as "seen before".
const READER_VERSION: u8 = 2;

/// XXH3, not SHA-256: every byte of every fetched feed goes through this, and SHA-256 cost a
/// fifth of the whole parse. A collision (odds about 2^-64 for a pair) would only make an
/// edited item look unchanged.
fn item_digest(feed_url: &Url, item: &str) -> u64 {
    let mut hasher = Xxh3::new();
    hasher.update(&[READER_VERSION]);
    hasher.update(feed_url.as_str().as_bytes());
    hasher.update(&[0]);
    hasher.update(item.as_bytes());
    hasher.digest()
}

/// Byte ranges of the feed's item elements; `None` on any XML error or a DOCTYPE.
fn item_spans(text: &str) -> Option<Vec<std::ops::Range<usize>>> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut spans = Vec::new();
    // Local names of the open elements, borrowed from the text.
    let mut path: Vec<&[u8]> = Vec::new();
    // Where the open item starts and how deep it is.
    let mut open_item: Option<(usize, usize)> = None;
    loop {
        let before = usize::try_from(reader.buffer_position()).ok()?;
        let event = reader.read_event().ok()?;
        let after = usize::try_from(reader.buffer_position()).ok()?;
        match event {
            Event::Start(start) => {
                let name = local(&text.as_bytes()[before..after], start.name().as_ref().len())?;
                if open_item.is_none() && is_item(name, &path) {
                    open_item = Some((before, path.len() + 1));
                }
                path.push(name);
            }
            Event::Empty(start) => {
                let name = local(&text.as_bytes()[before..after], start.name().as_ref().len())?;
                if open_item.is_none() && is_item(name, &path) {
                    spans.push(before..after);
                }
            }
            Event::End(_) => {
                if let Some((start, depth)) = open_item
                    && depth == path.len()
                {
                    spans.push(start..after);
                    open_item = None;
                }
                path.pop();
            }
            Event::DocType(_) => return None,
            Event::Eof => break,
            _ => {}
        }
    }
    open_item.is_none().then_some(spans)
}

/// The local name of the element whose tag is `tag` (`<` then a name of `name_len` bytes),
/// borrowed from the document.
fn local(tag: &[u8], name_len: usize) -> Option<&[u8]> {
    let name = tag.get(1..1 + name_len)?;
    Some(match name.iter().rposition(|&b| b == b':') {
        Some(colon) => &name[colon + 1..],
        None => name,
    })
}

fn is_item(name: &[u8], path: &[&[u8]]) -> bool {
    (name == b"item" || name == b"entry")
        && path
            .last()
            .is_some_and(|parent| ITEM_PARENTS.iter().any(|p| p.as_bytes() == *parent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://example.com/feed").expect("valid test URL")
    }

    const FEED: &str = "<?xml version=\"1.0\"?>\n<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel><title>T</title>\
        <item><title>One</title><content:encoded><![CDATA[<p>a</item>]]></content:encoded></item>\n\
        <item><title>Two</title></item>\n<ttl>60</ttl>\n\
        <item/></channel></rss>";

    #[test]
    fn spans_cover_whole_items_and_nothing_else() {
        let spans = item_spans(FEED).expect("well-formed");
        let items: Vec<&str> = spans.iter().map(|s| &FEED[s.clone()]).collect();
        assert_eq!(items.len(), 3);
        assert!(items[0].starts_with("<item><title>One"));
        assert!(items[0].ends_with("]]></content:encoded></item>"));
        assert_eq!(items[1], "<item><title>Two</title></item>");
        assert_eq!(items[2], "<item/>");
    }

    #[test]
    fn seen_items_are_cut_and_the_rest_kept() {
        let first = cut_seen_items(FEED, &url(), &[]).expect("items");
        assert_eq!((first.text, first.unchanged), (None, 0));
        assert_eq!(first.digests.len(), 3);

        let changed = FEED.replace("<title>Two</title>", "<title>Two, edited</title>");
        let second = cut_seen_items(&changed, &url(), &first.digests).expect("items");
        assert_eq!(second.unchanged, 2);
        let kept = second.text.expect("something cut");
        assert!(!kept.contains("One") && kept.contains("Two, edited"));
        assert!(kept.contains("<title>T</title>") && kept.contains("<ttl>60</ttl>"));
        assert!(kept.ends_with("</channel></rss>"));
    }

    #[test]
    fn the_same_item_under_another_feed_url_is_not_the_same() {
        let here = cut_seen_items(FEED, &url(), &[]).expect("items");
        let elsewhere = Url::parse("https://example.org/feed").expect("valid test URL");
        let there = cut_seen_items(FEED, &elsewhere, &here.digests).expect("items");
        assert_eq!((there.text, there.unchanged), (None, 0));
    }

    #[test]
    fn items_seen_by_an_older_reader_are_read_again() {
        // What the release before the reader version was part of the hash stored.
        let older = |item: &str| {
            let mut hasher = Xxh3::new();
            hasher.update(url().as_str().as_bytes());
            hasher.update(&[0]);
            hasher.update(item.as_bytes());
            hasher.digest()
        };
        let seen: Vec<u64> = item_spans(FEED)
            .expect("well-formed")
            .into_iter()
            .map(|span| older(&FEED[span]))
            .collect();
        let now = cut_seen_items(FEED, &url(), &seen).expect("items");
        assert_eq!((now.text, now.unchanged), (None, 0));
    }

    #[test]
    fn doubtful_documents_are_parsed_whole() {
        let seen = cut_seen_items(FEED, &url(), &[]).expect("items").digests;
        let cut = |text: &str| cut_seen_items(text, &url(), &seen);
        assert_eq!(cut("<rss><channel><item>unclosed</channel></rss>"), None);
        assert_eq!(
            cut(&format!("<!DOCTYPE rss [<!ENTITY a \"b\">]>{FEED}")),
            None
        );
        assert_eq!(
            cut("<rss><channel><title>none</title></channel></rss>"),
            None
        );
        // An item inside an item's HTML is not an item of the feed.
        let atom = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><content type=\"xhtml\"><div><item>x</item></div></content></entry></feed>";
        assert_eq!(item_spans(atom).expect("well-formed").len(), 1);
    }
}
