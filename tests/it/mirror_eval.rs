//! The matcher scored on real-world mirrors (`tests/fixtures/realworld/*.json`): how well the
//! stories the real binary makes group every page about one work, and only those.
//!
//! Why this shape:
//! - **Facts from real pages.** Each set is one writer's works as the world really mirrors them
//!   (feed shapes, titles, dates, URLs and which work an item is about, each taken from the page
//!   in `seen_at`), so the matcher meets the near misses it will meet in production rather than
//!   the ones its authors thought of. The texts are written for the set (no other site's
//!   sentences are stored here); copies reuse them whole or cut, so what copies share in the
//!   world stays shared here.
//! - **Through the real binary.** Every feed is rendered in its publisher's real XML shape,
//!   served on 127.0.0.1 and polled by `tributary poll` in one run, so parsing, sanitising,
//!   canonical URLs, the store's candidate lookup and the order items arrive in all count, as
//!   they do for a user. The stories are then read back with this crate's `Store`.
//! - **Scored blind.** The labels never reach the binary, and `TRIBUTARY_EVAL_BIN` runs the poll
//!   with another build (the matcher before a change, say) against the same set and the same
//!   scoring code, so old and new are compared on equal terms. The `holdout` split is scored and
//!   never tuned on.
//!
//! Scoring is pairwise over the items of each set: a pair of one work in one story is a true
//! positive, of two works in one story a false positive, of one work in two stories a false
//! negative. Pairs across sets are scored for false merges only (two writers' pages never make
//! one story); such a pair counts against both sets. Run with `--nocapture` to see the tables;
//! `TRIBUTARY_EVAL_REPORT=path` also writes `real_world_mirrors`'s whole report as JSON (with
//! the order it polled in);
//! `TRIBUTARY_EVAL_ORDER=mirrors-first` polls the mirror feeds before any origin feed, and
//! `TRIBUTARY_EVAL_ORDER=shuffled:SEED` each role's feeds in the order
//! `real_world_mirrors_group_alike_in_any_order` polls with that seed.
//! `real_world_mirrors_group_alike_on_postgres` polls every set into PostgreSQL as well and
//! asserts the same groupings and figures as SQLite's, printing neither.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use tributary::model::Role;
use tributary::store::Store;

use crate::common::backend::Backend;
use crate::common::binary::{Workspace, stderr, stdout};
use crate::common::server::{Reply, TestServer};

/// Pairwise precision the matcher must keep on the `tune` split. Floors sit under what the
/// matcher measures and are raised as it improves, never lowered for a matcher change: a floor
/// that moves down lets the regression it was set to catch through. They sit under it by more
/// than a poll's run-to-run spread, though: one poll ingests feeds in the order they answer,
/// and a matcher that decided a mirror differently when it came before its work measured
/// holdout recall anywhere from 0.862 to 0.885 between runs. A mirror that came first is now
/// asked again by every evidence once its work arrives (`dedupe::reconsider`), and polling every
/// mirror before any origin measures the same as polling all at once.
/// Measured blind (the matcher before this set was written): tune P 1.000 R 0.293, holdout
/// P 1.000 R 0.489. Then: tune P 1.000 R 0.919, holdout P 1.000 R 0.885. The Dwarkesh set came
/// later, scored blind at R 0.601 (0.620 mirrors first); with it the tune split measured
/// P 1.000 R 0.789 (0.804), holdout P 1.000 R 0.885 (0.885). With guest evidence, mirrors asked
/// again by every evidence and retellings quoting three passages within weeks: tune P 1.000
/// R 0.912 (0.912), holdout P 1.000 R 0.885 (0.885).
const TUNE_PRECISION_FLOOR: f64 = 0.99;
/// Pairwise recall the matcher must keep on each set of the `tune` split (raised, never
/// lowered). Per set, so that a harder set joining the split does not lower the others' floors.
/// Measured: latent-space 0.974, simon-willison 0.935, dwarkesh 0.885 (0.894 once summaries
/// weeks after their work count), in both poll orders.
/// The Lex Fridman set came last, scored blind (the matcher above, before any change it
/// prompted) at P 1.000 R 0.791 in both poll orders; with a show's numbered episode as
/// evidence it measures R 0.884, and the whole tune split P 1.000 R 0.909 (holdout unchanged).
/// The Gary Marcus set (an essay newsletter: op-ed adaptations, aggregators, rewrites, the
/// writer as a news subject and a guest elsewhere) was scored blind at P 0.871 R 0.931, the
/// tune split then P 0.980 R 0.912: a guest named beside another writer and a roundup linking
/// one stored essay were folded. With guest evidence held to the episode's own show, roundups
/// told by a second post of the same site, a headline's first sentence as a title reading and a
/// numbered episode named in a summary's text: tune P 1.000 R 0.931 (0.919 mirrors first),
/// holdout P 1.000 R 0.885 (unchanged); the Gary Marcus set R 0.983 in both orders, the Lex
/// Fridman set 1.000 polled at once and still 0.884 mirrors first (an undated summary is not
/// asked again), which is what its floor holds to.
/// The Cognitive Revolution set (a podcast with the host's second show: directories, summary
/// sites, a copy of the second show's site, the host as a guest elsewhere, a dated daily series,
/// crossovers from other shows) was scored blind at P 1.000 R 0.975 in both poll orders; the
/// tune split with it measured P 1.000 R 0.934 (0.924 mirrors first), holdout P 1.000 R 0.885.
/// With summaries up to a month after a writer's item asked by their words (and asked again
/// when the item comes after them): tune P 1.000 R 0.939 (0.928 mirrors first), the Dwarkesh
/// set 0.894 in both orders, holdout P 1.000 R 0.885 (0.885).
/// With a show's episode keyed by the host's name or the show's alike, and a mirror indexed by
/// the episodes it names before any name is known (the Lex Fridman summary above, stored
/// before the origin feeds told their names, is found by its episode when it arrives): tune
/// P 1.000 R 0.939 in both orders, every set the same in both, holdout P 1.000 R 0.885, three
/// runs of each order alike. The floors sit a lost summary's pairs or so under each set's
/// figure.
/// A CI run under load grouped one set differently: which feeds share a write depends on when
/// they answered, and a directory's summary whose title matched another directory's (both
/// apart from the work) stayed there or joined the work by its words depending on which came
/// first. With such a mirror leading the directories' story to the work, and every mirror of it
/// asked when the work arrives: the same figures, and every tune set groups alike in shuffled
/// orders (`real_world_mirrors_group_alike_in_any_order`).
/// The Exponential View set (an essay newsletter with numbered Sunday editions and a podcast: a
/// feed reader's copies, reposts of an episode, summary sites, another show's episode retelling
/// an essay, the writer as a guest elsewhere and his other show) was scored blind at P 1.000
/// R 0.447 polled at once and R 0.702 mirrors first: the essay and its voiceover episode, titled
/// apart, stay two stories unless the summaries come first. The tune split with it measured
/// P 1.000 R 0.894 (0.917 mirrors first), holdout P 1.000 R 0.885 (0.885).
/// The No Priors, Hard Fork and AI Snake Oil sets (a podcast's directories, transcript sites and
/// summary sites; a podcast and a newsletter with Times reposts and spun copies; an essay
/// newsletter's reposts, summaries and coverage, many of them pages with no date) were scored
/// blind together at R 0.473, 0.627 and 0.292 (P 0.955 on AI Snake Oil): the tune split fell to
/// P 0.997 R 0.706. Undated mirrors meeting the writers' items of any earlier date, and model
/// names with digits no longer read as issue numbers, took them to 0.667, 0.696 and 0.403 (tune
/// P 0.994 R 0.760); undated mirrors asked by their words about the items their keys led to,
/// to 0.930, 0.735 and 0.465 (0.444 mirrors first; tune P 0.995 R 0.812).
/// The Big Technology and Machine Learning Street Talk sets (a newsletter with its podcast and
/// an aggregator's listing page; a podcast with its YouTube channel, directories' pages of the
/// whole show, news near an episode's subject) were scored blind with that matcher at P 0.871
/// R 1.000 and P 0.883 R 0.685 (tune P 0.974). Two directories' undated pages sharing a title
/// no longer meet in time unless the title names a work at any distance, and a numbered page
/// of a listing joins nothing: P 1.000 for both in both orders, R unchanged; the tune split
/// P 0.995 R 0.797 (0.806 mirrors first), holdout unchanged.
/// The Noahpinion set (an essay newsletter: summary sites, a knowledge base's notes kept twice
/// in one feed, coverage, the writer as a guest on many shows) was scored blind with that
/// matcher at P 1.000 R 0.543 in both orders (tune P 0.996 R 0.789, 0.798 mirrors first).
/// An undated summary under a headline of its own, which meets no work around its first
/// sighting, is asked by its words about the writers' items of any date whose titles it names
/// (half of a title's meaningful words), and a work stored after it finds it the same way;
/// a page naming another numbered episode of the show is no guest evidence: No Priors 0.977,
/// MLST 0.776, AI Snake Oil 0.479 (0.458 mirrors first), the tune split P 0.996 R 0.810
/// (0.818 mirrors first), holdout unchanged.
/// A retelling whose headline holds every meaningful word of a work's title and whose text
/// names its writer and shares a fifth of its words joins it ("AI is a normal technology"),
/// and a work finds the undated mirrors its title words name past a common word's cut
/// postings: AI Snake Oil P 0.957 R 0.625 (0.604 mirrors first), the tune split P 0.996
/// R 0.829 (0.837 mirrors first), holdout unchanged, no pair of two works more.
/// A page whose text cites a work's whole title and names its writer, under a headline that
/// shares two of the title's meaningful words, joins it at any time after it (a reading note
/// months later), and a mirror that joined a story of mirrors alone leads it to such a work:
/// Exponential View 0.447 to 0.574 (0.702 mirrors first, unchanged), Noahpinion 0.543 to 0.571
/// (0.543 mirrors first: a page read before any of the writer's feeds does not know the name
/// it cites), the tune split P 0.996 R 0.835 (0.839 mirrors first), holdout unchanged.
/// Mirrors first, Exponential View measures 0.447 or 0.702 from run to run (which mirror feed
/// answers first decides whether a summary bridges the essay and its episode before either is
/// read), so its floor holds to the lower.
/// A work asks again every mirror its keys lead to, of any date, not only those without one
/// (a reading note under its title, read before the writer's feed named the writer):
/// Noahpinion mirrors first 0.543 to 0.600 (0.629 in a cycle, unchanged), the tune split
/// R 0.849 mirrors first (0.845 in a cycle, unchanged), holdout unchanged.
/// A rewrite's headline that holds two thirds of the title's meaningful words (not all of
/// them) names the work, with its writer named in the text: Hard Fork 0.735 to 0.804 in either
/// order, the tune split R 0.851 (0.855 mirrors first), holdout unchanged, no pair of two
/// works more (half of the words instead: two pairs more, Simon Willison's 2023 and 2024
/// reviews bridged by a notes page on both).
/// A long title (seven meaningful words or more) held nearly whole by a longer one among words
/// of its own: AI Snake Oil 0.625 to 0.632 and No Priors 0.977 to 0.984 (two summary sites'
/// pages of one interview each, no origin feed carrying it), the tune split R 0.853 (0.857
/// mirrors first), holdout unchanged, no pair of two works more. No Priors' floor rises to
/// 0.98 so that losing the rule fails here too.
const TUNE_RECALL_FLOORS: &[(&str, f64)] = &[
    ("latent-space", 0.95),
    ("simon-willison", 0.91),
    ("dwarkesh", 0.87),
    ("lex-fridman", 0.95),
    ("marcus-on-ai", 0.96),
    ("cognitive-revolution", 0.95),
    ("exponential-view", 0.44),
    ("no-priors", 0.98),
    ("hard-fork", 0.78),
    ("ai-snake-oil", 0.58),
    ("big-technology", 0.97),
    ("mlst", 0.75),
    ("noahpinion", 0.58),
];
/// Pairwise precision on the `holdout` split (raised, never lowered).
const HOLDOUT_PRECISION_FLOOR: f64 = 0.99;
/// Pairwise recall on the `holdout` split (raised, never lowered; see the spread above, gone
/// since mirrors are asked again: 0.885 in every run of either order).
const HOLDOUT_RECALL_FLOOR: f64 = 0.86;

/// The set written with the harness (`sample.json`). Its easy work, a post and a mirror's copy
/// that links to the same page with a tracking parameter, must always fold: if it does not, the
/// harness (rendering, serving, reading back) is broken, not the matcher.
const SAMPLE_SET: &str = "sample";
const SAMPLE_EASY_WORK: &str = "sample-a";

/// Where the labelled sets live, under the crate root.
const FIXTURES: &str = "tests/fixtures/realworld";

/// Most lines printed per list (false merges, split works, folded hard negatives), so a failing
/// run stays readable; the JSON report has every entry.
const MAX_LINES: usize = 40;

/// Words in a WordPress excerpt before it is cut with ` [&#8230;]` (WordPress's own default is
/// 55; themes commonly set about 40).
const WORDPRESS_EXCERPT_WORDS: usize = 40;

/// Inline HTML elements: their tags sit inside words, so stripping them adds no space.
const INLINE_TAGS: &[&str] = &[
    "a", "abbr", "b", "cite", "code", "em", "i", "mark", "q", "s", "small", "span", "strong",
    "sub", "sup", "u",
];

// ---------------------------------------------------------------------------------------------
// The set as written (schema: tests/fixtures/realworld/README.md).

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetFile {
    set: String,
    split: Split,
    feeds: Vec<Feed>,
    works: Vec<Work>,
    items: Vec<RawItem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum Split {
    Tune,
    Holdout,
    Sample,
}

impl Split {
    fn as_str(self) -> &'static str {
        match self {
            Split::Tune => "tune",
            Split::Holdout => "holdout",
            Split::Sample => "sample",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Shape {
    Substack,
    SubstackPodcast,
    Podcast,
    Atom,
    Wordpress,
    Hnrss,
    Youtube,
    Rss,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Feed {
    name: String,
    role: Role,
    shape: Shape,
    title: String,
    link: String,
    author: Option<String>,
    footer: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Work {
    id: String,
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum MemberRole {
    Post,
    Episode,
    Copy,
    Summary,
    Coverage,
    Other,
}

impl MemberRole {
    fn as_str(self) -> &'static str {
        match self {
            MemberRole::Post => "post",
            MemberRole::Episode => "episode",
            MemberRole::Copy => "copy",
            MemberRole::Summary => "summary",
            MemberRole::Coverage => "coverage",
            MemberRole::Other => "other",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    feed: String,
    guid: String,
    title: String,
    link: Option<String>,
    published: Option<String>,
    work: String,
    member_role: MemberRole,
    body: RawBody,
    audio: Option<Audio>,
    #[serde(default)]
    hard: bool,
    #[serde(default)]
    why: String,
    seen_at: String,
}

/// The body as written; checked into a [`Body`] so a bad one is reported with its item.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBody {
    kind: String,
    words: Option<usize>,
    html: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Audio {
    url: String,
    #[serde(rename = "type")]
    mime: Option<String>,
    length: Option<u64>,
    duration: Option<AudioDuration>,
}

/// `itunes:duration` as the page gave it: `"01:06:12"` or a number of seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum AudioDuration {
    Text(String),
    Seconds(u64),
}

impl AudioDuration {
    fn text(&self) -> String {
        match self {
            AudioDuration::Text(text) => text.clone(),
            AudioDuration::Seconds(seconds) => seconds.to_string(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The set as checked.

#[derive(Debug)]
enum Body {
    Full,
    Lead(usize),
    Own(String),
    None,
}

#[derive(Debug)]
struct Set {
    file: String,
    name: String,
    split: Split,
    feeds: Vec<Feed>,
    /// Work id -> its text.
    works: HashMap<String, String>,
    items: Vec<Item>,
}

#[derive(Debug)]
struct Item {
    /// Index into the set's feeds.
    feed: usize,
    guid: String,
    title: String,
    link: Option<String>,
    published: Option<DateTime<Utc>>,
    work: String,
    member_role: MemberRole,
    body: Body,
    audio: Option<Audio>,
    hard: bool,
    why: String,
}

impl Set {
    /// The feed's name in the config and on the server: set names are unique, feed names are
    /// unique within a set, so `<set>--<feed>` is unique across every file.
    fn served_name(&self, feed: usize) -> String {
        format!("{}--{}", self.name, self.feeds[feed].name)
    }
}

fn load_sets() -> Vec<Set> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURES);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    let sets: Vec<Set> = paths.iter().map(|path| load_set(path)).collect();
    let mut names = HashMap::new();
    for set in &sets {
        if let Some(other) = names.insert(set.name.as_str(), set.file.as_str()) {
            panic!(
                "{}: set `{}` is also the set of {other}; set names must be unique",
                set.file, set.name
            );
        }
    }
    sets
}

/// Reads and checks one file; every problem in it is reported at once, each naming its item.
fn load_set(path: &Path) -> Set {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {file}: {e}"));
    let raw: SetFile = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{file}: {}", locate_error(&text, &e)));
    let mut problems: Vec<String> = Vec::new();

    // Names become config keys and URL paths (`/<set>--<feed>.xml`): slugs only.
    let slug = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if !slug(&raw.set) {
        problems.push(format!(
            "set `{}` is not a slug (letters, digits, - _ .)",
            raw.set
        ));
    }
    let mut feeds_by_name: HashMap<&str, usize> = HashMap::new();
    for (index, feed) in raw.feeds.iter().enumerate() {
        if !slug(&feed.name) {
            problems.push(format!(
                "feeds[{index}]: name `{}` is not a slug (letters, digits, - _ .)",
                feed.name
            ));
        }
        if feeds_by_name.insert(feed.name.as_str(), index).is_some() {
            problems.push(format!(
                "feeds[{index}]: feed `{}` is named twice",
                feed.name
            ));
        }
    }
    let mut works: HashMap<String, String> = HashMap::new();
    for (index, work) in raw.works.iter().enumerate() {
        if work.id.trim().is_empty() {
            problems.push(format!("works[{index}]: empty id"));
        }
        if text_words(&work.text).is_empty() {
            problems.push(format!("works[{index}] `{}`: text has no words", work.id));
        }
        if works.insert(work.id.clone(), work.text.clone()).is_some() {
            problems.push(format!(
                "works[{index}]: work `{}` is defined twice",
                work.id
            ));
        }
    }

    let mut guids: HashSet<(&str, &str)> = HashSet::new();
    let mut items = Vec::with_capacity(raw.items.len());
    for (index, item) in raw.items.iter().enumerate() {
        let name = format!("items[{index}] ({} {:?})", item.feed, item.guid);
        let mut fail = |problem: String| problems.push(format!("{name}: {problem}"));
        let feed = feeds_by_name.get(item.feed.as_str()).copied();
        if feed.is_none() {
            fail(format!("feed `{}` is not in `feeds`", item.feed));
        }
        if item.guid.trim().is_empty() {
            fail("empty guid".to_owned());
        }
        if !guids.insert((item.feed.as_str(), item.guid.trim())) {
            fail("the same feed and guid appear twice".to_owned());
        }
        if item.work.trim().is_empty() {
            fail("empty work id".to_owned());
        }
        if item.seen_at.trim().is_empty() {
            fail("empty seen_at".to_owned());
        }
        let published = match item.published.as_deref().map(DateTime::parse_from_rfc3339) {
            None => None,
            Some(Ok(date)) => Some(date.with_timezone(&Utc)),
            Some(Err(e)) => {
                fail(format!("published is not RFC 3339: {e}"));
                None
            }
        };
        if let Some(audio) = &item.audio
            && audio.url.trim().is_empty()
        {
            fail("audio without a url".to_owned());
        }
        let body = check_body(
            &item.body,
            works.get(&item.work).map(String::as_str),
            &item.work,
        )
        .unwrap_or_else(|problem| {
            fail(problem);
            Body::None
        });
        items.push(Item {
            feed: feed.unwrap_or_default(),
            guid: item.guid.trim().to_owned(),
            title: item.title.clone(),
            link: item.link.clone().filter(|link| !link.trim().is_empty()),
            published,
            work: item.work.clone(),
            member_role: item.member_role,
            body,
            audio: item.audio.clone(),
            hard: item.hard,
            why: item.why.clone(),
        });
    }
    assert!(
        problems.is_empty(),
        "{file}: {} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
    Set {
        file,
        name: raw.set,
        split: raw.split,
        feeds: raw.feeds,
        works,
        items,
    }
}

/// A schema error named by the item (or feed, or work) it is in, rather than only by line and
/// column: each entry is read on its own to find the first that fails.
fn locate_error(text: &str, error: &serde_json::Error) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return error.to_string();
    };
    let at = format!("at line {} column {}", error.line(), error.column());
    let entries = |key: &str| {
        value
            .get(key)
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let field = |entry: &serde_json::Value, key: &str| {
        entry
            .get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    for (index, item) in entries("items").iter().enumerate() {
        if let Err(e) = RawItem::deserialize(item) {
            return format!(
                "items[{index}] ({} {:?}): {e} ({at})",
                field(item, "feed"),
                field(item, "guid")
            );
        }
    }
    for (index, feed) in entries("feeds").iter().enumerate() {
        if let Err(e) = Feed::deserialize(feed) {
            return format!("feeds[{index}] ({}): {e} ({at})", field(feed, "name"));
        }
    }
    for (index, work) in entries("works").iter().enumerate() {
        if let Err(e) = Work::deserialize(work) {
            return format!("works[{index}] ({}): {e} ({at})", field(work, "id"));
        }
    }
    error.to_string()
}

fn check_body(raw: &RawBody, text: Option<&str>, work: &str) -> Result<Body, String> {
    let needs_text = |kind: &str| match text {
        Some(_) => Ok(()),
        None => Err(format!(
            "body `{kind}` but work `{work}` has no text in `works`"
        )),
    };
    match (raw.kind.as_str(), raw.words, raw.html.as_deref()) {
        ("full", None, None) => needs_text("full").map(|()| Body::Full),
        ("lead", Some(0), None) => Err("body `lead` with 0 words".to_owned()),
        ("lead", Some(words), None) => needs_text("lead").map(|()| Body::Lead(words)),
        ("lead", None, _) => Err("body `lead` needs `words`".to_owned()),
        ("own", None, Some(html)) if !text_words(html).is_empty() => Ok(Body::Own(html.to_owned())),
        ("own", None, _) => Err("body `own` needs `html` with words in it".to_owned()),
        ("none", None, None) => Ok(Body::None),
        (kind @ ("full" | "lead" | "own" | "none"), _, _) => Err(format!(
            "body `{kind}` takes {}",
            match kind {
                "lead" => "`words` and no `html`",
                "own" => "`html` and no `words`",
                _ => "neither `words` nor `html`",
            }
        )),
        (kind, _, _) => Err(format!(
            "body kind `{kind}` is not one of full, lead, own, none"
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Text helpers.

/// The text of some HTML with its tags removed; block tags become `separator`, inline tags
/// nothing (so `<em>re</em>write` stays one word). Entities are kept: the result is still HTML.
fn strip_tags(html: &str, separator: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let tag = &rest[start..];
        let Some(end) = tag.find('>') else {
            out.push_str(tag);
            return out;
        };
        let name = tag[1..end]
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if !INLINE_TAGS.contains(&name.as_str()) {
            out.push_str(separator);
        }
        rest = &tag[end + 1..];
    }
    out.push_str(rest);
    out
}

fn text_words(html: &str) -> Vec<String> {
    strip_tags(html, " ")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Decodes the entities a written text uses, for the plain-text places (YouTube descriptions).
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let decoded = after.find(';').filter(|end| *end <= 10).and_then(|end| {
            let name = &after[..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                "rsquo" => Some('\u{2019}'),
                "lsquo" => Some('\u{2018}'),
                "rdquo" => Some('\u{201d}'),
                "ldquo" => Some('\u{201c}'),
                "mdash" => Some('\u{2014}'),
                "ndash" => Some('\u{2013}'),
                "hellip" => Some('\u{2026}'),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Plain text with paragraphs kept, as YouTube shows a description.
fn plain_text(html: &str) -> String {
    let text = decode_entities(&strip_tags(html, "\n"));
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The first sentence of some HTML, as text (still HTML-escaped), for a Substack subtitle.
fn first_sentence(html: &str) -> String {
    let words = text_words(html);
    let end = words
        .iter()
        .position(|w| w.ends_with(['.', '?', '!']))
        .map_or(words.len(), |i| i + 1);
    words[..end].join(" ")
}

fn esc(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// CDATA as Substack writes it; a `]]>` inside is split across two sections.
fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn rfc822(date: DateTime<Utc>, zone: &str) -> String {
    format!("{} {zone}", date.format("%a, %d %b %Y %H:%M:%S"))
}

fn rfc3339(date: DateTime<Utc>, zulu: bool) -> String {
    date.to_rfc3339_opts(SecondsFormat::Secs, zulu)
}

// ---------------------------------------------------------------------------------------------
// Rendering each feed in its publisher's shape.

/// One item ready to render: its body with the work's text resolved and the feed's footer on.
struct Entry<'a> {
    item: &'a Item,
    body: Option<String>,
}

impl Entry<'_> {
    fn pub_date(&self, zone: &str) -> String {
        self.item
            .published
            .map(|date| format!("<pubDate>{}</pubDate>", rfc822(date, zone)))
            .unwrap_or_default()
    }

    fn link_element(&self) -> String {
        self.item
            .link
            .as_deref()
            .map(|link| format!("<link>{}</link>", esc(link)))
            .unwrap_or_default()
    }

    fn enclosure(&self) -> String {
        self.item
            .audio
            .as_ref()
            .map(|audio| {
                format!(
                    "<enclosure url=\"{}\" length=\"{}\" type=\"{}\"/>",
                    esc(&audio.url),
                    audio.length.unwrap_or(0),
                    esc(audio.mime.as_deref().unwrap_or("audio/mpeg"))
                )
            })
            .unwrap_or_default()
    }

    fn itunes_duration(&self) -> String {
        self.item
            .audio
            .as_ref()
            .and_then(|audio| audio.duration.as_ref())
            .map(|d| format!("<itunes:duration>{}</itunes:duration>", esc(&d.text())))
            .unwrap_or_default()
    }

    /// An RSS guid; a permalink only when it is the item's link.
    fn rss_guid(&self) -> String {
        let guid = &self.item.guid;
        if self.item.link.as_deref() == Some(guid.as_str()) {
            format!("<guid>{}</guid>", esc(guid))
        } else {
            format!("<guid isPermaLink=\"false\">{}</guid>", esc(guid))
        }
    }
}

fn body_html(set: &Set, item: &Item) -> Option<String> {
    let text = || {
        set.works
            .get(&item.work)
            .map(String::as_str)
            .unwrap_or_default()
    };
    let body = match &item.body {
        Body::Full => text().to_owned(),
        Body::Lead(wanted) => {
            let words = text_words(text());
            // A lead never reaches past the text.
            let cut = words.len().min(*wanted);
            format!("<p>{}</p>", words[..cut].join(" "))
        }
        Body::Own(html) => html.clone(),
        Body::None => return None,
    };
    let footer = set.feeds[item.feed].footer.as_deref().unwrap_or_default();
    Some(format!("{body}{footer}"))
}

/// The feed's XML and its Content-Type.
fn render(set: &Set, feed_index: usize, self_url: &str) -> (String, &'static str) {
    let feed = &set.feeds[feed_index];
    let mut entries: Vec<Entry<'_>> = set
        .items
        .iter()
        .filter(|item| item.feed == feed_index)
        .map(|item| Entry {
            item,
            body: body_html(set, item),
        })
        .collect();
    // Newest first, as publishers list them.
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.item.published));
    let built = entries
        .iter()
        .filter_map(|e| e.item.published)
        .max()
        .unwrap_or_default();
    match feed.shape {
        Shape::Substack | Shape::SubstackPodcast => (
            substack(feed, &entries, built, self_url),
            "application/rss+xml; charset=utf-8",
        ),
        Shape::Podcast => (
            podcast(feed, &entries, built, self_url),
            "application/rss+xml; charset=utf-8",
        ),
        Shape::Atom => (
            atom(feed, &entries, built, self_url),
            "application/atom+xml; charset=utf-8",
        ),
        Shape::Wordpress => (
            wordpress(feed, &entries, built, self_url),
            "application/rss+xml; charset=UTF-8",
        ),
        Shape::Hnrss => (
            hnrss(feed, &entries, built, self_url),
            "application/rss+xml; charset=utf-8",
        ),
        Shape::Youtube => (
            youtube(feed, &entries, built, self_url),
            "text/xml; charset=UTF-8",
        ),
        Shape::Rss => (
            plain_rss(feed, &entries, built, self_url),
            "application/rss+xml",
        ),
    }
}

fn author(feed: &Feed) -> &str {
    feed.author.as_deref().unwrap_or(feed.title.as_str())
}

/// Substack's main feed (`/feed`) and its podcast feed: CDATA everywhere, `dc:creator`, a
/// subtitle as the description of a post, the show notes as the description of an episode.
fn substack(feed: &Feed, entries: &[Entry<'_>], built: DateTime<Utc>, self_url: &str) -> String {
    let podcast = feed.shape == Shape::SubstackPodcast;
    let author = author(feed);
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:atom=\"http://www.w3.org/2005/Atom\" version=\"2.0\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\" xmlns:googleplay=\"http://www.google.com/schemas/play-podcasts/1.0\"><channel><title>{title}</title><description>{title}</description><link>{link}</link><generator>Substack</generator><lastBuildDate>{built}</lastBuildDate><atom:link href=\"{self_url}\" rel=\"self\" type=\"application/rss+xml\"/><copyright>{author}</copyright><language>{en}</language><webMaster>{webmaster}</webMaster><itunes:owner><itunes:email>{webmaster}</itunes:email><itunes:name>{author}</itunes:name></itunes:owner><itunes:author>{author}</itunes:author><googleplay:owner>{webmaster}</googleplay:owner><googleplay:author>{author}</googleplay:author>",
        title = cdata(&feed.title),
        link = esc(&feed.link),
        built = rfc822(built, "GMT"),
        self_url = esc(self_url),
        author = cdata(author),
        en = cdata("en"),
        webmaster = cdata("writer@substack.com"),
    );
    if podcast {
        xml.push_str("<itunes:explicit>No</itunes:explicit><itunes:type>episodic</itunes:type>");
    }
    for entry in entries {
        let item = entry.item;
        xml.push_str(&format!("<item><title>{}</title>", cdata(&item.title)));
        if podcast {
            if let Some(body) = &entry.body {
                xml.push_str(&format!("<description>{}</description>", cdata(body)));
            }
        } else if let Some(body) = &entry.body {
            xml.push_str(&format!(
                "<description>{}</description>",
                cdata(&first_sentence(body))
            ));
        }
        xml.push_str(&format!(
            "{}<guid isPermaLink=\"false\">{}</guid><dc:creator>{}</dc:creator>{}{}",
            entry.link_element(),
            esc(&item.guid),
            cdata(author),
            entry.pub_date("GMT"),
            entry.enclosure(),
        ));
        if podcast {
            xml.push_str(&format!(
                "<itunes:author>{}</itunes:author><itunes:explicit>No</itunes:explicit>{}<itunes:episodeType>full</itunes:episodeType>",
                cdata(author),
                entry.itunes_duration()
            ));
        } else {
            xml.push_str(&entry.itunes_duration());
            if let Some(body) = &entry.body {
                xml.push_str(&format!(
                    "<content:encoded>{}</content:encoded>",
                    cdata(body)
                ));
            }
        }
        xml.push_str("</item>");
    }
    xml.push_str("</channel></rss>");
    xml
}

/// A podcast host's feed (Megaphone, Libsyn, Transistor...): escaped HTML show notes in both
/// `description` and `content:encoded`, iTunes tags, one audio enclosure per episode.
fn podcast(feed: &Feed, entries: &[Entry<'_>], built: DateTime<Utc>, self_url: &str) -> String {
    let author = esc(author(feed));
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\" xmlns:googleplay=\"http://www.google.com/schemas/play-podcasts/1.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\" xmlns:media=\"http://search.yahoo.com/mrss/\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:podcast=\"https://podcastindex.org/namespace/1.0\">\n<channel>\n<atom:link href=\"{self_url}\" rel=\"self\" type=\"application/rss+xml\"/>\n<title>{title}</title>\n<link>{link}</link>\n<language>en</language>\n<copyright>{author}</copyright>\n<description>{title}</description>\n<lastBuildDate>{built}</lastBuildDate>\n<itunes:type>episodic</itunes:type>\n<itunes:author>{author}</itunes:author>\n<itunes:explicit>false</itunes:explicit>\n<itunes:owner><itunes:name>{author}</itunes:name></itunes:owner>\n",
        self_url = esc(self_url),
        title = esc(&feed.title),
        link = esc(&feed.link),
        built = rfc822(built, "+0000"),
    );
    for entry in entries {
        let item = entry.item;
        xml.push_str(&format!(
            "<item>\n<title>{title}</title>\n<itunes:title>{title}</itunes:title>\n",
            title = esc(&item.title)
        ));
        if let Some(body) = &entry.body {
            xml.push_str(&format!(
                "<description>{}</description>\n<content:encoded>{}</content:encoded>\n",
                esc(body),
                cdata(body)
            ));
        }
        xml.push_str(&format!(
            "{}\n<guid isPermaLink=\"false\">{}</guid>\n{}\n<itunes:author>{author}</itunes:author>\n{}\n{}\n<itunes:episodeType>full</itunes:episodeType>\n<itunes:explicit>false</itunes:explicit>\n</item>\n",
            entry.link_element(),
            esc(&item.guid),
            entry.pub_date("+0000"),
            entry.enclosure(),
            entry.itunes_duration(),
        ));
    }
    xml.push_str("</channel>\n</rss>\n");
    xml
}

/// Atom 1.0 as blog engines write it: the guid as id, an alternate link, HTML content.
fn atom(feed: &Feed, entries: &[Entry<'_>], built: DateTime<Utc>, self_url: &str) -> String {
    let author = esc(author(feed));
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\n<title>{title}</title>\n<link href=\"{link}\" rel=\"alternate\" type=\"text/html\"/>\n<link href=\"{self_url}\" rel=\"self\" type=\"application/atom+xml\"/>\n<id>{link}</id>\n<updated>{built}</updated>\n<author><name>{author}</name></author>\n",
        title = esc(&feed.title),
        link = esc(&feed.link),
        self_url = esc(self_url),
        built = rfc3339(built, true),
    );
    for entry in entries {
        let item = entry.item;
        xml.push_str(&format!(
            "<entry>\n<title type=\"text\">{}</title>\n<id>{}</id>\n",
            esc(&item.title),
            esc(&item.guid)
        ));
        if let Some(link) = &item.link {
            xml.push_str(&format!(
                "<link href=\"{}\" rel=\"alternate\" type=\"text/html\"/>\n",
                esc(link)
            ));
        }
        if let Some(audio) = &item.audio {
            xml.push_str(&format!(
                "<link rel=\"enclosure\" href=\"{}\" type=\"{}\" length=\"{}\"/>\n",
                esc(&audio.url),
                esc(audio.mime.as_deref().unwrap_or("audio/mpeg")),
                audio.length.unwrap_or(0)
            ));
        }
        if let Some(date) = item.published {
            xml.push_str(&format!(
                "<published>{date}</published>\n<updated>{date}</updated>\n",
                date = rfc3339(date, true)
            ));
        }
        xml.push_str(&format!("<author><name>{author}</name></author>\n"));
        if let Some(body) = &entry.body {
            xml.push_str(&format!("<content type=\"html\">{}</content>\n", esc(body)));
        }
        xml.push_str("</entry>\n");
    }
    xml.push_str("</feed>\n");
    xml
}

/// WordPress's RSS 2.0: a plain-text excerpt cut with ` [&#8230;]` as the description, the
/// whole post in `content:encoded`.
fn wordpress(feed: &Feed, entries: &[Entry<'_>], built: DateTime<Utc>, self_url: &str) -> String {
    let author = cdata(author(feed));
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"\n\txmlns:content=\"http://purl.org/rss/1.0/modules/content/\"\n\txmlns:wfw=\"http://wellformedweb.org/CommentAPI/\"\n\txmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n\txmlns:atom=\"http://www.w3.org/2005/Atom\"\n\txmlns:sy=\"http://purl.org/rss/1.0/modules/syndication/\"\n\txmlns:slash=\"http://purl.org/rss/1.0/modules/slash/\"\n\t>\n\n<channel>\n\t<title>{title}</title>\n\t<atom:link href=\"{self_url}\" rel=\"self\" type=\"application/rss+xml\" />\n\t<link>{link}</link>\n\t<description>{title}</description>\n\t<lastBuildDate>{built}</lastBuildDate>\n\t<language>en-US</language>\n\t<sy:updatePeriod>\n\thourly\t</sy:updatePeriod>\n\t<sy:updateFrequency>\n\t1\t</sy:updateFrequency>\n\t<generator>https://wordpress.org/?v=6.7.2</generator>\n",
        title = esc(&feed.title),
        self_url = esc(self_url),
        link = esc(&feed.link),
        built = rfc822(built, "+0000"),
    );
    for entry in entries {
        let item = entry.item;
        xml.push_str(&format!(
            "\t<item>\n\t\t<title>{}</title>\n\t\t{}\n\t\t<dc:creator>{author}</dc:creator>\n\t\t{}\n\t\t<category>{}</category>\n\t\t<guid isPermaLink=\"false\">{}</guid>\n",
            esc(&item.title),
            entry.link_element(),
            entry.pub_date("+0000"),
            cdata("Uncategorized"),
            esc(&item.guid),
        ));
        if let Some(body) = &entry.body {
            let words = text_words(body);
            let excerpt = if words.len() > WORDPRESS_EXCERPT_WORDS {
                format!("{} [&#8230;]", words[..WORDPRESS_EXCERPT_WORDS].join(" "))
            } else {
                words.join(" ")
            };
            xml.push_str(&format!(
                "\t\t<description>{}</description>\n\t\t<content:encoded>{}</content:encoded>\n",
                cdata(&excerpt),
                cdata(body)
            ));
        }
        xml.push_str(&entry.enclosure());
        xml.push_str("\t\t<slash:comments>0</slash:comments>\n\t</item>\n");
    }
    xml.push_str("\t</channel>\n</rss>\n");
    xml
}

/// hnrss.org: the article URL as the link, the HN page as guid and comments, and the standard
/// description (a self post's text, if any, comes first, as hnrss puts it).
fn hnrss(feed: &Feed, entries: &[Entry<'_>], built: DateTime<Utc>, self_url: &str) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:atom=\"http://www.w3.org/2005/Atom\"><channel><title>{title}</title><link>{link}</link><description>Hacker News RSS</description><docs>https://hnrss.org/</docs><generator>hnrss v2.1.1</generator><lastBuildDate>{built}</lastBuildDate><atom:link href=\"{self_url}\" rel=\"self\" type=\"application/rss+xml\"></atom:link>",
        title = esc(&feed.title),
        link = esc(&feed.link),
        built = rfc822(built, "+0000"),
        self_url = esc(self_url),
    );
    for entry in entries {
        let item = entry.item;
        let guid = &item.guid;
        let link = item.link.as_deref().unwrap_or(guid);
        let mut description = String::new();
        if let Some(body) = &entry.body {
            description.push_str(body);
            description.push_str("<hr>");
        }
        description.push_str(&format!(
            "\n<p>Article URL: <a href=\"{link}\">{link}</a></p>\n<p>Comments URL: <a href=\"{guid}\">{guid}</a></p>\n<p>Points: 12</p>\n<p># Comments: 3</p>\n",
            link = esc(link),
            guid = esc(guid),
        ));
        xml.push_str(&format!(
            "<item><title>{}</title><description>{}</description>{}<link>{}</link><dc:creator>{}</dc:creator><comments>{}</comments><guid isPermaLink=\"false\">{}</guid>{}</item>",
            cdata(&item.title),
            cdata(&description),
            entry.pub_date("+0000"),
            esc(link),
            esc(author(feed)),
            esc(guid),
            esc(guid),
            entry.enclosure(),
        ));
    }
    xml.push_str("</channel></rss>");
    xml
}

/// A YouTube channel's Atom feed: `yt:` ids, and the description as plain text in
/// `media:group`; audio, if any, is the group's `media:content`.
fn youtube(feed: &Feed, entries: &[Entry<'_>], built: DateTime<Utc>, self_url: &str) -> String {
    let author = esc(author(feed));
    let channel_id = format!("UC{:0>22}", feed.name.len());
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns:yt=\"http://www.youtube.com/xml/schemas/2015\" xmlns:media=\"http://search.yahoo.com/mrss/\" xmlns=\"http://www.w3.org/2005/Atom\">\n <link rel=\"self\" href=\"{self_url}\"/>\n <id>yt:channel:{channel_id}</id>\n <yt:channelId>{channel_id}</yt:channelId>\n <title>{title}</title>\n <link rel=\"alternate\" href=\"{link}\"/>\n <author>\n  <name>{author}</name>\n  <uri>{link}</uri>\n </author>\n <published>{built}</published>\n",
        self_url = esc(self_url),
        title = esc(&feed.title),
        link = esc(&feed.link),
        built = rfc3339(built, false),
    );
    for entry in entries {
        let item = entry.item;
        let video_id = item
            .guid
            .strip_prefix("yt:video:")
            .map(str::to_owned)
            .or_else(|| {
                let link = url::Url::parse(item.link.as_deref()?).ok()?;
                link.query_pairs()
                    .find(|(key, _)| key == "v")
                    .map(|(_, value)| value.into_owned())
            })
            .unwrap_or_else(|| item.guid.clone());
        xml.push_str(&format!(
            " <entry>\n  <id>{}</id>\n  <yt:videoId>{}</yt:videoId>\n  <yt:channelId>{channel_id}</yt:channelId>\n  <title>{}</title>\n",
            esc(&item.guid),
            esc(&video_id),
            esc(&item.title),
        ));
        if let Some(link) = &item.link {
            xml.push_str(&format!(
                "  <link rel=\"alternate\" href=\"{}\"/>\n",
                esc(link)
            ));
        }
        xml.push_str(&format!(
            "  <author>\n   <name>{author}</name>\n   <uri>{}</uri>\n  </author>\n",
            esc(&feed.link)
        ));
        if let Some(date) = item.published {
            xml.push_str(&format!(
                "  <published>{date}</published>\n  <updated>{date}</updated>\n",
                date = rfc3339(date, false)
            ));
        }
        let content = match &item.audio {
            Some(audio) => format!(
                "<media:content url=\"{}\" type=\"{}\" fileSize=\"{}\"/>",
                esc(&audio.url),
                esc(audio.mime.as_deref().unwrap_or("audio/mpeg")),
                audio.length.unwrap_or(0)
            ),
            None => format!(
                "<media:content url=\"https://www.youtube.com/v/{}?version=3\" type=\"application/x-shockwave-flash\" width=\"640\" height=\"390\"/>",
                esc(&video_id)
            ),
        };
        // YouTube writes an empty `<media:description></media:description>` for a video without
        // one, but feed-rs 3.0 rejects the whole feed over an empty media text element, so an
        // item without text leaves the element out (as it does an empty title) rather than
        // failing every item of the feed.
        let optional = |tag: &str, text: &str| {
            if text.trim().is_empty() {
                String::new()
            } else {
                format!("   <media:{tag}>{}</media:{tag}>\n", esc(text))
            }
        };
        xml.push_str(&format!(
            "  <media:group>\n{}   {content}\n   <media:thumbnail url=\"https://i1.ytimg.com/vi/{}/hqdefault.jpg\" width=\"480\" height=\"360\"/>\n{}   <media:community>\n    <media:starRating count=\"120\" average=\"5.00\" min=\"1\" max=\"5\"/>\n    <media:statistics views=\"4321\"/>\n   </media:community>\n  </media:group>\n </entry>\n",
            optional("title", &item.title),
            esc(&video_id),
            optional(
                "description",
                &entry.body.as_deref().map(plain_text).unwrap_or_default()
            ),
        ));
    }
    xml.push_str("</feed>\n");
    xml
}

/// Plain RSS 2.0: escaped HTML in `description`, nothing else.
fn plain_rss(feed: &Feed, entries: &[Entry<'_>], built: DateTime<Utc>, self_url: &str) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n<title>{title}</title>\n<link>{link}</link>\n<description>{title}</description>\n<atom:link href=\"{self_url}\" rel=\"self\" type=\"application/rss+xml\"/>\n<lastBuildDate>{built}</lastBuildDate>\n",
        title = esc(&feed.title),
        link = esc(&feed.link),
        self_url = esc(self_url),
        built = rfc822(built, "+0000"),
    );
    for entry in entries {
        let item = entry.item;
        xml.push_str(&format!(
            "<item>\n<title>{}</title>\n{}\n{}\n{}\n",
            esc(&item.title),
            entry.link_element(),
            entry.rss_guid(),
            entry.pub_date("+0000"),
        ));
        if let Some(body) = &entry.body {
            xml.push_str(&format!("<description>{}</description>\n", esc(body)));
        }
        xml.push_str(&entry.enclosure());
        xml.push_str("</item>\n");
    }
    xml.push_str("</channel>\n</rss>\n");
    xml
}

// ---------------------------------------------------------------------------------------------
// Running the binary and reading the stories back.

/// The binary that polls: `TRIBUTARY_EVAL_BIN` if set (another build, scored blind on the same
/// set), else this crate's.
fn eval_binary() -> PathBuf {
    match std::env::var_os("TRIBUTARY_EVAL_BIN") {
        Some(bin) => {
            let path = PathBuf::from(&bin);
            // The poll runs inside the workspace, so a relative path is resolved here first.
            if path.components().count() > 1 || path.exists() {
                std::fs::canonicalize(&path)
                    .unwrap_or_else(|e| panic!("TRIBUTARY_EVAL_BIN={}: {e}", path.display()))
            } else {
                path
            }
        }
        None => PathBuf::from(env!("CARGO_BIN_EXE_tributary")),
    }
}

/// The real binary's `poll` with `config`, in the workspace, with warnings only.
fn poll(binary: &Path, ws: &Workspace, config: &Path) -> std::process::Output {
    Command::new(binary)
        .arg("--config")
        .arg(config)
        .arg("poll")
        .current_dir(ws.dir.path())
        .env_remove("TRIBUTARY_CONFIG")
        .env_remove("STATE_DIRECTORY")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", binary.display()))
}

fn write_config(ws: &Workspace, feeds: &[(String, String, Role)]) -> PathBuf {
    let mut text = format!(
        "[storage]\ndatabase = {}\n\n[output]\natom_path = {}\ntitle = \"Mirror evaluation\"\n\n[fetch]\ntimeout = \"10s\"\nmax_body = \"16MiB\"\n\n[dedupe]\n\n",
        toml_string(&ws.database()),
        toml_string(&ws.path("merged.atom").display().to_string()),
    );
    for (name, url, role) in feeds {
        text.push_str(&format!(
            "[[feeds]]\nname = {}\nurl = {}\nrole = \"{}\"\n\n",
            toml_string(name),
            toml_string(url),
            role.as_str()
        ));
    }
    let path = ws.path("mirror-eval.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Which feeds a run polls before the one `poll` of every feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// None: the cycle's own order (origins, then mirrors).
    Cycle,
    /// The mirrors alone, as when the origin feeds were down.
    MirrorsFirst,
    /// Each role's feeds shuffled (by this seed) over a few polls.
    Shuffled(u64),
    /// One feed per poll, in the cycle's order: the only order no timing can change (within
    /// one poll, which feeds share a write depends on when they answered).
    OneByOne,
}

impl Order {
    /// Its name in `TRIBUTARY_EVAL_ORDER` (see [`eval_order`]) and in the report.
    fn name(self) -> String {
        match self {
            Order::Cycle => "cycle".to_owned(),
            Order::MirrorsFirst => "mirrors-first".to_owned(),
            Order::Shuffled(seed) => format!("shuffled:{seed}"),
            Order::OneByOne => "one-by-one".to_owned(),
        }
    }
}

/// Renders and serves every feed, polls them in `order` into `backend`, and returns the story
/// id of every labelled item, indexed `[set][item]`.
fn poll_all(sets: &[Set], binary: &Path, order: Order, backend: &Backend) -> Vec<Vec<i64>> {
    // The feeds' self links carry the server's port, known once it runs: the bodies are
    // rendered into a table the running server reads.
    let bodies: std::sync::Arc<parking_lot::RwLock<HashMap<String, (String, &'static str)>>> =
        std::sync::Arc::default();
    let served = std::sync::Arc::clone(&bodies);
    let server = TestServer::start(move |request| {
        let bodies = served.read();
        match bodies.get(request.path()) {
            Some((xml, content_type)) => {
                Reply::ok(xml.as_bytes().to_vec()).header("Content-Type", content_type)
            }
            None => Reply::not_found(),
        }
    });
    let mut feeds = Vec::new();
    {
        let mut bodies = bodies.write();
        for set in sets {
            for (index, feed) in set.feeds.iter().enumerate() {
                let name = set.served_name(index);
                let url = server.url(&format!("/{name}.xml"));
                let rendered = render(set, index, url.as_str());
                bodies.insert(url.path().to_owned(), rendered);
                feeds.push((name, url.to_string(), feed.role));
            }
        }
    }

    let ws = backend.workspace();
    // Mirrors first: polled on their own, as when the origin feeds were down, so that what
    // the matcher finds from the origin's side alone is measured too.
    if order == Order::MirrorsFirst {
        let mirrors: Vec<_> = feeds
            .iter()
            .filter(|(_, _, role)| *role == Role::Mirror)
            .cloned()
            .collect();
        let output = poll(binary, &ws, &write_config(&ws, &mirrors));
        assert!(output.status.success(), "{}", stderr(&output));
        println!(
            "poll (mirrors first): {}",
            stdout(&output).lines().next().unwrap_or_default()
        );
    }
    if order == Order::OneByOne {
        for role in [Role::Origin, Role::Mirror] {
            for feed in feeds.iter().filter(|f| f.2 == role) {
                let output = poll(binary, &ws, &write_config(&ws, std::slice::from_ref(feed)));
                assert!(output.status.success(), "{}", stderr(&output));
            }
        }
    }
    if let Order::Shuffled(seed) = order {
        // Each role's feeds in a shuffled order, over a few polls: origins before mirrors as
        // a cycle stores them, but neither in the config's order nor in one write.
        let mut random = fastrand::Rng::with_seed(seed);
        for role in [Role::Origin, Role::Mirror] {
            let mut group: Vec<_> = feeds.iter().filter(|f| f.2 == role).cloned().collect();
            random.shuffle(&mut group);
            let size = group.len().div_ceil(random.usize(2..6));
            for chunk in group.chunks(size) {
                let output = poll(binary, &ws, &write_config(&ws, chunk));
                assert!(output.status.success(), "{}", stderr(&output));
            }
        }
    }
    let output = poll(binary, &ws, &write_config(&ws, &feeds));
    let (out, err) = (stdout(&output), stderr(&output));
    assert!(
        output.status.success(),
        "poll with {} failed: exit {:?}\nstdout:\n{out}\nstderr:\n{err}",
        binary.display(),
        output.status.code()
    );
    // `poll` exits 0 when some feeds fail; a feed that failed would be scored as all misses.
    let failed: Vec<&str> = err
        .lines()
        .filter(|line| line.starts_with("feed ") && line.contains(" failed: "))
        .collect();
    assert!(
        failed.is_empty(),
        "{} feed(s) failed to poll:\n{}",
        failed.len(),
        failed.join("\n")
    );
    println!("poll: {}", out.lines().next().unwrap_or_default());
    let requested: HashSet<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    for (name, url, _) in &feeds {
        let path = url::Url::parse(url).expect("feed URL").path().to_owned();
        assert!(requested.contains(&path), "feed {name} was never fetched");
    }

    let store = Store::open(ws.target()).expect("open the polled database");
    let stories = store.stories(usize::MAX).expect("read stories");
    let mut story_of: HashMap<(String, String), Vec<i64>> = HashMap::new();
    for story in &stories {
        for member in &story.members {
            let item = &member.stored.item;
            story_of
                .entry((item.source.clone(), item.guid.clone()))
                .or_default()
                .push(story.id);
        }
    }
    let mut problems = Vec::new();
    let mut found: HashSet<(String, String)> = HashSet::new();
    let ids: Vec<Vec<i64>> = sets
        .iter()
        .map(|set| {
            set.items
                .iter()
                .map(|item| {
                    let key = (set.served_name(item.feed), item.guid.clone());
                    let stories = story_of.get(&key).map(Vec::as_slice).unwrap_or_default();
                    found.insert(key);
                    match stories {
                        [story] => *story,
                        [] => {
                            problems.push(format!(
                                "{}: {} {:?} ({:?}) is in no story",
                                set.file, set.feeds[item.feed].name, item.guid, item.title
                            ));
                            -1
                        }
                        many => {
                            problems.push(format!(
                                "{}: {} {:?} ({:?}) is in {} stories: {many:?}",
                                set.file,
                                set.feeds[item.feed].name,
                                item.guid,
                                item.title,
                                many.len()
                            ));
                            -1
                        }
                    }
                })
                .collect()
        })
        .collect();
    if !problems.is_empty() {
        let unlabelled: Vec<String> = story_of
            .keys()
            .filter(|key| !found.contains(*key))
            .map(|(source, guid)| format!("{source} {guid:?}"))
            .collect();
        panic!(
            "{} labelled item(s) not found exactly once:\n  {}\nstored items no label names ({}):\n  {}",
            problems.len(),
            problems.join("\n  "),
            unlabelled.len(),
            unlabelled.join("\n  ")
        );
    }
    ids
}

// ---------------------------------------------------------------------------------------------
// Scoring.

#[derive(Debug, Default, Clone, Serialize)]
struct Tally {
    items: usize,
    /// Works with two items or more: the only ones that can be split.
    multi_item_works: usize,
    split_works: usize,
    hard_negatives: usize,
    hard_folded: usize,
    tp: usize,
    fp: usize,
    #[serde(rename = "fn")]
    fn_: usize,
    /// False positives whose two items are in different sets (included in `fp`).
    cross_set_fp: usize,
    /// tp / (tp + fp), 1 when nothing was joined; set by [`Tally::finish`].
    precision: f64,
    /// tp / (tp + fn), 1 when no work has two items; set by [`Tally::finish`].
    recall: f64,
    /// The most pairs a matcher could join under the rule that a story never holds two items
    /// of one feed ([`one_feed_ceiling`]): a work labelled with two pages of one feed (a
    /// knowledge base's two notes of one post) can never be whole.
    reachable: usize,
    /// tp / reachable: recall against what the rules allow; set by [`Tally::finish`].
    reachable_recall: f64,
}

impl Tally {
    /// The counts are final: work out precision and recall.
    fn finish(mut self) -> Tally {
        self.precision = ratio(self.tp, self.tp + self.fp);
        self.recall = ratio(self.tp, self.tp + self.fn_);
        self.reachable_recall = ratio(self.tp, self.reachable);
        self
    }

    fn line(&self, label: &str) -> String {
        format!(
            "{label:<34} {:>5} {:>6} {:>5} {:>5} {:>5} {:>9.3} {:>6.3} {:>9.3} {:>6}/{:<4} {:>5}/{:<4}",
            self.items,
            self.tp,
            self.fp,
            self.cross_set_fp,
            self.fn_,
            self.precision,
            self.recall,
            self.reachable_recall,
            self.split_works,
            self.multi_item_works,
            self.hard_folded,
            self.hard_negatives,
        )
    }
}

/// The most pairs of one work's items that stories can hold when no story holds two items
/// of one feed: with `per_feed[f]` items from feed f, the k-th story can hold one item of each
/// feed that has k or more, and stories as unequal as that hold the most pairs.
fn one_feed_ceiling(per_feed: impl IntoIterator<Item = usize>) -> usize {
    let counts: Vec<usize> = per_feed.into_iter().collect();
    let deepest = counts.iter().copied().max().unwrap_or(0);
    (1..=deepest)
        .map(|k| {
            let story = counts.iter().filter(|&&m| m >= k).count();
            story * story.saturating_sub(1) / 2
        })
        .sum()
}

#[test]
fn the_one_feed_ceiling_keeps_a_feeds_second_item_out_of_the_work() {
    // Five feeds with one item each: every pair.
    assert_eq!(one_feed_ceiling([1, 1, 1, 1, 1]), 10);
    // One of them with a second item: that item joins none of the other four.
    assert_eq!(one_feed_ceiling([2, 1, 1, 1, 1]), 10);
    // Two feeds with two each: the two second items may share a story of their own.
    assert_eq!(one_feed_ceiling([2, 2, 1]), 3 + 1);
    // Two pages of one feed and nothing else: no pair at all.
    assert_eq!(one_feed_ceiling([2]), 0);
    assert_eq!(one_feed_ceiling([]), 0);
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        1.0
    } else {
        num as f64 / den as f64
    }
}

#[derive(Debug, Serialize)]
struct ItemRef {
    set: String,
    feed: String,
    guid: String,
    title: String,
    work: String,
    member_role: MemberRole,
    story: i64,
}

#[derive(Debug, Serialize)]
struct FalseMerge {
    story: i64,
    a: ItemRef,
    b: ItemRef,
}

#[derive(Debug, Serialize)]
struct SplitWork {
    set: String,
    work: String,
    /// The work's items, grouped by the story each landed in.
    stories: BTreeMap<i64, Vec<ItemRef>>,
}

#[derive(Debug, Serialize)]
struct HardFolded {
    item: ItemRef,
    why: String,
    /// The works it was folded with (`set/work`).
    folded_with: BTreeSet<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    binary: String,
    /// The order the feeds were polled in ([`Order::name`]).
    order: String,
    files: Vec<String>,
    overall: Tally,
    splits: BTreeMap<Split, Tally>,
    sets: BTreeMap<String, Tally>,
    /// Cross-set pairs in one story that are the same page labelled in two sets (same guid or
    /// link): no label relates them, so they are not scored.
    cross_set_same_page: usize,
    false_merges: Vec<FalseMerge>,
    split_works: Vec<SplitWork>,
    hard_folded: Vec<HardFolded>,
}

fn item_ref(set: &Set, item: &Item, story: i64) -> ItemRef {
    ItemRef {
        set: set.name.clone(),
        feed: set.feeds[item.feed].name.clone(),
        guid: item.guid.clone(),
        title: item.title.clone(),
        work: item.work.clone(),
        member_role: item.member_role,
        story,
    }
}

fn score(sets: &[Set], stories: &[Vec<i64>], binary: &Path, order: Order) -> Report {
    let mut overall = Tally::default();
    let mut splits: BTreeMap<Split, Tally> = BTreeMap::new();
    let mut per_set: Vec<Tally> = vec![Tally::default(); sets.len()];
    let mut false_merges = Vec::new();
    let mut cross_set_same_page = 0;

    // Items by story, and each work's items by story.
    let mut members: BTreeMap<i64, Vec<(usize, usize)>> = BTreeMap::new();
    let mut works: BTreeMap<(usize, &str), BTreeMap<i64, Vec<usize>>> = BTreeMap::new();
    for (s, set) in sets.iter().enumerate() {
        splits.entry(set.split).or_default();
        for (i, item) in set.items.iter().enumerate() {
            let story = stories[s][i];
            members.entry(story).or_default().push((s, i));
            works
                .entry((s, item.work.as_str()))
                .or_default()
                .entry(story)
                .or_default()
                .push(i);
            for tally in [&mut overall, &mut per_set[s]] {
                tally.items += 1;
                tally.hard_negatives += usize::from(item.hard);
            }
        }
    }

    // Positive pairs and splits, per work.
    let mut split_works = Vec::new();
    for ((s, work), by_story) in &works {
        let count: usize = by_story.values().map(Vec::len).sum();
        let positives = count * (count - 1) / 2;
        let joined: usize = by_story.values().map(|v| v.len() * (v.len() - 1) / 2).sum();
        let mut per_feed: BTreeMap<usize, usize> = BTreeMap::new();
        for &i in by_story.values().flatten() {
            *per_feed.entry(sets[*s].items[i].feed).or_default() += 1;
        }
        let tally = &mut per_set[*s];
        tally.tp += joined;
        tally.fn_ += positives - joined;
        tally.reachable += one_feed_ceiling(per_feed.into_values());
        if count > 1 {
            tally.multi_item_works += 1;
        }
        if by_story.len() > 1 {
            tally.split_works += 1;
            let set = &sets[*s];
            split_works.push(SplitWork {
                set: set.name.clone(),
                work: (*work).to_owned(),
                stories: by_story
                    .iter()
                    .map(|(story, items)| {
                        let refs = items
                            .iter()
                            .map(|i| item_ref(set, &set.items[*i], *story))
                            .collect();
                        (*story, refs)
                    })
                    .collect(),
            });
        }
    }

    // Negative pairs in one story: false merges.
    let mut folded: BTreeMap<(usize, usize), BTreeSet<String>> = BTreeMap::new();
    for (story, items) in &members {
        for (x, &(sa, ia)) in items.iter().enumerate() {
            for &(sb, ib) in &items[x + 1..] {
                let (a, b) = (&sets[sa].items[ia], &sets[sb].items[ib]);
                if sa == sb && a.work == b.work {
                    continue;
                }
                if sa != sb && (a.guid == b.guid || (a.link.is_some() && a.link == b.link)) {
                    cross_set_same_page += 1;
                    continue;
                }
                let cross = usize::from(sa != sb);
                overall.fp += 1;
                overall.cross_set_fp += cross;
                per_set[sa].fp += 1;
                per_set[sa].cross_set_fp += cross;
                if sa != sb {
                    per_set[sb].fp += 1;
                    per_set[sb].cross_set_fp += cross;
                }
                for (s, i, other_set, other) in [(sa, ia, sb, b), (sb, ib, sa, a)] {
                    if sets[s].items[i].hard {
                        folded
                            .entry((s, i))
                            .or_default()
                            .insert(format!("{}/{}", sets[other_set].name, other.work));
                    }
                }
                false_merges.push(FalseMerge {
                    story: *story,
                    a: item_ref(&sets[sa], a, *story),
                    b: item_ref(&sets[sb], b, *story),
                });
            }
        }
    }
    let hard_folded: Vec<HardFolded> = folded
        .into_iter()
        .map(|((s, i), folded_with)| {
            per_set[s].hard_folded += 1;
            let item = &sets[s].items[i];
            HardFolded {
                item: item_ref(&sets[s], item, stories[s][i]),
                why: item.why.clone(),
                folded_with,
            }
        })
        .collect();

    // Splits and the overall line add up the sets' counts, except false merges across sets,
    // which a split counts once when both sets are in it and `overall` counted once above.
    for (s, set) in sets.iter().enumerate() {
        let t = &per_set[s];
        overall.tp += t.tp;
        overall.fn_ += t.fn_;
        overall.reachable += t.reachable;
        overall.multi_item_works += t.multi_item_works;
        overall.split_works += t.split_works;
        overall.hard_folded += t.hard_folded;
        let split = splits.entry(set.split).or_default();
        split.items += t.items;
        split.tp += t.tp;
        split.fn_ += t.fn_;
        split.reachable += t.reachable;
        split.fp += t.fp - t.cross_set_fp;
        split.multi_item_works += t.multi_item_works;
        split.split_works += t.split_works;
        split.hard_negatives += t.hard_negatives;
        split.hard_folded += t.hard_folded;
    }
    let split_of: HashMap<&str, Split> = sets.iter().map(|s| (s.name.as_str(), s.split)).collect();
    for merge in false_merges.iter().filter(|m| m.a.set != m.b.set) {
        let (a, b) = (
            split_of[merge.a.set.as_str()],
            split_of[merge.b.set.as_str()],
        );
        for split in if a == b { vec![a] } else { vec![a, b] } {
            let tally = splits.entry(split).or_default();
            tally.fp += 1;
            tally.cross_set_fp += 1;
        }
    }

    Report {
        binary: binary.display().to_string(),
        order: order.name(),
        files: sets.iter().map(|s| s.file.clone()).collect(),
        overall: overall.finish(),
        splits: splits
            .into_iter()
            .map(|(split, tally)| (split, tally.finish()))
            .collect(),
        sets: sets
            .iter()
            .zip(per_set)
            .map(|(set, tally)| (set.name.clone(), tally.finish()))
            .collect(),
        cross_set_same_page,
        false_merges,
        split_works,
        hard_folded,
    }
}

fn describe(item: &ItemRef) -> String {
    format!(
        "{}/{} [{}] {:?} (work {})",
        item.set,
        item.feed,
        item.member_role.as_str(),
        item.title,
        item.work
    )
}

/// Prints whole entries (an entry may span lines) while they fit in [`MAX_LINES`] lines, then
/// how many were left out.
fn print_capped(entries: &[String]) {
    let mut printed = 0;
    for (shown, entry) in entries.iter().enumerate() {
        let lines = entry.lines().count();
        if printed + lines > MAX_LINES {
            println!(
                "  ... and {} more (TRIBUTARY_EVAL_REPORT=path writes them all)",
                entries.len() - shown
            );
            return;
        }
        println!("{entry}");
        printed += lines;
    }
}

fn print_report(report: &Report, sets: &[Set]) {
    let works: usize = sets
        .iter()
        .map(|s| {
            s.items
                .iter()
                .map(|i| &i.work)
                .collect::<HashSet<_>>()
                .len()
        })
        .sum();
    let feeds: usize = sets.iter().map(|s| s.feeds.len()).sum();
    println!(
        "\nmirror evaluation: {} set(s) ({}), {} items, {works} works, {feeds} feeds; binary {}",
        sets.len(),
        report.files.join(", "),
        report.overall.items,
        report.binary
    );
    println!(
        "{:<34} {:>5} {:>6} {:>5} {:>5} {:>5} {:>9} {:>6} {:>9} {:>11} {:>10}",
        "",
        "items",
        "tp",
        "fp",
        "(x)",
        "fn",
        "precision",
        "recall",
        "reachable",
        "split works",
        "hard fold"
    );
    for split in [Split::Tune, Split::Holdout, Split::Sample] {
        match report.splits.get(&split) {
            Some(tally) => println!("{}", tally.line(&format!("split {}", split.as_str()))),
            None => println!("split {:<28} no sets", split.as_str()),
        }
    }
    for set in sets {
        if let Some(tally) = report.sets.get(&set.name) {
            println!(
                "{}",
                tally.line(&format!("set {} ({})", set.name, set.split.as_str()))
            );
        }
    }
    println!("{}", report.overall.line("overall"));
    println!(
        "(fp (x): false merges across sets; reachable: recall against the pairs a matcher can join when a story never holds two items of one feed; split works: k/N works of 2+ items in 2+ stories; hard fold: hard negatives folded into another work's story)"
    );
    if report.cross_set_same_page > 0 {
        println!(
            "{} cross-set pair(s) in one story are one page labelled in two sets: not scored",
            report.cross_set_same_page
        );
    }

    // The mistakes listed are the tuning sets' unless `TRIBUTARY_EVAL_DETAILS` names other
    // splits (`tune,holdout`): whoever tunes the matcher must never read the held-out set's
    // mistakes by running the test the plain way (its scores still print).
    let details = std::env::var("TRIBUTARY_EVAL_DETAILS").unwrap_or_else(|_| "tune".to_owned());
    let shown = |set: &str| {
        sets.iter()
            .any(|s| s.name == set && details.split(',').any(|w| w == s.split.as_str()))
    };
    if !report.false_merges.is_empty() {
        println!("\nfalse merges ({} pairs):", report.false_merges.len());
        let lines: Vec<String> = report
            .false_merges
            .iter()
            .filter(|m| shown(&m.a.set) && shown(&m.b.set))
            .map(|m| {
                format!(
                    "  story {}: {}\n      + {}",
                    m.story,
                    describe(&m.a),
                    describe(&m.b)
                )
            })
            .collect();
        print_capped(&lines);
    }
    if !report.split_works.is_empty() {
        println!("\nsplit works ({}):", report.split_works.len());
        let entries: Vec<String> = report
            .split_works
            .iter()
            .filter(|split| shown(&split.set))
            .map(|split| {
                let mut entry = format!(
                    "  {}/{}: {} stories",
                    split.set,
                    split.work,
                    split.stories.len()
                );
                for (story, items) in &split.stories {
                    let items: Vec<String> = items
                        .iter()
                        .map(|i| format!("{} [{}] {:?}", i.feed, i.member_role.as_str(), i.title))
                        .collect();
                    entry.push_str(&format!("\n      story {story}: {}", items.join("; ")));
                }
                entry
            })
            .collect();
        print_capped(&entries);
    }
    if !report.hard_folded.is_empty() {
        println!("\nhard negatives folded ({}):", report.hard_folded.len());
        let lines: Vec<String> = report
            .hard_folded
            .iter()
            .filter(|h| shown(&h.item.set))
            .map(|h| {
                format!(
                    "  {} into story {} with {:?}: {}",
                    describe(&h.item),
                    h.item.story,
                    h.folded_with,
                    h.why
                )
            })
            .collect();
        print_capped(&lines);
    }
}

#[test]
fn real_world_mirrors() {
    let order = match std::env::var("TRIBUTARY_EVAL_ORDER") {
        Ok(value) => eval_order(&value).unwrap_or_else(|e| panic!("{e}")),
        Err(_) => Order::Cycle,
    };
    evaluate(order, std::env::var_os("TRIBUTARY_EVAL_REPORT"));
}

/// The order `TRIBUTARY_EVAL_ORDER` names: `cycle`, `mirrors-first` or `shuffled:SEED` (the
/// orders `real_world_mirrors_group_alike_in_any_order` compares, to score one of them). A
/// name it does not know is an error rather than the cycle: a misspelt order would otherwise
/// report the cycle's figures as another order's.
fn eval_order(value: &str) -> Result<Order, String> {
    let shuffled = value.strip_prefix("shuffled:").map(str::parse::<u64>);
    match (value, shuffled) {
        ("cycle", _) => Ok(Order::Cycle),
        ("mirrors-first", _) => Ok(Order::MirrorsFirst),
        (_, Some(Ok(seed))) => Ok(Order::Shuffled(seed)),
        _ => Err(format!(
            "TRIBUTARY_EVAL_ORDER={value:?}: expected cycle, mirrors-first or shuffled:SEED \
             (a whole number)"
        )),
    }
}

#[test]
fn the_evaluation_order_is_read_from_its_name_or_refused() {
    assert_eq!(eval_order("cycle"), Ok(Order::Cycle));
    assert_eq!(eval_order("mirrors-first"), Ok(Order::MirrorsFirst));
    assert_eq!(eval_order("shuffled:2"), Ok(Order::Shuffled(2)));
    for order in [Order::Cycle, Order::MirrorsFirst, Order::Shuffled(7)] {
        assert_eq!(
            eval_order(&order.name()),
            Ok(order),
            "the report names {order:?} as it is asked for"
        );
    }
    for wrong in ["mirrors_first", "shuffled", "shuffled:two", "Cycle", ""] {
        let error = eval_order(wrong).expect_err(wrong);
        assert!(error.contains(&format!("{wrong:?}")), "{error}");
    }
}

/// The same set with every mirror polled before any origin (as when the origin feeds were
/// down): the stories must come out as good, since a summary or a copy that came first is
/// found again from the origin's side.
#[test]
fn real_world_mirrors_polled_before_their_origins() {
    // Its report is `real_world_mirrors`'s with TRIBUTARY_EVAL_ORDER=mirrors-first: written
    // here too, the two tests running at once would each overwrite the other's.
    evaluate(Order::MirrorsFirst, None);
}

/// The evaluation polled into PostgreSQL makes the stories SQLite makes: its matching reads are
/// its own statements (batched probes, their caps and orders), so the floors above hold for it
/// only if every set groups alike. Groupings and figures are asserted equal and never printed,
/// so a difference shows no held-out item. Both are polled one feed at a time, so that the two
/// store the same items in the same order however busy the machine is.
#[test]
fn real_world_mirrors_group_alike_on_postgres() {
    let Some(postgres) = Backend::postgres(module_path!()) else {
        return;
    };
    let sets = load_sets();
    let binary = eval_binary();
    let on_sqlite = poll_all(&sets, &binary, Order::OneByOne, &Backend::Sqlite);
    let on_postgres = poll_all(&sets, &binary, Order::OneByOne, &postgres);
    let (sqlite, postgres) = (groupings(&on_sqlite), groupings(&on_postgres));
    let differing: Vec<&str> = sets
        .iter()
        .zip(sqlite.iter().zip(&postgres))
        .filter(|(_, (a, b))| a != b)
        .map(|(set, _)| set.name.as_str())
        .collect();
    assert!(
        differing.is_empty(),
        "{} of {} sets group differently on PostgreSQL",
        differing.len(),
        sets.len()
    );
    let figures = |stories: &[Vec<i64>]| {
        let report = score(&sets, stories, &binary, Order::OneByOne);
        serde_json::to_value((report.overall, report.splits, report.sets)).expect("figures")
    };
    assert!(
        figures(&on_sqlite) == figures(&on_postgres),
        "the figures differ on PostgreSQL"
    );
}

/// The `tune` sets group as they do in one cycle whichever order their feeds are stored in,
/// within each role (a mirror that meets another mirror first still ends in the work's story).
/// Held-out sets are polled alongside but not compared: their groupings stay unseen.
#[test]
fn real_world_mirrors_group_alike_in_any_order() {
    let sets = load_sets();
    let binary = eval_binary();
    let cycle = groupings(&poll_all(&sets, &binary, Order::Cycle, &Backend::Sqlite));
    for seed in [1, 2, 3] {
        let shuffled = groupings(&poll_all(
            &sets,
            &binary,
            Order::Shuffled(seed),
            &Backend::Sqlite,
        ));
        let differing: Vec<String> = sets
            .iter()
            .zip(cycle.iter().zip(&shuffled))
            .filter(|(set, (a, b))| set.split != Split::Holdout && a != b)
            .map(|(set, (a, b))| grouped_otherwise(set, a, b))
            .collect();
        assert!(
            differing.is_empty(),
            "polled in order {seed} (TRIBUTARY_EVAL_ORDER=shuffled:{seed}), these sets group \
             differently from the cycle:\n{}",
            differing.join("\n")
        );
    }
}

/// What a tune set's two groupings (`cycle`, `other`: see [`groupings`]) disagree on, for the
/// failure message: each work whose items are grouped otherwise, as its stories in either
/// order (the feed and title of each member), so the race can be read off without a rerun.
fn grouped_otherwise(set: &Set, cycle: &[(usize, usize)], other: &[(usize, usize)]) -> String {
    let works: BTreeSet<&str> = set
        .items
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            (0..set.items.len()).any(|j| (cycle[*i] == cycle[j]) != (other[*i] == other[j]))
        })
        .map(|(_, item)| item.work.as_str())
        .collect();
    let stories = |grouping: &[(usize, usize)], work: &str| -> String {
        let mut by_story: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
        for (i, item) in set.items.iter().enumerate() {
            if item.work == work {
                by_story
                    .entry(grouping[i])
                    .or_default()
                    .push(format!("{}: {}", set.feeds[item.feed].name, item.title));
            }
        }
        let stories: Vec<String> = by_story
            .into_values()
            .map(|members| format!("[{}]", members.join("; ")))
            .collect();
        stories.join(" ")
    };
    let lines: Vec<String> = works
        .iter()
        .map(|work| {
            format!(
                "  {}/{work}:\n    cycle: {}\n    other: {}",
                set.name,
                stories(cycle, work),
                stories(other, work)
            )
        })
        .collect();
    lines.join("\n")
}

#[test]
fn a_work_grouped_otherwise_is_named_with_its_stories_in_both_orders() {
    let sets = load_sets();
    let (s, sample) = sets
        .iter()
        .enumerate()
        .find(|(_, set)| set.name == SAMPLE_SET)
        .expect("sample set is loaded");
    // The sample's two copies of one work together, and the other items each alone: as the
    // cycle groups them, and then with the copies apart.
    let together: Vec<i64> = sample
        .items
        .iter()
        .zip(0..)
        .map(|(item, i)| if item.work == SAMPLE_EASY_WORK { -1 } else { i })
        .collect();
    let apart: Vec<i64> = (0..).take(sample.items.len()).collect();
    let grouping = |ids: &[i64]| {
        let mut all = vec![Vec::new(); sets.len()];
        all[s] = ids.to_vec();
        groupings(&all).swap_remove(s)
    };
    let (cycle, other) = (grouping(&together), grouping(&apart));
    assert_eq!(grouped_otherwise(sample, &cycle, &cycle), "");
    let message = grouped_otherwise(sample, &cycle, &other);
    let copies = "tide-letter: Why tide tables drift; harbour-digest: Why tide tables drift";
    assert_eq!(
        message,
        format!(
            "  {SAMPLE_SET}/{SAMPLE_EASY_WORK}:\n    cycle: [{copies}]\n    other: \
             [tide-letter: Why tide tables drift] [harbour-digest: Why tide tables drift]"
        ),
        "only the work grouped otherwise is named"
    );
}

/// Each labelled item's story as the first item (`[set][item]`) it shares that story with:
/// equal for two runs exactly when they group alike, whatever ids their stories got.
fn groupings(stories: &[Vec<i64>]) -> Vec<Vec<(usize, usize)>> {
    let mut first: HashMap<i64, (usize, usize)> = HashMap::new();
    stories
        .iter()
        .enumerate()
        .map(|(s, items)| {
            items
                .iter()
                .enumerate()
                .map(|(i, story)| *first.entry(*story).or_insert((s, i)))
                .collect()
        })
        .collect()
}

/// Polls every set in `order`, prints the tables (and writes the JSON report to `report_to`),
/// and holds the figures to their floors.
fn evaluate(order: Order, report_to: Option<std::ffi::OsString>) {
    let sets = load_sets();
    assert!(
        sets.iter().any(|s| s.name == SAMPLE_SET),
        "{FIXTURES}/sample.json (set `{SAMPLE_SET}`) is missing: it proves the harness works"
    );
    let binary = eval_binary();
    let stories = poll_all(&sets, &binary, order, &Backend::Sqlite);
    let report = score(&sets, &stories, &binary, order);
    print_report(&report, &sets);
    if let Some(path) = report_to {
        let json = serde_json::to_string_pretty(&report).expect("report as JSON");
        std::fs::write(&path, json)
            .unwrap_or_else(|e| panic!("write {}: {e}", Path::new(&path).display()));
        println!("report written to {}", Path::new(&path).display());
    }

    // The harness itself: the sample's easy pair folds.
    let (s, sample) = sets
        .iter()
        .enumerate()
        .find(|(_, set)| set.name == SAMPLE_SET)
        .expect("sample set is loaded");
    let easy: Vec<(&Item, i64)> = sample
        .items
        .iter()
        .zip(&stories[s])
        .filter(|(item, _)| item.work == SAMPLE_EASY_WORK)
        .map(|(item, story)| (item, *story))
        .collect();
    assert!(
        easy.len() >= 2,
        "sample.json must have at least two items of `{SAMPLE_EASY_WORK}`"
    );
    assert!(
        easy.iter().all(|(_, story)| *story == easy[0].1),
        "the sample's easy pair (one canonical URL) was not folded, so the harness is broken: {:?}",
        easy.iter()
            .map(|(item, story)| format!("{:?} -> story {story}", item.guid))
            .collect::<Vec<_>>()
    );

    let floors = [
        (Split::Tune, TUNE_PRECISION_FLOOR, None),
        (
            Split::Holdout,
            HOLDOUT_PRECISION_FLOOR,
            Some(HOLDOUT_RECALL_FLOOR),
        ),
    ];
    for (split, precision_floor, recall_floor) in floors {
        let Some(tally) = report.splits.get(&split) else {
            continue;
        };
        let name = split.as_str();
        assert!(
            tally.precision >= precision_floor,
            "{name} precision {:.3} < {precision_floor}",
            tally.precision
        );
        if let Some(recall_floor) = recall_floor {
            assert!(
                tally.recall >= recall_floor,
                "{name} recall {:.3} < {recall_floor}",
                tally.recall
            );
        }
    }
    for (set, recall_floor) in TUNE_RECALL_FLOORS {
        // A clone may hold fewer sets than the floors name (the sample set alone, say).
        let Some(tally) = report.sets.get(*set) else {
            continue;
        };
        assert!(
            tally.recall >= *recall_floor,
            "{set} recall {:.3} < {recall_floor}",
            tally.recall
        );
    }
}

/// The renderers checked through tributary's own parser: every shape, every body kind, audio
/// and a footer come back as written (guid, title, link, date, episode, enclosure, text), so a
/// score is the matcher's and not a renderer's mistake.
#[test]
fn every_shape_reads_back_as_written() {
    const SHAPES: &[(&str, Shape)] = &[
        ("substack", Shape::Substack),
        ("substack-podcast", Shape::SubstackPodcast),
        ("podcast", Shape::Podcast),
        ("atom", Shape::Atom),
        ("wordpress", Shape::Wordpress),
        ("hnrss", Shape::Hnrss),
        ("youtube", Shape::Youtube),
        ("rss", Shape::Rss),
    ];
    let text = "<p>Salt &amp; silt settle where the <em>river</em> slows, and the channel moves \
                a little east each winter.</p><p>Gauges at the mouth record it; the charts \
                lag by years, which is why pilots still sound the bar ]]> by hand.</p>";
    let published = DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .expect("test date")
        .with_timezone(&Utc);
    let footer = "<p>Sponsored by the Estuary Trust.</p>";
    let mut feeds = Vec::new();
    let mut items = Vec::new();
    for (index, (name, shape)) in SHAPES.iter().enumerate() {
        feeds.push(Feed {
            name: (*name).to_owned(),
            role: Role::Origin,
            shape: *shape,
            title: format!("Feed & {name}"),
            link: format!("https://{name}.example.com"),
            author: Some("Ada \"Tides\" Example".to_owned()),
            footer: (*shape == Shape::Podcast).then(|| footer.to_owned()),
        });
        let bodies = [
            Body::Full,
            Body::Lead(6),
            Body::Own("<p>Own words about <b>dredging</b> &lt;soon&gt;.</p>".to_owned()),
            Body::None,
        ];
        for (n, body) in bodies.into_iter().enumerate() {
            let link = format!("https://{name}.example.com/p/{n}?a=1&b=2");
            items.push(Item {
                feed: index,
                guid: if *shape == Shape::Youtube {
                    format!("yt:video:vid{n}")
                } else {
                    format!("{link}#guid")
                },
                title: format!("Item {n} of {name}: Q&A \"more\""),
                link: Some(link),
                published: Some(
                    published + chrono::TimeDelta::hours(i64::try_from(n).expect("small index")),
                ),
                work: "w".to_owned(),
                member_role: MemberRole::Post,
                body,
                audio: (n == 0).then(|| Audio {
                    url: format!("https://cdn.example.com/{name}.mp3?x=1&y=2"),
                    mime: Some("audio/mpeg".to_owned()),
                    length: Some(1234),
                    duration: Some(AudioDuration::Text("00:12:34".to_owned())),
                }),
                hard: false,
                why: String::new(),
            });
        }
    }
    let set = Set {
        file: "in-code".to_owned(),
        name: "shapes".to_owned(),
        split: Split::Sample,
        feeds,
        works: HashMap::from([("w".to_owned(), text.to_owned())]),
        items,
    };
    let plain_words = |html: &str| -> String {
        decode_entities(&strip_tags(html, " "))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let now = published + chrono::TimeDelta::days(1);
    for (index, feed) in set.feeds.iter().enumerate() {
        let url = format!("http://127.0.0.1:1/{}.xml", feed.name);
        let (xml, _) = render(&set, index, &url);
        let feed_url = url::Url::parse(&url).expect("feed URL");
        let parsed = tributary::normalize::parse_feed(xml.as_bytes(), &feed_url, &feed.name, now)
            .unwrap_or_else(|e| panic!("{}: {e}\n{xml}", feed.name));
        for item in set.items.iter().filter(|i| i.feed == index) {
            let what = format!("{} {:?}", feed.name, item.guid);
            let got = parsed
                .items
                .iter()
                .map(tributary::normalize::ParsedItem::sanitized)
                .find(|got| got.guid == item.guid)
                .unwrap_or_else(|| panic!("{what}: not read back\n{xml}"));
            assert_eq!(got.title, item.title, "{what}: title");
            assert_eq!(got.link, item.link, "{what}: link");
            assert_eq!(got.published, item.published, "{what}: published");
            let episode = got.kind == tributary::model::ItemKind::Episode;
            assert_eq!(episode, item.audio.is_some(), "{what}: episode");
            if let Some(audio) = &item.audio {
                let enclosure = got.enclosure.as_ref().map(|e| e.url.as_str());
                assert_eq!(enclosure, Some(audio.url.as_str()), "{what}: enclosure");
            }
            let body = got.body().map(plain_words).unwrap_or_default();
            match body_html(&set, item) {
                Some(expected) => {
                    // WordPress's body is its content:encoded; its excerpt is only a summary.
                    let expected = plain_words(&expected);
                    assert!(
                        body.contains(&expected),
                        "{what}: body {body:?} lacks {expected:?}\n{xml}"
                    );
                }
                None if feed.shape == Shape::Hnrss => {
                    assert!(body.contains("Article URL"), "{what}: body {body:?}");
                }
                None => assert!(body.is_empty(), "{what}: body {body:?} where none was"),
            }
        }
    }
}
