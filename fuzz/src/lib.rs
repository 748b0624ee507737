//! Shared by the fuzz targets: the oracle every input goes through, and the panic policy.

pub mod oracle;

use std::collections::HashSet;
use std::sync::{Mutex, Once};

/// libFuzzer's panic hook aborts on every panic, even one that is caught. tributary catches
/// parser panics on purpose (and retries the document, see src/normalize/defuse.rs), so a
/// caught panic is not a crash here: this hook only notes each new panic location on stderr.
/// A panic that escapes (an oracle invariant, or a panic outside `parse_feed`) still reaches
/// libfuzzer-sys, which aborts, and is recorded as a crash.
pub fn tolerate_caught_panics() {
    static INSTALL: Once = Once::new();
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    INSTALL.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            // The oracle's own assertions: show them in full, libFuzzer aborts next.
            if location.contains("oracle.rs") || location.contains("fuzz_targets") {
                default(info);
                return;
            }
            let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
            if seen
                .get_or_insert_with(HashSet::new)
                .insert(location.clone())
            {
                eprintln!("panic (tolerated if caught): {location}: {info}");
            }
        }));
    });
}
