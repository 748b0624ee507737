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

use crate::common::backend::{Backend, each_backend};
use crate::common::binary::{Workspace, assert_success, stderr, stdout};
use crate::common::daemon::{Daemon, free_port};
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

/// A signed webhook sink named `hook` at `receiver`'s `/hook` that asks for follow-ups.
fn following_hook(receiver: &Receiver) -> String {
    sink(
        "hook",
        "webhook",
        &receiver.url("/hook"),
        &format!("secret = \"{SECRET}\"\nevents = [\"story.new\", \"story.updated\"]"),
    )
}

struct Scenario {
    feeds: Feeds,
    ws: Workspace,
    config: PathBuf,
}

impl Scenario {
    fn new(backend: &Backend, hidden: &[&str], sinks: &str) -> Scenario {
        let feeds = Feeds::start(hidden);
        let ws = backend.workspace();
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

each_backend!(each_kind_of_sink_gets_one_message_for_the_essay_and_its_mirrors);
fn each_kind_of_sink_gets_one_message_for_the_essay_and_its_mirrors(backend: &Backend) {
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
    let s = Scenario::new(backend, &[ESSAY], &sinks);
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

each_backend!(backfill_is_silent_unless_a_sink_asks_for_it_and_bursts_are_paced);
fn backfill_is_silent_unless_a_sink_asks_for_it_and_bursts_are_paced(backend: &Backend) {
    let quiet = Receiver::new();
    let loud = Receiver::new();
    let sinks = [
        sink("quiet", "webhook", &quiet.url("/"), ""),
        sink("loud", "slack", &loud.url("/"), "notify_backfill = true"),
    ]
    .concat();
    let s = Scenario::new(backend, &[], &sinks);
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

each_backend!(a_sink_that_is_down_or_refusing_gets_everything_once_it_is_back);
fn a_sink_that_is_down_or_refusing_gets_everything_once_it_is_back(backend: &Backend) {
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
    let s = Scenario::new(backend, &[ESSAY, ARTIFACTS_22], &hook(&refusing));
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

each_backend!(rate_limits_are_honoured_in_each_services_style);
fn rate_limits_are_honoured_in_each_services_style(backend: &Backend) {
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
    let s = Scenario::new(backend, &[ESSAY], &sinks);
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

each_backend!(a_hanging_sink_does_not_hold_up_another);
fn a_hanging_sink_does_not_hold_up_another(backend: &Backend) {
    let stuck = Receiver::answering(Reply::Hang);
    let fine = Receiver::new();
    let sinks = [
        sink("stuck", "webhook", &stuck.url("/"), ""),
        sink("fine", "webhook", &fine.url("/"), ""),
    ]
    .concat();
    let s = Scenario::new(backend, &[ESSAY, ARTIFACTS_22], &sinks);
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

each_backend!(no_output_shows_a_sinks_credentials);
/// Credentials in the config (a webhook secret, a Slack hook path, a Matrix token, ntfy's user
/// and password) reach the receivers but no line the binary prints, even at debug level and
/// when a request fails.
fn no_output_shows_a_sinks_credentials(backend: &Backend) {
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
    let s = Scenario::new(backend, &[ESSAY], &sinks);
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

each_backend!(notify_test_sends_a_sample_and_prints_the_answer);
fn notify_test_sends_a_sample_and_prints_the_answer(backend: &Backend) {
    let receiver = Receiver::answering(Reply::ok("thanks"));
    receiver.then(Reply::status(404).body("no_service"));
    let sinks = sink(
        "team",
        "webhook",
        &receiver.url("/hook"),
        &format!("secret = \"{SECRET}\""),
    );
    let s = Scenario::new(backend, &[], &sinks);

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

each_backend!(refused_and_expired_deliveries_are_dead_and_status_shows_them);
fn refused_and_expired_deliveries_are_dead_and_status_shows_them(backend: &Backend) {
    let gone = Receiver::answering(Reply::status(404).body("no_service"));
    let flaky = Receiver::answering(Reply::status(503));
    let sinks = [
        sink("gone", "slack", &gone.url("/"), ""),
        sink("flaky", "webhook", &flaky.url("/"), "max_age = \"2s\""),
    ]
    .concat();
    let s = Scenario::new(backend, &[ESSAY, ARTIFACTS_22], &sinks);
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

each_backend!(a_burst_becomes_one_digest_where_configured);
fn a_burst_becomes_one_digest_where_configured(backend: &Backend) {
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
    let s = Scenario::new(backend, &[], &sinks);
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

each_backend!(filters_judge_the_story_as_it_is_at_delivery_time);
fn filters_judge_the_story_as_it_is_at_delivery_time(backend: &Backend) {
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
    let s = Scenario::new(backend, &[ESSAY], &sinks);
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

each_backend!(the_daemon_notifies_after_a_cycle_and_retries_without_blocking_polls);
fn the_daemon_notifies_after_a_cycle_and_retries_without_blocking_polls(backend: &Backend) {
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
    let ws = backend.workspace();
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

each_backend!(an_idle_daemon_with_a_sink_rests);
/// Once everything due is delivered, the worker waits for the next cycle or retry instead of
/// asking the outbox again and again: it used to burn a core doing that, for as long as the
/// daemon ran with a sink configured (and on PostgreSQL starved the rest of the runtime).
fn an_idle_daemon_with_a_sink_rests(backend: &Backend) {
    let receiver = Receiver::new();
    let port = free_port();
    let extra = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n\n{}",
        sink(
            "team",
            "webhook",
            &receiver.url("/hook"),
            "notify_backfill = true"
        )
    );
    let feeds = Feeds::start(&[ESSAY]);
    let ws = backend.workspace();
    let config = ws.write_config("t.toml", &feeds.config(), &extra);
    let daemon = Daemon::start(&ws, &config, port);
    daemon.wait_for("the stories' messages", || !receiver.requests().is_empty());
    std::thread::sleep(Duration::from_millis(1_500));
    let sent = receiver.requests().len();

    let (cpu_before, started) = (daemon.cpu_time(), Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let (cpu, wall) = (daemon.cpu_time() - cpu_before, started.elapsed());
    assert!(
        cpu < wall / 10,
        "the idle daemon used {cpu:?} of CPU in {wall:?}; log:\n{}",
        daemon.log()
    );
    assert_eq!(receiver.requests().len(), sent, "each story delivered once");
    let (status, _) = daemon.stop();
    assert!(status.success(), "{status:?}");
}

/// While another connection holds SQLite's write lock (a long ingest commit, `stories split`
/// from a shell, a backup), the worker's writes wait out the busy timeout. They wait off the
/// async workers: two sinks retrying and the worker's own loop used to block every worker
/// thread of a two-core machine behind the store's mutex, and the daemon stopped serving.
#[test]
fn the_daemon_serves_while_the_notifier_waits_for_the_database() {
    let failing = Receiver::answering(Reply::status(500));
    let port = free_port();
    let extra = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n\n{}{}",
        sink(
            "one",
            "webhook",
            &failing.url("/one"),
            "notify_backfill = true"
        ),
        sink(
            "two",
            "webhook",
            &failing.url("/two"),
            "notify_backfill = true"
        ),
    );
    let feeds = Feeds::start(&[ESSAY]);
    let ws = Workspace::new();
    let config = ws.write_config("t.toml", &feeds.config(), &extra);
    let daemon = Daemon::start(&ws, &config, port);
    daemon.wait_for("both sinks' first attempts", || {
        let requests = failing.requests();
        ["/one", "/two"]
            .iter()
            .all(|path| requests.iter().any(|r| r.target == *path))
    });

    // Hold the write lock through the next retries (2 s after the first attempts, then 4 s).
    let lock = rusqlite::Connection::open(ws.path("tributary.db")).expect("open the database");
    lock.execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let attempts = failing.requests().len();
    let held = Instant::now();
    let (mut slowest, mut unanswered) = (Duration::ZERO, 0);
    while held.elapsed() < Duration::from_secs(7) {
        let asked = Instant::now();
        // 0: no answer within the client's 5 s.
        if daemon.get("/feed.atom").0 != 200 {
            unanswered += 1;
        }
        slowest = slowest.max(asked.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    lock.execute_batch("ROLLBACK")
        .expect("release the write lock");
    // The retries came due while the lock was held, and went out once it was released.
    daemon.wait_for("the retries", || failing.requests().len() > attempts);
    assert!(
        unanswered == 0 && slowest < Duration::from_secs(1),
        "while the notifier waited, {unanswered} requests for the feed went unanswered and \
         the slowest took {slowest:?}; log:\n{}",
        daemon.log()
    );
    let (status, _) = daemon.stop();
    assert!(status.success(), "{status:?}");
}

// Follow-ups: one message per story, kept current. Each service's edit endpoint is emulated
// by a receiver on 127.0.0.1 that answers the way the service does (Slack's Web API with its
// `channel` and `ts`, Discord's `wait=true` message, Matrix's `event_id`).

/// Slack's answer to `chat.postMessage` and `chat.update`: the channel's id (the config may
/// name the channel) and the message's timestamp, which identifies it.
const SLACK_OK: &str =
    r#"{"ok":true,"channel":"C024BE91L","ts":"1776254400.000100","message":{"text":"…"}}"#;
const DISCORD_MESSAGE: &str = r#"{"id":"1100000000000000001","channel_id":"5","type":0}"#;
const MATRIX_EVENT: &str = r#"{"event_id":"$first:example.org"}"#;

impl Receiver {
    /// A receiver whose `n`-th request (from 0) gets `reply(n)`, after any scripted replies:
    /// a service that gives each message an id of its own.
    fn numbered(reply: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Receiver {
        let script: Arc<Mutex<VecDeque<Reply>>> = Arc::new(Mutex::new(VecDeque::new()));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let (s, a) = (Arc::clone(&script), Arc::clone(&arrivals));
        let server = TestServer::start(move |_| {
            let mut arrivals = a.lock();
            arrivals.push(Instant::now());
            let n = arrivals.len() - 1;
            drop(arrivals);
            s.lock().pop_front().unwrap_or_else(|| reply(n))
        });
        Receiver {
            server,
            script,
            default: Arc::new(Mutex::new(Reply::status(500))),
            arrivals,
        }
    }
}

/// The webhook events a request carries, in order.
fn events(receiver: &Receiver) -> Vec<String> {
    receiver
        .requests()
        .iter()
        .map(|r| json(r)["event"].as_str().expect("event").to_owned())
        .collect()
}

/// The `type` of each change an update names.
fn change_types(body: &serde_json::Value) -> Vec<String> {
    body["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["type"].as_str().expect("type").to_owned())
        .collect()
}

each_backend!(an_episode_arriving_later_edits_each_message_once);
fn an_episode_arriving_later_edits_each_message_once(backend: &Backend) {
    let hook = Receiver::new();
    let plain = Receiver::new();
    let bot = Receiver::answering(Reply::ok(SLACK_OK).header("Content-Type", "application/json"));
    let incoming = Receiver::new();
    let discord = Receiver::answering(Reply::ok(DISCORD_MESSAGE));
    let matrix = Receiver::answering(Reply::ok(MATRIX_EVENT));
    let phone = Receiver::new();
    let quiet_phone = Receiver::new();
    let sinks = [
        following_hook(&hook),
        sink("plain", "webhook", &plain.url("/hook"), ""),
        sink(
            "bot",
            "slack",
            &bot.url("/api/"),
            "token = \"xoxb-test-token\"\nchannel = \"#longtail\"",
        ),
        sink("incoming", "slack", &incoming.url("/services/T/B/x"), ""),
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
        sink("phone", "ntfy", &phone.url("/longtail"), "followups = true"),
        sink("quiet-phone", "ntfy", &quiet_phone.url("/longtail"), ""),
    ]
    .concat();
    let s = Scenario::new(backend, &[ESSAY], &sinks);
    let check = stdout(&s.run(&["check-config"]));
    let follows: Vec<&str> = check
        .lines()
        .filter(|l| l.starts_with("notify ") && l.ends_with(", follows stories up"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(
        follows,
        ["hook", "bot", "discord", "matrix", "phone"],
        "{check}"
    );
    s.poll();
    s.feeds.show(&["newsletter"]);
    let out = s.poll();
    assert!(out.contains("notifications: 8 sent, 0 failed"), "{out}");

    // The episode arrives the next morning.
    s.feeds.show(&["podcast"]);
    let out = s.poll();
    assert!(out.contains("notifications: 5 sent, 0 failed"), "{out}");
    let followers = [&hook, &bot, &discord, &matrix, &phone];
    for receiver in followers {
        assert_eq!(
            receiver.requests().len(),
            2,
            "one first message, one edit: {out}"
        );
    }
    for receiver in [&plain, &incoming, &quiet_phone] {
        assert_eq!(receiver.requests().len(), 1, "no follow-ups here: {out}");
    }

    // Webhook: a signed story.updated with its own key, naming the story and what changed.
    let requests = hook.requests();
    let (first, update) = (&requests[0], &requests[1]);
    assert_eq!(update.header("tributary-event"), Some("story.updated"));
    assert_signed(update);
    let key = update.header("idempotency-key").expect("key");
    assert_eq!(key.len(), 32);
    assert_ne!(Some(key), first.header("idempotency-key"));
    let body = json(update);
    assert_eq!(body["event"], "story.updated");
    assert_eq!(body["idempotency_key"], key);
    assert_eq!(body["revision"], 1);
    assert_eq!(body["story_id"], json(first)["story"]["id"]);
    assert_eq!(body["story"]["id"], json(first)["story"]["id"]);
    let types = change_types(&body);
    assert!(types.contains(&"member_added".to_owned()), "{types:?}");
    assert!(types.contains(&"audio_added".to_owned()), "{types:?}");
    let added = body["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["type"] == "member_added")
        .expect("member_added");
    assert_eq!(added["feed"], "podcast");
    assert_eq!(added["member_role"], "episode");
    assert_eq!(body["story"]["enclosure"]["url"], AUDIO);
    assert_eq!(
        body["story"]["members"].as_array().map(Vec::len),
        Some(2),
        "the story as it is now"
    );
    assert_eq!(events(&plain), ["story.new"]);

    // Slack's Web API: chat.postMessage, then chat.update of that message (by the channel id
    // and ts Slack answered with).
    let requests = bot.requests();
    assert_eq!(requests[0].path(), "/api/chat.postMessage");
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer xoxb-test-token")
    );
    assert_eq!(json(&requests[0])["channel"], "#longtail");
    assert_eq!(requests[1].path(), "/api/chat.update");
    assert_eq!(
        requests[1].header("authorization"),
        Some("Bearer xoxb-test-token")
    );
    let edit = json(&requests[1]);
    assert_eq!(edit["channel"], "C024BE91L");
    assert_eq!(edit["ts"], "1776254400.000100");
    let text = edit["text"].as_str().expect("text");
    assert!(text.contains(&format!("Audio: {AUDIO}")), "{text}");

    // Discord: the message `wait=true` answered with is patched.
    let requests = discord.requests();
    assert_eq!(requests[0].target, "/api/webhooks/1/tok?wait=true");
    assert_eq!(requests[1].method, "PATCH");
    assert_eq!(
        requests[1].path(),
        "/api/webhooks/1/tok/messages/1100000000000000001"
    );
    let embed = &json(&requests[1])["embeds"][0];
    assert_eq!(embed["title"], ESSAY_TITLE);
    assert_eq!(embed["fields"][0]["value"], format!("[Listen]({AUDIO})"));

    // Matrix: an m.replace of the first event, under a transaction id of its own.
    let requests = matrix.requests();
    assert_eq!(requests[1].method, "PUT");
    assert_ne!(requests[0].target, requests[1].target);
    let event = json(&requests[1]);
    assert_eq!(event["m.relates_to"]["rel_type"], "m.replace");
    assert_eq!(event["m.relates_to"]["event_id"], "$first:example.org");
    let new_body = event["m.new_content"]["body"].as_str().expect("body");
    assert!(new_body.contains(&format!("Audio: {AUDIO}")), "{new_body}");

    // ntfy cannot edit: the follow-up is a message of its own.
    let requests = phone.requests();
    assert_eq!(requests[1].method, "POST");
    assert!(
        String::from_utf8_lossy(&requests[1].body).contains(AUDIO),
        "{}",
        String::from_utf8_lossy(&requests[1].body)
    );

    // Nothing new: nothing more, and every row is delivered.
    let out = s.poll();
    assert!(out.contains("notifications: 0 sent"), "{out}");
    for receiver in followers {
        assert_eq!(receiver.requests().len(), 2);
    }
    assert_eq!(s.sink_status("hook")[2..5], ["0", "2", "0"]);
    assert_eq!(s.sink_status("plain")[2..5], ["0", "1", "0"]);
}

/// Feeds the test writes as it goes, one RSS document per path.
struct Site {
    server: TestServer,
    docs: Arc<Mutex<std::collections::HashMap<String, String>>>,
}

/// One RSS item.
#[derive(Clone)]
struct Entry {
    guid: String,
    title: String,
    link: String,
    date: &'static str,
    text: String,
    audio: Option<String>,
}

/// The work the follow-up tests are about: an essay, its episode, copies of it.
const CHEAP_TITLE: &str = "Why cheap inference changes what gets built";
const CHEAP_LINK: &str = "https://writer.example/p/cheap-inference";
const CHEAP_AUDIO: &str = "https://audio.writer.example/cheap-inference.mp3";
const CHEAP_TEXT: &str = "Every quarter the price of running a capable model falls again, and \
    every quarter the set of things worth automating grows with it. Tasks that nobody would \
    have paid a cent per request for, such as tidying calendars, checking invoices against \
    orders or tagging photographs for a village archive, now cost less than the electricity of \
    the laptop that asks. The builders who gain most are not the large labs but the small \
    shops, clubs and libraries that could never justify a budget line for machine reasoning.";

impl Entry {
    fn essay() -> Entry {
        Entry {
            guid: "writer-cheap-inference".into(),
            title: CHEAP_TITLE.into(),
            link: CHEAP_LINK.into(),
            date: "Wed, 15 Apr 2026 12:00:00 GMT",
            text: CHEAP_TEXT.into(),
            audio: None,
        }
    }

    /// Mirror `n`'s copy: the essay's link with a tracking parameter, its own title suffix.
    fn copy(n: usize) -> Entry {
        Entry {
            guid: format!("mirror{n}-copy"),
            title: format!("{CHEAP_TITLE} | Mirror {n}"),
            link: format!("{CHEAP_LINK}?utm_source=mirror{n}"),
            date: "Wed, 15 Apr 2026 18:00:00 GMT",
            text: CHEAP_TEXT
                .split_whitespace()
                .take(40)
                .collect::<Vec<_>>()
                .join(" "),
            audio: None,
        }
    }

    /// Something each feed held before the test began: its backfill, unrelated to the essay.
    fn backfill(feed: &str) -> Entry {
        const TOPICS: &[&str] = &[
            "tomato seedlings need a cold frame before the last frost",
            "the harbour ferry timetable moves an hour earlier in spring",
            "a chess club tournament ended in a three way tie for first",
            "bread rises slower when the kitchen stays below eighteen degrees",
            "the river survey counted otters upstream of the old mill",
            "volunteers repainted the railway footbridge over two weekends",
            "a violin maker explained why spruce is cut in winter",
            "the lighthouse keeper's logbook from 1911 was transcribed",
            "beekeepers compared swarm traps made from old drawers",
        ];
        let index = feed.bytes().map(usize::from).sum::<usize>() % TOPICS.len();
        Entry {
            guid: format!("{feed}-backfill"),
            title: format!("Notes from {feed}: {}", TOPICS[index]),
            link: format!("https://{feed}.example/notes/{index}"),
            date: "Wed, 01 Apr 2026 09:00:00 GMT",
            text: format!("{}. Written down by {feed} for the record.", TOPICS[index]),
            audio: None,
        }
    }
}

fn rss(feed: &str, entries: &[Entry]) -> String {
    let items: String = entries
        .iter()
        .map(|e| {
            let enclosure = e.audio.as_deref().map_or_else(String::new, |url| {
                format!(r#"<enclosure url="{url}" length="1234567" type="audio/mpeg"/>"#)
            });
            format!(
                "<item><title>{}</title><link>{}</link><guid isPermaLink=\"false\">{}</guid>\
                 <pubDate>{}</pubDate>{enclosure}<description>{}</description></item>",
                e.title, e.link, e.guid, e.date, e.text
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>\
         <title>{feed}</title><link>https://{feed}.example/</link><description>{feed}</description>\
         {items}</channel></rss>"
    )
}

impl Site {
    /// Serves `feeds`, each holding only its backfill item.
    fn start(feeds: &[&str]) -> Site {
        let docs = Arc::new(Mutex::new(std::collections::HashMap::new()));
        let served = Arc::clone(&docs);
        let server = TestServer::start(move |request| {
            served
                .lock()
                .get(request.path())
                .map_or_else(Reply::not_found, |xml: &String| Reply::ok(xml.clone()))
        });
        let site = Site { server, docs };
        for feed in feeds {
            site.set(feed, &[]);
        }
        site
    }

    /// `feed` now lists its backfill item and `entries`.
    fn set(&self, feed: &str, entries: &[Entry]) {
        let mut all = vec![Entry::backfill(feed)];
        all.extend_from_slice(entries);
        self.docs
            .lock()
            .insert(format!("/{feed}.xml"), rss(feed, &all));
    }

    fn config(
        &self,
        feeds: &[(&'static str, &'static str)],
    ) -> Vec<(&'static str, String, &'static str)> {
        feeds
            .iter()
            .map(|(name, role)| {
                (
                    *name,
                    self.server.url(&format!("/{name}.xml")).to_string(),
                    *role,
                )
            })
            .collect()
    }
}

/// A workspace polling a [`Site`].
struct Polling {
    site: Site,
    ws: Workspace,
    config: PathBuf,
}

impl Polling {
    fn new(backend: &Backend, feeds: &[(&'static str, &'static str)], sinks: &str) -> Polling {
        let names: Vec<&str> = feeds.iter().map(|(name, _)| *name).collect();
        let site = Site::start(&names);
        let ws = backend.workspace();
        let config = ws.write_config("t.toml", &site.config(feeds), sinks);
        Polling { site, ws, config }
    }

    fn poll(&self) -> String {
        let output = self.ws.run(&[
            "--config",
            self.config.to_str().expect("utf-8 path"),
            "poll",
        ]);
        assert_success(&output);
        format!("{}{}", stdout(&output), stderr(&output))
    }
}

const MIRRORS: [&str; 5] = ["mirror1", "mirror2", "mirror3", "mirror4", "mirror5"];

each_backend!(five_mirrors_within_the_hold_make_one_edit);
fn five_mirrors_within_the_hold_make_one_edit(backend: &Backend) {
    let hook = Receiver::new();
    let discord = Receiver::answering(Reply::ok(DISCORD_MESSAGE));
    let sinks = [
        sink(
            "hook",
            "webhook",
            &hook.url("/hook"),
            &format!(
                "secret = \"{SECRET}\"\nevents = [\"story.new\", \"story.updated\"]\nhold = \"3s\""
            ),
        ),
        sink(
            "discord",
            "discord",
            &discord.url("/api/webhooks/1/tok"),
            "hold = \"3s\"",
        ),
    ]
    .concat();
    let mut feeds = vec![("writer", "origin")];
    feeds.extend(MIRRORS.map(|m| (m, "mirror")));
    let p = Polling::new(backend, &feeds, &sinks);
    p.poll();
    p.site.set("writer", &[Entry::essay()]);
    p.poll();
    std::thread::sleep(Duration::from_millis(3_200));
    let out = p.poll();
    assert!(out.contains("notifications: 2 sent"), "{out}");

    // Five mirrors, one poll each, all within the hold of the first one's edit.
    for (n, mirror) in MIRRORS.iter().enumerate() {
        p.site.set(mirror, &[Entry::copy(n + 1)]);
        let out = p.poll();
        assert!(out.contains("notifications: 0 sent"), "held: {out}");
    }
    assert_eq!(hook.requests().len(), 1);
    std::thread::sleep(Duration::from_millis(3_200));
    let out = p.poll();
    assert!(
        out.contains("notifications: 2 sent"),
        "one edit per sink: {out}"
    );
    assert_eq!(events(&hook), ["story.new", "story.updated"]);
    let body = json(&hook.requests()[1]);
    assert_eq!(body["revision"], 1);
    let added: BTreeSet<&str> = body["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["type"] == "member_added")
        .map(|c| c["feed"].as_str().expect("feed"))
        .collect();
    assert_eq!(added, BTreeSet::from(MIRRORS), "every mirror is named once");
    assert_eq!(
        body["story"]["members"].as_array().map(Vec::len),
        Some(6),
        "rendered from the story as it is at send time"
    );
    let requests = discord.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].method, "PATCH");
    let links = json(&requests[1])["embeds"][0]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["name"] == "Links")
        .and_then(|f| f["value"].as_str().map(str::to_owned))
        .expect("links");
    for mirror in MIRRORS {
        assert!(links.contains(mirror), "{links}");
    }

    std::thread::sleep(Duration::from_millis(3_200));
    p.poll();
    assert_eq!(hook.requests().len(), 2, "nothing more");
    assert_eq!(discord.requests().len(), 2, "nothing more");
}

each_backend!(a_merge_edits_the_survivor_and_points_the_absorbed_message_at_it);
fn a_merge_edits_the_survivor_and_points_the_absorbed_message_at_it(backend: &Backend) {
    let hook = Receiver::new();
    // Each Discord message gets an id of its own, so the two edits can be told apart.
    let discord = Receiver::numbered(|n| Reply::ok(format!(r#"{{"id":"{}"}}"#, 500 + n)));
    let sinks = [
        following_hook(&hook),
        sink(
            "discord",
            "discord",
            &discord.url("/api/webhooks/1/tok"),
            "",
        ),
    ]
    .concat();
    let p = Polling::new(
        backend,
        &[
            ("writer", "origin"),
            ("podcast", "origin"),
            ("directory", "mirror"),
            ("another-directory", "mirror"),
        ],
        &sinks,
    );
    p.poll();
    // The essay, and a podcast directory listing its episode under a title of its own, with
    // no link to the essay: nothing says they are one work yet, so two stories, two messages.
    p.site.set("writer", &[Entry::essay()]);
    p.site.set(
        "directory",
        &[Entry {
            guid: "directory-ep-7".into(),
            title: "Ep. 7 from the writer's show".into(),
            link: "https://directory.example/shows/writer/7".into(),
            date: "Wed, 15 Apr 2026 13:00:00 GMT",
            text: "Stream or download it here.".into(),
            audio: Some(CHEAP_AUDIO.into()),
        }],
    );
    let out = p.poll();
    assert!(out.contains("notifications: 4 sent"), "{out}");
    let firsts: Vec<String> = hook
        .requests()
        .iter()
        .map(|r| json(r)["story"]["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(firsts.len(), 2);
    assert_ne!(firsts[0], firsts[1]);

    // The episode: the essay's title, the directory's audio file. One work after all.
    p.site.set(
        "podcast",
        &[Entry {
            guid: "podcast-cheap-inference".into(),
            title: CHEAP_TITLE.into(),
            link: "https://writer.example/podcast/cheap-inference".into(),
            date: "Wed, 15 Apr 2026 14:00:00 GMT",
            text: CHEAP_TEXT.into(),
            audio: Some(CHEAP_AUDIO.into()),
        }],
    );
    let out = p.poll();
    assert!(out.contains("notifications: 4 sent, 0 failed"), "{out}");
    let requests = hook.requests();
    assert_eq!(requests.len(), 4, "{out}");
    let updates: Vec<serde_json::Value> = requests[2..].iter().map(json).collect();
    for update in &updates {
        assert_eq!(update["event"], "story.updated");
    }
    let survivor = updates
        .iter()
        .find(|u| change_types(u).contains(&"merged".to_owned()))
        .expect("the surviving story's message says another joined it");
    let absorbed = updates
        .iter()
        .find(|u| change_types(u).contains(&"merged_into".to_owned()))
        .expect("the absorbed story's message points at the survivor");
    let survivor_id = survivor["story_id"].as_str().expect("id");
    let absorbed_id = absorbed["story_id"].as_str().expect("id");
    assert_eq!(
        BTreeSet::from([survivor_id, absorbed_id]),
        firsts
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<&str>>(),
        "each announced story gets one edit"
    );
    assert_eq!(survivor["story"]["id"], survivor_id);
    assert_eq!(
        absorbed["story"]["id"], survivor_id,
        "the story it is part of now"
    );
    let merged = survivor["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["type"] == "merged")
        .expect("merged");
    assert_eq!(merged["other"], absorbed_id);
    let into = absorbed["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["type"] == "merged_into")
        .expect("merged_into");
    assert_eq!(into["into"], survivor_id);
    assert_eq!(
        survivor["story"]["members"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(survivor["story"]["enclosure"]["url"], CHEAP_AUDIO);
    assert!(
        change_types(survivor).contains(&"audio_added".to_owned()),
        "the essay's message had no audio before: {survivor}"
    );
    for request in &requests {
        assert_signed(request);
    }

    // Discord: both messages are patched, each by its own id; the absorbed one points at the
    // survivor.
    let requests = discord.requests();
    assert_eq!(requests.len(), 4);
    let patched: BTreeSet<&str> = requests[2..].iter().map(Request::path).collect();
    assert_eq!(
        patched,
        BTreeSet::from([
            "/api/webhooks/1/tok/messages/500",
            "/api/webhooks/1/tok/messages/501"
        ])
    );
    let titles: Vec<String> = requests[2..]
        .iter()
        .map(|r| {
            json(r)["embeds"][0]["title"]
                .as_str()
                .expect("title")
                .to_owned()
        })
        .collect();
    assert!(
        titles.contains(&format!("Merged into: {CHEAP_TITLE}")),
        "{titles:?}"
    );
    assert!(titles.contains(&CHEAP_TITLE.to_owned()), "{titles:?}");

    let out = p.poll();
    assert!(out.contains("notifications: 0 sent"), "{out}");

    // Another directory lists the episode: a member joins, but the story had its audio.
    p.site.set(
        "another-directory",
        &[Entry {
            guid: "another-directory-cheap".into(),
            title: format!("{CHEAP_TITLE} (podcast)"),
            link: format!("{CHEAP_LINK}?utm_source=another-directory"),
            date: "Wed, 15 Apr 2026 15:00:00 GMT",
            text: "Stream or download it here.".into(),
            audio: Some(CHEAP_AUDIO.into()),
        }],
    );
    let out = p.poll();
    assert!(out.contains("notifications: 2 sent"), "{out}");
    let last = json(hook.requests().last().expect("an edit"));
    assert_eq!(last["story_id"], survivor_id);
    assert_eq!(change_types(&last), ["member_added"], "{last}");
}

each_backend!(an_edit_is_retried_under_its_own_key_and_honours_retry_after);
fn an_edit_is_retried_under_its_own_key_and_honours_retry_after(backend: &Backend) {
    let hook = Receiver::new();
    let discord = Receiver::answering(Reply::ok(DISCORD_MESSAGE));
    let sinks = [
        following_hook(&hook),
        sink(
            "discord",
            "discord",
            &discord.url("/api/webhooks/1/tok"),
            "",
        ),
    ]
    .concat();
    let s = Scenario::new(backend, &[ESSAY], &sinks);
    s.poll();
    s.feeds.show(&["newsletter"]);
    let out = s.poll();
    assert!(out.contains("notifications: 2 sent"), "{out}");

    // The edit meets a rate limit in each service's style.
    hook.then(Reply::status(429).header("Retry-After", "2"));
    discord.then(
        Reply::status(429)
            .header("Content-Type", "application/json")
            .body(r#"{"message": "You are being rate limited.", "retry_after": 2.5, "global": false}"#),
    );
    s.feeds.show(&["podcast"]);
    let out = s.poll();
    assert!(out.contains("0 sent, 2 failed"), "{out}");
    let out = s.poll();
    assert!(
        out.contains("notifications: 0 sent, 0 failed"),
        "asked for time: {out}"
    );
    assert_eq!(hook.requests().len(), 2);
    assert_eq!(discord.requests().len(), 2);
    std::thread::sleep(Duration::from_millis(2_700));
    let out = s.poll();
    assert!(out.contains("notifications: 2 sent, 0 failed"), "{out}");
    for (receiver, wait) in [(&hook, 2_000), (&discord, 2_500)] {
        let arrivals = receiver.arrivals();
        assert_eq!(arrivals.len(), 3);
        let gap = arrivals[2] - arrivals[1];
        assert!(gap >= Duration::from_millis(wait), "{gap:?} < {wait} ms");
    }
    let requests = hook.requests();
    let keys: Vec<&str> = requests
        .iter()
        .map(|r| r.header("idempotency-key").expect("key"))
        .collect();
    assert_eq!(keys[1], keys[2], "a retried edit carries its key again");
    assert_eq!(requests[1].body, requests[2].body, "and the same bytes");
    assert_ne!(keys[0], keys[1], "an edit's key is not the first message's");
    assert_signed(&requests[2]);
    let discord_edits: Vec<String> = discord.requests()[1..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.target))
        .collect();
    assert_eq!(discord_edits[0], discord_edits[1]);

    // A second change is a second revision, under a third key.
    s.feeds.show(&["aggregator"]);
    let out = s.poll();
    assert!(out.contains("notifications: 2 sent"), "{out}");
    let requests = hook.requests();
    assert_eq!(requests.len(), 4);
    let body = json(&requests[3]);
    assert_eq!(body["revision"], 2);
    assert_eq!(change_types(&body), ["member_added"]);
    let third = requests[3].header("idempotency-key").expect("key");
    assert!(!keys.contains(&third), "{third} in {keys:?}");
    assert_eq!(s.sink_status("hook")[2..5], ["0", "3", "0"]);
}

each_backend!(an_edit_waits_for_the_first_message);
fn an_edit_waits_for_the_first_message(backend: &Backend) {
    let hook = Receiver::new();
    let sinks = sink(
        "hook",
        "webhook",
        &hook.url("/hook"),
        "events = [\"story.new\", \"story.updated\"]",
    );
    let s = Scenario::new(backend, &[ESSAY], &sinks);
    s.poll();
    hook.then(Reply::status(503).header("Retry-After", "3"));
    s.feeds.show(&["newsletter"]);
    let out = s.poll();
    assert!(out.contains("0 sent, 1 failed"), "{out}");
    // The episode arrives while the first message is still owed: nothing goes out before it.
    s.feeds.show(&["podcast"]);
    let out = s.poll();
    assert!(out.contains("notifications: 0 sent"), "{out}");
    assert_eq!(hook.requests().len(), 1);
    std::thread::sleep(Duration::from_millis(3_200));
    s.poll();
    std::thread::sleep(Duration::from_millis(1_200));
    s.poll();
    let sent = events(&hook);
    assert_eq!(sent[..2], ["story.new", "story.new"], "{sent:?}");
    assert!(
        sent[2..].iter().all(|e| e == "story.updated") && sent.len() <= 3,
        "at most one edit, and only after the first message: {sent:?}"
    );
    let first = json(&hook.requests()[1]);
    assert_eq!(
        first["story"]["members"].as_array().map(Vec::len),
        Some(2),
        "the first message shows the story as it is when sent"
    );
    assert_eq!(s.sink_status("hook")[2], "0", "nothing left pending");
}

each_backend!(slack_web_api_errors_in_a_200_answer_are_failures);
/// Slack's Web API answers most errors with 200 and `"ok": false`: those are failures, retried
/// when Slack's own trouble, given up when the request itself is wrong.
fn slack_web_api_errors_in_a_200_answer_are_failures(backend: &Backend) {
    let flaky = Receiver::answering(Reply::ok(SLACK_OK));
    flaky.then(Reply::ok(r#"{"ok":false,"error":"internal_error"}"#));
    let lost = Receiver::answering(Reply::ok(r#"{"ok":false,"error":"channel_not_found"}"#));
    let bot = "token = \"xoxb-test-token\"\nchannel = \"C024BE91L\"";
    let sinks = [
        sink("flaky", "slack", &flaky.url("/api/"), bot),
        sink("lost", "slack", &lost.url("/api/"), bot),
    ]
    .concat();
    let s = Scenario::new(backend, &[ESSAY], &sinks);
    s.poll();
    s.feeds.show(&["newsletter"]);
    let out = s.poll();
    assert!(
        out.contains("0 sent, 1 failed (will retry), 1 dead"),
        "{out}"
    );
    assert!(out.contains("Slack refused: channel_not_found"), "{out}");
    std::thread::sleep(Duration::from_millis(1_300));
    let out = s.poll();
    assert!(out.contains("notifications: 1 sent"), "{out}");
    // The edit finds the message by what the retried chat.postMessage answered.
    s.feeds.show(&["podcast"]);
    let out = s.poll();
    assert!(out.contains("notifications: 1 sent"), "{out}");
    let requests = flaky.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[2].path(), "/api/chat.update");
    assert_eq!(json(&requests[2])["ts"], "1776254400.000100");
    assert_eq!(
        lost.requests().len(),
        1,
        "nothing to edit where nothing was posted"
    );
    assert_eq!(s.sink_status("lost")[2..5], ["0", "0", "1"]);
}

each_backend!(edits_reach_a_receiver_in_revision_order);
/// An edit still owed holds back the later ones, so a receiver gets revisions in order; the
/// retried one keeps its key and its list of changes, and the later change is its own revision.
fn edits_reach_a_receiver_in_revision_order(backend: &Backend) {
    let hook = Receiver::new();
    let sinks = sink(
        "hook",
        "webhook",
        &hook.url("/hook"),
        "events = [\"story.new\", \"story.updated\"]",
    );
    let s = Scenario::new(backend, &[ESSAY], &sinks);
    s.poll();
    s.feeds.show(&["newsletter"]);
    s.poll();
    hook.then(Reply::status(503).header("Retry-After", "2"));
    s.feeds.show(&["podcast"]);
    let out = s.poll();
    assert!(out.contains("0 sent, 1 failed"), "{out}");
    // A copy arrives while revision 1 waits out the Retry-After: revision 2 waits behind it.
    s.feeds.show(&["aggregator"]);
    let out = s.poll();
    assert!(out.contains("notifications: 0 sent, 0 failed"), "{out}");
    assert_eq!(hook.requests().len(), 2);
    std::thread::sleep(Duration::from_millis(2_200));
    s.poll();
    std::thread::sleep(Duration::from_millis(1_300));
    s.poll();
    let requests = hook.requests();
    let bodies: Vec<serde_json::Value> = requests.iter().map(json).collect();
    let revisions: Vec<Option<u64>> = bodies.iter().map(|b| b["revision"].as_u64()).collect();
    assert_eq!(revisions, [None, Some(1), Some(1), Some(2)]);
    assert_eq!(
        requests[1].header("idempotency-key"),
        requests[2].header("idempotency-key")
    );
    assert_eq!(bodies[1]["changes"], bodies[2]["changes"]);
    assert_eq!(change_types(&bodies[1]), ["member_added", "audio_added"]);
    assert_eq!(change_types(&bodies[3]), ["member_added"]);
    assert_eq!(bodies[3]["changes"][0]["feed"], "aggregator");
    assert_eq!(s.sink_status("hook")[2..5], ["0", "3", "0"]);
}

each_backend!(the_daemon_edits_a_message_when_the_episode_arrives);
/// The daemon's worker sends edits too, waking for them as for first messages: the episode
/// that arrives while it runs becomes one edit, soon after the cycle that stored it.
fn the_daemon_edits_a_message_when_the_episode_arrives(backend: &Backend) {
    let hook = Receiver::new();
    let discord = Receiver::answering(Reply::ok(DISCORD_MESSAGE));
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let extra = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[schedule]\ndefault = \"* * * * * *\"\n\n{}{}",
        sink(
            "hook",
            "webhook",
            &hook.url("/hook"),
            "events = [\"story.new\", \"story.updated\"]"
        ),
        sink(
            "discord",
            "discord",
            &discord.url("/api/webhooks/1/tok"),
            ""
        ),
    );
    let feeds = Feeds::start(&[ESSAY]);
    let ws = backend.workspace();
    let config = ws.write_config("t.toml", &feeds.config(), &extra);
    let daemon = Daemon::start(&ws, &config, port);
    std::thread::sleep(Duration::from_millis(1_500));
    feeds.show(&["newsletter"]);
    daemon.wait_for("the first messages", || {
        hook.requests().len() == 1 && discord.requests().len() == 1
    });
    feeds.show(&["podcast"]);
    daemon.wait_for("the edits", || {
        hook.requests().len() == 2 && discord.requests().len() == 2
    });
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(
        events(&hook),
        ["story.new", "story.updated"],
        "one edit, once"
    );
    assert_eq!(discord.requests().len(), 2);
    assert_eq!(discord.requests()[1].method, "PATCH");
    let (status, _) = daemon.stop();
    assert!(status.success(), "{status:?}");
}
