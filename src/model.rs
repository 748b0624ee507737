//! The one schema every stage speaks: a [`Source`] yields [`Item`]s, and items that are the same
//! work are folded into a [`Story`], the unit a reader sees.
//!
//! These are plain values with no I/O attached, so the pure stages (normalise, dedupe, emit) can
//! be tested on hand-built instances.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strum::{EnumString, IntoStaticStr};

/// Whether a source's items may lead a merged story.
///
/// An origin is where the work is published first (the newsletter, its podcast); a mirror is
/// an aggregator or curation site that republishes it and so should never be the entry's link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(IntoStaticStr, EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum Role {
    #[default]
    Origin,
    Mirror,
}

impl Role {
    /// The name the config, the store and every output use.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// A post is read; an episode is listened to or watched. Only an audio or video enclosure makes
/// an episode: Substack attaches the cover image of every ordinary post as an enclosure too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(IntoStaticStr, EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum ItemKind {
    #[default]
    Post,
    Episode,
}

impl ItemKind {
    /// The name the store and every output use.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// A media file attached to an item, as the feed declared it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enclosure {
    pub url: String,
    pub mime_type: Option<String>,
    /// Bytes, when the feed gave a positive length (many write 0 for "unknown").
    pub length: Option<u64>,
}

/// An episode's Podcasting 2.0 tags (<https://podcastindex.org/namespace/1.0>), as its feed
/// gave them, for the merged RSS feed to pass on: podcast apps show transcripts, chapters and
/// people only when the feed they subscribe to carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Podcast {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transcripts: Vec<Transcript>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chapters: Option<Chapters>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub persons: Vec<PodcastPerson>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub soundbites: Vec<Soundbite>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub season: Option<Season>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episode: Option<EpisodeNumber>,
}

impl Podcast {
    pub fn is_empty(&self) -> bool {
        *self == Podcast::default()
    }
}

/// `podcast:transcript`: a text of the episode (plain, HTML, WebVTT, SRT, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    /// Absolute http(s) URL.
    pub url: String,
    /// `type/subtype`, required by the namespace: an app picks the format it can show.
    pub mime_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// `captions` when the file is timed for display while playing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel: Option<String>,
}

/// `podcast:chapters`: the episode's chapter file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chapters {
    /// Absolute http(s) URL.
    pub url: String,
    pub mime_type: String,
}

/// `podcast:person`: someone who took part, with the role and group the feed named (the
/// namespace's defaults, host and cast, are not filled in, so the output says what the source
/// said).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodcastPerson {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub img: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

/// `podcast:soundbite`: a passage an app may play as a preview. The times are decimal seconds
/// kept as written (`33.833`), so they are passed on without float rounding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Soundbite {
    pub start_time: String,
    pub duration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `podcast:season`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Season {
    pub number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `podcast:episode`: a decimal number (`3`, `3.5`), kept as written, and how to display it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeNumber {
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// One entry of one source, normalised: plain-text title, sanitised HTML with absolute URLs,
/// and an id that is the same on every poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The source's configured name.
    pub source: String,
    /// The feed's guid/id, else its link, else a hash of title and content: never random, or
    /// the item would look new on every poll.
    pub guid: String,
    /// The link as published (absolute).
    pub link: Option<String>,
    pub title: String,
    pub authors: Vec<String>,
    /// `None` when the feed gave no date; the store then uses the time the item was first seen.
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// Sanitised HTML.
    pub summary: Option<String>,
    /// Sanitised HTML.
    pub content: Option<String>,
    pub categories: Vec<String>,
    pub kind: ItemKind,
    pub enclosure: Option<Enclosure>,
    /// Seconds, from `itunes:duration` or the media metadata.
    pub duration: Option<u64>,
    pub image: Option<String>,
    /// What the episode says in the Podcasting 2.0 namespace. Left out of the JSON when empty,
    /// so items stored before it existed load, and keep the content hash they were stored with.
    #[serde(default, skip_serializing_if = "Podcast::is_empty")]
    pub podcast: Podcast,
}

impl Item {
    /// The fullest text the item carries, for fingerprints and previews.
    pub fn body(&self) -> Option<&str> {
        self.content.as_deref().or(self.summary.as_deref())
    }
}

#[cfg(test)]
impl Item {
    /// A post as the tests of several stages write it: at `https://{source}.example/p/{guid}`,
    /// its text `body`, nothing else said.
    pub(crate) fn test_post(
        source: &str,
        guid: &str,
        title: &str,
        body: &str,
        published: DateTime<Utc>,
    ) -> Item {
        Item {
            source: source.into(),
            guid: guid.into(),
            link: Some(format!("https://{source}.example/p/{guid}")),
            title: title.into(),
            authors: vec![],
            published: Some(published),
            updated: None,
            summary: None,
            content: Some(body.into()),
            categories: vec![],
            kind: ItemKind::Post,
            enclosure: None,
            duration: None,
            image: None,
            podcast: Default::default(),
        }
    }
}

/// The evidence that put an item into its story, strongest first. Each can be said in one
/// line by `stories --explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[derive(IntoStaticStr, EnumString)]
#[strum(serialize_all = "kebab-case")]
pub enum MatchReason {
    /// The item started the story.
    New,
    /// The same source and guid: an update of an item already stored.
    Guid,
    /// A person put the item here (`tributary stories split` or `merge`).
    Manual,
    /// The same canonical URL.
    Url,
    /// The same audio or video file: one episode, listed by several directories.
    Audio,
    /// A mirror's text links to this one work's page (and to no other work's).
    Link,
    /// The same title once the decorations sites add are removed, within days.
    Title,
    /// A mirror's title contains the work's whole, distinctive title, within days.
    TitleContained,
    /// The same numbered episode of one of the writers' shows ("Lex Fridman Podcast #452").
    Issue,
    /// A mirror's address spells the work's title (a directory's page named after the episode).
    Address,
    /// Near-identical text, the feeds' boilerplate aside.
    Content,
    /// Several passages quoted word for word from the work, within days (one more within weeks).
    Quotes,
    /// A mirror that names the guest of the work's interview and the writers' show, within
    /// days, and shares its words.
    Guest,
    /// A mirror's own text that shares most of its meaningful words with one recent work and
    /// clearly fewer with any other: a summary under a title of its own.
    Words,
    /// A mirror whose title holds every meaningful word of one work's title, whose text names
    /// the work's writer and shares some of its words: a rewrite under a headline of its own.
    Named,
    /// A writer's episode whose notes cite one of the same writer's posts by its whole title,
    /// within weeks of it: the post read aloud or talked through, under a title of its own.
    Cited,
}

impl MatchReason {
    /// The name the store, `stories --json` and the webhook payload use.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }

    /// The evidence in words, for `stories --explain`.
    pub fn describe(self) -> &'static str {
        match self {
            MatchReason::New => "founded the story",
            MatchReason::Guid => "the same item, updated",
            MatchReason::Manual => "put here by hand",
            MatchReason::Url => "the same page (canonical URL)",
            MatchReason::Audio => "the same audio file",
            MatchReason::Link => "its text links to the work's page",
            MatchReason::Title => "the same title, decorations removed",
            MatchReason::TitleContained => "its title contains the work's whole title",
            MatchReason::Issue => "names the same numbered episode of the show",
            MatchReason::Address => "its address spells the work's title",
            MatchReason::Content => "near-identical text",
            MatchReason::Quotes => "quotes the work word for word",
            MatchReason::Guest => "names the episode's guest and show, within days",
            MatchReason::Words => "its own text names what the work's does",
            MatchReason::Named => "its title holds the work's title, its text names the writer",
            MatchReason::Cited => "the episode's notes cite the post's title",
        }
    }
}

/// What a member is to its story's work: the writer's own post or episode, or another site's
/// copy, summary or coverage of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(IntoStaticStr, EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum MemberRole {
    /// The writer's own text (an origin feed's post).
    #[default]
    Post,
    /// The writer's own recording (an origin feed's episode).
    Episode,
    /// Another site's copy of the text, full or cut.
    Copy,
    /// Another site's own description of the work.
    Summary,
    /// Another site's piece about the work, under its own headline.
    Coverage,
}

impl MemberRole {
    /// The name the store and every output use.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The role an item has before any evidence is weighed: an origin's post or episode, and
    /// a mirror's copy.
    pub fn implied(role: Role, kind: ItemKind) -> MemberRole {
        match (role, kind) {
            (Role::Origin, ItemKind::Post) => MemberRole::Post,
            (Role::Origin, ItemKind::Episode) => MemberRole::Episode,
            (Role::Mirror, _) => MemberRole::Copy,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// An item as stored: the normalised item plus what the store knows about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredItem {
    pub id: i64,
    pub item: Item,
    pub role: Role,
    /// When tributary first saw the item; stands in for a missing published date.
    pub first_seen: DateTime<Utc>,
    /// When the stored copy last changed.
    pub changed_at: DateTime<Utc>,
}

impl StoredItem {
    pub fn published(&self) -> DateTime<Utc> {
        self.item.published.unwrap_or(self.first_seen)
    }
}

/// One member of a story and why it is there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    pub stored: StoredItem,
    pub member_role: MemberRole,
    pub reason: MatchReason,
    /// How strongly the tier matched, from 0 to 1 (1 for exact keys).
    pub score: f64,
}

/// The unit a reader sees: one work, however many feeds carried it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Story {
    pub id: i64,
    /// The Atom entry id: fixed when the story is created and never changed.
    pub atom_id: String,
    /// Members, lead first (origin post, then origin episode, then mirrors).
    pub members: Vec<Member>,
    pub created_at: DateTime<Utc>,
}

impl Story {
    pub fn lead(&self) -> &StoredItem {
        &self.members[0].stored
    }

    /// The earliest member's date.
    pub fn published(&self) -> DateTime<Utc> {
        self.members
            .iter()
            .map(|m| m.stored.published())
            .min()
            .unwrap_or(self.created_at)
    }

    /// The latest change to any member.
    pub fn updated(&self) -> DateTime<Utc> {
        self.members
            .iter()
            .map(|m| {
                let stored = &m.stored;
                stored
                    .item
                    .updated
                    .unwrap_or_else(|| stored.published())
                    .max(stored.published())
            })
            .max()
            .unwrap_or(self.created_at)
    }

    /// The first audio or video enclosure among the members, for the entry's rel=enclosure.
    pub fn enclosure(&self) -> Option<&Enclosure> {
        self.members
            .iter()
            .filter(|m| m.stored.item.kind == ItemKind::Episode)
            .find_map(|m| m.stored.item.enclosure.as_ref())
    }
}

/// Lead order: origin before mirror, post before episode, then earliest, then lowest id, so the
/// choice never depends on the order items arrived in.
pub fn lead_rank(stored: &StoredItem) -> (u8, u8, DateTime<Utc>, i64) {
    let role = match stored.role {
        Role::Origin => 0,
        Role::Mirror => 1,
    };
    let kind = match stored.item.kind {
        ItemKind::Post => 0,
        ItemKind::Episode => 1,
    };
    (role, kind, stored.published(), stored.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are stored in SQLite and printed by the CLI and every output: pinned here, and
    /// serde's spelling (the JSON outputs) must be strum's (the store and the text outputs).
    #[test]
    fn enum_names_are_pinned_and_serde_agrees() {
        fn check<T>(
            pairs: &[(T, &str)],
            as_str: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) where
            T: Copy + PartialEq + std::fmt::Debug + Serialize,
        {
            for &(value, name) in pairs {
                assert_eq!(as_str(value), name);
                assert_eq!(parse(name), Some(value));
                assert_eq!(
                    serde_json::to_string(&value).expect("serialises"),
                    format!("\"{name}\"")
                );
            }
        }
        check(
            &[(Role::Origin, "origin"), (Role::Mirror, "mirror")],
            Role::as_str,
            Role::parse,
        );
        check(
            &[(ItemKind::Post, "post"), (ItemKind::Episode, "episode")],
            ItemKind::as_str,
            ItemKind::parse,
        );
        check(
            &[
                (MatchReason::New, "new"),
                (MatchReason::Guid, "guid"),
                (MatchReason::Manual, "manual"),
                (MatchReason::Url, "url"),
                (MatchReason::Audio, "audio"),
                (MatchReason::Link, "link"),
                (MatchReason::Title, "title"),
                (MatchReason::TitleContained, "title-contained"),
                (MatchReason::Issue, "issue"),
                (MatchReason::Address, "address"),
                (MatchReason::Content, "content"),
                (MatchReason::Quotes, "quotes"),
                (MatchReason::Guest, "guest"),
                (MatchReason::Words, "words"),
                (MatchReason::Named, "named"),
                (MatchReason::Cited, "cited"),
            ],
            MatchReason::as_str,
            MatchReason::parse,
        );
        check(
            &[
                (MemberRole::Post, "post"),
                (MemberRole::Episode, "episode"),
                (MemberRole::Copy, "copy"),
                (MemberRole::Summary, "summary"),
                (MemberRole::Coverage, "coverage"),
            ],
            MemberRole::as_str,
            MemberRole::parse,
        );
    }

    #[test]
    fn names_are_matched_exactly() {
        for text in [
            "Origin",
            " origin",
            "mirrors",
            "",
            "title_contained",
            "TitleContained",
        ] {
            assert_eq!(Role::parse(text), None, "{text:?}");
            assert_eq!(MatchReason::parse(text), None, "{text:?}");
        }
    }
}
