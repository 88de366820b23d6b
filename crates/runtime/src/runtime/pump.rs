//! Reads the ring buffer in bounded batches, so the event loop keeps control however fast
//! the probes write (a probe fed by spyglass's own output writes as fast as it reads).
//!
//! libbpf's `ring_buffer__poll` consumes until the ring is empty, which under such a load
//! is never. Here a wait (on the ring and on the signal eventfd) is followed by at most
//! `BATCH` records, and the caller checks for signals, `exit()` and its child in between.

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::ring::Ring;

use super::signals;

/// Records handled between two checks of the stop conditions: small enough that a check
/// comes every few milliseconds even when each record is a formatted line.
const BATCH: usize = 2048;

pub struct Pump<'a> {
    rb: &'a Ring<'a>,
    epoll: std::os::fd::OwnedFd,
    /// The last batch was full: more records are probably waiting.
    pub backlog: bool,
}

impl<'a> Pump<'a> {
    pub fn new(rb: &'a Ring<'a>) -> Result<Self, String> {
        use std::os::fd::FromRawFd;
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(format!("epoll: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: a fresh descriptor that nothing else owns.
        let epoll = unsafe { std::os::fd::OwnedFd::from_raw_fd(ep) };
        // The ring edge-triggered: records written without a wakeup since the last batch
        // wait for the next wakeup or the timer rather than being chased one by one (each
        // read of a record the probes have just written pulls its cache line over).
        let ring = (rb.fd(), (libc::EPOLLIN | libc::EPOLLET) as u32);
        for (fd, events) in [ring, (signals::wake_fd(), libc::EPOLLIN as u32)] {
            if fd < 0 {
                continue;
            }
            let mut ev = libc::epoll_event {
                events,
                u64: fd as u64,
            };
            if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0 {
                return Err(format!("epoll: {}", std::io::Error::last_os_error()));
            }
        }
        Ok(Pump {
            rb,
            epoll,
            backlog: false,
        })
    }

    /// Waits up to `timeout` for records or a signal (not at all while a backlog remains),
    /// then handles one batch.
    pub fn step(&mut self, timeout: Duration) {
        if !self.backlog {
            let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 2];
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            // EINTR (a signal) simply ends the wait.
            unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), evs.as_mut_ptr(), 2, ms) };
            signals::clear_wake();
        }
        self.batch();
    }

    /// Handles at most one batch of records.
    pub fn batch(&mut self) {
        let n = self.rb.consume_n(BATCH);
        self.backlog = n >= BATCH;
    }

    /// Handles what is in the ring until it is empty, or until `deadline` if there is one;
    /// returns whether it was emptied. Only for when the probes are detached: otherwise the
    /// ring may never be empty.
    pub fn drain(&mut self, deadline: Option<Instant>) -> bool {
        loop {
            self.batch();
            if !self.backlog {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
        }
    }
}
