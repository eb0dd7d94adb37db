//! Outputs over the event model: NDJSON ([`json`]) and the human summary
//! ([`summary`]). (`--fail-on` is decided in `cli` from the anomaly
//! severities the driver loop tracks.)

pub mod json;
pub mod summary;
