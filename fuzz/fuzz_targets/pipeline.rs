//! Any bytes, served as a feed: parse -> normalise -> dedupe keys -> Atom and JSON Feed ->
//! re-parse. See `src/oracle.rs` for what must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tributary_fuzz::tolerate_caught_panics();
    let _ = tributary_fuzz::oracle::round_trip(data);
});
