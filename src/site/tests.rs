use chrono::TimeZone;

use super::*;
use crate::model::{ItemKind, MatchReason, MemberRole, Role};
use crate::store::{MemberLine, PollState, StoryCard, StoryPage};

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 14, hour, 0, 0)
        .single()
        .expect("valid date")
}

fn source(state: PollState) -> SourceRecord {
    SourceRecord {
        id: 1,
        name: "news".into(),
        url: "https://news.example/feed".into(),
        role: Role::Origin,
        state,
        items_seen: 3,
    }
}

#[test]
fn feed_status_names_the_trouble_first() {
    let now = at(12);
    let status = |state: PollState| FeedStatus::of(&source(state), now);
    assert_eq!(status(PollState::default()), FeedStatus::NeverPolled);
    let ok = PollState {
        last_status: Some("ok".into()),
        ..PollState::default()
    };
    assert_eq!(status(ok.clone()), FeedStatus::Ok);
    assert_eq!(
        status(PollState {
            last_status: Some("not modified".into()),
            ..ok.clone()
        }),
        FeedStatus::NotModified
    );
    assert_eq!(
        status(PollState {
            moved_to: Some("https://new.example/feed".into()),
            ..ok.clone()
        }),
        FeedStatus::Moved
    );
    let failing = PollState {
        last_status: Some("error".into()),
        consecutive_errors: 2,
        ..PollState::default()
    };
    assert_eq!(status(failing), FeedStatus::Failing);
    let limited = PollState {
        last_status: Some("rate limited".into()),
        consecutive_errors: 1,
        retry_after: Some(at(13)),
        ..PollState::default()
    };
    assert_eq!(status(limited.clone()), FeedStatus::BackingOff);
    // Once the Retry-After has passed, the feed is simply failing until it answers.
    assert_eq!(
        status(PollState {
            retry_after: Some(at(11)),
            ..limited
        }),
        FeedStatus::Failing
    );
    assert_eq!(
        status(PollState {
            gone: true,
            last_status: Some("gone".into()),
            ..PollState::default()
        }),
        FeedStatus::Gone
    );
    let mut order = [
        FeedStatus::Ok,
        FeedStatus::Gone,
        FeedStatus::NotModified,
        FeedStatus::Failing,
        FeedStatus::BackingOff,
    ];
    order.sort();
    assert_eq!(order[0], FeedStatus::Failing);
    assert!(order[..3].iter().all(|s| s.is_trouble()));
}

#[test]
fn page_numbers_count_from_one_and_name_a_bad_one() {
    assert_eq!(page_query(None).expect("none"), (1, None));
    assert_eq!(page_query(Some("utm_source=x")).expect("other"), (1, None));
    assert_eq!(page_query(Some("page=3")).expect("three"), (3, None));
    assert_eq!(
        page_query(Some("page=3&after=120")).expect("after"),
        (3, Some(120))
    );
    for bad in ["page=0", "page=-1", "page=two", "page="] {
        let error = page_query(Some(bad)).expect_err(bad);
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        let value = bad.trim_start_matches("page=");
        assert!(error.to_string().contains(&format!("`{value}`")), "{error}");
    }
    let error = page_query(Some("page=2&after=x")).expect_err("a bad story");
    assert!(error.to_string().contains("`x`"), "{error}");
}

#[test]
fn only_web_links_are_links() {
    assert_eq!(
        web_link("https://a.example/p?x=1").as_deref(),
        Some("https://a.example/p?x=1")
    );
    assert!(web_link("http://a.example/").is_some());
    for bad in [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>",
        "/relative",
        "vbscript:x",
        "",
    ] {
        assert_eq!(web_link(bad), None, "{bad}");
    }
}

#[test]
fn shell_words_are_quoted_when_needed() {
    assert_eq!(shell_word("/etc/tributary.toml"), "/etc/tributary.toml");
    assert_eq!(shell_word("/my dir/it's.toml"), r"'/my dir/it'\''s.toml'");
    assert_eq!(shell_word("$(rm)"), "'$(rm)'");
}

fn member(item: i64, feed: &str, title: &str, link: &str) -> MemberLine {
    MemberLine {
        item,
        feed: feed.into(),
        role: Role::Origin,
        kind: ItemKind::Post,
        member_role: MemberRole::Post,
        title: title.into(),
        link: Some(link.into()),
        published: at(9),
        evidence: MatchReason::New,
        score: 1.0,
        enclosure: None,
    }
}

#[test]
fn feed_values_are_escaped_and_bad_links_dropped() {
    let settings = Settings::default();
    let mut episode = member(
        2,
        "pod\"><script>alert(3)</script>",
        "Ep <img src=x onerror=alert(2)>",
        "https://pod.example/ep",
    );
    episode.kind = ItemKind::Episode;
    episode.member_role = MemberRole::Episode;
    episode.enclosure = Some(("javascript:alert(4)".into(), None));
    let page = StoryPage {
        stories: vec![StoryCard {
            number: 7,
            published: at(9),
            members: vec![
                member(
                    1,
                    "news",
                    "<script>alert(1)</script> & more",
                    "javascript:alert(1)",
                ),
                episode,
            ],
            summary_html: Some("<p>Fish &amp; <b>chips</b> <script>x</script></p>".into()),
            corrected: true,
        }],
        more: true,
    };
    let html = pages::index(&settings, &page, 1).into_string();
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("javascript:"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
        "{html}"
    );
    assert!(
        !html.contains("<audio"),
        "a javascript: enclosure plays nothing"
    );
    assert!(html.contains("corrected by hand"));
    assert!(
        html.contains(r#"rel="next" href="/?page=2&amp;after=7""#),
        "{html}"
    );
    assert!(html.contains(r#"<link rel="alternate" type="application/atom+xml""#));
    assert!(html.contains(r#"href="http://127.0.0.1:8088/feed.json""#));
    assert_eq!(html.matches("<h1").count(), 1);
}

#[test]
fn the_commands_name_the_config_the_daemon_runs_with() {
    let settings = Settings {
        config_path: Some(PathBuf::from("/etc/my tributary.toml")),
        ..Settings::default()
    };
    let story = crate::store::ExplainedStory {
        number: 4,
        folded: Some(9),
        atom_id: "urn:tributary:story:abc".into(),
        published: at(9),
        members: vec![
            member(17, "news", "A work", "https://news.example/a"),
            member(18, "agg", "A work | Digest", "https://agg.example/a"),
        ],
        corrections: Vec::new(),
    };
    let html = pages::explain(&settings, &story).into_string();
    assert!(
        html.contains("tributary --config '/etc/my tributary.toml' stories split 18"),
        "{html}"
    );
    assert!(html.contains("stories merge 4 OTHER"), "{html}");
    assert!(html.contains("Story 9 was folded into this one"), "{html}");
    assert!(html.contains("3 days"), "the title window: {html}");
}
