//! pcap export from the TUI: re-reads a public capture and keeps exactly the
//! packets of one flow. Expected counts come from
//! `tcpdump -nr FILE 'tcp port A and tcp port B' | wc -l`. Skips (with a
//! message) when the shared captures are not present.

#[path = "support/inputs.rs"]
mod inputs;

use std::path::{Path, PathBuf};

use rtmpscope::event::{ClientBy, FlowInfo};
use rtmpscope::tui::export::{tcp_tuple, write_pcap};

fn capture(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/captures-public")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        inputs::missing(&format!("{} not found", p.display()));
        None
    }
}

fn flow(client_port: u16) -> FlowInfo {
    FlowInfo {
        flow_id: 1,
        client_ip: "127.0.0.1".parse().unwrap(),
        client_port,
        server_ip: "127.0.0.1".parse().unwrap(),
        server_port: 1935,
        vlan: vec![],
        community_id: String::new(),
        midstream: false,
        client_by: ClientBy::Syn,
        tunnel: None,
    }
}

fn check(rel: &str, client_port: u16, want: usize) {
    let Some(input) = capture(rel) else { return };
    let out = std::env::temp_dir().join(format!(
        "rtmpscope-tui-export-{}-{client_port}.pcap",
        std::process::id()
    ));
    let n = write_pcap(&input, &flow(client_port), &out).unwrap();
    assert_eq!(n, want);
    // Read it back: same count, every packet on the flow's 5-tuple.
    let mut cap = pcap::Capture::from_file(&out).unwrap();
    let lt = cap.get_datalink().0;
    let mut count = 0;
    while let Ok(p) = cap.next_packet() {
        let (_, a, _, b) = tcp_tuple(lt, p.data).expect("tcp packet");
        assert!((a, b) == (client_port, 1935) || (a, b) == (1935, client_port));
        count += 1;
    }
    assert_eq!(count, want);
    let _ = std::fs::remove_file(out);
}

#[test]
fn pcap_export_ethernet_capture() {
    check("twinx/65926c9_nginx.pcap", 57080, 932);
}

#[test]
fn pcap_export_linux_sll_capture_skips_other_flows() {
    // The capture also holds ssh traffic, which must not be exported.
    check("oswystan-rtmp/publish.pcap", 58492, 1960);
}

#[test]
fn pcap_export_missing_input_is_an_error() {
    let e = write_pcap(
        Path::new("/nonexistent/x.pcap"),
        &flow(1),
        Path::new("/tmp/never.pcap"),
    )
    .unwrap_err();
    assert!(e.contains("/nonexistent/x.pcap"), "{e}");
}
