//! When each feed is asked next.
//!
//! One pure function, [`next_due`], decides from the feed's cron rule, its last outcome and the
//! server's hints. The order matters and is the politeness contract: a server's explicit
//! Retry-After wins, then error backoff, then the feed's own refresh hints, then the schedule.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

#[derive(Debug, Error)]
#[error("`{expression}` is not a cron expression: {reason}")]
pub struct CronError {
    pub expression: String,
    pub reason: String,
}

/// A cron rule as users write it: five fields (minute first, the classic form) or six with
/// seconds first. The cron crate wants seconds, so a five-field rule runs at second 0.
///
/// Cheap to clone, and clones share: a parsed schedule holds every allowed second, minute,
/// hour, day, month and year (about 2 KB), and ten thousand feeds on the default rule should
/// hold it once.
#[derive(Debug, Clone)]
pub struct CronRule {
    expression: Arc<str>,
    schedule: Arc<cron::Schedule>,
}

impl CronRule {
    pub fn parse(expression: &str) -> Result<Self, CronError> {
        let fields = expression.split_whitespace().count();
        let full = match fields {
            5 => format!("0 {expression}"),
            6 => expression.to_owned(),
            n => {
                return Err(CronError {
                    expression: expression.to_owned(),
                    reason: format!(
                        "expected 5 fields (minute hour day month weekday) or 6 (with seconds first), found {n}"
                    ),
                });
            }
        };
        let schedule = cron::Schedule::from_str(&full).map_err(|e| CronError {
            expression: expression.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(CronRule {
            expression: expression.into(),
            schedule: Arc::new(schedule),
        })
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first tick strictly after `after`. Missed ticks are never replayed: the caller asks
    /// from "now", so a machine waking from suspend polls once, not once per missed tick.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.after(&after).next()
    }

    /// The smallest gap between two ticks, sampled over the next few ticks: the ceiling for
    /// error backoff, so a dead feed is never asked more often than its schedule allows.
    pub fn period(&self, from: DateTime<Utc>) -> Duration {
        let ticks: Vec<_> = self.schedule.after(&from).take(4).collect();
        ticks
            .windows(2)
            .map(|w| w[1] - w[0])
            .min()
            .unwrap_or_else(|| Duration::hours(24))
    }
}

/// What the last poll of a feed said about when to come back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollHints {
    /// Consecutive failures, 0 after any success.
    pub consecutive_errors: u32,
    /// The server asked us to wait until then (429/503 with Retry-After).
    pub retry_after: Option<DateTime<Utc>>,
    /// The feed's own minimum refresh interval (RSS `ttl`, `Cache-Control: max-age`).
    pub min_interval: Option<Duration>,
    /// The server said 410 Gone: never ask again until the config changes.
    pub gone: bool,
}

/// The longest error backoff, whatever the schedule.
pub const MAX_BACKOFF: Duration = Duration::hours(24);

/// Error backoff: 1, 2, 4 ... schedule periods after the last attempt, capped at
/// [`MAX_BACKOFF`], never shorter than the schedule itself. `jitter` in [0, 1) spreads feeds
/// that failed together (say, one host was down) so they do not all retry in the same second.
pub fn error_backoff(period: Duration, consecutive_errors: u32, jitter: f64) -> Duration {
    if consecutive_errors == 0 {
        return Duration::zero();
    }
    let doublings = consecutive_errors.saturating_sub(1).min(16);
    let base = period
        .checked_mul(1 << doublings)
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF.max(period));
    let spread = base.num_milliseconds() as f64 * 0.1 * jitter.clamp(0.0, 1.0);
    base + Duration::milliseconds(spread as i64)
}

/// When to poll a feed next, given when it was last attempted. `None` means never (410 Gone).
pub fn next_due(
    rule: &CronRule,
    last_attempt: DateTime<Utc>,
    hints: PollHints,
    jitter: f64,
) -> Option<DateTime<Utc>> {
    if hints.gone {
        return None;
    }
    let scheduled = rule.next_after(last_attempt)?;
    let mut due = scheduled;
    if let Some(min) = hints.min_interval {
        // A feed's own hint only ever slows us down, and is capped so a typo'd ttl of a year
        // does not silence a feed.
        due = due.max(last_attempt + min.min(MAX_BACKOFF));
    }
    if hints.consecutive_errors > 0 {
        let backoff = error_backoff(rule.period(last_attempt), hints.consecutive_errors, jitter);
        due = due.max(last_attempt + backoff);
    }
    if let Some(retry_after) = hints.retry_after {
        due = due.max(retry_after);
    }
    Some(due)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 4, 15, h, m, 0)
            .single()
            .expect("valid time")
    }

    #[test]
    fn five_and_six_field_rules_parse() {
        let five = CronRule::parse("*/30 * * * *").expect("five fields");
        assert_eq!(five.next_after(at(10, 1)), Some(at(10, 30)));
        let six = CronRule::parse("0 */15 * * * *").expect("six fields");
        assert_eq!(six.next_after(at(10, 1)), Some(at(10, 15)));
        assert_eq!(five.period(at(10, 0)), Duration::minutes(30));
    }

    #[test]
    fn bad_rules_name_the_problem() {
        let err = CronRule::parse("every five minutes").expect_err("not cron");
        assert!(err.to_string().contains("every five minutes"), "{err}");
        let err = CronRule::parse("* * *").expect_err("too few");
        assert!(err.to_string().contains("found 3"), "{err}");
        assert!(CronRule::parse("61 * * * *").is_err());
    }

    #[test]
    fn healthy_feed_follows_its_schedule() {
        let rule = CronRule::parse("*/30 * * * *").expect("rule");
        assert_eq!(
            next_due(&rule, at(10, 0), PollHints::default(), 0.0),
            Some(at(10, 30))
        );
    }

    #[test]
    fn retry_after_wins_over_schedule() {
        let rule = CronRule::parse("*/30 * * * *").expect("rule");
        let hints = PollHints {
            retry_after: Some(at(12, 0)),
            ..PollHints::default()
        };
        assert_eq!(next_due(&rule, at(10, 0), hints, 0.0), Some(at(12, 0)));
    }

    #[test]
    fn errors_back_off_exponentially_and_cap() {
        let rule = CronRule::parse("*/30 * * * *").expect("rule");
        let due = |errors| {
            let hints = PollHints {
                consecutive_errors: errors,
                ..PollHints::default()
            };
            next_due(&rule, at(0, 0), hints, 0.0).expect("due") - at(0, 0)
        };
        assert_eq!(due(1), Duration::minutes(30));
        assert_eq!(due(2), Duration::minutes(60));
        assert_eq!(due(3), Duration::minutes(120));
        assert_eq!(due(30), MAX_BACKOFF);
        // jitter only ever lengthens the wait, by at most a tenth
        let jittered = error_backoff(Duration::minutes(30), 2, 0.99);
        assert!(jittered > Duration::minutes(60) && jittered <= Duration::minutes(66));
    }

    #[test]
    fn gone_feeds_are_never_due_and_hints_only_slow_down() {
        let rule = CronRule::parse("*/30 * * * *").expect("rule");
        let gone = PollHints {
            gone: true,
            ..PollHints::default()
        };
        assert_eq!(next_due(&rule, at(10, 0), gone, 0.0), None);
        let ttl = PollHints {
            min_interval: Some(Duration::hours(2)),
            ..PollHints::default()
        };
        assert_eq!(next_due(&rule, at(10, 0), ttl, 0.0), Some(at(12, 0)));
        let short_ttl = PollHints {
            min_interval: Some(Duration::minutes(5)),
            ..PollHints::default()
        };
        assert_eq!(next_due(&rule, at(10, 0), short_ttl, 0.0), Some(at(10, 30)));
    }
}
