#!/usr/bin/env bash
# Times `toolgrad eval score` against the official `bfcl evaluate` on the same
# result files (all 13 single-turn categories, 3,641 entries), as whole processes,
# in one run, and prints the medians and the ratio.
#
# Usage: bash benchmarks/score_vs_official.sh [runs]   (default 5 runs each)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
source benchmarks/common.sh

# One result set with right and wrong answers of every kind, in the layout bfcl expects.
python3 benchmarks/parity/make_cases.py "$data" "$work/cases" --sets 1 --seed 42
model_dir="$work/result/google_gemma-3-4b-it"
mkdir -p "$model_dir"
cp "$work"/cases/set00/*.json "$model_dir/"

export BFCL_PROJECT_ROOT="$work"
python3 - "$runs" "$work" "$data" "$venv" "$PWD" <<'PY'
import statistics, subprocess, sys, time
runs, work, data, venv, root = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
commands = {
    "toolgrad eval score": [f"{root}/target/release/toolgrad", "eval", "score", "--data", data,
                            "--results", f"{work}/result", "--out", f"{work}/score-toolgrad"],
    "bfcl evaluate (official)": [f"{venv}/bin/bfcl", "evaluate", "--model", "google/gemma-3-4b-it",
                                 "--test-category", "single_turn", "--result-dir", "result",
                                 "--score-dir", "score-official"],
}
medians = {}
for name, command in commands.items():
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=work, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    medians[name] = statistics.median(times)
    print(f"{name:28s} median {medians[name]*1000:8.1f} ms over {runs} runs (min {min(times)*1000:.1f} ms)")
ratio = medians["bfcl evaluate (official)"] / medians["toolgrad eval score"]
print(f"speed-up: {ratio:.1f}x (whole processes, 13 categories, 3,641 entries)")
PY
