//! How the `spyglass` binary and its compile threads are laid out in memory: a first run's
//! start-up is mostly page faults (BENCHMARKS.md), and these are the measures against them.

use object::{Object, ObjectSection};

const BIN: &str = env!("CARGO_BIN_EXE_spyglass");

#[test]
fn the_code_a_compile_runs_is_placed_ahead_of_the_rest() {
    let bytes = std::fs::read(BIN).unwrap();
    let elf = object::File::parse(&*bytes).unwrap();
    let section = |name: &str| {
        elf.section_by_name(name)
            .unwrap_or_else(|| panic!("{BIN} has no {name} section"))
    };
    let (hot, text) = (section(".text.hot_first"), section(".text"));
    assert!(hot.address() < text.address());
    // link/hot-text.txt names ≈ 12,000 functions (6 MB); the static constructors alone,
    // if none of the names matched, are under 1 MB.
    assert!(
        hot.size() > 3 << 20,
        ".text.hot_first is {} bytes",
        hot.size()
    );
    // LLVM's constructors wait for the first compile (src/codegen/llvm_init.rs).
    let lazy = section("llvm_init_array");
    assert!(lazy.size() / 8 > 100, "{} constructors", lazy.size() / 8);
}

/// The flags of the mapping holding `addr`, from /proc/self/smaps, and its bounds.
fn mapping_of(addr: usize) -> (usize, usize, String) {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut current = None;
    for line in smaps.lines() {
        if let Some(flags) = line.strip_prefix("VmFlags:") {
            if let Some((lo, hi)) = current.take() {
                return (lo, hi, flags.trim().to_string());
            }
        } else if let Some((range, _)) = line.split_once(' ') {
            if let Some((lo, hi)) = range.split_once('-') {
                if let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                {
                    if (lo..hi).contains(&addr) {
                        current = Some((lo, hi));
                    }
                }
            }
        }
    }
    panic!("no mapping holds {addr:#x}");
}

#[test]
fn a_compile_thread_allocates_from_room_made_at_once_in_huge_pages() {
    std::thread::spawn(|| {
        let _room = spyglass::arena::make_room();
        // What a compile allocates: many small blocks.
        let blocks: Vec<Box<[u8; 512]>> = (0..4096).map(|_| Box::new([1u8; 512])).collect();
        let (lo, hi, flags) = mapping_of(&*blocks[0] as *const _ as usize);
        for b in &blocks {
            let at = &**b as *const _ as usize;
            assert!((lo..hi).contains(&at), "{at:#x} outside {lo:#x}-{hi:#x}");
        }
        // Marked for huge pages (`hg`), 2 MiB-aligned, and already larger than the 2 MiB
        // allocated: the arena was not grown a page at a time.
        assert!(flags.split(' ').any(|f| f == "hg"), "flags: {flags}");
        assert_eq!(lo % (2 << 20), 0, "{lo:#x}");
        assert!(hi - lo >= 8 << 20, "{lo:#x}-{hi:#x}");
    })
    .join()
    .unwrap();
}

/// The unwinder is linked in from libgcc_eh.a (link/static_libgcc.rs): the shared libgcc_s
/// would run its cpuid-probing constructor at every start. A panic must still unwind, for
/// `main.rs` to catch it and report an internal error; this test is linked the same way.
#[test]
fn the_binaries_carry_their_own_unwinder() {
    // (The panic's message shows in the test's output; the other tests' panics must not
    // lose theirs to a swapped hook.)
    let caught = std::panic::catch_unwind(|| panic!("unwinding through libgcc_eh, as expected"));
    assert!(caught.is_err());
    let run = std::path::Path::new(BIN).with_file_name("spyglass-run");
    for bin in [BIN, run.to_str().unwrap()] {
        let Ok(bytes) = std::fs::read(bin) else {
            // spyglass-run is built with the workspace's binaries, not by every test run.
            continue;
        };
        let elf = object::File::parse(&*bytes).unwrap();
        let needs = elf.imports().unwrap();
        assert!(
            needs.iter().all(|i| !i.name().starts_with(b"_Unwind_")),
            "{bin} imports the unwinder"
        );
        let dynamic = std::process::Command::new("ldd").arg(bin).output().unwrap();
        let libs = String::from_utf8_lossy(&dynamic.stdout);
        assert!(!libs.contains("libgcc_s"), "{bin} needs libgcc_s:\n{libs}");
    }
}
