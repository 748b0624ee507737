//! SQLite storage: the only SQL in tributary, behind a narrow interface.
//!
//! Design decision: everything a poll writes goes through one [`WriteTx`], which holds whole
//! feeds only. Items, the stories they join, the feeds' poll states and the notification outbox
//! rows are committed together, so a crash (even `kill -9`) leaves each feed either fully
//! ingested or untouched, and an outbox row exists if and only if its story does. A cycle puts
//! every feed that is ready into the same transaction: a commit per feed would rewrite every
//! index page it touched, which costs more than the feed's rows. The database runs in WAL mode
//! so readers (the server, `stories`) never block the writer.

mod checkpoint;
mod corrections;
mod kept;
mod matching;
pub mod migrate;
mod migrations;
pub mod postgres;
mod published;
mod site;
mod sql;
mod transcripts;
mod websub;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, params};
use thiserror::Error;

use crate::config::FeedConfig;
use crate::dedupe::{Candidate, Decorations, ItemKeys, Probe, StoryFacts, Words};
use crate::model::{Item, MatchReason, Member, MemberRole, Role, StoredItem, Story, lead_rank};

use self::matching::KeyRows;
use self::postgres::{PgError, PgStore, PgTarget, PgWriteTx};
pub use corrections::{Correction, CorrectionAction};
pub use migrations::MIGRATIONS;
pub use site::{
    DeadDelivery, ExplainedStory, MemberLine, PageStart, SinkDeliveries, SiteReader, StoryCard,
    StoryPage,
};
pub use transcripts::{CachedTranscript, TranscriptCache};

/// The page cache per connection, 6 MiB (a negative `cache_size` counts KiB, not pages): the
/// largest share of tributary's heap. `benches/dedupe.rs` matched as fast at 100,000 stories
/// with 8 MiB as with 16 (4 MiB was 1.4 times slower, 2 MiB 25 times), and about 4% slower with
/// 6 MiB, within its noise; a steady poll of 1,000 feeds, which fills any of these, peaks 2 MB
/// lower with 6 than with 8 MiB, in the same time (docs/benchmarks.md, "Memory: the page cache
/// and the threads", "A 6 MiB page cache").
const PAGE_CACHE_KIB: &str = "-6144";

/// WAL pages between automatic checkpoints (32 MiB at SQLite's 4 KiB pages).
const WAL_CHECKPOINT_PAGES: &str = "8192";

/// The size, in bytes, a WAL file is cut back to once a checkpoint has copied it into the
/// database: twice what [`WAL_CHECKPOINT_PAGES`] lets it reach. Closing the store leaves the
/// WAL in place (see [`Store::open_sqlite`]), so without a bound the file would stay as large
/// as the largest write ever made it (a first poll of a long feed list writes batches of
/// thousands of pages before a checkpoint can run).
const WAL_SIZE_LIMIT: &str = "67108864";

/// Statements kept prepared per connection: more than the store has.
const STATEMENT_CACHE: usize = 128;

/// Each connection's settings, in order. A table so that the benchmark's raw insert
/// (`benches/harness.rs raw-insert`), the reference ingest is measured against, writes under
/// exactly the settings the store does.
pub const PRAGMAS: &[(&str, &str)] = &[
    // WAL: readers never block the writer. synchronous=NORMAL in WAL mode is durable against
    // process crashes (kill -9); only an OS crash can lose the last commits.
    ("journal_mode", "WAL"),
    ("synchronous", "NORMAL"),
    ("foreign_keys", "ON"),
    // The dedupe indexes are probed at random keys; SQLite's default 2 MiB page cache turns
    // most probes into reads once history grows past a few thousand stories.
    ("cache_size", PAGE_CACHE_KIB),
    // The committing connection checkpoints (copies the WAL back into the database, with an
    // fsync) once the WAL holds 8,192 pages rather than SQLite's 1,000. A writing store's
    // checkpoints are made beside it ([`checkpoint`]) after every commit, so this one is the
    // bound on the WAL when those fall behind (it then finds the pages copied, or the
    // checkpoint lock taken and skips).
    ("wal_autocheckpoint", WAL_CHECKPOINT_PAGES),
    ("journal_size_limit", WAL_SIZE_LIMIT),
];

/// How long a writer waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "database {path} is at schema version {found}, newer than this tributary knows ({known}); upgrade tributary"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: usize,
    },
    #[error("database {path} is at schema version {found}, which no tributary writes")]
    NegativeVersion { path: PathBuf, found: i64 },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
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
    #[error("unknown correction action `{0}` in the store")]
    UnknownCorrection(String),
    #[error("unknown source `{0}`")]
    UnknownSource(String),
    #[error("no item {0} (item numbers are listed by `tributary stories --explain STORY`)")]
    UnknownItem(i64),
    #[error("no story `{0}` (use a number from `tributary stories` or an Atom id)")]
    UnknownStory(String),
    #[error("item {item} is already a story of its own (story {story})")]
    ItemAlreadyAlone { item: i64, story: i64 },
    #[error("`{story}` and `{other}` are the same story ({id}); there is nothing to merge")]
    SameStory {
        story: String,
        other: String,
        id: i64,
    },
    #[error("story `{other}` was already merged into story {into}")]
    AlreadyMerged { other: String, into: i64 },
    #[error(transparent)]
    Postgres(#[from] postgres::PgError),
    #[error(
        "{0} is not yet supported on PostgreSQL (docs/postgres.md, \"Status\"); `tributary poll` is"
    )]
    Unsupported(&'static str),
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Timestamps are stored as fixed-width RFC 3339 text so that text order is time order.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A row limit as SQL takes it. `usize::MAX` means "all of them", so a limit beyond `i64`
/// saturates rather than fail the query.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// A count stored as an SQLite integer, held to `u32` whatever the file says.
fn saturating_u32(stored: i64) -> u32 {
    u32::try_from(stored.max(0)).unwrap_or(u32::MAX)
}

/// What the store knows about one feed: its identity and its fetch/schedule state.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub role: Role,
    pub state: PollState,
    pub items_seen: i64,
}

impl SourceRecord {
    /// The URL to poll: the configured one, or where it moved permanently.
    pub fn fetch_url(&self) -> &str {
        self.state.moved_to.as_deref().unwrap_or(&self.url)
    }
}

/// A feed's fetch and schedule state, rewritten after every poll.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollState {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// "200", "304", "429", "error" ...: what the last poll ended with.
    pub last_status: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub consecutive_errors: u32,
    /// The server asked not to be polled before this.
    pub retry_after: Option<DateTime<Utc>>,
    /// The feed's own refresh hint (ttl, max-age).
    pub min_interval: Option<Duration>,
    pub next_due_at: Option<DateTime<Utc>>,
    /// 410 Gone: not polled again until its URL changes in the config.
    pub gone: bool,
    /// The first successful poll has happened; later new stories are news, not backfill.
    pub backfilled: bool,
    /// Where the feed is polled since it moved permanently (see `poll`).
    pub moved_to: Option<String>,
    /// A permanent redirect seen on the latest polls, and on how many in a row.
    pub redirect_candidate: Option<String>,
    pub redirect_seen: u32,
    /// What the last successful poll's items hashed to (see `normalize::parse_feed_since`).
    pub item_digests: Vec<u64>,
}

/// An item already stored under the same source and guid.
#[derive(Debug, Clone)]
pub struct ExistingItem {
    pub id: i64,
    pub content_hash: String,
    pub story_id: i64,
    pub published: DateTime<Utc>,
}

/// A row to insert for an item seen for the first time.
pub struct NewItem<'a> {
    pub source_id: i64,
    pub item: &'a Item,
    pub content_hash: &'a str,
    pub keys: &'a ItemKeys,
    pub published: DateTime<Utc>,
    pub story_id: i64,
    pub reason: MatchReason,
    pub score: f64,
    pub member_role: MemberRole,
}

/// An edited item's new row: same source and guid, updated in place.
pub struct EditedItem<'a> {
    pub id: i64,
    pub item: &'a Item,
    pub content_hash: &'a str,
    /// The edited version's keys.
    pub keys: &'a ItemKeys,
    /// The keys the stored version was indexed under: the rows of these the edited version
    /// does not keep are taken out by their keys (see [`KeyRows::dropped`]).
    pub stored_keys: &'a ItemKeys,
    pub published: DateTime<Utc>,
}

/// Where the store lives: `[storage] database`, a SQLite file or a PostgreSQL server
/// (docs/postgres.md, "Selecting the backend").
#[derive(Debug, Clone, PartialEq)]
pub enum StorageTarget {
    Sqlite(PathBuf),
    Postgres(PgTarget),
}

impl StorageTarget {
    /// `text` as `[storage] database` reads it: a `postgres://` or `postgresql://` URL, or
    /// else a SQLite path, relative ones under `state_dir`.
    pub fn parse(text: &str, state_dir: &Path) -> Result<StorageTarget, PgError> {
        if postgres::is_postgres_url(text) {
            return Ok(StorageTarget::Postgres(PgTarget::parse(text)?));
        }
        let path = PathBuf::from(text);
        Ok(StorageTarget::Sqlite(if path.is_absolute() {
            path
        } else {
            state_dir.join(path)
        }))
    }
}

/// The path, or the URL without its password: what messages, logs and `check-config` show.
impl fmt::Display for StorageTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageTarget::Sqlite(path) => write!(f, "{}", path.display()),
            StorageTarget::Postgres(target) => write!(f, "{target}"),
        }
    }
}

impl From<&Path> for StorageTarget {
    fn from(path: &Path) -> Self {
        StorageTarget::Sqlite(path.to_owned())
    }
}

impl From<&PathBuf> for StorageTarget {
    fn from(path: &PathBuf) -> Self {
        StorageTarget::Sqlite(path.clone())
    }
}

impl From<PathBuf> for StorageTarget {
    fn from(path: PathBuf) -> Self {
        StorageTarget::Sqlite(path)
    }
}

pub struct Store {
    conn: Conn,
    target: StorageTarget,
    /// This process's name in the claims it makes on PostgreSQL (docs/postgres.md, "Several
    /// instances on one database"): random per process, so that a restarted instance never
    /// mistakes a dead one's claims for its own.
    instance: String,
    /// SQLite: checkpoints beside the writer (see [`checkpoint`]), started by the first
    /// `begin_write`; `Some(None)` once starting it failed (the writer's own automatic
    /// checkpoints then carry on alone).
    checkpointer: Option<Option<checkpoint::Checkpointer>>,
}

/// How long a claim on outbox rows lasts (`due_deliveries` on PostgreSQL), renewed by
/// `start_attempt` before each request. It must outlast one request (the worker gives up on
/// one after `notify::REQUEST_DEADLINE`, 10 s), or another instance could send a message that
/// is still in flight; it need not cover a sink's whole paced turn, because a row whose claim
/// ended is only taken over, never sent twice (`start_attempt` refuses a row another instance
/// took). A dead instance's deliveries wait this long.
const OUTBOX_CLAIM: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// A random id for this process: its pid, for whoever reads the `claimed_by` column, and 64
/// random bits (`RandomState` is seeded from the OS per process), so ids never repeat across
/// restarts or hosts.
fn new_instance_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos()),
    );
    format!("{}-{:016x}", std::process::id(), hasher.finish())
}

/// The end of a claim made at `now`, saturating rather than overflow.
fn claim_until(now: DateTime<Utc>) -> String {
    timestamp(
        now.checked_add_signed(OUTBOX_CLAIM)
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

/// What [`Store::stories_mark`] read: equal marks, equal newest stories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoriesMark {
    digest: u64,
    stories: usize,
}

impl StoriesMark {
    /// How many stories the merged feed holds at this mark.
    pub fn stories(&self) -> usize {
        self.stories
    }
}

impl std::fmt::Display for StoriesMark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}/{}", self.digest, self.stories)
    }
}

/// Which due outbox rows `Store::read_due` reads.
#[derive(Clone, Copy)]
enum DueRows<'a> {
    /// Of one sink or of all, created before a time or whenever.
    Of {
        sink: Option<&'a str>,
        created_before: Option<DateTime<Utc>>,
    },
    /// Of any sink but these.
    Orphans { configured: &'a [&'a str] },
}

/// How a poll cycle claims its feeds ([`Store::claim_feeds`]).
#[derive(Debug, Clone, Copy)]
pub struct FeedClaim {
    /// Take only feeds still due at `now` (the daemon's scheduled cycles); without it, any
    /// feed no other instance holds (`tributary poll`, which asks every feed).
    pub due_only: bool,
    pub now: DateTime<Utc>,
    /// How long the claim lasts: past it, another instance may take the feed.
    pub lease: std::time::Duration,
}

/// The connection of either backend. PostgreSQL's client needs `&mut` for every query while
/// the store's readers take `&self`, hence the `RefCell`: a `Store` is used by one thread at a
/// time (shared ones sit behind a mutex), so a borrow never meets another.
enum Conn {
    Sqlite(Connection),
    /// Boxed: the client is several times the size of a SQLite connection.
    Postgres(Box<RefCell<PgStore>>),
}

/// Runs a call of the blocking PostgreSQL client. The client drives its own runtime with
/// `block_on`, which panics on a thread that is running tokio tasks: on a multi-thread
/// runtime the call moves off the task's worker (`block_in_place`, which also lets the
/// client's `block_on` run); a current-thread runtime has no worker to hand its tasks to, so
/// there the call is refused with an error rather than a panic.
fn on_postgres<T>(call: impl FnOnce() -> Result<T, PgError>) -> Result<T> {
    match runtime_flavor() {
        Some(tokio::runtime::RuntimeFlavor::MultiThread) | None => Ok(off_the_workers(call)?),
        Some(_) => Err(StoreError::Unsupported(
            "a PostgreSQL store on a current-thread runtime",
        )),
    }
}

fn runtime_flavor() -> Option<tokio::runtime::RuntimeFlavor> {
    tokio::runtime::Handle::try_current()
        .ok()
        .map(|handle| handle.runtime_flavor())
}

/// Runs a store call from async code that shares the runtime with others (the daemon's
/// notifier): the call may wait out SQLite's busy timeout while another connection writes, a
/// PostgreSQL round trip, or the mutex another task holds across such a call, and a tokio
/// worker thread that waits holds up every task queued on it, the HTTP server's among them.
/// On a multi-thread runtime's worker those tasks move to another thread for the call's
/// length (`block_in_place`); anywhere else the call simply runs.
pub fn off_the_workers<T>(call: impl FnOnce() -> T) -> T {
    match runtime_flavor() {
        Some(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(call),
        _ => call(),
    }
}

impl Store {
    /// Opens the store and brings its schema up to date: a SQLite file (created if needed),
    /// or a PostgreSQL database.
    pub fn open(target: impl Into<StorageTarget>) -> Result<Store> {
        let target = target.into();
        let conn = match &target {
            StorageTarget::Sqlite(path) => Conn::Sqlite(Store::open_sqlite(path)?),
            StorageTarget::Postgres(pg) => {
                Conn::Postgres(Box::new(RefCell::new(on_postgres(|| PgStore::open(pg))?)))
            }
        };
        Ok(Store {
            conn,
            target,
            instance: new_instance_id(),
            checkpointer: None,
        })
    }

    /// Runs `read`'s statements in one read transaction on SQLite, when none is open: they
    /// see one state of the store (a write by another process between two of them cannot
    /// show half a change, as a story whose members moved away), and SQLite takes its WAL
    /// read lock once rather than once per statement (two `fcntl` calls each; reading 1,000
    /// due feeds one by one spent about 40% of its time there). On PostgreSQL, whose reads
    /// here are one statement each time, `read` just runs.
    fn in_one_read<T>(&self, read: impl FnOnce() -> Result<T>) -> Result<T> {
        let Conn::Sqlite(conn) = &self.conn else {
            return read();
        };
        if !conn.is_autocommit() {
            return read();
        }
        let snapshot = conn.unchecked_transaction()?;
        let value = read()?;
        // Nothing was written: ending it either way only lets the read lock go.
        snapshot.commit()?;
        Ok(value)
    }

    fn open_sqlite(path: &Path) -> Result<Connection> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // A missing state directory is created rather than reported: it is ours to own.
            let _ = std::fs::create_dir_all(parent);
        }
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        for (name, value) in PRAGMAS {
            conn.pragma_update(None, name, value).map_err(open_err)?;
        }
        // Ingest runs a few dozen distinct statements per item; with rusqlite's default of 16
        // cached, they would evict each other and be parsed again every time.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // SQLite checkpoints the whole WAL into the database, with two fsyncs, when the last
        // connection closes: a one-shot `tributary poll` paid that on every exit, for pages
        // the next poll often rewrites anyway (every feed's poll state, the key indexes'
        // newest pages). Left in the WAL, they are copied back by the automatic checkpoint
        // every `WAL_CHECKPOINT_PAGES`, as in the daemon, whose connection never closes; the
        // next process to open the store rebuilds the WAL's index first (5.5 ms for one
        // steady poll's frames). Six steady polls in a row of 1,000 feeds took 9% less time,
        // an all-304 poll 10% less (docs/benchmarks.md, "No checkpoint when the store
        // closes"). A commit is as durable either way: it is in the WAL.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(open_err)?;
        migrate(&mut conn, path)?;
        Ok(conn)
    }

    pub fn target(&self) -> &StorageTarget {
        &self.target
    }

    /// The id this process's claims carry (see [`Store::due_deliveries`]).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// What the ingest lock cost this store's writes so far, on PostgreSQL (where several
    /// instances take turns under it); `None` on SQLite, whose one writer never waits for
    /// another instance.
    pub fn ingest_lock_time(&self) -> Option<postgres::IngestLockTime> {
        match &self.conn {
            Conn::Sqlite(_) => None,
            Conn::Postgres(pg) => Some(pg.borrow().ingest_lock_time()),
        }
    }

    /// The SQLite connection, for the unit tests that read rows directly (named by
    /// `operation` in the error a PostgreSQL store gives).
    #[cfg(test)]
    fn sqlite(&self, operation: &'static str) -> Result<&Connection> {
        match &self.conn {
            Conn::Sqlite(conn) => Ok(conn),
            Conn::Postgres(_) => Err(StoreError::Unsupported(operation)),
        }
    }
}

/// The SQLite migration that adds the words index, which `matching::index_stored_words` fills
/// for the items stored before it.
const WORDS_INDEXED_BY: usize = 8;

/// Brings a SQLite database's schema up to date.
fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let known = MIGRATIONS.len();
    let tx = conn.transaction()?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    // Any program can set `user_version`; a negative one cast to a count would skip every
    // migration.
    let applied = usize::try_from(version).map_err(|_| StoreError::NegativeVersion {
        path: path.to_owned(),
        found: version,
    })?;
    if applied > known {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found: version,
            known,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tracing::info!(version = index + 1, "applied database migration");
        if index + 1 == WORDS_INDEXED_BY {
            matching::index_stored_words(&tx)?;
        }
    }
    tx.commit()?;
    Ok(())
}

impl Store {
    /// Runs one statement written the same for both backends on its own, outside any write
    /// transaction: for the writes that are one atomic upsert and need no ingest lock.
    fn execute_alone(&self, statement: &str, params: &[sql::Value<'_>]) -> Result<()> {
        match &self.conn {
            Conn::Sqlite(conn) => {
                conn.prepare_cached(statement)?
                    .execute(rusqlite::params_from_iter(params))?;
            }
            Conn::Postgres(pg) => {
                on_postgres(|| pg.borrow_mut().execute(statement, params))?;
            }
        }
        Ok(())
    }

    /// Makes the sources table match the configured feeds: new feeds are added, a changed URL
    /// or role is updated (a new URL also forgets the old one's validators and Gone mark).
    /// Feeds removed from the config keep their rows, so their items stay in the merged feed.
    pub fn sync_sources(&mut self, feeds: &[FeedConfig]) -> Result<()> {
        let conn = match &mut self.conn {
            Conn::Sqlite(conn) => conn,
            Conn::Postgres(pg) => return on_postgres(|| pg.get_mut().sync_sources(feeds)),
        };
        // Every cycle calls this and the config rarely changes: compare first, so that a
        // cycle over thousands of unchanged feeds writes nothing here.
        let mut stored: HashMap<String, (String, String)> = HashMap::new();
        {
            let mut stmt = conn.prepare("SELECT name, url, role FROM sources")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                stored.insert(row.get(0)?, (row.get(1)?, row.get(2)?));
            }
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
        let tx = conn.transaction()?;
        for feed in changed {
            tx.prepare_cached(UPSERT_SOURCE)?.execute(params![
                feed.name,
                feed.url.as_str(),
                feed.role.as_str()
            ])?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn sources(&self) -> Result<Vec<SourceRecord>> {
        let conn = match &self.conn {
            Conn::Sqlite(conn) => conn,
            Conn::Postgres(pg) => return on_postgres(|| pg.borrow_mut().sources()),
        };
        let mut stmt = conn.prepare(SOURCE_SELECT)?;
        let rows = stmt.query_map([], |row| source_from_row(row))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn source(&self, name: &str) -> Result<SourceRecord> {
        let conn = match &self.conn {
            Conn::Sqlite(conn) => conn,
            Conn::Postgres(pg) => return on_postgres(|| pg.borrow_mut().source(name)),
        };
        conn.query_row(&format!("{SOURCE_SELECT} WHERE name = ?1"), [name], |row| {
            source_from_row(row)
        })
        .optional()?
        .ok_or_else(|| StoreError::UnknownSource(name.to_owned()))
    }

    /// The records of the named feeds, one per name in the order given (`None` for a name not
    /// stored): a poll cycle reads its feeds a page at a time this way, in the config's order,
    /// rather than holding every feed's poll state for the whole cycle.
    pub fn sources_named(&self, names: &[&str]) -> Result<Vec<Option<SourceRecord>>> {
        let conn = match &self.conn {
            Conn::Sqlite(conn) => conn,
            Conn::Postgres(pg) => return on_postgres(|| pg.borrow_mut().sources_named(names)),
        };
        self.in_one_read(|| {
            let mut stmt = conn.prepare_cached(&format!("{SOURCE_SELECT} WHERE name = ?1"))?;
            names
                .iter()
                .map(|name| {
                    Ok(stmt
                        .query_row([name], |row| source_from_row(row))
                        .optional()?)
                })
                .collect()
        })
    }

    /// Claims the feeds a poll cycle is about to ask, and returns those it may poll with
    /// their records as of the claim, in the order given (each with its tag `T`). On SQLite,
    /// which one instance uses, that is every candidate, unchanged. On PostgreSQL, which
    /// several instances share, a feed another instance holds a live lease on is left out,
    /// and so is (with `claim.due_only`) one no longer due; the others are leased to this
    /// instance until `claim.now + claim.lease`, and given up by
    /// [`WriteTx::save_claimed_poll_state`] or [`Store::release_leases`].
    pub fn claim_feeds<T>(
        &self,
        candidates: Vec<(T, SourceRecord)>,
        claim: &FeedClaim,
    ) -> Result<Vec<(T, SourceRecord)>> {
        let Conn::Postgres(pg) = &self.conn else {
            return Ok(candidates);
        };
        if candidates.is_empty() {
            return Ok(candidates);
        }
        let ids: Vec<i64> = candidates.iter().map(|(_, source)| source.id).collect();
        let mut claimed: HashMap<i64, SourceRecord> = on_postgres(|| {
            pg.borrow_mut()
                .claim_due(&self.instance, &ids, claim.due_only, claim.now, claim.lease)
        })?
        .into_iter()
        .map(|source| (source.id, source))
        .collect();
        Ok(candidates
            .into_iter()
            .filter_map(|(tag, source)| Some((tag, claimed.remove(&source.id)?)))
            .collect())
    }

    /// When the next feed falls due, if any feed ever will (gone feeds and feeds never polled
    /// are left out, as the daemon's schedule leaves them to the next cycle). On PostgreSQL
    /// a feed another instance holds the lease of is due to this one when the lease ends, not
    /// before: that instance is polling it, and will move its due time on when it records
    /// the poll; an instance that counted it due would wake every second meanwhile, each
    /// time for nothing.
    pub fn next_poll_due(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        /// PostgreSQL's `GREATEST` ignores NULLs: a feed nobody else holds is due at
        /// `next_due_at`.
        const NEXT_DUE: sql::Twin = sql::Twin {
            sqlite: "SELECT min(next_due_at) FROM sources WHERE gone = 0",
            postgres: "SELECT min(GREATEST(next_due_at,
                        CASE WHEN lease_owner <> ?1 AND lease_until > ?2 THEN lease_until END))
             FROM sources WHERE gone = 0",
        };
        let due: Option<String> = match &self.conn {
            Conn::Sqlite(conn) => conn.query_row(NEXT_DUE.sqlite, [], |row| row.get(0))?,
            Conn::Postgres(pg) => on_postgres(|| {
                let rows = pg
                    .borrow_mut()
                    .query(NEXT_DUE.postgres, &[&self.instance, &timestamp(now)])?;
                Ok(rows
                    .first()
                    .map(|row| row.try_get(0))
                    .transpose()?
                    .flatten())
            })?,
        };
        Ok(due.as_deref().and_then(parse_timestamp))
    }

    /// How many origin feeds other instances are still polling in this round: held by
    /// another instance's live lease, or due since `cycle_started` and not claimed yet. A
    /// cycle holds its mirrors back until this is zero, so that a mirror meets its work
    /// already stored whichever instance polls the work, as within one instance (the fold of
    /// a mirror stored before its work costs a window read per item). Always 0 on SQLite.
    pub fn origins_in_flight(
        &self,
        cycle_started: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        const IN_FLIGHT: &str = "SELECT count(*) FROM sources
             WHERE role = 'origin' AND gone = 0
               AND ((lease_owner <> ?1 AND lease_until > ?2)
                    OR ((lease_owner IS NULL OR lease_until <= ?2)
                        AND (next_due_at IS NULL OR next_due_at <= ?3)))";
        match &self.conn {
            Conn::Sqlite(_) => Ok(0),
            Conn::Postgres(pg) => on_postgres(|| {
                let rows = pg.borrow_mut().query(
                    IN_FLIGHT,
                    &[&self.instance, &timestamp(now), &timestamp(cycle_started)],
                )?;
                let count: i64 = rows
                    .first()
                    .map(|row| row.try_get(0))
                    .transpose()?
                    .unwrap_or(0);
                Ok(u64::try_from(count).unwrap_or(0))
            }),
        }
    }

    /// Gives up the leases this instance still holds (none on SQLite): at the end of a poll
    /// cycle, for feeds it claimed and did not record, so that no feed waits for a lease to
    /// end because a poll task or a write failed, or the cycle was cut short.
    pub fn release_leases(&self) -> Result<u64> {
        match &self.conn {
            Conn::Sqlite(_) => Ok(0),
            Conn::Postgres(pg) => on_postgres(|| pg.borrow_mut().release_leases(&self.instance)),
        }
    }

    /// Whether other instances may be polling and writing this store at the same time
    /// (PostgreSQL): then the daemon keeps to the shared schedule even at start-up.
    pub fn is_shared(&self) -> bool {
        matches!(self.conn, Conn::Postgres(_))
    }

    /// Starts a write: one or more whole feeds, committed together.
    pub fn begin_write(&mut self) -> Result<WriteTx<'_>> {
        if let (Conn::Sqlite(_), StorageTarget::Sqlite(path), None) =
            (&self.conn, &self.target, &self.checkpointer)
        {
            self.checkpointer = Some(
                checkpoint::Checkpointer::start(path)
                    .inspect_err(|error| {
                        tracing::warn!(
                            %error,
                            database = %path.display(),
                            "cannot checkpoint beside the writer; the writer checkpoints alone"
                        );
                    })
                    .ok(),
            );
        }
        Ok(WriteTx::new(match &mut self.conn {
            Conn::Sqlite(conn) => Tx::Sqlite(SqliteTx {
                tx: conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?,
                checkpointer: self.checkpointer.as_ref().and_then(Option::as_ref),
            }),
            Conn::Postgres(pg) => {
                Tx::Postgres(RefCell::new(on_postgres(|| pg.get_mut().begin_write())?))
            }
        }))
    }

    /// The newest stories, newest first, each with its members lead first.
    pub fn stories(&self, limit: usize) -> Result<Vec<Story>> {
        const HEADS: &str = "SELECT id, atom_id, created_at FROM stories WHERE merged_into IS NULL
             ORDER BY published DESC, id DESC LIMIT ?1";
        let (heads, mut members) = self.in_one_read(|| {
            let heads: Vec<(i64, String, String)> = match &self.conn {
                Conn::Sqlite(conn) => conn
                    .prepare(HEADS)?
                    .query_map([sql_limit(limit)], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })?
                    .collect::<Result<_, _>>()?,
                Conn::Postgres(pg) => on_postgres(|| {
                    pg.borrow_mut()
                        .query(HEADS, &[&sql_limit(limit)])?
                        .iter()
                        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
                        .collect()
                })?,
            };
            let ids: Vec<i64> = heads.iter().map(|(id, _, _)| *id).collect();
            let members = self.members_of(&ids)?;
            Ok((heads, members))
        })?;
        Ok(heads
            .into_iter()
            .filter_map(|(id, atom_id, created_at)| {
                let mut members = members.remove(&id)?;
                members.sort_by_key(|m| lead_rank(&m.stored));
                Some(Story {
                    id,
                    atom_id,
                    members,
                    created_at: parse_timestamp(&created_at).unwrap_or_default(),
                })
            })
            .collect())
    }

    /// One story by its number or its Atom id. A story that was folded into another (an item
    /// proved both were one work, or a person merged them) resolves to the story it joined.
    pub fn story(&self, key: &str) -> Result<Option<Story>> {
        const HEAD: &str = "SELECT atom_id, created_at FROM stories WHERE id = ?1";
        let head: Option<(i64, String, String)> = match &self.conn {
            Conn::Sqlite(conn) => match resolve_story(conn, key)? {
                Some(ResolvedStory { head: id, .. }) => {
                    let (atom_id, created_at) =
                        conn.query_row(HEAD, [id], |row| Ok((row.get(0)?, row.get(1)?)))?;
                    Some((id, atom_id, created_at))
                }
                None => None,
            },
            Conn::Postgres(pg) => on_postgres(|| {
                let mut pg = pg.borrow_mut();
                let resolved = resolve_story_with(key, |sql, key| {
                    pg.query(sql, &[&key])?
                        .first()
                        .map(|row| Ok::<_, PgError>((row.try_get(0)?, row.try_get(1)?)))
                        .transpose()
                })?;
                let Some(ResolvedStory { head: id, .. }) = resolved else {
                    return Ok(None);
                };
                let rows = pg.query(HEAD, &[&id])?;
                let row = rows.first().ok_or(PgError::UnknownStory(id))?;
                Ok(Some((id, row.try_get(0)?, row.try_get(1)?)))
            })?,
        };
        let Some((id, atom_id, created_at)) = head else {
            return Ok(None);
        };
        let mut members = self.members_of(&[id])?.remove(&id).unwrap_or_default();
        members.sort_by_key(|m| lead_rank(&m.stored));
        Ok(Some(Story {
            id,
            atom_id,
            members,
            created_at: parse_timestamp(&created_at).unwrap_or_default(),
        }))
    }

    /// A value that moves whenever the merged feed of the newest `limit` stories may read
    /// differently: the newest item's id, and each of those stories' id and last change. The
    /// daemon compares it with the one it last rendered at, to notice what other instances
    /// (or the command line) wrote. Equal marks do not prove equal feeds to the byte (a
    /// change to a feed's title, say), but every ingest and correction moves one.
    pub fn stories_mark(&self, limit: usize) -> Result<StoriesMark> {
        const NEWEST_ITEM: &str = "SELECT max(id) FROM items";
        const HEADS: &str = "SELECT id, updated_at FROM stories WHERE merged_into IS NULL
             ORDER BY published DESC, id DESC LIMIT ?1";
        let (newest, heads): (Option<i64>, Vec<(i64, String)>) = match &self.conn {
            // Both from one state of the store: a poll skips its render on this mark.
            Conn::Sqlite(conn) => self.in_one_read(|| {
                Ok((
                    conn.query_row(NEWEST_ITEM, [], |row| row.get(0))?,
                    conn.prepare_cached(HEADS)?
                        .query_map([sql_limit(limit)], |row| Ok((row.get(0)?, row.get(1)?)))?
                        .collect::<Result<_, _>>()?,
                ))
            })?,
            Conn::Postgres(pg) => on_postgres(|| {
                let mut pg = pg.borrow_mut();
                let newest = match pg.query(NEWEST_ITEM, &[])?.first() {
                    Some(row) => row.try_get(0)?,
                    None => None,
                };
                let heads = pg
                    .query(HEADS, &[&sql_limit(limit)])?
                    .iter()
                    .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                    .collect::<Result<_, PgError>>()?;
                Ok((newest, heads))
            })?,
        };
        let stories = heads.len();
        // SipHash with fixed keys: the same rows give the same mark in every process.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&(newest, heads), &mut hasher);
        Ok(StoriesMark {
            digest: std::hash::Hasher::finish(&hasher),
            stories,
        })
    }

    pub fn count(&self, table: CountedTable) -> Result<i64> {
        let sql = match table {
            CountedTable::Items => "SELECT count(*) FROM items",
            CountedTable::Stories => "SELECT count(*) FROM stories WHERE merged_into IS NULL",
            CountedTable::PendingOutbox => "SELECT count(*) FROM outbox WHERE state = 'pending'",
        };
        match &self.conn {
            Conn::Sqlite(conn) => Ok(conn.query_row(sql, [], |row| row.get(0))?),
            Conn::Postgres(pg) => on_postgres(|| {
                pg.borrow_mut()
                    .query(sql, &[])?
                    .first()
                    .map_or(Ok(0), |row| Ok(row.try_get(0)?))
            }),
        }
    }

    /// The members of the given stories; on PostgreSQL all in one statement, on SQLite a
    /// statement per story (which costs it no round trip).
    fn members_of(&self, story_ids: &[i64]) -> Result<HashMap<i64, Vec<Member>>> {
        let mut out: HashMap<i64, Vec<Member>> = HashMap::new();
        match &self.conn {
            Conn::Sqlite(conn) => {
                let mut stmt =
                    conn.prepare_cached(&format!("{MEMBER_SELECT} WHERE items.story_id = ?1"))?;
                for &story_id in story_ids {
                    for row in stmt.query_map([story_id], |row| MemberRow::read(row))? {
                        let (story, member) = row?.into_member()?;
                        out.entry(story).or_default().push(member);
                    }
                }
            }
            Conn::Postgres(pg) => {
                let rows = on_postgres(|| {
                    pg.borrow_mut().query(
                        &format!(
                            "{MEMBER_SELECT} WHERE items.story_id = ANY(?1::bigint[]) ORDER BY items.id"
                        ),
                        &[&story_ids],
                    )
                })?;
                for row in &rows {
                    let (story, member) =
                        MemberRow::read(row).map_err(PgError::from)?.into_member()?;
                    out.entry(story).or_default().push(member);
                }
            }
        }
        Ok(out)
    }
}

/// The columns of a story member, read by [`MemberRow::read`]; a `WHERE` picks the stories.
const MEMBER_SELECT: &str = "SELECT items.id, items.story_id, items.data, items.published,
        items.first_seen, items.changed_at, items.match_reason, items.match_score, sources.role,
        items.member_role
 FROM items JOIN sources ON sources.id = items.source_id";

/// A story member's row, as either backend reads it.
struct MemberRow {
    id: i64,
    story: i64,
    data: String,
    published: String,
    first_seen: String,
    changed_at: String,
    reason: String,
    score: f64,
    role: String,
    member_role: Option<String>,
}

impl MemberRow {
    fn read<R: sql::SqlRow>(row: &R) -> Result<MemberRow, R::Error> {
        Ok(MemberRow {
            id: row.i64(0)?,
            story: row.i64(1)?,
            data: row.text(2)?,
            published: row.text(3)?,
            first_seen: row.text(4)?,
            changed_at: row.text(5)?,
            reason: row.text(6)?,
            score: row.f64(7)?,
            role: row.text(8)?,
            member_role: row.opt_text(9)?,
        })
    }

    /// The member, with the story it belongs to.
    fn into_member(self) -> Result<(i64, Member)> {
        let id = self.id;
        let mut item: Item = serde_json::from_str(&self.data)
            .map_err(|source| StoreError::CorruptItem { id, source })?;
        // The stored date is the item's own, or the first-seen time standing in for it.
        item.published = parse_timestamp(&self.published).or(item.published);
        let first_seen = parse_timestamp(&self.first_seen).unwrap_or_default();
        let role = Role::parse(&self.role).unwrap_or_default();
        // Items stored before roles were recorded get the role their feed implies.
        let member_role = self
            .member_role
            .as_deref()
            .and_then(MemberRole::parse)
            .unwrap_or_else(|| MemberRole::implied(role, item.kind));
        Ok((
            self.story,
            Member {
                stored: StoredItem {
                    id,
                    item,
                    role,
                    first_seen,
                    changed_at: parse_timestamp(&self.changed_at).unwrap_or(first_seen),
                },
                member_role,
                reason: MatchReason::parse(&self.reason).unwrap_or(MatchReason::New),
                score: self.score,
            },
        ))
    }
}

/// One queued notification of one story to one sink: its first message, or an edit of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub story_id: i64,
    /// The Atom id of `story_id`: the id the sink knows the story by, even once it has been
    /// folded into another.
    pub atom_id: String,
    pub sink: String,
    /// Sent with every attempt, so a receiver can drop a retry it already acted on.
    pub idempotency_key: String,
    /// Attempts made so far.
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub kind: DeliveryKind,
    /// 0 for the first message, then 1, 2 ... for each edit, in the order they were queued.
    pub revision: u32,
    /// What changed since the sink was last told, oldest first.
    pub changes: Vec<StoryChange>,
    /// Changes folded in after the row was queued; [`Store::record_delivery`] compares it with
    /// the row's value then, to see whether the send could have missed one.
    pub generation: i64,
    /// For an edit: where the first message of the same story and sink stands.
    pub first: Option<FirstMessage>,
}

/// A story's first message to a sink, or an edit of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    New,
    Update,
}

/// The state of the first message an edit applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum FirstMessage {
    /// Not acknowledged yet, or an earlier edit of it is still owed: the edit waits until
    /// they are (so a receiver gets revisions in order), due again at `due` at the earliest.
    Pending { due: DateTime<Utc> },
    /// Acknowledged, with the service's id of the message when the service gave one.
    Delivered { remote_id: Option<String> },
    /// Dead, filtered or cancelled by a merge: there is nothing to edit.
    Gone,
}

/// What changed in a story that a sink was already told about, as an edit carries it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StoryChange {
    /// A member joined: the episode, a mirror's copy, a summary or coverage.
    MemberAdded {
        feed: String,
        member_role: String,
        title: String,
        link: Option<String>,
    },
    /// A joining member brought an enclosure: the story can be listened to.
    AudioAdded { feed: String, url: String },
    /// Another story, announced on its own, proved to be this one and was folded into it.
    Merged { other: String },
    /// This story proved to be `into` and was folded into it: its members are there now.
    MergedInto { into: String },
}

/// How a delivery attempt ended, as the outbox records it.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryUpdate {
    /// The receiver acknowledged it: never sent again. `remote_id` is the service's id of the
    /// message (kept for later edits); `generation` is the row's as the attempt read it.
    Delivered {
        remote_id: Option<String>,
        generation: i64,
    },
    /// Try again at `at`.
    Retry { at: DateTime<Utc>, error: String },
    /// Not attempted: the sink is paused (another delivery just failed); try at `at`. Does
    /// not count as an attempt, so it does not lengthen this delivery's own backoff.
    Defer { at: DateTime<Utc>, reason: String },
    /// Given up (too old, or refused for good): shown by `status`, never retried.
    Dead { error: String },
    /// The sink's filters do not want this story, or (for an edit) there is nothing to edit.
    Filtered,
}

/// What [`Store::record_delivery`] did with an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// The row holds it now.
    Recorded,
    /// The row is no longer pending (a merge cancelled it, or it was settled already): the
    /// outcome changes nothing.
    NotPending,
    /// PostgreSQL: this instance's claim on the row ended and another instance took it over
    /// (`holder`; `None` once that one recorded its own outcome and released it). The other
    /// instance's outcome stands; this one is dropped.
    ClaimLost { holder: Option<String> },
}

/// The idempotency key of edit number `revision` of the first message keyed `first_key`:
/// distinct per revision, the same on every retry of one.
pub fn revision_key(first_key: &str, revision: u32) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(first_key.as_bytes())
        .chain_update(b"\0revision\0")
        .chain_update(revision.to_be_bytes())
        .finalize();
    crate::hex::hex(&digest[..16])
}

fn changes_json(changes: &[StoryChange]) -> String {
    // Plain strings in tagged structs: serialising cannot fail.
    serde_json::to_string(changes).unwrap_or_else(|_| "[]".to_owned())
}

fn changes_from_json(id: i64, text: &str) -> Result<Vec<StoryChange>> {
    serde_json::from_str(text).map_err(|source| StoreError::CorruptChanges { id, source })
}

/// Queues edit `revision` for (story, sink) in `conn`'s transaction.
fn insert_update(
    conn: &Connection,
    story_id: i64,
    sink: &str,
    first_key: &str,
    changes: &[StoryChange],
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    let revision: u32 = conn
        .prepare_cached(NEXT_REVISION)?
        .query_row(params![story_id, sink], |row| row.get(0))?;
    conn.prepare_cached(INSERT_EDIT)?.execute(params![
        story_id,
        sink,
        revision_key(first_key, revision),
        timestamp(now),
        timestamp(due),
        revision,
        changes_json(changes),
    ])?;
    Ok(())
}

/// Outbox totals for one sink.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkTotals {
    pub sink: String,
    pub pending: i64,
    pub delivered: i64,
    pub dead: i64,
    pub filtered: i64,
    pub last_error: Option<String>,
}

impl Store {
    /// Pending deliveries whose time has come, oldest first; of one sink, or of all. An edit
    /// comes with the state of the first message it edits.
    ///
    /// On PostgreSQL, which several instances share, the rows read are *claimed*: marked as
    /// this instance's (`claimed_by`) until a lease ends (`claim_until`), in one statement
    /// that skips rows another instance is claiming at that moment (`FOR UPDATE SKIP
    /// LOCKED`), so two instances read disjoint rows and never send one delivery twice. A row
    /// whose claim has ended (its instance died or stalled) is claimable again, and keeps its
    /// idempotency key, so a receiver can drop the repeat. This instance's own claims are
    /// claimable by it again, as on SQLite, which has one instance and no claims.
    ///
    /// With `created_before`, only rows created before then are read (and so claimed): the
    /// daemon holds back what a poll cycle in progress is still creating.
    pub fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        sink: Option<&str>,
        limit: usize,
        created_before: Option<DateTime<Utc>>,
    ) -> Result<Vec<Delivery>> {
        self.read_due(
            now,
            DueRows::Of {
                sink,
                created_before,
            },
            limit,
        )
    }

    /// Pending deliveries whose time has come for sinks other than `configured` (sinks since
    /// removed from the configuration), read (and on PostgreSQL claimed) as
    /// [`Store::due_deliveries`] does, so that the daemon can give them up without taking
    /// any other row from the instances that deliver it.
    pub fn orphaned_deliveries(
        &self,
        now: DateTime<Utc>,
        configured: &[&str],
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        self.read_due(now, DueRows::Orphans { configured }, limit)
    }

    fn read_due(
        &self,
        now: DateTime<Utc>,
        rows: DueRows<'_>,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        const DUE: sql::Twin = sql::Twin {
            sqlite: "SELECT o.id, o.story_id, o.sink, o.idempotency_key, o.attempts, o.created_at,
                    o.kind, o.revision, o.changes, o.generation, s.atom_id,
                    f.state, f.remote_id, f.due_at,
                    (SELECT min(e.due_at) FROM outbox e
                     WHERE o.kind = 'update' AND e.story_id = o.story_id AND e.sink = o.sink
                       AND e.kind = 'update' AND e.state = 'pending'
                       AND e.revision < o.revision)
             FROM outbox o
             JOIN stories s ON s.id = o.story_id
             LEFT JOIN outbox f ON o.kind = 'update' AND f.kind = 'new'
                 AND f.story_id = o.story_id AND f.sink = o.sink
             WHERE o.state = 'pending' AND o.due_at <= ?1 AND (?2 IS NULL OR o.sink = ?2)
               AND (?4 IS NULL OR o.created_at < ?4)
               AND (?5 IS NULL OR o.sink NOT IN (SELECT value FROM json_each(?5)))
             ORDER BY o.due_at, o.id LIMIT ?3",
            // The same rows and columns, claimed first for instance ?4 until ?5 (the filters
            // are ?6 and ?7 here). `?2::text`: PostgreSQL types a parameter where it first
            // meets it, and `IS NULL` gives none.
            postgres: "WITH claimed AS (
                 UPDATE outbox SET claimed_by = ?4, claim_until = ?5
                 WHERE id IN (SELECT id FROM outbox
                              WHERE state = 'pending' AND due_at <= ?1
                                AND (?2::text IS NULL OR sink = ?2)
                                AND (?6::text IS NULL OR created_at < ?6)
                                AND (?7::text IS NULL OR sink NOT IN
                                     (SELECT jsonb_array_elements_text(?7::jsonb)))
                                AND (claimed_by IS NULL OR claimed_by = ?4
                                     OR claim_until <= ?1)
                              ORDER BY due_at, id LIMIT ?3
                              FOR UPDATE SKIP LOCKED)
                 RETURNING id, story_id, sink, idempotency_key, attempts, created_at, kind,
                           revision, changes, generation, due_at)
             SELECT o.id, o.story_id, o.sink, o.idempotency_key, o.attempts, o.created_at,
                    o.kind, o.revision, o.changes, o.generation, s.atom_id,
                    f.state, f.remote_id, f.due_at,
                    (SELECT min(e.due_at) FROM outbox e
                     WHERE o.kind = 'update' AND e.story_id = o.story_id AND e.sink = o.sink
                       AND e.kind = 'update' AND e.state = 'pending'
                       AND e.revision < o.revision)
             FROM claimed o
             JOIN stories s ON s.id = o.story_id
             LEFT JOIN outbox f ON o.kind = 'update' AND f.kind = 'new'
                 AND f.story_id = o.story_id AND f.sink = o.sink
             ORDER BY o.due_at, o.id",
        };
        let (sink, created_before, configured) = match rows {
            DueRows::Of {
                sink,
                created_before,
            } => (sink, created_before.map(timestamp), None),
            DueRows::Orphans { configured } => (
                None,
                None,
                // A list of names is always serialisable.
                Some(serde_json::to_string(configured).unwrap_or_else(|_| "[]".into())),
            ),
        };
        let rows: Vec<(Delivery, String)> = match &self.conn {
            Conn::Sqlite(conn) => conn
                .prepare_cached(DUE.sqlite)?
                .query_map(
                    params![
                        timestamp(now),
                        sink,
                        sql_limit(limit),
                        created_before,
                        configured
                    ],
                    |row| delivery_from_row(row, now),
                )?
                .collect::<Result<_, _>>()?,
            Conn::Postgres(pg) => on_postgres(|| {
                pg.borrow_mut()
                    .query(
                        DUE.postgres,
                        &[
                            &timestamp(now),
                            &sink,
                            &sql_limit(limit),
                            &self.instance,
                            &claim_until(now),
                            &created_before,
                            &configured,
                        ],
                    )?
                    .iter()
                    .map(|row| Ok(delivery_from_row(row, now)?))
                    .collect()
            })?,
        };
        rows.into_iter()
            .map(|(mut delivery, changes)| {
                delivery.changes = changes_from_json(delivery.id, &changes)?;
                Ok(delivery)
            })
            .collect()
    }

    /// When the next pending delivery falls due, if any. On PostgreSQL a row another instance
    /// holds the claim of is due to this one when the claim ends, not before: the daemon
    /// would otherwise wake at once, over and over, for rows it cannot take.
    pub fn next_delivery_due(&self) -> Result<Option<DateTime<Utc>>> {
        /// PostgreSQL's `GREATEST` ignores NULLs: an unclaimed row (or one of ours) is due at
        /// its `due_at`.
        const NEXT_DUE: sql::Twin = sql::Twin {
            sqlite: "SELECT min(due_at) FROM outbox WHERE state = 'pending'",
            postgres: "SELECT min(GREATEST(due_at,
                        CASE WHEN claimed_by <> ?1 THEN claim_until END))
             FROM outbox WHERE state = 'pending'",
        };
        let due: Option<String> = match &self.conn {
            Conn::Sqlite(conn) => conn.query_row(NEXT_DUE.sqlite, [], |row| row.get(0))?,
            Conn::Postgres(pg) => on_postgres(|| {
                let rows = pg
                    .borrow_mut()
                    .query(NEXT_DUE.postgres, &[&self.instance])?;
                Ok(rows
                    .first()
                    .map(|row| row.try_get(0))
                    .transpose()?
                    .flatten())
            })?,
        };
        Ok(due.as_deref().and_then(parse_timestamp))
    }

    /// Starts one of the outbox's own short writes: on SQLite an immediate transaction; on
    /// PostgreSQL a transaction without the ingest lock, since the rows it changes
    /// are the ones this instance claimed ([`WriteTx::lock_ingest`] takes the lock when the
    /// write must also queue an edit, as ingest does).
    fn begin_outbox(&mut self) -> Result<WriteTx<'_>> {
        Ok(WriteTx::new(match &mut self.conn {
            // Immediate: the write lock is taken (waiting out the busy timeout) before the
            // first read. A deferred transaction that reads first and then writes, after
            // another connection (the poll's writer) committed, fails at once with
            // SQLITE_BUSY, and an acknowledged delivery would then be sent again.
            Conn::Sqlite(conn) => Tx::Sqlite(SqliteTx {
                tx: conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?,
                checkpointer: self.checkpointer.as_ref().and_then(Option::as_ref),
            }),
            Conn::Postgres(pg) => {
                Tx::Postgres(RefCell::new(on_postgres(|| pg.get_mut().begin_unlocked())?))
            }
        }))
    }

    /// Records one attempt's outcome. Each call is its own transaction, committed before the
    /// next delivery starts, so a crash repeats at most the delivery that was in flight. Only
    /// a row still pending changes: a story merged away while its request was in flight stays
    /// merged. On PostgreSQL only a row whose claim this instance still holds changes, and
    /// recording releases the claim: if the claim ended and another instance took the row
    /// over, that instance's outcome stands ([`RecordOutcome::ClaimLost`]).
    ///
    /// An acknowledged row whose generation moved while its request was in flight had changes
    /// folded into it that the request may not have shown: the same transaction queues an edit
    /// carrying those changes, due at once, so no change is lost between read and record.
    pub fn record_delivery(
        &mut self,
        id: i64,
        update: &DeliveryUpdate,
        now: DateTime<Utc>,
    ) -> Result<RecordOutcome> {
        // Each PostgreSQL text also releases the claim, and matches only while the last
        // parameter, this instance, holds it.
        const DELIVERED: sql::Twin = sql::Twin {
            sqlite: "UPDATE outbox SET state = 'delivered', delivered_at = ?2,
                        attempts = attempts + 1, last_error = NULL,
                        remote_id = coalesce(?3, remote_id)
                     WHERE id = ?1 AND state = 'pending'",
            postgres: "UPDATE outbox SET state = 'delivered', delivered_at = ?2,
                        attempts = attempts + 1, last_error = NULL,
                        remote_id = coalesce(?3, remote_id),
                        claimed_by = NULL, claim_until = NULL
                     WHERE id = ?1 AND state = 'pending' AND claimed_by = ?4",
        };
        const RETRY: sql::Twin = sql::Twin {
            sqlite: "UPDATE outbox SET due_at = ?2, attempts = attempts + 1, last_error = ?3
                     WHERE id = ?1 AND state = 'pending'",
            postgres: "UPDATE outbox SET due_at = ?2, attempts = attempts + 1, last_error = ?3,
                        claimed_by = NULL, claim_until = NULL
                     WHERE id = ?1 AND state = 'pending' AND claimed_by = ?4",
        };
        const DEFER: sql::Twin = sql::Twin {
            sqlite: "UPDATE outbox SET due_at = ?2, last_error = ?3
                     WHERE id = ?1 AND state = 'pending'",
            postgres: "UPDATE outbox SET due_at = ?2, last_error = ?3,
                        claimed_by = NULL, claim_until = NULL
                     WHERE id = ?1 AND state = 'pending' AND claimed_by = ?4",
        };
        const DEAD: sql::Twin = sql::Twin {
            sqlite: "UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = ?2
                     WHERE id = ?1 AND state = 'pending'",
            postgres: "UPDATE outbox SET state = 'dead', attempts = attempts + 1, last_error = ?2,
                        claimed_by = NULL, claim_until = NULL
                     WHERE id = ?1 AND state = 'pending' AND claimed_by = ?3",
        };
        const FILTERED: sql::Twin = sql::Twin {
            sqlite: "UPDATE outbox SET state = 'filtered' WHERE id = ?1 AND state = 'pending'",
            postgres: "UPDATE outbox SET state = 'filtered', claimed_by = NULL, claim_until = NULL
                     WHERE id = ?1 AND state = 'pending' AND claimed_by = ?2",
        };
        /// Why a record changed nothing: the row's state, and (PostgreSQL) who holds it.
        const HOLDER: sql::Twin = sql::Twin {
            sqlite: "SELECT state, NULL FROM outbox WHERE id = ?1",
            postgres: "SELECT state, claimed_by FROM outbox WHERE id = ?1",
        };
        let owner = self.instance.clone();
        let tx = self.begin_outbox()?;
        let mine = || [sql::Value::from(owner.as_str())];
        let changed = match update {
            DeliveryUpdate::Delivered {
                remote_id,
                generation,
            } => {
                // Frozen since `start_attempt` (ingest folds changes only into rows no attempt
                // of which started), so read before the row is locked: an edit to queue takes
                // the ingest lock first, in the order ingest takes the two.
                let current: Option<i64> =
                    tx.query_opt("SELECT generation FROM outbox WHERE id = ?1", &[id.into()])?;
                let missed = current.is_some_and(|current| current > *generation);
                if missed {
                    tx.lock_ingest()?;
                }
                let changed = tx.execute(
                    tx.dialect(&DELIVERED),
                    &tx.claim_params(
                        vec![
                            id.into(),
                            timestamp(now).into(),
                            remote_id.as_deref().into(),
                        ],
                        mine(),
                    ),
                )?;
                if changed > 0 && missed {
                    follow_up_missed(&tx, id, *generation, now)?;
                }
                changed
            }
            DeliveryUpdate::Retry { at, error } => tx.execute(
                tx.dialect(&RETRY),
                &tx.claim_params(
                    vec![id.into(), timestamp(*at).into(), error.as_str().into()],
                    mine(),
                ),
            )?,
            DeliveryUpdate::Defer { at, reason } => tx.execute(
                tx.dialect(&DEFER),
                &tx.claim_params(
                    vec![id.into(), timestamp(*at).into(), reason.as_str().into()],
                    mine(),
                ),
            )?,
            DeliveryUpdate::Dead { error } => tx.execute(
                tx.dialect(&DEAD),
                &tx.claim_params(vec![id.into(), error.as_str().into()], mine()),
            )?,
            DeliveryUpdate::Filtered => tx.execute(
                tx.dialect(&FILTERED),
                &tx.claim_params(vec![id.into()], mine()),
            )?,
        };
        let outcome = if changed > 0 {
            RecordOutcome::Recorded
        } else {
            match tx.query_opt::<(String, Option<String>)>(tx.dialect(&HOLDER), &[id.into()])? {
                Some((state, holder)) if state == "pending" => RecordOutcome::ClaimLost { holder },
                _ => RecordOutcome::NotPending,
            }
        };
        tx.commit()?;
        if let RecordOutcome::ClaimLost { holder } = &outcome {
            tracing::warn!(
                delivery = id,
                holder = holder.as_deref().unwrap_or("nobody"),
                "this instance's claim on a delivery ended before its outcome was recorded; the outcome is dropped"
            );
        }
        Ok(outcome)
    }

    /// Marks rows as being sent, just before their request goes out, and returns those still
    /// pending (a row merged away since it was read is not sent). From here on the receiver
    /// may hold the message even if no answer is ever recorded (a crash mid-request): ingest no
    /// longer folds changes into it, and a merge no longer cancels it. On PostgreSQL only rows
    /// whose claim this instance still holds are returned, and their claim is renewed, so the
    /// lease has to cover one request, not a sink's whole turn.
    pub fn start_attempt(&mut self, ids: &[i64], now: DateTime<Utc>) -> Result<Vec<i64>> {
        const START: sql::Twin = sql::Twin {
            sqlite: "UPDATE outbox SET attempted_at = ?2 WHERE id = ?1 AND state = 'pending'",
            postgres: "UPDATE outbox SET attempted_at = ?2, claim_until = ?3
                     WHERE id = ?1 AND state = 'pending' AND claimed_by = ?4",
        };
        let owner = self.instance.clone();
        let tx = self.begin_outbox()?;
        let mut live = Vec::with_capacity(ids.len());
        for &id in ids {
            let params = tx.claim_params(
                vec![id.into(), timestamp(now).into()],
                [claim_until(now).into(), owner.as_str().into()],
            );
            if tx.execute(tx.dialect(&START), &params)? > 0 {
                live.push(id);
            }
        }
        tx.commit()?;
        Ok(live)
    }

    /// Per-sink outbox totals, for `status` and the metrics.
    pub fn sink_totals(&self) -> Result<Vec<SinkTotals>> {
        /// SQLite sums its 0/1 comparisons; PostgreSQL's are booleans, counted with `FILTER`.
        const TOTALS: sql::Twin = sql::Twin {
            sqlite: "SELECT sink,
                    sum(state = 'pending'), sum(state = 'delivered'), sum(state = 'dead'),
                    sum(state = 'filtered'),
                    (SELECT last_error FROM outbox o2 WHERE o2.sink = outbox.sink
                       AND o2.last_error IS NOT NULL ORDER BY o2.id DESC LIMIT 1)
             FROM outbox GROUP BY sink ORDER BY sink",
            postgres: "SELECT sink,
                    count(*) FILTER (WHERE state = 'pending'),
                    count(*) FILTER (WHERE state = 'delivered'),
                    count(*) FILTER (WHERE state = 'dead'),
                    count(*) FILTER (WHERE state = 'filtered'),
                    (SELECT last_error FROM outbox o2 WHERE o2.sink = outbox.sink
                       AND o2.last_error IS NOT NULL ORDER BY o2.id DESC LIMIT 1)
             FROM outbox GROUP BY sink ORDER BY sink",
        };
        fn totals<R: sql::SqlRow>(row: &R) -> Result<SinkTotals, R::Error> {
            Ok(SinkTotals {
                sink: row.text(0)?,
                pending: row.i64(1)?,
                delivered: row.i64(2)?,
                dead: row.i64(3)?,
                filtered: row.i64(4)?,
                last_error: row.opt_text(5)?,
            })
        }
        match &self.conn {
            Conn::Sqlite(conn) => Ok(conn
                .prepare(TOTALS.sqlite)?
                .query_map([], |row| totals(row))?
                .collect::<Result<_, _>>()?),
            Conn::Postgres(pg) => on_postgres(|| {
                pg.borrow_mut()
                    .query(TOTALS.postgres, &[])?
                    .iter()
                    .map(|row| Ok(totals(row)?))
                    .collect()
            }),
        }
    }
}

/// Queues an edit for the changes folded into row `id` after its request read it at
/// `read_generation`, in `tx` (on PostgreSQL under the ingest lock, which numbers edits).
fn follow_up_missed(
    tx: &WriteTx<'_>,
    id: i64,
    read_generation: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let (story_id, sink, generation, changes): (i64, String, i64, String) = tx.query_one(
        "SELECT story_id, sink, generation, changes FROM outbox WHERE id = ?1",
        &[id.into()],
    )?;
    let missed = usize::try_from(generation - read_generation).unwrap_or(0);
    if missed == 0 {
        return Ok(());
    }
    let changes = changes_from_json(id, &changes)?;
    let missed = &changes[changes.len().saturating_sub(missed)..];
    let first_key: Option<String> = tx.query_opt(
        "SELECT idempotency_key FROM outbox
         WHERE story_id = ?1 AND sink = ?2 AND kind = 'new'",
        &[story_id.into(), sink.as_str().into()],
    )?;
    let Some(first_key) = first_key else {
        return Ok(());
    };
    tracing::debug!(%sink, story = story_id, missed = missed.len(), "changes arrived while a message was in flight; queueing an edit");
    let revision =
        saturating_u32(tx.query_one(NEXT_REVISION, &[story_id.into(), sink.as_str().into()])?);
    tx.execute(
        INSERT_EDIT,
        &[
            story_id.into(),
            sink.as_str().into(),
            revision_key(&first_key, revision).into(),
            timestamp(now).into(),
            timestamp(now).into(),
            revision.into(),
            changes_json(missed).into(),
        ],
    )?;
    Ok(())
}

/// One row of `Store::due_deliveries`, on either backend, with its `changes` column still
/// JSON text (parsed by the caller, whose error type can say which row is corrupt).
fn delivery_from_row<R: sql::SqlRow>(
    row: &R,
    now: DateTime<Utc>,
) -> Result<(Delivery, String), R::Error> {
    let at = |column| -> Result<Option<DateTime<Utc>>, R::Error> {
        Ok(row.opt_text(column)?.as_deref().and_then(parse_timestamp))
    };
    let kind = match row.text(6)?.as_str() {
        "update" => DeliveryKind::Update,
        _ => DeliveryKind::New,
    };
    let first = match kind {
        DeliveryKind::New => None,
        DeliveryKind::Update => Some(match (row.opt_text(11)?.as_deref(), at(14)?) {
            (Some("pending"), _) => FirstMessage::Pending {
                due: at(13)?.unwrap_or(now),
            },
            // Edits go out in revision order: this one waits for an earlier one still owed
            // (being retried), as it waits for the first message.
            (Some("delivered"), Some(earlier)) => FirstMessage::Pending { due: earlier },
            (Some("delivered"), None) => FirstMessage::Delivered {
                remote_id: row.opt_text(12)?,
            },
            _ => FirstMessage::Gone,
        }),
    };
    Ok((
        Delivery {
            id: row.i64(0)?,
            story_id: row.i64(1)?,
            atom_id: row.text(10)?,
            sink: row.text(2)?,
            idempotency_key: row.text(3)?,
            attempts: saturating_u32(row.i64(4)?),
            created_at: parse_timestamp(&row.text(5)?).unwrap_or_default(),
            kind,
            revision: saturating_u32(row.i64(7)?),
            changes: Vec::new(),
            generation: row.i64(9)?,
            first,
        },
        row.text(8)?,
    ))
}

/// A story as a person named it, and the story that holds its members now.
struct ResolvedStory {
    /// The story the key names.
    found: i64,
    /// The end of its merge chain: `found` itself unless it was folded into another story.
    head: i64,
}

const STORY_BY_NUMBER: &str = "SELECT id, merged_into FROM stories WHERE id = ?1";
const STORY_BY_ATOM_ID: &str = "SELECT id, merged_into FROM stories WHERE atom_id = ?1";

/// Finds a story by its number or its Atom id and follows its merges. The chain ends: only a
/// story that holds members is ever folded (the matcher's candidates are items, and a manual
/// merge refuses a story already merged), and it is folded into another such story.
fn resolve_story(conn: &Connection, key: &str) -> Result<Option<ResolvedStory>> {
    resolve_story_with(key, |sql, key| {
        conn.query_row(sql, [key], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
            .map_err(StoreError::from)
    })
}

/// [`resolve_story`] on either backend: `find` runs one of the `STORY_BY_*` statements with
/// its one parameter and returns its row, `(id, merged_into)`.
fn resolve_story_with<E>(
    key: &str,
    mut find: impl FnMut(&'static str, sql::Value<'_>) -> Result<Option<(i64, Option<i64>)>, E>,
) -> Result<Option<ResolvedStory>, E> {
    // Each form of key has its own index (the primary key, the unique atom_id): a key matched
    // against both at once would scan the table, once per delivery.
    let found = match key.parse::<i64>() {
        Ok(number) => find(STORY_BY_NUMBER, number.into())?,
        Err(_) => find(STORY_BY_ATOM_ID, key.into())?,
    };
    let Some((found, mut merged_into)) = found else {
        return Ok(None);
    };
    let mut head = found;
    // A story is folded only into a stored one (a foreign key), so each step finds its row.
    while let Some(into) = merged_into {
        head = into;
        merged_into = find(STORY_BY_NUMBER, into.into())?.and_then(|(_, next)| next);
    }
    Ok(Some(ResolvedStory { found, head }))
}

#[derive(Debug, Clone, Copy)]
pub enum CountedTable {
    Items,
    Stories,
    PendingOutbox,
}

/// A configured feed, added or brought up to date (see [`Store::sync_sources`]): a changed URL
/// forgets what was known of the old one. Every column of the stored row is qualified: to
/// PostgreSQL an unqualified name is ambiguous between it and `excluded` (SQLite accepts both).
const UPSERT_SOURCE: &str = "INSERT INTO sources (name, url, role) VALUES (?1, ?2, ?3)
 ON CONFLICT(name) DO UPDATE SET
    role = excluded.role,
    etag = CASE WHEN sources.url = excluded.url THEN sources.etag END,
    last_modified = CASE WHEN sources.url = excluded.url THEN sources.last_modified END,
    gone = CASE WHEN sources.url = excluded.url THEN sources.gone ELSE 0 END,
    moved_to = CASE WHEN sources.url = excluded.url THEN sources.moved_to END,
    redirect_candidate = CASE WHEN sources.url = excluded.url
        THEN sources.redirect_candidate END,
    redirect_seen = CASE WHEN sources.url = excluded.url THEN sources.redirect_seen ELSE 0 END,
    item_digests = CASE WHEN sources.url = excluded.url THEN sources.item_digests END,
    url = excluded.url";

/// The `sources` columns [`source_from_row`] reads, in its order: a macro, so that both
/// [`SOURCE_SELECT`] and the claim's `RETURNING` (PostgreSQL) are one literal each.
macro_rules! source_columns {
    () => {
        "id, name, url, role, etag, last_modified, last_status,
    last_attempt_at, last_success_at, last_error, last_error_at, consecutive_errors, retry_after,
    min_interval_secs, next_due_at, gone, backfilled, items_seen, moved_to, redirect_candidate,
    redirect_seen, item_digests"
    };
}
pub(crate) use source_columns;

const SOURCE_SELECT: &str = concat!("SELECT ", source_columns!(), " FROM sources");

/// One `sources` row, as [`SOURCE_SELECT`] reads it, from either backend.
fn source_from_row<R: sql::SqlRow>(row: &R) -> Result<SourceRecord, R::Error> {
    let at = |column| -> Result<Option<DateTime<Utc>>, R::Error> {
        Ok(row.opt_text(column)?.as_deref().and_then(parse_timestamp))
    };
    Ok(SourceRecord {
        id: row.i64(0)?,
        name: row.text(1)?,
        url: row.text(2)?,
        role: Role::parse(&row.text(3)?).unwrap_or_default(),
        state: PollState {
            etag: row.opt_text(4)?,
            last_modified: row.opt_text(5)?,
            last_status: row.opt_text(6)?,
            last_attempt_at: at(7)?,
            last_success_at: at(8)?,
            last_error: row.opt_text(9)?,
            last_error_at: at(10)?,
            consecutive_errors: saturating_u32(row.i64(11)?),
            retry_after: at(12)?,
            min_interval: row
                .opt_i64(13)?
                .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0))),
            next_due_at: at(14)?,
            gone: row.flag(15)?,
            backfilled: row.flag(16)?,
            moved_to: row.opt_text(18)?,
            redirect_candidate: row.opt_text(19)?,
            redirect_seen: saturating_u32(row.i64(20)?),
            item_digests: digests_from_blob(&row.opt_blob(21)?.unwrap_or_default()),
        },
        items_seen: row.i64(17)?,
    })
}

fn digests_from_blob(blob: &[u8]) -> Vec<u64> {
    blob.chunks_exact(8)
        .map(|chunk| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(chunk);
            u64::from_le_bytes(bytes)
        })
        .collect()
}

fn digests_to_blob(digests: &[u64]) -> Vec<u8> {
    digests.iter().flat_map(|d| d.to_le_bytes()).collect()
}

/// A feed's poll state, rewritten after every poll; the parameters are [`poll_state_params`].
/// The assignments [`SAVE_POLL_STATE`] and [`SAVE_CLAIMED_POLL_STATE`] share.
macro_rules! poll_state_set {
    () => {
        "UPDATE sources SET etag = ?2, last_modified = ?3, last_status = ?4,
    last_attempt_at = ?5, last_success_at = ?6, last_error = ?7, last_error_at = ?8,
    consecutive_errors = ?9, retry_after = ?10, min_interval_secs = ?11,
    next_due_at = ?12, gone = ?13, backfilled = ?14, moved_to = ?15,
    redirect_candidate = ?16, redirect_seen = ?17, item_digests = ?18"
    };
}

const SAVE_POLL_STATE: &str = concat!(poll_state_set!(), " WHERE id = ?1");

/// A poll's state, saved by the instance that claimed the feed: on PostgreSQL only while it
/// still holds the lease (?19 is the instance), which the same statement gives up. SQLite has
/// one instance and no leases.
const SAVE_CLAIMED_POLL_STATE: sql::Twin = sql::Twin {
    sqlite: SAVE_POLL_STATE,
    postgres: concat!(
        poll_state_set!(),
        ", lease_owner = NULL, lease_until = NULL WHERE id = ?1 AND lease_owner = ?19"
    ),
};

/// [`SAVE_POLL_STATE`]'s parameters, in order, for either backend.
fn poll_state_params(source_id: i64, state: &PollState) -> [sql::Value<'_>; 18] {
    [
        source_id.into(),
        state.etag.as_deref().into(),
        state.last_modified.as_deref().into(),
        state.last_status.as_deref().into(),
        state.last_attempt_at.map(timestamp).into(),
        state.last_success_at.map(timestamp).into(),
        state.last_error.as_deref().into(),
        state.last_error_at.map(timestamp).into(),
        state.consecutive_errors.into(),
        state.retry_after.map(timestamp).into(),
        state
            .min_interval
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .into(),
        state.next_due_at.map(timestamp).into(),
        state.gone.into(),
        state.backfilled.into(),
        state.moved_to.as_deref().into(),
        state.redirect_candidate.as_deref().into(),
        state.redirect_seen.into(),
        digests_to_blob(&state.item_digests).into(),
    ]
}

fn write_poll_state(conn: &Connection, source_id: i64, state: &PollState) -> Result<()> {
    // Cached: a cycle saves one state per feed, and parsing this statement costs more than
    // running it.
    conn.prepare_cached(SAVE_POLL_STATE)?
        .execute(rusqlite::params_from_iter(poll_state_params(
            source_id, state,
        )))?;
    Ok(())
}

/// An item's stored JSON. The same text on both backends.
const ITEM_DATA: &str = "SELECT data FROM items WHERE id = ?1";

/// The item stored under a feed and guid, read by [`existing_from_row`].
const EXISTING_ITEM: &str = "SELECT id, content_hash, story_id, published FROM items
 WHERE source_id = ?1 AND guid = ?2";

fn existing_from_row<R: sql::SqlRow>(row: &R) -> Result<ExistingItem, R::Error> {
    Ok(ExistingItem {
        id: row.i64(0)?,
        content_hash: row.text(1)?,
        story_id: row.i64(2)?,
        published: parse_timestamp(&row.text(3)?).unwrap_or_default(),
    })
}

/// An item seen for the first time; the parameters are [`new_item_params`].
const INSERT_ITEM: &str = "INSERT INTO items (source_id, guid, data, content_hash, canonical_url,
    title_key, published, first_seen, changed_at, story_id, match_reason, match_score,
    member_role)
 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12)";

/// An item as the `data` column holds it.
fn item_json(item: &Item) -> serde_json::Result<String> {
    serde_json::to_string(item)
}

/// [`INSERT_ITEM`]'s parameters, in order, for either backend.
fn new_item_params<'a>(
    row: &'a NewItem<'_>,
    data: String,
    now: DateTime<Utc>,
) -> [sql::Value<'a>; 12] {
    [
        row.source_id.into(),
        row.item.guid.as_str().into(),
        data.into(),
        row.content_hash.into(),
        row.keys.canonical_url.as_deref().into(),
        row.keys.title_key.as_deref().into(),
        timestamp(row.published).into(),
        timestamp(now).into(),
        row.story_id.into(),
        row.reason.as_str().into(),
        row.score.into(),
        row.member_role.as_str().into(),
    ]
}

// The write transaction's statements: one text where the dialects agree, the two side by
// side where they do not.

/// A story, its Atom id fixed now (`create_story`). The same text on both backends.
const CREATE_STORY: &str =
    "INSERT INTO stories (atom_id, created_at, published, updated_at) VALUES (?1, ?2, ?3, ?2)";

/// One more item stored by a feed. The same text on both backends.
const COUNT_ITEM: &str = "UPDATE sources SET items_seen = items_seen + 1 WHERE id = ?1";

/// An item's new hash, its content unchanged. The same text on both backends.
const SET_CONTENT_HASH: &str = "UPDATE items SET content_hash = ?2 WHERE id = ?1";

/// An edited item's row. The same text on both backends.
const UPDATE_ITEM: &str =
    "UPDATE items SET data = ?2, content_hash = ?3, canonical_url = ?4, title_key = ?5,
                published = ?6, changed_at = ?7 WHERE id = ?1";

/// `merge_story`: the items move. The same text on both backends.
const MERGE_ITEMS: &str = "UPDATE items SET story_id = ?2 WHERE story_id = ?1";

/// `merge_story`: the story folded away keeps its row, marked. The same text on both backends.
const MERGE_MARK: &str = "UPDATE stories SET merged_into = ?2, updated_at = ?3 WHERE id = ?1";

/// `merge_story`: its unsent messages are cancelled (see there which are not). The same text on both backends.
const MERGE_OUTBOX: &str =
    "UPDATE outbox SET state = 'merged' WHERE story_id = ?1 AND state = 'pending'
                AND NOT (kind = 'new' AND (attempted_at IS NOT NULL OR attempts > 0))";

/// `enqueue_update`: the first message of a story to a sink. The same text on both backends.
const FIRST_MESSAGE: &str = "SELECT state, idempotency_key FROM outbox
                 WHERE story_id = ?1 AND sink = ?2 AND kind = 'new'";

/// `enqueue_update`: the newest pending row, and whether no attempt of it started. The same text on both backends.
const OPEN_ROW: &str = "SELECT id, attempts = 0 AND attempted_at IS NULL, changes FROM outbox
                 WHERE story_id = ?1 AND sink = ?2 AND state = 'pending'
                 ORDER BY id DESC LIMIT 1";

/// `enqueue_update`: a change folded into a row not yet attempted. The same text on both
/// backends. The condition is asked again here, not only by [`OPEN_ROW`]: on PostgreSQL
/// another instance's worker may start the attempt between the two, and a change folded into
/// a row already on its way would never reach the receiver (seen once in
/// `scripts/failover_pg.sh`: a story's last message showed one member of two). The update
/// then waits for that worker's row lock, reads the row as it committed, and changes nothing;
/// the change becomes an edit of its own.
const FOLD_CHANGE: &str = "UPDATE outbox SET changes = ?2, generation = generation + 1
                 WHERE id = ?1 AND state = 'pending' AND attempts = 0 AND attempted_at IS NULL";

/// The next edit's number. The same text on both backends.
const NEXT_REVISION: &str =
    "SELECT coalesce(max(revision), 0) + 1 FROM outbox WHERE story_id = ?1 AND sink = ?2";

/// An edit of a story a sink has heard of. The same text on both backends.
const INSERT_EDIT: &str =
    "INSERT INTO outbox (story_id, sink, idempotency_key, created_at, due_at, kind, revision,
            changes)
         VALUES (?1, ?2, ?3, ?4, ?5, 'update', ?6, ?7)";

/// A story's Atom id. The same text on both backends.
const STORY_ATOM_ID: &str = "SELECT atom_id FROM stories WHERE id = ?1";

/// `touch_story`: SQLite's two-argument `min` is PostgreSQL's `LEAST` (never NULL here, where they differ).
const TOUCH_STORY: sql::Twin = sql::Twin {
    sqlite: "UPDATE stories SET published = min(published, ?2), updated_at = ?3 WHERE id = ?1",
    postgres: "UPDATE stories SET published = LEAST(published, ?2), updated_at = ?3 WHERE id = ?1",
};

/// `merge_story`: the story kept takes the earlier date; `min` / `LEAST` as in `TOUCH_STORY`.
const MERGE_PUBLISHED: sql::Twin = sql::Twin {
    sqlite: "UPDATE stories SET
                published = min(published, (SELECT published FROM stories WHERE id = ?1)),
                updated_at = ?3
             WHERE id = ?2",
    postgres: "UPDATE stories SET
                published = LEAST(published, (SELECT published FROM stories WHERE id = ?1)),
                updated_at = ?3
             WHERE id = ?2",
};

/// A story's first message to a sink, once: `INSERT OR IGNORE` is `ON CONFLICT DO NOTHING`.
const ENQUEUE_NOTIFICATION: sql::Twin = sql::Twin {
    sqlite: "INSERT OR IGNORE INTO outbox (story_id, sink, idempotency_key, created_at, due_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
    postgres: "INSERT INTO outbox (story_id, sink, idempotency_key, created_at, due_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
};

/// Whether a member is an episode: SQLite's `json_extract` is PostgreSQL's `::jsonb ->>`.
const STORY_HAS_AUDIO: sql::Twin = sql::Twin {
    sqlite: "SELECT EXISTS (SELECT 1 FROM items
                 WHERE story_id = ?1 AND json_extract(data, '$.kind') = 'episode')",
    postgres: "SELECT EXISTS (SELECT 1 FROM items
             WHERE story_id = ?1 AND data::jsonb ->> 'kind' = 'episode')",
};

/// A write in progress. Dropping it without [`WriteTx::commit`] rolls back. Each method is the
/// SQLite one (`SqliteTx`, where they are documented) or the PostgreSQL one
/// ([`PgWriteTx`]), with the same statements where the dialects agree.
pub struct WriteTx<'a> {
    tx: Tx<'a>,
    /// See [`kept`]: the candidates this write read, until it changes what they say.
    kept: RefCell<kept::KeptCandidates>,
}

/// The `RefCell`: `PgWriteTx`'s methods take `&mut self`, `WriteTx`'s `&self`; a write is
/// used by one thread, so a borrow never meets another.
enum Tx<'a> {
    Sqlite(SqliteTx<'a>),
    Postgres(RefCell<PgWriteTx<'a>>),
}

/// A call of the backend's method of that name.
macro_rules! on_backend {
    ($tx:expr, $name:ident($($arg:expr),*)) => {
        match $tx {
            Tx::Sqlite(tx) => tx.$name($($arg),*),
            Tx::Postgres(tx) => on_postgres(|| tx.borrow_mut().$name($($arg),*)),
        }
    };
}

/// Each `WriteTx` method, passed to the backend's.
macro_rules! both_backends {
    ($( $(#[$attr:meta])* $vis:vis fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*) => {
        impl WriteTx<'_> {
            $(
                $(#[$attr])*
                $vis fn $name(&self $(, $arg: $ty)*) -> Result<$ret> {
                    on_backend!(&self.tx, $name($($arg),*))
                }
            )*
        }
    };
}

both_backends! {
    pub fn existing(&self, source_id: i64, guid: &str) -> Option<ExistingItem>;
    pub fn stored_item(&self, id: i64) -> Option<Item>;
    pub fn create_story(&self, atom_id: &str, published: DateTime<Utc>, now: DateTime<Utc>) -> i64;
    pub fn touch_story(&self, story_id: i64, published: DateTime<Utc>, now: DateTime<Utc>) -> ();
    pub fn enqueue_notification(
        &self,
        story_id: i64,
        sink: &str,
        idempotency_key: &str,
        due: DateTime<Utc>,
        now: DateTime<Utc>
    ) -> ();
    pub fn enqueue_update(
        &self,
        story_id: i64,
        sink: &str,
        change: &StoryChange,
        due: DateTime<Utc>,
        now: DateTime<Utc>
    ) -> bool;
    pub fn story_has_audio(&self, story_id: i64) -> bool;
    pub fn story_atom_id(&self, story_id: i64) -> String;
    pub fn save_poll_state(&self, source_id: i64, state: &PollState) -> ();
    pub fn candidates(&self, probe: &Probe, decorations: &Decorations) -> Vec<Candidate>;
    pub fn kin_candidates(
        &self,
        feeds: &[String],
        around: DateTime<Utc>,
        window: chrono::Duration,
        known: &HashSet<i64>,
        decorations: &Decorations
    ) -> Vec<Candidate>;
    pub fn titled_with(
        &self,
        words: &Words,
        known: &HashSet<i64>,
        decorations: &Decorations
    ) -> Vec<Candidate>;
    pub fn mirrors_naming(&self, title_words: &[i64], decorations: &Decorations) -> Vec<Candidate>;
    pub fn add_mirror_words(&self, item_id: i64, words: &Words) -> ();
    pub fn story_candidates(&self, story_id: i64, decorations: &Decorations) -> Vec<Candidate>;
    pub fn story_facts(&self, story_id: i64) -> StoryFacts;
    pub fn boilerplate(&self, source_id: i64) -> HashSet<u64>;
    pub fn recent_bodies(&self, source_id: i64) -> Vec<String>;
    pub fn decorations(&self) -> Decorations;
    pub fn set_feed_facts(&self, source_id: i64, title: Option<&str>, authors: &[String]) -> ();
    pub fn feed_authors(&self, source_id: i64) -> Vec<String>;
    pub fn item_transcript(&self, item_id: i64) -> Option<String>;
    pub fn story_pinned(&self, story_id: i64) -> bool;
}

/// The writes that change what a stored item reads as a candidate: each forgets what
/// the write's look-arounds kept of it (see [`kept`]).
impl WriteTx<'_> {
    fn new(tx: Tx<'_>) -> WriteTx<'_> {
        WriteTx {
            tx,
            kept: RefCell::default(),
        }
    }

    pub fn merge_story(&self, from: i64, into: i64, now: DateTime<Utc>) -> Result<()> {
        let mut kept = self.kept.borrow_mut();
        kept.forget_story(from);
        kept.forget_story(into);
        on_backend!(&self.tx, merge_story(from, into, now))
    }

    pub fn insert_item(&self, row: &NewItem<'_>, now: DateTime<Utc>) -> Result<i64> {
        self.kept.borrow_mut().forget_story(row.story_id);
        on_backend!(&self.tx, insert_item(row, now))
    }

    pub fn set_content_hash(&self, item_id: i64, content_hash: &str) -> Result<()> {
        self.kept.borrow_mut().forget_item(item_id);
        on_backend!(&self.tx, set_content_hash(item_id, content_hash))
    }

    pub fn update_item(&self, edit: &EditedItem<'_>, now: DateTime<Utc>) -> Result<()> {
        self.kept.borrow_mut().forget_item(edit.id);
        on_backend!(&self.tx, update_item(edit, now))
    }

    pub fn relabel(
        &self,
        item_id: i64,
        role: MemberRole,
        reason: MatchReason,
        score: f64,
    ) -> Result<()> {
        self.kept.borrow_mut().forget_item(item_id);
        on_backend!(&self.tx, relabel(item_id, role, reason, score))
    }

    pub fn set_item_transcript(&self, item_id: i64, url: Option<&str>) -> Result<()> {
        self.kept.borrow_mut().forget_item(item_id);
        on_backend!(&self.tx, set_item_transcript(item_id, url))
    }

    /// A transcript's words are the text of every item that names its address.
    pub fn record_transcript(
        &self,
        url: &str,
        words: std::result::Result<&str, String>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.kept.borrow_mut().forget_all();
        on_backend!(&self.tx, record_transcript(url, words, now))
    }

    /// Boilerplate is left out of every text of its feed; what is kept is forgotten only when
    /// the feed's grew.
    pub fn add_boilerplate(&self, source_id: i64, shingles: &HashSet<u64>) -> Result<()> {
        if on_backend!(&self.tx, add_boilerplate(source_id, shingles))? {
            self.kept.borrow_mut().forget_all();
        }
        Ok(())
    }

    /// The items published from `before` ahead of `around` to `after` past it, the nearest to
    /// it, at most `recent!()`, but those in `known`: where a mirror that no key led
    /// anywhere looks for the work it quotes or summarises (both count only within days), and
    /// where a summary that came first is asked again once its work arrives. No index of every
    /// origin's passages or words is kept for them. In the order of their ids.
    pub fn recent_candidates(
        &self,
        around: DateTime<Utc>,
        before: chrono::Duration,
        after: chrono::Duration,
        known: &HashSet<i64>,
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        let mut ids = on_backend!(&self.tx, recent_ids(around, before, after))?;
        ids.retain(|id| !known.contains(id));
        self.kept_or_read(ids, decorations)
    }

    /// The mirror items published within `window` of `around` that started a story of their
    /// own: the summaries that may have come before their work. At most `recent!()`, in the
    /// order of their ids.
    pub fn recent_founding_mirrors(
        &self,
        around: DateTime<Utc>,
        window: chrono::Duration,
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        let ids = on_backend!(&self.tx, founding_mirror_ids(around, window))?;
        self.kept_or_read(ids, decorations)
    }

    /// The items `ids` as candidates, in the order of their ids: those this write read before,
    /// and changed nothing of since, are not read again.
    fn kept_or_read(&self, mut ids: Vec<i64>, decorations: &Decorations) -> Result<Vec<Candidate>> {
        ids.sort_unstable();
        ids.dedup();
        let (mut known, missing) = self.kept.borrow_mut().known(ids, decorations.fingerprint());
        if !missing.is_empty() {
            let read = on_backend!(
                &self.tx,
                load_candidates(missing, &HashMap::new(), decorations)
            )?;
            self.kept.borrow_mut().keep(&read);
            known.extend(read);
        }
        known.sort_unstable_by_key(|candidate| candidate.item_id);
        Ok(known)
    }
}

impl WriteTx<'_> {
    /// Saves the poll state of a feed this instance claimed (`Store::claim_feeds`) and gives
    /// up the claim, in the write that stores what the poll brought. On PostgreSQL, when the
    /// lease has ended and another instance took the feed over, nothing is saved and `false`
    /// comes back: the other instance's poll state stands, and the late poll's items were
    /// deduplicated against the other's like any repeat (the `(source_id, guid)` key).
    pub fn save_claimed_poll_state(
        &self,
        source_id: i64,
        state: &PollState,
        owner: &str,
    ) -> Result<bool> {
        let params = self.claim_params(
            poll_state_params(source_id, state).into(),
            [sql::Value::from(owner)],
        );
        Ok(self.execute_beside_items(self.dialect(&SAVE_CLAIMED_POLL_STATE), &params)? == 1)
    }

    pub fn commit(self) -> Result<()> {
        match self.tx {
            Tx::Sqlite(tx) => tx.commit(),
            Tx::Postgres(tx) => on_postgres(|| tx.into_inner().commit()),
        }
    }

    // Statements written once for both backends, run in this write: for the operations whose
    // whole body is shared (the corrections), rather than a method per backend.

    /// This backend's text of a statement the dialects write differently.
    fn dialect(&self, twin: &sql::Twin) -> &'static str {
        match &self.tx {
            Tx::Sqlite(_) => twin.sqlite,
            Tx::Postgres(_) => twin.postgres,
        }
    }

    /// `params`, followed on PostgreSQL by `claim`: the outbox's PostgreSQL statements act
    /// only on rows this instance claimed (their last parameters name it, and renew or
    /// release the claim), SQLite's (one instance, no claims) take just `params`.
    fn claim_params<'p>(
        &self,
        mut params: Vec<sql::Value<'p>>,
        claim: impl IntoIterator<Item = sql::Value<'p>>,
    ) -> Vec<sql::Value<'p>> {
        if let Tx::Postgres(_) = &self.tx {
            params.extend(claim);
        }
        params
    }

    /// Serialises the rest of this write with ingest across instances, for an outbox write
    /// that queues an edit (edits are numbered by reading the highest number). A no-op on
    /// SQLite, where a write transaction already excludes every other writer.
    fn lock_ingest(&self) -> Result<()> {
        match &self.tx {
            Tx::Sqlite(_) => Ok(()),
            Tx::Postgres(tx) => on_postgres(|| tx.borrow_mut().lock_ingest()),
        }
    }

    /// Runs a statement; returns how many rows it changed. What the write kept of the
    /// candidates is forgotten, as the statement may move items between stories (the
    /// corrections do).
    fn execute(&self, statement: &str, params: &[sql::Value<'_>]) -> Result<u64> {
        self.kept.borrow_mut().forget_all();
        self.execute_beside_items(statement, params)
    }

    /// [`WriteTx::execute`] for a statement that changes no item, story or feed text (a feed's
    /// poll state): what the write kept of the candidates stays.
    fn execute_beside_items(&self, statement: &str, params: &[sql::Value<'_>]) -> Result<u64> {
        match &self.tx {
            Tx::Sqlite(tx) => {
                let changed = tx
                    .tx
                    .prepare_cached(statement)?
                    .execute(rusqlite::params_from_iter(params))?;
                // A count of rows always fits; saturating keeps the conversion total.
                Ok(u64::try_from(changed).unwrap_or(u64::MAX))
            }
            Tx::Postgres(tx) => on_postgres(|| tx.borrow_mut().execute(statement, params)),
        }
    }

    /// Runs an `INSERT` of one row and returns the row's id: `last_insert_rowid()` on SQLite,
    /// `RETURNING id` on PostgreSQL.
    fn insert(&self, statement: &str, params: &[sql::Value<'_>]) -> Result<i64> {
        self.kept.borrow_mut().forget_all();
        match &self.tx {
            Tx::Sqlite(tx) => {
                tx.tx
                    .prepare_cached(statement)?
                    .execute(rusqlite::params_from_iter(params))?;
                Ok(tx.tx.last_insert_rowid())
            }
            Tx::Postgres(tx) => on_postgres(|| tx.borrow_mut().insert(statement, params)),
        }
    }

    /// The first row of a query, if there is one.
    fn query_opt<T: sql::FromRow>(
        &self,
        statement: &str,
        params: &[sql::Value<'_>],
    ) -> Result<Option<T>> {
        match &self.tx {
            Tx::Sqlite(tx) => Ok(tx
                .tx
                .prepare_cached(statement)?
                .query_row(rusqlite::params_from_iter(params), |row| T::from_row(row))
                .optional()?),
            Tx::Postgres(tx) => on_postgres(|| {
                Ok(tx
                    .borrow_mut()
                    .query_opt(statement, params)?
                    .map(|row| T::from_row(&row))
                    .transpose()?)
            }),
        }
    }

    /// The one row of a query that always returns one (an aggregate).
    fn query_one<T: sql::FromRow>(&self, statement: &str, params: &[sql::Value<'_>]) -> Result<T> {
        match &self.tx {
            Tx::Sqlite(tx) => Ok(tx
                .tx
                .prepare_cached(statement)?
                .query_row(rusqlite::params_from_iter(params), |row| T::from_row(row))?),
            Tx::Postgres(tx) => on_postgres(|| {
                let row = tx.borrow_mut().query_one(statement, params)?;
                Ok(T::from_row(&row)?)
            }),
        }
    }
}

/// A write in progress on SQLite.
struct SqliteTx<'a> {
    tx: rusqlite::Transaction<'a>,
    /// Asked to copy back what the commit wrote.
    checkpointer: Option<&'a checkpoint::Checkpointer>,
}

impl SqliteTx<'_> {
    pub fn existing(&self, source_id: i64, guid: &str) -> Result<Option<ExistingItem>> {
        let mut stmt = self.tx.prepare_cached(EXISTING_ITEM)?;
        Ok(stmt
            .query_row(params![source_id, guid], |row| existing_from_row(row))
            .optional()?)
    }

    /// The stored version of item `id`, as it was written (sanitised): what its keys were
    /// derived from. `None` when its JSON does not parse: an edit then rewrites it whole
    /// rather than fail the feed on every poll.
    pub fn stored_item(&self, id: i64) -> Result<Option<Item>> {
        let data: String = self
            .tx
            .prepare_cached(ITEM_DATA)?
            .query_row([id], |row| row.get(0))?;
        Ok(serde_json::from_str(&data).ok())
    }

    /// Folds story `from` into story `into`: an item bridged two stories that are one work.
    /// `from` keeps its row (and so its Atom id is never reissued) but is marked merged and
    /// leaves the feed; its notifications not yet sent are cancelled, since `into` has its own.
    pub fn merge_story(&self, from: i64, into: i64, now: DateTime<Utc>) -> Result<()> {
        self.tx.execute(MERGE_ITEMS, params![from, into])?;
        self.tx
            .execute(MERGE_PUBLISHED.sqlite, params![from, into, timestamp(now)])?;
        self.tx
            .execute(MERGE_MARK, params![from, into, timestamp(now)])?;
        // A first message that may have reached its receiver (an attempt started) is not
        // cancelled: it is sent again under its key (as the story it is part of now), so that
        // its receipt, and the message's id, are known and the edit pointing at `into` can
        // follow it.
        self.tx.execute(MERGE_OUTBOX, [from])?;
        Ok(())
    }

    /// Creates a story whose Atom id is fixed now and never changes.
    pub fn create_story(
        &self,
        atom_id: &str,
        published: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        self.tx.prepare_cached(CREATE_STORY)?.execute(params![
            atom_id,
            timestamp(now),
            timestamp(published)
        ])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Records that a story changed: a member joined or was edited. Its date is its earliest
    /// member's.
    pub fn touch_story(
        &self,
        story_id: i64,
        published: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.tx
            .prepare_cached(TOUCH_STORY.sqlite)?
            .execute(params![story_id, timestamp(published), timestamp(now)])?;
        Ok(())
    }

    pub fn insert_item(&self, row: &NewItem<'_>, now: DateTime<Utc>) -> Result<i64> {
        let data =
            item_json(row.item).map_err(|source| StoreError::CorruptItem { id: 0, source })?;
        self.tx
            .prepare_cached(INSERT_ITEM)?
            .execute(rusqlite::params_from_iter(new_item_params(row, data, now)))?;
        let id = self.tx.last_insert_rowid();
        self.insert_keys(id, row.keys)?;
        self.tx
            .prepare_cached(COUNT_ITEM)?
            .execute([row.source_id])?;
        Ok(id)
    }

    /// Records a new hash for an item whose content did not change.
    pub fn set_content_hash(&self, item_id: i64, content_hash: &str) -> Result<()> {
        self.tx
            .prepare_cached(SET_CONTENT_HASH)?
            .execute(params![item_id, content_hash])?;
        Ok(())
    }

    /// Rewrites an edited item in place; its story membership is kept.
    pub fn update_item(&self, edit: &EditedItem<'_>, now: DateTime<Utc>) -> Result<()> {
        let id = edit.id;
        let data = serde_json::to_string(edit.item)
            .map_err(|source| StoreError::CorruptItem { id, source })?;
        self.tx.prepare_cached(UPDATE_ITEM)?.execute(params![
            id,
            data,
            edit.content_hash,
            edit.keys.canonical_url,
            edit.keys.title_key,
            timestamp(edit.published),
            timestamp(now),
        ])?;
        self.delete_keys(id, &KeyRows::dropped(edit.stored_keys, edit.keys))?;
        self.insert_keys(id, edit.keys)
    }

    /// Queues the first message of a new story for one sink. There is one per (story, sink)
    /// (and its key is unique), so re-running an ingest can never queue it twice.
    pub fn enqueue_notification(
        &self,
        story_id: i64,
        sink: &str,
        idempotency_key: &str,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.tx
            .prepare_cached(ENQUEUE_NOTIFICATION.sqlite)?
            .execute(params![
                story_id,
                sink,
                idempotency_key,
                timestamp(now),
                timestamp(due)
            ])?;
        Ok(())
    }

    /// Tells one sink that a story it has heard of (or is about to) changed. The change folds
    /// into the sink's newest pending row for the story when that row has not been attempted
    /// yet: the first message, which will show the story as it is when sent, or an edit still
    /// waiting out its hold, so five mirrors within the hold make one edit. Otherwise it is a
    /// new edit, due at `due`. Nothing is queued when the sink was never going to hear of the
    /// story (no first message, or a dead, filtered or cancelled one). Returns whether a new
    /// edit was queued.
    pub fn enqueue_update(
        &self,
        story_id: i64,
        sink: &str,
        change: &StoryChange,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let first: Option<(String, String)> = self
            .tx
            .prepare_cached(FIRST_MESSAGE)?
            .query_row(params![story_id, sink], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        let Some((state, first_key)) = first else {
            return Ok(false);
        };
        if state != "pending" && state != "delivered" {
            return Ok(false);
        }
        // Only a row no attempt of which has started: one that may have reached the receiver
        // keeps what it said under its key (a receiver that already has it would drop the
        // change with the repeat), and the change becomes an edit of its own.
        let open: Option<(i64, bool, String)> = self
            .tx
            .prepare_cached(OPEN_ROW)?
            .query_row(params![story_id, sink], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?;
        if let Some((id, true, changes)) = open {
            let mut changes = changes_from_json(id, &changes)?;
            changes.push(change.clone());
            let folded = self
                .tx
                .prepare_cached(FOLD_CHANGE)?
                .execute(params![id, changes_json(&changes)])?;
            if folded > 0 {
                return Ok(false);
            }
        }
        insert_update(
            &self.tx,
            story_id,
            sink,
            &first_key,
            std::slice::from_ref(change),
            due,
            now,
        )?;
        Ok(true)
    }

    /// Whether a member of the story is an episode (carries its audio), so that an episode
    /// joining it is news to a sink only when it is the first.
    pub fn story_has_audio(&self, story_id: i64) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached(STORY_HAS_AUDIO.sqlite)?
            .query_row([story_id], |row| row.get(0))?)
    }

    /// A story's Atom id, which edits name stories by.
    pub fn story_atom_id(&self, story_id: i64) -> Result<String> {
        Ok(self
            .tx
            .prepare_cached(STORY_ATOM_ID)?
            .query_row([story_id], |row| row.get(0))?)
    }

    pub fn save_poll_state(&self, source_id: i64, state: &PollState) -> Result<()> {
        write_poll_state(&self.tx, source_id, state)
    }

    pub fn commit(self) -> Result<()> {
        self.tx.commit()?;
        if let Some(checkpointer) = self.checkpointer {
            checkpointer.ask();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
