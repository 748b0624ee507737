//! Emit: renders stories into the documents tributary publishes (the merged Atom feed, its JSON
//! Feed and RSS twins, an OPML list of the sources) and rewrites the merged feed only when it
//! changed.
//!
//! Design decision: every renderer is a pure function from values to bytes, and the choices
//! about what an entry says (its link, body, authors, tags, dates, audio, related links) are
//! made once here, so the Atom, JSON and RSS feeds never disagree about a story. Renderers do
//! not sort or truncate: the caller passes stories newest first, already limited to
//! `max_entries`.

mod atom;
mod jsonfeed;
mod opml;
mod publish;
mod rss;

use std::borrow::Cow;
use std::fs;
use std::io;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use url::Url;

pub use atom::atom;
pub use jsonfeed::json_feed;
pub use opml::{ROLE_NAMESPACE, opml};
pub use publish::{PublishError, Rendered, publish, publish_atom, render};
pub use rss::{Category, Channel, ChannelError, Language, rss};

use crate::atomic_file;
use crate::dedupe::without_tracking;
use crate::model::{Enclosure, Item, Podcast, Story};

/// What a feed says about itself, as opposed to its entries.
#[derive(Debug, Clone)]
pub struct FeedMeta {
    pub title: String,
    /// Where tributary is served, e.g. `http://127.0.0.1:8088/`; it should end in `/`, since the
    /// feed files are resolved against it. It is also the Atom feed's id, so it must not change.
    pub base_url: Url,
    /// The feed's `updated` when there are no stories. With stories it is their latest change,
    /// so the same stories always render to the same bytes whenever they are rendered.
    pub generated_at: DateTime<Utc>,
    /// The WebSub hub every feed advertises (`rel="hub"`), so a subscriber can ask it to push
    /// changes instead of polling (`[websub] hub`).
    pub hub: Option<Url>,
}

impl FeedMeta {
    /// The URL of a file published next to the base, e.g. `feed.atom`.
    fn file_url(&self, name: &str) -> String {
        // Only a cannot-be-a-base URL (such as `mailto:`) refuses a join; config admits
        // http(s) URLs with a host only, so pointing at the base itself is a fallback for
        // hand-built metadata, never the normal path.
        self.base_url
            .join(name)
            .map_or_else(|_| self.base_url.to_string(), String::from)
    }

    /// The latest change among the stories, else `generated_at`.
    fn updated(&self, stories: &[Story]) -> DateTime<Utc> {
        stories
            .iter()
            .map(Story::updated)
            .max()
            .unwrap_or(self.generated_at)
    }
}

/// RFC 3339 with a `Z`, to the second: what both Atom and JSON Feed expect.
fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Whether XML 1.0 allows the character in a document at all (its `Char` production).
///
/// Rust strings hold no surrogates, so what remains to refuse is the C0 controls other than
/// tab, newline and carriage return, and the non-characters U+FFFE and U+FFFF.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Drops characters XML 1.0 forbids. Items come from hostile feeds, and a single U+0001 in a
/// title would make the whole merged feed unparseable for every reader; escaping cannot help,
/// since not even `&#1;` is allowed. JSON could carry them, but is cleaned the same way so both
/// feeds show the same text.
fn clean(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|&c| is_xml_char(c)).collect())
    }
}

/// A member's link as both feeds publish it: without the tracking parameters its feed added
/// (`utm_*`, `fbclid`, ...), so a reader who follows it is not counted as the campaign that
/// brought tributary there, and two copies that differ only in those parameters are one link.
fn shown_link(link: Option<&str>) -> Option<String> {
    non_blank(link).map(without_tracking)
}

/// The entry's main link: the lead's, else the first member that has one (a lead without a
/// link still deserves a clickable entry).
fn alternate_link(story: &Story) -> Option<String> {
    story
        .members
        .iter()
        .find_map(|m| shown_link(m.stored.item.link.as_deref()))
}

/// The entry's body: the lead's content, else the longest content among the members (an
/// episode's show notes often carry more than a mirror's excerpt).
fn body(story: &Story) -> Option<&str> {
    if let Some(content) = non_blank(story.lead().item.content.as_deref()) {
        return Some(content);
    }
    // Strictly longer wins, so on a tie the earlier (higher-ranked) member keeps it.
    story
        .members
        .iter()
        .filter_map(|m| non_blank(m.stored.item.content.as_deref()))
        .fold(None, |best: Option<&str>, c| match best {
            Some(b) if b.len() >= c.len() => Some(b),
            _ => Some(c),
        })
}

/// The story's audio, as every feed publishes it: the enclosure [`Story::enclosure`] picks,
/// with the duration and artwork of the member that carries that file, since another member's
/// duration may describe another file (a trailer, a re-cut).
struct Episode<'a> {
    enclosure: &'a Enclosure,
    /// The enclosure's URL, trimmed; an enclosure without one is no audio at all.
    url: &'a str,
    /// Seconds; `None` when the feed gave none (or zero, which no player means).
    duration: Option<u64>,
    image: Option<&'a str>,
    /// The carrier's Podcasting 2.0 tags: its transcript and chapters are of this file.
    podcast: Option<&'a Podcast>,
}

fn episode(story: &Story) -> Option<Episode<'_>> {
    let enclosure = story.enclosure()?;
    let url = non_blank(Some(&enclosure.url))?;
    let carrier = story.members.iter().map(|m| &m.stored.item).find(|item| {
        item.enclosure
            .as_ref()
            .is_some_and(|e| std::ptr::eq(e, enclosure))
    });
    Some(Episode {
        enclosure,
        url,
        duration: carrier.and_then(|item| item.duration).filter(|&d| d > 0),
        image: carrier.and_then(|item| non_blank(item.image.as_deref())),
        podcast: carrier.map(|item| &item.podcast),
    })
}

/// A link to another page about the work, titled with its site and its own title.
struct Related {
    href: String,
    title: String,
}

/// Every member's page that is neither the entry's main link nor its audio, once each,
/// compared without tracking parameters: a reader shows each link once, and Atom forbids two
/// alternates with the same type and hreflang.
fn related_links(story: &Story) -> Vec<Related> {
    let mut written: Vec<String> = Vec::new();
    written.extend(alternate_link(story));
    // The enclosure as its feed gave it is compared like the others, so a member linking to
    // the same file with a campaign tag is not listed again as a related page.
    written.extend(episode(story).map(|e| without_tracking(e.url)));
    let mut related = Vec::new();
    for member in &story.members {
        let item = &member.stored.item;
        let Some(href) = shown_link(item.link.as_deref()) else {
            continue;
        };
        if written.contains(&href) {
            continue;
        }
        written.push(href.clone());
        related.push(Related {
            href,
            title: related_title(item),
        });
    }
    related
}

/// A related link's title, "<feed> — <member title>": the feed name alone cannot tell a copy
/// from a piece about the work under its own headline, and the title alone does not say which
/// site a reader is about to visit. A member without a title is named by its feed.
fn related_title(item: &Item) -> String {
    match non_blank(Some(&item.title)) {
        Some(title) => format!("{} — {title}", item.source),
        None => item.source.clone(),
    }
}

/// The lead's summary, if it has a non-blank one.
fn summary(story: &Story) -> Option<&str> {
    non_blank(story.lead().item.summary.as_deref())
}

/// The lead's authors, deduplicated; a feed that names none is credited to its source, since
/// Atom requires an author for every entry.
fn authors(story: &Story) -> Vec<&str> {
    let lead = &story.lead().item;
    let named = distinct(&lead.authors);
    if named.is_empty() {
        vec![lead.source.as_str()]
    } else {
        named
    }
}

/// The lead's categories, trimmed and deduplicated (feeds repeat them).
fn categories(story: &Story) -> Vec<&str> {
    distinct(&story.lead().item.categories)
}

/// A media type worth declaring: `type/subtype`. Feeds write things like `audio` or `mp3`,
/// which the Atom schema rejects as a link type.
fn media_type(mime: Option<&str>) -> Option<&str> {
    let mime = mime?.trim();
    let (kind, subtype) = mime.split_once('/')?;
    let token = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
    (token(kind) && token(subtype)).then_some(mime)
}

fn non_blank(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

/// Trimmed, non-blank, first occurrence kept, order preserved.
fn distinct(values: &[String]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(values.len());
    for value in values {
        let value = value.trim();
        if !value.is_empty() && !out.contains(&value) {
            out.push(value);
        }
    }
    out
}

/// [`atomic_file::write`], unless the file already holds exactly `bytes`: the merged feed is
/// rendered after every cycle and mostly comes out the same, and rewriting it would cost two
/// fsyncs and bump its mtime for nothing. Returns whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    if holds(path, bytes).unwrap_or(false) {
        return Ok(false);
    }
    atomic_file::write(path, bytes).map(|()| true)
}

/// Whether the file at `path` holds exactly `bytes`, read a block at a time: the merged feed is
/// hundreds of KB (a few MB with a long `max_entries`), and reading it whole beside its new
/// rendering held both at once (a steady poll of 1,000 feeds: heap peak 13.1 → 12.8 MB).
fn holds(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    use std::io::Read;
    const BLOCK: usize = 64 * 1024;
    let mut file = fs::File::open(path)?;
    if file.metadata()?.len() != bytes.len() as u64 {
        return Ok(false);
    }
    let mut block = vec![0; BLOCK];
    let mut rest = bytes;
    loop {
        let read = file.read(&mut block)?;
        if read == 0 {
            return Ok(rest.is_empty());
        }
        match rest.split_at_checked(read) {
            Some((head, tail)) if head == &block[..read] => rest = tail,
            _ => return Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_file_is_not_rewritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("merged.atom");
        assert!(write_if_changed(&path, b"one").expect("write"));
        let inode = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).expect("stat"));
        assert!(!write_if_changed(&path, b"one").expect("write"));
        let same = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).expect("stat"));
        assert_eq!(inode, same, "a rewrite renames a new file over the old one");
        assert!(write_if_changed(&path, b"two").expect("write"));
        assert_eq!(fs::read(&path).expect("read"), b"two");
        // Compared a block at a time: a file of several blocks differing in its last byte, or
        // one longer than the new bytes, is rewritten.
        let long = vec![b'a'; 200 * 1024];
        assert!(write_if_changed(&path, &long).expect("write"));
        assert!(!write_if_changed(&path, &long).expect("write"));
        let mut last_changed = long.clone();
        last_changed[200 * 1024 - 1] = b'b';
        assert!(write_if_changed(&path, &last_changed).expect("write"));
        assert_eq!(fs::read(&path).expect("read"), last_changed);
        assert!(write_if_changed(&path, &long[..1000]).expect("write"));
        assert_eq!(fs::read(&path).expect("read"), &long[..1000]);
    }

    #[test]
    fn xml_char_filter_keeps_legal_text() {
        let text =
            "tab\there\nnew\r\u{20}caf\u{e9} \u{d7ff}\u{e000}\u{fffd}\u{10000}\u{10ffff} \u{1F600}";
        assert!(matches!(clean(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn xml_char_filter_drops_controls_and_nonchars() {
        assert_eq!(clean("a\u{0}b\u{1}c\u{8}d\u{b}e\u{c}f\u{1f}g"), "abcdefg");
        assert_eq!(clean("x\u{fffe}y\u{ffff}z"), "xyz");
        // DEL and the C1 controls are legal XML 1.0 characters (merely discouraged).
        assert_eq!(clean("\u{7f}\u{85}"), "\u{7f}\u{85}");
        assert_eq!(clean("\u{1}\u{2}"), "");
    }

    #[test]
    fn media_type_needs_type_and_subtype() {
        assert_eq!(media_type(Some(" audio/mpeg ")), Some("audio/mpeg"));
        assert_eq!(media_type(Some("audio")), None);
        assert_eq!(media_type(Some("audio/")), None);
        assert_eq!(media_type(Some("/mpeg")), None);
        assert_eq!(media_type(Some("audio/mp eg")), None);
        assert_eq!(media_type(None), None);
    }

    #[test]
    fn distinct_trims_and_keeps_first() {
        let values = ["AI", " ai", "AI ", "", "  ", "RL"].map(String::from);
        assert_eq!(distinct(&values), ["AI", "ai", "RL"]);
    }
}
