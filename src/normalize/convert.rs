//! feed-rs's model -> tributary's [`Item`]: links, ids, dates, text, kind, media.
//!
//! Every choice here is deterministic in the feed's bytes, the feed URL and `now`, so the same
//! document yields the same items on every poll.

use chrono::{DateTime, TimeDelta, Utc};
use feed_rs::model::{Content, Entry, Feed, FeedType, Link, MediaObject, Person, Text};
use sha2::{Digest, Sha256};
use url::Url;

use super::ParsedFeed;
use super::html::{plain_text, text_to_html};
use super::media::{file_type, is_audio_video, is_image, parse_duration};
use super::parsed::{Html, ParsedItem};
use super::scan::ItemFacts;
use crate::hex::hex;
use crate::model::{Enclosure, Item, ItemKind};

/// How far past `now` a date may lie before it is taken as wrong: time zones and clock skew
/// explain a few hours, not more. A later date would pin an item to the top of every list.
const FUTURE_TOLERANCE: TimeDelta = TimeDelta::days(1);

/// Hex digits of SHA-256 kept in a synthesised guid (128 bits: no accidental collisions).
const HASH_ID_HEX_LEN: usize = 32;

/// What every item of one parse shares.
pub(crate) struct Context<'a> {
    pub feed_url: &'a Url,
    pub source: &'a str,
    pub now: DateTime<Utc>,
}

/// Converts a parsed feed. `facts` (from the side scan) is used only when it lines up with
/// the entries one to one; `json_images` is indexed like the entries.
pub(crate) fn convert_feed(
    feed: &Feed,
    facts: &[ItemFacts],
    json_images: &[Option<String>],
    ctx: &Context<'_>,
) -> ParsedFeed {
    let facts_line_up = facts.len() == feed.entries.len();
    let items = feed
        .entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let facts = facts
                .get(index)
                .filter(|_| facts_line_up)
                .cloned()
                .unwrap_or_default();
            let json_image = json_images.get(index).and_then(Option::as_deref);
            convert_entry(entry, &feed.feed_type, &facts, json_image, ctx)
        })
        .collect();
    ParsedFeed {
        title: feed
            .title
            .as_ref()
            .map(|title| plain_text(&title.content))
            .filter(|title| !title.is_empty()),
        link: pick_link(&feed.links, ctx.feed_url).map(String::from),
        ttl: feed
            .ttl
            .filter(|minutes| *minutes > 0)
            .map(|minutes| std::time::Duration::from_secs(u64::from(minutes) * 60)),
        items,
        ..ParsedFeed::default()
    }
}

fn convert_entry(
    entry: &Entry,
    feed_type: &FeedType,
    facts: &ItemFacts,
    json_image: Option<&str>,
    ctx: &Context<'_>,
) -> ParsedItem {
    let id = entry.id.trim();
    let link = pick_link(&entry.links, ctx.feed_url)
        // An RSS guid is a permalink by default; an id that is a web URL is the best link left.
        .or_else(|| {
            Url::parse(id)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"))
        });
    let title = entry
        .title
        .as_ref()
        .map(|title| plain_text(&title.content))
        .filter(|title| !title.is_empty())
        .or_else(|| {
            media_texts(&entry.media, |object| object.title.as_ref())
                .map(|title| plain_text(&title.content))
                .find(|title| !title.is_empty())
        })
        // An item titled only by a `media:title` with no `media:content` beside it.
        .or_else(|| {
            facts
                .media_title
                .as_deref()
                .map(plain_text)
                .filter(|title| !title.is_empty())
        })
        .unwrap_or_default();

    // Relative URLs in the HTML: the xml:base in scope, else the item's page, else the feed.
    let base = facts
        .content_base
        .clone()
        .or_else(|| {
            let anchor = link.as_ref().unwrap_or(ctx.feed_url);
            entry
                .base
                .as_deref()
                .and_then(|b| anchor.join(b.trim()).ok())
        })
        .or_else(|| link.clone())
        .unwrap_or_else(|| ctx.feed_url.clone());
    let mut content = entry.content.as_ref().and_then(content_html);
    let mut summary = entry
        .summary
        .as_ref()
        .and_then(|text| summary_html(text, feed_type))
        .or_else(|| {
            // Podcast feeds often carry their show notes only as itunes:summary.
            content.is_none().then(|| {
                media_texts(&entry.media, |object| object.description.as_ref()).find_map(text_html)
            })?
        });

    let candidates = enclosure_candidates(entry, ctx.feed_url);
    let episode = candidates
        .iter()
        .find(|c| is_audio_video(c.mime_type.as_deref(), &c.url));
    let kind = if episode.is_some() {
        ItemKind::Episode
    } else {
        ItemKind::Post
    };
    let enclosure = episode.or_else(|| candidates.first()).cloned();

    let duration = facts
        .itunes_duration
        .as_deref()
        .and_then(parse_duration)
        .or_else(|| media_duration(&entry.media));
    let image = pick_image(entry, facts, json_image, &candidates, ctx.feed_url);

    let guid = if !id.is_empty() {
        id.to_string()
    } else if let Some(link) = &link {
        link.to_string()
    } else {
        // Hashed from the sanitised text, as it always was, so such items keep their ids.
        content = Html::sanitize_body(content, &base);
        summary = Html::sanitize_body(summary, &base);
        // The date as the feed wrote it (not clamped to `now`, which moves).
        let date = entry.published.or(entry.updated).map(|d| d.to_rfc3339());
        hash_id(&[
            &title,
            content
                .as_ref()
                .or(summary.as_ref())
                .map_or("", Html::as_str),
            enclosure.as_ref().map_or("", |e| e.url.as_str()),
            date.as_deref().unwrap_or_default(),
        ])
    };

    let published = entry.published.or(entry.updated);
    let item = Item {
        source: ctx.source.to_string(),
        guid,
        link: link.map(String::from),
        title,
        authors: authors(&entry.authors, &entry.media),
        published: published.map(|date| clamp_future(date, ctx.now)),
        updated: entry.updated.map(|date| clamp_future(date, ctx.now)),
        summary: None,
        content: None,
        categories: categories(entry),
        kind,
        enclosure,
        duration,
        image,
        podcast: super::podcast::read(&facts.podcast, ctx.feed_url),
    };
    ParsedItem::new(item, summary, content, base)
}

/// A date more than a day ahead of `now` becomes `now`.
pub(crate) fn clamp_future(date: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    if date > now + FUTURE_TOLERANCE {
        now
    } else {
        date
    }
}

/// A stable id for an item that has neither guid nor link: a hash of what a reader sees (title
/// and text) and of the other stable facts (enclosure URL, date), so two untitled, textless
/// items still differ when anything about them does.
pub(crate) fn hash_id(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let hex = hex(&digest);
    format!("sha256:{}", &hex[..HASH_ID_HEX_LEN])
}

/// Resolves `href` against `base` and keeps it only if it is a web (http or https) URL.
pub(super) fn web_url(href: &str, base: &Url) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    base.join(href)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
}

/// The page a set of links points at: the first alternate link (Atom), plain link (RSS) or
/// `url` (JSON Feed) that is a web URL and not an attachment.
fn pick_link(links: &[Link], base: &Url) -> Option<Url> {
    links
        .iter()
        .filter(|link| link.target.is_none())
        .filter(|link| matches!(link.rel.as_deref(), None | Some("alternate")))
        .filter(|link| {
            link.media_type.as_deref().is_none_or(|mime| {
                let mime = mime.to_ascii_lowercase();
                mime.starts_with("text/html") || mime.starts_with("application/xhtml")
            })
        })
        .find_map(|link| web_url(&link.href, base))
}

/// Files attached to an entry, in feed order: RSS enclosures and media:content (feed-rs puts
/// both in media objects), Atom `rel="enclosure"` links, JSON Feed attachments.
fn enclosure_candidates(entry: &Entry, base: &Url) -> Vec<Enclosure> {
    let mut out: Vec<Enclosure> = Vec::new();
    let mut push = |url: Option<Url>, mime: Option<String>, length: Option<u64>| {
        let Some(url) = url else { return };
        if out.iter().any(|existing| existing.url == url.as_str()) {
            return;
        }
        out.push(Enclosure {
            mime_type: file_type(mime.as_deref(), url.as_str()),
            url: url.into(),
            length: length.filter(|n| *n > 0),
        });
    };
    for object in &entry.media {
        for content in &object.content {
            push(
                content.url.as_ref().and_then(|u| web_url(u.as_str(), base)),
                content.content_type.as_ref().map(ToString::to_string),
                content.size,
            );
        }
    }
    for link in &entry.links {
        let enclosure_link = link.rel.as_deref() == Some("enclosure");
        // JSON Feed attachments arrive as links with a type and no rel.
        let attachment = link.rel.is_none()
            && link.target.is_none()
            && link.media_type.as_deref().is_some_and(|mime| {
                let mime = mime.to_ascii_lowercase();
                !mime.starts_with("text/html") && !mime.starts_with("application/xhtml")
            });
        if enclosure_link || attachment {
            push(
                web_url(&link.href, base),
                link.media_type.clone(),
                link.length,
            );
        }
    }
    out
}

/// The item's picture: episode art, a media thumbnail, an image attachment (Substack's cover
/// image enclosure), the JSON Feed `image`.
fn pick_image(
    entry: &Entry,
    facts: &ItemFacts,
    json_image: Option<&str>,
    candidates: &[Enclosure],
    base: &Url,
) -> Option<String> {
    let itunes = facts.itunes_image.as_deref().and_then(|u| web_url(u, base));
    let thumbnail = || {
        entry
            .media
            .iter()
            .flat_map(|object| &object.thumbnails)
            .find_map(|thumbnail| web_url(&thumbnail.image.uri, base))
    };
    let attached = || {
        candidates
            .iter()
            .find(|c| is_image(c.mime_type.as_deref(), &c.url))
            .and_then(|c| Url::parse(&c.url).ok())
    };
    let json = || json_image.and_then(|u| web_url(u, base));
    itunes
        .or_else(thumbnail)
        .or_else(attached)
        .or_else(json)
        .map(String::from)
}

fn media_duration(media: &[MediaObject]) -> Option<u64> {
    media
        .iter()
        .find_map(|object| {
            object
                .duration
                .or_else(|| object.content.iter().find_map(|content| content.duration))
        })
        .map(|duration| duration.as_secs())
        .filter(|seconds| *seconds > 0)
}

fn media_texts<'a>(
    media: &'a [MediaObject],
    field: impl Fn(&'a MediaObject) -> Option<&'a Text> + 'a,
) -> impl Iterator<Item = &'a Text> + 'a {
    media.iter().filter_map(field)
}

/// An Atom/RSS/JSON content body as HTML; `None` for out-of-line or binary content.
fn content_html(content: &Content) -> Option<Html> {
    let body = content.body.as_deref()?;
    let mime = content.content_type.to_string().to_ascii_lowercase();
    if mime.starts_with("text/plain") {
        non_empty(Html::Safe(text_to_html(body)))
    } else if mime.starts_with("text/html")
        || mime.contains("xhtml")
        || mime.starts_with("text/xml")
    {
        non_empty(Html::Raw(body.to_owned()))
    } else {
        None
    }
}

/// An item's summary. RSS 1.0's `description` carries escaped HTML in practice, as RSS 2.0's
/// does (feedparser reads both so); feed-rs reads RSS 2.0's as HTML but RSS 1.0's as plain
/// text, which put literal tags (`<q>bullseye</q>`) in front of the reader.
fn summary_html(text: &Text, feed_type: &FeedType) -> Option<Html> {
    if *feed_type == FeedType::RSS1 {
        non_empty(Html::Raw(text.content.clone()))
    } else {
        text_html(text)
    }
}

fn text_html(text: &Text) -> Option<Html> {
    let mime = text.content_type.to_string().to_ascii_lowercase();
    non_empty(if mime.starts_with("text/plain") {
        Html::Safe(text_to_html(&text.content))
    } else {
        Html::Raw(text.content.clone())
    })
}

fn non_empty(html: Html) -> Option<Html> {
    (!html.as_str().trim().is_empty()).then_some(html)
}

/// A person's name; their email address when the feed gave only that. RSS writes authors as
/// `james@example.com (James Cridland)`, which feed-rs splits leaving the parentheses on the
/// name.
fn person_name(person: &Person) -> Option<String> {
    person
        .name
        .as_deref()
        .map(|name| unwrap_brackets(plain_text(name).trim()).to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| person.email.clone())
}

/// `(James)` -> `James`; a name only partly in brackets is left as it is.
fn unwrap_brackets(name: &str) -> &str {
    [('(', ')'), ('[', ']')]
        .iter()
        .find_map(|(open, close)| {
            let inner = name.strip_prefix(*open)?.strip_suffix(*close)?;
            (!inner.contains([*open, *close])).then_some(inner.trim())
        })
        .unwrap_or(name)
}

fn authors(people: &[Person], media: &[MediaObject]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in people.iter().filter_map(person_name) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        // itunes:author on an episode.
        for credit in media.iter().flat_map(|object| &object.credits) {
            let name = plain_text(&credit.entity);
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

fn categories(entry: &Entry) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for category in &entry.categories {
        let name = plain_text(category.label.as_deref().unwrap_or(&category.term));
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 10, hour, 0, 0)
            .single()
            .expect("valid test date")
    }

    #[test]
    fn future_dates_are_clamped() {
        let now = at(12);
        assert_eq!(clamp_future(at(13), now), at(13));
        assert_eq!(clamp_future(now + TimeDelta::days(2), now), now);
        assert_eq!(clamp_future(at(1), now), at(1));
    }

    #[test]
    fn hash_ids_are_stable_and_distinct() {
        let a = hash_id(&["Title", "<p>body</p>", "", ""]);
        assert_eq!(a, hash_id(&["Title", "<p>body</p>", "", ""]));
        assert_ne!(a, hash_id(&["Title", "<p>other</p>", "", ""]));
        assert_ne!(a, hash_id(&["Title", "<p>body</p>", "https://x/a.mp3", ""]));
        assert_ne!(hash_id(&["ab", "c"]), hash_id(&["a", "bc"]));
        assert!(a.starts_with("sha256:"));
        assert_eq!(a.len(), "sha256:".len() + HASH_ID_HEX_LEN);
    }

    #[test]
    fn rss_authors_keep_their_names() {
        let person = |name: Option<&str>, email: Option<&str>| Person {
            name: name.map(String::from),
            email: email.map(String::from),
            uri: None,
            role: None,
        };
        let name = |p: Person| person_name(&p);
        assert_eq!(
            name(person(Some("(James Cridland)"), Some("james@example.com"))).as_deref(),
            Some("James Cridland")
        );
        assert_eq!(
            name(person(None, Some("james@example.com"))).as_deref(),
            Some("james@example.com")
        );
        assert_eq!(
            name(person(Some("Ana (ed.)"), None)).as_deref(),
            Some("Ana (ed.)")
        );
        assert_eq!(
            name(person(Some("(a) and (b)"), None)).as_deref(),
            Some("(a) and (b)")
        );
    }

    #[test]
    fn links_are_chosen_and_resolved() {
        let base = Url::parse("https://example.com/feed/").expect("valid test URL");
        let mut self_link = Link {
            href: "https://example.com/feed/".into(),
            target: None,
            rel: Some("self".into()),
            media_type: None,
            href_lang: None,
            title: None,
            length: None,
        };
        let mut page = self_link.clone();
        page.rel = Some("alternate".into());
        page.href = "../post/".into();
        let mut script = page.clone();
        script.href = "javascript:alert(1)".into();
        assert_eq!(
            pick_link(&[self_link.clone(), script, page.clone()], &base).map(String::from),
            Some("https://example.com/post/".to_string())
        );
        self_link.rel = Some("enclosure".into());
        assert_eq!(pick_link(&[self_link], &base), None);
    }
}
