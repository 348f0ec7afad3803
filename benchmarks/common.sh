# Shared set-up of the benchmark scripts (sourced, run from the repository root):
# fetches the BFCL data, makes the official checker's venv, builds the release
# binary, and a work directory removed on exit. Sets $data, $venv and $work.
bash scripts/setup.sh
data="${TOOLGRAD_BFCL_DATA:-${TOOLGRAD_CACHE:-$HOME/.cache/toolgrad}/bfcl/data}"
venv=$(bash benchmarks/official_venv.sh)
cargo build --release --quiet --bin toolgrad
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
