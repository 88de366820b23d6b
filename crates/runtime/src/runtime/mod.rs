//! Runs a [`CompiledProgram`]: load, `begin`, attach, event loop, detach, `end`, print maps.
//!
//! Depends on `program`, `probes`, `diag` and its own formatting only: never on the
//! compiler, so a runtime-only build can run programs compiled elsewhere.

pub mod child;
pub mod features;
mod flame;
pub mod format;
mod iter;
mod loader;
pub mod maps;
mod metrics;
mod pcap;
mod pump;
mod records;
mod ring;
mod selftest;
mod session;
pub mod signals;
pub(crate) mod stacks;
pub(crate) mod symbols;

use std::io::Write;
use std::time::{Duration, Instant};

use crate::diag::Diagnostic;
use crate::probes::{self, AttachPoint, Attachment};
use crate::program::{rodata, CompiledProgram};
use child::Child;
use pump::Pump;
pub use selftest::Mode;
use session::Session;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub json: bool,
    /// `-f folded`
    pub folded: bool,
    /// `--metrics ADDR` and `--metrics-prefix`.
    pub metrics: Option<(String, String)>,
    /// `--flamegraph FILE`, and the script (its file name or text) for the title.
    pub flamegraph: Option<(std::path::PathBuf, String)>,
    pub quiet: bool,
    pub verbose: bool,
    /// Load into the verifier and stop: nothing is attached or run.
    pub dry_run: bool,
    /// Trace, or run the `bench:`/`test:` blocks.
    pub mode: Mode,
    /// `-c CMD`
    pub child: Option<String>,
    /// `-o FILE`
    pub output: Option<std::path::PathBuf>,
    /// `-B`: when tracing output is flushed.
    pub buffering: Buffering,
    /// `-p PID`: stop when that process exits.
    pub pid: Option<u32>,
    /// `-k`, `--no-warnings`, `--unsafe`: accepted and kept for the runtime checks to come.
    pub helper_warnings: bool,
    pub no_warnings: bool,
    pub unsafe_mode: bool,
    /// The script's parameters, for an artifact that reads them when it runs
    /// (`CompiledProgram::params`): `$1…` and `--name=value` options.
    pub positional: Vec<String>,
    pub named: Vec<(String, Option<String>)>,
}

/// `-B line|full|none`; bpftrace flushes every line by default, even into a pipe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Buffering {
    #[default]
    Line,
    Full,
    None,
}

/// Full buffering writes only when the buffer fills and at exit, so the session's
/// per-poll flushes are ignored; the `BufWriter` flushes on drop.
struct FullyBuffered<W: Write>(std::io::BufWriter<W>);

impl<W: Write> Write for FullyBuffered<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The tracing output: `-o FILE` or stdout (a duplicate of fd 1, because Rust's own
/// `Stdout` is always line-buffered), buffered as `-B` says.
fn open_output(opts: &RunOptions) -> Result<Box<dyn Write>, Diagnostic> {
    use std::os::fd::FromRawFd;
    let file = match &opts.output {
        Some(p) => create_output(p)?,
        // SAFETY: dup returns a new descriptor that the File then owns.
        None => match unsafe { libc::dup(1) } {
            fd if fd >= 0 => unsafe { std::fs::File::from_raw_fd(fd) },
            _ => return Err(Diagnostic::global("cannot use stdout: it is closed")),
        },
    };
    Ok(match opts.buffering {
        // Line buffering means no complete line is held back. The event loop flushes after
        // each batch of records, so lines go out together, one write per batch rather than
        // one per line (a write per printf would cost more than the printf itself).
        Buffering::Line => Box::new(std::io::BufWriter::with_capacity(64 * 1024, file)),
        Buffering::Full => Box::new(FullyBuffered(std::io::BufWriter::with_capacity(
            64 * 1024,
            file,
        ))),
        Buffering::None => Box::new(file),
    })
}

/// Creates (or truncates) the `-o` file.
pub fn create_output(path: &std::path::Path) -> Result<std::fs::File, Diagnostic> {
    std::fs::File::create(path).map_err(|e| {
        Diagnostic::global(format!(
            "cannot write the output file {}: {}",
            path.display(),
            crate::diag::io_reason(&e)
        ))
    })
}

/// Whether `-p`'s process is gone (or a zombie nobody reaped yet).
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => true,
    }
}

const NOTIFY: &str = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";

fn watches(prog: &CompiledProgram) -> bool {
    prog.probes
        .iter()
        .flat_map(|p| &p.attach)
        .any(|a| matches!(a, AttachPoint::Watchpoint { .. }))
}

/// Runs the program to completion; returns the process exit code.
pub fn run(prog: &CompiledProgram, opts: &RunOptions) -> Result<i32, Diagnostic> {
    let mut out = open_output(opts)?;
    signals::install().map_err(Diagnostic::global)?;
    let mut child = match &opts.child {
        // Watchpoints name addresses of the command's image: it must have exec'd first.
        Some(cmd) => Some(Child::spawn(cmd, watches(prog)).map_err(Diagnostic::global)?),
        None => None,
    };
    if let Some(c) = &child {
        signals::set_child(c.pid);
    }
    let result = run_with(prog, opts, &mut out, child.as_mut());
    if let Some(c) = child.as_mut() {
        c.terminate();
    }
    let _ = out.flush();
    result
}

fn run_with(
    prog: &CompiledProgram,
    opts: &RunOptions,
    out: &mut Box<dyn Write>,
    mut child: Option<&mut Child>,
) -> Result<i32, Diagnostic> {
    crate::artifact::check_layouts(prog)?;
    crate::artifact::check_binaries(prog)?;
    let mut consts = [0u64; rodata::LEN];
    consts[rodata::START_NS] = boot_ns();
    consts[rodata::TAI_OFFSET] = clock_ns(libc::CLOCK_TAI).wrapping_sub(boot_ns());
    consts[rodata::CPID] = child.as_ref().map_or(0, |c| c.pid as u64);
    consts[rodata::FILTER_PID] = opts.pid.map_or(0, u64::from);
    consts[rodata::NCPUS] = libbpf_rs::num_possible_cpus().unwrap_or(1) as u64;
    (consts[rodata::PIDNS_DEV], consts[rodata::PIDNS_INO]) = pid_namespace();
    let params = prog
        .params
        .fill(&opts.positional, &opts.named)
        .map_err(Diagnostic::global)?;
    let loaded = loader::load(prog, consts, &params).map_err(|e| load_diagnostic(prog, e))?;
    if opts.dry_run {
        return Ok(0);
    }
    maps::create_scalars(&loaded.maps, &prog.maps);
    // Bound now, so a busy address stops the run before anything is attached; served
    // once every probe is, so a scrape never sees a half-attached run.
    let metrics = match &opts.metrics {
        Some((addr, prefix)) => Some(metrics::Server::bind(addr, prefix, prog, &loaded.maps)?),
        None => None,
    };

    let mut s = Session::new(prog, &loaded, opts.json, out);
    s.no_warnings = opts.no_warnings;
    s.folded = opts.folded;
    s.flame = opts
        .flamegraph
        .as_ref()
        .map(|(path, script)| flame::Flame::new(path.clone(), script));
    let ringbuf = s.ring_buffer()?;
    let mut pump = Pump::new(&ringbuf).map_err(Diagnostic::global)?;
    let pcap = std::rc::Rc::new(std::cell::RefCell::new(pcap::PcapWriter::new(
        prog,
        clock_ns(libc::CLOCK_REALTIME).wrapping_sub(clock_ns(libc::CLOCK_MONOTONIC)) as u128,
    )));
    let skb_reader = match &loaded.skb {
        Some(m) => Some(
            pcap::reader(m, pcap.clone(), prog.output.perf_rb_pages).map_err(Diagnostic::global)?,
        ),
        None => None,
    };
    let poll_packets = || {
        if let Some(r) = &skb_reader {
            pcap::poll(r, &pcap);
        }
    };
    if opts.mode != Mode::Run {
        return selftest::run(&s, prog, &ringbuf, opts.mode, opts.json);
    }

    // `begin` runs before anything is attached, in declaration order.
    let mut attached_count = 0usize;
    for p in &prog.probes {
        if p.attach.iter().any(|a| *a == AttachPoint::Begin) {
            attached_count += 1;
            s.test_run(&p.prog_name)?;
        }
    }
    let mut links: Vec<Attachment> = vec![];
    // Watchpoints by address, which `unwatch()` detaches while the run goes on.
    let mut watch_links: Vec<(u64, Attachment)> = vec![];
    let mut iters: Vec<Attachment> = vec![];
    let mut live = false;
    if watches(prog) {
        if let Some(c) = child.as_deref_mut() {
            c.exec_stopped().map_err(Diagnostic::global)?;
        }
    }
    // Uprobes and sampling events only in the traced process, when there is one.
    let cx = probes::AttachContext {
        target_pid: opts.pid.or(child.as_ref().map(|c| c.pid as u32)),
    };
    // The kernel runs the newest uprobe on an address first; attaching those in reverse keeps
    // their probes firing in declaration order, as bpftrace does.
    let mut order: Vec<(&crate::program::ProbeProgram, &AttachPoint)> = prog
        .probes
        .iter()
        .flat_map(|p| p.attach.iter().map(move |a| (p, a)))
        .collect();
    let (mut newest_first, rest): (Vec<_>, Vec<_>) = order
        .drain(..)
        .partition(|(_, a)| probes::of(a).runs_newest_first());
    newest_first.reverse();
    let order: Vec<_> = rest.into_iter().chain(newest_first).collect();
    for (p, ap) in order {
        if signals::stop_requested() {
            break;
        }
        let handle = loaded
            .object
            .progs_mut()
            .find(|h| h.name().to_string_lossy() == p.prog_name);
        let Some(handle) = handle else {
            return Err(Diagnostic::error(
                format!("internal error: program {} missing", p.prog_name),
                p.span,
            ));
        };
        match ap {
            // `bench:`/`test:` blocks only run in their modes.
            AttachPoint::Begin | AttachPoint::Bench { .. } | AttachPoint::Test { .. } => {}
            // Run by the event loop at each SIGUSR1, which keeps the program running.
            AttachPoint::SelfSignal { .. } => {
                signals::catch_usr1().map_err(Diagnostic::global)?;
                attached_count += 1;
                live = true;
            }
            AttachPoint::End => attached_count += 1,
            // Iterators run once, when read below; they keep nothing live.
            AttachPoint::Iter { .. } => {
                iters.append(&mut probes::of(ap).attach(&handle, ap, &cx).map_err(|m| {
                    Diagnostic::error(m, p.span).with_label("while attaching this probe")
                })?);
                attached_count += 1;
            }
            _ => {
                let l = probes::of(ap).attach(&handle, ap, &cx).map_err(|m| {
                    Diagnostic::error(m, p.span).with_label("while attaching this probe")
                })?;
                match ap {
                    AttachPoint::Watchpoint { addr, .. } => {
                        watch_links.extend(l.into_iter().map(|a| (*addr, a)))
                    }
                    _ => links.extend(l),
                }
                attached_count += 1;
                live = true;
            }
        }
    }
    s.attached(attached_count, opts.quiet);
    if let Some(m) = metrics {
        m.start()?;
    }
    if std::env::var_os(NOTIFY).is_some() {
        s.line(NOTIFY);
    }
    if let Some(c) = child.as_deref_mut() {
        c.release();
    }
    iter::run(&iters, &s, &ringbuf)?;
    links.append(&mut iters);

    let mut lost_seen = 0u64;
    let mut lost_checked = Instant::now();
    // Event loop: until exit(), a signal, the child's end, or (no live probes) drained.
    // Records written without a wakeup (see `FnGen::emit_event`) are read on the timer.
    let self_probes: Vec<&str> = prog
        .probes
        .iter()
        .filter(|p| {
            p.attach
                .iter()
                .any(|a| matches!(a, AttachPoint::SelfSignal { .. }))
        })
        .map(|p| p.prog_name.as_str())
        .collect();
    while !signals::stop_requested() {
        pump.step(Duration::from_millis(if live { 100 } else { 0 }));
        poll_packets();
        let gone: Vec<u64> = s.unwatched.borrow_mut().drain(..).collect();
        if !gone.is_empty() {
            watch_links.retain(|(a, _)| !gone.contains(a));
        }
        for _ in 0..signals::take_usr1() {
            for name in &self_probes {
                s.test_run(name)?;
            }
        }
        s.flush();
        if lost_checked.elapsed() >= LOST_REPORT_PERIOD {
            lost_seen = s.report_lost(loaded.lost_events(), lost_seen);
            lost_checked = Instant::now();
        }
        if s.exit_code().is_some()
            || s.output_closed()
            || child.as_deref_mut().is_some_and(|c| c.exited())
            || opts.pid.is_some_and(process_gone)
            || (!live && child.is_none() && !pump.backlog)
        {
            break;
        }
    }
    // Nothing new arrives once detached, so what is queued is finite. After a signal it is
    // shown only if that is quick and counted as lost otherwise: a flood never holds up
    // Ctrl-C.
    links.extend(watch_links.into_iter().map(|(_, a)| a));
    // The probes fall silent now; detaching them (a grace period per tracepoint) overlaps
    // with `end` and printing the maps, and is waited for before returning.
    loaded.stop();
    let mut detaching = std::thread::Builder::new()
        .name("detach".into())
        .spawn(move || detach_all(links));
    // Kernel addresses named while perf events are being released all come out unnamed
    // (blazesym reads /proc/kallsyms): programs that name them wait for the detach.
    if prog.names_kernel_addresses() {
        if let Ok(h) = detaching {
            let _ = h.join();
        }
        detaching = Err(std::io::Error::other("joined"));
    }
    let budget = signals::stop_requested().then(|| Instant::now() + DRAIN_BUDGET);
    if !pump.drain(budget) {
        s.discard_events(true);
        pump.drain(None);
        s.discard_events(false);
    }
    s.stop_accepting_after_exit();
    for p in &prog.probes {
        if p.attach.iter().any(|a| *a == AttachPoint::End) {
            s.test_run(&p.prog_name)?;
        }
    }
    pump.drain(None);
    poll_packets();
    let lost_seen = s.report_lost(loaded.lost_events(), lost_seen);
    if prog.print_maps_on_exit {
        s.print_all_maps();
    }
    s.flush();
    s.warn_total_lost(lost_seen);
    if let Ok(h) = detaching {
        let _ = h.join();
    }
    Ok(s.exit_code().unwrap_or(0))
}

/// How often the loop checks the kernel's count of records the ring had no room for.
const LOST_REPORT_PERIOD: Duration = Duration::from_secs(1);
/// How long the records queued at a signal may take to print before the rest are dropped.
const DRAIN_BUDGET: Duration = Duration::from_millis(300);

/// Detaches every probe, in parallel. Releasing the last perf event of a tracepoint waits
/// for RCU grace periods (tens of milliseconds each); waiters running at the same time share
/// one grace period, so detaching concurrently makes Ctrl-C on a script with many
/// tracepoints take about as long as on a script with one.
fn detach_all(links: Vec<Attachment>) {
    const THREADS: usize = 32;
    if links.len() <= 1 {
        return drop(links);
    }
    let per_thread = links.len().div_ceil(THREADS);
    let mut links = links;
    std::thread::scope(|scope| {
        while !links.is_empty() {
            let chunk: Vec<Attachment> = links.drain(..per_thread.min(links.len())).collect();
            scope.spawn(move || drop(chunk));
        }
    });
}

/// Device and inode of our PID namespace, or zeros in the initial one (where the plain
/// pid/tgid helper already gives the right numbers).
pub fn pid_namespace() -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    /// PROC_PID_INIT_INO (include/linux/proc_ns.h).
    const INIT_PID_NS_INO: u64 = 0xEFFF_FFFC;
    static NS: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
    *NS.get_or_init(|| match std::fs::metadata("/proc/self/ns/pid") {
        Ok(m) if m.ino() != INIT_PID_NS_INO => (m.dev(), m.ino()),
        _ => (0, 0),
    })
}

fn boot_ns() -> u64 {
    clock_ns(libc::CLOCK_BOOTTIME)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn load_diagnostic(prog: &CompiledProgram, e: loader::LoadError) -> Diagnostic {
    let probe = e
        .prog
        .as_ref()
        .and_then(|name| prog.probes.iter().find(|p| &p.prog_name == name));
    let summary = loader::verifier_summary(&e.verifier_log);
    let eperm = e.message.contains("Operation not permitted") || e.message.contains("EPERM");
    let trampoline = probe.is_some_and(|p| {
        p.attach
            .iter()
            .any(|a| matches!(a, AttachPoint::Fentry { .. }))
    });
    let msg = if eperm && trampoline && unsafe { libc::geteuid() } == 0 {
        "this kernel does not let fentry/fexit programs load (EPERM even as root): BPF \
         trampolines are refused here (a sandbox or lockdown policy); a kprobe or a \
         tracepoint may reach the same function"
            .to_string()
    } else if eperm {
        "loading the BPF program was not permitted (run as root, or with CAP_BPF and CAP_PERFMON)"
            .to_string()
    } else if let (Some(_), Some(helper)) = (probe, loader::missing_helper(&e.verifier_log)) {
        format!("this probe calls {helper}, which this kernel does not provide for it")
    } else if let (Some(_), Some(field)) = (probe, loader::missing_core_field(&e.verifier_log)) {
        format!(
            "this probe reads `{field}`, which this kernel does not have (the artifact was \
             built for a kernel that has it)"
        )
    } else if probe.is_some() {
        "the kernel's verifier rejected this probe".to_string()
    } else {
        format!("loading the BPF object failed: {}", e.message)
    };
    let mut d = match probe {
        Some(p) => Diagnostic::error(msg, p.span).with_label("this probe's program was rejected"),
        None => Diagnostic::global(msg),
    };
    if !summary.trim().is_empty() {
        d = d.with_note(format!("the kernel said:\n{summary}"));
    }
    d
}

/// Loading BPF and attaching need CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN (root has them
/// unless its bounding set was cut). Says which are missing.
/// The effective capability set, from capget(2): one system call where reading
/// /proc/self/status took a few dozen microseconds of every start.
fn effective_capabilities() -> u64 {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: a version-3 header and the two data structs version 3 fills.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    match rc {
        0 => u64::from(data[0].effective) | u64::from(data[1].effective) << 32,
        _ => 0,
    }
}

pub fn missing_privileges() -> Option<String> {
    let caps = effective_capabilities();
    let has = |bit: u32| caps & (1u64 << bit) != 0;
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)) {
        return None;
    }
    let missing: Vec<&str> = [(CAP_BPF, "CAP_BPF"), (CAP_PERFMON, "CAP_PERFMON")]
        .into_iter()
        .filter(|(bit, _)| !has(*bit))
        .map(|(_, name)| name)
        .collect();
    let who = if unsafe { libc::geteuid() } == 0 {
        "this root process lacks"
    } else {
        "this process is not root and lacks"
    };
    Some(format!(
        "spyglass needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) to load and attach BPF programs: {who} {}",
        missing.join(" and ")
    ))
}
