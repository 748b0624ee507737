//! `tributary poll` on PostgreSQL through the real binary: the same feeds polled into SQLite
//! and into a throwaway PostgreSQL server (`common::postgres`) make the same stories, corrections
//! regroup them alike, a webhook sink hears of each story once on both, and what is not ported
//! yet says so instead of failing halfway.

use std::collections::BTreeMap;

use crate::common::binary::{Workspace, assert_success, stdout};
use crate::common::daemon::{Daemon, free_port};
use crate::common::postgres::Cluster;
use crate::common::server::{Reply, TestServer};

/// Feeds in the shapes real publishers use: two origins and three mirrors of their works.
pub(crate) const FIXTURES: &[(&str, &str, &str)] = &[
    ("newsletter", "/newsletter.xml", "origin"),
    ("podcast", "/podcast.xml", "origin"),
    ("aggregator", "/aggregator.atom", "mirror"),
    ("curation", "/curation.xml", "mirror"),
    ("rewrite", "/rewrite.xml", "mirror"),
];

fn server() -> TestServer {
    TestServer::start(|request| {
        let Some((_, path, _)) = FIXTURES.iter().find(|(_, p, _)| *p == request.path()) else {
            return Reply::not_found();
        };
        let file = format!(
            "{}/tests/fixtures/mirrors{path}",
            env!("CARGO_MANIFEST_DIR")
        );
        Reply::ok(std::fs::read(&file).unwrap_or_else(|e| panic!("read {file}: {e}")))
    })
}

/// A workspace whose config points `[storage] database` at `database` (the SQLite file in the
/// workspace when `None`), with `extra` tables (`[[notify]]` sinks).
pub(crate) fn workspace(
    server: &TestServer,
    database: Option<&str>,
    extra: &str,
) -> (Workspace, String) {
    let ws = database.map_or_else(Workspace::new, |url| Workspace::storing_in(url.to_owned()));
    let feeds: Vec<(&str, String, &str)> = FIXTURES
        .iter()
        .map(|(name, path, role)| (*name, server.url(path).to_string(), *role))
        .collect();
    let config = ws.write_config("t.toml", &feeds, extra);
    let config = config.to_str().expect("utf-8 path").to_owned();
    (ws, config)
}

/// Each stored item, by feed and guid: its story's Atom id, why it is there and as what, its
/// score. Row ids are left out: they follow the order polls finish in.
pub(crate) type Membership = BTreeMap<(String, String), Vec<Option<String>>>;

const MEMBERSHIP: &str = "SELECT sources.name, items.guid, stories.atom_id, items.match_reason,
        items.member_role, items.match_score, stories.merged_into IS NULL, items.content_hash
 FROM items JOIN sources ON sources.id = items.source_id
 JOIN stories ON stories.id = items.story_id";

pub(crate) fn sqlite_membership(path: &std::path::Path) -> Membership {
    let conn = rusqlite::Connection::open(path).expect("open SQLite");
    let mut stmt = conn.prepare(MEMBERSHIP).expect("prepare");
    stmt.query_map([], |row| {
        Ok((
            (row.get(0)?, row.get(1)?),
            vec![
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                Some(row.get::<_, f64>(5)?.to_string()),
                Some(row.get::<_, bool>(6)?.to_string()),
                row.get(7)?,
            ],
        ))
    })
    .expect("query")
    .collect::<rusqlite::Result<_>>()
    .expect("rows")
}

pub(crate) fn pg_membership(url: &str) -> Membership {
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    client
        .query(MEMBERSHIP, &[])
        .expect("query")
        .iter()
        .map(|row| {
            (
                (row.get(0), row.get(1)),
                vec![
                    row.get(2),
                    row.get(3),
                    row.get(4),
                    Some(row.get::<_, f64>(5).to_string()),
                    Some(row.get::<_, bool>(6).to_string()),
                    row.get(7),
                ],
            )
        })
        .collect()
}

/// The merged feed's entries: id, title and every link, in the feed's order.
fn entries(ws: &Workspace) -> Vec<(String, Option<String>, Vec<String>)> {
    ws.merged_feed()
        .entries
        .iter()
        .map(|entry| {
            (
                entry.id.clone(),
                entry.title.as_ref().map(|t| t.content.clone()),
                entry.links.iter().map(|l| l.href.clone()).collect(),
            )
        })
        .collect()
}

#[test]
fn poll_on_postgres_makes_the_stories_sqlite_makes() {
    let Some(cluster) = Cluster::start("poll_on_postgres_makes_the_stories_sqlite_makes") else {
        return;
    };
    let url = cluster.database("poll");
    let server = server();

    let (on_sqlite, sqlite_config) = workspace(&server, None, "");
    let polled = on_sqlite.run(&["--config", &sqlite_config, "poll"]);
    assert_success(&polled);
    let (on_pg, pg_config) = workspace(&server, Some(&url), "");
    let pg_polled = on_pg.run(&["--config", &pg_config, "poll"]);
    assert_success(&pg_polled);
    assert!(
        stdout(&pg_polled).contains("5 feeds: 5 fetched"),
        "{}",
        stdout(&pg_polled)
    );
    // What the serialised step cost, on PostgreSQL only (SQLite has one writer).
    let lock_line = stdout(&pg_polled)
        .lines()
        .find_map(|line| line.strip_prefix("ingest lock: held ").map(str::to_owned))
        .unwrap_or_else(|| panic!("no ingest lock line: {}", stdout(&pg_polled)));
    let writes: u64 = lock_line
        .strip_suffix(" writes")
        .and_then(|rest| rest.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unreadable: {lock_line}"));
    assert!(writes >= 1, "{lock_line}");
    assert!(
        !stdout(&polled).contains("ingest lock"),
        "{}",
        stdout(&polled)
    );

    let expected = sqlite_membership(&on_sqlite.path("tributary.db"));
    assert!(expected.len() > 5, "{expected:#?}");
    assert_eq!(pg_membership(&url), expected);
    let merged = entries(&on_sqlite);
    // The essay folds four feeds' items into one story, so there are fewer entries than items.
    assert!(merged.len() < expected.len(), "{merged:#?}");
    assert_eq!(entries(&on_pg), merged);
    assert!(
        !on_pg.path("tributary.db").exists(),
        "no SQLite file beside a PostgreSQL store"
    );

    // The story list and a story's explanation read the same stories (row numbers follow the
    // order polls finished in, so the lines are counted, not compared); `status` reads the
    // feeds and the outbox.
    let lines = |ws: &Workspace, config: &str, args: &[&str]| {
        let mut all = vec!["--config", config];
        all.extend_from_slice(args);
        let output = ws.run(&all);
        assert_success(&output);
        stdout(&output).lines().count()
    };
    for args in [
        &["stories", "--json"][..],
        &["stories", "--explain", &merged[0].0],
        &["status"],
    ] {
        assert_eq!(
            lines(&on_pg, &pg_config, args),
            lines(&on_sqlite, &sqlite_config, args),
            "{args:?}"
        );
    }

    // Corrections: an item of a story of several is split out, then its story merged back by
    // Atom ids, on both; the same item (by feed and guid; its number differs) moves alike.
    let atom_of = |key: &(String, String), membership: &Membership| {
        membership[key][0].clone().expect("a story's Atom id")
    };
    let (item, _) = expected
        .iter()
        .find(|(key, _)| {
            let atom = atom_of(key, &expected);
            expected
                .keys()
                .filter(|k| atom_of(k, &expected) == atom)
                .count()
                > 1
        })
        .expect("a story of several items");
    let story = atom_of(item, &expected);
    let sqlite_item = sqlite_item_id(&on_sqlite.path("tributary.db"), item);
    let pg_item = pg_item_id(&url, item);
    assert_success(&on_sqlite.run(&["--config", &sqlite_config, "stories", "split", &sqlite_item]));
    assert_success(&on_pg.run(&["--config", &pg_config, "stories", "split", &pg_item]));
    let split = sqlite_membership(&on_sqlite.path("tributary.db"));
    assert_ne!(
        atom_of(item, &split),
        story,
        "the item has a story of its own"
    );
    assert_eq!(pg_membership(&url), split);
    assert_eq!(entries(&on_pg), entries(&on_sqlite));
    let alone = atom_of(item, &split);
    for (ws, config) in [(&on_sqlite, &sqlite_config), (&on_pg, &pg_config)] {
        assert_success(&ws.run(&["--config", config, "stories", "merge", &story, &alone]));
    }
    let rejoined = sqlite_membership(&on_sqlite.path("tributary.db"));
    assert_eq!(
        atom_of(item, &rejoined),
        story,
        "the item is back in its story"
    );
    assert_eq!(pg_membership(&url), rejoined);
    assert_eq!(entries(&on_pg), entries(&on_sqlite));
    assert_eq!(
        lines(&on_pg, &pg_config, &["stories", "--explain", &story]),
        lines(
            &on_sqlite,
            &sqlite_config,
            &["stories", "--explain", &story]
        ),
    );

    // Polled again, the same feeds store nothing new on either, and the corrections hold.
    assert_success(&on_sqlite.run(&["--config", &sqlite_config, "poll"]));
    assert_success(&on_pg.run(&["--config", &pg_config, "poll"]));
    assert_eq!(
        pg_membership(&url),
        sqlite_membership(&on_sqlite.path("tributary.db"))
    );
    assert_eq!(sqlite_membership(&on_sqlite.path("tributary.db")), rejoined);
    assert_eq!(entries(&on_pg), entries(&on_sqlite));
}

/// The number of the item `(feed, guid)` in a SQLite store, as `stories split` takes it.
pub(crate) fn sqlite_item_id(path: &std::path::Path, (feed, guid): &(String, String)) -> String {
    let conn = rusqlite::Connection::open(path).expect("open SQLite");
    conn.query_row(ITEM_ID, [feed, guid], |row| row.get::<_, i64>(0))
        .expect("the item")
        .to_string()
}

/// The same on PostgreSQL.
fn pg_item_id(url: &str, (feed, guid): &(String, String)) -> String {
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    let sql = ITEM_ID.replace("?1", "$1").replace("?2", "$2");
    client
        .query_one(&sql, &[feed, guid])
        .expect("the item")
        .get::<_, i64>(0)
        .to_string()
}

const ITEM_ID: &str = "SELECT items.id FROM items JOIN sources ON sources.id = items.source_id
 WHERE sources.name = ?1 AND items.guid = ?2";

#[test]
fn check_config_shows_the_server_without_its_password() {
    let Some(cluster) = Cluster::start("check_config_shows_the_server_without_its_password") else {
        return;
    };
    cluster.database("shown");
    let shown = cluster.url("shown");
    let with_password = shown.replacen("tributary@", "tributary:s3cret@", 1);
    let server = server();
    let (ws, config) = workspace(&server, Some(&with_password), "");

    let checked = ws.run(&["--config", &config, "check-config"]);
    assert_success(&checked);
    let text = stdout(&checked);
    assert!(text.contains(&format!("database: {shown}")), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

/// A feed (Atom or JSON Feed) as its entries: id, title, links and dates, in its order.
type Entries = Vec<(String, Option<String>, Vec<String>, Option<String>)>;

fn parsed(body: &str) -> Entries {
    feed_rs::parser::parse(body.as_bytes())
        .expect("a feed")
        .entries
        .iter()
        .map(|entry| {
            (
                entry.id.clone(),
                entry.title.as_ref().map(|t| t.content.clone()),
                entry.links.iter().map(|l| l.href.clone()).collect(),
                entry.updated.map(|at| at.to_rfc3339()),
            )
        })
        .collect()
}

/// A page of the site with its numbers left out: story and item numbers follow the order the
/// feeds' polls finished in, and "polled 3 s ago" the moment it was asked.
fn without_numbers(page: &str) -> String {
    page.chars().filter(|c| !c.is_ascii_digit()).collect()
}

#[test]
fn run_on_postgres_serves_what_sqlite_serves() {
    let Some(cluster) = Cluster::start("run_on_postgres_serves_what_sqlite_serves") else {
        return;
    };
    let url = cluster.database("run");
    let server = server();
    let served = |database: Option<&str>, receiver: &TestServer| {
        let port = free_port();
        let extra = format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n{}",
            hook(receiver)
        );
        let (ws, config) = workspace(&server, database, &extra);
        let daemon = Daemon::start(&ws, std::path::Path::new(&config), port);
        let mut bodies = Vec::new();
        for path in ["/feed.atom", "/feed.json", "/", "/feeds"] {
            let (status, _, body) = daemon.get(path);
            assert_eq!(status, 200, "{path}: {body}");
            bodies.push(body);
        }
        // The notify worker tells the sink of each story of the first cycle.
        let stories = parsed(&bodies[0]).len();
        daemon.wait_for("a message per story", || {
            receiver.requests().len() >= stories
        });
        let log = daemon.log();
        let (status, _) = daemon.stop();
        assert!(status.success(), "{log}");
        assert!(!log.contains("panicked"), "{log}");
        (ws, bodies)
    };
    let sqlite_receiver = TestServer::start(|_| Reply::ok("ok"));
    let pg_receiver = TestServer::start(|_| Reply::ok("ok"));
    let (on_sqlite, sqlite) = served(None, &sqlite_receiver);
    let (on_pg, pg) = served(Some(&url), &pg_receiver);
    assert!(
        !on_pg.path("tributary.db").exists(),
        "no SQLite file beside a PostgreSQL store"
    );
    drop(on_sqlite);

    let atom = parsed(&sqlite[0]);
    assert!(atom.len() > 1, "{atom:#?}");
    assert_eq!(parsed(&pg[0]), atom);
    assert_eq!(parsed(&pg[1]), parsed(&sqlite[1]));
    let (sqlite_keys, sqlite_titles) = received(&sqlite_receiver);
    let (pg_keys, pg_titles) = received(&pg_receiver);
    assert_eq!(
        sqlite_keys.len(),
        atom.len(),
        "one message per story on SQLite"
    );
    assert_eq!(pg_titles, sqlite_titles, "the same messages on PostgreSQL");
    let distinct: std::collections::HashSet<&String> = pg_keys.iter().collect();
    assert_eq!(
        distinct.len(),
        pg_keys.len(),
        "each message once: {pg_keys:?}"
    );
    assert!(
        sqlite[2].contains(atom[0].1.as_deref().expect("a title")),
        "{}",
        sqlite[2]
    );
    for (pg_page, sqlite_page) in pg[2..].iter().zip(&sqlite[2..]) {
        assert_eq!(without_numbers(pg_page), without_numbers(sqlite_page));
    }
}

/// A webhook sink named `hook` at `receiver`, told of every story, backfill included.
pub(crate) fn hook(receiver: &TestServer) -> String {
    format!(
        "[[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nnotify_backfill = true\n",
        receiver.url("/hook")
    )
}

/// What a receiver got: each message's idempotency key, and the story titles, sorted.
pub(crate) fn received(receiver: &TestServer) -> (Vec<String>, Vec<String>) {
    let requests = receiver.requests();
    let keys = requests
        .iter()
        .map(|r| {
            r.header("idempotency-key")
                .expect("Idempotency-Key")
                .to_owned()
        })
        .collect();
    let mut titles: Vec<String> = requests
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON body");
            body["story"]["title"].as_str().expect("a title").to_owned()
        })
        .collect();
    titles.sort();
    (keys, titles)
}

#[test]
fn poll_on_postgres_notifies_once_per_story_as_on_sqlite() {
    let Some(cluster) = Cluster::start("poll_on_postgres_notifies_once_per_story_as_on_sqlite")
    else {
        return;
    };
    let url = cluster.database("notify");
    let server = server();
    let sqlite_receiver = TestServer::start(|_| Reply::ok("ok"));
    let pg_receiver = TestServer::start(|_| Reply::ok("ok"));
    let (on_sqlite, sqlite_config) = workspace(&server, None, &hook(&sqlite_receiver));
    let (on_pg, pg_config) = workspace(&server, Some(&url), &hook(&pg_receiver));
    for (ws, config) in [(&on_sqlite, &sqlite_config), (&on_pg, &pg_config)] {
        assert_success(&ws.run(&["--config", config, "poll"]));
    }

    let stories = on_sqlite.run(&["--config", &sqlite_config, "stories", "--json"]);
    assert_success(&stories);
    let stories = stdout(&stories).lines().count();
    let (sqlite_keys, sqlite_titles) = received(&sqlite_receiver);
    assert!(stories > 1, "{stories}");
    assert_eq!(
        sqlite_keys.len(),
        stories,
        "one message per story on SQLite"
    );
    let (pg_keys, pg_titles) = received(&pg_receiver);
    assert_eq!(pg_titles, sqlite_titles, "the same messages on PostgreSQL");
    let distinct: std::collections::HashSet<&String> = pg_keys.iter().collect();
    assert_eq!(
        distinct.len(),
        pg_keys.len(),
        "each message once: {pg_keys:?}"
    );

    // Polled again, the same feeds make no message on either; PostgreSQL's outbox holds no
    // pending row and no claim.
    for (ws, config) in [(&on_sqlite, &sqlite_config), (&on_pg, &pg_config)] {
        assert_success(&ws.run(&["--config", config, "poll"]));
    }
    assert_eq!(received(&sqlite_receiver).0.len(), stories);
    assert_eq!(received(&pg_receiver).0, pg_keys);
    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let open: i64 = client
        .query_one(
            "SELECT count(*) FROM outbox WHERE state = 'pending' OR claimed_by IS NOT NULL",
            &[],
        )
        .expect("count")
        .get(0);
    assert_eq!(open, 0);
}
