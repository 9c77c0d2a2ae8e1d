#!/usr/bin/env python3
"""Lock sets through a sample config (config/*.json), as a new user runs them.

    sample_config.py --config config/B.json --baton PATH run_set
    sample_config.py --config config/B.json --transfer PATH transfer

run_set: `baton --config FILE run B A -- CMD`, where CMD checks
BATON_LOCK_NAMES and BATON_FENCING_TOKENS itself (this script, --check-set)
and holds until told; meanwhile `baton status` shows both names held with
those tokens; afterwards both are free and the run exits with CMD's status.
transfer: examples/transfer.cpp (std::scoped_lock over a LockSet) with the
config file as its argument: alone, then two at once with the accounts in
opposite orders, which must not deadlock.

Each runs in a temp dir of its own (config/sqlite.json's baton.db lands
there). config/postgres.json and config/redis.json name the servers of
scripts/servers.sh on their default ports, which export BATON_TEST_PG_DSN and
BATON_TEST_REDIS_URL; config/etcd.json names the single etcd member
(BATON_TEST_ETCD_ENDPOINTS), and loads its plugin by its bare name, which
the baton installed beside it finds (tests/etcd). The sample file itself is used when the test server
is where it points; a server started on other ports (BATON_PG_PORT,
BATON_REDIS_PORT) gets a copy of it with only the address changed, and the
run says so. No test server: exit 77 (ctest's skip), or 1 under CI=true.
"""

import argparse
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from batontest import Fail, Sandbox, check, server_or_skip, wait_for  # noqa: E402

# The config key that holds each server backend's address, and the variable
# its test server exports.
SERVER = {"postgres": ("dsn", "BATON_TEST_PG_DSN"), "redis": ("url", "BATON_TEST_REDIS_URL"),
          "etcd": ("endpoints", "BATON_TEST_ETCD_ENDPOINTS")}


def server_address(backend, value):
    """The config value of `backend`'s address for its test server's
    variable: etcd's endpoints are a list (the variable comma-separated)."""
    return [e for e in value.split(",") if e] if backend == "etcd" else value


def check_set(expected):
    """CMD of run_set: exits 0 when BATON_LOCK_NAMES is `expected` (canonical
    order) and BATON_FENCING_TOKENS maps each of them to a token, with no
    single-name variables; else 3. Writes what it saw to ./set.json, then
    holds until ./release exists (at most 60 s)."""
    seen = {k: os.environ.get(k) for k in ("BATON_LOCK_NAMES", "BATON_FENCING_TOKENS", "BATON_LOCK_NAME",
                                            "BATON_FENCING_TOKEN")}
    names = json.loads(seen["BATON_LOCK_NAMES"] or "null")
    tokens = json.loads(seen["BATON_FENCING_TOKENS"] or "null")
    ok = (names == expected and isinstance(tokens, dict) and sorted(tokens) == expected
          and all(isinstance(t, int) and t > 0 for t in tokens.values())
          and seen["BATON_LOCK_NAME"] is None and seen["BATON_FENCING_TOKEN"] is None)
    with open("set.json.tmp", "w") as f:
        json.dump(seen, f)
    os.rename("set.json.tmp", "set.json")
    deadline = time.monotonic() + 60
    while not os.path.exists("release") and time.monotonic() < deadline:
        time.sleep(0.05)
    if not ok:
        print(f"check-set: expected names {expected}, got {seen}", file=sys.stderr)
    return 0 if ok else 3


def config_for(sb, sample):
    """The config file to pass: `sample` itself, or a copy in the sandbox on
    the test server's address. None with the exit status when there is no
    test server."""
    with open(sample) as f:
        doc = json.load(f)
    backend = doc["backend"]
    if backend not in SERVER:
        return sample, None
    key, var = SERVER[backend]
    if (status := server_or_skip(var)) is not None:
        return None, status
    here = server_address(backend, os.environ[var])
    if doc[backend][key] == here:
        print(f"using {sample} as it is: the test server is at {here}")
        return sample, None
    print(f"the test server is at {here}, {sample} points at {doc[backend][key]}: "
          f"using a copy of it with only {backend}.{key} changed")
    doc[backend][key] = here
    sb.write_config(doc, "sample.json")
    return sb.path("sample.json"), None


def run_set(sb, config):
    tag = f"sample-{os.getpid()}-{time.monotonic_ns()}"
    a, b = f"{tag}/a", f"{tag}/b"
    cmd = [sys.executable, os.path.abspath(__file__), "--check-set", json.dumps([a, b])]
    p = sb.spawn("--config", config, "run", b, a, "--", *cmd)
    wait_for(lambda: sb.exists("set.json") or p.poll() is not None, 30, "CMD to start under both locks")
    if p.poll() is not None:
        status, out, err = sb.finish(p, 10)
        raise Fail(f"baton run exited {status} before CMD started: {out!r} {err!r}")
    seen = json.loads(sb.read("set.json"))
    print(f"CMD saw BATON_LOCK_NAMES={seen['BATON_LOCK_NAMES']} BATON_FENCING_TOKENS={seen['BATON_FENCING_TOKENS']}")
    tokens = json.loads(seen["BATON_FENCING_TOKENS"] or "{}")
    for n in (a, b):
        r = sb.baton("--config", config, "status", n)
        check(r.returncode == 0, f"status {n}", r)
        st = json.loads(r.stdout)
        check(st["held"] is True and st["token"] == tokens.get(n), f"{n} held with token {tokens.get(n)}: {st}")
    open(sb.path("release"), "w").close()
    status, out, err = sb.finish(p, 30)
    check(status == 0, f"baton run exits with CMD's status 0 (CMD checks the variables), got {status}: {err!r}")
    for n in (a, b):
        r = sb.baton("--config", config, "status", n)
        check(r.returncode == 0 and json.loads(r.stdout)["held"] is False, f"{n} is free after the run", r)


def transfer(sb, transfer_path, config):
    argv = [os.path.abspath(transfer_path), config]
    p = sb.popen(argv)
    status, out, err = sb.finish(p, 60)
    print(out, end="")
    check(status == 0, f"transfer exited {status}: {err!r}")
    holds = [line for line in out.splitlines() if " holds " in line]
    check(len(holds) == 2 and all(re.search(r"examples/account/alice \(token \d+\) examples/account/bob "
                                            r"\(token \d+\)$", line) for line in holds),
          f"both sets held both accounts, in canonical order, with tokens: {out!r}")
    pid = re.match(r"pid (\d+) ", holds[0]).group(1)
    check(f"examples/account/bob (stopped here): held by pid {pid}" in out.splitlines()
          and "examples/account/alice: free" in out.splitlines(),
          f"the timed-out set's status() names bob, held by this process, and alice free: {out!r}")
    both = [sb.popen(argv), sb.popen(argv)]
    for q in both:
        status, out, err = sb.finish(q, 60)
        check(status == 0 and out.count(" holds ") == 2, f"two transfers at once: {status}, {out!r}, {err!r}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check-set":
        return check_set(json.loads(sys.argv[2]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--baton")
    ap.add_argument("--transfer")
    ap.add_argument("case", choices=["run_set", "transfer"])
    a = ap.parse_args()
    sb = Sandbox(a.baton and os.path.abspath(a.baton), "baton-sample-config-")
    try:
        config, status = config_for(sb, os.path.abspath(a.config))
        if config is None:
            return status
        if a.case == "run_set":
            run_set(sb, config)
        else:
            transfer(sb, a.transfer, config)
    except Fail as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    finally:
        sb.cleanup()
    print(f"PASS {a.case} with {a.config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
