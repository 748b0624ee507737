//! One feed's items into the store: update, match, fold, queue notifications.
//!
//! Design decision: everything one poll of one feed changes is written in one transaction
//! (items, stories, merges, the outbox rows and the feed's poll state; a poll cycle puts
//! several whole feeds in one), so a crash at any moment leaves the feed fully ingested or not
//! at all, and a story never exists without the notifications it owes (nor a notification
//! without its story).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::dedupe::{self, Decision, Probe, Thresholds};
use crate::hex::hex;
use crate::model::{Item, MatchReason};
use crate::normalize::ParsedItem;
use crate::store::{NewItem, PollState, SourceRecord, Store, StoreError, WriteTx};

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
}

/// What ingest needs beyond the items: matching thresholds and who to notify.
#[derive(Debug, Clone, Default)]
pub struct IngestContext {
    pub thresholds: Thresholds,
    pub sinks: Vec<SinkRoute>,
}

/// What ingest needs to know of one notification sink.
#[derive(Debug, Clone, Default)]
pub struct SinkRoute {
    pub name: String,
    /// How long a new story waits before it is sent, so mirrors can fold in first.
    pub hold: std::time::Duration,
    /// Notify about a feed's first poll too (normally that is backfill, and silent).
    pub notify_backfill: bool,
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
                })
                .collect(),
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
    let summary = ingest_feed(&tx, source, items, context, now)?;
    tx.save_poll_state(source.id, state)?;
    tx.commit()?;
    Ok(summary)
}

/// Ingests one feed's items into a write that may hold other feeds too; the caller saves the
/// feed's poll state in the same write.
pub fn ingest_feed(
    tx: &WriteTx<'_>,
    source: &SourceRecord,
    items: &[ParsedItem],
    context: &IngestContext,
    now: DateTime<Utc>,
) -> Result<IngestSummary, StoreError> {
    // A fixed order (oldest first) makes the stories built from one feed independent of the
    // order the feed listed its items in.
    let mut ordered: Vec<&ParsedItem> = items.iter().collect();
    ordered.sort_by(|a, b| {
        let (a, b) = (a.fields(), b.fields());
        (a.published, &a.guid).cmp(&(b.published, &b.guid))
    });
    ordered.dedup_by(|a, b| a.fields().guid == b.fields().guid);

    // A feed's first successful poll is backfill: what it already held is not news.
    let backfill = !source.state.backfilled;
    let mut summary = IngestSummary::default();
    for item in ordered {
        ingest_item(tx, source, item, context, backfill, now, &mut summary)?;
    }
    Ok(summary)
}

fn ingest_item(
    tx: &WriteTx<'_>,
    source: &SourceRecord,
    parsed: &ParsedItem,
    context: &IngestContext,
    backfill: bool,
    now: DateTime<Utc>,
    summary: &mut IngestSummary,
) -> Result<(), StoreError> {
    let hash = parsed.content_hash();
    let existing = tx.existing(source.id, &parsed.fields().guid)?;
    if existing.as_ref().is_some_and(|e| e.content_hash == hash) {
        summary.unchanged_items += 1;
        return Ok(());
    }
    let item = &parsed.sanitized();
    if let Some(existing) = existing {
        if existing.content_hash == legacy_content_hash(item) {
            // Stored before hashes were taken of the raw item: the same item, rehashed once.
            tx.set_content_hash(existing.id, &hash)?;
            summary.unchanged_items += 1;
            return Ok(());
        }
        // An edit: same source and guid is always the same item, updated in place.
        let published = item.published.unwrap_or(existing.published);
        let probe = Probe::new(item, published);
        tx.update_item(existing.id, item, &hash, &probe.keys, published, now)?;
        tx.touch_story(existing.story_id, published, now)?;
        summary.updated_items += 1;
        return Ok(());
    }

    // A missing date becomes the time the item was first seen, and stays that.
    let published = item.published.unwrap_or(now);
    let probe = Probe::new(item, published);
    let candidates = tx.candidates(&probe.keys)?;
    let (story_id, reason, score) = match dedupe::decide(&probe, &candidates, &context.thresholds) {
        Decision::Join {
            story_id,
            reason,
            score,
            also,
        } => {
            for other in also {
                tracing::info!(
                    source = %source.name,
                    guid = %item.guid,
                    from = other,
                    into = story_id,
                    "item bridges two stories; merging them"
                );
                tx.merge_story(other, story_id, now)?;
            }
            tx.touch_story(story_id, published, now)?;
            summary.joined_stories += 1;
            (story_id, reason, score)
        }
        Decision::New => {
            let atom_id = story_atom_id(&source.name, &item.guid);
            let story_id = tx.create_story(&atom_id, published, now)?;
            summary.new_stories += 1;
            for sink in context
                .sinks
                .iter()
                .filter(|sink| !backfill || sink.notify_backfill)
            {
                let key = idempotency_key(&atom_id, &sink.name);
                let due = now + chrono::Duration::from_std(sink.hold).unwrap_or_default();
                tx.enqueue_notification(story_id, &sink.name, &key, due, now)?;
                summary.notifications_queued += 1;
            }
            (story_id, MatchReason::New, 1.0)
        }
    };
    tx.insert_item(
        &NewItem {
            source_id: source.id,
            item,
            content_hash: &hash,
            keys: &probe.keys,
            published,
            story_id,
            reason,
            score,
        },
        now,
    )?;
    summary.new_items += 1;
    Ok(())
}
