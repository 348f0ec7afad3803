#!/usr/bin/env bash
# Runs the whole test suite: fetches what the tests need, then cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace --all-targets
# Every format loads unchanged with Hugging Face `datasets`, through the card
# and as plain JSON files, and renders through `apply_chat_template` as TRL's
# SFTTrainer calls it: a fresh offline run and an imported baseline, formatted.
cargo build --bin toolgrad
toolgrad=target/debug/toolgrad
venv=target/py-check
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check 'datasets==5.0.1' 'transformers==4.57.6' 'jinja2==3.1.6' 'openai==3.51.0'
check=target/format-check
rm -rf "$check"
model="${TOOLGRAD_MODEL:-${TOOLGRAD_CACHE:-$HOME/.cache/toolgrad}/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
"$toolgrad" model export --model "$model" --out "$check/tokenizer" >/dev/null
"$toolgrad" generate --config configs/generate-offline.toml --num-seeds 24 --out "$check/run" --quiet
"$toolgrad" format "$check/run" --out "$check/formatted" --config configs/format-paper.toml
"$toolgrad" format format/tests/fixtures/import/hermes.jsonl --import hermes --out "$check/hermes"
for dataset in "$check/formatted" "$check/hermes"; do
  HF_HUB_OFFLINE=1 "$venv/bin/python" scripts/check_formats.py "$dataset" --tokenizer "$check/tokenizer"
done
# The exported chat template renders tools, tool calls and tool replies exactly as
# the engine (and so training) does, through transformers' apply_chat_template.
for dataset in "$check/formatted/openai-tools/train.jsonl" "$check/formatted/agentic/train.jsonl" "$check/formatted/bfcl-python/train.jsonl"; do
  "$toolgrad" model render --model "$model" --data "$dataset" > "$check/rendered.jsonl"
  HF_HUB_OFFLINE=1 "$venv/bin/python" scripts/check_export.py "$check/tokenizer" --rendered "$check/rendered.jsonl"
done
# The official openai client against toolgrad serve on SmolLM2: tool_choice
# (required, a named function, none) and streaming with stop.
"$toolgrad" serve --model "$model" --port 0 2> "$check/serve.log" &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do grep -q "^serving on " "$check/serve.log" && break; sleep 0.2; done
"$venv/bin/python" scripts/check_serve.py "$(sed -n 's/^serving on //p' "$check/serve.log")"
kill $serve_pid
