//! `cgroup_path(id[, filter])`: a cgroup id (8 bytes), shown as its path in every mounted
//! hierarchy whose name matches the filter (all when it is empty).

use super::{word_at, Kind};
use crate::runtime::format::value::Value;
use crate::runtime::stacks::Stacks;

pub struct CgroupPath;

pub static CGROUP_PATH: CgroupPath = CgroupPath;

impl Kind for CgroupPath {
    fn name(&self) -> &'static str {
        "cgroup_path"
    }
    fn type_name(&self) -> &'static str {
        "cgroup_path_t"
    }
    fn decode(&self, bytes: &[u8], arg: &str) -> Value {
        Value::Sym {
            kind: super::ValueKind::new(&CGROUP_PATH, arg),
            addr: word_at(bytes, 0),
            pid: 0,
        }
    }
    // The hierarchies are read when the output is written, as bpftrace does.
    fn resolve(&self, id: u64, _: u32, filter: &str, _: &Stacks) -> Value {
        Value::Str(crate::runtime::symbols::cgroup_path(id, filter))
    }
}
