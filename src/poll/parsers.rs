//! The threads a cycle parses its feeds on.
//!
//! Why threads of their own rather than tokio's blocking pool: the blocking pool starts a new
//! thread whenever a task arrives and none is idle, and a parse finishing races the next one
//! starting, so over a cycle it grows to its cap. Every thread that allocates gets a glibc
//! malloc arena of its own, which keeps what it freed: a cold poll of 1,000 feeds peaked
//! 3.6 MB higher with the pool's cap raised from 2 to 10 (docs/benchmarks.md). The pool must
//! keep room for the store's hand-offs (`store::off_the_workers`), so parsing lives here, on
//! exactly [`parse_slots`] threads, and the two no longer compete.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, mpsc};

use thiserror::Error;

/// Feeds parsed at once: one per core, since more would not finish sooner and each holds its
/// document's tree in memory meanwhile.
pub fn parse_slots() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of parser threads fed from one queue, in the order jobs were handed in. The
/// threads end once the pool is dropped and the queue has drained.
pub struct Parsers {
    jobs: mpsc::Sender<Job>,
}

#[derive(Debug, Error)]
pub enum ParseError {
    #[error("cannot start a parser thread: {0}")]
    Start(#[source] std::io::Error),
    #[error("parser crashed: {0}")]
    Crashed(String),
}

impl Parsers {
    pub fn start(threads: usize) -> Result<Self, ParseError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for number in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("tributary-parse-{number}"))
                .spawn(move || {
                    loop {
                        // The lock is held while waiting, not while parsing: the guard is a
                        // temporary of this statement.
                        let job = queue
                            .lock()
                            .map_or_else(|_| Err(mpsc::RecvError), |q| q.recv());
                        match job {
                            Ok(job) => job(),
                            Err(mpsc::RecvError) => break,
                        }
                    }
                })
                .map_err(ParseError::Start)?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on a parser thread and waits for it without holding up the async worker.
    /// A panic in `work` is this job's error; the thread goes on to the next job.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ParseError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = catch_unwind(AssertUnwindSafe(work))
                .map_err(|panic| crate::normalize::panic_message(panic.as_ref()));
            // The poll that asked may have been cancelled meanwhile: nobody to tell.
            let _ = answer.send(outcome);
        });
        self.jobs
            .send(job)
            .map_err(|_| ParseError::Crashed("the parser threads have stopped".to_owned()))?;
        match answered.await {
            Ok(outcome) => outcome.map_err(ParseError::Crashed),
            Err(_) => Err(ParseError::Crashed(
                "the parser thread ended without an answer".to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_job_is_its_own_error_and_the_threads_go_on() {
        let parsers = Parsers::start(1).expect("start");
        let crashed = parsers
            .run(|| -> u32 { panic!("bad feed") })
            .await
            .expect_err("the panic is an error");
        assert!(crashed.to_string().contains("bad feed"), "{crashed}");
        // The one thread survived it and takes the next job.
        assert_eq!(parsers.run(|| 2 + 2).await.expect("next job"), 4);
    }

    #[tokio::test]
    async fn jobs_run_on_no_more_threads_than_started() {
        let parsers = Arc::new(Parsers::start(2).expect("start"));
        let names = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let mut jobs = Vec::new();
        for _ in 0..32 {
            let parsers = Arc::clone(&parsers);
            let names = Arc::clone(&names);
            jobs.push(tokio::spawn(async move {
                parsers
                    .run(move || {
                        let name = std::thread::current().name().map(str::to_owned);
                        names.lock().expect("names").insert(name);
                        std::thread::sleep(std::time::Duration::from_millis(2));
                    })
                    .await
            }));
        }
        for job in jobs {
            job.await.expect("join").expect("job");
        }
        let names = names.lock().expect("names");
        assert!(
            names.len() <= 2
                && names.iter().all(|name| name
                    .as_deref()
                    .is_some_and(|n| n.starts_with("tributary-parse-"))),
            "{names:?}"
        );
    }
}
