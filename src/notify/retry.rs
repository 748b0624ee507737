//! The retry policy: how a receiver's answer is taken (delivered, retried, refused for good),
//! when a failed delivery is tried again, and when it is given up.
//!
//! Design decision: the policy is pure (answers and times in, verdicts and times out), so every
//! service's way of saying "later" is unit-tested; the backoff is the project's one formula
//! ([`crate::schedule::backoff`]), with its jitter drawn from the delivery's key so retries of
//! different stories spread out while a delivery's schedule stays reproducible.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use sha2::{Digest, Sha256};

use super::message;
use super::wire::service;
use crate::config::{NotifyConfig, SinkKind};
use crate::fetch::MAX_RETRY_AFTER;
use crate::schedule;
use crate::store::Delivery;

/// The first retry comes after 1-1.1 s (jittered), then 2-2.2 s, 4-4.4 s ... up to an hour:
/// a blip is bridged at once, an outage is not hammered.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);
pub const BACKOFF_MAX: Duration = Duration::from_secs(3600);

/// A 429 without a usable Retry-After waits at least this long.
pub const RATE_LIMIT_FLOOR: Duration = Duration::from_secs(5);

/// No retry sooner than this, whatever the server said, so a `Retry-After: 0` cannot spin.
const RETRY_FLOOR: Duration = Duration::from_secs(1);

/// How a receiver's answer is taken.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Acknowledged; with the service's id of the message when its answer gave one.
    Delivered { remote_id: Option<String> },
    /// Try again, not before `not_before` when the service said so.
    Retry {
        not_before: Option<DateTime<Utc>>,
        rate_limited: bool,
        error: String,
    },
    /// Refused for good (a 4xx other than 408 and 429): retrying cannot help.
    Permanent { error: String },
}

/// A non-negative, finite number of seconds as a duration, capped like any Retry-After.
pub fn seconds(value: f64) -> Option<Duration> {
    (value.is_finite() && value >= 0.0)
        .then(|| Duration::from_secs_f64(value.min(MAX_RETRY_AFTER.as_secs_f64())))
}

/// A `Retry-After` value: seconds (Discord sends fractions) or an HTTP date, which is held
/// within `now ..= now + MAX_RETRY_AFTER`. `None` for anything else, negative seconds
/// included, as if the header were absent.
fn retry_after_header(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Some(wait) = value.parse::<f64>().ok().and_then(seconds) {
        return Some(now + chrono::Duration::from_std(wait).ok()?);
    }
    let at: SystemTime = httpdate::parse_http_date(value).ok()?;
    let cap = now + chrono::Duration::from_std(MAX_RETRY_AFTER).ok()?;
    Some(DateTime::<Utc>::from(at).clamp(now, cap))
}

/// Reads a response: 2xx delivered; 408, 429 and 5xx (and anything odd) retried, with the
/// service's wait honoured (the `Retry-After` header, and whatever the service says in its own
/// style), whichever is longest; other 4xx permanent.
pub fn classify(
    kind: SinkKind,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Verdict {
    if (200..300).contains(&status) {
        return Verdict::Delivered { remote_id: None };
    }
    let error = describe(status, body);
    if (400..500).contains(&status) && status != 408 && status != 429 {
        return Verdict::Permanent { error };
    }
    let from_header = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after_header(v, now));
    let from_service = (service(kind).retry_after)(headers, body)
        .and_then(|wait| chrono::Duration::from_std(wait).ok())
        .map(|wait| now + wait);
    Verdict::Retry {
        not_before: from_header.into_iter().chain(from_service).max(),
        rate_limited: status == 429,
        error,
    }
}

/// `HTTP 500 Internal Server Error: <start of the body>`.
fn describe(status: u16, body: &[u8]) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = format!("HTTP {status} {reason}").trim_end().to_owned();
    if !text.is_empty() {
        out.push_str(": ");
        out.push_str(&message::truncate_chars(&text, 200));
    }
    out
}

/// The wait after a delivery's failure number `attempts + 1`: [`schedule::backoff`] from
/// [`BACKOFF_FIRST`] up to [`BACKOFF_MAX`], its jitter drawn from the key and the attempt.
pub fn backoff(key: &str, attempts: u32) -> chrono::Duration {
    let digest = Sha256::new()
        .chain_update(key.as_bytes())
        .chain_update(attempts.to_be_bytes())
        .finalize();
    let jitter = f64::from(u16::from_be_bytes([digest[0], digest[1]])) / 65_536.0;
    let std = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    schedule::backoff(
        std(BACKOFF_FIRST),
        std(BACKOFF_MAX),
        attempts.saturating_add(1),
        jitter,
    )
}

/// When to try a failed unit again: the service's word when it gave one, else the backoff of
/// the unit's first delivery (at least [`RATE_LIMIT_FLOOR`] after a 429).
pub fn retry_at(
    first: &Delivery,
    not_before: Option<DateTime<Utc>>,
    rate_limited: bool,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    if let Some(not_before) = not_before {
        return not_before;
    }
    let mut at = now + backoff(&first.idempotency_key, first.attempts);
    if rate_limited {
        at = at.max(now + chrono::Duration::from_std(RATE_LIMIT_FLOOR).unwrap_or_default());
    }
    at
}

/// When a delivery is given up: `max_age` after it was created.
pub fn deadline(config: &NotifyConfig, delivery: &Delivery) -> DateTime<Utc> {
    delivery.created_at
        + chrono::Duration::from_std(config.max_age).unwrap_or(chrono::Duration::MAX)
}

/// A retry time no sooner than [`RETRY_FLOOR`] and no later than the delivery's deadline
/// (where the next pass gives it up).
pub fn clamp_retry(
    config: &NotifyConfig,
    delivery: &Delivery,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let floor = now + chrono::Duration::from_std(RETRY_FLOOR).unwrap_or_default();
    at.min(deadline(config, delivery)).max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_776_300_000, 0).expect("time")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    fn retry_at(verdict: Verdict) -> Option<DateTime<Utc>> {
        match verdict {
            Verdict::Retry { not_before, .. } => not_before,
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn statuses_are_delivered_retried_or_permanent() {
        let none = HeaderMap::new();
        for status in [200, 201, 202, 204] {
            assert_eq!(
                classify(SinkKind::Webhook, status, &none, b"", now()),
                Verdict::Delivered { remote_id: None }
            );
        }
        for status in [400, 401, 403, 404, 409, 410, 413, 422] {
            assert!(
                matches!(
                    classify(SinkKind::Slack, status, &none, b"no_service", now()),
                    Verdict::Permanent { .. }
                ),
                "{status}"
            );
        }
        for status in [408, 429, 500, 502, 503, 504, 302] {
            assert!(
                matches!(
                    classify(SinkKind::Slack, status, &none, b"", now()),
                    Verdict::Retry { .. }
                ),
                "{status}"
            );
        }
        let Verdict::Permanent { error } =
            classify(SinkKind::Slack, 404, &none, b"no_service\n", now())
        else {
            panic!("permanent");
        };
        assert_eq!(error, "HTTP 404 Not Found: no_service");
    }

    #[test]
    fn retry_after_headers_are_seconds_or_http_dates() {
        let at = |value: &str| {
            retry_at(classify(
                SinkKind::Slack,
                429,
                &headers(&[("retry-after", value)]),
                b"",
                now(),
            ))
        };
        let secs = |n: i64| Some(now() + chrono::Duration::seconds(n));
        assert_eq!(at("30"), secs(30));
        assert_eq!(
            at(" 2.5 "),
            Some(now() + chrono::Duration::milliseconds(2_500))
        );
        // IMF-fixdate, and the obsolete RFC 850 and asctime forms, all 90 s from now.
        assert_eq!(at("Thu, 16 Apr 2026 00:41:30 GMT"), secs(90));
        assert_eq!(at("Thursday, 16-Apr-26 00:41:30 GMT"), secs(90));
        assert_eq!(at("Thu Apr 16 00:41:30 2026"), secs(90));
        // A date in the past is now; one years away is the cap.
        assert_eq!(at("Wed, 15 Apr 2026 00:41:40 GMT"), Some(now()));
        assert_eq!(
            at("Sun, 16 Apr 2028 00:41:30 GMT"),
            Some(now() + chrono::Duration::from_std(MAX_RETRY_AFTER).expect("cap"))
        );
        for junk in ["soon", "-5", "NaN", ""] {
            assert_eq!(at(junk), None, "{junk}");
        }
        // ntfy's 429 has a JSON body and no header: a plain rate-limited retry.
        let verdict = classify(
            SinkKind::Ntfy,
            429,
            &HeaderMap::new(),
            br#"{"code":42901,"http":429,"error":"limit reached: too many requests"}"#,
            now(),
        );
        assert!(
            matches!(
                verdict,
                Verdict::Retry {
                    not_before: None,
                    rate_limited: true,
                    ..
                }
            ),
            "{verdict:?}"
        );
    }

    #[test]
    fn discord_retry_after_comes_from_the_body_or_its_headers() {
        let body =
            br#"{"message": "You are being rate limited.", "retry_after": 2.5, "global": false}"#;
        let at = retry_at(classify(
            SinkKind::Discord,
            429,
            &HeaderMap::new(),
            body,
            now(),
        ));
        assert_eq!(at, Some(now() + chrono::Duration::milliseconds(2_500)));
        // The longest of header and body wins.
        let at = retry_at(classify(
            SinkKind::Discord,
            429,
            &headers(&[("retry-after", "4")]),
            body,
            now(),
        ));
        assert_eq!(at, Some(now() + chrono::Duration::seconds(4)));
        let at = retry_at(classify(
            SinkKind::Discord,
            429,
            &headers(&[("x-ratelimit-reset-after", "1.25")]),
            b"",
            now(),
        ));
        assert_eq!(at, Some(now() + chrono::Duration::milliseconds(1_250)));
    }

    #[test]
    fn matrix_retry_after_ms_is_honoured() {
        let body =
            br#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":2000}"#;
        let at = retry_at(classify(
            SinkKind::Matrix,
            429,
            &HeaderMap::new(),
            body,
            now(),
        ));
        assert_eq!(at, Some(now() + chrono::Duration::seconds(2)));
    }

    /// The formula's table is `schedule`'s; here only what notify adds: the jitter from the key.
    #[test]
    fn backoff_jitter_comes_from_the_key_and_attempt() {
        for attempts in 0..8 {
            let full = chrono::Duration::seconds(1 << attempts);
            let wait = backoff("key", attempts);
            assert!(
                wait >= full && wait <= full + full / 10,
                "{attempts}: {wait}"
            );
        }
        assert!(backoff("key", 40) >= chrono::Duration::seconds(3600));
        assert!(backoff("key", u32::MAX) <= chrono::Duration::seconds(3960));
        assert_ne!(backoff("a", 3), backoff("b", 3));
        assert_eq!(backoff("a", 3), backoff("a", 3));
    }
}
