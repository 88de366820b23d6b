//! hist()/lhist() bucket indexing, labels and the rendered bucket rows (text and JSON).
//!
//! The index scheme is shared with codegen (which computes it in BPF), so it must not
//! change. Labels follow bpftrace: each bucket is printed between the label of the
//! previous bucket and its own label, where a bucket's label is its exclusive upper bound.

use super::json::{json_i64, json_u64};

/// Bucket index of `v` in a log2 histogram with 2^k sub-buckets per power of two.
pub fn hist_index(v: i64, k: u32) -> u64 {
    if v < 0 {
        return 0;
    }
    let v = v as u64;
    let n = 1u64 << k;
    if v < n {
        return 1 + v;
    }
    let p = 63 - u64::from(v.leading_zeros());
    let shift = p - u64::from(k);
    let sub = (v >> shift) - n;
    1 + n + shift * n + sub
}

/// Inclusive value range of a log2 bucket: `(None, Some(-1))` for the negative bucket.
pub fn hist_bucket_bounds(index: u64, k: u32) -> (Option<i64>, Option<i64>) {
    let n = 1u64 << k;
    if index == 0 {
        return (None, Some(-1));
    }
    if index <= n {
        let v = (index - 1) as i64;
        return (Some(v), Some(v));
    }
    let j = index - 1 - n;
    let shift = (j / n).min(100) as u32;
    let lo = u128::from(n + j % n) << shift;
    let hi = lo + (1u128 << shift) - 1;
    let clamp = |x: u128| x.min(i64::MAX as u128) as i64;
    (Some(clamp(lo)), Some(clamp(hi)))
}

/// Bucket index of `v` in a linear histogram.
pub fn lhist_index(v: i64, min: i64, max: i64, step: i64) -> u64 {
    if v < min {
        0
    } else if v >= max {
        1 + ((max - min) / step) as u64
    } else {
        1 + ((v - min) / step) as u64
    }
}

/// Inclusive value range of a linear bucket (`None` = unbounded).
pub fn lhist_bucket_bounds(
    index: u64,
    min: i64,
    max: i64,
    step: i64,
) -> (Option<i64>, Option<i64>) {
    let last = 1 + ((max - min) / step) as u64;
    if index == 0 {
        (None, Some(min - 1))
    } else if index >= last {
        (Some(min + (last as i64 - 1) * step), None)
    } else {
        let lo = min + (index as i64 - 1) * step;
        (Some(lo), Some(lo + step - 1))
    }
}

/// A bucket boundary as bpftrace keeps it: a plain integer (adjacent integers make a
/// single-value bucket like `[5]`) or a suffixed label (`1K`) that carries its number
/// for JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Label {
    Int(i64),
    Sym { text: String, num: u64 },
}

impl Label {
    fn text(&self) -> String {
        match self {
            Label::Int(v) => v.to_string(),
            Label::Sym { text, .. } => text.clone(),
        }
    }
    fn json(&self) -> String {
        match self {
            Label::Int(v) => json_i64(*v),
            Label::Sym { num, .. } => json_u64(*num),
        }
    }
    /// JSON intervals are closed, so the exclusive upper bound loses one.
    fn json_minus_one(&self) -> String {
        let v = match self {
            Label::Int(v) => v.wrapping_sub(1),
            Label::Sym { num: 0, .. } => -1,
            Label::Sym { num, .. } => (num - 1) as i64,
        };
        json_i64(v)
    }
}

fn single_value(a: &Label, b: &Label) -> bool {
    matches!((a, b), (Label::Int(x), Label::Int(y)) if x.checked_add(1) == Some(*y))
}

/// The shown part of one histogram: rows from the first to the last non-empty bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Histogram {
    /// Lower bound of the first row; `None` when the first row is the negative/underflow one.
    pub lower: Option<Label>,
    /// Upper bound of each row; the overflow row of an lhist has none.
    pub labels: Vec<Label>,
    pub counts: Vec<u64>,
}

const SUFFIXES: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];

/// Upper bound of log2 bucket `index` (only used past the single-value buckets).
/// The suffix is chosen from the power of two alone, so with k > 0 labels such as
/// `1024` appear unsuffixed; that is what bpftrace prints.
fn hist_label(index: u64, k: u32) -> Label {
    let n = 1u64 << k;
    let interval = index & (n - 1);
    let power = ((index >> k) - 1) as u32;
    let num = 1u64.wrapping_shl(power).wrapping_mul(n + interval);
    let decade = ((power / 10) as usize).min(SUFFIXES.len() - 1);
    let rest = power - 10 * decade as u32;
    let text = format!(
        "{}{}",
        (1u64 << rest).wrapping_mul(n + interval),
        SUFFIXES[decade]
    );
    Label::Sym { text, num }
}

fn lhist_label(number: i64, step: i64) -> Label {
    const KILO: i64 = 1024;
    const MEGA: i64 = 1024 * 1024;
    if step % KILO != 0 {
        return Label::Int(number);
    }
    let text = if number == 0 {
        "0".to_string()
    } else if number % MEGA == 0 {
        format!("{}M", number / MEGA)
    } else if number % KILO == 0 {
        format!("{}K", number / KILO)
    } else {
        number.to_string()
    };
    Label::Sym {
        text,
        num: number as u64,
    }
}

fn nonzero_range(counts: &[u64]) -> Option<(usize, usize)> {
    let first = counts.iter().position(|&c| c > 0)?;
    let last = counts.iter().rposition(|&c| c > 0)?;
    Some((first, last))
}

/// Rows of a log2 histogram; counts are divided by `div` (>= 1) after choosing the range.
pub(crate) fn build_hist(counts: &[u64], div: u64, k: u32) -> Histogram {
    let mut h = Histogram::default();
    let Some((first, last)) = nonzero_range(counts) else {
        return h;
    };
    let single_limit = 2u64 << k;
    let label = |i: u64| {
        if i <= single_limit {
            Label::Int(i as i64)
        } else {
            hist_label(i, k)
        }
    };
    if first != 0 {
        h.lower = Some(label(first as u64 - 1));
    }
    for (i, &c) in counts.iter().enumerate().take(last + 1).skip(first) {
        h.labels.push(label(i as u64));
        h.counts.push(c / div.max(1));
    }
    h
}

/// Rows of a linear histogram (bpftrace ignores `div` for these).
pub(crate) fn build_lhist(counts: &[u64], min: i64, max: i64, step: i64) -> Histogram {
    let mut h = Histogram::default();
    let Some((first, last)) = nonzero_range(counts) else {
        return h;
    };
    if first != 0 {
        h.lower = Some(lhist_label(min + (first as i64 - 1) * step, step));
    }
    for (i, &c) in counts.iter().enumerate().take(last + 1).skip(first) {
        let bound = min + i as i64 * step;
        if bound <= max {
            h.labels.push(lhist_label(bound, step));
        }
        h.counts.push(c);
    }
    h
}

const BAR_WIDTH: usize = 52;

fn row_header(h: &Histogram, i: usize) -> String {
    let l = &h.labels;
    if i == 0 {
        return match (&h.lower, l.first()) {
            (None, Some(up)) => format!("(..., {})", up.text()),
            (None, None) => "(..., ...)".to_string(),
            (Some(lo), None) => format!("[{}, ...)", lo.text()),
            (Some(lo), Some(up)) if single_value(lo, up) => format!("[{}]", lo.text()),
            (Some(lo), Some(up)) => format!("[{}, {})", lo.text(), up.text()),
        };
    }
    if i >= l.len() {
        format!("[{}, ...)", l[i - 1].text())
    } else if single_value(&l[i - 1], &l[i]) {
        format!("[{}]", l[i - 1].text())
    } else {
        format!("[{}, {})", l[i - 1].text(), l[i].text())
    }
}

/// The `label count |@@@@|` rows (no map name, no trailing blank line).
pub(crate) fn hist_text(h: &Histogram) -> String {
    let max = h.counts.iter().copied().max().unwrap_or(0);
    let mut out = String::new();
    for (i, &c) in h.counts.iter().enumerate() {
        // bpftrace computes the bar in single-precision float; keep its rounding.
        let bar = ((c as f32 / max as f32) * BAR_WIDTH as f32) as usize;
        out.push_str(&format!(
            "{:<16}{:>8} |{:<52}|\n",
            row_header(h, i),
            c,
            "@".repeat(bar.min(BAR_WIDTH))
        ));
    }
    out
}

/// JSON array of `{"min": a, "max": b, "count": n}` with closed intervals.
pub(crate) fn hist_json(h: &Histogram) -> String {
    let mut out = String::from("[");
    for (i, &c) in h.counts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        let min = if i == 0 {
            h.lower.as_ref()
        } else {
            h.labels.get(i - 1)
        };
        if let Some(min) = min {
            out.push_str(&format!("\"min\": {}, ", min.json()));
        }
        if let Some(up) = h.labels.get(i) {
            out.push_str(&format!("\"max\": {}, ", up.json_minus_one()));
        }
        out.push_str(&format!("\"count\": {}}}", c));
    }
    out.push(']');
    out
}

#[cfg(test)]
#[path = "hist_tests.rs"]
mod tests;
