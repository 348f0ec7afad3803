//! The stages a run config asks for, in dependency order, each with its
//! folder, its `toolgrad` command line and its content key: a SHA-256 over the
//! stage's settings, the bytes of the config files it reads, the base model
//! file and its inputs' keys. Arms share a stage whose key is equal. A stage
//! section with `set` runs on a derived config that the run writes under
//! `<run>/configs/`; its key covers the derived text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::{Arm, EvalSection, GenerateSection, RunConfig, Source};
use crate::error::{Result, RunError};

/// A stage's kind, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Generate,
    Verify,
    Format,
    Train,
    Eval,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Generate,
        Kind::Verify,
        Kind::Format,
        Kind::Train,
        Kind::Eval,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Generate => "generate",
            Kind::Verify => "verify",
            Kind::Format => "format",
            Kind::Train => "train",
            Kind::Eval => "eval",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A file a stage writes into its folder before its command runs: the first
/// `lines` lines of `from` (a held-out slice of another stage's output).
#[derive(Debug, Clone, PartialEq)]
pub struct HeadFile {
    pub from: PathBuf,
    pub to: PathBuf,
    pub lines: usize,
}

/// A stage config with a section's `set` merged in, written before the
/// stage runs.
#[derive(Debug, Clone, PartialEq)]
pub struct DerivedConfig {
    pub path: PathBuf,
    pub text: String,
}

/// Merges `set` into `table`: tables key by key, anything else replaced.
fn merge(table: &mut toml::Table, set: &toml::Table) {
    for (key, value) in set {
        match (table.get_mut(key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(over)) => merge(inner, over),
            _ => {
                table.insert(key.clone(), value.clone());
            }
        }
    }
}

/// What an eval stage scores, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// `base` or the arm's name.
    pub model: String,
    pub constrained: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// `<arm>/<kind>` (or `base/eval-free`): also its folder under the run.
    pub id: String,
    pub kind: Kind,
    pub dir: PathBuf,
    /// The `toolgrad` arguments that run it.
    pub argv: Vec<String>,
    pub key: String,
    pub deps: Vec<usize>,
    /// Files cut from other stages' outputs before the command runs.
    pub head: Vec<HeadFile>,
    pub derived: Option<DerivedConfig>,
    /// The model file it reads (train and eval), for provenance.
    pub model: Option<PathBuf>,
    pub scored: Option<Scored>,
}

/// Every stage of a run, dependencies first.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub root: PathBuf,
    pub stages: Vec<Stage>,
}

/// SHA-256 of a file's bytes, as hex.
pub fn file_hash(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| RunError::io(path, e))?;
    Ok(hex(&Sha256::digest(&bytes)))
}

/// SHA-256 over a file, or over every file under a folder (relative names
/// and bytes, in name order), as hex.
pub fn tree_hash(path: &Path) -> Result<String> {
    if !path.is_dir() {
        return file_hash(path);
    }
    let mut files = Vec::new();
    let mut pending = vec![path.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| RunError::io(&dir, e))? {
            let entry = entry.map_err(|e| RunError::io(&dir, e))?;
            let child = entry.path();
            if child.is_dir() {
                pending.push(child);
            } else {
                files.push(child);
            }
        }
    }
    files.sort();
    let mut key = Key(Sha256::new());
    for file in &files {
        let name = file.strip_prefix(path).unwrap_or(file).to_string_lossy();
        key.part(&name, &file_hash(file)?);
    }
    Ok(key.finish())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds a key from labelled parts.
struct Key(Sha256);

impl Key {
    fn new(kind: Kind) -> Self {
        let mut key = Key(Sha256::new());
        key.part("kind", kind.name());
        key.part("toolgrad", env!("CARGO_PKG_VERSION"));
        key
    }

    fn part(&mut self, label: &str, value: &str) -> &mut Self {
        for text in [label, value] {
            self.0.update((text.len() as u64).to_le_bytes());
            self.0.update(text.as_bytes());
        }
        self
    }

    fn finish(self) -> String {
        hex(&self.0.finalize())
    }
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

struct Builder<'a> {
    root: PathBuf,
    config: &'a RunConfig,
    stages: Vec<Stage>,
    by_key: HashMap<String, usize>,
}

impl Builder<'_> {
    /// Adds a stage unless one with the same key exists; returns its index.
    fn add(&mut self, stage: Stage) -> usize {
        if let Some(&index) = self.by_key.get(&stage.key) {
            return index;
        }
        self.by_key.insert(stage.key.clone(), self.stages.len());
        self.stages.push(stage);
        self.stages.len() - 1
    }

    /// The config a stage runs on: its hash, the path to pass, and the
    /// derived file to write when `set` is not empty.
    fn stage_config(
        &self,
        path: &Path,
        set: &toml::Table,
        field: &str,
        derived_name: &str,
    ) -> Result<(String, PathBuf, Option<DerivedConfig>)> {
        let fail = |e: &dyn std::fmt::Display| {
            RunError::config(
                &self.config.path,
                format!("{field} = {}: {e}", path.display()),
            )
        };
        if set.is_empty() {
            let hash = file_hash(path).map_err(|e| fail(&e))?;
            return Ok((hash, path.to_owned(), None));
        }
        let text = std::fs::read_to_string(path).map_err(|e| fail(&e))?;
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| fail(&e))?;
        merge(&mut table, set);
        let merged = toml::to_string(&table).map_err(|e| fail(&e))?;
        let text = format!(
            "# Written by toolgrad run: {} with the run config's `set` merged in.\n{merged}",
            path.display()
        );
        let hash = hex(&Sha256::digest(text.as_bytes()));
        let derived = self
            .root
            .join("configs")
            .join(format!("{derived_name}.toml"));
        Ok((
            hash,
            derived.clone(),
            Some(DerivedConfig {
                path: derived,
                text,
            }),
        ))
    }

    fn stage(&self, arm: &str, kind: Kind, suffix: &str) -> (String, PathBuf) {
        let id = format!("{arm}/{}{suffix}", kind.name());
        let dir = self.root.join(&id);
        (id, dir)
    }

    /// The generate and verify stages of a generated arm: the generate
    /// stage's key, its folder and its index.
    fn generated(
        &mut self,
        arm: &str,
        section: &GenerateSection,
    ) -> Result<(String, PathBuf, usize)> {
        let (generate_hash, generate_config, derived) = self.stage_config(
            &section.config,
            &section.set,
            "generate.config",
            &format!("{arm}-generate"),
        )?;
        let mut key = Key::new(Kind::Generate);
        key.part("config", &generate_hash);
        let seeds = section.num_seeds.map(|n| n.to_string());
        key.part("num_seeds", seeds.as_deref().unwrap_or("-"));
        let (id, dir) = self.stage(arm, Kind::Generate, "");
        let mut argv = vec![
            "generate".into(),
            "--config".into(),
            path_arg(&generate_config),
            "--out".into(),
            path_arg(&dir),
            "--quiet".into(),
        ];
        if let Some(n) = &seeds {
            argv.extend(["--num-seeds".into(), n.clone()]);
        }
        let generate = self.add(Stage {
            id,
            kind: Kind::Generate,
            dir,
            argv,
            key: key.finish(),
            deps: Vec::new(),
            head: Vec::new(),
            derived,
            model: None,
            scored: None,
        });
        let generated = self.stages[generate].dir.clone();
        let mut key = Key::new(Kind::Verify);
        key.part("input", &self.stages[generate].key);
        let (id, dir) = self.stage(arm, Kind::Verify, "");
        self.add(Stage {
            id,
            kind: Kind::Verify,
            dir,
            argv: vec!["verify".into(), path_arg(&generated)],
            key: key.finish(),
            deps: vec![generate],
            head: Vec::new(),
            derived: None,
            model: None,
            scored: None,
        });
        Ok((self.stages[generate].key.clone(), generated, generate))
    }

    fn arm(
        &mut self,
        arm: &Arm,
        model: &Path,
        model_hash: &str,
        eval: Option<&EvalSection>,
    ) -> Result<()> {
        let (input_key, input, deps, import) = match &arm.source {
            Source::Generate(section) => {
                let (key, dir, generate) = self.generated(&arm.name, section)?;
                (key, dir, vec![generate], None)
            }
            Source::Import(section) => {
                let hash = tree_hash(&section.path).map_err(|e| {
                    RunError::config(
                        &self.config.path,
                        format!("import.path = {}: {e}", section.path.display()),
                    )
                })?;
                let mut key = Key::new(Kind::Format);
                key.part("import", &section.format).part("data", &hash);
                (
                    key.finish(),
                    section.path.clone(),
                    Vec::new(),
                    Some(section.format.clone()),
                )
            }
        };

        let (format_hash, format_config, derived) = self.stage_config(
            &arm.format.config,
            &arm.format.set,
            "format.config",
            &format!("{}-format", arm.name),
        )?;
        let mut key = Key::new(Kind::Format);
        key.part("input", &input_key).part("config", &format_hash);
        let (id, dir) = self.stage(&arm.name, Kind::Format, "");
        let mut argv = vec![
            "format".into(),
            path_arg(&input),
            "--out".into(),
            path_arg(&dir),
            "--config".into(),
            path_arg(&format_config),
        ];
        if let Some(format) = import {
            argv.extend(["--import".into(), format]);
        }
        let format = self.add(Stage {
            id,
            kind: Kind::Format,
            argv,
            dir,
            key: key.finish(),
            deps,
            head: Vec::new(),
            derived,
            model: None,
            scored: None,
        });
        let Some(train) = &arm.train else {
            return Ok(());
        };
        let split = self.stages[format].dir.join(&arm.format.split);
        let (train_hash, train_config, derived) = self.stage_config(
            &train.config,
            &train.set,
            "train.config",
            &format!("{}-train", arm.name),
        )?;
        let mut key = Key::new(Kind::Train);
        key.part("input", &self.stages[format].key)
            .part("split", &arm.format.split)
            .part("config", &train_hash)
            .part("model", model_hash)
            .part("max_steps", &format!("{:?}", train.max_steps))
            .part("eval_samples", &format!("{:?}", train.eval_samples))
            .part("samples", &format!("{:?}", train.samples));
        let (id, dir) = self.stage(&arm.name, Kind::Train, "");
        let mut head = Vec::new();
        let data = match train.samples {
            Some(lines) => {
                let to = dir.join("train-samples.jsonl");
                head.push(HeadFile {
                    from: split.join("train.jsonl"),
                    to: to.clone(),
                    lines,
                });
                to
            }
            None => split.join("train.jsonl"),
        };
        let mut argv = vec![
            "train".into(),
            "--config".into(),
            path_arg(&train_config),
            "--data".into(),
            path_arg(&data),
            "--model".into(),
            path_arg(model),
            "--out".into(),
            path_arg(&dir),
        ];
        if let Some(n) = train.max_steps {
            argv.extend(["--max-steps".into(), n.to_string()]);
        }
        if let Some(lines) = train.eval_samples {
            let to = dir.join("eval.jsonl");
            argv.extend(["--eval-data".into(), path_arg(&to)]);
            head.push(HeadFile {
                from: split.join("test.jsonl"),
                to,
                lines,
            });
        }
        let trained = self.add(Stage {
            id,
            kind: Kind::Train,
            argv,
            dir,
            key: key.finish(),
            deps: vec![format],
            head,
            derived,
            model: Some(model.to_owned()),
            scored: None,
        });
        if let Some(eval) = eval {
            let model_dir = self.stages[trained].dir.join("model");
            let input = self.stages[trained].key.clone();
            self.evals(&arm.name, &model_dir, &input, vec![trained], eval);
        }
        Ok(())
    }

    /// One eval stage per decoding mode for a model.
    fn evals(
        &mut self,
        name: &str,
        model: &Path,
        model_key: &str,
        deps: Vec<usize>,
        eval: &EvalSection,
    ) {
        let modes: &[bool] = if eval.constrained {
            &[false, true]
        } else {
            &[false]
        };
        for &constrained in modes {
            let mode = if constrained { "-constrained" } else { "-free" };
            let mut key = Key::new(Kind::Eval);
            key.part("model", model_key)
                .part("categories", &eval.categories.join(","))
                .part("limit", &format!("{:?}", eval.limit))
                .part("constrained", &constrained.to_string());
            let (id, dir) = self.stage(name, Kind::Eval, mode);
            let mut argv = vec![
                "eval".into(),
                "bfcl".into(),
                "--model".into(),
                format!("local:{}", model.display()),
                "--categories".into(),
                eval.categories.join(","),
                "--out".into(),
                path_arg(&dir),
            ];
            if let Some(limit) = eval.limit {
                argv.extend(["--limit".into(), limit.to_string()]);
            }
            if constrained {
                argv.push("--constrain".into());
            }
            self.add(Stage {
                id,
                kind: Kind::Eval,
                dir,
                argv,
                key: key.finish(),
                deps: deps.clone(),
                head: Vec::new(),
                derived: None,
                model: Some(model.to_owned()),
                scored: Some(Scored {
                    model: name.to_owned(),
                    constrained,
                }),
            });
        }
    }
}

impl Plan {
    /// The run's stages under `root` (`runs/<name>` by default); `model` is
    /// the base model file.
    pub fn new(config: &RunConfig, root: &Path, model: &Path) -> Result<Plan> {
        let needs_model = config.eval.is_some() || config.arms.iter().any(|a| a.train.is_some());
        let model_hash = if needs_model {
            file_hash(model)?
        } else {
            String::new()
        };
        let mut builder = Builder {
            root: root.to_owned(),
            config,
            stages: Vec::new(),
            by_key: HashMap::new(),
        };
        if let Some(eval) = config.eval.as_ref().filter(|e| e.base) {
            builder.evals("base", model, &model_hash, Vec::new(), eval);
        }
        for arm in &config.arms {
            builder.arm(arm, model, &model_hash, config.eval.as_ref())?;
        }
        Ok(Plan {
            root: root.to_owned(),
            stages: builder.stages,
        })
    }

    /// Stages of `kind` and every stage that depends on them.
    pub fn downstream_of(&self, kind: Kind) -> Vec<bool> {
        let mut marked: Vec<bool> = self.stages.iter().map(|s| s.kind == kind).collect();
        for i in 0..self.stages.len() {
            if self.stages[i].deps.iter().any(|&d| marked[d]) {
                marked[i] = true;
            }
        }
        marked
    }
}
