//! One poll cycle over every feed: fetch and parse concurrently, ingest one feed at a time,
//! then write the merged feed.
//!
//! Design decision: a feed's failure is a value ([`FeedOutcome`]), logged and summarised, never
//! an error that stops the cycle; only the store failing stops it, since then nothing can be
//! recorded at all.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::{FutureExt, StreamExt};
use thiserror::Error;
use tokio_util::task::AbortOnDropHandle;

use crate::clock::Clock;
use crate::config::{Config, FeedConfig};
use crate::dedupe::OwnKeys;
use crate::fetch::{FetchOutcome, Fetched, Fetcher, Validators};
use crate::ingest::{self, IngestContext, IngestSummary};
use crate::model::Role;
use crate::normalize::{self, ParsedFeed};
use crate::schedule::{self, PollHints};
use crate::store::{FeedClaim, PollState, SourceRecord, Store, StoreError, WriteTx};
use crate::transcript::{self, Transcripts};

mod ahead;
mod parsers;

use ahead::{Claim, ParsedAhead};
use parsers::{Parsers, parse_slots};

/// Feeds fetched (and parsed) at once. Bounded so a long feed list does not open hundreds of
/// sockets.
const CONCURRENT_FETCHES: usize = 16;

/// Feeds a cycle starts beyond those it fetches at once, each waiting for a fetch slot. While
/// the cycle's task writes (one core, most of a cold poll), a slot that frees up goes to one of
/// these; without them fetching and parsing stopped once the feeds in flight were done, and
/// writes and parses took turns rather than sharing the two cores. What they hold parsed is
/// bounded by items, not feeds (`poll/ahead.rs`): about one write batch (below). A cold poll
/// of 1,000 feeds took 0.93 times as long and peaked 2 MB higher (docs/benchmarks.md,
/// "Fetching on during writes").
const FEEDS_AHEAD: usize = 32;

/// Consecutive polls that must see the same permanent redirect before the feed is polled at
/// its new address: one stray 301 from a misconfigured server must not lose a feed.
const MOVE_AFTER_POLLS: u32 = 3;

/// How long a finished poll may wait to share a commit with others.
const COALESCE_WRITES: Duration = Duration::from_millis(200);

/// The most polls, and parsed items, written in one transaction: bounds what a crash throws
/// away (it is all fetched again) and the memory held by items waiting to be stored. Half the
/// items of the 1,000 it was before feeds ran ahead of the writes, so that the batch written
/// and the feeds parsed meanwhile hold about what one batch held. Public so the benchmark
/// (`benches/harness.rs insert`) commits in the batches a cold poll does.
pub const MAX_WRITE_BATCH: usize = 256;
pub const MAX_WRITE_ITEMS: usize = 500;

/// Feeds fetched at once from one host. Substack serves thousands of newsletters from a few
/// hosts; being polite there is what keeps us from being rate limited.
const CONCURRENT_FETCHES_PER_HOST: usize = 2;

/// Why a cycle stopped: only the store failing stops one, since then nothing can be recorded.
#[derive(Debug, Error)]
pub enum PollError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Parsers(#[from] parsers::ParseError),
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

/// How a poll ended, in one word: the `outcome` label of the metrics and the columns of the
/// cycle summary. Declared in label order, so iteration renders alphabetically.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::EnumCount, strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
pub enum PollStatus {
    Error,
    Gone,
    NotModified,
    Ok,
    RateLimited,
    Skipped,
}

impl FeedOutcome {
    pub fn status(&self) -> PollStatus {
        match self {
            FeedOutcome::Ingested(_) => PollStatus::Ok,
            FeedOutcome::NotModified => PollStatus::NotModified,
            FeedOutcome::Skipped { .. } | FeedOutcome::SkippedGone => PollStatus::Skipped,
            FeedOutcome::RateLimited { .. } => PollStatus::RateLimited,
            FeedOutcome::Gone => PollStatus::Gone,
            FeedOutcome::Failed(_) => PollStatus::Error,
        }
    }

    pub fn is_failure(&self) -> bool {
        matches!(
            self.status(),
            PollStatus::Error | PollStatus::Gone | PollStatus::RateLimited
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

/// What a cycle did, in counts, with the failures named: a cycle over a long feed list must
/// not hold a report per feed (each feed is heard of once, through `on_feed`, as it is recorded).
#[derive(Debug, Clone, Default)]
pub struct CycleReport {
    /// How many feeds' polls ended each way, indexed by [`PollStatus`].
    pub polls: [usize; <PollStatus as strum::EnumCount>::COUNT],
    /// What the polls that brought items changed, added up.
    pub totals: IngestSummary,
    /// The polls that failed (error, gone, rate limited), by name: what a person must see.
    pub failures: Vec<FeedReport>,
    /// Whether any item was added or changed, so the outputs need rewriting.
    pub changed: bool,
}

impl CycleReport {
    /// Counts one feed's poll; keeps it only if it failed.
    pub fn record(&mut self, feed: FeedReport) {
        self.polls[feed.outcome.status() as usize] += 1;
        if let FeedOutcome::Ingested(s) = &feed.outcome {
            self.totals.new_items += s.new_items;
            self.totals.updated_items += s.updated_items;
            self.totals.unchanged_items += s.unchanged_items;
            self.totals.new_stories += s.new_stories;
            self.totals.joined_stories += s.joined_stories;
            self.totals.notifications_queued += s.notifications_queued;
            self.totals.updates_queued += s.updates_queued;
            self.changed |= s.new_items + s.updated_items > 0;
        }
        if feed.outcome.is_failure() {
            self.failures.push(feed);
        }
    }

    /// How many feeds the cycle heard of, skipped ones included.
    pub fn feeds(&self) -> usize {
        self.polls.iter().sum()
    }

    /// One line for people: what happened across the cycle.
    /// `stories_written` is left out when the outputs were not rendered again (nothing
    /// changed).
    pub fn summary(&self, stories_written: Option<usize>) -> String {
        let count = |status: PollStatus| self.polls[status as usize];
        let failed =
            count(PollStatus::Error) + count(PollStatus::Gone) + count(PollStatus::RateLimited);
        let mut line = format!(
            "{} feeds: {} fetched, {} unchanged, {} skipped, {failed} failed; \
             {} new items ({} joined existing stories), {} updated, {} new stories",
            self.feeds(),
            count(PollStatus::Ok),
            count(PollStatus::NotModified),
            count(PollStatus::Skipped),
            self.totals.new_items,
            self.totals.joined_stories,
            self.totals.updated_items,
            self.totals.new_stories,
        );
        if let Some(stories) = stories_written {
            line.push_str(&format!("; {stories} stories in the merged feed"));
        }
        line
    }
}

/// What a feed's server answered, with the body parsed (or why it would not parse, in words
/// that name the URL): the fetch's own answer type, carried on to the store.
type Answer = FetchOutcome<Result<ParsedFeed, String>>;

/// One feed's finished fetch and parse, waiting to be stored.
struct Polled {
    /// Where the feed stands in the cycle's order (origins first, then the config's order).
    position: usize,
    /// The feed's place in the config's list: its `FeedConfig` is looked up, not copied.
    index: usize,
    source: SourceRecord,
    answer: Answer,
    /// The parsed items' own dedupe keys ([`ingest::keys_ahead`]); empty without items.
    own_keys: Vec<OwnKeys>,
    /// The transcripts its episodes' fetch brought, stored with its items.
    transcripts: Vec<transcript::Fetched>,
    started: Instant,
    /// Its items, counted as parsed ahead of the writes until the cycle takes it.
    ahead: Option<Claim>,
}

impl Polled {
    /// How many items its answer brought.
    fn items(&self) -> usize {
        match &self.answer {
            FetchOutcome::Fetched(Fetched {
                body: Ok(parsed), ..
            }) => parsed.items.len(),
            _ => 0,
        }
    }
}

/// Feeds whose poll state is read from the store at once: enough to keep the fetches busy
/// between reads, few enough that a cycle holds a few hundred feeds' states, not all of them.
const DUE_PAGE: usize = 256;

/// The feeds a cycle asks, read from the store a page at a time as the fetches need them:
/// origins first, then mirrors, each in the config's order.
///
/// Mirrors are stored after the cycle's origins, so a mirror meets the work it is about
/// already stored: some evidence (a quotation, a title inside a title) is looked up from the
/// mirror's side only. Origins are also asked first, so they are not kept waiting.
struct DueFeeds<'a> {
    feeds: &'a [FeedConfig],
    selection: Selection,
    cycle_started: DateTime<Utc>,
    /// The role whose feeds are being read; `None` once both have been.
    pass: Option<Role>,
    /// The next place in `feeds` to read from, in this pass.
    cursor: usize,
    /// Due feeds read and not yet claimed: (index in `feeds`, record).
    page: std::collections::VecDeque<(usize, SourceRecord)>,
    /// Feeds claimed and not yet handed out, claimed as the cycle starts feeds (at most
    /// [`FEEDS_AHEAD`] before a fetch slot is theirs) so that a lease starts close to its
    /// fetch.
    claimed: std::collections::VecDeque<(usize, SourceRecord)>,
    lease: Duration,
}

impl<'a> DueFeeds<'a> {
    fn new(
        feeds: &'a [FeedConfig],
        selection: Selection,
        cycle_started: DateTime<Utc>,
        lease: Duration,
    ) -> Self {
        DueFeeds {
            feeds,
            selection,
            cycle_started,
            pass: Some(Role::Origin),
            cursor: 0,
            page: std::collections::VecDeque::new(),
            claimed: std::collections::VecDeque::new(),
            lease,
        }
    }

    /// The next feed to ask, reading another page when this one is used up. A feed that is
    /// skipped is reported (to `report` and `on_feed`) as its page is read. On a store other
    /// instances share, a feed is asked only once claimed (at `now`); one another instance
    /// holds, or has polled since the page was read, is passed over silently.
    fn next(
        &mut self,
        store: &Store,
        now: DateTime<Utc>,
        report: &mut CycleReport,
        on_feed: &mut dyn FnMut(&FeedReport),
    ) -> Result<Option<(usize, SourceRecord)>, StoreError> {
        loop {
            if let Some(due) = self.claimed.pop_front() {
                return Ok(Some(due));
            }
            if !self.page.is_empty() {
                let batch: Vec<_> = self
                    .page
                    .drain(..self.page.len().min(CONCURRENT_FETCHES))
                    .collect();
                let claim = FeedClaim {
                    // A forced or start-up poll asks every feed, due or not: it still must
                    // not take one another instance is polling.
                    due_only: self.selection == Selection::Due,
                    now,
                    lease: self.lease,
                };
                self.claimed.extend(store.claim_feeds(batch, &claim)?);
                continue;
            }
            let Some(role) = self.pass else {
                return Ok(None);
            };
            let mut indices = Vec::with_capacity(DUE_PAGE);
            while indices.len() < DUE_PAGE && self.cursor < self.feeds.len() {
                if self.feeds[self.cursor].role == role {
                    indices.push(self.cursor);
                }
                self.cursor += 1;
            }
            if indices.is_empty() {
                self.pass = (role == Role::Origin).then_some(Role::Mirror);
                self.cursor = 0;
                continue;
            }
            let names: Vec<&str> = indices
                .iter()
                .map(|&i| self.feeds[i].name.as_str())
                .collect();
            for (index, source) in indices.into_iter().zip(store.sources_named(&names)?) {
                let Some(source) = source else { continue };
                match select(&source, self.selection, self.cycle_started) {
                    Ok(()) => self.page.push_back((index, source)),
                    Err(Some(outcome)) => {
                        if let FeedOutcome::Skipped { until } = &outcome {
                            tracing::info!(feed = %source.name, %until, "skipped: backing off");
                        }
                        let skipped = FeedReport {
                            name: source.name,
                            outcome,
                            elapsed: Duration::ZERO,
                            last_success_at: source.state.last_success_at,
                            consecutive_errors: source.state.consecutive_errors,
                        };
                        on_feed(&skipped);
                        report.record(skipped);
                    }
                    Err(None) => {}
                }
            }
        }
    }
}

/// A feed's fetch and parse, as a task of its own: it goes on while the cycle's task writes.
/// The handle aborts it if the cycle is dropped (shutdown).
type PollTask = AbortOnDropHandle<Polled>;

/// Polls the selected feeds once, ingests what changed and rewrites the merged feed.
/// `on_feed` hears about each feed as soon as it is recorded (metrics, watchdog progress).
///
/// What the cycle holds at once is bounded, not proportional to the feed list: a page of due
/// feeds' states, the polls in flight, the finished ones waiting for a write, and the report's
/// counts and failures. Each feed's data is dropped once its write has committed.
pub async fn run_cycle(
    config: &Config,
    store: &mut Store,
    fetcher: &Fetcher,
    clock: &dyn Clock,
    context: &IngestContext,
    selection: Selection,
    on_feed: &mut dyn FnMut(&FeedReport),
) -> Result<CycleReport, PollError> {
    let cycle = poll_selected(config, store, fetcher, clock, context, selection, on_feed).await;
    // Every feed recorded gave its lease up in its write; what is left was claimed and not
    // recorded (a poll task failed, or a write did and ended the cycle).
    if let Err(error) = store.release_leases() {
        tracing::warn!(%error, "cannot give up this cycle's leases; they end on their own");
    }
    cycle
}

async fn poll_selected(
    config: &Config,
    store: &mut Store,
    fetcher: &Fetcher,
    clock: &dyn Clock,
    context: &IngestContext,
    selection: Selection,
    on_feed: &mut dyn FnMut(&FeedReport),
) -> Result<CycleReport, PollError> {
    store.sync_sources(&config.feeds)?;
    let cycle_started = clock.now();

    let mut report = CycleReport::default();
    let mut due = DueFeeds::new(&config.feeds, selection, cycle_started, config.lease);

    // After each feed's own fetch and parse, in its task: bounded per feed (see `transcript`).
    let transcripts = Transcripts::new(
        &config.transcripts,
        &config.fetch,
        fetcher.clone(),
        store.target(),
    )?
    .map(std::sync::Arc::new);
    let hosts = HostLimits::default();
    let fetch_slots = std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENT_FETCHES));
    let parsed_ahead = ParsedAhead::new(MAX_WRITE_ITEMS);
    let parsers = std::sync::Arc::new(Parsers::start(parse_slots())?);
    let spawn = |position: usize, index: usize, source: SourceRecord| {
        let feed = &config.feeds[index];
        let role = feed.role;
        let configured = feed.url.url();
        let url = match &source.state.moved_to {
            Some(moved) => moved
                .parse::<url::Url>()
                .unwrap_or_else(|_| configured.clone()),
            None => configured.clone(),
        };
        let host = hosts.for_url(&url);
        let fetch_slots = std::sync::Arc::clone(&fetch_slots);
        let parsed_ahead = std::sync::Arc::clone(&parsed_ahead);
        let parsers = std::sync::Arc::clone(&parsers);
        let fetcher = fetcher.clone();
        // The configured address, which transcripts are cached under; only when they are on.
        let transcripts = transcripts
            .clone()
            .map(|transcripts| (transcripts, configured));
        let now = clock.now();
        let task: PollTask = AbortOnDropHandle::new(tokio::spawn(async move {
            let started = Instant::now();
            let turn = Turn {
                host: &host,
                fetch_slots: &fetch_slots,
                ahead: &parsed_ahead,
            };
            let (mut answer, own_keys, ahead) =
                fetch_and_parse(&fetcher, &url, &source, turn, &parsers, now).await;
            let transcripts = match (&transcripts, &mut answer) {
                (
                    Some((transcripts, feed_url)),
                    FetchOutcome::Fetched(Fetched {
                        body: Ok(parsed), ..
                    }),
                ) => transcripts.attach(feed_url, &mut parsed.items, now).await,
                _ => Vec::new(),
            };
            Polled {
                position,
                index,
                source,
                answer,
                own_keys,
                transcripts,
                started,
                ahead,
            }
        }));
        task.map(move |joined| (index, role, joined))
    };
    let mut polls = futures_util::stream::FuturesUnordered::new();
    let mut position = 0;
    // Origins asked and not yet finished: mirrors wait for them (see `DueFeeds`). Mirrors are
    // asked only once every origin has been, so none pending means none left to ask.
    let mut origins_pending = 0usize;

    let mut ready = Vec::new();
    let mut held_mirrors = Vec::new();
    // On a shared store, whether the other instances' origins are done too (see below).
    let mut fleet_origins_done = false;
    let mut oldest: Option<Instant> = None;
    // Starts feeds until as many are under way as the cycle allows.
    macro_rules! start_polls {
        () => {
            while polls.len() < CONCURRENT_FETCHES + FEEDS_AHEAD {
                let Some((index, source)) = due.next(store, clock.now(), &mut report, on_feed)?
                else {
                    break;
                };
                if config.feeds[index].role == Role::Origin {
                    origins_pending += 1;
                }
                polls.push(spawn(position, index, source));
                position += 1;
            }
        };
    }
    loop {
        start_polls!();
        // Finished polls wait a little for company: a commit per feed would cost more than a
        // 304 or a new item (each commit rewrites every index page it touched).
        let next = match oldest {
            Some(oldest) => {
                tokio::time::timeout_at((oldest + COALESCE_WRITES).into(), polls.next())
                    .await
                    .ok()
            }
            None => Some(polls.next().await),
        };
        let finished = matches!(next, Some(None));
        let mut joined: Vec<_> = next.flatten().into_iter().collect();
        // The finished polls are taken up to a write batch: the rest stay counted as parsed
        // ahead, which keeps more feeds from being fetched until they are taken.
        let joined_items =
            |(.., poll): &(_, _, Result<Polled, _>)| poll.as_ref().map_or(0, Polled::items);
        let mut taking: usize = ready.iter().map(Polled::items).sum::<usize>()
            + joined.iter().map(joined_items).sum::<usize>();
        while taking < MAX_WRITE_ITEMS && ready.len() + joined.len() < MAX_WRITE_BATCH {
            let Some(Some(more)) = polls.next().now_or_never() else {
                break;
            };
            taking += joined_items(&more);
            joined.push(more);
        }
        for (index, role, poll) in joined {
            if role == Role::Origin {
                origins_pending -= 1;
            }
            let taken = poll.map(|mut polled| {
                polled.ahead = None;
                polled
            });
            match taken {
                Ok(polled) if role == Role::Origin => ready.push(polled),
                Ok(polled) => held_mirrors.push(polled),
                // A panic outside the parser's own guard: that feed is not recorded this cycle.
                Err(error) => {
                    tracing::error!(feed = %config.feeds[index].name, %error, "poll task failed");
                }
            }
        }
        // On a shared store, the other instances' origins are waited for too, once: this
        // instance's own origins are written first (the others wait for them in turn).
        let wait_for_fleet = origins_pending == 0
            && !fleet_origins_done
            && !held_mirrors.is_empty()
            && store.is_shared()
            && config.feeds.iter().any(|feed| feed.role == Role::Origin);
        if origins_pending == 0 && !wait_for_fleet {
            ready.append(&mut held_mirrors);
        }
        if !ready.is_empty() {
            oldest.get_or_insert_with(Instant::now);
        }
        let pending_items: usize = ready.iter().map(Polled::items).sum();
        let write_now = finished
            || wait_for_fleet
            || oldest.is_some_and(|oldest| oldest.elapsed() >= COALESCE_WRITES)
            || ready.len() >= MAX_WRITE_BATCH
            || pending_items >= MAX_WRITE_ITEMS;
        if write_now && !ready.is_empty() {
            // The feeds just joined are replaced before the write, not after: they fetch
            // and parse while it runs.
            start_polls!();
            // Within a write, feeds go in the config's order rather than the order they
            // answered in: the same answers make the same stories however the network raced.
            ready.sort_by_key(|polled| polled.position);
            let recorded = blocking(|| {
                record_batch(
                    store,
                    &config.feeds,
                    &ready,
                    context,
                    clock.now(),
                    cycle_started,
                )
            })?;
            // Each feed's items, answer and state are dropped here, once committed.
            for (polled, (outcome, state)) in ready.drain(..).zip(recorded) {
                let elapsed = polled.started.elapsed();
                log_outcome(&polled.source.name, &outcome, elapsed);
                let feed_report = FeedReport {
                    name: polled.source.name,
                    outcome,
                    elapsed,
                    last_success_at: state.last_success_at,
                    consecutive_errors: state.consecutive_errors,
                };
                on_feed(&feed_report);
                report.record(feed_report);
            }
            oldest = None;
        }
        if wait_for_fleet {
            wait_for_fleet_origins(store, clock, cycle_started, config.lease).await?;
            fleet_origins_done = true;
            ready.append(&mut held_mirrors);
            oldest.get_or_insert_with(Instant::now);
        }
        if finished && ready.is_empty() {
            break;
        }
    }

    report.failures.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(report)
}

/// How often a cycle holding its mirrors back asks whether the other instances' origins are
/// done.
const FLEET_ORIGINS_POLL: Duration = Duration::from_millis(250);

/// Waits until no other instance is polling an origin feed of this round
/// ([`Store::origins_in_flight`]), for at most `lease`: by then a dead instance's leases have
/// ended, and an origin nobody polls (one only another instance's config lists) must not hold
/// this instance's mirrors for longer. Within one instance mirrors already wait for its own
/// origins; across instances this keeps a mirror from being stored before its work, which is
/// correct either way (the work folds the mirror in when it comes) but costs a read of the
/// window around each such mirror.
async fn wait_for_fleet_origins(
    store: &Store,
    clock: &dyn Clock,
    cycle_started: DateTime<Utc>,
    lease: Duration,
) -> Result<(), StoreError> {
    let deadline = Instant::now() + lease;
    let mut told = false;
    loop {
        let in_flight = store.origins_in_flight(cycle_started, clock.now())?;
        if in_flight == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                origins = in_flight,
                "mirrors no longer wait for origin feeds other instances hold or nobody polls"
            );
            return Ok(());
        }
        if !told {
            tracing::info!(
                origins = in_flight,
                "mirrors wait for the origin feeds other instances are polling"
            );
            told = true;
        }
        tokio::time::sleep(FLEET_ORIGINS_POLL).await;
    }
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

/// What a feed waits for before it fetches: its host's slot, one of the cycle's, and room
/// among the items parsed ahead of the writes.
struct Turn<'a> {
    host: &'a tokio::sync::Semaphore,
    fetch_slots: &'a tokio::sync::Semaphore,
    ahead: &'a std::sync::Arc<ParsedAhead>,
}

/// A feed's answer, its parsed items' own keys, and the claim that counts those items as
/// parsed ahead of the writes.
async fn fetch_and_parse(
    fetcher: &Fetcher,
    url: &url::Url,
    source: &SourceRecord,
    turn: Turn<'_>,
    parsers: &Parsers,
    now: DateTime<Utc>,
) -> (Answer, Vec<OwnKeys>, Option<Claim>) {
    let validators = Validators {
        etag: source.state.etag.clone(),
        last_modified: source.state.last_modified.clone(),
    };
    let shutting_down = || {
        FetchOutcome::Fetched(Fetched {
            body: Err(format!("{url}: the poll is shutting down")),
            final_url: url.clone(),
            content_type: None,
            validators: Validators::default(),
            max_age: None,
            moved_permanently: None,
        })
    };
    // The host's slot first, so that feeds waiting on a busy host hold none of the cycle's.
    // The host's is held for the fetch only; the cycle's until the body is parsed, which
    // bounds the documents parsed or waiting for a parser.
    let (answer, _fetch_slot) = {
        let (Ok(_host_slot), Ok(fetch_slot)) =
            (turn.host.acquire().await, turn.fetch_slots.acquire().await)
        else {
            return (shutting_down(), Vec::new(), None);
        };
        turn.ahead.room().await;
        (fetcher.fetch(url, &validators, now).await, fetch_slot)
    };
    let mut fetched = match answer.into_fetched() {
        Ok(fetched) => fetched,
        Err(other) => return (other, Vec::new(), None),
    };
    let name = source.name.clone();
    let final_url = fetched.final_url.clone();
    let bytes = std::mem::take(&mut fetched.body);
    let seen = source.state.item_digests.clone();
    // Parsing is CPU work on untrusted bytes: off the async runtime, and a panic in the parser
    // becomes this feed's error, not the daemon's.
    let parsed = parsers
        .run(move || {
            let mut parsed = normalize::parse_feed_since(&bytes, &final_url, &name, now, &seen)?;
            // Here, on a parser thread, rather than on the one thread that writes.
            for item in &mut parsed.items {
                item.sanitize_ahead();
            }
            let own_keys = ingest::keys_ahead(&parsed.items);
            Ok::<_, normalize::NormalizeError>((parsed, own_keys))
        })
        .await;
    let (body, own_keys) = match parsed {
        Ok(Ok((parsed, own_keys))) => (Ok(parsed), own_keys),
        Ok(Err(error)) => (Err(format!("{url}: {error}")), Vec::new()),
        Err(error) => (Err(format!("{url}: {error}")), Vec::new()),
    };
    let ahead = body
        .as_ref()
        .ok()
        .map(|parsed| turn.ahead.parsed(parsed.items.len()));
    (
        FetchOutcome::Fetched(fetched.with_body(body)),
        own_keys,
        ahead,
    )
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
    feeds: &[FeedConfig],
    ready: &[Polled],
    context: &IngestContext,
    now: DateTime<Utc>,
    cycle_started: DateTime<Utc>,
) -> Result<Vec<(FeedOutcome, PollState)>, StoreError> {
    let owner = store.instance().to_owned();
    let tx = store.begin_write()?;
    let recorded = ready
        .iter()
        .map(|polled| {
            let timing = Timing {
                now,
                cycle_started,
                jitter: jitter(&polled.source),
            };
            let feed = &feeds[polled.index];
            let state = next_state(feed, &polled.source.state, &polled.answer, timing);
            // Before the items: an item of a feed later in this write may meet these words.
            for fetched in &polled.transcripts {
                let words = fetched.words.as_deref().map_err(ToString::to_string);
                tx.record_transcript(&fetched.url, words, now)?;
            }
            let outcome = record(&tx, polled, context, now)?;
            if !tx.save_claimed_poll_state(polled.source.id, &state, &owner)? {
                tracing::warn!(
                    feed = %polled.source.name,
                    "the feed's lease ended and another instance polled it meanwhile; \
                     its poll state stands, and this poll's items were deduplicated against it"
                );
            }
            Ok::<_, StoreError>((outcome, state))
        })
        .collect::<Result<Vec<_>, _>>()?;
    tx.commit()?;
    Ok(recorded)
}

/// Stores what one feed's answer brought (its items, when it brought any) and says how the
/// poll ended.
fn record(
    tx: &WriteTx<'_>,
    polled: &Polled,
    context: &IngestContext,
    now: DateTime<Utc>,
) -> Result<FeedOutcome, StoreError> {
    Ok(match &polled.answer {
        FetchOutcome::Fetched(Fetched {
            body: Ok(parsed), ..
        }) => {
            let mut summary = ingest::ingest_feed_ahead(
                tx,
                &polled.source,
                parsed.title.as_deref(),
                &parsed.items,
                &polled.own_keys,
                context,
                now,
            )?;
            summary.unchanged_items += parsed.unchanged_items;
            FeedOutcome::Ingested(summary)
        }
        FetchOutcome::Fetched(Fetched {
            body: Err(message), ..
        }) => FeedOutcome::Failed(message.clone()),
        FetchOutcome::NotModified { .. } => FeedOutcome::NotModified,
        FetchOutcome::RateLimited { retry_after, .. } => FeedOutcome::RateLimited {
            until: *retry_after,
        },
        FetchOutcome::Gone => FeedOutcome::Gone,
        FetchOutcome::Failed(error) => FeedOutcome::Failed(error.to_string()),
    })
}

/// A stable per-feed value in [0, 1) that spreads feeds' backoffs apart, taken from the feed's
/// id so that the schedule is reproducible.
fn jitter(source: &SourceRecord) -> f64 {
    (source.id.unsigned_abs() % 97) as f64 / 97.0
}

/// The readings a poll state transition depends on besides the answer.
#[derive(Clone, Copy)]
struct Timing {
    now: DateTime<Utc>,
    /// The next due time counts from here, not from this feed's answer: feeds polled together
    /// stay together (a slow answer must not push one feed past a tick the others are due at).
    cycle_started: DateTime<Utc>,
    jitter: f64,
}

/// The poll state after an answer: a pure function of the state before, the answer and the
/// readings in `timing`, so that each transition is a row of a table test.
fn next_state(
    feed: &FeedConfig,
    previous: &PollState,
    answer: &Answer,
    timing: Timing,
) -> PollState {
    let mut state = PollState {
        last_attempt_at: Some(timing.now),
        ..previous.clone()
    };
    let succeeded = |state: &mut PollState, status: &str| {
        state.last_status = Some(status.into());
        state.last_success_at = Some(timing.now);
        state.consecutive_errors = 0;
        state.retry_after = None;
    };
    let failed = |state: &mut PollState, status: &str, error: String| {
        state.last_status = Some(status.into());
        state.last_error = Some(error);
        state.last_error_at = Some(timing.now);
    };
    match answer {
        FetchOutcome::Fetched(Fetched {
            body: Ok(parsed),
            validators,
            max_age,
            moved_permanently,
            ..
        }) => {
            follow_move(&feed.name, &mut state, moved_permanently.clone());
            succeeded(&mut state, "ok");
            state.etag.clone_from(&validators.etag);
            state.last_modified.clone_from(&validators.last_modified);
            state.min_interval = (*max_age).into_iter().chain(parsed.ttl).max();
            state.gone = false;
            state.backfilled = true;
            state.item_digests.clone_from(&parsed.item_digests);
        }
        FetchOutcome::NotModified {
            validators,
            max_age,
            moved_permanently,
        } => {
            follow_move(&feed.name, &mut state, moved_permanently.clone());
            succeeded(&mut state, "not modified");
            state.etag = validators.etag.clone().or(state.etag);
            state.last_modified = validators.last_modified.clone().or(state.last_modified);
            state.min_interval = max_age.or(state.min_interval);
        }
        FetchOutcome::RateLimited { retry_after, .. } => {
            let error = match retry_after {
                Some(until) => format!("rate limited; server asked to wait until {until}"),
                None => "rate limited, without a usable Retry-After".into(),
            };
            failed(&mut state, "rate limited", error);
            state.consecutive_errors = previous.consecutive_errors.saturating_add(1);
            state.retry_after = *retry_after;
        }
        FetchOutcome::Gone => {
            let error = format!(
                "{} answered 410 Gone; it will not be polled again until its URL changes",
                feed.url
            );
            failed(&mut state, "gone", error);
            state.gone = true;
        }
        FetchOutcome::Fetched(Fetched {
            body: Err(message), ..
        }) => {
            failed(&mut state, "error", message.clone());
            state.consecutive_errors = previous.consecutive_errors.saturating_add(1);
        }
        FetchOutcome::Failed(error) => {
            failed(&mut state, "error", error.to_string());
            state.consecutive_errors = previous.consecutive_errors.saturating_add(1);
        }
    }
    let hints = PollHints {
        consecutive_errors: state.consecutive_errors,
        retry_after: state.retry_after,
        min_interval: state
            .min_interval
            .and_then(|d| chrono::Duration::from_std(d).ok()),
        gone: state.gone,
    };
    state.next_due_at =
        schedule::next_due(&feed.schedule, timing.cycle_started, hints, timing.jitter);
    state
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
    let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
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
            tracing::debug!(feed = name, status = "not modified", ms, "polled");
        }
        FeedOutcome::RateLimited { until } => {
            tracing::warn!(feed = name, status = "rate limited", until = ?until, ms, "polled");
        }
        FeedOutcome::Gone => tracing::warn!(feed = name, status = "gone", ms, "polled"),
        FeedOutcome::Failed(error) => {
            tracing::warn!(feed = name, status = "error", %error, ms, "polled");
        }
        FeedOutcome::Skipped { .. } | FeedOutcome::SkippedGone => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::FetchError;
    use crate::schedule::CronRule;
    use chrono::TimeZone;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, hour, minute, 0)
            .single()
            .expect("valid time")
    }

    fn feed() -> FeedConfig {
        FeedConfig {
            name: "writer".into(),
            url: url::Url::parse("https://writer.example/feed")
                .expect("url")
                .into(),
            role: Role::Origin,
            schedule: CronRule::parse("0 * * * *").expect("hourly"),
        }
    }

    fn validators(etag: &str) -> Validators {
        Validators {
            etag: Some(etag.into()),
            last_modified: None,
        }
    }

    fn content(parsed: Result<ParsedFeed, String>, etag: &str, max_age: Option<u64>) -> Answer {
        FetchOutcome::Fetched(Fetched {
            body: parsed,
            final_url: feed().url.url(),
            content_type: None,
            validators: validators(etag),
            max_age: max_age.map(Duration::from_secs),
            moved_permanently: None,
        })
    }

    fn not_modified(etag: Option<&str>) -> Answer {
        FetchOutcome::NotModified {
            validators: etag.map(validators).unwrap_or_default(),
            max_age: None,
            moved_permanently: None,
        }
    }

    fn failing() -> PollState {
        PollState {
            etag: Some("\"old\"".into()),
            last_status: Some("error".into()),
            last_error: Some("earlier failure".into()),
            consecutive_errors: 3,
            retry_after: Some(at(11, 0)),
            backfilled: true,
            ..PollState::default()
        }
    }

    /// Every answer from every kind of earlier state: what the state becomes. The next due
    /// time comes from `schedule::next_due` (tested there); here only whether there is one
    /// and that it is not before the schedule's next tick.
    #[test]
    fn each_answer_moves_the_poll_state_as_the_table_says() {
        struct Row {
            name: &'static str,
            before: PollState,
            answer: Answer,
            status: &'static str,
            errors: u32,
            etag: Option<&'static str>,
            success: bool,
            retry_after: Option<DateTime<Utc>>,
            min_interval: Option<u64>,
            gone: bool,
        }
        let now = at(10, 5);
        let timing = Timing {
            now,
            cycle_started: at(10, 0),
            jitter: 0.5,
        };
        let parsed = ParsedFeed {
            ttl: Some(Duration::from_secs(7200)),
            item_digests: vec![7, 8],
            ..ParsedFeed::default()
        };
        let refused = FetchError::Status {
            url: feed().url.url(),
            status: 500,
        };
        let rows = [
            Row {
                name: "first content",
                before: PollState::default(),
                answer: content(Ok(parsed.clone()), "\"a\"", Some(60)),
                status: "ok",
                errors: 0,
                etag: Some("\"a\""),
                success: true,
                retry_after: None,
                min_interval: Some(7200),
                gone: false,
            },
            Row {
                name: "content after failures clears the backoff",
                before: failing(),
                answer: content(Ok(parsed.clone()), "\"b\"", None),
                status: "ok",
                errors: 0,
                etag: Some("\"b\""),
                success: true,
                retry_after: None,
                min_interval: Some(7200),
                gone: false,
            },
            Row {
                name: "304 without validators keeps the ones held",
                before: failing(),
                answer: not_modified(None),
                status: "not modified",
                errors: 0,
                etag: Some("\"old\""),
                success: true,
                retry_after: None,
                min_interval: None,
                gone: false,
            },
            Row {
                name: "304 with a new etag stores it",
                before: PollState::default(),
                answer: not_modified(Some("\"c\"")),
                status: "not modified",
                errors: 0,
                etag: Some("\"c\""),
                success: true,
                retry_after: None,
                min_interval: None,
                gone: false,
            },
            Row {
                name: "429 with Retry-After",
                before: failing(),
                answer: FetchOutcome::RateLimited {
                    status: 429,
                    retry_after: Some(at(12, 0)),
                },
                status: "rate limited",
                errors: 4,
                etag: Some("\"old\""),
                success: false,
                retry_after: Some(at(12, 0)),
                min_interval: None,
                gone: false,
            },
            Row {
                name: "429 without Retry-After forgets an old one",
                before: failing(),
                answer: FetchOutcome::RateLimited {
                    status: 503,
                    retry_after: None,
                },
                status: "rate limited",
                errors: 4,
                etag: Some("\"old\""),
                success: false,
                retry_after: None,
                min_interval: None,
                gone: false,
            },
            Row {
                name: "410",
                before: PollState::default(),
                answer: FetchOutcome::Gone,
                status: "gone",
                errors: 0,
                etag: None,
                success: false,
                retry_after: None,
                min_interval: None,
                gone: true,
            },
            Row {
                name: "fetch failure",
                before: failing(),
                answer: FetchOutcome::Failed(refused),
                status: "error",
                errors: 4,
                etag: Some("\"old\""),
                success: false,
                retry_after: Some(at(11, 0)),
                min_interval: None,
                gone: false,
            },
            Row {
                name: "a body that does not parse is a failure, and its validators are not kept",
                before: PollState::default(),
                answer: content(Err("not a feed".into()), "\"d\"", None),
                status: "error",
                errors: 1,
                etag: None,
                success: false,
                retry_after: None,
                min_interval: None,
                gone: false,
            },
        ];
        for row in rows {
            let state = next_state(&feed(), &row.before, &row.answer, timing);
            let name = row.name;
            assert_eq!(state.last_status.as_deref(), Some(row.status), "{name}");
            assert_eq!(state.consecutive_errors, row.errors, "{name}");
            assert_eq!(state.etag.as_deref(), row.etag, "{name}");
            assert_eq!(state.last_attempt_at, Some(now), "{name}");
            assert_eq!(state.last_success_at == Some(now), row.success, "{name}");
            assert_eq!(state.last_error_at == Some(now), !row.success, "{name}");
            assert_eq!(state.retry_after, row.retry_after, "{name}");
            assert_eq!(
                state.min_interval,
                row.min_interval.map(Duration::from_secs),
                "{name}"
            );
            assert_eq!(state.gone, row.gone, "{name}");
            match state.next_due_at {
                None => assert!(row.gone, "{name}: only a gone feed is never due"),
                Some(due) => assert!(!row.gone && due >= at(11, 0), "{name}: due {due}"),
            }
            if row.success {
                assert!(state.backfilled || row.status == "not modified", "{name}");
            }
        }
    }

    #[test]
    fn a_rate_limited_feed_is_not_due_before_the_server_said() {
        let timing = Timing {
            now: at(10, 5),
            cycle_started: at(10, 0),
            jitter: 0.0,
        };
        let answer = FetchOutcome::RateLimited {
            status: 429,
            retry_after: Some(at(15, 30)),
        };
        let state = next_state(&feed(), &PollState::default(), &answer, timing);
        assert_eq!(state.next_due_at, Some(at(15, 30)));
    }

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
