#!/usr/bin/env bash
# BFCL on the local engine, in one run: the engine one request at a time with
# no prefix reuse (the engine before batching), then with continuous batching
# and prefix reuse; with LLAMA=1 also llama.cpp's server (llama-cpp-python
# 0.3.36 `llama_cpp.server`) on the same GGUF file, entries and concurrency.
# Prints entries/s per arm, the ratios, and whether the greedy answers of the
# two toolgrad arms are identical entry by entry.
#
#   bash benchmarks/model/bfcl_batching.sh [CATEGORIES] [LIMIT] [BATCH]
#   bash benchmarks/model/bfcl_batching.sh simple_python,multiple 40 8
#   LLAMA=1 bash benchmarks/model/bfcl_batching.sh simple_python "" 8
set -euo pipefail
categories="${1:-simple_python,multiple}"
limit="${2:-}"
batch="${3:-8}"
cache="${TOOLGRAD_CACHE:-$HOME/.cache/toolgrad}"
model="${MODEL:-$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
bin="${TOOLGRAD:-target/release/toolgrad}"
work="$(mktemp -d)"
limit_arg=()
[ -n "$limit" ] && limit_arg=(--limit "$limit")
[ -f "$model" ] || { echo "no model at $model (run scripts/setup.sh)" >&2; exit 1; }

# arm NAME ENV... -- ARGS...: one eval run, timed; prints "NAME seconds entries".
arm() {
  local name="$1"; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  local start end
  start=$(date +%s.%N)
  env "${envs[@]}" "$bin" eval bfcl --categories "$categories" "${limit_arg[@]}" \
    --out "$work/$name" "$@" > "$work/$name.log" 2> "$work/$name.err"
  end=$(date +%s.%N)
  local entries
  entries=$(cat "$work/$name"/result/*.json | wc -l)
  echo "$name $(echo "$end - $start" | bc) $entries" | tee -a "$work/times.txt"
}

arm one-at-a-time TOOLGRAD_PREFIX_CACHE=0 -- --model "local:$model" --batch 1
arm batched TOOLGRAD_PREFIX_CACHE=4 -- --model "local:$model" --batch "$batch"
grep "prefix reuse" "$work/batched.err" || true

if [ "${LLAMA:-0}" = 1 ]; then
  venv="$(bash benchmarks/model/reference_venv.sh)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "llama-cpp-python[server]==0.3.36" >&2
  port=8091
  # Through the reference script, so that LLAMA_NO_EXTRA_BUFTS=1 applies to the server.
  "$venv/bin/python" benchmarks/model/llama_cpp_reference.py server "$model" --port "$port" --n_ctx 8192 \
    --n_threads "$(nproc)" > "$work/llama-server.log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null || true' EXIT
  for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$port/v1/models" > /dev/null && break
    sleep 1
  done
  cat > "$work/models.toml" <<EOF
[models.llama-cpp-server]
base_url = "http://127.0.0.1:$port/v1"
model = "local"
mode = "prompt"
concurrency = $batch
timeout_s = 600
temperature = 0.0
max_tokens = 256
EOF
  arm llama-cpp-server -- --model llama-cpp-server --config "$work/models.toml"
fi

python3 - "$work" <<'EOF'
import json, pathlib, sys
work = pathlib.Path(sys.argv[1])
times = {}
for line in (work / "times.txt").read_text().split("\n"):
    if line:
        name, seconds, entries = line.split()
        times[name] = (float(seconds), int(entries))
print("\n| arm | entries | seconds | entries/s |\n|---|---:|---:|---:|")
for name, (seconds, entries) in times.items():
    print(f"| {name} | {entries} | {seconds:.1f} | {entries / seconds:.3f} |")
rate = {n: e / s for n, (s, e) in times.items()}
for other in [n for n in rate if n != "batched"]:
    print(f"\nbatched ÷ {other}: {rate['batched'] / rate[other]:.2f}×")

def answers(arm):
    out = {}
    for path in sorted((work / arm / "result").glob("*.json")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            out[record["id"]] = record.get("result")
    return out
a, b = answers("one-at-a-time"), answers("batched")
same = sum(1 for k in a if k in b and a[k] == b[k])
print(f"\nidentical greedy answers, batched vs one at a time: {same} / {len(a)}")
diff = [k for k in a if a.get(k) != b.get(k)]
for k in diff[:5]:
    print(f"  {k}: {a.get(k)!r} vs {b.get(k)!r}")
print(f"\nrun folder: {work}")
EOF
