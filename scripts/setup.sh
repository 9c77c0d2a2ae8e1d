#!/usr/bin/env bash
# scripts/setup.sh: installs the dependencies, then configures and builds
# baton (Release) in build/. The command lands in build/cli/baton.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "${BATON_JOBS:-2}"
echo "setup: built $(pwd)/build/cli/baton"
