//! What a page of the site costs as history grows: `cargo bench --bench site`.
//!
//! Builds a store of 100,000 stories (each a post of about 2 KB of HTML; a third with an
//! episode and its audio file, half with a mirror's copy), then measures `/` (50 stories,
//! read and rendered, as the server does it minus the socket) on its first page and on a page
//! deep in history, and one story's explain view. The cost should not depend on how many
//! stories are stored: a page reads its own rows through the indexes.
//!
//! Arguments (optional): the story count, e.g. `cargo bench --bench site -- 10000`.

use std::time::{Duration as Elapsed, Instant};

use chrono::{DateTime, Duration, TimeZone, Utc};
use tributary::config::Config;
use tributary::dedupe::ItemKeys;
use tributary::model::{Enclosure, Item, ItemKind, MatchReason, MemberRole};
use tributary::site::{self, Settings};
use tributary::store::{NewItem, PageStart, SiteReader, Store};

/// Runs per measurement; the median and the 99th percentile are reported.
const RUNS: usize = 300;

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// About 2 KB of post HTML, different per story.
fn body(n: usize) -> String {
    let mut out = String::with_capacity(2_200);
    let mut i = 0;
    while out.len() < 2_000 {
        out.push_str(&format!(
            "<p>Paragraph {i} of work {n}: small models, long tails, and the cost of serving \
             them <a href=\"https://origin.example/ref/{n}/{i}\">as cited</a>.</p>"
        ));
        i += 1;
    }
    out
}

fn item(source: &str, n: usize, kind: ItemKind, published: DateTime<Utc>) -> Item {
    Item {
        source: source.into(),
        guid: format!("{source}-{n}"),
        link: Some(format!("https://{source}.example/p/{n}")),
        title: format!("Work number {n}: what small models are for"),
        authors: vec!["A. Writer".into()],
        published: Some(published),
        updated: None,
        summary: Some(format!("<p>The short version of work {n}.</p>")),
        content: (kind == ItemKind::Post).then(|| body(n)),
        categories: vec!["models".into()],
        kind,
        enclosure: (kind == ItemKind::Episode).then(|| Enclosure {
            url: format!("https://audio.example/{n}.mp3"),
            mime_type: Some("audio/mpeg".into()),
            length: Some(10_000_000),
        }),
        duration: None,
        image: None,
        podcast: Default::default(),
    }
}

fn build(store: &mut Store, stories: usize) {
    let ids: Vec<i64> = ["origin", "pod", "mirror"]
        .iter()
        .map(|name| store.source(name).expect("source").id)
        .collect();
    let keys = ItemKeys::default();
    let now = base_time();
    for chunk in (0..stories).step_by(10_000) {
        let write = store.begin_write().expect("write");
        for n in chunk..(chunk + 10_000).min(stories) {
            let published =
                base_time() + Duration::minutes(i64::try_from(n).expect("a bench-sized count") * 5);
            let story = write
                .create_story(&format!("urn:bench:{n}"), published, now)
                .expect("story");
            let mut members = vec![(0_i64, ItemKind::Post, "origin", MemberRole::Post)];
            if n % 3 == 0 {
                members.push((1, ItemKind::Episode, "pod", MemberRole::Episode));
            }
            if n % 2 == 0 {
                members.push((2, ItemKind::Post, "mirror", MemberRole::Copy));
            }
            for (index, kind, source, member_role) in members {
                let item = item(source, n, kind, published + Duration::hours(index));
                write
                    .insert_item(
                        &NewItem {
                            source_id: ids[usize::try_from(index).expect("a member index")],
                            item: &item,
                            content_hash: "bench",
                            keys: &keys,
                            published: published + Duration::hours(index),
                            story_id: story,
                            reason: if index == 0 {
                                MatchReason::New
                            } else {
                                MatchReason::Url
                            },
                            score: 1.0,
                            member_role,
                        },
                        now,
                    )
                    .expect("item");
            }
        }
        write.commit().expect("commit");
    }
}

/// Median and 99th percentile of `RUNS` runs of `run`, after a warm-up.
fn measure(mut run: impl FnMut() -> usize) -> (Elapsed, Elapsed, usize) {
    let mut bytes = 0;
    for _ in 0..10 {
        bytes = run();
    }
    let mut times: Vec<Elapsed> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            bytes = run();
            started.elapsed()
        })
        .collect();
    times.sort();
    (times[RUNS / 2], times[RUNS * 99 / 100], bytes)
}

fn main() {
    let stories = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let config = Config::parse(
        "[[feeds]]\nname = \"origin\"\nurl = \"https://origin.example/feed\"\n\
         [[feeds]]\nname = \"pod\"\nurl = \"https://pod.example/feed\"\n\
         [[feeds]]\nname = \"mirror\"\nurl = \"https://mirror.example/feed\"\nrole = \"mirror\"\n",
        "bench",
    )
    .expect("bench config");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(dir.path().join("bench.db")).expect("store");
    store.sync_sources(&config.feeds).expect("sources");
    let started = Instant::now();
    build(&mut store, stories);
    println!(
        "built {stories} stories in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let settings = Settings::from_config(&config, None);
    let mut reader = SiteReader::open(dir.path().join("bench.db")).expect("reader");
    let deep = stories / site::STORIES_PER_PAGE / 2;
    println!("| page | median | p99 | HTML bytes |");
    println!("|---|---:|---:|---:|");
    // The story the link to page `deep` names: the last one of the page before it.
    let before_deep = reader
        .story_page(
            PageStart::Offset((deep - 1) * site::STORIES_PER_PAGE - 1),
            1,
        )
        .expect("the story before page deep")
        .stories[0]
        .number;
    for (label, page, after) in [
        ("/ (first page, 50 stories)".to_owned(), 1, None),
        (format!("/?page={deep} (50 stories)"), deep, None),
        (
            format!("/?page={deep}&after={before_deep} (50 stories, the \"older\" link)"),
            deep,
            Some(before_deep),
        ),
    ] {
        let (median, p99, bytes) = measure(|| {
            site::index_page(&mut reader, &settings, page, after)
                .expect("page")
                .into_string()
                .len()
        });
        println!("| {label} | {median:.2?} | {p99:.2?} | {bytes} |");
    }
    let number = i64::try_from(stories / 2).expect("a bench-sized count");
    let (median, p99, bytes) = measure(|| {
        site::explain_page(&mut reader, &settings, number)
            .expect("explain")
            .into_string()
            .len()
    });
    println!("| /stories/{number} | {median:.2?} | {p99:.2?} | {bytes} |");
}
