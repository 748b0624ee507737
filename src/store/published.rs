//! What each merged-feed file was last rendered from, as a stamp `emit::publish_atom` writes
//! and compares (see there): the store keeps it beside the stories it describes, so every
//! process that polls the store sees the same record.

use rusqlite::OptionalExtension;

use super::{Conn, Result, Store, on_postgres};

/// The same text on both backends.
const STAMP: &str = "SELECT stamp FROM published_files WHERE path = ?1";

/// The same text on both backends: one atomic upsert on each, so two writers of one path need
/// no lock (the later one wins, and a wrong stamp only costs the next poll a render).
const RECORD_STAMP: &str = "INSERT INTO published_files (path, stamp) VALUES (?1, ?2)
     ON CONFLICT (path) DO UPDATE SET stamp = ?2";

impl Store {
    /// The stamp last recorded for the file at `path`, if any.
    pub fn published_stamp(&self, path: &str) -> Result<Option<String>> {
        match &self.conn {
            Conn::Sqlite(conn) => Ok(conn
                .prepare_cached(STAMP)?
                .query_row([path], |row| row.get(0))
                .optional()?),
            Conn::Postgres(pg) => {
                on_postgres(|| match pg.borrow_mut().query(STAMP, &[&path])?.first() {
                    Some(row) => Ok(Some(row.try_get(0)?)),
                    None => Ok(None),
                })
            }
        }
    }

    /// Records `stamp` for the file at `path`, replacing the one before.
    pub fn record_published_stamp(&self, path: &str, stamp: &str) -> Result<()> {
        self.execute_alone(RECORD_STAMP, &[path.into(), stamp.into()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_is_kept_per_path_and_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path().join("t.db")).expect("store");
        assert_eq!(store.published_stamp("/a.atom").expect("read"), None);
        store
            .record_published_stamp("/a.atom", "one")
            .expect("record");
        store
            .record_published_stamp("/b.atom", "two")
            .expect("record");
        store
            .record_published_stamp("/a.atom", "three")
            .expect("record");
        assert_eq!(
            store.published_stamp("/a.atom").expect("read").as_deref(),
            Some("three")
        );
        assert_eq!(
            store.published_stamp("/b.atom").expect("read").as_deref(),
            Some("two")
        );
    }
}
