#!/usr/bin/env python3
"""Checks that README.md's exit-status table and `baton --help` match the
one table in code, cli/exit_codes.hpp.

    check_exit_codes.py [--root DIR] [--baton PATH]

Reads the rows of `exit_statuses[]` (status, code constant, name, meaning)
and the `exit_*` constants from cli/exit_codes.hpp, then fails when
  - README.md's table (header "| exit status | name | meaning |") does not
    list exactly those rows, in that order, with the same words; or
  - `baton --help` (with --baton) does not print each row, in order, after
    "Exit status:", or exits with anything but 0.
Run by ctest as docs.exit_codes (label "docs").
"""
import argparse
import os
import re
import subprocess
import sys

ROW = re.compile(r'\{\s*"((?:[^"\\]|\\.)*)"\s*,\s*(-?\w+)\s*,\s*"((?:[^"\\]|\\.)*)"\s*,((?:\s*"(?:[^"\\]|\\.)*")+)\s*\}',
                 re.S)
CONST = re.compile(r"inline constexpr int (exit_\w+) = (\d+);")
README_HEADER = "| exit status | name | meaning |"


def code_table(path):
    """[(status, code, name, meaning)] from exit_codes.hpp."""
    with open(path) as f:
        text = f.read()
    consts = {k: int(v) for k, v in CONST.findall(text)}
    start = text.find("exit_statuses[] = {")
    end = text.find("};", start)
    if start < 0 or end < 0:
        raise SystemExit("check_exit_codes: no exit_statuses[] table in %s" % path)
    rows = []
    for status, code, name, meaning in ROW.findall(text[start:end]):
        code = consts[code] if code in consts else int(code)
        meaning = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', meaning))
        rows.append((status, code, name, meaning.replace('\\"', '"')))
    if not rows:
        raise SystemExit("check_exit_codes: exit_statuses[] in %s has no rows I can read" % path)
    return rows


def readme_table(path):
    """[(status, name, meaning)] from README.md's exit-status table."""
    with open(path) as f:
        lines = f.read().splitlines()
    try:
        i = lines.index(README_HEADER)
    except ValueError:
        return None
    rows = []
    for line in lines[i + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append(tuple(c.replace("`", "") for c in cells))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--baton", help="the baton executable; without it --help is not checked")
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    table = code_table(os.path.join(root, "cli", "exit_codes.hpp"))
    errors = []

    for status, code, _, _ in table:
        if code >= 0 and status != str(code):
            errors.append("cli/exit_codes.hpp: row %r has code %d" % (status, code))

    want = [(s, n, m) for s, _, n, m in table]
    readme = readme_table(os.path.join(root, "README.md"))
    if readme is None:
        errors.append("README.md: no exit-status table (header %r)" % README_HEADER)
    elif readme != want:
        for i in range(max(len(readme), len(want))):
            got = readme[i] if i < len(readme) else None
            exp = want[i] if i < len(want) else None
            if got != exp:
                errors.append("README.md: exit-status row %d is %r; cli/exit_codes.hpp says %r" % (i + 1, got, exp))

    if a.baton:
        r = subprocess.run([a.baton, "--help"], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            errors.append("baton --help exited %d" % r.returncode)
        lines = r.stdout.splitlines()
        try:
            at = lines.index("Exit status:")
        except ValueError:
            errors.append("baton --help: no 'Exit status:' line")
            at = len(lines)
        shown = lines[at + 1:at + 1 + len(table)]
        for i, (status, _, name, meaning) in enumerate(table):
            line = shown[i] if i < len(shown) else ""
            text = line.strip()
            rest = text[len(status):] if text.startswith(status + " ") else None
            ok = rest is not None and rest.strip().startswith(name + " ") and \
                rest.strip()[len(name):].strip() == meaning
            if not ok:
                errors.append("baton --help: exit-status line %d is %r; cli/exit_codes.hpp says %r %r %r"
                              % (i + 1, line, status, name, meaning))
        if len(lines) > at + 1 + len(table) and lines[at + 1 + len(table)].startswith("  "):
            errors.append("baton --help: more exit-status lines than cli/exit_codes.hpp has rows")

    if errors:
        for e in errors:
            print("check_exit_codes: " + e, file=sys.stderr)
        return 1
    print("check_exit_codes: README.md%s match cli/exit_codes.hpp (%d rows)"
          % (" and baton --help" if a.baton else "", len(table)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
