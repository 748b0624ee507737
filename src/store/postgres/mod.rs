//! The PostgreSQL backend (docs/postgres.md): where a `postgres://` database is reached, how
//! its schema is brought up to date, and the store operations ported so far, written with the
//! same statement texts as SQLite's (see `super::sql`).
//!
//! Design decision: the blocking `postgres` client, because the store is blocking today. It
//! runs its own current-thread runtime per client, so it must not be called on a tokio worker
//! thread without `block_in_place` (see docs/postgres.md, "Status").

mod migrations;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use postgres::config::Host;
use thiserror::Error;

use super::sql::{postgres_params, postgres_text};
use super::{
    PollState, SAVE_POLL_STATE, SOURCE_SELECT, SourceRecord, UPSERT_SOURCE, poll_state_params,
    source_from_row,
};
use crate::config::FeedConfig;

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
}

type Result<T, E = PgError> = std::result::Result<T, E>;

/// Whether `[storage] database` names a PostgreSQL server rather than a SQLite file. Only the
/// URL form counts: a bare `host=...` has always been a file name (docs/postgres.md).
pub fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// A PostgreSQL database to connect to: a libpq-style URL, parsed.
#[derive(Clone)]
pub struct PgTarget {
    config: postgres::Config,
}

impl PgTarget {
    /// Parses a `postgres://` or `postgresql://` URL with libpq's parameters (`host`, `port`,
    /// `user`, `password`, `dbname`, `sslmode`, `connect_timeout`, `application_name`, ...).
    pub fn parse(url: &str) -> Result<PgTarget> {
        if !is_postgres_url(url) {
            return Err(PgError::NotAUrl(url.to_owned()));
        }
        let mut config: postgres::Config = url.parse().map_err(PgError::Url)?;
        if config.get_application_name().is_none() {
            // So that `pg_stat_activity` tells tributary's connections from others'.
            config.application_name("tributary");
        }
        Ok(PgTarget { config })
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

/// A store on PostgreSQL. It becomes the PostgreSQL arm of `Store`'s connection when the
/// remaining operations are ported (docs/postgres.md, "Status").
pub struct PgStore {
    client: postgres::Client,
    target: PgTarget,
}

impl PgStore {
    /// Connects and brings the schema up to date.
    pub fn open(target: &PgTarget) -> Result<PgStore> {
        let mut store = PgStore {
            client: target.connect()?,
            target: target.clone(),
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

    /// Starts a write: one or more whole feeds, committed together, under [`INGEST_LOCK`],
    /// which COMMIT or ROLLBACK releases (and the server, if this connection dies).
    pub fn begin_write(&mut self) -> Result<PgWriteTx<'_>> {
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&INGEST_LOCK])?;
        Ok(PgWriteTx { tx })
    }

    pub fn sources(&mut self) -> Result<Vec<SourceRecord>> {
        let rows = self.client.query(SOURCE_SELECT, &[])?;
        Ok(rows.iter().map(source_from_row).collect::<Result<_, _>>()?)
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
pub struct PgWriteTx<'a> {
    tx: postgres::Transaction<'a>,
}

impl PgWriteTx<'_> {
    pub fn save_poll_state(&mut self, source_id: i64, state: &PollState) -> Result<()> {
        let params = poll_state_params(source_id, state);
        self.tx
            .execute(&postgres_text(SAVE_POLL_STATE), &postgres_params(&params))?;
        Ok(())
    }

    pub fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
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
        const SHIPPED: &[&str] =
            &["3703c5b13dbe104e643d43075c07fd4721ca031bc19b1a5ccbcbb1200a4bdf1c"];
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
