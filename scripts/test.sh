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
