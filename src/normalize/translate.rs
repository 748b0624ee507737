//! Formats feed-rs does not read, rewritten into the nearest format it does: Atom 0.3 into Atom
//! 1.0, RSS 0.90 and RSS 1.0 (whose items feed-rs drops unless they have a `<link>`) into RSS
//! 2.0, RSS 2.0 put in a namespace into plain RSS 2.0, Atom entries written as `<item>` into
//! `<entry>`.
//!
//! The design decision: **a legacy format is translated, not parsed.** Like [`super::repair`],
//! this is a rewrite of the document, so each field still has one interpretation (feed-rs's
//! reading of the format it is translated into). Each rename is a row in a table, from the format's own
//! specification (Atom 0.3: draft-ietf-atompub-format-03 / the 0.3 snapshot; RSS 1.0: the
//! RSS-DEV spec, whose `rdf:about` "should be identical to the value of the `<link>`").
//!
//! It runs on the output of [`super::repair`], so its input is well-formed: it reads the
//! document into a small tree (the depth is already bounded by [`super::MAX_DEPTH`]), rewrites
//! the tree and writes it out. Text and attribute values stay as the document escaped them.

use base64::Engine as _;
use quick_xml::NsReader;
use quick_xml::escape::{escape, unescape};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

const ATOM_03_NS: &str = "http://purl.org/atom/ns#";
const ATOM_10_NS: &str = "http://www.w3.org/2005/Atom";
const RDF_NS: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
/// RSS 0.90's namespace, as Netscape published it and as some feeds wrote it.
const RSS_090_NS: &[&str] = &[
    "http://my.netscape.com/rdf/simple/0.9/",
    "http://channel.netscape.com/rdf/simple/0.9/",
];
const RSS_10_NS: &str = "http://purl.org/rss/1.0/";

/// Atom 0.3 elements renamed to their Atom 1.0 successors (the 1.0 draft's "changes from 0.3").
const ATOM_03_RENAMES: &[(&str, &str)] = &[
    ("tagline", "subtitle"),
    ("copyright", "rights"),
    ("modified", "updated"),
    ("issued", "published"),
    // A person's home page.
    ("url", "uri"),
];

/// Atom 0.3 text constructs and content, which carry a MIME `type` and a `mode`.
const ATOM_03_TEXT: &[&str] = &[
    "title",
    "tagline",
    "subtitle",
    "summary",
    "content",
    "copyright",
    "rights",
    "info",
];

/// One element of the document tree.
#[derive(Debug, Clone)]
struct Element {
    /// The qualified name as written.
    qname: String,
    /// The namespace the name resolves to.
    ns: Option<String>,
    /// Name and value, the value as the document escaped it.
    attributes: Vec<(String, String)>,
    children: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Element(Element),
    /// Character data as the document escaped it.
    Text(String),
    CData(String),
}

impl Element {
    fn local(&self) -> &str {
        self.qname
            .rsplit_once(':')
            .map_or(self.qname.as_str(), |(_, local)| local)
    }

    fn in_ns(&self, uris: &[&str]) -> bool {
        self.ns.as_deref().is_some_and(|ns| uris.contains(&ns))
    }

    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn child_elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            _ => None,
        })
    }

    /// Whether it has no element children and only whitespace as text.
    fn is_blank(&self) -> bool {
        self.children.iter().all(|node| match node {
            Node::Element(_) => false,
            Node::Text(text) | Node::CData(text) => text.trim().is_empty(),
        })
    }

    fn leaf(qname: &str, escaped_text: String) -> Element {
        Element {
            qname: qname.to_string(),
            ns: None,
            attributes: Vec::new(),
            children: vec![Node::Text(escaped_text)],
        }
    }
}

/// The document rewritten into a format feed-rs reads, or `None` when it is not one of the
/// formats this translates (or cannot be read as a tree).
pub(crate) fn translate(text: &str) -> Option<String> {
    // Most documents that reach here are broken RSS 2.0 or Atom 1.0: no tree for those.
    if !may_translate(text) {
        return None;
    }
    let (prolog, root) = read_tree(text)?;
    let translated = match root.local() {
        "feed" if is_atom_03(&root) => {
            let mut root = root;
            items_as_entries(&mut root);
            atom_03(root)
        }
        "feed" => {
            let mut root = root;
            if !items_as_entries(&mut root) {
                return None;
            }
            root
        }
        "RDF" => rdf_to_rss2(root),
        "rss" if root.ns.is_some() => rss_out_of_namespace(root),
        name if root.ns.is_none() && name.eq_ignore_ascii_case("channel") => cdf_to_rss2(&root),
        _ => return None,
    };
    let mut out = String::with_capacity(text.len() + 256);
    out.push_str(&prolog);
    write_element(&translated, &mut out);
    Some(out)
}

/// Whether the document element is one [`translate`] may rewrite, from its start tag alone.
fn may_translate(text: &str) -> bool {
    let mut reader = NsReader::from_str(text);
    loop {
        match reader.read_resolved_event() {
            Ok((resolved, Event::Start(start) | Event::Empty(start))) => {
                let Some(root) = element(&resolved, &start) else {
                    return false;
                };
                return match root.local() {
                    "feed" => is_atom_03(&root) || text.contains("<item"),
                    "RDF" => true,
                    "rss" => root.ns.is_some(),
                    name => root.ns.is_none() && name.eq_ignore_ascii_case("channel"),
                };
            }
            Ok((_, Event::Eof)) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

/// The XML declaration, if any, and the document element.
fn read_tree(text: &str) -> Option<(String, Element)> {
    let mut reader = NsReader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut prolog = String::new();
    let mut stack: Vec<Element> = Vec::new();
    loop {
        let (resolved, event) = reader.read_resolved_event().ok()?;
        match event {
            Event::Decl(_) if stack.is_empty() => {
                prolog = r#"<?xml version="1.0" encoding="UTF-8"?>"#.to_string();
            }
            Event::Start(start) => stack.push(element(&resolved, &start)?),
            Event::Empty(start) => {
                let element = element(&resolved, &start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(element)),
                    None => return Some((prolog, element)),
                }
            }
            Event::End(_) => {
                let done = stack.pop()?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(done)),
                    None => return Some((prolog, done)),
                }
            }
            Event::Text(content) => {
                if let Some(parent) = stack.last_mut() {
                    push_text(parent, &String::from_utf8_lossy(content.as_ref()));
                }
            }
            Event::GeneralRef(reference) => {
                if let Some(parent) = stack.last_mut() {
                    let name = String::from_utf8_lossy(reference.as_ref());
                    push_text(parent, &format!("&{name};"));
                }
            }
            Event::CData(content) => {
                if let Some(parent) = stack.last_mut() {
                    let raw = String::from_utf8_lossy(content.as_ref()).into_owned();
                    parent.children.push(Node::CData(raw));
                }
            }
            Event::Eof => return None,
            Event::Comment(_) | Event::PI(_) | Event::DocType(_) | Event::Decl(_) => {}
        }
    }
}

fn push_text(parent: &mut Element, raw: &str) {
    if let Some(Node::Text(text)) = parent.children.last_mut() {
        text.push_str(raw);
    } else {
        parent.children.push(Node::Text(raw.to_string()));
    }
}

fn element(resolved: &ResolveResult<'_>, start: &BytesStart<'_>) -> Option<Element> {
    let qname = std::str::from_utf8(start.name().as_ref()).ok()?.to_string();
    let ns = match resolved {
        ResolveResult::Bound(ns) => Some(String::from_utf8_lossy(ns.as_ref()).trim().to_string()),
        _ => None,
    };
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.ok()?;
        let key = std::str::from_utf8(attribute.key.as_ref())
            .ok()?
            .to_string();
        let value = String::from_utf8_lossy(&attribute.value).into_owned();
        attributes.push((key, value));
    }
    Some(Element {
        qname,
        ns,
        attributes,
        children: Vec::new(),
    })
}

fn write_element(element: &Element, out: &mut String) {
    out.push('<');
    out.push_str(&element.qname);
    for (key, value) in &element.attributes {
        out.push(' ');
        out.push_str(key);
        out.push_str("=\"");
        // Values are kept escaped; only the delimiter needs care (a value read from `'...'`).
        out.push_str(&value.replace('"', "&quot;"));
        out.push('"');
    }
    if element.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    write_children(&element.children, out);
    out.push_str("</");
    out.push_str(&element.qname);
    out.push('>');
}

fn write_children(children: &[Node], out: &mut String) {
    for node in children {
        match node {
            Node::Element(child) => write_element(child, out),
            Node::Text(text) => out.push_str(text),
            Node::CData(text) => {
                out.push_str("<![CDATA[");
                out.push_str(text);
                out.push_str("]]>");
            }
        }
    }
}

/// The text content of nodes, unescaped.
fn plain_content(children: &[Node]) -> String {
    let mut text = String::new();
    for node in children {
        match node {
            Node::Element(child) => text.push_str(&plain_content(&child.children)),
            Node::Text(raw) => {
                text.push_str(&unescape(raw).map_or_else(|_| raw.clone(), String::from));
            }
            Node::CData(raw) => text.push_str(raw),
        }
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Atom 0.3

fn is_atom_03(root: &Element) -> bool {
    root.in_ns(&[ATOM_03_NS])
        || (root.ns.is_none()
            && root
                .attribute("version")
                .is_some_and(|v| matches!(v.trim(), "0.1" | "0.2" | "0.3")))
}

fn atom_03(mut root: Element) -> Element {
    root.attributes.retain(|(key, _)| key != "version");
    if root.ns.is_none() {
        root.attributes
            .push(("xmlns".to_string(), ATOM_10_NS.to_string()));
    }
    atom_03_element(&mut root, true);
    root
}

/// Rewrites one Atom 0.3 element (and what it holds) in place.
fn atom_03_element(element: &mut Element, in_atom: bool) {
    for (key, value) in &mut element.attributes {
        if (key == "xmlns" || key.starts_with("xmlns:")) && value.trim() == ATOM_03_NS {
            *value = ATOM_10_NS.to_string();
        }
    }
    // Elements in Atom 0.3's namespace (or in none, in a document that declared none).
    let is_atom = element.in_ns(&[ATOM_03_NS]) || (in_atom && element.ns.is_none());
    if !is_atom {
        return;
    }
    if ATOM_03_TEXT.contains(&element.local()) {
        atom_03_text(element);
        return;
    }
    if element.local() == "generator" {
        for (key, _) in &mut element.attributes {
            if key == "url" {
                *key = "uri".to_string();
            }
        }
    }
    // `created` is the date of last resort: Atom 1.0 has one `published`, which `issued` fills.
    let has_issued = element
        .child_elements()
        .any(|child| child.in_ns(&[ATOM_03_NS]) && child.local() == "issued");
    let in_atom_children = in_atom && element.ns.is_none();
    element.children.retain_mut(|node| {
        let Node::Element(child) = node else {
            return true;
        };
        let child_is_atom = child.in_ns(&[ATOM_03_NS]) || (in_atom_children && child.ns.is_none());
        if child_is_atom {
            match child.local() {
                "created" if has_issued => return false,
                "created" => rename(child, "published"),
                local => {
                    if let Some((_, new)) = ATOM_03_RENAMES.iter().find(|(old, _)| *old == local) {
                        rename(child, new);
                    }
                }
            }
        }
        atom_03_element(child, in_atom_children);
        // feed-rs fails a whole document on an empty text construct (one written empty, or
        // whose base64 did not decode).
        !(child_is_atom && ATOM_03_TEXT.contains(&child.local()) && child.is_blank())
    });
}

fn rename(element: &mut Element, local: &str) {
    element.qname = match element.qname.split_once(':') {
        Some((prefix, _)) => format!("{prefix}:{local}"),
        None => local.to_string(),
    };
}

/// An Atom 0.3 text construct: `type` is a MIME type (default `text/plain`) and `mode` says
/// how the value is carried (`xml`, the default: inline markup; `escaped`; `base64`). Atom
/// 1.0 says `text`, `html` or `xhtml`; the value becomes escaped text of the matching type.
fn atom_03_text(element: &mut Element) {
    if element
        .attribute("type")
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/alternative"))
    {
        // One value in several types, each a `content` of its own: the richest one stands.
        let parts: Vec<Element> = element.child_elements().cloned().collect();
        let pick = parts
            .iter()
            .find(|part| part.attribute("type").is_some_and(|t| t.contains("html")))
            .or_else(|| parts.first());
        match pick {
            Some(part) => {
                element.attributes.clone_from(&part.attributes);
                element.children.clone_from(&part.children);
            }
            None => element.children.clear(),
        }
    }
    let mime = element.attribute("type").map_or_else(
        || "text/plain".to_string(),
        |t| t.trim().to_ascii_lowercase(),
    );
    let mode = element
        .attribute("mode")
        .map_or_else(|| "xml".to_string(), |m| m.trim().to_ascii_lowercase());
    let markup = mime.contains("html") || mime.contains("xml");
    let body = match mode.as_str() {
        "base64" => {
            let encoded: String = plain_content(&element.children)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            match base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes()) {
                Ok(bytes) => escape(String::from_utf8_lossy(&bytes).as_ref()).into_owned(),
                Err(_) => String::new(),
            }
        }
        "escaped" => {
            let mut raw = String::new();
            write_children(&element.children, &mut raw);
            raw
        }
        // Inline: element children are markup; written out, then escaped as HTML text.
        _ if element.child_elements().next().is_some() => {
            let mut markup_text = String::new();
            write_children(&element.children, &mut markup_text);
            element
                .attributes
                .retain(|(key, _)| key != "type" && key != "mode");
            element.attributes.push(("type".into(), "html".into()));
            element.children = vec![Node::Text(escape(markup_text.as_str()).into_owned())];
            return;
        }
        _ => {
            let mut raw = String::new();
            write_children(&element.children, &mut raw);
            raw
        }
    };
    let kind = match mime.as_str() {
        "text/plain" | "text" => "text",
        _ if markup => "html",
        // Content of another type (an image, say) keeps its MIME type.
        other if element.local() == "content" => other,
        _ => "text",
    };
    element
        .attributes
        .retain(|(key, _)| key != "type" && key != "mode");
    element.attributes.push(("type".into(), kind.to_string()));
    element.children = vec![Node::Text(body)];
}

// ---------------------------------------------------------------------------------------------
// Atom 1.0 with `<item>`s

/// Renames the entries of an Atom feed written as `<item>` (feedparser reads them) to
/// `<entry>`; whether there were any.
fn items_as_entries(root: &mut Element) -> bool {
    let mut renamed = false;
    for node in &mut root.children {
        if let Node::Element(child) = node
            && child.local() == "item"
            && child.ns == root.ns
        {
            rename(child, "entry");
            renamed = true;
        }
    }
    renamed
}

// ---------------------------------------------------------------------------------------------
// RSS 0.90 and 1.0

/// RSS 1.0 (and 0.90, the same elements in Netscape's namespace) as RSS 2.0: the items, which
/// RSS 1.0 puts beside the channel, go into it; an item's `rdf:about` stands in for a missing
/// `<link>`; the RDF plumbing (`items`, `rdf:Seq`) goes.
fn rdf_to_rss2(root: Element) -> Element {
    let rss_ns = |element: &Element| {
        element.ns.is_none() || element.in_ns(RSS_090_NS) || element.in_ns(&[RSS_10_NS])
    };
    let mut channel: Option<Element> = None;
    let mut rest: Vec<Node> = Vec::new();
    for node in root.children {
        match node {
            Node::Element(child) if rss_ns(&child) && child.local() == "channel" => {
                let mut child = unqualify(child, &rss_ns);
                child
                    .children
                    .retain(|n| !matches!(n, Node::Element(e) if e.local() == "items"));
                child.attributes.clear();
                channel.get_or_insert(child);
            }
            Node::Element(child) if rss_ns(&child) && child.local() == "item" => {
                let about = child.attribute("rdf:about").map(str::to_string);
                let mut item = unqualify(child, &rss_ns);
                item.attributes.clear();
                let has_link = item.child_elements().any(|e| e.qname == "link");
                if let Some(about) = about.filter(|about| !has_link && !about.trim().is_empty()) {
                    item.children
                        .push(Node::Element(Element::leaf("link", about)));
                }
                rest.push(Node::Element(item));
            }
            Node::Element(child) if rss_ns(&child) && child.local() == "image" => {
                let mut image = unqualify(child, &rss_ns);
                image.attributes.clear();
                rest.push(Node::Element(image));
            }
            // textinput and whatever else sits at the top has no place in RSS 2.0.
            _ => {}
        }
    }
    let mut channel = channel.unwrap_or(Element {
        qname: "channel".into(),
        ns: None,
        attributes: Vec::new(),
        children: Vec::new(),
    });
    channel.children.extend(rest);
    let mut attributes: Vec<(String, String)> = root
        .attributes
        .into_iter()
        .filter(|(key, value)| {
            key.starts_with("xmlns:")
                && value.trim() != RSS_10_NS
                && !RSS_090_NS.contains(&value.trim())
        })
        .collect();
    if !attributes.iter().any(|(key, _)| key == "xmlns:rdf") {
        attributes.push(("xmlns:rdf".into(), RDF_NS.into()));
    }
    attributes.insert(0, ("version".into(), "2.0".into()));
    Element {
        qname: "rss".into(),
        ns: None,
        attributes,
        children: vec![Node::Element(channel)],
    }
}

/// `element` and its descendants with the names `is_plain` accepts written without a prefix
/// (and without the default-namespace declaration that put them in one).
fn unqualify(mut element: Element, is_plain: &dyn Fn(&Element) -> bool) -> Element {
    if is_plain(&element) {
        element.qname = element.local().to_string();
        element.ns = None;
        element.attributes.retain(|(key, _)| key != "xmlns");
    }
    element.children = element
        .children
        .into_iter()
        .map(|node| match node {
            Node::Element(child) => Node::Element(unqualify(child, is_plain)),
            other => other,
        })
        .collect();
    element
}

// ---------------------------------------------------------------------------------------------
// RSS 2.0 in a namespace

/// RSS 2.0 whose elements were put in a namespace (Userland's `http://backend.userland.com/rss2`
/// with a prefix, say): feed-rs reads RSS 2.0 only without one.
fn rss_out_of_namespace(root: Element) -> Element {
    let ns = root.ns.clone();
    let mut root = unqualify(root, &|element: &Element| element.ns == ns);
    root.attributes
        .retain(|(key, value)| !(key.starts_with("xmlns") && Some(value.trim()) == ns.as_deref()));
    if root.attribute("version").is_none() {
        root.attributes.push(("version".into(), "2.0".into()));
    }
    root
}

// ---------------------------------------------------------------------------------------------
// CDF

/// Microsoft's Channel Definition Format (1997), which feedparser still reads: a `CHANNEL` of
/// `ITEM`s whose attributes carry the link (`HREF`) and date (`LASTMOD`), and whose children
/// the title and `ABSTRACT`. Element and attribute names are case-insensitive.
fn cdf_to_rss2(root: &Element) -> Element {
    let mut channel = cdf_fields(root, "channel");
    let mut items = Vec::new();
    collect_cdf_items(root, &mut items);
    channel
        .children
        .extend(items.into_iter().map(Node::Element));
    Element {
        qname: "rss".into(),
        ns: None,
        attributes: vec![("version".into(), "2.0".into())],
        children: vec![Node::Element(channel)],
    }
}

/// CDF's attributes and children, as the RSS 2.0 element `name`.
fn cdf_fields(element: &Element, name: &str) -> Element {
    let attribute = |wanted: &str| {
        element
            .attributes
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.clone())
    };
    let mut out = Element {
        qname: name.into(),
        ns: None,
        attributes: Vec::new(),
        children: Vec::new(),
    };
    if let Some(base) = attribute("base") {
        out.attributes.push(("xml:base".into(), base));
    }
    for child in element.child_elements() {
        let renamed = match child.qname.to_ascii_lowercase().as_str() {
            "title" => "title",
            "abstract" => "description",
            _ => continue,
        };
        let mut text = String::new();
        write_children(&child.children, &mut text);
        out.children
            .push(Node::Element(Element::leaf(renamed, text)));
    }
    if let Some(href) = attribute("href") {
        out.children
            .push(Node::Element(Element::leaf("link", href)));
    }
    if let Some(date) = attribute("lastmod") {
        let field = if name == "item" {
            "pubDate"
        } else {
            "lastBuildDate"
        };
        out.children.push(Node::Element(Element::leaf(field, date)));
    }
    out
}

/// Every `ITEM`, in document order, also those of nested channels.
fn collect_cdf_items(element: &Element, items: &mut Vec<Element>) {
    for child in element.child_elements() {
        match child.qname.to_ascii_lowercase().as_str() {
            "item" => items.push(cdf_fields(child, "item")),
            "channel" => collect_cdf_items(child, items),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translated(text: &str) -> String {
        translate(text).expect("a format this translates")
    }

    #[test]
    fn atom_03_becomes_atom_10() {
        let out = translated(
            r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>T</title><tagline mode="escaped" type="text/html">&lt;b&gt;t&lt;/b&gt;</tagline><modified>2004-01-01T00:00:00Z</modified><entry><title mode="base64" type="text/plain">SGk=</title><issued>2004-01-02T00:00:00Z</issued><created>2004-01-01T00:00:00Z</created><author><name>A</name><url>http://a.example/</url></author><content type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div></content><summary></summary></entry></feed>"#,
        );
        assert!(
            out.starts_with(r#"<feed xmlns="http://www.w3.org/2005/Atom">"#),
            "{out}"
        );
        assert!(
            out.contains(r#"<subtitle type="html">&lt;b&gt;t&lt;/b&gt;</subtitle>"#),
            "{out}"
        );
        assert!(
            out.contains("<updated>2004-01-01T00:00:00Z</updated>"),
            "{out}"
        );
        assert!(out.contains(r#"<title type="text">Hi</title>"#), "{out}");
        assert!(
            out.contains("<published>2004-01-02T00:00:00Z</published>"),
            "{out}"
        );
        assert!(!out.contains("created"), "{out}");
        assert!(out.contains("<uri>http://a.example/</uri>"), "{out}");
        assert!(
            out.contains(r#"<content type="html">&lt;div xmlns=&quot;http://www.w3.org/1999/xhtml&quot;&gt;&lt;p&gt;x&lt;/p&gt;&lt;/div&gt;</content>"#),
            "{out}"
        );
        assert!(
            !out.contains("summary"),
            "an empty text construct goes: {out}"
        );
    }

    #[test]
    fn multipart_content_keeps_its_html_part() {
        let out = translated(
            r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry><content type="multipart/alternative"><content type="text/plain">plain</content><content type="text/html" mode="escaped">&lt;b&gt;rich&lt;/b&gt;</content></content></entry></feed>"#,
        );
        assert!(
            out.contains(r#"<content type="html">&lt;b&gt;rich&lt;/b&gt;</content>"#),
            "{out}"
        );
        let out = translated(
            r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry><title>t</title><content mode="base64">not base64!</content></entry></feed>"#,
        );
        assert!(!out.contains("content"), "undecodable content goes: {out}");
    }

    #[test]
    fn created_stands_in_for_a_missing_issued() {
        let out = translated(
            r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry><created>2004-01-01T00:00:00Z</created></entry></feed>"#,
        );
        assert!(
            out.contains("<published>2004-01-01T00:00:00Z</published>"),
            "{out}"
        );
    }

    #[test]
    fn rss_090_and_10_become_rss_20() {
        let out = translated(
            r#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>C</title><items><rdf:Seq><rdf:li resource="x"/></rdf:Seq></items></channel><item><title>No link</title></item><item rdf:about="http://e.example/2"><title>About</title><dc:date>2004-01-01</dc:date></item><item rdf:about="http://e.example/3"><link>http://e.example/3b</link></item></rdf:RDF>"#,
        );
        assert_eq!(
            out,
            r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>C</title><item><title>No link</title></item><item><title>About</title><dc:date>2004-01-01</dc:date><link>http://e.example/2</link></item><item><link>http://e.example/3b</link></item></channel></rss>"#
        );
    }

    #[test]
    fn namespaced_rss_and_atom_items() {
        let out = translated(
            r#"<r:rss version="2.0" xmlns:r="http://backend.userland.com/rss2"><r:channel><r:item><r:title>T</r:title></r:item></r:channel></r:rss>"#,
        );
        assert_eq!(
            out,
            r#"<rss version="2.0"><channel><item><title>T</title></item></channel></rss>"#
        );
        let out = translated(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><item><title>T</title></item></feed>"#,
        );
        assert!(out.contains("<entry><title>T</title></entry>"), "{out}");
        assert_eq!(
            translate(r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry/></feed>"#),
            None
        );
        assert_eq!(translate(r#"<rss version="2.0"><channel/></rss>"#), None);
        let out = translated(
            r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><item><title>T</title></item></feed>"#,
        );
        assert!(
            out.contains(r#"<entry><title type="text">T</title></entry>"#),
            "{out}"
        );
    }

    #[test]
    fn cdf_becomes_rss_20() {
        let out = translated(
            r#"<CHANNEL BASE="http://b.example/" HREF="http://w.example/"><TITLE>C</TITLE><Abstract>About</Abstract><ITEM HREF="/1" LASTMOD="2004-04-06T23:05:43-05:00"><TITLE>One</TITLE><ABSTRACT>a &amp; b</ABSTRACT></ITEM><CHANNEL><ITEM HREF="/2"/></CHANNEL></CHANNEL>"#,
        );
        assert_eq!(
            out,
            r#"<rss version="2.0"><channel xml:base="http://b.example/"><title>C</title><description>About</description><link>http://w.example/</link><item><title>One</title><description>a &amp; b</description><link>/1</link><pubDate>2004-04-06T23:05:43-05:00</pubDate></item><item><link>/2</link></item></channel></rss>"#
        );
    }
}
