//! Text fingerprints: word shingles, and the anchors that index them.
//!
//! Design decision: mirrors truncate (a curation site keeps the first paragraphs) and splice
//! (a podcast page adds a promo line and a footer), so similarity is measured as containment
//! (shared shingles over the smaller text's shingles), not Jaccard, which a truncated copy
//! fails. Candidates are found through content-defined anchors: the shingles whose hash falls
//! in a fixed residue class, taken in document order, so a truncated copy's anchors are a
//! prefix of the full text's anchors and the two meet in the index; plus the shingles with the
//! smallest hashes anywhere in the text (a bottom-k sketch), so a copy whose start is page junk
//! (an aggregator's navigation, a curation site's header) still meets the original.

use std::collections::HashSet;

/// Words per shingle: long enough that common phrases do not match, short enough that a
/// spliced sentence breaks only a few shingles.
pub const SHINGLE_WORDS: usize = 5;

/// One shingle in `ANCHOR_MODULUS` becomes an anchor.
const ANCHOR_MODULUS: u64 = 4;

/// Anchors kept per item from the start of the text.
pub const PREFIX_ANCHORS: usize = 12;

/// Anchors kept per item from anywhere in the text: those with the smallest hashes. Eight
/// rather than twelve: a copy behind page junk still shares one of them unless nearly all its
/// eight smallest are junk, the real-world mirrors group exactly as with twelve in either poll
/// order, and every anchor is a row written at a random key of an index that outgrows the
/// page cache (docs/benchmarks.md, "Why the cold poll grows faster than the work, and fewer
/// anchors").
pub const SKETCH_ANCHORS: usize = 8;

/// FNV-1a: stable across runs and platforms (anchors are stored), and fast.
fn fnv1a(bytes: &[u8], mut hash: u64) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The words of an HTML fragment, lower-cased, tags dropped and entities decoded.
pub fn words(html: &str) -> Vec<String> {
    crate::normalize::plain_text(html)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The hash of a run of words, the same on every platform and run (it is stored).
pub fn stable_hash<'a>(words: impl IntoIterator<Item = &'a str>) -> u64 {
    words.into_iter().fold(FNV_OFFSET, |hash, word| {
        fnv1a(b" ", fnv1a(word.as_bytes(), hash))
    })
}

/// A hash as SQLite stores it: its integers are signed, so the bits are kept and the sign
/// means nothing.
pub fn hash_to_sql(hash: u64) -> i64 {
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// The hash [`hash_to_sql`] stored.
pub fn hash_from_sql(stored: i64) -> u64 {
    u64::from_ne_bytes(stored.to_ne_bytes())
}

/// Hashes of every run of [`SHINGLE_WORDS`] words, in document order.
pub fn shingles(words: &[String]) -> Vec<u64> {
    words
        .windows(SHINGLE_WORDS)
        .map(|window| stable_hash(window.iter().map(String::as_str)))
        .collect()
}

/// A shingle as texts are compared by it: its [`stable_hash`] folded to 32 bits. The full hash
/// is what the store keeps (text anchors, boilerplate); the comparisons only ask whether two
/// texts hold the same run of words. Two texts of 500 shingles each share a false match about
/// once in 17,000 comparisons (n·m / 2^32), two of 2,000 once in a thousand; one false shared
/// shingle moves a containment score by one in hundreds, and a quoted passage needs four in a
/// row. Half the width is half the memory of the memo of stored texts (`dedupe::stored`).
pub type Shingle = u32;

/// The [`Shingle`] of a shingle's full hash: both halves folded together, so that every bit
/// of the hash counts.
pub fn shingle(hash: u64) -> Shingle {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "the fold keeps 32 bits on purpose"
    )]
    let folded = ((hash >> 32) ^ hash) as u32;
    folded
}

/// The [`Shingle`]s of a set of full hashes (a feed's boilerplate as the store keeps it).
pub fn shingle_set(hashes: &HashSet<u64>) -> HashSet<Shingle> {
    hashes.iter().map(|hash| shingle(*hash)).collect()
}

/// Shingles in a row that make a quoted passage: four 5-word shingles cover eight words.
pub const QUOTE_SHINGLES: usize = 4;

/// The passages of `sequence` (a text's shingles in order) found word for word in `source`:
/// maximal runs of at least [`QUOTE_SHINGLES`] consecutive shingles, counted once each.
/// Returns the number of passages and the words they cover.
pub fn quoted_passages(sequence: &[Shingle], source: &dyn ShingleSet) -> (usize, usize) {
    let mut passages = 0;
    let mut words = 0;
    let mut run = 0;
    let mut close = |run: usize| {
        if run >= QUOTE_SHINGLES {
            passages += 1;
            words += run + SHINGLE_WORDS - 1;
        }
    };
    for hash in sequence {
        if source.holds(*hash) {
            run += 1;
        } else {
            close(run);
            run = 0;
        }
    }
    close(run);
    (passages, words)
}

/// A feed's boilerplate: the shingles found in at least three of its texts and in at least a
/// fifth of them (a sponsor read, a subscribe footer, a show's standing intro). Passages a feed
/// repeats in every item say nothing about which work an item is.
pub fn boilerplate<'a>(texts: impl IntoIterator<Item = &'a HashSet<u64>>) -> HashSet<u64> {
    let mut counts: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    let mut total: usize = 0;
    for text in texts {
        total += 1;
        for hash in text {
            *counts.entry(*hash).or_default() += 1;
        }
    }
    let at_least = 3.max(total.div_ceil(5));
    counts
        .into_iter()
        .filter(|(_, count)| *count >= at_least)
        .map(|(hash, _)| hash)
        .collect()
}

/// The index keys of a text: the first [`PREFIX_ANCHORS`] shingles in the anchor residue
/// class, and the [`SKETCH_ANCHORS`] smallest shingle hashes.
pub fn anchors(shingles: &[u64]) -> Vec<i64> {
    let mut seen = HashSet::new();
    let mut anchors: Vec<u64> = shingles
        .iter()
        .copied()
        .filter(|hash| *hash % ANCHOR_MODULUS == 0)
        .filter(|hash| seen.insert(*hash))
        .take(PREFIX_ANCHORS)
        .collect();
    let mut sorted: Vec<u64> = shingles.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    anchors.extend(
        sorted
            .into_iter()
            .filter(|hash| seen.insert(*hash))
            .take(SKETCH_ANCHORS),
    );
    anchors.into_iter().map(hash_to_sql).collect()
}

/// A set of shingles a text is looked up in: a probe's `HashSet`, or a stored text's
/// [`Sorted`] slice (kept that way in `StoredText`, where a `HashSet` per text would cost
/// twice the memory).
pub trait ShingleSet {
    fn size(&self) -> usize;
    fn holds(&self, shingle: Shingle) -> bool;
    /// How many of `self`'s shingles `other` holds.
    fn found_in(&self, other: &dyn ShingleSet) -> usize;
}

impl ShingleSet for HashSet<Shingle> {
    fn size(&self) -> usize {
        self.len()
    }

    fn holds(&self, shingle: Shingle) -> bool {
        self.contains(&shingle)
    }

    fn found_in(&self, other: &dyn ShingleSet) -> usize {
        self.iter().filter(|hash| other.holds(**hash)).count()
    }
}

/// Shingles sorted and without repeats.
pub struct Sorted<'a>(pub &'a [Shingle]);

impl ShingleSet for Sorted<'_> {
    fn size(&self) -> usize {
        self.0.len()
    }

    fn holds(&self, shingle: Shingle) -> bool {
        self.0.binary_search(&shingle).is_ok()
    }

    fn found_in(&self, other: &dyn ShingleSet) -> usize {
        self.0.iter().filter(|hash| other.holds(**hash)).count()
    }
}

/// Shared shingles over the smaller set's size, in [0, 1]. Sets smaller than `min_size` say
/// nothing and score 0.
pub fn containment(a: &dyn ShingleSet, b: &dyn ShingleSet, min_size: usize) -> f64 {
    let (small, large) = if a.size() <= b.size() { (a, b) } else { (b, a) };
    if small.size() < min_size {
        return 0.0;
    }
    small.found_in(large) as f64 / small.size() as f64
}

/// Words too common to say what a text is about, sorted (for `binary_search`: every word of
/// every text read is looked up here).
const COMMON_WORDS: &[&str] = &[
    "about", "after", "all", "also", "and", "any", "are", "back", "because", "been", "before",
    "being", "between", "both", "but", "can", "could", "day", "days", "did", "does", "doesn",
    "don", "during", "each", "even", "few", "first", "for", "from", "get", "gets", "had", "has",
    "have", "her", "here", "him", "his", "how", "into", "isn", "its", "just", "last", "let",
    "lets", "like", "made", "make", "makes", "many", "may", "might", "more", "most", "much", "new",
    "next", "not", "now", "one", "only", "other", "our", "out", "over", "own", "per", "said",
    "same", "say", "says", "some", "still", "such", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "through", "time", "times", "today", "too", "two",
    "use", "used", "uses", "very", "via", "was", "way", "ways", "week", "well", "were", "what",
    "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "year",
    "years", "yet", "you", "your",
];

/// The meaningful words of a text, as a sorted set of their hashes: compact enough to keep
/// for the hundreds of stored items a mirror is compared with (see `StoredText`), and
/// intersected by a merge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Words(Box<[u64]>);

impl Words {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The words as the store indexes them (`title_words`), each [`hash_to_sql`].
    pub fn keys(&self) -> impl Iterator<Item = i64> + '_ {
        self.0.iter().map(|hash| hash_to_sql(*hash))
    }

    /// How many words the two have in common.
    pub fn shared(&self, other: &Words) -> usize {
        let (mut a, mut b) = (self.0.iter().peekable(), other.0.iter().peekable());
        let mut shared = 0;
        while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
            match x.cmp(y) {
                std::cmp::Ordering::Less => {
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    shared += 1;
                    a.next();
                    b.next();
                }
            }
        }
        shared
    }
}

/// The meaningful words of a title and a text (three letters or more, common words left out):
/// what a summary written in its own words still shares with the work it summarises.
pub fn content_words(title: &str, html: Option<&str>) -> Words {
    let text = html.map(crate::normalize::plain_text).unwrap_or_default();
    let mut hashes: Vec<u64> = [title, text.as_str()]
        .into_iter()
        .flat_map(|part| part.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.chars().nth(2).is_some())
        .map(str::to_lowercase)
        .filter(|w| COMMON_WORDS.binary_search(&w.as_str()).is_err())
        .map(|w| xxhash_rust::xxh3::xxh3_64(w.as_bytes()))
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    Words(hashes.into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_words_are_sorted_for_binary_search() {
        assert!(COMMON_WORDS.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn words_count_what_two_texts_share_once_each() {
        let essay = content_words(
            "River deltas",
            Some("<p>Deltas build land; rivers drop silt.</p>"),
        );
        let summary = content_words(
            "Deltas",
            Some("<p>The silt builds LAND, the delta grows.</p>"),
        );
        // deltas, land, silt: the title's and the text's "deltas" count once; "the" is common.
        assert_eq!(essay.shared(&summary), 3);
        assert_eq!(summary.shared(&essay), 3);
        // river, deltas, build, land, rivers, drop, silt.
        assert_eq!(essay.len(), 7);
    }

    fn set(text: &str) -> HashSet<Shingle> {
        shingles(&words(text)).into_iter().map(shingle).collect()
    }

    const ESSAY: &str = "<p>River deltas build land where slow water drops the silt it carried \
        down from the mountains.</p><p>Engineers who straighten channels send that silt out to \
        sea instead, and the coast starts to shrink within a generation.</p><p>Restoring a delta \
        means letting floods spread again, which farmers on the plain rarely welcome.</p>";

    #[test]
    fn markup_and_entities_do_not_change_words() {
        assert_eq!(
            words("<p>It&rsquo;s <b>open</b>&nbsp;models</p>"),
            vec!["it", "s", "open", "models"]
        );
        assert_eq!(words("It's open models"), vec!["it", "s", "open", "models"]);
    }

    #[test]
    fn truncated_copy_is_contained() {
        let full = set(ESSAY);
        let truncated = set(
            "River deltas build land where slow water drops the silt it \
            carried down from the mountains. Engineers who straighten channels send...",
        );
        let score = containment(&full, &truncated, 5);
        assert!(score > 0.9, "{score}");
    }

    #[test]
    fn spliced_promo_barely_matters() {
        let spliced = ESSAY.replace(
            "</p><p>Engineers",
            " This newsletter is supported by readers; subscribe to get every post.</p><p>Engineers",
        );
        let score = containment(&set(ESSAY), &set(&spliced), 5);
        assert!(score > 0.75, "{score}");
    }

    #[test]
    fn unrelated_texts_do_not_match() {
        let other = set(
            "Sourdough needs a starter fed with flour and water for days before \
            the first loaf rises properly in a warm kitchen overnight.",
        );
        assert!(containment(&set(ESSAY), &other, 5) < 0.05);
    }

    #[test]
    #[expect(
        clippy::float_cmp,
        reason = "below the minimum size the answer is the literal 0.0, exact by construction"
    )]
    fn small_sets_say_nothing() {
        assert_eq!(
            containment(&set("a b c d e f"), &set("a b c d e f"), 5),
            0.0
        );
    }

    #[test]
    fn truncated_copies_share_their_prefix_anchors() {
        let full_words = words(&ESSAY.repeat(4));
        let full = anchors(&shingles(&full_words));
        let truncated = shingles(&full_words[..40]);
        let prefix: Vec<i64> = truncated
            .iter()
            .filter(|hash| *hash % ANCHOR_MODULUS == 0)
            .map(|hash| hash_to_sql(*hash))
            .collect();
        assert!(!prefix.is_empty());
        assert!(prefix.iter().all(|a| full.contains(a)));
        assert!(anchors(&truncated).len() <= PREFIX_ANCHORS + SKETCH_ANCHORS);
    }

    #[test]
    fn a_copy_behind_page_junk_still_shares_anchors() {
        let essay = ESSAY.repeat(6);
        let junk: String = (0..100).map(|i| format!("menu{i} ")).collect();
        let full = anchors(&shingles(&words(&essay)));
        let behind_junk = anchors(&shingles(&words(&format!("{junk}{essay}"))));
        let shared = behind_junk.iter().filter(|a| full.contains(a)).count();
        // One shared anchor is enough for the store to find the original; containment decides.
        assert!(shared >= 1, "{shared}");
    }

    #[test]
    fn a_shingle_is_both_halves_of_its_hash_folded() {
        // Every bit of the hash counts: hashes that differ only in their upper half differ as
        // shingles too.
        assert_eq!(shingle(0x0000_0001_0000_0000), 1);
        assert_eq!(shingle(0x0000_0000_0000_0001), 1);
        assert_ne!(
            shingle(0x0000_0002_0000_0001),
            shingle(0x0000_0000_0000_0001)
        );
        assert_eq!(shingle(u64::MAX), 0);
        assert_eq!(shingle(0xaf63_dc4c_8601_ec8c), 0xaf63_dc4c ^ 0x8601_ec8c);
    }

    #[test]
    fn hashes_are_stable() {
        // Anchors are stored: a change here silently breaks matching against old items.
        assert_eq!(
            shingles(&words("one two three four five")),
            vec![shingles(&words("ONE two, three; four five!"))[0]]
        );
        assert_eq!(fnv1a(b"a", FNV_OFFSET), 0xaf63_dc4c_8601_ec8c);
    }
}
