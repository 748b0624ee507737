//! Mirror dedupe: decides whether a new item is another copy of a stored story.
//!
//! The tiers, strongest first: the same canonical URL; the same normalised title within a time
//! window, unless the texts clearly disagree; near-identical text (shingle containment). The
//! first tier of the DESIGN (same source and guid) is an update, handled before an item ever
//! reaches the matcher. Everything here is pure: the store supplies candidates found through its
//! indexes, and [`decide`] picks among them, so the rules are tested on plain values.
//!
//! Guards against over-merging are part of the rules, not afterthoughts: a generic title
//! ("Open thread") never matches by title alone, and two titles whose numbers conflict
//! ("(#21)" and "(#22)") never match at all.

mod text;
mod title;
mod url;

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use crate::model::{Item, MatchReason};

pub use text::{anchors, containment, shingles, words};
pub use title::{is_generic, numbers, title_key};
pub use url::canonical_url;

/// Tunables, in the config's `[dedupe]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Two items with the same title key match only this close in time.
    pub title_window: Duration,
    /// Near-identical text matches only this close in time (a re-run a year later is new).
    pub content_window: Duration,
    /// Containment at or above which texts are the same work.
    pub content_threshold: f64,
    /// Containment below which two substantial texts "clearly disagree" and veto a title match.
    pub disagree_below: f64,
    /// Shingles a text needs before its containment is evidence.
    pub min_shingles: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            title_window: Duration::days(3),
            content_window: Duration::days(30),
            content_threshold: 0.5,
            disagree_below: 0.05,
            min_shingles: 20,
        }
    }
}

/// The indexed keys of an item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemKeys {
    pub canonical_url: Option<String>,
    pub title_key: Option<String>,
    /// Text anchors, for finding near-identical texts through an index.
    pub anchors: Vec<i64>,
}

/// What the matcher knows about the incoming item.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The feed the item came from.
    pub source: String,
    pub keys: ItemKeys,
    pub shingles: HashSet<u64>,
    pub published: DateTime<Utc>,
}

impl Probe {
    pub fn new(item: &Item, published: DateTime<Utc>) -> Probe {
        let shingle_list = item
            .body()
            .map(|body| shingles(&words(body)))
            .unwrap_or_default();
        let keys = ItemKeys {
            canonical_url: item.link.as_deref().and_then(canonical_url),
            title_key: title_key(&item.title),
            anchors: anchors(&shingle_list),
        };
        Probe {
            source: item.source.clone(),
            keys,
            shingles: shingle_list.into_iter().collect(),
            published,
        }
    }
}

/// A stored item that shares a key with the probe.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub item_id: i64,
    pub story_id: i64,
    /// The feed it came from.
    pub source: String,
    pub published: DateTime<Utc>,
    pub canonical_url: Option<String>,
    pub title_key: Option<String>,
    /// Sanitised HTML, for containment.
    pub body: Option<String>,
}

/// The matcher's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// No stored story is this work.
    New,
    /// The item belongs to `story_id`. `also` lists other stories the item matched: they are
    /// the same work too (the item bridges them) and fold into `story_id`.
    Join {
        story_id: i64,
        reason: MatchReason,
        score: f64,
        also: Vec<i64>,
    },
}

fn tier_rank(reason: MatchReason) -> u8 {
    match reason {
        MatchReason::Guid | MatchReason::Manual => 8,
        MatchReason::Url => 7,
        MatchReason::Link => 6,
        MatchReason::Title => 5,
        MatchReason::Content => 4,
        MatchReason::TitleContained => 3,
        MatchReason::Quotes => 2,
        MatchReason::New => 0,
    }
}

/// Two titles whose numbers are disjoint name different issues of a series. A number missing
/// from one side (a podcast's "Ep. 45" prefix) is no conflict.
fn numbers_conflict(a: Option<&str>, b: Option<&str>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return false;
    };
    let (a, b) = (numbers(a), numbers(b));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let subset = |x: &[&str], y: &[&str]| x.iter().all(|n| y.contains(n));
    !subset(&a, &b) && !subset(&b, &a)
}

/// How one candidate matches the probe, if it does.
pub fn match_candidate(
    probe: &Probe,
    candidate: &Candidate,
    thresholds: &Thresholds,
) -> Option<(MatchReason, f64)> {
    let probe_title = probe.keys.title_key.as_deref();
    let candidate_title = candidate.title_key.as_deref();
    // Different issues of a series are different works, whatever else they share (a page of
    // release notes with one anchor per version has one canonical URL for all of them).
    if numbers_conflict(probe_title, candidate_title) {
        return None;
    }
    // The candidate's shingles are computed at most once, and only if a tier needs them.
    let other: std::cell::OnceCell<HashSet<u64>> = std::cell::OnceCell::new();
    let candidate_shingles = || -> &HashSet<u64> {
        other.get_or_init(|| {
            candidate
                .body
                .as_deref()
                .map(|body| shingles(&words(body)).into_iter().collect())
                .unwrap_or_default()
        })
    };
    // Two texts with enough words on both sides that share almost nothing are different works.
    let disagree = |other: &HashSet<u64>, at_least: usize| {
        probe.shingles.len() >= at_least
            && other.len() >= at_least
            && containment(&probe.shingles, other, 1) < thresholds.disagree_below
    };

    if probe.keys.canonical_url.is_some() && probe.keys.canonical_url == candidate.canonical_url {
        // Two items of one feed under one link are two works: the feed links every item to a
        // page of its own (a show's home page, a changelog). The same item would share a guid.
        let same_feed = probe.source == candidate.source;
        // Under different headlines (or a generic one), a shared link is a claim the texts
        // must confirm when both sides have text to compare.
        let titles_agree =
            probe_title.is_some_and(|t| !is_generic(t)) && probe_title == candidate_title;
        let both_have_text = probe.shingles.len() >= thresholds.min_shingles
            && candidate_shingles().len() >= thresholds.min_shingles;
        let texts_confirm = || {
            containment(
                &probe.shingles,
                candidate_shingles(),
                thresholds.min_shingles,
            ) >= thresholds.content_threshold
        };
        if !same_feed && (titles_agree || !both_have_text || texts_confirm()) {
            return Some((MatchReason::Url, 1.0));
        }
    }

    let gap = (probe.published - candidate.published).abs();
    if let (Some(a), Some(b)) = (probe_title, candidate_title)
        && a == b
        && !is_generic(a)
        && gap <= thresholds.title_window
        && !disagree(candidate_shingles(), 3 * thresholds.min_shingles)
    {
        return Some((MatchReason::Title, 1.0));
    }

    if gap <= thresholds.content_window && probe.shingles.len() >= thresholds.min_shingles {
        let score = containment(
            &probe.shingles,
            candidate_shingles(),
            thresholds.min_shingles,
        );
        if score >= thresholds.content_threshold {
            return Some((MatchReason::Content, score));
        }
    }
    None
}

/// Picks the story an item joins: the strongest tier, then the highest score, then the oldest
/// story, so the verdict never depends on the order candidates were listed in.
pub fn decide(probe: &Probe, candidates: &[Candidate], thresholds: &Thresholds) -> Decision {
    let mut best_per_story: BTreeMap<i64, (MatchReason, f64)> = BTreeMap::new();
    for candidate in candidates {
        if let Some((reason, score)) = match_candidate(probe, candidate, thresholds) {
            let entry = best_per_story
                .entry(candidate.story_id)
                .or_insert((reason, score));
            if (tier_rank(reason), score) > (tier_rank(entry.0), entry.1) {
                *entry = (reason, score);
            }
        }
    }
    let Some((&story_id, &(reason, score))) = best_per_story.iter().max_by(|a, b| {
        let key = |(id, (reason, score)): (&i64, &(MatchReason, f64))| {
            (tier_rank(*reason), *score, std::cmp::Reverse(*id))
        };
        key(*a)
            .partial_cmp(&key(*b))
            .unwrap_or(std::cmp::Ordering::Equal)
    }) else {
        return Decision::New;
    };
    // The surviving story is the oldest one matched, so a story's id, once issued, stays.
    let oldest = *best_per_story.keys().next().unwrap_or(&story_id);
    let also = best_per_story
        .keys()
        .copied()
        .filter(|id| *id != oldest)
        .collect();
    Decision::Join {
        story_id: oldest,
        reason,
        score,
        also,
    }
}

#[cfg(test)]
mod tests;
