#!/usr/bin/env bash
# Parity of `toolgrad eval score` with the official BFCL checker, entry by entry.
#
# Usage: bash benchmarks/parity/run.sh [prompt sets] [fc sets] [seed]   (default 8 3 0)
# Each set holds one answer per entry of all 13 single-turn categories (3,641 entries).
set -euo pipefail
cd "$(dirname "$0")/../.."
prompt_sets="${1:-8}"
fc_sets="${2:-3}"
seed="${3:-0}"
source benchmarks/common.sh

judge() { # <mode> <cases dir> [toolgrad flags...]
  local mode=$1 cases=$2; shift 2
  local official_flag=(); [ "$mode" = fc ] && official_flag=(--fc)
  for set in "$cases"/set*; do
    name=$(basename "$set")
    "$venv/bin/python" benchmarks/parity/official_judge.py "$data" "$set" "$work/$mode-official/$name" "${official_flag[@]}"
    target/release/toolgrad eval score --data "$data" --results "$set" --out "$work/$mode-toolgrad/$name" "$@" >/dev/null 2>&1
  done
  mkdir -p "$work/$mode-official-all" "$work/$mode-toolgrad-all"
  for side in official toolgrad; do
    for set in "$work/$mode-$side"/set*; do
      for f in "$set"/*.verdicts.jsonl; do
        sed "s/\"id\": *\"/&$(basename "$set")\//" "$f" >> "$work/$mode-$side-all/$(basename "$f")"
      done
    done
  done
  echo "== $mode mode: $(ls -d "$cases"/set* | wc -l) sets"
  python3 benchmarks/parity/compare.py "$work/$mode-official-all" "$work/$mode-toolgrad-all"
}

status=0
python3 benchmarks/parity/make_cases.py "$data" "$work/prompt" --sets "$prompt_sets" --seed "$seed"
judge prompt "$work/prompt" || status=1
if [ "$fc_sets" -gt 0 ]; then
  python3 benchmarks/parity/make_cases.py "$data" "$work/fc" --sets "$fc_sets" --seed "$seed" --fc
  judge fc "$work/fc" --fc --underscore-to-dot || status=1
fi
echo "== requests: prompt-mode messages and FC tools vs the official handlers"
"$venv/bin/python" benchmarks/parity/prompt_check.py target/release/toolgrad "$data" || status=1
echo "== decoders on hand-written tricky replies"
"$venv/bin/python" benchmarks/parity/decoder_cases.py "$PWD" || status=1
exit $status
