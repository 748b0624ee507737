//! The PostgreSQL backend against a real server the tests start themselves
//! (`common::postgres`): connecting over TCP and a Unix socket, migrations (once, concurrently,
//! refusing a newer schema), write transactions taking turns across instances, and the ported
//! store operations giving the same records as SQLite's for the same calls.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{TimeZone, Utc};
use rusqlite::types::ValueRef;
use tributary::config::Config;
use tributary::dedupe::{Candidate, ItemKeys, Probe};
use tributary::ingest::{self, IngestContext};
use tributary::model::{Enclosure, Item, ItemKind, MatchReason, MemberRole, Podcast, Role};
use tributary::normalize::ParsedItem;
use tributary::store::postgres::{MIGRATIONS, PgError, PgStore, PgTarget};
use tributary::store::{
    CountedTable, DeliveryUpdate, EditedItem, NewItem, PollState, RecordOutcome, StorageTarget,
    Store, StoreError, StoryChange, TranscriptCache,
};

use crate::common::items::post;
use crate::common::postgres::{Cluster, open_store};

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
    let mut sqlite = Store::open(dir.path().join("t.db")).expect("open SQLite store");

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
    let mut sqlite = Store::open(dir.path().join("t.db")).expect("open SQLite store");
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

/// Every row of a query on SQLite, each column as text (NULL as `None`), numbers written as
/// PostgreSQL's `::text` writes them.
fn sqlite_rows(path: &std::path::Path, sql: &str) -> Vec<Vec<Option<String>>> {
    let conn = rusqlite::Connection::open(path).expect("open SQLite");
    let mut stmt = conn.prepare(sql).expect("prepare");
    let columns = stmt.column_count();
    stmt.query_map([], |row| {
        (0..columns)
            .map(|c| {
                Ok(match row.get_ref(c)? {
                    ValueRef::Null => None,
                    ValueRef::Integer(v) => Some(v.to_string()),
                    ValueRef::Real(v) => Some(v.to_string()),
                    ValueRef::Text(v) | ValueRef::Blob(v) => {
                        Some(String::from_utf8_lossy(v).into_owned())
                    }
                })
            })
            .collect::<rusqlite::Result<Vec<_>>>()
    })
    .expect("query")
    .collect::<rusqlite::Result<_>>()
    .expect("rows")
}

/// The same on PostgreSQL.
fn pg_rows(url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    client
        .query(sql, &[])
        .expect("query")
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|c| row.get::<_, Option<String>>(c))
                .collect()
        })
        .collect()
}

#[test]
fn items_and_stories_are_written_as_on_sqlite() {
    let Some(cluster) = Cluster::start("items_and_stories_are_written_as_on_sqlite") else {
        return;
    };
    let url = cluster.database("items");
    let mut pg = open(&url);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("t.db");
    let mut sqlite = Store::open(&db).expect("open SQLite store");
    let config = feeds(
        "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/feed\"\n\
         [[feeds]]\nname = \"m\"\nurl = \"https://m.example/feed\"\nrole = \"mirror\"\n",
    );
    sqlite.sync_sources(&config.feeds).expect("SQLite sync");
    pg.sync_sources(&config.feeds).expect("PostgreSQL sync");

    let day = |d: u32| {
        Utc.with_ymd_and_hms(2026, 4, d, 9, 0, 0)
            .single()
            .expect("valid date")
    };
    let item = |source: &str, guid: &str| Item {
        link: Some(format!("https://{source}.example/p/{guid}")),
        ..post(source, guid, "Hello, world", "Some text.", Some(day(2)))
    };
    let post = item("a", "1");
    let mirror = item("m", "x");
    let keys = ItemKeys {
        canonical_url: Some("a.example/p/1".into()),
        title_key: Some("hello world".into()),
        title_variants: vec!["hello".into()],
        // A repeated key is stored once, and the extremes of the 64-bit hashes survive.
        anchors: vec![1, 1, i64::MIN, i64::MAX],
        title_grams: vec![7, 8],
        outbound_links: vec!["https://x.example/".into()],
        enclosure: None,
        address_key: Some("a.example/p/1".into()),
        issue_anchors: vec!["lex fridman 452".into()],
        title_words: vec![-3, 3, 3],
    };
    let sources = sqlite.sources().expect("sources");
    let (a, m) = (sources[0].id, sources[1].id);

    // The same writes on both: a story, its post, a mirror joining it with an earlier date,
    // then a new hash for the post.
    {
        let tx = sqlite.begin_write().expect("begin");
        let story = tx
            .create_story("urn:story:1", day(2), day(3))
            .expect("story");
        let row = |source_id, item, reason, score| NewItem {
            source_id,
            item,
            content_hash: "h1",
            keys: &keys,
            published: day(2),
            story_id: story,
            reason,
            score,
            member_role: MemberRole::Post,
        };
        tx.insert_item(&row(a, &post, MatchReason::New, 1.0), day(3))
            .expect("post");
        tx.insert_item(&row(m, &mirror, MatchReason::Title, 0.75), day(3))
            .expect("mirror");
        tx.touch_story(story, day(1), day(4)).expect("touch");
        let existing = tx.existing(a, "1").expect("existing").expect("stored");
        tx.set_content_hash(existing.id, "h2").expect("hash");
        tx.commit().expect("commit");
    }
    {
        let mut tx = pg.begin_write().expect("begin");
        let story = tx
            .create_story("urn:story:1", day(2), day(3))
            .expect("story");
        let row = |source_id, item, reason, score| NewItem {
            source_id,
            item,
            content_hash: "h1",
            keys: &keys,
            published: day(2),
            story_id: story,
            reason,
            score,
            member_role: MemberRole::Post,
        };
        tx.insert_item(&row(a, &post, MatchReason::New, 1.0), day(3))
            .expect("post");
        tx.insert_item(&row(m, &mirror, MatchReason::Title, 0.75), day(3))
            .expect("mirror");
        tx.touch_story(story, day(1), day(4)).expect("touch");
        let existing = tx.existing(a, "1").expect("existing").expect("stored");
        assert_eq!(existing.content_hash, "h1");
        assert_eq!(existing.published, day(2));
        tx.set_content_hash(existing.id, "h2").expect("hash");
        assert!(tx.existing(a, "2").expect("existing").is_none());
        tx.commit().expect("commit");
    }

    for (sqlite_sql, pg_sql) in [
        (
            "SELECT id, source_id, guid, data, content_hash, canonical_url, title_key, published,
                    first_seen, changed_at, story_id, match_reason, match_score,
                    member_role FROM items ORDER BY id",
            "SELECT id::text, source_id::text, guid, data, content_hash, canonical_url, title_key,
                    published, first_seen, changed_at, story_id::text, match_reason,
                    match_score::text, member_role FROM items ORDER BY id",
        ),
        (
            "SELECT id, atom_id, created_at, published, updated_at, merged_into, pinned
             FROM stories ORDER BY id",
            "SELECT id::text, atom_id, created_at, published, updated_at, merged_into::text,
                    pinned::text FROM stories ORDER BY id",
        ),
        (
            "SELECT anchor, item_id FROM text_anchors ORDER BY anchor, item_id",
            "SELECT anchor::text, item_id::text FROM text_anchors ORDER BY anchor, item_id",
        ),
        (
            "SELECT key, item_id FROM title_keys ORDER BY key, item_id",
            "SELECT key, item_id::text FROM title_keys ORDER BY key COLLATE \"C\", item_id",
        ),
        (
            "SELECT gram, item_id FROM title_grams ORDER BY gram, item_id",
            "SELECT gram::text, item_id::text FROM title_grams ORDER BY gram, item_id",
        ),
        (
            "SELECT word, item_id FROM title_words ORDER BY word, item_id",
            "SELECT word::text, item_id::text FROM title_words ORDER BY word, item_id",
        ),
        (
            "SELECT link, item_id FROM outbound_links ORDER BY link, item_id",
            "SELECT link, item_id::text FROM outbound_links ORDER BY link COLLATE \"C\", item_id",
        ),
    ] {
        let on_sqlite = sqlite_rows(&db, sqlite_sql);
        assert!(!on_sqlite.is_empty(), "{sqlite_sql}");
        assert_eq!(pg_rows(&url, pg_sql), on_sqlite, "{sqlite_sql}");
    }
    assert_eq!(
        pg.sources().expect("sources"),
        sqlite.sources().expect("sources")
    );
}

#[test]
fn outbox_rows_are_queued_as_on_sqlite() {
    let Some(cluster) = Cluster::start("outbox_rows_are_queued_as_on_sqlite") else {
        return;
    };
    let url = cluster.database("outbox");
    let mut pg = open(&url);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("t.db");
    let mut sqlite = Store::open(&db).expect("open SQLite store");
    let config = feeds("[[feeds]]\nname = \"pod\"\nurl = \"https://pod.example/feed\"\n");
    sqlite.sync_sources(&config.feeds).expect("SQLite sync");
    pg.sync_sources(&config.feeds).expect("PostgreSQL sync");
    let source = pg.source("pod").expect("source").id;
    let day = |d: u32| {
        Utc.with_ymd_and_hms(2026, 4, d, 9, 0, 0)
            .single()
            .expect("valid date")
    };
    let episode = Item {
        source: "pod".into(),
        guid: "ep1".into(),
        link: None,
        title: "Episode one".into(),
        authors: vec![],
        published: Some(day(1)),
        updated: None,
        summary: None,
        content: None,
        categories: vec![],
        kind: ItemKind::Episode,
        enclosure: None,
        duration: None,
        image: None,
        podcast: Podcast::default(),
    };
    let keys = ItemKeys::default();
    let change = |title: &str| StoryChange::MemberAdded {
        feed: "m".into(),
        member_role: "mirror".into(),
        title: title.into(),
        link: None,
    };
    let mark_attempted = "UPDATE outbox SET attempted_at = '2026-04-02T09:00:00.000000Z'";

    // The same steps on both: a story and its first message (queued twice: kept once), two
    // changes folded into the unsent first message, then, once it was attempted, a change
    // that becomes an edit of its own and one more folded into that edit.
    let tx = sqlite.begin_write().expect("begin");
    let story = tx.create_story("urn:s", day(1), day(1)).expect("story");
    tx.insert_item(
        &NewItem {
            source_id: source,
            item: &episode,
            content_hash: "h",
            keys: &keys,
            published: day(1),
            story_id: story,
            reason: MatchReason::New,
            score: 1.0,
            member_role: MemberRole::Episode,
        },
        day(1),
    )
    .expect("item");
    assert!(tx.story_has_audio(story).expect("audio"));
    for _ in 0..2 {
        tx.enqueue_notification(story, "hook", "key-1", day(2), day(1))
            .expect("notify");
    }
    assert!(
        !tx.enqueue_update(story, "hook", &change("a"), day(2), day(1))
            .expect("fold")
    );
    assert!(
        !tx.enqueue_update(story, "hook", &change("b"), day(2), day(1))
            .expect("fold")
    );
    tx.commit().expect("commit");
    rusqlite::Connection::open(&db)
        .expect("open")
        .execute(mark_attempted, [])
        .expect("attempted");
    let tx = sqlite.begin_write().expect("begin");
    assert!(
        tx.enqueue_update(story, "hook", &change("c"), day(3), day(2))
            .expect("edit")
    );
    assert!(
        !tx.enqueue_update(story, "hook", &change("d"), day(3), day(2))
            .expect("fold")
    );
    assert!(
        !tx.enqueue_update(story, "other", &change("e"), day(3), day(2))
            .expect("unknown sink")
    );
    tx.commit().expect("commit");

    let mut tx = pg.begin_write().expect("begin");
    let pg_story = tx.create_story("urn:s", day(1), day(1)).expect("story");
    assert_eq!(pg_story, story);
    tx.insert_item(
        &NewItem {
            source_id: source,
            item: &episode,
            content_hash: "h",
            keys: &keys,
            published: day(1),
            story_id: story,
            reason: MatchReason::New,
            score: 1.0,
            member_role: MemberRole::Episode,
        },
        day(1),
    )
    .expect("item");
    assert!(tx.story_has_audio(story).expect("audio"));
    assert_eq!(tx.story_atom_id(story).expect("atom id"), "urn:s");
    for _ in 0..2 {
        tx.enqueue_notification(story, "hook", "key-1", day(2), day(1))
            .expect("notify");
    }
    assert!(
        !tx.enqueue_update(story, "hook", &change("a"), day(2), day(1))
            .expect("fold")
    );
    assert!(
        !tx.enqueue_update(story, "hook", &change("b"), day(2), day(1))
            .expect("fold")
    );
    tx.commit().expect("commit");
    postgres::Client::connect(&url, postgres::NoTls)
        .expect("connect")
        .execute(mark_attempted, &[])
        .expect("attempted");
    let mut tx = pg.begin_write().expect("begin");
    assert!(
        tx.enqueue_update(story, "hook", &change("c"), day(3), day(2))
            .expect("edit")
    );
    assert!(
        !tx.enqueue_update(story, "hook", &change("d"), day(3), day(2))
            .expect("fold")
    );
    assert!(
        !tx.enqueue_update(story, "other", &change("e"), day(3), day(2))
            .expect("unknown sink")
    );
    tx.commit().expect("commit");

    let on_sqlite = sqlite_rows(
        &db,
        "SELECT story_id, sink, idempotency_key, created_at, due_at, attempts, state,
                last_error, delivered_at, kind, revision, changes, generation, remote_id,
                attempted_at FROM outbox ORDER BY id",
    );
    assert_eq!(on_sqlite.len(), 2);
    // Not the ids: an insert that conflicts still takes a number from PostgreSQL's identity
    // (the first message queued twice), so its ids have gaps where SQLite's do not.
    assert_eq!(
        pg_rows(
            &url,
            "SELECT story_id::text, sink, idempotency_key, created_at, due_at,
                    attempts::text, state, last_error, delivered_at, kind, revision::text,
                    changes, generation::text, remote_id, attempted_at FROM outbox ORDER BY id",
        ),
        on_sqlite
    );
}

#[test]
fn edits_merges_and_boilerplate_as_on_sqlite() {
    let Some(cluster) = Cluster::start("edits_merges_and_boilerplate_as_on_sqlite") else {
        return;
    };
    let url = cluster.database("edits");
    let mut pg = open(&url);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("t.db");
    let mut sqlite = Store::open(&db).expect("open SQLite store");
    let config = feeds("[[feeds]]\nname = \"a\"\nurl = \"https://a.example/feed\"\n");
    sqlite.sync_sources(&config.feeds).expect("SQLite sync");
    pg.sync_sources(&config.feeds).expect("PostgreSQL sync");
    let source = pg.source("a").expect("source").id;
    let day = |d: u32| {
        Utc.with_ymd_and_hms(2026, 4, d, 9, 0, 0)
            .single()
            .expect("valid date")
    };
    let post = |guid: &str, title: &str| Item {
        link: None,
        ..post("a", guid, title, "Text.", Some(day(2)))
    };
    let (first, second) = (post("1", "First"), post("2", "Second"));
    let edited = post("2", "Second, edited");
    let keys = |title: &str, anchor: i64| ItemKeys {
        title_key: Some(title.into()),
        anchors: vec![anchor],
        title_grams: vec![anchor + 1],
        title_words: vec![anchor + 2],
        outbound_links: vec![format!("https://{anchor}.example/")],
        ..ItemKeys::default()
    };
    // The edit keeps the second post's anchor and link, and drops the rest of its keys.
    let (first_keys, second_keys) = (keys("first", 10), keys("second", 20));
    let edited_keys = ItemKeys {
        anchors: vec![20, 30],
        outbound_links: vec!["https://20.example/".into(), "https://30.example/".into()],
        ..keys("second edited", 30)
    };
    let edit = |id| EditedItem {
        id,
        item: &edited,
        content_hash: "h2",
        keys: &edited_keys,
        stored_keys: &second_keys,
        published: day(1),
    };
    let row = |item, keys, story_id, published| NewItem {
        source_id: source,
        item,
        content_hash: "h",
        keys,
        published,
        story_id,
        reason: MatchReason::New,
        score: 1.0,
        member_role: MemberRole::Post,
    };
    let shingles: HashSet<u64> = [5, 1, u64::MAX].into_iter().collect();

    // The same steps on both: two stories with a post and a first message each; the second
    // post is edited, then its story (published earlier) is folded into the first, which
    // cancels its unsent message; a feed's boilerplate is added to, twice.
    let tx = sqlite.begin_write().expect("begin");
    let one = tx.create_story("urn:1", day(2), day(2)).expect("story");
    let two = tx.create_story("urn:2", day(1), day(2)).expect("story");
    let item = tx
        .insert_item(&row(&first, &first_keys, one, day(2)), day(2))
        .expect("item");
    let other = tx
        .insert_item(&row(&second, &second_keys, two, day(1)), day(2))
        .expect("item");
    tx.enqueue_notification(one, "hook", "k1", day(2), day(2))
        .expect("notify");
    tx.enqueue_notification(two, "hook", "k2", day(2), day(2))
        .expect("notify");
    tx.update_item(&edit(other), day(3)).expect("edit");
    tx.merge_story(two, one, day(4)).expect("merge");
    tx.add_boilerplate(source, &shingles).expect("boilerplate");
    tx.add_boilerplate(source, &shingles)
        .expect("boilerplate again");
    assert_eq!(tx.boilerplate(source).expect("boilerplate"), shingles);
    tx.commit().expect("commit");

    let mut tx = pg.begin_write().expect("begin");
    assert_eq!(
        tx.create_story("urn:1", day(2), day(2)).expect("story"),
        one
    );
    assert_eq!(
        tx.create_story("urn:2", day(1), day(2)).expect("story"),
        two
    );
    assert_eq!(
        tx.insert_item(&row(&first, &first_keys, one, day(2)), day(2))
            .expect("item"),
        item
    );
    assert_eq!(
        tx.insert_item(&row(&second, &second_keys, two, day(1)), day(2))
            .expect("item"),
        other
    );
    tx.enqueue_notification(one, "hook", "k1", day(2), day(2))
        .expect("notify");
    tx.enqueue_notification(two, "hook", "k2", day(2), day(2))
        .expect("notify");
    tx.update_item(&edit(other), day(3)).expect("edit");
    tx.merge_story(two, one, day(4)).expect("merge");
    tx.add_boilerplate(source, &shingles).expect("boilerplate");
    tx.add_boilerplate(source, &shingles)
        .expect("boilerplate again");
    assert_eq!(tx.boilerplate(source).expect("boilerplate"), shingles);
    tx.commit().expect("commit");

    for (sqlite_sql, pg_sql) in [
        (
            "SELECT id, data, content_hash, canonical_url, title_key, published, changed_at,
                    story_id FROM items ORDER BY id",
            "SELECT id::text, data, content_hash, canonical_url, title_key, published,
                    changed_at, story_id::text FROM items ORDER BY id",
        ),
        (
            "SELECT id, published, updated_at, merged_into FROM stories ORDER BY id",
            "SELECT id::text, published, updated_at, merged_into::text FROM stories ORDER BY id",
        ),
        (
            "SELECT anchor, item_id FROM text_anchors ORDER BY anchor",
            "SELECT anchor::text, item_id::text FROM text_anchors ORDER BY anchor",
        ),
        (
            "SELECT key, item_id FROM title_keys ORDER BY key",
            "SELECT key, item_id::text FROM title_keys ORDER BY key",
        ),
        (
            "SELECT gram, item_id FROM title_grams ORDER BY gram",
            "SELECT gram::text, item_id::text FROM title_grams ORDER BY gram",
        ),
        (
            "SELECT word, item_id FROM title_words ORDER BY word",
            "SELECT word::text, item_id::text FROM title_words ORDER BY word",
        ),
        (
            "SELECT link, item_id FROM outbound_links ORDER BY link",
            "SELECT link, item_id::text FROM outbound_links ORDER BY link",
        ),
        (
            "SELECT story_id, idempotency_key, state FROM outbox ORDER BY id",
            "SELECT story_id::text, idempotency_key, state FROM outbox ORDER BY id",
        ),
        (
            "SELECT source_id, shingle FROM boilerplate ORDER BY shingle",
            "SELECT source_id::text, shingle::text FROM boilerplate ORDER BY shingle",
        ),
    ] {
        let on_sqlite = sqlite_rows(&db, sqlite_sql);
        assert!(!on_sqlite.is_empty(), "{sqlite_sql}");
        assert_eq!(pg_rows(&url, pg_sql), on_sqlite, "{sqlite_sql}");
    }
    // The edited post's rows are its new keys, no more, no fewer.
    let edited_rows = |table: &str, key: &str| {
        sqlite_rows(
            &db,
            &format!("SELECT {key} FROM {table} WHERE item_id = {other} ORDER BY {key}"),
        )
    };
    let as_rows = |keys: &[&str]| -> Vec<Vec<Option<String>>> {
        keys.iter().map(|k| vec![Some((*k).to_owned())]).collect()
    };
    assert_eq!(
        edited_rows("text_anchors", "anchor"),
        as_rows(&["20", "30"])
    );
    assert_eq!(
        edited_rows("outbound_links", "link"),
        as_rows(&["https://20.example/", "https://30.example/"])
    );
    assert_eq!(
        edited_rows("title_keys", "key"),
        as_rows(&["second edited"])
    );
    assert_eq!(edited_rows("title_grams", "gram"), as_rows(&["31"]));
    assert_eq!(edited_rows("title_words", "word"), as_rows(&["32"]));
}

#[test]
fn feed_facts_labels_and_transcripts_as_on_sqlite() {
    let Some(cluster) = Cluster::start("feed_facts_labels_and_transcripts_as_on_sqlite") else {
        return;
    };
    let url = cluster.database("facts");
    let mut pg = open(&url);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("t.db");
    let mut sqlite = Store::open(&db).expect("open SQLite store");
    let config = feeds(
        "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/feed\"\n\
         [[feeds]]\nname = \"m\"\nurl = \"https://m.example/feed\"\nrole = \"mirror\"\n",
    );
    sqlite.sync_sources(&config.feeds).expect("SQLite sync");
    pg.sync_sources(&config.feeds).expect("PostgreSQL sync");
    let source = pg.source("a").expect("source").id;
    let day = |d: u32| {
        Utc.with_ymd_and_hms(2026, 4, d, 9, 0, 0)
            .single()
            .expect("valid date")
    };
    let post = Item {
        link: None,
        ..post("a", "1", "A post", "Body one.", Some(day(2)))
    };
    let keys = ItemKeys::default();
    let row = |story_id| NewItem {
        source_id: source,
        item: &post,
        content_hash: "h",
        keys: &keys,
        published: day(2),
        story_id,
        reason: MatchReason::New,
        score: 1.0,
        member_role: MemberRole::Post,
    };
    let authors = ["Ann".to_owned(), "Bob".to_owned()];

    // The same steps on both: a feed's title and authors (the title kept when a poll brings
    // none); an item relabelled; transcripts whose words, once had, outlive a later failure,
    // and whose failure is replaced by words; the item matched by one transcript, then another.
    let tx = sqlite.begin_write().expect("begin");
    tx.set_feed_facts(source, Some("Ann's letters"), &authors[..1])
        .expect("facts");
    tx.set_feed_facts(source, None, &authors).expect("facts");
    assert_eq!(tx.feed_authors(source).expect("authors"), authors);
    let decorations = tx.decorations().expect("decorations");
    let story = tx.create_story("urn:s", day(2), day(2)).expect("story");
    let item = tx.insert_item(&row(story), day(2)).expect("item");
    assert_eq!(
        tx.recent_bodies(source).expect("bodies"),
        vec!["Body one.".to_owned()]
    );
    tx.relabel(item, MemberRole::Episode, MatchReason::Title, 0.5)
        .expect("relabel");
    assert!(!tx.story_pinned(story).expect("pinned"));
    tx.record_transcript("https://t.example/1", Ok("the words"), day(1))
        .expect("transcript");
    tx.record_transcript("https://t.example/1", Err("HTTP 500".into()), day(2))
        .expect("transcript");
    tx.record_transcript("https://t.example/2", Err("HTTP 404".into()), day(1))
        .expect("transcript");
    tx.record_transcript("https://t.example/2", Ok("later words"), day(2))
        .expect("transcript");
    tx.set_item_transcript(item, Some("https://t.example/1"))
        .expect("item transcript");
    tx.set_item_transcript(item, Some("https://t.example/2"))
        .expect("item transcript");
    assert_eq!(
        tx.item_transcript(item)
            .expect("item transcript")
            .as_deref(),
        Some("https://t.example/2")
    );
    tx.commit().expect("commit");

    let mut tx = pg.begin_write().expect("begin");
    tx.set_feed_facts(source, Some("Ann's letters"), &authors[..1])
        .expect("facts");
    tx.set_feed_facts(source, None, &authors).expect("facts");
    assert_eq!(tx.feed_authors(source).expect("authors"), authors);
    assert_eq!(tx.decorations().expect("decorations"), decorations);
    assert_eq!(
        tx.create_story("urn:s", day(2), day(2)).expect("story"),
        story
    );
    assert_eq!(tx.insert_item(&row(story), day(2)).expect("item"), item);
    assert_eq!(
        tx.recent_bodies(source).expect("bodies"),
        vec!["Body one.".to_owned()]
    );
    tx.relabel(item, MemberRole::Episode, MatchReason::Title, 0.5)
        .expect("relabel");
    assert!(!tx.story_pinned(story).expect("pinned"));
    assert!(matches!(
        tx.story_pinned(story + 1),
        Err(PgError::UnknownStory(_))
    ));
    tx.record_transcript("https://t.example/1", Ok("the words"), day(1))
        .expect("transcript");
    tx.record_transcript("https://t.example/1", Err("HTTP 500".into()), day(2))
        .expect("transcript");
    tx.record_transcript("https://t.example/2", Err("HTTP 404".into()), day(1))
        .expect("transcript");
    tx.record_transcript("https://t.example/2", Ok("later words"), day(2))
        .expect("transcript");
    tx.set_item_transcript(item, Some("https://t.example/1"))
        .expect("item transcript");
    tx.set_item_transcript(item, Some("https://t.example/2"))
        .expect("item transcript");
    assert_eq!(
        tx.item_transcript(item)
            .expect("item transcript")
            .as_deref(),
        Some("https://t.example/2")
    );
    tx.commit().expect("commit");

    for (sqlite_sql, pg_sql) in [
        (
            "SELECT name, feed_title, feed_authors FROM sources ORDER BY id",
            "SELECT name, feed_title, feed_authors FROM sources ORDER BY id",
        ),
        (
            "SELECT member_role, match_reason, match_score FROM items ORDER BY id",
            "SELECT member_role, match_reason, match_score::text FROM items ORDER BY id",
        ),
        (
            "SELECT url, fetched_at, words, error FROM transcripts ORDER BY url",
            "SELECT url, fetched_at, words, error FROM transcripts ORDER BY url",
        ),
        (
            "SELECT item_id, url FROM item_transcripts ORDER BY item_id",
            "SELECT item_id::text, url FROM item_transcripts ORDER BY item_id",
        ),
    ] {
        let on_sqlite = sqlite_rows(&db, sqlite_sql);
        assert!(!on_sqlite.is_empty(), "{sqlite_sql}");
        assert_eq!(pg_rows(&url, pg_sql), on_sqlite, "{sqlite_sql}");
    }
    // Deleting an item's transcript match leaves its own text.
    let mut tx = pg.begin_write().expect("begin");
    tx.set_item_transcript(item, None).expect("item transcript");
    assert_eq!(tx.item_transcript(item).expect("item transcript"), None);
}

/// A candidate as text, its boilerplate in order (a `HashSet`'s `Debug` order differs between
/// two equal sets), so that SQLite's and PostgreSQL's can be compared.
fn candidate_line(candidate: &Candidate) -> String {
    let mut boilerplate: Vec<u32> = candidate.boilerplate.iter().copied().collect();
    boilerplate.sort_unstable();
    format!(
        "{} {} {} {:?} {:?} {} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {boilerplate:?} {:?} {:?}",
        candidate.item_id,
        candidate.story_id,
        candidate.source,
        candidate.role,
        candidate.kind,
        candidate.published,
        candidate.canonical_url,
        candidate.title,
        candidate.title_keys,
        candidate.address_key,
        candidate.fragment,
        candidate.enclosure,
        candidate.body,
        candidate.reason,
        candidate.linked,
        candidate.story,
    )
}

#[test]
fn matching_reads_as_on_sqlite() {
    let Some(cluster) = Cluster::start("matching_reads_as_on_sqlite") else {
        return;
    };
    let url = cluster.database("matching");
    // Through `Store`, as ingest writes: its write keeps what it read (`store::kept`).
    let mut pg = open_store(&url);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("t.db");
    let mut sqlite = Store::open(&db).expect("open SQLite store");
    let config = feeds(
        "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/feed\"\n\
         [[feeds]]\nname = \"pod\"\nurl = \"https://pod.example/feed\"\n\
         [[feeds]]\nname = \"m\"\nurl = \"https://m.example/feed\"\nrole = \"mirror\"\n\
         [[feeds]]\nname = \"n\"\nurl = \"https://n.example/feed\"\nrole = \"mirror\"\n",
    );
    sqlite.sync_sources(&config.feeds).expect("SQLite sync");
    pg.sync_sources(&config.feeds).expect("PostgreSQL sync");
    let id = |name: &str| pg.source(name).expect("source").id;
    let (a, pod, m, n) = (id("a"), id("pod"), id("m"), id("n"));
    assert_eq!(
        sqlite.sources().expect("sources"),
        pg.sources().expect("sources")
    );
    let day = |d: u32| {
        Utc.with_ymd_and_hms(2026, 4, d, 9, 0, 0)
            .single()
            .expect("valid date")
    };
    let text = "Reward models learn what raters prefer, and a policy trained against one \
                finds the places where the raters were wrong long before it finds what they \
                wanted; the fix is not a bigger model but a better question.";
    let item = |source: &str, guid: &str, title: &str, link: &str, content: &str| Item {
        link: Some(link.into()),
        ..post(source, guid, title, content, Some(day(2)))
    };
    // An origin's post; a mirror's copy of it (its address spells the title); a mirror page
    // that links to the post alone, and a roundup that links to it and another work; a
    // founding mirror item; an episode whose words are a transcript's; another origin post.
    let post = item(
        "a",
        "1",
        "Reward models are not the whole story",
        "https://a.example/p/reward",
        &format!("<p>{text} See <a href=\"https://x.example/paper\">the paper</a>.</p>"),
    );
    let copy = item(
        "m",
        "c",
        "Reward models are not the whole story - by Ann",
        "https://m.example/reward-models-are-not-the-whole-story#top",
        &format!("<p>{text}</p>"),
    );
    let pointer = item(
        "m",
        "p",
        "Worth reading today",
        "https://m.example/worth-reading",
        "<p>Read <a href=\"https://a.example/p/reward\">this</a>.</p>",
    );
    let roundup = item(
        "m",
        "r",
        "Links of the week",
        "https://m.example/links",
        "<p><a href=\"https://a.example/p/reward\">one</a> and \
         <a href=\"https://a.example/p/other\">two</a></p>",
    );
    let founding = item(
        "m",
        "f",
        "A summary of a talk nobody has posted yet",
        "https://m.example/summary",
        "<p>The talk said reward models overfit raters.</p>",
    );
    let other = item(
        "a",
        "2",
        "Open weights, closed data",
        "https://a.example/p/other",
        "<p>Another essay about something else entirely, with words of its own.</p>",
    );
    let mut episode = item(
        "pod",
        "e1",
        "Episode 12: reward models",
        "https://pod.example/12",
        "<p>Show notes.</p>",
    );
    episode.kind = ItemKind::Episode;
    episode.enclosure = Some(Enclosure {
        url: "https://cdn.example/e12.mp3".into(),
        mime_type: Some("audio/mpeg".into()),
        length: None,
    });
    let late = item(
        "n",
        "late",
        "A first item of a mirror that had none",
        "https://n.example/first",
        "<p>Written while the write was under way.</p>",
    );
    // Incoming items the stored ones are looked for with: a second copy, a page that links to
    // the post, an episode of the same file.
    let mut again = copy.clone();
    again.source = "n".into();
    again.guid = "again".into();
    again.link = Some("https://n.example/reward-models-are-not-the-whole-story".into());
    let linker = item(
        "n",
        "l",
        "Something I read",
        "https://n.example/read",
        "<p>Via <a href=\"https://a.example/p/reward\">Ann</a>.</p>",
    );
    let mut relisted = episode.clone();
    relisted.source = "n".into();
    relisted.guid = "relisted".into();
    relisted.link = Some("https://n.example/ep12".into());
    let shingles: HashSet<u64> = [3, 9, u64::MAX].into_iter().collect();

    // The same calls on both backends; every read's result as lines of text.
    macro_rules! script {
        ($tx:ident) => {{
            let mut seen: Vec<String> = Vec::new();
            let decorations = $tx.decorations().expect("decorations");
            let keys = |item: &Item, role: Role| {
                Probe::new(item, role, day(2), &decorations, &HashSet::new()).keys
            };
            let mut stored = Vec::new();
            for (source, item, role, story_of, reason) in [
                (a, &post, Role::Origin, None, MatchReason::New),
                (m, &copy, Role::Mirror, Some(0), MatchReason::Title),
                (m, &pointer, Role::Mirror, Some(0), MatchReason::Link),
                (m, &roundup, Role::Mirror, None, MatchReason::New),
                (m, &founding, Role::Mirror, None, MatchReason::New),
                (a, &other, Role::Origin, None, MatchReason::New),
                (pod, &episode, Role::Origin, None, MatchReason::New),
            ] {
                let story = match story_of {
                    Some(index) => stored[index],
                    None => $tx
                        .create_story(&format!("urn:{}", item.guid), day(2), day(3))
                        .expect("story"),
                };
                let keys = keys(item, role);
                $tx.insert_item(
                    &NewItem {
                        source_id: source,
                        item,
                        content_hash: "h",
                        keys: &keys,
                        published: day(2),
                        story_id: story,
                        reason,
                        score: 1.0,
                        member_role: MemberRole::implied(role, item.kind),
                    },
                    day(3),
                )
                .expect("item");
                stored.push(story);
            }
            let episode_id = $tx
                .existing(pod, "e1")
                .expect("existing")
                .expect("stored")
                .id;
            $tx.record_transcript(
                "https://pod.example/12.vtt",
                Ok("we talked about reward models"),
                day(3),
            )
            .expect("transcript");
            $tx.set_item_transcript(episode_id, Some("https://pod.example/12.vtt"))
                .expect("item transcript");
            $tx.add_boilerplate(m, &shingles).expect("boilerplate");

            for (item, role) in [
                (&again, Role::Mirror),
                (&linker, Role::Mirror),
                (&relisted, Role::Mirror),
                (&post, Role::Origin),
                (&roundup, Role::Mirror),
            ] {
                let probe = Probe::new(item, role, day(2), &decorations, &HashSet::new());
                let found = $tx.candidates(&probe, &decorations).expect("candidates");
                seen.push(format!("candidates of {}: {}", item.guid, found.len()));
                seen.extend(found.iter().map(candidate_line));
            }
            // Every stored item probed as it is when asked again (`reconsider`): its title keys,
            // links and text, not the keys that serve the index alone.
            let recent = $tx
                .recent_candidates(
                    day(2),
                    chrono::Duration::days(1),
                    chrono::Duration::days(1),
                    &HashSet::new(),
                    &decorations,
                )
                .expect("recent");
            seen.push(format!("recent: {}", recent.len()));
            // The items a caller already holds are left out, and only those.
            let held: HashSet<i64> = recent.iter().skip(1).map(|c| c.item_id).collect();
            let rest = $tx
                .recent_candidates(
                    day(2),
                    chrono::Duration::days(1),
                    chrono::Duration::days(1),
                    &held,
                    &decorations,
                )
                .expect("recent but those held");
            assert_eq!(
                rest.iter().map(|c| c.item_id).collect::<Vec<_>>(),
                recent.iter().take(1).map(|c| c.item_id).collect::<Vec<_>>()
            );
            seen.push(format!("recent but those held: {}", rest.len()));
            seen.extend(rest.iter().map(candidate_line));
            for candidate in &recent {
                seen.push(candidate_line(candidate));
                let probe = Probe::of_stored(candidate, &decorations, true);
                seen.extend(
                    $tx.candidates(&probe, &decorations)
                        .expect("candidates")
                        .iter()
                        .map(candidate_line),
                );
            }
            seen.push(format!(
                "outside the window: {}",
                $tx.recent_candidates(
                    day(9),
                    chrono::Duration::days(1),
                    chrono::Duration::days(1),
                    &HashSet::new(),
                    &decorations
                )
                .expect("recent")
                .len()
            ));
            // Mirror `n`'s first item, stored in the same write, is a founding mirror as soon
            // as it is stored.
            let founding = $tx
                .recent_founding_mirrors(day(2), chrono::Duration::days(1), &decorations)
                .expect("founding mirrors");
            seen.push(format!("founding: {}", founding.len()));
            seen.extend(founding.iter().map(candidate_line));
            let story = $tx.create_story("urn:late", day(2), day(3)).expect("story");
            let late_keys = keys(&late, Role::Mirror);
            $tx.insert_item(
                &NewItem {
                    source_id: n,
                    item: &late,
                    content_hash: "h",
                    keys: &late_keys,
                    published: day(2),
                    story_id: story,
                    reason: MatchReason::New,
                    score: 1.0,
                    member_role: MemberRole::Copy,
                },
                day(3),
            )
            .expect("late item");
            let founding = $tx
                .recent_founding_mirrors(day(2), chrono::Duration::days(1), &decorations)
                .expect("founding mirrors");
            seen.push(format!("founding: {}", founding.len()));
            seen.extend(founding.iter().map(candidate_line));
            for story in stored.iter().copied().chain([stored[6] + 100]) {
                seen.push(format!(
                    "story {story}: {:?}",
                    $tx.story_facts(story).expect("facts")
                ));
            }
            seen
        }};
    }

    let tx = sqlite.begin_write().expect("begin");
    let on_sqlite = script!(tx);
    tx.commit().expect("commit");
    let tx = pg.begin_write().expect("begin");
    let on_pg = script!(tx);
    tx.commit().expect("commit");
    for (line, (sqlite_line, pg_line)) in on_sqlite.iter().zip(&on_pg).enumerate() {
        assert_eq!(pg_line, sqlite_line, "line {line}");
    }
    assert_eq!(on_pg.len(), on_sqlite.len());
    // The script found what it is there to find: each kind of key, links either way, the
    // transcript's words, a feed's boilerplate, and the founding mirrors before and after `n`
    // stored its first item.
    let all = on_sqlite.join("\n");
    for expected in [
        "Some(ProbeLinksHere)",
        "Some(LinksToProbe)",
        "Some(\"cdn.example/e12.mp3\")",
        "we talked about reward models",
        // The feed's boilerplate [3, 9, u64::MAX] as the candidate compares it: each hash's
        // halves folded into a 32-bit shingle, so u64::MAX is 0.
        "[0, 3, 9]",
        "founding: 2",
        "founding: 3",
        "outside the window: 0",
        "has_origin: true",
    ] {
        assert!(all.contains(expected), "{expected} not in:\n{all}");
    }

    // A story a person pinned (as `stories split` pins one; here by hand, on both).
    let pinned = pg
        .begin_write()
        .expect("begin")
        .existing(a, "2")
        .expect("existing")
        .expect("stored")
        .story_id;
    let pin = "UPDATE stories SET pinned = 1 WHERE id = ";
    rusqlite::Connection::open(&db)
        .expect("open SQLite")
        .execute(&format!("{pin}{pinned}"), [])
        .expect("pin");
    postgres::Client::connect(&url, postgres::NoTls)
        .expect("connect")
        .execute(&format!("{pin}{pinned}"), &[])
        .expect("pin");
    let on_sqlite = sqlite
        .begin_write()
        .expect("begin")
        .story_facts(pinned)
        .expect("facts");
    assert!(on_sqlite.pinned);
    assert_eq!(
        pg.begin_write()
            .expect("begin")
            .story_facts(pinned)
            .expect("facts"),
        on_sqlite
    );

    // The transcript cache reads the same on both.
    let sqlite_cache = TranscriptCache::open(&db).expect("SQLite cache");
    let pg_cache = TranscriptCache::open(StorageTarget::Postgres(
        PgTarget::parse(&url).expect("valid URL"),
    ))
    .expect("cache");
    for url in ["https://pod.example/12.vtt", "https://pod.example/none.vtt"] {
        assert_eq!(
            pg_cache.lookup(url).expect("lookup"),
            sqlite_cache.lookup(url).expect("lookup"),
            "{url}"
        );
    }
    assert!(
        pg_cache
            .lookup("https://pod.example/12.vtt")
            .expect("lookup")
            .is_some()
    );
}

#[test]
fn the_store_answers_on_runtime_threads_and_refuses_a_current_thread_runtime() {
    let Some(cluster) =
        Cluster::start("the_store_answers_on_runtime_threads_and_refuses_a_current_thread_runtime")
    else {
        return;
    };
    let target =
        StorageTarget::Postgres(PgTarget::parse(&cluster.database("runtime")).expect("valid URL"));
    let config = feeds("[[feeds]]\nname = \"a\"\nurl = \"https://a.example/feed\"\n");

    // On a task of a multi-thread runtime, where the blocking client's own `block_on` would
    // panic if the store did not step off the worker first.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let on_task = target.clone();
    let (sources, cached) = runtime
        .block_on(runtime.spawn(async move {
            let mut store = Store::open(on_task.clone()).expect("open on a task");
            store.sync_sources(&config.feeds).expect("sync");
            let tx = store.begin_write().expect("begin");
            let at = Utc
                .with_ymd_and_hms(2026, 4, 1, 9, 0, 0)
                .single()
                .expect("valid date");
            tx.record_transcript("https://t.example/1", Ok("words"), at)
                .expect("transcript");
            tx.commit().expect("commit");
            let cache = TranscriptCache::open(on_task).expect("cache on a task");
            (
                store.sources().expect("sources"),
                cache.lookup("https://t.example/1").expect("lookup"),
            )
        }))
        .expect("task");
    assert_eq!(sources.len(), 1);
    assert!(cached.is_some());

    // A current-thread runtime has no worker to hand its tasks to: an error, not a panic.
    let current = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let refused = current.block_on(async { Store::open(target.clone()) });
    assert!(
        matches!(refused, Err(StoreError::Unsupported(_))),
        "{:?}",
        refused.err()
    );
}

/// The same writes through `Store` on either backend: three stories (the second folded into
/// the first), their items, first messages to two sinks.
fn stories_script(store: &mut Store) {
    let config = feeds(
        "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/feed\"\n\
         [[feeds]]\nname = \"m\"\nurl = \"https://m.example/feed\"\nrole = \"mirror\"\n",
    );
    store.sync_sources(&config.feeds).expect("sync");
    let (a, m) = (
        store.source("a").expect("a").id,
        store.source("m").expect("m").id,
    );
    let day = |d: u32| {
        Utc.with_ymd_and_hms(2026, 4, d, 9, 0, 0)
            .single()
            .expect("valid date")
    };
    let post = |source: &str, guid: &str, title: &str| Item {
        authors: vec!["Ann".into()],
        ..post(
            source,
            guid,
            title,
            &format!("<p>{title}, at length.</p>"),
            Some(day(2)),
        )
    };
    let tx = store.begin_write().expect("begin");
    let mut stories = Vec::new();
    for (index, (source, guid, title, role, reason)) in [
        (a, "1", "First", MemberRole::Post, MatchReason::New),
        (m, "x", "First, again", MemberRole::Copy, MatchReason::New),
        (a, "3", "Third", MemberRole::Post, MatchReason::New),
    ]
    .into_iter()
    .enumerate()
    {
        let published = day(u32::try_from(index).expect("small") + 1);
        let story = tx
            .create_story(&format!("urn:{}", index + 1), published, day(5))
            .expect("story");
        let item = post(if source == a { "a" } else { "m" }, guid, title);
        tx.insert_item(
            &NewItem {
                source_id: source,
                item: &item,
                content_hash: "h",
                keys: &ItemKeys::default(),
                published,
                story_id: story,
                reason,
                score: 0.5,
                member_role: role,
            },
            day(5),
        )
        .expect("item");
        stories.push(story);
    }
    tx.merge_story(stories[1], stories[0], day(6))
        .expect("merge");
    for (story, sink) in [
        (stories[0], "hook"),
        (stories[0], "chat"),
        (stories[2], "hook"),
    ] {
        tx.enqueue_notification(story, sink, &format!("k{story}{sink}"), day(6), day(6))
            .expect("notify");
    }
    tx.commit().expect("commit");
}

#[test]
fn story_reads_as_on_sqlite() {
    let Some(cluster) = Cluster::start("story_reads_as_on_sqlite") else {
        return;
    };
    let url = cluster.database("reads");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("t.db");
    let mut sqlite = Store::open(db.clone()).expect("open SQLite store");
    let mut pg = open_store(&url);
    stories_script(&mut sqlite);
    stories_script(&mut pg);
    // A correction's row and delivery outcomes, by hand on both (the outbox's writers are not
    // ported yet; corrections are compared in `corrections_are_made_as_on_sqlite`).
    for sql in [
        "INSERT INTO corrections (action, item_id, story_id, other_id, created_at)
         VALUES ('merge', NULL, 1, 2, '2026-04-06T09:00:00.000000Z')",
        "UPDATE outbox SET state = 'delivered' WHERE sink = 'chat'",
        "UPDATE outbox SET state = 'dead', last_error = 'HTTP 500' WHERE story_id = 3",
    ] {
        rusqlite::Connection::open(&db)
            .expect("open SQLite")
            .execute(sql, [])
            .expect("SQLite");
        postgres::Client::connect(&url, postgres::NoTls)
            .expect("connect")
            .execute(sql, &[])
            .expect("PostgreSQL");
    }

    assert_eq!(
        pg.stories(10).expect("stories"),
        sqlite.stories(10).expect("stories")
    );
    assert_eq!(sqlite.stories(10).expect("stories").len(), 2);
    for key in ["1", "2", "3", "urn:1", "urn:2", "99", "urn:none"] {
        assert_eq!(
            pg.story(key).expect("story"),
            sqlite.story(key).expect("story"),
            "{key}"
        );
    }
    // A story folded away resolves to the one it joined.
    assert_eq!(pg.story("urn:2").expect("story").map(|s| s.id), Some(1));
    for table in [
        CountedTable::Items,
        CountedTable::Stories,
        CountedTable::PendingOutbox,
    ] {
        assert_eq!(
            pg.count(table).expect("count"),
            sqlite.count(table).expect("count"),
            "{table:?}"
        );
    }
    for story in [1, 2, 3] {
        assert_eq!(
            pg.corrections_of(story).expect("corrections"),
            sqlite.corrections_of(story).expect("corrections"),
        );
    }
    assert_eq!(pg.corrections_of(2).expect("corrections").len(), 1);
    let totals = sqlite.sink_totals().expect("totals");
    assert_eq!(totals.len(), 2);
    assert_eq!(pg.sink_totals().expect("totals"), totals);
    assert_eq!(
        pg.next_delivery_due().expect("next due"),
        sqlite.next_delivery_due().expect("next due")
    );
}

/// The corrections `corrections_are_made_as_on_sqlite` makes, on one store; what each returned
/// (the correction, or the error in words), for comparing the two backends.
fn corrections_script(store: &mut Store) -> Vec<String> {
    let at = |hour: u32| {
        Utc.with_ymd_and_hms(2026, 4, 7, hour, 0, 0)
            .single()
            .expect("valid date")
    };
    let mut outcomes = Vec::new();
    let mut note = |outcome: Result<tributary::store::Correction, StoreError>| {
        outcomes.push(match outcome {
            Ok(correction) => format!("{correction:?}"),
            Err(error) => format!("error: {error}"),
        });
    };
    // Story 1 holds items 1 and 2 (story 2 was folded into it), story 3 item 3.
    note(store.split_item(2, at(1)));
    note(store.split_item(2, at(2)));
    note(store.split_item(99, at(2)));
    note(store.merge_stories("1", "4", at(3)));
    note(store.merge_stories("3", "urn:1", at(4)));
    note(store.merge_stories("3", "4", at(5)));
    note(store.merge_stories("3", "urn:3", at(5)));
    note(store.merge_stories("3", "urn:none", at(5)));
    // Split a second time, the item gets a story with a fresh Atom id.
    note(store.split_item(2, at(6)));
    outcomes
}

#[test]
fn corrections_are_made_as_on_sqlite() {
    let Some(cluster) = Cluster::start("corrections_are_made_as_on_sqlite") else {
        return;
    };
    let url = cluster.database("corrections");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("t.db");
    let mut sqlite = Store::open(db.clone()).expect("open SQLite store");
    let pg_target = StorageTarget::Postgres(PgTarget::parse(&url).expect("valid URL"));
    let mut pg = Store::open(pg_target.clone()).expect("open PostgreSQL store");
    stories_script(&mut sqlite);
    stories_script(&mut pg);

    let outcomes = corrections_script(&mut sqlite);
    assert_eq!(corrections_script(&mut pg), outcomes);
    assert_eq!(
        outcomes.iter().filter(|o| o.starts_with("error")).count(),
        5,
        "{outcomes:#?}"
    );
    for (sqlite_sql, pg_sql) in [
        (
            "SELECT id, atom_id, published, updated_at, merged_into, pinned FROM stories
             ORDER BY id",
            "SELECT id::text, atom_id, published, updated_at, merged_into::text, pinned::text
             FROM stories ORDER BY id",
        ),
        (
            "SELECT id, story_id, match_reason, match_score FROM items ORDER BY id",
            "SELECT id::text, story_id::text, match_reason, match_score::text FROM items
             ORDER BY id",
        ),
        (
            "SELECT id, action, item_id, story_id, other_id, created_at FROM corrections
             ORDER BY id",
            "SELECT id::text, action, item_id::text, story_id::text, other_id::text, created_at
             FROM corrections ORDER BY id",
        ),
        (
            "SELECT story_id, sink, state FROM outbox ORDER BY id",
            "SELECT story_id::text, sink, state FROM outbox ORDER BY id",
        ),
    ] {
        let on_sqlite = sqlite_rows(&db, sqlite_sql);
        assert!(!on_sqlite.is_empty(), "{sqlite_sql}");
        assert_eq!(pg_rows(&url, pg_sql), on_sqlite, "{sqlite_sql}");
    }
    assert_eq!(
        pg.stories(10).expect("stories"),
        sqlite.stories(10).expect("stories")
    );
    for story in 1..=5 {
        assert_eq!(
            pg.corrections_of(story).expect("corrections"),
            sqlite.corrections_of(story).expect("corrections"),
        );
    }

    // A correction waits for another instance's write (the ingest lock), as ingest does.
    let mut other = Store::open(pg_target).expect("open a second PostgreSQL store");
    let split_done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let held = other.begin_write().expect("the other instance's write");
        let splitter = scope.spawn(|| {
            let at = Utc.with_ymd_and_hms(2026, 4, 8, 9, 0, 0).single();
            let split = pg.split_item(1, at.expect("valid date"));
            split_done.store(true, Ordering::SeqCst);
            split
        });
        // Long enough for an unserialised split to have committed many times over.
        std::thread::sleep(std::time::Duration::from_millis(500));
        assert!(
            !split_done.load(Ordering::SeqCst),
            "a split ran while another instance held the write lock"
        );
        held.commit().expect("the other instance commits");
        splitter
            .join()
            .expect("split thread")
            .expect("the split, once the lock is free");
    });
}

/// The acknowledgements `websub_acknowledgements_as_on_sqlite` records, on one store; what
/// each hub reads back afterwards, sorted.
fn websub_script(store: &Store) -> Vec<(String, Vec<(String, String)>)> {
    let at = |minute: u32| {
        Utc.with_ymd_and_hms(2026, 4, 9, 9, minute, 0)
            .single()
            .expect("valid date")
    };
    let (hub, other) = ("https://hub.example/", "https://other.example/");
    let (atom, json) = ("https://f.example/feed.atom", "https://f.example/feed.json");
    for (minute, (hub, feed, etag)) in [
        (hub, atom, "v1"),
        (hub, json, "j1"),
        (hub, atom, "v2"),
        (other, atom, "v1"),
    ]
    .into_iter()
    .enumerate()
    {
        let minute = u32::try_from(minute).expect("a few");
        store
            .record_websub_ack(hub, feed, etag, at(minute))
            .expect("record");
    }
    [hub, other, "https://none.example/"]
        .into_iter()
        .map(|hub| {
            let mut acks: Vec<(String, String)> = store
                .websub_acknowledged(hub)
                .expect("read")
                .into_iter()
                .collect();
            acks.sort();
            (hub.to_owned(), acks)
        })
        .collect()
}

/// Stamps of merged-feed files, recorded and replaced (see `emit::publish_atom`).
fn stamp_script(store: &Store) -> Vec<Option<String>> {
    let mut read = vec![store.published_stamp("/srv/a.atom").expect("read")];
    store
        .record_published_stamp("/srv/a.atom", "one")
        .expect("record");
    store
        .record_published_stamp("/srv/b.atom", "two")
        .expect("record");
    store
        .record_published_stamp("/srv/a.atom", "three")
        .expect("replace");
    for path in ["/srv/a.atom", "/srv/b.atom", "/srv/c.atom"] {
        read.push(store.published_stamp(path).expect("read"));
    }
    read
}

#[test]
fn published_stamps_as_on_sqlite() {
    let Some(cluster) = Cluster::start("published_stamps_as_on_sqlite") else {
        return;
    };
    let url = cluster.database("stamps");
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Store::open(dir.path().join("t.db")).expect("open SQLite store");
    let read = stamp_script(&sqlite);
    assert_eq!(
        read,
        [None, Some("three".to_owned()), Some("two".to_owned()), None]
    );
    assert_eq!(stamp_script(&open_store(&url)), read);
}

#[test]
fn websub_acknowledgements_as_on_sqlite() {
    let Some(cluster) = Cluster::start("websub_acknowledgements_as_on_sqlite") else {
        return;
    };
    let url = cluster.database("websub");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("t.db");
    let sqlite = Store::open(db.clone()).expect("open SQLite store");
    let pg = open_store(&url);

    let read = websub_script(&sqlite);
    assert_eq!(websub_script(&pg), read);
    // Each hub reads its own; a repeated acknowledgement replaced the one before.
    assert_eq!(
        read.iter().map(|(_, acks)| acks.len()).collect::<Vec<_>>(),
        [2, 1, 0]
    );
    let on_sqlite = sqlite_rows(
        &db,
        "SELECT hub, feed_url, etag, pinged_at FROM websub_pings ORDER BY hub, feed_url",
    );
    assert_eq!(on_sqlite.len(), 3);
    assert_eq!(
        pg_rows(
            &url,
            "SELECT hub, feed_url, etag, pinged_at FROM websub_pings ORDER BY hub, feed_url"
        ),
        on_sqlite
    );
}

/// The outbox calls `outbox_calls_as_on_sqlite` makes on one store after `stories_script`, and
/// what each returned, for comparing the two backends.
fn outbox_script(store: &mut Store) -> Vec<String> {
    let at = |day: u32, hour: u32| {
        Utc.with_ymd_and_hms(2026, 4, day, hour, 0, 0)
            .single()
            .expect("valid date")
    };
    let mut seen = Vec::new();
    let mut note = |what: &str, value: String| seen.push(format!("{what}: {value}"));
    note("next due", format!("{:?}", store.next_delivery_due()));
    note(
        "not yet",
        format!("{:?}", store.due_deliveries(at(5, 9), None, 10, None)),
    );
    note(
        "hook",
        format!(
            "{:?}",
            store.due_deliveries(at(7, 9), Some("hook"), 10, None)
        ),
    );
    let due = store.due_deliveries(at(7, 9), None, 10, None).expect("due");
    note("all", format!("{due:?}"));
    // The filters the daemon's worker asks the store for: rows created before a cut-off,
    // and rows of sinks no longer configured; each reads what filtering `due` would keep.
    let ids_of = |deliveries: &[tributary::store::Delivery]| -> Vec<i64> {
        deliveries.iter().map(|d| d.id).collect()
    };
    let newest = due
        .iter()
        .map(|d| d.created_at)
        .max()
        .expect("rows are due");
    let before = store
        .due_deliveries(at(7, 9), None, 10, Some(newest))
        .expect("due before");
    assert_eq!(
        ids_of(&before),
        ids_of(&due)
            .into_iter()
            .zip(&due)
            .filter(|(_, d)| d.created_at < newest)
            .map(|(id, _)| id)
            .collect::<Vec<_>>()
    );
    assert!(
        store
            .due_deliveries(at(7, 9), None, 10, Some(at(1, 0)))
            .expect("none before")
            .is_empty()
    );
    note("created before", format!("{before:?}"));
    let orphans = store
        .orphaned_deliveries(at(7, 9), &["hook"], 10)
        .expect("orphans");
    assert!(!orphans.is_empty() && orphans.iter().all(|d| d.sink != "hook"));
    assert_eq!(
        ids_of(&orphans),
        due.iter()
            .filter(|d| d.sink != "hook")
            .map(|d| d.id)
            .collect::<Vec<_>>()
    );
    note("orphans", format!("{orphans:?}"));
    assert!(
        store
            .orphaned_deliveries(at(7, 9), &["hook", "chat"], 10)
            .expect("no orphans")
            .is_empty()
    );
    let ids: Vec<i64> = due.iter().map(|d| d.id).collect();
    // Story 1 to `hook` is acknowledged, story 3 to `hook` fails once, story 1 to `chat` is
    // filtered out; the acknowledged one recorded again changes nothing.
    note(
        "attempt",
        format!("{:?}", store.start_attempt(&ids, at(7, 10))),
    );
    let (sent, failed, filtered) = (&due[0], &due[2], &due[1]);
    let outcomes = [
        (
            sent.id,
            DeliveryUpdate::Delivered {
                remote_id: Some("r1".into()),
                generation: sent.generation,
            },
        ),
        (
            failed.id,
            DeliveryUpdate::Retry {
                at: at(8, 9),
                error: "HTTP 503".into(),
            },
        ),
        (filtered.id, DeliveryUpdate::Filtered),
        (
            sent.id,
            DeliveryUpdate::Dead {
                error: "late".into(),
            },
        ),
    ];
    for (id, update) in &outcomes {
        note(
            "record",
            format!("{:?}", store.record_delivery(*id, update, at(7, 11))),
        );
    }
    note("next due", format!("{:?}", store.next_delivery_due()));
    // An edit of the acknowledged story, read, then a change folded into it before its
    // attempt starts: recording it acknowledged queues a follow-up with the change it missed.
    let change = |title: &str| StoryChange::MemberAdded {
        feed: "m".into(),
        member_role: "copy".into(),
        title: title.into(),
        link: None,
    };
    let tx = store.begin_write().expect("begin");
    tx.enqueue_update(sent.story_id, "hook", &change("one"), at(7, 12), at(7, 12))
        .expect("edit");
    tx.commit().expect("commit");
    let due = store
        .due_deliveries(at(7, 12), None, 10, None)
        .expect("due");
    note("edit", format!("{due:?}"));
    let edit = due.first().expect("the edit").clone();
    let tx = store.begin_write().expect("begin");
    tx.enqueue_update(sent.story_id, "hook", &change("two"), at(7, 12), at(7, 12))
        .expect("fold");
    tx.commit().expect("commit");
    note(
        "attempt",
        format!("{:?}", store.start_attempt(&[edit.id], at(7, 13))),
    );
    let delivered = DeliveryUpdate::Delivered {
        remote_id: None,
        generation: edit.generation,
    };
    note(
        "record",
        format!(
            "{:?}",
            store.record_delivery(edit.id, &delivered, at(7, 13))
        ),
    );
    note(
        "follow-up",
        format!("{:?}", store.due_deliveries(at(9, 9), None, 10, None)),
    );
    note("next due", format!("{:?}", store.next_delivery_due()));
    seen
}

#[test]
fn outbox_calls_as_on_sqlite() {
    let Some(cluster) = Cluster::start("outbox_calls_as_on_sqlite") else {
        return;
    };
    let url = cluster.database("deliveries");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("t.db");
    let mut sqlite = Store::open(db.clone()).expect("open SQLite store");
    let mut pg = open_store(&url);
    stories_script(&mut sqlite);
    stories_script(&mut pg);

    let seen = outbox_script(&mut sqlite);
    assert_eq!(outbox_script(&mut pg), seen);
    // What the script went through, so that an empty answer on both cannot pass.
    for expected in [
        "record: Ok(Recorded)",
        "record: Ok(NotPending)",
        "first: Some(Delivered { remote_id: Some(\"r1\")",
        "follow-up: Ok([Delivery",
    ] {
        assert!(
            seen.iter().any(|line| line.contains(expected)),
            "{expected} in {seen:#?}"
        );
    }
    let on_sqlite = sqlite_rows(
        &db,
        "SELECT story_id, sink, idempotency_key, created_at, due_at, attempts, state,
                last_error, delivered_at, kind, revision, changes, generation, remote_id,
                attempted_at FROM outbox ORDER BY id",
    );
    assert_eq!(on_sqlite.len(), 5, "{on_sqlite:#?}");
    assert_eq!(
        pg_rows(
            &url,
            "SELECT story_id::text, sink, idempotency_key, created_at, due_at,
                    attempts::text, state, last_error, delivered_at, kind, revision::text,
                    changes, generation::text, remote_id, attempted_at FROM outbox ORDER BY id",
        ),
        on_sqlite
    );
    // Every outcome released its claim; the rows read last are this instance's.
    let claims = pg_rows(
        &url,
        "SELECT state, (claimed_by IS NOT NULL)::text FROM outbox ORDER BY id",
    );
    assert!(
        claims.iter().all(
            |row| (row[0].as_deref() == Some("pending")) == (row[1].as_deref() == Some("true"))
        ),
        "{claims:#?}"
    );
}

#[test]
fn two_instances_claim_disjoint_deliveries_and_take_over_expired_claims() {
    let Some(cluster) =
        Cluster::start("two_instances_claim_disjoint_deliveries_and_take_over_expired_claims")
    else {
        return;
    };
    let url = cluster.database("claims");
    let target = StorageTarget::Postgres(PgTarget::parse(&url).expect("valid URL"));
    let mut one = Store::open(target.clone()).expect("open one");
    let mut two = Store::open(target).expect("open two");
    assert_ne!(one.instance(), two.instance());
    stories_script(&mut one);
    // Seconds after 09:00: a claim lasts a minute.
    let at = |day: u32, second: i64| {
        Utc.with_ymd_and_hms(2026, 4, day, 9, 0, 0)
            .single()
            .expect("valid date")
            + chrono::TimeDelta::seconds(second)
    };
    // Many rows, so that two claims at once meet.
    let tx = one.begin_write().expect("begin");
    for n in 0..200 {
        tx.enqueue_notification(
            1,
            &format!("sink{n}"),
            &format!("key{n}"),
            at(6, 0),
            at(6, 0),
        )
        .expect("notify");
    }
    tx.commit().expect("commit");
    let pending =
        usize::try_from(one.count(CountedTable::PendingOutbox).expect("count")).expect("a count");

    // Claiming at the same moment, the two get disjoint rows, and every due row once.
    let barrier = std::sync::Barrier::new(2);
    // Each takes at most 150 of the 203, so both get some whichever runs first.
    let claim = |store: &mut Store| {
        barrier.wait();
        store
            .due_deliveries(at(7, 0), None, 150, None)
            .expect("claim")
    };
    let (first, second) = std::thread::scope(|scope| {
        let claim = &claim;
        let a = scope.spawn(|| claim(&mut one));
        let b = scope.spawn(|| claim(&mut two));
        (a.join().expect("one"), b.join().expect("two"))
    });
    let ids = |rows: &[tributary::store::Delivery]| -> HashSet<i64> {
        rows.iter().map(|d| d.id).collect()
    };
    let (mine, theirs) = (ids(&first), ids(&second));
    assert!(mine.is_disjoint(&theirs), "{mine:?} and {theirs:?}");
    assert_eq!(mine.len() + theirs.len(), pending);
    assert!(!mine.is_empty() && !theirs.is_empty(), "{pending}");
    // Each re-reads its own claims (as the one instance on SQLite does), never the other's.
    assert_eq!(
        ids(&one
            .due_deliveries(at(7, 20), None, 1000, None)
            .expect("again")),
        mine
    );
    assert_eq!(
        ids(&two
            .due_deliveries(at(7, 20), None, 1000, None)
            .expect("again")),
        theirs
    );

    // The other instance cannot start or record a row it does not hold.
    let row = first.first().expect("a row of one's").clone();
    assert!(
        two.start_attempt(&[row.id], at(7, 30))
            .expect("attempt")
            .is_empty()
    );
    let failed = DeliveryUpdate::Retry {
        at: at(8, 0),
        error: "HTTP 500".into(),
    };
    assert_eq!(
        two.record_delivery(row.id, &failed, at(7, 30))
            .expect("record"),
        RecordOutcome::ClaimLost {
            holder: Some(one.instance().to_owned())
        }
    );
    // To a third instance, every row is due when a claim on it ends, not now.
    let three = open_store(&url);
    let next = three.next_delivery_due().expect("next due").expect("a row");
    assert!(next > at(7, 30), "{next}");
    assert!(
        three
            .due_deliveries(at(7, 30), None, 1000, None)
            .expect("none")
            .is_empty()
    );

    // One starts sending and stalls past its lease: two takes the row over, with the same
    // idempotency key, and its outcome stands; one's late outcome is dropped.
    assert_eq!(
        one.start_attempt(&[row.id], at(7, 30)).expect("attempt"),
        [row.id]
    );
    let later = at(7, 150);
    let taken: Vec<_> = two
        .due_deliveries(later, None, 1000, None)
        .expect("take over")
        .into_iter()
        .filter(|d| d.id == row.id)
        .collect();
    assert_eq!(taken.len(), 1, "the expired claim is taken over");
    assert_eq!(taken[0].idempotency_key, row.idempotency_key);
    assert!(
        one.start_attempt(&[row.id], later)
            .expect("attempt")
            .is_empty()
    );
    assert_eq!(
        two.start_attempt(&[row.id], later).expect("attempt"),
        [row.id]
    );
    let delivered = DeliveryUpdate::Delivered {
        remote_id: Some("r".into()),
        generation: taken[0].generation,
    };
    assert_eq!(
        one.record_delivery(row.id, &failed, later).expect("record"),
        RecordOutcome::ClaimLost {
            holder: Some(two.instance().to_owned())
        }
    );
    assert_eq!(
        two.record_delivery(row.id, &delivered, later)
            .expect("record"),
        RecordOutcome::Recorded
    );
    assert_eq!(
        one.record_delivery(row.id, &failed, later).expect("record"),
        RecordOutcome::NotPending
    );
    let stored = pg_rows(
        &url,
        &format!(
            "SELECT state, attempts::text, last_error, remote_id, claimed_by FROM outbox
             WHERE id = {}",
            row.id
        ),
    );
    assert_eq!(
        stored,
        [vec![
            Some("delivered".to_owned()),
            Some("1".to_owned()),
            None,
            Some("r".to_owned()),
            None
        ]]
    );
}

#[test]
fn an_upgrade_indexes_the_words_of_stored_items_on_postgres() {
    let Some(cluster) = Cluster::start("an_upgrade_indexes_the_words_of_stored_items") else {
        return;
    };
    let url = cluster.database("words");
    let config = feeds(
        "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/feed\"\n\
         [[feeds]]\nname = \"m\"\nurl = \"https://m.example/feed\"\nrole = \"mirror\"\n",
    );
    let day = |d: u32| {
        Utc.with_ymd_and_hms(2026, 4, d, 9, 0, 0)
            .single()
            .expect("valid date")
    };
    {
        let mut store = open_store(&url);
        store.sync_sources(&config.feeds).expect("sync");
        let context = IngestContext::new(&config);
        let mut poll = |name: &str, items: Vec<Item>| {
            let source = store.source(name).expect("source");
            let parsed: Vec<ParsedItem> = items.into_iter().map(ParsedItem::from).collect();
            ingest::ingest(
                &mut store,
                &source,
                &parsed,
                &PollState::default(),
                &context,
                day(6),
            )
            .expect("ingest");
        };
        poll(
            "a",
            vec![
                post(
                    "a",
                    "1",
                    "Why lighthouse keepers went home",
                    "wicks",
                    Some(day(2)),
                ),
                post("a", "2", "Tides", "moon", Some(day(3))),
            ],
        );
        poll(
            "m",
            vec![post(
                "m",
                "n",
                "Keepers, towers and clockwork",
                "storm diaries",
                None,
            )],
        );
    }
    let rows = |table: &str| {
        pg_rows(
            &url,
            &format!("SELECT word::text, item_id::text FROM {table} ORDER BY word, item_id"),
        )
    };
    let (titles, mirrors) = (rows("title_words"), rows("mirror_words"));
    assert_eq!(
        (titles.len(), mirrors.len()),
        (5, 5),
        "as written by ingest"
    );
    // The database as it was before the words index.
    postgres::Client::connect(&url, postgres::NoTls)
        .expect("connect")
        .batch_execute(
            "DROP TABLE title_words; DROP TABLE mirror_words; DROP TABLE published_files;
             UPDATE tributary_schema SET version = 2;",
        )
        .expect("downgrade");
    drop(open_store(&url));
    assert_eq!(rows("title_words"), titles, "as if stored after it");
    assert_eq!(rows("mirror_words"), mirrors);

    // More stored items than one page of the upgrade's reads: 1,100 copies of the first essay
    // under guids of their own, made after ingest, so that only the upgrade indexes them.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    client
        .batch_execute(
            "INSERT INTO items (source_id, guid, data, content_hash, canonical_url, title_key,
                                published, first_seen, changed_at, story_id, match_reason,
                                match_score, member_role)
             SELECT source_id, guid || '-' || n, data, content_hash, canonical_url, title_key,
                    published, first_seen, changed_at, story_id, match_reason, match_score,
                    member_role
             FROM items, generate_series(1, 1100) AS n WHERE guid = '1';
             DROP TABLE title_words; DROP TABLE mirror_words; DROP TABLE published_files;
             UPDATE tributary_schema SET version = 2;",
        )
        .expect("copies, then the database as it was before the words index");
    drop(open_store(&url));
    let mut count = |sql: &str| -> i64 { client.query_one(sql, &[]).expect("count").get(0) };
    assert_eq!(
        count("SELECT count(DISTINCT item_id) FROM title_words"),
        1102,
        "every writer's item, over two pages"
    );
    assert_eq!(count("SELECT count(*) FROM title_words"), 4 * 1101 + 1);
}
