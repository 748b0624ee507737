//! The normaliser against hand-written fixtures (one behaviour each) and against the shared
//! corpus of 1,125 real and synthetic feed documents.

use crate::common::binary::{Workspace, assert_success};
use crate::common::bodies::utf16;
use crate::common::server::{Reply, TestServer};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use tributary::model::{Item, ItemKind};
use tributary::normalize::{NormalizeError, ParsedItem, parse_feed};
use url::Url;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0)
        .single()
        .expect("valid test date")
}

fn feed_url() -> Url {
    Url::parse("https://example.com/feed.xml").expect("valid test URL")
}

/// A parsed feed with its items as the store keeps them: sanitised.
struct Feed {
    title: Option<String>,
    link: Option<String>,
    ttl: Option<Duration>,
    items: Vec<Item>,
}

fn parse(text: &str) -> Feed {
    let parsed = parse_feed(text.as_bytes(), &feed_url(), "test", now()).expect("fixture parses");
    Feed {
        items: parsed.items.iter().map(ParsedItem::sanitized).collect(),
        title: parsed.title,
        link: parsed.link,
        ttl: parsed.ttl,
    }
}

#[test]
fn corpus_parses_and_recovers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let manifest_path = root.join("MANIFEST.tsv");
    if !manifest_path.is_file() {
        assert!(
            std::env::var("TRIBUTARY_REQUIRE_SHARED").as_deref() != Ok("1"),
            "TRIBUTARY_REQUIRE_SHARED=1 but {} is missing",
            manifest_path.display()
        );
        eprintln!(
            "corpus_parses_and_recovers: skipped, {} not found",
            manifest_path.display()
        );
        return;
    }
    let manifest = std::fs::read_to_string(&manifest_path).expect("MANIFEST.tsv is readable");
    let rows: Vec<Row> = manifest.lines().skip(1).filter_map(Row::parse).collect();
    assert!(rows.len() > 1000, "manifest lists {} files", rows.len());

    let mut good = Tally::default();
    let mut broken = Tally::default();
    let mut panics = Vec::new();
    let mut hangs = Vec::new();
    let mut unsafe_html = Vec::new();
    for row in &rows {
        let outcome = parse_bounded(&root.join(&row.local_path), Duration::from_secs(10));
        match &outcome {
            Outcome::Panicked(message) => panics.push(format!("{}: {message}", row.local_path)),
            Outcome::Failed(NormalizeError::Panic(message)) => {
                panics.push(format!("{}: (caught) {message}", row.local_path));
            }
            Outcome::TimedOut => hangs.push(row.local_path.clone()),
            Outcome::Unsafe(what) => unsafe_html.push(format!("{}: {what}", row.local_path)),
            _ => {}
        }
        if row.is_good_real_feed() {
            good.total += 1;
            match &outcome {
                Outcome::Parsed(items) => {
                    good.ok += 1;
                    if *items == 0 {
                        good.empty.push(row.local_path.clone());
                    }
                }
                other => good.failures.push(format!("{}: {other}", row.local_path)),
            }
        }
        if row.is_accidentally_broken() {
            broken.total += 1;
            match &outcome {
                Outcome::Parsed(items) if *items > 0 => broken.ok += 1,
                other => broken.failures.push(format!("{}: {other}", row.local_path)),
            }
        }
    }

    eprintln!(
        "corpus: {} files; well-formed real feeds parsed {}/{}; broken documents with items {}/{}; panics {}; hangs {}",
        rows.len(),
        good.ok,
        good.total,
        broken.ok,
        broken.total,
        panics.len(),
        hangs.len()
    );
    for failure in &good.failures {
        eprintln!("  well-formed, not parsed: {failure}");
    }
    for empty in &good.empty {
        eprintln!("  well-formed, parsed, no items: {empty}");
    }
    for failure in &broken.failures {
        eprintln!("  broken, no items: {failure}");
    }
    for panic in &panics {
        eprintln!("  PANIC: {panic}");
    }
    for hang in &hangs {
        eprintln!("  HANG (>10 s): {hang}");
    }
    for what in &unsafe_html {
        eprintln!("  UNSAFE: {what}");
    }
    assert!(panics.is_empty(), "parser panics: {panics:?}");
    assert!(unsafe_html.is_empty(), "unsafe HTML: {unsafe_html:?}");
    assert!(hangs.is_empty(), "parses over 10 s: {hangs:?}");
    assert!(
        good.ok >= 202 && good.ok + 2 >= good.total,
        "well-formed real feeds parsed: {}/{}",
        good.ok,
        good.total
    );
    assert!(
        broken.ok >= 50,
        "broken documents with items: {}/{}",
        broken.ok,
        broken.total
    );
}

/// Parity with Python feedparser 6, the reference forgiving reader: on every corpus document
/// that is not broken on purpose, tributary finds at least as many items as feedparser does on
/// the same bytes (`scripts/feedparser_counts.py`). Skipped without the corpus or without
/// feedparser, unless `TRIBUTARY_REQUIRE_SHARED=1` / `TRIBUTARY_REQUIRE_VALIDATORS=1` (CI).
#[test]
fn corpus_has_as_many_items_as_feedparser() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = crate_dir.join("../shared/corpus");
    let Ok(manifest) = std::fs::read_to_string(corpus.join("MANIFEST.tsv")) else {
        assert!(
            std::env::var("TRIBUTARY_REQUIRE_SHARED").as_deref() != Ok("1"),
            "TRIBUTARY_REQUIRE_SHARED=1 but {} is missing",
            corpus.display()
        );
        eprintln!("corpus_has_as_many_items_as_feedparser: skipped, no shared corpus");
        return;
    };
    let probe = Command::new("python3")
        .args(["-c", "import feedparser"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var("TRIBUTARY_REQUIRE_VALIDATORS").as_deref() != Ok("1"),
            "python3 with feedparser is missing and TRIBUTARY_REQUIRE_VALIDATORS=1"
        );
        eprintln!("corpus_has_as_many_items_as_feedparser: skipped, no python3 with feedparser");
        return;
    }
    let paths: Vec<PathBuf> = manifest
        .lines()
        .skip(1)
        .filter_map(Row::parse)
        .filter(|row| !row.is_broken_on_purpose())
        .map(|row| corpus.join(row.local_path))
        .collect();
    assert!(paths.len() > 1000, "{} documents to compare", paths.len());

    let theirs = feedparser_counts(&crate_dir.join("scripts/feedparser_counts.py"), &paths);
    let mut below = Vec::new();
    for path in &paths {
        let key = path.display().to_string();
        let expected = *theirs
            .get(&key)
            .unwrap_or_else(|| panic!("feedparser_counts.py did not report {key}"));
        let found = match parse_bounded(path, Duration::from_secs(10)) {
            Outcome::Parsed(items) => items,
            _ => 0,
        };
        if found < expected {
            below.push(format!("{key}: {found} items, feedparser {expected}"));
        }
    }
    eprintln!(
        "feedparser parity: {} of {} documents with fewer items than feedparser",
        below.len(),
        paths.len()
    );
    assert!(
        below.is_empty(),
        "{} documents with fewer items than feedparser:\n{}",
        below.len(),
        below.join("\n")
    );
}

/// feedparser's entry count for each of `paths`, keyed by the path as displayed.
fn feedparser_counts(script: &Path, paths: &[PathBuf]) -> HashMap<String, usize> {
    // The list goes through a file: a pipe written while the script's output fills the other
    // pipe would deadlock.
    let mut list = tempfile::NamedTempFile::new().expect("a temporary file");
    for path in paths {
        writeln!(list, "{}", path.display()).expect("write the path list");
    }
    let input = std::fs::File::open(list.path()).expect("reopen the path list");
    let output = Command::new("python3")
        .arg(script)
        .stdin(input)
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let (count, path) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("not `count<TAB>path`: {line}"));
            let count = count
                .parse()
                .unwrap_or_else(|e| panic!("count {count:?} for {path}: {e}"));
            (path.to_string(), count)
        })
        .collect()
}

/// What sanitised HTML must never carry: a dangerous element, an event handler or style
/// attribute, or a link or image that is not an absolute http(s) (or mailto) URL. Relies on
/// the sanitiser's serialisation: every `<` starts a tag and attributes are `name="value"`.
fn unsafe_markup(html: &str) -> Option<String> {
    const ELEMENTS: &[&str] = &[
        "script", "style", "iframe", "frame", "object", "embed", "form", "input", "svg", "math",
        "link", "meta", "base",
    ];
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        let name: String = tag
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if ELEMENTS.contains(&name.as_str()) {
            return Some(format!("<{tag}>"));
        }
        let mut rest = &tag[name.len()..];
        while let Some(eq) = rest.find("=\"") {
            let attribute = rest[..eq].trim().to_ascii_lowercase();
            let after = &rest[eq + 2..];
            let end = after.find('"').unwrap_or(after.len());
            let value = after[..end].trim().to_ascii_lowercase();
            rest = after.get(end + 1..).unwrap_or_default();
            let bad_url = matches!(attribute.as_str(), "href" | "src" | "cite" | "action")
                && !["http://", "https://", "mailto:"]
                    .iter()
                    .any(|scheme| value.starts_with(scheme));
            if attribute.starts_with("on") || attribute == "style" || bad_url {
                return Some(format!("<{tag}>"));
            }
        }
    }
    None
}

/// One line of MANIFEST.tsv (the columns this test uses).
struct Row {
    local_path: String,
    format: String,
    well_formed: String,
    intentionally_malformed: String,
    kind: String,
}

impl Row {
    fn parse(line: &str) -> Option<Row> {
        let columns: Vec<&str> = line.split('\t').collect();
        let column = |index: usize| columns.get(index).map(|c| c.trim().to_string());
        Some(Row {
            local_path: column(0)?,
            format: column(5)?,
            well_formed: column(6)?,
            intentionally_malformed: column(7)?,
            kind: column(8)?,
        })
    }

    /// A feed captured from a live site, well-formed, in a format feed-rs reads.
    fn is_good_real_feed(&self) -> bool {
        let feed_format = matches!(
            self.format.as_str(),
            "rss2" | "atom" | "atom03" | "rss1" | "json" | "json-other" | "podcast"
        ) || self.format.starts_with("rss0.9");
        self.kind == "real"
            && self.well_formed.starts_with("yes")
            && self.intentionally_malformed == "no"
            && feed_format
    }

    /// Its source project broke it on purpose (or expects its parser to call it broken).
    fn is_broken_on_purpose(&self) -> bool {
        self.intentionally_malformed.starts_with("yes")
    }

    /// Not well-formed, and not broken on purpose by its source project.
    fn is_accidentally_broken(&self) -> bool {
        self.well_formed.starts_with("no") && !self.intentionally_malformed.starts_with("yes")
    }
}

#[derive(Default)]
struct Tally {
    ok: usize,
    total: usize,
    failures: Vec<String>,
    /// Parsed, but without a single item.
    empty: Vec<String>,
}

enum Outcome {
    Parsed(usize),
    /// Parsed, but sanitised HTML still carries something it must not.
    Unsafe(String),
    Failed(NormalizeError),
    Panicked(String),
    TimedOut,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Parsed(items) => write!(f, "parsed, {items} items"),
            Outcome::Unsafe(what) => write!(f, "unsafe HTML: {what}"),
            Outcome::Failed(error) => write!(f, "{error}"),
            Outcome::Panicked(message) => write!(f, "panic: {message}"),
            Outcome::TimedOut => write!(f, "timed out"),
        }
    }
}

/// Parses one file on its own thread (with the 2 MiB stack of a Tokio blocking thread, where
/// the daemon parses), catching panics and giving up after `limit`.
fn parse_bounded(path: &Path, limit: Duration) -> Outcome {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => return Outcome::Panicked(format!("cannot read {}: {error}", path.display())),
    };
    let (sender, receiver) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("corpus-parse".into())
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let url = Url::parse("https://corpus.example/feed").expect("valid URL");
            let result = std::panic::catch_unwind(|| parse_feed(&bytes, &url, "corpus", now()));
            // The receiver may have given up waiting; nothing to do then.
            let _ = sender.send(result);
        });
    if let Err(error) = spawned {
        return Outcome::Panicked(format!("cannot spawn a parser thread: {error}"));
    }
    match receiver.recv_timeout(limit) {
        Ok(Ok(Ok(parsed))) => {
            let unsafe_html: Vec<String> = parsed
                .items
                .iter()
                .map(ParsedItem::sanitized)
                .flat_map(|item| [item.summary, item.content])
                .flatten()
                .filter_map(|html| unsafe_markup(&html))
                .collect();
            if unsafe_html.is_empty() {
                Outcome::Parsed(parsed.items.len())
            } else {
                Outcome::Unsafe(unsafe_html.join("; "))
            }
        }
        Ok(Ok(Err(error))) => Outcome::Failed(error),
        Ok(Err(payload)) => Outcome::Panicked(
            payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default(),
        ),
        Err(mpsc::RecvTimeoutError::Timeout) => Outcome::TimedOut,
        // The thread died without sending: a panic that escaped catch_unwind (e.g. abort).
        Err(mpsc::RecvTimeoutError::Disconnected) => Outcome::Panicked("parser thread died".into()),
    }
}

#[test]
fn substack_post_with_cover_image_enclosure_is_a_post() {
    let feed = parse(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:atom="http://www.w3.org/2005/Atom" version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:googleplay="http://www.google.com/schemas/play-podcasts/1.0"><channel><title><![CDATA[Tide Tables]]></title><link>https://tides.example.org</link><atom:link href="https://tides.example.org/feed" rel="self" type="application/rss+xml"/><itunes:owner><itunes:email><![CDATA[tides@example.org]]></itunes:email><itunes:name><![CDATA[Ana Reyes]]></itunes:name></itunes:owner><item><title><![CDATA[Why the <b>spring</b> tide runs late]]></title><description><![CDATA[A short note on lunar lag.]]></description><link>https://tides.example.org/p/spring-tide</link><guid isPermaLink="false">https://tides.example.org/p/spring-tide</guid><dc:creator><![CDATA[Ana Reyes]]></dc:creator><pubDate>Mon, 12 May 2025 14:03:00 GMT</pubDate><enclosure url="https://cdn.example.org/image/fetch/cover.jpg" length="0" type="image/jpeg"/><content:encoded><![CDATA[<p>The moon pulls; the sea <em>answers</em> late.</p><p><img src="/img/chart.png" alt="chart"></p>]]></content:encoded></item></channel></rss>"#,
    );
    assert_eq!(feed.title.as_deref(), Some("Tide Tables"));
    assert_eq!(feed.link.as_deref(), Some("https://tides.example.org/"));
    let item = &feed.items[0];
    assert_eq!(item.kind, ItemKind::Post);
    assert_eq!(item.title, "Why the spring tide runs late");
    assert_eq!(item.guid, "https://tides.example.org/p/spring-tide");
    assert_eq!(
        item.link.as_deref(),
        Some("https://tides.example.org/p/spring-tide")
    );
    assert_eq!(
        item.image.as_deref(),
        Some("https://cdn.example.org/image/fetch/cover.jpg")
    );
    let enclosure = item
        .enclosure
        .as_ref()
        .expect("the image enclosure is kept");
    assert_eq!(enclosure.length, None, "length 0 means unknown");
    assert_eq!(enclosure.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(item.duration, None);
    assert_eq!(item.authors, vec!["Ana Reyes".to_string()]);
    let content = item.content.as_deref().expect("content:encoded");
    assert!(content.contains("<em>answers</em>"), "{content}");
    assert!(
        content.contains(r#"src="https://tides.example.org/img/chart.png""#),
        "relative image resolved against the item's link: {content}"
    );
    assert_eq!(item.summary.as_deref(), Some("A short note on lunar lag."));
    assert_eq!(
        item.published,
        Some(
            Utc.with_ymd_and_hms(2025, 5, 12, 14, 3, 0)
                .single()
                .expect("valid date")
        )
    );
}

#[test]
fn podcast_episode_has_audio_enclosure_and_duration() {
    let feed = parse(
        r#"<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><title>Harbour Talk</title><ttl>60</ttl>
        <item><title>Ep. 3: Fog signals</title><guid isPermaLink="false">harbour-3</guid>
          <enclosure url="https://media.example.net/harbour/ep3.mp3" length="48213000" type="audio/mpeg"/>
          <itunes:duration>62:03</itunes:duration><itunes:image href="https://media.example.net/harbour/ep3.jpg"/></item>
        <item><title>Ep. 2</title><guid>harbour-2</guid>
          <enclosure url="https://media.example.net/harbour/ep2.m4a" length="0"/>
          <itunes:duration>1:02:03</itunes:duration><itunes:summary>Bells &amp; horns</itunes:summary></item>
        <item><title>Ep. 1</title><guid>harbour-1</guid>
          <enclosure url="https://media.example.net/harbour/ep1.mp3" type="audio/mpeg" length="12"/>
          <itunes:duration>3723</itunes:duration></item>
        </channel></rss>"#,
    );
    assert_eq!(feed.ttl, Some(Duration::from_secs(3600)));
    let [first, second, third] = feed.items.as_slice() else {
        panic!("three items expected, got {}", feed.items.len());
    };
    assert_eq!(first.kind, ItemKind::Episode);
    assert_eq!(first.duration, Some(3723));
    assert_eq!(
        first.image.as_deref(),
        Some("https://media.example.net/harbour/ep3.jpg")
    );
    let enclosure = first.enclosure.as_ref().expect("audio enclosure");
    assert_eq!(enclosure.url, "https://media.example.net/harbour/ep3.mp3");
    assert_eq!(enclosure.mime_type.as_deref(), Some("audio/mpeg"));
    assert_eq!(enclosure.length, Some(48_213_000));
    assert_eq!(
        second.kind,
        ItemKind::Episode,
        "typed by its .m4a extension"
    );
    assert_eq!(second.duration, Some(3723));
    assert_eq!(second.summary.as_deref(), Some("Bells &amp; horns"));
    assert_eq!(third.duration, Some(3723));
    assert_eq!(third.guid, "harbour-1");
}

#[test]
fn atom_xml_base_resolves_relative_links() {
    let feed = parse(
        r#"<?xml version="1.0" encoding="utf-8"?>
        <feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://notes.example.org/journal/">
          <title type="html">Field &lt;i&gt;Notes&lt;/i&gt;</title>
          <link href="./"/>
          <entry xml:base="2025/">
            <title>Low water</title>
            <id>urn:uuid:2b8f5d0e-8f1c-4d3e-9c55-1f0e2a7c9d01</id>
            <link rel="alternate" href="low-water.html"/>
            <updated>2025-04-02T08:00:00Z</updated>
            <content type="html">&lt;p&gt;See &lt;a href="../maps/bay.html"&gt;the bay map&lt;/a&gt; and &lt;img src="pics/mud.jpg"&gt;&lt;/p&gt;</content>
          </entry>
        </feed>"#,
    );
    assert_eq!(feed.title.as_deref(), Some("Field Notes"));
    assert_eq!(
        feed.link.as_deref(),
        Some("https://notes.example.org/journal/")
    );
    let item = &feed.items[0];
    assert_eq!(
        item.link.as_deref(),
        Some("https://notes.example.org/journal/2025/low-water.html")
    );
    assert_eq!(item.guid, "urn:uuid:2b8f5d0e-8f1c-4d3e-9c55-1f0e2a7c9d01");
    let content = item.content.as_deref().expect("content");
    assert!(
        content.contains(r#"href="https://notes.example.org/journal/maps/bay.html""#),
        "{content}"
    );
    assert!(
        content.contains(r#"src="https://notes.example.org/journal/2025/pics/mud.jpg""#),
        "{content}"
    );
    assert!(
        content.contains(r#"rel="noopener noreferrer""#),
        "{content}"
    );
    // Only `updated`: it stands in for `published`.
    let updated = Utc
        .with_ymd_and_hms(2025, 4, 2, 8, 0, 0)
        .single()
        .expect("valid date");
    assert_eq!(item.published, Some(updated));
    assert_eq!(item.updated, Some(updated));
}

#[test]
fn json_feed_items_are_normalised() {
    let feed = parse(
        r#"{
          "version": "https://jsonfeed.org/version/1.1",
          "title": "Kite Log",
          "home_page_url": "https://kites.example.com/",
          "items": [
            {"id": "k-7", "url": "https://kites.example.com/7", "title": "Seventh &amp; windiest",
             "content_html": "<p onclick=\"steal()\">Gusts <a href=\"/gusts\">logged</a>.</p>",
             "date_published": "2025-05-30T10:00:00Z", "tags": ["wind", "wind", "kites"],
             "image": "https://kites.example.com/7.jpg",
             "attachments": [{"url": "https://kites.example.com/7.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 1000, "duration_in_seconds": 90}]},
            {"id": 8, "content_text": "Plain <text> & more", "tags": "a,b"}
          ]
        }"#,
    );
    assert_eq!(feed.title.as_deref(), Some("Kite Log"));
    let [first, second] = feed.items.as_slice() else {
        panic!("two items expected");
    };
    assert_eq!(first.guid, "k-7");
    assert_eq!(first.title, "Seventh & windiest");
    assert_eq!(first.kind, ItemKind::Episode);
    assert_eq!(
        first.categories,
        vec!["wind".to_string(), "kites".to_string()]
    );
    assert_eq!(
        first.image.as_deref(),
        Some("https://kites.example.com/7.jpg")
    );
    let content = first.content.as_deref().expect("content_html");
    assert!(!content.contains("onclick"), "{content}");
    assert!(
        content.contains(r#"href="https://kites.example.com/gusts""#),
        "{content}"
    );
    assert_eq!(second.guid, "8");
    assert_eq!(second.kind, ItemKind::Post);
    assert_eq!(
        second.content.as_deref(),
        Some("Plain &lt;text&gt; &amp; more")
    );
    assert_eq!(second.categories, vec!["a".to_string(), "b".to_string()]);
}

#[test]
fn item_without_guid_or_link_gets_the_same_id_every_time() {
    let text = r#"<rss version="2.0"><channel><title>t</title>
        <item><title>Untethered</title><description>No guid, no link.</description></item>
        <item><title>Untethered</title><description>Different body.</description></item>
        </channel></rss>"#;
    let first = parse(text);
    let second = parse(text);
    assert_eq!(first.items[0].guid, second.items[0].guid);
    assert_eq!(first.items[1].guid, second.items[1].guid);
    assert_ne!(first.items[0].guid, first.items[1].guid);
    assert!(first.items[0].guid.starts_with("sha256:"));
    // Without a link the item gets none; the guid is not invented from the feed URL either.
    assert_eq!(first.items[0].link, None);
}

#[test]
fn xss_vectors_are_stripped() {
    let feed = parse(
        r#"<rss version="2.0"><channel><title>t</title><item><title>x</title><guid>x</guid>
        <description><![CDATA[<p style="background:url(javascript:alert(1))">ok</p>
          <script>alert('s')</script><style>body{display:none}</style>
          <img src="x.png" onerror="alert('e')"><img src="data:image/svg+xml;base64,PHN2Zz4=">
          <a href="javascript:alert('j')">j</a><a href="JaVaScRiPt:alert(2)">k</a>
          <a href="vbscript:msgbox(1)">v</a><iframe src="https://evil.example/"></iframe>
          <object data="evil.swf"></object><embed src="evil.swf"><form action="https://evil.example/"><input value="x"></form>
          <svg onload="alert(3)"></svg><a href="https://good.example/">good</a>]]></description></item></channel></rss>"#,
    );
    let summary = feed.items[0].summary.as_deref().expect("summary");
    for bad in [
        "script",
        "alert",
        "onerror",
        "onload",
        "javascript",
        "JaVaScRiPt",
        "vbscript",
        "data:",
        "style",
        "iframe",
        "object",
        "embed",
        "form",
        "input",
        "svg",
    ] {
        assert!(!summary.contains(bad), "{bad} survived: {summary}");
    }
    assert!(
        summary.contains(r#"<a href="https://good.example/" rel="noopener noreferrer">good</a>"#),
        "{summary}"
    );
    assert!(
        summary.contains(r#"<img src="https://example.com/x.png">"#),
        "{summary}"
    );
}

#[test]
fn future_dates_are_clamped_and_missing_dates_stay_missing() {
    let feed = parse(
        r#"<rss version="2.0"><channel><title>t</title>
        <item><title>From the future</title><guid>f</guid><pubDate>Sat, 01 Jan 2039 00:00:00 GMT</pubDate></item>
        <item><title>Slightly ahead</title><guid>s</guid><pubDate>Sun, 01 Jun 2025 18:00:00 GMT</pubDate></item>
        <item><title>Undated</title><guid>u</guid></item>
        </channel></rss>"#,
    );
    assert_eq!(feed.items[0].published, Some(now()));
    assert_eq!(feed.items[0].updated, Some(now()));
    assert_eq!(
        feed.items[1].published,
        Some(
            Utc.with_ymd_and_hms(2025, 6, 1, 18, 0, 0)
                .single()
                .expect("valid date")
        )
    );
    assert_eq!(feed.items[2].published, None);
    assert_eq!(feed.items[2].updated, None);
}

#[test]
fn html_page_is_not_a_feed() {
    let page = b"<!DOCTYPE html>\n<html><head><title>Welcome</title></head><body><p>Subscribe!</p></body></html>";
    let error = parse_feed(page, &feed_url(), "test", now()).expect_err("an HTML page");
    assert_eq!(error, NormalizeError::HtmlPage);
    assert_eq!(error.to_string(), "not a feed: looks like an HTML page");
}

#[test]
fn truncated_xml_yields_an_error_or_the_complete_items() {
    let full = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
        <item><title>One</title><guid>1</guid><description>first</description></item>
        <item><title>Two</title><guid>2</guid><description>second, cut off here"#;
    for cut in (0..full.len()).step_by(7).chain([full.len()]) {
        let Some(prefix) = full.get(..cut) else {
            continue;
        };
        match parse_feed(prefix.as_bytes(), &feed_url(), "test", now()) {
            Ok(feed) => assert!(feed.items.len() <= 2),
            Err(error) => assert!(!matches!(error, NormalizeError::Panic(_)), "{error}"),
        }
    }
    let feed = parse(full);
    assert_eq!(feed.items[0].title, "One");
    assert_eq!(feed.items[0].summary.as_deref(), Some("first"));
}

#[test]
fn utf16_documents_parse() {
    let source = "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n<rss version=\"2.0\"><channel><title>Ça marche</title><item><title>Été</title><guid>e</guid></item></channel></rss>";
    for big_endian in [true, false] {
        for bom in [true, false] {
            let bytes = utf16(source, big_endian, bom);
            let feed = parse_feed(&bytes, &feed_url(), "test", now())
                .unwrap_or_else(|e| panic!("UTF-16 (BE {big_endian}, BOM {bom}): {e}"));
            assert_eq!(feed.title.as_deref(), Some("Ça marche"));
            assert_eq!(feed.items[0].fields().title, "Été");
        }
    }
}

#[test]
fn declared_latin1_is_transcoded() {
    let mut bytes =
        b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>caf"
            .to_vec();
    bytes.push(0xE9);
    bytes.extend_from_slice(b"</title></channel></rss>");
    let feed = parse_feed(&bytes, &feed_url(), "test", now()).expect("parses");
    assert_eq!(feed.title.as_deref(), Some("café"));
}

#[test]
fn broken_feed_is_recovered() {
    let feed = parse(
        "\n<br /><b>Warning</b>: headers already sent\n<?xml version=\"1.0\"?>\n<rss><channel><title>Caf&eacute; &amp; bar &mdash; news</title>\n<item><title>Fish & chips&nbsp;today</title><itunes:duration>5:00</itunes:duration><description>a <p>b</p></description>\n<item><title>Second</title></channel>",
    );
    assert_eq!(feed.title.as_deref(), Some("Café & bar — news"));
    assert_eq!(feed.items.len(), 2);
    assert_eq!(feed.items[0].title, "Fish & chips today");
    assert_eq!(feed.items[0].duration, Some(300));
    assert_eq!(feed.items[1].title, "Second");
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let depth = 100_000;
    let text = format!(
        "<rss version=\"2.0\"><channel><item>{}{}</item></channel></rss>",
        "<itunes:category text=\"x\">".repeat(depth),
        "</itunes:category>".repeat(depth)
    );
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || parse_feed(text.as_bytes(), &feed_url(), "test", now()))
        .expect("spawn");
    let result = handle.join().expect("no stack overflow, no panic");
    assert!(
        matches!(result, Err(NormalizeError::TooDeep { .. })),
        "{result:?}"
    );

    // Deep HTML inside CDATA is the sanitiser's problem: bounded, not refused.
    let html = format!("{}deep{}", "<div>".repeat(depth), "</div>".repeat(depth));
    let text = format!(
        "<rss version=\"2.0\"><channel><item><guid>d</guid><description><![CDATA[{html}]]></description></item></channel></rss>"
    );
    let started = std::time::Instant::now();
    let feed = parse(&text);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(feed.items[0].summary.as_deref(), Some("deep"));
}

#[test]
fn gzip_on_disk_is_inflated() {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(b"<rss version=\"2.0\"><channel><item><guid>z</guid><title>zipped</title></item></channel></rss>")
        .expect("write to memory");
    let bytes = encoder.finish().expect("finish");
    let feed = parse_feed(&bytes, &feed_url(), "test", now()).expect("parses");
    assert_eq!(feed.items[0].fields().title, "zipped");
}

#[test]
fn unclosed_html_in_a_description_is_recovered_not_refused() {
    let text = format!(
        "<rss version=\"2.0\"><channel><item><guid>p</guid><description>{}</description></item></channel></rss>",
        "<p>para <b>bold</b> <br>".repeat(400)
    );
    let feed = parse(&text);
    let summary = feed.items[0].summary.as_deref().expect("summary");
    assert!(
        summary.starts_with("<p>para <b>bold</b> <br></p><p>para"),
        "{}",
        &summary[..80]
    );
}

#[test]
fn the_corpus_safety_check_catches_what_it_should() {
    assert!(unsafe_markup(r#"<p onclick="x()">a</p>"#).is_some());
    assert!(unsafe_markup(r#"<a href="/relative">a</a>"#).is_some());
    assert!(unsafe_markup(r#"<img src="javascript:x">"#).is_some());
    assert!(unsafe_markup("<script>x</script>").is_some());
    assert!(unsafe_markup(r#"<span style="x">a</span>"#).is_some());
    assert_eq!(
        unsafe_markup(
            r#"<p>JavaScript: <a href="https://x/" rel="noopener noreferrer">ok</a></p>"#
        ),
        None
    );
}

fn fixture(path: &str) -> Feed {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    let bytes = std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()));
    parse(&String::from_utf8(bytes).expect("UTF-8 fixture"))
}

#[expect(
    clippy::unnecessary_wraps,
    reason = "compared with items' optional dates, so every call site reads `date(..)`"
)]
fn date(text: &str) -> Option<DateTime<Utc>> {
    Some(
        DateTime::parse_from_rfc3339(text)
            .expect("valid test date")
            .with_timezone(&Utc),
    )
}

#[test]
fn atom_03_is_read_as_atom_10() {
    let feed = fixture("legacy/atom03.xml");
    assert_eq!(feed.title.as_deref(), Some("Moth & Lamp"));
    assert_eq!(feed.link.as_deref(), Some("https://moths.example.com/"));
    let [escaped, base64, inline, empty] = feed.items.as_slice() else {
        panic!("four entries expected, got {}", feed.items.len());
    };
    assert_eq!(escaped.guid, "tag:moths.example.com,2004:hawk-moth");
    assert_eq!(
        escaped.link.as_deref(),
        Some("https://moths.example.com/2004/07/hawk-moth")
    );
    // issued -> published (created is dropped beside it), modified -> updated.
    assert_eq!(escaped.published, date("2004-07-02T21:00:00Z"));
    assert_eq!(escaped.updated, date("2004-07-02T23:10:00Z"));
    assert_eq!(
        escaped.summary.as_deref(),
        Some("Pink and olive, at 1 a.m.")
    );
    let content = escaped.content.as_deref().expect("escaped content");
    assert!(
        content.contains(r#"href="https://moths.example.com/2004/07/olive.html""#),
        "{content}"
    );
    assert!(!content.contains("script"), "{content}");
    assert_eq!(base64.title, "Base64 title: café");
    assert_eq!(
        base64.content.as_deref(),
        Some("<p>Decoded <b>bold</b></p>")
    );
    assert_eq!(
        base64.published,
        date("2004-06-20T21:00:00Z"),
        "from created"
    );
    let content = inline.content.as_deref().expect("inline XHTML content");
    assert!(content.contains("Inline <em>markup</em>"), "{content}");
    assert_eq!(inline.authors, vec!["Guest Writer".to_string()]);
    assert_eq!(inline.updated, date("2004-06-10T21:00:00Z"));
    // An empty content element is no content, not a reason to refuse the feed.
    assert_eq!(empty.title, "No content at all");
    assert_eq!(empty.content, None);
}

#[test]
fn rss_090_and_rss_10_items_without_a_link_are_kept() {
    let feed = fixture("legacy/rss090.xml");
    assert_eq!(feed.title.as_deref(), Some("Valley Weather Log"));
    let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Frost at dawn",
            "Gale warning lifted",
            "A reading with no page of its own"
        ]
    );
    assert_eq!(
        feed.items[0].guid, "http://weather.example.org/1999/frost",
        "an item with a link keeps the id feed-rs gives it"
    );
    assert_eq!(feed.items[2].link, None);
    assert!(feed.items[2].guid.starts_with("sha256:"));

    let feed = fixture("legacy/rss10_linkless.xml");
    let [queen, swarm, note] = feed.items.as_slice() else {
        panic!("three items expected, got {}", feed.items.len());
    };
    assert_eq!(queen.guid, "https://bees.example.net/2025/queen");
    assert_eq!(queen.authors, vec!["Odile Fen".to_string()]);
    assert_eq!(queen.published, date("2025-04-12T10:00:00Z"));
    // RSS 1.0's rdf:about is the item's URI, "identical to the value of the <link>".
    assert_eq!(
        swarm.link.as_deref(),
        Some("https://bees.example.net/2025/swarm")
    );
    assert_eq!(
        swarm.content.as_deref(),
        Some("<p>Caught in a <b>skep</b>.</p>")
    );
    assert_eq!(
        queen.summary.as_deref(),
        Some("Marked <em>green</em>, laying well.")
    );
    assert_eq!(note.link, None);
    assert_eq!(note.summary.as_deref(), Some("Smoker needs a new bellows."));

    // Read by feed-rs as RSS 1.0 (every item has a link), the description is HTML all the same.
    let feed = parse(
        r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
        <channel><title>c</title></channel>
        <item><title>t</title><link>https://bees.example.net/x</link>
        <description>Codename &lt;q&gt;linden&lt;/q&gt;</description></item></rdf:RDF>"#,
    );
    assert_eq!(
        feed.items[0].summary.as_deref(),
        Some("Codename <q>linden</q>")
    );
}

#[test]
fn cdf_namespaced_rss_and_atom_items_are_read() {
    let feed = fixture("legacy/cdf.xml");
    assert_eq!(feed.title.as_deref(), Some("Kiosk Headlines"));
    let links: Vec<Option<&str>> = feed.items.iter().map(|i| i.link.as_deref()).collect();
    assert_eq!(
        links,
        [
            Some("http://kiosk.example.com/stories/ferry.html"),
            Some("http://kiosk.example.com/stories/regatta.html")
        ]
    );
    assert_eq!(feed.items[0].published, date("1998-03-01T13:00:00Z"));
    assert_eq!(
        feed.items[0].summary.as_deref(),
        Some("Crossings resume at noon.")
    );

    let feed = fixture("legacy/rss20_in_namespace.xml");
    assert_eq!(feed.title.as_deref(), Some("Namespaced Sketchbook"));
    assert_eq!(feed.items.len(), 1);
    assert_eq!(feed.items[0].title, "Charcoal studies");

    let feed = fixture("legacy/atom10_items.xml");
    let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["First", "Second"]);
}

#[test]
fn enclosures_get_a_type_from_their_extension_and_authors_keep_their_names() {
    let feed = fixture("formats/rss20_podcast.xml");
    let enclosure = |index: usize| {
        let item: &Item = &feed.items[index];
        item.enclosure.as_ref().expect("an enclosure").clone()
    };
    assert_eq!(enclosure(0).mime_type.as_deref(), Some("audio/mpeg"));
    assert_eq!(
        enclosure(1).mime_type.as_deref(),
        Some("audio/mp4"),
        "an untyped .m4a"
    );
    assert_eq!(enclosure(4).mime_type.as_deref(), Some("audio/wav"));
    // `keeper@lighthouse.example.net (Mara Quill)`: the name, not the parentheses.
    assert_eq!(feed.items[0].authors, vec!["Mara Quill".to_string()]);

    let feed = fixture("formats/rss092.xml");
    let interval = feed.items[1].enclosure.as_ref().expect("an enclosure");
    assert_eq!(interval.mime_type.as_deref(), Some("audio/ogg"));
    assert_eq!(feed.items[1].kind, ItemKind::Episode);

    let feed = fixture("formats/rss20_blog.xml");
    let catalogue = feed.items[1].enclosure.as_ref().expect("an enclosure");
    assert_eq!(catalogue.mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(feed.items[1].kind, ItemKind::Post);
    // A bare email stays as it is.
    assert_eq!(
        feed.items[3].authors,
        vec!["ines@allotment.example.org".to_string()]
    );
}

#[test]
fn an_item_titled_only_by_media_title_keeps_its_title() {
    // No version, no channel title, and `type="plain"`, which is Media RSS's own word: the
    // repair used to rewrite it into Atom's `text`, feed-rs then refused the document, and the
    // error blamed a missing <channel>.
    let feed = parse(
        r#"<rss xmlns:media="http://search.yahoo.com/mrss/"><channel><item>
        <media:title type="plain">Tide &amp; time</media:title></item></channel></rss>"#,
    );
    assert_eq!(feed.title, None);
    assert_eq!(feed.items.len(), 1);
    assert_eq!(feed.items[0].title, "Tide & time");

    let podcast = fixture("formats/rss20_podcast.xml");
    assert_eq!(podcast.items[4].title, "An item titled only by media:title");
    assert_eq!(podcast.items[2].title, "Bonus: the keeper's log (video)");

    // A Media RSS text type feed-rs does not know costs the type, not the feed.
    let feed = parse(
        r#"<rss><channel><item><media:title type="text/html">Typed oddly</media:title></item></channel></rss>"#,
    );
    assert_eq!(feed.items[0].title, "Typed oddly");

    // A document feed-rs still refuses names what it refused, not a missing <channel>.
    let error = parse_feed(
        br#"<rss xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel><podcast:person role="bogus-role">Ana</podcast:person><item><title>x</title></item></channel></rss>"#,
        &feed_url(),
        "test",
        now(),
    )
    .map(|_| ())
    .expect_err("a podcast:person role feed-rs does not know")
    .to_string();
    assert!(error.contains("bogus-role"), "{error}");
    assert!(!error.contains("<channel>"), "{error}");
}

/// Through the real binary: feeds in the translated formats are polled into stories, and an
/// enclosure the feed left untyped reaches the merged feed typed (newsboat ignores one without).
#[test]
fn legacy_formats_and_untyped_enclosures_reach_the_merged_feed() {
    let read = |path: &str| {
        let full = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path);
        std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
    };
    let server = TestServer::routes([
        ("/atom03", Reply::ok(read("legacy/atom03.xml"))),
        ("/rss090", Reply::ok(read("legacy/rss090.xml"))),
        ("/kitchen", Reply::ok(read("formats/rss_version_empty.xml"))),
    ]);
    let ws = Workspace::new();
    let feeds: Vec<(&str, String, &str)> = ["atom03", "rss090", "kitchen"]
        .iter()
        .map(|name| (*name, server.url(&format!("/{name}")).to_string(), "origin"))
        .collect();
    let config = ws.write_config("t.toml", &feeds, "");
    let output = ws.run(&["--config", config.to_str().expect("UTF-8 path"), "poll"]);
    assert_success(&output);
    let merged = ws.merged_feed();
    let titles: Vec<String> = merged
        .entries
        .iter()
        .filter_map(|entry| entry.title.as_ref().map(|t| t.content.clone()))
        .collect();
    for expected in [
        "Elephant hawk-moth at the trap",
        "Frost at dawn",
        "Bread, slowly",
    ] {
        assert!(
            titles.iter().any(|title| title == expected),
            "{expected:?} not in {titles:?}"
        );
    }
    let episode = merged
        .entries
        .iter()
        .find(|entry| {
            entry
                .title
                .as_ref()
                .is_some_and(|t| t.content == "Bread, slowly")
        })
        .expect("the episode's entry");
    let enclosure = episode
        .links
        .iter()
        .find(|link| link.rel.as_deref() == Some("enclosure"))
        .expect("an enclosure link");
    assert_eq!(enclosure.href, "https://kitchen.example.com/audio/7.mp3");
    assert_eq!(enclosure.media_type.as_deref(), Some("audio/mpeg"));
}
