//! `tributary import-opml`: the feeds of another reader's OPML export, appended to a config.
//!
//! Design decision: the config file is edited as text, by appending `[[feeds]]` tables, never
//! re-serialised, so the user's comments and layout survive. The result is validated as a
//! whole before it replaces the file. A feed's role comes back from tributary's own export
//! (`tributary:role`, see `emit::opml`); another reader's feeds get the config's default.

use std::collections::HashSet;

use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use thiserror::Error;
use url::Url;

use crate::config::Config;
use crate::dedupe::canonical_url;
use crate::emit::ROLE_NAMESPACE;
use crate::model::Role;

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("not an OPML document: {0}")]
    Xml(String),
    #[error("the OPML document lists no feeds (no <outline> with an xmlUrl)")]
    NoFeeds,
    #[error("the outline of {url}: `{value}` is not a role; use \"origin\" or \"mirror\"")]
    Role { url: String, value: String },
}

/// One feed as another reader exported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedFeed {
    pub title: String,
    pub url: Url,
    /// Only in tributary's own export; `None` leaves the config's default.
    pub role: Option<Role>,
}

/// Every `<outline xmlUrl=...>` at any depth (readers nest feeds in folders). Outlines whose
/// URL is not http(s) are skipped: they cannot be polled.
pub fn parse_opml(bytes: &[u8]) -> Result<Vec<ImportedFeed>, ImportError> {
    let mut reader = quick_xml::NsReader::from_reader(bytes);
    reader.config_mut().trim_text(true);
    let mut feeds = Vec::new();
    let mut buf = Vec::new();
    let mut saw_opml = false;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| ImportError::Xml(format!("at byte {}: {e}", reader.buffer_position())))?;
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.local_name();
                if name.as_ref().eq_ignore_ascii_case(b"opml") {
                    saw_opml = true;
                }
                if !name.as_ref().eq_ignore_ascii_case(b"outline") {
                    continue;
                }
                let mut url = None;
                let mut title = None;
                let mut text = None;
                let mut role = None;
                for attribute in e.attributes().flatten() {
                    let value = attribute
                        .decode_and_unescape_value(reader.decoder())
                        .map(|v| v.trim().to_owned())
                        .unwrap_or_default();
                    let (namespace, local) = reader.resolve_attribute(attribute.key);
                    if namespace == ResolveResult::Bound(Namespace(ROLE_NAMESPACE.as_bytes())) {
                        if local.as_ref() == b"role" {
                            role = Some(value);
                        }
                        continue;
                    }
                    match local.as_ref() {
                        b"xmlUrl" | b"xmlurl" => url = Some(value),
                        b"title" => title = Some(value),
                        b"text" => text = Some(value),
                        _ => {}
                    }
                }
                let Some(url) = url.and_then(|u| Url::parse(&u).ok()) else {
                    continue;
                };
                if !matches!(url.scheme(), "http" | "https") {
                    continue;
                }
                let title = title
                    .filter(|t| !t.is_empty())
                    .or(text.filter(|t| !t.is_empty()))
                    .unwrap_or_else(|| url.host_str().unwrap_or("feed").to_owned());
                let role = match role {
                    None => None,
                    Some(value) => Some(Role::parse(&value).ok_or_else(|| ImportError::Role {
                        url: url.to_string(),
                        value,
                    })?),
                };
                feeds.push(ImportedFeed { title, url, role });
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_opml {
        return Err(ImportError::Xml("no <opml> root element".into()));
    }
    if feeds.is_empty() {
        return Err(ImportError::NoFeeds);
    }
    Ok(feeds)
}

/// A config name from a title: lower-case words joined by dashes.
fn slug(title: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(6)
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        "feed".to_owned()
    } else {
        words.join("-")
    }
}

/// What an import adds and what it leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportPlan {
    /// The config text with the new `[[feeds]]` tables appended.
    pub text: String,
    /// `(name, url)` of each feed added.
    pub added: Vec<(String, String)>,
    /// URLs already in the config (by canonical form), or listed twice in the OPML.
    pub skipped: Vec<String>,
}

/// Appends the feeds `config` does not already poll to `config_text`, with unique names.
pub fn plan(config_text: &str, config: &Config, feeds: &[ImportedFeed]) -> ImportPlan {
    let mut known: HashSet<String> = config
        .feeds
        .iter()
        .map(|f| canonical_url(f.url.as_str()).unwrap_or_else(|| f.url.to_string()))
        .collect();
    let mut names: HashSet<String> = config.feeds.iter().map(|f| f.name.clone()).collect();
    let mut plan = ImportPlan {
        text: config_text.to_owned(),
        ..ImportPlan::default()
    };
    for feed in feeds {
        let key = canonical_url(feed.url.as_str()).unwrap_or_else(|| feed.url.to_string());
        if !known.insert(key) {
            plan.skipped.push(feed.url.to_string());
            continue;
        }
        let base = slug(&feed.title);
        #[expect(
            clippy::maybe_infinite_iter,
            reason = "`names` is finite, so a free suffix is found within `names.len() + 1` tries"
        )]
        let name = (1..)
            .map(|n| {
                if n == 1 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                }
            })
            .find(|candidate| !names.contains(candidate))
            .unwrap_or(base);
        names.insert(name.clone());
        if !plan.text.is_empty() && !plan.text.ends_with('\n') {
            plan.text.push('\n');
        }
        // toml's own string rendering quotes and escapes whatever the OPML held.
        plan.text.push_str(&format!(
            "\n# Imported from OPML: {}\n[[feeds]]\nname = {}\nurl = {}\n",
            feed.title.replace(['\n', '\r'], " "),
            toml::Value::String(name.clone()),
            toml::Value::String(feed.url.to_string()),
        ));
        if let Some(role) = feed.role {
            plan.text
                .push_str(&format!("role = \"{}\"\n", role.as_str()));
        }
        plan.added.push((name, feed.url.to_string()));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPML: &str = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>My reader</title></head><body>
  <outline text="AI">
    <outline type="rss" text="Long Tail" title="Long Tail" xmlUrl="https://www.longtail.example/feed" htmlUrl="https://www.longtail.example"/>
    <outline type="rss" text="Quote &quot;Weekly&quot; &amp; more" xmlUrl="https://weekly.example/rss"/>
  </outline>
  <outline type="rss" text="Long Tail again" xmlUrl="http://longtail.example/feed/"/>
  <outline type="rss" text="Not polled" xmlUrl="ftp://files.example/feed"/>
  <outline text="A folder with nothing"/>
</body></opml>"#;

    #[test]
    fn nested_outlines_are_found_and_odd_ones_skipped() {
        let feeds = parse_opml(OPML.as_bytes()).expect("opml");
        let urls: Vec<_> = feeds.iter().map(|f| f.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://www.longtail.example/feed",
                "https://weekly.example/rss",
                "http://longtail.example/feed/"
            ]
        );
        assert_eq!(feeds[1].title, "Quote \"Weekly\" & more");
    }

    #[test]
    fn known_feeds_are_skipped_and_names_are_unique() {
        let text = "[[feeds]]\nname = \"long-tail\"\nurl = \"https://other.example/feed\"\n";
        let config = Config::parse(text, "t").expect("config");
        let feeds = parse_opml(OPML.as_bytes()).expect("opml");
        let plan = plan(text, &config, &feeds);
        assert_eq!(
            plan.added,
            vec![
                (
                    "long-tail-2".to_owned(),
                    "https://www.longtail.example/feed".to_owned()
                ),
                (
                    "quote-weekly-more".to_owned(),
                    "https://weekly.example/rss".to_owned()
                ),
            ]
        );
        assert_eq!(plan.skipped, vec!["http://longtail.example/feed/"]);
        let merged = Config::parse(&plan.text, "t").expect("the result is a valid config");
        assert_eq!(merged.feeds.len(), 3);
        assert!(
            plan.text.starts_with(text),
            "the original text is kept as written"
        );
    }

    #[test]
    fn roles_survive_export_and_import() {
        let exported = Config::parse(
            "[[feeds]]\nname = \"blog\"\nurl = \"https://blog.example/feed\"\n\
             [[feeds]]\nname = \"digest\"\nurl = \"https://digest.example/rss\"\nrole = \"mirror\"\n",
            "t",
        )
        .expect("config");
        let opml = crate::emit::opml(&exported.feeds, "t");
        let feeds = parse_opml(&opml).expect("our own OPML");
        let roles: Vec<_> = feeds.iter().map(|f| f.role).collect();
        assert_eq!(roles, [Some(Role::Origin), Some(Role::Mirror)]);

        let empty = Config::parse("", "t").expect("empty config");
        let plan = plan("", &empty, &feeds);
        let imported = Config::parse(&plan.text, "t").expect("valid");
        let roles: Vec<_> = imported
            .feeds
            .iter()
            .map(|f| (f.name.as_str(), f.role))
            .collect();
        assert_eq!(roles, [("blog", Role::Origin), ("digest", Role::Mirror)]);
    }

    #[test]
    fn the_role_is_read_by_namespace_not_by_prefix() {
        let opml = format!(
            r#"<opml version="2.0" xmlns:t="{ROLE_NAMESPACE}" xmlns:other="urn:other"><body>
            <outline text="a" xmlUrl="https://a.example/feed" t:role="mirror"/>
            <outline text="b" xmlUrl="https://b.example/feed" other:role="mirror"/>
            <outline text="c" xmlUrl="https://c.example/feed" role="mirror"/>
            </body></opml>"#
        );
        let feeds = parse_opml(opml.as_bytes()).expect("opml");
        let roles: Vec<_> = feeds.iter().map(|f| f.role).collect();
        assert_eq!(roles, [Some(Role::Mirror), None, None]);

        let bad = format!(
            r#"<opml xmlns:tributary="{ROLE_NAMESPACE}"><body><outline xmlUrl="https://a.example/feed" tributary:role="copy"/></body></opml>"#
        );
        assert_eq!(
            parse_opml(bad.as_bytes())
                .expect_err("not a role")
                .to_string(),
            "the outline of https://a.example/feed: `copy` is not a role; use \"origin\" or \"mirror\""
        );
    }

    #[test]
    fn not_opml_is_an_error() {
        assert!(matches!(
            parse_opml(b"<rss><channel/></rss>"),
            Err(ImportError::Xml(_))
        ));
        assert!(matches!(
            parse_opml(b"<opml><body/></opml>"),
            Err(ImportError::NoFeeds)
        ));
        assert!(parse_opml(b"<opml><body><outline").is_err());
    }
}
