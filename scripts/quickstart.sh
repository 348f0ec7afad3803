#!/usr/bin/env bash
# The offline quickstart. Today it sets up the assets, builds toolgrad, and runs
# the BFCL scorer end to end on the two reference answer sets (the ground truth
# rendered as calls, and "[]"), which bound every model's score. Generation and
# training join this script as those stages land.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --bin toolgrad
toolgrad=target/release/toolgrad
out="${1:-out/quickstart}"
for answers in ground-truth empty; do
  "$toolgrad" eval reference --answers "$answers" --out "$out/$answers/result"
  echo "== BFCL v4 single-turn, reference answers: $answers"
  "$toolgrad" eval score --results "$out/$answers/result" --out "$out/$answers/score"
done
