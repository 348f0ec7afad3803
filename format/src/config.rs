//! `toolgrad format` settings (`configs/format-*.toml`); the defaults follow
//! the reference formatter, except that candidates are shuffled and a test
//! split is held out.

use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{FormatError, Result};

/// One output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    /// The paper's: BFCL prompt-mode system prompt, query, flat Python call list.
    BfclPython,
    /// `{"messages", "tools"}` with assistant `tool_calls` (TRL, fine-tuning services).
    OpenaiTools,
    /// `conversations` of `from`/`value` turns (LLaMA-Factory, Axolotl).
    Sharegpt,
    /// A multi-turn trace: calls, recorded observations, final answer.
    Agentic,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 4] = [
        OutputFormat::BfclPython,
        OutputFormat::OpenaiTools,
        OutputFormat::Sharegpt,
        OutputFormat::Agentic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::BfclPython => "bfcl-python",
            OutputFormat::OpenaiTools => "openai-tools",
            OutputFormat::Sharegpt => "sharegpt",
            OutputFormat::Agentic => "agentic",
        }
    }
}

impl FromStr for OutputFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown format `{text}` (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

/// The formatter's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FormatConfig {
    /// Which formats to write.
    pub formats: Vec<OutputFormat>,
    /// Candidates per sample: the used tools plus distractors from the catalog.
    pub num_tools: usize,
    /// The fewest candidates a sample may list. Unset, every sample lists
    /// `num_tools`; set lower, each sample's count is drawn between the two
    /// (and never below the tools it calls), so that some prompts list only
    /// the functions they call, as BFCL's simple and parallel entries do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_tools: Option<usize>,
    /// The chance that a positive sample's distractor comes from the family
    /// of a tool the sample calls (a related function it must leave
    /// uncalled, as in BFCL's `multiple`) rather than from the whole catalog.
    /// 0 (the reference formatter's behaviour) draws every distractor from
    /// the whole catalog.
    #[serde(skip_serializing_if = "is_zero")]
    pub near_distractors: f64,
    /// Irrelevance samples per positive sample.
    pub negative_ratio: f64,
    /// Share of workflows held out as the test split.
    pub test_ratio: f64,
    /// Seeds the split, the negatives and every candidate shuffle.
    pub seed: u64,
    /// Tool and parameter descriptions are cut to this many characters.
    pub description_cap: usize,
    /// The agentic format's answer to an irrelevance sample.
    pub refusal: String,
}

impl Default for FormatConfig {
    fn default() -> Self {
        Self {
            formats: OutputFormat::ALL.to_vec(),
            num_tools: 10,
            min_tools: None,
            near_distractors: 0.0,
            negative_ratio: 0.2,
            test_ratio: 0.1,
            seed: 42,
            description_cap: 256,
            refusal: "None of the available functions can help with this request.".into(),
        }
    }
}

impl FormatConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| FormatError::io(path, e))?;
        let config: Self = toml::from_str(&text).map_err(|e| FormatError::Config {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.check().map_err(|message| FormatError::Config {
            path: path.to_owned(),
            message,
        })?;
        Ok(config)
    }

    /// Range checks; the message names the field.
    pub fn check(&self) -> Result<(), String> {
        if self.formats.is_empty() {
            return Err("`formats` is empty".into());
        }
        if !(1..=1000).contains(&self.num_tools) {
            return Err("`num_tools` must be between 1 and 1000".into());
        }
        if let Some(min) = self.min_tools {
            if !(1..=self.num_tools).contains(&min) {
                return Err(format!(
                    "`min_tools` must be between 1 and `num_tools` ({}), not {min}",
                    self.num_tools
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.near_distractors) {
            return Err(format!(
                "`near_distractors` must be between 0 and 1, not {}",
                self.near_distractors
            ));
        }
        if !(0.0..=10.0).contains(&self.negative_ratio) {
            return Err("`negative_ratio` must be between 0 and 10".into());
        }
        if !(0.0..1.0).contains(&self.test_ratio) {
            return Err("`test_ratio` must be at least 0 and below 1".into());
        }
        if self.description_cap == 0 {
            return Err("`description_cap` must be at least 1".into());
        }
        Ok(())
    }

    /// How many candidates one sample lists: `num_tools`, or a count drawn
    /// from `min_tools..=num_tools` when that range is wider than one.
    pub fn candidate_count(&self, rng: &mut impl rand::Rng) -> usize {
        match self.min_tools {
            Some(min) if min < self.num_tools => rng.random_range(min..=self.num_tools),
            _ => self.num_tools,
        }
    }

    /// SHA-256 of the settings, for the dataset card.
    pub fn hash(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        let digest = Sha256::digest(text.as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

fn is_zero(value: &f64) -> bool {
    *value == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_counts_span_min_tools_to_num_tools() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let fixed = FormatConfig {
            num_tools: 3,
            ..FormatConfig::default()
        };
        assert!((0..50).all(|_| fixed.candidate_count(&mut rng) == 3));
        let ranged = FormatConfig {
            min_tools: Some(1),
            ..fixed.clone()
        };
        let counts: std::collections::BTreeSet<usize> =
            (0..200).map(|_| ranged.candidate_count(&mut rng)).collect();
        assert_eq!(counts.into_iter().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(
            fixed.hash(),
            FormatConfig {
                min_tools: None,
                ..fixed.clone()
            }
            .hash()
        );
        assert_ne!(fixed.hash(), ranged.hash());
        let error = FormatConfig {
            min_tools: Some(4),
            ..fixed
        }
        .check()
        .unwrap_err();
        assert!(
            error.contains("min_tools") && error.contains('4'),
            "{error}"
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(&path, "num_tool = 3\n").unwrap();
        let error = FormatConfig::load(&path).unwrap_err().to_string();
        assert!(error.contains("num_tool"), "{error}");
        std::fs::write(&path, "test_ratio = 1.5\n").unwrap();
        let error = FormatConfig::load(&path).unwrap_err().to_string();
        assert!(error.contains("test_ratio"), "{error}");
        std::fs::write(&path, "formats = [\"xml\"]\n").unwrap();
        assert!(FormatConfig::load(&path).is_err());
        std::fs::write(&path, "formats = [\"agentic\"]\nseed = 7\n").unwrap();
        let config = FormatConfig::load(&path).unwrap();
        assert_eq!(config.formats, vec![OutputFormat::Agentic]);
        assert_ne!(config.hash(), FormatConfig::default().hash());
    }
}
