//! Notifications through the real binary: local feeds serving the seed-mirror fixtures (a
//! newsletter, its podcast, an aggregator and a curation site carrying one essay), local
//! receivers standing in for each service, and `tributary poll`, `notify test`, `status` and
//! `run` against them.

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use sha2::Sha256;
use tributary::model::MatchReason;

use crate::common::binary::{Workspace, assert_success, stderr, stdout};
use crate::common::daemon::Daemon;
use crate::common::server::{Reply, Request, TestServer};

const FIXTURES: &[(&str, &str, &str)] = &[
    ("newsletter", "/newsletter.xml", "origin"),
    ("podcast", "/podcast.xml", "origin"),
    ("aggregator", "/aggregator.atom", "mirror"),
    ("curation", "/curation.xml", "mirror"),
];

const ESSAY: &str = "small-models-long-tails";
const ARTIFACTS_22: &str = "latest-artifacts-22";
const ESSAY_TITLE: &str = "Small models, long tails";
const POST_LINK: &str = "https://www.longtail.example/p/small-models-long-tails";
const AUDIO: &str = "https://audio.longtail.example/small-models-long-tails.mp3";
const SECRET: &str = "s3cret-for-tests";

/// `xml` without the items (`<item>` or `<entry>`) that mention `marker`.
fn without(xml: &str, marker: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    loop {
        let next = [("<item>", "</item>"), ("<entry>", "</entry>")]
            .into_iter()
            .filter_map(|(open, close)| rest.find(open).map(|at| (at, close)))
            .min();
        let Some((start, close)) = next else {
            out.push_str(rest);
            return out;
        };
        let end = start + rest[start..].find(close).expect("item closed") + close.len();
        out.push_str(&rest[..start]);
        if !rest[start..end].contains(marker) {
            out.push_str(&rest[start..end]);
        }
        rest = &rest[end..];
    }
}

/// The mirror fixtures, with some items hidden until [`Feeds::show`]: a feed's first poll is
/// backfill, so what should be news must appear on a later poll.
struct Feeds {
    server: TestServer,
    hidden: Arc<Mutex<Vec<(String, String)>>>,
}

impl Feeds {
    /// Hides every item mentioning one of `markers`, in every feed.
    fn start(markers: &[&str]) -> Feeds {
        let hidden: Arc<Mutex<Vec<(String, String)>>> = Arc::new(Mutex::new(
            FIXTURES
                .iter()
                .flat_map(|(_, path, _)| markers.iter().map(|m| (path.to_string(), m.to_string())))
                .collect(),
        ));
        let rules = Arc::clone(&hidden);
        let server = TestServer::start(move |request| {
            let Some((_, path, _)) = FIXTURES.iter().find(|(_, p, _)| *p == request.path()) else {
                return Reply::not_found();
            };
            let file = format!(
                "{}/tests/fixtures/mirrors{path}",
                env!("CARGO_MANIFEST_DIR")
            );
            let mut xml = std::fs::read_to_string(&file).expect("fixture");
            for (hidden_path, marker) in rules.lock().iter() {
                if hidden_path == path {
                    xml = without(&xml, marker);
                }
            }
            Reply::ok(xml)
        });
        Feeds { server, hidden }
    }

    /// Shows the hidden items of the feeds named (every feed when empty).
    fn show(&self, feeds: &[&str]) {
        let paths: Vec<&str> = FIXTURES
            .iter()
            .filter(|(name, _, _)| feeds.is_empty() || feeds.contains(name))
            .map(|(_, path, _)| *path)
            .collect();
        self.hidden
            .lock()
            .retain(|(path, _)| !paths.contains(&path.as_str()));
    }

    fn config(&self) -> Vec<(&'static str, String, &'static str)> {
        FIXTURES
            .iter()
            .map(|(name, path, role)| (*name, self.server.url(path).to_string(), *role))
            .collect()
    }
}

/// A stand-in for a chat service: answers scripted replies in order, then its default, and
/// notes when each request arrived.
struct Receiver {
    server: TestServer,
    script: Arc<Mutex<VecDeque<Reply>>>,
    default: Arc<Mutex<Reply>>,
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl Receiver {
    fn new() -> Receiver {
        Receiver::answering(Reply::ok("ok"))
    }

    fn answering(default: Reply) -> Receiver {
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let default = Arc::new(Mutex::new(default));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let (s, d, a) = (
            Arc::clone(&script),
            Arc::clone(&default),
            Arc::clone(&arrivals),
        );
        let server = TestServer::start(move |_| {
            a.lock().push(Instant::now());
            s.lock().pop_front().unwrap_or_else(|| d.lock().clone())
        });
        Receiver {
            server,
            script,
            default,
            arrivals,
        }
    }

    /// The next request gets `reply`.
    fn then(&self, reply: Reply) -> &Receiver {
        self.script.lock().push_back(reply);
        self
    }

    fn answer(&self, reply: Reply) {
        *self.default.lock() = reply;
    }

    fn requests(&self) -> Vec<Request> {
        self.server.requests()
    }

    fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().clone()
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path).to_string()
    }
}

/// A `[[notify]]` table.
fn sink(name: &str, kind: &str, url: &str, extra: &str) -> String {
    format!("[[notify]]\nname = \"{name}\"\nkind = \"{kind}\"\nurl = \"{url}\"\n{extra}\n")
}

struct Scenario {
    feeds: Feeds,
    ws: Workspace,
    config: PathBuf,
}

impl Scenario {
    fn new(hidden: &[&str], sinks: &str) -> Scenario {
        let feeds = Feeds::start(hidden);
        let ws = Workspace::new();
        let config = ws.write_config("t.toml", &feeds.config(), sinks);
        Scenario { feeds, ws, config }
    }

    fn rewrite(&self, sinks: &str) {
        self.ws.write_config("t.toml", &self.feeds.config(), sinks);
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["--config", self.config.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        self.ws.run(&all)
    }

    fn poll(&self) -> String {
        let output = self.run(&["poll"]);
        assert_success(&output);
        format!("{}{}", stdout(&output), stderr(&output))
    }

    fn status(&self) -> String {
        let output = self.run(&["status"]);
        assert_success(&output);
        stdout(&output)
    }

    /// The status line of one sink, split into columns.
    fn sink_status(&self, name: &str) -> Vec<String> {
        let status = self.status();
        let line = status
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no status line for {name}:\n{status}"));
        line.split_whitespace().map(str::to_owned).collect()
    }
}

fn json(request: &Request) -> serde_json::Value {
    serde_json::from_slice(&request.body).unwrap_or_else(|e| {
        panic!(
            "body is not JSON ({e}): {}",
            String::from_utf8_lossy(&request.body)
        )
    })
}

/// The receiver's procedure from the README: split `t=` and `v1=`, HMAC the string
/// `<t>.<body>`, compare, and check the timestamp is within 5 minutes.
fn assert_signed(request: &Request) {
    let header = request
        .header("tributary-signature")
        .expect("Tributary-Signature header");
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_owned()),
            Some(("v1", value)) => v1 = Some(value.to_owned()),
            _ => {}
        }
    }
    let (t, v1) = (t.expect("t="), v1.expect("v1="));
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(&request.body);
    // The `hmac` crate, not tributary's code, so the test checks the documented scheme.
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(&signed);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expected, "signature of {header}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let now = i64::try_from(now).expect("a clock before the year 292 billion");
    let t: i64 = t.parse().expect("numeric timestamp");
    assert!(
        (now - t).abs() <= 300,
        "timestamp {t} is not within 5 minutes of {now}"
    );
}

#[test]
fn each_kind_of_sink_gets_one_message_for_the_essay_and_its_mirrors() {
    let webhook = Receiver::new();
    let slack = Receiver::new();
    let discord = Receiver::answering(Reply::ok(r#"{"id":"1"}"#));
    let matrix = Receiver::answering(Reply::ok(r#"{"event_id":"$e"}"#));
    let ntfy = Receiver::new();
    let sinks = [
        sink(
            "hook",
            "webhook",
            &webhook.url("/hook"),
            &format!("secret = \"{SECRET}\""),
        ),
        sink("slack", "slack", &slack.url("/services/T/B/x"), ""),
        sink(
            "discord",
            "discord",
            &discord.url("/api/webhooks/1/tok"),
            "",
        ),
        sink(
            "matrix",
            "matrix",
            &matrix.url("/"),
            "room = \"!room:example.org\"\ntoken = \"mx-token\"",
        ),
        sink("ntfy", "ntfy", &ntfy.url("/longtail"), ""),
    ]
    .concat();
    let s = Scenario::new(&[ESSAY], &sinks);
    let receivers = [&webhook, &slack, &discord, &matrix, &ntfy];

    let out = s.poll();
    assert!(out.contains("notifications: 0 sent"), "{out}");
    for receiver in receivers {
        assert!(receiver.requests().is_empty(), "backfill notifies nobody");
    }

    s.feeds.show(&[]);
    let out = s.poll();
    assert!(out.contains("notifications: 5 sent, 0 failed"), "{out}");
    for receiver in receivers {
        assert_eq!(receiver.requests().len(), 1, "one message per sink: {out}");
    }

    let hook = &webhook.requests()[0];
    assert_eq!(hook.method, "POST");
    assert_eq!(hook.header("content-type"), Some("application/json"));
    assert!(
        hook.header("user-agent")
            .is_some_and(|ua| ua.starts_with("tributary/"))
    );
    let key = hook.header("idempotency-key").expect("Idempotency-Key");
    assert_eq!(key.len(), 32);
    assert_signed(hook);
    let body = json(hook);
    assert_eq!(body["event"], "story.new");
    assert_eq!(body["idempotency_key"], key);
    let story = &body["story"];
    assert_eq!(story["title"], ESSAY_TITLE);
    assert_eq!(story["link"], POST_LINK);
    assert_eq!(
        story["published"], "2026-04-14T12:00:00Z",
        "the earliest member's date"
    );
    assert!(
        story["id"]
            .as_str()
            .expect("id")
            .starts_with("urn:tributary:story:")
    );
    assert!(story["summary"].as_str().expect("summary").len() > 20);
    let feeds: BTreeSet<&str> = story["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["feed"].as_str().expect("feed"))
        .collect();
    assert_eq!(
        feeds,
        BTreeSet::from(["newsletter", "podcast", "aggregator", "curation"])
    );
    let links: Vec<&str> = story["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["link"].as_str())
        .collect();
    assert!(links.contains(&"https://digest.example/articles/small-models-long-tails-4471"));
    // What each member is to the work and the evidence that put it there; the aggregator's
    // link arrives without its utm_* parameters.
    let members = story["members"].as_array().expect("members");
    let member = |feed: &str| {
        members
            .iter()
            .find(|m| m["feed"] == feed)
            .unwrap_or_else(|| panic!("{feed} is a member"))
    };
    assert_eq!(member("newsletter")["member_role"], "post");
    assert_eq!(member("podcast")["member_role"], "episode");
    assert_eq!(member("aggregator")["member_role"], "copy");
    assert_eq!(
        member("aggregator")["link"],
        "https://longtail.example/p/small-models-long-tails/"
    );
    assert_eq!(
        members.iter().filter(|m| m["evidence"] == "new").count(),
        1,
        "one member started the story: {members:?}"
    );
    for m in members {
        let evidence = m["evidence"].as_str().expect("evidence");
        assert!(MatchReason::parse(evidence).is_some(), "{m}");
        let score = m["score"].as_f64().expect("score");
        assert!(score > 0.0 && score <= 1.0, "{m}");
    }
    assert_eq!(story["enclosure"]["url"], AUDIO);
    assert_eq!(story["enclosure"]["type"], "audio/mpeg");

    let text = json(&slack.requests()[0])["text"]
        .as_str()
        .expect("text")
        .to_owned();
    assert!(
        text.starts_with(&format!("*{ESSAY_TITLE}*\n{POST_LINK}\nAudio: {AUDIO}")),
        "{text}"
    );

    let request = &discord.requests()[0];
    assert_eq!(request.target, "/api/webhooks/1/tok?wait=true");
    let embed = &json(request)["embeds"][0];
    assert_eq!(embed["title"], ESSAY_TITLE);
    assert_eq!(embed["url"], POST_LINK);
    assert_eq!(embed["fields"][0]["value"], format!("[Listen]({AUDIO})"));

    let request = &matrix.requests()[0];
    assert_eq!(request.method, "PUT");
    let prefix = "/_matrix/client/v3/rooms/%21room%3Aexample.org/send/m.room.message/tributary-";
    assert!(request.target.starts_with(prefix), "{}", request.target);
    assert_eq!(request.header("authorization"), Some("Bearer mx-token"));
    let event = json(request);
    assert_eq!(event["msgtype"], "m.text");
    assert!(
        event["body"]
            .as_str()
            .expect("body")
            .contains(&format!("Audio: {AUDIO}"))
    );

    let request = &ntfy.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.path()),
        ("POST", "/longtail")
    );
    assert_eq!(request.header("title"), Some(ESSAY_TITLE));
    assert_eq!(request.header("click"), Some(POST_LINK));
    assert_eq!(request.header("tags"), Some("newspaper,headphones"));
    assert_eq!(request.header("authorization"), None);
    let text = String::from_utf8_lossy(&request.body);
    assert!(text.contains(&format!("Audio: {AUDIO}")), "{text}");

    // Nothing new: nothing sent, and nothing repeated.
    let out = s.poll();
    assert!(out.contains("notifications: 0 sent"), "{out}");
    for receiver in receivers {
        assert_eq!(receiver.requests().len(), 1);
    }
    for name in ["hook", "slack", "discord", "matrix", "ntfy"] {
        assert_eq!(
            s.sink_status(name)[2..5],
            ["0", "1", "0"],
            "{name}: pending delivered dead"
        );
    }
}

#[test]
fn backfill_is_silent_unless_a_sink_asks_for_it_and_bursts_are_paced() {
    let quiet = Receiver::new();
    let loud = Receiver::new();
    let sinks = [
        sink("quiet", "webhook", &quiet.url("/"), ""),
        sink("loud", "slack", &loud.url("/"), "notify_backfill = true"),
    ]
    .concat();
    let s = Scenario::new(&[], &sinks);
    let out = s.poll();
    let stories = s.run(&["stories", "--limit", "100"]);
    let stories = stdout(&stories).lines().count();
    assert!(stories >= 4, "{stories}");
    assert!(quiet.requests().is_empty(), "{out}");
    assert_eq!(loud.requests().len(), stories, "{out}");
    let texts: BTreeSet<String> = loud
        .requests()
        .iter()
        .map(|r| json(r)["text"].as_str().expect("text").to_owned())
        .collect();
    assert_eq!(texts.len(), stories, "one message per story");
    assert_eq!(
        texts.iter().filter(|t| t.contains(ESSAY_TITLE)).count(),
        1,
        "the essay and its mirrors are one message"
    );
    // Slack allows one message per second per webhook.
    let arrivals = loud.arrivals();
    for pair in arrivals.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(900),
            "{gap:?} between two Slack messages"
        );
    }
    s.poll();
    assert_eq!(loud.requests().len(), stories);
}

#[test]
fn a_sink_that_is_down_or_refusing_gets_everything_once_it_is_back() {
    let down = Receiver::answering(Reply::status(500).body("upstream unavailable"));
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let refusing = format!("http://127.0.0.1:{closed_port}/hook");
    let hook = |url: &str| {
        sink(
            "down",
            "webhook",
            &down.url("/hook"),
            &format!("secret = \"{SECRET}\""),
        ) + &sink("refusing", "slack", url, "")
    };
    let s = Scenario::new(&[ESSAY, ARTIFACTS_22], &hook(&refusing));
    s.poll();
    s.feeds.show(&[]);

    let out = s.poll();
    assert!(
        out.contains(
            "notifications: 0 sent, 2 failed (will retry), 0 dead, 0 filtered, 2 deferred"
        ),
        "{out}"
    );
    assert_eq!(
        down.requests().len(),
        1,
        "after one failure the rest wait: {out}"
    );
    let status = s.sink_status("down");
    assert_eq!(status[2..5], ["2", "0", "0"], "{status:?}");
    assert!(status.join(" ").contains("500"), "{status:?}");
    assert!(
        s.sink_status("refusing").join(" ").contains("refused"),
        "{:?}",
        s.sink_status("refusing")
    );

    // Back up: the receiver recovers, and the refusing sink's URL is fixed.
    std::thread::sleep(Duration::from_millis(2_200));
    down.answer(Reply::ok("ok"));
    let fixed = Receiver::new();
    s.rewrite(&hook(&fixed.url("/hook")));
    let out = s.poll();
    assert!(out.contains("notifications: 4 sent, 0 failed"), "{out}");
    let requests = down.requests();
    assert_eq!(requests.len(), 3, "{out}");
    assert_eq!(fixed.requests().len(), 2);
    let keys: Vec<&str> = requests
        .iter()
        .map(|r| r.header("idempotency-key").expect("key"))
        .collect();
    assert!(
        keys[1..].contains(&keys[0]),
        "the retry carries the same key: {keys:?}"
    );
    assert_ne!(keys[1], keys[2]);
    let titles: BTreeSet<String> = requests[1..]
        .iter()
        .map(|r| {
            json(r)["story"]["title"]
                .as_str()
                .expect("title")
                .to_owned()
        })
        .collect();
    assert!(titles.contains(ESSAY_TITLE), "{titles:?}");
    for request in &requests {
        assert_signed(request);
    }

    s.poll();
    assert_eq!(
        down.requests().len(),
        3,
        "nothing is repeated once acknowledged"
    );
    assert_eq!(s.sink_status("down")[2..5], ["0", "2", "0"]);
    assert_eq!(s.sink_status("refusing")[2..5], ["0", "2", "0"]);
}

#[test]
fn rate_limits_are_honoured_in_each_services_style() {
    let webhook = Receiver::new();
    webhook.then(Reply::status(429).header("Retry-After", "3"));
    let slack = Receiver::new();
    slack.then(
        Reply::status(429)
            .header("Retry-After", "3")
            .body("rate_limited"),
    );
    let discord = Receiver::new();
    discord.then(
        Reply::status(429)
            .header("Content-Type", "application/json")
            .body(r#"{"message": "You are being rate limited.", "retry_after": 3.5, "global": false}"#),
    );
    let matrix = Receiver::answering(Reply::ok(r#"{"event_id":"$e"}"#));
    matrix.then(Reply::status(429).body(
        r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":3000}"#,
    ));
    let ntfy = Receiver::new();
    ntfy.then(
        Reply::status(429)
            .body(r#"{"code":42901,"http":429,"error":"limit reached: too many requests"}"#),
    );
    let sinks = [
        sink("hook", "webhook", &webhook.url("/"), ""),
        sink("slack", "slack", &slack.url("/"), ""),
        sink("discord", "discord", &discord.url("/"), ""),
        sink(
            "matrix",
            "matrix",
            &matrix.url("/"),
            "room = \"!r:x\"\ntoken = \"t\"",
        ),
        sink("ntfy", "ntfy", &ntfy.url("/topic"), ""),
    ]
    .concat();
    let s = Scenario::new(&[ESSAY], &sinks);
    s.poll();
    s.feeds.show(&[]);
    let out = s.poll();
    assert!(out.contains("0 sent, 5 failed"), "{out}");
    // At once again: every sink asked for time, so nobody is asked.
    let out = s.poll();
    assert!(out.contains("notifications: 0 sent, 0 failed"), "{out}");
    let receivers = [
        (&webhook, 3_000),
        (&slack, 3_000),
        (&discord, 3_500),
        (&matrix, 3_000),
        // ntfy sends no Retry-After: the floor for a bare 429.
        (&ntfy, 5_000),
    ];
    for (receiver, _) in receivers {
        assert_eq!(receiver.requests().len(), 1);
    }
    std::thread::sleep(Duration::from_millis(5_300));
    let out = s.poll();
    assert!(out.contains("notifications: 5 sent, 0 failed"), "{out}");
    for (receiver, wait) in receivers {
        let arrivals = receiver.arrivals();
        assert_eq!(arrivals.len(), 2);
        let gap = arrivals[1] - arrivals[0];
        assert!(gap >= Duration::from_millis(wait), "{gap:?} < {wait} ms");
    }
    let keys: Vec<_> = webhook
        .requests()
        .iter()
        .map(|r| r.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(keys[0], keys[1]);
    let targets: Vec<String> = matrix.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(targets[0], targets[1], "the same Matrix transaction id");
}

#[test]
fn a_hanging_sink_does_not_hold_up_another() {
    let stuck = Receiver::answering(Reply::Hang);
    let fine = Receiver::new();
    let sinks = [
        sink("stuck", "webhook", &stuck.url("/"), ""),
        sink("fine", "webhook", &fine.url("/"), ""),
    ]
    .concat();
    let s = Scenario::new(&[ESSAY, ARTIFACTS_22], &sinks);
    s.poll();
    s.feeds.show(&[]);
    let started = Instant::now();
    let out = s.poll();
    let took = started.elapsed();
    assert!(
        out.contains("2 sent, 1 failed (will retry), 0 dead, 0 filtered, 1 deferred"),
        "{out}"
    );
    let arrivals = fine.arrivals();
    assert_eq!(arrivals.len(), 2);
    assert!(
        arrivals[1] - started < Duration::from_secs(4),
        "the healthy sink was served at once, not after the hung one"
    );
    assert!(
        took >= Duration::from_secs(9),
        "the hung request ran into its deadline: {took:?}"
    );
    assert!(
        took < Duration::from_secs(20),
        "one deadline, not one per story: {took:?}"
    );
    assert_eq!(stuck.requests().len(), 1);
    let status = s.sink_status("stuck").join(" ");
    assert!(
        status.contains("no complete response within 10s"),
        "{status}"
    );
}

/// Credentials in the config (a webhook secret, a Slack hook path, a Matrix token, ntfy's user
/// and password) reach the receivers but no line the binary prints, even at debug level and
/// when a request fails.
#[test]
fn no_output_shows_a_sinks_credentials() {
    let failing = Receiver::answering(Reply::status(500).body("down"));
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let ntfy_url = failing
        .url("/topic")
        .replacen("http://", "http://phone:NTFYPASS@", 1);
    let sinks = [
        sink(
            "hook",
            "webhook",
            &failing.url("/hook"),
            "secret = \"whsec-SIGNING\"",
        ),
        sink(
            "chat",
            "slack",
            &format!("http://127.0.0.1:{closed_port}/services/T0/B0/SLACKPATH"),
            "",
        ),
        sink(
            "room",
            "matrix",
            &failing.url("/"),
            "room = \"!room:example.org\"\ntoken = \"syt_MATRIXTOKEN\"",
        ),
        sink("phone", "ntfy", &ntfy_url, "token = \"tk_NTFYTOKEN\""),
        sink("tablet", "ntfy", &ntfy_url.replace("/topic", "/basic"), ""),
    ]
    .concat();
    let s = Scenario::new(&[ESSAY], &sinks);
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
            .arg("--config")
            .arg(&s.config)
            .args(args)
            .current_dir(s.config.parent().expect("workspace"))
            .env("RUST_LOG", "debug")
            .output()
            .expect("run tributary");
        format!("{}{}", stdout(&output), stderr(&output))
    };
    let mut shown = run(&["check-config"]);
    shown += &run(&["poll"]);
    s.feeds.show(&[]);
    let out = run(&["poll"]);
    assert!(out.contains("5 failed (will retry)"), "{out}");
    shown += &out;
    shown += &run(&["status"]);
    shown += &run(&["notify", "test", "chat"]);
    for secret in [
        "SIGNING",
        "SLACKPATH",
        "MATRIXTOKEN",
        "NTFYPASS",
        "NTFYTOKEN",
    ] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
    }
    assert!(
        shown.contains(&format!("http://127.0.0.1:{closed_port}")),
        "the failing sink is still named: {shown}"
    );
    // The receivers got them all the same.
    let requests = failing.requests();
    let header = |path: &str, name: &str| {
        requests
            .iter()
            .find(|r| r.path().starts_with(path))
            .and_then(|r| r.header(name).map(str::to_owned))
    };
    assert!(header("/hook", "tributary-signature").is_some());
    assert_eq!(
        header("/_matrix", "authorization").as_deref(),
        Some("Bearer syt_MATRIXTOKEN")
    );
    assert_eq!(
        header("/topic", "authorization").as_deref(),
        Some("Bearer tk_NTFYTOKEN")
    );
    // Without a token, ntfy's user and password in the URL are sent as basic auth.
    assert_eq!(
        header("/basic", "authorization").as_deref(),
        Some("Basic cGhvbmU6TlRGWVBBU1M=")
    );
}

#[test]
fn notify_test_sends_a_sample_and_prints_the_answer() {
    let receiver = Receiver::answering(Reply::ok("thanks"));
    receiver.then(Reply::status(404).body("no_service"));
    let sinks = sink(
        "team",
        "webhook",
        &receiver.url("/hook"),
        &format!("secret = \"{SECRET}\""),
    );
    let s = Scenario::new(&[], &sinks);

    let output = s.run(&["notify", "test", "team"]);
    assert!(!output.status.success(), "a 404 is a failed test");
    assert!(
        stdout(&output).contains("HTTP 404\nno_service"),
        "{}",
        stdout(&output)
    );

    let output = s.run(&["notify", "test", "team"]);
    assert_success(&output);
    assert_eq!(stdout(&output), "HTTP 200\nthanks\n");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_signed(&requests[1]);
    let body = json(&requests[1]);
    assert_eq!(body["event"], "test");
    assert_eq!(requests[1].header("tributary-event"), Some("test"));
    assert!(
        body["story"]["title"]
            .as_str()
            .expect("title")
            .contains("test")
    );
    assert_ne!(
        requests[0].header("idempotency-key"),
        requests[1].header("idempotency-key"),
        "each test is a new message"
    );

    let output = s.run(&["notify", "test", "nope"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no sink named `nope`"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("team"), "{}", stderr(&output));
    // A test sends nothing through the outbox.
    assert!(s.status().contains("team"));
}

#[test]
fn refused_and_expired_deliveries_are_dead_and_status_shows_them() {
    let gone = Receiver::answering(Reply::status(404).body("no_service"));
    let flaky = Receiver::answering(Reply::status(503));
    let sinks = [
        sink("gone", "slack", &gone.url("/"), ""),
        sink("flaky", "webhook", &flaky.url("/"), "max_age = \"2s\""),
    ]
    .concat();
    let s = Scenario::new(&[ESSAY, ARTIFACTS_22], &sinks);
    s.poll();
    s.feeds.show(&[]);
    let out = s.poll();
    assert!(
        out.contains("0 sent, 1 failed (will retry), 2 dead, 0 filtered, 1 deferred"),
        "{out}"
    );
    assert!(
        out.contains("HTTP 404 Not Found: no_service; given up"),
        "{out}"
    );
    assert_eq!(
        gone.requests().len(),
        2,
        "a 404 is permanent for that message only"
    );

    std::thread::sleep(Duration::from_millis(2_300));
    let out = s.poll();
    assert!(
        out.contains("0 sent, 0 failed (will retry), 2 dead"),
        "{out}"
    );
    assert_eq!(flaky.requests().len(), 1, "past max_age nothing is sent");

    let status = s.status();
    assert!(status.contains("SINK"), "{status}");
    let gone = s.sink_status("gone");
    assert_eq!(gone[1..5], ["slack", "0", "0", "2"], "{gone:?}");
    assert!(
        gone.join(" ").contains("HTTP 404 Not Found: no_service"),
        "{gone:?}"
    );
    let flaky = s.sink_status("flaky");
    assert_eq!(flaky[1..5], ["webhook", "0", "0", "2"], "{flaky:?}");
    assert!(flaky.join(" ").contains("max_age"), "{flaky:?}");
}

#[test]
fn a_burst_becomes_one_digest_where_configured() {
    let slack = Receiver::new();
    let hook = Receiver::new();
    let sinks = [
        sink(
            "slack",
            "slack",
            &slack.url("/"),
            "digest = true\nnotify_backfill = true",
        ),
        sink(
            "hook",
            "webhook",
            &hook.url("/"),
            "digest = true\nnotify_backfill = true",
        ),
    ]
    .concat();
    let s = Scenario::new(&[], &sinks);
    let out = s.poll();
    let stories = stdout(&s.run(&["stories", "--limit", "100"]))
        .lines()
        .count();
    assert!(stories > 3, "{stories}");
    assert_eq!(slack.requests().len(), 1, "{out}");
    let text = json(&slack.requests()[0])["text"]
        .as_str()
        .expect("text")
        .to_owned();
    assert!(
        text.starts_with(&format!("*{stories} new stories*\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("<{POST_LINK}|{ESSAY_TITLE}>")),
        "{text}"
    );
    assert_eq!(text.lines().count(), stories + 1, "{text}");
    let body = json(&hook.requests()[0]);
    assert_eq!(body["event"], "story.digest");
    assert_eq!(body["stories"].as_array().expect("stories").len(), stories);
    assert_eq!(
        s.sink_status("slack")[2..5],
        ["0", stories.to_string().as_str(), "0"]
    );
    assert_eq!(
        s.sink_status("hook")[2..5],
        ["0", stories.to_string().as_str(), "0"]
    );
}

#[test]
fn filters_judge_the_story_as_it_is_at_delivery_time() {
    let curated = Receiver::new();
    let artifacts = Receiver::new();
    let threads = Receiver::new();
    let sinks = [
        // Held: the curation site's copy arrives a poll after the post.
        sink(
            "curated",
            "webhook",
            &curated.url("/"),
            "feeds = [\"curation\"]\nhold = \"4s\"",
        ),
        sink(
            "artifacts",
            "webhook",
            &artifacts.url("/"),
            "keywords = [\"ARTIFACTS\"]\nnotify_backfill = true",
        ),
        sink(
            "threads",
            "webhook",
            &threads.url("/"),
            "pattern = \"^Open thread$\"\nnotify_backfill = true",
        ),
    ]
    .concat();
    let s = Scenario::new(&[ESSAY], &sinks);
    let out = s.poll();
    assert_eq!(artifacts.requests().len(), 2, "#21 and #22: {out}");
    assert_eq!(
        threads.requests().len(),
        2,
        "two open threads that stay apart: {out}"
    );

    s.feeds.show(&["newsletter"]);
    let out = s.poll();
    assert!(curated.requests().is_empty(), "held: {out}");
    assert!(
        out.contains("0 sent, 0 failed (will retry), 0 dead, 2 filtered"),
        "the essay is neither artifacts nor a thread: {out}"
    );
    s.feeds.show(&[]);
    let out = s.poll();
    assert!(curated.requests().is_empty(), "still held: {out}");
    assert!(out.contains("notifications: 0 sent"), "{out}");
    assert!(artifacts.requests().len() == 2 && threads.requests().len() == 2);

    std::thread::sleep(Duration::from_millis(4_200));
    let out = s.poll();
    assert!(out.contains("notifications: 1 sent"), "{out}");
    let body = json(&curated.requests()[0]);
    let feeds: BTreeSet<&str> = body["story"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["feed"].as_str().expect("feed"))
        .collect();
    assert!(feeds.contains("curation"), "{feeds:?}");
    assert_eq!(
        body["story"]["enclosure"]["url"], AUDIO,
        "the episode folded in during the hold"
    );
}

fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn the_daemon_notifies_after_a_cycle_and_retries_without_blocking_polls() {
    let receiver = Receiver::new();
    receiver.then(Reply::status(500));
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let extra = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[schedule]\ndefault = \"* * * * * *\"\n\n{}",
        sink(
            "team",
            "webhook",
            &receiver.url("/hook"),
            &format!("secret = \"{SECRET}\"")
        )
    );
    let feeds = Feeds::start(&[ESSAY]);
    let ws = Workspace::new();
    let config = ws.write_config("t.toml", &feeds.config(), &extra);
    let s = Scenario { feeds, ws, config };
    let daemon = Daemon::start(&s.ws, &s.config, port);
    std::thread::sleep(Duration::from_millis(1_500));
    assert!(receiver.requests().is_empty(), "backfill is silent");

    s.feeds.show(&[]);
    // The first attempt fails (500); the retry comes within a few seconds, from the worker.
    daemon.wait_for("the retry to be delivered", || {
        receiver.requests().len() >= 2
    });
    std::thread::sleep(Duration::from_millis(2_500));
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "delivered once, never repeated");
    assert_eq!(
        requests[0].header("idempotency-key"),
        requests[1].header("idempotency-key")
    );
    assert_signed(&requests[1]);
    let story = &json(&requests[1])["story"];
    assert_eq!(story["title"], ESSAY_TITLE);
    assert_eq!(
        story["members"].as_array().expect("members").len(),
        4,
        "the cycle's mirrors folded in before the first attempt"
    );
    let first = json(&requests[0]);
    assert_eq!(
        first["story"]["members"].as_array().expect("members").len(),
        4
    );
    let metrics = http_get(port, "/metrics").expect("metrics");
    assert!(
        metrics.contains("tributary_notifications_delivered_total{sink=\"team\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tributary_notifications_failed_total{sink=\"team\"} 1"),
        "{metrics}"
    );

    let (status, took) = daemon.stop();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(8), "{took:?}");
}
