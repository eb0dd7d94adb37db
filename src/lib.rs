//! rtmpscope: a passive RTMP protocol analyzer.
//!
//! Layers, each in its own module, from the wire up:
//! - [`capture`]: packet sources (pcap/pcapng files, stdin, live interfaces;
//!   feature `pcap`), producing [`packet::RawPacket`]s;
//! - [`link`]: link-layer dispatch and IP/TCP decoding;
//! - [`classify`]: per-flow content classification (RTMP, TLS, HTTP, ...)
//!   deciding which flows reach the dissector;
//! - [`reassembly`]: sans-IO passive TCP reassembly into two ordered byte
//!   streams per flow, gaps reported;
//! - [`rtmp`]: the tolerant RTMP dissector (handshake, chunks, messages);
//! - [`amf`]: AMF0/AMF3 decoders;
//! - [`pipeline`]: glues link -> reassembly -> rtmp into one event stream;
//! - [`vocab`]: the small shared types (ranges, directions, anomalies), a
//!   leaf every layer imports;
//! - [`event`]: the one event model every output consumes;
//! - [`session`] and [`health`]: the session model and stream health over
//!   media time;
//! - [`output`]: JSON, human summary, FLV writer and per-stream extraction;
//!   [`tui`]: the terminal UI (feature `tui`); `cli`: the command line
//!   (feature `cli`, the default).
//!
//! Built with `default-features = false`, the crate is the sans-IO
//! dissector alone: no libpcap, clap or ratatui (`cargo check --lib
//! --no-default-features` in CI keeps it so).
//! - [`sanitize`]: the one display sanitiser every human-readable output uses.
#![forbid(unsafe_code)]

pub mod amf;
#[cfg(feature = "pcap")]
pub mod capture;
pub mod classify;
#[cfg(feature = "cli")]
pub mod cli;
pub mod diff;
pub mod event;
pub mod fasthash;
pub mod health;
pub mod http;
pub mod link;
pub mod output;
pub mod packet;
pub mod parallel;
pub mod pipeline;
pub mod reassembly;
pub mod redact;
pub mod rtmp;
pub mod rtmpt;
pub mod sanitize;
pub mod session;
pub mod time;
pub mod tls;
#[cfg(feature = "tui")]
pub mod tui;
pub mod tunnel;
pub mod vocab;
