//! Precision on real feeds: every well-formed real feed of `../shared/corpus` polled together
//! by the real binary, on SQLite and on PostgreSQL, and no story may hold two items of one feed.
//!
//! Distinct items of one feed are distinct works however much they share: a podcast whose
//! every episode carries the same sponsor footer, a weblog whose posts differ only in the
//! anchor of one day's page. Folding them would lose items and their notifications, so this is
//! checked on the real shapes of the corpus, not only on hand-made fixtures.
//!
//! The corpus is read at run time, never copied into the repository. Without `../shared` the
//! test passes with a note, unless `TRIBUTARY_REQUIRE_SHARED=1` (as in CI).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use tributary::store::Store;

use crate::common::backend::{Backend, each_backend};
use crate::common::binary::assert_success;
use crate::common::server::{Reply, TestServer};

each_backend!(no_story_holds_two_items_of_one_real_feed);
fn no_story_holds_two_items_of_one_real_feed(backend: &Backend) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let Ok(manifest) = std::fs::read_to_string(root.join("MANIFEST.tsv")) else {
        assert!(
            std::env::var("TRIBUTARY_REQUIRE_SHARED").as_deref() != Ok("1"),
            "TRIBUTARY_REQUIRE_SHARED=1 but {} is missing",
            root.display()
        );
        println!("skipped: {} not found", root.display());
        return;
    };
    // Real captures, well-formed and not broken on purpose: the feeds a user would follow.
    let files: Vec<String> = manifest
        .lines()
        .skip(1)
        .filter_map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            let real = columns.get(8) == Some(&"real");
            let well_formed = columns.get(6).is_some_and(|c| c.starts_with("yes"));
            let on_purpose = columns.get(7).is_some_and(|c| c.starts_with("yes"));
            (real && well_formed && !on_purpose).then(|| columns[0].to_owned())
        })
        .collect();
    assert!(
        files.len() > 100,
        "only {} real feeds in the manifest",
        files.len()
    );

    let bodies: HashMap<String, Vec<u8>> = files
        .iter()
        .enumerate()
        .filter_map(|(index, file)| {
            let bytes = std::fs::read(root.join(file)).ok()?;
            Some((format!("/feed-{index}"), bytes))
        })
        .collect();
    let server = TestServer::start(move |request| match bodies.get(request.path()) {
        Some(body) => Reply::ok(body.clone()),
        None => Reply::not_found(),
    });
    let ws = backend.workspace();
    let names: Vec<String> = (0..files.len()).map(|i| format!("corpus-{i}")).collect();
    let feeds: Vec<(&str, String, &str)> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            (
                name.as_str(),
                server.url(&format!("/feed-{i}")).to_string(),
                "origin",
            )
        })
        .collect();
    let config = ws.write_config("corpus.toml", &feeds, "");
    let poll = ws.run(&["--config", config.to_str().expect("utf-8 path"), "poll"]);
    assert_success(&poll);

    let store = Store::open(ws.target()).expect("open the store");
    let stories = store.stories(usize::MAX).expect("read the stories");
    let items: usize = stories.iter().map(|s| s.members.len()).sum();
    let mut folded_across_feeds = 0;
    let mut offences = Vec::new();
    for story in &stories {
        let mut per_feed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for member in &story.members {
            per_feed
                .entry(&member.stored.item.source)
                .or_default()
                .push(&member.stored.item.guid);
        }
        if per_feed.len() > 1 {
            folded_across_feeds += 1;
        }
        for (feed, guids) in per_feed.into_iter().filter(|(_, g)| g.len() > 1) {
            let file = feed
                .strip_prefix("corpus-")
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| files.get(i))
                .map_or(feed, String::as_str);
            offences.push(format!(
                "story {} holds {} items of {file}: {guids:?}",
                story.id,
                guids.len()
            ));
        }
    }
    println!(
        "corpus: {} feeds, {items} items, {} stories, {folded_across_feeds} stories across feeds",
        files.len(),
        stories.len()
    );
    assert!(
        offences.is_empty(),
        "{} stories hold two items of one feed:\n{}",
        offences.len(),
        offences.join("\n")
    );
}
