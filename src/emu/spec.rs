//! The arithmetic-model spec files `spec/mma/<arch>.yaml`, embedded and parsed at first use.
//!
//! Each file lists instruction *families*; a family's `name` may hold placeholders that the
//! loader expands: `{a}`/`{b}` from `types` (explicit pairs) or `type_set` (every ordered
//! pair), `{k}` from `ks`, `{block}`/`{scale}`/`{vec}` from `scales` (`[block, format]` pairs;
//! `vec` is PTX's `scale_vec` spelling, 2X for 32-element blocks and 4X for 16).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::value::{Format, Rounding};
use super::EmuError;

// `SPEC_FILES`: every `spec/mma/*.yaml`, listed by build.rs from the directory (a new file
// cannot be forgotten), embedded with include_str!.
include!(concat!(env!("OUT_DIR"), "/mma_spec_files.rs"));

// `HARDWARE_EVIDENCE`: the case files of real GPUs (vectors/mma/hopper-h200, vectors/mma/km)
// that exercise each instruction, listed by build.rs.
include!(concat!(env!("OUT_DIR"), "/mma_evidence.rs"));

/// The checked-in case files recorded on real GPUs that exercise instruction `id`
/// (`<arch>/<name>`); empty when the model has no hardware evidence in this repository.
pub fn hardware_evidence(id: &str) -> &'static [&'static str] {
    HARDWARE_EVIDENCE
        .binary_search_by(|(i, _)| (*i).cmp(id))
        .map_or(&[], |k| HARDWARE_EVIDENCE[k].1)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchFile {
    arch: String,
    display: String,
    provenance: String,
    instructions: Vec<FamilySpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FamilySpec {
    /// Spanned: errors about a family name its line.
    name: serde_saphyr::Spanned<String>,
    model: String,
    #[serde(default)]
    a: Option<String>,
    #[serde(default)]
    b: Option<String>,
    #[serde(default)]
    types: Option<Vec<[String; 2]>>,
    #[serde(default)]
    type_set: Option<Vec<String>>,
    #[serde(default)]
    k: Option<u32>,
    #[serde(default)]
    ks: Option<Vec<u32>>,
    l_max: u32,
    #[serde(rename = "F")]
    f: u32,
    rounding: String,
    e_zero: i32,
    #[serde(default)]
    scale: Option<String>,
    #[serde(default)]
    block: Option<u32>,
    #[serde(default)]
    scales: Option<Vec<(u32, String)>>,
    #[serde(default)]
    group: Option<u32>,
    #[serde(default)]
    convert: Option<String>,
    #[serde(default)]
    chunk_pattern: Option<Vec<u32>>,
    #[serde(default)]
    c_path: Option<String>,
    source: String,
    #[serde(default)]
    provenance: Option<String>,
}

/// How C enters an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CPath {
    /// C is a term of the first fused dot-product-add (MMA-Sim's models).
    Fused,
    /// The fused chain starts from +0 and C is added afterwards by one FP32 add (RNE).
    Fp32Add,
    /// The same with f16 accumulators: C is added afterwards by one FP16 add (RNE).
    Fp16Add,
}

/// Which fused dot-product-add an instruction uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Model {
    /// Truncated FDPA (unscaled types).
    TFdpa,
    /// Scaled FDPA: one scale per operand per `block` elements (`kind::mxf8f6f4`).
    StFdpa,
    /// Group-scaled FDPA: groups of `group` elements, scales per `block` (`kind::mxf4*`).
    GstFdpa,
}

/// One architecture's spec.
#[derive(Clone, Debug)]
pub struct Arch {
    /// Short name used in case files (`hopper`, `blackwell-sm100`, ...).
    pub name: String,
    /// Human-readable name.
    pub display: String,
    /// Where the numbers come from.
    pub provenance: String,
}

/// One instruction with its arithmetic model, fully expanded.
#[derive(Clone, Debug)]
pub struct Instruction {
    /// Architecture short name.
    pub arch: String,
    /// PTX spelling (without the architecture).
    pub name: String,
    /// The FDPA model.
    pub model: Model,
    /// A's element format.
    pub a: Format,
    /// B's element format.
    pub b: Format,
    /// The instruction's K; a case may chain several instructions (K a multiple of this).
    pub k: u32,
    /// Elements fused per FDPA; longer K is chained in chunks of this.
    pub l_max: u32,
    /// Fraction bits kept below the alignment exponent.
    pub f: u32,
    /// Output conversion.
    pub rounding: Rounding,
    /// Exponent of zero terms.
    pub e_zero: i32,
    /// Scale format (block-scaled kinds only).
    pub scale: Option<Format>,
    /// Elements per scale (block-scaled kinds only).
    pub block: u32,
    /// GST-FDPA group size.
    pub group: u32,
    /// Operands are first converted (exactly) to this format, whose subnormal exponent then
    /// sets their alignment exponents (e.g. FP8 turned into FP16 before an FP16 MMA).
    pub convert: Option<Format>,
    /// Element `k` of each instruction goes to chunk `chunk_pattern[k % len]`; chunks are
    /// fused in ascending order. Empty: consecutive chunks of `l_max`.
    pub chunk_pattern: Vec<u32>,
    /// How C enters.
    pub c_path: CPath,
    /// `mmasim-2.1.1`, `hardware`, `provisional`, ...
    pub source: String,
    /// Family-level provenance note, if any.
    pub provenance: Option<String>,
}

impl Instruction {
    /// `<arch>/<name>`, the token used in case files.
    pub fn id(&self) -> String {
        format!("{}/{}", self.arch, self.name)
    }
}

/// Every architecture and instruction of the embedded spec files.
#[derive(Debug)]
pub struct Registry {
    /// Architectures in file order.
    pub arches: Vec<Arch>,
    /// Instructions in file order.
    pub instructions: Vec<Instruction>,
    index: HashMap<String, usize>,
}

impl Registry {
    /// Looks an instruction up by its case-file token `<arch>/<name>`.
    pub fn get(&self, id: &str) -> Option<&Instruction> {
        self.index.get(id).map(|&i| &self.instructions[i])
    }
}

/// The registry parsed from the embedded spec files (parsed once).
pub fn registry() -> Result<&'static Registry, EmuError> {
    static REG: OnceLock<Result<Registry, EmuError>> = OnceLock::new();
    REG.get_or_init(|| parse_all(&SPEC_FILES))
        .as_ref()
        .map_err(Clone::clone)
}

/// Parses a set of spec files (exposed for tests and for user-supplied specs).
pub fn parse_all(files: &[(&str, &str)]) -> Result<Registry, EmuError> {
    let mut reg = Registry {
        arches: Vec::new(),
        instructions: Vec::new(),
        index: HashMap::new(),
    };
    for (file, text) in files {
        let parsed: ArchFile =
            serde_saphyr::from_str(text).map_err(|e| EmuError::Spec(format!("{file}: {e}")))?;
        for fam in &parsed.instructions {
            for ins in expand(&parsed.arch, fam).map_err(|e| {
                EmuError::Spec(format!(
                    "{file}:{}: {}: {e}",
                    fam.name.referenced.line(),
                    fam.name.value
                ))
            })? {
                let id = ins.id();
                if reg
                    .index
                    .insert(id.clone(), reg.instructions.len())
                    .is_some()
                {
                    return Err(EmuError::Spec(format!(
                        "{file}: instruction {id} defined twice"
                    )));
                }
                reg.instructions.push(ins);
            }
        }
        reg.arches.push(Arch {
            name: parsed.arch,
            display: parsed.display,
            provenance: parsed.provenance,
        });
    }
    Ok(reg)
}

fn format(name: &str) -> Result<Format, String> {
    Format::from_name(name).ok_or_else(|| format!("unknown format `{name}`"))
}

fn expand(arch: &str, fam: &FamilySpec) -> Result<Vec<Instruction>, String> {
    let model = match fam.model.as_str() {
        "t-fdpa" => Model::TFdpa,
        "st-fdpa" => Model::StFdpa,
        "gst-fdpa" => Model::GstFdpa,
        m => {
            return Err(format!(
                "unknown model `{m}` (expected t-fdpa, st-fdpa or gst-fdpa)"
            ))
        }
    };
    let rounding = Rounding::from_name(&fam.rounding).ok_or_else(|| {
        format!(
            "unknown rounding `{}` (rz-fp32, rz-e8m13, rne-fp16)",
            fam.rounding
        )
    })?;
    let pairs: Vec<(String, String)> = match (&fam.types, &fam.type_set, &fam.a, &fam.b) {
        (Some(t), None, None, None) => t.iter().map(|[a, b]| (a.clone(), b.clone())).collect(),
        (None, Some(s), None, None) => s
            .iter()
            .flat_map(|a| s.iter().map(move |b| (a.clone(), b.clone())))
            .collect(),
        (None, None, Some(a), Some(b)) => vec![(a.clone(), b.clone())],
        _ => return Err("give exactly one of `types`, `type_set`, or `a` with `b`".into()),
    };
    let ks: Vec<u32> = match (&fam.ks, fam.k) {
        (Some(ks), None) => ks.clone(),
        (None, Some(k)) => vec![k],
        _ => return Err("give exactly one of `k` and `ks`".into()),
    };
    let scales: Vec<(u32, Option<String>)> = match (&fam.scales, fam.block, &fam.scale) {
        (Some(s), None, None) => s.iter().map(|(b, f)| (*b, Some(f.clone()))).collect(),
        (None, b, s) => vec![(b.unwrap_or(0), s.clone())],
        _ => return Err("`scales` excludes `block` and `scale`".into()),
    };
    let mut out = Vec::new();
    for (a, b) in &pairs {
        for &k in &ks {
            for (block, scale) in &scales {
                let name = fam
                    .name
                    .value
                    .replace("{a}", a)
                    .replace("{b}", b)
                    .replace("{k}", &k.to_string())
                    .replace("{block}", &block.to_string())
                    .replace("{scale}", scale.as_deref().unwrap_or(""))
                    .replace("{vec}", if *block == 16 { "4X" } else { "2X" });
                let scale = scale.as_deref().map(format).transpose()?;
                let ins = Instruction {
                    arch: arch.to_string(),
                    name,
                    model,
                    a: format(a)?,
                    b: format(b)?,
                    k,
                    l_max: fam.l_max,
                    f: fam.f,
                    rounding,
                    e_zero: fam.e_zero,
                    scale,
                    block: *block,
                    group: fam.group.unwrap_or(0),
                    convert: fam.convert.as_deref().map(format).transpose()?,
                    chunk_pattern: fam.chunk_pattern.clone().unwrap_or_default(),
                    c_path: match fam.c_path.as_deref() {
                        None | Some("fused") => CPath::Fused,
                        Some("fp32-add") => CPath::Fp32Add,
                        Some("fp16-add") => CPath::Fp16Add,
                        Some(x) => {
                            return Err(format!("unknown c_path `{x}` (fused, fp32-add, fp16-add)"))
                        }
                    },
                    source: fam.source.clone(),
                    provenance: fam.provenance.clone(),
                };
                validate(&ins)?;
                out.push(ins);
            }
        }
    }
    Ok(out)
}

fn validate(i: &Instruction) -> Result<(), String> {
    if i.k == 0 || i.l_max == 0 || !i.k.is_multiple_of(i.l_max.min(i.k)) {
        return Err(format!(
            "k = {} must be a positive multiple of l_max = {}",
            i.k, i.l_max
        ));
    }
    if i.f > 40 {
        return Err(format!(
            "F = {} is larger than the integer path supports (40)",
            i.f
        ));
    }
    if !i.chunk_pattern.is_empty() || i.convert.is_some() || i.c_path != CPath::Fused {
        if i.model != Model::TFdpa {
            return Err("convert, chunk_pattern and c_path apply to t-fdpa only".into());
        }
        // The separate add is in the accumulator's own format.
        let add_ok = match i.c_path {
            CPath::Fused => true,
            CPath::Fp32Add => !i.rounding.is_f16(),
            CPath::Fp16Add => i.rounding.is_f16(),
        };
        if !add_ok {
            return Err(format!(
                "c_path {:?} does not match the {} accumulator",
                i.c_path,
                if i.rounding.is_f16() { "f16" } else { "f32" }
            ));
        }
        if let Some(&bad) = i
            .chunk_pattern
            .iter()
            .find(|&&c| c as usize >= i.chunk_pattern.len())
        {
            return Err(format!("chunk_pattern entry {bad} is not a chunk index"));
        }
    }
    match i.model {
        Model::TFdpa if i.scale.is_some() => Err("t-fdpa takes no scale".into()),
        Model::StFdpa | Model::GstFdpa if i.scale.is_none() || i.block == 0 => {
            Err("block-scaled models need `scale` and `block`".into())
        }
        Model::StFdpa if i.l_max != i.block => Err("st-fdpa needs l_max == block".into()),
        Model::GstFdpa
            if i.a != Format::E2M1
                || i.b != Format::E2M1
                || i.group == 0
                || !i.block.is_multiple_of(i.group)
                || !i.l_max.is_multiple_of(i.block) =>
        {
            Err("gst-fdpa needs e2m1 operands, group dividing block, block dividing l_max".into())
        }
        _ => Ok(()),
    }
}
