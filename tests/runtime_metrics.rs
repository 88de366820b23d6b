//! `--metrics ADDR`: the maps served live over HTTP in the Prometheus text format, read
//! from the kernel at each scrape; concurrent scrapes; a clean error for a busy address.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The tests that count the workload's calls by its name run one at a time.
static WORKLOAD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// spyglass serving `--metrics` on `port` (plus `args`), in the background.
fn tracer(port: u16, args: &[&str]) -> std::process::Child {
    Command::new(BIN)
        .args(["--metrics", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The first `/metrics` answer `ok` accepts, waiting up to 10 s (the endpoint answers
/// once every probe is attached).
fn scrape_until(port: u16, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        if let Some(b) = get(port, "/metrics").filter(|b| ok(b)) {
            return b;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no answer from the endpoint"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn scrapes_show_the_live_maps_and_agree_with_the_exit_dump() {
    let _one = WORKLOAD.lock().unwrap_or_else(|e| e.into_inner());
    let port = free_port();
    let prog = r#"tracepoint:syscalls:sys_enter_getpid /comm == "spyglass-worklo"/ {
  @calls[comm] = count(); @lat = hist(7); @n = count();
}
interval:s:3 { exit(); }"#;
    let child = tracer(port, &["-e", prog]);
    scrape_until(port, |_| true);
    let st = Command::new(workload()).arg("250").status().unwrap();
    assert!(st.success());
    // Two scrapes at once.
    let scrapes: Vec<String> = (0..2)
        .map(|_| std::thread::spawn(move || get(port, "/metrics").unwrap()))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    for s in &scrapes {
        assert!(s.starts_with("HTTP/1.1 200 OK\r\n"), "{s}");
        assert!(s.contains("Content-Type: text/plain; version=0.0.4"), "{s}");
        assert!(s.contains("# TYPE spyglass_calls_total counter\n"), "{s}");
        assert!(
            s.contains("\nspyglass_calls_total{key=\"spyglass-worklo\"} 250\n"),
            "{s}"
        );
        assert!(s.contains("\nspyglass_n_total 250\n"), "{s}");
        assert!(s.contains("\nspyglass_lat_bucket{le=\"7\"} 250\n"), "{s}");
        assert!(
            s.contains("\nspyglass_lat_bucket{le=\"+Inf\"} 250\n"),
            "{s}"
        );
        assert!(s.contains("\nspyglass_lat_sum 1750\n"), "{s}");
    }
    let other = get(port, "/").unwrap();
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
    let o = Out::of(child.wait_with_output().unwrap());
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("@calls[spyglass-worklo]: 250\n"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("@n: 250\n"), "{}", o.stdout);
}

#[test]
fn an_address_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = spyglass(&["--metrics", &addr, "-e", "begin { exit(); }"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr
            .contains(&format!("--metrics: cannot listen on {addr}")),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
}

#[test]
fn the_prefix_can_be_changed() {
    let port = free_port();
    let prog = "begin { @x = 5; @c = count(); @r = count(); clear(@r); } interval:s:2 { exit(); }";
    let child = tracer(port, &["--metrics-prefix", "myapp_", "-e", prog]);
    // `begin` has run by the time the endpoint answers.
    let body = scrape_until(port, |_| true);
    assert!(body.contains("# TYPE myapp_x gauge\nmyapp_x 5\n"), "{body}");
    // A count is a counter, unless the script resets it.
    assert!(
        body.contains("# TYPE myapp_c_total counter\nmyapp_c_total 1\n"),
        "{body}"
    );
    assert!(body.contains("# TYPE myapp_r gauge\n"), "{body}");
    let o = Out::of(child.wait_with_output().unwrap());
    assert_eq!(o.code, 0, "{}", o.stderr);
}

/// Under `--metrics` histograms keep the sum of their values (a slot past the last
/// bucket, in the kernel): it is served as `_sum`, for scalar (array) and keyed maps,
/// negative values included, and never shows in the printed maps.
#[test]
fn histograms_have_a_sum_that_the_printed_maps_never_show() {
    let port = free_port();
    let prog = "begin { @h = hist(5); @h = hist(100); @l[1] = lhist(7, 0, 10, 1); \
                @l[1] = lhist(-3, 0, 10, 1); @l[2] = lhist(12, 0, 10, 1); @k[\"a\"] = hist(-4, 2); }
                interval:s:2 { exit(); }";
    let child = tracer(port, &["-e", prog]);
    let body = scrape_until(port, |_| true);
    for want in [
        "spyglass_h_bucket{le=\"+Inf\"} 2\nspyglass_h_sum 105\nspyglass_h_count 2\n",
        "spyglass_l_bucket{key=\"1\",le=\"+Inf\"} 2\nspyglass_l_sum{key=\"1\"} 4\n",
        "spyglass_l_sum{key=\"2\"} 12\n",
        "spyglass_k_sum{key=\"a\"} -4\n",
    ] {
        assert!(body.contains(want), "{want:?} not in\n{body}");
    }
    let with = Out::of(child.wait_with_output().unwrap());
    assert_eq!(with.code, 0, "{}", with.stderr);
    let prog = prog.replace("interval:s:2", "interval:ms:1");
    let without = spyglass(&["-e", &prog]);
    assert_eq!(with.stdout, without.stdout);
    assert!(with.stdout.contains("@h:\n[4, 8)"), "{}", with.stdout);
}

/// A real Prometheus (Debian's, installed by scripts/setup.sh) scrapes spyglass every
/// second; what its query API returns must be what spyglass prints at exit.
#[test]
fn a_real_prometheus_scrapes_what_spyglass_prints_at_exit() {
    let _one = WORKLOAD.lock().unwrap_or_else(|e| e.into_inner());
    let (sp, pp) = (free_port(), free_port());
    let dir = format!("{}/prometheus-{sp}", env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: spyglass\n    static_configs:\n      - targets: ['127.0.0.1:{sp}']\n"
    );
    std::fs::write(format!("{dir}/prometheus.yml"), config).unwrap();
    let prog = r#"tracepoint:syscalls:sys_enter_getpid /comm == "spyglass-worklo"/ { @calls[comm] = count(); @lat = hist(3); }"#;
    let tracer = tracer(sp, &["-e", prog]);
    scrape_until(sp, |_| true);
    assert!(Command::new(workload())
        .arg("300")
        .status()
        .unwrap()
        .success());
    let mut prom = Command::new("prometheus")
        .args([
            &format!("--config.file={dir}/prometheus.yml"),
            &format!("--storage.tsdb.path={dir}/data"),
            &format!("--web.listen-address=127.0.0.1:{pp}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (scripts/setup.sh installs it)");
    // A histogram in the same scrape: Prometheus drops a scrape whose format it rejects.
    let query =
        "/api/v1/query?query=%7B__name__%3D~%22spyglass_calls_total%7Cspyglass_lat_sum%22%7D";
    let (mut seen, mut sum) = (None, None);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) && (seen.is_none() || sum.is_none()) {
        std::thread::sleep(Duration::from_millis(250));
        let Some(resp) = get(pp, query) else { continue };
        let Some((_, body)) = resp.split_once("\r\n\r\n") else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
            continue;
        };
        for r in v["data"]["result"].as_array().into_iter().flatten() {
            if r["metric"]["job"] != "spyglass" {
                continue;
            }
            let value = r["value"][1].as_str().map(str::to_string);
            match r["metric"]["__name__"].as_str() {
                Some("spyglass_lat_sum") => sum = value,
                _ if r["metric"]["key"] == "spyglass-worklo" => seen = value,
                _ => {}
            }
        }
    }
    let _ = prom.kill();
    let _ = prom.wait();
    let pid = tracer.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let o = Out::of(tracer.wait_with_output().unwrap());
    assert_eq!(o.code, 0, "{}", o.stderr);
    let seen = seen.expect("Prometheus never returned spyglass_calls_total");
    assert_eq!(seen, "300");
    assert_eq!(sum.as_deref(), Some("900"));
    assert!(
        o.stdout
            .contains(&format!("@calls[spyglass-worklo]: {seen}\n")),
        "{}",
        o.stdout
    );
}

#[test]
fn kernel_symbol_keys_are_labelled_by_name() {
    let port = free_port();
    let prog = r#"profile:hz:999 { @[ksym(reg("ip"))] = count(); } interval:s:2 { exit(); }"#;
    let child = tracer(port, &["-e", prog]);
    let body = scrape_until(port, |b| b.contains("spyglass_map_total{"));
    let keys: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("spyglass_map_total{key=\""))
        .collect();
    assert!(keys.iter().any(|k| !k.starts_with("0x")), "{body}");
    let o = Out::of(child.wait_with_output().unwrap());
    assert_eq!(o.code, 0, "{}", o.stderr);
}
