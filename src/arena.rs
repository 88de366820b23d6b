//! Room in the calling thread's malloc arena, made in one step and backed by huge pages.
//!
//! Every thread but the first allocates from an arena of its own (see `main`), and glibc
//! grows such an arena a page at a time, one mprotect(2) per page: a one-liner's first
//! compile made 120 of those calls (≈ 1 ms on this kind of VM) and the 400-probe compile
//! 2,900. Allocating one large block and freeing it moves the arena's mapped bound in one
//! call, and glibc never moves it back (trimming only discards the pages). The pages are
//! then touched one by one, a fault each (2.7 µs here; a compile touches hundreds), so the
//! room past the next 2 MiB boundary is marked for transparent huge pages (one fault,
//! ≈ 70 µs, per 2 MiB) and a placeholder fills the arena up to that boundary, so the
//! compile's allocations land there. Untouched pages cost address space, not memory.

const ROOM: usize = 16 << 20;
const HUGE: usize = 2 << 20;

/// The placeholder below the huge pages; freed (for later threads to reuse) on drop.
pub struct Room(usize);

/// Makes room in the calling thread's arena; keep the result while the thread compiles.
pub fn make_room() -> Room {
    // SAFETY: plain libc allocator calls; the block is freed unused, the placeholder kept
    // unused until `Room` is dropped, and madvise only advises.
    unsafe {
        // Blocks this large are otherwise mapped on their own. glibc's ceiling for the
        // threshold (32 MiB here) is where its dynamic threshold ends up anyway once a
        // large block has been freed.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        // black_box: the optimiser would otherwise drop the unused pair.
        let block = std::hint::black_box(libc::malloc(ROOM)) as usize;
        if block == 0 {
            return Room(0);
        }
        libc::free(block as *mut libc::c_void);
        // The freed block is the arena's free top again: the next allocation starts where
        // it did. Filling up to the boundary moves that start onto it.
        let start = (block + HUGE - 1) & !(HUGE - 1);
        let placeholder = libc::malloc(start - block - 32) as usize;
        let end = (block + ROOM) & !(HUGE - 1);
        if end > start {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
        Room(placeholder)
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        // SAFETY: allocated by malloc in `make_room` and not freed since (0 is a no-op).
        unsafe { libc::free(self.0 as *mut libc::c_void) };
    }
}
