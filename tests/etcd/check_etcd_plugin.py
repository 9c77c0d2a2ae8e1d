#!/usr/bin/env python3
"""The etcd backend (backends/etcd) as its author builds and uses it: a
plugin built out of tree against the installed baton, installed beside it,
then run through the installed `baton` command. One step per ctest:

  build        install the build tree into WORK/prefix (moved there after
               the install, so the tree is relocatable), build backends/etcd
               against it in WORK/build, and install the plugin into
               WORK/prefix/lib/baton, where the installed baton finds it by
               its bare name
  conformance  baton conformance on the plugin against the cluster that
               $BATON_TEST_ETCD_ENDPOINTS names (comma-separated client
               URLs), with a key prefix of the run's own: every case passes.
               Without the variable: skipped (77), or a failure under CI=true.
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "example_plugin"))
from plugin_build import build_plugin, fail, install_prefix, must, run_streamed  # noqa: E402

PLUGIN = "libbaton_etcd.so"
ENDPOINTS_ENV = "BATON_TEST_ETCD_ENDPOINTS"


def paths(work):
    return {
        "prefix": os.path.join(work, "prefix"),
        "baton": os.path.join(work, "prefix", "bin", "baton"),
        "build": os.path.join(work, "build"),
    }


def step_build(args, p):
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    install_prefix(args.build_dir, args.work, p["prefix"])
    build_plugin(args.source, p["build"], p["prefix"], PLUGIN, args.generator, args.cxx)
    must(["cmake", "--install", p["build"]])
    installed = [os.path.join(d, "baton", PLUGIN) for d in ("lib", "lib64") if
                 os.path.isfile(os.path.join(p["prefix"], d, "baton", PLUGIN))]
    if not installed:
        fail(f"cmake --install put no {PLUGIN} under {p['prefix']}/lib*/baton")
    print(f"ok: {p['build']}/{PLUGIN} built and installed as {p['prefix']}/{installed[0]}", flush=True)


def endpoints_or_skip():
    value = os.environ.get(ENDPOINTS_ENV, "")
    if value:
        return [e for e in value.split(",") if e]
    if os.environ.get("CI") == "true":
        fail(f"{ENDPOINTS_ENV} is not set; CI=true, so an untested backend is a failure")
    print(f"SKIP: {ENDPOINTS_ENV} is not set", flush=True)
    sys.exit(77)


def step_conformance(args, p):
    endpoints = endpoints_or_skip()
    prefix = f"baton-ctest/{os.getpid()}-{int(time.time() * 1000)}/"
    config = {"plugins": [PLUGIN], "backend": "etcd", "etcd": {"endpoints": endpoints, "prefix": prefix}}
    env = {k: v for k, v in os.environ.items() if k not in ("BATON_CONFIG", "BATON_PLUGIN_PATH")}
    with tempfile.TemporaryDirectory(prefix="baton-etcd-conformance-") as tmp:
        path = os.path.join(tmp, "etcd.json")
        with open(path, "w") as f:
            json.dump(config, f)
        started = time.monotonic()
        status, output = run_streamed([p["baton"], "--config", path, "conformance", *args.suite_args], env=env)
    summary = re.search(r"conformance 'etcd': (\d+) passed, (\d+) failed, (\d+) skipped", output)
    if status != 0 or not summary or summary.group(2) != "0" or int(summary.group(1)) == 0:
        fail(f"baton conformance on the etcd plugin exited {status}")
    print(f"ok: {summary.group(0)} in {time.monotonic() - started:.0f} s", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["build", "conformance"])
    parser.add_argument("--work", required=True)
    parser.add_argument("--build-dir", help="the baton build tree to install (build step)")
    parser.add_argument("--source", help="backends/etcd (build step)")
    parser.add_argument("--generator", default="Ninja")
    parser.add_argument("--cxx", default="c++")
    args, args.suite_args = parser.parse_known_args()
    p = paths(args.work)
    {"build": step_build, "conformance": step_conformance}[args.step](args, p)


if __name__ == "__main__":
    main()
