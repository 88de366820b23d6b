//! `@m[k] = tseries(v, interval, num[, "avg"|"max"|"min"|"sum"])`: the values of the last
//! `num` intervals. Each key owns a ring of `num` slots (the slot index is an extra key
//! field); a slot `(value, meta, epoch)` is reset when its epoch goes stale. User space
//! merges CPUs and picks the window (`runtime::format::tseries`).

use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

use super::sysinfo::helper::KTIME_GET_TAI_NS;
use super::{Lowering, TypeRule};
use crate::codegen::FnGen;
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::program::{FieldType, MapId, MapKind, TsAgg};
use crate::sema::{CallCheck, Type};

pub struct Tseries;

/// bpftrace's test hook: names a scalar integer map read instead of the clock, so tests
/// can step time by hand. Read at compile time, so it costs nothing when unset.
const DUMMY_TS_ENV: &str = "BPFTRACE_DUMMY_TS_MAP";

const AGGS: &[(&str, TsAgg)] = &[
    ("avg", TsAgg::Avg),
    ("max", TsAgg::Max),
    ("min", TsAgg::Min),
    ("sum", TsAgg::Sum),
];

/// Upper bound on `num_intervals`: each interval is a map entry per key and per CPU.
const MAX_INTERVALS: i64 = 1_000_000;

impl TypeRule for Tseries {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(3, 4)?;
        let signed = c.int(0, "the value of tseries()")?.is_signed();
        let interval = c.const_int(1, "the interval of tseries()")?;
        if interval <= 0 {
            return Err(Diagnostic::error(
                "the interval of tseries() must be a positive number of nanoseconds",
                c.args[1].span,
            )
            .with_note("durations like `100ms` or `1s` are accepted"));
        }
        let num = c.const_int(2, "the number of intervals of tseries()")?;
        if !(1..=MAX_INTERVALS).contains(&num) {
            return Err(Diagnostic::error(
                format!(
                    "the number of intervals of tseries() must be between 1 and {MAX_INTERVALS}"
                ),
                c.args[2].span,
            ));
        }
        let agg = if c.args.len() == 4 {
            let name = c.str_literal(3, "the aggregation of tseries()")?;
            AGGS.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, a)| *a)
                .ok_or_else(|| {
                    Diagnostic::error(
                        format!("unknown tseries() aggregation \"{name}\""),
                        c.args[3].span,
                    )
                    .with_note("expected one of \"avg\", \"max\", \"min\" or \"sum\"")
                })?
        } else {
            TsAgg::Last
        };
        Ok(Type::Agg(MapKind::Tseries {
            interval: interval as u64,
            num: num as u64,
            agg,
            signed,
        }))
    }
}

impl Lowering for Tseries {
    fn update<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        map: MapId,
        keys: &[Expr],
        args: &[Expr],
    ) -> Result<()> {
        let MapKind::Tseries {
            interval,
            num,
            agg,
            signed,
        } = g.ck.maps[map].kind
        else {
            unreachable!("tseries map")
        };
        let v = g.expr(&args[0])?.int();
        let now = now(g, &args[0])?;
        let b = &g.b;
        let epoch = b
            .build_int_unsigned_div(now, g.i64(interval), "epoch")
            .unwrap();
        let slot = b.build_int_unsigned_rem(epoch, g.i64(num), "slot").unwrap();
        let key = g.map_key(map, keys, Some(slot))?;
        let p = g.lookup(map, key);
        g.if_null(
            p,
            |g| {
                if agg != TsAgg::Last {
                    // The slot last held an older interval: start it afresh.
                    let old = g.load_i64(g.gep(p, 16));
                    let stale =
                        g.b.build_int_compare(IntPredicate::NE, old, epoch, "stale")
                            .unwrap();
                    let fresh = select(g, stale, g.i64(0), g.load_i64(p));
                    g.store_i64(p, fresh);
                    let meta = select(g, stale, g.i64(0), g.load_i64(g.gep(p, 8)));
                    g.store_i64(g.gep(p, 8), meta);
                }
                accumulate(g, p, v, now, epoch, agg, signed);
                Ok(())
            },
            |g| {
                let buf = g.stack(24, "slot");
                accumulate(g, buf, v, now, epoch, agg, signed);
                g.update(map, key, buf);
                Ok(())
            },
        )
    }
}

fn select<'ctx>(
    g: &FnGen<'_, 'ctx>,
    c: IntValue<'ctx>,
    a: IntValue<'ctx>,
    b: IntValue<'ctx>,
) -> IntValue<'ctx> {
    g.b.build_select(c, a, b, "sel").unwrap().into_int_value()
}

/// Folds `v` into the slot at `p` (already reset if stale) and stamps the epoch.
fn accumulate<'ctx>(
    g: &FnGen<'_, 'ctx>,
    p: PointerValue<'ctx>,
    v: IntValue<'ctx>,
    now: IntValue<'ctx>,
    epoch: IntValue<'ctx>,
    agg: TsAgg,
    signed: bool,
) {
    let b = &g.b;
    let meta_p = g.gep(p, 8);
    let (cur, meta) = (g.load_i64(p), g.load_i64(meta_p));
    let (value, meta) = match agg {
        // meta: the write time, so user space can tell which CPU wrote last.
        TsAgg::Last => (v, now),
        TsAgg::Sum => (b.build_int_add(cur, v, "sum").unwrap(), meta),
        // meta: the count.
        TsAgg::Avg => (
            b.build_int_add(cur, v, "sum").unwrap(),
            b.build_int_add(meta, g.i64(1), "n").unwrap(),
        ),
        // meta: whether a value was stored (the first one always is).
        TsAgg::Max | TsAgg::Min => {
            let pred = match (agg == TsAgg::Max, signed) {
                (true, true) => IntPredicate::SGT,
                (true, false) => IntPredicate::UGT,
                (false, true) => IntPredicate::SLT,
                (false, false) => IntPredicate::ULT,
            };
            let better = b.build_int_compare(pred, v, cur, "better").unwrap();
            let unset = b
                .build_int_compare(IntPredicate::EQ, meta, g.i64(0), "unset")
                .unwrap();
            let take = b.build_or(better, unset, "take").unwrap();
            (select(g, take, v, cur), g.i64(1))
        }
    };
    g.store_i64(p, value);
    g.store_i64(meta_p, meta);
    g.store_i64(g.gep(p, 16), epoch);
}

/// The TAI clock (wall-clock based, so intervals print as times of day), or the dummy
/// map's value under `BPFTRACE_DUMMY_TS_MAP`.
fn now<'ctx>(g: &mut FnGen<'_, 'ctx>, at: &Expr) -> Result<IntValue<'ctx>> {
    let Ok(name) = std::env::var(DUMMY_TS_ENV) else {
        return Ok(g.helper_int(KTIME_GET_TAI_NS, &[]));
    };
    let id = g.ck.maps.iter().position(|m| m.name == name);
    let ok = id.is_some_and(|id| {
        let m = &g.ck.maps[id];
        // Any integer: arithmetic on the map can make sema widen it to signed.
        m.key.is_empty() && matches!(m.kind, MapKind::Value(FieldType::Int { .. }))
    });
    let Some(id) = id.filter(|_| ok) else {
        return Err(Diagnostic::error(
            format!("{DUMMY_TS_ENV}={name}: not a scalar integer map of this script"),
            at.span,
        ));
    };
    let key = g.map_key(id, &[], None)?;
    let p = g.lookup(id, key);
    let out = g.stack(8, "dummy_ts");
    g.if_null(
        p,
        |g| {
            let v = g.load_i64(p);
            g.store_i64(out, v);
            Ok(())
        },
        |_| Ok(()),
    )?;
    Ok(g.load_i64(out))
}
