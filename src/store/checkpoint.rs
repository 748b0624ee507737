//! Checkpoints on a thread of their own, beside the writer.
//!
//! In WAL mode a commit appends pages to the WAL; a checkpoint copies them back into the
//! database file and syncs it. SQLite runs one on the committing connection, inside its
//! commit, once the WAL holds `WAL_CHECKPOINT_PAGES`: the writer stopped for the copy and the
//! fsync (20% of a cold poll's writing at N = 10,000 in a profile), and a one-shot poll
//! started by copying back what the poll before it left in the WAL (a closing store does not
//! checkpoint). Here a second connection is asked after every commit, and once when the first
//! write begins, to copy back what it can (`PASSIVE`: it never waits for, or blocks, the writer
//! or a reader), on the machine's other core while the writer goes on. The writer's own
//! automatic checkpoint stays as the bound on the WAL when this one falls behind (it then finds
//! the pages copied, or the checkpoint lock taken and skips). A checkpoint is crash-safe
//! wherever it stops, so nothing here changes what a crash may lose. A steady poll of 1,000
//! feeds took 0.88 times as long with it and the kept look-arounds (`kept`); a cold poll of
//! 10,000, whose every write fills the WAL past the automatic checkpoint, as long as without it
//! (docs/benchmarks.md, "A steady poll's last write, and the checkpoint it waited for").

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, InterruptHandle};

/// The thread and the way to wake it: one checkpoint per wake-up, however many commits asked
/// for it meanwhile (a commit while one runs asks for one more, for the pages it added).
pub(super) struct Checkpointer {
    wake: Option<mpsc::SyncSender<()>>,
    closing: Arc<AtomicBool>,
    interrupt: InterruptHandle,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens the second connection to the database at `path` and starts the thread, which
    /// makes a first checkpoint at once: of what earlier processes left in the WAL.
    pub(super) fn start(path: &Path) -> std::io::Result<Checkpointer> {
        let conn = Connection::open(path).map_err(std::io::Error::other)?;
        // Closing would checkpoint again, in whichever thread drops the store.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(std::io::Error::other)?;
        let interrupt = conn.get_interrupt_handle();
        let closing = Arc::new(AtomicBool::new(false));
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn({
                let closing = Arc::clone(&closing);
                move || {
                    while woken.recv().is_ok() && !closing.load(Ordering::Acquire) {
                        checkpoint(&conn);
                    }
                }
            })?;
        let checkpointer = Checkpointer {
            wake: Some(wake),
            closing,
            interrupt,
            thread: Some(thread),
        };
        checkpointer.ask();
        Ok(checkpointer)
    }

    /// Asks for a checkpoint after a commit. A wake-up already pending covers this commit's
    /// pages too.
    pub(super) fn ask(&self) {
        if let Some(wake) = &self.wake {
            // Full: a checkpoint is already asked for. Disconnected: the thread is gone.
            let _ = wake.try_send(());
        }
    }
}

/// One passive checkpoint. A failure is logged and the next commit asks again; the writer's
/// automatic checkpoint still bounds the WAL meanwhile.
fn checkpoint(conn: &Connection) {
    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    });
    match done {
        Ok((wal_pages, copied)) => tracing::trace!(wal_pages, copied, "checkpoint"),
        // Stopped by `Drop`, or another connection's checkpoint was running: what is left is
        // copied back by the next one.
        Err(error)
            if matches!(
                error.sqlite_error_code(),
                Some(ErrorCode::OperationInterrupted | ErrorCode::DatabaseBusy)
            ) =>
        {
            tracing::trace!(%error, "checkpoint left for later");
        }
        Err(error) => tracing::warn!(%error, "background checkpoint failed"),
    }
}

impl Drop for Checkpointer {
    /// Stops a running checkpoint and starts no other: a closing store leaves what is in the
    /// WAL to the next one that opens it, as the writer's connection does (`Store::open_sqlite`),
    /// so that a one-shot poll does not wait at its end for pages the next poll may rewrite. A
    /// checkpoint the thread began just as the store closed (after it read `closing`, before
    /// its statement ran, where an interrupt has nothing to stop) runs to its end: the wait is
    /// at most one checkpoint.
    fn drop(&mut self) {
        self.closing.store(true, Ordering::Release);
        self.interrupt.interrupt();
        self.wake = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
