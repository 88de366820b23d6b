//! `iter:` probes: once attached, each iterator is read to its end, which runs the program
//! once per object. Their events are drained while the read goes on (a big iteration would
//! overflow the ring buffer otherwise); the read happens in one thread, so they arrive in
//! iteration order.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::ring::Ring;

use super::session::Session;
use crate::diag::Diagnostic;
use crate::probes::{iter::IterLink, Attachment};

/// Reads every iterator among `links` to its end, printing their output as it comes.
pub(super) fn run(links: &[Attachment], s: &Session, ringbuf: &Ring) -> Result<(), Diagnostic> {
    let mut files = vec![];
    for l in links {
        let Some(IterLink(link)) = l.downcast_ref::<IterLink>() else {
            continue;
        };
        // SAFETY: plain syscall wrapper on a live link's descriptor.
        let fd = unsafe { libbpf_sys::bpf_iter_create(link.as_fd().as_raw_fd()) };
        if fd < 0 {
            let e = std::io::Error::from_raw_os_error(-fd);
            return Err(Diagnostic::global(format!(
                "cannot create an iterator: {e}"
            )));
        }
        // SAFETY: a new descriptor, owned from here on.
        files.push(unsafe { std::fs::File::from_raw_fd(fd) });
    }
    if files.is_empty() {
        return Ok(());
    }
    let done = AtomicBool::new(false);
    s.iterating.set(true);
    let failed = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut buf = vec![0u8; 64 * 1024];
            let mut err = None;
            for mut f in files {
                loop {
                    match f.read(&mut buf) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            err = Some(e);
                            break;
                        }
                    }
                }
            }
            done.store(true, Ordering::Release);
            err
        });
        while !done.load(Ordering::Acquire) {
            let _ = ringbuf.poll(Duration::from_millis(10));
            s.flush();
        }
        reader.join().ok().flatten()
    });
    let _ = ringbuf.consume();
    s.flush();
    s.iterating.set(false);
    match failed {
        Some(e) => Err(Diagnostic::global(format!(
            "reading an iterator failed: {e}"
        ))),
        None => Ok(()),
    }
}
