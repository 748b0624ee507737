//! One feed's items into the store: update, match, fold, queue notifications.
//!
//! Design decision: everything one poll of one feed changes is written in one transaction
//! (items, stories, merges, the outbox rows and the feed's poll state; a poll cycle puts
//! several whole feeds in one), so a crash at any moment leaves the feed fully ingested or not
//! at all, and a story never exists without the notifications it owes (nor a notification
//! without its story).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use std::collections::HashSet;

use crate::dedupe::{
    self, Candidate, Decision, Decorations, ItemKeys, OwnKeys, Probe, Thresholds, Words,
};
use crate::hex::hex;
use crate::model::{Item, ItemKind, MatchReason, MemberRole, Role};
use crate::normalize::ParsedItem;
use crate::store::{
    EditedItem, NewItem, PollState, SourceRecord, Store, StoreError, StoryChange, WriteTx,
};
use crate::transcript;

/// What ingesting one feed changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestSummary {
    pub new_items: usize,
    pub updated_items: usize,
    pub unchanged_items: usize,
    pub new_stories: usize,
    /// New items that joined an existing story (mirrors, episodes of a post).
    pub joined_stories: usize,
    pub notifications_queued: usize,
    /// Edits queued for stories a sink had already heard of (changes folded into a row still
    /// waiting are not counted).
    pub updates_queued: usize,
}

/// What ingest needs beyond the items: matching thresholds and who to notify.
#[derive(Debug, Clone, Default)]
pub struct IngestContext {
    pub thresholds: Thresholds,
    pub sinks: Vec<SinkRoute>,
    /// The writers' names, read from the store once and then kept up to date as origin feeds
    /// name new authors: reading them for every feed of a large cold poll would cost as much
    /// as the poll.
    pub decorations: DecorationCache,
}

/// The decorations every feed's ingest matches with, shared by the cycles of one process.
#[derive(Debug, Clone, Default)]
pub struct DecorationCache(std::sync::Arc<parking_lot::Mutex<Option<std::sync::Arc<Decorations>>>>);

impl DecorationCache {
    /// The decorations, read from the store the first time, with `names` (what the origin
    /// feed `source` said of itself in this poll) learned.
    fn current<'a>(
        &self,
        tx: &WriteTx<'_>,
        source: &str,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<std::sync::Arc<Decorations>, StoreError> {
        let mut cache = self.0.lock();
        let mut decorations = match cache.take() {
            Some(known) => known,
            None => std::sync::Arc::new(tx.decorations()?),
        };
        let mut names = names.into_iter().peekable();
        if names.peek().is_some() {
            std::sync::Arc::make_mut(&mut decorations).add_for(source, names);
        }
        *cache = Some(std::sync::Arc::clone(&decorations));
        Ok(decorations)
    }
}

/// What ingest needs to know of one notification sink.
#[derive(Debug, Clone, Default)]
pub struct SinkRoute {
    pub name: String,
    /// How long a new story waits before it is sent, so mirrors can fold in first.
    pub hold: std::time::Duration,
    /// Notify about a feed's first poll too (normally that is backfill, and silent).
    pub notify_backfill: bool,
    /// The sink hears of changes to a story it was told about (see `NotifyConfig::followups`).
    pub followups: bool,
}

impl IngestContext {
    pub fn new(config: &crate::config::Config) -> IngestContext {
        IngestContext {
            thresholds: config.dedupe.clone(),
            sinks: config
                .notify
                .iter()
                .map(|sink| SinkRoute {
                    name: sink.name.clone(),
                    hold: sink.hold,
                    notify_backfill: sink.notify_backfill,
                    followups: sink.followups,
                })
                .collect(),
            decorations: DecorationCache::default(),
        }
    }
}

/// The Atom id of a story, derived from the item that founded it, so it is fixed at creation.
pub fn story_atom_id(source: &str, guid: &str) -> String {
    let digest = Sha256::new()
        .chain_update(source.as_bytes())
        .chain_update([0])
        .chain_update(guid.as_bytes())
        .finalize();
    format!("urn:tributary:story:{}", hex(&digest[..16]))
}

/// The Atom id of the story a person splits an item into. Derived from the item like
/// [`story_atom_id`], so it is fixed at creation, but never equal to it: the story the item
/// founded may still hold that id. `earlier_splits` (how often the item was split before) keeps
/// it apart from the ids of earlier splits, whose stories keep their rows once merged back.
pub fn split_story_atom_id(source: &str, guid: &str, earlier_splits: u32) -> String {
    let digest = Sha256::new()
        .chain_update(source.as_bytes())
        .chain_update([0])
        .chain_update(guid.as_bytes())
        .chain_update(b"\0split\0")
        .chain_update(earlier_splits.to_le_bytes())
        .finalize();
    format!("urn:tributary:story:{}", hex(&digest[..16]))
}

/// The key a sink receives with a story's notification, the same on every retry.
pub fn idempotency_key(atom_id: &str, sink: &str) -> String {
    let digest = Sha256::new()
        .chain_update(atom_id.as_bytes())
        .chain_update([0])
        .chain_update(sink.as_bytes())
        .finalize();
    hex(&digest[..16])
}

/// How items were compared before [`ParsedItem::content_hash`]: the sanitised item.
fn legacy_content_hash(item: &Item) -> String {
    let bytes = serde_json::to_vec(item).unwrap_or_default();
    hex(&Sha256::digest(&bytes))
}

/// Ingests one successful poll on its own: every item and the new poll state, in one
/// transaction.
pub fn ingest(
    store: &mut Store,
    source: &SourceRecord,
    items: &[ParsedItem],
    state: &PollState,
    context: &IngestContext,
    now: DateTime<Utc>,
) -> Result<IngestSummary, StoreError> {
    let tx = store.begin_write()?;
    let summary = ingest_feed(&tx, source, None, items, context, now)?;
    tx.save_poll_state(source.id, state)?;
    tx.commit()?;
    Ok(summary)
}

/// Ingests one feed's items into a write that may hold other feeds too; the caller saves the
/// feed's poll state in the same write. `feed_title` is the feed's own title, which (for an
/// origin) names the decorations mirrors put around its titles.
pub fn ingest_feed(
    tx: &WriteTx<'_>,
    source: &SourceRecord,
    feed_title: Option<&str>,
    items: &[ParsedItem],
    context: &IngestContext,
    now: DateTime<Utc>,
) -> Result<IngestSummary, StoreError> {
    ingest_items(tx, source, feed_title, items, None, context, now)
}

/// Each item's [`OwnKeys`], for [`ingest_feed_ahead`]: the costliest parts of an item's dedupe
/// keys that depend on the item alone (not on what is stored, nor on other feeds), so the poll
/// derives them on its parser threads and the one thread that writes does not have to.
pub fn keys_ahead(items: &[ParsedItem]) -> Vec<OwnKeys> {
    items
        .iter()
        .map(|parsed| OwnKeys::of(&parsed.sanitized()))
        .collect()
}

/// [`ingest_feed`] with each item's own keys derived beforehand ([`keys_ahead`] of the same
/// items, in the same order).
pub fn ingest_feed_ahead(
    tx: &WriteTx<'_>,
    source: &SourceRecord,
    feed_title: Option<&str>,
    items: &[ParsedItem],
    ahead: &[OwnKeys],
    context: &IngestContext,
    now: DateTime<Utc>,
) -> Result<IngestSummary, StoreError> {
    ingest_items(tx, source, feed_title, items, Some(ahead), context, now)
}

fn ingest_items(
    tx: &WriteTx<'_>,
    source: &SourceRecord,
    feed_title: Option<&str>,
    items: &[ParsedItem],
    ahead: Option<&[OwnKeys]>,
    context: &IngestContext,
    now: DateTime<Utc>,
) -> Result<IngestSummary, StoreError> {
    // A fixed order (oldest first) makes the stories built from one feed independent of the
    // order the feed listed its items in.
    let mut ordered: Vec<(&ParsedItem, Option<&OwnKeys>)> = match ahead {
        Some(keys) if keys.len() == items.len() => {
            items.iter().zip(keys.iter().map(Some)).collect()
        }
        _ => items.iter().map(|item| (item, None)).collect(),
    };
    ordered.sort_by(|(a, _), (b, _)| {
        let (a, b) = (a.fields(), b.fields());
        (a.published, &a.guid).cmp(&(b.published, &b.guid))
    });
    // A guid listed twice is one item: the later listing is the one kept (as an update would).
    let mut seen = HashSet::new();
    ordered.reverse();
    ordered.retain(|(item, _)| seen.insert(item.fields().guid.as_str()));
    ordered.reverse();

    let mut summary = IngestSummary::default();
    let mut changed = Vec::new();
    for (parsed, own) in ordered {
        let hash = parsed.content_hash();
        let existing = tx.existing(source.id, &parsed.fields().guid)?;
        if existing.as_ref().is_some_and(|e| e.content_hash == hash) {
            summary.unchanged_items += 1;
        } else {
            let item = parsed.sanitized();
            // An episode whose description is only show notes is matched by what it says.
            let spoken = parsed
                .transcript()
                .filter(|(_, words)| transcript::is_show_notes(item.body(), words));
            let mut own = own.cloned().unwrap_or_else(|| OwnKeys::of(&item));
            if let Some((_, words)) = spoken {
                own.text = dedupe::shingles(&dedupe::words(words));
            }
            changed.push(ChangedItem {
                item,
                own,
                existing,
                hash,
                transcript: spoken.map(|(url, _)| url.to_owned()),
            });
        }
    }
    if changed.is_empty() {
        return Ok(summary);
    }
    let names = match source.role {
        Role::Origin => record_feed_facts(
            tx,
            source,
            feed_title,
            changed.iter().map(|changed| &changed.item),
        )?,
        Role::Mirror => Vec::new(),
    };
    let boilerplate =
        learn_boilerplate(tx, source, changed.iter().map(|changed| &changed.own.text))?;
    let decorations =
        context
            .decorations
            .current(tx, &source.name, names.iter().map(String::as_str))?;

    // A feed's first successful poll is backfill: what it already held is not news.
    let matching = Matching {
        context,
        decorations: &decorations,
        boilerplate: &boilerplate,
        backfill: !source.state.backfilled,
        now,
    };
    for changed in changed {
        ingest_item(tx, source, changed, &matching, &mut summary)?;
    }
    Ok(summary)
}

/// At most this many author names are kept per feed.
const MAX_FEED_AUTHORS: usize = 16;

/// Keeps what an origin feed says of itself: its title and its authors' names, which other
/// sites put around its titles. Returns those names.
fn record_feed_facts<'a>(
    tx: &WriteTx<'_>,
    source: &SourceRecord,
    feed_title: Option<&str>,
    items: impl Iterator<Item = &'a Item>,
) -> Result<Vec<String>, StoreError> {
    let mut authors = tx.feed_authors(source.id)?;
    for item in items {
        for author in &item.authors {
            if authors.len() < MAX_FEED_AUTHORS && !authors.contains(author) {
                authors.push(author.clone());
            }
        }
    }
    tx.set_feed_facts(source.id, feed_title, &authors)?;
    authors.extend(feed_title.map(str::to_owned));
    Ok(authors)
}

/// Polls that bring fewer items than this are compared with the feed's newest stored items
/// too (as many, `WriteTx::recent_bodies`), so a feed whose polls bring one item at a time
/// still learns its footer.
const BOILERPLATE_COMPANY: usize = 4;

/// Learns what this feed repeats in every item from the items of this poll (and, when they
/// are few, its newest stored ones), stores it, and returns all it knows of it.
fn learn_boilerplate<'a>(
    tx: &WriteTx<'_>,
    source: &SourceRecord,
    items: impl Iterator<Item = &'a Vec<u64>>,
) -> Result<HashSet<u64>, StoreError> {
    let text = |body: &str| -> HashSet<u64> {
        dedupe::shingles(&dedupe::words(body)).into_iter().collect()
    };
    let mut texts: Vec<HashSet<u64>> = items
        .filter(|shingles| !shingles.is_empty())
        .map(|shingles| shingles.iter().copied().collect())
        .collect();
    if texts.len() < BOILERPLATE_COMPANY {
        texts.extend(tx.recent_bodies(source.id)?.iter().map(|body| text(body)));
    }
    let learned = dedupe::boilerplate(&texts);
    if !learned.is_empty() {
        tx.add_boilerplate(source.id, &learned)?;
    }
    tx.boilerplate(source.id)
}

/// An item this poll brought new or edited: sanitised, with its text's shingles read once.
struct ChangedItem {
    item: Item,
    own: OwnKeys,
    existing: Option<crate::store::ExistingItem>,
    hash: String,
    /// The transcript whose words `own.text` is, when it is not the item's own.
    transcript: Option<String>,
}

/// What every item of one feed's ingest is matched with.
struct Matching<'a> {
    context: &'a IngestContext,
    decorations: &'a Decorations,
    boilerplate: &'a HashSet<u64>,
    backfill: bool,
    now: DateTime<Utc>,
}

fn ingest_item(
    tx: &WriteTx<'_>,
    source: &SourceRecord,
    changed: ChangedItem,
    matching: &Matching<'_>,
    summary: &mut IngestSummary,
) -> Result<(), StoreError> {
    let ChangedItem {
        item,
        own,
        existing,
        hash,
        transcript,
    } = changed;
    let (item, own, hash) = (&item, &own, hash.as_str());
    let now = matching.now;
    let probe_of = |published| Probe {
        undated: item.published.is_none(),
        ..Probe::with_own_keys(
            item,
            own,
            source.role,
            published,
            matching.decorations,
            matching.boilerplate,
        )
    };
    if let Some(existing) = existing {
        if existing.content_hash == legacy_content_hash(item) {
            // Stored before hashes were taken of the raw item: the same item, rehashed once.
            tx.set_content_hash(existing.id, hash)?;
            summary.unchanged_items += 1;
            return Ok(());
        }
        // An edit: same source and guid is always the same item, updated in place.
        let published = item.published.unwrap_or(existing.published);
        let probe = probe_of(published);
        let gained_transcript = transcript.is_some() && tx.item_transcript(existing.id)?.is_none();
        // The keys the stored version was indexed under, derived as they were then: the rows
        // the edit drops are taken out by their keys. One the feeds' names or boilerplate
        // derived then but not now stays behind (as do all of an unreadable version's); it
        // only ever leads to this item as a candidate, judged by what the item is now.
        let stored_keys = match tx.stored_item(existing.id)? {
            Some(stored) => {
                Probe::with_own_keys(
                    &stored,
                    &OwnKeys::of(&stored),
                    source.role,
                    existing.published,
                    matching.decorations,
                    matching.boilerplate,
                )
                .keys
            }
            None => {
                tracing::warn!(
                    feed = %source.name,
                    item = existing.id,
                    "the stored version of an edited item is unreadable; it is rewritten whole"
                );
                ItemKeys::default()
            }
        };
        let edit = EditedItem {
            id: existing.id,
            item,
            content_hash: hash,
            keys: &probe.keys,
            stored_keys: &stored_keys,
            published,
        };
        tx.update_item(&edit, now)?;
        tx.set_item_transcript(existing.id, transcript.as_deref())?;
        tx.touch_story(existing.story_id, published, now)?;
        summary.updated_items += 1;
        if gained_transcript {
            join_by_transcript(
                tx,
                existing.id,
                existing.story_id,
                &probe,
                matching,
                summary,
            )?;
        }
        return Ok(());
    }

    // A missing date becomes the time the item was first seen, and stays that.
    let published = item.published.unwrap_or(now);
    let probe = probe_of(published);
    let thresholds = &matching.context.thresholds;
    let mut candidates = tx.candidates(&probe, matching.decorations)?;
    if !probe.kin.is_empty() {
        // An episode titled its own way shares no key with the post it reads: the writer's
        // other feeds are read for it by their days (see `dedupe::cites_its_post`).
        let known: HashSet<i64> = candidates.iter().map(|c| c.item_id).collect();
        candidates.extend(tx.kin_candidates(
            &probe.kin,
            published,
            thresholds.content_window,
            &known,
            matching.decorations,
        )?);
    }
    let mut decision = dedupe::decide(&probe, &candidates, thresholds);
    // A work that comes after its mirrors asks again those of the days around it (see
    // `fold_earlier_mirrors`). A mirror its own keys led to is asked too, of any date: one
    // without a date is not among those days, and one that cites the work weeks later named
    // no writer when it was stored if the writer's feed was not read yet (who the writers are
    // is learned from their feeds). Their story facts are as read before this item was
    // stored; `fold_mirror` reads the work's afresh, and a mirror this item's own verdict
    // already brought in shares its feed with the work and is left where it is.
    // So are those whose words name the work's title (`WriteTx::mirrors_naming`: mirrors
    // without a date, and those that name a writer, whose retelling may come any time after
    // the work), as they would have asked it had they come after it (`WriteTx::titled_with`).
    let mirrors_to_ask: Vec<Candidate> = match source.role {
        Role::Origin => {
            let mut led_to: Vec<Candidate> = candidates
                .iter()
                .filter(|c| c.role == Role::Mirror)
                .cloned()
                .collect();
            let known: HashSet<i64> = led_to.iter().map(|c| c.item_id).collect();
            let naming = tx.mirrors_naming(&probe.keys.title_words, matching.decorations)?;
            led_to.extend(naming.into_iter().filter(|c| !known.contains(&c.item_id)));
            led_to
        }
        Role::Mirror => Vec::new(),
    };
    // The words of a mirror without a date, or naming a writer, that no work was found for (it
    // starts a story, or joins one of mirrors alone): indexed once it is stored, for the work
    // it is about to find it if that comes later (`fold_earlier_mirrors`).
    let mut unplaced = None;
    // A mirror whose work may lie outside the days around it: its own are not its work's (no
    // date), or it names a writer and may retell a work of months before.
    let beyond_its_days = probe.undated || probe.names_a_writer();
    if decision == Decision::New && source.role == Role::Mirror {
        // No key led anywhere. A rewrite under its own headline may quote the work, and a
        // summary in its own words may still name what one recent work's text does: both are
        // looked for among the items of the last days.
        let mut recent = tx.recent_candidates(
            probe.published,
            thresholds.mirror_window,
            thresholds.mirror_window,
            &HashSet::new(),
            matching.decorations,
        )?;
        let led_to = candidates.len();
        let mut all = candidates;
        all.extend(recent.iter().cloned());
        decision = dedupe::decide(&probe, &all, thresholds);
        if decision == Decision::New {
            let mut known: HashSet<i64> = recent.iter().map(|c| c.item_id).collect();
            recent.extend(weeks_before(tx, probe.published, &known, matching)?);
            let words = dedupe::content_words(&item.title, item.body());
            // Without a date, the days before its first sighting need not be its work's: the
            // items its keys led to (a run of title words, a passage) are asked by words too,
            // and the writers' items whose titles its words name, of any date. So are those
            // of a page that names a writer: it may retell a work of months before.
            if probe.undated {
                known.extend(recent.iter().map(|c| c.item_id));
                let led: Vec<Candidate> = all.drain(..led_to).collect();
                recent.extend(led.into_iter().filter(|c| !known.contains(&c.item_id)));
            }
            if beyond_its_days {
                known.extend(recent.iter().map(|c| c.item_id));
                recent.extend(works_named_by(tx, &words, &known, matching)?);
            }
            decision = dedupe::decide_by_words(&probe, &words, &recent, thresholds);
            if beyond_its_days && decision == Decision::New {
                unplaced = Some(words);
            }
        }
    } else if source.role == Role::Mirror && joins_mirrors_alone(&decision, &candidates) {
        // The mirrors' story may be a work the writers carry, which this mirror's words
        // name though the others' did not (see `dedupe::lead_to_the_work`).
        let mut recent = tx.recent_candidates(
            probe.published,
            thresholds.mirror_window,
            thresholds.mirror_window,
            &HashSet::new(),
            matching.decorations,
        )?;
        let mut known: HashSet<i64> = recent.iter().map(|c| c.item_id).collect();
        recent.extend(weeks_before(tx, probe.published, &known, matching)?);
        let words = dedupe::content_words(&item.title, item.body());
        // Without a date, or naming a writer, the works its words name, of any date, as for
        // a mirror alone.
        if beyond_its_days {
            known.extend(recent.iter().map(|c| c.item_id));
            recent.extend(works_named_by(tx, &words, &known, matching)?);
        }
        decision =
            dedupe::lead_to_the_work(&probe, &words, decision, &candidates, &recent, thresholds);
        if beyond_its_days && joins_mirrors_alone(&decision, &candidates) {
            unplaced = Some(words);
        }
    }
    let (story_id, reason, score, member_role) = match decision {
        Decision::Join {
            story_id,
            reason,
            score,
            member_role,
            also,
            relabel,
        } => {
            // Audio is news only to a story that had none (before any merge below: audio
            // a merged story brings is news too); a second directory listing the episode adds
            // a member, not audio. Asked only when someone would be told.
            let follows = matching.context.sinks.iter().any(|sink| sink.followups);
            let first_audio =
                item.kind == ItemKind::Episode && follows && !tx.story_has_audio(story_id)?;
            for other in also {
                tracing::info!(
                    source = %source.name,
                    guid = %item.guid,
                    from = other,
                    into = story_id,
                    "item proves two stories are one work; merging them"
                );
                tx.merge_story(other, story_id, now)?;
                follow_up_merge(tx, other, story_id, matching, summary)?;
            }
            for (item_id, role, reason, score) in relabel {
                tx.relabel(item_id, role, reason, score)?;
            }
            tx.touch_story(story_id, published, now)?;
            summary.joined_stories += 1;
            let joined = StoryChange::MemberAdded {
                feed: source.name.clone(),
                member_role: member_role.as_str().to_owned(),
                title: item.title.clone(),
                link: item.link.clone(),
            };
            follow_up(tx, story_id, &joined, matching, summary)?;
            if let Some(enclosure) = item.enclosure.as_ref().filter(|_| first_audio) {
                let audio = StoryChange::AudioAdded {
                    feed: source.name.clone(),
                    url: enclosure.url.clone(),
                };
                follow_up(tx, story_id, &audio, matching, summary)?;
            }
            (story_id, reason, score, member_role)
        }
        Decision::New => {
            let atom_id = story_atom_id(&source.name, &item.guid);
            let story_id = tx.create_story(&atom_id, published, now)?;
            summary.new_stories += 1;
            for sink in matching
                .context
                .sinks
                .iter()
                .filter(|sink| !matching.backfill || sink.notify_backfill)
            {
                let key = idempotency_key(&atom_id, &sink.name);
                let due = now + chrono::Duration::from_std(sink.hold).unwrap_or_default();
                tx.enqueue_notification(story_id, &sink.name, &key, due, now)?;
                summary.notifications_queued += 1;
            }
            let role = MemberRole::implied(source.role, item.kind);
            (story_id, MatchReason::New, 1.0, role)
        }
    };
    let item_id = tx.insert_item(
        &NewItem {
            source_id: source.id,
            item,
            content_hash: hash,
            keys: &probe.keys,
            published,
            story_id,
            reason,
            score,
            member_role,
        },
        now,
    )?;
    if transcript.is_some() {
        tx.set_item_transcript(item_id, transcript.as_deref())?;
    }
    if let Some(words) = &unplaced {
        tx.add_mirror_words(item_id, words)?;
    }
    summary.new_items += 1;
    if source.role == Role::Origin {
        fold_earlier_mirrors(tx, story_id, published, &mirrors_to_ask, matching, summary)?;
        fold_later_summaries(tx, story_id, item, published, matching, summary)?;
    }
    Ok(())
}

/// The items of the weeks before `published` but those in `known`: a summary may come weeks
/// after the work it sums up (`dedupe::summary_in_time`), so a mirror's words are asked of
/// them too.
fn weeks_before(
    tx: &WriteTx<'_>,
    published: DateTime<Utc>,
    known: &HashSet<i64>,
    matching: &Matching<'_>,
) -> Result<Vec<Candidate>, StoreError> {
    let weeks = matching.context.thresholds.content_window;
    tx.recent_candidates(
        published,
        weeks,
        chrono::Duration::zero(),
        known,
        matching.decorations,
    )
}

/// The writers' items, of any date, whose titles an undated mirror's `words` name
/// ([`dedupe::names_the_title`]), but those in `known`: where such a mirror, which has no days
/// to look around, looks for the work it sums up.
fn works_named_by(
    tx: &WriteTx<'_>,
    words: &Words,
    known: &HashSet<i64>,
    matching: &Matching<'_>,
) -> Result<Vec<Candidate>, StoreError> {
    let mut named = tx.titled_with(words, known, matching.decorations)?;
    named.retain(|work| dedupe::names_the_title(words, work));
    Ok(named)
}

/// Whether `decision` joins a story no origin item is in.
fn joins_mirrors_alone(decision: &Decision, candidates: &[Candidate]) -> bool {
    let Decision::Join { story_id, .. } = decision else {
        return false;
    };
    candidates
        .iter()
        .find(|c| c.story_id == *story_id)
        .is_some_and(|c| !c.story.has_origin)
}

/// Summaries that sum up a writer's item weeks after it (see [`dedupe::summary_in_time`]) but
/// were stored before it (its feed was polled later) started stories of their own, and
/// [`fold_earlier_mirrors`] asks again only the mirrors of the days around the item: each one
/// of the following weeks whose words read like the item's is asked, among every work
/// of the weeks before it, which one it sums up, so that it ends where it would have ended had
/// it come after.
fn fold_later_summaries(
    tx: &WriteTx<'_>,
    mut story_id: i64,
    item: &Item,
    published: DateTime<Utc>,
    matching: &Matching<'_>,
    summary: &mut IngestSummary,
) -> Result<(), StoreError> {
    let thresholds = &matching.context.thresholds;
    // The weeks after the item's days, which `fold_earlier_mirrors` covers: read from the
    // store only those, or a new item (published now, nothing after it) would read every
    // mirror of its days for nothing.
    let half = (thresholds.content_window - thresholds.title_window) / 2;
    let middle = published + thresholds.title_window + half;
    let later = tx.recent_founding_mirrors(middle, half, matching.decorations)?;
    let first_story = story_id;
    let alone = later.iter().filter(|c| {
        c.role == Role::Mirror
            && c.reason == MatchReason::New
            && !c.story.has_origin
            && !c.story.pinned
            && c.story_id != first_story
            && c.published - published > thresholds.title_window
    });
    // The item's words are read only once a mirror may need them: most origin items have no
    // summary stored after them, and reading every item's words cost a tenth of a cold poll.
    let mut words = None;
    for founder in alone {
        for mirror in mirrors_of(tx, founder, matching)? {
            let words =
                words.get_or_insert_with(|| dedupe::content_words(&item.title, item.body()));
            if !dedupe::may_summarise(&mirror, words) {
                continue;
            }
            let before = weeks_before(tx, mirror.published, &HashSet::new(), matching)?;
            let Some((work, score)) = dedupe::summarised_by(&mirror, &before, thresholds) else {
                continue;
            };
            let verdict = (MatchReason::Words, score, MemberRole::Summary);
            if let Some(into) =
                fold_mirror(tx, &mirror, work, story_id, verdict, matching, summary)?
            {
                story_id = into;
                break;
            }
        }
    }
    Ok(())
}

/// An episode stored alone, before its transcript was published (hosts often add it hours
/// later), is asked again once the transcript's words are its text: the matcher decides as
/// for a new item, and when it names another story the two fold (the younger into the older,
/// as when an item proves two stories one work). Only a story the episode is alone in, and
/// neither story split off by a person: an edit never pulls a story's other members along.
fn join_by_transcript(
    tx: &WriteTx<'_>,
    item_id: i64,
    story_id: i64,
    probe: &Probe,
    matching: &Matching<'_>,
    summary: &mut IngestSummary,
) -> Result<(), StoreError> {
    let ours = tx.story_facts(story_id)?;
    if ours.pinned || ours.sources.len() != 1 {
        return Ok(());
    }
    let candidates = tx.candidates(probe, matching.decorations)?;
    let Decision::Join {
        story_id: target,
        reason,
        score,
        member_role,
        also,
        relabel,
    } = dedupe::decide(probe, &candidates, &matching.context.thresholds)
    else {
        return Ok(());
    };
    if target == story_id || !also.is_empty() || tx.story_facts(target)?.pinned {
        return Ok(());
    }
    let (from, into) = if story_id < target {
        (target, story_id)
    } else {
        (story_id, target)
    };
    tracing::info!(
        item = item_id,
        from,
        into,
        "an episode's transcript shows it is this work; merging the stories"
    );
    tx.merge_story(from, into, matching.now)?;
    follow_up_merge(tx, from, into, matching, summary)?;
    for (other, role, reason, score) in relabel {
        tx.relabel(other, role, reason, score)?;
    }
    tx.relabel(item_id, member_role, reason, score)
}

/// Mirrors that arrived before the work they are about (the origin feed was polled later)
/// started stories of their own; each is asked again, with the new origin item in `story_id`
/// stored, which work it is about ([`dedupe::reconsider`]), so that it ends where it would have
/// ended had it come after. Those asked are the mirrors of the days around the work and
/// `led_to`, those the work's keys or title words led to. A mirror about this work folds
/// together with it (the older story keeps its id).
fn fold_earlier_mirrors(
    tx: &WriteTx<'_>,
    mut story_id: i64,
    published: DateTime<Utc>,
    led_to: &[Candidate],
    matching: &Matching<'_>,
    summary: &mut IngestSummary,
) -> Result<(), StoreError> {
    let thresholds = &matching.context.thresholds;
    let mut recent =
        tx.recent_founding_mirrors(published, thresholds.title_window, matching.decorations)?;
    let known: HashSet<i64> = recent.iter().map(|c| c.item_id).collect();
    recent.extend(
        led_to
            .iter()
            .filter(|c| !known.contains(&c.item_id))
            .cloned(),
    );
    let first_story = story_id;
    // Each story of mirrors alone once, by its founder, or by an undated member the work's keys
    // or title words led to (its founder may be neither near nor undated).
    let mut asked: HashSet<i64> = HashSet::new();
    let alone = recent.iter().filter(|c| {
        c.role == Role::Mirror
            && (c.reason == MatchReason::New || c.undated)
            && !c.story.has_origin
            && !c.story.pinned
            && c.story_id != first_story
            && asked.insert(c.story_id)
    });
    // Read once a founding mirror is near: most new items have none around them.
    let mut members = None;
    for founder in alone {
        for mirror in &mirrors_of(tx, founder, matching)? {
            // Asked first of this story's members alone: a verdict naming this story needs one
            // of them to match, and most founding mirrors nearby are about other works, for
            // which reading the whole window around them would be wasted.
            if members.is_none() {
                members = Some(tx.story_candidates(story_id, matching.decorations)?);
            }
            let ours = members.as_deref().unwrap_or_default();
            let about_us = dedupe::reconsider(mirror, ours, matching.decorations, thresholds)
                .is_some_and(|(work, ..)| work == story_id);
            if !about_us {
                continue;
            }
            let mut around = tx.recent_candidates(
                mirror.published,
                thresholds.title_window,
                thresholds.title_window,
                &HashSet::new(),
                matching.decorations,
            )?;
            // Without a date, the days around its first sighting are not the work's: the
            // work's own members stand in for them, with the writers' other items its words
            // name, among which it chose when it was stored (`WriteTx::titled_with`). So for a
            // retelling of a work months before it, whose days do not hold the work.
            if mirror.undated || !around.iter().any(|c| c.story_id == story_id) {
                let mut known: HashSet<i64> = around.iter().map(|c| c.item_id).collect();
                around.extend(ours.iter().filter(|c| !known.contains(&c.item_id)).cloned());
                known.extend(around.iter().map(|c| c.item_id));
                around.extend(works_named_by(tx, mirror.words(), &known, matching)?);
            }
            let Some((work, reason, score, role)) =
                dedupe::reconsider(mirror, &around, matching.decorations, thresholds)
            else {
                continue;
            };
            let verdict = (reason, score, role);
            if let Some(into) = fold_mirror(tx, mirror, work, story_id, verdict, matching, summary)?
            {
                story_id = into;
                members = None;
                break;
            }
        }
    }
    Ok(())
}

/// The mirrors of the story `founder` started, founder first: any one of them may be the one
/// whose words name the work (the others joined it by a title of their own), and which one
/// founded the story is only the order the feeds were read in.
fn mirrors_of(
    tx: &WriteTx<'_>,
    founder: &Candidate,
    matching: &Matching<'_>,
) -> Result<Vec<Candidate>, StoreError> {
    let mut mirrors = vec![founder.clone()];
    if founder.story.sources.len() > 1 {
        let others = tx.story_candidates(founder.story_id, matching.decorations)?;
        mirrors.extend(
            others
                .into_iter()
                .filter(|c| c.item_id != founder.item_id && c.role == Role::Mirror),
        );
    }
    Ok(mirrors)
}

/// Folds the story a mirror started on its own into `story_id` when its new verdict names
/// that story (`work`), neither is pinned by a person, and the two share no feed (a story
/// never holds two items of one feed); the older story keeps its id, and the mirror takes the
/// role and evidence of its verdict. Returns the surviving story, `None` when they stay apart.
fn fold_mirror(
    tx: &WriteTx<'_>,
    mirror: &Candidate,
    work: i64,
    story_id: i64,
    (reason, score, role): (MatchReason, f64, MemberRole),
    matching: &Matching<'_>,
    summary: &mut IngestSummary,
) -> Result<Option<i64>, StoreError> {
    let ours = tx.story_facts(story_id)?;
    if work != story_id
        || ours.pinned
        || mirror
            .story
            .sources
            .iter()
            .any(|s| ours.sources.contains(s))
    {
        return Ok(None);
    }
    let (from, into) = if mirror.story_id < story_id {
        (story_id, mirror.story_id)
    } else {
        (mirror.story_id, story_id)
    };
    tracing::info!(
        from,
        into,
        reason = reason.as_str(),
        "a mirror stored before this work is about it; merging the stories"
    );
    tx.merge_story(from, into, matching.now)?;
    follow_up_merge(tx, from, into, matching, summary)?;
    tx.relabel(mirror.item_id, role, reason, score)?;
    Ok(Some(into))
}

/// Queues `change` to `story_id` for every sink that follows stories up (not during a feed's
/// backfill, which notifies nobody unless the sink asks for it). The row commits with the
/// item or merge that caused it, in the same transaction.
fn follow_up(
    tx: &WriteTx<'_>,
    story_id: i64,
    change: &StoryChange,
    matching: &Matching<'_>,
    summary: &mut IngestSummary,
) -> Result<(), StoreError> {
    let now = matching.now;
    for sink in matching
        .context
        .sinks
        .iter()
        .filter(|sink| sink.followups && (!matching.backfill || sink.notify_backfill))
    {
        let due = now + chrono::Duration::from_std(sink.hold).unwrap_or_default();
        if tx.enqueue_update(story_id, &sink.name, change, due, now)? {
            summary.updates_queued += 1;
        }
    }
    Ok(())
}

/// Story `from` was folded into `into`: `into`'s message says another story joined it, and
/// `from`'s (if it went out) is edited to point at `into`.
fn follow_up_merge(
    tx: &WriteTx<'_>,
    from: i64,
    into: i64,
    matching: &Matching<'_>,
    summary: &mut IngestSummary,
) -> Result<(), StoreError> {
    let (from_atom, into_atom) = (tx.story_atom_id(from)?, tx.story_atom_id(into)?);
    follow_up(
        tx,
        into,
        &StoryChange::Merged { other: from_atom },
        matching,
        summary,
    )?;
    follow_up(
        tx,
        from,
        &StoryChange::MergedInto { into: into_atom },
        matching,
        summary,
    )
}
