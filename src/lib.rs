//! tributary: polls a writer's feeds and their mirrors, folds every copy of one work (the post,
//! its podcast voiceover, the aggregator reposts) into one story, and emits one merged Atom feed.
//!
//! The modules are the pipeline's stages, in order:
//! [`schedule`] -> [`fetch`] -> [`normalize`] -> [`dedupe`] -> [`store`] -> [`emit`] / [`notify`].
//! [`poll`] runs one cycle: it asks [`schedule`] which feeds are due, fetches and parses them
//! concurrently, and hands each feed's items to [`ingest`], which matches them ([`dedupe`]) and
//! stores them ([`store`]) in one write. The core of normalise and dedupe is pure functions over
//! the plain values in [`model`]; I/O lives at the edges: [`daemon`] runs cycles on schedule and
//! owns the only writer, [`serve`] hands out the rendered feeds and
//! [`site`] the pages, [`notify`] delivers the outbox,
//! [`metrics`] counts what happened. `docs/ARCHITECTURE.md` is the map.

pub mod atomic_file;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod dedupe;
pub mod discover;
pub mod emit;
pub mod fetch;
mod hex;
pub mod import;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod normalize;
pub mod notify;
pub mod poll;
pub mod schedule;
pub mod serve;
pub mod site;
pub mod store;
pub mod transcript;
pub mod websub;
