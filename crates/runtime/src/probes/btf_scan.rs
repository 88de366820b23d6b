//! The kernel's raw BTF, mapped (sysfs hands the file out 4 KiB per read(2): 1,300 calls,
//! ≈ 4.6 ms), and a struct member's offset read straight from it.
//!
//! `comm`, `pid` and `tid` compile to reads at `task_struct` offsets, remembered per boot
//! (`user_cache::kernel_fact`); the first run after boot has to find them. libbpf parses
//! and checks all of vmlinux's ≈ 150,000 types before its first lookup (≈ 4.3 ms on this
//! kind of machine); this walks the raw type records, only as far as the struct and the
//! types of its unnamed members. Anything unexpected gives `None`, and the caller asks
//! libbpf.

use std::sync::OnceLock;

use libbpf_sys::{
    BTF_KIND_ARRAY, BTF_KIND_CONST, BTF_KIND_DATASEC, BTF_KIND_DECL_TAG, BTF_KIND_ENUM,
    BTF_KIND_ENUM64, BTF_KIND_FUNC_PROTO, BTF_KIND_INT, BTF_KIND_MAX, BTF_KIND_RESTRICT,
    BTF_KIND_STRUCT, BTF_KIND_TYPEDEF, BTF_KIND_TYPE_TAG, BTF_KIND_UNION, BTF_KIND_VAR,
    BTF_KIND_VOLATILE, BTF_MAGIC,
};

const PATH: &str = "/sys/kernel/btf/vmlinux";

/// The byte offset of `member` in `struct name` of the running kernel, looking into
/// unnamed struct and union members as C does.
pub fn member_offset(name: &str, member: &str) -> Option<u32> {
    let btf = vmlinux()?;
    let mut types = Types::new(btf)?;
    let id = types.find_struct(name)?;
    types.member(id, 0, member)
}

/// The running kernel's raw BTF, mapped once for the process.
pub fn vmlinux() -> Option<&'static [u8]> {
    static MAP: OnceLock<Option<&'static [u8]>> = OnceLock::new();
    MAP.get_or_init(|| {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(PATH).ok()?;
        let len = file.metadata().ok()?.len() as usize;
        // SAFETY: a read-only private mapping of the whole file, never unmapped; the
        // kernel's BTF does not change while it runs.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        (p != libc::MAP_FAILED && len > 0)
            .then(|| unsafe { std::slice::from_raw_parts(p as *const u8, len) })
    })
    .as_deref()
}

/// The type records, indexed by id as far as walked.
struct Types<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    /// Start of each type walked so far (id 0 is `void`, no record).
    starts: Vec<usize>,
    next: usize,
}

fn kind(info: u32) -> u32 {
    (info >> 24) & 0x1f
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl<'a> Types<'a> {
    fn new(btf: &'a [u8]) -> Option<Types<'a>> {
        if u16::from_le_bytes(btf.get(0..2)?.try_into().ok()?) != BTF_MAGIC as u16 {
            return None;
        }
        let hdr = u32_at(btf, 4)? as usize;
        let section = |off: usize, len: usize| {
            let (off, len) = (hdr + u32_at(btf, off)? as usize, u32_at(btf, len)? as usize);
            btf.get(off..off.checked_add(len)?)
        };
        Some(Types {
            types: section(8, 12)?,
            strings: section(16, 20)?,
            starts: vec![0],
            next: 0,
        })
    }

    fn name(&self, off: u32) -> Option<&'a [u8]> {
        let rest = self.strings.get(off as usize..)?;
        Some(&rest[..rest.iter().position(|&b| b == 0)?])
    }

    /// Walks one more record; false at the end (or at a record it cannot size).
    fn step(&mut self) -> bool {
        let at = self.next;
        let Some(info) = u32_at(self.types, at + 4) else {
            return false;
        };
        let (kind, vlen) = (kind(info), (info & 0xffff) as usize);
        let extra = match kind {
            BTF_KIND_INT | BTF_KIND_VAR | BTF_KIND_DECL_TAG => 4,
            BTF_KIND_ARRAY => 12,
            BTF_KIND_STRUCT | BTF_KIND_UNION | BTF_KIND_DATASEC | BTF_KIND_ENUM64 => 12 * vlen,
            BTF_KIND_ENUM | BTF_KIND_FUNC_PROTO => 8 * vlen,
            k if k > BTF_KIND_MAX || k == 0 => return false,
            _ => 0,
        };
        self.starts.push(at);
        self.next = at + 12 + extra;
        self.next <= self.types.len()
    }

    /// The record of type `id` (walking up to it): (name_off, info, its start).
    fn get(&mut self, id: u32) -> Option<(u32, u32, usize)> {
        while self.starts.len() <= id as usize {
            if !self.step() {
                return None;
            }
        }
        let at = *self.starts.get(id as usize).filter(|_| id > 0)?;
        Some((u32_at(self.types, at)?, u32_at(self.types, at + 4)?, at))
    }

    fn find_struct(&mut self, name: &str) -> Option<u32> {
        let mut id = 1;
        loop {
            let (name_off, info, _) = self.get(id)?;
            if kind(info) == BTF_KIND_STRUCT && self.name(name_off)? == name.as_bytes() {
                return Some(id);
            }
            id += 1;
        }
    }

    /// `member`'s offset in struct or union `id`, which sits at byte `base`.
    fn member(&mut self, id: u32, base: u32, member: &str) -> Option<u32> {
        let (_, info, at) = self.get(id)?;
        let kind = kind(info);
        if kind != BTF_KIND_STRUCT && kind != BTF_KIND_UNION {
            return None;
        }
        let kflag = info >> 31 == 1;
        for i in 0..(info & 0xffff) as usize {
            let m = at + 12 + 12 * i;
            let (name_off, ty, offset) = (
                u32_at(self.types, m)?,
                u32_at(self.types, m + 4)?,
                u32_at(self.types, m + 8)?,
            );
            let bits = if kflag { offset & 0xff_ffff } else { offset };
            let here = base + bits / 8;
            let name = self.name(name_off)?;
            if name.is_empty() {
                let inner = self.skip_modifiers(ty)?;
                if let Some(found) = self.member(inner, here, member) {
                    return Some(found);
                }
            } else if name == member.as_bytes() {
                return Some(here);
            }
        }
        None
    }

    fn skip_modifiers(&mut self, mut id: u32) -> Option<u32> {
        loop {
            let (_, info, at) = self.get(id)?;
            match kind(info) {
                BTF_KIND_TYPEDEF | BTF_KIND_VOLATILE | BTF_KIND_CONST | BTF_KIND_RESTRICT
                | BTF_KIND_TYPE_TAG => id = u32_at(self.types, at + 8)?,
                _ => return Some(id),
            }
        }
    }
}
