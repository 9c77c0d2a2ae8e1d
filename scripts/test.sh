#!/usr/bin/env bash
# scripts/test.sh: the whole test suite, as CI runs it (.ci/run).
#
#   1. normal:  Release build in build/ (everything: unit, SQLite, conformance,
#               CLI and example tests)
#   2. asan:    AddressSanitizer + UBSan build in build-asan/ (no examples/bench)
#   3. tsan:    ThreadSanitizer build in build-tsan/ (no examples/bench)
#   4. fuzz:    libFuzzer targets of fuzz/ (clang++, ASan+UBSan, build-fuzz/),
#               each run for BATON_FUZZ_SECONDS (45) by scripts/fuzz.sh
#
# Each stage configures, builds and runs ctest (output of failed tests shown).
# The stages run one after the other: a build beside the tests, even at the
# lowest CPU and I/O priority, slows the servers' cancel and hand-off paths
# past the suite's bounds. A failing stage does not stop the others; the
# script ends with a summary and exits non-zero if anything failed.
#
# Knobs: BATON_TEST_STAGES="normal asan tsan fuzz" (a subset to run),
# BATON_JOBS=2 (build parallelism), BATON_TEST_JOBS=3 (tests at once),
# BATON_TEST_SERVERS (scripts/servers.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${BATON_JOBS:-2}
# Most tests spend their time waiting (on leases, timeouts, other
# processes), so three run at once on two cores; those that measure time
# or load the machine are RUN_SERIAL in their CMakeLists.
test_jobs=${BATON_TEST_JOBS:-3}
stages=${BATON_TEST_STAGES:-normal asan tsan fuzz}
fuzz_seconds=${BATON_FUZZ_SECONDS:-45}
started=$SECONDS

scripts/deps.sh

# The servers the backends' tests run against (scripts/servers.sh:
# PostgreSQL, Redis, one etcd member and the 3-member etcd cluster of the
# fault tests), stopped on any exit, failure included.
# shellcheck source=servers.sh
source scripts/servers.sh
trap servers_stop EXIT
servers_start

# Sanitizers: stop at the first report, so a report is always a failure.
# intercept_tls_get_addr=0: GCC 12's runtime takes a dynamic TLS block of a
# dlopen()ed library (the plugins) whose address is 16 past a page boundary
# for a pre-2.25 glibc header and reads two words before it as a range, so
# LeakSanitizer's tracer dies with "Tracer caught signal 11" at exit, now
# and then, reporting no leak (google/sanitizers#1322).
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0:intercept_tls_get_addr=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

summary=()
failed=0

# stage_settings NAME: sets `dir`, `cmake_args` and `ctest_args` of a ctest
# stage.
stage_settings() {
  case $1 in
    normal)
      dir=build
      cmake_args=(-DCMAKE_BUILD_TYPE=Release)
      ctest_args=() ;;
    asan|tsan)
      # The fault suite (label faults: real servers restarted, 3000 process
      # starts), the repeat runs and the CLI cases on PostgreSQL/Redis run
      # in the normal stage only; under the sanitizers the backends are
      # covered by their conformance and backend suites, the CLI by its
      # SQLite cases.
      dir=build-$1
      local sanitizer=address
      [[ $1 == tsan ]] && sanitizer=thread
      cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DBATON_SANITIZE=$sanitizer"
                  -DBATON_BUILD_EXAMPLES=OFF -DBATON_BUILD_BENCH=OFF)
      ctest_args=(-LE 'faults|repeat' -E '^cli[.](postgres|redis)[.]')
      # The scale tests (1000 threads on one name) pass under TSan but take
      # about 40 s each there instead of 2; the code they load (the write
      # gate, the pool) runs under TSan in the backend and conformance
      # suites, with fewer threads.
      if [[ $1 == tsan ]]; then
        ctest_args=(-LE 'faults|repeat|scale' -E '^cli[.](postgres|redis)[.]')
      fi ;;
    *)
      return 1 ;;
  esac
}

# build_stage NAME: configures and builds stage NAME; non-zero on failure.
build_stage() {
  stage_settings "$1"
  cmake -S . -B "$dir" -G Ninja "${cmake_args[@]}" && cmake --build "$dir" -j "$jobs"
}

# stage NAME: builds stage NAME and runs its ctest, adding its line to the
# summary.
stage() {
  local name=$1 t0=$SECONDS
  stage_settings "$name"
  local log="$dir/ctest-output.log"
  echo
  echo "=================== $name: configure and build in $dir/"
  if ! build_stage "$name"; then
    summary+=("FAIL  $name: configure or build failed")
    failed=1
    return 0
  fi
  echo "=================== $name: ctest in $dir/"
  local result=PASS
  if ! (cd "$dir" && ctest --output-on-failure --no-tests=error --timeout 600 -j "$test_jobs" "${ctest_args[@]}") 2>&1 | tee "$log"; then
    result=FAIL
    failed=1
  fi
  local line
  line=$(grep -E 'tests passed, .* tests failed out of' "$log" | tail -n 1 || true)
  summary+=("$result  $name ($((SECONDS - t0)) s): ${line:-no ctest summary}")
  if [[ $result == FAIL ]]; then
    while IFS= read -r l; do summary+=("        $l"); done < <(sed -n '/The following tests FAILED:/,$p' "$log" | tail -n +2 | grep -E '^\s+[0-9]+ - ' || true)
  fi
}

fuzz_stage() {
  local t0=$SECONDS result=PASS
  echo
  echo "=================== fuzz: scripts/fuzz.sh $fuzz_seconds"
  mkdir -p build-fuzz
  if ! scripts/fuzz.sh "$fuzz_seconds" 2>&1 | tee build-fuzz/fuzz-output.log; then
    result=FAIL
    failed=1
  fi
  summary+=("$result  fuzz ($((SECONDS - t0)) s): $(grep -cE '^PASS ' build-fuzz/fuzz-output.log || true) targets passed")
  while IFS= read -r l; do summary+=("        $l"); done < <(grep -E '^(PASS|FAIL)  ' build-fuzz/fuzz-output.log || true)
}

for s in $stages; do
  case $s in
    normal|asan|tsan) stage "$s" ;;
    fuzz) fuzz_stage ;;
    *)
      echo "test.sh: unknown stage '$s' (known: normal asan tsan fuzz)" >&2
      exit 2 ;;
  esac
done

echo
echo "=================== baton test summary ($((SECONDS - started)) s)"
printf '%s\n' "${summary[@]}"
if ((failed)); then
  echo "RESULT: FAILED"
  exit 1
fi
echo "RESULT: all stages passed"
