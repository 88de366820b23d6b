//! "Did you mean …?" for misspelt names.

/// The closest candidate within a small edit distance.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.len() / 3).clamp(1, 3);
    let len = name.chars().count();
    candidates
        .into_iter()
        // The distance is at least the difference in length: no need to compute it (which
        // costs the product of the lengths) for a name far longer than any candidate.
        .filter(|c| c.chars().count().abs_diff(len) <= limit)
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_near_misses_only() {
        assert_eq!(
            super::closest("prnitf", ["printf", "print", "str"]),
            Some("printf")
        );
        assert_eq!(super::closest("pidd", ["pid", "tid"]), Some("pid"));
        assert_eq!(super::closest("zzzzzz", ["printf"]), None);
    }
}
