//! Text-mode output, as bpftrace 0.26 prints it (src/output/text.cpp).

use super::entries::{order, take_value_shown, IntRows, Shown};
use super::hist::hist_text;
use super::value::{value_text, write_key, write_value, MapEntry, Value};
use crate::program::{FieldType, MapKind, MapSpec};

/// What `print(@m, top, div)` (and the exit-time dump) prints for one map.
///
/// Plain maps print one line per entry and no blank line; histograms print the
/// `@name:` / `@name[key]:` header, the rows and one blank line per block. An empty
/// map (keyed or scalar) prints nothing.
pub fn map_text(spec: &MapSpec, entries: Vec<MapEntry>, top: usize, div: u64) -> String {
    if let MapKind::Tseries { .. } = spec.kind {
        return super::tseries::tseries_text(spec, entries);
    }
    if let Some(rows) = IntRows::new(spec, &entries, top, div) {
        drop(entries);
        return int_rows_text(spec, &rows);
    }
    let mut entries = entries;
    let order = order(spec, &entries, top);
    let scalar = spec.key.is_empty();
    // Built in place: a map of 100,000 keys is printed at exit, where every allocation per
    // row shows.
    let mut out = String::with_capacity(order.len() * (spec.name.len() + 24));
    for i in order {
        let shown = take_value_shown(spec, &mut entries[i], div);
        out.push_str(&spec.name);
        if !scalar {
            out.push('[');
            write_key(&mut out, &entries[i].key);
            out.push(']');
        }
        match &shown {
            Shown::Hist(h) => {
                out.push_str(":\n");
                out.push_str(&hist_text(h));
                out.push('\n');
            }
            Shown::Prim(v) => {
                out.push_str(": ");
                write_value(&mut out, v);
                out.push('\n');
            }
            other => {
                out.push_str(": ");
                out.push_str(&shown_text(other));
                out.push('\n');
            }
        }
        if scalar {
            break;
        }
    }
    out
}

/// `map_text` of a map whose keys and values are plain integers.
fn int_rows_text(spec: &MapSpec, rows: &IntRows) -> String {
    let mut out = String::with_capacity(rows.len() * (spec.name.len() + 24));
    let mut digits = itoa::Buffer::new();
    for (value, key) in rows.rows() {
        out.push_str(&spec.name);
        out.push('[');
        for (i, (f, k)) in spec.key.iter().zip(key).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(match f {
                FieldType::Int { signed: true } => digits.format(*k),
                _ => digits.format(*k as u64),
            });
        }
        out.push_str("]: ");
        write_value(&mut out, &value);
        out.push('\n');
    }
    out
}

fn shown_text(s: &Shown) -> String {
    match s {
        Shown::Prim(v) => value_text(v),
        Shown::Stats {
            count,
            average,
            total,
        } => format!(
            "{{ .count = {}, .average = {}, .total = {} }}",
            value_text(count),
            value_text(average),
            value_text(total)
        ),
        Shown::Hist(h) => hist_text(h),
    }
}

/// `print(v)` of a non-map value.
pub fn value_line_text(v: &Value) -> String {
    format!("{}\n", value_text(v))
}

/// Goes to stderr in text mode.
pub fn attached_probes_text(n: u64) -> String {
    if n == 1 {
        "Attached 1 probe\n".to_string()
    } else {
        format!("Attached {n} probes\n")
    }
}

/// Goes to stderr in text mode.
pub fn lost_events_text(n: u64) -> String {
    format!("Lost {n} events\n")
}

#[cfg(test)]
#[path = "text_tests.rs"]
pub(crate) mod tests;
