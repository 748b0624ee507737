//! The fast path (`src/normalize/fast.rs`) against the feed-rs route it stands in for:
//! whenever the fast path reads a document, the result must be the one feed-rs (with the side
//! scan) gives, and a panic of the fast path (which `parse_feed` catches) is a difference too.
//! Each input is tried as served and as the `item_fields` target's document (hostile text in
//! each field of an otherwise ordinary feed), which gets past the first tag far more often
//! than mutated bytes do.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary::normalize::{NormalizeError, Route, parse_feed_by};
use tributary_fuzz::oracle::{feed_url, item_fields_document, now};

fn assert_same_either_way(bytes: &[u8]) {
    let mut route = Route::Auto;
    let result = parse_feed_by(bytes, &feed_url(), "fuzz", now(), &mut route);
    if route == Route::Fast || matches!(result, Err(NormalizeError::Panic(_))) {
        let reference = parse_feed_by(bytes, &feed_url(), "fuzz", now(), &mut Route::FeedRs);
        assert_eq!(result, reference, "the fast path and feed-rs differ");
    }
}

fuzz_target!(|data: &[u8]| {
    tributary_fuzz::tolerate_caught_panics();
    assert_same_either_way(data);
    if let Some(document) = item_fields_document(data) {
        assert_same_either_way(document.as_bytes());
    }
});
