//! What the WebSub hub was told: per hub and merged-feed URL, the version (ETag) of the feed it
//! last acknowledged (see [`crate::websub`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::sql::FromRow;
use super::{Conn, Result, Store, on_postgres, timestamp};

/// What a hub acknowledged, per feed URL. The same text on both backends.
const ACKNOWLEDGED: &str = "SELECT feed_url, etag FROM websub_pings WHERE hub = ?1";

/// One acknowledgement, replacing the one before. The same text on both backends: the upsert is
/// one atomic statement on each, so instances sharing a PostgreSQL database that record the
/// same hub and feed at once need no lock (the later write wins, as on SQLite).
const RECORD_ACK: &str =
    "INSERT INTO websub_pings (hub, feed_url, etag, pinged_at) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (hub, feed_url) DO UPDATE SET etag = ?3, pinged_at = ?4";

impl Store {
    /// Feed URL to the ETag `hub` last acknowledged for it.
    pub fn websub_acknowledged(&self, hub: &str) -> Result<HashMap<String, String>> {
        match &self.conn {
            Conn::Sqlite(conn) => Ok(conn
                .prepare_cached(ACKNOWLEDGED)?
                .query_map([hub], |row| <(String, String)>::from_row(row))?
                .collect::<rusqlite::Result<_>>()?),
            Conn::Postgres(pg) => on_postgres(|| {
                pg.borrow_mut()
                    .query(ACKNOWLEDGED, &[&hub])?
                    .iter()
                    .map(|row| Ok(<(String, String)>::from_row(row)?))
                    .collect()
            }),
        }
    }

    /// Records that `hub` acknowledged the version `etag` of `feed_url`.
    pub fn record_websub_ack(
        &self,
        hub: &str,
        feed_url: &str,
        etag: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.execute_alone(
            RECORD_ACK,
            &[
                hub.into(),
                feed_url.into(),
                etag.into(),
                timestamp(now).into(),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_are_kept_per_hub_and_feed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path().join("t.db")).expect("store");
        let now = DateTime::<Utc>::from_timestamp(100, 0).expect("valid time");
        let (hub, other) = ("https://hub.example/", "https://other.example/");
        let atom = "https://f.example/feed.atom";
        store
            .record_websub_ack(hub, atom, "v1", now)
            .expect("record");
        store
            .record_websub_ack(hub, atom, "v2", now)
            .expect("record");
        store
            .record_websub_ack(other, atom, "v1", now)
            .expect("record");
        let acks = store.websub_acknowledged(hub).expect("read");
        assert_eq!(acks.len(), 1);
        assert_eq!(acks.get(atom).map(String::as_str), Some("v2"));
        assert_eq!(
            store
                .websub_acknowledged(other)
                .expect("read")
                .get(atom)
                .map(String::as_str),
            Some("v1")
        );
        assert!(
            store
                .websub_acknowledged("https://none.example/")
                .expect("read")
                .is_empty()
        );
    }
}
