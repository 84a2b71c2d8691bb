//! `gridgames formats`: the built-in formats, element formats, policies and profiles.
use std::process::ExitCode;

use gridgames::element::Policy;
use gridgames::quant::Profile;
use gridgames::tables;

#[derive(clap::Args)]
pub struct Args {}

/// Storage bits per value: 4 per code plus the scale bits spread over the group.
pub fn bits_per_value(f: &gridgames::format::Format) -> f64 {
    4.0 + (f.scale_bytes * 8) as f64 / f.group_size as f64
}

pub fn run(_args: &Args) -> Result<ExitCode, String> {
    println!("format         group grids   scale tensor  bits/val  profiles");
    for f in tables::FORMATS {
        let profiles: Vec<&str> = Profile::for_format(f).iter().map(|p| p.name()).collect();
        println!(
            "{:<14} {:>5} {:>5} {:>7} {:>6} {:>9.3}  {}",
            f.name,
            f.group_size,
            f.grids.len(),
            f.scale_element.name,
            if f.tensor_scale { "f32" } else { "-" },
            bits_per_value(f),
            profiles.join(", ")
        );
    }
    println!();
    let elements: Vec<&str> = tables::ELEMENTS.iter().map(|e| e.name).collect();
    println!("elements: {}", elements.join(", "));
    let policies: Vec<&str> = Policy::ALL.iter().map(|p| p.name()).collect();
    println!(
        "element policies (convert --policy): {}",
        policies.join(", ")
    );
    println!();
    println!("profiles, and what each is checked against:");
    for p in Profile::ALL {
        println!("  {:<14} {}", p.name(), p.evidence());
    }
    println!("any format may also be given as a path to a spec .yaml file (see spec/README.md)");
    Ok(ExitCode::SUCCESS)
}
