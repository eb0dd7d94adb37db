//! Pipeline hook of the TLS layer (issue 15), kept apart from the rest of
//! the pipeline: a flow is TLS when the classifier routes it so
//! ([`crate::classify::Route::Tls`]: a ClientHello at the start, a record
//! header on the first bytes of a flow picked up mid-stream) or, mid-stream,
//! when its first runs show a chain of record headers; its TCP bytes then go
//! through [`crate::tls`] instead of the RTMP dissector. The plaintext comes back as [`TlsOut::Plain`] runs
//! that the pipeline feeds to the flow's RTMP connection like a plain TCP
//! stream.

use std::sync::Arc;

use crate::event::{Direction, FlowProtocol};
use crate::tls::{self, KeyLog, TlsConnection, TlsInfo, TlsOut};

/// Data runs of a flow picked up mid-stream that are checked for TLS record
/// headers (its first bytes are usually inside a record).
pub const MIDSTREAM_PROBE_RUNS: u32 = 8;

#[derive(Debug)]
pub(crate) struct TlsHook {
    midstream: bool,
    /// The mid-stream probe is over (TLS found, or no TLS in the first
    /// [`MIDSTREAM_PROBE_RUNS`] runs).
    probed: bool,
    probes: u32,
    conn: Option<Box<TlsConnection>>,
}

impl TlsHook {
    pub(crate) fn new(midstream: bool) -> Self {
        TlsHook {
            midstream,
            probed: false,
            probes: 0,
            conn: None,
        }
    }

    /// The flow is TLS: its TCP bytes go to the TLS layer.
    pub(crate) fn active(&self) -> bool {
        self.conn.is_some()
    }

    /// The classifier routed the flow to TLS (or the probe found it): start
    /// the TLS layer if not yet.
    pub(crate) fn start(&mut self, keylog: &Option<Arc<KeyLog>>) {
        if self.conn.is_none() {
            self.conn = Some(Box::new(TlsConnection::new(keylog.clone(), self.midstream)));
        }
    }

    /// On a flow picked up mid-stream whose first bytes were not a record
    /// header (the classifier saw none), checks the first runs for a chain
    /// of TLS record headers. True when this run showed TLS: the caller
    /// starts the TLS layer and drops what the RTMP dissector made of the
    /// earlier runs.
    pub(crate) fn probe_midstream(&mut self, data: &[u8]) -> bool {
        if !self.midstream || self.probed || self.conn.is_some() || data.is_empty() {
            return false;
        }
        self.probes += 1;
        let tls = tls::looks_like_tls_midstream(data);
        self.probed = tls || self.probes >= MIDSTREAM_PROBE_RUNS;
        tls
    }

    /// TCP bytes of a TLS flow (after [`TlsHook::start`]).
    pub(crate) fn data(&mut self, dir: Direction, offset: u64, data: &[u8], out: &mut Vec<TlsOut>) {
        if let Some(c) = self.conn.as_mut() {
            c.handle_data(dir, offset, data, out);
        }
    }

    /// A TCP gap of the flow: `None` when the flow is not TLS.
    pub(crate) fn gap(&mut self, dir: Direction, offset: u64, len: u64) -> Option<Vec<TlsOut>> {
        let c = self.conn.as_mut()?;
        let mut out = Vec::new();
        c.handle_gap(dir, offset, len, &mut out);
        Some(out)
    }

    /// End of flow: the TLS facts, for a TLS flow.
    pub(crate) fn finish(&mut self) -> Option<TlsInfo> {
        self.conn.as_mut().map(|c| c.finish())
    }
}

/// The flow's protocol from the TLS facts and what the RTMP dissector made
/// of the plaintext: `rtmps` when the plaintext is RTMP or, without it, when
/// the record sizes look like an RTMP handshake; else `tls`.
pub(crate) fn flow_protocol(info: &TlsInfo, inner: FlowProtocol) -> FlowProtocol {
    match inner {
        FlowProtocol::Rtmp | FlowProtocol::RtmpMidstream => FlowProtocol::Rtmps,
        FlowProtocol::Unknown if info.rtmp_inside => FlowProtocol::Rtmps,
        _ => FlowProtocol::Tls,
    }
}
