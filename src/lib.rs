//! rtmpscope: a passive RTMP protocol analyzer.
//!
//! Layers, each in its own module, from the wire up:
//! - [`capture`]: packet sources (pcap/pcapng files, stdin, live interfaces);
//! - [`link`]: link-layer dispatch and IP/TCP decoding;
//! - [`reassembly`]: sans-IO passive TCP reassembly into two ordered byte
//!   streams per flow, gaps reported;
//! - [`rtmp`]: the tolerant RTMP dissector (handshake, chunks, messages);
//! - [`amf`]: AMF0/AMF3 decoders;
//! - [`pipeline`]: glues link -> reassembly -> rtmp into one event stream;
//! - [`event`]: the one event model every output consumes;
//! - [`output`]: JSON and human summary; [`tui`]: the terminal UI.
#![forbid(unsafe_code)]

pub mod amf;
pub mod capture;
pub mod cli;
pub mod diff;
pub mod event;
pub mod link;
pub mod output;
pub mod pipeline;
pub mod reassembly;
pub mod redact;
pub mod rtmp;
pub mod session;
pub mod time;
pub mod tls;
pub mod tui;
