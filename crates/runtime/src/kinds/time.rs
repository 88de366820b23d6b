//! `strftime(fmt, ns)`: boot-clock nanoseconds, formatted with `fmt` when printed.

use super::{word_at, Kind};
use crate::runtime::format::time::{boot_to_unix_ns, strftime_local};
use crate::runtime::format::value::Value;

pub struct Timestamp;

pub static TIMESTAMP: Timestamp = Timestamp;

impl Kind for Timestamp {
    fn name(&self) -> &'static str {
        "timestamp"
    }
    fn type_name(&self) -> &'static str {
        "timestamp"
    }
    fn family(&self) -> &'static str {
        "timestamp"
    }
    fn decode(&self, bytes: &[u8], fmt: &str) -> Value {
        Value::Str(strftime_local(fmt, boot_to_unix_ns(word_at(bytes, 0))))
    }
}
