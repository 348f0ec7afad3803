#!/usr/bin/env bash
# The offline quickstart. It sets up the assets, builds toolgrad, generates a
# ToolGrad dataset over the built-in tools with the rule-based role policy and
# re-verifies every step of it, formats it into SFT samples, runs the BFCL scorer end to end on the two
# reference answer sets (the ground truth rendered as calls, and "[]"), which
# bound every model's score, then runs the local model (SmolLM2-135M-Instruct on
# the burn engine) on a BFCL smoke subset, free and with constrained decoding,
# LoRA-trains it for two steps on short offline samples, and scores the trained
# model on the first entries of the same subset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --bin toolgrad
toolgrad=target/release/toolgrad
out="${1:-out/quickstart}"
echo "== generate: the ToolGrad loop, offline default (built-in tools, rule policy)"
"$toolgrad" generate --config configs/generate-offline.toml --out "$out/generate-offline"
"$toolgrad" verify "$out/generate-offline"
echo "== format: SFT samples in four formats, with a dataset card"
"$toolgrad" format "$out/generate-offline" --out "$out/sft-offline" --config configs/format-paper.toml
"$toolgrad" report dataset "$out/sft-offline"
for answers in ground-truth empty; do
  "$toolgrad" eval reference --answers "$answers" --out "$out/$answers/result"
  echo "== BFCL v4 single-turn, reference answers: $answers"
  "$toolgrad" eval score --results "$out/$answers/result" --out "$out/$answers/score"
done
for mode in free constrained; do
  flag=()
  [ "$mode" = constrained ] && flag=(--constrain)
  echo "== BFCL v4 smoke run (first 20 entries per category): local SmolLM2-135M, $mode decoding"
  "$toolgrad" eval bfcl --model local "${flag[@]}" --categories simple_python,multiple,irrelevance \
    --limit 20 --out "$out/smollm2-$mode"
done
echo "== train: a short LoRA run of SmolLM2-135M on short offline samples (BFCL format)"
"$toolgrad" generate --config configs/generate-offline-short.toml --num-seeds 40 --out "$out/generate-short" --quiet
"$toolgrad" format "$out/generate-short" --out "$out/sft-short" --config configs/format-smollm2.toml
head -n 4 "$out/sft-short/bfcl-python/test.jsonl" > "$out/sft-short/eval4.jsonl"
"$toolgrad" train --config configs/train-quickstart.toml --data "$out/sft-short/bfcl-python/train.jsonl" \
  --eval-data "$out/sft-short/eval4.jsonl" --out "$out/lora"
echo "== BFCL v4 smoke run: the LoRA-trained model, free decoding, first 5 entries (compare with smollm2-free above)"
"$toolgrad" eval bfcl --model "local:$out/lora/model" --categories simple_python,multiple,irrelevance \
  --limit 5 --out "$out/smollm2-lora-free"
