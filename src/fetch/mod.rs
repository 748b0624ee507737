//! Fetch: one HTTP GET of one feed URL, turned into a [`FetchOutcome`].
//!
//! This module owns everything between a URL and the bytes of a feed: the HTTP client and its
//! settings (User-Agent, Accept, rustls, content decoding, redirect policy), conditional GET
//! with stored validators, the total deadline, the cap on the decoded body, and the reading of
//! the response headers the scheduler cares about (Retry-After, Cache-Control max-age).
//!
//! Design decision: [`Fetcher::fetch`] never fails as a Rust error. Every way a fetch can end,
//! including every failure, is a [`FetchOutcome`] value, because for a poller "the server said
//! 429" or "the body was too large" are ordinary results to record and schedule around, not
//! exceptions to propagate; one `match` at the call site then handles them all.

use std::error::Error as StdError;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{StatusCode, redirect};
use thiserror::Error;
use url::Url;

use crate::config::FetchConfig;

pub mod guard;

/// Sent on every request so that feed owners can see who polls them and how to reach us.
pub const USER_AGENT: &str = concat!(
    "tributary/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/tributary-rss/tributary)"
);

/// Feed types first, generic XML next, anything last: some servers content-negotiate and
/// would otherwise hand a poller the HTML page.
pub const ACCEPT: &str = "application/atom+xml, application/rss+xml, application/feed+json;q=0.9, \
                          application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1";

/// How many redirects one fetch follows. Browsers allow about 20; a feed that needs more than
/// 10 hops is misconfigured, and every hop costs a request against the deadline.
pub const MAX_REDIRECTS: usize = 10;

/// The longest Retry-After honoured. A server that asks for a month of silence (or sends a
/// typo) should not be able to stop a feed for that long; a week is plenty of back-off.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// RFC 9111 5.2: a delta-seconds value too large to represent is read as 2^31 seconds.
const MAX_AGE_OVERFLOW: u64 = 1 << 31;

/// The validators a server gave for the copy we hold, sent back on the next poll.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A complete 2xx response. `B` is the body as the fetch hands it over (decoded bytes); the
/// poll carries the same answer on with the body parsed, so one type describes an answer from
/// the wire to the store.
#[derive(Debug)]
pub struct Fetched<B = Vec<u8>> {
    /// The decoded body (gzip, brotli and deflate already undone), at most `max_body` bytes.
    pub body: B,
    /// Where the body came from after redirects; relative links in the feed resolve against it.
    pub final_url: Url,
    pub content_type: Option<String>,
    pub validators: Validators,
    /// Cache-Control max-age: how long the server says this copy stays fresh.
    pub max_age: Option<Duration>,
    /// Where the feed moved, when every redirect on the way was permanent (301/308) and the
    /// new home is https (see [`permanent_move`]).
    pub moved_permanently: Option<Url>,
}

/// How one fetch ended.
#[derive(Debug)]
pub enum FetchOutcome<B = Vec<u8>> {
    Fetched(Fetched<B>),
    /// 304: the copy we hold is current. The validators are the server's new ones where the
    /// 304 carried them, else the ones we sent, so they are always the ones to store.
    NotModified {
        validators: Validators,
        max_age: Option<Duration>,
        moved_permanently: Option<Url>,
    },
    /// 429 or 503; `retry_after` is when the server asked us to come back, if it said so.
    RateLimited {
        status: u16,
        retry_after: Option<DateTime<Utc>>,
    },
    /// 410: the feed is gone for good and should stop being polled.
    Gone,
    Failed(FetchError),
}

impl<B> FetchOutcome<B> {
    /// The 2xx response, for its body to be worked on; any other answer comes back as `Err`,
    /// already typed for whatever body the caller carries on with (nothing to convert).
    #[expect(
        clippy::result_large_err,
        reason = "both sides are answers moved once per poll, not an error path"
    )]
    pub fn into_fetched<C>(self) -> Result<Fetched<B>, FetchOutcome<C>> {
        match self {
            FetchOutcome::Fetched(fetched) => Ok(fetched),
            FetchOutcome::NotModified {
                validators,
                max_age,
                moved_permanently,
            } => Err(FetchOutcome::NotModified {
                validators,
                max_age,
                moved_permanently,
            }),
            FetchOutcome::RateLimited {
                status,
                retry_after,
            } => Err(FetchOutcome::RateLimited {
                status,
                retry_after,
            }),
            FetchOutcome::Gone => Err(FetchOutcome::Gone),
            FetchOutcome::Failed(error) => Err(FetchOutcome::Failed(error)),
        }
    }
}

impl<B> Fetched<B> {
    /// The same response with its body replaced (parsed, say).
    pub fn with_body<C>(self, body: C) -> Fetched<C> {
        Fetched {
            body,
            final_url: self.final_url,
            content_type: self.content_type,
            validators: self.validators,
            max_age: self.max_age,
            moved_permanently: self.moved_permanently,
        }
    }
}

/// Why a fetch failed. Each message names the URL and the problem; the `detail` fields carry
/// the whole source chain flattened into text (so an `{:#}` chain printer shows it once).
/// Second URLs are boxed to keep the error small: it travels inside every `Result` here.
#[derive(Debug, Error)]
pub enum FetchError {
    #[error("cannot set up the HTTP client: {detail}")]
    Client { detail: String },
    /// The SSRF guard refused the address (see [`guard`]).
    #[error("{url}: refused: {reason}")]
    Forbidden { url: Url, reason: String },
    #[error("{url}: scheme `{}` is not supported; only http and https are fetched", .url.scheme())]
    UnsupportedScheme { url: Url },
    #[error("{url}: timed out after {}: no complete response within the deadline", humantime::format_duration(*.after))]
    Timeout { url: Url, after: Duration },
    #[error("{url}: body larger than {limit} bytes{}", declared_note(*.declared))]
    TooLarge {
        url: Url,
        limit: u64,
        /// The Content-Length, when that alone gave the body away.
        declared: Option<u64>,
    },
    #[error("{url}: too many redirects (more than {limit})")]
    TooManyRedirects { url: Url, limit: usize },
    #[error("{url}: redirect loop: redirected back to {target}")]
    RedirectLoop { url: Url, target: Box<Url> },
    #[error("{url}: redirected to {target}, which is not http or https")]
    RedirectScheme { url: Url, target: Box<Url> },
    #[error("{url}: HTTP status {}", status_text(*.status))]
    Status { url: Url, status: u16 },
    #[error("{url}: connection refused: {detail}")]
    ConnectionRefused { url: Url, detail: String },
    #[error("{url}: cannot connect (DNS, TCP or TLS failure): {detail}")]
    Connect { url: Url, detail: String },
    #[error("{url}: reading the body failed (connection broken or content corrupt): {detail}")]
    Body { url: Url, detail: String },
    #[error("{url}: request failed: {detail}")]
    Request { url: Url, detail: String },
}

fn declared_note(declared: Option<u64>) -> String {
    match declared {
        Some(length) => format!(" (Content-Length says {length})"),
        None => String::new(),
    }
}

fn status_text(status: u16) -> String {
    match StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// Why the redirect policy refused to follow a hop. It travels inside the client's error and
/// is found again by [`classify`], so the refusal keeps its type rather than becoming text.
#[derive(Debug, Error)]
enum RedirectRefusal {
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooMany,
    #[error("{0}")]
    Private(String),
    #[error("redirect loop back to {0}")]
    Loop(Url),
    #[error("redirect to {0}, which is not http or https")]
    Scheme(Url),
}

/// The redirect hops of requests in flight, by requested URL: reqwest follows redirects
/// itself and reports only where it ended, so the redirect policy writes down each hop's status
/// here for [`Fetcher::fetch`] to read back.
type Hops = std::sync::Arc<parking_lot::Mutex<std::collections::HashMap<Url, Vec<(u16, Url)>>>>;

/// Fetches feeds. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_body: u64,
    hops: Hops,
}

impl Fetcher {
    pub fn new(config: &FetchConfig) -> Result<Self, FetchError> {
        let hops = Hops::default();
        Ok(Fetcher {
            client: build_client(config, hops.clone())?,
            timeout: config.timeout,
            max_body: config.max_body,
            hops,
        })
    }

    fn hops(&self) -> parking_lot::MutexGuard<'_, std::collections::HashMap<Url, Vec<(u16, Url)>>> {
        self.hops.lock()
    }

    /// GETs `url`, conditionally on `validators`. `now` dates the Retry-After of a rate limit.
    pub async fn fetch(
        &self,
        url: &Url,
        validators: &Validators,
        now: DateTime<Utc>,
    ) -> FetchOutcome {
        if !matches!(url.scheme(), "http" | "https") {
            return FetchOutcome::Failed(FetchError::UnsupportedScheme { url: url.clone() });
        }
        // The client's own timeout already covers connect to last body byte; this outer one
        // bounds everything else we await (and any path where the client's might not apply).
        let exchange = self.exchange(url, validators, now);
        let outcome = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) => FetchOutcome::Failed(error),
            Err(_elapsed) => FetchOutcome::Failed(FetchError::Timeout {
                url: url.clone(),
                after: self.timeout,
            }),
        };
        match &outcome {
            FetchOutcome::Failed(error) => tracing::debug!(%url, %error, "fetch failed"),
            FetchOutcome::Fetched(fetched) => {
                tracing::debug!(%url, bytes = fetched.body.len(), final_url = %fetched.final_url, "fetched");
            }
            other => tracing::debug!(%url, outcome = ?other, "fetch answered without a body"),
        }
        outcome
    }

    async fn exchange(
        &self,
        url: &Url,
        validators: &Validators,
        now: DateTime<Utc>,
    ) -> Result<FetchOutcome, FetchError> {
        let mut request = self.client.get(url.clone());
        if let Some(value) = validator_header(validators.etag.as_deref(), "ETag", url) {
            request = request.header(header::IF_NONE_MATCH, value);
        }
        if let Some(value) =
            validator_header(validators.last_modified.as_deref(), "Last-Modified", url)
        {
            request = request.header(header::IF_MODIFIED_SINCE, value);
        }

        self.hops().remove(url);
        let sent = request.send().await;
        let hops = self.hops().remove(url).unwrap_or_default();
        let mut response = sent.map_err(|e| classify(url, self.timeout, &e))?;
        let moved_permanently = permanent_move(url, &hops);

        let status = response.status();
        let headers = response.headers();
        let max_age = max_age_of(headers);
        let received = validators_of(headers);

        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified {
                validators: Validators {
                    etag: received.etag.or_else(|| validators.etag.clone()),
                    // Kept unless the answer says the feed changed within this very second
                    // (see `validators_of`).
                    last_modified: match headers.get(header::LAST_MODIFIED) {
                        Some(_) => received.last_modified,
                        None => validators.last_modified.clone(),
                    },
                },
                max_age,
                moved_permanently,
            });
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            let retry_after = headers
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, now));
            return Ok(FetchOutcome::RateLimited {
                status: status.as_u16(),
                retry_after,
            });
        }
        if status == StatusCode::GONE {
            return Ok(FetchOutcome::Gone);
        }
        if status.is_redirection()
            && let Some(target) = headers
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|location| response.url().join(location).ok())
            && !matches!(target.scheme(), "http" | "https")
        {
            // The client hands back, unfollowed, a redirect whose target it cannot even
            // request (`file:///etc/passwd`); say so rather than "HTTP status 302".
            return Err(FetchError::RedirectScheme {
                url: url.clone(),
                target: Box::new(target),
            });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.clone(),
                status: status.as_u16(),
            });
        }

        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let final_url = response.url().clone();

        // Only an undecoded body has a known length here (decoding drops Content-Length), and
        // then it is exactly the decoded length: refuse before reading a byte.
        let declared = response.content_length();
        if let Some(length) = declared.filter(|&length| length > self.max_body) {
            return Err(FetchError::TooLarge {
                url: url.clone(),
                limit: self.max_body,
                declared: Some(length),
            });
        }

        // Chunks arrive already decoded, so the cap counts what we would hold in memory and a
        // gzip bomb stops at the cap instead of inflating first.
        let capacity = declared.unwrap_or(0).min(self.max_body);
        let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let total = (body.len() as u64).saturating_add(chunk.len() as u64);
                    if total > self.max_body {
                        return Err(FetchError::TooLarge {
                            url: url.clone(),
                            limit: self.max_body,
                            declared: None,
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => return Err(classify(url, self.timeout, &error)),
            }
        }
        // A `.gz` file served without Content-Encoding is inflated later, by the normaliser;
        // measured here so that the cap holds for what it inflates to, as for a gzip encoding.
        if gzip_file_exceeds(&body, self.max_body) {
            return Err(FetchError::TooLarge {
                url: url.clone(),
                limit: self.max_body,
                declared: None,
            });
        }

        Ok(FetchOutcome::Fetched(Fetched {
            body,
            final_url,
            content_type,
            validators: received,
            max_age,
            moved_permanently,
        }))
    }
}

/// The new home of a feed that moved for good: every hop was a permanent redirect (301 or
/// 308), and the destination is https, so a move never downgrades to plain http.
pub fn permanent_move(requested: &Url, hops: &[(u16, Url)]) -> Option<Url> {
    let (_, last) = hops.last()?;
    let all_permanent = hops.iter().all(|(status, _)| matches!(status, 301 | 308));
    (all_permanent && last.scheme() == "https" && last != requested).then(|| last.clone())
}

/// Whether `body` is a gzip file (by its magic bytes) that inflates to more than `limit` bytes.
/// Inflates into nothing, at most `limit + 1` bytes; a corrupt stream is the normaliser's
/// error to report, so it counts as not too large.
fn gzip_file_exceeds(body: &[u8], limit: u64) -> bool {
    use std::io::Read;
    if !body.starts_with(&[0x1f, 0x8b]) {
        return false;
    }
    let mut inflated = flate2::read::MultiGzDecoder::new(body).take(limit.saturating_add(1));
    std::io::copy(&mut inflated, &mut std::io::sink()).is_ok_and(|length| length > limit)
}

/// Every client setting lives here, so the client is configured in one place.
fn build_client(config: &FetchConfig, hops: Hops) -> Result<reqwest::Client, FetchError> {
    let mut default_headers = HeaderMap::new();
    default_headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
    reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(USER_AGENT)
        .default_headers(default_headers)
        .timeout(config.timeout)
        .redirect(redirect_policy(config.allow_private_networks, hops))
        .dns_resolver(std::sync::Arc::new(guard::GuardedResolver {
            allow_private: config.allow_private_networks,
        }))
        // A feed's URL is nobody's business on the next host.
        .referer(false)
        .gzip(true)
        .brotli(true)
        .deflate(true)
        .build()
        .map_err(|e| FetchError::Client {
            detail: error_chain(&e),
        })
}

/// Follows at most [`MAX_REDIRECTS`] hops, only to http(s), never into private address space
/// (see [`guard`]), and stops at the first revisit.
fn redirect_policy(allow_private: bool, hops: Hops) -> redirect::Policy {
    redirect::Policy::custom(move |attempt| {
        let next = attempt.url().clone();
        if let Some(original) = attempt.previous().first() {
            hops.lock()
                .entry(original.clone())
                .or_default()
                .push((attempt.status().as_u16(), next.clone()));
        }
        let refusal = attempt
            .previous()
            .first()
            .and_then(|original| guard::refuse_redirect(original, &next, allow_private));
        if !matches!(next.scheme(), "http" | "https") {
            attempt.error(RedirectRefusal::Scheme(next))
        } else if let Some(refusal) = refusal {
            attempt.error(RedirectRefusal::Private(refusal))
        } else if attempt.previous().contains(&next) {
            attempt.error(RedirectRefusal::Loop(next))
        } else if attempt.previous().len() > MAX_REDIRECTS {
            // `previous` starts with the requested URL, so its length is the hops so far.
            attempt.error(RedirectRefusal::TooMany)
        } else {
            attempt.follow()
        }
    })
}

/// A stored validator as a header value; one that cannot be sent (it came from an old or
/// corrupt store) is dropped, which costs a full download, not the fetch.
fn validator_header(value: Option<&str>, name: &str, url: &Url) -> Option<HeaderValue> {
    let value = value?;
    match HeaderValue::from_str(value) {
        Ok(value) => Some(value),
        Err(_) => {
            tracing::warn!(%url, validator = name, value, "stored validator is not a valid header value; fetching unconditionally");
            None
        }
    }
}

/// The validators a response carries. A `Last-Modified` less than a second before the
/// response's `Date` is left out (RFC 9110 8.8.2.2 calls it weak): the feed may change again
/// within that same second, and asking `If-Modified-Since` that second would then be answered
/// 304 until the feed changes once more, which for a quiet feed can be days.
fn validators_of(headers: &HeaderMap) -> Validators {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let date = text(header::DATE).and_then(|date| parse_http_date(&date));
    let last_modified =
        text(header::LAST_MODIFIED).filter(|modified| match (parse_http_date(modified), date) {
            (Some(modified), Some(date)) => date - modified >= TimeDelta::seconds(1),
            _ => true,
        });
    Validators {
        etag: text(header::ETAG),
        last_modified,
    }
}

fn max_age_of(headers: &HeaderMap) -> Option<Duration> {
    // Several Cache-Control fields mean the same as one joined with commas (RFC 9110 5.3).
    let joined = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    parse_max_age(&joined)
}

/// The `max-age` directive of a Cache-Control value. Other directives are ignored: the
/// scheduler only wants "how long is this fresh", and `s-maxage` is for shared caches.
pub fn parse_max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let seconds = value.parse::<u64>().unwrap_or(MAX_AGE_OVERFLOW);
        Some(Duration::from_secs(seconds.min(MAX_AGE_OVERFLOW)))
    })
}

/// A Retry-After value as an instant: delta-seconds (`"120"`) counted from `now`, or an
/// HTTP-date in any of the three forms RFC 9110 requires recipients to accept. The result lies
/// in `now ..= now + MAX_RETRY_AFTER`: a negative delay or past date means "now", a huge one is
/// cut to the cap. Anything else is `None`, as if the header were absent.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let value = value.trim();
    let cap = now.checked_add_signed(TimeDelta::from_std(MAX_RETRY_AFTER).ok()?)?;
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if negative {
            return Some(now);
        }
        let seconds = digits
            .parse::<u64>()
            .unwrap_or(u64::MAX)
            .min(MAX_RETRY_AFTER.as_secs());
        let delay = TimeDelta::try_seconds(i64::try_from(seconds).ok()?)?;
        return now.checked_add_signed(delay);
    }
    let at = parse_http_date(value)?;
    Some(at.clamp(now, cap))
}

/// IMF-fixdate, RFC 850 and asctime, the three forms RFC 9110 (5.6.7) makes a recipient accept.
fn parse_http_date(value: &str) -> Option<DateTime<Utc>> {
    httpdate::parse_http_date(value.trim())
        .ok()
        .map(DateTime::from)
}

/// Maps a client error onto the failure kinds callers act on.
fn classify(url: &Url, timeout: Duration, error: &reqwest::Error) -> FetchError {
    let url = url.clone();
    if let Some(private) = find_source::<guard::PrivateAddress>(error) {
        return FetchError::Forbidden {
            url,
            reason: private.to_string(),
        };
    }
    if let Some(refusal) = find_source::<RedirectRefusal>(error) {
        return match refusal {
            RedirectRefusal::Private(reason) => FetchError::Forbidden {
                url,
                reason: reason.clone(),
            },
            RedirectRefusal::TooMany => FetchError::TooManyRedirects {
                url,
                limit: MAX_REDIRECTS,
            },
            RedirectRefusal::Loop(target) => FetchError::RedirectLoop {
                url,
                target: Box::new(target.clone()),
            },
            RedirectRefusal::Scheme(target) => FetchError::RedirectScheme {
                url,
                target: Box::new(target.clone()),
            },
        };
    }
    if error.is_timeout() {
        return FetchError::Timeout {
            url,
            after: timeout,
        };
    }
    let detail = error_chain(error);
    if error.is_connect() {
        let refused = find_source::<std::io::Error>(error)
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
        return if refused {
            FetchError::ConnectionRefused { url, detail }
        } else {
            FetchError::Connect { url, detail }
        };
    }
    // The client reports any failure while reading a body chunk as a decode error, whether
    // the connection broke or the compressed data was corrupt; the chain says which.
    if error.is_body() || error.is_decode() {
        return FetchError::Body { url, detail };
    }
    FetchError::Request { url, detail }
}

fn find_source<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// The messages of an error and its sources, joined with ": ". The client's own top message
/// is generic ("error sending request for url (...)") and repeats the URL we already name, so
/// the chain starts below it when there is something below.
fn error_chain(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = match error.source() {
        Some(source) => Some(source),
        None => Some(error),
    };
    while let Some(e) = current {
        let text = e.to_string();
        // Layers often repeat their inner error's message; say it once.
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, 20, 12, 0, 0)
            .single()
            .expect("valid fixed time")
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid time")
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(
            parse_retry_after("120", now()),
            Some(now() + TimeDelta::seconds(120))
        );
        assert_eq!(
            parse_retry_after("  0 ", now()),
            Some(now()),
            "whitespace is trimmed"
        );
    }

    #[test]
    fn retry_after_http_dates() {
        let expected = Some(at(2026, 10, 21, 7, 28, 0));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", now()),
            expected
        );
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-26 07:28:00 GMT", now()),
            expected
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:00 2026", now()),
            expected
        );
        // RFC 9110's own examples, single-digit day and two-digit year included.
        let example = Some(at(1994, 11, 6, 8, 49, 37));
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), example);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), example);
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), example);
    }

    #[test]
    fn retry_after_is_clamped() {
        let cap = now() + TimeDelta::days(7);
        assert_eq!(parse_retry_after("-30", now()), Some(now()));
        assert_eq!(parse_retry_after("99999999", now()), Some(cap));
        assert_eq!(
            parse_retry_after("999999999999999999999999999", now()),
            Some(cap),
            "overflowing seconds are capped, not refused"
        );
        assert_eq!(
            parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT", now()),
            Some(now()),
            "a past date means now"
        );
        assert_eq!(
            parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now()),
            Some(cap)
        );
    }

    #[test]
    fn retry_after_garbage_is_none() {
        for value in [
            "",
            "soon",
            "1.5",
            "12s",
            "-",
            "1e3",
            "+5",
            "Wed, 99 Oct 2026 07:28:00 GMT",
        ] {
            assert_eq!(parse_retry_after(value, now()), None, "{value:?}");
        }
    }

    #[test]
    fn max_age_parsing() {
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(parse_max_age("max-age=300"), secs(300));
        assert_eq!(
            parse_max_age("public, max-age=60, must-revalidate"),
            secs(60)
        );
        assert_eq!(parse_max_age("Max-Age = 7"), secs(7));
        assert_eq!(parse_max_age("max-age=\"90\""), secs(90));
        assert_eq!(parse_max_age("max-age=0"), secs(0));
        assert_eq!(
            parse_max_age("max-age=99999999999999999999999"),
            secs(1 << 31),
            "overflow reads as 2^31"
        );
        assert_eq!(parse_max_age("max-age=5, max-age=9"), secs(5), "first wins");
        assert_eq!(parse_max_age("s-maxage=60"), None);
        assert_eq!(parse_max_age("no-cache"), None);
        assert_eq!(parse_max_age("max-age=-1"), None);
        assert_eq!(parse_max_age("max-age=soon"), None);
        assert_eq!(parse_max_age("max-age="), None);
        assert_eq!(parse_max_age(""), None);
    }

    #[test]
    fn user_agent_is_honest() {
        assert!(USER_AGENT.starts_with(&format!("tributary/{} ", env!("CARGO_PKG_VERSION"))));
        assert!(USER_AGENT.contains("https://github.com/tributary-rss/tributary"));
    }

    #[test]
    fn gzip_files_are_measured_inflated() {
        use std::io::Write;
        let gzip = |data: &[u8]| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(data).expect("write to memory");
            encoder.finish().expect("finish")
        };
        let zeros = gzip(&[0; 4096]);
        assert!(zeros.len() < 100);
        assert!(gzip_file_exceeds(&zeros, 4095));
        assert!(!gzip_file_exceeds(&zeros, 4096));
        assert!(
            !gzip_file_exceeds(&[0; 4096], 10),
            "not gzip: counted as sent"
        );
        assert!(
            !gzip_file_exceeds(&zeros[..zeros.len() / 2], 10),
            "corrupt: left to the normaliser"
        );
    }

    #[test]
    fn error_stays_small() {
        // clippy's result_large_err threshold; a large error would slow every Ok path too.
        assert!(std::mem::size_of::<FetchError>() <= 128);
    }

    #[test]
    fn messages_name_url_and_problem() {
        let url = Url::parse("https://feeds.example/rss").expect("url");
        let message = FetchError::Status {
            url: url.clone(),
            status: 500,
        }
        .to_string();
        assert_eq!(
            message,
            "https://feeds.example/rss: HTTP status 500 Internal Server Error"
        );
        let message = FetchError::Timeout {
            url: url.clone(),
            after: Duration::from_secs(2),
        }
        .to_string();
        assert!(message.contains("timed out after 2s"), "{message}");
        let message = FetchError::TooLarge {
            url,
            limit: 10,
            declared: Some(20),
        }
        .to_string();
        assert!(message.contains("larger than 10 bytes"), "{message}");
        assert!(message.contains("Content-Length says 20"), "{message}");
    }
}
