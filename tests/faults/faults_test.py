#!/usr/bin/env python3
"""Fault injection against the real `baton` binary, on every backend.

    faults_test.py --baton PATH CASE...   run cases (ctest runs each as a test)
    faults_test.py --list                 print the case names

Cases are named BACKEND.FAULT. The shared test servers come from
$BATON_TEST_PG_DSN / $BATON_TEST_REDIS_URL (scripts/test.sh); faults that
stop, restart or kill a server's connections start a PRIVATE server of their
own (PostgreSQL 15 via initdb/pg_ctl, run as the postgres user when root;
redis-server) on a free port in a temp dir, so the shared servers are never
disturbed. Every wait is bounded; background processes run in sessions of
their own and are killed when the case ends. The sandbox, process and server
helpers are tests/support/batontest.py's.
"""

import functools
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from batontest import (PrivatePostgres, PrivateRedis, Sandbox, Skip, check,  # noqa: E402
                       parse_args, run_cases, server_config, wait_for)
import batontest  # noqa: E402

BATON = None
CASES = {}
BACKEND_OF = {}


def case(*backends):
    def wrap(fn):
        for b in backends:
            CASES[f"{b}.{fn.__name__}"] = fn
            BACKEND_OF[f"{b}.{fn.__name__}"] = b
        return fn
    return wrap


def shared_config(backend):
    return server_config(backend, "baton-faults", heartbeat_ms=200)


# The fault cases give a holder 15 s to start.
hold = functools.partial(batontest.hold, start_within=15)


# ---------------------------------------------------------------- cases

RMW = ('n=$(cat count); echo "$BATON_FENCING_TOKEN" >> tokens; '
       'echo $((n+1)) > count.tmp && mv count.tmp count')


@case("sqlite", "postgres", "redis")
def counter_50x20(sb):
    """50 processes x 20 read-modify-writes of one file under `baton run`: exact count, tokens increasing."""
    sb.write_config(shared_config(sb.backend))
    with open(sb.path("count"), "w") as f:
        f.write("0\n")
    loop = f'for i in $(seq 20); do "{BATON}" run counter --timeout 120 -- sh -c \'{RMW}\' || exit 1; done'
    workers = [sb.popen(["sh", "-c", loop]) for _ in range(50)]
    for w in workers:
        status, out, err = sb.finish(w, 180)
        check(status == 0, f"a worker failed: {status} {err!r}")
    check(int(open(sb.path("count")).read()) == 1000, f"count is {open(sb.path('count')).read()!r}, expected 1000")
    tokens = [int(t) for t in open(sb.path("tokens")).read().split()]
    check(len(tokens) == 1000, f"{len(tokens)} tokens")
    check(all(a < b for a, b in zip(tokens, tokens[1:])), "tokens strictly increasing in grant order")


@case("sqlite", "postgres", "redis")
def dead_waiter_mid_queue(sb):
    """SIGKILL the 5th of 10 queued waiters: the other 9 are served in order, none delayed past one lease."""
    sb.write_config(shared_config(sb.backend))
    ttl = 3
    holder = hold(sb, "q", "--ttl", str(ttl))
    waiters = []
    for i in range(10):
        waiters.append(sb.spawn("run", "q", "--ttl", str(ttl), "--timeout", "60", "--",
                                "sh", "-c", f"echo {i} >> order"))
        wait_for(lambda: sb.status("q")["waiters"] >= i + 1, 10, f"waiter {i} queued")
    os.killpg(waiters[4].pid, signal.SIGKILL)
    waiters[4].communicate(timeout=10)
    released = time.monotonic()
    open(sb.path("release"), "w").close()
    check(sb.finish(holder, 15)[0] == 0, "holder exits 0")
    for i, w in enumerate(waiters):
        if i != 4:
            status, _, err = sb.finish(w, 60)
            check(status == 0, f"waiter {i} exited {status}: {err!r}")
    took = time.monotonic() - released
    order = [int(x) for x in open(sb.path("order")).read().split()]
    check(order == [0, 1, 2, 3, 5, 6, 7, 8, 9], f"served in FIFO order without the dead one: {order}")
    check(took < ttl + 3, f"the 9 live waiters took {took:.1f} s after release (one lease is {ttl} s)")
    check(sb.status("q")["held"] is False and sb.status("q")["waiters"] == 0, "nothing left behind")


@case("postgres")
def server_restart(sb):
    """pg_ctl restart -m fast during a hold and during a wait: holder reports the loss (76), waiter succeeds after."""
    pg = PrivatePostgres(sb)
    sb.write_config({"backend": "postgres", "postgres": {"dsn": pg.dsn, "connect_timeout_ms": 2000,
                                                         "command_timeout_ms": 2000}})
    holder = hold(sb, "r", "--ttl", "3")
    waiter = sb.spawn("run", "r", "--timeout", "60", "--", "sh", "-c", "echo ok > waited")
    wait_for(lambda: sb.status("r")["waiters"] >= 1, 10, "waiter queued")
    t0 = time.monotonic()
    pg.ctl("-m", "fast", "restart", "-o", f"-p {pg.port} -k {pg.data} -c listen_addresses=127.0.0.1 -c fsync=off")
    status, _, err = sb.finish(holder, 30)
    check(status == 76, f"holder reports the loss with 76, got {status}: {err!r}")
    status, _, err = sb.finish(waiter, 60)
    check(status == 0 and sb.exists("waited"), f"waiter succeeds after the restart: {status} {err!r}")
    check(time.monotonic() - t0 < 30, "within bounded time")
    check(sb.status("r")["held"] is False, "free at the end")


@case("postgres", "redis")
def server_frozen(sb):
    """SIGSTOP the server: every call returns 69 (BackendUnavailable) within its timeouts, never hangs."""
    if sb.backend == "postgres":
        srv = PrivatePostgres(sb)
        sb.write_config({"backend": "postgres", "postgres": {"dsn": srv.dsn, "connect_timeout_ms": 1500,
                                                             "command_timeout_ms": 1500}})
        pid = srv.pid()
    else:
        srv = PrivateRedis(sb)
        sb.write_config({"backend": "redis", "redis": {"url": srv.url, "connect_timeout_ms": 1500,
                                                       "command_timeout_ms": 1500}})
        pid = srv.proc.pid
    check(sb.baton("run", "f", "--", "true").returncode == 0, "works before the freeze")
    os.kill(pid, signal.SIGSTOP)
    try:
        for args in (["status", "f"], ["list"], ["clear", "f"], ["run", "f", "--timeout", "1", "--", "true"],
                     ["run", "f", "--no-wait", "--", "true"]):
            t0 = time.monotonic()
            r = sb.baton(*args, timeout=20)
            took = time.monotonic() - t0
            check(r.returncode == 69, f"{args}: exit 69 while the server is frozen", r)
            check(took < 5, f"{args}: returned in {took:.1f} s (timeouts 1.5 s)")
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: sb.baton("run", "f", "--", "true").returncode == 0, 20, "works again after SIGCONT")


@case("redis")
def client_kill(sb):
    """CLIENT KILL of every baton connection while a lock is held.

    A Redis lease is a key, not a connection: losing the connection does not
    end it. The correct behaviour is that the holder reconnects, its next
    renewal succeeds and it keeps the lock (same token) -- not a loss. What
    must hold: no crash, CMD not interrupted, no second holder meanwhile."""
    srv = PrivateRedis(sb)
    sb.write_config({"backend": "redis", "redis": {"url": srv.url, "heartbeat_ms": 200}})
    holder = hold(sb, "k", "--ttl", "2")
    token = sb.status("k")["token"]
    for _ in range(3):
        killed = srv.cli("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        time.sleep(1.0)  # renewals run about every ttl/3
    st = sb.status("k")
    check(st["held"] is True and st["token"] == token, f"still held with the same token after CLIENT KILL: {st}")
    r = sb.baton("run", "k", "--no-wait", "--", "true")
    check(r.returncode == 75, "nobody else can take it", r)
    open(sb.path("release"), "w").close()
    status, _, err = sb.finish(holder, 15)
    check(status == 0, f"holder completes normally (not a loss): {status} {err!r}; last kill said {killed!r}")
    check(sb.status("k")["held"] is False, "released")


@case("postgres")
def terminate_backend(sb):
    """pg_terminate_backend of the holder's session on a private server: the holder reports the loss (76)."""
    pg = PrivatePostgres(sb)
    sb.write_config({"backend": "postgres", "postgres": {"dsn": pg.dsn}})
    holder = hold(sb, "t", "--ttl", "3")
    pg.psql("-d", "baton", "-qc", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = 'baton' AND pid <> pg_backend_pid()")
    status, _, err = sb.finish(holder, 20)
    check(status == 76, f"holder reports the loss: {status} {err!r}")
    check(sb.baton("run", "t", "--no-wait", "--", "true").returncode == 0, "the lock is free for the next one")


@case("sqlite")
def sqlite_read_only_dir(sb):
    """The database in a directory the process cannot write: 69 with a clear one-line error, no crash."""
    ro = sb.path("ro")
    os.mkdir(ro)
    os.chmod(ro, 0o555)
    sb.write_config({"backend": "sqlite", "sqlite": {"path": os.path.join(ro, "locks.db")}})
    os.chmod(sb.dir, 0o755)
    os.chmod(sb.path("baton.json"), 0o644)
    argv_prefix = []
    if os.getuid() == 0:
        # root ignores permissions: run baton as nobody (exec bit on the binary's path is enough).
        argv_prefix = ["runuser", "-u", "nobody", "--"]
        if subprocess.run(argv_prefix + [BATON, "--help"], capture_output=True).returncode != 0:
            raise Skip("nobody cannot run the baton binary (its directory is not world-readable)")
    for args in (["run", "x", "--", "true"], ["status", "x"], ["list"], ["clear", "x"]):
        r = subprocess.run(argv_prefix + [BATON, *args], cwd=sb.dir, env=sb.env, capture_output=True, text=True,
                           timeout=30)
        check(r.returncode == 69, f"{args[0]} with a read-only directory: 69", r)
        check(r.stderr.startswith("baton: ") and len(r.stderr.splitlines()) == 1, "one 'baton: ' line", r)
        check("locks.db" in r.stderr or "ro" in r.stderr, "the message names the database", r)
    check(not os.path.exists(os.path.join(ro, "locks.db")), "nothing created")


@case("sqlite")
def sqlite_corrupt_file(sb):
    """A database file of garbage bytes: a clear error (69/70 BackendError), no crash, the file untouched."""
    garbage = os.urandom(64 * 1024)
    with open(sb.path("locks.db"), "wb") as f:
        f.write(garbage)
    sb.write_config(shared_config("sqlite"))
    for args in (["run", "x", "--", "touch", "ran"], ["status", "x"], ["list"], ["clear", "x"]):
        r = sb.baton(*args)
        check(r.returncode in (69, 70), f"{args[0]} on a corrupt file: 69 or 70", r)
        check(r.returncode != 0 and r.returncode < 128, "no crash", r)
        check(r.stderr.startswith("baton: ") and len(r.stderr.splitlines()) == 1, "one 'baton: ' line", r)
    check(not sb.exists("ran"), "CMD never ran")
    check(open(sb.path("locks.db"), "rb").read() == garbage, "the corrupt file is left as it was (no data loss)")
    # A truncated real database (valid header, missing pages).
    os.remove(sb.path("locks.db"))
    check(sb.baton("run", "x", "--", "true").returncode == 0, "a fresh database works")
    for suffix in ("-wal", "-shm"):
        if sb.exists("locks.db" + suffix):
            os.remove(sb.path("locks.db" + suffix))
    with open(sb.path("locks.db"), "r+b") as f:
        f.truncate(4096 + 100)
        f.seek(4096)
        f.write(b"\xde\xad" * 50)
    for args in (["status", "x"], ["run", "x", "--", "true"]):
        r = sb.baton(*args)
        check(r.returncode < 128, f"{args[0]} on a damaged database: no crash", r)
        check(r.returncode == 0 or r.stderr.startswith("baton: "), "a clear error if it fails", r)


@case("sqlite")
def sqlite_file_mode_follows_umask(sb):
    """The SQLite file (and its -wal/-shm) is created with the process umask: 077 -> 0600, 022 -> 0644."""
    for umask, mode in (("077", 0o600), ("022", 0o644)):
        db = f"u{umask}.db"
        sb.write_config({"backend": "sqlite", "sqlite": {"path": db}})
        r = subprocess.run(["sh", "-c", f'umask {umask} && exec "{BATON}" run x -- true'], cwd=sb.dir, env=sb.env,
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, f"run with umask {umask}", r)
        got = os.stat(sb.path(db)).st_mode & 0o777
        check(got == mode, f"umask {umask}: {db} has mode {got:o}, expected {mode:o}")


def new_sandbox(name):
    sb = Sandbox(BATON, "baton-faults-")
    sb.backend = BACKEND_OF[name]
    return sb


def main():
    global BATON
    a = parse_args()
    if a.list:
        print(";".join(CASES))
        return 0
    BATON = a.baton
    return run_cases(CASES, a.cases, new_sandbox)


if __name__ == "__main__":
    sys.exit(main())
