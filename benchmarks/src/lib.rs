//! Shared helpers of the toolgrad benchmarks (see `benches/` and the scripts in
//! this folder, which run peers side by side and print ratios).

use std::path::PathBuf;

/// The BFCL data directory `scripts/setup.sh` fills; panics with the fix if absent.
pub fn bfcl_data_dir() -> PathBuf {
    let dir = toolgrad_core::paths::bfcl_data_dir();
    if let Err(error) = toolgrad_eval::dataset::require_data_dir(&dir) {
        panic!("{error}");
    }
    dir
}
