//! Reading BPF maps back into [`MapEntry`]s (merging per-CPU values), clearing and zeroing.

use std::collections::BTreeMap;

use libbpf_rs::{MapCore, MapFlags, MapHandle};

use super::format::tseries;
use super::format::value::{decode_field, AggValue, MapEntry, Value};
use crate::program::{FieldType, MapKind, MapSpec, Storage};

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

/// Splits a BPF key into its fields (and a histogram's trailing bucket index).
fn decode_key(spec: &MapSpec, raw: &[u8]) -> (Vec<Value>, Option<u64>) {
    if spec.storage() == Storage::PerCpuArray {
        let index = u32::from_ne_bytes(raw[..4].try_into().expect("4-byte array key"));
        return (vec![], spec.kind.bucketed().then_some(index as u64));
    }
    let mut off = 0;
    let mut key = vec![];
    for f in &spec.key {
        key.push(decode_field(f, &raw[off..off + f.size()]));
        off += f.size();
    }
    let bucket = spec.kind.bucketed().then(|| u64_at(raw, off));
    (key, bucket)
}

/// Merges the per-CPU slots of one entry.
fn merge(kind: &MapKind, cpus: &[&[u8]]) -> AggValue {
    let sum = |off: usize| {
        cpus.iter()
            .fold(0u64, |a, c| a.wrapping_add(u64_at(c, off)))
    };
    match *kind {
        MapKind::Value(ref f) => AggValue::Plain(decode_field(f, &cpus[0])),
        MapKind::Count => AggValue::Count(sum(0)),
        MapKind::Sum { signed: true } => AggValue::Sum(Value::Int(sum(0) as i64)),
        MapKind::Sum { signed: false } => AggValue::Sum(Value::UInt(sum(0))),
        MapKind::Avg { .. } => AggValue::Avg {
            count: sum(0),
            total: sum(8) as i64,
        },
        MapKind::Stats { .. } => AggValue::Stats {
            count: sum(0),
            total: sum(8) as i64,
        },
        MapKind::Min { signed } | MapKind::Max { signed } => {
            let is_max = matches!(kind, MapKind::Max { .. });
            let best = cpus
                .iter()
                .filter(|c| u64_at(c, 8) != 0)
                .map(|c| u64_at(c, 0))
                .reduce(|a, b| {
                    let b_wins = match (signed, is_max) {
                        (true, true) => (b as i64) > (a as i64),
                        (true, false) => (b as i64) < (a as i64),
                        (false, true) => b > a,
                        (false, false) => b < a,
                    };
                    if b_wins {
                        b
                    } else {
                        a
                    }
                })
                .unwrap_or(0);
            let v = if signed {
                Value::Int(best as i64)
            } else {
                Value::UInt(best)
            };
            if is_max {
                AggValue::Max(v)
            } else {
                AggValue::Min(v)
            }
        }
        MapKind::Hist { .. } | MapKind::Lhist { .. } => AggValue::Count(sum(0)),
        MapKind::Tseries { agg, signed, .. } => {
            let (epoch, v) = tseries::reduce_slot(agg, signed, cpus);
            AggValue::Tseries([(epoch, v)].into())
        }
    }
}

/// Elements as the kernel hands them over: keys back to back, and each element's value
/// on every CPU (one for maps that are not per-CPU), `stride` bytes apart. Kept flat: a
/// map of 100,000 keys read at exit would otherwise cost three allocations a key.
struct Raw {
    keys: Vec<u8>,
    vals: Vec<u8>,
    /// Key size, value size and the distance between two CPUs' values.
    ks: usize,
    vs: usize,
    stride: usize,
    ncpus: usize,
}

impl Raw {
    fn new(map: &MapHandle, per_cpu: bool) -> Option<Raw> {
        let (ks, vs) = (map.key_size() as usize, map.value_size() as usize);
        let ncpus = match per_cpu {
            true => libbpf_rs::num_possible_cpus().ok()?,
            false => 1,
        };
        Some(Raw {
            keys: vec![],
            vals: vec![],
            ks: ks.max(1),
            vs,
            // Per-CPU values come 8-byte aligned, one per possible CPU.
            stride: if per_cpu { vs.next_multiple_of(8) } else { vs },
            ncpus,
        })
    }

    fn len(&self) -> usize {
        self.keys.len() / self.ks
    }

    fn key(&self, i: usize) -> &[u8] {
        &self.keys[i * self.ks..(i + 1) * self.ks]
    }

    /// Element `i`'s value on each CPU, into `out`.
    fn cpus<'a>(&'a self, i: usize, out: &mut Vec<&'a [u8]>) {
        out.clear();
        let all = &self.vals[i * self.stride * self.ncpus..(i + 1) * self.stride * self.ncpus];
        out.extend(all.chunks(self.stride).map(|c| &c[..self.vs]));
    }
}

/// Elements read at a time by `BPF_MAP_LOOKUP_BATCH`.
const BATCH: usize = 4096;

/// Every element of a map, a batch of elements per system call; `None` when the kernel
/// does not batch this map.
fn read_batched(map: &MapHandle, per_cpu: bool) -> Option<Raw> {
    use std::os::fd::{AsFd, AsRawFd};
    let mut raw = Raw::new(map, per_cpu)?;
    let (ks, per_elem) = (raw.ks, raw.stride * raw.ncpus);
    let mut keys = vec![0u8; ks * BATCH];
    let mut vals = vec![0u8; per_elem * BATCH];
    // The resume token: a bucket index for hash maps (at least 4 bytes), a key otherwise.
    let mut token = vec![0u8; ks.max(4)];
    let mut next = vec![0u8; ks.max(4)];
    let opts = libbpf_sys::bpf_map_batch_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_batch_opts>() as _,
        ..Default::default()
    };
    let fd = map.as_fd().as_raw_fd();
    let mut first = true;
    loop {
        let mut count = BATCH as u32;
        let from = if first {
            std::ptr::null_mut()
        } else {
            token.as_mut_ptr()
        };
        // SAFETY: the buffers hold BATCH keys and values of the sizes the map declares,
        // and the tokens its key size (at least 4 bytes).
        let r = unsafe {
            libbpf_sys::bpf_map_lookup_batch(
                fd,
                from.cast(),
                next.as_mut_ptr().cast(),
                keys.as_mut_ptr().cast(),
                vals.as_mut_ptr().cast(),
                &mut count,
                &opts,
            )
        };
        let done = r == -libc::ENOENT;
        if r < 0 && !done {
            return None;
        }
        let n = (count as usize).min(BATCH);
        raw.keys.extend_from_slice(&keys[..n * ks]);
        raw.vals.extend_from_slice(&vals[..n * per_elem]);
        if done {
            return Some(raw);
        }
        token.copy_from_slice(&next);
        first = false;
    }
}

/// The same, a key and a lookup at a time.
fn read_one_by_one(map: &MapHandle, per_cpu: bool) -> Raw {
    let mut raw = Raw::new(map, per_cpu).unwrap_or(Raw {
        keys: vec![],
        vals: vec![],
        ks: (map.key_size() as usize).max(1),
        vs: map.value_size() as usize,
        stride: map.value_size() as usize,
        ncpus: 1,
    });
    for key in map.keys() {
        let values = if per_cpu {
            match map.lookup_percpu(&key, MapFlags::ANY) {
                Ok(Some(v)) if v.len() == raw.ncpus => v,
                _ => continue,
            }
        } else {
            match map.lookup(&key, MapFlags::ANY) {
                Ok(Some(v)) => vec![v],
                _ => continue,
            }
        };
        if key.len() != raw.ks || values.iter().any(|v| v.len() < raw.vs) {
            continue;
        }
        raw.keys.extend_from_slice(&key);
        for v in values {
            raw.vals.extend_from_slice(&v[..raw.vs]);
            raw.vals.resize(raw.vals.len() + raw.stride - raw.vs, 0);
        }
    }
    raw
}

/// Every entry of a map, per-CPU values merged and histogram buckets gathered per key.
pub fn read(map: &MapHandle, spec: &MapSpec) -> Vec<MapEntry> {
    let per_cpu = spec.kind.per_cpu();
    let array = spec.storage() == Storage::PerCpuArray;
    let mut plain = vec![];
    let mut hists: BTreeMap<Vec<u8>, (Vec<Value>, Vec<u64>, Option<i64>)> = BTreeMap::new();
    let sum_slot = spec.hist_sum.then(|| spec.kind.bucket_count());
    let mut series: BTreeMap<Vec<u8>, (Vec<Value>, BTreeMap<u64, Value>)> = BTreeMap::new();
    let elems = read_batched(map, per_cpu).unwrap_or_else(|| read_one_by_one(map, per_cpu));
    let mut cpus = vec![];
    plain.reserve(elems.len());
    for i in 0..elems.len() {
        let raw = elems.key(i);
        elems.cpus(i, &mut cpus);
        if array && !cpus.iter().any(|c| u64_at(c, 8) != 0) {
            continue; // never written (or cleared)
        }
        let (key, bucket) = decode_key(spec, raw);
        let value = merge(&spec.kind, &cpus);
        match (bucket, value) {
            (Some(b), AggValue::Count(n)) => {
                let user_key = if array {
                    vec![]
                } else {
                    raw[..raw.len() - 8].to_vec()
                };
                let (_, counts, sum) = hists.entry(user_key).or_insert_with(|| (key, vec![], None));
                if Some(b) == sum_slot {
                    *sum = Some(n as i64);
                    continue;
                }
                let b = b as usize;
                if counts.len() <= b {
                    counts.resize(b + 1, 0);
                }
                counts[b] += n;
            }
            (Some(_), AggValue::Tseries(slot)) => {
                let user_key = raw[..raw.len() - 8].to_vec();
                let (_, by_epoch) = series
                    .entry(user_key)
                    .or_insert_with(|| (key, BTreeMap::new()));
                for (epoch, v) in slot {
                    // Several zeroed slots all read as epoch 0; they agree (value 0).
                    by_epoch.entry(epoch).or_insert(v);
                }
            }
            (_, value) => plain.push(MapEntry { key, value }),
        }
    }
    plain.extend(hists.into_values().map(|(key, counts, sum)| MapEntry {
        key,
        value: AggValue::Hist { counts, sum },
    }));
    plain.extend(series.into_values().map(|(key, by_epoch)| MapEntry {
        key,
        value: AggValue::Tseries(by_epoch),
    }));
    plain
}

/// bpftrace creates a scalar value map's element up front, so a map never assigned prints
/// as zero while `delete(@m)` and `clear(@m)` remove it. Done after load, before `begin`.
pub fn create_scalars(maps: &[MapHandle], specs: &[MapSpec]) {
    for (map, spec) in maps.iter().zip(specs) {
        if spec.key.is_empty() && matches!(spec.kind, MapKind::Value(_)) {
            let key = vec![0u8; spec.key_size()];
            let value = vec![0u8; spec.value_size()];
            let _ = map.update(&key, &value, MapFlags::NO_EXIST);
        }
    }
}

/// Deletes every key (array slots cannot be deleted: they are reset to "never written").
pub fn clear(map: &MapHandle, spec: &MapSpec, ncpus: usize) {
    if spec.storage() == Storage::PerCpuArray {
        let zeros = vec![vec![0u8; spec.value_size()]; ncpus];
        for k in 0..spec.entries() {
            let _ = map.update_percpu(&k.to_ne_bytes(), &zeros, MapFlags::ANY);
        }
        return;
    }
    let keys: Vec<Vec<u8>> = map.keys().collect();
    for k in keys {
        let _ = map.delete(&k);
    }
}

/// Sets every value to zero, keeping the keys.
pub fn zero(map: &MapHandle, spec: &MapSpec, ncpus: usize) {
    let size = spec.value_size();
    if spec.storage() == Storage::PerCpuArray {
        // Keep the "is set" word: a zeroed map still prints, as `@: 0`.
        for k in 0..spec.entries() {
            let key = k.to_ne_bytes();
            if let Ok(Some(mut cpus)) = map.lookup_percpu(&key, MapFlags::ANY) {
                for c in &mut cpus {
                    c[..8].fill(0);
                }
                let _ = map.update_percpu(&key, &cpus, MapFlags::ANY);
            }
        }
        return;
    }
    let keys: Vec<Vec<u8>> = map.keys().collect();
    for k in keys {
        if spec.kind.per_cpu() {
            let zeros = vec![vec![0u8; size]; ncpus];
            let _ = map.update_percpu(&k, &zeros, MapFlags::ANY);
        } else {
            let _ = map.update(&k, &vec![0u8; size], MapFlags::ANY);
        }
    }
}

/// Decodes the fields of an event payload.
pub fn decode_fields(fields: &[FieldType], bytes: &[u8]) -> Vec<Value> {
    let mut off = 0;
    fields
        .iter()
        .map(|f| {
            let end = (off + f.size()).min(bytes.len());
            let v = decode_field(f, &bytes[off.min(end)..end]);
            off += f.size();
            v
        })
        .collect()
}
