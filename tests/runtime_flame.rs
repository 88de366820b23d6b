//! Flame graphs: `-f folded` prints stack maps as folded stacks, `--flamegraph FILE.svg`
//! draws them (inferno). A small C program with one hot function, built with frame
//! pointers, is profiled; its heaviest stack must end in that function.

mod common;
use common::*;

use std::process::Command;
use std::sync::OnceLock;

/// `tests/runtime/hot.c`, built once.
fn hot() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let out = format!("{}/spyglass-hot", env!("CARGO_TARGET_TMPDIR"));
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/runtime/hot.c");
        let st = Command::new("cc")
            .args([
                "-O1",
                "-fno-omit-frame-pointer",
                "-fno-inline",
                "-o",
                &out,
                src,
            ])
            .status()
            .expect("cc");
        assert!(st.success(), "compiling hot.c failed");
        out
    })
}

/// Profiles the hot program for 700 ms of its 1.5 s (it is still running, so its user
/// frames can be named, when the maps are printed).
const PROFILE: &str =
    "profile:hz:999 /pid == cpid/ { @[ustack] = count(); } interval:ms:700 { exit(); }";

fn folded_lines(stdout: &str) -> Vec<(String, u64)> {
    stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (stack, n) = l.rsplit_once(' ').expect("stack count");
            (stack.to_string(), n.parse().expect("a count"))
        })
        .collect()
}

#[test]
fn folded_output_names_the_hot_function_in_the_heaviest_stack() {
    let o = spyglass(&[
        "-f",
        "folded",
        "-e",
        PROFILE,
        "-c",
        &format!("{} 1500", hot()),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines = folded_lines(&o.stdout);
    let (heaviest, n) = lines.iter().max_by_key(|(_, n)| *n).expect("some stacks");
    assert!(
        heaviest.ends_with(";hot_spin") || heaviest == "hot_spin",
        "{}",
        o.stdout
    );
    assert!(*n > 50, "{}", o.stdout);
    assert!(
        lines.iter().any(|(s, _)| s.ends_with("cold_spin")),
        "{}",
        o.stdout
    );
}

/// Text of every `<title>` in an SVG; panics unless it is well-formed XML.
fn svg_titles(path: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut r = quick_xml::Reader::from_str(&text);
    let (mut titles, mut in_title) = (vec![], false);
    loop {
        match r
            .read_event()
            .unwrap_or_else(|e| panic!("{path} is not XML: {e}"))
        {
            Event::Start(e) if e.name().as_ref() == b"title" => in_title = true,
            Event::End(e) if e.name().as_ref() == b"title" => in_title = false,
            Event::Text(t) if in_title => titles.push(String::from_utf8_lossy(&t).into_owned()),
            Event::Eof => return titles,
            _ => {}
        }
    }
}

#[test]
fn flamegraph_svg_has_a_frame_for_the_hot_function() {
    let dir = format!("{}/flame-svg", env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let svg = format!("{dir}/profile.svg");
    let o = spyglass(&[
        "--flamegraph",
        &svg,
        "-e",
        PROFILE,
        "-c",
        &format!("{} 1500", hot()),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // The maps still print as text.
    assert!(o.stdout.contains("hot_spin"), "{}", o.stdout);
    let titles = svg_titles(&svg);
    assert!(
        titles.iter().any(|t| t.starts_with("hot_spin (")),
        "{titles:?}"
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.contains("spyglass: profile:hz:999"),
        "the title names the script"
    );
}

#[test]
fn print_draws_numbered_graphs_and_several_maps_one_each() {
    let dir = format!("{}/flame-many", env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let svg = format!("{dir}/out.svg");
    let o = spyglass(&[
        "--flamegraph",
        &svg,
        "-f",
        "folded",
        "-e",
        "profile:hz:999 { @k[kstack] = count(); @u[ustack, comm] = count(); @n = count(); }
         interval:ms:200 { print(@k); }
         interval:ms:500 { exit(); }",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for f in ["out-1.svg", "out-k.svg", "out-u.svg"] {
        assert!(
            std::path::Path::new(&format!("{dir}/{f}")).exists(),
            "{f}: {}",
            o.stderr
        );
        svg_titles(&format!("{dir}/{f}"));
    }
    assert!(!std::path::Path::new(&svg).exists());
    // Named maps lead with their name; kernel frames are annotated; a plain map stays text.
    let lines: Vec<&str> = o.stdout.lines().filter(|l| l.starts_with("@k;")).collect();
    assert!(!lines.is_empty(), "{}", o.stdout);
    assert!(lines.iter().all(|l| l.contains("_[k]")), "{}", o.stdout);
    assert!(o.stdout.contains("\n@n: "), "{}", o.stdout);
}

#[test]
fn kernel_stacks_are_named_when_exit_comes_from_a_probe() {
    // Regression: names were read from /proc/kallsyms while the perf events were being
    // released, and every frame printed as a bare address.
    let o = run_e("profile:hz:999 { @[kstack(1)] = count(); } interval:ms:300 { exit(); }");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let frames: Vec<&str> = o
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('@') && !l.starts_with(']'))
        .collect();
    assert!(!frames.is_empty(), "{}", o.stdout);
    assert!(frames.iter().any(|f| !f.starts_with("0x")), "{}", o.stdout);
}
