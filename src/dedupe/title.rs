//! Title keys: the same headline however a site decorated it.
//!
//! Two kinds of decoration come off. The common forms are rule tables: site suffixes
//! (" | Site", " - Podcast"), medium and section prefixes ("Podcast: ", "Op-ed: "), Substack's
//! page title (" - by Author - Publication"), a tag in brackets ("[AINews]"), a source domain in
//! parentheses. The others name the writer, and only the writer's own feeds know those names:
//! [`Decorations`] holds what the origin feeds say of themselves (their titles, their authors,
//! the authors' surnames), so that "Mollick: X", "X - Ethan Mollick (One Useful Thing)" and
//! "Interconnects: X" all come back to "x". Numbers are kept, because "(#21)" and "(#22)" are
//! different issues of a series.

use super::compact_set::CompactSet;

/// Separators after which a short tail names the site, not the work.
const SUFFIX_SEPARATORS: &[&str] = &[" | ", " - ", " — ", " – ", " :: ", " · "];

/// A tail after a separator is taken as a site name only when it is this short.
const MAX_SUFFIX_WORDS: usize = 4;

/// Prefixes that label the medium rather than name the work.
const MEDIUM_PREFIXES: &[&str] = &[
    "op-ed:",
    "op ed:",
    "opinion:",
    "analysis:",
    "commentary:",
    "essay:",
    "guest post:",
    "new post:",
    "new episode:",
    "video:",
    "watch:",
    "summary:",
    "tl;dr:",
    "podcast:",
    "audio:",
    "episode:",
    "[podcast]",
    "(podcast)",
    "voiceover:",
    "listen:",
    "audio edition:",
    "audio version:",
    "narrated:",
    "[audio]",
    "(audio)",
];

/// Leading episode numbers ("Ep. 7:", "Episode 12 -", "#31 |") that a podcast feed puts before
/// the headline its post carries bare.
static EPISODE_PREFIX: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^(?:episode|ep\.?|no\.?|#)\s*\d+\s*[:\-–—|.]\s*")
        .expect("the episode prefix pattern is valid")
});

/// Decorations that need no names: a leading tag in brackets ("[AINews] "), Substack's page
/// title tail (" - by Author - Publication"), a source domain in parentheses (" (example.com)").
static TAG_PREFIX: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^[\[(][^\])]{1,24}[\])]\s*").expect("the tag prefix pattern is valid")
});
static BYLINE_TAIL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"\s+[-–—|]\s+by\s+.*$").expect("the byline pattern is valid")
});
static DOMAIN_TAIL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"\s*\((?:[a-z0-9-]+\.)+[a-z]{2,}(?:/\S*)?\)$")
        .expect("the domain pattern is valid")
});

/// Suffixes that label the medium.
const MEDIUM_SUFFIXES: &[&str] = &[
    "(podcast)",
    "[podcast]",
    "(audio)",
    "[audio]",
    "(voiceover)",
    "(narrated)",
    "(audio edition)",
    "(audio version)",
    "(read aloud)",
];

/// Openings of recurring roundups ("Links for the week of ...", "What I'm reading"): every
/// issue has one, so a match on them proves nothing.
const GENERIC_PREFIXES: &[&str] = &[
    "links for",
    "link roundup",
    "what i m reading",
    "what i read",
    "reading list",
    "year in review",
    "week in review",
    "month in review",
    "this week in",
    "weekly roundup",
    "weekly links",
    "monthly roundup",
    "friday links",
    "sunday links",
    "open thread",
    "news roundup",
];

/// Titles that many unrelated posts share; a match on one of these proves nothing.
const GENERIC_TITLES: &[&str] = &[
    "open thread",
    "weekly roundup",
    "weekly round up",
    "links",
    "link roundup",
    "weekly links",
    "news",
    "newsletter",
    "podcast",
    "episode",
    "update",
    "updates",
    "announcement",
    "untitled",
    "no title",
    "mailbag",
    "ama",
    "friday links",
    "sunday reading",
    "this week",
    "notes",
];

/// The normalised title, or `None` when nothing meaningful is left.
pub fn title_key(title: &str) -> Option<String> {
    normalised(title, true)
}

/// The normalised title with a short tail after a separator kept: "Cursor's Third Era – Cloud
/// Agents" loses "cloud agents" to the site-suffix rule, and a title that contains it whole
/// must still be seen to.
fn full_title_key(title: &str) -> Option<String> {
    normalised(title, false)
}

fn normalised(title: &str, cut_site_suffix: bool) -> Option<String> {
    let mut text = title.trim().to_lowercase();
    loop {
        let before = text.len();
        for prefix in MEDIUM_PREFIXES {
            if let Some(rest) = text.strip_prefix(prefix) {
                text = rest.trim_start().to_owned();
            }
        }
        if let Some(found) = EPISODE_PREFIX.find(&text) {
            text = text[found.end()..].to_owned();
        }
        for pattern in [&*TAG_PREFIX, &*BYLINE_TAIL, &*DOMAIN_TAIL] {
            // A decoration never takes the whole title.
            if let Some(found) = pattern.find(&text)
                && found.len() < text.len()
            {
                text.replace_range(found.range(), "");
                text = text.trim().to_owned();
            }
        }
        for suffix in MEDIUM_SUFFIXES {
            if let Some(rest) = text.strip_suffix(suffix) {
                text = rest.trim_end().to_owned();
            }
        }
        if cut_site_suffix && let Some(cut) = site_suffix_start(&text) {
            text.truncate(cut);
        }
        if text.len() == before {
            break;
        }
    }
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    if words.is_empty() {
        None
    } else {
        Some(words.join(" "))
    }
}

/// Where a trailing " | Site Name" starts, if the title has one.
fn site_suffix_start(text: &str) -> Option<usize> {
    let (cut, separator) = SUFFIX_SEPARATORS
        .iter()
        .filter_map(|sep| text.rfind(sep).map(|at| (at, *sep)))
        .max_by_key(|(at, _)| *at)?;
    let tail = &text[cut + separator.len()..];
    let head = &text[..cut];
    let tail_words = tail.split_whitespace().count();
    // Keep the tail when it is long (it is part of the headline) or when the head alone would
    // be too short to be a headline.
    (tail_words <= MAX_SUFFIX_WORDS && head.split_whitespace().count() >= 2).then_some(cut)
}

/// Whether a title key is too common or too short to identify a work by itself.
pub fn is_generic(key: &str) -> bool {
    let without_numbers: Vec<&str> = key
        .split(' ')
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let core = without_numbers.join(" ");
    without_numbers.len() < 3
        || GENERIC_TITLES.contains(&core.as_str())
        || GENERIC_PREFIXES
            .iter()
            .any(|prefix| core.starts_with(prefix))
}

/// Whether a title (any of its readings) is a numbered page of a listing ("Casts — page 33",
/// "Episodes - Page 2 of 14"): an archive's or an aggregator's page holds whatever was newest
/// when it was crawled, so its top entry repeating one work's description word for word makes
/// it no page about that work.
pub fn is_listing_page(keys: &[String]) -> bool {
    let number = |word: &str| !word.is_empty() && word.chars().all(|c| c.is_ascii_digit());
    keys.iter().any(|key| {
        let mut last = key.rsplit(' ');
        match (last.next(), last.next(), last.next(), last.next()) {
            (Some(m), Some("of"), Some(n), Some("page")) => number(n) && number(m),
            (Some(n), Some("page"), ..) => number(n),
            _ => false,
        }
    })
}

/// The numbers in a title ("#21", "2026", "5.2"): two titles with different numbers are
/// different issues of a series, whatever else they share.
pub fn numbers(key: &str) -> Vec<&str> {
    key.split(' ')
        .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
        .collect()
}

/// Words that carry no meaning of their own, left out when counting how distinctive a title is.
const STOPWORDS: &[&str] = &[
    "a", "an", "the", "of", "to", "in", "on", "and", "or", "for", "is", "are", "was", "be", "it",
    "s", "with", "by", "at", "as", "from", "that", "this", "we", "i", "you", "my", "our", "your",
    "how", "what", "why", "do", "does", "not", "vs",
];

/// A contained title needs this many words that are not stopwords before a longer title that
/// contains it is evidence: "The AI race" is inside too many headlines to mean one work.
pub const MIN_CONTAINED_WORDS: usize = 4;

/// Words joined between a title and a name that decorates it ("X by Jane Doe", "Doe on X").
const NAME_JOINERS: &[&str] = &["by", "from", "on", "with", "via", "says", "writes", "in"];

/// Words that follow a show's or a newsletter's name in a decoration ("Latent Space Podcast:
/// X", "X - Interconnects Recap").
const MEDIUM_WORDS: &[&str] = &[
    "podcast",
    "pod",
    "show",
    "newsletter",
    "blog",
    "recap",
    "episode",
    "weekly",
    "daily",
    "audio",
    "video",
    "summary",
];

/// A name (its key words joined by spaces) or a feed's name as one number: [`Decorations`]
/// keeps these rather than the strings, because it is asked whether a run of words is a
/// name, never to list the names, and it holds every origin feed's (a list of 10,000 feeds
/// held each name as a string four times over: 9 MB). Two names share a number with odds of
/// about one in 2^64 per pair.
fn name_hash(name: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(name.as_bytes())
}

/// The most feeds one writer's name is shared by (their newsletter, podcast, video channel and
/// the like): see [`Decorations::kin_of`].
const MAX_KIN: usize = 8;

/// [`name_hash`] of `words` joined by spaces, without joining them.
fn words_hash<S: AsRef<str>>(words: &[S]) -> u64 {
    joined_hash(words, b" ")
}

/// The hash of `parts` joined by `separator` (the same as of the joined string), without
/// joining them.
fn joined_hash<S: AsRef<str>>(parts: &[S], separator: &[u8]) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for (at, part) in parts.iter().enumerate() {
        if at > 0 {
            hasher.update(separator);
        }
        hasher.update(part.as_ref().as_bytes());
    }
    hasher.digest()
}

/// The names that decorate a writer's titles on other sites, learned from the origin feeds:
/// feed titles and author names, and each author's surname. Names and feeds are held as their
/// [`name_hash`]es, so what a feed costs here does not grow with how its names are spelled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decorations {
    /// Each name, as the hash of its key words joined by spaces.
    names: CompactSet<u64>,
    /// The word counts names have, longest first so "nathan lambert" goes before "lambert".
    lengths: Vec<usize>,
    /// Each origin feed's names of two words or more (its title, its authors), by feed: whose
    /// show an item of that feed is, so a page that names another writer is not taken for a
    /// page about it.
    feeds: CompactSet<(u64, u64)>,
    /// The same pairs by name: the origin feeds that call themselves each name.
    feeds_by_name: CompactSet<(u64, u64)>,
    /// The feeds' own names, by hash, to answer [`Decorations::feeds_named`] with.
    sources: FeedNames,
    /// The most words a name of two words or more starting with a word has, by that word's
    /// hash: a title or text is read for the writers' names in one pass over its words, at a
    /// cost that does not grow with the number of feeds followed.
    full_by_first: std::collections::HashMap<u64, usize>,
    /// What has been learned, as one number: the XOR of a hash of every name and of every
    /// (feed, name) pair, so that two decorations that learned the same things, in any order,
    /// have the same. A reading memoised under it (`dedupe::stored_title_keys`) is the one
    /// these decorations make.
    fingerprint: u64,
}

/// The seconds of the pairs in `set` whose first is `first`.
fn seconds(set: &CompactSet<(u64, u64)>, first: u64) -> impl Iterator<Item = u64> + '_ {
    set.range((first, 0)..=(first, u64::MAX))
        .map(|(_, second)| second)
}

/// Feeds' names by their [`name_hash`]: the names in one string, and an index of (hash, where
/// the name starts, where it ends) into it. Ten thousand names cost their letters and 16 bytes
/// each, not a map's slots and an allocation each.
#[derive(Debug, Clone, Default)]
struct FeedNames {
    text: String,
    index: CompactSet<(u64, u32, u32)>,
}

impl FeedNames {
    fn compact(&mut self) {
        self.text.shrink_to_fit();
        self.index.compact();
    }

    /// Keeps `name` under `hash` unless a name is kept there already.
    fn add(&mut self, hash: u64, name: &str) {
        if self.get(hash).is_none()
            && let Some((start, end)) = span(&self.text, name)
        {
            self.text.push_str(name);
            self.index.insert((hash, start, end));
        }
    }

    fn get(&self, hash: u64) -> Option<&str> {
        let (_, start, end) = self
            .index
            .range((hash, 0, 0)..=(hash, u32::MAX, u32::MAX))
            .next()?;
        self.text.get(start as usize..end as usize)
    }

    fn names(&self) -> impl Iterator<Item = (u64, Option<&str>)> {
        self.index
            .sorted()
            .into_iter()
            .map(|(hash, start, end)| (hash, self.text.get(start as usize..end as usize)))
    }
}

/// Where `name` would start and end appended to `text`, or `None` past four gigabytes of
/// names (the rest are not named back).
fn span(text: &str, name: &str) -> Option<(u32, u32)> {
    Some((
        u32::try_from(text.len()).ok()?,
        u32::try_from(text.len() + name.len()).ok()?,
    ))
}

/// The same names under the same hashes, whatever order they were learned in.
impl PartialEq for FeedNames {
    fn eq(&self, other: &FeedNames) -> bool {
        self.names().eq(other.names())
    }
}

impl Eq for FeedNames {}

impl Decorations {
    /// Decorations from feed titles and author names. Names with no letters, or a surname
    /// shorter than four letters (too likely to be a real word of a title), are left out.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Decorations {
        let mut decorations = Decorations::default();
        decorations.add(names);
        decorations
    }

    /// Whether `key` (a title key) is one of the names learned, and nothing more: a page
    /// titled so ("Machine Learning Street Talk (MLST)") is about the writer or the show.
    pub fn is_name(&self, key: &str) -> bool {
        self.names.contains(&name_hash(key))
    }

    /// Whether `words` are one of the names learned.
    fn has_name(&self, words: &[&str]) -> bool {
        self.names.contains(&words_hash(words))
    }

    /// What these decorations have learned, as one number (see the field).
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Learns more names (a feed that named a new author).
    pub fn add<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        for name in names {
            let words = key_words(&name.to_lowercase());
            if words.is_empty() || words.iter().all(|w| STOPWORDS.contains(&w.as_str())) {
                continue;
            }
            if words.len() >= 2
                && let Some(surname) = words.last()
                && surname.chars().count() >= 4
                && !STOPWORDS.contains(&surname.as_str())
            {
                self.insert(std::slice::from_ref(surname));
            }
            self.insert(&words);
        }
    }

    /// Learns the names an origin feed (`source`) said of itself, remembering they are that
    /// feed's (see [`Decorations::feeds_named`]).
    pub fn add_for<'a>(&mut self, source: &str, names: impl IntoIterator<Item = &'a str>) {
        let names: Vec<&str> = names.into_iter().collect();
        self.add(names.iter().copied());
        let full = names
            .iter()
            .map(|name| key_words(&name.to_lowercase()))
            .filter(|words| {
                words.len() >= 2 && !words.iter().all(|w| STOPWORDS.contains(&w.as_str()))
            })
            .map(|words| words.join(" "));
        let feed = name_hash(source);
        for name in full {
            let named = name_hash(&name);
            self.sources.add(feed, source);
            if self.feeds_by_name.insert((named, feed)) {
                self.fingerprint ^= joined_hash(&[source, &name], b"\0");
            }
            self.feeds.insert((feed, named));
        }
    }

    /// Decorations learned from every origin feed at once (the store's), each feed as its name
    /// and the names it said of itself, held as tightly as they can be.
    pub fn of_feeds<S: AsRef<str>>(feeds: impl IntoIterator<Item = (S, Vec<S>)>) -> Decorations {
        let mut decorations = Decorations::default();
        for (source, names) in feeds {
            decorations.add_for(source.as_ref(), names.iter().map(AsRef::as_ref));
        }
        decorations.names.compact();
        decorations.feeds.compact();
        decorations.feeds_by_name.compact();
        decorations.sources.compact();
        decorations
    }

    /// The origin feeds called by one of `named` (names of two words or more, as
    /// [`Decorations::full_names_in`] finds them), and the feeds that share a name with one of
    /// those: one writer's show, posts and video channel call themselves differently
    /// ("Dwarkesh Podcast", "Dwarkesh Patel") but share the author. Sorted.
    pub fn feeds_named<'a>(&self, named: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let direct: std::collections::BTreeSet<u64> = named
            .into_iter()
            .flat_map(|name| seconds(&self.feeds_by_name, name_hash(name)))
            .collect();
        let shared: std::collections::BTreeSet<u64> = direct
            .iter()
            .flat_map(|&feed| seconds(&self.feeds, feed))
            .collect();
        let all: std::collections::BTreeSet<&str> = shared
            .iter()
            .flat_map(|&name| seconds(&self.feeds_by_name, name))
            .filter_map(|feed| self.sources.get(feed))
            .collect();
        all.into_iter().map(str::to_owned).collect()
    }

    /// The other origin feeds that share a name of two words or more (a title, an author)
    /// with the origin feed `source`: one writer's newsletter and podcast ("Exponential View"
    /// and "Azeem Azhar's Exponential View", both by Azeem Azhar). A name more than
    /// [`MAX_KIN`] feeds share is a publisher's or a network's ("The New York Times"), not one
    /// writer's, and makes no kin. Sorted.
    pub fn kin_of(&self, source: &str) -> Vec<String> {
        let feed = name_hash(source);
        let mut kin = std::collections::BTreeSet::new();
        for name in seconds(&self.feeds, feed) {
            let named: Vec<u64> = seconds(&self.feeds_by_name, name)
                .take(MAX_KIN + 1)
                .collect();
            if named.len() > MAX_KIN {
                continue;
            }
            kin.extend(
                named
                    .into_iter()
                    .filter(|&other| other != feed)
                    .filter_map(|other| self.sources.get(other)),
            );
        }
        kin.into_iter().map(str::to_owned).collect()
    }

    /// The writers' names of two words or more that run through `words` (lowercase key
    /// words), each with where it starts, in the order they start (the shorter first where
    /// two start at one word). Looked up by each word rather than tried name by name, so the
    /// cost is the text's, not the feed list's.
    pub fn full_names_in<S: AsRef<str>>(&self, words: &[S]) -> Vec<(usize, String)> {
        let mut found = Vec::new();
        for (at, word) in words.iter().enumerate() {
            let Some(&longest) = self.full_by_first.get(&name_hash(word.as_ref())) else {
                continue;
            };
            for length in 2..=longest.min(words.len() - at) {
                let run = &words[at..at + length];
                if self.names.contains(&words_hash(run)) {
                    let name: Vec<&str> = run.iter().map(AsRef::as_ref).collect();
                    found.push((at, name.join(" ")));
                }
            }
        }
        found
    }

    fn insert(&mut self, words: &[String]) {
        let name = words_hash(words);
        if !self.names.insert(name) {
            return;
        }
        self.fingerprint ^= name;
        if let [first, _, ..] = words {
            let longest = self.full_by_first.entry(name_hash(first)).or_default();
            *longest = (*longest).max(words.len());
        }
        if !self.lengths.contains(&words.len()) {
            self.lengths.push(words.len());
            self.lengths.sort_unstable_by(|a, b| b.cmp(a));
        }
    }

    /// The key with the writer's names taken off its start and end ("simon willison x" and
    /// "x by simon willison" are "x"), or `None` when no name was there or too little is left.
    fn strip(&self, key: &str) -> Option<String> {
        let mut words: Vec<&str> = key.split(' ').collect();
        let original = words.len();
        let is_name_at = |words: &[&str], at_end: bool| -> Option<usize> {
            self.lengths.iter().copied().find(|&n| {
                words.len() > n + 1 && {
                    let run = if at_end {
                        &words[words.len() - n..]
                    } else {
                        &words[..n]
                    };
                    self.has_name(run)
                }
            })
        };
        loop {
            let before = words.len();
            if let Some(n) = is_name_at(&words, false) {
                words.drain(..n);
                while words.len() > 2 && MEDIUM_WORDS.contains(&words[0]) {
                    words.remove(0);
                }
            }
            // A medium word at the end is taken only with the name before it.
            let medium_tail = words
                .iter()
                .rev()
                .take_while(|w| MEDIUM_WORDS.contains(*w))
                .count();
            if let Some(n) = is_name_at(&words[..words.len() - medium_tail], true) {
                words.truncate(words.len() - medium_tail - n);
            }
            while words.len() > 2 && NAME_JOINERS.contains(&words[words.len() - 1]) {
                words.pop();
            }
            while words.len() > 2 && NAME_JOINERS.contains(&words[0]) {
                words.remove(0);
            }
            if words.len() == before {
                break;
            }
        }
        (words.len() < original && words.len() >= 2).then(|| words.join(" "))
    }

    /// The key with a show or a host named inside it taken out, as directories and summary
    /// sites title an episode: "Ilya Sutskever on Dwarkesh Patel — Moving from the age of
    /// scaling" is "ilya sutskever moving from the age of scaling". `None` when no name
    /// follows "on" or "with" after the start (a guest's name comes first), or too little is
    /// left.
    fn strip_inner(&self, key: &str) -> Option<String> {
        let words: Vec<&str> = key.split(' ').collect();
        for joiner in 2..words.len().saturating_sub(1) {
            if !INNER_JOINERS.contains(&words[joiner]) {
                continue;
            }
            let mut start = joiner + 1;
            if words[start] == "the" {
                start += 1;
            }
            let Some(n) = self
                .lengths
                .iter()
                .copied()
                .find(|&n| start + n <= words.len() && self.has_name(&words[start..start + n]))
            else {
                continue;
            };
            let mut end = start + n;
            while end < words.len() && MEDIUM_WORDS.contains(&words[end]) {
                end += 1;
            }
            let kept: Vec<&str> = words[..joiner]
                .iter()
                .chain(&words[end..])
                .copied()
                .collect();
            return (kept.len() >= 3).then(|| kept.join(" "));
        }
        None
    }

    /// The numbered issues of the writers' shows a title names ("Lex Fridman Podcast #452",
    /// "Import AI 412: ..."), each as a key ("lex fridman 452"): a show numbers each episode
    /// once, so the show's name and the number name one work at any distance in time. A year
    /// ("Simon Willison 2026") is no issue number. The key is the name without the medium
    /// words after it ("podcast", "show"), so a host's name and the show named after the host
    /// ("Lex Fridman", "Lex Fridman Podcast") make one key, whichever of the two is known:
    /// the same key [`issue_anchors`] indexes without knowing any name.
    pub fn issues(&self, title: &str) -> Vec<String> {
        let words = key_words(&title.to_lowercase());
        let mut named: Vec<(String, usize)> = self
            .full_names_in(&words)
            .into_iter()
            .map(|(at, name)| (name, at))
            .collect();
        // Name by name, as a show's own order would list them, whatever order they appear in.
        named.sort_unstable();
        let mut found = Vec::new();
        for (name, at) in named {
            let after = at + name.split(' ').count();
            let Some(offset) = words[after..].iter().position(|w| !is_issue_word(w)) else {
                continue;
            };
            let number = &words[after + offset];
            // "Lex Fridman · 5 hours 15 minutes": a length, not an episode.
            let measured = words
                .get(after + offset + 1)
                .is_some_and(|unit| UNIT_WORDS.contains(&unit.as_str()));
            if is_issue_number(number) && !measured {
                let key = format!("{} {number}", without_medium_words(&name));
                if !found.contains(&key) {
                    found.push(key);
                }
            }
        }
        found
    }
}

/// Words after a number that make it a length or a count ("5 hours"), not an episode's number.
const UNIT_WORDS: &[&str] = &[
    "h", "hr", "hrs", "hour", "hours", "min", "mins", "minute", "minutes", "sec", "secs", "second",
    "seconds", "episodes", "parts",
];

/// Words between a show's name and its episode number ("Lex Fridman Podcast episode 452").
const ISSUE_WORDS: &[&str] = &["episode", "ep", "no", "issue", "number", "vol"];

/// Whether a word may stand between a name and its episode number: "episode", "no", or a
/// medium word ("podcast").
fn is_issue_word(word: &str) -> bool {
    ISSUE_WORDS.contains(&word) || MEDIUM_WORDS.contains(&word)
}

/// A show's name without the medium words it ends with ("lex fridman podcast" is "lex
/// fridman"), unless nothing else is left.
fn without_medium_words(name: &str) -> &str {
    let mut name = name;
    while let Some((rest, last)) = name.rsplit_once(' ')
        && MEDIUM_WORDS.contains(&last)
    {
        name = rest;
    }
    name
}

/// Words before an episode number that [`issue_anchors`] takes as the show's name, at most.
const ANCHOR_NAME_WORDS: usize = 4;

/// Every key [`Decorations::issues`] could read in `text` once the show's name is known,
/// without knowing any: for each episode number, the one to four words before it (episode and
/// medium words left out) and the number. A mirror stored before the writer's feed told its
/// name is indexed under these, so that the episode it names finds it when it arrives; they
/// are index entries only, never a reading of the title.
pub fn issue_anchors(text: &str) -> Vec<String> {
    let words = key_words(&text.to_lowercase());
    let mut anchors = Vec::new();
    for (at, number) in words.iter().enumerate() {
        if !is_issue_number(number) {
            continue;
        }
        let mut end = at;
        while end > 0 && is_issue_word(&words[end - 1]) {
            end -= 1;
        }
        for length in 1..=ANCHOR_NAME_WORDS.min(end) {
            let key = format!("{} {number}", words[end - length..end].join(" "));
            if !anchors.contains(&key) {
                anchors.push(key);
            }
        }
    }
    anchors
}

/// An episode or issue number: up to four digits, and not a year.
fn is_issue_number(word: &str) -> bool {
    !word.is_empty()
        && word.len() <= 4
        && word.chars().all(|c| c.is_ascii_digit())
        && !word
            .parse::<u32>()
            .is_ok_and(|n| (1900..=2100).contains(&n) && word.len() == 4)
}

/// Characters that part a headline from the names beside it ("Andrej Karpathy — AGI is
/// still a decade away", "Every Agent Needs a Box — Aaron Levie, Box", "X (Anthropic CEO)").
const NAME_PARTS: &[char] = &[
    '—', '–', '|', ':', ',', '&', '(', ')', '[', ']', '“', '”', '"', '+', '·', '/',
];

/// A word of a person's name as titles write it: capitalised ("Karpathy", "Fan-yun",
/// "O’Brien", "Prof."), not an acronym ("AGI") or a number.
fn is_name_word(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
        && word.chars().any(char::is_lowercase)
        && word
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, '-' | '\'' | '’' | '.'))
}

/// Words that open a list of guests ("with Chris Manning", "w/ Pavan Kumar Reddy").
const GUEST_OPENERS: &[&str] = &["with", "w", "feat", "ft", "featuring", "by", "and"];

/// The people a title puts beside its headline: parts of two or three capitalised words
/// ("Andrej Karpathy", "Prof. Max Welling", "Fan-yun Sun"), as keys. Interview shows title an
/// episode after its guest, and pages about the episode name the guest in their own headline
/// even when the rest of it is theirs. A title that is one part only has no guest (the whole
/// title is the headline), acronyms ("AGI", "TTS") and numbers make no name, and neither do
/// the writers' own `names` (a host is on every episode).
pub fn guests(title: &str, names: &[String]) -> Vec<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in title.split(NAME_PARTS) {
        // " - " and " and " part names too, but a hyphen inside a word ("Fan-yun") does not.
        for piece in part.split(" - ") {
            parts.extend(piece.split(" and "));
        }
    }
    let parts: Vec<Vec<&str>> = parts
        .iter()
        .map(|part| part.split_whitespace().collect::<Vec<_>>())
        .filter(|words| !words.is_empty())
        .collect();
    if parts.len() < 2 {
        return Vec::new();
    }
    let mut found: Vec<String> = Vec::new();
    for words in parts {
        let start = words
            .iter()
            .position(|w| !GUEST_OPENERS.contains(&w.trim_end_matches('/').to_lowercase().as_str()))
            .unwrap_or(words.len());
        let words = &words[start..];
        if !(2..=3).contains(&words.len()) || !words.iter().all(|w| is_name_word(w)) {
            continue;
        }
        let Some(key) = title_key(&words.join(" ")) else {
            continue;
        };
        if significant_words(&key) >= 2 && !names.contains(&key) && !found.contains(&key) {
            found.push(key);
        }
    }
    found
}

/// Whether the words `haystack` hold `needle`'s words together and in order.
pub fn contains_run<S: AsRef<str>>(haystack: &[S], needle: &str) -> bool {
    let needle: Vec<&str> = needle.split(' ').collect();
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|run| run.iter().map(AsRef::as_ref).eq(needle.iter().copied()))
}

/// Words that put a guest on a show in the middle of a title ("X on Dwarkesh Patel: ...").
const INNER_JOINERS: &[&str] = &["on", "with"];

/// The keys a title may stand for, most likely first: its key, the key with a short tail
/// kept, each without the writer's names, the key of a quoted headline inside it
/// ("Mollick: 'X'" is about "x"), the first sentence of a headline of several when it has four
/// meaningful words, and the numbered issues of the writers' shows it names. Empty when the
/// title has no key at all.
pub fn title_keys(title: &str, decorations: &Decorations) -> Vec<String> {
    let Some(key) = title_key(title) else {
        return Vec::new();
    };
    let mut keys = vec![key];
    keys.extend(full_title_key(title));
    keys.extend(
        headline_before_its_guest(title)
            .and_then(title_key)
            .filter(|headline| !is_generic(headline)),
    );
    for index in 0..keys.len() {
        if let Some(stripped) = decorations.strip(&keys[index]) {
            keys.push(stripped);
        }
        if let Some(stripped) = decorations.strip_inner(&keys[index]) {
            keys.push(stripped);
        }
    }
    if let Some(quoted) = quoted_headline(title).and_then(|q| title_key(&q))
        && quoted.split(' ').count() >= 3
    {
        keys.push(quoted);
    }
    if let Some(lead) = lead_sentence(title).and_then(|lead| title_key(&lead))
        && significant_words(&lead) >= MIN_CONTAINED_WORDS
        && !is_generic(&lead)
    {
        keys.push(lead);
    }
    keys.extend(decorations.issues(title));
    let mut seen = std::collections::HashSet::new();
    keys.retain(|key| seen.insert(key.clone()));
    keys
}

/// The headline of an interview's title that ends with its guest's credit ("Intelligence is
/// collective, not artificial — Prof. Michael I. Jordan (UC Berkeley / Inria)"): pages about the
/// episode carry the headline alone. A short tail is cut as a site's name anyway
/// ([`site_suffix_start`]); a credit with its affiliation is longer than any site's name. The
/// credit is a person's name (an optional title such as "Prof.", two to four capitalised words
/// or initials, two of them words), then nothing, or a short affiliation in brackets or after
/// a comma.
fn headline_before_its_guest(title: &str) -> Option<&str> {
    /// Longer, what follows the name is a sentence of the headline's, not where the guest
    /// works ("Michael Jordan, Professor at Berkeley", "(UC Berkeley / Inria)").
    const MAX_AFFILIATION_WORDS: usize = 5;
    const HONORIFICS: &[&str] = &["prof", "prof.", "professor", "dr", "dr."];
    // A credit follows a dash or a bar; "::" and "·" part a site's name from a headline.
    let (cut, separator) = SUFFIX_SEPARATORS
        .iter()
        .filter(|sep| !matches!(**sep, " :: " | " · "))
        .filter_map(|sep| title.rfind(sep).map(|at| (at, *sep)))
        .max_by_key(|(at, _)| *at)?;
    let head = title[..cut].trim();
    let credit = &title[cut + separator.len()..];
    let (name, affiliation) = match credit.find(['(', ',']) {
        Some(at) if credit[at..].starts_with('(') && !credit.trim_end().ends_with(')') => {
            return None;
        }
        Some(at) => (&credit[..at], &credit[at..]),
        None => (credit, ""),
    };
    if affiliation.split_whitespace().count() > MAX_AFFILIATION_WORDS {
        return None;
    }
    let mut words: Vec<&str> = name.split_whitespace().collect();
    if words
        .first()
        .is_some_and(|w| HONORIFICS.contains(&w.to_lowercase().as_str()))
    {
        words.remove(0);
    }
    let is_initial = |word: &str| {
        let letters: Vec<char> = word.trim_end_matches('.').chars().collect();
        letters.len() == 1 && letters[0].is_uppercase()
    };
    let names = words.iter().filter(|w| is_name_word(w)).count();
    let credited = (2..=4).contains(&words.len())
        && names >= 2
        && words.iter().all(|w| is_name_word(w) || is_initial(w));
    (credited && head.split_whitespace().count() >= 2).then_some(head)
}

/// The first sentence of a headline of several ("Game over for pure LLMs. Even Rich Sutton
/// has gotten off the bus."): the claim a rewrite repeats inside a headline of its own. A
/// break after a word of one or two letters ("U.S. ", "No. 5") ends no sentence.
fn lead_sentence(title: &str) -> Option<String> {
    let title = title.trim();
    title.char_indices().find_map(|(at, c)| {
        if !matches!(c, '.' | '?' | '!') {
            return None;
        }
        let rest = title[at + c.len_utf8()..].trim_start();
        let follows = title[at + c.len_utf8()..].starts_with(' ')
            && rest.chars().next().is_some_and(char::is_alphanumeric);
        let last_word = title[..at]
            .rsplit(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or("");
        (follows && last_word.chars().count() >= 3).then(|| title[..at].to_owned())
    })
}

/// The longest span of a title between a pair of quotation marks.
fn quoted_headline(title: &str) -> Option<String> {
    const PAIRS: &[(char, char)] = &[('“', '”'), ('‘', '’'), ('"', '"'), ('\'', '\''), ('«', '»')];
    PAIRS
        .iter()
        .filter_map(|(open, close)| {
            let start = title.find(*open)? + open.len_utf8();
            let end = start + title[start..].rfind(*close)?;
            // An apostrophe inside a word ("Lambert's") is no quotation mark.
            let opens_a_quote = title[..start - open.len_utf8()]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric());
            (opens_a_quote && end > start).then(|| title[start..end].to_owned())
        })
        .max_by_key(String::len)
}

fn key_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// How many words of a key are not stopwords.
pub fn significant_words(key: &str) -> usize {
    key.split(' ').filter(|w| !STOPWORDS.contains(w)).count()
}

/// How many of `key`'s words that are not stopwords `other` (a key) holds too.
pub fn shared_significant_words(key: &str, other: &str) -> usize {
    let others: std::collections::HashSet<&str> = other.split(' ').collect();
    let mut seen = std::collections::HashSet::new();
    key.split(' ')
        .filter(|w| !STOPWORDS.contains(w) && others.contains(w) && seen.insert(*w))
        .count()
}

/// Titles with fewer meaningful words than this are too short to be told apart by their
/// words alone ("The Shape of AI", "The Shape of the Thing").
const MIN_SIMILAR_WORDS: usize = 5;

/// A title held by a longer one names one work only when it has this many meaningful words:
/// a short one is a topic many titles hold.
const MIN_HELD_WORDS: usize = 7;

/// How alike two titles are by their meaningful words (Jaccard, 0 to 1), or 0 when either is
/// too short to say: a directory that shortens "Causal World Models should be Multimodal,
/// Interactive, and Efficient" to "Multimodal, Interactive, and Efficient World Models" keeps
/// almost every word.
pub fn title_similarity(a: &str, b: &str) -> f64 {
    TitleWords::of(a).similarity(&TitleWords::of(b))
}

/// A title key's meaningful words (stopwords left out), as hashes, sorted, each once: read
/// once per key in a process (`dedupe::stored::title_words`), though every key of one item
/// meets every key of each item it is compared with.
#[derive(Debug)]
pub struct TitleWords(Box<[u64]>);

impl TitleWords {
    pub fn of(key: &str) -> Self {
        let mut words: Vec<u64> = key
            .split(' ')
            .filter(|w| !STOPWORDS.contains(w))
            .map(|w| xxhash_rust::xxh3::xxh3_64(w.as_bytes()))
            .collect();
        words.sort_unstable();
        words.dedup();
        TitleWords(words.into_boxed_slice())
    }

    /// How alike two titles are, from one count of the words they share: their similarity
    /// ([`title_similarity`]), and the share of the shorter title's words the other holds when
    /// the shorter has [`MIN_HELD_WORDS`] or more (0 otherwise). A summary site keeps a long
    /// episode title whole and adds a subtitle of its own, which the similarity of the two
    /// word sets counts against it.
    pub fn likeness(&self, other: &TitleWords) -> (f64, f64) {
        let (short, long) = if self.0.len() <= other.0.len() {
            (&self.0, &other.0)
        } else {
            (&other.0, &self.0)
        };
        let shared = short
            .iter()
            .filter(|w| long.binary_search(w).is_ok())
            .count();
        let similarity = if short.len() < MIN_SIMILAR_WORDS {
            0.0
        } else {
            shared as f64 / (short.len() + long.len() - shared) as f64
        };
        let held = if short.len() < MIN_HELD_WORDS {
            0.0
        } else {
            shared as f64 / short.len() as f64
        };
        (similarity, held)
    }

    /// [`title_similarity`] of the two keys these words are of.
    pub fn similarity(&self, other: &TitleWords) -> f64 {
        self.likeness(other).0
    }
}

/// Words per title gram: a distinctive title has at least one run this long.
const GRAM_WORDS: usize = 4;

/// Hashes of every run of four words of a key, the index through which a longer title that
/// contains a whole other title finds it (and the other way round).
pub fn title_grams(key: &str) -> Vec<i64> {
    let words: Vec<&str> = key.split(' ').collect();
    let mut grams: Vec<i64> = words
        .windows(GRAM_WORDS)
        .map(|run| super::text::hash_to_sql(super::text::stable_hash(run.iter().copied())))
        .collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// Whether `long` holds every word of `short`, in order and together, and `short` is a
/// distinctive title of its own (enough meaningful words, not generic).
pub fn contains_title(long: &str, short: &str) -> bool {
    if long.len() <= short.len()
        || significant_words(short) < MIN_CONTAINED_WORDS
        || is_generic(short)
    {
        return false;
    }
    let long: Vec<&str> = long.split(' ').collect();
    let short: Vec<&str> = short.split(' ').collect();
    long.windows(short.len()).any(|run| run == short.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decorations_are_stripped() {
        let cases = [
            (
                "My bets on open models, mid-2026",
                "my bets on open models mid 2026",
            ),
            (
                "My bets on open models, mid-2026 | AI News",
                "my bets on open models mid 2026",
            ),
            (
                "My Bets on Open Models, Mid-2026 - Interconnects Podcast",
                "my bets on open models mid 2026",
            ),
            (
                "Podcast: My bets on open models, mid-2026",
                "my bets on open models mid 2026",
            ),
            (
                "My bets on open models, mid-2026 (Podcast)",
                "my bets on open models mid 2026",
            ),
            ("  Hello — World  ", "hello world"),
            (
                "Ep. 7: Why hand washing took so long",
                "why hand washing took so long",
            ),
            (
                "Episode 12 - Why hand washing took so long",
                "why hand washing took so long",
            ),
        ];
        for (title, key) in cases {
            assert_eq!(title_key(title).as_deref(), Some(key), "{title}");
        }
    }

    #[test]
    fn long_tails_are_part_of_the_headline() {
        assert_eq!(
            title_key("Open models - what comes next for the ecosystem and its funding").as_deref(),
            Some("open models what comes next for the ecosystem and its funding")
        );
    }

    #[test]
    fn series_numbers_survive() {
        let a = title_key("Latest open artifacts (#21): Open model bonanza!").expect("key");
        let b = title_key("Latest open artifacts (#22): Zyphra and friends").expect("key");
        assert_ne!(a, b);
        assert_eq!(numbers(&a), vec!["21"]);
    }

    #[test]
    fn generic_titles_are_recognised() {
        for title in [
            "Open thread",
            "Weekly Roundup #12",
            "Links",
            "Notes",
            "AMA",
            "Links for the week",
            "What I'm reading this week",
            "Year in review 2025",
        ] {
            let key = title_key(title).expect("key");
            assert!(is_generic(&key), "{title}");
        }
        let key = title_key("My bets on open models, mid-2026").expect("key");
        assert!(!is_generic(&key));
    }

    #[test]
    #[expect(
        clippy::float_cmp,
        reason = "titles without a shared meaningful word score 0.0 exactly (a literal, or 0 / n)"
    )]
    fn shortened_titles_are_similar_and_different_ones_are_not() {
        let key = |t: &str| title_key(t).expect("key");
        let origin = key(
            "Moonlake: Causal World Models should be Multimodal, Interactive, and Efficient \
             — with Chris Manning and Fan-yun Sun",
        );
        let shortened = key(
            "Moonlake: Multimodal, Interactive, and Efficient World Models — with Fan-yun Sun and Chris Manning",
        );
        assert!(title_similarity(&origin, &shortened) > 0.8);
        assert_eq!(
            title_similarity(&key("The Shape of AI"), &key("The Shape of the Thing")),
            0.0
        );
        let other = key("Searching the Space of All Possible Materials — Prof. Max Welling");
        assert!(title_similarity(&origin, &other) < 0.2);
    }

    #[test]
    fn the_writers_names_come_off_mirror_titles() {
        let decorations = Decorations::new(["Ethan Mollick", "One Useful Thing", "Latent.Space"]);
        let keys = |t: &str| title_keys(t, &decorations);
        let bare = "the shape of the thing to come".to_owned();
        for decorated in [
            "The Shape of the Thing to Come - by Ethan Mollick - One Useful Thing",
            "Mollick: The Shape of the Thing to Come",
            "Ethan Mollick: 'The Shape of the Thing to Come'",
            "The Shape of the Thing to Come — Ethan Mollick (One Useful Thing)",
            "Op-ed: The Shape of the Thing to Come",
            "One Useful Thing Newsletter: The Shape of the Thing to Come",
        ] {
            assert!(
                keys(decorated).contains(&bare),
                "{decorated}: {:?}",
                keys(decorated)
            );
        }
        assert!(
            keys("Latent Space Podcast: Cursor's Third Era – Cloud Agents")
                .contains(&"cursor s third era cloud agents".to_owned())
        );
        // A name inside a title is part of it.
        assert!(
            !keys("Why Mollick was wrong about tutors")
                .contains(&"was wrong about tutors".to_owned())
        );
    }

    #[test]
    fn a_title_inside_a_longer_one_counts_only_when_distinctive() {
        assert!(contains_title(
            "nathan lambert lays out my bets on open models mid 2026",
            "my bets on open models mid 2026"
        ));
        assert!(!contains_title("why the ai race is over", "the ai race"));
        assert!(!contains_title("open models", "open models"));
    }

    #[test]
    fn writers_names_are_found_word_by_word_and_feeds_by_a_shared_name() {
        let mut decorations = Decorations::default();
        decorations.add_for("dwarkesh-podcast", ["Dwarkesh Podcast", "Dwarkesh Patel"]);
        decorations.add_for("dwarkesh-youtube", ["Dwarkesh Patel"]);
        decorations.add_for("latent-space", ["Latent Space", "swyx"]);
        let words = key_words("notes on the dwarkesh podcast with dwarkesh patel, patel says");
        assert_eq!(
            decorations.full_names_in(&words),
            vec![
                (3, "dwarkesh podcast".to_owned()),
                (6, "dwarkesh patel".to_owned())
            ]
        );
        // Two names starting at one word are both found, the shorter first.
        decorations.add_for("patel-show", ["Dwarkesh Patel Show"]);
        assert_eq!(
            decorations.full_names_in(&key_words("on the dwarkesh patel show")),
            vec![
                (2, "dwarkesh patel".to_owned()),
                (2, "dwarkesh patel show".to_owned())
            ]
        );
        // The podcast's feed names its host, as the video channel does: both are his.
        assert_eq!(
            decorations.feeds_named(["dwarkesh podcast"]),
            vec!["dwarkesh-podcast", "dwarkesh-youtube"]
        );
        assert_eq!(
            decorations.feeds_named(["latent space"]),
            vec!["latent-space"]
        );
        // A surname alone names no feed; a name no feed gave names none.
        assert!(
            decorations
                .feeds_named(["patel", "simon willison"])
                .is_empty()
        );
        assert!(
            decorations
                .full_names_in(&key_words("dwarkesh said"))
                .is_empty()
        );
    }

    #[test]
    fn decorations_that_learned_the_same_names_in_any_order_are_the_same() {
        let mut one = Decorations::default();
        one.add_for("dwarkesh-podcast", ["Dwarkesh Podcast", "Dwarkesh Patel"]);
        one.add_for("latent-space", ["Latent Space", "swyx"]);
        let mut other = Decorations::default();
        other.add_for("latent-space", ["swyx", "Latent Space"]);
        other.add_for("dwarkesh-podcast", ["Dwarkesh Patel", "Dwarkesh Podcast"]);
        other.add_for("latent-space", ["Latent Space"]);
        assert_eq!(one, other);
        assert_eq!(one.fingerprint(), other.fingerprint());
        // A name learned for another feed is something more learned.
        other.add_for("patel-video", ["Dwarkesh Patel"]);
        assert_ne!(one, other);
        assert_ne!(one.fingerprint(), other.fingerprint());
        assert!(other.is_name("dwarkesh patel") && other.is_name("patel"));
        assert!(!other.is_name("dwarkesh"));
        // Learned all at once from the store, they are what learning feed by feed makes.
        let at_once = Decorations::of_feeds([
            ("patel-video", vec!["Dwarkesh Patel"]),
            ("latent-space", vec!["swyx", "Latent Space"]),
            (
                "dwarkesh-podcast",
                vec!["Dwarkesh Patel", "Dwarkesh Podcast"],
            ),
            ("latent-space", vec!["Latent Space"]),
        ]);
        assert_eq!(at_once, other);
        assert_eq!(at_once.fingerprint(), other.fingerprint());
        assert_eq!(
            at_once.feeds_named(["dwarkesh patel"]),
            ["dwarkesh-podcast", "patel-video"]
        );
    }

    #[test]
    fn an_interviews_headline_is_read_without_its_guests_credit() {
        let none = Decorations::new(std::iter::empty::<&str>());
        let headline = "intelligence is collective not artificial".to_owned();
        let keys = title_keys(
            "Intelligence is collective, not artificial — Prof. Michael I. Jordan (UC Berkeley / Inria)",
            &none,
        );
        assert!(keys.contains(&headline), "{keys:?}");
        assert!(
            title_keys("Intelligence Is Collective, Not Artificial", &none).contains(&headline)
        );
        // A credit with its affiliation after a comma reads the same.
        assert!(
            title_keys(
                "Intelligence is collective, not artificial - Michael Jordan, Professor at Berkeley",
                &none
            )
            .contains(&headline)
        );
        // A tail that is no one's name is part of the headline.
        for title in [
            "Intelligence is collective, not artificial — and markets are how it thinks (part one)",
            "Intelligence is collective, not artificial — J. R. (UC Berkeley / Inria)",
            "Intelligence is collective, not artificial — Jordan On Markets, Data And The \
             Economics Of Learning",
        ] {
            assert!(!title_keys(title, &none).contains(&headline), "{title}");
        }
    }

    #[test]
    fn guests_are_the_names_beside_a_headline() {
        let hosts = vec!["dwarkesh patel".to_owned()];
        let cases: [(&str, &[&str]); 9] = [
            (
                "Andrej Karpathy — AGI is still a decade away",
                &["andrej karpathy"],
            ),
            (
                "What remains scarce after AGI? – Alex Imas and Phil Trammell",
                &["alex imas", "phil trammell"],
            ),
            (
                "Dario Amodei (Anthropic CEO) — The hidden pattern behind every AI breakthrough",
                &["dario amodei"],
            ),
            (
                "Moonlake: Causal World Models should be Multimodal, Interactive, and Efficient \
                 — with Chris Manning and Fan-yun Sun",
                &["chris manning", "fan yun sun"],
            ),
            (
                "Searching the Space of All Possible Materials — Prof. Max Welling, CuspAI",
                &["prof max welling"],
            ),
            (
                "Every Agent Needs a Box — Aaron Levie, Box",
                &["aaron levie"],
            ),
            // The whole title is the headline; acronyms and numbers are no names.
            ("Quoting Andrew Quinn", &[]),
            ("Mistral: Voxtral TTS, Forge & Mistral 4", &[]),
            // The host is on every episode.
            ("What are we scaling? — Dwarkesh Patel", &[]),
        ];
        for (title, expected) in cases {
            assert_eq!(guests(title, &hosts), expected, "{title}");
        }
    }

    #[test]
    fn a_show_and_its_episode_number_are_a_key() {
        let decorations = Decorations::new(["Lex Fridman Podcast", "Lex Fridman", "Import AI"]);
        let youtube = title_keys(
            "Dario Amodei: Anthropic CEO on Claude | Lex Fridman Podcast #452",
            &decorations,
        );
        let mirror = title_keys("Lex Fridman Podcast #452 - 09/07/2025", &decorations);
        assert!(
            youtube.contains(&"lex fridman 452".to_owned()),
            "{youtube:?}"
        );
        assert!(mirror.contains(&"lex fridman 452".to_owned()), "{mirror:?}");
        // The host's name alone makes the same key: whichever of the two is known first.
        let host = Decorations::new(["Lex Fridman"]);
        assert_eq!(
            host.issues("Dario Amodei: Anthropic CEO on Claude | Lex Fridman Podcast #452"),
            vec!["lex fridman 452"]
        );
        assert_eq!(
            decorations.issues("Import AI issue 412: the scaling of things"),
            vec!["import ai 412"]
        );
        // A year, a show never named, or a show without a number: no issue.
        assert!(decorations.issues("Lex Fridman 2025 in review").is_empty());
        assert!(decorations.issues("Other Show #452").is_empty());
        // A length after the name is no episode number.
        assert!(
            decorations
                .issues("Video notes · Lex Fridman · 5 hours 15 minutes")
                .is_empty()
        );
        assert!(decorations.issues("The best of Import AI").is_empty());
    }

    #[test]
    fn an_episode_number_is_indexed_before_its_show_is_known() {
        let text = "Source: Lex Fridman Podcast #452 \u{b7} November 2024";
        let anchors = issue_anchors(text);
        // Whichever name the writer's feeds later give (the host's, or the show's), the key
        // they read is among the anchors.
        for names in [
            &["Lex Fridman"][..],
            &["Lex Fridman Podcast"],
            &["Lex Fridman", "Lex Fridman Podcast"],
        ] {
            let decorations = Decorations::new(names.iter().copied());
            for issue in decorations.issues(text) {
                assert!(anchors.contains(&issue), "{issue} not in {anchors:?}");
            }
            assert!(!decorations.issues(text).is_empty());
        }
        // A year is no episode, and a text without numbers has no anchors.
        assert!(!anchors.iter().any(|a| a.ends_with(" 2024")), "{anchors:?}");
        assert!(issue_anchors("Dario Amodei on Claude, AGI and the future of AI").is_empty());
    }

    #[test]
    fn runs_are_found_whole_and_in_order() {
        let words = ["andrej", "karpathy", "on", "dwarkesh", "patel"];
        assert!(contains_run(&words, "dwarkesh patel"));
        assert!(!contains_run(&words, "patel dwarkesh"));
        assert!(!contains_run(&words, "karpathy dwarkesh"));
    }

    #[test]
    fn numbered_pages_of_a_listing_are_told_by_their_titles() {
        let keys = |title: &str| title_keys(title, &Decorations::default());
        assert!(is_listing_page(&keys("Casts \u{2014} page 33")));
        assert!(is_listing_page(&keys("Episodes - Page 2 of 14")));
        assert!(is_listing_page(&keys("Page 3")));
        // A page number inside a headline, or a title about pages, is no listing.
        assert!(!is_listing_page(&keys(
            "Page 33 of the report is where it gets strange"
        )));
        assert!(!is_listing_page(&keys("Why every page matters")));
        assert!(!is_listing_page(&keys("Turning the page on 2025")));
    }

    #[test]
    fn empty_titles_have_no_key() {
        assert_eq!(title_key(""), None);
        assert_eq!(title_key(" -- | "), None);
    }
}
