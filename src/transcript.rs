//! Transcripts as evidence: an episode whose description is only show notes still says its
//! essay aloud, and its `podcast:transcript` holds those words. Fetched once per URL (the
//! words, or why they could not be had, are kept in the store), turned into plain words, and
//! used as the episode's text for matching, so the episode joins its post by shared text.
//!
//! Design decision: the transcript is fetched in the episode's own poll task, after its feed
//! was fetched and parsed and before the items reach the writer, so the matcher sees the
//! episode with its spoken words the first time it is stored and the ordinary text evidence
//! (containment, text anchors) does the rest: no second matching pass, no rule of its own in
//! `dedupe`. The fetch goes through the feeds' [`Fetcher`] (its body cap, deadline and SSRF
//! guard), and is bounded per feed per poll (`[transcripts] per_feed`, fetched two at a time,
//! all within one fetch deadline) so a podcast's backfill or a slow transcript host cannot
//! hold its poll longer than a slow feed would; the newest episodes come first. A transcript URL from a feed is not the admin's choice the way a feed URL is:
//! one on a non-public address is fetched only from the feed's own host and port (or with
//! `[fetch] allow_private_networks`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use thiserror::Error;
use url::Url;

use crate::config::{FetchConfig, TranscriptConfig};
use crate::dedupe;
use crate::fetch::{FetchOutcome, Fetcher, Validators, guard};
use crate::model::{ItemKind, Transcript};
use crate::normalize::ParsedItem;
use crate::store::{CachedTranscript, StorageTarget, StoreError, TranscriptCache};

/// A description with fewer words than this is show notes, whatever it shares with the
/// transcript: too short to carry the essay.
pub const SHOW_NOTES_WORDS: usize = 250;

/// A longer description is still show notes when less than this share of its 5-word runs is
/// spoken in the transcript (a list of links and sponsors, not the essay read aloud).
const SPOKEN_SHARE: f64 = 0.5;

/// Words kept of one transcript: five hours of talk. More is no better evidence, only a
/// larger row.
pub const MAX_WORDS: usize = 60_000;

/// A transcript that could not be had is asked again after this long (the server may have
/// been down); one that was had is never asked again.
const RETRY_FAILED_AFTER: chrono::Duration = chrono::Duration::days(1);

/// Transcripts of one feed fetched at once.
const CONCURRENT: usize = 2;

/// Why a transcript yielded no words.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TranscriptError {
    #[error(
        "{url}: refused: a non-public address on another service than the feed's; set [fetch] allow_private_networks = true to allow"
    )]
    Refused { url: String },
    #[error("{url}: not a URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("{0}")]
    Fetch(String),
    #[error("{url}: no words in the transcript")]
    Empty { url: String },
}

/// The transcript formats read, by the media type the feed declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Html,
    WebVtt,
    Srt,
    /// The Podcasting 2.0 JSON transcript: `{"segments": [{"body": ...}]}`.
    Json,
}

impl Format {
    /// The format a media type names (parameters such as `charset` aside), if one is read.
    pub fn of(mime_type: &str) -> Option<Format> {
        let essence = mime_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "text/plain" => Some(Format::Text),
            "text/html" => Some(Format::Html),
            "text/vtt" => Some(Format::WebVtt),
            "application/x-subrip" | "application/srt" | "text/srt" => Some(Format::Srt),
            "application/json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// The transcript of an episode to read, if it has one in a format that is read: a plain one
/// first (HTML, text, JSON carry the words alone), captions last.
pub fn pick(transcripts: &[Transcript]) -> Option<(&Transcript, Format)> {
    let rank = |format: Format| match format {
        Format::Text | Format::Html | Format::Json => 0,
        Format::WebVtt | Format::Srt => 1,
    };
    transcripts
        .iter()
        .filter_map(|t| Format::of(&t.mime_type).map(|format| (t, format)))
        .min_by_key(|(_, format)| rank(*format))
}

/// A transcript's plain words: lower-cased, separated by single spaces, with cue numbers,
/// timings, speaker tags and markup removed, at most [`MAX_WORDS`] of them. Stored as they are
/// and read by the matcher as an item's text, so they hold nothing but words (no `<` or `&`
/// that could be taken for markup).
pub fn words(format: Format, bytes: &[u8]) -> String {
    let text = decode(bytes);
    let plain = match format {
        Format::Text => text.lines().map(spoken).collect::<Vec<_>>().join("\n"),
        Format::Html => html_text(&text),
        Format::WebVtt | Format::Srt => cues(&text),
        Format::Json => json_text(&text),
    };
    plain
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(MAX_WORDS)
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// UTF-8 (a byte order mark dropped), or UTF-16 when a BOM says so; anything undecodable is
/// replaced, since a few lost words cost nothing here.
fn decode(bytes: &[u8]) -> String {
    match encoding_rs::Encoding::for_bom(bytes) {
        Some((encoding, bom)) => encoding
            .decode_without_bom_handling(&bytes[bom..])
            .0
            .into_owned(),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// A speaker label at the start of a line ("Nathan Lambert:", "HOST (00:01:02):") or a
/// caption's dialogue dash: who speaks, not what is said.
static SPEAKER: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"^\s*(?:-\s*)?(?:(?:\p{Lu}[\p{L}.'-]*|\p{Lu}+)(?:\s+(?:\p{Lu}[\p{L}.'-]*|\d+)){0,3}\s*(?:\(\d[\d:.,]*\))?:\s+)?",
    )
    .expect("the pattern is valid")
});

/// A sound note: "[music]", "(laughs)".
static SOUND: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"\[[^\]]*\]|\([^)]*\)").expect("the pattern is valid"));

/// A line of a transcript without its speaker label and sound notes.
fn spoken(line: &str) -> String {
    let line = SPEAKER.replace(line, " ");
    SOUND.replace_all(&line, " ").into_owned()
}

/// The cue text of WebVTT or SRT: each block's lines after its timing line (`-->`); header,
/// NOTE, STYLE and REGION blocks have none and are skipped. Cue tags (`<v Speaker>`, `<c>`,
/// `<i>`, karaoke timestamps) go, and entities are decoded.
fn cues(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut lines = block.lines().skip_while(|line| !line.contains("-->"));
        if lines.next().is_none() {
            continue;
        }
        for line in lines {
            let line = without_tags(line);
            out.push(spoken(&crate::normalize::plain_text(&line)));
        }
    }
    out.join("\n")
}

/// A cue line without its tags. Cue text escapes a literal `<` as `&lt;`, so every `<` opens
/// a tag.
fn without_tags(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut inside = false;
    for c in line.chars() {
        match c {
            '<' => inside = true,
            '>' if inside => {
                inside = false;
                out.push(' ');
            }
            _ if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

/// The text of an HTML transcript: ammonia drops scripts, styles, the page's title and the
/// speaker and time stamps of the Podcasting 2.0 HTML layout (`<cite>`, `<time>`) with their
/// content, and the normaliser's `plain_text` reads the rest (a tag separates words).
fn html_text(html: &str) -> String {
    let text = ammonia::Builder::default()
        .rm_tags(["cite", "time"])
        .clean_content_tags(HashSet::from(["script", "style", "title", "cite", "time"]))
        .clean(html)
        .to_string();
    crate::normalize::plain_text(&text)
}

/// The `body` of every segment of a JSON transcript; a document of another shape has none.
fn json_text(text: &str) -> String {
    let Ok(document) = serde_json::from_str::<serde_json::Value>(text) else {
        return String::new();
    };
    document["segments"]
        .as_array()
        .map(|segments| {
            segments
                .iter()
                .filter_map(|segment| segment["body"].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Whether an episode's own description (sanitised HTML) is only show notes next to its
/// transcript's `words`: short, or sharing little of its text with what is said. Then the
/// transcript is the text the episode is matched by.
pub fn is_show_notes(description: Option<&str>, words: &str) -> bool {
    let description = description.map(dedupe::words).unwrap_or_default();
    if description.len() < SHOW_NOTES_WORDS {
        return true;
    }
    let ours: HashSet<u64> = dedupe::shingles(&description).into_iter().collect();
    let spoken: HashSet<u64> = dedupe::shingles(&dedupe::words(words))
        .into_iter()
        .collect();
    let shared = ours.iter().filter(|s| spoken.contains(s)).count();
    #[expect(
        clippy::cast_precision_loss,
        reason = "shingle counts are far below 2^52"
    )]
    let share = shared as f64 / ours.len().max(1) as f64;
    share < SPOKEN_SHARE
}

/// A transcript fetched in a poll, for the writer to keep with the feed's items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub url: String,
    pub words: Result<Arc<str>, TranscriptError>,
}

/// What a cycle's polls fetch transcripts with. Shared by the cycle's poll tasks.
pub struct Transcripts {
    fetcher: Fetcher,
    cache: TranscriptCache,
    per_feed: usize,
    allow_private: bool,
    /// The feeds' fetch deadline, which bounds a feed's transcript fetches together too.
    deadline: std::time::Duration,
    /// What this cycle fetched, so two feeds naming one transcript fetch it once even before
    /// the first one's words are committed.
    fetched: parking_lot::Mutex<HashMap<String, Result<Arc<str>, TranscriptError>>>,
}

impl Transcripts {
    /// `None` when transcripts are turned off.
    pub fn new(
        config: &TranscriptConfig,
        fetch: &FetchConfig,
        fetcher: Fetcher,
        database: &StorageTarget,
    ) -> Result<Option<Transcripts>, StoreError> {
        if !config.enabled {
            return Ok(None);
        }
        Ok(Some(Transcripts {
            fetcher,
            cache: TranscriptCache::open(database.clone())?,
            per_feed: config.per_feed,
            allow_private: fetch.allow_private_networks,
            deadline: fetch.timeout,
            fetched: parking_lot::Mutex::new(HashMap::new()),
        }))
    }

    /// Gives each episode of `items` that points to a readable transcript its words: from the
    /// store when the URL was fetched before, else fetched now (at most `per_feed`, newest
    /// episodes first). Returns what was fetched, for the writer to store.
    pub async fn attach(
        &self,
        feed_url: &Url,
        items: &mut [ParsedItem],
        now: DateTime<Utc>,
    ) -> Vec<Fetched> {
        let mut wanted: Vec<(usize, String, Format)> = items
            .iter()
            .enumerate()
            .filter(|(_, item)| item.fields().kind == ItemKind::Episode)
            .filter_map(|(index, item)| {
                let (transcript, format) = pick(&item.fields().podcast.transcripts)?;
                Some((index, transcript.url.clone(), format))
            })
            .collect();
        wanted.sort_by_key(|(index, _, _)| std::cmp::Reverse(items[*index].fields().published));

        let mut to_fetch: Vec<(String, Format)> = Vec::new();
        let mut words: HashMap<String, Arc<str>> = HashMap::new();
        for (_, url, format) in &wanted {
            if words.contains_key(url) || to_fetch.iter().any(|(u, _)| u == url) {
                continue;
            }
            if let Some(known) = self.fetched.lock().get(url) {
                if let Ok(found) = known {
                    words.insert(url.clone(), Arc::clone(found));
                }
                continue;
            }
            match self.cache.lookup(url) {
                Ok(Some(CachedTranscript::Words(found))) => {
                    words.insert(url.clone(), found.into());
                }
                Ok(Some(CachedTranscript::Failed { at })) if now - at < RETRY_FAILED_AFTER => {}
                Ok(_) if to_fetch.len() < self.per_feed => to_fetch.push((url.clone(), *format)),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, url, "transcripts: cannot read the cache"),
            }
        }

        let asked: Vec<String> = to_fetch.iter().map(|(url, _)| url.clone()).collect();
        let fetched: Vec<Fetched> = futures_util::stream::iter(to_fetch)
            .map(|(url, format)| async move {
                let result = self.fetch(feed_url, &url, format, now).await;
                match &result {
                    Ok(words) => {
                        let count = words.split(' ').count();
                        tracing::info!(url, words = count, "transcript fetched");
                    }
                    Err(error) => tracing::warn!(%error, "transcript not fetched"),
                }
                Fetched { url, words: result }
            })
            .buffer_unordered(CONCURRENT)
            // The feed's poll waits at most one fetch deadline for its transcripts, however
            // many are slow: those unfinished are left for a later poll of the episode.
            .take_until(tokio::time::sleep(self.deadline))
            .collect()
            .await;
        for url in asked
            .iter()
            .filter(|url| !fetched.iter().any(|f| &f.url == *url))
        {
            tracing::warn!(
                url,
                after = %humantime::format_duration(self.deadline),
                "transcript not fetched within the feed's deadline; left for a later poll"
            );
        }
        for fetch in &fetched {
            self.fetched
                .lock()
                .insert(fetch.url.clone(), fetch.words.clone());
            if let Ok(found) = &fetch.words {
                words.insert(fetch.url.clone(), Arc::clone(found));
            }
        }

        for (index, url, _) in wanted {
            if let Some(found) = words.get(&url) {
                items[index].set_transcript(url, Arc::clone(found));
            }
        }
        fetched
    }

    async fn fetch(
        &self,
        feed_url: &Url,
        url: &str,
        format: Format,
        now: DateTime<Utc>,
    ) -> Result<Arc<str>, TranscriptError> {
        let parsed = Url::parse(url).map_err(|e| TranscriptError::BadUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        // The feed's own service is the admin's choice; anywhere else non-public is not.
        if guard::refuse_redirect(feed_url, &parsed, self.allow_private).is_some() {
            return Err(TranscriptError::Refused {
                url: url.to_owned(),
            });
        }
        let body = match self
            .fetcher
            .fetch(&parsed, &Validators::default(), now)
            .await
        {
            FetchOutcome::Fetched(fetched) => fetched.body,
            FetchOutcome::Failed(error) => return Err(TranscriptError::Fetch(error.to_string())),
            other => {
                return Err(TranscriptError::Fetch(format!(
                    "{url}: answered {}",
                    answer_name(&other)
                )));
            }
        };
        // CPU work on up to `max_body` untrusted bytes: off the async runtime, like a feed's
        // parse, and a panic is this transcript's failure.
        let words = tokio::task::spawn_blocking(move || words(format, &body))
            .await
            .map_err(|e| TranscriptError::Fetch(format!("{url}: reading it failed: {e}")))?;
        if words.is_empty() {
            return Err(TranscriptError::Empty {
                url: url.to_owned(),
            });
        }
        Ok(words.into())
    }
}

fn answer_name(outcome: &FetchOutcome) -> &'static str {
    match outcome {
        FetchOutcome::Fetched(_) => "with a body",
        FetchOutcome::NotModified { .. } => "304 Not Modified",
        FetchOutcome::RateLimited { .. } => "rate limited",
        FetchOutcome::Gone => "410 Gone",
        FetchOutcome::Failed(_) => "with an error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_media_type() {
        assert_eq!(Format::of("text/vtt"), Some(Format::WebVtt));
        assert_eq!(Format::of("text/plain; charset=utf-8"), Some(Format::Text));
        assert_eq!(Format::of("Text/HTML"), Some(Format::Html));
        assert_eq!(Format::of("application/x-subrip"), Some(Format::Srt));
        assert_eq!(Format::of("application/srt"), Some(Format::Srt));
        assert_eq!(Format::of("application/json"), Some(Format::Json));
        assert_eq!(Format::of("audio/mpeg"), None);
        let transcript = |url: &str, mime: &str| Transcript {
            url: url.into(),
            mime_type: mime.into(),
            language: None,
            rel: None,
        };
        let listed = [
            transcript("https://a.example/t.vtt", "text/vtt"),
            transcript("https://a.example/t.pdf", "application/pdf"),
            transcript("https://a.example/t.html", "text/html"),
        ];
        let (picked, format) = pick(&listed).expect("a readable transcript");
        assert_eq!(picked.url, "https://a.example/t.html");
        assert_eq!(format, Format::Html);
        assert_eq!(
            pick(&listed[..2]).map(|(t, _)| t.url.as_str()),
            Some("https://a.example/t.vtt")
        );
        assert_eq!(pick(&listed[1..2]), None);
    }

    #[test]
    fn webvtt_keeps_the_cue_text_only() {
        let vtt = "WEBVTT - the show\r\nKind: captions\r\n\r\nNOTE written by hand\r\nover two lines\r\n\r\n\
                   STYLE\r\n::cue { color: red }\r\n\r\n1\r\n00:00:00.000 --> 00:00:04.000 align:start\r\n\
                   <v Nathan Lambert>Reward models</v> are <c.loud>still</c> here &amp; well.\r\n\r\n\
                   intro-2\r\n00:00:04.000 --> 00:00:08.000\r\n- So <00:00:05.000>what changed?\r\n[music]\r\n";
        assert_eq!(
            words(Format::WebVtt, vtt.as_bytes()),
            "reward models are still here well so what changed"
        );
    }

    #[test]
    fn srt_drops_numbers_timings_and_speakers() {
        let srt = "1\n00:00:01,000 --> 00:00:04,000\nNATHAN: Open models\nare <i>catching</i> up.\n\n\
                   2\n00:00:04,500 --> 00:00:07,250\nTom Smith (00:01:02): (laughs) Are they, though?\n";
        assert_eq!(
            words(Format::Srt, srt.as_bytes()),
            "open models are catching up are they though"
        );
    }

    #[test]
    fn html_text_and_json_transcripts() {
        let html = "<!doctype html><html><head><title>t</title><style>p{color:red}</style>\
                    <script>var x = 1;</script></head><body><cite>Nathan:</cite><time>0:00</time>\
                    <p>The <b>bitter</b> lesson &mdash; again.</p></body></html>";
        assert_eq!(
            words(Format::Html, html.as_bytes()),
            "the bitter lesson again"
        );
        assert_eq!(words(Format::Html, b"<p>one</p><p>two</p>"), "one two");
        let text = "Speaker 1: Hello there.\nHOST: It's 2026 [applause]\n";
        assert_eq!(
            words(Format::Text, text.as_bytes()),
            "hello there it s 2026"
        );
        let json = r#"{"version":"1.0.0","segments":[{"speaker":"Ann","startTime":0.5,"endTime":1.2,"body":"Small models,"},{"startTime":1.2,"body":"long tails."}]}"#;
        assert_eq!(
            words(Format::Json, json.as_bytes()),
            "small models long tails"
        );
        assert_eq!(words(Format::Json, b"[1, 2]"), "");
        // UTF-16 with its byte order mark.
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("Caf\u{e9} talk".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(words(Format::Text, &utf16), "caf\u{e9} talk");
    }

    #[test]
    fn show_notes_are_short_or_unspoken() {
        let essay: String = (0..400).map(|i| format!("word{i} ")).collect();
        let spoken = format!("hello and welcome {essay} thanks for listening");
        assert!(is_show_notes(Some("<p>Links: a, b, c.</p>"), &spoken));
        assert!(is_show_notes(None, &spoken));
        assert!(!is_show_notes(Some(&essay), &spoken), "the essay itself");
        let links: String = (0..400).map(|i| format!("sponsor{i} ")).collect();
        assert!(
            is_show_notes(Some(&links), &spoken),
            "long, but not what is said"
        );
    }
}
