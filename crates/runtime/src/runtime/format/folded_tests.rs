use super::*;
use crate::program::{FieldType, MapKind, StackMode};
use crate::runtime::format::text::tests::spec;

fn stack_field(user: bool) -> FieldType {
    FieldType::Kind(crate::kinds::Stack::of(user, StackMode::Bpftrace, 127))
}

/// Frames innermost first, as the runtime symbolizes them.
fn stack(user: bool, mode: StackMode, frames: &[&str]) -> Value {
    Value::Stack {
        user,
        mode,
        frames: frames.iter().map(|f| f.to_string()).collect(),
    }
}

fn entry(key: Vec<Value>, n: u64) -> MapEntry {
    MapEntry {
        key,
        value: AggValue::Count(n),
    }
}

#[test]
fn kernel_stacks_fold_outermost_first_and_offsets_merge() {
    let m = spec("@", vec![stack_field(false)], MapKind::Count);
    let b = StackMode::Bpftrace;
    let entries = vec![
        entry(
            vec![stack(
                false,
                b,
                &["memset+12", "do_sys_open+80", "entry_SYSCALL_64+100"],
            )],
            3,
        ),
        // Another offset in the same functions: the same line.
        entry(
            vec![stack(
                false,
                b,
                &["memset+40", "do_sys_open+80", "entry_SYSCALL_64+100"],
            )],
            2,
        ),
        entry(
            vec![stack(false, b, &["schedule+5", "entry_SYSCALL_64+100"])],
            7,
        ),
        entry(vec![stack(false, b, &[])], 1),
    ];
    assert_eq!(
        folded_text(&m, &entries),
        "[unknown] 1\n\
         entry_SYSCALL_64_[k];do_sys_open_[k];memset_[k] 5\n\
         entry_SYSCALL_64_[k];schedule_[k] 7\n"
    );
}

#[test]
fn other_key_fields_lead_and_user_frames_come_before_kernel_frames() {
    let m = spec(
        "@samples",
        vec![
            stack_field(false),
            stack_field(true),
            FieldType::Str { size: 16 },
        ],
        MapKind::Sum { signed: true },
    );
    let b = StackMode::Bpftrace;
    let entries = vec![MapEntry {
        key: vec![
            stack(false, b, &["vfs_read+4", "ksys_read+9"]),
            stack(true, b, &["read+20", "main+8", "__libc_start_main+128"]),
            Value::Str("cat".into()),
        ],
        value: AggValue::Sum(Value::Int(42)),
    }];
    assert_eq!(
        folded_text(&m, &entries),
        "@samples;cat;__libc_start_main;main;read;ksys_read_[k];vfs_read_[k] 42\n"
    );
}

#[test]
fn perf_and_raw_modes_and_awkward_names() {
    let m = spec("@", vec![stack_field(true)], MapKind::Count);
    let entries = vec![
        entry(
            vec![stack(
                true,
                StackMode::Perf,
                &["\t7f00aa func;x+12 (/usr/lib/libc.so.6)", "\t401000 main+3"],
            )],
            1,
        ),
        entry(vec![stack(true, StackMode::Raw, &["7f00aa", "401000"])], 2),
        entry(
            vec![stack(
                true,
                StackMode::Bpftrace,
                &["ns::f(int)+4", "0x401000"],
            )],
            3,
        ),
    ];
    assert_eq!(
        folded_text(&m, &entries),
        "0x401000;ns::f(int) 3\n401000;7f00aa 2\nmain;func:x 1\n"
    );
}

#[test]
fn only_stack_maps_with_a_count_or_sum_are_folded() {
    assert!(is_stack_map(&spec(
        "@",
        vec![stack_field(false)],
        MapKind::Count
    )));
    assert!(is_stack_map(&spec(
        "@",
        vec![FieldType::Int { signed: true }, stack_field(true)],
        MapKind::Sum { signed: false }
    )));
    assert!(!is_stack_map(&spec(
        "@",
        vec![FieldType::Int { signed: true }],
        MapKind::Count
    )));
    assert!(!is_stack_map(&spec(
        "@",
        vec![stack_field(false)],
        MapKind::Hist { k: 0 }
    )));
}
