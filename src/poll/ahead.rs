//! How far a cycle's fetches may run ahead of its writes, counted in parsed items.
//!
//! While the cycle's task writes, the feeds started meanwhile go on fetching and parsing (see
//! `FEEDS_AHEAD`), and each holds its parsed items until the task takes it for a write. A count
//! of feeds alone would not bound that memory: a first poll of podcasts with hundreds of
//! episodes each parses hundreds of items a feed, not the benchmark's twenty. So a feed waits
//! to fetch while the items parsed and not yet taken are a write batch or more, whatever the
//! size of the feeds that brought them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// The items parsed by feeds the cycle has not taken yet, and the feeds waiting for room.
#[derive(Debug)]
pub struct ParsedAhead {
    items: AtomicUsize,
    limit: usize,
    taken: Notify,
}

impl ParsedAhead {
    /// Room for `limit` items parsed ahead of the writes.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(ParsedAhead {
            items: AtomicUsize::new(0),
            limit,
            taken: Notify::new(),
        })
    }

    /// Waits until fewer than the limit are parsed and not yet taken. A feed asks before it
    /// fetches, so the feeds past the limit wait with nothing fetched.
    pub async fn room(&self) {
        loop {
            // Registered before the count is read: a take between the two still wakes it.
            let taken = self.taken.notified();
            if self.items.load(Ordering::Acquire) < self.limit {
                return;
            }
            taken.await;
        }
    }

    /// Counts a feed's parsed items until the returned claim is dropped (when the cycle takes
    /// the feed, or the task ends without handing it over, panicking or aborted).
    pub fn parsed(self: &Arc<Self>, items: usize) -> Claim {
        self.items.fetch_add(items, Ordering::AcqRel);
        Claim {
            ahead: Arc::clone(self),
            items,
        }
    }
}

/// A feed's parsed items, counted as ahead of the writes while this lives.
#[derive(Debug)]
pub struct Claim {
    ahead: Arc<ParsedAhead>,
    items: usize,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.ahead.items.fetch_sub(self.items, Ordering::AcqRel);
        self.ahead.taken.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_feed_waits_while_a_batch_is_parsed_ahead_and_goes_once_one_is_taken() {
        let ahead = ParsedAhead::new(10);
        let small = ahead.parsed(4);
        // Under the limit: room at once.
        tokio::time::timeout(Duration::from_secs(1), ahead.room())
            .await
            .expect("room under the limit");
        let big = ahead.parsed(300);
        let waiting = tokio::spawn({
            let ahead = Arc::clone(&ahead);
            async move { ahead.room().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a feed went on past the limit");
        drop(small);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "still 300 items ahead");
        drop(big);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("woken once the big feed was taken")
            .expect("task");
    }

    #[tokio::test]
    async fn a_task_that_ends_without_handing_its_feed_over_gives_its_room_back() {
        let ahead = ParsedAhead::new(10);
        let task = tokio::spawn({
            let ahead = Arc::clone(&ahead);
            async move {
                let _claim = ahead.parsed(50);
                panic!("a parser bug after the parse");
            }
        });
        assert!(task.await.is_err(), "the task panicked");
        tokio::time::timeout(Duration::from_secs(1), ahead.room())
            .await
            .expect("room again after the panic");
    }
}
