#!/usr/bin/env bash
# The offline quickstart. It sets up the assets, builds toolgrad, runs the BFCL
# scorer end to end on the two reference answer sets (the ground truth
# rendered as calls, and "[]"), which bound every model's score, then runs the
# main job, `toolgrad run configs/quickstart.toml`: a ToolGrad dataset over the
# built-in tools with the rule-based role policy, re-verified and formatted
# into SFT samples; a short LoRA run of the local model (SmolLM2-135M-Instruct
# on the burn engine) on it; and a BFCL smoke subset scored for the base and
# the trained model, free and with constrained decoding. Every stage is cached:
# running the script again redoes nothing that is done.
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
echo "== the main job: toolgrad run configs/quickstart.toml"
"$toolgrad" run configs/quickstart.toml --out "$out/run"
"$toolgrad" report dataset "$out/run/main/format" --out "$out/run/report"
