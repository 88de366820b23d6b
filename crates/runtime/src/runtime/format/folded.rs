//! Stack-keyed maps as folded stacks: `frame;frame;…;frame weight`, one line per distinct
//! stack, outermost frame first. It is what Brendan Gregg's `stackcollapse-*` scripts
//! produce and what every flame-graph tool reads; `-f folded` prints it and
//! `--flamegraph` draws it (`runtime::flame`).
//!
//! A line starts with the map's name when it has one (so two maps in one output stay
//! apart), then the key's other fields in key order, then its user stacks and last its
//! kernel stacks (a system call's kernel frames sit on top of the user frames that made
//! it). Kernel frames carry `_[k]`, the annotation flame-graph palettes colour apart.
//! Offsets are dropped, so the samples of one function add up.

use std::collections::BTreeMap;

use super::value::{value_text, AggValue, MapEntry, Value};
use crate::program::{FieldType, MapKind, MapSpec, StackMode};

/// Whether a map is drawn as a flame graph: a stack in its key and a count or sum (the
/// weight) as its value.
pub fn is_stack_map(spec: &MapSpec) -> bool {
    spec.key
        .iter()
        .any(|f| matches!(f, FieldType::Kind(k) if crate::kinds::Stack::parts(k).is_some()))
        && matches!(spec.kind, MapKind::Count | MapKind::Sum { .. })
}

/// The folded stacks of a stack map and their weights, sorted by stack.
pub fn folded(spec: &MapSpec, entries: &[MapEntry]) -> Vec<(String, u64)> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for e in entries {
        let weight = match &e.value {
            AggValue::Count(n) => *n,
            AggValue::Sum(Value::UInt(n)) => *n,
            AggValue::Sum(Value::Int(n)) => (*n).max(0) as u64,
            _ => continue,
        };
        let w = out.entry(stack_line(spec, &e.key)).or_default();
        *w = w.saturating_add(weight);
    }
    out.into_iter().collect()
}

/// `-f folded`'s text for a stack map.
pub fn folded_text(spec: &MapSpec, entries: &[MapEntry]) -> String {
    let mut s = String::new();
    for (line, weight) in folded(spec, entries) {
        s.push_str(&line);
        s.push(' ');
        s.push_str(itoa::Buffer::new().format(weight));
        s.push('\n');
    }
    s
}

fn stack_line(spec: &MapSpec, key: &[Value]) -> String {
    let mut frames: Vec<String> = vec![];
    if spec.name != "@" {
        frames.push(spec.name.clone());
    }
    let (mut user, mut kernel) = (vec![], vec![]);
    for v in key {
        match v {
            Value::Stack {
                user: true,
                mode,
                frames,
            } => user.push((*mode, frames)),
            Value::Stack { mode, frames, .. } => kernel.push((*mode, frames)),
            other => frames.push(clean(&value_text(other))),
        }
    }
    for (mode, fs) in user {
        frames.extend(fs.iter().rev().map(|f| clean(&function(mode, f))));
    }
    for (mode, fs) in kernel {
        frames.extend(fs.iter().rev().map(|f| clean(&function(mode, f)) + "_[k]"));
    }
    if frames.is_empty() {
        frames.push("[unknown]".into());
    }
    frames.join(";")
}

/// A frame as `mode` printed it, reduced to its function (or address).
fn function(mode: StackMode, frame: &str) -> String {
    let f = frame.trim();
    let f = match mode {
        // `\tADDR func+off (module)`
        StackMode::Perf => {
            let rest = f.split_once(' ').map_or(f, |(_, r)| r);
            rest.strip_suffix(')')
                .and_then(|r| r.rsplit_once(" ("))
                .map_or(rest, |(r, _)| r)
        }
        StackMode::Bpftrace => f,
        StackMode::Raw | StackMode::BuildId => return f.to_string(),
    };
    match f.rsplit_once('+') {
        Some((name, off)) if !name.is_empty() && off.bytes().all(|b| b.is_ascii_digit()) => {
            name.to_string()
        }
        _ => f.to_string(),
    }
}

/// `;` separates frames and the last space the weight: neither may be misread.
fn clean(s: &str) -> String {
    s.trim().replace(';', ":").replace('\n', " ")
}

#[cfg(test)]
#[path = "folded_tests.rs"]
mod tests;
