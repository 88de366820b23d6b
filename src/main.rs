//! The `spyglass` command line: bpftrace's flags, spyglass's pipeline.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use spyglass::diag::Diagnostic;
use spyglass::runtime::{self, RunOptions};
use spyglass::{codegen, parser, probes, sema};

mod cli;

/// bpftrace-compatible tracer: scripts compiled through LLVM to BPF.
#[derive(Parser, Debug)]
#[command(name = "spyglass", version, disable_version_flag = true, about)]
struct Args {
    /// Program text
    #[arg(short = 'e', value_name = "PROGRAM")]
    program: Option<String>,
    /// Run CMD as a child process; its pid is `cpid`; exit when it exits
    #[arg(short = 'c', long = "cmd", value_name = "CMD")]
    cmd: Option<String>,
    /// Quiet: do not print "Attached N probes"
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// Verbose output
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
    /// Write tracing output to FILE instead of stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Output format: text or json
    #[arg(short = 'f', long = "format", value_name = "FORMAT", default_value = "text")]
    format: String,
    /// List probes matching GLOB (all when no GLOB)
    #[arg(short = 'l', long = "list", value_name = "GLOB", num_args = 0..=1, default_missing_value = "")]
    list: Option<String>,
    /// Compile and load into the verifier, attach nothing, exit
    #[arg(long = "dry-run")]
    dry_run: bool,
    /// Write the LLVM IR to FILE.original.ll and FILE.optimized.ll
    #[arg(long = "emit-llvm", value_name = "FILE")]
    emit_llvm: Option<PathBuf>,
    /// Write the BPF ELF object to FILE
    #[arg(long = "emit-elf", value_name = "FILE")]
    emit_elf: Option<PathBuf>,
    /// Print what this kernel and build support
    #[arg(long = "info")]
    info: bool,
    /// Accepted for bpftrace compatibility (BTF is always used)
    #[arg(short = 'b', long = "btf", hide = true)]
    btf: bool,
    /// Print the version
    #[arg(short = 'V', long = "version")]
    version: bool,
    /// Script file (or `-` for stdin), then positional parameters ($1, $2, …)
    #[arg(value_name = "FILE|ARGS", trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.version {
        println!("spyglass v{} (bpftrace v0.26 language)", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if args.info {
        print!("{}", cli::info());
        return ExitCode::SUCCESS;
    }
    let json = match args.format.as_str() {
        "text" => false,
        "json" => true,
        other => return usage_error(&format!("unknown output format `{other}` (expected text or json)")),
    };
    let (source_name, source, positional) = match read_source(&args) {
        Ok(Some(s)) => s,
        Ok(None) if args.list.is_some() => return list(args.list.as_deref().unwrap_or("")),
        Ok(None) => return usage_error("no program given: use -e 'PROGRAM' or a script FILE"),
        Err(e) => {
            eprintln!("ERROR: {e}");
            return ExitCode::from(1);
        }
    };
    let report = |d: Diagnostic| {
        eprint!("{}", d.render(&source_name, &source));
        ExitCode::from(1)
    };

    if let Some(msg) = cli::missing_privileges() {
        return report(Diagnostic::global(msg).with_note("run it with sudo, or grant the capabilities"));
    }
    let ast = match parser::parse(&source) {
        Ok(a) => a,
        Err(d) => return report(d),
    };
    let opts = sema::Options { positional, has_child: args.cmd.is_some(), ..cli::sema_options_from_env() };
    let checked = match sema::check(ast, opts) {
        Ok(c) => c,
        Err(d) => return report(d),
    };
    if let Some(glob) = &args.list {
        let _ = glob;
        for p in checked.probes.iter().flat_map(|p| p.programs.iter().flatten()) {
            println!("{}", p.attach.name());
        }
        return ExitCode::SUCCESS;
    }
    let out = match codegen::compile(&checked) {
        Ok(o) => o,
        Err(d) => return report(d),
    };
    if let Some(path) = &args.emit_llvm {
        let base = path.display().to_string();
        let w1 = std::fs::write(format!("{base}.original.ll"), &out.ir_original);
        let w2 = std::fs::write(format!("{base}.optimized.ll"), &out.ir_optimized);
        if let Err(e) = w1.and(w2) {
            return report(Diagnostic::global(format!("cannot write {base}.*.ll: {e}")));
        }
    }
    if let Some(path) = &args.emit_elf {
        if let Err(e) = std::fs::write(path, &out.program.elf) {
            return report(Diagnostic::global(format!("cannot write {}: {e}", path.display())));
        }
    }
    let run = RunOptions {
        json,
        quiet: args.quiet,
        verbose: args.verbose,
        dry_run: args.dry_run,
        child: args.cmd.clone(),
        output: args.output.clone(),
    };
    match runtime::run(&out.program, &run) {
        Ok(code) => ExitCode::from(code as u8),
        Err(d) => report(d),
    }
}

type Source = (String, String, Vec<String>);

/// Where the script comes from: `-e`, a file, or stdin (`-`); the rest are `$1…`.
fn read_source(args: &Args) -> Result<Option<Source>, String> {
    if let Some(p) = &args.program {
        return Ok(Some(("stdin".into(), p.clone(), args.rest.clone())));
    }
    let Some((first, params)) = args.rest.split_first() else { return Ok(None) };
    let params = params.iter().filter(|p| p.as_str() != "--").cloned().collect();
    if first == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| format!("cannot read the program from stdin: {e}"))?;
        return Ok(Some(("stdin".into(), s, params)));
    }
    let text = std::fs::read_to_string(first).map_err(|e| format!("cannot read {first}: {e}"))?;
    Ok(Some((first.clone(), text, params)))
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("ERROR: {msg}\nUSAGE: spyglass [OPTIONS] FILE [ARGS…] | -e 'PROGRAM' [ARGS…]  (see --help)");
    ExitCode::from(1)
}

fn list(glob: &str) -> ExitCode {
    match probes::list::matching(glob) {
        Ok(names) => {
            let mut out = String::new();
            for n in names {
                out.push_str(&n);
                out.push('\n');
            }
            use std::io::Write;
            let _ = std::io::stdout().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ERROR: {e}");
            ExitCode::from(1)
        }
    }
}
