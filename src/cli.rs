//! Command-line interface (clap): subcommands and shared input options.
//!
//! Contract: [`main`] parses the arguments, runs one command and returns the
//! process exit code: 0 success, 1 `--fail-on` threshold reached or `diff`
//! found differences, 2 usage or input errors (one line on stderr, never a
//! backtrace). Input options follow tcpdump: `-r FILE` (`-` = stdin),
//! `-i IFACE`, `-s SNAPLEN`, `-w FILE`, `-D`, and a trailing BPF filter
//! expression. `rtmpscope FILE` alone is the shorthand for the TUI on FILE.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::capture::{self, CaptureError, PacketSource, SourceOptions, DEFAULT_SNAPLEN};
use crate::diff::{self, DiffOptions};
use crate::event::{Event, EventKind, Severity};
use crate::output::json::{JsonOptions, JsonWriter, Meta};
use crate::output::summary;
use crate::pipeline::{Analyzer, Config, DataTap};
use crate::time::PacketTime;
use crate::tui;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: `--fail-on` threshold reached, or `diff` found differences.
pub const EXIT_FINDINGS: i32 = 1;
/// Exit code: usage or input error.
pub const EXIT_USAGE: i32 = 2;
/// Exit code after a second Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

const AFTER_HELP: &str = "\
Input: -r FILE reads a pcap or pcapng file (- = standard input); -i IFACE captures live.
A trailing BPF filter expression (tcpdump syntax) applies to files and live captures:
  rtmpscope -r dump.pcapng json 'tcp port 1935'

Live capture privileges: capturing needs root or the capabilities
  sudo setcap cap_net_raw,cap_net_admin=eip $(which rtmpscope)
When started as root, rtmpscope drops privileges once the capture (and any -w and -o
files) are open: to --user NAME, or else to 'nobody' if that user exists.

Exit codes: 0 ok, 1 --fail-on threshold reached or diff found differences,
2 usage or input error.";

/// Passive RTMP protocol analyzer.
#[derive(Debug, Parser)]
#[command(
    name = "rtmpscope",
    version,
    about = "Passive RTMP protocol analyzer: pcap/pcapng files or live capture, JSON and TUI output",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Without a subcommand: a capture FILE (shorthand for `tui` on it,
    /// unless -r/-i is given) followed by a BPF filter expression.
    #[arg(value_name = "FILE_OR_FILTER", trailing_var_arg = true)]
    pub rest: Vec<String>,
}

/// Input options shared by every command.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Read packets from a pcap/pcapng FILE (`-` = standard input).
    #[arg(short = 'r', long = "read", value_name = "FILE", global = true)]
    pub read: Option<PathBuf>,
    /// Capture live on interface IFACE.
    #[arg(short = 'i', long = "interface", value_name = "IFACE", global = true)]
    pub interface: Option<String>,
    /// Live capture snapshot length in bytes.
    #[arg(short = 's', long = "snaplen", value_name = "SNAPLEN",
          default_value_t = DEFAULT_SNAPLEN, global = true)]
    pub snaplen: u32,
    /// Save the raw packets of a live capture to FILE (classic pcap).
    #[arg(short = 'w', long = "write", value_name = "FILE", global = true)]
    pub write: Option<PathBuf>,
    /// Do not put the interface into promiscuous mode.
    #[arg(short = 'p', long = "no-promiscuous-mode", global = true)]
    pub no_promisc: bool,
    /// List capture interfaces and exit.
    #[arg(short = 'D', long = "list-interfaces", global = true)]
    pub list_interfaces: bool,
    /// After opening a live capture as root, switch to user NAME
    /// (default: nobody, if it exists).
    #[arg(long = "user", value_name = "NAME", global = true)]
    pub user: Option<String>,
    /// Maximum number of concurrently tracked TCP flows.
    #[arg(long = "max-flows", value_name = "N", global = true)]
    pub max_flows: Option<usize>,
    /// Maximum out-of-order bytes buffered per flow direction (K/M/G suffixes).
    #[arg(long = "max-ooo-bytes", value_name = "BYTES", value_parser = parse_size, global = true)]
    pub max_ooo_bytes: Option<usize>,
    /// Maximum memory held by TCP reassembly in total (K/M/G suffixes).
    #[arg(long = "max-reassembly-mem", value_name = "BYTES", value_parser = parse_size, global = true)]
    pub max_reassembly_mem: Option<usize>,
    /// Idle flow timeout in seconds of packet time.
    #[arg(long = "flow-timeout", value_name = "SECONDS", global = true)]
    pub flow_timeout: Option<u64>,
    /// TLS key log (NSS format, as written via SSLKEYLOGFILE) to decrypt
    /// RTMPS. Secrets embedded in a pcapng input (Decryption Secrets Blocks)
    /// are read without this option.
    #[arg(long = "tls-keylog", value_name = "FILE", global = true)]
    pub tls_keylog: Option<PathBuf>,
    /// Secrets loaded from `--tls-keylog` and the input's Decryption Secrets
    /// Blocks (filled by [`load_tls_secrets`]).
    #[arg(skip)]
    pub tls_secrets: Option<std::sync::Arc<crate::tls::KeyLog>>,
}

/// Loads `--tls-keylog` and the TLS secrets embedded in a pcapng input file
/// into `input.tls_secrets`. Error: the key log cannot be read.
pub fn load_tls_secrets(input: &mut InputArgs) -> Result<(), CliError> {
    let mut log = crate::tls::KeyLog::new();
    let mut any = false;
    if let Some(p) = &input.tls_keylog {
        let text =
            std::fs::read(p).map_err(|e| CliError(format!("--tls-keylog {}: {e}", p.display())))?;
        log.add_text(&String::from_utf8_lossy(&text));
        if log.is_empty() {
            eprintln!(
                "rtmpscope: warning: --tls-keylog {}: no TLS secrets found ({} lines not understood)",
                p.display(),
                log.malformed_lines
            );
        }
        any = true;
    }
    if let Some(p) = input.read.as_deref().filter(|p| p.as_os_str() != "-") {
        if let Some(dsb) = crate::capture::pcapng_tls_secrets(p) {
            log.add_text(&dsb);
            any = true;
        }
    }
    input.tls_secrets = any.then(|| std::sync::Arc::new(log));
    Ok(())
}

/// What to do with the packets.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// One JSON object per line for every event.
    Json(JsonArgs),
    /// Human summary of flows, sessions and anomalies.
    Summary(SummaryArgs),
    /// Compare two captures (or two JSON outputs) and report differences.
    Diff(DiffArgs),
    /// Interactive terminal UI.
    Tui(TuiArgs),
}

/// Trailing BPF filter words.
#[derive(Debug, Clone, Args, Default)]
pub struct FilterArgs {
    /// BPF filter expression (tcpdump syntax), e.g. `tcp port 1935`.
    #[arg(value_name = "FILTER", trailing_var_arg = true)]
    pub filter: Vec<String>,
}

/// Severity threshold of `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Warning,
    Error,
}

impl FailOn {
    fn severity(self) -> Severity {
        match self {
            FailOn::Warning => Severity::Warning,
            FailOn::Error => Severity::Error,
        }
    }
}

/// `json` options.
#[derive(Debug, Clone, Args)]
pub struct JsonArgs {
    /// Replace stream keys and other secrets by a stable hash.
    #[arg(long)]
    pub redact: bool,
    /// Exit with code 1 if an anomaly of at least this severity is seen.
    #[arg(long = "fail-on", value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Write to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `summary` options.
#[derive(Debug, Clone, Args)]
pub struct SummaryArgs {
    /// Replace stream keys and other secrets by a stable hash.
    #[arg(long)]
    pub redact: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `diff` options.
#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The reference capture or JSON output.
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The capture or JSON output compared with OLD.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Field to ignore (repeatable, or comma-separated).
    #[arg(long = "ignore", value_name = "FIELD", value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// Also compare these fields of each message (repeatable, or
    /// comma-separated), e.g. `timestamp`.
    #[arg(long = "field", value_name = "FIELD", value_delimiter = ',')]
    pub field: Vec<String>,
    /// Media count tolerance in percent.
    #[arg(long = "tolerance", value_name = "PERCENT", default_value_t = 2.0)]
    pub tolerance_pct: f64,
    /// Redact stream keys and credentials in the report.
    #[arg(long)]
    pub redact: bool,
}

/// `tui` options.
#[derive(Debug, Clone, Args)]
pub struct TuiArgs {
    /// Enable mouse capture (breaks terminal text selection).
    #[arg(long)]
    pub mouse: bool,
    /// Replace stream keys and other secrets by a stable hash.
    #[arg(long)]
    pub redact: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// Parses `"64M"`-style sizes (K, M, G: powers of 1024; optional `B`/`iB`).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    let upper = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, mult) = match upper.chars().last() {
        Some('K') => (&upper[..upper.len() - 1], 1usize << 10),
        Some('M') => (&upper[..upper.len() - 1], 1 << 20),
        Some('G') => (&upper[..upper.len() - 1], 1 << 30),
        _ => (upper, 1),
    };
    let n: usize = digits
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a size (examples: 4096, 512K, 64M, 1G)"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// A user-facing error: one line, then exit code 2.
#[derive(Debug)]
pub struct CliError(pub String);

impl From<CaptureError> for CliError {
    fn from(e: CaptureError) -> Self {
        CliError(e.to_string())
    }
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("rtmpscope: error: {msg}");
    EXIT_USAGE
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> i32 {
    main_with_args(std::env::args_os())
}

/// Runs the CLI on explicit arguments (the first is the program name).
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    run(cli)
}

/// Runs a parsed command line.
pub fn run(mut cli: Cli) -> i32 {
    if cli.input.list_interfaces {
        return list_interfaces();
    }
    if let Err(e) = load_tls_secrets(&mut cli.input) {
        return fail(e.0);
    }
    match cli.command {
        Some(Command::Json(args)) => {
            run_json(&cli.input, &args.filter.filter, &args).unwrap_or_else(|e| fail(e.0))
        }
        Some(Command::Summary(a)) => run_summary(&cli.input, &a.filter.filter, &a),
        Some(Command::Diff(d)) => run_diff(&cli.input, &d),
        Some(Command::Tui(t)) => run_tui(&cli.input, &t.filter.filter, &t),
        None => {
            let mut input = cli.input.clone();
            let mut words = cli.rest;
            if input.read.is_none() && input.interface.is_none() && !words.is_empty() {
                input.read = Some(PathBuf::from(words.remove(0)));
                if let Err(e) = load_tls_secrets(&mut input) {
                    return fail(e.0);
                }
            }
            run_default(&input, &words)
        }
    }
}

/// `rtmpscope FILE`: the TUI on FILE.
fn run_default(input: &InputArgs, filter: &[String]) -> i32 {
    let args = TuiArgs {
        mouse: false,
        redact: false,
        filter: FilterArgs {
            filter: filter.to_vec(),
        },
    };
    run_tui(input, filter, &args)
}

/// `summary`: the human report of sessions, streams and anomalies.
fn run_summary(input: &InputArgs, filter: &[String], args: &SummaryArgs) -> i32 {
    let result = (|| -> Result<i32, CliError> {
        let mut src = open_source(input, filter)?;
        let total = input
            .read
            .as_deref()
            .filter(|p| p.as_os_str() != "-")
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len());
        let mut progress = summary::Progress::stderr(total);
        let mut collector = summary::SummaryCollector::new();
        let (mut packets, mut bytes) = (0u64, 0u64);
        drive(&mut src, input, |events, pkt_len| {
            if let Some(len) = pkt_len {
                packets += 1;
                bytes += len as u64 + 16;
                if packets % 4096 == 0 {
                    progress.update(packets, bytes);
                }
            }
            events.iter().for_each(|e| collector.handle(e));
            Ok(())
        })?;
        progress.finish();
        let mut out = io::stdout().lock();
        let opts = summary::SummaryOptions::for_stdout(args.redact);
        if let Err(e) = collector.write(&mut out, &opts).and_then(|_| out.flush()) {
            return Ok(write_failed(e));
        }
        Ok(EXIT_OK)
    })();
    result.unwrap_or_else(|e| fail(e.0))
}

/// Loads one side of a diff: a saved NDJSON output, or a capture decoded now.
fn load_conversation(
    input: &InputArgs,
    path: &Path,
    opts: &DiffOptions,
) -> Result<diff::Conversation, CliError> {
    let mut builder = diff::ConversationBuilder::new(opts);
    if looks_like_ndjson(path) {
        let f =
            std::fs::File::open(path).map_err(|e| CliError(format!("{}: {e}", path.display())))?;
        for (n, line) in io::BufRead::lines(io::BufReader::new(f)).enumerate() {
            let line = line.map_err(|e| CliError(format!("{}: {e}", path.display())))?;
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| {
                CliError(format!(
                    "{}:{}: not a JSON line: {e}",
                    path.display(),
                    n + 1
                ))
            })?;
            builder.push_line(&v);
        }
    } else {
        let mut side = input.clone();
        side.read = Some(path.to_path_buf());
        side.interface = None;
        // This side's own embedded TLS secrets, plus --tls-keylog.
        load_tls_secrets(&mut side)?;
        let mut src = open_source(&side, &[])?;
        drive(&mut src, &side, |events, _| {
            events.iter().for_each(|e| builder.push_event(e));
            Ok(())
        })?;
    }
    Ok(builder.finish())
}

/// True when the file starts (after blanks) with `{`: an NDJSON output.
fn looks_like_ndjson(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

/// `diff`: compares two conversations; exit 0 equal, 1 different, 2 error.
fn run_diff(input: &InputArgs, args: &DiffArgs) -> i32 {
    let opts = DiffOptions {
        ignore_fields: args.ignore.clone(),
        extra_fields: args.field.clone(),
        redact: args.redact,
        tolerance_pct: args.tolerance_pct,
        ..DiffOptions::default()
    };
    let result = (|| -> Result<i32, CliError> {
        let old = load_conversation(input, &args.old, &opts)?;
        let new = load_conversation(input, &args.new, &opts)?;
        let report = diff::diff_built(&old, &new, &opts);
        let mut out = io::stdout().lock();
        if let Err(e) = write!(out, "{report}").and_then(|_| out.flush()) {
            return Ok(write_failed(e));
        }
        Ok(if report.is_equal() {
            EXIT_OK
        } else {
            EXIT_FINDINGS
        })
    })();
    result.unwrap_or_else(|e| fail(e.0))
}

/// `tui`: the interactive terminal UI.
fn run_tui(input: &InputArgs, filter: &[String], args: &TuiArgs) -> i32 {
    let src = match open_source(input, filter) {
        Ok(s) => s,
        Err(e) => return fail(e.0),
    };
    let live = src.is_live();
    let opts = tui::TuiOptions {
        source: src.description().to_owned(),
        file: input.read.clone().filter(|p| p.as_os_str() != "-"),
        file_size: input
            .read
            .as_deref()
            .filter(|p| p.as_os_str() != "-")
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len()),
        mouse: args.mouse,
        redact: args.redact,
        ..tui::TuiOptions::default()
    };
    match tui::run(opts, tui_source(src, pipeline_config(input), live)) {
        Ok(()) => EXIT_OK,
        Err(e) => fail(e),
    }
}

/// Packets read per producer batch: bounds the work between two UI updates.
const TUI_BATCH_PACKETS: usize = 256;

/// Collects in-order stream bytes for the TUI's hex view (live captures: a
/// file is re-read instead, so its bytes are not kept twice).
struct BytesTap<'a>(&'a mut Vec<tui::StreamBytes>);

impl DataTap for BytesTap<'_> {
    fn data(
        &mut self,
        flow_id: crate::event::FlowId,
        direction: crate::event::Direction,
        offset: u64,
        data: &[u8],
    ) {
        self.0.push(tui::StreamBytes {
            flow_id,
            direction,
            offset,
            data: data.to_vec(),
        });
    }
}

/// The TUI's producer: capture + decoding on the TUI's producer thread.
fn tui_source(mut src: PacketSource, config: Config, live: bool) -> tui::Source {
    // A live display must update when traffic pauses, not after 256 packets.
    src.set_idle_return(live);
    let mut analyzer = Analyzer::new(config);
    let mut finished = false;
    let (mut packets, mut bytes) = (0u64, 0u64);
    Box::new(move |b: &mut tui::Batch| {
        if finished {
            return tui::SourceStatus::Done;
        }
        for _ in 0..TUI_BATCH_PACKETS {
            match src.next_packet() {
                Ok(Some(pkt)) => {
                    packets += 1;
                    bytes += pkt.data.len() as u64;
                    if live {
                        analyzer.handle_packet_tap(
                            &pkt,
                            &mut b.events,
                            &mut BytesTap(&mut b.bytes),
                        );
                    } else {
                        analyzer.handle_packet(&pkt, &mut b.events);
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) if e.is_truncation() => {
                    analyzer.finish(src.stats(), &mut b.events);
                    finished = true;
                    break;
                }
                Err(e) => return tui::SourceStatus::Failed(e.to_string()),
            }
            // Ok(None): an idle live capture (hand over what we have), or the end.
            if !src.is_idle() {
                analyzer.finish(src.stats(), &mut b.events);
                finished = true;
            }
            break;
        }
        b.progress = Some(tui::Progress {
            packets,
            bytes,
            kernel_dropped: src.stats().map(|k| k.dropped),
        });
        tui::SourceStatus::More
    })
}

fn list_interfaces() -> i32 {
    let list = match capture::list_interfaces() {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let mut out = io::stdout().lock();
    for (n, i) in list.iter().enumerate() {
        let mut flags = Vec::new();
        if i.up {
            flags.push("Up");
        }
        if i.running {
            flags.push("Running");
        }
        if i.loopback {
            flags.push("Loopback");
        }
        let mut line = format!("{}.{}", n + 1, i.name);
        if let Some(d) = &i.description {
            line.push_str(&format!(" ({d})"));
        }
        if !flags.is_empty() {
            line.push_str(&format!(" [{}]", flags.join(", ")));
        }
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    EXIT_OK
}

/// The analyzer configuration from the shared options.
pub fn pipeline_config(input: &InputArgs) -> Config {
    Config {
        max_flows: input.max_flows,
        max_ooo_bytes: input.max_ooo_bytes,
        max_reassembly_mem: input.max_reassembly_mem,
        flow_timeout_secs: input.flow_timeout,
        tls_keylog: input.tls_secrets.clone(),
    }
}

/// Opens the source the shared options name, with the BPF filter `words`
/// (joined with spaces, tcpdump style). Installs the Ctrl-C handler: the
/// first Ctrl-C ends the input cleanly, a second one exits at once.
pub fn open_source(input: &InputArgs, words: &[String]) -> Result<PacketSource, CliError> {
    let filter = if words.is_empty() {
        None
    } else {
        Some(words.join(" "))
    };
    let opts = SourceOptions {
        filter,
        snaplen: input.snaplen,
        promisc: !input.no_promisc,
        savefile: input.write.clone(),
        user: input.user.clone(),
        drop_privileges: true,
    };
    let src = match (&input.read, &input.interface) {
        (Some(_), Some(_)) => {
            return Err(CliError("give either -r FILE or -i IFACE, not both".into()))
        }
        (None, None) => {
            return Err(CliError(
                "no input: give -r FILE (- for stdin), -i IFACE, or a capture FILE".into(),
            ))
        }
        (Some(path), None) => {
            if input.write.is_some() {
                return Err(CliError(
                    "-w saves a live capture: it needs -i IFACE".into(),
                ));
            }
            PacketSource::open_file(path, &opts)?
        }
        (None, Some(iface)) => {
            if input.snaplen == 0 {
                return Err(CliError("-s: the snapshot length must be > 0".into()));
            }
            PacketSource::open_live(iface, &opts)?
        }
    };
    install_ctrlc(&src);
    Ok(src)
}

fn install_ctrlc(src: &PacketSource) {
    let handle = src.stop_handle();
    // Only one handler per process; a second source keeps the first one.
    let _ = ctrlc::set_handler(move || {
        if handle.stop() {
            std::process::exit(EXIT_INTERRUPTED);
        }
    });
}

/// How the input ended.
#[derive(Debug, Default)]
pub struct InputEnd {
    /// Worst anomaly severity seen.
    pub worst: Option<Severity>,
}

/// Why [`drive`] stopped early.
#[derive(Debug)]
pub enum DriveError {
    /// Reading the input failed.
    Input(CliError),
    /// The sink could not write its output (a closed pipe is one case).
    Output(io::Error),
}

impl From<DriveError> for CliError {
    fn from(e: DriveError) -> Self {
        match e {
            DriveError::Input(e) => e,
            DriveError::Output(e) => CliError(format!("writing output: {e}")),
        }
    }
}

/// Reads every packet of `src` through a fresh analyzer and hands each
/// batch of events to `sink` (with the captured length of the packet that
/// produced it, `None` for the final batch). Ends at end of input, Ctrl-C
/// or a read error; the final batch holds the flushed flows and `stats`.
pub fn drive<F>(
    src: &mut PacketSource,
    input: &InputArgs,
    mut sink: F,
) -> Result<InputEnd, DriveError>
where
    F: FnMut(&[Event], Option<usize>) -> io::Result<()>,
{
    let mut analyzer = Analyzer::new(pipeline_config(input));
    let mut events = Vec::new();
    let mut end = InputEnd::default();
    let mut read_error = None;
    loop {
        let len = match src.next_packet() {
            Ok(Some(pkt)) => {
                analyzer.handle_packet(&pkt, &mut events);
                pkt.data.len()
            }
            Ok(None) => break,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        };
        end.worst = worst(&events, end.worst);
        sink(&events, Some(len)).map_err(DriveError::Output)?;
        events.clear();
    }
    let kernel = src.stats();
    analyzer.finish(kernel, &mut events);
    end.worst = worst(&events, end.worst);
    sink(&events, None).map_err(DriveError::Output)?;
    if let Some(e) = read_error {
        if e.is_truncation() {
            eprintln!("rtmpscope: warning: {e}");
        } else {
            return Err(DriveError::Input(CliError(e.to_string())));
        }
    }
    Ok(end)
}

/// Highest anomaly severity among `events`.
fn worst(events: &[Event], acc: Option<Severity>) -> Option<Severity> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Anomaly(a) => Some(a.severity),
            _ => None,
        })
        .fold(acc, |w, s| Some(w.map_or(s, |w| w.max(s))))
}

fn open_output(path: Option<&Path>) -> Result<Box<dyn Write>, CliError> {
    Ok(match path {
        Some(p) if p.as_os_str() != "-" => {
            let f =
                std::fs::File::create(p).map_err(|e| CliError(format!("{}: {e}", p.display())))?;
            Box::new(BufWriter::new(f))
        }
        _ => Box::new(BufWriter::new(io::stdout())),
    })
}

/// Names of the link types of a source, for the `meta` line.
fn link_type_names(src: &PacketSource) -> Vec<String> {
    src.linktypes()
        .into_iter()
        .map(crate::link::linktype_name)
        .collect()
}

/// Live `json`: seconds of packet time between `session` snapshots of the
/// sessions still open.
pub const SESSION_SNAPSHOT_SECS: i64 = 60;

/// `json`: every packet through the analyzer, every event as a JSON line.
fn run_json(input: &InputArgs, filter: &[String], args: &JsonArgs) -> Result<i32, CliError> {
    // The output file is opened before the capture (and before privileges
    // are dropped).
    let out = open_output(args.output.as_deref())?;
    let mut src = open_source(input, filter)?;
    let live = src.is_live();
    let mut writer = JsonWriter::new(
        out,
        JsonOptions {
            redact: args.redact,
            ..JsonOptions::default()
        },
    );
    let meta = Meta::new(src.description().to_owned(), link_type_names(&src));
    if let Err(e) = writer.write_meta(&meta) {
        return Ok(write_failed(e));
    }
    let mut last_snapshot: Option<PacketTime> = None;
    let end = drive(&mut src, input, |events, pkt| {
        for ev in events {
            writer.write_event(ev)?;
        }
        // Live: open sessions every SESSION_SNAPSHOT_SECS of packet time.
        if let (true, Some(last_ev)) = (live, events.last()) {
            let now = last_ev.time;
            match last_snapshot {
                None => last_snapshot = Some(now),
                Some(t) if now.sec - t.sec >= SESSION_SNAPSHOT_SECS => {
                    writer.write_open_sessions()?;
                    last_snapshot = Some(now);
                }
                Some(_) => {}
            }
        }
        if live || pkt.is_none() {
            writer.flush()?;
        }
        Ok(())
    });
    let end = match end {
        Ok(end) => end,
        Err(DriveError::Output(e)) => return Ok(write_failed(e)),
        Err(DriveError::Input(e)) => return Err(e),
    };
    if let Err(e) = writer.finish() {
        return Ok(write_failed(e));
    }
    if let (Some(threshold), Some(w)) = (args.fail_on, end.worst) {
        if w >= threshold.severity() {
            return Ok(EXIT_FINDINGS);
        }
    }
    Ok(EXIT_OK)
}

/// A closed pipe (`| head`) ends the output quietly; anything else is an error.
fn write_failed(e: io::Error) -> i32 {
    if e.kind() == io::ErrorKind::BrokenPipe {
        EXIT_OK
    } else {
        fail(format!("writing output: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("rtmpscope").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    #[test]
    fn tls_keylog_is_an_input_option_of_every_command_and_loads() {
        let dir = std::env::temp_dir().join(format!("rtmpscope-keylog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kl = dir.join("keys.txt");
        std::fs::write(
            &kl,
            format!("CLIENT_RANDOM {} {}\n", "11".repeat(32), "22".repeat(48)),
        )
        .unwrap();
        let k = kl.to_str().unwrap();
        for args in [
            vec!["json", "-r", "x.pcap", "--tls-keylog", k],
            vec!["tui", "-r", "x.pcap", "--tls-keylog", k],
            vec!["--tls-keylog", k, "summary", "-r", "x.pcap"],
        ] {
            let mut c = parse(&args);
            assert_eq!(
                c.input.tls_keylog.as_deref(),
                Some(kl.as_path()),
                "{args:?}"
            );
            load_tls_secrets(&mut c.input).unwrap();
            let cfg = pipeline_config(&c.input);
            let log = cfg.tls_keylog.expect("secrets loaded");
            assert!(log
                .get(&[0x11; 32])
                .and_then(|s| s.master.as_ref())
                .is_some());
        }
        let mut c = parse(&["json", "-r", "x.pcap", "--tls-keylog", "/nonexistent/k"]);
        let e = load_tls_secrets(&mut c.input).unwrap_err();
        assert!(e.0.contains("--tls-keylog /nonexistent/k"), "{}", e.0);
        let mut c = parse(&["json", "-r", "x.pcap"]);
        load_tls_secrets(&mut c.input).unwrap();
        assert!(pipeline_config(&c.input).tls_keylog.is_none());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn json_with_global_options_and_filter() {
        let c = parse(&[
            "-r",
            "x.pcap",
            "--max-flows",
            "10",
            "json",
            "--fail-on",
            "warning",
            "-o",
            "out.json",
            "tcp",
            "port",
            "1935",
        ]);
        assert_eq!(c.input.read.as_deref(), Some(Path::new("x.pcap")));
        assert_eq!(c.input.max_flows, Some(10));
        let Some(Command::Json(j)) = c.command else {
            panic!("not json")
        };
        assert_eq!(j.fail_on, Some(FailOn::Warning));
        assert_eq!(j.output.as_deref(), Some(Path::new("out.json")));
        assert_eq!(j.filter.filter, vec!["tcp", "port", "1935"]);
    }

    #[test]
    fn global_options_after_subcommand() {
        let c = parse(&[
            "json",
            "-r",
            "-",
            "--flow-timeout",
            "30",
            "--max-ooo-bytes",
            "64K",
        ]);
        assert_eq!(c.input.read.as_deref(), Some(Path::new("-")));
        let cfg = pipeline_config(&c.input);
        assert_eq!(cfg.flow_timeout_secs, Some(30));
        assert_eq!(cfg.max_ooo_bytes, Some(65_536));
        assert_eq!(cfg.max_flows, None);
        assert_eq!(c.input.snaplen, 262_144);
    }

    #[test]
    fn shorthand_file_and_filter_words() {
        let c = parse(&["capture.pcapng", "tcp", "port", "1935"]);
        assert!(c.command.is_none());
        assert_eq!(c.rest, vec!["capture.pcapng", "tcp", "port", "1935"]);
        let c = parse(&["-r", "a.pcap", "port", "1935"]);
        assert!(c.command.is_none());
        assert_eq!(c.rest, vec!["port", "1935"]);
    }

    #[test]
    fn diff_and_tui_arguments() {
        let c = parse(&[
            "diff",
            "old.json",
            "new.json",
            "--ignore",
            "time,pcap_cnt",
            "--ignore",
            "flow_id",
            "--field",
            "kind",
        ]);
        let Some(Command::Diff(d)) = c.command else {
            panic!("not diff")
        };
        assert_eq!(d.old, PathBuf::from("old.json"));
        assert_eq!(d.new, PathBuf::from("new.json"));
        assert_eq!(d.ignore, vec!["time", "pcap_cnt", "flow_id"]);
        assert_eq!(d.field, vec!["kind"]);
        let c = parse(&[
            "-i", "eth0", "-s", "1514", "-w", "out.pcap", "--user", "rtmp", "tui", "--mouse",
        ]);
        let Some(Command::Tui(t)) = c.command else {
            panic!("not tui")
        };
        assert!(t.mouse);
        assert_eq!(c.input.snaplen, 1514);
        assert_eq!(c.input.user.as_deref(), Some("rtmp"));
        assert_eq!(c.input.write.as_deref(), Some(Path::new("out.pcap")));
    }

    #[test]
    fn list_interfaces_flag_forms() {
        assert!(parse(&["-D"]).input.list_interfaces);
        assert!(parse(&["--list-interfaces"]).input.list_interfaces);
    }

    #[test]
    fn usage_errors() {
        for bad in [
            vec!["json", "--fail-on", "info"],
            vec!["diff", "only-one"],
            vec!["-s", "lots", "json"],
            vec!["--max-reassembly-mem", "12Q", "json"],
        ] {
            let r = Cli::try_parse_from(std::iter::once("rtmpscope").chain(bad.iter().copied()));
            let e = r.expect_err(&format!("{bad:?} should not parse"));
            assert_eq!(e.exit_code(), EXIT_USAGE);
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("1mb"), Ok(1 << 20));
        assert!(parse_size("").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("-1K").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn input_selection_errors() {
        let c = parse(&["json"]);
        let e = open_source(&c.input, &[]).unwrap_err();
        assert!(e.0.starts_with("no input"), "{}", e.0);
        let c = parse(&["-r", "a.pcap", "-i", "lo", "json"]);
        assert!(open_source(&c.input, &[])
            .unwrap_err()
            .0
            .contains("not both"));
        let c = parse(&["-r", "a.pcap", "-w", "b.pcap", "json"]);
        assert!(open_source(&c.input, &[]).unwrap_err().0.contains("-w"));
    }

    #[test]
    fn worst_severity() {
        use crate::event::Anomaly;
        let ev = |s| Event {
            pcap_cnt: 1,
            time: Default::default(),
            flow_id: None,
            direction: None,
            kind: EventKind::Anomaly(Anomaly::new("x.y", s, None, "")),
        };
        assert_eq!(worst(&[], None), None);
        assert_eq!(
            worst(&[ev(Severity::Info), ev(Severity::Warning)], None),
            Some(Severity::Warning)
        );
        assert_eq!(
            worst(&[ev(Severity::Info)], Some(Severity::Error)),
            Some(Severity::Error)
        );
    }
}
