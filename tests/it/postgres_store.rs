//! The PostgreSQL backend against a real server the tests start themselves
//! (`common::postgres`): connecting over TCP and a Unix socket, migrations (once, concurrently,
//! refusing a newer schema), and the ported store operations giving the same records as
//! SQLite's for the same calls.

use tributary::config::Config;
use tributary::store::Store;
use tributary::store::postgres::{MIGRATIONS, PgError, PgStore, PgTarget};

use crate::common::postgres::Cluster;

fn known_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).expect("a few migrations")
}

fn open(url: &str) -> PgStore {
    PgStore::open(&PgTarget::parse(url).expect("valid URL")).expect("open PostgreSQL store")
}

fn feeds(toml: &str) -> Config {
    Config::parse(toml, "test").expect("config")
}

#[test]
fn migrates_once_over_tcp_and_unix_socket() {
    let Some(cluster) = Cluster::start("migrates_once_over_tcp_and_unix_socket") else {
        return;
    };
    let url = cluster.database("once");
    let mut first = open(&url);
    assert_eq!(first.schema_version().expect("version"), known_version());
    // Reopening, here through the Unix socket, applies nothing again (a second run of
    // migration 1 would fail on its CREATE TABLEs).
    let mut again = open(&cluster.socket_url("once"));
    assert_eq!(again.schema_version().expect("version"), known_version());
}

#[test]
fn instances_starting_at_once_migrate_once() {
    let Some(cluster) = Cluster::start("instances_starting_at_once_migrate_once") else {
        return;
    };
    let url = cluster.database("race");
    let target = PgTarget::parse(&url).expect("valid URL");
    let opened: Vec<Result<PgStore, PgError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| PgStore::open(&target)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for store in opened {
        let mut store = store.expect("every instance opens the store");
        assert_eq!(store.schema_version().expect("version"), known_version());
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let Some(cluster) = Cluster::start("a_newer_schema_is_refused") else {
        return;
    };
    let url = cluster.database("newer");
    drop(open(&url));
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    admin
        .execute("UPDATE tributary_schema SET version = version + 1", &[])
        .expect("bump version");
    let refused = PgStore::open(&PgTarget::parse(&url).expect("valid URL"));
    assert!(
        matches!(refused, Err(PgError::TooNew { found, .. }) if found == known_version() + 1),
        "{:?}",
        refused.err()
    );
}

#[test]
fn sources_sync_as_on_sqlite() {
    let Some(cluster) = Cluster::start("sources_sync_as_on_sqlite") else {
        return;
    };
    let mut pg = open(&cluster.database("sources"));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sqlite = Store::open(&dir.path().join("t.db")).expect("open SQLite store");

    let steps = [
        // Two feeds added.
        "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/feed\"\nrole = \"origin\"\n\
         [[feeds]]\nname = \"b\"\nurl = \"https://b.example/feed\"\nrole = \"mirror\"\n",
        // One feed's URL and the other's role change.
        "[[feeds]]\nname = \"a\"\nurl = \"https://moved.example/feed\"\nrole = \"origin\"\n\
         [[feeds]]\nname = \"b\"\nurl = \"https://b.example/feed\"\nrole = \"origin\"\n",
        // A removed feed keeps its row.
        "[[feeds]]\nname = \"b\"\nurl = \"https://b.example/feed\"\nrole = \"origin\"\n",
    ];
    for toml in steps {
        let config = feeds(toml);
        sqlite.sync_sources(&config.feeds).expect("SQLite sync");
        pg.sync_sources(&config.feeds).expect("PostgreSQL sync");
        let mut on_sqlite = sqlite.sources().expect("SQLite sources");
        let mut on_pg = pg.sources().expect("PostgreSQL sources");
        on_sqlite.sort_by_key(|s| s.id);
        on_pg.sort_by_key(|s| s.id);
        assert_eq!(on_pg, on_sqlite, "after syncing:\n{toml}");
    }
    assert_eq!(
        pg.source("a").expect("source a").url,
        "https://moved.example/feed"
    );
    assert!(matches!(
        pg.source("nope"),
        Err(PgError::UnknownSource(name)) if name == "nope"
    ));
}
