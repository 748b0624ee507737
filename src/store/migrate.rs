//! `tributary migrate-store` (docs/postgres.md, "Moving from SQLite"): copies a SQLite store
//! into an empty PostgreSQL database, every row as it is, so that a user moves without losing
//! history and without anything being announced again.
//!
//! Design decision: what is copied is read from the two schemas themselves (SQLite's
//! `sqlite_master` and `pragma_table_info`, PostgreSQL's `information_schema`), not from a list
//! kept here. Every SQLite table is copied, every column by name; a table or a column that one
//! side has and the other lacks stops the copy before it starts, unless it is one PostgreSQL
//! keeps for its several instances ([`POSTGRES_ONLY_COLUMNS`]). So a migration appended to
//! one list and not the other cannot be copied past in silence.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use rusqlite::types::ValueRef;
use thiserror::Error;

use super::postgres::{PgError, PgStore, PgTarget, is_postgres_url};
use super::sql::{Value, postgres_params};
use super::{Store, StoreError};

/// Columns only the PostgreSQL schema has: the lease of the instance polling a feed and the
/// claim of the instance delivering a message (docs/postgres.md, "Several instances on one
/// database"). SQLite has one instance and no such state, so they start NULL: nothing is
/// leased or claimed when the first instance starts on the copy.
pub const POSTGRES_ONLY_COLUMNS: &[(&str, &str)] = &[
    ("sources", "lease_owner"),
    ("sources", "lease_until"),
    ("outbox", "claimed_by"),
    ("outbox", "claim_until"),
];

/// Tables only the PostgreSQL schema has: its schema version, which SQLite keeps in
/// `PRAGMA user_version` (and which the target's own migrations have already set).
pub const POSTGRES_ONLY_TABLES: &[&str] = &["tributary_schema"];

/// Rows per `COPY` statement. PostgreSQL queues a foreign-key check per row until its statement
/// ends, so one statement for a table of millions of key rows would hold them all in the
/// server's memory; a table whose rows refer to each other (a story merged into a later one)
/// is still one statement, since a check must see the row it refers to.
const ROWS_PER_COPY: u64 = 100_000;

#[derive(Debug, Error)]
pub enum MigrateError {
    #[error("no SQLite store at {0} (--from)")]
    MissingSource(PathBuf),
    #[error("cannot look for the SQLite store {path}")]
    LookForSource {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a tributary store (its schema version is 0); nothing was copied")]
    NotAStore(PathBuf),
    #[error("`{0}` is not a PostgreSQL URL (--to takes postgres://... or postgresql://...)")]
    NotPostgres(String),
    #[error("`{0}` is a PostgreSQL URL; --from takes the SQLite store's file")]
    FromPostgres(String),
    /// Opening the SQLite store as `tributary` does: upgrading an older schema, refusing a
    /// newer one (`StoreError::TooNew`). Its messages name the file.
    #[error(transparent)]
    Source(#[from] StoreError),
    /// Connecting to the target and bringing its schema up to date (`PgError::TooNew` for a
    /// database of a newer tributary). Its messages name the server.
    #[error(transparent)]
    Target(#[from] PgError),
    #[error("cannot read {what} of the SQLite store {path}")]
    Read {
        path: PathBuf,
        what: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot {what} in {target}")]
    Write {
        target: String,
        what: String,
        #[source]
        source: postgres::Error,
    },
    #[error(
        "{target} already holds a store (rows in {tables}); migrate-store copies into an empty \
         database only, so that no id is taken twice: create a new database, or drop these \
         tables' rows"
    )]
    NotEmpty { target: String, tables: String },
    #[error(
        "table `{table}` of the SQLite store {path} has no counterpart in {target}; nothing was \
         copied (a migration is missing from src/store/postgres/migrations.rs)"
    )]
    MissingTable {
        path: PathBuf,
        target: String,
        table: String,
    },
    #[error(
        "table `{table}` of {target} has no counterpart in the SQLite store {path}; nothing \
         was copied (a migration is missing from src/store/migrations.rs)"
    )]
    ExtraTable {
        path: PathBuf,
        target: String,
        table: String,
    },
    #[error(
        "column `{table}.{column}` of the SQLite store has no counterpart in {target}; nothing \
         was copied"
    )]
    MissingColumn {
        target: String,
        table: String,
        column: String,
    },
    #[error(
        "column `{table}.{column}` of {target} has no counterpart in the SQLite store and is \
         not one PostgreSQL keeps for itself; nothing was copied"
    )]
    ExtraColumn {
        target: String,
        table: String,
        column: String,
    },
    #[error(
        "table `{table}`, row {row}: column `{column}` holds {found}, which PostgreSQL's \
         `{expected}` column cannot take; nothing was copied"
    )]
    Value {
        table: String,
        row: String,
        column: String,
        found: &'static str,
        expected: Type,
    },
}

type Result<T, E = MigrateError> = std::result::Result<T, E>;

/// One table copied, and how many rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedTable {
    pub name: String,
    pub rows: u64,
}

/// Copies the SQLite store at `from` into the PostgreSQL database at `to`, and returns the
/// tables copied, in the order they were.
///
/// The store at `from` is opened as `tributary` opens it first, so an older one is upgraded
/// to the current schema and a newer one refused; `to` is brought to the latest PostgreSQL
/// schema and must hold no rows. Everything is copied in one transaction on the target, with
/// the tables locked against writers: a failure leaves it as empty as it was. Each identity
/// then continues after the largest id copied, so new rows never take an old row's id.
///
/// Blocking (the `postgres` client drives its own runtime): call it off any tokio runtime, as
/// the command does.
pub fn migrate_store(from: &Path, to: &str) -> Result<Vec<CopiedTable>> {
    if !is_postgres_url(to) {
        return Err(MigrateError::NotPostgres(without_password(to)));
    }
    let target = PgTarget::parse(to)?;
    if from.to_str().is_some_and(is_postgres_url) {
        // Shown as the target is, without its password.
        return Err(MigrateError::FromPostgres(
            PgTarget::parse(&from.to_string_lossy())?.to_string(),
        ));
    }
    match from.try_exists() {
        Ok(true) => {}
        Ok(false) => return Err(MigrateError::MissingSource(from.to_owned())),
        Err(source) => {
            return Err(MigrateError::LookForSource {
                path: from.to_owned(),
                source,
            });
        }
    }
    let read = |what: &str| {
        let path = from.to_owned();
        let what = what.to_owned();
        move |source| MigrateError::Read { path, what, source }
    };
    let open = || {
        rusqlite::Connection::open_with_flags(
            from,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
    };
    // Every store tributary has opened is at version 1 or later. Anything else (another
    // program's database, an empty file) is refused before the store's migrations would write
    // tributary's tables into it.
    let version: i64 = open()
        .and_then(|conn| conn.query_row("PRAGMA user_version", [], |row| row.get(0)))
        .map_err(read("the schema version"))?;
    if version == 0 {
        return Err(MigrateError::NotAStore(from.to_owned()));
    }
    // Opened and closed again: their migrations, nothing else (the copy reads and writes
    // through connections of its own).
    drop(Store::open(from)?);
    drop(PgStore::open(&target)?);

    let mut sqlite = open().map_err(read("the file"))?;
    // One snapshot for the whole copy, should anything still write to the file.
    let snapshot = sqlite.transaction().map_err(read("a snapshot"))?;

    let shown = target.to_string();
    let write = |what: &str| {
        let target = shown.clone();
        let what = what.to_owned();
        move |source| MigrateError::Write {
            target,
            what,
            source,
        }
    };
    let mut client = target.connect()?;
    let mut tx = client.transaction().map_err(write("begin a transaction"))?;
    let tables = plan(&snapshot, &mut tx, from, &shown)?;

    // Locked before the emptiness check, so that an instance started on the target meanwhile
    // cannot write a row the copy would then collide with; readers are not held up.
    let names: Vec<String> = tables.iter().map(|t| quoted(&t.name)).collect();
    tx.batch_execute(&format!(
        "LOCK TABLE {} IN EXCLUSIVE MODE",
        names.join(", ")
    ))
    .map_err(write("lock the tables"))?;
    let mut occupied = Vec::new();
    for table in &tables {
        let any: bool = tx
            .query_one(
                &format!("SELECT EXISTS (SELECT 1 FROM {})", quoted(&table.name)),
                &[],
            )
            .and_then(|row| row.try_get(0))
            .map_err(write(&format!("read table `{}`", table.name)))?;
        if any {
            occupied.push(table.name.as_str());
        }
    }
    if !occupied.is_empty() {
        return Err(MigrateError::NotEmpty {
            target: shown,
            tables: occupied.join(", "),
        });
    }

    tracing::info!(
        from = %from.display(),
        to = %shown,
        tables = tables.len(),
        "copying the SQLite store"
    );
    let mut copied = Vec::with_capacity(tables.len());
    for table in &tables {
        let started = Instant::now();
        let rows = copy_table(&snapshot, &mut tx, table, from, &shown)?;
        tracing::info!(
            table = %table.name,
            rows,
            seconds = started.elapsed().as_secs_f64(),
            "copied table"
        );
        copied.push(CopiedTable {
            name: table.name.clone(),
            rows,
        });
    }
    for table in &tables {
        let Some(identity) = &table.identity else {
            continue;
        };
        // `max` of no rows is NULL, and `setval` of NULL leaves the sequence at its start.
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence($1, $2), max({})) FROM {}",
                quoted(identity),
                quoted(&table.name)
            ),
            &[&quoted(&table.name), identity],
        )
        .map_err(write(&format!(
            "continue the ids of table `{}`",
            table.name
        )))?;
    }
    tx.commit().map_err(write("commit the copy"))?;
    Ok(copied)
}

/// A table to copy, as the two schemas describe it.
struct Table {
    name: String,
    /// SQLite's columns, in its order, each with the type PostgreSQL gives it.
    columns: Vec<(String, Type)>,
    /// The primary key's columns: rows are copied in its order (ids ascending).
    key: Vec<String>,
    /// Whether a row may refer to another row of the same table (`stories.merged_into`).
    refers_to_itself: bool,
    /// PostgreSQL's identity column, if the table has one.
    identity: Option<String>,
}

/// The tables to copy, each after the tables its rows refer to, or the first difference
/// between the two schemas.
fn plan(
    sqlite: &rusqlite::Connection,
    pg: &mut postgres::Transaction<'_>,
    path: &Path,
    target: &str,
) -> Result<Vec<Table>> {
    let read = |what: String| {
        let path = path.to_owned();
        move |source| MigrateError::Read { path, what, source }
    };
    let write = |what: String| {
        let target = target.to_owned();
        move |source| MigrateError::Write {
            target,
            what,
            source,
        }
    };
    let strings = |sql: &str, table: Option<&str>| -> rusqlite::Result<Vec<String>> {
        let mut stmt = sqlite.prepare(sql)?;
        let name = |row: &rusqlite::Row<'_>| row.get::<_, String>(0);
        match table {
            Some(table) => stmt.query_map([table], name)?.collect(),
            None => stmt.query_map([], name)?.collect(),
        }
    };

    // SQLite's own tables (`sqlite_sequence`, `sqlite_stat1`) are its bookkeeping, not state.
    let sqlite_tables = strings(
        r"SELECT name FROM sqlite_master WHERE type = 'table'
          AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name",
        None,
    )
    .map_err(read("the list of tables".to_owned()))?;
    let pg_tables: BTreeSet<String> = pg
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            &[],
        )
        .map_err(write("read the list of tables".to_owned()))?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(write("read the list of tables".to_owned()))?;
    for table in &pg_tables {
        if !sqlite_tables.contains(table) && !POSTGRES_ONLY_TABLES.contains(&table.as_str()) {
            return Err(MigrateError::ExtraTable {
                path: path.to_owned(),
                target: target.to_owned(),
                table: table.clone(),
            });
        }
    }

    let mut tables = Vec::with_capacity(sqlite_tables.len());
    let mut references = Vec::with_capacity(sqlite_tables.len());
    for name in &sqlite_tables {
        if !pg_tables.contains(name) {
            return Err(MigrateError::MissingTable {
                path: path.to_owned(),
                target: target.to_owned(),
                table: name.clone(),
            });
        }
        let columns = strings(
            "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
            Some(name),
        )
        .map_err(read(format!("the columns of table `{name}`")))?;
        let key = strings(
            "SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk",
            Some(name),
        )
        .map_err(read(format!("the primary key of table `{name}`")))?;
        let parents = strings(
            "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)",
            Some(name),
        )
        .map_err(read(format!("the foreign keys of table `{name}`")))?;

        let pg_columns: Vec<(String, bool)> = pg
            .query(
                "SELECT column_name::text, is_identity = 'YES' FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1
                 ORDER BY ordinal_position",
                &[name],
            )
            .map_err(write(format!("read the columns of table `{name}`")))?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, postgres::Error>>()
            .map_err(write(format!("read the columns of table `{name}`")))?;
        if let Some(column) = columns
            .iter()
            .find(|column| !pg_columns.iter().any(|(pg, _)| pg == *column))
        {
            return Err(MigrateError::MissingColumn {
                target: target.to_owned(),
                table: name.clone(),
                column: column.clone(),
            });
        }
        if let Some((column, _)) = pg_columns.iter().find(|(pg, _)| {
            !columns.contains(pg) && !POSTGRES_ONLY_COLUMNS.contains(&(name.as_str(), pg.as_str()))
        }) {
            return Err(MigrateError::ExtraColumn {
                target: target.to_owned(),
                table: name.clone(),
                column: column.clone(),
            });
        }
        // The types the server gives each column, as the copy must encode them.
        let select = format!(
            "SELECT {} FROM {}",
            columns
                .iter()
                .map(|c| quoted(c))
                .collect::<Vec<_>>()
                .join(", "),
            quoted(name)
        );
        let types = pg
            .prepare(&select)
            .map_err(write(format!("read the column types of table `{name}`")))?
            .columns()
            .iter()
            .map(|column| column.type_().clone())
            .collect::<Vec<_>>();
        let refers_to_itself = parents.contains(name);
        references.push(parents);
        tables.push(Table {
            name: name.clone(),
            columns: columns.into_iter().zip(types).collect(),
            key,
            refers_to_itself,
            identity: pg_columns
                .into_iter()
                .find_map(|(column, identity)| identity.then_some(column)),
        });
    }
    Ok(parents_first(tables, &references))
}

/// The tables in an order where each comes after those its rows refer to (its own rows
/// aside), otherwise by name. A cycle (none in the schema) would leave its tables at the end
/// by name, and the copy then fails on the first row whose reference is not there yet.
fn parents_first(tables: Vec<Table>, references: &[Vec<String>]) -> Vec<Table> {
    let mut pending: Vec<(Table, &Vec<String>)> = tables.into_iter().zip(references).collect();
    let mut ordered: Vec<Table> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending.iter().position(|(table, parents)| {
            parents
                .iter()
                .all(|p| *p == table.name || ordered.iter().any(|done| done.name == *p))
        });
        let (table, _) = pending.remove(ready.unwrap_or(0));
        ordered.push(table);
    }
    ordered
}

/// Copies one table's rows in key order with `COPY ... FROM STDIN (FORMAT binary)`, a
/// statement per [`ROWS_PER_COPY`] rows (one for a table that refers to itself), and returns
/// how many.
fn copy_table(
    sqlite: &rusqlite::Connection,
    pg: &mut postgres::Transaction<'_>,
    table: &Table,
    path: &Path,
    target: &str,
) -> Result<u64> {
    let read = |source| MigrateError::Read {
        path: path.to_owned(),
        what: format!("table `{}`", table.name),
        source,
    };
    let write = |source| MigrateError::Write {
        target: target.to_owned(),
        what: format!("copy table `{}`", table.name),
        source,
    };
    let columns = table
        .columns
        .iter()
        .map(|(name, _)| quoted(name))
        .collect::<Vec<_>>()
        .join(", ");
    let order = if table.key.is_empty() {
        String::new()
    } else {
        let key: Vec<String> = table.key.iter().map(|c| quoted(c)).collect();
        format!(" ORDER BY {}", key.join(", "))
    };
    let mut stmt = sqlite
        .prepare(&format!(
            "SELECT {columns} FROM {}{order}",
            quoted(&table.name)
        ))
        .map_err(read)?;
    let mut rows = stmt.query([]).map_err(read)?;
    let copy = format!(
        "COPY {} ({columns}) FROM STDIN (FORMAT binary)",
        quoted(&table.name)
    );
    let types: Vec<Type> = table.columns.iter().map(|(_, ty)| ty.clone()).collect();
    let batch = if table.refers_to_itself {
        u64::MAX
    } else {
        ROWS_PER_COPY
    };

    let mut copied = 0u64;
    loop {
        let mut sink = BinaryCopyInWriter::new(pg.copy_in(&copy).map_err(write)?, &types);
        let mut in_batch = 0u64;
        let mut more = false;
        while let Some(row) = rows.next().map_err(read)? {
            let mut values = Vec::with_capacity(table.columns.len());
            for (index, (column, ty)) in table.columns.iter().enumerate() {
                let raw = row.get_ref(index).map_err(read)?;
                values.push(convert(raw, ty).map_err(|found| MigrateError::Value {
                    table: table.name.clone(),
                    row: row_key(row, table),
                    column: column.clone(),
                    found,
                    expected: ty.clone(),
                })?);
            }
            sink.write(&postgres_params(&values)).map_err(write)?;
            copied += 1;
            in_batch += 1;
            if in_batch == batch {
                more = true;
                break;
            }
        }
        sink.finish().map_err(write)?;
        if !more {
            return Ok(copied);
        }
        tracing::info!(table = %table.name, rows = copied, "copying");
    }
}

/// A SQLite value as the PostgreSQL column of type `ty` takes it, or what it holds instead.
/// Integers go to `BIGINT` (and to `DOUBLE PRECISION`, as SQLite may hand back a whole real),
/// reals to `DOUBLE PRECISION`, text to `TEXT` (which cannot hold a NUL character), blobs to
/// `BYTEA`: the mapping of the schemas' "Dialect differences" (docs/postgres.md).
fn convert<'r>(raw: ValueRef<'r>, ty: &Type) -> Result<Value<'r>, &'static str> {
    match raw {
        ValueRef::Null => Ok(Value::Null),
        ValueRef::Integer(v) if *ty == Type::INT8 => Ok(Value::Int(v)),
        ValueRef::Integer(v) if *ty == Type::FLOAT8 => {
            #[expect(
                clippy::cast_precision_loss,
                reason = "SQLite's REAL column held this as a real; it fits one"
            )]
            let real = v as f64;
            Ok(Value::Real(real))
        }
        ValueRef::Integer(_) => Err("an integer"),
        ValueRef::Real(v) if *ty == Type::FLOAT8 => Ok(Value::Real(v)),
        ValueRef::Real(_) => Err("a real number"),
        ValueRef::Text(bytes) if *ty == Type::TEXT => match std::str::from_utf8(bytes) {
            Ok(text) if text.contains('\0') => Err("text with a NUL character"),
            Ok(text) => Ok(Value::Text(Cow::Borrowed(text))),
            Err(_) => Err("text that is not UTF-8"),
        },
        ValueRef::Text(_) => Err("text"),
        ValueRef::Blob(bytes) if *ty == Type::BYTEA => Ok(Value::Blob(Cow::Borrowed(bytes))),
        ValueRef::Blob(_) => Err("a blob"),
    }
}

/// The row's primary key, `id 42` or `anchor 7, item_id 3`, for an error about it.
fn row_key(row: &rusqlite::Row<'_>, table: &Table) -> String {
    let mut shown = String::new();
    for name in &table.key {
        let Some(index) = table.columns.iter().position(|(c, _)| c == name) else {
            continue;
        };
        if !shown.is_empty() {
            shown.push_str(", ");
        }
        let value = match row.get_ref(index) {
            Ok(ValueRef::Integer(v)) => v.to_string(),
            Ok(ValueRef::Text(text)) => format!("`{}`", String::from_utf8_lossy(text)),
            Ok(_) | Err(_) => "?".to_owned(),
        };
        let _ = write!(shown, "{name} {value}");
    }
    shown
}

/// An identifier quoted for PostgreSQL and SQLite alike.
fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// A `--to` that is not a PostgreSQL URL, shown without a password it may carry
/// (`mysql://user:secret@host/db`).
fn without_password(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only fails for URLs that cannot have a password, which this one has.
            let _ = parsed.set_password(Some("..."));
            parsed.to_string()
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn a_wrong_url_is_shown_without_its_password() {
        assert_eq!(
            without_password("mysql://me:secret@db.example/feeds"),
            "mysql://me:...@db.example/feeds"
        );
        assert_eq!(without_password("tributary.db"), "tributary.db");
    }
}
