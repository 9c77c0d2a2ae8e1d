#!/usr/bin/python3
"""The peer: redis-py's Lock (Debian python3-redis) against the same Redis.

    /usr/bin/python3 bench/peer_redis_py.py REDIS_URL [PROCS] [SECONDS]

Prints one JSON object: uncontended acquire+release p50/p99 (median of 5 runs
of 1000) and PROCS-process contention on one name for SECONDS (blocking
acquire with redis-py's defaults: it polls every 0.1 s) as grants/s and
max/min grants per process.
"""
import json
import multiprocessing as mp
import os
import statistics
import sys
import time

import redis


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]


def uncontended(url):
    r = redis.Redis.from_url(url)
    lock = r.lock("baton-bench-peer:uncontended:%d" % os.getpid(), timeout=30)
    for _ in range(200):
        lock.acquire()
        lock.release()
    p50, p99 = [], []
    for _ in range(5):
        us = []
        for _ in range(1000):
            t0 = time.perf_counter_ns()
            lock.acquire()
            lock.release()
            us.append((time.perf_counter_ns() - t0) / 1000.0)
        p50.append(pct(us, 0.5))
        p99.append(pct(us, 0.99))
    return statistics.median(p50), statistics.median(p99)


def worker(url, name, start, stop, out, i, ready):
    r = redis.Redis.from_url(url)
    lock = r.lock(name, timeout=30)
    r.ping()
    ready.release()
    while time.time() < start:
        time.sleep(0.0005)
    n = 0
    while True:
        lock.acquire()
        t = time.time()
        lock.release()
        if t >= stop:
            break
        n += 1
    out[i] = n


def contention(url, procs, seconds):
    name = "baton-bench-peer:contention:%d" % os.getpid()
    out = mp.Array("q", procs)
    ready = mp.Semaphore(0)
    start = time.time() + 1.0
    stop = start + seconds
    ps = [mp.Process(target=worker, args=(url, name, start, stop, out, i, ready)) for i in range(procs)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    grants = list(out)
    return sum(grants) / seconds, (max(grants) / min(grants) if min(grants) > 0 else None), grants


def main():
    url = sys.argv[1]
    # Pin the uncontended measure like baton's (see scripts/bench.sh).
    everywhere = os.sched_getaffinity(0)
    if os.environ.get("BATON_BENCH_PIN_CPU"):
        os.sched_setaffinity(0, {int(os.environ["BATON_BENCH_PIN_CPU"])})
    procs = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    p50, p99 = uncontended(url)
    os.sched_setaffinity(0, everywhere)
    gps, fair, grants = contention(url, procs, seconds)
    print(json.dumps({"peer": "redis-py", "version": redis.__version__, "uncontended_us_p50": round(p50, 2),
                      "uncontended_us_p99": round(p99, 2), "procs": procs, "seconds": seconds,
                      "grants_per_s_%dprocs" % procs: round(gps), "fairness_max_min_%dprocs" % procs:
                      (round(fair, 3) if fair else None), "grants": grants}))


if __name__ == "__main__":
    main()
