//! Terminal UI (`rtmpscope tui`, `rtmpscope FILE`).
//!
//! Contract: [`run`] takes a producer closure that performs capture and
//! decoding on its own thread and fills [`Batch`]es (events, optional stream
//! bytes for the hex view, optional capture counters); batches cross a
//! bounded channel to the UI thread, which owns the [`app::App`] model and
//! redraws at most [`MAX_FPS`] times a second, on input or new data. The
//! terminal is restored on every exit path: normal quit, error, Ctrl-C (read
//! as a key in raw mode) and panic (a panic hook restores it first). Nothing
//! from the wire reaches the terminal unsanitised ([`sanitize`]).
//!
//! Wiring (sketch of what `rtmpscope tui` does):
//!
//! ```ignore
//! let mut src = cli::open_source(&input, &filter)?;      // main thread, before dropping privileges
//! let mut analyzer = Analyzer::new(config);
//! let mut finished = false;
//! let source: tui::Source = Box::new(move |b: &mut tui::Batch| {
//!     if finished { return tui::SourceStatus::Done; }
//!     for _ in 0..256 {                                    // bounded work per batch
//!         match src.next_packet() {
//!             Ok(Some(pkt)) => analyzer.handle_packet(&pkt, &mut b.events),
//!             Ok(None) => { analyzer.finish(src.stats(), &mut b.events); finished = true; break; }
//!             Err(e) => return tui::SourceStatus::Failed(e.to_string()),
//!         }
//!     }
//!     // Optional: b.bytes (StreamBytes from reassembly) for the hex view,
//!     // b.progress (packets, bytes, kernel drops) for the status bar.
//!     tui::SourceStatus::More
//! });
//! tui::run(TuiOptions { source: src.description().into(), file, mouse, redact, ..Default::default() }, source)?;
//! ```

pub mod app;
pub mod bytes;
pub mod columns;
pub mod export;
pub mod filter;
pub mod follow;
pub mod model;
pub mod reload;
pub mod spool;
pub use crate::sanitize;
pub mod summary;
pub mod tree;
pub mod view;

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event as TermEvent,
};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::Terminal;

pub use bytes::{StreamBytes, MAX_STREAM_BYTES};
pub use model::Progress;

use crate::event::Event;

/// Redraws per second at most.
pub const MAX_FPS: u64 = 30;
/// Producer batches buffered between the threads (backpressure on files).
pub const CHANNEL_BATCHES: usize = 16;
/// Time the UI spends ingesting per frame before drawing again.
pub const INGEST_BUDGET: Duration = Duration::from_millis(25);

/// What the UI is showing and how.
#[derive(Clone, Debug)]
pub struct TuiOptions {
    /// Shown in the status bar: file name or interface.
    pub source: String,
    /// Size of the capture file, to show how much of it has been read.
    pub file_size: Option<u64>,
    /// Capture file path, for pcap export (None for live capture).
    pub file: Option<PathBuf>,
    /// Enable mouse capture (breaks terminal text selection).
    pub mouse: bool,
    /// Mask stream keys and URL query strings.
    pub redact: bool,
    /// Where exports are written.
    pub export_dir: PathBuf,
    /// BPF filter of the input (the media export re-reads the file with it,
    /// so flow numbers match).
    pub filter: Option<String>,
    /// Shown in the status bar: why standard input is not spooled (the
    /// hex view then has only the in-memory ring, exports only memory).
    pub spool_note: Option<String>,
    /// Standard input spooled to a temporary file (`file` is that file):
    /// the status bar says so, and why a message cannot be read again.
    pub spool: Option<Arc<spool::SpoolState>>,
    /// Analyzer settings of the input (re-reads and exports decode the
    /// file again with them, so they see what the first pass saw).
    pub config: crate::pipeline::Config,
}

impl Default for TuiOptions {
    fn default() -> Self {
        TuiOptions {
            source: String::new(),
            file_size: None,
            file: None,
            mouse: false,
            redact: false,
            export_dir: PathBuf::from("."),
            filter: None,
            spool_note: None,
            spool: None,
            config: crate::pipeline::Config::default(),
        }
    }
}

/// One batch from the producer.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub events: Vec<Event>,
    /// Reassembled stream data for the hex view (optional).
    pub bytes: Vec<StreamBytes>,
    /// Capture counters so far (packets read, bytes, kernel drops).
    pub progress: Option<Progress>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.bytes.is_empty() && self.progress.is_none()
    }
}

/// What the producer says after filling a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceStatus {
    /// More to come: call again at once.
    More,
    /// Nothing right now (live capture timeout): call again.
    Idle,
    /// Input finished (after `Analyzer::finish`): no more calls.
    Done,
    /// Input failed: shown in the status line, no more calls.
    Failed(String),
}

/// The producer: fills a batch per call. Runs on its own thread.
pub type Source = Box<dyn FnMut(&mut Batch) -> SourceStatus + Send>;

/// Adapts an events-only producer (`FnMut(&mut Vec<Event>) -> SourceStatus`)
/// to a [`Source`] (no stream bytes, no progress counters).
pub fn events_source<F>(mut f: F) -> Source
where
    F: FnMut(&mut Vec<Event>) -> SourceStatus + Send + 'static,
{
    Box::new(move |b: &mut Batch| f(&mut b.events))
}

/// Errors of the UI itself.
#[derive(Debug)]
pub enum TuiError {
    Io(io::Error),
    /// The terminal is not a TTY.
    NotATerminal,
}

impl std::fmt::Display for TuiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TuiError::Io(e) => write!(f, "terminal error: {e}"),
            TuiError::NotATerminal => write!(f, "the TUI needs an interactive terminal"),
        }
    }
}

impl std::error::Error for TuiError {}

impl From<io::Error> for TuiError {
    fn from(e: io::Error) -> Self {
        TuiError::Io(e)
    }
}

enum Msg {
    Batch(Batch),
    End(Option<String>),
}

/// True while [`run`] owns the terminal (raw mode, alternate screen).
static TERMINAL_ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: std::sync::Once = std::sync::Once::new();

/// Installs (once per process) a panic hook that restores the terminal
/// before the panic message is printed, when the TUI owns the terminal.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if TERMINAL_ACTIVE.swap(false, Ordering::SeqCst) {
                restore_terminal();
            }
            prev(info);
        }));
    });
}

/// Restores the terminal; safe to call more than once.
pub fn restore_terminal() {
    let _ = execute!(io::stdout(), DisableMouseCapture);
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        LeaveAlternateScreen,
        ratatui::crossterm::cursor::Show
    );
    let _ = io::stdout().flush();
}

/// Owns the terminal while the UI runs: raw mode, alternate screen, optional
/// mouse capture. Dropping it (or a panic anywhere while it lives) restores
/// the terminal.
pub struct TerminalGuard(());

/// The terminal type the UI draws on.
pub type Term = Terminal<CrosstermBackend<io::Stdout>>;

impl TerminalGuard {
    /// Enters raw mode and the alternate screen (mouse capture if asked),
    /// with the panic hook installed first.
    pub fn enter(mouse: bool) -> io::Result<(Term, TerminalGuard)> {
        install_panic_hook();
        // From here on every exit path (return, `?`, panic) restores.
        TERMINAL_ACTIVE.store(true, Ordering::SeqCst);
        let guard = TerminalGuard(());
        enable_raw_mode()?;
        execute!(io::stdout(), EnterAlternateScreen)?;
        let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        terminal.clear()?;
        if mouse {
            execute!(io::stdout(), EnableMouseCapture)?;
        }
        Ok((terminal, guard))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if TERMINAL_ACTIVE.swap(false, Ordering::SeqCst) {
            restore_terminal();
        }
    }
}

fn spawn_producer(
    mut source: Source,
    tx: SyncSender<Msg>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let mut b = Batch::default();
        let st = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| source(&mut b)))
            .unwrap_or_else(|_| SourceStatus::Failed("the capture thread panicked".into()));
        if !b.is_empty() && tx.send(Msg::Batch(b)).is_err() {
            return;
        }
        match st {
            SourceStatus::More | SourceStatus::Idle => {}
            SourceStatus::Done => {
                let _ = tx.send(Msg::End(None));
                return;
            }
            SourceStatus::Failed(e) => {
                let _ = tx.send(Msg::End(Some(e)));
                return;
            }
        }
    })
}

/// Pulls batches into the app for at most `budget`; true if anything came.
fn drain(app: &mut app::App, rx: &Receiver<Msg>, budget: Duration, ended: &mut bool) -> bool {
    let start = Instant::now();
    let mut any = false;
    while start.elapsed() < budget {
        match rx.try_recv() {
            Ok(Msg::Batch(b)) => {
                app.ingest(b);
                any = true;
            }
            Ok(Msg::End(err)) => {
                *ended = true;
                app.model.done = true;
                if let Some(e) = err {
                    app.status = Some((format!("input error: {}", sanitize::clean(&e)), true));
                }
                any = true;
            }
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Disconnected) => {
                if !*ended {
                    *ended = true;
                    app.model.done = true;
                    any = true;
                }
                break;
            }
        }
    }
    any
}

/// The terminal's input, waited on here rather than inside crossterm:
/// on a hung-up terminal (tmux kill-session, a closed window, when no
/// SIGHUP reaches us because a shell was the session leader) crossterm's
/// reader spins forever (its read returns 0 and it reads again), so the
/// UI checks for the hang-up itself and quits.
enum TtyIn {
    /// Standard input is the terminal (crossterm reads it).
    Stdin,
    /// `/dev/tty` (crossterm opens it too when stdin is not a terminal).
    Dev(std::fs::File),
    /// Neither: wait inside crossterm as before.
    Unknown,
}

/// What waiting on the terminal's input gave.
enum TtyWait {
    Ready,
    Timeout,
    HungUp,
    Unknown,
}

impl TtyIn {
    fn open() -> TtyIn {
        use std::io::IsTerminal;
        if io::stdin().is_terminal() {
            TtyIn::Stdin
        } else {
            std::fs::File::open("/dev/tty").map_or(TtyIn::Unknown, TtyIn::Dev)
        }
    }

    /// Waits up to `d` for input (poll(2), no read).
    fn wait(&self, d: Duration) -> TtyWait {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let stdin = io::stdin();
        let fd = match self {
            TtyIn::Stdin => stdin.as_fd(),
            TtyIn::Dev(f) => f.as_fd(),
            TtyIn::Unknown => return TtyWait::Unknown,
        };
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        let t = PollTimeout::try_from(d).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, t) {
            Ok(0) => TtyWait::Timeout,
            Ok(_) => match fds[0].revents() {
                Some(r)
                    if r.intersects(
                        PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL,
                    ) =>
                {
                    TtyWait::HungUp
                }
                _ => TtyWait::Ready,
            },
            // EINTR (a signal: SIGWINCH, SIGTERM): let the loop look.
            Err(_) => TtyWait::Timeout,
        }
    }
}

/// Set from another thread (SIGTERM / SIGHUP): the UI quits like on `q`,
/// restoring the terminal.
pub static QUIT_REQUESTED: AtomicBool = AtomicBool::new(false);

/// Runs the UI until the user quits. The producer keeps running while the
/// display is paused; on quit it is asked to stop (it is not joined if it
/// is blocked in a capture call).
pub fn run(opts: TuiOptions, source: Source) -> Result<(), TuiError> {
    use std::io::IsTerminal;
    if !io::stdout().is_terminal() {
        return Err(TuiError::NotATerminal);
    }
    let mouse = opts.mouse;
    let (mut terminal, _guard) = TerminalGuard::enter(mouse)?;
    let (tx, rx) = mpsc::sync_channel(CHANNEL_BATCHES);
    let stop = Arc::new(AtomicBool::new(false));
    let producer = spawn_producer(source, tx, stop.clone());
    let mut app = app::App::new(opts);
    let frame = Duration::from_millis(1000 / MAX_FPS);
    let mut dirty = true;
    let mut ended = false;
    let mut last_draw = Instant::now() - frame;
    let tty = TtyIn::open();
    while !app.quit && !QUIT_REQUESTED.load(std::sync::atomic::Ordering::SeqCst) {
        dirty |= drain(&mut app, &rx, INGEST_BUDGET, &mut ended);
        if dirty && last_draw.elapsed() >= frame {
            terminal.draw(|f| view::render(&mut app, f))?;
            last_draw = Instant::now();
            dirty = false;
        }
        let wait = if dirty {
            frame.saturating_sub(last_draw.elapsed())
        } else if ended {
            Duration::from_millis(250)
        } else {
            Duration::from_millis(10)
        };
        let input = match tty.wait(wait) {
            TtyWait::HungUp => break,
            // Crossterm still looks (without waiting) on a timeout: it
            // turns SIGWINCH into resize events.
            TtyWait::Ready | TtyWait::Timeout => event::poll(Duration::ZERO)?,
            TtyWait::Unknown => event::poll(wait)?,
        };
        if input {
            // Handle every pending input before the next draw.
            loop {
                match event::read()? {
                    TermEvent::Key(k) => app.handle_key(k),
                    TermEvent::Mouse(m) if mouse => app.handle_mouse(m),
                    TermEvent::Resize(..) => {
                        terminal.autoresize()?;
                    }
                    _ => {}
                }
                dirty = true;
                if app.quit || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
            // Input redraws at once (still capped by the frame rate).
            if dirty && !app.quit {
                terminal.draw(|f| view::render(&mut app, f))?;
                last_draw = Instant::now();
                dirty = false;
            }
        }
        app.refresh();
        if std::mem::take(&mut app.needs_redraw) {
            dirty = true;
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(rx);
    let deadline = Instant::now() + Duration::from_millis(500);
    while !producer.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if producer.is_finished() {
        let _ = producer.join();
    }
    Ok(())
}
