//! SIGINT and SIGTERM while a program runs, and SIGUSR1 for `self:signal:SIGUSR1` probes.
//!
//! The first signal asks the run to stop: the event loop notices it at its next batch
//! (the handler also wakes the loop's `epoll_wait` through an eventfd, so an idle loop
//! notices at once), then detaches, runs `end` and prints the maps. A second signal ends
//! the process at once from the handler itself, because the main thread may be stuck (a
//! write to a pipe nobody reads, a huge map being printed): the kernel detaches every
//! probe when the process's descriptors close, and the `-c` child is killed.
//!
//! Everything the handler touches is an atomic or an async-signal-safe call.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

static RECEIVED: AtomicUsize = AtomicUsize::new(0);
/// SIGUSR1s not yet handled by the event loop.
static USR1: AtomicUsize = AtomicUsize::new(0);
/// An eventfd the event loop waits on, or -1.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// The `-c` child, or 0.
static CHILD: AtomicI32 = AtomicI32::new(0);

/// Exit status of a run ended by a second signal: 128 + SIGINT, as a shell reports it.
const FORCED_EXIT: i32 = 130;

/// Installs the handlers (once per process; later calls do nothing).
pub fn install() -> Result<(), String> {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    let mut result = Ok(());
    INSTALLED.call_once(|| {
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            result = Err(format!("eventfd: {}", std::io::Error::last_os_error()));
            return;
        }
        WAKE_FD.store(fd, Ordering::Relaxed);
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: the action only uses atomics and async-signal-safe libc calls.
            let r = unsafe { signal_hook::low_level::register(sig, on_signal) };
            if let Err(e) = r {
                result = Err(format!("cannot install a signal handler: {e}"));
                return;
            }
        }
    });
    result
}

fn on_signal() {
    if RECEIVED.fetch_add(1, Ordering::SeqCst) >= 1 {
        let child = CHILD.load(Ordering::SeqCst);
        unsafe {
            if child > 0 {
                libc::kill(child, libc::SIGKILL);
            }
            libc::_exit(FORCED_EXIT);
        }
    }
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let one = 1u64;
        unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
}

/// Routes SIGUSR1 to the event loop (`take_usr1`); only programs with a `self` probe
/// ask, so that the signal otherwise keeps its default action.
pub fn catch_usr1() -> Result<(), String> {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    let mut result = Ok(());
    INSTALLED.call_once(|| {
        // SAFETY: the action only uses atomics and async-signal-safe libc calls.
        result = unsafe { signal_hook::low_level::register(libc::SIGUSR1, on_usr1) }
            .map(|_| ())
            .map_err(|e| format!("cannot install a signal handler: {e}"));
    });
    result
}

fn on_usr1() {
    USR1.fetch_add(1, Ordering::SeqCst);
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let one = 1u64;
        unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
}

/// How many SIGUSR1s arrived since the last call.
pub fn take_usr1() -> usize {
    USR1.swap(0, Ordering::SeqCst)
}

/// Whether SIGINT or SIGTERM has arrived.
pub fn stop_requested() -> bool {
    RECEIVED.load(Ordering::SeqCst) > 0
}

/// The descriptor that becomes readable when a signal arrives (for `epoll`), or -1.
pub fn wake_fd() -> i32 {
    WAKE_FD.load(Ordering::Relaxed)
}

/// Reads the eventfd empty, so the next wait blocks again.
pub fn clear_wake() {
    let fd = wake_fd();
    if fd >= 0 {
        let mut v = 0u64;
        unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
    }
}

/// Names the `-c` child, which a forced exit kills.
pub fn set_child(pid: i32) {
    CHILD.store(pid, Ordering::SeqCst);
}
