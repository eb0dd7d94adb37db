//! Anomaly rate limit: an out-of-order flood (one-byte segments each after
//! a hole, generated here) gives bounded output, one `anomaly.rate_limited`
//! line per name, and exact counts in `stats` and in the session record.

mod hostile;

use serde_json::Value as J;

#[test]
fn out_of_order_flood_is_bounded_with_exact_counts() {
    const N: usize = 20_000;
    let mut p = hostile::PcapWriter::new(Vec::new()).unwrap();
    hostile::ooo_flood(&mut p, N).unwrap();
    let pcap = p.into_inner();
    let out = hostile::json_of_pcap(&pcap, false);
    let lines: Vec<J> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Bounded: a few hundred lines, not 3 per segment.
    assert!(lines.len() < 1000, "{} lines", lines.len());
    let stats = &lines.last().unwrap()["stats"];
    assert_eq!(stats["anomalies"]["tcp.seq_gap"], N as u64);
    assert_eq!(stats["missed_bytes"], N as u64);
    let limit = rtmpscope::pipeline::ANOMALY_REPORT_LIMIT;
    let count = |name: &str| {
        lines
            .iter()
            .filter(|v| v["anomaly"]["name"] == name)
            .count() as u64
    };
    assert_eq!(count("tcp.seq_gap"), limit);
    let gaps = lines.iter().filter(|v| v["event_type"] == "gap").count() as u64;
    assert_eq!(gaps, limit);
    // One summary line per limited name, with the exact remainder.
    let limited: Vec<&J> = lines
        .iter()
        .filter(|v| v["anomaly"]["name"] == "anomaly.rate_limited")
        .collect();
    let find = |name: &str| {
        limited
            .iter()
            .find(|v| v["anomaly"]["suppressed"]["name"] == name)
            .unwrap_or_else(|| panic!("no rate_limited line for {name}"))
    };
    assert_eq!(
        find("tcp.seq_gap")["anomaly"]["suppressed"]["count"],
        N as u64 - limit
    );
    let g = &find("gap")["anomaly"]["suppressed"];
    assert_eq!(g["count"], N as u64 - limit);
    assert_eq!(g["bytes"], N as u64 - limit);
    // Every anomaly name of stats is written at most `limit` times, and
    // written + suppressed = the stats count.
    for (name, n) in stats["anomalies"].as_object().unwrap() {
        if name == "anomaly.rate_limited" {
            continue;
        }
        let written = count(name);
        let suppressed = limited
            .iter()
            .filter(|v| v["anomaly"]["suppressed"]["name"] == name.as_str())
            .map(|v| v["anomaly"]["suppressed"]["count"].as_u64().unwrap())
            .sum::<u64>();
        assert!(written <= limit, "{name}: {written}");
        assert_eq!(written + suppressed, n.as_u64().unwrap(), "{name}");
    }
    // The session record keeps the exact numbers too.
    let session = lines
        .iter()
        .find(|v| v["event_type"] == "session")
        .expect("session line");
    assert_eq!(session["session"]["gaps"]["count"], N as u64);
    assert_eq!(session["session"]["gaps"]["bytes"], N as u64);
    assert_eq!(session["session"]["anomalies"]["tcp.seq_gap"], N as u64);
}
