#!/usr/bin/env bash
# Prefill (512 and 2,000 prompt tokens) and decode speed of SmolLM2-135M-Instruct
# Q4_1 on this machine, side by side in one run: toolgrad (burn flex, Q8 decode),
# llama.cpp (llama-cpp-python 0.3.36) and candle 0.11.1's quantized Llama, the
# latter built twice (default flags, and -C target-cpu=native). 2 threads each,
# median of RUNS runs. Prints each engine's JSON, then a table with the ratios.
# Usage: bash benchmarks/model/speed_vs_peers.sh [RUNS] [DECODE_TOKENS]   (repo root)
set -euo pipefail
runs="${1:-3}"
decode="${2:-128}"
cache="${TOOLGRAD_CACHE:-$HOME/.cache/toolgrad}"
bash scripts/setup.sh
model="$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
venv=$(bash benchmarks/model/reference_venv.sh)
cargo build --release --quiet --bin toolgrad
peer=benchmarks/model/candle_peer
echo "building the candle peer (default and native builds)" >&2
CARGO_TARGET_DIR="$cache/peers/candle-default" cargo build --release --quiet --manifest-path "$peer/Cargo.toml"
CARGO_TARGET_DIR="$cache/peers/candle-native" RUSTFLAGS="-C target-cpu=native" \
  cargo build --release --quiet --manifest-path "$peer/Cargo.toml"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export RAYON_NUM_THREADS=2
./target/release/toolgrad model bench --model "$model" --prompt-tokens 512,2000 \
  --decode-tokens "$decode" --runs "$runs" | tee "$work/toolgrad.json"
"$venv/bin/python" benchmarks/model/llama_cpp_reference.py bench "$model" 512,2000 "$decode" "$runs" \
  | tee "$work/llama.json"
"$cache/peers/candle-native/release/candle-peer" "$model" 512,2000 "$decode" "$runs" \
  | sed 's/quantized_llama"/quantized_llama, target-cpu=native"/' | tee "$work/candle-native.json"
"$cache/peers/candle-default/release/candle-peer" "$model" 512,2000 "$decode" "$runs" \
  | tee "$work/candle-default.json"
python3 - "$work" <<'PY'
import json, sys, pathlib
work = pathlib.Path(sys.argv[1])
rows = {name: json.loads((work / f"{name}.json").read_text())
        for name in ["toolgrad", "llama", "candle-native", "candle-default"]}
ours = rows["toolgrad"]
keys = ["decode_tok_s", "prefill_512_tok_s", "prefill_2000_tok_s"]
print("\n| engine | decode tok/s | prefill 512 tok/s | prefill 2,000 tok/s |")
print("|---|---:|---:|---:|")
for name, row in rows.items():
    print(f"| {row['engine']} | " + " | ".join(f"{row[k]:.1f}" for k in keys) + " |")
print("\n| toolgrad ÷ peer | decode | prefill 512 | prefill 2,000 |")
print("|---|---:|---:|---:|")
for name, row in rows.items():
    if name != "toolgrad":
        print(f"| {row['engine']} | " + " | ".join(f"{ours[k] / row[k]:.2f}×" for k in keys) + " |")
PY
