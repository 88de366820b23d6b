//! `errorf`/`warnf` messages and the output of `cat()` and `system()`, as bpftrace prints
//! them.

use super::json::{errorf_json, string_event_json};
use super::value::Value;
use crate::program::SourceSite;

/// Text form: `stdin:1:9-62: ERROR: msg`, then the source line and a `~~~` marker under
/// the call; a span over several lines gives `stdin:2-4: ERROR: msg` alone.
pub fn log_text(error: bool, msg: &str, site: Option<&SourceSite>) -> String {
    let level = if error { "ERROR" } else { "WARNING" };
    let msg = msg.strip_suffix('\n').unwrap_or(msg);
    let Some(s) = site else {
        return format!("{level}: {msg}\n");
    };
    if s.end_line > s.line {
        return format!("{}:{}-{}: {level}: {msg}\n", s.filename, s.line, s.end_line);
    }
    let mut out = format!(
        "{}:{}:{}-{}: {level}: {msg}\n",
        s.filename, s.line, s.col, s.end_col
    );
    if s.source_line.is_empty() {
        return out;
    }
    // Tabs become four spaces, in the line and under it, so the marker stays aligned.
    out.push_str(&s.source_line.replace('\t', "    "));
    out.push('\n');
    for (i, c) in s
        .source_line
        .chars()
        .enumerate()
        .take(s.end_col.saturating_sub(1) as usize)
    {
        let mark = if (i as u64) < s.col.saturating_sub(1) {
            ' '
        } else {
            '~'
        };
        let width = if c == '\t' { 4 } else { 1 };
        out.extend(std::iter::repeat_n(mark, width));
    }
    out.push('\n');
    out
}

/// JSON form: `{"type": "errorf", "msg": …, "filename": …, "line": …, "col": …}`.
pub fn log_json(error: bool, msg: &str, site: Option<&SourceSite>) -> String {
    let msg = msg.strip_suffix('\n').unwrap_or(msg);
    match site {
        Some(s) => errorf_json(error, msg, &s.filename, s.line, s.col),
        None => errorf_json(error, msg, "", 0, 0),
    }
}

/// `join()`: the first `count` strings of the payload, separated by `sep`.
pub fn join_text(args: &[Value], sep: &str) -> String {
    let count = match args.first() {
        Some(Value::UInt(n)) => *n as usize,
        Some(Value::Int(n)) => *n as usize,
        _ => 0,
    };
    let parts: Vec<&str> = args
        .iter()
        .skip(1)
        .take(count)
        .map(|v| match v {
            Value::Str(s) => s.as_str(),
            _ => "",
        })
        .collect();
    parts.join(sep)
}

/// `cat()` of a file: its first `max` bytes as text, or the error to report.
pub fn cat_contents(path: &str, max: u64) -> Result<String, String> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| format!("failed to open file '{path}': {}", os_error(&e)))?;
    let mut buf = Vec::new();
    f.take(max)
        .read_to_end(&mut buf)
        .map_err(|e| format!("failed to read file '{path}': {}", os_error(&e)))?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// `system()`: runs the command through the shell and gives what it wrote to stdout
/// (its stderr goes to ours). Event processing waits for it, as in bpftrace.
pub fn run_command(cmd: &str) -> Result<String, String> {
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", cmd])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("failed to run '{cmd}': {}", os_error(&e)))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn cat_json(contents: &str) -> String {
    string_event_json("cat", contents)
}

/// strerror(3)'s words without Rust's " (os error N)" suffix.
fn os_error(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(line: u64, end_line: u64, col: u64, end_col: u64, text: &str) -> SourceSite {
        SourceSite {
            filename: "stdin".into(),
            line,
            end_line,
            col,
            end_col,
            source_line: text.into(),
        }
    }

    #[test]
    fn error_with_source_context() {
        let src = r#"begin { errorf("Something bad with args: %d, %s", 10, "arg2"); }"#;
        let s = site(1, 1, 9, 62, src);
        assert_eq!(
            log_text(true, "Something bad with args: 10, arg2", Some(&s)),
            format!(
                "stdin:1:9-62: ERROR: Something bad with args: 10, arg2\n{src}\n        {}\n",
                "~".repeat(53)
            )
        );
    }

    #[test]
    fn warning_tabs_multiline_and_no_site() {
        let s = site(1, 1, 2, 4, "\tab;");
        assert_eq!(
            log_text(false, "w\n", Some(&s)),
            "stdin:1:2-4: WARNING: w\n    ab;\n    ~~\n"
        );
        assert_eq!(
            log_text(true, "m", Some(&site(2, 3, 1, 5, "x"))),
            "stdin:2-3: ERROR: m\n"
        );
        assert_eq!(log_text(false, "m", None), "WARNING: m\n");
    }

    #[test]
    fn json_forms() {
        let s = site(1, 1, 9, 12, "x");
        assert_eq!(
            log_json(false, "hi\n", Some(&s)),
            r#"{"type": "warnf", "msg": "hi", "filename": "stdin", "line": 1, "col": 9}"#
        );
        assert_eq!(cat_json("1 2\n"), r#"{"type": "cat", "data": "1 2\n"}"#);
    }

    #[test]
    fn cat_reports_missing_files() {
        assert_eq!(
            cat_contents("/nonexistent/spyglass", 10240).unwrap_err(),
            "failed to open file '/nonexistent/spyglass': No such file or directory"
        );
    }
}
