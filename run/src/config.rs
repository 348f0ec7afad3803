//! The run config (`configs/quickstart.toml` and friends): which stage
//! configs to use, stage overrides, the BFCL evaluation and the arms. Paths
//! are relative to the config file.
//!
//! ```toml
//! name = "quickstart"
//! [generate]
//! config = "generate-offline-short.toml"
//! num_seeds = 40
//! # or, for a baseline dataset: [import] path = "xlam.json", format = "xlam"
//! [format]
//! config = "format-smollm2.toml"
//! [train]
//! config = "train-quickstart.toml"
//! eval_samples = 4
//! [eval]
//! categories = ["simple_python", "multiple", "irrelevance"]
//! limit = 5
//! constrained = true
//! # [[arm]] tables replace whole sections for one arm; stages whose inputs
//! # are equal across arms run once.
//! [[arm]]
//! name = "no-gradient"
//! [arm.generate]
//! config = "generate-offline-short.toml"
//! # `set` overrides keys of the stage config (tables merge key by key); the
//! # run writes the result to `<run>/configs/<arm>-<stage>.toml`.
//! set = { policy = { selector = "random" } }
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Result, RunError};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateSection {
    /// A `toolgrad generate` config.
    pub config: PathBuf,
    pub num_seeds: Option<u64>,
    /// Keys that override the stage config's.
    #[serde(default)]
    pub set: toml::Table,
}

/// A baseline dataset a user supplies, formatted with `toolgrad format
/// --import` instead of generated.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportSection {
    /// The dataset file or folder.
    pub path: PathBuf,
    /// Its layout: xlam, toolace, glaive, hermes or toolbench.
    pub format: String,
}

/// Where an arm's workflows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Generate(GenerateSection),
    Import(ImportSection),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatSection {
    /// A `toolgrad format` config.
    pub config: PathBuf,
    /// The output format whose split the model trains on.
    #[serde(default = "bfcl_python")]
    pub split: String,
    /// Keys that override the stage config's.
    #[serde(default)]
    pub set: toml::Table,
}

fn bfcl_python() -> String {
    "bfcl-python".into()
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// A `toolgrad train` config.
    pub config: PathBuf,
    pub max_steps: Option<usize>,
    /// Evaluate the loss on the first this many test samples (default: the
    /// train config's held-out fraction of the training data).
    pub eval_samples: Option<usize>,
    /// Train on the first this many training samples (the formatter has
    /// shuffled them), so arms compare at equal sample counts.
    pub samples: Option<usize>,
    /// Keys that override the stage config's.
    #[serde(default)]
    pub set: toml::Table,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    /// BFCL single-turn categories.
    pub categories: Vec<String>,
    /// The first this many entries of each category.
    pub limit: Option<usize>,
    /// Also score every model with `--constrain`.
    #[serde(default)]
    pub constrained: bool,
    /// Also score the base model (shared by every arm).
    #[serde(default = "yes")]
    pub base: bool,
}

fn yes() -> bool {
    true
}

/// One arm: a name and the sections it replaces.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmSection {
    pub name: String,
    pub generate: Option<GenerateSection>,
    pub import: Option<ImportSection>,
    pub format: Option<FormatSection>,
    pub train: Option<TrainSection>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: String,
    generate: Option<GenerateSection>,
    import: Option<ImportSection>,
    format: FormatSection,
    train: Option<TrainSection>,
    eval: Option<EvalSection>,
    #[serde(default, rename = "arm")]
    arms: Vec<ArmSection>,
}

/// One arm with every section resolved and every path absolute.
#[derive(Debug, Clone, PartialEq)]
pub struct Arm {
    pub name: String,
    pub source: Source,
    pub format: FormatSection,
    pub train: Option<TrainSection>,
}

/// A loaded run config.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    pub path: PathBuf,
    pub name: String,
    pub arms: Vec<Arm>,
    pub eval: Option<EvalSection>,
}

/// A run or arm name becomes a folder: letters, digits, `-` and `_` only.
fn check_name(path: &Path, field: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(RunError::config(
            path,
            format!("{field} = {name:?}: use letters, digits, `-` and `_` only"),
        ))
    }
}

impl RunConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| RunError::io(path, e))?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| RunError::config(path, e.to_string()))?;
        check_name(path, "name", &raw.name)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &Path| base.join(p);
        // An arm's own `generate` or `import` wins over the top level's.
        let source = |field: &str,
                      generate: Option<&GenerateSection>,
                      import: Option<&ImportSection>|
         -> Result<Source> {
            match (generate, import) {
                (Some(_), Some(_)) => Err(RunError::config(
                    path,
                    format!("{field}: set `generate` or `import`, not both"),
                )),
                (Some(s), None) => Ok(Source::Generate(GenerateSection {
                    config: resolve(&s.config),
                    ..s.clone()
                })),
                (None, Some(s)) => Ok(Source::Import(ImportSection {
                    path: resolve(&s.path),
                    ..s.clone()
                })),
                (None, None) => Err(RunError::config(
                    path,
                    format!("{field}: no `[generate]` or `[import]` section says where the data comes from"),
                )),
            }
        };
        let format = |s: &FormatSection| FormatSection {
            config: resolve(&s.config),
            ..s.clone()
        };
        let train = |s: &TrainSection| TrainSection {
            config: resolve(&s.config),
            ..s.clone()
        };
        let mut arms = Vec::new();
        if raw.arms.is_empty() {
            arms.push(Arm {
                name: "main".into(),
                source: source("the run", raw.generate.as_ref(), raw.import.as_ref())?,
                format: format(&raw.format),
                train: raw.train.as_ref().map(train),
            });
        }
        for (i, arm) in raw.arms.iter().enumerate() {
            check_name(path, &format!("arm[{i}].name"), &arm.name)?;
            if arms.iter().any(|a: &Arm| a.name == arm.name) || arm.name == "base" {
                return Err(RunError::config(
                    path,
                    format!("arm[{i}].name = {:?} is taken", arm.name),
                ));
            }
            let (generate, import) = match (&arm.generate, &arm.import) {
                (None, None) => (raw.generate.as_ref(), raw.import.as_ref()),
                (generate, import) => (generate.as_ref(), import.as_ref()),
            };
            arms.push(Arm {
                name: arm.name.clone(),
                source: source(&format!("arm[{i}]"), generate, import)?,
                format: format(arm.format.as_ref().unwrap_or(&raw.format)),
                train: arm.train.as_ref().or(raw.train.as_ref()).map(train),
            });
        }
        if let Some(eval) = &raw.eval {
            if eval.categories.is_empty() {
                return Err(RunError::config(path, "eval.categories is empty"));
            }
        }
        Ok(Self {
            path: path.to_owned(),
            name: raw.name,
            arms,
            eval: raw.eval,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
name = "demo"
[generate]
config = "g.toml"
[format]
config = "f.toml"
[train]
config = "t.toml"
"#;

    #[test]
    fn arms_replace_sections_and_paths_resolve_next_to_the_config() {
        let text = format!(
            "{BASE}\n[[arm]]\nname = \"a\"\n[[arm]]\nname = \"b\"\n[arm.generate]\nconfig = \"other.toml\"\nnum_seeds = 3\n"
        );
        let config = RunConfig::parse(&text, Path::new("configs/run.toml")).unwrap();
        let generate = |arm: &Arm| match &arm.source {
            Source::Generate(section) => section.clone(),
            Source::Import(_) => panic!("{arm:?} imports"),
        };
        assert_eq!(config.arms.len(), 2);
        assert_eq!(
            generate(&config.arms[0]).config,
            Path::new("configs/g.toml")
        );
        assert_eq!(
            generate(&config.arms[1]).config,
            Path::new("configs/other.toml")
        );
        assert_eq!(generate(&config.arms[1]).num_seeds, Some(3));
        assert_eq!(config.arms[1].format, config.arms[0].format);
        let single = RunConfig::parse(BASE, Path::new("run.toml")).unwrap();
        assert_eq!(single.arms[0].name, "main");
    }

    #[test]
    fn an_arm_can_import_a_baseline_dataset_instead() {
        let text = format!(
            "{BASE}\n[[arm]]\nname = \"toolgrad\"\n[[arm]]\nname = \"xlam\"\n[arm.import]\npath = \"data/xlam.json\"\nformat = \"xlam\"\n"
        );
        let config = RunConfig::parse(&text, Path::new("configs/run.toml")).unwrap();
        assert!(matches!(config.arms[0].source, Source::Generate(_)));
        let Source::Import(import) = &config.arms[1].source else {
            panic!("{:?}", config.arms[1]);
        };
        assert_eq!(import.path, Path::new("configs/data/xlam.json"));
        assert_eq!(import.format, "xlam");
    }

    #[test]
    fn bad_configs_name_the_file_and_field() {
        let unknown = format!("{BASE}\nepochs = 3\n");
        let error = RunConfig::parse(&unknown, Path::new("x/run.toml")).unwrap_err();
        assert!(
            error.to_string().contains("x/run.toml") && error.to_string().contains("epochs"),
            "{error}"
        );
        let bad_name = BASE.replace("\"demo\"", "\"../up\"");
        let error = RunConfig::parse(&bad_name, Path::new("run.toml")).unwrap_err();
        assert!(error.to_string().contains("name = \"../up\""), "{error}");
        let twice = format!("{BASE}\n[[arm]]\nname = \"a\"\n[[arm]]\nname = \"a\"\n");
        let error = RunConfig::parse(&twice, Path::new("run.toml")).unwrap_err();
        assert!(error.to_string().contains("arm[1].name"), "{error}");
        let empty = format!("{BASE}\n[eval]\ncategories = []\n");
        assert!(RunConfig::parse(&empty, Path::new("run.toml")).is_err());
        let both = format!("{BASE}\n[[arm]]\nname = \"a\"\n[arm.import]\npath = \"x.jsonl\"\nformat = \"xlam\"\n[arm.generate]\nconfig = \"g.toml\"\n");
        let error = RunConfig::parse(&both, Path::new("run.toml")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("arm[0]: set `generate` or `import`"),
            "{error}"
        );
        let neither = BASE.replace("[generate]\nconfig = \"g.toml\"\n", "");
        let error = RunConfig::parse(&neither, Path::new("run.toml")).unwrap_err();
        assert!(
            error.to_string().contains("where the data comes from"),
            "{error}"
        );
    }
}
