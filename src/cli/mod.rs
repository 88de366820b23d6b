//! The command line, with bpftrace's flags and meanings: options anywhere before `--`,
//! then positional parameters (`$1…`) and, after `--`, named options (`--name=value`).

mod build;
pub use build::{artifact_arg, build_args};
pub mod cache;
mod fmt;
pub use fmt::format as format_script;
mod env;
pub mod info;
pub mod list;
pub mod regex;
mod usage;

use std::path::PathBuf;

use clap::Parser;

pub use env::sema_options_from_env;
pub use spyglass::runtime::missing_privileges;
use spyglass::runtime::Buffering;
pub use usage::usage;

#[derive(Parser, Debug, Default, PartialEq)]
#[command(
    name = "spyglass",
    disable_version_flag = true,
    disable_help_flag = true
)]
struct Args {
    #[arg(short = 'e')]
    program: Option<String>,
    #[arg(short = 'l', long = "list")]
    list: bool,
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
    #[arg(short = 'h', long = "help")]
    help: bool,
    #[arg(short = 'V', long = "version")]
    version: bool,
    #[arg(long = "info")]
    info: bool,
    #[arg(short = 'p', long = "pid")]
    pid: Option<String>,
    #[arg(short = 'c', long = "cmd")]
    cmd: Option<String>,
    // Accepted like bpftrace and ignored: USDT semaphores are the kernel's job (uprobe
    // refcounts), the LLVM IR is always verified, and BTF is always used.
    #[allow(dead_code)]
    #[arg(long = "usdt-file-activation")]
    usdt_file_activation: bool,
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
    #[arg(short = 'f', long = "format")]
    format: Option<String>,
    #[arg(short = 'B')]
    buffering: Option<String>,
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    #[arg(short = 'k', long = "warnings", action = clap::ArgAction::Count)]
    warnings: u8,
    #[arg(long = "no-warnings")]
    no_warnings: bool,
    #[arg(long = "unsafe")]
    unsafe_mode: bool,
    #[arg(long = "no-feature")]
    no_feature: Vec<String>,
    #[arg(long = "probe-filter")]
    probe_filter: Option<String>,
    #[arg(long = "dry-run")]
    dry_run: bool,
    #[arg(long = "mode")]
    mode: Option<String>,
    #[arg(long = "bench")]
    bench: bool,
    #[arg(long = "test")]
    test: bool,
    #[allow(dead_code)]
    #[arg(long = "verify-llvm-ir")]
    verify_llvm_ir: bool,
    #[arg(short = 'd', long = "debug")]
    debug: Vec<String>,
    #[arg(long = "emit-elf")]
    emit_elf: Option<PathBuf>,
    #[arg(long = "emit-llvm")]
    emit_llvm: Option<PathBuf>,
    /// `-I DIR`: searched first by `#include`.
    #[arg(short = 'I')]
    include_dirs: Vec<PathBuf>,
    /// `--include FILE`: read before the script.
    #[arg(long = "include")]
    include_files: Vec<PathBuf>,
    /// `--debuginfo DIR[:DIR]`: searched for separate debug files before /usr/lib/debug.
    #[arg(long = "debuginfo")]
    debuginfo: Vec<String>,
    /// `--traceable-functions FILE`: replaces available_filter_functions.
    #[arg(long = "traceable-functions")]
    traceable_functions: Option<PathBuf>,
    /// `--dwarf-pid PID`: only for `dw_ustack`, which needs LLVM 21 (see
    /// docs/compatibility.md); checked and otherwise ignored.
    #[arg(long = "dwarf-pid")]
    dwarf_pid: Vec<String>,
    /// `--metrics ADDR`: serve the maps to Prometheus on ADDR (`host:port`).
    #[arg(long = "metrics")]
    metrics: Option<String>,
    /// `--metrics-prefix P`: metric names start with P (`spyglass_`).
    #[arg(long = "metrics-prefix")]
    metrics_prefix: Option<String>,
    /// `--flamegraph FILE.svg`: draw stack maps as flame graphs.
    #[arg(long = "flamegraph")]
    flamegraph: Option<PathBuf>,
    /// `--aot FILE`: write the compiled script as an artifact (`spyglass build`).
    #[arg(long = "aot")]
    aot: Option<PathBuf>,
    /// `--fmt FILE`: print FILE in the standard layout.
    #[arg(long = "fmt")]
    fmt: Option<PathBuf>,
    /// `--no-cache`: compile even when the compiled-program cache holds the script.
    #[arg(long = "no-cache")]
    no_cache: bool,
    #[allow(dead_code)]
    #[arg(short = 'b', long = "btf")]
    btf: bool,
    /// Script file (unless `-e`), then positional parameters.
    #[arg(allow_negative_numbers = true)]
    args: Vec<String>,
    /// Everything after `--`.
    #[arg(last = true)]
    after: Vec<String>,
}

/// What `-d` can show.
#[derive(Debug, Default, Clone, Copy)]
pub struct DebugStages {
    pub ast: bool,
    pub types: bool,
    pub codegen: bool,
    pub codegen_opt: bool,
}

/// Where the script comes from.
#[derive(Debug, PartialEq)]
pub enum Script {
    Text(String),
    File(String),
    Stdin,
}

/// What the user asked for, checked.
#[derive(Debug)]
pub enum Command {
    Help,
    Version,
    Info,
    /// `--fmt FILE`: print the script in the standard layout.
    Fmt(PathBuf),
    /// `-l [SEARCH]` without a program.
    List {
        search: String,
        verbose: bool,
    },
    Run(Box<Run>),
}

#[derive(Debug)]
pub struct Run {
    pub script: Script,
    /// `-l` with a program: list the probes it would attach.
    pub list: bool,
    pub positional: Vec<String>,
    pub named: Vec<(String, Option<String>)>,
    pub cmd: Option<String>,
    pub pid: Option<u32>,
    pub json: bool,
    /// `-f folded`: stack maps as folded stacks.
    pub folded: bool,
    pub flamegraph: Option<PathBuf>,
    /// `--metrics ADDR`, with the metric name prefix.
    pub metrics: Option<(String, String)>,
    pub buffering: Buffering,
    pub output: Option<PathBuf>,
    pub quiet: bool,
    pub verbose: bool,
    pub helper_warnings: bool,
    pub no_warnings: bool,
    pub unsafe_mode: bool,
    pub probe_filter: Option<String>,
    pub dry_run: bool,
    /// `--mode`: normal tracing, or stop after code generation, or run `bench:`/`test:`.
    pub mode: Mode,
    pub debug: DebugStages,
    pub emit_elf: Option<PathBuf>,
    pub emit_llvm: Option<PathBuf>,
    pub includes: spyglass::parser::Includes,
    pub no_cache: bool,
    pub aot: Option<PathBuf>,
}

/// `--mode` (`--bench` and `--test` are short for two of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Run,
    Codegen,
    Bench,
    Test,
}

fn mode(a: &Args) -> Result<Mode, Error> {
    let named = match a.mode.as_deref() {
        None => None,
        Some("codegen") => Some(Mode::Codegen),
        Some("bench") => Some(Mode::Bench),
        Some("test") => Some(Mode::Test),
        Some(other) => {
            return Err(plain_err(format!(
                "USAGE: unknown mode '{other}': spyglass supports 'codegen', 'bench' and 'test'"
            )))
        }
    };
    let flags = [(a.bench, Mode::Bench), (a.test, Mode::Test)]
        .into_iter()
        .filter_map(|(on, m)| on.then_some(m));
    let all: Vec<Mode> = named.into_iter().chain(flags).collect();
    match all.as_slice() {
        [] => Ok(Mode::Run),
        [m, rest @ ..] if rest.iter().all(|r| r == m) => Ok(*m),
        _ => Err(plain_err(
            "USAGE: only one of --mode, --bench and --test may be given",
        )),
    }
}

/// A command-line mistake: the message, and whether the usage text should follow it.
#[derive(Debug, PartialEq)]
pub struct Error {
    pub message: String,
    pub usage: bool,
}

fn usage_err(message: impl Into<String>) -> Error {
    Error {
        message: message.into(),
        usage: true,
    }
}

fn plain_err(message: impl Into<String>) -> Error {
    Error {
        message: message.into(),
        usage: false,
    }
}

pub fn parse<I: IntoIterator<Item = String>>(argv: I) -> Result<Command, Error> {
    let argv: Vec<String> = argv.into_iter().collect();
    if argv.len() <= 1 {
        return Err(Error {
            message: String::new(),
            usage: true,
        });
    }
    let a = match plain(&argv) {
        Some(a) => a,
        None => Args::try_parse_from(&argv).map_err(|e| {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            usage_err(first.trim_start_matches("error: ").to_string())
        })?,
    };
    if a.help {
        return Ok(Command::Help);
    }
    if a.version {
        return Ok(Command::Version);
    }
    if a.info {
        return Ok(Command::Info);
    }
    if let Some(f) = a.fmt {
        return Ok(Command::Fmt(f));
    }
    check(a)
}

/// The two commands most runs are, `spyglass FILE [ARG…]` and `spyglass -e PROGRAM`, as
/// clap would read them: building clap's parser for ~40 flags is ≈ 0.2 ms of a 3.5 ms
/// cached start. `Args` has no defaults of its own, so an empty one is clap's answer
/// with no flags (a unit test compares the two).
fn plain(argv: &[String]) -> Option<Args> {
    let flag = |a: &String| a.starts_with('-');
    match argv {
        [_, rest @ ..] if !rest.is_empty() && !rest.iter().any(flag) => Some(Args {
            args: rest.to_vec(),
            ..Args::default()
        }),
        [_, e, program] if e == "-e" && !flag(program) => Some(Args {
            program: Some(program.clone()),
            ..Args::default()
        }),
        _ => None,
    }
}

fn check(a: Args) -> Result<Command, Error> {
    if a.warnings > 1 {
        return Err(plain_err(
            "USAGE: -kk has been deprecated. Use a single -k for runtime warnings for errors in map lookups and probe reads.",
        ));
    }
    if a.aot.is_some() && a.warnings > 0 {
        return Err(plain_err("USAGE: --aot and -k cannot be used together"));
    }
    if a.warnings == 1 && a.no_warnings {
        return Err(plain_err(
            "USAGE: -k, --warnings conflicts with --no-warnings",
        ));
    }
    if a.cmd.is_some() && a.pid.is_some() {
        return Err(usage_err("USAGE: Cannot use both -c and -p."));
    }
    for f in a.no_feature.iter().flat_map(|f| f.split(',')) {
        if !matches!(f, "kprobe_multi" | "kprobe_session" | "uprobe_multi") {
            return Err(plain_err("USAGE: --no-feature can only have values 'kprobe_multi,kprobe_session,uprobe_multi'."));
        }
    }
    let debug = debug_stages(&a.debug)?;
    for p in &a.dwarf_pid {
        parse_pid(p)?;
    }
    // Both listing and tracing resolve probes through these, so they are set for the
    // whole process here rather than carried in each command.
    spyglass::probes::debuginfo::set_dirs(&a.debuginfo);
    if let Some(f) = &a.traceable_functions {
        let text = std::fs::read_to_string(f).map_err(|e| {
            plain_err(format!(
                "cannot read traceable functions from {}: {e}",
                f.display()
            ))
        })?;
        spyglass::probes::kprobe::set_traceable_functions(&text);
    }
    let mode = mode(&a)?;
    let buffering = match a.buffering.as_deref() {
        None | Some("line") => Buffering::Line,
        Some("full") => Buffering::Full,
        Some("none") => Buffering::None,
        Some(_) => {
            return Err(plain_err(
                "USAGE: -B must be either 'line', 'full', or 'none'.",
            ))
        }
    };
    let (json, folded) = match a.format.as_deref() {
        None | Some("text") => (false, false),
        Some("json") => (true, false),
        Some("folded") => (false, true),
        // bpftrace's wording, which does not know `folded`.
        Some(other) => {
            return Err(plain_err(format!(
                "Invalid output format \"{other}\"\nValid formats: 'text', 'json'"
            )))
        }
    };

    let pid = a.pid.as_deref().map(parse_pid).transpose()?;
    spyglass::probes::set_target_process(pid, a.cmd.as_deref());

    let mut args = a.args.into_iter();
    let script = match a.program {
        Some(p) => Script::Text(p),
        None => match args.next() {
            None if a.list => {
                return Ok(Command::List {
                    search: String::new(),
                    verbose: a.verbose,
                })
            }
            None => return Err(plain_err("USAGE: filename or -e 'program' required.")),
            Some(f) if f == "-" => Script::Stdin,
            // `-l SEARCH`: a file name lists that script's probes, anything else is a glob.
            Some(f) if a.list && !std::path::Path::new(&f).is_file() => {
                if args.next().is_some() || !a.after.is_empty() {
                    return Err(usage_err(
                        "USAGE: -l takes at most one search pattern or file",
                    ));
                }
                let search = if f == "*" { String::new() } else { f };
                return Ok(Command::List {
                    search,
                    verbose: a.verbose,
                });
            }
            Some(f) => Script::File(f),
        },
    };
    let mut positional: Vec<String> = args.collect();
    let (more, named) = spyglass::params::split_after_dashes(a.after);
    positional.extend(more);
    // `import` paths start at the script's directory.
    let script_dir = match &script {
        Script::File(f) => std::path::Path::new(f).parent().map(|d| d.to_path_buf()),
        _ => None,
    };
    Ok(Command::Run(Box::new(Run {
        script,
        list: a.list,
        positional,
        named,
        cmd: a.cmd,
        pid,
        json,
        folded,
        flamegraph: a.flamegraph,
        metrics: a
            .metrics
            .map(|addr| (addr, a.metrics_prefix.unwrap_or_else(|| "spyglass_".into()))),
        buffering,
        output: a.output,
        quiet: a.quiet,
        verbose: a.verbose,
        helper_warnings: a.warnings == 1,
        no_warnings: a.no_warnings,
        unsafe_mode: a.unsafe_mode,
        probe_filter: a.probe_filter,
        dry_run: a.dry_run,
        mode,
        debug,
        emit_elf: a.emit_elf,
        emit_llvm: a.emit_llvm,
        no_cache: a.no_cache,
        aot: a.aot,
        includes: spyglass::parser::Includes {
            script_dir,
            dirs: a.include_dirs,
            // Relative to where spyglass runs, as a shell user expects.
            files: a
                .include_files
                .iter()
                .map(|f| std::path::absolute(f).unwrap_or(f.clone()))
                .map(|f| f.to_string_lossy().into_owned())
                .collect(),
        },
    })))
}

/// `-p PID`: a number that names a live process.
fn parse_pid(s: &str) -> Result<u32, Error> {
    let pid: u64 = s
        .parse()
        .map_err(|_| plain_err(format!("Failed to parse pid: invalid integer: {s}")))?;
    // The nominal maximum pid on 64-bit systems.
    if pid > 0x40_0000 {
        return Err(plain_err(format!("Pid out of range: {pid}")));
    }
    if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return Err(plain_err(format!(
            "Failed to attach to pid: no process with pid {pid}"
        )));
    }
    Ok(pid as u32)
}

/// `-d STAGE[,STAGE]`, repeatable.
fn debug_stages(args: &[String]) -> Result<DebugStages, Error> {
    let mut d = DebugStages::default();
    for stage in args
        .iter()
        .flat_map(|a| a.split(','))
        .filter(|s| !s.is_empty())
    {
        match stage {
            "all" => {
                d = DebugStages {
                    ast: true,
                    types: true,
                    codegen: true,
                    codegen_opt: true,
                }
            }
            "ast" => d.ast = true,
            "types" => d.types = true,
            "codegen" => d.codegen = true,
            "codegen-opt" => d.codegen_opt = true,
            // Recognised, but spyglass has no such dump yet.
            "libbpf" | "verifier" => {
                eprintln!("WARNING: -d {stage} is not implemented by spyglass; ignored")
            }
            _ => return Err(plain_err(format!("USAGE: invalid option for -d: {stage}"))),
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast reading of the plain commands is clap's, field for field.
    #[test]
    fn plain_commands_read_as_clap_reads_them() {
        let cases: &[&[&str]] = &[
            &["spyglass", "script.bt"],
            &["spyglass", "script.bt", "1", "two", "3x"],
            &["spyglass", "-e", "begin { exit(); }"],
            &[
                "spyglass",
                "-e",
                "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }",
            ],
        ];
        for case in cases {
            let argv: Vec<String> = case.iter().map(|s| s.to_string()).collect();
            let fast = plain(&argv).unwrap_or_else(|| panic!("{case:?} is a plain command"));
            assert_eq!(fast, Args::try_parse_from(&argv).unwrap(), "{case:?}");
        }
        // Anything with a flag, or a value clap may read as one, goes to clap.
        for case in [
            &["spyglass", "-v", "script.bt"][..],
            &["spyglass", "script.bt", "-1"],
            &["spyglass", "-e", "-x"],
            &["spyglass", "-e", "begin {}", "arg"],
            &["spyglass", "--", "script.bt"],
            &["spyglass"],
        ] {
            let argv: Vec<String> = case.iter().map(|s| s.to_string()).collect();
            assert!(plain(&argv).is_none(), "{case:?}");
        }
    }
}
