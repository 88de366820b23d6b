//! `config`: the effective configuration as a record (`config.max_strlen`), fixed when the
//! script is compiled, so each field is a constant.

use super::Builtin;
use crate::codegen::{FnGen, Val};
use crate::diag::Result;
use crate::program::{FieldType, StackMode};
use crate::sema::{MissingProbes, Options, Type};

enum Entry {
    Bool(bool),
    Int(u64),
    Str(String),
}

/// The keys in bpftrace's order: booleans, integers, then strings.
fn entries(o: &Options) -> Vec<(&'static str, Entry)> {
    use Entry::*;
    let stack_mode = match o.stack_mode {
        StackMode::Bpftrace => "bpftrace",
        StackMode::Perf => "perf",
        StackMode::Raw => "raw",
        StackMode::BuildId => "build_id",
    };
    let missing = match o.missing_probes {
        MissingProbes::Error => "error",
        MissingProbes::Warn => "warn",
        MissingProbes::Ignore => "ignore",
    };
    vec![
        ("cpp_demangle", Bool(true)),
        ("lazy_symbolication", Bool(true)),
        ("print_maps_on_exit", Bool(o.print_maps_on_exit)),
        ("use_blazesym", Bool(true)),
        ("show_debug_info", Bool(true)),
        ("log_size", Int(1_000_000)),
        ("max_bpf_progs", Int(o.max_bpf_progs as u64)),
        ("max_cat_bytes", Int(o.output.max_cat_bytes)),
        ("max_map_keys", Int(o.max_map_keys as u64)),
        ("max_probes", Int(o.max_probes as u64)),
        ("max_strlen", Int(o.strlen as u64)),
        ("on_stack_limit", Int(o.on_stack_limit as u64)),
        ("perf_rb_pages", Int(o.ring_pages() as u64)),
        ("str_trunc_trailer", Str(o.output.str_trunc_trailer.clone())),
        ("unstable_import_statement", Str("error".into())),
        ("unstable_tseries", Str("warn".into())),
        ("unstable_typeinfo", Str(o.unstable_typeinfo.clone())),
        ("unstable_dw_ustack", Str("warn".into())),
        ("license", Str(o.license.clone())),
        ("missing_probes", Str(missing.into())),
        ("stack_mode", Str(stack_mode.into())),
    ]
}

fn record_type(o: &Options) -> Type {
    let (names, types) = entries(o)
        .into_iter()
        .map(|(n, e)| {
            let t = match e {
                Entry::Bool(_) => Type::Bool,
                Entry::Int(_) => Type::UINT,
                Entry::Str(s) => Type::Str {
                    size: s.len() as u32 + 1,
                },
            };
            (n.to_string(), t)
        })
        .unzip();
    Type::Record(names, types)
}

pub static ALL: &[Builtin] = &[Builtin {
    name: "config",
    ty: |ck, _| Ok(record_type(ck.options())),
    gen: |g: &mut FnGen, _| {
        let Some(FieldType::Record(names, types)) = record_type(&g.ck.options).field() else {
            unreachable!("a record of plain values")
        };
        let buf = g.stack(FieldType::Tuple(types.clone()).size(), "config");
        let offsets = FieldType::offsets(&types);
        for ((_, e), (off, f)) in entries(&g.ck.options)
            .into_iter()
            .zip(offsets.iter().zip(&types))
        {
            let v: Result<Val> = Ok(match e {
                Entry::Bool(b) => Val::Int(g.i64(b as u64)),
                Entry::Int(n) => Val::Int(g.i64(n)),
                Entry::Str(s) => g.str_const(s.as_bytes()),
            });
            g.store_field(g.gep(buf, *off as u64), v?, f);
        }
        Ok(Val::Record(buf, names, types))
    },
}];
