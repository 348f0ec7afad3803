#!/usr/bin/env bash
# Next-token logits of `toolgrad model logits` (f32 weights) on the prompts of
# benchmarks/model/prompts.json, against
#   1. an independent float64 numpy forward pass over the same GGUF (exact check),
#   2. llama.cpp on the same file (it quantises activations: a looser check).
# Usage: bash benchmarks/model/logits_check.sh [MODEL.gguf]   (run from the repo root)
set -euo pipefail
bash scripts/setup.sh
model="${1:-${TOOLGRAD_CACHE:-$HOME/.cache/toolgrad}/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
venv=$(bash benchmarks/model/reference_venv.sh)
cargo build --release --quiet --bin toolgrad
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prompts=benchmarks/model/prompts.json
./target/release/toolgrad model logits --model "$model" --prompts "$prompts" > "$work/ours.jsonl"
"$venv/bin/python" benchmarks/model/numpy_reference.py "$model" < "$work/ours.jsonl" > "$work/numpy.jsonl"
"$venv/bin/python" benchmarks/model/llama_cpp_reference.py logits "$model" "$prompts" > "$work/llama.jsonl"
echo "== toolgrad vs float64 numpy reference (tolerance: KL <= 1e-6)"
python3 benchmarks/model/compare_logits.py "$work/ours.jsonl" "$work/numpy.jsonl" 1e-6
echo "== toolgrad vs llama.cpp (tolerance: KL <= 0.05)"
python3 benchmarks/model/compare_logits.py "$work/ours.jsonl" "$work/llama.jsonl" 0.05
echo "== for scale: llama.cpp vs the float64 reference (informational)"
python3 benchmarks/model/compare_logits.py "$work/llama.jsonl" "$work/numpy.jsonl" 1e9
