//! Runtime tests of language rules: `return` inside loops, `?:`, `return N` in `test:`
//! blocks, `missing_probes`, and the "map full" warning. Real kernel, exact output.

mod common;
use common::*;

fn run(args: &[&str]) -> Out {
    spyglass_checked(args)
}

#[test]
fn return_inside_a_range_loop_leaves_the_probe() {
    let o = run(&[
        "-q",
        "-e",
        r#"begin { for ($i : 0..5) { if ($i == 2) { return; } printf("%d\n", $i); }
                   printf("after\n"); }"#,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "0\n1\n\n\n");
}

#[test]
fn return_inside_nested_map_and_range_loops_leaves_the_probe() {
    let o = run(&[
        "-q",
        "-e",
        r#"begin { @m[1] = 1; @m[2] = 2;
                   for ($kv : @m) { for ($i : 0..3) {
                     if ($i == 1) { return; } printf("%d %d\n", $kv.0, $i); } }
                   printf("not here\n"); }
           end { printf("end\n"); clear(@m); }"#,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().filter(|l| !l.is_empty()).collect();
    // The first key seen prints its index 0, then the probe returns; `end` still runs.
    assert_eq!(lines.len(), 2, "{}", o.stdout);
    assert!(lines[0].ends_with(" 0"), "{}", o.stdout);
    assert_eq!(lines[1], "end");
}

#[test]
fn elvis_picks_the_fallback_only_for_zero_and_evaluates_once() {
    let o = run(&[
        "-q",
        "-e",
        r#"begin { $z = 0; $a = 7; @n = 0;
                   printf("%d %d %d\n", $z ?: 5, $a ?: 5, @n++ ?: 9);
                   printf("%d\n", @n); clear(@n); }"#,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "5 7 9\n1\n\n\n");
}

#[test]
fn test_blocks_fail_on_a_non_zero_return_and_show_only_failing_output() {
    let o = run(&[
        "--test",
        "-e",
        r#"test:okay { print("hidden"); }
           test:failure { print("shown"); return 1; }
           test:in_loop { for ($i : 0..3) { if ($i == 1) { return 3; } } }"#,
    ]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "[ RUN      ] okay\n[       OK ] okay\n\
         [ RUN      ] failure\nshown\n[  FAILED  ] failure\n\
         [ RUN      ] in_loop\n[  FAILED  ] in_loop\n\
         [==========] 3 tests ran, 1 passed, 2 failed\n"
    );
}

#[test]
fn missing_probes_warn_skips_and_runs_the_rest() {
    let o = run(&[
        "-e",
        r#"config = { missing_probes = warn }
           tracepoint:no_such:event, tracepoint:syscalls:sys_enter_getpid { @ = count(); }
           begin { printf("up\n"); exit(); }"#,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("warning: tracepoint `no_such:event` does not exist"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("Attached 2 probes"), "{}", o.stderr);
    assert!(o.stdout.starts_with("up\n"), "{}", o.stdout);
}

#[test]
fn missing_probes_from_the_environment_and_error_by_default() {
    let prog = "tracepoint:no_such:event { } begin { exit(); }";
    let o = run(&["-e", prog]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("error: tracepoint `no_such:event`"),
        "{}",
        o.stderr
    );
    let o = spyglass_env(&["-e", prog], &[("BPFTRACE_MISSING_PROBES", "ignore")]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("no_such"), "{}", o.stderr);
}

#[test]
fn a_full_hash_map_warns_at_the_write_and_lru_maps_evict() {
    let prog = "let @h = hash(2); let @l = lruhash(2); begin { @h[1] = 1; @h[2] = 2; \
                @h[3] = 3; @l[1] = 1; @l[2] = 2; @l[3] = 3; exit(); }";
    let o = run(&["-q", "-e", prog]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // Warnings are trace output, as `warnf`'s: on stdout, before the maps. The span is the
    // third write, columns 70 to 79 (end exclusive, as bpftrace counts).
    let expected = format!(
        "stdin:1:70-79: WARNING: Map full; can't update element.\n\
         Try increasing max_map_keys config or manually setting the max entries in a map \
         declaration e.g. `let @a = hash(5000)`\n\
         Additional Info - helper: map_update_elem, retcode: -7\n{prog}\n{}~~~~~~~~~\n",
        " ".repeat(69)
    );
    assert!(o.stdout.starts_with(&expected), "{}", o.stdout);
    assert!(o.stdout.contains("@h[1]: 1\n@h[2]: 2\n"), "{}", o.stdout);
    assert!(!o.stdout.contains("@h[3]:"), "{}", o.stdout);
    assert!(o.stdout.contains("@l[3]: 3\n"), "{}", o.stdout);
}

#[test]
fn container_of_and_member_addresses_round_trip() {
    let o = run(&[
        "-q",
        "-e",
        r#"begin { $t = curtask;
                   printf("%d %d %d\n", container_of(&$t->pid, struct task_struct, pid) == $t,
                          container_of(&$t->se.vruntime, struct task_struct, se.vruntime) == $t,
                          container_of(&$t->tasks, struct task_struct, tasks)->pid == $t->pid);
                   exit(); }"#,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "1 1 1\n\n\n");
}

#[test]
fn compile_time_warnings_go_to_stderr_and_the_program_runs() {
    let o = run(&[
        "-e",
        "begin { @a[1] = 1; has_key(@a, 1); for ($i : 0..2) { break; printf(\"x\"); } \
         printf(\"ran\\n\"); clear(@a); exit(); }",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("warning: Return value discarded."),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("warning: Unreachable code"),
        "{}",
        o.stderr
    );
    assert!(o.stdout.starts_with("ran\n"), "{}", o.stdout);
}

#[test]
fn an_index_out_of_bounds_is_a_located_runtime_error_and_reads_zero() {
    let prog = "begin { $a = (int8[4])0x04030201; $i = 7; print($a[$i]); $i = 2; \
                print($a[$i]); exit(); }";
    let o = run(&["-q", "-e", prog]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        format!(
            "stdin:1:52-54: ERROR: Array access out of bounds\n{prog}\n{}~~\n0\n3\n\n\n",
            " ".repeat(51)
        )
    );
}

/// A directory of script files for `import` tests (not world-writable, as imports require).
fn import_dir(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("import-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
    for d in [dir.clone(), dir.join("lib")] {
        if d.is_dir() {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    dir
}

#[test]
fn import_merges_scripts_headers_and_directories() {
    let dir = import_dir(
        "merge",
        &[
            (
                "lib/helpers.bt",
                "import \"more.bt\";\nmacro add_one(x) { x + 1 }\nlet @seen = hash(16);\n\
                 begin { printf(\"lib begin\\n\"); }\n",
            ),
            (
                "lib/more.bt",
                "import \"helpers.bt\";\nmacro twice(x) { x * 2 }\n",
            ),
            ("lib/types.h", "struct point { int x; int y; int z; };\n"),
            (
                "main.bt",
                "import \"lib/helpers.bt\";\nimport \"lib/types.h\";\n\
                 begin { printf(\"%d %d\\n\", twice(add_one(20)), sizeof(struct point)); \
                 @seen[1] = 1; exit(); }\n",
            ),
        ],
    );
    let o = run(&["-q", dir.join("main.bt").to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // Imported `begin` blocks run first; each file is read once despite the cycle.
    assert_eq!(o.stdout, "lib begin\n42 12\n\n\n@seen[1]: 1\n");
    // A directory imports every script and header in it.
    let o = run(&[
        "-q",
        "-e",
        &format!(
            "import \"{}\"; begin {{ print(twice(3)); exit(); }}",
            dir.join("lib").display()
        ),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("lib begin\n6\n"), "{}", o.stdout);
}

#[test]
fn import_errors_point_into_the_imported_file() {
    let dir = import_dir(
        "errors",
        &[
            ("lib/broken.bt", "begin {\n  print(nope);\n}\n"),
            ("lib/configured.bt", "config = { max_strlen = 8 }\n"),
            (
                "lib/run.bt",
                "macro check(x) { if (x > 1) { errorf(\"too big\"); } }\n",
            ),
            ("lib/prog.bpf.c", "int x;\n"),
        ],
    );
    let lib = dir.join("lib");
    let imp = |f: &str, body: &str| {
        run(&[
            "-q",
            "-e",
            &format!("import \"{}/{f}\"; {body}", lib.display()),
        ])
    };
    let o = imp("broken.bt", "begin { exit(); }");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("error: unknown identifier `nope`"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("lib/broken.bt:2:9"), "{}", o.stderr);
    let o = imp("configured.bt", "begin { exit(); }");
    assert!(
        o.stderr
            .contains("an imported script cannot have a config block"),
        "{}",
        o.stderr
    );
    let o = imp("prog.bpf.c", "begin { exit(); }");
    assert!(
        o.stderr.contains("C sources need a C compiler"),
        "{}",
        o.stderr
    );
    let o = imp("missing.bt", "begin { exit(); }");
    assert!(o.stderr.contains("cannot import"), "{}", o.stderr);
    // Run-time messages located in an imported macro name that file.
    let o = imp("run.bt", "begin { check(5); exit(); }");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("lib/run.bt:1:31-48: ERROR: too big"),
        "{}",
        o.stdout
    );
}

#[test]
fn import_refuses_world_writable_directories() {
    use std::os::unix::fs::PermissionsExt;
    let dir = import_dir("writable", &[("lib/a.bt", "macro one() { 1 }\n")]);
    std::fs::set_permissions(dir.join("lib"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = run(&[
        "-e",
        &format!("import \"{}/lib/a.bt\"; begin {{ exit(); }}", dir.display()),
    ]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("is world-writable"), "{}", o.stderr);
}

#[test]
fn casts_to_typeof_and_macro_type_parameters() {
    let o = run(&[
        "-q",
        "-e",
        r#"macro p_cast(a, b) { (a*)b }
           begin { $a = (uint16)1; $b = (typeof($a))70000; $e = p_cast(uint16, 5);
                   printf("%d %p %d %d\n", $b, $e, sizeof(typeof($e)), (pid)*0); exit(); }"#,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "4464 0x5 8 0\n\n\n");
}

/// `comptime e` is `e`'s value while compiling; `if comptime (…)` compiles one branch,
/// and the other may hold what would not compile.
#[test]
fn comptime_values_and_branches() {
    let prog = r#"begin {
        if comptime ($# > 0) { print(("many", $1)); } else { print("none"); }
        print(comptime (sizeof(int32) * 2));
        exit();
    }"#;
    let o = spyglass(&["-q", "-e", prog, "5"]);
    assert_eq!(o.stdout, "(many, 5)\n8\n\n\n", "{}", o.stderr);
    let o = spyglass(&["-q", "-e", prog]);
    assert_eq!(o.stdout, "none\n8\n\n\n", "{}", o.stderr);
}

/// `args` as a value: a record of every field, printed as bpftrace prints structs, and
/// usable as a map key.
#[test]
fn args_as_a_value_prints_every_field() {
    let o = spyglass(&[
        "-q",
        "-c",
        &format!("{} 2", workload()),
        "-e",
        "tracepoint:syscalls:sys_enter_getpid /pid == cpid/ { print(args); @[args] = count(); }",
    ]);
    assert_eq!(
        o.stdout,
        "{ .__syscall_nr = 39 }\n{ .__syscall_nr = 39 }\n\n\n@[{ .__syscall_nr = 39 }]: 2\n",
        "{}",
        o.stderr
    );
}

/// `typeinfo()` is unstable: an error by default, as in bpftrace; enabled, a record of
/// the BTF id, the base kind and the full type.
#[test]
fn typeinfo_is_gated_and_describes_types() {
    let o = run_e("begin { print(typeinfo(comm)); exit(); }");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("typeinfo() is an unstable feature"),
        "{}",
        o.stderr
    );
    let o = spyglass(&[
        "-q",
        "-e",
        "config = { unstable_typeinfo = enable } begin { print(typeinfo(comm)); print(typeinfo(curtask).full_type); exit(); }",
    ]);
    assert_eq!(
        o.stdout,
        "{ .btf_id = 0, .base_type = string, .full_type = string[16] }\nstruct task_struct *\n\n\n",
        "{}",
        o.stderr
    );
}
