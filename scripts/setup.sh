#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh Debian 12
# machine, and checks what it cannot install. Idempotent: a second run only
# checks. Run as root (apt) from anywhere in the repository.
#
#   apt packages   python3-venv (interop venv), ca-certificates, unzip, git;
#                  docker-registry (Docker Distribution 2.8: the provisioner
#                  tests start their own on loopback), apache2-utils
#                  (htpasswd for its Basic auth), busybox-static (the test
#                  images' one binary), linux-perf (`perf stat`, which the
#                  cgroups/perf_event isolator samples with);
#                  for the cgroups v2 VM test (scripts/cgroups-v2-vm-test.sh):
#                  cpio, busybox-static, and qemu-system-x86 from
#                  bookworm-backports (the image's qemu-utils comes from
#                  there; bookworm's own qemu would replace it)
#   Rust           the machine's toolchain (cargo, rustc); not fetched here
#   Python venv    .venv with pinned protobuf, pymesos, upstream mesos_pb2,
#                  Apache's CLI from PyPI (avmesos-cli) and the upstream
#                  1.11.0 descriptor oracle
#                  (scripts/setup-python.sh)
#
# Later components add their services here (ZooKeeper) as the issues that
# need them land.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { echo "setup.sh: $*"; }
die() { echo "setup.sh: error: $*" >&2; exit 1; }

APT_PACKAGES=(ca-certificates curl git unzip python3 python3-venv python3-pip
              docker-registry apache2-utils busybox-static linux-perf)

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

# The cgroups v2 VM test: qemu from bookworm-backports, beside the
# preinstalled qemu-utils of the same origin.
VM_PACKAGES=(cpio busybox-static)
vm_missing=()
for package in "${VM_PACKAGES[@]}" qemu-system-x86; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || vm_missing+=("$package")
done
if [ "${#vm_missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        die "missing apt packages: ${vm_missing[*]} (run as root, or install them)"
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-cache policy 2>/dev/null | grep -q bookworm-backports; then
        say "adding bookworm-backports (for qemu-system-x86)"
        cat > /etc/apt/sources.list.d/bookworm-backports.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    fi
    say "installing the VM test's packages: ${vm_missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${VM_PACKAGES[@]}" >/dev/null
    apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null
fi

command -v cargo >/dev/null || die "cargo not found: install the Rust toolchain (rustup) first"
say "$(cargo --version)"

"$ROOT/scripts/setup-python.sh"
say "done"
