//! The maps in the Prometheus text exposition format (version 0.0.4), for `--metrics`.
//!
//! One metric family per map: `PREFIX` + the map's name (`@` alone is `map`), characters
//! outside `[a-zA-Z0-9_]` as `_`. `count()` and `sum()` are counters (`_total`), or
//! gauges when the script deletes from, clears or zeroes the map (`MapSpec::reset`: a
//! counter must not go down);
//! `avg`/`min`/`max` and plain values are gauges; `hist`/`lhist` are histograms
//! (cumulative `_bucket{le=…}`, `_sum` and `_count`: the sum is kept in the kernel only
//! under `--metrics`, see `MapSpec::hist_sum`); `stats` is a summary (`_sum`, `_count`). Keys become labels: `key` for one
//! field, `key0`, `key1`, … for several. Maps keyed by stacks, and values that are not
//! numbers, are left out.

use std::fmt::Write;

use super::hist::{hist_bucket_bounds, lhist_bucket_bounds};
use super::value::{value_text, AggValue, MapEntry, Value};
use crate::program::{FieldType, MapKind, MapSpec};

/// Whether the map can be exposed at all.
pub fn exported(spec: &MapSpec) -> bool {
    !spec
        .key
        .iter()
        .any(|f| matches!(f, FieldType::Kind(k) if crate::kinds::Stack::parts(k).is_some()))
        && match &spec.kind {
            MapKind::Value(f) => matches!(
                f,
                FieldType::Int { .. } | FieldType::Bool | FieldType::Enum(_)
            ),
            MapKind::Tseries { .. } => false,
            _ => true,
        }
}

/// The family's lines; at most `max_keys` keys (the rest are counted in a comment).
pub fn metrics_text(prefix: &str, spec: &MapSpec, entries: &[MapEntry], max_keys: usize) -> String {
    let name = format!("{prefix}{}", metric_name(&spec.name));
    let mut out = String::new();
    let (kind, sample) = match spec.kind {
        MapKind::Count | MapKind::Sum { .. } if !spec.reset => ("counter", format!("{name}_total")),
        MapKind::Hist { .. } | MapKind::Lhist { .. } => ("histogram", name.clone()),
        MapKind::Stats { .. } => ("summary", name.clone()),
        _ => ("gauge", name.clone()),
    };
    let family = if kind == "counter" { &sample } else { &name };
    let _ = writeln!(out, "# HELP {family} spyglass map {}", spec.name);
    let _ = writeln!(out, "# TYPE {family} {kind}");
    for e in entries.iter().take(max_keys) {
        let labels = labels(&e.key);
        match &e.value {
            AggValue::Count(n) => sample_line(&mut out, &sample, &labels, None, &n.to_string()),
            AggValue::Sum(v) | AggValue::Min(v) | AggValue::Max(v) | AggValue::Plain(v) => {
                if let Some(n) = number(v) {
                    sample_line(&mut out, &sample, &labels, None, &n);
                }
            }
            AggValue::Avg { count, total } => {
                let avg = if *count == 0 {
                    0.0
                } else {
                    *total as f64 / *count as f64
                };
                sample_line(&mut out, &sample, &labels, None, &avg.to_string());
            }
            AggValue::Stats { count, total } => {
                sample_line(
                    &mut out,
                    &format!("{name}_sum"),
                    &labels,
                    None,
                    &total.to_string(),
                );
                sample_line(
                    &mut out,
                    &format!("{name}_count"),
                    &labels,
                    None,
                    &count.to_string(),
                );
            }
            AggValue::Hist { counts, sum } => {
                let bucket = format!("{name}_bucket");
                let mut total = 0u64;
                for (i, c) in counts.iter().enumerate() {
                    total += c;
                    let (_, hi) = match spec.kind {
                        MapKind::Lhist { min, max, step } => {
                            lhist_bucket_bounds(i as u64, min, max, step)
                        }
                        MapKind::Hist { k } => hist_bucket_bounds(i as u64, k),
                        _ => (None, None),
                    };
                    if let Some(hi) = hi {
                        sample_line(
                            &mut out,
                            &bucket,
                            &labels,
                            Some(&hi.to_string()),
                            &total.to_string(),
                        );
                    }
                }
                sample_line(&mut out, &bucket, &labels, Some("+Inf"), &total.to_string());
                if let Some(sum) = sum {
                    sample_line(
                        &mut out,
                        &format!("{name}_sum"),
                        &labels,
                        None,
                        &sum.to_string(),
                    );
                }
                sample_line(
                    &mut out,
                    &format!("{name}_count"),
                    &labels,
                    None,
                    &total.to_string(),
                );
            }
            AggValue::Tseries(_) => {}
        }
    }
    if entries.len() > max_keys {
        let _ = writeln!(
            out,
            "# {} more keys of {} not shown (max_map_keys)",
            entries.len() - max_keys,
            spec.name
        );
    }
    out
}

fn metric_name(map: &str) -> String {
    let bare = map.trim_start_matches('@');
    let bare = if bare.is_empty() { "map" } else { bare };
    bare.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn number(v: &Value) -> Option<String> {
    match v {
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Bool(b) => Some((*b as u8).to_string()),
        Value::Enum { value, .. } => Some(value.to_string()),
        _ => None,
    }
}

fn labels(key: &[Value]) -> Vec<(String, String)> {
    match key {
        [] => vec![],
        [one] => vec![("key".into(), value_text(one))],
        many => many
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("key{i}"), value_text(v)))
            .collect(),
    }
}

fn sample_line(
    out: &mut String,
    name: &str,
    labels: &[(String, String)],
    le: Option<&str>,
    value: &str,
) {
    out.push_str(name);
    let all = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(le.map(|le| ("le", le)));
    let mut first = true;
    for (k, v) in all {
        out.push(if first { '{' } else { ',' });
        first = false;
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    if !first {
        out.push('}');
    }
    out.push(' ');
    out.push_str(value);
    out.push('\n');
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
