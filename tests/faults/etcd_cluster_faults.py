#!/usr/bin/env python3
"""Faults of a 3-member etcd cluster under the etcd backend, through the real `baton`.

    etcd_cluster_faults.py --baton PATH --plugin PATH CASE...   run cases (ctest runs each as a test)
    etcd_cluster_faults.py --list                               print the case names

Cases etcd.* run `baton` with the etcd plugin; the case cluster.* checks
the faults themselves with etcdctl alone, so that the etcd.* cases cannot
pass on a fault that did not happen.

The cluster is scripts/servers.sh's (etcd_cluster_start): its members'
endpoints in $BATON_TEST_ETCD_CLUSTER_ENDPOINTS, their directories (each
with start.sh, etcd.pid) under $BATON_TEST_ETCD_CLUSTER_DIR. A case
SIGKILLs, SIGSTOPs and restarts members, and leaves all three running and
healthy at its end, pass or fail; a cluster it cannot restore fails it.
Every case uses a key prefix of its own. A case that kills or stops the
leader first moves the leadership to m1, the member the config lists
first, so the fault hits both the leader and the member the backend most
likely talks to, whichever member happened to lead.

What the cases hold the backend to:
- with quorum, a holder keeps its lock (same token) through the fault,
  nobody else gets in (the holders' commands take a directory as a mutex
  and log an overlap if it is taken; `run --no-wait` is refused), and
  waiters are served in the order they queued;
- without quorum, every call fails with BackendUnavailable (exit 69) within
  its timeouts, and a holder whose lease cannot be kept alive reports the
  loss (exit 76) before anybody else is granted the lock;
- tokens strictly increase across every fault.
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from batontest import Fail, Sandbox, check, parse_args, run_cases, server_or_skip, wait_for  # noqa: E402

BATON = None
PLUGIN = None
CASES = {}

TTL = 3                  # s, the lease of every lock here
CONNECT_TIMEOUT_MS = 1000
COMMAND_TIMEOUT_MS = 1500


def case(fn):
    """Registers a case as etcd.NAME (it runs baton with the plugin), or as cluster.NAME when its name begins with
    cluster_ (it checks the cluster harness alone)."""
    name = fn.__name__[len("cluster_"):] if fn.__name__.startswith("cluster_") else fn.__name__
    CASES[f"{'cluster' if name != fn.__name__ else 'etcd'}.{name}"] = fn
    return fn


# ---------------------------------------------------------------- the cluster

class Cluster:
    """The three members of scripts/servers.sh's etcd cluster, m1..m3."""

    def __init__(self):
        self.endpoints = os.environ["BATON_TEST_ETCD_CLUSTER_ENDPOINTS"].split(",")
        self.dir = os.environ["BATON_TEST_ETCD_CLUSTER_DIR"]
        self.members = [f"m{i}" for i in range(1, len(self.endpoints) + 1)]

    def endpoint(self, m):
        return self.endpoints[self.members.index(m)]

    def pid(self, m):
        """The member's pid, or None when it does not run (a zombie does not)."""
        try:
            with open(os.path.join(self.dir, m, "etcd.pid")) as f:
                pid = int(f.read())
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            return None if state in ("Z", "X") else pid
        except (OSError, ValueError, IndexError):
            return None

    def etcdctl(self, endpoints, *args, timeout=10):
        return subprocess.run(["etcdctl", f"--endpoints={','.join(endpoints)}", "--dial-timeout=1s",
                               "--command-timeout=1s", *args], env={**os.environ, "ETCDCTL_API": "3"},
                              capture_output=True, text=True, timeout=timeout)

    def status(self, m):
        """The member's `endpoint status` (member_id, leader, ...), or None when it does not answer."""
        if self.pid(m) is None:
            return None
        r = self.etcdctl([self.endpoint(m)], "endpoint", "status", "-w", "json")
        return json.loads(r.stdout)[0]["Status"] if r.returncode == 0 else None

    def leader(self):
        """The member that leads now, or None when no running member knows a leader."""
        for m in self.members:
            st = self.status(m)
            if st and st.get("leader") and st["leader"] == st["header"]["member_id"]:
                return m
        return None

    def make_leader(self, m):
        """Moves the leadership to member m, so that a fault of the leader is also a fault of the member the
        backend's config lists first."""
        leader = wait_for(self.leader, 10, "a leader")
        if leader != m:
            target = format(self.status(m)["header"]["member_id"], "x")
            r = self.etcdctl([self.endpoint(leader)], "move-leader", target)
            check(r.returncode == 0, f"etcdctl move-leader to {m}", r)
        wait_for(lambda: self.leader() == m, 10, f"{m} to lead")
        return m

    def healthy(self, members=None):
        """True when each of `members` (default all) answers a quorum read."""
        eps = [self.endpoint(m) for m in (members or self.members)]
        return self.etcdctl(eps, "endpoint", "health").returncode == 0

    def kill(self, m, sig):
        pid = self.pid(m)
        check(pid is not None, f"member {m} runs before it is sent {signal.Signals(sig).name}")
        os.kill(pid, sig)
        if sig == signal.SIGKILL:
            wait_for(lambda: self.pid(m) is None, 5, f"member {m} to die")

    def start(self, m):
        """Starts a member that does not run with its own start.sh (same arguments, same data)."""
        subprocess.run([os.path.join(self.dir, m, "start.sh")], check=True, timeout=10)

    def restore(self):
        """Resumes stopped members, starts dead ones and waits until all are healthy with a leader."""
        for m in self.members:
            pid = self.pid(m)
            if pid is None:
                self.start(m)
            else:
                os.kill(pid, signal.SIGCONT)
        wait_for(lambda: self.healthy() and self.leader(), 30, "all members healthy again, with a leader")


# ---------------------------------------------------------------- processes under the lock

# The command of every holder here: takes the directory `excl` as a mutex
# (an overlap is logged to `overlaps`), logs its token to `tokens` and its
# label to `order`, notes the time it was granted in granted-LABEL, holds
# until `release` exists (bounded: 60 s) and gives the mutex back, also
# when the lost lease ends it with SIGTERM.
def guarded_cmd(label, hold=True):
    wait = ('i=0; while [ ! -e release ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; ' if hold
            else 'sleep 0.2; ')
    return ('mkdir excl 2>/dev/null || echo "$BATON_FENCING_TOKEN" >> overlaps; '
            'trap \'rmdir excl; exit 143\' TERM; '
            f'echo "$BATON_FENCING_TOKEN" >> tokens; echo {label} >> order; '
            f'date +%s.%N > granted-{label}.tmp && '
            f'mv granted-{label}.tmp granted-{label}; ' + wait + 'rmdir excl')


def spawn_guarded(sb, name, label, *opts, hold=True):
    return sb.spawn("run", name, "--ttl", str(TTL), *opts, "--", "sh", "-c", guarded_cmd(label, hold))


def granted_at(sb, label):
    """The wall-clock time holder `label` was granted, or None when it never was."""
    return float(sb.read(f"granted-{label}")) if sb.exists(f"granted-{label}") else None


def start_holder(sb, name, label="h"):
    p = spawn_guarded(sb, name, label)
    wait_for(lambda: sb.exists(f"granted-{label}") or p.poll() is not None, 15, f"holder {label} to start")
    if p.poll() is not None:
        raise Fail(f"holder {label} exited early: {p.communicate()}")
    return p


def queue_waiters(sb, name, labels):
    """Starts one waiter per label, each once the previous one is queued."""
    waiters = []
    for i, label in enumerate(labels):
        waiters.append(spawn_guarded(sb, name, label, "--timeout", "60", hold=False))
        wait_for(lambda: sb.status(name)["waiters"] >= i + 1, 10, f"waiter {label} queued")
    return waiters


def strike_leader(cl, sig, leader=None):
    """Makes m1 the leader (unless `leader` already is), sends it `sig` and
    waits until another member leads. Returns the struck member."""
    leader = leader or cl.make_leader(cl.members[0])
    cl.kill(leader, sig)
    wait_for(lambda: cl.leader() not in (None, leader), 10, "a new leader")
    return leader


def check_held_by(sb, name, token, what):
    st = sb.status(name)
    check(st["held"] is True and st["token"] == token, f"{what}: still held with token {token}: {st}")
    r = sb.baton("run", name, "--no-wait", "--", "true")
    check(r.returncode == 75, f"{what}: nobody else gets in (run --no-wait exits 75)", r)


def check_log(sb, order):
    """The holders ran one at a time in `order`, with strictly increasing tokens."""
    overlaps = sb.read("overlaps").split() if sb.exists("overlaps") else []
    check(not overlaps, f"two holders at once (the later ones' tokens: {overlaps})")
    got = sb.read("order").split()
    check(got == order, f"granted in order {order}: {got}")
    tokens = [int(t) for t in sb.read("tokens").split()]
    check(all(a < b for a, b in zip(tokens, tokens[1:])), f"tokens strictly increase across the fault: {tokens}")


def release(sb, holder, expect=0, within=15):
    open(sb.path("release"), "w").close()
    status, _, err = sb.finish(holder, within)
    check(status == expect, f"holder exits {expect}, got {status}: {err!r}")


# ---------------------------------------------------------------- cases

@case
def kill_leader_during_hold(sb, cl):
    """SIGKILL the leader while a lock is held: the holder keeps it (same token) past two leases; the next
    holder gets a higher token."""
    holder = start_holder(sb, "k")
    token = sb.status("k")["token"]
    leader = strike_leader(cl, signal.SIGKILL)
    time.sleep(2 * TTL)
    check_held_by(sb, "k", token, f"two leases after the leader {leader} was killed")
    release(sb, holder)
    cl.start(leader)
    after = spawn_guarded(sb, "k", "after", "--timeout", "30", hold=False)
    check(sb.finish(after, 30)[0] == 0, "the next holder is granted")
    check_log(sb, ["h", "after"])


@case
def kill_leader_during_wait(sb, cl):
    """SIGKILL the leader while 3 waiters queue behind a holder: all are served in FIFO order, one at a time,
    tokens increasing."""
    holder = start_holder(sb, "w")
    waiters = queue_waiters(sb, "w", ["w1", "w2", "w3"])
    leader = strike_leader(cl, signal.SIGKILL)
    time.sleep(TTL)
    check(not any(sb.exists(f"granted-{w}") for w in ("w1", "w2", "w3")), "no waiter is granted while the holder holds")
    check_held_by(sb, "w", int(sb.read("tokens").split()[0]), "a lease after the leader was killed")
    release(sb, holder)
    for i, w in enumerate(waiters):
        status, _, err = sb.finish(w, 30)
        check(status == 0, f"waiter w{i + 1} exits 0: {status} {err!r}")
    check_log(sb, ["h", "w1", "w2", "w3"])
    check(sb.status("w")["held"] is False, "free at the end")


@case
def sigstop_leader(sb, cl):
    """SIGSTOP the leader for two leases during a hold with a waiter queued: the holder keeps its token, the
    waiter waits, and is granted after the release."""
    holder = start_holder(sb, "s")
    token = sb.status("s")["token"]
    waiter, = queue_waiters(sb, "s", ["w1"])
    leader = cl.make_leader(cl.members[0])
    try:
        strike_leader(cl, signal.SIGSTOP, leader)
        time.sleep(2 * TTL)
        check(not sb.exists("granted-w1"), "the waiter is not granted while the holder holds")
        check_held_by(sb, "s", token, f"two leases after the leader {leader} was stopped")
    finally:
        cl.kill(leader, signal.SIGCONT)
    release(sb, holder)
    status, _, err = sb.finish(waiter, 30)
    check(status == 0, f"the waiter is granted after the release: {status} {err!r}")
    check_log(sb, ["h", "w1"])


@case
def rolling_restart(sb, cl):
    """SIGKILL and restart each member in turn during a hold: the holder keeps its token through all three."""
    holder = start_holder(sb, "r")
    token = sb.status("r")["token"]
    for m in cl.members:
        cl.kill(m, signal.SIGKILL)
        time.sleep(0.5)
        cl.start(m)
        wait_for(lambda: cl.healthy() and cl.leader(), 20, f"{m} back and the cluster healthy")
        check_held_by(sb, "r", token, f"after {m} was restarted")
    # Renewals have gone to the restarted members for a whole lease.
    time.sleep(TTL)
    check_held_by(sb, "r", token, "a lease after the last restart")
    release(sb, holder)
    after = spawn_guarded(sb, "r", "after", "--timeout", "30", hold=False)
    check(sb.finish(after, 30)[0] == 0, "the next holder is granted")
    check_log(sb, ["h", "after"])


@case
def kill_holder_client(sb, cl):
    """SIGKILL the holder's baton and CMD: the waiter is granted once the lease runs out, not before, with a
    higher token."""
    holder = start_holder(sb, "c")
    waiters = queue_waiters(sb, "c", ["w1"])
    os.killpg(holder.pid, signal.SIGKILL)
    killed = time.time()
    holder.communicate(timeout=10)
    os.rmdir(sb.path("excl"))  # the killed CMD's mutex
    status, _, err = sb.finish(waiters[0], 30)
    check(status == 0, f"the waiter is granted: {status} {err!r}")
    took = granted_at(sb, "w1") - killed
    print(f"  the waiter was granted {took:.2f} s after the holder was killed (lease {TTL} s)")
    # Renewals come at about a third of the lease, so the lease runs at least
    # two thirds of it past the kill; the next one is granted within the
    # lease [+1 s] (docs/design.md §1.6).
    check(took >= TTL / 2, f"the waiter got the lock {took:.2f} s after the kill, before the lease ({TTL} s) ran out")
    check(took <= TTL + 2, f"the waiter got the lock {took:.2f} s after the kill (lease {TTL} s)")
    check_log(sb, ["h", "w1"])


@case
def quorum_loss(sb, cl):
    """SIGSTOP two members during a hold with a waiter queued: the holder exits 76 within a lease of it and before
    anyone else is granted; calls exit 69 within their timeouts; after quorum is back the lock is granted again."""
    holder = start_holder(sb, "q")
    token = sb.status("q")["token"]
    waiter, = queue_waiters(sb, "q", ["w1"])
    # The member the config lists first is left alone, as the leader: it
    # answers, but cannot commit anything.
    leader = cl.make_leader(cl.members[0])
    stopped = [m for m in cl.members if m != leader]
    for m in stopped:
        cl.kill(m, signal.SIGSTOP)
    partitioned = time.time()
    # A request goes to each member in turn until one answers, each bounded
    # by the connect and command timeouts (docs/design.md §8.5).
    call_bound = len(cl.endpoints) * (CONNECT_TIMEOUT_MS + COMMAND_TIMEOUT_MS) / 1000 + 1
    try:
        # Renewals fail from now on: the loss is reported once the lease is
        # over by the holder's clock, give or take a renewal's timeouts.
        # A renewal that fails just before the lease ends may be tried again.
        wait_for(lambda: holder.poll() is not None, TTL + call_bound + 2, "the holder to report the loss")
        lost = time.time()
        print(f"  the holder exited {lost - partitioned:.1f} s after the partition")
        status, _, err = sb.finish(holder, 5)
        check(status == 76, f"the holder without quorum reports the loss (76): {status} {err!r}")
        check(not sb.exists("excl"), "the holder's CMD was ended")
        # The calls run side by side, each timed by itself.
        calls = [["status", "q"], ["list"], ["run", "q", "--no-wait", "--", "true"],
                 ["run", "q", "--timeout", "1", "--", "true"]]
        t0 = time.monotonic()
        procs = [sb.spawn(*args) for args in calls]
        took = [None] * len(procs)

        def all_done():
            for i, p in enumerate(procs):
                if took[i] is None and p.poll() is not None:
                    took[i] = time.monotonic() - t0
            return None not in took
        wait_for(all_done, 30, "the calls without quorum to return")
        for args, p, t in zip(calls, procs, took):
            status, _, err = sb.finish(p, 5)
            check(status == 69, f"{args}: exit 69 without quorum, got {status}: {err!r}")
            check(t < call_bound, f"{args}: returned in {t:.1f} s (timeouts {CONNECT_TIMEOUT_MS} + "
                                  f"{COMMAND_TIMEOUT_MS} ms on each of {len(cl.endpoints)} members)")
            print(f"  {' '.join(args)}: exit 69 in {t:.1f} s")
    finally:
        for m in stopped:
            cl.kill(m, signal.SIGCONT)
    wait_for(lambda: cl.healthy() and cl.leader(), 20, "quorum back")
    # The waiter queued before the partition either gave up with 69 while
    # there was no quorum or still waits and is granted now: after the loss.
    status, _, err = sb.finish(waiter, 40)
    check(status in (0, 69), f"the waiter queued before the partition exits 0 or 69: {status} {err!r}")
    if status == 0:
        check(granted_at(sb, "w1") > lost, "the loss is reported before the waiter is granted")
    after = spawn_guarded(sb, "q", "after", "--timeout", "30", hold=False)
    status, _, err = sb.finish(after, 40)
    check(status == 0, f"the lock is granted again once quorum is back: {status} {err!r}")
    check(granted_at(sb, "after") > lost, "the loss is reported before anybody else is granted")
    check(granted_at(sb, "after") - partitioned >= TTL / 2, "nobody is granted before the old lease could have run out")
    check(int(sb.read("tokens").split()[-1]) > token, "the next token is higher")
    check_log(sb, ["h", "w1", "after"] if sb.exists("granted-w1") else ["h", "after"])


@case
def cluster_faults_take_effect(sb, cl):
    """The faults themselves, without baton: a killed leader is replaced, two stopped members take the quorum away
    (a write fails), a restarted member rejoins. The etcd.* cases rest on these."""
    put = lambda eps, v: cl.etcdctl(eps, "put", f"/baton-faults-harness/{os.getpid()}", v)  # noqa: E731
    check(put(cl.endpoints, "1").returncode == 0, "a write succeeds on the healthy cluster")
    leader = cl.make_leader(cl.members[1])
    cl.kill(leader, signal.SIGKILL)
    t0 = time.monotonic()
    wait_for(lambda: cl.leader() not in (None, leader), 10, "a new leader after the old one was killed")
    print(f"  new leader {cl.leader()} {time.monotonic() - t0:.2f} s after {leader} was killed")
    rest = [m for m in cl.members if m != leader]
    check(put([cl.endpoint(m) for m in rest], "2").returncode == 0, "a write succeeds with two of three members")
    cl.start(leader)
    wait_for(lambda: cl.healthy(), 20, f"{leader} rejoins after its restart")
    r = cl.etcdctl([cl.endpoint(leader)], "get", "--print-value-only", f"/baton-faults-harness/{os.getpid()}")
    check(r.stdout.strip() == "2", f"the restarted {leader} has the write made while it was down", r)
    leader = cl.make_leader(cl.members[0])
    stopped = [m for m in cl.members if m != leader]
    for m in stopped:
        cl.kill(m, signal.SIGSTOP)
    try:
        alone = [m for m in cl.members if m not in stopped]
        t0 = time.monotonic()
        r = put([cl.endpoint(m) for m in alone], "3")
        check(r.returncode != 0, "a write fails without quorum", r)
        check(time.monotonic() - t0 < 5, "and within etcdctl's timeouts")
        check(not cl.healthy(alone), "the member left alone is not healthy")
    finally:
        for m in stopped:
            cl.kill(m, signal.SIGCONT)
    wait_for(lambda: cl.healthy() and cl.leader(), 20, "quorum back after SIGCONT")
    check(cl.etcdctl(cl.endpoints, "del", f"/baton-faults-harness/{os.getpid()}").returncode == 0, "clean up")


# ---------------------------------------------------------------- driver

def new_sandbox(name):
    sb = Sandbox(BATON, "baton-etcd-faults-")
    cl = Cluster()
    sb.write_config({"backend": "etcd", "plugins": [PLUGIN],
                     "etcd": {"endpoints": cl.endpoints, "prefix": f"baton-faults/{os.getpid()}-{time.monotonic_ns()}/",
                              "connect_timeout_ms": CONNECT_TIMEOUT_MS, "command_timeout_ms": COMMAND_TIMEOUT_MS},
                     "defaults": {"ttl_seconds": TTL}})
    sb.cluster = cl
    return sb


def with_cluster(fn):
    """Runs a case on the cluster, restored before it (a case killed by ctest's timeout cannot restore it
    itself) and after it, pass or fail."""
    def run(sb):
        sb.cluster.restore()
        try:
            fn(sb, sb.cluster)
        except BaseException:
            try:
                sb.cluster.restore()
            except Exception as e:
                print(f"the cluster could not be restored after a failure either: {e}", file=sys.stderr)
            raise
        sb.cluster.restore()
    return run


def main():
    global BATON, PLUGIN
    a = parse_args(lambda ap: ap.add_argument("--plugin"))
    if a.list:
        print(";".join(CASES))
        return 0
    BATON, PLUGIN = a.baton, os.path.abspath(a.plugin or "")
    if any(c.startswith("etcd.") for c in a.cases) and not os.path.exists(PLUGIN):
        print(f"FAIL: the etcd plugin {PLUGIN!r} does not exist", file=sys.stderr)
        return 1
    for var in ("BATON_TEST_ETCD_CLUSTER_ENDPOINTS", "BATON_TEST_ETCD_CLUSTER_DIR"):
        status = server_or_skip(var)
        if status is not None:
            return status
    return run_cases({name: with_cluster(fn) for name, fn in CASES.items()}, a.cases, new_sandbox)


if __name__ == "__main__":
    sys.exit(main())
