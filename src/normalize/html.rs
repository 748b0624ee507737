//! Feed HTML made safe to re-publish, and feed text made plain.
//!
//! Content goes through ammonia with an allow-list: ordinary formatting, links and images stay;
//! scripts, styles, event handlers, frames, forms, objects and embeds go, and so does every URL
//! that is not http(s) (or mailto for links). Relative URLs are made absolute against the
//! item's base, because the merged feed is read far from the page they were relative to.
//! Titles, names and categories are plain text: tags stripped, references decoded, whitespace
//! collapsed.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;

use ammonia::{Builder, UrlRelative};
use url::Url;

use super::entities;
use super::repair::{MAX_DEPTH, max_depth};

thread_local! {
    /// The base the fragment being cleaned on this thread resolves relative URLs against;
    /// `None` leaves them as they are (a local file being inspected, whose relative links
    /// should not turn into file: URLs).
    static BASE: RefCell<Option<Url>> = const { RefCell::new(None) };

    /// Building the allow-list (a dozen hash sets) costs about as much as cleaning a short
    /// fragment, so each thread builds it once; the per-call base comes from [`BASE`].
    static CLEANER: Builder<'static> = cleaner();
}

fn cleaner() -> Builder<'static> {
    let mut builder = Builder::default();
    builder
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer"))
        .attribute_filter(|element, attribute, value| {
            // An image loads without a click: only from the web, never mailto: or the like.
            if element == "img" && attribute == "src" && !is_web_or_relative(value) {
                None
            } else {
                Some(Cow::Borrowed(value))
            }
        })
        .url_relative(UrlRelative::Custom(Box::new(resolve_relative)));
    builder
}

/// What ammonia's own `RewriteWithBase` does, with the base of the current call.
fn resolve_relative(url: &str) -> Option<Cow<'_, str>> {
    BASE.with_borrow(|base| match base {
        Some(base) => base.join(url).ok().map(|url| Cow::Owned(url.into())),
        None => Some(Cow::Borrowed(url)),
    })
}

/// Sanitises an HTML fragment, resolving relative URLs against `base`.
///
/// A fragment nested deeper than [`MAX_DEPTH`] is reduced to its text first: html5ever's tree
/// builder takes time quadratic in nesting depth (minutes at 100,000 levels), and no real
/// article nests that deep.
pub(crate) fn sanitize(html: &str, base: &Url) -> String {
    if max_depth(html, MAX_DEPTH) > MAX_DEPTH {
        return text_to_html(&plain_text(html));
    }
    let web_base = matches!(base.scheme(), "http" | "https").then(|| base.clone());
    BASE.set(web_base);
    let clean = CLEANER.with(|cleaner| cleaner.clean(html).to_string());
    BASE.set(None);
    clean.trim().to_string()
}

fn is_web_or_relative(value: &str) -> bool {
    let value = value.trim_start();
    let scheme_end = value.find([':', '/', '?', '#']);
    match scheme_end {
        Some(at) if value[at..].starts_with(':') => {
            let scheme = value[..at].to_ascii_lowercase();
            scheme == "http" || scheme == "https"
        }
        _ => true,
    }
}

/// Plain text as HTML: escaped, line breaks kept.
pub(crate) fn text_to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for ch in text.trim().chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("<br>\n"),
            '\r' => {}
            other => out.push(other),
        }
    }
    out
}

/// Text for a title, name or category: tags removed (`<b>x</b>` -> `x`; the content of
/// `script` and `style` too), references decoded (`&amp;` -> `&`, `&mdash;` -> `—`),
/// whitespace runs collapsed to one space, ends trimmed. A `<` that starts no tag (`a < b`)
/// is kept.
pub fn plain_text(input: &str) -> String {
    let stripped = strip_tags(input);
    let decoded = entities::decode(&stripped);
    let mut out = String::with_capacity(decoded.len());
    for word in decoded
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Where the tag whose body starts `after` ends (its `>`), honouring quoted attribute values,
/// which may hold a `>` of their own.
fn tag_end(after: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in after.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn strip_tags(input: &str) -> Cow<'_, str> {
    if !input.contains('<') {
        return Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('<') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let starts_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?'));
        let Some(end) = tag_end(after).filter(|_| starts_tag) else {
            out.push('<');
            rest = after;
            continue;
        };
        let tag = &after[..end];
        rest = &after[end + 1..];
        // Tags separate words: "a<br>b" reads as "a b".
        out.push(' ');
        let name: String = tag
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if name == "script" || name == "style" {
            let close = format!("</{name}");
            let lower = rest.to_ascii_lowercase();
            rest = match lower.find(&close) {
                Some(at) => rest[at..].find('>').map_or("", |gt| &rest[at + gt + 1..]),
                None => "",
            };
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://example.com/blog/post/").expect("valid test URL")
    }

    #[test]
    fn html_becomes_plain_text() {
        assert_eq!(
            plain_text("<p>Fish &amp; chips</p><p>are&#32;&lt;great&gt;&#x21;</p>"),
            "Fish & chips are <great>!"
        );
        assert_eq!(
            plain_text(r#"<a href="/x" title="a > b">link</a> text"#),
            "link text"
        );
        assert_eq!(
            plain_text("  many \n\t spaces&nbsp;here "),
            "many spaces here"
        );
        assert_eq!(plain_text("<p>unterminated"), "unterminated");
    }

    #[test]
    fn titles_become_plain_text() {
        assert_eq!(plain_text("<b>x</b>"), "x");
        assert_eq!(
            plain_text("  Tom &amp; Jerry\n\t&mdash; again  "),
            "Tom & Jerry — again"
        );
        assert_eq!(plain_text("a < b and c > d"), "a < b and c > d");
        assert_eq!(plain_text("one<br/>two"), "one two");
        assert_eq!(plain_text("x<script>alert(1)</script>y"), "x y");
        assert_eq!(plain_text("&lt;b&gt;literal&lt;/b&gt;"), "<b>literal</b>");
        assert_eq!(plain_text("caf&eacute;&nbsp;au lait"), "café au lait");
        assert_eq!(plain_text(""), "");
    }

    #[test]
    fn xss_is_removed() {
        let dirty = r#"<p onclick="x()">hi<script>alert(1)</script><style>p{}</style>
            <a href="javascript:alert(1)">j</a><img src="data:image/png;base64,AAAA" onerror="x()">
            <a href="vbscript:x">v</a><iframe src="https://evil.example/"></iframe>
            <form action="/x"><input name=a></form><object data="x"></object><embed src="y">
            <span style="color:red">s</span></p>"#;
        let clean = sanitize(dirty, &base());
        for bad in [
            "script",
            "alert",
            "onclick",
            "onerror",
            "javascript",
            "data:",
            "vbscript",
            "iframe",
            "form",
            "input",
            "object",
            "embed",
            "style",
        ] {
            assert!(!clean.contains(bad), "{bad} survived in {clean}");
        }
        assert!(clean.contains("<p>hi"));
    }

    #[test]
    fn links_and_images_are_kept_absolute() {
        let clean = sanitize(
            r#"<a href="../other/">o</a> <img src="pic.png" alt="p"> <img src="//cdn.example.net/i.png"> <a href="mailto:a@b.c">m</a> <img src="mailto:a@b.c">"#,
            &base(),
        );
        assert!(
            clean.contains(r#"href="https://example.com/blog/other/""#),
            "{clean}"
        );
        assert!(clean.contains(r#"rel="noopener noreferrer""#), "{clean}");
        assert!(
            clean.contains(r#"src="https://example.com/blog/post/pic.png""#),
            "{clean}"
        );
        assert!(
            clean.contains(r#"src="https://cdn.example.net/i.png""#),
            "{clean}"
        );
        assert!(clean.contains(r#"href="mailto:a@b.c""#), "{clean}");
        assert_eq!(clean.matches("<img").count(), 3);
        assert_eq!(clean.matches("src=").count(), 2);
    }

    #[test]
    fn plain_text_is_escaped() {
        assert_eq!(
            text_to_html("a < b & c\nnext"),
            "a &lt; b &amp; c<br>\nnext"
        );
    }

    #[test]
    fn deep_html_does_not_overflow() {
        let deep = format!("{}x{}", "<div>".repeat(100_000), "</div>".repeat(100_000));
        let clean = sanitize(&deep, &base());
        assert!(clean.contains('x'));
        assert_eq!(plain_text(&deep), "x");
    }
}
