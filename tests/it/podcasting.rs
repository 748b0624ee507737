//! Podcasting 2.0 tags read from real feeds: the namespace's own example feed and
//! podcastparser's test feeds in `../shared/corpus` (skipped without it, unless
//! `TRIBUTARY_REQUIRE_SHARED=1`), by the route `parse_feed` takes and by feed-rs's, which must
//! agree.

use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use tributary::model::{Chapters, EpisodeNumber, Podcast, PodcastPerson, Season, Soundbite};
use tributary::normalize::parse_feed;
use url::Url;

/// The corpus file's path, or `None` (after saying so) when `../shared` is absent.
fn corpus_file(relative: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(relative);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("TRIBUTARY_REQUIRE_SHARED").as_deref() != Ok("1"),
        "TRIBUTARY_REQUIRE_SHARED=1 but {} is missing",
        path.display()
    );
    eprintln!("skipped: {} not found", path.display());
    None
}

/// Each item's tags.
fn podcasts(path: &PathBuf) -> Vec<Podcast> {
    let bytes = std::fs::read(path).expect("a readable corpus file");
    let url = Url::parse("https://corpus.example/feed.xml").expect("valid URL");
    let now: DateTime<Utc> = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date");
    parse_feed(&bytes, &url, "corpus", now)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .items
        .iter()
        .map(|item| item.fields().podcast.clone())
        .collect()
}

fn person(name: &str, role: Option<&str>, group: Option<&str>, href: &str) -> PodcastPerson {
    PodcastPerson {
        name: name.to_owned(),
        role: role.map(str::to_owned),
        group: group.map(str::to_owned),
        img: None,
        href: Some(href.to_owned()),
    }
}

#[test]
fn the_namespace_example_feed() {
    let Some(path) = corpus_file("podcast-namespace/example.xml") else {
        return;
    };
    let podcasts = podcasts(&path);
    assert_eq!(podcasts.len(), 3, "the live item is not an episode");
    let third = &podcasts[0];
    let transcripts: Vec<_> = third
        .transcripts
        .iter()
        .map(|t| {
            (
                t.url.as_str(),
                t.mime_type.as_str(),
                t.language.as_deref(),
                t.rel.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        transcripts,
        [
            (
                "https://example.com/ep3/transcript.txt",
                "text/plain",
                None,
                None
            ),
            (
                "https://example.com/episode1/transcript.vtt",
                "text/vtt",
                Some("es"),
                Some("captions")
            ),
        ]
    );
    assert_eq!(
        third.chapters,
        Some(Chapters {
            url: "https://example.com/ep3_chapters.json".to_owned(),
            mime_type: "application/json".to_owned(),
        })
    );
    let people: Vec<_> = third
        .persons
        .iter()
        .map(|p| (p.name.as_str(), p.role.as_deref(), p.group.as_deref()))
        .collect();
    assert_eq!(
        people,
        [
            ("Adam Curry", None, None),
            ("Dave Jones", Some("guest"), None),
            ("Becky Smith", Some("cover art designer"), Some("visuals")),
        ]
    );
    assert_eq!(
        third.persons[1].img.as_deref(),
        Some("https://example.com/images/davejones.jpg")
    );
    assert_eq!(
        third.soundbites,
        [Soundbite {
            start_time: "33.833".to_owned(),
            duration: "60.0".to_owned(),
            text: None,
        }]
    );
    assert_eq!(
        third.season,
        Some(Season {
            number: 1,
            name: Some("Podcasting 2.0".to_owned()),
        })
    );
    assert_eq!(
        third.episode,
        Some(EpisodeNumber {
            number: "3".to_owned(),
            display: None,
        })
    );
    // The first episode has one transcript; every episode has its number.
    assert_eq!(podcasts[2].transcripts.len(), 1);
    let numbers: Vec<_> = podcasts
        .iter()
        .filter_map(|p| Some(p.episode.as_ref()?.number.as_str()))
        .collect();
    assert_eq!(numbers, ["3", "2", "1"]);
}

/// podcastparser's test feeds write the `podcast:` prefix without declaring it.
#[test]
fn podcastparsers_feeds() {
    let files = [
        "podcastparser/tests/data/episode_podcast_transcript.rss",
        "podcastparser/tests/data/episode_podcast_chapters.rss",
        "podcastparser/tests/data/episode_podcast_person.rss",
    ];
    let Some(paths) = files
        .iter()
        .map(|file| corpus_file(file))
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    let transcript = &podcasts(&paths[0])[0];
    assert_eq!(
        transcript.transcripts[0].url,
        "https://example.com/1/transcript.txt"
    );
    let chapters = &podcasts(&paths[1])[0];
    assert_eq!(
        chapters.chapters.as_ref().map(|c| c.url.as_str()),
        Some("https://example.com/1/chapters.json")
    );
    let people = &podcasts(&paths[2])[0];
    assert_eq!(
        people.persons,
        [
            PodcastPerson {
                img: Some("http://www.example.com/avatar.jpg".to_owned()),
                ..person(
                    "John Doe",
                    Some("host"),
                    Some("cast"),
                    "http://www.example.com/"
                )
            },
            person(
                "Stephanie Smith",
                Some("guest"),
                None,
                "http://amazingsite.com/"
            ),
        ]
    );
}
