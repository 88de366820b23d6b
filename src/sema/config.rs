//! `config = { … }` and `let @m = hash(N);`: script-level settings, checked here.

use std::collections::HashMap;

use super::Options;
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{ConfigEntry, ConfigValue, MapDecl};

/// bpftrace's configuration options. Those spyglass acts on are applied below; the rest are
/// accepted so scripts written for bpftrace keep working.
const KNOWN: &[&str] = &[
    "cache_user_symbols",
    "cpp_demangle",
    "lazy_symbolication",
    "license",
    "log_size",
    "max_bpf_progs",
    "max_cat_bytes",
    "max_map_keys",
    "max_probes",
    "max_strlen",
    "missing_probes",
    "on_stack_limit",
    "perf_rb_pages",
    "print_maps_on_exit",
    "show_debug_info",
    "use_blazesym",
    "stack_mode",
    "str_trunc_trailer",
    "unstable_tseries",
    "unstable_dw_ustack",
    "unstable_typeinfo",
    "unstable_import_statement",
    // Deprecated, accepted and ignored, as bpftrace does.
    "unstable_macro",
    "unstable_map_decl",
    "unstable_addr",
    "unstable_import",
    "symbol_source",
    "max_ast_nodes",
    "max_type_res_iterations",
    "no_cpp_demangle",
];

/// Old names bpftrace still applies under their new ones.
const RENAMED: &[(&str, &str)] = &[
    ("strlen", "max_strlen"),
    ("cat_bytes_max", "max_cat_bytes"),
    ("map_keys_max", "max_map_keys"),
];

/// The largest `max_strlen`: scratch values are kmalloc'ed, and keys of that size
/// exhaust map memory long before.
pub const MAX_STRLEN: u64 = 1 << 20;

/// The ring buffer's default size in pages: 1 MiB, which holds ~30k printf records between
/// two reads, and whose creation (the kernel allocates and maps it all) stays a small part
/// of start-up.
pub const PERF_RB_PAGES: u32 = 256;

/// The ring of a script whose only records are run-time warnings (and `exit()`):
/// bpftrace's smallest, 256 KiB, 16 k warnings between two reads.
pub const WARNING_RB_PAGES: u32 = 64;

/// The ring of a script whose only record is `exit()` (or `unwatch`).
pub const CONTROL_RB_PAGES: u32 = 4;

/// `perf_rb_pages` as the ring buffer takes it: the kernel wants a power of two; 1 GiB at
/// most.
pub fn rb_pages(pages: u64) -> u32 {
    pages.clamp(1, 1 << 18).next_power_of_two() as u32
}

pub fn apply(entries: &[ConfigEntry], opts: &mut Options) -> Result<()> {
    for e in entries {
        let key = e.key.to_ascii_lowercase();
        let key = key.strip_prefix("bpftrace_").unwrap_or(&key).to_string();
        let key = RENAMED
            .iter()
            .find(|(old, _)| *old == key)
            .map_or(key.clone(), |(_, new)| new.to_string());
        if !KNOWN.contains(&key.as_str()) {
            return Err(Diagnostic::error(
                format!("{}: not a known configuration option", e.key),
                e.span,
            )
            .with_label("unknown option"));
        }
        // The environment (BPFTRACE_*) wins over the script, as in bpftrace.
        if std::env::var_os(format!("BPFTRACE_{}", key.to_ascii_uppercase())).is_some() {
            continue;
        }
        let int = || match &e.value {
            ConfigValue::Int(v) => Ok(*v),
            _ => Err(Diagnostic::error(
                format!("`{}` takes an integer", e.key),
                e.span,
            )),
        };
        match key.as_str() {
            "print_maps_on_exit" => {
                opts.print_maps_on_exit = match &e.value {
                    ConfigValue::Int(v) => *v != 0,
                    ConfigValue::Word(w) | ConfigValue::Str(w) => {
                        !matches!(w.as_str(), "false" | "0")
                    }
                }
            }
            "max_map_keys" => opts.max_map_keys = int()?.clamp(1, u32::MAX as u64) as u32,
            "max_probes" => opts.max_probes = int()?.clamp(1, u32::MAX as u64) as u32,
            // Large strings live in scratch memory; one must still fit in a map value.
            "max_strlen" => opts.strlen = int()?.clamp(1, MAX_STRLEN) as u32,
            "on_stack_limit" => opts.on_stack_limit = int()?.min(256) as u32,
            "perf_rb_pages" => opts.output.perf_rb_pages = Some(rb_pages(int()?)),
            "license" => opts.license = license(e)?,
            "stack_mode" => {
                opts.stack_mode = word(e).as_deref().and_then(stack_mode).ok_or_else(|| {
                    Diagnostic::error(
                        "`stack_mode` is one of bpftrace, perf, raw, build_id",
                        e.span,
                    )
                })?
            }
            "str_trunc_trailer" => {
                opts.output.str_trunc_trailer = match &e.value {
                    ConfigValue::Word(w) | ConfigValue::Str(w) => w.clone(),
                    ConfigValue::Int(v) => v.to_string(),
                }
            }
            "max_cat_bytes" => opts.output.max_cat_bytes = int()?,
            "max_bpf_progs" => opts.max_bpf_progs = int()?.clamp(1, u32::MAX as u64) as u32,
            "unstable_typeinfo" => {
                opts.unstable_typeinfo = word(e)
                    .as_deref()
                    .and_then(unstable_level)
                    .ok_or_else(|| {
                        Diagnostic::error(
                            "`unstable_typeinfo` is one of enable, warn, error",
                            e.span,
                        )
                    })?
                    .into()
            }
            "missing_probes" => {
                let v = match &e.value {
                    ConfigValue::Word(w) | ConfigValue::Str(w) => super::MissingProbes::parse(w),
                    ConfigValue::Int(_) => None,
                };
                opts.missing_probes = v.ok_or_else(|| {
                    Diagnostic::error("`missing_probes` is one of error, warn, ignore", e.span)
                })?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// An unstable feature's setting, as bpftrace spells it (booleans too).
pub fn unstable_level(v: &str) -> Option<&'static str> {
    Some(match v {
        "enable" | "true" | "1" => "enable",
        "warn" => "warn",
        "error" | "false" | "0" => "error",
        _ => return None,
    })
}

fn word(e: &ConfigEntry) -> Option<String> {
    match &e.value {
        ConfigValue::Word(w) | ConfigValue::Str(w) => Some(w.clone()),
        ConfigValue::Int(_) => None,
    }
}

pub fn stack_mode(v: &str) -> Option<crate::program::StackMode> {
    use crate::program::StackMode;
    Some(match v {
        "bpftrace" => StackMode::Bpftrace,
        "perf" => StackMode::Perf,
        "raw" => StackMode::Raw,
        "build_id" => StackMode::BuildId,
        _ => return None,
    })
}

/// The licenses the kernel counts as GPL-compatible: tracing helpers are GPL-only, so any
/// other license would only fail later, at load, with a less helpful message.
const LICENSES: &[&str] = &[
    "Dual MIT/GPL",
    "Dual BSD/GPL",
    "Dual MPL/GPL",
    "GPL and additional rights",
    "GPL v2",
    "GPL",
];

fn license(e: &ConfigEntry) -> Result<String> {
    let (ConfigValue::Word(v) | ConfigValue::Str(v)) = &e.value else {
        return Err(Diagnostic::error("`license` takes a string", e.span));
    };
    if LICENSES.contains(&v.as_str()) {
        return Ok(v.clone());
    }
    Err(Diagnostic::error(
        format!(
            "Invalid value for license. Found: {v}. Valid values: {}",
            LICENSES.join(", ")
        ),
        e.span,
    )
    .with_label("not a GPL-compatible license"))
}

pub fn map_decls(decls: &[MapDecl]) -> Result<HashMap<String, MapDecl>> {
    let mut out = HashMap::new();
    for d in decls {
        if !["hash", "lruhash", "percpuhash", "percpulruhash"].contains(&d.kind.as_str()) {
            return Err(
                Diagnostic::error(format!("unknown map type `{}`", d.kind), d.span).with_note(
                    "declare maps as hash(N), lruhash(N), percpuhash(N) or percpulruhash(N)",
                ),
            );
        }
        if d.size == 0 || d.size > u32::MAX as u64 {
            return Err(Diagnostic::error(
                "a map needs between 1 and 4294967295 entries",
                d.span,
            ));
        }
        if out.insert(d.name.clone(), d.clone()).is_some() {
            return Err(Diagnostic::error(
                format!("map `{}` is declared twice", d.name),
                d.span,
            ));
        }
    }
    Ok(out)
}
