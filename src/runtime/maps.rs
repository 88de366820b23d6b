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
fn merge(kind: &MapKind, cpus: &[Vec<u8>]) -> AggValue {
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

/// A raw element: its key, and its value on each CPU (one for maps that are not per-CPU).
type RawElem = (Vec<u8>, Vec<Vec<u8>>);

/// Elements read at a time by `BPF_MAP_LOOKUP_BATCH`.
const BATCH: usize = 4096;

/// Every (key, per-CPU values) of a map, a batch of elements per system call; `None` when
/// the kernel does not batch this map.
fn read_batched(map: &MapHandle, per_cpu: bool) -> Option<Vec<RawElem>> {
    use std::os::fd::{AsFd, AsRawFd};
    let (ks, vs) = (map.key_size() as usize, map.value_size() as usize);
    let ncpus = match per_cpu {
        true => libbpf_rs::num_possible_cpus().ok()?,
        false => 1,
    };
    // Per-CPU values come 8-byte aligned, one per possible CPU.
    let stride = if per_cpu { vs.next_multiple_of(8) } else { vs };
    let mut keys = vec![0u8; ks * BATCH];
    let mut vals = vec![0u8; stride * ncpus * BATCH];
    // The resume token: a bucket index for hash maps (at least 4 bytes), a key otherwise.
    let mut token = vec![0u8; ks.max(4)];
    let mut next = vec![0u8; ks.max(4)];
    let opts = libbpf_sys::bpf_map_batch_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_map_batch_opts>() as _,
        ..Default::default()
    };
    let fd = map.as_fd().as_raw_fd();
    let mut out = vec![];
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
        for i in 0..count as usize {
            let v = &vals[i * stride * ncpus..(i + 1) * stride * ncpus];
            let cpus = v.chunks(stride).map(|c| c[..vs].to_vec()).collect();
            out.push((keys[i * ks..(i + 1) * ks].to_vec(), cpus));
        }
        if done {
            return Some(out);
        }
        token.copy_from_slice(&next);
        first = false;
    }
}

/// The same, a key and a lookup at a time.
fn read_one_by_one(map: &MapHandle, per_cpu: bool) -> Vec<RawElem> {
    map.keys()
        .filter_map(|raw| {
            let cpus = if per_cpu {
                map.lookup_percpu(&raw, MapFlags::ANY).ok()??
            } else {
                vec![map.lookup(&raw, MapFlags::ANY).ok()??]
            };
            Some((raw, cpus))
        })
        .collect()
}

/// Every entry of a map, per-CPU values merged and histogram buckets gathered per key.
pub fn read(map: &MapHandle, spec: &MapSpec) -> Vec<MapEntry> {
    let per_cpu = spec.kind.per_cpu();
    let array = spec.storage() == Storage::PerCpuArray;
    let mut plain = vec![];
    let mut hists: BTreeMap<Vec<u8>, (Vec<Value>, Vec<u64>)> = BTreeMap::new();
    let mut series: BTreeMap<Vec<u8>, (Vec<Value>, BTreeMap<u64, Value>)> = BTreeMap::new();
    let elems = read_batched(map, per_cpu).unwrap_or_else(|| read_one_by_one(map, per_cpu));
    for (raw, cpus) in elems {
        if array && !cpus.iter().any(|c| u64_at(c, 8) != 0) {
            continue; // never written (or cleared)
        }
        let (key, bucket) = decode_key(spec, &raw);
        let value = merge(&spec.kind, &cpus);
        match (bucket, value) {
            (Some(b), AggValue::Count(n)) => {
                let user_key = if array {
                    vec![]
                } else {
                    raw[..raw.len() - 8].to_vec()
                };
                let (_, counts) = hists.entry(user_key).or_insert_with(|| (key, vec![]));
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
    plain.extend(hists.into_values().map(|(key, counts)| MapEntry {
        key,
        value: AggValue::Hist(counts),
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
