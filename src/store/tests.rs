use chrono::TimeZone;
use sha2::{Digest, Sha256};

use super::*;
use crate::config::Config;
use crate::ingest::{self, IngestContext};
use crate::normalize::ParsedItem;

/// Hand-built items, taken as already sanitised.
fn parsed(items: &[Item]) -> Vec<ParsedItem> {
    items.iter().cloned().map(ParsedItem::from).collect()
}

/// Ingests hand-built items as one poll of `source`.
fn ingest_items(
    store: &mut Store,
    source: &SourceRecord,
    items: &[Item],
    state: &PollState,
    context: &IngestContext,
    now: DateTime<Utc>,
) -> ingest::IngestSummary {
    ingest::ingest(store, source, &parsed(items), state, context, now).expect("ingest")
}

fn save_state(store: &mut Store, source_id: i64, state: &PollState) {
    let tx = store.begin_write().expect("begin");
    tx.save_poll_state(source_id, state).expect("save");
    tx.commit().expect("commit");
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, day, 9, 0, 0)
        .single()
        .expect("valid date")
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path().join("t.db")).expect("open store")
}

fn with_feeds(store: &mut Store, names: &[(&str, Role)]) -> Vec<SourceRecord> {
    let toml: String = names
        .iter()
        .map(|(name, role)| {
            format!(
                "[[feeds]]\nname = \"{name}\"\nurl = \"https://{name}.example/feed\"\nrole = \"{}\"\n",
                role.as_str()
            )
        })
        .collect();
    let config = Config::parse(&toml, "test").expect("config");
    store.sync_sources(&config.feeds).expect("sync");
    store.sources().expect("sources")
}

fn post(source: &str, guid: &str, title: &str, body: &str, day: u32) -> Item {
    Item::test_post(source, guid, title, body, at(day))
}

#[test]
fn migrations_are_append_only() {
    // The hash of every shipped migration. A mismatch means a shipped migration was edited:
    // add a new one at the end instead. Append the new hash here when you add one.
    const SHIPPED: &[&str] = &[
        "82a455a588a67c5ff44ce598abf6d079687016d7d6c8a9b68e7b151c20f43176",
        "8661a6e65aa2d6430eef88a68d3998a786dc70dedac71233d3c02ea8fc9769a6",
        "035c3236c837590b7999450ccffaa5d878b065740cdadfefa78cda0a85183a20",
        "be5b4bb99d4238c11e1df60c9512895e98ea39d5a11cfa11b088163fb472b8b6",
        "38665cf3e1ff9779879725887c3f9c80747cd981abc7b7467fa3ce3000f354ec",
        "795715186a04e95c4fdefb056dcfae8c89c0cd1e757232eab85a46d2fb228677",
        "45bca6d61854661565cf327a3c64bf5a51e202e1487e37847b03b9ae2cc3d6fa",
        "44fea01379a1ed97f05439595cfe2b9c5cd187e2b4203cc1c10d09b6018c589f",
        "9dea5f4ea8e017def0ef1d40585c4746c7ff592521678a6718d33b658e34e0aa",
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
fn open_applies_schema_once_and_uses_wal() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(open(&dir));
    let store = open(&dir);
    let version: usize = store
        .sqlite("a test")
        .expect("a SQLite store")
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, MIGRATIONS.len());
    let mode: String = store
        .sqlite("a test")
        .expect("a SQLite store")
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
}

#[test]
fn closing_the_store_leaves_its_writes_in_the_wal_and_the_next_open_reads_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = dir.path().join("t.db-wal");
    {
        let mut store = open(&dir);
        with_feeds(&mut store, &[("a", Role::Origin), ("b", Role::Mirror)]);
    }
    // Closed without a checkpoint: the WAL is still there, holding the feeds' rows.
    let wal_bytes = std::fs::metadata(&wal)
        .expect("the WAL outlives the store")
        .len();
    assert!(wal_bytes > 0, "the WAL was emptied on close");
    let store = open(&dir);
    let names: Vec<String> = store
        .sqlite("a test")
        .expect("a SQLite store")
        .prepare("SELECT name FROM sources ORDER BY name")
        .expect("prepare")
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(names, ["a", "b"]);
}

#[test]
fn items_stored_with_the_old_hash_are_rehashed_not_updated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin)]);
    let context = IngestContext::default();
    let items = vec![post("a", "1", "First essay on rivers", "one two three", 1)];
    let state = PollState::default();
    ingest_items(&mut store, &sources[0], &items, &state, &context, at(3));
    // What a release that hashed the sanitised item stored.
    let legacy = hex_digest(&serde_json::to_vec(&items[0]).expect("serialise"));
    store
        .sqlite("a test")
        .expect("a SQLite store")
        .execute("UPDATE items SET content_hash = ?1", [&legacy])
        .expect("set the old hash");

    let again = ingest_items(&mut store, &sources[0], &items, &state, &context, at(4));
    assert_eq!((again.unchanged_items, again.updated_items), (1, 0));
    let (hash, changed_at): (String, String) = store
        .sqlite("a test")
        .expect("a SQLite store")
        .query_row("SELECT content_hash, changed_at FROM items", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .expect("row");
    assert_eq!(hash, parsed(&items)[0].content_hash());
    assert_eq!(
        changed_at,
        timestamp(at(3)),
        "an unchanged item is not marked changed"
    );
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_newer_database_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    store
        .sqlite("a test")
        .expect("a SQLite store")
        .pragma_update(None, "user_version", 999)
        .expect("set version");
    drop(store);
    let error = Store::open(dir.path().join("t.db")).err().expect("refused");
    assert!(error.to_string().contains("999"), "{error}");
}

#[test]
fn the_largest_limit_reads_every_story() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    assert!(store.stories(usize::MAX).expect("stories").is_empty());
}

#[test]
fn a_negative_schema_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    store
        .sqlite("a test")
        .expect("a SQLite store")
        .pragma_update(None, "user_version", -1)
        .expect("set version");
    drop(store);
    let error = Store::open(dir.path().join("t.db")).err().expect("refused");
    assert!(
        matches!(error, StoreError::NegativeVersion { found: -1, .. }),
        "{error}"
    );
}

#[test]
fn repolling_stores_nothing_new_and_edits_update_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin)]);
    let context = IngestContext::default();
    let items = vec![
        post("a", "1", "First essay on rivers", "one two three", 1),
        post("a", "2", "Second essay on tides", "four five six", 2),
    ];
    let state = PollState::default();
    let first = ingest_items(&mut store, &sources[0], &items, &state, &context, at(3));
    assert_eq!((first.new_items, first.new_stories), (2, 2));

    let again = ingest_items(&mut store, &sources[0], &items, &state, &context, at(4));
    assert_eq!((again.new_items, again.unchanged_items), (0, 2));

    let mut edited = items.clone();
    edited[0].title = "First essay on rivers (corrected)".into();
    let third = ingest_items(&mut store, &sources[0], &edited, &state, &context, at(5));
    assert_eq!((third.new_items, third.updated_items), (0, 1));
    assert_eq!(store.count(CountedTable::Items).expect("count"), 2);
    let titles: Vec<_> = store
        .stories(10)
        .expect("stories")
        .iter()
        .map(|s| s.lead().item.title.clone())
        .collect();
    assert!(titles.contains(&"First essay on rivers (corrected)".to_owned()));
    // The edit took the first title's keys out of the indexes (by their keys, derived again
    // from the stored version) and put the new ones in.
    let conn = Connection::open(dir.path().join("t.db")).expect("open");
    let keyed: Vec<String> = conn
        .prepare("SELECT key FROM title_keys ORDER BY key")
        .expect("prepare")
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("keys");
    assert_eq!(
        keyed,
        ["first essay on rivers corrected", "second essay on tides"]
    );

    // An item that leaves the feed's rolling window is kept.
    ingest_items(
        &mut store,
        &sources[0],
        &edited[1..],
        &state,
        &context,
        at(6),
    );
    assert_eq!(store.stories(10).expect("stories").len(), 2);
}

#[test]
fn missing_dates_become_first_seen_and_stay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin)]);
    let mut undated = post("a", "1", "Undated note", "text", 1);
    undated.published = None;
    let context = IngestContext::default();
    let state = PollState::default();
    for day in [3, 4, 5] {
        ingest_items(
            &mut store,
            &sources[0],
            std::slice::from_ref(&undated),
            &state,
            &context,
            at(day),
        );
    }
    let stories = store.stories(10).expect("stories");
    assert_eq!(stories[0].published(), at(3));
}

#[test]
fn an_uncommitted_feed_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin)]);
    {
        let tx = store.begin_write().expect("tx");
        let story = tx.create_story("urn:x", at(1), at(1)).expect("story");
        let item = post("a", "1", "Half written", "text", 1);
        tx.insert_item(
            &NewItem {
                source_id: sources[0].id,
                item: &item,
                content_hash: "h",
                keys: &ItemKeys::default(),
                published: at(1),
                story_id: story,
                reason: MatchReason::New,
                member_role: crate::model::MemberRole::Post,
                score: 1.0,
            },
            at(1),
        )
        .expect("insert");
        // dropped without commit: a crash mid-feed
    }
    assert_eq!(store.count(CountedTable::Items).expect("count"), 0);
    assert_eq!(store.count(CountedTable::Stories).expect("count"), 0);
}

#[test]
fn notifications_are_queued_only_after_backfill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin)]);
    let context = IngestContext {
        sinks: vec![crate::ingest::SinkRoute {
            name: "team".into(),
            ..crate::ingest::SinkRoute::default()
        }],
        ..IngestContext::default()
    };
    let backfilled = PollState {
        backfilled: true,
        ..PollState::default()
    };
    let first = vec![post("a", "1", "Old essay about harbours", "x y z", 1)];
    ingest_items(
        &mut store,
        &sources[0],
        &first,
        &backfilled,
        &context,
        at(2),
    );
    assert_eq!(store.count(CountedTable::PendingOutbox).expect("count"), 0);

    let source = store.source("a").expect("source");
    assert!(source.state.backfilled);
    let second = vec![post("a", "2", "New essay about canals", "p q r", 3)];
    let summary = ingest_items(&mut store, &source, &second, &backfilled, &context, at(3));
    assert_eq!(summary.notifications_queued, 1);
    assert_eq!(store.count(CountedTable::PendingOutbox).expect("count"), 1);
    // Re-ingesting the same story can never queue it twice.
    ingest_items(&mut store, &source, &second, &backfilled, &context, at(4));
    assert_eq!(store.count(CountedTable::PendingOutbox).expect("count"), 1);
}

#[test]
fn removed_feeds_keep_their_items_and_a_new_url_resets_validators() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin)]);
    let state = PollState {
        etag: Some("\"v1\"".into()),
        gone: true,
        ..PollState::default()
    };
    save_state(&mut store, sources[0].id, &state);
    let config = Config::parse(
        "[[feeds]]\nname = \"a\"\nurl = \"https://moved.example/feed\"\n",
        "test",
    )
    .expect("config");
    store.sync_sources(&config.feeds).expect("sync");
    let moved = store.source("a").expect("source");
    assert_eq!(moved.state.etag, None);
    assert!(!moved.state.gone);
    store.sync_sources(&[]).expect("sync");
    assert_eq!(store.sources().expect("sources").len(), 1);
}

#[test]
fn a_story_folded_into_another_resolves_to_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin)]);
    let context = IngestContext::default();
    let items = vec![
        post("a", "1", "First essay on rivers", "one two three", 1),
        post("a", "2", "Second essay on tides", "four five six", 2),
    ];
    ingest_items(
        &mut store,
        &sources[0],
        &items,
        &PollState::default(),
        &context,
        at(3),
    );
    let stories = store.stories(10).expect("stories");
    let (older, younger) = (stories[1].clone(), stories[0].clone());
    let tx = store.begin_write().expect("tx");
    tx.merge_story(younger.id, older.id, at(4)).expect("merge");
    tx.commit().expect("commit");

    let resolved = store
        .story(&younger.atom_id)
        .expect("query")
        .expect("found");
    assert_eq!(resolved.id, older.id);
    assert_eq!(
        resolved.atom_id, older.atom_id,
        "the surviving id never changes"
    );
    assert_eq!(resolved.members.len(), 2);
    assert_eq!(store.stories(10).expect("stories").len(), 1);
}

#[test]
fn a_story_is_found_by_number_or_atom_id_through_an_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin)]);
    let items = vec![post("a", "1", "An essay on rivers", "one two three", 1)];
    let context = IngestContext::default();
    ingest_items(
        &mut store,
        &sources[0],
        &items,
        &PollState::default(),
        &context,
        at(2),
    );
    let story = store.stories(1).expect("stories").remove(0);
    for key in [story.id.to_string(), story.atom_id.clone()] {
        let found = store.story(&key).expect("query").expect("found");
        assert_eq!(found.id, story.id, "{key}");
    }
    assert!(store.story("999999").expect("query").is_none());
    assert!(store.story("urn:nothing").expect("query").is_none());
    // Deliveries look their story up one by one: a scan of the stories table each time would
    // make a long outbox quadratic.
    for (sql, key) in [
        ("SELECT id, merged_into FROM stories WHERE id = ?1", "1"),
        (
            "SELECT id, merged_into FROM stories WHERE atom_id = ?1",
            "urn:x",
        ),
    ] {
        let plan: Vec<String> = store
            .sqlite("a test")
            .expect("a SQLite store")
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("plan")
            .query_map([key], |row| row.get::<_, String>(3))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("plan rows");
        assert!(
            plan.iter().all(|step| !step.starts_with("SCAN")),
            "{sql}: {plan:?}"
        );
    }
}

#[test]
fn an_older_database_is_migrated_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(MIGRATIONS[0]).expect("first migration");
        conn.pragma_update(None, "user_version", 1)
            .expect("version");
        conn.execute(
            "INSERT INTO sources (name, url, role) VALUES ('a', 'https://a.example/feed', 'origin')",
            [],
        )
        .expect("a source from before");
    }
    let store = Store::open(&path).expect("migrates");
    let source = store.source("a").expect("kept");
    assert_eq!(source.fetch_url(), "https://a.example/feed");
    assert_eq!(source.state.redirect_seen, 0);
}

#[test]
fn a_moved_feed_is_polled_at_its_new_home_until_its_url_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin)]);
    let moved = PollState {
        moved_to: Some("https://new.example/feed".into()),
        ..PollState::default()
    };
    save_state(&mut store, sources[0].id, &moved);
    with_feeds(&mut store, &[("a", Role::Origin)]);
    assert_eq!(
        store.source("a").expect("source").fetch_url(),
        "https://new.example/feed",
        "a re-sync with the same config keeps the move"
    );
    let config = Config::parse(
        "[[feeds]]\nname = \"a\"\nurl = \"https://chosen.example/feed\"\n",
        "test",
    )
    .expect("config");
    store.sync_sources(&config.feeds).expect("sync");
    assert_eq!(
        store.source("a").expect("source").fetch_url(),
        "https://chosen.example/feed",
        "the admin's new URL wins"
    );
}

/// An origin post and a mirror's copy of it (one story), and an unrelated post (another).
fn copy_and_unrelated(store: &mut Store) -> (i64, i64, i64) {
    let sources = with_feeds(store, &[("a", Role::Origin), ("m", Role::Mirror)]);
    let context = IngestContext::default();
    let body = "rivers carry the mountains to the sea one grain at a time and nobody notices";
    let state = PollState::default();
    let origin = vec![
        post("a", "1", "What rivers carry away", body, 2),
        post("a", "2", "Second essay on tides", "four five six", 5),
    ];
    ingest_items(store, &sources[0], &origin, &state, &context, at(6));
    let copy = vec![post("m", "x", "What rivers carry away", body, 1)];
    ingest_items(store, &sources[1], &copy, &state, &context, at(6));
    let stories = store.stories(10).expect("stories");
    assert_eq!(stories.len(), 2, "the copy joined the post");
    let (tides, rivers) = (&stories[0], &stories[1]);
    let copy_item = rivers
        .members
        .iter()
        .find(|m| m.stored.role == Role::Mirror)
        .expect("the copy")
        .stored
        .id;
    (rivers.id, tides.id, copy_item)
}

fn pinned(store: &mut Store, story_id: i64) -> bool {
    let tx = store.begin_write().expect("begin");
    tx.story_pinned(story_id).expect("pinned")
}

#[test]
fn a_split_item_gets_a_pinned_story_and_the_correction_is_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let (rivers, _, copy) = copy_and_unrelated(&mut store);
    assert!(!pinned(&mut store, rivers));

    let split = store.split_item(copy, at(7)).expect("split");
    assert_eq!(
        (split.action, split.item, split.other),
        (CorrectionAction::Split, Some(copy), rivers)
    );
    assert!(pinned(&mut store, split.story));
    let alone = store
        .story(&split.story.to_string())
        .expect("query")
        .expect("the new story");
    assert_eq!(alone.members.len(), 1);
    assert_eq!(alone.members[0].stored.id, copy);
    assert_eq!(alone.members[0].reason, MatchReason::Manual);
    let left = store
        .story(&rivers.to_string())
        .expect("query")
        .expect("the old story");
    assert_eq!(left.members.len(), 1);
    let published: String = store
        .sqlite("a test")
        .expect("a SQLite store")
        .query_row(
            "SELECT published FROM stories WHERE id = ?1",
            [rivers],
            |row| row.get(0),
        )
        .expect("published");
    assert_eq!(
        published,
        timestamp(at(2)),
        "the date of the earliest member left"
    );
    assert_eq!(
        store.corrections_of(split.story).expect("of"),
        vec![split.clone()]
    );
    assert_eq!(
        store.corrections_of(rivers).expect("of"),
        vec![split.clone()]
    );

    match store.split_item(copy, at(8)) {
        Err(StoreError::ItemAlreadyAlone { item, story }) => {
            assert_eq!((item, story), (copy, split.story));
        }
        other => panic!("a lone item cannot be split: {other:?}"),
    }
    assert!(matches!(
        store.split_item(999, at(8)),
        Err(StoreError::UnknownItem(999))
    ));

    // Merged back and split again, the item gets a story with an Atom id of its own.
    store
        .merge_stories(&rivers.to_string(), &split.story.to_string(), at(9))
        .expect("merge back");
    assert!(
        pinned(&mut store, rivers),
        "a story that takes in a split story keeps its pin"
    );
    let again = store.split_item(copy, at(10)).expect("split again");
    let atom_id = |id: i64| -> String {
        store
            .sqlite("a test")
            .expect("a SQLite store")
            .query_row("SELECT atom_id FROM stories WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .expect("atom id")
    };
    assert_ne!(atom_id(again.story), atom_id(split.story));
    assert_eq!(store.count(CountedTable::PendingOutbox).expect("count"), 0);
}

#[test]
fn a_merge_keeps_the_first_story_and_names_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let (rivers, tides, _) = copy_and_unrelated(&mut store);
    let tides_atom_id = store
        .story(&tides.to_string())
        .expect("query")
        .expect("tides")
        .atom_id;

    let merged = store
        .merge_stories(&tides.to_string(), &rivers.to_string(), at(7))
        .expect("merge");
    assert_eq!(
        (merged.action, merged.item, merged.story, merged.other),
        (CorrectionAction::Merge, None, tides, rivers)
    );
    let kept = store
        .story(&rivers.to_string())
        .expect("query")
        .expect("resolves to the story kept");
    assert_eq!(
        (kept.id, kept.atom_id.as_str()),
        (tides, tides_atom_id.as_str())
    );
    assert_eq!(kept.members.len(), 3);
    assert_eq!(
        kept.members
            .iter()
            .filter(|m| m.reason == MatchReason::Manual)
            .count(),
        2,
        "the members folded in are there by hand"
    );
    assert_eq!(store.stories(10).expect("stories").len(), 1);
    assert_eq!(store.corrections_of(tides).expect("of"), vec![merged]);

    let mut refused = |story: &str, other: &str| {
        store
            .merge_stories(story, other, at(8))
            .expect_err("refused")
            .to_string()
    };
    let again = refused(&tides_atom_id, &rivers.to_string());
    assert!(
        again.contains(&format!(
            "story `{rivers}` was already merged into story {tides}"
        )),
        "{again}"
    );
    let same = refused(&tides.to_string(), &tides_atom_id);
    assert!(same.contains("the same story"), "{same}");
    let unknown = refused("urn:nope", &tides.to_string());
    assert!(unknown.contains("no story `urn:nope`"), "{unknown}");
}

/// A text that says nothing of rivers or tides, so only its links can tie it to an essay.
fn link_page(source: &str, guid: &str, title: &str, links: &[&str], day: u32) -> Item {
    let anchors: String = links
        .iter()
        .map(|href| format!("<a href=\"{href}\">read it</a> "))
        .collect();
    post(
        source,
        guid,
        title,
        &format!("<p>Worth your evening, whatever you think of the argument. {anchors}</p>"),
        day,
    )
}

fn evidence_of(store: &Store, source: &str, guid: &str) -> (i64, MatchReason) {
    let stories = store.stories(100).expect("stories");
    stories
        .iter()
        .find_map(|story| {
            story
                .members
                .iter()
                .find(|m| m.stored.item.source == source && m.stored.item.guid == guid)
                .map(|m| (story.id, m.reason))
        })
        .expect("the item is in a story")
}

#[test]
fn a_mirror_linking_to_one_work_joins_it_and_a_roundup_linking_to_two_joins_neither() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin), ("news", Role::Mirror)]);
    let context = IngestContext::default();
    let essays = vec![
        post(
            "a",
            "1",
            "First essay on rivers",
            "<p>Rivers carry silt seaward.</p>",
            1,
        ),
        post(
            "a",
            "2",
            "Second essay on tides",
            "<p>Tides follow the moon.</p>",
            1,
        ),
    ];
    ingest_items(
        &mut store,
        &sources[0],
        &essays,
        &PollState::default(),
        &context,
        at(2),
    );
    let pages = vec![
        link_page(
            "news",
            "x",
            "A columnist weighs in",
            &["https://a.example/p/1"],
            2,
        ),
        link_page(
            "news",
            "y",
            "Our favourite reads",
            &["https://a.example/p/1", "https://a.example/p/2"],
            2,
        ),
    ];
    ingest_items(
        &mut store,
        &sources[1],
        &pages,
        &PollState::default(),
        &context,
        at(3),
    );

    let (essay_story, _) = evidence_of(&store, "a", "1");
    assert_eq!(
        evidence_of(&store, "news", "x"),
        (essay_story, MatchReason::Link)
    );
    let (roundup_story, reason) = evidence_of(&store, "news", "y");
    assert_eq!(reason, MatchReason::New, "a roundup is about no one work");
    assert_ne!(roundup_story, essay_story);
    assert_ne!(roundup_story, evidence_of(&store, "a", "2").0);
}

#[test]
fn a_work_arriving_after_a_mirror_that_links_to_it_finds_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin), ("news", Role::Mirror)]);
    let context = IngestContext::default();
    let page = link_page(
        "news",
        "x",
        "A columnist weighs in",
        &["https://a.example/p/1"],
        1,
    );
    ingest_items(
        &mut store,
        &sources[1],
        &[page],
        &PollState::default(),
        &context,
        at(2),
    );
    let essay = post(
        "a",
        "1",
        "First essay on rivers",
        "<p>Rivers carry silt seaward.</p>",
        1,
    );
    ingest_items(
        &mut store,
        &sources[0],
        &[essay],
        &PollState::default(),
        &context,
        at(2),
    );

    let (mirror_story, _) = evidence_of(&store, "news", "x");
    assert_eq!(
        evidence_of(&store, "a", "1"),
        (mirror_story, MatchReason::Link)
    );
    assert_eq!(store.stories(100).expect("stories").len(), 1);
}

#[test]
fn every_connection_setting_takes_effect() {
    // The settings are given as text; SQLite must read each as the number or mode it names.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    for (name, expected) in [
        ("journal_mode", "wal"),
        ("synchronous", "1"),
        ("foreign_keys", "1"),
        ("cache_size", "-6144"),
        ("wal_autocheckpoint", "8192"),
        ("journal_size_limit", "67108864"),
    ] {
        let value = store
            .sqlite("a test")
            .expect("a SQLite store")
            .query_row(&format!("PRAGMA {name}"), [], |row| {
                row.get::<_, rusqlite::types::Value>(0)
            })
            .expect(name);
        let value = match value {
            rusqlite::types::Value::Integer(n) => n.to_string(),
            rusqlite::types::Value::Text(text) => text,
            other => format!("{other:?}"),
        };
        assert_eq!(value, expected, "PRAGMA {name}");
    }
    assert_eq!(PRAGMAS.len(), 6, "a new setting is checked here too");
}

#[test]
fn founding_mirrors_are_the_mirror_items_that_started_a_story_within_the_window() {
    // What a new origin item asks again: a mirror's item that started a story of its own,
    // committed before or stored earlier in the same write; not an origin's item, not a
    // mirror item that joined a story, nothing outside the window.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(
        &mut store,
        &[
            ("origin", Role::Origin),
            ("agg-a", Role::Mirror),
            ("agg-b", Role::Mirror),
        ],
    );
    let (origin, a, b) = (&sources[0], &sources[1], &sources[2]);
    let context = IngestContext::default();
    let work = "A title of its own about the founding of things";
    let state = PollState::default();
    let first = [post("origin", "o1", work, "Body.", 10)];
    ingest_items(&mut store, origin, &first, &state, &context, at(11));
    let earlier = [
        post(
            "agg-b",
            "b1",
            "Something else entirely, told well",
            "Other.",
            11,
        ),
        post("agg-b", "b2", "A month later, another thing", "Later.", 28),
    ];
    ingest_items(&mut store, b, &earlier, &state, &context, at(28));
    let founding = |tx: &crate::store::WriteTx<'_>| -> Vec<String> {
        let mut guids: Vec<String> = tx
            .recent_founding_mirrors(
                at(10),
                chrono::Duration::days(3),
                &crate::dedupe::Decorations::default(),
            )
            .expect("founding mirrors")
            .into_iter()
            .map(|c| format!("{}:{}", c.source, c.title))
            .collect();
        guids.sort();
        guids
    };
    let tx = store.begin_write().expect("begin");
    assert_eq!(
        founding(&tx),
        vec!["agg-b:Something else entirely, told well"]
    );
    let items = parsed(&[
        post("agg-a", "a1", work, "Body.", 10),
        post("agg-a", "a2", "A summary in words of its own", "Own.", 9),
    ]);
    ingest::ingest_feed(&tx, a, None, &items, &context, at(12)).expect("mirror");
    assert_eq!(
        founding(&tx),
        vec![
            "agg-a:A summary in words of its own",
            "agg-b:Something else entirely, told well"
        ]
    );
}

#[test]
fn candidates_read_again_in_a_write_carry_what_it_changed_since() {
    // A write keeps the candidates its look-arounds read (`store::kept`); what it writes after
    // that must show when it reads them again, as a founding mirror or among the days around
    // a time: a member joining the mirror's story, the mirror's feed's boilerplate growing,
    // the mirror's story merged into another.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(
        &mut store,
        &[("origin", Role::Origin), ("agg", Role::Mirror)],
    );
    let (origin, agg) = (&sources[0], &sources[1]);
    let context = IngestContext::default();
    let state = PollState::default();
    let first = [post(
        "agg",
        "m1",
        "A summary in words of its own",
        "Own.",
        10,
    )];
    ingest_items(&mut store, agg, &first, &state, &context, at(11));
    let decorations = crate::dedupe::Decorations::default();
    let tx = store.begin_write().expect("begin");
    let founding = || {
        let mut read = tx
            .recent_founding_mirrors(at(10), chrono::Duration::days(3), &decorations)
            .expect("founding mirrors");
        assert_eq!(read.len(), 1, "{read:?}");
        let mirror = read.remove(0);
        let days = chrono::Duration::days(3);
        let around = tx
            .recent_candidates(at(10), days, days, &HashSet::new(), &decorations)
            .expect("the days around");
        let same = around
            .iter()
            .find(|candidate| candidate.item_id == mirror.item_id)
            .expect("the mirror among the days around it");
        assert_eq!(
            (same.story_id, &same.story, &same.boilerplate),
            (mirror.story_id, &mirror.story, &mirror.boilerplate)
        );
        mirror
    };
    let mirror = founding();
    assert!(!mirror.story.has_origin);
    assert!(mirror.boilerplate.is_empty());

    let work = post("origin", "o1", "The work", "Body.", 10);
    tx.insert_item(
        &NewItem {
            source_id: origin.id,
            item: &work,
            content_hash: "h",
            keys: &ItemKeys::default(),
            published: at(10),
            story_id: mirror.story_id,
            reason: MatchReason::Title,
            member_role: crate::model::MemberRole::Post,
            score: 1.0,
        },
        at(12),
    )
    .expect("insert");
    let joined = founding();
    assert!(joined.story.has_origin);
    assert_eq!(joined.story.sources.len(), 2, "{:?}", joined.story);

    tx.add_boilerplate(agg.id, &HashSet::from([7_u64 << 32]))
        .expect("boilerplate");
    assert!(founding().boilerplate.contains(&7));

    let other = tx.create_story("urn:other", at(9), at(12)).expect("story");
    tx.merge_story(mirror.story_id, other, at(12))
        .expect("merge");
    assert_eq!(founding().story_id, other);
}

/// The outbox rows of one story and sink: (kind, revision, state, number of changes).
fn outbox_rows(store: &Store, story: i64) -> Vec<(String, u32, String, usize)> {
    let mut stmt = store
        .sqlite("a test")
        .expect("a SQLite store")
        .prepare(
            "SELECT kind, revision, state, changes FROM outbox WHERE story_id = ?1 ORDER BY id",
        )
        .expect("prepare");
    stmt.query_map([story], |row| {
        let changes: String = row.get(3)?;
        Ok((
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            serde_json::from_str::<Vec<StoryChange>>(&changes)
                .expect("changes")
                .len(),
        ))
    })
    .expect("query")
    .collect::<Result<_, _>>()
    .expect("rows")
}

fn joined(feed: &str) -> StoryChange {
    StoryChange::MemberAdded {
        feed: feed.into(),
        member_role: "copy".into(),
        title: "t".into(),
        link: None,
    }
}

#[test]
fn changes_fold_into_a_waiting_row_and_a_send_that_missed_one_owes_an_edit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let (story, lonely) = {
        let write = store.begin_write().expect("write");
        let story = write.create_story("urn:s", at(1), at(1)).expect("story");
        let lonely = write.create_story("urn:l", at(1), at(1)).expect("story");
        write
            .enqueue_notification(story, "hook", "k-first", at(1), at(1))
            .expect("enqueue");
        write.commit().expect("commit");
        (story, lonely)
    };
    let update = |store: &mut Store, story: i64, change: &StoryChange, due: u32| {
        let write = store.begin_write().expect("write");
        let queued = write
            .enqueue_update(story, "hook", change, at(due), at(2))
            .expect("update");
        write.commit().expect("commit");
        queued
    };
    // The first message reads generation 0 and is in flight when a mirror joins.
    let due = store.due_deliveries(at(1), None, 10, None).expect("due");
    assert_eq!((due[0].kind, due[0].generation), (DeliveryKind::New, 0));
    assert!(
        !update(&mut store, story, &joined("m1"), 3),
        "folded into the unsent first message"
    );
    assert!(
        !update(&mut store, lonely, &joined("m1"), 3),
        "a story the sink never heard of gets no edit"
    );
    assert_eq!(outbox_rows(&store, lonely), []);
    let delivered = DeliveryUpdate::Delivered {
        remote_id: Some("msg-1".into()),
        generation: due[0].generation,
    };
    store
        .record_delivery(due[0].id, &delivered, at(2))
        .expect("delivered");
    assert_eq!(
        outbox_rows(&store, story),
        [
            ("new".into(), 0, "delivered".into(), 1),
            ("update".into(), 1, "pending".into(), 1)
        ],
        "the change the send may have missed is an edit of its own"
    );
    // More changes wait in that edit until it is attempted.
    assert!(!update(&mut store, story, &joined("m2"), 9));
    assert!(!update(&mut store, story, &joined("m3"), 9));
    let due = store.due_deliveries(at(2), None, 10, None).expect("due");
    let [edit] = due.as_slice() else {
        panic!("one edit due: {due:?}");
    };
    assert_eq!(edit.kind, DeliveryKind::Update);
    assert_eq!(edit.changes.len(), 3);
    assert_eq!(edit.generation, 2);
    assert_eq!(
        edit.first,
        Some(FirstMessage::Delivered {
            remote_id: Some("msg-1".into())
        })
    );
    assert_eq!(edit.idempotency_key, revision_key("k-first", 1));
    // Once attempted, it is not changed under its key: a later change is the next revision.
    let retry = DeliveryUpdate::Retry {
        at: at(3),
        error: "HTTP 503".into(),
    };
    store
        .record_delivery(edit.id, &retry, at(2))
        .expect("retry");
    assert!(update(&mut store, story, &joined("m4"), 4));
    let rows = outbox_rows(&store, story);
    assert_eq!(rows[2], ("update".into(), 2, "pending".into(), 1));
    let due = store.due_deliveries(at(9), None, 10, None).expect("due");
    let keys: Vec<&str> = due.iter().map(|d| d.idempotency_key.as_str()).collect();
    assert_eq!(
        keys,
        [revision_key("k-first", 1), revision_key("k-first", 2)]
    );
    assert_ne!(keys[0], keys[1]);
    // Revision 2 waits for revision 1, still owed (retrying at 3), so revisions arrive in order.
    assert_eq!(due[1].first, Some(FirstMessage::Pending { due: at(3) }));
    assert!(matches!(due[0].first, Some(FirstMessage::Delivered { .. })));
    // A merge cancels what the folded story had not sent yet.
    {
        let write = store.begin_write().expect("write");
        write.merge_story(story, lonely, at(5)).expect("merge");
        write.commit().expect("commit");
    }
    assert!(
        outbox_rows(&store, story)
            .iter()
            .all(|(_, _, state, _)| state != "pending")
    );
}

/// Stories (by Atom id) whose first message to the sink "hook" is queued under the given key,
/// each with the id of that message's outbox row.
fn announced<const N: usize>(store: &mut Store, stories: [(&str, &str); N]) -> [(i64, i64); N] {
    let ids = {
        let write = store.begin_write().expect("write");
        let ids = stories.map(|(atom_id, key)| {
            let story = write.create_story(atom_id, at(1), at(1)).expect("story");
            write
                .enqueue_notification(story, "hook", key, at(1), at(1))
                .expect("enqueue");
            story
        });
        write.commit().expect("commit");
        ids
    };
    let due = store.due_deliveries(at(1), None, 10, None).expect("due");
    ids.map(|story| {
        let row = due.iter().find(|d| d.story_id == story).expect("row");
        (story, row.id)
    })
}

/// Once an attempt of a row has started, its receiver may hold it whatever happens next (a
/// crash before the answer is recorded): a change is no longer folded into it (a receiver that
/// has it would drop the repeat, and the change with it), and a merge no longer cancels a first
/// message, which is sent again so the edit pointing at the survivor can follow it. A row the
/// merge did cancel is not sent even by a pass that read it before.
#[test]
fn a_started_attempt_keeps_its_content_and_survives_a_merge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let [(survivor, _), (sent, sent_row), (unsent, unsent_row)] = announced(
        &mut store,
        [("urn:s", "k-s"), ("urn:a", "k-a"), ("urn:b", "k-b")],
    );
    assert_eq!(
        store.start_attempt(&[sent_row], at(2)).expect("attempt"),
        [sent_row]
    );
    // The request is in flight (or the process died with it): a mirror joins.
    {
        let write = store.begin_write().expect("write");
        assert!(
            write
                .enqueue_update(sent, "hook", &joined("m1"), at(2), at(2))
                .expect("update"),
            "an edit of its own, not folded into what may have been received"
        );
        write.merge_story(sent, survivor, at(2)).expect("merge");
        write.merge_story(unsent, survivor, at(2)).expect("merge");
        write.commit().expect("commit");
    }
    assert_eq!(
        outbox_rows(&store, sent),
        [
            ("new".into(), 0, "pending".into(), 0),
            ("update".into(), 1, "merged".into(), 1)
        ],
        "the first message is sent again, the edit of the merged story is cancelled"
    );
    assert_eq!(
        outbox_rows(&store, unsent),
        [("new".into(), 0, "merged".into(), 0)]
    );
    assert_eq!(
        store
            .start_attempt(&[unsent_row, sent_row], at(3))
            .expect("attempt"),
        [sent_row],
        "a message cancelled by the merge is not sent by a pass that read it before"
    );
}

#[test]
fn one_sqlite_instance_claims_every_candidate_and_saves_its_poll_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin), ("b", Role::Origin)]);
    let candidates: Vec<(usize, SourceRecord)> = sources.into_iter().enumerate().collect();
    let claim = FeedClaim {
        due_only: true,
        now: at(1),
        lease: std::time::Duration::from_secs(600),
    };
    // One instance, no leases: every candidate, in the order given.
    let claimed = store
        .claim_feeds(candidates.clone(), &claim)
        .expect("claim");
    assert_eq!(claimed, candidates);
    assert_eq!(
        store.claim_feeds(candidates, &claim).expect("again"),
        claimed
    );
    let state = PollState {
        etag: Some("e".into()),
        ..PollState::default()
    };
    let owner = store.instance().to_owned();
    let tx = store.begin_write().expect("begin");
    assert!(
        tx.save_claimed_poll_state(claimed[0].1.id, &state, &owner)
            .expect("save")
    );
    tx.commit().expect("commit");
    assert_eq!(
        store.source("a").expect("a").state.etag.as_deref(),
        Some("e")
    );
    assert_eq!(store.release_leases().expect("release"), 0);
    assert!(!store.is_shared());
    // The next feed due: the earliest due time, feeds never polled left out.
    assert_eq!(store.next_poll_due(at(1)).expect("due"), None);
    save_state(
        &mut store,
        claimed[1].1.id,
        &PollState {
            next_due_at: Some(at(3)),
            ..PollState::default()
        },
    );
    save_state(
        &mut store,
        claimed[0].1.id,
        &PollState {
            next_due_at: Some(at(2)),
            ..PollState::default()
        },
    );
    assert_eq!(store.next_poll_due(at(1)).expect("due"), Some(at(2)));
}

#[test]
fn the_stories_mark_moves_with_every_change_to_the_newest_stories() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin)]);
    let context = IngestContext::default();
    let empty = store.stories_mark(10).expect("mark");
    assert_eq!(store.stories_mark(10).expect("again"), empty);
    let first = post("a", "1", "First essay on rivers", "one two three", 1);
    ingest_items(
        &mut store,
        &sources[0],
        std::slice::from_ref(&first),
        &PollState::default(),
        &context,
        at(2),
    );
    let one = store.stories_mark(10).expect("mark");
    assert_ne!(one, empty, "a new story");
    assert_eq!(store.stories_mark(10).expect("again"), one);
    let mut edited = first;
    edited.content = Some("one two three, and four".into());
    ingest_items(
        &mut store,
        &sources[0],
        &[edited],
        &PollState::default(),
        &context,
        at(3),
    );
    let changed = store.stories_mark(10).expect("mark");
    assert_ne!(changed, one, "an item of a story changed");
    // Nothing new: the same mark, so an idle daemon renders nothing.
    assert_eq!(store.stories_mark(10).expect("again"), changed);
}

#[test]
fn a_story_names_each_of_its_feeds_once() {
    // Read without `DISTINCT`: a story holding two items of one feed (a person's merge) still
    // names that feed once, so "more than one feed" means more than one feed.
    let facts = super::matching::story_facts_from(
        Some(0),
        [
            ("digest".to_owned(), "mirror".to_owned()),
            ("writer".to_owned(), "origin".to_owned()),
            ("digest".to_owned(), "mirror".to_owned()),
        ],
    );
    assert_eq!(facts.sources, ["digest", "writer"]);
    assert!(facts.has_origin);
    assert!(!facts.pinned);
}

/// `enqueue_update` reads the open row and folds into it in two statements; on PostgreSQL
/// another instance's worker may start the attempt between them. The fold asks again, so a row
/// already on its way is left as it was and the change becomes an edit of its own.
#[test]
fn a_change_is_folded_only_into_a_row_no_attempt_of_which_started() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let [(_, waiting), (_, sent)] = announced(&mut store, [("urn:w", "k-w"), ("urn:s", "k-s")]);
    store.start_attempt(&[sent], at(2)).expect("attempt");
    let conn = store.sqlite("a test").expect("a SQLite store");
    let fold = |id: i64| {
        conn.execute(FOLD_CHANGE, rusqlite::params![id, "[]"])
            .expect("fold")
    };
    assert_eq!(fold(waiting), 1);
    assert_eq!(fold(sent), 0, "a row whose attempt started is not changed");
    let generation = |id: i64| -> i64 {
        conn.query_row("SELECT generation FROM outbox WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .expect("generation")
    };
    assert_eq!((generation(waiting), generation(sent)), (1, 0));
}

#[test]
fn words_ask_the_items_they_lead_to_most_often() {
    use super::matching::{named_by_enough, naming};
    let whole = |found: &[(i64, Vec<i64>)], at_least, known: &HashSet<i64>| {
        named_by_enough(found, at_least, known, |_| -> Result<_, ()> {
            panic!("no list is cut")
        })
    };
    // Item 7 is found by three words, 9 and 4 by two each, 5 by one; 8 is known already.
    let found = vec![
        (1, vec![9, 7, 4]),
        (2, vec![7, 5]),
        (3, vec![9, 8, 7, 4]),
        (4, vec![8]),
    ];
    let known: HashSet<i64> = [8].into();
    assert_eq!(
        whole(&found, 2, &known),
        Ok(vec![7, 9, 4]),
        "found most first, then the newest"
    );
    assert_eq!(whole(&found, 3, &HashSet::new()), Ok(vec![7]));
    let many: Vec<(i64, Vec<i64>)> = vec![(1, (0..30).collect()), (2, (0..30).collect())];
    let asked = whole(&many, 2, &HashSet::new()).expect("named");
    assert_eq!(asked.len(), 16, "at most sixteen are asked");
    assert_eq!(asked.first(), Some(&29));
    // Half of a title's words, and never fewer than two.
    assert_eq!(
        [1, 2, 3, 4, 7, 8].map(naming),
        [2, 2, 2, 2, 4, 4],
        "words of a title named"
    );
}

#[test]
fn a_title_word_many_mirrors_share_is_asked_of_the_index_for_the_older_ones() {
    use super::matching::named_by_enough;
    // "keepers" (word 1) names 32 newer mirrors and is cut there; "lighthouse" (word 2) names
    // only mirror 5, which holds both.
    let newest: Vec<i64> = (100..132).rev().collect();
    let found = vec![(1, newest.clone()), (2, vec![5])];
    let mut asked = Vec::new();
    let named = named_by_enough(&found, 2, &HashSet::new(), |pairs| {
        asked.extend_from_slice(pairs);
        Ok::<_, ()>(HashSet::from([(1, 5)]))
    });
    assert_eq!(named, Ok(vec![5]));
    assert_eq!(
        asked,
        vec![(1, 5)],
        "only what the cut list may have left out"
    );
    // Not held: not named. Nor is anything asked when no list was cut.
    let named = named_by_enough(&found, 2, &HashSet::new(), |_| Ok::<_, ()>(HashSet::new()));
    assert_eq!(named, Ok(Vec::new()));
    let whole = vec![(1, vec![7, 5]), (2, vec![5])];
    let named = named_by_enough(&whole, 2, &HashSet::new(), |_| -> Result<_, ()> {
        panic!("every list is whole")
    });
    assert_eq!(named, Ok(vec![5]));
    // More items than are ever asked: two common words each name forty newer items, and a rare
    // one names only the old item 5. Those a whole list names are asked first, however old.
    let crowded = vec![
        (1, (100..140).rev().collect::<Vec<i64>>()),
        (3, (200..240).rev().collect()),
        (2, vec![5]),
    ];
    let mut asked = Vec::new();
    let named = named_by_enough(&crowded, 2, &HashSet::new(), |pairs| {
        asked.extend_from_slice(pairs);
        Ok::<_, ()>(HashSet::from([(1, 5)]))
    });
    assert_eq!(named, Ok(vec![5]));
    assert!(asked.starts_with(&[(1, 5), (3, 5)]), "{asked:?}");
    let items: HashSet<i64> = asked.iter().map(|(_, item)| *item).collect();
    assert_eq!(items.len(), 64, "at most sixty-four items are asked");
}

#[test]
fn an_upgrade_indexes_the_words_of_the_items_stored_before_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(
        &mut store,
        &[
            ("a", Role::Origin),
            ("m", Role::Mirror),
            ("n", Role::Mirror),
        ],
    );
    let context = IngestContext::default();
    let state = PollState::default();
    let essays = vec![
        post("a", "1", "Why lighthouse keepers went home", "wicks", 2),
        post("a", "2", "Tides", "moon", 3),
    ];
    ingest_items(&mut store, &sources[0], &essays, &state, &context, at(6));
    // Two directories without dates under one long headline: a story of mirrors alone, the
    // second a member by its title. Both are indexed.
    let headline = "Keepers, towers, clockwork and the storms of a coastal trade";
    for source in &sources[1..] {
        let mut note = post(&source.name, "x", headline, "storms diaries", 1);
        note.published = None;
        ingest_items(&mut store, source, &[note], &state, &context, at(6));
    }
    assert_eq!(store.stories(10).expect("stories").len(), 3);
    let rows = |store: &Store, table: &str| -> Vec<(i64, i64)> {
        let conn = store.sqlite("a test").expect("a SQLite store");
        let mut stmt = conn
            .prepare(&format!(
                "SELECT word, item_id FROM {table} ORDER BY word, item_id"
            ))
            .expect("prepare");
        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    };
    let (titles, mirrors) = (rows(&store, "title_words"), rows(&store, "mirror_words"));
    // lighthouse, keepers, went, home; tides. Each note's keepers, towers, clockwork, storms,
    // coastal, trade, diaries.
    assert_eq!(titles.len(), 5);
    assert_eq!(mirrors.len(), 14);
    {
        // The store as it was before migration 8.
        let conn = store.sqlite("a test").expect("a SQLite store");
        conn.execute_batch(
            "DROP TABLE title_words; DROP TABLE mirror_words; DROP TABLE published_files;
             PRAGMA user_version = 7;",
        )
        .expect("downgrade");
    }
    drop(store);
    let store = open(&dir);
    assert_eq!(rows(&store, "title_words"), titles, "as if stored after it");
    assert_eq!(rows(&store, "mirror_words"), mirrors);
}

#[test]
fn an_unreadable_item_is_left_out_of_the_upgrades_index_and_the_upgrade_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin)]);
    let essays = vec![
        post("a", "1", "Why lighthouse keepers went home", "wicks", 2),
        post("a", "2", "Tides and the moon", "moon", 3),
    ];
    let (state, context) = (PollState::default(), IngestContext::default());
    ingest_items(&mut store, &sources[0], &essays, &state, &context, at(6));
    {
        // Before migration 8, with one item's JSON damaged.
        let conn = store.sqlite("a test").expect("a SQLite store");
        conn.execute_batch(
            "UPDATE items SET data = '{not json' WHERE guid = '2';
             DROP TABLE title_words; DROP TABLE mirror_words; DROP TABLE published_files;
             PRAGMA user_version = 7;",
        )
        .expect("downgrade");
    }
    drop(store);
    let store = open(&dir);
    let conn = store.sqlite("a test").expect("a SQLite store");
    let indexed: Vec<(String, i64)> = conn
        .prepare(
            "SELECT items.guid, count(*) FROM title_words
             JOIN items ON items.id = title_words.item_id GROUP BY items.guid",
        )
        .expect("prepare")
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    // lighthouse, keepers, went, home; nothing of the damaged one.
    assert_eq!(indexed, vec![("1".to_owned(), 4)]);
}

#[test]
fn an_edit_rewrites_an_item_whose_stored_version_is_unreadable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin)]);
    let (state, context) = (PollState::default(), IngestContext::default());
    let essay = post("a", "1", "Why lighthouse keepers went home", "wicks", 2);
    ingest_items(&mut store, &sources[0], &[essay], &state, &context, at(3));
    store
        .sqlite("a test")
        .expect("a SQLite store")
        .execute_batch("UPDATE items SET data = '{not json' WHERE guid = '1'")
        .expect("damage");
    let edited = post(
        "a",
        "1",
        "Why lighthouse keepers went home, revised",
        "wicks",
        2,
    );
    let summary = ingest_items(&mut store, &sources[0], &[edited], &state, &context, at(4));
    assert_eq!(summary.updated_items, 1);
    let stories = store.stories(10).expect("stories");
    assert_eq!(
        stories[0].lead().item.title,
        "Why lighthouse keepers went home, revised"
    );
}

#[test]
fn an_edit_and_a_linking_page_read_the_key_indexes_by_their_keys() {
    use super::matching::{KeyIndex, STORY_AND_DATA_OF_ITEM};
    // The key tables are keyed by key, then item: a statement that names the item alone reads
    // every row of them, which on a store of some years is hundreds of megabytes per edit.
    let dir = tempfile::tempdir().expect("tempdir");
    drop(open(&dir));
    let conn = Connection::open(dir.path().join("t.db")).expect("open");
    let indexes = [
        KeyIndex::Anchors,
        KeyIndex::Titles,
        KeyIndex::Grams,
        KeyIndex::Words,
        KeyIndex::Links,
    ];
    let statements = indexes
        .map(|index| index.delete().sqlite)
        .into_iter()
        .chain([STORY_AND_DATA_OF_ITEM]);
    for sql in statements {
        let mut explain = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("prepare");
        let unbound = vec![rusqlite::types::Null; explain.parameter_count()];
        let plan: Vec<String> = explain
            .query_map(rusqlite::params_from_iter(unbound), |row| row.get(3))
            .expect("plan")
            .collect::<rusqlite::Result<_>>()
            .expect("plan rows");
        assert!(
            plan.iter().all(|step| step.starts_with("SEARCH")),
            "{sql}: {plan:?}"
        );
    }
}

#[test]
fn statements_read_in_one_go_see_one_state_of_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    with_feeds(&mut store, &[("one", Role::Origin)]);
    let other = Connection::open(dir.path().join("t.db")).expect("second connection");
    let count = |conn: &Connection| -> i64 {
        conn.query_row("SELECT count(*) FROM sources", [], |row| row.get(0))
            .expect("count")
    };
    let (before, after) = store
        .in_one_read(|| {
            let Conn::Sqlite(conn) = &store.conn else {
                unreachable!("opened on SQLite")
            };
            let before = count(conn);
            // Another process adds a feed between the two reads.
            other
                .execute(
                    "INSERT INTO sources (name, url, role) VALUES ('two', 'https://two.example/', 'origin')",
                    [],
                )
                .expect("insert");
            Ok((before, count(conn)))
        })
        .expect("read");
    assert_eq!(
        (before, after),
        (1, 1),
        "the second read saw the other's write"
    );
    // Once the read is over, the write shows.
    let Conn::Sqlite(conn) = &store.conn else {
        unreachable!("opened on SQLite")
    };
    assert_eq!(count(conn), 2);
}

#[test]
fn a_feeds_newest_items_are_read_without_planning_the_statement_again() {
    // SQLite plans a statement again after every bind of a parameter its planner read, as a
    // bound LIMIT; each poll of a feed that brings few items reads the feed's newest ones.
    use super::matching::RECENT_BODIES;
    use rusqlite::StatementStatus;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("a", Role::Origin)]);
    let (state, context) = (PollState::default(), IngestContext::default());
    for (guid, day) in [("1", 2), ("2", 3), ("3", 4)] {
        let essay = post("a", guid, &format!("Essay number {guid}"), "words", day);
        ingest_items(&mut store, &sources[0], &[essay], &state, &context, at(6));
    }
    let conn = store.sqlite("a test").expect("a SQLite store");
    let stmt = conn.prepare_cached(RECENT_BODIES).expect("cached");
    assert_eq!(
        stmt.get_status(StatementStatus::Run),
        3,
        "read at every poll"
    );
    assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
}

#[test]
fn a_look_around_reads_the_items_nearest_its_time_from_both_sides() {
    use super::matching::nearest_in_time;
    let around = at(10);
    let dated = |id: i64, hours: i64| (id, timestamp(around + chrono::Duration::hours(hours)));
    // Latest first before, earliest first after, as the two statements read them.
    let earlier = [dated(1, 0), dated(2, -3), dated(3, -30), dated(4, -100)];
    let later = [dated(5, 3), dated(6, 5), (7, "not a date".to_owned())];
    assert_eq!(
        nearest_in_time(around, &earlier, &later),
        [1, 2, 5, 6, 3, 4, 7],
        "by distance in time, the earlier of two as near, a date that does not read last"
    );

    // A crowded side after the time does not crowd out the item just before it.
    let crowd: Vec<(i64, String)> = (0..1000).map(|i| dated(100 + i, 1 + i)).collect();
    let read = nearest_in_time(around, &[dated(1, -2)], &crowd);
    assert_eq!(read.len(), 256, "at most `recent!()`");
    assert_eq!(read[..3], [100, 1, 101]);
}

#[test]
fn a_commit_reaches_the_database_file_beside_the_writer() {
    // One small write is far below the writer's automatic checkpoint, and the open store
    // never closes here: only the checkpointer beside it (`store::checkpoint`) can copy the
    // item from the WAL into the database file. The file alone is read from a copy, which
    // sees nothing of the WAL.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let sources = with_feeds(&mut store, &[("blog", Role::Origin)]);
    let items = [post(
        "blog",
        "p1",
        "A post that must reach the file",
        "Body.",
        3,
    )];
    ingest_items(
        &mut store,
        &sources[0],
        &items,
        &PollState::default(),
        &IngestContext::default(),
        at(4),
    );
    let copy = tempfile::tempdir().expect("tempdir");
    let file_alone = copy.path().join("file.db");
    let in_the_file = || -> Option<i64> {
        std::fs::copy(dir.path().join("t.db"), &file_alone).ok()?;
        let conn = Connection::open(&file_alone).ok()?;
        // A copy taken while a checkpoint writes may be torn: read again then.
        conn.query_row("SELECT count(*) FROM items", [], |row| row.get(0))
            .ok()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while in_the_file() != Some(1) {
        assert!(
            std::time::Instant::now() < deadline,
            "the item never reached the database file: {:?}",
            in_the_file()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(store);
}
