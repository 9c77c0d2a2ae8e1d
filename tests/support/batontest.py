"""Helpers for the Python test drivers of the `baton` command
(tests/cli/cli_test.py, tests/faults/faults_test.py), which import it from
here through sys.path.

A driver registers cases (functions of a Sandbox), lists their names for
ctest (--list) and runs the named ones with run_cases(). Every case works in
a Sandbox: a temporary directory of its own with a sanitised environment,
where it runs the real binary. Every wait is bounded; background processes
start in sessions of their own, and their whole process groups are killed
when the case ends, pass or fail. Faults that stop, restart or kill a server
use a PrivatePostgres or PrivateRedis on a free port, so the shared test
servers (scripts/servers.sh) are never disturbed.
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


class Fail(AssertionError):
    pass


class Skip(Exception):
    pass


def check(cond, message, proc=None):
    if not cond:
        if proc is not None:
            message += f"\n  exit status: {proc.returncode}\n  stdout: {proc.stdout!r}\n  stderr: {proc.stderr!r}"
        raise Fail(message)


def wait_for(pred, timeout, what):
    """Polls `pred` until it returns a true value (returned), or fails after `timeout` s."""
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


# ---------------------------------------------------------------- configs

def env_or_skip(var):
    """$var, or Skip when it is unset (a test server that is not running)."""
    value = os.environ.get(var)
    if not value:
        raise Skip(f"{var} is not set")
    return value


def server_config(backend, tag, pg_dsn=None, **sqlite_keys):
    """The config of `backend` on the shared test servers: PostgreSQL at
    `pg_dsn` (default $BATON_TEST_PG_DSN), Redis at $BATON_TEST_REDIS_URL
    under a key prefix of this call's own ("TAG:pid-ns:"), SQLite in
    locks.db in the sandbox with `sqlite_keys` added."""
    if backend == "postgres":
        return {"backend": "postgres", "postgres": {"dsn": pg_dsn or env_or_skip("BATON_TEST_PG_DSN")}}
    if backend == "redis":
        return {"backend": "redis", "redis": {"url": env_or_skip("BATON_TEST_REDIS_URL"), "heartbeat_ms": 200,
                                              "key_prefix": f"{tag}:{os.getpid()}-{time.monotonic_ns()}:"}}
    return {"backend": "sqlite", "sqlite": {"path": "locks.db", **sqlite_keys}}


# ---------------------------------------------------------------- sandbox

class Sandbox:
    """A temp dir, the environment the binary runs in there (no BATON_*
    variable but the test servers' BATON_TEST_*), and the processes and
    clean-ups of one case."""

    def __init__(self, baton, prefix):
        self.baton_path = baton
        self.dir = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.dir, 0o755)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_") or k.startswith("BATON_TEST_")}
        self.procs = []
        self.cleanups = []

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def exists(self, name):
        return os.path.exists(self.path(name))

    def read(self, name):
        with open(self.path(name)) as f:
            return f.read()

    def write_config(self, doc, name="baton.json"):
        with open(self.path(name), "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))

    def baton(self, *args, timeout=30, env=None, input=None):
        """Runs baton to completion; returns CompletedProcess (text output)."""
        try:
            return subprocess.run([self.baton_path, *args], cwd=self.dir, env=env or self.env, capture_output=True,
                                  timeout=timeout, input=input, errors="replace", text=True)
        except subprocess.TimeoutExpired as e:
            raise Fail(f"baton {' '.join(map(str, args))!s} did not finish within {timeout} s "
                       f"(stdout {e.stdout!r}, stderr {e.stderr!r})")

    def popen(self, argv, env=None, **kw):
        """Starts `argv` in the background, in a session of its own."""
        p = subprocess.Popen(argv, cwd=self.dir, env=env or self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True, errors="replace", text=True, **kw)
        self.procs.append(p)
        return p

    def spawn(self, *args, env=None, argv0=None):
        """Starts baton (or argv0) with `args` in the background."""
        return self.popen([argv0 or self.baton_path, *args], env=env)

    def finish(self, p, timeout):
        """Waits for a background process; returns (status, stdout, stderr)."""
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Fail(f"process {p.args} did not exit within {timeout} s")
        return p.returncode, out, err

    def status(self, name):
        r = self.baton("status", name)
        check(r.returncode == 0, f"status {name!r} failed", r)
        lines = r.stdout.splitlines()
        check(len(lines) == 1, "status must print exactly one line", r)
        return json.loads(lines[0])

    def list(self):
        r = self.baton("list")
        check(r.returncode == 0, "list failed", r)
        return [json.loads(line) for line in r.stdout.splitlines()]

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


def hold_cmd(file="held", release="release"):
    """A CMD that writes its token to `file` and holds until `release`
    exists (bounded: 60 s)."""
    return (f'echo "$BATON_FENCING_TOKEN" > {file}.tmp && mv {file}.tmp {file}; i=0; '
            f'while [ ! -e {release} ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done')


def hold(sb, name, *opts, start_within=10):
    """Starts `baton run NAME OPTS -- hold_cmd()` and waits until CMD runs;
    returns the Popen."""
    for f in ("held", "release"):
        if sb.exists(f):
            os.remove(sb.path(f))
    p = sb.spawn("run", name, *opts, "--", "sh", "-c", hold_cmd())
    wait_for(lambda: sb.exists("held") or p.poll() is not None, start_within, f"holder of {name!r} to start")
    if p.poll() is not None:
        raise Fail(f"holder of {name!r} exited early: {p.communicate()}")
    return p


def let_go(sb, p, expect=0):
    """Ends a hold() and checks the holder's exit status."""
    open(sb.path("release"), "w").close()
    status, out, err = sb.finish(p, 10)
    check(status == expect, f"holder exited {status}, expected {expect}; stderr {err!r}")
    os.remove(sb.path("release"))


# ---------------------------------------------------------------- private servers

PG_BIN = "/usr/lib/postgresql/15/bin"


def as_postgres():
    """argv prefix to run a PostgreSQL binary as the postgres user when root."""
    if os.getuid() == 0:
        return ["runuser", "-u", "postgres", "--"]
    return []


class PrivatePostgres:
    """A PostgreSQL server of one case's own (initdb/pg_ctl), destroyed with its sandbox."""

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
        self.psql("-d", "postgres", "-qc", "CREATE DATABASE baton")
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/baton"

    def _run(self, tool, *args, timeout=60):
        r = subprocess.run(as_postgres() + [os.path.join(PG_BIN, tool), *args], capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise Fail(f"{tool} failed: {r.stdout} {r.stderr}")
        return r

    def psql(self, *args):
        return self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", *args, timeout=30)

    def ctl(self, *args):
        return self._run("pg_ctl", "-D", self.data + "/db", "-l", self.log, "-w", "-t", "30", *args)

    def server_options(self):
        """pg_ctl's -o: the port, socket dir and settings of every start."""
        return f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start(self):
        self.ctl("-o", self.server_options(), "start")

    def restart(self):
        """pg_ctl restart -m fast: every session ends; returns once the server accepts clients again."""
        self.ctl("-m", "fast", "restart", "-o", self.server_options())

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
    """A redis-server of one case's own, no persistence, killed with its sandbox."""

    def __init__(self, sb):
        if not shutil.which("redis-server"):
            raise Skip("redis-server is not installed")
        self.port = free_port()
        self.dir = sb.dir
        self.proc = None
        sb.cleanups.append(self.destroy)
        self.start()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.dir], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: self.cli("PING").strip() == "PONG", 10, "private redis-server")

    def restart(self):
        """Stops the server and starts it again on the same port and dir; without persistence every key is
        lost. Returns once it answers PING."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.start()

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=10)
        return r.stdout

    def destroy(self):
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait(timeout=10)


# ---------------------------------------------------------------- driver

def parse_args(add_arguments=None):
    """The drivers' command line: --baton PATH CASE... or --list (plus what
    `add_arguments(parser)` adds). --baton comes back as an absolute path."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--baton")
    ap.add_argument("--list", action="store_true")
    if add_arguments:
        add_arguments(ap)
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    if not a.list:
        if not a.baton or not a.cases:
            ap.error("--baton PATH and at least one CASE are required")
        a.baton = os.path.abspath(a.baton)
    return a


def server_or_skip(var):
    """None when $var (a test server's address) is set; else the exit status
    for the whole run: 77 (ctest's skip), or 1 under CI=true, where an
    untested backend is a failure. Says why on stderr."""
    if os.environ.get(var):
        return None
    if os.environ.get("CI") == "true":
        print(f"FAIL: {var} is not set (scripts/test.sh sets it); CI=true, so this is a failure", file=sys.stderr)
        return 1
    print(f"SKIP: {var} is not set (scripts/test.sh sets it)", file=sys.stderr)
    return 77


def run_cases(cases, names, new_sandbox):
    """Runs cases[name](sandbox) for each of `names`, each in a
    new_sandbox(name) cleaned up afterwards. Returns the exit status: 0 all
    passed, 1 a failure, 2 an unknown case, 77 all skipped (a Skip under
    CI=true is a failure)."""
    failed = skipped = 0
    for name in names:
        if name not in cases:
            print(f"unknown case {name!r}", file=sys.stderr)
            return 2
        sb = new_sandbox(name)
        t0 = time.monotonic()
        try:
            cases[name](sb)
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
    return 77 if skipped and skipped == len(names) else 0
