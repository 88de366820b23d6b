use super::*;

/// Counts vector with `n` at each `(index, n)`.
fn counts(at: &[(u64, u64)]) -> Vec<u64> {
    let len = at.iter().map(|&(i, _)| i as usize + 1).max().unwrap_or(0);
    let mut v = vec![0; len];
    for &(i, n) in at {
        v[i as usize] += n;
    }
    v
}

/// hist() counts for these values.
fn hist_of(values: &[i64], k: u32) -> Vec<u64> {
    counts(
        &values
            .iter()
            .map(|&v| (hist_index(v, k), 1))
            .collect::<Vec<_>>(),
    )
}

fn lhist_of(values: &[i64], min: i64, max: i64, step: i64) -> Vec<u64> {
    counts(
        &values
            .iter()
            .map(|&v| (lhist_index(v, min, max, step), 1))
            .collect::<Vec<_>>(),
    )
}

/// Row headers only.
fn headers(h: &Histogram) -> Vec<String> {
    hist_text(h)
        .lines()
        .map(|l| l[..16].trim_end().to_string())
        .collect()
}

#[test]
fn index_k0() {
    assert_eq!(hist_index(i64::MIN, 0), 0);
    assert_eq!(hist_index(-1, 0), 0);
    assert_eq!(hist_index(0, 0), 1);
    assert_eq!(hist_index(1, 0), 2);
    assert_eq!(hist_index(2, 0), 3);
    assert_eq!(hist_index(3, 0), 3);
    assert_eq!(hist_index(4, 0), 4);
    assert_eq!(hist_index(1023, 0), 11);
    assert_eq!(hist_index(1024, 0), 12);
    assert_eq!(hist_index(i64::MAX, 0), 64);
}

#[test]
fn index_k3() {
    assert_eq!(hist_index(7, 3), 8);
    assert_eq!(hist_index(15, 3), 16);
    assert_eq!(hist_index(16, 3), 17);
    assert_eq!(hist_index(17, 3), 17);
    assert_eq!(hist_index(18, 3), 18);
    assert_eq!(hist_index(32, 3), 25);
    assert_eq!(hist_index(35, 3), 25);
    assert_eq!(hist_index(36, 3), 26);
}

#[test]
fn bounds_round_trip() {
    for k in 0..=5 {
        let mut prev_hi = -1i64;
        for index in 1..=(64u64 - u64::from(k)) << k {
            let (lo, hi) = hist_bucket_bounds(index, k);
            let (lo, hi) = (lo.unwrap(), hi.unwrap());
            assert_eq!(lo, prev_hi + 1, "k={k} index={index}");
            assert_eq!(hist_index(lo, k), index);
            assert_eq!(hist_index(hi, k), index);
            prev_hi = hi;
            if hi == i64::MAX {
                break;
            }
        }
        assert_eq!(prev_hi, i64::MAX, "k={k}");
        assert_eq!(hist_bucket_bounds(0, k), (None, Some(-1)));
    }
}

#[test]
fn lhist_index_and_bounds() {
    assert_eq!(lhist_index(-1, 0, 10, 2), 0);
    assert_eq!(lhist_index(0, 0, 10, 2), 1);
    assert_eq!(lhist_index(9, 0, 10, 2), 5);
    assert_eq!(lhist_index(10, 0, 10, 2), 6);
    assert_eq!(lhist_index(1000, 0, 10, 2), 6);
    assert_eq!(lhist_bucket_bounds(0, 0, 10, 2), (None, Some(-1)));
    assert_eq!(lhist_bucket_bounds(3, 0, 10, 2), (Some(4), Some(5)));
    assert_eq!(lhist_bucket_bounds(6, 0, 10, 2), (Some(10), None));
}

#[test]
fn hist_txt_output() {
    let h = build_hist(&hist_of(&[-1, 2, 3, 7, 20], 0), 1, 0);
    let want = include_str!("../../../../../tests/data/outputs/hist.txt");
    let want = want
        .strip_prefix("@:\n")
        .unwrap()
        .trim_end_matches('\n')
        .to_string()
        + "\n";
    assert_eq!(hist_text(&h), want);
}

#[test]
fn hist_labels_k0() {
    let h = build_hist(&hist_of(&[-5, 0, 1, 2, 1024 * 1024], 0), 1, 0);
    let hd = headers(&h);
    assert_eq!(hd[..5], ["(..., 0)", "[0]", "[1]", "[2, 4)", "[4, 8)"]);
    assert!(hd.contains(&"[256, 512)".to_string()));
    assert!(hd.contains(&"[512, 1K)".to_string()));
    assert!(hd.contains(&"[1K, 2K)".to_string()));
    assert!(hd.contains(&"[512K, 1M)".to_string()));
    assert_eq!(hd.last().unwrap(), "[1M, 2M)");
    for (v, want) in [
        (1i64 << 30, "[1G, 2G)"),
        (10 << 30, "[8G, 16G)"),
        (1 << 40, "[1T, 2T)"),
        (1 << 50, "[1P, 2P)"),
        (1 << 60, "[1E, 2E)"),
        (i64::MAX, "[4E, 8E)"),
        (1023, "[512, 1K)"),
    ] {
        assert_eq!(headers(&build_hist(&hist_of(&[v], 0), 1, 0)), [want], "{v}");
    }
}

#[test]
fn hist_first_row_lower_bound() {
    // The first shown row takes its lower bound from the previous bucket.
    assert_eq!(headers(&build_hist(&hist_of(&[0], 0), 1, 0)), ["[0]"]);
    assert_eq!(headers(&build_hist(&hist_of(&[1], 0), 1, 0)), ["[1]"]);
    assert_eq!(headers(&build_hist(&hist_of(&[2], 0), 1, 0)), ["[2, 4)"]);
    assert_eq!(
        headers(&build_hist(&hist_of(&[5, 9], 0), 1, 0)),
        ["[4, 8)", "[8, 16)"]
    );
    assert_eq!(headers(&build_hist(&hist_of(&[-1], 0), 1, 0)), ["(..., 0)"]);
}

#[test]
fn hist_labels_k_subbuckets() {
    let hd = headers(&build_hist(&hist_of(&[14, 15, 16, 17, 18, 35], 3), 1, 3));
    assert_eq!(
        hd[..6],
        ["[14]", "[15]", "[16, 18)", "[18, 20)", "[20, 22)", "[22, 24)"]
    );
    assert_eq!(hd.last().unwrap(), "[32, 36)");
    // The suffix follows the power of two, not the value: 1024 stays unsuffixed for k=2.
    assert_eq!(
        headers(&build_hist(&hist_of(&[1024], 2), 1, 2)),
        ["[1024, 1280)"]
    );
    assert_eq!(
        headers(&build_hist(&hist_of(&[4096], 2), 1, 2)),
        ["[4K, 5K)"]
    );
    assert_eq!(
        headers(&build_hist(&hist_of(&[7 << 20], 2), 1, 2)),
        ["[7M, 8M)"]
    );
    assert_eq!(
        headers(&build_hist(&hist_of(&[0, 1], 1), 1, 1)),
        ["[0]", "[1]"]
    );
    assert_eq!(
        headers(&build_hist(&hist_of(&[3, 4], 1), 1, 1)),
        ["[3]", "[4, 6)"]
    );
}

#[test]
fn bars_use_float_rounding() {
    let h = Histogram {
        lower: Some(Label::Int(0)),
        labels: (1..=4).map(Label::Int).collect(),
        counts: vec![1, 3, 2, 0],
    };
    let bars: Vec<usize> = hist_text(&h)
        .lines()
        .map(|l| l.matches('@').count())
        .collect();
    assert_eq!(bars, [17, 52, 34, 0]);
    let h = Histogram {
        lower: Some(Label::Int(0)),
        labels: vec![Label::Int(1)],
        counts: vec![7],
    };
    assert_eq!(
        hist_text(&h),
        "[0]                    7 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
    );
    // Wide counts and labels are not truncated.
    let h = build_hist(&counts(&[(12, 123_456_789_012)]), 1, 0);
    assert_eq!(
        hist_text(&h),
        "[1K, 2K)        123456789012 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
    );
}

#[test]
fn hist_div_applies_after_range() {
    let h = build_hist(&counts(&[(1, 5), (2, 20)]), 10, 0);
    assert_eq!(h.counts, [0, 2]);
    assert_eq!(headers(&h), ["[0]", "[1]"]);
    assert_eq!(build_hist(&[0, 0, 0], 1, 0), Histogram::default());
    assert_eq!(hist_text(&Histogram::default()), "");
}

#[test]
fn lhist_txt_output() {
    let h = build_lhist(&lhist_of(&[-1, 2, 3, 7, 20], 0, 10, 2), 0, 10, 2);
    let want = include_str!("../../../../../tests/data/outputs/lhist.txt");
    let want = want
        .strip_prefix("@:\n")
        .unwrap()
        .trim_end_matches('\n')
        .to_string()
        + "\n";
    assert_eq!(hist_text(&h), want);
}

#[test]
fn lhist_labels() {
    let hd = |vals: &[i64], min, max, step| {
        headers(&build_lhist(
            &lhist_of(vals, min, max, step),
            min,
            max,
            step,
        ))
    };
    assert_eq!(hd(&[50], 0, 100, 10), ["[50, 60)"]);
    assert_eq!(hd(&[-3, 0], 0, 100, 10), ["(..., 0)", "[0, 10)"]);
    assert_eq!(hd(&[100], 0, 100, 10), ["[100, ...)"]);
    assert_eq!(hd(&[95, 1000], 0, 100, 10), ["[90, 100)", "[100, ...)"]);
    // step 1: adjacent integer bounds print as single values.
    assert_eq!(
        hd(&[3, 5, 10], 0, 10, 1),
        ["[3]", "[4]", "[5]", "[6]", "[7]", "[8]", "[9]", "[10, ...)"]
    );
    assert_eq!(hd(&[-1, 0], 0, 10, 1), ["(..., 0)", "[0]"]);
    // K/M suffixes only when step is a multiple of 1024.
    assert_eq!(hd(&[0, 1500], 0, 4096, 1024), ["[0, 1K)", "[1K, 2K)"]);
    assert_eq!(hd(&[-1], 0, 4096, 1024), ["(..., 0)"]);
    assert_eq!(hd(&[5000], 0, 4096, 1024), ["[4K, ...)"]);
    assert_eq!(hd(&[-2048, -1], -2048, 0, 1024), ["[-2K, -1K)", "[-1K, 0)"]);
    assert_eq!(hd(&[1 << 20], 0, 4 << 20, 1 << 20), ["[1M, 2M)"]);
    assert_eq!(hd(&[600], 512, 8192, 1024), ["[512, 1536)"]);
    assert_eq!(hd(&[3 << 10], 0, 8 << 20, 3 << 10), ["[3K, 6K)"]);
    assert_eq!(hd(&[615_000], 0, 1_000_000, 10_000), ["[610000, 620000)"]);
    assert_eq!(hd(&[5000], 0, 4096, 1000), ["[4000, ...)"]);
}

fn json_eq(got: &str, want: &str) {
    let g: serde_json::Value = serde_json::from_str(got).unwrap_or_else(|e| panic!("{e}: {got}"));
    let w: serde_json::Value = serde_json::from_str(want).unwrap();
    assert_eq!(g, w, "{got}");
}

#[test]
fn hist_json_forms() {
    let h = build_hist(&hist_of(&[2, 1025], 0), 1, 0);
    json_eq(
        &hist_json(&h),
        r#"[{"min": 2, "max": 3, "count": 1}, {"min": 4, "max": 7, "count": 0}, {"min": 8, "max": 15, "count": 0},
            {"min": 16, "max": 31, "count": 0}, {"min": 32, "max": 63, "count": 0}, {"min": 64, "max": 127, "count": 0},
            {"min": 128, "max": 255, "count": 0}, {"min": 256, "max": 511, "count": 0}, {"min": 512, "max": 1023, "count": 0},
            {"min": 1024, "max": 2047, "count": 1}]"#,
    );
    assert!(hist_json(&h).starts_with(r#"[{"min": 2, "max": 3, "count": 1},{"min": 4, "#));
    let h = build_hist(&hist_of(&[-1, 0], 0), 1, 0);
    assert_eq!(
        hist_json(&h),
        r#"[{"max": -1, "count": 1},{"min": 0, "max": 0, "count": 1}]"#
    );
    let h = build_hist(&hist_of(&[10 << 30], 0), 1, 0);
    assert_eq!(
        hist_json(&h),
        r#"[{"min": 8589934592, "max": 17179869183, "count": 1}]"#
    );
    assert_eq!(hist_json(&Histogram::default()), "[]");
}

#[test]
fn hist_json_fine_grained() {
    let h = build_hist(&hist_of(&(0..1024).collect::<Vec<_>>(), 3), 1, 3);
    let want = include_str!("../../../../../tests/data/outputs/hist_2args.json");
    let w: serde_json::Value = serde_json::from_str(want).unwrap();
    json_eq(&hist_json(&h), &w["data"]["@"].to_string());
}

#[test]
fn lhist_json_forms() {
    let h = build_lhist(&lhist_of(&[2, 50, 100], 0, 100, 10), 0, 100, 10);
    let want = include_str!("../../../../../tests/data/outputs/lhist.json");
    let w: serde_json::Value = serde_json::from_str(want).unwrap();
    json_eq(&hist_json(&h), &w["data"]["@h"].to_string());
    let h = build_lhist(&lhist_of(&[-1], 0, 100, 10), 0, 100, 10);
    assert_eq!(hist_json(&h), r#"[{"max": -1, "count": 1}]"#);
    let h = build_lhist(&lhist_of(&[-1], 5, 100, 10), 5, 100, 10);
    assert_eq!(hist_json(&h), r#"[{"max": 4, "count": 1}]"#);
    let h = build_lhist(&lhist_of(&[0, 1024], 0, 4096, 1024), 0, 4096, 1024);
    assert_eq!(
        hist_json(&h),
        r#"[{"min": 0, "max": 1023, "count": 1},{"min": 1024, "max": 2047, "count": 1}]"#
    );
    let h = build_lhist(&lhist_of(&[9999], 0, 4096, 1024), 0, 4096, 1024);
    assert_eq!(hist_json(&h), r#"[{"min": 4096, "count": 1}]"#);
}
