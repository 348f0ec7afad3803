//! Shared helpers of the toolgrad benchmarks (see `benches/` and the scripts in
//! this folder, which run peers side by side and print ratios).

use std::path::PathBuf;

/// The BFCL data directory `scripts/setup.sh` fills (`$TOOLGRAD_BFCL_DATA` overrides).
pub fn bfcl_data_dir() -> PathBuf {
    let dir = std::env::var_os("TOOLGRAD_BFCL_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("TOOLGRAD_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                        .join(".cache/toolgrad")
                });
            cache.join("bfcl/data")
        });
    assert!(
        dir.join("possible_answer").is_dir(),
        "BFCL data not found at {}: run scripts/setup.sh",
        dir.display()
    );
    dir
}
