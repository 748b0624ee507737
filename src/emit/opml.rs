//! OPML 2.0 list of the configured feeds, so a reader can subscribe to the sources directly.
//!
//! Design decision: the document carries no creation date, only the configuration, so the
//! same configuration always renders to the same bytes (and a rewrite changes nothing).
//!
//! Each feed's role travels as a namespaced attribute, `tributary:role="origin|mirror"`, which
//! OPML 2.0 allows for extensions and other readers ignore. Not the `category` attribute:
//! readers show categories as folders or tags, so the role would clutter the user's reader,
//! and a category of the user's own could not be told from ours on the way back in.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::clean;
use crate::config::FeedConfig;

/// The namespace of `tributary:role` (`import-opml` reads the attribute by this name, so the
/// prefix may be anything).
pub const ROLE_NAMESPACE: &str = "urn:tributary:opml";

/// Renders one `<outline type="rss">` per feed, in configuration order.
pub fn opml(feeds: &[FeedConfig], title: &str) -> Vec<u8> {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    write_opml(&mut writer, feeds, title)
        .expect("writing XML into a Vec<u8> cannot fail: it has no I/O");
    let mut bytes = writer.into_inner();
    bytes.push(b'\n');
    bytes
}

fn write_opml(w: &mut Writer<Vec<u8>>, feeds: &[FeedConfig], title: &str) -> io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    w.create_element("opml")
        .with_attribute(("version", "2.0"))
        .with_attribute(("xmlns:tributary", ROLE_NAMESPACE))
        .write_inner_content(|w| {
            w.create_element("head").write_inner_content(|w| {
                w.create_element("title")
                    .write_text_content(BytesText::new(&clean(title)))?;
                Ok(())
            })?;
            w.create_element("body").write_inner_content(|w| {
                for feed in feeds {
                    let name = clean(&feed.name);
                    w.create_element("outline")
                        .with_attribute(("type", "rss"))
                        .with_attribute(("text", name.as_ref()))
                        .with_attribute(("title", name.as_ref()))
                        .with_attribute(("xmlUrl", feed.url.as_str()))
                        .with_attribute(("tributary:role", feed.role.as_str()))
                        .write_empty()?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
    Ok(())
}
