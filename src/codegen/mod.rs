//! Checked program → LLVM IR (inkwell) → BPF ELF, packaged as a [`CompiledProgram`].
//!
//! Every `@map` becomes a BTF-described map in `.maps`; every probe block becomes one
//! program per attach-point group (see `sema::ProbeInfo::programs`).

mod clones;
mod core;
mod expr;
pub mod func;
mod llvm_diagnostics;
mod llvm_init;
mod loops;
pub mod lowering;
mod machine;
mod maps;
mod parts;
mod percpu;
mod pointers;
mod record;
mod scratch;
mod slots;
mod stmt;
pub mod task;

use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{FileType, TargetMachine, TargetTriple};

use crate::diag::{Diagnostic, Result};
use crate::program::{CompiledProgram, ProbeProgram};
use crate::sema::{Checked, Resource};
pub use func::{FnGen, Val};
pub use lowering::{Lowering, Lowerings};
use machine::target_machine;
use maps::{Globals, Part, Shared};

/// What the compiler produced, plus the IR when it was asked for.
pub struct Output {
    pub program: CompiledProgram,
    pub ir: Option<Ir>,
}

/// LLVM IR text for `--emit-llvm`, `-d codegen` and the snapshot tests. Printing it costs
/// more than optimising a one-liner, so it is only produced on request.
pub struct Ir {
    pub original: String,
    pub optimized: String,
}

/// The optimisation passes. Probe programs are straight-line code around helper calls (loops
/// are `bpf_loop` callbacks, never inlined), so O2's inliner, loop and vectoriser passes find
/// nothing to do but still cost a quarter of a one-liner's start-up; these produce the same
/// instruction counts on the benchmark programs (see BENCHMARKS.md).
/// `infer-alignment` turns byte copies into word copies where the pointers are provably
/// aligned (stack slots, map values, ring records). `no-verify-fixpoint`: spelt as a pass
/// name, InstCombine runs a second round only to check the first changed nothing (and
/// aborts the process if it did); the output is the same without it, 8 % sooner.
const PIPELINE: &str = "function(sroa,early-cse<memssa>,instcombine<no-verify-fixpoint>,\
     simplifycfg,gvn,dse,infer-alignment,instcombine<no-verify-fixpoint>,simplifycfg)";

/// The kernel ring buffer: only a doorbell that wakes the reader (`record.rs`).
pub const DOORBELL: &str = "doorbell";
/// The records' own ring (`program::RecordRing`).
pub const RECORDS: &str = "records";
pub const STACKS: &str = "stacks";

/// Compiles a checked program; `lower` is the function catalogue (see `lowering.rs`).
pub fn compile(ck: &Checked, lower: &dyn Lowerings, keep_ir: bool) -> Result<Output> {
    llvm_init::ensure();
    let units: Vec<Unit> = ck
        .probes
        .iter()
        .enumerate()
        .flat_map(|(pi, info)| (0..info.programs.len()).map(move |gi| (pi, gi)))
        .enumerate()
        .map(|(at, (pi, gi))| Unit { pi, gi, at })
        .collect();
    let (elf, probes, ir) = if keep_ir || !parts::worth_splitting(units.len()) {
        whole(ck, lower, &units, keep_ir)?
    } else {
        let (elf, probes) = parts::compile(ck, lower, &units)?;
        (elf, probes, None)
    };
    Ok(Output {
        program: CompiledProgram {
            elf,
            probes,
            maps: ck.maps.clone(),
            events: ck.events.clone(),
            ringbuf: DOORBELL.into(),
            records: Some(crate::program::RecordRing {
                map: RECORDS.into(),
                size: ck.ring_pages() as u64 * 4096,
            }),
            print_maps_on_exit: ck.options.print_maps_on_exit,
            output: ck.options.output.clone(),
            stack_map: ck
                .resources
                .contains(&Resource::StackMap)
                .then(|| STACKS.to_string()),
            skb_map: ck
                .resources
                .contains(&Resource::SkbOutput)
                .then(|| crate::program::SKB_MAP.to_string()),
            // Set for artifacts only (`spyglass build`): a run here needs no check.
            built_on: None,
            tracepoint_layouts: Default::default(),
            fixed_layouts: ck.core.fixed.iter().cloned().collect(),
            binaries: Default::default(),
            params: ck.param_spec.clone(),
        },
        ir,
    })
}

/// One BPF program: attach-point group `gi` of probe block `pi`, the program `at` of all.
#[derive(Clone, Copy)]
struct Unit {
    pi: usize,
    gi: usize,
    at: usize,
}

/// The whole program in one module.
fn whole(
    ck: &Checked,
    lower: &dyn Lowerings,
    units: &[Unit],
    keep_ir: bool,
) -> Result<(Vec<u8>, Vec<ProbeProgram>, Option<Ir>)> {
    let ctx = Context::create();
    let llvm_errors = llvm_diagnostics::capture(&ctx);
    let built = generate(&ctx, ck, lower, units, Part::Whole)?;
    // Made ahead on the main thread during the above, on a cache miss (`machine.rs`).
    let tm = target_machine()?;
    let shared = built.globals.usage();
    let probes = built.probes.clone();
    let (elf, ir) = emit(&ctx, built, &tm, ck, &shared, keep_ir)?;
    if let Some(msg) = llvm_errors.take() {
        return Err(llvm_diagnostics::explain(&msg, ck, &probes));
    }
    Ok((elf, probes, ir))
}

/// A module with its programs generated, its shared maps not yet described.
struct Built<'ctx> {
    module: Module<'ctx>,
    globals: Globals<'ctx>,
    probes: Vec<ProbeProgram>,
    /// Of a piece's programs that could be copies of others (`clones.rs`).
    shapes: Vec<clones::Candidate>,
}

fn generate<'ctx>(
    ctx: &'ctx Context,
    ck: &Checked,
    lower: &dyn Lowerings,
    units: &[Unit],
    part: Part,
) -> Result<Built<'ctx>> {
    let module = ctx.create_module("spyglass");
    module.set_triple(&TargetTriple::create("bpfel"));
    module.set_data_layout(&machine::data_layout().get_data_layout());
    let globals = Globals::declare(ctx, &module, ck, part);
    let mut probes = vec![];
    let mut shapes = vec![];
    // CO-RE relocations are per program in `.BTF.ext`: those programs are not copied.
    let copyable = part != Part::Whole && ck.core.structs.is_empty();
    for &Unit { pi, gi, at } in units {
        let probe = &ck.program.probes[pi];
        let points = &ck.probes[pi].programs[gi];
        let name = format!("probe_{pi}_{gi}");
        let pt = crate::probes::of(&points[0].attach);
        let section = match points[0].btf_typed {
            true => pt.btf_section(&points[0].attach),
            false => None,
        }
        .unwrap_or_else(|| pt.section(&points[0].attach));
        FnGen::build(
            ctx, &module, &globals, ck, lower, pi, &points[0], &name, &section,
        )?;
        if let Some(func) = module.get_function(&name).filter(|_| copyable) {
            shapes.push(clones::Candidate {
                print: clones::fingerprint(func),
                name: name.clone(),
                section: section.clone(),
                unit: at,
            });
        }
        probes.push(ProbeProgram {
            prog_name: name,
            attach: points.iter().map(|p| p.attach.clone()).collect(),
            span: probe.head_span(),
            reads_args: ck.probes[pi].reads_args,
        });
    }
    // One license is enough: the linker concatenates the pieces' sections.
    match part {
        Part::Whole => license(ctx, &module, &ck.options.license, Linkage::External),
        // The linker wants BTF for every global symbol; libbpf reads the section only.
        Part::Piece(0) => license(ctx, &module, &ck.options.license, Linkage::Internal),
        Part::Piece(_) => {}
    }
    Ok(Built {
        module,
        globals,
        probes,
        shapes,
    })
}

/// Describes the maps, optimises and writes the BPF object.
fn emit<'ctx>(
    ctx: &'ctx Context,
    mut built: Built<'ctx>,
    tm: &TargetMachine,
    ck: &Checked,
    shared: &Shared,
    keep_ir: bool,
) -> Result<(Vec<u8>, Option<Ir>)> {
    let module = &built.module;
    built.globals.finish(ctx, ck, shared);
    module
        .verify()
        .map_err(|e| Diagnostic::global(format!("internal error: invalid LLVM IR: {e}")))?;
    let ir_original = keep_ir.then(|| module.print_to_string().to_string());
    // CO-RE accesses are turned into relocations by a BPF pass that runs only at the start
    // of a default pipeline; O0's is that and little else.
    let (pipeline, _one_at_a_time) = match ck.core.structs.is_empty() {
        true => (PIPELINE.to_string(), None),
        false => (
            format!("default<O0>,{PIPELINE}"),
            Some(core::PASSES.lock().unwrap_or_else(|p| p.into_inner())),
        ),
    };
    module
        .run_passes(&pipeline, tm, PassBuilderOptions::create())
        .map_err(|e| {
            Diagnostic::global(format!("internal error: LLVM optimisation failed: {e}"))
        })?;
    let ir = ir_original.map(|original| Ir {
        original,
        optimized: module.print_to_string().to_string(),
    });
    let elf = tm
        .write_to_memory_buffer(module, FileType::Object)
        .map_err(|e| {
            Diagnostic::global(format!("internal error: BPF code generation failed: {e}"))
        })?
        .as_slice()
        .to_vec();
    Ok((elf, ir))
}

pub use machine::warm_up;

fn license<'ctx>(ctx: &'ctx Context, module: &Module<'ctx>, license: &str, linkage: Linkage) {
    let text = ctx.const_string(license.as_bytes(), true);
    let g = module.add_global(text.get_type(), None, "LICENSE");
    g.set_initializer(&text);
    g.set_section(Some("license"));
    g.set_linkage(linkage);
}
