//! Mirror dedupe: decides whether a new item is another page about the work of a stored story.
//!
//! A story is one work: the writer's own post and episode (origin feeds) and every page
//! elsewhere that is about that one work, be it a copy, the site's own summary, or a piece
//! that retells it under its own headline. The evidence, strongest first, each recorded with
//! its score so `stories --explain` can say why:
//!
//! 1. the same canonical URL;
//! 2. a mirror's text links to the work's page, and to no other stored work (a page that links
//!    to several works is a roundup and joins none of them by its links, and so is one that
//!    links to another page of the same kind on the work's site, stored or not; a numbered
//!    page of a listing, "Casts — page 33", joins nothing by any evidence);
//! 3. the same title once decorations are removed (see [`title`]), within days, or the same
//!    numbered episode of one of the writers' shows at any distance (named in a mirror's title,
//!    or near the top of its text when its title names none; the show known by its host's name
//!    as by its own, and a mirror indexed by the episodes it names before either is known);
//! 4. near-identical text, each feed's boilerplate left out;
//! 5. a mirror's title that contains the work's whole, distinctive title (or the first sentence
//!    of a headline of several), within days;
//! 6. several passages a mirror quotes word for word from an origin's text, within days (one
//!    more passage within weeks);
//! 7. a mirror that names the guest of an origin's interview and that episode's show (its
//!    feed's own names, or a name that feed shares with the writer's other feeds), within days,
//!    and shares the episode's words.
//!
//! Roles decide what evidence may do. A mirror joins an origin item's story by title even when
//! its text is its own summary; two origin items of different feeds whose texts clearly
//! disagree stay apart however alike their titles. Two items of one feed never share a story
//! (the same guid is an update, handled before the matcher), so a story never takes an item of
//! a feed it already holds. An item that matches two stories that each have an origin member
//! joins the one it matches better, or none when it cannot tell, and never folds them
//! together; stories without an origin member (mirrors that arrived first) fold into the story
//! the item joins. Stories a person split off are never folded by the matcher.
//!
//! Everything here is pure: the store supplies candidates found through its indexes, and
//! [`decide`] picks among them, so the rules are tested on plain values.

mod compact_set;
mod stored;
mod text;
mod title;
mod url;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::model::{Item, ItemKind, MatchReason, MemberRole, Role};

pub use stored::StoredText;
use stored::{StoredLinks, StoredTitle};
pub use text::{
    Shingle, ShingleSet, Sorted, Words, anchors, boilerplate, containment, content_words,
    hash_from_sql, hash_to_sql, quoted_passages, shingle, shingle_set, shingles, words,
};
use title::shared_significant_words;
pub use title::{
    Decorations, TitleWords, contains_run, contains_title, guests, is_generic, is_listing_page,
    issue_anchors, numbers, significant_words, title_grams, title_key, title_keys,
    title_similarity,
};
use url::cites_a_sibling;
pub use url::{address_title, canonical_url, enclosure_key, outbound_links, without_tracking};

/// Tunables, in the config's `[dedupe]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Two origin items with the same title key match only this close in time.
    pub title_window: Duration,
    /// Title and quotation evidence that involves a mirror counts only this close in time: a
    /// directory lists an episode days after it aired.
    pub mirror_window: Duration,
    /// Near-identical text matches only this close in time (a re-run a year later is new), and
    /// a retelling that quotes one passage more than `min_quoted_passages` too, and a summary in
    /// its own words comes at most this long after the writer's item it sums up.
    pub content_window: Duration,
    /// Containment at or above which texts are the same work.
    pub content_threshold: f64,
    /// Containment below which two substantial origin texts "clearly disagree" and veto a
    /// title match between them.
    pub disagree_below: f64,
    /// Shingles a text needs before its containment is evidence.
    pub min_shingles: usize,
    /// Quoted passages (eight words or more each) that make a piece coverage of a work.
    pub min_quoted_passages: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            title_window: Duration::days(3),
            mirror_window: Duration::days(7),
            content_window: Duration::days(30),
            content_threshold: 0.5,
            disagree_below: 0.05,
            min_shingles: 20,
            min_quoted_passages: 2,
        }
    }
}

/// The indexed keys of an item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemKeys {
    pub canonical_url: Option<String>,
    pub title_key: Option<String>,
    /// The title's other readings (a short tail kept, the writer's names taken off, a quoted
    /// headline), each a key a copy elsewhere may have as its own.
    pub title_variants: Vec<String>,
    /// Text anchors, for finding near-identical texts through an index.
    pub anchors: Vec<i64>,
    /// Four-word runs of the title's readings, for finding titles inside titles.
    pub title_grams: Vec<i64>,
    /// The canonical keys of the pages the text links to, and of its audio or video file.
    pub outbound_links: Vec<String>,
    /// The key of its audio or video file.
    pub enclosure: Option<String>,
    /// The title a mirror's address spells (see [`address_title`]), kept with the title keys
    /// so that a work arriving later finds the mirror by it.
    pub address_key: Option<String>,
    /// The keys every numbered episode its title (or a mirror's text) names would have once
    /// the show's name is known (see [`issue_anchors`]), indexed with the title keys so that
    /// the episode finds a mirror stored before the writer's feed told its name.
    pub issue_anchors: Vec<String>,
    /// For a writer's item, the meaningful words of its title (see [`Words::keys`]): a
    /// summary under a headline of its own, with no date to look around, names the work by
    /// the words of its title more than by any run of them.
    pub title_words: Vec<i64>,
}

/// What the matcher knows about the incoming item.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The feed the item came from.
    pub source: String,
    pub role: Role,
    pub kind: ItemKind,
    pub keys: ItemKeys,
    /// Every key the title may stand for: `keys.title_key`, then `keys.title_variants`.
    pub title_keys: Vec<String>,
    /// The fragment of its link, which the canonical URL leaves out.
    pub fragment: Option<String>,
    /// A link post: titled after the page its text links to.
    pub link_post: bool,
    /// The text's shingles in order, the feed's boilerplate left out.
    pub sequence: Vec<Shingle>,
    /// The same shingles sorted, each once (a [`Sorted`] set): a stored text's come sorted
    /// from its memo, where a set would be built anew each time a mirror is asked again.
    pub shingles: Vec<Shingle>,
    pub published: DateTime<Utc>,
    /// It came without a date: `published` is when it was first seen, the latest it can have
    /// been published (see [`time_apart`]).
    pub undated: bool,
    /// Its title is a writer's or a show's name and nothing more (see [`named_alike`]).
    pub titled_as_a_name: bool,
    /// Who a mirror's title and text name (`None` for an origin's item).
    pub mentions: Option<Mentions>,
    /// The numbered episodes of the writers' shows its title names (see
    /// [`Decorations::issues`]), which are among its title keys too.
    pub issues: Vec<String>,
    /// The writer's other origin feeds, for an origin's item (see [`Decorations::kin_of`]):
    /// where the episode of a post, or the post of an episode, comes from.
    pub kin: Vec<String>,
    /// The first words of an origin episode's notes ([`head_words`]), when its writer has
    /// other feeds: they may cite the post the episode reads (see [`cites_its_post`]). Empty
    /// otherwise.
    pub notes: Vec<String>,
}

/// What a mirror names, read once: a page about an interview names its guest and the show,
/// whatever headline it gives itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions {
    /// The words of its title as published, decorations and all.
    pub title: Vec<String>,
    /// The words of its text, in order.
    pub text: Vec<String>,
    /// The writers' names of two words or more that its title or text holds, to tell a guest
    /// from a host: a host of the show is named on every page about its episodes (a writer
    /// it does not name cannot be the guest it names either). Sorted.
    pub writers: Vec<String>,
    /// The origin feeds whose own names (title, authors) its title or text holds: a page
    /// about an interview names the show it was on, and a page naming another writer beside
    /// the guest (news of the two agreeing) is not about that show's episode.
    pub shows: Vec<String>,
    /// The meaningful words of its title and text (see [`content_words`]).
    pub content: Words,
}

impl Mentions {
    /// What an item titled `title` with text `body` names, the writers being `decorations`.
    pub fn new(title: &str, body: Option<&str>, decorations: &Decorations) -> Mentions {
        let title_words = words(title);
        let text = body.map(words).unwrap_or_default();
        let named: BTreeSet<String> = decorations
            .full_names_in(&title_words)
            .into_iter()
            .chain(decorations.full_names_in(&text))
            .map(|(_, name)| name)
            .collect();
        let shows = decorations.feeds_named(named.iter().map(String::as_str));
        let writers = named.into_iter().collect();
        Mentions {
            shows,
            content: content_words(title, body),
            title: title_words,
            text,
            writers,
        }
    }

    /// Whether it names `guest` (a key from [`guests`]): the whole name in its title, or the
    /// surname in its title ("Karpathy: AGI still 10 years away") and the whole name in its
    /// text.
    fn names(&self, guest: &str) -> bool {
        if contains_run(&self.title, guest) {
            return true;
        }
        guest
            .rsplit(' ')
            .next()
            .filter(|surname| surname.chars().count() >= 4)
            .is_some_and(|surname| {
                self.title.iter().any(|w| w == surname) && contains_run(&self.text, guest)
            })
    }
}

/// Share of the shorter text found word for word in the other that makes a member a copy.
const COPY_SHARE: f64 = 0.3;

/// Title similarity at or above which a mirror's title is the work's, reworded.
const SIMILAR_TITLE: f64 = 0.75;

/// Share of a long title's meaningful words (see [`TitleWords::likeness`]) a mirror's longer title
/// must hold to be that title with a subtitle of its own: all but one of seven to ten.
const HELD_TITLE: f64 = 0.85;

/// Meaningful words from which a title names one work at any distance in time: "Andrej
/// Karpathy — AGI is still a decade away" is that interview whenever a directory lists it,
/// while "The state of AI" or "Open models" could head a new piece every year.
const DISTINCTIVE_TITLE_WORDS: usize = 6;

impl Probe {
    /// The probe of an item from a feed with `role`, whose feed repeats `boilerplate` in every
    /// item, with the writer's names in `decorations`.
    pub fn new(
        item: &Item,
        role: Role,
        published: DateTime<Utc>,
        decorations: &Decorations,
        boilerplate: &HashSet<u64>,
    ) -> Probe {
        let own = OwnKeys::of(item);
        Probe::with_own_keys(item, &own, role, published, decorations, boilerplate)
    }

    /// The probe of an item whose [`OwnKeys`] were already derived (on the poll's parser
    /// threads; ingest also reads their text to learn the feed's boilerplate).
    pub fn with_own_keys(
        item: &Item,
        own: &OwnKeys,
        role: Role,
        published: DateTime<Utc>,
        decorations: &Decorations,
        boilerplate: &HashSet<u64>,
    ) -> Probe {
        let hashes: Vec<u64> = own
            .text
            .iter()
            .copied()
            .filter(|hash| !boilerplate.contains(hash))
            .collect();
        let mut title_keys = title_keys(&item.title, decorations);
        let mut issues = decorations.issues(&item.title);
        if role == Role::Mirror {
            named_issue(item.body(), decorations, &mut title_keys, &mut issues);
        }
        let canonical = own.canonical_url.clone();
        let enclosure = audio_key(item);
        // Every other reading is a part of the longest one, so its runs are among the
        // longest's.
        let grams = title_keys
            .iter()
            .max_by_key(|k| k.len())
            .map(|k| title_grams(k))
            .unwrap_or_default();
        let mut links = own.outbound_links.clone();
        links.extend(enclosure.clone());
        let keys = ItemKeys {
            issue_anchors: episode_anchors(&item.title, item.body(), role),
            address_key: address_key(item, role),
            outbound_links: links,
            canonical_url: canonical,
            title_key: title_keys.first().cloned(),
            title_variants: title_keys.iter().skip(1).cloned().collect(),
            enclosure,
            anchors: anchors(&hashes),
            title_grams: grams,
            title_words: match role {
                Role::Origin => title_words(&title_keys),
                Role::Mirror => Vec::new(),
            },
        };
        let titled_as_a_name = titled_as_a_name(&title_keys, decorations);
        let sequence: Vec<Shingle> = hashes.into_iter().map(shingle).collect();
        let kin = match role {
            Role::Origin => decorations.kin_of(&item.source),
            Role::Mirror => Vec::new(),
        };
        let notes = match item.kind {
            ItemKind::Episode if !kin.is_empty() => item.body().map(head_words).unwrap_or_default(),
            _ => Vec::new(),
        };
        Probe {
            issues,
            kin,
            notes,
            mentions: (role == Role::Mirror)
                .then(|| Mentions::new(&item.title, item.body(), decorations)),
            link_post: own.link_post,
            fragment: link_fragment(item),
            source: item.source.clone(),
            role,
            kind: item.kind,
            keys,
            title_keys,
            shingles: sorted_set(&sequence),
            sequence,
            published,
            undated: false,
            titled_as_a_name,
        }
    }
}

/// [`ItemKeys::title_words`] of a writer's item whose title reads as `title_keys`.
pub fn title_words(title_keys: &[String]) -> Vec<i64> {
    title_keys
        .first()
        .map(|key| content_words(key, None).keys().collect())
        .unwrap_or_default()
}

/// `sequence` sorted, each shingle once.
fn sorted_set(sequence: &[Shingle]) -> Vec<Shingle> {
    let mut sorted = sequence.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

impl Probe {
    /// Whether a mirror's title or text names one of the writers (an origin feed's own name or
    /// author): such a page may retell one of their works of any date ([`named_work`]).
    pub fn names_a_writer(&self) -> bool {
        self.mentions
            .as_ref()
            .is_some_and(|mentions| !mentions.shows.is_empty())
    }

    /// The probe a stored item makes, read back from its candidate (its title keys read with
    /// `decorations`): a mirror that started a story before its work arrived is asked again
    /// as if it came after it. Such a probe is matched, never written: the keys that serve the
    /// index alone (text anchors, title grams, episode anchors) are the stored item's already
    /// and are left empty. Who its text names is read only `with_mentions` (see
    /// [`may_name_a_guest`]): it is the dearest part, and only the guest evidence asks.
    pub fn of_stored(stored: &Candidate, decorations: &Decorations, with_mentions: bool) -> Probe {
        let body = stored.body.as_deref();
        let (sequence, sorted) = stored.shingles();
        let canonical = stored.canonical_url.clone();
        let title_keys = stored.title_keys.clone();
        let title_key = title_keys.first().cloned();
        let own_page = canonical.as_deref();
        let read = stored::links(title_key.as_deref().unwrap_or(""), body, own_page, || {
            StoredLinks {
                outbound: body
                    .map(|body| outbound_links(body, own_page))
                    .unwrap_or_default(),
                link_post: titled_after_a_link(title_key.as_deref(), body, own_page),
            }
        });
        let mut links = read.outbound.clone();
        links.extend(stored.enclosure.clone());
        let issues = stored_title(&stored.title, body, stored.role, decorations)
            .issues
            .clone();
        Probe {
            source: stored.source.clone(),
            role: stored.role,
            kind: stored.kind,
            link_post: read.link_post,
            keys: ItemKeys {
                canonical_url: canonical,
                title_variants: title_keys.iter().skip(1).cloned().collect(),
                title_key,
                outbound_links: links,
                enclosure: stored.enclosure.clone(),
                address_key: stored.address_key.clone(),
                ..ItemKeys::default()
            },
            title_keys,
            fragment: stored.fragment.clone(),
            shingles: sorted.into_owned(),
            sequence: sequence.into_owned(),
            published: stored.published,
            undated: stored.undated,
            titled_as_a_name: stored.titled_as_a_name,
            issues,
            // Asked again as a mirror only (see [`reconsider`]).
            kin: Vec::new(),
            notes: Vec::new(),
            mentions: (stored.role == Role::Mirror && with_mentions)
                .then(|| Mentions::new(&stored.title, body, decorations)),
        }
    }
}

/// Words at the top of a text read for what it says it is about: a mirror under a headline
/// of its own says which numbered episode near its start ("Source: Lex Fridman Podcast
/// #452"), and an episode's notes which post it reads ([`cites_its_post`]).
const TEXT_HEAD_WORDS: usize = 60;

/// Bytes of a text's HTML read for its first [`TEXT_HEAD_WORDS`] words: enough for them
/// behind a page's markup, and the rest of a long text is never parsed for them.
const TEXT_HEAD_BYTES: usize = 4096;

/// The first [`TEXT_HEAD_WORDS`] words of a text.
fn head_words(body: &str) -> Vec<String> {
    let mut end = body.len().min(TEXT_HEAD_BYTES);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let mut head = words(&body[..end]);
    head.truncate(TEXT_HEAD_WORDS);
    head
}

/// [`head_words`] joined by spaces.
fn text_head(body: &str) -> String {
    head_words(body).join(" ")
}

/// Index-only episode keys kept per item, its title's first: a text full of numbers (dates,
/// durations, prices) would otherwise add dozens of rows that no episode ever looks up.
const MAX_ISSUE_ANCHORS: usize = 16;

/// The index-only keys of the episodes an item names (see [`ItemKeys::issue_anchors`]): in
/// its title, and for a mirror near the top of its text as [`named_issue`] reads it.
fn episode_anchors(title: &str, body: Option<&str>, role: Role) -> Vec<String> {
    let mut anchors = issue_anchors(title);
    if role == Role::Mirror
        && let Some(body) = body
    {
        for anchor in issue_anchors(&text_head(body)) {
            if !anchors.contains(&anchor) {
                anchors.push(anchor);
            }
        }
    }
    anchors.truncate(MAX_ISSUE_ANCHORS);
    anchors
}

/// Every key a stored item's title may stand for, read with `decorations`: its
/// [`title_keys`], and for a mirror the numbered episode its text names (see
/// [`named_issue`]), so that the episode arriving after it matches it as it would have been
/// matched by it.
pub fn stored_title_keys(
    title: &str,
    body: Option<&str>,
    role: Role,
    decorations: &Decorations,
) -> Vec<String> {
    stored_title(title, body, role, decorations).keys.clone()
}

/// A stored item's [`stored_title_keys`] and the numbered episodes it names, read once per
/// title, text, role and decorations: both are asked again of every stored mirror near each
/// new work (see [`reconsider`]).
fn stored_title(
    title: &str,
    body: Option<&str>,
    role: Role,
    decorations: &Decorations,
) -> Arc<StoredTitle> {
    let role_tag = match role {
        Role::Origin => 0,
        Role::Mirror => 1,
    };
    stored::title(title, body, role_tag, decorations.fingerprint(), || {
        let mut keys = title_keys(title, decorations);
        let mut issues = decorations.issues(title);
        if role == Role::Mirror {
            named_issue(body, decorations, &mut keys, &mut issues);
        }
        StoredTitle { keys, issues }
    })
}

/// The numbered episode of one of the writers' shows that a mirror's text names near its
/// start, added to its title's readings and `issues` when its title names none: a summary
/// titled in its own words that says which episode it sums up is about that episode. A text
/// naming two or more is a roundup and names none.
fn named_issue(
    body: Option<&str>,
    decorations: &Decorations,
    title_keys: &mut Vec<String>,
    issues: &mut Vec<String>,
) {
    if !issues.is_empty() {
        return;
    }
    let Some(body) = body else {
        return;
    };
    if let [issue] = decorations.issues(&text_head(body)).as_slice() {
        if !title_keys.contains(issue) {
            title_keys.push(issue.clone());
        }
        issues.push(issue.clone());
    }
}

static ANCHOR: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r#"(?s)<a\s[^>]*?href="([^"]+)"[^>]*>(.*?)</a>"#)
        .expect("the anchor pattern is valid")
});

/// What an item's dedupe keys need of the item alone, not of what is stored nor of other
/// feeds: the costliest parts of its [`Probe`], which the poll derives on its parser threads so
/// that the one thread that writes does not have to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnKeys {
    /// Its text's shingles ([`text_shingles`]), or its transcript's.
    pub text: Vec<u64>,
    /// The canonical key of its link.
    pub canonical_url: Option<String>,
    /// The canonical keys of the pages its text links to, its own page left out.
    pub outbound_links: Vec<String>,
    /// Whether it is a link post: one titled after another page its text links to (a
    /// blogmark, "Quoting X"). A mirror with that title may be about the linked page as well
    /// as about the post, so the title alone cannot say which.
    pub link_post: bool,
}

impl OwnKeys {
    /// `item` as stored: sanitised.
    pub fn of(item: &Item) -> OwnKeys {
        let canonical_url = item.link.as_deref().and_then(canonical_url);
        OwnKeys {
            text: text_shingles(item),
            outbound_links: item
                .body()
                .map(|body| outbound_links(body, canonical_url.as_deref()))
                .unwrap_or_default(),
            link_post: titled_after_a_link(
                title_key(&item.title).as_deref(),
                item.body(),
                canonical_url.as_deref(),
            ),
            canonical_url,
        }
    }
}

/// Whether one of the first links of `body` (to a page other than `own_page`) reads as the
/// title whose key is `title`.
fn titled_after_a_link(title: Option<&str>, body: Option<&str>, own_page: Option<&str>) -> bool {
    let (Some(body), Some(title)) = (body, title) else {
        return false;
    };
    // The anchor's words first: they rarely read as the title, and parsing its address is the
    // dearer half, asked of every item a poll stores.
    ANCHOR.captures_iter(body).take(8).any(|anchor| {
        title_key(&crate::normalize::plain_text(&anchor[2])).as_deref() == Some(title)
            && canonical_url(&anchor[1].replace("&amp;", "&")).as_deref() != own_page
    })
}

/// The fragment of an item's link: Scripting News gives each post of a day an anchor on the
/// day's page, and two different anchors are two posts however alike the rest of the link.
pub fn link_fragment(item: &Item) -> Option<String> {
    let link = item.link.as_deref()?;
    let (_, fragment) = link.split_once('#')?;
    (!fragment.is_empty()).then(|| fragment.to_owned())
}

/// The pages an item's text links to and its audio or video file: its
/// [`ItemKeys::outbound_links`], read again from the item as stored (the index is keyed by
/// page, and asking it for one item's rows would read all of it).
pub fn linked_pages(item: &Item) -> Vec<String> {
    let own_page = item.link.as_deref().and_then(canonical_url);
    let mut links = item
        .body()
        .map(|body| outbound_links(body, own_page.as_deref()))
        .unwrap_or_default();
    links.extend(audio_key(item));
    links
}

/// The key of an episode's audio or video file (a post's cover image is no evidence).
fn audio_key(item: &Item) -> Option<String> {
    match item.kind {
        ItemKind::Episode => item.enclosure.as_ref().and_then(|e| enclosure_key(&e.url)),
        ItemKind::Post => None,
    }
}

/// The shingles of an item's fullest text, in order.
pub fn text_shingles(item: &Item) -> Vec<u64> {
    item.body()
        .map(|body| shingles(&words(body)))
        .unwrap_or_default()
}

/// How a candidate was found through links, when it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linked {
    /// The probe's text links to the candidate's page (and to no other stored work).
    ProbeLinksHere,
    /// The candidate's text links to the probe's page (and to no other stored work).
    LinksToProbe,
}

/// What the store knows of the story a candidate belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoryFacts {
    /// Whether an item of an origin feed is a member.
    pub has_origin: bool,
    /// The feeds its members came from.
    pub sources: Vec<String>,
    /// Split off by a person: the matcher never folds it into another story or another into it.
    pub pinned: bool,
}

/// A stored item that shares a key with the probe.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub item_id: i64,
    pub story_id: i64,
    /// The feed it came from.
    pub source: String,
    pub role: Role,
    pub kind: ItemKind,
    pub published: DateTime<Utc>,
    /// It came without a date: `published` is when it was first seen (see [`time_apart`]).
    pub undated: bool,
    /// Its title is a writer's or a show's name and nothing more (see [`named_alike`]).
    pub titled_as_a_name: bool,
    pub canonical_url: Option<String>,
    /// Its title as published: the guests an origin's title names are read off it.
    pub title: String,
    /// Every key its title may stand for, its stored key first.
    pub title_keys: Vec<String>,
    /// The title its address spells, for a mirror's item.
    pub address_key: Option<String>,
    /// The fragment of its link.
    pub fragment: Option<String>,
    /// The key of its audio or video file.
    pub enclosure: Option<String>,
    /// Sanitised HTML, for containment.
    pub body: Option<Arc<str>>,
    /// What the matcher reads off `body` (and the first title key), shared by every
    /// candidate with the same text: see [`StoredText`].
    pub text: Arc<StoredText>,
    /// Why it is in its story.
    pub reason: MatchReason,
    /// Its feed's boilerplate, left out of its text (as [`Shingle`]s: the store keeps the
    /// full hashes, which the feed's own new items are read with).
    pub boilerplate: Arc<HashSet<Shingle>>,
    /// Whether one of the two links to the other's page.
    pub linked: Option<Linked>,
    pub story: Arc<StoryFacts>,
}

impl Candidate {
    /// Its text's shingles in document order and sorted, less its feed's boilerplate.
    pub fn shingles(
        &self,
    ) -> (
        std::borrow::Cow<'_, [Shingle]>,
        std::borrow::Cow<'_, [Shingle]>,
    ) {
        self.text.shingles(self.body.as_deref(), &self.boilerplate)
    }

    /// The meaningful words of its title and text (see [`content_words`]).
    pub fn words(&self) -> &Words {
        let title = self.title_keys.first().map_or("", String::as_str);
        self.text.words(title, self.body.as_deref())
    }

    /// A stored item alone in its story, as the store hands over an item of `source` that
    /// nothing joined yet: the shape pure tests and evaluations need.
    pub fn alone(
        item_id: i64,
        story_id: i64,
        item: &Item,
        source: &str,
        role: Role,
        published: DateTime<Utc>,
    ) -> Candidate {
        let probe = Probe::new(
            item,
            role,
            published,
            &Decorations::default(),
            &HashSet::new(),
        );
        let keys = probe.keys;
        let text = StoredText::of(
            probe.title_keys.first().map_or("", String::as_str),
            item.body(),
        );
        Candidate {
            item_id,
            story_id,
            source: source.to_owned(),
            role,
            kind: item.kind,
            published,
            undated: false,
            titled_as_a_name: probe.titled_as_a_name,
            canonical_url: keys.canonical_url,
            title: item.title.clone(),
            address_key: keys.address_key,
            title_keys: probe.title_keys,
            fragment: probe.fragment,
            enclosure: keys.enclosure,
            text,
            body: item.body().map(Arc::from),
            reason: MatchReason::New,
            boilerplate: Arc::default(),
            linked: None,
            story: Arc::new(StoryFacts {
                has_origin: role == Role::Origin,
                sources: vec![source.to_owned()],
                pinned: false,
            }),
        }
    }
}

/// Why the probe matches one candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    pub reason: MatchReason,
    /// How strongly, from 0 to 1 (1 for exact keys).
    pub score: f64,
    /// What the probe is to the candidate's work.
    pub member_role: MemberRole,
    /// What the candidate is to the probe's work: a story that a mirror started learns what
    /// that mirror is once the origin arrives.
    pub candidate_role: MemberRole,
}

/// The matcher's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// No stored story is this work.
    New,
    /// The item belongs to `story_id`.
    Join {
        story_id: i64,
        reason: MatchReason,
        score: f64,
        member_role: MemberRole,
        /// Other stories the item proved to be the same work (none of them with an origin
        /// member, or only one of the lot): they fold into `story_id`.
        also: Vec<i64>,
        /// Mirrors that started a story and whose role the arriving origin item now tells:
        /// `(item_id, member_role, reason, score)`.
        relabel: Vec<(i64, MemberRole, MatchReason, f64)>,
    },
}

/// The title a mirror item's address spells. Only mirrors: a writer's own slugs are their own
/// titles, and an old slug kept after a retitle names nothing new.
pub fn address_key(item: &Item, role: Role) -> Option<String> {
    if role != Role::Mirror {
        return None;
    }
    item.link.as_deref().and_then(address_key_of)
}

/// [`address_key`] of a stored item, remembered by its address: a stored mirror is read again
/// for every new work near it, and its address's words were read anew each time.
pub fn stored_address_key(item: &Item, role: Role) -> Option<String> {
    if role != Role::Mirror {
        return None;
    }
    let link = item.link.as_deref()?;
    Option::clone(&stored::address(link, || address_key_of(link)))
}

fn address_key_of(link: &str) -> Option<String> {
    address_title(link).filter(|key| !is_generic(key))
}

/// Evidence strength, for choosing among matched stories.
pub fn tier_rank(reason: MatchReason) -> u8 {
    match reason {
        MatchReason::Guid | MatchReason::Manual => 9,
        MatchReason::Url | MatchReason::Audio => 8,
        MatchReason::Link => 7,
        MatchReason::Title | MatchReason::Address | MatchReason::Issue | MatchReason::Cited => 6,
        MatchReason::Content => 5,
        MatchReason::TitleContained => 4,
        MatchReason::Quotes => 3,
        MatchReason::Guest => 2,
        MatchReason::Words | MatchReason::Named => 1,
        MatchReason::New => 0,
    }
}

/// Two titles whose numbers are disjoint name different issues of a series. A number missing
/// from one side (a podcast's "Ep. 45" prefix) is no conflict.
///
/// Numbers are compared with numbers and names with digits in them ("o3", "gpt4o", "h100")
/// with such names: a model's name in an episode's title and the show's episode number in its
/// video's title are not two issues of anything.
fn numbers_conflict(a: &str, b: &str) -> bool {
    let (a, b) = (numbers(a), numbers(b));
    disjoint_of_kind(&a, &b, true) || disjoint_of_kind(&a, &b, false)
}

/// Whether `a` and `b` both hold words of a kind (counts, or names with digits) and neither
/// holds all of the other's.
fn disjoint_of_kind(a: &[&str], b: &[&str], counts: bool) -> bool {
    let of_kind = |word: &&str| word.chars().all(|c| c.is_ascii_digit() || c == '.') == counts;
    let within = |x: &[&str], y: &[&str]| x.iter().filter(|w| of_kind(w)).all(|w| y.contains(w));
    a.iter().any(of_kind) && b.iter().any(of_kind) && !within(a, b) && !within(b, a)
}

/// What an item of a feed with `role` is to a work it matched with `reason`, given whether its
/// text is a copy of the work's.
fn member_role(
    role: Role,
    kind: ItemKind,
    reason: MatchReason,
    copy: bool,
    text: bool,
) -> MemberRole {
    match role {
        Role::Origin => MemberRole::implied(role, kind),
        Role::Mirror if copy || !text => MemberRole::Copy,
        Role::Mirror => match reason {
            MatchReason::Link
            | MatchReason::TitleContained
            | MatchReason::Quotes
            | MatchReason::Guest
            | MatchReason::Named => MemberRole::Coverage,
            _ => MemberRole::Summary,
        },
    }
}

/// How one candidate matches the probe, if it does.
pub fn match_candidate(
    probe: &Probe,
    candidate: &Candidate,
    thresholds: &Thresholds,
) -> Option<Evidence> {
    // Two items of one feed are two works, whatever they share (a footer, a page, a title).
    if probe.source == candidate.source {
        return None;
    }
    let theirs = &candidate.title_keys;
    // A numbered page of a listing is about whatever it lists, which is several works (the
    // probe's own title is asked once, in `decide`).
    if is_listing_page(theirs) {
        return None;
    }
    // Different issues of a series are different works, whatever else they share (a page of
    // release notes with one anchor per version has one canonical URL for all of them).
    if !theirs.is_empty()
        && !probe.title_keys.is_empty()
        && probe
            .title_keys
            .iter()
            .all(|ours| theirs.iter().all(|t| numbers_conflict(ours, t)))
    {
        return None;
    }
    // The candidate's text is read at most once, and only if some evidence needs it.
    let text = std::cell::OnceCell::new();
    let candidate_text = || text.get_or_init(|| candidate.shingles());
    let min = thresholds.min_shingles;
    let score = || containment(&Sorted(&probe.shingles), &Sorted(&candidate_text().1), min);
    let probe_has_text = probe.shingles.len() >= min;
    let candidate_has_text = || candidate_text().1.len() >= min;
    let is_copy =
        || probe_has_text && candidate_has_text() && score() >= thresholds.content_threshold;
    // What a member is: a text that carries a good part of the other's word for word is a copy
    // (cut, or behind page junk), even when that part is not enough to match on.
    let found = |reason: MatchReason, evidence_score: f64| {
        let copy = probe_has_text && candidate_has_text() && score() >= COPY_SHARE;
        Some(Evidence {
            reason,
            score: evidence_score,
            member_role: member_role(probe.role, probe.kind, reason, copy, probe_has_text),
            candidate_role: member_role(
                candidate.role,
                candidate.kind,
                reason,
                copy,
                candidate_has_text(),
            ),
        })
    };

    let both_origin = probe.role == Role::Origin && candidate.role == Role::Origin;
    let gap = time_apart(probe, candidate);
    // Two pages that give no date were seen together, which does not put them together in
    // time: a title they share names one work only when it is long enough to name it at any
    // distance (directories' pages of a whole show share the show's name, undated).
    let dated_pair = !(probe.role == Role::Mirror
        && candidate.role == Role::Mirror
        && probe.undated
        && candidate.undated);
    let titles_near = |window: Duration| dated_pair && gap <= window;
    // A link post's title is the linked page's: between it and a mirror, a shared title does
    // not say which of the two works the mirror is about; nor does a show's name between two
    // directories' pages of the show.
    // (Read off the candidate only when it matters: it means parsing its links.)
    let tell: std::cell::OnceCell<bool> = std::cell::OnceCell::new();
    let titles_tell = || {
        *tell.get_or_init(|| {
            let after_a_link = probe.link_post && candidate.role == Role::Mirror
                || probe.role == Role::Mirror
                    && candidate.role == Role::Origin
                    && titled_after_a_link(
                        candidate.title_keys.first().map(String::as_str),
                        candidate.body.as_deref(),
                        candidate.canonical_url.as_deref(),
                    );
            !after_a_link && !named_alike(probe, candidate)
        })
    };
    let shared_title = theirs
        .iter()
        .find(|t| probe.title_keys.contains(t) && !is_generic(t))
        .filter(|_| titles_tell());
    let same_title = shared_title.is_some();

    let other_place_on_the_page = probe.fragment.is_some()
        && candidate.fragment.is_some()
        && probe.fragment != candidate.fragment;
    if probe.keys.canonical_url.is_some()
        && probe.keys.canonical_url == candidate.canonical_url
        && !other_place_on_the_page
    {
        // Under different headlines (or a generic one), a shared link is a claim the texts
        // must confirm when both sides have text to compare.
        if same_title || !probe_has_text || !candidate_has_text() || is_copy() {
            return found(MatchReason::Url, 1.0);
        }
    }

    if probe.keys.enclosure.is_some() && probe.keys.enclosure == candidate.enclosure {
        return found(MatchReason::Audio, 1.0);
    }

    if let Some(linked) = candidate.linked {
        let linking = match linked {
            Linked::ProbeLinksHere => probe.role,
            Linked::LinksToProbe => candidate.role,
        };
        // A page that also links to another page like the work's on the same site (another
        // post of the writer's, stored or not) cites several works: a roundup.
        let cites_several = match linked {
            Linked::ProbeLinksHere => candidate
                .canonical_url
                .as_deref()
                .is_some_and(|page| cites_a_sibling(&probe.keys.outbound_links, page)),
            Linked::LinksToProbe => probe.keys.canonical_url.as_deref().is_some_and(|page| {
                let links = candidate
                    .body
                    .as_deref()
                    .map(|body| outbound_links(body, candidate.canonical_url.as_deref()))
                    .unwrap_or_default();
                cites_a_sibling(&links, page)
            }),
        };
        // An origin linking to another origin's page is one writer citing another.
        if linking == Role::Mirror && gap <= thresholds.content_window && !cites_several {
            return found(MatchReason::Link, 1.0);
        }
    }

    let title_window = if both_origin {
        thresholds.title_window
    } else {
        thresholds.mirror_window
    };
    // A long title is a name: a directory or a summary site that lists the work months later
    // under the very same one is about that work. Only mirrors get this: two of a writer's own
    // items far apart under one title are a re-run or a series, and the texts decide.
    let named_by = |key: &str| !both_origin && significant_words(key) >= DISTINCTIVE_TITLE_WORDS;
    if shared_title.is_some_and(|key| titles_near(title_window) || named_by(key)) {
        // Two origin texts with enough words that share almost nothing are different works
        // under one title; a mirror's text is often its own summary, and proves nothing.
        let disagree = both_origin
            && probe.shingles.len() >= 3 * min
            && candidate_text().1.len() >= 3 * min
            && score() < thresholds.disagree_below;
        if !disagree {
            return found(MatchReason::Title, 1.0);
        }
    }

    // A writer's episode whose notes cite one of their posts by its whole title, within
    // weeks, is the post read aloud or talked through under a title of its own (the essay "Is
    // AI a bubble?" and the episode "Are we in an AI bubble? (these are the 5 warning signs)"
    // a week later, whose notes open with the essay's title). Texts that share nothing are no
    // veto here: an episode's notes are its own.
    if both_origin
        && gap <= thresholds.content_window
        && probe.kin.contains(&candidate.source)
        && cites_its_post(probe, candidate)
    {
        return found(MatchReason::Cited, 1.0);
    }

    // The same numbered episode of one of the writers' shows ("Lex Fridman Podcast #452"),
    // however far apart: a show gives each number once.
    if !both_origin && probe.issues.iter().any(|issue| theirs.contains(issue)) && titles_tell() {
        return found(MatchReason::Issue, 1.0);
    }

    // A mirror's title that keeps nearly every word of the other's (shortened, reordered), or
    // holds nearly every word of a long one among words of its own (a summary site's "20VC: AI
    // Scaling Myths: More Compute is not the Answer | The Core Bottlenecks in AI Today: …" for
    // "Arvind Narayanan: AI Scaling Myths, The Core Bottlenecks in AI Today & The Future of
    // Models | E1195").
    if !both_origin {
        let words_of = |keys: &[String]| -> Vec<Arc<TitleWords>> {
            keys.iter().map(|key| stored::title_words(key)).collect()
        };
        let (our_words, their_words) = (words_of(&probe.title_keys), words_of(theirs));
        let (similarity, held) = probe
            .title_keys
            .iter()
            .zip(&our_words)
            .flat_map(|ours| theirs.iter().zip(&their_words).map(move |t| (ours, t)))
            .filter(|((ours, _), (t, _))| {
                titles_near(thresholds.mirror_window) || named_by(ours) && named_by(t)
            })
            .map(|((_, ours), (_, t))| ours.likeness(t))
            .fold((0.0, 0.0), |(similar, held), (s, h)| {
                (f64::max(similar, s), f64::max(held, h))
            });
        if (similarity >= SIMILAR_TITLE || held >= HELD_TITLE) && titles_tell() {
            return found(MatchReason::Title, similarity.max(held));
        }
    }

    // A mirror's address that spells the other's title, or the same title as the other's
    // address: a directory's page named after the episode under a headline of its own.
    let spelled = |address: &Option<String>, titles: &[String]| {
        address
            .as_ref()
            .filter(|key| titles.contains(key))
            .is_some_and(|key| titles_near(thresholds.mirror_window) || named_by(key))
    };
    if !both_origin
        && (spelled(&probe.keys.address_key, theirs)
            || spelled(&candidate.address_key, &probe.title_keys)
            || spelled(&probe.keys.address_key, candidate.address_key.as_slice()))
        && titles_tell()
    {
        return found(MatchReason::Address, 1.0);
    }

    if gap <= thresholds.content_window && probe_has_text {
        let score = score();
        if score >= thresholds.content_threshold {
            return found(MatchReason::Content, score);
        }
    }

    if titles_near(thresholds.mirror_window) {
        let contains = |long: &[String], short: &[String]| {
            long.iter()
                .any(|l| short.iter().any(|s| contains_title(l, s)))
        };
        let probe_contains = probe.role == Role::Mirror && contains(&probe.title_keys, theirs);
        let candidate_contains =
            candidate.role == Role::Mirror && contains(theirs, &probe.title_keys);
        if (probe_contains || candidate_contains) && titles_tell() {
            return found(MatchReason::TitleContained, 1.0);
        }
    }

    if gap <= thresholds.content_window {
        // A mirror quotes; an origin is quoted (one writer quoting another is a reply, a work
        // of its own). Between two mirrors, either may be quoting the other.
        let probe_quotes = || quoted_passages(&probe.sequence, &Sorted(&candidate_text().1));
        let candidate_quotes = || quoted_passages(&candidate_text().0, &Sorted(&probe.shingles));
        let quoting = match (probe.role, candidate.role) {
            (Role::Mirror, Role::Origin) => Some((probe_quotes(), probe.sequence.len())),
            (Role::Origin, Role::Mirror) => Some((candidate_quotes(), candidate_text().0.len())),
            (Role::Mirror, Role::Mirror) => {
                let (ours, theirs) = (probe_quotes(), candidate_quotes());
                Some(if ours.0 >= theirs.0 {
                    (ours, probe.sequence.len())
                } else {
                    (theirs, candidate_text().0.len())
                })
            }
            (Role::Origin, Role::Origin) => None,
        };
        // Within days, a couple of passages; a retelling weeks later quotes more of it.
        let needed = if gap <= thresholds.mirror_window {
            thresholds.min_quoted_passages
        } else {
            thresholds.min_quoted_passages + 1
        };
        if let Some(((passages, quoted_words), quoting_words)) = quoting
            && passages >= needed
        {
            let score = (quoted_words as f64 / quoting_words.max(1) as f64).min(1.0);
            return found(MatchReason::Quotes, score);
        }
    }

    // A mirror that names the guest of an origin's interview and the writers' show, within
    // days, is a page about that episode under a headline of its own, when its words are
    // about it too (a show's roundup that names the guest among four other stories is not).
    // From the mirror's side only: a mirror that came first is asked again when the origin
    // arrives (see [`reconsider`]).
    if let Some(mentions) = &probe.mentions
        && mentions.shows.contains(&candidate.source)
        && candidate.role == Role::Origin
        && gap <= thresholds.title_window
        && guests(&candidate.title, &mentions.writers)
            .iter()
            .any(|guest| mentions.names(guest))
        && !names_another_issue(&probe.issues, &candidate.title)
        && titles_tell()
    {
        let theirs = candidate.words();
        let fewest = mentions.content.len().min(theirs.len());
        let shared = mentions.content.shared(theirs);
        let share = shared as f64 / fewest.max(1) as f64;
        if fewest >= MIN_SUMMARY_WORDS && share >= GUEST_WORDS_SHARED {
            return found(MatchReason::Guest, share);
        }
    }
    None
}

/// Words at the start of an episode's notes in which the post it reads is cited: a voiceover
/// or a talk-through says so first ("Is AI a bubble? In this episode..."), where an interview
/// that points to a related post does so further down.
const NOTES_OPENING_WORDS: usize = 16;

/// Whether, of two origin items of one writer's feeds, one is an episode whose notes open by
/// citing the other, a post, by its whole title, word for word: a title with two meaningful
/// words that is not generic ([`is_generic`]: "Weekly links", or any of fewer than three
/// words, cites nothing in particular), starting within the notes' first
/// [`NOTES_OPENING_WORDS`].
fn cites_its_post(probe: &Probe, candidate: &Candidate) -> bool {
    let cites = |notes: &[String], title: Option<&String>| {
        title.is_some_and(|key| {
            let opening = &notes[..notes
                .len()
                .min(NOTES_OPENING_WORDS + key.split(' ').count())];
            significant_words(key) >= 2 && !is_generic(key) && contains_run(opening, key)
        })
    };
    match (probe.kind, candidate.kind) {
        (ItemKind::Episode, ItemKind::Post) => cites(&probe.notes, candidate.title_keys.first()),
        (ItemKind::Post, ItemKind::Episode) => {
            let notes = candidate
                .body
                .as_deref()
                .map(head_words)
                .unwrap_or_default();
            cites(&notes, probe.title_keys.first())
        }
        _ => false,
    }
}

/// Whether a mirror that names numbered episodes of the writers' shows (`issues`, as
/// [`Decorations::issues`] keys them) names none of the numbers in an episode's `title` (as
/// the feed gives it: its readings leave a leading "#475 –" out): a page about the guest's
/// first interview on the show ("Lex Fridman Podcast #299") is not about their second
/// (#475), however much the two share. A title without numbers says nothing either way.
fn names_another_issue(issues: &[String], title: &str) -> bool {
    let ours: Vec<&str> = issues
        .iter()
        .filter_map(|issue| issue.rsplit(' ').next())
        .collect();
    let theirs: Vec<&str> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty() && word.chars().all(|c| c.is_ascii_digit()))
        .collect();
    !ours.is_empty() && !theirs.is_empty() && !ours.iter().any(|number| theirs.contains(number))
}

/// Whether `keys` (a title's readings) say a writer's or a show's name and nothing more.
pub fn titled_as_a_name(keys: &[String], decorations: &Decorations) -> bool {
    keys.first().is_some_and(|key| decorations.is_name(key))
}

/// Two mirrors titled with the name of a writer or a show (directories' pages of the whole
/// show, "Machine Learning Street Talk (MLST)"): the name is every such page's title, and
/// says no more about which work each is than "Open thread" would. Against one of the
/// writers' own items of that title (an essay that named the newsletter after it), the title
/// is the work's.
fn named_alike(probe: &Probe, candidate: &Candidate) -> bool {
    probe.role == Role::Mirror
        && candidate.role == Role::Mirror
        && (probe.titled_as_a_name || candidate.titled_as_a_name)
}

/// How far apart in time the probe and the candidate were published, as far as their feeds
/// tell.
///
/// An item that came without a date was published no later than it was first seen, and may
/// have been at any time before: a directory or a summary site that lists a writer's work
/// without saying when is as likely about last year's work as last week's. Between such a
/// mirror and a writer's own item, only the item's being later than the mirror was first seen
/// counts, and the rest of the evidence (a title, a text, a link) says which work. Between two
/// mirrors, or two of the writers' items, neither is the work that would date the other:
/// their first sightings stand for their dates, as they always did.
fn time_apart(probe: &Probe, candidate: &Candidate) -> Duration {
    Dated::of_probe(probe).apart(Dated::of(candidate))
}

/// An item's date as its feed told it, and whose item it is (see [`time_apart`]).
#[derive(Debug, Clone, Copy)]
struct Dated {
    role: Role,
    published: DateTime<Utc>,
    undated: bool,
}

impl Dated {
    fn of(candidate: &Candidate) -> Dated {
        Dated {
            role: candidate.role,
            published: candidate.published,
            undated: candidate.undated,
        }
    }

    fn of_probe(probe: &Probe) -> Dated {
        Dated {
            role: probe.role,
            published: probe.published,
            undated: probe.undated,
        }
    }

    fn apart(self, other: Dated) -> Duration {
        let apart = (self.published - other.published).abs();
        if self.role == other.role {
            return apart;
        }
        let later = |a: DateTime<Utc>, b: DateTime<Utc>| (a - b).max(Duration::zero());
        match (self.undated, other.undated) {
            (false, false) => apart,
            (true, false) => later(other.published, self.published),
            (false, true) => later(self.published, other.published),
            (true, true) => Duration::zero(),
        }
    }
}

/// Whether a stored `mirror` could be about `candidate` as a page naming its guest: the guest
/// evidence of [`match_candidate`] needs an origin within days whose title names a guest (the
/// writers' names taken off can only leave fewer). Nothing else reads a probe's [`Mentions`],
/// so a stored mirror is read for them only when one such is around.
fn may_name_a_guest(mirror: &Candidate, candidate: &Candidate, thresholds: &Thresholds) -> bool {
    candidate.role == Role::Origin
        && Dated::of(mirror).apart(Dated::of(candidate)) <= thresholds.title_window
        && !guests(&candidate.title, &[]).is_empty()
}

/// Share of meaningful words a page that names an episode's guest and show must have in
/// common with the episode's text: enough to be about it, less than a summary needs without
/// the names (see [`SUMMARY_WORDS_SHARED`]).
const GUEST_WORDS_SHARED: f64 = 0.2;

/// Picks the story an item joins: the strongest evidence, then the highest score, then the
/// oldest story, so the verdict never depends on the order candidates were listed in.
pub fn decide(probe: &Probe, candidates: &[Candidate], thresholds: &Thresholds) -> Decision {
    if is_listing_page(&probe.title_keys) {
        return Decision::New;
    }
    let mut best: BTreeMap<i64, (Evidence, &Candidate)> = BTreeMap::new();
    for candidate in candidates {
        // A story never holds two items of one feed.
        if candidate.story.sources.contains(&probe.source) {
            continue;
        }
        let Some(evidence) = match_candidate(probe, candidate, thresholds) else {
            continue;
        };
        let strength = |e: &Evidence| (tier_rank(e.reason), e.score);
        match best.get(&candidate.story_id) {
            Some((kept, _)) if strength(kept) >= strength(&evidence) => {}
            _ => {
                best.insert(candidate.story_id, (evidence, candidate));
            }
        }
    }
    let mut ranked: Vec<(i64, Evidence, &Candidate)> = best
        .into_iter()
        .map(|(story, (evidence, candidate))| (story, evidence, candidate))
        .collect();
    ranked.sort_by(|a, b| {
        (tier_rank(b.1.reason), b.1.score)
            .partial_cmp(&(tier_rank(a.1.reason), a.1.score))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.0.cmp(&b.0))
    });

    // Of the stories with an origin member, the item joins the one it matches best; when the
    // best two are matched alike, it cannot tell which work it is about and joins neither.
    let mut with_origin = ranked.iter().filter(|(_, _, c)| c.story.has_origin);
    let chosen_origin = with_origin.next();
    if let (Some(first), Some(second)) = (chosen_origin, with_origin.next())
        && tier_rank(first.1.reason) == tier_rank(second.1.reason)
        && (first.1.score - second.1.score).abs() < 0.05
    {
        return Decision::New;
    }
    let Some(lead) = chosen_origin.or_else(|| ranked.first()) else {
        return Decision::New;
    };

    // The stories that fold together: the chosen one and every story of mirrors alone the
    // item also matched, as long as none of them is pinned and no two hold one feed.
    let mut group = vec![lead];
    let mut feeds: HashSet<&str> = lead.2.story.sources.iter().map(String::as_str).collect();
    feeds.insert(&probe.source);
    if !lead.2.story.pinned {
        for other in &ranked {
            let story = &other.2.story;
            if other.0 == lead.0 || story.has_origin || story.pinned {
                continue;
            }
            if story.sources.iter().any(|s| feeds.contains(s.as_str())) {
                continue;
            }
            feeds.extend(story.sources.iter().map(String::as_str));
            group.push(other);
        }
    }
    // The surviving story is the oldest, so a story's id, once issued, stays.
    let survivor = group
        .iter()
        .map(|(story, _, _)| *story)
        .min()
        .unwrap_or(lead.0);
    let also = group
        .iter()
        .map(|(story, _, _)| *story)
        .filter(|story| *story != survivor)
        .collect();
    let relabel = match probe.role {
        Role::Origin => group
            .iter()
            .filter(|(_, _, c)| c.role == Role::Mirror && c.reason == MatchReason::New)
            .map(|(_, e, c)| (c.item_id, e.candidate_role, e.reason, e.score))
            .collect(),
        Role::Mirror => Vec::new(),
    };
    Decision::Join {
        story_id: survivor,
        reason: lead.1.reason,
        score: lead.1.score,
        member_role: lead.1.member_role,
        also,
        relabel,
    }
}

/// A summary needs this many meaningful words, and so does the work, before their shared
/// words say anything.
const MIN_SUMMARY_WORDS: usize = 20;

/// Share of the smaller set of meaningful words the two texts must have in common.
const SUMMARY_WORDS_SHARED: f64 = 0.45;

/// How far ahead of every other work the summarised one must be: a mirror that reads about as
/// much like two works is about neither for sure.
const SUMMARY_MARGIN: f64 = 0.15;

/// The last resort for a mirror that no key led anywhere (its title and text are its own):
/// the recent work whose meaningful words its text shares most of, when that one is clearly
/// ahead of every other. The work is an origin item, or a story of mirrors alone (a work no
/// origin feed carries). `words` are the probe's [`content_words`]; `candidates` are the items
/// published around it (see [`summary_in_time`] for which of them count).
pub fn decide_by_words(
    probe: &Probe,
    words: &Words,
    candidates: &[Candidate],
    thresholds: &Thresholds,
) -> Decision {
    if probe.role != Role::Mirror || is_listing_page(&probe.title_keys) {
        return Decision::New;
    }
    match summarised_work(
        &probe.source,
        None,
        Dated::of_probe(probe),
        words,
        candidates,
        thresholds,
    ) {
        Some((story_id, score)) => Decision::Join {
            story_id,
            reason: MatchReason::Words,
            score,
            member_role: MemberRole::Summary,
            also: Vec::new(),
            relabel: Vec::new(),
        },
        None => match named_work(probe, candidates, thresholds) {
            Some((story_id, score)) => Decision::Join {
                story_id,
                reason: MatchReason::Named,
                score,
                member_role: MemberRole::Coverage,
                also: Vec::new(),
                relabel: Vec::new(),
            },
            None => Decision::New,
        },
    }
}

/// The one work a mirror retells under a headline of its own, when its words alone are too
/// few to say so (see [`summarised_work`]): its text names the work's writer (an origin feed's
/// own name or author), it shares some of the work's words, and it names the work itself,
/// either by a title that holds most of the meaningful words of the work's title
/// ([`holds_the_title`]) or by citing the work's whole title, in its text or as its headline
/// ([`cites_the_title`]). A news piece retitles a work ("AI is a normal technology") and
/// names who wrote it; the same words in a headline without the writer are the topic, not the
/// work. A citation may come any time after the work ([`cited_in_time`]). `None` when no
/// work, or more than one story, reads so.
fn named_work(
    probe: &Probe,
    candidates: &[Candidate],
    thresholds: &Thresholds,
) -> Option<(i64, f64)> {
    let mentions = probe.mentions.as_ref()?;
    let headline = mentions.title.join(" ");
    let title = content_words(&headline, None);
    let headline_key = title_key(&headline);
    let mut named: BTreeMap<i64, f64> = BTreeMap::new();
    for work in candidates {
        let usable = work.role == Role::Origin
            && work.source != probe.source
            && mentions.shows.contains(&work.source)
            && !work.story.sources.contains(&probe.source)
            && !is_listing_page(&work.title_keys)
            && (summary_in_time(Dated::of_probe(probe), work, thresholds)
                && holds_the_title(&title, work)
                || cited_in_time(Dated::of_probe(probe), work, thresholds)
                    && cites_the_title(mentions, headline_key.as_deref(), probe.kind, work));
        if !usable {
            continue;
        }
        let theirs = work.words();
        let fewest = mentions.content.len().min(theirs.len());
        let share = mentions.content.shared(theirs) as f64 / fewest.max(1) as f64;
        if fewest >= MIN_SUMMARY_WORDS && share >= GUEST_WORDS_SHARED {
            let best = named.entry(work.story_id).or_insert(0.0);
            *best = best.max(share);
        }
    }
    match named.len() {
        1 => named.into_iter().next(),
        _ => None,
    }
}

/// Whether a mirror cites `work`'s whole title (three words or more, two of them meaningful):
/// in its text, word for word, under a headline that shares two or more of the title's
/// meaningful words (a reading note or a rewrite that names the essay it is about: "Noah
/// Smith's post \"America must embrace the Electric Age\"" under "What I Read: Electric Age"),
/// or as its whole headline, when it is a page rather than an episode (a reading note titled
/// after the essay; an episode under an essay's title months later is an interview about it,
/// a work of its own). A reading list cites several works under a headline of its own, and is
/// no work's. `headline_key` is the mirror's headline's [`title_key`], read once for every
/// work it is asked about.
fn cites_the_title(
    mentions: &Mentions,
    headline_key: Option<&str>,
    kind: ItemKind,
    work: &Candidate,
) -> bool {
    let Some(theirs) = work.title_keys.first() else {
        return false;
    };
    theirs.split(' ').nth(2).is_some()
        && cited_by_its_headline(headline_key, theirs)
        && (kind == ItemKind::Post && headline_key == Some(theirs.as_str())
            || contains_run(&mentions.text, theirs))
}

/// The cheap half of [`cites_the_title`]: whether a headline (its key) shares two or more of a
/// work's title's (`theirs`, its key) meaningful words.
fn cited_by_its_headline(headline_key: Option<&str>, theirs: &str) -> bool {
    headline_key.is_some_and(|ours| shared_significant_words(theirs, ours) >= 2)
}

/// Whether a page that cites `work` by its whole title ([`cites_the_title`]) may be about it
/// by when it came: as a summary may ([`summary_in_time`]), or any time after one of the
/// writers' dated items. Citing the writer and the work is evidence that does not fade: a
/// reading note months later is still about the essay it cites. A headline that holds a
/// title's words among others of its own fades: months later it is the writer talking about
/// the same idea again.
fn cited_in_time(retelling: Dated, work: &Candidate, thresholds: &Thresholds) -> bool {
    summary_in_time(retelling, work, thresholds)
        || work.role == Role::Origin && !work.undated && retelling.published > work.published
}

/// Whether a mirror's `title` (its [`content_words`]) holds two or more of the meaningful
/// words of `work`'s title, and at least two thirds of them: a rewrite words its headline its
/// own way ("Substack keeps the Nazis, loses Platformer" for "Why Platformer is leaving
/// Substack"). Half of them is the topic: with half, a notes page on a writer's two yearly
/// reviews joined one of them in the labelled sets.
fn holds_the_title(title: &Words, work: &Candidate) -> bool {
    let Some(theirs) = work.title_keys.first() else {
        return false;
    };
    let theirs = &headline(theirs).words;
    let shared = title.shared(theirs);
    shared >= 2 && shared * 3 >= theirs.len() * 2
}

/// A stored `title`'s key and meaningful words, read once per title in a process (see
/// `stored::HEADLINES`).
fn headline(title: &str) -> Arc<stored::Headline> {
    stored::headline(title, || stored::Headline {
        key: title_key(title),
        words: content_words(title, None),
    })
}

/// A mirror that joins a story of mirrors alone (a directory's title matched another
/// directory's) may read like one of the writers' works (`recent`, the items of the weeks
/// around it) by its own words, or retell it ([`named_work`]): then it joins that work and
/// brings the mirrors' story along,
/// which is where both end when the mirrors come in the other order (the later one then meets
/// this one already in the work's story). Any other verdict is kept as it is, and so is this
/// one when a story is pinned by a person or the two would hold two items of one feed.
pub fn lead_to_the_work(
    probe: &Probe,
    words: &Words,
    decision: Decision,
    candidates: &[Candidate],
    recent: &[Candidate],
    thresholds: &Thresholds,
) -> Decision {
    let Decision::Join {
        story_id, ref also, ..
    } = decision
    else {
        return decision;
    };
    if probe.role != Role::Mirror || is_listing_page(&probe.title_keys) {
        return decision;
    }
    let group: Vec<i64> = std::iter::once(story_id)
        .chain(also.iter().copied())
        .collect();
    let mut feeds: HashSet<&str> = HashSet::from([probe.source.as_str()]);
    for story in &group {
        let Some(facts) = candidates
            .iter()
            .find(|c| c.story_id == *story)
            .map(|c| &c.story)
        else {
            return decision;
        };
        if facts.has_origin || facts.pinned {
            return decision;
        }
        feeds.extend(facts.sources.iter().map(String::as_str));
    }
    let works: Vec<Candidate> = recent
        .iter()
        .filter(|c| c.story.has_origin && !group.contains(&c.story_id))
        .cloned()
        .collect();
    let found = summarised_work(
        &probe.source,
        None,
        Dated::of_probe(probe),
        words,
        &works,
        thresholds,
    )
    .map(|(work, score)| (work, score, MatchReason::Words, MemberRole::Summary))
    .or_else(|| {
        named_work(probe, &works, thresholds)
            .map(|(work, score)| (work, score, MatchReason::Named, MemberRole::Coverage))
    });
    let Some((work, score, reason, member_role)) = found else {
        return decision;
    };
    let Some(facts) = works.iter().find(|c| c.story_id == work).map(|c| &c.story) else {
        return decision;
    };
    if facts.pinned || facts.sources.iter().any(|s| feeds.contains(s.as_str())) {
        return decision;
    }
    let survivor = group.iter().copied().chain([work]).min().unwrap_or(work);
    Decision::Join {
        story_id: survivor,
        reason,
        score,
        member_role,
        also: group
            .into_iter()
            .chain([work])
            .filter(|story| *story != survivor)
            .collect(),
        relabel: Vec::new(),
    }
}

/// The same question asked again for a stored mirror once a new origin item arrived: the
/// story (among `candidates`, the items published within days of the mirror) whose work the
/// mirror's own text summarises, with the score. A summary that came before its work then
/// finds it just as one that came after would.
pub fn summarised_by(
    mirror: &Candidate,
    candidates: &[Candidate],
    thresholds: &Thresholds,
) -> Option<(i64, f64)> {
    if mirror.role != Role::Mirror || is_listing_page(&mirror.title_keys) {
        return None;
    }
    let words = mirror.words();
    summarised_work(
        &mirror.source,
        Some(mirror.story_id),
        Dated::of(mirror),
        words,
        candidates,
        thresholds,
    )
}

/// Whether a mirror's `words` (its [`content_words`]) name at least half of the meaningful
/// words of `work`'s title, and two or more: a summary without a date, asked about the writers'
/// works of any date (`WriteTx::titled_with`), must say which one it sums up. The same guest on
/// another show reads like the writer's interview with them, and a writer's appearance
/// elsewhere like their own episode of the same weeks, but neither names its title.
pub fn names_the_title(words: &Words, work: &Candidate) -> bool {
    let Some(title) = work.title_keys.first() else {
        return false;
    };
    let title = content_words(title, None);
    let named = words.shared(&title);
    named >= 2 && named * 2 >= title.len()
}

/// Whether a stored mirror's own words share enough with a work's `words` (its
/// [`content_words`]) that it may be a summary of it: the cheap first look before the mirror is
/// asked by [`summarised_by`] among every work around it.
pub fn may_summarise(mirror: &Candidate, words: &Words) -> bool {
    let theirs = mirror.words();
    let fewest = theirs.len().min(words.len());
    fewest >= MIN_SUMMARY_WORDS
        && theirs.shared(words) as f64 / fewest as f64 >= SUMMARY_WORDS_SHARED
}

/// Asks again which work a stored mirror that started a story of its own is about, once more
/// items are stored around it (`around`: the items published within days of it): the verdict
/// it would have had, had it come after them, by every evidence but links (which the store
/// finds from either side), then by its own words as a summary. Returns the story, the
/// evidence, its score and what the mirror is to that work. A mirror polled before its origin
/// thus ends where it would have ended after it.
pub fn reconsider(
    mirror: &Candidate,
    around: &[Candidate],
    decorations: &Decorations,
    thresholds: &Thresholds,
) -> Option<(i64, MatchReason, f64, MemberRole)> {
    if mirror.role != Role::Mirror {
        return None;
    }
    // Only the writers' works: a story of mirrors alone that it matches too is folded when
    // its own founder is asked. Borrowed when there is nothing to leave out, as when a new
    // work's own members are asked about each mirror near it.
    let works: Cow<'_, [Candidate]> = if around.iter().all(|c| c.story.has_origin) {
        Cow::Borrowed(around)
    } else {
        around
            .iter()
            .filter(|c| c.story.has_origin)
            .cloned()
            .collect()
    };
    let headline = headline(&mirror.title);
    let with_mentions = works.iter().any(|work| {
        may_name_a_guest(mirror, work, thresholds)
            || work.role == Role::Origin
                && (holds_the_title(&headline.words, work)
                    || work.title_keys.first().is_some_and(|theirs| {
                        cited_by_its_headline(headline.key.as_deref(), theirs)
                    }))
    });
    let probe = Probe::of_stored(mirror, decorations, with_mentions);
    match decide(&probe, &works, thresholds) {
        Decision::Join {
            story_id,
            reason,
            score,
            member_role,
            ..
        } if story_id != mirror.story_id => Some((story_id, reason, score, member_role)),
        _ => summarised_by(mirror, around, thresholds)
            .map(|(story_id, score)| (story_id, MatchReason::Words, score, MemberRole::Summary))
            .or_else(|| {
                named_work(&probe, &works, thresholds).map(|(story_id, score)| {
                    (story_id, MatchReason::Named, score, MemberRole::Coverage)
                })
            }),
    }
}

/// Whether a `summary` may be about `work` by its words alone: within days either way (a
/// directory lists an episode the days it airs, sometimes before the origin feed is read), or
/// up to `content_window` after one of the writers' own items (a summary site or a reader's
/// notes come weeks later, under a title of their own; nothing sums a work up weeks before it
/// exists, and a story of mirrors alone is no writer's dated work). A summary without a date
/// may be about any of the writers' items published before it was first seen, and about any
/// undated one: when that was first seen says only that it existed by then, so which of the
/// two came first depends on which feed was read first.
fn summary_in_time(summary: Dated, work: &Candidate, thresholds: &Thresholds) -> bool {
    if summary.undated && work.role == Role::Origin {
        return work.undated || work.published <= summary.published;
    }
    let published = summary.published;
    let after = published - work.published;
    after.abs() <= thresholds.title_window
        || work.role == Role::Origin
            && after > Duration::zero()
            && after <= thresholds.content_window
}

/// The story a summary from `source` published at `published` is about, by its `words`:
/// the best-matched one if it shares enough and is clearly ahead of every other.
fn summarised_work(
    source: &str,
    own_story: Option<i64>,
    summary: Dated,
    words: &Words,
    candidates: &[Candidate],
    thresholds: &Thresholds,
) -> Option<(i64, f64)> {
    if words.len() < MIN_SUMMARY_WORDS {
        return None;
    }
    let mut best_per_story: BTreeMap<i64, f64> = BTreeMap::new();
    for candidate in candidates {
        // The work is an origin's item, or, when no origin feed carries it, the mirrors'.
        let usable = (candidate.role == Role::Origin || !candidate.story.has_origin)
            && candidate.source != source
            && Some(candidate.story_id) != own_story
            && !candidate.story.sources.iter().any(|s| s == source)
            && summary_in_time(summary, candidate, thresholds)
            && !is_listing_page(&candidate.title_keys);
        if !usable {
            continue;
        }
        let theirs = candidate.words();
        if theirs.len() < MIN_SUMMARY_WORDS {
            continue;
        }
        let shared = words.shared(theirs);
        let score = shared as f64 / words.len().min(theirs.len()) as f64;
        let best = best_per_story.entry(candidate.story_id).or_insert(0.0);
        *best = best.max(score);
    }
    let mut ranked: Vec<(i64, f64)> = best_per_story.into_iter().collect();
    ranked.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
    match ranked.as_slice() {
        [(story_id, score), rest @ ..]
            if *score >= SUMMARY_WORDS_SHARED
                && rest
                    .first()
                    .is_none_or(|(_, next)| score - next >= SUMMARY_MARGIN) =>
        {
            Some((*story_id, *score))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
