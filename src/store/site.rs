//! What the site's pages read: a page of stories, one story's members and corrections, the
//! feeds' health, the outbox per sink.
//!
//! Design decision: a [`SiteReader`] is its own connection, opened read-only, so nothing the
//! site does can write (SQLite refuses it), and WAL mode lets it read while the poll loop
//! writes. Each read loads only what its page shows: the fields of an item are picked out of
//! its stored JSON by SQLite (`json_extract`), so an item's text never leaves the database
//! except as the short prefix a summary line is cut from, and a page of stories reads only
//! that page's rows through the indexes, whatever the store holds.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{
    Correction, Result, SOURCE_SELECT, SourceRecord, StoreError, parse_timestamp, source_from_row,
};
use crate::model::{ItemKind, MatchReason, MemberRole, Role};

/// How long a page waits for a lock. Readers never wait for the WAL writer; this covers only
/// a checkpoint's brief exclusive moments.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// One member of a story, as the pages show it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberLine {
    /// The item's number, as `stories split` takes it.
    pub item: i64,
    pub feed: String,
    pub role: Role,
    pub kind: ItemKind,
    pub member_role: MemberRole,
    pub title: String,
    pub link: Option<String>,
    /// The item's own date, or when it was first seen.
    pub published: DateTime<Utc>,
    pub evidence: MatchReason,
    pub score: f64,
    /// The audio or video file (URL, MIME type) an episode carries.
    pub enclosure: Option<(String, Option<String>)>,
}

/// A story on the front page.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryCard {
    pub number: i64,
    pub published: DateTime<Utc>,
    /// Lead first, in the order [`crate::model::lead_rank`] gives.
    pub members: Vec<MemberLine>,
    /// The start of the first member's sanitised summary (else its content) that has any:
    /// enough HTML for one line of text, never the whole post.
    pub summary_html: Option<String>,
    /// A person split or merged it (`stories split`, `stories merge`).
    pub corrected: bool,
}

/// One page of the newest stories.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryPage {
    pub stories: Vec<StoryCard>,
    /// Older stories follow on the next page.
    pub more: bool,
}

/// A story with everything its explain view shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainedStory {
    /// The story that holds the members now.
    pub number: i64,
    /// The number asked for, when it was folded into `number`.
    pub folded: Option<i64>,
    pub atom_id: String,
    pub published: DateTime<Utc>,
    pub members: Vec<MemberLine>,
    /// Oldest first.
    pub corrections: Vec<Correction>,
}

/// The outbox of one sink.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkDeliveries {
    pub sink: String,
    pub pending: i64,
    pub delivered: i64,
    pub dead: i64,
    /// The newest dead deliveries, newest first.
    pub dead_recent: Vec<DeadDelivery>,
}

/// A delivery given up on, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadDelivery {
    pub story: i64,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub error: Option<String>,
}

/// A read-only connection for the site's pages.
pub struct SiteReader {
    conn: Connection,
}

/// Where a page of stories starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStart {
    /// After this many of the newest stories: any page, but SQLite steps over every story
    /// before it.
    Offset(usize),
    /// Right after this story, in feed order: the next page, reached through the index
    /// whatever its depth.
    After(i64),
}

/// The heads of a page: the stories not folded into another, newest first (in the order of
/// the `stories_published` index, whose entries end with the id), `?1` of them from where
/// `$start` says, each with whether a person corrected it.
macro_rules! heads_sql {
    ($start:literal, $limit:literal) => {
        concat!(
            "SELECT id, published, EXISTS (SELECT 1 FROM corrections
                WHERE corrections.story_id = stories.id OR corrections.other_id = stories.id)
             FROM stories WHERE merged_into IS NULL",
            $start,
            " ORDER BY published DESC, id DESC ",
            $limit
        )
    };
}

/// After the first `?2` stories.
const HEADS_SQL: &str = heads_sql!("", "LIMIT ?1 OFFSET ?2");

/// After story `?2`.
const HEADS_SQL_AFTER: &str = heads_sql!(
    " AND (published, id) < (SELECT published, id FROM stories WHERE id = ?2)",
    "LIMIT ?1"
);

/// Members in lead order (origin before mirror, post before episode, earliest, lowest id), as
/// `model::lead_rank` orders them; a unit test keeps the two in step.
const MEMBERS_SQL: &str = "SELECT items.id, sources.name, sources.role,
        json_extract(items.data, '$.kind'), items.member_role,
        json_extract(items.data, '$.title'), json_extract(items.data, '$.link'),
        items.published, items.match_reason, items.match_score,
        json_extract(items.data, '$.enclosure.url'),
        json_extract(items.data, '$.enclosure.mime_type')
     FROM items JOIN sources ON sources.id = items.source_id
     WHERE items.story_id = ?1
     ORDER BY sources.role <> 'origin', json_extract(items.data, '$.kind') = 'episode',
        items.published, items.id";

/// The first member, in lead order, with any summary or content: its first `?2` characters.
const SUMMARY_SQL: &str = "SELECT substr(coalesce(json_extract(items.data, '$.summary'),
            json_extract(items.data, '$.content')), 1, ?2)
     FROM items JOIN sources ON sources.id = items.source_id
     WHERE items.story_id = ?1
        AND coalesce(json_extract(items.data, '$.summary'),
            json_extract(items.data, '$.content')) <> ''
     ORDER BY sources.role <> 'origin', json_extract(items.data, '$.kind') = 'episode',
        items.published, items.id
     LIMIT 1";

/// Characters of a summary's HTML read for the one line the front page shows: a line is
/// cut at about 200 characters of text, and markup rarely triples that.
const SUMMARY_HTML_CHARS: i64 = 1_500;

impl SiteReader {
    /// Opens an existing database read-only; a missing file is an error, never a new database.
    pub fn open(path: &Path) -> Result<SiteReader> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        Ok(SiteReader { conn })
    }

    /// `per_page` stories, newest first, from where `start` says. One read transaction, so a
    /// page never shows a story half moved by a poll.
    pub fn story_page(&mut self, start: PageStart, per_page: usize) -> Result<StoryPage> {
        let tx = self.conn.transaction()?;
        // One more than the page holds says whether another page follows.
        let limit = super::sql_limit(per_page).saturating_add(1);
        let heads = {
            let (mut stmt, bound) = match start {
                PageStart::Offset(offset) => (
                    tx.prepare_cached(HEADS_SQL)?,
                    i64::try_from(offset).unwrap_or(i64::MAX),
                ),
                PageStart::After(story) => (tx.prepare_cached(HEADS_SQL_AFTER)?, story),
            };
            stmt.query_map(params![limit, bound], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, bool>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?
        };
        let more = heads.len() > per_page;
        let mut stories = Vec::with_capacity(per_page.min(heads.len()));
        for (number, published, corrected) in heads.into_iter().take(per_page) {
            let members = members(&tx, number)?;
            if members.is_empty() {
                continue;
            }
            let summary_html = tx
                .prepare_cached(SUMMARY_SQL)?
                .query_row(params![number, SUMMARY_HTML_CHARS], |row| row.get(0))
                .optional()?;
            stories.push(StoryCard {
                number,
                published: parse_timestamp(&published).unwrap_or_default(),
                members,
                summary_html,
                corrected,
            });
        }
        tx.commit()?;
        Ok(StoryPage { stories, more })
    }

    /// Story `number` for its explain view. A story folded into another resolves to the story
    /// that holds its members now, as `stories --explain` does. The merge chain ends: only a
    /// story not itself merged is ever folded into (see `store::resolve_story`).
    pub fn explain(&mut self, number: i64) -> Result<Option<ExplainedStory>> {
        let tx = self.conn.transaction()?;
        // By number through the primary key, following merges: `resolve_story` also accepts
        // an Atom id, which costs a scan of every story.
        let mut head = number;
        let (atom_id, published) = loop {
            let row: Option<(String, String, Option<i64>)> = tx
                .prepare_cached(
                    "SELECT atom_id, published, merged_into FROM stories WHERE id = ?1",
                )?
                .query_row([head], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .optional()?;
            match row {
                None => return Ok(None),
                Some((_, _, Some(into))) => head = into,
                Some((atom_id, published, None)) => break (atom_id, published),
            }
        };
        let members = members(&tx, head)?;
        let corrections = super::corrections::corrections_of(&tx, head)?;
        tx.commit()?;
        Ok(Some(ExplainedStory {
            number: head,
            folded: (number != head).then_some(number),
            atom_id,
            published: parse_timestamp(&published).unwrap_or_default(),
            members,
            corrections,
        }))
    }

    /// Every feed the store knows, with its poll state, by name.
    pub fn feeds(&self) -> Result<Vec<SourceRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{SOURCE_SELECT} ORDER BY name"))?;
        let rows = stmt.query_map([], |row| source_from_row(row))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Per sink that has deliveries: its counts, and its newest `dead_shown` dead deliveries
    /// with their last errors.
    pub fn deliveries(&mut self, dead_shown: usize) -> Result<Vec<SinkDeliveries>> {
        let tx = self.conn.transaction()?;
        let mut sinks = {
            let mut stmt = tx.prepare_cached(
                "SELECT sink, sum(state = 'pending'), sum(state = 'delivered'),
                        sum(state = 'dead')
                 FROM outbox GROUP BY sink ORDER BY sink",
            )?;
            stmt.query_map([], |row| {
                Ok(SinkDeliveries {
                    sink: row.get(0)?,
                    pending: row.get(1)?,
                    delivered: row.get(2)?,
                    dead: row.get(3)?,
                    dead_recent: Vec::new(),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?
        };
        for sink in sinks.iter_mut().filter(|sink| sink.dead > 0) {
            let mut stmt = tx.prepare_cached(
                "SELECT story_id, attempts, created_at, last_error FROM outbox
                 WHERE state = 'dead' AND sink = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            sink.dead_recent = stmt
                .query_map(params![sink.sink, super::sql_limit(dead_shown)], |row| {
                    Ok(DeadDelivery {
                        story: row.get(0)?,
                        attempts: super::saturating_u32(row.get(1)?),
                        created_at: parse_timestamp(&row.get::<_, String>(2)?).unwrap_or_default(),
                        error: row.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
        }
        tx.commit()?;
        Ok(sinks)
    }
}

/// A story's members in lead order, with only the fields the pages show.
fn members(conn: &Connection, story: i64) -> Result<Vec<MemberLine>> {
    let mut stmt = conn.prepare_cached(MEMBERS_SQL)?;
    let rows = stmt.query_map([story], |row| {
        let role = Role::parse(&row.get::<_, String>(2)?).unwrap_or_default();
        let kind = row
            .get::<_, Option<String>>(3)?
            .as_deref()
            .and_then(ItemKind::parse)
            .unwrap_or_default();
        let member_role = row
            .get::<_, Option<String>>(4)?
            .as_deref()
            .and_then(MemberRole::parse)
            // Items stored before roles were recorded get the role their feed implies.
            .unwrap_or_else(|| MemberRole::implied(role, kind));
        let enclosure = row
            .get::<_, Option<String>>(10)?
            .map(|url| Ok::<_, rusqlite::Error>((url, row.get::<_, Option<String>>(11)?)))
            .transpose()?;
        Ok(MemberLine {
            item: row.get(0)?,
            feed: row.get(1)?,
            role,
            kind,
            member_role,
            title: row.get::<_, Option<String>>(5)?.unwrap_or_default(),
            link: row.get(6)?,
            published: parse_timestamp(&row.get::<_, String>(7)?).unwrap_or_default(),
            evidence: MatchReason::parse(&row.get::<_, String>(8)?).unwrap_or(MatchReason::New),
            score: row.get(9)?,
            enclosure,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::config::Config;
    use crate::ingest::{self, IngestContext};
    use crate::model::{Enclosure, Item};
    use crate::normalize::ParsedItem;
    use crate::store::{DeliveryUpdate, PollState, Store};

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 4, day, 9, 0, 0)
            .single()
            .expect("valid date")
    }

    fn item(source: &str, guid: &str, title: &str, day: u32) -> Item {
        Item {
            source: source.into(),
            guid: guid.into(),
            link: Some(format!("https://{source}.example/p/{guid}")),
            title: title.into(),
            authors: vec![],
            published: Some(at(day)),
            updated: None,
            summary: None,
            content: Some(format!("<p>{title}: the whole text of the work.</p>")),
            categories: vec![],
            kind: ItemKind::Post,
            enclosure: None,
            duration: None,
            image: None,
            podcast: Default::default(),
        }
    }

    /// A store with one story of three members (post, episode, mirror copy) and `extra`
    /// stories of one post each.
    fn store_with(dir: &tempfile::TempDir, extra: u32) -> Store {
        let config = Config::parse(
            "[[feeds]]\nname = \"news\"\nurl = \"https://news.example/feed\"\n\
             [[feeds]]\nname = \"pod\"\nurl = \"https://pod.example/feed\"\n\
             [[feeds]]\nname = \"agg\"\nurl = \"https://agg.example/feed\"\nrole = \"mirror\"\n",
            "test",
        )
        .expect("config");
        let mut store = Store::open(dir.path().join("t.db")).expect("open");
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
        news.extend((0..extra).map(|n| {
            item(
                "news",
                &format!("other-{n}"),
                &format!("Other work number {n} about nothing"),
                1,
            )
        }));
        poll(&mut store, "news", news);
        let mut episode = item("pod", "ep", title, 11);
        episode.kind = ItemKind::Episode;
        episode.enclosure = Some(Enclosure {
            url: "https://pod.example/ep.mp3".into(),
            mime_type: Some("audio/mpeg".into()),
            length: Some(1),
        });
        poll(&mut store, "pod", vec![episode]);
        let mut copy = item("agg", "copy", title, 12);
        copy.link = Some("https://news.example/p/work".into());
        poll(&mut store, "agg", vec![copy]);
        store
    }

    #[test]
    fn a_page_holds_the_members_in_lead_order_with_audio_and_summary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_with(&dir, 0);
        let mut reader = SiteReader::open(&dir.path().join("t.db")).expect("reader");
        let page = reader.story_page(PageStart::Offset(0), 10).expect("page");
        assert!(!page.more);
        let [story] = page.stories.as_slice() else {
            panic!("one story: {page:?}");
        };
        let full = store
            .story(&story.number.to_string())
            .expect("story")
            .expect("found");
        let ids: Vec<i64> = story.members.iter().map(|m| m.item).collect();
        let lead_order: Vec<i64> = full.members.iter().map(|m| m.stored.id).collect();
        assert_eq!(ids, lead_order, "the same order as model::lead_rank");
        let roles: Vec<&str> = story
            .members
            .iter()
            .map(|m| m.member_role.as_str())
            .collect();
        assert_eq!(roles, ["post", "episode", "copy"]);
        assert_eq!(
            story.members[1].enclosure,
            Some((
                "https://pod.example/ep.mp3".into(),
                Some("audio/mpeg".into())
            ))
        );
        assert_eq!(story.members[0].feed, "news");
        assert_eq!(
            story.members[0].title,
            "Why open models keep closing the gap"
        );
        assert!(
            story
                .summary_html
                .as_deref()
                .is_some_and(|s| s.contains("the whole text")),
            "{story:?}"
        );
        assert!(!story.corrected);
    }

    #[test]
    fn pages_are_cut_newest_first_and_say_whether_more_follow() {
        let dir = tempfile::tempdir().expect("tempdir");
        store_with(&dir, 4);
        let mut reader = SiteReader::open(&dir.path().join("t.db")).expect("reader");
        let first = reader.story_page(PageStart::Offset(0), 2).expect("page 1");
        assert!(first.more);
        assert_eq!(first.stories.len(), 2);
        assert_eq!(first.stories[0].members.len(), 3, "the newest story leads");
        let last = reader.story_page(PageStart::Offset(4), 2).expect("page 3");
        assert!(!last.more);
        assert_eq!(last.stories.len(), 1);
        assert!(
            reader
                .story_page(PageStart::Offset(6), 2)
                .expect("page 4")
                .stories
                .is_empty()
        );
        // The next page reached through its predecessor's last story is the same page.
        let second = reader.story_page(PageStart::Offset(2), 2).expect("page 2");
        let last_shown = first.stories[1].number;
        let after = reader
            .story_page(PageStart::After(last_shown), 2)
            .expect("after");
        assert_eq!(after, second);
    }

    #[test]
    fn explain_follows_folds_and_lists_corrections() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = store_with(&dir, 0);
        let mut reader = SiteReader::open(&dir.path().join("t.db")).expect("reader");
        let story = reader
            .story_page(PageStart::Offset(0), 1)
            .expect("page")
            .stories[0]
            .clone();
        let copy = story.members[2].item;
        let split = store.split_item(copy, at(21)).expect("split");
        let merged = store
            .merge_stories(&story.number.to_string(), &split.story.to_string(), at(22))
            .expect("merge");
        let explained = reader
            .explain(merged.other)
            .expect("explain")
            .expect("found");
        assert_eq!(explained.number, story.number);
        assert_eq!(explained.folded, Some(split.story));
        assert_eq!(explained.members.len(), 3);
        assert_eq!(explained.members[2].evidence, MatchReason::Manual);
        assert_eq!(explained.corrections.len(), 2);
        assert!(
            reader
                .story_page(PageStart::Offset(0), 5)
                .expect("page")
                .stories[0]
                .corrected
        );
        assert_eq!(reader.explain(9_999).expect("explain"), None);
    }

    #[test]
    fn deliveries_count_per_sink_and_keep_the_dead_ones_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = store_with(&dir, 2);
        {
            let write = store.begin_write().expect("write");
            for (story, key) in [(1, "a"), (2, "b"), (3, "c")] {
                write
                    .enqueue_notification(story, "hook", key, at(20), at(20))
                    .expect("enqueue");
            }
            write.commit().expect("commit");
        }
        let due = store.due_deliveries(at(21), None, 10).expect("due");
        store
            .record_delivery(
                due[0].id,
                &DeliveryUpdate::Delivered {
                    remote_id: None,
                    generation: 0,
                },
                at(21),
            )
            .expect("delivered");
        let refused = DeliveryUpdate::Dead {
            error: "HTTP 404 from the hook".into(),
        };
        store
            .record_delivery(due[1].id, &refused, at(21))
            .expect("dead");
        let mut reader = SiteReader::open(&dir.path().join("t.db")).expect("reader");
        let sinks = reader.deliveries(10).expect("deliveries");
        let [hook] = sinks.as_slice() else {
            panic!("one sink: {sinks:?}");
        };
        assert_eq!((hook.pending, hook.delivered, hook.dead), (1, 1, 1));
        assert_eq!(hook.dead_recent.len(), 1);
        assert_eq!(
            hook.dead_recent[0].error.as_deref(),
            Some("HTTP 404 from the hook")
        );
        assert_eq!(reader.feeds().expect("feeds").len(), 3);
    }

    #[test]
    fn the_reader_cannot_write_nor_create_a_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        store_with(&dir, 0);
        let reader = SiteReader::open(&dir.path().join("t.db")).expect("reader");
        let refused = reader.conn.execute("DELETE FROM items", []);
        assert!(refused.is_err(), "a read-only connection wrote");
        let missing = dir.path().join("missing.db");
        assert!(SiteReader::open(&missing).is_err());
        assert!(!missing.exists(), "opening created a database");
    }
}
