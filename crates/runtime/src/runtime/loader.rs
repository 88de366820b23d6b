//! Loading the ELF with libbpf: run-time constants, the verifier's verdict, and the
//! map/program handles the rest of the runtime uses.

use std::sync::Mutex;

use libbpf_rs::{MapCore, MapHandle, Object, ObjectBuilder, PrintLevel};

use crate::program::{rodata, CompiledProgram};

/// libbpf's messages from the current load, kept so a failure can show the verifier log.
static LIBBPF_LOG: Mutex<String> = Mutex::new(String::new());

fn capture(level: PrintLevel, msg: String) {
    if level != PrintLevel::Debug {
        if let Ok(mut log) = LIBBPF_LOG.lock() {
            log.push_str(&msg);
        }
    }
}

/// Sends libbpf's messages to the load's log instead of stderr.
pub(super) fn capture_libbpf_messages() {
    libbpf_rs::set_print(Some((PrintLevel::Info, capture)));
}

/// A load failure: which program (if libbpf said) and the kernel's explanation.
#[derive(Debug)]
pub struct LoadError {
    pub prog: Option<String>,
    pub message: String,
    pub verifier_log: String,
}

pub struct Loaded {
    pub object: Object,
    /// Handles to the `@maps`, in `CompiledProgram::maps` order.
    pub maps: Vec<MapHandle>,
    pub ringbuf: MapHandle,
    /// The records' ring and its size (`CompiledProgram::records`).
    pub records: Option<(MapHandle, u64)>,
    /// The `.bss` section holding `program::LOST_EVENTS`, when the script sends events.
    pub lost: Option<MapHandle>,
    /// `skboutput`'s perf event array.
    pub skb: Option<MapHandle>,
    /// The section of `program::STOP`, when a program is attached.
    stop: Option<MapHandle>,
    /// Symbolizes `kstack`/`ustack`/`ksym`/`usym`/`cgroup_path` values.
    pub stacks: Option<super::stacks::Stacks>,
}

/// `params` is an artifact's parameter area (`crate::params`), placed after the constants.
pub fn load(
    prog: &CompiledProgram,
    consts: [u64; rodata::LEN],
    params: &[u8],
) -> Result<Loaded, LoadError> {
    capture_libbpf_messages();
    LIBBPF_LOG.lock().map(|mut l| l.clear()).ok();
    let fail = |e: libbpf_rs::Error| {
        let log = LIBBPF_LOG.lock().map(|l| l.clone()).unwrap_or_default();
        LoadError {
            prog: failing_program(&log),
            message: e.to_string(),
            verifier_log: log,
        }
    };
    let mut open = ObjectBuilder::default()
        .name("spyglass")
        .map_err(fail)?
        .open_memory(&prog.elf)
        .map_err(fail)?;
    for mut m in open.maps_mut() {
        if crate::program::is_scratch_map(&m.name().to_string_lossy()) {
            let cpus = consts[rodata::NCPUS].max(1) as u32;
            m.set_max_entries(cpus).map_err(fail)?;
        }
        if m.name().to_string_lossy().ends_with(".rodata") {
            if let Some(data) = m.initial_value_mut() {
                for (i, v) in consts.iter().enumerate() {
                    if data.len() >= 8 * (i + 1) {
                        data[8 * i..8 * (i + 1)].copy_from_slice(&v.to_ne_bytes());
                    }
                }
                let at = 8 * rodata::LEN;
                if data.len() >= at + params.len() {
                    data[at..at + params.len()].copy_from_slice(params);
                }
            }
        }
    }
    // Probes that target something at load time (a running BPF program) set it now; the
    // fds they return stay open until the object is loaded.
    let mut targets = vec![];
    for p in &prog.probes {
        for ap in &p.attach {
            let Some(mut handle) = open
                .progs_mut()
                .find(|h| h.name().to_string_lossy() == p.prog_name)
            else {
                continue;
            };
            let fd = crate::probes::of(ap)
                .before_load(&mut handle, ap)
                .map_err(|message| LoadError {
                    prog: Some(p.prog_name.clone()),
                    message,
                    verifier_log: String::new(),
                })?;
            targets.extend(fd);
        }
    }
    let object = open.load();
    super::features::save();
    let object = object.map_err(fail)?;
    drop(targets);
    let handle = |name: &str| -> Result<MapHandle, LoadError> {
        let m = object
            .maps()
            .find(|m| m.name().to_string_lossy() == name)
            .ok_or_else(|| LoadError {
                prog: None,
                message: format!("map {name} missing from the object"),
                verifier_log: String::new(),
            })?;
        MapHandle::try_from(&m).map_err(fail)
    };
    let maps = prog
        .maps
        .iter()
        .map(|m| handle(&m.elf_name))
        .collect::<Result<Vec<_>, _>>()?;
    let ringbuf = handle(&prog.ringbuf)?;
    let records = match &prog.records {
        Some(r) => Some((handle(&r.map)?, r.size)),
        None => None,
    };
    let stack_map = match &prog.stack_map {
        Some(name) => Some(handle(name)?),
        None => None,
    };
    let stacks = Some(super::stacks::Stacks::new(stack_map));
    let skb = match &prog.skb_map {
        Some(name) => Some(handle(name)?),
        None => None,
    };
    let lost = match object
        .maps()
        .find(|m| m.name().to_string_lossy().ends_with(".bss"))
    {
        Some(m) => Some(MapHandle::try_from(&m).map_err(fail)?),
        None => None,
    };
    let stop = match object
        .maps()
        .find(|m| m.name().to_string_lossy() == crate::program::STOP_SECTION)
    {
        Some(m) => Some(MapHandle::try_from(&m).map_err(fail)?),
        None => None,
    };
    libbpf_rs::set_print(None);
    Ok(Loaded {
        stop,
        object,
        maps,
        skb,
        stacks,
        ringbuf,
        records,
        lost,
    })
}

impl Loaded {
    /// Silences every attached program (`program::STOP`); detaching them can then take its
    /// time.
    pub fn stop(&self) {
        if let Some(m) = &self.stop {
            let _ = m.update(
                &0u32.to_ne_bytes(),
                &1u64.to_ne_bytes(),
                libbpf_rs::MapFlags::ANY,
            );
        }
    }

    /// Records dropped so far because the ring buffer was full.
    pub fn lost_events(&self) -> u64 {
        let Some(m) = &self.lost else { return 0 };
        match m.lookup(&0u32.to_ne_bytes(), libbpf_rs::MapFlags::ANY) {
            Ok(Some(v)) if v.len() >= 8 => u64::from_ne_bytes(v[..8].try_into().unwrap()),
            _ => 0,
        }
    }
}

/// libbpf names the failing program in "prog 'NAME': …" lines.
fn failing_program(log: &str) -> Option<String> {
    log.lines().rev().find_map(|l| {
        let rest = &l[l.find("prog '")? + 6..];
        Some(rest[..rest.find('\'')?].to_string())
    })
}

/// The verifier's own words: the last lines of the load log, without libbpf's framing.
pub fn verifier_summary(log: &str) -> String {
    let body: Vec<&str> = log
        .lines()
        .skip_while(|l| !l.contains("BEGIN PROG LOAD LOG"))
        .skip(1)
        .take_while(|l| !l.contains("END PROG LOAD LOG"))
        .collect();
    let lines: Vec<&str> = if body.is_empty() {
        log.lines().collect()
    } else {
        body
    };
    let start = lines.len().saturating_sub(6);
    lines[start..].join("\n")
}

/// The BPF helper the verifier refused as unknown ("invalid func unknown#212") or as not
/// allowed in this program type ("program of this type cannot use helper bpf_x#N"): an
/// artifact built for a newer kernel meets an older one.
pub fn missing_helper(log: &str) -> Option<String> {
    if let Some(rest) = log.split("invalid func unknown#").nth(1) {
        let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
        // libbpf's mark for a CO-RE relocation that found nothing, not a helper.
        if !id.is_empty() && id != "195896080" {
            return Some(format!("BPF helper #{id}"));
        }
    }
    let rest = log.split("cannot use helper ").nth(1)?;
    let name: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    Some(format!("the BPF helper {name}"))
}

/// The kernel field a CO-RE relocation found no match for, as libbpf writes it into the
/// verifier log: "failed to resolve CO-RE relocation <byte_off> [23] struct
/// task_struct.extra (0:0 @ offset 100)" gives `struct task_struct.extra`.
/// The type's flavor suffix (`task_struct___sg1`, see `codegen/core.rs`) is not shown.
pub fn missing_core_field(log: &str) -> Option<String> {
    let rest = log.split("failed to resolve CO-RE relocation").nth(1)?;
    let rest = &rest[rest.find("] ")? + 2..];
    let field = rest[..rest.find(" (")?].trim();
    Some(match field.split_once("___") {
        Some((head, tail)) => {
            let tail = tail.find('.').map_or("", |i| &tail[i..]);
            format!("{head}{tail}")
        }
        None => field.to_string(),
    })
}
