//! `ntfy`: a plain-text POST to the topic URL, with `Title`, `Click` and `Tags` headers.
//!
//! Design decision: the title goes in the `Title` header and the body is the rest of the
//! message, because that is how ntfy lays out a notification on a phone. Header values must be
//! ASCII, so a non-ASCII title is sent RFC 2047-encoded (`=?UTF-8?B?...?=`), which ntfy decodes.
//! The body is cut to ntfy's 4,096 bytes (beyond that ntfy turns a message into an attachment).

use super::message::{Message, render, truncate_bytes, truncate_chars, update_text};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};

use super::NotifyError;
use super::pace::Pace;
use super::wire::{
    Built, Limit, Method, Outgoing, Payload, Service, bearer, fit_lines, header_value, no_receipt,
    no_retry_after,
};
use crate::config::NotifyConfig;

/// The title is in its own header, so the body starts with the teaser.
pub const TEMPLATE: &str = "{summary}\nAudio: {audio}\n{link}\nvia {feeds}";

/// ntfy.sh: a burst of 60 requests, one more every 5 s; half the burst is kept in reserve for
/// whatever else publishes from this address. Its 429 has no Retry-After: plain backoff.
pub const SERVICE: Service = Service {
    build: |sink, payload, _, _| request(sink, payload),
    retry_after: no_retry_after,
    pace: Some(Pace {
        burst: 30,
        every: std::time::Duration::from_secs(5),
    }),
    receipt: no_receipt,
    edits: false,
};

pub const MESSAGE_MAX_BYTES: usize = 4_096;

/// Characters of title: a phone shows one line of it anyway.
const TITLE_MAX: usize = 200;

/// A header value: ASCII as is, anything else as an RFC 2047 encoded word. Control characters
/// (which would split the header) become spaces first.
pub fn header_text(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        clean
    } else {
        // RFC 2047's "B" encoding is standard base64 with padding.
        format!("=?UTF-8?B?{}?=", STANDARD.encode(clean.as_bytes()))
    }
}

/// A value safe to put in ntfy's comma- and semicolon-separated `Actions` syntax.
fn action_safe(url: &str) -> bool {
    !url.contains([',', ';', '"', '\'']) && url.is_ascii()
}

pub fn request(sink: &NotifyConfig, payload: &Payload<'_>) -> Result<Built, NotifyError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let template = sink.template.as_deref().unwrap_or(TEMPLATE);
    let (title, body, included) = match payload {
        // ntfy cannot edit: a follow-up is a message of its own, its title marked.
        Payload::Update(update) => {
            let message = update.message;
            let body = truncate_bytes(
                &update_text(template, update, &|v| v.to_owned()),
                MESSAGE_MAX_BYTES,
            );
            if let Some(link) = message.link.as_deref().filter(|l| l.is_ascii()) {
                headers.insert("click", header_value(sink, "Click", link)?);
            }
            headers.insert("tags", HeaderValue::from_static("newspaper,repeat"));
            let title = match update.merged_away {
                Some(_) => format!("Merged: {}", message.title),
                None => format!("Updated: {}", message.title),
            };
            (title, body, 1)
        }
        Payload::Story(message) | Payload::Test(message) => {
            let body = truncate_bytes(
                &render(template, message, &|v| v.to_owned()),
                MESSAGE_MAX_BYTES,
            );
            if let Some(link) = message.link.as_deref().filter(|l| l.is_ascii()) {
                headers.insert("click", header_value(sink, "Click", link)?);
            }
            let mut tags = "newspaper".to_owned();
            if let Some(audio) = &message.audio {
                tags.push_str(",headphones");
                if action_safe(&audio.url) {
                    let action = format!("view, Listen, {}", audio.url);
                    headers.insert("actions", header_value(sink, "Actions", &action)?);
                }
            }
            headers.insert("tags", header_value(sink, "Tags", &tags)?);
            (message.title.clone(), body, 1)
        }
        Payload::Digest(messages) => {
            let lines: Vec<String> = messages.iter().map(digest_entry).collect();
            let (body, included) = fit_lines(&lines, Limit::Bytes(MESSAGE_MAX_BYTES));
            headers.insert("tags", HeaderValue::from_static("newspaper"));
            let title = format!(
                "{included} new {}",
                if included == 1 { "story" } else { "stories" }
            );
            (title, body, included)
        }
    };
    let title = header_text(&truncate_chars(&title, TITLE_MAX));
    headers.insert("title", header_value(sink, "Title", &title)?);
    if let Some(token) = &sink.token {
        headers.insert(AUTHORIZATION, bearer(sink, token)?);
    }
    Ok(Built {
        outgoing: Outgoing {
            method: Method::Post,
            url: sink.url.clone(),
            headers,
            body: body.into_bytes(),
        },
        included,
    })
}

fn digest_entry(message: &Message) -> String {
    let title = truncate_chars(&message.title, 200);
    match &message.link {
        Some(link) => format!("{title}\n{link}"),
        None => title,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SinkKind;
    use crate::notify::message::tests::{essay, sink};

    fn header<'a>(built: &'a Built, name: &str) -> Option<&'a str> {
        built
            .outgoing
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
    }

    #[test]
    fn a_story_has_title_click_tags_and_a_listen_action() {
        let message = essay();
        let built = request(&sink(SinkKind::Ntfy), &Payload::Story(&message)).expect("built");
        assert_eq!(built.outgoing.method, Method::Post);
        assert_eq!(header(&built, "Title"), Some("Small models, long tails"));
        assert_eq!(
            header(&built, "Click"),
            Some("https://www.longtail.example/p/small-models-long-tails")
        );
        assert_eq!(header(&built, "Tags"), Some("newspaper,headphones"));
        assert_eq!(
            header(&built, "Actions"),
            Some("view, Listen, https://audio.longtail.example/small-models-long-tails.mp3")
        );
        assert_eq!(header(&built, "Authorization"), Some("Bearer tok"));
        let body = String::from_utf8(built.outgoing.body.clone()).expect("utf-8");
        assert!(body.starts_with("Why the cheapest models"), "{body}");
        assert!(
            body.contains("\nAudio: https://audio.longtail.example/"),
            "{body}"
        );
    }

    #[test]
    fn a_follow_up_is_a_new_message_marked_as_an_update() {
        let message = essay();
        let changes = [crate::store::StoryChange::AudioAdded {
            feed: "podcast".into(),
            url: "https://a.example/x.mp3".into(),
        }];
        let update = crate::notify::wire::Update {
            message: &message,
            changes: &changes,
            revision: 1,
            remote_id: None,
            merged_away: None,
        };
        let built = request(&sink(SinkKind::Ntfy), &Payload::Update(&update)).expect("built");
        assert_eq!(built.outgoing.method, Method::Post);
        assert_eq!(
            header(&built, "Title"),
            Some("Updated: Small models, long tails")
        );
        assert_eq!(header(&built, "Tags"), Some("newspaper,repeat"));
        let body = String::from_utf8(built.outgoing.body.clone()).expect("utf-8");
        assert!(body.ends_with("\nUpdated: + audio"), "{body}");
    }

    #[test]
    fn without_a_token_there_is_no_authorization() {
        let mut config = sink(SinkKind::Ntfy);
        config.token = None;
        let message = essay();
        let built = request(&config, &Payload::Story(&message)).expect("built");
        assert_eq!(header(&built, "Authorization"), None);
    }

    #[test]
    fn the_body_is_cut_to_4096_bytes_on_a_character_boundary() {
        let mut message = essay();
        message.summary = "ü".repeat(5_000);
        let mut config = sink(SinkKind::Ntfy);
        config.template = Some("{summary}".into());
        let built = request(&config, &Payload::Story(&message)).expect("built");
        assert!(built.outgoing.body.len() <= MESSAGE_MAX_BYTES);
        assert!(built.outgoing.body.len() > MESSAGE_MAX_BYTES - 4);
        let text = String::from_utf8(built.outgoing.body.clone()).expect("still UTF-8");
        assert!(text.ends_with('…'));
    }

    #[test]
    fn non_ascii_titles_are_encoded_words() {
        assert_eq!(header_text("plain"), "plain");
        assert_eq!(header_text("Café"), "=?UTF-8?B?Q2Fmw6k=?=");
        assert_eq!(header_text("a\r\nb"), "a  b");
        assert_eq!(header_text("fo·"), "=?UTF-8?B?Zm/Ctw==?=");
    }

    #[test]
    fn a_digest_fits_4096_bytes() {
        let messages: Vec<Message> = (0..100).map(|_| essay()).collect();
        let built = request(&sink(SinkKind::Ntfy), &Payload::Digest(&messages)).expect("built");
        assert!(built.outgoing.body.len() <= MESSAGE_MAX_BYTES);
        assert!(built.included > 10 && built.included < 100);
        assert_eq!(
            header(&built, "Title"),
            Some(format!("{} new stories", built.included).as_str())
        );
    }
}
