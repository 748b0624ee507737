//! The PostgreSQL backend against a real server the tests start themselves
//! (`common::postgres`): connecting over TCP and a Unix socket, migrations (once, concurrently,
//! refusing a newer schema), write transactions taking turns across instances, and the ported
//! store operations giving the same records as SQLite's for the same calls.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{TimeZone, Utc};
use tributary::config::Config;
use tributary::store::postgres::{MIGRATIONS, PgError, PgStore, PgTarget};
use tributary::store::{PollState, Store};

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

/// A poll state with every field set, as a feed that failed after moving might have.
fn full_state() -> PollState {
    let at = |day: u32, micros: u32| {
        Utc.with_ymd_and_hms(2026, 4, day, 9, 30, 15)
            .single()
            .expect("valid date")
            + chrono::Duration::microseconds(i64::from(micros))
    };
    PollState {
        etag: Some("\"v2\"".into()),
        last_modified: Some("Wed, 01 Apr 2026 09:30:15 GMT".into()),
        last_status: Some("503".into()),
        last_attempt_at: Some(at(3, 123_456)),
        last_success_at: Some(at(2, 1)),
        last_error: Some("HTTP 503: try later".into()),
        last_error_at: Some(at(3, 123_456)),
        consecutive_errors: 4,
        retry_after: Some(at(4, 0)),
        min_interval: Some(std::time::Duration::from_secs(3600)),
        next_due_at: Some(at(4, 0)),
        gone: false,
        backfilled: true,
        moved_to: Some("https://new.example/feed".into()),
        redirect_candidate: Some("https://newer.example/feed".into()),
        redirect_seen: 2,
        item_digests: vec![0, 1, u64::MAX, 0x0123_4567_89ab_cdef],
    }
}

#[test]
fn poll_state_round_trips_as_on_sqlite() {
    let Some(cluster) = Cluster::start("poll_state_round_trips_as_on_sqlite") else {
        return;
    };
    let mut pg = open(&cluster.database("state"));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sqlite = Store::open(&dir.path().join("t.db")).expect("open SQLite store");
    let config = feeds("[[feeds]]\nname = \"a\"\nurl = \"https://a.example/feed\"\n");
    sqlite.sync_sources(&config.feeds).expect("SQLite sync");
    pg.sync_sources(&config.feeds).expect("PostgreSQL sync");

    for state in [full_state(), PollState::default()] {
        let id = pg.source("a").expect("source").id;
        let mut tx = pg.begin_write().expect("begin");
        tx.save_poll_state(id, &state).expect("save");
        tx.commit().expect("commit");
        let tx = sqlite.begin_write().expect("begin");
        tx.save_poll_state(id, &state).expect("save");
        tx.commit().expect("commit");

        let on_pg = pg.source("a").expect("source");
        assert_eq!(on_pg.state, state);
        assert_eq!(on_pg, sqlite.source("a").expect("source"));
    }

    // A write dropped before its commit leaves nothing behind.
    let id = pg.source("a").expect("source").id;
    let mut tx = pg.begin_write().expect("begin");
    tx.save_poll_state(id, &full_state()).expect("save");
    drop(tx);
    assert_eq!(pg.source("a").expect("source").state, PollState::default());
}

#[test]
fn writes_of_two_instances_take_turns() {
    let Some(cluster) = Cluster::start("writes_of_two_instances_take_turns") else {
        return;
    };
    let url = cluster.database("turns");
    let mut first = open(&url);
    let mut second = open(&url);
    let second_began = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let held = first.begin_write().expect("first write");
        let waiter = scope.spawn(|| {
            let tx = second.begin_write().expect("second write");
            second_began.store(true, Ordering::SeqCst);
            tx.commit().expect("second commit");
        });
        // Long enough for an unserialised BEGIN to have returned many times over.
        std::thread::sleep(std::time::Duration::from_millis(500));
        assert!(
            !second_began.load(Ordering::SeqCst),
            "a second instance began writing while the first held the write lock"
        );
        held.commit().expect("first commit");
        waiter.join().expect("second instance");
    });
    assert!(second_began.load(Ordering::SeqCst));
}
