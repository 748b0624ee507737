//! The store a test's binary writes to: the SQLite file in its workspace, or a database in a
//! throwaway PostgreSQL cluster ([`Cluster`]).
//!
//! Tests of what the store decides (stories, dedupe, corrections, the outbox) run once per
//! backend through [`each_backend!`], so that PostgreSQL is held to everything SQLite is held to
//! rather than only to what the `postgres_*` comparisons happen to call, and a failure names
//! the backend it happened on (`pipeline::name::postgres`).

use std::sync::atomic::{AtomicUsize, Ordering};

use super::binary::Workspace;
use super::postgres::Cluster;

pub enum Backend {
    Sqlite,
    /// One cluster per test; each workspace made on it gets a database of its own.
    Postgres {
        cluster: Cluster,
        databases: AtomicUsize,
    },
}

impl Backend {
    /// A cluster for `test`, or `None` (the test's PostgreSQL half is skipped) without a
    /// server, as [`Cluster::start`] decides.
    pub fn postgres(test: &str) -> Option<Backend> {
        Cluster::start(test).map(|cluster| Backend::Postgres {
            cluster,
            databases: AtomicUsize::new(0),
        })
    }

    /// A new workspace whose configs store into this backend, from an empty database.
    pub fn workspace(&self) -> Workspace {
        match self {
            Backend::Sqlite => Workspace::new(),
            Backend::Postgres { cluster, databases } => {
                let n = databases.fetch_add(1, Ordering::Relaxed);
                Workspace::storing_in(cluster.database(&format!("workspace_{n}")))
            }
        }
    }
}

/// `each_backend!(name);` beside `fn name(backend: &Backend)` makes the tests `name::sqlite` and
/// `name::postgres` of that one body: both run under the name's prefix
/// (`cargo test --test it pipeline`), a failure names its backend, and the body stays a plain
/// function that rustfmt formats.
macro_rules! each_backend {
    ($test:ident) => {
        mod $test {
            #[test]
            fn sqlite() {
                super::$test(&$crate::common::backend::Backend::Sqlite);
            }

            #[test]
            fn postgres() {
                if let Some(backend) = $crate::common::backend::Backend::postgres(module_path!()) {
                    super::$test(&backend);
                }
            }
        }
    };
}
pub(crate) use each_backend;
