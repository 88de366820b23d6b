//! The compiled program: the only thing the compiler hands to the runtime.
//!
//! It is plain data (serde-serialisable) so that a program compiled on one host can later be
//! run by a runtime-only build without LLVM on another. Nothing here may refer to inkwell,
//! the AST or sema types.

use serde::{Deserialize, Serialize};

use crate::probes::AttachPoint;

/// Everything needed to load, attach and print a compiled script.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompiledProgram {
    /// The BPF ELF object (BTF-defined maps, one program per probe block).
    pub elf: Vec<u8>,
    /// Probe blocks in source order.
    pub probes: Vec<ProbeProgram>,
    /// `@maps` in declaration order; `MapId` indexes this.
    pub maps: Vec<MapSpec>,
    /// Asynchronous actions (printf, print, exit, …) sent through the ring buffer;
    /// the first 8 bytes of every ring-buffer record are an index into this.
    pub events: Vec<EventSpec>,
    /// Name of the kernel ring-buffer map in the ELF: where the records are in formats 1
    /// and 2; from format 3 on, only the doorbell that wakes the reader (`records`).
    pub ringbuf: String,
    /// Where the records are written (format 3 on; see `RecordRing`).
    #[serde(default)]
    pub records: Option<RecordRing>,
    /// The stack-trace map, when the script uses `kstack`/`ustack`.
    #[serde(default)]
    pub stack_map: Option<String>,
    /// The perf event array `skboutput` writes packets to, when the script calls it.
    #[serde(default)]
    pub skb_map: Option<String>,
    /// `config = { print_maps_on_exit = 0 }` turns off the exit-time map dump.
    #[serde(default = "yes")]
    pub print_maps_on_exit: bool,
    /// Config keys the runtime acts on.
    #[serde(default)]
    pub output: OutputConfig,
    /// The kernel it was compiled against (for artifacts run elsewhere).
    #[serde(default)]
    pub built_on: Option<KernelId>,
    /// For artifacts: the layout of the `args` of each probe as the build machine had it
    /// (a tracepoint's record by `category:name`, a raw tracepoint's, kernel function's or
    /// iterator's parameters by probe name → field, offset, size), checked against this
    /// kernel's before loading (see `artifact::check_layouts`).
    #[serde(default)]
    pub tracepoint_layouts: std::collections::BTreeMap<String, Vec<(String, u32, u32)>>,
    /// For artifacts: kernel types used with the build kernel's layout rather than through
    /// CO-RE relocations (`struct X.bitfield`, `sizeof`, copies), which may differ elsewhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed_layouts: Vec<String>,
    /// For artifacts: the identity of each binary a uprobe or USDT probe attaches to, as
    /// built (`artifact::binary_identity`), checked where it matters before attaching.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub binaries: std::collections::BTreeMap<String, String>,
    /// For artifacts: the parameters read when it runs, and those fixed when it was built.
    #[serde(default, skip_serializing_if = "crate::params::ParamSpec::is_empty")]
    pub params: crate::params::ParamSpec,
}

/// Which kernel a program's layouts (struct offsets, tracepoint formats) come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelId {
    /// `uname -r`.
    pub release: String,
    /// CRC-32 of the kernel's BTF (`/sys/kernel/btf/vmlinux`, or `BPFTRACE_BTF`'s file):
    /// equal layouts, equal CRC.
    pub btf_crc: u32,
}

impl CompiledProgram {
    /// Whether printing its events or maps names kernel addresses (from /proc/kallsyms).
    pub fn names_kernel_addresses(&self) -> bool {
        let map = |m: &MapSpec| {
            m.key.iter().any(FieldType::names_kernel_addresses)
                || matches!(&m.kind, MapKind::Value(f) if f.names_kernel_addresses())
        };
        self.maps.iter().any(map)
            || self
                .events
                .iter()
                .any(|e| e.payload().iter().any(FieldType::names_kernel_addresses))
    }
}

/// `str_trunc_trailer` and `max_cat_bytes`: how output is written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutputConfig {
    pub str_trunc_trailer: String,
    pub max_cat_bytes: u64,
    /// `perf_rb_pages`, when the script or the environment sets it: also the pages per
    /// CPU of `skboutput`'s perf buffer, as in bpftrace (libbpf's 64 otherwise).
    #[serde(default)]
    pub perf_rb_pages: Option<u32>,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            str_trunc_trailer: "..".into(),
            max_cat_bytes: 10240,
            perf_rb_pages: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// How stacks print (bpftrace's `stack_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StackMode {
    /// `func+off`, one frame a line.
    Bpftrace,
    /// `\tADDR func+off (module)` like perf.
    Perf,
    /// Bare addresses.
    Raw,
    /// User stacks only: `BUILDID 0xOFFSET` per frame (the ELF file's build id and the
    /// file offset), the bare address where the file is unknown.
    BuildId,
}

/// The ring the probes write their records to: the one value of an mmapable array map,
/// shared with the reader. A record is reserved by moving the head forward (a
/// compare-and-swap), written in place, and published by writing its header last (an
/// exchange); the reader zeroes what it has read before giving the space back, so a zero
/// header is a record not yet written. The kernel's ring buffer does the same work under a
/// lock, with the interrupts saved, through two helper calls: that was half of what a
/// `printf` cost.
///
/// The value: the head (the next free position, in bytes written since the start) at
/// `HEAD`, the reader's position at `CONSUMED` (on their own cache lines), and from `DATA`
/// the ring, `size` bytes, followed by room for the largest record so that a record that
/// passes the ring's end is written (and read) in one piece. Each record is an 8-byte
/// header (the length of what follows it, never 0), the 8-byte event id and the payload,
/// padded to 8 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRing {
    /// The array map's name in the ELF.
    pub map: String,
    /// The ring's bytes, a power of two.
    pub size: u64,
}

impl RecordRing {
    pub const HEAD: u64 = 0;
    pub const CONSUMED: u64 = 256;
    pub const DATA: u64 = 4096;
    pub const HEADER: u64 = 8;

    /// The record of `len` bytes after its header, as it lies in the ring.
    pub fn footprint(len: u64) -> u64 {
        (Self::HEADER + len).next_multiple_of(8)
    }

    /// The bytes of the map's value for a ring of `size` bytes whose events are `events`.
    pub fn value_size(size: u64, events: &[EventSpec]) -> u64 {
        let largest = events
            .iter()
            .map(|e| 8 + record_size(&e.payload()) as u64)
            .max()
            .unwrap_or(8);
        Self::DATA + size + Self::footprint(largest)
    }
}

/// Symbol of the `.bss` counter of ring-buffer records dropped because the ring was full
/// (present only when the script sends events).
pub const LOST_EVENTS: &str = "spyglass_lost_events";

/// Set by the runtime when tracing stops (Ctrl-C, `exit()`): every attached program checks
/// it first and does nothing once it is set, so probes fall silent at once while their
/// detaching (a grace period per tracepoint) goes on in the background. Its own section, so
/// its own array map, written whole.
pub const STOP: &str = "spyglass_stop";
pub const STOP_SECTION: &str = ".data.stop";

/// The per-CPU scratch maps (`codegen::scratch`): arrays with one entry per possible CPU,
/// a count the runtime sets before load.
/// A program compiled in pieces has one own-regions map per piece (`scratch_own1`, …).
pub const SCRATCH_MAPS: [&str; 2] = ["scratch", "scratch_own"];

pub fn is_scratch_map(name: &str) -> bool {
    name == SCRATCH_MAPS[0]
        || name
            .strip_prefix(SCRATCH_MAPS[1])
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
}

/// Depth of the stack-trace map's entries (the kernel's default perf_event_max_stack).
pub const MAX_STACK_DEPTH: u32 = 127;

/// The program reads run-time constants from one `.rodata` array of u64, which the runtime
/// fills in before loading; these are its slots.
pub mod rodata {
    /// Boot-clock ns at startup, for `elapsed`.
    pub const START_NS: usize = 0;
    /// PID of the `-c` child, for `cpid`.
    pub const CPID: usize = 1;
    /// Number of possible CPUs, for `ncpus`.
    pub const NCPUS: usize = 2;
    /// Device and inode of spyglass's PID namespace, for `pid`/`tid`; 0 in the initial one.
    pub const PIDNS_DEV: usize = 3;
    pub const PIDNS_INO: usize = 4;
    /// `-p PID`: every probe but begin/end only runs for this process (0: no filter).
    pub const FILTER_PID: usize = 5;
    /// TAI minus the boot clock at startup, for `nsecs(sw_tai)`.
    pub const TAI_OFFSET: usize = 6;
    pub const LEN: usize = 7;
    /// Symbol of the array.
    pub const SYMBOL: &str = "spyglass_rodata";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeProgram {
    /// Function (and program) name in the ELF.
    pub prog_name: String,
    /// Every attach point this block expands to (wildcards already expanded).
    pub attach: Vec<AttachPoint>,
    /// Byte span of the probe's attach-point list in the source, for diagnostics.
    pub span: (usize, usize),
    /// The block reads `args`, typed from what the probe describes (for uprobes, the
    /// binary's DWARF: locations that hold for that build of the binary only).
    #[serde(default)]
    pub reads_args: bool,
}

pub type MapId = usize;

/// Storage type of one key field or plain value, as laid out in BPF memory.
/// Integers and bools always occupy 8 bytes in keys, values and events, whatever their
/// source width; tuples are their elements one after another.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldType {
    Int {
        signed: bool,
    },
    Bool,
    /// NUL-padded string of this many bytes.
    Str {
        size: u32,
    },
    Tuple(Vec<FieldType>),
    /// A tuple whose elements have names: `(a = 1, b = "x")`.
    Record(Vec<String>, Vec<FieldType>),
    /// `buf(p, n)`: a length word, then `size` bytes of data (NUL-padded to 8).
    Buf {
        size: u32,
    },
    /// An address (8 bytes), printed in hex. `to` names the pointee as sema describes it
    /// (`int32`, `void`, `int8 *`); `user` when it points into user memory.
    Ptr {
        to: String,
        user: bool,
    },
    /// A value a stdlib function hands the runtime to show (`ntop`, `ksym`, `strftime`,
    /// `kstack`): laid out, decoded and resolved by its kind (`kinds`).
    Kind(crate::kinds::ValueKind),
    /// An enum value (8 bytes): printed as its enumerator's name, or its number when it
    /// has none.
    Enum(EnumDef),
    /// A C array: `len` elements of `elem_size` bytes each, packed as C lays them out
    /// (integers at their declared width), NUL-padded to 8. Elements are scalars.
    Array {
        elem: Box<FieldType>,
        elem_size: u32,
        len: u32,
    },
}

/// A C enum: its name and enumerators, carried with the values so user space can name them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EnumDef {
    /// `enum Foo`; anonymous enums get a made-up name.
    pub name: String,
    /// Declared width; values are zero-extended from it.
    pub bits: u8,
    /// Enumerators in declaration order, values truncated to `bits`.
    pub variants: Vec<(u64, String)>,
}

impl EnumDef {
    pub fn new(name: String, bits: u8, variants: &[(String, i64)]) -> EnumDef {
        let mask = Self::mask_of(bits);
        EnumDef {
            name,
            bits,
            variants: variants
                .iter()
                .map(|(n, v)| (*v as u64 & mask, n.clone()))
                .collect(),
        }
    }

    fn mask_of(bits: u8) -> u64 {
        match bits {
            64.. => u64::MAX,
            b => (1u64 << b) - 1,
        }
    }

    /// The enumerator named by `v`, the first declared when several share it.
    pub fn name_of(&self, v: u64) -> Option<&str> {
        let v = v & Self::mask_of(self.bits);
        self.variants
            .iter()
            .find(|(x, _)| *x == v)
            .map(|(_, n)| n.as_str())
    }
}

impl FieldType {
    /// Whether showing this value names kernel addresses (`kstack`, `ksym`).
    pub fn names_kernel_addresses(&self) -> bool {
        match self {
            FieldType::Kind(k) => k.kind().names_kernel_addresses(),
            FieldType::Tuple(fs) | FieldType::Record(_, fs) => {
                fs.iter().any(FieldType::names_kernel_addresses)
            }
            FieldType::Array { elem, .. } => elem.names_kernel_addresses(),
            _ => false,
        }
    }

    pub fn size(&self) -> usize {
        match self {
            FieldType::Int { .. } | FieldType::Bool | FieldType::Ptr { .. } => 8,
            FieldType::Str { size } => (*size as usize + 7) & !7,
            FieldType::Tuple(elems) | FieldType::Record(_, elems) => record_size(elems),
            FieldType::Kind(k) => k.kind().size(),
            FieldType::Buf { size } => 8 + ((*size as usize + 7) & !7),
            FieldType::Enum(_) => 8,
            FieldType::Array { elem_size, len, .. } => {
                ((*elem_size as usize * *len as usize) + 7) & !7
            }
        }
    }

    /// Byte offset of each element of a tuple (or of a record of fields).
    pub fn offsets(fields: &[FieldType]) -> Vec<usize> {
        let mut off = 0;
        fields
            .iter()
            .map(|f| {
                let o = off;
                off += f.size();
                o
            })
            .collect()
    }
}

/// Byte size of a packed record of fields (keys and event payloads).
pub fn record_size(fields: &[FieldType]) -> usize {
    fields.iter().map(|f| f.size()).sum()
}

/// What a map holds and how its per-CPU values merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MapKind {
    /// Plain assigned value (`@x = expr`): a shared (not per-CPU) map.
    Value(FieldType),
    Count,
    Sum {
        signed: bool,
    },
    Avg {
        signed: bool,
    },
    Min {
        signed: bool,
    },
    Max {
        signed: bool,
    },
    Stats {
        signed: bool,
    },
    /// log2 histogram with 2^k sub-buckets; the bucket index is an extra trailing u64 key field.
    Hist {
        k: u32,
    },
    /// linear histogram; the bucket index is an extra trailing u64 key field.
    Lhist {
        min: i64,
        max: i64,
        step: i64,
    },
    /// `tseries(v, interval, num[, agg])`: a ring of `num` slots per key, the slot
    /// (`epoch % num`, epoch = ns / interval) an extra trailing u64 key field; each slot
    /// holds (value, meta, epoch), meta being the timestamp, count or "is set" word.
    Tseries {
        interval: u64,
        num: u64,
        agg: TsAgg,
        signed: bool,
    },
}

/// How a tseries slot combines values written in the same interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TsAgg {
    /// No aggregation argument: the last value written wins.
    Last,
    Avg,
    Max,
    Min,
    Sum,
}

impl MapKind {
    pub fn is_histogram(&self) -> bool {
        matches!(self, MapKind::Hist { .. } | MapKind::Lhist { .. })
    }
    /// Buckets of a histogram: its bucket indices are `0..bucket_count()`.
    pub fn bucket_count(&self) -> u64 {
        match *self {
            // Highest log2 bucket is that of i64::MAX: p = 62.
            MapKind::Hist { k } => (1 << k) * (64 - k as u64) + 1,
            MapKind::Lhist { min, max, step } => ((max - min) / step + 2) as u64,
            _ => 0,
        }
    }
    /// Whether the BPF key ends in an extra u64 (histogram bucket, tseries slot).
    pub fn bucketed(&self) -> bool {
        self.is_histogram() || matches!(self, MapKind::Tseries { .. })
    }
    pub fn per_cpu(&self) -> bool {
        !matches!(self, MapKind::Value(_))
    }
    /// Bytes of one (per-CPU) value slot.
    pub fn value_size(&self) -> usize {
        match self {
            MapKind::Value(f) => f.size().max(8),
            // (value, is_set) / (count, total)
            MapKind::Min { .. }
            | MapKind::Max { .. }
            | MapKind::Avg { .. }
            | MapKind::Stats { .. } => 16,
            MapKind::Tseries { .. } => 24,
            _ => 8,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MapSpec {
    /// As written in the script: `@` or `@name`.
    pub name: String,
    /// Map name inside the ELF.
    pub elf_name: String,
    /// Key fields; empty for a scalar map. Does not include a histogram's bucket field.
    pub key: Vec<FieldType>,
    pub kind: MapKind,
    pub max_entries: u32,
    /// Declared with `let @m = lruhash(N)` / `percpulruhash(N)`: evicts instead of failing.
    #[serde(default)]
    pub lru: bool,
    /// The script `delete`s, `clear`s or `zero`es it: its values can go down (a gauge,
    /// not a counter, for `--metrics`).
    #[serde(default)]
    pub reset: bool,
    /// A histogram that also keeps the sum of its values, in the bucket index just past
    /// its last bucket (`bucket_count()`): `--metrics` asks for it (Prometheus `_sum`);
    /// it costs a second update per value, so plain runs go without.
    #[serde(default)]
    pub hist_sum: bool,
}

/// How a map is stored in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Hash,
    LruHash,
    LruPerCpuHash,
    PerCpuHash,
    /// Per-CPU array for maps without keys: one slot, or one per histogram bucket (indexed
    /// by the bucket). The hot path of `@ = count()` and `@ = hist(x)`: the lookup is inlined
    /// by the verifier and never misses. Values carry an "is set" word at offset 8 so a
    /// never-written map still prints nothing.
    PerCpuArray,
}

impl MapSpec {
    pub fn storage(&self) -> Storage {
        if self.lru {
            return if self.kind.per_cpu() {
                Storage::LruPerCpuHash
            } else {
                Storage::LruHash
            };
        }
        match self.kind {
            MapKind::Value(_) => Storage::Hash,
            MapKind::Count
            | MapKind::Sum { .. }
            | MapKind::Min { .. }
            | MapKind::Max { .. }
            | MapKind::Hist { .. }
            | MapKind::Lhist { .. }
                if self.key.is_empty() =>
            {
                Storage::PerCpuArray
            }
            _ => Storage::PerCpuHash,
        }
    }

    /// Bytes of the BPF key, including the trailing bucket field of histograms.
    pub fn key_size(&self) -> usize {
        if self.storage() == Storage::PerCpuArray {
            return 4;
        }
        let k = record_size(&self.key) + if self.kind.bucketed() { 8 } else { 0 };
        k.max(8)
    }

    /// Entries the BPF map needs.
    pub fn entries(&self) -> u32 {
        match (self.storage(), &self.kind) {
            (Storage::PerCpuArray, MapKind::Hist { .. } | MapKind::Lhist { .. }) => {
                (self.kind.bucket_count() + u64::from(self.hist_sum)) as u32
            }
            (Storage::PerCpuArray, _) => 1,
            // Every slot of the ring is its own entry; a keyed map shares its key budget
            // with the slots rather than multiplying them (memory is per CPU).
            (_, MapKind::Tseries { num, .. }) if self.key.is_empty() => *num as u32,
            (_, MapKind::Tseries { num, .. }) => self.max_entries.max(*num as u32),
            _ => self.max_entries,
        }
    }

    /// Bytes of one (per-CPU) value slot.
    pub fn value_size(&self) -> usize {
        match self.storage() {
            Storage::PerCpuArray => 16,
            _ => self.kind.value_size(),
        }
    }
}

/// An asynchronous action, formatted in user space.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum EventSpec {
    Printf {
        fmt: String,
        args: Vec<FieldType>,
    },
    /// `print(value)` of a non-map value.
    Print {
        value: FieldType,
    },
    /// `print(@map[, top[, div]])`.
    PrintMap {
        map: MapId,
        top: u64,
        div: u64,
    },
    Clear {
        map: MapId,
    },
    Zero {
        map: MapId,
    },
    /// Payload: one Int, the exit code.
    Exit,
    /// `unwatch(addr)`: payload one Int, the address whose watchpoints go.
    Unwatch,
    Time {
        fmt: String,
    },
    /// `cat(fmt, args…)`: prints the contents of the file the format names.
    Cat {
        fmt: String,
        args: Vec<FieldType>,
    },
    /// `errorf`/`warnf`: a printf-formatted message with the call's place in the script.
    Log {
        error: bool,
        fmt: String,
        args: Vec<FieldType>,
        site: Option<SourceSite>,
    },
    /// `system(fmt, args…)` (needs `--unsafe`): runs the command, prints what it writes.
    System {
        fmt: String,
        args: Vec<FieldType>,
    },
    /// `skboutput(path, skb, len, offset)`: packets go through `SKB_MAP` (a perf event
    /// array, as the helper requires), each after a `SKB_META_SIZE`-byte header: this
    /// event's id, the offset, the time (ns since boot) and the length, as u64s.
    SkbOutput {
        path: String,
    },
    /// `join(argv[, sep])`: payload is the element count, then `JOIN_MAX_ARGS` string
    /// slots of `JOIN_ARG_SIZE` bytes (only the first `count` are written).
    Join {
        sep: String,
    },
}

/// The perf event array `skboutput` writes to.
pub const SKB_MAP: &str = "skb_events";
pub const SKB_META_SIZE: usize = 32;

/// `join()` reads at most this many elements…
pub const JOIN_MAX_ARGS: usize = 16;
/// …each up to this many bytes with its NUL. Generous (the record is written in the ring
/// buffer, not on the stack): command lines are what `join` prints.
pub const JOIN_ARG_SIZE: u32 = 1024;

/// A place in the script, as bpftrace's runtime messages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceSite {
    pub filename: String,
    /// 1-based; `end_line` differs from `line` for a span over several lines.
    pub line: u64,
    pub end_line: u64,
    /// 1-based columns; `end_col` is one past the last character.
    pub col: u64,
    pub end_col: u64,
    /// The text of `line`.
    pub source_line: String,
}

impl EventSpec {
    /// Payload fields following the 8-byte event id.
    pub fn payload(&self) -> Vec<FieldType> {
        match self {
            EventSpec::Printf { args, .. } => args.clone(),
            EventSpec::Cat { args, .. }
            | EventSpec::Log { args, .. }
            | EventSpec::System { args, .. } => args.clone(),
            EventSpec::Print { value } => vec![value.clone()],
            EventSpec::Exit => vec![FieldType::Int { signed: true }],
            EventSpec::Unwatch => vec![FieldType::Int { signed: false }],
            EventSpec::Join { .. } => std::iter::once(FieldType::Int { signed: false })
                .chain(std::iter::repeat_n(
                    FieldType::Str {
                        size: JOIN_ARG_SIZE,
                    },
                    JOIN_MAX_ARGS,
                ))
                .collect(),
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After the ring there is room for the largest record with its header, so one that
    /// passes the ring's end is written whole; without events, room for a warning's id.
    #[test]
    fn the_records_value_holds_the_ring_and_its_largest_record() {
        let printf = EventSpec::Printf {
            fmt: "%d %s\n".into(),
            args: vec![FieldType::Int { signed: true }, FieldType::Str { size: 13 }],
        };
        let size = 1 << 20;
        // header 8 + id 8 + int 8 + string 16
        assert_eq!(RecordRing::value_size(size, &[printf]), 4096 + size + 40);
        assert_eq!(RecordRing::value_size(size, &[]), 4096 + size + 16);
        let join = EventSpec::Join { sep: " ".into() };
        let joined = 8 + 8 + 8 + JOIN_MAX_ARGS as u64 * JOIN_ARG_SIZE as u64;
        assert_eq!(
            RecordRing::value_size(size, &[join, EventSpec::Exit]),
            4096 + size + joined
        );
        assert_eq!(RecordRing::footprint(9), 24);
    }
}
