//! BTF-defined map globals and `.rodata` variables.
//!
//! libbpf reads a map's definition from the BTF of its global: a struct whose members are
//! `type` and `max_entries` encoded as *pointer to int[N]*, and `key`/`value` as *pointer to
//! T*. LLVM's BPF backend writes that BTF from the debug info built here.

use inkwell::context::Context;
use inkwell::debug_info::{
    AsDIScope, DICompileUnit, DIFile, DIFlags, DIFlagsConstants, DIType, DWARFEmissionKind,
    DWARFSourceLanguage, DebugInfoBuilder,
};
use inkwell::module::{Linkage, Module};
use inkwell::values::{FunctionValue, GlobalValue};
use inkwell::AddressSpace;

use crate::program::{rodata, MapId, MapSpec, Storage};
use crate::sema::{Checked, Resource};

const BPF_MAP_TYPE_HASH: u64 = 1;
const BPF_MAP_TYPE_ARRAY: u64 = 2;
const BPF_MAP_TYPE_PERCPU_HASH: u64 = 5;
const BPF_MAP_TYPE_PERCPU_ARRAY: u64 = 6;
const BPF_MAP_TYPE_STACK_TRACE: u64 = 7;
const BPF_MAP_TYPE_LRU_HASH: u64 = 9;
const BPF_MAP_TYPE_LRU_PERCPU_HASH: u64 = 10;
const BPF_MAP_TYPE_RINGBUF: u64 = 27;
const BPF_MAP_TYPE_PERF_EVENT_ARRAY: u64 = 4;
/// `map_flags` bit: allocate hash entries on insert.
const BPF_F_NO_PREALLOC: u64 = 1;
/// `map_flags` bit: user space may map an array's values.
const BPF_F_MMAPABLE: u64 = 1 << 10;
/// The doorbell ring's size: the smallest the kernel takes. Its records are only wake-ups;
/// when it is full the reader is awake already, or its timer comes soon.
const DOORBELL_BYTES: u64 = 4096;
/// Every this many bytes of ring, a record wakes the reader (see `record.rs`); half the
/// ring if that is less, so a full ring has woken it. A power of two.
const WAKEUP_BACKLOG: u64 = 1 << 17;

/// Which module is being built: the whole program, or one piece of a program compiled in
/// several modules (`codegen::parts`) and joined by libbpf's linker.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Part {
    Whole,
    Piece(usize),
}

/// What the pieces of one program must agree on before they describe their shared maps
/// (the linker wants every copy of a map's definition identical).
#[derive(Clone, Default, Debug)]
pub struct Shared {
    pub interrupt_maps: std::collections::HashSet<MapId>,
    /// Bytes the shared scratch map's value needs.
    pub scratch_shared: u64,
}

impl Shared {
    pub fn merge(&mut self, other: &Shared) {
        self.interrupt_maps
            .extend(other.interrupt_maps.iter().copied());
        self.scratch_shared = self.scratch_shared.max(other.scratch_shared);
    }
}

pub struct Globals<'ctx> {
    pub(super) debug: Debug<'ctx>,
    part: Part,
    /// The `@maps`, declared up front for a whole program and on first use in a piece (a
    /// piece carries only the definitions its programs use).
    maps: Vec<std::cell::Cell<Option<GlobalValue<'ctx>>>>,
    /// Maps a program running in interrupt context uses (see `preallocate`); filled in as
    /// programs are generated, read when the maps are described.
    pub interrupt_maps: std::cell::RefCell<std::collections::HashSet<MapId>>,
    /// The doorbell: a kernel ring buffer written only to wake the reader.
    pub doorbell: GlobalValue<'ctx>,
    /// The records' ring (`program::RecordRing`) and its size in bytes.
    pub records: GlobalValue<'ctx>,
    pub ring_bytes: u64,
    /// `WAKEUP_BACKLOG` for this ring's size.
    pub wakeup_mark: u64,
    /// The stack-trace map, when `kstack`/`ustack` are used.
    pub stacks: Option<GlobalValue<'ctx>>,
    /// `skboutput`'s perf event array (libbpf sizes it to the CPU count).
    pub skb: Option<GlobalValue<'ctx>>,
    /// `program::rodata`: run-time constants.
    pub rodata: GlobalValue<'ctx>,
    /// `program::LOST_EVENTS`, declared with the first event: scripts that send nothing
    /// through the ring buffer do not pay for its map.
    lost: std::cell::Cell<Option<GlobalValue<'ctx>>>,
    /// `program::STOP`, declared with the first attached program.
    stop: std::cell::Cell<Option<GlobalValue<'ctx>>>,
    /// The scratch maps (shared, own regions; see `scratch.rs`), declared on first use, and
    /// the value size each needs so far.
    scratch: [std::cell::Cell<Option<GlobalValue<'ctx>>>; 2],
    scratch_size: [std::cell::Cell<u64>; 2],
    /// Typed kernel variables (`percpu_kaddr`), declared on first use.
    ksyms: std::cell::RefCell<std::collections::HashMap<String, GlobalValue<'ctx>>>,
    /// Kernel types as CO-RE relocations describe them (`core.rs`), built on first use.
    pub(super) core_types:
        std::cell::RefCell<std::collections::HashMap<String, super::core::CoreType<'ctx>>>,
    /// This module's flavor for kernel type names (`core.rs`), taken on first use.
    pub(super) core_flavor: std::cell::OnceCell<u32>,
    /// The next `llvm.bpf.preserve.type.info` call's number in this module.
    pub(super) core_seq: std::cell::Cell<u32>,
    /// `clones::SLOT` and `SLOT64`, declared on first use in a piece.
    slot: [std::cell::Cell<Option<inkwell::values::FunctionValue<'ctx>>>; 2],
}

/// The debug-info builder the map BTF comes from.
pub(super) struct Debug<'ctx> {
    pub(super) di: DebugInfoBuilder<'ctx>,
    pub(super) cu: DICompileUnit<'ctx>,
    pub(super) file: DIFile<'ctx>,
    /// Of the definitions every piece of a split program carries: weak, so the linker
    /// keeps one copy.
    shared: Linkage,
}

impl<'ctx> Globals<'ctx> {
    pub fn declare(ctx: &'ctx Context, module: &Module<'ctx>, ck: &Checked, part: Part) -> Self {
        let ring_bytes = ck.ring_pages() as u64 * 4096;
        let (di, cu) = module.create_debug_info_builder(
            true,
            DWARFSourceLanguage::C,
            "script.bt",
            ".",
            "spyglass",
            true,
            "",
            0,
            "",
            DWARFEmissionKind::LineTablesOnly,
            0,
            false,
            false,
            "",
            "",
        );
        let debug = Debug {
            di,
            file: cu.get_file(),
            cu,
            shared: match part {
                Part::Whole => Linkage::External,
                Part::Piece(_) => Linkage::WeakAny,
            },
        };
        Globals {
            maps: ck
                .maps
                .iter()
                .map(|m| {
                    let eager = part == Part::Whole;
                    std::cell::Cell::new(
                        eager.then(|| debug.map_global(ctx, module, &m.elf_name, map_fields(m))),
                    )
                })
                .collect(),
            part,
            interrupt_maps: Default::default(),
            doorbell: debug.map_def(
                ctx,
                module,
                super::DOORBELL,
                BPF_MAP_TYPE_RINGBUF,
                DOORBELL_BYTES,
                None,
            ),
            records: debug.records(ctx, module, ring_bytes, &ck.events),
            ring_bytes,
            wakeup_mark: WAKEUP_BACKLOG.min(ring_bytes / 2),
            rodata: debug.rodata(ctx, module, ck.param_spec.size() as u64 / 8),
            stacks: ck.resources.contains(&Resource::StackMap).then(|| {
                let value = 8 * crate::program::MAX_STACK_DEPTH as u64;
                debug.map_def(
                    ctx,
                    module,
                    super::STACKS,
                    BPF_MAP_TYPE_STACK_TRACE,
                    ck.options.max_map_keys as u64,
                    Some((4, value)),
                )
            }),
            skb: ck.resources.contains(&Resource::SkbOutput).then(|| {
                debug.map_def(
                    ctx,
                    module,
                    crate::program::SKB_MAP,
                    BPF_MAP_TYPE_PERF_EVENT_ARRAY,
                    0,
                    Some((4, 4)),
                )
            }),
            debug,
            lost: Default::default(),
            stop: Default::default(),
            scratch: Default::default(),
            scratch_size: Default::default(),
            ksyms: Default::default(),
            core_types: Default::default(),
            core_flavor: Default::default(),
            core_seq: Default::default(),
            slot: Default::default(),
        }
    }

    /// Marker `name` (`slots.rs`) in a piece; none in a whole program.
    pub fn slot_marker(
        &self,
        ctx: &'ctx Context,
        module: &Module<'ctx>,
        name: &str,
    ) -> Option<inkwell::values::FunctionValue<'ctx>> {
        if self.part == Part::Whole {
            return None;
        }
        let slot = &self.slot[(name != super::clones::SLOT) as usize];
        if slot.get().is_none() {
            let i64t = ctx.i64_type();
            let f = module.add_function(name, i64t.fn_type(&[i64t.into()], false), None);
            slot.set(Some(f));
        }
        slot.get()
    }

    /// An `extern` kernel variable in `.ksyms` (what C's `__ksym` declares): libbpf finds it
    /// in the kernel's BTF by name and the verifier then knows it as that typed variable,
    /// which `bpf_per_cpu_ptr` needs. libbpf compares only the kinds of the two types, so
    /// the debug type is the variable's width as an integer, or a struct of its size.
    pub fn ksym(
        &self,
        ctx: &'ctx Context,
        module: &Module<'ctx>,
        name: &str,
        ty: &crate::sema::Type,
    ) -> GlobalValue<'ctx> {
        if let Some(g) = self.ksyms.borrow().get(name) {
            return *g;
        }
        let g = module.add_global(ctx.i8_type(), None, name);
        g.set_section(Some(".ksyms"));
        g.set_linkage(Linkage::External);
        let d = &self.debug;
        let di_ty = match ty {
            crate::sema::Type::Struct(r) => {
                d.di.create_struct_type(
                    d.cu.as_debug_info_scope(),
                    r.name
                        .trim_start_matches("struct ")
                        .trim_start_matches("union "),
                    d.file,
                    0,
                    8 * r.size,
                    8 * r.align.max(1) as u32,
                    DIFlags::ZERO,
                    None,
                    &[],
                    0,
                    None,
                    "",
                )
                .as_type()
            }
            t => {
                let (size, _) = t.c_layout();
                let (name, enc) = if t.is_signed() {
                    ("long", 0x05)
                } else {
                    ("unsigned long", 0x07)
                };
                d.di.create_basic_type(name, 8 * size.clamp(1, 8), enc, DIFlags::ZERO)
                    .unwrap()
                    .as_type()
            }
        };
        d.attach_debug(ctx, g, name, di_ty);
        self.ksyms.borrow_mut().insert(name.to_string(), g);
        g
    }

    /// The global of `@map` number `id`.
    pub fn map(
        &self,
        ctx: &'ctx Context,
        module: &Module<'ctx>,
        ck: &Checked,
        id: MapId,
    ) -> GlobalValue<'ctx> {
        if let Some(g) = self.maps[id].get() {
            return g;
        }
        let m = &ck.maps[id];
        let g = self
            .debug
            .map_global(ctx, module, &m.elf_name, map_fields(m));
        self.maps[id].set(Some(g));
        g
    }

    /// What this module's programs need from the maps all pieces share.
    pub fn usage(&self) -> Shared {
        Shared {
            interrupt_maps: self.interrupt_maps.borrow().clone(),
            scratch_shared: self.scratch_size[0].get(),
        }
    }

    /// The count of records the ring buffer had no room for: a `.bss` u64 the runtime reads
    /// (libbpf makes the section a one-element array map).
    pub fn lost_events(&self, ctx: &'ctx Context, module: &Module<'ctx>) -> GlobalValue<'ctx> {
        self.word(ctx, module, &self.lost, crate::program::LOST_EVENTS, ".bss")
    }

    /// `program::STOP`, the flag attached programs check first.
    pub fn stop_flag(&self, ctx: &'ctx Context, module: &Module<'ctx>) -> GlobalValue<'ctx> {
        let section = crate::program::STOP_SECTION;
        self.word(ctx, module, &self.stop, crate::program::STOP, section)
    }

    /// A zeroed u64 global `name` in `section`, declared on first use into `slot`.
    fn word(
        &self,
        ctx: &'ctx Context,
        module: &Module<'ctx>,
        slot: &std::cell::Cell<Option<GlobalValue<'ctx>>>,
        name: &str,
        section: &str,
    ) -> GlobalValue<'ctx> {
        if let Some(g) = slot.get() {
            return g;
        }
        let ty = ctx.i64_type();
        let g = module.add_global(ty, None, name);
        g.set_initializer(&ty.const_zero());
        g.set_section(Some(section));
        g.set_linkage(self.debug.shared);
        g.set_alignment(8);
        let d = &self.debug;
        let u64t =
            d.di.create_basic_type("unsigned long long", 64, 0x07, DIFlags::ZERO)
                .unwrap();
        d.attach_debug(ctx, g, name, u64t.as_type());
        slot.set(Some(g));
        g
    }

    /// The scratch region of a program about to be generated at `point`.
    pub fn scratch_region(&self, point: &crate::sema::PointInfo) -> super::scratch::Scratch {
        match crate::probes::of(&point.attach).never_nested() {
            true => super::scratch::Scratch::new(0, 0),
            false => super::scratch::Scratch::new(1, self.scratch_size[1].get()),
        }
    }

    /// Records what a generated program's region needs.
    pub fn scratch_used(&self, s: &super::scratch::Scratch) {
        let size = &self.scratch_size[s.map];
        size.set(size.get().max(s.base + s.high.get()));
    }

    /// Scratch map `which` (0 shared, 1 own regions), described when the programs are done.
    pub fn scratch_map(
        &self,
        ctx: &'ctx Context,
        module: &Module<'ctx>,
        which: usize,
    ) -> GlobalValue<'ctx> {
        if let Some(g) = self.scratch[which].get() {
            return g;
        }
        let g = self
            .debug
            .map_global(ctx, module, &self.scratch_name(which), 4);
        self.scratch[which].set(Some(g));
        g
    }

    /// A piece's own-regions scratch map is its own: its programs' regions are laid out
    /// without knowing the other pieces'.
    fn scratch_name(&self, which: usize) -> String {
        match (which, self.part) {
            (1, Part::Piece(p)) if p > 0 => format!("{}{p}", crate::program::SCRATCH_MAPS[1]),
            _ => crate::program::SCRATCH_MAPS[which].to_string(),
        }
    }

    /// Describes the maps (now that every program of every piece is generated: `shared`
    /// is what all of them need) and completes the BTF.
    pub fn finish(&mut self, ctx: &'ctx Context, ck: &Checked, shared: &Shared) {
        for (id, (m, g)) in ck.maps.iter().zip(&self.maps).enumerate() {
            if let Some(g) = g.get() {
                self.debug
                    .map(ctx, g, m, !shared.interrupt_maps.contains(&id));
            }
        }
        // One entry per CPU: the runtime sets the count before load.
        for (which, g) in self.scratch.iter().enumerate() {
            if let Some(g) = g.get() {
                let size = match which {
                    0 => shared.scratch_shared,
                    _ => self.scratch_size[which].get(),
                };
                let name = self.scratch_name(which);
                let kv = Some((4, size.max(8)));
                self.debug
                    .describe_map(ctx, g, &name, BPF_MAP_TYPE_ARRAY, 1, kv, None);
            }
        }
        self.debug.di.finalize();
    }

    /// Gives a function debug info, so its BTF FUNC record exists: the kernel wants those for
    /// every function once a program has subprograms (loop callbacks). Every parameter must
    /// be named, or the kernel rejects the BTF.
    /// `local` functions (callbacks) must be static in BTF, or the verifier refuses them.
    pub fn describe_function(
        &self,
        func: FunctionValue<'ctx>,
        name: &str,
        params: &[&str],
        local: bool,
    ) {
        let d = &self.debug;
        let long =
            d.di.create_basic_type("long", 64, 0x05, DIFlags::ZERO)
                .unwrap()
                .as_type();
        let byte =
            d.di.create_basic_type("char", 8, 0x06, DIFlags::ZERO)
                .unwrap()
                .as_type();
        let ptr =
            d.di.create_pointer_type("", byte, 64, 64, AddressSpace::default())
                .as_type();
        let param_types = vec![ptr; params.len()];
        let sig =
            d.di.create_subroutine_type(d.file, Some(long), &param_types, DIFlags::ZERO);
        let scope = d.file.as_debug_info_scope();
        let sp = d.di.create_function(
            scope,
            name,
            None,
            d.file,
            1,
            sig,
            local,
            true,
            1,
            DIFlags::PROTOTYPED,
            true,
        );
        for (i, p) in params.iter().enumerate() {
            d.di.create_parameter_variable(
                sp.as_debug_info_scope(),
                p,
                i as u32 + 1,
                d.file,
                1,
                ptr,
                true,
                DIFlags::ZERO,
            );
        }
        func.set_subprogram(sp);
    }
}

/// Whether a map's entries are allocated on insert (`BPF_F_NO_PREALLOC`) rather than when
/// the map is created. Preallocating 4096 per-CPU values was the largest single cost of
/// start-up, so hash maps allocate on insert when they can. They cannot when a program in
/// interrupt context uses them: the allocator's per-CPU cache is refilled only once
/// interrupts are enabled, so a burst of new keys in one run would fail. LRU maps must be
/// preallocated; arrays always are; `tseries()` inserts a run of slots at once.
fn preallocate(m: &MapSpec, process_context_only: bool) -> bool {
    !matches!(m.storage(), Storage::Hash | Storage::PerCpuHash)
        || matches!(m.kind, crate::program::MapKind::Tseries { .. })
        || !process_context_only
}

/// Pointer-sized members of a map's definition: type and max_entries, key and value, and
/// `map_flags` for hash maps.
fn map_fields(m: &MapSpec) -> usize {
    4 + matches!(m.storage(), Storage::Hash | Storage::PerCpuHash) as usize
}

impl<'ctx> Debug<'ctx> {
    fn map(
        &self,
        ctx: &'ctx Context,
        g: GlobalValue<'ctx>,
        m: &MapSpec,
        process_context_only: bool,
    ) {
        let ty = match m.storage() {
            Storage::Hash => BPF_MAP_TYPE_HASH,
            Storage::PerCpuHash => BPF_MAP_TYPE_PERCPU_HASH,
            Storage::PerCpuArray => BPF_MAP_TYPE_PERCPU_ARRAY,
            Storage::LruHash => BPF_MAP_TYPE_LRU_HASH,
            Storage::LruPerCpuHash => BPF_MAP_TYPE_LRU_PERCPU_HASH,
        };
        let flags = (map_fields(m) == 5).then(|| {
            if preallocate(m, process_context_only) {
                0
            } else {
                BPF_F_NO_PREALLOC
            }
        });
        let kv = (m.key_size() as u64, m.value_size() as u64);
        self.describe_map(ctx, g, &m.elf_name, ty, m.entries() as u64, Some(kv), flags);
    }

    fn map_def(
        &self,
        ctx: &'ctx Context,
        module: &Module<'ctx>,
        name: &str,
        map_type: u64,
        max_entries: u64,
        key_value: Option<(u64, u64)>,
    ) -> GlobalValue<'ctx> {
        let g = self.map_global(ctx, module, name, 2 + 2 * key_value.is_some() as usize);
        self.describe_map(ctx, g, name, map_type, max_entries, key_value, None);
        g
    }

    /// The records' ring: an array of one value that user space maps.
    fn records(
        &self,
        ctx: &'ctx Context,
        module: &Module<'ctx>,
        ring_bytes: u64,
        events: &[crate::program::EventSpec],
    ) -> GlobalValue<'ctx> {
        let name = super::RECORDS;
        let g = self.map_global(ctx, module, name, 5);
        let value = crate::program::RecordRing::value_size(ring_bytes, events);
        let kv = Some((4, value));
        self.describe_map(
            ctx,
            g,
            name,
            BPF_MAP_TYPE_ARRAY,
            1,
            kv,
            Some(BPF_F_MMAPABLE),
        );
        g
    }

    /// A `.maps` variable of `n_fields` pointers, to be described with `describe_map`.
    fn map_global(
        &self,
        ctx: &'ctx Context,
        module: &Module<'ctx>,
        name: &str,
        n_fields: usize,
    ) -> GlobalValue<'ctx> {
        let ptr = ctx.ptr_type(AddressSpace::default());
        let st = ctx.struct_type(&vec![ptr.into(); n_fields], false);
        let g = module.add_global(st, None, name);
        g.set_initializer(&st.const_zero());
        g.set_section(Some(".maps"));
        g.set_linkage(self.shared);
        g.set_alignment(8);
        g
    }

    /// The BTF of a map definition, as libbpf reads `__uint`/`__type` members.
    #[allow(clippy::too_many_arguments)]
    fn describe_map(
        &self,
        ctx: &'ctx Context,
        g: GlobalValue<'ctx>,
        name: &str,
        map_type: u64,
        max_entries: u64,
        key_value: Option<(u64, u64)>,
        map_flags: Option<u64>,
    ) {
        let n_fields = 2 + 2 * key_value.is_some() as usize + map_flags.is_some() as usize;
        let mut members = vec![
            self.member("type", self.int_array_ptr(map_type), 0),
            self.member("max_entries", self.int_array_ptr(max_entries), 64),
        ];
        if let Some((k, v)) = key_value {
            // The kernel refuses an array's BTF unless its key is a 32-bit integer, and
            // libbpf then creates the map a second time, without BTF.
            let key = match map_type {
                BPF_MAP_TYPE_ARRAY | BPF_MAP_TYPE_PERCPU_ARRAY => self.u32_ptr(),
                _ => self.bytes_ptr(k),
            };
            members.push(self.member("key", key, 128));
            members.push(self.member("value", self.bytes_ptr(v), 192));
        }
        if let Some(flags) = map_flags {
            let offset = 64 * members.len() as u64;
            members.push(self.member("map_flags", self.int_array_ptr(flags), offset));
        }
        let scope = self.cu.as_debug_info_scope();
        let di_struct = self.di.create_struct_type(
            scope,
            "",
            self.file,
            0,
            64 * n_fields as u64,
            64,
            DIFlags::ZERO,
            None,
            &members,
            0,
            None,
            "",
        );
        self.attach_debug(ctx, g, name, di_struct.as_type());
    }

    /// The `.rodata` array the runtime fills in before load. Not an LLVM constant, so its
    /// values are never folded at compile time.
    /// An artifact's parameter slots follow the constants (`extra` words).
    fn rodata(&self, ctx: &'ctx Context, module: &Module<'ctx>, extra: u64) -> GlobalValue<'ctx> {
        let n = (rodata::LEN as u64 + extra) as u32;
        let ty = ctx.i64_type().array_type(n);
        let g = module.add_global(ty, None, rodata::SYMBOL);
        g.set_initializer(&ty.const_zero());
        g.set_section(Some(".rodata"));
        g.set_linkage(self.shared);
        g.set_alignment(8);
        let u64t = self
            .di
            .create_basic_type("unsigned long long", 64, 0x07, DIFlags::ZERO)
            .unwrap();
        let arr = self
            .di
            .create_array_type(u64t.as_type(), 64 * n as u64, 64, &[0..n as i64]);
        self.attach_debug(ctx, g, rodata::SYMBOL, arr.as_type());
        g
    }

    fn attach_debug(&self, ctx: &'ctx Context, g: GlobalValue<'ctx>, name: &str, ty: DIType<'ctx>) {
        let scope = self.cu.as_debug_info_scope();
        let expr = self.di.create_global_variable_expression(
            scope, name, name, self.file, 0, ty, false, None, None, 64,
        );
        g.set_metadata(expr.as_metadata_value(ctx), ctx.get_kind_id("dbg"));
    }

    fn member(&self, name: &str, ty: DIType<'ctx>, offset: u64) -> DIType<'ctx> {
        let scope = self.cu.as_debug_info_scope();
        self.di
            .create_member_type(scope, name, self.file, 0, 64, 64, offset, DIFlags::ZERO, ty)
            .as_type()
    }

    /// `int (*)[n]`: how `__uint(name, n)` is spelled in BTF.
    fn int_array_ptr(&self, n: u64) -> DIType<'ctx> {
        let int = self
            .di
            .create_basic_type("int", 32, 0x05, DIFlags::ZERO)
            .unwrap();
        let arr = self
            .di
            .create_array_type(int.as_type(), 32 * n, 32, &[0..n as i64]);
        self.di
            .create_pointer_type("", arr.as_type(), 64, 64, AddressSpace::default())
            .as_type()
    }

    /// `unsigned int *`: an array's index.
    fn u32_ptr(&self) -> DIType<'ctx> {
        let int = self
            .di
            .create_basic_type("unsigned int", 32, 0x07, DIFlags::ZERO)
            .unwrap();
        self.di
            .create_pointer_type("", int.as_type(), 64, 64, AddressSpace::default())
            .as_type()
    }

    /// Pointer to an opaque `unsigned char[n]` key or value.
    fn bytes_ptr(&self, n: u64) -> DIType<'ctx> {
        let byte = self
            .di
            .create_basic_type("unsigned char", 8, 0x08, DIFlags::ZERO)
            .unwrap();
        let arr = self
            .di
            .create_array_type(byte.as_type(), 8 * n, 8, &[0..n as i64]);
        self.di
            .create_pointer_type("", arr.as_type(), 64, 64, AddressSpace::default())
            .as_type()
    }
}

impl<'ctx> super::FnGen<'_, 'ctx> {
    /// The address of the kernel variable `name` (see `Globals::ksym`).
    pub fn ksym_ptr(
        &self,
        name: &str,
        ty: &crate::sema::Type,
    ) -> inkwell::values::PointerValue<'ctx> {
        self.globals
            .ksym(self.ctx, self.module, name, ty)
            .as_pointer_value()
    }
}
