use super::*;
use crate::program::{FieldType, MapKind, MapSpec};
use crate::runtime::format::text::tests::spec;

fn text(s: &MapSpec, reset: bool, entries: &[MapEntry]) -> String {
    let s = MapSpec { reset, ..s.clone() };
    metrics_text("spyglass_", &s, entries, 10)
}

const S: FieldType = FieldType::Str { size: 16 };
const I: FieldType = FieldType::Int { signed: true };

#[test]
fn counts_are_counters_with_escaped_string_labels() {
    let m = spec("@syscalls", vec![S], MapKind::Count);
    let entries = vec![
        MapEntry {
            key: vec![Value::Str("a\"b\\c".into())],
            value: AggValue::Count(3),
        },
        MapEntry {
            key: vec![Value::Str("x\ny".into())],
            value: AggValue::Count(4),
        },
    ];
    assert_eq!(
        text(&m, false, &entries),
        "# HELP spyglass_syscalls_total spyglass map @syscalls\n\
         # TYPE spyglass_syscalls_total counter\n\
         spyglass_syscalls_total{key=\"a\\\"b\\\\c\"} 3\n\
         spyglass_syscalls_total{key=\"x\\ny\"} 4\n"
    );
    // A map the script clears is a gauge.
    assert!(text(&m, true, &entries).contains("# TYPE spyglass_syscalls gauge\nspyglass_syscalls{"));
}

#[test]
fn scalars_several_keys_and_gauges() {
    let m = spec("@", vec![], MapKind::Sum { signed: true });
    let e = vec![MapEntry {
        key: vec![],
        value: AggValue::Sum(Value::Int(-2)),
    }];
    assert!(text(&m, false, &e).ends_with("\nspyglass_map_total -2\n"));
    let m = spec("@lat.x", vec![I, S], MapKind::Avg { signed: true });
    let e = vec![MapEntry {
        key: vec![Value::Int(7), Value::Str("sh".into())],
        value: AggValue::Avg {
            count: 4,
            total: 10,
        },
    }];
    assert_eq!(
        text(&m, false, &e),
        "# HELP spyglass_lat_x spyglass map @lat.x\n# TYPE spyglass_lat_x gauge\n\
         spyglass_lat_x{key0=\"7\",key1=\"sh\"} 2.5\n"
    );
}

#[test]
fn histograms_are_cumulative_and_stats_are_summaries() {
    let m = spec(
        "@h",
        vec![],
        MapKind::Lhist {
            min: 0,
            max: 30,
            step: 10,
        },
    );
    // Buckets: <0, [0,9], [10,19], [20,29], >=30.
    let e = vec![MapEntry {
        key: vec![],
        value: AggValue::Hist {
            counts: vec![0, 2, 0, 5],
            sum: Some(81),
        },
    }];
    assert_eq!(
        text(&m, false, &e),
        "# HELP spyglass_h spyglass map @h\n# TYPE spyglass_h histogram\n\
         spyglass_h_bucket{le=\"-1\"} 0\n\
         spyglass_h_bucket{le=\"9\"} 2\n\
         spyglass_h_bucket{le=\"19\"} 2\n\
         spyglass_h_bucket{le=\"29\"} 7\n\
         spyglass_h_bucket{le=\"+Inf\"} 7\n\
         spyglass_h_sum 81\n\
         spyglass_h_count 7\n"
    );
    let m = spec("@s", vec![I], MapKind::Stats { signed: true });
    let e = vec![MapEntry {
        key: vec![Value::Int(1)],
        value: AggValue::Stats {
            count: 3,
            total: 12,
        },
    }];
    assert!(text(&m, false, &e).ends_with(
        "# TYPE spyglass_s summary\nspyglass_s_sum{key=\"1\"} 12\nspyglass_s_count{key=\"1\"} 3\n"
    ));
}

#[test]
fn large_maps_are_cut_and_stack_maps_left_out() {
    let m = spec("@n", vec![I], MapKind::Count);
    let e: Vec<MapEntry> = (0..25)
        .map(|i| MapEntry {
            key: vec![Value::Int(i)],
            value: AggValue::Count(1),
        })
        .collect();
    let t = text(&m, false, &e);
    assert_eq!(t.lines().filter(|l| !l.starts_with('#')).count(), 10);
    assert!(
        t.ends_with("# 15 more keys of @n not shown (max_map_keys)\n"),
        "{t}"
    );
    let stacks = spec(
        "@k",
        vec![FieldType::Kind(crate::kinds::Stack::of(
            false,
            crate::program::StackMode::Bpftrace,
            127,
        ))],
        MapKind::Count,
    );
    assert!(!exported(&stacks));
    assert!(exported(&m));
    assert!(!exported(&spec("@s", vec![], MapKind::Value(S))));
}
