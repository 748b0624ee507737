//! Helpers shared by the integration tests.

pub mod backend;
pub mod binary;
pub mod bodies;
pub mod daemon;
pub mod items;
pub mod postgres;
pub mod server;

/// A file under `tests/fixtures/`, read whole; a missing one fails the test, naming it.
pub fn fixture(path: &str) -> Vec<u8> {
    let file = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&file).unwrap_or_else(|e| panic!("read {file}: {e}"))
}
