//! `fentry:bpf[:ID]:NAME` / `fexit:bpf…`: trampolines on BPF programs already running.
//! The kernel lists loaded programs by id; each program with BTF names its functions
//! (the program itself and its sub-programs) in its `func_info`, which is what these
//! probes attach to and what `-l 'fentry:bpf:*'` shows.

use std::ffi::CStr;
use std::os::fd::{FromRawFd, OwnedFd};

use libbpf_sys as sys;

/// One attachable function of a running program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BpfFunc {
    pub prog_id: u32,
    pub name: String,
}

/// Every function of every loaded program that has BTF, by program id.
pub fn running() -> Vec<BpfFunc> {
    let mut out = vec![];
    let mut id = 0u32;
    loop {
        let mut next = 0u32;
        // SAFETY: plain syscall wrapper writing one u32.
        if unsafe { sys::bpf_prog_get_next_id(id, &mut next) } != 0 {
            break;
        }
        id = next;
        out.extend(funcs_of(id));
    }
    out
}

/// A program's functions, in `func_info` order (the entry function first).
fn funcs_of(id: u32) -> Vec<BpfFunc> {
    // SAFETY: returns a new fd we own, or a negative error.
    let fd = unsafe { sys::bpf_prog_get_fd_by_id(id) };
    if fd < 0 {
        return vec![];
    }
    // SAFETY: fd is fresh and owned here; closed on drop.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let mut info = sys::bpf_prog_info::default();
    let mut len = std::mem::size_of::<sys::bpf_prog_info>() as u32;
    // SAFETY: info is a bpf_prog_info of `len` bytes.
    if unsafe { sys::bpf_prog_get_info_by_fd(raw, &mut info, &mut len) } != 0 || info.btf_id == 0 {
        return vec![];
    }
    let n = info.nr_func_info as usize;
    let rec = info.func_info_rec_size.max(8) as usize;
    let mut recs = vec![0u8; n * rec];
    let mut again = sys::bpf_prog_info {
        nr_func_info: n as u32,
        func_info_rec_size: rec as u32,
        func_info: recs.as_mut_ptr() as u64,
        ..Default::default()
    };
    let mut len = std::mem::size_of::<sys::bpf_prog_info>() as u32;
    // SAFETY: func_info points at n records of rec bytes.
    if n == 0 || unsafe { sys::bpf_prog_get_info_by_fd(raw, &mut again, &mut len) } != 0 {
        return vec![];
    }
    // SAFETY: loads the program's BTF by id; NULL or an encoded error on failure.
    let btf = unsafe { sys::btf__load_from_kernel_by_id(info.btf_id) };
    if btf.is_null() || (btf as isize) < 0 && (btf as isize) > -4096 {
        return vec![];
    }
    let names = recs
        .chunks_exact(rec)
        .filter_map(|r| {
            // struct bpf_func_info { u32 insn_off; u32 type_id; }
            let type_id = u32::from_le_bytes(r[4..8].try_into().ok()?);
            // SAFETY: ids from this program's func_info index its BTF.
            let t = unsafe { sys::btf__type_by_id(btf, type_id).as_ref() }?;
            // SAFETY: as above; the name is a NUL-terminated string in the BTF.
            let p = unsafe { sys::btf__name_by_offset(btf, t.name_off) };
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        })
        .map(|name| BpfFunc { prog_id: id, name })
        .collect();
    // SAFETY: loaded above, used no more.
    unsafe { sys::btf__free(btf) };
    names
}

/// An fd for the program with this id, to attach a trampoline to it.
pub fn prog_fd(id: u32) -> Result<OwnedFd, String> {
    // SAFETY: returns a new fd we own, or a negative error.
    let fd = unsafe { sys::bpf_prog_get_fd_by_id(id) };
    if fd < 0 {
        return Err(format!("BPF program {id} is no longer loaded"));
    }
    // SAFETY: fresh fd, owned from here.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
