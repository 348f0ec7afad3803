//! What a run directory keeps of its config: a redacted copy (`config.toml`,
//! with every `[[tools]] env` value replaced, since those hold tokens) and a
//! hash of the settings that shape the data (`config.hash`). A resume with a
//! config whose hash differs is refused, so that one folder never mixes two
//! datasets.

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};
use toolgrad_core::fsutil::write_atomic;

use crate::config::{GenerateConfig, ToolSourceConfig};
use crate::error::{GenerateError, Result};

/// What a redacted `env` value reads.
pub const REDACTED: &str = "<redacted: pass the original with --config>";

/// Settings that change how a run goes but not what it writes: seeds to run,
/// parallelism, the cache, retries, timeouts, prices, and secrets.
const NOT_SHAPING: &[&str] = &[
    "num_seeds",
    "seed_start",
    "concurrency",
    "cache",
    "requests_per_minute",
    "max_retries",
    "timeout_s",
    "tool_timeout_s",
    "api_key_env",
    "key_env",
    "input_usd_per_million",
    "output_usd_per_million",
    "env",
];

fn strip(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !NOT_SHAPING.contains(&key.as_str()));
            map.values_mut().for_each(strip);
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

/// SHA-256 (first 16 hex digits) of the settings that shape the data.
pub fn data_hash(config: &GenerateConfig) -> String {
    let mut value = serde_json::to_value(config).unwrap_or(Value::Null);
    strip(&mut value);
    let digest = Sha256::digest(value.to_string().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The config with every `[[tools]] env` value replaced by [`REDACTED`].
pub fn redacted(config: &GenerateConfig) -> GenerateConfig {
    let mut copy = config.clone();
    for tool in &mut copy.tools {
        if let ToolSourceConfig::Mcp { env, .. } = tool {
            env.values_mut().for_each(|v| *v = REDACTED.to_owned());
        }
    }
    copy
}

/// Whether a config holds redacted values (a run directory's copy).
pub fn is_redacted(config: &GenerateConfig) -> bool {
    config.tools.iter().any(|tool| {
        matches!(tool, ToolSourceConfig::Mcp { env, .. } if env.values().any(|v| v == REDACTED))
    })
}

/// Checks `config` against the hash a run directory holds, then writes the
/// redacted copy and (on a fresh run, or with `force`) the hash.
pub fn record(config: &GenerateConfig, out: &Path, force: bool) -> Result<()> {
    let hash_path = out.join("config.hash");
    let hash = data_hash(config);
    let previous = std::fs::read_to_string(&hash_path).ok();
    if let Some(previous) = previous.as_deref().map(str::trim) {
        if previous != hash && !force {
            return Err(GenerateError::config(
                &hash_path,
                format!(
                    "{} was generated with different settings (hash {previous}, this config {hash}); \
                     resuming would mix two datasets. Use a new --out, or --force-config to resume anyway",
                    out.display()
                ),
            ));
        }
    }
    let copy_path = out.join("config.toml");
    let text = toml::to_string(&redacted(config))
        .map_err(|e| GenerateError::config(&copy_path, e.to_string()))?;
    write_atomic(&copy_path, text.as_bytes()).map_err(|e| GenerateError::io(&copy_path, e))?;
    if previous.is_none() || force {
        write_atomic(&hash_path, format!("{hash}\n").as_bytes())
            .map_err(|e| GenerateError::io(&hash_path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> GenerateConfig {
        GenerateConfig::parse(text, Path::new("t.toml")).unwrap()
    }

    const MCP: &str = "[[tools]]\nkind = \"mcp\"\nname = \"gh\"\ncommand = \"srv\"\nenv = { GITHUB_TOKEN = \"ghp_secret123\" }\n";

    #[test]
    fn the_copy_holds_no_token_and_still_parses() {
        let dir = tempfile::tempdir().unwrap();
        let original = config(&format!("num_seeds = 2\n{MCP}"));
        record(&original, dir.path(), false).unwrap();
        let copy = std::fs::read_to_string(dir.path().join("config.toml")).unwrap();
        assert!(!copy.contains("ghp_secret123"), "{copy}");
        let back = config(&copy);
        assert!(is_redacted(&back));
        assert_eq!(data_hash(&back), data_hash(&original));
    }

    #[test]
    fn a_resume_with_different_data_settings_is_refused_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        record(&config("num_seeds = 2\nnum_apis = 20\n"), dir.path(), false).unwrap();
        // More seeds and more parallelism shape nothing: the resume goes on.
        record(
            &config("num_seeds = 9\nconcurrency = 1\nnum_apis = 20\n"),
            dir.path(),
            false,
        )
        .unwrap();
        let changed = config("num_seeds = 2\nnum_apis = 30\n");
        let error = record(&changed, dir.path(), false).unwrap_err().to_string();
        assert!(error.contains("--force-config"), "{error}");
        record(&changed, dir.path(), true).unwrap();
        record(&changed, dir.path(), false).unwrap();
    }
}
