//! Serve: the HTTP face of the daemon. The merged feed and its twins (JSON Feed, RSS) with ETag and
//! Last-Modified validators and 304 answers, compressed when the client asks, liveness and
//! readiness probes, and the metrics.
//!
//! Design decision: the server only reads. After each cycle the daemon renders the documents
//! and [`AppState::publish`]es them as one immutable [`Snapshot`]; a request clones an `Arc`
//! and answers from it. The server never renders, never writes the database and never touches
//! the network, so a slow client or a flood of requests cannot slow a poll cycle, and every
//! response (body and validators alike) comes from one consistent snapshot. The documents'
//! bytes are rendered from config, so nothing a request says (its Host header included) can
//! reach them.
//!
//! The site's pages ([`crate::site`]) are the one exception: a page or story number can name
//! any stored story, so they are rendered per request, on connections opened read-only.

use std::future::{Future, IntoFuture};
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, SubsecRound, Utc};
use headers::{CacheControl, ETag, HeaderMapExt, IfModifiedSince, IfNoneMatch, LastModified};
use parking_lot::RwLock;
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower_http::compression::CompressionLayer;

use crate::clock::{Clock, SystemClock};
use crate::hex::hex;
use crate::metrics::Metrics;
use crate::site::{self, Site};
use crate::store::{SiteReader, StorageTarget, StoreError};

pub const ATOM_CONTENT_TYPE: &str = "application/atom+xml; charset=utf-8";
pub const JSON_FEED_CONTENT_TYPE: &str = "application/feed+json; charset=utf-8";
pub const RSS_CONTENT_TYPE: &str = "application/rss+xml; charset=utf-8";
pub const OPML_CONTENT_TYPE: &str = "text/x-opml; charset=utf-8";

/// Feeds change once a cycle (minutes apart); a minute of caching spares the daemon readers
/// that poll too eagerly, and revalidation with the validators is cheap after that.
const FEED_MAX_AGE: Duration = Duration::from_secs(60);

/// Probes and metrics describe this instant; a cache must never answer them.
const NO_STORE: &str = "no-store";

/// How long `/readyz` waits for SQLite's lock before calling the database unavailable. Short:
/// a probe that hangs is worse than one that says no, and the writer's transactions are brief.
const READY_BUSY_TIMEOUT: Duration = Duration::from_millis(500);

/// The whole readiness check, opening the file included, must finish within this.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// After the shutdown signal, how long open connections get to finish before [`serve`]
/// returns anyway: a client that holds a connection open must not hold the daemon's exit
/// past systemd's stop timeout.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// One published document: its bytes and the validators derived from them.
#[derive(Debug, Clone)]
pub struct Document {
    body: Bytes,
    /// The hex digest the ETag is made of, for those who keep a version (the WebSub pinger).
    version: String,
    etag: ETag,
    last_modified: DateTime<Utc>,
    /// The headers every answer about it carries, 200 or 304, built once: a feed reader's
    /// conditional GET is the request the daemon answers most, and formatting an HTTP-date
    /// for each one was a good part of its cost.
    validators: HeaderMap,
}

impl Document {
    /// A document whose bytes changed at `changed_at`.
    ///
    /// The ETag is derived from the bytes alone, so identical bytes always carry the same tag,
    /// across cycles and restarts. It is weak because one document goes out in several
    /// encodings (identity, gzip, brotli) under the one tag: a strong tag promises identical
    /// bytes (RFC 9110, 8.8.1), which compressed twins are not, while a weak one promises the
    /// same content, which is what a feed reader's If-None-Match asks about.
    ///
    /// `changed_at` is truncated to the second, the resolution of HTTP dates, so that a
    /// client's If-Modified-Since (which echoes our Last-Modified) compares equal rather than a
    /// fraction of a second earlier.
    pub fn new(body: impl Into<Bytes>, changed_at: DateTime<Utc>) -> Document {
        let body = body.into();
        let digest = Sha256::digest(&body);
        // 128 bits of SHA-256: collisions are not a concern at any number of cycles.
        let version = hex(&digest[..16]);
        let etag: ETag = format!("W/\"{version}\"")
            .parse()
            .expect("a weak tag around hex digits is a valid entity tag");
        // An HTTP-date cannot say a time before 1970.
        let last_modified = changed_at.trunc_subsecs(0).max(DateTime::UNIX_EPOCH);
        let mut validators = HeaderMap::new();
        validators.typed_insert(etag.clone());
        validators.typed_insert(LastModified::from(SystemTime::from(last_modified)));
        validators.typed_insert(CacheControl::new().with_max_age(FEED_MAX_AGE));
        // The compression layer adds Vary only to the bodies it compresses; a 304 must carry
        // the Vary its 200 would (RFC 9110, 15.4.5), so caches key both on Accept-Encoding.
        validators.insert(VARY, HeaderValue::from_static("accept-encoding"));
        Document {
            body,
            version,
            etag,
            last_modified,
            validators,
        }
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The weak entity tag, as sent in the `ETag` header.
    pub fn etag(&self) -> &ETag {
        &self.etag
    }

    pub fn last_modified(&self) -> DateTime<Utc> {
        self.last_modified
    }

    /// What the ETag says, without its quoting: equal for equal bytes, across restarts.
    pub fn version(&self) -> &str {
        &self.version
    }
}

/// Everything the server publishes, as one cycle rendered it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub atom: Document,
    pub json: Document,
    pub rss: Document,
    pub opml: Document,
}

impl Snapshot {
    pub fn new(
        atom: Vec<u8>,
        json: Vec<u8>,
        rss: Vec<u8>,
        opml: Vec<u8>,
        changed_at: DateTime<Utc>,
    ) -> Snapshot {
        Snapshot {
            atom: Document::new(atom, changed_at),
            json: Document::new(json, changed_at),
            rss: Document::new(rss, changed_at),
            opml: Document::new(opml, changed_at),
        }
    }
}

/// What the handlers share. Cheap to clone: every field is behind an `Arc`.
#[derive(Clone)]
pub struct AppState {
    snapshot: Arc<RwLock<Arc<Snapshot>>>,
    metrics: Arc<Metrics>,
    database: StorageTarget,
    ready: Arc<AtomicBool>,
    /// Only to refuse an If-Modified-Since from the future (see [`not_modified`]).
    clock: Arc<dyn Clock>,
    /// The site's pages read the database themselves (see [`crate::site`]).
    site: Arc<Site>,
}

impl AppState {
    /// State serving `initial` until the first [`AppState::publish`], not yet ready.
    pub fn new(
        initial: Snapshot,
        metrics: Arc<Metrics>,
        database: impl Into<StorageTarget>,
    ) -> AppState {
        let database = database.into();
        AppState {
            snapshot: Arc::new(RwLock::new(Arc::new(initial))),
            metrics,
            site: Arc::new(Site::new(database.clone(), site::Settings::default())),
            database,
            ready: Arc::new(AtomicBool::new(false)),
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the clock, for tests that need a fixed "now".
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> AppState {
        self.clock = clock;
        self
    }

    /// Makes `next` what the server answers with.
    ///
    /// A document whose bytes did not change keeps its old Last-Modified: the daemon
    /// re-renders every cycle, and a Last-Modified that moved every cycle would defeat every
    /// client's If-Modified-Since.
    pub fn publish(&self, next: Snapshot) {
        let mut current = self.snapshot.write();
        let merged = Snapshot {
            atom: unless_unchanged(&current.atom, next.atom),
            json: unless_unchanged(&current.json, next.json),
            rss: unless_unchanged(&current.rss, next.rss),
            opml: unless_unchanged(&current.opml, next.opml),
        };
        *current = Arc::new(merged);
    }

    /// Called by the daemon when a poll cycle has finished; from then on `/readyz` reports
    /// on the database. Before it the published documents may predate this run.
    pub fn mark_cycle_finished(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The snapshot being served now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read())
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// What the site's pages show of the config: set at start-up and on every reload.
    pub fn set_site_settings(&self, settings: site::Settings) {
        self.site.set_settings(settings);
    }

    pub(crate) fn site(&self) -> &Arc<Site> {
        &self.site
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// `old` if `new` has the same bytes (its Last-Modified is the one that is true), else `new`.
fn unless_unchanged(old: &Document, new: Document) -> Document {
    if old.etag == new.etag {
        old.clone()
    } else {
        new
    }
}

/// The routes: the four documents, `/healthz`, `/readyz`, `/metrics`, the site's pages;
/// everything else is 404.
/// `GET` routes answer `HEAD` too (axum drops the body).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/feed.atom", get(atom))
        .route("/feed.json", get(json_feed))
        .route("/feed.rss", get(rss))
        .route("/sources.opml", get(opml))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(site::routes())
        .fallback(not_found)
        // gzip or brotli when the request's Accept-Encoding allows: the merged feed is hundreds
        // of kilobytes of markup that shrinks about four times, fetched every few minutes.
        .layer(CompressionLayer::new())
        .layer(middleware::map_response(nosniff))
        .with_state(state)
}

/// Serves on `listener` until `shutdown` resolves, then stops accepting, lets requests in
/// flight finish (at most [`DRAIN_TIMEOUT`]) and returns.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving");
    }
    // `notify_one` stores a permit when nobody waits yet, so the drain timer below cannot miss
    // the signal.
    let stopping = Arc::new(Notify::new());
    let signal = {
        let stopping = Arc::clone(&stopping);
        async move {
            shutdown.await;
            tracing::info!("shutting down the server");
            stopping.notify_one();
        }
    };
    let server = axum::serve(listener, router(state))
        .with_graceful_shutdown(signal)
        .into_future();
    let drain_deadline = async {
        stopping.notified().await;
        tokio::time::sleep(DRAIN_TIMEOUT).await;
    };
    tokio::select! {
        result = server => result,
        () = drain_deadline => {
            tracing::warn!(
                timeout = ?DRAIN_TIMEOUT,
                "connections still open after the shutdown signal; closing them"
            );
            Ok(())
        }
    }
}

async fn atom(State(state): State<AppState>, request: HeaderMap) -> Response {
    let snapshot = state.snapshot();
    document_response(
        &snapshot.atom,
        ATOM_CONTENT_TYPE,
        &request,
        state.clock.now(),
    )
}

async fn json_feed(State(state): State<AppState>, request: HeaderMap) -> Response {
    let snapshot = state.snapshot();
    document_response(
        &snapshot.json,
        JSON_FEED_CONTENT_TYPE,
        &request,
        state.clock.now(),
    )
}

async fn rss(State(state): State<AppState>, request: HeaderMap) -> Response {
    let snapshot = state.snapshot();
    document_response(&snapshot.rss, RSS_CONTENT_TYPE, &request, state.clock.now())
}

async fn opml(State(state): State<AppState>, request: HeaderMap) -> Response {
    let snapshot = state.snapshot();
    document_response(
        &snapshot.opml,
        OPML_CONTENT_TYPE,
        &request,
        state.clock.now(),
    )
}

/// A document, or 304 Not Modified with its validators when the request's conditions say the
/// client already holds it.
pub(crate) fn document_response(
    document: &Document,
    content_type: &'static str,
    request: &HeaderMap,
    now: DateTime<Utc>,
) -> Response {
    let validators = document.validators.clone();
    if not_modified(request, document, now) {
        (StatusCode::NOT_MODIFIED, validators).into_response()
    } else {
        (
            validators,
            [(CONTENT_TYPE, content_type)],
            document.body.clone(),
        )
            .into_response()
    }
}

/// Whether a GET or HEAD may be answered 304, as RFC 9110 section 13.2.2 orders the checks:
/// If-None-Match decides when present, and If-Modified-Since is then ignored; otherwise
/// If-Modified-Since, when it is a valid date not in the future. If-None-Match compares
/// weakly (RFC 9110, 13.1.2), so `"x"` and `W/"x"` both match our tag.
///
/// Anything malformed counts as no match: a full response is always a correct answer, a
/// wrong 304 never is.
fn not_modified(request: &HeaderMap, document: &Document, now: DateTime<Utc>) -> bool {
    if request.contains_key(IF_NONE_MATCH) {
        // A reader echoes the tag it was sent, byte for byte, which needs no parsing; any
        // tag of the list that matches is a match.
        let ours = document.validators.get(ETAG);
        if request
            .get_all(IF_NONE_MATCH)
            .iter()
            .any(|condition| Some(condition) == ours)
        {
            return true;
        }
        return request
            .typed_get::<IfNoneMatch>()
            .is_some_and(|condition| !condition.precondition_passes(&document.etag));
    }
    let Some(since) = request.typed_get::<IfModifiedSince>() else {
        return false;
    };
    let since = DateTime::<Utc>::from(SystemTime::from(since));
    // A date later than now is invalid (RFC 9110, 13.1.3): honouring it would hide any change
    // made before that date from a client with a fast clock.
    since <= now && document.last_modified <= since
}

/// An HTTP-date in IMF-fixdate form: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(at: DateTime<Utc>) -> String {
    httpdate::fmt_http_date(at.into())
}

/// Liveness: the process accepts connections and runs handlers. Checks nothing else, so a
/// busy database never gets the daemon restarted.
async fn healthz() -> Response {
    ([(CACHE_CONTROL, NO_STORE)], "ok\n").into_response()
}

/// Readiness: a poll cycle has finished and the database answers a read.
async fn readyz(State(state): State<AppState>) -> Response {
    let result = if state.is_ready() {
        check_database_within(state.database.clone(), READY_TIMEOUT).await
    } else {
        Err(NotReady::FirstCycle)
    };
    match result {
        Ok(()) => ([(CACHE_CONTROL, NO_STORE)], "ready\n").into_response(),
        Err(reason) => {
            tracing::debug!(%reason, database = %state.database, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(CACHE_CONTROL, NO_STORE)],
                format!("not ready: {reason}\n"),
            )
                .into_response()
        }
    }
}

/// Why `/readyz` says no. The messages are sent to whoever asks, so they name SQLite's error
/// code and never the database's path.
#[derive(Debug, Error)]
enum NotReady {
    #[error("the first poll cycle has not finished")]
    FirstCycle,
    #[error("the database does not answer ({})", sqlite_code(.0))]
    Database(#[from] rusqlite::Error),
    /// The details (a server's address, its error) are logged, not sent.
    #[error("the database does not answer")]
    Store(StoreError),
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the database check crashed")]
    Crashed,
}

fn sqlite_code(error: &rusqlite::Error) -> String {
    match error.sqlite_error_code() {
        Some(code) => format!("{code:?}"),
        None => "not an SQLite error".to_owned(),
    }
}

/// Runs [`check_database`] (SQLite) or a read of the site's on a connection of its own
/// (PostgreSQL) off the async runtime (both block), bounded by `timeout`.
async fn check_database_within(database: StorageTarget, timeout: Duration) -> Result<(), NotReady> {
    let check = tokio::task::spawn_blocking(move || match database {
        StorageTarget::Sqlite(path) => check_database(&path).map_err(NotReady::from),
        StorageTarget::Postgres(_) => SiteReader::open(database)
            .and_then(|mut reader| reader.check())
            .map_err(|error| {
                tracing::warn!(%error, "readiness: the database does not answer");
                NotReady::Store(error)
            }),
    });
    match tokio::time::timeout(timeout, check).await {
        Ok(Ok(result)) => result,
        Ok(Err(_join_error)) => Err(NotReady::Crashed),
        Err(_elapsed) => Err(NotReady::Timeout(timeout)),
    }
}

/// Opens the database read-only (so a missing file is an error, not a new empty database)
/// and reads its schema. Reading `sqlite_master` rather than `SELECT 1` makes SQLite read the
/// file's header and first page, so a file that is not a database, or is locked beyond the
/// busy timeout, fails here.
fn check_database(path: &Path) -> Result<(), rusqlite::Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(READY_BUSY_TIMEOUT)?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
        row.get::<_, i64>(0)
    })?;
    Ok(())
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [
            (CONTENT_TYPE, crate::metrics::CONTENT_TYPE),
            (CACHE_CONTROL, NO_STORE),
        ],
        state.metrics.render(),
    )
        .into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// Every response, errors and 304s included, tells browsers not to guess a content type: the
/// feeds carry HTML from other sites, which must never be sniffed into a page.
async fn nosniff(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0)
            .single()
            .expect("a valid timestamp")
    }

    fn request(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        headers
    }

    /// The tag as a request would quote it back.
    fn tag_text(doc: &Document) -> String {
        let mut headers = HeaderMap::new();
        headers.typed_insert(doc.etag().clone());
        headers[axum::http::header::ETAG]
            .to_str()
            .expect("ASCII tag")
            .to_owned()
    }

    #[test]
    fn etag_is_weak_and_content_derived() {
        let a = Document::new(b"hello".to_vec(), at(0));
        let b = Document::new(b"hello".to_vec(), at(99));
        let c = Document::new(b"hello!".to_vec(), at(0));
        assert_eq!(a.etag(), b.etag());
        assert_ne!(a.etag(), c.etag());
        assert!(a.etag().is_weak());
        let text = tag_text(&a);
        let opaque = text
            .strip_prefix("W/\"")
            .and_then(|rest| rest.strip_suffix('"'))
            .expect("W/\"...\"");
        assert_eq!(opaque.len(), 32);
        assert!(opaque.bytes().all(|b| b.is_ascii_hexdigit()), "{text}");
    }

    #[test]
    fn last_modified_is_truncated_to_the_second() {
        let doc = Document::new(Vec::new(), at(10) + chrono::Duration::milliseconds(999));
        assert_eq!(doc.last_modified(), at(10));
    }

    #[test]
    fn a_clock_before_1970_still_gives_an_http_date() {
        let doc = Document::new(Vec::new(), at(-5));
        assert_eq!(
            http_date(doc.last_modified()),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn http_dates_are_imf_fixdates() {
        let when = at(784_111_777);
        assert_eq!(http_date(when), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn if_none_match_lists_compare_weakly() {
        let doc = Document::new(b"feed".to_vec(), at(1_000));
        let now = at(2_000);
        let weak = tag_text(&doc);
        let strong = weak.trim_start_matches("W/").to_owned();
        let matches = |value: &str| not_modified(&request(&[("if-none-match", value)]), &doc, now);
        assert!(matches(&weak));
        assert!(matches(&strong));
        assert!(matches("*"));
        assert!(matches(&format!("\"x\", {strong}")));
        assert!(matches(&format!("\"x,y\",{weak}")));
        assert!(matches(&format!(", ,{strong} ,")));
        assert!(!matches("\"x\", \"y\""));
        assert!(!matches(&format!("{}0\"", strong.trim_end_matches('"'))));
        assert!(!matches(strong.trim_matches('"')));
        assert!(!matches(strong.trim_end_matches('"')));
        assert!(!matches(&format!("\"x\" {strong}")));
        assert!(!matches(""));
    }

    #[test]
    fn conditions_follow_rfc_9110_order() {
        let doc = Document::new(b"feed".to_vec(), at(1_000));
        let now = at(2_000);
        let etag = tag_text(&doc);
        let date = http_date(at(1_000));
        let earlier = http_date(at(999));
        let future = http_date(at(3_000));

        assert!(!not_modified(&request(&[]), &doc, now));
        assert!(not_modified(
            &request(&[("if-none-match", &etag)]),
            &doc,
            now
        ));
        assert!(not_modified(
            &request(&[("if-none-match", "\"nope\""), ("if-none-match", &etag)]),
            &doc,
            now
        ));
        assert!(not_modified(
            &request(&[("if-modified-since", &date)]),
            &doc,
            now
        ));
        assert!(!not_modified(
            &request(&[("if-modified-since", &earlier)]),
            &doc,
            now
        ));
        assert!(!not_modified(
            &request(&[("if-modified-since", &future)]),
            &doc,
            now
        ));
        assert!(!not_modified(
            &request(&[("if-modified-since", "garbage")]),
            &doc,
            now
        ));
        // If-None-Match, when present, decides alone.
        assert!(!not_modified(
            &request(&[("if-none-match", "\"nope\""), ("if-modified-since", &date)]),
            &doc,
            now
        ));
        assert!(not_modified(
            &request(&[("if-none-match", &etag), ("if-modified-since", &earlier)]),
            &doc,
            now
        ));
    }

    #[test]
    fn publish_keeps_unchanged_documents() {
        let first = Snapshot::new(
            b"a".to_vec(),
            b"j".to_vec(),
            b"r".to_vec(),
            b"o".to_vec(),
            at(100),
        );
        let state = AppState::new(
            first,
            Arc::new(Metrics::new()),
            std::path::PathBuf::from("x.db"),
        );
        state.publish(Snapshot::new(
            b"a2".to_vec(),
            b"j".to_vec(),
            b"r".to_vec(),
            b"o".to_vec(),
            at(200),
        ));
        let now = state.snapshot();
        assert_eq!(now.atom.body(), b"a2");
        assert_eq!(now.atom.last_modified(), at(200));
        assert_eq!(now.json.last_modified(), at(100));
        assert_eq!(now.rss.last_modified(), at(100));
        assert_eq!(now.opml.last_modified(), at(100));
    }

    #[tokio::test]
    async fn readiness_refuses_a_file_that_is_not_a_database() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("garbage.db");
        std::fs::write(&path, vec![b'x'; 4096]).expect("write");
        let error = check_database_within(path.into(), READY_TIMEOUT)
            .await
            .expect_err("garbage is not a database");
        assert!(error.to_string().contains("NotADatabase"), "{error}");
    }

    #[tokio::test]
    async fn readiness_needs_an_existing_database() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let missing = dir.path().join("does-not-exist.db");
        let error = check_database_within(missing.into(), READY_TIMEOUT)
            .await
            .expect_err("a missing database is not ready");
        let message = error.to_string();
        assert!(message.contains("CannotOpen"), "{message}");
        assert!(!message.contains("does-not-exist"), "{message}");
    }
}
