//! Values of any size: strings of `max_strlen` bytes (1024 by default, up to far more) live
//! in per-CPU scratch memory, not on the 512-byte BPF stack. Each test opens a file whose
//! path is longer than the strings involved or not, and follows it through `str()`, map
//! keys and values, tuples, `printf`, `print`, `for` and the string functions.

mod common;
use common::*;

/// A file under /tmp whose absolute path is `len` bytes long (directories of at most 200
/// characters, a file name filling the rest).
fn long_path(len: usize) -> String {
    let root = format!("{}/spyglass-long", env!("CARGO_TARGET_TMPDIR"));
    let mut dir = root.clone();
    while len - dir.len() > 250 {
        dir.push('/');
        dir.push_str(&"d".repeat(200));
    }
    std::fs::create_dir_all(&dir).unwrap();
    let name = "f".repeat(len - dir.len() - 1);
    let path = format!("{dir}/{name}");
    std::fs::write(&path, "").unwrap();
    assert_eq!(path.len(), len);
    path
}

/// Runs `prog` quietly while `cat` opens `path`, with extra environment.
fn trace_open(prog: &str, path: &str, env: &[(&str, &str)]) -> Out {
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["-q", "-e", prog, "-c", &format!("cat {path}")]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Out::of(cmd.output().unwrap())
}

fn root() -> String {
    format!("{}/spyglass-long/", env!("CARGO_TARGET_TMPDIR"))
}

/// The path through `str()`, a map key, a map value, a tuple, `printf`, `for` and
/// `strlen`, selected by a prefix compare (searching long strings costs the verifier).
fn through_everything(config: &str) -> String {
    let root = root();
    format!(
        r#"{config}
tracepoint:syscalls:sys_enter_openat /pid == cpid/ {{
  $s = str(args.filename);
  if (strncmp($s, "{root}", {n}) == 0) {{
    @k[$s] = count();
    @v[1] = $s;
    @t[2] = ($s, 7);
    printf("%d %d\n", strlen($s), @t[2].1);
    exit();
  }}
}}
end {{
  for ($kv : @k) {{ printf("for %d\n", strlen($kv.0)); }}
  clear(@k); clear(@v); clear(@t);
}}"#,
        n = root.len()
    )
}

#[test]
fn strings_of_the_default_1024_bytes() {
    let path = long_path(1000);
    let o = trace_open(&through_everything(""), &path, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "1000 7\nfor 1000\n\n\n");
}

#[test]
fn strings_of_4096_bytes() {
    let path = long_path(4000);
    let o = trace_open(
        &through_everything(""),
        &path,
        &[("BPFTRACE_MAX_STRLEN", "4096")],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "4000 7\nfor 4000\n\n\n");
}

#[test]
fn strings_of_65536_bytes() {
    // Paths stop at PATH_MAX (4096): 65,536-byte buffers hold them with room to spare.
    let path = long_path(4000);
    let o = trace_open(
        &through_everything("config = { max_strlen = 65536 }"),
        &path,
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "4000 7\nfor 4000\n\n\n");
}

#[test]
fn printf_and_print_show_a_whole_long_string() {
    let path = long_path(1500);
    let o = trace_open(
        r#"config = { max_strlen = 2048 }
           tracepoint:syscalls:sys_enter_openat /pid == cpid && strlen(str(args.filename)) > 1000/ {
             printf("%s\n", str(args.filename)); print(str(args.filename)); @last = str(args.filename); exit(); }"#,
        &path,
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, format!("{path}\n{path}\n\n\n@last: {path}\n"));
}

#[test]
fn a_longer_string_is_cut_at_max_strlen() {
    let path = long_path(1500);
    let o = trace_open(
        r#"tracepoint:syscalls:sys_enter_openat /pid == cpid && strlen(str(args.filename)) > 1000/ {
             printf("%s\n", str(args.filename)); exit(); }"#,
        &path,
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    // What the kernel's read cut keeps its NUL: only a buffer without one gets the trailer.
    assert_eq!(o.stdout, format!("{}\n\n\n", &path[..1023]));
}

#[test]
fn many_string_temporaries_in_one_probe() {
    // opensnoop-style: several strings at once, each larger than the whole BPF stack.
    let path = long_path(600);
    let o = trace_open(
        r#"tracepoint:syscalls:sys_enter_openat /pid == cpid && strlen(str(args.filename)) > 500/ {
             $a = str(args.filename); $b = str(args.filename); $c = str(args.filename);
             @paths[$a, comm] = count();
             printf("%d %d %d %d\n", strlen($a), $a == $b, strlen(str_concat($b, "!")) , strcontains($c, "fff"));
             exit(); }
           end { clear(@paths); }"#,
        &path,
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "600 1 601 1\n\n\n");
}

#[test]
fn large_values_in_a_loop_callback() {
    let o = spyglass(&[
        "-q",
        "-e",
        r#"begin { $s = str(0); @m["a"] = 1; @m["b"] = 2;
                   for ($kv : @m) { $s = $kv.0; }
                   for ($i : 0..3) { $s = "loop"; }
                   printf("%s %d\n", $s, strlen($s)); clear(@m); }"#,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "loop 4\n\n\n");
}

#[test]
fn on_stack_limit_and_max_strlen_are_config_keys() {
    let path = long_path(600);
    let o = trace_open(
        &format!(
            r#"config = {{ max_strlen = 16; on_stack_limit = 64 }}
               tracepoint:syscalls:sys_enter_openat /pid == cpid/ {{
                 $s = str(args.filename);
                 if ($s == "{}") {{ printf("%s %d\n", $s, default_str_length); exit(); }} }}"#,
            &path[..15]
        ),
        &path,
        &[],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, format!("{} 16\n\n\n", &path[..15]));
}

#[test]
fn a_search_too_large_for_one_program_is_a_diagnostic() {
    let o = spyglass(&[
        "--dry-run",
        "-e",
        r#"tracepoint:syscalls:sys_enter_openat { $s = str(args.filename); print(strcontains($s, $s)); }"#,
    ]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("searching a 1024-byte string for a 1024-byte one"),
        "{}",
        o.stderr
    );
}

#[test]
fn integer_variables_stay_where_the_verifier_can_bound_a_loop() {
    // Six integers (48 bytes, over on_stack_limit) and a string: the integers stay on the
    // stack, so the verifier knows `$i` and accepts the loop; only the string is in scratch.
    let o = spyglass(&[
        "-q",
        "-e",
        r#"interval:ms:1 { $a = 1; $b = 2; $c = 3; $d = 4; $e = 5; $i = (uint64)0; $s = str(0);
                          while ($i < 100) { $a += $i % 10; $i++; }
                          printf("%d %d %s\n", $a, $a + $b + $c + $d + $e, $s); exit(); }"#,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "451 465 \n\n\n");
}
