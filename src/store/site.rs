//! What the site's pages read: a page of stories, one story's members and corrections, the
//! feeds' health, the outbox per sink.
//!
//! Design decision: a [`SiteReader`] is its own connection, opened read-only, so nothing the
//! site does can write (SQLite refuses it; on PostgreSQL its transactions are read-only), and
//! it reads while the poll loop writes (SQLite's WAL mode, PostgreSQL's snapshots). Each read
//! loads only what its page shows: the fields of an item are picked out of its stored JSON by
//! the database (`json_extract`, `::jsonb ->>`), so an item's text never leaves the database
//! except as the short prefix a summary line is cut from, and a page of stories reads only
//! that page's rows through the indexes, whatever the store holds. Each read is written once
//! for both backends (statements as `sql::Twin`s, rows read through `sql::FromRow`).

use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};

use super::corrections::CORRECTIONS_OF;
use super::postgres::{OffRuntime, PgError};
use super::sql::{FromRow, SqlRow, Twin, Value, postgres_params, postgres_text};
use super::{
    Correction, Result, SOURCE_SELECT, SourceRecord, StorageTarget, StoreError, on_postgres,
    parse_timestamp, source_from_row,
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

/// A read-only connection for the site's pages, on either backend.
pub struct SiteReader {
    conn: ReaderConn,
}

enum ReaderConn {
    Sqlite(Connection),
    /// Its own client (a server connection with a backend process), kept by the site's pool
    /// of idle readers between requests; dropped off the runtime (see [`OffRuntime`]).
    Postgres(OffRuntime<::postgres::Client>),
}

/// One read transaction of either backend: every page reads through one, so that the
/// statements of a page are written once.
enum ReadTx<'c> {
    Sqlite(rusqlite::Transaction<'c>),
    Postgres(::postgres::Transaction<'c>),
}

impl ReadTx<'_> {
    fn rows<T: FromRow>(&mut self, statement: &Twin, params: &[Value<'_>]) -> Result<Vec<T>> {
        match self {
            ReadTx::Sqlite(tx) => Ok(tx
                .prepare_cached(statement.sqlite)?
                .query_map(rusqlite::params_from_iter(params), |row| T::from_row(row))?
                .collect::<Result<_, _>>()?),
            ReadTx::Postgres(tx) => tx
                .query(&postgres_text(statement.postgres), &postgres_params(params))
                .map_err(PgError::from)?
                .iter()
                .map(|row| Ok(T::from_row(row).map_err(PgError::from)?))
                .collect(),
        }
    }

    fn row<T: FromRow>(&mut self, statement: &Twin, params: &[Value<'_>]) -> Result<Option<T>> {
        Ok(self.rows(statement, params)?.into_iter().next())
    }

    fn commit(self) -> Result<()> {
        match self {
            ReadTx::Sqlite(tx) => Ok(tx.commit()?),
            ReadTx::Postgres(tx) => Ok(tx.commit().map_err(PgError::from)?),
        }
    }
}

/// Where a page of stories starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStart {
    /// After this many of the newest stories: any page, but the database steps over every
    /// story before it.
    Offset(usize),
    /// Right after this story, in feed order: the next page, reached through the index
    /// whatever its depth.
    After(i64),
}

/// The heads of a page: the stories not folded into another, newest first (in the order of
/// the `stories_published` index, whose entries end with the id), `?1` of them from where
/// `$start` says, each with whether a person corrected it (as 0/1: PostgreSQL's `EXISTS` is a
/// boolean, which has a cast to `int` only).
macro_rules! heads_sql {
    ($open:literal, $close:literal, $start:literal, $limit:literal) => {
        concat!(
            "SELECT id, published, ",
            $open,
            "EXISTS (SELECT 1 FROM corrections
                WHERE corrections.story_id = stories.id OR corrections.other_id = stories.id)",
            $close,
            " FROM stories WHERE merged_into IS NULL",
            $start,
            " ORDER BY published DESC, id DESC ",
            $limit
        )
    };
}

macro_rules! heads_twin {
    ($start:literal, $limit:literal) => {
        Twin {
            sqlite: heads_sql!("", "", $start, $limit),
            postgres: heads_sql!("(", ")::int::bigint", $start, $limit),
        }
    };
}

/// After the first `?2` stories.
const HEADS_SQL: Twin = heads_twin!("", "LIMIT ?1 OFFSET ?2");

/// After story `?2`.
const HEADS_SQL_AFTER: Twin = heads_twin!(
    " AND (published, id) < (SELECT published, id FROM stories WHERE id = ?2)",
    "LIMIT ?1"
);

/// Members in lead order (origin before mirror, post before episode, earliest, lowest id), as
/// `model::lead_rank` orders them; a unit test keeps the two in step. `$kind` is an item's
/// kind; on PostgreSQL its comparison sorts a missing kind first, as SQLite sorts NULL.
macro_rules! members_sql {
    ($kind:literal, $title:literal, $link:literal, $url:literal, $mime:literal, $nulls:literal) => {
        concat!(
            "SELECT items.id, sources.name, sources.role, ",
            $kind,
            ", items.member_role, ",
            $title,
            ", ",
            $link,
            ", items.published, items.match_reason, items.match_score, ",
            $url,
            ", ",
            $mime,
            " FROM items JOIN sources ON sources.id = items.source_id
             WHERE items.story_id = ?1
             ORDER BY sources.role <> 'origin', ",
            $kind,
            " = 'episode'",
            $nulls,
            ", items.published, items.id"
        )
    };
}

const MEMBERS_SQL: Twin = Twin {
    sqlite: members_sql!(
        "json_extract(items.data, '$.kind')",
        "json_extract(items.data, '$.title')",
        "json_extract(items.data, '$.link')",
        "json_extract(items.data, '$.enclosure.url')",
        "json_extract(items.data, '$.enclosure.mime_type')",
        ""
    ),
    postgres: members_sql!(
        "(items.data::jsonb ->> 'kind')",
        "(items.data::jsonb ->> 'title')",
        "(items.data::jsonb ->> 'link')",
        "(items.data::jsonb -> 'enclosure' ->> 'url')",
        "(items.data::jsonb -> 'enclosure' ->> 'mime_type')",
        " NULLS FIRST"
    ),
};

/// The first member, in lead order, with any summary or content: its first `?2` characters.
const SUMMARY_SQL: Twin = Twin {
    sqlite: "SELECT substr(coalesce(json_extract(items.data, '$.summary'),
            json_extract(items.data, '$.content')), 1, ?2)
     FROM items JOIN sources ON sources.id = items.source_id
     WHERE items.story_id = ?1
        AND coalesce(json_extract(items.data, '$.summary'),
            json_extract(items.data, '$.content')) <> ''
     ORDER BY sources.role <> 'origin', json_extract(items.data, '$.kind') = 'episode',
        items.published, items.id
     LIMIT 1",
    // `substr` takes an `int`; the parameter is bound as a 64-bit integer, as everywhere.
    postgres: "SELECT substr(coalesce(items.data::jsonb ->> 'summary',
            items.data::jsonb ->> 'content'), 1, ?2::bigint::int)
     FROM items JOIN sources ON sources.id = items.source_id
     WHERE items.story_id = ?1
        AND coalesce(items.data::jsonb ->> 'summary', items.data::jsonb ->> 'content') <> ''
     ORDER BY sources.role <> 'origin', (items.data::jsonb ->> 'kind') = 'episode' NULLS FIRST,
        items.published, items.id
     LIMIT 1",
};

/// A statement both dialects write the same way.
const fn both(text: &'static str) -> Twin {
    Twin {
        sqlite: text,
        postgres: text,
    }
}

const STORY_HEAD_SQL: Twin =
    both("SELECT atom_id, published, merged_into FROM stories WHERE id = ?1");

const CORRECTIONS_SQL: Twin = both(CORRECTIONS_OF);

/// Every feed by name (`sources.name` sorts bytewise on both backends).
static FEEDS_SQL: LazyLock<String> = LazyLock::new(|| format!("{SOURCE_SELECT} ORDER BY name"));

/// Per sink: SQLite sums its 0/1 comparisons; PostgreSQL's are booleans, counted with `FILTER`.
const SINKS_SQL: Twin = Twin {
    sqlite: "SELECT sink, sum(state = 'pending'), sum(state = 'delivered'), sum(state = 'dead')
         FROM outbox GROUP BY sink ORDER BY sink",
    postgres: "SELECT sink, count(*) FILTER (WHERE state = 'pending'),
            count(*) FILTER (WHERE state = 'delivered'), count(*) FILTER (WHERE state = 'dead')
         FROM outbox GROUP BY sink ORDER BY sink",
};

const DEAD_SQL: Twin = both(
    "SELECT story_id, attempts, created_at, last_error FROM outbox
     WHERE state = 'dead' AND sink = ?1 ORDER BY id DESC LIMIT ?2",
);

/// Characters of a summary's HTML read for the one line the front page shows: a line is
/// cut at about 200 characters of text, and markup rarely triples that.
const SUMMARY_HTML_CHARS: i64 = 1_500;

impl SiteReader {
    /// Opens a reader on the store at `target`. SQLite: the existing file read-only, a
    /// missing file is an error, never a new database. PostgreSQL: a connection of its own
    /// whose transactions are read-only, so that the site cannot write there either.
    pub fn open(target: impl Into<StorageTarget>) -> Result<SiteReader> {
        let conn = match target.into() {
            StorageTarget::Sqlite(path) => ReaderConn::Sqlite(SiteReader::open_sqlite(&path)?),
            StorageTarget::Postgres(target) => on_postgres(|| {
                let mut client = OffRuntime::new(target.connect()?);
                client.batch_execute("SET default_transaction_read_only = on")?;
                Ok(ReaderConn::Postgres(client))
            })?,
        };
        Ok(SiteReader { conn })
    }

    fn open_sqlite(path: &Path) -> Result<Connection> {
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
        Ok(conn)
    }

    /// Runs `read` in one read transaction. On PostgreSQL it is a read-only `REPEATABLE
    /// READ` one, so that every statement of a page sees the same snapshot as SQLite's read
    /// transaction does; the whole read (and the transaction's end, even on an error) runs
    /// through `on_postgres`, off the async runtime's worker.
    fn read<T>(&mut self, read: impl FnOnce(&mut ReadTx<'_>) -> Result<T>) -> Result<T> {
        match &mut self.conn {
            ReaderConn::Sqlite(conn) => {
                let mut tx = ReadTx::Sqlite(conn.transaction()?);
                let out = read(&mut tx)?;
                tx.commit()?;
                Ok(out)
            }
            ReaderConn::Postgres(client) => on_postgres(|| {
                Ok((|| {
                    let tx = client
                        .build_transaction()
                        .isolation_level(::postgres::IsolationLevel::RepeatableRead)
                        .read_only(true)
                        .start()
                        .map_err(PgError::from)?;
                    let mut tx = ReadTx::Postgres(tx);
                    let out = read(&mut tx)?;
                    tx.commit()?;
                    Ok(out)
                })())
            })?,
        }
    }

    /// `per_page` stories, newest first, from where `start` says. One read transaction, so a
    /// page never shows a story half moved by a poll.
    pub fn story_page(&mut self, start: PageStart, per_page: usize) -> Result<StoryPage> {
        self.read(|tx| {
            // One more than the page holds says whether another page follows.
            let limit = super::sql_limit(per_page).saturating_add(1);
            let (statement, bound) = match start {
                PageStart::Offset(offset) => {
                    (&HEADS_SQL, i64::try_from(offset).unwrap_or(i64::MAX))
                }
                PageStart::After(story) => (&HEADS_SQL_AFTER, story),
            };
            let heads: Vec<(i64, String, i64)> =
                tx.rows(statement, &[limit.into(), bound.into()])?;
            let more = heads.len() > per_page;
            let mut stories = Vec::with_capacity(per_page.min(heads.len()));
            for (number, published, corrected) in heads.into_iter().take(per_page) {
                let members = members(tx, number)?;
                if members.is_empty() {
                    continue;
                }
                let summary_html =
                    tx.row(&SUMMARY_SQL, &[number.into(), SUMMARY_HTML_CHARS.into()])?;
                stories.push(StoryCard {
                    number,
                    published: parse_timestamp(&published).unwrap_or_default(),
                    members,
                    summary_html,
                    corrected: corrected != 0,
                });
            }
            Ok(StoryPage { stories, more })
        })
    }

    /// Story `number` for its explain view. A story folded into another resolves to the story
    /// that holds its members now, as `stories --explain` does. The merge chain ends: only a
    /// story not itself merged is ever folded into (see `store::resolve_story`).
    pub fn explain(&mut self, number: i64) -> Result<Option<ExplainedStory>> {
        self.read(|tx| {
            // By number through the primary key, following merges: `resolve_story` also
            // accepts an Atom id, which costs a scan of every story.
            let mut head = number;
            let (atom_id, published) = loop {
                let row: Option<(String, String, Option<i64>)> =
                    tx.row(&STORY_HEAD_SQL, &[head.into()])?;
                match row {
                    None => return Ok(None),
                    Some((_, _, Some(into))) => head = into,
                    Some((atom_id, published, None)) => break (atom_id, published),
                }
            };
            let members = members(tx, head)?;
            let corrections = tx
                .rows::<CorrectionRow>(&CORRECTIONS_SQL, &[head.into()])?
                .into_iter()
                .map(CorrectionRow::into_correction)
                .collect::<Result<_>>()?;
            Ok(Some(ExplainedStory {
                number: head,
                folded: (number != head).then_some(number),
                atom_id,
                published: parse_timestamp(&published).unwrap_or_default(),
                members,
                corrections,
            }))
        })
    }

    /// Whether the store answers a read of its schema (`/readyz`).
    pub fn check(&mut self) -> Result<()> {
        self.read(|tx| tx.row::<i64>(&both("SELECT count(*) FROM sources"), &[]))
            .map(drop)
    }

    /// Every feed the store knows, with its poll state, by name.
    pub fn feeds(&mut self) -> Result<Vec<SourceRecord>> {
        self.read(|tx| tx.rows(&both(FEEDS_SQL.as_str()), &[]))
    }

    /// Per sink that has deliveries: its counts, and its newest `dead_shown` dead deliveries
    /// with their last errors.
    pub fn deliveries(&mut self, dead_shown: usize) -> Result<Vec<SinkDeliveries>> {
        self.read(|tx| {
            let mut sinks: Vec<SinkDeliveries> = tx.rows(&SINKS_SQL, &[])?;
            for sink in sinks.iter_mut().filter(|sink| sink.dead > 0) {
                sink.dead_recent = tx.rows(
                    &DEAD_SQL,
                    &[
                        sink.sink.as_str().into(),
                        super::sql_limit(dead_shown).into(),
                    ],
                )?;
            }
            Ok(sinks)
        })
    }
}

/// A story's members in lead order, with only the fields the pages show.
fn members(tx: &mut ReadTx<'_>, story: i64) -> Result<Vec<MemberLine>> {
    tx.rows(&MEMBERS_SQL, &[story.into()])
}

impl FromRow for MemberLine {
    fn from_row<R: SqlRow>(row: &R) -> Result<MemberLine, R::Error> {
        let role = Role::parse(&row.text(2)?).unwrap_or_default();
        let kind = row
            .opt_text(3)?
            .as_deref()
            .and_then(ItemKind::parse)
            .unwrap_or_default();
        let member_role = row
            .opt_text(4)?
            .as_deref()
            .and_then(MemberRole::parse)
            // Items stored before roles were recorded get the role their feed implies.
            .unwrap_or_else(|| MemberRole::implied(role, kind));
        let enclosure = row
            .opt_text(10)?
            .map(|url| Ok((url, row.opt_text(11)?)))
            .transpose()?;
        Ok(MemberLine {
            item: row.i64(0)?,
            feed: row.text(1)?,
            role,
            kind,
            member_role,
            title: row.opt_text(5)?.unwrap_or_default(),
            link: row.opt_text(6)?,
            published: parse_timestamp(&row.text(7)?).unwrap_or_default(),
            evidence: MatchReason::parse(&row.text(8)?).unwrap_or(MatchReason::New),
            score: row.f64(9)?,
            enclosure,
        })
    }
}

impl FromRow for SourceRecord {
    fn from_row<R: SqlRow>(row: &R) -> Result<SourceRecord, R::Error> {
        source_from_row(row)
    }
}

impl FromRow for SinkDeliveries {
    fn from_row<R: SqlRow>(row: &R) -> Result<SinkDeliveries, R::Error> {
        Ok(SinkDeliveries {
            sink: row.text(0)?,
            pending: row.i64(1)?,
            delivered: row.i64(2)?,
            dead: row.i64(3)?,
            dead_recent: Vec::new(),
        })
    }
}

impl FromRow for DeadDelivery {
    fn from_row<R: SqlRow>(row: &R) -> Result<DeadDelivery, R::Error> {
        Ok(DeadDelivery {
            story: row.i64(0)?,
            attempts: super::saturating_u32(row.i64(1)?),
            created_at: parse_timestamp(&row.text(2)?).unwrap_or_default(),
            error: row.opt_text(3)?,
        })
    }
}

/// A `corrections` row as [`CORRECTIONS_OF`] reads it, its action still text: a name this
/// build does not know is an error of its own, not a row-reading one.
struct CorrectionRow {
    action: String,
    item: Option<i64>,
    story: i64,
    other: i64,
    at: String,
}

impl FromRow for CorrectionRow {
    fn from_row<R: SqlRow>(row: &R) -> Result<CorrectionRow, R::Error> {
        Ok(CorrectionRow {
            action: row.text(0)?,
            item: row.opt_i64(1)?,
            story: row.i64(2)?,
            other: row.i64(3)?,
            at: row.text(4)?,
        })
    }
}

impl CorrectionRow {
    fn into_correction(self) -> Result<Correction> {
        Ok(Correction {
            action: self
                .action
                .parse()
                .map_err(|_| StoreError::UnknownCorrection(self.action.clone()))?,
            item: self.item,
            story: self.story,
            other: self.other,
            at: parse_timestamp(&self.at).unwrap_or_default(),
        })
    }
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
        let body = format!("<p>{title}: the whole text of the work.</p>");
        Item::test_post(source, guid, title, &body, at(day))
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
        let mut reader = SiteReader::open(dir.path().join("t.db")).expect("reader");
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
        let mut reader = SiteReader::open(dir.path().join("t.db")).expect("reader");
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
        let mut reader = SiteReader::open(dir.path().join("t.db")).expect("reader");
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
        let due = store.due_deliveries(at(21), None, 10, None).expect("due");
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
        let mut reader = SiteReader::open(dir.path().join("t.db")).expect("reader");
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
        let reader = SiteReader::open(dir.path().join("t.db")).expect("reader");
        let ReaderConn::Sqlite(conn) = &reader.conn else {
            panic!("a path opens SQLite");
        };
        let refused = conn.execute("DELETE FROM items", []);
        assert!(refused.is_err(), "a read-only connection wrote");
        let missing = dir.path().join("missing.db");
        assert!(SiteReader::open(&missing).is_err());
        assert!(!missing.exists(), "opening created a database");
    }
}
