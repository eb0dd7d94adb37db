//! `--redact`: replaces secrets (stream keys, URL credentials and query
//! parameters, credential-bearing connect fields) with stable placeholders.
//!
//! Contract: a secret `s` becomes `redacted:<h>` where `<h>` is the first 8 hex
//! digits of `sha256(REDACT_SALT || s)`. The salt is a fixed, documented
//! constant ([`REDACT_SALT`]), so the same secret gives the same placeholder in
//! every run and every output (goldens stay stable), and a reader can tell two
//! different keys apart without seeing them. The placeholder is not meant to
//! resist a dictionary attack on short keys; it keeps keys out of logs, CI
//! artefacts and screenshots.
//!
//! What is redacted:
//! - stream names given to [`STREAM_NAME_COMMANDS`] (publish, play, play2,
//!   releaseStream, FCPublish, FCUnpublish, ...), whole (query string included);
//! - in URLs (tcUrl, swfUrl, pageUrl and any string containing `://`): the
//!   user-info part (`user:pass@`) and every query parameter value;
//! - in `app` and any other string with a `?...=...` part: query parameter values
//!   (this covers Adobe/Wowza auth `?authmod=adobe&user=..&challenge=..`);
//! - values of object properties whose key has a credential word
//!   ([`is_secret_key`]: auth, token, pass, secret, key, sig, credential, user);
//! - stream names already seen ("learned") wherever they appear later, e.g. in
//!   an onStatus description ("Started publishing stream KEY") or an anomaly
//!   detail. Learning is stateful: a [`Redactor`] should see the events of an
//!   input in order ([`Redactor::redact_event`] does the learning).
//!
//! Never panics; works on clones, the input events are not modified.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::amf::{AmfStr, Property, Value, ValueKind};
use crate::event::{Event, EventKind};
use crate::rtmp::message::{Body, CommandInfo, Message};

/// Fixed salt mixed into every placeholder hash. Changing it changes every
/// placeholder (and every golden file); it is versioned for that reason.
pub const REDACT_SALT: &str = "rtmpscope-redact-v1:";
/// Prefix of every placeholder.
pub const PLACEHOLDER_PREFIX: &str = "redacted:";
/// Learned secrets shorter than this are not substituted inside other strings
/// (too many false hits); they are still redacted where they appear as a name.
pub const MIN_LEARNED_LEN: usize = 4;
/// Maximum number of learned secrets kept (memory bound on hostile input).
pub const MAX_LEARNED: usize = 4096;

/// Commands whose first string argument is a stream name (stream key).
pub const STREAM_NAME_COMMANDS: &[&str] = &[
    "publish",
    "play",
    "play2",
    "releaseStream",
    "FCPublish",
    "FCUnpublish",
    "FCSubscribe",
    "FCUnsubscribe",
    "getStreamLength",
    "onFCPublish",
    "onFCUnpublish",
];

/// Placeholder for a secret: `redacted:` + 8 hex digits of
/// `sha256(REDACT_SALT + secret)`.
pub fn placeholder(secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(REDACT_SALT.as_bytes());
    h.update(secret.as_bytes());
    let d = h.finalize();
    let mut s = String::with_capacity(PLACEHOLDER_PREFIX.len() + 8);
    s.push_str(PLACEHOLDER_PREFIX);
    for b in d.iter().take(4) {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Placeholder for raw (non-UTF-8) secret bytes.
pub fn placeholder_bytes(secret: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(REDACT_SALT.as_bytes());
    h.update(secret);
    let d = h.finalize();
    let mut s = String::from(PLACEHOLDER_PREFIX);
    for b in d.iter().take(4) {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Words that mark an object key as carrying a credential.
pub const SECRET_KEY_WORDS: &[&str] = &[
    "auth",
    "authorization",
    "token",
    "pass",
    "passwd",
    "password",
    "pwd",
    "secret",
    "key",
    "streamkey",
    "sig",
    "signature",
    "credential",
    "credentials",
    "user",
    "username",
];

/// True for object keys whose value is treated as a credential: one of the
/// key's words (split at `_`, `-`, `.` and lower-to-upper case changes) is
/// in [`SECRET_KEY_WORDS`]. `authToken`, `stream_key`, `password` match;
/// `author`, `keyframes`, `hasKeyframes` do not.
pub fn is_secret_key(key: &str) -> bool {
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if c == '_' || c == '-' || c == '.' || c == ' ' {
            words.push(std::mem::take(&mut cur));
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    words.push(cur);
    let whole = key.to_ascii_lowercase();
    SECRET_KEY_WORDS.contains(&whole.as_str())
        || words.iter().any(|w| SECRET_KEY_WORDS.contains(&w.as_str()))
}

/// Redacts the query values of `s` after its first `?`.
fn redact_query_part(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    for (i, part) in q.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match part.split_once('=') {
            Some((k, v)) if !v.is_empty() && !v.starts_with(PLACEHOLDER_PREFIX) => {
                out.push_str(k);
                out.push('=');
                out.push_str(&placeholder(v));
            }
            Some((k, v)) => {
                out.push_str(k);
                out.push('=');
                out.push_str(v);
            }
            None if part.is_empty() || part.starts_with(PLACEHOLDER_PREFIX) => out.push_str(part),
            None => out.push_str(&placeholder(part)),
        }
    }
    out
}

/// Redacts the user-info and query values of a URL. Strings without `://`
/// only get their query part redacted.
pub fn redact_url(url: &str) -> String {
    let (body, frag) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let (base, query) = match body.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (body, None),
    };
    let mut out = String::with_capacity(url.len());
    if let Some((scheme, rest)) = base.split_once("://") {
        out.push_str(scheme);
        out.push_str("://");
        let (auth, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        match auth.rsplit_once('@') {
            Some((userinfo, host)) if !userinfo.starts_with(PLACEHOLDER_PREFIX) => {
                out.push_str(&placeholder(userinfo));
                out.push('@');
                out.push_str(host);
            }
            _ => out.push_str(auth),
        }
        out.push_str(path);
    } else {
        out.push_str(base);
    }
    if let Some(q) = query {
        out.push('?');
        out.push_str(&redact_query_part(q));
    }
    if let Some(f) = frag {
        out.push('#');
        out.push_str(&redact_query_part(f));
    }
    out
}

/// Stateful redactor: remembers the stream names it has seen so they are
/// also removed from later free text. Cheap to clone.
///
/// Works on bytes: a stream name that is not valid UTF-8 is learned as its
/// bytes and as its lossy text form (U+FFFD for invalid bytes, the form the
/// session record and summary show), both mapped to the same placeholder,
/// so its echoes are replaced in byte strings and in text alike.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// Secret bytes -> placeholder.
    learned: BTreeMap<Vec<u8>, String>,
}

/// Replaces every occurrence of `needle` in `hay` by `with`.
fn replace_bytes(hay: &[u8], needle: &[u8], with: &[u8]) -> Option<Vec<u8>> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let mut out = Vec::with_capacity(hay.len());
    let (mut i, mut hit) = (0, false);
    while i < hay.len() {
        if hay[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
            hit = true;
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    hit.then_some(out)
}

impl Redactor {
    pub fn new() -> Self {
        Redactor::default()
    }

    /// Remembers a secret (and, for `name?query`, its base name and query
    /// values) for substitution in later strings.
    pub fn learn(&mut self, secret: &str) {
        let mut add = |s: &str| {
            if s.len() >= MIN_LEARNED_LEN
                && !s.starts_with(PLACEHOLDER_PREFIX)
                && self.learned.len() < MAX_LEARNED
            {
                self.learned
                    .entry(s.as_bytes().to_vec())
                    .or_insert_with(|| placeholder(s));
            }
        };
        add(secret);
        if let Some((base, q)) = secret.split_once('?') {
            add(base);
            for p in q.split('&') {
                if let Some((_, v)) = p.split_once('=') {
                    add(v);
                }
            }
        }
    }

    /// Remembers a secret that is not valid UTF-8: its bytes and its lossy
    /// text form, both mapped to the placeholder of the bytes.
    pub fn learn_bytes(&mut self, secret: &[u8]) {
        if secret.len() < MIN_LEARNED_LEN
            || secret.starts_with(PLACEHOLDER_PREFIX.as_bytes())
            || self.learned.len() + 2 > MAX_LEARNED
        {
            return;
        }
        let ph = placeholder_bytes(secret);
        self.learned.insert(secret.to_vec(), ph.clone());
        let lossy = String::from_utf8_lossy(secret).into_owned();
        self.learned.entry(lossy.into_bytes()).or_insert(ph);
    }

    /// Secrets learned so far (text ones; byte secrets in their lossy form).
    pub fn learned(&self) -> impl Iterator<Item = &str> {
        self.learned
            .keys()
            .filter_map(|s| std::str::from_utf8(s).ok())
    }

    /// Learned secrets, longest first (a key is replaced before its prefix).
    fn secrets(&self) -> Vec<(&[u8], &str)> {
        let mut v: Vec<(&[u8], &str)> = self
            .learned
            .iter()
            .map(|(k, p)| (k.as_slice(), p.as_str()))
            .collect();
        v.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(b.0)));
        v
    }

    /// Redacts wire bytes: learned secrets replaced (the result is text
    /// again when the secret was the only invalid part), text through
    /// [`Redactor::redact_str`].
    pub fn redact_bytes(&self, b: &[u8]) -> AmfStr {
        let mut out = b.to_vec();
        for (sec, ph) in self.secrets() {
            if let Some(r) = replace_bytes(&out, sec, ph.as_bytes()) {
                out = r;
            }
        }
        match String::from_utf8(out) {
            Ok(t) => AmfStr::Text(self.redact_str(&t)),
            Err(e) => AmfStr::Bytes(e.into_bytes()),
        }
    }

    /// Redacts free text: learned secrets, URL credentials and query values.
    /// This is the method a UI calls on any string it shows.
    pub fn redact_str(&self, s: &str) -> String {
        let mut out = s.to_owned();
        if !self.learned.is_empty() {
            for (sec, ph) in self.secrets() {
                let Ok(sec) = std::str::from_utf8(sec) else {
                    continue;
                };
                if out.contains(sec) {
                    out = out.replace(sec, ph);
                }
            }
        }
        if out.contains("://") || out.split_once('?').is_some_and(|(_, q)| q.contains('=')) {
            out = redact_url(&out);
        }
        out
    }

    /// A stream name: replaced whole by its placeholder (and learned).
    pub fn redact_name(&mut self, name: &str) -> String {
        if name.is_empty() || name.starts_with(PLACEHOLDER_PREFIX) {
            return name.to_owned();
        }
        // The lossy form of a learned byte secret keeps the bytes' placeholder.
        if let Some(ph) = self.learned.get(name.as_bytes()) {
            return ph.clone();
        }
        self.learn(name);
        placeholder(name)
    }

    fn redact_amfstr_name(&mut self, s: &AmfStr) -> AmfStr {
        match s {
            AmfStr::Text(t) => AmfStr::Text(self.redact_name(t)),
            AmfStr::Bytes(b) => {
                self.learn_bytes(b);
                AmfStr::Text(placeholder_bytes(b))
            }
        }
    }

    fn redact_amfstr(&self, s: &AmfStr) -> AmfStr {
        match s {
            AmfStr::Text(t) => AmfStr::Text(self.redact_str(t)),
            AmfStr::Bytes(b) => self.redact_bytes(b),
        }
    }

    /// Redacts an AMF value tree in place: strings through
    /// [`Redactor::redact_str`], values under credential-like keys whole.
    pub fn redact_value(&self, v: &mut Value) {
        self.redact_value_depth(v, 0);
    }

    fn redact_props(&self, props: &mut [Property], depth: usize) {
        for p in props {
            let secret = p.key.as_text().is_some_and(is_secret_key);
            if secret {
                if let ValueKind::String(s) = &p.value.kind {
                    let ph = match s {
                        AmfStr::Text(t) if t.starts_with(PLACEHOLDER_PREFIX) => t.clone(),
                        AmfStr::Text(t) => placeholder(t),
                        AmfStr::Bytes(b) => placeholder_bytes(b),
                    };
                    p.value.kind = ValueKind::String(AmfStr::Text(ph));
                    continue;
                }
            }
            self.redact_value_depth(&mut p.value, depth + 1);
        }
    }

    fn redact_value_depth(&self, v: &mut Value, depth: usize) {
        if depth > crate::amf::MAX_DEPTH * 2 {
            return;
        }
        match &mut v.kind {
            ValueKind::String(s) | ValueKind::Xml(s) => *s = self.redact_amfstr(s),
            ValueKind::Object { properties, .. } | ValueKind::EcmaArray { properties, .. } => {
                self.redact_props(properties, depth)
            }
            ValueKind::Array { associative, dense } => {
                self.redact_props(associative, depth);
                for d in dense {
                    self.redact_value_depth(d, depth + 1);
                }
            }
            ValueKind::StrictArray(items) | ValueKind::Vector { items, .. } => {
                for d in items {
                    self.redact_value_depth(d, depth + 1);
                }
            }
            ValueKind::Dictionary { entries, .. } => {
                for (k, val) in entries {
                    self.redact_value_depth(k, depth + 1);
                    self.redact_value_depth(val, depth + 1);
                }
            }
            ValueKind::Reference {
                resolved: Some(r), ..
            } => self.redact_value_depth(r, depth + 1),
            _ => {}
        }
    }

    /// Redacts the first string value of `args` as a stream name; for play2
    /// the `streamName`/`oldStreamName` of its object argument.
    fn redact_name_args(&mut self, args: &mut [Value]) {
        for a in args.iter_mut() {
            match &mut a.kind {
                ValueKind::String(s) => {
                    *s = self.redact_amfstr_name(s);
                    return;
                }
                ValueKind::Object { properties, .. } | ValueKind::EcmaArray { properties, .. } => {
                    let mut hit = false;
                    for p in properties.iter_mut() {
                        let k = p.key.as_text().unwrap_or("");
                        if k == "streamName" || k == "oldStreamName" {
                            if let ValueKind::String(s) = &p.value.kind {
                                let r = self.redact_amfstr_name(s);
                                p.value.kind = ValueKind::String(r);
                                hit = true;
                            }
                        }
                    }
                    if hit {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// Returns a redacted copy of a message (learning its stream names first).
    pub fn redact_message(&mut self, m: &Message) -> Message {
        let mut m = m.clone();
        self.redact_message_in_place(&mut m, 0);
        m
    }

    fn redact_message_in_place(&mut self, m: &mut Message, depth: usize) {
        match &mut m.body {
            Body::Command(c) => {
                let name = c.name.as_text().unwrap_or("").to_owned();
                if STREAM_NAME_COMMANDS.contains(&name.as_str()) {
                    self.redact_name_args(&mut c.args);
                }
                if name == "connect" {
                    // Extra connect arguments (rtmpdump `conn=S:token`,
                    // `conn=O:1 conn=NS:key:value`) carry tokens: plain
                    // strings among them are redacted whole, and learned.
                    for a in &mut c.args {
                        if let ValueKind::String(s) = &a.kind {
                            let r = self.redact_amfstr_name(s);
                            a.kind = ValueKind::String(r);
                        }
                    }
                }
                if let Some(info) = &mut c.info {
                    self.redact_info(info);
                }
                if let Some(o) = &mut c.object {
                    self.redact_value(o);
                }
                for a in &mut c.args {
                    self.redact_value(a);
                }
            }
            Body::Data(d) => {
                for a in &mut d.args {
                    self.redact_value(a);
                }
            }
            Body::SharedObject(so) => {
                for e in &mut so.events {
                    if let Some(n) = &mut e.name {
                        *n = self.redact_amfstr(n);
                    }
                    for v in &mut e.values {
                        self.redact_value(v);
                    }
                }
            }
            Body::Aggregate(subs) if depth < 4 => {
                for s in subs {
                    self.redact_message_in_place(s, depth + 1);
                }
            }
            _ => {}
        }
    }

    fn redact_info(&mut self, info: &mut CommandInfo) {
        let url = |s: &mut Option<AmfStr>| {
            if let Some(AmfStr::Text(t)) = s {
                *t = redact_url(t);
            }
        };
        match info {
            CommandInfo::Connect {
                app,
                tc_url,
                swf_url,
                page_url,
                ..
            } => {
                url(app);
                url(tc_url);
                url(swf_url);
                url(page_url);
            }
            CommandInfo::Publish { name, .. }
            | CommandInfo::Play { name, .. }
            | CommandInfo::StreamName { name } => {
                if let Some(n) = name {
                    *n = self.redact_amfstr_name(n);
                }
            }
            CommandInfo::Status {
                description: Some(d),
                ..
            } => *d = self.redact_amfstr(d),
            _ => {}
        }
    }

    /// True when [`Redactor::redact_event`] may change the event (commands,
    /// data, shared objects, aggregates, anomaly details); media and control
    /// messages never carry secrets, so callers can skip the copy.
    pub fn may_change(ev: &Event) -> bool {
        match &ev.kind {
            EventKind::Message(m) => matches!(
                m.body,
                Body::Command(_) | Body::Data(_) | Body::SharedObject(_) | Body::Aggregate(_)
            ),
            EventKind::Anomaly(_) => true,
            _ => false,
        }
    }

    /// Returns a redacted copy of an event: messages and anomaly details.
    pub fn redact_event(&mut self, ev: &Event) -> Event {
        let mut ev = ev.clone();
        match &mut ev.kind {
            EventKind::Message(m) => {
                let r = self.redact_message(m);
                **m = r;
            }
            EventKind::Anomaly(a) => a.detail = self.redact_str(&a.detail),
            _ => {}
        }
        ev
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amf::Span;

    #[test]
    fn placeholder_is_stable_and_distinct() {
        let a = placeholder("secret-key-1");
        assert_eq!(a, placeholder("secret-key-1"));
        assert_ne!(a, placeholder("secret-key-2"));
        assert!(a.starts_with("redacted:"));
        assert_eq!(a.len(), "redacted:".len() + 8);
        assert!(a[9..].chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn url_credentials_and_query() {
        let r = redact_url("rtmp://alice:pw1@example.com:1935/live?token=abc123&x=1");
        assert!(!r.contains("alice") && !r.contains("pw1") && !r.contains("abc123"));
        assert!(r.starts_with("rtmp://redacted:"));
        assert!(r.contains("@example.com:1935/live?token=redacted:"));
        assert!(r.contains("&x=redacted:"));
        assert_eq!(
            redact_url("rtmp://example.com/live"),
            "rtmp://example.com/live"
        );
        let app = redact_url("live?authmod=adobe&user=bob");
        assert!(app.starts_with("live?authmod=redacted:"));
        assert!(!app.contains("bob"));
    }

    #[test]
    fn secret_keys_by_word() {
        for k in [
            "authToken",
            "stream_key",
            "password",
            "streamKey",
            "user",
            "X-Auth",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "author",
            "keyframes",
            "hasKeyframes",
            "flashVer",
            "tcUrl",
            "app",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn url_redaction_is_idempotent() {
        let once = redact_url("rtmp://u:p@h/app?token=abc&flag&x=");
        assert_eq!(redact_url(&once), once);
        assert_eq!(Redactor::new().redact_str(&once), once);
        assert!(once.ends_with("&x="));
    }

    #[test]
    fn learned_names_replaced_in_text() {
        let mut r = Redactor::new();
        let p = r.redact_name("mykey123?sig=zz99");
        assert_eq!(p, placeholder("mykey123?sig=zz99"));
        let t = r.redact_str("Started publishing stream mykey123.");
        assert!(!t.contains("mykey123"));
        assert!(t.contains(&placeholder("mykey123")));
    }

    #[test]
    fn secret_keys_in_objects() {
        let s = |t: &str| Value::new(Span::default(), ValueKind::String(AmfStr::from(t)));
        let mut v = Value::new(
            Span::default(),
            ValueKind::Object {
                class: None,
                properties: vec![
                    Property {
                        key: "authToken".into(),
                        value: s("hunter2"),
                    },
                    Property {
                        key: "flashVer".into(),
                        value: s("FMLE/3.0"),
                    },
                ],
            },
        );
        Redactor::new().redact_value(&mut v);
        assert_eq!(
            v.get("authToken").and_then(|v| v.as_str()).cloned(),
            Some(AmfStr::Text(placeholder("hunter2")))
        );
        assert_eq!(
            v.get("flashVer").and_then(|v| v.as_str()).cloned(),
            Some(AmfStr::from("FMLE/3.0"))
        );
    }
}
