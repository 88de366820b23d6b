//! `--help`: bpftrace's usage text, listing only what spyglass accepts.

pub fn usage() -> String {
    let v = env!("CARGO_PKG_VERSION");
    format!(
        "\
spyglass v{v} - a bpftrace-compatible tracing language for Linux, compiled to BPF

USAGE:
    spyglass [options] filename
    spyglass [options] - <stdin input>
    spyglass [options] -e 'program'
    use -- after filename/-e 'program' for named script parameters

OPTIONS:
    -e 'program'   execute this program
    -l, --list [search|filename]
                   list kernel probes or probes in a program
    -v, --verbose  enable verbose messages; with -l, also show probe arguments
    -h, --help     show this help message
    -V, --version  spyglass version
    --info         print information about kernel BPF support

    -p, --pid PID  filter actions on process PID (probes fire only there); exit when it exits
    -c, --cmd CMD  run CMD as a child process; its pid is `cpid`
    --usdt-file-activation
                   accepted for compatibility; no effect

    -o, --output FILE
                   redirect tracing output to FILE
    -f FORMAT      output format ('text', 'json', 'folded': stack maps as folded stacks)
    --flamegraph FILE.svg
                   also draw stack maps as flame graphs (at exit and on print())
    --metrics ADDR serve the maps to Prometheus at http://ADDR/metrics while tracing
    --metrics-prefix PREFIX
                   start metric names with PREFIX (default 'spyglass_')
    -B MODE        output buffering mode ('line', 'full', 'none')
    -q, --quiet    keep messages quiet
    -k, --warnings emit a warning when a map read finds no element
    --no-warnings  disable all warning messages

    -I DIR         add DIR to the #include search path
    --include FILE read the macros of FILE before the script
    --debuginfo DIR[:DIR]
                   also look for separate debug files in DIR (+DIR: check their CRC)
    --traceable-functions FILE
                   the kernel functions that may be probed, instead of the kernel's list
    --no-cache     compile the script even if the compiled-program cache holds it
    --fmt FILE     print FILE in the standard layout
    --aot FILE     write the compiled script to FILE, an artifact `spyglass FILE` runs
                   (also: spyglass build SCRIPT -o FILE)
    --unsafe       allow unsafe/destructive functionality
    --no-feature FEATURE[,FEATURE]
                   disable use of detected features (spyglass uses none of them)

DEVELOPER OPTIONS:
    --probe-filter REGEX
                   only attach probes whose name matches REGEX (begin/end always run)
    --mode MODE    'codegen' (compile, write --emit-* files, stop), 'bench' or 'test'
    --bench        run every bench:NAME block repeatedly and report its average time
    --test         run every test:NAME block once and report which pass

TROUBLESHOOTING OPTIONS:
    --dry-run      load the programs into the verifier, attach nothing, exit
    --verify-llvm-ir
                   accepted; the LLVM IR is always verified
    -d, --debug STAGE
                   debug info for stages of compilation ('all', 'ast', 'types', 'codegen', 'codegen-opt')
    --emit-elf FILE
                   write the BPF ELF object to FILE (stop there with --mode codegen)
    --emit-llvm FILE
                   write LLVM IR to FILE.original.ll and FILE.optimized.ll

CONFIGURATION:
    Every config key is also read from the environment as BPFTRACE_<KEY> (for example
    BPFTRACE_MAX_STRLEN, BPFTRACE_STACK_MODE, BPFTRACE_MISSING_PROBES), which wins over
    the script's config block.

EXAMPLES:
    spyglass -e 'tracepoint:raw_syscalls:sys_enter {{ @[comm] = count(); }}'
        count syscalls by process name
    spyglass -e 'tracepoint:syscalls:sys_enter_openat {{ printf(\"%s %s\\n\", comm, str(args.filename)); }}'
        trace file opens with process name and path
    spyglass -l '*sleep*'
        list probes containing \"sleep\"
    spyglass -lv 'tracepoint:syscalls:sys_enter_openat'
        show the arguments of a tracepoint
"
    )
}
