//! `-f json` output (NDJSON), as bpftrace 0.26 emits it (src/output/json.cpp).
//! Every function returns one line without the trailing newline.

use super::entries::{prepare, Shown};
use super::hist::hist_json;
use super::value::{key_text, MapEntry, Value};
use crate::program::{MapKind, MapSpec};

/// JSON string literal with bpftrace's escaping (`\uXXXX` for other control bytes).
///
/// bpftrace also mangles bytes >= 0x80 (signed char) and leaves its stream in hex
/// mode afterwards; non-ASCII text is passed through unchanged instead.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) <= 0x1f => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Integers a double cannot hold exactly are emitted as strings (RFC 8259 advice).
pub fn json_i64(v: i64) -> String {
    let d = v as f64;
    if d < 9_223_372_036_854_775_808.0 && d as i64 == v {
        v.to_string()
    } else {
        json_str(&v.to_string())
    }
}

pub fn json_u64(v: u64) -> String {
    let d = v as f64;
    if d < 18_446_744_073_709_551_616.0 && d as u64 == v {
        v.to_string()
    } else {
        json_str(&v.to_string())
    }
}

/// The JSON form of a bare value (the `data` of a `value` event, or a map value).
pub fn value_data_json(v: &Value) -> String {
    match v {
        Value::Int(i) => json_i64(*i),
        Value::UInt(u) | Value::Ptr(u) => json_u64(*u),
        Value::Str(s) => json_str(s),
        Value::Buf(b) => format!(
            "[{}]",
            b.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::Bool(b) => b.to_string(),
        Value::Stack { frames, .. } => format!(
            "[{}]",
            frames
                .iter()
                .map(|f| json_str(f))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Sym { .. } => json_str(&super::value::value_text(v)),
        // bpftrace's JSON has no symbolic values: enums are their numbers.
        Value::Enum { value, .. } => json_u64(*value),
        Value::Array(xs) => format!(
            "[{}]",
            xs.iter().map(value_data_json).collect::<Vec<_>>().join(",")
        ),
        Value::Record(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(n, v)| format!("{}: {}", json_str(n), value_data_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Tuple(t) => format!(
            "[{}]",
            t.iter().map(value_data_json).collect::<Vec<_>>().join(",")
        ),
    }
}

fn envelope(ty: &str, data: &str) -> String {
    format!("{{\"type\": \"{ty}\", \"data\": {data}}}")
}

/// `print(v)` of a non-map value: `{"type": "value", "data": 5}`.
pub fn value_json(v: &Value) -> String {
    envelope("value", &value_data_json(v))
}

/// `{"type": "printf", "data": "..."}`.
pub fn printf_json(s: &str) -> String {
    envelope("printf", &json_str(s))
}

/// `{"type": "time", "data": "12:34:56\n"}`.
pub fn time_json(s: &str) -> String {
    envelope("time", &json_str(s))
}

/// Other string events: `cat`, `join`, `syscall` (system()).
pub fn string_event_json(ty: &str, s: &str) -> String {
    envelope(ty, &json_str(s))
}

pub fn attached_probes_json(n: u64) -> String {
    format!("{{\"type\": \"attached_probes\", \"count\": {n}, \"data\": {{\"probes\": {n}}}}}")
}

pub fn lost_events_json(n: u64) -> String {
    format!("{{\"type\": \"lost_events\", \"count\": {n}, \"data\": {{\"events\": {n}}}}}")
}

/// `errorf`/`warnf`: `{"type": "errorf", "msg": ..., "filename": ..., "line": L, "col": C}`.
pub fn errorf_json(is_error: bool, msg: &str, filename: &str, line: u64, col: u64) -> String {
    format!(
        "{{\"type\": \"{}\", \"msg\": {}, \"filename\": {}, \"line\": {}, \"col\": {}}}",
        if is_error { "errorf" } else { "warnf" },
        json_str(msg),
        json_str(filename),
        json_u64(line),
        json_u64(col)
    )
}

fn shown_json(s: &Shown) -> String {
    match s {
        Shown::Prim(v) => value_data_json(v),
        Shown::Stats {
            count,
            average,
            total,
        } => format!(
            "{{\"count\": {}, \"average\": {}, \"total\": {}}}",
            value_data_json(count),
            value_data_json(average),
            value_data_json(total)
        ),
        Shown::Hist(h) => hist_json(h),
    }
}

/// One `map`/`stats`/`hist` line for `print(@m, top, div)` and the exit-time dump.
///
/// `None` when bpftrace emits nothing: an empty map, except avg()/stats() maps, which
/// bpftrace still emits with an empty object (`{"@x": {}}`).
pub fn map_json(spec: &MapSpec, entries: Vec<MapEntry>, top: usize, div: u64) -> Option<String> {
    if let MapKind::Tseries { .. } = spec.kind {
        return super::tseries::tseries_json(spec, entries);
    }
    let is_stats = matches!(spec.kind, MapKind::Avg { .. } | MapKind::Stats { .. });
    let ty = if is_stats {
        "stats"
    } else if spec.kind.is_histogram() {
        "hist"
    } else {
        "map"
    };
    let rows = prepare(spec, entries, top, div);
    if rows.is_empty() && !is_stats {
        return None;
    }
    let body = match rows.first() {
        Some((_, shown)) if spec.key.is_empty() => shown_json(shown),
        _ => {
            let items: Vec<String> = rows
                .iter()
                .map(|(k, s)| {
                    format!(
                        "{}: {}",
                        json_str(&key_text(k).replace(' ', "")),
                        shown_json(s)
                    )
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    };
    Some(envelope(
        ty,
        &format!("{{{}: {}}}", json_str(&spec.name), body),
    ))
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
