//! `matrix`: an `m.room.message` event sent through the client-server API,
//! `PUT {url}/_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId}` with a bearer token.
//!
//! Design decision: the transaction id is derived from the delivery's idempotency key, so a
//! retried PUT (after a timeout, or after a crash between send and record) is the same
//! transaction and the homeserver returns the event it already created instead of posting again.
//!
//! A story that changes later is an `m.replace` edit of the first event (its `event_id`, kept
//! from the answer): a new event whose `m.new_content` is the message as it is now, with a
//! `* `-prefixed fallback body for clients that do not show edits, sent under its own
//! transaction id (from the edit's key).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::message::{DEFAULT_TEMPLATE, Message, render, truncate_chars, update_text};
use super::pace::Pace;
use super::retry::seconds;
use super::wire::{
    Built, Limit, Method, Outgoing, Payload, Service, bearer, fit_lines, json_field,
};
use super::{NotifyError, SinkUrl};
use crate::config::NotifyConfig;

/// Characters of body: events may be 64 KiB, but a chat message should stay readable.
pub const BODY_MAX: usize = 4_000;

/// Synapse's default `rc_message`: a burst of 10, then one every 5 s.
pub const SERVICE: Service = Service {
    build: |sink, payload, key, _| request(sink, payload, key),
    retry_after: |_, body| retry_after(body),
    pace: Some(Pace {
        burst: 10,
        every: std::time::Duration::from_secs(5),
    }),
    receipt: |_, body| Ok(json_field(body, "event_id")),
    edits: true,
};

/// Everything but RFC 3986 unreserved characters is percent-encoded in a path segment (room
/// ids carry `!` and `:`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The path segment form of `text`.
pub fn encode_segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// The transaction id for an idempotency key.
pub fn transaction_id(key: &str) -> String {
    format!("tributary-{key}")
}

fn digest_line(message: &Message) -> String {
    let title = truncate_chars(&message.title, 200);
    match &message.link {
        Some(link) => format!("- {title} {link}"),
        None => format!("- {title}"),
    }
}

/// An error when the sink lacks a room or token (the config refuses that already) or the token
/// cannot travel in a header.
pub fn request(
    sink: &NotifyConfig,
    payload: &Payload<'_>,
    key: &str,
) -> Result<Built, NotifyError> {
    let (Some(room), Some(token)) = (sink.room.as_deref(), sink.token.as_ref()) else {
        return Err(NotifyError::Build {
            sink: sink.name.clone(),
            detail: "a matrix sink needs `room` and `token`".into(),
        });
    };
    let template = sink.template.as_deref().unwrap_or(DEFAULT_TEMPLATE);
    let (text, included) = match payload {
        Payload::Story(message) | Payload::Test(message) => (
            truncate_chars(&render(template, message, &|v| v.to_owned()), BODY_MAX),
            1,
        ),
        Payload::Update(update) => (
            truncate_chars(&update_text(template, update, &|v| v.to_owned()), BODY_MAX),
            1,
        ),
        Payload::Digest(messages) => {
            let lines: Vec<String> = messages.iter().map(digest_line).collect();
            let (list, included) = fit_lines(&lines, Limit::Chars(BODY_MAX - 100));
            (
                format!(
                    "{included} new {}:\n{list}",
                    if included == 1 { "story" } else { "stories" }
                ),
                included,
            )
        }
    };
    // Intentional mentions: none, so a title naming someone pings nobody.
    let no_mentions = Value::Object(Default::default());
    let event = match payload {
        Payload::Update(update) => json!({
            "msgtype": "m.text",
            "body": format!("* {text}"),
            "m.new_content": {
                "msgtype": "m.text",
                "body": text,
                "m.mentions": no_mentions,
            },
            "m.relates_to": {
                "rel_type": "m.replace",
                "event_id": update.require_remote_id(sink)?,
            },
            "m.mentions": no_mentions,
        }),
        _ => json!({
            "msgtype": "m.text",
            "body": text,
            "m.mentions": no_mentions,
        }),
    };
    let mut url = sink.url.expose().clone();
    let path = format!(
        "{}/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
        url.path().trim_end_matches('/'),
        encode_segment(room),
        encode_segment(&transaction_id(key)),
    );
    url.set_path(&path);
    url.set_query(None);
    let headers = HeaderMap::from_iter([
        (CONTENT_TYPE, HeaderValue::from_static("application/json")),
        (AUTHORIZATION, bearer(sink, token)?),
    ]);
    Ok(Built {
        outgoing: Outgoing {
            method: Method::Put,
            url: SinkUrl::new(url),
            headers,
            body: serde_json::to_vec(&event).unwrap_or_default(),
        },
        included,
    })
}

/// The homeserver's 429 body: `{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 2000}`.
pub fn retry_after(body: &[u8]) -> Option<std::time::Duration> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let ms = json.get("retry_after_ms")?.as_f64()?;
    seconds(ms / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SinkKind;
    use crate::notify::message::tests::{essay, sink};

    #[test]
    fn a_story_is_put_to_the_room_under_a_transaction_id_from_the_key() {
        let message = essay();
        let mut config = sink(SinkKind::Matrix);
        config.url = SinkUrl::new(url::Url::parse("https://matrix.example.org/").expect("url"));
        let built = request(&config, &Payload::Story(&message), "abc123").expect("built");
        assert_eq!(built.outgoing.method, Method::Put);
        assert_eq!(
            built.outgoing.url.expose().as_str(),
            "https://matrix.example.org/_matrix/client/v3/rooms/%21room%3Aexample.org/send/m.room.message/tributary-abc123"
        );
        let authorization = &built.outgoing.headers["authorization"];
        assert_eq!(authorization, "Bearer tok");
        assert!(authorization.is_sensitive());
        assert!(!format!("{:?}", built.outgoing).contains("tok\""));
        let json: Value = serde_json::from_slice(&built.outgoing.body).expect("json");
        assert_eq!(json["msgtype"], "m.text");
        let body = json["body"].as_str().expect("body");
        assert!(
            body.starts_with("Small models, long tails\nhttps://"),
            "{body}"
        );
        assert!(
            body.contains("Audio: https://audio.longtail.example/"),
            "{body}"
        );
        assert_eq!(json["m.mentions"], json!({}));
        // A retry is the same request.
        let again = request(&config, &Payload::Story(&message), "abc123").expect("built");
        assert_eq!(again.outgoing.url, built.outgoing.url);
        assert_eq!(again.outgoing.body, built.outgoing.body);
    }

    #[test]
    fn an_edit_replaces_the_first_event_under_its_own_transaction() {
        let message = essay();
        let config = sink(SinkKind::Matrix);
        let changes = [crate::store::StoryChange::AudioAdded {
            feed: "podcast".into(),
            url: "https://a.example/x.mp3".into(),
        }];
        let update = crate::notify::wire::Update {
            message: &message,
            changes: &changes,
            revision: 1,
            remote_id: Some("$first:example.org"),
            merged_away: None,
        };
        let built = request(&config, &Payload::Update(&update), "edit1").expect("built");
        assert_eq!(built.outgoing.method, Method::Put);
        assert!(
            built
                .outgoing
                .url
                .expose()
                .as_str()
                .ends_with("/send/m.room.message/tributary-edit1")
        );
        let json: Value = serde_json::from_slice(&built.outgoing.body).expect("json");
        assert_eq!(json["m.relates_to"]["rel_type"], "m.replace");
        assert_eq!(json["m.relates_to"]["event_id"], "$first:example.org");
        let new_body = json["m.new_content"]["body"].as_str().expect("new body");
        assert!(new_body.ends_with("\nUpdated: + audio"), "{new_body}");
        assert_eq!(json["body"], format!("* {new_body}"));
        assert_eq!(
            (SERVICE.receipt)(&config, br#"{"event_id":"$e1"}"#),
            Ok(Some("$e1".to_owned()))
        );
    }

    #[test]
    fn a_base_url_with_a_path_prefix_is_kept() {
        let message = essay();
        let mut config = sink(SinkKind::Matrix);
        config.url = SinkUrl::new(url::Url::parse("https://example.org/matrix/?x=1").expect("url"));
        let built = request(&config, &Payload::Story(&message), "k").expect("built");
        assert!(
            built
                .outgoing
                .url
                .expose()
                .as_str()
                .starts_with("https://example.org/matrix/_matrix/client/v3/rooms/"),
            "{:?}",
            built.outgoing.url.expose()
        );
        assert_eq!(built.outgoing.url.expose().query(), None);
    }

    #[test]
    fn retry_after_ms_is_read() {
        assert_eq!(
            retry_after(br#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":2500}"#),
            Some(std::time::Duration::from_millis(2_500))
        );
        assert_eq!(retry_after(br#"{"errcode":"M_LIMIT_EXCEEDED"}"#), None);
    }

    #[test]
    fn segments_are_fully_encoded() {
        assert_eq!(encode_segment("!a b/c:d.e"), "%21a%20b%2Fc%3Ad.e");
        assert_eq!(encode_segment("~x_y-z"), "~x_y-z");
        assert_eq!(encode_segment("é"), "%C3%A9");
    }
}
