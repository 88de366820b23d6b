//! The `spyglass` command line: bpftrace's flags, spyglass's pipeline.
#![cfg_attr(not(test), no_main)]
// Under the test harness, which brings its own `main`, the entry and all it calls go unused.
#![cfg_attr(test, allow(dead_code))]

use std::io::{Read, Write};

use spyglass::diag::Diagnostic;
use spyglass::program::CompiledProgram;
use spyglass::runtime::{self, RunOptions};
use spyglass::sema::params::NamedOptions;
use spyglass::stdlib::STDLIB;
use spyglass::{codegen, parser, sema};

mod cli;
mod link_trim;

use cli::{Command, Run, Script};

/// The process's entry, called by the C runtime in place of std's own start, which cost
/// a cached start ≈ 0.4 ms, most of it finding the main thread's stack in
/// `/proc/self/maps` for the message it prints when that stack overflows (an overflow of
/// this thread now ends in a plain SIGSEGV). What else it does for a program is done here:
/// descriptors 0–2 are kept open and `SIGPIPE` ignored (a closed pipe is an error to
/// handle, not a signal that kills the run before `end`). Deep scripts are compiled on a
/// thread sized for them (`deep.rs`), not on this one.
#[cfg(not(test))]
#[no_mangle]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    keep_standard_fds_open();
    // SAFETY: setting a signal's disposition to "ignore" has no handler to race with.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // `process::exit` flushes stdout as returning from std's start would.
    std::process::exit(spyglass_main().into())
}

/// Opens `/dev/null` on any of descriptors 0–2 the process started without, so no file
/// opened later takes their place (as std's start does).
fn keep_standard_fds_open() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: three valid pollfd entries; a zero timeout.
    if unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) } < 0 {
        return;
    }
    for p in fds.iter().filter(|p| p.revents & libc::POLLNVAL != 0) {
        // SAFETY: a NUL-terminated path; the descriptor is deliberately left open.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        if fd >= 0 && fd != p.fd {
            // SAFETY: both descriptors are ours.
            unsafe {
                libc::dup2(fd, p.fd);
                libc::close(fd);
            }
        }
    }
}

fn spyglass_main() -> u8 {
    // Few malloc arenas (glibc's default is 8 per core): a large script is compiled on every
    // core at once (`codegen/parts.rs`), and with one arena the threads queue on its lock
    // (400 probes: 0.84-1.06 s → 0.71 s with four); a one-liner's start-up measured the
    // same with one or four.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 4) };
    // A bug must still end like any other error: one message, exit code 1, no backtrace
    // (unwinding detaches whatever was attached).
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()));
        eprintln!(
            "error: internal error: {msg}{}\n = this is a bug in spyglass; please report it with the script",
            at.unwrap_or_default()
        );
    }));
    std::panic::catch_unwind(run_cli).unwrap_or(1)
}

fn run_cli() -> u8 {
    use std::os::unix::ffi::OsStringExt;
    let mut raw_args: Vec<Vec<u8>> = std::env::args_os().map(|a| a.into_vec()).collect();
    if raw_args.get(1).is_some_and(|a| a == b"build") {
        match cli::build_args(&mut raw_args) {
            Ok(()) => {}
            Err(e) => {
                eprintln!("ERROR: {e}");
                return 1;
            }
        }
    }
    let args = raw_args
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned());
    let run = match cli::parse(args) {
        Ok(Command::Help) => {
            print!("{}", cli::usage());
            return 0;
        }
        Ok(Command::Version) => {
            print!("{}", version());
            return 0;
        }
        // Needs no privileges: the script is parsed, never compiled.
        Ok(Command::Fmt(path)) => {
            let name = path.display().to_string();
            let source = match std::fs::read(&path) {
                Ok(b) => match parser::decode(b) {
                    Ok(s) => s,
                    Err((text, d)) => {
                        eprint!("{}", d.render(&name, &text));
                        return 1;
                    }
                },
                Err(e) => {
                    eprintln!("ERROR: cannot read {name}: {e}");
                    return 1;
                }
            };
            if let Err(d) = parser::parse(&source, &STDLIB) {
                eprint!("{}", d.render(&name, &source));
                return 1;
            }
            print!("{}", cli::format_script(&source));
            return 0;
        }
        Ok(Command::Info) => {
            // Probing the kernel loads BPF programs; without privileges every answer is "no".
            if let Some(msg) = cli::missing_privileges() {
                eprint!("{}", Diagnostic::global(msg).render("", ""));
                return 1;
            }
            print!("{}", cli::info::report());
            return 0;
        }
        Ok(Command::List { search, verbose }) => {
            return listing(cli::list::search(&search, verbose))
        }
        Ok(Command::Run(r)) => r,
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("ERROR: {}", e.message);
            }
            if e.usage {
                eprint!("{}", cli::usage());
            }
            return 1;
        }
    };
    execute(*run, &raw_args)
}

/// bpftrace prints `bpftrace vX.Y.Z`; scripts that check it learn which language this speaks.
fn version() -> String {
    format!(
        "spyglass v{}\nbpftrace v0.26 language (spyglass implements a subset of it)\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn listing(r: Result<String, String>) -> u8 {
    match r {
        Ok(text) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            0
        }
        Err(e) => {
            eprintln!("ERROR: {e}");
            1
        }
    }
}

fn execute(run: Run, raw_args: &[Vec<u8>]) -> u8 {
    // A built artifact carries its program: nothing is compiled.
    // Read once: whether it is a built artifact or a script, and then its text.
    let file = match &run.script {
        cli::Script::File(f) => Some(std::fs::read(f)),
        _ => None,
    };
    let embedded = match cli::artifact_arg(&run, file.as_ref().and_then(|r| r.as_deref().ok())) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ERROR: {e}");
            return 1;
        }
    };
    let (embedded, read) = match embedded {
        // Errors quote the script the artifact was built from.
        Some((program, Some(s))) => (Some(program), Ok((s.name, s.text))),
        Some((program, None)) => match &run.script {
            cli::Script::File(f) => (Some(program), Ok((f.clone(), String::new()))),
            _ => unreachable!("artifacts are files"),
        },
        None => (None, read_source(&run.script, file, raw_args)),
    };
    let (source_name, source) = match read {
        Ok(s) => s,
        Err(e) => {
            eprint!("{e}");
            return 1;
        }
    };
    let report = |d: Diagnostic| {
        eprint!("{}", d.render(&source_name, &source));
        1
    };
    if let Some(msg) = cli::missing_privileges() {
        return report(
            Diagnostic::global(msg).with_note("run it with sudo, or grant the capabilities"),
        );
    }
    // An output file that cannot be written is known before any work is done.
    if let Some(path) = &run.output {
        if let Err(d) = runtime::create_output(path) {
            return report(d);
        }
    }
    // A local run compiles its parameters in; an artifact reads them when it runs.
    let run_params = match embedded.is_some() {
        true => (run.positional.clone(), run.named.clone()),
        false => Default::default(),
    };
    let cache = (embedded.is_none() && use_cache(&run, &source))
        .then(|| cli::cache::Cache::new(raw_args, &source_name, &source))
        .flatten();
    let hit = cache.as_ref().and_then(|c| c.get());
    let compiled = match (embedded, hit) {
        (Some(program), _) => {
            let cli::Script::File(file) = &run.script else {
                unreachable!("artifacts are files")
            };
            if let Some(w) = spyglass::artifact::kernel_warning(file, &program) {
                eprintln!("{w}");
            }
            Ok(program)
        }
        (None, Some(hit)) => {
            eprint!("{}", hit.warnings);
            if run.verbose {
                eprintln!(
                    "spyglass: compiled program from the cache ({})",
                    hit.path.display()
                );
            }
            Ok(hit.program)
        }
        (None, None) => spyglass::deep::with_stack_for_meanwhile(
            &source,
            || {
                let _room = spyglass::arena::make_room();
                let (program, warnings) = compile(&run, &source_name, &source)?;
                if let Some(c) = &cache {
                    c.put(&program, &warnings);
                }
                Ok(program)
            },
            // LLVM starts up (≈ 3 ms) while the compiler thread parses and checks.
            // Then, with nothing left to do, it asks the kernel what the load will ask.
            |done| {
                if !run.list {
                    codegen::warm_up(done);
                }
                if !done() && !run.list && run.aot.is_none() && run.mode != cli::Mode::Codegen {
                    runtime::features::probe_now();
                }
            },
        ),
    };
    let program = match compiled {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(path) = &run.aot {
        let program = CompiledProgram {
            built_on: spyglass::artifact::target_kernel(),
            tracepoint_layouts: spyglass::artifact::tracepoint_layouts(&program),
            binaries: spyglass::artifact::binaries(&program),
            ..program
        };
        if let Some(note) = fixed_params_note(&path.display().to_string(), &program.params) {
            eprintln!("{note}");
        }
        let script = spyglass::artifact::Source {
            name: source_name.clone(),
            text: source.clone(),
        };
        return match std::fs::write(path, spyglass::artifact::encode(&program, Some(script))) {
            Ok(()) => 0,
            Err(e) => report(Diagnostic::global(format!(
                "cannot write {}: {e}",
                path.display()
            ))),
        };
    }
    if let Err(e) = spyglass::params::validate_options(&run_params.1, &program.params.named) {
        e.print();
        return 1;
    }
    let _ = std::io::stdout().flush();
    let title = match &run.script {
        cli::Script::File(f) => f.clone(),
        _ => source.clone(),
    };
    let opts = RunOptions {
        json: run.json,
        folded: run.folded,
        metrics: run.metrics.clone(),
        flamegraph: run.flamegraph.clone().map(|p| (p, title)),
        quiet: run.quiet,
        verbose: run.verbose,
        dry_run: run.dry_run,
        mode: match run.mode {
            cli::Mode::Bench => runtime::Mode::Bench,
            cli::Mode::Test => runtime::Mode::Test,
            cli::Mode::Run | cli::Mode::Codegen => runtime::Mode::Run,
        },
        child: run.cmd,
        output: run.output,
        buffering: run.buffering,
        pid: run.pid,
        helper_warnings: run.helper_warnings,
        no_warnings: run.no_warnings,
        unsafe_mode: run.unsafe_mode,
        positional: run_params.0,
        named: run_params.1,
    };
    match runtime::run(&program, &opts) {
        Ok(code) => code as u8,
        Err(d) => report(d),
    }
}

/// Whether this run may take its program from the cache, and store it there: a plain run
/// of a script that reads no other files, with nothing asked of the compiler's stages.
fn use_cache(run: &Run, source: &str) -> bool {
    let d = &run.debug;
    let asked = d.ast || d.types || d.codegen || d.codegen_opt;
    !(run.no_cache || run.list || run.mode == cli::Mode::Codegen || asked)
        && run.emit_elf.is_none()
        && run.emit_llvm.is_none()
        && cli::cache::cacheable(source, &run.includes)
}

/// Everything before the run, on the compiler's thread: the program to run and the
/// warnings printed, or the exit code when there is nothing to run (a listing,
/// `--mode codegen`, an error).
fn compile(run: &Run, source_name: &str, source: &str) -> Result<(CompiledProgram, String), u8> {
    let report = |d: Diagnostic| {
        eprint!("{}", d.render(source_name, source));
        1
    };
    let filter = match run
        .probe_filter
        .as_deref()
        .map(cli::regex::Regex::new)
        .transpose()
    {
        Ok(f) => f,
        Err(e) => {
            return Err(report(Diagnostic::global(format!(
                "invalid --probe-filter: {e}"
            ))))
        }
    };

    let ast = match parser::parse_with(source, &run.includes, &STDLIB) {
        Ok(a) => a,
        Err(d) => return Err(report(d)),
    };
    if run.debug.ast {
        eprintln!("AST\n-------------------\n{ast:#?}\n");
    }
    let named = NamedOptions::new(run.named.clone());
    let opts = sema::Options {
        positional: run.positional.clone(),
        // An artifact gets its `-c` when it runs.
        has_child: run.cmd.is_some() || run.aot.is_some(),
        named: named.clone(),
        unsafe_mode: run.unsafe_mode,
        helper_warnings: run.helper_warnings,
        hist_sums: run.metrics.is_some(),
        portable: run.aot.is_some(),
        host: run.aot.is_none().then(|| sema::Host {
            filter_pid: run.pid.is_some(),
            init_pid_ns: runtime::pid_namespace() == (0, 0),
        }),
        source: Some((source_name.to_string(), source.to_string())),
        ..cli::sema_options_from_env()
    };
    let mut checked = match sema::check(ast, opts, &STDLIB) {
        Ok(c) => c,
        Err(d) => return Err(report(d)),
    };
    let mut warnings = String::new();
    if !run.no_warnings {
        for w in &checked.warnings {
            warnings.push_str(&w.render(source_name, source));
        }
        eprint!("{warnings}");
    }
    if run.list {
        let names: Vec<String> = checked
            .probes
            .iter()
            .flat_map(|p| p.programs.iter().flatten())
            .map(|p| p.attach.name())
            .collect();
        return Err(listing(Ok(cli::list::render(&names, run.verbose))));
    }
    if let Err(e) = named.validate() {
        e.print();
        return Err(1);
    }
    if let Some(re) = &filter {
        if let Err(msg) = apply_probe_filter(&mut checked, re) {
            return Err(report(Diagnostic::global(msg)));
        }
    }
    if run.debug.types {
        println!("Maps\n-------------------\n{:#?}\n", checked.maps);
    }
    let keep_ir = run.debug.codegen || run.debug.codegen_opt || run.emit_llvm.is_some();
    let out = match codegen::compile(&checked, &STDLIB, keep_ir) {
        Ok(o) => o,
        Err(d) => return Err(report(d)),
    };
    if let Some(ir) = &out.ir {
        if run.debug.codegen {
            println!(
                "LLVM IR before optimization\n---------------------------\n\n{}",
                ir.original
            );
        }
        if run.debug.codegen_opt {
            println!(
                "\nLLVM IR after optimization\n----------------------------\n\n{}",
                ir.optimized
            );
        }
        if let Some(path) = &run.emit_llvm {
            let base = path.display().to_string();
            let w1 = std::fs::write(format!("{base}.original.ll"), &ir.original);
            let w2 = std::fs::write(format!("{base}.optimized.ll"), &ir.optimized);
            if let Err(e) = w1.and(w2) {
                return Err(report(Diagnostic::global(format!(
                    "cannot write {base}.*.ll: {e}"
                ))));
            }
        }
    }
    if let Some(path) = &run.emit_elf {
        if let Err(e) = std::fs::write(path, &out.program.elf) {
            return Err(report(Diagnostic::global(format!(
                "cannot write {}: {e}",
                path.display()
            ))));
        }
    }
    if run.mode == cli::Mode::Codegen {
        return Err(0);
    }
    Ok((out.program, warnings))
}

/// `--probe-filter`: keeps the attach points whose names match; `begin`/`end` always stay.
fn apply_probe_filter(checked: &mut sema::Checked, re: &cli::regex::Regex) -> Result<(), String> {
    let special = |n: &str| n == "begin" || n == "end";
    let mut matched = 0;
    let mut any = false;
    for info in &mut checked.probes {
        for group in &mut info.programs {
            group.retain(|p| {
                let name = p.attach.name();
                if special(&name) {
                    return true;
                }
                any = true;
                let keep = re.is_match(&name);
                matched += keep as usize;
                keep
            });
        }
        info.programs.retain(|g| !g.is_empty());
    }
    if any && matched == 0 {
        return Err("no probe matches --probe-filter".into());
    }
    Ok(())
}

/// The script and the name diagnostics call it by (`stdin` for `-e` and `-`, like bpftrace).
/// Text that is not UTF-8 is an error at its first bad byte. Errors come as the text to
/// print.
fn read_source(
    script: &Script,
    file: Option<std::io::Result<Vec<u8>>>,
    raw_args: &[Vec<u8>],
) -> Result<(String, String), String> {
    let (name, bytes) = match script {
        Script::Text(t) => ("stdin".to_string(), program_bytes(t, raw_args)),
        Script::Stdin => {
            let mut s = vec![];
            std::io::stdin()
                .read_to_end(&mut s)
                .map_err(|e| format!("ERROR: cannot read the program from stdin: {e}\n"))?;
            ("stdin".into(), s)
        }
        Script::File(f) => file
            .expect("a file's content is read first")
            .map(|t| (f.clone(), t))
            .map_err(|e| {
                // bpftrace's wording.
                let why = spyglass::diag::io_reason(&e);
                format!("ERROR: failed to open file '{f}': {why}\n")
            })?,
    };
    match parser::decode(bytes) {
        Ok(text) => Ok((name, text)),
        Err((text, d)) => Err(d.render(&name, &text)),
    }
}

/// The bytes of the `-e` program as given: arguments reach clap as lossy text, so the one
/// that ends with the program is found again among the raw arguments.
fn program_bytes(text: &str, raw_args: &[Vec<u8>]) -> Vec<u8> {
    raw_args
        .iter()
        .filter(|raw| std::str::from_utf8(raw).is_err())
        .find_map(|raw| {
            let lossy = String::from_utf8_lossy(raw);
            let prefix = lossy.strip_suffix(text)?.len();
            Some(raw[prefix..].to_vec())
        })
        .unwrap_or_else(|| text.as_bytes().to_vec())
}

/// What a build says about parameters the script needs as constants (attach points,
/// `lhist` bounds, a `fail()` condition): the artifact keeps the values given now, and a
/// run that gives others is refused.
fn fixed_params_note(path: &str, params: &spyglass::params::ParamSpec) -> Option<String> {
    let mut fixed: Vec<String> = params
        .fixed
        .iter()
        .map(|(n, v)| match v {
            Some(v) => format!("${n} = `{v}`"),
            None => format!("${n} (not given)"),
        })
        .collect();
    if let Some(count) = params.fixed_count {
        fixed.push(format!("$# = {count}"));
    }
    (!fixed.is_empty()).then(|| {
        format!(
            "note: {path} keeps {} as given now: the script needs {} as a constant (in an attach \
             point, a bound, a condition with fail()); a run must give the same",
            fixed.join(", "),
            if fixed.len() == 1 { "it" } else { "them" }
        )
    })
}
