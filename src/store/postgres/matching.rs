//! What the matcher asks of the store, on PostgreSQL: `WriteTx`'s matching reads
//! (`super::super::matching`), with each key table probed for all of an item's keys in one
//! round trip and the candidates read in one, where SQLite runs a statement per key and per
//! item (a statement costs it no round trip).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use postgres::types::ToSql;

use super::{PgError, PgWriteTx, Result};
use crate::dedupe::{
    Candidate, Decorations, Linked, Probe, Shingle, StoryFacts, Words, shingle_set,
};
use crate::store::matching::{
    CANDIDATE_SELECT, CandidateRow, INSERT_MIRROR_WORDS, ITEMS_AT, KIN_ITEMS, LinkReads,
    RECENT_AFTER, RECENT_BEFORE, STORY_AND_DATA_OF_ITEM, STORY_ITEMS, STORY_PINNED, STORY_SOURCES,
    WORDS_ASKED, linked, links_in_stored, named_by_enough, naming, nearest_in_time, pg,
    story_facts_from,
};
use crate::store::sql::SqlRow;
use crate::store::timestamp;

impl PgWriteTx<'_> {
    /// The rows of a statement written as SQLite text, prepared once per connection.
    fn rows(
        &mut self,
        sqlite_text: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>> {
        let statement = self.prepared.get(&mut *self.tx, sqlite_text, "")?;
        Ok(self.tx.query(&statement, params)?)
    }

    /// The first column of a statement's rows, as ids.
    fn ids(&mut self, sqlite_text: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<i64>> {
        self.rows(sqlite_text, params)?
            .iter()
            .map(|row| Ok(row.try_get(0)?))
            .collect()
    }

    /// As `WriteTx::candidates`: stored items that share a dedupe key with the probe.
    pub fn candidates(
        &mut self,
        probe: &Probe,
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        let keys = &probe.keys;
        let mut ids = self.ids(pg::BY_GRAMS, &[&keys.title_grams])?;
        if let Some(url) = &keys.canonical_url {
            ids.extend(self.ids(pg::BY_CANONICAL_URL, &[url])?);
        }
        let titles: Vec<&str> = probe
            .title_keys
            .iter()
            .chain(&keys.address_key)
            .map(String::as_str)
            .collect();
        if !titles.is_empty() {
            ids.extend(self.ids(pg::BY_TITLE_KEYS, &[&titles])?);
        }
        if let Some(title) = &keys.title_key {
            ids.extend(self.ids(pg::BY_ITEM_TITLE_KEY, &[title])?);
        }
        if let Some(enclosure) = &keys.enclosure {
            ids.extend(self.ids(pg::BY_LINK, &[enclosure])?);
        }
        if !keys.anchors.is_empty() {
            ids.extend(self.ids(pg::BY_ANCHORS, &[&keys.anchors])?);
        }
        let linked = linked(self, probe)?;
        ids.extend(linked.keys());
        self.load_candidates(ids, &linked, decorations)
    }

    /// As `SqliteTx::recent_ids`: the ids of the items published from `before` ahead of
    /// `around` to `after` past it, the nearest to it.
    pub fn recent_ids(
        &mut self,
        around: DateTime<Utc>,
        before: chrono::Duration,
        after: chrono::Duration,
    ) -> Result<Vec<i64>> {
        let at = timestamp(around);
        let earlier = self.dated(RECENT_BEFORE, &timestamp(around - before), &at)?;
        let later = self.dated(RECENT_AFTER, &at, &timestamp(around + after))?;
        Ok(nearest_in_time(around, &earlier, &later))
    }

    /// The ids and dates `sqlite_text` reads between `from` and `to`.
    fn dated(&mut self, sqlite_text: &str, from: &str, to: &str) -> Result<Vec<(i64, String)>> {
        self.rows(sqlite_text, &[&from, &to])?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    }

    /// As `WriteTx::kin_candidates`: the items of the writer's other feeds within `window`
    /// of `around`.
    pub fn kin_candidates(
        &mut self,
        feeds: &[String],
        around: DateTime<Utc>,
        window: chrono::Duration,
        known: &HashSet<i64>,
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        let (from, to) = (timestamp(around - window), timestamp(around + window));
        let mut ids = Vec::new();
        for feed in feeds {
            ids.extend(self.ids(KIN_ITEMS, &[feed, &from, &to])?);
        }
        ids.retain(|id| !known.contains(id));
        self.load_candidates(ids, &HashMap::new(), decorations)
    }

    /// As `WriteTx::titled_with`: the writers' items whose titles share most of `words`.
    pub fn titled_with(
        &mut self,
        words: &Words,
        known: &HashSet<i64>,
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        let asked: Vec<i64> = words.keys().take(WORDS_ASKED).collect();
        let found = self.postings(pg::BY_TITLE_WORDS, &asked)?;
        let ids = named_by_enough(&found, 2, known, |pairs| {
            self.pairs_held(pg::TITLE_WORD_PAIRS, pairs)
        })?;
        self.load_candidates(ids, &HashMap::new(), decorations)
    }

    /// As `WriteTx::mirrors_naming`: the undated mirror items whose words name a title.
    pub fn mirrors_naming(
        &mut self,
        title_words: &[i64],
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        if title_words.len() < 2 {
            return Ok(Vec::new());
        }
        let found = self.postings(pg::BY_MIRROR_WORDS, title_words)?;
        let ids = named_by_enough(
            &found,
            naming(title_words.len()),
            &HashSet::new(),
            |pairs| self.pairs_held(pg::MIRROR_WORD_PAIRS, pairs),
        )?;
        self.load_candidates(ids, &HashMap::new(), decorations)
    }

    /// Each of `words` with the items `sql` (rows of word, item) finds for it.
    fn postings(&mut self, sql: &str, words: &[i64]) -> Result<Vec<(i64, Vec<i64>)>> {
        let mut postings: HashMap<i64, Vec<i64>> = HashMap::new();
        for row in self.rows(sql, &[&words])? {
            postings
                .entry(row.try_get(0)?)
                .or_default()
                .push(row.try_get(1)?);
        }
        Ok(postings.into_iter().collect())
    }

    /// Which of the (word, item) `pairs` a words index holds, in one query (`sql`, given the
    /// words and the items as two arrays; see [`named_by_enough`]).
    fn pairs_held(&mut self, sql: &str, pairs: &[(i64, i64)]) -> Result<HashSet<(i64, i64)>> {
        let (words, items): (Vec<i64>, Vec<i64>) = pairs.iter().copied().unzip();
        self.rows(sql, &[&words, &items])?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    }

    /// As `WriteTx::add_mirror_words`: indexes a mirror's words that no work was found for.
    pub fn add_mirror_words(&mut self, item_id: i64, words: &Words) -> Result<()> {
        let words: Vec<i64> = words.keys().take(WORDS_ASKED).collect();
        let statement = self
            .prepared
            .get(&mut *self.tx, INSERT_MIRROR_WORDS.postgres, "")?;
        self.tx.execute(&statement, &[&words, &item_id])?;
        Ok(())
    }

    /// The ids of the mirror items published within `window` of `around` that started a
    /// story of their own, nearest first.
    pub(in crate::store) fn founding_mirror_ids(
        &mut self,
        around: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<Vec<i64>> {
        let (from, to) = (timestamp(around - window), timestamp(around + window));
        self.ids(pg::FOUNDING_MIRRORS, &[&from, &to, &timestamp(around)])
    }

    /// As `WriteTx::story_candidates`: the items of one story.
    pub fn story_candidates(
        &mut self,
        story_id: i64,
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        let ids = self.ids(STORY_ITEMS, &[&story_id])?;
        self.load_candidates(ids, &HashMap::new(), decorations)
    }

    /// As `WriteTx::load_candidates`, all the items in one statement (in id order, as SQLite
    /// reads them one by one).
    pub(in crate::store) fn load_candidates(
        &mut self,
        mut ids: Vec<i64>,
        linked: &HashMap<i64, Linked>,
        decorations: &Decorations,
    ) -> Result<Vec<Candidate>> {
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.rows(
            &format!("{CANDIDATE_SELECT} WHERE items.id = ANY(?1::bigint[]) ORDER BY items.id"),
            &[&ids],
        )?;
        let mut stories: HashMap<i64, Arc<StoryFacts>> = HashMap::new();
        let mut boilerplates: HashMap<i64, Arc<HashSet<Shingle>>> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let row = CandidateRow::read(row)?;
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
            let id = row.id;
            out.push(
                row.into_candidate(story, boilerplate, linked, decorations)
                    .map_err(|source| PgError::CorruptItem { id, source })?,
            );
        }
        Ok(out)
    }

    /// As `WriteTx::story_facts`: the feeds a story's members came from, and whether it may be
    /// folded.
    pub fn story_facts(&mut self, story_id: i64) -> Result<StoryFacts> {
        let pinned = self
            .rows(STORY_PINNED, &[&story_id])?
            .first()
            .map(|row| row.try_get(0))
            .transpose()?;
        let sources = self
            .rows(STORY_SOURCES, &[&story_id])?
            .iter()
            .map(|row| Ok((row.text(0)?, row.text(1)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(story_facts_from(pinned, sources))
    }
}

impl LinkReads for PgWriteTx<'_> {
    type Error = PgError;

    fn items_at(&mut self, canonical_url: &str) -> Result<Vec<(i64, i64)>> {
        self.rows(ITEMS_AT, &[&canonical_url])?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    }

    fn linking_to(&mut self, link: &str) -> Result<Vec<i64>> {
        self.ids(pg::BY_LINK, &[&link])
    }

    fn story_and_links(&mut self, item_id: i64) -> Result<(i64, Vec<String>)> {
        let rows = self.rows(STORY_AND_DATA_OF_ITEM, &[&item_id])?;
        let row = rows.first().ok_or(PgError::UnknownItem(item_id))?;
        let story_id: i64 = row.try_get(0)?;
        let links = links_in_stored(row.try_get(1)?).map_err(|source| PgError::CorruptItem {
            id: item_id,
            source,
        })?;
        Ok((story_id, links))
    }
}
