#!/usr/bin/env bash
# Runs the whole test suite: fetches what the tests need, then cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace --all-targets
