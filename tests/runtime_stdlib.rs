//! Runtime tests of the stdlib catalogue: builtins and functions, run on the real kernel,
//! exact output compared (the trailing "\n\n" is the exit-time map dump).

mod common;
use common::*;

/// Runs a `begin` program quietly; returns stdout, failing on a non-zero exit.
fn out(prog: &str) -> String {
    let o = spyglass_checked(&["-q", "-e", prog]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.stdout
}

fn possible_cpus() -> u64 {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    s.trim()
        .split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<u64>().unwrap() - a.parse::<u64>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

/// The cgroup v2 id of this process (spyglass inherits it): its directory's inode.
fn own_cgroup_id() -> u64 {
    use std::os::unix::fs::MetadataExt;
    let s = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let path = s.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    std::fs::metadata(format!("/sys/fs/cgroup{path}"))
        .unwrap()
        .ino()
}

#[test]
fn system_builtins() {
    let o = out(
        r#"begin { printf("%d %d %d\n", ncpus, cgroup, jiffies > 0 ? 1 : 0);
                           printf("%d\n", numaid < 1024 ? 1 : 0); }"#,
    );
    assert_eq!(
        o,
        format!("{} {} 1\n1\n\n\n", possible_cpus(), own_cgroup_id())
    );
}

#[test]
fn builtins_can_be_called_and_clocks_chosen() {
    let o = out(
        r#"begin { if (pid() == pid && tid() == tid && cpu() == cpu && ncpus() == ncpus && comm() == comm
                      && nsecs(boot) > 0 && nsecs(monotonic) > 0 && nsecs(tai) > nsecs(monotonic)
                      && nsecs(monotonic) < nsecs(boot) + 1) { printf("ok\n"); } }"#,
    );
    assert_eq!(o, "ok\n\n\n");
}

#[test]
fn strlen_strncmp_strcontains() {
    let o = out(
        r#"begin { $a = "hello"; $z = "ab\0cd"; print(strlen($a)); print(strlen($z)); print(strlen(""));
                  printf("%d %d %d %d %d\n", strncmp("hello", "hell", 3), strncmp("hello", "hell", 5),
                         strncmp("one", "one ", 4), strncmp("one", "one", 10), strncmp("a", "b", 0));
                  print(strcontains("hello-test-world", "world")); print(strcontains("hello", ""));
                  print(strcontains("Hello World", "hello")); print(strcontains("ababac", "abac"));
                  $s = "hello\0world"; print(strcontains($s, "world"));
                  $n = "wo\0rld"; print(strcontains("hello world", $n)); print(strcontains("ab", "abc")); }"#,
    );
    assert_eq!(
        o,
        "5\n2\n0\n0 1 1 0 0\ntrue\ntrue\nfalse\ntrue\nfalse\ntrue\nfalse\n\n\n"
    );
}

#[test]
fn strncmp_takes_a_positional_length() {
    let o = spyglass(&[
        "-q",
        "-e",
        r#"begin { if (strncmp("hello", "hell", $1) == 0) { printf("ok\n"); } }"#,
        "3",
    ]);
    assert_eq!(o.stdout, "ok\n\n\n", "{}", o.stderr);
}

#[test]
fn strerror_names_errno_values() {
    let o = out(
        r#"begin { $e = 2; print(strerror(22)); print(strerror($e)); print(strerror(0));
                          print(strerror(-5)); print(strerror(123456)); }"#,
    );
    assert_eq!(o, "Invalid argument\nNo such file or directory\nSuccess\nUnknown error -5\nUnknown error 123456\n\n\n");
}

#[test]
fn bswap_by_operand_width() {
    let o = out(
        r#"begin { printf("%llx %x %llx %x\n", bswap(0x1122334455667788), bswap((int16)0x1234),
                                   bswap(0x12340000 + (uint64)0x5678), bswap((uint32)0x11223344)); }"#,
    );
    assert_eq!(o, "8877665544332211 3412 7856341200000000 44332211\n\n\n");
}

#[test]
fn has_key_looks_up_keys() {
    let o = out(r#"begin { @m[1] = 1; @t[2, "b"] = 1; @c["x"] = count();
                          print(has_key(@m, 1)); print(has_key(@m, 2)); print(has_key(@t, (2, "b")));
                          print(has_key(@t, (2, "c"))); print(has_key(@c, "x")); clear(@m); clear(@t); clear(@c); }"#);
    assert_eq!(o, "true\nfalse\ntrue\nfalse\ntrue\n\n\n");
}

#[test]
fn kaddr_reads_kallsyms() {
    let syms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let addr = syms.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f[2] == "vfs_read").then(|| u64::from_str_radix(f[0], 16).unwrap())
    });
    let o = spyglass(&[
        "-q",
        "-e",
        r#"begin { printf("%lx %d\n", kaddr("vfs_read"), kaddr(str($1)) == kaddr("vfs_read") ? 1 : 0); }"#,
        "vfs_read",
    ]);
    assert_eq!(
        o.stdout,
        format!("{:x} 1\n\n\n", addr.unwrap()),
        "{}",
        o.stderr
    );
}

#[test]
fn ntop_and_pton_ipv4() {
    let o = out(
        r#"begin { printf("%s, %s, %s, %s\n", ntop(1), ntop(0x0100007f), ntop(0xffff0000), ntop(0x0000ffff));
                          printf("%s %s\n", ntop(2, pton("127.0.0.1")), ntop(pton("10.200.3.255"))); }"#,
    );
    assert_eq!(
        o,
        "1.0.0.0, 127.0.0.1, 0.0.255.255, 255.255.0.0\n127.0.0.1 10.200.3.255\n\n\n"
    );
}

#[test]
fn cat_prints_files_in_text_and_json() {
    let path = format!("{}/cat.txt", env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(&path, "line one\nline \"two\"\n").unwrap();
    let dir = env!("CARGO_TARGET_TMPDIR");
    let prog = format!(r#"begin {{ cat("{path}"); $f = "cat.txt"; cat("{dir}/%s", $f); }}"#);
    assert_eq!(
        out(&prog),
        "line one\nline \"two\"\nline one\nline \"two\"\n\n\n"
    );
    let j = spyglass(&[
        "-q",
        "-f",
        "json",
        "-e",
        &format!(r#"begin {{ cat("{path}"); }}"#),
    ]);
    assert_eq!(
        j.stdout, "{\"type\": \"cat\", \"data\": \"line one\\nline \\\"two\\\"\\n\"}\n",
        "{}",
        j.stderr
    );
    let missing = spyglass(&["-q", "-e", r#"begin { cat("/nonexistent/x"); }"#]);
    assert_eq!(missing.code, 0);
    assert_eq!(
        missing.stderr,
        "ERROR: failed to open file '/nonexistent/x': No such file or directory\n"
    );
}

#[test]
fn errorf_and_warnf() {
    let o = out(r#"begin { errorf("bad %d, %s", 10, "arg2"); warnf("careful\n"); }"#);
    assert_eq!(
        o,
        "stdin:1:9-41: ERROR: bad 10, arg2\n\
         begin { errorf(\"bad %d, %s\", 10, \"arg2\"); warnf(\"careful\\n\"); }\n        \
         ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n\
         stdin:1:43-61: WARNING: careful\n\
         begin { errorf(\"bad %d, %s\", 10, \"arg2\"); warnf(\"careful\\n\"); }\n                                          \
         ~~~~~~~~~~~~~~~~~~\n\n\n"
    );
    let quiet = spyglass(&[
        "-q",
        "--no-warnings",
        "-e",
        r#"begin { warnf("hidden"); errorf("shown"); }"#,
    ]);
    assert_eq!(
        quiet.stdout,
        "stdin:1:26-41: ERROR: shown\nbegin { warnf(\"hidden\"); errorf(\"shown\"); }\n                         ~~~~~~~~~~~~~~~\n\n\n",
        "{}",
        quiet.stderr
    );
    let j = spyglass(&["-q", "-f", "json", "-e", r#"begin { warnf("w %d", 1); }"#]);
    assert_eq!(
        j.stdout,
        "{\"type\": \"warnf\", \"msg\": \"w 1\", \"filename\": \"stdin\", \"line\": 1, \"col\": 9}\n"
    );
}

#[test]
fn len_counts_keys() {
    let o = out(
        r#"begin { @[0] = 0; @[1] = 1; @c["a"] = count(); @c["b"] = count(); @c["c"] = count();
                          printf("%d %d\n", len(@), len(@c)); clear(@); clear(@c); }"#,
    );
    assert_eq!(o, "2 3\n\n\n");
}

#[test]
fn system_needs_unsafe_and_prints_the_output() {
    let o = spyglass(&[
        "-q",
        "--unsafe",
        "-e",
        r#"begin { system("echo %s %d", "ok", 5); }"#,
    ]);
    assert_eq!(o.stdout, "ok 5\n\n\n", "{}", o.stderr);
    let j = spyglass(&[
        "-q",
        "--unsafe",
        "-f",
        "json",
        "-e",
        r#"begin { system("echo hi"); }"#,
    ]);
    assert_eq!(
        j.stdout, "{\"type\": \"syscall\", \"data\": \"hi\\n\"}\n",
        "{}",
        j.stderr
    );
    let refused = spyglass(&["-e", r#"begin { system("true"); }"#]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("system() is unsafe. To use you need the --unsafe flag"),
        "{}",
        refused.stderr
    );
}

#[test]
fn pid_and_tid_in_a_pid_namespace() {
    let prog = r#"begin { printf("%d %d %d %d %d %d\n", pid, pid(curr_ns), pid(init) > 1 ? 1 : 0, tid, tid(curr_ns), tid(init) > 1 ? 1 : 0); }"#;
    let o = std::process::Command::new("unshare")
        .args(["--fork", "--pid", "--mount-proc", BIN, "-q", "-e", prog])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "1 1 1 1 1 1\n\n\n",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let here = out(r#"begin { printf("%d\n", pid == pid(init) && tid == tid(init) ? 1 : 0); }"#);
    assert_eq!(here, "1\n\n\n");
}

#[test]
fn delete_says_whether_the_element_existed() {
    let o = out(
        r#"begin { @a[1] = 1; $x = delete(@a, 2); $y = delete(@a[1]); @c = count();
                          printf("%d %d\n", $x ? 1 : 0, $y ? 1 : 0); print(delete(@c)); print(delete(@c)); }"#,
    );
    assert_eq!(o, "0 1\ntrue\nfalse\n\n\n");
}

#[test]
fn username_and_usermode() {
    let run_as = |uid: &str| {
        let cmd = format!(
            "setpriv --reuid={uid} --regid={uid} --clear-groups {} 1",
            workload()
        );
        spyglass(&[
            "-q",
            "-c",
            &cmd,
            "-e",
            r#"tracepoint:syscalls:sys_enter_getpid /pid == cpid/ { printf("%s %d\n", username, uid); exit(); }"#,
        ])
    };
    assert_eq!(run_as("65534").stdout, "nobody 65534\n\n\n");
    assert_eq!(run_as("54321").stdout, "54321 54321\n\n\n");
    assert_eq!(
        out(r#"begin { printf("%s %d\n", username, __builtin_usermode); }"#),
        "root 1\n\n\n"
    );
    let o = out("profile:hz:997 { @[usermode < 2 ? 1 : 0] = count(); if (@n++ > 20) { exit(); } }");
    assert!(o.starts_with("\n\n@[1]: "), "{o}");
    let tp = spyglass(&[
        "-e",
        "tracepoint:syscalls:sys_enter_getpid { print(usermode) }",
    ]);
    assert_eq!(tp.code, 1);
    assert!(
        tp.stderr
            .contains("`usermode` is not available in `tracepoint:syscalls:sys_enter_getpid`"),
        "{}",
        tp.stderr
    );
}

/// `join()` prints a command line from `args.argv`, with the default or a given separator.
#[test]
fn join_prints_argv() {
    let o = spyglass(&[
        "-q",
        "-c",
        "/bin/echo a 'b c'",
        "-e",
        r#"t:syscalls:sys_enter_execve /pid == cpid/ { join(args.argv); join(args.argv, "|"); }"#,
    ]);
    // The child's own output shares the pipe; when it lands is up to the scheduler.
    let ours: Vec<&str> = o.stdout.lines().filter(|l| *l != "a b c").collect();
    assert_eq!(
        ours,
        ["/bin/echo a b c", "/bin/echo|a|b c", "", ""],
        "{}",
        o.stderr
    );
    assert_eq!(o.stdout.lines().filter(|l| *l == "a b c").count(), 1);
    let o = spyglass(&[
        "-q",
        "-f",
        "json",
        "-c",
        "/bin/true x",
        "-e",
        r#"t:syscalls:sys_enter_execve /pid == cpid/ { join(args.argv); }"#,
    ]);
    assert_eq!(
        o.stdout, "{\"type\": \"join\", \"data\": \"/bin/true x\"}\n",
        "{}",
        o.stderr
    );
}

/// `ntop()` of 16 bytes is IPv6, written as inet_ntop writes it; IPv4 and IPv6 results are
/// one type, so a variable can hold either (as in bpftrace's tcp tools).
#[test]
fn ntop_ipv6_and_one_type_for_both_families() {
    let o = run_e(
        r#"struct A { unsigned char b[16]; }
           begin { $t = ((uint64)0xb80d0120, (uint64)0x0100000000000000); $p = (struct A *)&$t;
                   $m = ((uint64)0, (uint64)0x04030201ffff0000); $q = (struct A *)&$m;
                   $a = ntop(0x0100007f); printf("%s %s %s\n", $a, ntop($p->b), ntop(10, $q->b));
                   $a = ntop($p->b); @[$a] = count(); exit(); }"#,
    );
    assert_eq!(
        o.stdout, "127.0.0.1 2001:db8::1 ::ffff:1.2.3.4\n\n\n@[2001:db8::1]: 1\n",
        "{}",
        o.stderr
    );
}

/// `debugf()` writes into the kernel's trace buffer, read through tracefs.
#[test]
fn debugf_writes_to_the_trace_buffer() {
    let marker = format!("spyglass-debugf-{}", std::process::id());
    if !std::path::Path::new("/sys/kernel/tracing/trace").exists() {
        let _ = std::process::Command::new("mount")
            .args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"])
            .status();
    }
    let prog = format!(
        r#"begin {{ debugf("{marker} %d %s %x", -5, "str", 255); debugf("{marker} plain"); }}"#
    );
    let expected = [format!("{marker} -5 str ff"), format!("{marker} plain")];
    // The kernel empties the trace buffer whenever a dynamic trace event goes away, as
    // another test's may meanwhile: a run whose lines vanished that way is run again.
    let mut trace = String::new();
    for _ in 0..3 {
        let o = spyglass(&["-q", "-e", &prog]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        trace = std::fs::read_to_string("/sys/kernel/tracing/trace").unwrap();
        let lines: Vec<&str> = trace
            .lines()
            .filter_map(|l| l.split_once("bpf_trace_printk: ").map(|(_, m)| m))
            .filter(|m| m.starts_with(&marker))
            .collect();
        if !lines.is_empty() {
            assert_eq!(lines, expected, "{trace}");
            return;
        }
    }
    panic!("no debugf line in the trace buffer:\n{trace}");
}

/// `skboutput()` in a raw tracepoint (compiled as `tp_btf`, the helper needs a typed
/// skb): loopback TCP traffic freed by `consume_skb` lands in a PCAP file of raw-IP
/// records.
#[test]
fn skboutput_writes_pcap_records() {
    use std::io::{Read, Write};
    let path = format!("{}/spyglass-skb.pcap", env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::remove_file(&path);
    let prog = format!(
        r#"rawtracepoint:consume_skb {{
             $skb = (struct sk_buff *)arg0;
             if ($skb->len > 0 && $skb->len < 2000) {{
               $r = skboutput("{path}", $skb, $skb->len, 0);
               @[$r] = count();
               if (@[0] >= 3) {{ exit(); }}
             }}
           }}"#
    );
    let mut child = std::process::Command::new(BIN)
        .args(["-q", "-e", &prog])
        .env("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 35];
    out.read_exact(&mut first).unwrap();
    // Traffic until spyglass has three packets and exits.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    for _ in 0..200 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        let (mut a, _) = listener.accept().unwrap();
        c.write_all(&[7u8; 100]).unwrap();
        let mut buf = [0u8; 100];
        a.read_exact(&mut buf).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let status = child.wait().unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{rest}");
    let bytes = std::fs::read(&path).expect("the pcap file");
    let u32_at = |i: usize| u32::from_ne_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!(u32_at(0), 0xa1b2_c3d4, "pcap magic");
    assert_eq!(u32_at(20), 101, "LINKTYPE_RAW");
    let (mut at, mut records) = (24, 0);
    while at < bytes.len() {
        let (incl, orig) = (u32_at(at + 8) as usize, u32_at(at + 12) as usize);
        assert!(
            incl > 0 && incl == orig && incl < 2000,
            "record at {at}: {incl} {orig}"
        );
        at += 16 + incl;
        records += 1;
    }
    assert_eq!(at, bytes.len(), "records fill the file exactly");
    assert!(records >= 3, "{records} records");
    assert!(rest.contains("@[0]: "), "{rest}");
}

/// `perf_rb_pages`, when set, also sizes `skboutput`'s perf buffer, as in bpftrace: one
/// mapping per CPU of a header page and the N data pages.
#[test]
fn perf_rb_pages_sizes_the_skboutput_perf_buffer() {
    let path = format!("{}/spyglass-skb-pages.pcap", env!("CARGO_TARGET_TMPDIR"));
    let prog = format!(
        r#"config = {{ perf_rb_pages = 4 }}
           rawtracepoint:consume_skb {{
             $skb = (struct sk_buff *)arg0;
             $r = skboutput("{path}", $skb, $skb->len, 0);
           }}"#
    );
    let (mut child, _stdout) = spawn_attached(&["-q", "-e", &prog], std::process::Stdio::null());
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", child.id())).unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let sizes: Vec<u64> = maps
        .lines()
        .filter(|l| l.ends_with("anon_inode:[perf_event]"))
        .filter_map(|l| {
            let (a, b) = l.split_whitespace().next()?.split_once('-')?;
            Some(u64::from_str_radix(b, 16).ok()? - u64::from_str_radix(a, 16).ok()?)
        })
        .collect();
    let cpus = libbpf_rs::num_possible_cpus().unwrap();
    assert!(!sizes.is_empty() && sizes.len() <= cpus, "{sizes:?}");
    assert!(sizes.iter().all(|&s| s == 5 * 4096), "{sizes:?}");
}
