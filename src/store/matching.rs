//! What the matcher asks of the store: the stored items that share a key with an incoming one,
//! what their stories and feeds are, and the indexes each new item adds to.
//!
//! Every lookup goes through an index and is capped, never a scan of the stories, so matching
//! cost stays flat as history grows. A key shared by hundreds of items (boilerplate text, a
//! generic title) is no evidence anyway.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rusqlite::{OptionalExtension, params};

use super::sql::{SqlRow, Twin};
use super::{Result, SqliteTx, StoreError, parse_timestamp, timestamp};
use crate::dedupe::{
    Candidate, Decorations, ItemKeys, Linked, Probe, Shingle, StoredText, StoryFacts, Words,
    enclosure_key, hash_from_sql, hash_to_sql, link_fragment, linked_pages, shingle_set,
    stored_address_key, stored_title_keys, titled_as_a_name,
};
use crate::model::{Item, ItemKind, MatchReason, MemberRole, Role};

// The limits below are literals in the SQL text, never bound parameters: SQLite's planner
// reads a bound LIMIT, which marks the statement to be prepared again after every bind, so a
// cached statement with `LIMIT ?` is parsed and planned anew on each of the dozens of lookups
// an item makes.

/// Items read per key: enough for every copy of one work, few enough to stay cheap.
macro_rules! per_key {
    () => {
        "64"
    };
}

/// Items read per title gram: a title inside a longer one shares all its runs with it, so a
/// run shared by many titles is not the one that finds it.
macro_rules! per_gram {
    () => {
        "16"
    };
}

/// Writers' items read per word of a mirror's text, newest first: a word many titles share
/// ("model") names none of them, and the few that share several of the mirror's words are
/// the ones asked.
macro_rules! per_word {
    () => {
        32
    };
}

/// [`per_word!`] as a number: a word's postings this long may have been cut.
const PER_WORD: usize = per_word!();

/// Items whose postings were cut short that are asked of the index directly, at most: those
/// that share most of a title's words first (see [`named_by_enough`]).
const CONFIRMED_AT_MOST: usize = 64;

/// A mirror's words looked up in `title_words`: a summary's are a few dozen; a longer text
/// that no passage led anywhere is read for its first this many (its words are kept in hash
/// order, so these are no part of it in particular).
pub(super) const WORDS_ASKED: usize = 256;

/// Writers' items a mirror's words lead to that are asked about it, those sharing most of
/// its words first.
const TITLED_WITH: usize = 16;

/// Items a mirror that no key led anywhere is compared with: a week of a few dozen feeds.
macro_rules! recent {
    () => {
        256
    };
}

/// [`recent!`] as a number: the most items a look around the days about a time reads.
const RECENT: usize = recent!();

/// The items published from `?1` to `?2`, the latest first: the side of a look around (see
/// [`WriteTx::recent_candidates`]) before its time, which holds it.
pub(super) const RECENT_BEFORE: &str = concat!(
    "SELECT id, published FROM items WHERE published BETWEEN ?1 AND ?2
     ORDER BY published DESC, id DESC LIMIT ",
    recent!()
);

/// The items of the feed named `?1` published from `?2` to `?3`, the earliest first, at most
/// 64 (a writer's other feed publishes a few a week): where a post looks for its episode and
/// an episode for its post ([`SqliteTx::kin_candidates`]).
pub(super) const KIN_ITEMS: &str = "SELECT items.id FROM items
     JOIN sources ON sources.id = items.source_id
     WHERE sources.name = ?1 AND items.published BETWEEN ?2 AND ?3
     ORDER BY items.published, items.id LIMIT 64";

/// The items published after `?1` up to `?2`, the earliest first: the side after its time.
pub(super) const RECENT_AFTER: &str = concat!(
    "SELECT id, published FROM items WHERE published > ?1 AND published <= ?2
     ORDER BY published, id LIMIT ",
    recent!()
);

/// PostgreSQL's twins of the probes in [`WriteTx::candidates`], [`WriteTx::recent_candidates`]
/// and [`WriteTx::recent_founding_mirrors`]. A key table is probed for all of an item's keys
/// in one statement (`unnest` + `LATERAL`), each key still read up to its own limit: a
/// statement per key, free on SQLite, would be some 35 round trips per item. Where SQLite
/// leaves the order to its index (the key tables' primary keys are `(key, item_id)`, an index
/// lists equal keys by row id), PostgreSQL is told it, so both read the same items when a key
/// has more than the limit.
pub(super) mod pg {
    pub(in crate::store) const BY_GRAMS: &str = concat!(
        "SELECT t.item_id FROM unnest(?1::bigint[]) AS k(gram),
         LATERAL (SELECT item_id FROM title_grams WHERE title_grams.gram = k.gram
                  ORDER BY item_id LIMIT ",
        per_gram!(),
        ") AS t"
    );
    pub(in crate::store) const BY_TITLE_KEYS: &str = concat!(
        "SELECT t.item_id FROM unnest(?1::text[]) AS k(key),
         LATERAL (SELECT item_id FROM title_keys WHERE title_keys.key = k.key
                  ORDER BY item_id LIMIT ",
        per_key!(),
        ") AS t"
    );
    pub(in crate::store) const BY_ANCHORS: &str = concat!(
        "SELECT t.item_id FROM unnest(?1::bigint[]) AS k(anchor),
         LATERAL (SELECT item_id FROM text_anchors WHERE text_anchors.anchor = k.anchor
                  ORDER BY item_id LIMIT ",
        per_key!(),
        ") AS t"
    );
    pub(in crate::store) const BY_TITLE_WORDS: &str = concat!(
        "SELECT k.word, t.item_id FROM unnest(?1::bigint[]) AS k(word),
         LATERAL (SELECT item_id FROM title_words WHERE title_words.word = k.word
                  ORDER BY item_id DESC LIMIT ",
        per_word!(),
        ") AS t"
    );
    pub(in crate::store) const BY_MIRROR_WORDS: &str = concat!(
        "SELECT k.word, t.item_id FROM unnest(?1::bigint[]) AS k(word),
         LATERAL (SELECT item_id FROM mirror_words WHERE mirror_words.word = k.word
                  ORDER BY item_id DESC LIMIT ",
        per_word!(),
        ") AS t"
    );
    /// Which of the (word, item) pairs `?1` and `?2` hold side by side `mirror_words` has.
    pub(in crate::store) const MIRROR_WORD_PAIRS: &str =
        "SELECT m.word, m.item_id FROM unnest(?1::bigint[], ?2::bigint[]) AS p(word, item_id)
         JOIN mirror_words m ON m.word = p.word AND m.item_id = p.item_id";
    /// The same for `title_words`.
    pub(in crate::store) const TITLE_WORD_PAIRS: &str =
        "SELECT t.word, t.item_id FROM unnest(?1::bigint[], ?2::bigint[]) AS p(word, item_id)
         JOIN title_words t ON t.word = p.word AND t.item_id = p.item_id";
    pub(in crate::store) const BY_CANONICAL_URL: &str = concat!(
        "SELECT id FROM items WHERE canonical_url = ?1 ORDER BY id LIMIT ",
        per_key!()
    );
    pub(in crate::store) const BY_ITEM_TITLE_KEY: &str = concat!(
        "SELECT id FROM items WHERE title_key = ?1 ORDER BY id LIMIT ",
        per_key!()
    );
    pub(in crate::store) const BY_LINK: &str = concat!(
        "SELECT item_id FROM outbound_links WHERE link = ?1 ORDER BY item_id LIMIT ",
        per_key!()
    );
    /// [`FOUNDING_MIRRORS`](super::FOUNDING_MIRRORS)'s twin: the distance in time as
    /// PostgreSQL reckons it.
    pub(in crate::store) const FOUNDING_MIRRORS: &str = concat!(
        "SELECT items.id FROM items JOIN sources ON sources.id = items.source_id
         WHERE items.published BETWEEN ?1 AND ?2
           AND items.match_reason = 'new' AND coalesce(items.member_role, 'copy') = 'copy'
           AND sources.role = 'mirror'
         ORDER BY abs(extract(epoch FROM items.published::timestamptz - ?3::text::timestamptz)),
                  items.id
         LIMIT ",
        recent!()
    );
}

/// At most this many shingles of one feed are kept as its boilerplate.
pub(super) const MAX_BOILERPLATE: usize = 4096;

/// The mirror items published between `?1` and `?2` that started a story of their own, nearest
/// to `?3` first: through the partial index of items that founded a story as copies (migration
/// 7), which holds no origin's item, so a window crowded with origins costs nothing. The feed's
/// role is asked as it is now: a feed that became an origin founds no mirror story any more.
pub(super) const FOUNDING_MIRRORS: &str = concat!(
    "SELECT items.id FROM items JOIN sources ON sources.id = items.source_id
     WHERE items.published BETWEEN ?1 AND ?2
       AND items.match_reason = 'new' AND coalesce(items.member_role, 'copy') = 'copy'
       AND sources.role = 'mirror'
     ORDER BY abs(julianday(items.published) - julianday(?3)), items.id
     LIMIT ",
    recent!()
);

/// The items of one story.
pub(super) const STORY_ITEMS: &str = "SELECT id FROM items WHERE story_id = ?1";

/// What a candidate is read from, for the items a `WHERE` on `items.id` appended to it picks;
/// the columns are read by [`CandidateRow::read`].
pub(super) const CANDIDATE_SELECT: &str =
    "SELECT items.id, items.story_id, items.data, items.canonical_url, items.published,
            items.match_reason, sources.name, sources.role, sources.id, transcripts.words
     FROM items JOIN sources ON sources.id = items.source_id
     LEFT JOIN item_transcripts ON item_transcripts.item_id = items.id
     LEFT JOIN transcripts ON transcripts.url = item_transcripts.url";

/// Whether a person pinned a story, for [`story_facts_from`].
pub(super) const STORY_PINNED: &str = "SELECT pinned FROM stories WHERE id = ?1";

/// The feeds of a story's members, with their roles, for [`story_facts_from`]: a feed once
/// per member (a story seldom holds two items of one), since `DISTINCT` built a temporary
/// table for each of the hundreds of stories a steady poll's look around reads.
pub(super) const STORY_SOURCES: &str = "SELECT sources.name, sources.role
     FROM items JOIN sources ON sources.id = items.source_id WHERE items.story_id = ?1";

/// A stored item's row as [`CANDIDATE_SELECT`] reads it, before its story's and feed's facts
/// join it in [`CandidateRow::into_candidate`].
pub(super) struct CandidateRow {
    pub(super) id: i64,
    pub(super) story_id: i64,
    data: String,
    canonical_url: Option<String>,
    published: String,
    reason: String,
    source: String,
    role: String,
    pub(super) source_id: i64,
    /// The words of the transcript the item is matched by, if any.
    spoken: Option<String>,
}

impl CandidateRow {
    pub(super) fn read<R: SqlRow>(row: &R) -> Result<CandidateRow, R::Error> {
        Ok(CandidateRow {
            id: row.i64(0)?,
            story_id: row.i64(1)?,
            data: row.text(2)?,
            canonical_url: row.opt_text(3)?,
            published: row.text(4)?,
            reason: row.text(5)?,
            source: row.text(6)?,
            role: row.text(7)?,
            source_id: row.i64(8)?,
            spoken: row.opt_text(9)?,
        })
    }

    /// The candidate, with its titles read again with `decorations` (see
    /// [`stored_title_keys`]); the error is the
    /// item's JSON failing to parse.
    pub(super) fn into_candidate(
        self,
        story: Arc<StoryFacts>,
        boilerplate: Arc<HashSet<Shingle>>,
        linked: &HashMap<i64, Linked>,
        decorations: &Decorations,
    ) -> serde_json::Result<Candidate> {
        let item: Item = serde_json::from_str(&self.data)?;
        let role = Role::parse(&self.role).unwrap_or_default();
        let title_keys = stored_title_keys(&item.title, item.body(), role, decorations);
        let address_key = stored_address_key(&item, role);
        let fragment = link_fragment(&item);
        // An episode whose description is show notes is matched by its transcript's words
        // (see `crate::transcript`), as it was when it was stored.
        let body = self.spoken.or(item.content).or(item.summary);
        let text = StoredText::of(
            title_keys.first().map_or("", String::as_str),
            body.as_deref(),
        );
        Ok(Candidate {
            item_id: self.id,
            story_id: self.story_id,
            source: self.source,
            role,
            kind: item.kind,
            published: parse_timestamp(&self.published).unwrap_or_default(),
            undated: item.published.is_none(),
            titled_as_a_name: titled_as_a_name(&title_keys, decorations),
            canonical_url: self.canonical_url,
            title_keys,
            address_key,
            fragment,
            enclosure: match item.kind {
                ItemKind::Episode => item.enclosure.as_ref().and_then(|e| enclosure_key(&e.url)),
                ItemKind::Post => None,
            },
            body: body.map(Arc::from),
            text,
            title: item.title,
            reason: MatchReason::parse(&self.reason).unwrap_or(MatchReason::New),
            boilerplate,
            linked: linked.get(&self.id).copied(),
            story,
        })
    }
}

/// Of the items read on either side of `around` (`earlier` latest first, `later` earliest
/// first, as [`RECENT_BEFORE`] and [`RECENT_AFTER`] read them), the [`RECENT`] nearest to it
/// in time, the earlier of two as near. Taking the newest of the whole window instead, a
/// window crowded after its time (a long feed list's first poll, a backfill) is read only at
/// its far end, and the days just before, where the work a mirror retells lies, are never
/// read.
pub(super) fn nearest_in_time(
    around: chrono::DateTime<chrono::Utc>,
    earlier: &[(i64, String)],
    later: &[(i64, String)],
) -> Vec<i64> {
    // A date that does not read back (never written so) counts as the farthest. The sort is
    // stable, and the earlier side comes first: of two as near, the earlier is kept.
    let mut by_distance: Vec<(chrono::TimeDelta, i64)> = earlier
        .iter()
        .chain(later)
        .map(|(id, published)| {
            let distance =
                parse_timestamp(published).map_or(chrono::TimeDelta::MAX, |at| (at - around).abs());
            (distance, *id)
        })
        .collect();
    by_distance.sort_by_key(|(distance, _)| *distance);
    by_distance.truncate(RECENT);
    by_distance.into_iter().map(|(_, id)| id).collect()
}

/// The items at least `at_least` of the words in `found` name, those naming most first, then
/// the newest, at most [`TITLED_WITH`]; those in `known` left out. `found` holds each word's
/// postings, newest first and cut at [`PER_WORD`]: a word as common as "technology" may name
/// an older item its list left out, so an item that would reach `at_least` with such words is
/// asked of the index (`confirm`, which returns the (word, item) pairs it holds), at most
/// [`CONFIRMED_AT_MOST`]: those that already share most first, and among them those a whole
/// list (a rarer word) names, whose finding owes nothing to being new. An item every one of
/// whose words was cut is not found.
pub(super) fn named_by_enough<E>(
    found: &[(i64, Vec<i64>)],
    at_least: usize,
    known: &HashSet<i64>,
    confirm: impl FnOnce(&[(i64, i64)]) -> Result<HashSet<(i64, i64)>, E>,
) -> Result<Vec<i64>, E> {
    let is_cut = |ids: &[i64]| ids.len() >= PER_WORD;
    // Per item: the words naming it, and how many of those lists were whole.
    let mut named: HashMap<i64, (usize, usize)> = HashMap::new();
    for (_, ids) in found {
        for id in ids.iter().filter(|id| !known.contains(id)) {
            let entry = named.entry(*id).or_default();
            entry.0 += 1;
            entry.1 += usize::from(!is_cut(ids));
        }
    }
    let cut: Vec<&(i64, Vec<i64>)> = found.iter().filter(|(_, ids)| is_cut(ids)).collect();
    let mut unsure: Vec<(i64, (usize, usize))> = named
        .iter()
        .filter(|(_, (n, _))| *n < at_least)
        .map(|(id, counts)| (*id, *counts))
        .filter(|(id, (n, _))| {
            let maybe = cut.iter().filter(|(_, ids)| !ids.contains(id)).count();
            n + maybe >= at_least
        })
        .collect();
    unsure.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    unsure.truncate(CONFIRMED_AT_MOST);
    let pairs: Vec<(i64, i64)> = unsure
        .iter()
        .flat_map(|(id, _)| {
            cut.iter()
                .filter(move |(_, ids)| !ids.contains(id))
                .map(move |(word, _)| (*word, *id))
        })
        .collect();
    if !pairs.is_empty() {
        for (_, id) in confirm(&pairs)? {
            named.entry(id).or_default().0 += 1;
        }
    }
    let mut ranked: Vec<(i64, usize)> = named
        .into_iter()
        .map(|(id, (n, _))| (id, n))
        .filter(|(_, n)| *n >= at_least)
        .collect();
    ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    ranked.truncate(TITLED_WITH);
    Ok(ranked.into_iter().map(|(id, _)| id).collect())
}

/// How many of a title's `words` a text must name to be about it: at least half, and two or
/// more (one shared word is any title's). [`crate::dedupe::names_the_title`]'s rule, for the
/// index's counts.
pub(super) fn naming(words: usize) -> usize {
    words.div_ceil(2).max(2)
}

/// The origin feeds' names, as [`DECORATIONS`] reads them (its rows: a feed's name, title and
/// authors as JSON), learned into decorations.
pub(super) fn decorations_from(
    rows: impl IntoIterator<Item = (String, Option<String>, Option<String>)>,
) -> Decorations {
    Decorations::of_feeds(rows.into_iter().map(|(source, title, authors)| {
        let mut names: Vec<String> = title.into_iter().collect();
        if let Some(authors) = authors {
            names.extend(serde_json::from_str::<Vec<String>>(&authors).unwrap_or_default());
        }
        (source, names)
    }))
}

/// [`decorations_from`] a SQLite connection's feeds (in a write or not).
fn decorations_in(conn: &rusqlite::Connection) -> Result<Decorations> {
    let mut stmt = conn.prepare_cached(DECORATIONS)?;
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(decorations_from(rows))
}

/// The stored items migration 8's words index holds rows of: each writer's item, and each
/// mirror's in a story of mirrors alone (of those, only the undated are indexed), as ingest
/// indexes them. Its columns are read by [`words_to_index`].
pub(super) const ITEMS_TO_INDEX: &str = "SELECT items.id, items.data, sources.role FROM items
     JOIN sources ON sources.id = items.source_id
     WHERE sources.role = 'origin'
        OR NOT EXISTS (SELECT 1 FROM items AS member
                       JOIN sources AS feed ON feed.id = member.source_id
                       WHERE member.story_id = items.story_id AND feed.role = 'origin')";

/// The rows of migration 8's words index the stored item `id` (its JSON `data`, from a feed
/// whose role is `role`) would have had, had it been stored after it: a writer's item's title
/// words (`title_words`), an undated mirror's words (`mirror_words`, at most
/// [`WORDS_ASKED`]); `None` for any other item, and for one whose JSON does not parse (with a
/// warning: the upgrade goes on without it).
pub(super) fn words_to_index(
    id: i64,
    data: &str,
    role: &str,
    decorations: &Decorations,
) -> Option<(IndexedWords, Vec<i64>)> {
    let item: Item = match serde_json::from_str(data) {
        Ok(item) => item,
        Err(error) => {
            tracing::warn!(item = id, %error, "stored item unreadable; its words are not indexed");
            return None;
        }
    };
    match Role::parse(role) {
        Some(Role::Origin) => {
            let keys = crate::dedupe::title_keys(&item.title, decorations);
            Some((IndexedWords::Title, crate::dedupe::title_words(&keys)))
        }
        Some(Role::Mirror) if item.published.is_none() => {
            let words = crate::dedupe::content_words(&item.title, item.body());
            let keys = words.keys().take(WORDS_ASKED).collect();
            Some((IndexedWords::Mirror, keys))
        }
        _ => None,
    }
}

/// Which of migration 8's two words tables a row goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IndexedWords {
    Title,
    Mirror,
}

impl IndexedWords {
    /// The statement that inserts such rows.
    pub(super) fn insert(self) -> Twin {
        match self {
            IndexedWords::Title => INSERT_TITLE_WORDS,
            IndexedWords::Mirror => INSERT_MIRROR_WORDS,
        }
    }
}

/// Fills migration 8's words index for the items stored before it (the migration itself is
/// SQL and cannot read an item's title words), in the migration's transaction: without it, a
/// summary of a work stored before the upgrade would never find it by its words.
pub(super) fn index_stored_words(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let decorations = decorations_in(tx)?;
    let mut read = tx.prepare(ITEMS_TO_INDEX)?;
    let mut rows = read.query([])?;
    let mut indexed = 0u64;
    while let Some(row) = rows.next()? {
        let (id, data, role): (i64, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        if let Some((table, words)) = words_to_index(id, &data, &role, &decorations) {
            let mut insert = tx.prepare_cached(table.insert().sqlite)?;
            for word in words {
                insert.execute(params![word, id])?;
            }
            indexed += 1;
        }
    }
    log_indexed(indexed);
    Ok(())
}

/// The upgrade's one line about the words index it filled.
pub(super) fn log_indexed(items: u64) {
    tracing::info!(
        items,
        "indexed the words of the items stored before the upgrade"
    );
}

/// A story's facts from [`STORY_PINNED`] (`None`: no such story) and [`STORY_SOURCES`]'
/// `(name, role)` rows.
pub(super) fn story_facts_from(
    pinned: Option<i64>,
    sources: impl IntoIterator<Item = (String, String)>,
) -> StoryFacts {
    let mut facts = StoryFacts {
        pinned: pinned.is_some_and(|pinned| pinned != 0),
        ..StoryFacts::default()
    };
    for (name, role) in sources {
        facts.has_origin |= Role::parse(&role) == Some(Role::Origin);
        facts.sources.push(name);
    }
    facts.sources.sort();
    facts.sources.dedup();
    facts
}

/// The reads [`linked`] makes, on either backend.
pub(super) trait LinkReads {
    type Error;
    /// Stored items at a canonical URL, with their stories (at most 8).
    fn items_at(&mut self, canonical_url: &str) -> Result<Vec<(i64, i64)>, Self::Error>;
    /// Stored items whose text links to `link` (at most `per_key!()`).
    fn linking_to(&mut self, link: &str) -> Result<Vec<i64>, Self::Error>;
    /// An item's story and every page its text links to.
    fn story_and_links(&mut self, item_id: i64) -> Result<(i64, Vec<String>), Self::Error>;
}

/// Items one of whose pages the other links to, when the linking side links to no other
/// stored work: a page that links to several works is a roundup, and links prove nothing
/// about which one it is.
pub(super) fn linked<R: LinkReads>(
    reads: &mut R,
    probe: &Probe,
) -> Result<HashMap<i64, Linked>, R::Error> {
    let mut found = HashMap::new();
    // The probe's links to stored pages.
    let mut targets: Vec<(i64, i64)> = Vec::new();
    for link in &probe.keys.outbound_links {
        targets.extend(reads.items_at(link)?);
    }
    let target_stories: HashSet<i64> = targets.iter().map(|(_, story)| *story).collect();
    if target_stories.len() == 1 {
        found.extend(targets.iter().map(|(id, _)| (*id, Linked::ProbeLinksHere)));
    }
    // Stored pages that link to the probe's page.
    let Some(own) = &probe.keys.canonical_url else {
        return Ok(found);
    };
    for item_id in reads.linking_to(own)? {
        let (story_id, links) = reads.story_and_links(item_id)?;
        let mut roundup = false;
        for link in links.iter().filter(|link| *link != own) {
            if reads
                .items_at(link)?
                .iter()
                .any(|(_, story)| *story != story_id)
            {
                roundup = true;
                break;
            }
        }
        if !roundup {
            found.entry(item_id).or_insert(Linked::LinksToProbe);
        }
    }
    Ok(found)
}

/// Stored items whose text links to a page, or whose audio is a file (PostgreSQL's twin is
/// [`pg::BY_LINK`]).
pub(super) const BY_LINK: &str = concat!(
    "SELECT item_id FROM outbound_links WHERE link = ?1 LIMIT ",
    per_key!()
);

/// Stored items at a canonical URL, with their stories (see [`LinkReads::items_at`]).
pub(super) const ITEMS_AT: &str = "SELECT id, story_id FROM items WHERE canonical_url = ?1 LIMIT 8";

/// An item's story and its stored JSON, whose links are read again ([`linked_pages`]).
pub(super) const STORY_AND_DATA_OF_ITEM: &str = "SELECT story_id, data FROM items WHERE id = ?1";

/// The pages the item stored as `data` links to (see [`LinkReads::story_and_links`]).
pub(super) fn links_in_stored(data: &str) -> std::result::Result<Vec<String>, serde_json::Error> {
    Ok(linked_pages(&serde_json::from_str::<Item>(data)?))
}

impl<'t> LinkReads for &SqliteTx<'t> {
    type Error = StoreError;

    fn items_at(&mut self, canonical_url: &str) -> Result<Vec<(i64, i64)>> {
        Ok(self
            .tx
            .prepare_cached(ITEMS_AT)?
            .query_map([canonical_url], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn linking_to(&mut self, link: &str) -> Result<Vec<i64>> {
        Ok(self
            .tx
            .prepare_cached(BY_LINK)?
            .query_map([link], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn story_and_links(&mut self, item_id: i64) -> Result<(i64, Vec<String>)> {
        let (story_id, data): (i64, String) = self
            .tx
            .prepare_cached(STORY_AND_DATA_OF_ITEM)?
            .query_row([item_id], |row| Ok((row.get(0)?, row.get(1)?)))?;
        let links = links_in_stored(&data).map_err(|source| StoreError::CorruptItem {
            id: item_id,
            source,
        })?;
        Ok((story_id, links))
    }
}

// The statements of the write's matching methods below: one text where the dialects agree,
// the two side by side where they do not.

/// The passages a feed repeats. The same text on both backends.
pub(super) const BOILERPLATE: &str = "SELECT shingle FROM boilerplate WHERE source_id = ?1";

/// How many passages of a feed are kept. The same text on both backends.
pub(super) const BOILERPLATE_COUNT: &str = "SELECT count(*) FROM boilerplate WHERE source_id = ?1";

/// How many of a feed's newest items a poll that brings fewer than that learns the feed's
/// boilerplate from (`ingest::learn_boilerplate`).
macro_rules! newest_bodies {
    () => {
        "4"
    };
}

/// A feed's newest items. The same text on both backends.
pub(super) const RECENT_BODIES: &str = concat!(
    "SELECT data FROM items WHERE source_id = ?1 ORDER BY published DESC, id DESC LIMIT ",
    newest_bodies!()
);

/// What the origin feeds say of themselves. The same text on both backends.
pub(super) const DECORATIONS: &str =
    "SELECT name, feed_title, feed_authors FROM sources WHERE role = 'origin'";

/// The authors a feed named before. The same text on both backends.
pub(super) const FEED_AUTHORS: &str = "SELECT feed_authors FROM sources WHERE id = ?1";

/// What an item turned out to be to its story. The same text on both backends.
pub(super) const RELABEL: &str =
    "UPDATE items SET member_role = ?2, match_reason = ?3, match_score = ?4
                 WHERE id = ?1";

/// An item's text anchors: a row per key on SQLite, the keys as one array on PostgreSQL,
/// where a statement per key would be a round trip per key.
pub(super) const INSERT_ANCHORS: Twin = Twin {
    sqlite: "INSERT OR IGNORE INTO text_anchors (anchor, item_id) VALUES (?1, ?2)",
    postgres: "INSERT INTO text_anchors (anchor, item_id) SELECT unnest(?1::bigint[]), ?2
             ON CONFLICT DO NOTHING",
};

/// An item's title keys, as [`INSERT_ANCHORS`].
pub(super) const INSERT_TITLE_KEYS: Twin = Twin {
    sqlite: "INSERT OR IGNORE INTO title_keys (key, item_id) VALUES (?1, ?2)",
    postgres: "INSERT INTO title_keys (key, item_id) SELECT unnest(?1::text[]), ?2
             ON CONFLICT DO NOTHING",
};

/// An item's title grams, as [`INSERT_ANCHORS`].
pub(super) const INSERT_GRAMS: Twin = Twin {
    sqlite: "INSERT OR IGNORE INTO title_grams (gram, item_id) VALUES (?1, ?2)",
    postgres: "INSERT INTO title_grams (gram, item_id) SELECT unnest(?1::bigint[]), ?2
             ON CONFLICT DO NOTHING",
};

/// The words of a writer's item's title, as [`INSERT_ANCHORS`].
pub(super) const INSERT_TITLE_WORDS: Twin = Twin {
    sqlite: "INSERT OR IGNORE INTO title_words (word, item_id) VALUES (?1, ?2)",
    postgres: "INSERT INTO title_words (word, item_id) SELECT unnest(?1::bigint[]), ?2
             ON CONFLICT DO NOTHING",
};

/// The words of a mirror item without a date that started a story of its own, as
/// [`INSERT_ANCHORS`].
pub(super) const INSERT_MIRROR_WORDS: Twin = Twin {
    sqlite: "INSERT OR IGNORE INTO mirror_words (word, item_id) VALUES (?1, ?2)",
    postgres: "INSERT INTO mirror_words (word, item_id) SELECT unnest(?1::bigint[]), ?2
             ON CONFLICT DO NOTHING",
};

/// An item's outbound links, as [`INSERT_ANCHORS`].
pub(super) const INSERT_LINKS: Twin = Twin {
    sqlite: "INSERT OR IGNORE INTO outbound_links (link, item_id) VALUES (?1, ?2)",
    postgres: "INSERT INTO outbound_links (link, item_id) SELECT unnest(?1::text[]), ?2
             ON CONFLICT DO NOTHING",
};

/// The rows each key index holds for an item's keys, as [`WriteTx::insert_keys`] writes them
/// (the title's readings, the address it spells and the episodes it names all go to
/// `title_keys`). Borrowed from the keys: every new item's are written through it.
#[derive(Debug)]
pub(super) struct KeyRows<'k> {
    pub anchors: Cow<'k, [i64]>,
    pub titles: Vec<&'k str>,
    pub grams: Cow<'k, [i64]>,
    pub words: Cow<'k, [i64]>,
    pub links: Vec<&'k str>,
}

impl<'k> KeyRows<'k> {
    pub fn of(keys: &'k ItemKeys) -> KeyRows<'k> {
        KeyRows {
            anchors: Cow::Borrowed(&keys.anchors),
            titles: keys
                .title_key
                .iter()
                .chain(&keys.title_variants)
                .chain(&keys.address_key)
                .chain(&keys.issue_anchors)
                .map(String::as_str)
                .collect(),
            grams: Cow::Borrowed(&keys.title_grams),
            words: Cow::Borrowed(&keys.title_words),
            links: keys.outbound_links.iter().map(String::as_str).collect(),
        }
    }

    /// The rows an edit takes away: `old`'s (the stored version's keys) that `new`'s (the
    /// edited version's) do not hold.
    pub fn dropped(old: &'k ItemKeys, new: &'k ItemKeys) -> KeyRows<'k> {
        fn minus<T: Eq + std::hash::Hash + Copy>(old: &[T], new: &[T]) -> Vec<T> {
            let kept: HashSet<&T> = new.iter().collect();
            let mut seen = HashSet::new();
            old.iter()
                .filter(|key| !kept.contains(key) && seen.insert(**key))
                .copied()
                .collect()
        }
        let (old, new) = (KeyRows::of(old), KeyRows::of(new));
        KeyRows {
            anchors: Cow::Owned(minus(&old.anchors, &new.anchors)),
            titles: minus(&old.titles, &new.titles),
            grams: Cow::Owned(minus(&old.grams, &new.grams)),
            words: Cow::Owned(minus(&old.words, &new.words)),
            links: minus(&old.links, &new.links),
        }
    }
}

/// The key indexes [`KeyRows`] fills.
#[derive(Debug, Clone, Copy)]
pub(super) enum KeyIndex {
    Anchors,
    Titles,
    Grams,
    Words,
    Links,
}

impl KeyIndex {
    /// Each index, with the keys of `rows` it holds.
    pub fn each<'r>(rows: &'r KeyRows<'_>) -> [(KeyIndex, KeyColumn<'r>); 5] {
        [
            (KeyIndex::Anchors, KeyColumn::Numbers(&rows.anchors)),
            (KeyIndex::Titles, KeyColumn::Texts(&rows.titles)),
            (KeyIndex::Grams, KeyColumn::Numbers(&rows.grams)),
            (KeyIndex::Words, KeyColumn::Numbers(&rows.words)),
            (KeyIndex::Links, KeyColumn::Texts(&rows.links)),
        ]
    }

    /// The statement that adds a row (key, item).
    pub fn insert(self) -> Twin {
        match self {
            KeyIndex::Anchors => INSERT_ANCHORS,
            KeyIndex::Titles => INSERT_TITLE_KEYS,
            KeyIndex::Grams => INSERT_GRAMS,
            KeyIndex::Words => INSERT_TITLE_WORDS,
            KeyIndex::Links => INSERT_LINKS,
        }
    }

    /// The statement that takes a row (key, item) away.
    pub fn delete(self) -> Twin {
        match self {
            KeyIndex::Anchors => DELETE_ANCHORS,
            KeyIndex::Titles => DELETE_TITLE_KEYS,
            KeyIndex::Grams => DELETE_GRAMS,
            KeyIndex::Words => DELETE_TITLE_WORDS,
            KeyIndex::Links => DELETE_LINKS,
        }
    }
}

/// One index's keys: hashes, or texts.
#[derive(Debug, Clone, Copy)]
pub(super) enum KeyColumn<'r> {
    Numbers(&'r [i64]),
    Texts(&'r [&'r str]),
}

/// Deletes of one item's rows from each key index, by primary key (key first, then item): a
/// delete by the item alone would read every row of the index. A row per key on SQLite, the
/// keys as one array on PostgreSQL, as the inserts.
pub(super) const DELETE_ANCHORS: Twin = Twin {
    sqlite: "DELETE FROM text_anchors WHERE anchor = ?1 AND item_id = ?2",
    postgres: "DELETE FROM text_anchors WHERE anchor = ANY(?1::bigint[]) AND item_id = ?2",
};
pub(super) const DELETE_TITLE_KEYS: Twin = Twin {
    sqlite: "DELETE FROM title_keys WHERE key = ?1 AND item_id = ?2",
    postgres: "DELETE FROM title_keys WHERE key = ANY(?1::text[]) AND item_id = ?2",
};
pub(super) const DELETE_GRAMS: Twin = Twin {
    sqlite: "DELETE FROM title_grams WHERE gram = ?1 AND item_id = ?2",
    postgres: "DELETE FROM title_grams WHERE gram = ANY(?1::bigint[]) AND item_id = ?2",
};
pub(super) const DELETE_TITLE_WORDS: Twin = Twin {
    sqlite: "DELETE FROM title_words WHERE word = ?1 AND item_id = ?2",
    postgres: "DELETE FROM title_words WHERE word = ANY(?1::bigint[]) AND item_id = ?2",
};
pub(super) const DELETE_LINKS: Twin = Twin {
    sqlite: "DELETE FROM outbound_links WHERE link = ?1 AND item_id = ?2",
    postgres: "DELETE FROM outbound_links WHERE link = ANY(?1::text[]) AND item_id = ?2",
};

/// A feed's new boilerplate passages, as [`INSERT_ANCHORS`].
pub(super) const ADD_BOILERPLATE: Twin = Twin {
    sqlite: "INSERT OR IGNORE INTO boilerplate (source_id, shingle) VALUES (?1, ?2)",
    postgres: "INSERT INTO boilerplate (source_id, shingle) SELECT ?1, unnest(?2::bigint[])
             ON CONFLICT DO NOTHING",
};

/// A feed's title and authors, written only when they changed: SQLite's `IS NOT` is
/// PostgreSQL's `IS DISTINCT FROM`.
pub(super) const SET_FEED_FACTS: Twin = Twin {
    sqlite: "UPDATE sources SET feed_title = coalesce(?2, feed_title), feed_authors = ?3
                 WHERE id = ?1 AND (feed_title IS NOT coalesce(?2, feed_title)
                                    OR feed_authors IS NOT ?3)",
    postgres: "UPDATE sources SET feed_title = coalesce(?2, feed_title), feed_authors = ?3
             WHERE id = ?1 AND (feed_title IS DISTINCT FROM coalesce(?2, feed_title)
                                OR feed_authors IS DISTINCT FROM ?3)",
};

impl SqliteTx<'_> {
    /// Stored items that share a dedupe key with the probe: the same canonical URL, one of its
    /// title keys, a title gram, a text anchor, the same audio file, or a link either way.
    /// Their titles are read again with `decorations`, which may have learned names since they
    /// were stored.
    pub fn candidates(&self, probe: &Probe, decorations: &Decorations) -> Result<Vec<Candidate>> {
        let keys = &probe.keys;
        let mut ids: Vec<i64> = Vec::new();
        // A run of words many titles share ("the state of the") finds nothing in particular:
        // only the first few items that have it are read.
        let mut by_gram = self.tx.prepare_cached(concat!(
            "SELECT item_id FROM title_grams WHERE gram = ?1 LIMIT ",
            per_gram!()
        ))?;
        for gram in &keys.title_grams {
            for id in by_gram.query_map([gram], |row| row.get(0))? {
                ids.push(id?);
            }
        }
        let mut collect = |sql: &str, key: &dyn rusqlite::ToSql| -> Result<()> {
            let mut stmt = self.tx.prepare_cached(sql)?;
            for id in stmt.query_map([key], |row| row.get(0))? {
                ids.push(id?);
            }
            Ok(())
        };
        if let Some(url) = &keys.canonical_url {
            collect(
                concat!(
                    "SELECT id FROM items WHERE canonical_url = ?1 LIMIT ",
                    per_key!()
                ),
                url,
            )?;
        }
        // Every reading of every stored title is in `title_keys`; items stored before it
        // existed have their one key in `items.title_key`.
        // A mirror's address may spell a stored title; a stored mirror's address, this one.
        for title in probe.title_keys.iter().chain(&probe.keys.address_key) {
            collect(
                concat!(
                    "SELECT item_id FROM title_keys WHERE key = ?1 LIMIT ",
                    per_key!()
                ),
                title,
            )?;
        }
        if let Some(title) = &keys.title_key {
            collect(
                concat!(
                    "SELECT id FROM items WHERE title_key = ?1 LIMIT ",
                    per_key!()
                ),
                title,
            )?;
        }
        if let Some(enclosure) = &keys.enclosure {
            collect(BY_LINK, enclosure)?;
        }
        // Two dozen anchors per item: the statement is taken from the cache once, not per key.
        let mut by_anchor = self.tx.prepare_cached(concat!(
            "SELECT item_id FROM text_anchors WHERE anchor = ?1 LIMIT ",
            per_key!()
        ))?;
        for anchor in &keys.anchors {
            for id in by_anchor.query_map([anchor], |row| row.get(0))? {
                ids.push(id?);
            }
        }
        drop(by_anchor);
        let linked = linked(&mut &*self, probe)?;
        ids.extend(linked.keys());
        self.load_candidates(ids, &linked, decorations)
    }

    /// The ids of the items published from `before` ahead of `around` to `after` past it, at
    /// most `recent!()`, the nearest to it in time: see [`WriteTx::recent_candidates`].
    pub fn recent_ids(
        &self,
        around: chrono::DateTime<chrono::Utc>,
        before: chrono::Duration,
        after: chrono::Duration,
    ) -> Result<Vec<i64>> {
        let side = |sql: &str, from: String, to: String| -> Result<Vec<(i64, String)>> {
            Ok(self
                .tx
                .prepare_cached(sql)?
                .query_map(params![from, to], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?)
        };
        let earlier = side(RECENT_BEFORE, timestamp(around - before), timestamp(around))?;
        let later = side(RECENT_AFTER, timestamp(around), timestamp(around + after))?;
        Ok(nearest_in_time(around, &earlier, &later))
    }

    /// The items of the writer's other origin feeds (`feeds`, see `Decorations::kin_of`)
    /// published within `window` of `around`, those in `known` left out: an episode titled
    /// its own way shares no key with the post it reads, so each is found from the other's
    /// side by its feed and its days.
    pub fn kin_candidates(
        &self,
        feeds: &[String],
        around: chrono::DateTime<chrono::Utc>,
        window: chrono::Duration,
        known: &HashSet<i64>,
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        let (from, to) = (timestamp(around - window), timestamp(around + window));
        let mut stmt = self.tx.prepare_cached(KIN_ITEMS)?;
        let mut ids = Vec::new();
        for feed in feeds {
            for id in stmt.query_map(params![feed, from, to], |row| row.get(0))? {
                ids.push(id?);
            }
        }
        ids.retain(|id| !known.contains(id));
        self.load_candidates(ids, &HashMap::new(), decorations)
    }

    /// The writers' items whose titles share most of `words` (a mirror's, see
    /// [`Words::keys`]), at most [`TITLED_WITH`], those in `known` left out: where a summary
    /// without a date, which has no days to look around, finds the work it may sum up.
    pub fn titled_with(
        &self,
        words: &Words,
        known: &HashSet<i64>,
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        let found = self.postings_of(
            concat!(
                "SELECT item_id FROM title_words WHERE word = ?1 ORDER BY item_id DESC LIMIT ",
                per_word!()
            ),
            words.keys().take(WORDS_ASKED),
        )?;
        // One shared word is any title's.
        let ids = named_by_enough(&found, 2, known, |pairs| {
            self.pairs_held(
                "SELECT 1 FROM title_words WHERE word = ?1 AND item_id = ?2",
                pairs,
            )
        })?;
        self.load_candidates(ids, &HashMap::new(), decorations)
    }

    /// The mirror items without a date, or naming a writer, whose words (see
    /// [`WriteTx::add_mirror_words`]) name
    /// at least half of `title_words` (a writer's item's, [`ItemKeys::title_words`]), and two
    /// or more; at most [`TITLED_WITH`]. A summary first seen long after the work it sums up,
    /// and stored before it, is asked again when the work arrives, as one stored after it
    /// would have asked ([`crate::dedupe::names_the_title`]).
    pub fn mirrors_naming(
        &self,
        title_words: &[i64],
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        if title_words.len() < 2 {
            return Ok(Vec::new());
        }
        let found = self.postings_of(
            concat!(
                "SELECT item_id FROM mirror_words WHERE word = ?1 ORDER BY item_id DESC LIMIT ",
                per_word!()
            ),
            title_words.iter().copied(),
        )?;
        let ids = named_by_enough(
            &found,
            naming(title_words.len()),
            &HashSet::new(),
            |pairs| {
                self.pairs_held(
                    "SELECT 1 FROM mirror_words WHERE word = ?1 AND item_id = ?2",
                    pairs,
                )
            },
        )?;
        self.load_candidates(ids, &HashMap::new(), decorations)
    }

    /// Which of the (word, item) `pairs` a words index holds, asked one by one by its primary
    /// key with `sql` (see [`named_by_enough`]).
    fn pairs_held(&self, sql: &str, pairs: &[(i64, i64)]) -> Result<HashSet<(i64, i64)>> {
        let mut stmt = self.tx.prepare_cached(sql)?;
        let mut held = HashSet::new();
        for &(word, item) in pairs {
            if stmt.exists(params![word, item])? {
                held.insert((word, item));
            }
        }
        Ok(held)
    }

    /// The items `sql` finds for each of `words`: each word with its postings.
    fn postings_of(
        &self,
        sql: &str,
        words: impl Iterator<Item = i64>,
    ) -> Result<Vec<(i64, Vec<i64>)>> {
        let mut stmt = self.tx.prepare_cached(sql)?;
        words
            .map(|word| {
                let ids = stmt
                    .query_map([word], |row| row.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()?;
                Ok((word, ids))
            })
            .collect()
    }

    /// Indexes the words of a mirror item without a date, or naming a writer, that no work was
    /// found for (at most [`WORDS_ASKED`]), for [`WriteTx::mirrors_naming`].
    pub fn add_mirror_words(&self, item_id: i64, words: &Words) -> Result<()> {
        let mut stmt = self.tx.prepare_cached(INSERT_MIRROR_WORDS.sqlite)?;
        for word in words.keys().take(WORDS_ASKED) {
            stmt.execute(params![word, item_id])?;
        }
        Ok(())
    }

    /// The ids of the mirror items published within `window` of `around` that started a
    /// story of their own, for `WriteTx::recent_founding_mirrors`. At most `recent!()`,
    /// nearest in time first.
    pub fn founding_mirror_ids(
        &self,
        around: chrono::DateTime<chrono::Utc>,
        window: chrono::Duration,
    ) -> Result<Vec<i64>> {
        Ok(self
            .tx
            .prepare_cached(FOUNDING_MIRRORS)?
            .query_map(
                params![
                    timestamp(around - window),
                    timestamp(around + window),
                    timestamp(around)
                ],
                |row| row.get(0),
            )?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The items of one story, as candidates.
    pub fn story_candidates(
        &self,
        story_id: i64,
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        let ids: Vec<i64> = self
            .tx
            .prepare_cached(STORY_ITEMS)?
            .query_map([story_id], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        self.load_candidates(ids, &HashMap::new(), decorations)
    }

    /// Reads stored items as candidates, with their stories' and feeds' facts, in the order
    /// of their ids.
    pub(super) fn load_candidates(
        &self,
        mut ids: Vec<i64>,
        linked: &HashMap<i64, Linked>,
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        ids.sort_unstable();
        ids.dedup();
        let mut stories: HashMap<i64, Arc<StoryFacts>> = HashMap::new();
        let mut boilerplates: HashMap<i64, Arc<HashSet<Shingle>>> = HashMap::new();
        let mut stmt = self
            .tx
            .prepare_cached(&format!("{CANDIDATE_SELECT} WHERE items.id = ?1"))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let row = stmt.query_row([id], |row| CandidateRow::read(row))?;
            let story = match stories.get(&row.story_id) {
                Some(facts) => Arc::clone(facts),
                None => {
                    let facts = Arc::new(self.story_facts(row.story_id)?);
                    stories.insert(row.story_id, Arc::clone(&facts));
                    facts
                }
            };
            let boilerplate = match boilerplates.get(&row.source_id) {
                Some(set) => Arc::clone(set),
                None => {
                    let set = Arc::new(shingle_set(&self.boilerplate(row.source_id)?));
                    boilerplates.insert(row.source_id, Arc::clone(&set));
                    set
                }
            };
            out.push(
                row.into_candidate(story, boilerplate, linked, decorations)
                    .map_err(|source| StoreError::CorruptItem { id, source })?,
            );
        }
        Ok(out)
    }

    /// The feeds a story's members came from, and whether it may be folded.
    pub fn story_facts(&self, story_id: i64) -> Result<StoryFacts> {
        let pinned = self
            .tx
            .prepare_cached(STORY_PINNED)?
            .query_row([story_id], |row| row.get(0))
            .optional()?;
        let sources: Vec<(String, String)> = self
            .tx
            .prepare_cached(STORY_SOURCES)?
            .query_map([story_id], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(story_facts_from(pinned, sources))
    }

    /// Adds an item's keys to the indexes.
    pub(super) fn insert_keys(&self, item_id: i64, keys: &ItemKeys) -> Result<()> {
        self.each_key_row(item_id, &KeyRows::of(keys), KeyIndex::insert)
    }

    /// Takes the rows an edit drops out of the indexes (see [`KeyRows::dropped`]).
    pub(super) fn delete_keys(&self, item_id: i64, dropped: &KeyRows<'_>) -> Result<()> {
        self.each_key_row(item_id, dropped, KeyIndex::delete)
    }

    /// Runs, for each row of `rows`, the statement `statement` picks for its index (the
    /// insert or the delete) with the key and `item_id`. Each statement is taken from the
    /// cache once per index, not once per key: an item has about 35 keys, and each cache
    /// lookup hashes the SQL text.
    fn each_key_row(
        &self,
        item_id: i64,
        rows: &KeyRows<'_>,
        statement: fn(KeyIndex) -> Twin,
    ) -> Result<()> {
        for (index, keys) in KeyIndex::each(rows) {
            let mut stmt = self.tx.prepare_cached(statement(index).sqlite)?;
            match keys {
                KeyColumn::Numbers(keys) => {
                    for key in keys {
                        stmt.execute(params![key, item_id])?;
                    }
                }
                KeyColumn::Texts(keys) => {
                    for key in keys {
                        stmt.execute(params![key, item_id])?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The passages a feed repeats in its items.
    pub fn boilerplate(&self, source_id: i64) -> Result<HashSet<u64>> {
        Ok(self
            .tx
            .prepare_cached(BOILERPLATE)?
            .query_map([source_id], |row| row.get::<_, i64>(0))?
            .map(|shingle| shingle.map(hash_from_sql))
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Adds to a feed's boilerplate, up to [`MAX_BOILERPLATE`] shingles in all.
    /// Returns whether one of them was new.
    pub fn add_boilerplate(&self, source_id: i64, shingles: &HashSet<u64>) -> Result<bool> {
        let stored: i64 = self
            .tx
            .prepare_cached(BOILERPLATE_COUNT)?
            .query_row([source_id], |row| row.get(0))?;
        let room = MAX_BOILERPLATE.saturating_sub(usize::try_from(stored).unwrap_or(usize::MAX));
        let mut sorted: Vec<u64> = shingles.iter().copied().collect();
        sorted.sort_unstable();
        let mut stmt = self.tx.prepare_cached(ADD_BOILERPLATE.sqlite)?;
        let mut added = 0;
        for shingle in sorted.into_iter().take(room) {
            added += stmt.execute(params![source_id, hash_to_sql(shingle)])?;
        }
        Ok(added > 0)
    }

    /// The texts of a feed's four newest stored items, to learn its boilerplate from when a
    /// poll brings too few items to compare among themselves.
    pub fn recent_bodies(&self, source_id: i64) -> Result<Vec<String>> {
        let mut stmt = self.tx.prepare_cached(RECENT_BODIES)?;
        let mut bodies = Vec::new();
        for data in stmt.query_map(params![source_id], |row| row.get::<_, String>(0))? {
            if let Ok(item) = serde_json::from_str::<Item>(&data?)
                && let Some(body) = item.content.or(item.summary)
            {
                bodies.push(body);
            }
        }
        Ok(bodies)
    }

    /// What the origin feeds say of themselves (titles, authors): the names that decorate
    /// their titles on other sites.
    pub fn decorations(&self) -> Result<Decorations> {
        decorations_in(&self.tx)
    }

    /// Records what a feed says of itself: its title and the authors of its items.
    pub fn set_feed_facts(
        &self,
        source_id: i64,
        title: Option<&str>,
        authors: &[String],
    ) -> Result<()> {
        let authors = serde_json::to_string(authors)
            .map_err(|source| StoreError::CorruptItem { id: 0, source })?;
        self.tx
            .prepare_cached(SET_FEED_FACTS.sqlite)?
            .execute(params![source_id, title, authors])?;
        Ok(())
    }

    /// The authors a feed named before, so a poll that brings one new item adds to them.
    pub fn feed_authors(&self, source_id: i64) -> Result<Vec<String>> {
        let authors: Option<String> = self
            .tx
            .prepare_cached(FEED_AUTHORS)?
            .query_row([source_id], |row| row.get(0))?;
        Ok(authors
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default())
    }

    /// Records what an item turned out to be to its story, once an origin item arrived.
    pub fn relabel(
        &self,
        item_id: i64,
        role: MemberRole,
        reason: MatchReason,
        score: f64,
    ) -> Result<()> {
        self.tx.prepare_cached(RELABEL)?.execute(params![
            item_id,
            role.as_str(),
            reason.as_str(),
            score
        ])?;
        Ok(())
    }
}
