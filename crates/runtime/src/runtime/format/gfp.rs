//! printf `%gr`: GFP allocation flags by name, as bpftrace prints them. The bit values are
//! the kernel's (`include/linux/gfp_types.h`, x86-64 without KASAN HW tags or lockdep,
//! whose extra bits are then 0); combinations are tried first, most bits first, then
//! single flags, then whatever is left in hex.

const DMA: u64 = 1 << 0;
const HIGHMEM: u64 = 1 << 1;
const DMA32: u64 = 1 << 2;
const MOVABLE: u64 = 1 << 3;
const RECLAIMABLE: u64 = 1 << 4;
const HIGH: u64 = 1 << 5;
const IO: u64 = 1 << 6;
const FS: u64 = 1 << 7;
const ZERO: u64 = 1 << 8;
const DIRECT_RECLAIM: u64 = 1 << 10;
const KSWAPD_RECLAIM: u64 = 1 << 11;
const WRITE: u64 = 1 << 12;
const NOWARN: u64 = 1 << 13;
const RETRY_MAYFAIL: u64 = 1 << 14;
const NOFAIL: u64 = 1 << 15;
const NORETRY: u64 = 1 << 16;
const MEMALLOC: u64 = 1 << 17;
const COMP: u64 = 1 << 18;
const NOMEMALLOC: u64 = 1 << 19;
const HARDWALL: u64 = 1 << 20;
const THISNODE: u64 = 1 << 21;
const ACCOUNT: u64 = 1 << 22;

const RECLAIM: u64 = DIRECT_RECLAIM | KSWAPD_RECLAIM;
const KERNEL: u64 = RECLAIM | IO | FS;
const USER: u64 = KERNEL | HARDWALL;
const HIGHUSER: u64 = USER | HIGHMEM;
const HIGHUSER_MOVABLE: u64 = HIGHUSER | MOVABLE;
const TRANSHUGE_LIGHT: u64 = (HIGHUSER_MOVABLE | COMP | NOMEMALLOC | NOWARN) & !RECLAIM;

/// bpftrace's order for the combinations.
const COMPOUND: &[(u64, &str)] = &[
    (TRANSHUGE_LIGHT | DIRECT_RECLAIM, "GFP_TRANSHUGE"),
    (TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT"),
    (HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"),
    (HIGHUSER, "GFP_HIGHUSER"),
    (KERNEL | ACCOUNT, "GFP_KERNEL_ACCOUNT"),
    (KERNEL, "GFP_KERNEL"),
    (USER, "GFP_USER"),
    (HIGH | KSWAPD_RECLAIM, "GFP_ATOMIC"),
    (KSWAPD_RECLAIM | NOWARN, "GFP_NOWAIT"),
    (RECLAIM, "GFP_NOIO"),
    (RECLAIM | IO, "GFP_NOFS"),
    (DMA32, "GFP_DMA32"),
    (DMA, "GFP_DMA"),
];

/// Single bits, lowest first.
const SINGLE: &[(u64, &str)] = &[
    (DMA, "__GFP_DMA"),
    (HIGHMEM, "__GFP_HIGHMEM"),
    (DMA32, "__GFP_DMA32"),
    (MOVABLE, "__GFP_MOVABLE"),
    (RECLAIMABLE, "__GFP_RECLAIMABLE"),
    (HIGH, "__GFP_HIGH"),
    (IO, "__GFP_IO"),
    (FS, "__GFP_FS"),
    (ZERO, "__GFP_ZERO"),
    (DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"),
    (KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"),
    (WRITE, "__GFP_WRITE"),
    (NOWARN, "__GFP_NOWARN"),
    (RETRY_MAYFAIL, "__GFP_RETRY_MAYFAIL"),
    (NOFAIL, "__GFP_NOFAIL"),
    (NORETRY, "__GFP_NORETRY"),
    (MEMALLOC, "__GFP_MEMALLOC"),
    (COMP, "__GFP_COMP"),
    (NOMEMALLOC, "__GFP_NOMEMALLOC"),
    (HARDWALL, "__GFP_HARDWALL"),
    (THISNODE, "__GFP_THISNODE"),
    (ACCOUNT, "__GFP_ACCOUNT"),
];

pub fn gfp_text(flags: u64) -> String {
    if flags == 0 {
        return "0".into();
    }
    let mut left = flags;
    let mut parts: Vec<String> = vec![];
    for (mask, name) in COMPOUND.iter().chain(SINGLE) {
        if left & mask == *mask && left & mask != 0 {
            parts.push((*name).into());
            left &= !mask;
        }
    }
    if left != 0 {
        parts.push(format!("{left:#x}"));
    }
    parts.join("|")
}

#[cfg(test)]
mod tests {
    use super::gfp_text;

    #[test]
    fn names() {
        assert_eq!(gfp_text(0), "0");
        assert_eq!(gfp_text(0x1), "GFP_DMA");
        assert_eq!(gfp_text(0xcc0), "GFP_KERNEL");
        assert_eq!(gfp_text(0x400cc0), "GFP_KERNEL_ACCOUNT");
        assert_eq!(gfp_text(0x820), "GFP_ATOMIC");
        assert_eq!(gfp_text(0xcc0 | 0x100), "GFP_KERNEL|__GFP_ZERO");
        assert_eq!(gfp_text(0x8000_0000), "0x80000000");
        assert_eq!(gfp_text(0x40), "__GFP_IO");
    }
}
