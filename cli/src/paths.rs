//! Default locations of the offline assets the setup script fetches.

use std::path::PathBuf;

/// `$TOOLGRAD_CACHE`, else `~/.cache/toolgrad` (where `scripts/setup.sh` writes).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TOOLGRAD_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("toolgrad")
}

/// `$TOOLGRAD_BFCL_DATA`, else the `bfcl_eval/data` folder unpacked into the cache.
pub fn bfcl_data_dir() -> PathBuf {
    std::env::var_os("TOOLGRAD_BFCL_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("bfcl").join("data"))
}
