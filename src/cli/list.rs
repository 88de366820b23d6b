//! `-l` / `-lv`: probe names, and with `-v` the `args` fields of each tracepoint, raw
//! tracepoint and iterator in bpftrace's shape (4-space indented `type name;` lines);
//! `struct X` searches list (with `-v`, print as C) the kernel's types.

use spyglass::probes::{self, tracefs};

/// The listing for `names`, with argument lines when `verbose`.
pub fn render(names: &[String], verbose: bool) -> String {
    let mut out = String::new();
    for n in names {
        out.push_str(n);
        out.push('\n');
        if verbose {
            out.push_str(&args_of(n));
        }
    }
    out
}

/// `-l [SEARCH]` without a program.
pub fn search(glob: &str, verbose: bool) -> Result<String, String> {
    let (types, probe_globs): (Vec<&str>, Vec<&str>) = glob
        .split(',')
        .map(str::trim)
        .partition(|g| is_type_search(g));
    let mut out = String::new();
    if !probe_globs.is_empty() || types.is_empty() {
        out = render(&probes::list::matching(&probe_globs.join(","))?, verbose);
    }
    for t in types {
        out.push_str(&types_matching(t, verbose));
    }
    Ok(out)
}

fn is_type_search(g: &str) -> bool {
    ["struct ", "union ", "enum "]
        .iter()
        .any(|w| g.starts_with(w))
}

/// `struct task_struct` (or a glob over names): the names, or with `verbose` each
/// definition as bpftrace prints it, `vmlinux: struct task_struct { … };`.
fn types_matching(glob: &str, verbose: bool) -> String {
    let (word, bare) = glob.split_once(' ').unwrap_or((glob, ""));
    let bare = bare.trim();
    let names: Vec<String> = if bare.contains(['*', '?', '[']) {
        let mut v: Vec<String> = probes::btf_type_names(word)
            .into_iter()
            .filter(|n| tracefs::glob_match(bare, n))
            .map(|n| format!("{word} {n}"))
            .collect();
        v.sort();
        v.dedup();
        v
    } else {
        vec![format!("{word} {bare}")]
    };
    let mut out = String::new();
    for n in names {
        match probes::c_definition(&n) {
            Some(def) if verbose => out.push_str(&format!("vmlinux: {def}\n\n")),
            Some(_) => out.push_str(&format!("{n}\n")),
            None => {}
        }
    }
    out
}

/// The indented argument lines of one listed probe; empty when it has none to show.
fn args_of(name: &str) -> String {
    let parts: Vec<&str> = name.splitn(3, ':').collect();
    let lines = match parts[..] {
        ["tracepoint", category, event] => return tracepoint_args(category, event),
        ["rawtracepoint", _module, event] => probes::rawtracepoint::param_lines(event),
        ["iter", target] => probes::iter::params(target),
        ["fentry", _module, func] => probes::fentry::param_lines(func, false),
        ["uprobe", path, func] => probes::uprobe::param_lines(path, func),
        ["fexit", _module, func] => probes::fentry::param_lines(func, true),
        _ => return String::new(),
    };
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn tracepoint_args(category: &str, event: &str) -> String {
    let Ok(fields) = tracefs::format(category, event) else {
        return String::new();
    };
    fields
        .iter()
        .filter(|f| !f.common)
        .map(|f| format!("    {};\n", declaration(f)))
        .collect()
}

/// A field as the format file declares it: `char prev_comm[16]`, `const char * filename`.
fn declaration(f: &tracefs::TpField) -> String {
    let suffix = match f.kind {
        tracefs::TpFieldKind::CharArray { len } | tracefs::TpFieldKind::Array { len, .. } => {
            format!("[{len}]")
        }
        _ => String::new(),
    };
    format!("{} {}{}", f.c_type, f.name, suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracepoint_fields_are_listed_without_common_ones() {
        let out = render(&["tracepoint:sched:sched_switch".to_string()], true);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "tracepoint:sched:sched_switch");
        assert_eq!(lines[1], "    char prev_comm[16];");
        assert!(lines.contains(&"    pid_t next_pid;"), "{out}");
        assert!(!out.contains("common_"), "{out}");
    }

    #[test]
    fn raw_tracepoints_and_iterators_list_their_parameters() {
        let out = render(
            &["rawtracepoint:vmlinux:irq_handler_entry".to_string()],
            true,
        );
        assert_eq!(
            out,
            "rawtracepoint:vmlinux:irq_handler_entry\n    int irq;\n    struct irqaction * action;\n"
        );
        let out = render(&["iter:task_file".to_string()], true);
        assert_eq!(
            out,
            "iter:task_file\n    struct task_struct * task;\n    u32 fd;\n    struct file * file;\n"
        );
    }
}
