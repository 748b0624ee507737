//! Helpers shared by the integration tests.

pub mod binary;
pub mod bodies;
pub mod daemon;
pub mod server;
