//! `slack`: an incoming webhook (`POST {"text": ...}`), or, with a bot `token` and a
//! `channel`, the Web API: `chat.postMessage`, then `chat.update` of that message (its `ts`)
//! when the story changes. Both in Slack's mrkdwn.
//!
//! Design decision: plain `text` rather than Block Kit, because it renders in every client and
//! in notifications; values are escaped (`&`, `<`, `>`, as Slack requires) and the template is
//! the user's mrkdwn. Slack accepts 40,000 characters; a chat message is kept to 4,000. An
//! incoming webhook cannot edit what it posted, so such a sink sends nothing after the first
//! message (the config marks it as not following up). The Web API answers most errors with
//! 200 and `"ok": false`, so the answer's body decides ([`receipt`]); the message's id kept
//! for `chat.update` is the channel id and `ts` the answer names, as `<channel> <ts>`.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::message::{Message, render, truncate_chars, update_text};
use super::pace::Pace;
use super::wire::{
    Built, Limit, Method, Outgoing, Payload, Refusal, Service, bearer, fit_lines, no_retry_after,
};
use super::{NotifyError, SinkUrl};
use crate::config::NotifyConfig;

/// Slack's default: bold title, the link (Slack unfurls it), audio, teaser, where it came from.
pub const TEMPLATE: &str = "*{title}*\n{link}\nAudio: {audio}\n{summary}\n_via {feeds}_";

/// Slack's rate: "1 message per second per webhook" (and per channel for `chat.postMessage`),
/// short bursts tolerated. A 429 carries `Retry-After`.
pub const SERVICE: Service = Service {
    build: |sink, payload, _, _| request(sink, payload),
    retry_after: no_retry_after,
    pace: Some(Pace {
        burst: 1,
        every: std::time::Duration::from_secs(1),
    }),
    receipt,
    edits: true,
};

/// Web API errors worth retrying: Slack's own trouble, or its rate limit.
const TRANSIENT: &[&str] = &[
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// Characters per message: far under Slack's 40,000, since long messages are collapsed anyway.
pub const TEXT_MAX: usize = 4_000;

/// Slack's three control characters; everything else is literal.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn digest_line(message: &Message) -> String {
    let title = escape(&truncate_chars(&message.title, 150)).replace('|', "¦");
    match &message.link {
        Some(link) => format!("• <{link}|{title}>"),
        None => format!("• {title}"),
    }
}

/// The request: an incoming-webhook POST, or with a bot token a Web API call.
pub fn request(sink: &NotifyConfig, payload: &Payload<'_>) -> Result<Built, NotifyError> {
    let template = sink.template.as_deref().unwrap_or(TEMPLATE);
    let (text, included) = match payload {
        Payload::Story(message) | Payload::Test(message) => (
            truncate_chars(&render(template, message, &escape), TEXT_MAX),
            1,
        ),
        Payload::Update(update) => (
            truncate_chars(&update_text(template, update, &escape), TEXT_MAX),
            1,
        ),
        Payload::Digest(messages) => {
            let lines: Vec<String> = messages.iter().map(digest_line).collect();
            let (list, included) = fit_lines(&lines, Limit::Chars(TEXT_MAX - 100));
            (
                format!(
                    "*{included} new {}*\n{list}",
                    if included == 1 { "story" } else { "stories" }
                ),
                included,
            )
        }
    };
    let mut headers =
        HeaderMap::from_iter([(CONTENT_TYPE, HeaderValue::from_static("application/json"))]);
    let (Some(token), Some(channel)) = (&sink.token, &sink.channel) else {
        if let Payload::Update(_) = payload {
            return Err(NotifyError::Build {
                sink: sink.name.clone(),
                detail: "an incoming webhook cannot edit a message; give the sink a bot `token` \
                         and a `channel` for follow-ups"
                    .into(),
            });
        }
        return Ok(Built {
            outgoing: Outgoing {
                method: Method::Post,
                url: sink.url.clone(),
                headers,
                body: serde_json::to_vec(&json!({ "text": text })).unwrap_or_default(),
            },
            included,
        });
    };
    headers.insert(AUTHORIZATION, bearer(sink, token)?);
    let (method, body) = match payload {
        Payload::Update(update) => {
            let id = update.require_remote_id(sink)?;
            let (channel, ts) = id.split_once(' ').unwrap_or((channel.as_str(), id));
            (
                "chat.update",
                json!({ "channel": channel, "ts": ts, "text": text }),
            )
        }
        _ => (
            "chat.postMessage",
            json!({ "channel": channel, "text": text }),
        ),
    };
    let mut url = sink.url.expose().clone();
    let path = format!("{}/{method}", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(Built {
        outgoing: Outgoing {
            method: Method::Post,
            url: SinkUrl::new(url),
            headers,
            body: serde_json::to_vec(&body).unwrap_or_default(),
        },
        included,
    })
}

/// A Web API answer: `{"ok": true, "channel": "C1", "ts": "1712.0001"}` is the message's id;
/// `{"ok": false, "error": "..."}` a refusal. An incoming webhook answers `ok` in plain text.
pub fn receipt(sink: &NotifyConfig, body: &[u8]) -> Result<Option<String>, Refusal> {
    if sink.token.is_none() || sink.channel.is_none() {
        return Ok(None);
    }
    let json: Value = serde_json::from_slice(body).map_err(|_| Refusal {
        error: format!(
            "the Web API answered something that is not JSON: {}",
            truncate_chars(&String::from_utf8_lossy(body), 200)
        ),
        transient: true,
    })?;
    if json["ok"] != Value::Bool(true) {
        let error = json["error"]
            .as_str()
            .unwrap_or("no error named")
            .to_owned();
        return Err(Refusal {
            transient: TRANSIENT.contains(&error.as_str()),
            error: format!("Slack refused: {error}"),
        });
    }
    let channel = json["channel"]
        .as_str()
        .or(sink.channel.as_deref())
        .unwrap_or_default();
    Ok(json["ts"].as_str().map(|ts| format!("{channel} {ts}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SinkKind;
    use crate::notify::message::tests::{essay, sink};

    /// An incoming-webhook sink: no token, no channel.
    fn webhook() -> NotifyConfig {
        let mut config = sink(SinkKind::Slack);
        config.token = None;
        config
    }

    fn bot() -> NotifyConfig {
        let mut config = sink(SinkKind::Slack);
        config.url = SinkUrl::new(url::Url::parse("https://slack.example/api/").expect("url"));
        config.channel = Some("#news".into());
        config
    }

    #[test]
    fn a_bot_posts_then_updates_the_message_it_posted() {
        let message = essay();
        let config = bot();
        let built = request(&config, &Payload::Story(&message)).expect("built");
        assert_eq!(
            built.outgoing.url.expose().as_str(),
            "https://slack.example/api/chat.postMessage"
        );
        assert_eq!(built.outgoing.headers["authorization"], "Bearer tok");
        let json: Value = serde_json::from_slice(&built.outgoing.body).expect("json");
        assert_eq!(json["channel"], "#news");
        let id = receipt(
            &config,
            br#"{"ok":true,"channel":"C024BE91L","ts":"1401383885.000061"}"#,
        )
        .expect("ok")
        .expect("an id");
        assert_eq!(id, "C024BE91L 1401383885.000061");
        let changes = [crate::store::StoryChange::Merged {
            other: "urn:x".into(),
        }];
        let update = crate::notify::wire::Update {
            message: &message,
            changes: &changes,
            revision: 1,
            remote_id: Some(&id),
            merged_away: None,
        };
        let built = request(&config, &Payload::Update(&update)).expect("built");
        assert_eq!(
            built.outgoing.url.expose().as_str(),
            "https://slack.example/api/chat.update"
        );
        let json: Value = serde_json::from_slice(&built.outgoing.body).expect("json");
        assert_eq!(json["channel"], "C024BE91L");
        assert_eq!(json["ts"], "1401383885.000061");
        assert!(
            json["text"]
                .as_str()
                .expect("text")
                .ends_with("\nUpdated: merged with another story")
        );
        // An incoming webhook cannot edit.
        assert!(request(&webhook(), &Payload::Update(&update)).is_err());
    }

    #[test]
    fn web_api_errors_are_refusals_some_worth_retrying() {
        let config = bot();
        assert_eq!(
            receipt(&config, br#"{"ok":false,"error":"channel_not_found"}"#),
            Err(Refusal {
                error: "Slack refused: channel_not_found".into(),
                transient: false
            })
        );
        assert!(
            receipt(&config, br#"{"ok":false,"error":"ratelimited"}"#).is_err_and(|r| r.transient)
        );
        assert_eq!(receipt(&webhook(), b"ok"), Ok(None));
    }

    fn text(built: &Built) -> String {
        let json: serde_json::Value = serde_json::from_slice(&built.outgoing.body).expect("json");
        json["text"].as_str().expect("text").to_owned()
    }

    #[test]
    fn a_story_is_mrkdwn_with_escaped_values() {
        let mut message = essay();
        message.title = "Q&A: <small> models".into();
        let built = request(&webhook(), &Payload::Story(&message)).expect("built");
        let text = text(&built);
        assert!(
            text.starts_with("*Q&amp;A: &lt;small&gt; models*\n"),
            "{text}"
        );
        assert!(
            text.contains("\nAudio: https://audio.longtail.example/"),
            "{text}"
        );
        assert!(
            text.ends_with("_via newsletter, podcast, curation_"),
            "{text}"
        );
    }

    #[test]
    fn long_text_is_cut_to_the_limit() {
        let mut message = essay();
        message.summary = "é".repeat(10_000);
        let mut config = webhook();
        config.template = Some("{summary}".into());
        let built = request(&config, &Payload::Story(&message)).expect("built");
        assert_eq!(text(&built).chars().count(), TEXT_MAX);
    }

    #[test]
    fn a_digest_links_each_title() {
        let messages: Vec<Message> = (0..5)
            .map(|i| {
                let mut m = essay();
                m.title = format!("Story {i} | part");
                m.link = Some(format!("https://example.com/{i}"));
                m
            })
            .collect();
        let built = request(&webhook(), &Payload::Digest(&messages)).expect("built");
        assert_eq!(built.included, 5);
        let text = text(&built);
        assert!(text.starts_with("*5 new stories*\n"), "{text}");
        assert!(
            text.contains("• <https://example.com/3|Story 3 ¦ part>"),
            "{text}"
        );
    }
}
