//! Name resolution and type inference: AST → [`Checked`].
//!
//! Maps get their type from their first assignment anywhere in the script, so a probe may
//! read a map that a later probe writes. Inference therefore runs in rounds: rounds that
//! only learn map types (their errors are dropped) until nothing new is learnt, then one
//! final round that reports the first error.

pub(crate) mod btf;
pub mod catalogue;
mod cdefs;
mod consteval;
pub mod consts;
pub mod core;
mod expr;
pub mod fields;
pub mod params;
pub mod pointers;
pub mod structs;
pub use config::{rb_pages, stack_mode, unstable_level, MAX_STRLEN};
pub use expr::{parse_int, CallCheck};
pub use stmt::let_id;
mod config;
pub(crate) mod stmt;
mod suggest;
pub mod types;
mod warnings;

use std::collections::HashMap;

use crate::diag::{Diagnostic, Result, Span};
use crate::parser::ast::{ExprId, Program};
use crate::probes::{self, ArgField, AttachPoint};
use crate::program::{EventSpec, FieldType, MapId, MapKind, MapSpec};
pub use catalogue::{Catalogue, TypeRule};
pub use types::Type;
pub use warnings::source_site;

/// Knobs that change how a script type-checks.
#[derive(Debug, Clone)]
pub struct Options {
    /// Positional parameters `$1…`.
    pub positional: Vec<String>,
    /// A `-c` child exists (`cpid` is meaningful).
    pub has_child: bool,
    pub max_map_keys: u32,
    /// Most attach points a program may expand to (`max_probes`).
    pub max_probes: u32,
    /// Size of strings read with `str()` and of `__data_loc` strings (`max_strlen`).
    pub strlen: u32,
    /// Temporaries larger than this many bytes live in scratch memory, not on the stack.
    pub on_stack_limit: u32,
    /// Print every map when the program ends.
    pub print_maps_on_exit: bool,
    /// The script's name and text, for run-time messages that quote it (`errorf`).
    pub source: Option<(String, String)>,
    /// `-- --name=value` options, read with `getopt()`; `--unsafe` was given.
    pub named: params::NamedOptions,
    pub unsafe_mode: bool,
    /// Histograms keep the sum of their values too (`MapSpec::hist_sum`).
    pub hist_sums: bool,
    /// Compiled for other kernels (an artifact): nothing is read at offsets learnt from
    /// this kernel where a helper gives the same (`comm`, `pid`, `tid`).
    pub portable: bool,
    /// What is known, when compiling, of the run the program is for; code for the other
    /// cases is left out. `None` (artifacts, which learn it when they load, and the
    /// snapshot tests) checks `program::rodata` at run time instead.
    pub host: Option<Host>,
    /// `-k`: warn at run time when a map read finds no element.
    pub helper_warnings: bool,
    /// The programs' license string (`config = { license = … }`); always GPL-compatible.
    pub license: String,
    /// What an attach point naming something this machine lacks does (`missing_probes`).
    pub missing_probes: MissingProbes,
    /// `unstable_typeinfo`: `error` (bpftrace's default), `warn` or `enable`.
    pub unstable_typeinfo: String,
    /// How `kstack`/`ustack` print when the call names no mode (`stack_mode`).
    pub stack_mode: crate::program::StackMode,
    /// `str_trunc_trailer`, `max_cat_bytes`: passed on to the runtime.
    pub output: crate::program::OutputConfig,
    /// Most programs one script may generate (`max_bpf_progs`).
    pub max_bpf_progs: u32,
}

/// The run a program is compiled for (`Options::host`). The compiled-program cache keys
/// on both: the command line holds `-p`, and the key names the namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// `-p PID` was given: programs filter on it.
    pub filter_pid: bool,
    /// spyglass runs in the initial PID namespace: `pid`/`tid` need no translation.
    pub init_pid_ns: bool,
}

/// `missing_probes`: an attach point whose function, tracepoint or symbol does not exist
/// is an error, or is skipped with or without a warning (an error if nothing is left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingProbes {
    Error,
    Warn,
    Ignore,
}

impl MissingProbes {
    pub fn parse(v: &str) -> Option<Self> {
        match v {
            "error" => Some(MissingProbes::Error),
            "warn" => Some(MissingProbes::Warn),
            "ignore" => Some(MissingProbes::Ignore),
            _ => None,
        }
    }
}

impl Options {
    /// The ring buffer's size in 4 KiB pages as configured: `perf_rb_pages` (kept in
    /// `output`, which the runtime reads for `skboutput`), else the default. A script that
    /// sends little gets a smaller one (`Checked::ring_pages`).
    pub fn ring_pages(&self) -> u32 {
        self.output.perf_rb_pages.unwrap_or(config::PERF_RB_PAGES)
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            positional: vec![],
            has_child: false,
            max_map_keys: 4096,
            max_probes: 1024,
            strlen: 1024,
            on_stack_limit: 32,
            print_maps_on_exit: true,
            source: None,
            named: Default::default(),
            unsafe_mode: false,
            helper_warnings: false,
            hist_sums: false,
            portable: false,
            host: None,
            license: "GPL".into(),
            missing_probes: MissingProbes::Error,
            unstable_typeinfo: "error".into(),
            stack_mode: crate::program::StackMode::Bpftrace,
            output: Default::default(),
            max_bpf_progs: 1024,
        }
    }
}

/// A kernel object a program needs besides its maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    /// The stack-trace map (`kstack`, `ustack`).
    StackMap,
    /// The perf event array `skboutput` writes packets to.
    SkbOutput,
}

/// The checked program: the AST plus everything later stages need to know about it.
#[derive(Debug)]
pub struct Checked {
    pub program: Program,
    /// Type of every expression, by id.
    pub types: Vec<Type>,
    pub maps: Vec<MapSpec>,
    pub map_ids: HashMap<String, MapId>,
    /// Per probe block, in source order.
    pub probes: Vec<ProbeInfo>,
    pub events: Vec<EventSpec>,
    /// The event a call (`printf`, `exit`, …) sends, by the call's expression id.
    pub call_events: HashMap<ExprId, usize>,
    /// Kernel objects the program needs besides its maps, declared by the functions that
    /// use them (`CallCheck::needs`).
    pub resources: std::collections::BTreeSet<Resource>,
    /// Frame slot of every `$var` expression (loop variables are scoped to their loop).
    pub var_slots: HashMap<ExprId, String>,
    /// Frame slot of each `for` statement's variable, by the statement's start offset.
    pub loop_slots: HashMap<usize, String>,
    /// Where each struct field access (`p->f`, `s.f`) reads, by the access's id.
    pub struct_fields: HashMap<ExprId, fields::FieldAccess>,
    /// Struct values used as values (printed, stored): the fields copied into a record.
    pub struct_values: HashMap<ExprId, Vec<fields::Part>>,
    /// Kernel fields read through CO-RE relocations, and kernel layouts used as they are
    /// here (only for `Options::portable`).
    pub core: core::CoreInfo,
    /// For artifacts: the parameters the program reads when it runs (`crate::params`).
    pub param_spec: crate::params::ParamSpec,
    /// Values sema computed (`sizeof`, `offsetof`), by the call's id.
    pub consts: HashMap<ExprId, u64>,
    /// `if` conditions known at compile time, by the condition's id: only the branch taken
    /// was checked, and only it is compiled.
    pub static_conds: HashMap<ExprId, bool>,
    pub options: Options,
    /// Compile-time warnings, in source order.
    pub warnings: Vec<Diagnostic>,
    /// The zero-divisor warning event of each `x /= v` or `x %= v`, by the id of `v` (a
    /// plain `a / b` has its event in `call_events`, by the division's id).
    pub compound_div_events: HashMap<ExprId, usize>,
    /// The "map full" warning event of each map written (by the target's id).
    pub map_full_events: HashMap<ExprId, usize>,
    /// The events that are run-time warnings (a full map, a zero divisor…), by id.
    pub warning_events: std::collections::BTreeSet<usize>,
}

impl Checked {
    /// The ring buffer's size in 4 KiB pages: `perf_rb_pages` if set, else by what the
    /// script sends. Creating the ring allocates and maps all of it (1 MiB: ≈ 0.3 ms of a
    /// 3.5 ms cached start), and a script that prints nothing as it runs needs little: a
    /// ring for `exit()` alone, or bpftrace's smallest (256 KiB) for warnings too.
    pub fn ring_pages(&self) -> u32 {
        if let Some(pages) = self.options.output.perf_rb_pages {
            return pages;
        }
        let control = |e: &EventSpec| matches!(e, EventSpec::Exit | EventSpec::Unwatch);
        let mut events = self.events.iter().enumerate();
        if events.clone().all(|(_, e)| control(e)) {
            config::CONTROL_RB_PAGES
        } else if events.all(|(i, e)| control(e) || self.warning_events.contains(&i)) {
            config::WARNING_RB_PAGES
        } else {
            config::PERF_RB_PAGES
        }
    }

    pub fn ty(&self, id: ExprId) -> &Type {
        &self.types[id as usize]
    }
    pub fn map(&self, name: &str) -> (MapId, &MapSpec) {
        let id = self.map_ids[name];
        (id, &self.maps[id])
    }
}

#[derive(Debug)]
pub struct ProbeInfo {
    /// Groups of attach points that share one BPF program.
    pub programs: Vec<Vec<PointInfo>>,
    /// Types of the block's `$variables`.
    pub vars: HashMap<String, Type>,
    /// The block reads `args` (typed from the probe's own description: a tracepoint's
    /// format, a binary's DWARF).
    pub reads_args: bool,
}

#[derive(Debug, Clone)]
pub struct PointInfo {
    pub attach: AttachPoint,
    pub args: Option<Vec<ArgField>>,
    /// Compiled with BTF-typed arguments (`ProbeType::btf_section`).
    pub btf_typed: bool,
}

/// A map's type as far as inference got.
#[derive(Debug, Clone)]
struct MapDraft {
    key: Option<Vec<FieldType>>,
    kind: Option<MapKind>,
    /// Where the map got its value type, for mismatch messages.
    origin: Option<Span>,
    first_use: Span,
}

pub struct Checker<'a> {
    opts: &'a Options,
    /// The function catalogue (`catalogue.rs`).
    cat: &'a dyn Catalogue,
    types: Vec<Type>,
    maps: Vec<(String, MapDraft)>,
    map_ids: HashMap<String, MapId>,
    events: Vec<EventSpec>,
    call_events: HashMap<ExprId, usize>,
    /// Whether inference learnt something this round.
    changed: bool,
    // Per probe block:
    points: Vec<PointInfo>,
    vars: HashMap<String, Type>,
    uses_args: bool,
    uses_probe: bool,
    /// Loops around the statement being checked: all of them, and `for` over maps (whose
    /// bodies become callbacks, so `exit()`/`return` cannot leave the probe from there).
    loops: u32,
    map_loops: u32,
    pub(crate) resources: std::collections::BTreeSet<Resource>,
    /// The block calls a helper that needs BTF-typed arguments (`skboutput`,
    /// `socket_cookie`): raw tracepoints are then compiled as `tp_btf` programs.
    pub(crate) uses_btf_ctx: bool,
    /// `let @m = hash(N);` declarations by map name.
    decls: HashMap<String, crate::parser::ast::MapDecl>,
    /// Maps the script deletes from, clears or zeroes (`MapSpec::reset`).
    pub(crate) reset_maps: std::collections::HashSet<String>,
    /// Loop variables are scoped to their loop: inside it, `$kv` means the slot named here.
    scoped: HashMap<String, String>,
    /// The slot each `$var` expression and each loop variable resolved to.
    var_slots: HashMap<ExprId, String>,
    loop_slots: HashMap<usize, String>,
    /// Script and kernel struct definitions.
    pub(crate) structs: structs::Registry,
    struct_fields: HashMap<ExprId, fields::FieldAccess>,
    struct_values: HashMap<ExprId, Vec<fields::Part>>,
    pub(crate) core: core::CoreInfo,
    /// Relocated layout values read as constants (`core::Checker::core_const_used`).
    core_consts_fixed: std::cell::RefCell<std::collections::BTreeSet<String>>,
    param_use: std::cell::RefCell<params::ParamUse>,
    pub(crate) consts: HashMap<ExprId, u64>,
    /// `let $x;` without a type takes the type of `$x`'s first assignment: learnt here (by
    /// the `let`'s id) in one round, declared with it in the next.
    pub(crate) let_types: HashMap<ExprId, Type>,
    /// Variables of untyped `let`s still holding their provisional integer type, with the
    /// `let`'s id.
    pub(crate) provisional: HashMap<String, ExprId>,
    pub(crate) static_conds: HashMap<ExprId, bool>,
    /// Compile-time warnings of the last pass over the program.
    pub(crate) warnings: Vec<Diagnostic>,
    compound_div_events: HashMap<ExprId, usize>,
    map_full_events: HashMap<ExprId, usize>,
    warning_events: std::collections::BTreeSet<usize>,
}

pub fn check(mut program: Program, mut opts: Options, cat: &dyn Catalogue) -> Result<Checked> {
    config::apply(&program.config, &mut opts)?;
    let decls = config::map_decls(&program.map_decls)?;
    let mut skipped = vec![];
    let mut fixed_in_attach = vec![];
    let mut points = expand_attach_points(&program, &opts, &mut skipped, &mut fixed_in_attach)?;
    // Probes left without attach points by `missing_probes` go, unless nothing would be left.
    if points.iter().any(Vec::is_empty) {
        if points.iter().all(Vec::is_empty) {
            let first = skipped.swap_remove(0);
            return Err(Diagnostic::error(first.message, first.span)
                .with_label("in this attach point")
                .with_note("no attach point of the program exists on this machine"));
        }
        let mut keep = points.iter().map(|p| !p.is_empty());
        program.probes.retain(|_| keep.next().unwrap());
        points.retain(|p| !p.is_empty());
    }
    let mut registry = structs::Registry::default();
    for d in &program.cdefs {
        cdefs::define(&mut registry, &d.text, d.span.0)?;
    }
    let mut ck = Checker {
        opts: &opts,
        cat,
        types: vec![],
        maps: vec![],
        map_ids: HashMap::new(),
        events: vec![],
        call_events: HashMap::new(),
        changed: false,
        points: vec![],
        vars: HashMap::new(),
        uses_args: false,
        uses_probe: false,
        loops: 0,
        map_loops: 0,
        decls,
        reset_maps: Default::default(),
        resources: Default::default(),
        uses_btf_ctx: false,
        scoped: HashMap::new(),
        var_slots: HashMap::new(),
        loop_slots: HashMap::new(),
        structs: registry,
        struct_fields: HashMap::new(),
        struct_values: HashMap::new(),
        core: Default::default(),
        core_consts_fixed: Default::default(),
        param_use: Default::default(),
        consts: HashMap::new(),
        static_conds: HashMap::new(),
        let_types: HashMap::new(),
        provisional: HashMap::new(),
        warnings: vec![],
        compound_div_events: HashMap::new(),
        map_full_events: HashMap::new(),
        warning_events: Default::default(),
    };
    // Parameters in attach points decide what is attached: an artifact fixes them.
    for n in fixed_in_attach {
        ck.params().get(n);
    }
    let skip_warnings: Vec<Diagnostic> = match opts.missing_probes {
        MissingProbes::Warn => skipped
            .into_iter()
            .map(|s| {
                Diagnostic::warning(s.message, s.span).with_note("skipped (missing_probes = warn)")
            })
            .collect(),
        _ => vec![],
    };
    for _round in 0..8 {
        ck.changed = false;
        for (probe, pts) in program.probes.iter().zip(&points) {
            ck.begin_probe(pts.clone());
            let _ = ck.probe(probe, false);
        }
        if !ck.changed {
            break;
        }
    }
    ck.events.clear();
    ck.call_events.clear();
    ck.warnings.clear();
    ck.compound_div_events.clear();
    ck.map_full_events.clear();
    ck.warning_events.clear();
    let mut infos = vec![];
    let mut nprogs = 0;
    for (probe, pts) in program.probes.iter().zip(&points) {
        ck.begin_probe(pts.clone());
        ck.probe(probe, true)?;
        let programs = ck.group_points();
        nprogs += programs.len();
        if nprogs > opts.max_bpf_progs as usize {
            let span = probe.attach_points.first().map_or((0, 0), |a| a.span);
            return Err(Diagnostic::error(
                format!(
                    "the program needs more than {} BPF programs (max_bpf_progs)",
                    opts.max_bpf_progs
                ),
                span,
            )
            .with_label(format!("this block needs {}", programs.len()))
            .with_note(
                "raise it with BPFTRACE_MAX_BPF_PROGS or `config = { max_bpf_progs = N }`",
            ));
        }
        infos.push(ProbeInfo {
            programs,
            vars: std::mem::take(&mut ck.vars),
            reads_args: ck.uses_args,
        });
    }
    let maps = ck.finish_maps()?;
    let mut warnings = skip_warnings;
    warnings.append(&mut ck.warnings);
    let compound_div_events = std::mem::take(&mut ck.compound_div_events);
    let map_full_events = std::mem::take(&mut ck.map_full_events);
    let warning_events = std::mem::take(&mut ck.warning_events);
    let param_spec = ck.param_spec(&opts);
    let used = std::mem::take(&mut *ck.core_consts_fixed.borrow_mut());
    ck.core.fixed.extend(used);
    let mut types = ck.types;
    types.resize(program.expr_count as usize, Type::Void);
    Ok(Checked {
        program,
        types,
        maps,
        map_ids: ck.map_ids,
        probes: infos,
        events: ck.events,
        call_events: ck.call_events,
        var_slots: ck.var_slots,
        resources: std::mem::take(&mut ck.resources),
        loop_slots: ck.loop_slots,
        struct_fields: ck.struct_fields,
        struct_values: ck.struct_values,
        core: ck.core,
        param_spec,
        consts: ck.consts,
        static_conds: ck.static_conds,
        options: opts,
        warnings,
        compound_div_events,
        map_full_events,
        warning_events,
    })
}

/// An attach point `missing_probes` let through.
struct Skipped {
    message: String,
    span: crate::diag::Span,
}

fn expand_attach_points(
    program: &Program,
    opts: &Options,
    skipped: &mut Vec<Skipped>,
    fixed: &mut Vec<u32>,
) -> Result<Vec<Vec<PointInfo>>> {
    let mut all = vec![];
    let mut total = 0usize;
    for probe in &program.probes {
        let mut pts = vec![];
        for ap in &probe.attach_points {
            let text = substitute_positional(&ap.text, &opts.positional, fixed);
            let expanded = match probes::expand(&text) {
                Ok(x) => x,
                Err(e) if e.missing && opts.missing_probes != MissingProbes::Error => {
                    skipped.push(Skipped {
                        message: e.message,
                        span: ap.span,
                    });
                    continue;
                }
                Err(e) => {
                    return Err(
                        Diagnostic::error(e.message, ap.span).with_label("in this attach point")
                    )
                }
            };
            total += expanded.len();
            if total > opts.max_probes as usize {
                return Err(Diagnostic::error(
                    format!(
                        "the program would attach {total} or more probes, over the limit of {}",
                        opts.max_probes
                    ),
                    ap.span,
                )
                .with_label(format!("this expands to {} probes", expanded.len()))
                .with_note(
                    "raise it with BPFTRACE_MAX_PROBES or `config = { max_probes = N }`; \
                     every attached probe slows the code it instruments",
                ));
            }
            for attach in expanded {
                let args = probes::of(&attach)
                    .args(&attach)
                    .map_err(|m| Diagnostic::error(m, ap.span))?;
                pts.push(PointInfo {
                    attach,
                    args,
                    btf_typed: false,
                });
            }
        }
        all.push(pts);
    }
    Ok(all)
}

/// `$1`…`$N` inside an attach point are replaced by the parameters' text, as bpftrace
/// does (`uprobe:$1:main`); a missing parameter is the empty string.
fn substitute_positional(text: &str, positional: &[String], fixed: &mut Vec<u32>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let digits = rest[i + 1..].bytes().take_while(u8::is_ascii_digit).count();
        match rest[i + 1..i + 1 + digits].parse::<usize>() {
            Ok(n) if n > 0 => {
                fixed.push(n as u32);
                out.push_str(positional.get(n - 1).map_or("", String::as_str))
            }
            _ => out.push_str(&rest[i..i + 1 + digits]),
        }
        rest = &rest[i + 1 + digits..];
    }
    out.push_str(rest);
    out
}

impl<'a> Checker<'a> {
    fn begin_probe(&mut self, points: Vec<PointInfo>) {
        self.points = points;
        self.vars.clear();
        self.provisional.clear();
        self.uses_args = false;
        self.uses_probe = false;
        self.uses_btf_ctx = false;
    }

    fn probe(&mut self, probe: &crate::parser::ast::Probe, final_round: bool) -> Result<()> {
        if let Some(pred) = &probe.predicate {
            let t = self.expr(pred);
            match t {
                Ok(t) if !t.is_truthy() => {
                    if final_round {
                        return Err(Diagnostic::error(
                            "a predicate must be an integer condition",
                            pred.span,
                        )
                        .with_label(format!("this is {}", t.describe())));
                    }
                }
                Err(e) if final_round => return Err(e),
                _ => {}
            }
        }
        self.block(&probe.body, final_round)
    }

    /// One program per attach point when the body depends on which one fired (`args`,
    /// `probe`); otherwise attach points of the same provider share a program.
    fn group_points(&self) -> Vec<Vec<PointInfo>> {
        let split = self.uses_args || self.uses_probe || self.uses_btf_ctx;
        let mut groups: Vec<Vec<PointInfo>> = vec![];
        for p in &self.points {
            let provider = probes::of(&p.attach).names()[0];
            let fixed_section = p.attach.is_test_run() || probes::of(&p.attach).one_program_each();
            match groups.iter_mut().find(|g| {
                !split && !fixed_section && probes::of(&g[0].attach).names()[0] == provider
            }) {
                Some(g) => g.push(p.clone()),
                None => groups.push(vec![PointInfo {
                    btf_typed: self.uses_btf_ctx,
                    ..p.clone()
                }]),
            }
        }
        groups
    }

    pub(crate) fn set_type(&mut self, id: ExprId, t: Type) {
        let i = id as usize;
        if self.types.len() <= i {
            self.types.resize(i + 1, Type::Void);
        }
        self.types[i] = t;
    }

    pub(crate) fn options(&self) -> &Options {
        self.opts
    }

    /// The frame slot `$name` refers to here, recorded for expression `id`.
    pub(crate) fn slot(&mut self, name: &str, id: ExprId) -> String {
        let slot = self
            .scoped
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string());
        self.var_slots.insert(id, slot.clone());
        slot
    }

    /// Whether the code being checked runs inside a `for` over a map.
    pub fn in_map_loop(&self) -> bool {
        self.map_loops > 0
    }

    pub(crate) fn add_event(&mut self, call: ExprId, event: EventSpec) -> usize {
        let id = self.events.len();
        self.events.push(event);
        self.call_events.insert(call, id);
        id
    }

    fn map_id(&mut self, name: &str, span: Span) -> MapId {
        if let Some(&id) = self.map_ids.get(name) {
            return id;
        }
        let id = self.maps.len();
        self.maps.push((
            name.to_string(),
            MapDraft {
                key: None,
                kind: None,
                origin: None,
                first_use: span,
            },
        ));
        self.map_ids.insert(name.to_string(), id);
        self.changed = true;
        id
    }

    /// Records the key types a map is used with.
    pub(crate) fn map_key(&mut self, name: &str, key: Vec<FieldType>, span: Span) -> Result<MapId> {
        let id = self.map_id(name, span);
        let draft = &mut self.maps[id].1;
        match &mut draft.key {
            None => {
                draft.key = Some(key);
                self.changed = true;
            }
            Some(old) if old.len() != key.len() => {
                let msg = match (old.len(), key.len()) {
                    (0, _) => format!("map `{name}` is used both with and without keys"),
                    (_, 0) => format!("map `{name}` is used both with and without keys"),
                    (a, b) => format!("map `{name}` is used with {a} key(s) and with {b} key(s)"),
                };
                return Err(Diagnostic::error(msg, span));
            }
            Some(old) => {
                for (i, (o, n)) in old.iter_mut().zip(key).enumerate() {
                    let u = types::unify(o, &n).ok_or_else(|| {
                        Diagnostic::error(
                            format!(
                                "key {} of map `{name}` is used as both an integer and a string",
                                i + 1
                            ),
                            span,
                        )
                    })?;
                    if u != *o {
                        *o = u;
                        self.changed = true;
                    }
                }
            }
        }
        Ok(id)
    }

    /// Records what a map holds; the first assignment decides, later ones must agree.
    pub(crate) fn map_kind(&mut self, id: MapId, kind: MapKind, span: Span) -> Result<()> {
        let (name, draft) = &mut self.maps[id];
        match &mut draft.kind {
            None => {
                draft.kind = Some(kind);
                draft.origin = Some(span);
                self.changed = true;
                Ok(())
            }
            Some(MapKind::Value(old)) if matches!(kind, MapKind::Value(_)) => {
                let MapKind::Value(ref new) = kind else {
                    unreachable!()
                };
                match types::unify(old, new) {
                    Some(u) => {
                        if u != *old {
                            *old = u;
                            self.changed = true;
                        }
                        Ok(())
                    }
                    None => Err(mismatch(name, old_kind(draft), &kind, span, draft.origin)),
                }
            }
            Some(old) if *old == kind => Ok(()),
            Some(old) => {
                let old = old.clone();
                Err(mismatch(name, &old, &kind, span, draft.origin))
            }
        }
    }

    /// The value type of a map read, if known yet.
    pub(crate) fn map_value(&mut self, name: &str, span: Span) -> Result<Option<MapKind>> {
        let id = self.map_id(name, span);
        Ok(self.maps[id].1.kind.clone())
    }

    fn finish_maps(&self) -> Result<Vec<MapSpec>> {
        let mut out = vec![];
        for (i, (name, d)) in self.maps.iter().enumerate() {
            let kind = d.kind.clone().ok_or_else(|| {
                Diagnostic::error(
                    format!("map `{name}` is used but never assigned a value"),
                    d.first_use,
                )
                .with_label("used here")
            })?;
            let key = d.key.clone().unwrap_or_default();
            let max_entries = if key.is_empty() && !kind.is_histogram() {
                1
            } else {
                self.opts.max_map_keys
            };
            let decl = self.decls.get(name);
            let max_entries = decl.map_or(max_entries, |d| d.size as u32);
            let lru = decl.is_some_and(|d| d.kind.contains("lru"));
            out.push(MapSpec {
                name: name.clone(),
                elf_name: format!("map_{i}"),
                key,
                max_entries,
                lru,
                reset: self.reset_maps.contains(name),
                hist_sum: self.opts.hist_sums && kind.is_histogram(),
                kind,
            });
        }
        Ok(out)
    }
}

fn old_kind(d: &MapDraft) -> &MapKind {
    d.kind.as_ref().expect("checked by caller")
}

fn mismatch(
    name: &str,
    old: &MapKind,
    new: &MapKind,
    span: Span,
    origin: Option<Span>,
) -> Diagnostic {
    let d = Diagnostic::error(
        format!(
            "map `{name}` holds {} values, but this assigns {}",
            types::agg_name(old),
            types::agg_name(new)
        ),
        span,
    )
    .with_label(format!("this is {}", types::agg_name(new)));
    // Same aggregation, other arguments (hist bits, lhist range, tseries interval, …).
    let d = if types::agg_name(old) == types::agg_name(new) {
        d.with_note("every assignment to one map must pass the same arguments")
    } else {
        d
    };
    match origin {
        Some(o) => d.with_secondary(o, format!("`{name}` got its type here")),
        None => d,
    }
}
