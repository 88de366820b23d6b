//! `spyglass build SCRIPT -o FILE` (or `--aot FILE`) writes the compiled script as an
//! artifact (`spyglass::artifact`); `spyglass FILE` runs one, with the run-time options
//! and the script's parameters only: what shapes the program was fixed when it was built.

use spyglass::artifact::Source;
use spyglass::program::CompiledProgram;

use super::{Mode, Run, Script};

/// Rewrites `spyglass build … -o FILE …` into the `--aot FILE` run it stands for.
pub fn build_args(raw: &mut Vec<Vec<u8>>) -> Result<(), String> {
    raw.remove(1);
    let usage = "USAGE: spyglass build [OPTIONS] SCRIPT -o FILE";
    let at = raw
        .iter()
        .position(|a| a == b"-o" || a == b"--output")
        .ok_or_else(|| format!("{usage}: -o FILE names the artifact to write"))?;
    if at + 1 >= raw.len() {
        return Err(format!("{usage}: -o needs a file name"));
    }
    raw[at] = b"--aot".to_vec();
    Ok(())
}

/// The program of the artifact `run` names as its script, if it does; an error when the
/// file is a damaged or too new artifact, or when an option asks for a compiling that
/// cannot happen.
/// `file` is the script file's content, when it could be read.
pub fn artifact_arg(
    run: &Run,
    file: Option<&[u8]>,
) -> Result<Option<(CompiledProgram, Option<Source>)>, String> {
    let (Script::File(path), Some(bytes)) = (&run.script, file) else {
        return Ok(None);
    };
    if !spyglass::artifact::is_artifact(bytes) {
        return Ok(None);
    }
    let fixed = [
        (run.helper_warnings, "-k"),
        (
            !run.includes.dirs.is_empty() || !run.includes.files.is_empty(),
            "--include and -I",
        ),
        (run.probe_filter.is_some(), "--probe-filter"),
        (run.list, "-l"),
        (run.mode == Mode::Codegen, "--mode codegen"),
        (
            run.debug.ast || run.debug.types || run.debug.codegen || run.debug.codegen_opt,
            "-d",
        ),
        (
            run.emit_elf.is_some() || run.emit_llvm.is_some(),
            "--emit-elf and --emit-llvm",
        ),
        (run.aot.is_some(), "--aot and build"),
    ];
    if let Some((_, what)) = fixed.iter().find(|(given, _)| *given) {
        return Err(format!(
            "{path} is a built artifact: {what} can only be given when it is built (spyglass build … -o {path})"
        ));
    }
    spyglass::artifact::decode(bytes)
        .map(Some)
        .map_err(|e| format!("{path}: {e}"))
}
