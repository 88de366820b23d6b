//! `spyglass-run [OPTIONS] FILE.spy [PARAMS] [-- --name=value]`: runs an artifact written by `spyglass build`, on a
//! machine without LLVM. Built from the runtime crate alone; it takes spyglass's run-time
//! options and prints exactly what `spyglass script.bt` prints.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use spyglass_runtime::diag::Diagnostic;
use spyglass_runtime::runtime::{self, Buffering, Mode, RunOptions};

#[derive(Parser)]
#[command(
    name = "spyglass-run",
    version,
    about = "Runs a spyglass artifact (spyglass build SCRIPT -o FILE.spy)"
)]
struct Args {
    /// The artifact.
    artifact: PathBuf,
    /// The script's positional parameters (`$1`, …).
    #[arg(allow_negative_numbers = true)]
    params: Vec<String>,
    /// After `--`: `--name=value` options for `getopt()`, and more positional parameters.
    #[arg(last = true)]
    after: Vec<String>,
    /// Quiet: no "Attached N probes".
    #[arg(short = 'q')]
    quiet: bool,
    #[arg(short = 'v')]
    verbose: bool,
    /// Write the output to FILE.
    #[arg(short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Output format: text, json or folded.
    #[arg(short = 'f', value_name = "FORMAT", default_value = "text")]
    format: String,
    /// Output buffering: line, full or none.
    #[arg(short = 'B', value_name = "MODE", default_value = "line")]
    buffering: String,
    /// Run CMD, trace it, stop when it exits.
    #[arg(short = 'c', value_name = "CMD")]
    cmd: Option<String>,
    /// Stop when PID exits (and filter on it).
    #[arg(short = 'p', value_name = "PID", conflicts_with = "cmd")]
    pid: Option<u32>,
    /// Serve the maps to Prometheus on ADDR.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    #[arg(long, value_name = "PREFIX", default_value = "spyglass_")]
    metrics_prefix: String,
    /// Write a flame graph of the stack maps at exit.
    #[arg(long, value_name = "FILE.svg")]
    flamegraph: Option<PathBuf>,
    /// Load into the verifier only; attach nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long)]
    no_warnings: bool,
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error: {info}\n = this is a bug in spyglass; please report it");
    }));
    std::panic::catch_unwind(run).unwrap_or(ExitCode::from(1))
}

fn run() -> ExitCode {
    let a = Args::parse();
    let mut name = a.artifact.display().to_string();
    let mut text = String::new();
    let fail = |d: Diagnostic, name: &str, text: &str| {
        eprint!("{}", d.render(name, text));
        ExitCode::from(1)
    };
    let (json, folded) = match a.format.as_str() {
        "text" => (false, false),
        "json" => (true, false),
        "folded" => (false, true),
        f => {
            return fail(
                Diagnostic::global(format!("-f {f}: expected text, json or folded")),
                &name,
                "",
            )
        }
    };
    let buffering = match a.buffering.as_str() {
        "line" | "L" => Buffering::Line,
        "full" | "F" => Buffering::Full,
        "none" | "N" => Buffering::None,
        b => {
            return fail(
                Diagnostic::global(format!("-B {b}: expected line, full or none")),
                &name,
                "",
            )
        }
    };
    let program = match std::fs::read(&a.artifact) {
        Ok(bytes) => match spyglass_runtime::artifact::decode(&bytes) {
            Ok((p, source)) => {
                // Errors quote the script it was built from.
                if let Some(s) = source {
                    (name, text) = (s.name, s.text);
                }
                p
            }
            Err(e) => return fail(Diagnostic::global(format!("{name}: {e}")), &name, ""),
        },
        Err(e) => {
            return fail(
                Diagnostic::global(format!("cannot read {name}: {e}")),
                &name,
                "",
            )
        }
    };
    let file = a.artifact.display().to_string();
    if let Some(w) = spyglass_runtime::artifact::kernel_warning(&file, &program) {
        eprintln!("{w}");
    }
    if let Some(msg) = runtime::missing_privileges() {
        let d = Diagnostic::global(msg).with_note("run it with sudo, or grant the capabilities");
        return fail(d, &name, &text);
    }
    if let Some(path) = &a.output {
        if let Err(d) = runtime::create_output(path) {
            return fail(d, &name, &text);
        }
    }
    let _ = std::io::stdout().flush();
    let (more, named) = spyglass_runtime::params::split_after_dashes(a.after);
    let positional: Vec<String> = a.params.into_iter().chain(more).collect();
    if let Err(e) = spyglass_runtime::params::validate_options(&named, &program.params.named) {
        e.print();
        return ExitCode::from(1);
    }
    let opts = RunOptions {
        json,
        folded,
        metrics: a.metrics.map(|addr| (addr, a.metrics_prefix)),
        flamegraph: a.flamegraph.map(|p| (p, name.clone())),
        quiet: a.quiet,
        verbose: a.verbose,
        dry_run: a.dry_run,
        mode: Mode::Run,
        child: a.cmd,
        output: a.output,
        buffering,
        pid: a.pid,
        helper_warnings: false,
        no_warnings: a.no_warnings,
        unsafe_mode: false,
        positional,
        named,
    };
    match runtime::run(&program, &opts) {
        Ok(code) => ExitCode::from(code as u8),
        Err(d) => fail(d, &name, &text),
    }
}
