//! Human summary: one block per RTMP session, then totals.
//!
//! Contract: [`write_summary`] writes plain text lines of at most
//! [`SummaryOptions::width`] columns (100 by default; longer lines end in
//! `...`; a replay command word longer than a line is kept whole, never cut
//! or wrapped inside its quotes), deterministic for the same sessions. Every
//! line passes through [`crate::sanitize`]: no control character, DEL or
//! bidi override from the wire reaches the terminal (shown as `\x1b`...). ANSI colours only when
//! [`SummaryOptions::color`] is set; [`SummaryOptions::for_stdout`] sets it
//! when stdout is a terminal and `NO_COLOR` is unset. With `redact`, sessions
//! are redacted ([`crate::redact`]) before printing. [`Progress`] is a small
//! stderr progress line for long inputs.

use std::io::{self, IsTerminal, Write};

use crate::event::{Event, EventKind, Stats};
use crate::redact::Redactor;
use crate::session::{Loss, MediaStats, Session, SessionTracker, LOSS_ANOMALIES};

/// Default line width.
pub const SUMMARY_WIDTH: usize = 100;
/// Packets between two progress updates.
pub const PROGRESS_EVERY: u64 = 10_000;

/// Summary options.
#[derive(Clone, Debug)]
pub struct SummaryOptions {
    pub color: bool,
    pub width: usize,
    pub redact: bool,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        SummaryOptions {
            color: false,
            width: SUMMARY_WIDTH,
            redact: false,
        }
    }
}

impl SummaryOptions {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset.
    pub fn for_stdout(redact: bool) -> Self {
        SummaryOptions {
            color: color_enabled(&io::stdout()),
            width: SUMMARY_WIDTH,
            redact,
        }
    }
}

/// True when `stream` is a terminal and `NO_COLOR` is unset or empty.
pub fn color_enabled<T: IsTerminal>(stream: &T) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[derive(Clone, Copy)]
enum Style {
    Plain,
    Bold,
    Dim,
    Yellow,
    Red,
    Green,
}

struct Out<'a, W: Write> {
    w: &'a mut W,
    opts: &'a SummaryOptions,
}

impl<W: Write> Out<'_, W> {
    /// Writes one line, sanitised ([`crate::sanitize::clean`]: wire text
    /// cannot drive the terminal) and cut to the width.
    fn line(&mut self, indent: usize, text: &str, style: Style) -> io::Result<()> {
        self.write_line(indent, text, style, true)
    }

    /// Like [`Out::line`] but never cut (command lines stay copy-pastable).
    fn line_whole(&mut self, indent: usize, text: &str, style: Style) -> io::Result<()> {
        self.write_line(indent, text, style, false)
    }

    fn write_line(&mut self, indent: usize, text: &str, style: Style, cut: bool) -> io::Result<()> {
        let mut t = " ".repeat(indent);
        crate::sanitize::push_clean(&mut t, text);
        let width = self.opts.width.max(10);
        if cut && t.chars().count() > width {
            t = t.chars().take(width - 3).collect::<String>() + "...";
        }
        let code = match style {
            Style::Plain => "",
            Style::Bold => "\x1b[1m",
            Style::Dim => "\x1b[2m",
            Style::Yellow => "\x1b[33m",
            Style::Red => "\x1b[31m",
            Style::Green => "\x1b[32m",
        };
        if self.opts.color && !code.is_empty() {
            writeln!(self.w, "{code}{t}\x1b[0m")
        } else {
            writeln!(self.w, "{t}")
        }
    }
}

/// `1234567` -> `1.2 MB`.
pub fn human_bytes(b: u64) -> String {
    const U: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1000.0 && i < U.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

/// bits/s -> `2.5 Mbit/s`.
pub fn human_rate(bps: f64) -> String {
    if bps >= 1e6 {
        format!("{:.2} Mbit/s", bps / 1e6)
    } else {
        format!("{:.0} kbit/s", bps / 1e3)
    }
}

fn media_lines(kind: &str, m: &MediaStats) -> Vec<String> {
    if m.messages == 0 {
        return Vec::new();
    }
    let mut head = format!(
        "{kind:<5} {}",
        m.codec.clone().unwrap_or_else(|| "?".into())
    );
    if let Some(c) = &m.config {
        head.push_str(&format!(" ({c})"));
    } else if kind == "audio" {
        if let Some(r) = m.sample_rate {
            head.push_str(&format!(" {r} Hz"));
        }
        if let Some(c) = m.channels {
            head.push_str(&format!(" {c} ch"));
        }
    }
    let mut parts = vec![format!("{} msgs", m.messages), human_bytes(m.bytes)];
    if let Some(b) = m.bitrate_bps {
        parts.push(human_rate(b));
    }
    if let Some(f) = m.frame_rate.filter(|_| kind == "video") {
        parts.push(format!("{f:.2} fps"));
    }
    if kind == "video" && m.keyframes > 0 {
        let mut k = format!("{} keyframes", m.keyframes);
        if let Some(i) = m.keyframe_interval_ms {
            k.push_str(&format!(" every {:.2} s", i / 1000.0));
        }
        parts.push(k);
    }
    parts.push(format!("{:.1} s", m.duration_ms as f64 / 1000.0));
    let mut out = vec![head, format!("  {}", parts.join(", "))];
    if !m.loss.is_empty() {
        let l = &m.loss;
        out.push(format!(
            "  loss: {} gap(s), ~{} msgs lost (~{} ms of media), {} timestamps estimated",
            l.gaps, l.messages_lost, l.media_ms, l.timestamps_estimated
        ));
    }
    out
}

/// Stream health: length of the series, GOP, drift and A/V drift; then the
/// worst second and the health anomalies.
pub fn health_lines(h: &crate::health::StreamHealth) -> Vec<String> {
    let n = h.series.video_bytes.len();
    let secs = n as f64 * h.bucket_ms as f64 / 1000.0;
    let mut parts = vec![format!("health {secs:.0} s")];
    if let (Some(f), Some(ms)) = (h.gop.frames, h.gop.ms) {
        parts.push(format!(
            "GOP {:.0}-{:.0} frames {:.0}-{:.0} ms",
            f.min, f.max, ms.min, ms.max
        ));
    }
    parts.push(format!("drift max {:+} ms", h.max_drift_ms));
    if let Some(av) = &h.av_drift {
        parts.push(format!("a/v {:+}..{:+} ms", av.min_ms, av.max_ms));
    }
    let mut out = vec![parts.join(", ")];
    if let Some(w) = &h.worst_second {
        let secs = |i: usize| i as f64 * h.bucket_ms as f64 / 1000.0;
        let mut ws = format!(
            "  worst second {:.0}: {}, {} video + {} audio frames, drift {:+} ms",
            secs(w.index),
            human_rate(w.bitrate_bps as f64),
            w.video_frames,
            w.audio_frames,
            w.drift_ms
        );
        if w.jumps + w.regressions > 0 {
            ws.push_str(&format!(
                ", {} jumps {} regressions",
                w.jumps, w.regressions
            ));
        }
        out.push(ws);
    }
    if !h.anomalies.is_empty() {
        let a: Vec<String> = h
            .anomalies
            .iter()
            .map(|(k, v)| format!("{k} x{v}"))
            .collect();
        out.push(format!("  {}", a.join(", ")));
    }
    out
}

/// Splits a POSIX shell command line into its words at the spaces outside
/// single quotes (`'a b'\''c'` is one word), keeping the quoting.
pub fn shell_words(cmd: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let (mut start, mut in_quote, mut escaped) = (0, false, false);
    for (i, c) in cmd.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if !in_quote => escaped = true,
            '\'' => in_quote = !in_quote,
            ' ' if !in_quote => {
                words.push(&cmd[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    words.push(&cmd[start..]);
    words
}

/// Splits a shell command into lines of at most `width` columns (after
/// `indent`), joined with ` \` continuations so it stays copy-pastable.
/// Breaks only between shell words, never inside a quoted word: a word
/// longer than the line stays whole on its own line.
pub fn wrap_command(cmd: &str, indent: usize, width: usize) -> Vec<String> {
    let avail = width.saturating_sub(indent + 2).max(20);
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in shell_words(cmd) {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > avail {
            lines.push(std::mem::take(&mut cur) + " \\");
            cur.push_str("    ");
        } else if !cur.is_empty() && !cur.ends_with("    ") {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    lines.push(cur);
    lines
}

/// The transport and tunnel facts of a tunnelled session (RTMPT): empty for
/// plain RTMP. Shared by the summary and the TUI's session view.
pub fn tunnel_lines(s: &Session) -> Vec<String> {
    let Some(tr) = &s.transport else {
        return Vec::new();
    };
    let mut v = Vec::new();
    let sid = s.tunnel_sid.as_deref().unwrap_or("?");
    let Some(t) = &s.tunnel else {
        v.push(format!("transport: {tr}  sid {sid}  (tunnel open)"));
        return v;
    };
    let mut carriers: Vec<String> = t.carriers.iter().map(|c| c.to_string()).collect();
    if t.carrier_count > t.carriers.len() as u64 {
        carriers.push(format!(
            "+{} more",
            t.carrier_count - t.carriers.len() as u64
        ));
    }
    v.push(format!(
        "transport: {tr}{}  sid {sid}  carried by TCP flow{} {}{}{}",
        if t.encrypted {
            " (RTMPTE: encrypted)"
        } else {
            ""
        },
        if carriers.len() == 1 { "" } else { "s" },
        carriers.join(", "),
        if t.midstream { "  [open not seen]" } else { "" },
        if t.closed { "  closed" } else { "" },
    ));
    let r = &t.requests;
    v.push(format!(
        "tunnel requests: open {} send {} idle {} close {} ident2 {}  empty polls {}",
        r.open, r.send, r.idle, r.close, r.ident2, t.empty_polls
    ));
    if !t.intervals.is_empty() {
        let iv: Vec<String> = t
            .intervals
            .iter()
            .map(|(k, n)| format!("0x{k:02x} x{n}"))
            .collect();
        v.push(format!("tunnel intervals asked: {}", iv.join(", ")));
    }
    let dir = |h: u64, p: u64, o: u64| {
        let pct = if h > 0 {
            o as f64 * 100.0 / h as f64
        } else {
            0.0
        };
        format!("HTTP {h} B = RTMP {p} B + overhead {o} B ({pct:.1}%)")
    };
    v.push(format!(
        "tunnel bytes c->s {}",
        dir(
            t.http_bytes.to_server,
            t.rtmp_bytes.to_server,
            t.overhead_bytes.to_server
        )
    ));
    v.push(format!(
        "tunnel bytes s->c {}",
        dir(
            t.http_bytes.to_client,
            t.rtmp_bytes.to_client,
            t.overhead_bytes.to_client
        )
    ));
    let l = &t.latency;
    let ms = |u: Option<u64>| u.map_or("-".to_owned(), |u| format!("{:.2} ms", u as f64 / 1000.0));
    v.push(format!(
        "tunnel latency (request -> response) avg {} min {} max {} over {}  HTTP errors {}",
        ms(l.avg_us),
        ms(l.min_us),
        ms(l.max_us),
        l.count,
        t.http_errors
    ));
    if t.missing_seqs + t.duplicate_seqs + t.lost_responses > 0 {
        v.push(format!(
            "tunnel faults: missing seqs {}  duplicate seqs {}  lost responses {}",
            t.missing_seqs, t.duplicate_seqs, t.lost_responses
        ));
    }
    v
}

fn write_anomalies<W: Write>(o: &mut Out<'_, W>, s: &Session) -> io::Result<()> {
    let folded = |name: &str| s.gaps.count > 0 && LOSS_ANOMALIES.contains(&name);
    if s.anomalies.keys().any(|n| !folded(n)) {
        o.line(2, "anomalies:", Style::Yellow)?;
        for (name, n) in s.anomalies.iter().filter(|(n, _)| !folded(n)) {
            o.line(4, &format!("{name} x{n}"), Style::Yellow)?;
        }
    }
    Ok(())
}

/// The TLS lines of an RTMPS/TLS session.
fn tls_lines(t: &crate::tls::TlsInfo) -> Vec<(String, Style)> {
    let mut v = vec![(
        format!(
            "TLS: {} {}  SNI: {}  ALPN: {}{}",
            t.version.unwrap_or("version ?"),
            t.cipher_suite.as_deref().unwrap_or("-"),
            t.sni.as_deref().unwrap_or("-"),
            t.alpn.as_deref().unwrap_or("-"),
            t.resumed
                .map(|r| format!("  resumed ({r})"))
                .unwrap_or_default()
        ),
        Style::Plain,
    )];
    if let Some(c) = &t.certificate {
        v.push((
            format!(
                "certificate: {}  issuer: {}  valid {} .. {}",
                c.subject, c.issuer, c.not_before, c.not_after
            ),
            Style::Plain,
        ));
    }
    v.push((
        format!(
            "records: {} / {} ({} / {})  decryption: {}{}",
            t.records[0],
            t.records[1],
            human_bytes(t.record_bytes[0]),
            human_bytes(t.record_bytes[1]),
            t.decryption,
            if t.rtmp_inside {
                "  record sizes: RTMP handshake inside"
            } else {
                ""
            }
        ),
        Style::Plain,
    ));
    for a in &t.alerts {
        if a.code == Some(0) {
            continue;
        }
        v.push((
            format!(
                "alert from the {}: {} {}",
                if a.direction == crate::event::Direction::ToServer {
                    "client"
                } else {
                    "server"
                },
                a.level,
                a.description
            ),
            if a.level == "fatal" {
                Style::Yellow
            } else {
                Style::Plain
            },
        ));
    }
    v
}

/// One line for one loss: `c->s offset 19572: 756 B lost, cut audio
/// message on csid 4, resynchronised at 20328`.
pub fn loss_line(l: &Loss) -> String {
    let dir = match l.direction {
        Some(crate::event::Direction::ToServer) => "c->s",
        Some(crate::event::Direction::ToClient) => "s->c",
        None => "?",
    };
    let mut t = format!("{dir} offset {}: {} lost", l.offset, human_bytes(l.len));
    if let Some(first) = &l.truncated_first {
        t.push_str(&format!(", cut {first}"));
        if l.truncated_messages > 1 {
            t.push_str(&format!(" and {} more", l.truncated_messages - 1));
        }
    }
    match l.resync_at {
        Some(at) => t.push_str(&format!(", resynchronised at {at}")),
        None => t.push_str(", not resynchronised"),
    }
    t
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or("-".into(), |x| x.to_string())
}

fn write_session<W: Write>(o: &mut Out<'_, W>, s: &Session) -> io::Result<()> {
    let addr = |e: &Option<crate::session::Endpoint>| {
        e.as_ref().map_or("?".to_string(), |e| {
            if e.ip.contains(':') {
                format!("[{}]:{}", e.ip, e.port)
            } else {
                format!("{}:{}", e.ip, e.port)
            }
        })
    };
    o.line(
        0,
        &format!(
            "Session {} (flow {}): {} -> {}{}",
            s.session_id,
            s.flow_id,
            addr(&s.client),
            addr(&s.server),
            if s.midstream { " [mid-stream]" } else { "" }
        ),
        Style::Bold,
    )?;
    o.line(
        2,
        &format!(
            "{} .. {}  end: {}  protocol: {}{}",
            s.start,
            s.end,
            s.end_reason.map_or("open", |r| r.as_str()),
            s.protocol.map_or("-", |p| p.as_str()),
            match (&s.evidence, &s.confidence) {
                (Some(e), Some(c)) => format!(" ({e}, confidence {c})"),
                _ => String::new(),
            }
        ),
        Style::Dim,
    )?;
    for l in tunnel_lines(s) {
        o.line(2, &l, Style::Plain)?;
    }
    if let Some(t) = &s.tls {
        for (l, style) in tls_lines(t) {
            o.line(2, &l, style)?;
        }
        if s.handshake.kind.is_none() && s.messages.to_server == 0 && s.messages.to_client == 0 {
            // TLS only (no keys, or not RTMP inside): no RTMP lines.
            return write_anomalies(o, s);
        }
    }
    let h = &s.handshake;
    o.line(
        2,
        &format!(
            "handshake: {}  client {}  server {}{}",
            h.kind.as_deref().unwrap_or("?"),
            h.client_version.as_deref().unwrap_or("?"),
            h.server_version.as_deref().unwrap_or("?"),
            match (h.client_digest_valid, h.server_digest_valid) {
                (Some(false), _) | (_, Some(false)) => "  (digest INVALID)",
                _ => "",
            }
        ),
        Style::Plain,
    )?;
    if let Some(a) = &s.app {
        o.line(2, &format!("app: {a}"), Style::Plain)?;
    }
    if let Some(t) = &s.tc_url {
        o.line(2, &format!("tcUrl: {t}"), Style::Plain)?;
    }
    if let Some(f) = &s.flash_ver {
        o.line(2, &format!("flashVer: {f}"), Style::Plain)?;
    }
    if let Some(u) = &s.swf_url {
        o.line(2, &format!("swfUrl: {u}"), Style::Plain)?;
    }
    if let Some(u) = &s.page_url {
        o.line(2, &format!("pageUrl: {u}"), Style::Plain)?;
    }
    if !s.four_cc_list.is_empty() {
        o.line(
            2,
            &format!("fourCcList: {}", s.four_cc_list.join(", ")),
            Style::Plain,
        )?;
    }
    o.line(
        2,
        &format!(
            "chunk size c->s {} s->c {}  window ack c->s {} s->c {}  peer bw {}",
            opt(&s.chunk_size.to_server),
            opt(&s.chunk_size.to_client),
            opt(&s.window_ack_size.to_server),
            opt(&s.window_ack_size.to_client),
            opt(&s.peer_bandwidth.to_client)
        ),
        Style::Plain,
    )?;
    o.line(
        2,
        &format!(
            "messages c->s {} s->c {}",
            s.messages.to_server, s.messages.to_client
        ),
        Style::Plain,
    )?;
    for st in &s.streams {
        let mut head = if st.msid_unknown {
            "stream ? (msid unknown)".to_owned()
        } else {
            format!("stream {}", st.msid)
        };
        if let Some(r) = &st.role {
            head.push_str(&format!(" {r}"));
            if st.role_inferred {
                head.push_str(" (inferred from the media)");
            }
        }
        if let Some(n) = &st.name {
            head.push_str(&format!(" \"{n}\""));
            if let Some(c) = &st.name_from {
                head.push_str(&format!(" (name from {c})"));
            }
        }
        if let Some(t) = &st.publish_type {
            head.push_str(&format!(" ({t})"));
        }
        if let Some(st0) = st.play_start {
            head.push_str(&format!(" start {st0}"));
        }
        if !st.media_msids.is_empty() {
            let l: Vec<String> = st.media_msids.iter().map(|m| m.to_string()).collect();
            head.push_str(&format!(" [media also on msid {}]", l.join(",")));
        }
        if st.deleted {
            head.push_str(" [deleted]");
        }
        o.line(2, &head, Style::Bold)?;
        for kind in ["video", "audio"] {
            let m = if kind == "video" {
                &st.video
            } else {
                &st.audio
            };
            for l in media_lines(kind, m) {
                o.line(4, &l, Style::Plain)?;
            }
        }
        if let Some(h) = &st.health {
            for l in health_lines(h) {
                o.line(4, &l, Style::Plain)?;
            }
        }
        if st.data_messages > 0 {
            o.line(
                4,
                &format!(
                    "data  {} msgs {}{}",
                    st.data_messages,
                    human_bytes(st.data_bytes),
                    if st.metadata.is_some() {
                        " (onMetaData)"
                    } else {
                        ""
                    }
                ),
                Style::Plain,
            )?;
        }
    }
    if !s.status.is_empty() {
        o.line(2, "status:", Style::Plain)?;
        for e in &s.status {
            let style = if e.command == "_error"
                || e.level.as_deref() == Some("error")
                || e.code.as_deref().is_some_and(|c| {
                    c.contains("Rejected") || c.contains("Failed") || c.contains("BadName")
                }) {
                Style::Red
            } else {
                Style::Green
            };
            let mut t = format!("{} {}", e.command, e.code.as_deref().unwrap_or("(no code)"));
            if let Some(r) = &e.responds_to {
                t.push_str(&format!(" (to {r})"));
            }
            if let Some(d) = e.description.as_deref().filter(|d| !d.is_empty()) {
                t.push_str(&format!(": {d}"));
            }
            o.line(4, &t, style)?;
        }
        if s.status_dropped > 0 {
            o.line(4, &format!("... {} more", s.status_dropped), Style::Dim)?;
        }
    }
    if s.pings.count > 0 {
        o.line(
            2,
            &format!(
                "ping rtt: {} samples, min {} us, avg {} us, max {} us",
                s.pings.count,
                opt(&s.pings.min_rtt_us),
                opt(&s.pings.avg_rtt_us),
                opt(&s.pings.max_rtt_us)
            ),
            Style::Plain,
        )?;
    }
    if s.gaps.count > 0 {
        o.line(
            2,
            &format!(
                "gaps: {} ({} missed)",
                s.gaps.count,
                human_bytes(s.gaps.bytes)
            ),
            Style::Yellow,
        )?;
        // One line per loss: the gap with the messages it cut and where
        // decoding resumed (its tcp.seq_gap / rtmp.gap_truncated /
        // rtmp.resync diagnostics folded in).
        for l in &s.losses {
            o.line(4, &loss_line(l), Style::Yellow)?;
        }
        if s.gaps.count > s.losses.len() as u64 {
            o.line(
                4,
                &format!("... {} more", s.gaps.count - s.losses.len() as u64),
                Style::Dim,
            )?;
        }
    }
    write_anomalies(o, s)?;
    if !s.replay.is_empty() {
        o.line(2, "replay:", Style::Dim)?;
        for r in &s.replay {
            for l in wrap_command(r, 4, o.opts.width) {
                o.line_whole(4, &l, Style::Dim)?;
            }
        }
    }
    Ok(())
}

/// Writes the summary of `sessions` and the input totals.
pub fn write_summary<W: Write>(
    w: &mut W,
    sessions: &[Session],
    stats: Option<&Stats>,
    opts: &SummaryOptions,
) -> io::Result<()> {
    write_summary_from(w, sessions, 0, stats, opts)
}

/// Like [`write_summary`]; `skipped` earlier sessions were summarised and
/// dropped (their numbers are their own `session_id`s, so nothing shifts).
fn write_summary_from<W: Write>(
    w: &mut W,
    sessions: &[Session],
    _skipped: usize,
    stats: Option<&Stats>,
    opts: &SummaryOptions,
) -> io::Result<()> {
    let mut o = Out { w, opts };
    let mut red = Redactor::new();
    // First seen first: the session numbers every output shares.
    let mut order: Vec<&Session> = sessions.iter().collect();
    order.sort_by_key(|s| s.session_id);
    for s in order {
        if opts.redact {
            let r = s.redacted(&mut red);
            write_session(&mut o, &r)?;
        } else {
            write_session(&mut o, s)?;
        }
        o.line(0, "", Style::Plain)?;
    }
    if sessions.is_empty() {
        o.line(0, "No RTMP sessions found.", Style::Yellow)?;
    }
    if let Some(st) = stats {
        o.line(
            0,
            &format!(
                "Totals: {} packets, {}, {} flows ({} RTMP), {} messages, {} missed",
                st.packets,
                human_bytes(st.bytes),
                st.flows,
                st.rtmp_flows,
                st.messages,
                human_bytes(st.missed_bytes)
            ),
            Style::Bold,
        )?;
        if st.non_tcp > 0 || st.unknown_link > 0 {
            o.line(
                2,
                &format!(
                    "{} non-TCP packets, {} unknown link",
                    st.non_tcp, st.unknown_link
                ),
                Style::Plain,
            )?;
        }
        if let Some(k) = st.kernel_dropped {
            o.line(2, &format!("kernel dropped {k} packets"), Style::Yellow)?;
        }
        if !st.anomalies.is_empty() {
            o.line(2, "anomalies:", Style::Yellow)?;
            for (name, n) in &st.anomalies {
                o.line(4, &format!("{name} x{n}"), Style::Yellow)?;
            }
        }
    }
    Ok(())
}

/// Closed sessions the summary keeps in full (about 1.5 KB each); beyond
/// it the oldest are folded into [`Folded`] counts and dropped, so a
/// capture of a million short sessions cannot exhaust memory.
pub const MAX_KEPT_SESSIONS: usize = 10_000;

/// What the summary keeps of the closed sessions it dropped.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Folded {
    pub sessions: u64,
    pub messages: u64,
    pub gaps: u64,
    pub anomalies: std::collections::BTreeMap<String, u64>,
}

impl Folded {
    fn add(&mut self, s: &Session) {
        self.sessions += 1;
        self.messages += s.messages.to_server + s.messages.to_client;
        self.gaps += s.gaps.count;
        for (k, n) in &s.anomalies {
            *self.anomalies.entry(k.clone()).or_insert(0) += n;
        }
    }
}

/// Collects what the summary needs from the event stream: feed every event,
/// then [`SummaryCollector::write`].
#[derive(Debug, Default)]
pub struct SummaryCollector {
    tracker: SessionTracker,
    sessions: std::collections::VecDeque<Session>,
    folded: Folded,
    stats: Option<Stats>,
}

impl SummaryCollector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one event.
    pub fn handle(&mut self, ev: &Event) {
        self.tracker.handle(ev);
        for s in self.tracker.take_finished() {
            self.keep(s);
        }
        if let EventKind::Stats(s) = &ev.kind {
            self.stats = Some(s.clone());
        }
    }

    fn keep(&mut self, s: Session) {
        self.sessions.push_back(s);
        while self.sessions.len() > MAX_KEPT_SESSIONS {
            if let Some(old) = self.sessions.pop_front() {
                self.folded.add(&old);
            }
        }
    }

    /// Finished sessions so far plus the open ones (live view).
    pub fn snapshot(&self) -> Vec<Session> {
        let mut v: Vec<Session> = self.sessions.iter().cloned().collect();
        v.extend(self.tracker.snapshot());
        v
    }

    /// The closed sessions folded into counts so far.
    pub fn folded(&self) -> &Folded {
        &self.folded
    }

    /// Closes open sessions and returns the sessions kept and the stats.
    pub fn finish(mut self) -> (Vec<Session>, Option<Stats>) {
        for s in self.tracker.finish() {
            self.keep(s);
        }
        (self.sessions.into(), self.stats)
    }

    /// Closes open sessions and writes the summary (sessions beyond
    /// [`MAX_KEPT_SESSIONS`] as one line of counts first).
    pub fn write<W: Write>(mut self, w: &mut W, opts: &SummaryOptions) -> io::Result<()> {
        for s in self.tracker.finish() {
            self.keep(s);
        }
        let f = std::mem::take(&mut self.folded);
        if f.sessions > 0 {
            let mut o = Out { w, opts };
            o.line(
                0,
                &format!(
                    "{} earlier sessions not shown (over {MAX_KEPT_SESSIONS} kept): {} messages, {} gaps",
                    f.sessions, f.messages, f.gaps
                ),
                Style::Bold,
            )?;
            if !f.anomalies.is_empty() {
                o.line(2, "anomalies:", Style::Yellow)?;
                for (name, n) in &f.anomalies {
                    o.line(4, &format!("{name} x{n}"), Style::Yellow)?;
                }
            }
            o.line(0, "", Style::Plain)?;
        }
        let first = f.sessions as usize;
        let sessions: Vec<Session> = self.sessions.into();
        write_summary_from(w, &sessions, first, self.stats.as_ref(), opts)
    }
}

/// A one-line progress indicator on stderr (`\r`-rewritten), shown only when
/// enabled (the CLI enables it when stderr is a terminal).
pub struct Progress<W: Write = io::Stderr> {
    w: W,
    enabled: bool,
    total_bytes: Option<u64>,
    next_at: u64,
    shown: bool,
}

impl Progress<io::Stderr> {
    /// Progress on stderr, enabled when stderr is a terminal.
    pub fn stderr(total_bytes: Option<u64>) -> Self {
        let enabled = io::stderr().is_terminal();
        Progress::new(io::stderr(), enabled, total_bytes)
    }
}

impl<W: Write> Progress<W> {
    pub fn new(w: W, enabled: bool, total_bytes: Option<u64>) -> Self {
        Progress {
            w,
            enabled,
            total_bytes,
            next_at: 0,
            shown: false,
        }
    }

    /// Reports progress; writes at most every [`PROGRESS_EVERY`] packets.
    pub fn update(&mut self, packets: u64, bytes: u64) {
        if !self.enabled || packets < self.next_at {
            return;
        }
        self.next_at = packets.saturating_add(PROGRESS_EVERY);
        let pct = match self.total_bytes {
            Some(t) if t > 0 => format!(" ({:.0}%)", (bytes as f64 * 100.0 / t as f64).min(100.0)),
            _ => String::new(),
        };
        let _ = write!(
            self.w,
            "\r{packets} packets, {}{pct}   ",
            human_bytes(bytes)
        );
        let _ = self.w.flush();
        self.shown = true;
    }

    /// Clears the line.
    pub fn finish(&mut self) {
        if self.shown {
            let _ = write!(self.w, "\r{:60}\r", "");
            let _ = self.w.flush();
            self.shown = false;
        }
    }

    /// The underlying writer (tests).
    pub fn into_inner(self) -> W {
        self.w
    }
}
