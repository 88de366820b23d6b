//! Shared by text and JSON output: ordering, `top` and `div` of a map's entries,
//! reduced to what gets shown.

use std::cmp::Ordering;

use super::hist::{build_hist, build_lhist, Histogram};
use super::value::{AggValue, MapEntry, Value};
use crate::program::{FieldType, MapKind, MapSpec};

/// What one entry shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shown {
    Prim(Value),
    Stats {
        count: Value,
        average: Value,
        total: Value,
    },
    Hist(Histogram),
}

/// Entries in print order, already cut to `top` and divided by `div`.
pub(crate) fn prepare(
    spec: &MapSpec,
    mut entries: Vec<MapEntry>,
    top: usize,
    div: u64,
) -> Vec<(Vec<Value>, Shown)> {
    let order = order(spec, &entries, top);
    order
        .into_iter()
        .map(|i| take_shown(spec, &mut entries[i], div))
        .collect()
}

/// Indices of `entries` in print order, cut to the last `top` (0: all).
///
/// bpftrace leaves ties in hash-table order (unspecified); ordering by key first makes
/// ties deterministic without changing any order bpftrace guarantees. Keys are unique, so
/// one unstable sort on (value, key) gives that order exactly. Indices are sorted, not
/// entries: a map of 100,000 keys is printed at exit, and moving entries shows.
pub(crate) fn order(spec: &MapSpec, entries: &[MapEntry], top: usize) -> Vec<usize> {
    let mut order: Vec<usize> = match packed_int_order(spec, entries) {
        Some(packed) => packed.into_iter().map(|(_, _, i)| i as usize).collect(),
        None => {
            let by_value = orders_by_value(&spec.kind);
            let rank = |e: &MapEntry| match by_value {
                true => value_rank(&spec.kind, &e.value),
                false => 0,
            };
            let mut idx: Vec<usize> = (0..entries.len()).collect();
            idx.sort_unstable_by(|&a, &b| {
                let (a, b) = (&entries[a], &entries[b]);
                rank(a).cmp(&rank(b)).then_with(|| cmp_keys(&a.key, &b.key))
            });
            idx
        }
    };
    cut_to_top(&mut order, top);
    order
}

fn cut_to_top<T>(order: &mut Vec<T>, top: usize) {
    if top > 0 && order.len() > top {
        order.drain(..order.len() - top);
    }
}

/// Integer keys (the common `@[pid]`, `@[tid, cpu]`), sorted as packed numbers rather than
/// by chasing each entry's key on the heap: (rank, key, index), in print order.
fn packed_int_order(spec: &MapSpec, entries: &[MapEntry]) -> Option<Vec<(i128, [i64; 4], u32)>> {
    let keys = entries
        .iter()
        .map(|e| int_key(&e.key))
        .collect::<Option<Vec<_>>>()?;
    let by_value = orders_by_value(&spec.kind);
    let mut packed: Vec<(i128, [i64; 4], u32)> = entries
        .iter()
        .zip(keys)
        .enumerate()
        .map(|(i, (e, k))| {
            let rank = if by_value {
                value_rank(&spec.kind, &e.value)
            } else {
                0
            };
            (rank, k, i as u32)
        })
        .collect();
    packed.sort_unstable();
    Some(packed)
}

/// A map whose key fields and shown values are all plain integers (`@[pid] = count()`,
/// `@[tid, cpu] = sum(x)`), in print order: each row's value as shown and its key come
/// from the sort keys alone. Printing then never goes back to the entries, scattered over
/// the heap in another order: at exit, a map of 100,000 keys spent half of its formatting
/// time waiting on memory for them.
pub(crate) struct IntRows {
    packed: Vec<(i128, [i64; 4], u32)>,
    signed: bool,
    div: u64,
}

impl IntRows {
    pub(crate) fn new(spec: &MapSpec, entries: &[MapEntry], top: usize, div: u64) -> Option<Self> {
        let ints = |f: &FieldType| matches!(f, FieldType::Int { .. });
        // For these kinds the value's rank is the value itself (`value_rank`).
        let signed = match &spec.kind {
            MapKind::Count => false,
            MapKind::Sum { signed } => *signed,
            MapKind::Value(FieldType::Int { signed }) => *signed,
            _ => return None,
        };
        if spec.key.is_empty() || spec.key.len() > 4 || !spec.key.iter().all(ints) {
            return None;
        }
        let mut packed = packed_int_order(spec, entries)?;
        cut_to_top(&mut packed, top);
        Some(IntRows {
            packed,
            signed,
            div: div.max(1),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.packed.len()
    }

    /// Each row's value as shown (divided by `div`) and its key fields, as `int_key` packs
    /// them.
    pub(crate) fn rows(&self) -> impl Iterator<Item = (Value, &[i64; 4])> {
        self.packed.iter().map(|(rank, key, _)| {
            let v = match self.signed {
                true => Value::Int(*rank as i64),
                false => Value::UInt(*rank as u64),
            };
            (div_value(v, self.div), key)
        })
    }
}

/// What entry `e` shows (its key and value are moved out).
pub(crate) fn take_shown(spec: &MapSpec, e: &mut MapEntry, div: u64) -> (Vec<Value>, Shown) {
    (std::mem::take(&mut e.key), take_value_shown(spec, e, div))
}

/// What entry `e`'s value shows (moved out; the key stays). Keys left in place are freed
/// with their entries, in the order they were allocated, rather than row by row in print
/// order (sorted by value), where an exit-time dump of 100,000 keys spent a tenth of its
/// time in the allocator's free.
pub(crate) fn take_value_shown(spec: &MapSpec, e: &mut MapEntry, div: u64) -> Shown {
    let value = std::mem::replace(&mut e.value, AggValue::Count(0));
    show(&spec.kind, value, div.max(1))
}

/// bpftrace's key order: field by field; integers as signed 64-bit (even unsigned
/// ones), strings bytewise.
pub(crate) fn cmp_keys(a: &[Value], b: &[Value]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Value::Str(x), Value::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
            (Value::Buf(x), Value::Buf(y)) => x.cmp(y),
            (Value::Tuple(x), Value::Tuple(y)) => cmp_keys(x, y),
            (Value::Stack { frames: x, .. }, Value::Stack { frames: y, .. }) => x.cmp(y),
            (Value::Array(x), Value::Array(y)) => cmp_keys(x, y),
            (
                Value::Str(_)
                | Value::Buf(_)
                | Value::Tuple(_)
                | Value::Record(_)
                | Value::Stack { .. }
                | Value::Array(_),
                _,
            )
            | (
                _,
                Value::Str(_)
                | Value::Buf(_)
                | Value::Tuple(_)
                | Value::Record(_)
                | Value::Stack { .. }
                | Value::Array(_),
            ) => Ordering::Equal,
            _ => as_signed(x).cmp(&as_signed(y)),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// A key of up to four integer fields as `cmp_keys` orders it (zero-padded: every key of
/// a map has the same fields).
fn int_key(k: &[Value]) -> Option<[i64; 4]> {
    let mut out = [0i64; 4];
    if k.len() > out.len() {
        return None;
    }
    for (o, v) in out.iter_mut().zip(k) {
        *o = match v {
            Value::Int(_)
            | Value::UInt(_)
            | Value::Ptr(_)
            | Value::Sym { .. }
            | Value::Enum { .. }
            | Value::Bool(_) => as_signed(v),
            _ => return None,
        };
    }
    Some(out)
}

fn as_signed(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::UInt(u)
        | Value::Ptr(u)
        | Value::Sym { addr: u, .. }
        | Value::Enum { value: u, .. } => *u as i64,
        Value::Bool(b) => *b as i64,
        Value::Str(_)
        | Value::Array(_)
        | Value::Buf(_)
        | Value::Tuple(_)
        | Value::Record(_)
        | Value::Stack { .. } => 0,
    }
}

fn num(v: &Value) -> i128 {
    match v {
        Value::Int(i) => i128::from(*i),
        Value::UInt(u)
        | Value::Ptr(u)
        | Value::Sym { addr: u, .. }
        | Value::Enum { value: u, .. } => i128::from(*u),
        Value::Bool(b) => i128::from(*b),
        Value::Str(_)
        | Value::Array(_)
        | Value::Buf(_)
        | Value::Tuple(_)
        | Value::Record(_)
        | Value::Stack { .. } => 0,
    }
}

fn avg_of(signed: bool, count: u64, total: i64) -> Value {
    if signed {
        let c = count as i64;
        Value::Int(if c > 0 { total.wrapping_div(c) } else { 0 })
    } else {
        Value::UInt((total as u64).checked_div(count).unwrap_or(0))
    }
}

/// bpftrace orders plain string values by key only; everything else by value.
fn orders_by_value(kind: &MapKind) -> bool {
    !matches!(kind, MapKind::Value(FieldType::Str { .. }))
}

/// Sort rank of an entry's value.
fn value_rank(kind: &MapKind, v: &AggValue) -> i128 {
    let signed = !matches!(
        kind,
        MapKind::Avg { signed: false } | MapKind::Stats { signed: false }
    );
    match v {
        AggValue::Plain(Value::Str(_)) => 0,
        AggValue::Plain(x) | AggValue::Sum(x) => num(x),
        AggValue::Count(c) => i128::from(*c),
        // bpftrace compares min/max values as unsigned even when they are signed.
        AggValue::Min(x) | AggValue::Max(x) => i128::from(as_signed(x) as u64),
        AggValue::Avg { count, total } | AggValue::Stats { count, total } => {
            num(&avg_of(signed, *count, *total))
        }
        AggValue::Hist { counts: c, .. } => {
            i128::from(c.iter().fold(0u64, |a, &b| a.wrapping_add(b)))
        }
        // Rendered by `format::tseries`, which orders by key.
        AggValue::Tseries(_) => 0,
    }
}

fn div_value(v: Value, div: u64) -> Value {
    match v {
        Value::Int(i) => Value::Int(i.wrapping_div(div as i64)),
        Value::UInt(u) => Value::UInt(u / div),
        s => s,
    }
}

fn show(kind: &MapKind, v: AggValue, div: u64) -> Shown {
    let signed = !matches!(
        kind,
        MapKind::Avg { signed: false } | MapKind::Stats { signed: false }
    );
    match v {
        AggValue::Plain(x) | AggValue::Sum(x) | AggValue::Min(x) | AggValue::Max(x) => {
            Shown::Prim(div_value(x, div))
        }
        AggValue::Count(c) => Shown::Prim(Value::UInt(c / div)),
        AggValue::Avg { count, total } => Shown::Prim(div_value(avg_of(signed, count, total), div)),
        AggValue::Stats { count, total } => Shown::Stats {
            count: if signed {
                Value::Int(count as i64)
            } else {
                Value::UInt(count)
            },
            average: div_value(avg_of(signed, count, total), div),
            total: if signed {
                Value::Int(total)
            } else {
                Value::UInt(total as u64)
            },
        },
        // `format::tseries` renders these maps before `prepare` is reached.
        AggValue::Tseries(t) => Shown::Prim(Value::UInt(t.len() as u64)),
        AggValue::Hist { counts, .. } => Shown::Hist(match kind {
            MapKind::Lhist { min, max, step } => build_lhist(&counts, *min, *max, *step),
            MapKind::Hist { k } => build_hist(&counts, div, *k),
            _ => build_hist(&counts, div, 0),
        }),
    }
}
