//! WebSub for tributary's own output: tells the configured hub when a merged feed changed, so
//! readers subscribed through the hub get the change pushed instead of polling for it.
//!
//! Design decision: the pinger is level-triggered, not edge-triggered. After every render the
//! daemon hands it each feed's URL with the ETag of the bytes now served; a feed is pinged
//! while its current ETag differs from the one the hub last acknowledged (a 2xx), which is
//! stored. So a change is announced once, five changes while the hub is down are one ping when
//! it is back, a failed ping is retried with the project's one backoff formula, and a restart
//! (even after `kill -9`) pings only for a change the hub was not told about. The pinger runs
//! as a task of its own, so a slow or dead hub never holds up a poll.
//!
//! The ping is the publisher notification the WebSub recommendation leaves to hubs (W3C
//! WebSub 7): a form POST `hub.mode=publish&hub.url=<topic>` per feed URL, which the common
//! hubs (Google's, Superfeedr, WebSubHub) accept.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use thiserror::Error;
use url::Url;

use crate::clock::{Clock, SystemClock};
use crate::fetch::USER_AGENT;
use crate::schedule;
use crate::store::{Store, StoreError, off_the_workers};

/// The first retry of a failed ping comes after 1-1.1 s, then 2-2.2 s, ... up to an hour.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(3600);

/// A hub answers a publish ping at once (it fetches the feed later); one that takes longer is
/// treated as down and asked again.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// With nothing due, the pinger still looks this often (a changed feed wakes it at once).
const IDLE: Duration = Duration::from_secs(60);

#[derive(Debug, Error)]
pub enum WebSubError {
    #[error("cannot set up the HTTP client for WebSub: {0}")]
    Client(String),
    #[error("hub {hub}: {detail}")]
    Request { hub: Url, detail: String },
    #[error("hub {hub} answered HTTP {status}{}", body_note(.body))]
    Status { hub: Url, status: u16, body: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn body_note(body: &str) -> String {
    if body.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", body.trim())
    }
}

/// What the daemon published last: the hub, and each feed's public URL with the ETag of the
/// bytes served there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    pub hub: Option<Url>,
    pub feeds: Vec<(Url, String)>,
}

/// The form body of a publish ping for one feed URL.
pub fn ping_body(feed_url: &Url) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "publish")
        .append_pair("hub.url", feed_url.as_str())
        .finish()
}

/// Sends publish pings.
#[derive(Debug, Clone)]
pub struct Pinger {
    client: reqwest::Client,
}

impl Pinger {
    pub fn new() -> Result<Pinger, WebSubError> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(USER_AGENT)
            .timeout(PING_TIMEOUT)
            // Following a POST through a 302 would turn it into a GET: report the status.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .build()
            .map_err(|e| WebSubError::Client(e.to_string()))?;
        Ok(Pinger { client })
    }

    /// Tells `hub` that `feed_url` changed. Any 2xx is an acknowledgement (hubs answer 204).
    pub async fn ping(&self, hub: &Url, feed_url: &Url) -> Result<(), WebSubError> {
        let response = self
            .client
            .post(hub.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(ping_body(feed_url))
            .send()
            .await
            .map_err(|e| WebSubError::Request {
                hub: hub.clone(),
                detail: error_chain(&e),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // A few words of the hub's answer say why; more would flood the log.
        let body = response.bytes().await.unwrap_or_default();
        Err(WebSubError::Status {
            hub: hub.clone(),
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).chars().take(200).collect(),
        })
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A feed URL whose current version the hub has not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    failures: u32,
    not_before: DateTime<Utc>,
}

/// The feeds to ping now: those whose current ETag the hub has not acknowledged, and whose
/// retry (if the last ping failed) has come.
fn due<'a>(
    published: &'a Published,
    acknowledged: &HashMap<String, String>,
    pending: &HashMap<String, Pending>,
    now: DateTime<Utc>,
) -> Vec<&'a (Url, String)> {
    published
        .feeds
        .iter()
        .filter(|(url, etag)| acknowledged.get(url.as_str()) != Some(etag))
        .filter(|(url, _)| {
            pending
                .get(url.as_str())
                .is_none_or(|p| p.not_before <= now)
        })
        .collect()
}

/// Pings the hub for every change it has not acknowledged, until `stop` fires. `published`
/// carries what the daemon serves after each render; `store` is a connection of the pinger's
/// own (SQLite in WAL mode lets it write while the loop ingests).
pub async fn run(
    store: Store,
    mut published: tokio::sync::watch::Receiver<Published>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let pinger = match Pinger::new() {
        Ok(pinger) => pinger,
        Err(error) => {
            tracing::error!(%error, "websub: hub pings are off");
            return;
        }
    };
    let clock = SystemClock;
    let store = Arc::new(parking_lot::Mutex::new(store));
    // Per hub, since a new hub (after a reload) has been told nothing.
    let mut acknowledged: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut pending: HashMap<String, Pending> = HashMap::new();
    loop {
        let current = published.borrow_and_update().clone();
        let mut sleep = IDLE;
        if let Some(hub) = &current.hub {
            let acks = match acknowledged.get(hub.as_str()) {
                Some(acks) => acks.clone(),
                None => match off_the_workers(|| store.lock().websub_acknowledged(hub.as_str())) {
                    Ok(acks) => {
                        acknowledged.insert(hub.to_string(), acks.clone());
                        acks
                    }
                    Err(error) => {
                        tracing::error!(%error, "websub: cannot read what the hub was told");
                        HashMap::new()
                    }
                },
            };
            let now = clock.now();
            for (feed_url, etag) in due(&current, &acks, &pending, now) {
                match pinger.ping(hub, feed_url).await {
                    Ok(()) => {
                        tracing::info!(hub = %hub, feed = %feed_url, "websub: hub notified of a change");
                        pending.remove(feed_url.as_str());
                        acknowledged
                            .entry(hub.to_string())
                            .or_default()
                            .insert(feed_url.to_string(), etag.clone());
                        let recorded = off_the_workers(|| {
                            store.lock().record_websub_ack(
                                hub.as_str(),
                                feed_url.as_str(),
                                etag,
                                clock.now(),
                            )
                        });
                        if let Err(error) = recorded {
                            tracing::error!(%error, "websub: cannot record the hub's acknowledgement");
                        }
                    }
                    Err(error) => {
                        let entry = pending.entry(feed_url.to_string()).or_insert(Pending {
                            failures: 0,
                            not_before: now,
                        });
                        entry.failures = entry.failures.saturating_add(1);
                        let wait = schedule::backoff(
                            chrono::Duration::from_std(BACKOFF_FIRST).unwrap_or_default(),
                            chrono::Duration::from_std(BACKOFF_MAX).unwrap_or_default(),
                            entry.failures,
                            jitter(feed_url),
                        );
                        entry.not_before = clock.now() + wait;
                        tracing::warn!(
                            %error,
                            feed = %feed_url,
                            failures = entry.failures,
                            retry_at = %entry.not_before,
                            "websub: ping failed; retrying"
                        );
                    }
                }
            }
            let acks = acknowledged.get(hub.as_str()).cloned().unwrap_or_default();
            let now = clock.now();
            let next = current
                .feeds
                .iter()
                .filter(|(url, etag)| acks.get(url.as_str()) != Some(etag))
                .filter_map(|(url, _)| pending.get(url.as_str()).map(|p| p.not_before))
                .min();
            if let Some(next) = next {
                sleep = (next - now).to_std().unwrap_or(Duration::ZERO).min(IDLE);
            }
        }
        tokio::select! {
            _ = &mut stop => break,
            changed = published.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            () = tokio::time::sleep(sleep) => {}
        }
    }
}

/// A stable value in [0, 1) per feed URL, so the three feeds' retries spread apart.
fn jitter(feed_url: &Url) -> f64 {
    let sum = feed_url.as_str().bytes().fold(0u32, |sum, b| {
        sum.wrapping_mul(31).wrapping_add(u32::from(b))
    });
    f64::from(sum % 97) / 97.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("valid test URL")
    }

    #[test]
    fn the_ping_is_the_publish_form() {
        assert_eq!(
            ping_body(&url("https://feeds.example/a b/feed.atom?x=1&y=2")),
            "hub.mode=publish&hub.url=https%3A%2F%2Ffeeds.example%2Fa%2520b%2Ffeed.atom%3Fx%3D1%26y%3D2"
        );
    }

    #[test]
    fn only_unacknowledged_versions_whose_retry_came_are_due() {
        let at = |s: i64| DateTime::<Utc>::from_timestamp(s, 0).expect("valid time");
        let published = Published {
            hub: Some(url("https://hub.example/")),
            feeds: vec![
                (url("https://f.example/feed.atom"), "a2".into()),
                (url("https://f.example/feed.json"), "j1".into()),
                (url("https://f.example/feed.rss"), "r2".into()),
            ],
        };
        let acknowledged: HashMap<String, String> = [
            ("https://f.example/feed.atom", "a1"),
            ("https://f.example/feed.json", "j1"),
        ]
        .into_iter()
        .map(|(u, e)| (u.to_owned(), e.to_owned()))
        .collect();
        let names = |due: Vec<&(Url, String)>| {
            due.iter()
                .map(|(u, _)| u.path().to_owned())
                .collect::<Vec<_>>()
        };
        // The JSON feed's version was acknowledged; the other two changed.
        assert_eq!(
            names(due(&published, &acknowledged, &HashMap::new(), at(100))),
            ["/feed.atom", "/feed.rss"]
        );
        // A failed ping waits for its retry.
        let pending: HashMap<String, Pending> = [(
            "https://f.example/feed.rss".to_owned(),
            Pending {
                failures: 1,
                not_before: at(101),
            },
        )]
        .into_iter()
        .collect();
        assert_eq!(
            names(due(&published, &acknowledged, &pending, at(100))),
            ["/feed.atom"]
        );
        assert_eq!(
            names(due(&published, &acknowledged, &pending, at(101))),
            ["/feed.atom", "/feed.rss"]
        );
    }
}
