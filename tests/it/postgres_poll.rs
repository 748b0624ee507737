//! `tributary poll` on PostgreSQL through the real binary: the same feeds polled into SQLite
//! and into a throwaway PostgreSQL server (`common::postgres`) make the same stories, and what
//! is not ported yet says so instead of failing halfway.

use std::collections::BTreeMap;

use crate::common::binary::{Workspace, assert_success, stderr, stdout};
use crate::common::postgres::Cluster;
use crate::common::server::{Reply, TestServer};

/// Feeds in the shapes real publishers use: two origins and three mirrors of their works.
const FIXTURES: &[(&str, &str, &str)] = &[
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

/// A workspace whose config points `[storage] database` at `database` (a path is kept as
/// `write_config` writes it).
fn workspace(server: &TestServer, database: Option<&str>) -> (Workspace, String) {
    let ws = Workspace::new();
    let feeds: Vec<(&str, String, &str)> = FIXTURES
        .iter()
        .map(|(name, path, role)| (*name, server.url(path).to_string(), *role))
        .collect();
    let config = ws.write_config("t.toml", &feeds, "");
    if let Some(url) = database {
        let text = std::fs::read_to_string(&config).expect("config");
        let sqlite = format!("database = \"{}\"", ws.path("tributary.db").display());
        assert!(text.contains(&sqlite), "{text}");
        std::fs::write(
            &config,
            text.replace(&sqlite, &format!("database = \"{url}\"")),
        )
        .expect("rewrite config");
    }
    let config = config.to_str().expect("utf-8 path").to_owned();
    (ws, config)
}

/// Each stored item, by feed and guid: its story's Atom id, why it is there and as what, its
/// score. Row ids are left out: they follow the order polls finish in.
type Membership = BTreeMap<(String, String), Vec<Option<String>>>;

const MEMBERSHIP: &str = "SELECT sources.name, items.guid, stories.atom_id, items.match_reason,
        items.member_role, items.match_score, stories.merged_into IS NULL, items.content_hash
 FROM items JOIN sources ON sources.id = items.source_id
 JOIN stories ON stories.id = items.story_id";

fn sqlite_membership(path: &std::path::Path) -> Membership {
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

fn pg_membership(url: &str) -> Membership {
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

    let (on_sqlite, sqlite_config) = workspace(&server, None);
    let polled = on_sqlite.run(&["--config", &sqlite_config, "poll"]);
    assert_success(&polled);
    let (on_pg, pg_config) = workspace(&server, Some(&url));
    let pg_polled = on_pg.run(&["--config", &pg_config, "poll"]);
    assert_success(&pg_polled);
    assert!(
        stdout(&pg_polled).contains("5 feeds: 5 fetched"),
        "{}",
        stdout(&pg_polled)
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
    // feeds and the outbox; a correction is not ported yet and says so.
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
    let split = on_pg.run(&["--config", &pg_config, "stories", "split", "1"]);
    assert_eq!(split.status.code(), Some(1), "{}", stderr(&split));
    assert!(
        stderr(&split).contains("stories split is not yet supported on PostgreSQL"),
        "{}",
        stderr(&split)
    );

    // Polled again, the same feeds store nothing new on either.
    assert_success(&on_sqlite.run(&["--config", &sqlite_config, "poll"]));
    assert_success(&on_pg.run(&["--config", &pg_config, "poll"]));
    assert_eq!(
        pg_membership(&url),
        sqlite_membership(&on_sqlite.path("tributary.db"))
    );
    assert_eq!(entries(&on_pg), merged);
}

#[test]
fn check_config_shows_the_server_and_run_says_what_is_not_ported() {
    let Some(cluster) =
        Cluster::start("check_config_shows_the_server_and_run_says_what_is_not_ported")
    else {
        return;
    };
    cluster.database("shown");
    let shown = cluster.url("shown");
    let with_password = shown.replacen("tributary@", "tributary:s3cret@", 1);
    let server = server();
    let (ws, config) = workspace(&server, Some(&with_password));

    let checked = ws.run(&["--config", &config, "check-config"]);
    assert_success(&checked);
    let text = stdout(&checked);
    assert!(text.contains(&format!("database: {shown}")), "{text}");
    assert!(!text.contains("s3cret"), "{text}");

    let run = ws.run(&["--config", &config, "run"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("`tributary run` is not yet supported on PostgreSQL"),
        "{}",
        stderr(&run)
    );
    assert!(!stderr(&run).contains("s3cret"), "{}", stderr(&run));
    assert!(!stderr(&run).contains("panicked"), "{}", stderr(&run));
}
