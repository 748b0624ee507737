//! The transcript cache: each transcript URL fetched once, its words kept (or why there were
//! none, and when), and which item is matched by which transcript's words (see
//! [`crate::transcript`]).

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::postgres::{OffRuntime, PgError};
use super::sql::postgres_text;
use super::{
    BUSY_TIMEOUT, Result, SqliteTx, StorageTarget, StoreError, on_postgres, parse_timestamp,
    timestamp,
};

/// What the cache holds for a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachedTranscript {
    Words(String),
    /// The last fetch yielded no words, at `at`.
    Failed {
        at: DateTime<Utc>,
    },
}

/// The cache as a poll's fetch tasks read it: a read-only connection of its own, since the
/// store's connection belongs to the writer, and a lookup must not wait for a write.
pub struct TranscriptCache {
    conn: parking_lot::Mutex<CacheConn>,
}

enum CacheConn {
    Sqlite(Connection),
    /// The lookup is prepared when the cache opens: it is the only statement, and preparing
    /// it per lookup would double each lookup's round trips.
    Postgres {
        client: OffRuntime<postgres::Client>,
        lookup: postgres::Statement,
    },
}

/// A URL's cached words and when they were fetched, on either backend.
const LOOKUP: &str = "SELECT words, fetched_at FROM transcripts WHERE url = ?1";

impl TranscriptCache {
    pub fn open(target: impl Into<StorageTarget>) -> Result<TranscriptCache> {
        let conn = match target.into() {
            StorageTarget::Sqlite(path) => CacheConn::Sqlite(TranscriptCache::open_sqlite(&path)?),
            StorageTarget::Postgres(target) => on_postgres(|| {
                let mut client = target.connect()?;
                let lookup = client.prepare(&postgres_text(LOOKUP))?;
                Ok(CacheConn::Postgres {
                    client: OffRuntime::new(client),
                    lookup,
                })
            })?,
        };
        Ok(TranscriptCache {
            conn: parking_lot::Mutex::new(conn),
        })
    }

    fn open_sqlite(path: &Path) -> Result<Connection> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        Ok(conn)
    }

    pub fn lookup(&self, url: &str) -> Result<Option<CachedTranscript>> {
        let row: Option<(Option<String>, String)> = match &mut *self.conn.lock() {
            CacheConn::Sqlite(conn) => conn
                .prepare_cached(LOOKUP)?
                .query_row([url], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?,
            CacheConn::Postgres { client, lookup } => on_postgres(|| {
                client
                    .query_opt(&*lookup, &[&url])?
                    .map(|row| Ok::<_, PgError>((row.try_get(0)?, row.try_get(1)?)))
                    .transpose()
            })?,
        };
        Ok(row.map(|(words, at)| match words {
            Some(words) => CachedTranscript::Words(words),
            None => CachedTranscript::Failed {
                at: parse_timestamp(&at).unwrap_or_default(),
            },
        }))
    }
}

/// What a transcript fetch brought; words once had are kept. The same text on both backends.
pub(super) const RECORD_TRANSCRIPT: &str =
    "INSERT INTO transcripts (url, fetched_at, words, error) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (url) DO UPDATE SET fetched_at = ?2, words = ?3, error = ?4
                 WHERE transcripts.words IS NULL";

/// The transcript an item is matched by. The same text on both backends.
pub(super) const ITEM_TRANSCRIPT: &str = "SELECT url FROM item_transcripts WHERE item_id = ?1";

/// Which transcript an item is matched by. The same text on both backends.
pub(super) const SET_ITEM_TRANSCRIPT: &str =
    "INSERT INTO item_transcripts (item_id, url) VALUES (?1, ?2)
                     ON CONFLICT (item_id) DO UPDATE SET url = ?2";

/// An item matched by its own text again. The same text on both backends.
pub(super) const CLEAR_ITEM_TRANSCRIPT: &str = "DELETE FROM item_transcripts WHERE item_id = ?1";

impl SqliteTx<'_> {
    /// Keeps what a transcript fetch brought: its words, or the error. Words once had are
    /// never replaced by a later failure.
    pub fn record_transcript(
        &self,
        url: &str,
        words: std::result::Result<&str, String>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (words, error) = match words {
            Ok(words) => (Some(words), None),
            Err(error) => (None, Some(error)),
        };
        self.tx.prepare_cached(RECORD_TRANSCRIPT)?.execute(params![
            url,
            timestamp(now),
            words,
            error
        ])?;
        Ok(())
    }

    /// The transcript whose words an item is matched by, if any.
    pub fn item_transcript(&self, item_id: i64) -> Result<Option<String>> {
        Ok(self
            .tx
            .prepare_cached(ITEM_TRANSCRIPT)?
            .query_row([item_id], |row| row.get(0))
            .optional()?)
    }

    /// Records which transcript's words an item is matched by (`None`: its own text).
    pub fn set_item_transcript(&self, item_id: i64, url: Option<&str>) -> Result<()> {
        match url {
            Some(url) => self
                .tx
                .prepare_cached(SET_ITEM_TRANSCRIPT)?
                .execute(params![item_id, url])?,
            None => self
                .tx
                .prepare_cached(CLEAR_ITEM_TRANSCRIPT)?
                .execute([item_id])?,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn words_once_had_are_kept_and_failures_dated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let mut store = Store::open(&path).expect("store");
        let at = |s: i64| DateTime::<Utc>::from_timestamp(s, 0).expect("valid time");
        let tx = store.begin_write().expect("write");
        tx.record_transcript("https://a.example/t.vtt", Ok("reward models"), at(10))
            .expect("record");
        tx.record_transcript("https://a.example/gone.vtt", Err("404".into()), at(20))
            .expect("record");
        tx.commit().expect("commit");
        let cache = TranscriptCache::open(&path).expect("cache");
        assert_eq!(
            cache.lookup("https://a.example/t.vtt").expect("lookup"),
            Some(CachedTranscript::Words("reward models".into()))
        );
        assert_eq!(
            cache.lookup("https://a.example/gone.vtt").expect("lookup"),
            Some(CachedTranscript::Failed { at: at(20) })
        );
        assert_eq!(
            cache.lookup("https://a.example/new.vtt").expect("lookup"),
            None
        );

        // A later failure does not erase words; a later success replaces a failure.
        let tx = store.begin_write().expect("write");
        tx.record_transcript("https://a.example/t.vtt", Err("timeout".into()), at(30))
            .expect("record");
        tx.record_transcript("https://a.example/gone.vtt", Ok("back again"), at(40))
            .expect("record");
        tx.commit().expect("commit");
        assert_eq!(
            cache.lookup("https://a.example/t.vtt").expect("lookup"),
            Some(CachedTranscript::Words("reward models".into()))
        );
        assert_eq!(
            cache.lookup("https://a.example/gone.vtt").expect("lookup"),
            Some(CachedTranscript::Words("back again".into()))
        );
    }
}
