#!/usr/bin/env bash
# Installs exactly the Debian 12 packages that Health Chain's build, tests and benchmarks need.
# Idempotent: when everything is present it only checks and returns (well under a second).
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git clang-format
  # libraries (DESIGN.md §7)
  libsodium-dev
  librocksdb-dev
  libboost1.81-dev libboost-json1.81-dev
  libprotobuf-dev protobuf-compiler
  libssl-dev openssl
  libspdlog-dev libfmt-dev
  libtomlplusplus-dev
  libcli11-dev
  libgoogle-perftools-dev  # tcmalloc for the daemon (HC_TCMALLOC)
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # scripts
  curl python3 procps
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "bootstrap: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "bootstrap: done"
