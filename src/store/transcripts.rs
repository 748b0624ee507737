//! The transcript cache: each transcript URL fetched once, its words kept (or why there were
//! none, and when), and which item is matched by which transcript's words (see
//! [`crate::transcript`]).

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{BUSY_TIMEOUT, Result, StoreError, WriteTx, parse_timestamp, timestamp};

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
    conn: parking_lot::Mutex<Connection>,
}

impl TranscriptCache {
    pub fn open(path: &Path) -> Result<TranscriptCache> {
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
        Ok(TranscriptCache {
            conn: parking_lot::Mutex::new(conn),
        })
    }

    pub fn lookup(&self, url: &str) -> Result<Option<CachedTranscript>> {
        let conn = self.conn.lock();
        let row: Option<(Option<String>, String)> = conn
            .prepare_cached("SELECT words, fetched_at FROM transcripts WHERE url = ?1")?
            .query_row([url], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        Ok(row.map(|(words, at)| match words {
            Some(words) => CachedTranscript::Words(words),
            None => CachedTranscript::Failed {
                at: parse_timestamp(&at).unwrap_or_default(),
            },
        }))
    }
}

impl WriteTx<'_> {
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
        self.tx
            .prepare_cached(
                "INSERT INTO transcripts (url, fetched_at, words, error) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (url) DO UPDATE SET fetched_at = ?2, words = ?3, error = ?4
                 WHERE transcripts.words IS NULL",
            )?
            .execute(params![url, timestamp(now), words, error])?;
        Ok(())
    }

    /// The transcript whose words an item is matched by, if any.
    pub fn item_transcript(&self, item_id: i64) -> Result<Option<String>> {
        Ok(self
            .tx
            .prepare_cached("SELECT url FROM item_transcripts WHERE item_id = ?1")?
            .query_row([item_id], |row| row.get(0))
            .optional()?)
    }

    /// Records which transcript's words an item is matched by (`None`: its own text).
    pub fn set_item_transcript(&self, item_id: i64, url: Option<&str>) -> Result<()> {
        match url {
            Some(url) => self
                .tx
                .prepare_cached(
                    "INSERT INTO item_transcripts (item_id, url) VALUES (?1, ?2)
                     ON CONFLICT (item_id) DO UPDATE SET url = ?2",
                )?
                .execute(params![item_id, url])?,
            None => self
                .tx
                .prepare_cached("DELETE FROM item_transcripts WHERE item_id = ?1")?
                .execute([item_id])?,
        };
        Ok(())
    }
}
