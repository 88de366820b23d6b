#!/usr/bin/env python3
"""Regenerates link/hot-text.txt: the functions a compile runs, which build.rs has the
linker place together at the start of the text (see link/README.md).

A first run maps LLVM's code in as it executes it, 64 KiB per page fault; spread over
30 MB of text, a one-liner's compile touched code in 300 places. Run by hand when LLVM,
the Rust toolchain or the code generator changes much; a stale list costs speed only
(names it lists that no longer exist match nothing).

Needs valgrind (callgrind records every function executed) and a release build with
symbols, which this script makes under $TMPDIR. Usage: scripts/gen-hot-text.py [SCRIPT...]
(default: the language suite's code generation and stdlib scripts, plus the runs below,
each compiled and then taken from the cache).
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "link", "hot-text.txt")
# A symbol name (callgrind also reports addresses and "(below main)").
SYMBOL = re.compile(r"^[A-Za-z_.$][\w.$]*$")

# Real runs (compile, load, attach, exit), so the run-time path is placed too.
RUNS = [
    ["-e", "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); } interval:ms:100 { exit(); }"],
    ["-e", "begin { printf(\"%s %d\\n\", comm, pid); @h = hist(5); exit(); }"],
]


def build():
    target = os.path.join(tempfile.gettempdir(), "spyglass-hot-text")
    # Without the list: valgrind names only the functions in `.text` (build.rs).
    env = dict(os.environ, CARGO_PROFILE_RELEASE_STRIP="false", CARGO_TARGET_DIR=target, SPYGLASS_NO_HOT_TEXT="1")
    subprocess.run(["cargo", "build", "--release", "--bin", "spyglass"], cwd=ROOT, env=env, check=True)
    return os.path.realpath(os.path.join(target, "release", "spyglass"))


def profile(binary, args, out, env=None):
    cmd = ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}", binary]
    subprocess.run(cmd + args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def executed(path, binary):
    """Names of the functions of `binary` that a callgrind profile saw run."""
    names, objects, found = {}, {}, set()
    current = None

    def resolve(value, table):
        m = re.match(r"\((\d+)\)(?: (.*))?", value)
        if not m:
            return value
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1))

    with open(path, errors="replace") as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            if key == "ob":
                current = resolve(value, objects)
            elif key == "cob":
                resolve(value, objects)
            elif key == "fn":
                name = resolve(value, names)
                if current and os.path.realpath(current) == binary and name and SYMBOL.match(name):
                    found.add(name)
            elif key == "cfn":
                resolve(value, names)
    return found


def aliases(binary):
    """Every name of each function address: a constructor's section is named after one
    of its aliases (C1/C2), and callgrind may report another."""
    by_addr, addr_of = {}, {}
    for line in subprocess.run(["nm", binary], capture_output=True, text=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            a = int(parts[0], 16)
            by_addr.setdefault(a, set()).add(parts[2])
            addr_of[parts[2]] = a
    return lambda n: by_addr.get(addr_of.get(n), {n})


def main():
    scripts = sys.argv[1:] or sorted(
        glob.glob(os.path.join(ROOT, "tests/lang/codegen/*.bt"))
        + glob.glob(os.path.join(ROOT, "tests/lang/stdlib/*.bt"))
    )
    binary = build()
    # How many runs executed each function: the common ones go first, so a small script
    # touches a short stretch.
    runs = {}
    # The functions of a cached start (a repeated run: flags, the cache entry, libbpf,
    # attach), placed first of all: it is the start users meet most, and it is short.
    cached = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache_env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"))
        jobs = [(["--mode", "codegen", "--no-cache", s], None, runs) for s in scripts]
        # Each real run twice: compiled and stored, then taken from the cache.
        for r in RUNS:
            jobs += [(r, cache_env, runs), (r, cache_env, cached)]
        for i, (args, env, into) in enumerate(jobs):
            out = os.path.join(tmp, f"{i}.out")
            profile(binary, args, out, env)
            if os.path.exists(out):
                for n in executed(out, binary):
                    into[n] = into.get(n, 0) + 1
            print(f"{i + 1}/{len(jobs)}: {len(runs) + len(cached)} functions", file=sys.stderr)
    names_of = aliases(binary)

    def counted(runs):
        count = {}
        for n, c in runs.items():
            for alias in names_of(n):
                count[alias] = max(count.get(alias, 0), c)
        # Constructors are placed by build.rs as a group.
        return {n: c for n, c in count.items() if not n.startswith("_GLOBAL__sub_I")}

    first, rest = counted(cached), counted(runs)
    names = sorted(first, key=lambda n: (-first[n], n))
    names += sorted((n for n in rest if n not in first), key=lambda n: (-rest[n], n))
    with open(OUT, "w") as f:
        f.write("# Generated by scripts/gen-hot-text.py; see link/README.md. Do not edit.\n")
        for n in names:
            f.write(n + "\n")
    print(f"{OUT}: {len(names)} functions", file=sys.stderr)


if __name__ == "__main__":
    main()
