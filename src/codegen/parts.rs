//! Large programs compile in pieces, on every core, joined by libbpf's static linker.
//!
//! Two costs grow with a module: LLVM's BPF back end looks up each new BTF string by
//! scanning every string so far (quadratic in the programs of one module), and code
//! generation runs on one core. A piece holds a few programs in its own LLVM context; the
//! pieces are spread over threads and the objects they produce are linked into one ELF, so
//! the runtime never knows the difference.
//!
//! The pieces must agree on everything they share: each carries a weak copy of the maps
//! and globals its programs use, and the linker keeps the first copy after checking that
//! every definition matches exactly. Two facts about a shared map are only known once every
//! program is generated (whether an interrupt-context program uses it, how large the
//! shared scratch value is), so the threads meet at a gate between generating their
//! programs and describing their maps. Whatever is laid out per program (a program's own
//! scratch region) gets a map per piece instead.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex};

use inkwell::context::Context;

use super::maps::{Part, Shared};
use super::{emit, generate, llvm_diagnostics, target_machine, Lowerings, Unit};
use crate::diag::{Diagnostic, Result};
use crate::program::ProbeProgram;
use crate::sema::Checked;

/// Programs per piece: enough that a piece's fixed cost (its maps' and globals' debug
/// info, a linker input) stays small, few enough that its string table does.
const PIECE: usize = 16;

/// Below this many programs one module on one thread is faster than starting threads and
/// linking.
pub fn worth_splitting(programs: usize) -> bool {
    programs >= 2 * PIECE
}

/// A piece's object and its programs, by piece number.
type Done = (usize, Vec<u8>, Vec<ProbeProgram>);

pub(super) fn compile(
    ck: &Checked,
    lower: &dyn Lowerings,
    units: &[Unit],
) -> Result<(Vec<u8>, Vec<ProbeProgram>)> {
    let pieces: Vec<&[Unit]> = units.chunks(PIECE).collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(pieces.len());
    // Round robin: neighbouring probes tend to be alike, so each thread gets a fair share.
    let share = |t: usize| -> Vec<usize> { (t..pieces.len()).step_by(threads).collect() };
    let gate = Gate::new(threads);
    let mut results: Vec<PieceResult<Vec<Done>>> = vec![];
    std::thread::scope(|scope| {
        let mut mine = share(0);
        let mut handles = vec![];
        for t in 1..threads {
            let spawned = std::thread::Builder::new()
                .name("codegen".into())
                .stack_size(crate::deep::worker_stack())
                .spawn_scoped(scope, {
                    let (pieces, gate, todo) = (&pieces, &gate, share(t));
                    move || {
                        let _room = crate::arena::make_room();
                        worker(ck, lower, pieces, &todo, gate)
                    }
                });
            match spawned {
                Ok(h) => handles.push(h),
                // No thread to be had: this one does that share as well.
                Err(_) => {
                    mine.extend(share(t));
                    gate.withdraw();
                }
            }
        }
        results.push(worker(ck, lower, &pieces, &mine, &gate));
        for h in handles {
            results.push(h.join().unwrap_or_else(|p| resume_unwind(p)));
        }
    });
    let mut done = vec![];
    let mut first_error: Option<(usize, Diagnostic)> = None;
    for r in results {
        match r {
            Ok(d) => done.extend(d),
            // The error of the earliest piece, as one module would have reported it.
            Err((piece, e)) if first_error.as_ref().is_none_or(|(p, _)| piece < *p) => {
                first_error = Some((piece, e))
            }
            Err(_) => {}
        }
    }
    if let Some((_, e)) = first_error {
        return Err(e);
    }
    done.sort_by_key(|d| d.0);
    let probes = done.iter().flat_map(|d| d.2.iter().cloned()).collect();
    let objects: Vec<&[u8]> = done.iter().map(|d| &d.1[..]).collect();
    let elf = link(&objects).map_err(|e| {
        Diagnostic::global(format!("internal error: linking the compiled pieces: {e}"))
    })?;
    Ok((elf, probes))
}

/// A failure, with the piece it happened in.
type PieceResult<T> = std::result::Result<T, (usize, Diagnostic)>;

/// Generates, then (after the gate) emits, the pieces `todo`, all in one LLVM context.
fn worker(
    ck: &Checked,
    lower: &dyn Lowerings,
    pieces: &[&[Unit]],
    todo: &[usize],
    gate: &Gate,
) -> PieceResult<Vec<Done>> {
    let ctx = Context::create();
    let llvm_errors = llvm_diagnostics::capture(&ctx);
    // Every thread must reach the gate, whatever happens before it, or the others wait
    // for ever: a failure (or a panic) is carried past it.
    let generated = catch_unwind(AssertUnwindSafe(|| -> PieceResult<_> {
        let mut built = vec![];
        for &p in todo {
            built.push((
                p,
                generate(&ctx, ck, lower, pieces[p], Part::Piece(p)).map_err(|e| (p, e))?,
            ));
        }
        let tm = target_machine().map_err(|e| (todo[0], e))?;
        Ok((tm, built))
    }));
    let mut usage = Shared::default();
    if let Ok(Ok((_, built))) = &generated {
        for (_, b) in built {
            usage.merge(&b.globals.usage());
        }
    }
    let shared = gate.pass(usage);
    let (tm, built) = match generated {
        Ok(r) => r?,
        Err(panic) => resume_unwind(panic),
    };
    let mut done = vec![];
    for (p, b) in built {
        let probes = b.probes.clone();
        let (elf, _) = emit(&ctx, b, &tm, ck, &shared, false).map_err(|e| (p, e))?;
        if let Some(msg) = llvm_errors.take() {
            return Err((p, llvm_diagnostics::explain(&msg, ck, &probes)));
        }
        done.push((p, elf, probes));
    }
    Ok(done)
}

/// Where the threads wait for each other and pool what their pieces use.
struct Gate {
    state: Mutex<(usize, usize, Shared)>,
    all_in: Condvar,
}

impl Gate {
    fn new(expected: usize) -> Self {
        Gate {
            state: Mutex::new((0, expected, Shared::default())),
            all_in: Condvar::new(),
        }
    }

    /// Adds `usage`, waits for every other thread, and returns what all of them use.
    fn pass(&self, usage: Shared) -> Shared {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.0 += 1;
        s.2.merge(&usage);
        self.all_in.notify_all();
        while s.0 < s.1 {
            s = self.all_in.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.2.clone()
    }

    /// One thread fewer will come (it could not be started).
    fn withdraw(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.1 -= 1;
        self.all_in.notify_all();
    }
}

/// Links BPF objects, in order, into one (in memory).
fn link(objects: &[&[u8]]) -> std::result::Result<Vec<u8>, String> {
    use std::io::{Read, Seek};
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: a NUL-terminated name; the descriptor is owned by `out` from here on.
    let fd = unsafe { libc::memfd_create(c"spyglass-link".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
    }
    let mut out = unsafe { std::fs::File::from_raw_fd(fd) };
    // SAFETY: `out` outlives the linker, which does not take ownership of a descriptor it
    // was given; buffers are copied by `add_buf` and only read.
    unsafe {
        let linker = libbpf_sys::bpf_linker__new_fd(out.as_raw_fd(), std::ptr::null_mut());
        if linker.is_null() {
            return Err(format!(
                "bpf_linker__new_fd: {}",
                std::io::Error::last_os_error()
            ));
        }
        let mut err = 0;
        for o in objects {
            err = libbpf_sys::bpf_linker__add_buf(
                linker,
                o.as_ptr() as *mut _,
                o.len() as _,
                std::ptr::null(),
            );
            if err != 0 {
                break;
            }
        }
        if err == 0 {
            err = libbpf_sys::bpf_linker__finalize(linker);
        }
        libbpf_sys::bpf_linker__free(linker);
        if err != 0 {
            return Err(std::io::Error::from_raw_os_error(-err).to_string());
        }
    }
    let mut elf = vec![];
    out.rewind()
        .and_then(|_| out.read_to_end(&mut elf))
        .map_err(|e| e.to_string())?;
    Ok(elf)
}
