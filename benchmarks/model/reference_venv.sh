#!/usr/bin/env bash
# Creates a throwaway venv with the model references and prints its path:
# llama-cpp-python 0.3.36 (compiles llama.cpp from the sdist: several minutes the
# first time) and the `gguf` reader 0.19.0 with numpy, for the float64 reference.
# Venv: $TOOLGRAD_CACHE/venvs/model-reference (default cache ~/.cache/toolgrad).
set -euo pipefail
cache="${TOOLGRAD_CACHE:-$HOME/.cache/toolgrad}"
venv="$cache/venvs/model-reference"
if ! "$venv/bin/python" -c "import llama_cpp, gguf, numpy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    llama-cpp-python==0.3.36 gguf==0.19.0 numpy >&2
fi
echo "$venv"
