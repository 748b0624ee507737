//! The recovery pass: turns a feed that is not well-formed XML into one that is, keeping as
//! much of the author's intent as a forgiving reader (Python's feedparser, a browser) would.
//!
//! It runs only after feed-rs has refused the document as served, so a well-formed feed is
//! never rewritten. Two stages, both on text that [`super::decode`] already made UTF-8:
//!
//! 1. [`fix_text`], a byte scanner that knows just enough XML to leave CDATA alone: HTML named
//!    entities become numeric references, bare `&` and stray `<` are escaped, characters XML
//!    forbids are dropped, comments and the DOCTYPE (whose entities nobody resolves) go.
//! 2. [`balance`], a pass over quick-xml's tokens that re-emits a well-formed tree: end tags
//!    close whatever was left open inside them, stray end tags vanish, a truncated document is
//!    closed where it stops, undeclared namespace prefixes get declarations on the root, HTML
//!    pasted unescaped into an RSS `description` becomes text again, and an `<rss>` without a
//!    version feed-rs accepts gets one.
//!
//! Also here: the cheap structural probes the caller needs before and after feed-rs (nesting
//! depth, root element name, "is this an HTML page", the first strict XML error).

use std::collections::{BTreeSet, HashSet};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use url::Url;

use super::entities::{self, Reference};

/// The deepest element nesting accepted. Real feeds nest a dozen levels (plus inline XHTML);
/// feed-rs recurses on some nested elements, and a stack overflow cannot be caught, so a
/// document past this is refused before any parser sees it. Safe on a 2 MiB thread stack.
pub const MAX_DEPTH: usize = 256;

/// Root elements feed-rs dispatches on (local names).
const FEED_ROOTS: &[&str] = &["rss", "feed", "RDF", "entry"];

/// Elements whose content RSS defines as text (escaped HTML at most): markup found inside them
/// in a broken feed is HTML that was pasted without escaping, and is turned back into text.
const RSS_TEXT_ELEMENTS: &[&str] = &["title", "description", "encoded", "summary", "subtitle"];

/// HTML elements that never have content: `<br>` without `</br>` must not swallow the rest.
const HTML_VOID: &[&str] = &[
    "br", "hr", "img", "wbr", "input", "area", "col", "embed", "param", "track", "meta", "basefont",
];

/// Media RSS elements whose `type` says how their text is written (local names).
const MEDIA_TEXT_ELEMENTS: &[&str] = &["title", "description", "text"];

const RSS_090_NS: &str = "http://my.netscape.com/rdf/simple/0.9";
const RSS_10_NS: &str = "http://purl.org/rss/1.0/";

/// HTML elements whose start tag ends an open one of the same name (`<p>1<p>2`).
const HTML_SELF_ENDING: &[&str] = &["p", "li", "dt", "dd", "tr", "td", "th", "option"];

/// Namespaces commonly used in feeds, for prefixes a document uses without declaring.
const KNOWN_PREFIXES: &[(&str, &str)] = &[
    ("atom", "http://www.w3.org/2005/Atom"),
    ("content", "http://purl.org/rss/1.0/modules/content/"),
    ("dc", "http://purl.org/dc/elements/1.1/"),
    ("dcterms", "http://purl.org/dc/terms/"),
    (
        "googleplay",
        "http://www.google.com/schemas/play-podcasts/1.0",
    ),
    ("itunes", "http://www.itunes.com/dtds/podcast-1.0.dtd"),
    ("media", "http://search.yahoo.com/mrss/"),
    ("podcast", "https://podcastindex.org/namespace/1.0"),
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    ("slash", "http://purl.org/rss/1.0/modules/slash/"),
    ("sy", "http://purl.org/rss/1.0/modules/syndication/"),
    ("thr", "http://purl.org/syndication/thread/1.0"),
    ("wfw", "http://wellformedweb.org/CommentAPI/"),
];

/// The outcome of [`repair`].
#[derive(Debug, Clone)]
pub(crate) struct Repaired {
    pub text: String,
    /// Where tokenising stopped early (a truncated or garbled tail), if it did.
    pub stopped_at: Option<(u64, String)>,
}

/// The document is nested deeper than [`MAX_DEPTH`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooDeep;

/// Runs both stages on decoded text.
pub(crate) fn repair(text: &str) -> Result<Repaired, TooDeep> {
    let start = strip_leading_junk(text);
    let fixed = fix_text(start);
    balance(&fixed)
}

/// Skips whatever precedes the document proper: PHP warnings, a stray blank line before the
/// XML declaration, HTML from a CMS plugin. The document starts at the declaration, or failing
/// that at the first feed root element.
pub(crate) fn strip_leading_junk(text: &str) -> &str {
    let text = text.trim_start_matches(['\u{FEFF}', ' ', '\t', '\r', '\n']);
    if text.starts_with("<?xml") {
        return text;
    }
    if root_element_name(text).is_some_and(|name| FEED_ROOTS.contains(&local_name(&name))) {
        return text;
    }
    if let Some(pos) = text.find("<?xml") {
        return &text[pos..];
    }
    let root_at = ["<rss", "<feed", "<rdf:RDF", "<RDF"]
        .iter()
        .filter_map(|open| find_tag_open(text, open))
        .min();
    root_at.map_or(text, |pos| &text[pos..])
}

/// Where a feed embedded in an HTML page starts (a CMS that wraps the feed in its page
/// template), if one is.
pub(crate) fn embedded_feed_start(text: &str) -> Option<usize> {
    ["<rss", "<feed", "<rdf:RDF"]
        .iter()
        .filter_map(|open| find_tag_open(text, open))
        .min()
}

/// Position of `open` (like `"<rss"`) followed by the end of a tag name.
fn find_tag_open(text: &str, open: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(rel) = text[from..].find(open) {
        let pos = from + rel;
        let next = text.as_bytes().get(pos + open.len()).copied();
        if matches!(next, Some(b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/')) {
            return Some(pos);
        }
        from = pos + open.len();
    }
    None
}

fn local_name(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname)
}

fn is_name_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte == b':' || byte >= 0x80
}

fn is_name_byte(byte: u8) -> bool {
    is_name_start(byte) || byte.is_ascii_digit() || byte == b'-' || byte == b'.'
}

/// Whether a string is an XML name a namespace-aware parser accepts: a name-start character,
/// then name characters, with at most one colon that is neither first nor last.
pub(crate) fn is_xml_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let Some(first) = bytes.first() else {
        return false;
    };
    if !is_name_start(*first) || *first == b':' || !bytes.iter().all(|b| is_name_byte(*b)) {
        return false;
    }
    let colons = bytes.iter().filter(|b| **b == b':').count();
    colons == 0 || (colons == 1 && !name.ends_with(':'))
}

/// Characters XML 1.0 forbids, as UTF-8 bytes: C0 controls other than tab, LF and CR (one
/// byte each), and U+FFFE / U+FFFF (three bytes each). Returns how many bytes to drop at `i`.
fn forbidden_len(bytes: &[u8], i: usize) -> usize {
    match bytes[i] {
        0x00..=0x08 | 0x0B | 0x0C | 0x0E..=0x1F => 1,
        0xEF if matches!(bytes.get(i + 1..i + 3), Some([0xBF, 0xBE | 0xBF])) => 3,
        _ => 0,
    }
}

/// Stage 1: a lexical clean-up that needs no tree. See the module documentation.
pub(crate) fn fix_text(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len() + bytes.len() / 16);
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        match bytes[i] {
            b'<' if rest.starts_with(b"<![CDATA[") => {
                let body_start = i + 9;
                let end = find(bytes, body_start, b"]]>");
                out.extend_from_slice(b"<![CDATA[");
                copy_without_forbidden(bytes, body_start, end.unwrap_or(bytes.len()), &mut out);
                out.extend_from_slice(b"]]>");
                i = end.map_or(bytes.len(), |e| e + 3);
            }
            b'<' if rest.starts_with(b"<!--") => {
                i = find(bytes, i + 4, b"-->").map_or(bytes.len(), |e| e + 3);
            }
            b'<' if starts_with_ignore_case(rest, b"<!DOCTYPE") => {
                i = skip_doctype(bytes, i);
            }
            b'<' if rest.starts_with(b"<?") => {
                let end = find(bytes, i + 2, b"?>").map_or(bytes.len(), |e| e + 2);
                copy_without_forbidden(bytes, i, end, &mut out);
                i = end;
            }
            b'<' if rest.get(1).is_some_and(|b| is_name_start(*b))
                || (rest.get(1) == Some(&b'/')
                    && rest.get(2).is_some_and(|b| is_name_start(*b))) =>
            {
                i = copy_tag(text, i, &mut out);
            }
            b'<' => {
                out.extend_from_slice(b"&lt;");
                i += 1;
            }
            b'&' => i = fix_reference(text, i, &mut out),
            _ => {
                let drop = forbidden_len(bytes, i);
                if drop == 0 {
                    out.push(bytes[i]);
                    i += 1;
                } else {
                    i += drop;
                }
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.len() >= prefix.len() && bytes[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn copy_without_forbidden(bytes: &[u8], from: usize, to: usize, out: &mut Vec<u8>) {
    let mut i = from;
    while i < to {
        let drop = forbidden_len(bytes, i);
        if drop == 0 {
            out.push(bytes[i]);
            i += 1;
        } else {
            i += drop;
        }
    }
}

/// Skips `<!DOCTYPE ...>`, including an internal subset in brackets.
fn skip_doctype(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    for (offset, byte) in bytes[start..].iter().enumerate() {
        match (quote, *byte) {
            (Some(q), b) if b == q => quote = None,
            (None, b'"' | b'\'') => quote = Some(*byte),
            (None, b'[') => depth += 1,
            (None, b']') => depth = depth.saturating_sub(1),
            (None, b'>') if depth == 0 => return start + offset + 1,
            // Inside quotes every byte but the closing quote is text.
            _ => {}
        }
    }
    bytes.len()
}

/// Rewrites the reference starting at the `&` at `i`; returns the index after it.
fn fix_reference(text: &str, i: usize, out: &mut Vec<u8>) -> usize {
    match entities::parse_reference(&text[i + 1..]) {
        Some((Reference::XmlNamed(_), span)) => {
            out.extend_from_slice(&text.as_bytes()[i..i + 1 + span]);
            i + 1 + span
        }
        Some((Reference::HtmlNamed(ch) | Reference::Numeric(Some(ch)), span)) => {
            out.extend_from_slice(format!("&#{};", u32::from(ch)).as_bytes());
            i + 1 + span
        }
        Some((Reference::Numeric(None), span)) => i + 1 + span,
        None => {
            out.extend_from_slice(b"&amp;");
            i + 1
        }
    }
}

/// Copies a start or end tag, fixing references and `<` inside attribute values and dropping
/// quotes that open no value. A `<` outside quotes means the tag was never closed: it is
/// closed there.
fn copy_tag(text: &str, start: usize, out: &mut Vec<u8>) -> usize {
    let bytes = text.as_bytes();
    out.push(b'<');
    let mut i = start + 1;
    let mut quote: Option<u8> = None;
    let mut after_eq = false;
    while i < bytes.len() {
        let byte = bytes[i];
        if let Some(q) = quote {
            match byte {
                b if b == q => {
                    quote = None;
                    out.push(b);
                    i += 1;
                }
                b'&' => i = fix_reference(text, i, out),
                b'<' => {
                    out.extend_from_slice(b"&lt;");
                    i += 1;
                }
                _ => {
                    let drop = forbidden_len(bytes, i);
                    if drop == 0 {
                        out.push(byte);
                        i += 1;
                    } else {
                        i += drop;
                    }
                }
            }
            continue;
        }
        match byte {
            b'>' => {
                out.push(b'>');
                return i + 1;
            }
            b'<' => {
                out.push(b'>');
                return i;
            }
            b'"' | b'\'' => {
                if after_eq {
                    quote = Some(byte);
                    out.push(byte);
                }
                after_eq = false;
                i += 1;
            }
            b'=' => {
                after_eq = true;
                out.push(byte);
                i += 1;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {
                out.push(byte);
                i += 1;
            }
            b'&' => {
                after_eq = false;
                i = fix_reference(text, i, out);
            }
            _ => {
                after_eq = false;
                let drop = forbidden_len(bytes, i);
                if drop == 0 {
                    out.push(byte);
                    i += 1;
                } else {
                    i += drop;
                }
            }
        }
    }
    bytes.len()
}

/// Stage 2: re-emits the token stream as a well-formed tree. See the module documentation.
/// Whatever follows the document element (a second document, trailing junk) is dropped.
pub(crate) fn balance(text: &str) -> Result<Repaired, TooDeep> {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.check_comments = false;
    config.allow_dangling_amp = true;
    config.trim_text(false);

    let mut tree = Balancer {
        out: String::with_capacity(text.len() + 256),
        ..Balancer::default()
    };
    let mut stopped_at = None;
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) => {
                stopped_at = Some((reader.error_position(), error.to_string()));
                break;
            }
        };
        match event {
            Event::Decl(_) => {
                if tree.out.is_empty() {
                    tree.out
                        .push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
                }
            }
            Event::Start(start) => tree.start(&start, false)?,
            Event::Empty(start) => tree.start(&start, true)?,
            Event::End(end) => tree.end(&String::from_utf8_lossy(end.name().as_ref())),
            Event::Text(content) => {
                if !tree.stack.is_empty() {
                    let raw = String::from_utf8_lossy(content.as_ref());
                    tree.out.push_str(&raw.replace("]]>", "]]&gt;"));
                }
            }
            Event::CData(content) => {
                if !tree.stack.is_empty() {
                    tree.out.push_str("<![CDATA[");
                    tree.out
                        .push_str(&String::from_utf8_lossy(content.as_ref()));
                    tree.out.push_str("]]>");
                }
            }
            Event::GeneralRef(reference) => {
                if !tree.stack.is_empty() {
                    tree.out.push('&');
                    tree.out
                        .push_str(&String::from_utf8_lossy(reference.as_ref()));
                    tree.out.push(';');
                }
            }
            Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
        if tree.root.as_ref().is_some_and(|r| r.closed) {
            break;
        }
    }
    Ok(tree.finish(stopped_at))
}

/// An element [`balance`] has opened and not yet closed.
struct Open {
    /// The name as the document writes it, which its end tag must match.
    name: String,
    /// The name as written to the output (a root may be re-cased: `<rdf>` -> `<RDF>`).
    emitted: String,
}

/// What [`balance`] remembers about the document element.
struct Root {
    /// Byte offset in the output just before the root start tag's `>`, where missing
    /// namespace declarations go.
    insert_at: usize,
    format: RootFormat,
    /// `rss`: its first child must be `<channel>`, or one is opened for it.
    channel_seen: bool,
    closed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RootFormat {
    Rss,
    Rdf,
    Atom,
    Other,
}

/// The state of [`balance`]: the output so far and the open elements.
#[derive(Default)]
struct Balancer {
    out: String,
    stack: Vec<Open>,
    root: Option<Root>,
    used_prefixes: BTreeSet<String>,
    declared_prefixes: HashSet<String>,
    /// Depth (stack length) of an RSS text element whose markup content is being escaped.
    text_only_at: Option<usize>,
}

impl Balancer {
    fn format(&self) -> RootFormat {
        self.root.as_ref().map_or(RootFormat::Other, |r| r.format)
    }

    /// Whether a start tag opens a feed item, which never nests in anything but its container.
    fn is_item(&self, local: &str) -> bool {
        match self.format() {
            RootFormat::Rss | RootFormat::Rdf => local == "item",
            RootFormat::Atom => local == "entry",
            RootFormat::Other => false,
        }
    }

    /// Closes open elements until `len` remain.
    fn close_to(&mut self, len: usize) {
        while self.stack.len() > len {
            if let Some(open) = self.stack.pop() {
                self.out.push_str("</");
                self.out.push_str(&open.emitted);
                self.out.push('>');
            }
        }
        if self.text_only_at.is_some_and(|at| at > len) {
            self.text_only_at = None;
        }
        if self.stack.is_empty()
            && let Some(root) = self.root.as_mut()
        {
            root.closed = true;
        }
    }

    fn start(&mut self, start: &BytesStart<'_>, empty: bool) -> Result<(), TooDeep> {
        let name = element_name(start);
        let item = name
            .as_deref()
            .is_some_and(|name| self.is_item(local_name(name)));
        if self.text_only_at.is_some() && !item {
            escape_tag(&mut self.out, start, empty);
            return Ok(());
        }
        let Some(name) = name else {
            escape_tag(&mut self.out, start, empty);
            return Ok(());
        };
        if item {
            // A new item closes whatever the previous one (or a stray element) left open.
            let container = match self.format() {
                RootFormat::Rss => self
                    .stack
                    .iter()
                    .rposition(|open| local_name(&open.emitted) == "channel"),
                _ => Some(0),
            };
            if let Some(at) = container {
                self.close_to(at + 1);
            }
        }
        let void = !empty && HTML_VOID.contains(&name.to_ascii_lowercase().as_str());
        self.open(start, &name, empty || void);
        if !empty && !void {
            if self.stack.len() > MAX_DEPTH {
                return Err(TooDeep);
            }
            let rss_like = matches!(self.format(), RootFormat::Rss | RootFormat::Rdf);
            if rss_like && RSS_TEXT_ELEMENTS.contains(&local_name(&name)) {
                self.text_only_at = Some(self.stack.len());
            }
        }
        Ok(())
    }

    fn end(&mut self, name: &str) {
        if let Some(depth) = self.text_only_at {
            // The text element's own end tag, or an ancestor's (the text element was left
            // open), ends the text; any other end tag is part of the pasted HTML.
            let closes_text = self
                .stack
                .get(..depth)
                .is_some_and(|open| open.iter().any(|open| open.name == name));
            if !closes_text {
                self.out.push_str("&lt;/");
                push_escaped_text(&mut self.out, name);
                self.out.push_str("&gt;");
                return;
            }
            self.text_only_at = None;
        }
        if let Some(at) = self.stack.iter().rposition(|open| open.name == name) {
            if at == 0 {
                self.ensure_channel();
            }
            self.close_to(at);
        }
    }

    /// Writes a start tag (or an empty-element tag) with repaired attributes and tracks it.
    fn open(&mut self, start: &BytesStart<'_>, name: &str, empty: bool) {
        let is_root = self.root.is_none();
        let local = local_name(name);
        // An <rss> whose items sit directly under it: give them the <channel> feed-rs wants.
        if self.stack.len() == 1
            && let Some(root) = self.root.as_mut()
            && root.format == RootFormat::Rss
            && !root.channel_seen
        {
            root.channel_seen = true;
            if local != "channel" {
                self.out.push_str("<channel>");
                self.stack.push(Open {
                    name: "channel".into(),
                    emitted: "channel".into(),
                });
            }
        }
        let (emitted, format) = if is_root {
            canonical_root(name)
        } else {
            (name.to_string(), RootFormat::Other)
        };
        note_prefix(&emitted, &mut self.used_prefixes);
        self.out.push('<');
        self.out.push_str(&emitted);
        let mut seen = HashSet::new();
        let mut has_version = false;
        let mut attributes = start.html_attributes();
        attributes.with_checks(false);
        for attribute in attributes {
            let Ok(attribute) = attribute else { break };
            let Ok(key) = std::str::from_utf8(attribute.key.as_ref()) else {
                continue;
            };
            if !is_xml_name(key) || !seen.insert(key.to_string()) {
                continue;
            }
            let mut value = String::from_utf8_lossy(&attribute.value).into_owned();
            if key == "xml:base" && !usable_base(&value) {
                continue;
            }
            // Atom's text constructs only: `media:title type="plain"` is Media RSS's own
            // vocabulary, and rewriting it made feed-rs refuse the whole document.
            if key == "type" && matches!(name.split_once(':'), None | Some(("atom", _))) {
                value = normalize_text_type(local, &value);
            }
            // Media RSS text is `plain` or `html`; feed-rs refuses the whole document over any
            // other word, where the default (`plain`) loses nothing.
            if key == "type"
                && name.starts_with("media:")
                && MEDIA_TEXT_ELEMENTS.contains(&local)
                && !matches!(value.trim(), "plain" | "html")
            {
                continue;
            }
            if is_root && key == "xmlns" {
                match format {
                    // RSS 2.0 has no namespace; feed-rs ignores elements put in one (Userland's
                    // `http://backend.userland.com/rss2`, or Atom's by mistake).
                    RootFormat::Rss => continue,
                    // RSS 0.90's namespace: the same elements as RSS 1.0.
                    RootFormat::Rdf if value.trim().starts_with(RSS_090_NS) => {
                        value = RSS_10_NS.to_string();
                    }
                    _ => {}
                }
            }
            if is_root && format == RootFormat::Rss && key == "version" {
                has_version = true;
                if !matches!(value.trim(), "2.0" | "0.91" | "0.92") {
                    value = "2.0".to_string();
                }
            }
            if let Some(prefix) = key.strip_prefix("xmlns:") {
                self.declared_prefixes.insert(prefix.to_string());
            } else if key != "xmlns" {
                note_prefix(key, &mut self.used_prefixes);
            }
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            self.out
                .push_str(&value.replace('"', "&quot;").replace('<', "&lt;"));
            self.out.push('"');
        }
        if is_root && format == RootFormat::Rss && !has_version {
            self.out.push_str(" version=\"2.0\"");
        }
        if is_root {
            self.root = Some(Root {
                insert_at: self.out.len(),
                format,
                channel_seen: false,
                closed: empty,
            });
        }
        if empty && is_root && format == RootFormat::Rss {
            self.out.push_str("><channel></channel></");
            self.out.push_str(&emitted);
            self.out.push('>');
        } else if empty {
            self.out.push_str("/>");
        } else {
            self.out.push('>');
            self.stack.push(Open {
                name: name.to_string(),
                emitted,
            });
        }
    }

    /// Closes what is open and declares the prefixes the document used but never declared.
    /// Before the root closes: an `<rss>` with no channel at all is an empty feed, not a
    /// foreign document, so it gets an empty `<channel>`.
    fn ensure_channel(&mut self) {
        if let Some(root) = self.root.as_mut()
            && root.format == RootFormat::Rss
            && !root.channel_seen
            && !self.stack.is_empty()
        {
            root.channel_seen = true;
            self.close_to(1);
            self.out.push_str("<channel></channel>");
        }
    }

    fn finish(mut self, stopped_at: Option<(u64, String)>) -> Repaired {
        self.ensure_channel();
        self.close_to(0);
        if let Some(root) = &self.root {
            let declarations: String = self
                .used_prefixes
                .iter()
                .filter(|prefix| !self.declared_prefixes.contains(*prefix))
                .map(|prefix: &String| {
                    let uri = KNOWN_PREFIXES
                        .iter()
                        .find(|(known, _)| known == prefix)
                        .map_or_else(
                            || format!("urn:x-tributary:undeclared:{prefix}"),
                            |(_, uri)| (*uri).to_string(),
                        );
                    format!(" xmlns:{prefix}=\"{uri}\"")
                })
                .collect();
            if !declarations.is_empty() && root.insert_at <= self.out.len() {
                self.out.insert_str(root.insert_at, &declarations);
            }
        }
        Repaired {
            text: self.out,
            stopped_at,
        }
    }
}

/// The root's name with its local part in the case feed-rs matches (`<RSS>` -> `<rss>`,
/// `<rdf>` -> `<RDF>`), and the format it announces.
fn canonical_root(name: &str) -> (String, RootFormat) {
    let (prefix, local) = match name.rsplit_once(':') {
        Some((prefix, local)) => (Some(prefix), local),
        None => (None, name),
    };
    let (local, format) = match local.to_ascii_lowercase().as_str() {
        "rss" => ("rss".to_string(), RootFormat::Rss),
        "rdf" => ("RDF".to_string(), RootFormat::Rdf),
        "feed" => ("feed".to_string(), RootFormat::Atom),
        _ => (local.to_string(), RootFormat::Other),
    };
    let emitted = match prefix {
        Some(prefix) => format!("{prefix}:{local}"),
        None => local,
    };
    (emitted, format)
}

/// The element's qualified name, if it is one a namespace-aware parser accepts.
fn element_name(start: &BytesStart<'_>) -> Option<String> {
    let name = std::str::from_utf8(start.name().as_ref()).ok()?.to_string();
    is_xml_name(&name).then_some(name)
}

fn note_prefix(qname: &str, used: &mut BTreeSet<String>) {
    if let Some((prefix, _)) = qname.split_once(':')
        && prefix != "xml"
        && prefix != "xmlns"
    {
        used.insert(prefix.to_string());
    }
}

/// An `xml:base` feed-rs can use: relative, or an absolute URL that parses (feed-rs fails the
/// whole document on one that does not).
fn usable_base(value: &str) -> bool {
    match Url::parse(value.trim()) {
        Ok(_) | Err(url::ParseError::RelativeUrlWithoutBase) => true,
        Err(_) => false,
    }
}

/// Atom text constructs accept only `text`, `html` and `xhtml`; feed-rs rejects the document
/// on anything else, and Atom 0.3 feeds write MIME types there.
fn normalize_text_type(element: &str, value: &str) -> String {
    let lower = value.trim().to_ascii_lowercase();
    let text_construct = matches!(
        element,
        "title" | "subtitle" | "summary" | "rights" | "tagline"
    );
    // Anything else (a `<link>`, an enclosure) has a MIME type there, which must stay one.
    if !text_construct && element != "content" {
        return value.to_string();
    }
    match lower.as_str() {
        "text/plain" | "text" => "text".to_string(),
        "text/html" | "html" => "html".to_string(),
        "application/xhtml+xml" | "xhtml" => "xhtml".to_string(),
        _ if text_construct => "text".to_string(),
        _ => value.to_string(),
    }
}

/// Writes a tag that cannot be an element (a bad name, or markup inside an RSS text element)
/// as text.
fn escape_tag(out: &mut String, start: &BytesStart<'_>, empty: bool) {
    out.push_str("&lt;");
    push_escaped_text(out, &String::from_utf8_lossy(start.as_ref()));
    out.push_str(if empty { "/&gt;" } else { "&gt;" });
}

/// Appends already reference-clean raw text, escaping only what would start or end markup.
fn push_escaped_text(out: &mut String, raw: &str) {
    for ch in raw.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
}

/// The deepest element nesting in the document, counted the way a forgiving reader would (an
/// end tag closes back to its match; an unmatched one is ignored; HTML void elements such as
/// `<br>` open nothing), stopping once past `cap`. Comments, CDATA, processing instructions and
/// the DOCTYPE do not count.
pub(crate) fn max_depth(text: &str, cap: usize) -> usize {
    let bytes = text.as_bytes();
    let mut stack: Vec<&[u8]> = Vec::new();
    let mut deepest = 0;
    let mut i = 0;
    while let Some(offset) = bytes
        .get(i..)
        .and_then(|rest| rest.iter().position(|b| *b == b'<'))
    {
        i += offset;
        let rest = &bytes[i..];
        if rest.starts_with(b"<![CDATA[") {
            i = find(bytes, i + 9, b"]]>").map_or(bytes.len(), |e| e + 3);
        } else if rest.starts_with(b"<!--") {
            i = find(bytes, i + 4, b"-->").map_or(bytes.len(), |e| e + 3);
        } else if rest.starts_with(b"<!") {
            i = skip_doctype(bytes, i);
        } else if rest.starts_with(b"<?") {
            i = find(bytes, i + 2, b"?>").map_or(bytes.len(), |e| e + 2);
        } else if rest.starts_with(b"</") {
            let name = tag_name(&rest[2..]);
            if let Some(at) = stack.iter().rposition(|open| *open == name) {
                stack.truncate(at);
            }
            i = tag_end(bytes, i).0;
        } else if rest.get(1).is_some_and(|b| is_name_start(*b)) {
            let name = tag_name(&rest[1..]);
            let (end, self_closing) = tag_end(bytes, i);
            let is_void = HTML_VOID
                .iter()
                .any(|v| v.as_bytes().eq_ignore_ascii_case(name));
            if !self_closing && !is_void {
                // HTML closes an open <p> (<li>, <td>, ...) when the next one starts.
                let implied_end = HTML_SELF_ENDING
                    .iter()
                    .any(|v| v.as_bytes().eq_ignore_ascii_case(name));
                if implied_end
                    && stack
                        .last()
                        .is_some_and(|top| top.eq_ignore_ascii_case(name))
                {
                    stack.pop();
                }
                stack.push(name);
                deepest = deepest.max(stack.len());
                if deepest > cap {
                    return deepest;
                }
            }
            i = end;
        } else {
            i += 1;
        }
    }
    deepest
}

fn tag_name(bytes: &[u8]) -> &[u8] {
    let len = bytes
        .iter()
        .position(|b| !is_name_byte(*b))
        .unwrap_or(bytes.len());
    &bytes[..len]
}

/// The index after the `>` ending the tag at `start` (quotes respected), and whether the tag
/// was self-closing.
fn tag_end(bytes: &[u8], start: usize) -> (usize, bool) {
    let mut quote: Option<u8> = None;
    for (offset, byte) in bytes[start..].iter().enumerate() {
        match (quote, *byte) {
            (Some(q), b) if b == q => quote = None,
            (None, b'"' | b'\'') => quote = Some(*byte),
            (None, b'>') => {
                let at = start + offset;
                return (at + 1, at > 0 && bytes[at - 1] == b'/');
            }
            // Inside quotes every byte but the closing quote is text.
            _ => {}
        }
    }
    (bytes.len(), false)
}

/// The qualified name of the document element, skipping the prolog (declaration, comments,
/// processing instructions, DOCTYPE). `None` when text comes first or there is no element.
pub(crate) fn root_element_name(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    loop {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let rest = bytes.get(i..)?;
        if rest.starts_with(b"<!--") {
            i = find(bytes, i + 4, b"-->")? + 3;
        } else if rest.starts_with(b"<?") {
            i = find(bytes, i + 2, b"?>")? + 2;
        } else if rest.starts_with(b"<!") {
            i = skip_doctype(bytes, i);
        } else if rest.first() == Some(&b'<') && rest.get(1).is_some_and(|b| is_name_start(*b)) {
            let name = tag_name(&rest[1..]);
            return std::str::from_utf8(name).ok().map(str::to_string);
        } else {
            return None;
        }
    }
}

/// Whether the document is an HTML page (a site's home page, a login wall, an error page)
/// rather than a feed.
pub(crate) fn looks_like_html(text: &str) -> bool {
    let start = text.trim_start_matches(['\u{FEFF}', ' ', '\t', '\r', '\n']);
    starts_with_ignore_case(start.as_bytes(), b"<!DOCTYPE html")
        || root_element_name(start).is_some_and(|name| {
            ["html", "head", "body"]
                .iter()
                .any(|html| name.eq_ignore_ascii_case(html))
        })
}

/// The first error a strict XML reader reports, with its byte offset in `text`.
pub(crate) fn first_xml_error(text: &str) -> Option<(u64, String)> {
    let mut reader = Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return None,
            Ok(_) => {}
            Err(error) => return Some((reader.error_position(), error.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repaired(text: &str) -> String {
        repair(text).expect("not too deep").text
    }

    #[test]
    fn junk_before_the_document_is_dropped() {
        assert_eq!(
            strip_leading_junk("<br />\n<b>Warning</b>: x\n<?xml version=\"1.0\"?><rss/>"),
            "<?xml version=\"1.0\"?><rss/>"
        );
        assert_eq!(
            strip_leading_junk("garbage <rss version=\"2.0\"/>"),
            "<rss version=\"2.0\"/>"
        );
        assert_eq!(strip_leading_junk("<!-- c --><feed/>"), "<!-- c --><feed/>");
    }

    #[test]
    fn entities_and_ampersands_become_xml() {
        assert_eq!(
            fix_text("<t>a&nbsp;b &mdash; c & d &amp; e &bogus; &#150;</t>"),
            "<t>a&#160;b &#8212; c &amp; d &amp; e &amp;bogus; &#8211;</t>"
        );
        assert_eq!(
            fix_text(r#"<a href="x?a=1&b=2&copy=3">"#),
            r#"<a href="x?a=1&amp;b=2&amp;copy=3">"#
        );
        assert_eq!(fix_text("<t>&#0;x&#xD800;</t>"), "<t>x</t>");
    }

    #[test]
    fn cdata_is_left_alone_but_comments_and_doctype_go() {
        assert_eq!(
            fix_text(
                "<!DOCTYPE rss [<!ENTITY x \"y\">]><t><![CDATA[a &nbsp; <b>]]><!-- &c --></t>"
            ),
            "<t><![CDATA[a &nbsp; <b>]]></t>"
        );
        assert_eq!(fix_text("<t><![CDATA[open"), "<t><![CDATA[open]]>");
    }

    #[test]
    fn stray_angle_brackets_and_controls() {
        assert_eq!(
            fix_text("<t>1 < 2 <3 \u{1}ok\u{FFFE}</t>"),
            "<t>1 &lt; 2 &lt;3 ok</t>"
        );
        assert_eq!(fix_text("<a href=\"x<y\">"), "<a href=\"x&lt;y\">");
        assert_eq!(fix_text("<a b=\"c\" <d>"), "<a b=\"c\" ><d>");
    }

    #[test]
    fn balancing_closes_and_drops() {
        assert_eq!(
            repaired("<rss version=\"2.0\"><channel><item><title>x</item></channel></rss>"),
            "<rss version=\"2.0\"><channel><item><title>x</title></item></channel></rss>"
        );
        assert_eq!(
            repaired("<feed></bogus><entry><title>x</title>"),
            "<feed><entry><title>x</title></entry></feed>"
        );
        assert_eq!(repaired("<feed></feed>trailing<feed>"), "<feed></feed>");
    }

    #[test]
    fn items_never_nest() {
        assert_eq!(
            repaired(
                "<rss version=\"2.0\"><channel><itunes:category text=\"a\"><item><title>1</title><item><title>2</title></channel></rss>"
            ),
            "<rss version=\"2.0\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\"><channel><itunes:category text=\"a\"></itunes:category><item><title>1</title></item><item><title>2</title></item></channel></rss>"
        );
        assert_eq!(
            repaired("<feed><entry><summary>open<entry><title>b</title></entry></feed>"),
            "<feed><entry><summary>open</summary></entry><entry><title>b</title></entry></feed>"
        );
        assert_eq!(
            repaired(
                "<rss version=\"2.0\"><channel><item><description>a <p>b\n<item><title>c</title></item></channel></rss>"
            ),
            "<rss version=\"2.0\"><channel><item><description>a &lt;p&gt;b\n</description></item><item><title>c</title></item></channel></rss>"
        );
    }

    #[test]
    fn root_names_are_recased() {
        assert_eq!(
            repaired("<rdf><item><title>x</title></item></rdf>"),
            "<RDF><item><title>x</title></item></RDF>"
        );
        assert_eq!(
            repaired("<RSS><channel/></RSS>"),
            "<rss version=\"2.0\"><channel/></rss>"
        );
    }

    #[test]
    fn foreign_default_namespaces_are_fixed() {
        assert_eq!(
            repaired(
                "<rss version=\"2.0\" xmlns=\"http://backend.userland.com/rss2\"><channel/></rss>"
            ),
            "<rss version=\"2.0\"><channel/></rss>"
        );
        assert_eq!(
            repaired(
                "<rdf:RDF xmlns:rdf=\"r\" xmlns=\"http://my.netscape.com/rdf/simple/0.9/\"><item/></rdf:RDF>"
            ),
            "<rdf:RDF xmlns:rdf=\"r\" xmlns=\"http://purl.org/rss/1.0/\"><item/></rdf:RDF>"
        );
        assert_eq!(
            embedded_feed_start("<html><body><feed xmlns=\"a\">"),
            Some(12)
        );
        assert_eq!(embedded_feed_start("<html><body><p>feedback</p>"), None);
    }

    #[test]
    fn rss_without_channel_is_an_empty_feed() {
        assert_eq!(
            repaired("<rss>\n</rss>"),
            "<rss version=\"2.0\">\n<channel></channel></rss>"
        );
        assert_eq!(
            repaired("<rss/>"),
            "<rss version=\"2.0\"><channel></channel></rss>"
        );
        assert_eq!(
            repaired("<rss>"),
            "<rss version=\"2.0\"><channel></channel></rss>"
        );
    }

    #[test]
    fn rss_gets_version_and_channel() {
        assert_eq!(
            repaired("<rss><item><title>x</title></item></rss>"),
            "<rss version=\"2.0\"><channel><item><title>x</title></item></channel></rss>"
        );
        assert_eq!(
            repaired("<rss version=\"0.94\"><channel/></rss>"),
            "<rss version=\"2.0\"><channel/></rss>"
        );
    }

    #[test]
    fn undeclared_prefixes_are_declared_on_the_root() {
        let out = repaired(
            "<rss version=\"2.0\"><channel><itunes:author>a</itunes:author><foo:bar/></channel></rss>",
        );
        assert!(out.starts_with(
            "<rss version=\"2.0\" xmlns:foo=\"urn:x-tributary:undeclared:foo\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\">"
        ), "{out}");
        let declared =
            "<rss xmlns:itunes=\"u\" version=\"2.0\"><channel><itunes:a/></channel></rss>";
        assert_eq!(repaired(declared), declared);
    }

    #[test]
    fn html_inside_rss_text_elements_becomes_text() {
        assert_eq!(
            repaired(
                "<rss version=\"2.0\"><channel><item><description>a <p>b<br>c</p></description></item></channel></rss>"
            ),
            "<rss version=\"2.0\"><channel><item><description>a &lt;p&gt;b&lt;br&gt;c&lt;/p&gt;</description></item></channel></rss>"
        );
    }

    #[test]
    fn attributes_are_repaired() {
        assert_eq!(
            repaired(
                "<feed><link href=unquoted rel='alternate' rel=\"dup\" xml:base=\"http://[bad\"/></feed>"
            ),
            "<feed><link href=\"unquoted\" rel=\"alternate\"/></feed>"
        );
        assert_eq!(
            repaired("<feed><title type=\"text/plain\">x</title></feed>"),
            "<feed><title type=\"text\">x</title></feed>"
        );
        assert_eq!(
            repaired("<feed><link type=\"text/html\" href=\"x\"/></feed>"),
            "<feed><link type=\"text/html\" href=\"x\"/></feed>"
        );
        assert_eq!(
            repaired(
                "<rss><channel><item><media:description type=\"text/html\">x</media:description></item></channel></rss>"
            ),
            "<rss version=\"2.0\" xmlns:media=\"http://search.yahoo.com/mrss/\"><channel><item><media:description>x</media:description></item></channel></rss>"
        );
        // Media RSS's own `type` vocabulary is not Atom's.
        assert_eq!(
            repaired(
                "<rss><channel><item><media:title type=\"plain\">x</media:title></item></channel></rss>"
            ),
            "<rss version=\"2.0\" xmlns:media=\"http://search.yahoo.com/mrss/\"><channel><item><media:title type=\"plain\">x</media:title></item></channel></rss>"
        );
    }

    #[test]
    fn bad_element_names_become_text() {
        assert_eq!(
            repaired(
                "<rss version=\"2.0\"><channel><author>Jo <jo@example.com></author></channel></rss>"
            ),
            "<rss version=\"2.0\"><channel><author>Jo &lt;jo@example.com&gt;</author></channel></rss>"
        );
    }

    #[test]
    fn too_deep_is_refused() {
        let deep = "<a>".repeat(MAX_DEPTH + 5);
        assert!(matches!(balance(&deep), Err(TooDeep)));
        assert_eq!(max_depth(&deep, MAX_DEPTH), MAX_DEPTH + 1);
    }

    #[test]
    fn depth_counts_like_a_forgiving_reader() {
        assert_eq!(max_depth("<a><b/><c><![CDATA[<x><y>]]></c></a>", 100), 2);
        assert_eq!(max_depth("<a><p>x<br>y</p><p>z<br></p></a>", 100), 2);
        assert_eq!(max_depth("<a><p>1<p>2<p>3</a><b/>", 100), 2);
        assert_eq!(max_depth("<a><b>1<b>2<b>3</a><b/>", 100), 4);
        assert_eq!(max_depth("<a title=\"<b>\"><!-- <c> --></a>", 100), 1);
        assert_eq!(max_depth("<div><br><img src=x><p>a<br></p></div>", 100), 2);
    }

    #[test]
    fn probes() {
        assert_eq!(
            root_element_name("<?xml version=\"1.0\"?>\n<!-- x -->\n<!DOCTYPE rss>\n<rss:RDF>"),
            Some("rss:RDF".into())
        );
        assert_eq!(root_element_name("junk <rss>"), None);
        assert!(looks_like_html("<!doctype html><html><body>"));
        assert!(looks_like_html("\n<HTML lang=en>"));
        assert!(looks_like_html("<head><title>Moved</title></head><body>"));
        assert!(!looks_like_html("<rss/>"));
        assert!(first_xml_error("<a><b></a>").is_some());
        assert_eq!(first_xml_error("<a><b/></a>"), None);
    }

    #[test]
    fn names() {
        assert!(is_xml_name("itunes:duration"));
        assert!(is_xml_name("_x.y-z"));
        assert!(!is_xml_name("jo@example.com"));
        assert!(!is_xml_name(":x"));
        assert!(!is_xml_name("a:b:c"));
        assert!(!is_xml_name("3x"));
    }
}
