//! Notifications: delivers the outbox (one row per new story and sink, written by ingest in the
//! story's own transaction) to webhook, Slack, Discord, Matrix and ntfy sinks.
//!
//! This module owns everything after the outbox row exists: reading the story as it is at
//! delivery time, the per-sink filters, the message text (templates) and each service's wire
//! format, pacing to each service's rate limit, digests, the HTTP exchange with its deadline,
//! reading 429s and Retry-After in each service's style, and the retry/backoff/dead policy.
//!
//! Design decision: the outbox is the only state that matters, and each delivery's outcome is
//! written to it the moment its response arrives (one short transaction, before the next
//! request starts). So `kill -9` at any moment repeats at most the requests in flight (one per
//! sink) and loses nothing; the idempotency key (webhook header, Matrix transaction id) lets a
//! receiver drop even that repeat. Sinks are delivered concurrently and each request has a
//! deadline, so a slow or dead sink delays only itself; after a failure the sink's other due
//! deliveries are deferred to the same retry time rather than each waiting out a timeout.
//!
//! `Store` is `Send` but not `Sync`: it is shared as `std::sync::Mutex<Store>`, locked only
//! around single store calls and never across an `.await`.

pub mod discord;
pub mod hmac;
pub mod matrix;
pub mod message;
pub mod ntfy;
pub mod pace;
pub mod sink_url;
pub mod slack;
pub mod webhook;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::clock::Clock;
use crate::config::{NotifyConfig, SinkKind};
use crate::fetch::{MAX_RETRY_AFTER, USER_AGENT, parse_retry_after};
use crate::hex::hex;
use crate::metrics::Metrics;
use crate::store::{Delivery, DeliveryUpdate, Store, StoreError};

pub use message::Message;
pub use sink_url::SinkUrl;

/// Each request's deadline, connect to last byte: a hung receiver costs at most this.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// The first retry comes after 1-2 s (jittered), then 2-4 s, 4-8 s ... up to an hour:
/// a blip is bridged at once, an outage is not hammered.
pub const BACKOFF_BASE: Duration = Duration::from_secs(2);
pub const BACKOFF_MAX: Duration = Duration::from_secs(3600);

/// A 429 without a usable Retry-After waits at least this long.
pub const RATE_LIMIT_FLOOR: Duration = Duration::from_secs(5);

/// No retry sooner than this, whatever the server said, so a `Retry-After: 0` cannot spin.
const RETRY_FLOOR: Duration = Duration::from_secs(1);

/// A sink configured with `digest = true` gets one digest when more than this many are due.
pub const DIGEST_AFTER: usize = 3;

/// Due deliveries read at once. Large, because one sink's backlog must not hide another
/// sink's rows when a caller filters by sink.
const DUE_BATCH: usize = 10_000;

/// Response bytes kept: enough for any error body or 429 JSON, and for `notify test`.
const RESPONSE_MAX: usize = 64 * 1024;

#[derive(Debug, Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot set up the HTTP client for notifications: {0}")]
    Client(String),
    #[error("no sink named `{name}` in the config (configured: {known})")]
    UnknownSink { name: String, known: String },
    #[error("sink `{sink}`: cannot build the request: {detail}")]
    Build { sink: String, detail: String },
    #[error("sink `{sink}`: {detail}")]
    Send { sink: String, detail: String },
}

/// What one delivery pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Deliveries the receiver acknowledged (each story of a digest counts).
    pub delivered: usize,
    /// Attempts that failed and will be retried.
    pub failed: usize,
    /// Given up: refused for good, too old, or their sink is gone.
    pub dead: usize,
    /// Not wanted by the sink's filters.
    pub filtered: usize,
    /// Not attempted because their sink had just failed; due again with its retry.
    pub deferred: usize,
    /// One line per failure, for `poll` to print.
    pub errors: Vec<String>,
}

impl DeliveryReport {
    pub fn summary(&self) -> String {
        format!(
            "notifications: {} sent, {} failed (will retry), {} dead, {} filtered, {} deferred",
            self.delivered, self.failed, self.dead, self.filtered, self.deferred
        )
    }

    /// Whether anything at all happened.
    pub fn is_empty(&self) -> bool {
        self.delivered + self.failed + self.dead + self.filtered + self.deferred == 0
    }

    fn absorb(&mut self, other: DeliveryReport) {
        self.delivered += other.delivered;
        self.failed += other.failed;
        self.dead += other.dead;
        self.filtered += other.filtered;
        self.deferred += other.deferred;
        self.errors.extend(other.errors);
    }
}

/// HTTP methods the sinks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
}

/// A request ready to send: plain data, so every sink's format is unit-tested. Its `Debug`
/// shows neither the URL's path nor a credential header (see [`bearer`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub method: Method,
    pub url: SinkUrl,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// `value` for header `name`, or an error naming the sink, the header and the value.
pub fn header_value(
    sink: &NotifyConfig,
    name: &str,
    value: &str,
) -> Result<HeaderValue, NotifyError> {
    HeaderValue::from_str(value).map_err(|_| NotifyError::Build {
        sink: sink.name.clone(),
        detail: format!("header {name} cannot carry {value:?}"),
    })
}

/// `Bearer <token>` for the `Authorization` header, marked sensitive so that no `Debug` of the
/// request shows it; an error names the sink, never the token.
pub fn bearer(sink: &NotifyConfig, token: &SecretString) -> Result<HeaderValue, NotifyError> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| {
            NotifyError::Build {
                sink: sink.name.clone(),
                detail: "`token` cannot be sent in an Authorization header (it holds a control \
                     character or non-ASCII text)"
                    .into(),
            }
        })?;
    value.set_sensitive(true);
    Ok(value)
}

/// What a request is about.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    Story(&'a Message),
    /// Several stories in one message; the sink takes as many as fit, in order.
    Digest(&'a [Message]),
    /// `notify test`: a sample story, marked as a test where the format allows.
    Test(&'a Message),
}

/// A built request and how many of the payload's stories it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub outgoing: Outgoing,
    pub included: usize,
}

/// A text limit, in the unit the service counts.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    Chars(usize),
    Bytes(usize),
}

impl Limit {
    fn measure(self, text: &str) -> usize {
        match self {
            Limit::Chars(_) => text.chars().count(),
            Limit::Bytes(_) => text.len(),
        }
    }

    fn max(self) -> usize {
        match self {
            Limit::Chars(n) | Limit::Bytes(n) => n,
        }
    }
}

/// Joins lines with `\n` while they fit `limit`; at least one (cut to fit). Returns the text
/// and how many lines it holds, so a digest records exactly the stories it shows.
pub fn fit_lines(lines: &[String], limit: Limit) -> (String, usize) {
    let mut out = String::new();
    let mut count = 0;
    for line in lines {
        let candidate = if out.is_empty() {
            line.clone()
        } else {
            format!("{out}\n{line}")
        };
        if limit.measure(&candidate) > limit.max() {
            break;
        }
        out = candidate;
        count += 1;
    }
    if count == 0 {
        if let Some(first) = lines.first() {
            out = match limit {
                Limit::Chars(n) => message::truncate_chars(first, n),
                Limit::Bytes(n) => message::truncate_bytes(first, n),
            };
            count = 1;
        }
    }
    (out, count)
}

/// A non-negative, finite number of seconds as a duration, capped like any Retry-After.
fn seconds(value: f64) -> Option<Duration> {
    (value.is_finite() && value >= 0.0)
        .then(|| Duration::from_secs_f64(value.min(MAX_RETRY_AFTER.as_secs_f64())))
}

/// Builds the request for one payload to one sink.
pub fn build(
    sink: &NotifyConfig,
    payload: &Payload<'_>,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Built, NotifyError> {
    Ok(match sink.kind {
        SinkKind::Webhook => webhook::request(sink, payload, key, now)?,
        SinkKind::Slack => slack::request(sink, payload),
        SinkKind::Discord => discord::request(sink, payload),
        SinkKind::Matrix => matrix::request(sink, payload, key)?,
        SinkKind::Ntfy => ntfy::request(sink, payload)?,
    })
}

/// How a receiver's answer is taken.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Delivered,
    /// Try again, not before `not_before` when the service said so.
    Retry {
        not_before: Option<DateTime<Utc>>,
        rate_limited: bool,
        error: String,
    },
    /// Refused for good (a 4xx other than 408 and 429): retrying cannot help.
    Permanent {
        error: String,
    },
}

/// Reads a response: 2xx delivered; 408, 429 and 5xx (and anything odd) retried, with the
/// service's wait honoured (the `Retry-After` header as seconds or a date, Discord's JSON
/// `retry_after` in float seconds and its `X-RateLimit-Reset-After`, Matrix's
/// `retry_after_ms`), whichever is longest; other 4xx permanent.
pub fn classify(
    kind: SinkKind,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Verdict {
    if (200..300).contains(&status) {
        return Verdict::Delivered;
    }
    let error = describe(status, body);
    if (400..500).contains(&status) && status != 408 && status != 429 {
        return Verdict::Permanent { error };
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mut waits: Vec<DateTime<Utc>> = Vec::new();
    if let Some(value) = header(RETRY_AFTER.as_str()) {
        // Seconds (Discord sends fractions) or an HTTP date.
        let at = match value.trim().parse::<f64>().ok().and_then(seconds) {
            Some(wait) => chrono::Duration::from_std(wait).ok().map(|w| now + w),
            None => parse_retry_after(value, now),
        };
        waits.extend(at);
    }
    let from_body = match kind {
        SinkKind::Discord => discord::retry_after(body).or_else(|| {
            header("x-ratelimit-reset-after").and_then(|v| seconds(v.trim().parse().ok()?))
        }),
        SinkKind::Matrix => matrix::retry_after(body),
        _ => None,
    };
    waits.extend(
        from_body
            .and_then(|wait| chrono::Duration::from_std(wait).ok())
            .map(|wait| now + wait),
    );
    Verdict::Retry {
        not_before: waits.into_iter().max(),
        rate_limited: status == 429,
        error,
    }
}

/// `HTTP 500 Internal Server Error: <start of the body>`.
fn describe(status: u16, body: &[u8]) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = format!("HTTP {status} {reason}").trim_end().to_owned();
    if !text.is_empty() {
        out.push_str(": ");
        out.push_str(&message::truncate_chars(&text, 200));
    }
    out
}

/// Exponential backoff with jitter: `BACKOFF_BASE * 2^attempts`, capped, times a factor in
/// [0.5, 1) drawn from the key and attempt so retries of different stories spread out while
/// the schedule stays reproducible.
pub fn backoff(key: &str, attempts: u32) -> Duration {
    let exponential = BACKOFF_BASE
        .saturating_mul(1_u32 << attempts.min(20))
        .min(BACKOFF_MAX);
    let digest = Sha256::new()
        .chain_update(key.as_bytes())
        .chain_update(attempts.to_be_bytes())
        .finalize();
    let fraction = f64::from(u16::from_be_bytes([digest[0], digest[1]])) / 65_536.0;
    exponential.mul_f64(0.5 + fraction / 2.0)
}

/// The key of a digest: derived from the keys of the deliveries it carries, so a retry of the
/// same digest carries the same key.
pub fn digest_key(keys: &[&str]) -> String {
    let mut hasher = Sha256::new().chain_update(b"digest");
    for key in keys {
        hasher.update([0]);
        hasher.update(key.as_bytes());
    }
    hex(&hasher.finalize()[..16])
}

/// What happened on the wire.
enum Exchange {
    Answered {
        status: u16,
        headers: HeaderMap,
        body: Vec<u8>,
    },
    /// No answer: connection refused, deadline passed, connection broken. Retried.
    Failed(String),
    /// The request itself cannot be sent (reqwest refused to build it).
    Unsendable(String),
}

/// One configured sink and its pacing state.
struct Sink {
    config: NotifyConfig,
    bucket: Mutex<Option<pace::Bucket>>,
}

impl Sink {
    /// How long to wait before the next request to this sink.
    fn reserve(&self) -> Duration {
        let Some(pace) = pace::pace_of(self.config.kind) else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        lock(&self.bucket)
            .get_or_insert_with(|| pace::Bucket::new(pace, now))
            .reserve(now)
    }

    /// The service said its window is spent (Discord's `X-RateLimit-Remaining: 0`).
    fn hold_from(&self, headers: &HeaderMap) {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if text("x-ratelimit-remaining").map(str::trim) != Some("0") {
            return;
        }
        let Some(wait) =
            text("x-ratelimit-reset-after").and_then(|v| seconds(v.trim().parse().ok()?))
        else {
            return;
        };
        let Some(pace) = pace::pace_of(self.config.kind) else {
            return;
        };
        let now = Instant::now();
        lock(&self.bucket)
            .get_or_insert_with(|| pace::Bucket::new(pace, now))
            .hold(now + wait);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves SQLite (or a bucket) consistent: keep going.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Delivers the outbox to the configured sinks. Build one per configuration; it keeps each
/// sink's pacing between passes.
pub struct Notifier {
    client: reqwest::Client,
    sinks: Vec<Sink>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("sinks", &self.sink_names().collect::<Vec<_>>())
            .finish()
    }
}

/// A pending delivery whose story is still wanted, with the message it becomes.
struct Ready {
    delivery: Delivery,
    message: Message,
}

impl Notifier {
    pub fn new(sinks: &[NotifyConfig]) -> Result<Notifier, NotifyError> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(USER_AGENT)
            .timeout(REQUEST_DEADLINE)
            .connect_timeout(Duration::from_secs(5))
            // A webhook that redirects is misconfigured, and following a POST through a 302
            // would turn it into a GET: report the status instead.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .build()
            .map_err(|e| NotifyError::Client(error_chain(&e)))?;
        Ok(Notifier {
            client,
            sinks: sinks
                .iter()
                .map(|config| Sink {
                    config: config.clone(),
                    bucket: Mutex::new(None),
                })
                .collect(),
        })
    }

    pub fn sink_names(&self) -> impl Iterator<Item = &str> {
        self.sinks.iter().map(|s| s.config.name.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    fn sink(&self, name: &str) -> Option<&Sink> {
        self.sinks.iter().find(|s| s.config.name == name)
    }

    /// Delivers everything due now to every sink, the sinks concurrently, and returns when
    /// each has had its turn. Only the store failing is an error; every delivery problem is a
    /// recorded outcome and a line in the report.
    pub async fn deliver_due(
        &self,
        store: &Mutex<Store>,
        clock: &dyn Clock,
        metrics: Option<&Metrics>,
    ) -> Result<DeliveryReport, NotifyError> {
        let mut report = DeliveryReport::default();
        // Each pass leaves every row it read delivered, dead, filtered or due later, so a
        // second pass happens only for a backlog larger than one read.
        for _ in 0..100 {
            let due = lock(store).due_deliveries(clock.now(), None, DUE_BATCH)?;
            let full = due.len() == DUE_BATCH;
            let mut by_sink: HashMap<&str, Vec<Delivery>> = HashMap::new();
            for delivery in due {
                match self.sink(&delivery.sink) {
                    Some(sink) => by_sink
                        .entry(sink.config.name.as_str())
                        .or_default()
                        .push(delivery),
                    None => report.absorb(self.retire(store, clock, delivery)?),
                }
            }
            let passes = by_sink.into_iter().map(|(name, deliveries)| async move {
                match self.sink(name) {
                    Some(sink) => {
                        self.deliver_sink(sink, deliveries, store, clock, metrics)
                            .await
                    }
                    None => Ok(DeliveryReport::default()),
                }
            });
            for result in futures_util::future::join_all(passes).await {
                report.absorb(result?);
            }
            if !full {
                break;
            }
        }
        Ok(report)
    }

    /// Delivers what is due now to one sink only (the daemon runs one of these per sink, so a
    /// sink working through a paced backlog holds up nobody else). With `created_before`, only
    /// deliveries created before then: the daemon passes the start of a poll cycle in
    /// progress, so a story is not sent before the rest of its cycle has folded into it.
    pub async fn deliver_due_to(
        &self,
        name: &str,
        store: &Mutex<Store>,
        clock: &dyn Clock,
        metrics: Option<&Metrics>,
        created_before: Option<DateTime<Utc>>,
    ) -> Result<DeliveryReport, NotifyError> {
        let Some(sink) = self.sink(name) else {
            return Ok(DeliveryReport::default());
        };
        let due: Vec<Delivery> = lock(store)
            .due_deliveries(clock.now(), Some(name), DUE_BATCH)?
            .into_iter()
            .filter(|d| created_before.is_none_or(|cutoff| d.created_at < cutoff))
            .collect();
        if due.is_empty() {
            return Ok(DeliveryReport::default());
        }
        self.deliver_sink(sink, due, store, clock, metrics).await
    }

    /// Marks due deliveries of sinks no longer configured dead, so they stop being read.
    pub fn retire_orphans(
        &self,
        store: &Mutex<Store>,
        clock: &dyn Clock,
    ) -> Result<DeliveryReport, NotifyError> {
        let due = lock(store).due_deliveries(clock.now(), None, DUE_BATCH)?;
        let mut report = DeliveryReport::default();
        for delivery in due.into_iter().filter(|d| self.sink(&d.sink).is_none()) {
            report.absorb(self.retire(store, clock, delivery)?);
        }
        Ok(report)
    }

    fn retire(
        &self,
        store: &Mutex<Store>,
        clock: &dyn Clock,
        delivery: Delivery,
    ) -> Result<DeliveryReport, NotifyError> {
        let error = format!("sink `{}` is no longer configured", delivery.sink);
        tracing::warn!(sink = %delivery.sink, story = delivery.story_id, "{error}; delivery given up");
        lock(store).record_delivery(
            delivery.id,
            &DeliveryUpdate::Dead {
                error: error.clone(),
            },
            clock.now(),
        )?;
        Ok(DeliveryReport {
            dead: 1,
            errors: vec![error],
            ..DeliveryReport::default()
        })
    }

    /// One sink's turn: settle what needs no request (too old, filtered), then send the rest
    /// one by one (or as digests), paced, recording each outcome as soon as it is known.
    async fn deliver_sink(
        &self,
        sink: &Sink,
        deliveries: Vec<Delivery>,
        store: &Mutex<Store>,
        clock: &dyn Clock,
        metrics: Option<&Metrics>,
    ) -> Result<DeliveryReport, NotifyError> {
        let config = &sink.config;
        let mut report = DeliveryReport::default();
        let mut ready: Vec<Ready> = Vec::new();
        for delivery in deliveries {
            let now = clock.now();
            if now >= deadline(config, &delivery) {
                let error = format!(
                    "not delivered within max_age ({})",
                    humantime::format_duration(config.max_age)
                );
                report.errors.push(format!(
                    "{}: story {}: {error}",
                    config.name, delivery.story_id
                ));
                lock(store).record_delivery(delivery.id, &DeliveryUpdate::Dead { error }, now)?;
                report.dead += 1;
                continue;
            }
            // The story as it is now: mirrors that joined during the hold are in it.
            let story = lock(store).story(&delivery.story_id.to_string())?;
            if story.as_ref().is_some_and(|s| s.id != delivery.story_id) {
                // Folded into an older story since this pass read the outbox: that story has
                // its own delivery, and the merge marked this one; leave it alone.
                tracing::debug!(sink = %config.name, story = delivery.story_id, "story was merged; skipped");
                continue;
            }
            let Some(message) = story.as_ref().and_then(Message::from_story) else {
                let error = format!("story {} has no items left", delivery.story_id);
                lock(store).record_delivery(delivery.id, &DeliveryUpdate::Dead { error }, now)?;
                report.dead += 1;
                continue;
            };
            if !message::wanted(config, &message) {
                tracing::debug!(sink = %config.name, story = %message.story_id, "filtered out");
                lock(store).record_delivery(delivery.id, &DeliveryUpdate::Filtered, now)?;
                report.filtered += 1;
                continue;
            }
            ready.push(Ready { delivery, message });
        }

        let digest = config.digest && ready.len() > DIGEST_AFTER;
        let mut queue = std::collections::VecDeque::from(ready);
        // Set by a transient failure: the rest of this pass waits for the same retry time.
        let mut paused: Option<(DateTime<Utc>, String)> = None;
        while !queue.is_empty() {
            if let Some((at, error)) = &paused {
                let now = clock.now();
                for ready in queue.drain(..) {
                    let at = clamp_retry(config, &ready.delivery, *at, now);
                    let update = DeliveryUpdate::Defer {
                        at,
                        reason: format!("deferred after a failure of this sink: {error}"),
                    };
                    lock(store).record_delivery(ready.delivery.id, &update, now)?;
                    report.deferred += 1;
                }
                break;
            }

            let wait = sink.reserve();
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            let now = clock.now();
            let (built, unit) = if digest {
                let messages: Vec<Message> = queue.iter().map(|r| r.message.clone()).collect();
                let probe = build(config, &Payload::Digest(&messages), "", now);
                let take = probe.map_or(1, |b| b.included).clamp(1, queue.len());
                let unit: Vec<Ready> = queue.drain(..take).collect();
                let keys: Vec<&str> = unit
                    .iter()
                    .map(|r| r.delivery.idempotency_key.as_str())
                    .collect();
                let key = if unit.len() == 1 {
                    keys[0].to_owned()
                } else {
                    digest_key(&keys)
                };
                let built = if unit.len() == 1 {
                    build(config, &Payload::Story(&unit[0].message), &key, now)
                } else {
                    build(config, &Payload::Digest(&messages[..unit.len()]), &key, now)
                };
                (built, unit)
            } else {
                let Some(ready) = queue.pop_front() else {
                    break;
                };
                let built = build(
                    config,
                    &Payload::Story(&ready.message),
                    &ready.delivery.idempotency_key,
                    now,
                );
                (built, vec![ready])
            };

            let verdict = match built {
                Err(error) => Verdict::Permanent {
                    error: error.to_string(),
                },
                Ok(built) => match self.exchange(&built.outgoing).await {
                    Exchange::Answered {
                        status,
                        headers,
                        body,
                    } => {
                        sink.hold_from(&headers);
                        classify(config.kind, status, &headers, &body, clock.now())
                    }
                    Exchange::Failed(error) => Verdict::Retry {
                        not_before: None,
                        rate_limited: false,
                        error,
                    },
                    Exchange::Unsendable(error) => Verdict::Permanent { error },
                },
            };

            // Recorded before anything else is sent: this is what makes a crash repeat at most
            // the request in flight.
            let now = clock.now();
            let titles: Vec<&str> = unit.iter().map(|r| r.message.title.as_str()).collect();
            match &verdict {
                Verdict::Delivered => {
                    for ready in &unit {
                        lock(store).record_delivery(
                            ready.delivery.id,
                            &DeliveryUpdate::Delivered,
                            now,
                        )?;
                        if let Some(metrics) = metrics {
                            metrics.record_notification(&config.name, true);
                        }
                    }
                    report.delivered += unit.len();
                    tracing::info!(sink = %config.name, stories = unit.len(), title = %titles.join(" | "), "notified");
                }
                Verdict::Retry {
                    not_before,
                    rate_limited,
                    error,
                } => {
                    let first = &unit[0].delivery;
                    let mut at = now
                        + chrono::Duration::from_std(backoff(
                            &first.idempotency_key,
                            first.attempts,
                        ))
                        .unwrap_or_default();
                    if *rate_limited {
                        at = at.max(
                            now + chrono::Duration::from_std(RATE_LIMIT_FLOOR).unwrap_or_default(),
                        );
                    }
                    if let Some(not_before) = not_before {
                        at = *not_before;
                    }
                    for ready in &unit {
                        // A hair later than the deferred ones, so the next pass tries another
                        // story first: one poisoned message cannot hold up a whole sink.
                        let mine = clamp_retry(
                            config,
                            &ready.delivery,
                            at + chrono::Duration::milliseconds(1),
                            now,
                        );
                        let update = DeliveryUpdate::Retry {
                            at: mine,
                            error: error.clone(),
                        };
                        lock(store).record_delivery(ready.delivery.id, &update, now)?;
                        if let Some(metrics) = metrics {
                            metrics.record_notification(&config.name, false);
                        }
                    }
                    report.failed += unit.len();
                    report.errors.push(format!(
                        "{}: {}: {error}; retrying at {at}",
                        config.name,
                        titles.join(" | ")
                    ));
                    tracing::warn!(sink = %config.name, title = %titles.join(" | "), %error, retry_at = %at, "notification failed; will retry");
                    paused = Some((at, error.clone()));
                }
                Verdict::Permanent { error } => {
                    for ready in &unit {
                        let update = DeliveryUpdate::Dead {
                            error: error.clone(),
                        };
                        lock(store).record_delivery(ready.delivery.id, &update, now)?;
                        if let Some(metrics) = metrics {
                            metrics.record_notification(&config.name, false);
                        }
                    }
                    report.dead += unit.len();
                    report.errors.push(format!(
                        "{}: {}: {error}; given up",
                        config.name,
                        titles.join(" | ")
                    ));
                    tracing::error!(sink = %config.name, title = %titles.join(" | "), %error, "notification refused for good; given up");
                }
            }
        }
        Ok(report)
    }

    /// Sends a sample message to one sink and returns the response status and body.
    pub async fn send_test(
        &self,
        name: &str,
        clock: &dyn Clock,
    ) -> Result<(u16, String), NotifyError> {
        let sink = self.sink(name).ok_or_else(|| NotifyError::UnknownSink {
            name: name.to_owned(),
            known: if self.sinks.is_empty() {
                "none".to_owned()
            } else {
                self.sink_names().collect::<Vec<_>>().join(", ")
            },
        })?;
        let now = clock.now();
        let message = Message::sample(now);
        // A fresh key per test, so a Matrix homeserver does not swallow a second test as a
        // retry of the first.
        let key = format!(
            "test-{}",
            &hex(&Sha256::digest(
                now.timestamp_nanos_opt().unwrap_or_default().to_be_bytes()
            ))[..24]
        );
        let built = build(&sink.config, &Payload::Test(&message), &key, now)?;
        match self.exchange(&built.outgoing).await {
            Exchange::Answered { status, body, .. } => {
                Ok((status, String::from_utf8_lossy(&body).into_owned()))
            }
            Exchange::Failed(detail) | Exchange::Unsendable(detail) => Err(NotifyError::Send {
                sink: name.to_owned(),
                detail,
            }),
        }
    }

    /// One request with the deadline; the body is read up to [`RESPONSE_MAX`] bytes.
    async fn exchange(&self, outgoing: &Outgoing) -> Exchange {
        let url = outgoing.url.expose().clone();
        let request = match outgoing.method {
            Method::Post => self.client.post(url),
            Method::Put => self.client.put(url),
        };
        let request = request
            .headers(outgoing.headers.clone())
            .body(outgoing.body.clone());
        let url = &outgoing.url;
        let exchange = async {
            let mut response = request.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                let room = RESPONSE_MAX.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= RESPONSE_MAX {
                    break;
                }
            }
            Ok::<_, reqwest::Error>(Exchange::Answered {
                status,
                headers,
                body,
            })
        };
        // reqwest's errors name the whole URL, which for Slack and Discord is the credential:
        // they are reported without it, after the redacted one.
        match tokio::time::timeout(REQUEST_DEADLINE, exchange)
            .await
            .map(|result| result.map_err(reqwest::Error::without_url))
        {
            Ok(Ok(answered)) => answered,
            Ok(Err(error)) if error.is_timeout() => Exchange::Failed(format!(
                "{}: no complete response within {}",
                url,
                humantime::format_duration(REQUEST_DEADLINE)
            )),
            Ok(Err(error)) if error.is_builder() => {
                Exchange::Unsendable(format!("{}: {}", url, error_chain(&error)))
            }
            Ok(Err(error)) => Exchange::Failed(format!("{}: {}", url, error_chain(&error))),
            Err(_) => Exchange::Failed(format!(
                "{}: no complete response within {}",
                url,
                humantime::format_duration(REQUEST_DEADLINE)
            )),
        }
    }
}

/// When a delivery is given up: `max_age` after it was created.
fn deadline(config: &NotifyConfig, delivery: &Delivery) -> DateTime<Utc> {
    delivery.created_at
        + chrono::Duration::from_std(config.max_age).unwrap_or(chrono::Duration::MAX)
}

/// A retry time no sooner than [`RETRY_FLOOR`] and no later than the delivery's deadline
/// (where the next pass gives it up).
fn clamp_retry(
    config: &NotifyConfig,
    delivery: &Delivery,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let floor = now + chrono::Duration::from_std(RETRY_FLOOR).unwrap_or_default();
    at.min(deadline(config, delivery)).max(floor)
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_776_300_000, 0).expect("time")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    fn retry_at(verdict: Verdict) -> Option<DateTime<Utc>> {
        match verdict {
            Verdict::Retry { not_before, .. } => not_before,
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn statuses_are_delivered_retried_or_permanent() {
        let none = HeaderMap::new();
        for status in [200, 201, 202, 204] {
            assert_eq!(
                classify(SinkKind::Webhook, status, &none, b"", now()),
                Verdict::Delivered
            );
        }
        for status in [400, 401, 403, 404, 409, 410, 413, 422] {
            assert!(
                matches!(
                    classify(SinkKind::Slack, status, &none, b"no_service", now()),
                    Verdict::Permanent { .. }
                ),
                "{status}"
            );
        }
        for status in [408, 429, 500, 502, 503, 504, 302] {
            assert!(
                matches!(
                    classify(SinkKind::Slack, status, &none, b"", now()),
                    Verdict::Retry { .. }
                ),
                "{status}"
            );
        }
        let Verdict::Permanent { error } =
            classify(SinkKind::Slack, 404, &none, b"no_service\n", now())
        else {
            panic!("permanent");
        };
        assert_eq!(error, "HTTP 404 Not Found: no_service");
    }

    #[test]
    fn slack_and_ntfy_retry_after_headers_are_honoured() {
        let at = retry_at(classify(
            SinkKind::Slack,
            429,
            &headers(&[("retry-after", "30")]),
            b"",
            now(),
        ));
        assert_eq!(at, Some(now() + chrono::Duration::seconds(30)));
        let at = retry_at(classify(
            SinkKind::Webhook,
            503,
            &headers(&[("retry-after", "Wed, 15 Apr 2026 00:41:40 GMT")]),
            b"",
            now(),
        ));
        assert_eq!(
            at,
            Some(
                DateTime::from_timestamp(1_776_213_700, 0)
                    .expect("t")
                    .max(now())
            )
        );
        // ntfy's 429 has a JSON body and no header: a plain rate-limited retry.
        let verdict = classify(
            SinkKind::Ntfy,
            429,
            &HeaderMap::new(),
            br#"{"code":42901,"http":429,"error":"limit reached: too many requests"}"#,
            now(),
        );
        assert!(
            matches!(
                verdict,
                Verdict::Retry {
                    not_before: None,
                    rate_limited: true,
                    ..
                }
            ),
            "{verdict:?}"
        );
    }

    #[test]
    fn discord_retry_after_comes_from_the_body_or_its_headers() {
        let body =
            br#"{"message": "You are being rate limited.", "retry_after": 2.5, "global": false}"#;
        let at = retry_at(classify(
            SinkKind::Discord,
            429,
            &HeaderMap::new(),
            body,
            now(),
        ));
        assert_eq!(at, Some(now() + chrono::Duration::milliseconds(2_500)));
        // The longest of header and body wins.
        let at = retry_at(classify(
            SinkKind::Discord,
            429,
            &headers(&[("retry-after", "4")]),
            body,
            now(),
        ));
        assert_eq!(at, Some(now() + chrono::Duration::seconds(4)));
        let at = retry_at(classify(
            SinkKind::Discord,
            429,
            &headers(&[("x-ratelimit-reset-after", "1.25")]),
            b"",
            now(),
        ));
        assert_eq!(at, Some(now() + chrono::Duration::milliseconds(1_250)));
    }

    #[test]
    fn matrix_retry_after_ms_is_honoured() {
        let body =
            br#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":2000}"#;
        let at = retry_at(classify(
            SinkKind::Matrix,
            429,
            &HeaderMap::new(),
            body,
            now(),
        ));
        assert_eq!(at, Some(now() + chrono::Duration::seconds(2)));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for attempts in 0..8 {
            let full = BACKOFF_BASE * (1 << attempts);
            let wait = backoff("key", attempts);
            assert!(wait >= full / 2 && wait < full, "{attempts}: {wait:?}");
        }
        assert!(backoff("key", 40) <= BACKOFF_MAX);
        assert!(backoff("key", 40) >= BACKOFF_MAX / 2);
        // Different stories spread out; the same one is reproducible.
        assert_ne!(backoff("a", 3), backoff("b", 3));
        assert_eq!(backoff("a", 3), backoff("a", 3));
    }

    #[test]
    fn no_debug_of_the_config_a_sink_or_a_request_shows_a_credential() {
        let text = r#"
            [[notify]]
            name = "hook"
            kind = "webhook"
            url = "https://receiver.example/in"
            secret = "whsec-SIGNING"
            [[notify]]
            name = "chat"
            kind = "slack"
            url = "https://hooks.slack.example/services/T0/B0/SLACKPATH"
            [[notify]]
            name = "room"
            kind = "matrix"
            url = "https://matrix.example/"
            room = "!r:matrix.example"
            token = "syt_MATRIXTOKEN"
            [[notify]]
            name = "phone"
            kind = "ntfy"
            url = "https://user:NTFYPASS@ntfy.example/topic"
            token = "tk_NTFYTOKEN"
        "#;
        let config = crate::config::Config::parse(text, "t.toml").expect("valid");
        let secrets = [
            "SIGNING",
            "SLACKPATH",
            "MATRIXTOKEN",
            "NTFYPASS",
            "NTFYTOKEN",
        ];
        let mut shown = vec![
            format!("{config:?}"),
            format!("{config:#?}"),
            format!("{:?}", Notifier::new(&config.notify).expect("client")),
        ];
        let message = Message::sample(now());
        for sink in &config.notify {
            shown.push(format!("{sink:?} {}", sink.url));
            let built = build(sink, &Payload::Story(&message), "key", now()).expect("built");
            shown.push(format!("{:?}", built.outgoing));
        }
        for text in &shown {
            for secret in secrets {
                assert!(!text.contains(secret), "{secret} shown in {text}");
            }
        }
        // ... while the requests still carry them.
        let matrix = build(&config.notify[2], &Payload::Story(&message), "k", now()).expect("m");
        assert_eq!(
            matrix.outgoing.headers["authorization"],
            "Bearer syt_MATRIXTOKEN"
        );
    }

    #[test]
    fn fit_lines_counts_what_it_keeps() {
        let lines: Vec<String> = ["aaaa", "bbbb", "cccc"].map(String::from).to_vec();
        assert_eq!(
            fit_lines(&lines, Limit::Chars(9)),
            ("aaaa\nbbbb".to_owned(), 2)
        );
        assert_eq!(fit_lines(&lines, Limit::Chars(100)).1, 3);
        assert_eq!(fit_lines(&lines, Limit::Bytes(2)), ("aa".to_owned(), 1));
        assert_eq!(fit_lines(&lines, Limit::Bytes(3)), ("…".to_owned(), 1));
        assert_eq!(fit_lines(&[], Limit::Bytes(3)), (String::new(), 0));
    }

    #[test]
    fn digest_keys_depend_on_the_deliveries_and_their_order() {
        assert_eq!(digest_key(&["a", "b"]), digest_key(&["a", "b"]));
        assert_ne!(digest_key(&["a", "b"]), digest_key(&["b", "a"]));
        assert_ne!(digest_key(&["ab"]), digest_key(&["a", "b"]));
        assert_eq!(digest_key(&["a"]).len(), 32);
    }
}
