//! Redaction hook for `--redact`: masks stream names (publish/play keys) and
//! URL query strings in what the TUI displays.
//!
//! Contract: pure string functions; when `on` is false they return the input
//! unchanged. (When the crate-wide `redact` module lands, these delegate.)

/// Replacement text for a redacted secret.
pub const REDACTED: &str = "<redacted>";

/// A stream name (often the stream key).
pub fn stream_name(s: &str, on: bool) -> String {
    if !on || s.is_empty() {
        return s.to_owned();
    }
    REDACTED.to_owned()
}

/// A URL: the query string (after `?`) is masked.
pub fn url(s: &str, on: bool) -> String {
    if !on {
        return s.to_owned();
    }
    match s.find('?') {
        Some(i) => format!("{}?{REDACTED}", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn masks_only_when_on() {
        assert_eq!(stream_name("live_abc", false), "live_abc");
        assert_eq!(stream_name("live_abc", true), REDACTED);
        assert_eq!(url("rtmp://h/app?key=1", true), "rtmp://h/app?<redacted>");
        assert_eq!(url("rtmp://h/app", true), "rtmp://h/app");
    }
}
