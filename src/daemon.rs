//! `tributary run`: the long-running service. Polls every feed at start-up (only the due ones
//! on a store other instances share) and then each on its own schedule, keeps the merged feed
//! fresh on disk and in the HTTP server, and reloads its configuration on SIGHUP.
//!
//! Design decision: one loop owns the store and does all polling writes; the server only reads
//! the rendered snapshot it is handed. Notifications go out from a worker of their own (its
//! own connection to the same WAL database), woken after every cycle, so a slow sink never
//! delays a poll and a poll never delays a retry. A signal is noticed between and during
//! cycles: a cycle in flight is abandoned at its next await point, which always falls between
//! two feeds' ingest transactions, so stopping never leaves a feed half-ingested.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use thiserror::Error;
use tokio::signal::unix::{SignalKind, signal};

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::emit;
use crate::fetch::{FetchError, Fetcher};
use crate::ingest::IngestContext;
use crate::metrics::Metrics;
use crate::notify::{Notifier, NotifyError};
use crate::poll::{self, PollError, Selection};
use crate::serve::{self, AppState, Snapshot};
use crate::site;
use crate::store::{Store, StoreError};
use crate::websub;

/// The longest the loop sleeps, so schedule changes (a reload, a Retry-After expiring) are
/// noticed within this time even when nothing is due, and so are stories other instances (or
/// the command line) wrote: each wake-up compares the store's [`Store::stories_mark`] with
/// the one last rendered.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// The shortest the loop sleeps between cycles, so a clock jump cannot make it spin.
const MIN_SLEEP: Duration = Duration::from_secs(1);

/// The notification worker looks at the outbox at least this often (retries, hold windows),
/// and at most this often while a sink is busy.
const NOTIFY_MAX_SLEEP: Duration = Duration::from_secs(5);
const NOTIFY_MIN_SLEEP: Duration = Duration::from_millis(500);

/// On SIGTERM, requests in flight get this long to be answered and recorded; then they are
/// abandoned (and repeated after the restart, under the same idempotency key).
const NOTIFY_DRAIN: Duration = Duration::from_secs(3);

#[derive(Debug, Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Poll(#[from] PollError),
    #[error(transparent)]
    Publish(#[from] emit::PublishError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    #[error(transparent)]
    Notify(#[from] NotifyError),
}

/// Where the configuration came from, so SIGHUP can read it again, and what the command line
/// overrides in it.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    /// `None` for the embedded default.
    pub path: Option<PathBuf>,
    /// `run --listen`.
    pub listen: Option<std::net::SocketAddr>,
}

impl ConfigSource {
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut config = match &self.path {
            Some(path) => Config::load(path)?,
            None => Config::embedded_default()?,
        };
        if let Some(listen) = self.listen {
            config.server.listen = listen;
        }
        Ok(config)
    }
}

/// Runs until SIGTERM or SIGINT.
pub async fn run(source: ConfigSource, mut config: Config) -> Result<(), DaemonError> {
    let clock = SystemClock;
    let database = config.database.clone();
    let mut store = Store::open(database.clone())?;
    store.sync_sources(&config.feeds)?;
    let mut fetcher = Fetcher::new(&config.fetch)?;
    let metrics = Arc::new(Metrics::new());

    // Read before the render it marks: a write landing in between moves the mark again, so
    // the next wake-up renders it rather than missing it.
    let mut rendered_mark = store.stories_mark(config.output.max_entries)?;
    // Serve what is already stored at once: a restart must not blank the feed readers see.
    let rendered = emit::publish(&config, &store, clock.now())?;
    let state = AppState::new(
        Snapshot::new(
            rendered.atom,
            rendered.json,
            rendered.rss,
            rendered.opml,
            clock.now(),
        ),
        Arc::clone(&metrics),
        database.clone(),
    );
    state.set_site_settings(site::Settings::from_config(&config, source.path.as_deref()));
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|source| DaemonError::Listen {
            address: config.server.listen,
            source,
        })?;
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve::serve(listener, state.clone(), async {
        let _ = server_stopped.await;
    }));
    tracing::info!(
        listen = %config.server.listen,
        feed = %config.server.base_url.join("feed.atom").map(|u| u.to_string()).unwrap_or_default(),
        feeds = config.feeds.len(),
        database = %config.database,
        "tributary is running"
    );

    // Its own connection: SQLite in WAL mode lets it write outcomes while the loop ingests.
    let notify_store = Arc::new(parking_lot::Mutex::new(Store::open(database.clone())?));
    let (notifier_tx, notifier_rx) =
        tokio::sync::watch::channel(Arc::new(Notifier::new(&config.notify)?));
    let wake = Arc::new(tokio::sync::Notify::new());
    // Set while a poll cycle runs: deliveries it creates wait until it has finished.
    let cycle_started: Arc<parking_lot::Mutex<Option<DateTime<Utc>>>> =
        Arc::new(parking_lot::Mutex::new(None));
    let (stop_notifier, notifier_stopped) = tokio::sync::oneshot::channel::<()>();
    let notifier_task = tokio::spawn(notification_worker(
        notify_store,
        notifier_rx,
        Arc::clone(&wake),
        Arc::clone(&cycle_started),
        Arc::clone(&metrics),
        notifier_stopped,
    ));

    // Fed after every render that follows a cycle, not with the snapshot served at start-up:
    // that one is what was stored before, which the hub was told about then (or, in a new
    // store, an empty feed that is no news).
    let (published_tx, published_rx) = tokio::sync::watch::channel(websub::Published::default());
    let (stop_pinger, pinger_stopped) = tokio::sync::oneshot::channel::<()>();
    let pinger_task = tokio::spawn(websub::run(
        Store::open(database.clone())?,
        published_rx,
        pinger_stopped,
    ));

    let heartbeat = Arc::new(AtomicI64::new(clock.now().timestamp()));
    notify_systemd(&[sd_notify::NotifyState::Ready]);
    let watchdog = spawn_watchdog(Arc::clone(&heartbeat));

    let mut terminate = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;

    // Alone on its store, the daemon asks every feed at start-up and after a reload. Sharing
    // it, it keeps to the schedule the instances share: a restart of one of them must not
    // poll every feed again.
    let start = if store.is_shared() {
        Selection::Due
    } else {
        Selection::All { force: false }
    };
    let mut selection = start;
    // Set at start-up and after a reload: the feed list (OPML) and title are rendered then,
    // whether or not the cycle changed a story.
    let mut force_render = true;
    'serve: loop {
        let context = IngestContext::new(&config);
        let mut on_feed = |report: &poll::FeedReport| {
            metrics.record_feed(report);
            heartbeat.store(clock.now().timestamp(), Ordering::Relaxed);
        };
        let cycle = poll::run_cycle(
            &config,
            &mut store,
            &fetcher,
            &clock,
            &context,
            selection,
            &mut on_feed,
        );
        *cycle_started.lock() = Some(clock.now());
        let report = tokio::select! {
            report = cycle => report,
            _ = terminate.recv() => break 'serve,
            _ = interrupt.recv() => break 'serve,
        };
        *cycle_started.lock() = None;
        match report {
            Ok(report) => {
                let mut stories_written = None;
                let mark = store.stories_mark(config.output.max_entries);
                if let Err(error) = &mark {
                    tracing::error!(%error, "cannot read what the store holds; rendering anyway");
                }
                let moved = mark.as_ref().map_or(true, |mark| *mark != rendered_mark);
                if report.changed || force_render || moved {
                    // A full disk or a lost directory must not stop the service: the feed is
                    // still served from memory, and the file is written again every cycle
                    // until it can be, whether or not anything changes meanwhile.
                    match emit::render(&config, &store, clock.now()) {
                        Ok(rendered) => {
                            stories_written = Some(rendered.stories);
                            let written =
                                emit::write_if_changed(&config.output.atom_path, &rendered.atom);
                            if let Err(error) = &written {
                                tracing::error!(
                                    %error,
                                    path = %config.output.atom_path.display(),
                                    "cannot write the merged feed"
                                );
                            }
                            let snapshot = Snapshot::new(
                                rendered.atom,
                                rendered.json,
                                rendered.rss,
                                rendered.opml,
                                clock.now(),
                            );
                            published_tx.send_replace(published(&config, &snapshot));
                            state.publish(snapshot);
                            force_render = written.is_err();
                            if let Ok(mark) = mark {
                                rendered_mark = mark;
                            }
                        }
                        Err(error) => tracing::error!(%error, "cannot render the merged feed"),
                    }
                }
                if report.feeds() > 0 {
                    tracing::info!("cycle: {}", report.summary(stories_written));
                }
                metrics.record_cycle(&report, clock.now());
                state.mark_cycle_finished();
                // Everything this cycle ingested has folded into its stories: deliver now.
                wake.notify_one();
            }
            // The store failing (disk full, a lock held too long) is logged and retried on
            // the next tick rather than ending the service.
            Err(error) => tracing::error!(%error, "poll cycle failed; retrying on the next tick"),
        }
        heartbeat.store(clock.now().timestamp(), Ordering::Relaxed);
        selection = Selection::Due;

        let sleep = next_sleep(&store, clock.now());
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            _ = terminate.recv() => break 'serve,
            _ = interrupt.recv() => break 'serve,
            _ = hangup.recv() => {
                if let Some(new) = reload(&source, &config) {
                    if new.fetch != config.fetch {
                        fetcher = Fetcher::new(&new.fetch)?;
                    }
                    match Notifier::new(&new.notify) {
                        Ok(notifier) => {
                            let _ = notifier_tx.send(Arc::new(notifier));
                            wake.notify_one();
                        }
                        Err(error) => tracing::error!(%error, "reload: keeping the old notification sinks"),
                    }
                    state.set_site_settings(site::Settings::from_config(&new, source.path.as_deref()));
                    config = new;
                    // Publish the new feed list (OPML) and title at once.
                    selection = start;
                    force_render = true;
                }
            }
        }
    }

    tracing::info!("stopping");
    // A cycle cut short leaves the feeds it claimed and had not recorded leased to this
    // instance: give them to the others now rather than when the leases end.
    if let Err(error) = store.release_leases() {
        tracing::warn!(%error, "cannot give up this instance's leases; they end on their own");
    }
    notify_systemd(&[sd_notify::NotifyState::Stopping]);
    if let Some(watchdog) = watchdog {
        watchdog.abort();
    }
    let _ = stop_pinger.send(());
    if tokio::time::timeout(Duration::from_secs(1), pinger_task)
        .await
        .is_err()
    {
        // A ping in flight is repeated after the restart: the hub did not acknowledge it.
        tracing::warn!("websub: a hub ping was still in flight at shutdown");
    }
    let _ = stop_notifier.send(());
    match tokio::time::timeout(NOTIFY_DRAIN + Duration::from_secs(1), notifier_task).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "the notification worker failed"),
        Err(_) => tracing::warn!("the notification worker did not stop in time"),
    }
    let _ = stop_server.send(());
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => tracing::warn!(%error, "the server stopped with an error"),
        Ok(Err(error)) => tracing::warn!(%error, "the server task failed"),
        Err(_) => tracing::warn!("the server did not stop within 5 s"),
    }
    Ok(())
}

/// Delivers the outbox until stopped: one task per sink with due deliveries, so a sink pacing
/// through a backlog or waiting out a timeout holds up no other sink. Every sink gets a pass
/// after each poll cycle, a reload, and at least every [`NOTIFY_MAX_SLEEP`] for retries and
/// hold windows coming due; a sink whose pass settled something goes again at once, as more
/// may be due behind it. A pass that found nothing due is not repeated until one of those:
/// repeating it would spin on the store, a core's worth of queries while idle.
async fn notification_worker(
    store: Arc<parking_lot::Mutex<Store>>,
    mut notifier: tokio::sync::watch::Receiver<Arc<Notifier>>,
    wake: Arc<tokio::sync::Notify>,
    cycle_started: Arc<parking_lot::Mutex<Option<DateTime<Utc>>>>,
    metrics: Arc<Metrics>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let clock = SystemClock;
    let mut running: tokio::task::JoinSet<(
        String,
        Result<crate::notify::DeliveryReport, NotifyError>,
    )> = tokio::task::JoinSet::new();
    let mut busy: HashSet<String> = HashSet::new();
    // Sinks owed a pass; all of them at start-up.
    let mut owed: Option<HashSet<String>> = None;
    loop {
        let current = Arc::clone(&notifier.borrow_and_update());
        let created_before = *cycle_started.lock();
        if owed.is_none() {
            if let Err(error) = current.retire_orphans(&store, &clock) {
                tracing::error!(%error, "notifications: cannot read the outbox");
            }
        }
        // Owed sinks still busy with an earlier pass: owed again when it ends, since what woke
        // them may have come after that pass read the outbox.
        let mut owed_next = HashSet::new();
        for name in current.sink_names() {
            if owed.as_ref().is_some_and(|owed| !owed.contains(name)) {
                continue;
            }
            if busy.contains(name) {
                owed_next.insert(name.to_owned());
                continue;
            }
            busy.insert(name.to_owned());
            let (notifier, store, metrics, name) = (
                Arc::clone(&current),
                Arc::clone(&store),
                Arc::clone(&metrics),
                name.to_owned(),
            );
            running.spawn(async move {
                let result = notifier
                    .deliver_due_to(&name, &store, &SystemClock, Some(&metrics), created_before)
                    .await;
                (name, result)
            });
        }
        let next_due = crate::store::off_the_workers(|| store.lock().next_delivery_due())
            .ok()
            .flatten();
        let sleep = next_due
            .map(|at| (at - clock.now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(NOTIFY_MAX_SLEEP)
            .clamp(NOTIFY_MIN_SLEEP, NOTIFY_MAX_SLEEP);
        owed = tokio::select! {
            _ = &mut stop => break,
            () = wake.notified() => None,
            Ok(()) = notifier.changed() => None,
            () = tokio::time::sleep(sleep) => None,
            Some(done) = running.join_next(), if !running.is_empty() => {
                match done {
                    Ok((name, result)) => {
                        busy.remove(&name);
                        match result {
                            Ok(report) if !report.is_empty() => {
                                owed_next.insert(name);
                            }
                            Ok(_) => {}
                            Err(error) => tracing::error!(
                                sink = %name,
                                %error,
                                "notification pass failed; retrying soon"
                            ),
                        }
                        Some(owed_next)
                    }
                    Err(error) => {
                        tracing::error!(%error, "a notification task failed");
                        // Its sink's name is lost with it: start over with a clean slate.
                        running.abort_all();
                        while running.join_next().await.is_some() {}
                        busy.clear();
                        None
                    }
                }
            }
        }
    }
    // Let requests in flight be answered and recorded; abandon what is left.
    let drained = tokio::time::timeout(NOTIFY_DRAIN, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("notifications still in flight at shutdown are retried on the next start");
        running.abort_all();
    }
}

/// What the WebSub pinger is told after a render: the hub, and each merged feed's public URL
/// (its self link) with the version of the bytes now served there.
fn published(config: &Config, snapshot: &Snapshot) -> websub::Published {
    let Some(settings) = &config.websub else {
        return websub::Published::default();
    };
    let feeds = [
        ("feed.atom", &snapshot.atom),
        ("feed.json", &snapshot.json),
        ("feed.rss", &snapshot.rss),
    ]
    .into_iter()
    .filter_map(|(name, document)| {
        let url = config.server.base_url.join(name).ok()?;
        Some((url, document.version().to_owned()))
    })
    .collect();
    websub::Published {
        hub: Some(settings.hub.clone()),
        feeds,
    }
}

/// Reads the configuration again. A bad new config is refused and the running one kept.
/// Storage and listen address changes need a restart: they are logged and ignored.
fn reload(source: &ConfigSource, current: &Config) -> Option<Config> {
    match source.load() {
        Ok(mut new) => {
            if new.database != current.database {
                tracing::warn!(
                    "reload: [storage] database changed; restart tributary to use it (keeping {})",
                    current.database
                );
                new.database.clone_from(&current.database);
            }
            if new.server.listen != current.server.listen {
                tracing::warn!(
                    "reload: [server] listen changed; restart tributary to use it (keeping {})",
                    current.server.listen
                );
                new.server.listen = current.server.listen;
            }
            tracing::info!(
                config = %new.origin,
                feeds = new.feeds.len(),
                "configuration reloaded"
            );
            Some(new)
        }
        Err(error) => {
            tracing::error!(%error, "reload refused; the running configuration stays in force");
            None
        }
    }
}

/// How long to sleep until the next feed is due, within [MIN_SLEEP, MAX_SLEEP].
fn next_sleep(store: &Store, now: DateTime<Utc>) -> Duration {
    let next = store.next_poll_due(now).unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot read when the next feed is due");
        None
    });
    let wait = next
        .map(|at| (at - now).to_std().unwrap_or(Duration::ZERO))
        .unwrap_or(MAX_SLEEP);
    wait.clamp(MIN_SLEEP, MAX_SLEEP)
}

fn notify_systemd(states: &[sd_notify::NotifyState<'_>]) {
    // Outside systemd there is no NOTIFY_SOCKET and this does nothing.
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "cannot notify systemd");
    }
}

/// Feeds systemd's watchdog only while the scheduler loop makes progress: a wedged loop (a
/// deadlock, a store that never answers) stops the pings and systemd restarts the service.
fn spawn_watchdog(heartbeat: Arc<AtomicI64>) -> Option<tokio::task::JoinHandle<()>> {
    let timeout = sd_notify::watchdog_enabled().filter(|t| !t.is_zero())?;
    // The loop beats at least every MAX_SLEEP and after every feed; allow a long cycle on top.
    let stale_after =
        i64::try_from(timeout.as_secs().max(MAX_SLEEP.as_secs() * 2)).unwrap_or(i64::MAX);
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(timeout / 2);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            let last = heartbeat.load(Ordering::Relaxed);
            if SystemClock.now().timestamp() - last <= stale_after {
                notify_systemd(&[sd_notify::NotifyState::Watchdog]);
            } else {
                tracing::error!(
                    seconds = SystemClock.now().timestamp() - last,
                    "scheduler made no progress; withholding the watchdog ping"
                );
            }
        }
    }))
}
