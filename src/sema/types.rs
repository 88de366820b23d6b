//! The types sema assigns to expressions.

use crate::program::{FieldType, MapKind};

#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// Loaded into 64-bit registers; `bits` is the declared width (casts, `sizeof`, layout).
    Int { signed: bool, bits: u8 },
    Bool,
    /// A NUL-padded string buffer of `size` bytes.
    Str { size: u32 },
    Tuple(Vec<Type>),
    /// A probe's `args` record; only its fields can be used.
    Args,
    /// The result of `count()`, `hist()`, …: assignable to a map, nothing else.
    Agg(MapKind),
    Void,
}

impl Type {
    pub const UINT: Type = Type::Int { signed: false, bits: 64 };
    pub const INT: Type = Type::Int { signed: true, bits: 64 };

    pub fn int(signed: bool) -> Type {
        Type::Int { signed, bits: 64 }
    }

    /// The type bpftrace gives an integer literal: the smallest signed type that holds it.
    pub fn literal(v: u64) -> Type {
        match v {
            0..=0x7f => Type::Int { signed: true, bits: 8 },
            0x80..=0x7fff => Type::Int { signed: true, bits: 16 },
            0x8000..=0x7fff_ffff => Type::Int { signed: true, bits: 32 },
            0x8000_0000..=0x7fff_ffff_ffff_ffff => Type::INT,
            _ => Type::UINT,
        }
    }

    /// A type name usable in casts and `sizeof`.
    pub fn from_name(name: &str) -> Option<Type> {
        Some(match name {
            "bool" => Type::Bool,
            "int8" => Type::Int { signed: true, bits: 8 },
            "int16" => Type::Int { signed: true, bits: 16 },
            "int32" => Type::Int { signed: true, bits: 32 },
            "int64" => Type::INT,
            "uint8" => Type::Int { signed: false, bits: 8 },
            "uint16" => Type::Int { signed: false, bits: 16 },
            "uint32" => Type::Int { signed: false, bits: 32 },
            "uint64" => Type::UINT,
            _ => return None,
        })
    }

    /// Integers and bools: anything arithmetic and conditions accept.
    pub fn is_int(&self) -> bool {
        matches!(self, Type::Int { .. } | Type::Bool)
    }

    pub fn is_signed(&self) -> bool {
        matches!(self, Type::Int { signed: true, .. })
    }

    pub fn is_str(&self) -> bool {
        matches!(self, Type::Str { .. })
    }

    /// How a value of this type is stored in maps and events.
    pub fn field(&self) -> Option<FieldType> {
        match self {
            Type::Int { signed, .. } => Some(FieldType::Int { signed: *signed }),
            Type::Bool => Some(FieldType::Bool),
            Type::Str { size } => Some(FieldType::Str { size: *size }),
            Type::Tuple(elems) => elems.iter().map(Type::field).collect::<Option<Vec<_>>>().map(FieldType::Tuple),
            _ => None,
        }
    }

    pub fn from_field(f: &FieldType) -> Type {
        match f {
            FieldType::Int { signed } => Type::int(*signed),
            FieldType::Bool => Type::Bool,
            FieldType::Str { size } => Type::Str { size: *size },
            FieldType::Tuple(elems) => Type::Tuple(elems.iter().map(Type::from_field).collect()),
        }
    }

    /// Size and alignment as C (and bpftrace's `sizeof`) lays the type out.
    pub fn c_layout(&self) -> (u64, u64) {
        match self {
            Type::Int { bits, .. } => ((*bits as u64) / 8, (*bits as u64) / 8),
            Type::Bool => (1, 1),
            Type::Str { size } => (*size as u64, 1),
            Type::Tuple(elems) => {
                let (mut size, mut align) = (0u64, 1u64);
                for e in elems {
                    let (s, a) = e.c_layout();
                    size = size.div_ceil(a) * a + s;
                    align = align.max(a);
                }
                (size.div_ceil(align) * align, align)
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
            Type::Tuple(elems) => format!("({})", elems.iter().map(Type::describe).collect::<Vec<_>>().join(", ")),
            Type::Args => "args".into(),
            Type::Agg(k) => format!("aggregation ({})", agg_name(k)),
            Type::Void => "nothing (void)".into(),
        }
    }
}

/// Joins two types of one slot (variables): integers widen, strings take the longer size.
pub fn unify_types(a: &Type, b: &Type) -> Option<Type> {
    match (a, b) {
        (Type::Int { signed: x, bits: m }, Type::Int { signed: y, bits: n }) => {
            Some(Type::Int { signed: *x || *y, bits: (*m).max(*n) })
        }
        (Type::Tuple(x), Type::Tuple(y)) if x.len() == y.len() => {
            x.iter().zip(y).map(|(a, b)| unify_types(a, b)).collect::<Option<Vec<_>>>().map(Type::Tuple)
        }
        _ => unify(&a.field()?, &b.field()?).map(|f| Type::from_field(&f)),
    }
}

pub fn agg_name(k: &MapKind) -> &'static str {
    match k {
        MapKind::Value(FieldType::Int { .. }) => "integer",
        MapKind::Value(FieldType::Bool) => "bool",
        MapKind::Value(FieldType::Str { .. }) => "string",
        MapKind::Value(FieldType::Tuple(_)) => "tuple",
        MapKind::Count => "count",
        MapKind::Sum { .. } => "sum",
        MapKind::Avg { .. } => "avg",
        MapKind::Min { .. } => "min",
        MapKind::Max { .. } => "max",
        MapKind::Stats { .. } => "stats",
        MapKind::Hist { .. } => "hist",
        MapKind::Lhist { .. } => "lhist",
    }
}

/// Joins two storage types of one slot: strings widen to the longer, signedness is sticky.
pub fn unify(a: &FieldType, b: &FieldType) -> Option<FieldType> {
    match (a, b) {
        (FieldType::Int { signed: x }, FieldType::Int { signed: y }) => Some(FieldType::Int { signed: *x || *y }),
        (FieldType::Bool, FieldType::Bool) => Some(FieldType::Bool),
        (FieldType::Str { size: x }, FieldType::Str { size: y }) => Some(FieldType::Str { size: *x.max(y) }),
        (FieldType::Tuple(x), FieldType::Tuple(y)) if x.len() == y.len() => {
            x.iter().zip(y).map(|(a, b)| unify(a, b)).collect::<Option<Vec<_>>>().map(FieldType::Tuple)
        }
        _ => None,
    }
}
