use super::*;
use crate::program::FieldType;

const MS: u64 = 1_000_000;

fn spec(key: Vec<FieldType>, num: u64, signed: bool) -> MapSpec {
    MapSpec {
        name: if key.is_empty() { "@" } else { "@a" }.into(),
        elf_name: "m".into(),
        key,
        kind: MapKind::Tseries {
            interval: 100 * MS,
            num,
            agg: TsAgg::Last,
            signed,
        },
        max_entries: 4096,
        lru: false,
        reset: false,
        hist_sum: false,
    }
}

fn entry(key: Vec<Value>, points: &[(u64, i64)], signed: bool) -> MapEntry {
    let t = points
        .iter()
        .map(|&(e, v)| (e, int(signed, v as u64)))
        .collect();
    MapEntry {
        key,
        value: AggValue::Tseries(t),
    }
}

/// The hour of the Unix epoch in local time (the expected outputs use `%H`).
fn hour() -> String {
    strftime_local("%H", tai_to_unix(0))
}

fn slot(v: u64, meta: u64, epoch: u64) -> Vec<u8> {
    [v, meta, epoch]
        .iter()
        .flat_map(|x| x.to_ne_bytes())
        .collect()
}

#[test]
fn zigzag_chart_has_a_zero_line() {
    // bpftrace's runtime/outputs/tseries_zigzag.txt: epochs 1..=20 go -5..5..-4.
    let vals: Vec<(u64, i64)> = (1..=20)
        .map(|e: u64| {
            let i = e as i64 - 1;
            (e, if i <= 10 { i - 5 } else { 15 - i })
        })
        .collect();
    let got = tseries_text(&spec(vec![], 20, true), vec![entry(vec![], &vals, true)]);
    let h = hour();
    let want = format!(
        "@:
             -5                                                  5
hh:mm:ss.ms  |___________________________________________________|
{h}:00:00.100 *                         .                         | -5
{h}:00:00.200 |    *                    .                         | -4
{h}:00:00.300 |         *               .                         | -3
{h}:00:00.400 |              *          .                         | -2
{h}:00:00.500 |                   *     .                         | -1
{h}:00:00.600 |                         *                         | 0
{h}:00:00.700 |                         .    *                    | 1
{h}:00:00.800 |                         .         *               | 2
{h}:00:00.900 |                         .              *          | 3
{h}:00:01.000 |                         .                   *     | 4
{h}:00:01.100 |                         .                         * 5
{h}:00:01.200 |                         .                   *     | 4
{h}:00:01.300 |                         .              *          | 3
{h}:00:01.400 |                         .         *               | 2
{h}:00:01.500 |                         .    *                    | 1
{h}:00:01.600 |                         *                         | 0
{h}:00:01.700 |                   *     .                         | -1
{h}:00:01.800 |              *          .                         | -2
{h}:00:01.900 |         *               .                         | -3
{h}:00:02.000 |    *                    .                         | -4
             v___________________________________________________v
             -5                                                  5

"
    );
    assert_eq!(got, want);
}

#[test]
fn keys_share_the_latest_window() {
    let s = spec(vec![FieldType::Str { size: 8 }], 10, false);
    let one = entry(
        vec![Value::Str("one".into())],
        &[(0, 0), (1, 5), (2, 5), (3, 5), (4, 5)],
        false,
    );
    let two = entry(
        vec![Value::Str("two".into())],
        &[(5, 4), (6, 4), (7, 4), (8, 4), (9, 4)],
        false,
    );
    let got = tseries_text(&s, vec![two.clone(), one.clone()]);
    let h = hour();
    assert!(got.starts_with(&format!(
        "@a[one]:
             0                                                   5
hh:mm:ss.ms  |___________________________________________________|
{h}:00:00.000 *                                                   | 0
{h}:00:00.100 |                                                   * 5
"
    )));
    assert!(got.contains(&format!(
        "{h}:00:00.900 |                                                   | -\n"
    )));
    assert!(got.contains(&format!(
        "@a[two]:
             3                                                   5
hh:mm:ss.ms  |___________________________________________________|
{h}:00:00.500 |                         *                         | 4
"
    )));
    let json = tseries_json(&s, vec![one, two]).unwrap();
    assert!(json.starts_with(
        "{\"type\": \"tseries\", \"data\": {\"@a\": {\"one\": [{\"interval_start\": \"1970-01-01 "
    ));
    // Intervals without data are left out of JSON.
    assert_eq!(json.matches("interval_start").count(), 10);
}

#[test]
fn zeroed_map_has_no_data() {
    let s = spec(vec![], 5, false);
    let zeroed = entry(vec![], &[(0, 0)], false);
    assert_eq!(tseries_text(&s, vec![zeroed.clone()]), "@:\n<no data>\n");
    assert_eq!(
        tseries_json(&s, vec![zeroed]).unwrap(),
        "{\"type\": \"tseries\", \"data\": {\"@\": []}}"
    );
    assert_eq!(tseries_json(&s, vec![]), None);
}

#[test]
fn slots_merge_per_aggregation() {
    let cpus = [
        slot(3, 10, 7),
        slot(9, 5, 7),
        slot(100, 99, 6),
        slot(0, 0, 0),
    ];
    assert_eq!(reduce_slot(TsAgg::Last, false, &cpus), (7, Value::UInt(3)));
    assert_eq!(reduce_slot(TsAgg::Sum, false, &cpus), (7, Value::UInt(12)));
    assert_eq!(reduce_slot(TsAgg::Max, false, &cpus), (7, Value::UInt(9)));
    assert_eq!(reduce_slot(TsAgg::Min, false, &cpus), (7, Value::UInt(3)));
    // avg: value is the sum, meta the count.
    let avg = [slot(10, 2, 4), slot(5, 3, 4)];
    assert_eq!(reduce_slot(TsAgg::Avg, false, &avg), (4, Value::UInt(3)));
    let neg = [slot(-7i64 as u64, 1, 2), slot(2, 1, 2)];
    assert_eq!(reduce_slot(TsAgg::Min, true, &neg), (2, Value::Int(-7)));
    assert_eq!(reduce_slot(TsAgg::Avg, true, &neg), (2, Value::Int(-2)));
    assert_eq!(
        reduce_slot(TsAgg::Last, true, &[slot(0, 0, 0)]),
        (0, Value::Int(0))
    );
}

#[test]
fn whole_second_intervals_show_no_fraction() {
    let mut s = spec(vec![], 3, false);
    s.kind = MapKind::Tseries {
        interval: 1_000_000_000,
        num: 3,
        agg: TsAgg::Last,
        signed: false,
    };
    let got = tseries_text(&s, vec![entry(vec![], &[(1, 1), (2, 2), (3, 3)], false)]);
    let h = hour();
    assert!(got.contains("\nhh:mm:ss |___"));
    assert!(got.contains(&format!("\n{h}:00:01 *")));
}
