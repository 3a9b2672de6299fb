#!/usr/bin/env bash
# The test command (README, .ci/run): installs dependencies, builds everything (library tests,
# examples, benchmarks, CUDA code when nvcc exists), runs the suite, then runs the unit tests
# once more under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
jobs=$(nproc)
# ctest runs tests side by side: idle OpenMP threads must yield the core, not spin on it.
export OMP_WAIT_POLICY=passive
# The Python that install_deps.sh provisions (Debian's: numpy, POT, scikit-learn, faiss, pytest):
# the [peers] tests and the Python package tests run with it; CI fails rather than skip them.
py=${PROTOOT_PYTHON:-/usr/bin/python3}
"$py" -c "import numpy, ot, sklearn, faiss, pytest" || {
  echo "protoot: $py lacks numpy/POT/scikit-learn/faiss/pytest (scripts/install_deps.sh; or PROTOOT_PYTHON=...)" >&2
  exit 1
}
# Ninja where installed (a build directory keeps the generator it was made with). CUDA code is
# compiled for one architecture: CI checks that it compiles and links (no GPU here); the default
# (native, or all-major without a GPU) would compile every kernel once per major architecture.
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
configure() {  # configure DIR OPTIONS...: fresh directories get Ninja, existing ones keep theirs
  local dir=$1; shift
  if [ -f "$dir/CMakeCache.txt" ]; then cmake -S . -B "$dir" "$@"; else cmake -S . -B "$dir" "${generator[@]}" "$@"; fi
}

# The tests compile at -O1 (tests/CMakeLists.txt: a third less compile time, same checks); the
# examples and benchmarks at Release's -O3.
configure build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DPROTOOT_REFERENCE_PYTHON="$py" \
  -DPROTOOT_TEST_CXX_FLAGS=-O1
cmake --build build -j "$jobs"
# A test that hangs fails after 300 s (each takes seconds) instead of stalling CI.
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 300

# The Python package (pip install . from the root, docs/python.md), built with the project's own
# CMake into a venv that sees Debian's numpy, POT and pytest, then tested against them (~1 min).
python_tests() {
  local venv=build-python/venv
  "$py" -m venv --system-site-packages "$venv"
  "$venv/bin/python" -m pip install -q --retries 2 --timeout 30 -r python/requirements-build.txt || {
    echo "protoot: cannot install python/requirements-build.txt from PyPI; the Python tests need it" >&2
    return 1
  }
  CMAKE_BUILD_PARALLEL_LEVEL="$jobs" "$venv/bin/python" -m pip install -q --no-build-isolation .
  # Any non-zero exit fails, including 5 (no tests collected).
  "$venv/bin/python" -m pytest python/tests -q -p no:cacheprovider
}
python_tests

# Eigen fills every new matrix with NaN here, so a read of uninitialised memory fails the same
# way on every machine instead of depending on what the allocator hands out. -O0 -g1: the
# sanitizers need no optimiser, and -O0 halves this build (test_losses: 29 s against 51 s at
# -O1) while the unit tests still run in seconds; -g1 keeps the line tables their reports use.
# The compile-only checks (docs snippets, -Werror warnings) run in the Release stage only.
configure build-sanitize -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1 -DEIGEN_INITIALIZE_MATRICES_BY_NAN" \
  -DPROTOOT_SANITIZE=ON -DPROTOOT_BUILD_BENCHMARKS=OFF -DPROTOOT_BUILD_EXAMPLES=OFF -DPROTOOT_CUDA=OFF \
  -DPROTOOT_REFERENCE_PYTHON="$py"
cmake --build build-sanitize -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-sanitize --output-on-failure -j "$jobs" -LE slow --timeout 300

bash tests/fuzz/run.sh build-sanitize 20  # libFuzzer smoke run of the .npy reader (clang)
