//! `import "path";`: scripts (`.bt`: their probes, macros, map declarations and C
//! definitions join the importing program), headers (`.h`: C definitions) and
//! directories of them (not recursive). Paths are relative to the importing file; each
//! file is read once however often it is imported; a world-writable directory is refused,
//! as anyone could put code into it. Diagnostics point into the imported file itself
//! (`diag::add_source`).

use std::cell::Cell;
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::ast::Program;
use super::Includes;
use crate::diag::{Diagnostic, Result, Span};

/// Imports nested deeper than this are taken for a cycle gone wrong.
const MAX_DEPTH: u32 = 16;

pub(super) fn resolve(
    program: &mut Program,
    ids: &Cell<u32>,
    includes: &Includes,
    dir: &Path,
    seen: &mut HashSet<PathBuf>,
    depth: u32,
    vocab: &dyn super::Vocabulary,
) -> Result<()> {
    for (spec, span) in std::mem::take(&mut program.imports) {
        if depth >= MAX_DEPTH {
            return Err(Diagnostic::error("imports are nested too deeply", span));
        }
        for file in files(dir, &spec, span)? {
            let key = file.canonicalize().unwrap_or(file.clone());
            if !seen.insert(key) {
                continue;
            }
            let sub = load(&file, span, ids, includes, seen, depth, vocab)?;
            merge(program, sub);
        }
    }
    Ok(())
}

/// The files `import "spec"` names.
fn files(dir: &Path, spec: &str, span: Span) -> Result<Vec<PathBuf>> {
    let path = dir.join(spec);
    let meta = std::fs::metadata(&path).map_err(|e| {
        Diagnostic::error(
            format!("cannot import `{spec}`: {}", crate::diag::io_reason(&e)),
            span,
        )
        .with_note(format!("looked for {}", path.display()))
    })?;
    if !meta.is_dir() {
        check_dir(path.parent().unwrap_or(Path::new(".")), spec, span)?;
        return Ok(vec![path]);
    }
    check_dir(&path, spec, span)?;
    let mut out: Vec<PathBuf> = std::fs::read_dir(&path)
        .map_err(|e| {
            Diagnostic::error(
                format!("cannot import `{spec}`: {}", crate::diag::io_reason(&e)),
                span,
            )
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && matches!(kind(p), Kind::Script | Kind::Header))
        .collect();
    out.sort();
    Ok(out)
}

fn check_dir(dir: &Path, spec: &str, span: Span) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mode = std::fs::metadata(dir)
        .map(|m| m.permissions().mode())
        .unwrap_or(0);
    if mode & 0o002 != 0 {
        return Err(Diagnostic::error(
            format!(
                "cannot import `{spec}`: {} is world-writable",
                dir.display()
            ),
            span,
        )
        .with_note(
            "anyone could change what runs; move the file to a directory only you can write",
        ));
    }
    Ok(())
}

enum Kind {
    Script,
    Header,
    CSource,
    Other,
}

fn kind(p: &Path) -> Kind {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    if name.ends_with(".bpf.c") {
        Kind::CSource
    } else if name.ends_with(".bt") {
        Kind::Script
    } else if name.ends_with(".h") {
        Kind::Header
    } else {
        Kind::Other
    }
}

/// Reads and parses one imported file, and what it imports in turn.
fn load(
    file: &Path,
    span: Span,
    ids: &Cell<u32>,
    includes: &Includes,
    seen: &mut HashSet<PathBuf>,
    depth: u32,
    vocab: &dyn super::Vocabulary,
) -> Result<Program> {
    let shown = file.display().to_string();
    match kind(file) {
        Kind::Script | Kind::Header => {}
        Kind::CSource => {
            return Err(Diagnostic::error(
                format!("cannot import `{shown}`: C sources need a C compiler"),
                span,
            )
            .with_note("spyglass compiles scripts only; import .bt scripts and .h headers"))
        }
        Kind::Other => {
            return Err(Diagnostic::error(
                format!("cannot import `{shown}`: not a .bt script or a .h header"),
                span,
            ))
        }
    }
    let text = std::fs::read_to_string(file).map_err(|e| {
        Diagnostic::error(
            format!("cannot import `{shown}`: {}", crate::diag::io_reason(&e)),
            span,
        )
    })?;
    let base = crate::diag::add_source(shown.clone(), text.clone());
    let mut sub = super::parse_file(&text, base, ids, includes, vocab)?;
    if let Some(c) = sub.config.first() {
        return Err(
            Diagnostic::error("an imported script cannot have a config block", c.span)
                .with_secondary(span, "imported here")
                .with_note("configure the program in the script that imports it"),
        );
    }
    if let (Kind::Header, Some(p)) = (kind(file), sub.probes.first()) {
        let at = p.attach_points.first().map_or(span, |a| a.span);
        return Err(Diagnostic::error("a header cannot hold probes", at)
            .with_secondary(span, "imported here"));
    }
    let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    resolve(&mut sub, ids, includes, &dir, seen, depth + 1, vocab)?;
    Ok(sub)
}

/// An imported file's items join the program; its probes come first, as bpftrace runs
/// imported `begin` blocks before the importer's.
fn merge(into: &mut Program, sub: Program) {
    let mut probes = sub.probes;
    probes.append(&mut into.probes);
    into.probes = probes;
    into.macros.extend(sub.macros);
    into.map_decls.extend(sub.map_decls);
    into.cdefs.extend(sub.cdefs);
}
