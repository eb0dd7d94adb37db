//! Follow view: one RTMP session's conversation as a dialogue (like
//! Wireshark's Follow TCP Stream, at the RTMP level): commands, status
//! codes, metadata and protocol control, one line each, client and server
//! told apart; media is not shown message by message.
//!
//! Contract: [`Follow`] holds the lines of one flow, built from the
//! model's message rows incrementally ([`Follow::update`] looks only at
//! rows added since its last call). A run of media messages (audio, video,
//! aggregate) and acknowledgements between two shown messages is one
//! [`Line::Folded`] line counting them per direction. At most
//! [`MAX_FOLLOW_LINES`] lines are kept (the first ones; `capped` says
//! when more were dropped).

use super::model::{Model, MsgRow};
use super::summary::Kind;
use crate::event::{Direction, FlowId};

/// Lines kept per followed session.
pub const MAX_FOLLOW_LINES: usize = 100_000;

/// Message type id of Acknowledgement (folded with media).
const TYPE_ACK: u8 = 3;

/// Counts of a folded run, per direction (index 0: client to server).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Run {
    pub first: u32,
    pub last: u32,
    pub video: [u32; 2],
    pub audio: [u32; 2],
    /// Aggregates and acknowledgements.
    pub other: [u32; 2],
    pub bytes: [u64; 2],
}

/// One line of the dialogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// A message shown by its summary (its row).
    Msg(u32),
    /// Media and acknowledgements between two shown messages.
    Folded(Run),
}

impl Line {
    /// The message row a line points at (a folded run: its first).
    pub fn row(&self) -> u32 {
        match self {
            Line::Msg(r) => *r,
            Line::Folded(r) => r.first,
        }
    }
}

/// Whether a message is folded rather than shown.
pub fn folded(r: &MsgRow) -> bool {
    matches!(r.kind, Kind::Video | Kind::Audio | Kind::Aggregate) || r.type_id == TYPE_ACK
}

fn side(d: Direction) -> usize {
    match d {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

/// The dialogue of one flow.
#[derive(Clone, Debug)]
pub struct Follow {
    pub flow: FlowId,
    pub lines: Vec<Line>,
    /// More lines than [`MAX_FOLLOW_LINES`]: the later ones are not kept.
    pub capped: bool,
    upto: usize,
}

impl Follow {
    pub fn new(flow: FlowId) -> Follow {
        Follow {
            flow,
            lines: Vec::new(),
            capped: false,
            upto: 0,
        }
    }

    /// Adds the lines of the rows added to `model` since the last call.
    pub fn update(&mut self, model: &Model) {
        let rows = &model.rows;
        for (i, r) in rows.iter().enumerate().skip(self.upto) {
            if r.flow_id != self.flow {
                continue;
            }
            let i = i as u32;
            if folded(r) {
                let s = side(r.dir);
                if let Some(Line::Folded(run)) = self.lines.last_mut() {
                    run.last = i;
                    add(run, r, s);
                    continue;
                }
                let mut run = Run {
                    first: i,
                    last: i,
                    ..Run::default()
                };
                add(&mut run, r, s);
                self.push(Line::Folded(run));
            } else {
                self.push(Line::Msg(i));
            }
        }
        self.upto = rows.len();
    }

    fn push(&mut self, l: Line) {
        if self.lines.len() < MAX_FOLLOW_LINES {
            self.lines.push(l);
        } else {
            self.capped = true;
        }
    }
}

fn add(run: &mut Run, r: &MsgRow, s: usize) {
    match r.kind {
        Kind::Video => run.video[s] += 1,
        Kind::Audio => run.audio[s] += 1,
        _ => run.other[s] += 1,
    }
    run.bytes[s] += r.length as u64;
}

/// Text of a folded run: `312 video, 201 audio (1.2 MB) C→S; 4 ack S→C`.
pub fn folded_text(run: &Run) -> String {
    let mut parts = Vec::new();
    for (s, arrow) in [(0, "C→S"), (1, "S→C")] {
        let mut what = Vec::new();
        if run.video[s] > 0 {
            what.push(format!("{} video", run.video[s]));
        }
        if run.audio[s] > 0 {
            what.push(format!("{} audio", run.audio[s]));
        }
        if run.other[s] > 0 {
            what.push(format!("{} ack/aggregate", run.other[s]));
        }
        if !what.is_empty() {
            parts.push(format!(
                "{} ({}) {arrow}",
                what.join(", "),
                super::summary::human_bytes(run.bytes[s])
            ));
        }
    }
    format!("··· {} ···", parts.join("; "))
}
