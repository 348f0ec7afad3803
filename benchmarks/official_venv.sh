#!/usr/bin/env bash
# Creates a throwaway venv with the official BFCL checker (bfcl-eval 2026.3.23) and
# prints its path. The wheel is installed without its heavy extras (vllm, torch);
# only the packages its evaluator imports are added.
# Venv: $TOOLGRAD_CACHE/venvs/bfcl-official (default cache ~/.cache/toolgrad).
set -euo pipefail
cache="${TOOLGRAD_CACHE:-$HOME/.cache/toolgrad}"
venv="$cache/venvs/bfcl-official"
if [ ! -x "$venv/bin/bfcl" ]; then
  python3 -m venv "$venv"
  pip=("$venv/bin/pip" install --quiet --disable-pip-version-check)
  "${pip[@]}" --no-deps bfcl-eval==2026.3.23 qwen-agent
  "${pip[@]}" tree_sitter==0.21.3 tree-sitter-java==0.21.0 tree-sitter-javascript==0.21.4 \
    numpy==1.26.4 pandas tqdm python-dotenv filelock==3.20.0 overrides typer tabulate tenacity \
    pydantic requests openai anthropic mistralai==1.7.0 cohere==5.18.0 google-genai writer-sdk \
    boto3 huggingface_hub datamodel-code-generator==0.25.7 mpmath==1.3.0 rank_bm25==0.2.2 \
    networkx==3.3 beautifulsoup4 html2text google-search-results tiktoken json5 soundfile \
    dashscope pillow jsonschema
  "$venv/bin/python" -c "import bfcl_eval.eval_checker.eval_runner" >&2
fi
echo "$venv"
