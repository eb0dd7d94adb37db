//! Glue: link -> reassembly -> RTMP dissector, producing the event stream.
//!
//! Contract: sans-IO. [`Analyzer::handle_packet`] takes one captured frame and
//! appends the events it completes; [`Analyzer::finish`] flushes every open
//! flow and appends the final `stats` event. Same input, same events.

use crate::capture::{KernelStats, RawPacket};
use crate::event::Event;

/// Analyzer settings (limits and overrides from the CLI).
#[derive(Clone, Debug, Default)]
pub struct Config {}

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
