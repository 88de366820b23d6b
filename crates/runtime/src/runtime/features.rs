//! libbpf's kernel feature probes: remembered across runs, and asked ahead of the load.
//!
//! Loading an object makes libbpf ask the kernel, one tiny load at a time, what it supports
//! (program names, global data, BTF kinds, mmap-able arrays…): about twenty `bpf(2)` calls,
//! ≈ 0.4 ms in the kernel, on the critical path of every start. libbpf keeps the answers
//! in a process-wide cache, so each process asks again. The binaries are linked with
//! `--wrap=feat_supported` (build.rs), which sends libbpf's own questions through
//! `__wrap_feat_supported` here: a feature this boot's kernel was seen to support (the
//! `kernel-facts` file, `user_cache`) is answered from memory, anything else is probed as
//! libbpf would. Only "supported" is remembered: a kernel never loses a feature until it
//! reboots, while a probe may fail for a passing reason.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

extern "C" {
    /// libbpf's own probe-and-cache entry point (`features.c`). Internal to libbpf, but
    /// linked statically here, so it resolves; a null cache means the process-wide one
    /// that every object without a BPF token uses. Calls to it, libbpf's and these, reach
    /// `__wrap_feat_supported`.
    fn feat_supported(cache: *mut c_void, feat_id: c_int) -> bool;
    /// libbpf's `feat_supported` itself, under `--wrap`.
    fn __real_feat_supported(cache: *mut c_void, feat_id: c_int) -> bool;
}

/// Features known supported (bit `id`), from earlier runs of this boot and this one.
static SUPPORTED: AtomicU64 = AtomicU64::new(0);
/// Of those, the ones not yet written down.
static UNSAVED: AtomicU64 = AtomicU64::new(0);
static REMEMBERED: Once = Once::new();

/// The `kernel-facts` key: a libbpf release may renumber its features.
fn facts_key() -> String {
    let (major, minor) = libbpf_version();
    format!("libbpf-{major}.{minor}.features")
}

/// libbpf asks here instead of probing (see the module comment). Never unwinds: libbpf is
/// C, and nothing in it panics.
#[no_mangle]
extern "C" fn __wrap_feat_supported(cache: *mut c_void, feat_id: c_int) -> bool {
    // A BPF token's object keeps its own answers, which may differ: left to libbpf.
    let bit = match (cache.is_null(), u32::try_from(feat_id)) {
        (true, Ok(id)) if id < 64 => 1u64 << id,
        _ => return unsafe { __real_feat_supported(cache, feat_id) },
    };
    REMEMBERED.call_once(|| {
        let known = crate::user_cache::kernel_facts(&facts_key())
            .into_iter()
            .fold(0, |a, b| a | b);
        SUPPORTED.fetch_or(known, Ordering::Relaxed);
    });
    if SUPPORTED.load(Ordering::Relaxed) & bit != 0 {
        return true;
    }
    let yes = unsafe { __real_feat_supported(cache, feat_id) };
    if yes {
        SUPPORTED.fetch_or(bit, Ordering::Relaxed);
        UNSAVED.fetch_or(bit, Ordering::Relaxed);
    }
    yes
}

/// Writes down what this process learnt, for the next run of this boot: after a load,
/// when every question it asks has an answer.
pub fn save() {
    if UNSAVED.swap(0, Ordering::Relaxed) != 0 {
        crate::user_cache::record_kernel_fact(&facts_key(), SUPPORTED.load(Ordering::Relaxed));
    }
}

/// The libbpf release whose `enum kern_feature_id` (libbpf_internal.h) the ids below are
/// read from. With any other release, nothing is probed ahead.
pub const FEATURE_IDS_OF: (u32, u32) = (1, 7);

/// The features an object's load asks about, as `enum kern_feature_id` values. Features a
/// load only asks about for what spyglass never emits (module BTF, kconfig externs, arenas,
/// multi-uprobe USDT, cgroup attach types) are left to libbpf.
const LOAD_FEATURES: [(c_int, &str); 17] = [
    (0, "PROG_NAME"),
    (1, "GLOBAL_DATA"),
    (2, "BTF"),
    (3, "BTF_FUNC"),
    (4, "BTF_DATASEC"),
    (5, "BTF_GLOBAL_FUNC"),
    (6, "ARRAY_MMAP"),
    (8, "PROBE_READ_KERN"),
    (9, "PROG_BIND_MAP"),
    (11, "BTF_FLOAT"),
    (12, "PERF_LINK"),
    (13, "BTF_DECL_TAG"),
    (14, "BTF_TYPE_TAG"),
    (15, "MEMCG_ACCOUNT"),
    (17, "BTF_ENUM64"),
    (20, "ARG_CTX_TAG"),
    (21, "BTF_QMARK_DATASEC"),
];

fn libbpf_version() -> (u32, u32) {
    unsafe {
        (
            libbpf_sys::libbpf_major_version(),
            libbpf_sys::libbpf_minor_version(),
        )
    }
}

/// Probes now, on the calling thread, for a load later in this process: for a thread that
/// would otherwise wait (the main thread while a script compiles). The load finds the
/// answers cached, or probes what is still missing itself (libbpf reads and writes each
/// answer once, with `READ_ONCE`/`WRITE_ONCE`, so asking twice only repeats a probe).
///
/// Not worth a thread of its own on a cached start: the probes JIT tiny programs, which
/// takes the kernel's text lock and interrupts the other core, so running them beside the
/// main thread's own work measured no faster (from `execute`: 4.35–4.45 against
/// 4.25–4.38 ms; first thing in `main`: 3.57 against 3.45 ms).
pub fn probe_now() {
    // Without privileges every probe fails, and the run stops before loading anyway.
    if libbpf_version() != FEATURE_IDS_OF || super::missing_privileges().is_some() {
        return;
    }
    // A probe that fails outright is reported through libbpf's print callback: send it
    // where a load's messages go, not to stderr.
    super::loader::capture_libbpf_messages();
    for (id, _) in LOAD_FEATURES {
        unsafe { feat_supported(std::ptr::null_mut(), id) };
    }
}

/// The answers, probed now if not yet: what `tests/` check against the kernel.
pub fn supported() -> Vec<(&'static str, bool)> {
    LOAD_FEATURES
        .iter()
        .map(|&(id, name)| (name, unsafe { feat_supported(std::ptr::null_mut(), id) }))
        .collect()
}

/// Whether the linked libbpf is the release the ids were read from.
pub fn ids_match_libbpf() -> bool {
    libbpf_version() == FEATURE_IDS_OF
}
