#!/usr/bin/env python3
"""Fault injection against the real `baton` binary (issue 6), on every backend.

    faults_test.py --baton PATH CASE...   run cases (ctest runs each as a test)
    faults_test.py --list                 print the case names

Cases are named BACKEND.FAULT. The shared test servers come from
$BATON_TEST_PG_DSN / $BATON_TEST_REDIS_URL (scripts/test.sh); faults that
stop, restart or kill a server's connections start a PRIVATE server of their
own (PostgreSQL 15 via initdb/pg_ctl, run as the postgres user when root;
redis-server) on a free port in a temp dir, so the shared servers are never
disturbed. Every wait is bounded; background processes run in sessions of
their own and are killed when the case ends.
"""

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

BATON = None
CASES = {}
PG_BIN = "/usr/lib/postgresql/15/bin"


class Fail(AssertionError):
    pass


class Skip(Exception):
    pass


def check(cond, message, proc=None):
    if not cond:
        if proc is not None:
            message += f"\n  exit status: {proc.returncode}\n  stdout: {proc.stdout!r}\n  stderr: {proc.stderr!r}"
        raise Fail(message)


def case(*backends):
    def wrap(fn):
        for b in backends:
            CASES[f"{b}.{fn.__name__}"] = (fn, b)
        return fn
    return wrap


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Fail(f"timed out after {timeout} s waiting for: {what}")
        time.sleep(0.02)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shared_config(backend):
    if backend == "postgres":
        dsn = os.environ.get("BATON_TEST_PG_DSN")
        if not dsn:
            raise Skip("BATON_TEST_PG_DSN is not set")
        return {"backend": "postgres", "postgres": {"dsn": dsn}}
    if backend == "redis":
        url = os.environ.get("BATON_TEST_REDIS_URL")
        if not url:
            raise Skip("BATON_TEST_REDIS_URL is not set")
        return {"backend": "redis", "redis": {"url": url, "heartbeat_ms": 200,
                                              "key_prefix": f"baton-faults:{os.getpid()}-{time.monotonic_ns()}:"}}
    return {"backend": "sqlite", "sqlite": {"path": "locks.db", "heartbeat_ms": 200}}


class Sandbox:
    def __init__(self, backend):
        self.backend = backend
        self.dir = tempfile.mkdtemp(prefix="baton-faults-")
        os.chmod(self.dir, 0o755)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_") or k.startswith("BATON_TEST_")}
        self.procs = []
        self.cleanups = []

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def exists(self, name):
        return os.path.exists(self.path(name))

    def write_config(self, doc, name="baton.json"):
        with open(self.path(name), "w") as f:
            json.dump(doc, f)

    def baton(self, *args, timeout=30):
        try:
            return subprocess.run([BATON, *args], cwd=self.dir, env=self.env, capture_output=True, timeout=timeout,
                                  text=True, errors="replace")
        except subprocess.TimeoutExpired as e:
            raise Fail(f"baton {args} did not finish within {timeout} s (stderr {e.stderr!r})")

    def spawn(self, argv, **kw):
        p = subprocess.Popen(argv, cwd=self.dir, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True, text=True, errors="replace", **kw)
        self.procs.append(p)
        return p

    def finish(self, p, timeout):
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Fail(f"process {p.args} did not exit within {timeout} s")
        return p.returncode, out, err

    def status(self, name):
        r = self.baton("status", name)
        check(r.returncode == 0, f"status {name}", r)
        return json.loads(r.stdout)

    def cleanup(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGCONT)
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                p.communicate(timeout=10)
            except Exception:
                pass
        for f in reversed(self.cleanups):
            try:
                f()
            except Exception:
                traceback.print_exc()
        shutil.rmtree(self.dir, ignore_errors=True)


# CMD that writes its token to FILE and holds until RELEASE exists (bounded 60 s).
def hold_cmd(file="held", release="release"):
    return (f'echo "$BATON_FENCING_TOKEN" > {file}.tmp && mv {file}.tmp {file}; i=0; '
            f'while [ ! -e {release} ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done')


def hold(sb, name, *opts, file="held", release="release"):
    p = sb.spawn([BATON, "run", name, *opts, "--", "sh", "-c", hold_cmd(file, release)])
    wait_for(lambda: sb.exists(file) or p.poll() is not None, 15, f"holder of {name} to start")
    if p.poll() is not None:
        raise Fail(f"holder exited early: {p.communicate()}")
    return p


# ---------------------------------------------------------------- private servers

def as_postgres():
    """argv prefix to run a PostgreSQL binary as the postgres user when root."""
    if os.getuid() == 0:
        return ["runuser", "-u", "postgres", "--"]
    return []


class PrivatePostgres:
    def __init__(self, sb):
        if not os.path.exists(os.path.join(PG_BIN, "pg_ctl")):
            raise Skip("PostgreSQL 15 binaries are not installed")
        self.port = free_port()
        self.data = tempfile.mkdtemp(prefix="baton-faults-pg-")
        if os.getuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.data, pw.pw_uid, pw.pw_gid)
        os.chmod(self.data, 0o700)
        self.log = os.path.join(self.data, "log")
        sb.cleanups.append(self.destroy)
        self._run("initdb", "--no-sync", "-A", "trust", "-U", "postgres", "-D", self.data + "/db")
        self.start()
        subprocess.run(as_postgres() + [os.path.join(PG_BIN, "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                                        "-U", "postgres", "-d", "postgres", "-qc", "CREATE DATABASE baton"],
                       check=True, capture_output=True, timeout=30)
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/baton"

    def _run(self, tool, *args, timeout=60):
        r = subprocess.run(as_postgres() + [os.path.join(PG_BIN, tool), *args], capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise Fail(f"{tool} failed: {r.stdout} {r.stderr}")
        return r

    def ctl(self, *args):
        return self._run("pg_ctl", "-D", self.data + "/db", "-l", self.log, "-w", "-t", "30", *args)

    def start(self):
        self.ctl("-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def pid(self):
        with open(os.path.join(self.data, "db", "postmaster.pid")) as f:
            return int(f.readline())

    def destroy(self):
        try:
            os.kill(self.pid(), signal.SIGCONT)
        except Exception:
            pass
        try:
            self.ctl("-m", "immediate", "stop")
        except Exception:
            pass
        shutil.rmtree(self.data, ignore_errors=True)


class PrivateRedis:
    def __init__(self, sb):
        if not shutil.which("redis-server"):
            raise Skip("redis-server is not installed")
        self.port = free_port()
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", sb.dir], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        sb.cleanups.append(self.destroy)
        wait_for(lambda: self.cli("PING").strip() == "PONG", 10, "private redis-server")
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=10)
        return r.stdout

    def destroy(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


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
    workers = [sb.spawn(["sh", "-c", loop]) for _ in range(50)]
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
        waiters.append(sb.spawn([BATON, "run", "q", "--ttl", str(ttl), "--timeout", "60", "--",
                                 "sh", "-c", f"echo {i} >> order"]))
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
    waiter = sb.spawn([BATON, "run", "r", "--timeout", "60", "--", "sh", "-c", "echo ok > waited"])
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
    subprocess.run(as_postgres() + [os.path.join(PG_BIN, "psql"), "-h", "127.0.0.1", "-p", str(pg.port), "-U",
                                    "postgres", "-d", "baton", "-qc",
                                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE datname = 'baton' AND pid <> pg_backend_pid()"],
                   check=True, capture_output=True, timeout=30)
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


def main():
    global BATON
    ap = argparse.ArgumentParser()
    ap.add_argument("--baton")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    if a.list:
        print(";".join(CASES))
        return 0
    if not a.baton or not a.cases:
        ap.error("--baton PATH and at least one CASE are required")
    BATON = os.path.abspath(a.baton)
    failed = skipped = 0
    for name in a.cases:
        if name not in CASES:
            print(f"unknown case {name!r}", file=sys.stderr)
            return 2
        fn, backend = CASES[name]
        sb = Sandbox(backend)
        t0 = time.monotonic()
        try:
            fn(sb)
            print(f"PASS {name} ({time.monotonic() - t0:.1f} s)")
        except Skip as e:
            if os.environ.get("CI") == "true":
                failed += 1
                print(f"FAIL {name}: skipped on CI: {e}", file=sys.stderr)
            else:
                skipped += 1
                print(f"SKIP {name}: {e}", file=sys.stderr)
        except Fail as e:
            failed += 1
            print(f"FAIL {name}: {e}", file=sys.stderr)
        except Exception:
            failed += 1
            print(f"FAIL {name}: unexpected exception", file=sys.stderr)
            traceback.print_exc()
        finally:
            sb.cleanup()
    if failed:
        return 1
    return 77 if skipped and skipped == len(a.cases) else 0


if __name__ == "__main__":
    sys.exit(main())
