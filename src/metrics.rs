//! Metrics: what the daemon counts about its polls, cycles and notifications, exposed through
//! `prometheus-client` in the OpenMetrics text format for the server's `/metrics`.
//!
//! Design decision: one [`Mutex`] around plain maps, updated by the daemon a handful of times
//! per cycle, and one custom [`Collector`] that reads them all under that lock on each scrape.
//! At that rate contention is nil, and the single lock means a scrape sees every series of one
//! update together (a poll's count, duration and items never disagree), which the crate's
//! per-series atomic metrics could not promise. The metric set is fixed here and output is
//! sorted by label, so two scrapes of the same state are byte-identical.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelValue, LabelValueEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use strum::{EnumCount, IntoEnumIterator};

use crate::poll::{CycleReport, FeedOutcome, FeedReport, PollStatus};

/// What `/metrics` answers with: the text format [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The upper bounds (seconds) of the poll-duration histogram's buckets; `+Inf` is implied.
/// From a fast 304 to the default 30 s fetch timeout.
const DURATION_BUCKETS: [f64; 8] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// A fixed-bucket histogram. Buckets hold non-cumulative counts, as the encoder takes them.
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

    /// `(upper bound, count)` pairs; the encoder writes `f64::MAX` as `+Inf`.
    fn buckets(&self) -> Vec<(f64, u64)> {
        DURATION_BUCKETS
            .into_iter()
            .chain([f64::MAX])
            .zip(self.buckets)
            .collect()
    }
}

#[derive(Debug, Clone, Default)]
struct FeedStats {
    last_success: Option<DateTime<Utc>>,
    consecutive_errors: u32,
    items_ingested: u64,
    polls: [u64; PollStatus::COUNT],
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
#[derive(Debug)]
pub struct Metrics {
    state: Arc<Mutex<State>>,
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let state = Arc::new(Mutex::new(State::default()));
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Scrape(Arc::clone(&state))));
        Metrics { state, registry }
    }

    /// Records one feed's poll, as soon as it is done: its outcome, how long it took, the items
    /// it stored, and the feed's health after it (last success, failures in a row).
    ///
    /// A skipped poll is counted but its duration is not observed: nothing was asked, and its
    /// zero would drag the histogram towards a speed no feed has.
    pub fn record_feed(&self, report: &FeedReport) {
        let outcome = report.outcome.status();
        let mut state = self.state.lock();
        let feed = state.feeds.entry(report.name.clone()).or_default();
        feed.polls[outcome as usize] += 1;
        if outcome != PollStatus::Skipped {
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
        let created = report.totals.new_stories as u64;
        let mut state = self.state.lock();
        state.cycles += 1;
        state.stories_created += created;
        state.last_cycle = Some(at);
    }

    /// Records one delivery attempt to a notification sink.
    pub fn record_notification(&self, sink: &str, delivered: bool) {
        let mut state = self.state.lock();
        let stats = state.sinks.entry(sink.to_owned()).or_default();
        if delivered {
            stats.delivered += 1;
        } else {
            stats.failed += 1;
        }
    }

    /// The OpenMetrics text exposition of every metric, served as [`CONTENT_TYPE`].
    ///
    /// Every metric gets its `# HELP` and `# TYPE` even with no series yet, and every known
    /// feed gets every `outcome`, zero included, so `rate()` and absence alerts see a series
    /// from the first scrape rather than from the first failure.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail, and the collector fails only when its writer does.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The one collector: every series, read under one lock per scrape (see the module header).
/// The lock is held while formatting: microseconds, and it keeps the scrape consistent.
#[derive(Debug)]
struct Scrape(Arc<Mutex<State>>);

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let state = self.0.lock();

        let mut metric = encoder.encode_descriptor(
            "tributary_feed_last_success_timestamp_seconds",
            "Unix time of the feed's last successful poll (200 or 304); 0 if it never succeeded.",
            None,
            MetricType::Gauge,
        )?;
        for (name, feed) in &state.feeds {
            let value = feed.last_success.map_or(0.0, unix_seconds);
            metric
                .encode_family(&[("feed", Escaped(name))])?
                .encode_gauge(&value)?;
        }

        let mut metric = encoder.encode_descriptor(
            "tributary_feed_consecutive_errors",
            "Failed polls of the feed since its last success.",
            None,
            MetricType::Gauge,
        )?;
        for (name, feed) in &state.feeds {
            metric
                .encode_family(&[("feed", Escaped(name))])?
                .encode_gauge(&feed.consecutive_errors)?;
        }

        let mut metric = encoder.encode_descriptor(
            "tributary_feed_items_ingested",
            "Items stored for the first time from the feed.",
            None,
            MetricType::Counter,
        )?;
        for (name, feed) in &state.feeds {
            counter(
                &mut metric.encode_family(&[("feed", Escaped(name))])?,
                feed.items_ingested,
            )?;
        }

        let mut metric = encoder.encode_descriptor(
            "tributary_feed_polls",
            "Polls of the feed, by how they ended.",
            None,
            MetricType::Counter,
        )?;
        for (name, feed) in &state.feeds {
            for outcome in PollStatus::iter() {
                let labels = [
                    ("feed", Escaped(name)),
                    ("outcome", Escaped(outcome.into())),
                ];
                counter(
                    &mut metric.encode_family(&labels)?,
                    feed.polls[outcome as usize],
                )?;
            }
        }

        let mut metric = encoder.encode_descriptor(
            "tributary_feed_poll_duration_seconds",
            "Time to fetch and parse the feed, skipped polls excluded.",
            None,
            MetricType::Histogram,
        )?;
        for (name, feed) in &state.feeds {
            let histogram = &feed.duration;
            metric
                .encode_family(&[("feed", Escaped(name))])?
                .encode_histogram::<NoLabelSet>(
                    histogram.sum.as_secs_f64(),
                    histogram.count,
                    &histogram.buckets(),
                    None,
                )?;
        }

        let mut metric = encoder.encode_descriptor(
            "tributary_stories_created",
            "Stories created: new works, not mirrors joining an existing one.",
            None,
            MetricType::Counter,
        )?;
        counter(&mut metric, state.stories_created)?;

        let mut metric = encoder.encode_descriptor(
            "tributary_cycles",
            "Poll cycles finished.",
            None,
            MetricType::Counter,
        )?;
        counter(&mut metric, state.cycles)?;

        let mut metric = encoder.encode_descriptor(
            "tributary_last_cycle_timestamp_seconds",
            "Unix time the last poll cycle finished; 0 before the first.",
            None,
            MetricType::Gauge,
        )?;
        metric.encode_gauge(&state.last_cycle.map_or(0.0, unix_seconds))?;

        let mut metric = encoder.encode_descriptor(
            "tributary_notifications_delivered",
            "Notifications the sink accepted.",
            None,
            MetricType::Counter,
        )?;
        for (sink, stats) in &state.sinks {
            counter(
                &mut metric.encode_family(&[("sink", Escaped(sink))])?,
                stats.delivered,
            )?;
        }

        let mut metric = encoder.encode_descriptor(
            "tributary_notifications_failed",
            "Notification delivery attempts that failed (each retry counts).",
            None,
            MetricType::Counter,
        )?;
        for (sink, stats) in &state.sinks {
            counter(
                &mut metric.encode_family(&[("sink", Escaped(sink))])?,
                stats.failed,
            )?;
        }
        Ok(())
    }
}

/// One counter sample, without an exemplar.
fn counter(metric: &mut MetricEncoder<'_>, value: u64) -> fmt::Result {
    metric.encode_counter::<NoLabelSet, _, u64>(&value, None)
}

/// Seconds since the Unix epoch, to the millisecond.
fn unix_seconds(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

/// A label value, escaped as the text format requires (backslash, double quote, line feed).
/// Feed and sink names come from the user's config, so any of them may appear, and
/// prometheus-client writes label values as given (client_rust issue 151).
struct Escaped<'a>(&'a str);

impl EncodeLabelValue for Escaped<'_> {
    fn encode(&self, out: &mut LabelValueEncoder<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => out.write_str("\\\\")?,
                '"' => out.write_str("\\\"")?,
                '\n' => out.write_str("\\n")?,
                c => out.write_char(c)?,
            }
        }
        Ok(())
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

    /// What the daemon does: each feed as it finishes, then the cycle.
    fn record_all(metrics: &Metrics, feeds: Vec<FeedReport>, at: DateTime<Utc>) {
        let mut cycle = CycleReport::default();
        for feed in feeds {
            metrics.record_feed(&feed);
            cycle.record(feed);
        }
        metrics.record_cycle(&cycle, at);
    }

    /// The lines of `text` that start with `prefix`.
    fn lines<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(prefix)).collect()
    }

    #[test]
    fn empty_metrics_still_declare_every_metric() {
        let text = Metrics::new().render();
        // OpenMetrics names a counter's family without the `_total` its samples carry.
        for (name, kind) in [
            ("tributary_feed_last_success_timestamp_seconds", "gauge"),
            ("tributary_feed_consecutive_errors", "gauge"),
            ("tributary_feed_items_ingested", "counter"),
            ("tributary_feed_polls", "counter"),
            ("tributary_feed_poll_duration_seconds", "histogram"),
            ("tributary_stories_created", "counter"),
            ("tributary_cycles", "counter"),
            ("tributary_last_cycle_timestamp_seconds", "gauge"),
            ("tributary_notifications_delivered", "counter"),
            ("tributary_notifications_failed", "counter"),
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name} help");
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name} type"
            );
        }
        assert!(text.contains("\ntributary_cycles_total 0\n"));
        assert!(text.contains("\ntributary_last_cycle_timestamp_seconds 0.0\n"));
        assert!(text.ends_with("\n# EOF\n"), "{text}");
    }

    #[test]
    fn feed_series_follow_the_reports() {
        let metrics = Metrics::new();
        record_all(
            &metrics,
            vec![
                report("a", FeedOutcome::Failed("boom".into()), 1_500, None, 4),
                report("b", ingested(3, 2), 200, Some(1_700_000_000), 0),
            ],
            at(1_700_000_001),
        );
        record_all(
            &metrics,
            vec![report(
                "b",
                FeedOutcome::NotModified,
                50,
                Some(1_700_000_600),
                0,
            )],
            at(1_700_000_601),
        );
        let text = metrics.render();

        assert_eq!(
            lines(&text, "tributary_feed_last_success_timestamp_seconds{"),
            [
                "tributary_feed_last_success_timestamp_seconds{feed=\"a\"} 0.0",
                "tributary_feed_last_success_timestamp_seconds{feed=\"b\"} 1700000600.0",
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
        assert!(text.contains("\ntributary_last_cycle_timestamp_seconds 1700000601.0\n"));
    }

    #[test]
    fn every_outcome_has_its_label() {
        let metrics = Metrics::new();
        let until = at(1);
        record_all(
            &metrics,
            vec![
                report("f", ingested(0, 0), 1, None, 0),
                report("f", FeedOutcome::NotModified, 1, None, 0),
                report("f", FeedOutcome::Skipped { until }, 0, None, 0),
                report("f", FeedOutcome::SkippedGone, 0, None, 0),
                report("f", FeedOutcome::RateLimited { until: None }, 1, None, 0),
                report("f", FeedOutcome::Gone, 1, None, 0),
                report("f", FeedOutcome::Failed("x".into()), 1, None, 0),
            ],
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
        record_all(&metrics, feeds, at(1));
        let text = metrics.render();
        assert_eq!(
            lines(&text, "tributary_feed_poll_duration_seconds_"),
            [
                "tributary_feed_poll_duration_seconds_sum{feed=\"f\"} 40.45",
                "tributary_feed_poll_duration_seconds_count{feed=\"f\"} 4",
                "tributary_feed_poll_duration_seconds_bucket{le=\"0.1\",feed=\"f\"} 2",
                "tributary_feed_poll_duration_seconds_bucket{le=\"0.25\",feed=\"f\"} 2",
                "tributary_feed_poll_duration_seconds_bucket{le=\"0.5\",feed=\"f\"} 3",
                "tributary_feed_poll_duration_seconds_bucket{le=\"1.0\",feed=\"f\"} 3",
                "tributary_feed_poll_duration_seconds_bucket{le=\"2.5\",feed=\"f\"} 3",
                "tributary_feed_poll_duration_seconds_bucket{le=\"5.0\",feed=\"f\"} 3",
                "tributary_feed_poll_duration_seconds_bucket{le=\"10.0\",feed=\"f\"} 3",
                "tributary_feed_poll_duration_seconds_bucket{le=\"30.0\",feed=\"f\"} 3",
                "tributary_feed_poll_duration_seconds_bucket{le=\"+Inf\",feed=\"f\"} 4",
            ]
        );
        assert!(text.contains("tributary_feed_polls_total{feed=\"f\",outcome=\"skipped\"} 1\n"));
    }

    #[test]
    fn cycles_count_created_stories() {
        let metrics = Metrics::new();
        record_all(
            &metrics,
            vec![
                report("a", ingested(5, 2), 10, None, 0),
                report("b", ingested(1, 1), 10, None, 0),
                report("c", FeedOutcome::Gone, 10, None, 1),
            ],
            at(1_700_000_123),
        );
        metrics.record_cycle(&CycleReport::default(), at(1_700_000_999));
        let text = metrics.render();
        assert!(text.contains("\ntributary_stories_created_total 3\n"));
        assert!(text.contains("\ntributary_cycles_total 2\n"));
        assert!(text.contains("\ntributary_last_cycle_timestamp_seconds 1700000999.0\n"));
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
            vec![report("a\"b\\c\nd", FeedOutcome::NotModified, 1, None, 0)],
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
        record_all(&metrics, feeds, at(2));
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

    /// The value of the one sample line that starts with `prefix`.
    fn value(text: &str, prefix: &str) -> u64 {
        let line = lines(text, prefix);
        let [line] = line.as_slice() else {
            panic!("one {prefix} line in {text}");
        };
        line.rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("an integer sample")
    }

    #[test]
    fn a_scrape_never_sees_half_an_update() {
        let metrics = Arc::new(Metrics::new());
        let writer = {
            let metrics = Arc::clone(&metrics);
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    metrics.record_feed(&report("f", ingested(1, 0), 5, Some(1), 0));
                }
            })
        };
        for _ in 0..200 {
            let text = metrics.render();
            if text.contains("feed=\"f\"") {
                let items = value(&text, "tributary_feed_items_ingested_total{");
                let polls = value(
                    &text,
                    "tributary_feed_polls_total{feed=\"f\",outcome=\"ok\"}",
                );
                let observed = value(&text, "tributary_feed_poll_duration_seconds_count{");
                assert_eq!((items, polls), (observed, observed), "{text}");
            }
        }
        writer.join().expect("the writer finished");
        let text = metrics.render();
        assert_eq!(value(&text, "tributary_feed_items_ingested_total{"), 2_000);
    }

    #[test]
    fn metrics_are_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Metrics>();
    }
}
