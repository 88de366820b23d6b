//! Turning `kstack`/`ustack` ids into printable frames: addresses from the stack-trace map,
//! names from blazesym (kernel symbols via kallsyms, user symbols via the process's maps).

use blazesym::symbolize::source::{Kernel, Process, Source};
use blazesym::symbolize::{Input, Symbolized, Symbolizer};
use blazesym::{MaybeDefault, Pid};
use libbpf_rs::{MapCore, MapFlags, MapHandle};

use super::format::value::Value;
use crate::program::StackMode;

/// Also names `ksym`/`usym`/`cgroup_path` values, so it exists even without a stack map.
pub struct Stacks {
    map: Option<MapHandle>,
    symbolizer: Symbolizer,
}

impl Stacks {
    pub fn new(map: Option<MapHandle>) -> Self {
        Stacks {
            map,
            symbolizer: Symbolizer::new(),
        }
    }

    /// Resolves every value inside `v` a kind left as a number: stack ids become frames,
    /// addresses and cgroup ids names (`kinds::Kind::resolve`).
    pub fn resolve(&self, v: &mut Value) {
        match v {
            Value::Sym { kind, addr, pid } => *v = kind.resolve(*addr, *pid, self),
            Value::Tuple(xs) => xs.iter_mut().for_each(|x| self.resolve(x)),
            Value::Record(xs) => xs.iter_mut().for_each(|(_, x)| self.resolve(x)),
            _ => {}
        }
    }

    fn addresses(&self, id: i64, limit: u32) -> Vec<u64> {
        if id < 0 {
            return vec![];
        }
        let Some(map) = &self.map else {
            return vec![];
        };
        let Ok(Some(raw)) = map.lookup(&(id as u32).to_ne_bytes(), MapFlags::ANY) else {
            return vec![];
        };
        raw.chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes")))
            .take_while(|a| *a != 0)
            .take(limit as usize)
            .collect()
    }

    pub(crate) fn symbolizer(&self) -> &Symbolizer {
        &self.symbolizer
    }

    /// The frames of stack `id`, named as `mode` writes them.
    pub(crate) fn frames(
        &self,
        user: bool,
        mode: StackMode,
        limit: u32,
        id: i64,
        pid: u32,
    ) -> Vec<String> {
        let addrs = self.addresses(id, limit);
        if mode == StackMode::Raw {
            return addrs.iter().map(|a| format!("{a:x}")).collect();
        }
        if mode == StackMode::BuildId {
            return super::symbols::build_id_frames(&addrs, pid);
        }
        let src = if user {
            let mut p = Process::new(Pid::from(pid));
            p.debug_syms = false;
            Source::Process(p)
        } else {
            let mut k = Kernel::default();
            k.vmlinux = MaybeDefault::None;
            k.debug_syms = false;
            Source::Kernel(k)
        };
        let syms = self
            .symbolizer
            .symbolize(&src, Input::AbsAddr(&addrs))
            .unwrap_or_default();
        addrs
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let name = match syms.get(i) {
                    Some(Symbolized::Sym(s)) => Some(format!("{}+{}", s.name, s.offset)),
                    _ => None,
                };
                match mode {
                    StackMode::Perf => {
                        let module = if user { "" } else { " ([kernel.kallsyms])" };
                        format!(
                            "\t{a:x} {}{module}",
                            name.unwrap_or_else(|| "[unknown]".into())
                        )
                    }
                    _ => name.unwrap_or_else(|| format!("0x{a:x}")),
                }
            })
            .collect()
    }
}
