#!/usr/bin/env bash
# Generation throughput against a mock OpenAI-compatible endpoint with a fixed
# latency per call: measured samples/s versus the bound
#   concurrency / (LLM calls per sample x latency),
# with the LLM-backed policy for every role and the built-in tools.
# Usage: bash benchmarks/generate/throughput.sh [latency_ms=200] [concurrency=16] [seeds=96]
set -euo pipefail
cd "$(dirname "$0")/../.."
latency_ms=${1:-200}
concurrency=${2:-16}
seeds=${3:-96}
cargo build --release --quiet --bin toolgrad --bin mock_llm
work=$(mktemp -d)
./target/release/mock_llm "$latency_ms" > "$work/url" &
mock=$!
trap 'kill $mock 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
cat > "$work/run.toml" <<TOML
num_seeds = $seeds
num_apis = 50
num_proposals = 3
max_iter = 3
concurrency = $concurrency
[policy]
proposer = "llm"
executor = "llm"
selector = "llm"
inverse = "llm"
[llm]
base_url = "$(cat "$work/url")"
model = "mock"
concurrency = $concurrency
[cache]
mode = "off"
[[tools]]
kind = "builtin"
TOML
./target/release/toolgrad generate --quiet --config "$work/run.toml" --out "$work/out"
python3 - "$work/out/summary.json" "$latency_ms" "$concurrency" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
latency, concurrency = float(sys.argv[2]) / 1000, int(sys.argv[3])
samples = summary["accepted"] + summary["failed"]
calls = summary["llm_calls_per_sample"]
measured = samples / summary["wall_time_s"]
bound = concurrency / (calls * latency)
print(f"seeds {samples}, accepted {summary['accepted']}, LLM calls per sample {calls:.2f}, "
      f"tool calls {summary['tool_calls']}, wall {summary['wall_time_s']:.2f} s")
print(f"throughput {measured:.3f} samples/s, bound {bound:.3f} samples/s "
      f"(concurrency {concurrency} / ({calls:.2f} calls x {latency * 1000:.0f} ms)): ratio {measured / bound:.3f}")
PY
