//! Title keys: the same headline however a site decorated it.
//!
//! Site suffixes (" | Site", " - Podcast") and prefixes ("Podcast: ") are stripped by rule
//! tables; numbers are kept, because "(#21)" and "(#22)" are different issues of a series.

/// Separators after which a short tail names the site, not the work.
const SUFFIX_SEPARATORS: &[&str] = &[" | ", " - ", " — ", " – ", " :: ", " · "];

/// A tail after a separator is taken as a site name only when it is this short.
const MAX_SUFFIX_WORDS: usize = 4;

/// Prefixes that label the medium rather than name the work.
const MEDIUM_PREFIXES: &[&str] = &[
    "podcast:",
    "audio:",
    "episode:",
    "[podcast]",
    "(podcast)",
    "voiceover:",
    "listen:",
    "audio edition:",
    "audio version:",
    "narrated:",
    "[audio]",
    "(audio)",
];

/// Leading episode numbers ("Ep. 7:", "Episode 12 -", "#31 |") that a podcast feed puts before
/// the headline its post carries bare.
static EPISODE_PREFIX: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^(?:episode|ep\.?|no\.?|#)\s*\d+\s*[:\-–—|.]\s*")
        .expect("the episode prefix pattern is valid")
});

/// Suffixes that label the medium.
const MEDIUM_SUFFIXES: &[&str] = &[
    "(podcast)",
    "[podcast]",
    "(audio)",
    "[audio]",
    "(voiceover)",
    "(narrated)",
    "(audio edition)",
    "(audio version)",
    "(read aloud)",
];

/// Openings of recurring roundups ("Links for the week of ...", "What I'm reading"): every
/// issue has one, so a match on them proves nothing.
const GENERIC_PREFIXES: &[&str] = &[
    "links for",
    "link roundup",
    "what i m reading",
    "what i read",
    "reading list",
    "year in review",
    "week in review",
    "month in review",
    "this week in",
    "weekly roundup",
    "weekly links",
    "monthly roundup",
    "friday links",
    "sunday links",
    "open thread",
    "news roundup",
];

/// Titles that many unrelated posts share; a match on one of these proves nothing.
const GENERIC_TITLES: &[&str] = &[
    "open thread",
    "weekly roundup",
    "weekly round up",
    "links",
    "link roundup",
    "weekly links",
    "news",
    "newsletter",
    "podcast",
    "episode",
    "update",
    "updates",
    "announcement",
    "untitled",
    "no title",
    "mailbag",
    "ama",
    "friday links",
    "sunday reading",
    "this week",
    "notes",
];

/// The normalised title, or `None` when nothing meaningful is left.
pub fn title_key(title: &str) -> Option<String> {
    let mut text = title.trim().to_lowercase();
    loop {
        let before = text.len();
        for prefix in MEDIUM_PREFIXES {
            if let Some(rest) = text.strip_prefix(prefix) {
                text = rest.trim_start().to_owned();
            }
        }
        if let Some(found) = EPISODE_PREFIX.find(&text) {
            text = text[found.end()..].to_owned();
        }
        for suffix in MEDIUM_SUFFIXES {
            if let Some(rest) = text.strip_suffix(suffix) {
                text = rest.trim_end().to_owned();
            }
        }
        if let Some(cut) = site_suffix_start(&text) {
            text.truncate(cut);
        }
        if text.len() == before {
            break;
        }
    }
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    if words.is_empty() {
        None
    } else {
        Some(words.join(" "))
    }
}

/// Where a trailing " | Site Name" starts, if the title has one.
fn site_suffix_start(text: &str) -> Option<usize> {
    let (cut, separator) = SUFFIX_SEPARATORS
        .iter()
        .filter_map(|sep| text.rfind(sep).map(|at| (at, *sep)))
        .max_by_key(|(at, _)| *at)?;
    let tail = &text[cut + separator.len()..];
    let head = &text[..cut];
    let tail_words = tail.split_whitespace().count();
    // Keep the tail when it is long (it is part of the headline) or when the head alone would
    // be too short to be a headline.
    (tail_words <= MAX_SUFFIX_WORDS && head.split_whitespace().count() >= 2).then_some(cut)
}

/// Whether a title key is too common or too short to identify a work by itself.
pub fn is_generic(key: &str) -> bool {
    let without_numbers: Vec<&str> = key
        .split(' ')
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let core = without_numbers.join(" ");
    without_numbers.len() < 3
        || GENERIC_TITLES.contains(&core.as_str())
        || GENERIC_PREFIXES
            .iter()
            .any(|prefix| core.starts_with(prefix))
}

/// The numbers in a title ("#21", "2026", "5.2"): two titles with different numbers are
/// different issues of a series, whatever else they share.
pub fn numbers(key: &str) -> Vec<&str> {
    key.split(' ')
        .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decorations_are_stripped() {
        let cases = [
            (
                "My bets on open models, mid-2026",
                "my bets on open models mid 2026",
            ),
            (
                "My bets on open models, mid-2026 | AI News",
                "my bets on open models mid 2026",
            ),
            (
                "My Bets on Open Models, Mid-2026 - Interconnects Podcast",
                "my bets on open models mid 2026",
            ),
            (
                "Podcast: My bets on open models, mid-2026",
                "my bets on open models mid 2026",
            ),
            (
                "My bets on open models, mid-2026 (Podcast)",
                "my bets on open models mid 2026",
            ),
            ("  Hello — World  ", "hello world"),
            (
                "Ep. 7: Why hand washing took so long",
                "why hand washing took so long",
            ),
            (
                "Episode 12 - Why hand washing took so long",
                "why hand washing took so long",
            ),
        ];
        for (title, key) in cases {
            assert_eq!(title_key(title).as_deref(), Some(key), "{title}");
        }
    }

    #[test]
    fn long_tails_are_part_of_the_headline() {
        assert_eq!(
            title_key("Open models - what comes next for the ecosystem and its funding").as_deref(),
            Some("open models what comes next for the ecosystem and its funding")
        );
    }

    #[test]
    fn series_numbers_survive() {
        let a = title_key("Latest open artifacts (#21): Open model bonanza!").expect("key");
        let b = title_key("Latest open artifacts (#22): Zyphra and friends").expect("key");
        assert_ne!(a, b);
        assert_eq!(numbers(&a), vec!["21"]);
    }

    #[test]
    fn generic_titles_are_recognised() {
        for title in [
            "Open thread",
            "Weekly Roundup #12",
            "Links",
            "Notes",
            "AMA",
            "Links for the week",
            "What I'm reading this week",
            "Year in review 2025",
        ] {
            let key = title_key(title).expect("key");
            assert!(is_generic(&key), "{title}");
        }
        let key = title_key("My bets on open models, mid-2026").expect("key");
        assert!(!is_generic(&key));
    }

    #[test]
    fn empty_titles_have_no_key() {
        assert_eq!(title_key(""), None);
        assert_eq!(title_key(" -- | "), None);
    }
}
