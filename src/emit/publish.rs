//! Publishing: the stored stories rendered into the outputs, and the Atom file rewritten.
//!
//! The renderers beside this file are pure functions of values; this is the one place in
//! `emit` that reads the store and the config, so a poll, the daemon and `export` all produce
//! the same bytes from the same stories.

use std::fs;
use std::hash::{Hash, Hasher};
use std::time::UNIX_EPOCH;

use chrono::{DateTime, Utc};
use thiserror::Error;

use super::{FeedMeta, atom, json_feed, opml, rss, write_if_changed};
use crate::config::Config;
use crate::store::{Store, StoreError, StoriesMark};

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

/// Brings the Atom file (all `tributary poll` leaves behind) up to date and returns how many
/// stories it holds.
///
/// Design decision: a poll that brought nothing new (`stories_changed` false) renders the file
/// again only when its stamp moved: the newest stories' [`StoriesMark`], the settings and
/// version that shape the file, and the file as it was written (size, time, inode). Reading
/// the 200 newest stories and rendering them was about a tenth of an all-304 poll of 1,000
/// feeds; the stamp costs a read of the stories' heads and a `stat`. Anything that may change
/// the file moves one of them: an ingest or correction by any process moves the mark, an edited
/// config the settings, a file rewritten or removed by someone else its identity. A build that
/// renders differently under the same version number leaves the file as the last build wrote
/// it until the stories next change; a release moves the version, and with it the stamp.
pub fn publish_atom(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
    stories_changed: bool,
) -> Result<usize, PublishError> {
    let path = &config.output.atom_path;
    let key = path.to_string_lossy();
    // Read before the stories it marks: a write landing in between moves the mark again, so
    // the next poll renders it rather than missing it.
    let mark = store.stories_mark(config.output.max_entries)?;
    let settings = settings_digest(config);
    let file_stamp = || {
        fs::metadata(path)
            .ok()
            .and_then(|file| stamp(mark, settings, &file))
    };
    if !stories_changed && let Some(written) = file_stamp() {
        // A stamp that cannot be read only costs a render, as one that cannot be kept.
        let recorded = store.published_stamp(&key).unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot read what the merged feed was rendered from");
            None
        });
        if recorded.as_ref() == Some(&written) {
            tracing::debug!(path = %path.display(), "the merged feed is up to date");
            return Ok(mark.stories());
        }
    }
    let stories = store.stories(config.output.max_entries)?;
    write_atom(config, &atom(&stories, &feed_meta(config, now)))?;
    // The file is written: a stamp that cannot be kept only costs the next poll a render.
    match file_stamp() {
        Some(stamp) => {
            if let Err(error) = store.record_published_stamp(&key, &stamp) {
                tracing::warn!(%error, "cannot record what the merged feed was rendered from");
            }
        }
        None => tracing::debug!(path = %path.display(), "no stamp for the merged feed"),
    }
    Ok(stories.len())
}

/// What shapes the Atom file besides the stories: this version's renderer, the feed's own
/// metadata, how many entries it holds, and each feed's role (which member leads a story).
/// SipHash with fixed keys, as [`StoriesMark`]: the same config gives the same digest in every
/// process of this build.
fn settings_digest(config: &Config) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    config.output.title.hash(&mut hasher);
    config.server.base_url.as_str().hash(&mut hasher);
    config
        .websub
        .as_ref()
        .map(|w| w.hub.as_str())
        .hash(&mut hasher);
    config.output.max_entries.hash(&mut hasher);
    for feed in &config.feeds {
        (&feed.name, feed.url.as_str(), feed.role.as_str()).hash(&mut hasher);
    }
    hasher.finish()
}

/// The stamp of a file written at `mark` under `settings`; `None` where the file system keeps
/// no modification time, since size alone cannot tell a rewritten file.
fn stamp(mark: StoriesMark, settings: u64, file: &fs::Metadata) -> Option<String> {
    let modified = file.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(file);
    #[cfg(not(unix))]
    let inode = 0;
    Some(format!(
        "{mark} {settings:016x} {} {}.{:09} {inode}",
        file.len(),
        modified.as_secs(),
        modified.subsec_nanos()
    ))
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::ingest::{self, IngestContext};
    use crate::model::Item;
    use crate::normalize::ParsedItem;
    use crate::store::PollState;

    fn config(dir: &std::path::Path, title: &str) -> Config {
        Config::parse(
            &format!(
                "[storage]\ndatabase = \"{db}\"\n[output]\natom_path = \"{atom}\"\ntitle = \"{title}\"\n\
                 [[feeds]]\nname = \"writer\"\nurl = \"https://writer.example/feed\"\n",
                db = dir.join("t.db").display(),
                atom = dir.join("merged.atom").display(),
            ),
            "test",
        )
        .expect("config")
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 4, 2, 9, 0, 0)
            .single()
            .expect("valid date")
    }

    fn post(guid: &str, title: &str) -> ParsedItem {
        ParsedItem::from(Item::test_post(
            "writer",
            guid,
            title,
            &format!("<p>All about {title}, at length.</p>"),
            now(),
        ))
    }

    fn store_with(config: &Config, items: &[ParsedItem]) -> Store {
        let mut store = Store::open(config.database.clone()).expect("store");
        store.sync_sources(&config.feeds).expect("sync");
        ingest_more(&mut store, config, items);
        store
    }

    fn ingest_more(store: &mut Store, config: &Config, items: &[ParsedItem]) {
        let source = store.sources().expect("sources").remove(0);
        let context = IngestContext::new(config);
        ingest::ingest(
            store,
            &source,
            items,
            &PollState::default(),
            &context,
            now(),
        )
        .expect("ingest");
    }

    /// Makes the stored stories unreadable, so that a render fails where a skip succeeds:
    /// the proof that a publish read no story.
    fn corrupt_items(dir: &std::path::Path) {
        rusqlite::Connection::open(dir.join("t.db"))
            .expect("a second connection")
            .execute_batch("UPDATE items SET data = '{not json'")
            .expect("corrupt");
    }

    fn atom_text(config: &Config) -> String {
        std::fs::read_to_string(&config.output.atom_path).expect("merged feed")
    }

    #[test]
    fn a_poll_that_changed_nothing_does_not_render_the_feed_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path(), "Mine");
        let store = store_with(&config, &[post("1", "First essay")]);
        assert_eq!(
            publish_atom(&config, &store, now(), true).expect("publish"),
            1
        );
        let before = atom_text(&config);
        corrupt_items(dir.path());
        assert_eq!(
            publish_atom(&config, &store, now(), false).expect("nothing to render"),
            1
        );
        assert_eq!(atom_text(&config), before);
        // A caller that changed the stories renders whatever the stamp says.
        assert!(matches!(
            publish_atom(&config, &store, now(), true),
            Err(PublishError::Store(StoreError::CorruptItem { .. }))
        ));
    }

    #[test]
    fn the_feed_is_rendered_again_when_its_stories_settings_or_file_moved() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path(), "Mine");
        let mut store = store_with(&config, &[post("1", "First essay")]);
        publish_atom(&config, &store, now(), true).expect("publish");

        // Another process ingested: the newest stories' mark moved.
        ingest_more(&mut store, &config, &[post("2", "Second essay")]);
        assert_eq!(
            publish_atom(&config, &store, now(), false).expect("publish"),
            2
        );
        assert!(atom_text(&config).contains("Second essay"));

        // The config changed what the feed says of itself.
        let retitled = self::config(dir.path(), "Renamed");
        publish_atom(&retitled, &store, now(), false).expect("publish");
        assert!(atom_text(&config).contains("Renamed"));

        // Someone else rewrote the file, or removed it.
        std::fs::write(&config.output.atom_path, "edited").expect("edit");
        publish_atom(&retitled, &store, now(), false).expect("publish");
        assert!(atom_text(&config).contains("Second essay"));
        std::fs::remove_file(&config.output.atom_path).expect("remove");
        publish_atom(&retitled, &store, now(), false).expect("publish");
        assert!(atom_text(&config).contains("Second essay"));
    }

    #[test]
    fn a_stamp_that_cannot_be_read_or_kept_costs_a_render_not_the_feed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path(), "Mine");
        let mut store = store_with(&config, &[post("1", "First essay")]);
        rusqlite::Connection::open(dir.path().join("t.db"))
            .expect("a second connection")
            .execute_batch("DROP TABLE published_files")
            .expect("drop");
        assert_eq!(
            publish_atom(&config, &store, now(), true).expect("publish"),
            1
        );
        ingest_more(&mut store, &config, &[post("2", "Second essay")]);
        assert_eq!(
            publish_atom(&config, &store, now(), false).expect("publish"),
            2
        );
        assert!(atom_text(&config).contains("Second essay"));
    }
}
