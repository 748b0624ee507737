//! Corrections through the real binary: `stories split` and `stories merge` against feeds
//! served from 127.0.0.1, then polls that edit the corrected items, with a webhook sink
//! listening. A correction must survive every later poll and must never notify.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value;

use crate::common::backend::{Backend, each_backend};
use crate::common::binary::{Workspace, assert_success, stderr, stdout};
use crate::common::server::{Reply, TestServer};

const ESSAY: &str = "Distilling the long tail";
const HARNESS: &str = "Evaluation harnesses on one machine";
const REVIEW: &str = "Cheap long-context tests, reviewed";

const ESSAY_TEXT: &str = "Every few months a large lab releases a model that is bigger and slower \
    than the last one, and every few months the share of real requests it serves shrinks. Most \
    requests are routine work such as sorting tickets, summarising threads and pulling dates out \
    of contracts, and a distilled model a tenth of the size handles them well enough at a cost \
    nobody has to think about. The long tail of small shops and public institutions can then \
    run it on a laptop without asking anyone for permission.";
const HARNESS_TEXT: &str = "An evaluation harness that runs on one machine changes who gets to \
    test long-context models. Until now a serious run needed a cluster, a budget and a week of \
    waiting; the new harness streams the documents from disk, caches the prompts, and finishes \
    the standard suite overnight on a desktop with one graphics card, so a graduate student can \
    check a claim before repeating it.";
const REVIEW_TEXT: &str = "We spent a weekend with three tools that promise cheap long-context \
    testing. Two of them crashed on our larger documents and one silently truncated every \
    input at eight thousand tokens, which made its scores look wonderful. Our advice is to read \
    the fine print about truncation, pin your versions, and keep a tiny hand-checked set of \
    questions whose answers you know by heart.";
const TIDES_TEXT: &str = "Tides run late in narrow estuaries because the water has to squeeze \
    through the channel before it can rise in the harbour, and the delay grows with every bend \
    the river takes on its way to the sea, which is why the tables for a harbour town can differ \
    by an hour from those for the coast only a few miles away.";

/// One `<item>` of an RSS feed.
struct Entry {
    guid: &'static str,
    title: &'static str,
    link: &'static str,
    date: &'static str,
    body: String,
}

fn rss(title: &str, entries: &[Entry]) -> String {
    let items: String = entries
        .iter()
        .map(|e| {
            format!(
                "<item><title>{}</title><link>{}</link><guid isPermaLink=\"false\">{}</guid>\
                 <pubDate>{}</pubDate><description><![CDATA[<p>{}</p>]]></description></item>",
                e.title, e.link, e.guid, e.date, e.body
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>\
         <title>{title}</title><link>https://{title}.example/</link>\
         <description>test feed</description>{items}</channel></rss>"
    )
}

fn essay() -> Entry {
    Entry {
        guid: "writer-essay",
        title: ESSAY,
        link: "https://writer.example/p/distilling",
        date: "Tue, 14 Apr 2026 09:00:00 GMT",
        body: ESSAY_TEXT.to_owned(),
    }
}

fn harness() -> Entry {
    Entry {
        guid: "writer-harness",
        title: HARNESS,
        link: "https://writer.example/p/harness",
        date: "Fri, 10 Apr 2026 09:00:00 GMT",
        body: HARNESS_TEXT.to_owned(),
    }
}

fn tides() -> Entry {
    Entry {
        guid: "writer-tides",
        title: "Why tides run late",
        link: "https://writer.example/p/tides",
        date: "Mon, 20 Apr 2026 09:00:00 GMT",
        body: TIDES_TEXT.to_owned(),
    }
}

/// The digest's copy of the essay; `edited` adds an editor's note (same guid).
fn essay_copy(edited: bool) -> Entry {
    let note = if edited {
        " Editor's note: the release dates above were corrected."
    } else {
        ""
    };
    Entry {
        guid: "digest-101",
        title: ESSAY,
        link: "https://digest.example/a/101",
        date: "Tue, 14 Apr 2026 15:00:00 GMT",
        body: format!("{ESSAY_TEXT}{note}"),
    }
}

/// The digest's own review, which the matcher rightly keeps apart from the harness post.
fn review(edited: bool) -> Entry {
    let note = if edited {
        " Update: one tool fixed it."
    } else {
        ""
    };
    Entry {
        guid: "digest-102",
        title: REVIEW,
        link: "https://digest.example/a/102",
        date: "Sat, 11 Apr 2026 12:00:00 GMT",
        body: format!("{REVIEW_TEXT}{note}"),
    }
}

/// A third site's copy of the essay: it matches the writer's post and the digest's copy.
fn roundup_copy() -> Entry {
    Entry {
        guid: "roundup-7",
        title: ESSAY,
        link: "https://roundup.example/r/7",
        date: "Tue, 14 Apr 2026 18:00:00 GMT",
        body: ESSAY_TEXT.to_owned(),
    }
}

const FEEDS: &[(&str, &str)] = &[
    ("writer", "origin"),
    ("digest", "mirror"),
    ("roundup", "mirror"),
];

/// Three feeds whose contents the test changes between polls, a webhook receiver, and a
/// workspace whose config points at both.
struct Scenario {
    feeds: Arc<Mutex<HashMap<String, String>>>,
    _server: TestServer,
    hook: TestServer,
    ws: Workspace,
    config: PathBuf,
}

impl Scenario {
    /// The writer's essay and harness post; the digest's copy of the essay and its review; an
    /// empty roundup. One poll in: three stories, and the first poll was silent backfill.
    fn start(backend: &Backend) -> Scenario {
        let feeds: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let served = Arc::clone(&feeds);
        let server = TestServer::start(move |request| {
            let name = request.path().trim_start_matches('/');
            served
                .lock()
                .get(name)
                .map_or_else(Reply::not_found, |body| Reply::ok(body.clone()))
        });
        let hook = TestServer::routes([("/hook", Reply::ok("ok"))]);
        let ws = backend.workspace();
        let config = ws.write_config(
            "t.toml",
            &FEEDS
                .iter()
                .map(|(name, role)| (*name, server.url(name).to_string(), *role))
                .collect::<Vec<_>>(),
            &format!(
                "[[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n",
                hook.url("/hook")
            ),
        );
        let scenario = Scenario {
            feeds,
            _server: server,
            hook,
            ws,
            config,
        };
        scenario.serve("writer", &[essay(), harness()]);
        scenario.serve("digest", &[essay_copy(false), review(false)]);
        scenario.serve("roundup", &[]);
        scenario.poll();
        scenario
    }

    fn serve(&self, feed: &str, entries: &[Entry]) {
        self.feeds
            .lock()
            .insert(feed.to_owned(), rss(feed, entries));
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["--config", self.config.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        self.ws.run(&all)
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert_success(&output);
        stdout(&output)
    }

    /// Runs a command that must fail, and returns what it said.
    fn refused(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stdout(&output)
        );
        stderr(&output)
    }

    fn poll(&self) -> String {
        self.ok(&["poll"])
    }

    fn stories(&self) -> Vec<Value> {
        self.ok(&["stories", "--json"])
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON object per line"))
            .collect()
    }

    /// The number of the story holding `feed`'s item titled `title`, and that item's number.
    fn find(&self, feed: &str, title: &str) -> (i64, i64) {
        let stories = self.stories();
        stories
            .iter()
            .find_map(|story| {
                story["members"]
                    .as_array()?
                    .iter()
                    .find(|m| m["feed"] == feed && m["title"] == title)
                    .and_then(|m| Some((story["number"].as_i64()?, m["item"].as_i64()?)))
            })
            .unwrap_or_else(|| panic!("no {feed} item `{title}` in {stories:#?}"))
    }

    fn story(&self, number: i64) -> Value {
        let object = self.ok(&["stories", "--json", "--explain", &number.to_string()]);
        serde_json::from_str(object.trim()).expect("one JSON object")
    }
}

fn member_feeds(story: &Value) -> Vec<String> {
    let mut feeds: Vec<String> = story["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["feed"].as_str().expect("feed").to_owned())
        .collect();
    feeds.sort();
    feeds
}

each_backend!(json_lists_every_story_with_its_members);
fn json_lists_every_story_with_its_members(backend: &Backend) {
    let s = Scenario::start(backend);
    let stories = s.stories();
    assert_eq!(stories.len(), 3, "{stories:#?}");
    let (essay_story, post) = s.find("writer", ESSAY);
    let (copy_story, copy) = s.find("digest", ESSAY);
    assert_eq!(essay_story, copy_story, "the copy joined the post");
    let story = stories
        .iter()
        .find(|story| story["number"] == essay_story)
        .expect("listed");
    let keys: Vec<&str> = story
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4);
    for key in ["number", "atom_id", "title", "members"] {
        assert!(keys.contains(&key), "{key}: {story}");
    }
    assert_eq!(story["title"], ESSAY);
    assert!(
        story["atom_id"]
            .as_str()
            .expect("atom id")
            .starts_with("urn:tributary:story:")
    );
    // The feeds are polled side by side, so either item may have started the story; how the
    // other one matched is the matcher's business.
    let evidence: Vec<&Value> = story["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| &m["evidence"])
        .collect();
    assert_eq!(
        evidence.iter().filter(|e| **e == "new").count(),
        1,
        "{story}"
    );
    let mut lead = story["members"][0].clone();
    lead["evidence"] = Value::Null;
    lead["score"] = Value::Null;
    assert_eq!(
        lead,
        serde_json::json!({
            "item": post, "feed": "writer", "role": "origin", "kind": "post",
            "member_role": "post", "title": ESSAY, "link": "https://writer.example/p/distilling",
            "evidence": null, "score": null,
        }),
        "the origin's post leads"
    );
    let (harness_story, harness_post) = s.find("writer", HARNESS);
    let harness = s.story(harness_story);
    assert_eq!(harness["members"][0]["item"], harness_post);
    assert_eq!(harness["members"][0]["evidence"], "new");
    assert_eq!(harness["corrections"], serde_json::json!([]));
    let mirror = &story["members"][1];
    assert_eq!(
        (
            &mirror["item"],
            &mirror["role"],
            &mirror["member_role"],
            &mirror["link"]
        ),
        (
            &Value::from(copy),
            &Value::from("mirror"),
            &Value::from("copy"),
            &Value::from("https://digest.example/a/101")
        )
    );

    let limited = s.ok(&["stories", "--json", "--limit", "1"]);
    assert_eq!(limited.lines().count(), 1);
    let newest: Value = serde_json::from_str(limited.trim()).expect("json");
    assert_eq!(newest["number"], essay_story, "newest first");
}

each_backend!(corrections_survive_later_polls_and_notify_nobody);
fn corrections_survive_later_polls_and_notify_nobody(backend: &Backend) {
    let s = Scenario::start(backend);
    let (essay_story, _) = s.find("writer", ESSAY);
    let (_, copy) = s.find("digest", ESSAY);
    let (harness_story, _) = s.find("writer", HARNESS);
    let (review_story, _) = s.find("digest", REVIEW);
    assert_ne!(harness_story, review_story);
    let harness_atom_id = s.story(harness_story)["atom_id"].clone();
    let review_atom_id = s.story(review_story)["atom_id"].clone();

    let said = s.ok(&["stories", "split", &copy.to_string()]);
    assert!(said.contains(&format!("item {copy}")), "{said}");
    let (split_story, _) = s.find("digest", ESSAY);
    assert_ne!(split_story, essay_story);
    let alone = s.story(split_story);
    assert_eq!(member_feeds(&alone), ["digest"]);
    assert_eq!(alone["members"][0]["evidence"], "manual");
    assert_eq!(
        alone["corrections"],
        serde_json::json!([{
            "action": "split", "item": copy, "story": split_story, "other": essay_story,
            "at": alone["corrections"][0]["at"],
        }])
    );
    assert_eq!(member_feeds(&s.story(essay_story)), ["writer"]);
    let explain = s.ok(&["stories", "--explain", &split_story.to_string()]);
    assert!(
        explain.contains(&format!(
            "split by hand: item {copy} moved here from story {essay_story} on "
        )),
        "{explain}"
    );
    assert!(
        explain.contains(&format!("item {copy}, feed digest")),
        "{explain}"
    );
    assert!(explain.contains("evidence manual"), "{explain}");
    let explain = s.ok(&["stories", "--explain", &essay_story.to_string()]);
    assert!(
        explain.contains(&format!("item {copy} moved out to story {split_story}")),
        "{explain}"
    );

    let said = s.ok(&[
        "stories",
        "merge",
        &harness_story.to_string(),
        review_atom_id.as_str().expect("atom id"),
    ]);
    assert!(
        said.contains(&format!(
            "story {review_story} folded into story {harness_story}"
        )),
        "{said}"
    );
    let merged = s.story(harness_story);
    assert_eq!(member_feeds(&merged), ["digest", "writer"]);
    assert_eq!(merged["atom_id"], harness_atom_id);
    let explain = s.ok(&["stories", "--explain", &harness_story.to_string()]);
    assert!(
        explain.contains(&format!(
            "merged by hand: story {review_story} folded in on "
        )),
        "{explain}"
    );
    assert!(
        explain.contains("founded the story;"),
        "the harness post started its story alone: {explain}"
    );
    assert!(
        explain.contains("put here by hand: evidence manual, score 1.00"),
        "{explain}"
    );

    // Both corrected items are edited at their source (same guids) and polled again.
    s.serve("digest", &[essay_copy(true), review(true)]);
    let out = s.poll();
    assert!(out.contains("2 updated"), "{out}");
    let alone = s.story(split_story);
    assert_eq!(
        member_feeds(&alone),
        ["digest"],
        "the split item stays apart"
    );
    assert_eq!(alone["members"][0]["evidence"], "manual");
    assert_eq!(member_feeds(&s.story(essay_story)), ["writer"]);
    assert_eq!(
        member_feeds(&s.story(harness_story)),
        ["digest", "writer"],
        "still merged"
    );
    assert_eq!(s.stories().len(), 3);

    let feed = s.ws.merged_feed();
    let ids: Vec<&str> = feed.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(
        ids.iter()
            .filter(|id| **id == harness_atom_id.as_str().expect("atom id"))
            .count(),
        1,
        "one entry keeps the kept story's Atom id: {ids:?}"
    );
    assert!(
        !ids.contains(&review_atom_id.as_str().expect("atom id")),
        "{ids:?}"
    );

    assert!(
        s.hook.requests().is_empty(),
        "corrections notify nobody: {:?}",
        s.hook.requests()
    );
    // The sink does work: a genuinely new story is sent.
    s.serve("writer", &[essay(), harness(), tides()]);
    let out = s.poll();
    assert!(out.contains("notifications: 1 sent"), "{out}");
    assert_eq!(s.hook.requests().len(), 1);
}

each_backend!(a_new_mirror_matching_both_sides_of_a_split_does_not_fold_them);
fn a_new_mirror_matching_both_sides_of_a_split_does_not_fold_them(backend: &Backend) {
    let s = Scenario::start(backend);
    let (essay_story, _) = s.find("writer", ESSAY);
    let (_, copy) = s.find("digest", ESSAY);
    s.ok(&["stories", "split", &copy.to_string()]);
    let (split_story, _) = s.find("digest", ESSAY);

    s.serve("digest", &[essay_copy(true), review(false)]);
    s.serve("roundup", &[roundup_copy()]);
    s.poll();
    let alone = s.story(split_story);
    assert_eq!(
        alone["number"], split_story,
        "not folded into another story"
    );
    assert_eq!(
        member_feeds(&alone)
            .iter()
            .filter(|f| *f == "digest")
            .count(),
        1
    );
    assert!(
        !member_feeds(&alone).contains(&"writer".to_owned()),
        "the split item never rejoins the writer's post: {alone}"
    );
    let original = s.story(essay_story);
    assert_eq!(
        original["number"], essay_story,
        "not folded into another story"
    );
    assert!(
        !member_feeds(&original).contains(&"digest".to_owned()),
        "{original}"
    );
    assert!(s.hook.requests().is_empty());
}

each_backend!(bad_corrections_are_refused_and_name_their_input);
fn bad_corrections_are_refused_and_name_their_input(backend: &Backend) {
    let s = Scenario::start(backend);
    let (essay_story, _) = s.find("writer", ESSAY);
    let (harness_story, harness_post) = s.find("writer", HARNESS);
    let (review_story, _) = s.find("digest", REVIEW);

    let said = s.refused(&["stories", "split", "9999"]);
    assert!(said.contains("no item 9999"), "{said}");
    let said = s.refused(&["stories", "split", &harness_post.to_string()]);
    assert!(
        said.contains(&format!(
            "item {harness_post} is already a story of its own (story {harness_story})"
        )),
        "{said}"
    );
    let said = s.refused(&["stories", "merge", &essay_story.to_string(), "urn:nope"]);
    assert!(said.contains("no story `urn:nope`"), "{said}");
    let said = s.refused(&["stories", "merge", "9999", &essay_story.to_string()]);
    assert!(said.contains("no story `9999`"), "{said}");
    let number = essay_story.to_string();
    let said = s.refused(&["stories", "merge", &number, &number]);
    assert!(
        said.contains(&format!("`{number}` and `{number}` are the same story")),
        "{said}"
    );

    s.ok(&[
        "stories",
        "merge",
        &harness_story.to_string(),
        &review_story.to_string(),
    ]);
    let said = s.refused(&[
        "stories",
        "merge",
        &essay_story.to_string(),
        &review_story.to_string(),
    ]);
    assert!(
        said.contains(&format!(
            "story `{review_story}` was already merged into story {harness_story}"
        )),
        "{said}"
    );
    let said = s.refused(&["stories", "--explain", "urn:nope"]);
    assert!(said.contains("no story `urn:nope`"), "{said}");
    assert_eq!(s.stories().len(), 2, "refusals change nothing");
}
