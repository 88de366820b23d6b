//! The catalogue of builtins and functions. Each entry keeps its type rule (sema's
//! `TypeRule`) and its lowering (codegen's `Lowering`) side by side in its file, and has
//! one row in `FUNCTIONS` or a builtin table; how the values they produce are printed lives
//! in `runtime::format` (the runtime must not depend on the compiler).
//!
//! This module sits above the compiler's stages: the parser, sema and codegen never name
//! it. The caller hands `STDLIB` to each (`parser::parse`, `sema::check`,
//! `codegen::compile`), which see it through their own traits (`tests/layers.rs`).

mod aggregations;
mod args;
pub(crate) mod async_out;
pub mod buf;
pub mod builtins;
mod bytes;
mod cgroup;
mod config;
mod control;
mod debugf;
mod errno;
pub mod getopt;
mod introspect;
mod join;
mod map_ops;
mod map_query;
mod meta;
mod misc;
mod names;
mod net;
mod output;
mod path;
mod process;
mod skb;
mod stacks;
mod strfuncs;
mod strings;
mod symbols;
#[cfg(target_arch = "x86_64")]
mod syscalls_x86_64;
pub mod sysinfo;
mod task;
mod textgen;
mod timefmt;
mod tseries;
mod users;

pub use crate::codegen::lowering::{BuiltinGen, Lowering, Lowerings};
pub use crate::sema::catalogue::{BuiltinType, Catalogue, TypeRule};

use crate::codegen::{FnGen, Val};
use crate::diag::Result;
use crate::parser::ast::Expr;
use crate::sema::CallCheck;
use crate::sema::Type;

/// A value builtin (`pid`, `comm`, …).
pub struct Builtin {
    pub name: &'static str,
    pub ty: BuiltinType,
    pub gen: BuiltinGen,
}

/// A function (`printf`, `str`, `count`, …): its type rule (sema's `TypeRule`) and its
/// lowering (codegen's `Lowering`), implemented side by side in its file.
pub trait Function: TypeRule + Lowering {}

impl<T: TypeRule + Lowering> Function for T {}

/// `pid()`, `cpu()`, …: every builtin can also be called with no arguments.
impl TypeRule for Builtin {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(0, 0)?;
        let span = c.span();
        (self.ty)(c.ck, span)
    }
}

impl Lowering for Builtin {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, call: &Expr, _: &[Expr]) -> Result<Val<'ctx>> {
        (self.gen)(g, call)
    }
}

pub fn builtin(name: &str) -> Option<&'static Builtin> {
    // bpftrace's own names for the builtins its stdlib wraps (`__builtin_cpu` is `cpu`);
    // `probe` stays as written, sema tracks its uses by name.
    let name = match name.strip_prefix("__builtin_") {
        Some(n) if n != "probe" => n,
        _ => name,
    };
    builtins::ALL
        .iter()
        .chain(args::ALL)
        .chain(task::ALL)
        .chain(config::ALL)
        .find(|b| b.name == name)
}

pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    builtins::ALL
        .iter()
        .chain(args::ALL)
        .chain(task::ALL)
        .chain(config::ALL)
        .map(|b| b.name)
}

/// Every function, by name: the one list `function()` and the suggestions for unknown
/// names read. A builtin that also takes arguments (`pid(curr_ns)`) is here too.
static FUNCTIONS: &[(&str, &(dyn Function + Sync))] = &[
    ("printf", &output::Printf),
    ("kstack", &stacks::Stack { user: false }),
    ("strftime", &timefmt::Strftime),
    ("ustack", &stacks::Stack { user: true }),
    ("sizeof", &introspect::Sizeof),
    ("offsetof", &introspect::Offsetof),
    ("container_of", &introspect::ContainerOf),
    ("path", &path::Path),
    ("socket_cookie", &path::SocketCookie),
    ("comptime", &meta::Comptime),
    ("skboutput", &skb::SkbOutput),
    ("typeof", &introspect::Typeof),
    ("print", &output::Print),
    ("time", &output::Time),
    ("str", &strings::Str),
    ("exit", &control::Exit),
    ("unwatch", &control::Unwatch),
    ("typeinfo", &introspect::Typeinfo),
    ("delete", &map_ops::Delete),
    ("clear", &map_ops::Clear),
    ("zero", &map_ops::Zero),
    ("count", &aggregations::Count),
    ("sum", &aggregations::Sum),
    ("avg", &aggregations::Avg),
    ("min", &aggregations::Min),
    ("max", &aggregations::Max),
    ("stats", &aggregations::Stats),
    ("hist", &aggregations::Hist),
    ("lhist", &aggregations::Lhist),
    ("tseries", &tseries::Tseries),
    ("buf", &buf::Buf),
    ("getopt", &getopt::Getopt),
    ("nsecs", &sysinfo::Nsecs),
    ("pid", &sysinfo::PidTid { tid: false }),
    ("tid", &sysinfo::PidTid { tid: true }),
    ("strlen", &strfuncs::Strlen),
    ("strncmp", &strfuncs::Strncmp),
    ("strcontains", &strfuncs::Strcontains),
    ("has_key", &map_query::HasKey),
    ("len", &map_query::Len),
    ("bswap", &misc::Bswap),
    ("kaddr", &misc::Kaddr),
    ("cat", &async_out::Cat),
    ("debugf", &debugf::Debugf),
    ("join", &join::Join),
    ("errorf", &async_out::Errorf),
    ("warnf", &async_out::Warnf),
    ("system", &async_out::System),
    ("strerror", &errno::Strerror),
    ("ntop", &net::Ntop),
    ("pton", &net::Pton),
    ("ksym", &symbols::Ksym),
    ("usym", &symbols::Usym),
    ("uaddr", &symbols::Uaddr),
    ("cgroup_path", &cgroup::CgroupPath),
    ("percpu_kaddr", &symbols::PercpuKaddr),
    ("comm", &task::Comm),
    ("is_str", &meta::IS_STR),
    ("is_ptr", &meta::IS_PTR),
    ("is_array", &meta::IS_ARRAY),
    ("is_integer", &meta::IS_INTEGER),
    ("is_unsigned_integer", &meta::IS_UNSIGNED),
    ("is_literal", &meta::IsLiteral),
    ("static_assert", &meta::StaticAssert),
    ("fail", &meta::Fail),
    ("assert_str", &meta::AssertStr),
    ("default_str_length", &meta::DefaultStrLength),
    ("has_cpid", &meta::HasCpid),
    ("probetype", &meta::Probetype),
    ("kfunc_exist", &meta::Kfunc),
    ("kfunc_allowed", &meta::Kfunc),
    ("signal_name", &names::Name(false)),
    ("syscall_name", &names::Name(true)),
    ("reg", &process::Reg),
    ("kptr", &process::Retag(false)),
    ("uptr", &process::Retag(true)),
    ("signal", &process::Signal(false)),
    ("signal_thread", &process::Signal(true)),
    ("override", &process::Override),
    ("write_user", &process::WriteUser),
    ("strstr", &strfuncs::Strstr),
    ("memcmp", &bytes::Memcmp),
    ("str_concat", &bytes::StrConcat),
    ("strcap", &bytes::Strcap),
    ("macaddr", &net::Macaddr),
    ("cgroupid", &cgroup::Cgroupid),
];

/// Every function name `function()` knows, for suggestions.
pub fn function_names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|(name, _)| *name)
}

pub fn function(name: &str) -> Option<&'static dyn Function> {
    if let Some((_, f)) = FUNCTIONS.iter().find(|(n, _)| *n == name) {
        return Some(*f);
    }
    // `probe()` is left out: sema must see `probe` itself to give each attach point
    // its own program.
    match name {
        "probe" => None,
        _ => builtin(name).map(|b| b as &'static dyn Function),
    }
}

/// The catalogue the compiler is given: the parser, sema and codegen see it through their
/// own traits (`parser::Vocabulary`, `sema::Catalogue`, `codegen::Lowerings`), so none of
/// them depends on this module.
pub struct Stdlib;

pub static STDLIB: Stdlib = Stdlib;

impl crate::parser::Vocabulary for Stdlib {
    fn is_function(&self, name: &str) -> bool {
        function(name).is_some()
    }
    fn is_builtin(&self, name: &str) -> bool {
        builtin_names().any(|n| n == name)
    }
    fn prelude(&self) -> &'static str {
        include_str!("prelude.bt")
    }
}

impl Catalogue for Stdlib {
    fn builtin(&self, name: &str) -> Option<BuiltinType> {
        builtin(name).map(|b| b.ty)
    }
    fn function(&self, name: &str) -> Option<&'static dyn TypeRule> {
        function(name).map(|f| f as &'static dyn TypeRule)
    }
    fn builtin_names(&self) -> Vec<&'static str> {
        builtin_names().collect()
    }
    fn function_names(&self) -> Vec<&'static str> {
        function_names().collect()
    }
}

impl Lowerings for Stdlib {
    fn builtin(&self, name: &str) -> Option<BuiltinGen> {
        builtin(name).map(|b| b.gen)
    }
    fn function(&self, name: &str) -> Option<&'static dyn Lowering> {
        function(name).map(|f| f as &'static dyn Lowering)
    }
}
