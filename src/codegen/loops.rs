//! Loops. Ranges and `while` are plain bounded loops the verifier walks; `for` over a map is
//! a callback run by `bpf_for_each_map_elem`, sharing the probe's variable frame through the
//! callback context pointer.

use inkwell::basic_block::BasicBlock;
use inkwell::module::Linkage;
use inkwell::values::IntValue;
use inkwell::IntPredicate;

use super::func::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Block, ForIter, Stmt, StmtKind};
use crate::program::{FieldType, MapKind};

const FOR_EACH_MAP_ELEM: u64 = 164;
const BPF_LOOP: u64 = 181;

/// Where `break` and `continue` go.
pub enum LoopExit<'ctx> {
    Blocks {
        cont: BasicBlock<'ctx>,
        brk: BasicBlock<'ctx>,
    },
    /// Inside a map-loop callback: returning 0 continues, 1 stops the iteration.
    Callback,
}

impl<'a, 'ctx> FnGen<'a, 'ctx> {
    pub(super) fn loop_stmt(&mut self, s: &Stmt) -> Result<()> {
        match &s.kind {
            StmtKind::While { cond, body } => {
                let (head, cont, brk) = (
                    self.block("while_cond"),
                    self.block("while_body"),
                    self.block("while_end"),
                );
                self.b.build_unconditional_branch(head).unwrap();
                self.b.position_at_end(head);
                let c = self.expr(cond)?.int();
                let c = self.truthy(c);
                self.b.build_conditional_branch(c, cont, brk).unwrap();
                self.b.position_at_end(cont);
                self.in_loop(LoopExit::Blocks { cont: head, brk }, body)?;
                self.b.build_unconditional_branch(head).unwrap();
                self.b.position_at_end(brk);
            }
            StmtKind::For {
                iter: ForIter::Range(a, b),
                body,
                ..
            } => {
                let start = self.expr(a)?.int();
                let end = self.expr(b)?.int();
                let slot = self.ck.loop_slots[&s.span.0].clone();
                self.range_loop(&slot, start, end, body)?;
            }
            StmtKind::For {
                iter: ForIter::Map { name, span },
                body,
                ..
            } => {
                let slot = self.ck.loop_slots[&s.span.0].clone();
                self.map_loop(&slot, name, *span, body)?
            }
            StmtKind::Break | StmtKind::Continue => {
                let is_break = matches!(s.kind, StmtKind::Break);
                match self.loops.last() {
                    Some(LoopExit::Blocks { cont, brk }) => {
                        let target = if is_break { *brk } else { *cont };
                        self.b.build_unconditional_branch(target).unwrap();
                        let dead = self.block("after_jump");
                        self.b.position_at_end(dead);
                    }
                    Some(LoopExit::Callback) => {
                        self.b
                            .build_return(Some(&self.i64(is_break as u64)))
                            .unwrap();
                        let dead = self.block("after_jump");
                        self.b.position_at_end(dead);
                    }
                    None => {
                        return Err(Diagnostic::error(
                            "`break`/`continue` outside a loop",
                            s.span,
                        ))
                    }
                }
            }
            _ => unreachable!("not a loop statement"),
        }
        Ok(())
    }

    fn in_loop(&mut self, exit: LoopExit<'ctx>, body: &Block) -> Result<()> {
        self.loops.push(exit);
        let r = self.stmts(body);
        self.loops.pop();
        r
    }

    /// `for ($i : a..b)`: the body becomes `long cb(u64 index, frame)` run by `bpf_loop`, so
    /// the verifier checks it once whatever the bounds (they are only known at run time).
    fn range_loop(
        &mut self,
        var: &str,
        start: IntValue<'ctx>,
        end: IntValue<'ctx>,
        body: &Block,
    ) -> Result<()> {
        let (start_slot, _) = self.var_slot(&format!("{var}#start"));
        self.store_i64(start_slot, start);
        let span = self.b.build_int_sub(end, start, "span").unwrap();
        let empty = self
            .b
            .build_int_compare(IntPredicate::SLE, end, start, "empty")
            .unwrap();
        let count = self
            .b
            .build_select(empty, self.i64(0), span, "count")
            .unwrap()
            .into_int_value();

        let n = self.callbacks.get();
        self.callbacks.set(n + 1);
        let cb_name = format!("{}_range{n}", self.name);
        let ptr = self.ptr_type();
        let fn_ty = self
            .ctx
            .i64_type()
            .fn_type(&[self.ctx.i64_type().into(), ptr.into()], false);
        let func = self
            .module
            .add_function(&cb_name, fn_ty, Some(Linkage::Internal));
        func.set_section(Some(".text"));
        self.globals
            .describe_function(func, &cb_name, &["index", "frame"], true);
        let mut cb = self.callback(func, 1);
        let index = func.get_nth_param(0).unwrap().into_int_value();
        let (start_slot, _) = cb.var_slot(&format!("{var}#start"));
        let first = cb.load_i64(start_slot);
        let i = cb.b.build_int_add(first, index, "i").unwrap();
        let (slot, _) = cb.var_slot(var);
        cb.store_i64(slot, i);
        cb.in_loop(LoopExit::Callback, body)?;
        cb.ret();
        cb.finish();

        // An empty range skips the call: the verifier never visits a callback bpf_loop would
        // run zero times, and this kernel then fails to JIT it.
        let (run, done) = (self.block("range_run"), self.block("range_done"));
        let any = self
            .b
            .build_int_compare(IntPredicate::SGT, count, self.i64(0), "any")
            .unwrap();
        self.b.build_conditional_branch(any, run, done).unwrap();
        self.b.position_at_end(run);
        self.before_callback_loop();
        let callee = func.as_global_value().as_pointer_value();
        self.helper_int(
            BPF_LOOP,
            &[
                count.into(),
                callee.into(),
                self.frame.into(),
                self.i64(0).into(),
            ],
        );
        self.after_callback_loop();
        self.b.build_unconditional_branch(done).unwrap();
        self.b.position_at_end(done);
        Ok(())
    }

    /// A loop-body callback sharing this function's variable frame (parameter `frame_arg`).
    fn callback(
        &self,
        func: inkwell::values::FunctionValue<'ctx>,
        frame_arg: u32,
    ) -> FnGen<'a, 'ctx> {
        let mut cb = FnGen::new(
            self.ctx,
            self.module,
            self.globals,
            self.ck,
            self.lower,
            self.probe_index(),
            self.point,
            func,
            self.name.clone(),
            self.scratch.clone(),
        );
        cb.frame = func.get_nth_param(frame_arg).unwrap().into_pointer_value();
        // The large frame is not passed (the kernel passes only stack pointers): it is at
        // the start of the region the callback looks up for itself.
        cb.big_frame = self.big_frame.map(|_| cb.scratch_base());
        cb.frame_layout = self.frame_layout.clone();
        cb.callbacks = self.callbacks.clone();
        // The probe's context is not reachable from a callback.
        cb.ctx_ptr = self.ptr_type().const_null();
        cb
    }

    /// `for ($kv : @map)`: the body becomes `long cb(map, key, value, frame)`.
    fn map_loop(
        &mut self,
        var: &str,
        name: &str,
        span: crate::diag::Span,
        body: &Block,
    ) -> Result<()> {
        let (id, spec) = self.ck.map(name);
        // Aggregations are per-CPU: the callback sees this CPU's slot, so the value is
        // merged over every CPU from the key instead (as when reading `@m[k]` in a probe).
        let value_field = match spec.kind.clone() {
            MapKind::Value(f) => Some(f),
            MapKind::Count
            | MapKind::Sum { .. }
            | MapKind::Avg { .. }
            | MapKind::Min { .. }
            | MapKind::Max { .. } => None,
            _ => {
                return Err(Diagnostic::error(
                    "internal error: iterating a histogram or stats map",
                    span,
                ))
            }
        };
        let key_fields = spec.key.clone();
        let n = self.callbacks.get();
        self.callbacks.set(n + 1);
        let cb_name = format!("{}_loop{n}", self.name);
        let ptr = self.ptr_type();
        let fn_ty = self
            .ctx
            .i64_type()
            .fn_type(&[ptr.into(), ptr.into(), ptr.into(), ptr.into()], false);
        let func = self
            .module
            .add_function(&cb_name, fn_ty, Some(Linkage::Internal));
        func.set_section(Some(".text"));
        self.globals
            .describe_function(func, &cb_name, &["map", "key", "value", "frame"], true);

        let mut cb = self.callback(func, 3);
        let key_ptr = func.get_nth_param(1).unwrap().into_pointer_value();
        let value_ptr = func.get_nth_param(2).unwrap().into_pointer_value();
        let key = if key_fields.len() == 1 {
            cb.load_field(key_ptr, &key_fields[0])
        } else {
            Val::Tuple(key_ptr, key_fields.clone())
        };
        let value = match &value_field {
            Some(f) => cb.load_field(value_ptr, f),
            None => cb.agg_merge(id, key_ptr)?,
        };
        let (slot, t) = cb.var_slot(var);
        let Some(FieldType::Tuple(slots)) = t.field() else {
            unreachable!("sema: the loop variable is a pair")
        };
        let offs = FieldType::offsets(&slots);
        cb.zero(slot, FieldType::Tuple(slots.clone()).size());
        cb.store_field(cb.gep(slot, offs[0] as u64), key, &slots[0]);
        cb.store_field(cb.gep(slot, offs[1] as u64), value, &slots[1]);
        cb.in_loop(LoopExit::Callback, body)?;
        cb.ret();
        cb.finish();

        let callee = func.as_global_value().as_pointer_value();
        let map_ptr = self.map_ptr(id);
        self.before_callback_loop();
        self.helper_int(
            FOR_EACH_MAP_ELEM,
            &[
                map_ptr.into(),
                callee.into(),
                self.frame.into(),
                self.i64(0).into(),
            ],
        );
        self.after_callback_loop();
        Ok(())
    }
}
