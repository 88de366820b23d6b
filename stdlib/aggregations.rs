//! Aggregation functions: `@m[k] = count()` and friends. Values live in per-CPU maps and are
//! merged when read in user space, so updates need no atomics.

use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

use super::{Lowering, TypeRule};
use crate::codegen::FnGen;
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::program::{MapId, MapKind, Storage};
use crate::sema::{CallCheck, Type};

pub struct Count;
pub struct Sum;
pub struct Avg;
pub struct Min;
pub struct Max;
pub struct Stats;
pub struct Hist;
pub struct Lhist;

/// One integer argument; its signedness picks signed or unsigned merging.
fn one_int(c: &mut CallCheck, name: &str) -> Result<bool> {
    c.arity(1, 1)?;
    let t = c.int(0, &format!("the argument of {name}()"))?;
    Ok(t.is_signed())
}

/// `*slot += v` where the slot exists, else insert `init`.
fn add_or_insert<'ctx>(
    g: &mut FnGen<'_, 'ctx>,
    map: MapId,
    key: PointerValue<'ctx>,
    fields: &[IntValue<'ctx>],
) -> Result<()> {
    let p = g.lookup(map, key);
    let fields = fields.to_vec();
    let mut init = fields.clone();
    let array = g.ck.maps[map].storage() == Storage::PerCpuArray;
    if array {
        init.push(g.i64(1));
    }
    g.if_null(
        p,
        |g| {
            for (i, v) in fields.iter().enumerate() {
                let slot = g.gep(p, 8 * i as u64);
                let cur = g.load_i64(slot);
                let sum = g.b.build_int_add(cur, *v, "acc").unwrap();
                g.store_i64(slot, sum);
            }
            if array {
                g.store_i64(g.gep(p, 8), g.i64(1));
            }
            Ok(())
        },
        |g| {
            let buf = g.stack(8 * init.len(), "init");
            for (i, v) in init.iter().enumerate() {
                g.store_i64(g.gep(buf, 8 * i as u64), *v);
            }
            g.update(map, key, buf);
            Ok(())
        },
    )
}

impl TypeRule for Count {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(0, 0)?;
        Ok(Type::Agg(MapKind::Count))
    }
}

impl Lowering for Count {
    fn update<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        map: MapId,
        keys: &[Expr],
        _: &[Expr],
    ) -> Result<()> {
        let key = g.map_key(map, keys, None)?;
        let one = g.i64(1);
        add_or_insert(g, map, key, &[one])
    }
}

impl TypeRule for Sum {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        Ok(Type::Agg(MapKind::Sum {
            signed: one_int(c, "sum")?,
        }))
    }
}

impl Lowering for Sum {
    fn update<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        map: MapId,
        keys: &[Expr],
        args: &[Expr],
    ) -> Result<()> {
        let v = g.expr(&args[0])?.int();
        let key = g.map_key(map, keys, None)?;
        add_or_insert(g, map, key, &[v])
    }
}

/// avg and stats keep (count, total); they differ only in how they print.
fn count_total<'ctx>(
    g: &mut FnGen<'_, 'ctx>,
    map: MapId,
    keys: &[Expr],
    args: &[Expr],
) -> Result<()> {
    let v = g.expr(&args[0])?.int();
    let key = g.map_key(map, keys, None)?;
    let one = g.i64(1);
    add_or_insert(g, map, key, &[one, v])
}

impl TypeRule for Avg {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        Ok(Type::Agg(MapKind::Avg {
            signed: one_int(c, "avg")?,
        }))
    }
}

impl Lowering for Avg {
    fn update<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        map: MapId,
        keys: &[Expr],
        args: &[Expr],
    ) -> Result<()> {
        count_total(g, map, keys, args)
    }
}

impl TypeRule for Stats {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        Ok(Type::Agg(MapKind::Stats {
            signed: one_int(c, "stats")?,
        }))
    }
}

impl Lowering for Stats {
    fn update<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        map: MapId,
        keys: &[Expr],
        args: &[Expr],
    ) -> Result<()> {
        count_total(g, map, keys, args)
    }
}

/// min/max keep (value, is_set): the first value is always taken.
fn extremum<'ctx>(
    g: &mut FnGen<'_, 'ctx>,
    map: MapId,
    keys: &[Expr],
    args: &[Expr],
    max: bool,
) -> Result<()> {
    let signed = matches!(
        g.ck.maps[map].kind,
        MapKind::Min { signed: true } | MapKind::Max { signed: true }
    );
    let v = g.expr(&args[0])?.int();
    let key = g.map_key(map, keys, None)?;
    let p = g.lookup(map, key);
    g.if_null(
        p,
        |g| {
            let cur = g.load_i64(p);
            let set = g.load_i64(g.gep(p, 8));
            let pred = match (max, signed) {
                (true, true) => IntPredicate::SGT,
                (true, false) => IntPredicate::UGT,
                (false, true) => IntPredicate::SLT,
                (false, false) => IntPredicate::ULT,
            };
            let better = g.b.build_int_compare(pred, v, cur, "better").unwrap();
            let unset =
                g.b.build_int_compare(IntPredicate::EQ, set, g.i64(0), "unset")
                    .unwrap();
            let take = g.b.build_or(better, unset, "take").unwrap();
            let new =
                g.b.build_select(take, v, cur, "new")
                    .unwrap()
                    .into_int_value();
            g.store_i64(p, new);
            g.store_i64(g.gep(p, 8), g.i64(1));
            Ok(())
        },
        |g| {
            let buf = g.stack(16, "init");
            g.store_i64(buf, v);
            g.store_i64(g.gep(buf, 8), g.i64(1));
            g.update(map, key, buf);
            Ok(())
        },
    )
}

impl TypeRule for Min {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        Ok(Type::Agg(MapKind::Min {
            signed: one_int(c, "min")?,
        }))
    }
}

impl Lowering for Min {
    fn update<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        map: MapId,
        keys: &[Expr],
        args: &[Expr],
    ) -> Result<()> {
        extremum(g, map, keys, args, false)
    }
}

impl TypeRule for Max {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        Ok(Type::Agg(MapKind::Max {
            signed: one_int(c, "max")?,
        }))
    }
}

impl Lowering for Max {
    fn update<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        map: MapId,
        keys: &[Expr],
        args: &[Expr],
    ) -> Result<()> {
        extremum(g, map, keys, args, true)
    }
}

impl TypeRule for Hist {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 2)?;
        c.int(0, "the value of hist()")?;
        let k = if c.args.len() == 2 {
            c.const_int(1, "the bits argument of hist()")?
        } else {
            0
        };
        if !(0..=5).contains(&k) {
            return Err(Diagnostic::error(
                "hist() bits must be between 0 and 5",
                c.args[1].span,
            ));
        }
        Ok(Type::Agg(MapKind::Hist { k: k as u32 }))
    }
}

impl Lowering for Hist {
    fn update<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        map: MapId,
        keys: &[Expr],
        args: &[Expr],
    ) -> Result<()> {
        let MapKind::Hist { k } = g.ck.maps[map].kind else {
            unreachable!("hist map")
        };
        let v = g.expr(&args[0])?.int();
        let idx = log2_bucket(g, v, k);
        bucket_add(g, map, keys, idx, v)
    }
}

/// Counts `v` in histogram bucket `idx`, and adds it to the sum slot when the map keeps
/// one (`MapSpec::hist_sum`): the same key with the bucket index past the last bucket.
fn bucket_add<'ctx>(
    g: &mut FnGen<'_, 'ctx>,
    map: MapId,
    keys: &[Expr],
    idx: IntValue<'ctx>,
    v: IntValue<'ctx>,
) -> Result<()> {
    let key = g.map_key(map, keys, Some(idx))?;
    let one = g.i64(1);
    add_or_insert(g, map, key, &[one])?;
    let spec = &g.ck.maps[map];
    if spec.hist_sum {
        let at = match spec.storage() {
            Storage::PerCpuArray => 0,
            _ => spec.key_size() - 8,
        };
        let sum_slot = g.i64(spec.kind.bucket_count());
        g.store_i64(g.gep(key, at as u64), sum_slot);
        add_or_insert(g, map, key, &[v])?;
    }
    Ok(())
}

/// The bucket index of `runtime::format::hist::hist_index`, branch-free:
/// v<0 → 0; v<2^k → 1+v; else 1 + 2^k + (p-k)·2^k + ((v >> (p-k)) - 2^k) with p = ⌊log2 v⌋.
fn log2_bucket<'ctx>(g: &FnGen<'_, 'ctx>, v: IntValue<'ctx>, k: u32) -> IntValue<'ctx> {
    let b = &g.b;
    let sel = |c: IntValue<'ctx>, x: IntValue<'ctx>, y: IntValue<'ctx>| {
        b.build_select(c, x, y, "sel").unwrap().into_int_value()
    };
    // ⌊log2 v⌋ by binary search (BPF has no count-leading-zeros instruction).
    let mut p = g.i64(0);
    let mut x = v;
    for shift in [32u64, 16, 8, 4, 2, 1] {
        let big = b
            .build_int_compare(IntPredicate::UGE, x, g.i64(1 << shift), "big")
            .unwrap();
        let shifted = b.build_right_shift(x, g.i64(shift), false, "x").unwrap();
        x = sel(big, shifted, x);
        let bumped = b.build_int_add(p, g.i64(shift), "p").unwrap();
        p = sel(big, bumped, p);
    }
    let kk = g.i64(k as u64);
    let pk = b.build_int_sub(p, kk, "pk").unwrap();
    let top = b.build_right_shift(v, pk, false, "top").unwrap();
    let sub = b.build_int_sub(top, g.i64(1 << k), "sub").unwrap();
    let base = b.build_left_shift(pk, kk, "base").unwrap();
    let idx = b.build_int_add(base, sub, "i").unwrap();
    let large = b.build_int_add(idx, g.i64(1 + (1 << k)), "large").unwrap();
    let small = b.build_int_add(v, g.i64(1), "small").unwrap();
    let is_neg = b
        .build_int_compare(IntPredicate::SLT, v, g.i64(0), "neg")
        .unwrap();
    let is_small = b
        .build_int_compare(IntPredicate::SLT, v, g.i64(1 << k), "smallv")
        .unwrap();
    let r = sel(is_small, small, large);
    sel(is_neg, g.i64(0), r)
}

impl TypeRule for Lhist {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(4, 4)?;
        c.int(0, "the value of lhist()")?;
        let min = c.const_int(1, "lhist() min")?;
        let max = c.const_int(2, "lhist() max")?;
        let step = c.const_int(3, "lhist() step")?;
        if step <= 0 {
            return Err(Diagnostic::error(
                "lhist() step must be positive",
                c.args[3].span,
            ));
        }
        if max <= min {
            return Err(Diagnostic::error(
                "lhist() max must be greater than min",
                c.args[2].span,
            ));
        }
        // In 128 bits: `max - min` of two 64-bit extremes does not fit in 64.
        let span = max as i128 - min as i128;
        if span > i64::MAX as i128 {
            return Err(Diagnostic::error("lhist() range is too large", c.span())
                .with_label(format!("{min}..{max} spans more than 2^63")));
        }
        if span / step as i128 > 1000 {
            return Err(
                Diagnostic::error("lhist() would have more than 1000 buckets", c.span())
                    .with_note("use a larger step or a smaller range"),
            );
        }
        Ok(Type::Agg(MapKind::Lhist { min, max, step }))
    }
}

impl Lowering for Lhist {
    fn update<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        map: MapId,
        keys: &[Expr],
        args: &[Expr],
    ) -> Result<()> {
        let MapKind::Lhist { min, max, step } = g.ck.maps[map].kind else {
            unreachable!("lhist map")
        };
        let v = g.expr(&args[0])?.int();
        let b = &g.b;
        let (lo, hi) = (g.i64(min as u64), g.i64(max as u64));
        let below = b
            .build_int_compare(IntPredicate::SLT, v, lo, "below")
            .unwrap();
        let above = b
            .build_int_compare(IntPredicate::SGE, v, hi, "above")
            .unwrap();
        let rel = b.build_int_sub(v, lo, "rel").unwrap();
        let q = b
            .build_int_unsigned_div(rel, g.i64(step as u64), "q")
            .unwrap();
        let mid = b.build_int_add(q, g.i64(1), "mid").unwrap();
        let last = g.i64(1 + ((max - min) / step) as u64);
        let idx = b
            .build_select(above, last, mid, "i")
            .unwrap()
            .into_int_value();
        let idx = b
            .build_select(below, g.i64(0), idx, "i")
            .unwrap()
            .into_int_value();
        bucket_add(g, map, keys, idx, v)
    }
}
