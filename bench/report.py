#!/usr/bin/python3
"""Turns the JSON lines of scripts/bench.sh into results.json, results.md,
gnuplot data files and plots.gp; or prints the README's small results block
from a results.json.

    report.py RAW.jsonl OUTDIR [--load-start L] [--load-end L] [--seconds S]
    report.py --readme-block RESULTS.json

The README block (between README_BEGIN and README_END in README.md) takes
its rows, labels and number formats from the same table as results.md, so
scripts/check_bench_block.py can check that both say the same.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

BACKENDS = ["sqlite", "postgres", "redis", "etcd"]
DEPTHS = ["1", "10", "100", "500"]
PROCS = ["1", "2", "4", "8", "16"]


# The rows of results.md's main table that the README repeats, in order:
# (label, key path, format). results.md writes them with the same labels and
# formats, so the figures are the same strings in both.
README_ROWS = [
    ("uncontended acquire+release p50 (us)", ("uncontended_us_p50",), "%.1f"),
    ("floor p50 (us)", ("floor_us_p50",), "%.1f"),
    ("ratio to floor", ("ratio_to_floor",), "%.2f"),
    ("hand-off p50 (us)", ("handoff_us_p50",), "%.1f"),
    ("hand-off p50, 500 waiters (us)", ("handoff_us_p50_by_depth", "500"), "%.1f"),
    ("grants/s, 1 procs", ("grants_per_s_by_procs", "1"), "%.0f"),
    ("grants/s, 8 procs", ("grants_per_s_by_procs", "8"), "%.0f"),
    ("fairness max/min, 8 procs", ("fairness_max_min_by_procs", "8"), "%.2f"),
]
README_BEGIN = ("<!-- bench-results:begin (generated: python3 bench/report.py --readme-block "
                "docs/bench/results.json; scripts/check_bench_block.py checks it) -->")
README_END = "<!-- bench-results:end -->"


def cell(v, fmt="%.1f"):
    return "-" if v is None else (fmt % v if isinstance(v, (int, float)) else str(v))


def table_row(label, names, B, get, fmt="%.1f"):
    vals = []
    for n in names:
        try:
            vals.append(cell(get(B[n]), fmt))
        except (KeyError, TypeError, ZeroDivisionError):
            vals.append("-")
    return "| " + label + " | " + " | ".join(vals) + " |"


def readme_block(res):
    """The README's results block (markers included) for one results.json."""
    B = res["backends"]
    names = [k for k in BACKENDS if k in B]
    m = res["machine"]

    def getter(path):
        def get(b):
            v = b
            for k in path:
                v = v[k]
            return v
        return get

    runs = max(B[names[0]].get("handoff_runs_by_depth", {"1": 1}).values()) if names else 1
    load = ""
    if res.get("load_avg_1min_start") is not None and res.get("load_avg_1min_end") is not None:
        load = "; 1-min load average %.2f at start, %.2f at end" % (res["load_avg_1min_start"],
                                                                    res["load_avg_1min_end"])
    out = [README_BEGIN,
           "Machine: %s, %s cores, Linux %s, %s%s. Medians; hand-off and contention figures are medians of "
           "%s runs of each measure." % (m["cpu"], m["nproc"], m["kernel"], m["os"], load, runs), "",
           "| measure | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, path, fmt in README_ROWS:
        out.append(table_row(label, names, B, getter(path), fmt))
    met = []
    for n in names:
        t = B[n].get("targets", [])
        met.append("%s %d of %d" % (n, sum(1 for x in t if x["pass"]), len(t)))
    out += ["", "Targets met: " + ", ".join(met) + "."]
    out.append(README_END)
    return "\n".join(out) + "\n"


# The rows of results.md's lock-set and fenced-write table: (label, measure,
# key (or a function of the measure's figures), format). Every ratio is to a
# figure of the same run.
LOCK_SET_FENCE_ROWS = [
    ("lock set of 3: acquire+release p50 (us)", "lock_set", "set_us_p50", "%.1f"),
    ("3 single locks, one after another: p50 (us)", "lock_set", "singles_us_p50", "%.1f"),
    ("floor pair x3 p50 (us)", "lock_set", "floor3_us_p50", "%.1f"),
    ("lock set / 3 singles", "lock_set", "set_to_singles", "%.2f"),
    ("lock set / floor x3", "lock_set", "set_to_floor3", "%.2f"),
    ("3 singles / floor x3", "lock_set", "singles_to_floor3", "%.2f"),
    ("plain write p50 (us)", "fence", "plain_us_p50", "%.1f"),
    ("Redis: the same SET by EVALSHA p50 (us)", "fence", "plain_eval_us_p50", "%.1f"),
    ("fenced write p50 (us)", "fence", "fenced_us_p50", "%.1f"),
    ("fenced / plain", "fence", "fenced_to_plain", "%.2f"),
    ("fence's added cost p50 (us)", "fence", "fenced_added_us", "%.1f"),
    ("Redis: fenced / the same SET by EVALSHA", "fence", lambda f: f["fenced_us_p50"] / f["plain_eval_us_p50"], "%.2f"),
    ("PostgreSQL: fenced by SELECT baton_fence() p50 (us)", "fence", "fenced_sql_us_p50", "%.1f"),
    ("PostgreSQL: SELECT baton_fence() / plain", "fence", "fenced_sql_to_plain", "%.2f"),
]


def lock_set_fence_md(B, names):
    """results.md's section on lock sets and fenced writes (none when
    neither was measured)."""
    if not any("lock_set" in B[n] or "fence" in B[n] for n in names):
        return []
    md = ["## Lock sets and fenced writes", "", "| measure | " + " | ".join(names) + " |",
          "|---|" + "---:|" * len(names)]
    for label, measure, key, fmt in LOCK_SET_FENCE_ROWS:
        md.append(table_row(label, names, B, lambda b, m=measure, k=key: k(b[m]) if callable(k) else b[m][k], fmt))
    md += ["", "Lock set: a `LockSet` of 3 names acquired and released, against 3 single `Lock`s of the same names "
           "acquired and released one after another and against the floor's pair (see above) 3 times, in "
           "alternating runs on one manager; p50 medians over the runs. Fenced write: one write transaction "
           "bumping a row (Redis: one `SET`) with the stale-write check of baton's fence and without it (plain, "
           "the raw primitive), on the data's own connection, alternating; SQLite `fence()` in `BEGIN IMMEDIATE` "
           "... `COMMIT`, PostgreSQL `fence()` (or `SELECT baton.baton_fence($1, $2)`) in `BEGIN` ... `COMMIT`, "
           "Redis `Fence::set()` against `SET` and an `EVALSHA` of a script making the same `SET`. Client on "
           "CPU 0, servers on the last CPU, as for the uncontended measure.", ""]
    return md


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "os": subprocess.run(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"],
                                 capture_output=True, text=True).stdout.strip()}


def targets(name, b):
    """[(target, value, limit, passed)] for one backend."""
    t = []
    ratio_limit = 1.3 if name == "sqlite" else 1.2
    handoff_limit = {"sqlite": 2000.0, "etcd": 1000.0}.get(name, 500.0)
    if "ratio_to_floor" in b:
        label = "ratio_to_floor <= %.1f" % ratio_limit
        if "floor_fenced_us_p50" in b:
            # What a durable fencing token alone adds to the floor, and what
            # baton adds on top of that, measured in the same run.
            label += " (floor + a durable counter bump: %.2fx the floor; baton %.2fx that)" % (
                b["floor_fenced_us_p50"] / b["floor_us_p50"], b["uncontended_us_p50"] / b["floor_fenced_us_p50"])
        t.append((label, b["ratio_to_floor"], b["ratio_to_floor"] <= ratio_limit))
    if "handoff_us_p50" in b:
        label = "hand-off p50 < %.1f ms" % (handoff_limit / 1000)
        bare = b.get("handoff_floor_us_p50_by_depth", {}).get("1")
        fenced = b.get("handoff_floor_fenced_us_p50_by_depth", {}).get("1")
        if bare is not None:
            label += " (bare primitive: %.0f us" % bare
            if fenced is not None:
                label += "; with a durable counter bump in the lock statement: %.0f us" % fenced
            label += ")"
        t.append((label, b["handoff_us_p50"], b["handoff_us_p50"] < handoff_limit))
    d = b.get("handoff_us_p50_by_depth", {})
    if "1" in d and "500" in d:
        r = d["500"] / d["1"]
        fd = b.get("handoff_floor_us_p50_by_depth", {})
        label = "hand-off p50 at 500 waiters <= 2x at 1"
        if "1" in fd and "500" in fd:
            # The bare primitive's own growth, measured in the same run.
            label += " (bare primitive: %.2fx" % (fd["500"] / fd["1"])
            wd = b.get("handoff_floor_wake_us_p50_by_depth", {})
            if "1" in wd and "500" in wd:
                # SQLite: the floor's futex wake-ups alone, so the growth of
                # the store can be told from the wake-ups'.
                label += "; its wake-ups alone: %.2fx" % (wd["500"] / wd["1"])
            label += ")"
        t.append((label, round(r, 2), r <= 2.0))
    g = b.get("grants_per_s_by_procs", {})
    if "1" in g and "8" in g:
        r = g["8"] / g["1"]
        label = "grants/s at 8 procs >= 0.5x at 1"
        if "grants_per_s_1proc_unpinned" in b:
            label += " (1 proc across CPUs; unpinned: %.2fx)" % (g["8"] / b["grants_per_s_1proc_unpinned"])
        for key, what in (("floor_turns_per_s_by_procs", "1 write"), ("floor2_turns_per_s_by_procs", "2 writes")):
            ring = b.get(key, {})
            if "8" in ring and "1" in ring:
                # The primitive's own loss from 1 to 8 processes bounds baton's.
                label += " (bare ring, %s a turn: 8 procs %.2fx its 1 proc, %.2fx baton's 1 proc)" % (
                    what, ring["8"] / ring["1"], ring["8"] / g["1"])
        t.append((label, round(r, 2), r >= 0.5))
    f = b.get("fairness_max_min_by_procs", {})
    if "8" in f:
        t.append(("fairness max/min at 8 procs <= 1.5", f["8"], f["8"] <= 1.5))
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw", nargs="?")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--load-start")
    ap.add_argument("--load-end")
    ap.add_argument("--seconds", type=int)
    ap.add_argument("--readme-block", metavar="RESULTS_JSON",
                    help="print the README's results block for RESULTS_JSON and exit")
    a = ap.parse_args()
    if a.readme_block:
        with open(a.readme_block) as f:
            sys.stdout.write(readme_block(json.load(f)))
        return
    if a.raw is None or a.out is None:
        ap.error("RAW and OUTDIR are required (or --readme-block RESULTS_JSON)")

    backends, peers, failed = {}, {}, []
    # Repeated measures (hand-offs, contention) are gathered here, then each
    # key gets the median of its runs: one run on a VM can be off by 30%.
    runs = {}

    def add(b, key, sub, value):
        runs.setdefault((id(b), key, sub), (b, []))[1].append(value)

    with open(a.raw) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if "failed" in r:
                failed.append(r["failed"])
                continue
            if "same_cpu" in r:
                x = r["same_cpu"]
                b = backends.setdefault(x["backend"], {})
                b["same_cpu_uncontended_us_p50"] = x["uncontended_us_p50"]
                b["same_cpu_floor_us_p50"] = x["floor_us_p50"]
                b["same_cpu_ratio_to_floor"] = x["ratio_to_floor"]
                continue
            if "unpinned" in r:
                x = r["unpinned"]
                backends.setdefault(x["backend"], {})["grants_per_s_1proc_unpinned"] = x["grants_per_s"]
                continue
            if "peer" in r:
                peers[r.pop("peer")] = r
                continue
            b = backends.setdefault(r["backend"], {})
            if r.get("measure") == "contention_floor":
                key = "floor_turns_per_s_by_procs" if r.get("writes", 1) == 1 else "floor2_turns_per_s_by_procs"
                add(b, key, str(r["procs"]), r["turns_per_s"])
            elif r.get("measure") == "handoff_floor_fenced":
                add(b, "handoff_floor_fenced_us_p50_by_depth", str(r["depth"]), r["p50_us"])
            elif r.get("measure") == "handoff_floor_wake":
                add(b, "handoff_floor_wake_us_p50_by_depth", str(r["depth"]), r["p50_us"])
            elif r.get("measure") == "handoff_floor":
                add(b, "handoff_floor_us_p50_by_depth", str(r["depth"]), r["p50_us"])
                add(b, "handoff_floor_us_p99_by_depth", str(r["depth"]), r["p99_us"])
            elif "uncontended_us_p50" in r:
                for k, v in r.items():
                    if k not in ("backend", "runs", "iters"):
                        b[k] = v
            elif "depth" in r:
                add(b, "handoff_us_p50_by_depth", str(r["depth"]), r["p50_us"])
                add(b, "handoff_us_p99_by_depth", str(r["depth"]), r["p99_us"])
                add(b, "handoff_runs_by_depth", str(r["depth"]), 1)
                b["handoff_waiters"] = r["waiters"]
                if r["depth"] == 1:
                    b["handoff_rounds"] = r["rounds"]
                    b["handoff_hold_us"] = r["hold_us"]
            elif "procs" in r:
                p = str(r["procs"])
                add(b, "grants_per_s_by_procs", p, r["grants_per_s"])
                add(b, "fairness_max_min_by_procs", p, r["fairness_max_min"])
                add(b, "contention_runs_by_procs", p, 1)
                b["contention_seconds"] = r["seconds"]
            elif r.get("measure") in ("lock_set", "fence", "held"):
                b[r["measure"]] = {k: v for k, v in r.items() if k not in ("backend", "measure")}
            elif "many_names_us_p50" in r:
                b["many_names_us_p50"] = r["many_names_us_p50"]
                b["many_names_us_p99"] = r["many_names_us_p99"]
                b["many_names_old_name_us_p50"] = r["old_name_us_p50"]
                b["many_names_fill_s"] = r["fill_s"]
                b["many_names"] = r["names"]
    for (_, key, sub), (b, values) in runs.items():
        if key.endswith("_runs_by_depth") or key.endswith("_runs_by_procs"):
            b.setdefault(key, {})[sub] = len(values)
        else:
            b.setdefault(key, {})[sub] = statistics.median(values)
    for b in backends.values():
        if "1" in b.get("handoff_us_p50_by_depth", {}):
            b["handoff_us_p50"] = b["handoff_us_p50_by_depth"]["1"]
            b["handoff_us_p99"] = b["handoff_us_p99_by_depth"]["1"]
    for name, b in backends.items():
        b["targets"] = [{"target": t, "value": v, "pass": ok} for t, v, ok in targets(name, b)]
    if "redis-py" in peers:
        p = peers["redis-py"]
        p.pop("grants", None)

    res = {"backends": {k: backends[k] for k in BACKENDS if k in backends}, "peers": peers,
           "machine": machine(), "load_avg_1min_start": float(a.load_start) if a.load_start else None,
           "load_avg_1min_end": float(a.load_end) if a.load_end else None, "run_seconds": a.seconds,
           "failed": failed}
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")

    # ---- results.md
    names = [k for k in BACKENDS if k in backends]
    B = res["backends"]

    def row(label, get, fmt="%.1f"):
        return table_row(label, names, B, get, fmt)

    m = res["machine"]
    md = ["# baton benchmark results", "",
          "Machine: %s, %s cores, Linux %s, %s; 1-min load average %s at start, %s at end; run took %s s."
          % (m["cpu"], m["nproc"], m["kernel"], m["os"], a.load_start, a.load_end, a.seconds), "",
          "| measure | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names),
          row("uncontended acquire+release p50 (us)", lambda b: b["uncontended_us_p50"]),
          row("uncontended acquire+release p99 (us)", lambda b: b["uncontended_us_p99"]),
          row("floor p50 (us)", lambda b: b["floor_us_p50"]),
          row("ratio to floor", lambda b: b["ratio_to_floor"], "%.2f"),
          row("new Lock + acquire+release p50 (us)", lambda b: b.get("new_lock_us_p50")),
          row("new Lock: ratio to a reused Lock", lambda b: b.get("new_lock_ratio_to_reused"), "%.2f"),
          row("PostgreSQL: floor + durable counter bump p50 (us)", lambda b: b.get("floor_fenced_us_p50")),
          row("SQLite: 2 empty write tx p50 (us)", lambda b: b.get("floor_empty_us_p50")),
          row("client+server on one CPU: p50 / floor p50 (us)", lambda b: "%.1f / %.1f" % (
              b["same_cpu_uncontended_us_p50"], b["same_cpu_floor_us_p50"])),
          row("client+server on one CPU: ratio to floor", lambda b: b["same_cpu_ratio_to_floor"], "%.2f"),
          row("hand-off p50 (us)", lambda b: b["handoff_us_p50"]),
          row("hand-off p99 (us)", lambda b: b["handoff_us_p99"])]
    for d in DEPTHS:
        md.append(row("hand-off p50, %s waiters (us)" % d, lambda b, d=d: b["handoff_us_p50_by_depth"][d]))
    for d in DEPTHS:
        md.append(row("bare primitive hand-off p50, %s waiters (us)" % d,
                      lambda b, d=d: b["handoff_floor_us_p50_by_depth"][d]))
    for d in ("1", "500"):
        md.append(row("SQLite: the bare hand-off's futex wake-ups alone p50, %s waiters (us)" % d,
                      lambda b, d=d: b["handoff_floor_wake_us_p50_by_depth"][d]))
    md.append(row("PostgreSQL: bare hand-off + durable counter bump p50, 1 waiter (us)",
                  lambda b: b["handoff_floor_fenced_us_p50_by_depth"]["1"]))
    for p in PROCS:
        md.append(row("grants/s, %s procs" % p, lambda b, p=p: b["grants_per_s_by_procs"][p], "%.0f"))
        if p == "1":
            md.append(row("grants/s, 1 proc, unpinned", lambda b: b["grants_per_s_1proc_unpinned"], "%.0f"))
    for p in PROCS:
        md.append(row("bare primitive ring: turns/s, %s procs" % p,
                      lambda b, p=p: b["floor_turns_per_s_by_procs"][p], "%.0f"))
    for p in PROCS:
        md.append(row("bare ring, 2 writes a turn: turns/s, %s procs" % p,
                      lambda b, p=p: b["floor2_turns_per_s_by_procs"][p], "%.0f"))
    for p in PROCS[1:]:
        md.append(row("fairness max/min, %s procs" % p, lambda b, p=p: b["fairness_max_min_by_procs"][p], "%.2f"))
    md.append(row("many names: p50 after %s names (us)" % (B[names[0]].get("many_names", "-") if names else "-"),
                  lambda b: b["many_names_us_p50"]))
    md.append(row("many names: p99 (us)", lambda b: b["many_names_us_p99"]))
    md += ["", "Floors: SQLite, two one-row write transactions (`BEGIN IMMEDIATE`; one write; `COMMIT`) on the "
           "same file, WAL, synchronous=NORMAL; PostgreSQL, `pg_advisory_lock` + `pg_advisory_unlock` "
           "(PQexecParams); Redis, `SET NX PX` + compare-and-delete `EVAL`. Hand-off: waiters are threads, "
           "alternately in two processes, each its own LockManager and Lock (on PostgreSQL its own connection); "
           "FIFO makes every hand-off cross processes; the holder holds %s us before releasing. Bare primitive "
           "hand-off, the same participants on the primitive itself: PostgreSQL, `pg_advisory_lock`/`unlock` of one "
           "key; Redis, each participant BLPOPs its own list and the holder RPUSHes to the next one's; SQLite, which "
           "has no blocking lock, a FIFO queue table (WITHOUT ROWID, rows the size of baton's waiter rows, 1 KiB "
           "pages) that the holder moves on by one in one write transaction (delete the head row, append one), "
           "then one futex wake-up of the next participant, which sleeps on its own word; and those wake-ups "
           "alone, without the write. Bare primitive ring (SQLite): the same processes take turns, each "
           "turn one write transaction (`BEGIN IMMEDIATE`; one `UPDATE`; `COMMIT`, prepared) and one futex wake-up "
           "of the next process, which sleeps until woken: the least a FIFO hand-off between processes costs on "
           "that file. With 2 writes a turn, each process also makes a second write transaction after the wake-up "
           "(its re-queue): the least a grant costs when each waiter writes its own row, as baton did until its "
           "waiters posted their rows for the releaser to write (one write a grant). "
           "PostgreSQL's floor + durable counter bump: the lock statement also increments a one-row table's "
           "counter and returns it, committed (prepared, one round trip). "
           "Contention: "
           "processes, %s s each; with one process, client and server on different CPUs (and unpinned, in its own row). "
           "Uncontended and many names: client on CPU 0, servers pinned to the last CPU "
           "(a loopback round trip crossing vCPUs costs ~70 us on this VM, ~8 us within one; unpinned runs land on "
           "either at random); the one-CPU rows pin both to one CPU. Hand-off and contention figures (floors "
           "included) are medians over %s runs of each measure." % (
               B[names[0]].get("handoff_hold_us", "-") if names else "-",
               B[names[0]].get("contention_seconds", "-") if names else "-",
               max(B[names[0]].get("handoff_runs_by_depth", {"1": 1}).values()) if names else "-"), ""]
    if "redis-py" in peers:
        p = peers["redis-py"]
        rb = B.get("redis", {})
        md += ["## Peer: redis-py %s `Lock` on the same Redis" % p.get("version", ""), "",
               "| measure | baton redis | redis-py Lock |", "|---|---:|---:|",
               "| uncontended acquire+release p50 (us) | %s | %s |" % (cell(rb.get("uncontended_us_p50")),
                                                                     cell(p["uncontended_us_p50"])),
               "| grants/s, 8 procs | %s | %s |" % (cell(rb.get("grants_per_s_by_procs", {}).get("8"), "%.0f"),
                                                  cell(p.get("grants_per_s_8procs"), "%.0f")),
               "| fairness max/min, 8 procs | %s | %s |" % (
                   cell(rb.get("fairness_max_min_by_procs", {}).get("8"), "%.2f"),
                   cell(p.get("fairness_max_min_8procs"), "%.2f")), ""]
    md += lock_set_fence_md(B, names)
    md += ["## Targets", "", "| backend | target | measured | result |", "|---|---|---:|---|"]
    for n in names:
        for t in B[n]["targets"]:
            md.append("| %s | %s | %s | %s |" % (n, t["target"], t["value"], "pass" if t["pass"] else "**miss**"))
    if failed:
        md += ["", "Failed runs: " + "; ".join("`%s`" % x for x in failed)]
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")

    # ---- plots
    with open(os.path.join(a.out, "contention.dat"), "w") as f:
        rings = ("floor_turns_per_s_by_procs", "floor2_turns_per_s_by_procs")
        f.write("# procs " + " ".join(names) + " sqlite_ring_1write sqlite_ring_2writes\n")
        for p in PROCS:
            f.write(p + " " + " ".join(str(B[n].get("grants_per_s_by_procs", {}).get(p, "NaN")) for n in names) + " "
                    + " ".join(str(B.get("sqlite", {}).get(k, {}).get(p, "NaN")) for k in rings) + "\n")
    with open(os.path.join(a.out, "depth.dat"), "w") as f:
        f.write("# waiters " + " ".join(names) + " " + " ".join(n + "_floor" for n in names) + "\n")
        for d in DEPTHS:
            f.write(d + " " + " ".join(str(B[n].get("handoff_us_p50_by_depth", {}).get(d, "NaN")) for n in names) + " "
                    + " ".join(str(B[n].get("handoff_floor_us_p50_by_depth", {}).get(d, "NaN")) for n in names) + "\n")
    with open(os.path.join(a.out, "uncontended.dat"), "w") as f:
        f.write("# backend baton floor\n")
        for n in names:
            f.write("%s %s %s\n" % (n, B[n].get("uncontended_us_p50", "NaN"), B[n].get("floor_us_p50", "NaN")))
    gp = ["set terminal pngcairo size 800,500 font 'sans,11'" if has_cairo() else "set terminal png size 800,500",
          "set key top right", "set grid",
          "set output 'contention.png'",
          "set title 'Contention: N processes loop acquire/release on one name'",
          "set xlabel 'processes'", "set ylabel 'grants per second (total)'", "set logscale x 2",
          "set yrange [0:*]",
          "plot " + ", ".join(["'contention.dat' using 1:%d with linespoints lw 2 lc %d title '%s'" % (i + 2, i + 1, n)
                               for i, n in enumerate(names)]
                              + ["'contention.dat' using 1:%d with linespoints lw 1 dt %d lc %d title 'sqlite bare ring, %s'"
                                 % (len(names) + 2 + j, 2 + j, names.index("sqlite") + 1, what)
                                 for j, what in enumerate(("1 write a turn", "2 writes a turn"))
                                 if "sqlite" in names and B["sqlite"].get(rings[j])]),
          "set output 'handoff_depth.png'",
          "set title 'Hand-off p50 vs waiters queued'",
          "set xlabel 'waiters queued'", "set ylabel 'hand-off p50 (us, log scale)'", "set logscale xy 10",
          "set yrange [*:*]",
          "plot " + ", ".join(["'depth.dat' using 1:%d with linespoints lw 2 lc %d title '%s'" % (i + 2, i + 1, n)
                               for i, n in enumerate(names)]
                              + ["'depth.dat' using 1:%d with linespoints lw 1 dt 2 lc %d title '%s bare primitive'"
                                 % (len(names) + i + 2, i + 1, n)
                                 for i, n in enumerate(names) if B[n].get("handoff_floor_us_p50_by_depth")]),
          "unset logscale", "set output 'uncontended.png'",
          "set title 'Uncontended acquire+release p50 vs the floor'",
          "set style data histograms", "set style histogram clustered gap 1", "set style fill solid 0.8",
          "set xlabel ''", "set ylabel 'microseconds'", "set yrange [0:*]",
          "plot 'uncontended.dat' using 2:xtic(1) title 'baton', '' using 3 title 'floor'"]
    with open(os.path.join(a.out, "plots.gp"), "w") as f:
        f.write("\n".join(gp) + "\n")


def has_cairo():
    r = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" in (r.stdout + r.stderr)


if __name__ == "__main__":
    main()
