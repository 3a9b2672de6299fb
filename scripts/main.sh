#!/usr/bin/env bash
# The main job (README): installs dependencies, builds the example programs and runs the
# quick-start solve. Extra arguments are passed to the program.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target quickstart
exec build/examples/protoot-quickstart "$@"
