#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS]: builds the libFuzzer targets of fuzz/ (clang++,
# ASan+UBSan, in build-fuzz/) and runs each for SECONDS (default 60), all at
# once, on a scratch copy of its seed corpus fuzz/corpus/<target>/. Exits
# non-zero on a build failure or on any crash, leak, sanitizer report or bug
# check; the reproducer is left in build-fuzz/artifacts/<target>/.
#
# Knobs: BATON_JOBS=2 (build parallelism), BATON_FUZZ_TARGETS (a subset).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
jobs=${BATON_JOBS:-2}
targets=${BATON_FUZZ_TARGETS:-config_fuzz name_fuzz}
dir=build-fuzz

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is missing (scripts/deps.sh installs clang)" >&2; exit 1; }

flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g1"
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="$flags" -DBATON_FUZZ=ON -DBATON_BUILD_TESTS=OFF -DBATON_BUILD_BENCH=OFF \
  -DBATON_BUILD_EXAMPLES=OFF -DBATON_BUILD_CLI=OFF -DBATON_INSTALL=OFF >/dev/null
cmake --build "$dir" -j "$jobs" --target $targets

# intercept_tls_get_addr=0: as in scripts/test.sh (LeakSanitizer's tracer).
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:intercept_tls_get_addr=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# The targets run side by side, one per core (each fuzzer is one process).
run_target() {
  local t=$1 work="$dir/corpus/$1" art="$dir/artifacts/$1/" log="$dir/$1.log"
  rm -rf "$work" && mkdir -p "$work" "$art"
  cp fuzz/corpus/"$t"/* "$work"/
  # -max_len 2048: names past 1025 bytes are all alike; configs fit easily.
  "$dir/fuzz/$t" -max_total_time="$seconds" -max_len=2048 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$art" -print_final_stats=1 "$work" >"$log" 2>&1
}
declare -A pids
for t in $targets; do
  echo "=================== fuzz: $t for $seconds s"
  run_target "$t" &
  pids[$t]=$!
done
failed=0
summary=()
for t in $targets; do
  log="$dir/$t.log"
  if wait "${pids[$t]}"; then
    result=PASS
  else
    result=FAIL
    failed=1
    tail -n 40 "$log"
  fi
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  summary+=("$result  $t: ${execs:-?} executions in $seconds s, corpus $(ls "$dir/corpus/$t" | wc -l) inputs")
done
echo "=================== fuzz summary"
printf '%s\n' "${summary[@]}"
exit $failed
