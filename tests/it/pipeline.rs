//! The whole pipeline through the real binary: local feeds in the shapes real publishers use
//! -> `tributary poll` -> the store (SQLite and PostgreSQL) -> the merged Atom feed.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::backend::{Backend, each_backend};
use crate::common::binary::{Workspace, assert_success, stderr, stdout};
use crate::common::server::{Reply, TestServer};

const FIXTURES: &[(&str, &str, &str)] = &[
    ("newsletter", "/newsletter.xml", "origin"),
    ("podcast", "/podcast.xml", "origin"),
    ("aggregator", "/aggregator.atom", "mirror"),
    ("curation", "/curation.xml", "mirror"),
    ("rewrite", "/rewrite.xml", "mirror"),
];

fn fixture(path: &str) -> Vec<u8> {
    let file = format!(
        "{}/tests/fixtures/mirrors{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&file).unwrap_or_else(|e| panic!("read {file}: {e}"))
}

/// Serves every fixture with an ETag, answering 304 to a matching If-None-Match.
fn mirror_server() -> TestServer {
    TestServer::start(|request| {
        let Some((_, path, _)) = FIXTURES.iter().find(|(_, p, _)| *p == request.path()) else {
            return Reply::not_found();
        };
        let etag = format!("\"{}\"", path.len());
        if request.header("if-none-match") == Some(etag.as_str()) {
            return Reply::status(304).header("ETag", &etag);
        }
        Reply::ok(fixture(path)).header("ETag", &etag)
    })
}

fn feeds<'a>(server: &TestServer, names: &[&'a str]) -> Vec<(&'a str, String, &'static str)> {
    names
        .iter()
        .map(|name| {
            let (_, path, role) = FIXTURES
                .iter()
                .find(|(n, _, _)| n == name)
                .expect("known fixture");
            (*name, server.url(path).to_string(), *role)
        })
        .collect()
}

/// Each story as the set of every link its entry carries, so groupings can be compared.
fn groupings(feed: &feed_rs::model::Feed) -> BTreeSet<BTreeSet<String>> {
    feed.entries
        .iter()
        .map(|entry| entry.links.iter().map(|l| l.href.clone()).collect())
        .collect()
}

fn entry_titled<'a>(feed: &'a feed_rs::model::Feed, title: &str) -> Vec<&'a feed_rs::model::Entry> {
    feed.entries
        .iter()
        .filter(|e| e.title.as_ref().map(|t| t.content.as_str()) == Some(title))
        .collect()
}

const POST_LINK: &str = "https://www.longtail.example/p/small-models-long-tails";
const AUDIO: &str = "https://audio.longtail.example/small-models-long-tails.mp3";

each_backend!(mirrors_fold_into_one_story_and_the_rest_stay_apart);
fn mirrors_fold_into_one_story_and_the_rest_stay_apart(backend: &Backend) {
    let server = mirror_server();
    let ws = backend.workspace();
    let all: Vec<&str> = FIXTURES.iter().map(|(n, _, _)| *n).collect();
    let config = ws.write_config("t.toml", &feeds(&server, &all), "");
    let config = config.to_str().expect("utf-8 path");
    let output = ws.run(&["--config", config, "poll"]);
    assert_success(&output);
    assert!(
        stdout(&output).contains("5 feeds: 5 fetched"),
        "{}",
        stdout(&output)
    );

    let feed = ws.merged_feed();
    // essay (post + episode + aggregator + curation), #21, #22, two open threads, rewrite
    assert_eq!(feed.entries.len(), 6, "{:#?}", groupings(&feed));

    let essay = entry_titled(&feed, "Small models, long tails");
    assert_eq!(essay.len(), 1, "one story for the essay");
    let essay = essay[0];
    let by_rel = |rel: &str| -> Vec<&feed_rs::model::Link> {
        essay
            .links
            .iter()
            .filter(|l| l.rel.as_deref() == Some(rel))
            .collect()
    };
    let alternate = by_rel("alternate");
    assert_eq!(alternate.len(), 1);
    assert_eq!(alternate[0].href, POST_LINK, "the origin post leads");
    let enclosure = by_rel("enclosure");
    assert_eq!(enclosure.len(), 1, "the episode's audio");
    assert_eq!(enclosure[0].href, AUDIO);
    assert_eq!(enclosure[0].media_type.as_deref(), Some("audio/mpeg"));
    assert_eq!(enclosure[0].length, Some(11_223_344));
    let related: BTreeSet<_> = by_rel("related").iter().map(|l| l.href.clone()).collect();
    assert!(
        related.contains("https://digest.example/articles/small-models-long-tails-4471"),
        "{related:?}"
    );
    assert!(
        related.contains("https://longtail.example/p/small-models-long-tails/"),
        "the aggregator's link is a related member, without its tracking parameters: {related:?}"
    );
    assert!(
        essay
            .content
            .as_ref()
            .and_then(|c| c.body.as_deref())
            .unwrap_or_default()
            .contains("centre of gravity"),
        "the post's full text is the entry's content"
    );
    // The story's date is its earliest member's: the episode, a day before the post.
    assert_eq!(
        essay.published.map(|d| d.to_rfc3339()),
        Some("2026-04-14T12:00:00+00:00".to_owned())
    );

    assert_eq!(
        entry_titled(&feed, "Open thread").len(),
        2,
        "generic titles stay apart"
    );
    assert_eq!(
        entry_titled(&feed, "Latest artifacts (#21): a crowded spring").len(),
        1
    );
    assert_eq!(
        entry_titled(
            &feed,
            "Latest artifacts (#22): quieter month, sharper tools"
        )
        .len(),
        1
    );
    assert_eq!(
        entry_titled(&feed, "Writer argues small AI models will serve most users").len(),
        1,
        "a rewrite that quotes the essay is its own story"
    );

    // Every member's reason is explained.
    let list = ws.run(&["--config", config, "stories"]);
    assert_success(&list);
    let line = stdout(&list)
        .lines()
        .find(|l| l.contains("Small models, long tails"))
        .map(str::to_owned)
        .expect("essay listed");
    let number = line
        .split_whitespace()
        .next()
        .expect("story number")
        .to_owned();
    let explain = ws.run(&["--config", config, "stories", "--explain", &number]);
    assert_success(&explain);
    let text = stdout(&explain);
    for expected in [
        "feed newsletter",
        "feed podcast",
        "feed aggregator",
        "feed curation",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
    assert!(text.contains("founded the story;"), "{text}");
    assert!(text.contains(": evidence url, score 1.00;"), "{text}");
    assert!(
        text.contains(": evidence title,") || text.contains(": evidence content,"),
        "{text}"
    );
}

each_backend!(stories_do_not_depend_on_arrival_order_and_ids_never_change);
fn stories_do_not_depend_on_arrival_order_and_ids_never_change(backend: &Backend) {
    let server = mirror_server();
    let all: Vec<&str> = FIXTURES.iter().map(|(n, _, _)| *n).collect();
    let reference = {
        let ws = backend.workspace();
        let config = ws.write_config("t.toml", &feeds(&server, &all), "");
        assert_success(&ws.run(&["--config", config.to_str().expect("path"), "poll"]));
        groupings(&ws.merged_feed())
    };
    let orders: &[&[&[&str]]] = &[
        &[
            &["podcast", "curation"],
            &["rewrite", "aggregator"],
            &["newsletter"],
        ],
        &[
            &["curation"],
            &["aggregator"],
            &["podcast"],
            &["newsletter", "rewrite"],
        ],
        &[
            &["rewrite"],
            &["newsletter"],
            &["aggregator", "curation", "podcast"],
        ],
    ];
    for order in orders {
        let ws = backend.workspace();
        let mut polled: Vec<&str> = Vec::new();
        let mut issued: Vec<(String, String)> = Vec::new();
        for step in *order {
            polled.extend_from_slice(step);
            let config = ws.write_config("t.toml", &feeds(&server, &polled), "");
            assert_success(&ws.run(&["--config", config.to_str().expect("path"), "poll"]));
            let feed = ws.merged_feed();
            // Every id issued earlier still names an entry holding the same first link.
            for (id, link) in &issued {
                let entry = feed
                    .entries
                    .iter()
                    .find(|e| e.links.iter().any(|l| &l.href == link))
                    .expect("link still in the feed");
                assert_eq!(
                    &entry.id, id,
                    "story id changed after {step:?} in {order:?}"
                );
            }
            issued = feed
                .entries
                .iter()
                .filter_map(|e| e.links.first().map(|l| (e.id.clone(), l.href.clone())))
                .collect();
        }
        assert_eq!(groupings(&ws.merged_feed()), reference, "order {order:?}");
    }
}

each_backend!(repolling_asks_conditionally_and_stores_nothing_new);
fn repolling_asks_conditionally_and_stores_nothing_new(backend: &Backend) {
    let server = mirror_server();
    let ws = backend.workspace();
    let config = ws.write_config("t.toml", &feeds(&server, &["newsletter", "podcast"]), "");
    let config = config.to_str().expect("path");
    assert_success(&ws.run(&["--config", config, "poll"]));
    let first = std::fs::read(ws.path("merged.atom")).expect("feed");
    server.clear_requests();

    let again = ws.run(&["--config", config, "poll"]);
    assert_success(&again);
    assert!(
        stdout(&again).contains("0 fetched, 2 unchanged"),
        "{}",
        stdout(&again)
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert!(request.header("if-none-match").is_some(), "{request:?}");
        assert!(
            request
                .header("user-agent")
                .is_some_and(|ua| ua.starts_with("tributary/")),
            "{request:?}"
        );
    }
    assert_eq!(std::fs::read(ws.path("merged.atom")).expect("feed"), first);

    // A poll that brings nothing new still restores a removed file, and shows a new title.
    std::fs::remove_file(ws.path("merged.atom")).expect("remove the merged feed");
    assert_success(&ws.run(&["--config", config, "poll"]));
    assert_eq!(std::fs::read(ws.path("merged.atom")).expect("feed"), first);
    let text = std::fs::read_to_string(config).expect("config");
    std::fs::write(config, text.replace("Test merged feed", "Renamed feed")).expect("retitle");
    let retitled = ws.run(&["--config", config, "poll"]);
    assert_success(&retitled);
    assert!(stdout(&retitled).contains("0 fetched, 2 unchanged"));
    assert_eq!(
        ws.merged_feed().title.map(|title| title.content).as_deref(),
        Some("Renamed feed")
    );
}

/// An RSS feed of the given items (title, pubDate), newest first, with a build date.
fn rss(built: &str, items: &[(&str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(title, date)| {
            format!(
                "<item><title>{title}</title><link>https://example.org/{}</link>\
                 <pubDate>{date}</pubDate><description><![CDATA[<p>About {title}.</p>]]></description></item>\n",
                title.to_lowercase().replace(' ', "-")
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>Changing</title>\
         <lastBuildDate>{built}</lastBuildDate>\n{items}</channel></rss>"
    )
}

each_backend!(a_changed_feed_is_parsed_only_for_the_items_that_changed);
fn a_changed_feed_is_parsed_only_for_the_items_that_changed(backend: &Backend) {
    let body = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let served = std::sync::Arc::clone(&body);
    let server = TestServer::start(move |_| {
        let body = served.lock().expect("body").clone();
        Reply::ok(body).header("Content-Type", "application/rss+xml")
    });
    let ws = backend.workspace();
    let feed = vec![("changing", server.url("/feed.xml").to_string(), "origin")];
    let config = ws.write_config("t.toml", &feed, "");
    let config = config.to_str().expect("path");

    // A date far ahead is clamped to the moment it is parsed: parsing the same item again
    // later would make it look edited.
    let future = "Fri, 01 Jan 2100 00:00:00 GMT";
    let old = [
        ("Tide tables", future),
        ("Neap tides", "Mon, 02 Jun 2025 08:00:00 GMT"),
    ];
    *body.lock().expect("body") = rss("Mon, 02 Jun 2025 09:00:00 GMT", &old);
    let first = ws.run(&["--config", config, "poll"]);
    assert_success(&first);
    assert!(stdout(&first).contains("2 new items"), "{}", stdout(&first));

    std::thread::sleep(Duration::from_millis(1100));
    let new = [
        ("Spring tides", "Tue, 03 Jun 2025 08:00:00 GMT"),
        old[0],
        ("Neap tides, revised", "Mon, 02 Jun 2025 08:00:00 GMT"),
    ];
    *body.lock().expect("body") = rss("Tue, 03 Jun 2025 09:00:00 GMT", &new);
    let second = ws.run(&["--config", config, "poll"]);
    assert_success(&second);
    // The revised item has a new link, so it is new too; the future-dated one is untouched.
    assert!(
        stdout(&second).contains("2 new items (0 joined existing stories), 0 updated"),
        "{}",
        stdout(&second)
    );
    assert!(
        stderr(&second).contains("unchanged=1"),
        "{}",
        stderr(&second)
    );
    let titles: BTreeSet<String> = ws
        .merged_feed()
        .entries
        .iter()
        .filter_map(|e| e.title.as_ref().map(|t| t.content.clone()))
        .collect();
    for title in [
        "Spring tides",
        "Tide tables",
        "Neap tides",
        "Neap tides, revised",
    ] {
        assert!(titles.contains(title), "{title} missing from {titles:?}");
    }
}

each_backend!(broken_feeds_are_reported_and_never_stop_the_others);
fn broken_feeds_are_reported_and_never_stop_the_others(backend: &Backend) {
    let good = fixture("/newsletter.xml");
    let mut truncated = fixture("/podcast.xml");
    truncated.truncate(truncated.len() / 2);
    let server = TestServer::start(move |request| match request.path() {
        "/good" => Reply::ok(good.clone()),
        "/limited" => Reply::status(429).header("Retry-After", "3600"),
        "/gone" => Reply::status(410),
        "/html" => Reply::ok("<!doctype html><html><body><p>Welcome!</p></body></html>")
            .header("Content-Type", "text/html"),
        "/truncated" => Reply::ok(truncated.clone()),
        "/loop" => Reply::redirect(302, "/loop"),
        "/slow" => Reply::ok(good.clone()).trickle(Duration::from_millis(500)),
        "/error" => Reply::status(500),
        _ => Reply::not_found(),
    });
    // A port that refuses connections: bind, learn the port, close.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_port = dead.local_addr().expect("addr").port();
    drop(dead);

    let ws = backend.workspace();
    let mut list: Vec<(&str, String, &str)> = [
        "good",
        "limited",
        "gone",
        "html",
        "truncated",
        "loop",
        "slow",
        "error",
    ]
    .iter()
    .map(|name| (*name, server.url(&format!("/{name}")).to_string(), "origin"))
    .collect();
    list.push((
        "dead",
        format!("http://127.0.0.1:{dead_port}/feed"),
        "origin",
    ));
    let config = ws.write_config("t.toml", &list, "");
    let config = config.to_str().expect("path");

    let output = ws.run(&["--config", config, "poll"]);
    assert_success(&output);
    let out = stdout(&output);
    // A truncated document is recovered (its complete items are read), as a forgiving reader
    // would; everything else here fails with its own error.
    assert!(
        out.contains("9 feeds: 2 fetched, 0 unchanged, 0 skipped, 7 failed"),
        "{out}"
    );
    let err = stderr(&output);
    for name in ["limited", "gone", "html", "loop", "slow", "error", "dead"] {
        assert!(
            err.contains(&format!("feed {name} failed")),
            "{name}: {err}"
        );
    }
    assert_eq!(
        ws.merged_feed().entries.len(),
        4,
        "the good feed's stories are out"
    );

    let status = ws.run(&["--config", config, "status"]);
    assert_success(&status);
    let table = stdout(&status);
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} row in\n{table}"))
            .to_owned()
    };
    assert!(row("gone").contains("never (gone)"), "{table}");
    assert!(row("limited").contains("rate limited"), "{table}");
    assert!(row("html").contains("error"), "{table}");
    assert!(row("good").contains("ok"), "{table}");

    // The next poll does not ask the rate-limited or gone feeds again.
    server.clear_requests();
    assert_success(&ws.run(&["--config", config, "poll"]));
    let asked: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert!(!asked.contains(&"/limited".to_owned()), "{asked:?}");
    assert!(!asked.contains(&"/gone".to_owned()), "{asked:?}");
    assert!(asked.contains(&"/good".to_owned()), "{asked:?}");
}

/// A poll starts more feeds than it fetches at once (they wait their turn, so fetching goes on
/// while it writes), yet never fetches more than sixteen at once: each feed here is a host of
/// its own (so the per-host limit of two does not bound them) and answers slowly.
#[test]
fn a_poll_fetches_at_most_sixteen_feeds_at_once_however_many_it_starts() {
    const HOSTS: u8 = 40;
    let answering = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let servers: Vec<TestServer> = (2..2 + HOSTS)
        .map(|last| {
            let (answering, most) = (Arc::clone(&answering), Arc::clone(&most));
            TestServer::start_on(std::net::Ipv4Addr::new(127, 0, 0, last), move |_| {
                let now = answering.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(150));
                answering.fetch_sub(1, Ordering::SeqCst);
                Reply::ok(rss(
                    "Mon, 01 Jan 2024 00:00:00 GMT",
                    &[(&format!("Post {last}"), "Mon, 01 Jan 2024 00:00:00 GMT")],
                ))
            })
        })
        .collect();
    let names: Vec<String> = (0..servers.len()).map(|n| format!("host{n}")).collect();
    let list: Vec<(&str, String, &str)> = servers
        .iter()
        .zip(&names)
        .map(|(server, name)| (name.as_str(), server.url("/feed").to_string(), "origin"))
        .collect();
    let ws = Workspace::new();
    let config = ws.write_config("t.toml", &list, "");

    let output = ws.run(&["--config", config.to_str().expect("path"), "poll"]);
    assert_success(&output);
    let out = stdout(&output);
    assert!(out.contains("40 feeds: 40 fetched"), "{out}");
    let most = most.load(Ordering::SeqCst);
    assert!(most <= 16, "{most} feeds were fetched at once");
    // The feeds started ahead are fetched in parallel, not one after another.
    assert!(most >= 8, "only {most} feeds were fetched at once");
}

// SQLite only: the embedded default config is what is under test, and it stores in SQLite.
#[test]
fn offline_default_config_still_exits_zero_with_a_summary() {
    // The embedded default points at the real feeds; make every request fail fast through a
    // proxy that refuses connections, so the test never leaves this machine.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let proxy = format!("http://{}", dead.local_addr().expect("addr"));
    drop(dead);
    let ws = Workspace::new();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("poll")
        .current_dir(ws.dir.path())
        .env_remove("TRIBUTARY_CONFIG")
        .env("HTTPS_PROXY", &proxy)
        .env("HTTP_PROXY", &proxy)
        .env("ALL_PROXY", &proxy)
        .env_remove("NO_PROXY")
        .output()
        .expect("run");
    assert_success(&output);
    let out = stdout(&output);
    assert!(out.contains("11 feeds: 0 fetched"), "{out}");
    assert!(
        stderr(&output).contains("feed interconnects failed"),
        "{}",
        stderr(&output)
    );
    assert!(ws.path("tributary.db").exists());
    assert!(
        ws.path("merged.atom").exists(),
        "an empty merged feed is still written"
    );
}

/// An essay dense in names, which the summaries below retell in words of their own.
const KEEPERS_ESSAY: &str = "<p>Lighthouse keepers trimmed wicks nightly, logged storms in \
    diaries, and polished Fresnel lenses. Automation replaced keepers with clockwork rotation, \
    electric lamps, photocells and radio beacons. Museums now occupy towers at Cape Hatteras, \
    Portland Head and Split Rock, where visitors climb spiral stairs.</p>";

/// One RSS item whose guid is its link.
fn rss_item(link: &str, title: &str, date: &str, text: &str) -> String {
    rss_item_with(link, title, date, text, "")
}

/// [`rss_item`] with more elements (`extra`, say an author or an enclosure) before its text.
fn rss_item_with(link: &str, title: &str, date: &str, text: &str, extra: &str) -> String {
    format!(
        "<item><title>{title}</title><link>{link}</link><guid>{link}</guid>\
         <pubDate>{date}</pubDate>{extra}<description><![CDATA[{text}]]></description></item>"
    )
}

/// The writer's feed with one essay of last spring, "Why lighthouse keepers went home".
fn went_home_origin() -> String {
    rss_channel(
        "Harbour Notes",
        &[rss_item(
            "https://harbour.example/p/lighthouse-keepers",
            "Why lighthouse keepers went home",
            "Mon, 02 Mar 2026 09:00:00 GMT",
            KEEPERS_ESSAY,
        )],
    )
}

/// An RSS item without a date, whose guid is its link.
fn undated_item(link: &str, title: &str, text: &str) -> String {
    format!(
        "<item><title>{title}</title><link>{link}</link><guid>{link}</guid>\
         <description><![CDATA[{text}]]></description></item>"
    )
}

/// Polls `feeds` in each of `orders` (each step a poll of the feeds at those indices), each
/// order into a store of its own, and asserts the merged feed groups the links as `expected`.
fn grouped_in_orders(
    backend: &Backend,
    feeds: &[(&str, String, &str)],
    orders: &[&[&[usize]]],
    expected: &[&[&str]],
) {
    let expected: BTreeSet<BTreeSet<String>> = expected
        .iter()
        .map(|links| links.iter().map(|l| (*l).to_owned()).collect())
        .collect();
    for order in orders {
        let ws = backend.workspace();
        for step in *order {
            let polled: Vec<(&str, String, &str)> =
                step.iter().map(|i| feeds[*i].clone()).collect();
            let config = ws.write_config("t.toml", &polled, "");
            assert_success(&ws.run(&["--config", config.to_str().expect("path"), "poll"]));
        }
        assert_eq!(groupings(&ws.merged_feed()), expected, "order {order:?}");
    }
}

/// An RSS document of `items` (which may name their authors as `dc:creator`).
fn rss_channel(title: &str, items: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<rss version=\"2.0\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>{title}</title>\
         <link>https://example.org/</link>{}</channel></rss>",
        items.concat()
    )
}

/// A writer's feed of two essays a week apart, and a reader's notes on the first, in words of
/// their own, two weeks after it.
fn essays_and_notes() -> TestServer {
    let (item, channel) = (rss_item, rss_channel);
    let origin = channel(
        "Harbour Notes",
        &[
            item(
                "https://harbour.example/p/the-last-keepers",
                "The last keepers",
                "Mon, 02 Mar 2026 09:00:00 GMT",
                KEEPERS_ESSAY,
            ),
            item(
                "https://harbour.example/p/starters",
                "Starters",
                "Mon, 23 Feb 2026 09:00:00 GMT",
                "<p>Sourdough starters ferment rye flour with wild yeast and lactobacilli; bakers \
                 discard half daily, watch bubbles, and bake boules in Dutch ovens. Hydration, \
                 levain timing, autolyse and scoring shape crumb and crust in every loaf.</p>",
            ),
        ],
    );
    let notes = channel(
        "A reader's notes",
        &[item(
            "https://notes.example/week-3",
            "Reading notes, week 3",
            "Mon, 16 Mar 2026 09:00:00 GMT",
            "<p>Keepers once trimmed wicks and polished Fresnel lenses and kept storm diaries; \
             clockwork rotation, electric lamps, photocells and radio beacons replaced them. \
             Towers at Cape Hatteras, Portland Head and Split Rock became museums with spiral \
             stairs.</p>",
        )],
    );
    TestServer::start(move |request| match request.path() {
        "/origin.xml" => Reply::ok(origin.clone().into_bytes()),
        "/notes.xml" => Reply::ok(notes.clone().into_bytes()),
        _ => Reply::not_found(),
    })
}

each_backend!(a_summary_weeks_after_its_work_joins_it_whichever_feed_is_polled_first);
fn a_summary_weeks_after_its_work_joins_it_whichever_feed_is_polled_first(backend: &Backend) {
    let server = essays_and_notes();
    let origin = ("harbour", server.url("/origin.xml").to_string(), "origin");
    let notes = ("notes", server.url("/notes.xml").to_string(), "mirror");
    let expected: BTreeSet<BTreeSet<String>> = [
        vec![
            "https://harbour.example/p/the-last-keepers",
            "https://notes.example/week-3",
        ],
        vec!["https://harbour.example/p/starters"],
    ]
    .iter()
    .map(|links| links.iter().map(|l| (*l).to_owned()).collect())
    .collect();
    let orders: &[&[&[usize]]] = &[&[&[0, 1]], &[&[1], &[0, 1]], &[&[0], &[0, 1]]];
    for order in orders {
        let ws = backend.workspace();
        for step in *order {
            let polled: Vec<(&str, String, &str)> = step
                .iter()
                .map(|i| [origin.clone(), notes.clone()][*i].clone())
                .collect();
            let config = ws.write_config("t.toml", &polled, "");
            assert_success(&ws.run(&["--config", config.to_str().expect("path"), "poll"]));
        }
        assert_eq!(groupings(&ws.merged_feed()), expected, "order {order:?}");
    }
}

/// The writer's feed of the one essay, "The last keepers".
fn keepers_origin() -> String {
    rss_channel(
        "Harbour Notes",
        &[rss_item(
            "https://harbour.example/p/the-last-keepers",
            "The last keepers",
            "Mon, 02 Mar 2026 09:00:00 GMT",
            KEEPERS_ESSAY,
        )],
    )
}

each_backend!(directories_under_their_own_headline_join_the_work_in_any_order);
/// Two directories list the essay a day after it under a headline of their own; only the
/// second one's summary reads like the essay. Whichever feed is polled first, all three end
/// in one story: a directory that meets the other's story first brings it to the work
/// (`dedupe::lead_to_the_work`), and a work that arrives after both asks each of them again.
fn directories_under_their_own_headline_join_the_work_in_any_order(backend: &Backend) {
    let headline = "Why the lighthouse keepers finally went home for good";
    let date = "Tue, 03 Mar 2026 09:00:00 GMT";
    let origin = keepers_origin();
    let listing = rss_channel(
        "Listen later",
        &[rss_item(
            "https://listen.example/e/9",
            headline,
            date,
            "<p>A short note on coastal history, with a link to listen.</p>",
        )],
    );
    let summary = rss_channel(
        "Digest daily",
        &[rss_item(
            "https://digest.example/s/4",
            headline,
            date,
            "<p>Storm diaries, nightly wicks and polished Fresnel lenses kept keepers busy, until \
             beacons by radio, photocells, lamps run on electricity and clockwork turning the \
             lens took over. Split Rock, Portland Head and Cape Hatteras towers are museums now, \
             their spiral stairs climbed by visitors.</p>",
        )],
    );
    let server = TestServer::start(move |request| match request.path() {
        "/origin.xml" => Reply::ok(origin.clone().into_bytes()),
        "/listing.xml" => Reply::ok(listing.clone().into_bytes()),
        "/summary.xml" => Reply::ok(summary.clone().into_bytes()),
        _ => Reply::not_found(),
    });
    let feeds = [
        ("harbour", server.url("/origin.xml").to_string(), "origin"),
        ("listing", server.url("/listing.xml").to_string(), "mirror"),
        ("digest", server.url("/summary.xml").to_string(), "mirror"),
    ];
    let expected: BTreeSet<BTreeSet<String>> = [[
        "https://harbour.example/p/the-last-keepers",
        "https://listen.example/e/9",
        "https://digest.example/s/4",
    ]
    .iter()
    .map(|l| (*l).to_owned())
    .collect()]
    .into_iter()
    .collect();
    // One feed per poll, in these orders.
    let orders: &[[usize; 3]] = &[[0, 1, 2], [0, 2, 1], [1, 2, 0], [2, 1, 0], [1, 0, 2]];
    for order in orders {
        let ws = backend.workspace();
        for i in order {
            let config = ws.write_config("t.toml", &[feeds[*i].clone()], "");
            assert_success(&ws.run(&["--config", config.to_str().expect("path"), "poll"]));
        }
        assert_eq!(groupings(&ws.merged_feed()), expected, "order {order:?}");
    }
}

each_backend!(a_listing_without_dates_joins_the_work_it_names_whenever_that_came_out);
/// A directory whose feed gives no dates lists the writer's essay of last spring under its
/// title, and another work of someone else's. First seen today, the listing is still about the
/// essay; in whichever order the two feeds are polled, they make one story and the other
/// listing stays apart.
fn a_listing_without_dates_joins_the_work_it_names_whenever_that_came_out(backend: &Backend) {
    let origin = keepers_origin();
    let listing = rss_channel(
        "Listen later",
        &[
            undated_item(
                "https://listen.example/e/9",
                "The last keepers",
                "<p>Our note: who tended the towers, and what replaced them.</p>",
            ),
            undated_item(
                "https://listen.example/e/10",
                "Bread in a cold kitchen",
                "<p>Our note: starters, slow proofs and why winter loaves rise late.</p>",
            ),
        ],
    );
    let server = TestServer::start(move |request| match request.path() {
        "/origin.xml" => Reply::ok(origin.clone().into_bytes()),
        "/listing.xml" => Reply::ok(listing.clone().into_bytes()),
        _ => Reply::not_found(),
    });
    let feeds = [
        ("harbour", server.url("/origin.xml").to_string(), "origin"),
        ("listing", server.url("/listing.xml").to_string(), "mirror"),
    ];
    let expected: &[&[&str]] = &[
        &[
            "https://harbour.example/p/the-last-keepers",
            "https://listen.example/e/9",
        ],
        &["https://listen.example/e/10"],
    ];
    grouped_in_orders(backend, &feeds, &[&[&[0], &[1]], &[&[1], &[0]]], expected);
}

each_backend!(a_reading_note_months_later_joins_the_work_it_cites_in_either_order);
/// A reader's note six weeks after the writer's essay, under the essay's own title, names the
/// writer's newsletter and sums the essay up: past the weeks a summary may follow its work,
/// it joins as a page that cites the work (`dedupe::named_work`). Polled before the essay, it
/// names no writer yet (the newsletter's name is learned from its feed) and starts a story;
/// the essay's title key then leads to it, dated and weeks away though it is, and it is asked
/// again (`ingest::fold_earlier_mirrors`): both orders make one story.
fn a_reading_note_months_later_joins_the_work_it_cites_in_either_order(backend: &Backend) {
    let origin = went_home_origin();
    let notes = rss_channel(
        "Reading notes",
        &[rss_item(
            "https://notes.example/n/went-home",
            "Why lighthouse keepers went home",
            "Tue, 14 Apr 2026 09:00:00 GMT",
            "<p>Rereading Harbour Notes on why the keepers left: wicks trimmed nightly, storm \
             diaries, Fresnel lenses polished by hand, then clockwork rotation, electric lamps, \
             photocells and radio beacons. My own visit to the museum tower at Split Rock ended \
             on its spiral stairs, as the essay's did.</p>",
        )],
    );
    let server = TestServer::start(move |request| match request.path() {
        "/origin.xml" => Reply::ok(origin.clone().into_bytes()),
        "/notes.xml" => Reply::ok(notes.clone().into_bytes()),
        _ => Reply::not_found(),
    });
    let feeds = [
        ("harbour", server.url("/origin.xml").to_string(), "origin"),
        ("notes", server.url("/notes.xml").to_string(), "mirror"),
    ];
    let expected: &[&[&str]] = &[&[
        "https://harbour.example/p/lighthouse-keepers",
        "https://notes.example/n/went-home",
    ]];
    grouped_in_orders(backend, &feeds, &[&[&[0], &[1]], &[&[1], &[0]]], expected);
}

each_backend!(a_rewrite_finds_the_work_it_quotes_past_a_crowded_week_after_it);
/// The writer's essay on a Monday morning, a rewrite of it that evening under a headline of
/// its own, quoting two of its late sentences word for word and naming no one, and a wire
/// service's 300 notes in the six days after both. No key leads the rewrite to the essay: its
/// look around the days about it reads at most `recent!()` items, and those must be the ones
/// nearest to it in time, where the work it retells is, not the newest of its fortnight,
/// which are all the wire's.
fn a_rewrite_finds_the_work_it_quotes_past_a_crowded_week_after_it(backend: &Backend) {
    let essay = rss_channel(
        "Harbour Notes",
        &[rss_item(
            "https://harbour.example/p/night-watch",
            "The night watch",
            "Mon, 02 Mar 2026 09:00:00 GMT",
            NIGHT_WATCH_ESSAY,
        )],
    );
    let rewrite = rss_channel(
        "Coastal Digest",
        &[rss_item(
            "https://digest.example/s/night-watch",
            "What the old towers asked of the people inside them",
            "Mon, 02 Mar 2026 18:00:00 GMT",
            "<p>An essay out this morning walks through a single night in a manned light, hour \
             by hour, from dusk until the curtains close. Its sharpest detail is that a \
             cracked chimney glass could blacken the lens within an hour, and it ends on a \
             keeper turning the lens by hand until morning, arms aching. We found it a moving \
             account of patient, unglamorous work that ended when the lamps learned to tend \
             themselves.</p><p>Readers in Maine, Brittany and Hokkaido wrote to us about \
             grandparents posted to remote beacons; several sent photographs, postcards and \
             cassette recordings, which we hope to publish alongside interviews next spring. \
             Our archive team is also digitising harbour-board minutes from Aberdeen, Cork and \
             Halifax, searchable by vessel name, cargo and year.</p>",
        )],
    );
    let wire: Vec<String> = (0..300)
        .map(|i| {
            let at = chrono::DateTime::parse_from_rfc3339("2026-03-03T00:00:00Z").expect("a date")
                + chrono::Duration::minutes(25 * i);
            rss_item(
                &format!("https://wire.example/n/{i}"),
                &format!("Harbour bulletin {i}"),
                &at.to_rfc2822(),
                &format!("<p>Berth {i} reassigned; pilot boarding moved to the outer mark.</p>"),
            )
        })
        .collect();
    let wire = rss_channel("Wire", &wire);
    let server = TestServer::start(move |request| match request.path() {
        "/essay.xml" => Reply::ok(essay.clone().into_bytes()),
        "/wire.xml" => Reply::ok(wire.clone().into_bytes()),
        "/rewrite.xml" => Reply::ok(rewrite.clone().into_bytes()),
        _ => Reply::not_found(),
    });
    let feeds = [
        ("harbour", server.url("/essay.xml").to_string(), "origin"),
        ("wire", server.url("/wire.xml").to_string(), "origin"),
        ("digest", server.url("/rewrite.xml").to_string(), "mirror"),
    ];
    let ws = backend.workspace();
    let config = ws.write_config("t.toml", &feeds, "");
    let config = config.to_str().expect("path");
    assert_success(&ws.run(&["--config", config, "poll"]));
    let listed = ws.run(&["--config", config, "stories", "--json", "--limit", "1000"]);
    assert_success(&listed);
    let essay_story: Vec<String> = stdout(&listed)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a JSON object"))
        .map(|story| {
            story["members"]
                .as_array()
                .expect("members")
                .iter()
                .filter_map(|m| m["link"].as_str().map(str::to_owned))
                .collect::<Vec<String>>()
        })
        .find(|links| links.iter().any(|l| l.ends_with("/p/night-watch")))
        .expect("the essay's story");
    assert_eq!(
        essay_story,
        [
            "https://harbour.example/p/night-watch",
            "https://digest.example/s/night-watch"
        ],
        "the rewrite joins the essay"
    );
}

/// A writer's essay of a few paragraphs, whose late sentences a rewrite quotes.
const NIGHT_WATCH_ESSAY: &str = "<p>Before the lamps were electric, a lighthouse needed someone \
    awake all night. The first task at dusk was to trim the wick square, so that the flame would \
    burn even and white rather than smoky and yellow. Then came the long climb with a can of \
    paraffin, and a check of the reserve lamp in case the main one failed.</p><p>Most nights \
    were quiet. Ships passed far out, and the only company was the wind in the gallery rail. \
    Many stations kept two or three families, so the watch rotated, and children grew up \
    knowing the sound of the weights dropping through the tower.</p><p>Supplies came by boat \
    once a fortnight when the sea allowed it, and sometimes it did not allow it for a month. \
    Families salted fish, kept goats on the headland and learned to mend everything twice. A \
    doctor was a day away in good weather and unreachable in bad, so every station kept a chest \
    of remedies and a book explaining them.</p><p>Inspectors arrived without warning. They ran \
    a white glove along the brass, opened the log to check that every hour was accounted for, \
    and counted the spare mantles. A station that failed inspection could lose its keeper, \
    and the whole family would have to leave the rock with whatever they could carry.</p><p>The \
    work had a rhythm that outsiders rarely saw. Every four hours the keeper wound the \
    clockwork, and the barometer went into the ledger beside the wind and the state of the \
    sea. At dawn he drew the curtains around the lens so that the sun would not scorch it, \
    then slept while the rest of the household began its day.</p><p>Small failures were the \
    ones everyone feared. A cracked chimney glass could blacken the lens within an hour, which \
    meant cleaning it in the dark with the light still turning, and a stuck weight meant \
    turning the lens by hand until morning, arms aching, counting the seconds of each \
    flash.</p>";

each_backend!(an_undated_summary_finds_the_work_its_words_name_of_any_date);
/// A notes site whose feed gives no dates sums up the writer's essay of last spring under a
/// headline of its own, long after it: first seen today, no day around it holds the essay, and
/// no key of the summary's leads to it. The essay's title words, which the summary's words
/// name, do (`WriteTx::titled_with`; `WriteTx::mirrors_naming` when the essay comes second),
/// and its words then decide as for any summary. A note under a headline with the same words,
/// about something else, stays apart, as does the writer's other essay.
fn an_undated_summary_finds_the_work_its_words_name_of_any_date(backend: &Backend) {
    let origin = rss_channel(
        "Harbour Notes",
        &[
            rss_item(
                "https://harbour.example/p/lighthouse-keepers",
                "Why lighthouse keepers went home",
                "Mon, 02 Mar 2026 09:00:00 GMT",
                KEEPERS_ESSAY,
            ),
            rss_item(
                "https://harbour.example/p/starters",
                "Sourdough starters in a cold kitchen",
                "Mon, 23 Feb 2026 09:00:00 GMT",
                "<p>Sourdough starters ferment rye flour with wild yeast and lactobacilli; bakers \
                 discard half daily, watch bubbles, and bake boules in Dutch ovens.</p>",
            ),
        ],
    );
    let notes = rss_channel(
        "Notes without dates",
        &[
            undated_item(
                "https://notes.example/n/41",
                "Towers, wicks and the clockwork that retired the keepers",
                // Its own sentences: no run of the essay's words long enough to be a passage
                // of it, so no key leads there.
                "<p>Lighthouse keepers: photocells, radio beacons, electric lamps and clockwork \
                 rotation took over from them. They once polished Fresnel lenses, trimmed wicks \
                 nightly and kept diaries of storms. Now visitors climb the spiral stairs of \
                 museum towers at Split Rock, Portland Head and Cape Hatteras.</p>",
            ),
            undated_item(
                "https://notes.example/n/42",
                "Lighthouse keepers' cottages to let",
                "<p>Three whitewashed cottages beside the harbour wall, two bedrooms each, \
                 with wood stoves, sea views, parking and a shared garden; weekly lets from \
                 April, dogs welcome, bookings by telephone.</p>",
            ),
        ],
    );
    let server = TestServer::start(move |request| match request.path() {
        "/origin.xml" => Reply::ok(origin.clone().into_bytes()),
        "/notes.xml" => Reply::ok(notes.clone().into_bytes()),
        _ => Reply::not_found(),
    });
    let feeds = [
        ("harbour", server.url("/origin.xml").to_string(), "origin"),
        ("notes", server.url("/notes.xml").to_string(), "mirror"),
    ];
    let expected: &[&[&str]] = &[
        &[
            "https://harbour.example/p/lighthouse-keepers",
            "https://notes.example/n/41",
        ],
        &["https://notes.example/n/42"],
        &["https://harbour.example/p/starters"],
    ];
    // In the same poll (which writes the writers' items before any mirror's), or either feed
    // first: a work stored after the summary finds it by the same words.
    let orders: &[&[&[usize]]] = &[&[&[0, 1]], &[&[0], &[1]], &[&[1], &[0]]];
    grouped_in_orders(backend, &feeds, orders, expected);
}

each_backend!(an_undated_retelling_that_names_the_writer_joins_the_work_in_either_order);
/// A news page without a date retells the writer's essay under a headline of its own that
/// holds every word of the essay's title, names the newsletter and shares a few of its words:
/// too few for a summary, enough with the title and the writer named (`dedupe::named_work`).
/// Polled before the essay, it is asked again when the essay comes, and ends the same. A page
/// under the same headline words that names no writer is about the topic and stays apart.
fn an_undated_retelling_that_names_the_writer_joins_the_work_in_either_order(backend: &Backend) {
    let origin = went_home_origin();
    let retelling = |publication: &str| {
        format!(
            "<p>{publication} asks where the keepers of coastal lights went. Machines took \
             their place: photocells and radio beacons, then nobody at all. I grew up near one \
             such tower and remember the last keeper leaving, the empty cottage, the silence \
             of the foghorn across the bay, and the harbour town that slowly forgot the trade \
             that had shaped its streets for centuries.</p>"
        )
    };
    let news = rss_channel(
        "Coast news",
        &[
            undated_item(
                "https://news.example/a/7",
                "So why did the lighthouse keepers go home? They went home for good",
                &retelling("Harbour Notes"),
            ),
            undated_item(
                "https://news.example/a/8",
                "Lighthouse keepers went home: a walk along the old coast road",
                &retelling("A local historian"),
            ),
        ],
    );
    let server = TestServer::start(move |request| match request.path() {
        "/origin.xml" => Reply::ok(origin.clone().into_bytes()),
        "/news.xml" => Reply::ok(news.clone().into_bytes()),
        _ => Reply::not_found(),
    });
    let feeds = [
        ("harbour", server.url("/origin.xml").to_string(), "origin"),
        ("news", server.url("/news.xml").to_string(), "mirror"),
    ];
    let expected: &[&[&str]] = &[
        &[
            "https://harbour.example/p/lighthouse-keepers",
            "https://news.example/a/7",
        ],
        &["https://news.example/a/8"],
    ];
    let orders: &[&[&[usize]]] = &[&[&[0, 1]], &[&[0], &[1]], &[&[1], &[0]]];
    grouped_in_orders(backend, &feeds, orders, expected);
}

/// What the forty undated notes on other keepers keep (see the test below).
const KEPT: [&str; 40] = [
    "bees",
    "clocks",
    "goats",
    "ledgers",
    "orchards",
    "archives",
    "ferries",
    "gardens",
    "mills",
    "bridges",
    "canals",
    "kilns",
    "looms",
    "forges",
    "vineyards",
    "quarries",
    "granaries",
    "stables",
    "kennels",
    "aviaries",
    "herbaria",
    "fisheries",
    "foundries",
    "tanneries",
    "breweries",
    "dairies",
    "apiaries",
    "smithies",
    "chapels",
    "libraries",
    "markets",
    "harbours",
    "meadows",
    "forests",
    "glaciers",
    "deserts",
    "islands",
    "caves",
    "rivers",
    "marshes",
];

/// The writer's feed of the two tests below: the essay "Lighthouse keepers" of March.
fn keepers_essay() -> String {
    rss_channel(
        "Harbour Notes",
        &[rss_item(
            "https://harbour.example/p/keepers",
            "Lighthouse keepers",
            "Mon, 02 Mar 2026 09:00:00 GMT",
            KEEPERS_ESSAY,
        )],
    )
}

/// An undated summary of [`keepers_essay`] under a headline of its own.
fn keepers_summary() -> String {
    rss_channel(
        "Notes without dates",
        &[undated_item(
            "https://notes.example/n/41",
            "Towers, wicks and the clockwork that retired them",
            "<p>Lighthouse keepers: photocells, radio beacons, electric lamps and clockwork \
             rotation took over from them. They once polished Fresnel lenses, trimmed wicks \
             nightly and kept diaries of storms. Now visitors climb the spiral stairs of museum \
             towers at Split Rock, Portland Head and Cape Hatteras.</p>",
        )],
    )
}

/// The merged feed holds the essay with its summary, and each of the [`KEPT`] items alone.
fn assert_the_summary_alone_joins_the_essay(ws: &Workspace) {
    let groups = groupings(&ws.merged_feed());
    let essay: BTreeSet<String> = [
        "https://harbour.example/p/keepers",
        "https://notes.example/n/41",
    ]
    .map(str::to_owned)
    .into();
    assert!(groups.contains(&essay), "{groups:#?}");
    assert_eq!(
        groups.len(),
        1 + KEPT.len(),
        "each of the others stays apart: {groups:#?}"
    );
}

each_backend!(an_undated_summary_is_found_by_a_later_work_past_newer_mirrors_sharing_a_word);
/// An undated summary of the writer's essay "Lighthouse keepers" is stored, then forty undated
/// notes on other keepers, then the essay. The essay asks the mirrors' words index for its two
/// title words; "keepers" names the forty newest notes and its postings are cut before the
/// summary, which only "lighthouse" names there: it is asked of the index directly
/// (`store::matching::named_by_enough`) and joins the essay, as it does polled after it.
fn an_undated_summary_is_found_by_a_later_work_past_newer_mirrors_sharing_a_word(
    backend: &Backend,
) {
    let origin = keepers_essay();
    let summary = keepers_summary();
    let notes: Vec<String> = KEPT
        .iter()
        .enumerate()
        .map(|(i, kept)| {
            undated_item(
                &format!("https://keepers.example/k/{i}"),
                &format!("Keepers of {kept}"),
                &format!("<p>A week among the keepers of {kept}: chores, tools and seasons.</p>"),
            )
        })
        .collect();
    let notes = rss_channel("Keepers everywhere", &notes);
    let server = TestServer::start(move |request| match request.path() {
        "/origin.xml" => Reply::ok(origin.clone().into_bytes()),
        "/summary.xml" => Reply::ok(summary.clone().into_bytes()),
        "/notes.xml" => Reply::ok(notes.clone().into_bytes()),
        _ => Reply::not_found(),
    });
    let feeds = [
        ("harbour", server.url("/origin.xml").to_string(), "origin"),
        ("summary", server.url("/summary.xml").to_string(), "mirror"),
        ("notes", server.url("/notes.xml").to_string(), "mirror"),
    ];
    let ws = backend.workspace();
    for step in [&feeds[1..2], &feeds[1..3], &feeds[..]] {
        let config = ws.write_config("t.toml", step, "");
        assert_success(&ws.run(&["--config", config.to_str().expect("path"), "poll"]));
    }
    assert_the_summary_alone_joins_the_essay(&ws);
}

each_backend!(an_undated_summary_finds_an_older_work_past_newer_works_sharing_a_word);
/// The reverse of the test above: the writer's essay "Lighthouse keepers" of March is stored,
/// then forty later works of another writer's, each "Keepers of" something, then an undated
/// summary of the essay. The summary asks the works' title words index for its words;
/// "keepers" names the forty newest works and its postings are cut before the essay, which
/// only "lighthouse" names there: the essay is asked of the index directly
/// (`store::matching::named_by_enough`) and the summary joins it.
fn an_undated_summary_finds_an_older_work_past_newer_works_sharing_a_word(backend: &Backend) {
    let origin = keepers_essay();
    let works: Vec<String> = KEPT
        .iter()
        .enumerate()
        .map(|(i, kept)| {
            rss_item(
                &format!("https://keepers.example/k/{i}"),
                &format!("Keepers of {kept}"),
                "Mon, 06 Apr 2026 09:00:00 GMT",
                &format!("<p>A week among the keepers of {kept}: chores, tools and seasons.</p>"),
            )
        })
        .collect();
    let works = rss_channel("Keepers everywhere", &works);
    let summary = keepers_summary();
    let server = TestServer::start(move |request| match request.path() {
        "/origin.xml" => Reply::ok(origin.clone().into_bytes()),
        "/works.xml" => Reply::ok(works.clone().into_bytes()),
        "/summary.xml" => Reply::ok(summary.clone().into_bytes()),
        _ => Reply::not_found(),
    });
    let feeds = [
        ("harbour", server.url("/origin.xml").to_string(), "origin"),
        ("keepers", server.url("/works.xml").to_string(), "origin"),
        ("summary", server.url("/summary.xml").to_string(), "mirror"),
    ];
    let ws = backend.workspace();
    for step in [&feeds[..1], &feeds[..2], &feeds[..]] {
        let config = ws.write_config("t.toml", step, "");
        assert_success(&ws.run(&["--config", config.to_str().expect("path"), "poll"]));
    }
    assert_the_summary_alone_joins_the_essay(&ws);
}

each_backend!(an_undated_directory_leads_the_others_to_the_work_its_words_name);
/// Two directories without dates list the writer's essay of last spring under one headline of
/// their own. The first says nothing of it but where to listen; the second's words name the
/// essay's title and sum it up. Polled after the essay, the first starts a story with no work
/// in it, and the second joins it by the headline and takes it to the essay
/// (`dedupe::lead_to_the_work`, asked of the works its words name, of any date).
fn an_undated_directory_leads_the_others_to_the_work_its_words_name(backend: &Backend) {
    let origin = went_home_origin();
    let headline = "The quiet end of a coastal trade, told by the towers themselves";
    let undated = |link: &str, text: &str| undated_item(link, headline, text);
    let listing = rss_channel(
        "Listen later",
        &[undated(
            "https://listen.example/e/9",
            "<p>A short note on coastal history, with a link to listen.</p>",
        )],
    );
    let digest = rss_channel(
        "Digest daily",
        &[undated(
            "https://digest.example/s/4",
            "<p>Why lighthouse keepers went home: photocells, radio beacons, electric lamps and \
             clockwork rotation took over from them. They once polished Fresnel lenses, trimmed \
             wicks nightly and kept diaries of storms. Now visitors climb the spiral stairs of \
             museum towers at Split Rock, Portland Head and Cape Hatteras.</p>",
        )],
    );
    let server = TestServer::start(move |request| match request.path() {
        "/origin.xml" => Reply::ok(origin.clone().into_bytes()),
        "/listing.xml" => Reply::ok(listing.clone().into_bytes()),
        "/digest.xml" => Reply::ok(digest.clone().into_bytes()),
        _ => Reply::not_found(),
    });
    let feeds = [
        ("harbour", server.url("/origin.xml").to_string(), "origin"),
        ("listing", server.url("/listing.xml").to_string(), "mirror"),
        ("digest", server.url("/digest.xml").to_string(), "mirror"),
    ];
    let expected: &[&[&str]] = &[&[
        "https://harbour.example/p/lighthouse-keepers",
        "https://listen.example/e/9",
        "https://digest.example/s/4",
    ]];
    // One feed per poll, in several orders, or the directories in one poll: stored before
    // the essay, the directory whose words name it is found by them when it arrives
    // (`WriteTx::mirrors_naming`) and brings the other along.
    let orders: &[&[&[usize]]] = &[
        &[&[0], &[1], &[2]],
        &[&[0], &[2], &[1]],
        &[&[0], &[1, 2]],
        &[&[1], &[2], &[0]],
        &[&[2], &[1], &[0]],
        &[&[1, 2], &[0]],
        &[&[1], &[0], &[2]],
    ];
    grouped_in_orders(backend, &feeds, orders, expected);
}

/// An item by Ada Example, with an audio file if it is an episode.
fn writers_item(link: &str, title: &str, date: &str, text: &str, audio: Option<&str>) -> String {
    let enclosure = audio
        .map(|url| format!("<enclosure url=\"{url}\" length=\"1\" type=\"audio/mpeg\"/>"))
        .unwrap_or_default();
    let extra = format!("<dc:creator>Ada Example</dc:creator>{enclosure}");
    rss_item_with(link, title, date, text, &extra)
}

each_backend!(an_episode_titled_its_own_way_joins_the_post_its_notes_cite_in_any_order);
/// A writer's essay, and a week later the episode of the writer's show about it under a
/// title of its own, whose notes open with the essay's title: one story, whichever feed is
/// read first, told apart from the writer's other essay and the show's other episode.
fn an_episode_titled_its_own_way_joins_the_post_its_notes_cite_in_any_order(backend: &Backend) {
    let newsletter = rss_channel(
        "Harbour Notes",
        &[
            writers_item(
                "https://harbour.example/p/lighthouse-keepers",
                "Why lighthouse keepers went home",
                "Mon, 02 Mar 2026 09:00:00 GMT",
                KEEPERS_ESSAY,
                None,
            ),
            writers_item(
                "https://harbour.example/p/starters",
                "Starters and their keepers",
                "Mon, 23 Feb 2026 09:00:00 GMT",
                "<p>Sourdough starters ferment rye flour with wild yeast and lactobacilli; \
                 bakers discard half daily, watch bubbles, and bake boules in Dutch ovens.</p>",
                None,
            ),
        ],
    );
    let show = rss_channel(
        "Ada Example's Harbour Show",
        &[
            writers_item(
                "https://listen.example/e/12",
                "Five signs the lights went dark",
                "Mon, 09 Mar 2026 05:00:00 GMT",
                "<p>Why lighthouse keepers went home, read and argued over: in this episode the \
                 host walks through the diaries, the clockwork and the last crews.</p>",
                Some("https://cdn.example/e12.mp3"),
            ),
            writers_item(
                "https://listen.example/e/11",
                "Tides, charts and the people who read them",
                "Mon, 02 Mar 2026 05:00:00 GMT",
                "<p>A conversation with a harbour pilot about charts, tide tables and the \
                 apprentices who learn them.</p>",
                Some("https://cdn.example/e11.mp3"),
            ),
        ],
    );
    let server = TestServer::start(move |request| match request.path() {
        "/newsletter.xml" => Reply::ok(newsletter.clone().into_bytes()),
        "/show.xml" => Reply::ok(show.clone().into_bytes()),
        _ => Reply::not_found(),
    });
    let feeds = [
        (
            "harbour",
            server.url("/newsletter.xml").to_string(),
            "origin",
        ),
        (
            "harbour-show",
            server.url("/show.xml").to_string(),
            "origin",
        ),
    ];
    let expected: &[&[&str]] = &[
        &[
            "https://harbour.example/p/lighthouse-keepers",
            "https://listen.example/e/12",
            "https://cdn.example/e12.mp3",
        ],
        &["https://harbour.example/p/starters"],
        &["https://listen.example/e/11", "https://cdn.example/e11.mp3"],
    ];
    let orders: &[&[&[usize]]] = &[&[&[0, 1]], &[&[1, 0]], &[&[0], &[0, 1]], &[&[1], &[0, 1]]];
    grouped_in_orders(backend, &feeds, orders, expected);
}
