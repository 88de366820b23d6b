//! The state of one run: the output stream and what the events asked for.
//! Events arrive in a ring-buffer callback, so the state sits behind a `RefCell`.

use std::cell::RefCell;
use std::io::Write;

use super::ring::Ring;

use super::format::{self, value::Value};
use super::loader::Loaded;
use super::maps;
use crate::diag::Diagnostic;
use crate::program::{CompiledProgram, EventSpec, MapId};

pub struct Session<'a> {
    prog: &'a CompiledProgram,
    loaded: &'a Loaded,
    json: bool,
    ncpus: usize,
    state: RefCell<State<'a>>,
    /// `--no-warnings`: `warnf()` prints nothing.
    pub no_warnings: bool,
    /// `-f folded`: stack maps print as folded stacks.
    pub folded: bool,
    /// `--flamegraph`
    pub flame: Option<super::flame::Flame>,
    /// Reading iterators: their output is the iteration's, printed even after `exit()`.
    pub iterating: std::cell::Cell<bool>,
    /// `errorf()` messages handled so far (a `test:` block that reports one fails).
    pub errors: std::cell::Cell<u64>,
    /// Records are counted as lost instead of handled (the queue left at exit, when
    /// showing it would take too long).
    discarding: std::cell::Cell<bool>,
    discarded: std::cell::Cell<u64>,
    /// Per event id, worked out once rather than per record: its payload's fields, and
    /// for printf its parsed format.
    payloads: Vec<Vec<crate::program::FieldType>>,
    /// Addresses `unwatch()` asked to stop watching, for the event loop to detach.
    pub unwatched: RefCell<Vec<u64>>,
    formats: Vec<Option<Vec<format::Piece>>>,
}

struct State<'a> {
    out: &'a mut Box<dyn Write>,
    /// The reader of the output went away (EPIPE): the run ends, as a pipeline expects.
    closed: bool,
    exit_code: Option<i32>,
    /// After exit() only `end` probes' events count.
    accepting: bool,
    /// Output held back instead of written (a `test:` block's, shown only if it fails).
    captured: Option<String>,
}

impl State<'_> {
    fn note(&mut self, r: std::io::Result<()>) {
        if r.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
            self.closed = true;
        }
    }
}

impl<'a> Session<'a> {
    pub fn new(
        prog: &'a CompiledProgram,
        loaded: &'a Loaded,
        json: bool,
        out: &'a mut Box<dyn Write>,
    ) -> Self {
        format::value::set_trunc_trailer(&prog.output.str_trunc_trailer);
        Session {
            prog,
            loaded,
            json,
            ncpus: libbpf_rs::num_possible_cpus().unwrap_or(1),
            state: RefCell::new(State {
                out,
                closed: false,
                exit_code: None,
                accepting: true,
                captured: None,
            }),
            no_warnings: false,
            folded: false,
            flame: None,
            iterating: Default::default(),
            errors: Default::default(),
            discarding: Default::default(),
            discarded: Default::default(),
            payloads: prog.events.iter().map(EventSpec::payload).collect(),
            unwatched: Default::default(),
            formats: prog
                .events
                .iter()
                .map(|e| match e {
                    EventSpec::Printf { fmt, .. } => format::parse_format(fmt).ok(),
                    _ => None,
                })
                .collect(),
        }
    }

    pub fn ring_buffer(&'a self) -> Result<Ring<'a>, Diagnostic> {
        let records = self.loaded.records.as_ref().map(|(m, size)| (m, *size));
        Ring::new(&self.loaded.ringbuf, records, move |data: &[u8]| {
            self.handle(data)
        })
        .map_err(|e| Diagnostic::global(format!("cannot open the ring buffer: {e}")))
    }

    /// The descriptor of a loaded program, valid while the session lives.
    pub fn prog_fd(&self, name: &str) -> Result<i32, Diagnostic> {
        use std::os::fd::{AsFd, AsRawFd};
        self.loaded
            .object
            .progs()
            .find(|p| p.name().to_string_lossy() == name)
            .map(|p| p.as_fd().as_raw_fd())
            .ok_or_else(|| Diagnostic::global(format!("internal error: program {name} missing")))
    }

    /// Runs a `begin`/`end` (or `bench:`/`test:`) program once, on this CPU; its `return`
    /// code comes back.
    pub fn test_run(&self, name: &str) -> Result<u32, Diagnostic> {
        let fd = self.prog_fd(name)?;
        // A raw-tracepoint test run takes the tracepoint's u64 arguments; we pass one zero.
        let ctx = [0u8; 8];
        let mut opts: libbpf_sys::bpf_test_run_opts = unsafe { std::mem::zeroed() };
        opts.sz = std::mem::size_of::<libbpf_sys::bpf_test_run_opts>() as _;
        opts.ctx_in = ctx.as_ptr().cast();
        opts.ctx_size_in = ctx.len() as _;
        let rc = unsafe { libbpf_sys::bpf_prog_test_run_opts(fd, &mut opts) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            return Err(Diagnostic::global(format!(
                "running a begin/end probe failed: {err}"
            )));
        }
        Ok(opts.retval)
    }

    pub fn exit_code(&self) -> Option<i32> {
        self.state.borrow().exit_code
    }

    /// Forgets an `exit()` so the next block runs as if none happened (`--mode test`).
    pub fn take_exit_code(&self) -> Option<i32> {
        let mut st = self.state.borrow_mut();
        st.accepting = true;
        st.exit_code.take()
    }

    pub fn stop_accepting_after_exit(&self) {
        // `end` runs after exit(); its output still counts.
        self.state.borrow_mut().accepting = true;
    }

    pub fn flush(&self) {
        let mut st = self.state.borrow_mut();
        let r = st.out.flush();
        st.note(r);
    }

    fn write(&self, s: &str) {
        let mut st = self.state.borrow_mut();
        if let Some(c) = &mut st.captured {
            c.push_str(s);
            return;
        }
        let r = st.out.write_all(s.as_bytes());
        st.note(r);
    }

    /// Holds output back from here until `release` (`None` when nothing was held).
    pub fn hold(&self) {
        self.state.borrow_mut().captured = Some(String::new());
    }

    pub fn release(&self) -> String {
        self.state.borrow_mut().captured.take().unwrap_or_default()
    }

    pub fn output_closed(&self) -> bool {
        self.state.borrow().closed
    }

    pub fn discard_events(&self, on: bool) {
        self.discarding.set(on);
    }

    /// Prints bpftrace's `Lost N events` for the records dropped since `seen` of `total`
    /// (the kernel's count plus those discarded here); returns the new total.
    pub fn report_lost(&self, kernel: u64, seen: u64) -> u64 {
        let total = kernel + self.discarded.get();
        if total > seen && self.json {
            self.line(&format::lost_events_json(total - seen));
        } else if total > seen {
            eprint!("{}", format::lost_events_text(total - seen));
        }
        total.max(seen)
    }

    /// At exit, on stderr so a flood of output cannot hide it.
    pub fn warn_total_lost(&self, total: u64) {
        if total > 0 {
            eprintln!("WARNING: Total lost event count: {total}");
        }
    }

    pub fn write_text(&self, s: &str) {
        self.write(s);
    }

    pub fn line(&self, s: &str) {
        self.write(&format!("{s}\n"));
        self.flush();
    }

    pub fn attached(&self, n: usize, quiet: bool) {
        if quiet {
            return;
        }
        if self.json {
            self.line(&format::attached_probes_json(n as u64));
        } else {
            eprint!("{}", format::attached_probes_text(n as u64));
        }
    }

    fn handle(&self, data: &[u8]) {
        if data.len() < 8 {
            return;
        }
        if self.discarding.get() {
            self.discarded.set(self.discarded.get() + 1);
            return;
        }
        if !self.state.borrow().accepting && !self.iterating.get() {
            return;
        }
        let id = u64::from_ne_bytes(data[..8].try_into().unwrap()) as usize;
        let Some(event) = self.prog.events.get(id) else {
            return;
        };
        let mut args = maps::decode_fields(&self.payloads[id], &data[8..]);
        if let Some(st) = &self.loaded.stacks {
            args.iter_mut().for_each(|a| st.resolve(a));
        }
        match event {
            EventSpec::Printf { fmt, .. } => {
                let text = match &self.formats[id] {
                    Some(pieces) => format::format(pieces, &args),
                    None => format::format_str(fmt, &args),
                };
                if self.json {
                    self.write(&format!("{}\n", format::printf_json(&text)));
                } else {
                    self.write(&text);
                }
            }
            EventSpec::Print { .. } => {
                let v = &args[0];
                if self.json {
                    self.write(&format!("{}\n", format::value_json(v)));
                } else {
                    self.write(&format::value_line_text(v));
                }
            }
            EventSpec::PrintMap { map, top, div } => {
                self.print_map(*map, *top as usize, *div, super::flame::When::Print)
            }
            EventSpec::Clear { map } => {
                maps::clear(&self.loaded.maps[*map], &self.prog.maps[*map], self.ncpus)
            }
            EventSpec::Zero { map } => {
                maps::zero(&self.loaded.maps[*map], &self.prog.maps[*map], self.ncpus)
            }
            EventSpec::Time { fmt } => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as i128)
                    .unwrap_or(0);
                let text = format::strftime_local(fmt, now);
                if self.json {
                    self.write(&format!("{}\n", format::time_json(&text)));
                } else {
                    self.write(&text);
                }
            }
            EventSpec::Cat { fmt, .. } => {
                match format::log::cat_contents(
                    &format::format_str(fmt, &args),
                    self.prog.output.max_cat_bytes,
                ) {
                    Ok(text) if self.json => {
                        self.write(&format!("{}\n", format::log::cat_json(&text)))
                    }
                    Ok(text) => self.write(&text),
                    Err(e) => eprintln!("ERROR: {e}"),
                }
            }
            EventSpec::System { fmt, .. } => {
                match format::log::run_command(&format::format_str(fmt, &args)) {
                    Ok(text) if self.json => self.write(&format!(
                        "{}\n",
                        format::string_event_json("syscall", &text)
                    )),
                    Ok(text) => self.write(&text),
                    Err(e) => eprintln!("ERROR: {e}"),
                }
            }
            EventSpec::Unwatch => {
                if let Some(format::Value::UInt(a)) = args.first() {
                    self.unwatched.borrow_mut().push(*a);
                }
            }
            // Packets come through their own perf buffer (`pcap`), never the ring.
            EventSpec::SkbOutput { .. } => {}
            EventSpec::Join { sep } => {
                let text = format::join_text(&args, sep);
                if self.json {
                    self.write(&format!("{}\n", format::string_event_json("join", &text)));
                } else {
                    self.write(&format!("{text}\n"));
                }
            }
            EventSpec::Log { error: false, .. } if self.no_warnings => {}
            EventSpec::Log {
                error, fmt, site, ..
            } => {
                if *error {
                    self.errors.set(self.errors.get() + 1);
                }
                let msg = format::format_str(fmt, &args);
                if self.json {
                    self.write(&format!(
                        "{}\n",
                        format::log::log_json(*error, &msg, site.as_ref())
                    ));
                } else {
                    self.write(&format::log::log_text(*error, &msg, site.as_ref()));
                }
            }
            EventSpec::Exit => {
                let code = match args.first() {
                    Some(Value::Int(c)) => *c as i32,
                    Some(Value::UInt(c)) => *c as i32,
                    _ => 0,
                };
                let mut st = self.state.borrow_mut();
                st.exit_code = Some(code & 0xff);
                st.accepting = false;
            }
        }
    }

    fn print_map(&self, map: MapId, top: usize, div: u64, when: super::flame::When) {
        let spec = &self.prog.maps[map];
        let mut entries = maps::read(&self.loaded.maps[map], spec);
        if let Some(st) = &self.loaded.stacks {
            for e in &mut entries {
                e.key.iter_mut().for_each(|k| st.resolve(k));
                if let super::format::value::AggValue::Plain(v) = &mut e.value {
                    st.resolve(v);
                }
            }
        }
        let stacks = format::folded::is_stack_map(spec);
        if let (Some(flame), true) = (&self.flame, stacks) {
            if let Err(e) = flame.draw(spec, &entries, when) {
                eprintln!("spyglass: {e}");
            }
        }
        if self.folded && stacks {
            self.write(&format::folded::folded_text(spec, &entries));
        } else if self.json {
            if let Some(line) = format::map_json(spec, entries, top, div) {
                self.write(&format!("{line}\n"));
            }
        } else {
            self.write(&format::map_text(spec, entries, top, div));
        }
    }

    /// The exit-time dump: every map, by name.
    pub fn print_all_maps(&self) {
        if !self.json {
            self.write("\n\n");
        }
        let mut order: Vec<MapId> = (0..self.prog.maps.len()).collect();
        order.sort_by(|a, b| self.prog.maps[*a].name.cmp(&self.prog.maps[*b].name));
        let several = self
            .prog
            .maps
            .iter()
            .filter(|m| format::folded::is_stack_map(m))
            .count()
            > 1;
        for m in order {
            self.print_map(m, 0, 0, super::flame::When::Exit { several });
        }
    }
}
