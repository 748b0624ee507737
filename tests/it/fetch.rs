//! The fetcher against a scripted server on 127.0.0.1: conditional GET, decoding, the body
//! cap, the deadline, redirects and the status codes that become outcomes.

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use flate2::Compression;
use flate2::write::ZlibEncoder;
use tributary::config::FetchConfig;
use tributary::fetch::{FetchError, FetchOutcome, Fetched, Fetcher, Validators};
use url::Url;

use crate::common::server::{Reply, TestServer};

use crate::common::bodies::{MIB, chunked, gzip, gzip_bomb};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 20, 12, 0, 0)
        .single()
        .expect("valid fixed time")
}

fn fetcher_with(timeout: Duration, max_body: usize) -> Fetcher {
    Fetcher::new(&FetchConfig {
        timeout,
        max_body: max_body as u64,
        allow_private_networks: true,
    })
    .expect("build fetcher")
}

fn fetcher() -> Fetcher {
    fetcher_with(Duration::from_secs(10), MIB)
}

async fn get(fetcher: &Fetcher, url: &Url) -> FetchOutcome {
    fetcher.fetch(url, &Validators::default(), now()).await
}

fn fetched(outcome: FetchOutcome) -> Fetched {
    match outcome {
        FetchOutcome::Fetched(fetched) => fetched,
        other => panic!("expected a body, got {other:?}"),
    }
}

fn failed(outcome: FetchOutcome) -> FetchError {
    match outcome {
        FetchOutcome::Failed(error) => error,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// This process's peak resident memory, where the OS tells it.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[tokio::test]
async fn ok_response_gives_body_validators_and_max_age() {
    let server = TestServer::routes([(
        "/feed",
        Reply::ok("<rss/>")
            .header("ETag", "\"v1\"")
            .header("Last-Modified", "Tue, 20 Oct 2026 10:00:00 GMT")
            .header("Content-Type", "application/rss+xml; charset=utf-8")
            .header("Cache-Control", "public, max-age=300"),
    )]);
    let url = server.url("/feed");
    let got = fetched(get(&fetcher(), &url).await);
    assert_eq!(got.body, b"<rss/>");
    assert_eq!(got.final_url, url);
    assert_eq!(
        got.content_type.as_deref(),
        Some("application/rss+xml; charset=utf-8")
    );
    assert_eq!(
        got.validators,
        Validators {
            etag: Some("\"v1\"".into()),
            last_modified: Some("Tue, 20 Oct 2026 10:00:00 GMT".into()),
        }
    );
    assert_eq!(got.max_age, Some(Duration::from_secs(300)));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].header("if-none-match"), None);
    assert_eq!(requests[0].header("if-modified-since"), None);
}

#[tokio::test]
async fn request_names_tributary_and_prefers_feeds() {
    let server = TestServer::routes([("/feed", Reply::ok("<rss/>"))]);
    fetched(get(&fetcher(), &server.url("/feed")).await);
    let request = &server.requests()[0];
    let agent = request.header("user-agent").expect("User-Agent sent");
    assert!(
        agent.starts_with(&format!("tributary/{}", env!("CARGO_PKG_VERSION"))),
        "{agent}"
    );
    assert!(
        agent.contains("+https://github.com/tributary-rss/tributary"),
        "{agent}"
    );
    let accept = request.header("accept").expect("Accept sent");
    assert!(accept.starts_with("application/atom+xml"), "{accept}");
    assert!(accept.contains("application/rss+xml"), "{accept}");
    let encodings = request
        .header("accept-encoding")
        .expect("Accept-Encoding sent");
    for coding in ["gzip", "br", "deflate"] {
        assert!(encodings.contains(coding), "{coding} not in {encodings}");
    }
}

const LAST_MODIFIED: &str = "Mon, 19 Oct 2026 08:00:00 GMT";

fn conditional_server(not_modified: Reply) -> TestServer {
    TestServer::start(move |request| {
        let fresh = request.header("if-none-match") == Some("\"v1\"")
            && request.header("if-modified-since") == Some(LAST_MODIFIED);
        if fresh {
            not_modified.clone()
        } else {
            Reply::ok("<rss>new</rss>").header("ETag", "\"v9\"")
        }
    })
}

fn stored() -> Validators {
    Validators {
        etag: Some("\"v1\"".into()),
        last_modified: Some(LAST_MODIFIED.into()),
    }
}

#[tokio::test]
async fn conditional_get_sends_validators_and_304_keeps_them() {
    let server = conditional_server(Reply::status(304).header("Cache-Control", "max-age=60"));
    let outcome = fetcher()
        .fetch(&server.url("/feed"), &stored(), now())
        .await;
    match outcome {
        FetchOutcome::NotModified {
            validators,
            max_age,
            ..
        } => {
            assert_eq!(validators, stored(), "a 304 without validators keeps ours");
            assert_eq!(max_age, Some(Duration::from_secs(60)));
        }
        other => panic!("expected NotModified, got {other:?}"),
    }
    let request = &server.requests()[0];
    assert_eq!(request.header("if-none-match"), Some("\"v1\""));
    assert_eq!(request.header("if-modified-since"), Some(LAST_MODIFIED));
}

#[tokio::test]
async fn not_modified_with_new_etag_updates_it() {
    let server = conditional_server(Reply::status(304).header("ETag", "\"v2\""));
    let outcome = fetcher()
        .fetch(&server.url("/feed"), &stored(), now())
        .await;
    match outcome {
        FetchOutcome::NotModified {
            validators,
            max_age,
            ..
        } => {
            assert_eq!(validators.etag.as_deref(), Some("\"v2\""));
            assert_eq!(validators.last_modified.as_deref(), Some(LAST_MODIFIED));
            assert_eq!(max_age, None);
        }
        other => panic!("expected NotModified, got {other:?}"),
    }
}

#[tokio::test]
async fn changed_feed_is_fetched_despite_validators() {
    let server = conditional_server(Reply::status(304));
    let old = Validators {
        etag: Some("\"v0\"".into()),
        last_modified: None,
    };
    let got = fetched(fetcher().fetch(&server.url("/feed"), &old, now()).await);
    assert_eq!(got.body, b"<rss>new</rss>");
    assert_eq!(got.validators.etag.as_deref(), Some("\"v9\""));
    assert_eq!(server.requests()[0].header("if-modified-since"), None);
}

#[tokio::test]
async fn a_last_modified_within_the_second_of_the_answer_is_not_kept() {
    // A feed that changes twice in one second would otherwise be answered 304 to an
    // If-Modified-Since of that second until it changes once more.
    let date = "Tue, 20 Oct 2026 10:00:00 GMT";
    let server = TestServer::routes([
        (
            "/just-changed",
            Reply::ok("<rss/>")
                .header("Date", date)
                .header("Last-Modified", date),
        ),
        (
            "/settled",
            Reply::ok("<rss/>")
                .header("Date", date)
                .header("Last-Modified", "Tue, 20 Oct 2026 09:59:59 GMT"),
        ),
        (
            "/not-modified",
            Reply::status(304)
                .header("Date", date)
                .header("Last-Modified", date),
        ),
    ]);
    let just_changed = fetched(get(&fetcher(), &server.url("/just-changed")).await);
    assert_eq!(just_changed.validators.last_modified, None);
    let settled = fetched(get(&fetcher(), &server.url("/settled")).await);
    assert_eq!(
        settled.validators.last_modified.as_deref(),
        Some("Tue, 20 Oct 2026 09:59:59 GMT")
    );
    match fetcher()
        .fetch(&server.url("/not-modified"), &stored(), now())
        .await
    {
        FetchOutcome::NotModified { validators, .. } => {
            assert_eq!(validators.last_modified, None, "ours is dropped too");
            assert_eq!(validators.etag.as_deref(), Some("\"v1\""));
        }
        other => panic!("expected NotModified, got {other:?}"),
    }
}

#[tokio::test]
async fn gzip_and_deflate_bodies_are_decoded() {
    let text = "<rss>".to_owned() + &"<item>hello</item>".repeat(1000) + "</rss>";
    let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
    zlib.write_all(text.as_bytes()).expect("zlib in memory");
    let deflated = zlib.finish().expect("zlib in memory");
    let server = TestServer::routes([
        (
            "/gzip",
            Reply::ok(gzip(text.as_bytes())).header("Content-Encoding", "gzip"),
        ),
        (
            "/deflate",
            Reply::ok(deflated).header("Content-Encoding", "deflate"),
        ),
    ]);
    for path in ["/gzip", "/deflate"] {
        let got = fetched(get(&fetcher(), &server.url(path)).await);
        assert_eq!(got.body, text.as_bytes(), "{path}");
    }
}

#[tokio::test]
async fn small_gzip_bomb_under_the_cap_decodes() {
    // Proves the bomb below is well-formed: the same construction, small, decodes fully.
    let server = TestServer::routes([(
        "/feed",
        Reply::ok(gzip_bomb(4)).header("Content-Encoding", "gzip"),
    )]);
    let got = fetched(
        get(
            &fetcher_with(Duration::from_secs(30), 8 * MIB),
            &server.url("/feed"),
        )
        .await,
    );
    assert_eq!(got.body.len(), 4 * MIB);
    assert!(got.body.iter().all(|&b| b == 0));
}

#[tokio::test]
async fn gzip_bomb_stops_at_the_cap() {
    let bomb = gzip_bomb(1024);
    assert!(
        bomb.len() < 8 * MIB,
        "1 GiB compressed to {} bytes",
        bomb.len()
    );
    let server =
        TestServer::routes([("/feed", Reply::ok(bomb).header("Content-Encoding", "gzip"))]);
    let url = server.url("/feed");
    let before = peak_rss();
    let error = failed(get(&fetcher_with(Duration::from_secs(30), MIB), &url).await);
    assert!(
        matches!(error, FetchError::TooLarge { limit, declared: None, .. } if limit == MIB as u64),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(url.as_str()), "{message}");
    assert!(message.contains("larger than 1048576 bytes"), "{message}");
    // Inflating the whole GiB before checking would show up as ~1 GiB of peak memory.
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        let grown = after.saturating_sub(before);
        assert!(
            grown < 256 * MIB as u64,
            "peak memory grew by {grown} bytes"
        );
    }
}

#[tokio::test]
async fn body_over_the_cap_without_length_fails() {
    let body = vec![b'a'; MIB + 1];
    let server = TestServer::routes([(
        "/feed",
        Reply::ok(chunked(&body)).header("Transfer-Encoding", "chunked"),
    )]);
    let error = failed(get(&fetcher(), &server.url("/feed")).await);
    assert!(
        matches!(error, FetchError::TooLarge { declared: None, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn body_exactly_at_the_cap_is_accepted() {
    let server = TestServer::routes([
        ("/length", Reply::ok(vec![b'a'; MIB])),
        (
            "/chunked",
            Reply::ok(chunked(&vec![b'a'; MIB])).header("Transfer-Encoding", "chunked"),
        ),
    ]);
    for path in ["/length", "/chunked"] {
        let got = fetched(get(&fetcher(), &server.url(path)).await);
        assert_eq!(got.body.len(), MIB, "{path}");
    }
}

#[tokio::test]
async fn content_length_over_the_cap_is_refused_before_reading() {
    // Declares 100 MiB but sends 5 bytes and closes: reading on would end in a truncated-body
    // error, so only an early refusal gives TooLarge.
    let server = TestServer::routes([(
        "/feed",
        Reply::ok("short").header("Content-Length", "104857600"),
    )]);
    let error = failed(get(&fetcher(), &server.url("/feed")).await);
    assert!(
        matches!(
            error,
            FetchError::TooLarge {
                declared: Some(104_857_600),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("Content-Length says 104857600"));
}

/// Fetches with a one-second deadline and checks it ended in a timeout near that second.
async fn assert_times_out(server: &TestServer) {
    let url = server.url("/feed");
    let started = Instant::now();
    let error = failed(get(&fetcher_with(Duration::from_secs(1), MIB), &url).await);
    let elapsed = started.elapsed();
    assert!(
        matches!(error, FetchError::Timeout { after, .. } if after == Duration::from_secs(1)),
        "{error:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "returned after {elapsed:?}"
    );
    let message = error.to_string();
    assert!(message.contains(url.as_str()), "{message}");
    assert!(message.contains("timed out after 1s"), "{message}");
}

#[tokio::test]
async fn trickling_body_fails_at_the_deadline() {
    // 100 bytes at one per 100 ms would take 10 s; each byte resets any read timeout.
    let server = TestServer::routes([(
        "/feed",
        Reply::ok(vec![b'a'; 100]).trickle(Duration::from_millis(100)),
    )]);
    assert_times_out(&server).await;
}

#[tokio::test]
async fn silent_server_times_out() {
    let server = TestServer::start(|_| Reply::Hang);
    assert_times_out(&server).await;
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn reset_mid_body_is_a_body_error() {
    let server = TestServer::routes([("/feed", Reply::ok(vec![b'a'; 100_000]).reset_after(1000))]);
    let url = server.url("/feed");
    let error = failed(get(&fetcher(), &url).await);
    assert!(matches!(error, FetchError::Body { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(url.as_str()), "{message}");
    assert!(message.contains("reading the body failed"), "{message}");
}

#[tokio::test]
async fn garbage_response_is_a_request_error() {
    let server = TestServer::start(|_| Reply::Raw(b"SPDY/9 banana\r\n\r\n".to_vec()));
    let error = failed(get(&fetcher(), &server.url("/feed")).await);
    assert!(matches!(error, FetchError::Request { .. }), "{error:?}");
}

#[tokio::test]
async fn refused_connection_is_named() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    };
    let url = Url::parse(&format!("http://{addr}/feed")).expect("url");
    let error = failed(get(&fetcher(), &url).await);
    assert!(
        matches!(error, FetchError::ConnectionRefused { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(url.as_str()), "{message}");
    assert!(message.contains("refused"), "{message}");
}

#[tokio::test]
async fn unsupported_scheme_fails_without_a_request() {
    let url = Url::parse("ftp://127.0.0.1/feed").expect("url");
    let error = failed(get(&fetcher(), &url).await);
    assert!(
        matches!(error, FetchError::UnsupportedScheme { .. }),
        "{error:?}"
    );
}

/// `/hop/N` redirects to `/hop/N-1`; `/hop/0` answers. `/loop/a` and `/loop/b` point at each
/// other; `/ftp` points off the web.
fn redirect_server() -> TestServer {
    TestServer::start(|request| {
        let path = request.path();
        if let Some(n) = path.strip_prefix("/hop/") {
            return match n.parse::<u32>() {
                Ok(0) => Reply::ok("arrived"),
                Ok(n) => Reply::redirect(302, &format!("/hop/{}", n - 1)),
                Err(_) => Reply::not_found(),
            };
        }
        match path {
            "/loop/a" => Reply::redirect(301, "/loop/b"),
            "/loop/b" => Reply::redirect(307, "/loop/a"),
            "/self" => Reply::redirect(302, "/self"),
            "/ftp" => Reply::redirect(302, "ftp://127.0.0.1/feed"),
            _ => Reply::not_found(),
        }
    })
}

#[tokio::test]
async fn short_redirect_chain_is_followed() {
    let server = redirect_server();
    let got = fetched(get(&fetcher(), &server.url("/hop/3")).await);
    assert_eq!(got.body, b"arrived");
    assert_eq!(got.final_url, server.url("/hop/0"));
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn ten_redirects_are_allowed_eleven_are_not() {
    let server = redirect_server();
    let got = fetched(get(&fetcher(), &server.url("/hop/10")).await);
    assert_eq!(got.final_url, server.url("/hop/0"));

    server.clear_requests();
    let url = server.url("/hop/11");
    let error = failed(get(&fetcher(), &url).await);
    assert!(
        matches!(error, FetchError::TooManyRedirects { limit: 10, .. }),
        "{error:?}"
    );
    assert_eq!(
        server.requests().len(),
        11,
        "the first request and ten followed hops"
    );
    let message = error.to_string();
    assert!(message.contains(url.as_str()), "{message}");
    assert!(message.contains("too many redirects"), "{message}");
}

#[tokio::test]
async fn redirect_loops_fail() {
    let server = redirect_server();
    for path in ["/loop/a", "/self"] {
        let error = failed(get(&fetcher(), &server.url(path)).await);
        match &error {
            FetchError::RedirectLoop { target, .. } => {
                assert_eq!(**target, server.url(path), "loops back to the start");
            }
            other => panic!("{path}: expected a redirect loop, got {other:?}"),
        }
        assert!(error.to_string().contains("redirect loop"), "{error}");
    }
}

#[tokio::test]
async fn redirect_off_http_fails() {
    let server = redirect_server();
    let error = failed(get(&fetcher(), &server.url("/ftp")).await);
    assert!(
        matches!(&error, FetchError::RedirectScheme { target, .. } if target.scheme() == "ftp"),
        "{error:?}"
    );
}

#[tokio::test]
async fn rate_limits_carry_retry_after() {
    let server = TestServer::routes([
        ("/seconds", Reply::status(429).header("Retry-After", "120")),
        (
            "/date",
            Reply::status(429).header("Retry-After", "Wed, 21 Oct 2026 07:28:00 GMT"),
        ),
        (
            "/garbage",
            Reply::status(503).header("Retry-After", "after lunch"),
        ),
        ("/none", Reply::status(503)),
    ]);
    let date = Utc
        .with_ymd_and_hms(2026, 10, 21, 7, 28, 0)
        .single()
        .expect("valid date");
    let cases = [
        ("/seconds", 429, Some(now() + TimeDelta::seconds(120))),
        ("/date", 429, Some(date)),
        ("/garbage", 503, None),
        ("/none", 503, None),
    ];
    for (path, expected_status, expected_retry) in cases {
        match get(&fetcher(), &server.url(path)).await {
            FetchOutcome::RateLimited {
                status,
                retry_after,
            } => {
                assert_eq!(status, expected_status, "{path}");
                assert_eq!(retry_after, expected_retry, "{path}");
            }
            other => panic!("{path}: expected RateLimited, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn gone_is_gone() {
    let server = TestServer::routes([("/feed", Reply::status(410))]);
    let outcome = get(&fetcher(), &server.url("/feed")).await;
    assert!(matches!(outcome, FetchOutcome::Gone), "{outcome:?}");
}

#[tokio::test]
async fn other_statuses_fail_naming_the_status() {
    let server = TestServer::routes([("/error", Reply::status(500).body("oops"))]);
    for (path, expected) in [("/error", 500), ("/missing", 404)] {
        let url = server.url(path);
        let error = failed(get(&fetcher(), &url).await);
        assert!(
            matches!(error, FetchError::Status { status, .. } if status == expected),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains(url.as_str()), "{message}");
        assert!(
            message.contains(&format!("HTTP status {expected}")),
            "{message}"
        );
    }
}
