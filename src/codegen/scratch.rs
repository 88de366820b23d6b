//! Per-CPU scratch memory for values too large for the 512-byte BPF stack (strings of
//! `max_strlen` bytes, tuples, records, keys and values under construction): what bpftrace
//! calls its scratch space. `FnGen::stack` puts anything over `on_stack_limit` here.
//!
//! Scratch is an array map indexed by CPU (its size set by the runtime to the possible
//! CPUs), one value per CPU. A program's temporaries are bump-allocated in its region at
//! compile time, with the same lifetimes as stack temporaries: a statement's end frees what
//! it allocated, so the region's size is the deepest point, not the sum. Loop callbacks
//! continue their program's allocation, so they never overlap its live values.
//!
//! Two maps, because of who can interrupt whom on one CPU: programs of the kinds the
//! kernel never nests (`ProbeType::never_nested`) share one region (sized by the largest);
//! every other program (`begin`, raw tracepoints, iterators…) has its own.

use std::cell::Cell;

use inkwell::values::PointerValue;

use super::func::{helper, FnGen};

/// The allocation state of one program and its callbacks.
pub struct Scratch {
    /// Which map: 0 shared, 1 own regions.
    pub map: usize,
    /// Where this program's region starts in the map's value.
    pub base: u64,
    /// Next free byte of the region.
    top: Cell<u64>,
    /// Bytes the region needs.
    pub high: Cell<u64>,
}

impl Scratch {
    pub fn new(map: usize, base: u64) -> Self {
        Scratch {
            map,
            base,
            top: Cell::new(0),
            high: Cell::new(0),
        }
    }

    /// Where the temporaries of a statement starting now begin.
    pub fn mark(&self) -> u64 {
        self.top.get()
    }

    /// Frees what was allocated since `mark`.
    pub fn release(&self, mark: u64) {
        self.top.set(mark);
    }

    fn alloc(&self, size: u64) -> u64 {
        let at = self.top.get();
        self.top.set(at + size);
        self.high.set(self.high.get().max(at + size));
        at
    }
}

impl<'a, 'ctx> FnGen<'a, 'ctx> {
    /// `size` bytes of scratch (a multiple of 8), zeroed, live to the end of the statement.
    pub(super) fn scratch(&self, size: u64) -> PointerValue<'ctx> {
        let off = self.scratch.alloc(size);
        let p = self.gep(self.scratch_base(), off);
        self.zero(p, size as usize);
        p
    }

    /// This program's region on this CPU, looked up once per function on its first use.
    /// A failed lookup (never, for an index below the CPU count) ends the program.
    pub(super) fn scratch_base(&self) -> PointerValue<'ctx> {
        if let Some(p) = self.scratch_ptr.get() {
            return p;
        }
        let base = self.at_setup(|g| {
            let key = g.entry_slot(4, "cpu");
            let cpu = g.helper_int(helper::GET_SMP_PROCESSOR_ID, &[]);
            let cpu32 =
                g.b.build_int_truncate(cpu, g.ctx.i32_type(), "cpu")
                    .unwrap();
            g.b.build_store(key, cpu32).unwrap();
            let map = g
                .globals
                .scratch_map(g.ctx, g.module, g.scratch.map)
                .as_pointer_value();
            let value = g.lookup_in(map, key);
            let null = g.b.build_is_null(value, "noscratch").unwrap();
            g.return_if(null, "scratch_none", "scratch_ok");
            g.gep(value, g.scratch.base)
        });
        self.scratch_ptr.set(Some(base));
        base
    }

    /// Whether a buffer of `size` bytes goes to scratch.
    pub(super) fn in_scratch(&self, size: u64) -> bool {
        size > self.ck.options.on_stack_limit as u64
    }
}
