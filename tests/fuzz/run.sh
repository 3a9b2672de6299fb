#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) outside CMake and runs each briefly from
# its seed corpus. Usage: tests/fuzz/run.sh BUILD_DIR [SECONDS]. A crash, or one input taking
# over 10 s (a hang: max_total_time is only checked between inputs), fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$1/fuzz; seconds=${2:-20}
mkdir -p "$out"
eigen=$(pkg-config --cflags eigen3 2>/dev/null || echo -I/usr/include/eigen3)
for source in tests/fuzz/fuzz_*.cpp; do
  name=$(basename "$source" .cpp)
  clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -Iinclude $eigen "$source" -o "$out/$name"
  mkdir -p "$out/$name.corpus"
  cp tests/fuzz/corpus/* "$out/$name.corpus/"
  if ! "$out/$name" -max_total_time="$seconds" -timeout=10 -max_len=4096 "$out/$name.corpus" >"$out/$name.log" 2>&1; then
    cat "$out/$name.log"; exit 1
  fi
  echo "$name: $(tail -n 1 "$out/$name.log")"
done
