//! `discord`: a webhook execution (`POST {url}?wait=true`) with one embed per message.
//!
//! Design decision: the embed carries the story (title linked to the post, teaser, audio,
//! members, date) and `content` is used only when the sink sets a `template`, so a default
//! message is one clean card. Mentions are switched off (`allowed_mentions.parse = []`): a
//! feed title saying `@everyone` must not ping a server. Discord's limits (content 2,000;
//! embed title 256, description 4,096, field value 1,024, footer 2,048, all text 6,000) are
//! applied by construction and checked in the tests.

use chrono::SecondsFormat;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::SinkUrl;
use super::message::{Message, render, truncate_chars};
use super::pace::Pace;
use super::retry::seconds;
use super::wire::{Built, Limit, Method, Outgoing, Payload, Service, fit_lines};
use crate::config::NotifyConfig;

/// Discord's webhooks allow 5 requests per 2 seconds.
pub const SERVICE: Service = Service {
    build: |sink, payload, _, _| Ok(request(sink, payload)),
    retry_after,
    pace: Some(Pace {
        burst: 5,
        every: std::time::Duration::from_millis(400),
    }),
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

fn story_embed(message: &Message) -> Value {
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

pub fn request(sink: &NotifyConfig, payload: &Payload<'_>) -> Built {
    let (embed, included) = match payload {
        Payload::Story(message) | Payload::Test(message) => (story_embed(message), 1),
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
        let message = match payload {
            Payload::Story(m) | Payload::Test(m) => Some(*m),
            Payload::Digest(_) => None,
        };
        if let Some(message) = message {
            let content =
                truncate_chars(&render(template, message, &|v| v.to_owned()), CONTENT_MAX);
            if !content.is_empty() {
                body["content"] = json!(content);
            }
        }
    }
    let mut url = sink.url.expose().clone();
    // wait=true: Discord answers only once the message is stored, so a 2xx is a real receipt.
    if !url.query_pairs().any(|(k, _)| k == "wait") {
        url.query_pairs_mut().append_pair("wait", "true");
    }
    Built {
        outgoing: Outgoing {
            method: Method::Post,
            url: SinkUrl::new(url),
            headers: HeaderMap::from_iter([(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )]),
            body: serde_json::to_vec(&body).unwrap_or_default(),
        },
        included,
    }
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
        let built = request(&sink(SinkKind::Discord), &Payload::Story(&message));
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
        let built = request(&config, &Payload::Story(&message));
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
        let built = request(&sink(SinkKind::Discord), &Payload::Digest(&messages));
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
