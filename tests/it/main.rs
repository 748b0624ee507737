//! tributary's integration tests: real HTTP servers on 127.0.0.1, real SQLite files, and the
//! real binary.

mod cli;
mod common;
mod corpus_dedupe;
mod corrections;
mod daemon;
mod dedupe_eval;
mod emit;
mod fetch;
mod hostile;
mod migrate_store;
mod mirror_eval;
mod normalize;
mod notify;
mod pipeline;
mod podcast_clients;
mod podcasting;
mod postgres_instances;
mod postgres_poll;
mod postgres_site;
mod postgres_store;
mod serve;
mod site;
mod transcripts;
mod websub;
