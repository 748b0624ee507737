//! Corrections: a person moves an item out of its story, or folds one story into another.
//!
//! Design decision: a correction is stored as a fact (a `corrections` row, and for a split a
//! pinned story), written in the same transaction as the move it records. The matcher reads
//! the pin on every later poll and so never undoes the decision, and `stories --explain` can
//! say who grouped what. A correction never queues a notification: it changes how copies are
//! grouped, not what is new.

use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};

use super::matching::STORY_PINNED;
use super::postgres::PgError;
use super::{
    Conn, ResolvedStory, Result, SqliteTx, Store, StoreError, WriteTx, on_postgres,
    parse_timestamp, resolve_story_with, saturating_u32, sql, timestamp,
};
use crate::ingest::split_story_atom_id;
use crate::model::MatchReason;

/// What a person did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum CorrectionAction {
    /// `stories split ITEM`: an item moved out of its story into a story of its own.
    Split,
    /// `stories merge STORY OTHER`: story OTHER folded into STORY.
    Merge,
}

impl CorrectionAction {
    /// The name stored in `corrections.action` and printed by `stories --explain`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl FromSql for CorrectionAction {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        text.parse()
            .map_err(|_| FromSqlError::Other(format!("unknown correction action `{text}`").into()))
    }
}

/// One correction, as `stories --explain` tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct Correction {
    pub action: CorrectionAction,
    /// The item moved by a split; `None` for a merge.
    pub item: Option<i64>,
    /// The story that gained: a split's new story, or the story a merge kept.
    pub story: i64,
    /// The other side: the story a split item left, or the story a merge folded in.
    pub other: i64,
    pub at: DateTime<Utc>,
}

impl Correction {
    /// The correction in words, told from the side of story `seen_from` ("split by hand: item
    /// 7 moved here from story 3"), for `stories --explain` and the site alike.
    pub fn describe(&self, seen_from: i64) -> String {
        let item = self
            .item
            .map_or_else(|| "an item".to_owned(), |item| format!("item {item}"));
        match self.action {
            CorrectionAction::Split if self.story == seen_from => {
                format!("split by hand: {item} moved here from story {}", self.other)
            }
            CorrectionAction::Split => {
                format!("split by hand: {item} moved out to story {}", self.story)
            }
            CorrectionAction::Merge if self.story == seen_from => {
                format!("merged by hand: story {} folded in", self.other)
            }
            CorrectionAction::Merge => format!("merged by hand: folded into story {}", self.story),
        }
    }
}

impl Store {
    /// Moves item `item_id` out of its story into a new, pinned story of its own, so no later
    /// poll folds it back. The story it left keeps its Atom id; its date becomes its earliest
    /// remaining member's. One body for both backends: on PostgreSQL the write holds the
    /// ingest lock (`begin_write`), so a split never interleaves with another instance's
    /// ingest moving the same items.
    pub fn split_item(&mut self, item_id: i64, now: DateTime<Utc>) -> Result<Correction> {
        let write = self.begin_write()?;
        let (left, source, guid): (i64, String, String) = write
            .query_opt(SPLIT_ITEM, &[item_id.into()])?
            .ok_or(StoreError::UnknownItem(item_id))?;
        let members: i64 = write.query_one(STORY_SIZE, &[left.into()])?;
        if members == 1 {
            return Err(StoreError::ItemAlreadyAlone {
                item: item_id,
                story: left,
            });
        }
        let earlier_splits: i64 = write.query_one(
            EARLIER_SPLITS,
            &[CorrectionAction::Split.as_str().into(), item_id.into()],
        )?;
        let now_text = timestamp(now);
        let story = write.insert(
            SPLIT_STORY,
            &[
                split_story_atom_id(&source, &guid, saturating_u32(earlier_splits)).into(),
                now_text.as_str().into(),
                item_id.into(),
            ],
        )?;
        write.execute(
            SPLIT_MOVE,
            &[
                item_id.into(),
                story.into(),
                MatchReason::Manual.as_str().into(),
            ],
        )?;
        write.execute(SPLIT_REDATE, &[left.into(), now_text.as_str().into()])?;
        let correction = Correction {
            action: CorrectionAction::Split,
            item: Some(item_id),
            story,
            other: left,
            at: now,
        };
        write.record_correction(&correction)?;
        write.commit()?;
        Ok(correction)
    }

    /// Folds story `other` into story `story`, each given as a number or an Atom id. `story`
    /// keeps its Atom id (a story already folded away stands for the story it joined); the
    /// notifications `other` has not sent yet are cancelled. An `other` already folded away is
    /// refused rather than followed: the person named a story that no longer stands alone.
    /// Pinned stories may be merged: the matcher leaves them alone, a person decides. One body
    /// for both backends, under the ingest lock on PostgreSQL as [`Store::split_item`].
    pub fn merge_stories(
        &mut self,
        story: &str,
        other: &str,
        now: DateTime<Utc>,
    ) -> Result<Correction> {
        let write = self.begin_write()?;
        let unknown = |key: &str| StoreError::UnknownStory(key.to_owned());
        let resolve = |key: &str| resolve_story_with(key, |sql, key| write.query_opt(sql, &[key]));
        let ResolvedStory { head: kept, .. } = resolve(story)?.ok_or_else(|| unknown(story))?;
        let folded = resolve(other)?.ok_or_else(|| unknown(other))?;
        if folded.found != folded.head {
            return Err(StoreError::AlreadyMerged {
                other: other.to_owned(),
                into: folded.head,
            });
        }
        let folded = folded.found;
        if folded == kept {
            return Err(StoreError::SameStory {
                story: story.to_owned(),
                other: other.to_owned(),
                id: kept,
            });
        }
        // Every item of `other` is now in `story` because a person said so; the member that
        // started `other` in particular no longer started the story it is in.
        write.execute(
            MERGE_RELABEL,
            &[folded.into(), MatchReason::Manual.as_str().into()],
        )?;
        write.merge_story(folded, kept, now)?;
        // A pin on `other` protected its members from being folded elsewhere; they keep it.
        write.execute(write.dialect(&MERGE_PIN), &[kept.into(), folded.into()])?;
        let correction = Correction {
            action: CorrectionAction::Merge,
            item: None,
            story: kept,
            other: folded,
            at: now,
        };
        write.record_correction(&correction)?;
        write.commit()?;
        Ok(correction)
    }

    /// The corrections that touched a story, on either side, oldest first.
    pub fn corrections_of(&self, story_id: i64) -> Result<Vec<Correction>> {
        match &self.conn {
            Conn::Sqlite(conn) => corrections_of(conn, story_id),
            Conn::Postgres(pg) => on_postgres(|| {
                let rows = pg.borrow_mut().query(CORRECTIONS_OF, &[&story_id])?;
                rows.iter()
                    .map(|row| {
                        let action: String = row.try_get(0)?;
                        Ok(Correction {
                            action: action
                                .parse()
                                .map_err(|_| PgError::UnknownCorrection(action))?,
                            item: row.try_get(1)?,
                            story: row.try_get(2)?,
                            other: row.try_get(3)?,
                            at: parse_timestamp(row.try_get(4)?).unwrap_or_default(),
                        })
                    })
                    .collect()
            }),
        }
    }
}

impl SqliteTx<'_> {
    /// Whether a person fixed this story's members (a split made it, or it absorbed such a
    /// story by hand). The matcher never folds a pinned story into another story, nor another
    /// story into it, so a correction outlives every later poll.
    pub fn story_pinned(&self, story_id: i64) -> Result<bool> {
        self.tx
            .prepare_cached(STORY_PINNED)?
            .query_row([story_id], |row| row.get(0))
            .optional()?
            .ok_or_else(|| StoreError::UnknownStory(story_id.to_string()))
    }
}

impl WriteTx<'_> {
    /// Stores the fact of a correction, in the write that made it.
    fn record_correction(&self, correction: &Correction) -> Result<()> {
        self.execute(
            RECORD_CORRECTION,
            &[
                correction.action.as_str().into(),
                correction.item.into(),
                correction.story.into(),
                correction.other.into(),
                timestamp(correction.at).into(),
            ],
        )?;
        Ok(())
    }
}

// The corrections' statements: one text for both backends, except `MERGE_PIN`.

/// `split_item`: the item's story, and its feed's name and guid (its new story's Atom id).
const SPLIT_ITEM: &str = "SELECT items.story_id, sources.name, items.guid
     FROM items JOIN sources ON sources.id = items.source_id WHERE items.id = ?1";

/// `split_item`: how many members the item's story has.
const STORY_SIZE: &str = "SELECT count(*) FROM items WHERE story_id = ?1";

/// `split_item`: how often the item was split out before, so each split's story gets a fresh
/// Atom id.
const EARLIER_SPLITS: &str = "SELECT count(*) FROM corrections WHERE action = ?1 AND item_id = ?2";

/// `split_item`: the item's own story, pinned, dated as the item.
const SPLIT_STORY: &str = "INSERT INTO stories (atom_id, created_at, published, updated_at, pinned)
     SELECT ?1, ?2, published, ?2, 1 FROM items WHERE id = ?3";

/// `split_item`: the item moves to its story, grouped by hand.
const SPLIT_MOVE: &str =
    "UPDATE items SET story_id = ?2, match_reason = ?3, match_score = 1.0 WHERE id = ?1";

/// `split_item`: the story left behind takes its earliest remaining member's date.
const SPLIT_REDATE: &str = "UPDATE stories SET
        published = (SELECT min(published) FROM items WHERE story_id = ?1),
        updated_at = ?2
     WHERE id = ?1";

/// `merge_stories`: the folded story's items are grouped by hand.
const MERGE_RELABEL: &str =
    "UPDATE items SET match_reason = ?2, match_score = 1.0 WHERE story_id = ?1";

/// `merge_stories`: the kept story is pinned if either was; SQLite's two-argument `max` is
/// PostgreSQL's `GREATEST` (never NULL here, where they differ).
const MERGE_PIN: sql::Twin = sql::Twin {
    sqlite: "UPDATE stories SET pinned = max(pinned, (SELECT pinned FROM stories WHERE id = ?2))
     WHERE id = ?1",
    postgres: "UPDATE stories SET
        pinned = GREATEST(pinned, (SELECT pinned FROM stories WHERE id = ?2))
     WHERE id = ?1",
};

/// A correction's fact.
const RECORD_CORRECTION: &str =
    "INSERT INTO corrections (action, item_id, story_id, other_id, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5)";

/// The corrections that touched a story, on either side, oldest first, on either backend.
pub(super) const CORRECTIONS_OF: &str =
    "SELECT action, item_id, story_id, other_id, created_at FROM corrections
         WHERE story_id = ?1 OR other_id = ?1 ORDER BY id";

/// The corrections that touched a story, on either side, oldest first: for `--explain` and
/// for the site's explain page, each on its own connection.
pub(super) fn corrections_of(
    conn: &rusqlite::Connection,
    story_id: i64,
) -> Result<Vec<Correction>> {
    let mut stmt = conn.prepare_cached(CORRECTIONS_OF)?;
    let rows = stmt.query_map([story_id], |row| {
        Ok(Correction {
            action: row.get(0)?,
            item: row.get(1)?,
            story: row.get(2)?,
            other: row.get(3)?,
            at: parse_timestamp(&row.get::<_, String>(4)?).unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::CorrectionAction;

    fn read(text: &str) -> rusqlite::Result<CorrectionAction> {
        let conn = Connection::open_in_memory()?;
        conn.query_row("SELECT ?1", [text], |row| row.get(0))
    }

    #[test]
    fn actions_round_trip_through_sqlite_by_name() {
        for (action, name) in [
            (CorrectionAction::Split, "split"),
            (CorrectionAction::Merge, "merge"),
        ] {
            assert_eq!(action.as_str(), name);
            assert_eq!(read(name).expect("a known action"), action);
        }
        let error = read("Split").expect_err("names are exact");
        assert!(error.to_string().contains("`Split`"), "{error}");
    }
}
