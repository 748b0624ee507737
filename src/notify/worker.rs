//! The outbox worker: reads due deliveries, settles those that need no request, sends the rest
//! paced per sink, and records each outcome the moment it is known.
//!
//! Design decision: each delivery's outcome is written to the outbox as soon as its response
//! arrives (one short transaction, before the next request starts), so `kill -9` at any moment
//! repeats at most the requests in flight (one per sink) and loses nothing. `Store` is `Send`
//! but not `Sync`: it is shared as a `parking_lot::Mutex<Store>`, locked only around single
//! store calls ([`with_store`], off the async workers) and never across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};

use super::message::{self, Message};
use super::pace::Bucket;
use super::retry::{self, Verdict};
use super::wire::{self, Method, Outgoing, Payload};
use super::{DeliveryReport, NotifyError};
use crate::clock::Clock;
use crate::config::NotifyConfig;
use crate::fetch::USER_AGENT;
use crate::hex::hex;
use crate::metrics::Metrics;
use crate::store::{Delivery, DeliveryKind, DeliveryUpdate, FirstMessage, Store, StoryChange};

/// One store call, the mutex taken and the call made off the async workers (see
/// [`crate::store::off_the_workers`]): either may wait, on the database or on another sink.
fn with_store<T>(store: &Mutex<Store>, call: impl FnOnce(&mut Store) -> T) -> T {
    crate::store::off_the_workers(|| call(&mut store.lock()))
}

/// Each request's deadline, connect to last byte: a hung receiver costs at most this.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// A sink configured with `digest = true` gets one digest when more than this many are due.
pub const DIGEST_AFTER: usize = 3;

/// Due deliveries read at once. Large, because one sink's backlog must not hide another
/// sink's rows when a caller filters by sink.
const DUE_BATCH: usize = 10_000;

/// Response bytes kept: enough for any error body or 429 JSON, and for `notify test`.
const RESPONSE_MAX: usize = 64 * 1024;

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
    bucket: Mutex<Option<Bucket>>,
}

impl Sink {
    /// How long to wait before the next request to this sink.
    fn reserve(&self) -> Duration {
        let Some(pace) = wire::service(self.config.kind).pace else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        self.bucket
            .lock()
            .get_or_insert_with(|| Bucket::new(pace, now))
            .reserve(now)
    }

    /// The service said its window is spent (Discord's `X-RateLimit-Remaining: 0`).
    fn hold_from(&self, headers: &HeaderMap) {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if text("x-ratelimit-remaining").map(str::trim) != Some("0") {
            return;
        }
        let Some(wait) =
            text("x-ratelimit-reset-after").and_then(|v| retry::seconds(v.trim().parse().ok()?))
        else {
            return;
        };
        let Some(pace) = wire::service(self.config.kind).pace else {
            return;
        };
        let now = Instant::now();
        self.bucket
            .lock()
            .get_or_insert_with(|| Bucket::new(pace, now))
            .hold(now + wait);
    }
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
    /// Set for an edit: what it edits.
    edit: Option<Edit>,
}

/// What an edit needs beyond the story as it is now.
struct Edit {
    /// The first message's id at the service.
    remote_id: Option<String>,
    /// The edited story was folded into `message`'s: its Atom id.
    merged_away: Option<String>,
}

/// The request for the next unit of a sink's queue, and the deliveries it carries.
struct Unit {
    built: Result<wire::Built, NotifyError>,
    readies: Vec<Ready>,
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
            let due = with_store(store, |store| {
                store.due_deliveries(clock.now(), None, DUE_BATCH, None)
            })?;
            let full = due.len() == DUE_BATCH;
            let mut by_sink: HashMap<&str, Vec<Delivery>> = HashMap::new();
            for delivery in due {
                match self.sink(&delivery.sink) {
                    Some(sink) => by_sink
                        .entry(sink.config.name.as_str())
                        .or_default()
                        .push(delivery),
                    None => report.absorb(Self::retire(store, clock, &delivery)?),
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
        // The cut-off is the store's: a row it held back here would otherwise be claimed (on
        // PostgreSQL) and kept from the other instances until its claim ends.
        let due = with_store(store, |store| {
            store.due_deliveries(clock.now(), Some(name), DUE_BATCH, created_before)
        })?;
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
        let configured: Vec<&str> = self.sink_names().collect();
        let orphans = with_store(store, |store| {
            store.orphaned_deliveries(clock.now(), &configured, DUE_BATCH)
        })?;
        let mut report = DeliveryReport::default();
        for delivery in &orphans {
            report.absorb(Self::retire(store, clock, delivery)?);
        }
        Ok(report)
    }

    fn retire(
        store: &Mutex<Store>,
        clock: &dyn Clock,
        delivery: &Delivery,
    ) -> Result<DeliveryReport, NotifyError> {
        let error = format!("sink `{}` is no longer configured", delivery.sink);
        tracing::warn!(sink = %delivery.sink, story = delivery.story_id, "{error}; delivery given up");
        with_store(store, |store| {
            store.record_delivery(
                delivery.id,
                &DeliveryUpdate::Dead {
                    error: error.clone(),
                },
                clock.now(),
            )
        })?;
        Ok(DeliveryReport {
            dead: 1,
            errors: vec![error],
            ..DeliveryReport::default()
        })
    }

    /// One sink's turn: settle what needs no request (too old, filtered), then send the rest
    /// one by one (or as digests), paced, recording each outcome as soon as it is known. After
    /// a transient failure the sink's other deliveries are deferred to the same retry time
    /// rather than each waiting out a timeout.
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
        let ready = settle(config, deliveries, store, clock, &mut report)?;
        // First messages before edits, so an edit finds its first message sent; only first
        // messages make digests.
        let (news, edits): (Vec<Ready>, Vec<Ready>) =
            ready.into_iter().partition(|r| r.edit.is_none());
        let digest = config.digest && news.len() > DIGEST_AFTER;
        let mut queue: VecDeque<Ready> = news.into_iter().chain(edits).collect();
        while !queue.is_empty() {
            let wait = sink.reserve();
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            let Some(unit) = next_unit(config, &mut queue, digest, clock.now()) else {
                break;
            };
            // Marked before it is sent, in its own commit: a merge that comes after cannot
            // cancel a message that may reach the receiver, and one that came before (since
            // this pass read the outbox) keeps it from being sent.
            let ids: Vec<i64> = unit.readies.iter().map(|r| r.delivery.id).collect();
            let live = with_store(store, |store| store.start_attempt(&ids, clock.now()))?;
            if live.len() < ids.len() {
                tracing::debug!(sink = %config.name, "a story was merged away before its message went out; not sent");
                for ready in unit.readies.into_iter().rev() {
                    if live.contains(&ready.delivery.id) {
                        queue.push_front(ready);
                    }
                }
                continue;
            }
            let verdict = match &unit.built {
                Err(error) => Verdict::Permanent {
                    error: error.to_string(),
                },
                Ok(built) => self.send(sink, &built.outgoing, clock).await,
            };
            // Recorded before anything else is sent: this is what makes a crash repeat at most
            // the request in flight.
            let paused = record(config, &unit.readies, &verdict, store, clock, metrics)?;
            report.absorb(paused.report);
            if let Some((at, error)) = paused.retry {
                report.absorb(defer(config, queue.drain(..), at, &error, store, clock)?);
                break;
            }
        }
        Ok(report)
    }

    /// Sends one request and reads the answer the way its service means it.
    async fn send(&self, sink: &Sink, outgoing: &Outgoing, clock: &dyn Clock) -> Verdict {
        match self.exchange(outgoing).await {
            Exchange::Answered {
                status,
                headers,
                body,
            } => {
                sink.hold_from(&headers);
                match retry::classify(sink.config.kind, status, &headers, &body, clock.now()) {
                    Verdict::Delivered { .. } => {
                        match (wire::service(sink.config.kind).receipt)(&sink.config, &body) {
                            Ok(remote_id) => Verdict::Delivered { remote_id },
                            Err(refusal) if refusal.transient => Verdict::Retry {
                                not_before: None,
                                rate_limited: false,
                                error: refusal.error,
                            },
                            Err(refusal) => Verdict::Permanent {
                                error: refusal.error,
                            },
                        }
                    }
                    other => other,
                }
            }
            Exchange::Failed(error) => Verdict::Retry {
                not_before: None,
                rate_limited: false,
                error,
            },
            Exchange::Unsendable(error) => Verdict::Permanent { error },
        }
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
        let built = wire::build(&sink.config, &Payload::Test(&message), &key, now)?;
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
            Method::Patch => self.client.patch(url),
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
        let too_slow = || {
            Exchange::Failed(format!(
                "{url}: no complete response within {}",
                humantime::format_duration(REQUEST_DEADLINE)
            ))
        };
        // reqwest's errors name the whole URL, which for Slack and Discord is the credential:
        // they are reported without it, after the redacted one.
        match tokio::time::timeout(REQUEST_DEADLINE, exchange)
            .await
            .map(|result| result.map_err(reqwest::Error::without_url))
        {
            Ok(Ok(answered)) => answered,
            Ok(Err(error)) if error.is_timeout() => too_slow(),
            Ok(Err(error)) if error.is_builder() => {
                Exchange::Unsendable(format!("{url}: {}", error_chain(&error)))
            }
            Ok(Err(error)) => Exchange::Failed(format!("{url}: {}", error_chain(&error))),
            Err(_) => too_slow(),
        }
    }
}

/// Settles what needs no request (past `max_age`, story gone, filtered out, an edit with
/// nothing to edit or still waiting for its first message) and returns the rest with their
/// messages, made from each story as it is now: mirrors that joined during the hold are in it.
fn settle(
    config: &NotifyConfig,
    deliveries: Vec<Delivery>,
    store: &Mutex<Store>,
    clock: &dyn Clock,
    report: &mut DeliveryReport,
) -> Result<Vec<Ready>, NotifyError> {
    let mut ready = Vec::new();
    for delivery in deliveries {
        let now = clock.now();
        if now >= retry::deadline(config, &delivery) {
            let error = format!(
                "not delivered within max_age ({})",
                humantime::format_duration(config.max_age)
            );
            report.errors.push(format!(
                "{}: story {}: {error}",
                config.name, delivery.story_id
            ));
            with_store(store, |store| {
                store.record_delivery(delivery.id, &DeliveryUpdate::Dead { error }, now)
            })?;
            report.dead += 1;
            continue;
        }
        let story = with_store(store, |store| store.story(&delivery.story_id.to_string()))?;
        let merged_away = story.as_ref().is_some_and(|s| s.id != delivery.story_id);
        let points_on = delivery
            .changes
            .iter()
            .any(|c| matches!(c, StoryChange::MergedInto { .. }));
        // A first message of a story merged away is still pending only when an attempt of it
        // may have reached the receiver (the merge spared it): it goes again under its key,
        // and the edit pointing at the survivor follows it. Any other row of such a story was
        // cancelled by the merge, or is caught by `start_attempt` before it is sent.
        if merged_away && delivery.kind == DeliveryKind::Update && !points_on {
            tracing::debug!(sink = %config.name, story = delivery.story_id, "story was merged; skipped");
            continue;
        }
        let Some(mut message) = story.as_ref().and_then(Message::from_story) else {
            let error = format!("story {} has no items left", delivery.story_id);
            with_store(store, |store| {
                store.record_delivery(delivery.id, &DeliveryUpdate::Dead { error }, now)
            })?;
            report.dead += 1;
            continue;
        };
        if merged_away && delivery.kind == DeliveryKind::New {
            // Sent again because it may have reached the receiver before the merge: under the
            // id the receiver knows the story by, showing the story it is part of now.
            message.story_id.clone_from(&delivery.atom_id);
        }
        let edit = match (delivery.kind, &delivery.first) {
            (DeliveryKind::New, _) => {
                if !merged_away && !message::wanted(config, &message) {
                    tracing::debug!(sink = %config.name, story = %message.story_id, "filtered out");
                    with_store(store, |store| {
                        store.record_delivery(delivery.id, &DeliveryUpdate::Filtered, now)
                    })?;
                    report.filtered += 1;
                    continue;
                }
                None
            }
            (DeliveryKind::Update, Some(FirstMessage::Pending { due })) => {
                // An edit cannot overtake the message it edits, nor an earlier edit.
                let update = DeliveryUpdate::Defer {
                    at: retry::clamp_retry(config, &delivery, (*due).max(now), now),
                    reason: "waiting for the story's first message (or an earlier edit) to be acknowledged"
                        .into(),
                };
                with_store(store, |store| {
                    store.record_delivery(delivery.id, &update, now)
                })?;
                report.deferred += 1;
                continue;
            }
            (DeliveryKind::Update, Some(FirstMessage::Delivered { remote_id }))
                if remote_id.is_some() || !wire::service(config.kind).edits =>
            {
                Some(Edit {
                    remote_id: remote_id.clone(),
                    merged_away: merged_away.then(|| delivery.atom_id.clone()),
                })
            }
            (DeliveryKind::Update, _) => {
                // The first message was never sent (dead, filtered), or went out in a digest
                // or before its id was kept: there is nothing to edit.
                tracing::debug!(sink = %config.name, story = delivery.story_id, "nothing to edit; update dropped");
                with_store(store, |store| {
                    store.record_delivery(delivery.id, &DeliveryUpdate::Filtered, now)
                })?;
                report.filtered += 1;
                continue;
            }
        };
        ready.push(Ready {
            delivery,
            message,
            edit,
        });
    }
    Ok(ready)
}

/// Takes the next unit off the queue: one story, or (for a digest sink) as many as one digest
/// message holds, under a key derived from theirs.
fn next_unit(
    config: &NotifyConfig,
    queue: &mut VecDeque<Ready>,
    digest: bool,
    now: DateTime<Utc>,
) -> Option<Unit> {
    if !digest || queue.front()?.edit.is_some() {
        let ready = queue.pop_front()?;
        let built = match &ready.edit {
            None => wire::build(
                config,
                &Payload::Story(&ready.message),
                &ready.delivery.idempotency_key,
                now,
            ),
            Some(edit) => {
                let update = wire::Update {
                    message: &ready.message,
                    changes: &ready.delivery.changes,
                    revision: ready.delivery.revision,
                    remote_id: edit.remote_id.as_deref(),
                    merged_away: edit.merged_away.as_deref(),
                };
                wire::build(
                    config,
                    &Payload::Update(&update),
                    &ready.delivery.idempotency_key,
                    now,
                )
            }
        };
        return Some(Unit {
            built,
            readies: vec![ready],
        });
    }
    let messages: Vec<Message> = queue
        .iter()
        .take_while(|r| r.edit.is_none())
        .map(|r| r.message.clone())
        .collect();
    let probe = wire::build(config, &Payload::Digest(&messages), "", now);
    let take = probe
        .map_or(1, |b| b.included)
        .clamp(1, messages.len().max(1));
    let readies: Vec<Ready> = queue.drain(..take).collect();
    let built = match readies.as_slice() {
        [] => return None,
        [one] => wire::build(
            config,
            &Payload::Story(&one.message),
            &one.delivery.idempotency_key,
            now,
        ),
        many => {
            let keys: Vec<&str> = many
                .iter()
                .map(|r| r.delivery.idempotency_key.as_str())
                .collect();
            let key = digest_key(&keys);
            wire::build(config, &Payload::Digest(&messages[..many.len()]), &key, now)
        }
    };
    Some(Unit { built, readies })
}

/// What recording a unit's outcome leaves for the rest of the pass.
struct Recorded {
    report: DeliveryReport,
    /// Set by a transient failure: the rest of this pass waits for the same retry time.
    retry: Option<(DateTime<Utc>, String)>,
}

/// Records the outcome of one unit for each delivery it carried.
fn record(
    config: &NotifyConfig,
    unit: &[Ready],
    verdict: &Verdict,
    store: &Mutex<Store>,
    clock: &dyn Clock,
    metrics: Option<&Metrics>,
) -> Result<Recorded, NotifyError> {
    let now = clock.now();
    let titles = unit
        .iter()
        .map(|r| r.message.title.as_str())
        .collect::<Vec<_>>()
        .join(" | ");
    let mut report = DeliveryReport::default();
    let mut retry = None;
    let count = |delivered: bool| {
        if let Some(metrics) = metrics {
            metrics.record_notification(&config.name, delivered);
        }
    };
    match verdict {
        Verdict::Delivered { remote_id } => {
            for ready in unit {
                // The id names this story's message only when the message was this story's
                // alone; an edit's answer names the message it edited, already kept.
                let own = unit.len() == 1 && ready.delivery.kind == DeliveryKind::New;
                let update = DeliveryUpdate::Delivered {
                    remote_id: remote_id.clone().filter(|_| own),
                    generation: ready.delivery.generation,
                };
                with_store(store, |store| {
                    store.record_delivery(ready.delivery.id, &update, now)
                })?;
                count(true);
            }
            report.delivered += unit.len();
            match unit {
                [
                    Ready {
                        edit: Some(_),
                        delivery,
                        ..
                    },
                ] => {
                    tracing::info!(sink = %config.name, title = %titles, revision = delivery.revision, "story update sent");
                }
                _ => {
                    tracing::info!(sink = %config.name, stories = unit.len(), title = %titles, "notified");
                }
            }
        }
        Verdict::Retry {
            not_before,
            rate_limited,
            error,
        } => {
            let Some(first) = unit.first() else {
                return Ok(Recorded { report, retry });
            };
            let at = retry::retry_at(&first.delivery, *not_before, *rate_limited, now);
            for ready in unit {
                // A hair later than the deferred ones, so the next pass tries another story
                // first: one poisoned message cannot hold up a whole sink.
                let mine = retry::clamp_retry(
                    config,
                    &ready.delivery,
                    at + chrono::Duration::milliseconds(1),
                    now,
                );
                let update = DeliveryUpdate::Retry {
                    at: mine,
                    error: error.clone(),
                };
                with_store(store, |store| {
                    store.record_delivery(ready.delivery.id, &update, now)
                })?;
                count(false);
            }
            report.failed += unit.len();
            report.errors.push(format!(
                "{}: {titles}: {error}; retrying at {at}",
                config.name
            ));
            tracing::warn!(sink = %config.name, title = %titles, %error, retry_at = %at, "notification failed; will retry");
            retry = Some((at, error.clone()));
        }
        Verdict::Permanent { error } => {
            for ready in unit {
                let update = DeliveryUpdate::Dead {
                    error: error.clone(),
                };
                with_store(store, |store| {
                    store.record_delivery(ready.delivery.id, &update, now)
                })?;
                count(false);
            }
            report.dead += unit.len();
            report
                .errors
                .push(format!("{}: {titles}: {error}; given up", config.name));
            tracing::error!(sink = %config.name, title = %titles, %error, "notification refused for good; given up");
        }
    }
    Ok(Recorded { report, retry })
}

/// Defers the rest of a sink's queue to the retry time of the failure that paused it.
fn defer(
    config: &NotifyConfig,
    rest: impl Iterator<Item = Ready>,
    at: DateTime<Utc>,
    error: &str,
    store: &Mutex<Store>,
    clock: &dyn Clock,
) -> Result<DeliveryReport, NotifyError> {
    let now = clock.now();
    let mut report = DeliveryReport::default();
    for ready in rest {
        let update = DeliveryUpdate::Defer {
            at: retry::clamp_retry(config, &ready.delivery, at, now),
            reason: format!("deferred after a failure of this sink: {error}"),
        };
        with_store(store, |store| {
            store.record_delivery(ready.delivery.id, &update, now)
        })?;
        report.deferred += 1;
    }
    Ok(report)
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

    #[test]
    fn digest_keys_depend_on_the_deliveries_and_their_order() {
        assert_eq!(digest_key(&["a", "b"]), digest_key(&["a", "b"]));
        assert_ne!(digest_key(&["a", "b"]), digest_key(&["b", "a"]));
        assert_ne!(digest_key(&["ab"]), digest_key(&["a", "b"]));
        assert_eq!(digest_key(&["a"]).len(), 32);
    }
}
