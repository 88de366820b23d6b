//! `skboutput()`'s packets: read from the perf event array the helper writes to and
//! appended to PCAP files (raw IP, microsecond timestamps), one per path the script
//! names. A file is created, or truncated, when its first packet arrives.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::rc::Rc;
use std::time::Duration;

use libbpf_rs::{MapHandle, PerfBuffer, PerfBufferBuilder};

use crate::program::{CompiledProgram, EventSpec, SKB_META_SIZE};

/// `LINKTYPE_RAW`: packets start with their IPv4 or IPv6 header.
const LINKTYPE_RAW: u32 = 101;
const SNAPLEN: u32 = 65535;

/// Writes PCAP files from `(event id, offset, time, length)`-headed samples.
pub struct PcapWriter {
    /// Event id → file path.
    paths: HashMap<u64, String>,
    files: HashMap<String, BufWriter<File>>,
    /// Wall-clock time of boot, in ns: sample times are ns since boot.
    boot_ns: u128,
}

impl PcapWriter {
    pub fn new(prog: &CompiledProgram, boot_ns: u128) -> Self {
        let paths = prog
            .events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                EventSpec::SkbOutput { path } => Some((i as u64, path.clone())),
                _ => None,
            })
            .collect();
        PcapWriter {
            paths,
            files: HashMap::new(),
            boot_ns,
        }
    }

    /// One perf sample: our header, then the packet (perf may pad the end).
    pub fn sample(&mut self, data: &[u8]) -> std::io::Result<()> {
        let Some(head) = data.get(..SKB_META_SIZE) else {
            return Ok(());
        };
        let word = |i: usize| u64::from_ne_bytes(head[8 * i..8 * i + 8].try_into().unwrap());
        let (id, offset, ns, len) = (word(0), word(1), word(2), word(3));
        let Some(path) = self.paths.get(&id) else {
            return Ok(());
        };
        let body = &data[SKB_META_SIZE..];
        let end = (len as usize).min(body.len());
        let packet = body
            .get((offset as usize).min(end)..end)
            .unwrap_or_default();
        if !self.files.contains_key(path) {
            let mut f = BufWriter::new(File::create(path)?);
            f.write_all(&global_header())?;
            self.files.insert(path.clone(), f);
        }
        let f = self.files.get_mut(path).expect("just opened");
        let t = self.boot_ns + ns as u128;
        f.write_all(&record_header(t, packet.len() as u32))?;
        f.write_all(packet)
    }

    pub fn flush(&mut self) {
        for f in self.files.values_mut() {
            let _ = f.flush();
        }
    }
}

/// The PCAP file header (format 2.4, native byte order, as libpcap writes it).
fn global_header() -> Vec<u8> {
    let mut h = Vec::with_capacity(24);
    h.extend_from_slice(&0xa1b2_c3d4u32.to_ne_bytes());
    h.extend_from_slice(&2u16.to_ne_bytes());
    h.extend_from_slice(&4u16.to_ne_bytes());
    h.extend_from_slice(&0i32.to_ne_bytes());
    h.extend_from_slice(&0u32.to_ne_bytes());
    h.extend_from_slice(&SNAPLEN.to_ne_bytes());
    h.extend_from_slice(&LINKTYPE_RAW.to_ne_bytes());
    h
}

/// A packet record's header: time (s, µs), captured and original length.
fn record_header(t_ns: u128, len: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(16);
    h.extend_from_slice(&((t_ns / 1_000_000_000) as u32).to_ne_bytes());
    h.extend_from_slice(&((t_ns / 1_000 % 1_000_000) as u32).to_ne_bytes());
    h.extend_from_slice(&len.to_ne_bytes());
    h.extend_from_slice(&len.to_ne_bytes());
    h
}

/// The perf buffer over `map`, feeding `writer`.
/// `pages`: per CPU, libbpf's default (64) when None.
pub fn reader<'a>(
    map: &'a MapHandle,
    writer: Rc<RefCell<PcapWriter>>,
    pages: Option<u32>,
) -> Result<PerfBuffer<'a>, String> {
    let builder = PerfBufferBuilder::new(map);
    let builder = match pages {
        Some(n) => builder.pages(n as usize),
        None => builder,
    };
    builder
        .sample_cb(move |_cpu: i32, data: &[u8]| {
            if let Err(e) = writer.borrow_mut().sample(data) {
                eprintln!("ERROR: skboutput: {e}");
            }
        })
        .lost_cb(|_cpu: i32, n: u64| eprintln!("WARNING: skboutput lost {n} packets"))
        .build()
        .map_err(|e| format!("skboutput: cannot open its perf buffer: {e}"))
}

/// Reads what the perf buffer holds, without waiting.
pub fn poll(perf: &PerfBuffer, writer: &RefCell<PcapWriter>) {
    let _ = perf.poll(Duration::ZERO);
    writer.borrow_mut().flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_become_pcap_records() {
        let dir = std::env::temp_dir().join(format!("spyglass-pcap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.pcap").to_string_lossy().into_owned();
        let mut w = PcapWriter {
            paths: [(3u64, path.clone())].into(),
            files: HashMap::new(),
            boot_ns: 1_000_000_000_000,
        };
        // id 3, offset 2, 1.5 s after boot, 6 bytes; then 2 bytes of perf padding.
        let mut sample = vec![];
        for v in [3u64, 2, 1_500_000_000, 6] {
            sample.extend_from_slice(&v.to_ne_bytes());
        }
        sample.extend_from_slice(&[0xee, 0xee, 0x45, 0, 0, 1, 0, 0]);
        w.sample(&sample).unwrap();
        w.flush();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 24 + 16 + 4);
        assert_eq!(&bytes[..4], &0xa1b2_c3d4u32.to_ne_bytes());
        assert_eq!(&bytes[20..24], &101u32.to_ne_bytes());
        let rec = &bytes[24..40];
        assert_eq!(&rec[..4], &1001u32.to_ne_bytes());
        assert_eq!(&rec[4..8], &500_000u32.to_ne_bytes());
        assert_eq!(&rec[8..12], &4u32.to_ne_bytes());
        assert_eq!(&bytes[40..], &[0x45, 0, 0, 1]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
