//! Packet sources: pcap/pcapng files (libpcap, pure-Rust fallback), stdin and
//! live interfaces.
