//! The `Tributary-Signature` header: HMAC-SHA256 (the `hmac` crate over `sha2`) of the attempt's
//! timestamp and the raw body.
//!
//! Design decision: the MAC itself is the `hmac` crate's, and so is the constant-time
//! comparison ([`Mac::verify_slice`]); what stays here is the scheme around it, which is ours to
//! document: the header is `Tributary-Signature: t=<unix seconds>,v1=<lowercase hex>` where the
//! hex is HMAC-SHA256(secret, `<t>` + `.` + raw body bytes). The timestamp is the attempt's, so
//! every retry is signed afresh; the `Idempotency-Key` header (also inside the body) stays the
//! same.

use chrono::{DateTime, Utc};
use hmac::digest::InvalidLength;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

use crate::hex::hex;

type HmacSha256 = Hmac<Sha256>;

/// The header carrying the signature (`Tributary-Signature`), in the lowercase that header
/// maps store and HTTP/1 sends; header names are case-insensitive.
pub const SIGNATURE_HEADER: &str = "tributary-signature";

/// How far a receiver should let the signed timestamp stray from its own clock.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// The MAC of `<timestamp>.<body>`, not yet finalised. HMAC takes a key of any length, so the
/// error is one the `hmac` API makes us name, never one a secret can cause.
fn signed_mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Result<HmacSha256, InvalidLength> {
    let mut mac = HmacSha256::new_from_slice(secret)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// The `Tributary-Signature` value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> Result<String, InvalidLength> {
    let tag = signed_mac(secret, timestamp, body)?.finalize().into_bytes();
    Ok(format!("t={timestamp},v1={}", hex(&tag)))
}

/// Why a signature was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the signature header `{0}` is not `t=<unix seconds>,v1=<hex>`")]
    Malformed(String),
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the signed timestamp is {0} s away from now: too old (or too new) to accept")]
    Stale(i64),
}

/// The receiver's check, as the README describes it: parse `t` and every `v1`, recompute the
/// MAC over `t.body`, compare in constant time, and refuse a timestamp outside `tolerance_secs`
/// of `now`. (Replays inside the window are caught by remembering the `Idempotency-Key`.)
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let malformed = || VerifyError::Malformed(header.to_owned());
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => candidates.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(malformed)?;
    if candidates.is_empty() {
        return Err(malformed());
    }
    let mac = signed_mac(secret, timestamp, body).map_err(|_| VerifyError::Mismatch)?;
    // A `v1` that is not hex cannot match; it is skipped like a wrong one, so a receiver
    // listing a rotated secret's signature in another format still accepts the right one.
    let matched = candidates.iter().any(|candidate| {
        unhex(candidate).is_some_and(|tag| mac.clone().verify_slice(&tag).is_ok())
    });
    if !matched {
        return Err(VerifyError::Mismatch);
    }
    let skew = now.timestamp().saturating_sub(timestamp);
    if skew.abs() > tolerance_secs {
        return Err(VerifyError::Stale(skew));
    }
    Ok(())
}

/// Lowercase or uppercase hex to bytes; `None` for anything else.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &[u8], message: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(key).expect("any key length");
        mac.update(message);
        hex(&mac.finalize().into_bytes())
    }

    /// RFC 4231 section 4, test cases 2 and 6: pins that the crate is wired as HMAC-SHA256
    /// (and a key longer than a block is hashed first).
    #[test]
    fn rfc_4231_vectors() {
        assert_eq!(
            tag(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            tag(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn signatures_verify_and_refuse_tampering_and_stale_timestamps() {
        let now = DateTime::from_timestamp(1_776_000_000, 0).expect("time");
        let body = br#"{"event":"story.new"}"#;
        let header = sign(b"s3cret", now.timestamp(), body).expect("signed");
        assert!(header.starts_with("t=1776000000,v1="));
        assert_eq!(header.len(), "t=1776000000,v1=".len() + 64);
        assert_eq!(
            verify(b"s3cret", &header, body, now, DEFAULT_TOLERANCE_SECS),
            Ok(())
        );
        assert_eq!(
            verify(
                b"s3cret",
                &header,
                b"{\"event\":\"story.old\"}",
                now,
                DEFAULT_TOLERANCE_SECS
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"other", &header, body, now, DEFAULT_TOLERANCE_SECS),
            Err(VerifyError::Mismatch)
        );
        let later = now + chrono::Duration::seconds(301);
        assert_eq!(
            verify(b"s3cret", &header, body, later, DEFAULT_TOLERANCE_SECS),
            Err(VerifyError::Stale(301))
        );
        assert_eq!(
            verify(b"s3cret", "v1=abc", body, now, DEFAULT_TOLERANCE_SECS),
            Err(VerifyError::Malformed("v1=abc".into()))
        );
        // A rotated secret: a receiver may list several v1 values; one match is enough, and
        // one that is not even hex does not spoil it.
        let both = format!("t=1776000000,v1=zz,v1={},{}", "0".repeat(64), &header[13..]);
        assert_eq!(
            verify(b"s3cret", &both, body, now, DEFAULT_TOLERANCE_SECS),
            Ok(())
        );
        let truncated = &header[..header.len() - 2];
        assert_eq!(
            verify(b"s3cret", truncated, body, now, DEFAULT_TOLERANCE_SECS),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn the_signed_string_is_timestamp_dot_body() {
        let header = sign(b"k", 12, b"hello").expect("signed");
        assert_eq!(header, format!("t=12,v1={}", tag(b"k", b"12.hello")));
    }
}
