//! Flow control of one direction: Window Acknowledgement Size and the
//! peer's Acknowledgements (`rtmp.ack.beyond_received` for an ack past the
//! bytes sent, `rtmp.ack.late` when the receiver got more than its window
//! plus half a window without acknowledging), Set Peer Bandwidth (tracked),
//! and User Control Ping Request/Response paired into `rtt_us` (at most
//! [`MAX_PENDING_PINGS`] pings waiting per direction).

use super::{anomaly, Connection, RtmpEvent};
use crate::time::PacketTime;
use crate::vocab::anomalies;
use crate::vocab::{ByteRange, Direction, PacketRef};
use std::collections::VecDeque;

use super::message::{type_id, Body, Control, LimitType, Message};

/// Pings per direction remembered while waiting for their response.
pub const MAX_PENDING_PINGS: usize = 16;

/// Flow-control state announced by one direction's sender.
#[derive(Debug, Default)]
pub(super) struct FlowControl {
    /// Window Ack Size announced by this direction's sender.
    pub(super) window: Option<u32>,
    /// `next_off` of this direction when the peer last acknowledged.
    pub(super) unacked_base: u64,
    pub(super) late_reported: bool,
    /// Set Peer Bandwidth announced by this direction's sender.
    pub(super) peer_bandwidth: Option<(u32, LimitType)>,
    pub(super) pings: VecDeque<(u32, PacketTime)>,
}

impl Connection {
    pub(super) fn control_effects(
        &mut self,
        dir: Direction,
        m: &mut Message,
        pkt: PacketRef,
        out: &mut Vec<RtmpEvent>,
    ) {
        let d = dir.index();
        let o = 1 - d;
        let range = Some(ByteRange::new(m.first_byte, m.last_byte + 1));
        match m.type_id {
            type_id::ACKNOWLEDGEMENT => {
                let Body::Control(Control::Acknowledgement { sequence: seq }) = m.body else {
                    return;
                };
                let received = self.dirs[o].next_off;
                if self.dirs[o].absolute && (seq.wrapping_sub(received as u32) as i32) > 0 {
                    out.push(anomaly(
                        dir,
                        pkt,
                        anomalies::RTMP_ACK_BEYOND_RECEIVED,
                        range,
                        format!(
                            "acknowledgement {seq} but only {received} bytes were sent the other way"
                        ),
                    ));
                }
                let st = &mut self.dirs[o];
                st.flow.unacked_base = st.next_off;
                st.flow.late_reported = false;
            }
            type_id::WINDOW_ACK_SIZE => {
                if let Body::Control(Control::WindowAckSize { size: w }) = m.body {
                    let st = &mut self.dirs[d];
                    if st.flow.window.is_none() {
                        st.flow.unacked_base = st.next_off;
                    }
                    st.flow.window = Some(w);
                }
            }
            type_id::SET_PEER_BANDWIDTH => {
                if let Body::Control(Control::SetPeerBandwidth { size, limit_type }) = m.body {
                    self.dirs[d].flow.peer_bandwidth = Some((size, limit_type));
                }
            }
            type_id::USER_CONTROL => {
                let (event, ts) = match &m.body {
                    Body::UserControl(u) => match u.timestamp {
                        Some(ts) => (u.event_type, ts),
                        None => return,
                    },
                    _ => return,
                };
                if event == 6 {
                    let q = &mut self.dirs[d].flow.pings;
                    if q.len() >= MAX_PENDING_PINGS {
                        q.pop_front();
                    }
                    q.push_back((ts, pkt.time));
                } else if event == 7 {
                    let q = &mut self.dirs[o].flow.pings;
                    if let Some(i) = q.iter().position(|&(t, _)| t == ts) {
                        let (_, sent) = q.remove(i).unwrap_or((ts, pkt.time));
                        let rtt = pkt.time.nanos_since(sent).max(0) / 1000;
                        if let Body::UserControl(u) = &mut m.body {
                            u.rtt_us = Some(rtt.min(u64::MAX as i128) as u64);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// `rtmp.ack.late`: the receiver of `dir` got more than its window
    /// (plus half a window of slack for acks in flight) without acknowledging.
    pub(super) fn check_late(&mut self, dir: Direction, pkt: PacketRef, out: &mut Vec<RtmpEvent>) {
        let st = &mut self.dirs[dir.index()];
        let Some(w) = st.flow.window else { return };
        if st.flow.late_reported || w == 0 {
            return;
        }
        let limit = w as u64 + w as u64 / 2;
        if st.next_off.saturating_sub(st.flow.unacked_base) > limit {
            st.flow.late_reported = true;
            let from = st.flow.unacked_base + w as u64;
            let to = st.next_off;
            out.push(anomaly(
                dir,
                pkt,
                anomalies::RTMP_ACK_LATE,
                Some(ByteRange::new(from, to)),
                format!(
                    "peer received {} bytes since its last acknowledgement; window is {w}",
                    to - st.flow.unacked_base
                ),
            ));
        }
    }
}
