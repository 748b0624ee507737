//! The emitters end to end: hand-built stories rendered to Atom, JSON Feed and OPML, compared
//! with golden files, parsed back, and checked by outside validators when they are installed.
//!
//! Golden files live in `tests/golden/`. After an intended change to the output, regenerate
//! them with `UPDATE_GOLDEN=1 cargo test --test it emit`, then read the diff before committing.
//!
//! The validator tests use `jing` (Debian package `jing`) and Python's `feedparser` (PyPI
//! package `feedparser`) when present and print "skipped" otherwise; with
//! `TRIBUTARY_REQUIRE_VALIDATORS=1` a missing validator fails the test instead.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use tributary::atomic_file;
use tributary::config::{Config, FeedConfig};
use tributary::emit::{self, Channel, FeedMeta};
use tributary::model::{
    Chapters, Enclosure, EpisodeNumber, Item, ItemKind, MatchReason, Member, MemberRole, Podcast,
    PodcastPerson, Role, Season, Soundbite, StoredItem, Story, Transcript,
};
use url::Url;

const HOSTILE_TITLE: &str = "Break ]]> out </title><entry> \u{1}bell & <script>alert(1)</script>";
/// What survives of [`HOSTILE_TITLE`]: only the control character is dropped.
const HOSTILE_TITLE_CLEAN: &str = "Break ]]> out </title><entry> bell & <script>alert(1)</script>";

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("test dates are RFC 3339")
        .with_timezone(&Utc)
}

fn item(source: &str, guid: &str, title: &str) -> Item {
    Item {
        source: source.to_owned(),
        guid: guid.to_owned(),
        link: None,
        title: title.to_owned(),
        authors: Vec::new(),
        published: None,
        updated: None,
        summary: None,
        content: None,
        categories: Vec::new(),
        kind: ItemKind::Post,
        enclosure: None,
        duration: None,
        image: None,
        podcast: Default::default(),
    }
}

fn member(id: i64, item: Item, role: Role, first_seen: &str, reason: MatchReason) -> Member {
    let score = if reason == MatchReason::Title {
        0.93
    } else {
        1.0
    };
    Member {
        member_role: MemberRole::implied(role, item.kind),
        stored: StoredItem {
            id,
            item,
            role,
            first_seen: at(first_seen),
            changed_at: at(first_seen),
        },
        reason,
        score,
    }
}

fn story(id: i64, members: Vec<Member>) -> Story {
    let created_at = members[0].stored.first_seen;
    Story {
        id,
        atom_id: format!("urn:tributary:story:{id}"),
        members,
        created_at,
    }
}

const POST_LINK: &str = "https://www.interconnects.ai/p/olmo-3";
const MIRROR_LINK: &str = "https://news.ycombinator.com/item?id=45000000&utm_source=x";
/// [`MIRROR_LINK`] as both feeds publish it: without its tracking parameter.
const MIRROR_LINK_SHOWN: &str = "https://news.ycombinator.com/item?id=45000000";
const AUDIO_URL: &str = "https://api.substack.com/feed/podcast/179000000/olmo-3.mp3";
/// Quotes and an ampersand in the path: a link with a query is re-serialised when its
/// tracking parameters are dropped (which percent-encodes quotes), a link without one is
/// published as given, so only here does raw feed text reach the `href` attribute.
const HOSTILE_LINK: &str = "https://evil.example/p/a&b=\"2\"";

/// An origin post, its voiceover episode (same page link, audio enclosure) and a mirror.
fn merged_story() -> Story {
    let mut post = item(
        "interconnects",
        POST_LINK,
        "Olmo 3: America's truly open reasoning models",
    );
    post.link = Some(POST_LINK.to_owned());
    post.authors = vec!["Nathan Lambert".to_owned(), "Nathan Lambert ".to_owned()];
    post.published = Some(at("2025-11-20T14:00:00Z"));
    post.updated = Some(at("2025-11-20T15:30:00Z"));
    post.summary = Some("<p>Fully open models, data &amp; code.</p>".to_owned());
    post.content =
        Some("<p>Today we release <a href=\"https://allenai.org/olmo\">Olmo 3</a>.</p>".to_owned());
    post.categories = vec!["AI".to_owned(), "open models".to_owned(), "AI ".to_owned()];

    let mut episode = item(
        "interconnects-audio",
        "podcast-guid-179000000",
        "Olmo 3: America's truly open reasoning models (voiceover)",
    );
    episode.link = Some(POST_LINK.to_owned());
    episode.published = Some(at("2025-11-20T16:00:00Z"));
    episode.content = Some("<p>The voiceover of today's post.</p>".to_owned());
    episode.kind = ItemKind::Episode;
    episode.enclosure = Some(Enclosure {
        url: AUDIO_URL.to_owned(),
        mime_type: Some("audio/mpeg".to_owned()),
        length: Some(23_456_789),
    });
    episode.duration = Some(1834);
    episode.podcast = episode_podcast();

    let mut mirror = item(
        "hacker-news",
        "hn-45000000",
        "Olmo 3: America's truly open reasoning models",
    );
    mirror.link = Some(MIRROR_LINK.to_owned());
    mirror.published = Some(at("2025-11-20T18:05:00Z"));

    story(
        1,
        vec![
            member(
                10,
                post,
                Role::Origin,
                "2025-11-20T14:05:00Z",
                MatchReason::New,
            ),
            member(
                11,
                episode,
                Role::Origin,
                "2025-11-20T16:10:00Z",
                MatchReason::Title,
            ),
            member(
                12,
                mirror,
                Role::Mirror,
                "2025-11-20T18:30:00Z",
                MatchReason::Url,
            ),
        ],
    )
}

const TRANSCRIPT_URL: &str = "https://cdn.example/olmo-3/transcript.vtt";
const CHAPTERS_URL: &str = "https://cdn.example/olmo-3/chapters.json";

/// The voiceover's Podcasting 2.0 tags: two transcripts (one with a language and a rel), the
/// chapters, a person, a soundbite whose text needs escaping, season and episode.
fn episode_podcast() -> Podcast {
    Podcast {
        transcripts: vec![
            Transcript {
                url: TRANSCRIPT_URL.to_owned(),
                mime_type: "text/vtt".to_owned(),
                language: Some("en-US".to_owned()),
                rel: Some("captions".to_owned()),
            },
            Transcript {
                url: "https://cdn.example/olmo-3/transcript.html".to_owned(),
                mime_type: "text/html".to_owned(),
                language: None,
                rel: None,
            },
        ],
        chapters: Some(Chapters {
            url: CHAPTERS_URL.to_owned(),
            mime_type: "application/json+chapters".to_owned(),
        }),
        persons: vec![PodcastPerson {
            name: "Nathan Lambert".to_owned(),
            role: Some("host".to_owned()),
            group: Some("cast".to_owned()),
            img: Some("https://cdn.example/nathan.jpg".to_owned()),
            href: Some("https://www.interconnects.ai/about".to_owned()),
        }],
        soundbites: vec![Soundbite {
            start_time: "73.5".to_owned(),
            duration: "42".to_owned(),
            text: Some("Open <data> & open code".to_owned()),
        }],
        season: Some(Season {
            number: 2025,
            name: Some("Voiceovers".to_owned()),
        }),
        episode: Some(EpisodeNumber {
            number: "179".to_owned(),
            display: None,
        }),
    }
}

/// A post with no link, no authors and no content: the entry must fall back to the source
/// name for its author and carry its summary as content.
fn lone_story() -> Story {
    let mut note = item("lambert-notes", "note-77", "A note without a permalink");
    note.summary = Some("<p>Short &amp; linkless.</p>".to_owned());
    story(
        2,
        vec![member(
            20,
            note,
            Role::Origin,
            "2025-11-18T09:00:00Z",
            MatchReason::New,
        )],
    )
}

/// Text crafted to break out of CDATA, elements and attributes, with characters XML forbids.
fn hostile_story() -> Story {
    let mut post = item("hostile <feed> & co", "evil-1", HOSTILE_TITLE);
    post.link = Some(HOSTILE_LINK.to_owned());
    post.authors = vec!["Mallory\u{1}".to_owned(), "<b>Eve</b>".to_owned()];
    post.categories = vec!["x\u{b}y".to_owned(), "<tag>".to_owned()];
    post.published = Some(at("2025-11-21T08:00:00Z"));
    post.content = Some("<p>Safe &amp; sound ]]></p>\u{ffff}".to_owned());
    story(
        3,
        vec![member(
            30,
            post,
            Role::Origin,
            "2025-11-21T08:01:00Z",
            MatchReason::New,
        )],
    )
}

/// Newest first, as the caller hands them over.
fn stories() -> Vec<Story> {
    vec![hostile_story(), merged_story(), lone_story()]
}

fn meta() -> FeedMeta {
    FeedMeta {
        title: "Interconnects & friends".to_owned(),
        base_url: Url::parse("http://127.0.0.1:8088/").expect("valid base URL"),
        generated_at: at("2025-12-01T00:00:00Z"),
        hub: None,
    }
}

/// [`meta`] with a WebSub hub.
fn meta_with_hub() -> FeedMeta {
    FeedMeta {
        hub: Some(Url::parse("https://hub.example/websub").expect("valid hub URL")),
        ..meta()
    }
}

fn feeds() -> Vec<FeedConfig> {
    let text = r#"
[[feeds]]
name = "interconnects"
url = "https://www.interconnects.ai/feed"

[[feeds]]
name = "interconnects-audio"
url = "https://api.substack.com/feed/podcast/48206.rss"

[[feeds]]
name = "Q&A <mirror>"
url = "https://example.com/feed?format=rss&lang=en"
role = "mirror"
"#;
    Config::parse(text, "emit-test.toml")
        .expect("test config is valid")
        .feeds
}

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `actual` with the golden file byte for byte, or rewrites the file when
/// `UPDATE_GOLDEN=1`.
fn check_golden(name: &str, actual: &[u8]) {
    let path = golden_path(name);
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        fs::create_dir_all(path.parent().expect("golden dir")).expect("create tests/golden");
        fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run UPDATE_GOLDEN=1 cargo test --test it emit",
            path.display()
        )
    });
    if expected != actual {
        assert_eq!(
            String::from_utf8_lossy(actual),
            String::from_utf8_lossy(&expected),
            "{} differs from the rendered output (left); if the change is intended, \
             regenerate with UPDATE_GOLDEN=1 and review the diff",
            path.display()
        );
        panic!("{} differs from the rendered output", path.display());
    }
}

#[test]
fn atom_matches_golden() {
    check_golden("merged.atom", &emit::atom(&stories(), &meta()));
}

#[test]
fn json_feed_matches_golden() {
    check_golden("merged.json", &emit::json_feed(&stories(), &meta()));
}

/// The channel settings the RSS golden file is rendered with: every key set, a subcategory.
fn channel() -> Channel {
    let config = Config::parse(
        "[output]\ntitle = \"Interconnects & friends\"\nauthor = \"Nathan Lambert\"\n\
         image = \"https://cdn.example/art.jpg\"\ncategory = \"news > tech news\"\n\
         explicit = true\nlanguage = \"en-US\"\n",
        "emit-test.toml",
    )
    .expect("test config is valid");
    config.output.channel
}

#[test]
fn rss_matches_golden() {
    check_golden("merged.rss", &emit::rss(&stories(), &meta(), &channel()));
}

#[test]
fn opml_matches_golden() {
    check_golden(
        "feeds.opml",
        &emit::opml(&feeds(), "Interconnects & friends"),
    );
}

fn parse_atom(bytes: &[u8]) -> feed_rs::model::Feed {
    feed_rs::parser::parse(bytes).expect("the rendered Atom parses")
}

fn links<'a>(entry: &'a feed_rs::model::Entry, rel: &str) -> Vec<&'a feed_rs::model::Link> {
    entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some(rel))
        .collect()
}

/// The `related` links that are other members' pages (the episode's transcripts and chapters
/// are `related` too, with a type).
fn related_pages(entry: &feed_rs::model::Entry) -> Vec<&feed_rs::model::Link> {
    links(entry, "related")
        .into_iter()
        .filter(|l| l.media_type.is_none())
        .collect()
}

#[test]
fn atom_parses_back_with_the_contracted_structure() {
    let stories = stories();
    let bytes = emit::atom(&stories, &meta());
    let feed = parse_atom(&bytes);

    assert_eq!(feed.id, "http://127.0.0.1:8088/");
    assert_eq!(feed.updated, Some(at("2025-11-21T08:00:00Z")));
    let self_links: Vec<_> = feed
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("self"))
        .collect();
    assert_eq!(self_links.len(), 1);
    assert_eq!(self_links[0].href, "http://127.0.0.1:8088/feed.atom");
    assert_eq!(
        self_links[0].media_type.as_deref(),
        Some("application/atom+xml")
    );

    // Order is the caller's: no re-sorting.
    let ids: Vec<_> = feed.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "urn:tributary:story:3",
            "urn:tributary:story:1",
            "urn:tributary:story:2"
        ]
    );

    let merged = &feed.entries[1];
    let alternate = links(merged, "alternate");
    assert_eq!(alternate.len(), 1);
    assert_eq!(alternate[0].href, POST_LINK);
    let enclosure = links(merged, "enclosure");
    assert_eq!(enclosure.len(), 1);
    assert_eq!(enclosure[0].href, AUDIO_URL);
    assert_eq!(enclosure[0].length, Some(23_456_789));
    assert_eq!(enclosure[0].media_type.as_deref(), Some("audio/mpeg"));
    // The episode links to the post's page, so the only related link is the mirror.
    let related = related_pages(merged);
    assert_eq!(related.len(), 1, "{related:?}");
    assert_eq!(related[0].href, MIRROR_LINK_SHOWN);
    assert_eq!(
        related[0].title.as_deref(),
        Some("hacker-news — Olmo 3: America's truly open reasoning models")
    );
    // The episode's transcripts and chapters, with their types.
    let typed: Vec<_> = links(merged, "related")
        .into_iter()
        .filter_map(|l| {
            Some((
                l.href.as_str(),
                l.media_type.as_deref()?,
                l.title.as_deref()?,
            ))
        })
        .collect();
    assert_eq!(
        typed,
        [
            (TRANSCRIPT_URL, "text/vtt", "Transcript (captions)"),
            (
                "https://cdn.example/olmo-3/transcript.html",
                "text/html",
                "Transcript"
            ),
            (CHAPTERS_URL, "application/json+chapters", "Chapters"),
        ]
    );
    assert_eq!(merged.published, Some(at("2025-11-20T14:00:00Z")));
    assert_eq!(merged.updated, Some(at("2025-11-20T18:05:00Z")));
    let authors: Vec<_> = merged.authors.iter().map(|a| a.name.as_deref()).collect();
    assert_eq!(authors, [Some("Nathan Lambert")]);
    let terms: Vec<_> = merged.categories.iter().map(|c| c.term.as_str()).collect();
    assert_eq!(terms, ["AI", "open models"]);
    let content = merged.content.as_ref().and_then(|c| c.body.as_deref());
    assert_eq!(
        content,
        Some("<p>Today we release <a href=\"https://allenai.org/olmo\">Olmo 3</a>.</p>")
    );

    // RFC 4287's rules the schema cannot express: every entry has an author, and an
    // alternate link or content.
    for entry in &feed.entries {
        assert!(!entry.authors.is_empty(), "{} has no author", entry.id);
        assert!(
            !links(entry, "alternate").is_empty() || entry.content.is_some(),
            "{} has neither an alternate link nor content",
            entry.id
        );
    }

    let lone = &feed.entries[2];
    assert!(lone.links.is_empty(), "{:?}", lone.links);
    assert_eq!(lone.authors[0].name.as_deref(), Some("lambert-notes"));
    assert_eq!(
        lone.content.as_ref().and_then(|c| c.body.as_deref()),
        Some("<p>Short &amp; linkless.</p>")
    );
}

#[test]
fn atom_escapes_hostile_text_and_drops_illegal_characters() {
    let bytes = emit::atom(&stories(), &meta());
    let text = String::from_utf8(bytes.clone()).expect("UTF-8 output");
    assert!(!text.contains('\u{1}') && !text.contains('\u{b}') && !text.contains('\u{ffff}'));
    assert!(!text.contains("<script>"), "markup from a title leaked");
    assert!(!text.contains("]]>"), "an unescaped ]]> leaked");
    assert_eq!(
        text.matches("<entry>").count(),
        3,
        "an injected entry appeared"
    );

    let feed = parse_atom(&bytes);
    let hostile = &feed.entries[0];
    assert_eq!(
        hostile.title.as_ref().map(|t| t.content.as_str()),
        Some(HOSTILE_TITLE_CLEAN)
    );
    // The quote survives as an escaped attribute; feed-rs then normalises the URL.
    assert!(text.contains("href=\"https://evil.example/p/a&amp;b=&quot;2&quot;\""));
    let normalised = Url::parse(HOSTILE_LINK).expect("valid URL");
    assert_eq!(links(hostile, "alternate")[0].href, normalised.as_str());
    let authors: Vec<_> = hostile.authors.iter().map(|a| a.name.as_deref()).collect();
    assert_eq!(authors, [Some("Mallory"), Some("<b>Eve</b>")]);
    let terms: Vec<_> = hostile.categories.iter().map(|c| c.term.as_str()).collect();
    assert_eq!(terms, ["xy", "<tag>"]);
}

#[test]
fn atom_without_stories_is_dated_by_generated_at() {
    let bytes = emit::atom(&[], &meta());
    let feed = parse_atom(&bytes);
    assert!(feed.entries.is_empty());
    assert_eq!(feed.updated, Some(at("2025-12-01T00:00:00Z")));
    assert_eq!(
        bytes,
        emit::atom(&[], &meta()),
        "rendering is deterministic"
    );
}

#[test]
fn atom_enclosure_omits_unknown_length_and_malformed_type() {
    let mut story = merged_story();
    let episode = &mut story.members[1].stored.item;
    episode.enclosure = Some(Enclosure {
        url: AUDIO_URL.to_owned(),
        mime_type: Some("mp3".to_owned()),
        length: None,
    });
    let bytes = emit::atom(std::slice::from_ref(&story), &meta());
    let text = String::from_utf8(bytes.clone()).expect("UTF-8 output");
    let line = text
        .lines()
        .find(|l| l.contains("rel=\"enclosure\""))
        .expect("an enclosure link");
    assert!(!line.contains("length="), "{line}");
    assert!(!line.contains("type="), "{line}");
    let feed = parse_atom(&bytes);
    assert_eq!(links(&feed.entries[0], "enclosure")[0].length, None);
}

/// Tracking parameters leave every link both feeds publish, wherever they sit in the query,
/// and links that differ only in them are one link.
#[test]
fn emitted_links_carry_no_tracking_parameters() {
    let mut story = merged_story();
    story.members[0].stored.item.link = Some(format!("{POST_LINK}?utm_source=rss&utm_medium=x"));
    story.members[1].stored.item.link = Some(format!("{POST_LINK}?fbclid=abc"));
    story.members[2].stored.item.link =
        Some("https://news.ycombinator.com/item?utm_source=x&id=3".to_owned());
    let shown = "https://news.ycombinator.com/item?id=3";

    let bytes = emit::atom(std::slice::from_ref(&story), &meta());
    let text = String::from_utf8(bytes.clone()).expect("UTF-8 output");
    assert!(!text.contains("utm_") && !text.contains("fbclid"), "{text}");
    assert!(
        text.contains(&format!("rel=\"related\" href=\"{shown}\"")),
        "{text}"
    );
    let feed = parse_atom(&bytes);
    let entry = &feed.entries[0];
    assert_eq!(links(entry, "alternate")[0].href, POST_LINK);
    let related = related_pages(entry);
    // The episode's page is the post's once both are cleaned: it is not listed again.
    assert_eq!(related.len(), 1, "{related:?}");
    assert_eq!(related[0].href, shown);

    let bytes = emit::json_feed(std::slice::from_ref(&story), &meta());
    let feed: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
    let item = &feed["items"][0];
    assert_eq!(item["url"], POST_LINK);
    let links: Vec<_> = item["_tributary"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["link"].clone())
        .collect();
    assert_eq!(links, [POST_LINK, POST_LINK, shown]);
}

/// A related link says which site it leads to and what that site called the work; a member
/// without a title is named by its site alone.
#[test]
fn related_links_name_the_site_and_the_members_own_title() {
    let mut story = merged_story();
    let mut coverage = item(
        "Q&A \"digest\"",
        "digest-1",
        "Why Olmo 3 matters for <open> models",
    );
    coverage.link = Some("https://digest.example/olmo-3-matters".to_owned());
    let mut untitled = item("link-blog", "lb-1", "  ");
    untitled.link = Some("https://links.example/1".to_owned());
    for (id, extra) in [(13, coverage), (14, untitled)] {
        let mut extra = member(
            id,
            extra,
            Role::Mirror,
            "2025-11-20T19:00:00Z",
            MatchReason::Link,
        );
        extra.member_role = MemberRole::Coverage;
        story.members.push(extra);
    }

    let feed = parse_atom(&emit::atom(std::slice::from_ref(&story), &meta()));
    let titles: Vec<_> = related_pages(&feed.entries[0])
        .iter()
        .map(|l| l.title.clone())
        .collect();
    assert_eq!(
        titles,
        [
            Some("hacker-news — Olmo 3: America's truly open reasoning models".to_owned()),
            Some("Q&A \"digest\" — Why Olmo 3 matters for <open> models".to_owned()),
            Some("link-blog".to_owned()),
        ]
    );

    let bytes = emit::json_feed(std::slice::from_ref(&story), &meta());
    let feed: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
    let members = feed["items"][0]["_tributary"]["members"]
        .as_array()
        .expect("members");
    assert_eq!(members[3]["title"], "Why Olmo 3 matters for <open> models");
    assert_eq!(members[3]["member_role"], "coverage");
    assert_eq!(members[3]["reason"], "link");
}

#[test]
fn json_feed_carries_items_attachments_and_members() {
    let bytes = emit::json_feed(&stories(), &meta());
    let feed: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
    assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(feed["home_page_url"], "http://127.0.0.1:8088/");
    assert_eq!(feed["feed_url"], "http://127.0.0.1:8088/feed.json");
    let items = feed["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);

    assert_eq!(items[0]["title"], HOSTILE_TITLE_CLEAN);

    let merged = &items[1];
    assert_eq!(merged["id"], "urn:tributary:story:1");
    assert_eq!(merged["url"], POST_LINK);
    assert_eq!(merged["summary"], "Fully open models, data & code.");
    assert_eq!(merged["date_published"], "2025-11-20T14:00:00Z");
    assert_eq!(merged["date_modified"], "2025-11-20T18:05:00Z");
    assert_eq!(merged["tags"], serde_json::json!(["AI", "open models"]));
    assert_eq!(
        merged["attachments"],
        serde_json::json!([{
            "url": AUDIO_URL,
            "mime_type": "audio/mpeg",
            "size_in_bytes": 23_456_789,
            "duration_in_seconds": 1834,
        }])
    );
    let members = merged["_tributary"]["members"].as_array().expect("members");
    let reasons: Vec<_> = members.iter().map(|m| m["reason"].clone()).collect();
    assert_eq!(reasons, ["new", "title", "url"]);
    let roles: Vec<_> = members.iter().map(|m| m["member_role"].clone()).collect();
    assert_eq!(roles, ["post", "episode", "copy"]);
    assert_eq!(
        members[1]["title"],
        "Olmo 3: America's truly open reasoning models (voiceover)"
    );
    assert_eq!(members[1]["score"], 0.93);
    assert_eq!(members[2]["source"], "hacker-news");
    assert_eq!(members[2]["link"], MIRROR_LINK_SHOWN);

    let lone = &items[2];
    assert!(lone.get("url").is_none(), "{lone}");
    assert_eq!(lone["content_html"], "<p>Short &amp; linkless.</p>");
    assert_eq!(
        lone["authors"],
        serde_json::json!([{ "name": "lambert-notes" }])
    );
}

#[test]
fn every_feed_advertises_the_websub_hub_and_its_self_link() {
    let hub = "https://hub.example/websub";
    let atom = parse_atom(&emit::atom(&stories(), &meta_with_hub()));
    let rel = |rel: &str| {
        atom.links
            .iter()
            .filter(|l| l.rel.as_deref() == Some(rel))
            .map(|l| l.href.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(rel("hub"), [hub]);
    assert_eq!(rel("self"), ["http://127.0.0.1:8088/feed.atom"]);

    let json: serde_json::Value =
        serde_json::from_slice(&emit::json_feed(&stories(), &meta_with_hub())).expect("JSON");
    assert_eq!(
        json["hubs"],
        serde_json::json!([{"type": "WebSub", "url": hub}])
    );
    assert_eq!(json["feed_url"], "http://127.0.0.1:8088/feed.json");

    let rss =
        String::from_utf8(emit::rss(&stories(), &meta_with_hub(), &channel())).expect("UTF-8");
    assert!(
        rss.contains(&format!(r#"<atom:link href="{hub}" rel="hub"/>"#)),
        "{rss}"
    );
    assert!(rss.contains(r#"<atom:link href="http://127.0.0.1:8088/feed.rss" rel="self""#));

    // Without a hub, none is advertised (the golden files hold the rest).
    assert!(
        parse_atom(&emit::atom(&stories(), &meta()))
            .links
            .iter()
            .all(|l| l.rel.as_deref() != Some("hub"))
    );
    let json: serde_json::Value =
        serde_json::from_slice(&emit::json_feed(&stories(), &meta())).expect("JSON");
    assert!(json.get("hubs").is_none());
    assert!(!String::from_utf8_lossy(&emit::rss(&stories(), &meta(), &channel())).contains("hub"));
}

#[test]
fn opml_lists_every_feed() {
    let bytes = emit::opml(&feeds(), "Interconnects & friends");
    let text = String::from_utf8(bytes).expect("UTF-8 output");
    assert_eq!(text.matches("<outline type=\"rss\"").count(), 3);
    assert!(text.contains(
        "text=\"Q&amp;A &lt;mirror&gt;\" title=\"Q&amp;A &lt;mirror&gt;\" \
         xmlUrl=\"https://example.com/feed?format=rss&amp;lang=en\""
    ));
}

fn parse_rss(bytes: &[u8]) -> feed_rs::model::Feed {
    feed_rs::parser::parse(bytes).expect("the rendered RSS parses")
}

/// The RSS items are the Atom entries: same ids (as guids), same order, same links and audio.
#[test]
fn rss_carries_the_atom_entries_with_audio_and_members() {
    let stories = stories();
    let bytes = emit::rss(&stories, &meta(), &channel());
    let text = String::from_utf8(bytes.clone()).expect("UTF-8 output");
    let feed = parse_rss(&bytes);
    let atom = parse_atom(&emit::atom(&stories, &meta()));
    let ids: Vec<_> = feed.entries.iter().map(|e| e.id.as_str()).collect();
    let atom_ids: Vec<_> = atom.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, atom_ids);

    assert!(text.contains("<guid isPermaLink=\"false\">urn:tributary:story:1</guid>"));
    assert!(
        text.contains("<pubDate>Thu, 20 Nov 2025 14:00:00 +0000</pubDate>"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "<enclosure url=\"{AUDIO_URL}\" length=\"23456789\" type=\"audio/mpeg\"/>"
    )));
    assert!(text.contains("<itunes:duration>1834</itunes:duration>"));
    let merged = &feed.entries[1];
    assert_eq!(merged.links[0].href, POST_LINK);
    let content = merged
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .expect("content:encoded");
    assert!(
        content.starts_with(
            "<p>Today we release <a href=\"https://allenai.org/olmo\">Olmo 3</a>.</p>"
        ),
        "{content}"
    );
    assert!(
        content.contains(&format!(
            "<li><a href=\"{MIRROR_LINK_SHOWN}\">hacker-news — Olmo 3: America's truly open reasoning models</a></li>"
        )),
        "{content}"
    );
    // Stories without audio are items too, without an enclosure.
    assert_eq!(feed.entries.len(), 3);
    assert_eq!(text.matches("<enclosure ").count(), 1);

    // The channel: Apple's required tags from the settings.
    for tag in [
        "<language>en-us</language>",
        "<itunes:author>Nathan Lambert</itunes:author>",
        "<itunes:image href=\"https://cdn.example/art.jpg\"/>",
        "<itunes:category text=\"News\">",
        "<itunes:category text=\"Tech News\"/>",
        "<itunes:explicit>true</itunes:explicit>",
        "<atom:link href=\"http://127.0.0.1:8088/feed.rss\" rel=\"self\" type=\"application/rss+xml\"/>",
        "<lastBuildDate>Fri, 21 Nov 2025 08:00:00 +0000</lastBuildDate>",
    ] {
        assert!(text.contains(tag), "{tag} missing:\n{text}");
    }
}

/// The episode's Podcasting 2.0 tags survive the trip: tributary reading its own `/feed.rss`
/// finds on the story's item exactly what the episode carried.
#[test]
fn rss_podcast_tags_read_back_as_they_were() {
    let bytes = emit::rss(&stories(), &meta(), &channel());
    let url = Url::parse("http://127.0.0.1:8088/feed.rss").expect("valid URL");
    let parsed = tributary::normalize::parse_feed(&bytes, &url, "self", at("2025-12-01T00:00:00Z"))
        .expect("the rendered RSS parses");
    let podcasts: Vec<&Podcast> = parsed
        .items
        .iter()
        .map(|item| &item.fields().podcast)
        .collect();
    assert_eq!(
        podcasts,
        [&Podcast::default(), &episode_podcast(), &Podcast::default()]
    );
}

#[test]
fn rss_escapes_hostile_text() {
    let bytes = emit::rss(&stories(), &meta(), &channel());
    let text = String::from_utf8(bytes.clone()).expect("UTF-8 output");
    assert!(!text.contains('\u{1}') && !text.contains('\u{b}') && !text.contains('\u{ffff}'));
    assert!(!text.contains("<script>"), "markup from a title leaked");
    assert_eq!(
        text.matches("<item>").count(),
        3,
        "an injected item appeared"
    );
    let feed = parse_rss(&bytes);
    assert_eq!(
        feed.entries[0].title.as_ref().map(|t| t.content.as_str()),
        Some(HOSTILE_TITLE_CLEAN)
    );
}

/// Defaults: author from the title, English, Technology, not explicit, and the artwork of the
/// newest episode that has some; an enclosure without type or length still gets both.
#[test]
fn rss_channel_defaults_and_guessed_enclosure_type() {
    let mut story = merged_story();
    let episode = &mut story.members[1].stored.item;
    episode.image = Some("https://cdn.example/episode.png".to_owned());
    episode.enclosure = Some(Enclosure {
        url: AUDIO_URL.to_owned(),
        mime_type: None,
        length: None,
    });
    let channel = Config::parse("", "t.toml").expect("valid").output.channel;
    let text = String::from_utf8(emit::rss(std::slice::from_ref(&story), &meta(), &channel))
        .expect("UTF-8 output");
    for tag in [
        "<language>en</language>",
        "<itunes:author>Interconnects and friends</itunes:author>",
        "<itunes:image href=\"https://cdn.example/episode.png\"/>",
        "<url>https://cdn.example/episode.png</url>",
        "<itunes:category text=\"Technology\"/>",
        "<itunes:explicit>false</itunes:explicit>",
    ] {
        assert!(text.contains(tag), "{tag} missing:\n{text}");
    }
    assert!(text.contains(&format!(
        "<enclosure url=\"{AUDIO_URL}\" length=\"0\" type=\"audio/mpeg\"/>"
    )));
    // The item's artwork is the episode's.
    assert_eq!(
        text.matches("<itunes:image href=\"https://cdn.example/episode.png\"/>")
            .count(),
        2
    );
}

/// Whether a missing validator fails the run (CI) or is skipped (a laptop without it).
fn validator_missing(what: &str) {
    if std::env::var("TRIBUTARY_REQUIRE_VALIDATORS").is_ok_and(|v| v == "1") {
        panic!("{what} is missing and TRIBUTARY_REQUIRE_VALIDATORS=1");
    }
    println!("skipped: {what} is not available");
}

/// The golden stories and an empty feed, written where a validator can read them.
fn rendered_atom_files(dir: &Path) -> Vec<PathBuf> {
    let full = dir.join("merged.atom");
    fs::write(&full, emit::atom(&stories(), &meta())).expect("write rendered feed");
    let empty = dir.join("empty.atom");
    fs::write(&empty, emit::atom(&[], &meta())).expect("write rendered feed");
    let hub = dir.join("hub.atom");
    fs::write(&hub, emit::atom(&stories(), &meta_with_hub())).expect("write rendered feed");
    vec![full, empty, hub]
}

#[test]
fn atom_is_valid_against_the_relax_ng_schema() {
    let schema =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/validators/atom-rfc4287.rng");
    if !schema.exists() {
        return validator_missing(&format!("schema {}", schema.display()));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let files = rendered_atom_files(dir.path());
    let output = match Command::new("jing").arg(&schema).args(&files).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return validator_missing("jing");
        }
        Err(e) => panic!("running jing: {e}"),
    };
    assert!(
        output.status.success(),
        "jing rejected the feed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn atom_is_accepted_by_feedparser() {
    let probe = Command::new("python3")
        .args(["-c", "import feedparser"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        return validator_missing("python3 with feedparser");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let files = rendered_atom_files(dir.path());
    let script = "import feedparser, json, sys\n\
                  d = feedparser.parse(sys.argv[1])\n\
                  print(json.dumps({'bozo': int(d.bozo), 'error': str(d.get('bozo_exception', '')),\n\
                  'version': d.version, 'ids': [e.get('id') for e in d.entries],\n\
                  'enclosures': [[x.get('href') for x in e.get('enclosures', [])] for e in d.entries],\n\
                  'durations': [e.get('itunes_duration') for e in d.entries],\n\
                  'related': [[[x.get('href'), x.get('type'), x.get('hreflang')] for x in e.get('links', [])\n\
                               if x.get('rel') == 'related'] for e in d.entries]}))\n";
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(&files[0])
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("feedparser report is JSON");
    assert_eq!(report["bozo"], 0, "feedparser: {}", report["error"]);
    assert_eq!(report["version"], "atom10");
    assert_eq!(
        report["ids"],
        serde_json::json!([
            "urn:tributary:story:3",
            "urn:tributary:story:1",
            "urn:tributary:story:2"
        ])
    );
    assert_eq!(report["enclosures"][1], serde_json::json!([AUDIO_URL]));
    assert_eq!(
        report["durations"],
        serde_json::json!([null, "1834", null]),
        "feedparser reads the episode's itunes:duration in the Atom entry"
    );
    assert_eq!(
        report["related"][1],
        serde_json::json!([
            [MIRROR_LINK_SHOWN, "text/html", null],
            [TRANSCRIPT_URL, "text/vtt", "en-US"],
            [
                "https://cdn.example/olmo-3/transcript.html",
                "text/html",
                null
            ],
            [CHAPTERS_URL, "application/json+chapters", null]
        ]),
        "feedparser lists the transcripts and chapters with their types"
    );
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn write_atomic_creates_and_replaces_without_leftovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let other = dir.path().join("other.txt");
    fs::write(&other, b"untouched").expect("write neighbour");
    let target = dir.path().join("merged.atom");

    atomic_file::write(&target, b"first").expect("create");
    assert_eq!(fs::read(&target).expect("read"), b"first");

    atomic_file::write(&target, b"second, longer than the first").expect("replace");
    assert_eq!(
        fs::read(&target).expect("read"),
        b"second, longer than the first"
    );

    atomic_file::write(&target, b"").expect("replace with nothing");
    assert_eq!(fs::read(&target).expect("read"), b"");

    assert_eq!(fs::read(&other).expect("read neighbour"), b"untouched");
    assert_eq!(dir_entries(dir.path()), ["merged.atom", "other.txt"]);
}

#[test]
fn write_atomic_reports_failures_as_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-dir").join("merged.atom");
    let err = atomic_file::write(&missing, b"x").expect_err("missing directory");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().contains("merged.atom"), "{err}");

    // The target is a directory: the rename fails and the temp file is cleaned up.
    let occupied = dir.path().join("occupied");
    fs::create_dir(&occupied).expect("mkdir");
    fs::write(occupied.join("inside"), b"x").expect("write");
    atomic_file::write(&occupied, b"x").expect_err("cannot replace a non-empty directory");
    assert_eq!(dir_entries(dir.path()), ["occupied"]);

    atomic_file::write(Path::new("/"), b"x").expect_err("no file name");
}

#[test]
fn write_atomic_gives_the_permissions_of_a_plain_create() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let plain = dir.path().join("plain.txt");
    fs::write(&plain, b"x").expect("write");
    let target = dir.path().join("merged.atom");
    atomic_file::write(&target, b"feed").expect("create");
    let mode = |path: &Path| fs::metadata(path).expect("stat").permissions().mode() & 0o777;
    // Not tempfile's owner-only 0600: a web server running as another user serves this file.
    assert_eq!(mode(&target), mode(&plain));
}
