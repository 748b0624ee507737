//! `tributary run`: the long-running service. Polls every feed at start-up and then each on its
//! own schedule, keeps the merged feed fresh on disk and in the HTTP server, and reloads its
//! configuration on SIGHUP.
//!
//! Design decision: one loop owns the store and does all writing; the server only reads the
//! rendered snapshot it is handed. A signal is noticed between and during cycles: a cycle in
//! flight is abandoned at its next await point, which always falls between two feeds' ingest
//! transactions, so stopping never leaves a feed half-ingested.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use thiserror::Error;
use tokio::signal::unix::{SignalKind, signal};

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::fetch::{FetchError, Fetcher};
use crate::ingest::IngestContext;
use crate::metrics::Metrics;
use crate::poll::{self, PollError, Selection};
use crate::serve::{self, AppState, Snapshot};
use crate::store::{Store, StoreError};

/// The longest the loop sleeps, so schedule changes (a reload, a Retry-After expiring) are
/// noticed within this time even when nothing is due.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// The shortest the loop sleeps between cycles, so a clock jump cannot make it spin.
const MIN_SLEEP: Duration = Duration::from_secs(1);

#[derive(Debug, Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Poll(#[from] PollError),
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
    let mut store = Store::open(&config.database)?;
    store.sync_sources(&config.feeds)?;
    let mut fetcher = Fetcher::new(&config.fetch)?;
    let metrics = Arc::new(Metrics::new());

    // Serve what is already stored at once: a restart must not blank the feed readers see.
    let rendered = poll::publish(&config, &store, clock.now())?;
    let state = AppState::new(
        Snapshot::new(rendered.atom, rendered.json, rendered.opml, clock.now()),
        Arc::clone(&metrics),
        config.database.clone(),
    );
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
        database = %config.database.display(),
        "tributary is running"
    );

    let heartbeat = Arc::new(AtomicI64::new(clock.now().timestamp()));
    notify_systemd(&[sd_notify::NotifyState::Ready]);
    let watchdog = spawn_watchdog(Arc::clone(&heartbeat));

    let mut terminate = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;

    let mut selection = Selection::All { force: false };
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
        let report = tokio::select! {
            report = cycle => report,
            _ = terminate.recv() => break 'serve,
            _ = interrupt.recv() => break 'serve,
        };
        match report {
            Ok(report) => {
                if report.changed || selection != Selection::Due {
                    let rendered = poll::publish(&config, &store, clock.now())?;
                    state.publish(Snapshot::new(
                        rendered.atom,
                        rendered.json,
                        rendered.opml,
                        clock.now(),
                    ));
                }
                metrics.record_cycle(&report, clock.now());
                state.mark_cycle_finished();
            }
            // The store failing (disk full, a lock held too long) is logged and retried on
            // the next tick rather than ending the service.
            Err(error) => tracing::error!(%error, "poll cycle failed; retrying on the next tick"),
        }
        heartbeat.store(clock.now().timestamp(), Ordering::Relaxed);
        selection = Selection::Due;

        let sleep = next_sleep(&store, clock.now());
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = terminate.recv() => break 'serve,
            _ = interrupt.recv() => break 'serve,
            _ = hangup.recv() => {
                if let Some(new) = reload(&source, &config) {
                    if new.fetch != config.fetch {
                        fetcher = Fetcher::new(&new.fetch)?;
                    }
                    config = new;
                    // Publish the new feed list (OPML) and title at once.
                    selection = Selection::All { force: false };
                }
            }
        }
    }

    tracing::info!("stopping");
    notify_systemd(&[sd_notify::NotifyState::Stopping]);
    if let Some(watchdog) = watchdog {
        watchdog.abort();
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

/// Reads the configuration again. A bad new config is refused and the running one kept.
/// Storage and listen address changes need a restart: they are logged and ignored.
fn reload(source: &ConfigSource, current: &Config) -> Option<Config> {
    match source.load() {
        Ok(mut new) => {
            if new.database != current.database {
                tracing::warn!(
                    "reload: [storage] database changed; restart tributary to use it (keeping {})",
                    current.database.display()
                );
                new.database = current.database.clone();
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
    let next = store
        .sources()
        .unwrap_or_default()
        .iter()
        .filter(|s| !s.state.gone)
        .filter_map(|s| s.state.next_due_at)
        .min();
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
    let stale_after = (timeout.as_secs() as i64).max(MAX_SLEEP.as_secs() as i64 * 2);
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
