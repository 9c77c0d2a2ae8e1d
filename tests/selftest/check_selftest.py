#!/usr/bin/env python3
"""The conformance suite's self-test, on the in-memory backend.

    check_selftest.py --binary PATH CASE   run one case (ctest runs each)
    check_selftest.py --list               print the case names

Each case runs the suite (conformance_selftest, selftest_main.cpp) with one
deliberate defect of the backend, or none, and checks the verdict: the exit
status, what the output must say (the clause the defect breaks), and that
the run ends within its bound (no hang).
"""

import argparse
import os
import re
import subprocess
import sys
import time

# name: (defect, suite arguments, extra environment, expected exit status,
#        patterns the output must contain, bound on the run in seconds)
CASES = {
    # A correct single-process backend: every case it can run passes, the
    # [process] ones are listed as skipped.
    "clean": ("none", [], {}, 0,
              [r"conformance 'memory[^']*': \d+ passed, 0 failed, [1-9]\d* skipped",
               r"skipped, the backend does not declare what they need:",
               r"needs \[process\]: Suite::multi_process is false"], 240),
    # Cases that time themselves by inspect().waiters report that
    # precondition, naming its clause, instead of a cascade.
    "waiters_always_zero": ("waiters-always-zero", ["[fifo],[timeout],[clear]"], {}, 1,
                            [r"precondition: inspect\(\)\.waiters must count queued waiters", r"§1\.9", r"\d+ failed"], 240),
    # An acquire that never returns: each such case fails at its bound,
    # naming the case, its step and the backend call in progress, and the
    # run goes on with the next case.
    "acquire_hangs": ("acquire-hangs", ["[timeout]"], {"BATON_CONFORMANCE_CASE_TIMEOUT_S": "4"}, 1,
                      [r"ran past its time bound of 4 s",
                       r"backend calls in progress:\n\s+BackendLock\(\"[^\n]*\"\)\.acquire\(",
                       r"in step: ",
                       r"ok\s+[\d.]+ s  a zero or negative timeout makes exactly one attempt"], 120),
    "try_jumps_queue": ("try-jumps-queue", ["[fifo]"], {}, 1,
                        [r"§1\.3", r"FAILED[^\n]*try_acquire never jumps the queue while the lock is handed to a waiting thread"], 240),
    "clear_wakes_nobody": ("clear-wakes-nobody", ["clear() wakes the head waiter promptly"],
                           {"BATON_CONFORMANCE_CASE_TIMEOUT_S": "20"}, 1, [r"§1\.10"], 120),
    "list_omits_forever": ("list-omits-forever", ["[inspect],[ttl]"], {}, 1,
                           [r"§1\.9", r"FAILED[^\n]*a lease of baton::forever does not expire"], 240),
}


def run_case(binary, name):
    defect, args, env_extra, want_status, patterns, bound = CASES[name]
    env = dict(os.environ, BATON_SELFTEST_DEFECT=defect, **env_extra)
    t0 = time.monotonic()
    try:
        proc = subprocess.run([binary, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace", timeout=bound)
    except subprocess.TimeoutExpired as e:
        print(e.stdout or "")
        print(f"FAIL {name}: the suite did not end within {bound} s")
        return 1
    elapsed = time.monotonic() - t0
    out = proc.stdout
    problems = []
    if proc.returncode != want_status:
        problems.append(f"exit status {proc.returncode}, expected {want_status}")
    problems += [f"output lacks /{p}/" for p in patterns if not re.search(p, out)]
    if problems:
        print(out)
        print(f"FAIL {name} ({elapsed:.1f} s): " + "; ".join(problems))
        return 1
    print(out[-3000:])
    print(f"PASS {name} ({elapsed:.1f} s): defect {defect!r} gave exit {proc.returncode} and the expected messages")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    if a.list:
        print(";".join(CASES))  # a CMake list
        return 0
    if not a.binary or not a.cases:
        ap.error("--binary PATH and a CASE are required")
    unknown = [c for c in a.cases if c not in CASES]
    if unknown:
        ap.error(f"unknown case(s): {unknown}")
    return max(run_case(os.path.abspath(a.binary), c) for c in a.cases)


if __name__ == "__main__":
    sys.exit(main())
