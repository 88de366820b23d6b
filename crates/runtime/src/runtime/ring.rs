//! The records the probes send, read in place: from their own ring (`records.rs`, format 3
//! on), or from the kernel's BPF ring buffer (older artifacts). From format 3 on the kernel
//! ring is only a doorbell: its records wake the reader and are skipped unread.
//!
//! The kernel ring is read here rather than with libbpf: libbpf's consumer publishes its
//! read position after every record. The probes read that position on every reserve, so
//! under a stream of records each one moved a cache line from the reading CPU to the
//! writing one. Here the position is published once per batch.
//!
//! The layout is the kernel's (`kernel/bpf/ringbuf.c`): a writable page holding the
//! consumer position, then a read-only page holding the producer position, then the data
//! area mapped twice in a row so that a record wrapping around the end reads as one slice.
//! Each record is an 8-byte header (length with a busy and a discard bit, page offset) and
//! its data, rounded up to 8 bytes.

use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use libbpf_rs::{MapCore, MapHandle};

use super::records::RecordReader;

const BUSY: u32 = 1 << 31;
const DISCARD: u32 = 1 << 30;
const HEADER: usize = 8;

/// A mapping unmapped on drop.
pub(super) struct Mapping {
    addr: *mut libc::c_void,
    len: usize,
}

impl Mapping {
    pub(super) fn new(fd: i32, len: usize, prot: i32, offset: usize) -> std::io::Result<Mapping> {
        // SAFETY: a fresh shared mapping of a map's descriptor (a kernel ring buffer, or the
        // records' mmapable array); the kernel checks the protection (a ring buffer's
        // producer side cannot be mapped writable) and the length.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd,
                offset as i64,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapping { addr, len })
    }

    pub(super) fn addr(&self) -> usize {
        self.addr as usize
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.addr, self.len) };
    }
}

/// Where the records come from.
enum Source {
    /// The records' ring, and the doorbell that announces them.
    Records(RecordReader, KernelRing),
    /// The kernel ring buffer (formats 1 and 2).
    Kernel(KernelRing),
}

pub struct Ring<'a> {
    source: Source,
    handler: Box<dyn Fn(&[u8]) + 'a>,
}

impl<'a> Ring<'a> {
    /// Reads the records of `records` (a `RecordRing` array map of a `size`-byte ring), or
    /// those of the kernel ring `kernel` without one; `handler` gets each record's data.
    pub fn new(
        kernel: &MapHandle,
        records: Option<(&MapHandle, u64)>,
        handler: impl Fn(&[u8]) + 'a,
    ) -> std::io::Result<Ring<'a>> {
        let kernel = KernelRing::new(kernel)?;
        let source = match records {
            Some((map, size)) => Source::Records(RecordReader::new(map, size)?, kernel),
            None => Source::Kernel(kernel),
        };
        Ok(Ring {
            source,
            handler: Box::new(handler),
        })
    }

    /// The descriptor readable (`EPOLLIN`) when records wait: the kernel ring's.
    pub fn fd(&self) -> i32 {
        match &self.source {
            Source::Records(_, k) | Source::Kernel(k) => k.fd,
        }
    }

    /// Handles at most `max` records; gives how many were handled.
    pub fn consume_n(&self, max: usize) -> usize {
        match &self.source {
            Source::Records(r, doorbell) => {
                // Emptied first: a ring after the records are read could be missed.
                doorbell.skip_all();
                r.consume_n(max, &*self.handler)
            }
            Source::Kernel(k) => k.consume_n(max, &*self.handler),
        }
    }

    /// Handles every record there is.
    pub fn consume(&self) -> usize {
        self.consume_n(usize::MAX)
    }

    /// Waits up to `timeout` for records, then handles them.
    pub fn poll(&self, timeout: Duration) -> usize {
        let mut p = libc::pollfd {
            fd: self.fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut p, 1, ms) };
        self.consume()
    }
}

/// A kernel ring buffer (`BPF_MAP_TYPE_RINGBUF`), mapped.
struct KernelRing {
    consumer: Mapping,
    producer: Mapping,
    /// Where the data area starts (after the producer page).
    data: usize,
    mask: u64,
    fd: i32,
}

impl KernelRing {
    fn new(map: &MapHandle) -> std::io::Result<KernelRing> {
        let fd = map.as_fd().as_raw_fd();
        let size = map.max_entries() as usize;
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let consumer = Mapping::new(fd, page, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        let producer = Mapping::new(fd, page + 2 * size, libc::PROT_READ, page)?;
        Ok(KernelRing {
            data: producer.addr() + page,
            consumer,
            producer,
            mask: size as u64 - 1,
            fd,
        })
    }

    fn consumer_pos(&self) -> &AtomicU64 {
        // SAFETY: the first word of the consumer page, 8-byte aligned, mapped while self lives.
        unsafe { &*(self.consumer.addr() as *const AtomicU64) }
    }

    fn producer_pos(&self) -> &AtomicU64 {
        // SAFETY: as above, on the producer page.
        unsafe { &*(self.producer.addr() as *const AtomicU64) }
    }

    /// Skips every record written so far (the doorbell's are wake-ups only). A record still
    /// being written is skipped too: the kernel lets the reader pass it.
    fn skip_all(&self) {
        let prod = self.producer_pos().load(Ordering::Acquire);
        if self.consumer_pos().load(Ordering::Relaxed) != prod {
            self.consumer_pos().store(prod, Ordering::Release);
        }
    }

    /// Handles at most `max` records; gives how many were handled.
    fn consume_n(&self, max: usize, handler: &dyn Fn(&[u8])) -> usize {
        let mut cons = self.consumer_pos().load(Ordering::Acquire);
        let mut published = cons;
        let mut handled = 0;
        'outer: while handled < max {
            let prod = self.producer_pos().load(Ordering::Acquire);
            if cons >= prod {
                break;
            }
            while cons < prod && handled < max {
                let at = self.data + (cons & self.mask) as usize;
                // SAFETY: a record header inside the data area; the kernel writes the length
                // last (release), clearing the busy bit when the record is complete.
                let len = unsafe { &*(at as *const AtomicU32) }.load(Ordering::Acquire);
                if len & BUSY != 0 {
                    break 'outer;
                }
                let n = (len & !(BUSY | DISCARD)) as usize;
                if len & DISCARD == 0 {
                    // SAFETY: the record's data follows its header; the double mapping makes a
                    // record that wraps contiguous.
                    let rec = unsafe { std::slice::from_raw_parts((at + HEADER) as *const u8, n) };
                    handler(rec);
                    handled += 1;
                }
                cons += (n + HEADER).next_multiple_of(8) as u64;
                // Slow handlers (formatting big records) must not keep a quarter of the
                // ring looking full.
                if cons - published > self.mask / 4 {
                    self.consumer_pos().store(cons, Ordering::Release);
                    published = cons;
                }
            }
        }
        // Written only when it moved: every write takes the line from the producers.
        if cons != published {
            self.consumer_pos().store(cons, Ordering::Release);
        }
        handled
    }
}
