//! Writes the generated captures of the limit bench and the fuzz seeds
//! (never committed: they are large or throwaway). Uses the builders of
//! `tests/hostile/mod.rs`.
//!
//! ```text
//! cargo run --release --example gen_capture -- many-flows 1000000 /tmp/flows.pcap
//! cargo run --release --example gen_capture -- big-partials 100 16777215 /tmp/partials.pcap
//! cargo run --release --example gen_capture -- ooo-flood 600000 /tmp/ooo.pcap
//! cargo run --release --example gen_capture -- fuzz-seeds fuzz/corpus/json_path
//! ```

#[path = "../tests/hostile/mod.rs"]
mod hostile;

use std::io::{self, BufWriter, Write};

use hostile::{Conn, PcapWriter, Rng};

fn usage() -> ! {
    eprintln!(
        "usage: gen_capture many-flows N FILE | big-partials N SIZE FILE | ooo-flood N FILE | fuzz-seeds DIR"
    );
    std::process::exit(2)
}

fn open(path: &str) -> PcapWriter<BufWriter<std::fs::File>> {
    let f = std::fs::File::create(path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2)
    });
    PcapWriter::new(BufWriter::with_capacity(1 << 20, f)).unwrap()
}

fn main() -> io::Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> u64 {
        a.get(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| usage())
    };
    match a.first().map(String::as_str) {
        Some("many-flows") if a.len() == 3 => {
            let mut p = open(&a[2]);
            hostile::many_flows(&mut p, num(1) as u32)?;
            p.into_inner().flush()
        }
        Some("big-partials") if a.len() == 4 => {
            let mut p = open(&a[3]);
            hostile::big_partials(&mut p, num(1) as u32, num(2) as usize)?;
            p.into_inner().flush()
        }
        Some("ooo-flood") if a.len() == 3 => {
            let mut p = open(&a[2]);
            hostile::ooo_flood(&mut p, num(1) as usize)?;
            p.into_inner().flush()
        }
        Some("fuzz-seeds") if a.len() == 2 => {
            std::fs::create_dir_all(&a[1])?;
            let mut r = Rng(0x5eed);
            for i in 0..64u32 {
                let mut p = open(&format!("{}/generated-{i:02}.pcap", a[1]));
                if i % 8 == 0 {
                    hostile::evil_session(&mut p, i, i % 16 == 0)?;
                } else {
                    hostile::random_session(&mut p, &mut r, i)?;
                }
                p.into_inner().flush()?;
            }
            let mut c = Conn::new(1, 0);
            let mut p = open(&format!("{}/ooo-small.pcap", a[1]));
            c.open(&mut p)?;
            p.into_inner().flush()
        }
        _ => usage(),
    }
}
