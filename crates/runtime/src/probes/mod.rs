//! Probe types. One module per kind of attach point, all behind [`ProbeType`]: parsing the
//! attach-point text, expanding wildcards, describing `args`, naming the ELF section and
//! attaching a loaded program. Adding a probe type touches one file plus the table below.
//!
//! This module is shared by the compiler (sema, codegen) and the runtime, so it must not
//! depend on LLVM.

use serde::{Deserialize, Serialize};

pub mod btf;
pub mod btf_scan;
pub mod debuginfo;
mod dwarf;
mod elf;
pub use elf::set_target_process;
pub mod bpf_progs;
pub mod fentry;
pub mod hardware;
pub mod interval;
pub mod iter;
pub mod kprobe;
pub mod list;
pub(crate) mod perf;
pub mod profile;
pub mod rawtracepoint;
pub mod selftest;
pub mod software;
pub mod special;
pub mod tracefs;
pub mod tracepoint;
pub mod uprobe;
pub mod usdt;
pub mod watchpoint;

/// One concrete place a probe block attaches to, wildcards already expanded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttachPoint {
    Begin,
    End,
    Tracepoint {
        category: String,
        name: String,
    },
    /// Fires on one CPU every `period_ns`.
    Interval {
        period_ns: u64,
    },
    /// Fires on every CPU, at `freq_hz` or every `period_ns`.
    Profile {
        freq_hz: Option<u64>,
        period_ns: Option<u64>,
    },
    /// A kernel software event, sampled every `count` occurrences (`None`: bpftrace's
    /// default for the event). `event` is kept as written (`cpu` or `cpu-clock`).
    Software {
        event: String,
        count: Option<u64>,
    },
    /// A CPU (PMU) event; like `Software`.
    Hardware {
        event: String,
        count: Option<u64>,
    },
    /// A raw tracepoint of the kernel (`module` is `vmlinux`) or of a module.
    RawTracepoint {
        module: String,
        name: String,
    },
    /// A user-space function's entry (or an instruction `offset` bytes into it), or its
    /// return (`ret`). With `func` empty, `offset` is the probed virtual address.
    Uprobe {
        ret: bool,
        path: String,
        func: String,
        offset: u64,
        /// Matched by a wildcard: a function the kernel cannot probe is skipped.
        wildcard: bool,
        /// Placed at a source statement (`BIN@FILE:LINE[:COL]`), as written after `@`.
        #[serde(default)]
        source: Option<String>,
    },
    /// Run only in `--mode bench` / `--mode test`.
    Bench {
        name: String,
    },
    Test {
        name: String,
    },
    /// A kernel function's entry (or `offset` bytes into it), or its return (`ret`).
    Kprobe {
        ret: bool,
        func: String,
        offset: u64,
        /// Matched by a wildcard: a function the kernel cannot probe is skipped.
        wildcard: bool,
    },
    /// A BPF iterator target (`task`, `task_file`, …).
    Iter {
        target: String,
    },
    /// `fentry:FUNC` / `fexit:FUNC`: a BPF trampoline on a kernel function, or with
    /// `prog` on a function of that running BPF program (`fentry:bpf:ID:FUNC`).
    Fentry {
        ret: bool,
        func: String,
        #[serde(default)]
        prog: Option<u32>,
    },
    /// `usdt:PATH:PROVIDER:NAME`: the `index`th note of the file (one location).
    Usdt {
        path: String,
        provider: String,
        name: String,
        index: usize,
    },
    /// `watchpoint:ADDR:LEN:MODE`: a hardware breakpoint in the traced process.
    Watchpoint {
        addr: u64,
        len: u64,
        mode: String,
    },
    /// `self:signal:SIGUSR1`: run by spyglass each time it receives the signal.
    SelfSignal {
        signal: String,
    },
}

/// A typed field of a probe's `args`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgField {
    pub name: String,
    /// The declared C type (`const char *`), which types pointers.
    pub c_type: String,
    pub offset: u32,
    pub size: u32,
    pub signed: bool,
    pub kind: ArgKind,
    /// `offset` is from the user stack pointer, not into the context: an argument the
    /// caller passed on the stack.
    pub on_stack: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArgKind {
    Int,
    /// A pointer; `user` when it points into user memory (syscall arguments).
    Pointer {
        user: bool,
    },
    /// `__data_loc char[]`: a string stored after the record.
    DataLocStr,
    /// `char name[N]`
    CharArray {
        len: u32,
    },
}

/// Where `argN` is read from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArgLoc {
    /// A u64 at this byte offset of the program's context.
    Ctx(u32),
    /// A u64 in user memory at the stack pointer (the u64 at context offset `sp`) plus
    /// `offset`: arguments passed on the stack.
    UserStack { sp: u32, offset: u32 },
    /// A USDT argument, as its note describes it.
    Usdt(usdt::UsdtArg),
}

/// Byte offsets in x86-64's `struct pt_regs`, the context of kprobes and uprobes.
pub mod pt_regs {
    /// The argument registers di, si, dx, cx, r8, r9.
    pub const ARGS: [u32; 6] = [112, 104, 96, 88, 72, 64];
    pub const AX: u32 = 80;
    pub const SP: u32 = 152;

    /// Register names as `reg()` takes them, in `struct pt_regs` order.
    const NAMES: [&str; 21] = [
        "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si",
        "di", "orig_ax", "ip", "cs", "flags", "sp", "ss",
    ];

    /// The offset of a register by name (`pc` is `ip`).
    pub fn offset(name: &str) -> Option<u32> {
        let name = if name == "pc" { "ip" } else { name };
        NAMES.iter().position(|n| *n == name).map(|i| 8 * i as u32)
    }

    pub fn names() -> &'static [&'static str] {
        &NAMES
    }
}

/// A decimal or `0x` hexadecimal number in an attach point (offsets, addresses).
pub(crate) fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None if s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        None => None,
    }
}

/// A live attachment; dropping it detaches. `Send` so that many can be detached at once
/// (see `runtime::detach_all`).
pub type Attachment = Box<dyn std::any::Any + Send>;

pub trait ProbeType: Sync {
    /// Provider names this type answers to, full name first (`tracepoint`, `t`).
    fn names(&self) -> &'static [&'static str];

    /// Whether `ap` is one of this type's attach points (what `of` asks).
    fn owns(&self, ap: &AttachPoint) -> bool;

    /// Where the context holds the interrupted registers (`struct pt_regs`), for `reg()`.
    fn regs(&self) -> Option<u32> {
        None
    }

    /// Whether programs of this type never interrupt one another on a CPU: the kernel runs
    /// kprobe, uprobe, tracepoint and perf-event programs under one per-CPU guard
    /// (`bpf_prog_active`), so they can share scratch memory (`codegen::scratch`).
    fn never_nested(&self) -> bool {
        false
    }

    /// Whether each attach point needs a program of its own: the kernel binds the program
    /// to its target when loading it (iterators, trampolines), so it cannot be shared.
    fn one_program_each(&self) -> bool {
        false
    }

    /// The `probetype` builtin's value.
    fn probetype(&self) -> &'static str {
        self.names()[0]
    }

    /// Parses the parts after the provider name and expands wildcards.
    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError>;

    /// The ELF section of a program attached at `ap` (tells libbpf the program type).
    fn section(&self, ap: &AttachPoint) -> String;

    /// The `args` fields available at `ap`, or `None` when this probe type has no `args`.
    fn args(&self, _ap: &AttachPoint) -> Result<Option<Vec<ArgField>>, String> {
        Ok(None)
    }

    /// Where `arg{n}` lives at `ap`, or why this probe has no such argument.
    fn arg(&self, _ap: &AttachPoint, n: u32) -> Result<ArgLoc, String> {
        Err(format!(
            "`arg{n}` is not available in {} probes",
            self.names()[0]
        ))
    }

    /// Where `retval` lives at `ap`.
    fn retval(&self, _ap: &AttachPoint) -> Result<ArgLoc, String> {
        Err(format!(
            "`retval` is not available in {} probes",
            self.names()[0]
        ))
    }

    /// The probed function's name at `ap`, for `func`.
    fn func(&self, _ap: &AttachPoint) -> Result<String, String> {
        Err(format!(
            "`func` is not available in {} probes",
            self.names()[0]
        ))
    }

    /// Whether plain integer addresses (`str(arg0)`) point into user memory here, so reads
    /// through them need the user-memory helpers.
    fn user_addresses(&self) -> bool {
        false
    }

    /// Whether programs attached at `ap` always run in process context with interrupts
    /// enabled (so a hash map they use can allocate its entries on insert).
    fn process_context(&self, _ap: &AttachPoint) -> bool {
        false
    }

    /// Whether the kernel runs the programs attached at one place newest first, so the
    /// runtime must attach them in reverse to fire in declaration order as bpftrace does.
    fn runs_newest_first(&self) -> bool {
        false
    }

    /// The C type `ctx` points to at `ap` (`struct bpf_iter__task`), when it has one.
    fn ctx_type(&self, _ap: &AttachPoint) -> Option<String> {
        None
    }

    /// A context offset holding a pointer: the program skips its block when it is NULL.
    fn skip_unless_set(&self, _ap: &AttachPoint) -> Option<u32> {
        None
    }

    /// The probe's full name, as bpftrace prints it for the `probe` builtin.
    fn display(&self, ap: &AttachPoint) -> String;

    /// `-l`: every probe of this type the machine offers, by full name; `None` for types
    /// listed some other way (a binary's functions) or not at all.
    fn listing(&self) -> Option<Result<Vec<String>, String>> {
        None
    }

    /// Whether `-l` alone (or a wildcard provider) lists this type; like bpftrace, the
    /// timers' units appear only when asked for by name.
    fn in_full_list(&self) -> bool {
        true
    }

    /// `--info`'s line for this type: its place in bpftrace's list and what the kernel must
    /// offer; `None` for types `--info` does not list (and for the return form of a pair,
    /// which is listed once).
    fn support(&self) -> Option<Support> {
        None
    }

    /// Whether `-p PID` filters its events to that process. Timer and counter probes say
    /// nothing about which process an interval belongs to (filtering would stall
    /// `interval`), and iterators visit every object.
    fn pid_filtered(&self) -> bool {
        true
    }

    /// Attaches a loaded program.
    /// The section for a program that needs BTF-typed arguments (helpers such as
    /// `bpf_skb_output` want kernel objects the verifier knows by type), when this probe
    /// type has such a form: raw tracepoints as `tp_btf`.
    fn btf_section(&self, _ap: &AttachPoint) -> Option<String> {
        None
    }

    /// Called on the opened program before the object is loaded, for probes whose
    /// attach target must be set then (a running BPF program's fd); what it returns is
    /// kept open until loading is done.
    fn before_load(
        &self,
        _prog: &mut libbpf_rs::OpenProgramMut,
        _ap: &AttachPoint,
    ) -> Result<Option<std::os::fd::OwnedFd>, String> {
        Ok(None)
    }

    fn attach(
        &self,
        prog: &libbpf_rs::ProgramMut,
        ap: &AttachPoint,
        cx: &AttachContext,
    ) -> Result<Vec<Attachment>, String>;
}

/// What attaching needs to know about this run, passed to every `ProbeType::attach`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttachContext {
    /// The process probes are limited to (`-p PID`, the `-c` child): uprobes fire only
    /// there, sampling events and watchpoints follow only its threads.
    pub target_pid: Option<u32>,
}

/// What `--info` checks before it says a probe type works on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelNeed {
    /// Programs of this `BPF_PROG_TYPE_*` load.
    ProgType(u32),
    /// tracefs is there and tracepoint programs load.
    Tracepoints,
    /// Kprobe programs load and the kprobe PMU attaches them.
    Kprobes,
    /// The kernel registers BPF iterator targets.
    IterTargets,
}

/// A probe type's `--info` line (see `ProbeType::support`).
#[derive(Debug, Clone, Copy)]
pub struct Support {
    /// Its position in bpftrace's list.
    pub rank: u8,
    pub needs: KernelNeed,
}

/// The types `--info` lists, in bpftrace's order, each with its name and needs.
pub fn supported_types() -> Vec<(&'static str, KernelNeed)> {
    let mut out: Vec<(u8, &'static str, KernelNeed)> = TYPES
        .iter()
        .filter_map(|t| t.support().map(|s| (s.rank, t.names()[0], s.needs)))
        .collect();
    out.sort_by_key(|(rank, ..)| *rank);
    out.into_iter().map(|(_, n, k)| (n, k)).collect()
}

impl AttachContext {
    /// The pid as libbpf and perf_event_open take it: -1 for every process.
    pub(crate) fn pid_or_any(&self) -> i32 {
        self.target_pid.map_or(-1, |p| p as i32)
    }
}

static TYPES: &[&dyn ProbeType] = &[
    &special::Begin,
    &special::End,
    &tracepoint::Tracepoint,
    &interval::Interval,
    &profile::Profile,
    &software::Software,
    &hardware::Hardware,
    &rawtracepoint::RawTracepoint,
    &uprobe::Uprobe(false),
    &uprobe::Uprobe(true),
    &kprobe::Kprobe(false),
    &kprobe::Kprobe(true),
    &selftest::SelfTest(false),
    &selftest::SelfTest(true),
    &iter::Iter,
    &special::SelfProbe,
    &fentry::Fentry(false),
    &fentry::Fentry(true),
    &usdt::Usdt,
    &watchpoint::Watchpoint,
];

/// Whether the kernel's BTF has a function of this name (`kfunc_exist`).
pub fn kernel_func_exists(name: &str) -> bool {
    btf::has(name, libbpf_sys::BTF_KIND_FUNC)
}

/// `struct X` / `union X` / `enum X` of the kernel as C (for `-lv 'struct X'`).
pub fn c_definition(name: &str) -> Option<String> {
    btf::c_definition(name)
}

/// The kernel's type names of one kind (`struct`, `union` or `enum`), for `-l 'struct X*'`.
pub fn btf_type_names(word: &str) -> Vec<String> {
    match word {
        "struct" => btf::names_of_kind(libbpf_sys::BTF_KIND_STRUCT),
        "union" => btf::names_of_kind(libbpf_sys::BTF_KIND_UNION),
        "enum" => btf::names_of_kind(libbpf_sys::BTF_KIND_ENUM),
        _ => vec![],
    }
}

/// Finds the provider for a provider name: short aliases exactly (`U` is usdt, `u` uprobe),
/// full names case-insensitively (`BEGIN`), as bpftrace does.
pub fn by_name(name: &str) -> Option<&'static dyn ProbeType> {
    TYPES
        .iter()
        .copied()
        .find(|t| t.names().contains(&name))
        .or_else(|| {
            TYPES
                .iter()
                .copied()
                .find(|t| t.names()[0].eq_ignore_ascii_case(name))
        })
}

/// The provider that produced `ap`: the one that owns it.
pub fn of(ap: &AttachPoint) -> &'static dyn ProbeType {
    TYPES
        .iter()
        .copied()
        .find(|t| t.owns(ap))
        .expect("every attach point has its probe type in TYPES")
}

/// Splits an attach point into `provider` and its colon-separated parts, keeping quoted
/// parts whole.
pub fn split(text: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => parts.push(String::new()),
            c => parts.last_mut().unwrap().push(c),
        }
    }
    parts
}

/// Why an attach point expands to nothing. `missing`: it is well formed but names what this
/// machine lacks (a kernel function, a tracepoint, a symbol), which `missing_probes` may
/// turn into a warning.
#[derive(Debug)]
pub struct ExpandError {
    pub message: String,
    pub missing: bool,
}

impl ExpandError {
    pub fn missing(message: impl Into<String>) -> Self {
        ExpandError {
            message: message.into(),
            missing: true,
        }
    }
}

impl From<String> for ExpandError {
    fn from(message: String) -> Self {
        ExpandError {
            message,
            missing: false,
        }
    }
}

impl From<&str> for ExpandError {
    fn from(message: &str) -> Self {
        message.to_string().into()
    }
}

/// Expands one attach point as written into concrete attach points.
pub fn expand(text: &str) -> Result<Vec<AttachPoint>, ExpandError> {
    let parts = split(text);
    let provider = by_name(&parts[0]).ok_or_else(|| {
        if parts.len() == 1 {
            format!("unknown probe `{text}`")
        } else {
            format!("unknown probe type `{}`", parts[0])
        }
    })?;
    let rest: Vec<&str> = parts[1..].iter().map(String::as_str).collect();
    provider.expand(&rest)
}

impl AttachPoint {
    /// `begin`, `end`, `bench:`, `test:`, `self:`: run from user space with
    /// BPF_PROG_TEST_RUN, each by its own program, instead of being attached.
    pub fn is_test_run(&self) -> bool {
        matches!(
            self,
            AttachPoint::Begin
                | AttachPoint::End
                | AttachPoint::Bench { .. }
                | AttachPoint::Test { .. }
                | AttachPoint::SelfSignal { .. }
        )
    }

    /// The probe's name as bpftrace prints it for the `probe` builtin.
    pub fn name(&self) -> String {
        of(self).display(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind of attach point has exactly one owner among the probe types.
    /// `--info` lists the types bpftrace lists, in its order, each once.
    #[test]
    fn info_lists_probe_types_in_bpftraces_order() {
        let names: Vec<&str> = supported_types().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "kprobe",
                "tracepoint",
                "rawtracepoint",
                "profile",
                "interval",
                "software",
                "hardware",
                "uprobe",
                "usdt",
                "fentry",
                "iter",
                "watchpoint"
            ]
        );
    }

    #[test]
    fn every_attach_point_has_one_owner() {
        let s = String::new;
        let samples = [
            AttachPoint::Begin,
            AttachPoint::End,
            AttachPoint::Tracepoint {
                category: s(),
                name: s(),
            },
            AttachPoint::Interval { period_ns: 1 },
            AttachPoint::Profile {
                freq_hz: Some(1),
                period_ns: None,
            },
            AttachPoint::Software {
                event: s(),
                count: None,
            },
            AttachPoint::Hardware {
                event: s(),
                count: None,
            },
            AttachPoint::RawTracepoint {
                module: s(),
                name: s(),
            },
            AttachPoint::Bench { name: s() },
            AttachPoint::Test { name: s() },
            AttachPoint::Iter { target: s() },
            AttachPoint::Usdt {
                path: s(),
                provider: s(),
                name: s(),
                index: 0,
            },
            AttachPoint::Watchpoint {
                addr: 0,
                len: 1,
                mode: s(),
            },
            AttachPoint::SelfSignal { signal: s() },
        ]
        .into_iter()
        .chain([false, true].into_iter().flat_map(|ret| {
            [
                AttachPoint::Uprobe {
                    ret,
                    path: s(),
                    func: s(),
                    offset: 0,
                    wildcard: false,
                    source: None,
                },
                AttachPoint::Kprobe {
                    ret,
                    func: s(),
                    offset: 0,
                    wildcard: false,
                },
                AttachPoint::Fentry {
                    ret,
                    func: s(),
                    prog: None,
                },
            ]
        }));
        for ap in samples {
            assert_eq!(TYPES.iter().filter(|t| t.owns(&ap)).count(), 1, "{ap:?}");
        }
    }
}
