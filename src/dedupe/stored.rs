//! A stored item's text as the matcher reads it (its shingles, its meaningful words, its
//! title's readings, its links), derived at most once per text in a process.
//!
//! A mirror that no key leads anywhere is compared with the items of the weeks around it, a
//! few hundred, and every such mirror of one poll meets mostly the same ones. Derived afresh
//! for each, their texts cost about 75 ms of CPU per mirror item on a store of 1,000 feeds
//! (docs/benchmarks.md, "Mirrors nothing keys"). Each memo is keyed by everything its value
//! is derived from (the text itself; for title readings, the decorations too), so it is never
//! stale: an edited item reads as a new text, and the old entry is simply not asked
//! for again. It is process-wide rather than the store's because both backends' candidate
//! readers and the pure tests' candidates share it, and a memo of a pure function needs no
//! owner.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, OnceLock};

#[cfg(doc)]
use super::text::Sorted;
use super::text::{Shingle, Words, content_words, shingle, shingles, words};

/// Entries a memo keeps at once. A mirror's look around reads at most two windows of 256 items
/// (`recent!()` in the store) and the weeks before them; each text costs about 2.4 KB once read
/// (its [`Shingle`]s in order and sorted, its words' hashes), so the memo stays under about
/// 3 MB. When full it keeps what was asked for again since it last filled: the mirrors of one
/// poll look around the same days, so their windows are what it keeps.
const CAPACITY: usize = 1024;

static TEXTS: Memo<StoredText> = Memo::new();

/// The title readings of stored items (`dedupe::stored_title`), by title, text, role and the
/// decorations' fingerprint: reading a mirror's text for the episode it names was a third of
/// the look around once the texts were memoised.
static TITLES: Memo<StoredTitle> = Memo::new();

/// The links of stored texts (`Probe::of_stored`), by the text, its title key and its own
/// page: a stored mirror is asked again of every new work near it, and parsing its anchors
/// was a quarter of a steady poll once its names were read only near an interview.
static LINKS: Memo<StoredLinks> = Memo::new();

/// The titles stored mirrors' addresses spell (`dedupe::stored_address_key`), by address.
static ADDRESSES: Memo<Option<String>> = Memo::new();

/// What a stored text links to.
#[derive(Debug, Default)]
pub struct StoredLinks {
    /// The canonical keys of the pages it links to, its own page left out.
    pub outbound: Vec<String>,
    /// Whether it is titled after one of the first pages it links to (a link post).
    pub link_post: bool,
}

/// What a stored item's title stands for, read with the writers' decorations.
#[derive(Debug, Default)]
pub struct StoredTitle {
    /// Every key its title may stand for, its stored key first (see
    /// `dedupe::stored_title_keys`).
    pub keys: Vec<String>,
    /// The numbered episodes of the writers' shows it names (see `Probe::issues`).
    pub issues: Vec<String>,
}

/// Values by a 128-bit hash of what they are derived from, at most [`CAPACITY`] at once.
struct Memo<V> {
    entries: LazyLock<parking_lot::Mutex<HashMap<u128, Entry<V>>>>,
}

/// A memo's value, and whether it was asked for again since the memo last filled up.
struct Entry<V> {
    value: Arc<V>,
    asked_again: bool,
}

impl<V> Memo<V> {
    const fn new() -> Self {
        Memo {
            entries: LazyLock::new(|| parking_lot::Mutex::new(HashMap::new())),
        }
    }

    /// The value under `key`, derived by `derive` (outside the lock) when there is none.
    fn get(&self, key: u128, derive: impl FnOnce() -> V) -> Arc<V> {
        if let Some(entry) = self.entries.lock().get_mut(&key) {
            entry.asked_again = true;
            return Arc::clone(&entry.value);
        }
        let value = Arc::new(derive());
        let mut entries = self.entries.lock();
        if entries.len() >= CAPACITY {
            // Only what was asked for again since the last sweep is kept (and must be asked
            // for again before the next one); when that is everything, the memo starts over.
            entries.retain(|_, entry| std::mem::take(&mut entry.asked_again));
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        let entry = entries.entry(key).or_insert(Entry {
            value,
            asked_again: false,
        });
        Arc::clone(&entry.value)
    }
}

/// [`super::stored_title`]'s readings, derived by `derive` when not known.
pub(super) fn title(
    title: &str,
    body: Option<&str>,
    role: u8,
    decorations: u64,
    derive: impl FnOnce() -> StoredTitle,
) -> Arc<StoredTitle> {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(&[role]);
    hasher.update(&decorations.to_le_bytes());
    let key = text_key(hasher, title, body);
    TITLES.get(key, derive)
}

/// [`StoredLinks`] of the text `body` titled `title_key` on the page `own_page`, derived by
/// `derive` when not known.
pub(super) fn links(
    title_key: &str,
    body: Option<&str>,
    own_page: Option<&str>,
    derive: impl FnOnce() -> StoredLinks,
) -> Arc<StoredLinks> {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    match own_page {
        Some(page) => {
            hasher.update(&[1]);
            hasher.update(&(page.len() as u64).to_le_bytes());
            hasher.update(page.as_bytes());
        }
        None => hasher.update(&[0]),
    }
    LINKS.get(text_key(hasher, title_key, body), derive)
}

/// The title the address `link` spells, derived by `derive` when not known.
pub(super) fn address(link: &str, derive: impl FnOnce() -> Option<String>) -> Arc<Option<String>> {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(link.as_bytes());
    ADDRESSES.get(hasher.digest128(), derive)
}

/// What the matcher reads off one stored text, each part derived when first asked for.
#[derive(Debug, Default)]
pub struct StoredText {
    shingles: OnceLock<Shingled>,
    /// The shingles less the boilerplate of the first feed that asked, with that
    /// boilerplate's fingerprint: a text is its feed's, whose boilerplate seldom changes, and
    /// leaving it out anew for each new work near a podcast's episode cost 6% of a steady poll.
    kept: OnceLock<(u64, Shingled)>,
    words: OnceLock<Words>,
}

/// A text's shingles in document order, and sorted for lookups; its feed's boilerplate left
/// in (each reader takes its feed's out).
#[derive(Debug)]
struct Shingled {
    sequence: Box<[Shingle]>,
    sorted: Box<[Shingle]>,
}

impl StoredText {
    /// The memo's entry for the text of an item whose title key is `title_key` and whose body
    /// is `body`.
    pub fn of(title_key: &str, body: Option<&str>) -> Arc<StoredText> {
        TEXTS.get(
            text_key(xxhash_rust::xxh3::Xxh3::new(), title_key, body),
            StoredText::default,
        )
    }

    /// The body's shingles in document order and sorted (a [`Sorted`] set), less
    /// `boilerplate`: borrowed from the memo when the feed has none.
    pub fn shingles<'a>(
        &'a self,
        body: Option<&str>,
        boilerplate: &HashSet<Shingle>,
    ) -> (Cow<'a, [Shingle]>, Cow<'a, [Shingle]>) {
        let Shingled { sequence, sorted } = self.shingles.get_or_init(|| {
            let sequence: Vec<Shingle> = body
                .map(|body| shingles(&words(body)).into_iter().map(shingle).collect())
                .unwrap_or_default();
            let sorted = super::sorted_set(&sequence);
            Shingled {
                sequence: sequence.into_boxed_slice(),
                sorted: sorted.into_boxed_slice(),
            }
        });
        if boilerplate.is_empty() {
            return (Cow::Borrowed(sequence), Cow::Borrowed(sorted));
        }
        let leave_out = |hashes: &[Shingle]| -> Box<[Shingle]> {
            hashes
                .iter()
                .copied()
                .filter(|hash| !boilerplate.contains(hash))
                .collect()
        };
        let without = || Shingled {
            sequence: leave_out(sequence),
            sorted: leave_out(sorted),
        };
        let print = fingerprint(boilerplate);
        let (kept_print, kept) = self.kept.get_or_init(|| (print, without()));
        if *kept_print == print {
            return (Cow::Borrowed(&kept.sequence), Cow::Borrowed(&kept.sorted));
        }
        let Shingled { sequence, sorted } = without();
        (
            Cow::Owned(sequence.into_vec()),
            Cow::Owned(sorted.into_vec()),
        )
    }

    /// [`content_words`] of the title key and the body.
    pub fn words(&self, title_key: &str, body: Option<&str>) -> &Words {
        self.words.get_or_init(|| content_words(title_key, body))
    }
}

/// A set of shingles' identity, whatever order it is read in: its size, and the sum and the
/// xor of its hashes (two different boilerplates would have to agree on all three).
fn fingerprint(shingles: &HashSet<Shingle>) -> u64 {
    let (sum, xor) = shingles.iter().fold((0u64, 0u64), |(sum, xor), hash| {
        (sum.wrapping_add(u64::from(*hash)), xor ^ u64::from(*hash))
    });
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(&(shingles.len() as u64).to_le_bytes());
    hasher.update(&sum.to_le_bytes());
    hasher.update(&xor.to_le_bytes());
    hasher.digest()
}

/// A text's identity: a 128-bit hash of what `hasher` holds, the title (after its length)
/// and the body.
fn text_key(mut hasher: xxhash_rust::xxh3::Xxh3, title_key: &str, body: Option<&str>) -> u128 {
    hasher.update(&(title_key.len() as u64).to_le_bytes());
    hasher.update(title_key.as_bytes());
    match body {
        Some(body) => {
            hasher.update(&[1]);
            hasher.update(body.as_bytes());
        }
        None => hasher.update(&[0]),
    }
    hasher.digest128()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asks `memo` for `key`, and says whether it had to derive the value.
    fn derived(memo: &Memo<u128>, key: u128) -> bool {
        let mut derived = false;
        let value = memo.get(key, || {
            derived = true;
            key
        });
        assert_eq!(*value, key);
        derived
    }

    #[test]
    fn a_full_memo_keeps_what_was_asked_for_again() {
        let memo = Memo::new();
        let keys = 0..CAPACITY as u128;
        assert!(keys.clone().all(|key| derived(&memo, key)));
        // The window asked about again: the first half.
        assert!(!(0..CAPACITY as u128 / 2).any(|key| derived(&memo, key)));
        // A new text fills it: the half asked for again stays, the rest goes.
        assert!(derived(&memo, CAPACITY as u128));
        assert!(!(0..CAPACITY as u128 / 2).any(|key| derived(&memo, key)));
        assert!(derived(&memo, CAPACITY as u128 - 1));
    }

    #[test]
    fn a_memo_whose_every_entry_was_asked_for_again_starts_over() {
        let memo = Memo::new();
        let keys = 0..CAPACITY as u128;
        assert!(keys.clone().all(|key| derived(&memo, key)));
        assert!(!keys.clone().any(|key| derived(&memo, key)));
        assert!(derived(&memo, CAPACITY as u128));
        assert!(
            derived(&memo, 0),
            "kept a full memo's worth past its capacity"
        );
        assert!(memo.entries.lock().len() <= CAPACITY);
    }
}
