//! `gridgames mma`: placeholder until the emulator lands.
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct MmaArgs {
    /// Case file to check.
    #[arg(long)]
    pub cases: Option<std::path::PathBuf>,
}

pub fn run(_args: &MmaArgs) -> Result<ExitCode, String> {
    Err("the MMA emulator is not built yet".to_string())
}
