#!/usr/bin/env bash
# The test command (README, .ci/run): set up, check formatting, run every
# test of the workspace. Under CI=true a test that lacks root or a service
# fails instead of printing SKIPPED.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/setup.sh"
# A clean clone builds once: incremental state would only take disk (the
# debug profile's line-tables-only, Cargo.toml, keeps the rest small).
if [ "${CI:-}" = true ]; then
    export CARGO_INCREMENTAL=0
fi
echo "test.sh: free disk before the build: $(df -h --output=avail . | tail -1 | tr -d ' ')"
cargo fmt --all -- --check
cargo test --workspace --locked "$@"
# cgroups v2 for real: the v2 tests (and the containerizer on a v2
# hierarchy) in a qemu VM, since this machine mounts cgroups v1.
"$ROOT/scripts/cgroups-v2-vm-test.sh"
