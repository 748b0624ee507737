//! Pacing: a token bucket per sink, so a burst (the first poll after an outage brings fifty
//! stories) goes out at the rate the service documents instead of into a wall of 429s.
//!
//! Design decision: the bucket is pure arithmetic over instants handed in, so its schedule is
//! unit-tested without sleeping; the caller sleeps for what [`Bucket::reserve`] returns. It
//! lives in memory only: after a restart a sink starts with a full bucket, which each service's
//! burst allowance covers, and a 429 is honoured through the outbox anyway.

use std::time::{Duration, Instant};

/// `burst` requests at once, then one every `every`. Each service's own is in its
/// [`super::wire::Service`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub burst: u32,
    pub every: Duration,
}

/// Tokens available at `at` (which may lie in the future: it is the last reservation).
#[derive(Debug, Clone)]
pub struct Bucket {
    pace: Pace,
    tokens: f64,
    at: Instant,
    /// The service said to wait (a rate-limit header on a success) until then.
    hold_until: Option<Instant>,
}

impl Bucket {
    pub fn new(pace: Pace, now: Instant) -> Bucket {
        Bucket {
            pace,
            tokens: f64::from(pace.burst),
            at: now,
            hold_until: None,
        }
    }

    /// Takes one request's token and returns how long to wait before sending it.
    pub fn reserve(&mut self, now: Instant) -> Duration {
        let mut start = now.max(self.at);
        if let Some(hold) = self.hold_until.take() {
            start = start.max(hold);
        }
        let every = self.pace.every.as_secs_f64().max(f64::EPSILON);
        let refill = start.saturating_duration_since(self.at).as_secs_f64() / every;
        let tokens = (self.tokens + refill).min(f64::from(self.pace.burst));
        let send_at = if tokens >= 1.0 {
            self.tokens = tokens - 1.0;
            start
        } else {
            self.tokens = 0.0;
            start + Duration::from_secs_f64((1.0 - tokens) * every)
        };
        self.at = send_at;
        send_at.saturating_duration_since(now)
    }

    /// Nothing more before `until` (Discord's `X-RateLimit-Remaining: 0` on a success).
    pub fn hold(&mut self, until: Instant) {
        self.hold_until = Some(self.hold_until.map_or(until, |h| h.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SinkKind;
    use crate::notify::wire::service;

    fn pace_of(kind: SinkKind) -> Option<Pace> {
        service(kind).pace
    }

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    #[test]
    fn slack_sends_one_per_second() {
        let start = Instant::now();
        let pace = pace_of(SinkKind::Slack).expect("paced");
        let mut bucket = Bucket::new(pace, start);
        let waits: Vec<u128> = (0..4).map(|_| ms(bucket.reserve(start))).collect();
        assert_eq!(waits, [0, 1000, 2000, 3000]);
    }

    #[test]
    fn discord_allows_five_then_one_every_400_ms() {
        let start = Instant::now();
        let mut bucket = Bucket::new(pace_of(SinkKind::Discord).expect("paced"), start);
        let waits: Vec<u128> = (0..8).map(|_| ms(bucket.reserve(start))).collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 400, 800, 1200]);
        // Over any 2 s window, at most 5 + 1 requests start.
    }

    #[test]
    fn an_idle_bucket_refills_up_to_its_burst() {
        let start = Instant::now();
        let pace = Pace {
            burst: 2,
            every: Duration::from_secs(1),
        };
        let mut bucket = Bucket::new(pace, start);
        assert_eq!(ms(bucket.reserve(start)), 0);
        assert_eq!(ms(bucket.reserve(start)), 0);
        let later = start + Duration::from_secs(60);
        assert_eq!(ms(bucket.reserve(later)), 0);
        assert_eq!(ms(bucket.reserve(later)), 0);
        assert_eq!(ms(bucket.reserve(later)), 1000);
    }

    #[test]
    fn a_hold_delays_the_next_send() {
        let start = Instant::now();
        let mut bucket = Bucket::new(pace_of(SinkKind::Discord).expect("paced"), start);
        assert_eq!(ms(bucket.reserve(start)), 0);
        bucket.hold(start + Duration::from_millis(1500));
        assert_eq!(ms(bucket.reserve(start)), 1500);
        assert_eq!(ms(bucket.reserve(start)), 1500);
    }

    #[test]
    fn webhooks_are_unpaced() {
        assert_eq!(pace_of(SinkKind::Webhook), None);
    }
}
