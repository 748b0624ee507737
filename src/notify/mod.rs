//! Notifications: delivers the outbox (one row per new story and sink, written by ingest in the
//! story's own transaction) to webhook, Slack, Discord, Matrix and ntfy sinks.
//!
//! This module owns everything after the outbox row exists, along three seams:
//! - [`message`]: the story as it is at delivery time, the per-sink filters and templates;
//! - [`wire`]: each service's request ([`webhook`], [`slack`], [`discord`], [`matrix`],
//!   [`ntfy`], one [`wire::Service`] each), signed ([`hmac`]) and paced ([`pace`]);
//! - [`retry`]: how an answer is taken (429s and Retry-After in each service's style), the
//!   backoff, and when a delivery is dead;
//! - [`worker`]: the [`Notifier`] that reads the outbox, sends, and records each outcome.
//!
//! Design decision: the outbox is the only state that matters, and each delivery's outcome is
//! written to it the moment its response arrives. So `kill -9` at any moment repeats at most
//! the requests in flight (one per sink) and loses nothing; the idempotency key (webhook
//! header, Matrix transaction id) lets a receiver drop even that repeat. Sinks are delivered
//! concurrently and each request has a deadline, so a slow or dead sink delays only itself.

pub mod discord;
pub mod hmac;
pub mod matrix;
pub mod message;
pub mod ntfy;
pub mod pace;
pub mod retry;
pub mod sink_url;
pub mod slack;
pub mod webhook;
pub mod wire;
pub mod worker;

use thiserror::Error;

use crate::store::StoreError;

pub use message::Message;
pub use sink_url::SinkUrl;
pub use worker::Notifier;

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
