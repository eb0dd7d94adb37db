//! Display sanitising: every string that came from the wire passes through
//! [`clean`] before it reaches a terminal or a text file: TUI widgets, the
//! `summary` report (every line), the `diff` report, error and warning
//! messages on stderr. One function for all of them, so they cannot drift.
//!
//! Contract: the output contains no C0/C1 control character, no DEL and no
//! bidirectional override / isolate formatting character; each such
//! character is shown escaped (`\x1b`, `\u{202e}`), and a literal backslash
//! stays a single backslash (escapes are for display, not round trips).
//! Terminal escape sequences therefore can never reach the terminal.

/// True for characters that must never be written to the terminal as-is.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Escapes unsafe characters of `s` for display.
pub fn clean(s: &str) -> String {
    if !s.chars().any(is_unsafe) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    push_clean(&mut out, s);
    out
}

/// Appends `s` to `out` with unsafe characters escaped.
pub fn push_clean(out: &mut String, s: &str) {
    for c in s.chars() {
        if is_unsafe(c) {
            let v = c as u32;
            if v < 0x100 {
                out.push_str(&format!("\\x{v:02x}"));
            } else {
                out.push_str(&format!("\\u{{{v:x}}}"));
            }
        } else {
            out.push(c);
        }
    }
}

/// Display form of wire bytes that may not be UTF-8: valid UTF-8 runs are
/// cleaned, invalid bytes shown as `\xNN`.
pub fn clean_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        push_clean(&mut out, chunk.valid());
        for x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out
}

/// Display form of an AMF string.
pub fn clean_amf(s: &crate::amf::AmfStr) -> String {
    match s {
        crate::amf::AmfStr::Text(t) => clean(t),
        crate::amf::AmfStr::Bytes(b) => clean_bytes(b),
    }
}

/// Cuts a display string to at most `max` characters, adding `…`.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_sequences() {
        let s = clean("a\x1b[31mred\x07\u{9b}x\u{202e}y\r\n");
        assert!(!s.chars().any(is_unsafe));
        assert_eq!(s, "a\\x1b[31mred\\x07\\x9bx\\u{202e}y\\x0d\\x0a");
    }

    #[test]
    fn invalid_utf8_bytes_escaped() {
        assert_eq!(clean_bytes(b"ok\xff\x1b"), "ok\\xff\\x1b");
    }

    #[test]
    fn plain_text_unchanged_and_truncated() {
        assert_eq!(clean("rtmp://h/live"), "rtmp://h/live");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
