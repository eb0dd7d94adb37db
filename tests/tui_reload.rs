//! Decoding again from the capture file (issue 16): with caches so small
//! that nothing decoded stays in memory (no full message kept, a byte ring
//! smaller than the capture's streams, 4 KiB re-read windows), every message the user moves to, in
//! the order a user moves (forward through the whole list, then back to
//! the start, then a jump to the middle), shows its decoded tree and its
//! bytes, and they are exactly the first pass's: the decoded message
//! equals the one `Analyzer` produced, the hex bytes equal the stream bytes
//! the analyzer delivered. Also on the ~1 GB benchmark capture when
//! `RTMPSCOPE_BIG_CAPTURE` names one (`captures/benchmark.sh` makes it).
//!
//! Needs the bundled captures; SKIPPED otherwise (FAILS with
//! RTMPSCOPE_REQUIRE_INPUTS=1).

#[path = "support/inputs.rs"]
mod inputs;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use rtmpscope::capture::{PacketSource, SourceOptions};
use rtmpscope::event::{Direction, Event, EventKind, FlowId};
use rtmpscope::pipeline::{Analyzer, Config, DataTap};
use rtmpscope::tui::app::App;
use rtmpscope::tui::bytes::ByteStore;
use rtmpscope::tui::spool::{SpoolReader, SpoolState, MAX_SPOOL_BYTES};
use rtmpscope::tui::{view, Batch, TuiOptions};

/// All stream bytes of the first pass (small captures only).
#[derive(Default)]
struct AllBytes(HashMap<(FlowId, Direction), Vec<u8>>);

impl DataTap for AllBytes {
    fn data(&mut self, flow: FlowId, dir: Direction, offset: u64, data: &[u8]) {
        let v = self.0.entry((flow, dir)).or_default();
        let end = offset as usize + data.len();
        if v.len() < end {
            v.resize(end, 0);
        }
        v[offset as usize..end].copy_from_slice(data);
    }
}

/// First pass: the events (and, if asked, every stream byte).
fn first_pass(cap: &Path, keep_bytes: bool) -> (Vec<Event>, AllBytes) {
    let src = PacketSource::open_file(cap, &SourceOptions::default()).unwrap();
    first_pass_of(src, keep_bytes)
}

fn first_pass_of(mut src: PacketSource, keep_bytes: bool) -> (Vec<Event>, AllBytes) {
    let mut a = Analyzer::new(Config::default());
    let mut events = Vec::new();
    let mut all = AllBytes::default();
    while let Some(p) = src.next_packet().unwrap() {
        if keep_bytes {
            a.handle_packet_tap(&p, &mut events, &mut all);
        } else {
            a.handle_packet(&p, &mut events);
        }
    }
    a.finish(None, &mut events);
    (events, all)
}

fn app_for(cap: &Path, events: Vec<Event>, ring: usize) -> App {
    let mut app = App::new(TuiOptions {
        file: Some(cap.to_path_buf()),
        ..TuiOptions::default()
    });
    // Nothing decoded is kept: every message needs the file again.
    app.model.full_caps = Some((0, 0));
    app.bytes = ByteStore::with_capacity(ring);
    app.reload_window_bytes = 4 * 1024;
    app.ingest(Batch {
        events,
        ..Batch::default()
    });
    app.model.sync_sessions();
    app
}

fn key(app: &mut App, c: KeyCode) {
    app.handle_key(KeyEvent::new(c, KeyModifiers::NONE));
}

fn draw(app: &mut App, term: &mut Terminal<TestBackend>) -> String {
    term.draw(|f| view::render(app, f)).unwrap();
    let b = term.backend().buffer().clone();
    let mut s = String::new();
    for y in 0..b.area.height {
        for x in 0..b.area.width {
            s.push_str(b[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

/// The selected message is shown decoded and with its bytes, equal to
/// the first pass's.
fn check_selected(
    app: &mut App,
    term: &mut Terminal<TestBackend>,
    msgs: &HashMap<u32, Event>,
    all: Option<&AllBytes>,
) {
    draw(app, term); // asks for the re-read
    assert!(
        app.wait_reread(Duration::from_secs(60)),
        "re-read did not answer"
    );
    let s = draw(app, term);
    let r = app.selected_row().unwrap();
    let row = app.model.rows[r as usize].clone();
    assert!(!s.contains("no longer kept"), "row {r}:\n{s}");
    assert!(!s.contains("not available"), "row {r}:\n{s}");
    let full = app
        .model
        .full(r as usize)
        .unwrap_or_else(|| panic!("row {r} not decoded again"));
    if let Some(EventKind::Message(m)) = msgs.get(&r).map(|e| &e.kind) {
        assert_eq!(**m, *full, "row {r}: decoded again differently");
    }
    let got: Vec<Option<u8>> =
        app.bytes
            .range(row.flow_id, row.dir, row.first_byte, row.last_byte + 1);
    assert!(got.iter().all(|b| b.is_some()), "row {r}: bytes missing");
    if let Some(all) = all {
        let want =
            &all.0[&(row.flow_id, row.dir)][row.first_byte as usize..=row.last_byte as usize];
        let got: Vec<u8> = got.into_iter().map(|b| b.unwrap()).collect();
        assert_eq!(got, want, "row {r}: bytes differ");
    }
    // The detail tree is the decoded one (its header node), not the compact one.
    let (tr, t) = app.tree.as_ref().expect("tree");
    assert_eq!(*tr, r);
    assert!(
        t.nodes.iter().any(|n| n.label.starts_with("Header")),
        "row {r}"
    );
}

fn message_events(events: &[Event]) -> HashMap<u32, Event> {
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Message(_)))
        .enumerate()
        .map(|(i, e)| (i as u32, e.clone()))
        .collect()
}

/// `ring`: the byte ring's size, smaller than the capture's stream bytes
/// (and larger than its largest message).
fn walk(cap: &Path, ring: usize) {
    let (events, all) = first_pass(cap, true);
    walk_events(cap, events, all, ring, None);
}

/// [`walk`] with the first pass's results, `file` being what is read
/// again (a spool of standard input when `spool` is given).
fn walk_events(
    file: &Path,
    events: Vec<Event>,
    all: AllBytes,
    ring: usize,
    spool: Option<std::sync::Arc<SpoolState>>,
) {
    let msgs = message_events(&events);
    let mut app = app_for(file, events, ring);
    app.opts.spool = spool;
    let total: usize = all.0.values().map(|v| v.len()).sum();
    assert!(
        total > 2 * ring,
        "the ring must be too small to hold the capture"
    );
    let n = app.model.rows.len();
    assert!(n > 100, "{n} messages");
    let mut term = Terminal::new(TestBackend::new(140, 50)).unwrap();
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('g'));
    // Forward through every message (the re-read thread reads on).
    for i in 0..n {
        assert_eq!(app.selected_row(), Some(i as u32));
        check_selected(&mut app, &mut term, &msgs, Some(&all));
        key(&mut app, KeyCode::Down);
    }
    // Back to the first (it starts the file again), then the middle.
    key(&mut app, KeyCode::Char('g'));
    check_selected(&mut app, &mut term, &msgs, Some(&all));
    app.nav((n / 2) as isize);
    check_selected(&mut app, &mut term, &msgs, Some(&all));
    // Still bounded: the ring never holds more than its cap.
    assert!(app.bytes.len() <= ring);
}

fn bundled(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name);
    if p.exists() {
        Some(p)
    } else {
        inputs::missing(&format!("{} not found", p.display()));
        None
    }
}

#[test]
fn every_message_is_decoded_again_from_the_file() {
    let Some(cap) = bundled("01-ffmpeg-nginx-publish-play.pcap") else {
        return;
    };
    walk(&cap, 16 * 1024);
}

#[test]
fn big_keyframes_are_decoded_again_from_the_file() {
    // 60000-byte chunks, keyframes of hundreds of KB: larger than a window.
    let Some(cap) = bundled("11-nginx-chunk60000-big-keyframes.pcap") else {
        return;
    };
    walk(&cap, 256 * 1024);
}

/// The ~1 GB benchmark capture (not in the repo): the first message, the
/// first video sequence header, a message in the middle and the last
/// one, with the default caches.
#[test]
fn big_capture_messages_are_decoded_again() {
    let Some(cap) = std::env::var_os("RTMPSCOPE_BIG_CAPTURE").map(PathBuf::from) else {
        eprintln!("SKIPPED: set RTMPSCOPE_BIG_CAPTURE to a capture made by captures/benchmark.sh");
        return;
    };
    let (events, _) = first_pass(&cap, false);
    let mut app = App::new(TuiOptions {
        file: Some(cap.clone()),
        ..TuiOptions::default()
    });
    app.ingest(Batch {
        events,
        ..Batch::default()
    });
    let n = app.model.rows.len();
    let seq_header = (0..n)
        .find(|&i| app.model.summary(&app.model.rows[i]).contains("AVC config"))
        .unwrap_or(1);
    let mut term = Terminal::new(TestBackend::new(140, 50)).unwrap();
    key(&mut app, KeyCode::Char('2'));
    let none = HashMap::new();
    for target in [0, seq_header, n / 2, n - 1, 1] {
        key(&mut app, KeyCode::Char('g'));
        app.nav(target as isize);
        let t0 = std::time::Instant::now();
        check_selected(&mut app, &mut term, &none, None);
        eprintln!("row {target}: shown after {:?}", t0.elapsed());
    }
}

/// Standard input as `rtmpscope tui -r -` reads it: through the spooling
/// reader with the pure-Rust reader; the spool file (read again with
/// libpcap) gives every message and its bytes exactly as the first pass.
#[test]
fn stdin_spool_is_decoded_again() {
    let Some(cap) = bundled("01-ffmpeg-nginx-publish-play.pcap") else {
        return;
    };
    let (spool, reader) = SpoolReader::create(
        std::fs::File::open(&cap).unwrap(),
        &std::env::temp_dir(),
        MAX_SPOOL_BYTES,
    )
    .unwrap();
    let src = PacketSource::open_reader(reader, "stdin", &SourceOptions::default()).unwrap();
    let (events, all) = first_pass_of(src, true);
    assert_eq!(
        std::fs::read(&spool.state.path).unwrap(),
        std::fs::read(&cap).unwrap()
    );
    let path = spool.state.path.clone();
    walk_events(&path, events, all, 16 * 1024, Some(spool.state.clone()));
    drop(spool);
    assert!(!path.exists(), "spool file removed");
}

/// A spool cut by its cap: the messages past it say why they cannot be
/// shown (the spool's cap), not that the file lacks them.
#[test]
fn capped_stdin_spool_says_why() {
    let Some(cap) = bundled("01-ffmpeg-nginx-publish-play.pcap") else {
        return;
    };
    let (spool, reader) = SpoolReader::create(
        std::fs::File::open(&cap).unwrap(),
        &std::env::temp_dir(),
        20_000,
    )
    .unwrap();
    let src = PacketSource::open_reader(reader, "stdin", &SourceOptions::default()).unwrap();
    let (events, _) = first_pass_of(src, false);
    assert!(spool.state.stopped());
    let mut app = app_for(&spool.state.path, events, 16 * 1024);
    app.opts.spool = Some(spool.state.clone());
    let mut term = Terminal::new(TestBackend::new(140, 50)).unwrap();
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('G'));
    draw(&mut app, &mut term);
    assert!(app.wait_reread(Duration::from_secs(60)));
    let s = draw(&mut app, &mut term);
    assert!(s.contains("stdin was spooled only up to 20 KB"), "{s}");
    assert!(s.contains("stdin spool full"), "{s}");
    // The first message is in the spooled part: shown.
    key(&mut app, KeyCode::Char('g'));
    let msgs = HashMap::new();
    check_selected(&mut app, &mut term, &msgs, None);
}
