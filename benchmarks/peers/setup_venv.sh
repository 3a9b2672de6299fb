#!/bin/bash
# Builds build-peers/venv (ignored by git) with the peers of benchmarks/compare.py pinned in
# benchmarks/peers/requirements.txt: the releases a user installs today, from PyPI. Only the
# comparison needs it; tests use Debian's packages and never PyPI.
#   bash benchmarks/peers/setup_venv.sh [VENV_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
venv=${1:-$repo/build-peers/venv}
/usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --requirement "$repo/benchmarks/peers/requirements.txt"
echo "peers installed in $venv: run $venv/bin/python benchmarks/compare.py"
