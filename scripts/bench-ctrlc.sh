#!/usr/bin/env bash
# Ctrl-C under load: a probe fed by the tracer's own output (every printed line is a
# write(2), which fires the probe again), SIGINT after 2 s, time until the process is gone.
#   scripts/bench-ctrlc.sh [TRACER...]      (default: target/release/spyglass)
# Prints, per tracer and sink (file, pipe): the median and range of 5 runs in ms, and
# whether END ran and the map was printed every time.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tracers=("$@")
[ ${#tracers[@]} -eq 0 ] && tracers=(target/release/spyglass)
prog='tracepoint:raw_syscalls:sys_enter { @[comm] = count(); printf("%d\n", tid); } END { printf("end\n"); }'
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

run_once() { # tracer sink -> "ms ok"
  local t=$1 sink=$2 pid start end ok=no
  if [ "$sink" = file ]; then
    "$t" -e "$prog" >"$dir/out" 2>/dev/null & pid=$!
  else
    rm -f "$dir/fifo"; mkfifo "$dir/fifo"
    cat "$dir/fifo" >"$dir/out" &
    "$t" -e "$prog" >"$dir/fifo" 2>/dev/null & pid=$!
  fi
  sleep 2
  start=$(date +%s%N)
  kill -INT "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.005
    if [ $(( ($(date +%s%N) - start) / 1000000 )) -gt 20000 ]; then kill -9 "$pid"; break; fi
  done
  end=$(date +%s%N)
  wait 2>/dev/null
  grep -q '^end$' "$dir/out" && grep -q '^@\[' "$dir/out" && ok=yes
  echo "$(( (end - start) / 1000000 )) $ok"
}

for t in "${tracers[@]}"; do
  for sink in file pipe; do
    ms=(); oks=yes
    for _ in 1 2 3 4 5; do
      read -r m ok < <(run_once "$t" "$sink")
      ms+=("$m"); [ "$ok" = yes ] || oks=no
    done
    sorted=($(printf '%s\n' "${ms[@]}" | sort -n))
    echo "$t  stdout to a $sink: SIGINT -> exit ${sorted[2]} ms [${sorted[0]}..${sorted[4]}], end + maps printed: $oks"
  done
done
