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
    all(path).get(func).map(|ps| {
        ps.iter()
            .map(|p| Param {
                name: p.name.clone(),
                c_type: p.c_type.clone(),
                size: p.size,
                signed: p.signed,
                pointer: p.pointer,
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
}

/// Every function with parameters in a binary's DWARF, read once per path.
fn all(path: &str) -> Arc<HashMap<String, Vec<P>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<HashMap<String, Vec<P>>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(m) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(path) {
        return Arc::clone(m);
    }
    let mut found = HashMap::new();
    if let Ok(data) = std::fs::read(path) {
        if let Ok(file) = object::File::parse(&*data) {
            read(&file, &mut found);
            if found.is_empty() {
                if let Some(d) = super::elf::debug_file(&file).and_then(|p| std::fs::read(p).ok()) {
                    if let Ok(f) = object::File::parse(&*d) {
                        read(&f, &mut found);
                    }
                }
            }
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
        let Ok(unit) = dwarf.unit(header) else {
            continue;
        };
        let _ = read_unit(&dwarf, &unit, out);
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
            let (c_type, size, signed, pointer) = match p.attr_value(gimli::DW_AT_type)? {
                Some(AttributeValue::UnitRef(off)) => describe(dwarf, unit, off, 0)?,
                _ => ("int".into(), 4, true, false),
            };
            params.push(P {
                name: pname,
                c_type,
                size,
                signed,
                pointer,
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

/// A type's C spelling, byte size, signedness and whether it is a pointer.
fn describe(
    dwarf: &gimli::Dwarf<R>,
    unit: &gimli::Unit<R>,
    off: gimli::UnitOffset,
    depth: u32,
) -> gimli::Result<(String, u32, bool, bool)> {
    let e = unit.entry(off)?;
    let name = name_of(dwarf, unit, &e)?;
    let size = match e.attr_value(gimli::DW_AT_byte_size)? {
        Some(v) => v.udata_value().unwrap_or(8) as u32,
        None => 8,
    };
    let inner = |depth| -> gimli::Result<Option<(String, u32, bool, bool)>> {
        if depth > 16 {
            return Ok(None);
        }
        match e.attr_value(gimli::DW_AT_type)? {
            Some(AttributeValue::UnitRef(o)) => describe(dwarf, unit, o, depth + 1).map(Some),
            _ => Ok(None),
        }
    };
    let tag: DwTag = e.tag();
    Ok(match tag {
        gimli::DW_TAG_base_type => {
            let signed = matches!(
                e.attr_value(gimli::DW_AT_encoding)?,
                Some(AttributeValue::Encoding(gimli::DW_ATE_signed))
                    | Some(AttributeValue::Encoding(gimli::DW_ATE_signed_char))
            );
            (name.unwrap_or_else(|| "int".into()), size, signed, false)
        }
        gimli::DW_TAG_pointer_type => {
            let to = inner(depth)?.map_or("void".to_string(), |t| t.0);
            (format!("{to} *"), 8, false, true)
        }
        gimli::DW_TAG_typedef => match inner(depth)? {
            Some((_, s, signed, ptr)) => (name.unwrap_or_default(), s, signed, ptr),
            None => (name.unwrap_or_default(), 8, false, false),
        },
        gimli::DW_TAG_const_type | gimli::DW_TAG_volatile_type | gimli::DW_TAG_restrict_type => {
            let (t, s, signed, ptr) = inner(depth)?.unwrap_or(("void".into(), 8, false, false));
            let q = match tag {
                gimli::DW_TAG_const_type => "const ",
                gimli::DW_TAG_volatile_type => "volatile ",
                _ => "",
            };
            (format!("{q}{t}"), s, signed, ptr)
        }
        gimli::DW_TAG_structure_type => (
            format!("struct {}", name.unwrap_or_default()),
            size,
            false,
            false,
        ),
        gimli::DW_TAG_union_type => (
            format!("union {}", name.unwrap_or_default()),
            size,
            false,
            false,
        ),
        gimli::DW_TAG_enumeration_type => (
            format!("enum {}", name.unwrap_or_default()),
            size,
            false,
            false,
        ),
        _ => (name.unwrap_or_else(|| "void".into()), size, false, false),
    })
}
