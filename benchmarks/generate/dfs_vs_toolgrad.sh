#!/usr/bin/env bash
# ToolGrad and the DFS baseline side by side on the same seeds and tools,
# every role played by the project's scripted LLM behind the mock
# OpenAI-compatible endpoint: both runs are generated, verified and reported
# with `toolgrad report generation`.
# Usage: bash benchmarks/generate/dfs_vs_toolgrad.sh [seeds=48] [out=target/dfs-vs-toolgrad]
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds=${1:-48}
out=${2:-target/dfs-vs-toolgrad}
cargo build --quiet --bin toolgrad --bin mock_llm
rm -rf "$out"
mkdir -p "$out"
./target/debug/mock_llm 0 > "$out/url" &
mock=$!
trap 'kill $mock 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$out/url" ] && break; sleep 0.1; done
# The paper's loop settings; [dfs] keeps its defaults (width 2, 6 replies per
# chain, 60 solver calls per query).
cat > "$out/run.toml" <<TOML
num_seeds = $seeds
num_apis = 50
num_proposals = 3
max_iter = 10
concurrency = 8
[policy]
proposer = "llm"
executor = "llm"
selector = "llm"
inverse = "llm"
[llm]
base_url = "$(cat "$out/url")"
model = "mock"
input_usd_per_million = 0.1
output_usd_per_million = 0.4
[[tools]]
kind = "builtin"
TOML
./target/debug/toolgrad generate --quiet --config "$out/run.toml" --out "$out/toolgrad"
./target/debug/toolgrad generate --quiet --config "$out/run.toml" --out "$out/dfs" --method dfs
./target/debug/toolgrad verify "$out/toolgrad"
./target/debug/toolgrad verify "$out/dfs"
./target/debug/toolgrad report generation "$out/toolgrad" "$out/dfs" --out "$out/report"
