#!/usr/bin/env python3
"""End-to-end tests of the `baton` command (docs/design.md §7), on each backend.

    cli_test.py --baton PATH [--backend B] CASE   run one case (ctest runs each as a test)
    cli_test.py --list [--backend B]              print the case names for backend B

Backends: sqlite (default: a database in the case's own directory), postgres
($BATON_TEST_PG_CLI_DSN, else $BATON_TEST_PG_DSN) and redis
($BATON_TEST_REDIS_URL, a key prefix of the case's own). Advisory keys have
no prefix, and cases check that `list` shows only their own locks: so on
PostgreSQL they want a database no other test uses (scripts/servers.sh
makes one, baton_cli_test), and run one at a time (a ctest RESOURCE_LOCK).
Cases that are about config files or usage, not about locks, run on sqlite
only.

Every case works in a temporary directory of its own holding a baton.json
that points at the backend under test, drives the real binary, and
bounds every wait: nothing here can hang (ctest adds its own timeout on top).
Background processes are started in their own session and their whole
process group is killed when the case ends, pass or fail. The sandbox and
process helpers are tests/support/batontest.py's.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import batontest  # noqa: E402
from batontest import check, hold, hold_cmd, let_go, parse_args, run_cases, server_or_skip, wait_for  # noqa: E402

BATON = None
RESOURCE_HOLDER = None  # --resource-holder: tests/cli/resource_holder.cpp
BACKEND = "sqlite"
BUILT_BACKENDS = ("sqlite", "postgres", "redis")  # --built-backends
CASES = {}
SQLITE_ONLY = set()


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def sqlite_case(fn):
    """A case about config files or usage: the backend does not matter."""
    SQLITE_ONLY.add(fn.__name__)
    return case(fn)


def pg_dsn():
    return os.environ.get("BATON_TEST_PG_CLI_DSN") or os.environ["BATON_TEST_PG_DSN"]


def backend_config(**defaults):
    """The config of the backend under test (plus `defaults` if given)."""
    doc = batontest.server_config(BACKEND, "baton-cli-test", pg_dsn=pg_dsn() if BACKEND == "postgres" else None)
    if defaults:
        doc["defaults"] = defaults
    return doc


def unreachable_config():
    """A config of the backend under test that can never be reached."""
    if BACKEND == "postgres":
        return {"backend": "postgres", "postgres": {"dsn": "postgresql://postgres@127.0.0.1:1/x",
                                                    "connect_timeout_ms": 1000}}
    if BACKEND == "redis":
        return {"backend": "redis", "redis": {"url": "redis://127.0.0.1:1/0", "connect_timeout_ms": 1000}}
    return None


def new_sandbox(name):
    """A sandbox for case `name`, its baton.json pointing at the backend under test."""
    sb = batontest.Sandbox(BATON, "baton-cli-test-")
    sb.write_config(backend_config())
    return sb


def expect_usage_error(sb, args, what, usage_line=True):
    """baton ARGS is a usage error: exit 64, a 'baton: ' line, a usage line
    (unless `usage_line` is false), nothing on stdout, and CMD never ran."""
    r = sb.baton(*args)
    check(r.returncode == 64, f"{what}: exit 64", r)
    lines = r.stderr.splitlines()
    check(len(lines) >= 1 and lines[0].startswith("baton: "), f"{what}: 'baton: ' message", r)
    if usage_line:
        check(any(line.startswith("usage: baton") for line in lines), f"{what}: a usage line", r)
    check(r.stdout == "", f"{what}: nothing on stdout", r)
    check(not sb.exists("ran"), f"{what}: CMD must not run")


def one_stderr_line(r, *needles):
    lines = r.stderr.splitlines()
    check(len(lines) >= 1 and lines[0].startswith("baton: "), "expected a 'baton: ...' message on stderr", r)
    for n in needles:
        check(n in lines[0], f"the message should mention {n!r}", r)


# --------------------------------------------------------------------------
# exit statuses


@case
def run_exit_status(sb):
    """0, CMD's own status, and 128+N when CMD dies of signal N."""
    r = sb.baton("run", "job", "--", "true")
    check(r.returncode == 0 and r.stderr == "", "run -- true", r)
    r = sb.baton("run", "job", "--", "sh", "-c", "exit 3")
    check(r.returncode == 3, "CMD's own status", r)
    r = sb.baton("run", "job", "--", "sh", "-c", "kill -TERM $$")
    check(r.returncode == 128 + signal.SIGTERM, "128+SIGTERM when CMD is killed", r)
    r = sb.baton("run", "job", "--", "sh", "-c", "echo out; echo err >&2")
    check(r.returncode == 0 and r.stdout == "out\n" and r.stderr == "err\n", "CMD's stdout/stderr pass through", r)
    r = sb.baton("run", "job", "--", "sh", "-c", "read x; echo got $x", input="hello\n")
    check(r.stdout == "got hello\n", "CMD reads baton's stdin", r)
    r = sb.baton("run", "job", "--", "sh", "-c", 'echo "$1|$2"', "sh", "a b", "--no-wait")
    check(r.returncode == 0 and r.stdout == "a b|--no-wait\n", "arguments after -- reach CMD verbatim", r)
    check(sb.status("job")["held"] is False, "the lock is free after each run")


@case
def client_libraries_loaded_on_use(sb):
    """The command maps libpq and hiredis only when the config's backend needs them (its modules)."""
    # The command is CMD's parent while CMD runs: CMD reads its memory map.
    r = sb.baton("run", "maps", "--", "sh", "-c", 'cat "/proc/$PPID/maps"')
    check(r.returncode == 0, "run exits 0", r)
    loaded = {lib for lib in ("libpq.so", "libhiredis.so") if lib in r.stdout}
    wanted = {"postgres": {"libpq.so"}, "redis": {"libhiredis.so"}}.get(BACKEND, set())
    check(loaded == wanted, f"on {BACKEND} the command maps {sorted(loaded)}, expected {sorted(wanted)}", r)


@case
def env_vars(sb):
    """BATON_LOCK_NAME and BATON_FENCING_TOKEN, tokens increasing, odd names verbatim."""
    show = 'printf "%s|%s" "$BATON_LOCK_NAME" "$BATON_FENCING_TOKEN"'
    env = dict(sb.env, BATON_FENCING_TOKEN="999999", BATON_LOCK_NAME="stale")
    tokens = []
    for name in ["nightly", 'we"ird \'name\' 100% * ü', "x" * 1024]:
        r = sb.baton("run", name, "--", "sh", "-c", show, env=env)
        check(r.returncode == 0, f"run {name!r}", r)
        got_name, token = r.stdout.split("|")
        check(got_name == name, f"BATON_LOCK_NAME is {got_name!r}, expected {name!r}", r)
        check(token.isdigit() and int(token) > 0 and int(token) != 999999, f"BATON_FENCING_TOKEN {token!r}", r)
        tokens.append(int(token))
    r = sb.baton("run", "nightly", "--", "sh", "-c", show)
    later = int(r.stdout.split("|")[1])
    check(later > tokens[0], f"a later grant of the same name has a greater token ({later} <= {tokens[0]})", r)


@case
def no_wait_busy(sb):
    """--no-wait on a held lock: 75 at once, CMD not run; succeeds once free."""
    p = hold(sb, "busy")
    t0 = time.monotonic()
    r = sb.baton("run", "busy", "--no-wait", "--", "touch", "ran")
    check(r.returncode == 75, "--no-wait on a busy lock exits 75", r)
    check(time.monotonic() - t0 < 5, "--no-wait does not wait")
    check(not sb.exists("ran"), "CMD must not run when the lock is busy")
    one_stderr_line(r, "busy")
    let_go(sb, p)
    r = sb.baton("run", "busy", "--no-wait", "--", "touch", "ran")
    check(r.returncode == 0 and sb.exists("ran"), "--no-wait on a free lock runs CMD", r)


@case
def timeout_passes(sb):
    """--timeout on a held lock: 75 after about the timeout; a waiter with enough time gets it."""
    p = hold(sb, "slow")
    t0 = time.monotonic()
    r = sb.baton("run", "slow", "--timeout", "0.5", "--", "touch", "ran")
    elapsed = time.monotonic() - t0
    check(r.returncode == 75, "a passed --timeout exits 75", r)
    check(0.45 <= elapsed < 3, f"gave up after {elapsed:.2f} s, expected about 0.5 s")
    check(not sb.exists("ran"), "CMD must not run when the timeout passes")
    one_stderr_line(r, "timed out")
    r = sb.baton("run", "slow", "--timeout", "0", "--", "touch", "ran")
    check(r.returncode == 75 and not sb.exists("ran"), "--timeout 0 is one attempt", r)
    check(sb.status("slow")["waiters"] == 0, "a timed-out waiter leaves no trace in the queue")
    w = sb.spawn("run", "slow", "--timeout", "20", "--", "touch", "ran")
    wait_for(lambda: sb.status("slow")["waiters"] == 1, 10, "the waiter to queue")
    let_go(sb, p)
    status, out, err = sb.finish(w, 15)
    check(status == 0 and sb.exists("ran"), f"a waiter within its timeout runs CMD (status {status}, {err!r})")


@case
def lease_lost_on_clear(sb):
    """clear while CMD runs: CMD gets SIGTERM, baton exits 76 with one message."""
    cmd = ('trap "echo term > got-term; exit 0" TERM; touch started; '
           'i=0; while [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done')
    p = sb.spawn("run", "job", "--ttl", "3", "--", "sh", "-c", cmd)
    wait_for(lambda: sb.exists("started"), 10, "CMD to start")
    r = sb.baton("clear", "job")
    check(r.returncode == 0 and json.loads(r.stdout) == {"name": "job", "cleared": True}, "clear a held lock", r)
    t0 = time.monotonic()
    status, out, err = sb.finish(p, 10)
    check(status == 76, f"baton must exit 76 when its lease is cleared, got {status}; stderr {err!r}")
    check(time.monotonic() - t0 < 5, "the loss is noticed within a renewal interval")
    check(sb.exists("got-term"), "CMD must get SIGTERM when the lease is lost")
    lines = err.splitlines()
    check(len(lines) == 1 and lines[0].startswith("baton: ") and "lost" in lines[0],
          f"one 'baton: ... lost ...' line on stderr, got {err!r}")
    r = sb.baton("clear", "job")
    check(json.loads(r.stdout) == {"name": "job", "cleared": False}, "clear a free lock: cleared false", r)


@sqlite_case
def lease_lost_kill_after_grace(sb):
    """A CMD that ignores SIGTERM after a lost lease gets SIGKILL after the grace period (10 s)."""
    cmd = 'trap "" TERM; touch started; i=0; while [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done'
    p = sb.spawn("run", "job", "--ttl", "3", "--", "sh", "-c", cmd)
    wait_for(lambda: sb.exists("started"), 10, "CMD to start")
    check(sb.baton("clear", "job").returncode == 0, "clear")
    t0 = time.monotonic()
    status, out, err = sb.finish(p, 25)
    elapsed = time.monotonic() - t0
    check(status == 76, f"exit 76, got {status}: {err!r}")
    check(9 <= elapsed < 16, f"SIGKILL after the 10 s grace period, took {elapsed:.1f} s")


@case
def lease_lost_when_baton_hangs(sb):
    """baton stopped (SIGSTOP) past its lease: another process gets the lock;
    when baton resumes it finds the lease gone, SIGTERMs CMD and exits 76."""
    cmd = ('trap "echo term > got-term; exit 0" TERM; touch started; '
           'i=0; while [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done')
    p = sb.spawn("run", "hung", "--ttl", "1", "--", "sh", "-c", cmd)
    wait_for(lambda: sb.exists("started"), 10, "CMD to start")
    os.kill(p.pid, signal.SIGSTOP)  # baton only: CMD keeps running
    try:
        r = sb.baton("run", "hung", "--timeout", "10", "--", "sh", "-c", 'echo "$BATON_FENCING_TOKEN"')
        check(r.returncode == 0, "a waiter gets the lock once the hung holder's lease ends", r)
    finally:
        os.kill(p.pid, signal.SIGCONT)
    status, out, err = sb.finish(p, 10)
    check(status == 76, f"the resumed baton exits 76, got {status}: {err!r}")
    check(sb.exists("got-term"), "CMD gets SIGTERM")


@sqlite_case
def usage_errors(sb):
    """Exit 64 with a 'baton: ' message and a usage line; CMD never runs."""
    cases = [
        (["run", "", "--", "touch", "ran"], "empty name"),
        (["run", "job", "", "--", "touch", "ran"], "empty second name"),
        (["run", "x" * 1025, "--", "touch", "ran"], "1025-byte name"),
        (["run", "__baton.internal", "--", "touch", "ran"], "reserved name"),
        (["run", "job", "touch", "ran"], "missing --"),
        (["run", "job", "--"], "missing CMD"),
        (["run", "job", "--bogus", "--", "touch", "ran"], "unknown flag"),
        (["--bogus", "run", "job", "--", "touch", "ran"], "unknown global flag"),
        (["run", "job", "--timeout", "-1", "--", "touch", "ran"], "negative timeout"),
        (["run", "job", "--timeout=-1", "--", "touch", "ran"], "negative timeout (=)"),
        (["run", "job", "--timeout", "abc", "--", "touch", "ran"], "timeout not a number"),
        (["run", "job", "--timeout", "nan", "--", "touch", "ran"], "timeout nan"),
        (["run", "job", "--timeout", "1", "--no-wait", "--", "touch", "ran"], "--timeout with --no-wait"),
        (["run", "job", "--ttl", "0", "--", "touch", "ran"], "zero ttl"),
        (["run", "job", "--ttl", "-3", "--", "touch", "ran"], "negative ttl"),
        (["run", "--", "touch", "ran"], "missing NAME"),
        ([], "no subcommand"),
        (["frobnicate"], "unknown subcommand"),
        (["status"], "status without NAME"),
        (["status", ""], "status with an empty name"),
        (["clear", "x" * 1025], "clear with a 1025-byte name"),
        (["list", "extra"], "list with an argument"),
        (["--config"], "--config without PATH"),
    ]
    # A broken config must not hide a usage error: usage is checked first.
    sb.write_config({"backend": "nope"})
    # Bad names are not about how to call baton: no usage line for them.
    no_usage = ("empty name", "empty second name", "1025-byte name", "reserved name", "status with an empty name",
                "clear with a 1025-byte name")
    for args, what in cases:
        expect_usage_error(sb, args, what, usage_line=what not in no_usage)
    r = sb.baton("--help")
    check(r.returncode == 0 and "run" in r.stdout and "status" in r.stdout, "--help exits 0", r)
    r = sb.baton("run", "--help")
    check(r.returncode == 0 and "--no-wait" in r.stdout, "run --help exits 0", r)


@case
def backend_unavailable(sb):
    """A store that cannot be reached: 69 for every subcommand."""
    config = unreachable_config()
    if config is None:
        blocker = sb.path("not-a-dir")
        open(blocker, "w").close()  # a file where a directory should be: never creatable, even as root
        config = {"backend": "sqlite", "sqlite": {"path": os.path.join(blocker, "sub", "locks.db")}}
    sb.write_config(config)
    for args in (["run", "job", "--", "touch", "ran"], ["status", "job"], ["list"], ["clear", "job"]):
        r = sb.baton(*args, timeout=30)
        check(r.returncode == 69, f"{args[0]} on an unreachable backend exits 69", r)
        one_stderr_line(r)
        check(not sb.exists("ran"), "CMD must not run")


@sqlite_case
def config_errors(sb):
    """Bad configs: 78 with a message naming the offending key."""
    env = dict(sb.env)
    env.pop("BATON_TEST_UNSET_VARIABLE", None)
    cases = [
        ({"backend": "sqlite", "sqlite": {"path": "a.db"}, "bogus": 1}, "bogus"),
        ({"backend": "sqlite", "sqlite": {"path": "a.db", "pth": "x"}}, "sqlite.pth"),
        ({"backend": "sqlite", "sqlite": {"path": 42}}, "sqlite.path"),
        ({"backend": "sqlite", "sqlite": {"path": "a.db", "busy_timeout_ms": "10"}}, "sqlite.busy_timeout_ms"),
        ({"backend": "sqlite", "defaults": {"ttl_seconds": "30"}}, "defaults.ttl_seconds"),
        ({"backend": "sqlite", "defaults": {"ttl_seconds": -1}}, "defaults.ttl_seconds"),
        ({"backend": "nope"}, "backend"),
        ({"backend": 7}, "backend"),
        ({"backend": "sqlite", "sqlite": {"path": "${BATON_TEST_UNSET_VARIABLE}/a.db"}}, "BATON_TEST_UNSET_VARIABLE"),
        ('{"backend": "sqlite",', ""),
        ("[1, 2]", ""),
    ]
    for doc, key in cases:
        sb.write_config(doc)
        for args in (["run", "job", "--", "touch", "ran"], ["status", "job"], ["list"], ["clear", "job"]):
            r = sb.baton(*args, env=env)
            check(r.returncode == 78, f"config {doc!r}: {args[0]} exits 78", r)
            one_stderr_line(r, key)
            check(not sb.exists("ran"), "CMD must not run")
    os.remove(sb.path("baton.json"))
    r = sb.baton("--config", sb.path("missing.json"), "status", "job")
    check(r.returncode == 78, "--config naming a missing file exits 78", r)
    one_stderr_line(r, "missing.json")
    r = sb.baton("status", "job", env=dict(env, BATON_CONFIG=sb.path("missing.json")))
    check(r.returncode == 78, "$BATON_CONFIG naming a missing file exits 78", r)
    # ${VAR} expansion works when the variable is set.
    sb.write_config({"backend": "sqlite", "sqlite": {"path": "${BATON_TEST_DB_DIR}/expanded.db"}})
    r = sb.baton("run", "job", "--", "true", env=dict(env, BATON_TEST_DB_DIR=sb.dir))
    check(r.returncode == 0 and sb.exists("expanded.db"), "${VAR} in a config string is expanded", r)


BAD_CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "bad-configs")


@sqlite_case
def bad_config_corpus(sb):
    """tests/data/bad-configs: every malformed config exits 78 with one line naming the key."""
    env = dict(sb.env)
    env.pop("BATON_TEST_UNSET_VARIABLE", None)
    entries = []
    with open(os.path.join(BAD_CONFIGS, "MANIFEST")) as m:
        for line in m:
            if line.strip() and not line.startswith("#"):
                fn, key = line.rstrip("\n").split("\t")
                entries.append((fn, key))
    listed = {fn for fn, _ in entries}
    on_disk = {f for f in os.listdir(BAD_CONFIGS) if f.endswith(".json")}
    check(listed == on_disk, f"MANIFEST and the files differ: {sorted(listed ^ on_disk)}")
    check(len(entries) >= 30, "at least 30 malformed configs")
    for fn, key in entries:
        r = sb.baton("--config", os.path.join(BAD_CONFIGS, fn), "status", "x", env=env)
        check(r.returncode == 78, f"{fn}: exit 78", r)
        lines = r.stderr.splitlines()
        check(len(lines) == 1, f"{fn}: exactly one line on stderr", r)
        # A config that names a backend this build leaves out fails on that
        # name first: its message names the backend, not the key behind it.
        with open(os.path.join(BAD_CONFIGS, fn), "rb") as f:
            text = f.read()
        absent = [b for b in ("postgres", "redis") if b not in BUILT_BACKENDS and f'"{b}"'.encode() in text]
        one_stderr_line(r, absent[0] if absent else key)
        check(r.stdout == "", f"{fn}: nothing on stdout", r)
    check(not sb.exists("locks.db") and not sb.exists("baton.db"), "a bad config never creates a database")


def plugin_path(name):
    return os.path.join(os.environ["BATON_TEST_PLUGIN_DIR"], name + ".so")


def backends_listing(sb, env):
    """`baton backends`: exit 0 and one JSON object per backend, by name."""
    r = sb.baton("backends", env=env)
    check(r.returncode == 0, "backends exits 0", r)
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    check([row["name"] for row in rows] == sorted(row["name"] for row in rows), "sorted by name", r)
    return {row["name"]: row for row in rows}, r


@sqlite_case
def backends_lists_builtin_and_plugins(sb):
    """`baton backends`: the built-in backends with their keys, and plugins from BATON_PLUGIN_PATH."""
    listed, r = backends_listing(sb, sb.env)
    for b in BUILT_BACKENDS:
        check(b in listed, f"{b} is listed", r)
    check(listed["sqlite"]["default"] is True and listed["sqlite"]["origin"] == "built in", "sqlite built in", r)
    check("path" in [k["name"] for k in listed["sqlite"]["keys"]], "sqlite's keys include path", r)
    for b, key in (("postgres", "dsn"), ("redis", "url")):
        if b in BUILT_BACKENDS:
            check(listed[b]["origin"].endswith(f"/baton-{b}.so"), f"{b} comes from its plugin", r)
            check(key in [k["name"] for k in listed[b]["keys"]], f"{b}'s keys include {key}", r)
    check("sqlite-plugin" not in listed, "no test plugin without BATON_PLUGIN_PATH", r)

    env = dict(sb.env, BATON_PLUGIN_PATH="/nonexistent:" + os.environ["BATON_TEST_PLUGIN_DIR"])
    listed, r = backends_listing(sb, env)
    row = listed.get("sqlite-plugin")
    check(row is not None and row["origin"] == plugin_path("baton_test_sqlite_plugin"), "the plugin is listed", r)
    check(row["default"] is False and [k["name"] for k in row["keys"]] == ["path"], "with its keys", r)
    # The directory's broken plugins are reported, one line each, and skipped.
    skipped = r.stderr.splitlines()
    for name in ("wrong_version", "wrong_stdlib", "failing_register", "empty_register", "not_a_plugin"):
        check(any(line.startswith("baton: skipped: ") and f"baton_test_{name}.so" in line for line in skipped),
              f"baton_test_{name}.so is reported as skipped", r)
    check(len(skipped) == 5, "one line per broken plugin", r)


@sqlite_case
def plugin_backend_run_and_status(sb):
    """A config's "plugins" (a path, or a bare name on BATON_PLUGIN_PATH) makes its backend usable."""
    base = dict(sb.env)
    for entry, env in ((plugin_path("baton_test_sqlite_plugin"), base),
                       ("baton_test_sqlite_plugin.so", dict(base, BATON_PLUGIN_PATH=os.environ["BATON_TEST_PLUGIN_DIR"]))):
        sb.env = env  # hold() runs baton with sb.env
        sb.write_config({"plugins": [entry], "backend": "sqlite-plugin", "sqlite-plugin": {"path": "plugin.db"}})
        r = sb.baton("run", "job", "--", "sh", "-c", 'echo "$BATON_LOCK_NAME"', env=env)
        check(r.returncode == 0 and r.stdout == "job\n", f"run through {entry}", r)
        check(sb.exists("plugin.db"), "the plugin's backend made its database")
        held = hold(sb, "held-job")
        r = sb.baton("status", "held-job", env=env)
        check(r.returncode == 0 and json.loads(r.stdout)["held"] is True, f"status through {entry}", r)
        let_go(sb, held)
        listed, r = backends_listing(sb, env)
        check(listed["sqlite-plugin"]["origin"] == plugin_path("baton_test_sqlite_plugin"),
              "backends lists the config's plugin", r)
        os.remove(sb.path("plugin.db"))


@sqlite_case
def config_lookup_order(sb):
    """--config, then $BATON_CONFIG, then ./baton.json, then SQLite at ./baton.db."""
    for n in ("a", "b", "c"):
        sb.write_config({"backend": "sqlite", "sqlite": {"path": f"{n}.db"}}, f"{n}.json")
    os.replace(sb.path("a.json"), sb.path("baton.json"))
    env_b = dict(sb.env, BATON_CONFIG=sb.path("b.json"))
    check(sb.baton("--config", sb.path("c.json"), "run", "j", "--", "true", env=env_b).returncode == 0, "run")
    check(sb.exists("c.db") and not sb.exists("b.db") and not sb.exists("a.db"), "--config comes first")
    check(sb.baton("run", "j", "--", "true", env=env_b).returncode == 0, "run")
    check(sb.exists("b.db") and not sb.exists("a.db"), "$BATON_CONFIG before ./baton.json")
    check(sb.baton("run", "j", "--", "true").returncode == 0, "run")
    check(sb.exists("a.db") and not sb.exists("baton.db"), "./baton.json before the default")
    os.remove(sb.path("baton.json"))
    check(sb.baton("run", "j", "--", "true").returncode == 0, "run")
    check(sb.exists("baton.db"), "without any config: SQLite at ./baton.db")


@case
def cannot_execute(sb):
    """127 when CMD cannot be executed; the lock is released."""
    with open(sb.path("not-executable"), "w") as f:
        f.write("#!/bin/sh\necho hi\n")
    for cmd in (["no-such-command-baton-test"], [sb.path("missing", "cmd")], [sb.path("not-executable")]):
        r = sb.baton("run", "job", "--", *cmd)
        check(r.returncode == 127, f"{cmd[0]}: exit 127", r)
        one_stderr_line(r, os.path.basename(cmd[0]))
        check(sb.status("job")["held"] is False, "the lock is released")


@case
def status_and_list_json(sb):
    """status/list JSON: fields, types, values; waiters; non-UTF-8 names still give valid JSON."""
    free = sb.status("report")
    check(free == {"name": "report", "held": False, "waiters": 0}, f"status of a free lock: {free}")
    check(sb.list() == [], "list with nothing held prints nothing")

    p = hold(sb, "report", "--ttl", "5")
    token = int(sb.read("held"))
    s = sb.status("report")
    check(list(s.keys()) == ["name", "held", "token", "owner", "host", "pid", "expires_in_ms", "waiters"],
          f"status keys/order: {list(s.keys())}")
    check(s["name"] == "report" and s["held"] is True, f"held: {s}")
    check(s["token"] == token, f"status token {s['token']} is the token CMD saw ({token})")
    check(isinstance(s["owner"], str) and len(s["owner"]) > 0, f"owner: {s}")
    check(s["host"] == socket.gethostname(), f"host {s['host']!r} is {socket.gethostname()!r}")
    check(s["pid"] == p.pid, f"pid {s['pid']} is baton's pid {p.pid}")
    check(isinstance(s["expires_in_ms"], int) and 0 < s["expires_in_ms"] <= 5000, f"expires_in_ms: {s}")
    check(s["waiters"] == 0, f"waiters: {s}")

    w = sb.spawn("run", "report", "--timeout", "20", "--", "true")
    wait_for(lambda: sb.status("report")["waiters"] == 1, 10, "status to show one waiter")

    bad = b"bad\xff\xfe name \xc3"
    q = sb.spawn("run", bad, "--", "sh", "-c", "touch held2; sleep 20")
    wait_for(lambda: sb.exists("held2"), 10, "the non-UTF-8 holder to start")
    r = subprocess.run([BATON, "status", bad], cwd=sb.dir, env=sb.env, capture_output=True, timeout=30)
    check(r.returncode == 0, f"status of a non-UTF-8 name: {r}")
    s2 = json.loads(r.stdout.decode("utf-8"))  # strict UTF-8: must not raise
    check(s2["held"] is True and s2["name"].startswith("bad"), f"non-UTF-8 status: {s2}")

    r = subprocess.run([BATON, "list"], cwd=sb.dir, env=sb.env, capture_output=True, timeout=30)
    check(r.returncode == 0, f"list: {r}")
    entries = [json.loads(line) for line in r.stdout.decode("utf-8").splitlines()]
    check(len(entries) == 2, f"list shows each held lock once: {entries}")
    names = sorted(e["name"] for e in entries)
    check(names[1] == "report" and names[0].startswith("bad"), f"list names: {names}")
    for e in entries:
        check(e["held"] is True and isinstance(e["token"], int) and e["pid"] > 0, f"list entry: {e}")
    by_name = {e["name"]: e for e in entries}
    check(by_name["report"]["waiters"] == 1 and by_name["report"]["token"] == token, f"list entry: {by_name}")

    let_go(sb, p)
    check(sb.finish(w, 10)[0] == 0, "the waiter ran")
    os.killpg(q.pid, signal.SIGTERM)
    sb.finish(q, 10)
    check(sb.list() == [], "list is empty once everything is released")
    # A name that looks like an option, after "--"; subcommand names as lock names.
    for args, name in ((["status", "--", "-dash"], "-dash"), (["status", "run"], "run"),
                       (["--config", "baton.json", "status", "--", "--"], "--")):
        r = sb.baton(*args)
        check(r.returncode == 0 and json.loads(r.stdout)["name"] == name, f"status of {name!r}", r)


@case
def default_ttl_from_config(sb):
    """A lease from defaults.ttl_seconds is reported; a running holder's expires_in_ms stays within it."""
    sb.write_config(backend_config(ttl_seconds=7))
    p = hold(sb, "d")
    s = sb.status("d")
    check(0 < s["expires_in_ms"] <= 7000, f"the default ttl applies: {s}")
    let_go(sb, p)


@case
def counter_20_processes(sb):
    """20 processes x 4 read-modify-writes of one file under baton run: no lost
    update, and the tokens seen in the critical section strictly increase."""
    with open(sb.path("counter"), "w") as f:
        f.write("0\n")
    # Read, pause (to make a race likely if exclusion were broken), write.
    rmw = ('n=$(cat counter); sleep 0.01; echo $((n + 1)) > counter.tmp && mv counter.tmp counter; '
           'echo "$BATON_FENCING_TOKEN" >> tokens')
    loop = f'for i in 1 2 3 4; do "$0" run counter -- sh -c \'{rmw}\' || exit $?; done'
    procs = []
    for _ in range(20):
        p = subprocess.Popen(["sh", "-c", loop, BATON], cwd=sb.dir, env=sb.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True, text=True, errors="replace")
        sb.procs.append(p)
        procs.append(p)
    for p in procs:
        status, out, err = sb.finish(p, 150)
        check(status == 0, f"a worker failed with {status}: {err!r}")
    final = int(sb.read("counter"))
    check(final == 80, f"counter is {final}, expected 80: updates were lost")
    tokens = [int(t) for t in sb.read("tokens").split()]
    check(len(tokens) == 80, f"{len(tokens)} tokens logged, expected 80")
    bad = [(a, b) for a, b in zip(tokens, tokens[1:]) if b <= a]
    check(not bad, f"tokens must strictly increase in critical-section order; violations: {bad[:5]}")


@case
def fifo_order(sb):
    """Waiters started 200 ms apart are served in exactly that order."""
    p = hold(sb, "fifo")
    n = 6
    waiters = []
    for i in range(n):
        waiters.append(sb.spawn("run", "fifo", "--", "sh", "-c", f"echo {i} >> order"))
        time.sleep(0.2)
    wait_for(lambda: sb.status("fifo")["waiters"] == n, 10, f"{n} waiters queued")
    let_go(sb, p)
    for w in waiters:
        status, out, err = sb.finish(w, 20)
        check(status == 0, f"waiter failed: {status} {err!r}")
    order = [int(x) for x in sb.read("order").split()]
    check(order == list(range(n)), f"served in order {order}, expected {list(range(n))}")


@case
def sigkill_holder_frees_within_4s(sb):
    """A `baton run --ttl 2` killed with SIGKILL leaves the lock to a waiter within 4 s."""
    p = hold(sb, "crash", "--ttl", "2")
    w = sb.spawn("run", "crash", "--timeout", "20", "--", "sh", "-c", "date +%s.%N > got")
    wait_for(lambda: sb.status("crash")["waiters"] == 1, 10, "the waiter to queue")
    killed_at = time.time()
    os.kill(p.pid, signal.SIGKILL)  # baton only; its CMD is orphaned and keeps running
    status, out, err = sb.finish(w, 15)
    check(status == 0, f"the waiter got the lock: {status} {err!r}")
    got_at = float(sb.read("got"))
    check(got_at - killed_at < 4.0, f"lock free to the waiter after {got_at - killed_at:.2f} s, limit 4 s")


@case
def signals_forwarded(sb):
    """SIGTERM/SIGINT/SIGHUP to baton reach CMD; baton exits with CMD's status and releases."""
    for sig, code in ((signal.SIGTERM, 7), (signal.SIGINT, 8), (signal.SIGHUP, 9)):
        name = sig.name
        for f in ("started", "got"):
            if sb.exists(f):
                os.remove(sb.path(f))
        cmd = (f'trap "echo {name} > got; exit {code}" {name[3:]}; touch started; '
               'i=0; while [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done')
        p = sb.spawn("run", "fw", "--", "sh", "-c", cmd)
        wait_for(lambda: sb.exists("started"), 10, "CMD to start")
        os.kill(p.pid, sig)
        status, out, err = sb.finish(p, 10)
        check(status == code, f"{name}: baton exits with CMD's status {code}, got {status}: {err!r}")
        check(sb.exists("got") and sb.read("got").strip() == name, f"{name} reached CMD")
        check(sb.status("fw")["held"] is False, f"{name}: lock released after CMD ended")
    # Default disposition in CMD: a plain CMD dies of the forwarded signal.
    for f in ("started",):
        os.remove(sb.path(f))
    p = sb.spawn("run", "fw", "--", "sh", "-c", "touch started; exec sleep 30")
    wait_for(lambda: sb.exists("started"), 10, "CMD to start")
    time.sleep(0.1)
    os.kill(p.pid, signal.SIGTERM)
    status, out, err = sb.finish(p, 10)
    check(status == 128 + signal.SIGTERM, f"CMD killed by the forwarded SIGTERM: {status} {err!r}")
    check(sb.status("fw")["held"] is False, "released")


@case
def signal_while_waiting(sb):
    """SIGINT/SIGTERM while waiting: exit 128+sig promptly, CMD never runs, no trace left in the queue."""
    p = hold(sb, "w")
    for sig in (signal.SIGINT, signal.SIGTERM):
        w = sb.spawn("run", "w", "--", "touch", "ran")
        wait_for(lambda: sb.status("w")["waiters"] == 1, 10, "the waiter to queue")
        t0 = time.monotonic()
        os.kill(w.pid, sig)
        status, out, err = sb.finish(w, 10)
        elapsed = time.monotonic() - t0
        check(status == 128 + sig, f"{sig.name} while waiting: exit {128 + sig}, got {status}: {err!r}")
        check(elapsed < 1.0, f"{sig.name} aborts the wait promptly (took {elapsed:.2f} s)")
        check(not sb.exists("ran"), "CMD must not run")
        check(err.startswith("baton: "), f"message: {err!r}")
        wait_for(lambda: sb.status("w")["waiters"] == 0, 5, "the aborted waiter to leave the queue")
    # Started in the background by a non-interactive shell, baton inherits
    # SIGINT ignored; it must still abort on SIGINT.
    r = subprocess.Popen(["sh", "-c", '"$0" run w -- touch ran & echo $! > bgpid; wait $!', BATON], cwd=sb.dir,
                         env=sb.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                         text=True)
    sb.procs.append(r)
    wait_for(lambda: sb.exists("bgpid") and sb.read("bgpid").strip(), 10, "background baton pid")
    wait_for(lambda: sb.status("w")["waiters"] == 1, 10, "the background waiter to queue")
    os.kill(int(sb.read("bgpid")), signal.SIGINT)
    status, out, err = sb.finish(r, 10)
    check(status == 130, f"a baton started with SIGINT ignored still aborts on SIGINT: {status} {err!r}")
    check(not sb.exists("ran"), "CMD must not run")
    let_go(sb, p)


# Hostile lock names through argv (NUL cannot be passed in argv at all: execve
# ends each argument at the first NUL, so a NUL name can only come through the
# library API; the conformance suite covers that).
HOSTILE_NAMES = [
    "'; DROP TABLE x; --",
    "\"; DROP TABLE baton_locks; --",
    "x') OR 1=1 --",
    "]]",
    "]]..redis.call('FLUSHALL')..[[",
    "redis.call(",
    "*",
    "%",
    "%s%n%x",
    "a\nb",
    "\r\n",
    "line\nbreak'\"`$(touch pwned)`",
    "名前-ü-🔒",
    "{hash}tag",
    "../../etc/passwd",
    " ",
    "\t",
    "x" * 1024,
    "é" * 512,
]
# Invalid UTF-8 reaches argv as raw bytes (Python passes surrogateescape'd str as bytes).
HOSTILE_BYTES = [b"\xff\xfe", b"\xc3\x28", b"a\x80b", b"\xed\xa0\x80"]


@case
def hostile_names(sb):
    """Hostile names work verbatim (status echoes them, run holds them, clear frees them) or exit 64."""
    for name in HOSTILE_NAMES + [b.decode("utf-8", "surrogateescape") for b in HOSTILE_BYTES]:
        p = hold(sb, name, "--ttl", "30")
        r = subprocess.run([BATON, "status", name], cwd=sb.dir, env=sb.env, capture_output=True, timeout=30)
        check(r.returncode == 0, f"status {name!r} exits 0 (got {r.returncode}, {r.stderr!r})")
        st = json.loads(r.stdout.decode("utf-8", "surrogateescape"))
        # Names that are not UTF-8 are shown with U+FFFD or escapes; valid ones verbatim.
        try:
            name.encode("utf-8")
            check(st["name"] == name, f"status shows {name!r} verbatim, got {st['name']!r}")
        except UnicodeEncodeError:
            pass
        check(st["held"] is True, f"{name!r} is held")
        r2 = sb.baton("run", name, "--no-wait", "--", "true")
        check(r2.returncode == 75, f"{name!r}: a second run is refused with 75", r2)
        let_go(sb, p)
        st = sb.status(name)
        check(st["held"] is False, f"{name!r} is free after release")
        r3 = sb.baton("clear", name)
        check(r3.returncode == 0, f"clear {name!r}", r3)
    # Other names must not have been touched: list is empty.
    check(sb.list() == [], "no stray locks after the hostile names")
    for name, what in (("", "empty"), ("x" * 1025, "1025 bytes"), ("é" * 513, "1026 bytes of UTF-8"),
                       ("__baton.x", "reserved")):
        for args in (["run", name, "--", "touch", "ran"], ["status", name], ["clear", name]):
            r = sb.baton(*args)
            check(r.returncode == 64, f"{what} name: {args[0]} exits 64", r)
            one_stderr_line(r)
    check(not sb.exists("ran") and not sb.exists("pwned"), "no CMD ran, nothing was injected")
    # The backend store is intact (the DROP TABLE attempts did nothing).
    p = hold(sb, "after")
    check(sb.status("after")["held"] is True, "the store still works")
    let_go(sb, p)


@sqlite_case
def usage_errors_more(sb):
    """More misuse: exit 64, a 'baton: ' line and a usage line, nothing run."""
    cases = [
        (["run", "job", "--timeout", "--", "touch", "ran"], "--timeout without a value"),
        (["run", "job", "--ttl", "--", "touch", "ran"], "--ttl without a value"),
        (["run", "job", "--timeout", "inf", "--", "touch", "ran"], "timeout inf"),
        (["run", "job", "--timeout", "1e999", "--", "touch", "ran"], "timeout overflow"),
        (["run", "job", "--ttl", "nan", "--", "touch", "ran"], "ttl nan"),
        (["run", "job", "--ttl", "abc", "--", "touch", "ran"], "ttl not a number"),
        (["run", "job", "other", "-x", "--", "touch", "ran"], "unknown flag after two names"),
        (["status", "a", "b"], "status with two names"),
        (["clear"], "clear without NAME"),
        (["run"], "run alone"),
        (["-x"], "unknown short flag"),
    ]
    sb.write_config({"backend": "nope"})
    for args, what in cases:
        expect_usage_error(sb, args, what)


SECRET = "s3cr3t-Pa55w0rd"


@case
def password_never_echoed(sb):
    """A password in the DSN / URL never appears on stdout or stderr (69 path, status, list, run)."""
    if BACKEND == "postgres":
        bad = {"backend": "postgres", "postgres": {"dsn": f"postgresql://postgres:{SECRET}@127.0.0.1:1/x",
                                                   "connect_timeout_ms": 1000}}
        bad_kv = {"backend": "postgres", "postgres": {"dsn": f"host=127.0.0.1 port=1 password={SECRET} dbname=x",
                                                      "connect_timeout_ms": 1000}}
        dsn = pg_dsn()
        good_url = dsn.replace("postgresql://postgres@", f"postgresql://postgres:{SECRET}@", 1)
        good = {"backend": "postgres", "postgres": {"dsn": good_url}}
        configs = [bad, bad_kv, good]
    elif BACKEND == "redis":
        bad = {"backend": "redis", "redis": {"url": f"redis://user:{SECRET}@127.0.0.1:1/0", "connect_timeout_ms": 1000}}
        bad2 = {"backend": "redis", "redis": {"url": f"redis://{SECRET}@127.0.0.1:1/0", "connect_timeout_ms": 1000}}
        # The dev server has no password: AUTH with one fails -> an error message, still without it.
        url = os.environ["BATON_TEST_REDIS_URL"].replace("redis://", f"redis://default:{SECRET}@", 1)
        wrong = {"backend": "redis", "redis": {"url": url}}
        badport = {"backend": "redis", "redis": {"url": f"redis://u:{SECRET}@127.0.0.1:99999/0"}}
        configs = [bad, bad2, wrong, badport]
    else:
        configs = [{"backend": "sqlite", "sqlite": {"path": f"/nonexistent-{SECRET}/x/locks.db"}}]
    for doc in configs:
        sb.write_config(doc)
        for args in (["run", "job", "--", "true"], ["status", "job"], ["list"], ["clear", "job"]):
            r = sb.baton(*args, timeout=30)
            if BACKEND == "sqlite":
                check(r.returncode == 69, f"{args[0]}: 69", r)  # a path is not a secret, shown on purpose
                continue
            check(SECRET not in r.stdout and SECRET not in r.stderr, f"{args[0]} with {doc}: password leaked", r)
            check(r.returncode in (0, 69, 75, 78), f"{args[0]}: a known exit status", r)
    # A dead server/DSN with a ${VAR} password: not echoed either.
    if BACKEND == "postgres":
        sb.write_config({"backend": "postgres", "postgres": {"dsn": "postgresql://postgres:${BATON_TEST_PW}@127.0.0.1:1/x",
                                                             "connect_timeout_ms": 1000}})
        r = sb.baton("status", "job", env=dict(sb.env, BATON_TEST_PW=SECRET))
        check(r.returncode == 69 and SECRET not in r.stderr + r.stdout, "${VAR} password not echoed", r)


# --------------------------------------------------------------------------
# run with several names: a lock set, all or nothing (docs/design.md §1.13)

SHOW_SET = ('printf "%s|%s|%s|%s" "$BATON_LOCK_NAMES" "$BATON_FENCING_TOKENS" '
            '"${BATON_LOCK_NAME-unset}" "${BATON_FENCING_TOKEN-unset}"')


@case
def run_set_env(sb):
    """run c a b a: CMD gets BATON_LOCK_NAMES (canonical order, no duplicates) and
    BATON_FENCING_TOKENS, and not the single-name variables; one name keeps only those."""
    env = dict(sb.env, BATON_LOCK_NAME="stale", BATON_FENCING_TOKEN="999999",
               BATON_LOCK_NAMES='["stale"]', BATON_FENCING_TOKENS='{"stale":1}')
    single = sb.baton("run", "b", "--", "sh", "-c", 'echo "$BATON_FENCING_TOKEN"')
    check(single.returncode == 0, "run b", single)
    r = sb.baton("run", "c", "a", "b", "a", "--", "sh", "-c", SHOW_SET, env=env)
    check(r.returncode == 0, "run c a b a", r)
    names, tokens, name, token = r.stdout.split("|")
    check(json.loads(names) == ["a", "b", "c"], f"BATON_LOCK_NAMES {names!r}", r)
    tokens = json.loads(tokens)
    check(sorted(tokens) == ["a", "b", "c"] and all(isinstance(t, int) and t > 0 for t in tokens.values()),
          f"BATON_FENCING_TOKENS {tokens!r}", r)
    check(tokens["b"] > int(single.stdout), "the set's token of b is above the earlier grant's", r)
    check(name == "unset" and token == "unset", "no single-name variables with several names", r)
    for n in ("a", "b", "c"):
        check(sb.status(n)["held"] is False, f"{n} is free after the run")
    r = sb.baton("run", "solo", "--", "sh", "-c", SHOW_SET, env=env)
    names, tokens, name, token = r.stdout.split("|")
    check(names == "" and tokens == "" and name == "solo" and token.isdigit(),
          f"one name: only BATON_LOCK_NAME and BATON_FENCING_TOKEN, got {r.stdout!r}", r)
    r = sb.baton("run", "d", "d", "--", "sh", "-c", SHOW_SET)
    check(r.stdout.split("|")[2] == "d", "a name given twice is one name", r)


@case
def run_set_all_or_nothing(sb):
    """run a b c with b held: --no-wait and --timeout exit 75 naming b, take none of
    a and c, leave no waiter; while the set holds, all three are held."""
    p = hold(sb, "b")
    r = sb.baton("run", "a", "b", "c", "--no-wait", "--", "touch", "ran")
    check(r.returncode == 75 and not sb.exists("ran"), "--no-wait with b busy exits 75, CMD not run", r)
    one_stderr_line(r, '"b"', "busy")
    r = sb.baton("run", "c", "b", "a", "--timeout", "0.5", "--", "touch", "ran")
    check(r.returncode == 75 and not sb.exists("ran"), "--timeout with b busy exits 75, CMD not run", r)
    one_stderr_line(r, "timed out", '"b"')
    for n in ("a", "b", "c"):
        st = sb.status(n)
        check(st["waiters"] == 0, f"no waiter left on {n}: {st}")
        check(st["held"] is (n == "b"), f"only b is held: {st}")
    w = sb.spawn("run", "a", "b", "c", "--timeout", "20", "--", "sh", "-c", "touch ran")
    wait_for(lambda: sb.status("b")["waiters"] == 1, 10, "the set to queue on b")
    check(sb.status("a")["held"] is True, "while queued on b, the set holds a")
    check(sb.status("c")["held"] is False, "while queued on b, the set has not taken c")
    let_go(sb, p)
    status, out, err = sb.finish(w, 15)
    check(status == 0 and sb.exists("ran"), f"once b is free the set runs CMD (status {status}, {err!r})")
    os.remove(sb.path("held"))
    q = sb.spawn("run", "a", "b", "c", "--", "sh", "-c", hold_cmd())
    wait_for(lambda: sb.exists("held"), 10, "the set's CMD to start")
    for n in ("a", "b", "c"):
        check(sb.status(n)["held"] is True, f"{n} is held while CMD runs")
    let_go(sb, q)


@case
def run_set_lease_lost(sb):
    """clear one member while CMD runs: SIGTERM, exit 76, the message names it; the others are freed."""
    cmd = ('trap "echo term > got-term; exit 0" TERM; touch started; '
           'i=0; while [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done')
    p = sb.spawn("run", "a", "b", "c", "--ttl", "3", "--", "sh", "-c", cmd)
    wait_for(lambda: sb.exists("started"), 10, "CMD to start")
    token = sb.status("b")["token"]
    r = sb.baton("clear", "b")
    check(r.returncode == 0 and json.loads(r.stdout)["cleared"] is True, "clear b", r)
    status, out, err = sb.finish(p, 10)
    check(status == 76, f"baton must exit 76 when a member's lease is cleared, got {status}; stderr {err!r}")
    check(sb.exists("got-term"), "CMD must get SIGTERM when a member's lease is lost")
    lines = err.splitlines()
    check(len(lines) == 1 and "lost" in lines[0] and 'lock "b"' in lines[0] and f"token {token}" in lines[0],
          f"one line naming lock \"b\" and its token {token}, got {err!r}")
    for n in ("a", "c"):
        check(sb.status(n)["held"] is False, f"{n} is released after the loss")


@case
def run_set_opposite_orders(sb):
    """Concurrent runs over overlapping names in opposite orders all finish, one holder per name."""
    orders = [("a", "b", "c"), ("c", "b", "a"), ("a", "b"), ("b", "c"), ("c", "a"), ("b", "a")]
    bump = 'for n in "$@"; do v=$(cat "count-$n" 2>/dev/null || echo 0); sleep 0.01; echo $((v+1)) > "count-$n"; done'
    rounds = 4
    for _ in range(rounds):
        procs = [sb.spawn("run", *o, "--timeout", "60", "--", "sh", "-c", bump, "sh", *o) for o in orders]
        for p in procs:
            status, out, err = sb.finish(p, 90)
            check(status == 0, f"every run finishes (status {status}, {err!r})")
    for n in ("a", "b", "c"):
        expected = rounds * sum(n in o for o in orders)
        got = int(sb.read(f"count-{n}"))
        check(got == expected, f"count of {n} is {got}, expected {expected}: two runs held {n} at once")


# --------------------------------------------------------------------------
# resource locks (docs/design.md §1.14)


@case
def resource_locks(sb):
    """A resource lock shows in list and status by its full name; run refuses it; clear needs --resource."""
    check(RESOURCE_HOLDER is not None, "this case needs --resource-holder")
    full = "__baton/table/dict/one"
    holder = sb.popen([RESOURCE_HOLDER, sb.path("baton.json"), "table", "dict/one", sb.path("token")])
    wait_for(lambda: sb.exists("token") or holder.poll() is not None, 15, "the resource lock's holder to start")
    check(holder.poll() is None, f"the holder exited early: {holder.poll()}")
    token = int(sb.read("token"))
    listed = sb.list()
    check([e["name"] for e in listed] == [full], f"list shows the resource lock by its full name: {listed}")
    st = sb.status(full)
    check(st["held"] is True and st["token"] == token, f"status of {full!r}: {st}, token {token}")
    # The same visible text in the user namespace is another lock.
    r = sb.baton("run", "table/dict/one", "--no-wait", "--", "true")
    check(r.returncode == 0, "a user lock of the same text is free", r)
    for args in (["run", full, "--", "touch", "ran"], ["run", "ok", full, "--", "touch", "ran"]):
        r = sb.baton(*args)
        check(r.returncode == 64, f"{args}: run refuses a resource lock's name", r)
        one_stderr_line(r, "reserved")
    r = sb.baton("clear", full)
    check(r.returncode == 64, "clear without --resource refuses a resource lock", r)
    one_stderr_line(r, "--resource")
    check(sb.status(full)["held"] is True, "a refused clear changed nothing")
    for name in ("table/dict/one", "__baton.ticket", "__baton/Table/x", "__baton/table/"):
        r = sb.baton("clear", "--resource", name)
        check(r.returncode == 64, f"clear --resource {name!r} refuses a name that is not a resource lock's", r)
        one_stderr_line(r, "--resource")
    for name in ("__baton.ticket", "__baton", "__baton/table/", "__baton/ta ble/x"):
        r = sb.baton("status", name)
        check(r.returncode == 64, f"status {name!r}: a reserved name that is not a resource lock's", r)
    r = sb.baton("clear", "--resource", full)
    check(r.returncode == 0 and json.loads(r.stdout) == {"name": full, "cleared": True}, "clear --resource", r)
    check(sb.status(full)["held"] is False, "the resource lock is free after clear --resource")
    check(not sb.exists("ran"), "no CMD ran")


def main():
    global BATON, BACKEND, BUILT_BACKENDS, RESOURCE_HOLDER

    def options(ap):
        ap.add_argument("--backend", choices=("sqlite", "postgres", "redis"), default="sqlite")
        ap.add_argument("--built-backends", default=",".join(BUILT_BACKENDS),
                        help="the backends of this build, comma- or semicolon-separated")
        ap.add_argument("--plugin-dir", help="the test plugins (tests/plugins), as $BATON_TEST_PLUGIN_DIR")
        ap.add_argument("--resource-holder", help="cli_resource_holder, which holds a resource lock")

    a = parse_args(options)
    BACKEND = a.backend
    BUILT_BACKENDS = tuple(b for b in a.built_backends.replace(";", ",").split(",") if b)
    if a.list:
        print(";".join(n for n in CASES if BACKEND == "sqlite" or n not in SQLITE_ONLY))
        return 0
    BATON = a.baton
    RESOURCE_HOLDER = a.resource_holder and os.path.abspath(a.resource_holder)
    if a.plugin_dir:
        os.environ["BATON_TEST_PLUGIN_DIR"] = a.plugin_dir
    need = {"postgres": "BATON_TEST_PG_DSN", "redis": "BATON_TEST_REDIS_URL"}.get(BACKEND)
    if need and (status := server_or_skip(need)) is not None:
        return status
    return run_cases(CASES, a.cases, new_sandbox)


if __name__ == "__main__":
    sys.exit(main())
