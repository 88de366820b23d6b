//! `ksym(addr)` and `usym(addr)`: addresses named when printed.

use blazesym::symbolize::source::{Kernel, Process, Source};
use blazesym::symbolize::{Input, Symbolized, Symbolizer};
use blazesym::{MaybeDefault, Pid};

use super::{word_at, Kind};
use crate::runtime::format::value::Value;
use crate::runtime::stacks::Stacks;

pub struct Ksym;
/// A user address, then the pid whose mappings name it (16 bytes).
pub struct Usym;

pub static KSYM: Ksym = Ksym;
pub static USYM: Usym = Usym;

impl Kind for Ksym {
    fn name(&self) -> &'static str {
        "ksym"
    }
    fn type_name(&self) -> &'static str {
        "ksym_t"
    }
    fn decode(&self, bytes: &[u8], _: &str) -> Value {
        Value::Sym {
            kind: super::ValueKind::new(&KSYM, ""),
            addr: word_at(bytes, 0),
            pid: 0,
        }
    }
    fn resolve(&self, addr: u64, _: u32, _: &str, stacks: &Stacks) -> Value {
        let mut k = Kernel::default();
        k.vmlinux = MaybeDefault::None;
        k.debug_syms = false;
        Value::Str(symbol_name(stacks.symbolizer(), &Source::Kernel(k), addr))
    }
    fn names_kernel_addresses(&self) -> bool {
        true
    }
}

impl Kind for Usym {
    fn name(&self) -> &'static str {
        "usym"
    }
    fn type_name(&self) -> &'static str {
        "usym_t"
    }
    fn size(&self) -> usize {
        16
    }
    fn decode(&self, bytes: &[u8], _: &str) -> Value {
        Value::Sym {
            kind: super::ValueKind::new(&USYM, ""),
            addr: word_at(bytes, 0),
            pid: word_at(bytes, 8) as u32,
        }
    }
    fn resolve(&self, addr: u64, pid: u32, _: &str, stacks: &Stacks) -> Value {
        let mut p = Process::new(Pid::from(pid));
        p.debug_syms = false;
        Value::Str(symbol_name(stacks.symbolizer(), &Source::Process(p), addr))
    }
}

/// The symbol holding `addr`, without offset (bpftrace's `ksym`/`usym`); an address nothing
/// names prints as `0x…`, as bpftrace prints a `void *`.
fn symbol_name(symbolizer: &Symbolizer, src: &Source, addr: u64) -> String {
    match symbolizer.symbolize_single(src, Input::AbsAddr(addr)) {
        Ok(Symbolized::Sym(s)) => s.name.to_string(),
        _ => format!("{addr:#x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_addresses_are_hex() {
        let s = Stacks::new(None);
        assert_eq!(
            USYM.resolve(1, std::process::id(), "", &s),
            Value::Str("0x1".into())
        );
    }
}
