//! `tributary migrate-store` through the real binary: a SQLite store that polled, notified and
//! was corrected by hand is copied into a throwaway PostgreSQL server (`common::postgres`), and
//! every table reads back the same; polling on PostgreSQL then announces nothing again, keeps the
//! corrections, and files a new item where SQLite files it. And what it must refuse, it refuses
//! with a message that names the input.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::common::binary::{assert_success, stderr, stdout};
use crate::common::postgres::Cluster;
use crate::common::server::{Reply, TestServer};
use crate::postgres_poll::{
    FIXTURES, Membership, hook, pg_membership, received, sqlite_item_id, sqlite_membership,
    workspace,
};

/// Tables of the SQLite store deliberately not copied. None: every table holds state a moved
/// store needs. A table added to the schema is copied, or named here with the reason.
const NOT_COPIED: &[&str] = &[];

/// Columns only PostgreSQL has (its instances' leases and claims), which the copy leaves NULL.
const POSTGRES_ONLY: &[(&str, &str)] = &[
    ("sources", "lease_owner"),
    ("sources", "lease_until"),
    ("outbox", "claimed_by"),
    ("outbox", "claim_until"),
];

/// An essay the newsletter publishes after the move, and the digest's copy of it.
const NEW_ESSAY: &str = "<item><title><![CDATA[Quantised weights in the wild]]></title>\
<description><![CDATA[What four bits cost a model once it leaves the lab.]]></description>\
<link>https://www.longtail.example/p/quantised-weights-in-the-wild</link>\
<guid isPermaLink=\"false\">https://www.longtail.example/p/quantised-weights-in-the-wild</guid>\
<dc:creator><![CDATA[Ada Writer]]></dc:creator><pubDate>Fri, 17 Apr 2026 09:00:00 GMT</pubDate>\
<content:encoded><![CDATA[<p>Quantisation papers report a fraction of a point lost on \
benchmarks, and then the weights meet the world: long contexts, odd languages, tool calls \
nobody measured. What four bits cost depends on what the model is asked to do, and most \
evaluations ask it the wrong things. This essay runs the same quantised weights through a \
month of real requests and counts where they fall over.</p>]]></content:encoded></item>";

const NEW_COPY: &str = "<item><title>Quantised Weights in the Wild | AI Digest</title>\
<link>https://digest.example/articles/quantised-weights-in-the-wild-5120</link>\
<guid>https://digest.example/articles/quantised-weights-in-the-wild-5120</guid>\
<pubDate>Fri, 17 Apr 2026 15:00:00 GMT</pubDate>\
<description>Quantisation papers report a fraction of a point lost on benchmarks, and then the \
weights meet the world: long contexts, odd languages, tool calls nobody measured. What four \
bits cost depends on what the model is asked to do...</description></item>";

/// The five fixture feeds; once `grown` is set, the newsletter and the digest carry the new
/// essay too.
fn server(grown: Arc<AtomicBool>) -> TestServer {
    TestServer::start(move |request| {
        let Some((_, path, _)) = FIXTURES.iter().find(|(_, p, _)| *p == request.path()) else {
            return Reply::not_found();
        };
        let file = format!(
            "{}/tests/fixtures/mirrors{path}",
            env!("CARGO_MANIFEST_DIR")
        );
        let body = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {file}: {e}"));
        let extra = match *path {
            _ if !grown.load(Ordering::SeqCst) => None,
            "/newsletter.xml" => Some(NEW_ESSAY),
            "/curation.xml" => Some(NEW_COPY),
            _ => None,
        };
        Reply::ok(match extra {
            Some(item) => body.replacen("<item>", &format!("{item}<item>"), 1),
            None => body,
        })
    })
}

/// One stored value, as either backend holds it.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    /// A real's exact bits, so that equal means equal.
    Real(u64),
    Text(String),
    Blob(Vec<u8>),
}

/// The SQLite store's tables (SQLite's own bookkeeping aside), each with its columns and its
/// primary key, as its schema says.
fn sqlite_schema(conn: &rusqlite::Connection) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let strings = |sql: &str, table: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).expect("prepare");
        stmt.query_map([table], |row| row.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    };
    strings(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' \
         ESCAPE '\\' AND name <> ?1",
        "",
    )
    .into_iter()
    .map(|table| {
        let columns = strings(
            "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
            &table,
        );
        let key = strings(
            "SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk",
            &table,
        );
        (table, (columns, key))
    })
    .collect()
}

fn select(table: &str, columns: &[String], key: &[String]) -> String {
    format!(
        "SELECT {} FROM {table} ORDER BY {}",
        columns.join(", "),
        key.join(", ")
    )
}

fn sqlite_rows(
    conn: &rusqlite::Connection,
    table: &str,
    columns: &[String],
    key: &[String],
) -> Vec<Vec<Cell>> {
    let mut stmt = conn.prepare(&select(table, columns, key)).expect("prepare");
    stmt.query_map([], |row| {
        (0..columns.len())
            .map(|i| {
                use rusqlite::types::ValueRef;
                Ok(match row.get_ref(i)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Int(v),
                    ValueRef::Real(v) => Cell::Real(v.to_bits()),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8(t.to_vec()).expect("utf-8")),
                    ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
                })
            })
            .collect()
    })
    .expect("query")
    .collect::<rusqlite::Result<_>>()
    .expect("rows")
}

fn pg_rows(
    client: &mut postgres::Client,
    table: &str,
    columns: &[String],
    key: &[String],
) -> Vec<Vec<Cell>> {
    use postgres::types::Type;
    client
        .query(&select(table, columns, key), &[])
        .expect("query")
        .iter()
        .map(|row| {
            row.columns()
                .iter()
                .enumerate()
                .map(|(i, column)| {
                    let ty = column.type_();
                    let cell = if *ty == Type::INT8 {
                        row.get::<_, Option<i64>>(i).map(Cell::Int)
                    } else if *ty == Type::FLOAT8 {
                        row.get::<_, Option<f64>>(i)
                            .map(|v| Cell::Real(v.to_bits()))
                    } else if *ty == Type::TEXT {
                        row.get::<_, Option<String>>(i).map(Cell::Text)
                    } else if *ty == Type::BYTEA {
                        row.get::<_, Option<Vec<u8>>>(i).map(Cell::Blob)
                    } else {
                        panic!("{table}.{}: unexpected type {ty}", column.name())
                    };
                    cell.unwrap_or(Cell::Null)
                })
                .collect()
        })
        .collect()
}

/// Every table of the SQLite store with its rows in key order, by SQLite's columns: read from
/// the SQLite store, or from PostgreSQL when `url` is given.
fn tables(sqlite: &std::path::Path, url: Option<&str>) -> BTreeMap<String, Vec<Vec<Cell>>> {
    let conn = rusqlite::Connection::open(sqlite).expect("open SQLite");
    let mut client =
        url.map(|url| postgres::Client::connect(url, postgres::NoTls).expect("connect"));
    sqlite_schema(&conn)
        .into_iter()
        .filter(|(table, _)| !NOT_COPIED.contains(&table.as_str()))
        .map(|(table, (columns, key))| {
            let rows = match &mut client {
                Some(client) => pg_rows(client, &table, &columns, &key),
                None => sqlite_rows(&conn, &table, &columns, &key),
            };
            (table, rows)
        })
        .collect()
}

/// The item of `membership` whose story has other members too.
fn item_of_a_story_of_several(membership: &Membership) -> (String, String) {
    let atom = |key: &(String, String)| membership[key][0].clone();
    membership
        .keys()
        .find(|key| membership.keys().filter(|k| atom(k) == atom(key)).count() > 1)
        .expect("a story of several items")
        .clone()
}

#[test]
fn migrate_store_moves_a_polled_and_corrected_store_and_nothing_is_announced_again() {
    let Some(cluster) = Cluster::start("migrate_store_moves_a_polled_and_corrected_store") else {
        return;
    };
    let url = cluster.database("moved");
    let grown = Arc::new(AtomicBool::new(false));
    let server = server(Arc::clone(&grown));
    let sqlite_receiver = TestServer::start(|_| Reply::ok("ok"));
    let pg_receiver = TestServer::start(|_| Reply::ok("ok"));
    let (on_sqlite, sqlite_config) = workspace(&server, None, &hook(&sqlite_receiver));
    let db = on_sqlite.path("tributary.db");
    let sqlite_run = |args: &[&str]| {
        let mut all = vec!["--config", sqlite_config.as_str()];
        all.extend_from_slice(args);
        let output = on_sqlite.run(&all);
        assert_success(&output);
        stdout(&output)
    };

    // A store with history: polled and announced, an item split out of its story, two other
    // stories merged by hand, and polled again so that nothing is left to send.
    sqlite_run(&["poll"]);
    let announced = received(&sqlite_receiver).0.len();
    assert!(announced > 1, "{announced}");
    let polled = sqlite_membership(&db);
    let item = item_of_a_story_of_several(&polled);
    sqlite_run(&["stories", "split", &sqlite_item_id(&db, &item)]);
    let split = sqlite_membership(&db);
    let others: BTreeSet<String> = split
        .iter()
        .filter(|(key, _)| **key != item && split[&item][0] != split[*key][0])
        .filter_map(|(_, row)| row[0].clone())
        .collect();
    let mut others = others.into_iter();
    let (story, other) = (
        others.next().expect("a story"),
        others.next().expect("another"),
    );
    sqlite_run(&["stories", "merge", &story, &other]);
    sqlite_run(&["poll"]);
    let sent_before = received(&sqlite_receiver).0.len();
    let corrected = sqlite_membership(&db);

    // The tables no poll of these feeds fills (transcripts are off, no WebSub hub, no passage
    // repeats, no mirror without dates), filled by hand so that every table has rows to copy.
    let conn = rusqlite::Connection::open(&db).expect("open SQLite");
    conn.execute_batch(
        "INSERT INTO transcripts (url, fetched_at, words, error) VALUES
             ('https://cdn.example/t1.vtt', '2026-04-16T08:00:00.000000Z', 'small models', NULL),
             ('https://cdn.example/t2.vtt', '2026-04-16T08:00:01.000000Z', NULL, 'HTTP 404');
         INSERT INTO item_transcripts (item_id, url)
             SELECT min(id), 'https://cdn.example/t1.vtt' FROM items;
         INSERT INTO websub_pings (hub, feed_url, etag, pinged_at) VALUES
             ('https://hub.example/', 'https://feeds.example/merged.atom', '\"v1\"',
              '2026-04-16T08:00:02.000000Z');
         INSERT OR IGNORE INTO boilerplate (source_id, shingle)
             SELECT min(id), 1234567 FROM sources;
         INSERT OR IGNORE INTO mirror_words (word, item_id) SELECT -42, max(id) FROM items;",
    )
    .expect("fill the remaining tables");
    let pending: i64 = conn
        .query_row(
            "SELECT count(*) FROM outbox WHERE state = 'pending'",
            [],
            |row| row.get(0),
        )
        .expect("count");
    assert_eq!(pending, 0, "everything was sent before the move");
    drop(conn);
    let before = tables(&db, None);
    for (table, rows) in &before {
        assert!(!rows.is_empty(), "table {table} has rows to copy");
    }

    let moved = on_sqlite.run(&[
        "migrate-store",
        "--from",
        db.to_str().expect("utf-8"),
        "--to",
        &url,
    ]);
    assert_success(&moved);
    let report = stdout(&moved);
    // Each table of the SQLite store is copied, or deliberately not: a table added later and
    // left out of the copy fails here.
    let conn = rusqlite::Connection::open(&db).expect("open SQLite");
    let names: BTreeSet<String> = sqlite_schema(&conn).into_keys().collect();
    drop(conn);
    let reported: BTreeMap<String, usize> = report
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (table, rows, unit) = (words.next()?, words.next()?, words.next()?);
            (unit == "rows").then(|| (table.to_owned(), rows.parse().expect("a count")))
        })
        .collect();
    for table in &names {
        assert!(
            reported.contains_key(table) != NOT_COPIED.contains(&table.as_str()),
            "table {table}: copied or named in NOT_COPIED, not both or neither\n{report}"
        );
    }
    assert!(report.contains("copied "), "{report}");
    assert_eq!(
        tables(&db, None),
        before,
        "the SQLite store is left as it was"
    );
    let copied = tables(&db, Some(&url));
    for (table, rows) in &before {
        assert_eq!(reported[table], rows.len(), "{table}: the rows reported");
        assert_eq!(
            copied[table], *rows,
            "{table}: every row and column as SQLite holds it"
        );
    }
    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    for (table, column) in POSTGRES_ONLY {
        let set: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE {column} IS NOT NULL"),
                &[],
            )
            .expect("count")
            .get(0);
        assert_eq!(set, 0, "{table}.{column} starts NULL");
    }

    // The stories read the same through the binary, numbers included.
    let (on_pg, pg_config) = workspace(&server, Some(&url), &hook(&pg_receiver));
    let pg_run = |args: &[&str]| {
        let mut all = vec!["--config", pg_config.as_str()];
        all.extend_from_slice(args);
        let output = on_pg.run(&all);
        assert_success(&output);
        stdout(&output)
    };
    assert_eq!(
        pg_run(&["stories", "--json"]),
        sqlite_run(&["stories", "--json"])
    );
    assert_eq!(
        pg_run(&["stories", "--explain", &story]),
        sqlite_run(&["stories", "--explain", &story])
    );

    // Polled on PostgreSQL, the same feeds announce nothing again and store nothing new; the
    // corrections hold.
    pg_run(&["poll"]);
    assert_eq!(received(&pg_receiver).0.len(), 0, "nothing announced again");
    assert_eq!(pg_membership(&url), corrected);
    let polled_on_pg = tables(&db, Some(&url));
    for table in ["stories", "items", "corrections", "outbox"] {
        assert_eq!(
            polled_on_pg[table], before[table],
            "{table} after a poll on PostgreSQL"
        );
    }

    // A new essay and its copy: filed alike on both, in one story, under new ids.
    let max_id = |table: &str| -> i64 {
        before[table]
            .iter()
            .filter_map(|row| match row[0] {
                Cell::Int(id) => Some(id),
                _ => None,
            })
            .max()
            .expect("an id")
    };
    let (last_item, last_story) = (max_id("items"), max_id("stories"));
    grown.store(true, Ordering::SeqCst);
    sqlite_run(&["poll"]);
    pg_run(&["poll"]);
    let grown_sqlite = sqlite_membership(&db);
    assert_eq!(pg_membership(&url), grown_sqlite);
    let essay = (
        "newsletter".to_owned(),
        "https://www.longtail.example/p/quantised-weights-in-the-wild".to_owned(),
    );
    let copy = (
        "curation".to_owned(),
        "https://digest.example/articles/quantised-weights-in-the-wild-5120".to_owned(),
    );
    assert_eq!(grown_sqlite.len(), corrected.len() + 2, "{grown_sqlite:#?}");
    assert_eq!(grown_sqlite[&essay][0], grown_sqlite[&copy][0], "one story");
    let new_ids: Vec<(i64, i64)> = client
        .query(
            "SELECT id, story_id FROM items WHERE guid = $1 OR guid = $2",
            &[&essay.1, &copy.1],
        )
        .expect("the new items")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(new_ids.len(), 2);
    for (item, story) in new_ids {
        assert!(item > last_item && story > last_story, "{item} {story}");
    }
    let (_, sqlite_titles) = received(&sqlite_receiver);
    let (pg_keys, pg_titles) = received(&pg_receiver);
    assert_eq!(sqlite_titles.len(), sent_before + 1, "{sqlite_titles:?}");
    assert_eq!(pg_keys.len(), 1, "the new story, once: {pg_titles:?}");
    assert!(sqlite_titles.contains(&pg_titles[0]), "{pg_titles:?}");
}

#[test]
fn migrate_store_refuses_what_it_cannot_copy_and_leaves_the_target_empty() {
    let Some(cluster) = Cluster::start("migrate_store_refuses_what_it_cannot_copy") else {
        return;
    };
    let grown = Arc::new(AtomicBool::new(false));
    let server = server(grown);
    let (ws, config) = workspace(&server, None, "");
    assert_success(&ws.run(&["--config", &config, "poll"]));
    let db = ws.path("tributary.db");
    let db = db.to_str().expect("utf-8");
    let migrate = |from: &str, to: &str| ws.run(&["migrate-store", "--from", from, "--to", to]);
    let refused = |output: &std::process::Output, says: &str| {
        assert!(!output.status.success(), "{}", stdout(output));
        let text = stderr(output);
        assert!(text.contains(says), "expected {says:?} in:\n{text}");
        assert!(!text.contains("s3cret"), "the password shown:\n{text}");
        text
    };
    let count = |url: &str, table: &str| -> i64 {
        let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
        client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .expect("count")
            .get(0)
    };

    // A --from that is not there, a --to that is not PostgreSQL.
    let url = cluster.database("first");
    let secret = url.replacen("tributary@", "tributary:s3cret@", 1);
    let missing = ws.path("nothing.db");
    refused(
        &migrate(missing.to_str().expect("utf-8"), &url),
        &format!("no SQLite store at {}", missing.display()),
    );
    assert!(!missing.exists(), "no store created where --from pointed");
    refused(
        &migrate(&secret, &url),
        &format!(
            "`{}` is a PostgreSQL URL; --from takes",
            cluster.url("first")
        ),
    );
    let foreign = ws.path("foreign.db");
    rusqlite::Connection::open(&foreign)
        .and_then(|c| c.execute_batch("CREATE TABLE notes (body TEXT)"))
        .expect("another program's database");
    refused(
        &migrate(foreign.to_str().expect("utf-8"), &url),
        &format!("{} is not a tributary store", foreign.display()),
    );
    let tables: i64 = rusqlite::Connection::open(&foreign)
        .and_then(|c| c.query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0)))
        .expect("its tables");
    assert_eq!(tables, 1, "nothing written into another program's database");
    refused(
        &migrate(db, "other.db"),
        "`other.db` is not a PostgreSQL URL",
    );
    refused(
        &migrate(db, "mysql://tributary:s3cret@127.0.0.1/feeds"),
        "`mysql://tributary:...@127.0.0.1/feeds` is not a PostgreSQL URL",
    );

    // Into an empty database it copies; into the same database again it refuses, by name.
    assert_success(&migrate(db, &secret));
    let sources = count(&url, "sources");
    assert_eq!(sources, i64::try_from(FIXTURES.len()).expect("five"));
    let shown = cluster.url("first");
    let text = refused(
        &migrate(db, &secret),
        &format!("{shown} already holds a store"),
    );
    assert!(text.contains("sources") && text.contains("items"), "{text}");
    assert_eq!(count(&url, "sources"), sources, "nothing copied twice");

    // A store is its file and its WAL: tributary leaves its last writes in the WAL when it
    // closes, for the next checkpoint.
    let copy_of = |name: &str| {
        let path = ws.path(name);
        std::fs::copy(db, &path).expect("copy the store");
        let wal = format!("{db}-wal");
        if std::path::Path::new(&wal).exists() {
            std::fs::copy(&wal, format!("{}-wal", path.display())).expect("copy its WAL");
        }
        path
    };
    // A store newer than this binary is refused, not copied.
    let newer = copy_of("newer.db");
    rusqlite::Connection::open(&newer)
        .and_then(|c| c.pragma_update(None, "user_version", 99))
        .expect("a newer schema");
    let empty = cluster.database("empty");
    refused(
        &migrate(newer.to_str().expect("utf-8"), &empty),
        "is at schema version 99, newer than this tributary knows",
    );

    // A store whose schema has a column or a table PostgreSQL's lacks: named, nothing copied.
    for (name, change, says) in [
        (
            "column.db",
            "ALTER TABLE items ADD COLUMN rating INTEGER",
            "column `items.rating` of the SQLite store has no counterpart",
        ),
        (
            "table.db",
            "CREATE TABLE highlights (id INTEGER PRIMARY KEY, item_id INTEGER)",
            "table `highlights` of the SQLite store",
        ),
    ] {
        let changed = copy_of(name);
        rusqlite::Connection::open(&changed)
            .and_then(|c| c.execute_batch(change))
            .expect("change the schema");
        refused(&migrate(changed.to_str().expect("utf-8"), &empty), says);
        assert_eq!(count(&empty, "sources"), 0);
    }

    // A value PostgreSQL cannot take, in a table copied after others: named by table, row and
    // column, and the whole copy rolled back.
    let odd = copy_of("odd.db");
    let last: i64 = rusqlite::Connection::open(&odd)
        .and_then(|c| {
            c.execute_batch(
                "UPDATE items SET match_score = 'high' WHERE id = (SELECT max(id) FROM items)",
            )?;
            c.query_row("SELECT max(id) FROM items", [], |row| row.get(0))
        })
        .expect("an odd value");
    refused(
        &migrate(odd.to_str().expect("utf-8"), &empty),
        &format!("table `items`, row id {last}: column `match_score` holds text"),
    );
    for table in ["sources", "stories", "items"] {
        assert_eq!(count(&empty, table), 0, "{table} rolled back");
    }

    // A target whose schema has a column or a table SQLite's lacks: named, nothing copied.
    let mut client = postgres::Client::connect(&empty, postgres::NoTls).expect("connect");
    for (change, says, undo) in [
        (
            "ALTER TABLE items ADD COLUMN rating BIGINT",
            "column `items.rating` of",
            "ALTER TABLE items DROP COLUMN rating",
        ),
        (
            "CREATE TABLE highlights (id BIGINT PRIMARY KEY)",
            "table `highlights` of",
            "DROP TABLE highlights",
        ),
    ] {
        client.batch_execute(change).expect("change the target");
        refused(&migrate(db, &empty), says);
        assert_eq!(count(&empty, "sources"), 0);
        client.batch_execute(undo).expect("undo the change");
    }
    assert_success(&migrate(db, &empty));

    // An older store is brought up to date first, then copied.
    let old = ws.path("old.db");
    let conn = rusqlite::Connection::open(&old).expect("create an old store");
    for migration in &tributary::store::MIGRATIONS[..6] {
        conn.execute_batch(migration).expect("an old migration");
    }
    conn.execute_batch(
        "PRAGMA user_version = 6;
         INSERT INTO sources (name, url, role) VALUES ('old', 'https://old.example/feed', 'origin');",
    )
    .expect("an old row");
    drop(conn);
    let upgraded = cluster.database("upgraded");
    assert_success(&migrate(old.to_str().expect("utf-8"), &upgraded));
    assert_eq!(count(&upgraded, "sources"), 1);
    let version: i64 = rusqlite::Connection::open(&old)
        .and_then(|c| c.query_row("PRAGMA user_version", [], |row| row.get(0)))
        .expect("version");
    assert_eq!(
        usize::try_from(version).ok(),
        Some(tributary::store::MIGRATIONS.len())
    );
}
