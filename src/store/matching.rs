//! What the matcher asks of the store: the stored items that share a key with an incoming one,
//! what their stories and feeds are, and the indexes each new item adds to.
//!
//! Every lookup goes through an index and is capped, never a scan of the stories, so matching
//! cost stays flat as history grows. A key shared by hundreds of items (boilerplate text, a
//! generic title) is no evidence anyway.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rusqlite::{OptionalExtension, params};

use super::{Result, StoreError, WriteTx, parse_timestamp, sql_limit, timestamp};
use crate::dedupe::{
    Candidate, Decorations, ItemKeys, Linked, Probe, StoryFacts, address_key, enclosure_key,
    hash_from_sql, hash_to_sql, link_fragment, title_keys,
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

/// Items a mirror that no key led anywhere is compared with: a week of a few dozen feeds.
macro_rules! recent {
    () => {
        "256"
    };
}

/// At most this many shingles of one feed are kept as its boilerplate.
const MAX_BOILERPLATE: usize = 4096;

impl WriteTx<'_> {
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
            collect(
                concat!(
                    "SELECT item_id FROM outbound_links WHERE link = ?1 LIMIT ",
                    per_key!()
                ),
                enclosure,
            )?;
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
        let linked = self.linked(probe)?;
        ids.extend(linked.keys());
        self.load_candidates(ids, &linked, decorations)
    }

    /// The items published within `window` of `around`, newest first, at most `recent!()`:
    /// where a mirror that no key led anywhere looks for the work it quotes or summarises (both
    /// count only within days), and where a summary that came first is asked again once its
    /// work arrives. No index of every origin's passages or words is kept for them.
    pub fn recent_candidates(
        &self,
        around: chrono::DateTime<chrono::Utc>,
        window: chrono::Duration,
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        let ids: Vec<i64> = self
            .tx
            .prepare_cached(concat!(
                "SELECT id FROM items WHERE published BETWEEN ?1 AND ?2
                 ORDER BY published DESC LIMIT ",
                recent!()
            ))?
            .query_map(
                params![timestamp(around - window), timestamp(around + window)],
                |row| row.get(0),
            )?
            .collect::<rusqlite::Result<_>>()?;
        self.load_candidates(ids, &HashMap::new(), decorations)
    }

    /// The mirror items published within `window` of `around` that started a story of their
    /// own: the summaries that may have come before their work. At most `recent!()`, nearest
    /// in time first.
    pub fn recent_founding_mirrors(
        &self,
        around: chrono::DateTime<chrono::Utc>,
        window: chrono::Duration,
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        // Through the partial index of items that founded a story as copies (migration 7),
        // which holds no origin's item, so a window crowded with origins costs nothing. The
        // feed's role is asked as it is now: a feed that became an origin founds no mirror
        // story any more.
        let ids: Vec<i64> = self
            .tx
            .prepare_cached(concat!(
                "SELECT items.id FROM items JOIN sources ON sources.id = items.source_id
                 WHERE items.published BETWEEN ?1 AND ?2
                   AND items.match_reason = 'new' AND coalesce(items.member_role, 'copy') = 'copy'
                   AND sources.role = 'mirror'
                 ORDER BY abs(julianday(items.published) - julianday(?3)) LIMIT ",
                recent!()
            ))?
            .query_map(
                params![
                    timestamp(around - window),
                    timestamp(around + window),
                    timestamp(around)
                ],
                |row| row.get(0),
            )?
            .collect::<rusqlite::Result<_>>()?;
        self.load_candidates(ids, &HashMap::new(), decorations)
    }

    /// The items of one story, as candidates.
    pub fn story_candidates(
        &self,
        story_id: i64,
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        let ids: Vec<i64> = self
            .tx
            .prepare_cached("SELECT id FROM items WHERE story_id = ?1")?
            .query_map([story_id], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        self.load_candidates(ids, &HashMap::new(), decorations)
    }

    /// Reads stored items as candidates, with their stories' and feeds' facts.
    fn load_candidates(
        &self,
        mut ids: Vec<i64>,
        linked: &HashMap<i64, Linked>,
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        ids.sort_unstable();
        ids.dedup();
        let mut stories: HashMap<i64, Arc<StoryFacts>> = HashMap::new();
        let mut boilerplates: HashMap<i64, Arc<HashSet<u64>>> = HashMap::new();
        let mut stmt = self.tx.prepare_cached(
            "SELECT items.story_id, items.data, items.canonical_url, items.title_key,
                    items.published, items.match_reason, sources.name, sources.role,
                    sources.id, transcripts.words
             FROM items JOIN sources ON sources.id = items.source_id
             LEFT JOIN item_transcripts ON item_transcripts.item_id = items.id
             LEFT JOIN transcripts ON transcripts.url = item_transcripts.url
             WHERE items.id = ?1",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let row = stmt.query_row([id], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, String>(7)?,
                    row.get::<_, i64>(8)?,
                    row.get::<_, Option<String>>(9)?,
                ))
            })?;
            let (story_id, data, canonical_url, _, published, reason, source, role, sid, spoken) =
                row;
            let item: Item = serde_json::from_str(&data)
                .map_err(|source| StoreError::CorruptItem { id, source })?;
            let story = match stories.get(&story_id) {
                Some(facts) => Arc::clone(facts),
                None => {
                    let facts = Arc::new(self.story_facts(story_id)?);
                    stories.insert(story_id, Arc::clone(&facts));
                    facts
                }
            };
            let boilerplate = match boilerplates.get(&sid) {
                Some(set) => Arc::clone(set),
                None => {
                    let set = Arc::new(self.boilerplate(sid)?);
                    boilerplates.insert(sid, Arc::clone(&set));
                    set
                }
            };
            let role = Role::parse(&role).unwrap_or_default();
            out.push(Candidate {
                item_id: id,
                story_id,
                source,
                role,
                kind: item.kind,
                published: parse_timestamp(&published).unwrap_or_default(),
                canonical_url,
                title_keys: title_keys(&item.title, decorations),
                address_key: address_key(&item, role),
                fragment: link_fragment(&item),
                enclosure: match item.kind {
                    ItemKind::Episode => {
                        item.enclosure.as_ref().and_then(|e| enclosure_key(&e.url))
                    }
                    ItemKind::Post => None,
                },
                // An episode whose description is show notes is matched by its transcript's
                // words (see `crate::transcript`), as it was when it was stored.
                body: spoken.or(item.content).or(item.summary),
                title: item.title,
                reason: MatchReason::parse(&reason).unwrap_or(MatchReason::New),
                boilerplate,
                linked: linked.get(&id).copied(),
                story,
            });
        }
        Ok(out)
    }

    /// Items one of whose pages the other links to, when the linking side links to no other
    /// stored work: a page that links to several works is a roundup, and links prove nothing
    /// about which one it is.
    fn linked(&self, probe: &Probe) -> Result<HashMap<i64, Linked>> {
        let mut found = HashMap::new();
        // The probe's links to stored pages.
        let mut targets: Vec<(i64, i64)> = Vec::new();
        for link in &probe.keys.outbound_links {
            targets.extend(self.items_at(link)?);
        }
        let target_stories: HashSet<i64> = targets.iter().map(|(_, story)| *story).collect();
        if target_stories.len() == 1 {
            found.extend(targets.iter().map(|(id, _)| (*id, Linked::ProbeLinksHere)));
        }
        // Stored pages that link to the probe's page.
        let Some(own) = &probe.keys.canonical_url else {
            return Ok(found);
        };
        let linking: Vec<i64> = self
            .tx
            .prepare_cached(concat!(
                "SELECT item_id FROM outbound_links WHERE link = ?1 LIMIT ",
                per_key!()
            ))?
            .query_map([own], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for item_id in linking {
            let (story_id, links): (i64, Vec<String>) = {
                let story_id = self
                    .tx
                    .prepare_cached("SELECT story_id FROM items WHERE id = ?1")?
                    .query_row([item_id], |row| row.get(0))?;
                let links = self
                    .tx
                    .prepare_cached("SELECT link FROM outbound_links WHERE item_id = ?1")?
                    .query_map([item_id], |row| row.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                (story_id, links)
            };
            let mut roundup = false;
            for link in links.iter().filter(|link| *link != own) {
                if self
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

    /// Stored items at a canonical URL, with their stories.
    fn items_at(&self, canonical_url: &str) -> Result<Vec<(i64, i64)>> {
        Ok(self
            .tx
            .prepare_cached("SELECT id, story_id FROM items WHERE canonical_url = ?1 LIMIT 8")?
            .query_map([canonical_url], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The feeds a story's members came from, and whether it may be folded.
    pub fn story_facts(&self, story_id: i64) -> Result<StoryFacts> {
        let mut facts = StoryFacts {
            pinned: self
                .tx
                .prepare_cached("SELECT pinned FROM stories WHERE id = ?1")?
                .query_row([story_id], |row| row.get::<_, i64>(0))
                .optional()?
                .is_some_and(|pinned| pinned != 0),
            ..StoryFacts::default()
        };
        let mut stmt = self.tx.prepare_cached(
            "SELECT DISTINCT sources.name, sources.role
             FROM items JOIN sources ON sources.id = items.source_id WHERE items.story_id = ?1",
        )?;
        for row in stmt.query_map([story_id], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })? {
            let (name, role) = row?;
            facts.has_origin |= Role::parse(&role) == Some(Role::Origin);
            facts.sources.push(name);
        }
        facts.sources.sort();
        Ok(facts)
    }

    /// Adds an item's keys to the indexes.
    pub(super) fn insert_keys(&self, item_id: i64, keys: &ItemKeys) -> Result<()> {
        // Each statement is taken from the cache once per item, not once per key: an item has
        // about 35 keys, and each cache lookup hashes the SQL text.
        let insert_all = |sql: &str, keys: &mut dyn Iterator<Item = &dyn rusqlite::ToSql>| {
            let mut stmt = self.tx.prepare_cached(sql)?;
            for key in keys {
                stmt.execute(params![key, item_id])?;
            }
            Ok::<_, StoreError>(())
        };
        insert_all(
            "INSERT OR IGNORE INTO text_anchors (anchor, item_id) VALUES (?1, ?2)",
            &mut keys.anchors.iter().map(|k| k as &dyn rusqlite::ToSql),
        )?;
        let readings = keys.title_key.iter().chain(&keys.title_variants);
        insert_all(
            "INSERT OR IGNORE INTO title_keys (key, item_id) VALUES (?1, ?2)",
            &mut readings
                .chain(&keys.address_key)
                .map(|k| k as &dyn rusqlite::ToSql),
        )?;
        insert_all(
            "INSERT OR IGNORE INTO title_grams (gram, item_id) VALUES (?1, ?2)",
            &mut keys.title_grams.iter().map(|k| k as &dyn rusqlite::ToSql),
        )?;
        insert_all(
            "INSERT OR IGNORE INTO outbound_links (link, item_id) VALUES (?1, ?2)",
            &mut keys
                .outbound_links
                .iter()
                .map(|k| k as &dyn rusqlite::ToSql),
        )?;
        Ok(())
    }

    /// Takes an item's keys out of the indexes (before an edit puts the new ones in).
    pub(super) fn delete_keys(&self, item_id: i64) -> Result<()> {
        for table in [
            "text_anchors",
            "title_keys",
            "title_grams",
            "outbound_links",
        ] {
            self.tx
                .prepare_cached(&format!("DELETE FROM {table} WHERE item_id = ?1"))?
                .execute([item_id])?;
        }
        Ok(())
    }

    /// The passages a feed repeats in its items.
    pub fn boilerplate(&self, source_id: i64) -> Result<HashSet<u64>> {
        Ok(self
            .tx
            .prepare_cached("SELECT shingle FROM boilerplate WHERE source_id = ?1")?
            .query_map([source_id], |row| row.get::<_, i64>(0))?
            .map(|shingle| shingle.map(hash_from_sql))
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Adds to a feed's boilerplate, up to [`MAX_BOILERPLATE`] shingles in all.
    pub fn add_boilerplate(&self, source_id: i64, shingles: &HashSet<u64>) -> Result<()> {
        let stored: i64 = self
            .tx
            .prepare_cached("SELECT count(*) FROM boilerplate WHERE source_id = ?1")?
            .query_row([source_id], |row| row.get(0))?;
        let room = MAX_BOILERPLATE.saturating_sub(usize::try_from(stored).unwrap_or(usize::MAX));
        let mut sorted: Vec<u64> = shingles.iter().copied().collect();
        sorted.sort_unstable();
        let mut stmt = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO boilerplate (source_id, shingle) VALUES (?1, ?2)",
        )?;
        for shingle in sorted.into_iter().take(room) {
            stmt.execute(params![source_id, hash_to_sql(shingle)])?;
        }
        Ok(())
    }

    /// The texts of a feed's newest stored items, to learn its boilerplate from when a poll
    /// brings too few items to compare among themselves.
    pub fn recent_bodies(&self, source_id: i64, limit: usize) -> Result<Vec<String>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT data FROM items WHERE source_id = ?1 ORDER BY published DESC, id DESC LIMIT ?2",
        )?;
        let mut bodies = Vec::new();
        for data in stmt.query_map(params![source_id, sql_limit(limit)], |row| {
            row.get::<_, String>(0)
        })? {
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
        let mut decorations = Decorations::default();
        let mut stmt = self.tx.prepare_cached(
            "SELECT name, feed_title, feed_authors FROM sources WHERE role = 'origin'",
        )?;
        for row in stmt.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, Option<String>>(2)?,
            ))
        })? {
            let (source, title, authors) = row?;
            let mut names: Vec<String> = title.into_iter().collect();
            if let Some(authors) = authors {
                names.extend(serde_json::from_str::<Vec<String>>(&authors).unwrap_or_default());
            }
            decorations.add_for(&source, names.iter().map(String::as_str));
        }
        Ok(decorations)
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
            .prepare_cached(
                "UPDATE sources SET feed_title = coalesce(?2, feed_title), feed_authors = ?3
                 WHERE id = ?1 AND (feed_title IS NOT coalesce(?2, feed_title)
                                    OR feed_authors IS NOT ?3)",
            )?
            .execute(params![source_id, title, authors])?;
        Ok(())
    }

    /// The authors a feed named before, so a poll that brings one new item adds to them.
    pub fn feed_authors(&self, source_id: i64) -> Result<Vec<String>> {
        let authors: Option<String> = self
            .tx
            .prepare_cached("SELECT feed_authors FROM sources WHERE id = ?1")?
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
        self.tx
            .prepare_cached(
                "UPDATE items SET member_role = ?2, match_reason = ?3, match_score = ?4
                 WHERE id = ?1",
            )?
            .execute(params![item_id, role.as_str(), reason.as_str(), score])?;
        Ok(())
    }
}
