//! Scripts with many probes compile in pieces, on several threads, and are linked into one
//! object (`codegen::parts`). What the pieces share must be one thing at run time: maps,
//! the ring buffer, the stack map; what is per program (loop callbacks, scratch regions)
//! must not collide. Errors found in a late piece point at its probe.

mod common;
use common::*;

/// Enough probe blocks that the program is split (`parts::worth_splitting`).
const BLOCKS: usize = 48;

/// Probe block `i`: every feature that declares something shared or per program.
fn block(i: usize) -> String {
    format!(
        r#"tracepoint:syscalls:sys_enter_getpid /pid == cpid/ {{
  @n = count();
  @per[{i}] = count();
  @sum[comm, {i} % 3] = sum({i});
  @h = hist({i});
  $s = str(comm);
  @strs[$s] = count();
  for $k : 0..2 {{ @loops[{i}] = count(); }}
  if (has_key(@per, {i})) {{ @seen = count(); }}
  @stk[kstack(1)] = count();
  printf("probe %d\n", {i});
}}
"#
    )
}

fn script(blocks: usize) -> String {
    (0..blocks).map(block).collect()
}

#[test]
fn many_probes_compiled_in_pieces_share_their_maps() {
    let calls = 3;
    let o = spyglass(&[
        "-e",
        &script(BLOCKS),
        "-c",
        &format!("{} {calls}", workload()),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let total = BLOCKS * calls;
    assert!(o.stdout.contains(&format!("@n: {total}\n")), "{}", o.stdout);
    assert!(
        o.stdout.contains(&format!("@seen: {total}\n")),
        "{}",
        o.stdout
    );
    for i in 0..BLOCKS {
        assert!(
            o.stdout.contains(&format!("@per[{i}]: {calls}\n")),
            "{i}: {}",
            o.stdout
        );
        assert!(
            o.stdout.contains(&format!("@loops[{i}]: {}\n", 2 * calls)),
            "{i}: {}",
            o.stdout
        );
        let lines = o.stdout.matches(&format!("probe {i}\n")).count();
        assert_eq!(lines, calls, "probe {i}");
    }
    // One map per name: 16 blocks sum i where i % 3 == 0 (0, 3, …, 45), three times each.
    let sum0: usize = (0..BLOCKS).filter(|i| i % 3 == 0).sum::<usize>() * calls;
    assert!(
        o.stdout.contains(&format!(", 0]: {sum0}\n")),
        "{sum0}: {}",
        o.stdout
    );
    assert!(o.stdout.contains(&format!("]: {total}\n")), "{}", o.stdout);
    assert_eq!(o.stdout.matches("@stk[").count(), 1, "{}", o.stdout);
}

#[test]
fn an_error_in_a_late_piece_points_at_its_probe() {
    let mut s = script(BLOCKS);
    s.push_str("tracepoint:syscalls:sys_enter_getppid { @u = usermode; }\n");
    let o = spyglass(&["--dry-run", "-e", &s]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("`usermode` is not available"),
        "{}",
        o.stderr
    );
    let line = 12 * BLOCKS + 1;
    assert!(o.stderr.contains(&format!("stdin:{line}:")), "{}", o.stderr);
}

#[test]
fn too_much_stack_in_a_late_piece_is_a_located_error() {
    // Kept on the stack (on_stack_limit), nine 200-byte strings cannot fit.
    let mut s = "config = { max_strlen = 200; on_stack_limit = 256 }\n".to_string();
    s.push_str(&script(BLOCKS));
    let arg = "str(args.filename)";
    s.push_str(&format!(
        "tracepoint:syscalls:sys_enter_openat {{ printf(\"{}\\n\", {}); }}\n",
        ["%s"; 9].join(" "),
        [arg; 9].join(", ")
    ));
    let o = spyglass(&["--dry-run", "-e", &s]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("more than the 512 bytes of stack"),
        "{}",
        o.stderr
    );
    let line = 12 * BLOCKS + 2;
    assert!(
        o.stderr.contains(&format!("stdin:{line}:1")),
        "{}",
        o.stderr
    );
}

/// Alike block `i`: the same body as every other, but for its own `printf` and its own
/// warning (which names its line), so only the record ids tell the programs apart.
fn alike(i: usize) -> String {
    format!(
        "tracepoint:syscalls:sys_enter_getpid /pid == cpid/ {{\n  \
         $z = tid - pid; @q = 1 / $z; @n[comm] = count();\n  \
         printf(\"block {i} %d\\n\", $z); }}\n"
    )
}

#[test]
fn alike_probes_compiled_once_keep_their_own_records() {
    let calls = 3;
    let script: String = (0..BLOCKS).map(alike).collect();
    let o = spyglass(&["-e", &script, "-c", &format!("{} {calls}", workload())]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for i in 0..BLOCKS {
        assert_eq!(
            o.stdout.matches(&format!("block {i} 0\n")).count(),
            calls,
            "block {i}: {}",
            o.stdout
        );
        // The warning of the division on the block's second line.
        let at = format!("stdin:{}:", 3 * i + 2);
        assert_eq!(o.stdout.matches(&at).count(), calls, "{at} {}", o.stdout);
    }
    assert!(
        o.stdout.contains(&format!("]: {}\n", BLOCKS * calls)),
        "{}",
        o.stdout
    );
}

/// The programs of alike blocks are one compiled program, copied: each differs from the
/// first only in the immediates of the moves that load its record ids (the first model is
/// compiled with its ids as opaque moves; a program compiled on its own stores them as
/// constants, which `st` instructions hold instead).
#[test]
fn alike_probes_are_copies_of_one_compiled_program() {
    let script: String = (0..BLOCKS).map(alike).collect();
    let programs: std::collections::HashMap<String, Vec<u8>> =
        compiled("split-alike", &script).into_iter().collect();
    let code = |name: &str| programs[name].clone();
    let first = code("probe_0_0");
    for i in 1..BLOCKS {
        let other = code(&format!("probe_{i}_0"));
        assert_eq!(other.len(), first.len(), "probe {i}");
        let differ: Vec<(&[u8], &[u8])> = first
            .chunks(8)
            .zip(other.chunks(8))
            .filter(|(a, b)| a != b)
            .collect();
        assert!(!differ.is_empty(), "probe {i} has the ids of probe 0");
        for (a, b) in differ {
            assert_eq!(a[0], 0xb7, "probe {i}: not a move: {a:x?} {b:x?}");
            assert_eq!(a[..4], b[..4], "probe {i}: {a:x?} {b:x?}");
        }
    }
}

/// A wildcard whose body uses `probe` is one program per attach point, told apart only by
/// the name each writes: they are copies too, each with its own name.
#[test]
fn a_wildcard_naming_its_probe_is_copies_that_keep_their_names() {
    let calls = 3;
    let script = "tracepoint:syscalls:sys_enter_* /pid == cpid/ { @[probe] = count(); }";
    let o = spyglass(&["-e", script, "-c", &format!("{} {calls}", workload())]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains(&format!(
            "@[tracepoint:syscalls:sys_enter_getpid]: {calls}\n"
        )),
        "{}",
        o.stdout
    );
    let programs = compiled("split-wildcard", script);
    assert!(programs.len() > 100, "{}", programs.len());
    for (name, code) in &programs[1..] {
        assert_eq!(code.len(), programs[0].1.len(), "{name}");
        // Only the immediates of the wide loads of the name differ.
        let mut k = 0;
        while 8 * k < code.len() {
            let (a, b) = (&programs[0].1[8 * k..8 * k + 8], &code[8 * k..8 * k + 8]);
            assert_eq!(a[..4], b[..4], "{name}: {a:x?} {b:x?}");
            assert!(a == b || a[0] == 0x18, "{name}: {a:x?} {b:x?}");
            k += if a[0] == 0x18 { 2 } else { 1 };
        }
    }
}

/// `script` compiled (`--mode codegen`, into `name`.o): each program's name and code.
fn compiled(name: &str, script: &str) -> Vec<(String, Vec<u8>)> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let elf = format!("{}/{name}.o", env!("CARGO_TARGET_TMPDIR"));
    let args = [
        "--mode",
        "codegen",
        "--no-cache",
        "--emit-elf",
        &elf,
        "-e",
        script,
    ];
    let o = spyglass(&args);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let data = std::fs::read(&elf).expect("the ELF");
    let file = object::File::parse(&*data).expect("an ELF");
    let mut out = vec![];
    for sym in file.symbols() {
        let Ok(name) = sym.name() else { continue };
        if !name.starts_with("probe_") {
            continue;
        }
        let sec = file
            .section_by_index(sym.section_index().expect("defined"))
            .expect("section");
        let (at, size) = (sym.address() as usize, sym.size() as usize);
        out.push((
            name.to_string(),
            sec.data().expect("code")[at..at + size].to_vec(),
        ));
    }
    out
}
