//! Several instances on one PostgreSQL database (docs/postgres.md, "Several instances on one
//! database"), against a real server the tests start themselves (`common::postgres`): two
//! `Store`s claiming feeds at once, leases ending and taken over, a late writer's poll state
//! refused while its items dedupe; and two real `tributary run` processes on one database
//! polling each feed once per due time, announcing each story once and serving the same feed.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use parking_lot::Mutex;
use tributary::clock::Clock;
use tributary::config::Config;
use tributary::ingest::{self, IngestContext};
use tributary::normalize::ParsedItem;
use tributary::store::{FeedClaim, PollState, SourceRecord, Store};

use crate::common::binary::Workspace;
use crate::common::daemon::{Daemon, free_port};
use crate::common::items;
use crate::common::postgres::{Cluster, open_store};
use crate::common::server::{Reply, TestServer};

fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 10, 12, 0, 0)
        .single()
        .expect("valid date")
}

const LEASE: Duration = Duration::from_secs(600);

fn claim(due_only: bool, now: DateTime<Utc>) -> FeedClaim {
    FeedClaim {
        due_only,
        now,
        lease: LEASE,
    }
}

/// Every stored feed as a claim candidate (tagged with its name), in id order.
fn candidates(store: &Store) -> Vec<(String, SourceRecord)> {
    let mut sources = store.sources().expect("sources");
    sources.sort_by_key(|s| s.id);
    sources.into_iter().map(|s| (s.name.clone(), s)).collect()
}

fn names(claimed: &[(String, SourceRecord)]) -> Vec<String> {
    claimed.iter().map(|(name, _)| name.clone()).collect()
}

fn post(guid: &str, title: &str) -> ParsedItem {
    ParsedItem::from(items::post(
        "f0",
        guid,
        title,
        &format!("<p>{title}, the whole text.</p>"),
        Some(noon()),
    ))
}

#[test]
fn two_stores_claim_due_feeds_once_and_take_over_ended_leases() {
    let Some(cluster) = Cluster::start("two_stores_claim_due_feeds_once") else {
        return;
    };
    let url = cluster.database("claims");
    let mut first = open_store(&url);
    let second = open_store(&url);
    assert_ne!(first.instance(), second.instance());
    let toml: String = (0..40)
        .map(|n| format!("[[feeds]]\nname = \"f{n}\"\nurl = \"https://f{n}.example/feed\"\n"))
        .collect();
    let config = Config::parse(&toml, "test").expect("config");
    first.sync_sources(&config.feeds).expect("sync");
    let now = noon();
    // f38 is not due until tomorrow and f39 is gone: neither is claimed as due.
    let ids: BTreeMap<String, i64> = candidates(&first)
        .into_iter()
        .map(|(name, s)| (name, s.id))
        .collect();
    let tx = first.begin_write().expect("begin");
    tx.save_poll_state(
        ids["f38"],
        &PollState {
            next_due_at: Some(now + chrono::Duration::days(1)),
            ..PollState::default()
        },
    )
    .expect("save");
    tx.save_poll_state(
        ids["f39"],
        &PollState {
            gone: true,
            ..PollState::default()
        },
    )
    .expect("save");
    tx.commit().expect("commit");
    let read = candidates(&first);
    let due: HashSet<String> = (0..38).map(|n| format!("f{n}")).collect();

    // Both claim every feed they read at the same moment: each due feed goes to one of them.
    let barrier = Barrier::new(2);
    let (first, a, second, b) = std::thread::scope(|scope| {
        let claim_at_once = |store: Store| {
            let (barrier, read) = (&barrier, read.clone());
            scope.spawn(move || {
                barrier.wait();
                let claimed = store.claim_feeds(read, &claim(true, now)).expect("claim");
                (store, claimed)
            })
        };
        let one = claim_at_once(first);
        let two = claim_at_once(second);
        let (first, a) = one.join().expect("thread");
        let (second, b) = two.join().expect("thread");
        (first, names(&a), second, names(&b))
    });
    let a_set: HashSet<String> = a.iter().cloned().collect();
    let b_set: HashSet<String> = b.iter().cloned().collect();
    assert!(a_set.is_disjoint(&b_set), "{a:?} and {b:?}");
    assert_eq!(&a_set | &b_set, due, "every due feed claimed once");
    // In the order given, whatever order the server returned them in.
    let mut sorted_a = a.clone();
    sorted_a.sort_by_key(|name| ids[name]);
    assert_eq!(a, sorted_a);

    // A live lease keeps the feed from the other instance, even for a poll of every feed;
    // its holder may claim it again.
    if !a.is_empty() {
        assert!(
            names(
                &second
                    .claim_feeds(read.clone(), &claim(false, now))
                    .expect("claim")
            )
            .iter()
            .all(|name| !a_set.contains(name) && name != "f39"),
        );
        assert_eq!(
            names(
                &first
                    .claim_feeds(read.clone(), &claim(true, now))
                    .expect("claim")
            ),
            a
        );
    }

    // The other instance takes the feeds over when their lease has ended, not a moment before.
    let almost = now + chrono::Duration::seconds(599);
    let after = now + chrono::Duration::seconds(600);
    let (holder, _, late_names) = if a.is_empty() {
        (&first, &second, &b)
    } else {
        (&second, &first, &a)
    };
    let held: HashSet<String> = late_names.iter().cloned().collect();
    assert!(
        names(
            &holder
                .claim_feeds(read.clone(), &claim(true, almost))
                .expect("claim")
        )
        .iter()
        .all(|name| !held.contains(name))
    );
    let taken = names(
        &holder
            .claim_feeds(read.clone(), &claim(true, after))
            .expect("claim"),
    );
    assert!(held.iter().all(|name| taken.contains(name)), "{taken:?}");

    // The new holder polls a feed the late instance had claimed and records it first; the
    // late instance's record comes after: its poll state is refused, its items deduplicate.
    let x = late_names[0].clone();
    let x_id = ids[&x];
    let context = IngestContext::new(&config);
    let source = read
        .iter()
        .find(|(name, _)| *name == x)
        .map(|(_, s)| s.clone())
        .expect("x");
    let polled_by = |store: &mut Store, etag: &str, items: &[ParsedItem]| {
        let owner = store.instance().to_owned();
        let tx = store.begin_write().expect("begin");
        let summary =
            ingest::ingest_feed(&tx, &source, None, items, &context, after).expect("ingest");
        let state = PollState {
            etag: Some(etag.into()),
            next_due_at: Some(after + chrono::Duration::hours(1)),
            ..PollState::default()
        };
        let saved = tx
            .save_claimed_poll_state(x_id, &state, &owner)
            .expect("save");
        tx.commit().expect("commit");
        (summary, saved)
    };
    let (mut holder, mut late) = if a.is_empty() {
        (first, second)
    } else {
        (second, first)
    };
    let (summary, saved) = polled_by(
        &mut holder,
        "new holder",
        &[post("1", "Alpha"), post("2", "Beta")],
    );
    assert!(saved, "the holder's poll state is saved");
    assert_eq!(summary.new_items, 2);
    let (summary, saved) = polled_by(
        &mut late,
        "late",
        &[post("1", "Alpha"), post("2", "Beta"), post("3", "Gamma")],
    );
    assert!(!saved, "a late writer's poll state is refused");
    assert_eq!(
        (summary.new_items, summary.unchanged_items),
        (1, 2),
        "its items deduplicate against the holder's"
    );
    let record = holder.source(&x).expect("x");
    assert_eq!(record.state.etag.as_deref(), Some("new holder"));
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let row = admin
        .query_one(
            "SELECT count(*), (SELECT count(DISTINCT guid) FROM items WHERE source_id = $1),
                    (SELECT lease_owner FROM sources WHERE id = $1)
             FROM items WHERE source_id = $1",
            &[&x_id],
        )
        .expect("count");
    let (items, guids, owner): (i64, i64, Option<String>) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((items, guids), (3, 3), "each item stored once");
    assert_eq!(owner, None, "the holder's record gave its lease up");

    // A released lease is claimable at once; the claim reads the feed as the holder left
    // it, not as the candidate read long before said, and a feed polled meanwhile is no
    // longer due.
    holder.release_leases().expect("release");
    let again = late
        .claim_feeds(read.clone(), &claim(true, after))
        .expect("claim");
    let again_names: HashSet<String> = names(&again).into_iter().collect();
    let expected: HashSet<String> = due.iter().filter(|n| **n != x).cloned().collect();
    assert_eq!(again_names, expected);
    let forced = late
        .claim_feeds(read.clone(), &claim(false, after))
        .expect("claim");
    let forced_x = forced
        .iter()
        .find(|(name, _)| *name == x)
        .map(|(_, s)| s)
        .expect("a poll of every feed takes one not due");
    assert_eq!(forced_x.state.etag.as_deref(), Some("new holder"));
    assert!(
        forced.iter().all(|(name, _)| name != "f39"),
        "gone feeds are never claimed"
    );
    assert_eq!(forced.len(), 39);
}

#[test]
fn a_claim_skips_feeds_another_claim_is_locking() {
    let Some(cluster) = Cluster::start("a_claim_skips_feeds_another_claim_is_locking") else {
        return;
    };
    let url = cluster.database("skip");
    let mut store = open_store(&url);
    let config = Config::parse(
        "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/feed\"\n\
         [[feeds]]\nname = \"b\"\nurl = \"https://b.example/feed\"\n",
        "test",
    )
    .expect("config");
    store.sync_sources(&config.feeds).expect("sync");
    let read = candidates(&store);
    let a = store.source("a").expect("source").id;
    // Another instance in the middle of its claim: a's row is locked, not yet leased.
    let mut other = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let mut locking = other.transaction().expect("begin");
    locking
        .query("SELECT id FROM sources WHERE id = $1 FOR UPDATE", &[&a])
        .expect("lock");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            // A lease longer than any timestamp (a configuration mistake) saturates.
            let claimed = store.claim_feeds(
                read,
                &FeedClaim {
                    due_only: true,
                    now: noon(),
                    lease: Duration::MAX,
                },
            );
            sender.send(claimed.map(|c| names(&c))).expect("send");
        });
        let claimed = receiver
            .recv_timeout(Duration::from_secs(10))
            .expect("a claim waited for another instance's claim instead of skipping its rows")
            .expect("claim");
        assert_eq!(claimed, ["b"]);
        locking.rollback().expect("rollback");
    });
}

const FEEDS: usize = 6;
const POSTS: usize = 4;
/// The feeds' schedule: every third second, so that several due times pass in a quick test.
const PERIOD_SECS: u64 = 3;

/// A feed request: the feed, the ETag it sent back, the ETag it was answered with.
type Fetch = (usize, Option<String>, String);

/// Words no two titles share, so that no two posts are taken for one work.
const WORDS: [&str; 2 * FEEDS * POSTS] = [
    "Aardvark",
    "Basalt",
    "Cathedral",
    "Dulcimer",
    "Estuary",
    "Falconry",
    "Glacier",
    "Harpsichord",
    "Isotope",
    "Juniper",
    "Kayak",
    "Lighthouse",
    "Meteorite",
    "Nebula",
    "Obsidian",
    "Papyrus",
    "Quarry",
    "Rhubarb",
    "Saffron",
    "Tundra",
    "Ukulele",
    "Volcano",
    "Walrus",
    "Xylophone",
    "Yodel",
    "Zeppelin",
    "Anchovy",
    "Bagpipe",
    "Cactus",
    "Dynamo",
    "Emerald",
    "Flamingo",
    "Gondola",
    "Hedgehog",
    "Igloo",
    "Jackal",
    "Kiln",
    "Lagoon",
    "Mandolin",
    "Nutmeg",
    "Orchid",
    "Pelican",
    "Quince",
    "Raccoon",
    "Sextant",
    "Trombone",
    "Umbrella",
    "Vineyard",
];

fn title(feed: usize, post: usize) -> String {
    let k = feed * POSTS + post;
    format!("{} {}", WORDS[2 * k], WORDS[2 * k + 1])
}

/// Feed `feed` with its first `posts` posts, each dated apart from every other.
fn rss(feed: usize, posts: usize, epoch: DateTime<Utc>) -> String {
    let items: String = (0..posts)
        .map(|post| {
            let published = epoch
                + chrono::Duration::minutes(i64::try_from(feed * POSTS + post).expect("small"));
            format!(
                "<item><title>{title}</title><link>https://f{feed}.example/p/{post}</link>\
                 <guid>https://f{feed}.example/p/{post}</guid><pubDate>{date}</pubDate>\
                 <description>{title}.</description></item>",
                title = title(feed, post),
                date = published.to_rfc2822(),
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed {feed}</title>\
         <link>https://f{feed}.example/</link><description>d</description>{items}\
         </channel></rss>"
    )
}

/// The merged feed's entries, in order: (id, title).
fn entries(body: &str) -> Vec<(String, String)> {
    feed_rs::parser::parse(body.as_bytes())
        .map(|feed| {
            feed.entries
                .into_iter()
                .map(|e| (e.id, e.title.map(|t| t.content).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn two_daemons_poll_each_feed_once_per_due_time_and_serve_the_same_feed() {
    let Some(cluster) = Cluster::start("two_daemons_poll_each_feed_once") else {
        return;
    };
    let url = cluster.database("fleet");
    // The posts' dates: recent, as the daemons' clocks read it.
    let epoch = tributary::clock::SystemClock.now() - chrono::Duration::hours(2);
    let started = Instant::now();
    // Each feed request, in arrival order: the feed, the validator it came with and the one
    // it was answered with. Every answer carries a new ETag, which the instance that polled
    // stores with the feed's poll state and the next poll of the feed sends back: two
    // instances polling one feed for one due time both send the same one.
    let fetches: Arc<Mutex<Vec<Fetch>>> = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&fetches);
    let server = TestServer::start(move |request| {
        let Some(feed) = request
            .path()
            .strip_prefix("/f")
            .and_then(|rest| rest.strip_suffix(".xml"))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n < FEEDS)
        else {
            return Reply::not_found();
        };
        let mut log = log.lock();
        let etag = format!("\"{feed}-{}\"", log.len());
        log.push((
            feed,
            request.header("if-none-match").map(str::to_owned),
            etag.clone(),
        ));
        // A new post every two seconds, so that each instance ingests some of them.
        let posts = usize::try_from(started.elapsed().as_secs() / 2 + 1)
            .unwrap_or(POSTS)
            .min(POSTS);
        Reply::ok(rss(feed, posts, epoch))
            .header("content-type", "application/rss+xml")
            .header("etag", &etag)
    });
    let receiver = TestServer::start(|_| Reply::ok("ok"));
    let feeds: Vec<(String, String, &str)> = (0..FEEDS)
        .map(|n| {
            (
                format!("f{n}"),
                server.url(&format!("/f{n}.xml")).to_string(),
                "origin",
            )
        })
        .collect();
    let feeds: Vec<(&str, String, &str)> = feeds
        .iter()
        .map(|(name, url, role)| (name.as_str(), url.clone(), *role))
        .collect();
    let instance = || {
        let ws = Workspace::new();
        let port = free_port();
        let extra = format!(
            "[schedule]\ndefault = \"*/{PERIOD_SECS} * * * * *\"\n\n\
             [server]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nnotify_backfill = true\n",
            receiver.url("/hook")
        );
        let config = ws.write_config("t.toml", &feeds, &extra);
        let text = std::fs::read_to_string(&config).expect("config");
        let sqlite = format!("database = \"{}\"", ws.path("tributary.db").display());
        assert!(text.contains(&sqlite), "{text}");
        std::fs::write(
            &config,
            text.replace(&sqlite, &format!("database = \"{url}\"")),
        )
        .expect("rewrite config");
        let daemon = Daemon::spawn(&ws, &config, port);
        (ws, daemon)
    };
    let (_one_ws, one) = instance();
    let (_two_ws, two) = instance();
    for daemon in [&one, &two] {
        daemon.wait_for("readyz", || daemon.get("/readyz").0 == 200);
    }

    // Every post is out by the sixth second; both instances then serve all of them, each
    // including what the other ingested.
    let all = FEEDS * POSTS;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (a, b) = (
            entries(&one.get("/feed.atom").2),
            entries(&two.get("/feed.atom").2),
        );
        if a.len() == all && a == b {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "both instances serve every post:\n{a:?}\n{b:?}\none:\n{}\ntwo:\n{}",
            one.log(),
            two.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    one.wait_for("a message per story", || receiver.requests().len() >= all);
    // A few more due times, in which a second fetch or message would show.
    while started.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let served = entries(&one.get("/feed.atom").2);
    assert_eq!(entries(&two.get("/feed.atom").2), served);
    let (one_log, two_log) = (one.log(), two.log());
    for (daemon, log) in [(one, &one_log), (two, &two_log)] {
        let (status, _) = daemon.stop();
        assert!(status.success(), "{log}");
        assert!(!log.contains("panicked"), "{log}");
    }

    // Each feed once per due time: every poll of a feed started from the state the poll
    // before it left, so each request sent back the ETag of the answer before it, and the
    // first none.
    let fetches = fetches.lock().clone();
    for feed in 0..FEEDS {
        let polls: Vec<&Fetch> = fetches.iter().filter(|(f, _, _)| *f == feed).collect();
        assert!(
            polls.len() >= 3,
            "f{feed} polled {} times in 15 s",
            polls.len()
        );
        let sent: Vec<Option<&str>> = polls.iter().map(|(_, sent, _)| sent.as_deref()).collect();
        let chain: Vec<Option<&str>> = std::iter::once(None)
            .chain(polls.iter().map(|(_, _, answered)| Some(answered.as_str())))
            .take(polls.len())
            .collect();
        assert_eq!(
            sent, chain,
            "f{feed}: a poll did not start where the last one ended"
        );
    }

    // Each story announced once, under one idempotency key.
    let requests = receiver.requests();
    let keys: HashSet<&str> = requests
        .iter()
        .map(|r| r.header("idempotency-key").expect("Idempotency-Key"))
        .collect();
    let titles: HashSet<String> = requests
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON body");
            body["story"]["title"].as_str().expect("a title").to_owned()
        })
        .collect();
    assert_eq!(requests.len(), all, "one message per story");
    assert_eq!(keys.len(), all, "one key per message");
    let expected: HashSet<String> = (0..FEEDS)
        .flat_map(|feed| (0..POSTS).map(move |post| title(feed, post)))
        .collect();
    assert_eq!(titles, expected);
    let served_titles: HashSet<String> = served.into_iter().map(|(_, title)| title).collect();
    assert_eq!(served_titles, expected);

    // Stopped, the instances hold no lease and no claim.
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let held: i64 = admin
        .query_one(
            "SELECT (SELECT count(*) FROM sources WHERE lease_owner IS NOT NULL)
                  + (SELECT count(*) FROM outbox WHERE claimed_by IS NOT NULL)",
            &[],
        )
        .expect("count")
        .get(0);
    assert_eq!(held, 0);
}

#[test]
fn a_feed_another_instance_holds_is_due_when_its_lease_ends() {
    let Some(cluster) = Cluster::start("a_feed_another_instance_holds_is_due") else {
        return;
    };
    let url = cluster.database("next");
    let mut first = open_store(&url);
    let other = open_store(&url);
    let config = Config::parse(
        "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/feed\"\n\
         [[feeds]]\nname = \"b\"\nurl = \"https://b.example/feed\"\n",
        "test",
    )
    .expect("config");
    first.sync_sources(&config.feeds).expect("sync");
    let now = noon();
    let (overdue, later) = (
        now - chrono::Duration::minutes(1),
        now + chrono::Duration::minutes(5),
    );
    assert_eq!(first.next_poll_due(now).expect("due"), None, "never polled");
    let ids: BTreeMap<String, i64> = candidates(&first)
        .into_iter()
        .map(|(name, s)| (name, s.id))
        .collect();
    let tx = first.begin_write().expect("begin");
    for (name, due) in [("a", overdue), ("b", later)] {
        let id = ids[name];
        tx.save_poll_state(
            id,
            &PollState {
                next_due_at: Some(due),
                ..PollState::default()
            },
        )
        .expect("save");
    }
    tx.commit().expect("commit");
    assert_eq!(first.next_poll_due(now).expect("due"), Some(overdue));

    // The other instance claims the overdue feed: to it the feed is still due; to this one
    // only when the lease ends, so the next due time here is b's.
    let claimed = other
        .claim_feeds(candidates(&other), &claim(true, now))
        .expect("claim");
    assert_eq!(names(&claimed), ["a"]);
    assert_eq!(other.next_poll_due(now).expect("due"), Some(overdue));
    assert_eq!(first.next_poll_due(now).expect("due"), Some(later));
    let lease_end = now + chrono::Duration::from_std(LEASE).expect("lease");
    assert_eq!(
        first
            .next_poll_due(lease_end - chrono::Duration::minutes(1))
            .expect("due"),
        Some(later)
    );
    // Past the lease, or once it is given up, the feed is due to everyone again.
    assert_eq!(first.next_poll_due(lease_end).expect("due"), Some(overdue));
    other.release_leases().expect("release");
    assert_eq!(first.next_poll_due(now).expect("due"), Some(overdue));
}

/// A cycle holds its mirrors back while another instance still polls an origin feed of the
/// round (`poll::wait_for_fleet_origins`): an origin is in flight while another instance's
/// lease holds it, or while it is due since the cycle started and nobody claimed it; never
/// for its own holder, a mirror, a feed polled since, or on SQLite.
#[test]
fn origins_other_instances_poll_are_in_flight_until_recorded() {
    let Some(cluster) = Cluster::start("origins_other_instances_poll_are_in_flight") else {
        return;
    };
    let url = cluster.database("fleet");
    let mut first = open_store(&url);
    let mut other = open_store(&url);
    let config = Config::parse(
        "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/feed\"\n\
         [[feeds]]\nname = \"b\"\nurl = \"https://b.example/feed\"\n\
         [[feeds]]\nname = \"m\"\nurl = \"https://m.example/feed\"\nrole = \"mirror\"\n",
        "test",
    )
    .expect("config");
    first.sync_sources(&config.feeds).expect("sync");
    let now = noon();
    let started = now - chrono::Duration::seconds(10);
    // Never polled: both origins are due, the mirror never counts.
    assert_eq!(first.origins_in_flight(started, now).expect("count"), 2);

    // The other instance claims both; to it nothing is in flight elsewhere, to this one both.
    let claimed = other
        .claim_feeds(candidates(&other), &claim(true, now))
        .expect("claim");
    assert_eq!(names(&claimed), ["a", "b", "m"]);
    assert_eq!(other.origins_in_flight(started, now).expect("count"), 0);
    assert_eq!(first.origins_in_flight(started, now).expect("count"), 2);

    // It records `a`, due again later: one left in flight.
    let ids: BTreeMap<String, i64> = claimed
        .iter()
        .map(|(name, s)| (name.clone(), s.id))
        .collect();
    let owner = other.instance().to_owned();
    let tx = other.begin_write().expect("begin");
    let state = PollState {
        next_due_at: Some(now + chrono::Duration::minutes(30)),
        ..PollState::default()
    };
    assert!(
        tx.save_claimed_poll_state(ids["a"], &state, &owner)
            .expect("save")
    );
    tx.commit().expect("commit");
    assert_eq!(first.origins_in_flight(started, now).expect("count"), 1);

    // The other instance dies holding `b`: in flight until the lease ends, then `b` is due
    // and unclaimed, so still in flight (someone must poll it) until it is polled.
    let lease_end = now + chrono::Duration::from_std(LEASE).expect("lease");
    assert_eq!(
        first
            .origins_in_flight(started, lease_end - chrono::Duration::seconds(1))
            .expect("count"),
        1
    );
    let tx = first.begin_write().expect("begin");
    tx.save_poll_state(ids["b"], &state).expect("save");
    tx.commit().expect("commit");
    assert_eq!(
        first.origins_in_flight(started, lease_end).expect("count"),
        0
    );

    // SQLite has one instance: nothing is ever in flight elsewhere.
    let ws = Workspace::new();
    let mut sqlite = Store::open(ws.path("t.db")).expect("open SQLite");
    sqlite.sync_sources(&config.feeds).expect("sync");
    assert_eq!(sqlite.origins_in_flight(started, now).expect("count"), 0);
}

/// Through the real binary: while another instance holds an origin feed of the round, a poll
/// holds its mirrors back (`poll::wait_for_fleet_origins`), and no longer than its lease; once
/// nothing is held elsewhere, a poll does not wait at all.
#[test]
fn a_polls_mirrors_wait_for_an_origin_another_instance_holds() {
    let Some(cluster) = Cluster::start("a_polls_mirrors_wait_for_an_origin") else {
        return;
    };
    let url = cluster.database("wait");
    let epoch = tributary::clock::SystemClock.now() - chrono::Duration::days(1);
    let server = TestServer::routes([
        ("/origin.xml", Reply::ok(rss(0, 2, epoch))),
        ("/mirror.xml", Reply::ok(rss(1, 2, epoch))),
    ]);
    let ws = Workspace::storing_in(url.clone());
    let feeds = [
        ("origin", server.url("/origin.xml").to_string(), "origin"),
        ("mirror", server.url("/mirror.xml").to_string(), "mirror"),
    ];
    let config = ws.write_config("t.toml", &feeds, "");
    // The tests' fetch timeout is 3 s; a lease of 4 s bounds the wait.
    let text = std::fs::read_to_string(&config).expect("config");
    let database = format!("database = \"{url}\"");
    assert!(text.contains(&database), "{text}");
    std::fs::write(
        &config,
        text.replace(&database, &format!("{database}\nlease = \"4s\"")),
    )
    .expect("rewrite config");
    let config = config.to_str().expect("utf-8 path");

    let mut other = open_store(&url);
    let parsed = Config::parse(&std::fs::read_to_string(config).expect("config"), "t.toml")
        .expect("valid config");
    other.sync_sources(&parsed.feeds).expect("sync");
    let origin: Vec<_> = candidates(&other)
        .into_iter()
        .filter(|(name, _)| name == "origin")
        .collect();
    let held = other
        .claim_feeds(origin, &claim(false, tributary::clock::SystemClock.now()))
        .expect("claim");
    assert_eq!(names(&held), ["origin"]);

    let started = Instant::now();
    let output = ws.run(&["--config", config, "poll"]);
    let waited = started.elapsed();
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("mirrors wait for the origin feeds other instances are polling"),
        "{log}"
    );
    assert!(
        log.contains("mirrors no longer wait for origin feeds other instances hold"),
        "{log}"
    );
    assert!(waited >= Duration::from_secs(4), "{waited:?}");
    // The mirror was stored after the wait; the held origin was left to its holder.
    let stored = |name: &str| {
        candidates(&other)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.state.last_success_at.is_some())
            .expect("a source")
    };
    assert!(stored("mirror"));
    assert!(!stored("origin"));

    // Nothing held elsewhere: the next poll takes the origin itself and does not wait.
    other.release_leases().expect("release");
    let output = ws.run(&["--config", config, "poll"]);
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{log}");
    assert!(!log.contains("mirrors wait"), "{log}");
    assert!(stored("origin"));
}
