//! `slack`: an incoming webhook (`POST {"text": ...}`), in Slack's mrkdwn.
//!
//! Design decision: plain `text` rather than Block Kit, because it renders in every client and
//! in notifications; values are escaped (`&`, `<`, `>`, as Slack requires) and the template is
//! the user's mrkdwn. Slack accepts 40,000 characters; a chat message is kept to 4,000.

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

use super::message::{Message, render, truncate_chars};
use super::pace::Pace;
use super::wire::{Built, Limit, Method, Outgoing, Payload, Service, fit_lines, no_retry_after};
use crate::config::NotifyConfig;

/// Slack's default: bold title, the link (Slack unfurls it), audio, teaser, where it came from.
pub const TEMPLATE: &str = "*{title}*\n{link}\nAudio: {audio}\n{summary}\n_via {feeds}_";

/// Slack's rate: "1 message per second per webhook", short bursts tolerated.
pub const SERVICE: Service = Service {
    build: |sink, payload, _, _| Ok(request(sink, payload)),
    retry_after: no_retry_after,
    pace: Some(Pace {
        burst: 1,
        every: std::time::Duration::from_secs(1),
    }),
};

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

pub fn request(sink: &NotifyConfig, payload: &Payload<'_>) -> Built {
    let (text, included) = match payload {
        Payload::Story(message) | Payload::Test(message) => {
            let template = sink.template.as_deref().unwrap_or(TEMPLATE);
            (
                truncate_chars(&render(template, message, &escape), TEXT_MAX),
                1,
            )
        }
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
    let body = serde_json::to_vec(&serde_json::json!({ "text": text })).unwrap_or_default();
    Built {
        outgoing: Outgoing {
            method: Method::Post,
            url: sink.url.clone(),
            headers: HeaderMap::from_iter([(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )]),
            body,
        },
        included,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SinkKind;
    use crate::notify::message::tests::{essay, sink};

    fn text(built: &Built) -> String {
        let json: serde_json::Value = serde_json::from_slice(&built.outgoing.body).expect("json");
        json["text"].as_str().expect("text").to_owned()
    }

    #[test]
    fn a_story_is_mrkdwn_with_escaped_values() {
        let mut message = essay();
        message.title = "Q&A: <small> models".into();
        let built = request(&sink(SinkKind::Slack), &Payload::Story(&message));
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
        let mut config = sink(SinkKind::Slack);
        config.template = Some("{summary}".into());
        let built = request(&config, &Payload::Story(&message));
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
        let built = request(&sink(SinkKind::Slack), &Payload::Digest(&messages));
        assert_eq!(built.included, 5);
        let text = text(&built);
        assert!(text.starts_with("*5 new stories*\n"), "{text}");
        assert!(
            text.contains("• <https://example.com/3|Story 3 ¦ part>"),
            "{text}"
        );
    }
}
