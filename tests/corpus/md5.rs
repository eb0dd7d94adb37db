//! MD5 for comparing frame payloads with ffmpeg's framemd5 lines in tests
//! (RustCrypto's `md-5`; not for any security use).

use ::md5::{Digest, Md5};

/// Lowercase hex MD5 of `data`.
pub fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn md5_rfc1321_vectors() {
    assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
}
