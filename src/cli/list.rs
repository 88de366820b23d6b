//! `-l` / `-lv`: probe names, and with `-v` the `args` fields of each tracepoint in
//! bpftrace's shape (4-space indented `type name;` lines).

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
    Ok(render(&probes::list::matching(glob)?, verbose))
}

/// The indented argument lines of one listed probe; empty when it has none to show.
fn args_of(name: &str) -> String {
    let parts: Vec<&str> = name.splitn(3, ':').collect();
    let ["tracepoint", category, event] = parts[..] else {
        return String::new();
    };
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
}
