//! Lower-case hex, the one spelling of digests tributary writes (ids, hashes, ETags, signatures).

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
