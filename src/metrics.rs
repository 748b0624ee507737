//! Metrics: what the daemon counts about its polls, cycles and notifications, rendered in the
//! Prometheus text exposition format (version 0.0.4) for the server's `/metrics`.
//!
//! Design decision: one [`Mutex`] around plain maps, updated by the daemon a handful of times
//! per cycle and read on each scrape. At that rate contention is nil, and a single lock means a
//! scrape sees every series of one update together (a poll's count, duration and items never
//! disagree), which per-series atomics could not promise. There is no registry and no dynamic
//! metric set: the metric names are fixed here, so the renderer is a plain function of the
//! state, and output is sorted by label so two scrapes of the same state are byte-identical.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::poll::{CycleReport, FeedOutcome, FeedReport};

/// The upper bounds (seconds) of the poll-duration histogram's buckets; `+Inf` is implied.
/// From a fast 304 to the default 30 s fetch timeout.
const DURATION_BUCKETS: [f64; 8] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How a poll ended, as the `outcome` label says it. Declared in label order, so a derived
/// `Ord` and [`Outcome::ALL`] both render alphabetically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Error,
    Gone,
    NotModified,
    Ok,
    RateLimited,
    Skipped,
}

impl Outcome {
    const ALL: [Outcome; 6] = [
        Outcome::Error,
        Outcome::Gone,
        Outcome::NotModified,
        Outcome::Ok,
        Outcome::RateLimited,
        Outcome::Skipped,
    ];

    fn of(outcome: &FeedOutcome) -> Outcome {
        match outcome {
            FeedOutcome::Ingested(_) => Outcome::Ok,
            FeedOutcome::NotModified => Outcome::NotModified,
            FeedOutcome::Skipped { .. } | FeedOutcome::SkippedGone => Outcome::Skipped,
            FeedOutcome::RateLimited { .. } => Outcome::RateLimited,
            FeedOutcome::Gone => Outcome::Gone,
            FeedOutcome::Failed(_) => Outcome::Error,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::Error => "error",
            Outcome::Gone => "gone",
            Outcome::NotModified => "not_modified",
            Outcome::Ok => "ok",
            Outcome::RateLimited => "rate_limited",
            Outcome::Skipped => "skipped",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A fixed-bucket histogram. Buckets hold non-cumulative counts; rendering accumulates them.
#[derive(Debug, Clone, Default)]
struct Histogram {
    /// One count per [`DURATION_BUCKETS`] bound, then one for `+Inf`.
    buckets: [u64; DURATION_BUCKETS.len() + 1],
    /// Kept as a `Duration` rather than an `f64` so that many small additions lose nothing.
    sum: Duration,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, value: Duration) {
        let seconds = value.as_secs_f64();
        let bucket = DURATION_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[bucket] += 1;
        self.sum = self.sum.saturating_add(value);
        self.count += 1;
    }
}

#[derive(Debug, Clone, Default)]
struct FeedStats {
    last_success: Option<DateTime<Utc>>,
    consecutive_errors: u32,
    items_ingested: u64,
    polls: [u64; Outcome::ALL.len()],
    duration: Histogram,
}

#[derive(Debug, Clone, Copy, Default)]
struct SinkStats {
    delivered: u64,
    failed: u64,
}

#[derive(Debug, Default)]
struct State {
    /// Keyed by feed name; a `BTreeMap` so rendering is in label order.
    feeds: BTreeMap<String, FeedStats>,
    sinks: BTreeMap<String, SinkStats>,
    stories_created: u64,
    cycles: u64,
    last_cycle: Option<DateTime<Utc>>,
}

/// The daemon's counters and gauges. Share it in an `Arc`: the daemon records, the server
/// renders.
#[derive(Debug, Default)]
pub struct Metrics {
    state: Mutex<State>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Records one feed's poll, as soon as it is done: its outcome, how long it took, the items
    /// it stored, and the feed's health after it (last success, failures in a row).
    ///
    /// A skipped poll is counted but its duration is not observed: nothing was asked, and its
    /// zero would drag the histogram towards a speed no feed has.
    pub fn record_feed(&self, report: &FeedReport) {
        let outcome = Outcome::of(&report.outcome);
        let mut state = self.lock();
        let feed = state.feeds.entry(report.name.clone()).or_default();
        feed.polls[outcome.index()] += 1;
        if outcome != Outcome::Skipped {
            feed.duration.observe(report.elapsed);
        }
        if let FeedOutcome::Ingested(summary) = &report.outcome {
            feed.items_ingested += summary.new_items as u64;
        }
        feed.last_success = report.last_success_at;
        feed.consecutive_errors = report.consecutive_errors;
    }

    /// Records a finished cycle: counts it, stamps it, and adds up the stories its feeds
    /// created.
    ///
    /// The per-feed series are [`Metrics::record_feed`]'s alone and this reads nothing but
    /// the stories from the feeds' reports, so calling both for the same cycle (as the daemon
    /// does) counts nothing twice.
    pub fn record_cycle(&self, report: &CycleReport, at: DateTime<Utc>) {
        let created: u64 = report
            .feeds
            .iter()
            .map(|feed| match &feed.outcome {
                FeedOutcome::Ingested(summary) => summary.new_stories as u64,
                _ => 0,
            })
            .sum();
        let mut state = self.lock();
        state.cycles += 1;
        state.stories_created += created;
        state.last_cycle = Some(at);
    }

    /// Records one delivery attempt to a notification sink.
    pub fn record_notification(&self, sink: &str, delivered: bool) {
        let mut state = self.lock();
        let stats = state.sinks.entry(sink.to_owned()).or_default();
        if delivered {
            stats.delivered += 1;
        } else {
            stats.failed += 1;
        }
    }

    /// The Prometheus text exposition (format version 0.0.4) of every metric.
    ///
    /// Every metric gets its `# HELP` and `# TYPE` even with no series yet, and every known
    /// feed gets every `outcome`, zero included, so `rate()` and absence alerts see a series
    /// from the first scrape rather than from the first failure.
    pub fn render(&self) -> String {
        // The lock is held while formatting: microseconds, and it keeps the scrape consistent.
        let state = self.lock();
        let mut out = String::with_capacity(2048 + state.feeds.len() * 1536);

        header(
            &mut out,
            "tributary_feed_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the feed's last successful poll (200 or 304); 0 if it never succeeded.",
        );
        for (name, feed) in &state.feeds {
            let value = feed.last_success.map_or(0.0, unix_seconds);
            sample(
                &mut out,
                "tributary_feed_last_success_timestamp_seconds",
                &[("feed", name)],
                value,
            );
        }

        header(
            &mut out,
            "tributary_feed_consecutive_errors",
            "gauge",
            "Failed polls of the feed since its last success.",
        );
        for (name, feed) in &state.feeds {
            sample(
                &mut out,
                "tributary_feed_consecutive_errors",
                &[("feed", name)],
                f64::from(feed.consecutive_errors),
            );
        }

        header(
            &mut out,
            "tributary_feed_items_ingested_total",
            "counter",
            "Items stored for the first time from the feed.",
        );
        for (name, feed) in &state.feeds {
            sample(
                &mut out,
                "tributary_feed_items_ingested_total",
                &[("feed", name)],
                feed.items_ingested as f64,
            );
        }

        header(
            &mut out,
            "tributary_feed_polls_total",
            "counter",
            "Polls of the feed, by how they ended.",
        );
        for (name, feed) in &state.feeds {
            for outcome in Outcome::ALL {
                sample(
                    &mut out,
                    "tributary_feed_polls_total",
                    &[("feed", name), ("outcome", outcome.label())],
                    feed.polls[outcome.index()] as f64,
                );
            }
        }

        header(
            &mut out,
            "tributary_feed_poll_duration_seconds",
            "histogram",
            "Time to fetch and parse the feed, skipped polls excluded.",
        );
        for (name, feed) in &state.feeds {
            let histogram = &feed.duration;
            let mut cumulative = 0;
            for (bound, count) in DURATION_BUCKETS.iter().zip(histogram.buckets) {
                cumulative += count;
                sample(
                    &mut out,
                    "tributary_feed_poll_duration_seconds_bucket",
                    &[("feed", name), ("le", &bound.to_string())],
                    cumulative as f64,
                );
            }
            sample(
                &mut out,
                "tributary_feed_poll_duration_seconds_bucket",
                &[("feed", name), ("le", "+Inf")],
                histogram.count as f64,
            );
            sample(
                &mut out,
                "tributary_feed_poll_duration_seconds_sum",
                &[("feed", name)],
                histogram.sum.as_secs_f64(),
            );
            sample(
                &mut out,
                "tributary_feed_poll_duration_seconds_count",
                &[("feed", name)],
                histogram.count as f64,
            );
        }

        header(
            &mut out,
            "tributary_stories_created_total",
            "counter",
            "Stories created: new works, not mirrors joining an existing one.",
        );
        sample(
            &mut out,
            "tributary_stories_created_total",
            &[],
            state.stories_created as f64,
        );

        header(
            &mut out,
            "tributary_cycles_total",
            "counter",
            "Poll cycles finished.",
        );
        sample(&mut out, "tributary_cycles_total", &[], state.cycles as f64);

        header(
            &mut out,
            "tributary_last_cycle_timestamp_seconds",
            "gauge",
            "Unix time the last poll cycle finished; 0 before the first.",
        );
        sample(
            &mut out,
            "tributary_last_cycle_timestamp_seconds",
            &[],
            state.last_cycle.map_or(0.0, unix_seconds),
        );

        header(
            &mut out,
            "tributary_notifications_delivered_total",
            "counter",
            "Notifications the sink accepted.",
        );
        for (sink, stats) in &state.sinks {
            sample(
                &mut out,
                "tributary_notifications_delivered_total",
                &[("sink", sink)],
                stats.delivered as f64,
            );
        }

        header(
            &mut out,
            "tributary_notifications_failed_total",
            "counter",
            "Notification delivery attempts that failed (each retry counts).",
        );
        for (sink, stats) in &state.sinks {
            sample(
                &mut out,
                "tributary_notifications_failed_total",
                &[("sink", sink)],
                stats.failed as f64,
            );
        }

        out
    }

    /// The state, even if a thread panicked while holding the lock: every update is a few
    /// independent additions and assignments, so the worst a panic leaves is one update half
    /// applied, which is better than a daemon that can no longer count or be scraped.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Seconds since the Unix epoch, to the millisecond.
fn unix_seconds(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

/// `# HELP` and `# TYPE` lines. The help texts are constants here, written without the
/// backslashes and newlines the format would need escaped.
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    debug_assert!(!help.contains(['\\', '\n']), "help text needs escaping");
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One sample line: `name{label="value",...} value`.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (label, label_value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(label);
            out.push_str("=\"");
            escape_label_value(out, label_value);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    // Rust prints integral floats without a fraction ("3") and others in the shortest form
    // that reads back exactly; both are valid Go ParseFloat input, which is what the format
    // asks for.
    let _ = writeln!(out, "{value}");
}

/// Escapes a label value as the text format requires: backslash, double quote and line feed.
/// Feed and sink names come from the user's config, so any of them may appear.
fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::ingest::IngestSummary;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0)
            .single()
            .expect("a valid timestamp")
    }

    /// A feed's report; its poll state says when it last succeeded and how many errors since.
    fn report(
        name: &str,
        outcome: FeedOutcome,
        millis: u64,
        last_success: Option<i64>,
        consecutive_errors: u32,
    ) -> FeedReport {
        FeedReport {
            name: name.to_owned(),
            outcome,
            elapsed: Duration::from_millis(millis),
            last_success_at: last_success.map(at),
            consecutive_errors,
        }
    }

    fn ingested(new_items: usize, new_stories: usize) -> FeedOutcome {
        FeedOutcome::Ingested(IngestSummary {
            new_items,
            new_stories,
            ..IngestSummary::default()
        })
    }

    fn cycle(feeds: Vec<FeedReport>) -> CycleReport {
        CycleReport {
            feeds,
            ..CycleReport::default()
        }
    }

    /// What the daemon does: each feed as it finishes, then the cycle.
    fn record_all(metrics: &Metrics, cycle: &CycleReport, at: DateTime<Utc>) {
        for feed in &cycle.feeds {
            metrics.record_feed(feed);
        }
        metrics.record_cycle(cycle, at);
    }

    /// The lines of `text` that start with `prefix`.
    fn lines<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(prefix)).collect()
    }

    #[test]
    fn empty_metrics_still_declare_every_metric() {
        let text = Metrics::new().render();
        for (name, kind) in [
            ("tributary_feed_last_success_timestamp_seconds", "gauge"),
            ("tributary_feed_consecutive_errors", "gauge"),
            ("tributary_feed_items_ingested_total", "counter"),
            ("tributary_feed_polls_total", "counter"),
            ("tributary_feed_poll_duration_seconds", "histogram"),
            ("tributary_stories_created_total", "counter"),
            ("tributary_cycles_total", "counter"),
            ("tributary_last_cycle_timestamp_seconds", "gauge"),
            ("tributary_notifications_delivered_total", "counter"),
            ("tributary_notifications_failed_total", "counter"),
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name} help");
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name} type"
            );
        }
        assert!(text.contains("\ntributary_cycles_total 0\n"));
        assert!(text.contains("\ntributary_last_cycle_timestamp_seconds 0\n"));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn feed_series_follow_the_reports() {
        let metrics = Metrics::new();
        record_all(
            &metrics,
            &cycle(vec![
                report("a", FeedOutcome::Failed("boom".into()), 1_500, None, 4),
                report("b", ingested(3, 2), 200, Some(1_700_000_000), 0),
            ]),
            at(1_700_000_001),
        );
        record_all(
            &metrics,
            &cycle(vec![report(
                "b",
                FeedOutcome::NotModified,
                50,
                Some(1_700_000_600),
                0,
            )]),
            at(1_700_000_601),
        );
        let text = metrics.render();

        assert_eq!(
            lines(&text, "tributary_feed_last_success_timestamp_seconds{"),
            [
                "tributary_feed_last_success_timestamp_seconds{feed=\"a\"} 0",
                "tributary_feed_last_success_timestamp_seconds{feed=\"b\"} 1700000600",
            ]
        );
        assert_eq!(
            lines(&text, "tributary_feed_consecutive_errors{"),
            [
                "tributary_feed_consecutive_errors{feed=\"a\"} 4",
                "tributary_feed_consecutive_errors{feed=\"b\"} 0",
            ]
        );
        assert_eq!(
            lines(&text, "tributary_feed_items_ingested_total{"),
            [
                "tributary_feed_items_ingested_total{feed=\"a\"} 0",
                "tributary_feed_items_ingested_total{feed=\"b\"} 3",
            ]
        );
        assert_eq!(
            lines(&text, "tributary_feed_polls_total{feed=\"b\""),
            [
                "tributary_feed_polls_total{feed=\"b\",outcome=\"error\"} 0",
                "tributary_feed_polls_total{feed=\"b\",outcome=\"gone\"} 0",
                "tributary_feed_polls_total{feed=\"b\",outcome=\"not_modified\"} 1",
                "tributary_feed_polls_total{feed=\"b\",outcome=\"ok\"} 1",
                "tributary_feed_polls_total{feed=\"b\",outcome=\"rate_limited\"} 0",
                "tributary_feed_polls_total{feed=\"b\",outcome=\"skipped\"} 0",
            ]
        );
        assert!(text.contains("tributary_feed_polls_total{feed=\"a\",outcome=\"error\"} 1\n"));
        assert!(text.contains("\ntributary_cycles_total 2\n"));
        assert!(text.contains("\ntributary_last_cycle_timestamp_seconds 1700000601\n"));
    }

    #[test]
    fn every_outcome_has_its_label() {
        let metrics = Metrics::new();
        let until = at(1);
        record_all(
            &metrics,
            &cycle(vec![
                report("f", ingested(0, 0), 1, None, 0),
                report("f", FeedOutcome::NotModified, 1, None, 0),
                report("f", FeedOutcome::Skipped { until }, 0, None, 0),
                report("f", FeedOutcome::SkippedGone, 0, None, 0),
                report("f", FeedOutcome::RateLimited { until: None }, 1, None, 0),
                report("f", FeedOutcome::Gone, 1, None, 0),
                report("f", FeedOutcome::Failed("x".into()), 1, None, 0),
            ]),
            at(2),
        );
        assert_eq!(
            lines(&metrics.render(), "tributary_feed_polls_total{"),
            [
                "tributary_feed_polls_total{feed=\"f\",outcome=\"error\"} 1",
                "tributary_feed_polls_total{feed=\"f\",outcome=\"gone\"} 1",
                "tributary_feed_polls_total{feed=\"f\",outcome=\"not_modified\"} 1",
                "tributary_feed_polls_total{feed=\"f\",outcome=\"ok\"} 1",
                "tributary_feed_polls_total{feed=\"f\",outcome=\"rate_limited\"} 1",
                "tributary_feed_polls_total{feed=\"f\",outcome=\"skipped\"} 2",
            ]
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let metrics = Metrics::new();
        let mut feeds: Vec<_> = [50, 100, 300, 40_000]
            .into_iter()
            .map(|millis| report("f", FeedOutcome::NotModified, millis, None, 0))
            .collect();
        // Skipped polls count as polls but not as durations.
        feeds.push(report("f", FeedOutcome::SkippedGone, 0, None, 0));
        record_all(&metrics, &cycle(feeds), at(1));
        let text = metrics.render();
        assert_eq!(
            lines(&text, "tributary_feed_poll_duration_seconds_"),
            [
                "tributary_feed_poll_duration_seconds_bucket{feed=\"f\",le=\"0.1\"} 2",
                "tributary_feed_poll_duration_seconds_bucket{feed=\"f\",le=\"0.25\"} 2",
                "tributary_feed_poll_duration_seconds_bucket{feed=\"f\",le=\"0.5\"} 3",
                "tributary_feed_poll_duration_seconds_bucket{feed=\"f\",le=\"1\"} 3",
                "tributary_feed_poll_duration_seconds_bucket{feed=\"f\",le=\"2.5\"} 3",
                "tributary_feed_poll_duration_seconds_bucket{feed=\"f\",le=\"5\"} 3",
                "tributary_feed_poll_duration_seconds_bucket{feed=\"f\",le=\"10\"} 3",
                "tributary_feed_poll_duration_seconds_bucket{feed=\"f\",le=\"30\"} 3",
                "tributary_feed_poll_duration_seconds_bucket{feed=\"f\",le=\"+Inf\"} 4",
                "tributary_feed_poll_duration_seconds_sum{feed=\"f\"} 40.45",
                "tributary_feed_poll_duration_seconds_count{feed=\"f\"} 4",
            ]
        );
        assert!(text.contains("tributary_feed_polls_total{feed=\"f\",outcome=\"skipped\"} 1\n"));
    }

    #[test]
    fn cycles_count_created_stories() {
        let metrics = Metrics::new();
        record_all(
            &metrics,
            &cycle(vec![
                report("a", ingested(5, 2), 10, None, 0),
                report("b", ingested(1, 1), 10, None, 0),
                report("c", FeedOutcome::Gone, 10, None, 1),
            ]),
            at(1_700_000_123),
        );
        metrics.record_cycle(&CycleReport::default(), at(1_700_000_999));
        let text = metrics.render();
        assert!(text.contains("\ntributary_stories_created_total 3\n"));
        assert!(text.contains("\ntributary_cycles_total 2\n"));
        assert!(text.contains("\ntributary_last_cycle_timestamp_seconds 1700000999\n"));
    }

    #[test]
    fn notifications_are_counted_per_sink() {
        let metrics = Metrics::new();
        metrics.record_notification("team", true);
        metrics.record_notification("team", true);
        metrics.record_notification("alerts", false);
        let text = metrics.render();
        assert_eq!(
            lines(&text, "tributary_notifications_"),
            [
                "tributary_notifications_delivered_total{sink=\"alerts\"} 0",
                "tributary_notifications_delivered_total{sink=\"team\"} 2",
                "tributary_notifications_failed_total{sink=\"alerts\"} 1",
                "tributary_notifications_failed_total{sink=\"team\"} 0",
            ]
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let metrics = Metrics::new();
        record_all(
            &metrics,
            &cycle(vec![report(
                "a\"b\\c\nd",
                FeedOutcome::NotModified,
                1,
                None,
                0,
            )]),
            at(1),
        );
        metrics.record_notification("x\ny", true);
        let text = metrics.render();
        assert!(
            text.contains("tributary_feed_consecutive_errors{feed=\"a\\\"b\\\\c\\nd\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("tributary_notifications_delivered_total{sink=\"x\\ny\"} 1\n"));
        // No raw newline reaches the output: every line is a comment or a sample.
        for line in text.lines() {
            assert!(
                line.starts_with("# ") || line.starts_with("tributary_"),
                "{line:?}"
            );
        }
    }

    #[test]
    fn fractional_timestamps_keep_milliseconds() {
        let metrics = Metrics::new();
        let when = at(1_700_000_000) + chrono::Duration::milliseconds(250);
        metrics.record_cycle(&CycleReport::default(), when);
        assert!(
            metrics
                .render()
                .contains("\ntributary_last_cycle_timestamp_seconds 1700000000.25\n")
        );
    }

    #[test]
    fn rendering_is_sorted_by_label() {
        let metrics = Metrics::new();
        let feeds = ["zeta", "alpha", "mid"]
            .into_iter()
            .map(|name| report(name, ingested(1, 1), 5, Some(1), 0))
            .collect();
        record_all(&metrics, &cycle(feeds), at(2));
        for sink in ["zeta", "alpha"] {
            metrics.record_notification(sink, true);
        }
        let text = metrics.render();
        assert_eq!(text, metrics.render());
        assert_eq!(
            lines(&text, "tributary_feed_consecutive_errors{"),
            [
                "tributary_feed_consecutive_errors{feed=\"alpha\"} 0",
                "tributary_feed_consecutive_errors{feed=\"mid\"} 0",
                "tributary_feed_consecutive_errors{feed=\"zeta\"} 0",
            ]
        );
        assert_eq!(
            lines(&text, "tributary_notifications_delivered_total{"),
            [
                "tributary_notifications_delivered_total{sink=\"alpha\"} 1",
                "tributary_notifications_delivered_total{sink=\"zeta\"} 1",
            ]
        );
    }

    #[test]
    fn metrics_are_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Metrics>();
    }
}
