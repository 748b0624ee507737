//! What a notification says: a [`Message`] made from a [`Story`], the per-sink template that
//! turns it into text, the filters that decide whether a sink wants it, and the helpers that
//! cut text to a service's limits.
//!
//! Design decision: a message is a plain value taken from the story at delivery time (not at
//! enqueue time), so the mirrors and the episode that folded in during the hold window are in
//! it, and every sink's request is a pure function of it, tested without a network.

use chrono::{DateTime, Utc};

use super::wire::Update;
use crate::config::NotifyConfig;
use crate::dedupe::without_tracking;
use crate::model::{ItemKind, Story};
use crate::normalize::plain_text;
use crate::store::StoryChange;

/// The summary is a teaser, not the post: chat messages are read at a glance.
pub const SUMMARY_CHARS: usize = 280;

/// The text of a message when a sink has no `template`; each line whose placeholders are all
/// empty is left out, so a story without audio has no "Audio:" line.
pub const DEFAULT_TEMPLATE: &str = "{title}\n{link}\nAudio: {audio}\n{summary}\nvia {feeds}";

/// One member of the story as a notification shows it. Links are shown without tracking
/// parameters, like the merged feed's.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberLink {
    /// The configured feed name.
    pub feed: String,
    /// `origin` or `mirror`.
    pub role: &'static str,
    /// `post` or `episode`.
    pub kind: &'static str,
    /// What the member is to the work: `post`, `episode`, `copy`, `summary` or `coverage`, so
    /// a receiver can tell the writer's own pages from other sites' copies and write-ups.
    pub member_role: &'static str,
    /// Why the member is in the story ([`crate::model::MatchReason::as_str`]; `new` for the
    /// one that started it), so a receiver can weigh a merge it doubts.
    pub evidence: &'static str,
    /// How strongly that evidence matched, from 0 to 1.
    pub score: f64,
    pub title: String,
    pub link: Option<String>,
}

/// The story's audio (or video) enclosure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    pub url: String,
    pub mime_type: Option<String>,
    pub length: Option<u64>,
}

/// A story as every sink sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The story's Atom id: stable for the story's whole life.
    pub story_id: String,
    pub title: String,
    /// The lead's link, else the first member link, without tracking parameters.
    pub link: Option<String>,
    pub published: DateTime<Utc>,
    /// Plain text, at most [`SUMMARY_CHARS`] characters; empty when the story has none.
    pub summary: String,
    /// Lead first.
    pub members: Vec<MemberLink>,
    pub audio: Option<Audio>,
}

impl Message {
    /// `None` for a story without members (which the store never produces).
    pub fn from_story(story: &Story) -> Option<Message> {
        let lead = &story.members.first()?.stored;
        let summary = story
            .members
            .iter()
            .find_map(|m| {
                let item = &m.stored.item;
                let text = plain_text(item.summary.as_deref().or(item.content.as_deref())?);
                (!text.is_empty()).then_some(text)
            })
            .unwrap_or_default();
        Some(Message {
            story_id: story.atom_id.clone(),
            title: lead.item.title.clone(),
            link: lead.item.link.as_deref().map(without_tracking).or_else(|| {
                story
                    .members
                    .iter()
                    .find_map(|m| m.stored.item.link.as_deref().map(without_tracking))
            }),
            published: story.published(),
            summary: truncate_words(&summary, SUMMARY_CHARS),
            members: story
                .members
                .iter()
                .map(|m| MemberLink {
                    feed: m.stored.item.source.clone(),
                    role: m.stored.role.as_str(),
                    kind: match m.stored.item.kind {
                        ItemKind::Post => "post",
                        ItemKind::Episode => "episode",
                    },
                    member_role: m.member_role.as_str(),
                    evidence: m.reason.as_str(),
                    score: m.score,
                    title: m.stored.item.title.clone(),
                    link: m.stored.item.link.as_deref().map(without_tracking),
                })
                .collect(),
            audio: story.enclosure().map(|e| Audio {
                url: e.url.clone(),
                mime_type: e.mime_type.clone(),
                length: e.length,
            }),
        })
    }

    /// The message `notify test` sends: shaped like a real story, with audio, so every
    /// placeholder shows.
    pub fn sample(now: DateTime<Utc>) -> Message {
        Message {
            story_id: "urn:tributary:story:test".into(),
            title: "tributary test notification".into(),
            link: Some("https://github.com/tributary-rss/tributary".into()),
            published: now,
            summary: "If you can read this, tributary can reach this sink. New stories will \
                      look like this one."
                .into(),
            members: vec![
                MemberLink {
                    feed: "test-newsletter".into(),
                    role: "origin",
                    kind: "post",
                    member_role: "post",
                    evidence: "new",
                    score: 1.0,
                    title: "tributary test notification".into(),
                    link: Some("https://github.com/tributary-rss/tributary".into()),
                },
                MemberLink {
                    feed: "test-podcast".into(),
                    role: "origin",
                    kind: "episode",
                    member_role: "episode",
                    evidence: "title",
                    score: 1.0,
                    title: "tributary test notification (audio)".into(),
                    link: None,
                },
            ],
            audio: Some(Audio {
                url: "https://example.com/tributary-test.mp3".into(),
                mime_type: Some("audio/mpeg".into()),
                length: None,
            }),
        }
    }

    /// The distinct feeds that carried the story, lead's first.
    pub fn feeds(&self) -> Vec<&str> {
        let mut feeds: Vec<&str> = Vec::new();
        for member in &self.members {
            if !feeds.contains(&member.feed.as_str()) {
                feeds.push(&member.feed);
            }
        }
        feeds
    }
}

/// Renders `template`. Placeholder values pass through `escape` (the service's markup rules);
/// the template's own text is the service's markup and is left alone. A line with placeholders
/// that all came out empty is dropped; unknown `{names}` stay as written.
pub fn render(template: &str, message: &Message, escape: &dyn Fn(&str) -> String) -> String {
    let feeds = message.feeds().join(", ");
    let value = |name: &str| -> Option<String> {
        Some(match name {
            "title" => message.title.clone(),
            "link" => message.link.clone().unwrap_or_default(),
            "feeds" => feeds.clone(),
            "summary" => message.summary.clone(),
            "audio" => message
                .audio
                .as_ref()
                .map(|a| a.url.clone())
                .unwrap_or_default(),
            _ => return None,
        })
    };
    let mut lines = Vec::new();
    for line in template.split('\n') {
        let mut out = String::with_capacity(line.len());
        let (mut placeholders, mut filled) = (0, 0);
        let mut rest = line;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after
                .find('}')
                .and_then(|close| Some((close, value(&after[..close])?)))
            {
                Some((close, text)) => {
                    placeholders += 1;
                    if !text.trim().is_empty() {
                        filled += 1;
                    }
                    out.push_str(&escape(&text));
                    rest = &after[close + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        if placeholders == 0 || filled > 0 {
            lines.push(out);
        }
    }
    lines.join("\n").trim().to_owned()
}

/// What an edit says changed, one phrase per change (repeats once), values through `escape`:
/// `+ episode from podcast; + audio; merged with another story`.
pub fn describe_changes(changes: &[StoryChange], escape: &dyn Fn(&str) -> String) -> String {
    let mut phrases: Vec<String> = Vec::new();
    for change in changes {
        let phrase = match change {
            StoryChange::MemberAdded {
                feed, member_role, ..
            } => format!("+ {} from {}", escape(member_role), escape(feed)),
            StoryChange::AudioAdded { .. } => "+ audio".to_owned(),
            StoryChange::Merged { .. } => "merged with another story".to_owned(),
            StoryChange::MergedInto { .. } => "merged into another story".to_owned(),
        };
        if !phrases.contains(&phrase) {
            phrases.push(phrase);
        }
    }
    phrases.join("; ")
}

/// The text of an edit: the story rendered with `template` as it is now and a last line
/// saying what changed; or, for a story folded into another, a pointer to that story.
pub fn update_text(template: &str, update: &Update<'_>, escape: &dyn Fn(&str) -> String) -> String {
    let message = update.message;
    if update.merged_away.is_some() {
        return merged_pointer(message, escape);
    }
    format!(
        "{}\nUpdated: {}",
        render(template, message, escape),
        describe_changes(update.changes, escape)
    )
}

/// What a story folded into `into` says instead of itself.
pub fn merged_pointer(into: &Message, escape: &dyn Fn(&str) -> String) -> String {
    match &into.link {
        Some(link) => format!("Merged into: {}\n{}", escape(&into.title), escape(link)),
        None => format!("Merged into: {}", escape(&into.title)),
    }
}

/// Whether `sink` wants `story`, judged on the story as it is now. Each configured filter must
/// pass: `feeds` (a member from one of them), `keywords` (any, case-insensitive, in a member's
/// title or the summary) and `pattern` (matches a member's title or the summary).
pub fn wanted(sink: &NotifyConfig, message: &Message) -> bool {
    if !sink.feeds.is_empty() && !message.members.iter().any(|m| sink.feeds.contains(&m.feed)) {
        return false;
    }
    let texts = || {
        message
            .members
            .iter()
            .map(|m| m.title.as_str())
            .chain([message.title.as_str(), message.summary.as_str()])
    };
    if !sink.keywords.is_empty() {
        let lowered: Vec<String> = texts().map(str::to_lowercase).collect();
        let hit = sink.keywords.iter().any(|keyword| {
            let keyword = keyword.to_lowercase();
            lowered.iter().any(|text| text.contains(&keyword))
        });
        if !hit {
            return false;
        }
    }
    if let Some(pattern) = &sink.pattern {
        if !texts().any(|text| pattern.is_match(text)) {
            return false;
        }
    }
    true
}

/// At most `max` characters (not bytes), ending in `…` when cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// At most `max` bytes of UTF-8, cut on a character boundary, ending in `…` when cut.
pub fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mark = if max >= '…'.len_utf8() { "…" } else { "" };
    let mut end = max - mark.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{mark}", &text[..end])
}

/// Like [`truncate_chars`], but cut at the last word break when there is one in the second
/// half, so a teaser does not end mid-word.
pub fn truncate_words(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    let cut = match cut.rfind(char::is_whitespace) {
        Some(at) if at > cut.len() / 2 => cut[..at].trim_end().to_owned(),
        _ => cut,
    };
    format!("{cut}…")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{Item, MatchReason, Member, MemberRole, Role, StoredItem};

    pub(crate) fn essay() -> Message {
        Message {
            story_id: "urn:tributary:story:abc".into(),
            title: "Small models, long tails".into(),
            link: Some("https://www.longtail.example/p/small-models-long-tails".into()),
            published: DateTime::from_timestamp(1_776_254_400, 0).expect("time"),
            summary: "Why the cheapest models end up doing most of the work.".into(),
            members: vec![
                MemberLink {
                    feed: "newsletter".into(),
                    role: "origin",
                    kind: "post",
                    member_role: "post",
                    evidence: "new",
                    score: 1.0,
                    title: "Small models, long tails".into(),
                    link: Some("https://www.longtail.example/p/small-models-long-tails".into()),
                },
                MemberLink {
                    feed: "podcast".into(),
                    role: "origin",
                    kind: "episode",
                    member_role: "episode",
                    evidence: "title",
                    score: 1.0,
                    title: "Small models, long tails".into(),
                    link: Some("https://www.longtail.example/p/small-models-long-tails".into()),
                },
                MemberLink {
                    feed: "curation".into(),
                    role: "mirror",
                    kind: "post",
                    member_role: "copy",
                    evidence: "title",
                    score: 0.93,
                    title: "Small Models, Long Tails | AI Digest".into(),
                    link: Some(
                        "https://digest.example/articles/small-models-long-tails-4471".into(),
                    ),
                },
            ],
            audio: Some(Audio {
                url: "https://audio.longtail.example/small-models-long-tails.mp3".into(),
                mime_type: Some("audio/mpeg".into()),
                length: Some(11_223_344),
            }),
        }
    }

    pub(crate) fn sink(kind: crate::config::SinkKind) -> NotifyConfig {
        NotifyConfig {
            name: "team".into(),
            kind,
            url: crate::notify::SinkUrl::new(
                url::Url::parse("https://hooks.example/T1/B2").expect("url"),
            ),
            secret: Some("s3cret".into()),
            token: Some("tok".into()),
            room: Some("!room:example.org".into()),
            template: None,
            feeds: vec![],
            keywords: vec![],
            pattern: None,
            hold: std::time::Duration::ZERO,
            digest: false,
            notify_backfill: false,
            max_age: std::time::Duration::from_secs(3600),
            channel: None,
            followups: true,
        }
    }

    fn id(text: &str) -> String {
        text.to_owned()
    }

    fn member(source: &str, link: &str, role: MemberRole, reason: MatchReason) -> Member {
        let at = DateTime::from_timestamp(1_776_254_400, 0).expect("time");
        Member {
            stored: StoredItem {
                id: 1,
                item: Item {
                    source: source.into(),
                    guid: link.into(),
                    link: Some(link.into()),
                    title: format!("Small models, long tails ({source})"),
                    authors: vec![],
                    published: Some(at),
                    updated: None,
                    summary: None,
                    content: None,
                    categories: vec![],
                    kind: ItemKind::Post,
                    enclosure: None,
                    duration: None,
                    image: None,
                    podcast: Default::default(),
                },
                role: if role == MemberRole::Post {
                    Role::Origin
                } else {
                    Role::Mirror
                },
                first_seen: at,
                changed_at: at,
            },
            member_role: role,
            reason,
            score: if reason == MatchReason::Quotes {
                0.4
            } else {
                1.0
            },
        }
    }

    #[test]
    fn a_message_names_each_members_role_and_evidence_and_drops_tracking_parameters() {
        let story = Story {
            id: 1,
            atom_id: "urn:tributary:story:1".into(),
            members: vec![
                member(
                    "newsletter",
                    "https://www.longtail.example/p/small-models?utm_source=rss",
                    MemberRole::Post,
                    MatchReason::New,
                ),
                member(
                    "digest",
                    "https://digest.example/item?utm_source=x&id=3",
                    MemberRole::Coverage,
                    MatchReason::Quotes,
                ),
            ],
            created_at: DateTime::from_timestamp(1_776_254_400, 0).expect("time"),
        };
        let message = Message::from_story(&story).expect("a story with members");
        assert_eq!(
            message.link.as_deref(),
            Some("https://www.longtail.example/p/small-models")
        );
        let links: Vec<_> = message.members.iter().map(|m| m.link.as_deref()).collect();
        assert_eq!(
            links,
            [
                Some("https://www.longtail.example/p/small-models"),
                Some("https://digest.example/item?id=3")
            ]
        );
        let digest = &message.members[1];
        assert_eq!(
            (
                digest.role,
                digest.member_role,
                digest.evidence,
                digest.score
            ),
            ("mirror", "coverage", "quotes", 0.4)
        );
        assert_eq!(digest.title, "Small models, long tails (digest)");
    }

    #[test]
    fn the_default_template_says_there_is_audio() {
        let text = render(DEFAULT_TEMPLATE, &essay(), &id);
        assert_eq!(
            text,
            "Small models, long tails\n\
             https://www.longtail.example/p/small-models-long-tails\n\
             Audio: https://audio.longtail.example/small-models-long-tails.mp3\n\
             Why the cheapest models end up doing most of the work.\n\
             via newsletter, podcast, curation"
        );
    }

    #[test]
    fn lines_whose_placeholders_are_all_empty_are_dropped() {
        let mut message = essay();
        message.audio = None;
        message.summary.clear();
        let text = render(DEFAULT_TEMPLATE, &message, &id);
        assert!(!text.contains("Audio"), "{text}");
        assert_eq!(text.lines().count(), 3, "{text}");
        // A line without placeholders stays, and so do unknown braces.
        let text = render("New!\n{nope} {title}\n{audio}", &message, &id);
        assert_eq!(text, "New!\n{nope} Small models, long tails");
    }

    #[test]
    fn values_are_escaped_but_the_template_is_not() {
        let mut message = essay();
        message.title = "a <b> & c".into();
        let text = render("*{title}*", &message, &|v: &str| v.replace('<', "&lt;"));
        assert_eq!(text, "*a &lt;b> & c*");
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate_chars("héllo", 5), "héllo");
        assert_eq!(truncate_chars("héllo wörld", 5), "héll…");
        assert_eq!(truncate_chars("héllo wörld", 5).chars().count(), 5);
        let cut = truncate_bytes("ééééé", 6);
        assert!(cut.len() <= 6, "{cut}");
        assert_eq!(cut, "é…");
        assert_eq!(truncate_bytes("abc", 3), "abc");
        assert_eq!(truncate_bytes("🎧🎧🎧", 9), "🎧…");
        assert_eq!(
            truncate_words("the quick brown fox jumps", 18),
            "the quick brown…"
        );
    }

    #[test]
    fn summaries_are_plain_text() {
        // The project's one HTML-to-text function, as the JSON Feed summary uses it.
        assert_eq!(
            plain_text("<p>Fish &amp; chips&nbsp;<b>now</b></p><p>&mdash;&#x41;</p>"),
            "Fish & chips now —A"
        );
    }

    #[test]
    fn filters_look_at_feeds_keywords_and_pattern() {
        let message = essay();
        let mut sink = sink(crate::config::SinkKind::Slack);
        assert!(wanted(&sink, &message));
        sink.feeds = vec!["podcast".into()];
        assert!(wanted(&sink, &message));
        sink.feeds = vec!["aggregator".into()];
        assert!(!wanted(&sink, &message));
        sink.feeds.clear();
        sink.keywords = vec!["zebra".into(), "CHEAPEST".into()];
        assert!(wanted(&sink, &message), "a keyword in the summary");
        sink.keywords = vec!["AI Digest".into()];
        assert!(wanted(&sink, &message), "a keyword in a mirror's title");
        sink.keywords = vec!["zebra".into()];
        assert!(!wanted(&sink, &message));
        sink.keywords.clear();
        sink.pattern = Some(regex::Regex::new(r"(?i)long\s+tails$").expect("regex"));
        assert!(wanted(&sink, &message));
        sink.pattern = Some(regex::Regex::new(r"^Open thread").expect("regex"));
        assert!(!wanted(&sink, &message));
    }

    #[test]
    fn an_edit_says_what_changed_or_points_at_the_story_it_joined() {
        let message = essay();
        let changes = [
            StoryChange::MemberAdded {
                feed: "podcast".into(),
                member_role: "episode".into(),
                title: "t".into(),
                link: None,
            },
            StoryChange::AudioAdded {
                feed: "podcast".into(),
                url: "https://a.example/x.mp3".into(),
            },
            StoryChange::MemberAdded {
                feed: "c<b>".into(),
                member_role: "copy".into(),
                title: "t".into(),
                link: None,
            },
            StoryChange::AudioAdded {
                feed: "podcast".into(),
                url: "https://a.example/x.mp3".into(),
            },
            StoryChange::Merged {
                other: "urn:x".into(),
            },
        ];
        let escape = |v: &str| v.replace('<', "&lt;");
        let update = Update {
            message: &message,
            changes: &changes,
            revision: 1,
            remote_id: None,
            merged_away: None,
        };
        let text = update_text("{title}", &update, &escape);
        assert_eq!(
            text,
            "Small models, long tails\nUpdated: + episode from podcast; + audio; + copy from \
             c&lt;b>; merged with another story"
        );
        let pointer = Update {
            merged_away: Some("urn:old"),
            ..update
        };
        assert_eq!(
            update_text("{title}", &pointer, &escape),
            "Merged into: Small models, long tails\nhttps://www.longtail.example/p/small-models-long-tails"
        );
    }

    #[test]
    fn feeds_are_listed_once_each_lead_first() {
        let mut message = essay();
        message.members.push(message.members[0].clone());
        assert_eq!(message.feeds(), ["newsletter", "podcast", "curation"]);
    }
}
