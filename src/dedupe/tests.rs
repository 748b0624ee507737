use chrono::TimeZone;

use std::collections::HashSet;
use std::sync::Arc;

use super::*;
use crate::model::{ItemKind, MemberRole};

fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, d, 12, 0, 0)
        .single()
        .expect("valid date")
}

const ESSAY: &str = "<p>Lighthouses were once kept by families who lived at the foot of the \
    tower and climbed it every evening to trim the wick.</p><p>Automation arrived slowly: first \
    clockwork that turned the lens, then electric lamps, then sensors that switched the light on \
    at dusk without anyone present.</p><p>The last keepers left in the nineteen nineties, and \
    many towers became museums where visitors climb the same stairs for the view.</p>";

/// An essay dense in names, and a summary of it in other words: they share most meaningful
/// words and few shingles.
const KEEPERS_NOTES_ESSAY: &str = "<p>Lighthouse keepers trimmed wicks nightly, logged storms \
    in diaries, and polished Fresnel lenses. Automation replaced keepers with clockwork rotation, \
    electric lamps, photocells and radio beacons. Museums now occupy towers at Cape Hatteras, \
    Portland Head and Split Rock, where visitors climb spiral stairs.</p>";
const KEEPERS_SUMMARY: &str = "<p>Keepers once trimmed wicks and polished Fresnel lenses and \
    kept storm diaries; clockwork rotation, electric lamps, photocells and radio beacons replaced \
    them. Towers at Cape Hatteras, Portland Head and Split Rock became museums with spiral \
    stairs.</p>";

const OTHER_ESSAY: &str = "<p>Sourdough starts with a jar of flour and water left on the \
    counter until wild yeast settles in and the mixture smells faintly of apples.</p><p>Bakers \
    feed it daily, discard half, and learn its rhythm the way gardeners learn the weather in \
    their own valley over many seasons.</p><p>A healthy starter doubles within hours and can \
    outlive the baker who began it decades ago.</p>";

fn item(title: &str, link: Option<&str>, body: Option<&str>) -> Item {
    Item {
        source: "test".into(),
        guid: title.into(),
        link: link.map(str::to_owned),
        title: title.into(),
        authors: vec![],
        published: None,
        updated: None,
        summary: None,
        content: body.map(str::to_owned),
        categories: vec![],
        kind: ItemKind::Post,
        enclosure: None,
        duration: None,
        image: None,
        podcast: Default::default(),
    }
}

fn probe(item: &Item, role: Role, published: DateTime<Utc>) -> Probe {
    Probe::new(
        item,
        role,
        published,
        &Decorations::default(),
        &HashSet::new(),
    )
}

/// A stored item from a feed of its own (`feed-N` for story N), alone in its story.
fn candidate_as(story_id: i64, item: &Item, published: DateTime<Utc>, role: Role) -> Candidate {
    Candidate::alone(
        story_id * 10,
        story_id,
        item,
        &format!("feed-{story_id}"),
        role,
        published,
    )
}

fn verdict_as(
    new: &Item,
    role: Role,
    at: DateTime<Utc>,
    stored: &[(i64, &Item, DateTime<Utc>, Role)],
) -> Decision {
    let candidates: Vec<_> = stored
        .iter()
        .map(|(story, item, when, role)| candidate_as(*story, item, *when, *role))
        .collect();
    decide(&probe(new, role, at), &candidates, &Thresholds::default())
}

/// Origin items all round, as the first matcher knew them.
fn verdict(new: &Item, at: DateTime<Utc>, stored: &[(i64, &Item, DateTime<Utc>)]) -> Decision {
    let stored: Vec<_> = stored
        .iter()
        .map(|(story, item, when)| (*story, *item, *when, Role::Origin))
        .collect();
    verdict_as(new, Role::Origin, at, &stored)
}

fn joined(decision: &Decision) -> Option<(i64, MatchReason)> {
    match decision {
        Decision::Join {
            story_id, reason, ..
        } => Some((*story_id, *reason)),
        Decision::New => None,
    }
}

/// The story joined, the evidence and what the item is to the work.
fn joined_as(decision: &Decision) -> Option<(i64, MatchReason, MemberRole)> {
    match decision {
        Decision::Join {
            story_id,
            reason,
            member_role,
            ..
        } => Some((*story_id, *reason, *member_role)),
        Decision::New => None,
    }
}

#[test]
fn same_canonical_url_joins() {
    let post = item("Keepers", Some("https://lights.example/p/keepers"), None);
    let mirror = item(
        "Something else entirely",
        Some("http://www.lights.example/p/keepers/?utm_source=rss"),
        None,
    );
    let decision = verdict(&mirror, day(20), &[(1, &post, day(1))]);
    assert_eq!(joined(&decision), Some((1, MatchReason::Url)));
}

#[test]
fn same_title_within_window_joins_and_outside_does_not() {
    let post = item(
        "The last lighthouse keepers",
        Some("https://a.example/1"),
        Some(ESSAY),
    );
    let episode = item(
        "The Last Lighthouse Keepers - Lights Podcast",
        Some("https://b.example/ep/1"),
        None,
    );
    assert_eq!(
        joined(&verdict(&episode, day(2), &[(1, &post, day(1))])),
        Some((1, MatchReason::Title))
    );
    assert_eq!(
        joined(&verdict(&episode, day(9), &[(1, &post, day(1))])),
        None
    );
}

#[test]
fn same_title_with_clearly_different_texts_stays_apart() {
    let a = item(
        "The last lighthouse keepers",
        Some("https://a.example/1"),
        Some(ESSAY),
    );
    let b = item(
        "The last lighthouse keepers",
        Some("https://b.example/2"),
        Some(&OTHER_ESSAY.repeat(3)),
    );
    let a = Item {
        content: Some(ESSAY.repeat(3)),
        ..a
    };
    assert_eq!(joined(&verdict(&b, day(1), &[(1, &a, day(1))])), None);
}

#[test]
fn generic_titles_never_join_by_title() {
    let a = item("Open thread", Some("https://a.example/1"), Some(ESSAY));
    let b = item(
        "Open Thread",
        Some("https://b.example/2"),
        Some(OTHER_ESSAY),
    );
    assert_eq!(joined(&verdict(&b, day(1), &[(1, &a, day(1))])), None);
    let c = item("Open thread", Some("https://b.example/3"), None);
    assert_eq!(joined(&verdict(&c, day(1), &[(1, &a, day(1))])), None);
}

#[test]
fn retitled_truncated_mirror_joins_by_content() {
    let post = item(
        "The last lighthouse keepers",
        Some("https://a.example/1"),
        Some(ESSAY),
    );
    let truncated: String = ESSAY.chars().take(260).collect::<String>() + "...";
    let mirror = item(
        "Why nobody keeps lighthouses anymore",
        Some("https://curation.example/x"),
        Some(&truncated),
    );
    let decision = verdict(&mirror, day(3), &[(1, &post, day(1))]);
    assert_eq!(joined(&decision), Some((1, MatchReason::Content)));
}

#[test]
fn numbered_series_never_join() {
    let intro = "<p>Every month this series rounds up the open models, datasets and papers \
        worth a look, with short notes on each one and links to try them yourself.</p>";
    let a = item(
        "Latest open artifacts (#21): bonanza",
        Some("https://a.example/21"),
        Some(intro),
    );
    let b = item(
        "Latest open artifacts (#22): more",
        Some("https://a.example/22"),
        Some(intro),
    );
    assert_eq!(joined(&verdict(&b, day(2), &[(1, &a, day(1))])), None);
}

#[test]
fn a_rewrite_that_quotes_stays_apart() {
    let post = item(
        "The last lighthouse keepers",
        Some("https://a.example/1"),
        Some(ESSAY),
    );
    let rewrite = item(
        "Writer reflects on automated lighthouses",
        Some("https://news.example/story"),
        Some(&format!(
            "<p>In a new essay, the author recalls that \"the last keepers left in the \
             nineteen nineties\". {OTHER_ESSAY} The piece argues museums kept the towers alive, \
             and readers responded with stories of their own visits and memories.</p>"
        )),
    );
    assert_eq!(
        joined(&verdict(&rewrite, day(2), &[(1, &post, day(1))])),
        None
    );
}

#[test]
fn bridging_item_folds_stories_into_the_oldest() {
    let post = item("Keepers", Some("https://a.example/p/keepers"), Some(ESSAY));
    let mirror = item(
        "Lighthouse keepers, a history",
        Some("https://m.example/1"),
        Some(ESSAY),
    );
    let decision = verdict_as(
        &post,
        Role::Origin,
        day(1),
        &[
            (7, &mirror, day(1), Role::Mirror),
            (3, &post, day(1), Role::Origin),
        ],
    );
    match decision {
        Decision::Join {
            story_id,
            reason,
            also,
            ..
        } => {
            assert_eq!(story_id, 3);
            assert_eq!(reason, MatchReason::Url);
            assert_eq!(also, vec![7]);
        }
        Decision::New => panic!("should join"),
    }
}

#[test]
fn verdict_does_not_depend_on_candidate_order() {
    let post = item("Keepers", Some("https://a.example/p/keepers"), Some(ESSAY));
    let mirror = item("Keepers again", Some("https://m.example/1"), Some(ESSAY));
    let forward = verdict(&post, day(1), &[(2, &mirror, day(1)), (5, &post, day(1))]);
    let backward = verdict(&post, day(1), &[(5, &post, day(1)), (2, &mirror, day(1))]);
    assert_eq!(forward, backward);
}

#[test]
fn numbers_conflict_only_when_disjoint() {
    assert!(numbers_conflict("issue 21", "issue 22"));
    assert!(!numbers_conflict("ep 45 bets 2026", "bets 2026"));
    assert!(!numbers_conflict("bets", "bets 2026"));
    // A model's name against an episode number: no conflict; a name against a name is one.
    assert!(!numbers_conflict(
        "o3 and the next leap in reasoning",
        "no priors ep 113 with eric mitchell"
    ));
    assert!(numbers_conflict(
        "o3 and the next leap",
        "o4 and the next leap"
    ));
    assert!(numbers_conflict("o3 ep 12", "o3 ep 13"));
}

#[test]
fn one_feed_linking_many_items_to_one_page_does_not_merge_them() {
    let a = item(
        "Fermenting at home",
        Some("https://show.example/podcast"),
        None,
    );
    let b = item(
        "The economics of a bakery",
        Some("https://show.example/podcast"),
        None,
    );
    let probe = probe(&b, Role::Origin, day(8));
    let same_feed = Candidate::alone(10, 1, &a, &b.source, Role::Origin, day(1));
    assert_eq!(
        decide(&probe, &[same_feed], &Thresholds::default()),
        Decision::New
    );
}

#[test]
fn a_shared_link_under_different_headlines_needs_the_texts_to_agree() {
    let footer = " <p>This show is supported by listeners like you; become a member to hear \
        every episode early and without ads, and tell a friend about us.</p>";
    let a = item(
        "The people who name hurricanes",
        Some("https://show.example/"),
        Some(&format!("{ESSAY}{footer}")),
    );
    let b = item(
        "Fog",
        Some("https://show.example/"),
        Some(&format!("{OTHER_ESSAY}{footer}")),
    );
    assert_eq!(joined(&verdict(&b, day(2), &[(1, &a, day(1))])), None);
    let retitled = item(
        "Why nobody keeps lighthouses",
        Some("https://show.example/"),
        Some(ESSAY),
    );
    assert_eq!(
        joined(&verdict(&retitled, day(2), &[(1, &a, day(1))])),
        Some((1, MatchReason::Url))
    );
}

const SUMMARY: &str = "<p>A short history of how lighthouse keeping became automated, told \
    through the families who worked the towers, with a look at what visitors find there now and \
    why the job disappeared so quickly once machines could do it.</p>";

#[test]
fn a_mirror_summary_joins_by_title_though_its_text_is_its_own() {
    let post = item(
        "The last lighthouse keepers",
        Some("https://a.example/1"),
        Some(&ESSAY.repeat(3)),
    );
    let summary = item(
        "The last lighthouse keepers",
        Some("https://digest.example/2"),
        Some(&OTHER_ESSAY.repeat(3)),
    );
    let decision = verdict_as(
        &summary,
        Role::Mirror,
        day(3),
        &[(1, &post, day(1), Role::Origin)],
    );
    assert_eq!(joined(&decision), Some((1, MatchReason::Title)));
    let Decision::Join { member_role, .. } = decision else {
        unreachable!()
    };
    assert_eq!(member_role, MemberRole::Summary);
    // Two origin feeds with that title and those texts are two works.
    assert_eq!(
        joined(&verdict(&summary, day(3), &[(1, &post, day(1))])),
        None
    );
}

#[test]
fn decorated_titles_join_once_the_writers_names_are_known() {
    let post = item(
        "Lighthouses after the keepers left",
        Some("https://a.example/1"),
        Some(ESSAY),
    );
    let decorated = item(
        "Lighthouses after the keepers left - by Ada Wick - Coastlines",
        Some("https://b.example/x"),
        Some(SUMMARY),
    );
    let colon = item(
        "Wick: Lighthouses after the keepers left",
        Some("https://c.example/y"),
        Some(SUMMARY),
    );
    let decorations = Decorations::new(["Ada Wick", "Coastlines"]);
    for mirror in [&decorated, &colon] {
        let probe = Probe::new(mirror, Role::Mirror, day(2), &decorations, &HashSet::new());
        let stored = candidate_as(1, &post, day(1), Role::Origin);
        assert_eq!(
            joined(&decide(&probe, &[stored], &Thresholds::default())),
            Some((1, MatchReason::Title)),
            "{}",
            mirror.title
        );
    }
}

#[test]
fn a_mirror_title_containing_the_whole_title_joins_but_an_origin_one_does_not() {
    let post = item(
        "Why lighthouse keepers kept diaries",
        Some("https://a.example/1"),
        Some(ESSAY),
    );
    let news = item(
        "Historian explains why lighthouse keepers kept diaries for a century",
        Some("https://news.example/1"),
        Some(SUMMARY),
    );
    let as_mirror = verdict_as(
        &news,
        Role::Mirror,
        day(2),
        &[(1, &post, day(1), Role::Origin)],
    );
    assert_eq!(joined(&as_mirror), Some((1, MatchReason::TitleContained)));
    let Decision::Join { member_role, .. } = as_mirror else {
        unreachable!()
    };
    assert_eq!(member_role, MemberRole::Coverage);
    assert_eq!(joined(&verdict(&news, day(2), &[(1, &post, day(1))])), None);
}

/// A rewrite in its own words around passages of `ESSAY` quoted word for word.
fn rewrite(quotes: &[&str]) -> Item {
    let mut body = String::from(
        "<p>A maritime historian's new essay is making the rounds among people who care about \
         coastal heritage and the machines that replaced a way of life.</p>",
    );
    for quote in quotes {
        body.push_str(&format!(
            "<p>The author writes that \"{quote}\", a point she returns to often.</p>"
        ));
    }
    item(
        "Historian revisits an automated coast",
        Some("https://news.example/r"),
        Some(&body),
    )
}

#[test]
fn several_quoted_passages_make_coverage_and_one_does_not() {
    let post = item("Keepers", Some("https://a.example/1"), Some(ESSAY));
    let stored = [(1, &post, day(1), Role::Origin)];
    let two = rewrite(&[
        "first clockwork that turned the lens, then electric lamps",
        "many towers became museums where visitors climb the same stairs",
    ]);
    let decision = verdict_as(&two, Role::Mirror, day(2), &stored);
    assert_eq!(joined(&decision), Some((1, MatchReason::Quotes)));
    let one = rewrite(&["first clockwork that turned the lens, then electric lamps"]);
    assert_eq!(
        joined(&verdict_as(&one, Role::Mirror, day(2), &stored)),
        None
    );
    // A week later two quotations are a look back, not coverage of the news; a retelling
    // weeks later that quotes three passages is about the work, though not a season later.
    assert_eq!(
        joined(&verdict_as(&two, Role::Mirror, day(20), &stored)),
        None
    );
    let three = rewrite(&[
        "first clockwork that turned the lens, then electric lamps",
        "many towers became museums where visitors climb the same stairs",
        "kept by families who lived at the foot of the tower",
    ]);
    assert_eq!(
        joined(&verdict_as(&three, Role::Mirror, day(20), &stored)),
        Some((1, MatchReason::Quotes))
    );
    let season_later = day(1) + Duration::days(60);
    assert_eq!(
        joined(&verdict_as(&three, Role::Mirror, season_later, &stored)),
        None
    );
}

#[test]
fn a_story_never_takes_a_second_item_of_one_feed() {
    let post = item("Keepers", Some("https://a.example/p/keepers"), Some(ESSAY));
    let mut stored = candidate_as(1, &post, day(1), Role::Mirror);
    // The story already holds an item of the probe's feed (through another member).
    stored.story = Arc::new(StoryFacts {
        has_origin: false,
        sources: vec!["feed-1".into(), "test".into()],
        pinned: false,
    });
    let probe = probe(&post, Role::Origin, day(1));
    assert_eq!(
        decide(&probe, &[stored], &Thresholds::default()),
        Decision::New
    );
}

#[test]
fn an_item_matching_two_origin_stories_joins_the_better_and_folds_neither() {
    let post = item(
        "The last lighthouse keepers",
        Some("https://a.example/1"),
        Some(ESSAY),
    );
    let other = item(
        "Sourdough starters",
        Some("https://b.example/2"),
        Some(OTHER_ESSAY),
    );
    // A copy of the essay that also quotes the sourdough post.
    let copy = item(
        "Keepers, reposted",
        Some("https://m.example/3"),
        Some(&format!("{ESSAY}{OTHER_ESSAY}")),
    );
    let decision = verdict_as(
        &copy,
        Role::Mirror,
        day(2),
        &[
            (1, &post, day(1), Role::Origin),
            (2, &other, day(1), Role::Origin),
        ],
    );
    // Both texts are wholly inside the copy: it cannot tell which work it is.
    assert_eq!(decision, Decision::New);

    let cut = item(
        "Keepers, reposted",
        Some("https://m.example/3"),
        Some(&format!(
            "{ESSAY}<p>Sourdough starts with a jar of flour and water left</p>"
        )),
    );
    let decision = verdict_as(
        &cut,
        Role::Mirror,
        day(2),
        &[
            (1, &post, day(1), Role::Origin),
            (2, &other, day(1), Role::Origin),
        ],
    );
    match decision {
        Decision::Join { story_id, also, .. } => {
            assert_eq!(story_id, 1);
            assert!(also.is_empty(), "{also:?}");
        }
        Decision::New => panic!("the copy should join the essay"),
    }
}

#[test]
fn two_anchors_on_one_page_are_two_posts() {
    let a = item(
        "",
        Some("http://scripting.example/2017/06/21.html#a060647"),
        Some(ESSAY),
    );
    let b = item(
        "",
        Some("http://scripting.example/2017/06/21.html#a060611"),
        None,
    );
    assert_eq!(
        joined(&verdict_as(
            &b,
            Role::Mirror,
            day(1),
            &[(1, &a, day(1), Role::Origin)]
        )),
        None
    );
    let same = item(
        "",
        Some("https://scripting.example/2017/06/21.html#a060647"),
        None,
    );
    assert_eq!(
        joined(&verdict_as(
            &same,
            Role::Mirror,
            day(1),
            &[(1, &a, day(1), Role::Origin)]
        )),
        Some((1, MatchReason::Url))
    );
}

#[test]
fn one_audio_file_in_two_directories_is_one_episode() {
    let episode = |title: &str, link: &str, audio: &str| Item {
        kind: ItemKind::Episode,
        enclosure: Some(crate::model::Enclosure {
            url: audio.into(),
            mime_type: Some("audio/mpeg".into()),
            length: None,
        }),
        ..item(title, Some(link), Some(SUMMARY))
    };
    let a = episode(
        "Keepers (with Ada Wick)",
        "https://dir-a.example/e/1",
        "https://cdn.example/keepers.mp3",
    );
    let b = episode(
        "The keepers episode",
        "https://dir-b.example/9",
        "https://dts.podtrac.com/redirect.mp3/cdn.example/keepers.mp3",
    );
    assert_eq!(
        joined(&verdict_as(
            &b,
            Role::Mirror,
            day(2),
            &[(1, &a, day(1), Role::Mirror)]
        )),
        Some((1, MatchReason::Audio))
    );
}

#[test]
fn a_summary_in_its_own_words_joins_the_work_it_names_only_when_clearly_ahead() {
    let essay = KEEPERS_NOTES_ESSAY;
    let sourdough = "<p>Sourdough starters ferment rye flour with wild yeast and lactobacilli; \
        bakers discard half daily, watch bubbles, and bake boules in Dutch ovens. Hydration, \
        levain timing, autolyse and scoring shape crumb and crust in every loaf.</p>";
    let post = item("The last keepers", Some("https://a.example/1"), Some(essay));
    let other = item("Starters", Some("https://a.example/2"), Some(sourdough));
    let summary = item(
        "Daily digest: coasts",
        Some("https://digest.example/9"),
        Some(KEEPERS_SUMMARY),
    );
    let probe = probe(&summary, Role::Mirror, day(2));
    let words = content_words(&summary.title, summary.body());
    let stored = [
        candidate_as(1, &post, day(1), Role::Origin),
        candidate_as(2, &other, day(1), Role::Origin),
    ];
    match decide_by_words(&probe, &words, &stored, &Thresholds::default()) {
        Decision::Join {
            story_id,
            reason,
            member_role,
            ..
        } => {
            assert_eq!((story_id, reason), (1, MatchReason::Words));
            assert_eq!(member_role, MemberRole::Summary);
        }
        Decision::New => panic!("the summary names the essay"),
    }
    // Two works it reads equally like: it is about neither for sure.
    let twin = candidate_as(3, &post, day(1), Role::Origin);
    assert_eq!(
        decide_by_words(
            &probe,
            &words,
            &[stored[0].clone(), twin],
            &Thresholds::default()
        ),
        Decision::New
    );
    // An origin item never joins this way.
    let origin_probe = Probe {
        role: Role::Origin,
        ..probe.clone()
    };
    assert_eq!(
        decide_by_words(&origin_probe, &words, &stored, &Thresholds::default()),
        Decision::New
    );
}

#[test]
fn a_summary_weeks_after_a_writers_item_joins_it_but_not_before_it_nor_a_month_on() {
    let essay = KEEPERS_NOTES_ESSAY;
    let post = item("The last keepers", Some("https://a.example/1"), Some(essay));
    let notes = item(
        "Reading notes, week 3",
        Some("https://notes.example/3"),
        Some(KEEPERS_SUMMARY),
    );
    let words = content_words(&notes.title, notes.body());
    let thresholds = Thresholds::default();
    let at = |when| {
        let probe = probe(&notes, Role::Mirror, when);
        joined(&decide_by_words(
            &probe,
            &words,
            &[candidate_as(1, &post, day(1), Role::Origin)],
            &thresholds,
        ))
    };
    // Reader's notes two weeks after the essay sum it up.
    assert_eq!(at(day(15)), Some((1, MatchReason::Words)));
    // Notes a week before an item are not about it, nor notes more than a month after it.
    let before = Probe {
        published: day(1) - Duration::days(8),
        ..probe(&notes, Role::Mirror, day(1))
    };
    assert_eq!(
        decide_by_words(
            &before,
            &words,
            &[candidate_as(1, &post, day(1), Role::Origin)],
            &thresholds
        ),
        Decision::New
    );
    assert_eq!(at(day(1) + Duration::days(31)), None);
    // Weeks on, only a writer's own item is a work the notes can be about: a story of
    // mirrors alone is no dated work of anyone's.
    let mirrored = candidate_as(1, &post, day(1), Role::Mirror);
    let weeks_on = probe(&notes, Role::Mirror, day(15));
    assert_eq!(
        decide_by_words(
            &weeks_on,
            &words,
            std::slice::from_ref(&mirrored),
            &thresholds
        ),
        Decision::New
    );
    let close = probe(&notes, Role::Mirror, day(3));
    assert_eq!(
        joined(&decide_by_words(&close, &words, &[mirrored], &thresholds)),
        Some((1, MatchReason::Words))
    );
    // Stored first, the notes are found again from the essay's side by the same words; an
    // essay on bread finds nothing in them.
    let stored_notes = candidate_as(2, &notes, day(15), Role::Mirror);
    assert!(may_summarise(
        &stored_notes,
        &content_words(&post.title, post.body())
    ));
    let bread = item(
        "Starters",
        Some("https://a.example/2"),
        Some(
            "<p>Sourdough starters ferment rye flour with wild yeast and lactobacilli; bakers \
             discard half daily, watch bubbles, and bake boules in Dutch ovens. Hydration, levain \
             timing, autolyse and scoring shape crumb and crust in every loaf.</p>",
        ),
    );
    assert!(!may_summarise(
        &stored_notes,
        &content_words(&bread.title, bread.body())
    ));
    assert_eq!(
        summarised_by(
            &stored_notes,
            &[candidate_as(1, &post, day(1), Role::Origin)],
            &thresholds
        )
        .map(|(story, _)| story),
        Some(1)
    );
}

/// `probe`'s verdict against a story of `mirrors` alone, which it must join by title, and that
/// verdict led to `work` ([`lead_to_the_work`]).
fn by_title_then_led(
    probe: &Probe,
    words: &Words,
    mirrors: &Candidate,
    work: &Candidate,
    thresholds: &Thresholds,
) -> (Decision, Decision) {
    let by_title = decide(probe, std::slice::from_ref(mirrors), thresholds);
    assert_eq!(
        joined(&by_title),
        Some((mirrors.story_id, MatchReason::Title))
    );
    let led = lead_to_the_work(
        probe,
        words,
        by_title.clone(),
        std::slice::from_ref(mirrors),
        std::slice::from_ref(work),
        thresholds,
    );
    (by_title, led)
}

#[test]
fn a_mirror_that_joins_mirrors_alone_but_names_a_work_brings_them_to_the_work() {
    let essay = KEEPERS_NOTES_ESSAY;
    let headline = "Why the lighthouse keepers finally went home for good";
    let post = item("The last keepers", Some("https://a.example/1"), Some(essay));
    // Two directories list the work under a headline of their own; only the second one's
    // summary reads like the essay.
    let first = item(
        headline,
        Some("https://one.example/9"),
        Some("<p>A short note on coastal history, with a link to listen.</p>"),
    );
    let second = item(
        headline,
        Some("https://two.example/4"),
        Some(KEEPERS_SUMMARY),
    );
    let thresholds = Thresholds::default();
    let work = candidate_as(1, &post, day(1), Role::Origin);
    let mirrors = candidate_as(5, &first, day(2), Role::Mirror);
    let probe = probe(&second, Role::Mirror, day(2));
    let words = content_words(&second.title, second.body());
    let (by_title, led) = by_title_then_led(&probe, &words, &mirrors, &work, &thresholds);
    match led {
        Decision::Join {
            story_id,
            reason,
            member_role,
            also,
            ..
        } => {
            assert_eq!((story_id, reason), (1, MatchReason::Words));
            assert_eq!((member_role, also), (MemberRole::Summary, vec![5]));
        }
        Decision::New => panic!("the second summary names the essay"),
    }

    // Kept as it was: a story a person pinned, a work whose story already holds one of the
    // mirrors' feeds, and no work the words name.
    let pinned = Candidate {
        story: Arc::new(StoryFacts {
            pinned: true,
            ..(*mirrors.story).clone()
        }),
        ..mirrors.clone()
    };
    let shared_feed = Candidate {
        story: Arc::new(StoryFacts {
            sources: vec!["feed-1".into(), "feed-5".into()],
            ..(*work.story).clone()
        }),
        ..work.clone()
    };
    for (stored, works) in [
        (pinned, vec![work.clone()]),
        (mirrors.clone(), vec![shared_feed]),
        (mirrors.clone(), vec![]),
    ] {
        let kept = lead_to_the_work(
            &probe,
            &words,
            by_title.clone(),
            std::slice::from_ref(&stored),
            &works,
            &thresholds,
        );
        assert_eq!(kept, by_title);
    }
}

#[test]
fn a_long_title_names_its_work_at_any_distance_and_a_short_one_does_not() {
    let long = "Why the last lighthouse keepers walked away from their towers";
    let post = item(long, Some("https://a.example/1"), Some(ESSAY));
    let months_later = day(1) + Duration::days(200);
    let listing = item(long, Some("https://directory.example/9"), Some(SUMMARY));
    assert_eq!(
        joined(&verdict_as(
            &listing,
            Role::Mirror,
            months_later,
            &[(1, &post, day(1), Role::Origin)]
        )),
        Some((1, MatchReason::Title))
    );
    // The same words reordered by a directory, just as far apart.
    let reworded = item(
        "The last lighthouse keepers: why they walked away from their towers",
        Some("https://directory.example/10"),
        Some(SUMMARY),
    );
    assert_eq!(
        joined(&verdict_as(
            &reworded,
            Role::Mirror,
            months_later,
            &[(1, &post, day(1), Role::Origin)]
        )),
        Some((1, MatchReason::Title))
    );
    // A short title could head a new piece any year.
    let short_post = item("The last keepers", Some("https://a.example/2"), Some(ESSAY));
    let short_listing = item(
        "The last keepers",
        Some("https://directory.example/11"),
        None,
    );
    assert_eq!(
        joined(&verdict_as(
            &short_listing,
            Role::Mirror,
            months_later,
            &[(1, &short_post, day(1), Role::Origin)]
        )),
        None
    );
    // Two of the writers' own items far apart under one title are for their texts to decide.
    let rerun = item(long, Some("https://b.example/2"), Some(OTHER_ESSAY));
    assert_eq!(
        joined(&verdict(&rerun, months_later, &[(1, &post, day(1))])),
        None
    );
}

#[test]
fn a_long_title_held_whole_among_a_summarys_own_words_joins_it() {
    // Two summary sites' pages of one interview (no origin feed carries it), two days apart.
    let directory = item(
        "Ada Wick: Storm Diaries, the Keepers of the Coast and the Future of Lighthouses",
        Some("https://directory.example/e/ada-wick"),
        None,
    );
    let stored = [(1, &directory, day(1), Role::Mirror)];
    let summary = |title: &str| {
        verdict_as(
            &item(title, Some("https://summaries.example/ada"), None),
            Role::Mirror,
            day(3),
            &stored,
        )
    };
    // Every word of the directory's title among many of its own: too few in common for the
    // two to read alike, yet the one title is whole in the other.
    assert_eq!(
        joined(&summary(
            "Harbour Talk: Storm Diaries Are Not Enough | The Keepers of the Coast: Wicks, Logs \
             and Fog | The Future of Lighthouses with Ada Wick, Historian at Bristol"
        )),
        Some((1, MatchReason::Title))
    );
    // Two of its words left out is another piece on the same themes.
    assert_eq!(
        joined(&summary(
            "Harbour Talk: Storm Diaries Are Not Enough | Wicks, Logs and Fog | The Future of \
             Lighthouses with Ada Wick, Historian at Bristol"
        )),
        None
    );
    // A title of five meaningful words is a topic many pages hold.
    let short = item(
        "Ada Wick on Storm Diaries and Lighthouses",
        Some("https://directory.example/e/short"),
        None,
    );
    assert_eq!(
        joined(&verdict_as(
            &item(
                "Harbour Talk: Storm Diaries Are Not Enough | Lighthouses with Ada Wick, \
                 Historian at Bristol",
                Some("https://summaries.example/short"),
                None,
            ),
            Role::Mirror,
            day(3),
            &[(1, &short, day(1), Role::Mirror)],
        )),
        None
    );
}

#[test]
fn a_show_named_inside_a_directory_title_is_a_decoration() {
    let decorations = Decorations::new(["Ada Wick", "Coastlines"]);
    let keys = title_keys(
        "Ben Harbour on Coastlines — Why the last lighthouse keepers walked away",
        &decorations,
    );
    assert!(
        keys.contains(&"ben harbour why the last lighthouse keepers walked away".to_string()),
        "{keys:?}"
    );
    let with_the = title_keys(
        "Companion notes: Ben Harbour on the Coastlines Podcast",
        &decorations,
    );
    assert!(
        with_the.contains(&"companion notes ben harbour".to_string()),
        "{with_the:?}"
    );
    let episode = item(
        "Ben Harbour – Why the last lighthouse keepers walked away",
        Some("https://a.example/ep/1"),
        Some(ESSAY),
    );
    let listing = item(
        "Ben Harbour on Coastlines — Why the last lighthouse keepers walked away",
        Some("https://directory.example/ep"),
        Some(SUMMARY),
    );
    let probe = Probe::new(
        &listing,
        Role::Mirror,
        day(3),
        &decorations,
        &HashSet::new(),
    );
    let stored = candidate_as(1, &episode, day(1), Role::Origin);
    assert_eq!(
        joined(&decide(&probe, &[stored], &Thresholds::default())),
        Some((1, MatchReason::Title))
    );
}

#[test]
fn a_mirror_whose_address_spells_the_title_joins_under_a_headline_of_its_own() {
    let post = item(
        "Why the last lighthouse keepers walked away",
        Some("https://a.example/p/keepers"),
        Some(ESSAY),
    );
    let listing = item(
        "Coastal automation, families and the end of a trade",
        Some(
            "https://directory.example/2026-04-02/why-the-last-lighthouse-keepers-walked-away/notes.md",
        ),
        Some(SUMMARY),
    );
    let stored = [(1, &post, day(1), Role::Origin)];
    assert_eq!(
        joined(&verdict_as(&listing, Role::Mirror, day(2), &stored)),
        Some((1, MatchReason::Address))
    );
    // An origin's own address is its own business: a writer's old slug names nothing new.
    let own = item(
        "Coastal automation, families and the end of a trade",
        Some("https://b.example/why-the-last-lighthouse-keepers-walked-away"),
        Some(OTHER_ESSAY),
    );
    assert_eq!(joined(&verdict(&own, day(2), &[(1, &post, day(1))])), None);
    // The other way round: a work arriving after the listing finds it by the address.
    let probe = probe(&post, Role::Origin, day(2));
    let stored = candidate_as(1, &listing, day(1), Role::Mirror);
    assert_eq!(
        joined(&decide(&probe, &[stored], &Thresholds::default())),
        Some((1, MatchReason::Address))
    );
}

/// The words of an interview about lighthouses, as its show describes the episode.
const INTERVIEW: &str = "<p>Lena Marsh spent twenty winters keeping the Skerry light and \
    tells the Lights Podcast how keepers trimmed wicks, polished Fresnel lenses and logged storms \
    in diaries. She recalls when clockwork rotation, electric lamps and photocells replaced the \
    keepers one by one, why coastguards distrusted the first automatic beacons, and how museum \
    volunteers now guide visitors up the spiral stairs of towers she once tended.</p>";

/// A directory's page about that episode under a headline of its own, naming the show with
/// `show` and its guest in `title`.
fn page_about_interview(title: &str, show: &str) -> Item {
    item(
        title,
        Some("https://directory.example/notes/9"),
        Some(&format!(
            "<p>{show} · 2 April</p><p>Marsh looks back on twenty winters at the Skerry light: \
             trimming wicks, polishing Fresnel lenses, storm diaries, then clockwork, electric \
             lamps and photocells taking over. Coastguards distrusted automatic beacons; \
             museum volunteers now guide visitors up spiral stairs.</p>"
        )),
    )
}

/// The show's episode with Lena Marsh, from `feed-1`, and the show's names as its feed tells
/// them.
fn marsh_episode() -> (Decorations, Item) {
    let mut decorations = Decorations::default();
    decorations.add_for("feed-1", ["Lights Podcast", "Tom Reed"]);
    let episode = item(
        "Lena Marsh — Twenty winters at the Skerry light",
        Some("https://lights.example/p/marsh"),
        Some(INTERVIEW),
    );
    (decorations, episode)
}

#[test]
fn a_mirror_naming_the_guest_and_the_show_joins_the_episode() {
    // The show's feed is the candidate's, `feed-1`.
    let (decorations, episode) = marsh_episode();
    let verdict = |page: &Item, at: DateTime<Utc>| {
        let probe = Probe::new(page, Role::Mirror, at, &decorations, &HashSet::new());
        let stored = candidate_as(1, &episode, day(1), Role::Origin);
        joined(&decide(&probe, &[stored], &Thresholds::default()))
    };
    let page = page_about_interview("Lena Marsh: the last keeper speaks", "Lights Podcast");
    assert_eq!(verdict(&page, day(2)), Some((1, MatchReason::Guest)));
    // The surname in the headline, the whole name in the text.
    let mut surname = page_about_interview("Marsh: keepers were replaced slowly", "Lights Podcast");
    surname.content = surname
        .content
        .map(|text| text.replace("Marsh looks", "Lena Marsh looks"));
    assert_eq!(verdict(&surname, day(1)), Some((1, MatchReason::Guest)));
    let surname_only =
        page_about_interview("Marsh: keepers were replaced slowly", "Lights Podcast");
    assert_eq!(verdict(&surname_only, day(1)), None);
    // Without the show named, a week later, or with the host in the guest's place: no.
    let no_show = page_about_interview("Lena Marsh: the last keeper speaks", "Coast notes");
    assert_eq!(verdict(&no_show, day(2)), None);
    assert_eq!(verdict(&page, day(9)), None);
    let hosted = item(
        "Twenty winters at the Skerry light — Tom Reed",
        Some("https://lights.example/p/reed"),
        Some(INTERVIEW),
    );
    let probe = Probe::new(
        &page_about_interview("Tom Reed: the last keeper speaks", "Lights Podcast"),
        Role::Mirror,
        day(2),
        &decorations,
        &HashSet::new(),
    );
    let stored = candidate_as(1, &hosted, day(1), Role::Origin);
    assert_eq!(
        decide(&probe, &[stored], &Thresholds::default()),
        Decision::New
    );
    // Another show's roundup that names the guest and the show among other stories.
    let roundup = item(
        "Lena Marsh on the Lights Podcast reaction, harbour dredging, ferry strike",
        Some("https://other.example/ep/40"),
        Some(
            "<p>The hosts react to the Lights Podcast interview, then turn to the harbour \
             dredging contract, a ferry strike that stranded commuters, rising insurance \
             premiums for fishing boats, a new marina tax and the council's budget vote, \
             before answering listener mail about tide tables and weekend sailing races.</p>",
        ),
    );
    assert_eq!(verdict(&roundup, day(2)), None);
}

#[test]
fn a_page_about_another_numbered_episode_with_the_guest_is_not_about_this_one() {
    let (decorations, mut episode) = marsh_episode();
    episode.title = "#212 – Lena Marsh — Twenty winters at the Skerry light".to_owned();
    let verdict = |page: &Item| {
        let probe = Probe::new(page, Role::Mirror, day(2), &decorations, &HashSet::new());
        let stored = candidate_as(1, &episode, day(1), Role::Origin);
        joined(&decide(&probe, &[stored], &Thresholds::default()))
    };
    let page = |title: &str| page_about_interview(title, "Lights Podcast");
    // Her first interview on the show, with much the same to say.
    assert_eq!(verdict(&page("Lena Marsh | Lights Podcast #87")), None);
    assert_eq!(
        verdict(&page("Lena Marsh | Lights Podcast #212")),
        Some((1, MatchReason::Guest)),
        "this one's number"
    );
}

#[test]
fn a_page_naming_the_guest_beside_another_writer_is_not_about_the_episode() {
    // Two writers are followed: the show (`feed-1`) and a columnist (`feed-7`).
    let mut decorations = Decorations::default();
    decorations.add_for("feed-1", ["Lights Podcast", "Tom Reed"]);
    decorations.add_for("feed-7", ["Harbour Notes", "Iris Vane"]);
    let episode = item(
        "Lena Marsh — Twenty winters at the Skerry light",
        Some("https://lights.example/p/marsh"),
        Some(INTERVIEW),
    );
    let verdict = |page: &Item| {
        let probe = Probe::new(page, Role::Mirror, day(2), &decorations, &HashSet::new());
        let stored = candidate_as(1, &episode, day(1), Role::Origin);
        joined(&decide(&probe, &[stored], &Thresholds::default()))
    };
    // News of the guest agreeing with the columnist names a writer, but not the show's.
    let news = page_about_interview("Lena Marsh agrees with Iris Vane", "Harbour Notes");
    assert_eq!(verdict(&news), None);
    // The same page naming the show is about the episode.
    let about = page_about_interview("Lena Marsh agrees with Iris Vane", "Lights Podcast");
    assert_eq!(verdict(&about), Some((1, MatchReason::Guest)));
    // The show's video channel calls itself by the host's name only: naming the show still
    // names it, as the two feeds share the host.
    decorations.add_for("feed-2", ["Tom Reed"]);
    let probe = Probe::new(&about, Role::Mirror, day(2), &decorations, &HashSet::new());
    let video = candidate_as(2, &episode, day(1), Role::Origin);
    assert_eq!(
        joined(&decide(&probe, &[video], &Thresholds::default())),
        Some((2, MatchReason::Guest))
    );
}

#[test]
fn a_stored_text_reads_its_links_for_its_own_page() {
    // One text on two pages: the link to a page is its own on the first, an outbound link on
    // the second, so what is remembered of the text's links must depend on the page too.
    let body = "<p>Notes on <a href=\"https://keepers.example/p/winters\">Twenty winters at \
                the Skerry light</a>, with thanks.</p>";
    let at_home = item(
        "Twenty winters at the Skerry light",
        Some("https://keepers.example/p/winters"),
        Some(body),
    );
    let elsewhere = item(
        "Twenty winters at the Skerry light",
        Some("https://digest.example/winters"),
        Some(body),
    );
    let decorations = Decorations::default();
    let own = Probe::of_stored(
        &candidate_as(1, &at_home, day(1), Role::Mirror),
        &decorations,
        false,
    );
    let other = Probe::of_stored(
        &candidate_as(2, &elsewhere, day(1), Role::Mirror),
        &decorations,
        false,
    );
    assert!(
        own.keys.outbound_links.is_empty(),
        "{:?}",
        own.keys.outbound_links
    );
    assert!(!own.link_post);
    assert_eq!(
        other.keys.outbound_links,
        vec!["keepers.example/p/winters".to_owned()]
    );
    assert!(other.link_post);
    // Asked again, each reads as it did.
    let again = Probe::of_stored(
        &candidate_as(1, &at_home, day(1), Role::Mirror),
        &decorations,
        false,
    );
    assert!(again.keys.outbound_links.is_empty());
}

#[test]
fn a_stored_mirror_is_read_for_names_only_near_an_interview() {
    let thresholds = Thresholds::default();
    let interview = item(
        "Lena Marsh — Twenty winters at the Skerry light",
        Some("https://lights.example/p/marsh"),
        Some(INTERVIEW),
    );
    let essay = item(
        "Twenty winters at the Skerry light",
        Some("https://lights.example/p/winters"),
        Some(INTERVIEW),
    );
    let mirror_at = |at| candidate_as(5, &interview, at, Role::Mirror);
    let near = candidate_as(2, &interview, day(1), Role::Origin);
    assert!(may_name_a_guest(&mirror_at(day(2)), &near, &thresholds));
    // Beyond the title window, under a title naming nobody, or a mirror: the guest evidence
    // cannot apply, so the mirror's names need not be read.
    assert!(!may_name_a_guest(&mirror_at(day(9)), &near, &thresholds));
    let essay = candidate_as(3, &essay, day(1), Role::Origin);
    assert!(!may_name_a_guest(&mirror_at(day(2)), &essay, &thresholds));
    let other_mirror = candidate_as(4, &interview, day(1), Role::Mirror);
    assert!(!may_name_a_guest(
        &mirror_at(day(2)),
        &other_mirror,
        &thresholds
    ));
}

#[test]
fn a_mirror_that_came_before_its_work_is_asked_again_by_every_evidence() {
    let mut decorations = Decorations::default();
    decorations.add_for("feed-2", ["Lights Podcast"]);
    let page = page_about_interview("Lena Marsh: the last keeper speaks", "Lights Podcast");
    let episode = item(
        "Lena Marsh — Twenty winters at the Skerry light",
        Some("https://lights.example/p/marsh"),
        Some(INTERVIEW),
    );
    let mirror = candidate_as(1, &page, day(1), Role::Mirror);
    let around = [
        mirror.clone(),
        candidate_as(2, &episode, day(1), Role::Origin),
    ];
    let verdict = reconsider(&mirror, &around, &decorations, &Thresholds::default());
    assert!(
        matches!(
            verdict,
            Some((
                2,
                MatchReason::Guest,
                _,
                MemberRole::Coverage | MemberRole::Summary
            ))
        ),
        "{verdict:?}"
    );
    // An origin item is not asked again, and nothing around means nothing found.
    let origin = candidate_as(3, &episode, day(1), Role::Origin);
    assert_eq!(
        reconsider(&origin, &around, &decorations, &Thresholds::default()),
        None
    );
    assert_eq!(
        reconsider(&mirror, &[], &decorations, &Thresholds::default()),
        None
    );
}

#[test]
fn the_same_numbered_episode_of_a_show_joins_at_any_distance() {
    let decorations = Decorations::new(["Lights Podcast"]);
    let episode = item(
        "Lena Marsh: twenty winters at the Skerry light | Lights Podcast #12",
        Some("https://video.example/watch?v=12"),
        Some(INTERVIEW),
    );
    let mut stored = candidate_as(1, &episode, day(1), Role::Origin);
    stored.title_keys = title_keys(&episode.title, &decorations);
    let verdict = |title: &str| {
        let page = item(
            title,
            Some("https://vault.example/117.html"),
            Some("<p>Notes on a conversation about harbours, tides and ferries.</p>"),
        );
        let months_later = day(1) + Duration::days(240);
        let probe = Probe::new(
            &page,
            Role::Mirror,
            months_later,
            &decorations,
            &HashSet::new(),
        );
        joined(&decide(
            &probe,
            std::slice::from_ref(&stored),
            &Thresholds::default(),
        ))
    };
    assert_eq!(
        verdict("Lights Podcast #12 - 09/07/2025"),
        Some((1, MatchReason::Issue))
    );
    assert_eq!(verdict("Lights Podcast #13 - 09/07/2025"), None);
    assert_eq!(verdict("Harbour Podcast #12 - 09/07/2025"), None);
}

#[test]
fn a_page_linking_two_of_the_writers_posts_is_a_roundup_though_one_is_stored() {
    let post = item(
        "Keepers of the light",
        Some("https://writer.example/p/keepers"),
        Some(ESSAY),
    );
    let page = |links: &str| {
        item(
            "Notes from the week",
            Some("https://notes.example/week-12"),
            Some(&format!(
                "<p>A paper on tide tables caught my eye this week, and then this: {links}</p>"
            )),
        )
    };
    let verdict = |page: &Item| {
        let mut stored = candidate_as(1, &post, day(1), Role::Origin);
        stored.linked = Some(Linked::ProbeLinksHere);
        joined(&decide(
            &probe(page, Role::Mirror, day(2)),
            &[stored],
            &Thresholds::default(),
        ))
    };
    // The essay, and the site's subscribe page: about the essay.
    let one = page(
        r#"<a href="https://writer.example/p/keepers">keepers</a>, <a href="https://writer.example/subscribe">subscribe</a>"#,
    );
    assert_eq!(verdict(&one), Some((1, MatchReason::Link)));
    // The essay and another post of the writer's, not stored: it cites two works.
    let two = page(
        r#"<a href="https://writer.example/p/keepers">keepers</a>, <a href="https://writer.example/p/sourdough">sourdough</a>"#,
    );
    assert_eq!(verdict(&two), None);
}

#[test]
fn a_rewrite_whose_headline_repeats_the_first_sentence_of_the_title_joins() {
    let essay = item(
        "Keepers were replaced by clockwork lamps. Even the last keeper agrees.",
        Some("https://writer.example/p/keepers"),
        Some(ESSAY),
    );
    let verdict = |title: &str, at: DateTime<Utc>| {
        let rewrite = item(
            title,
            Some("https://news.example/keepers"),
            Some("<p>A short news piece in its own words about automated lights.</p>"),
        );
        joined(&decide(
            &probe(&rewrite, Role::Mirror, at),
            &[candidate_as(1, &essay, day(1), Role::Origin)],
            &Thresholds::default(),
        ))
    };
    let headline = "The turning point: why keepers were replaced by clockwork lamps";
    assert_eq!(
        verdict(headline, day(3)),
        Some((1, MatchReason::TitleContained))
    );
    // Weeks later the same words are another piece on the subject.
    assert_eq!(verdict(headline, day(30)), None);
    // A first sentence of too few words ("Game over.") is no reading of its own, and a
    // full stop after an abbreviation ends no sentence.
    let none = Decorations::default();
    assert!(
        !title_keys("Game over. Lamps are not the road to safer coasts.", &none)
            .contains(&"game over".to_owned())
    );
    assert!(
        title_keys(
            "Keepers were replaced by clockwork lamps. Even the last keeper agrees.",
            &none
        )
        .contains(&"keepers were replaced by clockwork lamps".to_owned())
    );
    assert!(
        !title_keys(
            "U.S. keepers were replaced by clockwork lamps. Then radar.",
            &none
        )
        .contains(&"u".to_owned())
    );
}

#[test]
fn a_summary_whose_text_names_one_numbered_episode_joins_it_at_any_distance() {
    let decorations = Decorations::new(["Lights Podcast"]);
    let episode = item(
        "Lena Marsh: twenty winters at the Skerry light | Lights Podcast #12",
        Some("https://video.example/watch?v=12"),
        Some(INTERVIEW),
    );
    let mut stored = candidate_as(1, &episode, day(1), Role::Origin);
    stored.title_keys = title_keys(&episode.title, &decorations);
    let verdict = |text: &str, role: Role| {
        let page = item(
            "Marsh on the keepers who were replaced",
            Some("https://wiki.example/marsh"),
            Some(text),
        );
        let months_later = day(1) + Duration::days(240);
        let probe = Probe::new(&page, role, months_later, &decorations, &HashSet::new());
        joined(&decide(
            &probe,
            std::slice::from_ref(&stored),
            &Thresholds::default(),
        ))
    };
    let one = "<p>Source: Lights Podcast #12 · April</p><p>Notes on harbours and tides.</p>";
    assert!(matches!(
        verdict(one, Role::Mirror),
        Some((1, MatchReason::Title | MatchReason::Issue))
    ));
    // Another episode, two episodes (a roundup), or a writer's own post citing it: no.
    let other = "<p>Source: Lights Podcast #13 · April</p><p>Notes on harbours.</p>";
    assert_eq!(verdict(other, Role::Mirror), None);
    let two = "<p>From Lights Podcast #12 and Lights Podcast #14: notes on harbours.</p>";
    assert_eq!(verdict(two, Role::Mirror), None);
    assert_eq!(verdict(one, Role::Origin), None);
}

#[test]
fn an_episode_finds_a_summary_stored_before_the_show_was_known() {
    // The summary came first, when no origin feed had told its names: the episode its text
    // names is no reading of its title yet, only an index entry.
    // The video channel, whose own names are the host's, airs the episode later: its key is
    // among the summary's index entries, and read with the host's name the stored summary
    // names that episode.
    let host = Decorations::new(["Lena Lights"]);
    let episode = item(
        "Lena Marsh: twenty winters at the Skerry light | Lena Lights Podcast #12",
        Some("https://video.example/watch?v=12"),
        Some(INTERVIEW),
    );
    let arriving = Probe::new(&episode, Role::Origin, day(1), &host, &HashSet::new());
    let shows_text = "<p>Source: Lena Lights Podcast #12 · April</p><p>Notes on harbours.</p>";
    let page = item(
        "Marsh on the keepers who were replaced",
        Some("https://wiki.example/marsh"),
        Some(shows_text),
    );
    let indexed = Probe::new(
        &page,
        Role::Mirror,
        day(20),
        &Decorations::default(),
        &HashSet::new(),
    );
    assert!(indexed.issues.is_empty());
    assert_eq!(arriving.issues, vec!["lena lights 12"]);
    assert!(
        indexed.keys.issue_anchors.contains(&arriving.issues[0]),
        "{:?}",
        indexed.keys.issue_anchors
    );
    let mut stored = candidate_as(2, &page, day(20), Role::Mirror);
    stored.title_keys = stored_title_keys(&page.title, page.body(), Role::Mirror, &host);
    assert_eq!(
        joined(&decide(
            &arriving,
            std::slice::from_ref(&stored),
            &Thresholds::default()
        )),
        Some((2, MatchReason::Issue))
    );
    // Read without the name, or naming another episode, the summary is not that episode.
    stored.title_keys = stored_title_keys(
        &page.title,
        page.body(),
        Role::Mirror,
        &Decorations::default(),
    );
    assert_eq!(
        decide(&arriving, &[stored], &Thresholds::default()),
        Decision::New
    );
    let other = item(
        &page.title,
        page.link.as_deref(),
        Some("<p>Source: Lena Lights Podcast #13 · April</p><p>Notes on harbours.</p>"),
    );
    let mut stored = candidate_as(2, &other, day(20), Role::Mirror);
    stored.title_keys = stored_title_keys(&other.title, other.body(), Role::Mirror, &host);
    assert_eq!(
        decide(&arriving, &[stored], &Thresholds::default()),
        Decision::New
    );
}

#[test]
fn a_text_full_of_numbers_adds_a_bounded_number_of_episode_anchors() {
    let numbers: String = (1..=40).map(|n| format!("Harbour log {n} ")).collect();
    let page = item(
        "Marsh | Lights Podcast #12",
        Some("https://wiki.example/marsh"),
        Some(&format!("<p>{numbers}</p>")),
    );
    let anchors = probe(&page, Role::Mirror, day(1)).keys.issue_anchors;
    assert_eq!(anchors.len(), MAX_ISSUE_ANCHORS);
    // The title's come first: its episode is the one most likely looked up.
    assert!(anchors.contains(&"lights 12".to_owned()), "{anchors:?}");
}

#[test]
fn a_stored_text_leaves_out_the_boilerplate_it_is_asked_with() {
    // The memo keeps the text less the first boilerplate asked with; a feed whose boilerplate
    // has grown since, or another feed carrying the same text, must not be answered with it.
    let body = "<p>The keeper climbed the hundred and twelve steps at dusk, lit the lamp, wound \
                the clockwork that turned the lens, and wrote the weather into the log before \
                the first ship of the night rounded the northern point of the Skerry.</p>";
    let all: Vec<Shingle> = shingles(&words(body)).into_iter().map(shingle).collect();
    assert!(all.len() > 12, "{}", all.len());
    let text = StoredText::of("the skerry keeper's evening, boilerplate test", Some(body));
    let first: HashSet<Shingle> = all[..3].iter().copied().collect();
    let second: HashSet<Shingle> = all[5..9].iter().copied().collect();
    for boilerplate in [&first, &second, &first, &HashSet::new()] {
        let (sequence, sorted) = text.shingles(Some(body), boilerplate);
        let kept: Vec<Shingle> = all
            .iter()
            .copied()
            .filter(|hash| !boilerplate.contains(hash))
            .collect();
        assert_eq!(sequence.as_ref(), kept.as_slice());
        assert!(sorted.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(sorted.len(), kept.iter().collect::<HashSet<_>>().len());
    }
}

#[test]
fn an_undated_mirror_may_be_about_a_writers_item_of_any_earlier_date() {
    let post = item(
        "The keepers of the light",
        Some("https://lights.example/p/keepers"),
        Some(ESSAY),
    );
    let listing = item(
        "The keepers of the light",
        Some("https://directory.example/keepers"),
        Some(
            "<p>Our own note: towers, the families who kept them, and how machines took over.</p>",
        ),
    );
    let thresholds = Thresholds::default();
    let stored = [candidate_as(1, &post, day(1), Role::Origin)];
    let first_seen = day(1) + Duration::days(200);
    let undated = |seen| Probe {
        undated: true,
        ..probe(&listing, Role::Mirror, seen)
    };
    // Dated 200 days after the post, its title alone is too far away to say it is about it.
    let dated = probe(&listing, Role::Mirror, first_seen);
    assert_eq!(joined(&decide(&dated, &stored, &thresholds)), None);
    // Without a date, it may have been published on the post's day.
    assert_eq!(
        joined(&decide(&undated(first_seen), &stored, &thresholds)),
        Some((1, MatchReason::Title))
    );
    // Seen a month before the post came out, it cannot be about it.
    let before = day(1) - Duration::days(30);
    assert_eq!(
        joined(&decide(&undated(before), &stored, &thresholds)),
        None
    );
    // The stored side may be the undated one: the writer's post arrives after the listing.
    let stored_listing = [Candidate {
        undated: true,
        ..candidate_as(2, &listing, first_seen, Role::Mirror)
    }];
    let post_probe = probe(&post, Role::Origin, day(1));
    assert_eq!(
        joined(&decide(&post_probe, &stored_listing, &thresholds)),
        Some((2, MatchReason::Title))
    );
    // Between two mirrors neither dates the other: their first sightings stand for dates.
    let other_listing = item(
        "The keepers of the light",
        Some("https://summaries.example/keepers"),
        None,
    );
    let early_mirror = [candidate_as(3, &other_listing, day(1), Role::Mirror)];
    assert_eq!(
        joined(&decide(&undated(first_seen), &early_mirror, &thresholds)),
        None
    );
}

#[test]
fn an_undated_page_naming_the_guest_is_asked_again_when_the_earlier_episode_arrives() {
    let (decorations, episode) = marsh_episode();
    let page = page_about_interview("Lena Marsh: the last keeper speaks", "Lights Podcast");
    let work = [candidate_as(1, &episode, day(1), Role::Origin)];
    let thresholds = Thresholds::default();
    // First seen two months after the episode, from a feed that gave it no date.
    let seen = day(1) + Duration::days(60);
    let undated = Candidate {
        undated: true,
        ..candidate_as(2, &page, seen, Role::Mirror)
    };
    let verdict = reconsider(&undated, &work, &decorations, &thresholds);
    assert_eq!(
        verdict.map(|(story, reason, ..)| (story, reason)),
        Some((1, MatchReason::Guest))
    );
    // Dated two months after it, it is about something else.
    let dated = candidate_as(2, &page, seen, Role::Mirror);
    assert_eq!(reconsider(&dated, &work, &decorations, &thresholds), None);
}

#[test]
fn undated_notes_may_sum_up_a_writers_item_of_any_date_before_they_were_first_seen_or_undated() {
    let post = item(
        "The last keepers",
        Some("https://a.example/1"),
        Some(KEEPERS_NOTES_ESSAY),
    );
    let notes = item(
        "Reading notes",
        Some("https://notes.example/3"),
        Some(KEEPERS_SUMMARY),
    );
    let words = content_words(&notes.title, notes.body());
    let thresholds = Thresholds::default();
    let work = [candidate_as(1, &post, day(1), Role::Origin)];
    let seen = |when, undated| Probe {
        undated,
        ..probe(&notes, Role::Mirror, when)
    };
    let half_a_year_on = day(1) + Duration::days(180);
    assert_eq!(
        joined(&decide_by_words(
            &seen(half_a_year_on, true),
            &words,
            &work,
            &thresholds
        )),
        Some((1, MatchReason::Words))
    );
    // Dated half a year on, or seen before the item existed: not about it.
    assert_eq!(
        decide_by_words(&seen(half_a_year_on, false), &words, &work, &thresholds),
        Decision::New
    );
    let before = day(1) - Duration::days(8);
    assert_eq!(
        decide_by_words(&seen(before, true), &words, &work, &thresholds),
        Decision::New
    );
    // Unless the item has no date either: then `day(1)` is only when its feed was first read
    // (after the notes', its feed being down), which says nothing of which came first.
    let undated_work = [Candidate {
        undated: true,
        ..candidate_as(1, &post, day(1), Role::Origin)
    }];
    assert_eq!(
        joined(&decide_by_words(
            &seen(before, true),
            &words,
            &undated_work,
            &thresholds
        )),
        Some((1, MatchReason::Words))
    );
}

#[test]
fn directories_titled_with_the_shows_name_are_no_one_work() {
    let decorations = Decorations::new(["Harbour Talk (HT)"]);
    let page = |link: &str| {
        item(
            "Harbour Talk (HT)",
            Some(link),
            Some("<p>Every episode of the show, newest first.</p>"),
        )
    };
    let (one, other) = (
        page("https://directory-a.example/show/harbour-talk"),
        page("https://directory-b.example/podcasts/harbour-talk"),
    );
    let mirror_probe =
        |item: &Item| Probe::new(item, Role::Mirror, day(2), &decorations, &HashSet::new());
    let stored_as = |item: &Item, role: Role| Candidate {
        titled_as_a_name: titled_as_a_name(&title_keys(&item.title, &decorations), &decorations),
        ..candidate_as(1, item, day(1), role)
    };
    let thresholds = Thresholds::default();
    assert!(mirror_probe(&one).titled_as_a_name);
    // Two directories' pages of the whole show: the name is no title of a work.
    assert_eq!(
        decide(
            &mirror_probe(&other),
            &[stored_as(&one, Role::Mirror)],
            &thresholds
        ),
        Decision::New
    );
    // The writers' own item under that title (the essay that named the newsletter) is a work,
    // and a mirror's page under it is about that work.
    let essay = item(
        "Harbour Talk (HT)",
        Some("https://harbour.example/p/harbour-talk"),
        Some(ESSAY),
    );
    assert_eq!(
        joined(&decide(
            &mirror_probe(&other),
            &[stored_as(&essay, Role::Origin)],
            &thresholds
        )),
        Some((1, MatchReason::Title))
    );
}

#[test]
fn undated_pages_share_a_title_as_evidence_only_when_it_is_long_enough_to_name_a_work() {
    let page = |title: &str, link: &str| {
        item(
            title,
            Some(link),
            Some("<p>A directory's page, in its own words.</p>"),
        )
    };
    let undated_probe = |item: &Item| Probe {
        undated: true,
        ..probe(item, Role::Mirror, day(2))
    };
    let undated = |item: &Item| Candidate {
        undated: true,
        ..candidate_as(1, item, day(2), Role::Mirror)
    };
    let thresholds = Thresholds::default();
    // Two directories' undated pages of a whole show, seen in one poll: the show's name is
    // every such page's title, whenever each was written.
    let (show_a, show_b) = (
        page(
            "Harbour Talk Weekly",
            "https://directory-a.example/show/harbour-talk",
        ),
        page(
            "Harbour Talk Weekly",
            "https://directory-b.example/harbour-talk",
        ),
    );
    assert_eq!(
        decide(&undated_probe(&show_b), &[undated(&show_a)], &thresholds),
        Decision::New
    );
    // Dated pages of that title, days apart, are taken to be one listing's as before.
    assert_eq!(
        joined(&decide(
            &probe(&show_b, Role::Mirror, day(3)),
            &[candidate_as(1, &show_a, day(2), Role::Mirror)],
            &thresholds
        )),
        Some((1, MatchReason::Title))
    );
    // A title long enough to name one work names it undated as at any distance.
    let title = "The lighthouse keepers who stayed on after the lamps were automated";
    let (episode_a, episode_b) = (
        page(title, "https://directory-a.example/e/keepers"),
        page(title, "https://directory-b.example/keepers"),
    );
    assert_eq!(
        joined(&decide(
            &undated_probe(&episode_b),
            &[undated(&episode_a)],
            &thresholds
        )),
        Some((1, MatchReason::Title))
    );
}

#[test]
fn a_numbered_page_of_a_listing_joins_no_work_it_lists() {
    let episode = item(
        "The last keepers",
        Some("https://lights.example/e/1"),
        Some(ESSAY),
    );
    // An aggregator's page whose newest entry repeats the episode's text word for word,
    // above other shows' entries.
    let listing = item(
        "Casts \u{2014} page 33",
        Some("https://casts.example/page/33"),
        Some(&format!("{ESSAY}<hr>{OTHER_ESSAY}")),
    );
    let stored = [candidate_as(1, &episode, day(1), Role::Origin)];
    let thresholds = Thresholds::default();
    let listing_probe = probe(&listing, Role::Mirror, day(2));
    assert_eq!(decide(&listing_probe, &stored, &thresholds), Decision::New);
    let words = content_words(&listing.title, listing.body());
    assert_eq!(
        decide_by_words(&listing_probe, &words, &stored, &thresholds),
        Decision::New
    );
    // Nor does a page about the episode join the listing when it is the one stored.
    let copy = item("Lights", Some("https://reposts.example/1"), Some(ESSAY));
    assert_eq!(
        decide(
            &probe(&copy, Role::Mirror, day(2)),
            &[candidate_as(2, &listing, day(2), Role::Mirror)],
            &thresholds
        ),
        Decision::New
    );
    // Without the page number, the same page is a copy of the episode.
    let unnumbered = item(
        "Casts",
        Some("https://casts.example/"),
        listing.content.as_deref(),
    );
    assert_eq!(
        joined(&decide(
            &probe(&unnumbered, Role::Mirror, day(2)),
            &stored,
            &thresholds
        )),
        Some((1, MatchReason::Content))
    );
}

/// A news piece retelling the keepers essay under a headline of its own, naming its writer
/// when `writer` is given, in words mostly its own.
fn retelling(title: &str, writer: &str) -> Item {
    item(
        title,
        Some("https://news.example/keepers"),
        Some(&format!(
            "<p>{writer} has written about the people who tended coastal lights before \
             machines. The essay follows keepers who trimmed wicks and kept storm diaries, and \
             argues that photocells and radio beacons ended a trade that had shaped harbour \
             towns for centuries. I grew up near one such tower and remember the last keeper \
             leaving; reading it brought back that winter, the empty cottage and the silence \
             of the foghorn across the bay.</p>"
        )),
    )
}

#[test]
fn a_retelling_that_holds_the_works_title_and_names_its_writer_joins_it() {
    let mut decorations = Decorations::default();
    decorations.add_for("feed-1", ["Coast Letters", "Ada Wick"]);
    let essay = item(
        "The last lighthouse keepers",
        Some("https://coast.example/p/keepers"),
        Some(KEEPERS_NOTES_ESSAY),
    );
    let thresholds = Thresholds::default();
    let verdict = |page: &Item, stored: &[Candidate]| {
        let probe = Probe::new(page, Role::Mirror, day(9), &decorations, &HashSet::new());
        let words = content_words(&page.title, page.body());
        decide_by_words(&probe, &words, stored, &thresholds)
    };
    let work = [candidate_as(1, &essay, day(1), Role::Origin)];
    let page = retelling("What the last lighthouse keepers knew", "Ada Wick");
    assert_eq!(
        joined_as(&verdict(&page, &work)),
        Some((1, MatchReason::Named, MemberRole::Coverage)),
        "the retelling holds the title and names the writer"
    );
    // Its words alone are too few: without the writer named, or with a word of the title
    // missing from its headline, it is about the topic, not this work.
    let unnamed = retelling("What the last lighthouse keepers knew", "A historian");
    assert_eq!(verdict(&unnamed, &work), Decision::New);
    let short = retelling("What the last keepers knew", "Ada Wick");
    assert_eq!(verdict(&short, &work), Decision::New);
    // Two of the writer's works whose titles its headline holds: it cannot tell which.
    let earlier = item(
        "Lighthouse keepers",
        Some("https://coast.example/p/earlier"),
        Some(KEEPERS_NOTES_ESSAY),
    );
    let mut two = work.to_vec();
    two.push(Candidate {
        source: "feed-1".into(),
        ..candidate_as(2, &earlier, day(1), Role::Origin)
    });
    assert_eq!(verdict(&page, &two), Decision::New);
    // Stored before the work, it is asked again when the work comes, and ends the same.
    let stored = candidate_as(3, &page, day(9), Role::Mirror);
    assert_eq!(
        reconsider(&stored, &work, &decorations, &thresholds)
            .map(|(story, reason, _, role)| (story, reason, role)),
        Some((1, MatchReason::Named, MemberRole::Coverage))
    );
}

#[test]
fn a_retelling_that_rewords_one_word_of_a_short_title_still_joins_it() {
    let mut decorations = Decorations::default();
    decorations.add_for("feed-1", ["Coast Letters", "Ada Wick"]);
    let thresholds = Thresholds::default();
    let verdict = |page: &Item, title: &str| {
        let essay = item(
            title,
            Some("https://coast.example/p/keepers"),
            Some(KEEPERS_NOTES_ESSAY),
        );
        let work = [candidate_as(1, &essay, day(1), Role::Origin)];
        let probe = Probe::new(page, Role::Mirror, day(2), &decorations, &HashSet::new());
        let words = content_words(&page.title, page.body());
        decide_by_words(&probe, &words, &work, &thresholds)
    };
    // "Lighthouse keepers go ashore" for "Why the lighthouse keepers are leaving": two of the
    // title's three meaningful words, the third reworded, and the writer named.
    let page = retelling("Lighthouse keepers go ashore", "Ada Wick");
    let three = "Why the lighthouse keepers are leaving";
    assert_eq!(
        joined_as(&verdict(&page, three)),
        Some((1, MatchReason::Named, MemberRole::Coverage))
    );
    // Half a longer title is its topic, and so is one word of a short one.
    assert_eq!(
        verdict(&page, "Lighthouse keepers leaving harbour towns"),
        Decision::New
    );
    let one = retelling("Keepers go ashore", "Ada Wick");
    assert_eq!(verdict(&one, three), Decision::New);
    // The writer unnamed, it is about the topic.
    let unnamed = retelling("Lighthouse keepers go ashore", "A historian");
    assert_eq!(verdict(&unnamed, three), Decision::New);
}

/// A reader's note months after the keepers essay, citing it by its whole title and naming
/// its writer, under `headline`.
fn citing_note(headline: &str, cited: &str) -> Item {
    item(
        headline,
        Some("https://notes.example/keepers"),
        Some(&format!(
            "<p>Saved for later: Ada Wick's essay &ldquo;{cited}&rdquo;. It follows the \
             keepers who trimmed wicks and kept storm diaries, and argues that photocells and \
             radio beacons ended a trade that had shaped harbour towns for centuries. I grew \
             up near one such tower and remember the last keeper leaving; reading it brought \
             back that winter, the empty cottage and the silence of the foghorn.</p>"
        )),
    )
}

#[test]
fn a_page_citing_a_works_whole_title_and_its_writer_joins_it_months_later() {
    let mut decorations = Decorations::default();
    decorations.add_for("feed-1", ["Coast Letters", "Ada Wick"]);
    let title = "The last lighthouse keepers of the north";
    let essay = item(
        title,
        Some("https://coast.example/p/keepers"),
        Some(KEEPERS_NOTES_ESSAY),
    );
    let five_months_before = day(9) - Duration::days(150);
    let thresholds = Thresholds::default();
    let verdict = |page: &Item, stored: &[Candidate]| {
        let probe = Probe::new(page, Role::Mirror, day(9), &decorations, &HashSet::new());
        let words = content_words(&page.title, page.body());
        decide_by_words(&probe, &words, stored, &thresholds)
    };
    let work = [candidate_as(1, &essay, five_months_before, Role::Origin)];
    let note = citing_note("What I read: lighthouse keepers", title);
    assert_eq!(
        joined_as(&verdict(&note, &work)),
        Some((1, MatchReason::Named, MemberRole::Coverage)),
        "the note cites the title and names the writer"
    );
    // A page titled after the essay cites it by its headline alone.
    let titled_after = retelling(title, "Ada Wick");
    assert_eq!(
        joined_as(&verdict(&titled_after, &work)),
        Some((1, MatchReason::Named, MemberRole::Coverage)),
        "its headline is the essay's title"
    );
    // A headline of its own (a reading list's) cites it among others; a headline that holds
    // the title's words among its own is the writer's idea again, months on, and so is an
    // episode under the essay's title (an interview about it); a citation weeks before the
    // work was written is of something else.
    let own_headline = citing_note("Winter reading", title);
    assert_eq!(verdict(&own_headline, &work), Decision::New);
    let uncited = retelling(
        "The last lighthouse keepers of the north, and the towns they left",
        "Ada Wick",
    );
    assert_eq!(verdict(&uncited, &work), Decision::New);
    let interview = Item {
        kind: ItemKind::Episode,
        ..retelling(title, "Ada Wick")
    };
    assert_eq!(verdict(&interview, &work), Decision::New);
    let later_work = [candidate_as(1, &essay, day(20), Role::Origin)];
    assert_eq!(verdict(&note, &later_work), Decision::New);
    // Citing two of the writer's works, it is about neither.
    let other = item(
        "Lighthouse keepers of the north remembered",
        Some("https://coast.example/p/remembered"),
        Some(KEEPERS_NOTES_ESSAY),
    );
    let mut two = work.to_vec();
    two.push(Candidate {
        source: "feed-1".into(),
        ..candidate_as(2, &other, five_months_before, Role::Origin)
    });
    let both = citing_note(
        "What I read: lighthouse keepers",
        &format!("{title}&rdquo; and &ldquo;Lighthouse keepers of the north remembered"),
    );
    assert_eq!(verdict(&both, &two), Decision::New);
    // Stored before the work was read, it is asked again when the work comes, and ends the
    // same.
    let stored = candidate_as(3, &note, day(9), Role::Mirror);
    assert_eq!(
        reconsider(&stored, &work, &decorations, &thresholds)
            .map(|(story, reason, _, role)| (story, reason, role)),
        Some((1, MatchReason::Named, MemberRole::Coverage))
    );
}

#[test]
fn a_mirror_that_joins_mirrors_alone_and_cites_a_work_brings_them_to_the_work() {
    let mut decorations = Decorations::default();
    decorations.add_for("feed-1", ["Coast Letters", "Ada Wick"]);
    let title = "The last lighthouse keepers of the north";
    let essay = item(
        title,
        Some("https://coast.example/p/keepers"),
        Some(KEEPERS_NOTES_ESSAY),
    );
    let headline = "Why the lighthouse keepers finally went home for good";
    // Another site's page under the same headline came first and met no work; this one cites
    // the essay months after it.
    let first = item(
        headline,
        Some("https://one.example/9"),
        Some("<p>A short note on coastal history, with a link to read.</p>"),
    );
    let note = citing_note(headline, title);
    let thresholds = Thresholds::default();
    let work = candidate_as(1, &essay, day(9) - Duration::days(150), Role::Origin);
    let mirrors = candidate_as(5, &first, day(9), Role::Mirror);
    let probe = Probe::new(&note, Role::Mirror, day(9), &decorations, &HashSet::new());
    let words = content_words(&note.title, note.body());
    let (_, led) = by_title_then_led(&probe, &words, &mirrors, &work, &thresholds);
    assert_eq!(
        joined_as(&led),
        Some((1, MatchReason::Named, MemberRole::Coverage)),
        "the note cites the essay and names its writer"
    );
    let Decision::Join { also, .. } = led else {
        unreachable!("joined above")
    };
    assert_eq!(also, vec![5]);
}

#[test]
fn a_headline_reads_as_its_key_and_words_each_time_it_is_asked() {
    // `reconsider` reads a stored mirror's headline through a memo: what it hands back is
    // what the headline reads as, the first time and after.
    for title in [
        "Op-ed: The Shape of Things to Come - by A. Writer",
        "Ep. 12 | Why the models got cheaper",
    ] {
        for _ in 0..2 {
            let read = headline(title);
            assert_eq!(read.key, title_key(title), "{title}");
            assert_eq!(read.words, content_words(title, None), "{title}");
        }
    }
}

#[test]
fn a_title_key_reads_as_the_same_words_from_the_memo() {
    // `match_candidate` reads title keys' words through a memo (`stored::title_words`).
    let short = "multimodal interactive and efficient world models";
    let long = "causal world models should be multimodal interactive and efficient";
    for _ in 0..2 {
        let memoised = stored::title_words(short).likeness(&stored::title_words(long));
        assert_eq!(
            memoised,
            TitleWords::of(short).likeness(&TitleWords::of(long))
        );
        assert!(memoised.0 > 0.5, "{memoised:?}");
    }
}

/// A writer's essay and, a week later, their episode about it under a title of its own,
/// whose notes open with the essay's title: one work, found from either side. Another
/// writer's episode citing the same title, a generic title cited, or the same episode two
/// months on, is not.
#[test]
fn an_episode_whose_notes_cite_the_writers_post_joins_it_from_either_side() {
    let mut decorations = Decorations::default();
    decorations.add_for("letter", ["The Tide Letter", "Ada Example"]);
    decorations.add_for("tide-show", ["Ada Example's Tide Show", "Ada Example"]);
    decorations.add_for("other-show", ["Other Show", "Bea Other"]);
    let mut post = item("Is the tide turning?", None, Some(ESSAY));
    post.source = "letter".into();
    let notes = "<p>Is the tide turning? In this episode the host walks through five gauges \
        of the coast, from harbour records to the keepers' diaries.</p>";
    let episode_from = |source: &str, title: &str, body: &str| {
        let mut episode = item(title, None, Some(body));
        episode.source = source.into();
        episode.kind = ItemKind::Episode;
        episode
    };
    let episode = episode_from("tide-show", "Five signs the tide is turning", notes);
    let stored = |item: &Item, story_id: i64, at| {
        let mut candidate = candidate_as(story_id, item, at, Role::Origin);
        candidate.title_keys = title_keys(&item.title, &decorations);
        candidate.source = item.source.clone();
        candidate
    };
    let probe_of =
        |item: &Item, at| Probe::new(item, Role::Origin, at, &decorations, &HashSet::new());
    let thresholds = Thresholds::default();
    // The verdict on `new`, the one stored item being `old`.
    let verdict = |new: &Item, at, old: &Item, old_at| {
        decide(&probe_of(new, at), &[stored(old, 1, old_at)], &thresholds)
    };
    assert_eq!(decorations.kin_of("letter"), vec!["tide-show".to_owned()]);
    assert!(decorations.kin_of("other-show").is_empty());
    // A name shared by a whole network's shows is the publisher's: no kin.
    let mut network = decorations.clone();
    for show in 0..8 {
        network.add_for(&format!("network-{show}"), ["Ada Example"]);
    }
    assert!(network.kin_of("letter").is_empty());

    // The episode after the post, and the post after the episode.
    let after = verdict(&episode, day(9), &post, day(2));
    assert_eq!(
        joined_as(&after),
        Some((1, MatchReason::Cited, MemberRole::Episode))
    );
    let before = verdict(&post, day(2), &episode, day(9));
    assert_eq!(
        joined_as(&before),
        Some((1, MatchReason::Cited, MemberRole::Post))
    );

    // Another writer's show citing the title is talking about the essay: a work of its own.
    let elsewhere = episode_from("other-show", "Five signs the tide is turning", notes);
    let other = verdict(&elsewhere, day(9), &post, day(2));
    assert_eq!(other, Decision::New);

    // Past the content window, the same notes are a look back.
    let late = verdict(&episode, day(2) + Duration::days(60), &post, day(2));
    assert_eq!(late, Decision::New);

    // An interview whose notes point to the post further down is an episode of its own.
    let interview = episode_from(
        "tide-show",
        "A harbour pilot on charts and tides",
        "<p>A conversation with a harbour pilot about charts, tide tables and the apprentices \
         who learn them, and the radio calls of a stormy night. For more, see my essay Is the \
         tide turning?</p>",
    );
    let pointed = verdict(&interview, day(9), &post, day(2));
    assert_eq!(pointed, Decision::New);

    // A generic title cites nothing in particular, nor does one of two words, however
    // meaningful: notes open with such a phrase.
    for (title, notes) in [
        ("Weekly links", "<p>Weekly links, read aloud.</p>"),
        (
            "Turning tides",
            "<p>Turning tides move the channel east each winter, and the pilots know it.</p>",
        ),
    ] {
        let mut post = item(title, None, Some(ESSAY));
        post.source = "letter".into();
        let citing = episode_from("tide-show", "Five signs along the harbour", notes);
        let uncited = verdict(&citing, day(9), &post, day(2));
        assert_eq!(uncited, Decision::New, "{title}");
    }
}
