//! Items built by hand, for the tests that drive the store and ingest directly.

use chrono::{DateTime, Utc};
use tributary::model::{Item, ItemKind, Podcast};

/// A post of feed `source` at `https://{source}.example/{guid}`, with `content` as its text.
pub fn post(
    source: &str,
    guid: &str,
    title: &str,
    content: &str,
    published: Option<DateTime<Utc>>,
) -> Item {
    Item {
        source: source.into(),
        guid: guid.into(),
        link: Some(format!("https://{source}.example/{guid}")),
        title: title.into(),
        authors: vec![],
        published,
        updated: None,
        summary: None,
        content: Some(content.into()),
        categories: vec![],
        kind: ItemKind::Post,
        enclosure: None,
        duration: None,
        image: None,
        podcast: Podcast::default(),
    }
}
