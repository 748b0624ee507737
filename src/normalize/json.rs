//! JSON feeds, made acceptable to feed-rs's strict JSON Feed schema.
//!
//! feed-rs deserialises JSON Feed into typed structs, so one off-spec value rejects the whole
//! feed: an `http://` version URL, tags as one comma-separated string, a numeric id, a missing
//! title. This module reads the document as an untyped `serde_json::Value`, coerces what has
//! an obvious meaning, drops what does not, and hands feed-rs the result. Dave Winer's
//! "RSS in JSON" (an `rss.channel` object) is converted to JSON Feed on the way. A truncated
//! document is cut back to its last complete object and closed, so the items before the
//! break survive.

use serde_json::{Map, Value};

use super::NormalizeError;
use super::defuse::space_out_emails;

const VERSION: &str = "https://jsonfeed.org/version/1.1";

/// A JSON feed rewritten for feed-rs, plus what feed-rs does not read.
#[derive(Debug, Clone)]
pub(crate) struct PreparedJson {
    pub bytes: Vec<u8>,
    /// Each item's `image` (or `banner_image`), in item order.
    pub item_images: Vec<Option<String>>,
}

/// Parses, repairs if needed, and normalises a JSON document that should be a feed.
pub(crate) fn prepare(text: &str) -> Result<PreparedJson, NormalizeError> {
    let mut value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => serde_json::from_str(&repair_json(text))
            .map_err(|_| NormalizeError::Json(error.to_string()))?,
    };
    if let Some(channel) = value
        .get("rss")
        .and_then(|rss| rss.get("channel"))
        .filter(|channel| channel.is_object())
    {
        value = rss_in_json(channel);
    }
    let Some(feed) = value.as_object_mut() else {
        return Err(NormalizeError::NotAFeed(
            "a JSON document that is not an object".into(),
        ));
    };
    let is_json_feed = feed.get("items").is_some_and(Value::is_array)
        || feed
            .get("version")
            .and_then(Value::as_str)
            .is_some_and(|v| v.contains("jsonfeed.org"));
    if !is_json_feed {
        return Err(NormalizeError::NotAFeed(
            "a JSON document that is not a JSON Feed".into(),
        ));
    }
    let item_images = normalize_feed(feed);
    let bytes = serde_json::to_vec(&value).map_err(|e| NormalizeError::Json(e.to_string()))?;
    Ok(PreparedJson { bytes, item_images })
}

/// Coerces feed-level fields; returns the item images.
fn normalize_feed(feed: &mut Map<String, Value>) -> Vec<Option<String>> {
    let version_ok = feed
        .get("version")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("https://jsonfeed.org/version/1"));
    if !version_ok {
        feed.insert("version".into(), Value::String(VERSION.into()));
    }
    let title = feed.get("title").and_then(text_of).unwrap_or_default();
    feed.insert("title".into(), Value::String(title));
    for key in [
        "home_page_url",
        "feed_url",
        "description",
        "icon",
        "favicon",
        "language",
    ] {
        keep_string(feed, key);
    }
    normalize_authors(feed);
    let items = match feed.remove("items") {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let mut images = Vec::new();
    let items: Vec<Value> = items
        .into_iter()
        .filter_map(|item| match item {
            Value::Object(mut item) => {
                images.push(normalize_item(&mut item));
                Some(Value::Object(item))
            }
            _ => None,
        })
        .collect();
    feed.insert("items".into(), Value::Array(items));
    images
}

/// Coerces one item in place; returns its image.
fn normalize_item(item: &mut Map<String, Value>) -> Option<String> {
    for key in ["id", "title"] {
        match item.get(key).and_then(text_of) {
            Some(text) => {
                item.insert(key.into(), Value::String(text));
            }
            None => {
                item.remove(key);
            }
        }
    }
    for key in [
        "url",
        "external_url",
        "content_html",
        "content_text",
        "summary",
        "date_published",
        "date_modified",
    ] {
        keep_string(item, key);
    }
    let tags: Option<Vec<Value>> = match item.get("tags") {
        Some(Value::Array(tags)) => {
            Some(tags.iter().filter_map(text_of).map(Value::String).collect())
        }
        Some(Value::String(tags)) => Some(
            tags.split(',')
                .map(str::trim)
                .filter(|tag| !tag.is_empty())
                .map(|tag| Value::String(tag.into()))
                .collect(),
        ),
        _ => None,
    };
    match tags {
        Some(tags) => {
            item.insert("tags".into(), Value::Array(tags));
        }
        None => {
            item.remove("tags");
        }
    }
    normalize_authors(item);
    let attachments: Option<Vec<Value>> = match item.get("attachments") {
        Some(Value::Array(list)) => Some(list.iter().filter_map(normalize_attachment).collect()),
        Some(Value::Object(_)) => item
            .get("attachments")
            .and_then(normalize_attachment)
            .map(|one| vec![one]),
        _ => None,
    };
    match attachments {
        Some(list) => {
            item.insert("attachments".into(), Value::Array(list));
        }
        None => {
            item.remove("attachments");
        }
    }
    ["image", "banner_image"]
        .iter()
        .find_map(|key| item.get(*key).and_then(Value::as_str))
        .map(|image| image.trim().to_string())
        .filter(|image| !image.is_empty())
}

fn normalize_attachment(value: &Value) -> Option<Value> {
    let object = value.as_object()?;
    let url = object.get("url").and_then(Value::as_str)?.trim();
    if url.is_empty() {
        return None;
    }
    let mut out = Map::new();
    out.insert("url".into(), Value::String(url.into()));
    let mime = object
        .get("mime_type")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|mime| !mime.is_empty())
        .unwrap_or("application/octet-stream");
    out.insert("mime_type".into(), Value::String(mime.into()));
    if let Some(title) = object.get("title").and_then(text_of) {
        out.insert("title".into(), Value::String(title));
    }
    let size = match object.get("size_in_bytes") {
        Some(Value::Number(n)) => n.as_u64().or_else(|| {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "finite and not negative; `as` drops a fraction and saturates a huge size"
            )]
            let whole = |f: f64| f as u64;
            n.as_f64().filter(|f| *f >= 0.0 && f.is_finite()).map(whole)
        }),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    if let Some(size) = size {
        out.insert("size_in_bytes".into(), Value::from(size));
    }
    Some(Value::Object(out))
}

fn normalize_authors(object: &mut Map<String, Value>) {
    match object.get("author").and_then(normalize_author) {
        Some(author) => {
            object.insert("author".into(), author);
        }
        None => {
            object.remove("author");
        }
    }
    let authors: Option<Vec<Value>> = object
        .get("authors")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(normalize_author).collect());
    match authors {
        Some(list) => {
            object.insert("authors".into(), Value::Array(list));
        }
        None => {
            object.remove("authors");
        }
    }
}

/// An author object; the name gets a space between an e-mail address and wide punctuation
/// touching it, which feed-rs would otherwise panic on (see `defuse.rs`).
fn normalize_author(value: &Value) -> Option<Value> {
    let mut out = Map::new();
    match value {
        Value::Object(object) => {
            if let Some(name) = object.get("name").and_then(Value::as_str) {
                out.insert("name".into(), Value::String(space_out_emails(name)));
            }
            if let Some(url) = object.get("url").and_then(Value::as_str) {
                out.insert("url".into(), Value::String(url.into()));
            }
        }
        Value::String(name) => {
            out.insert("name".into(), Value::String(space_out_emails(name)));
        }
        _ => return None,
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

fn keep_string(object: &mut Map<String, Value>, key: &str) {
    if object.get(key).is_some_and(|value| !value.is_string()) {
        object.remove(key);
    }
}

/// A value's text: a string, a number or boolean as written, or the `#value` of an
/// RSS-in-JSON element with attributes.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Object(object) => object.get("#value").and_then(text_of),
        _ => None,
    }
}

/// Converts an RSS-in-JSON channel (<https://github.com/scripting/Scripting-News/tree/master/rss-in-json>)
/// to JSON Feed.
fn rss_in_json(channel: &Value) -> Value {
    let mut feed = Map::new();
    feed.insert("version".into(), Value::String(VERSION.into()));
    let field = |value: &Value, key: &str| value.get(key).and_then(text_of);
    feed.insert(
        "title".into(),
        Value::String(field(channel, "title").unwrap_or_default()),
    );
    if let Some(link) = field(channel, "link") {
        feed.insert("home_page_url".into(), Value::String(link));
    }
    if let Some(description) = field(channel, "description") {
        feed.insert("description".into(), Value::String(description));
    }
    let items = match channel.get("item") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(item @ Value::Object(_)) => vec![item],
        _ => Vec::new(),
    };
    let items: Vec<Value> = items
        .into_iter()
        .map(|item| {
            let mut out = Map::new();
            for (from, to) in [
                ("guid", "id"),
                ("link", "url"),
                ("title", "title"),
                ("description", "content_html"),
                ("pubDate", "date_published"),
            ] {
                if let Some(text) = field(item, from) {
                    out.insert(to.into(), Value::String(text));
                }
            }
            if let Some(author) = field(item, "author") {
                out.insert("author".into(), serde_json::json!({ "name": author }));
            }
            let tags: Vec<Value> = match item.get("category") {
                Some(Value::Array(list)) => {
                    list.iter().filter_map(text_of).map(Value::String).collect()
                }
                Some(other) => text_of(other).map(Value::String).into_iter().collect(),
                None => Vec::new(),
            };
            if !tags.is_empty() {
                out.insert("tags".into(), Value::Array(tags));
            }
            let enclosures: Vec<&Value> = match item.get("enclosure") {
                Some(Value::Array(list)) => list.iter().collect(),
                Some(one @ Value::Object(_)) => vec![one],
                _ => Vec::new(),
            };
            let attachments: Vec<Value> = enclosures
                .into_iter()
                .filter_map(|enclosure| {
                    let url = field(enclosure, "url")?;
                    let mut attachment = Map::new();
                    attachment.insert("url".into(), Value::String(url));
                    if let Some(mime) = field(enclosure, "type") {
                        attachment.insert("mime_type".into(), Value::String(mime));
                    }
                    if let Some(length) = field(enclosure, "length") {
                        attachment.insert("size_in_bytes".into(), Value::String(length));
                    }
                    Some(Value::Object(attachment))
                })
                .collect();
            if !attachments.is_empty() {
                out.insert("attachments".into(), Value::Array(attachments));
            }
            Value::Object(out)
        })
        .collect();
    feed.insert("items".into(), Value::Array(items));
    Value::Object(feed)
}

/// Escapes raw control characters inside strings (which serde_json rejects) and, if the
/// document is cut short, drops the tail after the last complete object and closes what is
/// still open.
pub(crate) fn repair_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut stack: Vec<char> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    // (output length, open containers) just after the last `}` or `]` that closed a value.
    let mut last_complete: Option<(usize, usize)> = None;
    for ch in text.chars() {
        if in_string {
            match ch {
                _ if escaped => {
                    escaped = false;
                    out.push(ch);
                }
                '\\' => {
                    escaped = true;
                    out.push(ch);
                }
                '"' => {
                    in_string = false;
                    out.push(ch);
                }
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
            continue;
        }
        out.push(ch);
        match ch {
            '"' => in_string = true,
            '{' | '[' => stack.push(ch),
            '}' | ']' => {
                stack.pop();
                last_complete = Some((out.len(), stack.len()));
            }
            _ => {}
        }
    }
    if stack.is_empty() && !in_string {
        return out;
    }
    let Some((cut, open)) = last_complete else {
        return out;
    };
    out.truncate(cut);
    for opener in stack.iter().take(open).rev() {
        out.push(if *opener == '{' { '}' } else { ']' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(prepared: &PreparedJson) -> Vec<Value> {
        let value: Value = serde_json::from_slice(&prepared.bytes).expect("valid JSON");
        value["items"].as_array().cloned().unwrap_or_default()
    }

    #[test]
    fn off_spec_values_are_coerced() {
        let text = r#"{"version":"http://jsonfeed.org/version/1","items":[
            {"id":42,"tags":"a, b,,c","attachments":[{"url":"x.mp3"}],"image":"i.png","url":null},
            "junk"
        ]}"#;
        let prepared = prepare(text).expect("prepares");
        let value: Value = serde_json::from_slice(&prepared.bytes).expect("valid JSON");
        assert_eq!(value["version"], VERSION);
        assert_eq!(value["title"], "");
        let items = items(&prepared);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["id"], "42");
        assert_eq!(items[0]["tags"], serde_json::json!(["a", "b", "c"]));
        assert_eq!(
            items[0]["attachments"][0]["mime_type"],
            "application/octet-stream"
        );
        assert!(items[0].get("url").is_none());
        assert_eq!(prepared.item_images, vec![Some("i.png".to_string())]);
    }

    #[test]
    fn rss_in_json_is_converted() {
        let text = r##"{"rss":{"version":"2.0","channel":{"title":"T","link":"http://x/",
            "item":[{"title":"a","link":"http://x/a","guid":{"isPermaLink":"true","#value":"g1"},
            "enclosure":{"url":"http://x/a.mp3","type":"audio/mpeg","length":"10"}}]}}}"##;
        let prepared = prepare(text).expect("prepares");
        let items = items(&prepared);
        assert_eq!(items[0]["id"], "g1");
        assert_eq!(items[0]["url"], "http://x/a");
        assert_eq!(items[0]["attachments"][0]["size_in_bytes"], 10);
    }

    #[test]
    fn author_names_feed_rs_would_panic_on_are_spaced() {
        let text = r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[
            {"id":"1","authors":[{"name":"Ana ·ana@example.cn"},"编辑部：ed@example.cn"],
             "author":{"name":"ok@example.com (Ok)","url":"https://x.example/"}}]}"#;
        let items = items(&prepare(text).expect("prepares"));
        assert_eq!(
            items[0]["authors"],
            serde_json::json!([{"name": "Ana · ana@example.cn"}, {"name": "编辑部： ed@example.cn"}])
        );
        assert_eq!(items[0]["author"]["name"], "ok@example.com (Ok)");
        assert_eq!(items[0]["author"]["url"], "https://x.example/");
    }

    #[test]
    fn not_a_feed() {
        assert!(matches!(prepare("[1,2]"), Err(NormalizeError::NotAFeed(_))));
        assert!(matches!(
            prepare(r#"{"name":"x"}"#),
            Err(NormalizeError::NotAFeed(_))
        ));
        assert!(matches!(prepare("{oops"), Err(NormalizeError::Json(_))));
    }

    #[test]
    fn truncated_json_keeps_complete_items() {
        let text = "{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"t\",\"items\":[{\"id\":\"1\"},{\"id\":\"2\",\"content_html\":\"line\nbreak";
        assert_eq!(
            repair_json(text),
            "{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"t\",\"items\":[{\"id\":\"1\"}]}"
        );
        let prepared = prepare(text).expect("prepares");
        assert_eq!(items(&prepared).len(), 1);
        assert_eq!(repair_json("{\"a\":\"x\ty\"}"), "{\"a\":\"x\\ty\"}");
    }
}
