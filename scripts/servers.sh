# scripts/servers.sh: throw-away database servers for the backend tests.
# Sourced by scripts/test.sh, which calls servers_start before the tests and
# servers_stop on exit (also on failure or ^C, through a trap).
#
# Each server is a pair of functions, <name>_start and <name>_stop, that
# start it on a private port and data directory under $BATON_SERVERS_DIR and
# stop it again (stop must be safe to call when start failed half-way). The
# servers to run are listed in BATON_TEST_SERVERS (space separated; SQLite
# needs none). A started server exports the variables its tests read:
# BATON_TEST_PG_DSN (127.0.0.1:54329, database baton_test, as
# config/postgres.json says), BATON_TEST_PG_CLI_DSN (database
# baton_cli_test, for the CLI cases), BATON_TEST_REDIS_URL
# (127.0.0.1:63799, as config/redis.json says), BATON_TEST_ETCD_ENDPOINTS
# (one etcd member, http://127.0.0.1:23790, for the conformance suite) and
# BATON_TEST_ETCD_CLUSTER_ENDPOINTS (three members on 127.0.0.1:23791-23793,
# comma separated, for the fault tests; BATON_TEST_ETCD_CLUSTER_DIR is their
# directory). With CI=true a server that does not start fails the run;
# otherwise its backend's tests are skipped.
#
# Every port is a variable, so that runs beside each other do not collide:
# BATON_PG_PORT, BATON_REDIS_PORT, BATON_ETCD_PORT and BATON_ETCD_PEER_PORT
# (the single member), BATON_ETCD_CLUSTER_PORT and
# BATON_ETCD_CLUSTER_PEER_PORT (the cluster's first member; the others use
# the next two ports).

: "${BATON_TEST_SERVERS:=postgres redis etcd etcd_cluster}"
# Under the build tree, so a run leaves nothing elsewhere (see postgres_start
# for the one exception).
: "${BATON_SERVERS_DIR:=$PWD/build/test-servers}"

_servers_started=()

servers_start() {
  local s
  mkdir -p "$BATON_SERVERS_DIR"
  for s in $BATON_TEST_SERVERS; do
    echo "servers: starting $s"
    # Recorded before starting, so a half-started server is stopped too.
    _servers_started+=("$s")
    if ! "${s}_start"; then
      if [[ ${CI:-} == true ]]; then
        echo "servers: $s did not start; CI=true, so this run fails" >&2
        return 1
      fi
      echo "servers: WARNING: $s did not start; its backend's tests will be skipped" >&2
    fi
  done
}

servers_stop() {
  local i
  for ((i = ${#_servers_started[@]} - 1; i >= 0; i--)); do
    echo "servers: stopping ${_servers_started[i]}"
    "${_servers_started[i]}_stop" || echo "servers: stopping ${_servers_started[i]} failed" >&2
  done
  _servers_started=()
}

# ---- PostgreSQL -------------------------------------------------------------
# initdb + pg_ctl as the postgres user (PostgreSQL refuses to run as root),
# no fsync, loopback only, port 54329, database baton_test.
: "${BATON_PG_PORT:=54329}"
_pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
_pg_as() { if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

postgres_start() {
  local bin dir
  bin=$(_pg_bin)
  [[ -x $bin/initdb ]] || { echo "servers: no PostgreSQL server binaries under /usr/lib/postgresql" >&2; return 1; }
  dir=$BATON_SERVERS_DIR/postgres
  rm -rf "$dir"
  mkdir -p "$dir/sock"
  [[ $EUID -eq 0 ]] && chown -R postgres: "$dir"
  # The postgres user must reach the data dir through every parent; a clone
  # under a private home (/root) does not allow that: use /tmp instead.
  if ! _pg_as test -w "$dir"; then
    dir=$(mktemp -d /tmp/baton-test-postgres.XXXXXX)
    mkdir -p "$dir/sock"
    [[ $EUID -eq 0 ]] && chown -R postgres: "$dir"
    echo "servers: the build tree is not reachable by the postgres user; PostgreSQL data in $dir"
  fi
  _pg_dir=$dir
  _pg_as "$bin/initdb" -D "$dir/data" --no-sync -A trust -U postgres -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; return 1; }
  _pg_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-c fsync=off -c listen_addresses=127.0.0.1 -p $BATON_PG_PORT -k $dir/sock -c max_connections=${BATON_PG_MAX_CONNECTIONS:-400}" \
    start >/dev/null || { tail -n 20 "$dir/server.log" >&2; return 1; }
  # baton_cli_test is the CLI cases' own: they check that `baton list`
  # shows only their locks, while other tests run beside them.
  _pg_as "$bin/psql" -X -q -h 127.0.0.1 -p "$BATON_PG_PORT" -U postgres -d postgres \
    -c "CREATE DATABASE baton_test" -c "CREATE DATABASE baton_cli_test" >/dev/null || return 1
  export BATON_TEST_PG_DSN="postgresql://postgres@127.0.0.1:$BATON_PG_PORT/baton_test"
  export BATON_TEST_PG_CLI_DSN="postgresql://postgres@127.0.0.1:$BATON_PG_PORT/baton_cli_test"
  echo "servers: PostgreSQL on 127.0.0.1:$BATON_PG_PORT (data in $dir/data)"
}

postgres_stop() {
  [[ -n ${_pg_dir:-} && -d $_pg_dir/data ]] || return 0
  _pg_as "$(_pg_bin)/pg_ctl" -D "$_pg_dir/data" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
  [[ $_pg_dir == /tmp/baton-test-postgres.* ]] && rm -rf "$_pg_dir"
  unset BATON_TEST_PG_DSN BATON_TEST_PG_CLI_DSN
}

# ---- Redis ------------------------------------------------------------------
# No persistence, loopback only, port 63799, daemonized with a pidfile.
: "${BATON_REDIS_PORT:=63799}"

redis_start() {
  local dir=$BATON_SERVERS_DIR/redis i
  command -v redis-server >/dev/null || { echo "servers: redis-server is not installed" >&2; return 1; }
  rm -rf "$dir"
  mkdir -p "$dir"
  _redis_dir=$dir
  redis-server --port "$BATON_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" || return 1
  for ((i = 0; i < 100; i++)); do
    redis-cli -p "$BATON_REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  # Someone else's server on the port would answer PONG too: insist on ours.
  [[ -s $dir/redis.pid ]] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null \
    || { echo "servers: redis-server did not start (port $BATON_REDIS_PORT taken?)" >&2; tail -n 5 "$dir/redis.log" >&2; return 1; }
  export BATON_TEST_REDIS_URL="redis://127.0.0.1:$BATON_REDIS_PORT/0"
  echo "servers: Redis on 127.0.0.1:$BATON_REDIS_PORT"
}

redis_stop() {
  local pid i
  [[ -n ${_redis_dir:-} && -s $_redis_dir/redis.pid ]] || return 0
  pid=$(cat "$_redis_dir/redis.pid")
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

# ---- etcd -------------------------------------------------------------------
# etcd 3.4 members on loopback, each in a directory of its own holding its
# data (data/), its log (etcd.log), its pid (etcd.pid) and start.sh, which
# starts it again with the same arguments in a session of its own and
# returns at once; a fault test SIGKILLs, SIGSTOPs or restarts a member
# through these. A restarted member finds its data directory and rejoins
# (etcd ignores the --initial-cluster* flags then). Heartbeats every 50 ms
# and a 500 ms election timeout elect a new leader within about a second of
# losing one.
: "${BATON_ETCD_PORT:=23790}"
: "${BATON_ETCD_PEER_PORT:=23800}"
: "${BATON_ETCD_CLUSTER_PORT:=23791}"
: "${BATON_ETCD_CLUSTER_PEER_PORT:=23801}"

# _etcd_member_script DIR NAME CLIENT_PORT PEER_PORT INITIAL_CLUSTER TOKEN:
# writes DIR/start.sh for one member.
_etcd_member_script() {
  local dir=$1 name=$2 client=$3 peer=$4 initial=$5 token=$6
  mkdir -p "$dir"
  cat >"$dir/start.sh" <<EOF
#!/bin/sh
# Starts etcd member $name in the background; returns once etcd.pid holds
# its pid.
cd "$dir" || exit 1
rm -f etcd.pid
setsid sh -c 'echo \$\$ > etcd.pid; exec etcd --name $name --data-dir data \\
  --listen-client-urls http://127.0.0.1:$client --advertise-client-urls http://127.0.0.1:$client \\
  --listen-peer-urls http://127.0.0.1:$peer --initial-advertise-peer-urls http://127.0.0.1:$peer \\
  --initial-cluster $initial --initial-cluster-token $token --initial-cluster-state new \\
  --heartbeat-interval 50 --election-timeout 500 --logger zap --log-outputs stderr' \\
  >>etcd.log 2>&1 </dev/null &
i=0
while [ ! -s etcd.pid ] && [ \$i -lt 100 ]; do sleep 0.05; i=\$((i+1)); done
[ -s etcd.pid ]
EOF
  chmod +x "$dir/start.sh"
}

# _etcd_pid DIR: prints the pid of the member in DIR; fails when it does not
# run.
_etcd_pid() {
  local pid
  [[ -s $1/etcd.pid ]] || return 1
  pid=$(cat "$1/etcd.pid")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# _etcd_healthy ENDPOINTS DIR...: waits up to 20 s until every endpoint
# (comma separated) answers a quorum read, while the members of DIR... still
# run (someone else's etcd on a taken port would answer too).
_etcd_healthy() {
  local endpoints=$1 i d
  shift
  for ((i = 0; i < 100; i++)); do
    for d in "$@"; do
      if ! _etcd_pid "$d" >/dev/null; then
        echo "servers: etcd in $d exited (port taken?)" >&2
        tail -n 5 "$d/etcd.log" >&2
        return 1
      fi
    done
    ETCDCTL_API=3 etcdctl --endpoints="$endpoints" --dial-timeout=1s --command-timeout=1s \
      endpoint health >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "servers: etcd at $endpoints is not healthy after 20 s" >&2
  for d in "$@"; do tail -n 5 "$d/etcd.log" >&2; done
  return 1
}

# _etcd_kill DIR...: stops the members of DIR... (SIGCONT first, so that a
# SIGSTOPped member ends too; SIGKILL after 1 s: the data is thrown away,
# and a leader whose followers stop with it waits for them) and waits for
# them.
_etcd_kill() {
  local d pid pids=() i
  for d in "$@"; do
    pid=$(_etcd_pid "$d") || continue
    kill -CONT "$pid" 2>/dev/null
    kill -TERM "$pid" 2>/dev/null
    pids+=("$pid")
  done
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 30; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      ((i == 10)) && kill -9 "$pid" 2>/dev/null
      sleep 0.1
    done
  done
}

_etcd_installed() {
  command -v etcd >/dev/null && command -v etcdctl >/dev/null && return 0
  echo "servers: etcd or etcdctl is not installed (etcd-server, etcd-client)" >&2
  return 1
}

etcd_start() {
  local dir=$BATON_SERVERS_DIR/etcd url=http://127.0.0.1:$BATON_ETCD_PORT
  _etcd_installed || return 1
  rm -rf "$dir"
  _etcd_dir=$dir
  _etcd_member_script "$dir" single "$BATON_ETCD_PORT" "$BATON_ETCD_PEER_PORT" \
    "single=http://127.0.0.1:$BATON_ETCD_PEER_PORT" baton-test-single
  "$dir/start.sh" && _etcd_healthy "$url" "$dir" || return 1
  export BATON_TEST_ETCD_ENDPOINTS=$url
  echo "servers: etcd on 127.0.0.1:$BATON_ETCD_PORT (data in $dir/data)"
}

etcd_stop() {
  [[ -n ${_etcd_dir:-} ]] || return 0
  _etcd_kill "$_etcd_dir"
  unset BATON_TEST_ETCD_ENDPOINTS
}

etcd_cluster_start() {
  local dir=$BATON_SERVERS_DIR/etcd-cluster i initial="" endpoints="" dirs=()
  _etcd_installed || return 1
  rm -rf "$dir"
  _etcd_cluster_dir=$dir
  for i in 1 2 3; do
    initial+="${initial:+,}m$i=http://127.0.0.1:$((BATON_ETCD_CLUSTER_PEER_PORT + i - 1))"
    endpoints+="${endpoints:+,}http://127.0.0.1:$((BATON_ETCD_CLUSTER_PORT + i - 1))"
    dirs+=("$dir/m$i")
  done
  for i in 1 2 3; do
    _etcd_member_script "$dir/m$i" "m$i" "$((BATON_ETCD_CLUSTER_PORT + i - 1))" \
      "$((BATON_ETCD_CLUSTER_PEER_PORT + i - 1))" "$initial" baton-test-cluster
    "$dir/m$i/start.sh" || return 1
  done
  _etcd_healthy "$endpoints" "${dirs[@]}" || return 1
  export BATON_TEST_ETCD_CLUSTER_ENDPOINTS=$endpoints BATON_TEST_ETCD_CLUSTER_DIR=$dir
  echo "servers: etcd cluster m1..m3 on 127.0.0.1:$BATON_ETCD_CLUSTER_PORT-$((BATON_ETCD_CLUSTER_PORT + 2)) (in $dir)"
}

etcd_cluster_stop() {
  [[ -n ${_etcd_cluster_dir:-} ]] || return 0
  _etcd_kill "$_etcd_cluster_dir/m1" "$_etcd_cluster_dir/m2" "$_etcd_cluster_dir/m3"
  unset BATON_TEST_ETCD_CLUSTER_ENDPOINTS BATON_TEST_ETCD_CLUSTER_DIR
}
