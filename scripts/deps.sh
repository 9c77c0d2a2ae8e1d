#!/usr/bin/env bash
# scripts/deps.sh: installs everything baton needs to build and test, on
# Debian bookworm (as root, or through sudo). Idempotent: when every package
# is already installed it does nothing at all, so it also works offline.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config
  # libraries: SQLite (embedded default), PostgreSQL and Redis clients,
  # tests, JSON, command line, benchmarks
  libsqlite3-dev libpq-dev libhiredis-dev catch2 nlohmann-json3-dev libcli11-dev libbenchmark-dev
  # test servers for the PostgreSQL, Redis and etcd backends (etcdctl checks
  # the etcd members' health and drives the fault tests)
  postgresql redis-server etcd-server etcd-client
  # the etcd backend's HTTP client
  libcurl4-openssl-dev
  # tests and debugging: the CLI tests are Python, sqlite3 to look into a database
  python3 sqlite3 procps
  # fuzzing (scripts/fuzz.sh): clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "deps: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=()
if [[ "$(id -u)" != 0 ]]; then sudo=(sudo); fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
