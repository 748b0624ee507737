//! `discord`: a webhook execution (`POST {url}?wait=true`) with one embed per message.
//!
//! Design decision: the embed carries the story (title linked to the post, teaser, audio,
//! members, date) and `content` is used only when the sink sets a `template`, so a default
//! message is one clean card. Mentions are switched off (`allowed_mentions.parse = []`): a
//! feed title saying `@everyone` must not ping a server. Discord's limits (content 2,000;
//! embed title 256, description 4,096, field value 1,024, footer 2,048, all text 6,000) are
//! applied by construction and checked in the tests.
//!
//! A story that changes later is an edit of the same message: `wait=true` makes Discord
//! answer with the message, whose `id` is kept, and the edit is
//! `PATCH /webhooks/{id}/{token}/messages/{message_id}` with the card as it is now and an
//! "Updated" field; a story folded into another becomes a card pointing at that one.

use chrono::SecondsFormat;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::message::{Message, describe_changes, render, truncate_chars, update_text};
use super::pace::Pace;
use super::retry::seconds;
use super::wire::{Built, Limit, Method, Outgoing, Payload, Service, fit_lines, json_field};
use super::{NotifyError, SinkUrl};
use crate::config::NotifyConfig;

/// Discord's webhooks allow 5 requests per 2 seconds.
pub const SERVICE: Service = Service {
    build: |sink, payload, _, _| request(sink, payload),
    retry_after,
    pace: Some(Pace {
        burst: 5,
        every: std::time::Duration::from_millis(400),
    }),
    receipt: |_, body| Ok(json_field(body, "id")),
    edits: true,
};

pub const CONTENT_MAX: usize = 2_000;
pub const TITLE_MAX: usize = 256;
pub const DESCRIPTION_MAX: usize = 4_096;
pub const FIELD_VALUE_MAX: usize = 1_024;
pub const FOOTER_MAX: usize = 2_048;
pub const EMBED_TOTAL_MAX: usize = 6_000;

/// Stories in one digest embed, whatever fits under this many.
const DIGEST_MAX: usize = 25;

/// A light-handed escape for Discord markdown inside link labels: `[` and `]` would end the
/// label early.
fn label(text: &str) -> String {
    text.replace('[', "(").replace(']', ")")
}

fn is_web(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// The footer lists the feeds; it is a byline, not a place for 2,048 characters.
const FOOTER_BUDGET: usize = 256;

/// The story's card; `updated` (what changed) becomes a field of its own.
fn story_embed(message: &Message, updated: Option<&str>) -> Value {
    let mut embed = json!({
        "title": truncate_chars(&message.title, TITLE_MAX),
        "timestamp": message.published.to_rfc3339_opts(SecondsFormat::Secs, true),
        "footer": { "text": truncate_chars(&format!("via {}", message.feeds().join(", ")), FOOTER_BUDGET.min(FOOTER_MAX)) },
    });
    if let Some(link) = message.link.as_deref().filter(|l| is_web(l)) {
        embed["url"] = json!(link);
    }
    let mut fields = Vec::new();
    if let Some(audio) = message.audio.as_ref().filter(|a| is_web(&a.url)) {
        let value = format!("[Listen]({})", audio.url);
        if value.chars().count() <= FIELD_VALUE_MAX {
            fields.push(json!({ "name": "Audio", "value": value, "inline": false }));
        }
    }
    let links: Vec<String> = message
        .members
        .iter()
        .filter_map(|m| {
            let link = m.link.as_deref().filter(|l| is_web(l))?;
            Some(format!("[{}]({link})", label(&m.feed)))
        })
        .collect();
    if !links.is_empty() {
        let (value, _) = fit_lines(&links, Limit::Chars(FIELD_VALUE_MAX));
        fields.push(json!({ "name": "Links", "value": value, "inline": false }));
    }
    if let Some(updated) = updated.filter(|u| !u.is_empty()) {
        let value = truncate_chars(updated, FIELD_VALUE_MAX);
        fields.push(json!({ "name": "Updated", "value": value, "inline": false }));
    }
    if !fields.is_empty() {
        embed["fields"] = Value::Array(fields);
    }
    // The description takes what the 6,000 total leaves (the rest is bounded well below it).
    let budget = EMBED_TOTAL_MAX
        .saturating_sub(embed_total(&embed))
        .min(DESCRIPTION_MAX);
    if !message.summary.is_empty() && budget > 0 {
        embed["description"] = json!(truncate_chars(&message.summary, budget));
    }
    embed
}

/// The characters Discord counts towards an embed's 6,000.
pub fn embed_total(embed: &Value) -> usize {
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let mut total = chars(&embed["title"]) + chars(&embed["description"]);
    total += chars(&embed["footer"]["text"]) + chars(&embed["author"]["name"]);
    if let Some(fields) = embed["fields"].as_array() {
        for field in fields {
            total += chars(&field["name"]) + chars(&field["value"]);
        }
    }
    total
}

pub fn request(sink: &NotifyConfig, payload: &Payload<'_>) -> Result<Built, NotifyError> {
    let (embed, included) = match payload {
        Payload::Story(message) | Payload::Test(message) => (story_embed(message, None), 1),
        Payload::Update(update) if update.merged_away.is_some() => {
            let into = update.message;
            let mut embed = json!({
                "title": truncate_chars(&format!("Merged into: {}", into.title), TITLE_MAX),
                "description": "The same work as another story, which carries on from here.",
            });
            if let Some(link) = into.link.as_deref().filter(|l| is_web(l)) {
                embed["url"] = json!(link);
            }
            (embed, 1)
        }
        Payload::Update(update) => {
            let changes = describe_changes(update.changes, &|v| v.to_owned());
            (story_embed(update.message, Some(&changes)), 1)
        }
        Payload::Digest(messages) => {
            let lines: Vec<String> = messages
                .iter()
                .take(DIGEST_MAX)
                .map(|m| {
                    let title = label(&truncate_chars(&m.title, 200));
                    match m.link.as_deref().filter(|l| is_web(l)) {
                        Some(link) => format!("• [{title}]({link})"),
                        None => format!("• {title}"),
                    }
                })
                .collect();
            let (description, included) = fit_lines(&lines, Limit::Chars(DESCRIPTION_MAX));
            (
                json!({
                    "title": format!("{included} new {}", if included == 1 { "story" } else { "stories" }),
                    "description": description,
                }),
                included,
            )
        }
    };
    let mut body = json!({
        "embeds": [embed],
        "allowed_mentions": { "parse": [] },
    });
    if let Some(template) = sink.template.as_deref() {
        let plain = |v: &str| v.to_owned();
        let text = match payload {
            Payload::Story(m) | Payload::Test(m) => Some(render(template, m, &plain)),
            Payload::Update(update) => Some(update_text(template, update, &plain)),
            Payload::Digest(_) => None,
        };
        if let Some(text) = text {
            let content = truncate_chars(&text, CONTENT_MAX);
            // An edit sets the content even when empty, so a template's text cannot outlive
            // the story it described.
            if !content.is_empty() || matches!(payload, Payload::Update(_)) {
                body["content"] = json!(content);
            }
        }
    }
    let mut url = sink.url.expose().clone();
    let method = match payload {
        Payload::Update(update) => {
            let id = update.require_remote_id(sink)?;
            let path = format!("{}/messages/{id}", url.path().trim_end_matches('/'));
            url.set_path(&path);
            // Only `thread_id` means anything to an edit.
            let thread: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k == "thread_id")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.set_query(None);
            if !thread.is_empty() {
                url.query_pairs_mut().extend_pairs(thread);
            }
            Method::Patch
        }
        _ => {
            // wait=true: Discord answers only once the message is stored, with the message,
            // so a 2xx is a real receipt and carries the id an edit needs.
            if !url.query_pairs().any(|(k, _)| k == "wait") {
                url.query_pairs_mut().append_pair("wait", "true");
            }
            Method::Post
        }
    };
    Ok(Built {
        outgoing: Outgoing {
            method,
            url: SinkUrl::new(url),
            headers: HeaderMap::from_iter([(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )]),
            body: serde_json::to_vec(&body).unwrap_or_default(),
        },
        included,
    })
}

/// Discord's 429 body: `{"message": ..., "retry_after": 1.234, "global": false}`, seconds as
/// a float; else its `X-RateLimit-Reset-After` header, also in float seconds.
pub fn retry_after(headers: &HeaderMap, body: &[u8]) -> Option<std::time::Duration> {
    let from_body = || {
        let json: Value = serde_json::from_slice(body).ok()?;
        seconds(json.get("retry_after")?.as_f64()?)
    };
    from_body().or_else(|| {
        let value = headers.get("x-ratelimit-reset-after")?.to_str().ok()?;
        seconds(value.trim().parse().ok()?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SinkKind;
    use crate::notify::message::tests::{essay, sink};
    use std::time::Duration;

    fn json_of(built: &Built) -> Value {
        serde_json::from_slice(&built.outgoing.body).expect("json")
    }

    #[test]
    fn a_story_is_one_embed_with_audio_and_links() {
        let message = essay();
        let built = request(&sink(SinkKind::Discord), &Payload::Story(&message)).expect("built");
        assert_eq!(
            built.outgoing.url.expose().as_str(),
            "https://hooks.example/T1/B2?wait=true"
        );
        let json = json_of(&built);
        assert!(json.get("content").is_none(), "no content by default");
        assert_eq!(json["allowed_mentions"]["parse"], json!([]));
        let embed = &json["embeds"][0];
        assert_eq!(embed["title"], "Small models, long tails");
        assert_eq!(
            embed["url"],
            "https://www.longtail.example/p/small-models-long-tails"
        );
        assert_eq!(embed["timestamp"], "2026-04-15T12:00:00Z");
        assert_eq!(embed["fields"][0]["name"], "Audio");
        assert_eq!(
            embed["fields"][0]["value"],
            "[Listen](https://audio.longtail.example/small-models-long-tails.mp3)"
        );
        assert!(
            embed["fields"][1]["value"]
                .as_str()
                .expect("links")
                .contains(
                    "[curation](https://digest.example/articles/small-models-long-tails-4471)"
                )
        );
        assert_eq!(embed["footer"]["text"], "via newsletter, podcast, curation");
    }

    #[test]
    fn every_limit_holds_for_oversized_input() {
        let mut message = essay();
        message.title = "T".repeat(1_000);
        message.summary = "é".repeat(9_000);
        for i in 0..200 {
            let mut member = message.members[0].clone();
            member.feed = format!("feed-with-a-rather-long-name-{i}");
            member.link = Some(format!("https://example.com/{}", "x".repeat(50)));
            message.members.push(member);
        }
        let mut config = sink(SinkKind::Discord);
        config.template = Some("{summary}{summary}".into());
        let built = request(&config, &Payload::Story(&message)).expect("built");
        let json = json_of(&built);
        let embed = &json["embeds"][0];
        let chars = |v: &Value| v.as_str().expect("string").chars().count();
        assert_eq!(chars(&json["content"]), CONTENT_MAX);
        assert_eq!(chars(&embed["title"]), TITLE_MAX);
        assert!(chars(&embed["description"]) <= DESCRIPTION_MAX);
        assert!(chars(&embed["fields"][1]["value"]) <= FIELD_VALUE_MAX);
        assert!(chars(&embed["footer"]["text"]) <= FOOTER_MAX);
        assert!(
            embed_total(embed) <= EMBED_TOTAL_MAX,
            "{}",
            embed_total(embed)
        );
    }

    #[test]
    fn a_digest_fits_the_description_and_counts_what_it_shows() {
        let messages: Vec<Message> = (0..40)
            .map(|i| {
                let mut m = essay();
                m.title = format!("Story {i} [draft]");
                m.link = Some(format!("https://example.com/{i}/{}", "p".repeat(180)));
                m
            })
            .collect();
        let built = request(&sink(SinkKind::Discord), &Payload::Digest(&messages)).expect("built");
        let json = json_of(&built);
        let description = json["embeds"][0]["description"]
            .as_str()
            .expect("description");
        assert!(description.chars().count() <= DESCRIPTION_MAX);
        assert!(
            built.included < 25 && built.included > 5,
            "{}",
            built.included
        );
        assert_eq!(description.lines().count(), built.included);
        assert!(description.starts_with("• [Story 0 (draft)](https://example.com/0/"));
        assert_eq!(
            json["embeds"][0]["title"],
            format!("{} new stories", built.included)
        );
    }

    #[test]
    fn an_edit_patches_the_message_the_post_answered_with() {
        let message = essay();
        let mut config = sink(SinkKind::Discord);
        config.url = SinkUrl::new(
            url::Url::parse("https://discord.example/api/webhooks/1/tok?wait=true&thread_id=7")
                .expect("url"),
        );
        let changes = [crate::store::StoryChange::MemberAdded {
            feed: "podcast".into(),
            member_role: "episode".into(),
            title: "t".into(),
            link: None,
        }];
        let update = crate::notify::wire::Update {
            message: &message,
            changes: &changes,
            revision: 1,
            remote_id: Some("1122334455"),
            merged_away: None,
        };
        let built = request(&config, &Payload::Update(&update)).expect("built");
        assert_eq!(built.outgoing.method, Method::Patch);
        assert_eq!(
            built.outgoing.url.expose().as_str(),
            "https://discord.example/api/webhooks/1/tok/messages/1122334455?thread_id=7"
        );
        let json = json_of(&built);
        let fields = json["embeds"][0]["fields"].as_array().expect("fields");
        let updated = fields
            .iter()
            .find(|f| f["name"] == "Updated")
            .expect("Updated");
        assert_eq!(updated["value"], "+ episode from podcast");
        assert!(embed_total(&json["embeds"][0]) <= EMBED_TOTAL_MAX);
        let pointer = crate::notify::wire::Update {
            merged_away: Some("urn:old"),
            ..update
        };
        let json = json_of(&request(&config, &Payload::Update(&pointer)).expect("built"));
        assert_eq!(
            json["embeds"][0]["title"],
            "Merged into: Small models, long tails"
        );
        assert_eq!(
            json["embeds"][0]["url"],
            "https://www.longtail.example/p/small-models-long-tails"
        );
        let none = crate::notify::wire::Update {
            remote_id: None,
            ..update
        };
        assert!(request(&config, &Payload::Update(&none)).is_err());
        assert_eq!(
            (SERVICE.receipt)(&config, br#"{"id":"1122334455","type":0}"#),
            Ok(Some("1122334455".to_owned()))
        );
    }

    #[test]
    fn retry_after_is_read_from_the_json_body_in_float_seconds() {
        assert_eq!(
            retry_after(&HeaderMap::new(), br#"{"message": "You are being rate limited.", "retry_after": 2.5, "global": false}"#),
            Some(Duration::from_millis(2_500))
        );
        assert_eq!(
            retry_after(&HeaderMap::new(), br#"{"retry_after": 0.064}"#),
            Some(Duration::from_millis(64))
        );
        assert_eq!(
            retry_after(&HeaderMap::new(), br#"{"retry_after": -1}"#),
            None
        );
        assert_eq!(
            retry_after(&HeaderMap::new(), br#"{"retry_after": "soon"}"#),
            None
        );
        assert_eq!(
            retry_after(&HeaderMap::new(), b"<html>rate limited</html>"),
            None
        );
    }
}
