//! Inputs from outside the repository (`../shared/...`, tshark, tmux, ffmpeg).
//!
//! A test whose input is missing calls [`missing`]: it prints `SKIPPED: <why>`
//! and lets the test return, unless `RTMPSCOPE_REQUIRE_INPUTS=1` is set (as
//! `.ci/run` does), in which case the test fails: on CI a check that did not
//! run must not look like a check that passed.
#![allow(dead_code)]

/// The switch `.ci/run` sets.
pub const REQUIRE_VAR: &str = "RTMPSCOPE_REQUIRE_INPUTS";

/// True when missing inputs must fail the test.
pub fn required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Reports a missing input: panics under [`REQUIRE_VAR`], else prints
/// `SKIPPED: why` on stderr (the caller then returns or continues).
#[track_caller]
pub fn missing(why: &str) {
    if required() {
        panic!("required input missing ({REQUIRE_VAR} is set): {why}");
    }
    eprintln!("SKIPPED: {why}");
}
