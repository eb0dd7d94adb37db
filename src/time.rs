//! Packet time: the only clock rtmpscope uses.
//!
//! Every timestamp in the event model comes from a captured packet (seconds and
//! nanoseconds since the Unix epoch, as libpcap/pcapng report it), never from the
//! wall clock, so replaying a capture gives identical output.

use serde::Serialize;

/// A packet timestamp with nanosecond resolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PacketTime {
    /// Seconds since the Unix epoch.
    pub sec: i64,
    /// Nanoseconds within the second (0..1_000_000_000).
    pub nsec: u32,
}

impl PacketTime {
    /// Builds a time from seconds and nanoseconds, normalising `nsec` overflow.
    pub fn new(sec: i64, nsec: u32) -> Self {
        let extra = (nsec / 1_000_000_000) as i64;
        PacketTime {
            sec: sec.saturating_add(extra),
            nsec: nsec % 1_000_000_000,
        }
    }

    /// Total nanoseconds since the epoch (saturating).
    pub fn as_nanos(&self) -> i128 {
        self.sec as i128 * 1_000_000_000 + self.nsec as i128
    }

    /// Seconds as a float (for rates and display only).
    pub fn as_secs_f64(&self) -> f64 {
        self.sec as f64 + self.nsec as f64 / 1e9
    }

    /// Signed difference `self - earlier` in nanoseconds.
    pub fn nanos_since(&self, earlier: PacketTime) -> i128 {
        self.as_nanos() - earlier.as_nanos()
    }

    /// RFC 3339 UTC with microseconds, e.g. `2026-11-21T12:00:00.123456Z`.
    pub fn rfc3339_micros(&self) -> String {
        let mut v = Vec::with_capacity(RFC3339_MICROS_LEN);
        self.write_rfc3339_micros(&mut v);
        String::from_utf8(v).unwrap_or_default()
    }

    /// Appends [`PacketTime::rfc3339_micros`] to `out` (digits written in
    /// place, no formatting machinery: the JSON writer's hot path).
    pub fn write_rfc3339_micros(&self, out: &mut Vec<u8>) {
        let days = self.sec.div_euclid(86_400);
        let secs_of_day = self.sec.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        if !(0..=9999).contains(&y) || self.nsec >= 1_000_000_000 {
            out.extend_from_slice(self.rfc3339_micros_fmt(y, m, d, secs_of_day).as_bytes());
            return;
        }
        let mut b = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                if let Some(c) = b.get_mut(i) {
                    *c = b'0' + (v % 10) as u8;
                }
                v /= 10;
            }
        };
        put(0, 4, y as u32);
        put(5, 2, m);
        put(8, 2, d);
        put(11, 2, secs_of_day / 3600);
        put(14, 2, (secs_of_day / 60) % 60);
        put(17, 2, secs_of_day % 60);
        put(20, 6, self.nsec / 1000);
        out.extend_from_slice(&b);
    }

    /// Sets `s` to [`PacketTime::rfc3339_micros`], reusing its allocation.
    pub fn set_rfc3339_micros(&self, s: &mut String) {
        let mut v = std::mem::take(s).into_bytes();
        v.clear();
        self.write_rfc3339_micros(&mut v);
        *s = String::from_utf8(v).unwrap_or_default();
    }

    /// The general form (years outside 0..=9999, unnormalised `nsec`).
    fn rfc3339_micros_fmt(&self, y: i64, m: u32, d: u32, secs_of_day: u32) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            y,
            m,
            d,
            secs_of_day / 3600,
            (secs_of_day / 60) % 60,
            secs_of_day % 60,
            self.nsec / 1000
        )
    }
}

/// Length of [`PacketTime::rfc3339_micros`] for years 0..=9999.
const RFC3339_MICROS_LEN: usize = 27;

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
/// Howard Hinnant's public-domain algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_fast_path_equals_the_formatted_form() {
        let mut secs: Vec<i64> = vec![0, -1, 1, 86_399, 86_400, 951_782_400, 1_700_000_000];
        secs.extend([
            253_402_300_799,
            253_402_300_800,
            -62_167_219_200,
            -62_167_219_201,
        ]);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            secs.push((x % 300_000_000_000) as i64 - 70_000_000_000);
        }
        for (i, &sec) in secs.iter().enumerate() {
            for nsec in [
                0,
                999,
                1000,
                123_456_789,
                999_999_999,
                1_000_000_000 + i as u32,
            ] {
                let t = PacketTime { sec, nsec };
                let days = sec.div_euclid(86_400);
                let (y, m, d) = civil_from_days(days);
                let want = t.rfc3339_micros_fmt(y, m, d, sec.rem_euclid(86_400) as u32);
                assert_eq!(t.rfc3339_micros(), want, "{sec} {nsec}");
            }
        }
    }

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(
            PacketTime::new(0, 0).rfc3339_micros(),
            "1970-01-01T00:00:00.000000Z"
        );
        // 2000-02-29T23:59:59.999999Z: leap day, end of day.
        assert_eq!(
            PacketTime::new(951_868_799, 999_999_999).rfc3339_micros(),
            "2000-02-29T23:59:59.999999Z"
        );
        assert_eq!(
            PacketTime::new(1_700_000_000, 1_500).rfc3339_micros(),
            "2023-11-14T22:13:20.000001Z"
        );
    }

    #[test]
    fn nsec_overflow_normalised() {
        assert_eq!(PacketTime::new(1, 2_000_000_001), PacketTime::new(3, 1));
    }
}
