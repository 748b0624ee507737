//! Helpers shared by the integration tests.

pub mod binary;
pub mod server;
