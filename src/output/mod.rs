//! Outputs over the event model: NDJSON ([`json`]), the human summary
//! ([`summary`]) and the `--fail-on` severity tracker ([`fail_on`]).

pub mod fail_on;
pub mod json;
pub mod summary;
