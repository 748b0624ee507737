//! The HTTP server, over a real socket with a real client: content types, validators and 304s,
//! compression, snapshots replaced between requests, readiness against a real SQLite file,
//! metrics, 404s and graceful shutdown.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, HeaderMap,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, VARY,
};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use tributary::clock::FixedClock;
use tributary::ingest::IngestSummary;
use tributary::metrics::Metrics;
use tributary::poll::{CycleReport, FeedOutcome, FeedReport};
use tributary::serve::{self, AppState, Snapshot, http_date};
use tributary::store::Store;

const ATOM: &[u8] =
    b"<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"/>";
const JSON: &[u8] = b"{\"version\":\"https://jsonfeed.org/version/1.1\",\"items\":[]}";
const RSS: &[u8] =
    b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel/></rss>";
const OPML: &[u8] = b"<?xml version=\"1.0\"?><opml version=\"2.0\"><body/></opml>";

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0)
        .single()
        .expect("a valid timestamp")
}

/// When the first snapshot changed, and the fixed "now" the server sees.
fn changed() -> DateTime<Utc> {
    at(1_700_000_000)
}

fn now() -> DateTime<Utc> {
    at(1_800_000_000)
}

fn snapshot(atom: &[u8], changed_at: DateTime<Utc>) -> Snapshot {
    Snapshot::new(
        atom.to_vec(),
        JSON.to_vec(),
        RSS.to_vec(),
        OPML.to_vec(),
        changed_at,
    )
}

fn state(database: PathBuf) -> AppState {
    AppState::new(
        snapshot(ATOM, changed()),
        Arc::new(Metrics::new()),
        database,
    )
    .with_clock(Arc::new(FixedClock(now())))
}

/// A server running on 127.0.0.1 until [`Running::stop`] (or the test's end).
struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
    client: reqwest::Client,
}

impl Running {
    async fn start(state: AppState) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve::serve(listener, state, async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        Running {
            addr,
            stop: Some(stop),
            task,
            client,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(path, &[]).await
    }

    async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request answered")
    }

    /// Resolves the shutdown future and waits for `serve` to return.
    async fn stop(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("the server stops after the shutdown signal")
            .expect("the server task did not panic")
    }
}

fn header(headers: &HeaderMap, name: impl reqwest::header::AsHeaderName) -> &str {
    headers
        .get(name)
        .expect("header present")
        .to_str()
        .expect("header is text")
}

/// The body as UTF-8 text (our probes and metrics are text; feeds are compared as bytes).
async fn text(response: reqwest::Response) -> String {
    let bytes = response.bytes().await.expect("body");
    String::from_utf8(bytes.to_vec()).expect("UTF-8 body")
}

fn nosniff(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get("x-content-type-options")
        .is_some_and(|v| v == "nosniff")
}

#[tokio::test]
async fn documents_are_served_with_types_and_validators() {
    let server = Running::start(state(PathBuf::from("unused.db"))).await;
    for (path, content_type, body) in [
        ("/feed.atom", "application/atom+xml; charset=utf-8", ATOM),
        ("/feed.json", "application/feed+json; charset=utf-8", JSON),
        ("/feed.rss", "application/rss+xml; charset=utf-8", RSS),
        ("/sources.opml", "text/x-opml; charset=utf-8", OPML),
    ] {
        let response = server.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert_eq!(header(&headers, CONTENT_TYPE), content_type, "{path}");
        assert!(nosniff(&response), "{path}");
        let etag = header(&headers, ETAG);
        assert!(
            etag.len() > 4 && etag.starts_with("W/\"") && etag.ends_with('"'),
            "{path}: weak ETag {etag}"
        );
        assert_eq!(header(&headers, VARY), "accept-encoding", "{path}");
        assert_eq!(
            header(&headers, LAST_MODIFIED),
            "Tue, 14 Nov 2023 22:13:20 GMT",
            "{path}"
        );
        assert!(
            header(&headers, CACHE_CONTROL).contains("max-age="),
            "{path}"
        );
        assert_eq!(
            response.bytes().await.expect("body").as_ref(),
            body,
            "{path}"
        );
    }
    // The three documents are distinct entities.
    let atom = server.get("/feed.atom").await;
    let json = server.get("/feed.json").await;
    assert_ne!(atom.headers().get(ETAG), json.headers().get(ETAG));
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn head_answers_headers_without_a_body() {
    let server = Running::start(state(PathBuf::from("unused.db"))).await;
    let response = server
        .client
        .head(server.url("/feed.atom"))
        .send()
        .await
        .expect("HEAD answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key(ETAG));
    assert!(nosniff(&response));
    assert!(response.bytes().await.expect("body").is_empty());
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn if_none_match_gets_304_without_a_body() {
    let server = Running::start(state(PathBuf::from("unused.db"))).await;
    let first = server.get("/feed.atom").await;
    let etag = header(first.headers(), ETAG).to_owned();
    // A client that dropped the weakness marker still matches: If-None-Match compares weakly.
    let strong = etag.trim_start_matches("W/").to_owned();
    let listed = format!("\"other\", {etag}");

    for value in [etag.as_str(), strong.as_str(), listed.as_str(), "*"] {
        let response = server
            .get_with("/feed.atom", &[(IF_NONE_MATCH.as_str(), value)])
            .await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{value}");
        assert_eq!(header(response.headers(), ETAG), etag, "{value}");
        assert_eq!(header(response.headers(), VARY), "accept-encoding");
        assert!(nosniff(&response), "{value}");
        assert!(
            response.bytes().await.expect("body").is_empty(),
            "{value}: a 304 has no body"
        );
    }

    // Another tag is a different representation: the full document. If-None-Match decides
    // alone, so a matching If-Modified-Since beside it does not make a 304.
    let response = server
        .get_with(
            "/feed.atom",
            &[
                (IF_NONE_MATCH.as_str(), "\"stale\""),
                (IF_MODIFIED_SINCE.as_str(), &http_date(changed())),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.expect("body").as_ref(), ATOM);
    server.stop().await.expect("clean stop");
}

/// A merged feed the size of 200 real entries: markup, links and paragraphs that repeat the
/// way a feed's entries do.
fn big_atom() -> Vec<u8> {
    let mut feed = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">",
    );
    for n in 0..200 {
        feed.push_str(&format!(
            "<entry><id>urn:tributary:story:{n:032x}</id><title>Post number {n} on open models</title>\
             <link rel=\"alternate\" href=\"https://www.interconnects.ai/p/post-{n}\"/>\
             <updated>2026-04-{day:02}T12:00:00Z</updated><content type=\"html\">",
            day = n % 28 + 1
        ));
        for paragraph in 0..12 {
            feed.push_str(&format!(
                "&lt;p&gt;Paragraph {paragraph} of post {n}: the training run, its data mix \
                 and what the evaluation numbers say about reasoning models this week.&lt;/p&gt;"
            ));
        }
        feed.push_str("</content></entry>");
    }
    feed.push_str("</feed>");
    feed.into_bytes()
}

/// A client that sends what it is told and decodes nothing, to see the bytes on the wire.
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

#[tokio::test]
async fn the_feed_is_compressed_when_the_client_asks() {
    let atom = big_atom();
    let state = state(PathBuf::from("unused.db"));
    state.publish(snapshot(&atom, changed()));
    let server = Running::start(state).await;
    let raw = raw_client();
    let fetch = |encoding: &'static str| {
        raw.get(server.url("/feed.atom"))
            .header(ACCEPT_ENCODING, encoding)
            .send()
    };

    let plain = fetch("identity").await.expect("answered");
    assert!(!plain.headers().contains_key(CONTENT_ENCODING));
    let plain_etag = header(plain.headers(), ETAG).to_owned();
    assert_eq!(plain.bytes().await.expect("body").as_ref(), atom);

    let gzip = fetch("gzip").await.expect("answered");
    assert_eq!(gzip.status(), StatusCode::OK);
    assert_eq!(header(gzip.headers(), CONTENT_ENCODING), "gzip");
    assert_eq!(header(gzip.headers(), VARY), "accept-encoding");
    // One weak tag for every encoding: the same content, not the same bytes.
    assert_eq!(header(gzip.headers(), ETAG), plain_etag);
    let wire = gzip.bytes().await.expect("body");
    assert!(
        wire.len() * 5 < atom.len(),
        "gzip: {} of {} bytes",
        wire.len(),
        atom.len()
    );
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(wire.as_ref())
        .read_to_end(&mut decoded)
        .expect("valid gzip");
    assert_eq!(decoded, atom);

    let brotli = fetch("br").await.expect("answered");
    assert_eq!(header(brotli.headers(), CONTENT_ENCODING), "br");
    assert_eq!(header(brotli.headers(), ETAG), plain_etag);
    let wire = brotli.bytes().await.expect("body");
    assert!(wire.len() * 5 < atom.len(), "br: {} bytes", wire.len());
    // A client that decodes brotli itself gets the document back.
    let decoding = reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .no_deflate()
        .build()
        .expect("client");
    let decoded = decoding
        .get(server.url("/feed.atom"))
        .send()
        .await
        .expect("answered")
        .bytes()
        .await
        .expect("body");
    assert_eq!(decoded.as_ref(), atom);

    // The tag a compressed answer carried revalidates: 304, no body, the same Vary.
    let revalidated = raw
        .get(server.url("/feed.atom"))
        .header(ACCEPT_ENCODING, "gzip")
        .header(IF_NONE_MATCH, &plain_etag)
        .send()
        .await
        .expect("answered");
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(revalidated.headers(), VARY), "accept-encoding");
    assert!(!revalidated.headers().contains_key(CONTENT_ENCODING));
    assert!(revalidated.bytes().await.expect("body").is_empty());
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn if_modified_since_gets_304_to_the_second() {
    let server = Running::start(state(PathBuf::from("unused.db"))).await;
    let first = server.get("/feed.json").await;
    let last_modified = header(first.headers(), LAST_MODIFIED).to_owned();

    let cases = [
        (last_modified.clone(), StatusCode::NOT_MODIFIED),
        (
            http_date(changed() + chrono::Duration::hours(1)),
            StatusCode::NOT_MODIFIED,
        ),
        (
            http_date(changed() - chrono::Duration::seconds(1)),
            StatusCode::OK,
        ),
        // Later than the server's now: invalid, so ignored.
        (http_date(now() + chrono::Duration::days(1)), StatusCode::OK),
        ("not a date".to_owned(), StatusCode::OK),
    ];
    for (since, expected) in cases {
        let response = server
            .get_with("/feed.json", &[(IF_MODIFIED_SINCE.as_str(), &since)])
            .await;
        assert_eq!(response.status(), expected, "If-Modified-Since: {since}");
        assert!(nosniff(&response));
        if expected == StatusCode::NOT_MODIFIED {
            assert!(response.bytes().await.expect("body").is_empty());
        }
    }
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_changed_snapshot_gets_a_new_etag_and_a_full_answer() {
    let state = state(PathBuf::from("unused.db"));
    let server = Running::start(state.clone()).await;
    let first = server.get("/feed.atom").await;
    let old_etag = header(first.headers(), ETAG).to_owned();

    let newer = b"<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>new</title></feed>";
    let later = changed() + chrono::Duration::minutes(30);
    state.publish(snapshot(newer, later));

    let response = server
        .get_with("/feed.atom", &[(IF_NONE_MATCH.as_str(), &old_etag)])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_ne!(header(response.headers(), ETAG), old_etag);
    assert_eq!(header(response.headers(), LAST_MODIFIED), http_date(later));
    assert_eq!(response.bytes().await.expect("body").as_ref(), newer);

    // The JSON twin did not change in that snapshot, so it keeps its validators.
    let json = server
        .get_with(
            "/feed.json",
            &[(IF_MODIFIED_SINCE.as_str(), &http_date(changed()))],
        )
        .await;
    assert_eq!(json.status(), StatusCode::NOT_MODIFIED);
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn republishing_identical_bytes_keeps_last_modified() {
    let state = state(PathBuf::from("unused.db"));
    let server = Running::start(state.clone()).await;
    let first = server.get("/feed.atom").await;
    let etag = header(first.headers(), ETAG).to_owned();
    let last_modified = header(first.headers(), LAST_MODIFIED).to_owned();

    // The next cycle re-renders the same bytes an hour later.
    state.publish(snapshot(ATOM, changed() + chrono::Duration::hours(1)));

    let again = server.get("/feed.atom").await;
    assert_eq!(header(again.headers(), ETAG), etag);
    assert_eq!(header(again.headers(), LAST_MODIFIED), last_modified);
    let conditional = server
        .get_with(
            "/feed.atom",
            &[(IF_MODIFIED_SINCE.as_str(), &last_modified)],
        )
        .await;
    assert_eq!(conditional.status(), StatusCode::NOT_MODIFIED);
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn readiness_waits_for_a_cycle_and_a_database() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("tributary.db");
    let store = Store::open(&database).expect("a real database");
    let state = state(database.clone());
    let server = Running::start(state.clone()).await;

    let before = server.get("/readyz").await;
    assert_eq!(before.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(nosniff(&before));
    let reason = text(before).await;
    assert!(reason.contains("first poll cycle"), "{reason}");
    assert_eq!(reason.lines().count(), 1, "one line: {reason:?}");

    // Liveness does not depend on readiness.
    let live = server.get("/healthz").await;
    assert_eq!(live.status(), StatusCode::OK);
    assert!(nosniff(&live));
    assert_eq!(text(live).await.trim(), "ok");

    state.mark_cycle_finished();
    let after = server.get("/readyz").await;
    assert_eq!(after.status(), StatusCode::OK);
    assert!(nosniff(&after));

    // Still ready with the writer's connection closed (the WAL checkpointed away).
    drop(store);
    assert_eq!(server.get("/readyz").await.status(), StatusCode::OK);
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn readiness_fails_without_the_database_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("missing").join("tributary.db");
    let state = state(database.clone());
    state.mark_cycle_finished();
    let server = Running::start(state).await;

    let response = server.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let reason = text(response).await;
    assert!(reason.contains("database"), "{reason}");
    assert!(
        !reason.contains("missing"),
        "the path is not disclosed: {reason}"
    );
    // The probe opened read-only: it created nothing.
    assert!(!database.exists());
    assert!(!dir.path().join("missing").exists());
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn metrics_render_what_the_daemon_recorded() {
    let state = state(PathBuf::from("unused.db"));
    let report = FeedReport {
        name: "interconnects".to_owned(),
        outcome: FeedOutcome::Ingested(IngestSummary {
            new_items: 3,
            new_stories: 2,
            ..IngestSummary::default()
        }),
        elapsed: Duration::from_millis(420),
        last_success_at: Some(changed()),
        consecutive_errors: 0,
    };
    state.metrics().record_feed(&report);
    let mut cycle = CycleReport::default();
    cycle.record(report);
    state.metrics().record_cycle(&cycle, changed());
    state.metrics().record_notification("team", true);
    let server = Running::start(state).await;

    let response = server.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(response.headers(), CONTENT_TYPE),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(nosniff(&response));
    let text = text(response).await;
    for expected in [
        "tributary_feed_last_success_timestamp_seconds{feed=\"interconnects\"} 1700000000.0\n",
        "tributary_feed_consecutive_errors{feed=\"interconnects\"} 0\n",
        "tributary_feed_items_ingested_total{feed=\"interconnects\"} 3\n",
        "tributary_feed_polls_total{feed=\"interconnects\",outcome=\"ok\"} 1\n",
        "tributary_feed_poll_duration_seconds_count{feed=\"interconnects\"} 1\n",
        "tributary_stories_created_total 2\n",
        "tributary_cycles_total 1\n",
        "tributary_last_cycle_timestamp_seconds 1700000000.0\n",
        "tributary_notifications_delivered_total{sink=\"team\"} 1\n",
        "tributary_notifications_failed_total{sink=\"team\"} 0\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(text.ends_with("\n# EOF\n"), "{text}");
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn unknown_paths_and_methods_are_refused() {
    let server = Running::start(state(PathBuf::from("unused.db"))).await;
    // `/` is the site's front page (tests/it/site.rs).
    for path in [
        "/stories/1/members",
        "/feed.atom/",
        "/merged.atom",
        "/../tributary.db",
        "/metrics/x",
    ] {
        let response = server.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(nosniff(&response), "{path}");
    }
    let post = server
        .client
        .post(server.url("/feed.atom"))
        .body("x")
        .send()
        .await
        .expect("POST answered");
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(nosniff(&post));
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn the_server_stops_when_the_shutdown_future_resolves() {
    let server = Running::start(state(PathBuf::from("unused.db"))).await;
    // A kept-alive connection from an earlier request must not hold the shutdown.
    assert_eq!(server.get("/healthz").await.status(), StatusCode::OK);
    let addr = server.addr;
    let client = server.client.clone();
    let started = std::time::Instant::now();
    server.stop().await.expect("serve returns Ok");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stopped without waiting for the drain timeout: {:?}",
        started.elapsed()
    );
    // Nothing listens any more.
    let after = client.get(format!("http://{addr}/healthz")).send().await;
    assert!(after.is_err(), "still answering after shutdown: {after:?}");
}
