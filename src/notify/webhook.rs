//! `webhook`: a JSON POST for programs, signed, with an idempotency key.
//!
//! Design decision: the body is the same bytes on every retry of a delivery (it carries no
//! send time), and the key travels both in the `Idempotency-Key` header and inside the signed
//! body, so a receiver can trust it; only the signature header's timestamp changes per attempt.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::hmac::{self, SIGNATURE_HEADER};
use super::message::{DEFAULT_TEMPLATE, Message, render};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use secrecy::ExposeSecret;

use super::NotifyError;
use super::message::update_text;
use super::wire::{
    Built, Method, Outgoing, Payload, Service, header_value, no_receipt, no_retry_after,
};
use crate::config::NotifyConfig;
use crate::store::StoryChange;

/// Ours to receive: whoever runs the receiver sized it, so it is not paced.
pub const SERVICE: Service = Service {
    build: request,
    retry_after: no_retry_after,
    pace: None,
    receipt: no_receipt,
    edits: false,
};

/// The payload's format version; bumped only for changes a receiver could trip on.
pub const VERSION: u32 = 1;

/// Stories in one digest body: a receiver's body limit is unknown, so stay modest.
const DIGEST_MAX: usize = 50;

#[derive(Serialize)]
struct Body<'a> {
    event: &'static str,
    version: u32,
    idempotency_key: &'a str,
    /// `story.updated`: the id of the story the `story.new` announced. It differs from
    /// `story.id` only when that story was folded into this one (`merged_into` in `changes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    story_id: Option<&'a str>,
    /// `story.updated`: 1 for the first update of a story, then 2, 3 ...
    #[serde(skip_serializing_if = "Option::is_none")]
    revision: Option<u32>,
    /// `story.updated`: what changed since the last event about the story, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<&'a [StoryChange]>,
    /// The message rendered with the sink's template, for receivers that forward it as is.
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    story: Option<StoryJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stories: Option<Vec<StoryJson<'a>>>,
}

#[derive(Serialize)]
struct StoryJson<'a> {
    id: &'a str,
    title: &'a str,
    link: Option<&'a str>,
    published: String,
    summary: &'a str,
    members: Vec<MemberJson<'a>>,
    enclosure: Option<EnclosureJson<'a>>,
}

#[derive(Serialize)]
struct MemberJson<'a> {
    feed: &'a str,
    role: &'a str,
    kind: &'a str,
    member_role: &'a str,
    title: &'a str,
    link: Option<&'a str>,
    evidence: &'a str,
    score: f64,
}

#[derive(Serialize)]
struct EnclosureJson<'a> {
    url: &'a str,
    #[serde(rename = "type")]
    mime_type: Option<&'a str>,
    length: Option<u64>,
}

fn story_json(message: &Message) -> StoryJson<'_> {
    StoryJson {
        id: &message.story_id,
        title: &message.title,
        link: message.link.as_deref(),
        published: message.published.to_rfc3339_opts(SecondsFormat::Secs, true),
        summary: &message.summary,
        members: message
            .members
            .iter()
            .map(|m| MemberJson {
                feed: &m.feed,
                role: m.role,
                kind: m.kind,
                member_role: m.member_role,
                title: &m.title,
                link: m.link.as_deref(),
                evidence: m.evidence,
                score: m.score,
            })
            .collect(),
        enclosure: message.audio.as_ref().map(|a| EnclosureJson {
            url: &a.url,
            mime_type: a.mime_type.as_deref(),
            length: a.length,
        }),
    }
}

pub fn request(
    sink: &NotifyConfig,
    payload: &Payload<'_>,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Built, NotifyError> {
    let template = sink.template.as_deref().unwrap_or(DEFAULT_TEMPLATE);
    let plain = |text: &str| text.to_owned();
    let (body, included) = match payload {
        Payload::Story(message) | Payload::Test(message) => (
            Body {
                event: if matches!(payload, Payload::Test(_)) {
                    "test"
                } else {
                    "story.new"
                },
                version: VERSION,
                idempotency_key: key,
                story_id: None,
                revision: None,
                changes: None,
                text: render(template, message, &plain),
                story: Some(story_json(message)),
                stories: None,
            },
            1,
        ),
        Payload::Update(update) => (
            Body {
                event: "story.updated",
                version: VERSION,
                idempotency_key: key,
                story_id: Some(update.merged_away.unwrap_or(&update.message.story_id)),
                revision: Some(update.revision),
                changes: Some(update.changes),
                text: update_text(template, update, &plain),
                story: Some(story_json(update.message)),
                stories: None,
            },
            1,
        ),
        Payload::Digest(messages) => {
            let messages = &messages[..messages.len().min(DIGEST_MAX)];
            let text = messages
                .iter()
                .map(|m| render(template, m, &plain))
                .collect::<Vec<_>>()
                .join("\n\n");
            (
                Body {
                    event: "story.digest",
                    version: VERSION,
                    idempotency_key: key,
                    story_id: None,
                    revision: None,
                    changes: None,
                    text,
                    story: None,
                    stories: Some(messages.iter().map(story_json).collect()),
                },
                messages.len(),
            )
        }
    };
    // Serialising plain strings and numbers cannot fail; an empty body would be refused loudly.
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        "idempotency-key",
        header_value(sink, "Idempotency-Key", key)?,
    );
    headers.insert(
        "tributary-event",
        HeaderValue::from_static(match payload {
            Payload::Story(_) => "story.new",
            Payload::Update(_) => "story.updated",
            Payload::Digest(_) => "story.digest",
            Payload::Test(_) => "test",
        }),
    );
    if let Some(secret) = &sink.secret {
        let signature = hmac::sign(secret.expose_secret().as_bytes(), now.timestamp(), &body)
            .map_err(|e| NotifyError::Build {
                sink: sink.name.clone(),
                detail: format!("cannot sign with the secret: {e}"),
            })?;
        headers.insert(
            SIGNATURE_HEADER,
            header_value(sink, SIGNATURE_HEADER, &signature)?,
        );
    }
    Ok(Built {
        outgoing: Outgoing {
            method: Method::Post,
            url: sink.url.clone(),
            headers,
            body,
        },
        included,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SinkKind;
    use crate::notify::message::tests::{essay, sink};

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_776_300_000, 0).expect("time")
    }

    fn header<'a>(out: &'a Outgoing, name: &str) -> Option<&'a str> {
        out.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn the_payload_names_the_story_every_member_and_the_enclosure() {
        let message = essay();
        let built = request(
            &sink(SinkKind::Webhook),
            &Payload::Story(&message),
            "k1",
            now(),
        )
        .expect("built");
        let json: serde_json::Value =
            serde_json::from_slice(&built.outgoing.body).expect("json body");
        assert_eq!(json["event"], "story.new");
        assert_eq!(json["version"], 1);
        assert_eq!(json["idempotency_key"], "k1");
        let story = &json["story"];
        assert_eq!(story["id"], "urn:tributary:story:abc");
        assert_eq!(story["title"], "Small models, long tails");
        assert_eq!(
            story["link"],
            "https://www.longtail.example/p/small-models-long-tails"
        );
        assert_eq!(story["published"], "2026-04-15T12:00:00Z");
        assert_eq!(
            story["summary"],
            "Why the cheapest models end up doing most of the work."
        );
        let members = story["members"].as_array().expect("members");
        assert_eq!(members.len(), 3);
        assert_eq!(members[2]["feed"], "curation");
        assert_eq!(members[2]["role"], "mirror");
        assert_eq!(
            members[2]["link"],
            "https://digest.example/articles/small-models-long-tails-4471"
        );
        assert_eq!(members[1]["kind"], "episode");
        assert_eq!(members[1]["member_role"], "episode");
        assert_eq!(members[2]["member_role"], "copy");
        assert_eq!(members[0]["evidence"], "new");
        assert_eq!(members[2]["evidence"], "title");
        assert_eq!(members[0]["score"], 1.0);
        assert_eq!(members[2]["score"], 0.93);
        assert_eq!(story["enclosure"]["type"], "audio/mpeg");
        assert_eq!(story["enclosure"]["length"], 11_223_344);
        assert!(
            json["text"]
                .as_str()
                .expect("text")
                .contains("Audio: https://")
        );
        assert_eq!(built.included, 1);
        assert_eq!(built.outgoing.method, Method::Post);
        assert_eq!(
            header(&built.outgoing, "content-type"),
            Some("application/json")
        );
        assert_eq!(header(&built.outgoing, "idempotency-key"), Some("k1"));
    }

    #[test]
    fn the_signature_covers_timestamp_and_body_and_the_body_is_stable_across_retries() {
        let message = essay();
        let config = sink(SinkKind::Webhook);
        let first = request(&config, &Payload::Story(&message), "k1", now()).expect("built");
        let later = now() + chrono::Duration::seconds(90);
        let retry = request(&config, &Payload::Story(&message), "k1", later).expect("built");
        assert_eq!(first.outgoing.body, retry.outgoing.body);
        let signature = header(&first.outgoing, "tributary-signature").expect("signed");
        assert_eq!(
            hmac::verify(b"s3cret", signature, &first.outgoing.body, now(), 300),
            Ok(())
        );
        let retry_signature = header(&retry.outgoing, "tributary-signature").expect("signed");
        assert!(retry_signature.starts_with(&format!("t={},", later.timestamp())));
        assert_eq!(
            hmac::verify(b"s3cret", retry_signature, &retry.outgoing.body, later, 300),
            Ok(())
        );
    }

    #[test]
    fn an_update_names_the_announced_story_its_revision_and_what_changed() {
        let message = essay();
        let changes = [
            StoryChange::MemberAdded {
                feed: "podcast".into(),
                member_role: "episode".into(),
                title: "Small models, long tails".into(),
                link: None,
            },
            StoryChange::Merged {
                other: "urn:tributary:story:old".into(),
            },
        ];
        let update = crate::notify::wire::Update {
            message: &message,
            changes: &changes,
            revision: 2,
            remote_id: None,
            merged_away: None,
        };
        let config = sink(SinkKind::Webhook);
        let built = request(&config, &Payload::Update(&update), "k2", now()).expect("built");
        let json: serde_json::Value = serde_json::from_slice(&built.outgoing.body).expect("json");
        assert_eq!(json["event"], "story.updated");
        assert_eq!(
            header(&built.outgoing, "tributary-event"),
            Some("story.updated")
        );
        assert_eq!(header(&built.outgoing, "idempotency-key"), Some("k2"));
        assert_eq!(json["story_id"], "urn:tributary:story:abc");
        assert_eq!(json["revision"], 2);
        assert_eq!(json["changes"][0]["type"], "member_added");
        assert_eq!(json["changes"][0]["member_role"], "episode");
        assert_eq!(json["changes"][1]["type"], "merged");
        assert_eq!(json["changes"][1]["other"], "urn:tributary:story:old");
        assert_eq!(json["story"]["members"].as_array().map(Vec::len), Some(3));
        let signature = header(&built.outgoing, "tributary-signature").expect("signed");
        assert_eq!(
            hmac::verify(b"s3cret", signature, &built.outgoing.body, now(), 300),
            Ok(())
        );
        // A story folded into another names itself, and carries the other.
        let pointer = crate::notify::wire::Update {
            merged_away: Some("urn:tributary:story:gone"),
            ..update
        };
        let built = request(&config, &Payload::Update(&pointer), "k3", now()).expect("built");
        let json: serde_json::Value = serde_json::from_slice(&built.outgoing.body).expect("json");
        assert_eq!(json["story_id"], "urn:tributary:story:gone");
        assert_eq!(json["story"]["id"], "urn:tributary:story:abc");
        assert!(
            json["text"]
                .as_str()
                .expect("text")
                .starts_with("Merged into: ")
        );
    }

    #[test]
    fn without_a_secret_nothing_is_signed() {
        let mut config = sink(SinkKind::Webhook);
        config.secret = None;
        let message = essay();
        let built = request(&config, &Payload::Story(&message), "k", now()).expect("built");
        assert_eq!(header(&built.outgoing, "tributary-signature"), None);
    }

    #[test]
    fn a_digest_lists_every_story_it_counts() {
        let messages: Vec<Message> = (0..60)
            .map(|i| {
                let mut m = essay();
                m.title = format!("Story {i}");
                m
            })
            .collect();
        let built = request(
            &sink(SinkKind::Webhook),
            &Payload::Digest(&messages),
            "d",
            now(),
        )
        .expect("built");
        let json: serde_json::Value = serde_json::from_slice(&built.outgoing.body).expect("json");
        assert_eq!(json["event"], "story.digest");
        assert_eq!(built.included, DIGEST_MAX);
        assert_eq!(
            json["stories"].as_array().expect("stories").len(),
            built.included
        );
        assert!(json.get("story").is_none());
    }
}
