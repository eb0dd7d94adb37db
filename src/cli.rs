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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::capture::{self, CaptureError, PacketSource, SourceOptions, DEFAULT_SNAPLEN};
use crate::diff::{self, DiffOptions};
use crate::event::{Event, EventKind, Severity};
use crate::output::json::{JsonOptions, JsonWriter, Meta};
use crate::output::summary;
use crate::pipeline::{Analyzer, Config, DataTap, RunEnd};
use crate::time::PacketTime;
use crate::tui;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: `--fail-on` threshold reached, or `diff` found differences.
pub const EXIT_FINDINGS: i32 = 1;
/// Exit code: usage or input error.
pub const EXIT_USAGE: i32 = 2;
/// Exit code of a run interrupted by SIGINT (128 + SIGINT); SIGTERM and
/// SIGHUP give 128 + their number the same way.
pub const EXIT_INTERRUPTED: i32 = 130;

const AFTER_HELP: &str = "\
Input: -r FILE reads a pcap or pcapng file (- = standard input); -i IFACE captures live.
A trailing BPF filter expression (tcpdump syntax) applies to files and live captures:
  rtmpscope -r dump.pcapng json 'tcp port 1935'

Live capture privileges: capturing needs root or the capabilities
  sudo setcap cap_net_raw,cap_net_admin=eip $(which rtmpscope)
When started as root, rtmpscope drops privileges once the capture (and any -w and -o
files) are open: to --user NAME, or else to 'nobody' if that user exists.

Unattended runs: -c COUNT stops after COUNT packets, -a duration:SECONDS or
-a packets:N stops when the condition is met; SIGINT, SIGTERM and SIGHUP end a run
cleanly (flows flushed, final stats, complete -w file). Several -r FILE are read as
one input merged by time (rotated tcpdump -C/-G files).

Exit codes: 0 ok, 1 --fail-on threshold reached, --require not met or diff found
differences, 2 usage or input error, 128+N ended by signal N (130 SIGINT, 143 SIGTERM,
129 SIGHUP; a second signal exits at once).";

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
    /// Read packets from a pcap/pcapng FILE (`-` = standard input). Give it
    /// several times to read rotated files as one input, merged by time.
    #[arg(short = 'r', long = "read", value_name = "FILE", global = true,
          action = clap::ArgAction::Append)]
    pub read: Vec<PathBuf>,
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
    /// Maximum memory held by the RTMP dissectors of all flows together
    /// (partial messages; K/M/G suffixes, default 48M).
    #[arg(long = "max-dissector-mem", value_name = "BYTES", value_parser = parse_size, global = true)]
    pub max_dissector_mem: Option<usize>,
    /// Stop after COUNT packets (like tcpdump -c).
    #[arg(short = 'c', long = "count", value_name = "COUNT", global = true)]
    pub count: Option<u64>,
    /// Threads of a file or live analysis (`json`, `summary`, `diff`):
    /// on a capture file, N >= 2 shards the flows over N workers (and the
    /// file is read ahead on a thread of its own); on stdin and live
    /// captures 2 reads on one thread and analyses and writes on another,
    /// 3 or more also put analysis on a thread of its own; 1 runs
    /// everything on one thread. Default: the number of cores. The output
    /// is the same whatever the count.
    #[arg(long = "threads", value_name = "N", global = true,
          value_parser = parse_threads)]
    pub threads: Option<usize>,
    /// Stop when a condition is met (like tshark -a): `duration:SECONDS`
    /// (wall clock for a live capture, packet time for files) or
    /// `packets:N`. Repeatable: the first condition met stops the run.
    #[arg(short = 'a', long = "autostop", value_name = "COND", global = true,
          value_parser = parse_autostop)]
    pub autostop: Vec<Autostop>,
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
    for p in input.read.iter().filter(|p| p.as_os_str() != "-") {
        if let Some(dsb) = crate::capture::pcapng_tls_secrets(p) {
            log.add_text(&dsb);
            any = true;
        }
    }
    input.tls_secrets = any.then(|| std::sync::Arc::new(log));
    Ok(())
}

/// An autostop condition (`-a`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Autostop {
    /// Stop after this many seconds.
    Duration(u64),
    /// Stop after this many packets.
    Packets(u64),
}

/// Parses `duration:SECONDS` or `packets:N`.
pub fn parse_autostop(s: &str) -> Result<Autostop, String> {
    let (k, v) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}': expected duration:SECONDS or packets:N"))?;
    let n: u64 = v
        .trim()
        .parse()
        .map_err(|_| format!("'{s}': '{v}' is not a whole number"))?;
    match k.trim() {
        "duration" => Ok(Autostop::Duration(n)),
        "packets" => Ok(Autostop::Packets(n)),
        other => Err(format!(
            "'{other}': unknown autostop condition (use duration:SECONDS or packets:N)"
        )),
    }
}

/// What a run needs to have seen to pass (`--require`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Require {
    /// At least one flow recognised as RTMP (plain, mid-stream, RTMPE, or
    /// RTMPS: inside TLS): a capture of only RTMPT, other TLS or another
    /// protocol fails.
    Rtmp,
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
    /// Write one FLV file (and a `.flv.json` sidecar) per media stream.
    Extract(ExtractArgs),
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
    /// Exit with code 1 unless the input shows this (`rtmp`: at least one
    /// RTMP flow).
    #[arg(long = "require", value_name = "WHAT")]
    pub require: Option<Require>,
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
    /// Exit with code 1 if an anomaly of at least this severity is seen.
    #[arg(long = "fail-on", value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Exit with code 1 unless the input shows this (`rtmp`: at least one
    /// RTMP flow).
    #[arg(long = "require", value_name = "WHAT")]
    pub require: Option<Require>,
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
    /// Exit with code 1 if NEW has an anomaly of at least this severity
    /// (also when the conversations are equal).
    #[arg(long = "fail-on", value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Exit with code 1 unless both sides show this (`rtmp`: at least one
    /// RTMP flow).
    #[arg(long = "require", value_name = "WHAT")]
    pub require: Option<Require>,
}

/// `extract` options.
#[derive(Debug, Clone, Args)]
pub struct ExtractArgs {
    /// Directory for the FLV files and their sidecars (created if missing).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: PathBuf,
    /// Only session N (its flow id, as in the JSON `flow_id`).
    #[arg(long = "session", value_name = "N")]
    pub session: Option<u64>,
    /// Only streams named NAME (as published/played, or its redaction
    /// placeholder).
    #[arg(long = "stream", value_name = "NAME")]
    pub stream: Option<String>,
    /// Stream keys in file names and sidecars as stable placeholders.
    #[arg(long)]
    pub redact: bool,
    /// Tag timestamps start at 0 in each file.
    #[arg(long)]
    pub rebase: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
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

/// Most threads `--threads` accepts.
pub const MAX_THREADS: usize = 64;

/// `--threads N`: 1..=[`MAX_THREADS`].
pub fn parse_threads(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!("expected a number from 1 to {MAX_THREADS}")),
    }
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

/// Prints an error (sanitised: messages can quote file names and wire
/// bytes) and returns the usage exit code.
fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!(
        "rtmpscope: error: {}",
        crate::sanitize::clean(&msg.to_string())
    );
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
        Some(Command::Extract(x)) => {
            run_extract(&cli.input, &x.filter.filter, &x).unwrap_or_else(|e| fail(e.0))
        }
        None => {
            let mut input = cli.input.clone();
            let mut words = cli.rest;
            if input.read.is_empty() && input.interface.is_none() && !words.is_empty() {
                let file = PathBuf::from(words.remove(0));
                if !file.exists() {
                    if let Some(cmd) = similar_command(&file.to_string_lossy()) {
                        return fail(format!(
                            "'{}' is not a command or a file: did you mean '{cmd}'?",
                            file.display()
                        ));
                    }
                }
                input.read.push(file);
                if let Err(e) = load_tls_secrets(&mut input) {
                    return fail(e.0);
                }
            }
            if let [word] = words.as_slice() {
                if !is_bpf_word(word) {
                    return fail(match similar_command(word) {
                        Some(cmd) => format!(
                            "'{word}' is not a command or a capture filter: did you mean '{cmd}'?"
                        ),
                        None => format!(
                            "'{word}' is not a command (json, summary, diff, tui) or a \
                             capture filter"
                        ),
                    });
                }
            }
            run_default(&input, &words)
        }
    }
}

/// The subcommands, for "did you mean" suggestions.
const COMMANDS: [&str; 4] = ["json", "summary", "diff", "tui"];

/// Words that can start or make up a one-word tcpdump filter expression
/// (pcap-filter(7) primitives and qualifiers).
const BPF_WORDS: &[&str] = &[
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "ip",
    "ip6",
    "arp",
    "rarp",
    "ether",
    "host",
    "net",
    "port",
    "portrange",
    "src",
    "dst",
    "less",
    "greater",
    "vlan",
    "mpls",
    "pppoed",
    "pppoes",
    "broadcast",
    "multicast",
    "inbound",
    "outbound",
    "gateway",
    "proto",
    "sctp",
    "igmp",
    "igrp",
    "pim",
    "vrrp",
    "carp",
    "atalk",
    "aarp",
    "decnet",
    "iso",
    "stp",
    "ipx",
    "netbeui",
    "not",
    "len",
    "geneve",
    "ifname",
    "on",
    "rnr",
    "reason",
    "rset",
    "srnr",
    "subrulenum",
    "action",
    "wlan",
    "type",
    "subtype",
    "dir",
    "link",
    "ppp",
    "slip",
    "fddi",
    "tr",
    "lat",
    "sca",
    "moprc",
    "mopdl",
    "llc",
    "clnp",
    "esis",
    "isis",
    "l1",
    "l2",
    "iih",
    "lsp",
    "snp",
    "csnp",
    "psnp",
    "ah",
    "esp",
    "ipv6",
];

/// True when `w` could be a one-word capture filter (a primitive, or an
/// expression with operators, digits or brackets).
fn is_bpf_word(w: &str) -> bool {
    let lower = w.to_ascii_lowercase();
    BPF_WORDS.contains(&lower.as_str())
        || !lower.chars().all(|c| c.is_ascii_alphabetic())
        || lower.is_empty()
}

/// A subcommand within edit distance 2 of `w` (a typo), if any.
fn similar_command(w: &str) -> Option<&'static str> {
    let w = w.to_ascii_lowercase();
    COMMANDS
        .iter()
        .map(|c| (edit_distance(&w, c), *c))
        .filter(|(d, c)| *d <= 2 && *d < c.len())
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance (short words only).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
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

/// The size of the one input file (for progress), when there is one.
fn single_file_size(input: &InputArgs) -> Option<u64> {
    match input.read.as_slice() {
        [p] if p.as_os_str() != "-" => std::fs::metadata(p).ok().map(|m| m.len()),
        _ => None,
    }
}

/// `summary`: the human report of sessions, streams and anomalies.
fn run_summary(input: &InputArgs, filter: &[String], args: &SummaryArgs) -> i32 {
    let result = (|| -> Result<i32, CliError> {
        let mut src = open_source(input, filter)?;
        announce_live(&src, input);
        let mut progress = summary::Progress::stderr(single_file_size(input));
        let mut collector = summary::SummaryCollector::new();
        let (mut packets, mut bytes) = (0u64, 0u64);
        let driven = drive(&mut src, input, |events, pkt_len| {
            if let Some(len) = pkt_len {
                packets += 1;
                bytes += len as u64 + 16;
                if packets % 4096 == 0 {
                    progress.update(packets, bytes);
                }
            }
            events.iter().for_each(|e| collector.handle(e));
            Ok(())
        });
        progress.finish();
        // A damaged capture: report what was read, then the error (exit 2),
        // as `json` does.
        let (end, input_error) = match driven {
            Ok(end) => (Some(end), None),
            Err(DriveError::Input(e)) => (None, Some(e)),
            Err(e) => return Err(e.into()),
        };
        let mut out = io::stdout().lock();
        let opts = summary::SummaryOptions::for_stdout(args.redact);
        if let Err(e) = collector.write(&mut out, &opts).and_then(|_| out.flush()) {
            return Ok(write_failed(e));
        }
        match input_error {
            Some(e) => Err(e),
            None => Ok(end.map_or(EXIT_OK, |end| end.exit_code(args.fail_on, args.require))),
        }
    })();
    result.unwrap_or_else(|e| fail(e.0))
}

/// What one side of a diff showed besides its conversation (for
/// `--fail-on` / `--require`).
#[derive(Debug, Default)]
struct SideFacts {
    worst: Option<Severity>,
    rtmp_flows: u64,
    signal: Option<i32>,
}

/// Loads one side of a diff: a saved NDJSON output, or a capture decoded now.
fn load_conversation(
    input: &InputArgs,
    path: &Path,
    opts: &DiffOptions,
) -> Result<(diff::Conversation, SideFacts), CliError> {
    let mut builder = diff::ConversationBuilder::new(opts);
    let mut facts = SideFacts::default();
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
            if let Some(sev) = v
                .pointer("/anomaly/severity")
                .and_then(|s| s.as_str())
                .and_then(severity_from_str)
            {
                facts.worst = Some(facts.worst.map_or(sev, |w| w.max(sev)));
            }
            if let Some(n) = v.pointer("/stats/rtmp_flows").and_then(|n| n.as_u64()) {
                facts.rtmp_flows = n;
            }
            builder.push_line(&v);
        }
    } else {
        let mut side = input.clone();
        side.read = vec![path.to_path_buf()];
        side.interface = None;
        // This side's own embedded TLS secrets, plus --tls-keylog.
        load_tls_secrets(&mut side)?;
        let mut src = open_source(&side, &[])?;
        let end = drive(&mut src, &side, |events, _| {
            events.iter().for_each(|e| builder.push_event(e));
            Ok(())
        })?;
        facts.worst = end.worst;
        facts.rtmp_flows = end.rtmp_flows;
        facts.signal = end.signal;
    }
    Ok((builder.finish(), facts))
}

fn severity_from_str(s: &str) -> Option<Severity> {
    match s {
        "info" => Some(Severity::Info),
        "warning" => Some(Severity::Warning),
        "error" => Some(Severity::Error),
        _ => None,
    }
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

/// `diff`: compares two conversations; exit 0 equal, 1 different (or a
/// `--fail-on` / `--require` condition), 2 error.
fn run_diff(input: &InputArgs, args: &DiffArgs) -> i32 {
    let opts = DiffOptions {
        ignore_fields: args.ignore.clone(),
        extra_fields: args.field.clone(),
        redact: args.redact,
        tolerance_pct: args.tolerance_pct,
        ..DiffOptions::default()
    };
    let result = (|| -> Result<i32, CliError> {
        let (old, old_facts) = load_conversation(input, &args.old, &opts)?;
        let (new, new_facts) = load_conversation(input, &args.new, &opts)?;
        let report = diff::diff_built(&old, &new, &opts);
        let mut out = io::stdout().lock();
        if let Err(e) = write!(out, "{report}").and_then(|_| out.flush()) {
            return Ok(write_failed(e));
        }
        if let Some(sig) = old_facts.signal.or(new_facts.signal) {
            return Ok(128 + sig);
        }
        let mut code = if report.is_equal() {
            EXIT_OK
        } else {
            EXIT_FINDINGS
        };
        if args.require == Some(Require::Rtmp) {
            for (name, f) in [(&args.old, &old_facts), (&args.new, &new_facts)] {
                if f.rtmp_flows == 0 {
                    eprintln!(
                        "rtmpscope: --require rtmp: no RTMP flow in {}",
                        name.display()
                    );
                    code = EXIT_FINDINGS;
                }
            }
        }
        if let (Some(t), Some(w)) = (args.fail_on, new_facts.worst) {
            if w >= t.severity() {
                code = EXIT_FINDINGS;
            }
        }
        Ok(code)
    })();
    result.unwrap_or_else(|e| fail(e.0))
}

/// `tui`: the interactive terminal UI.
fn run_tui(input: &InputArgs, filter: &[String], args: &TuiArgs) -> i32 {
    // Standard input is spooled to a temporary file (bounded) so that the
    // hex view, evicted messages and exports can read it again.
    let stdin_only = input.interface.is_none()
        && input.write.is_none()
        && matches!(input.read.as_slice(), [p] if p.as_os_str() == "-");
    let (mut spool, mut spool_note) = (None, None);
    let src = if stdin_only {
        match tui::spool::SpoolReader::create(
            std::io::stdin(),
            &std::env::temp_dir(),
            tui::spool::MAX_SPOOL_BYTES,
        ) {
            Ok((sp, reader)) => {
                spool = Some(sp);
                open_reader_source(reader, "stdin", filter)
            }
            Err(e) => {
                spool_note = Some(format!(
                    "stdin not spooled ({}: {e}): hex view from memory only",
                    std::env::temp_dir().display()
                ));
                open_source(input, filter)
            }
        }
    } else {
        open_source(input, filter)
    };
    let src = match src {
        Ok(s) => s,
        Err(e) => return fail(e.0),
    };
    // Several merged files (or stdin not spooled) cannot be re-read for
    // the hex view: keep the bytes as a live capture does.
    let keep_bytes = src.is_live() || input.read.len() > 1 || (stdin_only && spool.is_none());
    let single = match input.read.as_slice() {
        [p] if p.as_os_str() != "-" => Some(p.clone()),
        _ => spool.as_ref().map(|s| s.state.path.clone()),
    };
    let opts = tui::TuiOptions {
        source: src.description().to_owned(),
        file: single,
        file_size: single_file_size(input),
        mouse: args.mouse,
        redact: args.redact,
        filter: (!filter.is_empty()).then(|| filter.join(" ")),
        config: pipeline_config(input),
        spool: spool.as_ref().map(|s| s.state.clone()),
        spool_note,
        ..tui::TuiOptions::default()
    };
    // `spool` lives until the UI is gone (dropping it removes the file).
    match tui::run(opts, tui_source(src, pipeline_config(input), keep_bytes)) {
        Ok(()) if tui::QUIT_REQUESTED.load(Ordering::SeqCst) => {
            128 + LAST_SIGNAL.load(Ordering::SeqCst)
        }
        Ok(()) => EXIT_OK,
        Err(e) => fail(e),
    }
}
/// Packets read per producer batch: bounds the work between two UI updates.
const TUI_BATCH_PACKETS: usize = 256;
/// Live capture: a batch is handed to the display after this long even if
/// packets keep coming (the display is never further behind than this plus
/// one frame).
const TUI_LIVE_BATCH_TIME: std::time::Duration = std::time::Duration::from_millis(50);

/// The wall clock as a packet time (live captures stamp packets with it).
fn wall_clock() -> crate::time::PacketTime {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    crate::time::PacketTime::new(d.as_secs() as i64, d.subsec_nanos())
}

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
        let started = std::time::Instant::now();
        for _ in 0..TUI_BATCH_PACKETS {
            // Live: a steady trickle of packets must not fill a batch for
            // seconds before the display sees any of it.
            if live && started.elapsed() >= TUI_LIVE_BATCH_TIME {
                break;
            }
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
                    let end = RunEnd {
                        truncated: e.truncation().map(|(w, o)| (w.to_owned(), o)),
                        ..RunEnd::default()
                    };
                    analyzer.finish_run(src.stats(), &end, &mut b.events);
                    finished = true;
                    break;
                }
                Err(e) => return tui::SourceStatus::Failed(e.to_string()),
            }
            // Ok(None): an idle live capture (hand over what we have, and
            // let the wall clock end flows idle past the flow timeout), or
            // the end.
            if src.is_idle() {
                analyzer.tick(wall_clock(), &mut b.events);
            } else {
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
        if let Some(e) = src.take_savefile_error() {
            return tui::SourceStatus::Failed(e.to_string());
        }
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
        max_dissector_mem: input.max_dissector_mem,
        tls_keylog: input.tls_secrets.clone(),
    }
}

/// Opens the source the shared options name, with the BPF filter `words`
/// (joined with spaces, tcpdump style). Installs the signal handler:
/// the first SIGINT, SIGTERM or SIGHUP ends the input cleanly, a second one
/// exits at once.
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
        read_ahead: threads(input) >= 2,
    };
    let src = match (input.read.as_slice(), &input.interface) {
        ([_, ..], Some(_)) => {
            return Err(CliError("give either -r FILE or -i IFACE, not both".into()))
        }
        ([], None) => {
            return Err(CliError(
                "no input: give -r FILE (- for stdin), -i IFACE, or a capture FILE".into(),
            ))
        }
        (paths, None) => {
            if input.write.is_some() {
                return Err(CliError(
                    "-w saves a live capture: it needs -i IFACE".into(),
                ));
            }
            PacketSource::open_files(paths, &opts)?
        }
        ([], Some(iface)) => {
            if input.snaplen == 0 {
                return Err(CliError("-s: the snapshot length must be > 0".into()));
            }
            PacketSource::open_live(iface, &opts)?
        }
    };
    install_signals(&src);
    Ok(src)
}

/// Opens a capture read from `reader` (the pure-Rust reader, as stdin is)
/// with the BPF filter `words`, and installs the signal handler.
fn open_reader_source<R: std::io::Read + Send + 'static>(
    reader: R,
    name: &str,
    words: &[String],
) -> Result<PacketSource, CliError> {
    let opts = SourceOptions {
        filter: (!words.is_empty()).then(|| words.join(" ")),
        ..SourceOptions::default()
    };
    let src = PacketSource::open_reader(reader, name, &opts)?;
    install_signals(&src);
    Ok(src)
}

/// The stop handle of the source being read (the signal thread stops it).
static CURRENT_SOURCE: std::sync::Mutex<Option<crate::capture::StopHandle>> =
    std::sync::Mutex::new(None);
static SIGNAL_THREAD: std::sync::Once = std::sync::Once::new();
/// The first signal received (0: none).
static LAST_SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Routes SIGINT, SIGTERM and SIGHUP to the current source: the first one
/// ends the input like its end (flows flushed, final `stats`, `-w` file
/// complete) and the run exits with 128 + the signal number once its output
/// is written; a second signal exits at once with that code.
fn install_signals(src: &PacketSource) {
    if let Ok(mut cur) = CURRENT_SOURCE.lock() {
        *cur = Some(src.stop_handle());
    }
    SIGNAL_THREAD.call_once(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        std::thread::spawn(move || {
            for sig in signals.forever() {
                let _ = LAST_SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
                if sig != SIGINT {
                    // The TUI (Ctrl-C is a key there) quits on SIGTERM/SIGHUP.
                    tui::QUIT_REQUESTED.store(true, Ordering::SeqCst);
                }
                let handle = CURRENT_SOURCE.lock().ok().and_then(|c| c.clone());
                match handle {
                    Some(h) if !h.stop_by_signal(sig) => {}
                    _ => std::process::exit(128 + sig),
                }
            }
        });
    });
}

/// Name of a signal that can end a run.
pub fn signal_name(signo: i32) -> String {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    match signo {
        SIGINT => "SIGINT".into(),
        SIGTERM => "SIGTERM".into(),
        SIGHUP => "SIGHUP".into(),
        n => format!("signal {n}"),
    }
}

/// How the input ended.
#[derive(Debug, Default)]
pub struct InputEnd {
    /// Worst anomaly severity seen.
    pub worst: Option<Severity>,
    /// Flows recognised as RTMP (from the final `stats`).
    pub rtmp_flows: u64,
    /// The signal that interrupted the run, if one did.
    pub signal: Option<i32>,
}

impl InputEnd {
    /// The exit code of a run that wrote its output: 128 + signal number
    /// when a signal interrupted it; else 1 when `--require` is not met or
    /// the `--fail-on` threshold was reached (both reported on stderr);
    /// else 0.
    pub fn exit_code(&self, fail_on: Option<FailOn>, require: Option<Require>) -> i32 {
        if let Some(sig) = self.signal {
            return 128 + sig;
        }
        let mut code = EXIT_OK;
        if require == Some(Require::Rtmp) && self.rtmp_flows == 0 {
            eprintln!("rtmpscope: --require rtmp: no RTMP flow in the input");
            code = EXIT_FINDINGS;
        }
        if let (Some(t), Some(w)) = (fail_on, self.worst) {
            if w >= t.severity() {
                code = EXIT_FINDINGS;
            }
        }
        code
    }
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

/// The autostop limits of a run (`-c`, `-a`).
#[derive(Debug, Default)]
struct Limits {
    packets: Option<u64>,
    duration: Option<u64>,
}

impl Limits {
    fn of(input: &InputArgs) -> Self {
        let mut l = Limits {
            packets: input.count,
            duration: None,
        };
        for a in &input.autostop {
            match *a {
                Autostop::Packets(n) => l.packets = Some(l.packets.map_or(n, |p| p.min(n))),
                Autostop::Duration(s) => l.duration = Some(l.duration.map_or(s, |d| d.min(s))),
            }
        }
        l
    }
}

/// Wall-clock time now, as a packet time (for a `stats` line without
/// packets).
fn now() -> PacketTime {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    PacketTime::new(d.as_secs() as i64, d.subsec_nanos())
}

/// Reads every packet of `src` through a fresh analyzer and hands each
/// batch of events to `sink` (with the captured length of the packet that
/// produced it, `None` for the final batch). Ends at end of input, at a
/// signal, at an autostop limit (`-c`, `-a`) or at a read error; the final
/// batch holds the flushed flows and `stats`. A capture cut in the middle
/// of a packet ends like end of input plus a `capture.truncated` anomaly.
pub fn drive<F>(
    src: &mut PacketSource,
    input: &InputArgs,
    mut sink: F,
) -> Result<InputEnd, DriveError>
where
    F: FnMut(&[Event], Option<usize>) -> io::Result<()>,
{
    let analyzer = Analyzer::new(pipeline_config(input));
    let mut end = InputEnd::default();
    let limits = Limits::of(input);
    let live = src.is_live();
    // A live duration is wall-clock time: a timer stops the capture even
    // when no packet arrives.
    let timer_fired = Arc::new(AtomicBool::new(false));
    if let (true, Some(d)) = (live, limits.duration) {
        let (handle, fired) = (src.stop_handle(), timer_fired.clone());
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(d));
            fired.store(true, Ordering::SeqCst);
            handle.stop();
        });
    }
    let threads = threads(input);
    let (read, mut events) = if threads <= 1 {
        single_run(
            src,
            analyzer,
            &limits,
            &timer_fired,
            Skip::default(),
            &mut end,
            &mut sink,
        )?
    } else if !live && reopenable(input) {
        // Reader + flows sharded over workers + output here
        // (crate::parallel::run_sharded); exact or it falls back.
        let config = pipeline_config(input);
        let timer = &timer_fired;
        let limits = &limits;
        let worst_acc = &mut end.worst;
        let r = crate::parallel::run_sharded(
            threads,
            &config,
            |tx: &mut crate::parallel::ShardSender| {
                read_input(src, limits, timer, |pkt| {
                    if tx.push(pkt) {
                        Ok(())
                    } else {
                        Err(())
                    }
                })
                .ok()
            },
            |read: &ReadEnd| read.run_end.clone(),
            |eb: &crate::parallel::EventBatch| {
                for (evs, len) in eb.per_packet() {
                    *worst_acc = worst(evs, *worst_acc);
                    sink(evs, Some(len)).map_err(DriveError::Output)?;
                }
                Ok(())
            },
        )?;
        match r {
            crate::parallel::Sharded::Done {
                read,
                front,
                mut final_events,
            } => {
                final_events.push(front.shard_stats(read.kernel, &read.run_end));
                (read, final_events)
            }
            crate::parallel::Sharded::Fallback { delivered } => {
                // Re-read single-threaded; the first `delivered` packets'
                // events were written already.
                let opts = SourceOptions {
                    filter: src.filter_expr().map(str::to_owned),
                    ..SourceOptions::default()
                };
                let mut again = PacketSource::open_files(&input.read, &opts)
                    .map_err(|e| DriveError::Input(e.into()))?;
                install_signals(&again);
                // Interrupted already: the re-read stops where the output is.
                let stop = src
                    .stop_handle()
                    .signal()
                    .map(|sig| (again.stop_handle(), sig));
                let analyzer = Analyzer::new(pipeline_config(input));
                let skip = Skip {
                    packets: delivered,
                    then_stop: stop,
                };
                single_run(
                    &mut again, analyzer, limits, timer, skip, &mut end, &mut sink,
                )?
            }
            crate::parallel::Sharded::Stopped => {
                return Err(DriveError::Output(io::Error::other("pipeline stopped")))
            }
        }
    } else {
        // Reader thread | analyzer thread | output here (crate::parallel).
        let timer = &timer_fired;
        let limits = &limits;
        let r = crate::parallel::run(
            threads,
            analyzer,
            move |tx: &mut crate::parallel::BatchSender| {
                read_input(src, limits, timer, |pkt| {
                    if tx.push(pkt, live) {
                        Ok(())
                    } else {
                        Err(())
                    }
                })
                .ok()
            },
            |an: &mut Analyzer, read: &Option<ReadEnd>| {
                let mut evs = Vec::new();
                if let Some(read) = read {
                    an.finish_run(read.kernel, &read.run_end, &mut evs);
                }
                evs
            },
            |eb: &crate::parallel::EventBatch| {
                for (evs, len) in eb.per_packet() {
                    end.worst = worst(evs, end.worst);
                    sink(evs, Some(len)).map_err(DriveError::Output)?;
                }
                Ok(())
            },
        )?;
        match r {
            (Some(read), events) => (read, events),
            // The analyzer stopped without an output error: cannot happen.
            (None, _) => return Err(DriveError::Output(io::Error::other("pipeline stopped"))),
        }
    };
    end.signal = read.signal;
    end.worst = worst(&events, end.worst);
    end.rtmp_flows = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Stats(s) => Some(s.rtmp_flows),
            _ => None,
        })
        .unwrap_or(0);
    sink(&events, None).map_err(DriveError::Output)?;
    events.clear();
    if let Some(e) = read.read_error {
        if e.is_truncation() {
            eprintln!(
                "rtmpscope: warning: {}",
                crate::sanitize::clean(&e.to_string())
            );
        } else {
            return Err(DriveError::Input(CliError(e.to_string())));
        }
    }
    Ok(end)
}

/// Packets whose events a single-threaded re-read does not hand on (a
/// sharded run delivered them), and the signal that interrupted that run
/// (the re-read stops at the same packet).
#[derive(Default)]
struct Skip {
    packets: u64,
    then_stop: Option<(crate::capture::StopHandle, i32)>,
}

/// The single-threaded run: every packet through `analyzer` on this
/// thread, each packet's events to `sink` (except the skipped ones).
fn single_run<F>(
    src: &mut PacketSource,
    mut analyzer: Analyzer,
    limits: &Limits,
    timer_fired: &AtomicBool,
    skip: Skip,
    end: &mut InputEnd,
    sink: &mut F,
) -> Result<(ReadEnd, Vec<Event>), DriveError>
where
    F: FnMut(&[Event], Option<usize>) -> io::Result<()>,
{
    let mut events = Vec::new();
    let mut n = 0u64;
    if let (0, Some((h, sig))) = (skip.packets, &skip.then_stop) {
        h.stop_by_signal(*sig);
    }
    let read = read_input(src, limits, timer_fired, |pkt| {
        analyzer.handle_packet(pkt, &mut events);
        n += 1;
        if n <= skip.packets {
            events.clear();
            if let (true, Some((h, sig))) = (n == skip.packets, &skip.then_stop) {
                h.stop_by_signal(*sig);
            }
            return Ok(());
        }
        end.worst = worst(&events, end.worst);
        let r = sink(&events, Some(pkt.data.len())).map_err(DriveError::Output);
        events.clear();
        r
    })?;
    analyzer.finish_run(read.kernel, &read.run_end, &mut events);
    Ok((read, events))
}

/// Whether the input can be read a second time (regular files only), as
/// the sharded run's fallback needs.
fn reopenable(input: &InputArgs) -> bool {
    !input.read.is_empty()
        && input.interface.is_none()
        && input
            .read
            .iter()
            .all(|p| p.as_os_str() != "-" && std::fs::metadata(p).is_ok_and(|m| m.is_file()))
}

/// Worker threads of a run: `--threads`, else the number of cores.
fn threads(input: &InputArgs) -> usize {
    input.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    })
}

/// How reading the input ended.
struct ReadEnd {
    run_end: RunEnd,
    kernel: Option<crate::capture::KernelStats>,
    signal: Option<i32>,
    read_error: Option<CaptureError>,
}

/// Reads every packet of `src` into `each` until end of input, a signal,
/// an autostop limit (`-c`, `-a`) or a read error; `Err` when `each` asks
/// to stop (its error).
fn read_input<E>(
    src: &mut PacketSource,
    limits: &Limits,
    timer_fired: &AtomicBool,
    mut each: impl FnMut(&crate::capture::RawPacket<'_>) -> Result<(), E>,
) -> Result<ReadEnd, E> {
    let live = src.is_live();
    let mut first_time: Option<PacketTime> = None;
    let mut packets = 0u64;
    let mut autostop = None;
    let mut read_error = None;
    loop {
        if let Some(n) = limits.packets.filter(|&n| packets >= n) {
            autostop = Some(format!("packets:{n}"));
            break;
        }
        // The packet is handed over in the reader's buffer (no copy).
        let step = src.with_next_packet(|pkt| {
            if let (Some(d), false) = (limits.duration, live) {
                let t0 = *first_time.get_or_insert(pkt.time);
                if pkt.time.nanos_since(t0) >= i128::from(d) * 1_000_000_000 {
                    return Err(None);
                }
            }
            each(pkt).map_err(Some)
        });
        match step {
            Ok(Some(Ok(()))) => packets += 1,
            Ok(Some(Err(None))) => {
                autostop = limits.duration.map(|d| format!("duration:{d}"));
                break;
            }
            Ok(Some(Err(Some(e)))) => return Err(e),
            Ok(None) => {
                if src.is_idle() {
                    continue;
                }
                break;
            }
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
    }
    let signal = src.stop_handle().signal();
    if signal.is_none() && timer_fired.load(Ordering::SeqCst) {
        autostop = limits.duration.map(|d| format!("duration:{d}"));
    }
    let kernel = src.stats();
    if read_error.is_none() {
        read_error = src.take_savefile_error();
    }
    Ok(ReadEnd {
        run_end: RunEnd {
            interrupted: signal.map(signal_name),
            autostop,
            truncated: read_error
                .as_ref()
                .and_then(|e| e.truncation())
                .map(|(what, off)| (what.to_owned(), off)),
            fallback_time: Some(now()),
        },
        kernel,
        signal,
        read_error,
    })
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
    // `meta` goes out at once (a live run may wait long for its first packet).
    if let Err(e) = writer.write_meta(&meta).and_then(|_| writer.flush()) {
        return Ok(write_failed(e));
    }
    announce_live(&src, input);
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
    Ok(end.exit_code(args.fail_on, args.require))
}

/// A live capture says on stderr that it is listening, like tcpdump:
/// `listening on IFACE, link-type NAME, snapshot length N bytes`.
fn announce_live(src: &PacketSource, input: &InputArgs) {
    if let (true, Some(iface)) = (src.is_live(), &input.interface) {
        eprintln!(
            "rtmpscope: listening on {iface}, link-type {}, snapshot length {} bytes",
            link_type_names(src).join(", "),
            input.snaplen
        );
    }
}

/// `extract`: FLV files of every media stream, one line per file written.
fn run_extract(input: &InputArgs, filter: &[String], args: &ExtractArgs) -> Result<i32, CliError> {
    use crate::output::extract::{ExtractOptions, Extractor};
    // The directory is made before the capture opens (and privileges drop);
    // a live capture run as root gives a directory it made to the user it
    // switches to, so the files can be created later.
    let existed = args.output.is_dir();
    std::fs::create_dir_all(&args.output)
        .map_err(|e| CliError(format!("{}: {e}", args.output.display())))?;
    if input.interface.is_some() && !existed {
        capture::chown_to_dropped_user(&args.output, input.user.as_deref())?;
    }
    let mut src = open_source(input, filter)?;
    let live = src.is_live();
    let mut ex = Extractor::new(ExtractOptions {
        dir: args.output.clone(),
        session: args.session,
        stream: args.stream.clone(),
        redact: args.redact,
        rebase: args.rebase,
    });
    let mut analyzer = Analyzer::new(pipeline_config(input));
    let mut events = Vec::new();
    let mut stdout = io::stdout();
    let mut print = |reports: Vec<crate::output::extract::FileReport>| {
        for r in reports {
            let _ = writeln!(stdout, "{}", r.line());
        }
        let _ = stdout.flush();
    };
    let mut read_error = None;
    loop {
        match src.next_packet() {
            Ok(Some(pkt)) => analyzer.handle_packet_tap(&pkt, &mut events, &mut ex),
            Ok(None) => break,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        ex.handle(&events);
        events.clear();
        ex.trim(&analyzer);
        if live {
            // Every tag written so far reaches the disk: the files are
            // valid FLV whenever the capture stops.
            ex.flush();
        }
        print(ex.take_done());
    }
    analyzer.finish(src.stats(), &mut events);
    let read_error = read_error.or_else(|| src.take_savefile_error());
    ex.handle(&events);
    print(ex.finish());
    if let Some(e) = ex.error.take() {
        return Err(CliError(format!("writing output: {e}")));
    }
    if let Some(e) = read_error {
        if e.is_truncation() {
            eprintln!("rtmpscope: warning: {e}");
        } else {
            return Err(CliError(e.to_string()));
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
        assert_eq!(c.input.read, vec![PathBuf::from("x.pcap")]);
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
        assert_eq!(c.input.read, vec![PathBuf::from("-")]);
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
            kind: EventKind::Anomaly(Anomaly::new(
                crate::vocab::anomalies::RTMP_RESYNC.at(s),
                None,
                "",
            )),
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
