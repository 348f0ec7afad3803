#!/usr/bin/env bash
# Training speed and peak memory, toolgrad against PyTorch (CPU, same thread
# count), on three shapes, in one run; prints the table with the ratios.
#   bash benchmarks/train/speed_vs_pytorch.sh [steps] [threads]
# The PyTorch side runs in a venv with torch, transformers and peft from PyPI
# ($TOOLGRAD_TORCH_VENV, default target/torch-venv, made when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
steps="${1:-4}"
threads="${2:-2}"
venv="${TOOLGRAD_TORCH_VENV:-target/torch-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q torch==2.15.0 transformers==4.57.6 peft==0.21.2
fi
cargo build --release --quiet -p toolgrad-benchmarks --bin train_speed
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
peak_gflops=$(python3 - "$threads" <<'PY'
import re, sys
threads = int(sys.argv[1])
flags = open("/proc/cpuinfo").read()
mhz = [float(m) for m in re.findall(r"cpu MHz\s*:\s*([\d.]+)", flags)]
ghz = (max(mhz) if mhz else 2000.0) / 1000
# fp32 FLOPs per cycle per core: two FMA units of 16 lanes with AVX-512, 8 with AVX2.
per_cycle = 64 if "avx512f" in flags else 32
print(f"{threads * ghz * per_cycle:.1f}")
PY
)
measure() {  # engine shape -> json line with peak_rss_mib added
  local engine=$1 shape=$2 out="$work/$1-$2"
  if [ "$engine" = toolgrad ]; then
    RAYON_NUM_THREADS=$threads /usr/bin/time -f "%M" -o "$out.rss" \
      target/release/train_speed "$shape" "$steps" > "$out.json" 2> "$out.log"
  else
    OMP_NUM_THREADS=$threads /usr/bin/time -f "%M" -o "$out.rss" \
      "$venv/bin/python" benchmarks/train/torch_speed.py "$shape" "$steps" "$threads" > "$out.json" 2> "$out.log"
  fi
  python3 -c "import json,sys; d=json.load(open('$out.json')); d['peak_rss_mib']=int(open('$out.rss').read().split()[-1])/1024; print(json.dumps(d))"
}
echo "steps per shape: $steps (mean of all but the first) · threads: $threads · peak: $peak_gflops GFLOP/s (fp32, assumed FMA width)"
printf '| shape | engine | s/step | tokens/s | peak RSS MiB | GFLOP/step | %% of peak | toolgrad / PyTorch |\n|---|---|---:|---:|---:|---:|---:|---:|\n'
for shape in full-135m lora-135m tiny-7m; do
  ours=$(measure toolgrad "$shape")
  theirs=$(measure pytorch "$shape")
  python3 - "$ours" "$theirs" "$peak_gflops" <<'PY'
import json, sys
ours, theirs, peak = json.loads(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3])
gflop = ours["step_gflop"]
for d in (ours, theirs):
    ratio = f'{ours["tokens_per_s"] / theirs["tokens_per_s"]:.2f}×' if d is ours else ""
    frac = 100 * gflop / d["step_s"] / peak
    print(f'| {ours["shape"]} | {d["engine"]} | {d["step_s"]:.2f} | {d["tokens_per_s"]:.1f} | {d["peak_rss_mib"]:.0f} | {gflop:.0f} | {frac:.1f} | {ratio} |')
PY
done
