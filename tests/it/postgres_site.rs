//! The site's reads (`SiteReader`) on PostgreSQL against a real server the tests start
//! themselves (`common::postgres`): after the same ingest, corrections and deliveries on both
//! backends, every read gives what SQLite's gives. Row numbers are left out of the comparison
//! where they may differ (PostgreSQL's identities can skip values SQLite reuses), and the
//! stories are dated apart so that the feed order never rests on them.

use chrono::{DateTime, TimeZone, Utc};
use tributary::config::Config;
use tributary::ingest::{self, IngestContext};
use tributary::model::{Enclosure, Item, ItemKind};
use tributary::normalize::ParsedItem;
use tributary::store::{
    DeliveryUpdate, ExplainedStory, MemberLine, PageStart, PollState, SinkDeliveries, SiteReader,
    StorageTarget, Store, StoryCard,
};

use crate::common::items::post;
use crate::common::postgres::Cluster;

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, day, 9, 0, 0)
        .single()
        .expect("valid date")
}

fn item(source: &str, guid: &str, title: &str, day: u32) -> Item {
    Item {
        link: Some(format!("https://{source}.example/p/{guid}")),
        ..post(
            source,
            guid,
            title,
            &format!("<p>{title}: the whole text of the work.</p>"),
            Some(at(day)),
        )
    }
}

/// The same polls, corrections and deliveries on `store`: one story of three members (post,
/// episode, a mirror's copy split out and merged back by hand), four stories of one post, and
/// a webhook outbox with one delivery of each state.
fn fill(store: &mut Store) {
    let config = Config::parse(
        "[[feeds]]\nname = \"news\"\nurl = \"https://news.example/feed\"\n\
         [[feeds]]\nname = \"pod\"\nurl = \"https://pod.example/feed\"\n\
         [[feeds]]\nname = \"agg\"\nurl = \"https://agg.example/feed\"\nrole = \"mirror\"\n",
        "test",
    )
    .expect("config");
    store.sync_sources(&config.feeds).expect("sync");
    let context = IngestContext::new(&config);
    let poll = |store: &mut Store, name: &str, items: Vec<Item>| {
        let source = store.source(name).expect("source");
        let parsed: Vec<ParsedItem> = items.into_iter().map(ParsedItem::from).collect();
        ingest::ingest(
            store,
            &source,
            &parsed,
            &PollState::default(),
            &context,
            at(20),
        )
        .expect("ingest");
    };
    let title = "Why open models keep closing the gap";
    let mut news = vec![item("news", "work", title, 10)];
    news.extend((1..5).map(|n| {
        item(
            "news",
            &format!("other-{n}"),
            &format!("Other work number {n} about nothing"),
            n,
        )
    }));
    poll(store, "news", news);
    let mut episode = item("pod", "ep", title, 11);
    episode.kind = ItemKind::Episode;
    episode.enclosure = Some(Enclosure {
        url: "https://pod.example/ep.mp3".into(),
        mime_type: Some("audio/mpeg".into()),
        length: Some(1),
    });
    poll(store, "pod", vec![episode]);
    let mut copy = item("agg", "copy", title, 12);
    copy.link = Some("https://news.example/p/work".into());
    poll(store, "agg", vec![copy]);

    let mut reader = SiteReader::open(store.target().clone()).expect("reader");
    let newest = reader
        .story_page(PageStart::Offset(0), 3)
        .expect("page")
        .stories;
    let story = &newest[0];
    let copy = story.members[2].item;
    let split = store.split_item(copy, at(21)).expect("split");
    store
        .merge_stories(&story.number.to_string(), &split.story.to_string(), at(22))
        .expect("merge");

    {
        let write = store.begin_write().expect("write");
        for (story, key) in newest.iter().zip(["a", "b", "c"]) {
            write
                .enqueue_notification(story.number, "hook", key, at(20), at(20))
                .expect("enqueue");
        }
        write.commit().expect("commit");
    }
    let due = store.due_deliveries(at(21), None, 10, None).expect("due");
    let delivered = DeliveryUpdate::Delivered {
        remote_id: None,
        generation: 0,
    };
    store
        .record_delivery(due[0].id, &delivered, at(21))
        .expect("delivered");
    let refused = DeliveryUpdate::Dead {
        error: "HTTP 404 from the hook".into(),
    };
    store
        .record_delivery(due[1].id, &refused, at(21))
        .expect("dead");
}

/// A member without its item number.
fn member(line: &MemberLine) -> MemberLine {
    MemberLine {
        item: 0,
        ..line.clone()
    }
}

/// A card without its story's and members' numbers.
fn card(story: &StoryCard) -> StoryCard {
    StoryCard {
        number: 0,
        members: story.members.iter().map(member).collect(),
        ..story.clone()
    }
}

/// An explained story without numbers: its members, its Atom id and date, and its corrections'
/// actions and times.
fn explained(story: &ExplainedStory) -> (String, DateTime<Utc>, Vec<MemberLine>, Vec<String>) {
    (
        story.atom_id.clone(),
        story.published,
        story.members.iter().map(member).collect(),
        story
            .corrections
            .iter()
            .map(|c| format!("{} {}", c.action.as_str(), c.at))
            .collect(),
    )
}

/// Every read of the site, numbers left out: each page of two stories (by offset and after
/// the page before), each story explained, the feeds, the deliveries.
type Reads = (
    Vec<(bool, Vec<StoryCard>)>,
    Vec<(String, DateTime<Utc>, Vec<MemberLine>, Vec<String>)>,
    Vec<tributary::store::SourceRecord>,
    Vec<SinkDeliveries>,
);

fn reads(target: StorageTarget) -> Reads {
    let mut reader = SiteReader::open(target).expect("reader");
    let mut pages = Vec::new();
    let mut stories = Vec::new();
    let mut offset = 0;
    loop {
        let page = reader
            .story_page(PageStart::Offset(offset), 2)
            .expect("page");
        if let Some(last) = page.stories.last().filter(|_| page.more) {
            let next = reader
                .story_page(PageStart::After(last.number), 2)
                .expect("next page");
            let by_offset = reader
                .story_page(PageStart::Offset(offset + 2), 2)
                .expect("page by offset");
            assert_eq!(next, by_offset, "both ways reach the same page");
        }
        for story in &page.stories {
            let full = reader
                .explain(story.number)
                .expect("explain")
                .expect("a shown story");
            stories.push(explained(&full));
        }
        pages.push((page.more, page.stories.iter().map(card).collect()));
        if !page.more {
            break;
        }
        offset += 2;
    }
    let mut deliveries = reader.deliveries(10).expect("deliveries");
    for sink in &mut deliveries {
        for dead in &mut sink.dead_recent {
            dead.story = 0;
        }
    }
    (pages, stories, reader.feeds().expect("feeds"), deliveries)
}

#[test]
fn site_reads_as_on_sqlite() {
    let Some(cluster) = Cluster::start("site_reads_as_on_sqlite") else {
        return;
    };
    let url = cluster.database("site");
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite_target = StorageTarget::Sqlite(dir.path().join("t.db"));
    let pg_target = StorageTarget::parse(&url, dir.path()).expect("a PostgreSQL URL");
    let mut sqlite = Store::open(sqlite_target.clone()).expect("SQLite store");
    let mut pg = Store::open(pg_target.clone()).expect("PostgreSQL store");
    fill(&mut sqlite);
    fill(&mut pg);

    let expected = reads(sqlite_target);
    let (pages, stories, feeds, deliveries) = &expected;
    assert_eq!(pages.len(), 3, "five stories, two a page: {pages:#?}");
    assert_eq!(stories[0].2.len(), 3, "the newest story has three members");
    assert_eq!(stories[0].3.len(), 2, "a split and a merge");
    assert!(pages[0].1[0].corrected);
    assert_eq!(feeds.len(), 3);
    assert_eq!(
        (
            deliveries[0].pending,
            deliveries[0].delivered,
            deliveries[0].dead
        ),
        (1, 1, 1)
    );
    assert_eq!(reads(pg_target.clone()), expected);
}
