//! Dedupe matching cost as history grows: `cargo bench --bench dedupe`.
//!
//! Builds stores of 1k, 10k and 100k stories from synthetic items, then measures the cost of
//! matching one new item (candidate lookup through the indexes plus the decision) for a mix of
//! mirrors of stored stories and genuinely new items. The cost should stay flat as the store
//! grows: candidates come from indexes, never from a scan.
//!
//! Arguments (optional): the story counts to measure, e.g. `cargo bench --bench dedupe -- 1000 10000`.

use std::collections::HashSet;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tributary::config::Config;
use tributary::dedupe::{self, Decision, Decorations, Probe, Thresholds};
use tributary::ingest::{self, IngestContext};
use tributary::model::{Item, ItemKind, Role};
use tributary::normalize::ParsedItem;
use tributary::store::{PollState, Store};

/// A small deterministic generator, so every run builds the same corpus.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    #[expect(
        clippy::cast_possible_truncation,
        reason = "the remainder is below `n`, which is a usize"
    )]
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const VOCABULARY: usize = 5_000;

fn word(i: usize) -> String {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ren", "tu", "sa", "vel", "or", "pi", "dan", "ge", "hu", "ny", "bro",
        "ste", "qua",
    ];
    let mut w = String::new();
    let mut n = i + 17;
    while n > 0 {
        w.push_str(SYLLABLES[n % 16]);
        n /= 16;
    }
    w
}

fn text(rng: &mut XorShift, words: usize) -> String {
    let mut out = String::from("<p>");
    for i in 0..words {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&word(rng.below(VOCABULARY)));
    }
    out.push_str("</p>");
    out
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

fn item(n: usize, rng: &mut XorShift) -> Item {
    Item {
        source: "origin".into(),
        guid: format!("item-{n}"),
        link: Some(format!("https://origin.example/p/{n}")),
        title: (0..6)
            .map(|_| word(rng.below(VOCABULARY)))
            .collect::<Vec<_>>()
            .join(" "),
        authors: vec![],
        // Spread over a year, as real history is.
        published: Some(
            base_time()
                + Duration::minutes(i64::try_from(n * 7 % 525_600).expect("less than a year")),
        ),
        updated: None,
        summary: None,
        content: Some(text(rng, 400)),
        categories: vec![],
        kind: ItemKind::Post,
        enclosure: None,
        duration: None,
        image: None,
        podcast: Default::default(),
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        sizes
    };
    let config = Config::parse(
        "[[feeds]]\nname = \"origin\"\nurl = \"https://origin.example/feed\"\n\
         [[feeds]]\nname = \"mirror\"\nurl = \"https://mirror.example/feed\"\nrole = \"mirror\"\n",
        "bench",
    )
    .expect("bench config");
    let thresholds = Thresholds::default();
    println!(
        "| stored stories | build (s) | match, mirrors (us/item) | match, new items (us/item) | joined | new |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for &size in &sizes {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(dir.path().join("bench.db")).expect("store");
        store.sync_sources(&config.feeds).expect("sources");
        let origin = store.source("origin").expect("origin");
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let started = Instant::now();
        let mut stored = Vec::with_capacity(size);
        for chunk_start in (0..size).step_by(1_000) {
            let chunk: Vec<Item> = (chunk_start..(chunk_start + 1_000).min(size))
                .map(|n| item(n, &mut rng))
                .collect();
            ingest::ingest(
                &mut store,
                &origin,
                &chunk
                    .iter()
                    .cloned()
                    .map(ParsedItem::from)
                    .collect::<Vec<_>>(),
                &PollState::default(),
                &IngestContext::default(),
                base_time(),
            )
            .expect("ingest");
            stored.extend(chunk);
        }
        let build = started.elapsed();

        // Probes: mirrors (retitled, retruncated copies at another URL) and new items.
        let probes = 1_000;
        let mirrors: Vec<Item> = (0..probes)
            .map(|i| {
                let original = &stored[rng.below(stored.len())];
                let body = original.content.as_deref().unwrap_or_default();
                Item {
                    source: "mirror".into(),
                    guid: format!("mirror-{i}"),
                    link: Some(format!("https://mirror.example/a/{i}")),
                    title: format!("{} | Mirror", original.title),
                    content: Some(body.chars().take(body.len() / 3).collect()),
                    ..original.clone()
                }
            })
            .collect();
        let fresh: Vec<Item> = (0..probes)
            .map(|i| item(size + 10_000 + i, &mut rng))
            .collect();

        let tx = store.begin_write().expect("tx");
        let decorations = Decorations::default();
        let measure = |items: &[Item], role: Role| {
            let mut joined = 0;
            let started = Instant::now();
            for probe_item in items {
                let probe = Probe::new(
                    probe_item,
                    role,
                    probe_item.published.unwrap_or_default(),
                    &decorations,
                    &HashSet::new(),
                );
                let candidates = tx.candidates(&probe, &decorations).expect("candidates");
                if let Decision::Join { .. } = dedupe::decide(&probe, &candidates, &thresholds) {
                    joined += 1;
                }
            }
            (
                started.elapsed().as_secs_f64() * 1e6 / items.len() as f64,
                joined,
            )
        };
        // Mirrors are asked everything (quotations too); new items come from an origin feed.
        let (mirror_cost, mirror_joined) = measure(&mirrors, Role::Mirror);
        let (fresh_cost, fresh_joined) = measure(&fresh, Role::Origin);
        drop(tx);
        println!(
            "| {size} | {:.1} | {mirror_cost:.0} | {fresh_cost:.0} | {mirror_joined}/{probes} mirrors | {}/{probes} new |",
            build.as_secs_f64(),
            probes - fresh_joined,
        );
    }
}
