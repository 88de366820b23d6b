//! The types sema assigns to expressions.

use crate::program::{EnumDef, FieldType, MapKind};

/// A struct type by name (`struct task_struct`, `union x`) with the size and alignment
/// sizeof, arrays and pointer arithmetic need; fields are resolved by name when used.
#[derive(Debug, Clone, PartialEq)]
pub struct StructRef {
    pub name: String,
    pub size: u64,
    pub align: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// Loaded into 64-bit registers; `bits` is the declared width (casts, `sizeof`, layout).
    Int {
        signed: bool,
        bits: u8,
    },
    Bool,
    /// A NUL-padded string buffer of `size` bytes.
    Str {
        size: u32,
    },
    Tuple(Vec<Type>),
    /// Named elements, in declaration order.
    Record(Vec<String>, Vec<Type>),
    /// An address; `to` is the pointee (`Void` for `void *`), `user` when it points into
    /// user memory (so dereferencing uses `bpf_probe_read_user`).
    Ptr {
        to: Box<Type>,
        user: bool,
    },
    /// A C type spyglass cannot lay out (`struct stat`): only pointers to it exist. A
    /// `struct X` named here is looked up again when a field is used (maps keep only names).
    Opaque(String),
    /// A C struct or union value, laid out by a script definition or the kernel's BTF; its
    /// fields live in sema's struct registry (`sema::structs`).
    Struct(StructRef),
    /// A C array of `len` elements (`char` arrays are strings instead).
    Array {
        elem: Box<Type>,
        len: u64,
    },
    /// An integer of an enum type: printed by its enumerator's name. Arithmetic on it
    /// gives a plain integer.
    Enum(EnumDef),
    /// A probe's `args` record; only its fields can be used.
    Args,
    /// `buf(p, n)`: a length and up to `size` bytes, printed with `\xNN` escapes.
    Buf {
        size: u32,
    },
    /// A value the runtime shows as text (`ntop`, `ksym`, `strftime`): see `kinds`.
    Kind(crate::kinds::ValueKind),
    /// The result of `count()`, `hist()`, …: assignable to a map, nothing else.
    Agg(MapKind),
    Void,
}

/// Words C integer type names are made of.
const C_WORDS: &[&str] = &["char", "short", "int", "long", "signed", "unsigned"];

impl Type {
    pub const UINT: Type = Type::Int {
        signed: false,
        bits: 64,
    };
    pub const INT: Type = Type::Int {
        signed: true,
        bits: 64,
    };

    pub fn int(signed: bool) -> Type {
        Type::Int { signed, bits: 64 }
    }

    /// The type bpftrace gives an integer literal: the smallest signed type that holds it.
    pub fn literal(v: u64) -> Type {
        match v {
            0..=0x7f => Type::Int {
                signed: true,
                bits: 8,
            },
            0x80..=0x7fff => Type::Int {
                signed: true,
                bits: 16,
            },
            0x8000..=0x7fff_ffff => Type::Int {
                signed: true,
                bits: 32,
            },
            0x8000_0000..=0x7fff_ffff_ffff_ffff => Type::INT,
            _ => Type::UINT,
        }
    }

    pub fn ptr(to: Type, user: bool) -> Type {
        Type::Ptr {
            to: Box::new(to),
            user,
        }
    }

    /// A type name usable in casts and `sizeof`: `int8`, `uint32*`, `void **`, …
    pub fn from_name(name: &str) -> Option<Type> {
        if let Some(base) = name.trim_end().strip_suffix('*') {
            return Some(Type::ptr(Type::from_name(base.trim_end())?, false));
        }
        Some(match name {
            // Only useful behind a `*`; casts and declarations reject a plain `void`.
            "void" => Type::Void,
            "bool" => Type::Bool,
            "int8" => Type::Int {
                signed: true,
                bits: 8,
            },
            "int16" => Type::Int {
                signed: true,
                bits: 16,
            },
            "int32" => Type::Int {
                signed: true,
                bits: 32,
            },
            "int64" => Type::INT,
            "uint8" => Type::Int {
                signed: false,
                bits: 8,
            },
            "uint16" => Type::Int {
                signed: false,
                bits: 16,
            },
            "uint32" => Type::Int {
                signed: false,
                bits: 32,
            },
            "uint64" => Type::UINT,
            // C spellings (`unsigned int`, `uint64_t`, `char`) and struct names; what BTF
            // alone knows stays opaque here and sema resolves it (`sema::structs`).
            c if c.starts_with("struct ")
                || c.starts_with("union ")
                || c.ends_with("_t")
                || c.split_whitespace().all(|w| C_WORDS.contains(&w)) =>
            {
                super::pointers::from_c_type(c, false)
            }
            _ => return None,
        })
    }

    /// Integers and bools: anything arithmetic and conditions accept.
    pub fn is_int(&self) -> bool {
        matches!(self, Type::Int { .. } | Type::Bool | Type::Enum(_))
    }

    /// Signedness and width of an integer (enums are unsigned).
    pub fn int_parts(&self) -> Option<(bool, u8)> {
        match self {
            Type::Int { signed, bits } => Some((*signed, *bits)),
            Type::Enum(d) => Some((false, d.bits)),
            _ => None,
        }
    }

    pub fn is_signed(&self) -> bool {
        matches!(self, Type::Int { signed: true, .. })
    }

    pub fn is_str(&self) -> bool {
        matches!(self, Type::Str { .. })
    }

    pub fn is_ptr(&self) -> bool {
        matches!(self, Type::Ptr { .. })
    }

    /// What conditions accept: integers, bools and pointers.
    /// A value that is stored and printed as it is (variables, map values, event fields):
    /// not `args`, an aggregation, void, or a struct (which is copied into a record first).
    pub fn is_plain_value(&self) -> bool {
        match self {
            Type::Int { .. }
            | Type::Bool
            | Type::Str { .. }
            | Type::Tuple(_)
            | Type::Record(..)
            | Type::Buf { .. }
            | Type::Ptr { .. }
            | Type::Enum(_)
            | Type::Kind(_) => true,
            Type::Array { .. } => self.field().is_some(),
            _ => false,
        }
    }

    pub fn is_truthy(&self) -> bool {
        self.is_int() || self.is_ptr()
    }

    /// How a value of this type is stored in maps and events.
    pub fn field(&self) -> Option<FieldType> {
        match self {
            Type::Int { signed, .. } => Some(FieldType::Int { signed: *signed }),
            Type::Bool => Some(FieldType::Bool),
            Type::Str { size } => Some(FieldType::Str { size: *size }),
            Type::Buf { size } => Some(FieldType::Buf { size: *size }),
            Type::Tuple(elems) => elems
                .iter()
                .map(Type::field)
                .collect::<Option<Vec<_>>>()
                .map(FieldType::Tuple),
            Type::Record(names, elems) => elems
                .iter()
                .map(Type::field)
                .collect::<Option<Vec<_>>>()
                .map(|f| FieldType::Record(names.clone(), f)),
            Type::Ptr { to, user } => Some(FieldType::Ptr {
                to: to.describe_c(),
                user: *user,
            }),
            Type::Kind(k) => Some(FieldType::Kind(k.clone())),
            Type::Enum(d) => Some(FieldType::Enum(d.clone())),
            Type::Array { elem, len } => {
                let f = match &**elem {
                    Type::Int { .. } | Type::Bool | Type::Enum(_) | Type::Ptr { .. } => {
                        elem.field()
                    }
                    Type::Str { .. } => elem.field(),
                    _ => None,
                }?;
                Some(FieldType::Array {
                    elem: Box::new(f),
                    elem_size: elem.c_layout().0 as u32,
                    len: *len as u32,
                })
            }
            _ => None,
        }
    }

    pub fn from_field(f: &FieldType) -> Type {
        match f {
            FieldType::Int { signed } => Type::int(*signed),
            FieldType::Bool => Type::Bool,
            FieldType::Str { size } => Type::Str { size: *size },
            FieldType::Buf { size } => Type::Buf { size: *size },
            FieldType::Tuple(elems) => Type::Tuple(elems.iter().map(Type::from_field).collect()),
            FieldType::Record(names, elems) => {
                Type::Record(names.clone(), elems.iter().map(Type::from_field).collect())
            }
            FieldType::Ptr { to, user } => {
                Type::ptr(super::pointers::pointee_from_name(to, *user), *user)
            }
            FieldType::Kind(k) => Type::Kind(k.clone()),
            FieldType::Enum(d) => Type::Enum(d.clone()),
            FieldType::Array {
                elem,
                elem_size,
                len,
            } => Type::Array {
                elem: Box::new(match &**elem {
                    FieldType::Int { signed } => Type::Int {
                        signed: *signed,
                        bits: (*elem_size * 8).min(64) as u8,
                    },
                    e => Type::from_field(e),
                }),
                len: *len as u64,
            },
        }
    }

    /// Size and alignment as C (and bpftrace's `sizeof`) lays the type out.
    pub fn c_layout(&self) -> (u64, u64) {
        match self {
            Type::Int { bits, .. } => ((*bits as u64) / 8, (*bits as u64) / 8),
            Type::Bool => (1, 1),
            Type::Str { size } => (*size as u64, 1),
            Type::Buf { size } => (8 + *size as u64, 8),
            Type::Tuple(elems) | Type::Record(_, elems) => {
                let (mut size, mut align) = (0u64, 1u64);
                for e in elems {
                    let (s, a) = e.c_layout();
                    size = size.div_ceil(a) * a + s;
                    align = align.max(a);
                }
                (size.div_ceil(align) * align, align)
            }
            Type::Struct(r) => (r.size, r.align.max(1)),
            Type::Enum(d) => ((d.bits / 8) as u64, (d.bits / 8) as u64),
            Type::Array { elem, len } => {
                let (s, a) = elem.c_layout();
                (s * len, a)
            }
            _ => (8, 8),
        }
    }

    /// For messages: `int64`, `string[16]`, `(int8, string[4])`, …
    pub fn describe(&self) -> String {
        match self {
            Type::Int { signed, bits } => format!("{}int{bits}", if *signed { "" } else { "u" }),
            Type::Bool => "bool".into(),
            Type::Str { size } => format!("string[{size}]"),
            Type::Buf { size } => format!("buffer[{size}]"),
            Type::Tuple(elems) => format!(
                "({})",
                elems
                    .iter()
                    .map(Type::describe)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Type::Ptr { to, .. } => format!("{} *", to.describe_c()),
            Type::Record(names, elems) => format!(
                "({})",
                names
                    .iter()
                    .zip(elems)
                    .map(|(n, t)| format!("{n}={}", t.describe()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Type::Opaque(name) => name.clone(),
            Type::Struct(r) => r.name.clone(),
            Type::Array { elem, len } => format!("{}[{len}]", elem.describe_c()),
            Type::Enum(d) => d.name.clone(),
            Type::Args => "args".into(),
            Type::Kind(k) => k.kind().type_name().into(),
            Type::Agg(k) => format!("aggregation ({})", agg_name(k)),
            Type::Void => "nothing (void)".into(),
        }
    }
}

impl Type {
    /// The name C (and bpftrace) gives a pointee: `void`, not "nothing (void)".
    pub fn describe_c(&self) -> String {
        match self {
            Type::Void => "void".into(),
            t => t.describe(),
        }
    }
}

/// Joins two types of one slot (variables): integers widen, strings take the longer size.
pub fn unify_types(a: &Type, b: &Type) -> Option<Type> {
    match (a, b) {
        // Equal types join as themselves (keeps struct pointees, which storage names only).
        _ if a == b && a.field().is_some() => Some(a.clone()),
        (Type::Int { signed: x, bits: m }, Type::Int { signed: y, bits: n }) => Some(Type::Int {
            signed: *x || *y,
            bits: (*m).max(*n),
        }),
        (Type::Tuple(x), Type::Tuple(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .map(|(a, b)| unify_types(a, b))
            .collect::<Option<Vec<_>>>()
            .map(Type::Tuple),
        // An enum mixed with another integer (or another enum) is a plain integer.
        (Type::Enum(_) | Type::Int { .. }, Type::Enum(_) | Type::Int { .. }) => {
            let ((x, m), (y, n)) = (a.int_parts()?, b.int_parts()?);
            Some(Type::Int {
                signed: x || y,
                bits: m.max(n),
            })
        }
        _ => unify(&a.field()?, &b.field()?).map(|f| Type::from_field(&f)),
    }
}

pub fn agg_name(k: &MapKind) -> &'static str {
    match k {
        MapKind::Value(FieldType::Int { .. }) => "integer",
        MapKind::Value(FieldType::Bool) => "bool",
        MapKind::Value(FieldType::Str { .. }) => "string",
        MapKind::Value(FieldType::Buf { .. }) => "buffer",
        MapKind::Value(FieldType::Tuple(_)) => "tuple",
        MapKind::Value(FieldType::Record(..)) => "record",
        MapKind::Value(FieldType::Ptr { .. }) => "pointer",
        MapKind::Value(FieldType::Kind(k)) => k.kind().family(),
        MapKind::Value(FieldType::Enum(_)) => "enum",
        MapKind::Value(FieldType::Array { .. }) => "array",
        MapKind::Count => "count",
        MapKind::Sum { .. } => "sum",
        MapKind::Avg { .. } => "avg",
        MapKind::Min { .. } => "min",
        MapKind::Max { .. } => "max",
        MapKind::Stats { .. } => "stats",
        MapKind::Hist { .. } => "hist",
        MapKind::Lhist { .. } => "lhist",
        MapKind::Tseries { .. } => "tseries",
    }
}

/// Joins two storage types of one slot: strings widen to the longer, signedness is sticky.
pub fn unify(a: &FieldType, b: &FieldType) -> Option<FieldType> {
    match (a, b) {
        (FieldType::Int { signed: x }, FieldType::Int { signed: y }) => {
            Some(FieldType::Int { signed: *x || *y })
        }
        (FieldType::Enum(_), FieldType::Enum(_)) if a == b => Some(a.clone()),
        (
            FieldType::Int { .. } | FieldType::Enum(_),
            FieldType::Int { .. } | FieldType::Enum(_),
        ) => {
            let signed = |f: &FieldType| matches!(f, FieldType::Int { signed: true });
            Some(FieldType::Int {
                signed: signed(a) || signed(b),
            })
        }
        (FieldType::Bool, FieldType::Bool) => Some(FieldType::Bool),
        (FieldType::Ptr { .. }, FieldType::Ptr { .. })
        | (FieldType::Kind(_), FieldType::Kind(_))
        | (FieldType::Array { .. }, FieldType::Array { .. })
            if a == b =>
        {
            Some(a.clone())
        }
        (FieldType::Str { size: x }, FieldType::Str { size: y }) => {
            Some(FieldType::Str { size: *x.max(y) })
        }
        (FieldType::Buf { size: x }, FieldType::Buf { size: y }) => {
            Some(FieldType::Buf { size: *x.max(y) })
        }
        (FieldType::Tuple(x), FieldType::Tuple(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .map(|(a, b)| unify(a, b))
            .collect::<Option<Vec<_>>>()
            .map(FieldType::Tuple),
        // Records match by name, in any order; the first one's order is kept.
        (FieldType::Record(xn, x), FieldType::Record(yn, y)) if xn.len() == yn.len() => xn
            .iter()
            .zip(x)
            .map(|(n, a)| {
                let i = yn.iter().position(|m| m == n)?;
                unify(a, &y[i])
            })
            .collect::<Option<Vec<_>>>()
            .map(|f| FieldType::Record(xn.clone(), f)),
        _ => None,
    }
}
