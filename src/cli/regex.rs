//! `--probe-filter REGEX`: POSIX extended regular expressions from the C library, searched
//! anywhere in a probe's name (anchor with `^`/`$`).

use std::ffi::CString;

pub struct Regex(Box<libc::regex_t>);

impl Regex {
    pub fn new(pattern: &str) -> Result<Regex, String> {
        let c = CString::new(pattern).map_err(|_| "the pattern contains a NUL byte".to_string())?;
        // SAFETY: regex_t is plain data that regcomp fills in; zeroed is a valid start.
        let mut re: Box<libc::regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: re points to writable storage, c is NUL-terminated.
        let rc =
            unsafe { libc::regcomp(&mut *re, c.as_ptr(), libc::REG_EXTENDED | libc::REG_NOSUB) };
        if rc != 0 {
            let mut buf = [0u8; 256];
            // SAFETY: buf is writable for its length; re holds regcomp's error state.
            unsafe { libc::regerror(rc, &*re, buf.as_mut_ptr().cast(), buf.len()) };
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            return Err(format!(
                "{} in `{pattern}`",
                String::from_utf8_lossy(&buf[..end])
            ));
        }
        Ok(Regex(re))
    }

    pub fn is_match(&self, text: &str) -> bool {
        let Ok(c) = CString::new(text) else {
            return false;
        };
        // SAFETY: self.0 was compiled by regcomp; no match offsets are requested.
        unsafe { libc::regexec(&*self.0, c.as_ptr(), 0, std::ptr::null_mut(), 0) == 0 }
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: compiled by regcomp, freed once.
        unsafe { libc::regfree(&mut *self.0) };
    }
}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("Regex")
    }
}

#[cfg(test)]
mod tests {
    use super::Regex;

    #[test]
    fn searches_extended_patterns() {
        let re = Regex::new("sys_enter_(getpid|getppid)$").unwrap();
        assert!(re.is_match("tracepoint:syscalls:sys_enter_getpid"));
        assert!(!re.is_match("tracepoint:syscalls:sys_enter_getpidx"));
        assert!(Regex::new("(").is_err());
    }
}
