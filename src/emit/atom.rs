//! The merged Atom feed (RFC 4287), the contract in DESIGN.md: one entry per story, the lead's
//! link as `alternate`, the episode's audio as `enclosure`, every other copy as `related`
//! (titled with its site and its own title), the episode's running time as `itunes:duration`,
//! its Podcasting 2.0 transcripts and chapters file as `related` links with their types.
//! Links leave without their tracking parameters; the enclosure is written as its feed gave it,
//! since a podcast host may need its whole URL to serve the file.
//!
//! Design decision: the document is written event by event with quick-xml's `Writer`, never by
//! string formatting, so every piece of feed-supplied text goes through its escaper (after
//! [`clean`] has dropped what XML cannot carry at all) and no title can close an element.

use std::io;

use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::{
    FeedMeta, alternate_link, authors, body, categories, clean, episode, media_type, related_links,
    rfc3339, summary,
};
use crate::model::{Podcast, Story};

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
/// Apple's podcast namespace, for `itunes:duration`.
pub(super) const ITUNES_NS: &str = "http://www.itunes.com/dtds/podcast-1.0.dtd";
/// The generator's home page, when Cargo.toml declares a repository.
const GENERATOR_URI: &str = env!("CARGO_PKG_REPOSITORY");

pub(super) type XmlWriter = Writer<Vec<u8>>;

/// Renders the merged Atom feed. `stories` must already be newest first and limited to
/// `max_entries`; they are written in the order given.
pub fn atom(stories: &[Story], meta: &FeedMeta) -> Vec<u8> {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    write_feed(&mut writer, stories, meta)
        .expect("writing XML into a Vec<u8> cannot fail: it has no I/O");
    let mut bytes = writer.into_inner();
    bytes.push(b'\n');
    bytes
}

fn write_feed(w: &mut XmlWriter, stories: &[Story], meta: &FeedMeta) -> io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    w.create_element("feed")
        .with_attribute(("xmlns", ATOM_NS))
        .with_attribute(("xmlns:itunes", ITUNES_NS))
        .write_inner_content(|w| {
            text_element(w, "id", meta.base_url.as_str())?;
            w.create_element("title")
                .with_attribute(("type", "text"))
                .write_text_content(text(&meta.title))?;
            text_element(w, "updated", &rfc3339(meta.updated(stories)))?;
            link(w, "self", &meta.file_url("feed.atom"))
                .with_attribute(("type", "application/atom+xml"))
                .write_empty()?;
            link(w, "alternate", meta.base_url.as_str()).write_empty()?;
            // WebSub 4: the hub and the self link, which is the topic a subscriber names.
            if let Some(hub) = &meta.hub {
                link(w, "hub", hub.as_str()).write_empty()?;
            }
            let generator = w
                .create_element("generator")
                .with_attribute(("version", env!("CARGO_PKG_VERSION")));
            let generator = if GENERATOR_URI.is_empty() {
                generator
            } else {
                generator.with_attribute(("uri", GENERATOR_URI))
            };
            generator.write_text_content(BytesText::new("tributary"))?;
            for story in stories {
                write_entry(w, story)?;
            }
            Ok(())
        })?;
    Ok(())
}

fn write_entry(w: &mut XmlWriter, story: &Story) -> io::Result<()> {
    let lead = &story.lead().item;
    w.create_element("entry").write_inner_content(|w| {
        text_element(w, "id", &story.atom_id)?;
        w.create_element("title")
            .with_attribute(("type", "text"))
            .write_text_content(text(&lead.title))?;
        text_element(w, "published", &rfc3339(story.published()))?;
        text_element(w, "updated", &rfc3339(story.updated()))?;
        for name in authors(story) {
            w.create_element("author")
                .write_inner_content(|w| text_element(w, "name", name))?;
        }

        let alternate = alternate_link(story);
        if let Some(href) = &alternate {
            link(w, "alternate", href).write_empty()?;
        }
        let episode = episode(story);
        if let Some(episode) = &episode {
            let mut element = link(w, "enclosure", episode.url);
            if let Some(mime) = media_type(episode.enclosure.mime_type.as_deref()) {
                element = element.with_attribute(("type", clean(mime).as_ref()));
            }
            if let Some(length) = episode.enclosure.length {
                element = element.with_attribute(("length", length.to_string().as_str()));
            }
            element.write_empty()?;
        }
        for related in related_links(story) {
            link(w, "related", &related.href)
                .with_attribute(("title", clean(&related.title).as_ref()))
                .write_empty()?;
        }
        if let Some(podcast) = episode.as_ref().and_then(|e| e.podcast) {
            podcast_links(w, podcast)?;
        }
        // The link's `length` is the file's size in bytes (RFC 4287, 4.2.7.6), so the running
        // time needs an element of its own: the iTunes one, which feedparser reads in an Atom
        // entry as `itunes_duration`.
        if let Some(seconds) = episode.and_then(|e| e.duration) {
            text_element(w, "itunes:duration", &seconds.to_string())?;
        }

        for term in categories(story) {
            w.create_element("category")
                .with_attribute(("term", clean(term).as_ref()))
                .write_empty()?;
        }
        match (body(story), summary(story), alternate) {
            (Some(content), summary, _) => {
                if let Some(summary) = summary {
                    html_element(w, "summary", summary)?;
                }
                html_element(w, "content", content)?;
            }
            (None, Some(summary), Some(_)) => html_element(w, "summary", summary)?,
            // RFC 4287 4.1.1: an entry without an alternate link must carry content; the
            // summary moves there rather than being said twice.
            (None, summary, None) => html_element(w, "content", summary.unwrap_or_default())?,
            (None, None, Some(_)) => {}
        }
        Ok(())
    })?;
    Ok(())
}

/// The episode's transcripts and chapters as `related` links with their types (and a
/// transcript's language as `hreflang`), titled with what they are, so a reader of the Atom
/// feed finds them too. `related`, not `alternate`: Atom allows one alternate per type and
/// language, which two transcripts can share, and readers take an HTML alternate for the
/// entry's page (feedparser's `link`), which an HTML transcript would then replace.
fn podcast_links(w: &mut XmlWriter, podcast: &Podcast) -> io::Result<()> {
    for transcript in &podcast.transcripts {
        let title = match &transcript.rel {
            Some(rel) => format!("Transcript ({rel})"),
            None => "Transcript".to_owned(),
        };
        let element = link(w, "related", &transcript.url)
            .with_attribute(("type", clean(&transcript.mime_type).as_ref()))
            .with_attribute(("title", clean(&title).as_ref()));
        match &transcript.language {
            Some(language) => element.with_attribute(("hreflang", clean(language).as_ref())),
            None => element,
        }
        .write_empty()?;
    }
    if let Some(chapters) = &podcast.chapters {
        link(w, "related", &chapters.url)
            .with_attribute(("type", clean(&chapters.mime_type).as_ref()))
            .with_attribute(("title", "Chapters"))
            .write_empty()?;
    }
    Ok(())
}

/// Feed text as an escaped XML text node. Only `<`, `>` and `&` need escaping in text (`>`
/// so that `]]>` never appears); quotes stay readable.
pub(super) fn text(value: &str) -> BytesText<'static> {
    BytesText::from_escaped(partial_escape(clean(value))).into_owned()
}

pub(super) fn text_element(w: &mut XmlWriter, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name).write_text_content(text(value))?;
    Ok(())
}

/// Sanitised HTML carried as escaped text, which is what `type="html"` means: a reader
/// unescapes it once and renders the markup.
fn html_element(w: &mut XmlWriter, name: &str, html: &str) -> io::Result<()> {
    w.create_element(name)
        .with_attribute(("type", "html"))
        .write_text_content(text(html))?;
    Ok(())
}

/// A `<link>` with its rel and href, ready for more attributes.
fn link<'w>(
    w: &'w mut XmlWriter,
    rel: &str,
    href: &str,
) -> quick_xml::writer::ElementWriter<'w, Vec<u8>> {
    w.create_element("link")
        .with_attribute(("rel", rel))
        .with_attribute(("href", clean(href).as_ref()))
}
