//! Outputs over the event model: NDJSON ([`json`]), the human summary
//! ([`summary`]) and FLV files ([`flv`] is the writer, [`extract`] the
//! per-stream extraction). (`--fail-on` is decided in `cli` from the
//! anomaly severities the driver loop tracks.)

pub mod extract;
pub mod flv;
pub mod json;
pub mod summary;
