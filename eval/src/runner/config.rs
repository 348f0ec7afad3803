//! Model endpoints for `toolgrad eval bfcl`, from a TOML file:
//!
//! ```toml
//! [models.gpt-4o-mini]
//! base_url = "https://api.openai.com/v1"
//! model = "gpt-4o-mini"
//! api_key_env = "OPENAI_API_KEY"   # the key itself never goes in the file
//! mode = "prompt"                  # or "fc"
//! concurrency = 8
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toolgrad_core::llm::openai::OpenAiConfig;
use toolgrad_core::seconds::valid as seconds;

use super::{Mode, RunSettings};
use crate::error::{EvalError, Result};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    models: BTreeMap<String, EndpointConfig>,
}

/// One `[models.<name>]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    pub base_url: String,
    pub model: String,
    /// Name of the environment variable holding the API key (none for local servers).
    pub api_key_env: Option<String>,
    #[serde(default = "default_mode")]
    pub mode: Mode,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    #[serde(default = "default_timeout")]
    pub timeout_s: f64,
    #[serde(default = "default_backoff")]
    pub initial_backoff_s: f64,
    #[serde(default = "default_max_backoff")]
    pub max_backoff_s: f64,
    /// BFCL generates with 0.001 by default.
    #[serde(default = "default_temperature")]
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
}

fn default_mode() -> Mode {
    Mode::Prompt
}
fn default_concurrency() -> usize {
    8
}
fn default_retries() -> u32 {
    6
}
fn default_timeout() -> f64 {
    120.0
}
fn default_backoff() -> f64 {
    0.5
}
fn default_max_backoff() -> f64 {
    30.0
}
fn default_temperature() -> Option<f32> {
    Some(0.001)
}

fn read_config(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
    toml::from_str(&text).map_err(|e| EvalError::Config {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Reads the `[models.<name>]` table of a config file.
pub fn load_endpoint(path: &Path, name: &str) -> Result<EndpointConfig> {
    let config_error = |message: String| EvalError::Config {
        path: path.to_owned(),
        message,
    };
    let file = read_config(path)?;
    let known = file.models.keys().cloned().collect::<Vec<_>>().join(", ");
    let endpoint = file
        .models
        .get(name)
        .cloned()
        .ok_or_else(|| config_error(format!("no [models.{name}] table (defined: {known})")))?;
    let checks = [
        (endpoint.concurrency == 0, "concurrency must be at least 1"),
        (
            !seconds(endpoint.timeout_s) || endpoint.timeout_s == 0.0,
            "timeout_s must be a positive number of seconds",
        ),
        (
            !seconds(endpoint.initial_backoff_s),
            "initial_backoff_s must be a number of seconds, 0 or more",
        ),
        (
            !seconds(endpoint.max_backoff_s),
            "max_backoff_s must be a number of seconds, 0 or more",
        ),
    ];
    if let Some((_, message)) = checks.iter().find(|(bad, _)| *bad) {
        return Err(config_error(format!("models.{name}: {message}")));
    }
    Ok(endpoint)
}

impl EndpointConfig {
    /// The client config; the API key is read from the named environment variable.
    pub fn client_config(&self) -> Result<OpenAiConfig, String> {
        let api_key = match &self.api_key_env {
            Some(var) => Some(
                std::env::var(var)
                    .map_err(|_| format!("environment variable {var} (api_key_env) is not set"))?,
            ),
            None => None,
        };
        Ok(OpenAiConfig {
            base_url: self.base_url.clone(),
            model: self.model.clone(),
            api_key,
            max_retries: self.max_retries,
            initial_backoff: Duration::from_secs_f64(self.initial_backoff_s),
            max_backoff: Duration::from_secs_f64(self.max_backoff_s),
            timeout: Duration::from_secs_f64(self.timeout_s),
            concurrency: self.concurrency,
            requests_per_minute: None,
        })
    }

    pub fn run_settings(&self) -> RunSettings {
        RunSettings {
            mode: self.mode,
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            underscore_to_dot: self.mode == Mode::Fc,
            limit: None,
            constrain_calls: false,
            shard: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/bfcl-models.toml");
        let names: Vec<String> = read_config(&path).unwrap().models.into_keys().collect();
        assert!(names.len() >= 4, "{names:?}");
        for name in &names {
            let endpoint = load_endpoint(&path, name).unwrap();
            assert!(endpoint.base_url.starts_with("http"), "{name}");
        }
    }

    #[test]
    fn loads_a_model_table_and_names_bad_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.toml");
        std::fs::write(&path, "[models.local]\nbase_url = \"http://127.0.0.1:8080/v1\"\nmodel = \"m\"\nmode = \"fc\"\n").unwrap();
        let endpoint = load_endpoint(&path, "local").unwrap();
        assert_eq!(endpoint.mode, Mode::Fc);
        assert!(endpoint.run_settings().underscore_to_dot);
        let missing = load_endpoint(&path, "other").unwrap_err().to_string();
        assert!(
            missing.contains("no [models.other]") && missing.contains("local"),
            "{missing}"
        );

        std::fs::write(
            &path,
            "[models.local]\nbase_url = \"x\"\nmodel = \"m\"\nmodee = \"fc\"\n",
        )
        .unwrap();
        let typo = load_endpoint(&path, "local").unwrap_err().to_string();
        assert!(typo.contains("modee"), "{typo}");
    }
}
