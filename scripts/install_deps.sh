#!/usr/bin/env bash
# Installs the Debian packages protoot needs to build, test and compare against its peers.
# Idempotent: does nothing when everything is present. Needs root (or sudo) only to install.
set -euo pipefail
packages=(cmake g++ make ninja-build libeigen3-dev libxtensor-dev xtl-dev libxsimd-dev catch2 libbenchmark-dev
          libomp-dev clang libclang-rt-dev libopenmpi-dev openmpi-bin
          python3 python3-numpy python3-pot python3-sklearn python3-faiss
          python3-dev python3-venv python3-pytest)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "protoot: installing ${missing[*]}"
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
