//! `kstack` and `ustack`: a stack id in the stack-trace map (8 bytes), then the pid whose
//! mappings name user frames (8 bytes). The frames are read and named when the output is
//! written, in the call's mode and up to its limit (the kind's argument, `Stack::arg`).

use super::{word_at, Kind, ValueKind};
use crate::program::StackMode;
use crate::runtime::format::value::Value;
use crate::runtime::stacks::Stacks;

/// `kstack` (false) or `ustack` (true).
pub struct Stack(bool);

pub static KSTACK: Stack = Stack(false);
pub static USTACK: Stack = Stack(true);

const MODES: &[(StackMode, &str)] = &[
    (StackMode::Bpftrace, "bpftrace"),
    (StackMode::Perf, "perf"),
    (StackMode::Raw, "raw"),
    (StackMode::BuildId, "build_id"),
];

impl Stack {
    fn this(&self) -> &'static Stack {
        if self.0 {
            &USTACK
        } else {
            &KSTACK
        }
    }

    /// The stack kind of user or kernel frames, as a call fixes it.
    pub fn of(user: bool, mode: StackMode, limit: u32) -> ValueKind {
        let name = MODES
            .iter()
            .find(|(m, _)| *m == mode)
            .map_or("bpftrace", |(_, n)| n);
        ValueKind::new(Stack(user).this(), format!("{name} {limit}"))
    }

    /// Whether `k` is a stack, and then its user flag, mode and limit.
    pub fn parts(k: &ValueKind) -> Option<(bool, StackMode, u32)> {
        let user = [&KSTACK, &USTACK].iter().find(|s| k.is(**s))?.0;
        let (mode, limit) = mode_and_limit(&k.arg)?;
        Some((user, mode, limit))
    }
}

/// A stack kind's argument, `MODE LIMIT` (see `Stack::of`).
fn mode_and_limit(arg: &str) -> Option<(StackMode, u32)> {
    let (mode, limit) = arg.split_once(' ')?;
    let mode = MODES.iter().find(|(_, n)| *n == mode)?.0;
    Some((mode, limit.parse().ok()?))
}

impl Kind for Stack {
    fn name(&self) -> &'static str {
        if self.0 {
            "ustack"
        } else {
            "kstack"
        }
    }
    fn type_name(&self) -> &'static str {
        self.name()
    }
    fn typeinfo(&self) -> &'static str {
        if self.0 {
            "ustack_t"
        } else {
            "kstack_t"
        }
    }
    fn family(&self) -> &'static str {
        "stack"
    }
    fn size(&self) -> usize {
        16
    }
    fn decode(&self, bytes: &[u8], arg: &str) -> Value {
        Value::Sym {
            kind: ValueKind::new(self.this(), arg),
            addr: word_at(bytes, 0),
            pid: word_at(bytes, 8) as u32,
        }
    }
    fn resolve(&self, id: u64, pid: u32, arg: &str, stacks: &Stacks) -> Value {
        let (mode, limit) = mode_and_limit(arg).unwrap_or((StackMode::Bpftrace, 127));
        Value::Stack {
            user: self.0,
            mode,
            frames: stacks.frames(self.0, mode, limit, id as i64, pid),
        }
    }
    fn names_kernel_addresses(&self) -> bool {
        !self.0
    }
}
