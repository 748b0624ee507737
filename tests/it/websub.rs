//! WebSub for tributary's own output: the real daemon, a feed on 127.0.0.1 and a hub stub
//! that records the publish pings it receives.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::common::binary::Workspace;
use crate::common::daemon::{Daemon, free_port};
use crate::common::server::{Reply, Request, TestServer};

const BASE: &str = "https://feeds.example/merged/";

fn feed(items: &[(&str, &str)]) -> Vec<u8> {
    let mut text = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Tides</title>\
         <link>https://tides.example/</link><description>d</description>",
    );
    for (guid, title) in items {
        text.push_str(&format!(
            "<item><title>{title}</title><link>https://tides.example/p/{guid}</link>\
             <guid>{guid}</guid><pubDate>Sat, 18 Apr 2026 10:00:00 GMT</pubDate>\
             <description>{title}, told slowly.</description></item>"
        ));
    }
    text.push_str("</channel></rss>");
    text.into_bytes()
}

/// A feed server whose body the test can change, and the daemon polling it every second with
/// `hub` as its WebSub hub.
fn start(ws: &Workspace, hub: &TestServer, body: &Arc<Mutex<Vec<u8>>>) -> (TestServer, Daemon) {
    let served = Arc::clone(body);
    let feeds = TestServer::start(move |_| Reply::ok(served.lock().clone()));
    let port = free_port();
    let config = ws.write_config(
        "t.toml",
        &[("tides", feeds.url("/feed").to_string(), "origin")],
        &format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nbase_url = \"{BASE}\"\n\n\
             [schedule]\ndefault = \"* * * * * *\"\n\n[websub]\nhub = \"{}\"\n",
            hub.url("/hub")
        ),
    );
    let checked = ws.run(&["--config", config.to_str().expect("path"), "check-config"]);
    assert!(
        String::from_utf8_lossy(&checked.stdout).contains(&format!(
            "websub hub: {} (told about {BASE})",
            hub.url("/hub")
        )),
        "{checked:?}"
    );
    let daemon = Daemon::start(ws, &config, port);
    (feeds, daemon)
}

/// The `hub.url` of each ping, in arrival order, checking each is a publish form POST.
fn pinged(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .map(|request| {
            assert_eq!(request.method, "POST");
            assert_eq!(request.path(), "/hub");
            assert_eq!(
                request.header("content-type"),
                Some("application/x-www-form-urlencoded")
            );
            let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
                .into_owned()
                .collect();
            assert_eq!(form[0], ("hub.mode".to_owned(), "publish".to_owned()));
            assert_eq!(form[1].0, "hub.url");
            form[1].1.clone()
        })
        .collect()
}

fn sorted(mut urls: Vec<String>) -> Vec<String> {
    urls.sort();
    urls
}

fn every_feed() -> Vec<String> {
    sorted(
        ["feed.atom", "feed.json", "feed.rss"]
            .iter()
            .map(|name| format!("{BASE}{name}"))
            .collect(),
    )
}

#[test]
fn a_change_pings_the_hub_once_per_feed_and_no_change_none() {
    let hub = TestServer::start(|_| Reply::status(204));
    let ws = Workspace::new();
    let body = Arc::new(Mutex::new(feed(&[("one", "The first tide")])));
    let (_feeds, daemon) = start(&ws, &hub, &body);

    // Every feed advertises the hub and its own URL as the topic.
    let (_, _, atom) = daemon.get("/feed.atom");
    let hub_url = hub.url("/hub").to_string();
    assert!(
        atom.contains(&format!(r#"<link rel="hub" href="{hub_url}"/>"#)),
        "{atom}"
    );
    assert!(atom.contains(&format!(r#"<link rel="self" href="{BASE}feed.atom""#)));
    let json: serde_json::Value =
        serde_json::from_str(&daemon.get("/feed.json").2).expect("JSON Feed");
    assert_eq!(json["hubs"][0]["url"], hub_url.as_str());
    assert_eq!(json["feed_url"], format!("{BASE}feed.json"));
    let rss = daemon.get("/feed.rss").2;
    assert!(rss.contains(&format!(r#"<atom:link href="{hub_url}" rel="hub"/>"#)));

    // The first cycle stored the item: one ping per feed URL.
    daemon.wait_for("three pings", || hub.requests().len() >= 3);
    // Cycles run every second and find nothing new: no more pings.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sorted(pinged(&hub.requests())), every_feed());
    assert!(
        daemon.log().contains("websub: hub notified of a change"),
        "{}",
        daemon.log()
    );

    // The feed changes: each feed URL is pinged once more.
    *body.lock() = feed(&[("two", "The second tide"), ("one", "The first tide")]);
    daemon.wait_for("three more pings", || hub.requests().len() >= 6);
    std::thread::sleep(Duration::from_secs(3));
    let requests = hub.requests();
    assert_eq!(requests.len(), 6, "{:?}", pinged(&requests));
    assert_eq!(sorted(pinged(&requests[3..])), every_feed());
    assert!(daemon.get("/feed.atom").2.contains("The second tide"));
    let (status, _) = daemon.stop();
    assert!(status.success());

    // A restart with nothing new is no news: the hub's acknowledgements were stored.
    let (_feeds, daemon) = start(&ws, &hub, &body);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(hub.requests().len(), 6, "{}", daemon.log());
    daemon.stop();
}

#[test]
fn a_hub_that_is_down_is_retried_and_the_poll_goes_on() {
    // The hub fails its first four requests, then acknowledges.
    let answered = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&answered);
    let hub = TestServer::start(move |_| {
        if count.fetch_add(1, Ordering::SeqCst) < 4 {
            Reply::status(503).body("hub overloaded")
        } else {
            Reply::status(202)
        }
    });
    let ws = Workspace::new();
    let body = Arc::new(Mutex::new(feed(&[("one", "The first tide")])));
    let (feeds, daemon) = start(&ws, &hub, &body);

    daemon.wait_for("every feed URL acknowledged", || {
        let requests = hub.requests();
        requests.len() >= 7 && sorted(pinged(&requests[4..])) == every_feed()
    });
    let log = daemon.log();
    assert!(log.contains("websub: ping failed; retrying"), "{log}");
    assert!(log.contains("503"), "{log}");
    assert!(log.contains("hub overloaded"), "{log}");

    // Meanwhile the schedule kept polling and a change still reaches the served feed.
    let polls = feeds.requests().len();
    assert!(polls >= 2, "the feed was polled {polls} times");
    *body.lock() = feed(&[("two", "The second tide"), ("one", "The first tide")]);
    daemon.wait_for("the change to be served", || {
        daemon.get("/feed.atom").2.contains("The second tide")
    });
    daemon.wait_for("the change to be pinged", || hub.requests().len() >= 10);
    daemon.stop();
}
