//! The compiler's stages run in order on a script's raw bytes, as `spyglass --mode codegen`
//! runs them (a stack sized by the script, diagnostics rendered). The fuzz targets in
//! `fuzz/` drive the compiler through here.

use crate::{codegen, deep, parser, sema, stdlib};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Preprocessor, lexer, parser, macro expansion.
    Parse,
    /// Also sema (probe lookups read tracefs and BTF).
    Check,
    /// Also LLVM, down to the BPF object.
    Codegen,
}

/// Runs the stages up to `last`; a failure comes back as the rendered diagnostic.
pub fn run_to(bytes: &[u8], last: Stage) -> Result<(), String> {
    let name = "stdin";
    let source = parser::decode(bytes.to_vec()).map_err(|(text, d)| d.render(name, &text))?;
    deep::with_stack_for(&source, || {
        let render = |d: crate::diag::Diagnostic| d.render(name, &source);
        let ast = parser::parse(&source, &stdlib::STDLIB).map_err(render)?;
        if last == Stage::Parse {
            return Ok(());
        }
        let opts = sema::Options {
            source: Some((name.to_string(), source.clone())),
            ..options_for(&source)
        };
        let checked = sema::check(ast, opts, &stdlib::STDLIB).map_err(render)?;
        for w in &checked.warnings {
            render(w.clone());
        }
        if last == Stage::Check {
            return Ok(());
        }
        codegen::compile(&checked, &stdlib::STDLIB, false).map_err(render)?;
        Ok(())
    })
}

/// Options a test script asks for on its first line, as the language snapshot suite and
/// the fuzz targets read them: `// --unsafe` (the flag), `// --portable` (an artifact
/// build), `// --host init` or `// --host ns` (compiled for a run in the initial PID
/// namespace or another one, `-p` added by ` -p`).
pub fn options_for(source: &str) -> sema::Options {
    let first = source.lines().next().unwrap_or("");
    let host = first.strip_prefix("// --host ").map(|rest| sema::Host {
        init_pid_ns: rest.starts_with("init"),
        filter_pid: rest.contains("-p"),
    });
    sema::Options {
        unsafe_mode: first.starts_with("// --unsafe"),
        portable: first.starts_with("// --portable"),
        host,
        ..Default::default()
    }
}
