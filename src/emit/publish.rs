//! Publishing: the stored stories rendered into the outputs, and the Atom file rewritten.
//!
//! The renderers beside this file are pure functions of values; this is the one place in
//! `emit` that reads the store and the config, so a poll, the daemon and `export` all produce
//! the same bytes from the same stories.

use chrono::{DateTime, Utc};
use thiserror::Error;

use super::{FeedMeta, atom, json_feed, opml, rss, write_if_changed};
use crate::config::Config;
use crate::store::{Store, StoreError};

#[derive(Debug, Error)]
pub enum PublishError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the merged feed to {path}: {source}")]
    WriteOutput {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The outputs rendered from the stored stories.
pub struct Rendered {
    pub atom: Vec<u8>,
    pub json: Vec<u8>,
    pub rss: Vec<u8>,
    pub opml: Vec<u8>,
    pub stories: usize,
}

/// Renders the merged feed (Atom, JSON Feed, RSS) and the feed list (OPML) from the store, and
/// rewrites the Atom file atomically when it changed.
pub fn publish(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Rendered, PublishError> {
    let rendered = render(config, store, now)?;
    write_atom(config, &rendered.atom)?;
    Ok(rendered)
}

/// Rewrites only the Atom file (all `tributary poll` leaves behind); returns how many
/// stories it holds.
pub fn publish_atom(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<usize, PublishError> {
    let stories = store.stories(config.output.max_entries)?;
    write_atom(config, &atom(&stories, &feed_meta(config, now)))?;
    Ok(stories.len())
}

/// Writes the Atom file when its bytes changed, so its mtime (and readers' If-Modified-Since)
/// moves only with the stories.
fn write_atom(config: &Config, atom: &[u8]) -> Result<(), PublishError> {
    write_if_changed(&config.output.atom_path, atom).map_err(|source| {
        PublishError::WriteOutput {
            path: config.output.atom_path.clone(),
            source,
        }
    })?;
    Ok(())
}

/// Renders the outputs from the store without writing anything.
pub fn render(config: &Config, store: &Store, now: DateTime<Utc>) -> Result<Rendered, StoreError> {
    let stories = store.stories(config.output.max_entries)?;
    let meta = feed_meta(config, now);
    Ok(Rendered {
        atom: atom(&stories, &meta),
        json: json_feed(&stories, &meta),
        rss: rss(&stories, &meta, &config.output.channel),
        opml: opml(&config.feeds, &config.output.title),
        stories: stories.len(),
    })
}

fn feed_meta(config: &Config, now: DateTime<Utc>) -> FeedMeta {
    FeedMeta {
        title: config.output.title.clone(),
        base_url: config.server.base_url.clone(),
        generated_at: now,
        hub: config.websub.as_ref().map(|websub| websub.hub.clone()),
    }
}
