//! `watchpoint:ADDRESS:LENGTH:MODE` (alias `w`): a hardware breakpoint, through perf events,
//! on an address of the traced process (`-p PID` or `-c CMD`) or, without one, of the
//! kernel (on every CPU). LENGTH is 1, 2, 4 or 8
//! bytes; MODE is `r`/`w`/`x` as x86-64 supports them: `w`, `rw` or `x` (x86 cannot trap
//! reads alone). The program runs after the access, on the accessing thread.

use super::perf::{PerfError, Scope};
use super::{AttachContext, ExpandError};
use super::{AttachPoint, Attachment, ProbeType};

pub struct Watchpoint;

/// `HW_BREAKPOINT_R`, `_W`, `_X` (linux/hw_breakpoint.h).
const BP_R: u32 = 1;
const BP_W: u32 = 2;
const BP_X: u32 = 4;

/// Where x86-64's kernel half of the address space starts.
const KERNEL_START: u64 = 0xffff_8000_0000_0000;

impl ProbeType for Watchpoint {
    fn support(&self) -> Option<super::Support> {
        Some(super::Support {
            rank: 11,
            needs: super::KernelNeed::ProgType(libbpf_sys::BPF_PROG_TYPE_PERF_EVENT),
        })
    }

    fn owns(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::Watchpoint { .. })
    }
    fn display(&self, ap: &AttachPoint) -> String {
        let AttachPoint::Watchpoint { addr, len, mode } = ap else {
            unreachable!("not a watchpoint")
        };
        format!("watchpoint:0x{addr:x}:{len}:{mode}")
    }
    fn names(&self) -> &'static [&'static str] {
        &["watchpoint", "w"]
    }
    fn never_nested(&self) -> bool {
        true
    }
    fn regs(&self) -> Option<u32> {
        // bpf_perf_event_data starts with the pt_regs.
        Some(0)
    }

    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        let [addr, len, mode] = parts else {
            return Err("expected `watchpoint:ADDRESS:LENGTH:MODE`".into());
        };
        let addr = super::parse_num(addr)
            .filter(|a| *a != 0)
            .ok_or_else(|| format!("`{addr}` is not a valid watchpoint address"))?;
        let len: u64 = match len.parse() {
            Ok(n @ (1 | 2 | 4 | 8)) => n,
            _ => return Err(format!("watchpoint length must be 1, 2, 4 or 8, not `{len}`").into()),
        };
        bp_type(mode)?;
        Ok(vec![AttachPoint::Watchpoint {
            addr,
            len,
            mode: mode.to_string(),
        }])
    }

    fn section(&self, _: &AttachPoint) -> String {
        "perf_event".into()
    }

    fn user_addresses(&self) -> bool {
        true
    }

    fn attach(
        &self,
        prog: &libbpf_rs::ProgramMut,
        ap: &AttachPoint,
        cx: &AttachContext,
    ) -> Result<Vec<Attachment>, String> {
        let AttachPoint::Watchpoint { addr, len, mode } = ap else {
            unreachable!("not a watchpoint")
        };
        // With a process (`-p`, `-c`): its threads, wherever they run. Without one, the
        // address is the kernel's, watched on every CPU.
        let pid = cx.pid_or_any();
        let places = match pid {
            -1 => Scope::Cpus(super::perf::online_cpus()).places(),
            pid => Scope::Process(pid).places(),
        };
        let mut out: Vec<Attachment> = vec![];
        for place in places {
            let mut attr: libbpf_sys::perf_event_attr = unsafe { std::mem::zeroed() };
            attr.type_ = libbpf_sys::PERF_TYPE_BREAKPOINT;
            attr.size = std::mem::size_of::<libbpf_sys::perf_event_attr>() as u32;
            attr.bp_type = bp_type(mode)?;
            attr.__bindgen_anon_3.bp_addr = *addr;
            attr.__bindgen_anon_4.bp_len = *len;
            attr.__bindgen_anon_1.sample_period = 1;
            match super::perf::open_and_attach(prog, &mut attr, place) {
                Ok(link) => out.extend(link),
                Err(PerfError::Open { err, .. }) => {
                    return Err(format!(
                        "cannot set {}: perf_event_open failed: {err}{}",
                        ap.name(),
                        match err.raw_os_error() {
                            Some(libc::ENOSPC) => " (every debug register is in use)",
                            Some(libc::EPERM) if *addr >= KERNEL_START => {
                                " (this machine does not let breakpoints watch kernel addresses)"
                            }
                            Some(libc::EINVAL) if *addr >= KERNEL_START && mode.contains('x') => {
                                " (a kernel without CONFIG_KPROBES refuses execute breakpoints \
                                 on kernel code)"
                            }
                            Some(libc::EINVAL) => {
                                " (the address or length is not suitably aligned)"
                            }
                            _ => "",
                        }
                    ))
                }
                Err(e) => return Err(format!("attaching {} failed: {e}", ap.name())),
            }
        }
        Ok(out)
    }
}

/// The breakpoint type of a mode; x86-64 supports writes, reads-or-writes and executes.
fn bp_type(mode: &str) -> Result<u32, String> {
    let mut t = 0;
    for c in mode.chars() {
        let bit = match c {
            'r' => BP_R,
            'w' => BP_W,
            'x' => BP_X,
            _ => return Err(format!("invalid watchpoint mode `{mode}`: use r, w and x")),
        };
        if t & bit != 0 {
            return Err(format!("invalid watchpoint mode `{mode}`: `{c}` twice"));
        }
        t |= bit;
    }
    match t {
        BP_W | 3 | BP_X => Ok(t),
        _ => Err(format!(
            "watchpoint mode `{mode}` is not supported on x86-64: use w, rw or x"
        )),
    }
}
