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
//! programs and describing their maps (`gate.rs`). Whatever is laid out per program (a
//! program's own scratch region) gets a map per piece instead.
//!
//! Programs that differ only in their record ids are compiled once (`clones`): the gate
//! also decides which, and once every piece is emitted the copies are added to their
//! model's object before the link.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use inkwell::context::Context;

mod gate;

use super::clones::{self, Plan};
use super::maps::{Part, Shared};
use super::{emit, generate, llvm_diagnostics, target_machine, Lowerings, Unit};
use crate::diag::{Diagnostic, Result};
use crate::program::ProbeProgram;
use crate::sema::Checked;
use gate::Gate;

/// Programs per piece: enough that a piece's fixed cost (its maps' and globals' debug
/// info, a linker input) stays small, few enough that its string table does.
const PIECE: usize = 16;

/// Below this many programs one module on one thread is faster than starting threads and
/// linking.
pub fn worth_splitting(programs: usize) -> bool {
    programs >= 2 * PIECE
}

/// A piece's object, and its programs by unit; the programs left out to be copies.
struct Done {
    piece: usize,
    elf: Vec<u8>,
    probes: Vec<(usize, ProbeProgram)>,
    copies: Vec<(usize, ProbeProgram)>,
}

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
    done.sort_by_key(|d| d.piece);
    let (plan, shared) = gate.outcome();
    let shared = shared.usage.clone();
    let left = copy_programs(&plan, &mut done);
    if !left.is_empty() {
        // Copies that could not be made are compiled after all, as one more piece.
        let units: Vec<Unit> = units
            .iter()
            .filter(|u| left.contains(&u.at))
            .copied()
            .collect();
        let piece = pieces.len();
        let mut extra = compile_alone(ck, lower, &units, piece, &shared).map_err(|(_, e)| e)?;
        extra.probes = units
            .iter()
            .map(|u| u.at)
            .zip(extra.probes.drain(..).map(|p| p.1))
            .collect();
        done.push(extra);
    }
    let mut probes: Vec<(usize, ProbeProgram)> =
        done.iter_mut().flat_map(|d| d.probes.drain(..)).collect();
    probes.sort_by_key(|p| p.0);
    let objects: Vec<&[u8]> = done.iter().map(|d| &d.elf[..]).collect();
    let elf = link(&objects).map_err(|e| {
        Diagnostic::global(format!("internal error: linking the compiled pieces: {e}"))
    })?;
    Ok((elf, probes.into_iter().map(|p| p.1).collect()))
}

/// Adds each group's copies to the object of its first model (`clones.rs`); returns the
/// programs that could not be copied.
fn copy_programs(plan: &Plan, done: &mut [Done]) -> HashSet<usize> {
    let mut left = HashSet::new();
    let piece_of = |unit: usize| unit / PIECE;
    let index: HashMap<usize, usize> = done.iter().enumerate().map(|(i, d)| (d.piece, i)).collect();
    let mut edited: HashMap<usize, clones::elf::Object> = HashMap::new();
    for g in &plan.groups {
        let [a, b] = g.models.map(|m| &plan.shapes[&m]);
        let made = (|| -> std::result::Result<(), String> {
            #[cfg(test)]
            if tests::FAIL_COPIES.load(std::sync::atomic::Ordering::Relaxed) {
                return Err("failure injected by a test".into());
            }
            let obj_b = clones::elf::Object::parse(&done[index[&piece_of(b.unit)]].elf)?;
            let ia = index[&piece_of(a.unit)];
            if let std::collections::hash_map::Entry::Vacant(v) = edited.entry(ia) {
                v.insert(clones::elf::Object::parse(&done[ia].elf)?);
            }
            let obj_a = &edited[&ia];
            let (pa, pb) = (obj_a.program(&a.name)?, obj_b.program(&b.name)?);
            let sites = clones::slot_sites(&pa, &pb, &a.slots, &b.slots)?;
            let copies: Vec<clones::elf::Copy> = g
                .copies
                .iter()
                .map(|c| {
                    let s = &plan.shapes[c];
                    clones::elf::Copy {
                        name: s.name.clone(),
                        section: s.section.clone(),
                        code: clones::patch(pa.code, &sites, &s.slots),
                    }
                })
                .collect();
            edited
                .get_mut(&ia)
                .expect("parsed above")
                .add_copies(&a.name, &copies)
        })();
        match made {
            Ok(()) => {
                for c in &g.copies {
                    let from = index[&piece_of(*c)];
                    let at = done[from].copies.iter().position(|p| p.0 == *c);
                    if let Some(at) = at {
                        let p = done[from].copies.swap_remove(at);
                        done[from].probes.push(p);
                    }
                }
            }
            Err(_) => left.extend(g.copies.iter().copied()),
        }
    }
    for (i, obj) in edited {
        done[i].elf = obj.write();
    }
    left
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
    let mut prints = vec![];
    if let Ok(Ok((_, built))) = &generated {
        for (_, b) in built {
            usage.merge(&b.globals.usage());
            prints.extend(b.shapes.iter().map(|s| s.print));
        }
    }
    let pooled = gate.pool(usage, prints);
    let mut shapes = vec![];
    if let Ok(Ok((_, built))) = &generated {
        for (_, b) in built {
            let alike: Vec<_> = b
                .shapes
                .iter()
                .filter(|s| pooled.alike.contains(&s.print))
                .collect();
            // Past the first meeting, on to the second whatever happens.
            let found = catch_unwind(AssertUnwindSafe(|| clones::shapes_of(&b.module, &alike)));
            shapes.extend(found.unwrap_or_default());
        }
    }
    let plan = gate.plan(shapes);
    let shared = pooled.usage.clone();
    let (tm, built) = match generated {
        Ok(r) => r?,
        Err(panic) => resume_unwind(panic),
    };
    let mut done = vec![];
    for (p, b) in built {
        let mut piece = Done {
            piece: p,
            elf: vec![],
            probes: vec![],
            copies: vec![],
        };
        let mut models = HashSet::new();
        for (u, probe) in pieces[p].iter().zip(&b.probes) {
            if plan.is_copy(u.at) {
                if let Some(f) = b.module.get_function(&probe.prog_name) {
                    // SAFETY: a program is called by nothing.
                    unsafe { f.delete() };
                }
                piece.copies.push((u.at, probe.clone()));
                continue;
            }
            if plan.is_model(u.at) {
                models.insert(probe.prog_name.clone());
            }
            piece.probes.push((u.at, probe.clone()));
        }
        clones::resolve(&ctx, &b.module, &models);
        let probes = b.probes.clone();
        let (elf, _) = emit(&ctx, b, &tm, ck, &shared, false).map_err(|e| (p, e))?;
        if let Some(msg) = llvm_errors.take() {
            return Err((p, llvm_diagnostics::explain(&msg, ck, &probes)));
        }
        piece.elf = elf;
        done.push(piece);
    }
    Ok(done)
}

/// Compiles `units` as piece `piece`, on this thread, none of them copied.
fn compile_alone(
    ck: &Checked,
    lower: &dyn Lowerings,
    units: &[Unit],
    piece: usize,
    shared: &Shared,
) -> PieceResult<Done> {
    let ctx = Context::create();
    let llvm_errors = llvm_diagnostics::capture(&ctx);
    let b = generate(&ctx, ck, lower, units, Part::Piece(piece)).map_err(|e| (piece, e))?;
    let tm = target_machine().map_err(|e| (piece, e))?;
    clones::resolve(&ctx, &b.module, &HashSet::new());
    let probes = b.probes.clone();
    let (elf, _) = emit(&ctx, b, &tm, ck, shared, false).map_err(|e| (piece, e))?;
    if let Some(msg) = llvm_errors.take() {
        return Err((piece, llvm_diagnostics::explain(&msg, ck, &probes)));
    }
    Ok(Done {
        piece,
        elf,
        probes: probes.into_iter().map(|p| (0, p)).collect(),
        copies: vec![],
    })
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use crate::sema::catalogue::{BuiltinType, Catalogue, TypeRule};

    /// Makes every copy fail, as a copy whose models differ beyond their ids does.
    pub(super) static FAIL_COPIES: AtomicBool = AtomicBool::new(false);

    /// No builtins, no functions: codegen sees no more of the catalogue than its traits.
    struct Bare;

    impl crate::parser::Vocabulary for Bare {
        fn is_function(&self, _: &str) -> bool {
            false
        }
        fn is_builtin(&self, _: &str) -> bool {
            false
        }
        fn prelude(&self) -> &'static str {
            ""
        }
    }

    impl Catalogue for Bare {
        fn builtin(&self, _: &str) -> Option<BuiltinType> {
            None
        }
        fn function(&self, _: &str) -> Option<&'static dyn TypeRule> {
            None
        }
        fn builtin_names(&self) -> Vec<&'static str> {
            vec![]
        }
        fn function_names(&self) -> Vec<&'static str> {
            vec![]
        }
    }

    impl super::Lowerings for Bare {
        fn builtin(&self, _: &str) -> Option<super::super::lowering::BuiltinGen> {
            None
        }
        fn function(&self, _: &str) -> Option<&'static dyn super::super::Lowering> {
            None
        }
    }

    /// A failed edit used to leave the copies made before the failure in the object, where
    /// the fallback then compiled them again.
    #[test]
    fn a_copy_that_fails_leaves_the_object_as_it_was() {
        use crate::codegen::clones::elf::{Copy, Object};
        let src = "tracepoint:syscalls:sys_enter_getpid { $x = 1; @m[$x] = 2; }\n";
        let ast = crate::parser::parse(src, &Bare).unwrap();
        let checked = crate::sema::check(ast, Default::default(), &Bare).unwrap();
        let elf = super::super::compile(&checked, &Bare, false)
            .unwrap()
            .program
            .elf;
        let original = Object::parse(&elf).unwrap();
        let code = original.program("probe_0_0").unwrap().code.to_vec();
        let copy = |name: &str, code: Vec<u8>| Copy {
            name: name.into(),
            section: "tracepoint/syscalls/sys_enter_getppid".into(),
            code,
        };
        let mut edited = original.clone();
        let bad = [
            copy("probe_1_0", code.clone()),
            copy("probe_2_0", vec![0; 8]),
        ];
        assert!(edited.add_copies("probe_0_0", &bad).is_err());
        assert_eq!(edited.write(), original.clone().write());
        let mut edited = original.clone();
        edited
            .add_copies("probe_0_0", &[copy("probe_1_0", code.clone())])
            .unwrap();
        let again = Object::parse(&edited.write()).unwrap();
        assert_eq!(again.program("probe_1_0").unwrap().code, &code[..]);
    }

    #[test]
    fn copies_that_cannot_be_made_are_compiled() {
        let n = 3 * super::PIECE;
        // Alike programs, each with a "map full" warning of its own.
        let src: String = (0..n)
            .map(|_| "tracepoint:syscalls:sys_enter_getpid { $x = 1; @m[$x] = 2; }\n")
            .collect();
        let ast = crate::parser::parse(&src, &Bare).unwrap();
        let checked = crate::sema::check(ast, Default::default(), &Bare).unwrap();
        FAIL_COPIES.store(true, Ordering::Relaxed);
        let out = super::super::compile(&checked, &Bare, false);
        FAIL_COPIES.store(false, Ordering::Relaxed);
        let program = out.unwrap().program;
        let names: Vec<String> = program.probes.iter().map(|p| p.prog_name.clone()).collect();
        let expected: Vec<String> = (0..n).map(|i| format!("probe_{i}_0")).collect();
        assert_eq!(names, expected, "every program, in order");
        use object::{Object, ObjectSymbol};
        let elf = object::File::parse(&*program.elf).unwrap();
        for name in &expected {
            assert!(
                elf.symbols().any(|s| s.name() == Ok(name.as_str())),
                "{name} is in the object"
            );
        }
    }
}
