//! Real podcast clients subscribe to the real daemon: `tributary run` polls a newsletter and
//! its podcast on 127.0.0.1, and Python's `podcastparser` (gPodder's parser), `feedparser` and
//! castero (a terminal podcast client) read what it serves, `xmllint` checks the RSS is
//! well-formed, and the channel is checked for the tags Apple's podcast directory requires.
//! The episode carries Podcasting 2.0 tags, and the clients find its transcripts and chapters
//! in the merged feeds.
//!
//! The clients are Python packages (`pip install podcastparser feedparser castero`); without
//! them the test prints "skipped", unless `TRIBUTARY_REQUIRE_PODCAST_CLIENTS=1` (set by
//! `.ci/run`) makes a missing client a failure.

use std::process::Command;

use crate::common::binary::{Workspace, assert_success, stdout};
use crate::common::daemon::{Daemon, free_port};
use crate::common::fixture;
use crate::common::server::{Reply, TestServer};

const AUDIO_URL: &str = "https://audio.longtail.example/small-models-long-tails.mp3";
const EPISODE_ART: &str = "https://cdn.longtail.example/episode-small-models.jpg";
const CAPTIONS_URL: &str = "https://audio.longtail.example/small-models-long-tails.vtt";
const TRANSCRIPT_URL: &str = "https://www.longtail.example/p/small-models-long-tails/transcript";
const CHAPTERS_URL: &str = "https://audio.longtail.example/small-models-long-tails.chapters.json";

/// The podcast fixture with Podcasting 2.0 tags on its episode, under a prefix of its own
/// (`pi`), as a host might write them.
fn podcast_with_podcasting_tags() -> Vec<u8> {
    let text = String::from_utf8(fixture("mirrors/podcast.xml")).expect("UTF-8 fixture");
    let tags = format!(
        "<itunes:duration>00:12:34</itunes:duration>\n\
         <pi:transcript url=\"{CAPTIONS_URL}\" type=\"text/vtt\" language=\"en\" rel=\"captions\"/>\n\
         <pi:transcript url=\"{TRANSCRIPT_URL}\" type=\"text/html\"/>\n\
         <pi:chapters url=\"{CHAPTERS_URL}\" type=\"application/json+chapters\"/>\n\
         <pi:person role=\"Host\" href=\"https://www.longtail.example/about\">Ada Writer</pi:person>\n\
         <pi:soundbite startTime=\"95.5\" duration=\"40\">Who gets to build things</pi:soundbite>\n\
         <pi:season>2</pi:season>\n\
         <pi:episode>14</pi:episode>"
    );
    let with_tags = text
        .replacen(
            "xmlns:atom=",
            "xmlns:pi=\"https://podcastindex.org/namespace/1.0\" xmlns:atom=",
            1,
        )
        .replacen("<itunes:duration>00:12:34</itunes:duration>", &tags, 1);
    assert_ne!(with_tags, text, "the fixture still has its episode");
    with_tags.into_bytes()
}

/// Whether a missing client fails the run (CI) or is skipped (a laptop without it).
fn clients_missing(what: &str) {
    if std::env::var("TRIBUTARY_REQUIRE_PODCAST_CLIENTS").is_ok_and(|v| v == "1") {
        panic!("{what} is missing and TRIBUTARY_REQUIRE_PODCAST_CLIENTS=1");
    }
    println!("skipped: {what} is not available");
}

/// Reads the served feeds with each client and prints one JSON report. castero keeps its
/// state under `$HOME`, which the test points at a temporary directory.
const CLIENTS: &str = r"
import json, sys, xml.etree.ElementTree as ET
import feedparser, podcastparser
from castero.feed import Feed

rss_url, atom_url, json_url, rss_file = sys.argv[1:5]
report = {}

# podcastparser 0.6.11 (the latest) knows the podcast namespace only by the address it had
# until December 2020; the namespace asks readers to treat both as one, so it is taught the
# current one, as a reader following the namespace would have it.
podcastparser.Namespace.NAMESPACES.setdefault('https://podcastindex.org/namespace/1.0', 'podcast')

with open(rss_file, 'rb') as f:
    podcast = podcastparser.parse(rss_url, f)
report['podcastparser'] = {
    'title': podcast.get('title'),
    'cover_url': podcast.get('cover_url'),
    'language': podcast.get('language'),
    'explicit': podcast.get('explicit'),
    'itunes_author': podcast.get('itunes_author'),
    'itunes_categories': podcast.get('itunes_categories'),
    'episodes': [{
        'title': e['title'], 'guid': e['guid'], 'total_time': e['total_time'],
        'published': e['published'], 'link': e['link'],
        'episode_art_url': e.get('episode_art_url'),
        'has_html': bool(e.get('description_html')),
        'enclosures': e['enclosures'],
        'transcript_url': e.get('transcript_url'), 'chapters_json_url': e.get('chapters_json_url'),
        'persons': e.get('persons'),
    } for e in podcast['episodes']],
}

rss = feedparser.parse(rss_url)
report['feedparser_rss'] = {
    'bozo': int(rss.bozo), 'error': str(rss.get('bozo_exception', '')), 'version': rss.version,
    'entries': [{
        'title': e.get('title'), 'id': e.get('id'), 'duration': e.get('itunes_duration'),
        'enclosures': [{'href': x.get('href'), 'type': x.get('type'), 'length': x.get('length')}
                       for x in e.get('enclosures', [])],
        'transcript': e.get('podcast_transcript'), 'chapters': e.get('podcast_chapters'),
    } for e in rss.entries],
}
atom = feedparser.parse(atom_url)
report['feedparser_atom'] = {
    'bozo': int(atom.bozo), 'error': str(atom.get('bozo_exception', '')), 'version': atom.version,
    'entries': [{'id': e.get('id'), 'duration': e.get('itunes_duration'),
                 'typed_related': [[x.get('href'), x.get('type')] for x in e.get('links', [])
                                   if x.get('rel') == 'related' and x.get('title')
                                   in ('Transcript', 'Transcript (captions)', 'Chapters')]}
                for e in atom.entries],
}

feed = Feed(url=rss_url)
report['castero'] = {
    'title': feed.title,
    'episodes': [{'title': e.title, 'enclosure': e.enclosure} for e in feed.parse_episodes()],
}

channel = ET.parse(rss_file).getroot().find('channel')
report['channel_tags'] = sorted({child.tag for child in channel})
print(json.dumps(report))
";

#[test]
fn podcast_clients_subscribe_to_the_rss_feed() {
    let home = tempfile::tempdir().expect("temp dir");
    let probe = Command::new("python3")
        .args(["-c", "import podcastparser, feedparser, castero.feed"])
        .env("HOME", home.path())
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        return clients_missing("python3 with podcastparser, feedparser and castero");
    }
    if !Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return clients_missing("xmllint");
    }

    let newsletter = fixture("mirrors/newsletter.xml");
    let podcast = podcast_with_podcasting_tags();
    let server = TestServer::start(move |request| match request.path() {
        "/newsletter" => Reply::ok(newsletter.clone()),
        "/podcast" => Reply::ok(podcast.clone()),
        _ => Reply::not_found(),
    });
    let ws = Workspace::new();
    let port = free_port();
    // The category and language are set, author, image and explicit left to their defaults.
    let config_path = ws.write_config(
        "t.toml",
        &[
            (
                "newsletter",
                server.url("/newsletter").to_string(),
                "origin",
            ),
            ("podcast", server.url("/podcast").to_string(), "origin"),
        ],
        &format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[schedule]\ndefault = \"0 0 1 1 *\"\n"
        ),
    );
    let config_text = std::fs::read_to_string(&config_path).expect("config");
    std::fs::write(
        &config_path,
        config_text.replacen(
            "title = \"Test merged feed\"\n",
            "title = \"Test merged feed\"\ncategory = \"Science > Mathematics\"\nlanguage = \"en-GB\"\n",
            1,
        ),
    )
    .expect("config");
    let daemon = Daemon::start(&ws, &config_path, port);

    // Served like the Atom feed: its own type, validators, 304 on revalidation.
    let (status, head, body) = daemon.get("/feed.rss");
    assert_eq!(status, 200, "{head}");
    assert_eq!(
        Daemon::header(&head, "content-type").as_deref(),
        Some("application/rss+xml; charset=utf-8")
    );
    let etag = Daemon::header(&head, "etag").expect("etag");
    assert_eq!(
        daemon.get_with("/feed.rss", &[("If-None-Match", &etag)]).0,
        304
    );
    assert!(body.contains(AUDIO_URL), "{body}");

    let dir = tempfile::tempdir().expect("temp dir");
    let rss_file = dir.path().join("feed.rss");
    std::fs::write(&rss_file, &body).expect("write feed");
    let lint = Command::new("xmllint")
        .args(["--noout"])
        .arg(&rss_file)
        .output()
        .expect("run xmllint");
    assert!(
        lint.status.success(),
        "xmllint: {}",
        String::from_utf8_lossy(&lint.stderr)
    );

    let output = Command::new("python3")
        .args(["-c", CLIENTS])
        .args([
            daemon.url("/feed.rss"),
            daemon.url("/feed.atom"),
            daemon.url("/feed.json"),
        ])
        .arg(&rss_file)
        .env("HOME", home.path())
        .env("NO_PROXY", "127.0.0.1")
        .env("no_proxy", "127.0.0.1")
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the clients' report is JSON");
    check_podcastparser(&report["podcastparser"]);
    check_feedparser(&report);
    check_castero(&report["castero"]);
    check_apple_channel(&report["channel_tags"]);

    // The JSON Feed twin carries the duration as the spec's attachment field (feedparser
    // 6.0 reads no JSON Feed at all, so this one is read as JSON).
    let json: serde_json::Value =
        serde_json::from_str(&daemon.get("/feed.json").2).expect("JSON Feed");
    let attachments: Vec<_> = json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|item| item["attachments"].as_array())
        .flatten()
        .collect();
    assert_eq!(attachments.len(), 1, "{json}");
    assert_eq!(attachments[0]["url"], AUDIO_URL);
    assert_eq!(attachments[0]["duration_in_seconds"], 754);

    let (status, _) = daemon.stop();
    assert!(status.success());

    // `export --format rss` writes the bytes the daemon served.
    let export = ws.run(&[
        "--config",
        config_path.to_str().expect("path"),
        "export",
        "--format",
        "rss",
    ]);
    assert_success(&export);
    assert_eq!(stdout(&export), body);

    let check = ws.run(&[
        "--config",
        config_path.to_str().expect("path"),
        "check-config",
    ]);
    assert_success(&check);
    assert!(
        stdout(&check).contains(
            "podcast channel: author `Test merged feed`, category `Science > Mathematics`, \
             language `en-gb`, explicit false, image (the newest episode's)"
        ),
        "{}",
        stdout(&check)
    );
}

/// gPodder's parser: every story is an episode (the ones without audio have no enclosure),
/// and the one with audio has its file, type, size, running time and artwork.
fn check_podcastparser(report: &serde_json::Value) {
    assert_eq!(report["title"], "Test merged feed");
    assert_eq!(report["language"], "en-gb");
    assert_eq!(report["explicit"], false);
    assert_eq!(report["itunes_author"], "Test merged feed");
    assert_eq!(
        report["itunes_categories"],
        serde_json::json!([["Science", "Mathematics"]])
    );
    // No image configured: the newest episode's artwork stands in.
    assert_eq!(report["cover_url"], EPISODE_ART);
    let episodes = report["episodes"].as_array().expect("episodes");
    let titles: Vec<_> = episodes.iter().map(|e| e["title"].clone()).collect();
    assert_eq!(
        titles,
        [
            "Small models, long tails",
            "Open thread",
            "Latest artifacts (#22): quieter month, sharper tools",
            "Latest artifacts (#21): a crowded spring",
        ],
        "newest first, as in the Atom feed"
    );
    let with_audio: Vec<_> = episodes
        .iter()
        .filter(|e| !e["enclosures"].as_array().is_none_or(Vec::is_empty))
        .collect();
    assert_eq!(with_audio.len(), 1, "{report}");
    let episode = with_audio[0];
    assert_eq!(
        episode["enclosures"],
        serde_json::json!([{"url": AUDIO_URL, "file_size": 11_223_344, "mime_type": "audio/mpeg"}])
    );
    assert_eq!(episode["total_time"], 754, "00:12:34 in the source feed");
    assert_eq!(episode["episode_art_url"], EPISODE_ART);
    assert_eq!(
        episode["link"],
        "https://www.longtail.example/p/small-models-long-tails"
    );
    assert_eq!(episode["has_html"], true);
    // podcastparser keeps one transcript URL per episode: the last one written.
    assert_eq!(episode["transcript_url"], TRANSCRIPT_URL);
    assert_eq!(episode["chapters_json_url"], CHAPTERS_URL);
    assert_eq!(
        episode["persons"],
        serde_json::json!([{
            "name": "Ada Writer", "role": "host", "group": "cast",
            "href": "https://www.longtail.example/about", "img": null
        }])
    );
    let guid = episode["guid"].as_str().expect("guid");
    assert!(guid.starts_with("urn:"), "the story's Atom id: {guid}");
    for episode in episodes {
        assert!(
            episode["published"].as_i64().is_some_and(|t| t > 0),
            "{episode}"
        );
    }
}

/// feedparser reads the RSS with its durations, and the Atom feed's `itunes:duration` too.
fn check_feedparser(report: &serde_json::Value) {
    let rss = &report["feedparser_rss"];
    assert_eq!(rss["bozo"], 0, "feedparser: {}", rss["error"]);
    assert_eq!(rss["version"], "rss20");
    let entries = rss["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 4);
    let episode = &entries[0];
    assert_eq!(episode["title"], "Small models, long tails");
    assert_eq!(episode["duration"], "754");
    assert_eq!(
        episode["enclosures"],
        serde_json::json!([{"href": AUDIO_URL, "type": "audio/mpeg", "length": "11223344"}])
    );
    // feedparser keeps an unknown namespace's element as a dict of its attributes: the last
    // transcript, and the chapters.
    assert_eq!(
        episode["transcript"],
        serde_json::json!({"url": TRANSCRIPT_URL, "type": "text/html"})
    );
    assert_eq!(
        episode["chapters"],
        serde_json::json!({"url": CHAPTERS_URL, "type": "application/json+chapters"})
    );

    let atom = &report["feedparser_atom"];
    assert_eq!(atom["bozo"], 0, "feedparser: {}", atom["error"]);
    assert_eq!(atom["version"], "atom10");
    let atom_ids: Vec<_> = atom["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    let rss_ids: Vec<_> = entries.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(atom_ids, rss_ids, "one item per Atom entry, in its order");
    assert_eq!(atom["entries"][0]["duration"], "754");
    // Every transcript and the chapters as typed related links in the Atom entry.
    assert_eq!(
        atom["entries"][0]["typed_related"],
        serde_json::json!([
            [CAPTIONS_URL, "text/vtt"],
            [TRANSCRIPT_URL, "text/html"],
            [CHAPTERS_URL, "application/json+chapters"]
        ])
    );
}

/// castero subscribes over HTTP and lists the episode it can play.
fn check_castero(report: &serde_json::Value) {
    assert_eq!(report["title"], "Test merged feed");
    assert_eq!(
        report["episodes"],
        serde_json::json!([{"title": "Small models, long tails", "enclosure": AUDIO_URL}])
    );
}

/// The channel tags Apple's podcast requirements list as required (and `itunes:author`).
fn check_apple_channel(tags: &serde_json::Value) {
    let itunes = |name: &str| format!("{{http://www.itunes.com/dtds/podcast-1.0.dtd}}{name}");
    let tags: Vec<&str> = tags
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    for required in [
        "title".to_owned(),
        "link".to_owned(),
        "description".to_owned(),
        "language".to_owned(),
        itunes("image"),
        itunes("category"),
        itunes("explicit"),
        itunes("author"),
        "{https://podcastindex.org/namespace/1.0}guid".to_owned(),
    ] {
        assert!(
            tags.contains(&required.as_str()),
            "{required} missing: {tags:?}"
        );
    }
}
