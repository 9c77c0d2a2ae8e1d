#!/usr/bin/env python3
"""`baton conformance` (docs/design.md §7) on one backend of this build.

    conformance_command.py --baton PATH --backend B [SUITE ARGUMENTS...]

Writes the backend's config on the shared test servers (as the CLI cases
do) into a temp dir, runs `baton --config FILE conformance ARGS` there and
exits with its status: the whole conformance suite through the command, no
C++ written. A backend whose server is not running is skipped (77), or a
failure under CI=true.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from batontest import Skip, server_config  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baton", required=True)
    ap.add_argument("--backend", required=True)
    a, suite_args = ap.parse_known_args()
    try:
        config = server_config(a.backend, "conformance-cmd")
    except Skip as e:
        if os.environ.get("CI") == "true":
            print(f"FAIL: {e}; CI=true, so an untested backend is a failure", file=sys.stderr)
            return 1
        print(f"SKIP: {e}", file=sys.stderr)
        return 77
    with tempfile.TemporaryDirectory(prefix="baton-conformance-cmd-") as tmp:
        path = os.path.join(tmp, "baton.json")
        with open(path, "w") as f:
            json.dump(config, f)
        env = {k: v for k, v in os.environ.items() if k != "BATON_CONFIG"}
        cmd = [os.path.abspath(a.baton), "--config", path, "conformance", *suite_args]
        print("$", " ".join(cmd), flush=True)
        return subprocess.run(cmd, cwd=tmp, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
