//! Function parameters from DWARF debug info (the `gimli` crate), for `args.NAME` in
//! uprobes: a binary built with `-g`, or one whose separate debug file is installed.
//! Parameters are named and typed from the function's `DW_TAG_formal_parameter`s and
//! read where the x86-64 calling convention puts them: the first six integer or pointer
//! arguments in registers (what bpftrace does too; the debug info's own location lists
//! are not consulted).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use gimli::{AttributeValue, DwTag, EndianSlice, LittleEndian};
use object::{Object, ObjectSection};

use super::btf::Param;

type R<'a> = EndianSlice<'a, LittleEndian>;

/// The parameters of `func` in the binary at `path`, or `None` without debug info for it.
pub(crate) fn func_params(path: &str, func: &str) -> Option<Vec<Param>> {
    classified_params(path, func).map(|ps| ps.into_iter().map(|(p, _)| p).collect())
}

/// How the x86-64 calling convention passes a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Integers, pointers, enums: general-purpose registers.
    Int,
    /// `float`, `double`: SSE registers.
    Float,
    /// Structs, unions, arrays.
    Aggregate,
}

/// The parameters of `func` with their calling-convention class.
pub(crate) fn classified_params(path: &str, func: &str) -> Option<Vec<(Param, Class)>> {
    all(path).get(func).map(|ps| {
        ps.iter()
            .map(|p| {
                let param = Param {
                    name: p.name.clone(),
                    c_type: p.c_type.clone(),
                    size: p.size,
                    signed: p.signed,
                    pointer: p.pointer,
                };
                (param, p.class)
            })
            .collect()
    })
}

#[derive(Clone)]
struct P {
    name: String,
    c_type: String,
    size: u32,
    signed: bool,
    pointer: bool,
    class: Class,
}

/// Every function with parameters in a binary's DWARF, read once per path.
fn all(path: &str) -> Arc<HashMap<String, Vec<P>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<HashMap<String, Vec<P>>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(m) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(path) {
        return Arc::clone(m);
    }
    let mut found = HashMap::new();
    if let Some(data) = super::debuginfo::dwarf_data(path) {
        if let Ok(file) = object::File::parse(&*data) {
            read(&file, &mut found);
        }
    }
    let found = Arc::new(found);
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(path.into(), Arc::clone(&found));
    found
}

fn read(file: &object::File, out: &mut HashMap<String, Vec<P>>) {
    each_unit(file, |dwarf, unit| {
        let _ = read_unit(dwarf, unit, out);
    });
}

/// Calls `f` on every compilation unit of the file's DWARF (none without debug info).
fn each_unit(file: &object::File, mut f: impl FnMut(&gimli::Dwarf<R>, &gimli::Unit<R>)) {
    let load = |id: gimli::SectionId| -> Result<Cow<[u8]>, gimli::Error> {
        Ok(file
            .section_by_name(id.name())
            .and_then(|s| s.uncompressed_data().ok())
            .unwrap_or(Cow::Borrowed(&[])))
    };
    let Ok(sections) = gimli::DwarfSections::load(load) else {
        return;
    };
    let dwarf = sections.borrow(|s| EndianSlice::new(s, LittleEndian));
    let mut units = dwarf.units();
    while let Ok(Some(header)) = units.next() {
        if let Ok(unit) = dwarf.unit(header) {
            f(&dwarf, &unit);
        }
    }
}

fn read_unit(
    dwarf: &gimli::Dwarf<R>,
    unit: &gimli::Unit<R>,
    out: &mut HashMap<String, Vec<P>>,
) -> gimli::Result<()> {
    let mut tree = unit.entries_tree(None)?;
    let root = tree.root()?;
    let mut children = root.children();
    while let Some(node) = children.next()? {
        let e = node.entry();
        if e.tag() != gimli::DW_TAG_subprogram {
            continue;
        }
        // Declarations have no body; the definition carries the parameters too.
        if e.attr_value(gimli::DW_AT_declaration)?.is_some() {
            continue;
        }
        let Some(name) = name_of(dwarf, unit, e)? else {
            continue;
        };
        let mut params = vec![];
        let mut kids = node.children();
        while let Some(k) = kids.next()? {
            let p = k.entry();
            if p.tag() != gimli::DW_TAG_formal_parameter {
                continue;
            }
            let pname = name_of(dwarf, unit, p)?.unwrap_or_else(|| format!("arg{}", params.len()));
            let (c_type, size, signed, pointer, class) = match p.attr_value(gimli::DW_AT_type)? {
                Some(AttributeValue::UnitRef(off)) => describe(dwarf, unit, off, 0)?,
                _ => ("int".into(), 4, true, false, Class::Int),
            };
            params.push(P {
                name: pname,
                c_type,
                size,
                signed,
                pointer,
                class,
            });
        }
        out.entry(name).or_insert(params);
    }
    Ok(())
}

fn name_of(
    dwarf: &gimli::Dwarf<R>,
    unit: &gimli::Unit<R>,
    e: &gimli::DebuggingInformationEntry<R>,
) -> gimli::Result<Option<String>> {
    Ok(match e.attr_value(gimli::DW_AT_name)? {
        Some(v) => Some(dwarf.attr_string(unit, v)?.to_string_lossy().into_owned()),
        None => None,
    })
}

type Described = (String, u32, bool, bool, Class);

/// A type's C spelling, byte size, signedness, whether it is a pointer, and its class.
fn describe(
    dwarf: &gimli::Dwarf<R>,
    unit: &gimli::Unit<R>,
    off: gimli::UnitOffset,
    depth: u32,
) -> gimli::Result<Described> {
    let e = unit.entry(off)?;
    let name = name_of(dwarf, unit, &e)?;
    let size = match e.attr_value(gimli::DW_AT_byte_size)? {
        Some(v) => v.udata_value().unwrap_or(8) as u32,
        None => 8,
    };
    let inner = |depth| -> gimli::Result<Option<Described>> {
        if depth > 16 {
            return Ok(None);
        }
        match e.attr_value(gimli::DW_AT_type)? {
            Some(AttributeValue::UnitRef(o)) => describe(dwarf, unit, o, depth + 1).map(Some),
            _ => Ok(None),
        }
    };
    let tag: DwTag = e.tag();
    let aggregate = |kw: &str, name: Option<String>| {
        (
            format!("{kw} {}", name.unwrap_or_default()),
            size,
            false,
            false,
            Class::Aggregate,
        )
    };
    Ok(match tag {
        gimli::DW_TAG_base_type => {
            let enc = e.attr_value(gimli::DW_AT_encoding)?;
            let signed = matches!(
                enc,
                Some(AttributeValue::Encoding(gimli::DW_ATE_signed))
                    | Some(AttributeValue::Encoding(gimli::DW_ATE_signed_char))
            );
            let class = match enc {
                Some(AttributeValue::Encoding(gimli::DW_ATE_float)) => Class::Float,
                _ => Class::Int,
            };
            (
                name.unwrap_or_else(|| "int".into()),
                size,
                signed,
                false,
                class,
            )
        }
        gimli::DW_TAG_pointer_type | gimli::DW_TAG_reference_type => {
            let to = inner(depth)?.map_or("void".to_string(), |t| t.0);
            (format!("{to} *"), 8, false, true, Class::Int)
        }
        gimli::DW_TAG_typedef => match inner(depth)? {
            Some((_, s, signed, ptr, class)) => (name.unwrap_or_default(), s, signed, ptr, class),
            None => (name.unwrap_or_default(), 8, false, false, Class::Int),
        },
        gimli::DW_TAG_const_type | gimli::DW_TAG_volatile_type | gimli::DW_TAG_restrict_type => {
            let (t, s, signed, ptr, class) =
                inner(depth)?.unwrap_or(("void".into(), 8, false, false, Class::Int));
            let q = match tag {
                gimli::DW_TAG_const_type => "const ",
                gimli::DW_TAG_volatile_type => "volatile ",
                _ => "",
            };
            (format!("{q}{t}"), s, signed, ptr, class)
        }
        gimli::DW_TAG_structure_type | gimli::DW_TAG_class_type => aggregate("struct", name),
        gimli::DW_TAG_union_type => aggregate("union", name),
        gimli::DW_TAG_enumeration_type => (
            format!("enum {}", name.unwrap_or_default()),
            size,
            false,
            false,
            Class::Int,
        ),
        _ => (
            name.unwrap_or_else(|| "void".into()),
            size,
            false,
            false,
            Class::Int,
        ),
    })
}

/// One row of a line table: where a statement of `file` starts.
struct Stmt {
    file: String,
    line: u64,
    col: u64,
    addr: u64,
}

/// The address of the statement at `file:line[:col]` in the binary at `path`, for
/// `uprobe:BIN@FILE:LINE[:COL]`: the lowest address where a statement of that line (and
/// column) begins, as a debugger's breakpoint would be placed. `file` is the whole path
/// or a trailing part of it; statements of included files only match their own names.
pub(crate) fn line_address(
    path: &str,
    file: &str,
    line: u64,
    col: Option<u64>,
) -> Result<u64, String> {
    let data = super::debuginfo::dwarf_data(path)
        .ok_or_else(|| format!("{path} has no DWARF debug info to find {file}:{line} in"))?;
    let obj = object::File::parse(&*data).map_err(|e| format!("{path}: {e}"))?;
    let stmts = statements(&obj);
    let wanted = file.trim_start_matches("./");
    let matches = |full: &str| full == wanted || full.ends_with(&format!("/{wanted}"));
    let mut files: Vec<&str> = stmts
        .iter()
        .map(|s| s.file.as_str())
        .filter(|f| matches(f))
        .collect();
    files.sort_unstable();
    files.dedup();
    let full = match files.as_slice() {
        [] => {
            return Err(format!(
                "no source file `{file}` in the debug info of {path}"
            ))
        }
        [one] => *one,
        many => {
            return Err(format!(
                "source file `{file}` is ambiguous in {path}: {}; give more of its path",
                many.join(", ")
            ))
        }
    };
    let in_file = || stmts.iter().filter(|s| s.file == full);
    let hit = in_file()
        .filter(|s| s.line == line && col.is_none_or(|c| s.col == c))
        .map(|s| s.addr)
        .min();
    if let Some(addr) = hit {
        return Ok(addr);
    }
    let at = match col {
        Some(c) => format!("{file}:{line}:{c}"),
        None => format!("{file}:{line}"),
    };
    if col.is_some() {
        let mut cols: Vec<u64> = in_file()
            .filter(|s| s.line == line)
            .map(|s| s.col)
            .collect();
        cols.sort_unstable();
        cols.dedup();
        if !cols.is_empty() {
            let cols: Vec<String> = cols.iter().map(u64::to_string).collect();
            return Err(format!(
                "no statement starts at {at}; statements of line {line} start at columns {}",
                cols.join(", ")
            ));
        }
    }
    let before = in_file().map(|s| s.line).filter(|&l| l < line).max();
    let after = in_file().map(|s| s.line).filter(|&l| l > line).min();
    let near: Vec<String> = [before, after]
        .iter()
        .flatten()
        .map(u64::to_string)
        .collect();
    Err(match near.as_slice() {
        [] => format!("no statement at {at}"),
        near => format!(
            "no statement at {at}; the nearest lines with statements are {}",
            near.join(" and ")
        ),
    })
}

/// Every statement start of every line table of the file.
fn statements(file: &object::File) -> Vec<Stmt> {
    let mut out = vec![];
    each_unit(file, |dwarf, unit| {
        let _ = unit_statements(dwarf, unit, &mut out);
    });
    out
}

fn unit_statements(
    dwarf: &gimli::Dwarf<R>,
    unit: &gimli::Unit<R>,
    out: &mut Vec<Stmt>,
) -> gimli::Result<()> {
    let Some(program) = unit.line_program.clone() else {
        return Ok(());
    };
    let comp_dir = unit
        .comp_dir
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut names: HashMap<u64, String> = HashMap::new();
    let mut rows = program.rows();
    while let Some((header, row)) = rows.next_row()? {
        if row.end_sequence() || !row.is_stmt() {
            continue;
        }
        let Some(line) = row.line() else { continue };
        let index = row.file_index();
        let file = match names.get(&index) {
            Some(f) => f.clone(),
            None => {
                let Some(entry) = row.file(header) else {
                    continue;
                };
                let mut p = std::path::PathBuf::from(&comp_dir);
                if let Some(dir) = entry.directory(header) {
                    p.push(&*dwarf.attr_string(unit, dir)?.to_string_lossy());
                }
                p.push(
                    &*dwarf
                        .attr_string(unit, entry.path_name())?
                        .to_string_lossy(),
                );
                let f = normalize(&p);
                names.insert(index, f.clone());
                f
            }
        };
        let col = match row.column() {
            gimli::ColumnType::LeftEdge => 0,
            gimli::ColumnType::Column(c) => c.get(),
        };
        out.push(Stmt {
            file,
            line: line.get(),
            col,
            addr: row.address(),
        });
    }
    Ok(())
}

/// `a/./b/../c` → `a/c`, without touching the file system (the sources need not exist
/// here).
fn normalize(p: &std::path::Path) -> String {
    use std::path::Component;
    let mut parts: Vec<String> = vec![];
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir => parts.push(String::new()),
            c => parts.push(c.as_os_str().to_string_lossy().into_owned()),
        }
    }
    match parts.as_slice() {
        [root] if root.is_empty() => "/".into(),
        _ => parts.join("/"),
    }
}
