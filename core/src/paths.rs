//! Where the offline assets live: the cache that `scripts/setup.sh` fills.

use std::path::PathBuf;

/// `$TOOLGRAD_CACHE`, else `~/.cache/toolgrad`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TOOLGRAD_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("toolgrad")
}

/// `$TOOLGRAD_BFCL_DATA`, else `<cache>/bfcl/data` (the wheel's `bfcl_eval/data`).
pub fn bfcl_data_dir() -> PathBuf {
    std::env::var_os("TOOLGRAD_BFCL_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("bfcl").join("data"))
}
