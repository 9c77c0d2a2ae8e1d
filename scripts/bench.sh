#!/usr/bin/env bash
# scripts/bench.sh: the whole benchmark in one command.
#
#   scripts/bench.sh
#
# Installs what it needs (gnuplot-nox, python3-redis), starts throw-away
# PostgreSQL, Redis and etcd servers (scripts/servers.sh; on their own
# ports, 54339, 63809 and 23770, so a test run can go on beside it), builds Release in
# build/, runs every measure of bench_suite (bench/main.cpp) on every
# backend and the redis-py peer, and writes build/bench/results.json,
# build/bench/results.md and build/bench/*.png. See docs/benchmarks.md.
#
# Knobs (environment): BATON_BENCH_SECONDS (contention run length, 2),
# BATON_BENCH_MAX_LOAD (wait up to 3 minutes for the 1-minute load average to
# drop below this before measuring; 0.8), BATON_BENCH_BACKENDS ("sqlite
# postgres redis etcd"; etcd is measured when $BATON_TEST_ETCD_ENDPOINTS is
# set, through its plugin built and installed as tests/etcd does), BATON_BENCH_NAMES (many-names fill, 100000),
# BATON_BENCH_REPEATS (runs of each hand-off and contention measure, 3;
# results.json has the median of each figure over the runs),
# BATON_BENCH_ONLY (the parts to run, space separated, of: uncontended
# many_names lock_set fence held handoff_contention peer; all when unset; a
# partial run writes results.json and results.md, no plots).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=$root/build
out=$build/bench
: "${BATON_BENCH_SECONDS:=2}"
: "${BATON_BENCH_MAX_LOAD:=0.8}"
: "${BATON_BENCH_BACKENDS:=sqlite postgres redis etcd}"
: "${BATON_BENCH_NAMES:=100000}"
: "${BATON_BENCH_REPEATS:=3}"
: "${BATON_BENCH_ONLY:=}"
: "${BATON_PG_PORT:=54339}"
: "${BATON_REDIS_PORT:=63809}"
# The benchmarked backends' servers only: one etcd member, not the cluster
# of the fault tests.
: "${BATON_TEST_SERVERS:=postgres redis etcd}"
: "${BATON_ETCD_PORT:=23770}"
: "${BATON_ETCD_PEER_PORT:=23780}"
: "${BATON_PG_MAX_CONNECTIONS:=1200}"  # 500 queued waiters, each a connection
: "${BATON_SERVERS_DIR:=$build/bench-servers}"
export BATON_PG_PORT BATON_REDIS_PORT BATON_ETCD_PORT BATON_ETCD_PEER_PORT BATON_PG_MAX_CONNECTIONS BATON_SERVERS_DIR
export BATON_TEST_SERVERS
PY=/usr/bin/python3  # Debian's, with python3-redis (python3 may be a pyenv shim)
began=$(date +%s)

# ---- dependencies ------------------------------------------------------------
need=()
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
$PY -c 'import redis' 2>/dev/null || need+=(python3-redis)
if ((${#need[@]})); then
  echo "bench: installing ${need[*]}"
  sudo=; [[ $EUID -ne 0 ]] && sudo=sudo
  $sudo apt-get install -y -q "${need[@]}" >/dev/null || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${need[@]}" >/dev/null; }
fi

# ---- servers -------------------------------------------------------------------
# shellcheck source=scripts/servers.sh
source "$root/scripts/servers.sh"
trap servers_stop EXIT
trap 'exit 130' INT TERM
servers_start

# ---- build -----------------------------------------------------------------------
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build" -j"${BATON_BENCH_JOBS:-2}" bench_suite
# etcd: the plugin, built out of tree against this build installed as a kit.
if [[ " $BATON_BENCH_BACKENDS " == *" etcd "* && -n ${BATON_TEST_ETCD_ENDPOINTS:-} ]]; then
  ninja -C "$build" -j"${BATON_BENCH_JOBS:-2}"
  $PY "$root/tests/etcd/check_etcd_plugin.py" build --work "$build/etcd-kit" --build-dir "$build" \
    --source "$root/backends/etcd" >/dev/null
  export BATON_BENCH_ETCD_PLUGIN=$build/etcd-kit/prefix/lib/baton/libbaton_etcd.so
fi
mkdir -p "$out"
rm -f "$out"/raw.jsonl "$out"/*.png "$out"/*.dat

# ---- a quiet machine -------------------------------------------------------------
load1() { cut -d' ' -f1 /proc/loadavg; }
for ((i = 0; i < 36; i++)); do
  awk -v l="$(load1)" -v m="$BATON_BENCH_MAX_LOAD" 'BEGIN { exit !(l <= m) }' && break
  ((i == 0)) && echo "bench: load average $(load1) > $BATON_BENCH_MAX_LOAD; waiting (up to 3 min) for a quieter machine"
  sleep 5
done
load_start=$(load1)
echo "bench: measuring at load average $load_start"

# ---- measures --------------------------------------------------------------------
want() { [[ -z $BATON_BENCH_ONLY || " $BATON_BENCH_ONLY " == *" $1 "* ]]; }
suite=$out/bench_suite
raw=$out/raw.jsonl
run() {  # run TIMEOUT ARGS...: one JSON line into raw.jsonl; a failure is recorded, not fatal
  local t=$1 line
  shift
  echo "bench: $*" >&2
  if line=$(timeout "$t" "$@"); then
    echo "$line" | tee -a "$raw"
  else
    echo "bench: FAILED ($?): $*" >&2
    printf '{"failed":"%s"}\n' "$*" >>"$raw"
  fi
}
# Placement: on this kind of machine (a VM) a loopback round trip costs ~8 us
# when client and server share a CPU and ~70 us when they do not (the wake-up
# crosses vCPUs), and an unpinned run lands on either at random, so the
# single-client measures (uncontended, many names) pin the servers to the
# last CPU and the client to CPU 0: always cross-CPU, as in production. The
# same-CPU figures are recorded too (same_cpu_*). Multi-process measures run
# unpinned. Servers' new connections inherit the postmaster's affinity.
ncpu=$(nproc)
server_pids() {
  [[ -n ${_pg_dir:-} && -s $_pg_dir/data/postmaster.pid ]] && head -n 1 "$_pg_dir/data/postmaster.pid"
  [[ -n ${_redis_dir:-} && -s $_redis_dir/redis.pid ]] && cat "$_redis_dir/redis.pid"
  [[ -n ${_etcd_dir:-} && -s $_etcd_dir/etcd.pid ]] && cat "$_etcd_dir/etcd.pid"
  return 0
}
pin_servers() { local p; for p in $(server_pids); do taskset -a -p -c "$1" "$p" >/dev/null || true; done; }
client_cpu=0 server_cpu=$((ncpu - 1))
pin=(); ((ncpu > 1)) && pin=(taskset -c "$client_cpu")
for b in $BATON_BENCH_BACKENDS; do
  [[ $b == postgres && -z ${BATON_TEST_PG_DSN:-} ]] && continue
  [[ $b == redis && -z ${BATON_TEST_REDIS_URL:-} ]] && continue
  [[ $b == etcd && -z ${BATON_BENCH_ETCD_PLUGIN:-} ]] && continue
  ((ncpu > 1)) && pin_servers "$server_cpu"
  want uncontended && run 120 "${pin[@]}" "$suite" "$b" uncontended 9 2000
  if want uncontended && ((ncpu > 1)) && [[ $b != sqlite ]]; then
    echo "bench: $b uncontended, client and server on one CPU" >&2
    line=$(timeout 120 taskset -c "$server_cpu" "$suite" "$b" uncontended 9 2000) && echo "{\"same_cpu\":$line}" | tee -a "$raw"
  fi
  # etcd: no many-names fill (100000 names at a few ms each) and no fence
  # (baton ships none for data kept in etcd).
  [[ $b != etcd ]] && want many_names && run 300 "${pin[@]}" "$suite" "$b" many_names "$BATON_BENCH_NAMES"
  # A lock set of 3 names against 3 single locks and the floor's pair x3;
  # a write with and without the stale-write check at the resource.
  want lock_set && run 120 "${pin[@]}" "$suite" "$b" lock_set 9 1000
  [[ $b != etcd ]] && want fence && run 120 "${pin[@]}" "$suite" "$b" fence 9 1000
  # 10000 locks held by one manager with 3 s leases for 60 s: its batched
  # renewal (one write transaction a tick on SQLite) loses none.
  want held && [[ $b == sqlite ]] && run 120 "$suite" "$b" held 10000 3000 60
  ((ncpu > 1)) && pin_servers "0-$((ncpu - 1))"
done
# Repeated whole (one backend's hand-offs, then its contention, then the
# next backend's), so a slow spell of the VM spoils at most one run of each.
want handoff_contention || BATON_BENCH_REPEATS=0
for ((rep = 1; rep <= BATON_BENCH_REPEATS; rep++)); do
  echo "bench: hand-off and contention, run $rep of $BATON_BENCH_REPEATS" >&2
  for b in $BATON_BENCH_BACKENDS; do
    [[ $b == postgres && -z ${BATON_TEST_PG_DSN:-} ]] && { echo "bench: no PostgreSQL, skipped" >&2; continue; }
    [[ $b == redis && -z ${BATON_TEST_REDIS_URL:-} ]] && { echo "bench: no Redis, skipped" >&2; continue; }
    [[ $b == etcd && -z ${BATON_BENCH_ETCD_PLUGIN:-} ]] && { echo "bench: no etcd, skipped" >&2; continue; }
    run 120 "$suite" "$b" handoff 1 500
    run 60 "$suite" "$b" handoff 10 200
    # SQLite at 500 queued waiter threads may not finish (see docs/benchmarks.md):
    # the timeout bounds it and the run is recorded as failed.
    # 500 participants connect one after another (PostgreSQL: 500 backends).
    for d in 100 500; do run $((d == 500 ? 240 : 90)) "$suite" "$b" handoff "$d" 100; done
    # The same hand-offs on the bare primitive, for the growth with depth that
    # the primitive itself shows (SQLite, which has no blocking lock: a FIFO
    # queue table moved on by one write transaction and a futex wake-up per
    # hand-off; see bench/floors.cpp).
    # (etcd has no hand-off floor: its bare primitive is the uncontended pair.)
    if [[ $b != etcd ]]; then
      run 120 "$suite" "$b" handoff_floor 1 500
      # With a durable token in each grant, as baton's (PostgreSQL).
      if [[ $b == postgres ]]; then run 120 "$suite" "$b" handoff_floor_fenced 1 500; fi
      run 60 "$suite" "$b" handoff_floor 10 200
      for d in 100 500; do run $((d == 500 ? 240 : 90)) "$suite" "$b" handoff_floor "$d" 100; done
    fi
    # SQLite: the futex wake-ups of that floor alone, without the write, to
    # tell the store's growth with depth from the wake-ups'.
    if [[ $b == sqlite ]]; then
      run 60 "$suite" sqlite handoff_floor_wake 1 500
      run 120 "$suite" sqlite handoff_floor_wake 500 100
    fi
    for p in 1 2 4 8 16; do
      if ((p == 1 && ncpu > 1)) && [[ $b != sqlite ]]; then
        # One client ping-ponging with its server: unpinned, the scheduler
        # tends to put both on one vCPU, where a round trip costs ~8 us instead
        # of ~70 (seen: Redis 6,066/s on one run, 21,087/s on another). The
        # 1-process figure is measured as the uncontended one is, client and
        # server on different CPUs as between hosts; the unpinned one is
        # recorded next to it.
        pin_servers "$server_cpu"
        run 60 taskset -c "$client_cpu" "$suite" "$b" contention 1 "$BATON_BENCH_SECONDS"
        pin_servers "0-$((ncpu - 1))"
        echo "bench: $b contention 1, unpinned" >&2
        line=$(timeout 60 "$suite" "$b" contention 1 "$BATON_BENCH_SECONDS") && echo "{\"unpinned\":$line}" | tee -a "$raw"
      else
        run 60 "$suite" "$b" contention "$p" "$BATON_BENCH_SECONDS"
      fi
    done
    # SQLite: the bare primitive of a FIFO hand-off between processes (one
    # write transaction and one futex wake-up per turn; then with the second
    # write a queue of waiter rows needs per grant when each waiter writes
    # its own), for the same counts.
    if [[ $b == sqlite ]]; then
      for w in 1 2; do
        for p in 1 2 4 8 16; do run 60 "$suite" sqlite contention_floor "$p" "$BATON_BENCH_SECONDS" "$w"; done
      done
    fi
  done
done
if want peer && [[ -n ${BATON_TEST_REDIS_URL:-} ]]; then
  echo "bench: redis-py peer" >&2
  # Its uncontended part pinned like baton's (the script pins itself to CPU
  # 0 with BATON_BENCH_PIN_CPU, and lets its 8 contention processes run free).
  ((ncpu > 1)) && pin_servers "$server_cpu"
  if line=$(BATON_BENCH_PIN_CPU=$( ((ncpu > 1)) && echo $client_cpu) timeout 120 $PY "$root/bench/peer_redis_py.py" "$BATON_TEST_REDIS_URL" 8 "$BATON_BENCH_SECONDS"); then
    echo "$line" | tee -a "$raw"
  else
    echo "bench: FAILED: redis-py peer" >&2
  fi
  ((ncpu > 1)) && pin_servers "0-$((ncpu - 1))"
fi
load_end=$(load1)

# ---- results.json, results.md, plots -----------------------------------------------
$PY "$root/bench/report.py" "$raw" "$out" \
  --load-start "$load_start" --load-end "$load_end" --seconds "$(($(date +%s) - began))"
if [[ -z $BATON_BENCH_ONLY ]]; then
  (cd "$out" && gnuplot "$out/plots.gp")
  echo "bench: wrote $out/results.json, $out/results.md and $(cd "$out" && ls ./*.png | tr '\n' ' ')"
else
  echo "bench: wrote $out/results.json and $out/results.md ($BATON_BENCH_ONLY)"
fi
echo "bench: $(($(date +%s) - began)) s"
