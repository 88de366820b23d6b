//! `ntop()` and `macaddr()`: addresses written as text in user space.

use super::{word_at, Kind};
use crate::runtime::format::value::{inet6_text, Value};

/// The address family (8 bytes), then the address (16 bytes, IPv4 in the first 4): one
/// type for both families, as in bpftrace, and IPv6's `::` compression is too branchy for
/// the verifier.
pub struct Inet;
/// Six bytes of a MAC address in one word, written `AA:BB:…`.
pub struct Macaddr;

pub static INET: Inet = Inet;
pub static MACADDR: Macaddr = Macaddr;

/// `AF_INET6`.
const AF_INET6: u64 = 10;

impl Kind for Inet {
    fn name(&self) -> &'static str {
        "inet"
    }
    fn type_name(&self) -> &'static str {
        "inet_t"
    }
    fn size(&self) -> usize {
        24
    }
    fn decode(&self, bytes: &[u8], _: &str) -> Value {
        let mut a = [0u8; 16];
        let addr = bytes.get(8..).unwrap_or(&[]);
        let n = addr.len().min(16);
        a[..n].copy_from_slice(&addr[..n]);
        Value::Str(match word_at(bytes, 0) {
            AF_INET6 => inet6_text(a),
            _ => std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string(),
        })
    }
}

impl Kind for Macaddr {
    fn name(&self) -> &'static str {
        "macaddr"
    }
    fn type_name(&self) -> &'static str {
        "macaddr_t"
    }
    fn decode(&self, bytes: &[u8], _: &str) -> Value {
        let b = word_at(bytes, 0).to_le_bytes();
        Value::Str(format!(
            "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        ))
    }
}
