//! `tseries()` maps: merging a slot's per-CPU values, and bpftrace 0.26's ASCII chart and
//! JSON (src/output/text.cpp, json.cpp; the epoch window of src/format.cpp).

use std::collections::BTreeMap;

use super::entries::cmp_keys;
use super::json::{json_str, value_data_json};
use super::time::strftime_local;
use super::value::{key_text, value_text, AggValue, MapEntry, Value};
use crate::program::{MapKind, MapSpec, TsAgg};

/// Width of the chart between (and including) its two borders.
const GRAPH_WIDTH: usize = 53;
/// Width of the column holding the lower bound in the scale lines.
const SCALE_PAD: usize = 21;

fn u64_at(b: &[u8], off: usize) -> u64 {
    b.get(off..off + 8)
        .map_or(0, |s| u64::from_ne_bytes(s.try_into().expect("8 bytes")))
}

/// Merges the per-CPU copies of one ring slot `(value, meta, epoch)` into the value of the
/// slot's latest epoch. CPUs that wrote an older epoch into the slot are outdated and
/// dropped; epoch 0 means never written (or zeroed) and reads as `(0, 0)`.
pub fn reduce_slot<C: AsRef<[u8]>>(agg: TsAgg, signed: bool, cpus: &[C]) -> (u64, Value) {
    let better = |a: u64, b: u64, max: bool| match (signed, max) {
        (true, true) => (b as i64) > (a as i64),
        (true, false) => (b as i64) < (a as i64),
        (false, true) => b > a,
        (false, false) => b < a,
    };
    let mut by_epoch: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for c in cpus {
        let c = c.as_ref();
        let (v, meta, epoch) = (u64_at(c, 0), u64_at(c, 8), u64_at(c, 16));
        if epoch == 0 {
            continue;
        }
        let Some(cur) = by_epoch.get_mut(&epoch) else {
            by_epoch.insert(epoch, (v, meta));
            continue;
        };
        match agg {
            // meta is the write time: the most recent write wins.
            TsAgg::Last if meta > cur.1 => *cur = (v, meta),
            TsAgg::Last => {}
            // meta is the count.
            TsAgg::Avg => *cur = (cur.0.wrapping_add(v), cur.1 + meta),
            TsAgg::Sum => cur.0 = cur.0.wrapping_add(v),
            TsAgg::Max | TsAgg::Min => {
                if better(cur.0, v, agg == TsAgg::Max) {
                    cur.0 = v;
                }
            }
        }
    }
    let Some((&epoch, &(v, count))) = by_epoch.last_key_value() else {
        return (0, int(signed, 0));
    };
    let v = match agg {
        TsAgg::Avg if count == 0 => 0,
        TsAgg::Avg if signed => (v as i64).wrapping_div(count as i64) as u64,
        TsAgg::Avg => v / count,
        _ => v,
    };
    (epoch, int(signed, v))
}

fn int(signed: bool, v: u64) -> Value {
    if signed {
        Value::Int(v as i64)
    } else {
        Value::UInt(v)
    }
}

fn num(v: &Value) -> i128 {
    match v {
        Value::Int(i) => i128::from(*i),
        Value::UInt(u) => i128::from(*u),
        _ => 0,
    }
}

/// One interval of a series: its start (ns since the epoch) and value, `None` when no value
/// was written in it.
type Row = (u64, Option<Value>);

/// The rows each entry shows, in key order. Every key shares one window: the `num`
/// intervals ending at the latest epoch written to any key; a key starts at its first
/// interval inside the window that has data.
fn series(spec: &MapSpec, entries: Vec<MapEntry>) -> Vec<(Vec<Value>, Vec<Row>)> {
    let MapKind::Tseries { interval, num, .. } = spec.kind else {
        return vec![];
    };
    let mut entries: Vec<(Vec<Value>, BTreeMap<u64, Value>)> = entries
        .into_iter()
        .filter_map(|e| match e.value {
            AggValue::Tseries(t) => Some((e.key, t)),
            _ => None,
        })
        .collect();
    entries.sort_by(|a, b| cmp_keys(&a.0, &b.0));
    let last = entries
        .iter()
        .filter_map(|(_, t)| t.keys().next_back().copied())
        .max()
        .unwrap_or(u64::MAX);
    // Wraps like bpftrace's unsigned arithmetic: an all-zero map (epoch 0) shows nothing.
    let first = last.wrapping_sub(num).wrapping_add(1);
    entries
        .into_iter()
        .map(|(key, t)| {
            let start = t.range(first..).next().map_or(last, |(e, _)| *e).min(last);
            let rows = if first > last {
                vec![]
            } else {
                (start.max(first)..=last)
                    .map(|e| (e.wrapping_mul(interval), t.get(&e).cloned()))
                    .collect()
            };
            (key, rows)
        })
        .collect()
}

/// TAI ns (what tseries records) as realtime ns; the kernel's TAI offset is usually 0.
fn tai_to_unix(tai_ns: u64) -> i128 {
    static OFFSET: std::sync::OnceLock<i128> = std::sync::OnceLock::new();
    let offset = *OFFSET.get_or_init(|| {
        let now = |clock| {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: clock_gettime writes only into `ts`.
            unsafe { libc::clock_gettime(clock, &mut ts) };
            i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
        };
        // Rounded to whole seconds: the offset is a leap-second count.
        let d = now(libc::CLOCK_TAI) - now(libc::CLOCK_REALTIME);
        (d + 500_000_000).div_euclid(1_000_000_000) * 1_000_000_000
    });
    i128::from(tai_ns) - offset
}

/// Local wall-clock time with `digits` digits of fraction (0, 3, 6 or 9).
fn clock_text(fmt: &str, tai_ns: u64, digits: u32) -> String {
    let ns = tai_to_unix(tai_ns);
    let mut s = strftime_local(fmt, ns);
    if digits > 0 {
        let frac = ns.rem_euclid(1_000_000_000) / 10i128.pow(9 - digits);
        s.push_str(&format!(".{frac:0w$}", w = digits as usize));
    }
    s
}

/// Fraction digits and their unit name for an interval: the coarsest unit dividing it.
fn time_unit(interval: u64) -> (u32, &'static str) {
    match interval {
        i if i % 1_000_000_000 == 0 => (0, ""),
        i if i % 1_000_000 == 0 => (3, "ms"),
        i if i % 1_000 == 0 => (6, "us"),
        _ => (9, "ns"),
    }
}

/// One step towards the inside of the value's range, if that does not overflow.
fn nudge(v: &Value, up: bool) -> Value {
    match (v, up) {
        (Value::Int(i), true) => Value::Int(i.checked_add(1).unwrap_or(*i)),
        (Value::Int(i), false) => Value::Int(i.checked_sub(1).unwrap_or(*i)),
        (Value::UInt(u), true) => Value::UInt(u.checked_add(1).unwrap_or(*u)),
        (Value::UInt(u), false) => Value::UInt(u.checked_sub(1).unwrap_or(*u)),
        (other, _) => other.clone(),
    }
}

/// The chart of one series (without the `@name:` line).
fn chart(rows: &[Row]) -> String {
    let Some(front) = rows.first() else {
        return "<no data>\n".to_string();
    };
    let present = || rows.iter().filter_map(|(_, v)| v.as_ref());
    let (mut min, mut max) = match present().next() {
        Some(v) => (v.clone(), v.clone()),
        None => (Value::Int(0), Value::Int(0)),
    };
    for v in present() {
        if num(v) < num(&min) {
            min = v.clone();
        }
        if num(v) > num(&max) {
            max = v.clone();
        }
    }
    if num(&min) == num(&max) {
        // Leave room on both sides of a flat line.
        min = nudge(&min, false);
        max = nudge(&max, true);
    }
    let back = rows.last().unwrap_or(front);
    let step = back.0.wrapping_sub(front.0) / (rows.len().max(2) as u64 - 1);
    let (digits, unit) = time_unit(step);
    let (time_fmt, time_size) = if digits > 0 {
        (format!("hh:mm:ss.{unit}"), 9 + digits as usize)
    } else {
        ("hh:mm:ss".to_string(), 8)
    };
    let pad = " ".repeat(time_size + 1);
    let scale = format!(
        "{pad}{:<SCALE_PAD$}{:>w$}\n",
        value_text(&min),
        value_text(&max),
        w = GRAPH_WIDTH - SCALE_PAD
    );
    let (lo, hi) = (num(&min), num(&max));
    let span = (hi - lo) as f32;
    let mut out = scale.clone();
    out.push_str(&format!(
        "{time_fmt:<w$}|{}|\n",
        "_".repeat(GRAPH_WIDTH - 2),
        w = time_size + 1
    ));
    let zero = if lo < 0 && hi > 0 {
        (GRAPH_WIDTH as f32 * (-lo) as f32 / span) as usize
    } else {
        0
    };
    for (ts, v) in rows {
        let mut line = vec![b' '; GRAPH_WIDTH];
        line[0] = b'|';
        line[GRAPH_WIDTH - 1] = b'|';
        if zero > 0 && zero < GRAPH_WIDTH {
            line[zero] = b'.';
        }
        let tail = match v {
            Some(v) => {
                let at = if lo == hi {
                    GRAPH_WIDTH as f32 / 2.0
                } else {
                    (GRAPH_WIDTH - 1) as f32 * (num(v) - lo) as f32 / span
                };
                line[(at as i64).clamp(0, GRAPH_WIDTH as i64 - 1) as usize] = b'*';
                value_text(v)
            }
            None => "-".to_string(),
        };
        out.push_str(&format!(
            "{} {} {tail}\n",
            clock_text("%H:%M:%S", *ts, digits),
            String::from_utf8_lossy(&line)
        ));
    }
    out.push_str(&format!("{pad}v{}v\n", "_".repeat(GRAPH_WIDTH - 2)));
    out.push_str(&scale);
    out
}

/// Text output of a tseries map: a chart per key, each followed by a blank line.
pub fn tseries_text(spec: &MapSpec, entries: Vec<MapEntry>) -> String {
    let scalar = spec.key.is_empty();
    let mut out = String::new();
    for (key, rows) in series(spec, entries) {
        if scalar {
            out.push_str(&format!("{}:\n", spec.name));
        } else {
            out.push_str(&format!("{}[{}]:\n", spec.name, key_text(&key)));
        }
        let empty = rows.is_empty();
        out.push_str(&chart(&rows));
        if !empty {
            out.push('\n');
        }
        if scalar {
            break;
        }
    }
    out
}

fn rows_json(rows: &[Row]) -> String {
    let items: Vec<String> = rows
        .iter()
        .filter_map(|(ts, v)| {
            let v = v.as_ref()?;
            Some(format!(
                "{{\"interval_start\": {}, \"value\": {}}}",
                json_str(&clock_text("%Y-%m-%d %H:%M:%S", *ts, 9)),
                value_data_json(v)
            ))
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// The `tseries` JSON line of a map; `None` for an empty map. Intervals without data are
/// left out.
pub fn tseries_json(spec: &MapSpec, entries: Vec<MapEntry>) -> Option<String> {
    let all = series(spec, entries);
    let body = if spec.key.is_empty() {
        rows_json(&all.first()?.1)
    } else if all.is_empty() {
        return None;
    } else {
        let items: Vec<String> = all
            .iter()
            .map(|(k, rows)| {
                format!(
                    "{}: {}",
                    json_str(&key_text(k).replace(' ', "")),
                    rows_json(rows)
                )
            })
            .collect();
        format!("{{{}}}", items.join(", "))
    };
    Some(format!(
        "{{\"type\": \"tseries\", \"data\": {{{}: {}}}}}",
        json_str(&spec.name),
        body
    ))
}

#[cfg(test)]
#[path = "tseries_tests.rs"]
mod tests;
