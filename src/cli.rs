//! Command-line interface (clap): subcommands and shared input options.

/// Runs the CLI; returns the process exit code.
pub fn main() -> i32 {
    0
}
