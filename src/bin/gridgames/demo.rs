//! `gridgames demo`.
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: &Args) -> Result<ExitCode, String> {
    Err("`gridgames demo` is not built yet".to_string())
}
