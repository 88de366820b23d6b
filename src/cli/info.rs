//! `--info`, in bpftrace's shape. "Kernel helpers", "Kernel features" and "Map types" are
//! facts about this kernel, probed by loading tiny programs; "Build" and "Probe types" are
//! about spyglass: a probe type is `yes` only when spyglass implements it and the kernel can
//! load its program type.

use std::ffi::CString;

use libbpf_sys as sys;
use spyglass::probes::{self, KernelNeed};

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn helper(prog_type: sys::bpf_prog_type, id: sys::bpf_func_id) -> bool {
    // SAFETY: plain FFI call; a null opts pointer is allowed.
    unsafe { sys::libbpf_probe_bpf_helper(prog_type, id, std::ptr::null()) == 1 }
}

fn prog_type(t: sys::bpf_prog_type) -> bool {
    // SAFETY: as above.
    unsafe { sys::libbpf_probe_bpf_prog_type(t, std::ptr::null()) == 1 }
}

fn map_type(t: sys::bpf_map_type) -> bool {
    // SAFETY: as above.
    unsafe { sys::libbpf_probe_bpf_map_type(t, std::ptr::null()) == 1 }
}

fn insn(code: u8, dst: u8, off: i16, imm: i32) -> sys::bpf_insn {
    sys::bpf_insn {
        code,
        _bitfield_align_1: [],
        _bitfield_1: sys::bpf_insn::new_bitfield_1(dst, 0),
        off,
        imm,
    }
}

/// Loads a tracepoint program; returns whether the verifier took it, and its log.
fn try_load(insns: &[sys::bpf_insn]) -> (bool, String) {
    let mut log = vec![0u8; 64 * 1024];
    let opts = &mut sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<sys::bpf_prog_load_opts>() as _,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr().cast(),
        ..Default::default()
    };
    let license = CString::new("GPL").expect("no NUL");
    // SAFETY: insns and the log buffer outlive the call; sz tells libbpf the struct size.
    let fd = unsafe {
        sys::bpf_prog_load(
            sys::BPF_PROG_TYPE_TRACEPOINT,
            std::ptr::null(),
            license.as_ptr(),
            insns.as_ptr(),
            insns.len() as _,
            opts,
        )
    };
    if fd >= 0 {
        // SAFETY: fd was just returned to us.
        unsafe { libc::close(fd) };
    }
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    (fd >= 0, String::from_utf8_lossy(&log[..end]).into_owned())
}

const EXIT: u8 = 0x95;
const MOV64_IMM: u8 = 0xb7;
const ADD64_IMM: u8 = 0x07;
const JLT_IMM: u8 = 0xa5;

/// Bounded loops: `r0 = 0; do r0 += 1 while r0 < 4`.
fn has_loops() -> bool {
    try_load(&[
        insn(MOV64_IMM, 0, 0, 0),
        insn(ADD64_IMM, 0, 0, 1),
        insn(JLT_IMM, 0, -2, 4),
        insn(EXIT, 0, 0, 0),
    ])
    .0
}

/// The verifier's instruction limit, from its log line `processed 2 insns (limit N)`.
fn instruction_limit() -> Option<u64> {
    let (ok, log) = try_load(&[insn(MOV64_IMM, 0, 0, 0), insn(EXIT, 0, 0, 0)]);
    let rest = log.split("(limit ").nth(1).filter(|_| ok)?;
    rest.split(')').next()?.trim().parse().ok()
}

fn kv(out: &mut String, key: &str, value: impl std::fmt::Display) {
    out.push_str(&format!("  {key}: {value}\n"));
}

/// The whole report.
pub fn report() -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let exists = |p: &str| std::path::Path::new(p).exists();
    let tracefs = probes::tracefs::root().is_ok();
    let (tp, kp) = (sys::BPF_PROG_TYPE_TRACEPOINT, sys::BPF_PROG_TYPE_KPROBE);
    let kprobe = prog_type(kp);
    let tracing = prog_type(sys::BPF_PROG_TYPE_TRACING);
    let mut out = String::from("System\n");
    kv(
        &mut out,
        "OS",
        format!(
            "Linux {} {}",
            read("/proc/sys/kernel/osrelease"),
            read("/proc/sys/kernel/version")
        ),
    );
    kv(&mut out, "Arch", std::env::consts::ARCH);

    out.push_str("\nBuild\n");
    kv(
        &mut out,
        "version",
        format!("spyglass v{}", env!("CARGO_PKG_VERSION")),
    );
    kv(&mut out, "LLVM", 19);
    kv(&mut out, "dwarf", "yes");
    kv(&mut out, "blazesym", "no");
    kv(&mut out, "library path resolution", "no");

    // Probed from a tracepoint program unless the helper only exists for kprobes.
    out.push_str("\nKernel helpers\n");
    for (name, t, id) in [
        ("probe_read", tp, sys::BPF_FUNC_probe_read),
        ("probe_read_str", tp, sys::BPF_FUNC_probe_read_str),
        ("probe_read_user", tp, sys::BPF_FUNC_probe_read_user),
        ("probe_read_user_str", tp, sys::BPF_FUNC_probe_read_user_str),
        ("probe_read_kernel", tp, sys::BPF_FUNC_probe_read_kernel),
        (
            "probe_read_kernel_str",
            tp,
            sys::BPF_FUNC_probe_read_kernel_str,
        ),
        (
            "get_current_cgroup_id",
            tp,
            sys::BPF_FUNC_get_current_cgroup_id,
        ),
        ("send_signal", tp, sys::BPF_FUNC_send_signal),
        ("override_return", kp, sys::BPF_FUNC_override_return),
        ("get_boot_ns", tp, sys::BPF_FUNC_ktime_get_boot_ns),
        ("get_tai_ns", tp, sys::BPF_FUNC_ktime_get_tai_ns),
        ("get_func_ip", kp, sys::BPF_FUNC_get_func_ip),
        ("jiffies64", tp, sys::BPF_FUNC_jiffies64),
        ("for_each_map_elem", tp, sys::BPF_FUNC_for_each_map_elem),
        (
            "get_ns_current_pid_tgid",
            tp,
            sys::BPF_FUNC_get_ns_current_pid_tgid,
        ),
        (
            "lookup_percpu_elem",
            tp,
            sys::BPF_FUNC_map_lookup_percpu_elem,
        ),
        ("loop", tp, sys::BPF_FUNC_loop),
    ] {
        kv(&mut out, name, yes(helper(t, id)));
    }
    // Both exist only for fentry-type programs, whose probing program must load: this
    // says no wherever trampolines are refused.
    kv(
        &mut out,
        "dpath",
        yes(tracing && helper(sys::BPF_PROG_TYPE_TRACING, sys::BPF_FUNC_d_path)),
    );
    kv(&mut out, "skboutput", "no");

    out.push_str("\nKernel features\n");
    kv(
        &mut out,
        "Instruction limit",
        instruction_limit().map_or(-1, |n| n as i64),
    );
    kv(&mut out, "Loop support", yes(has_loops()));
    kv(&mut out, "btf", yes(exists("/sys/kernel/btf/vmlinux")));
    let modules = std::fs::read_dir("/sys/kernel/btf").map_or(0, |d| d.count());
    kv(&mut out, "module btf", yes(modules > 1));
    kv(
        &mut out,
        "uprobe refcount",
        yes(exists(
            "/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset",
        )),
    );
    kv(&mut out, "tracefs", yes(tracefs));

    out.push_str("\nMap types\n");
    for (name, t) in [
        ("hash", sys::BPF_MAP_TYPE_HASH),
        ("percpu hash", sys::BPF_MAP_TYPE_PERCPU_HASH),
        ("array", sys::BPF_MAP_TYPE_ARRAY),
        ("percpu array", sys::BPF_MAP_TYPE_PERCPU_ARRAY),
        ("stack_trace", sys::BPF_MAP_TYPE_STACK_TRACE),
        ("perf_event_array", sys::BPF_MAP_TYPE_PERF_EVENT_ARRAY),
        ("ringbuf", sys::BPF_MAP_TYPE_RINGBUF),
    ] {
        kv(&mut out, name, yes(map_type(t)));
    }

    out.push_str("\nProbe types\n");
    for (name, need) in probes::supported_types() {
        let ok = match need {
            // The program type loads without CONFIG_KPROBES; attaching needs the kprobe PMU.
            KernelNeed::Kprobes => kprobe && probes::kprobe::attachable(),
            KernelNeed::Tracepoints => tracefs && prog_type(tp),
            KernelNeed::ProgType(t) => prog_type(t),
            // Iterator targets are BTF functions only a kernel with BPF iterators registers;
            // their programs load only against one, so the generic TRACING probe says no.
            KernelNeed::IterTargets => !probes::iter::targets().is_empty(),
        };
        kv(&mut out, name, yes(ok));
    }
    for (name, ok) in [
        // Multi-attach links are an optimisation spyglass does not use.
        ("kprobe_multi", false),
        ("kprobe_session", false),
        ("uprobe_multi", false),
    ] {
        kv(&mut out, name, yes(ok));
    }
    out
}
