//! The `gridgames` command-line tool: one module per subcommand.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod mma;

#[derive(Parser)]
#[command(name = "gridgames", version, about = "Bit-exact reference for microscaled 4-bit formats")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Emulate tensor-core MMA instructions and check case files.
    Mma(mma::MmaArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Mma(args) => mma::run(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
