//! `gridgames show FORMAT`: grids, bit layout, profiles and provenance.
use std::process::ExitCode;

use gridgames::quant::{self, Profile};

#[derive(clap::Args)]
pub struct Args {
    /// A built-in format name, or a path to a format spec .yaml.
    pub format: String,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let f = gridgames::spec::resolve_format(&args.format)?;
    println!("{} — {}", f.name, f.description);
    println!("spec: {} (sha256 {})", f.spec_file, f.spec_sha256);
    println!();
    println!("group size      {}", f.group_size);
    println!(
        "element codes   4 bits, {} order",
        if f.high_nibble_first {
            "element 2i in the HIGH nibble"
        } else {
            "element 2i in the low nibble"
        }
    );
    println!(
        "block scale     {} ({} byte{}), value bits mask 0x{:x}, selector bits mask 0x{:x}",
        f.scale_element.name,
        f.scale_bytes,
        if f.scale_bytes == 1 {
            ""
        } else {
            "s, little-endian"
        },
        f.value_mask,
        f.selector_mask
    );
    println!(
        "scale range     largest {} ; reference rounding {:?}",
        quant::max_scale_value(&f),
        f.scale_rounding
    );
    println!(
        "tensor scale    {}",
        if f.tensor_scale {
            "FP32 (decode direction)"
        } else {
            "none"
        }
    );
    let profiles: Vec<&str> = Profile::for_format(&f).iter().map(|p| p.name()).collect();
    println!("profiles        {}", profiles.join(", "));
    for p in Profile::for_format(&f) {
        println!("  {:<13} checked against: {}", p.name(), p.evidence());
    }
    println!();
    for (gi, g) in f.grids.iter().enumerate() {
        let sel = f.selector_bits_of_grid.get(gi).copied().unwrap_or(0);
        println!(
            "grid {gi}: {} ({}); maximum maps to {}; ties {:?}; selector bits 0x{sel:02x}",
            g.name,
            g.derivation,
            g.target_value(),
            g.ties
        );
        for row in 0..2 {
            let cells: Vec<String> = (row * 8..row * 8 + 8)
                .map(|c| {
                    if g.is_valid(c as u8) {
                        format!("{:x}:{:>9}", c, g.value(c as u8))
                    } else {
                        format!("{c:x}:  invalid")
                    }
                })
                .collect();
            println!("  {}", cells.join(" "));
        }
    }
    if f.scale_bytes == 1 && f.selector_mask != 0 {
        let invalid = f.selector_of_byte.iter().filter(|&&g| g < 0).count();
        println!();
        println!(
            "{invalid} of 256 scale byte values carry an invalid selector (decode rejects them)"
        );
    }
    println!();
    println!("provenance:");
    for line in f.provenance.lines() {
        println!("  {line}");
    }
    Ok(ExitCode::SUCCESS)
}
