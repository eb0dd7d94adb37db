//! Pipeline hook of the TLS layer (issue 15), kept apart from the rest of
//! the pipeline: decides on a flow's first bytes whether it is TLS (a
//! ClientHello at the start; mid-stream, a chain of application data record
//! headers) and, if so, routes its TCP bytes through [`crate::tls`] instead
//! of the RTMP dissector. The plaintext comes back as [`TlsOut::Plain`] runs
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
    decided: bool,
    probes: u32,
    conn: Option<Box<TlsConnection>>,
    /// TLS was recognised after the RTMP connection had seen some bytes: the
    /// caller must give the flow a fresh RTMP connection.
    pub(crate) reset_rtmp: bool,
}

impl TlsHook {
    pub(crate) fn new(midstream: bool) -> Self {
        TlsHook {
            midstream,
            decided: false,
            probes: 0,
            conn: None,
            reset_rtmp: false,
        }
    }

    /// TCP bytes of the flow. `None`: not TLS, the caller dissects them as
    /// usual; `Some(outs)`: the TLS layer took them.
    pub(crate) fn data(
        &mut self,
        keylog: &Option<Arc<KeyLog>>,
        dir: Direction,
        offset: u64,
        data: &[u8],
    ) -> Option<Vec<TlsOut>> {
        if !self.decided && !data.is_empty() {
            self.probes += 1;
            let tls = if self.midstream {
                tls::looks_like_tls_midstream(data)
            } else {
                offset == 0 && tls::looks_like_tls_start(data)
            };
            // A flow seen from its start is decided by its first bytes; a
            // mid-stream one by its first few runs.
            self.decided = tls || !self.midstream || self.probes >= MIDSTREAM_PROBE_RUNS;
            if tls {
                self.reset_rtmp = self.probes > 1;
                self.conn = Some(Box::new(TlsConnection::new(keylog.clone(), self.midstream)));
            }
        }
        let c = self.conn.as_mut()?;
        let mut out = Vec::new();
        c.handle_data(dir, offset, data, &mut out);
        Some(out)
    }

    /// A TCP gap of the flow; same convention as [`TlsHook::data`].
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
