#!/usr/bin/env python3
"""Checks that the benchmark figures in README.md are the generated ones.

    check_bench_block.py [--root DIR]

1. Regenerates the README's results block from docs/bench/results.json
   (bench/report.py --readme-block) and fails if README.md's block, between
   its markers, differs by a byte.
2. Fails unless every row of that block appears, with the same cells, in
   the latest-results table of docs/benchmarks.md (its "## Results"
   section), and the block's target counts agree with the "Targets as
   report.py checks them" table there.

Run by ctest as docs.readme_bench_block (label "docs"). To fix a failure
after a new bench run, copy build/bench/results.json to docs/bench/, update
docs/benchmarks.md from build/bench/results.md, then
    python3 bench/report.py --readme-block docs/bench/results.json
and paste its output over the README's block.
"""
import argparse
import difflib
import importlib.util
import json
import os
import re
import sys


def load_report(root):
    spec = importlib.util.spec_from_file_location("bench_report", os.path.join(root, "bench", "report.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def table_rows(lines):
    """{label: [cells]} of the markdown table rows among `lines`."""
    rows = {}
    for line in lines:
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.setdefault(cells[0], cells[1:])
    return rows


def section(text, heading):
    """The lines of the section that starts with `heading` (up to the next
    heading of the same or a higher level)."""
    lines = text.splitlines()
    level = len(heading) - len(heading.lstrip("#"))
    out, inside = [], False
    for line in lines:
        m = re.match(r"^(#+) ", line)
        if inside and m and len(m.group(1)) <= level:
            break
        if line.strip() == heading:
            inside = True
            continue
        if inside:
            out.append(line)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    report = load_report(root)
    with open(os.path.join(root, "docs", "bench", "results.json")) as f:
        results = json.load(f)
    block = report.readme_block(results)
    with open(os.path.join(root, "README.md")) as f:
        readme = f.read()
    with open(os.path.join(root, "docs", "benchmarks.md")) as f:
        bench_md = f.read()

    errors = []

    # 1. README.md's block is exactly the generated one.
    begin = readme.find(report.README_BEGIN)
    end = readme.find(report.README_END)
    if begin < 0 or end < begin:
        errors.append("README.md: no results block (markers %r ... %r)" % (report.README_BEGIN, report.README_END))
    else:
        current = readme[begin:end + len(report.README_END)] + "\n"
        if current != block:
            diff = difflib.unified_diff(current.splitlines(True), block.splitlines(True),
                                        "README.md (block)", "bench/report.py --readme-block")
            errors.append("README.md's results block differs from docs/bench/results.json:\n" + "".join(diff))

    # 2. The same figures in docs/benchmarks.md's latest-results table.
    results_lines = section(bench_md, "## Results")
    if not results_lines:
        errors.append("docs/benchmarks.md: no '## Results' section")
    latest = table_rows(results_lines)
    generated = table_rows(block.splitlines())
    header = generated.pop("measure", None)
    if latest.get("measure") != header:
        errors.append("docs/benchmarks.md: the Results table's columns are %s, the block's %s"
                      % (latest.get("measure"), header))
    for label, cells in generated.items():
        if label not in latest:
            errors.append("docs/benchmarks.md: Results table has no row %r" % label)
        elif latest[label] != cells:
            errors.append("docs/benchmarks.md: row %r is %s there, %s in results.json"
                          % (label, latest[label], cells))
    machine = next((l for l in block.splitlines() if l.startswith("Machine: ")), "")
    prefix = machine.split(". Medians;")[0]
    if prefix and not any(l.startswith(prefix) for l in results_lines):
        errors.append("docs/benchmarks.md: the Results section's machine line does not start with %r" % prefix)
    targets = section(bench_md, "### Targets as report.py checks them")
    for n, b in results["backends"].items():
        rows = [l for l in targets if l.startswith("| %s |" % n)]
        passed = sum(1 for l in rows if l.rstrip().endswith("| pass |"))
        want = sum(1 for t in b.get("targets", []) if t["pass"])
        if len(rows) != len(b.get("targets", [])) or passed != want:
            errors.append("docs/benchmarks.md: %s passes %d of %d targets there, %d of %d in results.json"
                          % (n, passed, len(rows), want, len(b.get("targets", []))))

    if errors:
        for e in errors:
            print("check_bench_block: " + e, file=sys.stderr)
        print("check_bench_block: regenerate the block with: python3 bench/report.py --readme-block "
              "docs/bench/results.json", file=sys.stderr)
        return 1
    print("check_bench_block: README.md and docs/benchmarks.md agree with docs/bench/results.json "
          "(%d rows)" % len(generated))
    return 0


if __name__ == "__main__":
    sys.exit(main())
