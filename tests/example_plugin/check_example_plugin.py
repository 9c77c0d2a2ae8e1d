#!/usr/bin/env python3
"""The example backend (examples/custom_backend) as its author uses it: a
plugin built out of tree against the installed baton, then run through the
installed `baton` command. One step per ctest:

  build        install the build tree into WORK/prefix (moved there after
               the install, so the tree is relocatable), build the example
               against it, and build a deliberately broken copy of it
  cli          baton backends / run / status / list on the plugin
  conformance  baton conformance --repeat N on the plugin: every case passes
  broken       baton conformance on the broken copy: it fails, naming the
               clause of the contract that the defect breaks
"""
import argparse
import json
import os
import re
import shutil
import time

from plugin_build import build_plugin, fail, install_prefix, run, run_streamed

# The broken copy's defect: every grant hands out token 1 instead of its
# ticket, so tokens never increase (docs/design.md §1.7 wants strictly
# increasing tokens).
DEFECT = [
    ("  holding_ = true;\n  return entry_->ticket();\n", "  holding_ = true;\n  return 1;\n"),
]
DEFECT_FILE = "flock_backend.cpp"
DEFECT_CLAUSE = "contract clause: docs/design.md §1.7 Fencing tokens"


def paths(work):
    return {
        "prefix": os.path.join(work, "prefix"),
        "baton": os.path.join(work, "prefix", "bin", "baton"),
        "example": os.path.join(work, "example"),
        "broken": os.path.join(work, "broken"),
        "config": os.path.join(work, "flock.json"),
        "broken_config": os.path.join(work, "broken.json"),
    }


def build_example(source, build, prefix, args):
    return build_plugin(source, build, prefix, "libbaton_flock.so", args.generator, args.cxx)


def write_config(path, plugin, lock_dir):
    os.makedirs(lock_dir, exist_ok=True)
    with open(path, "w") as f:
        json.dump({"plugins": [plugin], "backend": "flock", "flock": {"dir": lock_dir}}, f)


def break_copy(source, target):
    shutil.copytree(source, target)
    path = os.path.join(target, DEFECT_FILE)
    text = open(path).read()
    for old, new in DEFECT:
        if text.count(old) != 1:
            fail(f"the defect's line {old!r} is not once in {DEFECT_FILE}; update DEFECT to the example")
        text = text.replace(old, new)
    open(path, "w").write(text)


def step_build(args, p):
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    install_prefix(args.build_dir, args.work, p["prefix"])
    plugin = build_example(args.source, p["example"], p["prefix"], args)
    write_config(p["config"], plugin, os.path.join(args.work, "locks"))
    broken_source = os.path.join(args.work, "broken-src")
    break_copy(args.source, broken_source)
    broken_plugin = build_example(broken_source, p["broken"], p["prefix"], args)
    write_config(p["broken_config"], broken_plugin, os.path.join(args.work, "broken-locks"))


def baton(p, *cmd, **kw):
    return run([p["baton"], "--config", p["config"], *cmd], capture_output=True, **kw)


def check_backends(args, p):
    result = baton(p, "backends")
    if result.returncode != 0:
        fail(f"baton backends exited {result.returncode}: {result.stderr}")
    listed = {b["name"]: b for b in map(json.loads, result.stdout.splitlines())}
    for name in args.expect_backends.split(",") + ["flock"]:
        if name not in listed:
            fail(f"baton backends does not list {name}: {result.stdout}")
    flock = listed["flock"]
    if flock["origin"] != os.path.join(p["example"], "libbaton_flock.so"):
        fail(f"flock's origin is {flock['origin']!r}, not the plugin's path")
    if "dir" not in [k["name"] for k in flock["keys"]]:
        fail(f"flock's keys lack dir: {flock['keys']}")
    print(f"ok: baton backends lists {sorted(listed)}", flush=True)


def check_run_and_status(p):
    name = f"example-plugin-{os.getpid()}"
    inner = f'echo "token=$BATON_FENCING_TOKEN"; "$0" --config "$1" status "$2"; "$0" --config "$1" list'
    result = baton(p, "run", name, "--", "sh", "-c", inner, p["baton"], p["config"], name)
    if result.returncode != 0:
        fail(f"baton run exited {result.returncode}: {result.stdout}{result.stderr}")
    lines = result.stdout.splitlines()
    token = int(lines[0].removeprefix("token="))
    status = json.loads(lines[1])
    if not status["held"] or status["token"] != token:
        fail(f"status inside the run is {status}, token {token}")
    if name not in [json.loads(line)["name"] for line in lines[2:]]:
        fail(f"baton list inside the run does not show {name}: {lines[2:]}")
    after = json.loads(baton(p, "status", name).stdout)
    if after["held"]:
        fail(f"{name} is still held after baton run exited: {after}")
    second = baton(p, "run", name, "--", "sh", "-c", 'echo "$BATON_FENCING_TOKEN"')
    if second.returncode != 0 or int(second.stdout) <= token:
        fail(f"a second run's token {second.stdout!r} does not exceed {token}")
    print(f"ok: baton run holds {name} with token {token}, status and list show it, the next token is larger",
          flush=True)


def step_cli(args, p):
    check_backends(args, p)
    check_run_and_status(p)


def step_conformance(args, p):
    started = time.monotonic()
    status, output = run_streamed([p["baton"], "--config", p["config"], "conformance", "--repeat", str(args.repeat)])
    summary = re.search(r"conformance 'flock': (\d+) passed, (\d+) failed, (\d+) skipped", output)
    if status != 0 or not summary or summary.group(2) != "0" or int(summary.group(1)) == 0:
        fail(f"baton conformance --repeat {args.repeat} on the plugin exited {status}")
    print(f"ok: {summary.group(0)} in {time.monotonic() - started:.0f} s", flush=True)


def step_broken(args, p):
    status, output = run_streamed([p["baton"], "--config", p["broken_config"], "conformance"])
    if status != 1:
        fail(f"baton conformance on the broken copy exited {status}, not 1")
    if DEFECT_CLAUSE not in output:
        fail(f"the output does not name {DEFECT_CLAUSE!r}")
    failed = re.findall(r"^  FAILED +[\d.]+ s  (.*)$", output, re.M)
    print(f"ok: the broken copy fails {len(failed)} case(s), naming {DEFECT_CLAUSE!r}: {failed}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["build", "cli", "conformance", "broken"])
    parser.add_argument("--work", required=True)
    parser.add_argument("--build-dir", help="the baton build tree to install (build step)")
    parser.add_argument("--source", help="examples/custom_backend (build step)")
    parser.add_argument("--generator", default="Ninja")
    parser.add_argument("--cxx", default="c++")
    parser.add_argument("--expect-backends", default="sqlite", help="built-in backends `backends` must list")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    p = paths(args.work)
    {"build": step_build, "cli": step_cli, "conformance": step_conformance, "broken": step_broken}[args.step](args, p)


if __name__ == "__main__":
    main()
