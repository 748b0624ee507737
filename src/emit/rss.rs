//! The merged feed as RSS 2.0 for podcast apps, many of which read RSS and nothing else
//! (castero refuses Atom outright, and Apple's directory lists RSS feeds only). One `<item>`
//! per story, the same stories in the same order as the Atom feed: the story's audio as the
//! `enclosure` with its `itunes:duration` and artwork, the Atom entry's id as a non-permalink
//! `guid` (so an app that already downloaded an episode never sees it as new), the post's HTML
//! as `content:encoded` followed by the other pages about the work, and the Podcasting 2.0 tags
//! (transcripts, chapters, people, soundbites, season and episode) of the member that carries
//! the audio. Stories without audio are items too: the feed is the writer's work, read or heard.
//!
//! Design decision: the channel says what Apple's podcast requirements ask for (language,
//! artwork, category, explicit, author) from validated `[output]` settings ([`Channel`]), so a
//! bad category or language is refused when the config is read rather than by a directory
//! weeks later. The document is written with quick-xml's `Writer`, like the Atom feed, so
//! every piece of feed text goes through its escaper.

use std::fmt;
use std::io;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, Event};
use thiserror::Error;
use url::Url;
use uuid::Uuid;

use super::atom::{ITUNES_NS, XmlWriter, text, text_element};
use super::{
    FeedMeta, alternate_link, body, categories, clean, episode, media_type, non_blank,
    related_links, summary,
};
use crate::model::{Podcast, Story};
use crate::normalize::type_by_extension;

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
const CONTENT_NS: &str = "http://purl.org/rss/1.0/modules/content/";
const PODCAST_NS: &str = "https://podcastindex.org/namespace/1.0";

/// The namespace the podcast namespace derives a feed's `podcast:guid` from (a UUIDv5 of the
/// feed's URL without its scheme and trailing slashes), so any directory can compute the same
/// id from the URL alone.
const PODCAST_GUID_NAMESPACE: Uuid = Uuid::from_u128(0xead4c236_bf58_58c6_a2c6_a6b28d128cb6);

/// RSS 2.0 requires an enclosure's type; a file nobody described is this in MIME.
const UNKNOWN_MIME: &str = "application/octet-stream";

/// Apple Podcasts' categories and their subcategories, spelled as Apple spells them: a
/// directory ignores a category it does not know, so only these are accepted.
const APPLE_CATEGORIES: &[(&str, &[&str])] = &[
    (
        "Arts",
        &[
            "Books",
            "Design",
            "Fashion & Beauty",
            "Food",
            "Performing Arts",
            "Visual Arts",
        ],
    ),
    (
        "Business",
        &[
            "Careers",
            "Entrepreneurship",
            "Investing",
            "Management",
            "Marketing",
            "Non-Profit",
        ],
    ),
    ("Comedy", &["Comedy Interviews", "Improv", "Stand-Up"]),
    (
        "Education",
        &["Courses", "How To", "Language Learning", "Self-Improvement"],
    ),
    ("Fiction", &["Comedy Fiction", "Drama", "Science Fiction"]),
    ("Government", &[]),
    ("History", &[]),
    (
        "Health & Fitness",
        &[
            "Alternative Health",
            "Fitness",
            "Medicine",
            "Mental Health",
            "Nutrition",
            "Sexuality",
        ],
    ),
    (
        "Kids & Family",
        &[
            "Education for Kids",
            "Parenting",
            "Pets & Animals",
            "Stories for Kids",
        ],
    ),
    (
        "Leisure",
        &[
            "Animation & Manga",
            "Automotive",
            "Aviation",
            "Crafts",
            "Games",
            "Hobbies",
            "Home & Garden",
            "Video Games",
        ],
    ),
    (
        "Music",
        &["Music Commentary", "Music History", "Music Interviews"],
    ),
    (
        "News",
        &[
            "Business News",
            "Daily News",
            "Entertainment News",
            "News Commentary",
            "Politics",
            "Sports News",
            "Tech News",
        ],
    ),
    (
        "Religion & Spirituality",
        &[
            "Buddhism",
            "Christianity",
            "Hinduism",
            "Islam",
            "Judaism",
            "Religion",
            "Spirituality",
        ],
    ),
    (
        "Science",
        &[
            "Astronomy",
            "Chemistry",
            "Earth Sciences",
            "Life Sciences",
            "Mathematics",
            "Natural Sciences",
            "Nature",
            "Physics",
            "Social Sciences",
        ],
    ),
    (
        "Society & Culture",
        &[
            "Documentary",
            "Personal Journals",
            "Philosophy",
            "Places & Travel",
            "Relationships",
        ],
    ),
    (
        "Sports",
        &[
            "Baseball",
            "Basketball",
            "Cricket",
            "Fantasy Sports",
            "Football",
            "Golf",
            "Hockey",
            "Rugby",
            "Running",
            "Soccer",
            "Swimming",
            "Tennis",
            "Volleyball",
            "Wilderness",
            "Wrestling",
        ],
    ),
    ("Technology", &[]),
    ("True Crime", &[]),
    (
        "TV & Film",
        &[
            "After Shows",
            "Film History",
            "Film Interviews",
            "Film Reviews",
            "TV Reviews",
        ],
    ),
];

/// Why a channel setting was refused; the config names the key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChannelError {
    #[error(
        "`{given}` is not an Apple Podcasts category; the categories are {}",
        top_names()
    )]
    UnknownCategory { given: String },
    #[error(
        "`{given}` is not an Apple Podcasts category: `{top}` has {}",
        subcategory_names(.subcategories)
    )]
    UnknownSubcategory {
        given: String,
        top: &'static str,
        subcategories: &'static [&'static str],
    },
    #[error(
        "`{given}` is not a language code such as `en` or `en-us` (ISO 639, with an optional \
         region)"
    )]
    Language { given: String },
}

fn top_names() -> String {
    let names: Vec<String> = APPLE_CATEGORIES
        .iter()
        .map(|(top, _)| format!("`{top}`"))
        .collect();
    names.join(", ")
}

fn subcategory_names(subcategories: &[&str]) -> String {
    if subcategories.is_empty() {
        return "no subcategories".to_owned();
    }
    let names: Vec<String> = subcategories.iter().map(|s| format!("`{s}`")).collect();
    format!("the subcategories {}", names.join(", "))
}

/// An Apple Podcasts category, written `"Technology"` or `"News > Tech News"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    top: &'static str,
    sub: Option<&'static str>,
}

impl Default for Category {
    /// What tributary's built-in feed list is about.
    fn default() -> Self {
        Category {
            top: "Technology",
            sub: None,
        }
    }
}

impl FromStr for Category {
    type Err = ChannelError;

    /// Case and spacing are forgiven (`"news>tech news"`); the output uses Apple's spelling.
    fn from_str(given: &str) -> Result<Category, ChannelError> {
        let (top_text, sub_text) = match given.split_once('>') {
            Some((top, sub)) => (top.trim(), Some(sub.trim())),
            None => (given.trim(), None),
        };
        let &(top, subcategories) = APPLE_CATEGORIES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(top_text))
            .ok_or_else(|| ChannelError::UnknownCategory {
                given: given.to_owned(),
            })?;
        let sub = match sub_text {
            None => None,
            Some(text) => Some(
                *subcategories
                    .iter()
                    .find(|name| name.eq_ignore_ascii_case(text))
                    .ok_or_else(|| ChannelError::UnknownSubcategory {
                        given: given.to_owned(),
                        top,
                        subcategories,
                    })?,
            ),
        };
        Ok(Category { top, sub })
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sub {
            Some(sub) => write!(f, "{} > {sub}", self.top),
            None => f.write_str(self.top),
        }
    }
}

/// The channel's `<language>`: an ISO 639 code with optional subtags, lower-cased (`en-us`),
/// which is how RSS and Apple write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language(String);

impl Default for Language {
    fn default() -> Self {
        Language("en".to_owned())
    }
}

impl FromStr for Language {
    type Err = ChannelError;

    fn from_str(given: &str) -> Result<Language, ChannelError> {
        let refused = || ChannelError::Language {
            given: given.to_owned(),
        };
        let mut subtags = given.split('-');
        let primary = subtags.next().ok_or_else(refused)?;
        if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(refused());
        }
        for subtag in subtags {
            if !(1..=8).contains(&subtag.len())
                || !subtag.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(refused());
            }
        }
        Ok(Language(given.to_ascii_lowercase()))
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the RSS channel says about the show beyond the feed's title, from `[output]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// `itunes:author`: who the show is by, shown under its title.
    pub author: String,
    /// The show's artwork (Apple asks for a square JPEG or PNG of 1400 to 3000 pixels). Without
    /// one, the artwork of the newest episode that has some stands in.
    pub image: Option<Url>,
    pub category: Category,
    pub explicit: bool,
    pub language: Language,
}

impl Channel {
    /// The settings `[output]` falls back to, crediting the feed's title as its author.
    pub fn defaults(title: &str) -> Channel {
        Channel {
            author: title.to_owned(),
            image: None,
            category: Category::default(),
            explicit: false,
            language: Language::default(),
        }
    }
}

/// Renders the merged feed as RSS 2.0. `stories` must already be newest first and limited to
/// `max_entries`; they are written in the order given.
pub fn rss(stories: &[Story], meta: &FeedMeta, channel: &Channel) -> Vec<u8> {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    write_rss(&mut writer, stories, meta, channel)
        .expect("writing XML into a Vec<u8> cannot fail: it has no I/O");
    let mut bytes = writer.into_inner();
    bytes.push(b'\n');
    bytes
}

fn write_rss(
    w: &mut XmlWriter,
    stories: &[Story],
    meta: &FeedMeta,
    channel: &Channel,
) -> io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    w.create_element("rss")
        .with_attribute(("version", "2.0"))
        .with_attribute(("xmlns:atom", ATOM_NS))
        .with_attribute(("xmlns:content", CONTENT_NS))
        .with_attribute(("xmlns:itunes", ITUNES_NS))
        .with_attribute(("xmlns:podcast", PODCAST_NS))
        .write_inner_content(|w| {
            w.create_element("channel")
                .write_inner_content(|w| write_channel(w, stories, meta, channel))?;
            Ok(())
        })?;
    Ok(())
}

fn write_channel(
    w: &mut XmlWriter,
    stories: &[Story],
    meta: &FeedMeta,
    channel: &Channel,
) -> io::Result<()> {
    let self_url = meta.file_url("feed.rss");
    text_element(w, "title", &meta.title)?;
    text_element(w, "link", meta.base_url.as_str())?;
    text_element(
        w,
        "description",
        &format!(
            "{}: each work once, the post with its audio, merged by tributary.",
            meta.title
        ),
    )?;
    text_element(w, "language", &channel.language.to_string())?;
    text_element(
        w,
        "generator",
        concat!("tributary ", env!("CARGO_PKG_VERSION")),
    )?;
    text_element(w, "lastBuildDate", &rfc822(meta.updated(stories)))?;
    w.create_element("atom:link")
        .with_attribute(("href", clean(&self_url).as_ref()))
        .with_attribute(("rel", "self"))
        .with_attribute(("type", "application/rss+xml"))
        .write_empty()?;
    // WebSub 4: RSS has no link relations of its own, so the hub is an Atom link too.
    if let Some(hub) = &meta.hub {
        w.create_element("atom:link")
            .with_attribute(("href", clean(hub.as_str()).as_ref()))
            .with_attribute(("rel", "hub"))
            .write_empty()?;
    }
    let image = channel
        .image
        .as_ref()
        .map(Url::as_str)
        .or_else(|| stories.iter().find_map(|s| episode(s)?.image));
    if let Some(image) = image {
        w.create_element("image").write_inner_content(|w| {
            text_element(w, "url", image)?;
            text_element(w, "title", &meta.title)?;
            text_element(w, "link", meta.base_url.as_str())
        })?;
    }
    text_element(w, "itunes:author", &channel.author)?;
    if let Some(image) = image {
        w.create_element("itunes:image")
            .with_attribute(("href", clean(image).as_ref()))
            .write_empty()?;
    }
    let top = w
        .create_element("itunes:category")
        .with_attribute(("text", channel.category.top));
    match channel.category.sub {
        Some(sub) => {
            top.write_inner_content(|w| {
                w.create_element("itunes:category")
                    .with_attribute(("text", sub))
                    .write_empty()?;
                Ok(())
            })?;
        }
        None => {
            top.write_empty()?;
        }
    }
    text_element(
        w,
        "itunes:explicit",
        if channel.explicit { "true" } else { "false" },
    )?;
    text_element(w, "podcast:guid", &podcast_guid(&self_url).to_string())?;
    for story in stories {
        write_item(w, story)?;
    }
    Ok(())
}

fn write_item(w: &mut XmlWriter, story: &Story) -> io::Result<()> {
    let lead = &story.lead().item;
    w.create_element("item").write_inner_content(|w| {
        text_element(w, "title", &lead.title)?;
        if let Some(href) = alternate_link(story) {
            text_element(w, "link", &href)?;
        }
        w.create_element("guid")
            .with_attribute(("isPermaLink", "false"))
            .write_text_content(text(&story.atom_id))?;
        text_element(w, "pubDate", &rfc822(story.published()))?;
        // Apps that read only `description` (castero) get the summary, else the post itself.
        let body = body(story);
        let description = summary(story).or(body);
        if let Some(description) = description {
            text_element(w, "description", description)?;
        }
        let content = content_html(story, body.or(description));
        if !content.is_empty() && Some(content.as_str()) != description {
            text_element(w, "content:encoded", &content)?;
        }
        for term in categories(story) {
            text_element(w, "category", term)?;
        }
        let episode = episode(story);
        if let Some(episode) = &episode {
            // RSS 2.0 requires all three attributes; a length nobody gave is written as 0,
            // which is what the RSS Best Practices Profile asks for.
            w.create_element("enclosure")
                .with_attribute(("url", clean(episode.url).as_ref()))
                .with_attribute((
                    "length",
                    episode.enclosure.length.unwrap_or(0).to_string().as_str(),
                ))
                .with_attribute((
                    "type",
                    clean(enclosure_type(
                        episode.enclosure.mime_type.as_deref(),
                        episode.url,
                    ))
                    .as_ref(),
                ))
                .write_empty()?;
            if let Some(seconds) = episode.duration {
                text_element(w, "itunes:duration", &seconds.to_string())?;
            }
            if let Some(podcast) = episode.podcast {
                write_podcast(w, podcast)?;
            }
        }
        let image = episode
            .and_then(|e| e.image)
            .or_else(|| non_blank(lead.image.as_deref()));
        if let Some(image) = image {
            w.create_element("itunes:image")
                .with_attribute(("href", clean(image).as_ref()))
                .write_empty()?;
        }
        Ok(())
    })?;
    Ok(())
}

/// The episode's Podcasting 2.0 tags as its feed gave them (see `normalize/podcast.rs` for
/// what is kept).
fn write_podcast(w: &mut XmlWriter, podcast: &Podcast) -> io::Result<()> {
    for transcript in &podcast.transcripts {
        let element = w
            .create_element("podcast:transcript")
            .with_attribute(("url", clean(&transcript.url).as_ref()))
            .with_attribute(("type", clean(&transcript.mime_type).as_ref()));
        let element = match &transcript.language {
            Some(language) => element.with_attribute(("language", clean(language).as_ref())),
            None => element,
        };
        let element = match &transcript.rel {
            Some(rel) => element.with_attribute(("rel", clean(rel).as_ref())),
            None => element,
        };
        element.write_empty()?;
    }
    if let Some(chapters) = &podcast.chapters {
        w.create_element("podcast:chapters")
            .with_attribute(("url", clean(&chapters.url).as_ref()))
            .with_attribute(("type", clean(&chapters.mime_type).as_ref()))
            .write_empty()?;
    }
    for person in &podcast.persons {
        let mut element = w.create_element("podcast:person");
        for (name, value) in [
            ("role", &person.role),
            ("group", &person.group),
            ("img", &person.img),
            ("href", &person.href),
        ] {
            if let Some(value) = value {
                element = element.with_attribute((name, clean(value).as_ref()));
            }
        }
        element.write_text_content(text(&person.name))?;
    }
    for soundbite in &podcast.soundbites {
        let element = w
            .create_element("podcast:soundbite")
            .with_attribute(("startTime", soundbite.start_time.as_str()))
            .with_attribute(("duration", soundbite.duration.as_str()));
        match &soundbite.text {
            Some(words) => element.write_text_content(text(words))?,
            None => element.write_empty()?,
        };
    }
    if let Some(season) = &podcast.season {
        let element = w.create_element("podcast:season");
        let element = match &season.name {
            Some(name) => element.with_attribute(("name", clean(name).as_ref())),
            None => element,
        };
        element.write_text_content(text(&season.number.to_string()))?;
    }
    if let Some(episode) = &podcast.episode {
        let element = w.create_element("podcast:episode");
        let element = match &episode.display {
            Some(display) => element.with_attribute(("display", clean(display).as_ref())),
            None => element,
        };
        element.write_text_content(text(&episode.number))?;
    }
    Ok(())
}

/// The item's HTML: the post's own, then the other pages about the work as a list of links,
/// so an app that shows only `content:encoded` still leads to the copies and the discussion.
fn content_html(story: &Story, html: Option<&str>) -> String {
    let mut out = html.unwrap_or_default().to_owned();
    let related = related_links(story);
    if related.is_empty() {
        return out;
    }
    out.push_str("\n<p>Also about this work:</p>\n<ul>\n");
    for link in related {
        out.push_str(&format!(
            "<li><a href=\"{}\">{}</a></li>\n",
            html_escape(&link.href),
            html_escape(&link.title)
        ));
    }
    out.push_str("</ul>");
    out
}

/// Text for an HTML attribute in double quotes or an element: `&apos;` is XML's, not HTML 4's,
/// so apostrophes stay as they are.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The enclosure's declared type when it is one, else the type its extension implies: a
/// podcast app (and newsboat) skips an enclosure whose type it cannot read.
fn enclosure_type<'a>(declared: Option<&'a str>, url: &str) -> &'a str {
    media_type(declared)
        .filter(|mime| !mime.eq_ignore_ascii_case(UNKNOWN_MIME))
        .or_else(|| type_by_extension(url))
        .unwrap_or(UNKNOWN_MIME)
}

/// RFC 822 dates, as RSS 2.0 asks (with a four-digit year, as RFC 1123 amended).
fn rfc822(at: DateTime<Utc>) -> String {
    at.to_rfc2822()
}

/// The podcast namespace's `podcast:guid` for a feed URL: a UUIDv5 of the URL with its scheme
/// and trailing slashes taken off.
fn podcast_guid(feed_url: &str) -> Uuid {
    let without_scheme = feed_url
        .split_once("://")
        .map_or(feed_url, |(_, rest)| rest);
    Uuid::new_v5(
        &PODCAST_GUID_NAMESPACE,
        without_scheme.trim_end_matches('/').as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podcast_guid_follows_the_namespace_examples() {
        // The two examples the podcast namespace's documentation gives.
        assert_eq!(
            podcast_guid("https://mp3s.nashownotes.com/pc20rss.xml").to_string(),
            "917393e3-1b1e-5cef-ace4-edaa54e1f810"
        );
        assert_eq!(
            podcast_guid("http://podnews.net/rss/").to_string(),
            "9b024349-ccf0-5f69-a609-6b82873eab3c"
        );
    }

    #[test]
    fn categories_are_apples_whatever_the_case() {
        let category: Category = "news > TECH news".parse().expect("a category");
        assert_eq!(category.to_string(), "News > Tech News");
        assert_eq!(
            "Society & Culture"
                .parse::<Category>()
                .map(|c| c.to_string()),
            Ok("Society & Culture".to_owned())
        );
        let error = "Tech".parse::<Category>().expect_err("not Apple's");
        let message = error.to_string();
        assert!(
            message.starts_with("`Tech` is not an Apple Podcasts category"),
            "{message}"
        );
        assert!(message.contains("`Technology`"), "{message}");
        let message = "Technology > Gadgets"
            .parse::<Category>()
            .expect_err("no such subcategory")
            .to_string();
        assert!(
            message.ends_with("`Technology` has no subcategories"),
            "{message}"
        );
        let message = "Arts > Poetry"
            .parse::<Category>()
            .expect_err("no such subcategory")
            .to_string();
        assert!(message.contains("`Books`"), "{message}");
    }

    #[test]
    fn languages_are_iso_639_codes() {
        for (given, written) in [
            ("en", "en"),
            ("en-US", "en-us"),
            ("fil", "fil"),
            ("zh-Hant-TW", "zh-hant-tw"),
        ] {
            assert_eq!(
                given.parse::<Language>().map(|l| l.to_string()),
                Ok(written.to_owned())
            );
        }
        for given in ["", "english", "e", "en_US", "en-", "en-toolongsubtag", "1n"] {
            assert!(given.parse::<Language>().is_err(), "{given:?}");
        }
    }

    #[test]
    fn enclosure_type_is_declared_else_guessed_from_the_extension() {
        let url = "https://cdn.example/ep/1.M4A?token=x";
        assert_eq!(enclosure_type(Some("audio/mpeg"), url), "audio/mpeg");
        assert_eq!(enclosure_type(Some("mp3"), url), "audio/mp4");
        assert_eq!(enclosure_type(None, url), "audio/mp4");
        assert_eq!(
            enclosure_type(Some("application/octet-stream"), "https://a.example/x.mp3"),
            "audio/mpeg"
        );
        assert_eq!(enclosure_type(None, "https://a.example/play"), UNKNOWN_MIME);
    }
}
