//! One poll cycle over every feed: fetch and parse concurrently, ingest one feed at a time,
//! then write the merged feed.
//!
//! Design decision: a feed's failure is a value ([`FeedOutcome`]), logged and summarised, never
//! an error that stops the cycle; only the store failing stops it, since then nothing can be
//! recorded at all.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::clock::Clock;
use crate::config::{Config, FeedConfig};
use crate::emit::{self, FeedMeta};
use crate::fetch::{FetchOutcome, Fetcher, Validators};
use crate::ingest::{self, IngestContext, IngestSummary};
use crate::model::Role;
use crate::normalize::{self, ParsedFeed};
use crate::schedule::{self, PollHints};
use crate::store::{PollState, SourceRecord, Store, StoreError, WriteTx};

/// Feeds fetched at once. Bounded so a long feed list does not open hundreds of sockets.
const CONCURRENT_FETCHES: usize = 16;

/// Consecutive polls that must see the same permanent redirect before the feed is polled at
/// its new address: one stray 301 from a misconfigured server must not lose a feed.
const MOVE_AFTER_POLLS: u32 = 3;

/// How long a finished poll may wait to share a commit with others.
const COALESCE_WRITES: Duration = Duration::from_millis(200);

/// The most polls, and parsed items, written in one transaction: bounds what a crash throws
/// away (it is all fetched again) and the memory held by items waiting to be stored.
const MAX_WRITE_BATCH: usize = 256;
const MAX_WRITE_ITEMS: usize = 1000;

/// Feeds fetched at once from one host. Substack serves thousands of newsletters from a few
/// hosts; being polite there is what keeps us from being rate limited.
const CONCURRENT_FETCHES_PER_HOST: usize = 2;

#[derive(Debug, Error)]
pub enum PollError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the merged feed to {path}: {source}")]
    WriteOutput {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How one feed's poll ended.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedOutcome {
    Ingested(IngestSummary),
    NotModified,
    /// Not asked this cycle: the server's Retry-After or our error backoff has not passed.
    Skipped {
        until: DateTime<Utc>,
    },
    /// Not asked: the feed answered 410 Gone before.
    SkippedGone,
    RateLimited {
        until: Option<DateTime<Utc>>,
    },
    Gone,
    Failed(String),
}

impl FeedOutcome {
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            FeedOutcome::Failed(_) | FeedOutcome::Gone | FeedOutcome::RateLimited { .. }
        )
    }
}

impl std::fmt::Display for FeedOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedOutcome::Ingested(s) => write!(
                f,
                "{} new items, {} updated, {} new stories",
                s.new_items, s.updated_items, s.new_stories
            ),
            FeedOutcome::NotModified => f.write_str("not modified"),
            FeedOutcome::Skipped { until } => write!(f, "skipped: backing off until {until}"),
            FeedOutcome::SkippedGone => f.write_str("skipped: the feed answered 410 Gone earlier"),
            FeedOutcome::RateLimited { until: Some(until) } => {
                write!(f, "rate limited; not asking again before {until}")
            }
            FeedOutcome::RateLimited { until: None } => {
                f.write_str("rate limited, without a usable Retry-After; backing off")
            }
            FeedOutcome::Gone => f.write_str("410 Gone; it will not be polled again"),
            FeedOutcome::Failed(error) => f.write_str(error),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FeedReport {
    pub name: String,
    pub outcome: FeedOutcome,
    pub elapsed: Duration,
    /// After this poll: when the feed last answered, and how many polls in a row failed.
    /// (Not the whole poll state: a cycle keeps one report per feed.)
    pub last_success_at: Option<DateTime<Utc>>,
    pub consecutive_errors: u32,
}

/// Which feeds a cycle asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Every feed (`tributary poll`, and the daemon at start-up). With `force`, feeds in
    /// backoff are asked anyway; 410 Gone feeds never are.
    All { force: bool },
    /// Only feeds whose next due time has come (the daemon on schedule).
    Due,
}

#[derive(Debug, Clone, Default)]
pub struct CycleReport {
    pub feeds: Vec<FeedReport>,
    /// Whether any item was added or changed, so the outputs need rewriting.
    pub changed: bool,
}

impl CycleReport {
    /// One line for people: what happened across the cycle.
    pub fn summary(&self, stories_written: usize) -> String {
        let mut totals = IngestSummary::default();
        let (mut ok, mut unchanged, mut skipped, mut failed) = (0, 0, 0, 0);
        for feed in &self.feeds {
            match &feed.outcome {
                FeedOutcome::Ingested(s) => {
                    ok += 1;
                    totals.new_items += s.new_items;
                    totals.updated_items += s.updated_items;
                    totals.new_stories += s.new_stories;
                    totals.joined_stories += s.joined_stories;
                }
                FeedOutcome::NotModified => unchanged += 1,
                FeedOutcome::Skipped { .. } | FeedOutcome::SkippedGone => skipped += 1,
                _ => failed += 1,
            }
        }
        format!(
            "{} feeds: {ok} fetched, {unchanged} unchanged, {skipped} skipped, {failed} failed; \
             {} new items ({} joined existing stories), {} updated, {} new stories; \
             {} stories in the merged feed",
            self.feeds.len(),
            totals.new_items,
            totals.joined_stories,
            totals.updated_items,
            totals.new_stories,
            stories_written,
        )
    }
}

/// What a fetch and parse produced, before anything is stored.
enum Fetched {
    Parsed {
        parsed: ParsedFeed,
        validators: Validators,
        max_age: Option<Duration>,
        moved: Option<url::Url>,
    },
    NotModified {
        validators: Validators,
        max_age: Option<Duration>,
        moved: Option<url::Url>,
    },
    RateLimited(Option<DateTime<Utc>>),
    Gone,
    Failed(String),
}

/// Polls the selected feeds once, ingests what changed and rewrites the merged feed.
/// `on_feed` hears about each feed as soon as it is recorded (metrics, watchdog progress).
pub async fn run_cycle(
    config: &Config,
    store: &mut Store,
    fetcher: &Fetcher,
    clock: &dyn Clock,
    context: &IngestContext,
    selection: Selection,
    on_feed: &mut dyn FnMut(&FeedReport),
) -> Result<CycleReport, PollError> {
    store.sync_sources(&config.feeds)?;
    let mut sources: std::collections::HashMap<String, SourceRecord> = store
        .sources()?
        .into_iter()
        .map(|source| (source.name.clone(), source))
        .collect();
    let cycle_started = clock.now();

    let mut report = CycleReport::default();
    let mut due = Vec::new();
    for feed in &config.feeds {
        let Some(source) = sources.remove(&feed.name) else {
            continue;
        };
        match select(&source, selection, cycle_started) {
            Ok(()) => due.push((feed, source)),
            Err(Some(outcome)) => {
                if let FeedOutcome::Skipped { until } = &outcome {
                    tracing::info!(feed = %feed.name, %until, "skipped: backing off");
                }
                let skipped = FeedReport {
                    name: feed.name.clone(),
                    outcome,
                    elapsed: Duration::ZERO,
                    last_success_at: source.state.last_success_at,
                    consecutive_errors: source.state.consecutive_errors,
                };
                on_feed(&skipped);
                report.feeds.push(skipped);
            }
            Err(None) => {}
        }
    }

    // Each fetch and parse is a task of its own, so they go on while this task writes; the
    // set aborts whatever is still running if the cycle is dropped (shutdown).
    let hosts = HostLimits::default();
    let parsers = std::sync::Arc::new(tokio::sync::Semaphore::new(
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
    ));
    // Mirrors are stored after the cycle's origins, so a mirror meets the work it is about
    // already stored: some evidence (a quotation, a title inside a title) is looked up from
    // the mirror's side only.
    let mut origins_running = due
        .iter()
        .filter(|(feed, _)| feed.role == Role::Origin)
        .count();
    let mut held = Vec::new();
    let mut waiting = due.into_iter();
    let mut running = tokio::task::JoinSet::new();
    let mut names = std::collections::HashMap::new();
    let mut start_next = |running: &mut tokio::task::JoinSet<_>| {
        let (feed, source) = waiting.next()?;
        let url = source
            .fetch_url()
            .parse::<url::Url>()
            .unwrap_or_else(|_| feed.url.clone());
        let host = hosts.for_url(&url);
        let parsers = std::sync::Arc::clone(&parsers);
        let fetcher = fetcher.clone();
        let feed = feed.clone();
        let now = clock.now();
        let name = feed.name.clone();
        let feed_role = feed.role;
        let task = running.spawn(async move {
            let started = Instant::now();
            let fetched =
                fetch_and_parse(&fetcher, &url, &feed, &source, &host, &parsers, now).await;
            (feed, source, fetched, started)
        });
        Some((task.id(), (name, feed_role)))
    };
    for _ in 0..CONCURRENT_FETCHES {
        names.extend(start_next(&mut running));
    }

    let mut polled = Vec::new();
    let mut oldest: Option<Instant> = None;
    loop {
        // Finished polls wait a little for company: a commit per feed would cost more than a
        // 304 or a new item (each commit rewrites every index page it touched).
        let next = match oldest {
            Some(oldest) => {
                tokio::time::timeout_at((oldest + COALESCE_WRITES).into(), running.join_next())
                    .await
                    .ok()
            }
            None => Some(running.join_next().await),
        };
        let finished = matches!(next, Some(None));
        let mut ready: Vec<_> = next.flatten().into_iter().collect();
        while let Some(more) = running.try_join_next() {
            ready.push(more);
        }
        for joined in ready {
            names.extend(start_next(&mut running));
            match joined {
                Ok((feed, source, fetched, started)) => {
                    if feed.role == Role::Origin {
                        origins_running -= 1;
                        polled.push((feed, source, fetched, started));
                    } else {
                        held.push((feed, source, fetched, started));
                    }
                }
                // A panic outside the parser's own guard: that feed is not recorded this cycle.
                Err(error) => {
                    let (name, role) = names
                        .get(&error.id())
                        .map_or(("?", Role::Mirror), |(name, role)| (name.as_str(), *role));
                    if role == Role::Origin {
                        origins_running -= 1;
                    }
                    tracing::error!(feed = name, %error, "poll task failed");
                }
            }
        }
        if origins_running == 0 {
            polled.append(&mut held);
        }
        if !polled.is_empty() {
            oldest.get_or_insert_with(Instant::now);
        }
        let pending_items: usize = polled
            .iter()
            .map(|(_, _, fetched, _)| match fetched {
                Fetched::Parsed { parsed, .. } => parsed.items.len(),
                _ => 0,
            })
            .sum();
        let write_now = finished
            || oldest.is_some_and(|oldest| oldest.elapsed() >= COALESCE_WRITES)
            || polled.len() >= MAX_WRITE_BATCH
            || pending_items >= MAX_WRITE_ITEMS;
        if write_now && !polled.is_empty() {
            let recorded =
                blocking(|| record_batch(store, &polled, context, clock.now(), cycle_started))?;
            for ((feed, _, _, started), (outcome, state)) in polled.drain(..).zip(recorded) {
                let elapsed = started.elapsed();
                log_outcome(&feed.name, &outcome, elapsed);
                let feed_report = FeedReport {
                    name: feed.name,
                    outcome,
                    elapsed,
                    last_success_at: state.last_success_at,
                    consecutive_errors: state.consecutive_errors,
                };
                on_feed(&feed_report);
                report.feeds.push(feed_report);
            }
            oldest = None;
        }
        if finished {
            break;
        }
    }

    report.changed = report.feeds.iter().any(
        |f| matches!(&f.outcome, FeedOutcome::Ingested(s) if s.new_items + s.updated_items > 0),
    );
    report.feeds.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(report)
}

/// Whether a feed is asked this cycle: `Ok` to poll, `Err(Some)` to report it skipped,
/// `Err(None)` to pass over it silently (the scheduler's "not yet").
fn select(
    source: &SourceRecord,
    selection: Selection,
    now: DateTime<Utc>,
) -> Result<(), Option<FeedOutcome>> {
    let state = &source.state;
    match selection {
        // The next due time already holds the schedule, the backoff and any Retry-After.
        Selection::Due if state.gone => Err(None),
        Selection::Due => match state.next_due_at {
            Some(due) if due > now => Err(None),
            _ => Ok(()),
        },
        Selection::All { .. } if state.gone => Err(Some(FeedOutcome::SkippedGone)),
        Selection::All { force } => {
            // The server's Retry-After, and our error backoff, hold unless forced.
            let backoff = state
                .retry_after
                .into_iter()
                .chain(
                    (state.consecutive_errors > 0)
                        .then_some(state.next_due_at)
                        .flatten(),
                )
                .max();
            match backoff {
                Some(until) if until > now && !force => Err(Some(FeedOutcome::Skipped { until })),
                _ => Ok(()),
            }
        }
    }
}

/// One semaphore per host, created on first use.
#[derive(Default)]
struct HostLimits {
    hosts: parking_lot::Mutex<
        std::collections::HashMap<String, std::sync::Arc<tokio::sync::Semaphore>>,
    >,
}

impl HostLimits {
    fn for_url(&self, url: &url::Url) -> std::sync::Arc<tokio::sync::Semaphore> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let mut hosts = self.hosts.lock();
        hosts
            .entry(host)
            .or_insert_with(|| {
                std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENT_FETCHES_PER_HOST))
            })
            .clone()
    }
}

async fn fetch_and_parse(
    fetcher: &Fetcher,
    url: &url::Url,
    feed: &FeedConfig,
    source: &SourceRecord,
    host: &tokio::sync::Semaphore,
    parsers: &tokio::sync::Semaphore,
    now: DateTime<Utc>,
) -> Fetched {
    let validators = Validators {
        etag: source.state.etag.clone(),
        last_modified: source.state.last_modified.clone(),
    };
    let fetched = {
        // The host's slot is held for the fetch only, not while the body waits to be parsed.
        let Ok(_slot) = host.acquire().await else {
            return Fetched::Failed(format!("{url}: the poll is shutting down"));
        };
        fetcher.fetch(url, &validators, now).await
    };
    match fetched {
        FetchOutcome::Fetched(body) => {
            let name = feed.name.clone();
            let final_url = body.final_url.clone();
            let bytes = body.body;
            // Parsing is CPU work on untrusted bytes: off the async runtime, and a panic in the
            // parser becomes this feed's error, not the daemon's.
            let seen = source.state.item_digests.clone();
            // As many parses at once as there are cores: more would not finish sooner, and
            // each holds its document's tree in memory meanwhile.
            let Ok(_slot) = parsers.acquire().await else {
                return Fetched::Failed(format!("{url}: the poll is shutting down"));
            };
            let parsed = tokio::task::spawn_blocking(move || {
                let mut parsed =
                    normalize::parse_feed_since(&bytes, &final_url, &name, now, &seen)?;
                // Here, on a parser thread, rather than on the one thread that writes.
                for item in &mut parsed.items {
                    item.sanitize_ahead();
                }
                Ok::<_, normalize::NormalizeError>(parsed)
            })
            .await;
            match parsed {
                Ok(Ok(parsed)) => Fetched::Parsed {
                    parsed,
                    validators: body.validators,
                    max_age: body.max_age,
                    moved: body.moved_permanently,
                },
                Ok(Err(error)) => Fetched::Failed(format!("{url}: {error}")),
                Err(join_error) => Fetched::Failed(format!("{url}: parser crashed: {join_error}")),
            }
        }
        FetchOutcome::NotModified {
            validators,
            max_age,
            moved_permanently,
        } => Fetched::NotModified {
            validators,
            max_age,
            moved: moved_permanently,
        },
        FetchOutcome::RateLimited { retry_after, .. } => Fetched::RateLimited(retry_after),
        FetchOutcome::Gone => Fetched::Gone,
        FetchOutcome::Failed(error) => Fetched::Failed(error.to_string()),
    }
}

/// Runs a blocking store write without stalling the runtime's other tasks (the fetches),
/// where the runtime has other workers to hand them to.
fn blocking<T>(write: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(write),
        _ => write(),
    }
}

/// Stores what the polls that are ready produced, in one write: one commit for the lot.
/// Returns each feed's outcome and new state, in the order given.
fn record_batch(
    store: &mut Store,
    polled: &[(FeedConfig, SourceRecord, Fetched, Instant)],
    context: &IngestContext,
    now: DateTime<Utc>,
    cycle_started: DateTime<Utc>,
) -> Result<Vec<(FeedOutcome, PollState)>, StoreError> {
    let tx = store.begin_write()?;
    let recorded = polled
        .iter()
        .map(|(feed, source, fetched, _)| {
            let (outcome, state) = record(&tx, feed, source, fetched, context, now, cycle_started)?;
            tx.save_poll_state(source.id, &state)?;
            Ok::<_, StoreError>((outcome, state))
        })
        .collect::<Result<Vec<_>, _>>()?;
    tx.commit()?;
    Ok(recorded)
}

/// Stores what one feed's poll produced and works out its new poll state (the caller saves
/// it in the same write).
fn record(
    tx: &WriteTx<'_>,
    feed: &FeedConfig,
    source: &SourceRecord,
    fetched: &Fetched,
    context: &IngestContext,
    now: DateTime<Utc>,
    cycle_started: DateTime<Utc>,
) -> Result<(FeedOutcome, PollState), StoreError> {
    let previous = &source.state;
    let mut state = PollState {
        last_attempt_at: Some(now),
        ..previous.clone()
    };
    // Only a stable per-feed value is used as jitter, so the schedule is reproducible.
    let jitter = (source.id.unsigned_abs() % 97) as f64 / 97.0;
    let finish = |state: &mut PollState| {
        let hints = PollHints {
            consecutive_errors: state.consecutive_errors,
            retry_after: state.retry_after,
            min_interval: state
                .min_interval
                .and_then(|d| chrono::Duration::from_std(d).ok()),
            gone: state.gone,
        };
        // From the cycle's start, not this feed's answer: feeds polled together stay together
        // (a slow answer must not push one feed past a tick the others are due at).
        state.next_due_at = schedule::next_due(&feed.schedule, cycle_started, hints, jitter);
    };

    match fetched {
        Fetched::Parsed {
            parsed,
            validators,
            max_age,
            moved,
        } => {
            follow_move(&feed.name, &mut state, moved.clone());
            let min_interval = (*max_age).into_iter().chain(parsed.ttl).max();
            state.etag = validators.etag.clone();
            state.last_modified = validators.last_modified.clone();
            state.last_status = Some("ok".into());
            state.last_success_at = Some(now);
            state.consecutive_errors = 0;
            state.retry_after = None;
            state.min_interval = min_interval;
            state.gone = false;
            state.backfilled = true;
            finish(&mut state);
            state.item_digests = parsed.item_digests.clone();
            let mut summary = ingest::ingest_feed(
                tx,
                source,
                parsed.title.as_deref(),
                &parsed.items,
                context,
                now,
            )?;
            summary.unchanged_items += parsed.unchanged_items;
            Ok((FeedOutcome::Ingested(summary), state))
        }
        Fetched::NotModified {
            validators,
            max_age,
            moved,
        } => {
            follow_move(&feed.name, &mut state, moved.clone());
            state.etag = validators.etag.clone().or(state.etag);
            state.last_modified = validators.last_modified.clone().or(state.last_modified);
            state.last_status = Some("not modified".into());
            state.last_success_at = Some(now);
            state.consecutive_errors = 0;
            state.retry_after = None;
            state.min_interval = max_age.or(state.min_interval);
            finish(&mut state);
            Ok((FeedOutcome::NotModified, state))
        }
        Fetched::RateLimited(until) => {
            state.last_status = Some("rate limited".into());
            state.last_error = Some(match until {
                Some(until) => format!("rate limited; server asked to wait until {until}"),
                None => "rate limited, without a usable Retry-After".into(),
            });
            state.last_error_at = Some(now);
            state.consecutive_errors = previous.consecutive_errors.saturating_add(1);
            state.retry_after = *until;
            finish(&mut state);
            Ok((FeedOutcome::RateLimited { until: *until }, state))
        }
        Fetched::Gone => {
            state.last_status = Some("gone".into());
            state.last_error = Some(format!(
                "{} answered 410 Gone; it will not be polled again until its URL changes",
                feed.url
            ));
            state.last_error_at = Some(now);
            state.gone = true;
            finish(&mut state);
            Ok((FeedOutcome::Gone, state))
        }
        Fetched::Failed(message) => {
            state.last_status = Some("error".into());
            state.last_error = Some(message.clone());
            state.last_error_at = Some(now);
            state.consecutive_errors = previous.consecutive_errors.saturating_add(1);
            finish(&mut state);
            Ok((FeedOutcome::Failed(message.clone()), state))
        }
    }
}

/// Counts consecutive polls that ended at the same permanent redirect; after
/// [`MOVE_AFTER_POLLS`] of them the feed is polled at its new address. Any poll without that
/// redirect starts the count again.
fn follow_move(name: &str, state: &mut PollState, moved: Option<url::Url>) {
    let Some(target) = moved.map(String::from) else {
        state.redirect_candidate = None;
        state.redirect_seen = 0;
        return;
    };
    if state.redirect_candidate.as_deref() == Some(target.as_str()) {
        state.redirect_seen = state.redirect_seen.saturating_add(1);
    } else {
        state.redirect_candidate = Some(target.clone());
        state.redirect_seen = 1;
    }
    if state.redirect_seen >= MOVE_AFTER_POLLS {
        tracing::info!(
            feed = name,
            to = %target,
            polls = state.redirect_seen,
            "feed moved permanently; polling its new address from now on"
        );
        state.moved_to = Some(target);
        state.redirect_candidate = None;
        state.redirect_seen = 0;
    } else {
        tracing::info!(
            feed = name,
            to = %target,
            polls = state.redirect_seen,
            needed = MOVE_AFTER_POLLS,
            "permanent redirect seen; the feed moves after {MOVE_AFTER_POLLS} polls in a row"
        );
    }
}

fn log_outcome(name: &str, outcome: &FeedOutcome, elapsed: Duration) {
    let ms = elapsed.as_millis() as u64;
    match outcome {
        FeedOutcome::Ingested(s) => tracing::info!(
            feed = name,
            status = "ok",
            new = s.new_items,
            updated = s.updated_items,
            unchanged = s.unchanged_items,
            new_stories = s.new_stories,
            joined = s.joined_stories,
            ms,
            "polled"
        ),
        // Most polls of a long feed list end here; the cycle summary counts them.
        FeedOutcome::NotModified => {
            tracing::debug!(feed = name, status = "not modified", ms, "polled")
        }
        FeedOutcome::RateLimited { until } => {
            tracing::warn!(feed = name, status = "rate limited", until = ?until, ms, "polled")
        }
        FeedOutcome::Gone => tracing::warn!(feed = name, status = "gone", ms, "polled"),
        FeedOutcome::Failed(error) => {
            tracing::warn!(feed = name, status = "error", %error, ms, "polled")
        }
        FeedOutcome::Skipped { .. } | FeedOutcome::SkippedGone => {}
    }
}

/// The outputs rendered from the stored stories.
pub struct Rendered {
    pub atom: Vec<u8>,
    pub json: Vec<u8>,
    pub opml: Vec<u8>,
    pub stories: usize,
}

/// Renders the merged feed (Atom, JSON Feed) and the feed list (OPML) from the store, and
/// rewrites the Atom file atomically when it changed.
pub fn publish(config: &Config, store: &Store, now: DateTime<Utc>) -> Result<Rendered, PollError> {
    let rendered = render(config, store, now)?;
    write_atom(config, &rendered.atom)?;
    Ok(rendered)
}

/// Rewrites only the Atom file (all `tributary poll` leaves behind); returns how many
/// stories it holds.
pub fn publish_atom(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<usize, PollError> {
    let stories = store.stories(config.output.max_entries)?;
    write_atom(config, &emit::atom(&stories, &feed_meta(config, now)))?;
    Ok(stories.len())
}

fn write_atom(config: &Config, atom: &[u8]) -> Result<(), PollError> {
    emit::write_if_changed(&config.output.atom_path, atom).map_err(|source| {
        PollError::WriteOutput {
            path: config.output.atom_path.clone(),
            source,
        }
    })?;
    Ok(())
}

/// Renders the outputs from the store without writing anything.
pub fn render(config: &Config, store: &Store, now: DateTime<Utc>) -> Result<Rendered, StoreError> {
    let stories = store.stories(config.output.max_entries)?;
    let meta = feed_meta(config, now);
    Ok(Rendered {
        atom: emit::atom(&stories, &meta),
        json: emit::json_feed(&stories, &meta),
        opml: emit::opml(&config.feeds, &config.output.title),
        stories: stories.len(),
    })
}

fn feed_meta(config: &Config, now: DateTime<Utc>) -> FeedMeta {
    FeedMeta {
        title: config.output.title.clone(),
        base_url: config.server.base_url.clone(),
        generated_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_moves_only_after_the_same_permanent_redirect_on_several_polls() {
        let target = url::Url::parse("https://new.example/feed").expect("url");
        let other = url::Url::parse("https://elsewhere.example/feed").expect("url");
        let mut state = PollState::default();
        follow_move("a", &mut state, Some(target.clone()));
        follow_move("a", &mut state, Some(target.clone()));
        assert_eq!(state.moved_to, None);
        // A different target, or a poll without the redirect, starts the count again.
        follow_move("a", &mut state, Some(other));
        assert_eq!(state.redirect_seen, 1);
        follow_move("a", &mut state, None);
        assert_eq!(state.redirect_seen, 0);
        for _ in 0..MOVE_AFTER_POLLS {
            follow_move("a", &mut state, Some(target.clone()));
        }
        assert_eq!(state.moved_to.as_deref(), Some("https://new.example/feed"));
        assert_eq!(state.redirect_candidate, None);
    }
}
