#!/usr/bin/env python3
"""A private PostgreSQL or Redis server around one command, with hooks that
pause, resume and restart it: the store faults of the conformance suite
(tests/conformance/src/test_store_faults.cpp).

    private_store.py run --store postgres|redis [--dir DIR] [--timeout S] -- COMMAND...
    private_store.py control SOCKET pause|resume|restart

`run` starts a throwaway server on a free port (batontest.py's
PrivatePostgres or PrivateRedis), runs COMMAND with the server's address in
the variable the conformance mains read (BATON_TEST_PG_DSN or
BATON_TEST_REDIS_URL) and with BATON_TEST_STORE_CONTROL, a command line to
which the suite appends pause, resume or restart. That command (`control`)
asks this process, over a unix socket, to act on the server, and exits 0
once it is done, or 1 with the reason on stdout. The server is stopped when
COMMAND ends, fails, runs past --timeout, or this process gets SIGINT,
SIGTERM or SIGHUP. The shared test servers (scripts/servers.sh) are never
touched.

Exit status: COMMAND's; 77 when the server cannot start (1 under CI=true,
where an untested backend is a failure); 1 when COMMAND exits 77, since
with the hooks set the store cases must run rather than be skipped; 124
when COMMAND runs past --timeout.
"""

import argparse
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from batontest import Fail, PrivatePostgres, PrivateRedis, Skip  # noqa: E402

SKIP = 77
TIMED_OUT = 124
ACTIONS = ("pause", "resume", "restart")


class Terminated(Exception):
    pass


# ---------------------------------------------------------------- processes

def parent_of(pid):
    """The parent pid of `pid`, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return int(text[text.rfind(")") + 2:].split()[1])


def state_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2]


def children_of(pid):
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and parent_of(int(p)) == pid]


def stop_processes(pids):
    """SIGSTOP each pid in order and wait until each is stopped (state T), so
    the store is frozen when this returns."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 10
    while any(state_of(p) not in (None, "T", "t") for p in pids):
        if time.monotonic() > deadline:
            raise Fail(f"processes {pids} did not stop within 10 s")
        time.sleep(0.005)


def continue_processes(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------- stores

class Scratch:
    """What batontest's private servers need of a Sandbox: a dir and clean-ups."""

    def __init__(self, parent):
        self.dir = tempfile.mkdtemp(prefix="baton-store-", dir=parent)
        os.chmod(self.dir, 0o755)
        self.cleanups = []

    def cleanup(self):
        for f in reversed(self.cleanups):
            try:
                f()
            except Exception:
                traceback.print_exc()
        shutil.rmtree(self.dir, ignore_errors=True)


class Store:
    """One private server and its three faults. `frozen` lists the pids a
    pause stopped, which resume continues (also before a restart or the
    final stop, so a stopped server never outlives this process)."""

    def __init__(self, kind, scratch):
        self.kind = kind
        self.server = PrivatePostgres(scratch) if kind == "postgres" else PrivateRedis(scratch)
        self.frozen = []
        self.mu = threading.Lock()

    def env(self):
        if self.kind == "postgres":
            return {"BATON_TEST_PG_DSN": self.server.dsn}
        return {"BATON_TEST_REDIS_URL": self.server.url}

    def pids(self):
        """The server's processes: PostgreSQL's postmaster first (stopped, it
        forks no new backend), then its children; Redis's one process."""
        if self.kind == "redis":
            return [self.server.proc.pid]
        postmaster = self.server.pid()
        return [postmaster] + children_of(postmaster)

    def pause(self):
        if self.frozen:
            raise Fail("pause: the store is already paused")
        self.frozen = self.pids()
        stop_processes(self.frozen)

    def resume(self):
        continue_processes(reversed(self.frozen))
        self.frozen = []

    def restart(self):
        self.resume()
        self.server.restart()

    def act(self, action):
        with self.mu:
            getattr(self, action)()


# ---------------------------------------------------------------- control socket

def serve_control(store, listener):
    """Answers each control request ("pause\\n") with "ok" or "error <reason>", one at a time."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return  # closed: the run is over
        with conn:
            try:
                action = conn.makefile().readline().strip()
                if action not in ACTIONS:
                    raise Fail(f"unknown action {action!r}")
                t0 = time.monotonic()
                store.act(action)
                reply = f"ok {action} took {time.monotonic() - t0:.2f} s\n"
            except Exception as e:
                reply = f"error {store.kind} {action}: {e}\n"
            try:
                conn.sendall(reply.encode())
            except OSError:
                pass


def control(sock_path, action):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(90)
        s.connect(sock_path)
        s.sendall(f"{action}\n".encode())
        reply = s.makefile().readline().strip()
    print(reply or f"no reply from the store controller at {sock_path}")
    return 0 if reply.startswith("ok") else 1


# ---------------------------------------------------------------- run

def start_store(kind, parent):
    """The store, or the exit status when it cannot start (SKIP, or 1 under CI=true)."""
    scratch = Scratch(parent)
    try:
        return Store(kind, scratch), scratch
    except (Skip, Fail, OSError, subprocess.SubprocessError) as e:
        scratch.cleanup()
        if os.environ.get("CI") == "true":
            print(f"FAIL: a private {kind} server did not start: {e}; CI=true, so this is a failure", file=sys.stderr)
            return 1, None
        print(f"SKIP: a private {kind} server did not start: {e}", file=sys.stderr)
        return SKIP, None


def run_command(argv, env, timeout):
    """Runs argv in a session of its own; its exit status (124 past `timeout`)."""
    child = subprocess.Popen(argv, env=env, start_new_session=True)
    try:
        return child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"FAIL: {argv} ran past {timeout} s; killed", file=sys.stderr)
        return TIMED_OUT
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def run(args):
    store, scratch = start_store(args.store, args.dir)
    if scratch is None:
        return store
    sock_dir = tempfile.mkdtemp(prefix="baton-ctl-")  # short: a unix socket path has at most 107 bytes
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock_path = os.path.join(sock_dir, "control")
        listener.bind(sock_path)
        listener.listen(4)
        threading.Thread(target=serve_control, args=(store, listener), daemon=True).start()
        env = dict(os.environ, **store.env())
        env["BATON_TEST_STORE_CONTROL"] = " ".join(
            shlex.quote(a) for a in (sys.executable, os.path.abspath(__file__), "control", sock_path))
        print(f"private_store: {args.store} at {next(iter(store.env().values()))}", flush=True)
        status = run_command(args.command, env, args.timeout)
        if status == SKIP:
            print("FAIL: every selected case was skipped although the store hooks were set", file=sys.stderr)
            return 1
        return status
    finally:
        listener.close()
        with store.mu:
            store.resume()
        scratch.cleanup()
        shutil.rmtree(sock_dir, ignore_errors=True)


def on_signal(signum, frame):
    raise Terminated(signal.Signals(signum).name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("run")
    r.add_argument("--store", choices=("postgres", "redis"), required=True)
    r.add_argument("--dir", default=None, help="parent of the throwaway dir (default: the temp dir)")
    r.add_argument("--timeout", type=float, default=280)
    r.add_argument("command", nargs="+")
    c = sub.add_parser("control")
    c.add_argument("socket")
    c.add_argument("action", choices=ACTIONS)
    args = ap.parse_args()
    if args.mode == "control":
        return control(args.socket, args.action)
    if args.dir:
        os.makedirs(args.dir, exist_ok=True)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    try:
        return run(args)
    except Terminated as e:
        print(f"private_store: {e}: server stopped", file=sys.stderr)
        return 128 + getattr(signal, str(e)).value


if __name__ == "__main__":
    sys.exit(main())
