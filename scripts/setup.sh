#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh Debian 12
# machine, and checks what it cannot install. Idempotent: a second run only
# checks. Run as root (apt) from anywhere in the repository.
#
#   apt packages   python3-venv (interop venv), ca-certificates, unzip, git
#   Rust           the machine's toolchain (cargo, rustc); not fetched here
#   Python venv    .venv with pinned protobuf, pymesos, upstream mesos_pb2,
#                  and the upstream 1.11.0 descriptor oracle
#                  (scripts/setup-python.sh)
#
# Later components add their services here (ZooKeeper, docker-registry,
# busybox-static) as the issues that need them land.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { echo "setup.sh: $*"; }
die() { echo "setup.sh: error: $*" >&2; exit 1; }

APT_PACKAGES=(ca-certificates curl git unzip python3 python3-venv python3-pip)

missing=()
for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        die "missing apt packages: ${missing[*]} (run as root, or install them)"
    fi
    say "installing apt packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || die "cargo not found: install the Rust toolchain (rustup) first"
say "$(cargo --version)"

"$ROOT/scripts/setup-python.sh"
say "done"
