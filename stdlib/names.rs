//! `signal_name(n)` and `syscall_name(n)`: numbers to their names, in the kernel, as a
//! switch over this architecture's table (like `strerror`). Numbers without a name read as
//! the number itself.

use super::errno::number_text;
use super::textgen::switch_text;
use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::Result;
use crate::parser::ast::Expr;
use crate::sema::{CallCheck, Type};

/// bpftrace's size for these names.
const SIZE: u32 = 64;

/// `signal_name` (false) or `syscall_name` (true).
pub struct Name(pub bool);

const SIGNALS: &[&str] = &[
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];
/// Linux's real-time signals, named as `kill -l` names them.
const SIGRTMIN: u64 = 34;
const SIGRTMAX: u64 = 64;

pub(super) fn signals() -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = SIGNALS
        .iter()
        .enumerate()
        .map(|(i, s)| (i as u64 + 1, s.to_string()))
        .collect();
    for n in SIGRTMIN..=SIGRTMAX {
        let name = match n {
            SIGRTMIN => "SIGRTMIN".to_string(),
            SIGRTMAX => "SIGRTMAX".to_string(),
            n if n - SIGRTMIN <= 15 => format!("SIGRTMIN+{}", n - SIGRTMIN),
            n => format!("SIGRTMAX-{}", SIGRTMAX - n),
        };
        out.push((n, name));
    }
    out
}

/// A signal by name (`SIGKILL`, `KILL`, `SIGRTMIN+3`) or number, for `signal()`.
pub(super) fn signal_number(name: &str) -> Option<u64> {
    let upper = name.to_ascii_uppercase();
    let full = match upper.starts_with("SIG") {
        true => upper,
        false => format!("SIG{upper}"),
    };
    signals()
        .into_iter()
        .find(|(_, s)| *s == full)
        .map(|(n, _)| n)
}

fn syscalls() -> Vec<(u64, String)> {
    #[cfg(target_arch = "x86_64")]
    let table = super::syscalls_x86_64::SYSCALLS;
    #[cfg(not(target_arch = "x86_64"))]
    let table: &[(u64, &str)] = &[];
    table.iter().map(|(n, s)| (*n, s.to_string())).collect()
}

impl TypeRule for Name {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        let what = match self.0 {
            true => "the argument of syscall_name()",
            false => "the argument of signal_name()",
        };
        c.int(0, what)?;
        Ok(Type::Str { size: SIZE })
    }
}

impl Lowering for Name {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let n = g.expr(&args[0])?.int();
        let buf = g.stack(SIZE as usize, "name");
        let names = match self.0 {
            true => syscalls(),
            false => signals(),
        };
        let cases: Vec<(u64, &[u8])> = names.iter().map(|(n, s)| (*n, s.as_bytes())).collect();
        switch_text(g, n, &cases, buf, |g| number_text(g, buf, "", n));
        Ok(Val::Str(buf, SIZE))
    }
}
