//! Bodies the tests serve or parse: gzip, gzip bombs, chunked framing, UTF-16 text.
#![allow(
    dead_code,
    reason = "shared by many test modules; each uses only some of the helpers"
)]

use std::io::Write;

use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder};

pub const MIB: usize = 1024 * 1024;

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

/// A gzip stream of `mib` MiB of zeros that costs milliseconds to build at any size: one
/// MiB of zeros is deflated twice with sync flushes, and the second, byte-aligned block (which
/// only refers back into zeros) is repeated. Roughly 1 KiB of output per MiB of zeros.
pub fn gzip_bomb(mib: usize) -> Vec<u8> {
    assert!(mib >= 1);
    let zeros = vec![0_u8; MIB];
    let mut deflate = DeflateEncoder::new(Vec::new(), Compression::fast());
    deflate.write_all(&zeros).expect("deflate in memory");
    deflate.flush().expect("deflate in memory");
    let first = std::mem::take(deflate.get_mut());
    deflate.write_all(&zeros).expect("deflate in memory");
    deflate.flush().expect("deflate in memory");
    let repeated = std::mem::take(deflate.get_mut());
    let end = deflate.finish().expect("deflate in memory");

    let mut one = flate2::Crc::new();
    one.update(&zeros);
    let mut crc = flate2::Crc::new();
    for _ in 0..mib {
        crc.combine(&one);
    }

    let mut bomb = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    bomb.extend_from_slice(&first);
    for _ in 1..mib {
        bomb.extend_from_slice(&repeated);
    }
    bomb.extend_from_slice(&end);
    bomb.extend_from_slice(&crc.sum().to_le_bytes());
    #[expect(
        clippy::cast_possible_truncation,
        reason = "gzip's ISIZE is the length modulo 2^32 (RFC 1952, 2.3.1)"
    )]
    let isize = (mib * MIB) as u32;
    bomb.extend_from_slice(&isize.to_le_bytes());
    bomb
}

/// `data` framed in chunked transfer coding, so the response has no Content-Length.
pub fn chunked(data: &[u8]) -> Vec<u8> {
    let mut framed = Vec::new();
    for piece in data.chunks(64 * 1024) {
        framed.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        framed.extend_from_slice(piece);
        framed.extend_from_slice(b"\r\n");
    }
    framed.extend_from_slice(b"0\r\n\r\n");
    framed
}

/// `text` as UTF-16 bytes, big- or little-endian, with or without a byte-order mark.
pub fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    if bom {
        bytes.extend_from_slice(if big_endian {
            &[0xFE, 0xFF]
        } else {
            &[0xFF, 0xFE]
        });
    }
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    bytes
}
