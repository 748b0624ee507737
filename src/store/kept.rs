//! The candidates one write has read in its look-arounds, kept until the write ends.
//!
//! A look-around reads the items of some days as candidates: a mirror that no key led anywhere
//! reads the days around it and the weeks before it (`ingest::ingest_item`), and every new item
//! of a writer reads the mirrors of its days that started stories of their own
//! (`ingest::fold_earlier_mirrors`). The new items of one poll are of the same days, so a write
//! of a few hundred feeds read the same items, once per new item; reading one (its row, its
//! JSON, its story's facts) cost more than asking it. A candidate is what its row, its story,
//! its feed's boilerplate, the transcripts and the writers' names (`Decorations`) make it, so
//! each write that changes one of those forgets what it may have changed; the rest is handed
//! out again. Nothing outlives the write: another writer (an instance on PostgreSQL, a
//! correction) may change anything between two writes, though not during one (SQLite has one
//! writer; on PostgreSQL ingest and the corrections hold the ingest lock, and the outbox's
//! writes change no item).

use std::collections::HashMap;

use crate::dedupe::Candidate;

/// Four look-arounds' worth (`recent!()`, 256 each): the days around a poll's new items, the
/// weeks before them and their founding mirrors stay; beyond it the memo starts afresh. Kept
/// candidates share their texts with those handed out (`Candidate::body`, `Candidate::text`),
/// but keep them alive after the look-around that read them: at N = 10,000 a steady poll
/// peaked 0.7-1.8 MB higher with 1,024 than with 512, and took 0.9 times as long; N = 1,000
/// never fills it (docs/benchmarks.md, "A steady poll's last write, and the checkpoint it
/// waited for" and "Where the unmet targets stand").
const CAPACITY: usize = 1024;

#[derive(Default)]
pub(super) struct KeptCandidates {
    /// The `Decorations::fingerprint` the kept candidates were read with.
    fingerprint: u64,
    by_id: HashMap<i64, Candidate>,
}

impl KeptCandidates {
    /// The kept candidates among `ids` (read with decorations of `fingerprint`), and the ids
    /// still to read.
    pub(super) fn known(&mut self, ids: Vec<i64>, fingerprint: u64) -> (Vec<Candidate>, Vec<i64>) {
        if fingerprint != self.fingerprint {
            self.by_id.clear();
            self.fingerprint = fingerprint;
        }
        let mut known = Vec::new();
        let mut missing = Vec::new();
        for id in ids {
            match self.by_id.get(&id) {
                Some(candidate) => known.push(candidate.clone()),
                None => missing.push(id),
            }
        }
        (known, missing)
    }

    /// Keeps candidates just read, with the decorations of the last [`KeptCandidates::known`].
    pub(super) fn keep(&mut self, read: &[Candidate]) {
        if self.by_id.len() + read.len() > CAPACITY {
            self.by_id.clear();
        }
        for candidate in read {
            self.by_id.insert(candidate.item_id, candidate.clone());
        }
    }

    /// An item changed (edited, relabelled, its transcript set).
    pub(super) fn forget_item(&mut self, item_id: i64) {
        self.by_id.remove(&item_id);
    }

    /// A story changed: it gained a member or was merged, so its facts are not what the kept
    /// candidates in it carry.
    pub(super) fn forget_story(&mut self, story_id: i64) {
        self.by_id
            .retain(|_, candidate| candidate.story_id != story_id);
    }

    /// Anything may have changed: a feed's boilerplate grew, a transcript was read, a
    /// correction ran.
    pub(super) fn forget_all(&mut self) {
        self.by_id.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Item, Role};

    fn mirror(item_id: i64, story_id: i64) -> Candidate {
        let seen = chrono::DateTime::UNIX_EPOCH;
        let item = Item::test_post("mirror", &format!("m{item_id}"), "A mirror", "", seen);
        Candidate::alone(item_id, story_id, &item, "mirror", Role::Mirror, seen)
    }

    fn ids(candidates: &[Candidate]) -> Vec<i64> {
        candidates.iter().map(|c| c.item_id).collect()
    }

    #[test]
    fn kept_mirrors_are_handed_out_until_their_story_or_item_changes() {
        let mut memo = KeptCandidates::default();
        let (known, missing) = memo.known(vec![1, 2, 3], 7);
        assert!(known.is_empty());
        assert_eq!(missing, vec![1, 2, 3]);
        memo.keep(&[mirror(1, 10), mirror(2, 20), mirror(3, 20)]);

        let (known, missing) = memo.known(vec![1, 2, 3, 4], 7);
        assert_eq!(ids(&known), vec![1, 2, 3]);
        assert_eq!(missing, vec![4]);

        memo.forget_story(20);
        memo.forget_item(1);
        let (known, missing) = memo.known(vec![1, 2, 3], 7);
        assert!(known.is_empty());
        assert_eq!(missing, vec![1, 2, 3]);
    }

    #[test]
    fn other_writers_names_read_every_mirror_again() {
        let mut memo = KeptCandidates::default();
        memo.known(vec![1], 7);
        memo.keep(&[mirror(1, 10)]);
        let (known, missing) = memo.known(vec![1], 8);
        assert!(known.is_empty());
        assert_eq!(missing, vec![1]);
    }

    #[test]
    fn a_full_memo_starts_afresh_rather_than_growing() {
        let mut memo = KeptCandidates::default();
        let many: Vec<Candidate> = (0_i64..).take(CAPACITY).map(|n| mirror(n, 0)).collect();
        memo.known(many.iter().map(|c| c.item_id).collect(), 1);
        memo.keep(&many);
        memo.keep(&[mirror(-1, -1)]);
        let (known, _) = memo.known(vec![0, -1], 1);
        assert_eq!(ids(&known), vec![-1]);
    }
}
