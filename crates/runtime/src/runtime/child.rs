//! The `-c CMD` child: forked before loading (its pid is `cpid`), held until every probe is
//! attached, then released to exec, so no event of the child is missed.

use std::ffi::CString;

pub struct Child {
    pub pid: i32,
    /// Write end of the pipe the child waits on.
    go: Option<i32>,
    pub status: Option<i32>,
    /// Held by ptrace just after its exec (see `exec_stopped`).
    traced: bool,
}

/// Splits a command line like a shell would for simple cases: whitespace, '…' and "…".
pub fn split_command(cmd: &str) -> Vec<String> {
    let mut args = vec![];
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in cmd.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    args.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        args.push(cur);
    }
    args
}

impl Child {
    /// Forks the child, which waits before exec until `release` (or `exec_stopped`). With
    /// `trace_exec`, it asks to be traced, so its exec stops it for `exec_stopped`.
    pub fn spawn(cmd: &str, trace_exec: bool) -> Result<Child, String> {
        let args = split_command(cmd);
        if args.is_empty() {
            return Err("the -c command is empty".into());
        }
        let cargs: Vec<CString> = args
            .iter()
            .map(|a| {
                CString::new(a.as_str())
                    .map_err(|_| "the -c command contains a NUL byte".to_string())
            })
            .collect::<Result<_, _>>()?;
        let mut argv: Vec<*const libc::c_char> = cargs.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut fds = [0i32; 2];
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(format!("pipe: {}", std::io::Error::last_os_error()));
        }
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("fork: {}", std::io::Error::last_os_error()));
        }
        if pid == 0 {
            // Child: only async-signal-safe calls until exec.
            unsafe {
                // The child dies with spyglass, however spyglass ends (SIGKILL included).
                // Should spyglass die before this, the read below sees the pipe closed.
                // (No `getppid` check: a script may trace getppid, and the call could land
                // after the probes are attached.)
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                libc::close(fds[1]);
                let mut b = 0u8;
                let n = libc::read(fds[0], &mut b as *mut u8 as *mut libc::c_void, 1);
                if n == 1 {
                    if trace_exec {
                        libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
                    }
                    libc::execvp(argv[0], argv.as_ptr());
                    let msg = b"spyglass: could not run the -c command\n";
                    libc::write(2, msg.as_ptr() as *const libc::c_void, msg.len());
                    libc::_exit(127);
                }
                libc::_exit(0);
            }
        }
        unsafe { libc::close(fds[0]) };
        Ok(Child {
            pid,
            go: Some(fds[1]),
            status: None,
            traced: false,
        })
    }

    /// Lets the child exec and waits until the exec stops it: its memory is then the
    /// command's, for probes on its addresses (watchpoints), and nothing has run yet.
    /// `release` resumes it.
    pub fn exec_stopped(&mut self) -> Result<(), String> {
        let Some(fd) = self.go.take() else {
            return Ok(());
        };
        unsafe {
            libc::write(fd, b"g".as_ptr() as *const libc::c_void, 1);
            libc::close(fd);
        }
        let mut st = 0;
        let r = unsafe { libc::waitpid(self.pid, &mut st, 0) };
        if r != self.pid || !libc::WIFSTOPPED(st) {
            if r == self.pid {
                self.status = Some(st);
            }
            return Err("the -c command did not start".into());
        }
        self.traced = true;
        Ok(())
    }

    /// Lets the child exec its command (or go on after `exec_stopped`).
    pub fn release(&mut self) {
        if std::mem::take(&mut self.traced) {
            unsafe { libc::ptrace(libc::PTRACE_DETACH, self.pid, 0, 0) };
            return;
        }
        if let Some(fd) = self.go.take() {
            unsafe {
                libc::write(fd, b"g".as_ptr() as *const libc::c_void, 1);
                libc::close(fd);
            }
        }
    }

    /// Whether the child has exited (reaps it).
    pub fn exited(&mut self) -> bool {
        if self.status.is_some() {
            return true;
        }
        let mut st = 0;
        let r = unsafe { libc::waitpid(self.pid, &mut st, libc::WNOHANG) };
        if r == self.pid {
            self.status = Some(st);
        }
        self.status.is_some()
    }

    /// Stops a child still running when we exit first: SIGTERM, and SIGKILL if it has not
    /// gone after a grace period (it may ignore SIGTERM).
    pub fn terminate(&mut self) {
        if let Some(fd) = self.go.take() {
            // Never released: closing the pipe makes it exit without running.
            unsafe { libc::close(fd) };
        }
        if self.exited() {
            return;
        }
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + TERM_GRACE;
        while std::time::Instant::now() < deadline {
            if self.exited() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let mut st = 0;
        unsafe { libc::waitpid(self.pid, &mut st, 0) };
        self.status = Some(st);
    }
}

/// How long a child gets to exit after SIGTERM.
const TERM_GRACE: std::time::Duration = std::time::Duration::from_millis(500);
