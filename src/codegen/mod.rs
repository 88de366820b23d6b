//! Checked program → LLVM IR (inkwell) → BPF ELF, packaged as a [`CompiledProgram`].
//!
//! Every `@map` becomes a BTF-described map in `.maps`; every probe block becomes one
//! program per attach-point group (see `sema::ProbeInfo::programs`).

mod expr;
pub mod func;
mod llvm_diagnostics;
mod loops;
mod maps;
mod percpu;
mod pointers;
mod scratch;
mod stmt;

use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple,
};
use inkwell::OptimizationLevel;

use crate::diag::{Diagnostic, Result};
use crate::program::{CompiledProgram, ProbeProgram};
use crate::sema::Checked;
pub use func::{FnGen, Val};

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
/// aligned (stack slots, map values, ring records).
const PIPELINE: &str = "function(sroa,early-cse<memssa>,instcombine,simplifycfg,gvn,dse,\
     infer-alignment,instcombine,simplifycfg)";

pub const RINGBUF: &str = "events";
pub const STACKS: &str = "stacks";

pub fn compile(ck: &Checked, keep_ir: bool) -> Result<Output> {
    let ctx = Context::create();
    let llvm_errors = llvm_diagnostics::capture(&ctx);
    let module = ctx.create_module("spyglass");
    let tm = target_machine()?;
    module.set_triple(&TargetTriple::create("bpfel"));
    module.set_data_layout(&tm.get_target_data().get_data_layout());

    let mut globals = maps::Globals::declare(&ctx, &module, ck);
    let mut probes = vec![];
    for (pi, (probe, info)) in ck.program.probes.iter().zip(&ck.probes).enumerate() {
        for (gi, points) in info.programs.iter().enumerate() {
            let name = format!("probe_{pi}_{gi}");
            let pt = crate::probes::of(&points[0].attach);
            let section = match points[0].btf_typed {
                true => pt.btf_section(&points[0].attach),
                false => None,
            }
            .unwrap_or_else(|| pt.section(&points[0].attach));
            FnGen::build(&ctx, &module, &globals, ck, pi, &points[0], &name, &section)?;
            probes.push(ProbeProgram {
                prog_name: name,
                attach: points.iter().map(|p| p.attach.clone()).collect(),
                span: probe.head_span(),
            });
        }
    }
    license(&ctx, &module, &ck.options.license);
    globals.finish(&ctx, ck);
    module
        .verify()
        .map_err(|e| Diagnostic::global(format!("internal error: invalid LLVM IR: {e}")))?;
    let ir_original = keep_ir.then(|| module.print_to_string().to_string());

    module
        .run_passes(PIPELINE, &tm, PassBuilderOptions::create())
        .map_err(|e| {
            Diagnostic::global(format!("internal error: LLVM optimisation failed: {e}"))
        })?;
    let ir = ir_original.map(|original| Ir {
        original,
        optimized: module.print_to_string().to_string(),
    });
    let elf = tm
        .write_to_memory_buffer(&module, FileType::Object)
        .map_err(|e| {
            Diagnostic::global(format!("internal error: BPF code generation failed: {e}"))
        })?
        .as_slice()
        .to_vec();
    if let Some(msg) = llvm_errors.take() {
        return Err(llvm_diagnostics::explain(&msg, ck, &probes));
    }

    Ok(Output {
        program: CompiledProgram {
            elf,
            probes,
            maps: ck.maps.clone(),
            events: ck.events.clone(),
            ringbuf: RINGBUF.into(),
            print_maps_on_exit: ck.options.print_maps_on_exit,
            output: ck.options.output.clone(),
            stack_map: ck.uses_stacks.then(|| STACKS.to_string()),
            skb_map: ck
                .uses_skboutput
                .then(|| crate::program::SKB_MAP.to_string()),
        },
        ir,
    })
}

fn target_machine() -> Result<TargetMachine> {
    Target::initialize_bpf(&InitializationConfig::default());
    llvm_options();
    let triple = TargetTriple::create("bpfel");
    let target = Target::from_triple(&triple)
        .map_err(|e| Diagnostic::global(format!("LLVM has no BPF target: {e}")))?;
    target
        .create_target_machine(
            &triple,
            "v3",
            "",
            OptimizationLevel::Default,
            RelocMode::PIC,
            CodeModel::Default,
        )
        .ok_or_else(|| Diagnostic::global("LLVM could not create a BPF target machine"))
}

/// Schedules instructions in source order before register allocation. The default list
/// scheduler grows with the square of a basic block's length (5,000 map assignments in one
/// probe: 4.5 s), and on BPF, which issues one instruction at a time, order buys nothing:
/// the benchmark programs compile to the same number of instructions either way.
fn llvm_options() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let args = [c"spyglass".as_ptr(), c"-pre-RA-sched=source".as_ptr()];
        // SAFETY: NUL-terminated strings that outlive the call; no overview text.
        unsafe {
            llvm_sys::support::LLVMParseCommandLineOptions(
                args.len() as i32,
                args.as_ptr(),
                std::ptr::null(),
            )
        };
    });
}

fn license<'ctx>(ctx: &'ctx Context, module: &Module<'ctx>, license: &str) {
    let text = ctx.const_string(license.as_bytes(), true);
    let g = module.add_global(text.get_type(), None, "LICENSE");
    g.set_initializer(&text);
    g.set_section(Some("license"));
    g.set_linkage(Linkage::External);
}
