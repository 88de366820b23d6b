use super::*;
use crate::program::FieldType;
use crate::runtime::format::hist::{hist_index, lhist_index};
use crate::runtime::format::value::AggValue;

const I: FieldType = FieldType::Int { signed: true };
const S: FieldType = FieldType::Str { size: 16 };

fn spec(name: &str, key: Vec<FieldType>, kind: MapKind) -> MapSpec {
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

fn hist_of(values: &[i64]) -> AggValue {
    buckets(&values.iter().map(|&v| hist_index(v, 0)).collect::<Vec<_>>())
}

/// Same JSON document as a conformance expectation file (key order ignored).
fn same_as_file(got: Option<String>, file: &str) {
    let got = got.expect("no output");
    assert!(!got.contains('\n'), "{got}");
    let path = format!(
        "{}/../../tests/data/outputs/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let want = std::fs::read_to_string(&path).unwrap();
    let g: serde_json::Value =
        serde_json::from_str(&got).unwrap_or_else(|err| panic!("{err}: {got}"));
    let w: serde_json::Value = serde_json::from_str(&want).unwrap();
    assert_eq!(g, w, "{got}");
}

#[test]
fn scalar_maps() {
    let m = spec("@scalar", vec![], MapKind::Value(I));
    let out = map_json(&m, vec![e(vec![], AggValue::Plain(Value::Int(5)))], 0, 0);
    assert_eq!(
        out.as_deref(),
        Some(r#"{"type": "map", "data": {"@scalar": 5}}"#)
    );
    same_as_file(out, "scalar.json");
    let m = spec("@scalar_str", vec![], MapKind::Value(S));
    let out = map_json(&m, vec![e(vec![], AggValue::Plain(s("a b \n d e")))], 0, 0);
    assert_eq!(
        out.as_deref(),
        Some(r#"{"type": "map", "data": {"@scalar_str": "a b \n d e"}}"#)
    );
    same_as_file(out, "scalar_str.json");
    assert_eq!(map_json(&m, vec![], 0, 0), None);
}

#[test]
fn keyed_maps() {
    let m = spec("@map", vec![S], MapKind::Value(I));
    let entries = vec![
        e(vec![s("key2")], AggValue::Plain(Value::Int(3))),
        e(vec![s("key1")], AggValue::Plain(Value::Int(2))),
    ];
    let out = map_json(&m, entries, 0, 0);
    assert_eq!(
        out.as_deref(),
        Some(r#"{"type": "map", "data": {"@map": {"key1": 2, "key2": 3}}}"#)
    );
    same_as_file(out, "map.json");
    let m = spec("@complex", vec![S, I], MapKind::Count);
    let out = map_json(
        &m,
        vec![e(vec![s("bpftrace"), Value::Int(2)], AggValue::Count(5))],
        0,
        0,
    );
    same_as_file(out, "complex.json");
    assert_eq!(map_json(&m, vec![], 0, 0), None);
    // Spaces are stripped from keys, even inside strings.
    let m = spec("@", vec![S], MapKind::Count);
    let out = map_json(&m, vec![e(vec![s("a b")], AggValue::Count(1))], 0, 0);
    assert_eq!(
        out.as_deref(),
        Some(r#"{"type": "map", "data": {"@": {"ab": 1}}}"#)
    );
}

#[test]
fn multiple_maps_ndjson() {
    let want = include_str!("../../../../../tests/data/outputs/multiple_maps.ndjson");
    let lines: Vec<&str> = want.lines().collect();
    let m1 = spec("@map1", vec![S], MapKind::Value(I));
    let m2 = spec("@map2", vec![S], MapKind::Value(I));
    let got1 = map_json(
        &m1,
        vec![e(vec![s("key1")], AggValue::Plain(Value::Int(2)))],
        0,
        0,
    )
    .unwrap();
    let got2 = map_json(
        &m2,
        vec![e(vec![s("key2")], AggValue::Plain(Value::Int(3)))],
        0,
        0,
    )
    .unwrap();
    for (g, w) in [(got1, lines[0]), (got2, lines[1])] {
        let g: serde_json::Value = serde_json::from_str(&g).unwrap();
        assert_eq!(g, serde_json::from_str::<serde_json::Value>(w).unwrap());
    }
}

#[test]
fn stats_and_avg() {
    let m = spec("@stats", vec![], MapKind::Stats { signed: true });
    let out = map_json(
        &m,
        vec![e(
            vec![],
            AggValue::Stats {
                count: 2,
                total: 12,
            },
        )],
        0,
        0,
    );
    assert_eq!(
        out.as_deref(),
        Some(r#"{"type": "stats", "data": {"@stats": {"count": 2, "average": 6, "total": 12}}}"#)
    );
    same_as_file(out, "stats.json");
    let m = spec("@stats", vec![S], MapKind::Stats { signed: true });
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
    same_as_file(map_json(&m, entries, 0, 0), "stats_multiple.json");
    let m = spec("@", vec![S], MapKind::Avg { signed: true });
    let entries: Vec<MapEntry> = [("a", 10), ("b", 20), ("c", 30), ("d", 40)]
        .iter()
        .map(|&(k, v)| e(vec![s(k)], AggValue::Avg { count: 1, total: v }))
        .collect();
    assert_eq!(
        map_json(&m, entries, 2, 10).as_deref(),
        Some(r#"{"type": "stats", "data": {"@": {"c": 3, "d": 4}}}"#)
    );
    // bpftrace still emits empty avg/stats maps, as an empty object.
    assert_eq!(
        map_json(&m, vec![], 0, 0).as_deref(),
        Some(r#"{"type": "stats", "data": {"@": {}}}"#)
    );
    let m = spec("@a", vec![], MapKind::Avg { signed: true });
    let out = map_json(
        &m,
        vec![e(
            vec![],
            AggValue::Avg {
                count: 3,
                total: 10,
            },
        )],
        0,
        0,
    );
    assert_eq!(
        out.as_deref(),
        Some(r#"{"type": "stats", "data": {"@a": 3}}"#)
    );
}

#[test]
fn hist_maps() {
    let m = spec("@hist", vec![], MapKind::Hist { k: 0 });
    same_as_file(
        map_json(&m, vec![e(vec![], hist_of(&[2, 1025]))], 0, 0),
        "hist.json",
    );
    same_as_file(
        map_json(
            &m,
            vec![e(
                vec![],
                AggValue::Hist {
                    counts: vec![0; 5],
                    sum: None,
                },
            )],
            0,
            0,
        ),
        "hist_zero.json",
    );
    assert_eq!(map_json(&m, vec![], 0, 0), None);
    let m = spec("@", vec![], MapKind::Hist { k: 0 });
    same_as_file(
        map_json(&m, vec![e(vec![], hist_of(&[10 << 30]))], 0, 0),
        "hist_10g.json",
    );
    let m = spec("@", vec![], MapKind::Hist { k: 3 });
    let all = buckets(&(0..1024).map(|v| hist_index(v, 3)).collect::<Vec<_>>());
    same_as_file(map_json(&m, vec![e(vec![], all)], 0, 0), "hist_2args.json");
}

#[test]
fn keyed_hist_maps() {
    let m = spec("@", vec![S], MapKind::Hist { k: 0 });
    let entries = vec![
        e(vec![s("curl")], hist_of(&[-1, 0, 511, 1024, 1025])),
        e(vec![s("bpftrace")], hist_of(&[2])),
    ];
    let out = map_json(&m, entries, 0, 0);
    assert!(out.as_deref().unwrap().starts_with(r#"{"type": "hist", "data": {"@": {"bpftrace": [{"min": 2, "max": 3, "count": 1}], "curl": [{"max": -1, "count": 1},{"min": 0, "#));
    same_as_file(out, "hist_multiple.json");
    let m = spec("@", vec![S, I], MapKind::Hist { k: 0 });
    let entries = vec![
        e(vec![s("curl"), Value::Int(3)], hist_of(&[256, 1024])),
        e(vec![s("bpftrace"), Value::Int(2)], hist_of(&[2])),
    ];
    same_as_file(
        map_json(&m, entries, 0, 0),
        "hist_multiple_multiple_keys.json",
    );
    let m = spec("@", vec![I], MapKind::Hist { k: 0 });
    let entries: Vec<MapEntry> = [(1, 10), (2, 20), (3, 30)]
        .iter()
        .map(|&(k, v)| e(vec![Value::Int(k)], hist_of(&[v])))
        .collect();
    assert_eq!(
        map_json(&m, entries, 2, 0).as_deref(),
        Some(
            r#"{"type": "hist", "data": {"@": {"2": [{"min": 16, "max": 31, "count": 1}], "3": [{"min": 16, "max": 31, "count": 1}]}}}"#
        )
    );
}

#[test]
fn lhist_maps() {
    let lh = |vals: &[i64]| {
        buckets(
            &vals
                .iter()
                .map(|&v| lhist_index(v, 0, 100, 10))
                .collect::<Vec<_>>(),
        )
    };
    let m = spec(
        "@h",
        vec![],
        MapKind::Lhist {
            min: 0,
            max: 100,
            step: 10,
        },
    );
    same_as_file(
        map_json(&m, vec![e(vec![], lh(&[2, 50, 100]))], 0, 0),
        "lhist.json",
    );
    same_as_file(
        map_json(
            &m,
            vec![e(
                vec![],
                AggValue::Hist {
                    counts: vec![0; 12],
                    sum: None,
                },
            )],
            0,
            0,
        ),
        "lhist_zero.json",
    );
    let m = spec(
        "@stats",
        vec![S],
        MapKind::Lhist {
            min: 0,
            max: 100,
            step: 10,
        },
    );
    let entries = vec![
        e(vec![s("bpftrace")], lh(&[5, 100])),
        e(vec![s("curl")], lh(&[55])),
    ];
    let out = map_json(&m, entries, 0, 0);
    assert!(out
        .as_deref()
        .unwrap()
        .contains(r#"{"@stats": {"curl": [{"min": 50, "max": 59, "count": 1}], "bpftrace": "#));
    same_as_file(out, "lhist_multiple.json");
}

#[test]
fn numbers_and_strings() {
    assert_eq!(json_i64(-5), "-5");
    assert_eq!(json_i64(i64::MIN), "-9223372036854775808");
    assert_eq!(json_i64(i64::MAX), "\"9223372036854775807\"");
    assert_eq!(json_i64((1 << 53) + 1), "\"9007199254740993\"");
    assert_eq!(json_u64(1 << 53), "9007199254740992");
    assert_eq!(json_u64(u64::MAX), "\"18446744073709551615\"");
    assert_eq!(
        json_str("a\"b\\c\n\r\t\u{1}\u{1f} é"),
        r#""a\"b\\c\n\r\t\u0001\u001f é""#
    );
}

#[test]
fn events() {
    assert_eq!(
        printf_json("test 5"),
        r#"{"type": "printf", "data": "test 5"}"#
    );
    assert_eq!(
        printf_json("1 ONE 2 TWO 99999 OTHER\n"),
        r#"{"type": "printf", "data": "1 ONE 2 TWO 99999 OTHER\n"}"#
    );
    assert_eq!(
        value_json(&s("bpftrace")),
        r#"{"type": "value", "data": "bpftrace"}"#
    );
    assert_eq!(
        value_json(&Value::UInt(5)),
        r#"{"type": "value", "data": 5}"#
    );
    assert_eq!(
        time_json("12:34:56\n"),
        r#"{"type": "time", "data": "12:34:56\n"}"#
    );
    assert_eq!(
        string_event_json("syscall", "a b c\n"),
        r#"{"type": "syscall", "data": "a b c\n"}"#
    );
    assert_eq!(
        attached_probes_json(1),
        r#"{"type": "attached_probes", "count": 1, "data": {"probes": 1}}"#
    );
    assert_eq!(
        lost_events_json(3),
        r#"{"type": "lost_events", "count": 3, "data": {"events": 3}}"#
    );
    assert_eq!(
        errorf_json(true, "bad", "stdin", 1, 9),
        r#"{"type": "errorf", "msg": "bad", "filename": "stdin", "line": 1, "col": 9}"#
    );
    assert_eq!(
        errorf_json(false, "w", "x.bt", 2, 3),
        r#"{"type": "warnf", "msg": "w", "filename": "x.bt", "line": 2, "col": 3}"#
    );
}
