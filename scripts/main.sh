#!/usr/bin/env bash
# The main job (README): installs dependencies, builds protoot-retrieve and runs the ProtoOT
# cross-domain retrieval pipeline on the bundled default pair (results in out/retrieve/).
# Extra arguments are passed to the program (see docs/retrieval.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target retrieve
exec build/examples/protoot-retrieve "$@"
