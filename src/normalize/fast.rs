//! The fast path for the common feed shapes (RSS 0.91-2.0 and Atom 1.0): one streaming pass
//! over the document that yields what feed-rs and the side scan ([`super::scan`]) would, so
//! that [`convert_feed`](super::convert::convert_feed) runs unchanged on either.
//!
//! feed-rs builds an owned element (name, attribute list, text) for every XML event, and the
//! side scan then tokenizes the document a second time; most of a parse is that. This pass
//! borrows from the text instead and fills in only the model fields the conversion reads.
//!
//! The design decision: **it is a transcription of feed-rs 3.0's parser, not a second
//! interpretation of the formats.** It tokenizes with the quick-xml feed-rs uses, walks the
//! document as feed-rs's element source does (text coalescing, `xml:base` scoping, default
//! namespaces, which children are walked and which serialised, where it stops reading), and
//! follows feed-rs's handlers field by field: lenient dates, person parsing, Media RSS scopes,
//! the merging of media objects. Wherever it is not sure to give the same result (a DOCTYPE,
//! any XML error, RSS 1.0, a value feed-rs would reject or panic on), it declines and the
//! caller parses with feed-rs: a refusal costs speed, a difference would cost users. The
//! corpus test in `tests/it/normalize.rs` and the `fast_path` fuzz target hold it to that.

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use feed_rs::model::{
    Category, Content, Entry, Feed, FeedType, Image, Link, MediaContent, MediaCredit, MediaObject,
    MediaThumbnail, Person, Text,
};
use quick_xml_feed_rs::NsReader;
use quick_xml_feed_rs::escape::{minimal_escape, resolve_predefined_entity, unescape};
use quick_xml_feed_rs::events::{BytesEnd, BytesRef, BytesStart, Event};
use quick_xml_feed_rs::name::ResolveResult;
use regex::Regex;
use url::Url;

use super::MAX_DEPTH;
use super::scan::{self, CONTENT_ELEMENTS, ITEM_PARENTS, ITUNES_NS, ItemFacts, MEDIA_NS};

/// feed-rs sniffs the first buffer of its input (std's `BufReader`, 8 KiB) for the first `<`
/// or `{`, and reads the document as JSON, or not at all, unless that is a `<`.
const SNIFF_LEN: usize = 8 * 1024;

/// Why this pass gave up: the document is one it cannot be sure to read as feed-rs does.
struct Decline;

type Fast<T> = Result<T, Decline>;

/// The feed-rs model of `text` and the side scan's facts, or `None` when feed-rs must read it.
/// `feed_url` is the base feed-rs resolves against.
///
/// A document nested deeper than [`MAX_DEPTH`] is declined, so this needs no depth check
/// first: [`super::repair::max_depth`] counts only start tags quick-xml reads as such, and
/// never more of them at once than are open, so it cannot find such a depth in a document
/// this reads to the end.
pub(crate) fn parse(text: &str, feed_url: &Url) -> Option<(Feed, Vec<ItemFacts>)> {
    let sniffed = text
        .bytes()
        .take(SNIFF_LEN)
        .find(|byte| matches!(byte, b'<' | b'{'));
    // A byte-order mark or a NUL near the start makes feed-rs's decoding reader drop or
    // transcode bytes that this pass would read as they are.
    if sniffed != Some(b'<') || text.starts_with('\u{feff}') || text.bytes().take(4).any(|b| b == 0)
    {
        return None;
    }
    let mut source = Source::new(text, feed_url);
    let feed = read_feed(&mut source).ok()?;
    source.drain().ok()?;
    Some((feed, source.scan.items))
}

fn read_feed(source: &mut Source<'_>) -> Fast<Feed> {
    let root = source.next_element_at_depth(1)?.ok_or(Decline)?;
    match root.local() {
        "rss" => {
            let feed_type = match root.attr("version").as_deref() {
                Some("2.0" | "") => FeedType::RSS2,
                Some("0.91" | "0.92") => FeedType::RSS0,
                _ => return Err(Decline),
            };
            source.default_ns = Ns::Rss;
            rss(source, &root, feed_type)
        }
        "feed" => {
            source.default_ns = Ns::Atom;
            atom_feed(source, &root)
        }
        _ => Err(Decline),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the document as feed-rs's `ElementSource` does.

/// The namespaces feed-rs recognises (by exact URI), but for the Well-Formed Web's, whose
/// comment links convert does not read; every other one is `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Atom,
    Rss,
    Unknown,
    Content,
    Dc,
    Media,
    Itunes,
    Podcast,
}

impl Ns {
    fn parse(uri: &str) -> Ns {
        match uri {
            "http://purl.org/rss/1.0/" => Ns::Rss,
            "http://www.w3.org/2005/Atom" => Ns::Atom,
            "http://purl.org/rss/1.0/modules/content/" => Ns::Content,
            "http://purl.org/dc/elements/1.1/" => Ns::Dc,
            "http://search.yahoo.com/mrss/" => Ns::Media,
            ITUNES_NS => Ns::Itunes,
            "https://podcastindex.org/namespace/1.0" => Ns::Podcast,
            _ => Ns::Unknown,
        }
    }
}

/// An element feed-rs hands to a handler.
struct Elem<'a> {
    ns: Ns,
    start: BytesStart<'a>,
    depth: u32,
    /// The `xml:base` in scope, the element's own included.
    base: Rc<Url>,
}

impl Elem<'_> {
    fn local(&self) -> &str {
        self.start.local_name().into_inner()
    }

    fn attr(&self, name: &str) -> Option<Cow<'_, str>> {
        attr(&self.start, name)
    }

    fn attrs(&self) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
        attrs(&self.start)
    }
}

/// The attributes as feed-rs lists them: malformed ones dropped, values unescaped where they
/// can be (and raw where they cannot).
fn attrs<'s>(start: &'s BytesStart<'_>) -> impl Iterator<Item = (&'s str, Cow<'s, str>)> {
    start.attributes().filter_map(Result::ok).map(|attribute| {
        let unescaped = match unescape(&attribute.value) {
            Ok(Cow::Owned(value)) => Some(value),
            _ => None,
        };
        (
            attribute.key.0,
            unescaped.map_or(attribute.value, Cow::Owned),
        )
    })
}

/// The first attribute called `name`, as feed-rs's `attr_value` finds it.
fn attr<'s>(start: &'s BytesStart<'_>, name: &str) -> Option<Cow<'s, str>> {
    attrs(start)
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// An end tag, or the end feed-rs's reader makes up for an empty element.
enum Closing<'a> {
    Tag(BytesEnd<'a>),
    Empty(BytesStart<'a>),
}

impl Closing<'_> {
    fn local(&self) -> &str {
        match self {
            Closing::Tag(end) => end.local_name().into_inner(),
            Closing::Empty(start) => start.local_name().into_inner(),
        }
    }
}

/// feed-rs's `XmlEvent`: text, CDATA and references coalesced into one text.
enum Ev<'a> {
    /// The namespace the element is bound to, if the document binds it.
    Start(Option<Ns>, BytesStart<'a>),
    End(Closing<'a>),
    Text(Cow<'a, str>),
    Eof,
}

/// One quick-xml event, as far as feed-rs distinguishes them.
enum Raw<'a> {
    Start(Option<Ns>, BytesStart<'a>),
    End(Closing<'a>),
    Text(Cow<'a, str>),
    Ref(BytesRef<'a>),
    Ignored,
    Eof,
}

struct Source<'a> {
    text: &'a str,
    reader: NsReader<&'a [u8]>,
    /// The element last read as `<a/>`, whose end comes next.
    empty: Option<BytesStart<'a>>,
    /// The event that ended a run of text, returned after the text.
    pending: Option<Ev<'a>>,
    peeked: Option<Ev<'a>>,
    /// The depth of the element last walked to (feed-rs's `current_depth`).
    depth: u32,
    /// The `xml:base` stack: (depth of the element that set it, resolved URL).
    bases: Vec<(u32, Rc<Url>)>,
    default_ns: Ns,
    scan: Scan<'a>,
}

impl<'a> Source<'a> {
    fn new(text: &'a str, feed_url: &'a Url) -> Source<'a> {
        let mut reader = NsReader::from_str(text);
        let config = reader.config_mut();
        config.expand_empty_elements = false;
        config.trim_markup_names_in_closing_tags = true;
        config.trim_text(false);
        Source {
            text,
            reader,
            empty: None,
            pending: None,
            peeked: None,
            depth: 0,
            bases: vec![(0, Rc::new(feed_url.clone()))],
            default_ns: Ns::Unknown,
            scan: Scan::new(feed_url),
        }
    }

    /// The next event from quick-xml, with the side scan shown every one.
    fn raw(&mut self) -> Fast<Raw<'a>> {
        if let Some(start) = self.empty.take() {
            return Ok(Raw::End(Closing::Empty(start)));
        }
        let event = self.reader.read_event().map_err(|_| Decline)?;
        // Only start tags need their namespace.
        let (ns, itunes, media, podcast) = match &event {
            Event::Start(start) | Event::Empty(start) => {
                let (resolved, _) = self.reader.resolver().resolve_element(start.name());
                let ns = match &resolved {
                    ResolveResult::Bound(uri) => Some(Ns::parse(uri.0)),
                    ResolveResult::Unbound | ResolveResult::Unknown(_) => None,
                };
                let media = matches!(&resolved, ResolveResult::Bound(uri) if uri.0 == MEDIA_NS);
                let podcast = scan_is_podcast(&resolved, start);
                (ns, scan_is_itunes(&resolved, start), media, podcast)
            }
            _ => (None, false, false, false),
        };
        Ok(match event {
            Event::Start(start) => {
                check_name(&start)?;
                self.scan.start(
                    &start,
                    Tags {
                        itunes,
                        media,
                        podcast,
                    },
                );
                if self.scan.holds_items.len() > MAX_DEPTH {
                    return Err(Decline);
                }
                Raw::Start(ns, start)
            }
            Event::Empty(start) => {
                check_name(&start)?;
                self.scan.empty(
                    &start,
                    Tags {
                        itunes,
                        media,
                        podcast,
                    },
                );
                self.empty = Some(start.clone());
                Raw::Start(ns, start)
            }
            Event::End(end) => {
                self.scan.end();
                Raw::End(Closing::Tag(end))
            }
            Event::Text(text) => {
                let text = text.into_inner();
                self.scan.text(&text);
                Raw::Text(text)
            }
            Event::CData(text) => {
                let text = text.into_inner();
                self.scan.text(&text);
                Raw::Text(text)
            }
            Event::GeneralRef(reference) => {
                self.scan.reference(&reference)?;
                Raw::Ref(reference)
            }
            // feed-rs switches its decoder to a declared encoding (and panics if that comes
            // late); the text is UTF-8 and says so, or this pass does not read it.
            Event::Decl(decl) => match decl.encoder() {
                None => Raw::Ignored,
                Some(encoding) if encoding == encoding_rs::UTF_8 => Raw::Ignored,
                Some(_) => return Err(Decline),
            },
            Event::DocType(_) => return Err(Decline),
            Event::Comment(_) | Event::PI(_) => Raw::Ignored,
            Event::Eof => Raw::Eof,
        })
    }

    /// feed-rs's `fetch_next`: text, CDATA and references up to the next tag become one text.
    fn fetch(&mut self) -> Fast<Ev<'a>> {
        if let Some(event) = self.pending.take() {
            return Ok(event);
        }
        let mut text: Option<Cow<'a, str>> = None;
        loop {
            let event = match self.raw()? {
                Raw::Start(ns, start) => Ev::Start(ns, start),
                Raw::End(closing) => Ev::End(closing),
                Raw::Eof => Ev::Eof,
                Raw::Text(piece) => {
                    if !piece.is_empty() {
                        match &mut text {
                            Some(text) => self.owned(text, piece.len()).push_str(&piece),
                            None => text = Some(piece),
                        }
                    }
                    continue;
                }
                Raw::Ref(reference) => {
                    let text = text.get_or_insert(Cow::Borrowed(""));
                    push_reference(self.owned(text, 0), &reference)?;
                    continue;
                }
                Raw::Ignored => continue,
            };
            return Ok(match text {
                Some(text) => {
                    self.pending = Some(event);
                    Ev::Text(text)
                }
                None => event,
            });
        }
    }

    /// The text being coalesced, as a `String` with room for the rest of it up to the next tag
    /// (escaped HTML is hundreds of references); `read` is what was read since `text`.
    fn owned<'t>(&self, text: &'t mut Cow<'a, str>, read: usize) -> &'t mut String {
        if let Cow::Borrowed(borrowed) = *text {
            let position = usize::try_from(self.reader.buffer_position()).unwrap_or(usize::MAX);
            let rest = self
                .text
                .get(position..)
                .map_or(0, |rest| rest.find('<').unwrap_or(rest.len()));
            let mut owned = String::with_capacity(borrowed.len() + read + rest);
            owned.push_str(borrowed);
            *text = Cow::Owned(owned);
        }
        text.to_mut()
    }

    fn peek(&mut self) -> Fast<&Ev<'a>> {
        if self.peeked.is_none() {
            self.peeked = Some(self.fetch()?);
        }
        self.peeked.as_ref().ok_or(Decline)
    }

    fn next(&mut self) -> Fast<Ev<'a>> {
        match self.peeked.take() {
            Some(event) => Ok(event),
            None => self.fetch(),
        }
    }

    /// feed-rs's `next_element_at_depth`: the next element at depth `at`, walking past
    /// everything deeper (and keeping the `xml:base` stack), or `None` when its parent ends.
    fn next_element_at_depth(&mut self, at: u32) -> Fast<Option<Elem<'a>>> {
        loop {
            match self.next()? {
                Ev::Start(ns, start) => {
                    self.depth += 1;
                    self.push_base(&start)?;
                    if self.depth == at {
                        let base = self.bases.last().map(|(_, url)| Rc::clone(url));
                        return Ok(Some(Elem {
                            ns: ns.unwrap_or(self.default_ns),
                            start,
                            depth: self.depth,
                            base: base.ok_or(Decline)?,
                        }));
                    }
                }
                Ev::End(_) => {
                    self.depth = self.depth.checked_sub(1).ok_or(Decline)?;
                    while self.bases.last().is_some_and(|(at, _)| *at > self.depth) {
                        self.bases.pop();
                    }
                }
                Ev::Text(_) => {}
                // feed-rs reports a document that ends inside an element.
                Ev::Eof if self.depth > 0 => return Err(Decline),
                Ev::Eof => return Ok(None),
            }
            if self.depth + 1 < at {
                return Ok(None);
            }
        }
    }

    /// feed-rs's `xml_base_push`: a base the URL parser refuses (not merely a relative one)
    /// fails feed-rs's whole parse.
    fn push_base(&mut self, start: &BytesStart<'_>) -> Fast<()> {
        if !start.attributes_raw().contains("xml:base") {
            return Ok(());
        }
        let Some(value) = attr(start, "xml:base") else {
            return Ok(());
        };
        let url = match Url::parse(&value) {
            Ok(url) => url,
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                match self.bases.last().map(|(_, base)| base.join(&value)) {
                    Some(Ok(url)) => url,
                    _ => return Ok(()),
                }
            }
            Err(_) => return Err(Decline),
        };
        self.bases.push((self.depth, Rc::new(url)));
        Ok(())
    }

    /// feed-rs's `child_as_text`: the text right after the start tag, if any.
    fn text_node(&mut self) -> Fast<Option<Cow<'a, str>>> {
        if !matches!(self.peek()?, Ev::Text(_)) {
            return Ok(None);
        }
        match self.next()? {
            Ev::Text(text) => Ok(Some(text)),
            _ => Err(Decline),
        }
    }

    /// feed-rs's `child_as_text_sloppy`: the text, or else the children serialised.
    fn text_sloppy(&mut self, element: &Elem<'_>) -> Fast<Cow<'a, str>> {
        match self.text_node()? {
            Some(text) => Ok(text),
            None => self.children_as_string(element.depth + 1).map(Cow::Owned),
        }
    }

    /// feed-rs's `children_as_string`: the element's content re-serialised (local names,
    /// attribute values unescaped, text minimally escaped), up to its end tag.
    fn children_as_string(&mut self, depth: u32) -> Fast<String> {
        let mut buffer = String::new();
        let mut current = depth;
        loop {
            match self.peek()? {
                Ev::Start(_, start) => {
                    current += 1;
                    append_start(&mut buffer, start);
                }
                Ev::Text(text) => buffer.push_str(&minimal_escape(&**text)),
                Ev::End(closing) => {
                    current = current.checked_sub(1).ok_or(Decline)?;
                    if current < depth {
                        break;
                    }
                    append_end(&mut buffer, closing.local());
                }
                Ev::Eof => break,
            }
            self.next()?;
        }
        Ok(buffer)
    }

    /// feed-rs's `children_as_xhtml`: as [`Self::children_as_string`], without the one `div`
    /// that wraps valid XHTML content.
    fn children_as_xhtml(&mut self, depth: u32) -> Fast<String> {
        let mut buffer = String::new();
        let mut current = depth;
        let mut first_element = true;
        let mut div_open = None;
        let mut div_close = None;
        loop {
            match self.peek()? {
                Ev::Start(_, start) => {
                    if current == depth {
                        if first_element {
                            if start.local_name().into_inner() != "div" {
                                first_element = false;
                            }
                        } else {
                            div_open = None;
                            div_close = None;
                        }
                    }
                    current += 1;
                    append_start(&mut buffer, start);
                    if first_element {
                        first_element = false;
                        div_open = Some(buffer.len());
                    }
                }
                Ev::Text(text) => {
                    if current == depth && text.bytes().any(|c| !c.is_ascii_whitespace()) {
                        first_element = false;
                        div_open = None;
                        div_close = None;
                    }
                    buffer.push_str(&minimal_escape(&**text));
                }
                Ev::End(closing) => {
                    current = current.checked_sub(1).ok_or(Decline)?;
                    if current < depth {
                        break;
                    }
                    let close_start = buffer.len();
                    append_end(&mut buffer, closing.local());
                    if current == depth && div_open.is_some() {
                        div_close = Some(close_start);
                    }
                }
                Ev::Eof => break,
            }
            self.next()?;
        }
        if let Some((open, close)) = div_open.zip(div_close) {
            buffer.truncate(close);
            buffer.drain(..open);
        }
        Ok(buffer)
    }

    /// Reads the rest of the document, which feed-rs never looks at, for the side scan (which
    /// reads to the end) and to be sure it is well-formed.
    fn drain(&mut self) -> Fast<()> {
        // Events already taken from the reader (peeked, pending) have been shown to the scan.
        loop {
            if let Raw::Eof = self.raw()? {
                return Ok(());
            }
        }
    }
}

/// Names feed-rs and quick-xml split differently (feed-rs keeps what follows the last colon,
/// quick-xml what follows the first) are not read here.
fn check_name(start: &BytesStart<'_>) -> Fast<()> {
    let name = start.name().0;
    let colons = name.bytes().filter(|b| *b == b':').count();
    if colons > 1 || name.starts_with(':') || name.ends_with(':') {
        return Err(Decline);
    }
    Ok(())
}

/// A reference as feed-rs's reader resolves it: character references and the XML entities,
/// and any other entity left as written.
fn push_reference(buffer: &mut String, reference: &BytesRef<'_>) -> Fast<()> {
    match reference.resolve_char_ref() {
        Err(_) => return Err(Decline),
        Ok(Some(ch)) => buffer.push(ch),
        Ok(None) => match resolve_predefined_entity(reference) {
            Some(resolved) => buffer.push_str(resolved),
            None => {
                buffer.push('&');
                buffer.push_str(reference);
                buffer.push(';');
            }
        },
    }
    Ok(())
}

fn append_start(buffer: &mut String, start: &BytesStart<'_>) {
    buffer.push('<');
    buffer.push_str(start.local_name().into_inner());
    for (key, value) in attrs(start) {
        buffer.push(' ');
        buffer.push_str(key);
        buffer.push_str("=\"");
        buffer.push_str(&value);
        buffer.push('"');
    }
    buffer.push('>');
}

fn append_end(buffer: &mut String, local: &str) {
    buffer.push_str("</");
    buffer.push_str(local);
    buffer.push('>');
}

// ---------------------------------------------------------------------------------------------
// The side scan, shown every event as it is read (see `scan::scan_items` for what and why).

/// Whether the scan takes an element to be in the iTunes namespace (it is lenient about the
/// URI, unlike feed-rs).
fn scan_is_itunes(resolved: &ResolveResult<'_>, start: &BytesStart<'_>) -> bool {
    match resolved {
        ResolveResult::Bound(uri) => uri.0.trim().eq_ignore_ascii_case(ITUNES_NS),
        ResolveResult::Unknown(prefix) => prefix == "itunes",
        ResolveResult::Unbound => start
            .name()
            .prefix()
            .is_some_and(|prefix| prefix.into_inner() == "itunes"),
    }
}

/// The side scan's view of an element's namespace: the iTunes one (leniently), Media RSS,
/// the podcast one (leniently, as [`scan::is_podcast_uri`]).
#[derive(Clone, Copy)]
struct Tags {
    itunes: bool,
    media: bool,
    podcast: bool,
}

/// [`scan_is_itunes`] for the podcast namespace.
fn scan_is_podcast(resolved: &ResolveResult<'_>, start: &BytesStart<'_>) -> bool {
    match resolved {
        ResolveResult::Bound(uri) => scan::is_podcast_uri(uri.0.as_bytes()),
        ResolveResult::Unknown(prefix) => prefix == "podcast",
        ResolveResult::Unbound => start
            .name()
            .prefix()
            .is_some_and(|prefix| prefix.into_inner() == "podcast"),
    }
}

struct Scan<'a> {
    feed_url: &'a Url,
    /// Per open element: whether an `item` or `entry` in it is a feed item.
    holds_items: Vec<bool>,
    bases: Vec<(usize, Url)>,
    current: Option<(usize, ItemFacts)>,
    duration: Option<(usize, String)>,
    media_title: Option<(usize, String)>,
    /// The text of the podcast tag last pushed.
    podcast_text: Option<(usize, String)>,
    items: Vec<ItemFacts>,
}

impl<'a> Scan<'a> {
    fn new(feed_url: &'a Url) -> Scan<'a> {
        Scan {
            feed_url,
            holds_items: Vec::new(),
            bases: Vec::new(),
            current: None,
            duration: None,
            media_title: None,
            podcast_text: None,
            items: Vec::new(),
        }
    }

    fn is_item(&self, local: &str) -> bool {
        match self.holds_items.last() {
            Some(holds) => *holds && (local == "item" || local == "entry"),
            None => local == "entry",
        }
    }

    fn start(&mut self, start: &BytesStart<'_>, tags: Tags) {
        let Tags {
            itunes,
            media,
            podcast,
        } = tags;
        let local = start.local_name().into_inner();
        let depth = self.holds_items.len() + 1;
        if start.attributes_raw().contains("xml:base")
            && let Some(base) = scan_attr(start, "xml:base")
        {
            let parent = self.bases.last().map_or(self.feed_url, |(_, url)| url);
            if let Ok(resolved) = parent.join(&base) {
                self.bases.push((depth, resolved));
            }
        }
        if self.current.is_none() && self.is_item(local) {
            self.current = Some((depth, ItemFacts::default()));
        } else if let Some((item_depth, facts)) = self.current.as_mut()
            && depth == *item_depth + 1
        {
            if itunes && local == "duration" {
                self.duration = Some((depth, String::new()));
            } else if media && local == "title" && facts.media_title.is_none() {
                self.media_title = Some((depth, String::new()));
            } else if itunes && local == "image" {
                note_image(start, facts);
            } else if podcast && scan::PODCAST_TAGS.contains(&local) {
                facts.podcast.push(scan::podcast_tag(&for_scan(start)));
                self.podcast_text = Some((depth, String::new()));
            } else if CONTENT_ELEMENTS.contains(&local)
                && facts.content_base.is_none()
                && let Some((_, base)) = self.bases.last()
            {
                facts.content_base = Some(base.clone());
            }
        }
        self.holds_items.push(ITEM_PARENTS.contains(&local));
    }

    fn empty(&mut self, start: &BytesStart<'_>, tags: Tags) {
        let local = start.local_name().into_inner();
        let depth = self.holds_items.len() + 1;
        if self.current.is_none() && self.is_item(local) {
            self.items.push(ItemFacts::default());
        } else if let Some((item_depth, facts)) = self.current.as_mut()
            && depth == *item_depth + 1
        {
            if tags.itunes && local == "image" {
                note_image(start, facts);
            } else if tags.podcast && scan::PODCAST_TAGS.contains(&local) {
                facts.podcast.push(scan::podcast_tag(&for_scan(start)));
            }
        }
    }

    fn end(&mut self) {
        let depth = self.holds_items.len();
        if let Some((_, text)) = self.duration.take_if(|(at, _)| *at == depth)
            && let Some((_, facts)) = self.current.as_mut()
        {
            let text = text.trim();
            if !text.is_empty() {
                facts.itunes_duration = Some(text.to_string());
            }
        }
        if let Some((_, text)) = self.media_title.take_if(|(at, _)| *at == depth)
            && let Some((_, facts)) = self.current.as_mut()
        {
            scan::note_media_title(&text, facts);
        }
        if let Some((_, text)) = self.podcast_text.take_if(|(at, _)| *at == depth)
            && let Some((_, facts)) = self.current.as_mut()
        {
            scan::note_podcast_text(&text, facts);
        }
        if self.current.as_ref().is_some_and(|(at, _)| *at == depth)
            && let Some((_, facts)) = self.current.take()
        {
            self.items.push(facts);
        }
        while self.bases.last().is_some_and(|(at, _)| *at >= depth) {
            self.bases.pop();
        }
        self.holds_items.pop();
    }

    fn text(&mut self, text: &str) {
        for (_, collected) in [
            self.duration.as_mut(),
            self.media_title.as_mut(),
            self.podcast_text.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            collected.push_str(text);
        }
    }

    /// A reference inside a `media:title` or a podcast tag is part of its text (as the side
    /// scan reads it).
    fn reference(&mut self, reference: &BytesRef<'_>) -> Fast<()> {
        if let Some((_, title)) = self.media_title.as_mut().or(self.podcast_text.as_mut()) {
            push_reference(title, reference)?;
        }
        Ok(())
    }
}

/// The same element for the project's own quick-xml, which the side scan reads attributes
/// with (so both passes agree on escapes and trimming).
fn for_scan<'a>(start: &'a BytesStart<'_>) -> quick_xml::events::BytesStart<'a> {
    quick_xml::events::BytesStart::from_content(&**start, start.name().0.len())
}

fn scan_attr(start: &BytesStart<'_>, name: &str) -> Option<String> {
    scan::attribute(&for_scan(start), name)
}

fn note_image(start: &BytesStart<'_>, facts: &mut ItemFacts) {
    scan::note_image(&for_scan(start), facts);
}

// ---------------------------------------------------------------------------------------------
// feed-rs's handlers: `parser/rss2`, `parser/atom`, `parser/itunes`, `parser/mediarss`,
// `parser/podcast`, keeping the fields `convert` reads.

fn new_feed(feed_type: FeedType) -> Feed {
    Feed {
        feed_type,
        id: String::new(),
        title: None,
        updated: None,
        authors: Vec::new(),
        description: None,
        links: Vec::new(),
        categories: Vec::new(),
        contributors: Vec::new(),
        generator: None,
        icon: None,
        language: None,
        logo: None,
        published: None,
        rating: None,
        rights: None,
        ttl: None,
        people: Vec::new(),
        entries: Vec::new(),
    }
}

fn rss(source: &mut Source<'_>, root: &Elem<'_>, feed_type: FeedType) -> Fast<Feed> {
    // The first child called `channel`, in whatever namespace.
    let channel = loop {
        match source.next_element_at_depth(root.depth + 1)? {
            Some(element) if element.local() == "channel" => break element,
            Some(_) => {}
            None => return Err(Decline),
        }
    };
    let mut feed = new_feed(feed_type);
    while let Some(child) = source.next_element_at_depth(channel.depth + 1)? {
        match (child.ns, child.local()) {
            (Ns::Rss, "title") => feed.title = source.text_node()?.map(|t| text(&PLAIN, &t)),
            (Ns::Rss, "link") => {
                if let Some(href) = source.text_node()? {
                    feed.links.push(link(&href, &child.base));
                }
            }
            (Ns::Atom, "link") => feed.links.extend(atom_link(&child)),
            // Read for the panics feed-rs's person parser has (the values are not used).
            (Ns::Rss, "managingEditor" | "webMaster") | (Ns::Itunes, "author") => {
                if let Some(raw) = source.text_node()? {
                    person(&raw)?;
                }
            }
            (Ns::Rss, "ttl") => {
                if let Some(ttl) = source.text_node()?
                    && let Ok(ttl) = ttl.parse::<u32>()
                {
                    feed.ttl = Some(ttl);
                }
            }
            (Ns::Rss, "item") => {
                let entry = rss_item(source, &child)?;
                feed.entries.push(entry);
            }
            (Ns::Itunes, "owner") => itunes_owner(source, &child)?,
            (Ns::Podcast, "person") => podcast_person(&child)?,
            _ => {}
        }
    }
    Ok(feed)
}

/// `itunes:owner`, read only for its name's panic.
fn itunes_owner(source: &mut Source<'_>, owner: &Elem<'_>) -> Fast<()> {
    let (mut email, mut name) = (None, None);
    while let Some(child) = source.next_element_at_depth(owner.depth + 1)? {
        match (child.ns, child.local()) {
            (Ns::Itunes, "email") => email = source.text_node()?,
            (Ns::Itunes, "name") => name = source.text_node()?,
            _ => {}
        }
    }
    if let (Some(_), Some(name)) = (email, name) {
        person(&name)?;
    }
    Ok(())
}

/// feed-rs refuses the whole feed over a `podcast:person` role or group it does not know.
fn podcast_person(element: &Elem<'_>) -> Fast<()> {
    match element.attr("role") {
        Some(_) => Err(Decline),
        None => Ok(()),
    }
}

/// Where a media object came from, which decides how feed-rs merges them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Rss,
    MediaRss,
    Itunes,
    Podcast,
}

fn rss_item(source: &mut Source<'_>, item: &Elem<'_>) -> Fast<Entry> {
    let mut entry = Entry::default();
    let mut media = Scope::default();
    let mut itunes = MediaObject::default();
    let mut itunes_numbered = false;
    let mut transcripts = false;
    let mut enclosures = MediaObject::default();
    while let Some(child) = source.next_element_at_depth(item.depth + 1)? {
        match (child.ns, child.local()) {
            (Ns::Rss, "title") => entry.title = source.text_node()?.map(|t| text(&PLAIN, &t)),
            (Ns::Rss, "link") => {
                if let Some(href) = source.text_node()? {
                    entry.links.push(link(&href, &child.base));
                }
            }
            (Ns::Rss, "description") => {
                entry.summary = source.text_node()?.map(|t| text(&HTML, &t));
            }
            (Ns::Rss, "author") | (Ns::Dc, "creator") => {
                if let Some(raw) = source.text_node()? {
                    entry.authors.push(person(&raw)?);
                }
            }
            (Ns::Rss, "category") => {
                if let Some(term) = source.text_node()? {
                    entry.categories.push(category(&term, None));
                }
            }
            (Ns::Rss, "guid") => {
                if let Some(guid) = source.text_node()? {
                    entry.id = guid.trim().to_string();
                }
            }
            (Ns::Rss, "enclosure") => enclosure(&child, &mut enclosures),
            (Ns::Rss, "pubDate") | (Ns::Dc, "date") => {
                entry.published = source.text_node()?.and_then(|t| timestamp(&t));
            }
            (Ns::Rss | Ns::Atom, "updated") => {
                entry.updated = source.text_node()?.and_then(|t| timestamp(&t));
            }
            (Ns::Content, "encoded") => {
                entry.content = source
                    .text_node()?
                    .filter(|body| !body.is_empty())
                    .map(|body| Content {
                        body: Some(body.into_owned()),
                        content_type: HTML.content_type.clone(),
                        length: None,
                        src: None,
                    });
            }
            (Ns::Itunes, _) => itunes_item(source, &child, &mut itunes, &mut itunes_numbered)?,
            (Ns::Media, _) => media_element(source, &child, &mut media)?,
            (Ns::Podcast, "person") => podcast_person(&child)?,
            (Ns::Podcast, "transcript") => transcripts |= transcript(&child),
            _ => {}
        }
    }

    let mut objects = Vec::new();
    emit_media(media, &mut objects);
    if itunes.title.is_some() || itunes.description.is_some() {
        objects.push((Origin::Itunes, itunes));
    }
    // A podcast object is kept for its transcripts, which convert does not read.
    if transcripts {
        objects.push((Origin::Podcast, MediaObject::default()));
    }
    if !enclosures.content.is_empty() {
        objects.push((Origin::Rss, enclosures));
    }
    merge_media(&mut objects, itunes_numbered);
    entry.media = objects.into_iter().map(|(_, object)| object).collect();
    if entry.updated.is_none() && entry.published.is_some() {
        entry.updated = entry.published;
    }
    Ok(entry)
}

fn enclosure(element: &Elem<'_>, object: &mut MediaObject) {
    let mut content = media_content();
    for (key, value) in element.attrs() {
        match key {
            "url" => content.url = parse_uri(&value, Some(&*element.base)),
            "length" => content.size = value.parse::<u64>().ok(),
            "type" => {
                if let Ok(mime) = value.parse() {
                    content.content_type = Some(mime);
                }
            }
            _ => {}
        }
    }
    if content.url.is_some() {
        object.content.push(content);
    }
}

/// Whether feed-rs makes a transcript of a `podcast:transcript`.
fn transcript(element: &Elem<'_>) -> bool {
    let url = element
        .attr("url")
        .is_some_and(|url| parse_uri(&url, None).is_some());
    let mime = element.attr("type").is_some_and(|mime| {
        let mut probe = media_content();
        probe.content_type = mime.parse().ok();
        probe.content_type.is_some()
    });
    url && mime
}

fn itunes_item(
    source: &mut Source<'_>,
    element: &Elem<'_>,
    object: &mut MediaObject,
    numbered: &mut bool,
) -> Fast<()> {
    match element.local() {
        "title" => object.title = Some(atom_text(source, element)?),
        "image" => {
            if let Some(href) = element.attr("href") {
                object.thumbnails.push(thumbnail(href.into_owned()));
            }
        }
        "duration" => {
            if let Some(text) = source.text_node()?
                && let Some(duration) = npt(&text)?
            {
                object.duration = Some(duration);
            }
        }
        "author" => {
            if let Some(name) = source.text_node()? {
                object.credits.push(MediaCredit {
                    entity: name.into_owned(),
                });
            }
        }
        "summary" => object.description = Some(atom_text(source, element)?),
        "episode" => {
            if let Some(number) = source.text_node()? {
                *numbered |= number.parse::<f32>().is_ok();
            }
        }
        "season" => {
            if let Some(number) = source.text_node()? {
                *numbered |= number.parse::<u32>().is_ok();
            }
        }
        _ => {}
    }
    Ok(())
}

/// feed-rs's `postprocess_media`: RSS enclosures and un-numbered iTunes data fold into the
/// first Media RSS object, or everything into the podcast object, by its exact steps (the
/// order of the result is what convert's "first thumbnail" and the like see).
fn merge_media(objects: &mut Vec<(Origin, MediaObject)>, itunes_numbered: bool) {
    if let Some(at) = objects.iter().position(|(o, _)| *o == Origin::MediaRss) {
        let mut target = objects.swap_remove(at);
        for index in (0..objects.len()).rev() {
            let origin = objects[index].0;
            if origin == Origin::Rss || (origin == Origin::Itunes && !itunes_numbered) {
                let (_, object) = objects.swap_remove(index);
                merge_object(object, &mut target.1);
            }
        }
        objects.push(target);
    } else if let Some(at) = objects.iter().position(|(o, _)| *o == Origin::Podcast) {
        let mut target = objects.swap_remove(at);
        for index in (0..objects.len()).rev() {
            let (_, object) = objects.swap_remove(index);
            merge_object(object, &mut target.1);
        }
        objects.push(target);
    }
}

fn merge_object(source: MediaObject, target: &mut MediaObject) {
    if target.title.is_none() {
        target.title = source.title;
    }
    if target.content.is_empty() {
        target.content = source.content;
    }
    if target.duration.is_none() {
        target.duration = source.duration;
    }
    if target.thumbnails.is_empty() {
        target.thumbnails = source.thumbnails;
    }
    if target.description.is_none() {
        target.description = source.description;
    }
    if target.credits.is_empty() {
        target.credits = source.credits;
    }
}

/// A Media RSS scope: the entry, or a `media:group` in it.
#[derive(Default)]
struct Scope {
    title: Option<Text>,
    description: Option<Text>,
    credits: Vec<MediaCredit>,
    thumbnails: Vec<MediaThumbnail>,
    pending: Vec<MediaContent>,
    children: Vec<Scope>,
}

/// feed-rs's `inner_handle_mediarss_element`.
fn media_element(source: &mut Source<'_>, element: &Elem<'_>, scope: &mut Scope) -> Fast<()> {
    if element.ns != Ns::Media {
        return Ok(());
    }
    match element.local() {
        "group" => {
            let mut nested = Scope::default();
            while let Some(child) = source.next_element_at_depth(element.depth + 1)? {
                media_element(source, &child, &mut nested)?;
            }
            scope.children.push(nested);
        }
        "title" => scope.title = Some(media_text(source, element)?),
        "content" => media_content_element(source, element, scope)?,
        "thumbnail" => {
            check_npt_attrs(element, &["time"])?;
            if let Some(url) = element.attr("url") {
                scope.thumbnails.push(thumbnail(url.into_owned()));
            }
        }
        "description" => scope.description = Some(media_text(source, element)?),
        "credit" => {
            if let Some(entity) = source.text_node()? {
                scope.credits.push(MediaCredit {
                    entity: entity.into_owned(),
                });
            }
        }
        "text" => check_npt_attrs(element, &["start", "end"])?,
        _ => {}
    }
    Ok(())
}

fn media_content_element(
    source: &mut Source<'_>,
    element: &Elem<'_>,
    scope: &mut Scope,
) -> Fast<()> {
    let mut content = media_content();
    for (key, value) in element.attrs() {
        match key {
            "url" => content.url = parse_uri(&value, Some(&*element.base)),
            "type" => {
                if let Ok(mime) = value.parse() {
                    content.content_type = Some(mime);
                }
            }
            "fileSize" => {
                if let Ok(size) = value.parse::<u64>() {
                    content.size = Some(size);
                }
            }
            "duration" => {
                if let Ok(seconds) = value.parse::<u64>() {
                    content.duration = Some(Duration::from_secs(seconds));
                }
            }
            _ => {}
        }
    }
    while let Some(child) = source.next_element_at_depth(element.depth + 1)? {
        if child.ns != Ns::Media {
            continue;
        }
        match child.local() {
            "player" => {
                if let Some(url) = child.attr("url")
                    && let Some(url) = parse_uri(&url, Some(&*element.base))
                {
                    content.url = Some(url);
                }
            }
            "rating" => {}
            "title" if scope.title.is_none() => scope.title = Some(media_text(source, &child)?),
            "description" if scope.description.is_none() => {
                scope.description = Some(media_text(source, &child)?);
            }
            "text" => check_npt_attrs(&child, &["start", "end"])?,
            "credit" => {
                if let Some(entity) = source.text_node()? {
                    scope.credits.push(MediaCredit {
                        entity: entity.into_owned(),
                    });
                }
            }
            _ => media_element(source, &child, scope)?,
        }
    }
    if content.url.is_some() {
        scope.pending.push(content);
    }
    Ok(())
}

/// feed-rs's `emit_media_objects`: an object per scope with content, children inheriting
/// what they lack from their parent.
fn emit_media(mut scope: Scope, out: &mut Vec<(Origin, MediaObject)>) {
    if !scope.pending.is_empty() {
        let mut object = MediaObject::default();
        object.title.clone_from(&scope.title);
        object.description.clone_from(&scope.description);
        object.thumbnails.clone_from(&scope.thumbnails);
        object.credits.clone_from(&scope.credits);
        object.content = std::mem::take(&mut scope.pending);
        out.push((Origin::MediaRss, object));
    }
    for mut child in std::mem::take(&mut scope.children) {
        if child.title.is_none() {
            child.title.clone_from(&scope.title);
        }
        if child.description.is_none() {
            child.description.clone_from(&scope.description);
        }
        if child.credits.is_empty() {
            child.credits.clone_from(&scope.credits);
        }
        if child.thumbnails.is_empty() {
            child.thumbnails.clone_from(&scope.thumbnails);
        }
        emit_media(child, out);
    }
}

/// Media RSS's text construct: `type` plain (the default) or html, and text required.
fn media_text(source: &mut Source<'_>, element: &Elem<'_>) -> Fast<Text> {
    let kind = match element.attr("type").as_deref().unwrap_or("plain") {
        "plain" => &*PLAIN,
        "html" => &*HTML,
        _ => return Err(Decline),
    };
    let body = source.text_node()?.ok_or(Decline)?;
    Ok(text(kind, &body))
}

fn atom_feed(source: &mut Source<'_>, root: &Elem<'_>) -> Fast<Feed> {
    let mut feed = new_feed(FeedType::Atom);
    while let Some(child) = source.next_element_at_depth(root.depth + 1)? {
        match (child.ns, child.local()) {
            (Ns::Atom, "title") => feed.title = Some(atom_text(source, &child)?),
            (Ns::Atom, "link") => feed.links.extend(atom_link(&child)),
            (Ns::Atom, "rights" | "subtitle") => {
                atom_text(source, &child)?;
            }
            (Ns::Atom, "entry") => {
                let entry = atom_entry(source, &child)?;
                feed.entries.push(entry);
            }
            _ => {}
        }
    }
    Ok(feed)
}

fn atom_entry(source: &mut Source<'_>, element: &Elem<'_>) -> Fast<Entry> {
    let mut entry = Entry::default();
    let mut media = Scope::default();
    while let Some(child) = source.next_element_at_depth(element.depth + 1)? {
        match (child.ns, child.local()) {
            (Ns::Atom, "id") => {
                if let Some(id) = source.text_node()? {
                    entry.id = id.into_owned();
                }
            }
            (Ns::Atom, "title") => entry.title = Some(atom_text(source, &child)?),
            (Ns::Atom, "updated") => {
                if let Some(date) = source.text_node()? {
                    entry.updated = timestamp(&date);
                }
            }
            (Ns::Atom, "author") => entry.authors.extend(atom_person(source, &child)?),
            (Ns::Atom, "content") => {
                entry.base = child.attr("xml:base").map(Cow::into_owned);
                entry.content = Some(atom_content(source, &child)?);
            }
            (Ns::Atom, "link") => entry.links.extend(atom_link(&child)),
            (Ns::Atom, "summary") => entry.summary = Some(atom_text(source, &child)?),
            (Ns::Atom, "category") => {
                if let Some(term) = child.attr("term") {
                    let label = child.attr("label").map(Cow::into_owned);
                    entry.categories.push(category(&term, label));
                }
            }
            (Ns::Atom, "published" | "pubDate") => {
                if let Some(date) = source.text_node()? {
                    entry.published = timestamp(&date);
                }
            }
            (Ns::Atom, "rights") => {
                atom_text(source, &child)?;
            }
            (Ns::Media, _) => media_element(source, &child, &mut media)?,
            _ => {}
        }
    }
    let mut objects = Vec::new();
    emit_media(media, &mut objects);
    entry.media = objects.into_iter().map(|(_, object)| object).collect();
    Ok(entry)
}

/// An Atom person: a `name` with text or an `email` (child names in any namespace).
fn atom_person(source: &mut Source<'_>, element: &Elem<'_>) -> Fast<Option<Person>> {
    let (mut name, mut email) = (None, None);
    while let Some(child) = source.next_element_at_depth(element.depth + 1)? {
        let text = source.text_node()?;
        match (child.local(), text) {
            ("name", Some(text)) => name = Some(text.into_owned()),
            ("email", text) => email = text.map(Cow::into_owned),
            _ => {}
        }
    }
    Ok((name.is_some() || email.is_some()).then_some(Person {
        name,
        uri: None,
        email,
        role: None,
    }))
}

/// Atom's text construct (`title`, `summary`, ...; also `itunes:title` and `itunes:summary`).
fn atom_text(source: &mut Source<'_>, element: &Elem<'_>) -> Fast<Text> {
    let body = match element.attr("type").as_deref().unwrap_or("text") {
        "text" => text(&PLAIN, &source.text_sloppy(element)?),
        "html" | "text/html" => text(&HTML, &source.text_sloppy(element)?),
        "xhtml" => text(&XHTML, &source.children_as_xhtml(element.depth + 1)?),
        _ => return Err(Decline),
    };
    Ok(body)
}

fn atom_content(source: &mut Source<'_>, element: &Elem<'_>) -> Fast<Content> {
    let kind = element.attr("type");
    if let Some(src) = element.attr("src") {
        let content_type = match kind.as_deref() {
            Some(mime) => mime.parse().map_err(|_| Decline)?,
            None => HTML.content_type.clone(),
        };
        if source.text_node()?.is_some() {
            return Err(Decline);
        }
        return Ok(Content {
            body: None,
            content_type,
            length: None,
            src: Some(Link {
                href: src.into_owned(),
                target: None,
                rel: None,
                media_type: kind.map(Cow::into_owned),
                href_lang: None,
                title: None,
                length: None,
            }),
        });
    }
    match kind.as_deref() {
        None | Some("text" | "html" | "xhtml" | "text/html") => {
            let text = atom_text(source, element)?;
            Ok(Content {
                body: Some(text.content),
                content_type: text.content_type,
                length: None,
                src: None,
            })
        }
        // feed-rs reads inline XML as a text construct of that type, which it refuses.
        Some(mime) if mime.ends_with(" +xml") || mime.ends_with("/xml") => Err(Decline),
        Some(mime) => {
            let content_type = mime.parse().map_err(|_| Decline)?;
            let body = source.text_node()?.ok_or(Decline)?;
            Ok(Content {
                body: Some(body.into_owned()),
                content_type,
                length: None,
                src: None,
            })
        }
    }
}

fn atom_link(element: &Elem<'_>) -> Option<Link> {
    let href = element.attr("href")?;
    let mut link = link(&href, &element.base);
    for (key, value) in element.attrs() {
        match key {
            "rel" => link.rel = Some(value.into_owned()),
            "type" => link.media_type = Some(value.into_owned()),
            "length" => link.length = value.parse::<u64>().ok(),
            _ => {}
        }
    }
    if link.rel.is_none() {
        link.rel = Some("alternate".into());
    }
    Some(link)
}

// ---------------------------------------------------------------------------------------------
// feed-rs's model constructors and helpers (`model`, `parser/util`), which it keeps private.

/// The text kinds as feed-rs makes them (its XHTML is `MediaTypeBuf::new(APPLICATION, XHTML)`,
/// which is `application/xhtml`), built the one way its `MediaTypeBuf` can be named from here.
static PLAIN: LazyLock<Text> = LazyLock::new(|| text_kind("text/plain"));
static HTML: LazyLock<Text> = LazyLock::new(|| text_kind("text/html"));
static XHTML: LazyLock<Text> = LazyLock::new(|| text_kind("application/xhtml"));

fn text_kind(mime: &str) -> Text {
    Text {
        content_type: mime.parse().expect("a valid MIME type"),
        src: None,
        content: String::new(),
    }
}

/// `Text::new` and `Text::html`: the content trimmed.
fn text(kind: &Text, content: &str) -> Text {
    Text {
        content_type: kind.content_type.clone(),
        src: None,
        content: content.trim().to_string(),
    }
}

fn category(term: &str, label: Option<String>) -> Category {
    Category {
        term: term.trim().to_string(),
        scheme: None,
        label,
        subcategories: Vec::new(),
    }
}

fn media_content() -> MediaContent {
    MediaContent {
        url: None,
        content_type: None,
        height: None,
        width: None,
        duration: None,
        size: None,
        rating: None,
    }
}

fn thumbnail(uri: String) -> MediaThumbnail {
    MediaThumbnail {
        image: Image {
            uri,
            title: None,
            link: None,
            width: None,
            height: None,
            description: None,
        },
        time: None,
    }
}

/// `Link::new`: resolved against the base where that works, as written otherwise; trimmed.
fn link(href: &str, base: &Url) -> Link {
    let resolved = match parse_uri(href, Some(base)) {
        Some(url) => String::from(url),
        None => href.to_string(),
    };
    let trimmed = resolved.trim();
    Link {
        href: if trimmed.len() == resolved.len() {
            resolved
        } else {
            trimmed.to_string()
        },
        target: None,
        rel: None,
        media_type: None,
        href_lang: None,
        title: None,
        length: None,
    }
}

/// `util::parse_uri`: absolute, or relative and joined to the base.
fn parse_uri(uri: &str, base: Option<&Url>) -> Option<Url> {
    match Url::parse(uri) {
        Ok(url) => Some(url),
        Err(url::ParseError::RelativeUrlWithoutBase) => base.and_then(|base| base.join(uri).ok()),
        Err(_) => None,
    }
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(<\[\()?(mailto:)?([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})(>]\))?\b")
        .expect("a valid regex")
});

/// `util::parse_person_name_email`, declining where that slices inside a character (and
/// panics).
fn person(raw: &str) -> Fast<Person> {
    let mut email = None;
    let mut name = None;
    // Without an `@` the address pattern cannot match.
    if raw.contains('@')
        && let Some(captures) = EMAIL.captures(raw)
        && let Some(address) = captures.get(3)
    {
        email = Some(address.as_str().trim().to_string());
        if let Some(span) = captures.get(0) {
            let prefix_len = span.start();
            let suffix_len = raw.len() - span.end();
            let rest = if prefix_len > suffix_len {
                raw.get(..span.start() - 1).ok_or(Decline)?
            } else if span.end() < raw.len() {
                raw.get(span.end() + 1..).ok_or(Decline)?
            } else {
                ""
            };
            let rest = rest.trim();
            if !rest.is_empty() {
                name = Some(rest.to_string());
            }
        }
    }
    if email.is_none() {
        name = Some(raw.trim().to_string());
    }
    Ok(Person {
        name,
        uri: None,
        email,
        role: None,
    })
}

/// Whether `util::parse_npt` cannot panic on `text`: it unwraps the parse of every `\d+` (any
/// Unicode digit) as a u64 and multiplies hours by 3600.
fn npt_is_safe(text: &str) -> bool {
    text.is_ascii()
        && text
            .split(|c: char| !c.is_ascii_digit())
            .all(|digits| digits.len() <= 15)
}

fn check_npt_attrs(element: &Elem<'_>, names: &[&str]) -> Fast<()> {
    if element
        .attrs()
        .any(|(key, value)| names.contains(&key) && !npt_is_safe(&value))
    {
        return Err(Decline);
    }
    Ok(())
}

static NPT_HHMMSS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?P<h>\d+):(?P<m>\d{2}):(?P<s>\d{2})(\.(?P<f>\d+))?").expect("a valid regex")
});
static NPT_SEC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?P<s>\d+)(\.(?P<f>\d+))?").expect("a valid regex"));

/// `util::parse_npt` ("normal play time": `H:MM:SS.h` or `S.h`, found anywhere in the text).
fn npt(text: &str) -> Fast<Option<Duration>> {
    if !npt_is_safe(text) {
        return Err(Decline);
    }
    let number = |m: Option<regex::Match<'_>>| -> Fast<u64> {
        m.ok_or(Decline)?
            .as_str()
            .parse::<u64>()
            .map_err(|_| Decline)
    };
    if let Some(captures) = NPT_HHMMSS.captures(text) {
        let seconds = number(captures.name("s"))?
            + number(captures.name("m"))? * 60
            + number(captures.name("h"))? * 3600;
        return npt_fraction(Duration::from_secs(seconds), captures.name("f")).map(Some);
    }
    if let Some(captures) = NPT_SEC.captures(text) {
        let seconds = number(captures.name("s"))?;
        return npt_fraction(Duration::from_secs(seconds), captures.name("f")).map(Some);
    }
    Ok(None)
}

/// `parse_npt_add_frac_sec`, f32 arithmetic and all.
fn npt_fraction(duration: Duration, fraction: Option<regex::Match<'_>>) -> Fast<Duration> {
    let Some(fraction) = fraction else {
        return Ok(duration);
    };
    let digits = fraction.as_str();
    let denominator = 10f32.powi(i32::try_from(digits.len()).map_err(|_| Decline)?);
    let numerator = digits.parse::<f32>().map_err(|_| Decline)?;
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "feed-rs's own float-to-int conversion, reproduced"
    )]
    let millis = (1000f32 * (numerator / denominator)) as u64;
    duration
        .checked_add(Duration::from_millis(millis))
        .ok_or(Decline)
}

// ---------------------------------------------------------------------------------------------
// `util::parse_timestamp_lenient`: RFC 3339, then RFC 2822, then RFC 1123, each after a few
// regex fixes for what feeds really write.

type Fixes = LazyLock<Vec<(Regex, &'static str)>>;

fn fixes(table: &[(&str, &'static str)]) -> Vec<(Regex, &'static str)> {
    table
        .iter()
        .map(|(pattern, replacement)| (Regex::new(pattern).expect("a valid regex"), *replacement))
        .collect()
}

static RFC3339_FIXES: Fixes = LazyLock::new(|| {
    fixes(&[
        (r"(\+|-)(\d{2})(\d{2})", "${1}${2}:${3}"),
        (r"-\d{2}$", "${0}T00:00:00+00:00"),
    ])
});
static RFC2822_FIXES: Fixes = LazyLock::new(|| {
    fixes(&[
        ("(UTC|-0000$)", "+0000"),
        ("(Sun|Mon|Tue|Wed|Thu|Fri|Sat)[a-z]*, ", ""),
        (
            "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*",
            "$1",
        ),
        (
            "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\\d{1,2}) (\\d{4})",
            "$2 $1 $3",
        ),
        (" 24:", " 00:"),
        (" ([0-9]):", " 0${1}:"),
    ])
});
static RFC1123_FIXES: Fixes =
    LazyLock::new(|| fixes(&[(" Z$", " +0000"), ("^[[:alpha:]]{3}, ", "")]));

fn apply(original: &str, fixes: &[(Regex, &'static str)]) -> String {
    let mut cleaned = original.trim().to_string();
    for (regex, replacement) in fixes {
        cleaned = regex.replace(&cleaned, *replacement).to_string();
    }
    cleaned
}

/// feed-rs's lenient date. The two shapes nearly every feed writes are parsed directly, where
/// none of the fixes can apply (RFC 3339), or where the only one that applies drops the day
/// name (RFC 822's `Mon, 03 Feb 2025 12:05:00 GMT`); anything else takes feed-rs's route.
fn timestamp(original: &str) -> Option<DateTime<Utc>> {
    let trimmed = original.trim();
    let direct = if plain_rfc3339(trimmed)
        && let Ok(date) = DateTime::parse_from_rfc3339(trimmed)
    {
        Some(date)
    } else if plain_rfc822(trimmed) {
        trimmed
            .get(5..)
            .and_then(|rest| DateTime::parse_from_rfc2822(rest).ok())
    } else {
        None
    };
    if let Some(date) = direct {
        return Some(date.with_timezone(&Utc));
    }
    DateTime::parse_from_rfc3339(apply(original, &RFC3339_FIXES).trim())
        .or_else(|_| DateTime::parse_from_rfc2822(&apply(original, &RFC2822_FIXES)))
        .or_else(|_| {
            DateTime::parse_from_str(&apply(original, &RFC1123_FIXES), "%d %b %Y %H:%M:%S %z")
        })
        .ok()
        .map(|date| date.with_timezone(&Utc))
}

/// ASCII with neither a sign before four digits nor `-DD` at the end: the RFC 3339 fixes
/// leave it as it is.
fn plain_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|b| b.iter().all(u8::is_ascii_digit))
    };
    let signed_four =
        (0..bytes.len()).any(|i| matches!(bytes[i], b'+' | b'-') && digits(i + 1..i + 5));
    let dash_two_at_end =
        bytes.len() >= 3 && bytes[bytes.len() - 3] == b'-' && digits(bytes.len() - 2..bytes.len());
    text.is_ascii() && !signed_four && !dash_two_at_end
}

/// `Www, DD Mon YYYY HH:MM:SS Z` with Z `GMT` or `±HHMM` (not `-0000`) and an hour that is not
/// 24: the RFC 3339 attempt fails on it (it does not start with a digit) and the RFC 2822
/// fixes only drop the day name.
fn plain_rfc822(text: &str) -> bool {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let bytes = text.as_bytes();
    let digits = |at: usize, n: usize| {
        bytes
            .get(at..at + n)
            .is_some_and(|b| b.iter().all(u8::is_ascii_digit))
    };
    let is = |at: usize, s: &str| bytes.get(at..at + s.len()) == Some(s.as_bytes());
    let zone_ok = match bytes.len() {
        29 => is(26, "GMT"),
        31 => matches!(bytes[26], b'+' | b'-') && digits(27, 4) && !is(26, "-0000"),
        _ => false,
    };
    zone_ok
        && DAYS.iter().any(|day| is(0, day))
        && is(3, ", ")
        && digits(5, 2)
        && is(7, " ")
        && MONTHS.iter().any(|month| is(8, month))
        && is(11, " ")
        && digits(12, 4)
        && is(16, " ")
        && digits(17, 2)
        && !is(17, "24")
        && is(19, ":")
        && digits(20, 2)
        && is(22, ":")
        && digits(23, 2)
        && is(25, " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{Failure, run_feed_rs, scan::scan_items};

    fn url() -> Url {
        Url::parse("https://example.com/feeds/main.xml").expect("valid test URL")
    }

    /// Every field of the model that `convert` reads, in one comparable string.
    fn projection(feed: &Feed) -> String {
        fn text(text: Option<&Text>) -> String {
            text.map_or("-".into(), |t| {
                format!("{}|{:?}", t.content_type, t.content)
            })
        }
        // Links with a target (comments) are not read by convert, nor made here.
        fn links(links: &[Link]) -> String {
            links
                .iter()
                .filter(|l| l.target.is_none())
                .map(|l| {
                    format!(
                        "[{:?} {:?} {:?} {:?} {:?}]",
                        l.href, l.target, l.rel, l.media_type, l.length
                    )
                })
                .collect()
        }
        let mut out = format!(
            "title={} links={} ttl={:?}\n",
            text(feed.title.as_ref()),
            links(&feed.links),
            feed.ttl
        );
        for entry in &feed.entries {
            out += &format!(
                "entry id={:?} title={} links={} base={:?} published={:?} updated={:?}\n",
                entry.id,
                text(entry.title.as_ref()),
                links(&entry.links),
                entry.base,
                entry.published,
                entry.updated
            );
            out += &format!(
                "  content={:?} summary={}\n",
                entry
                    .content
                    .as_ref()
                    .map(|c| (c.content_type.to_string(), c.body.clone())),
                text(entry.summary.as_ref())
            );
            for person in &entry.authors {
                out += &format!("  author {:?} {:?}\n", person.name, person.email);
            }
            for category in &entry.categories {
                out += &format!("  category {:?} {:?}\n", category.term, category.label);
            }
            for object in &entry.media {
                out += &format!(
                    "  media title={} description={} duration={:?} credits={:?} thumbnails={:?}\n",
                    text(object.title.as_ref()),
                    text(object.description.as_ref()),
                    object.duration,
                    object.credits.iter().map(|c| &c.entity).collect::<Vec<_>>(),
                    object
                        .thumbnails
                        .iter()
                        .map(|t| &t.image.uri)
                        .collect::<Vec<_>>()
                );
                for content in &object.content {
                    out += &format!(
                        "    content {:?} {:?} {:?} {:?}\n",
                        content.url.as_ref().map(Url::as_str),
                        content.content_type.as_ref().map(ToString::to_string),
                        content.size,
                        content.duration
                    );
                }
            }
        }
        out
    }

    /// feed-rs and the side scan on `text`, as `parse_xml` runs them.
    fn reference(text: &str) -> Result<(String, Vec<ItemFacts>), String> {
        match run_feed_rs(text.as_bytes(), &url()) {
            Ok(feed) => Ok((projection(&feed), scan_items(text, &url()))),
            Err(Failure::Parse(error)) => Err(error.to_string()),
            Err(Failure::Panic(message)) => Err(format!("panic: {message}")),
            Err(Failure::TooDeep) => Err("too deep".into()),
        }
    }

    /// The fast path reads `text`, exactly as feed-rs and the scan do; returns the projection.
    #[track_caller]
    fn same(text: &str) -> String {
        let (feed, facts) = parse(text, &url()).expect("the fast path reads it");
        let fast = (projection(&feed), facts);
        assert_eq!(
            Ok(fast.clone()),
            reference(text),
            "fast path differs on\n{text}"
        );
        fast.0
    }

    #[track_caller]
    fn declines(text: &str) {
        assert!(parse(text, &url()).is_none(), "fast path read\n{text}");
    }

    fn rss(items: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:media="http://search.yahoo.com/mrss/" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>T</title><link>https://example.com/</link>{items}</channel></rss>"#
        )
    }

    fn atom(entries: &str) -> String {
        format!(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://example.org/blog/"><title type="html">A &amp;amp; B</title><link href="/"/>{entries}</feed>"#
        )
    }

    #[test]
    fn cdata_and_references_coalesce() {
        let out = same(&rss(concat!(
            "<item><title> A &amp; <![CDATA[<b>B</b>]]> &#x263A; &nbsp;<!-- c --> C </title>",
            "<description><![CDATA[<p>summary</p>]]></description>",
            "<content:encoded>\n  <![CDATA[<p>body</p>]]>\n</content:encoded>",
            "<guid isPermaLink=\"false\"> tag:x,2025:1 </guid></item>",
        )));
        // Unknown entities stay as written; content:encoded keeps its whitespace.
        assert!(
            out.contains(r#"title=text/plain|"A & <b>B</b> ☺ &nbsp; C""#),
            "{out}"
        );
        assert!(out.contains(r#"Some("\n  <p>body</p>\n")"#), "{out}");
        assert!(out.contains(r#"id="tag:x,2025:1""#), "{out}");
    }

    #[test]
    fn atom_text_constructs() {
        let out = same(&atom(concat!(
            r#"<entry><title>Plain <b>bold</b> tail</title>"#,
            r#"<summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>x &lt; y</p></div></summary>"#,
            r#"<content type="html">&lt;p&gt;escaped &amp;amp; &lt;a href="x"&gt;rel&lt;/a&gt;&lt;/p&gt;</content></entry>"#,
            r#"<entry><title type="html"><em>nested</em> text</title><summary type="xhtml"> <p>a</p> tail </summary>"#,
            r#"<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">one</div><div>two</div></content></entry>"#,
            r#"<entry><title type="text"/><content type="text/plain">  spaced  </content></entry>"#,
        )));
        // A title's text stops at its first child element; without leading text the children
        // are serialised.
        assert!(out.contains(r#"title=text/plain|"Plain""#), "{out}");
        assert!(
            out.contains(r#"title=text/html|"<em>nested</em> text""#),
            "{out}"
        );
        assert!(
            out.contains(r#"summary=application/xhtml|"<p>x &lt; y</p>""#),
            "{out}"
        );
        assert!(out.contains(r#"Some("  spaced  ")"#), "{out}");
    }

    #[test]
    fn atom_content_feed_rs_refuses() {
        declines(&atom(r#"<entry><content type="text/plain"/></entry>"#));
        declines(&atom(
            r#"<entry><content src="https://x/a" type="text/html">t</content></entry>"#,
        ));
        declines(&atom(
            r#"<entry><content type="text/xml">x</content></entry>"#,
        ));
        declines(&atom(r#"<entry><title type="HTML">x</title></entry>"#));
        same(&atom(
            r#"<entry><content src="/a.mp3" type="audio/mpeg"/></entry>"#,
        ));
    }

    #[test]
    fn xml_base_chains() {
        let out = same(&atom(concat!(
            r#"<entry xml:base="2024/"><link href="post.html"/><id>1</id>"#,
            r#"<content type="html" xml:base="sub/">&lt;a href="x"&gt;x&lt;/a&gt;</content></entry>"#,
            r#"<entry><link href="https://other.example/p"/><summary>s</summary></entry>"#,
            r#"<entry xml:base="  spaced/ "><link href="x"/><content type="html">c</content></entry>"#,
        )));
        assert!(
            out.contains("https://example.org/blog/2024/post.html"),
            "{out}"
        );
        assert!(out.contains(r#"base=Some("sub/")"#), "{out}");
        // An xml:base the URL parser refuses (not merely relative) fails feed-rs's parse.
        declines(&atom(r#"<entry xml:base="http://[::1"><id>1</id></entry>"#));
    }

    #[test]
    fn rss_links_guids_and_people() {
        let out = same(&rss(concat!(
            r#"<item><link> /relative </link><guid>https://example.com/g</guid>"#,
            r#"<author>editor@example.com (The Editor)</author><dc:creator>Ana</dc:creator>"#,
            r#"<category domain="d"> News </category><category>News</category>"#,
            r#"<atom:link href="/alt" rel="alternate" type="text/html" length="12"/></item>"#,
            r#"<item><guid isPermaLink="false">https://example.com/not-a-link</guid></item>"#,
            r#"<item><title>no id</title></item>"#,
        )));
        assert!(
            out.contains(r#"author Some("(The Editor)") Some("editor@example.com")"#),
            "{out}"
        );
        assert!(out.contains(r#"category "News" None"#), "{out}");
        // feed-rs ignores isPermaLink; convert then takes a URL guid as the link.
        assert!(
            out.contains(r#"id="https://example.com/not-a-link""#),
            "{out}"
        );
    }

    #[test]
    fn itunes_duration_image_and_media_objects() {
        let out = same(&rss(concat!(
            r#"<item><title>E1</title><itunes:duration>62:03</itunes:duration>"#,
            r#"<itunes:image href=" https://x/1.jpg "/><itunes:summary>notes</itunes:summary>"#,
            r#"<enclosure url="/e1.mp3" length="100" type="audio/mpeg"/></item>"#,
            r#"<item><itunes:duration>1:02:03.5</itunes:duration><itunes:author>Host</itunes:author>"#,
            r#"<itunes:image href="https://x/2.jpg"/></item>"#,
            r#"<item><itunes:title>T3</itunes:title><itunes:episode>3</itunes:episode>"#,
            r#"<media:content url="https://x/3.mp4" type="video/mp4" fileSize="9" duration="30">"#,
            r#"<media:title>M3</media:title><media:thumbnail url="https://x/3t.jpg"/></media:content>"#,
            r#"<enclosure url="https://x/3.mp3" type="audio/mpeg"/></item>"#,
            r#"<item><media:group><media:content url="https://x/a.mp4"/><media:content url="https://x/b.mp4"/>"#,
            r#"<media:description type="html">&lt;b&gt;d&lt;/b&gt;</media:description></media:group>"#,
            r#"<media:group><media:player url="/p"/><media:content><media:player url="/q"/></media:content></media:group>"#,
            r#"<media:thumbnail url="https://x/top.jpg" time="12:00:01.5"/><itunes:summary>s4</itunes:summary></item>"#,
        )));
        // feed-rs reads 62:03 as 62 seconds, and drops an iTunes object without a title or a
        // summary (duration, author and all); the scan keeps the text for convert.
        assert!(out.contains("duration=Some(62s)"), "{out}");
        assert!(!out.contains("Host"), "{out}");
        let (_, facts) = parse(
            &rss("<item><itunes:duration> 1:02:03.5 </itunes:duration></item>"),
            &url(),
        )
        .expect("the fast path reads it");
        assert_eq!(facts[0].itunes_duration.as_deref(), Some("1:02:03.5"));
    }

    #[test]
    fn dates_as_feed_rs_reads_them() {
        for date in [
            "Mon, 03 Feb 2025 12:05:00 GMT",
            "Tue, 03 Feb 2025 12:05:00 GMT",
            "Mon, 03 Feb 2025 12:05:00 +0130",
            "Mon, 03 Feb 2025 12:05:00 -0000",
            "Mon, 03 Feb 2025 24:05:00 GMT",
            "Mon, 03 Feb 2025 12:05:00 UTC",
            "Thursday, 13 Jul 2011 07:38:00 GMT",
            "Mon, 3 February 2025 2:05:00 EST",
            "Feb 03 2025 12:05:00 +0000",
            "03 Feb 2025 12:05:00 Z",
            "Mon, 03 Feb 2025 12:05:00 Z",
            "2025-02-03T12:05:00Z",
            "2025-02-03T12:05:00.123+01:00",
            "2025-02-03 12:05:00+0100",
            "2025-02-03",
            " 2025-02-03T12:05:00Z ",
            "2025-02-30T12:05:00Z",
            "yesterday",
            "",
        ] {
            same(&rss(&format!(
                "<item><title>x</title><pubDate>{date}</pubDate><atom:updated>{date}</atom:updated></item>"
            )));
            same(&atom(&format!(
                "<entry><published>{date}</published><updated>{date}</updated></entry>"
            )));
        }
        let items: String = date_sweep()
            .iter()
            .map(|date| format!("<item><pubDate>{date}</pubDate></item>"))
            .collect();
        same(&rss(&items));
    }

    /// The two shapes `timestamp` parses directly, each day, month and kind of zone, right and
    /// wrong weekdays, hours 00 to 24, and near misses.
    fn date_sweep() -> Vec<String> {
        let mut dates = Vec::new();
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let pairs = days.iter().zip(months.iter().cycle());
        for (day, month) in pairs.chain([(&"Thu", &"Dec"), (&"Sat", &"Feb")]) {
            for zone in [
                "GMT", "+0000", "-0000", "+0530", "-2359", "+2400", "UTC", "gmt",
            ] {
                for time in ["00:00:00", "23:59:60", "24:00:00", "12:61:00"] {
                    for date in ["01", "29", "31"] {
                        dates.push(format!("{day}, {date} {month} 2024 {time} {zone}"));
                    }
                }
            }
        }
        for zone in ["Z", "z", "+00:00", "-05:30", "+0530", "+05", ""] {
            for time in [
                "T00:00:00",
                " 12:30:00",
                "T23:59:60.5",
                "T24:00:00",
                "t12:00:00",
            ] {
                dates.push(format!("2024-02-29{time}{zone}"));
                dates.push(format!("2023-02-29{time}{zone}"));
            }
        }
        dates
    }

    #[test]
    fn namespaces_as_feed_rs_resolves_them() {
        // An item in another namespace is no entry, though the scan counts it.
        same(&rss(
            r#"<item><title>a</title></item><item xmlns="urn:other"><title>b</title></item>"#,
        ));
        // An undeclared prefix falls back to the default namespace.
        same(&rss("<item><x:title>prefixed</x:title></item>"));
        same(
            r#"<rss version=""><channel><item><title>no version number</title></item></channel></rss>"#,
        );
        same(
            r#"<atom:feed xmlns:atom="http://www.w3.org/2005/Atom"><atom:entry><atom:title>t</atom:title></atom:entry></atom:feed>"#,
        );
        same(&rss(
            r"<item><title>a</title></item></channel><channel><item><title>second channel</title></item>",
        ));
    }

    #[test]
    fn declines_what_it_cannot_be_sure_of() {
        declines("<!DOCTYPE rss><rss version=\"2.0\"><channel><item/></channel></rss>");
        declines(
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><item/></rdf:RDF>"#,
        );
        declines("<rss><channel><item><title>no version</title></item></channel></rss>");
        declines(r#"<entry xmlns="http://www.w3.org/2005/Atom"><title>t</title></entry>"#);
        declines(&rss("<item><title>a &bogus b</title></item>"));
        declines(&rss("<item><title>&#0;</title></item>"));
        declines(&rss("<item><title>a</title></item><item>"));
        // Deeper than the depth check before feed-rs allows (which this pass stands in for).
        let deep = format!("{}{}", "<x>".repeat(MAX_DEPTH), "</x>".repeat(MAX_DEPTH));
        declines(&rss(&format!("<item><title>a</title>{deep}</item>")));
        let shallow = format!(
            "{}{}",
            "<x>".repeat(MAX_DEPTH - 4),
            "</x>".repeat(MAX_DEPTH - 4)
        );
        same(&rss(&format!("<item><title>a</title>{shallow}</item>")));
        declines(&format!(
            "{}<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
            rss("<item/>")
        ));
        declines(&format!("\u{feff}{}", rss("<item/>")));
        declines(&format!("{{{}", rss("<item/>")));
        // Values feed-rs panics on.
        declines(&rss(
            "<item><author>编辑部：editor@example.cn</author></item>",
        ));
        declines(&rss(
            "<item><itunes:duration>99999999999999999999</itunes:duration></item>",
        ));
        declines(&rss(
            "<item><itunes:duration>۱:۲۳:۴۵</itunes:duration></item>",
        ));
        declines(&rss(
            r#"<item><media:thumbnail url="x" time="99999999999999999999"/></item>"#,
        ));
        // And values it refuses the feed over.
        declines(&rss(
            r#"<item><podcast:person xmlns:podcast="https://podcastindex.org/namespace/1.0" role="nobody">x</podcast:person></item>"#,
        ));
        declines(&rss("<item><media:title/></item>"));
        declines(&rss(
            r#"<item><media:title type="rich">x</media:title></item>"#,
        ));
    }
}
