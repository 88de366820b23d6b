//! `--metrics ADDR`: the script's maps, live, for Prometheus (`GET /metrics`).
//!
//! A thread of its own accepts connections on the address given (and no other); each
//! scrape is answered on its own short-lived thread, at most `MAX_SCRAPES` at a time, and
//! reads the kernel maps when it comes (per-CPU values merged, as at exit). Tracing and the
//! exit path never wait for it: at exit the process simply ends. Responses are bounded:
//! a map prints at most its `max_map_keys` keys (`format::metrics`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use libbpf_rs::MapHandle;

use super::format::metrics::{exported, metrics_text};
use crate::diag::Diagnostic;
use crate::program::{CompiledProgram, MapSpec};

const MAX_SCRAPES: usize = 8;
/// A client gets this long to send its request and take the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

struct Exported {
    spec: MapSpec,
    map: MapHandle,
}

/// A bound address and the maps it will serve.
pub struct Server {
    listener: TcpListener,
    exports: Vec<Exported>,
    prefix: String,
}

impl Server {
    pub fn bind(
        addr: &str,
        prefix: &str,
        prog: &CompiledProgram,
        maps: &[MapHandle],
    ) -> Result<Server, Diagnostic> {
        let listener = TcpListener::bind(addr)
            .map_err(|e| Diagnostic::global(format!("--metrics: cannot listen on {addr}: {e}")))?;
        let mut exports = vec![];
        for (spec, map) in prog.maps.iter().zip(maps) {
            if !exported(spec) {
                continue;
            }
            let map = MapHandle::try_from(map)
                .map_err(|e| Diagnostic::global(format!("--metrics: {e}")))?;
            exports.push(Exported {
                spec: spec.clone(),
                map,
            });
        }
        exports.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        Ok(Server {
            listener,
            exports,
            prefix: prefix.to_string(),
        })
    }

    /// Serves from a background thread until the process ends.
    pub fn start(self) -> Result<(), Diagnostic> {
        let Server {
            listener,
            exports,
            prefix,
        } = self;
        let exports = Arc::new(exports);
        let busy = Arc::new(AtomicUsize::new(0));
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    if busy.fetch_add(1, Ordering::SeqCst) >= MAX_SCRAPES {
                        busy.fetch_sub(1, Ordering::SeqCst);
                        let _ = respond(&conn, "503 Service Unavailable", "busy\n");
                        continue;
                    }
                    let (exports, prefix, done) = (exports.clone(), prefix.clone(), busy.clone());
                    let spawned =
                        std::thread::Builder::new()
                            .name("scrape".into())
                            .spawn(move || {
                                let _ = answer(conn, &exports, &prefix);
                                done.fetch_sub(1, Ordering::SeqCst);
                            });
                    if spawned.is_err() {
                        // The connection was dropped with the closure.
                        busy.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            })
            .map_err(|e| Diagnostic::global(format!("--metrics: {e}")))?;
        Ok(())
    }
}

fn answer(mut conn: TcpStream, exports: &[Exported], prefix: &str) -> std::io::Result<()> {
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 8192 {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        req.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&req);
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method != "GET" && method != "HEAD" {
        return respond(&conn, "405 Method Not Allowed", "only GET\n");
    }
    if path != "/metrics" && !path.starts_with("/metrics?") {
        return respond(&conn, "404 Not Found", "the metrics are at /metrics\n");
    }
    let mut body = String::new();
    // `ksym`/`usym`/`cgroup_path` keys are named as in the exit dump; the symbolizer is
    // made per scrape (it cannot move between threads) and only when a key needs it.
    let named = exports.iter().any(|e| {
        e.spec
            .key
            .iter()
            .any(|f| matches!(f, crate::program::FieldType::Kind(_)))
    });
    let symbols = named.then(|| super::stacks::Stacks::new(None));
    for e in exports {
        let mut entries = super::maps::read(&e.map, &e.spec);
        if let Some(symbols) = &symbols {
            for entry in &mut entries {
                entry.key.iter_mut().for_each(|k| symbols.resolve(k));
            }
        }
        body.push_str(&metrics_text(
            prefix,
            &e.spec,
            &entries,
            e.spec.max_entries as usize,
        ));
    }
    let body = if method == "HEAD" {
        String::new()
    } else {
        body
    };
    respond(&conn, "200 OK", &body)
}

fn respond(mut conn: &TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body.as_bytes())?;
    conn.flush()
}
