use super::*;
use crate::program::{FieldType, MapKind};
use crate::runtime::format::hist::{hist_index, lhist_index};
use crate::runtime::format::value::AggValue;

const I: FieldType = FieldType::Int { signed: true };
const U: FieldType = FieldType::Int { signed: false };
const S: FieldType = FieldType::Str { size: 16 };

pub(crate) fn spec(name: &str, key: Vec<FieldType>, kind: MapKind) -> MapSpec {
    MapSpec {
        name: name.into(),
        elf_name: "m".into(),
        key,
        kind,
        max_entries: 4096,
        lru: false,
        reset: false,
        hist_sum: false,
    }
}

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

fn e(key: Vec<Value>, value: AggValue) -> MapEntry {
    MapEntry { key, value }
}

/// hist()/lhist() counts for a list of bucket indexes.
fn buckets(idx: &[u64]) -> AggValue {
    let mut v = vec![0u64; idx.iter().max().map_or(0, |m| *m as usize + 1)];
    for &i in idx {
        v[i as usize] += 1;
    }
    AggValue::Hist {
        counts: v,
        sum: None,
    }
}

#[test]
fn scalar_values() {
    let m = spec("@x", vec![], MapKind::Value(I));
    assert_eq!(
        map_text(&m, vec![e(vec![], AggValue::Plain(Value::Int(-5)))], 0, 0),
        "@x: -5\n"
    );
    let m = spec("@", vec![], MapKind::Count);
    assert_eq!(
        map_text(&m, vec![e(vec![], AggValue::Count(7))], 0, 0),
        "@: 7\n"
    );
    let m = spec("@s", vec![], MapKind::Value(S));
    assert_eq!(
        map_text(&m, vec![e(vec![], AggValue::Plain(s("a b \n d e")))], 0, 0),
        "@s: a b \n d e\n"
    );
    assert_eq!(map_text(&m, vec![], 0, 0), "");
}

#[test]
fn keyed_sorted_by_value() {
    let m = spec("@m", vec![S], MapKind::Count);
    let entries = vec![
        e(vec![s("b")], AggValue::Count(3)),
        e(vec![s("a")], AggValue::Count(1)),
        e(vec![s("c")], AggValue::Count(2)),
    ];
    assert_eq!(
        map_text(&m, entries.clone(), 0, 0),
        "@m[a]: 1\n@m[c]: 2\n@m[b]: 3\n"
    );
    assert_eq!(map_text(&m, entries.clone(), 2, 0), "@m[c]: 2\n@m[b]: 3\n");
    assert_eq!(
        map_text(&m, entries.clone(), 5, 0),
        "@m[a]: 1\n@m[c]: 2\n@m[b]: 3\n"
    );
    assert_eq!(
        map_text(&m, entries, 0, 2),
        "@m[a]: 0\n@m[c]: 1\n@m[b]: 1\n"
    );
    assert_eq!(map_text(&m, vec![], 0, 0), "");
}

#[test]
fn ties_are_ordered_by_key() {
    let m = spec("@", vec![I], MapKind::Count);
    let entries = vec![
        e(vec![Value::Int(3)], AggValue::Count(1)),
        e(vec![Value::Int(-1)], AggValue::Count(1)),
        e(vec![Value::Int(2)], AggValue::Count(1)),
    ];
    assert_eq!(map_text(&m, entries, 0, 0), "@[-1]: 1\n@[2]: 1\n@[3]: 1\n");
}

#[test]
fn tuple_keys_lose_parens() {
    let m = spec("@x", vec![I, I], MapKind::Value(I));
    let entries = vec![e(
        vec![Value::Int(2), Value::Int(1)],
        AggValue::Plain(Value::Int(2)),
    )];
    assert_eq!(map_text(&m, entries, 0, 0), "@x[2, 1]: 2\n");
    let m = spec("@", vec![S, U], MapKind::Count);
    let entries = vec![e(vec![s("bash"), Value::UInt(1234)], AggValue::Count(5))];
    assert_eq!(map_text(&m, entries, 0, 0), "@[bash, 1234]: 5\n");
}

#[test]
fn signed_and_unsigned_value_order() {
    let m = spec("@", vec![S], MapKind::Sum { signed: true });
    let entries = vec![
        e(vec![s("a")], AggValue::Sum(Value::Int(5))),
        e(vec![s("b")], AggValue::Sum(Value::Int(-5))),
    ];
    assert_eq!(map_text(&m, entries, 0, 0), "@[b]: -5\n@[a]: 5\n");
    let m = spec("@", vec![S], MapKind::Value(U));
    let entries = vec![
        e(vec![s("a")], AggValue::Plain(Value::UInt(u64::MAX))),
        e(vec![s("b")], AggValue::Plain(Value::UInt(1))),
    ];
    assert_eq!(
        map_text(&m, entries, 0, 0),
        "@[b]: 1\n@[a]: 18446744073709551615\n"
    );
    // bpftrace compares min/max as unsigned, so a negative min sorts last.
    let m = spec("@", vec![S], MapKind::Min { signed: true });
    let entries = vec![
        e(vec![s("a")], AggValue::Min(Value::Int(-1))),
        e(vec![s("b")], AggValue::Min(Value::Int(5))),
    ];
    assert_eq!(map_text(&m, entries, 0, 0), "@[b]: 5\n@[a]: -1\n");
}

#[test]
fn division() {
    let m = spec("@", vec![], MapKind::Sum { signed: true });
    assert_eq!(
        map_text(&m, vec![e(vec![], AggValue::Sum(Value::Int(-25)))], 0, 10),
        "@: -2\n"
    );
    let m = spec("@", vec![], MapKind::Max { signed: false });
    assert_eq!(
        map_text(&m, vec![e(vec![], AggValue::Max(Value::UInt(99)))], 0, 10),
        "@: 9\n"
    );
    assert_eq!(
        map_text(&m, vec![e(vec![], AggValue::Max(Value::UInt(99)))], 0, 1),
        "@: 99\n"
    );
}

#[test]
fn string_values_sorted_by_key() {
    let m = spec("@", vec![S], MapKind::Value(S));
    let entries = vec![
        e(vec![s("b")], AggValue::Plain(s("1"))),
        e(vec![s("ab")], AggValue::Plain(s("3"))),
        e(vec![s("a")], AggValue::Plain(s("2"))),
    ];
    assert_eq!(map_text(&m, entries, 0, 0), "@[a]: 2\n@[ab]: 3\n@[b]: 1\n");
    // Integer key fields compare as signed 64-bit, field by field.
    let m = spec("@", vec![U, S], MapKind::Value(S));
    let entries = vec![
        e(vec![Value::UInt(1), s("b")], AggValue::Plain(s("x"))),
        e(vec![Value::UInt(u64::MAX), s("z")], AggValue::Plain(s("y"))),
        e(vec![Value::UInt(1), s("a")], AggValue::Plain(s("z"))),
    ];
    assert_eq!(
        map_text(&m, entries, 0, 0),
        "@[18446744073709551615, z]: y\n@[1, a]: z\n@[1, b]: x\n"
    );
}

#[test]
fn avg_maps() {
    let m = spec("@", vec![S], MapKind::Avg { signed: true });
    let entries: Vec<MapEntry> = [("d", 40), ("b", 20), ("a", 10), ("c", 30)]
        .iter()
        .map(|&(k, v)| e(vec![s(k)], AggValue::Avg { count: 1, total: v }))
        .collect();
    let want = include_str!("../../../../../tests/data/outputs/print_avg_map_with_large_top.txt");
    assert_eq!(
        map_text(&m, entries.clone(), 10, 10),
        want.trim_end().to_string() + "\n"
    );
    let want = include_str!("../../../../../tests/data/outputs/print_avg_map_args.txt");
    assert_eq!(
        map_text(&m, entries, 2, 10),
        want.trim_end().to_string() + "\n"
    );

    let m = spec("@a", vec![], MapKind::Avg { signed: true });
    assert_eq!(
        map_text(
            &m,
            vec![e(
                vec![],
                AggValue::Avg {
                    count: 2,
                    total: -5
                }
            )],
            0,
            0
        ),
        "@a: -2\n"
    );
    assert_eq!(
        map_text(
            &m,
            vec![e(vec![], AggValue::Avg { count: 0, total: 0 })],
            0,
            0
        ),
        "@a: 0\n"
    );
    let m = spec("@a", vec![], MapKind::Avg { signed: false });
    assert_eq!(
        map_text(
            &m,
            vec![e(
                vec![],
                AggValue::Avg {
                    count: 2,
                    total: -2
                }
            )],
            0,
            0
        ),
        "@a: 9223372036854775807\n"
    );
}

#[test]
fn stats_maps() {
    let m = spec("@stats", vec![], MapKind::Stats { signed: true });
    let entries = vec![e(
        vec![],
        AggValue::Stats {
            count: 2,
            total: 12,
        },
    )];
    assert_eq!(
        map_text(&m, entries.clone(), 0, 0),
        "@stats: { .count = 2, .average = 6, .total = 12 }\n"
    );
    // div divides only the average.
    assert_eq!(
        map_text(&m, entries, 0, 4),
        "@stats: { .count = 2, .average = 1, .total = 12 }\n"
    );
    let m = spec("@s", vec![S], MapKind::Stats { signed: false });
    let entries = vec![
        e(
            vec![s("zsh")],
            AggValue::Stats {
                count: 1,
                total: 10,
            },
        ),
        e(vec![s("curl")], AggValue::Stats { count: 1, total: 2 }),
    ];
    assert_eq!(
        map_text(&m, entries, 0, 0),
        "@s[curl]: { .count = 1, .average = 2, .total = 2 }\n@s[zsh]: { .count = 1, .average = 10, .total = 10 }\n"
    );
}

#[test]
fn hist_maps() {
    let m = spec("@", vec![], MapKind::Hist { k: 0 });
    let idx: Vec<u64> = [-1, 2, 3, 7, 20]
        .iter()
        .map(|&v| hist_index(v, 0))
        .collect();
    let want = include_str!("../../../../../tests/data/outputs/hist.txt");
    assert_eq!(map_text(&m, vec![e(vec![], buckets(&idx))], 0, 0), want);
    let idx: Vec<u64> = [2, 20].iter().map(|&v| hist_index(v, 0)).collect();
    let want = include_str!("../../../../../tests/data/outputs/hist_2_values.txt");
    assert_eq!(map_text(&m, vec![e(vec![], buckets(&idx))], 0, 0), want);
    // Zeroed: header and blank line only. Cleared: nothing.
    assert_eq!(
        map_text(
            &m,
            vec![e(
                vec![],
                AggValue::Hist {
                    counts: vec![0; 4],
                    sum: None
                }
            )],
            0,
            0
        ),
        "@:\n\n"
    );
    assert_eq!(map_text(&m, vec![], 0, 0), "");
}

#[test]
fn keyed_hist_sorted_by_total() {
    let m = spec("@h", vec![I], MapKind::Hist { k: 0 });
    let entries = vec![
        e(
            vec![Value::Int(1)],
            buckets(&[hist_index(5, 0), hist_index(5, 0)]),
        ),
        e(vec![Value::Int(2)], buckets(&[hist_index(100, 0)])),
    ];
    let row = |l: &str, n: u64| format!("{l:<16}{n:>8} |{}|\n", "@".repeat(52));
    let want = format!(
        "@h[2]:\n{}\n@h[1]:\n{}\n",
        row("[64, 128)", 1),
        row("[4, 8)", 2)
    );
    assert_eq!(map_text(&m, entries.clone(), 0, 0), want);
    assert_eq!(
        map_text(&m, entries, 1, 0),
        format!("@h[1]:\n{}\n", row("[4, 8)", 2))
    );
    let m = spec("@", vec![S], MapKind::Hist { k: 0 });
    let text = map_text(
        &m,
        vec![e(vec![s("ok_key")], buckets(&[hist_index(1, 0)]))],
        0,
        0,
    );
    assert_eq!(text, format!("@[ok_key]:\n{}\n", row("[1]", 1)));
}

#[test]
fn lhist_maps() {
    let m = spec(
        "@",
        vec![],
        MapKind::Lhist {
            min: 0,
            max: 10,
            step: 2,
        },
    );
    let idx: Vec<u64> = [-1, 2, 3, 7, 20]
        .iter()
        .map(|&v| lhist_index(v, 0, 10, 2))
        .collect();
    let want = include_str!("../../../../../tests/data/outputs/lhist.txt");
    assert_eq!(map_text(&m, vec![e(vec![], buckets(&idx))], 0, 0), want);
    // div has no effect on lhist.
    assert_eq!(map_text(&m, vec![e(vec![], buckets(&idx))], 0, 100), want);
    let m = spec(
        "@",
        vec![],
        MapKind::Lhist {
            min: 0,
            max: 100,
            step: 10,
        },
    );
    let text = map_text(
        &m,
        vec![e(vec![], buckets(&[lhist_index(50, 0, 100, 10)]))],
        0,
        0,
    );
    assert_eq!(
        text,
        format!("@:\n[50, 60)               1 |{}|\n\n", "@".repeat(52))
    );
}

#[test]
fn misc_lines() {
    assert_eq!(value_line_text(&Value::Int(5)), "5\n");
    assert_eq!(attached_probes_text(1), "Attached 1 probe\n");
    assert_eq!(attached_probes_text(3), "Attached 3 probes\n");
    assert_eq!(lost_events_text(12), "Lost 12 events\n");
}

/// Integer maps print from their sort keys (`entries::IntRows`): the extremes of signed
/// and unsigned keys and values, several key fields, `top` and `div`.
#[test]
fn integer_maps_print_from_their_sort_keys() {
    let m = spec("@c", vec![I, U], MapKind::Count);
    let entries = vec![
        e(
            vec![Value::Int(i64::MIN), Value::UInt(u64::MAX)],
            AggValue::Count(3),
        ),
        e(vec![Value::Int(-1), Value::UInt(0)], AggValue::Count(3)),
        e(
            vec![Value::Int(7), Value::UInt(1 << 63)],
            AggValue::Count(u64::MAX),
        ),
        e(vec![Value::Int(0), Value::UInt(5)], AggValue::Count(1)),
    ];
    assert_eq!(
        map_text(&m, entries.clone(), 0, 0),
        "@c[0, 5]: 1\n\
         @c[-9223372036854775808, 18446744073709551615]: 3\n\
         @c[-1, 0]: 3\n\
         @c[7, 9223372036854775808]: 18446744073709551615\n"
    );
    assert_eq!(
        map_text(&m, entries, 2, 2),
        "@c[-1, 0]: 1\n@c[7, 9223372036854775808]: 9223372036854775807\n"
    );
    let m = spec("@s", vec![I], MapKind::Sum { signed: true });
    let entries = vec![
        e(vec![Value::Int(1)], AggValue::Sum(Value::Int(i64::MIN))),
        e(vec![Value::Int(2)], AggValue::Sum(Value::Int(-7))),
        e(vec![Value::Int(3)], AggValue::Sum(Value::Int(i64::MAX))),
    ];
    assert_eq!(
        map_text(&m, entries, 0, 2),
        "@s[1]: -4611686018427387904\n@s[2]: -3\n@s[3]: 4611686018427387903\n"
    );
    let m = spec("@v", vec![U], MapKind::Value(U));
    let entries = vec![
        e(vec![Value::UInt(1)], AggValue::Plain(Value::UInt(u64::MAX))),
        e(vec![Value::UInt(2)], AggValue::Plain(Value::UInt(0))),
    ];
    assert_eq!(
        map_text(&m, entries, 0, 0),
        "@v[2]: 0\n@v[1]: 18446744073709551615\n"
    );
}

/// The same rows as the general path (`order`, `take_value_shown`, `write_key`) gives.
#[test]
fn integer_maps_print_as_the_general_path_would() {
    use super::super::entries::{order, take_value_shown, Shown};
    use super::super::value::{write_key, write_value};
    let general = |m: &MapSpec, mut entries: Vec<MapEntry>, top: usize, div: u64| {
        let mut out = String::new();
        for i in order(m, &entries, top) {
            let Shown::Prim(v) = take_value_shown(m, &mut entries[i], div) else {
                unreachable!("integer values")
            };
            out.push_str(&m.name);
            out.push('[');
            write_key(&mut out, &entries[i].key);
            out.push_str("]: ");
            write_value(&mut out, &v);
            out.push('\n');
        }
        out
    };
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Small numbers (ties) as often as any.
        if seed % 3 == 0 {
            seed % 4
        } else {
            seed
        }
    };
    for (kind, fields) in [
        (MapKind::Count, vec![U]),
        (MapKind::Sum { signed: true }, vec![I, I, U]),
        (MapKind::Sum { signed: false }, vec![U, I]),
        (MapKind::Value(I), vec![I, U, I, U]),
    ] {
        let m = spec("@m", fields.clone(), kind.clone());
        let mut seen = std::collections::HashSet::new();
        let mut entries = vec![];
        for _ in 0..200 {
            let key: Vec<Value> = fields
                .iter()
                .map(|f| match f {
                    FieldType::Int { signed: true } => Value::Int(next() as i64),
                    _ => Value::UInt(next()),
                })
                .collect();
            if !seen.insert(key.clone()) {
                continue;
            }
            let value = match kind {
                MapKind::Count => AggValue::Count(next()),
                MapKind::Sum { signed: true } => AggValue::Sum(Value::Int(next() as i64)),
                MapKind::Sum { signed: false } => AggValue::Sum(Value::UInt(next())),
                _ => AggValue::Plain(Value::Int(next() as i64)),
            };
            entries.push(e(key, value));
        }
        for (top, div) in [(0, 0), (0, 3), (10, 1), (1000, 7)] {
            assert_eq!(
                map_text(&m, entries.clone(), top, div),
                general(&m, entries.clone(), top, div),
                "{kind:?} top {top} div {div}"
            );
        }
    }
}
