//! `--fail-on warning|error`: tracks the worst anomaly severity of a run so
//! the CLI can exit non-zero (CI use).
//!
//! Contract: [`SeverityTracker::observe`] takes every event; only anomaly
//! events count (`info` never fails a run). [`SeverityTracker::should_fail`]
//! tells whether the threshold was reached.

use crate::event::{Event, EventKind, Severity};

/// Exit code the CLI should use when the threshold is reached.
pub const FAIL_EXIT_CODE: i32 = 3;

/// Threshold given to `--fail-on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// Fail on any warning or error anomaly.
    Warning,
    /// Fail on error anomalies only.
    Error,
}

impl FailOn {
    /// The least severity that fails.
    pub fn threshold(self) -> Severity {
        match self {
            FailOn::Warning => Severity::Warning,
            FailOn::Error => Severity::Error,
        }
    }
}

impl std::str::FromStr for FailOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "warning" | "warn" => Ok(FailOn::Warning),
            "error" => Ok(FailOn::Error),
            other => Err(format!("expected warning or error, got {other:?}")),
        }
    }
}

/// Worst severity seen, with counts per severity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeverityTracker {
    worst: Option<Severity>,
    /// Counts of info, warning, error anomalies.
    pub counts: [u64; 3],
    /// Name of the first anomaly of the worst severity (for the exit message).
    pub first_worst: Option<String>,
}

impl SeverityTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one event.
    pub fn observe(&mut self, ev: &Event) {
        if let EventKind::Anomaly(a) = &ev.kind {
            self.observe_severity(a.severity, a.name);
        }
    }

    /// Feeds one severity directly (e.g. from a parsed NDJSON line).
    pub fn observe_severity(&mut self, sev: Severity, name: &str) {
        let i = match sev {
            Severity::Info => 0,
            Severity::Warning => 1,
            Severity::Error => 2,
        };
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        if self.worst.is_none_or(|w| sev > w) {
            self.worst = Some(sev);
            self.first_worst = Some(name.to_owned());
        }
    }

    pub fn worst(&self) -> Option<Severity> {
        self.worst
    }

    /// True when an anomaly at or above the threshold was seen.
    pub fn should_fail(&self, on: FailOn) -> bool {
        self.worst.is_some_and(|w| w >= on.threshold())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Anomaly;

    fn anomaly(sev: Severity) -> Event {
        Event {
            pcap_cnt: 1,
            time: Default::default(),
            flow_id: Some(1),
            direction: None,
            kind: EventKind::Anomaly(Anomaly::new("x.y", sev, None, "d")),
        }
    }

    #[test]
    fn thresholds() {
        let mut t = SeverityTracker::new();
        assert!(!t.should_fail(FailOn::Warning));
        t.observe(&anomaly(Severity::Info));
        assert!(!t.should_fail(FailOn::Warning));
        t.observe(&anomaly(Severity::Warning));
        assert!(t.should_fail(FailOn::Warning));
        assert!(!t.should_fail(FailOn::Error));
        t.observe(&anomaly(Severity::Error));
        assert!(t.should_fail(FailOn::Error));
        assert_eq!(t.counts, [1, 1, 1]);
        assert_eq!(t.worst(), Some(Severity::Error));
        assert_eq!("warning".parse::<FailOn>(), Ok(FailOn::Warning));
        assert!("fatal".parse::<FailOn>().is_err());
    }
}
