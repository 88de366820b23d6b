//! Wall-clock formatting for `time()` and `strftime()`.

use std::ffi::CString;

/// Boot-clock ns (what `nsecs` gives) as ns since the Unix epoch.
pub fn boot_to_unix_ns(boot_ns: u64) -> i128 {
    static OFFSET: std::sync::OnceLock<i128> = std::sync::OnceLock::new();
    let offset = *OFFSET.get_or_init(|| {
        let now = |clock| {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: clock_gettime writes only into `ts`.
            unsafe { libc::clock_gettime(clock, &mut ts) };
            i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
        };
        now(libc::CLOCK_REALTIME) - now(libc::CLOCK_BOOTTIME)
    });
    offset + i128::from(boot_ns)
}

/// bpftrace's default `time()` format.
pub const DEFAULT_TIME_FORMAT: &str = "%H:%M:%S\n";

extern "C" {
    fn tzset();
}

/// strftime(3) of `unix_ns` in local time, plus bpftrace's `%f` extension
/// (microseconds, 6 digits).
pub fn strftime_local(fmt: &str, unix_ns: i128) -> String {
    let secs = unix_ns.div_euclid(1_000_000_000);
    let micros = unix_ns.rem_euclid(1_000_000_000) / 1000;
    let fmt = expand_micros(fmt, micros as u32);
    // strftime stops at an interior NUL anyway; keep the part before it.
    let fmt = fmt.split('\0').next().unwrap_or("");
    if fmt.is_empty() {
        return String::new();
    }
    let Ok(cfmt) = CString::new(fmt) else {
        return String::new();
    };
    let t = secs.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as libc::time_t;
    // SAFETY: tzset has no preconditions; localtime_r only writes into `tm`.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe {
        tzset();
        !libc::localtime_r(&t, &mut tm).is_null()
    };
    if !ok {
        return String::new();
    }
    // strftime returns 0 both for "too small" and for an empty result; grow a few times.
    let mut cap = 64 + fmt.len() * 8;
    for _ in 0..6 {
        let mut buf = vec![0u8; cap];
        // SAFETY: buf has `cap` writable bytes; cfmt is NUL-terminated; tm is initialised.
        let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), cap, cfmt.as_ptr(), &tm) };
        if n > 0 {
            buf.truncate(n);
            return String::from_utf8_lossy(&buf).into_owned();
        }
        cap *= 4;
    }
    String::new()
}

/// Replaces `%f` (not `%%f`) before strftime sees the format.
fn expand_micros(fmt: &str, micros: u32) -> String {
    let mut out = String::with_capacity(fmt.len() + 8);
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => out.push_str(&format!("{micros:06}")),
            Some(n) => {
                out.push('%');
                out.push(n);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_extension() {
        assert_eq!(expand_micros("%s.%f", 123), "%s.000123");
        assert_eq!(expand_micros("%%f %f%", 999_999), "%%f 999999%");
    }

    #[test]
    fn formats_epoch_seconds() {
        // %s is timezone independent.
        assert_eq!(strftime_local("%s.%f", 1_000_123_000), "1.000123");
        assert_eq!(strftime_local("%s.%f", 0), "0.000000");
        assert_eq!(strftime_local("%s", -1), "-1");
        assert_eq!(strftime_local("", 5), "");
        assert_eq!(strftime_local("100%%", 5), "100%");
    }

    #[test]
    fn default_time_shape() {
        let s = strftime_local(DEFAULT_TIME_FORMAT, 1_700_000_000_000_000_000);
        assert_eq!(s.len(), 9, "{s:?}");
        assert!(s.ends_with('\n'));
        assert_eq!(&s[2..3], ":");
        assert_eq!(&s[5..6], ":");
    }

    #[test]
    fn matches_utc_when_tz_is_utc() {
        // Only meaningful when the process runs in UTC; otherwise just check the length.
        let s = strftime_local(
            "%Y-%m-%d %H:%M:%S",
            86_400 * 1_000_000_000 + 3_723_000_000_000,
        );
        assert_eq!(s.len(), 19);
        if std::env::var("TZ").is_ok_and(|t| t == "UTC" || t == "UTC0") {
            assert_eq!(s, "1970-01-02 01:02:03");
        }
    }
}
