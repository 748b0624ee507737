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
/// hold it once. One pointer, so that each feed of a long list holds 8 bytes for its rule.
#[derive(Debug, Clone)]
pub struct CronRule(Arc<ParsedRule>);

#[derive(Debug)]
struct ParsedRule {
    expression: String,
    schedule: cron::Schedule,
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
        Ok(CronRule(Arc::new(ParsedRule {
            expression: expression.to_owned(),
            schedule,
        })))
    }

    pub fn expression(&self) -> &str {
        &self.0.expression
    }

    /// The first tick strictly after `after`. Missed ticks are never replayed: the caller asks
    /// from "now", so a machine waking from suspend polls once, not once per missed tick.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0.schedule.after(&after).next()
    }

    /// The smallest gap between two ticks, sampled over the next few ticks: the ceiling for
    /// error backoff, so a dead feed is never asked more often than its schedule allows.
    pub fn period(&self, from: DateTime<Utc>) -> Duration {
        let ticks: Vec<_> = self.0.schedule.after(&from).take(4).collect();
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

/// How much [`backoff`]'s jitter may lengthen a wait: a tenth.
const JITTER_SPREAD: f64 = 0.1;

/// Exponential backoff with jitter, the one formula for a feed that keeps failing (`first` is
/// its schedule period, `cap` [`MAX_BACKOFF`]) and for a notification that keeps failing
/// (`notify::retry`): `first` after the first failure, doubling with each failure after it, at
/// most `cap` but never less than `first`, then lengthened by up to a tenth by `jitter` in
/// [0, 1). `failures` counts the one just seen; 0 means no wait.
///
/// Jitter only ever lengthens, so a feed is never asked sooner than its schedule, and things
/// that failed together (one host down, one receiver down) come back spread out rather than
/// in the same second. The caller picks the jitter so that the schedule stays reproducible.
pub fn backoff(first: Duration, cap: Duration, failures: u32, jitter: f64) -> Duration {
    if failures == 0 {
        return Duration::zero();
    }
    let cap = cap.max(first);
    let doublings = (failures - 1).min(30);
    let base = first.checked_mul(1 << doublings).unwrap_or(cap).min(cap);
    let spread = base.num_milliseconds() as f64 * JITTER_SPREAD * jitter.clamp(0.0, 1.0);
    #[expect(
        clippy::cast_possible_truncation,
        reason = "at most a tenth of `base` in milliseconds, which is an i64 already"
    )]
    let spread = spread as i64;
    base + Duration::milliseconds(spread)
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
        let wait = backoff(
            rule.period(last_attempt),
            MAX_BACKOFF,
            hints.consecutive_errors,
            jitter,
        );
        due = due.max(last_attempt + wait);
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
    }

    /// The one backoff formula, for feeds (first = the schedule's period, capped at a day)
    /// and for notifications (first = 1 s, capped at an hour).
    #[test]
    fn backoff_doubles_is_capped_and_jitter_only_lengthens() {
        let (m, s) = (Duration::minutes, Duration::seconds);
        let ms = Duration::milliseconds;
        #[rustfmt::skip]
        let cases = [
            // first,  cap,           failures, jitter, wait
            (m(30),    MAX_BACKOFF,   0,        0.5,    Duration::zero()),
            (m(30),    MAX_BACKOFF,   1,        0.0,    m(30)),
            (m(30),    MAX_BACKOFF,   2,        0.0,    m(60)),
            (m(30),    MAX_BACKOFF,   3,        0.0,    m(120)),
            (m(30),    MAX_BACKOFF,   30,       0.0,    MAX_BACKOFF),
            (m(30),    MAX_BACKOFF,   u32::MAX, 0.0,    MAX_BACKOFF),
            (m(30),    MAX_BACKOFF,   2,        0.99,   m(60) + ms(356_400)),
            (m(30),    MAX_BACKOFF,   30,       0.5,    MAX_BACKOFF + m(72)),
            // A schedule slower than the cap: never more often than the schedule.
            (m(48 * 60), MAX_BACKOFF, 3,        0.0,    m(48 * 60)),
            (s(1),     m(60),         1,        0.0,    s(1)),
            (s(1),     m(60),         1,        0.5,    ms(1_050)),
            (s(1),     m(60),         5,        0.0,    s(16)),
            (s(1),     m(60),         13,       0.0,    m(60)),
            // Jitter outside [0, 1) is clamped, never a shorter or runaway wait.
            (s(1),     m(60),         2,        -3.0,   s(2)),
            (s(1),     m(60),         2,        7.0,    ms(2_200)),
        ];
        for (first, cap, failures, jitter, wait) in cases {
            assert_eq!(
                backoff(first, cap, failures, jitter),
                wait,
                "{first} {cap} {failures} {jitter}"
            );
        }
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
