//! An episode's Podcasting 2.0 tags, as the side scan found them ([`PodcastTag`]), into the
//! model's [`Podcast`].
//!
//! The design decision: a tag is kept only when it has what the namespace requires of it (a
//! transcript's URL and type, a person's name, a soundbite's times), and is otherwise dropped
//! alone, never the item: these tags are extras, and the merged feed must not pass on a tag a
//! podcast app would reject. Values are kept as written where the namespace leaves them open
//! (roles, groups, languages), so the merged feed says what the source said.

use url::Url;

use super::convert::web_url;
use super::scan::PodcastTag;
use crate::model::{
    Chapters, EpisodeNumber, Podcast, PodcastPerson, Season, Soundbite, Transcript,
};

/// At most this many of each repeatable tag per episode: a show's whole cast fits, and a hostile
/// feed cannot make every merged feed carry thousands.
const MAX_PER_KIND: usize = 32;

/// Longest number kept (a season, an episode, a soundbite's times): real ones are a few digits.
const MAX_NUMBER_LEN: usize = 20;

/// The roles of the Podcast Taxonomy Project, which the namespace asks a person's `role` to be
/// one of. A feed-rs reader refuses a whole feed over any other, so the merged feed passes on
/// only these (in the taxonomy's lower-case spelling, as the namespace's examples write them).
const ROLES: &[&str] = &[
    "director",
    "assistant director",
    "executive producer",
    "senior producer",
    "producer",
    "associate producer",
    "development producer",
    "creative director",
    "host",
    "co-host",
    "guest host",
    "guest",
    "voice actor",
    "narrator",
    "announcer",
    "reporter",
    "author",
    "editorial director",
    "co-writer",
    "writer",
    "songwriter",
    "guest writer",
    "story editor",
    "managing editor",
    "script editor",
    "script coordinator",
    "researcher",
    "fact checker",
    "translator",
    "transcriber",
    "logger",
    "studio coordinator",
    "technical director",
    "technical manager",
    "audio engineer",
    "remote recording engineer",
    "post production engineer",
    "audio editor",
    "sound designer",
    "foley artist",
    "composer",
    "theme music",
    "music production",
    "music contributor",
    "production coordinator",
    "booking coordinator",
    "production assistant",
    "content manager",
    "marketing manager",
    "sales representative",
    "sales manager",
    "graphic designer",
    "cover art designer",
    "social media manager",
    "consultant",
    "intern",
    "camera operator",
    "lighting designer",
    "camera grip",
    "assistant camera",
    "editor",
    "assistant editor",
];

/// The taxonomy's groups, likewise for `group`.
const GROUPS: &[&str] = &[
    "administration",
    "audio post-production",
    "audio production",
    "cast",
    "community",
    "creative direction",
    "misc",
    "video post-production",
    "video production",
    "visuals",
    "writing",
];

/// Reads the tags in document order; relative URLs resolve against `base`. Where the namespace
/// allows one tag of a kind (chapters, season, episode), the first usable one wins.
pub(crate) fn read(tags: &[PodcastTag], base: &Url) -> Podcast {
    let mut podcast = Podcast::default();
    for tag in tags {
        match tag.name.as_str() {
            "transcript" => {
                if podcast.transcripts.len() < MAX_PER_KIND
                    && let Some(transcript) = transcript(tag, base)
                    && !podcast.transcripts.contains(&transcript)
                {
                    podcast.transcripts.push(transcript);
                }
            }
            "chapters" if podcast.chapters.is_none() => podcast.chapters = chapters(tag, base),
            "person" => {
                if podcast.persons.len() < MAX_PER_KIND
                    && let Some(person) = person(tag, base)
                    && !podcast.persons.contains(&person)
                {
                    podcast.persons.push(person);
                }
            }
            "soundbite" => {
                if podcast.soundbites.len() < MAX_PER_KIND
                    && let Some(soundbite) = soundbite(tag)
                    && !podcast.soundbites.contains(&soundbite)
                {
                    podcast.soundbites.push(soundbite);
                }
            }
            "season" if podcast.season.is_none() => podcast.season = season(tag),
            "episode" if podcast.episode.is_none() => podcast.episode = episode(tag),
            _ => {}
        }
    }
    podcast
}

fn transcript(tag: &PodcastTag, base: &Url) -> Option<Transcript> {
    Some(Transcript {
        url: web_url(tag.attribute("url")?, base)?.into(),
        mime_type: mime_type(tag.attribute("type")?)?,
        language: tag.attribute("language").and_then(language_tag),
        rel: token(tag.attribute("rel")),
    })
}

fn chapters(tag: &PodcastTag, base: &Url) -> Option<Chapters> {
    Some(Chapters {
        url: web_url(tag.attribute("url")?, base)?.into(),
        mime_type: mime_type(tag.attribute("type")?)?,
    })
}

/// A person, unless their role or group is outside the taxonomy: without it they would pass
/// for the default, a host of the cast.
fn person(tag: &PodcastTag, base: &Url) -> Option<PodcastPerson> {
    Some(PodcastPerson {
        name: words(&tag.text)?,
        role: taxonomy(tag.attribute("role"), ROLES)?,
        group: taxonomy(tag.attribute("group"), GROUPS)?,
        img: tag
            .attribute("img")
            .and_then(|img| web_url(img, base))
            .map(String::from),
        href: tag
            .attribute("href")
            .and_then(|href| web_url(href, base))
            .map(String::from),
    })
}

fn soundbite(tag: &PodcastTag) -> Option<Soundbite> {
    Some(Soundbite {
        start_time: decimal(tag.attribute("startTime")?)?,
        duration: decimal(tag.attribute("duration")?)?,
        text: words(&tag.text),
    })
}

fn season(tag: &PodcastTag) -> Option<Season> {
    let number = tag.text.trim();
    if number.len() > MAX_NUMBER_LEN {
        return None;
    }
    Some(Season {
        number: number.parse().ok()?,
        name: tag.attribute("name").and_then(words),
    })
}

fn episode(tag: &PodcastTag) -> Option<EpisodeNumber> {
    Some(EpisodeNumber {
        number: decimal(&tag.text)?,
        display: tag.attribute("display").and_then(words),
    })
}

/// `type/subtype` (with parameters, if any): what the namespace requires for `type`.
fn mime_type(text: &str) -> Option<String> {
    let text = text.trim();
    let essence = text.split(';').next().unwrap_or_default().trim();
    let (kind, subtype) = essence.split_once('/')?;
    let token = |s: &str| !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '/');
    (token(kind) && token(subtype)).then(|| text.to_string())
}

/// A non-negative decimal as the namespace writes times and episode numbers (`33.833`, `3`).
fn decimal(text: &str) -> Option<String> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (text.len() <= MAX_NUMBER_LEN && digits(whole) && digits(fraction)).then(|| text.to_string())
}

/// A language tag as RFC 3066 writes one (`es`, `en-US`), the shape Atom's `hreflang` and the
/// namespace's `language` share.
fn language_tag(text: &str) -> Option<String> {
    let text = text.trim();
    let mut subtags = text.split('-');
    let primary = subtags.next().unwrap_or_default();
    let fits = |s: &str, alphabetic: bool| {
        (1..=8).contains(&s.len())
            && s.bytes().all(|b| {
                if alphabetic {
                    b.is_ascii_alphabetic()
                } else {
                    b.is_ascii_alphanumeric()
                }
            })
    };
    (fits(primary, true) && subtags.all(|s| fits(s, false))).then(|| text.to_string())
}

/// `Some(None)` when the attribute is absent or blank, `Some(name)` when it names an entry of
/// `list` (in any case), `None` when it names something else.
fn taxonomy(value: Option<&str>, list: &[&str]) -> Option<Option<String>> {
    let Some(value) = value.and_then(words) else {
        return Some(None);
    };
    let value = value.to_lowercase();
    list.contains(&value.as_str()).then_some(Some(value))
}

/// A one-word value (a rel), or nothing.
fn token(text: Option<&str>) -> Option<String> {
    let text = text?.trim();
    (!text.is_empty() && !text.contains(char::is_whitespace)).then(|| text.to_string())
}

/// Text with its runs of whitespace made single spaces, or nothing when blank.
fn words(text: &str) -> Option<String> {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!joined.is_empty()).then_some(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(name: &str, attributes: &[(&str, &str)], text: &str) -> PodcastTag {
        PodcastTag {
            name: name.into(),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            text: text.into(),
        }
    }

    fn base() -> Url {
        Url::parse("https://show.example/feed.xml").expect("valid test URL")
    }

    #[test]
    fn reads_every_kind() {
        let podcast = read(
            &[
                tag(
                    "transcript",
                    &[
                        ("url", "/t/1.vtt"),
                        ("type", "text/vtt"),
                        ("language", "es"),
                        ("rel", "captions"),
                    ],
                    "",
                ),
                tag(
                    "chapters",
                    &[
                        ("url", "https://show.example/c.json"),
                        ("type", "application/json+chapters"),
                    ],
                    "",
                ),
                tag(
                    "person",
                    &[
                        ("role", "Guest"),
                        ("href", "https://p.example/"),
                        ("img", "javascript:x"),
                    ],
                    " Ana\n  Ruiz ",
                ),
                tag(
                    "soundbite",
                    &[("starttime", "33.833"), ("duration", "60")],
                    "The  hook",
                ),
                tag("season", &[("name", "Year one")], " 2 "),
                tag("episode", &[("display", "Ch. 3")], "3.5"),
            ],
            &base(),
        );
        assert_eq!(
            podcast.transcripts,
            [Transcript {
                url: "https://show.example/t/1.vtt".into(),
                mime_type: "text/vtt".into(),
                language: Some("es".into()),
                rel: Some("captions".into()),
            }]
        );
        assert_eq!(
            podcast.chapters.map(|c| c.mime_type),
            Some("application/json+chapters".into())
        );
        assert_eq!(
            podcast.persons,
            [PodcastPerson {
                name: "Ana Ruiz".into(),
                role: Some("guest".into()),
                group: None,
                img: None,
                href: Some("https://p.example/".into()),
            }]
        );
        assert_eq!(
            podcast.soundbites,
            [Soundbite {
                start_time: "33.833".into(),
                duration: "60".into(),
                text: Some("The hook".into()),
            }]
        );
        assert_eq!(
            podcast.season,
            Some(Season {
                number: 2,
                name: Some("Year one".into())
            })
        );
        assert_eq!(
            podcast.episode,
            Some(EpisodeNumber {
                number: "3.5".into(),
                display: Some("Ch. 3".into())
            })
        );
    }

    #[test]
    fn a_tag_missing_what_the_namespace_requires_is_dropped_alone() {
        let podcast = read(
            &[
                tag("transcript", &[("url", "https://s.example/t.txt")], ""),
                tag("transcript", &[("type", "text/plain")], ""),
                tag(
                    "transcript",
                    &[("url", "ftp://s.example/t.txt"), ("type", "text/plain")],
                    "",
                ),
                tag(
                    "transcript",
                    &[("url", "https://s.example/t.txt"), ("type", "plain")],
                    "",
                ),
                tag("chapters", &[("url", "https://s.example/c.json")], ""),
                tag("person", &[("role", "host")], "  "),
                tag("person", &[("role", "hostess")], "Ana"),
                tag("person", &[("group", "band")], "Bo"),
                tag("soundbite", &[("startTime", "-1"), ("duration", "5")], ""),
                tag("soundbite", &[("startTime", "1e3"), ("duration", "5")], ""),
                tag("season", &[], "one"),
                tag("episode", &[], "NaN"),
                tag(
                    "chapters",
                    &[
                        ("url", "https://s.example/c.json"),
                        ("type", "application/json"),
                    ],
                    "",
                ),
            ],
            &base(),
        );
        assert!(podcast.transcripts.is_empty());
        assert!(podcast.persons.is_empty());
        assert!(podcast.soundbites.is_empty());
        assert_eq!(podcast.season, None);
        assert_eq!(podcast.episode, None);
        assert_eq!(
            podcast.chapters.map(|c| c.url),
            Some("https://s.example/c.json".into()),
            "the first usable chapters tag"
        );
    }

    #[test]
    fn repeats_are_kept_once_and_capped() {
        let person = tag("person", &[], "Ana");
        let many: Vec<PodcastTag> = (0..100)
            .map(|n| tag("person", &[], &format!("Person {n}")))
            .chain([person.clone(), person])
            .collect();
        let podcast = read(&many, &base());
        assert_eq!(podcast.persons.len(), MAX_PER_KIND);
        let twice = read(
            &[tag("person", &[], "Ana"), tag("person", &[], "Ana")],
            &base(),
        );
        assert_eq!(twice.persons.len(), 1);
    }
}
