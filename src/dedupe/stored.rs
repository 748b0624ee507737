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
use super::title::TitleWords;
use xxhash_rust::xxh3::xxh3_128;

/// Entries a memo keeps at once. Once earlier polls have filled the days around its new
/// items, one steady poll of 10,000 feeds asks for 2,100 to 3,000 texts again and again:
/// - each new mirror looks around (two windows of 256 items, `recent!()` in the store, and
///   the weeks before them);
/// - each new work asks the mirrors that came before it (up to 256).
///
/// A text costs about 2.4 KB once read (its [`Shingle`]s in order and sorted, its words'
/// hashes), so the memo stays under about 2.5 MB. Room for all of them would take 3,000
/// entries. Room for 2,048 made the second such poll 0.74 times as long but the third only
/// 0.95 times, for 2.5 MB more at the peak (docs/benchmarks.md, "Later steady polls"), so the
/// memo keeps its size.
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

/// Headlines as `dedupe::reconsider` reads them, by the headline: every new work of a poll
/// asks the same stored mirrors again, and each asking normalised the mirror's headline and
/// read the meaningful words of both titles afresh, a fifth of the asking.
static HEADLINES: Memo<Headline> = Memo::new();

/// The meaningful words of title keys (`TitleWords`), by key: every pair of items compared
/// by their titles read both keys' words afresh, about a seventh of the time a steady poll
/// spent asking stored mirrors about each new work.
static TITLE_WORDS: Memo<TitleWords> = Memo::new();

/// A headline's key and its meaningful words.
#[derive(Debug)]
pub struct Headline {
    /// `dedupe::title_key` of it.
    pub key: Option<String>,
    /// `dedupe::content_words` of it alone.
    pub words: Words,
}

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
    slots: LazyLock<parking_lot::Mutex<Slots<V>>>,
}

/// A memo's entries, and their keys in the order of the slots they hold.
struct Slots<V> {
    entries: HashMap<u128, Entry<V>>,
    keys: Vec<u128>,
}

/// A memo's value, and whether it was asked for again since it was last passed over.
struct Entry<V> {
    value: Arc<V>,
    asked_again: bool,
}

/// Slots a full memo looks at for one to free, from a random one on: the first whose entry
/// was not asked for again since it was last looked at, or the last looked at.
const EVICTION_TRIES: usize = 8;

impl<V> Memo<V> {
    const fn new() -> Self {
        Memo {
            slots: LazyLock::new(|| {
                parking_lot::Mutex::new(Slots {
                    entries: HashMap::new(),
                    keys: Vec::new(),
                })
            }),
        }
    }

    /// The value under `key`, derived by `derive` (outside the lock) when there is none.
    ///
    /// A full memo frees a slot at random, passing over entries asked for again: a poll asks
    /// for the same texts in turn (every new item looks around the same days), and when they
    /// are more than the memo holds, any rule that frees the oldest (least recently used,
    /// first in, a sweep of what was not asked for again) frees each text just before it is
    /// asked for again, and derives nearly every one every time. At random, a share of them
    /// stays whatever their number (docs/benchmarks.md, "Later steady polls").
    fn get(&self, key: u128, derive: impl FnOnce() -> V) -> Arc<V> {
        if let Some(entry) = self.slots.lock().entries.get_mut(&key) {
            entry.asked_again = true;
            return Arc::clone(&entry.value);
        }
        let value = Arc::new(derive());
        let mut guard = self.slots.lock();
        let Slots { entries, keys } = &mut *guard;
        if let Some(entry) = entries.get(&key) {
            // Derived meanwhile by another thread.
            return Arc::clone(&entry.value);
        }
        if keys.len() < CAPACITY {
            keys.push(key);
        } else {
            // The key is a hash of the text: its low bits are as good as a random slot.
            let mut slot = key as usize % keys.len();
            for tried in 1..=EVICTION_TRIES {
                match entries.get_mut(&keys[slot]) {
                    Some(entry) if entry.asked_again && tried < EVICTION_TRIES => {
                        entry.asked_again = false;
                        slot = (slot + 1) % keys.len();
                    }
                    _ => break,
                }
            }
            entries.remove(&keys[slot]);
            keys[slot] = key;
        }
        entries.insert(
            key,
            Entry {
                value: Arc::clone(&value),
                asked_again: false,
            },
        );
        value
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
    ADDRESSES.get(xxh3_128(link.as_bytes()), derive)
}

/// The [`Headline`] `title` reads as, derived by `derive` when not known.
pub(super) fn headline(title: &str, derive: impl FnOnce() -> Headline) -> Arc<Headline> {
    HEADLINES.get(xxh3_128(title.as_bytes()), derive)
}

/// The [`TitleWords`] of the title key `key`.
pub(super) fn title_words(key: &str) -> Arc<TitleWords> {
    TITLE_WORDS.get(xxh3_128(key.as_bytes()), || TitleWords::of(key))
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
    fn a_full_memo_passes_over_what_was_asked_for_again() {
        let memo = Memo::new();
        let keys = 0..CAPACITY as u128;
        assert!(keys.clone().all(|key| derived(&memo, key)));
        // Every entry but one asked for again: the next new text takes the one left.
        let left = 5;
        assert!(
            !keys
                .clone()
                .filter(|&k| k != left)
                .any(|key| derived(&memo, key))
        );
        let new = CAPACITY as u128 + 3; // its first slot to look at is 3; slot 5 is the third
        assert!(derived(&memo, new));
        assert!(derived(&memo, left), "the entry not asked for again went");
        // What was passed over stays.
        assert!(!derived(&memo, 3) && !derived(&memo, 4));
        assert_eq!(memo.slots.lock().entries.len(), CAPACITY);
    }

    #[test]
    fn a_memo_asked_in_turn_for_more_than_it_holds_keeps_a_share_of_them() {
        // Half as many again as it holds, asked for in turn four times: a memo that freed the
        // oldest would derive every one every time round (12,288); this one derives 8,668,
        // the first round's 3,072 and about 1,900 a round after. Keys spread as hashes are,
        // as the memo's keys are.
        let memo = Memo::new();
        let texts: Vec<u128> = (0..CAPACITY as u128 * 3 / 2)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835))
            .collect();
        let derivations = (0..4)
            .flat_map(|_| texts.iter().copied())
            .filter(|&key| derived(&memo, key))
            .count();
        assert!(derivations < texts.len() * 3, "{derivations}");
        assert_eq!(memo.slots.lock().entries.len(), CAPACITY);
        assert_eq!(memo.slots.lock().keys.len(), CAPACITY);
    }
}
