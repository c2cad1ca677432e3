#!/usr/bin/env bash
# The test command (README, .ci/run): set up, check formatting, run every
# test of the workspace. Under CI=true a test that lacks root or a service
# fails instead of printing SKIPPED.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/setup.sh"
cargo fmt --all -- --check
cargo test --workspace --locked "$@"
# cgroups v2 for real: the v2 tests (and the containerizer on a v2
# hierarchy) in a qemu VM, since this machine mounts cgroups v1.
"$ROOT/scripts/cgroups-v2-vm-test.sh"
