//! The raw BTF scan that finds `task_struct` offsets on a first run after boot agrees with
//! libbpf's full parse, member by member, on this kernel's structs.

use spyglass::probes::{btf, btf_scan};

#[test]
fn the_raw_scan_finds_every_member_where_libbpf_does() {
    let structs = [
        "task_struct",
        "mm_struct",
        "sk_buff",
        "file",
        "inode",
        "sock",
        "pt_regs",
    ];
    let mut checked = 0;
    for s in structs {
        let members = btf::struct_members(s).unwrap_or_else(|| panic!("no struct {s}"));
        let mut seen = std::collections::HashSet::new();
        for (off, m) in &members {
            // The first member of a name is the one C (and the scan) finds.
            if m.name.is_empty() || !seen.insert(m.name.clone()) {
                continue;
            }
            assert_eq!(
                btf_scan::member_offset(s, &m.name),
                Some(*off),
                "{s}.{}",
                m.name
            );
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked} members");
    assert_eq!(
        btf_scan::member_offset("task_struct", "no_such_member"),
        None
    );
    assert_eq!(btf_scan::member_offset("no_such_struct", "pid"), None);
}

#[test]
fn the_mapped_btf_is_the_file() {
    let read = std::fs::read("/sys/kernel/btf/vmlinux").unwrap();
    assert!(btf_scan::vmlinux().unwrap() == &read[..]);
}
