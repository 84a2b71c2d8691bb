//! The `gridgames` command-line tool: one module per subcommand.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli_io;
mod convert;
mod decode;
mod demo;
mod eval;
mod formats;
mod gemm;
mod learn;
mod mma;
mod quantize;
mod show;
mod vectors;
mod verify;

#[derive(Parser)]
#[command(
    name = "gridgames",
    version,
    about = "Bit-exact reference for microscaled 4-bit formats with one or more grids"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the built-in formats, element formats and profiles.
    Formats(formats::Args),
    /// Show a format: grids, bit layout, profiles, provenance.
    Show(show::Args),
    /// Convert an .npy tensor to element codes (uint8 .npy).
    Convert(convert::Args),
    /// Quantize an .npy or safetensors tensor into a safetensors file.
    Quantize(quantize::Args),
    /// Decode a quantized safetensors file to .npy.
    Decode(decode::Args),
    /// The main job on embedded data: quantize, decode, emulate and verify, with a table.
    Demo(demo::Args),
    /// Emulate tensor-core MMA instructions and check case files.
    Mma(mma::MmaArgs),
    /// Predict a whole GEMM kernel's output (Triton, cuBLAS recipes) and check it bit for bit.
    Gemm(gemm::Args),
    /// Learn grids (k-means over grids) and write a format spec.
    Learn(learn::Args),
    /// Accuracy study: relative MSE per format, distribution and group size.
    Eval(eval::Args),
    /// Generate or check the golden vectors.
    Vectors(vectors::Args),
    /// Check another implementation's outputs against the reference.
    Verify(verify::Args),
}

fn main() -> ExitCode {
    // An interrupted run removes the temporary file it was writing (the output itself only
    // appears on the final rename), then exits as a signal-killed process would.
    let _ = ctrlc::set_handler(|| {
        gridgames::fsio::remove_registered_temps();
        eprintln!("interrupted: no output written");
        std::process::exit(130);
    });
    // `gridgames … | head`: when the reader goes away, stdout writes fail with a broken
    // pipe and `println!` panics; that is the reader's choice, not an error: exit quietly.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.contains("Broken pipe") {
            gridgames::fsio::remove_registered_temps();
            std::process::exit(0);
        }
        default_hook(info);
    }));
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Formats(args) => formats::run(args),
        Command::Show(args) => show::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Quantize(args) => quantize::run(args),
        Command::Decode(args) => decode::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Mma(args) => mma::run(args),
        Command::Gemm(args) => gemm::run(args),
        Command::Learn(args) => learn::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Vectors(args) => vectors::run(args),
        Command::Verify(args) => verify::run(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {}", with_cli_flags(&message));
            ExitCode::from(2)
        }
    }
}

/// Library errors name the library option that would fix them as ``(option `name`)``; they
/// never mention a CLI flag (the library has other front ends: Python, C). This is the one
/// place that says which flag each option is on this command line.
const OPTION_FLAGS: [(&str, &str); 8] = [
    ("(option `pad`)", "(pass --pad)"),
    ("(option `scale_layout`)", "(--scale-layout)"),
    ("option `scale_layout` = ", "--scale-layout "),
    ("(option `bf16`)", "(pass --bf16)"),
    ("(option `format`)", "(pass --format)"),
    ("(option `spec`)", "(pass --spec FILE)"),
    ("`mirror` needs", "--mirror needs"),
    (
        "(`emu::gemm::Preset::ALL` lists them)",
        "(gridgames gemm --list-recipes)",
    ),
];

pub(crate) fn with_cli_flags(message: &str) -> String {
    OPTION_FLAGS
        .iter()
        .fold(message.to_string(), |m, (option, flag)| {
            m.replace(option, flag)
        })
}
