//! The compiler's layers, checked on its source: each stage names only the stages before
//! it. The function catalogue (`stdlib/`) sits above them all and is handed in through
//! their own traits (`parser::Vocabulary`, `sema::Catalogue`, `codegen::Lowerings`).
//! Between crates Cargo enforces it: the front end (`crates/syntax`) and the runtime
//! (`crates/runtime`) cannot name the compiler, and the front end depends on the
//! diagnostics alone (checked below).

use std::path::Path;

/// Lines of Rust under `dir` (recursively) that are not comments, with their file.
fn code_lines(dir: &Path) -> Vec<(String, String)> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(code_lines(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines() {
                if !line.trim_start().starts_with("//") {
                    out.push((path.display().to_string(), line.to_string()));
                }
            }
        }
    }
    out
}

/// `dir` is relative to the repository.
fn assert_never_names(dir: &str, later: &[&str]) {
    let lines = code_lines(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir));
    assert!(lines.len() > 100, "{dir} has no code?");
    let bad: Vec<String> = lines
        .iter()
        .filter(|(_, l)| later.iter().any(|w| l.contains(w)))
        .map(|(f, l)| format!("{f}: {l}"))
        .collect();
    assert!(
        bad.is_empty(),
        "{dir} names a later layer:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_front_end_depends_on_the_diagnostics_alone() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/syntax/Cargo.toml"),
    )
    .unwrap();
    let deps: Vec<&str> = manifest
        .lines()
        .filter(|l| l.starts_with("spyglass"))
        .collect();
    assert_eq!(deps, [r#"spyglass-diag = { path = "../diag" }"#]);
    assert_never_names("crates/syntax/src", &["stdlib/", "prelude.bt"]);
}

#[test]
fn sema_names_neither_codegen_nor_the_catalogue() {
    assert_never_names(
        "src/sema",
        &["codegen::", "stdlib::", "stdlib/", "crate::runtime"],
    );
}

#[test]
fn codegen_does_not_name_the_catalogue() {
    assert_never_names("src/codegen", &["stdlib::", "stdlib/", "crate::runtime::"]);
}
