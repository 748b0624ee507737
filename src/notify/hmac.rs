//! HMAC-SHA256 (RFC 2104) and the `Tributary-Signature` header built on it.
//!
//! Design decision: HMAC is written out here over `sha2` rather than pulled in as a crate: it is
//! a dozen lines, pinned by the RFC 4231 vectors in the tests, and the signature scheme around
//! it (timestamp, body, header format, constant-time check) is ours to document anyway.
//!
//! The header is `Tributary-Signature: t=<unix seconds>,v1=<lowercase hex>` where the hex is
//! HMAC-SHA256(secret, `<t>` + `.` + raw body bytes). The timestamp is the attempt's, so every
//! retry is signed afresh; the `Idempotency-Key` header (also inside the body) stays the same.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::hex::hex;

/// SHA-256's block size in bytes: keys longer than this are hashed first (RFC 2104 section 2).
const BLOCK: usize = 64;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Tributary-Signature";

/// How far a receiver should let the signed timestamp stray from its own clock.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0_u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// The `Tributary-Signature` value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex(&signed_mac(secret, timestamp, body))
    )
}

fn signed_mac(secret: &[u8], timestamp: i64, body: &[u8]) -> [u8; 32] {
    let mut message = Vec::with_capacity(body.len() + 21);
    message.extend_from_slice(timestamp.to_string().as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    hmac_sha256(secret, &message)
}

/// Why a signature was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the signature header is not `t=<unix seconds>,v1=<hex>`")]
    Malformed,
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
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => candidates.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::Malformed)?;
    if candidates.is_empty() {
        return Err(VerifyError::Malformed);
    }
    let expected = hex(&signed_mac(secret, timestamp, body));
    if !candidates
        .iter()
        .any(|candidate| constant_time_eq(candidate.as_bytes(), expected.as_bytes()))
    {
        return Err(VerifyError::Mismatch);
    }
    let skew = now.timestamp().saturating_sub(timestamp);
    if skew.abs() > tolerance_secs {
        return Err(VerifyError::Stale(skew));
    }
    Ok(())
}

/// Equal-length comparison whose time does not depend on where the first difference is, so a
/// forger cannot learn the MAC byte by byte from response times.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// RFC 4231 section 4: test cases 1-4, 6 and 7 (5 is a truncated output).
    #[test]
    fn rfc_4231_vectors() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, expected) in cases {
            assert_eq!(hex(&hmac_sha256(&key, &data)), expected);
        }
    }

    #[test]
    fn a_key_of_exactly_one_block_is_used_as_is() {
        // Not hashed: hashing it would give a different MAC.
        let key = [0x42_u8; 64];
        let hashed: [u8; 32] = Sha256::digest(key).into();
        assert_ne!(hmac_sha256(&key, b"x"), hmac_sha256(&hashed, b"x"));
    }

    #[test]
    fn signatures_verify_and_refuse_tampering_and_stale_timestamps() {
        let now = DateTime::from_timestamp(1_776_000_000, 0).expect("time");
        let body = br#"{"event":"story.new"}"#;
        let header = sign(b"s3cret", now.timestamp(), body);
        assert!(header.starts_with("t=1776000000,v1="));
        assert_eq!(header.len(), "t=1776000000,v1=".len() + 64);
        assert_eq!(verify(b"s3cret", &header, body, now, 300), Ok(()));
        assert_eq!(
            verify(b"s3cret", &header, b"{\"event\":\"story.old\"}", now, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"other", &header, body, now, 300),
            Err(VerifyError::Mismatch)
        );
        let later = now + chrono::Duration::seconds(301);
        assert_eq!(
            verify(b"s3cret", &header, body, later, 300),
            Err(VerifyError::Stale(301))
        );
        assert_eq!(
            verify(b"s3cret", "v1=abc", body, now, 300),
            Err(VerifyError::Malformed)
        );
        // A rotated secret: a receiver may list several v1 values; one match is enough.
        let both = format!("{header},v1={}", "0".repeat(64));
        assert_eq!(verify(b"s3cret", &both, body, now, 300), Ok(()));
    }

    #[test]
    fn the_signed_string_is_timestamp_dot_body() {
        let body = b"hello";
        let header = sign(b"k", 12, body);
        assert_eq!(
            header,
            format!("t=12,v1={}", hex(&hmac_sha256(b"k", b"12.hello")))
        );
    }
}
