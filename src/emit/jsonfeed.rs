//! The JSON Feed 1.1 twin of the merged Atom feed, for readers that prefer JSON, plus a
//! `_tributary` extension listing every member of a story: its feed (`source`), its own `title`
//! and `link` (without tracking parameters, like the item's `url`), what it is to the work
//! (`member_role`: post, episode, copy, summary or coverage) and the evidence that merged it
//! (`reason`, with its `score` from 0 to 1).
//!
//! Design decision: the document is a tree of `Serialize` structs that mirror the spec, so
//! field names, optional fields and key order are fixed by types rather than by hand-built
//! maps, and the same stories always serialise to the same bytes.

use serde::Serialize;

use super::{
    FeedMeta, alternate_link, authors, body, categories, clean, episode, media_type, rfc3339,
    shown_link, summary,
};
use crate::model::{Member, Story};

const VERSION: &str = "https://jsonfeed.org/version/1.1";
/// JSON Feed requires an attachment's type; this is what "unknown" is in MIME.
const UNKNOWN_MIME: &str = "application/octet-stream";

#[derive(Serialize)]
struct Feed {
    version: &'static str,
    title: String,
    home_page_url: String,
    feed_url: String,
    /// JSON Feed 1.1's way to name a WebSub hub.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub>,
    items: Vec<Item>,
}

#[derive(Serialize)]
struct Hub {
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
}

#[derive(Serialize)]
struct Item {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    title: String,
    /// Required: JSON Feed wants content_html or content_text in every item.
    content_html: String,
    /// Plain text, as the spec asks; the lead's summary is HTML, so its markup is stripped.
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    date_published: String,
    date_modified: String,
    authors: Vec<Author>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment>,
    #[serde(rename = "_tributary")]
    tributary: Extension,
}

#[derive(Serialize)]
struct Author {
    name: String,
}

#[derive(Serialize)]
struct Attachment {
    url: String,
    mime_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_in_seconds: Option<u64>,
}

/// JSON Feed lets publishers add objects whose key starts with `_`; readers ignore them.
#[derive(Serialize)]
struct Extension {
    members: Vec<ExtensionMember>,
}

#[derive(Serialize)]
struct ExtensionMember {
    source: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<String>,
    member_role: &'static str,
    reason: &'static str,
    score: f64,
}

/// Renders the JSON Feed. `stories` must already be newest first and limited to
/// `max_entries`; they are written in the order given.
pub fn json_feed(stories: &[Story], meta: &FeedMeta) -> Vec<u8> {
    let feed = Feed {
        version: VERSION,
        title: owned(&meta.title),
        home_page_url: meta.base_url.to_string(),
        feed_url: meta.file_url("feed.json"),
        hubs: meta
            .hub
            .iter()
            .map(|hub| Hub {
                kind: "WebSub",
                url: hub.to_string(),
            })
            .collect(),
        items: stories.iter().map(item).collect(),
    };
    let mut bytes = serde_json::to_vec_pretty(&feed)
        .expect("plain structs with string keys always serialise to JSON");
    bytes.push(b'\n');
    bytes
}

fn item(story: &Story) -> Item {
    let lead = &story.lead().item;
    let summary_html = summary(story);
    Item {
        id: owned(&story.atom_id),
        url: alternate_link(story).as_deref().map(owned),
        title: owned(&lead.title),
        content_html: owned(body(story).or(summary_html).unwrap_or_default()),
        summary: summary_html
            .map(|html| owned(&crate::normalize::plain_text(html)))
            .filter(|s| !s.is_empty()),
        date_published: rfc3339(story.published()),
        date_modified: rfc3339(story.updated()),
        authors: authors(story)
            .into_iter()
            .map(|name| Author { name: owned(name) })
            .collect(),
        tags: categories(story).into_iter().map(owned).collect(),
        attachments: attachment(story).into_iter().collect(),
        tributary: Extension {
            members: story.members.iter().map(extension_member).collect(),
        },
    }
}

/// The story's audio, with the duration of the episode that carries it.
fn attachment(story: &Story) -> Option<Attachment> {
    let episode = episode(story)?;
    Some(Attachment {
        url: owned(episode.url),
        mime_type: owned(
            media_type(episode.enclosure.mime_type.as_deref()).unwrap_or(UNKNOWN_MIME),
        ),
        size_in_bytes: episode.enclosure.length,
        duration_in_seconds: episode.duration,
    })
}

fn extension_member(member: &Member) -> ExtensionMember {
    let item = &member.stored.item;
    ExtensionMember {
        source: owned(&item.source),
        title: owned(&item.title),
        link: shown_link(item.link.as_deref()).as_deref().map(owned),
        member_role: member.member_role.as_str(),
        reason: member.reason.as_str(),
        score: member.score,
    }
}

fn owned(text: &str) -> String {
    clean(text).into_owned()
}
