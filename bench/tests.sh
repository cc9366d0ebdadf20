#!/usr/bin/env bash
# Times `make test` (ruff, mypy and every pytest tier at once) and each pytest tier on its own:
# wall clock and CPU (user + sys of every process it started). CPU time barely moves with machine
# load; wall time does, so the best of the runs is printed. One warm-up `make test` first (mypy's
# cache, the page cache), not counted.
# Usage: bash bench/tests.sh [runs]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
TIMEFORMAT='%R %U %S'

time_target() {  # make target -> "wall cpu" of one run; a failing run stops the benchmark
  local timing
  if ! timing=$({ time make --no-print-directory "$1" >/dev/null 2>&1; } 2>&1); then
    echo "make $1 failed; run it to see why" >&2
    return 1
  fi
  awk '{printf "%.1f %.1f\n", $1, $2 + $3}' <<<"$timing"
}

make --no-print-directory test >/dev/null 2>&1 || { echo "make test fails; run it to see why" >&2; exit 1; }
printf '%s: best of %s runs on %s cores, load average %s\n' "$(date -u +%FT%TZ)" "$runs" "$(nproc)" \
  "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
printf '%-20s %10s %10s\n' target wall_s cpu_s
for target in test test-unit test-template test-slow; do
  best=""
  for _ in $(seq "$runs"); do
    sample=$(time_target "$target")
    if [[ -z "$best" ]] || awk -v a="${sample%% *}" -v b="${best%% *}" 'BEGIN {exit !(a < b)}'; then
      best="$sample"
    fi
  done
  printf '%-20s %10s %10s\n' "make $target" "${best%% *}" "${best##* }"
done
