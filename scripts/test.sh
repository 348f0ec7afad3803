#!/usr/bin/env bash
# Runs the whole test suite: fetches what the tests need, then cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace --all-targets
# Every format loads unchanged with Hugging Face `datasets`, through the card
# and as plain JSON files: a fresh offline run, formatted.
cargo build --bin toolgrad
venv=target/py-check
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check 'datasets==5.0.1'
check=target/format-check
rm -rf "$check"
target/debug/toolgrad generate --config configs/generate-offline.toml --num-seeds 24 --out "$check/run" --quiet
target/debug/toolgrad format "$check/run" --out "$check/formatted" --config configs/format-paper.toml
"$venv/bin/python" scripts/check_formats.py "$check/formatted"
