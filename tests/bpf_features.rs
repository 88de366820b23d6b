//! libbpf's kernel feature probes, asked ahead of a load (`runtime::features`), are the
//! ones the load then asks: after asking, loading a program adds no probe of its own.

use spyglass::runtime::{self, features, RunOptions};
use spyglass::{codegen, parser, sema, stdlib::STDLIB};

/// The tests count the ids the kernel hands out: one at a time.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The id of a program loaded now: the kernel hands out ids in increasing order, and a
/// program's id is gone once it is unloaded, so the next id is sampled by loading one.
fn next_prog_id() -> u32 {
    // r0 = 0; exit
    let insns = [
        libbpf_sys::bpf_insn {
            code: 0xb7,
            ..Default::default()
        },
        libbpf_sys::bpf_insn {
            code: 0x95,
            ..Default::default()
        },
    ];
    unsafe {
        let fd = libbpf_sys::bpf_prog_load(
            libbpf_sys::BPF_PROG_TYPE_SOCKET_FILTER,
            std::ptr::null(),
            c"GPL".as_ptr(),
            insns.as_ptr(),
            insns.len() as _,
            std::ptr::null_mut(),
        );
        assert!(fd >= 0, "loading a two-instruction program: {fd}");
        let mut info = libbpf_sys::bpf_prog_info::default();
        let mut len = std::mem::size_of_val(&info) as u32;
        let r = libbpf_sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len);
        libc::close(fd);
        assert_eq!(r, 0);
        info.id
    }
}

#[test]
fn the_feature_ids_are_those_of_the_linked_libbpf() {
    // A libbpf release may renumber `enum kern_feature_id`: re-read libbpf_internal.h and
    // update `features::LOAD_FEATURES` and `FEATURE_IDS_OF` together.
    assert!(
        features::ids_match_libbpf(),
        "libbpf is not {:?}",
        features::FEATURE_IDS_OF
    );
}

#[test]
fn a_load_after_asking_ahead_probes_nothing_more() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let source = "BEGIN { printf(\"%d\\n\", 1); exit(); } tracepoint:syscalls:sys_enter_getpid { @[tid] = count(); }";
    let ast = parser::parse(source, &STDLIB).unwrap();
    let checked = sema::check(ast, sema::Options::default(), &STDLIB).unwrap();
    let program = codegen::compile(&checked, &STDLIB, false).unwrap().program;
    features::probe_now();
    for (name, supported) in features::supported() {
        assert!(supported, "kernel feature {name}: a 6.x kernel has it");
    }
    let before = next_prog_id();
    let opts = RunOptions {
        dry_run: true,
        quiet: true,
        ..Default::default()
    };
    runtime::run(&program, &opts).unwrap();
    let loaded = next_prog_id() - before - 1;
    // The script's programs and libbpf's "can anything load" check, which it always runs;
    // every feature probe left to the load would add one or more.
    let expected = program.probes.len() as u32 + 1;
    assert!(
        loaded <= expected,
        "{loaded} programs loaded, {expected} expected: the load probed features itself"
    );
}

/// Every map a script declares reaches the kernel with the BTF of its key and value (what
/// `bpftool map dump` formats them by), at the first attempt: libbpf retries a map the
/// kernel refuses the BTF of without it, creating it twice (an array's was refused: the
/// kernel wants an array's key to be a 32-bit integer, not four bytes).
#[test]
fn every_declared_map_is_created_once_with_its_btf() {
    use libbpf_rs::{MapCore, MapType, ObjectBuilder};
    // `@n` is a per-CPU array, the records' ring an array, `@h` a hash; the strings use
    // the scratch arrays.
    let source = r#"tracepoint:syscalls:sys_enter_getpid {
        @n = count(); @h[comm, tid] = sum(1);
        printf("%s %s\n", comm, str(args.__syscall_nr));
    }"#;
    let ast = parser::parse(source, &STDLIB).unwrap();
    let checked = sema::check(ast, sema::Options::default(), &STDLIB).unwrap();
    let program = codegen::compile(&checked, &STDLIB, false).unwrap().program;
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    // libbpf's own probes create maps of their own.
    features::probe_now();
    let mut open = ObjectBuilder::default().open_memory(&program.elf).unwrap();
    let mut names = vec![];
    for mut m in open.maps_mut() {
        if spyglass::program::is_scratch_map(&m.name().to_string_lossy()) {
            m.set_max_entries(2).unwrap();
        }
    }
    let before = next_map_id();
    let object = open.load().unwrap();
    let created = next_map_id() - before - 1;
    let mut kinds = std::collections::BTreeSet::new();
    for m in object.maps() {
        let name = m.name().to_string_lossy().into_owned();
        names.push(name.clone());
        // The ring buffer has no key or value; data sections are described by a DATASEC.
        if m.map_type() == MapType::RingBuf || name.contains('.') {
            continue;
        }
        kinds.insert(format!("{:?}", m.map_type()));
        let info = m.info().unwrap();
        assert!(
            info.info.btf_key_type_id != 0 && info.info.btf_value_type_id != 0,
            "map {name} ({:?}) was created without its BTF",
            m.map_type()
        );
    }
    for kind in ["Array", "PercpuArray", "PercpuHash"] {
        assert!(kinds.contains(kind), "no {kind} map among {kinds:?}");
    }
    assert!(
        created <= names.len() as u32,
        "{created} maps created for the {} of {names:?}: some were created twice",
        names.len()
    );
}

/// The id the next map created gets (as `next_prog_id`, for maps).
fn next_map_id() -> u32 {
    let fd = unsafe {
        libbpf_sys::bpf_map_create(
            libbpf_sys::BPF_MAP_TYPE_ARRAY,
            std::ptr::null(),
            4,
            4,
            1,
            std::ptr::null(),
        )
    };
    assert!(fd >= 0, "creating a one-entry array: {fd}");
    let mut info = libbpf_sys::bpf_map_info::default();
    let mut len = std::mem::size_of_val(&info) as u32;
    let r = unsafe { libbpf_sys::bpf_map_get_info_by_fd(fd, &mut info, &mut len) };
    unsafe { libc::close(fd) };
    assert_eq!(r, 0);
    info.id
}

/// Programs loaded by one `spyglass --dry-run` of `script` (loaded into the verifier, never
/// attached), with `cache` as its cache directory.
fn programs_loaded_by_a_run(script: &str, cache: &std::path::Path) -> u32 {
    let before = next_prog_id();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spyglass"))
        .args(["--dry-run", "--no-cache", "-e", script])
        .env("XDG_CACHE_HOME", cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    next_prog_id() - before - 1
}

#[test]
fn a_run_asks_the_kernel_only_what_no_earlier_run_of_this_boot_learnt() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = std::env::temp_dir().join(format!("spyglass-features-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let script = "tracepoint:syscalls:sys_enter_getpid { @[tid] = count(); printf(\"%d\\n\", 1); }";
    let first = programs_loaded_by_a_run(script, &cache);
    let facts = std::fs::read_to_string(cache.join("spyglass/kernel-facts")).unwrap();
    assert!(
        facts.contains(".features "),
        "nothing written down: {facts}"
    );
    // The script's program and libbpf's "can anything load" check, which it always runs.
    let second = programs_loaded_by_a_run(script, &cache);
    assert_eq!(
        second, 2,
        "the second run probed again ({first} programs the first time)"
    );
    assert!(
        first > second,
        "the first run probed nothing: {first} programs"
    );
    // Answers of another boot are not this kernel's: asked again.
    let other_boot = facts.replace(
        &std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .unwrap()
            .trim()
            .to_string(),
        "another-boot",
    );
    std::fs::write(cache.join("spyglass/kernel-facts"), other_boot).unwrap();
    assert_eq!(programs_loaded_by_a_run(script, &cache), first);
    let _ = std::fs::remove_dir_all(&cache);
}
