//! Program artifacts (`spyglass build script.bt -o script.spy`): a compiled script in one
//! file, run later by `spyglass script.spy` without parsing, checking or LLVM.
//!
//! The encoding, format 3, all integers little-endian:
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `SPYGART\0` |
//! | 4 | format version (`FORMAT`) |
//! | 4 | CRC-32 of everything after the header |
//! | 8 | length of the description |
//! | … | the description: JSON `{"spyglass": version, "program": CompiledProgram, "source": {name, text}}`, the program's `elf` empty |
//! | … | the BPF ELF object, to the end of the file |
//!
//! A spyglass reads every format up to its own and refuses a newer one, naming both
//! versions. Within a format, fields added to the description have defaults, so an older
//! artifact still reads; a description that does not decode is refused the same way. A new
//! format is needed when an older runtime would run a newer artifact wrongly rather than
//! fail: format 2 added parameter slots (`CompiledProgram::params`), which a format-1
//! runtime would leave zero; format 3 moved the records out of the kernel's ring buffer
//! into their own (`CompiledProgram::records`), where a format-2 runtime would not look.
//! The layout is otherwise format 1's. Value kinds (`kinds`:
//! `ksym`, `ntop`, `strftime`, …) are written by name (`{"Kind": {"kind": "inet"}}`); a
//! description written before they were, which holds one, does not decode and is refused.

use serde::{Deserialize, Serialize};

use crate::probes::AttachPoint;
use crate::program::{CompiledProgram, KernelId};

pub const MAGIC: &[u8; 8] = b"SPYGART\0";
/// The newest format this spyglass writes and reads.
pub const FORMAT: u32 = 3;
const HEADER: usize = 24;

#[derive(Serialize, Deserialize)]
struct Description {
    /// The spyglass version that built it, for messages.
    spyglass: String,
    program: CompiledProgram,
    /// The script, so that run-time errors quote the line they are about.
    #[serde(default)]
    source: Option<Source>,
}

/// A script's file name (or `stdin`) and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// Whether `bytes` (a file's start is enough) is an artifact.
pub fn is_artifact(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// The artifact of `program`, compiled from `source`.
pub fn encode(program: &CompiledProgram, source: Option<Source>) -> Vec<u8> {
    let description = Description {
        spyglass: env!("CARGO_PKG_VERSION").to_string(),
        program: CompiledProgram {
            elf: vec![],
            ..program.clone()
        },
        source,
    };
    let meta = serde_json::to_vec(&description).expect("a program description serializes");
    let mut body = Vec::with_capacity(8 + meta.len() + program.elf.len());
    body.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    body.extend_from_slice(&meta);
    body.extend_from_slice(&program.elf);
    let mut out = Vec::with_capacity(16 + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&crc(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// The program in an artifact and its script; the error says what is wrong with it.
pub fn decode(bytes: &[u8]) -> Result<(CompiledProgram, Option<Source>), String> {
    if !is_artifact(bytes) {
        return Err("not a spyglass artifact".into());
    }
    if bytes.len() < HEADER {
        return Err("the artifact is truncated".into());
    }
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let format = word(8);
    let mine = env!("CARGO_PKG_VERSION");
    if format > FORMAT {
        return Err(format!(
            "the artifact is in format {format}, newer than this spyglass (v{mine}) reads \
             (formats up to {FORMAT}); run it with a newer spyglass, or build it again with this one"
        ));
    }
    let body = &bytes[16..];
    if crc(body) != word(12) {
        return Err("the artifact is damaged (its checksum does not match)".into());
    }
    let meta_len = u64::from_le_bytes(body[..8].try_into().expect("8 bytes")) as usize;
    let meta = body
        .get(8..8usize.saturating_add(meta_len))
        .ok_or("the artifact is truncated")?;
    let built_by = serde_json::from_slice::<serde_json::Value>(meta)
        .ok()
        .and_then(|v| v.get("spyglass")?.as_str().map(str::to_string))
        .unwrap_or_else(|| "an unknown version".into());
    let description: Description = serde_json::from_slice(meta).map_err(|e| {
        format!(
            "the artifact was built by spyglass v{built_by} and this spyglass (v{mine}) cannot \
             read its program description ({e}); build it again with this one"
        )
    })?;
    let mut program = description.program;
    program.elf = body[8 + meta_len..].to_vec();
    Ok((program, description.source))
}

/// The running kernel, its BTF's checksum remembered per boot (≈ 0.5 ms of checksum over
/// the mapped file; reading it instead took 1,300 read(2) calls of 4 KiB, ≈ 4.6 ms).
pub fn running_kernel() -> Option<KernelId> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let btf_crc = crate::user_cache::kernel_fact("vmlinux.btf_crc", || {
        crate::probes::btf_scan::vmlinux()
            .map(|b| crc(b) as u64)
            .or_else(|| {
                std::fs::read("/sys/kernel/btf/vmlinux")
                    .ok()
                    .map(|b| crc(&b) as u64)
            })
    })? as u32;
    Some(KernelId {
        release: release.trim().to_string(),
        btf_crc,
    })
}

/// The kernel a build compiles for: the running one, or the types `BPFTRACE_BTF` names.
pub fn target_kernel() -> Option<KernelId> {
    let Some(path) = crate::probes::btf::types_file() else {
        return running_kernel();
    };
    let data = std::fs::read(&path).ok()?;
    Some(KernelId {
        release: format!("of {}", path.display()),
        btf_crc: crc(&data),
    })
}

/// A warning when `program` was built against kernel types that differ from this kernel's
/// and it uses some of them at the build kernel's layout (`fixed_layouts`): field reads
/// through CO-RE relocations are fixed up by libbpf at load, those are not.
pub fn kernel_warning(name: &str, program: &CompiledProgram) -> Option<String> {
    let built = program.built_on.as_ref()?;
    if program.fixed_layouts.is_empty() {
        return None;
    }
    let here = running_kernel()?;
    (built.btf_crc != here.btf_crc).then(|| {
        let mut what: Vec<&str> = program
            .fixed_layouts
            .iter()
            .map(String::as_str)
            .take(3)
            .collect();
        if program.fixed_layouts.len() > 3 {
            what.push("…");
        }
        format!(
            "WARNING: {name} was built for kernel {} and this is {}, whose types differ: it \
             uses {} as laid out there (sizes needed while compiling and bitfields of struct \
             copies are not relocated), which may be wrong here; build it on this kernel to be \
             sure",
            built.release,
            here.release,
            what.join(", ")
        )
    })
}

/// What identifies a build of the binary at `path`: its GNU build ID, else a checksum of
/// its bytes.
pub fn binary_identity(path: &str) -> Option<String> {
    use object::Object;
    let data = std::fs::read(path).ok()?;
    let id = object::File::parse(&*data)
        .ok()
        .and_then(|f| f.build_id().ok().flatten().map(|b| b.to_vec()));
    Some(match id {
        Some(id) if !id.is_empty() => {
            let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
            format!("build ID {hex}")
        }
        _ => format!("checksum {:08x}", crc(&data)),
    })
}

/// The binaries `program`'s uprobes and USDT probes attach to, with their identities
/// here (for `CompiledProgram::binaries`).
pub fn binaries(program: &CompiledProgram) -> std::collections::BTreeMap<String, String> {
    program
        .probes
        .iter()
        .flat_map(|p| &p.attach)
        .filter_map(|ap| match ap {
            AttachPoint::Uprobe { path, .. } | AttachPoint::Usdt { path, .. } => Some(path),
            _ => None,
        })
        .filter_map(|path| Some((path.clone(), binary_identity(path)?)))
        .collect()
}

/// Refuses a program built against another build of a binary it probes, where that
/// matters: a USDT probe's arguments and address, a uprobe at an address or a source line,
/// or a uprobe whose `args` come from DWARF. A uprobe on a function by name is found again
/// when it attaches, so any build will do.
pub fn check_binaries(program: &CompiledProgram) -> Result<(), crate::diag::Diagnostic> {
    for p in &program.probes {
        for ap in &p.attach {
            let (path, why) = match ap {
                AttachPoint::Usdt { path, .. } => (
                    path,
                    "its address and argument locations come from that build",
                ),
                AttachPoint::Uprobe {
                    path,
                    func,
                    offset,
                    source,
                    ..
                } if func.is_empty() || *offset != 0 || source.is_some() => {
                    (path, "its address comes from that build")
                }
                AttachPoint::Uprobe { path, .. } if p.reads_args => {
                    (path, "its `args` are placed as that build's DWARF says")
                }
                _ => continue,
            };
            let Some(built) = program.binaries.get(path) else {
                continue;
            };
            let here = binary_identity(path);
            if here.as_ref() != Some(built) {
                let here = here.unwrap_or_else(|| "missing".into());
                return Err(crate::diag::Diagnostic::error(
                    format!(
                        "{}: {path} is not the build this artifact was made for ({built} there, \
                         {here} here), and {why}",
                        ap.name()
                    ),
                    p.span,
                )
                .with_note("build the artifact against this binary"));
            }
        }
    }
    Ok(())
}

/// Attach points whose `args` the kernel lays out (a tracepoint's record, a raw
/// tracepoint's or a kernel function's parameters, an iterator's context): the key their
/// layout is recorded under, and whether it is recorded even when the block never reads
/// `args` (a tracepoint's record, as before these were generalised).
fn layout_key(ap: &AttachPoint) -> Option<(String, bool)> {
    match ap {
        AttachPoint::Tracepoint { category, name } => Some((format!("{category}:{name}"), true)),
        AttachPoint::RawTracepoint { .. }
        | AttachPoint::Fentry { .. }
        | AttachPoint::Iter { .. } => Some((ap.name(), false)),
        _ => None,
    }
}

/// `ap`'s `args` on this machine: (field, offset, size).
fn arg_layout(ap: &AttachPoint) -> Option<Vec<(String, u32, u32)>> {
    let fields = crate::probes::of(ap).args(ap).ok()??;
    Some(
        fields
            .into_iter()
            .map(|f| (f.name, f.offset, f.size))
            .collect(),
    )
}

/// The layouts of the `args` of the probes of `program`, on this machine (for
/// `CompiledProgram::tracepoint_layouts`).
pub fn tracepoint_layouts(
    program: &CompiledProgram,
) -> std::collections::BTreeMap<String, Vec<(String, u32, u32)>> {
    let mut out = std::collections::BTreeMap::new();
    for p in &program.probes {
        for ap in &p.attach {
            let Some((key, always)) = layout_key(ap) else {
                continue;
            };
            if !always && !p.reads_args {
                continue;
            }
            if let Some(layout) = arg_layout(ap) {
                out.insert(key, layout);
            }
        }
    }
    out
}

/// Refuses a program built where the `args` of one of its probes were laid out
/// differently (a tracepoint's record, a raw tracepoint's parameters): its reads would land
/// on other fields here. Names the probe and the field.
pub fn check_layouts(program: &CompiledProgram) -> Result<(), crate::diag::Diagnostic> {
    for p in &program.probes {
        for ap in &p.attach {
            let Some((key, _)) = layout_key(ap) else {
                continue;
            };
            let Some(built) = program.tracepoint_layouts.get(&key) else {
                continue;
            };
            // A probe missing here is reported when attaching.
            let Some(here) = arg_layout(ap) else {
                continue;
            };
            for (field, offset, size) in built {
                let now = here.iter().find(|f| &f.0 == field);
                let moved = match now {
                    None => Some("is missing here".to_string()),
                    Some(f) if (f.1, f.2) != (*offset, *size) => Some(format!(
                        "is at byte {} ({} bytes) here, at byte {offset} ({size} bytes) where it was built",
                        f.1, f.2
                    )),
                    Some(_) => None,
                };
                if let Some(how) = moved {
                    return Err(crate::diag::Diagnostic::error(
                        format!("{}: field `{field}` {how}", ap.name()),
                        p.span,
                    )
                    .with_label("in this attach point")
                    .with_note(
                        "the artifact was built for another kernel; build it again on this one",
                    ));
                }
            }
        }
    }
    Ok(())
}

fn crc(b: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(b);
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program() -> CompiledProgram {
        serde_json::from_str(
            r#"{"elf": [], "probes": [], "maps": [], "events": [], "ringbuf": "events"}"#,
        )
        .unwrap()
    }

    #[test]
    fn round_trips() {
        let mut p = program();
        p.elf = b"\x7fELF and the rest".to_vec();
        let source = Source {
            name: "x.bt".into(),
            text: "begin { }".into(),
        };
        let bytes = encode(&p, Some(source.clone()));
        assert!(is_artifact(&bytes));
        let (back, src) = decode(&bytes).unwrap();
        assert_eq!(back.elf, p.elf);
        assert_eq!(back.ringbuf, "events");
        assert_eq!(src, Some(source));
    }

    #[test]
    fn a_newer_format_is_refused_naming_both_versions() {
        let mut bytes = encode(&program(), None);
        bytes[8..12].copy_from_slice(&(FORMAT + 1).to_le_bytes());
        let e = decode(&bytes).unwrap_err();
        assert!(e.contains(&format!("format {}", FORMAT + 1)), "{e}");
        assert!(e.contains(env!("CARGO_PKG_VERSION")), "{e}");
    }

    /// Format 1 had no parameter slots and no CO-RE facts: it reads with none.
    #[test]
    fn an_older_format_still_reads() {
        let mut bytes = encode(&program(), None);
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        let (p, _) = decode(&bytes).unwrap();
        assert!(p.params.is_empty() && p.fixed_layouts.is_empty());
    }

    #[test]
    fn damage_and_truncation_are_refused() {
        let mut bytes = encode(&program(), None);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(decode(&bytes).unwrap_err().contains("damaged"));
        assert!(decode(&bytes[..12]).unwrap_err().contains("truncated"));
        assert!(decode(b"#!/usr/bin/env spyglass\n").is_err());
    }

    #[test]
    fn value_kinds_are_written_by_name() {
        let mut p = program();
        p.events.push(crate::program::EventSpec::Printf {
            fmt: "%s".into(),
            args: vec![crate::program::FieldType::Kind(
                crate::kinds::ValueKind::new(&crate::kinds::TIMESTAMP, "%H"),
            )],
        });
        let bytes = encode(&p, None);
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains(r#"{"Kind":{"kind":"timestamp","arg":"%H"}}"#),
            "{text}"
        );
        let (back, _) = decode(&bytes).unwrap();
        let crate::program::EventSpec::Printf { args, .. } = &back.events[0] else {
            panic!("{:?}", back.events)
        };
        assert_eq!(args[0].size(), 8);
        assert_eq!(format!("{:?}", args[0]), r#"Kind(timestamp("%H"))"#);
    }

    #[test]
    fn an_undecodable_description_names_the_builder() {
        let meta = br#"{"spyglass": "9.9.9", "program": {"probes": 7}}"#;
        let mut body = (meta.len() as u64).to_le_bytes().to_vec();
        body.extend_from_slice(meta);
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&FORMAT.to_le_bytes());
        bytes.extend_from_slice(&crc(&body).to_le_bytes());
        bytes.extend_from_slice(&body);
        let e = decode(&bytes).unwrap_err();
        assert!(
            e.contains("v9.9.9") && e.contains(env!("CARGO_PKG_VERSION")),
            "{e}"
        );
    }
}
