//! What the WebSub hub was told: per hub and merged-feed URL, the version (ETag) of the feed it
//! last acknowledged (see [`crate::websub`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Result, Store, timestamp};

impl Store {
    /// Feed URL to the ETag `hub` last acknowledged for it.
    pub fn websub_acknowledged(&self, hub: &str) -> Result<HashMap<String, String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT feed_url, etag FROM websub_pings WHERE hub = ?1")?;
        let rows = stmt.query_map([hub], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records that `hub` acknowledged the version `etag` of `feed_url`.
    pub fn record_websub_ack(
        &self,
        hub: &str,
        feed_url: &str,
        etag: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO websub_pings (hub, feed_url, etag, pinged_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (hub, feed_url) DO UPDATE SET etag = ?3, pinged_at = ?4",
            )?
            .execute(params![hub, feed_url, etag, timestamp(now)])?;
        Ok(())
    }
}
