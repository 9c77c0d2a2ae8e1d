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
# A failing stage does not stop the others; the script ends with a summary
# and exits non-zero if anything failed.
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
started=$SECONDS

scripts/deps.sh

# The PostgreSQL and Redis servers their backends' tests run against
# (scripts/servers.sh), stopped on any exit, failure included.
# shellcheck source=servers.sh
source scripts/servers.sh
trap servers_stop EXIT
servers_start

# Sanitizers: stop at the first report, so a report is always a failure.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

summary=()
failed=0

# stage NAME DIR [CTEST_ARG...] -- [CMAKE_ARG...]
stage() {
  local name=$1 dir=$2
  shift 2
  local ctest_args=()
  while [[ $1 != -- ]]; do ctest_args+=("$1"); shift; done
  shift
  local t0=$SECONDS log="$dir/ctest-output.log"

  echo
  echo "=================== $name: configure and build in $dir/"
  if ! cmake -S . -B "$dir" -G Ninja "$@"; then
    summary+=("FAIL  $name: cmake configure failed")
    failed=1
    return 0
  fi
  if ! cmake --build "$dir" -j "$jobs"; then
    summary+=("FAIL  $name: build failed")
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

for s in $stages; do
  case $s in
    normal)
      stage normal build -- -DCMAKE_BUILD_TYPE=Release ;;
    asan)
      # The fault suite (label faults: real servers restarted, 3000 process
      # starts) and the CLI cases on PostgreSQL/Redis run in the normal stage
      # only, to keep CI under 20 minutes; under the sanitizers the backends
      # are covered by their conformance and backend suites, the CLI by its
      # SQLite cases.
      stage asan build-asan -LE 'faults|repeat' -E '^cli[.](postgres|redis)[.]' -- -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBATON_SANITIZE=address \
        -DBATON_BUILD_EXAMPLES=OFF -DBATON_BUILD_BENCH=OFF ;;
    tsan)
      stage tsan build-tsan -LE 'faults|repeat' -E '^cli[.](postgres|redis)[.]' -- -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBATON_SANITIZE=thread \
        -DBATON_BUILD_EXAMPLES=OFF -DBATON_BUILD_BENCH=OFF ;;
    fuzz)
      t0=$SECONDS
      echo
      echo "=================== fuzz: scripts/fuzz.sh ${BATON_FUZZ_SECONDS:-45}"
      mkdir -p build-fuzz
      if scripts/fuzz.sh "${BATON_FUZZ_SECONDS:-45}" 2>&1 | tee build-fuzz/fuzz-output.log; then
        result=PASS
      else
        result=FAIL
        failed=1
      fi
      summary+=("$result  fuzz ($((SECONDS - t0)) s): $(grep -cE '^PASS ' build-fuzz/fuzz-output.log || true) targets passed")
      while IFS= read -r l; do summary+=("        $l"); done < <(grep -E '^(PASS|FAIL)  ' build-fuzz/fuzz-output.log || true)
      ;;
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
