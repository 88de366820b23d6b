//! The compiler's layers, checked on its source: each stage names only the stages before
//! it. The function catalogue (`stdlib/`) sits above them all and is handed in through
//! their own traits (`parser::Vocabulary`, `sema::Catalogue`, `codegen::Lowerings`); the
//! runtime crate cannot name the compiler at all (Cargo refuses the cycle).

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

fn assert_never_names(stage: &str, later: &[&str]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(stage);
    let lines = code_lines(&dir);
    assert!(lines.len() > 100, "{stage} has no code?");
    let bad: Vec<String> = lines
        .iter()
        .filter(|(_, l)| later.iter().any(|w| l.contains(w)))
        .map(|(f, l)| format!("{f}: {l}"))
        .collect();
    assert!(
        bad.is_empty(),
        "{stage} names a later layer:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_parser_names_neither_sema_nor_codegen_nor_the_catalogue() {
    assert_never_names(
        "parser",
        &[
            "sema::",
            "codegen::",
            "stdlib::",
            "stdlib/",
            "crate::runtime",
        ],
    );
}

#[test]
fn sema_names_neither_codegen_nor_the_catalogue() {
    assert_never_names(
        "sema",
        &["codegen::", "stdlib::", "stdlib/", "crate::runtime"],
    );
}

#[test]
fn codegen_does_not_name_the_catalogue() {
    assert_never_names("codegen", &["stdlib::", "stdlib/", "crate::runtime::"]);
}
