//! The types sema assigns to expressions.

use crate::program::{FieldType, MapKind};

#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// Every integer is 64 bits wide once loaded; only the signedness is tracked.
    Int { signed: bool },
    /// A NUL-padded string buffer of `size` bytes.
    Str { size: u32 },
    /// A probe's `args` record; only its fields can be used.
    Args,
    /// The result of `count()`, `hist()`, …: assignable to a map, nothing else.
    Agg(MapKind),
    Void,
}

impl Type {
    pub const UINT: Type = Type::Int { signed: false };
    pub const INT: Type = Type::Int { signed: true };

    pub fn is_int(&self) -> bool {
        matches!(self, Type::Int { .. })
    }

    pub fn is_str(&self) -> bool {
        matches!(self, Type::Str { .. })
    }

    /// How a value of this type is stored in maps and events.
    pub fn field(&self) -> Option<FieldType> {
        match *self {
            Type::Int { signed } => Some(FieldType::Int { signed }),
            Type::Str { size } => Some(FieldType::Str { size }),
            _ => None,
        }
    }

    pub fn from_field(f: FieldType) -> Type {
        match f {
            FieldType::Int { signed } => Type::Int { signed },
            FieldType::Str { size } => Type::Str { size },
        }
    }

    /// For messages: `integer`, `string`, …
    pub fn describe(&self) -> String {
        match self {
            Type::Int { signed: true } => "integer (int64)".into(),
            Type::Int { signed: false } => "integer (uint64)".into(),
            Type::Str { size } => format!("string[{size}]"),
            Type::Args => "args".into(),
            Type::Agg(k) => format!("aggregation ({})", agg_name(k)),
            Type::Void => "nothing (void)".into(),
        }
    }
}

pub fn agg_name(k: &MapKind) -> &'static str {
    match k {
        MapKind::Value(FieldType::Int { .. }) => "integer",
        MapKind::Value(FieldType::Str { .. }) => "string",
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
pub fn unify(a: FieldType, b: FieldType) -> Option<FieldType> {
    match (a, b) {
        (FieldType::Int { signed: x }, FieldType::Int { signed: y }) => Some(FieldType::Int { signed: x || y }),
        (FieldType::Str { size: x }, FieldType::Str { size: y }) => Some(FieldType::Str { size: x.max(y) }),
        _ => None,
    }
}
