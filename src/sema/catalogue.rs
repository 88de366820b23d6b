//! What sema asks of the function catalogue.
//!
//! The catalogue (`stdlib`) sits above the compiler: each of its entries keeps its type
//! rule and its lowering side by side, and it hands itself to the parser, sema and codegen
//! (`stdlib::STDLIB`, given by the caller), none of which name it. Sema sees an entry as a `TypeRule`.

use super::{CallCheck, Checker, Type};
use crate::diag::{Result, Span};

/// A function's type rule: checks a call's arguments and gives its result type.
pub trait TypeRule: Sync {
    fn check(&self, c: &mut CallCheck) -> Result<Type>;

    /// For functions that change the system rather than observe it (run commands, send
    /// signals, write memory): what they do, said when `--unsafe` is missing.
    fn destructive(&self) -> Option<&'static str> {
        None
    }
}

/// The type of a value builtin (`pid`, `comm`) read where it is written.
pub type BuiltinType = fn(&mut Checker, Span) -> Result<Type>;

/// The catalogue, as sema reads it.
pub trait Catalogue: crate::parser::Vocabulary {
    /// The builtin called `name` (`pid`); `None` when no builtin has that name.
    fn builtin(&self, name: &str) -> Option<BuiltinType>;
    /// The function called `name`, builtins called with parentheses (`pid()`) included.
    fn function(&self, name: &str) -> Option<&'static dyn TypeRule>;
    /// Names to suggest for a misspelt identifier or function.
    fn builtin_names(&self) -> Vec<&'static str>;
    fn function_names(&self) -> Vec<&'static str>;
}
