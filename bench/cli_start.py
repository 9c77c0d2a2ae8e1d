#!/usr/bin/env python3
"""The cost of one `baton run NAME -- true` on SQLite, as a ratio to
flock(1) doing the same job (take a lock file, run `true`, let go).

    bench/cli_start.py [--rounds N] LABEL=PATH_TO_BATON [LABEL=PATH ...]

Each round runs every command once, in turn, so the variants share the
machine's state; the report gives each one's median wall time over the
rounds and its ratio to flock's median of the same run. A fresh SQLite
database per variant, in a temp dir; the lock is uncontended.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def timed(cmd, cwd):
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - t0) * 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("variants", nargs="+", help="LABEL=PATH of a baton binary")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="baton-cli-start-") as tmp:
        commands = {"flock": ["flock", os.path.join(tmp, "flock.lock"), "true"]}
        for v in a.variants:
            label, path = v.split("=", 1)
            config = os.path.join(tmp, f"{label}.json")
            with open(config, "w") as f:
                json.dump({"backend": "sqlite", "sqlite": {"path": os.path.join(tmp, f"{label}.db")}}, f)
            commands[label] = [os.path.abspath(path), "--config", config, "run", "bench", "--", "true"]
        for cmd in commands.values():  # warm the page cache and create the databases
            timed(cmd, tmp)
        samples = {label: [] for label in commands}
        for _ in range(a.rounds):
            for label, cmd in commands.items():
                samples[label].append(timed(cmd, tmp))
    floor = statistics.median(samples["flock"])
    report = {}
    for label, values in samples.items():
        median = statistics.median(values)
        report[label] = {"median_ms": round(median, 3), "ratio_to_flock": round(median / floor, 2)}
        print(f"{label:>12}: median {median:7.3f} ms  ({median / floor:5.2f} x flock)  over {a.rounds} runs")
    json.dump(report, sys.stderr)
    print(file=sys.stderr)


if __name__ == "__main__":
    main()
