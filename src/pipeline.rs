//! Glue: link -> reassembly -> RTMP dissector, producing the event stream.
//!
//! Contract: sans-IO. [`Analyzer::handle_packet`] takes one captured frame and
//! appends the events it completes; [`Analyzer::finish`] flushes every open
//! flow and appends the final `stats` event. Same input, same events.

use crate::capture::{KernelStats, RawPacket};
use crate::event::Event;

/// Analyzer settings (limits and overrides from the CLI). Every limit is
/// `None` unless the user overrode it: `None` means the owning module's
/// default (its named `pub const`).
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Maximum number of concurrently tracked flows (`--max-flows`).
    pub max_flows: Option<usize>,
    /// Maximum out-of-order bytes buffered per flow direction
    /// (`--max-ooo-bytes`).
    pub max_ooo_bytes: Option<usize>,
    /// Maximum bytes held by reassembly across all flows
    /// (`--max-reassembly-mem`).
    pub max_reassembly_mem: Option<usize>,
    /// Idle flow timeout in seconds of packet time (`--flow-timeout`).
    pub flow_timeout_secs: Option<u64>,
}

/// The whole sans-IO pipeline for one input.
#[derive(Debug, Default)]
pub struct Analyzer {
    _config: Config,
}

impl Analyzer {
    pub fn new(config: Config) -> Self {
        Analyzer { _config: config }
    }

    /// Decodes one frame; appends the events it completes to `out`.
    pub fn handle_packet(&mut self, pkt: &RawPacket<'_>, out: &mut Vec<Event>) {
        let _ = (pkt, out);
    }

    /// End of input: flushes open flows and appends the `stats` event.
    pub fn finish(&mut self, kernel: Option<KernelStats>, out: &mut Vec<Event>) {
        let _ = (kernel, out);
    }
}
