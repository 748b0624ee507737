//! tributary's integration tests: real HTTP servers on 127.0.0.1, real SQLite files, and the
//! real binary.

mod cli;
mod common;
mod corrections;
mod daemon;
mod dedupe_eval;
mod emit;
mod fetch;
mod hostile;
mod normalize;
mod notify;
mod pipeline;
mod serve;
