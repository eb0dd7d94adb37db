//! Thin binary over the library: all logic lives in `rtmpscope::cli`.

fn main() {
    std::process::exit(rtmpscope::cli::main());
}
