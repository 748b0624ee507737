//! Hostile text in each field of an otherwise ordinary feed: the input is split at 0xFF bytes
//! into a format selector and the fields of two items (title, link, description, content,
//! guid, enclosure URL, enclosure type, category, author), which are written into RSS, Atom or
//! JSON Feed, escaped as each format wants, in CDATA, or raw. Then the same oracle as
//! `pipeline`. Aims the fuzzer at the sanitiser, the text cleaning and the writers rather
//! than at the XML tokenizer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_fuzz::oracle::{item_fields_document, round_trip};

fuzz_target!(|data: &[u8]| {
    tributary_fuzz::tolerate_caught_panics();
    if let Some(document) = item_fields_document(data) {
        let _ = round_trip(document.as_bytes());
    }
});
