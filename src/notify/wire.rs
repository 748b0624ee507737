//! The wire format: what a request to a sink is made of, the per-service table that builds it,
//! and the helpers every service shares (headers, credentials, text that fits a limit).
//!
//! Design decision: a request is plain data ([`Outgoing`]) built by a pure function of the
//! sink, the payload, the idempotency key and the time, so each service's format is
//! unit-tested without a network; and everything that differs between services (the request,
//! how a refusal says when to come back, the rate) is one [`Service`] value per service module,
//! looked up in one place ([`service`]), so adding a service is adding a module.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use super::message::{self, Message};
use super::pace::Pace;
use super::{NotifyError, SinkUrl, discord, matrix, ntfy, slack, webhook};
use crate::config::{NotifyConfig, SinkKind};
use crate::store::StoryChange;

/// HTTP methods the sinks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
    /// Discord's edit of a webhook message.
    Patch,
}

/// A request ready to send. Its `Debug` shows neither the URL's path nor a credential header
/// (see [`bearer`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub method: Method,
    pub url: SinkUrl,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// What a request is about.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    Story(&'a Message),
    /// Several stories in one message; the sink takes as many as fit, in order.
    Digest(&'a [Message]),
    /// `notify test`: a sample story, marked as a test where the format allows.
    Test(&'a Message),
    /// A story the sink was already told about changed: an edit of its first message (or, for
    /// ntfy and webhooks, a follow-up).
    Update(&'a Update<'a>),
}

/// An edit of a story's first message, and what it says changed.
#[derive(Debug, Clone, Copy)]
pub struct Update<'a> {
    /// The story as it is now: the story the message announced, or, when that story was
    /// folded into another, the one it was folded into.
    pub message: &'a Message,
    /// What changed since the sink was last told, oldest first.
    pub changes: &'a [StoryChange],
    /// 1 for the first edit, then 2, 3 ...
    pub revision: u32,
    /// The service's id of the first message (Slack `channel ts`, Discord message id, Matrix
    /// event id); `None` for services that need none.
    pub remote_id: Option<&'a str>,
    /// The Atom id of the story the first message announced when it was folded into
    /// `message`'s story: the edit then points there instead of repeating it.
    pub merged_away: Option<&'a str>,
}

impl Update<'_> {
    /// The first message's id, or an error naming the sink when the service needs one.
    pub fn require_remote_id(&self, sink: &NotifyConfig) -> Result<&str, NotifyError> {
        self.remote_id.ok_or_else(|| NotifyError::Build {
            sink: sink.name.clone(),
            detail: "the first message's id is not known, so it cannot be edited".into(),
        })
    }
}

/// A built request and how many of the payload's stories it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub outgoing: Outgoing,
    pub included: usize,
}

/// Builds a service's request: the sink, the payload, the idempotency key, the attempt's time.
pub type BuildFn =
    fn(&NotifyConfig, &Payload<'_>, &str, DateTime<Utc>) -> Result<Built, NotifyError>;

/// What differs between the services.
pub struct Service {
    pub build: BuildFn,
    /// The wait a refusal asks for in the service's own style, beyond the standard
    /// `Retry-After` header (Discord's JSON `retry_after`, Matrix's `retry_after_ms`).
    pub retry_after: fn(&HeaderMap, &[u8]) -> Option<Duration>,
    /// The documented (or conservative) rate; `None` for unpaced.
    pub pace: Option<Pace>,
    /// Reads a 2xx answer's body: the message's id for later edits, or a refusal after all.
    pub receipt: ReceiptFn,
    /// An update edits the first message in place, and so needs its id; otherwise it is a
    /// message of its own (webhook `story.updated`, ntfy follow-up).
    pub edits: bool,
}

/// What a 2xx answer's body says: the service's id of the message (Slack's `ts`, Discord's
/// message `id`, Matrix's `event_id`), or that it was a refusal after all (Slack's Web API
/// answers errors with 200 and `"ok": false`).
pub type ReceiptFn = fn(&NotifyConfig, &[u8]) -> Result<Option<String>, Refusal>;

/// A refusal in a 2xx answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: String,
    /// Worth retrying (the service's own trouble or its rate limit), else refused for good.
    pub transient: bool,
}

/// For services whose answers carry nothing an edit needs.
pub fn no_receipt(_: &NotifyConfig, _: &[u8]) -> Result<Option<String>, Refusal> {
    Ok(None)
}

/// One string field of a JSON answer, for the services that answer with the message's id.
pub fn json_field(body: &[u8], field: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(json.get(field)?.as_str()?.to_owned())
}

/// The one place a sink's kind picks its behaviour.
pub fn service(kind: SinkKind) -> &'static Service {
    match kind {
        SinkKind::Webhook => &webhook::SERVICE,
        SinkKind::Slack => &slack::SERVICE,
        SinkKind::Discord => &discord::SERVICE,
        SinkKind::Matrix => &matrix::SERVICE,
        SinkKind::Ntfy => &ntfy::SERVICE,
    }
}

/// For services whose refusals say nothing beyond `Retry-After`.
pub fn no_retry_after(_: &HeaderMap, _: &[u8]) -> Option<Duration> {
    None
}

/// Builds the request for one payload to one sink.
pub fn build(
    sink: &NotifyConfig,
    payload: &Payload<'_>,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Built, NotifyError> {
    (service(sink.kind).build)(sink, payload, key, now)
}

/// `value` for header `name`, or an error naming the sink, the header and the value.
pub fn header_value(
    sink: &NotifyConfig,
    name: &str,
    value: &str,
) -> Result<HeaderValue, NotifyError> {
    HeaderValue::from_str(value).map_err(|_| NotifyError::Build {
        sink: sink.name.clone(),
        detail: format!("header {name} cannot carry {value:?}"),
    })
}

/// `Bearer <token>` for the `Authorization` header, marked sensitive so that no `Debug` of the
/// request shows it; an error names the sink, never the token.
pub fn bearer(sink: &NotifyConfig, token: &SecretString) -> Result<HeaderValue, NotifyError> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| {
            NotifyError::Build {
                sink: sink.name.clone(),
                detail: "`token` cannot be sent in an Authorization header (it holds a control \
                     character or non-ASCII text)"
                    .into(),
            }
        })?;
    value.set_sensitive(true);
    Ok(value)
}

/// A text limit, in the unit the service counts.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    Chars(usize),
    Bytes(usize),
}

impl Limit {
    fn measure(self, text: &str) -> usize {
        match self {
            Limit::Chars(_) => text.chars().count(),
            Limit::Bytes(_) => text.len(),
        }
    }

    fn max(self) -> usize {
        match self {
            Limit::Chars(n) | Limit::Bytes(n) => n,
        }
    }
}

/// Joins lines with `\n` while they fit `limit`; at least one (cut to fit). Returns the text
/// and how many lines it holds, so a digest records exactly the stories it shows.
pub fn fit_lines(lines: &[String], limit: Limit) -> (String, usize) {
    let mut out = String::new();
    let mut count = 0;
    for line in lines {
        let candidate = if out.is_empty() {
            line.clone()
        } else {
            format!("{out}\n{line}")
        };
        if limit.measure(&candidate) > limit.max() {
            break;
        }
        out = candidate;
        count += 1;
    }
    if count == 0 {
        if let Some(first) = lines.first() {
            out = match limit {
                Limit::Chars(n) => message::truncate_chars(first, n),
                Limit::Bytes(n) => message::truncate_bytes(first, n),
            };
            count = 1;
        }
    }
    (out, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_776_300_000, 0).expect("time")
    }

    #[test]
    fn fit_lines_counts_what_it_keeps() {
        let lines: Vec<String> = ["aaaa", "bbbb", "cccc"].map(String::from).to_vec();
        assert_eq!(
            fit_lines(&lines, Limit::Chars(9)),
            ("aaaa\nbbbb".to_owned(), 2)
        );
        assert_eq!(fit_lines(&lines, Limit::Chars(100)).1, 3);
        assert_eq!(fit_lines(&lines, Limit::Bytes(2)), ("aa".to_owned(), 1));
        assert_eq!(fit_lines(&lines, Limit::Bytes(3)), ("…".to_owned(), 1));
        assert_eq!(fit_lines(&[], Limit::Bytes(3)), (String::new(), 0));
    }

    #[test]
    fn no_debug_of_the_config_a_sink_or_a_request_shows_a_credential() {
        let text = r#"
            [[notify]]
            name = "hook"
            kind = "webhook"
            url = "https://receiver.example/in"
            secret = "whsec-SIGNING"
            [[notify]]
            name = "chat"
            kind = "slack"
            url = "https://hooks.slack.example/services/T0/B0/SLACKPATH"
            [[notify]]
            name = "room"
            kind = "matrix"
            url = "https://matrix.example/"
            room = "!r:matrix.example"
            token = "syt_MATRIXTOKEN"
            [[notify]]
            name = "phone"
            kind = "ntfy"
            url = "https://user:NTFYPASS@ntfy.example/topic"
            token = "tk_NTFYTOKEN"
        "#;
        let config = crate::config::Config::parse(text, "t.toml").expect("valid");
        let secrets = [
            "SIGNING",
            "SLACKPATH",
            "MATRIXTOKEN",
            "NTFYPASS",
            "NTFYTOKEN",
        ];
        let mut shown = vec![
            format!("{config:?}"),
            format!("{config:#?}"),
            format!(
                "{:?}",
                crate::notify::Notifier::new(&config.notify).expect("client")
            ),
        ];
        let message = Message::sample(now());
        for sink in &config.notify {
            shown.push(format!("{sink:?} {}", sink.url));
            let built = build(sink, &Payload::Story(&message), "key", now()).expect("built");
            shown.push(format!("{:?}", built.outgoing));
        }
        for text in &shown {
            for secret in secrets {
                assert!(!text.contains(secret), "{secret} shown in {text}");
            }
        }
        // ... while the requests still carry them.
        let matrix = build(&config.notify[2], &Payload::Story(&message), "k", now()).expect("m");
        assert_eq!(
            matrix.outgoing.headers["authorization"],
            "Bearer syt_MATRIXTOKEN"
        );
    }

    #[test]
    fn each_kind_has_its_service() {
        use strum::VariantNames;
        for name in SinkKind::VARIANTS {
            let kind: SinkKind = name.parse().expect("a kind");
            assert_eq!(kind.to_string(), *name);
            let service = service(kind);
            assert_eq!(service.pace.is_none(), kind == SinkKind::Webhook, "{kind}");
        }
    }
}
