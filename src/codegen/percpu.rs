//! Reading an aggregation inside a probe (`if (@calls > 10)`, `(int64)@total`): the value
//! merged over every CPU, computed in the kernel the way user space merges it for printing.
//!
//! Each CPU's slot is fetched with `bpf_map_lookup_percpu_elem` in a loop bounded both by
//! the number of possible CPUs (a `.rodata` constant the runtime fills in; the verifier
//! reads it from the frozen map) and by a compile-time cap, so the verifier always sees a
//! finite loop.

use inkwell::values::{BasicValue, IntValue, PointerValue};
use inkwell::IntPredicate;

use super::func::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{BinOp, Expr};
use crate::program::{rodata, MapId, MapKind};

const MAP_LOOKUP_PERCPU_ELEM: u64 = 195;

/// Upper bound on the CPUs merged, whatever `ncpus` says: keeps the loop finite for the
/// verifier even if it could not read the constant. The largest CONFIG_NR_CPUS Linux allows,
/// so no real machine is undercounted; the verifier walks only `ncpus` iterations anyway.
const MAX_CPUS: u64 = 8192;

impl<'a, 'ctx> FnGen<'a, 'ctx> {
    /// `@m[keys]` of a count/sum/avg/min/max map as one integer (0 when the key is absent).
    pub(super) fn agg_read(&mut self, id: MapId, keys: &[Expr]) -> Result<Val<'ctx>> {
        let key = self.map_key(id, keys, None)?;
        self.agg_merge(id, key)
    }

    /// The value under `key` (a pointer to the map's key layout) merged over every CPU.
    pub(super) fn agg_merge(&mut self, id: MapId, key: PointerValue<'ctx>) -> Result<Val<'ctx>> {
        let kind = self.ck.maps[id].kind.clone();
        let merge = match kind {
            MapKind::Count | MapKind::Sum { .. } => Merge::Sum,
            // Stored as (count, total).
            MapKind::Avg { signed } => Merge::Avg { signed },
            MapKind::Min { signed } => Merge::Best { max: false, signed },
            MapKind::Max { signed } => Merge::Best { max: true, signed },
            _ => {
                return Err(Diagnostic::global(
                    "internal error: reading a histogram or stats map as a value",
                ))
            }
        };
        // (first word, second word): sum | (count, total) | (best, any CPU set).
        let acc = self.stack(16, "agg_acc");
        let cpu = self.stack(8, "agg_cpu");
        self.zero(acc, 16);
        self.store_i64(cpu, self.i64(0));
        let ncpus = self.ncpus();

        let (head, body, found, done) = (
            self.block("agg_cpu_cond"),
            self.block("agg_cpu_body"),
            self.block("agg_cpu_found"),
            self.block("agg_done"),
        );
        self.b.build_unconditional_branch(head).unwrap();

        self.b.position_at_end(head);
        let i = self.load_i64(cpu);
        let below_n = self
            .b
            .build_int_compare(IntPredicate::ULT, i, ncpus, "below_n")
            .unwrap();
        let below_cap = self
            .b
            .build_int_compare(IntPredicate::ULT, i, self.i64(MAX_CPUS), "below_cap")
            .unwrap();
        let more = self.b.build_and(below_n, below_cap, "more").unwrap();
        self.b.build_conditional_branch(more, body, done).unwrap();

        self.b.position_at_end(body);
        let p = match self.helper(
            MAP_LOOKUP_PERCPU_ELEM,
            &[self.map_ptr(id).into(), key.into(), i.into()],
            true,
        ) {
            super::func::BasicTypeEnumValue::Ptr(p) => p,
            super::func::BasicTypeEnumValue::Int(_) => unreachable!("asked for a pointer"),
        };
        // A missing key is missing on every CPU: the value reads as 0.
        let is_null = self.b.build_is_null(p, "agg_missing").unwrap();
        self.b
            .build_conditional_branch(is_null, done, found)
            .unwrap();

        self.b.position_at_end(found);
        let (a, b) = (self.load_i64(acc), self.load_i64(self.gep(acc, 8)));
        let v0 = self.load_i64(p);
        match merge {
            Merge::Sum => self.store_i64(acc, self.b.build_int_add(a, v0, "agg_sum").unwrap()),
            Merge::Avg { .. } => {
                let v1 = self.load_i64(self.gep(p, 8));
                self.store_i64(acc, self.b.build_int_add(a, v0, "agg_count").unwrap());
                self.store_i64(
                    self.gep(acc, 8),
                    self.b.build_int_add(b, v1, "agg_total").unwrap(),
                );
            }
            Merge::Best { max, signed } => {
                // A CPU that never saw a value has is-set 0 and a meaningless slot.
                let set = self.load_i64(self.gep(p, 8));
                let cpu_set = self.truthy(set);
                let pred = match (max, signed) {
                    (true, true) => IntPredicate::SGT,
                    (true, false) => IntPredicate::UGT,
                    (false, true) => IntPredicate::SLT,
                    (false, false) => IntPredicate::ULT,
                };
                let better = self.b.build_int_compare(pred, v0, a, "agg_better").unwrap();
                let first = self
                    .b
                    .build_int_compare(IntPredicate::EQ, b, self.i64(0), "agg_first")
                    .unwrap();
                let wanted = self.b.build_or(better, first, "agg_wanted").unwrap();
                let take = self.b.build_and(cpu_set, wanted, "agg_take").unwrap();
                let best = self
                    .b
                    .build_select(take, v0, a, "agg_best")
                    .unwrap()
                    .into_int_value();
                self.store_i64(acc, best);
                let any = self.b.build_or(b, self.widen(cpu_set), "agg_any").unwrap();
                self.store_i64(self.gep(acc, 8), any);
            }
        }
        let next = self.b.build_int_add(i, self.i64(1), "agg_next").unwrap();
        self.store_i64(cpu, next);
        self.b.build_unconditional_branch(head).unwrap();

        self.b.position_at_end(done);
        let first = self.load_i64(acc);
        Ok(Val::Int(match merge {
            Merge::Sum | Merge::Best { .. } => first,
            Merge::Avg { signed } => {
                let total = self.load_i64(self.gep(acc, 8));
                self.average(total, first, signed)
            }
        }))
    }

    /// total / count, truncating toward zero like bpftrace; 0 when nothing was recorded
    /// (the count is never 0 otherwise, so dividing by 1 then is harmless).
    fn average(
        &self,
        total: IntValue<'ctx>,
        count: IntValue<'ctx>,
        signed: bool,
    ) -> IntValue<'ctx> {
        let none = self
            .b
            .build_int_compare(IntPredicate::EQ, count, self.i64(0), "agg_none")
            .unwrap();
        let divisor = self
            .b
            .build_select(none, self.i64(1), count, "agg_div")
            .unwrap()
            .into_int_value();
        // The count is positive, so a signed division only looks at the total's sign.
        self.arith(BinOp::Div, total, divisor, signed)
    }

    /// The number of possible CPUs from the `.rodata` constants.
    fn ncpus(&self) -> IntValue<'ctx> {
        let p = self.gep(
            self.globals.rodata.as_pointer_value(),
            8 * rodata::NCPUS as u64,
        );
        let l = self.b.build_load(self.ctx.i64_type(), p, "ncpus").unwrap();
        // Volatile: filled in by the runtime, never known at compile time.
        l.as_instruction_value()
            .unwrap()
            .set_volatile(true)
            .unwrap();
        l.into_int_value()
    }
}

#[derive(Clone, Copy)]
enum Merge {
    Sum,
    Avg { signed: bool },
    Best { max: bool, signed: bool },
}
