#!/usr/bin/env python3
"""Checks that every section the project cites ("§3.5") is a heading of
docs/design.md, and that nothing cites a DESIGN.md outside the repository.

Usage: scripts/check_design_refs.py [REPO_ROOT]. Exits 1 and lists each
dangling citation as FILE:LINE: §N otherwise.
"""
import pathlib
import re
import subprocess
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
design = root / "docs" / "design.md"
headings = set(re.findall(r"^#+ (\d+(?:\.\d+)*)[ .]", design.read_text(), re.M))

files = subprocess.run(["git", "-C", str(root), "ls-files"], capture_output=True, text=True, check=True).stdout.split()
problems = []
for name in files:
    path = root / name
    if path.suffix not in {".cpp", ".hpp", ".in", ".md", ".py", ".sh", ".txt", ".json", ""} or not path.is_file():
        continue
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        continue
    for number, line in enumerate(text.splitlines(), 1):
        for section in re.findall(r"§(\d+(?:\.\d+)*)", line):
            if section not in headings:
                problems.append(f"{name}:{number}: §{section} is not a section of docs/design.md")
        if "DESIGN.md" in line and name != "scripts/check_design_refs.py":
            problems.append(f"{name}:{number}: cites DESIGN.md, which the repository does not have")

for p in problems:
    print(p)
print(f"design refs: {len(problems)} dangling, {len(headings)} sections in docs/design.md")
sys.exit(1 if problems else 0)
