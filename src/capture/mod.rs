//! Packet sources: pcap/pcapng files (libpcap, pure-Rust fallback), stdin and
//! live interfaces.
//!
//! Contract: a source yields [`RawPacket`]s in capture order with their
//! 1-based index, nanosecond timestamp and link type; errors opening a source
//! are user errors (exit code 2), never panics.
//!
//! Backends:
//! - files go through libpcap (`pcap_open_offline`, nanosecond precision);
//!   files libpcap refuses (pcapng whose interfaces have different link
//!   types, ...) are read with the pure-Rust `pcap-parser`;
//! - stdin (`-`) is always read with `pcap-parser` (a pipe cannot be rewound
//!   to retry after libpcap refused it), streaming;
//! - live interfaces go through libpcap (immediate mode, non-blocking, the
//!   descriptor polled with a 100 ms timeout, kernel BPF filter), optionally
//!   saving raw packets (`-w`, flushed after every packet like `tcpdump -U`)
//!   and dropping root privileges once the capture is open. libpcap's own
//!   read timeout is not relied on: a blocking `pcap_next_ex` can wait for
//!   the next packet indefinitely after a burst, which held the last packets
//!   of a burst back from a live display until more traffic came.
//!
//! BPF filters on files and stdin are compiled with libpcap for the link
//! type of each interface and applied in user space, so `pcap_cnt` stays the
//! frame number in the file (as tshark shows it) even with a filter. A live
//! capture numbers the packets the kernel filter delivered.

mod block;
mod parser;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

use pcap::{Active, BpfProgram, Capture, Offline, Precision};

use crate::time::PacketTime;

pub use parser::ParserSource;

pub use crate::packet::{KernelStats, RawPacket};

/// Default snapshot length: large enough for GRO/TSO super-segments.
pub const DEFAULT_SNAPLEN: u32 = 262_144;
/// Kernel capture buffer of a live capture (like tcpdump -B): loopback
/// and GRO/TSO segments are up to 64 KiB, so libpcap's 2 MiB default holds
/// only a few dozen of them and a busy UI thread could cause drops.
pub const LIVE_BUFFER_BYTES: i32 = 64 * 1024 * 1024;
/// Read timeout of a live capture, in milliseconds: how often a blocked
/// capture checks for Ctrl-C.
pub const LIVE_TIMEOUT_MS: i32 = 100;
/// Link type reported for a pcapng packet whose interface id refers to no
/// interface description block (decodes as an unknown link).
pub const LINKTYPE_UNDEFINED_INTERFACE: u32 = u32::MAX;

/// Why a source could not be opened or read. `Display` is one line for
/// the user (the CLI prints it and exits with code 2).
#[derive(Debug)]
pub enum CaptureError {
    /// The input file does not exist.
    NotFound(PathBuf),
    /// The OS refused access to a file or a capture device.
    PermissionDenied {
        what: String,
        /// A live capture (the message hints at capabilities / root).
        live: bool,
    },
    /// The input is not a pcap or pcapng capture.
    NotACapture { what: String, detail: String },
    /// The input ends in the middle of a packet (a capture cut short).
    Truncated {
        what: String,
        detail: String,
        /// Byte offset in the file where the cut record starts, when known.
        offset: Option<u64>,
    },
    /// The input is damaged past a point where reading can continue.
    Corrupt { what: String, detail: String },
    /// The BPF filter expression does not compile.
    BadFilter { expr: String, detail: String },
    /// No capture device of that name.
    NoSuchDevice(String),
    /// Any other libpcap failure on a live device.
    Live { iface: String, detail: String },
    /// Any other I/O error.
    Io { what: String, err: std::io::Error },
    /// Dropping privileges failed (or the requested user does not exist).
    Privileges(String),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::NotFound(p) => write!(f, "{}: no such file", p.display()),
            CaptureError::PermissionDenied { what, live: false } => {
                write!(f, "{what}: permission denied")
            }
            CaptureError::PermissionDenied { what, live: true } => write!(
                f,
                "{what}: permission denied opening a live capture (run as root, or once: \
                 sudo setcap cap_net_raw,cap_net_admin=eip $(which rtmpscope))"
            ),
            CaptureError::NotACapture { what, detail } => {
                write!(f, "{what}: not a pcap or pcapng capture ({detail})")
            }
            CaptureError::Truncated {
                what,
                detail,
                offset,
            } => {
                write!(
                    f,
                    "{what}: capture cut short in the middle of a packet ({detail}"
                )?;
                if let Some(o) = offset {
                    write!(f, "; the cut record starts at byte {o}")?;
                }
                write!(f, ")")
            }
            CaptureError::Corrupt { what, detail } => {
                write!(f, "{what}: damaged capture ({detail})")
            }
            CaptureError::BadFilter { expr, detail } => {
                write!(f, "invalid capture filter '{expr}': {detail}")
            }
            CaptureError::NoSuchDevice(d) => write!(
                f,
                "{d}: no such capture interface (list them with: rtmpscope --list-interfaces)"
            ),
            CaptureError::Live { iface, detail } => write!(f, "{iface}: {detail}"),
            CaptureError::Io { what, err } => write!(f, "{what}: {err}"),
            CaptureError::Privileges(m) => write!(f, "cannot drop privileges: {m}"),
        }
    }
}

impl std::error::Error for CaptureError {}

impl CaptureError {
    /// True when the input merely ends early (the packets read so far are
    /// good): callers finish the analysis and warn.
    pub fn is_truncation(&self) -> bool {
        matches!(self, CaptureError::Truncated { .. })
    }

    /// For a truncation: the file and the byte offset where the cut record
    /// starts (when known).
    pub fn truncation(&self) -> Option<(&str, Option<u64>)> {
        match self {
            CaptureError::Truncated { what, offset, .. } => Some((what.as_str(), *offset)),
            _ => None,
        }
    }
}

/// Which implementation reads a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// libpcap offline reader.
    Libpcap,
    /// Pure-Rust `pcap-parser` reader (pcapng with mixed link types, stdin).
    PcapParser,
    /// libpcap live capture.
    Live,
}

/// Options for opening a source. Live-only fields are ignored for files.
#[derive(Clone, Debug)]
pub struct SourceOptions {
    /// BPF filter expression (tcpdump syntax), applied to files too.
    pub filter: Option<String>,
    /// Live: snapshot length.
    pub snaplen: u32,
    /// Live: promiscuous mode.
    pub promisc: bool,
    /// Live: save raw packets to this classic pcap file.
    pub savefile: Option<PathBuf>,
    /// Live, when running as root: user to switch to once the capture is
    /// open (`None`: `nobody` if that user exists).
    pub user: Option<String>,
    /// Live, when running as root: drop privileges at all.
    pub drop_privileges: bool,
    /// Classic pcap files: `read` calls on a thread of their own
    /// ([`block::BlockReader::read_ahead`]).
    pub read_ahead: bool,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            filter: None,
            snaplen: DEFAULT_SNAPLEN,
            promisc: true,
            savefile: None,
            user: None,
            drop_privileges: true,
            read_ahead: false,
        }
    }
}

/// Stops a source from another thread (Ctrl-C handler): the next call to
/// [`PacketSource::next_packet`] returns `Ok(None)`; a blocked live capture
/// is woken up.
#[derive(Clone)]
pub struct StopHandle {
    flag: Arc<AtomicBool>,
    /// Number of the signal that requested the stop (0: none, or a stop
    /// without a signal).
    signal: Arc<AtomicI32>,
    breaker: Option<Arc<pcap::BreakLoop>>,
}

impl StopHandle {
    /// Requests the stop. Returns true if a stop had already been requested.
    pub fn stop(&self) -> bool {
        let already = self.flag.swap(true, Ordering::SeqCst);
        if let Some(b) = &self.breaker {
            b.breakloop();
        }
        already
    }

    /// Requests the stop on behalf of signal `signo` (SIGINT, SIGTERM,
    /// SIGHUP): the source ends like end of input and
    /// [`StopHandle::signal`] tells why. Returns true if a stop had already
    /// been requested.
    pub fn stop_by_signal(&self, signo: i32) -> bool {
        let _ = self
            .signal
            .compare_exchange(0, signo, Ordering::SeqCst, Ordering::SeqCst);
        self.stop()
    }

    /// The signal that stopped the source, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// True once [`StopHandle::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// Metadata of the packet held in [`PacketSource`]'s buffer.
#[derive(Clone, Copy, Debug)]
struct Meta {
    time: PacketTime,
    linktype: u32,
    origlen: u32,
}

enum Inner {
    File(LibpcapFile),
    Parser(Box<ParserSource>),
    Live(Box<LiveCapture>),
    Merged(Box<Merger>),
}

/// Several capture files read as one, merged by packet time like
/// `mergecap` (ties: the file given first). Each part holds at most one
/// packet read ahead.
struct Merger {
    parts: Vec<MergePart>,
    /// A part that ended in a truncation: reported once all parts are done.
    truncated: Option<CaptureError>,
}

struct MergePart {
    src: PacketSource,
    /// The packet read ahead: metadata and bytes.
    head: Option<(Meta, Vec<u8>)>,
    done: bool,
}

struct LibpcapFile {
    cap: Capture<Offline>,
    path: PathBuf,
    /// "pcap" or "pcapng".
    kind: &'static str,
    linktype: u32,
    filter: Option<BpfProgram>,
    /// Classic pcap: file offset of the next record (24-byte file header,
    /// then 16-byte record headers and captured bytes).
    next_record: u64,
    /// Classic pcap: the records read in big blocks, in place
    /// ([`block::BlockReader`]); `None` once libpcap took over (or for
    /// files it does not read).
    block: Option<block::BlockReader<std::fs::File>>,
    /// Records the block reader delivered (libpcap skips them when it
    /// takes over).
    block_records: u64,
}

/// One step of a libpcap file read.
enum FileStep<R> {
    Packet(R),
    /// The packet did not pass the filter.
    Filtered,
    End,
    Err(CaptureError),
    /// libpcap refused the rest of a pcapng file: continue with the
    /// pure-Rust reader (libpcap's message).
    FallBack(String),
}

impl LibpcapFile {
    /// Reads one record; a packet that passes the filter goes to `f` with
    /// its metadata, in libpcap's buffer.
    fn next<R>(&mut self, count: &mut u64, f: impl FnOnce(&[u8], Meta, u64) -> R) -> FileStep<R> {
        if let Some(b) = &mut self.block {
            match b.next() {
                block::Next::Record(rec) => {
                    let data = b.data(&rec);
                    self.block_records += 1;
                    self.next_record += PCAP_RECORD_HEADER_LEN + data.len() as u64;
                    *count += 1;
                    if let Some(prog) = &self.filter {
                        if !prog.filter(data) {
                            return FileStep::Filtered;
                        }
                    }
                    let meta = Meta {
                        time: rec.time,
                        linktype: self.linktype,
                        origlen: rec.origlen,
                    };
                    return FileStep::Packet(f(data, meta, *count));
                }
                block::Next::End => return FileStep::End,
                block::Next::Handover => {
                    // libpcap reads on from this record: past the ones
                    // delivered already (read without error before).
                    self.block = None;
                    for _ in 0..self.block_records {
                        if self.cap.next_packet().is_err() {
                            break;
                        }
                    }
                }
            }
        }
        let p = match self.cap.next_packet() {
            Ok(p) => p,
            Err(pcap::Error::NoMorePackets) => return FileStep::End,
            // libpcap refuses a pcapng file only when it meets an interface
            // with another link type: continue with the pure-Rust reader
            // after the packets already read.
            Err(e) if self.kind == "pcapng" => return FileStep::FallBack(pcap_msg(&e)),
            Err(e) => {
                // libpcap says only "error" (PCAP_ERROR) and a text: whether
                // the file was cut is decided from the file's structure, not
                // by reading the text.
                let detail = pcap_msg(&e);
                let what = self.path.display().to_string();
                return FileStep::Err(match truncation_offset(&self.path) {
                    Some(at) => CaptureError::Truncated {
                        what,
                        detail,
                        offset: Some(if self.kind == "pcap" {
                            self.next_record
                        } else {
                            at
                        }),
                    },
                    None => CaptureError::Corrupt { what, detail },
                });
            }
        };
        self.next_record += PCAP_RECORD_HEADER_LEN + u64::from(p.header.caplen);
        *count += 1;
        if let Some(prog) = &self.filter {
            if !prog.filter(p.data) {
                return FileStep::Filtered;
            }
        }
        let meta = Meta {
            time: pcap_time(p.header, true),
            linktype: self.linktype,
            origlen: p.header.len,
        };
        FileStep::Packet(f(p.data, meta, *count))
    }
}

struct LiveCapture {
    cap: Capture<Active>,
    linktype: u32,
    savefile: Option<pcap::Savefile>,
    /// The `-w` path (for messages).
    savefile_path: PathBuf,
    /// A write error of the savefile noticed where it cannot be returned
    /// ([`PacketSource::stats`]), kept for [`PacketSource::take_savefile_error`].
    savefile_error: Option<CaptureError>,
}

impl LiveCapture {
    /// Flushes the savefile; on failure the savefile is closed (writing on
    /// after a failed write would leave a file with a hole) and the error
    /// returned, once.
    fn flush_savefile(&mut self) -> Result<(), CaptureError> {
        let Some(s) = &mut self.savefile else {
            return Ok(());
        };
        match s.flush() {
            Ok(()) => Ok(()),
            Err(e) => {
                self.savefile = None;
                let err = match e {
                    pcap::Error::ErrnoError(n) => std::io::Error::from_raw_os_error(n.0),
                    other => std::io::Error::other(pcap_msg(&other)),
                };
                Err(CaptureError::Io {
                    what: format!("-w {}", self.savefile_path.display()),
                    err,
                })
            }
        }
    }
}

/// Waits until the live capture's descriptor is readable or `timeout_ms`
/// passed; true when readable. A failed poll waits the timeout and says
/// not readable (the caller reads again after an idle turn).
fn wait_readable(cap: &Capture<Active>, timeout_ms: i32) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut fds = [PollFd::new(cap.as_fd(), PollFlags::POLLIN)];
    let t = PollTimeout::try_from(timeout_ms.max(0)).unwrap_or(PollTimeout::MAX);
    match poll(&mut fds, t) {
        Ok(0) => false,
        Ok(_) => true,
        Err(nix::errno::Errno::EINTR) => false,
        Err(_) => {
            std::thread::sleep(std::time::Duration::from_millis(timeout_ms.max(1) as u64));
            false
        }
    }
}

/// A packet source: file, stdin or live interface.
pub struct PacketSource {
    inner: Inner,
    description: String,
    /// Index of the last packet read from the input (filtered or not).
    count: u64,
    buf: Vec<u8>,
    stop: StopHandle,
    /// Live: return `Ok(None)` when the read timeout expires (see
    /// [`PacketSource::set_idle_return`]).
    idle_return: bool,
    /// The last `Ok(None)` was an idle timeout, not the end of the input.
    idle: bool,
    /// BPF filter expression, if any.
    filter: Option<String>,
}

impl fmt::Debug for PacketSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketSource")
            .field("description", &self.description)
            .field("backend", &self.backend())
            .field("count", &self.count)
            .finish()
    }
}

/// Magic numbers of the capture formats (first 4 bytes, as stored).
fn capture_kind(head: &[u8]) -> Option<&'static str> {
    let m: [u8; 4] = head.get(0..4)?.try_into().ok()?;
    match u32::from_le_bytes(m) {
        0x0a0d_0d0a => Some("pcapng"),
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0xa1b2_cd34 | 0x34cd_b2a1 => {
            Some("pcap")
        }
        _ => None,
    }
}

/// Maps a LINKTYPE_ value to the DLT_ value libpcap's filter compiler
/// expects, and back.
pub fn linktype_to_dlt(linktype: u32) -> i32 {
    match linktype {
        101 => 12,
        other => other as i32,
    }
}

fn dlt_to_linktype(dlt: i32) -> u32 {
    match dlt {
        12 | 14 => crate::link::LINKTYPE_RAW,
        other => other as u32,
    }
}

/// Compiles `expr` for `linktype` outside any capture (for user-space
/// filtering of files and stdin).
pub(crate) fn compile_filter(expr: &str, linktype: u32) -> Result<BpfProgram, CaptureError> {
    let bad = |detail: String| CaptureError::BadFilter {
        expr: expr.to_string(),
        detail,
    };
    let dead =
        Capture::dead(pcap::Linktype(linktype_to_dlt(linktype))).map_err(|e| bad(pcap_msg(&e)))?;
    dead.compile(expr, true)
        .map_err(|e| bad(format!("{} (link type {linktype})", pcap_msg(&e))))
}

/// Why opening a live capture failed, by error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LiveFailure {
    PermissionDenied,
    NoSuchDevice,
    Other,
}

/// Classifies a failed live open by codes, not by libpcap's message text:
/// the `pcap` crate keeps `pcap_activate`'s return code to itself (it hands
/// back only `pcap_geterr`'s text), so the two causes a user can act on are
/// asked of the kernel directly. An interface name the kernel does not know
/// (`if_nametoindex`: ENODEV) is a missing device ("any" is libpcap's own
/// pseudo-device); a packet socket the kernel refuses (EPERM/EACCES) is
/// missing privilege. An error the crate did return with a code (errno, I/O
/// kind) is read first.
fn live_failure_cause(iface: &str, e: &pcap::Error) -> LiveFailure {
    use nix::errno::Errno;
    let by_errno = |n: Errno| match n {
        Errno::EPERM | Errno::EACCES => Some(LiveFailure::PermissionDenied),
        Errno::ENODEV | Errno::ENXIO => Some(LiveFailure::NoSuchDevice),
        _ => None,
    };
    match e {
        pcap::Error::IoError(std::io::ErrorKind::PermissionDenied) => {
            return LiveFailure::PermissionDenied
        }
        pcap::Error::IoError(std::io::ErrorKind::NotFound) => return LiveFailure::NoSuchDevice,
        pcap::Error::ErrnoError(n) => {
            if let Some(c) = by_errno(Errno::from_raw(n.0)) {
                return c;
            }
        }
        _ => {}
    }
    if iface != "any" {
        if let Err(n) = nix::net::if_::if_nametoindex(iface) {
            if let Some(c) = by_errno(n) {
                return c;
            }
        }
    }
    live_capture_permission()
}

/// Whether the kernel lets this process open a packet socket (what libpcap
/// needs on Linux): EPERM/EACCES means missing privilege
/// (CAP_NET_RAW). Elsewhere nothing is asked.
fn live_capture_permission() -> LiveFailure {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
        match socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            None,
        ) {
            Err(nix::errno::Errno::EPERM | nix::errno::Errno::EACCES) => {
                LiveFailure::PermissionDenied
            }
            _ => LiveFailure::Other,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        LiveFailure::Other
    }
}

fn pcap_msg(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) => s.clone(),
        other => other.to_string(),
    }
}

fn header_time(ts_sec: i64, frac: i64, nano: bool) -> PacketTime {
    let nsec = if nano {
        frac
    } else {
        frac.saturating_mul(1000)
    };
    let nsec = nsec.clamp(0, i64::from(u32::MAX)) as u32;
    PacketTime::new(ts_sec, nsec)
}

/// Timestamp of a libpcap packet header (`timeval` field widths vary by
/// platform, hence the casts).
#[allow(clippy::unnecessary_cast)]
fn pcap_time(h: &pcap::PacketHeader, nano: bool) -> PacketTime {
    header_time(h.ts.tv_sec as i64, h.ts.tv_usec as i64, nano)
}

impl PacketSource {
    /// Opens a capture file (`-` = stdin). libpcap first; pcapng files it
    /// refuses go to the pure-Rust reader.
    pub fn open_file(path: &Path, opts: &SourceOptions) -> Result<PacketSource, CaptureError> {
        if path.as_os_str() == "-" {
            return Self::open_stdin(opts);
        }
        let what = path.display().to_string();
        let mut file = std::fs::File::open(path).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => CaptureError::NotFound(path.to_path_buf()),
            std::io::ErrorKind::PermissionDenied => CaptureError::PermissionDenied {
                what: what.clone(),
                live: false,
            },
            _ => CaptureError::Io {
                what: what.clone(),
                err,
            },
        })?;
        let meta = file.metadata().ok();
        if meta.as_ref().is_some_and(|m| m.is_dir()) {
            return Err(CaptureError::NotACapture {
                what,
                detail: "is a directory".into(),
            });
        }
        if meta.as_ref().is_some_and(|m| !m.is_file()) {
            // A FIFO or `<(tcpdump -w -)`: cannot be reopened after libpcap
            // refused it, so stream it like stdin.
            let p = ParserSource::new(file, &what, opts.filter.clone())?;
            return Ok(Self::new(
                Inner::Parser(Box::new(p)),
                format!("{what} (stream, pcap-parser){}", filter_desc(opts)),
                opts.filter.clone(),
                None,
            ));
        }
        let mut head = [0u8; 4];
        let n = read_up_to(&mut file, &mut head).map_err(|err| CaptureError::Io {
            what: what.clone(),
            err,
        })?;
        let Some(kind) = capture_kind(&head[..n]) else {
            return Err(CaptureError::NotACapture {
                what,
                detail: if n == 0 {
                    "empty file".into()
                } else {
                    "unknown magic number".into()
                },
            });
        };
        drop(file);
        match Capture::from_file_with_precision(path, Precision::Nano) {
            Ok(cap) => {
                let linktype = dlt_to_linktype(cap.get_datalink().0);
                let filter = match &opts.filter {
                    Some(expr) => {
                        Some(
                            cap.compile(expr, true)
                                .map_err(|e| CaptureError::BadFilter {
                                    expr: expr.clone(),
                                    detail: pcap_msg(&e),
                                })?,
                        )
                    }
                    None => None,
                };
                Ok(Self::new(
                    Inner::File(LibpcapFile {
                        cap,
                        path: path.to_path_buf(),
                        kind,
                        linktype,
                        filter,
                        next_record: PCAP_FILE_HEADER_LEN,
                        block: if kind == "pcap" {
                            std::fs::File::open(path)
                                .ok()
                                .and_then(block::BlockReader::new)
                                .and_then(|b| {
                                    if opts.read_ahead {
                                        b.read_ahead()
                                    } else {
                                        Some(b)
                                    }
                                })
                        } else {
                            None
                        },
                        block_records: 0,
                    }),
                    format!("file {what} ({kind}, libpcap){}", filter_desc(opts)),
                    opts.filter.clone(),
                    None,
                ))
            }
            Err(lib_err) => {
                let file = std::fs::File::open(path).map_err(|err| CaptureError::Io {
                    what: what.clone(),
                    err,
                })?;
                match ParserSource::new(file, &what, opts.filter.clone()) {
                    Ok(p) => Ok(Self::new(
                        Inner::Parser(Box::new(p)),
                        format!(
                            "file {what} ({kind}, pcap-parser: libpcap said: {}){}",
                            pcap_msg(&lib_err),
                            filter_desc(opts)
                        ),
                        opts.filter.clone(),
                        None,
                    )),
                    Err(CaptureError::NotACapture { .. }) => Err(CaptureError::NotACapture {
                        what,
                        detail: pcap_msg(&lib_err),
                    }),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Opens several capture files read as one input, merged by packet time
    /// (`mergecap` order; `pcap_cnt` counts packets of the merged input).
    /// One path opens that file alone.
    pub fn open_files(
        paths: &[PathBuf],
        opts: &SourceOptions,
    ) -> Result<PacketSource, CaptureError> {
        if let [one] = paths {
            return Self::open_file(one, opts);
        }
        let mut parts = Vec::with_capacity(paths.len());
        for p in paths {
            if p.as_os_str() == "-" {
                return Err(CaptureError::NotACapture {
                    what: "-".into(),
                    detail: "standard input cannot be merged with other files".into(),
                });
            }
            parts.push(MergePart {
                src: Self::open_file(p, opts)?,
                head: None,
                done: false,
            });
        }
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        Ok(Self::new(
            Inner::Merged(Box::new(Merger {
                parts,
                truncated: None,
            })),
            format!(
                "files {} (merged by time){}",
                names.join(", "),
                filter_desc(opts)
            ),
            opts.filter.clone(),
            None,
        ))
    }

    /// Reads a capture from standard input (pure-Rust reader, streaming).
    pub fn open_stdin(opts: &SourceOptions) -> Result<PacketSource, CaptureError> {
        let p = ParserSource::new(std::io::stdin(), "stdin", opts.filter.clone())?;
        Ok(Self::new(
            Inner::Parser(Box::new(p)),
            format!("stdin (pcap-parser){}", filter_desc(opts)),
            opts.filter.clone(),
            None,
        ))
    }

    /// Reads a capture from any reader with the pure-Rust reader.
    pub fn open_reader<R: Read + Send + 'static>(
        reader: R,
        name: &str,
        opts: &SourceOptions,
    ) -> Result<PacketSource, CaptureError> {
        let p = ParserSource::new(reader, name, opts.filter.clone())?;
        Ok(Self::new(
            Inner::Parser(Box::new(p)),
            format!("{name} (pcap-parser){}", filter_desc(opts)),
            opts.filter.clone(),
            None,
        ))
    }

    /// Opens a live capture on `iface` (promiscuous, immediate mode, 100 ms
    /// timeout, kernel BPF filter), opens the `-w` savefile, then, when
    /// running as root, drops privileges (see [`drop_privileges`]).
    pub fn open_live(iface: &str, opts: &SourceOptions) -> Result<PacketSource, CaptureError> {
        let snaplen = i32::try_from(opts.snaplen).unwrap_or(i32::MAX).max(1);
        let build = |promisc: bool| {
            Capture::from_device(iface).map(|c| {
                c.promisc(promisc)
                    .snaplen(snaplen)
                    .immediate_mode(true)
                    .buffer_size(LIVE_BUFFER_BYTES)
                    .timeout(LIVE_TIMEOUT_MS)
            })
        };
        // Non-blocking reads, the descriptor polled by `fill` (see the
        // module doc: a blocking read may never time out after a burst).
        let nonblock = |c: Capture<Active>| c.setnonblock();
        let live_err = |e: pcap::Error| match live_failure_cause(iface, &e) {
            LiveFailure::PermissionDenied => CaptureError::PermissionDenied {
                what: iface.to_string(),
                live: true,
            },
            LiveFailure::NoSuchDevice => CaptureError::NoSuchDevice(iface.to_string()),
            LiveFailure::Other => CaptureError::Live {
                iface: iface.to_string(),
                detail: pcap_msg(&e),
            },
        };
        let mut cap = match build(opts.promisc)
            .and_then(|c| c.open())
            .and_then(nonblock)
        {
            Ok(c) => c,
            // Some devices (e.g. "any") refuse promiscuous mode: retry without.
            Err(first) if opts.promisc => {
                match build(false).and_then(|c| c.open()).and_then(nonblock) {
                    Ok(c) => c,
                    Err(_) => return Err(live_err(first)),
                }
            }
            Err(e) => return Err(live_err(e)),
        };
        if let Some(expr) = &opts.filter {
            cap.filter(expr, true)
                .map_err(|e| CaptureError::BadFilter {
                    expr: expr.clone(),
                    detail: pcap_msg(&e),
                })?;
        }
        let savefile = match &opts.savefile {
            Some(p) => Some(cap.savefile(p).map_err(|e| CaptureError::Io {
                what: p.display().to_string(),
                err: std::io::Error::other(pcap_msg(&e)),
            })?),
            None => None,
        };
        let linktype = dlt_to_linktype(cap.get_datalink().0);
        let breaker = Arc::new(cap.breakloop_handle());
        let dropped = if opts.drop_privileges {
            drop_privileges(opts.user.as_deref())?
        } else {
            None
        };
        let mut description = format!(
            "live {iface} (snaplen {}{}){}",
            opts.snaplen,
            if opts.promisc { ", promiscuous" } else { "" },
            filter_desc(opts)
        );
        if let Some(p) = &opts.savefile {
            description.push_str(&format!(", saving to {}", p.display()));
        }
        if let Some(u) = dropped {
            description.push_str(&format!(", running as {u}"));
        }
        Ok(Self::new(
            Inner::Live(Box::new(LiveCapture {
                cap,
                linktype,
                savefile,
                savefile_path: opts.savefile.clone().unwrap_or_default(),
                savefile_error: None,
            })),
            description,
            opts.filter.clone(),
            Some(breaker),
        ))
    }

    fn new(
        inner: Inner,
        description: String,
        filter: Option<String>,
        breaker: Option<Arc<pcap::BreakLoop>>,
    ) -> Self {
        PacketSource {
            filter,
            inner,
            description,
            count: 0,
            buf: Vec::new(),
            stop: StopHandle {
                flag: Arc::new(AtomicBool::new(false)),
                signal: Arc::new(AtomicI32::new(0)),
                breaker,
            },
            idle_return: false,
            idle: false,
        }
    }

    /// Live capture: make [`PacketSource::next_packet`] return `Ok(None)`
    /// when no packet arrived within the read timeout, so an interactive
    /// consumer can update; [`PacketSource::is_idle`] tells it apart from the
    /// end of the input.
    pub fn set_idle_return(&mut self, on: bool) {
        self.idle_return = on;
    }

    /// True when the last `Ok(None)` was an idle timeout (see
    /// [`PacketSource::set_idle_return`]).
    pub fn is_idle(&self) -> bool {
        self.idle
    }

    /// The next packet, `Ok(None)` at end of input or after a stop request
    /// (or on an idle timeout with [`PacketSource::set_idle_return`]).
    pub fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError> {
        self.idle = false;
        let meta = match self.fill()? {
            Some(m) => m,
            None => return Ok(None),
        };
        Ok(Some(RawPacket {
            pcap_cnt: self.count,
            time: meta.time,
            linktype: meta.linktype,
            origlen: meta.origlen.max(self.buf.len() as u32),
            data: &self.buf,
        }))
    }

    /// Like [`PacketSource::next_packet`], but hands the packet to `f`
    /// instead of returning it: a file read by libpcap is then not copied
    /// out of libpcap's buffer first (`f` sees it in place).
    pub fn with_next_packet<R>(
        &mut self,
        f: impl FnOnce(&RawPacket<'_>) -> R,
    ) -> Result<Option<R>, CaptureError> {
        self.idle = false;
        let mut f = Some(f);
        loop {
            if self.stop.is_stopped() {
                return Ok(None);
            }
            let Inner::File(file) = &mut self.inner else {
                break;
            };
            let step = file.next(&mut self.count, |data, meta, pcap_cnt| {
                f.take().map(|g| {
                    g(&RawPacket {
                        pcap_cnt,
                        time: meta.time,
                        linktype: meta.linktype,
                        origlen: meta.origlen.max(data.len() as u32),
                        data,
                    })
                })
            });
            match step {
                FileStep::Packet(r) => return Ok(r),
                FileStep::Filtered => continue,
                FileStep::End => return Ok(None),
                FileStep::Err(e) => return Err(e),
                FileStep::FallBack(detail) => {
                    let path = file.path.clone();
                    self.fall_back(&path, &detail)?;
                }
            }
        }
        let Some(f) = f.take() else {
            return Ok(None);
        };
        Ok(self.next_packet()?.map(|p| f(&p)))
    }

    /// Reads the next packet that passes the filter into `self.buf`.
    fn fill(&mut self) -> Result<Option<Meta>, CaptureError> {
        loop {
            if self.stop.is_stopped() {
                return Ok(None);
            }
            match &mut self.inner {
                Inner::File(f) => {
                    let buf = &mut self.buf;
                    match f.next(&mut self.count, |data, meta, _| {
                        buf.clear();
                        buf.extend_from_slice(data);
                        meta
                    }) {
                        FileStep::Packet(meta) => return Ok(Some(meta)),
                        FileStep::Filtered => continue,
                        FileStep::End => return Ok(None),
                        FileStep::Err(e) => return Err(e),
                        FileStep::FallBack(detail) => {
                            let path = f.path.clone();
                            self.fall_back(&path, &detail)?;
                            continue;
                        }
                    }
                }
                Inner::Live(l) => {
                    let p = match l.cap.next_packet() {
                        Ok(p) => p,
                        // Non-blocking: nothing buffered right now. Wait for
                        // the descriptor (at most the read timeout).
                        Err(pcap::Error::TimeoutExpired) => {
                            if wait_readable(&l.cap, LIVE_TIMEOUT_MS) || !self.idle_return {
                                continue;
                            }
                            self.idle = true;
                            return Ok(None);
                        }
                        // pcap_breakloop (Ctrl-C) ends the loop like end of file.
                        Err(pcap::Error::NoMorePackets) => return Ok(None),
                        Err(e) => {
                            return Err(CaptureError::Live {
                                iface: self.description.clone(),
                                detail: pcap_msg(&e),
                            })
                        }
                    };
                    if let Some(s) = &mut l.savefile {
                        s.write(&p);
                    }
                    // Per packet, like tcpdump -U: the file on disk is
                    // complete up to the last packet shown. A failed write
                    // (disk full) ends the capture, as it does tcpdump's:
                    // the user asked for the file.
                    let meta = Meta {
                        time: pcap_time(p.header, false),
                        linktype: l.linktype,
                        origlen: p.header.len,
                    };
                    self.buf.clear();
                    self.buf.extend_from_slice(p.data);
                    l.flush_savefile()?;
                    self.count += 1;
                    return Ok(Some(meta));
                }
                Inner::Merged(m) => {
                    for part in m.parts.iter_mut().filter(|p| p.head.is_none() && !p.done) {
                        match part.src.fill() {
                            Ok(Some(meta)) => {
                                part.head = Some((meta, std::mem::take(&mut part.src.buf)))
                            }
                            Ok(None) => part.done = true,
                            Err(e) if e.is_truncation() => {
                                part.done = true;
                                m.truncated.get_or_insert(e);
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    let next = m
                        .parts
                        .iter()
                        .enumerate()
                        .filter_map(|(i, p)| p.head.as_ref().map(|(meta, _)| (meta.time, i)))
                        .min();
                    let Some((_, i)) = next else {
                        return match m.truncated.take() {
                            Some(e) => Err(e),
                            None => Ok(None),
                        };
                    };
                    let Some((meta, data)) = m.parts.get_mut(i).and_then(|p| p.head.take()) else {
                        return Ok(None);
                    };
                    if let Some(p) = m.parts.get_mut(i) {
                        // Hand the old buffer back to the part (no reallocation).
                        p.src.buf = std::mem::replace(&mut self.buf, data);
                    }
                    self.count += 1;
                    return Ok(Some(meta));
                }
                Inner::Parser(ps) => {
                    let r = ps.next_into(&mut self.buf, &mut self.count)?;
                    return Ok(r.map(|(time, linktype, origlen)| Meta {
                        time,
                        linktype,
                        origlen,
                    }));
                }
            }
        }
    }

    /// Switches a libpcap file source to the pure-Rust reader, skipping the
    /// `self.count` packets already read.
    fn fall_back(&mut self, path: &Path, libpcap_said: &str) -> Result<(), CaptureError> {
        let what = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|err| CaptureError::Io {
            what: what.clone(),
            err,
        })?;
        let mut p = ParserSource::new(file, &what, self.filter.clone())?;
        p.skip_packets(self.count);
        self.inner = Inner::Parser(Box::new(p));
        let filter = match &self.filter {
            Some(f) => format!(", filter '{f}'"),
            None => String::new(),
        };
        self.description = format!(
            "file {what} (pcapng, pcap-parser from packet {}: libpcap said: {libpcap_said}){filter}",
            self.count + 1
        );
        Ok(())
    }

    /// Kernel counters of a live capture (None for files).
    pub fn stats(&mut self) -> Option<KernelStats> {
        match &mut self.inner {
            Inner::Live(l) => {
                if let Err(e) = l.flush_savefile() {
                    l.savefile_error.get_or_insert(e);
                }
                l.cap.stats().ok().map(|s| KernelStats {
                    received: u64::from(s.received),
                    dropped: u64::from(s.dropped),
                    if_dropped: u64::from(s.if_dropped),
                })
            }
            _ => None,
        }
    }

    /// A `-w` savefile write error that [`PacketSource::stats`] met (its
    /// final flush), once; errors met while reading packets are returned
    /// by the read itself.
    pub fn take_savefile_error(&mut self) -> Option<CaptureError> {
        match &mut self.inner {
            Inner::Live(l) => l.savefile_error.take(),
            _ => None,
        }
    }

    /// Link types of the input so far (pcapng: one per distinct interface
    /// link type seen, in order of appearance).
    pub fn linktypes(&self) -> Vec<u32> {
        match &self.inner {
            Inner::File(f) => vec![f.linktype],
            Inner::Live(l) => vec![l.linktype],
            Inner::Parser(p) => p.linktypes().to_vec(),
            Inner::Merged(m) => {
                let mut v = Vec::new();
                for lt in m.parts.iter().flat_map(|p| p.src.linktypes()) {
                    if !v.contains(&lt) {
                        v.push(lt);
                    }
                }
                v
            }
        }
    }

    /// One line describing the source (for the `meta` event and the UI).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Which implementation reads the source.
    pub fn backend(&self) -> Backend {
        match &self.inner {
            Inner::File(_) => Backend::Libpcap,
            Inner::Parser(_) => Backend::PcapParser,
            Inner::Live(_) => Backend::Live,
            Inner::Merged(m) => m
                .parts
                .first()
                .map_or(Backend::Libpcap, |p| p.src.backend()),
        }
    }

    /// True for a live interface capture.
    pub fn is_live(&self) -> bool {
        matches!(self.inner, Inner::Live(_))
    }

    /// A handle that stops this source from another thread (Ctrl-C).
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// The BPF filter expression the source was opened with.
    pub fn filter_expr(&self) -> Option<&str> {
        self.filter.as_deref()
    }
}

/// Size of a classic pcap file header.
const PCAP_FILE_HEADER_LEN: u64 = 24;
/// Size of a classic pcap record header.
const PCAP_RECORD_HEADER_LEN: u64 = 16;

/// Where the cut record of a truncated pcap/pcapng file starts, or None when
/// the file is not cut: read once more with the pure-Rust reader, which
/// checks every record's length against the bytes that exist (only called
/// after libpcap reported an error reading the file).
fn truncation_offset(path: &Path) -> Option<u64> {
    let file = std::fs::File::open(path).ok()?;
    let mut p = ParserSource::new(file, &path.display().to_string(), None).ok()?;
    let (mut buf, mut count) = (Vec::new(), 0u64);
    loop {
        match p.next_into(&mut buf, &mut count) {
            Ok(Some(_)) => {}
            Ok(None) => return None,
            Err(e) => return e.truncation().and_then(|(_, o)| o),
        }
    }
}

fn filter_desc(opts: &SourceOptions) -> String {
    match &opts.filter {
        Some(f) => format!(", filter '{f}'"),
        None => String::new(),
    }
}

/// Reads until `buf` is full or end of input; returns the bytes read.
pub(crate) fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A capture interface, as `--list-interfaces` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub name: String,
    pub description: Option<String>,
    pub up: bool,
    pub running: bool,
    pub loopback: bool,
    pub addresses: Vec<std::net::IpAddr>,
}

/// Lists the capture interfaces libpcap sees.
pub fn list_interfaces() -> Result<Vec<InterfaceInfo>, CaptureError> {
    let devs = pcap::Device::list().map_err(|e| CaptureError::Live {
        iface: "interface list".into(),
        detail: pcap_msg(&e),
    })?;
    Ok(devs
        .into_iter()
        .map(|d| InterfaceInfo {
            up: d.flags.is_up(),
            running: d.flags.is_running(),
            loopback: d.flags.is_loopback(),
            addresses: d.addresses.iter().map(|a| a.addr).collect(),
            name: d.name,
            description: d.desc,
        })
        .collect())
}

/// When running as root, switches to `user` (or `nobody` when `None` and
/// that user exists): supplementary groups, gid, then uid. Returns the user
/// switched to, `None` when nothing was done (not root, or no `nobody`).
/// An explicitly named user that does not exist is an error.
pub fn drop_privileges(user: Option<&str>) -> Result<Option<String>, CaptureError> {
    use nix::unistd::{geteuid, setgid, setgroups, setuid, User};
    if !geteuid().is_root() {
        return Ok(None);
    }
    let name = user.unwrap_or("nobody");
    let u = match User::from_name(name) {
        Ok(Some(u)) => u,
        Ok(None) if user.is_none() => return Ok(None),
        Ok(None) => return Err(CaptureError::Privileges(format!("no such user '{name}'"))),
        Err(e) => {
            return Err(CaptureError::Privileges(format!(
                "looking up user '{name}': {e}"
            )))
        }
    };
    setgroups(&[u.gid])
        .map_err(|e| CaptureError::Privileges(format!("setgroups for '{name}': {e}")))?;
    setgid(u.gid).map_err(|e| CaptureError::Privileges(format!("setgid for '{name}': {e}")))?;
    setuid(u.uid).map_err(|e| CaptureError::Privileges(format!("setuid for '{name}': {e}")))?;
    Ok(Some(name.to_string()))
}

/// When running as root, gives `path` to the user [`drop_privileges`] will
/// switch to (`user`, or `nobody`), so files can still be created in it
/// afterwards (e.g. the output directory of a live `extract`). Does nothing
/// when not root or when that user does not exist.
pub fn chown_to_dropped_user(
    path: &std::path::Path,
    user: Option<&str>,
) -> Result<(), CaptureError> {
    use nix::unistd::{geteuid, User};
    if !geteuid().is_root() {
        return Ok(());
    }
    let name = user.unwrap_or("nobody");
    let Ok(Some(u)) = User::from_name(name) else {
        return Ok(());
    };
    std::os::unix::fs::chown(path, Some(u.uid.as_raw()), Some(u.gid.as_raw()))
        .map_err(|e| CaptureError::Privileges(format!("chown {} to '{name}': {e}", path.display())))
}

#[cfg(test)]
mod tests;

/// Blocks of a pcapng file's head scanned for Decryption Secrets Blocks.
pub const MAX_DSB_SCAN_BLOCKS: usize = 10_000;
/// Largest pcapng block read while scanning for secrets.
pub const MAX_DSB_BLOCK: usize = 16 << 20;

/// The TLS key log text embedded in a pcapng file's Decryption Secrets
/// Blocks (secrets type `TLSK`, as written by `editcap --inject-secrets`).
/// Scans the blocks before the first packet (where editcap and Wireshark put
/// them), at most [`MAX_DSB_SCAN_BLOCKS`]. `None`: not a regular file (pipes
/// are not pre-read), not pcapng, unreadable, or no TLS secrets.
pub fn pcapng_tls_secrets(path: &Path) -> Option<String> {
    use pcap_parser::pcapng::{Block, SecretsType};
    use pcap_parser::traits::PcapReaderIterator;
    use pcap_parser::{PcapBlockOwned, PcapError, PcapNGReader};
    // Only regular files: a pipe's bytes must stay for the packet reader.
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let mut f = std::fs::File::open(path).ok()?;
    let mut magic = [0u8; 4];
    f.read_exact(&mut magic).ok()?;
    if capture_kind(&magic) != Some("pcapng") {
        return None;
    }
    let f = std::fs::File::open(path).ok()?;
    let mut cap = 1 << 20;
    let mut reader = PcapNGReader::new(cap, f).ok()?;
    let mut text = String::new();
    let mut blocks = 0usize;
    while blocks < MAX_DSB_SCAN_BLOCKS {
        match reader.next() {
            Ok((off, block)) => {
                blocks += 1;
                let stop = match block {
                    PcapBlockOwned::NG(Block::DecryptionSecrets(d))
                        if d.secrets_type == SecretsType::TlsKeyLog =>
                    {
                        let n = (d.secrets_len as usize).min(d.data.len());
                        text.push_str(&String::from_utf8_lossy(&d.data[..n]));
                        text.push('\n');
                        false
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(_) | Block::SimplePacket(_)) => true,
                    _ => false,
                };
                reader.consume(off);
                if stop {
                    break;
                }
            }
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(PcapError::BufferTooSmall) if cap < MAX_DSB_BLOCK => {
                cap *= 2;
                if !reader.grow(cap) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    (!text.trim().is_empty()).then_some(text)
}
