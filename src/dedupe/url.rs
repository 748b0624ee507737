//! Canonical URLs: the same page however a feed spelled its link.
//!
//! The rules are data ([`TRACKING_PARAMS`], [`HOST_PREFIXES`]) so adding a tracker is a one-line
//! change, not another `if`.

use url::Url;

/// Query parameters that identify a campaign or a reader, never the page. A trailing `*`
/// matches a prefix.
pub const TRACKING_PARAMS: &[&str] = &[
    "utm_*",
    "ref",
    "ref_src",
    "ref_url",
    "referrer",
    "source",
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "yclid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "wt_mc",
    "at_medium",
    "at_campaign",
    "cmpid",
    "ito",
    "rss",
    "feed",
    // Substack's share and redirect decorations.
    "r",
    "s",
    "publication_id",
    "post_id",
    "isfreemail",
    "triedredirect",
    "showwelcomeonshare",
    "token",
];

/// Host prefixes that name the same site.
pub const HOST_PREFIXES: &[&str] = &["www.", "m.", "amp."];

fn is_tracking(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    TRACKING_PARAMS
        .iter()
        .any(|rule| match rule.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == *rule,
        })
}

/// Words a page's address spells in its most wordy path segment, as a title key: directories
/// and summary sites name a page after the episode it is about ("/notes/what-comes-after-chatgpt-
/// 46245161530"), even when its headline is their own. A trailing id (six characters or more
/// with a digit in them) and a file extension are left out; fewer than four words is no title.
pub fn address_title(link: &str) -> Option<String> {
    let url = Url::parse(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let words_of = |segment: &str| -> Vec<String> {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        let stem = decoded
            .rsplit_once('.')
            .filter(|(_, extension)| {
                extension.len() <= 4 && extension.chars().all(char::is_alphanumeric)
            })
            .map_or(decoded.as_ref(), |(stem, _)| stem);
        let mut words: Vec<String> = stem
            .split(['-', '_', '+'])
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let is_id = |w: &str| w.len() >= 6 && w.chars().any(|c| c.is_ascii_digit());
        while words.last().is_some_and(|w| is_id(w)) {
            words.pop();
        }
        words
    };
    let words = url
        .path_segments()?
        .map(words_of)
        .max_by_key(Vec::len)
        .filter(|words| words.len() >= ADDRESS_TITLE_WORDS)?;
    super::title::title_key(&words.join(" "))
}

/// Words a path segment must spell to be read as a title.
const ADDRESS_TITLE_WORDS: usize = 4;

/// The key two links share when they name the same page: no scheme, no `www.`, no fragment,
/// no trailing slash, no tracking parameters, remaining parameters sorted. `None` for links that
/// are not http(s) or have no host.
pub fn canonical_url(link: &str) -> Option<String> {
    let url = Url::parse(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let mut host = url.host_str()?.to_ascii_lowercase();
    if let Some(prefix) = HOST_PREFIXES
        .iter()
        .find(|prefix| host.starts_with(**prefix))
    {
        host.drain(..prefix.len());
    }
    let mut key = host;
    if let Some(port) = url.port() {
        key.push(':');
        key.push_str(&port.to_string());
    }
    let path = url.path().trim_end_matches('/');
    key.push_str(path);
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| !is_tracking(name))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    if !params.is_empty() {
        params.sort();
        let query = params
            .iter()
            .map(|(name, value)| {
                if value.is_empty() {
                    name.clone()
                } else {
                    format!("{name}={value}")
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        key.push('?');
        key.push_str(&query);
    }
    Some(key)
}

/// Redirectors that podcast hosts put in front of an audio file's address to count downloads;
/// the file behind them is the same whichever a directory lists.
const MEASUREMENT_PREFIXES: &[&str] = &[
    "dts.podtrac.com/redirect.mp3/",
    "dts.podtrac.com/redirect.m4a/",
    "www.podtrac.com/pts/redirect.mp3/",
    "pdst.fm/e/",
    "op3.dev/e/",
    "chrt.fm/track/",
    "chtbl.com/track/",
    "pfx.vpixl.com/",
    "mgln.ai/e/",
    "pscrb.fm/rss/p/",
    "arttrk.com/p/",
    "verifi.podscribe.com/rss/p/",
];

/// The key of an audio or video file's address: its canonical URL with the measurement
/// redirectors in front of it taken off, so every directory's listing of one episode agrees.
pub fn enclosure_key(link: &str) -> Option<String> {
    let mut key = canonical_url(link)?;
    // canonical_url took "www." off the host already.
    while let Some(rest) = MEASUREMENT_PREFIXES
        .iter()
        .find_map(|prefix| key.strip_prefix(prefix.trim_start_matches("www.")))
    {
        // chrt.fm/track/ID/host/file: the tracker's own id comes before the real address.
        let rest = if rest.split('/').next().is_some_and(|id| !id.contains('.')) {
            rest.split_once('/').map_or(rest, |(_, after)| after)
        } else {
            rest
        };
        match canonical_url(&format!("https://{rest}")) {
            Some(inner) if inner != key => key = inner,
            _ => break,
        }
    }
    Some(key)
}

/// A link as it should be shown: the same URL without its tracking parameters, so a reader
/// who follows it is not counted as the campaign that brought tributary there. Links that are
/// not http(s), or that do not parse, are returned as they were.
pub fn without_tracking(link: &str) -> String {
    let Ok(mut url) = Url::parse(link.trim()) else {
        return link.to_owned();
    };
    if !matches!(url.scheme(), "http" | "https") || url.query().is_none() {
        return link.to_owned();
    }
    if !url.query_pairs().any(|(name, _)| is_tracking(&name)) {
        // Nothing to drop: the link as published, byte for byte.
        return link.to_owned();
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| !is_tracking(name))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url.into()
}

/// At most this many outbound links of one text are kept: a copy of an essay links to a
/// handful of pages; a page with hundreds of links is a list, not a piece about one work.
const MAX_OUTBOUND_LINKS: usize = 32;

static HREF: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r#"href="([^"]+)""#).expect("the href pattern is valid")
});

/// The canonical keys of the pages a (sanitised) HTML text links to, in order, without
/// repeats and without `own` (the item's own canonical URL).
pub fn outbound_links(html: &str, own: Option<&str>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    HREF.captures_iter(html)
        .filter_map(|found| canonical_url(&found[1].replace("&amp;", "&")))
        .filter(|key| Some(key.as_str()) != own && seen.insert(key.clone()))
        .take(MAX_OUTBOUND_LINKS)
        .collect()
}

/// Whether `links` (canonical keys, see [`canonical_url`]) hold another page of the kind `page`
/// is on its site: the same host and as many path segments ("garymarcus.substack.com/p/a" and
/// ".../p/b"), not the site's home or subscribe page. A page that links to two such pages cites
/// several of the writer's works, stored or not, and its links do not say which one it is about.
pub fn cites_a_sibling(links: &[String], page: &str) -> bool {
    let parts = |key: &str| -> (String, Vec<String>) {
        let key = key.split('?').next().unwrap_or(key);
        let (host, path) = key.split_once('/').unwrap_or((key, ""));
        let segments = path
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(str::to_owned)
            .collect();
        (host.to_owned(), segments)
    };
    let (host, path) = parts(page);
    if path.is_empty() {
        return false;
    }
    links.iter().any(|link| {
        let (other_host, other_path) = parts(link);
        other_host == host && other_path.len() == path.len() && other_path != path
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_audio_file_behind_measurement_redirectors_has_one_key() {
        let direct = "https://api.substack.com/feed/podcast/1234/abcd.mp3";
        for spelling in [
            "https://dts.podtrac.com/redirect.mp3/api.substack.com/feed/podcast/1234/abcd.mp3",
            "https://chrt.fm/track/G4F2A/api.substack.com/feed/podcast/1234/abcd.mp3",
            "https://pdst.fm/e/chrt.fm/track/G4F2A/api.substack.com/feed/podcast/1234/abcd.mp3",
            "http://api.substack.com/feed/podcast/1234/abcd.mp3?utm_source=rss",
        ] {
            assert_eq!(enclosure_key(spelling), enclosure_key(direct), "{spelling}");
        }
        assert_ne!(
            enclosure_key("https://cdn.example/ep1.mp3"),
            enclosure_key("https://cdn.example/ep2.mp3")
        );
    }

    #[test]
    fn tracking_parameters_leave_shown_links() {
        assert_eq!(
            without_tracking("https://example.com/p/a?utm_source=x&id=7&fbclid=y"),
            "https://example.com/p/a?id=7"
        );
        assert_eq!(
            without_tracking("https://example.com/p/a?utm_source=x"),
            "https://example.com/p/a"
        );
        assert_eq!(
            without_tracking("https://example.com/p/a"),
            "https://example.com/p/a"
        );
        assert_eq!(
            without_tracking("mailto:a@example.com"),
            "mailto:a@example.com"
        );
    }

    #[test]
    fn outbound_links_are_canonical_without_the_page_itself() {
        let html = r#"<p><a href="https://www.example.com/p/a?utm_source=x">a</a>
            <a href="https://example.com/p/a/">again</a> <a href="https://self.example/me">me</a>
            <a href="https://other.example/b?x=1&amp;y=2">b</a></p>"#;
        assert_eq!(
            outbound_links(html, Some("self.example/me")),
            vec![
                "example.com/p/a".to_owned(),
                "other.example/b?x=1&y=2".to_owned()
            ]
        );
    }

    #[test]
    fn spellings_of_one_page_share_a_key() {
        let same = [
            "https://www.interconnects.ai/p/open-models",
            "http://interconnects.ai/p/open-models/",
            "https://interconnects.ai/p/open-models#footnote-1",
            "https://interconnects.ai/p/open-models?utm_source=substack&utm_medium=email",
            "https://WWW.Interconnects.AI/p/open-models?r=2xyz&triedRedirect=true",
            "https://interconnects.ai/p/open-models?fbclid=abc&ref=feedly",
            "https://m.interconnects.ai/p/open-models/?utm_campaign=post",
        ];
        for link in same {
            assert_eq!(
                canonical_url(link).as_deref(),
                Some("interconnects.ai/p/open-models"),
                "{link}"
            );
        }
    }

    #[test]
    fn different_pages_keep_different_keys() {
        let cases = [
            ("https://example.com/p/a", "https://example.com/p/b"),
            (
                "https://example.com/item?id=1",
                "https://example.com/item?id=2",
            ),
            ("https://example.com/p/a", "https://other.example/p/a"),
            ("https://example.com:8443/p/a", "https://example.com/p/a"),
            ("https://example.com/P/a", "https://example.com/p/a"),
        ];
        for (a, b) in cases {
            assert_ne!(canonical_url(a), canonical_url(b), "{a} vs {b}");
        }
    }

    #[test]
    fn meaningful_parameters_are_kept_and_sorted() {
        assert_eq!(
            canonical_url("https://example.com/watch?v=1&list=2&utm_source=x").as_deref(),
            Some("example.com/watch?list=2&v=1")
        );
    }

    #[test]
    fn non_web_links_have_no_key() {
        assert_eq!(canonical_url("mailto:someone@example.com"), None);
        assert_eq!(canonical_url("not a url"), None);
        assert_eq!(canonical_url("javascript:alert(1)"), None);
    }

    #[test]
    fn an_address_spells_a_title_from_its_wordiest_segment() {
        let cases = [
            (
                "https://n.example/2026-04-23/agent-labs-thesis-crossover-special-2026/transcript.md",
                Some("agent labs thesis crossover special 2026"),
            ),
            // A trailing id goes; a year stays.
            (
                "https://notes.example/notes/what-comes-after-the-keepers-46245161530",
                Some("what comes after the keepers"),
            ),
            (
                "https://shows.example/episodes/last-lighthouse-keepers-walked-away-49f4d8ee",
                Some("last lighthouse keepers walked away"),
            ),
            (
                "https://blog.example/why_the_keepers_left.html",
                Some("why the keepers left"),
            ),
            // Too few words, or no words at all, is no title.
            ("https://blog.example/p/keepers-left", None),
            ("https://news.example/item?id=41234567", None),
            ("mailto:keeper@lights.example", None),
        ];
        for (link, expected) in cases {
            assert_eq!(address_title(link).as_deref(), expected, "{link}");
        }
    }
}
