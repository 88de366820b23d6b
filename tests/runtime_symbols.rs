//! Runtime tests for the symbolizing functions: `ksym`, `usym`, `uaddr`, `cgroup_path`,
//! printf `%gr` and `ustack(build_id)`. The kernel captures numbers; names are looked up
//! when printing, so each is checked in printf, print, map keys and JSON.

use std::process::Command;
use std::sync::OnceLock;

mod common;
use common::*;

/// A function of the running kernel and its address, from /proc/kallsyms.
fn kernel_function() -> (String, u64) {
    let text = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let line = text
        .lines()
        .find(|l| l.ends_with(" T vfs_read"))
        .expect("vfs_read in kallsyms");
    let addr = u64::from_str_radix(line.split(' ').next().unwrap(), 16).unwrap();
    ("vfs_read".into(), addr)
}

#[test]
fn ksym_names_kernel_addresses() {
    let (name, addr) = kernel_function();
    let o = run_e(&format!(
        "begin {{ printf(\"%s|%s\\n\", ksym({addr}), ksym({addr} + 3)); print(ksym({addr}));
                  @[ksym({addr})] = count(); @v = ksym(1); exit() }}"
    ));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        format!("{name}|{name}\n{name}\n\n\n@[{name}]: 1\n@v: 0x1\n")
    );
}

#[test]
fn ksym_in_json_is_a_string() {
    let (name, addr) = kernel_function();
    let o = spyglass(&[
        "-q",
        "-f",
        "json",
        "-e",
        &format!("begin {{ print(ksym({addr})); @[ksym({addr})] = count(); exit() }}"),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        format!(
            "{{\"type\": \"value\", \"data\": \"{name}\"}}\n\
             {{\"type\": \"map\", \"data\": {{\"@\": {{\"{name}\": 1}}}}}}\n"
        )
    );
}

/// Unknown user addresses print in hex (bpftrace's call.usym).
#[test]
fn usym_of_an_unmapped_address_is_hex() {
    let o = run_e("interval:ms:50 { @ = usym(1); @a = @; exit(); }");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "\n\n@: 0x1\n@a: 0x1\n");
}

const TARGET: &str = "spyglass-symbols-target";

/// Passes `callee`'s address to `take`, then stays alive a little so its mappings can
/// still be read when the output is printed.
fn target() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = env!("CARGO_TARGET_TMPDIR");
        let (src, out) = (format!("{dir}/{TARGET}.c"), format!("{dir}/{TARGET}"));
        std::fs::write(
            &src,
            "#include <unistd.h>\n\
             int counter = 5;\n\
             __attribute__((noinline)) void take(void *f) { __asm__ volatile(\"\" :: \"r\"(f)); }\n\
             __attribute__((noinline)) int callee(int x) { return x + counter; }\n\
             int main(int argc, char **argv) {\n\
               take((void *)callee);\n\
               usleep(500000);\n\
               return callee(argc) > 100;\n\
             }\n",
        )
        .unwrap();
        let st = Command::new("cc")
            .args(["-O0", "-Wl,--build-id", "-o", &out, &src])
            .status()
            .expect("cc");
        assert!(st.success(), "compiling the target failed");
        out
    })
}

fn run_target(prog: &str) -> Out {
    let prog = prog.replace("BIN", target());
    let o = spyglass(&["-q", "-c", target(), "-e", &prog]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o
}

#[test]
fn usym_names_user_addresses_in_the_probed_process() {
    let o = run_target(
        "uprobe:BIN:take /pid == cpid/ { printf(\"%s|%s\\n\", usym(arg0), usym(1));
                                         print(usym(arg0)); print((1, usym(arg0))); }",
    );
    assert_eq!(o.stdout, "callee|0x1\ncallee\n(1, callee)\n\n\n");
}

#[test]
fn usym_map_keys_are_named_while_the_process_lives() {
    let o = run_target("uprobe:BIN:take /pid == cpid/ { @[usym(arg0)] = count(); exit(); }");
    assert_eq!(o.stdout, "\n\n@[callee]: 1\n");
}

fn elf_symbol(path: &str, name: &str) -> u64 {
    use object::{Object, ObjectSymbol};
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let found = file.symbols().find(|s| s.name() == Ok(name));
    found.expect("symbol in the target").address()
}

#[test]
fn uaddr_is_the_symbols_address_typed_by_its_size() {
    let o = run_target(
        "uprobe:BIN:take /pid == cpid/ { printf(\"%p %d\\n\", uaddr(\"counter\"),
                                                sizeof(*uaddr(\"counter\"))); }",
    );
    let addr = elf_symbol(target(), "counter");
    assert_eq!(o.stdout, format!("{addr:#x} 4\n\n\n"));
}

#[test]
fn uaddr_outside_uprobes_is_an_error() {
    let o = run_e("begin { print(uaddr(\"main\")); }");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("uaddr() can only be used in uprobes and uretprobes"),
        "{}",
        o.stderr
    );
}

#[test]
fn build_id_stacks_give_build_id_and_file_offset() {
    use object::Object;
    let data = std::fs::read(target()).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let id: String = file
        .build_id()
        .unwrap()
        .expect("the target has a build id")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let o = run_target("uprobe:BIN:take /pid == cpid/ { print(ustack(build_id, 2)); }");
    // The uprobe fires at `take`'s first instruction.
    let take = elf_symbol(target(), "take");
    let lines: Vec<&str> = o.stdout.lines().collect();
    // A line break, one frame a line, a line break; then the exit-time map dump's two.
    assert_eq!(lines.len(), 6, "{}", o.stdout);
    assert_eq!(lines[0], "");
    assert_eq!(
        lines[1],
        format!("        {id} {:#04x}", file_offset(&file, take))
    );
    assert!(
        lines[2].starts_with(&format!("        {id} 0x")),
        "{}",
        o.stdout
    );
}

/// The file offset of a virtual address (what build-id frames show).
fn file_offset(file: &object::File, addr: u64) -> u64 {
    use object::{Object, ObjectSegment};
    let seg = file
        .segments()
        .find(|s| s.address() <= addr && addr < s.address() + s.size())
        .expect("a segment holds the address");
    addr - seg.address() + seg.file_range().0
}

#[test]
fn build_id_is_raw_for_kernel_stacks() {
    let o = run_e("begin { $s = kstack(build_id); print((1, ustack(build_id, 30))); exit() }");
    assert_eq!(o.code, 0, "{}", o.stderr);
}

/// This process's cgroup v2 path (spyglass inherits it; `begin` runs in spyglass).
fn own_cgroup2() -> String {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a cgroup v2 line")
        .to_string()
}

#[test]
fn cgroup_path_of_this_process() {
    let path = own_cgroup2();
    let o = run_e(
        "begin { printf(\"%s\\n\", cgroup_path(cgroup, \"unified\")); print(cgroup_path(cgroup, \"uni*\"));
                 @[cgroup_path(cgroup, \"unified\")] = count(); exit() }",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        format!("unified:{path}\nunified:{path}\n\n\n@[unified:{path}]: 1\n")
    );
    // Without a filter every hierarchy is listed, cgroup v2 first.
    let o = run_e("begin { printf(\"%s\\n\", cgroup_path(cgroup)); exit() }");
    assert!(
        o.stdout.starts_with(&format!("unified:{path}")),
        "{}",
        o.stdout
    );
}

#[test]
fn cgroup_path_in_json_is_a_string() {
    let path = own_cgroup2();
    let o = spyglass(&[
        "-q",
        "-f",
        "json",
        "-e",
        "begin { print(cgroup_path(cgroup, \"unified\")); exit() }",
    ]);
    assert_eq!(
        o.stdout,
        format!("{{\"type\": \"value\", \"data\": \"unified:{path}\"}}\n")
    );
}

#[test]
fn printf_gr_names_gfp_flags() {
    let o = run_e(
        "begin { printf(\"%gr|%gr|%gr|%gr|%gr\\n\", 0x1, 0xcc0, 0x400cc0, 0xdc0, 0); exit() }",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "GFP_DMA|GFP_KERNEL|GFP_KERNEL_ACCOUNT|GFP_KERNEL|__GFP_ZERO|0\n\n\n"
    );
}

/// This kernel resolves typed `__ksym`s through kallsyms, which lists no data symbols
/// here (no CONFIG_KALLSYMS_ALL): the program compiles, and the verifier says why it
/// cannot load.
#[test]
fn percpu_kaddr_compiles_to_a_typed_ksym() {
    let o = run_e("begin { printf(\"%d\\n\", *percpu_kaddr(\"process_counts\")); exit() }");
    let in_kallsyms = std::fs::read_to_string("/proc/kallsyms")
        .unwrap()
        .lines()
        .any(|l| l.ends_with(" process_counts"));
    if in_kallsyms {
        assert_eq!(o.code, 0, "{}", o.stderr);
    } else {
        assert_eq!(o.code, 1);
        assert!(
            o.stderr
                .contains("failed to find the address for kernel symbol 'process_counts'"),
            "{}",
            o.stderr
        );
    }
}
