//! The records' own ring (`program::RecordRing`), read in place from its mapping.
//!
//! The probes publish a record by writing its header last; a zero header is a record not
//! yet complete (or no record at all), where reading stops until the next batch. What has
//! been read is zeroed before the space is given back, which is what keeps every byte past
//! the last complete record zero. The read position is published once per batch, as with
//! the kernel ring (`ring.rs`): the probes read it on every record.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU64, Ordering};

use libbpf_rs::{MapCore, MapHandle};

use super::ring::Mapping;
use crate::program::RecordRing;

pub(super) struct RecordReader {
    map: Mapping,
    size: u64,
    /// The largest footprint a record can have: the room after the ring.
    room: u64,
}

impl RecordReader {
    /// Maps `map`, the records' ring of `size` bytes.
    pub(super) fn new(map: &MapHandle, size: u64) -> std::io::Result<RecordReader> {
        let value = map.value_size() as u64;
        if !size.is_power_of_two() || value <= RecordRing::DATA + size {
            return Err(std::io::Error::other(format!(
                "a {value}-byte value cannot hold a {size}-byte ring"
            )));
        }
        let fd = map.as_fd().as_raw_fd();
        let len = value.next_multiple_of(4096) as usize;
        let map = Mapping::new(fd, len, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        Ok(RecordReader {
            map,
            size,
            room: value - RecordRing::DATA - size,
        })
    }

    fn word(&self, at: u64) -> &AtomicU64 {
        // SAFETY: an 8-byte-aligned offset inside the mapping, which lives as long as self.
        unsafe { &*((self.map.addr() + at as usize) as *const AtomicU64) }
    }

    /// Handles at most `max` records; gives how many were handled.
    pub(super) fn consume_n(&self, max: usize, handler: &dyn Fn(&[u8])) -> usize {
        let consumed = self.word(RecordRing::CONSUMED);
        // Only this reader writes it.
        let mut pos = consumed.load(Ordering::Relaxed);
        let mut published = pos;
        let mut handled = 0;
        while handled < max {
            let at = RecordRing::DATA + (pos & (self.size - 1));
            // Set last, with an exchange: the record before it is complete.
            let len = self.word(at).load(Ordering::Acquire);
            let footprint = RecordRing::footprint(len);
            if len == 0 || footprint > self.room {
                // Not written yet. (Too long cannot be: the probes write what fits.)
                break;
            }
            let start = self.map.addr() + at as usize;
            // SAFETY: the record lies after its header, inside the mapping (the room after
            // the ring holds any record), and no probe writes it until `consumed` passes it.
            let rec = unsafe {
                std::slice::from_raw_parts(
                    (start + RecordRing::HEADER as usize) as *const u8,
                    len as usize,
                )
            };
            handler(rec);
            // SAFETY: as above; the handler is done with the record.
            unsafe { std::ptr::write_bytes(start as *mut u8, 0, footprint as usize) };
            handled += 1;
            pos += footprint;
            // Slow handlers (formatting big records) must not keep a quarter of the ring
            // looking full.
            if pos - published > self.size / 4 {
                consumed.store(pos, Ordering::Release);
                published = pos;
            }
        }
        // Written only when it moved: every write takes the line from the probes.
        if pos != published {
            consumed.store(pos, Ordering::Release);
        }
        handled
    }
}
