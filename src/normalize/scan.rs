//! A second, shallow pass over an XML feed that feed-rs has already parsed, for the few facts
//! feed-rs 3.0 drops or misreads:
//!
//! - `itunes:duration`: feed-rs parses it as "normal play time", so `62:03` becomes 62 seconds,
//!   and it discards the whole iTunes media object of an item that has no iTunes title or
//!   summary, so the duration and `itunes:image` vanish;
//! - an item's own `media:title`: feed-rs keeps Media RSS titles only beside a
//!   `media:content`, so an item titled only that way came out untitled;
//! - the `xml:base` in scope where an item's content sits: feed-rs resolves links against it
//!   but exposes only a base written on the content element itself, and relative URLs inside
//!   the HTML need the whole chain;
//! - the Podcasting 2.0 tags of an episode ([`PODCAST_TAGS`]): feed-rs reads no chapters or
//!   soundbites, drops a transcript's language, and refuses the whole feed over a person's role
//!   it does not know, so all of them are read here, as written, for
//!   [`super::podcast`] to make sense of.
//!
//! Items are matched to feed-rs's entries by position; the caller uses the result only when
//! both passes counted the same number of items.

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use url::Url;

pub(crate) const ITUNES_NS: &str = "http://www.itunes.com/dtds/podcast-1.0.dtd";

/// Media RSS, as feed-rs recognises it.
pub(crate) const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

/// The Podcasting 2.0 namespace, and the address it had until December 2020, which the
/// namespace asks readers to treat as the same one.
const PODCAST_NS: &[&str] = &[
    "https://podcastindex.org/namespace/1.0",
    "http://podcastindex.org/namespace/1.0",
    "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
];

/// The item-level podcast tags the scan keeps (local names).
pub(crate) const PODCAST_TAGS: &[&str] = &[
    "transcript",
    "chapters",
    "person",
    "soundbite",
    "season",
    "episode",
];

/// Elements whose parent makes an `item`/`entry` child a feed item (local names).
pub(crate) const ITEM_PARENTS: &[&str] = &["channel", "RDF", "feed"];

/// Elements that hold an item's HTML.
pub(crate) const CONTENT_ELEMENTS: &[&str] = &["content", "summary", "description", "encoded"];

/// What the scan found for one item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ItemFacts {
    /// The raw text of `itunes:duration`.
    pub itunes_duration: Option<String>,
    /// The `href` of the item's `itunes:image`.
    pub itunes_image: Option<String>,
    /// The base URL in scope at the item's content, when an `xml:base` set it.
    pub content_base: Option<Url>,
    /// The text of the item's own (first, non-empty) `media:title`.
    pub media_title: Option<String>,
    /// The item's own podcast-namespace elements among [`PODCAST_TAGS`], in document order.
    pub podcast: Vec<PodcastTag>,
}

/// A podcast-namespace element as written: its local name, attributes (unescaped, trimmed)
/// and text (trimmed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PodcastTag {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
}

impl PodcastTag {
    /// An attribute's value, its name matched without regard to case (`startTime`,
    /// `starttime`): feeds are written by hand.
    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// One entry per feed item, in document order. Stops quietly at the first XML error: the
/// count check upstream then decides whether the partial result is usable.
pub(crate) fn scan_items(text: &str, feed_url: &Url) -> Vec<ItemFacts> {
    let mut reader = NsReader::from_str(text);
    reader.config_mut().trim_text(false);

    let mut items = Vec::new();
    let mut path: Vec<String> = Vec::new();
    // (depth at which it was set, resolved base)
    let mut bases: Vec<(usize, Url)> = Vec::new();
    let mut current: Option<(usize, ItemFacts)> = None;
    // Collecting the text of an itunes:duration at this depth.
    let mut duration_text: Option<(usize, String)> = None;
    // Collecting the text of a media:title at this depth.
    let mut title_text: Option<(usize, String)> = None;
    // Collecting the text of the podcast tag last pushed, at this depth.
    let mut podcast_text: Option<(usize, String)> = None;

    // An error ends the scan: what was collected so far is returned.
    while let Ok((resolved, event)) = reader.read_resolved_event() {
        let is_itunes = in_itunes_namespace(&resolved, &event);
        let is_media =
            matches!(&resolved, ResolveResult::Bound(ns) if ns.as_ref() == MEDIA_NS.as_bytes());
        let is_podcast = in_podcast_namespace(&resolved, &event);
        match event {
            Event::Start(start) => {
                let local = local_name(&start);
                let depth = path.len() + 1;
                if let Some(base) = xml_base(&start) {
                    let parent = bases.last().map_or(feed_url, |(_, url)| url);
                    if let Ok(resolved) = parent.join(&base) {
                        bases.push((depth, resolved));
                    }
                }
                if current.is_none() && is_item(&local, &path) {
                    current = Some((depth, ItemFacts::default()));
                } else if let Some((item_depth, facts)) = current.as_mut()
                    && depth == *item_depth + 1
                {
                    if is_itunes && local == "duration" {
                        duration_text = Some((depth, String::new()));
                    } else if is_media && local == "title" && facts.media_title.is_none() {
                        title_text = Some((depth, String::new()));
                    } else if is_itunes && local == "image" {
                        note_image(&start, facts);
                    } else if is_podcast && PODCAST_TAGS.contains(&local.as_str()) {
                        facts.podcast.push(podcast_tag(&start));
                        podcast_text = Some((depth, String::new()));
                    } else if CONTENT_ELEMENTS.contains(&local.as_str())
                        && facts.content_base.is_none()
                        && let Some((_, base)) = bases.last()
                    {
                        facts.content_base = Some(base.clone());
                    }
                }
                path.push(local);
            }
            Event::Empty(start) => {
                let local = local_name(&start);
                let depth = path.len() + 1;
                if current.is_none() && is_item(&local, &path) {
                    items.push(ItemFacts::default());
                } else if let Some((item_depth, facts)) = current.as_mut()
                    && depth == *item_depth + 1
                {
                    if is_itunes && local == "image" {
                        note_image(&start, facts);
                    } else if is_podcast && PODCAST_TAGS.contains(&local.as_str()) {
                        facts.podcast.push(podcast_tag(&start));
                    }
                }
            }
            Event::End(_) => {
                let depth = path.len();
                if let Some((_, text)) = duration_text.take_if(|(at, _)| *at == depth)
                    && let Some((_, facts)) = current.as_mut()
                {
                    let text = text.trim();
                    if !text.is_empty() {
                        facts.itunes_duration = Some(text.to_string());
                    }
                }
                if let Some((_, text)) = title_text.take_if(|(at, _)| *at == depth)
                    && let Some((_, facts)) = current.as_mut()
                {
                    note_media_title(&text, facts);
                }
                if let Some((_, text)) = podcast_text.take_if(|(at, _)| *at == depth)
                    && let Some((_, facts)) = current.as_mut()
                {
                    note_podcast_text(&text, facts);
                }
                if current.as_ref().is_some_and(|(at, _)| *at == depth)
                    && let Some((_, facts)) = current.take()
                {
                    items.push(facts);
                }
                while bases.last().is_some_and(|(at, _)| *at >= depth) {
                    bases.pop();
                }
                path.pop();
            }
            Event::Text(content) => append(
                [&mut duration_text, &mut title_text, &mut podcast_text],
                content.as_ref(),
            ),
            Event::CData(content) => append(
                [&mut duration_text, &mut title_text, &mut podcast_text],
                content.as_ref(),
            ),
            // A title's or a person's `&amp;` is part of it (a duration has none worth keeping).
            Event::GeneralRef(reference) => {
                if let Some((_, text)) = title_text.as_mut().or(podcast_text.as_mut()) {
                    match reference.resolve_char_ref() {
                        Ok(Some(ch)) => text.push(ch),
                        _ => {
                            let name = String::from_utf8_lossy(reference.as_ref());
                            if let Some(resolved) =
                                quick_xml::escape::resolve_predefined_entity(&name)
                            {
                                text.push_str(resolved);
                            }
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    items
}

fn in_itunes_namespace(resolved: &ResolveResult<'_>, event: &Event<'_>) -> bool {
    match resolved {
        ResolveResult::Bound(ns) => std::str::from_utf8(ns.as_ref())
            .is_ok_and(|uri| uri.trim().eq_ignore_ascii_case(ITUNES_NS)),
        ResolveResult::Unknown(prefix) => prefix == b"itunes",
        ResolveResult::Unbound => match event {
            Event::Start(start) | Event::Empty(start) => start
                .name()
                .prefix()
                .is_some_and(|p| p.as_ref() == b"itunes"),
            _ => false,
        },
    }
}

fn in_podcast_namespace(resolved: &ResolveResult<'_>, event: &Event<'_>) -> bool {
    match resolved {
        ResolveResult::Bound(ns) => is_podcast_uri(ns.as_ref()),
        ResolveResult::Unknown(prefix) => prefix == b"podcast",
        ResolveResult::Unbound => match event {
            Event::Start(start) | Event::Empty(start) => start
                .name()
                .prefix()
                .is_some_and(|p| p.as_ref() == b"podcast"),
            _ => false,
        },
    }
}

/// Whether a namespace URI is the podcast namespace's, forgiving case, spaces and a trailing
/// slash, as the scan forgives the iTunes one.
pub(crate) fn is_podcast_uri(uri: &[u8]) -> bool {
    std::str::from_utf8(uri).is_ok_and(|uri| {
        let uri = uri.trim().trim_end_matches('/');
        PODCAST_NS.iter().any(|ns| ns.eq_ignore_ascii_case(uri))
    })
}

/// A podcast tag's name and attributes (its text comes with its end).
pub(crate) fn podcast_tag(start: &BytesStart<'_>) -> PodcastTag {
    let attributes = start
        .attributes()
        .flatten()
        .filter_map(|attribute| {
            let key = std::str::from_utf8(attribute.key.local_name().as_ref())
                .ok()?
                .to_string();
            let value = attribute.unescape_value().ok()?.trim().to_string();
            Some((key, value))
        })
        .collect();
    PodcastTag {
        name: local_name(start),
        attributes,
        text: String::new(),
    }
}

/// Gives the podcast tag last pushed its text.
pub(crate) fn note_podcast_text(text: &str, facts: &mut ItemFacts) {
    if let Some(tag) = facts.podcast.last_mut() {
        tag.text = text.trim().to_string();
    }
}

fn local_name(start: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(start.local_name().as_ref()).into_owned()
}

/// An `item` or `entry` directly under a feed container, or an Atom entry document's root.
fn is_item(local: &str, path: &[String]) -> bool {
    match path.last() {
        Some(parent) => {
            (local == "item" || local == "entry") && ITEM_PARENTS.contains(&parent.as_str())
        }
        None => local == "entry",
    }
}

fn xml_base(start: &BytesStart<'_>) -> Option<String> {
    attribute(start, "xml:base")
}

/// An attribute's value, unescaped and trimmed, as the scan reads it.
pub(crate) fn attribute(start: &BytesStart<'_>, name: &str) -> Option<String> {
    start
        .attributes()
        .flatten()
        .find(|attribute| attribute.key.as_ref() == name.as_bytes())
        .and_then(|attribute| {
            attribute
                .unescape_value()
                .ok()
                .map(|v| v.trim().to_string())
        })
}

/// Keeps a `media:title`'s text as the item's, unless it is blank.
pub(crate) fn note_media_title(text: &str, facts: &mut ItemFacts) {
    let text = text.trim();
    if facts.media_title.is_none() && !text.is_empty() {
        facts.media_title = Some(text.to_string());
    }
}

pub(crate) fn note_image(start: &BytesStart<'_>, facts: &mut ItemFacts) {
    if facts.itunes_image.is_none() {
        facts.itunes_image = attribute(start, "href").filter(|href| !href.is_empty());
    }
}

/// Adds an element's text to every value being collected.
fn append(collecting: [&mut Option<(usize, String)>; 3], content: &[u8]) {
    let content = String::from_utf8_lossy(content);
    for (_, text) in collecting.into_iter().flatten() {
        text.push_str(&content);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("valid test URL")
    }

    #[test]
    fn finds_itunes_facts_per_item() {
        let xml = r#"<rss xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>
            <itunes:image href="http://x/channel.jpg"/>
            <item><itunes:duration> 62:03 </itunes:duration><itunes:image href="http://x/1.jpg"/></item>
            <item><title>no itunes</title></item>
            <item/>
        </channel></rss>"#;
        let items = scan_items(xml, &url("http://x/feed"));
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].itunes_duration.as_deref(), Some("62:03"));
        assert_eq!(items[0].itunes_image.as_deref(), Some("http://x/1.jpg"));
        assert_eq!(items[1], ItemFacts::default());
    }

    #[test]
    fn finds_an_items_own_media_title() {
        let xml = r#"<rss xmlns:media="http://search.yahoo.com/mrss/"><channel>
            <item><media:title type="plain"> Fish &amp; chips&#33; </media:title><media:title>second</media:title></item>
            <item><media:group><media:title>grouped</media:title></media:group></item>
            <item><title xmlns="http://search.yahoo.com/mrss/"/><media:title><![CDATA[after <b>]]></media:title></item>
        </channel></rss>"#;
        let items = scan_items(xml, &url("http://x/feed"));
        assert_eq!(items[0].media_title.as_deref(), Some("Fish & chips!"));
        assert_eq!(items[1].media_title, None);
        assert_eq!(items[2].media_title.as_deref(), Some("after <b>"));
    }

    #[test]
    fn resolves_xml_base_chain_at_content() {
        let xml = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://example.org/blog/">
            <entry xml:base="2024/"><content type="html">x</content></entry>
            <entry><summary>y</summary></entry>
        </feed>"#;
        let items = scan_items(xml, &url("http://feeds.example.com/atom"));
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0].content_base.as_ref().map(Url::as_str),
            Some("http://example.org/blog/2024/")
        );
        assert_eq!(
            items[1].content_base.as_ref().map(Url::as_str),
            Some("http://example.org/blog/")
        );
    }

    /// Under the namespace's address, its former one, or an undeclared `podcast:` prefix; in
    /// another namespace, or nested deeper, a `transcript` is not the episode's.
    #[test]
    fn finds_an_items_podcast_tags() {
        let xml = r#"<rss xmlns:p="https://podcastindex.org/namespace/1.0/"
                xmlns:old="https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md"
                xmlns:x="https://other.example/"><channel>
            <item>
                <p:transcript url="t.vtt" type="text/vtt" language="es"/>
                <old:person role="host">Ana &amp; <![CDATA[Bo]]></old:person>
                <x:transcript url="no.txt" type="text/plain"/>
                <p:alternateEnclosure><p:transcript url="deeper.txt" type="text/plain"/></p:alternateEnclosure>
            </item>
            <item><podcast:season name="One"> 1 </podcast:season></item>
        </channel></rss>"#;
        let items = scan_items(xml, &url("http://x/feed"));
        assert_eq!(
            items[0].podcast,
            [
                PodcastTag {
                    name: "transcript".into(),
                    attributes: vec![
                        ("url".into(), "t.vtt".into()),
                        ("type".into(), "text/vtt".into()),
                        ("language".into(), "es".into()),
                    ],
                    text: String::new(),
                },
                PodcastTag {
                    name: "person".into(),
                    attributes: vec![("role".into(), "host".into())],
                    text: "Ana & Bo".into(),
                },
            ]
        );
        assert_eq!(items[1].podcast[0].text, "1");
        assert_eq!(items[1].podcast[0].attribute("NAME"), Some("One"));
    }

    #[test]
    fn no_base_without_xml_base() {
        let xml = "<rss><channel><item><description>x</description></item></channel></rss>";
        let items = scan_items(xml, &url("http://x/feed"));
        assert_eq!(items, vec![ItemFacts::default()]);
    }
}
