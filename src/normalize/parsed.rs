//! A parsed item whose HTML is not yet sanitised.
//!
//! Sanitising (html5ever's tokenizer and tree builder, then cleaning the tree) costs more than
//! everything else in normalising an item, and most items a poll sees are ones the store
//! already holds. So the parse keeps each item's HTML as the feed wrote it, the store compares
//! items by [`ParsedItem::content_hash`] of that raw form, and only an item that is new or
//! really changed is sanitised ([`ParsedItem::sanitized`]). The raw HTML is private: the only
//! way to get an [`Item`] out is through the sanitiser.

use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

use super::html::sanitize;
use crate::hex::hex;
use crate::model::Item;

/// An HTML body on its way to the store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) enum Html {
    /// Safe as it is: plain text already escaped, or HTML already sanitised.
    Safe(String),
    /// As the feed wrote it; to be sanitised against the item's base URL.
    Raw(String),
}

impl Html {
    /// The markup, whichever state it is in.
    pub(crate) fn as_str(&self) -> &str {
        let (Html::Safe(html) | Html::Raw(html)) = self;
        html
    }

    /// Sanitises raw HTML; `None` when nothing is left of it.
    pub(crate) fn into_safe(self, base: &Url) -> Option<String> {
        let html = match self {
            Html::Safe(html) => html,
            Html::Raw(html) => sanitize(&html, base),
        };
        (!html.trim().is_empty()).then_some(html)
    }

    /// [`Html::into_safe`] for an optional body, kept as a (safe) body.
    pub(crate) fn sanitize_body(body: Option<Html>, base: &Url) -> Option<Html> {
        body.and_then(|html| html.into_safe(base)).map(Html::Safe)
    }
}

/// One item as parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedItem {
    /// Everything but the HTML bodies (its `summary` and `content` are `None`).
    item: Item,
    summary: Option<Html>,
    content: Option<Html>,
    /// What relative URLs in the HTML resolve against.
    base: Url,
    /// [`ParsedItem::content_hash`], kept once the HTML is sanitised ahead of storing.
    raw_hash: Option<String>,
    /// The words of the episode's transcript (its URL, then the words), when the poll fetched
    /// them or had them already (see [`crate::transcript`]).
    transcript: Option<(String, Arc<str>)>,
}

impl ParsedItem {
    pub(crate) fn new(item: Item, summary: Option<Html>, content: Option<Html>, base: Url) -> Self {
        ParsedItem {
            item: Item {
                summary: None,
                content: None,
                ..item
            },
            summary,
            content,
            base,
            raw_hash: None,
            transcript: None,
        }
    }

    /// Sanitises the HTML now, keeping the hash of the raw form: the poll does this on its
    /// parser threads for the items that survived [`super::parse_feed_since`] (nearly all of
    /// them new or edited), so the one thread that writes the store does not have to.
    pub fn sanitize_ahead(&mut self) {
        if self.raw_hash.is_none() {
            self.raw_hash = Some(self.raw_content_hash());
        }
        self.summary = Html::sanitize_body(self.summary.take(), &self.base);
        self.content = Html::sanitize_body(self.content.take(), &self.base);
    }

    /// The item, its HTML sanitised.
    pub fn sanitized(&self) -> Item {
        let safe = |html: &Option<Html>| html.clone().and_then(|html| html.into_safe(&self.base));
        Item {
            summary: safe(&self.summary),
            content: safe(&self.content),
            ..self.item.clone()
        }
    }

    /// Everything but the HTML bodies, for sorting and matching by id, title and dates.
    pub fn fields(&self) -> &Item {
        &self.item
    }

    /// Gives the item its transcript's words, read from `url`.
    pub fn set_transcript(&mut self, url: String, words: Arc<str>) {
        self.transcript = Some((url, words));
    }

    /// The transcript's URL and words, when the item was given them.
    pub fn transcript(&self) -> Option<(&str, &str)> {
        self.transcript
            .as_ref()
            .map(|(url, words)| (url.as_str(), &**words))
    }

    /// A hash of the item as parsed (HTML unsanitised, with its base), and of the transcript it
    /// was given: equal hashes mean neither the feed nor the evidence changed, so the stored
    /// copy stands without sanitising again. An item without a transcript hashes as it did
    /// before transcripts were read, so stored items are not taken for edited.
    pub fn content_hash(&self) -> String {
        let raw = self.raw_content_hash();
        match &self.transcript {
            None => raw,
            Some((url, _)) => {
                let digest = Sha256::new()
                    .chain_update(raw.as_bytes())
                    .chain_update([0])
                    .chain_update(url.as_bytes())
                    .finalize();
                format!("raw:{}", hex(&digest))
            }
        }
    }

    fn raw_content_hash(&self) -> String {
        #[derive(Serialize)]
        struct Hashed<'a> {
            item: &'a Item,
            summary: &'a Option<Html>,
            content: &'a Option<Html>,
            base: &'a str,
        }
        if let Some(hash) = &self.raw_hash {
            return hash.clone();
        }
        let hashed = Hashed {
            item: &self.item,
            summary: &self.summary,
            content: &self.content,
            base: self.base.as_str(),
        };
        // Serialising plain strings, numbers and dates cannot fail.
        let bytes = serde_json::to_vec(&hashed).unwrap_or_default();
        format!("raw:{}", hex(&Sha256::digest(&bytes)))
    }
}

/// An item built elsewhere (by hand, in tests and benchmarks) is taken as already safe.
impl From<Item> for ParsedItem {
    fn from(item: Item) -> Self {
        let summary = item.summary.clone().map(Html::Safe);
        let content = item.content.clone().map(Html::Safe);
        // Never used: safe HTML is not resolved again.
        let base = Url::parse("about:blank").expect("a valid URL literal");
        ParsedItem::new(item, summary, content, base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ItemKind;

    fn item() -> Item {
        Item {
            source: "s".into(),
            guid: "g".into(),
            link: None,
            title: "t".into(),
            authors: vec![],
            published: None,
            updated: None,
            summary: None,
            content: None,
            categories: vec![],
            kind: ItemKind::Post,
            enclosure: None,
            duration: None,
            image: None,
            podcast: Default::default(),
        }
    }

    fn base() -> Url {
        Url::parse("https://example.com/post/").expect("valid test URL")
    }

    #[test]
    fn only_the_sanitised_item_comes_out() {
        let parsed = ParsedItem::new(
            item(),
            Some(Html::Safe("a &lt;b&gt;".into())),
            Some(Html::Raw(
                "<p onclick=x>hi <img src=i.png><script>1</script></p>".into(),
            )),
            base(),
        );
        let clean = parsed.sanitized();
        assert_eq!(clean.summary.as_deref(), Some("a &lt;b&gt;"));
        assert_eq!(
            clean.content.as_deref(),
            Some(r#"<p>hi <img src="https://example.com/post/i.png"></p>"#)
        );
        assert_eq!(parsed.fields().content, None);
    }

    #[test]
    fn sanitising_ahead_changes_neither_the_item_nor_its_hash() {
        let raw = ParsedItem::new(
            item(),
            Some(Html::Raw("<b onmouseover=x>bold</b>".into())),
            Some(Html::Raw(
                "<p>text <a href=/x>link</a></p><script>1</script>".into(),
            )),
            base(),
        );
        let mut ahead = raw.clone();
        ahead.sanitize_ahead();
        assert_eq!(ahead.sanitized(), raw.sanitized());
        assert_eq!(ahead.content_hash(), raw.content_hash());
    }

    #[test]
    fn html_that_sanitises_to_nothing_is_no_body() {
        let parsed = ParsedItem::new(
            item(),
            None,
            Some(Html::Raw("<script>x</script>".into())),
            base(),
        );
        assert_eq!(parsed.sanitized().content, None);
    }

    #[test]
    fn the_hash_sees_raw_html_and_its_base() {
        let with = |html: &str, base: Url| {
            ParsedItem::new(item(), None, Some(Html::Raw(html.into())), base).content_hash()
        };
        let a = with("<a href=x>1</a>", base());
        assert_eq!(a, with("<a href=x>1</a>", base()));
        assert_ne!(a, with("<a href=y>1</a>", base()));
        let elsewhere = Url::parse("https://example.org/").expect("valid test URL");
        assert_ne!(a, with("<a href=x>1</a>", elsewhere));
    }
}
