//! Perf events: the attach mechanism of `interval`, `profile`, `software` and `hardware`
//! probes (and of tracepoints, through `PerfLink`), and the process they are limited to
//! (`-p PID`, the `-c` child).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{AttachContext, Attachment};

/// Where perf events are opened.
pub(crate) enum Scope {
    /// On these CPUs, counting every process (`interval` timers, or no target process).
    Cpus(Vec<i32>),
    /// Following one process's threads wherever they run.
    Process(i32),
}

/// One perf event's place: a CPU, or a thread on any CPU.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Place {
    Cpu(i32),
    Thread(i32),
}

impl Scope {
    /// Sampling events (`profile`, `software`, `hardware`): the target process when there
    /// is one, as bpftrace's `-p` does, else every online CPU.
    pub(crate) fn sampling(cx: &AttachContext) -> Scope {
        match cx.target_pid {
            None => Scope::Cpus(online_cpus()),
            Some(pid) => Scope::Process(pid as i32),
        }
    }

    pub(crate) fn places(&self) -> Vec<Place> {
        match self {
            Scope::Cpus(cpus) => cpus.iter().map(|&c| Place::Cpu(c)).collect(),
            // A perf event follows one thread; threads already running each need their own.
            Scope::Process(pid) => {
                let tids: Vec<Place> = std::fs::read_dir(format!("/proc/{pid}/task"))
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .map(Place::Thread)
                    .collect();
                if tids.is_empty() {
                    vec![Place::Thread(*pid)]
                } else {
                    tids
                }
            }
        }
    }
}

/// Perf-event based attach shared by `interval` and `profile`: a software cpu-clock event
/// in each place of `scope`, the program attached to each.
pub(crate) fn attach_cpu_clock(
    prog: &libbpf_rs::ProgramMut,
    scope: &Scope,
    freq_hz: Option<u64>,
    period_ns: Option<u64>,
) -> Result<Vec<Attachment>, String> {
    let sample = match (freq_hz, period_ns) {
        (Some(hz), _) => Sample::Freq(hz),
        (None, p) => Sample::Period(p.unwrap_or(1)),
    };
    let event = PerfEvent {
        type_: libbpf_sys::PERF_TYPE_SOFTWARE,
        config: libbpf_sys::PERF_COUNT_SW_CPU_CLOCK as u64,
    };
    attach_perf_event(prog, scope, event, sample).map_err(|e| e.to_string())
}

/// A perf event kind: `perf_event_attr.type` and `.config`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PerfEvent {
    pub type_: u32,
    pub config: u64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Sample {
    /// Every N events.
    Period(u64),
    /// N times a second.
    Freq(u64),
}

/// Why a perf event could not be attached; `open` failures keep the OS error so callers can
/// explain a missing PMU.
pub(crate) enum PerfError {
    Open { place: Place, err: std::io::Error },
    Attach(String),
}

impl std::fmt::Display for PerfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PerfError::Open {
                place: Place::Cpu(cpu),
                err,
            } => {
                write!(f, "perf_event_open on CPU {cpu} failed: {err}")
            }
            PerfError::Open {
                place: Place::Thread(tid),
                err,
            } => {
                write!(f, "perf_event_open for thread {tid} failed: {err}")
            }
            PerfError::Attach(m) => write!(f, "attaching to a perf event failed: {m}"),
        }
    }
}

/// Opens `event` in each place of `scope` and attaches the program to each.
pub(crate) fn attach_perf_event(
    prog: &libbpf_rs::ProgramMut,
    scope: &Scope,
    event: PerfEvent,
    sample: Sample,
) -> Result<Vec<Attachment>, PerfError> {
    let mut out: Vec<Attachment> = vec![];
    let places = scope.places();
    for &place in &places {
        let mut attr: libbpf_sys::perf_event_attr = unsafe { std::mem::zeroed() };
        attr.type_ = event.type_;
        attr.size = std::mem::size_of::<libbpf_sys::perf_event_attr>() as u32;
        attr.config = event.config;
        match sample {
            Sample::Freq(hz) => {
                attr.__bindgen_anon_1.sample_freq = hz;
                attr.set_freq(1);
            }
            Sample::Period(p) => attr.__bindgen_anon_1.sample_period = p,
        }
        if let Some(link) = open_and_attach(prog, &mut attr, place)? {
            out.push(link);
        }
    }
    // Every CPU "offline" means the event itself has no device here.
    if out.is_empty() && !places.is_empty() {
        return Err(PerfError::Open {
            place: places[0],
            err: std::io::Error::from_raw_os_error(libc::ENODEV),
        });
    }
    Ok(out)
}

/// Opens the event `attr` describes at `place` and attaches the program to it; `None` when
/// the place is gone (an offline CPU, a thread that exited meanwhile), as perf skips them.
pub(crate) fn open_and_attach(
    prog: &libbpf_rs::ProgramMut,
    attr: &mut libbpf_sys::perf_event_attr,
    place: Place,
) -> Result<Option<Attachment>, PerfError> {
    let (pid, cpu) = match place {
        Place::Cpu(cpu) => (-1, cpu),
        Place::Thread(tid) => {
            // Threads the target starts later are covered too.
            attr.set_inherit(1);
            (tid, -1)
        }
    };
    let event = match open(attr, pid, cpu) {
        Ok(fd) => fd,
        Err(err) if matches!(err.raw_os_error(), Some(libc::ENODEV | libc::ESRCH)) => {
            return Ok(None)
        }
        Err(err) => return Err(PerfError::Open { place, err }),
    };
    let link = PerfLink::new(prog.as_fd(), event).map_err(|e| PerfError::Attach(e.to_string()))?;
    Ok(Some(Box::new(link)))
}

/// `perf_event_open(2)`.
pub(crate) fn open(
    attr: &libbpf_sys::perf_event_attr,
    pid: i32,
    cpu: i32,
) -> std::io::Result<OwnedFd> {
    // SAFETY: a valid attr for the duration of the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *const _,
            pid,
            cpu,
            -1i32,
            8u64, /* PERF_FLAG_FD_CLOEXEC */
        )
    } as i32;
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor just opened, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
/// `_IOW('$', 8, __u32)`.
const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;

/// A program attached to a perf event. It owns both descriptors, so the event lives exactly
/// as long as the attachment: dropping it closes the link (detaching the program), then
/// the event. Done here rather than by libbpf, whose first perf attach of a process also
/// loads a program to probe for perf links (start-up time), and whose link closes the
/// event's descriptor itself, which callers must then not close.
pub(crate) struct PerfLink {
    /// None on kernels before 5.15, where the event itself holds the program.
    _link: Option<OwnedFd>,
    _event: OwnedFd,
}

impl PerfLink {
    /// Attaches `prog` to `event` (opened disabled or not) and enables it.
    pub(crate) fn new(prog: BorrowedFd, event: OwnedFd) -> std::io::Result<PerfLink> {
        // SAFETY: two valid descriptors; no options.
        let fd = unsafe {
            libbpf_sys::bpf_link_create(
                prog.as_raw_fd(),
                event.as_raw_fd(),
                libbpf_sys::BPF_PERF_EVENT,
                std::ptr::null(),
            )
        };
        let link = if fd >= 0 {
            // SAFETY: a descriptor just created, owned by nobody else.
            Some(unsafe { OwnedFd::from_raw_fd(fd) })
        } else if -fd == libc::EINVAL {
            // No perf links: the older interface.
            // SAFETY: an ioctl taking an int argument.
            if unsafe { libc::ioctl(event.as_raw_fd(), PERF_EVENT_IOC_SET_BPF, prog.as_raw_fd()) }
                < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            None
        } else {
            return Err(std::io::Error::from_raw_os_error(-fd));
        };
        // SAFETY: an ioctl without argument.
        if unsafe { libc::ioctl(event.as_raw_fd(), PERF_EVENT_IOC_ENABLE, 0) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(PerfLink {
            _link: link,
            _event: event,
        })
    }
}

/// CPUs that are online, for per-CPU perf events.
pub(crate) fn online_cpus() -> Vec<i32> {
    let text = crate::user_cache::read_small("/sys/devices/system/cpu/online")
        .unwrap_or_else(|_| "0".into());
    let mut cpus = vec![];
    for range in text.trim().split(',').filter(|s| !s.is_empty()) {
        let (a, b) = range.split_once('-').unwrap_or((range, range));
        if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
            cpus.extend(a..=b);
        }
    }
    cpus
}
