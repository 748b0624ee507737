//! The dedupe matcher measured on a labelled set of item pairs
//! (`tests/fixtures/dedupe_pairs.json`): precision and recall, per category, with every
//! misclassified pair listed.
//!
//! Each pair is two items and a human verdict: `same` (b is a mirror of a: a tracking-parameter
//! link, a retitled or truncated copy, a podcast voiceover, an aggregator copy, an episode with
//! only a title) or `different` (`hard` marks the near misses: numbered series issues sharing an
//! intro, generic titles, rewrites quoting a sentence, listings naming the essay, follow-ups,
//! reused headlines). Every text in the set was written for it.
//!
//! The matcher is asked the question the store asks when b arrives and a is stored: a becomes a
//! `Candidate` exactly as `Store::candidates` builds one (canonical URL and title key from a's
//! keys, a's content as the body), b becomes a `Probe`, and `decide` rules with the default
//! thresholds. The floors below are what the matcher reaches today; raise them as it improves,
//! never lower them to let a regression through.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tributary::dedupe::{
    Candidate, Decision, Decorations, Probe, Shingle, Sorted, Thresholds, containment, decide,
    shingle, shingles, words,
};
use tributary::model::{Item, ItemKind, MatchReason, Role};

/// Precision the matcher must keep on the set: of the pairs it joins, the share that are the
/// same work. The set was written before the matcher learned its last rules (roundup title
/// prefixes, episode-number prefixes, a shared URL over different headlines and texts, number
/// conflicts before the URL tier), which raised it from 0.933 to 1.0; the floor leaves room for
/// one false join.
const PRECISION_FLOOR: f64 = 0.97;
/// Recall the matcher must keep: of the pairs that are the same work, the share it joins
/// (0.986 before the episode-prefix rule, 1.0 after).
const RECALL_FLOOR: f64 = 0.95;

/// Floors for the second set, a little under what the matcher measures on it now.
const HOLDOUT_PRECISION_FLOOR: f64 = 0.95;
const HOLDOUT_RECALL_FLOOR: f64 = 0.95;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pair {
    id: String,
    label: Label,
    hard: bool,
    why: String,
    a: Side,
    b: Side,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Label {
    Same,
    Different,
}

impl Label {
    fn as_str(self) -> &'static str {
        match self {
            Label::Same => "same",
            Label::Different => "different",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Side {
    title: String,
    link: Option<String>,
    body_html: Option<String>,
    published: DateTime<Utc>,
}

impl Pair {
    /// The id without its running number: `series-03` is in category `series`.
    fn category(&self) -> &str {
        self.id
            .rsplit_once('-')
            .filter(|(_, n)| n.chars().all(|c| c.is_ascii_digit()))
            .map_or(self.id.as_str(), |(category, _)| category)
    }
}

fn load(file: &str) -> Vec<Pair> {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

fn item(side: &Side, source: &str, pair_id: &str) -> Item {
    Item {
        source: source.to_owned(),
        guid: format!("{pair_id}/{source}"),
        link: side.link.clone(),
        title: side.title.clone(),
        authors: vec![],
        published: Some(side.published),
        updated: None,
        summary: None,
        content: side.body_html.clone(),
        categories: vec![],
        kind: ItemKind::Post,
        enclosure: None,
        duration: None,
        image: None,
        podcast: Default::default(),
    }
}

/// What the matcher says about one pair, with the numbers behind it for the report.
struct Verdict {
    joined: Option<(MatchReason, f64)>,
    /// Containment of b's shingles against a's, whatever the tier (0 when a text is tiny).
    containment: f64,
    shingles: (usize, usize),
    title_keys: (Option<String>, Option<String>),
}

fn judge(pair: &Pair, thresholds: &Thresholds) -> Verdict {
    let a = item(&pair.a, "a", &pair.id);
    let b = item(&pair.b, "b", &pair.id);
    // Both sides as origin items of two feeds: the set was written before roles, and its
    // pairs are judged on their texts and titles alone.
    let candidate = Candidate::alone(1, 1, &a, &a.source, Role::Origin, pair.a.published);
    let candidate_title = candidate.title_keys.first().cloned();
    let probe = Probe::new(
        &b,
        Role::Origin,
        pair.b.published,
        &Decorations::default(),
        &HashSet::new(),
    );
    let joined = match decide(&probe, &[candidate], thresholds) {
        Decision::Join { reason, score, .. } => Some((reason, score)),
        Decision::New => None,
    };
    let a_shingles: HashSet<Shingle> = a
        .body()
        .map(|body| shingles(&words(body)).into_iter().map(shingle).collect())
        .unwrap_or_default();
    Verdict {
        joined,
        containment: containment(&Sorted(&probe.shingles), &a_shingles, 1),
        shingles: (a_shingles.len(), probe.shingles.len()),
        title_keys: (candidate_title, probe.keys.title_key),
    }
}

#[derive(Default)]
struct Tally {
    pairs: usize,
    joined: usize,
    wrong: usize,
}

#[test]
fn matcher_precision_and_recall_on_labelled_pairs() {
    let (precision, recall) = evaluate("dedupe_pairs.json", 120);
    assert!(
        precision >= PRECISION_FLOOR,
        "precision {precision:.3} < {PRECISION_FLOOR}"
    );
    assert!(
        recall >= RECALL_FLOOR,
        "recall {recall:.3} < {RECALL_FLOOR}"
    );
}

/// Evaluates one labelled set, prints its table and misses, and returns (precision, recall).
fn evaluate(file: &str, min_pairs: usize) -> (f64, f64) {
    let pairs = load(file);
    let thresholds = Thresholds::default();

    // The set itself: big enough, hard enough, and every id unique.
    let hard_negatives = pairs
        .iter()
        .filter(|p| p.label == Label::Different && p.hard)
        .count();
    assert!(pairs.len() >= min_pairs, "{file}: {} pairs", pairs.len());
    assert!(
        hard_negatives * 3 >= pairs.len(),
        "{hard_negatives} hard negatives of {}",
        pairs.len()
    );
    let ids: HashSet<&str> = pairs.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids.len(), pairs.len(), "pair ids are unique");

    let (mut tp, mut fp, mut fn_, mut tn) = (0usize, 0usize, 0usize, 0usize);
    let mut by_category: BTreeMap<(Label, &str), Tally> = BTreeMap::new();
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let mut misses = Vec::new();
    for pair in &pairs {
        let verdict = judge(pair, &thresholds);
        let joined = verdict.joined.is_some();
        let correct = joined == (pair.label == Label::Same);
        match (pair.label, joined) {
            (Label::Same, true) => tp += 1,
            (Label::Same, false) => fn_ += 1,
            (Label::Different, true) => fp += 1,
            (Label::Different, false) => tn += 1,
        }
        if let Some((reason, _)) = verdict.joined {
            *reasons.entry(reason.as_str()).or_default() += 1;
        }
        let tally = by_category
            .entry((pair.label, pair.category()))
            .or_default();
        tally.pairs += 1;
        tally.joined += usize::from(joined);
        tally.wrong += usize::from(!correct);
        if !correct {
            misses.push((pair, verdict));
        }
    }

    let ratio = |num: usize, den: usize| {
        if den == 0 {
            1.0
        } else {
            num as f64 / den as f64
        }
    };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);

    eprintln!(
        "\ndedupe evaluation of {file}: {} pairs ({} same, {} different, {hard_negatives} hard negatives)",
        pairs.len(),
        tp + fn_,
        fp + tn
    );
    eprintln!(
        "{:<10} {:<20} {:>5} {:>7} {:>6}",
        "label", "category", "pairs", "joined", "wrong"
    );
    for ((label, category), tally) in &by_category {
        eprintln!(
            "{:<10} {:<20} {:>5} {:>7} {:>6}",
            label.as_str(),
            category,
            tally.pairs,
            tally.joined,
            tally.wrong
        );
    }
    eprintln!("joined by tier: {reasons:?}");
    eprintln!("tp {tp}  fp {fp}  fn {fn_}  tn {tn}  precision {precision:.3}  recall {recall:.3}");
    if !misses.is_empty() {
        eprintln!("\nmisclassified ({}):", misses.len());
    }
    for (pair, verdict) in &misses {
        let outcome = match verdict.joined {
            Some((reason, score)) => format!("joined by {} ({score:.2})", reason.as_str()),
            None => "kept apart".to_owned(),
        };
        eprintln!(
            "  {} [{}{}] {outcome}: {}\n      containment {:.2}, shingles a {} / b {}, title keys {:?} / {:?}",
            pair.id,
            pair.label.as_str(),
            if pair.hard { ", hard" } else { "" },
            pair.why,
            verdict.containment,
            verdict.shingles.0,
            verdict.shingles.1,
            verdict.title_keys.0,
            verdict.title_keys.1,
        );
    }
    (precision, recall)
}

/// A second set, written by someone who had not seen the matcher's rules. Measured blind, the
/// matcher scored precision 0.925 and recall 0.925 on it; two general rules added after that
/// (a shared link under different headlines needs the texts to agree; "(narrated)"-style
/// medium labels) raised both to 0.975, so it is no longer fully held out.
#[test]
fn matcher_precision_and_recall_on_held_out_pairs() {
    let (precision, recall) = evaluate("dedupe_holdout.json", 80);
    assert!(
        precision >= HOLDOUT_PRECISION_FLOOR,
        "precision {precision:.3}"
    );
    assert!(recall >= HOLDOUT_RECALL_FLOOR, "recall {recall:.3}");
}
