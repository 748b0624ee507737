//! The PostgreSQL backend (docs/postgres.md): where a `postgres://` database is reached, how
//! its schema is brought up to date, and the store operations ported so far, written with the
//! same statement texts as SQLite's (see `super::sql`).
//!
//! Design decision: the blocking `postgres` client, because the store is blocking today. It
//! runs its own current-thread runtime per client, whose `block_on` panics on a tokio worker
//! thread: `Store` calls it through `on_postgres`, and whatever holds it is dropped through
//! `OffRuntime`.

mod matching;
mod migrations;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use postgres::config::Host;
use thiserror::Error;

use super::sql::{Twin, postgres_params, postgres_text};
use chrono::{DateTime, Utc};

use super::matching::{
    ADD_BOILERPLATE, BOILERPLATE, BOILERPLATE_COUNT, DECORATIONS, FEED_AUTHORS, ITEMS_TO_INDEX,
    IndexedWords, KeyColumn, KeyIndex, KeyRows, MAX_BOILERPLATE, RECENT_BODIES, RELABEL,
    SET_FEED_FACTS, STORY_PINNED, decorations_from, log_indexed, words_to_index,
};
use super::transcripts::{
    CLEAR_ITEM_TRANSCRIPT, ITEM_TRANSCRIPT, RECORD_TRANSCRIPT, SET_ITEM_TRANSCRIPT,
};
use super::{
    COUNT_ITEM, CREATE_STORY, ENQUEUE_NOTIFICATION, EXISTING_ITEM, EditedItem, ExistingItem,
    FIRST_MESSAGE, FOLD_CHANGE, INSERT_EDIT, INSERT_ITEM, ITEM_DATA, MERGE_ITEMS, MERGE_MARK,
    MERGE_OUTBOX, MERGE_PUBLISHED, NEXT_REVISION, NewItem, OPEN_ROW, PollState, SAVE_POLL_STATE,
    SET_CONTENT_HASH, SOURCE_SELECT, STORY_ATOM_ID, STORY_HAS_AUDIO, SourceRecord, StoryChange,
    TOUCH_STORY, UPDATE_ITEM, UPSERT_SOURCE, changes_json, existing_from_row, item_json,
    new_item_params, poll_state_params, revision_key, saturating_u32, source_from_row, timestamp,
};
use crate::config::FeedConfig;
use crate::dedupe::{Decorations, ItemKeys, hash_from_sql, hash_to_sql};
use crate::model::{Item, MatchReason, MemberRole};

pub use migrations::MIGRATIONS;

/// The advisory lock (a key of PostgreSQL's one shared 64-bit lock space) under which
/// migrations run, so that instances starting at once apply each migration once: "tribmigr".
const MIGRATION_LOCK: i64 = 0x7472_6962_6d69_6772;

/// The advisory lock every write transaction takes first, so that writes run one at a time
/// across all instances, as `BEGIN IMMEDIATE` makes them on SQLite: matching reads the dedupe
/// indexes and then writes, and two instances doing that at once for two copies of one work
/// would each find nothing and make two stories (docs/postgres.md, "Dedupe"): "tribwrit".
const INGEST_LOCK: i64 = 0x7472_6962_7772_6974;

#[derive(Debug, Error)]
pub enum PgError {
    #[error("`{0}` is not a PostgreSQL URL (postgres://... or postgresql://...)")]
    NotAUrl(String),
    /// The parser's message names the parameter it rejected, never the password.
    #[error("invalid PostgreSQL URL: {0}")]
    Url(#[source] postgres::Error),
    #[error("cannot set up TLS for PostgreSQL: {0}")]
    Tls(#[from] rustls::Error),
    #[error("cannot connect to {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: postgres::Error,
    },
    #[error(
        "database {target} is at schema version {found}, newer than this tributary knows ({known}); upgrade tributary"
    )]
    TooNew {
        target: String,
        found: i64,
        known: usize,
    },
    #[error("database {target} is at schema version {found}, which no tributary writes")]
    NegativeVersion { target: String, found: i64 },
    #[error("database error: {0}")]
    Sql(#[from] postgres::Error),
    #[error("unknown source `{0}`")]
    UnknownSource(String),
    #[error("an item cannot be stored: {0}")]
    Item(#[source] serde_json::Error),
    #[error("no story `{0}`")]
    UnknownStory(i64),
    #[error("no item {0}")]
    UnknownItem(i64),
    #[error("unknown correction action `{0}`")]
    UnknownCorrection(String),
    #[error("stored item {id} is corrupt: {source}")]
    CorruptItem {
        id: i64,
        #[source]
        source: serde_json::Error,
    },
    #[error("outbox row {id} holds changes that cannot be read: {source}")]
    CorruptChanges {
        id: i64,
        #[source]
        source: serde_json::Error,
    },
}

type Result<T, E = PgError> = std::result::Result<T, E>;

/// A value of the blocking client (a connection, a transaction) whose drop talks to the server
/// through the client's own `block_on` (closing the connection, rolling back), which panics
/// on a thread that is running tokio tasks. Dropped here off the runtime instead: through
/// `block_in_place` on a multi-thread runtime, on a scoped thread of its own on a
/// current-thread one.
pub(super) struct OffRuntime<T: Send>(Option<T>);

impl<T: Send> OffRuntime<T> {
    pub(super) fn new(value: T) -> OffRuntime<T> {
        OffRuntime(Some(value))
    }

    fn into_inner(mut self) -> T {
        self.0
            .take()
            .expect("an OffRuntime holds its value until it is dropped")
    }
}

impl<T: Send> std::ops::Deref for OffRuntime<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0
            .as_ref()
            .expect("an OffRuntime holds its value until it is dropped")
    }
}

impl<T: Send> std::ops::DerefMut for OffRuntime<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0
            .as_mut()
            .expect("an OffRuntime holds its value until it is dropped")
    }
}

impl<T: Send> Drop for OffRuntime<T> {
    fn drop(&mut self) {
        let Some(value) = self.0.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                tokio::task::block_in_place(move || drop(value));
            }
            Ok(_) => std::thread::scope(|scope| {
                scope.spawn(move || drop(value));
            }),
            Err(_) => drop(value),
        }
    }
}

/// Statements prepared on a connection, by their text. `postgres` prepares a `&str` statement
/// on every call (a round trip more than executing it); the store's statements are constants,
/// so each is prepared once per connection, as rusqlite's `prepare_cached` does for SQLite.
#[derive(Default)]
struct Prepared(HashMap<String, postgres::Statement>);

impl Prepared {
    /// The prepared form of `sqlite_text`, rewritten for PostgreSQL (`?N` -> `$N`) and
    /// followed by `suffix` (`" RETURNING id"` where SQLite reads `last_insert_rowid()`).
    fn get(
        &mut self,
        tx: &mut impl postgres::GenericClient,
        sqlite_text: &str,
        suffix: &str,
    ) -> Result<postgres::Statement> {
        let text = postgres_text(sqlite_text) + suffix;
        if let Some(statement) = self.0.get(&text) {
            return Ok(statement.clone());
        }
        let statement = tx.prepare(&text)?;
        self.0.insert(text, statement.clone());
        Ok(statement)
    }
}

/// The migration that adds the words index (SQLite's 8), which [`index_stored_words`] fills
/// for the items stored before it.
const WORDS_INDEXED_BY: usize = 3;

/// [`decorations_from`] the rows of [`DECORATIONS`].
fn decorations_of(rows: &[postgres::Row]) -> Result<Decorations> {
    let rows = rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(decorations_from(rows))
}

/// As SQLite's `matching::index_stored_words`: the words index of the items stored before
/// it, in the migration's transaction, an item's words as one array. The items are read a
/// page at a time: the client holds a whole result in memory, and a store's items are
/// gigabytes.
fn index_stored_words(tx: &mut postgres::Transaction<'_>) -> Result<()> {
    let decorations = decorations_of(&tx.query(DECORATIONS, &[])?)?;
    let page = format!(
        "SELECT id, data, role FROM ({ITEMS_TO_INDEX}) AS stored WHERE id > $1 ORDER BY id \
         LIMIT 1000"
    );
    // Prepared once: each item's insert is then one round trip, not two.
    let title = tx.prepare(&postgres_text(IndexedWords::Title.insert().postgres))?;
    let mirror = tx.prepare(&postgres_text(IndexedWords::Mirror.insert().postgres))?;
    let (mut after, mut indexed) = (0i64, 0u64);
    loop {
        let rows = tx.query(&page, &[&after])?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let (id, data, role): (i64, String, String) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            after = id;
            if let Some((table, words)) = words_to_index(id, &data, &role, &decorations) {
                let insert = match table {
                    IndexedWords::Title => &title,
                    IndexedWords::Mirror => &mirror,
                };
                tx.execute(insert, &[&words, &id])?;
                indexed += 1;
            }
        }
    }
    log_indexed(indexed);
    Ok(())
}

/// Whether `[storage] database` names a PostgreSQL server rather than a SQLite file. Only the
/// URL form counts: a bare `host=...` has always been a file name (docs/postgres.md).
pub fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// A PostgreSQL database to connect to: a libpq-style URL, parsed.
#[derive(Clone)]
pub struct PgTarget {
    /// Boxed: it is large, and a target sits in every `Config`.
    config: Box<postgres::Config>,
    /// As written, for telling two targets apart (`postgres::Config` cannot be compared); it
    /// may hold the password, so it is never shown.
    url: String,
}

/// The same URL: what a config reload compares to tell that `[storage] database` changed.
impl PartialEq for PgTarget {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url
    }
}

impl PgTarget {
    /// Parses a `postgres://` or `postgresql://` URL with libpq's parameters (`host`, `port`,
    /// `user`, `password`, `dbname`, `sslmode`, `connect_timeout`, `application_name`, ...).
    pub fn parse(url: &str) -> Result<PgTarget> {
        if !is_postgres_url(url) {
            return Err(PgError::NotAUrl(url.to_owned()));
        }
        let mut config: Box<postgres::Config> = Box::new(url.parse().map_err(PgError::Url)?);
        if config.get_application_name().is_none() {
            // So that `pg_stat_activity` tells tributary's connections from others'.
            config.application_name("tributary");
        }
        Ok(PgTarget {
            config,
            url: url.to_owned(),
        })
    }

    /// Connects, with TLS as `sslmode` asks (rustls, the Mozilla roots; docs/postgres.md).
    pub fn connect(&self) -> Result<postgres::Client> {
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config()?);
        self.config.connect(tls).map_err(|source| PgError::Connect {
            target: self.to_string(),
            source,
        })
    }
}

/// The client TLS settings: rustls with the ring provider (the one reqwest already builds; set
/// explicitly so that no process-wide default has to be installed) and the Mozilla roots.
fn tls_config() -> Result<rustls::ClientConfig> {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// `postgres://user@host:port/dbname`, without the password: what messages and logs show.
impl fmt::Display for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("postgres://")?;
        if let Some(user) = self.config.get_user() {
            write!(f, "{user}@")?;
        }
        let ports = self.config.get_ports();
        for (index, host) in self.config.get_hosts().iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            match host {
                Host::Tcp(name) => f.write_str(name)?,
                Host::Unix(dir) => write!(f, "[{}]", dir.display())?,
            }
            // libpq: one port for all hosts, or one per host.
            if let Some(port) = ports
                .get(index)
                .or(ports.first().filter(|_| ports.len() == 1))
            {
                write!(f, ":{port}")?;
            }
        }
        f.write_str("/")?;
        if let Some(dbname) = self.config.get_dbname() {
            f.write_str(dbname)?;
        }
        Ok(())
    }
}

/// Hand-written so that the password never reaches a `{:?}` either.
impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PgTarget").field(&self.to_string()).finish()
    }
}

/// A store on PostgreSQL: the PostgreSQL arm of `Store`'s connection, with the operations
/// ported so far (docs/postgres.md, "Status").
pub struct PgStore {
    client: OffRuntime<postgres::Client>,
    prepared: Prepared,
    target: PgTarget,
    ingest_lock: IngestLockTime,
}

/// What [`INGEST_LOCK`] cost this connection: the fleet's ingest runs one write at a time, so
/// the time each instance holds the lock is the serialised step, and the time it waits is what
/// a second instance pays for it. Only committed writes are counted (a rolled-back write is
/// an error path, rare enough not to matter here).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IngestLockTime {
    /// Between taking the lock and the commit that released it, summed.
    pub held: std::time::Duration,
    /// Waiting for `pg_advisory_xact_lock` to return, summed.
    pub waited: std::time::Duration,
    pub writes: u64,
}

impl PgStore {
    /// Connects and brings the schema up to date.
    pub fn open(target: &PgTarget) -> Result<PgStore> {
        let mut store = PgStore {
            client: OffRuntime::new(target.connect()?),
            prepared: Prepared::default(),
            target: target.clone(),
            ingest_lock: IngestLockTime::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The schema version: how many of [`MIGRATIONS`] this database has run.
    pub fn schema_version(&mut self) -> Result<i64> {
        let row = self
            .client
            .query_one("SELECT version FROM tributary_schema", &[])?;
        Ok(row.try_get(0)?)
    }

    /// Runs the migrations this database has not run, in one transaction, under an advisory
    /// lock: a second instance starting at the same moment waits, then finds nothing to do.
    fn migrate(&mut self) -> Result<()> {
        let known = MIGRATIONS.len();
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS tributary_schema (
                 only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
                 version  BIGINT NOT NULL
             );
             INSERT INTO tributary_schema (version) VALUES (0) ON CONFLICT DO NOTHING;",
        )?;
        let version: i64 = tx
            .query_one("SELECT version FROM tributary_schema", &[])?
            .try_get(0)?;
        let applied = usize::try_from(version).map_err(|_| PgError::NegativeVersion {
            target: self.target.to_string(),
            found: version,
        })?;
        if applied > known {
            return Err(PgError::TooNew {
                target: self.target.to_string(),
                found: version,
                known,
            });
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
            tx.batch_execute(sql)?;
            let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
            tx.execute("UPDATE tributary_schema SET version = $1", &[&version])?;
            tracing::info!(version, "applied PostgreSQL migration");
            if index + 1 == WORDS_INDEXED_BY {
                index_stored_words(&mut tx)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// As [`super::Store::sync_sources`]: new feeds are added, a changed URL or role is
    /// updated, removed feeds keep their rows; an unchanged config writes nothing.
    pub fn sync_sources(&mut self, feeds: &[FeedConfig]) -> Result<()> {
        let mut stored: HashMap<String, (String, String)> = HashMap::new();
        for row in self
            .client
            .query("SELECT name, url, role FROM sources", &[])?
        {
            stored.insert(row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?));
        }
        let changed: Vec<&FeedConfig> = feeds
            .iter()
            .filter(|feed| {
                stored.get(&feed.name).is_none_or(|(url, role)| {
                    url != feed.url.as_str() || role != feed.role.as_str()
                })
            })
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let mut tx = self.client.transaction()?;
        let upsert = tx.prepare(&postgres_text(UPSERT_SOURCE))?;
        for feed in changed {
            tx.execute(
                &upsert,
                &[&feed.name, &feed.url.as_str(), &feed.role.as_str()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn ingest_lock_time(&self) -> IngestLockTime {
        self.ingest_lock
    }

    /// Starts a write: one or more whole feeds, committed together, under [`INGEST_LOCK`],
    /// which COMMIT or ROLLBACK releases (and the server, if this connection dies).
    pub fn begin_write(&mut self) -> Result<PgWriteTx<'_>> {
        let mut tx = self.begin_unlocked()?;
        tx.lock_ingest()?;
        Ok(tx)
    }

    /// Starts a write without [`INGEST_LOCK`]: for the outbox's own writes, which change only
    /// the rows this instance claimed, and so need not wait for another instance's ingest.
    pub fn begin_unlocked(&mut self) -> Result<PgWriteTx<'_>> {
        Ok(PgWriteTx {
            tx: OffRuntime::new(self.client.transaction()?),
            prepared: &mut self.prepared,
            ingest_lock: &mut self.ingest_lock,
            locked_at: None,
        })
    }

    /// Claims for instance `owner`, until `now + lease`, those of the feeds `ids` that no other
    /// instance holds, and returns their records as the claim left them, in no particular
    /// order. With `due_only`, only feeds still due at `now` are taken: a record read before
    /// the claim may be stale (another instance may have polled the feed since), and the
    /// due time checked here is the one that counts. A feed another instance is claiming at
    /// this moment is skipped (`SKIP LOCKED`: claims never wait for each other); gone feeds
    /// never are claimed; a dead instance's feeds are claimable again once their lease has
    /// passed, and this instance's own leases are claimable by it.
    pub fn claim_due(
        &mut self,
        owner: &str,
        ids: &[i64],
        due_only: bool,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> Result<Vec<SourceRecord>> {
        // A lease past what a timestamp can hold (a configuration error) saturates rather
        // than overflow.
        let until = chrono::Duration::from_std(lease)
            .ok()
            .and_then(|lease| now.checked_add_signed(lease))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let now = timestamp(now);
        let rows = self.client.query(
            concat!(
                "UPDATE sources SET lease_owner = $1, lease_until = $2
                 WHERE id IN (SELECT id FROM sources
                              WHERE id = ANY($4) AND gone = 0
                                AND (NOT $5 OR next_due_at IS NULL OR next_due_at <= $3)
                                AND (lease_owner IS NULL OR lease_owner = $1
                                     OR lease_until <= $3)
                              FOR UPDATE SKIP LOCKED)
                 RETURNING ",
                super::source_columns!()
            ),
            &[&owner, &timestamp(until), &now, &ids, &due_only],
        )?;
        Ok(rows.iter().map(source_from_row).collect::<Result<_, _>>()?)
    }

    /// Gives up every lease `owner` holds: the feeds a cycle claimed and did not record (a
    /// poll task that failed, a write that failed, a cycle cut short by shutdown) are
    /// claimable again at once rather than when their lease ends.
    pub fn release_leases(&mut self, owner: &str) -> Result<u64> {
        Ok(self.client.execute(
            "UPDATE sources SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1",
            &[&owner],
        )?)
    }

    pub fn sources(&mut self) -> Result<Vec<SourceRecord>> {
        let rows = self.client.query(SOURCE_SELECT, &[])?;
        Ok(rows.iter().map(source_from_row).collect::<Result<_, _>>()?)
    }

    /// As `Store::sources_named`: one record per name, `None` for a name not stored.
    pub fn sources_named(&mut self, names: &[&str]) -> Result<Vec<Option<SourceRecord>>> {
        let statement = self.prepared.get(
            &mut *self.client,
            &format!("{SOURCE_SELECT} WHERE name = ?1"),
            "",
        )?;
        names
            .iter()
            .map(|name| {
                Ok(self
                    .client
                    .query_opt(&statement, &[name])?
                    .map(|row| source_from_row(&row))
                    .transpose()?)
            })
            .collect()
    }

    /// The rows of a statement written as SQLite text, prepared once per connection: for the
    /// `Store` readers whose two dialects differ only in that rewrite.
    pub(in crate::store) fn query(
        &mut self,
        sqlite_text: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>> {
        let statement = self.prepared.get(&mut *self.client, sqlite_text, "")?;
        Ok(self.client.query(&statement, params)?)
    }

    /// Runs a statement written as SQLite text outside a write transaction, prepared once per
    /// connection: for the `Store` writes that need no ingest lock (one atomic statement).
    /// Returns how many rows it changed.
    pub(in crate::store) fn execute(
        &mut self,
        sqlite_text: &str,
        params: &[super::sql::Value<'_>],
    ) -> Result<u64> {
        let statement = self.prepared.get(&mut *self.client, sqlite_text, "")?;
        Ok(self.client.execute(&statement, &postgres_params(params))?)
    }

    pub fn source(&mut self, name: &str) -> Result<SourceRecord> {
        let text = postgres_text(&format!("{SOURCE_SELECT} WHERE name = ?1"));
        self.client
            .query_opt(&text, &[&name])?
            .map(|row| source_from_row(&row))
            .transpose()?
            .ok_or_else(|| PgError::UnknownSource(name.to_owned()))
    }
}

/// A write in progress on PostgreSQL; dropped without [`PgWriteTx::commit`], it rolls back.
/// Its methods are `WriteTx`'s, with the same statements where the dialects agree.
pub struct PgWriteTx<'a> {
    tx: OffRuntime<postgres::Transaction<'a>>,
    prepared: &'a mut Prepared,
    ingest_lock: &'a mut IngestLockTime,
    /// When this transaction took [`INGEST_LOCK`], if it did.
    locked_at: Option<std::time::Instant>,
}

impl PgWriteTx<'_> {
    /// Takes [`INGEST_LOCK`] until this transaction ends (`begin_write` does first thing).
    pub fn lock_ingest(&mut self) -> Result<()> {
        let asked = std::time::Instant::now();
        self.tx
            .execute("SELECT pg_advisory_xact_lock($1)", &[&INGEST_LOCK])?;
        let locked_at = std::time::Instant::now();
        self.ingest_lock.waited += locked_at - asked;
        self.locked_at = Some(locked_at);
        Ok(())
    }

    /// Runs a statement written as SQLite text, prepared once per connection; returns how
    /// many rows it changed.
    pub(in crate::store) fn execute(
        &mut self,
        sqlite_text: &str,
        params: &[super::sql::Value<'_>],
    ) -> Result<u64> {
        let statement = self.prepared.get(&mut *self.tx, sqlite_text, "")?;
        Ok(self.tx.execute(&statement, &postgres_params(params))?)
    }

    /// Runs an `INSERT` of one row written as SQLite text, and returns the row's id (from
    /// `RETURNING id`, where SQLite reads `last_insert_rowid()`).
    pub(in crate::store) fn insert(
        &mut self,
        sqlite_text: &str,
        params: &[super::sql::Value<'_>],
    ) -> Result<i64> {
        let statement = self
            .prepared
            .get(&mut *self.tx, sqlite_text, " RETURNING id")?;
        Ok(self
            .tx
            .query_one(&statement, &postgres_params(params))?
            .try_get(0)?)
    }

    /// The first row of a query written as SQLite text, if there is one.
    pub(in crate::store) fn query_opt(
        &mut self,
        sqlite_text: &str,
        params: &[super::sql::Value<'_>],
    ) -> Result<Option<postgres::Row>> {
        let statement = self.prepared.get(&mut *self.tx, sqlite_text, "")?;
        Ok(self.tx.query_opt(&statement, &postgres_params(params))?)
    }

    /// The one row of a query written as SQLite text that always returns one.
    pub(in crate::store) fn query_one(
        &mut self,
        sqlite_text: &str,
        params: &[super::sql::Value<'_>],
    ) -> Result<postgres::Row> {
        let statement = self.prepared.get(&mut *self.tx, sqlite_text, "")?;
        Ok(self.tx.query_one(&statement, &postgres_params(params))?)
    }

    pub fn existing(&mut self, source_id: i64, guid: &str) -> Result<Option<ExistingItem>> {
        let statement = self.prepared.get(&mut *self.tx, EXISTING_ITEM, "")?;
        Ok(self
            .tx
            .query_opt(&statement, &[&source_id, &guid])?
            .map(|row| existing_from_row(&row))
            .transpose()?)
    }

    /// As `WriteTx::stored_item`.
    pub fn stored_item(&mut self, id: i64) -> Result<Option<Item>> {
        let row = self.query_one(ITEM_DATA, &[id.into()])?;
        Ok(serde_json::from_str(row.try_get(0)?).ok())
    }

    /// As `WriteTx::create_story`; the new id comes from `RETURNING`.
    pub fn create_story(
        &mut self,
        atom_id: &str,
        published: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let statement = self
            .prepared
            .get(&mut *self.tx, CREATE_STORY, " RETURNING id")?;
        let row = self.tx.query_one(
            &statement,
            &[&atom_id, &timestamp(now), &timestamp(published)],
        )?;
        Ok(row.try_get(0)?)
    }

    /// As `WriteTx::touch_story`, with `LEAST` for SQLite's two-argument `min` (both columns
    /// and the parameter are never NULL, where the two would differ).
    pub fn touch_story(
        &mut self,
        story_id: i64,
        published: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.execute(
            TOUCH_STORY.postgres,
            &[
                story_id.into(),
                timestamp(published).into(),
                timestamp(now).into(),
            ],
        )?;
        Ok(())
    }

    /// As `WriteTx::insert_item`: the row, its dedupe keys and the feed's count.
    pub fn insert_item(&mut self, row: &NewItem<'_>, now: DateTime<Utc>) -> Result<i64> {
        let params = new_item_params(row, item_json(row.item).map_err(PgError::Item)?, now);
        let statement = self
            .prepared
            .get(&mut *self.tx, INSERT_ITEM, " RETURNING id")?;
        let id: i64 = self
            .tx
            .query_one(&statement, &postgres_params(&params))?
            .try_get(0)?;
        self.insert_keys(id, row.keys)?;
        self.execute(COUNT_ITEM, &[row.source_id.into()])?;
        Ok(id)
    }

    /// The item's keys into the dedupe indexes, one statement per index with the keys as an
    /// array: a statement per key (as on SQLite, where a statement costs no round trip) would
    /// be some 35 round trips per item.
    fn insert_keys(&mut self, item_id: i64, keys: &ItemKeys) -> Result<()> {
        self.each_key_index(item_id, &KeyRows::of(keys), KeyIndex::insert)
    }

    /// Takes the rows an edit drops out of the indexes (see [`KeyRows::dropped`]).
    fn delete_keys(&mut self, item_id: i64, dropped: &KeyRows<'_>) -> Result<()> {
        self.each_key_index(item_id, dropped, KeyIndex::delete)
    }

    /// Runs, for each key index, the statement `statement` picks for it (the insert or the
    /// delete) with that index's keys of `rows` as one array and `item_id`.
    fn each_key_index(
        &mut self,
        item_id: i64,
        rows: &KeyRows<'_>,
        statement: fn(KeyIndex) -> Twin,
    ) -> Result<()> {
        for (index, keys) in KeyIndex::each(rows) {
            let prepared = self
                .prepared
                .get(&mut *self.tx, statement(index).postgres, "")?;
            match keys {
                KeyColumn::Numbers(keys) => self.tx.execute(&prepared, &[&keys, &item_id])?,
                KeyColumn::Texts(keys) => self.tx.execute(&prepared, &[&keys, &item_id])?,
            };
        }
        Ok(())
    }

    /// As `WriteTx::update_item`: an edited item's row and keys.
    pub fn update_item(&mut self, edit: &EditedItem<'_>, now: DateTime<Utc>) -> Result<()> {
        let data = item_json(edit.item).map_err(PgError::Item)?;
        self.execute(
            UPDATE_ITEM,
            &[
                edit.id.into(),
                data.into(),
                edit.content_hash.into(),
                edit.keys.canonical_url.as_deref().into(),
                edit.keys.title_key.as_deref().into(),
                timestamp(edit.published).into(),
                timestamp(now).into(),
            ],
        )?;
        self.delete_keys(edit.id, &KeyRows::dropped(edit.stored_keys, edit.keys))?;
        self.insert_keys(edit.id, edit.keys)
    }

    /// As `WriteTx::merge_story` (see there why an attempted first message is not cancelled),
    /// with `LEAST` for SQLite's two-argument `min`.
    pub fn merge_story(&mut self, from: i64, into: i64, now: DateTime<Utc>) -> Result<()> {
        self.execute(MERGE_ITEMS, &[from.into(), into.into()])?;
        self.execute(
            MERGE_PUBLISHED.postgres,
            &[from.into(), into.into(), timestamp(now).into()],
        )?;
        self.execute(
            MERGE_MARK,
            &[from.into(), into.into(), timestamp(now).into()],
        )?;
        self.execute(MERGE_OUTBOX, &[from.into()])?;
        Ok(())
    }

    /// As `WriteTx::boilerplate`: the passages a feed repeats in its items.
    pub fn boilerplate(&mut self, source_id: i64) -> Result<HashSet<u64>> {
        let statement = self.prepared.get(&mut *self.tx, BOILERPLATE, "")?;
        self.tx
            .query(&statement, &[&source_id])?
            .iter()
            .map(|row| Ok(hash_from_sql(row.try_get(0)?)))
            .collect()
    }

    /// As `WriteTx::add_boilerplate`: up to [`MAX_BOILERPLATE`] shingles per feed, the
    /// smallest first. Returns whether one was new.
    pub fn add_boilerplate(&mut self, source_id: i64, shingles: &HashSet<u64>) -> Result<bool> {
        let count = self.prepared.get(&mut *self.tx, BOILERPLATE_COUNT, "")?;
        let stored: i64 = self.tx.query_one(&count, &[&source_id])?.try_get(0)?;
        let room = MAX_BOILERPLATE.saturating_sub(usize::try_from(stored).unwrap_or(usize::MAX));
        let mut sorted: Vec<u64> = shingles.iter().copied().collect();
        sorted.sort_unstable();
        let added: Vec<i64> = sorted.into_iter().take(room).map(hash_to_sql).collect();
        let insert = self
            .prepared
            .get(&mut *self.tx, ADD_BOILERPLATE.postgres, "")?;
        Ok(self.tx.execute(&insert, &[&source_id, &added])? > 0)
    }

    /// As `WriteTx::recent_bodies`: the texts of a feed's newest items.
    pub fn recent_bodies(&mut self, source_id: i64) -> Result<Vec<String>> {
        let statement = self.prepared.get(&mut *self.tx, RECENT_BODIES, "")?;
        let mut bodies = Vec::new();
        for row in self.tx.query(&statement, &[&source_id])? {
            if let Ok(item) = serde_json::from_str::<Item>(row.try_get(0)?)
                && let Some(body) = item.content.or(item.summary)
            {
                bodies.push(body);
            }
        }
        Ok(bodies)
    }

    /// As `WriteTx::decorations`: what the origin feeds say of themselves.
    pub fn decorations(&mut self) -> Result<Decorations> {
        let statement = self.prepared.get(&mut *self.tx, DECORATIONS, "")?;
        let rows = self.tx.query(&statement, &[])?;
        decorations_of(&rows)
    }

    /// As `WriteTx::set_feed_facts`, with `IS DISTINCT FROM` for SQLite's `IS NOT`.
    pub fn set_feed_facts(
        &mut self,
        source_id: i64,
        title: Option<&str>,
        authors: &[String],
    ) -> Result<()> {
        let authors = serde_json::to_string(authors).map_err(PgError::Item)?;
        self.execute(
            SET_FEED_FACTS.postgres,
            &[source_id.into(), title.into(), authors.into()],
        )?;
        Ok(())
    }

    /// As `WriteTx::feed_authors`.
    pub fn feed_authors(&mut self, source_id: i64) -> Result<Vec<String>> {
        let statement = self.prepared.get(&mut *self.tx, FEED_AUTHORS, "")?;
        let authors: Option<String> = self.tx.query_one(&statement, &[&source_id])?.try_get(0)?;
        Ok(authors
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default())
    }

    /// As `WriteTx::relabel`.
    pub fn relabel(
        &mut self,
        item_id: i64,
        role: MemberRole,
        reason: MatchReason,
        score: f64,
    ) -> Result<()> {
        self.execute(
            RELABEL,
            &[
                item_id.into(),
                role.as_str().into(),
                reason.as_str().into(),
                score.into(),
            ],
        )?;
        Ok(())
    }

    /// As `WriteTx::record_transcript`: words once had are never replaced by a failure.
    pub fn record_transcript(
        &mut self,
        url: &str,
        words: std::result::Result<&str, String>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (words, error) = match words {
            Ok(words) => (Some(words), None),
            Err(error) => (None, Some(error)),
        };
        self.execute(
            RECORD_TRANSCRIPT,
            &[
                url.into(),
                timestamp(now).into(),
                words.into(),
                error.into(),
            ],
        )?;
        Ok(())
    }

    /// As `WriteTx::item_transcript`.
    pub fn item_transcript(&mut self, item_id: i64) -> Result<Option<String>> {
        let statement = self.prepared.get(&mut *self.tx, ITEM_TRANSCRIPT, "")?;
        Ok(self
            .tx
            .query_opt(&statement, &[&item_id])?
            .map(|row| row.try_get(0))
            .transpose()?)
    }

    /// As `WriteTx::set_item_transcript` (`None`: the item is matched by its own text).
    pub fn set_item_transcript(&mut self, item_id: i64, url: Option<&str>) -> Result<()> {
        match url {
            Some(url) => self.execute(SET_ITEM_TRANSCRIPT, &[item_id.into(), url.into()])?,
            None => self.execute(CLEAR_ITEM_TRANSCRIPT, &[item_id.into()])?,
        };
        Ok(())
    }

    /// As `WriteTx::story_pinned`.
    pub fn story_pinned(&mut self, story_id: i64) -> Result<bool> {
        let statement = self.prepared.get(&mut *self.tx, STORY_PINNED, "")?;
        let pinned: i64 = self
            .tx
            .query_opt(&statement, &[&story_id])?
            .ok_or(PgError::UnknownStory(story_id))?
            .try_get(0)?;
        Ok(pinned != 0)
    }

    /// As `WriteTx::set_content_hash`.
    pub fn set_content_hash(&mut self, item_id: i64, content_hash: &str) -> Result<()> {
        self.execute(SET_CONTENT_HASH, &[item_id.into(), content_hash.into()])?;
        Ok(())
    }

    /// As `WriteTx::enqueue_notification`: the first message of a story to a sink, once.
    pub fn enqueue_notification(
        &mut self,
        story_id: i64,
        sink: &str,
        idempotency_key: &str,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.execute(
            ENQUEUE_NOTIFICATION.postgres,
            &[
                story_id.into(),
                sink.into(),
                idempotency_key.into(),
                timestamp(now).into(),
                timestamp(due).into(),
            ],
        )?;
        Ok(())
    }

    /// As `WriteTx::enqueue_update` (see there for which row a change folds into); returns
    /// whether a new edit was queued.
    pub fn enqueue_update(
        &mut self,
        story_id: i64,
        sink: &str,
        change: &StoryChange,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let first = self.prepared.get(&mut *self.tx, FIRST_MESSAGE, "")?;
        let Some(first) = self.tx.query_opt(&first, &[&story_id, &sink])? else {
            return Ok(false);
        };
        let state: String = first.try_get(0)?;
        let first_key: String = first.try_get(1)?;
        if state != "pending" && state != "delivered" {
            return Ok(false);
        }
        let open = self.prepared.get(&mut *self.tx, OPEN_ROW, "")?;
        if let Some(open) = self.tx.query_opt(&open, &[&story_id, &sink])? {
            let id: i64 = open.try_get(0)?;
            if open.try_get::<_, bool>(1)? {
                let mut changes: Vec<StoryChange> = serde_json::from_str(open.try_get(2)?)
                    .map_err(|source| PgError::CorruptChanges { id, source })?;
                changes.push(change.clone());
                let folded =
                    self.execute(FOLD_CHANGE, &[id.into(), changes_json(&changes).into()])?;
                if folded > 0 {
                    return Ok(false);
                }
            }
        }
        let next = self.prepared.get(&mut *self.tx, NEXT_REVISION, "")?;
        let revision = saturating_u32(self.tx.query_one(&next, &[&story_id, &sink])?.try_get(0)?);
        self.execute(
            INSERT_EDIT,
            &[
                story_id.into(),
                sink.into(),
                revision_key(&first_key, revision).into(),
                timestamp(now).into(),
                timestamp(due).into(),
                revision.into(),
                changes_json(std::slice::from_ref(change)).into(),
            ],
        )?;
        Ok(true)
    }

    /// As `WriteTx::story_has_audio`, reading the item's JSON with `jsonb` for SQLite's
    /// `json_extract`.
    pub fn story_has_audio(&mut self, story_id: i64) -> Result<bool> {
        let statement = self
            .prepared
            .get(&mut *self.tx, STORY_HAS_AUDIO.postgres, "")?;
        Ok(self.tx.query_one(&statement, &[&story_id])?.try_get(0)?)
    }

    /// As `WriteTx::story_atom_id`.
    pub fn story_atom_id(&mut self, story_id: i64) -> Result<String> {
        let statement = self.prepared.get(&mut *self.tx, STORY_ATOM_ID, "")?;
        Ok(self.tx.query_one(&statement, &[&story_id])?.try_get(0)?)
    }

    pub fn save_poll_state(&mut self, source_id: i64, state: &PollState) -> Result<()> {
        self.execute(SAVE_POLL_STATE, &poll_state_params(source_id, state))?;
        Ok(())
    }

    pub fn commit(self) -> Result<()> {
        self.tx.into_inner().commit()?;
        if let Some(locked_at) = self.locked_at {
            self.ingest_lock.held += locked_at.elapsed();
            self.ingest_lock.writes += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::{MIGRATIONS, PgError, PgTarget, is_postgres_url};

    #[test]
    fn migrations_are_append_only() {
        // As SQLite's: a mismatch means a shipped migration was edited; add a new one at the
        // end instead, and append its hash here.
        const SHIPPED: &[&str] = &[
            "8e725f4fee39ef57ac6db121b921705834c3b4f6cb8a68323084fd5643b008df",
            "20181edc6e1b49fc3925c06ea48dae0cb589f63b61228291696edd796bf11b5d",
            "b9147ff1116a280b1081200ba60c6e1ed6c7821bd29c02531e86663611c53348",
            "b1ca7f63698454ab64a593d0453b24c768911940564f17a1a7dba410711b3f04",
        ];
        assert_eq!(
            MIGRATIONS.len(),
            SHIPPED.len(),
            "record the new migration's hash"
        );
        for (index, (sql, expected)) in MIGRATIONS.iter().zip(SHIPPED).enumerate() {
            let hash: String = Sha256::digest(sql.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(&hash, expected, "migration {} was edited", index + 1);
        }
    }

    #[test]
    fn only_urls_select_postgres() {
        assert!(is_postgres_url("postgres://db.example/tributary"));
        assert!(is_postgres_url("postgresql://u@db.example/tributary"));
        assert!(!is_postgres_url("tributary.db"));
        assert!(!is_postgres_url("host=db.example dbname=tributary"));
        assert!(!is_postgres_url("/var/lib/postgres://x.db"));
        assert!(matches!(
            PgTarget::parse("tributary.db"),
            Err(PgError::NotAUrl(_))
        ));
    }

    #[test]
    fn display_never_shows_the_password() {
        let target = PgTarget::parse(
            "postgresql://feeds:s3cret@db.example:6543/tributary?sslmode=require&connect_timeout=5",
        )
        .expect("valid URL");
        assert_eq!(
            target.to_string(),
            "postgres://feeds@db.example:6543/tributary"
        );
        assert!(!format!("{target:?}").contains("s3cret"));
    }

    #[test]
    fn unix_socket_hosts_and_ports() {
        let target = PgTarget::parse("postgres://u@%2Frun%2Fpostgresql/db").expect("valid URL");
        assert_eq!(target.to_string(), "postgres://u@[/run/postgresql]:5432/db");
        let both = PgTarget::parse("postgres://u@a:1,b:2/db").expect("valid URL");
        assert_eq!(both.to_string(), "postgres://u@a:1,b:2/db");
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(matches!(
            PgTarget::parse("postgres://u@h/db?sslmode=sometimes"),
            Err(PgError::Url(_))
        ));
    }
}
