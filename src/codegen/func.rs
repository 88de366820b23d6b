//! One BPF program: the function, its stack slots, helper calls, map keys, events and
//! statements. Expressions are in `expr.rs`.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::types::{BasicMetadataTypeEnum, BasicTypeEnum};
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use super::maps::Globals;
use crate::diag::Result;
use crate::parser::ast::Expr;
use crate::program::{FieldType, MapId};
use crate::sema::{Checked, PointInfo, Type};

/// BPF helper ids (include/uapi/linux/bpf.h).
pub mod helper {
    pub const MAP_LOOKUP_ELEM: u64 = 1;
    pub const MAP_UPDATE_ELEM: u64 = 2;
    pub const MAP_DELETE_ELEM: u64 = 3;
    pub const GET_PRANDOM_U32: u64 = 7;
    pub const GET_SMP_PROCESSOR_ID: u64 = 8;
    pub const GET_CURRENT_PID_TGID: u64 = 14;
    pub const GET_CURRENT_UID_GID: u64 = 15;
    pub const GET_CURRENT_COMM: u64 = 16;
    pub const GET_CURRENT_TASK: u64 = 35;
    pub const PROBE_READ_USER: u64 = 112;
    pub const PROBE_READ_KERNEL: u64 = 113;
    pub const PROBE_READ_USER_STR: u64 = 114;
    pub const PROBE_READ_KERNEL_STR: u64 = 115;
    pub const KTIME_GET_BOOT_NS: u64 = 125;
    pub const GET_CURRENT_TASK_BTF: u64 = 158;
    pub const RINGBUF_OUTPUT: u64 = 130;
}

/// A lowered value: integers and bools are always i64; strings and tuples live in memory
/// (a stack buffer or a map value) laid out as their `FieldType`.
#[derive(Clone)]
pub enum Val<'ctx> {
    Int(IntValue<'ctx>),
    Str(PointerValue<'ctx>, u32),
    Tuple(PointerValue<'ctx>, Vec<FieldType>),
    Record(PointerValue<'ctx>, Vec<String>, Vec<FieldType>),
    Void,
}

impl<'ctx> Val<'ctx> {
    pub fn int(self) -> IntValue<'ctx> {
        match self {
            Val::Int(v) => v,
            _ => panic!("sema guarantees an integer here"),
        }
    }
}

/// Frame slots a `return` inside a loop callback writes.
const RETURNED: &str = "#returned";
const RETURN_CODE: &str = "#return_code";

pub struct FnGen<'a, 'ctx> {
    pub ctx: &'ctx Context,
    pub b: Builder<'ctx>,
    pub globals: &'a Globals<'ctx>,
    pub ck: &'a Checked,
    /// The function catalogue (`lowering.rs`).
    pub(super) lower: &'a dyn super::Lowerings,
    pub point: &'a PointInfo,
    pub func: FunctionValue<'ctx>,
    pub(super) module: &'a Module<'ctx>,
    /// Stack slots must all live in the entry block (BPF has no dynamic stack).
    entry: BasicBlock<'ctx>,
    body: BasicBlock<'ctx>,
    pub ctx_ptr: PointerValue<'ctx>,
    /// Every `$variable` of the probe lives in one frame, so loop callbacks can share them.
    pub(super) frame: PointerValue<'ctx>,
    /// Each variable's offset, type, and whether it is in `big_frame`.
    pub(super) frame_layout: Rc<BTreeMap<String, (usize, Type, bool)>>,
    /// Variables too large for the stack, at the start of the scratch region.
    pub(super) big_frame: Option<PointerValue<'ctx>>,
    pub(super) loops: Vec<super::loops::LoopExit<'ctx>>,
    /// The "map full" warning of the map write being generated.
    pub(super) update_event: Option<usize>,
    /// While the argument of a helper that wants a typed kernel object is generated
    /// (`path()`, `socket_cookie()`): members of the typed context are loaded straight from
    /// it, and a NULL one branches here.
    pub btf_null_exit: Option<BasicBlock<'ctx>>,
    probe_index: usize,
    pub(super) name: String,
    pub(super) callbacks: Rc<Cell<u32>>,
    /// Temporaries of the statements being generated, innermost last: each statement's
    /// buffers end with it, so LLVM can give later statements the same stack bytes.
    temps: std::cell::RefCell<Vec<Vec<(PointerValue<'ctx>, u64)>>>,
    /// Scratch allocation, shared with the program's loop callbacks (`scratch.rs`).
    pub(super) scratch: Rc<super::scratch::Scratch>,
    /// This function's scratch region, once looked up.
    pub(super) scratch_ptr: Cell<Option<PointerValue<'ctx>>>,
    /// Where code that runs before the body goes (the scratch lookup): between the entry
    /// block's stack slots and the body.
    pub(super) setup: Cell<BasicBlock<'ctx>>,
    /// Values computed once per run, in the setup blocks (`once`).
    once: std::cell::RefCell<std::collections::HashMap<&'static str, IntValue<'ctx>>>,
}

impl<'a, 'ctx> FnGen<'a, 'ctx> {
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        ctx: &'ctx Context,
        module: &'a Module<'ctx>,
        globals: &'a Globals<'ctx>,
        ck: &'a Checked,
        lower: &'a dyn super::Lowerings,
        probe_index: usize,
        point: &'a PointInfo,
        name: &str,
        section: &str,
    ) -> Result<()> {
        let ptr = ctx.ptr_type(AddressSpace::default());
        let fn_ty = ctx.i64_type().fn_type(&[ptr.into()], false);
        let func = module.add_function(name, fn_ty, Some(Linkage::External));
        func.set_section(Some(section));
        globals.describe_function(func, name, &["ctx"], false);
        // Variables over `on_stack_limit` bytes live in a second frame at the start of the
        // program's scratch region; the rest stay on the stack, where the verifier tracks
        // their values (a `while` counter read back from a map value would be unknown).
        let limit = ck.options.on_stack_limit as usize;
        let mut layout = BTreeMap::new();
        let (mut size, mut big, mut callbacks) = (0, 0, false);
        let vars: BTreeMap<_, _> = ck.probes[probe_index].vars.iter().collect();
        for (var, t) in vars {
            let n = t.field().map(|f| f.size()).unwrap_or(8);
            if n > limit {
                layout.insert(var.clone(), (big, t.clone(), true));
                big += n;
            } else {
                layout.insert(var.clone(), (size, t.clone(), false));
                size += n;
            }
            // A range loop keeps its start beside its variable, for the loop callback.
            if ck.loop_slots.values().any(|s| s == var) {
                layout.insert(format!("{var}#start"), (size, Type::INT, false));
                size += 8;
                callbacks = true;
            }
        }
        // A `return` inside a loop callback leaves its flag and code here for the caller.
        if callbacks {
            layout.insert(RETURNED.to_string(), (size, Type::INT, false));
            layout.insert(RETURN_CODE.to_string(), (size + 8, Type::INT, false));
            size += 16;
        }
        let mut g = FnGen::new(
            ctx,
            module,
            globals,
            ck,
            lower,
            probe_index,
            point,
            func,
            name.to_string(),
            Rc::new(globals.scratch_region(point)),
        );
        g.frame = g.stack_slot(size.max(8), "frame");
        // Allocated first and never released: the large frame starts the scratch region.
        if big > 0 {
            g.big_frame = Some(g.scratch(big as u64));
        }
        g.frame_layout = Rc::new(layout);
        let probe = &ck.program.probes[probe_index];
        // Blocks run from user space (`begin`, …) have no process to filter on.
        use crate::probes::AttachPoint as Ap;
        let unfiltered = !crate::probes::of(&point.attach).pid_filtered();
        if !point.attach.is_test_run() && !matches!(point.attach, Ap::Iter { .. }) {
            g.stop_check();
        }
        if let Some(off) = crate::probes::of(&point.attach).skip_unless_set(&point.attach) {
            g.skip_unless_set(off);
        }
        // The filter is generated last, where it goes: if the body reads the pid (once,
        // at the start), the filter reuses it.
        // Without `-p`, as known when compiling for this run, there is nothing to filter.
        let wanted = ck.options.host.is_none_or(|h| h.filter_pid);
        let filter = (!point.attach.is_test_run() && !unfiltered && wanted).then(|| {
            let at = g.b.get_insert_block().expect("inside a function");
            let rest = g.block("pid_ok");
            g.b.position_at_end(rest);
            (at, rest)
        });
        if let Some(pred) = &probe.predicate {
            let c = g.expr(pred)?.int();
            let cond = g.truthy(c);
            let go = g.block("pred_true");
            let stop = g.block("pred_false");
            g.b.build_conditional_branch(cond, go, stop).unwrap();
            g.b.position_at_end(stop);
            g.ret();
            g.b.position_at_end(go);
        }
        g.stmts(&probe.body)?;
        g.ret();
        if let Some((at, rest)) = filter {
            g.b.position_at_end(at);
            g.pid_filter(rest);
        }
        g.finish();
        globals.scratch_used(&g.scratch);
        Ok(())
    }

    /// Returns at once when spyglass is stopping (`program::STOP`).
    fn stop_check(&mut self) {
        let flag = self.globals.stop_flag(self.ctx, self.module);
        let v = self
            .b
            .build_load(self.ctx.i64_type(), flag.as_pointer_value(), "stopping")
            .unwrap()
            .into_int_value();
        let stopping = self
            .b
            .build_int_compare(IntPredicate::NE, v, self.i64(0), "stopping")
            .unwrap();
        self.return_if(stopping, "stopped", "running");
    }

    /// Returns from the program when `cond` holds; generation goes on in the other branch.
    pub(super) fn return_if(&self, cond: IntValue<'ctx>, stop: &str, go: &str) {
        let (stop, go) = (self.block(stop), self.block(go));
        self.b.build_conditional_branch(cond, stop, go).unwrap();
        self.b.position_at_end(stop);
        self.ret();
        self.b.position_at_end(go);
    }

    /// Returns early when the context's pointer at `off` is NULL (an iterator's last call).
    fn skip_unless_set(&mut self, off: u32) {
        let v = self.load_i64(self.gep(self.ctx_ptr, off as u64));
        let null = self
            .b
            .build_int_compare(IntPredicate::EQ, v, self.i64(0), "noobj")
            .unwrap();
        self.return_if(null, "iter_done", "iter_obj");
    }

    /// A slot of the `.rodata` constants array (`program::rodata`).
    pub fn rodata_word(&self, slot: usize) -> IntValue<'ctx> {
        let p = self.gep(self.globals.rodata.as_pointer_value(), 8 * slot as u64);
        let l = self.b.build_load(self.ctx.i64_type(), p, "glob").unwrap();
        // Volatile: the value is filled in by the runtime, never known at compile time.
        inkwell::values::BasicValue::as_instruction_value(&l)
            .unwrap()
            .set_volatile(true)
            .unwrap();
        l.into_int_value()
    }

    /// `-p PID`'s implicit `pid == PID`. The slot is frozen `.rodata`, so without `-p` the
    /// verifier sees the constant 0 and drops the check.
    fn pid_filter(&mut self, go: BasicBlock<'ctx>) {
        let want = self.rodata_word(crate::program::rodata::FILTER_PID);
        let on = self
            .b
            .build_int_compare(IntPredicate::NE, want, self.i64(0), "pidfilter")
            .unwrap();
        let (check, stop) = (self.block("pid_check"), self.block("pid_other"));
        self.b.build_conditional_branch(on, check, go).unwrap();
        self.b.position_at_end(check);
        use super::task::{pid_tgid_here, PID_TGID};
        let pid = self
            .once_known(PID_TGID)
            .unwrap_or_else(|| pid_tgid_here(self));
        let pid = self
            .b
            .build_right_shift(pid, self.i64(32), false, "pid")
            .unwrap();
        let other = self
            .b
            .build_int_compare(IntPredicate::NE, pid, want, "otherpid")
            .unwrap();
        self.b.build_conditional_branch(other, stop, go).unwrap();
        self.b.position_at_end(stop);
        self.ret();
    }

    /// A function being generated: `nounwind`, an entry block for stack slots, a body.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        ctx: &'ctx Context,
        module: &'a Module<'ctx>,
        globals: &'a Globals<'ctx>,
        ck: &'a Checked,
        lower: &'a dyn super::Lowerings,
        probe_index: usize,
        point: &'a PointInfo,
        func: FunctionValue<'ctx>,
        name: String,
        scratch: Rc<super::scratch::Scratch>,
    ) -> Self {
        let nounwind = ctx.create_enum_attribute(
            inkwell::attributes::Attribute::get_named_enum_kind_id("nounwind"),
            0,
        );
        func.add_attribute(inkwell::attributes::AttributeLoc::Function, nounwind);
        let entry = ctx.append_basic_block(func, "entry");
        let setup = ctx.append_basic_block(func, "setup");
        let body = ctx.append_basic_block(func, "body");
        let b = ctx.create_builder();
        b.position_at_end(body);
        let first = match func.get_nth_param(0) {
            Some(inkwell::values::BasicValueEnum::PointerValue(p)) => p,
            _ => ctx.ptr_type(AddressSpace::default()).const_null(),
        };
        FnGen {
            ctx,
            b,
            globals,
            ck,
            lower,
            point,
            func,
            module,
            entry,
            body,
            ctx_ptr: first,
            frame: first,
            frame_layout: Rc::new(BTreeMap::new()),
            loops: vec![],
            update_event: None,
            btf_null_exit: None,
            probe_index,
            name,
            callbacks: Rc::new(Cell::new(0)),
            temps: Default::default(),
            scratch,
            scratch_ptr: Cell::new(None),
            setup: Cell::new(setup),
            once: Default::default(),
            big_frame: None,
        }
    }

    /// A value computed once per run of the program, at its start (the setup blocks
    /// dominate the body), however often the body asks for it: for what cannot change
    /// during a run, like the current task's ids. A use in a branch the run does not take
    /// still costs the computation; a use in every branch costs it once, and LLVM compiles
    /// it once. `gen` runs in the setup blocks, so it must not allocate statement
    /// temporaries (`stack`); `entry_slot` is whole-function.
    pub fn once(
        &self,
        key: &'static str,
        gen: impl FnOnce(&Self) -> IntValue<'ctx>,
    ) -> IntValue<'ctx> {
        if let Some(v) = self.once_known(key) {
            return v;
        }
        let v = self.at_setup(gen);
        self.once.borrow_mut().insert(key, v);
        v
    }

    /// Runs `gen` at the end of the setup blocks (which it may extend), then goes back to
    /// where generation was.
    pub(super) fn at_setup<T>(&self, gen: impl FnOnce(&Self) -> T) -> T {
        let here = self.b.get_insert_block().expect("inside a function");
        self.b.position_at_end(self.setup.get());
        let v = gen(self);
        self.setup
            .set(self.b.get_insert_block().expect("inside a function"));
        self.b.position_at_end(here);
        v
    }

    /// The value of `once(key, …)` if the program computes it.
    pub fn once_known(&self, key: &'static str) -> Option<IntValue<'ctx>> {
        self.once.borrow().get(key).copied()
    }

    /// Closes the entry and setup blocks once every stack slot and lookup is known.
    pub(super) fn finish(&self) {
        let tail = self.ctx.create_builder();
        tail.position_at_end(self.entry);
        let first_setup = self
            .func
            .get_basic_block_iter()
            .find(|b| b.get_name().to_str() == Ok("setup"))
            .expect("every function has a setup block");
        tail.build_unconditional_branch(first_setup).unwrap();
        tail.position_at_end(self.setup.get());
        tail.build_unconditional_branch(self.body).unwrap();
    }

    pub(super) fn ret(&self) {
        self.b.build_return(Some(&self.i64(0))).unwrap();
    }

    /// `return [code]`. Inside a loop callback it stops the loop and leaves the code for the
    /// caller, which returns in turn (`after_callback_loop`).
    pub(super) fn ret_stmt(&mut self, value: Option<&crate::parser::ast::Expr>) -> Result<()> {
        let code = match value {
            Some(e) => {
                let signed = self.ck.ty(e.id).is_signed();
                let v = self.expr(e)?.int();
                self.b
                    .build_int_cast_sign_flag(v, self.ctx.i64_type(), signed, "code")
                    .unwrap()
            }
            None => self.i64(0),
        };
        if self.in_callback() {
            let (flag, _) = self.var_slot(RETURNED);
            self.store_i64(flag, self.i64(1));
            let (slot, _) = self.var_slot(RETURN_CODE);
            self.store_i64(slot, code);
            self.b.build_return(Some(&self.i64(1))).unwrap();
        } else {
            self.b.build_return(Some(&code)).unwrap();
        }
        let dead = self.block("after_return");
        self.b.position_at_end(dead);
        Ok(())
    }

    pub(super) fn in_callback(&self) -> bool {
        self.loops
            .iter()
            .any(|l| matches!(l, super::loops::LoopExit::Callback))
    }

    /// After `bpf_loop`/`bpf_for_each_map_elem`: a `return` in the body ends this function
    /// too (the probe with the code, or, in an enclosing callback, its loop).
    pub(super) fn after_callback_loop(&mut self) {
        let (flag, _) = self.var_slot(RETURNED);
        let set = self.load_i64(flag);
        let set = self.truthy(set);
        let (out, on) = (self.block("loop_returned"), self.block("loop_done"));
        self.b.build_conditional_branch(set, out, on).unwrap();
        self.b.position_at_end(out);
        if self.in_callback() {
            self.b.build_return(Some(&self.i64(1))).unwrap();
        } else {
            let (slot, _) = self.var_slot(RETURN_CODE);
            let code = self.load_i64(slot);
            self.b.build_return(Some(&code)).unwrap();
        }
        self.b.position_at_end(on);
    }

    /// Clears the flag `after_callback_loop` reads.
    pub(super) fn before_callback_loop(&mut self) {
        let (flag, _) = self.var_slot(RETURNED);
        self.store_i64(flag, self.i64(0));
    }

    /// Ends the probe here (`exit()`); code after it goes into a dead block LLVM removes.
    pub fn ret_and_continue(&self) {
        self.ret();
        let dead = self.block("after_return");
        self.b.position_at_end(dead);
    }

    pub fn block(&self, name: &str) -> BasicBlock<'ctx> {
        self.ctx.append_basic_block(self.func, name)
    }

    pub fn i64(&self, v: u64) -> IntValue<'ctx> {
        self.ctx.i64_type().const_int(v, false)
    }

    pub fn ptr_type(&self) -> inkwell::types::PointerType<'ctx> {
        self.ctx.ptr_type(AddressSpace::default())
    }

    /// A stack buffer of `size` bytes (rounded up to 8): allocated in the entry block (BPF
    /// has no dynamic stack), live from here to the end of the current statement, and zeroed
    /// here: the verifier rejects reads of stack it cannot prove written, and keys must not
    /// carry stale padding. Stores that overwrite it all are removed by DSE.
    pub fn stack(&self, size: usize, name: &str) -> PointerValue<'ctx> {
        let size = (size.max(1) + 7) & !7;
        if self.in_scratch(size as u64) {
            return self.scratch(size as u64);
        }
        self.stack_slot(size, name)
    }

    /// `stack` without the move to scratch of large buffers.
    pub(super) fn stack_slot(&self, size: usize, name: &str) -> PointerValue<'ctx> {
        let size = (size.max(1) + 7) & !7;
        let ty = self.ctx.i64_type().array_type((size / 8) as u32);
        let ab = self.ctx.create_builder();
        match self.entry.get_first_instruction() {
            Some(i) => ab.position_before(&i),
            None => ab.position_at_end(self.entry),
        }
        let p = ab.build_alloca(ty, name).unwrap();
        self.lifetime("llvm.lifetime.start", p, size as u64);
        if let Some(scope) = self.temps.borrow_mut().last_mut() {
            scope.push((p, size as u64));
        }
        self.zero(p, size);
        p
    }

    /// Runs `f` as one statement: the temporaries it allocates end when it does.
    pub(super) fn statement<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        self.temps.borrow_mut().push(vec![]);
        let mark = self.scratch.mark();
        let out = f(self);
        self.scratch.release(mark);
        let ended = self.temps.borrow_mut().pop().unwrap_or_default();
        for (p, size) in ended {
            self.lifetime("llvm.lifetime.end", p, size);
        }
        out
    }

    fn lifetime(&self, which: &str, p: PointerValue<'ctx>, size: u64) {
        let f = inkwell::intrinsics::Intrinsic::find(which)
            .and_then(|i| i.get_declaration(self.module, &[self.ptr_type().into()]))
            .expect("LLVM has the lifetime intrinsics");
        self.b
            .build_call(f, &[self.i64(size).into(), p.into()], "")
            .unwrap();
    }

    /// Copies `n` bytes. LLVM's BPF back end inlines a copy as at most 128 loads and stores
    /// and cannot call `memcpy`, so larger copies are one `bpf_probe_read_kernel` (both sides
    /// are program memory). `aligned`: both pointers are 8-byte aligned (word copies).
    pub fn copy(&self, dst: PointerValue<'ctx>, src: PointerValue<'ctx>, n: u64, aligned: bool) {
        let align = if aligned { 8 } else { 1 };
        if n / align as u64 <= 64 {
            self.b
                .build_memcpy(dst, align, src, align, self.i64(n))
                .unwrap();
            return;
        }
        self.helper_int(
            helper::PROBE_READ_KERNEL,
            &[dst.into(), self.i64(n).into(), src.into()],
        );
    }

    /// A stack slot for the whole function, neither zeroed nor scoped (a helper's key).
    pub fn entry_slot(&self, size: usize, name: &str) -> PointerValue<'ctx> {
        let ty = self.ctx.i64_type().array_type(size.div_ceil(8) as u32);
        let ab = self.ctx.create_builder();
        match self.entry.get_first_instruction() {
            Some(i) => ab.position_before(&i),
            None => ab.position_at_end(self.entry),
        }
        ab.build_alloca(ty, name).unwrap()
    }

    /// Zeroes 8-aligned memory. Past what LLVM inlines (see `copy`), one
    /// `bpf_probe_read_kernel` from address 0, which fails and, as documented, clears its
    /// destination.
    pub fn zero(&self, p: PointerValue<'ctx>, size: usize) {
        if size <= 256 {
            self.b
                .build_memset(p, 8, self.ctx.i8_type().const_zero(), self.i64(size as u64))
                .unwrap();
            return;
        }
        let null = self.ptr_type().const_null();
        self.helper_int(
            helper::PROBE_READ_KERNEL,
            &[p.into(), self.i64(size as u64).into(), null.into()],
        );
    }

    pub fn gep(&self, p: PointerValue<'ctx>, offset: u64) -> PointerValue<'ctx> {
        if offset == 0 {
            return p;
        }
        unsafe {
            self.b
                .build_gep(self.ctx.i8_type(), p, &[self.i64(offset)], "off")
                .unwrap()
        }
    }

    /// Generates `arg` as a pointer the verifier knows by its BTF type (see
    /// `btf_null_exit`): the value, and the block reached instead when a context member
    /// on the way is NULL.
    pub fn btf_object(&mut self, arg: &Expr) -> Result<(IntValue<'ctx>, BasicBlock<'ctx>)> {
        let null = self.block("btf_null");
        let outer = self.btf_null_exit.replace(null);
        let v = self.expr(arg);
        self.btf_null_exit = outer;
        Ok((v?.int(), null))
    }

    pub fn load_i64(&self, p: PointerValue<'ctx>) -> IntValue<'ctx> {
        self.b
            .build_load(self.ctx.i64_type(), p, "v")
            .unwrap()
            .into_int_value()
    }

    pub fn store_i64(&self, p: PointerValue<'ctx>, v: IntValue<'ctx>) {
        self.b.build_store(p, v).unwrap();
    }

    /// `v != 0` as an i1.
    pub fn truthy(&self, v: IntValue<'ctx>) -> IntValue<'ctx> {
        self.b
            .build_int_compare(IntPredicate::NE, v, self.i64(0), "t")
            .unwrap()
    }

    /// Calls a BPF helper by id; helpers are called through their number as an address.
    pub fn helper(
        &self,
        id: u64,
        args: &[BasicMetadataValueEnum<'ctx>],
        ret_ptr: bool,
    ) -> BasicTypeEnumValue<'ctx> {
        let params: Vec<BasicMetadataTypeEnum> = args
            .iter()
            .map(|a| match a {
                BasicMetadataValueEnum::PointerValue(_) => self.ptr_type().into(),
                _ => self.ctx.i64_type().into(),
            })
            .collect();
        let ret: BasicTypeEnum = if ret_ptr {
            self.ptr_type().into()
        } else {
            self.ctx.i64_type().into()
        };
        let fn_ty = match ret {
            BasicTypeEnum::PointerType(p) => p.fn_type(&params, false),
            _ => self.ctx.i64_type().fn_type(&params, false),
        };
        let callee = self.i64(id).const_to_pointer(self.ptr_type());
        let v = self
            .b
            .build_indirect_call(fn_ty, callee, args, "h")
            .unwrap();
        if ret_ptr && id == helper::MAP_LOOKUP_ELEM {
            // Map values are 8-byte aligned; saying so lets LLVM copy strings into them
            // a word at a time instead of a byte at a time.
            let align = inkwell::attributes::Attribute::get_named_enum_kind_id("align");
            v.add_attribute(
                inkwell::attributes::AttributeLoc::Return,
                self.ctx.create_enum_attribute(align, 8),
            );
        }
        if matches!(id, helper::GET_CURRENT_TASK | helper::GET_CURRENT_TASK_BTF) {
            // The same answer all through a run, and no effect: told so, LLVM keeps one
            // call where one dominates the others (the `pid` of the setup blocks serves a
            // `comm` of the body) and still leaves a call in a branch inside it.
            for (name, value) in [("memory", 0), ("nounwind", 0), ("willreturn", 0)] {
                let kind = inkwell::attributes::Attribute::get_named_enum_kind_id(name);
                v.add_attribute(
                    inkwell::attributes::AttributeLoc::Function,
                    self.ctx.create_enum_attribute(kind, value),
                );
            }
        }
        let v = v
            .try_as_basic_value()
            .basic()
            .expect("helpers return a value");
        if ret_ptr {
            BasicTypeEnumValue::Ptr(v.into_pointer_value())
        } else {
            BasicTypeEnumValue::Int(v.into_int_value())
        }
    }

    /// A helper whose result is unused (declared `void` so LLVM keeps no value around).
    pub fn helper_void(&self, id: u64, args: &[BasicMetadataValueEnum<'ctx>]) {
        let params: Vec<BasicMetadataTypeEnum> = args
            .iter()
            .map(|a| match a {
                BasicMetadataValueEnum::PointerValue(_) => self.ptr_type().into(),
                _ => self.ctx.i64_type().into(),
            })
            .collect();
        let fn_ty = self.ctx.void_type().fn_type(&params, false);
        let callee = self.i64(id).const_to_pointer(self.ptr_type());
        self.b.build_indirect_call(fn_ty, callee, args, "").unwrap();
    }

    pub fn helper_int(&self, id: u64, args: &[BasicMetadataValueEnum<'ctx>]) -> IntValue<'ctx> {
        match self.helper(id, args, false) {
            BasicTypeEnumValue::Int(v) => v,
            BasicTypeEnumValue::Ptr(_) => unreachable!(),
        }
    }

    pub fn map_ptr(&self, map: MapId) -> PointerValue<'ctx> {
        if !crate::probes::of(&self.point.attach).process_context(&self.point.attach) {
            self.globals.interrupt_maps.borrow_mut().insert(map);
        }
        self.globals
            .map(self.ctx, self.module, self.ck, map)
            .as_pointer_value()
    }

    /// `bpf_map_lookup_elem`: a pointer to the value, or null.
    pub fn lookup(&self, map: MapId, key: PointerValue<'ctx>) -> PointerValue<'ctx> {
        self.lookup_in(self.map_ptr(map), key)
    }

    /// `bpf_map_lookup_elem` on a map given by its global.
    pub(super) fn lookup_in(
        &self,
        map: PointerValue<'ctx>,
        key: PointerValue<'ctx>,
    ) -> PointerValue<'ctx> {
        match self.helper(helper::MAP_LOOKUP_ELEM, &[map.into(), key.into()], true) {
            BasicTypeEnumValue::Ptr(p) => p,
            BasicTypeEnumValue::Int(_) => unreachable!(),
        }
    }

    pub fn update(&self, map: MapId, key: PointerValue<'ctx>, value: PointerValue<'ctx>) {
        let rc = self.helper_int(
            helper::MAP_UPDATE_ELEM,
            &[
                self.map_ptr(map).into(),
                key.into(),
                value.into(),
                self.i64(0).into(),
            ],
        );
        // A full hash map refuses new keys: bpftrace's warning, at the write in the script.
        if let Some(ev) = self.update_event {
            const E2BIG: u64 = 7;
            let full = self
                .b
                .build_int_compare(IntPredicate::EQ, rc, self.i64(E2BIG.wrapping_neg()), "full")
                .unwrap();
            let (warn, go) = (self.block("map_full"), self.block("map_ok"));
            self.b.build_conditional_branch(full, warn, go).unwrap();
            self.b.position_at_end(warn);
            self.warn(ev);
            self.b.build_unconditional_branch(go).unwrap();
            self.b.position_at_end(go);
        }
    }

    /// Runs `f` with map updates reporting a full map as the write `target` (see `update`).
    pub(super) fn writing<T>(
        &mut self,
        target: &crate::parser::ast::Expr,
        f: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let ev = self.ck.map_full_events.get(&target.id).copied();
        let prev = std::mem::replace(&mut self.update_event, ev);
        let r = f(self);
        self.update_event = prev;
        r
    }

    pub fn delete(&self, map: MapId, key: PointerValue<'ctx>) {
        self.helper_int(
            helper::MAP_DELETE_ELEM,
            &[self.map_ptr(map).into(), key.into()],
        );
    }

    /// Runs `then` when `p` is non-null, `otherwise` when it is null.
    pub fn if_null(
        &mut self,
        p: PointerValue<'ctx>,
        then: impl FnOnce(&mut Self) -> Result<()>,
        otherwise: impl FnOnce(&mut Self) -> Result<()>,
    ) -> Result<()> {
        let is_null = self.b.build_is_null(p, "isnull").unwrap();
        let (found, missing, done) = (
            self.block("found"),
            self.block("missing"),
            self.block("done"),
        );
        self.b
            .build_conditional_branch(is_null, missing, found)
            .unwrap();
        self.b.position_at_end(found);
        then(self)?;
        self.b.build_unconditional_branch(done).unwrap();
        self.b.position_at_end(missing);
        otherwise(self)?;
        self.b.build_unconditional_branch(done).unwrap();
        self.b.position_at_end(done);
        Ok(())
    }

    /// Stores a value into a field slot (8-byte ints, NUL-padded strings, tuples element by
    /// element, since a unified slot may be wider than the value's own layout).
    pub fn store_field(&self, dst: PointerValue<'ctx>, v: Val<'ctx>, field: &FieldType) {
        match (v, field) {
            (Val::Int(i), _) => self.store_i64(dst, i),
            (Val::Str(p, size), FieldType::Str { size: slot }) => {
                let n = size.min(*slot) as u64;
                self.copy(dst, p, n, false);
            }
            (Val::Record(p, names, elems), FieldType::Record(slot_names, slots)) => {
                // Records are matched by field name: `(b=1, a=2)` fits a slot typed `(a, b)`.
                let src_offs = FieldType::offsets(&elems);
                let dst_offs = FieldType::offsets(slots);
                for (i, (n, slot)) in slot_names.iter().zip(slots).enumerate() {
                    let j = names
                        .iter()
                        .position(|m| m == n)
                        .expect("sema unified the records");
                    let v = self.load_field(self.gep(p, src_offs[j] as u64), &elems[j]);
                    self.store_field(self.gep(dst, dst_offs[i] as u64), v, slot);
                }
            }
            (Val::Tuple(p, src), FieldType::Buf { .. } | FieldType::Array { .. }) => {
                // Buffers of other capacities unify to the larger; copy what both hold.
                let n = src
                    .iter()
                    .map(FieldType::size)
                    .sum::<usize>()
                    .min(field.size());
                self.copy(dst, p, n as u64, true);
            }
            (Val::Tuple(p, _), FieldType::Kind(_)) => {
                self.copy(dst, p, field.size() as u64, true);
            }
            (Val::Tuple(p, elems), FieldType::Tuple(slots)) if elems == *slots => {
                self.copy(dst, p, field.size() as u64, true);
            }
            (Val::Tuple(p, elems), FieldType::Tuple(slots)) => {
                let src_offs = FieldType::offsets(&elems);
                let dst_offs = FieldType::offsets(slots);
                for (i, slot) in slots.iter().enumerate() {
                    let v = self.load_field(self.gep(p, src_offs[i] as u64), &elems[i]);
                    self.store_field(self.gep(dst, dst_offs[i] as u64), v, slot);
                }
            }
            _ => unreachable!("sema unified the field types"),
        }
    }

    /// The value stored at `p` as `field`: integers are loaded, buffers are referenced.
    pub fn load_field(&self, p: PointerValue<'ctx>, field: &FieldType) -> Val<'ctx> {
        match field {
            FieldType::Int { .. }
            | FieldType::Bool
            | FieldType::Ptr { .. }
            | FieldType::Enum(_) => Val::Int(self.load_i64(p)),
            // A word in a register; larger kinds (`usym`'s address and pid) are copied
            // as a whole.
            FieldType::Kind(k) => match k.kind().size() {
                8 => Val::Int(self.load_i64(p)),
                n => Val::Tuple(p, vec![FieldType::Int { signed: false }; n / 8]),
            },
            FieldType::Str { size } => Val::Str(p, *size),
            // (length, data): copied as a whole, like a one-element tuple.
            FieldType::Buf { .. } | FieldType::Array { .. } => Val::Tuple(p, vec![field.clone()]),
            FieldType::Tuple(elems) => Val::Tuple(p, elems.clone()),
            FieldType::Record(names, elems) => Val::Record(p, names.clone(), elems.clone()),
            // (stack id, pid): copied as a whole.
        }
    }

    /// Builds the BPF key for `@map[keys]`; `extra` is appended (a histogram bucket).
    pub fn map_key(
        &mut self,
        map: MapId,
        keys: &[Expr],
        extra: Option<IntValue<'ctx>>,
    ) -> Result<PointerValue<'ctx>> {
        let spec = &self.ck.maps[map];
        let buf = self.stack(spec.key_size(), "key");
        let mut off = 0;
        let fields = spec.key.clone();
        if let [k] = keys {
            if let Type::Tuple(_) = self.ck.ty(k.id) {
                // A lone tuple key is the whole key, spread over the key fields.
                let v = self.expr(k)?;
                self.store_field(buf, v, &FieldType::Tuple(fields.clone()));
                off = FieldType::Tuple(fields).size();
                if let Some(e) = extra {
                    self.store_i64(self.gep(buf, off as u64), e);
                }
                return Ok(buf);
            }
        }
        for (k, f) in keys.iter().zip(fields) {
            let v = self.expr(k)?;
            self.store_field(self.gep(buf, off as u64), v, &f);
            off += f.size();
        }
        if let Some(e) = extra {
            self.store_i64(self.gep(buf, off as u64), e);
        }
        Ok(buf)
    }

    pub fn event_of(&self, call: &Expr) -> usize {
        self.ck.call_events[&call.id]
    }

    pub fn probe_index(&self) -> usize {
        self.probe_index
    }
}

/// A helper's return value.
pub enum BasicTypeEnumValue<'ctx> {
    Int(IntValue<'ctx>),
    Ptr(PointerValue<'ctx>),
}
