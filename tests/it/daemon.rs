//! `tributary run` as a service: the real binary, on a short schedule, against local feeds.

use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use crate::common::binary::{Workspace, assert_success, stdout};
use crate::common::daemon::{Daemon, free_port};
use crate::common::fixture;
use crate::common::server::{Reply, TestServer};

fn config(ws: &Workspace, port: u16, feeds: &[(&str, String)]) -> std::path::PathBuf {
    let feeds: Vec<(&str, String, &str)> = feeds
        .iter()
        .map(|(name, url)| (*name, url.clone(), "origin"))
        .collect();
    ws.write_config(
        "t.toml",
        &feeds,
        &format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nbase_url = \"https://feeds.example/merged/\"\n\n[schedule]\ndefault = \"* * * * * *\"\n"
        ),
    )
}

#[test]
fn serves_the_merged_feed_polls_on_schedule_reloads_and_stops() {
    let newsletter = Arc::new(Mutex::new(fixture("mirrors/newsletter.xml")));
    let body = Arc::clone(&newsletter);
    let podcast = fixture("mirrors/podcast.xml");
    let server = TestServer::start(move |request| match request.path() {
        "/newsletter" => {
            let bytes = body.lock().clone();
            let etag = format!("\"{}\"", bytes.len());
            if request.header("if-none-match") == Some(etag.as_str()) {
                Reply::status(304).header("ETag", &etag)
            } else {
                Reply::ok(bytes).header("ETag", &etag)
            }
        }
        "/podcast" => Reply::ok(podcast.clone()),
        _ => Reply::not_found(),
    });
    let ws = Workspace::new();
    let port = free_port();
    let config_path = config(
        &ws,
        port,
        &[("newsletter", server.url("/newsletter").to_string())],
    );
    let daemon = Daemon::start(&ws, &config_path, port);

    // The merged feed, with validators; a conditional request gets 304.
    let (status, head, body) = daemon.get("/feed.atom");
    assert_eq!(status, 200);
    assert!(body.contains("Small models, long tails"), "{body}");
    assert!(
        body.contains("https://feeds.example/merged/feed.atom"),
        "the self link comes from base_url"
    );
    let etag = Daemon::header(&head, "etag").expect("etag");
    assert_eq!(
        Daemon::header(&head, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        daemon.get_with("/feed.atom", &[("If-None-Match", &etag)]).0,
        304
    );
    assert_eq!(daemon.get("/healthz").0, 200);
    assert!(
        daemon
            .get("/metrics")
            .2
            .contains("tributary_feed_polls_total")
    );

    // The upstream feed changes; the schedule picks it up.
    {
        let mut bytes = newsletter.lock();
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        *bytes = text
            .replacen(
                "<item>",
                "<item><title>A brand new essay on tides</title><link>https://www.longtail.example/p/tides</link><guid>https://www.longtail.example/p/tides</guid><pubDate>Sat, 18 Apr 2026 10:00:00 GMT</pubDate><description>Tides, explained slowly.</description></item><item>",
                1,
            )
            .into_bytes();
    }
    daemon.wait_for("the new item to be served", || {
        daemon
            .get("/feed.atom")
            .2
            .contains("A brand new essay on tides")
    });
    assert!(
        std::fs::read_to_string(ws.path("merged.atom"))
            .expect("file")
            .contains("A brand new essay on tides"),
        "the file on disk is kept fresh too"
    );
    // Each cycle leaves one summary line; a cycle that brought something says what it wrote.
    daemon.wait_for("a cycle summary with the new item", || {
        daemon.log().lines().any(|line| {
            line.contains("cycle: 1 feeds: 1 fetched")
                && line.contains("stories in the merged feed")
        })
    });

    // SIGHUP with a bad config: refused, the old one keeps running.
    std::fs::write(&config_path, "[output]\ntitel = 1\n").expect("write");
    daemon.signal("HUP");
    daemon.wait_for("the refusal", || daemon.log().contains("reload refused"));
    assert_eq!(daemon.get("/healthz").0, 200);

    // SIGHUP with a feed added: it starts polling.
    config(
        &ws,
        port,
        &[
            ("newsletter", server.url("/newsletter").to_string()),
            ("podcast", server.url("/podcast").to_string()),
        ],
    );
    daemon.signal("HUP");
    daemon.wait_for("the added feed's audio", || {
        daemon
            .get("/feed.atom")
            .2
            .contains("https://audio.longtail.example/small-models-long-tails.mp3")
    });
    assert!(daemon.log().contains("configuration reloaded"));

    let healthcheck = ws.run(&["healthcheck", "--url", &daemon.url("/healthz")]);
    assert_success(&healthcheck);

    let (status, elapsed) = daemon.stop();
    assert!(status.success(), "{status:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    let after = ws.run(&[
        "healthcheck",
        "--url",
        &format!("http://127.0.0.1:{port}/healthz"),
    ]);
    assert!(!after.status.success(), "nothing answers after the stop");
}

#[test]
fn a_restart_keeps_the_feed_and_the_validators() {
    let newsletter = fixture("mirrors/newsletter.xml");
    let server = TestServer::start(move |request| {
        if request.header("if-none-match") == Some("\"v1\"") {
            Reply::status(304).header("ETag", "\"v1\"")
        } else {
            Reply::ok(newsletter.clone()).header("ETag", "\"v1\"")
        }
    });
    let ws = Workspace::new();
    let port = free_port();
    let config_path = config(
        &ws,
        port,
        &[("newsletter", server.url("/feed").to_string())],
    );
    let daemon = Daemon::start(&ws, &config_path, port);
    let before = daemon.get("/feed.atom").2;
    assert!(before.contains("Small models, long tails"));
    let (status, _) = daemon.stop();
    assert!(status.success());

    server.clear_requests();
    let daemon = Daemon::start(&ws, &config_path, port);
    // Served from the store before any poll has to succeed.
    assert!(
        daemon
            .get("/feed.atom")
            .2
            .contains("Small models, long tails")
    );
    daemon.wait_for("a poll after the restart", || !server.requests().is_empty());
    assert_eq!(
        server.requests()[0].header("if-none-match"),
        Some("\"v1\""),
        "the stored ETag survives a restart"
    );
    let (status, _) = daemon.stop();
    assert!(status.success());
}

#[test]
fn import_opml_adds_feeds_to_the_config() {
    let ws = Workspace::new();
    let config_path = ws.write_config(
        "t.toml",
        &[(
            "existing",
            "https://www.longtail.example/feed".into(),
            "origin",
        )],
        "",
    );
    let opml = ws.path("export.opml");
    std::fs::write(
        &opml,
        r#"<?xml version="1.0"?><opml version="1.0"><head><title>Reader export</title></head><body><outline text="Folder"><outline type="rss" text="Long Tail" xmlUrl="http://longtail.example/feed/"/><outline type="rss" text="Tide Tables" xmlUrl="https://tides.example/rss.xml"/></outline></body></opml>"#,
    )
    .expect("write opml");
    let config = config_path.to_str().expect("path");
    let output = ws.run(&[
        "--config",
        config,
        "import-opml",
        opml.to_str().expect("path"),
    ]);
    assert_success(&output);
    assert!(
        stdout(&output).contains("1 feeds added"),
        "{}",
        stdout(&output)
    );
    let check = ws.run(&["--config", config, "check-config"]);
    assert_success(&check);
    assert!(
        stdout(&check).contains("feed tide-tables"),
        "{}",
        stdout(&check)
    );

    let refused = ws.run(&["import-opml", opml.to_str().expect("path")]);
    assert!(
        !refused.status.success(),
        "the built-in config cannot be edited"
    );
}
