//! HELPER-OWNED: placeholder until the normalise helper lands its module.
use chrono::{DateTime, Utc};
use thiserror::Error;
use url::Url;

use crate::model::Item;

#[derive(Debug, Clone, Default)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub link: Option<String>,
    pub ttl: Option<std::time::Duration>,
    pub items: Vec<Item>,
}

#[derive(Debug, Error)]
pub enum NormalizeError {
    #[error("placeholder")]
    Placeholder,
}

pub fn parse_feed(
    _bytes: &[u8],
    _feed_url: &Url,
    _source: &str,
    _now: DateTime<Utc>,
) -> Result<ParsedFeed, NormalizeError> {
    todo!()
}
