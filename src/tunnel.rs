//! What an RTMPT tunnel did ([`TunnelFacts`]): plain data shared by the
//! tunnel layer that fills it ([`crate::rtmpt`]), the event model that
//! carries it (the `flow` record, [`crate::event::FlowEnd`]) and the session
//! model. A leaf: it depends only on [`crate::vocab`], so the event and
//! session models need not import the tunnel layer.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::vocab::{FlowId, PerDir};

/// Requests by kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RequestCounts {
    pub ident2: u64,
    pub open: u64,
    pub idle: u64,
    pub send: u64,
    pub close: u64,
}

/// Request-to-response latency: from the packet that completed a request
/// to the packet carrying the first byte of its response.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    pub count: u64,
    pub min_us: Option<u64>,
    pub max_us: Option<u64>,
    pub avg_us: Option<u64>,
    #[serde(skip)]
    sum: u128,
}

impl Latency {
    pub(crate) fn merge(&mut self, o: &Latency) {
        if o.count == 0 {
            return;
        }
        self.count += o.count;
        self.sum += o.sum;
        self.min_us = self.min_us.min(o.min_us).or(self.min_us.or(o.min_us));
        self.max_us = self.max_us.max(o.max_us);
        self.avg_us = Some((self.sum / self.count as u128) as u64);
    }
    pub(crate) fn add(&mut self, us: u64) {
        self.count += 1;
        self.sum += us as u128;
        self.min_us = Some(self.min_us.map_or(us, |m| m.min(us)));
        self.max_us = Some(self.max_us.map_or(us, |m| m.max(us)));
        self.avg_us = Some((self.sum / self.count as u128) as u64);
    }
}

/// What one tunnel did (the `tunnel` object of the virtual flow's `flow`
/// record and of its `session`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TunnelFacts {
    pub transport: &'static str,
    pub sid: String,
    /// TCP flows that carried the tunnel's requests, in first-use order
    /// (at most [`crate::rtmpt::MAX_CARRIERS_LISTED`]).
    pub carriers: Vec<FlowId>,
    pub carrier_count: u64,
    pub requests: RequestCounts,
    /// Idle polls answered with no RTMP bytes.
    pub empty_polls: u64,
    /// Polling intervals the server asked for: interval byte -> answers.
    pub intervals: BTreeMap<u8, u64>,
    /// HTTP bytes on the wire (heads, framing, bodies) per direction.
    pub http_bytes: PerDir<u64>,
    /// RTMP bytes carried per direction.
    pub rtmp_bytes: PerDir<u64>,
    /// `http_bytes - rtmp_bytes`: what the tunnel cost.
    pub overhead_bytes: PerDir<u64>,
    /// Answers with status >= 400 (ident2's expected 404 excluded).
    pub http_errors: u64,
    pub latency: Latency,
    pub duplicate_seqs: u64,
    pub missing_seqs: u64,
    pub lost_responses: u64,
    /// The tunnelled RTMP is RTMPE (RTMPTE).
    pub encrypted: bool,
    /// The `/open/1` exchange was not seen (the capture began inside the
    /// tunnel).
    pub midstream: bool,
    pub closed: bool,
}
