//! A set of small `Copy` values kept as a sorted vector, for [`super::title::Decorations`]: the
//! writers' names and feeds of a long feed list, as hashes.
//!
//! A `BTreeSet<(u64, u64)>` takes about 26 bytes an entry and a hash set of `u64` its slots
//! (9 bytes each, a half to seven eighths of them used); a sorted vector takes the entry's own
//! 8 or 16. The entries are learned one feed at a time, from the store and then as a poll meets
//! new feeds. Inserting into the sorted vector one by one would move the whole of it each time
//! (quadratic over a cold poll of many feeds), so inserts go to a small tree that is merged in
//! once it holds a sixteenth of the whole: learning n entries moves each entry a constant
//! number of times on average.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

/// Entries the tree of recent inserts holds at least before it is merged in.
const RECENT_AT_LEAST: usize = 1024;

#[derive(Debug, Clone)]
pub(super) struct CompactSet<T> {
    /// Sorted, each entry once.
    all: Vec<T>,
    /// Entries inserted since the last merge, none of them in `all`.
    recent: BTreeSet<T>,
}

impl<T> Default for CompactSet<T> {
    fn default() -> Self {
        CompactSet {
            all: Vec::new(),
            recent: BTreeSet::new(),
        }
    }
}

impl<T: Ord + Copy> CompactSet<T> {
    /// Merges the recent inserts in and gives back the room the vector grew into.
    pub(super) fn compact(&mut self) {
        self.merge();
        self.all.shrink_to_fit();
    }

    fn merge(&mut self) {
        if !self.recent.is_empty() {
            // Two sorted runs, which the stable sort merges in one pass.
            self.all.extend(std::mem::take(&mut self.recent));
            self.all.sort();
        }
    }

    /// Whether `entry` was new.
    pub(super) fn insert(&mut self, entry: T) -> bool {
        if self.all.binary_search(&entry).is_ok() || !self.recent.insert(entry) {
            return false;
        }
        if self.recent.len() > RECENT_AT_LEAST.max(self.all.len() / 16) {
            self.merge();
        }
        true
    }

    pub(super) fn contains(&self, entry: &T) -> bool {
        self.all.binary_search(entry).is_ok() || self.recent.contains(entry)
    }

    /// The entries in `range`, not in order.
    pub(super) fn range(&self, range: RangeInclusive<T>) -> impl Iterator<Item = T> + '_ {
        let start = self.all.partition_point(|entry| entry < range.start());
        let end = self.all.partition_point(|entry| entry <= range.end());
        self.all[start..end.max(start)]
            .iter()
            .copied()
            .chain(self.recent.range(range).copied())
    }

    /// Every entry, in order.
    pub(super) fn sorted(&self) -> Vec<T> {
        let mut sorted: Vec<T> = self.all.iter().chain(&self.recent).copied().collect();
        sorted.sort();
        sorted
    }

    pub(super) fn len(&self) -> usize {
        self.all.len() + self.recent.len()
    }
}

/// The same entries, however they were learned.
impl<T: Ord + Copy> PartialEq for CompactSet<T> {
    fn eq(&self, other: &CompactSet<T>) -> bool {
        self.len() == other.len() && self.sorted() == other.sorted()
    }
}

impl<T: Ord + Copy> Eq for CompactSet<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simple generator, so the test needs no dependency: the entries come in no order.
    fn scrambled(count: u64) -> impl Iterator<Item = u64> {
        (0..count).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 5_000)
    }

    #[test]
    fn a_set_answers_as_a_btree_set_however_its_entries_were_merged() {
        let mut one_by_one = CompactSet::default();
        let mut reference = BTreeSet::new();
        let learned = || scrambled(20_000).chain(7_000..7_010);
        for entry in learned() {
            assert_eq!(one_by_one.insert(entry), reference.insert(entry));
        }
        // Merges happened (5,000 entries against at least 1,024 recent ones), and the last ten
        // were inserted after the last merge.
        assert!(!one_by_one.all.is_empty() && !one_by_one.recent.is_empty());
        let mut at_once = CompactSet::default();
        for entry in learned().collect::<Vec<_>>().into_iter().rev() {
            at_once.insert(entry);
        }
        at_once.compact();
        assert!(at_once.recent.is_empty());
        assert_eq!(one_by_one, at_once);
        assert_eq!(one_by_one.len(), reference.len());
        assert_eq!(
            one_by_one.sorted(),
            reference.iter().copied().collect::<Vec<_>>()
        );
        for probe in [0, 1, 17, 4_999, 5_000, 6_990, 7_005, 123_456] {
            assert_eq!(one_by_one.contains(&probe), reference.contains(&probe));
            let mut found: Vec<u64> = one_by_one.range(probe..=probe + 40).collect();
            found.sort_unstable();
            let expected: Vec<u64> = reference.range(probe..=probe + 40).copied().collect();
            assert_eq!(found, expected);
        }
        assert_eq!(at_once.range(9_000..=9_100).count(), 0);
    }
}
