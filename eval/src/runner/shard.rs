//! `eval bfcl --shard K/N` and its merge.
//!
//! Entry `i` of a category (0-based, dataset order, after `--limit`) belongs
//! to shard `i mod N + 1` ([`toolgrad_core::shard::Shard`]). A shard folder
//! holds `shard.json`: the shard and every setting that shapes the answers
//! (model name, categories, mode, sampling, limit), so that [`merge`] can
//! refuse folders of different runs, and a resume with another shard or
//! other settings is refused.
//!
//! [`merge`] joins the shards' result files in dataset order, line for line
//! as the shards wrote them, and scores them with the same options and
//! missing-entry policy as an unsharded run; the merged folder (`result/`,
//! `score/`) equals an unsharded run's except for each answer's measured
//! `latency`, which is the shard's. It is built under a hidden sibling name
//! and renamed into place.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toolgrad_core::fsutil::write_atomic;
use toolgrad_core::shard::{check_complete, Shard, StagedDir};

use super::results::ResultRecord;
use super::{result_path, Mode, RunSettings};
use crate::category::Category;
use crate::dataset::load_category;
use crate::error::{EvalError, Result};
use crate::score::{score_directory, DirectoryScore};
use crate::summary::{summarize, write_report, SummaryRow};

/// The manifest's file name inside an `eval bfcl` output folder.
pub const FILE: &str = "shard.json";

/// What `shard.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardManifest {
    pub shard: Shard,
    /// The `--model` name.
    pub model: String,
    /// The category names, in run order.
    pub categories: Vec<String>,
    pub mode: Mode,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    pub underscore_to_dot: bool,
    pub limit: Option<usize>,
    pub constrain_calls: bool,
}

impl ShardManifest {
    /// The manifest of a sharded run; `None` when `settings` has no shard.
    pub fn new(model: &str, categories: &[Category], settings: &RunSettings) -> Option<Self> {
        Some(Self {
            shard: settings.shard?,
            model: model.to_owned(),
            categories: categories.iter().map(|c| c.name().to_owned()).collect(),
            mode: settings.mode,
            temperature: settings.temperature,
            max_tokens: settings.max_tokens,
            underscore_to_dot: settings.underscore_to_dot,
            limit: settings.limit,
            constrain_calls: settings.constrain_calls,
        })
    }

    /// The settings of the whole (unsharded) run.
    fn settings(&self) -> RunSettings {
        RunSettings {
            mode: self.mode,
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            underscore_to_dot: self.underscore_to_dot,
            limit: self.limit,
            constrain_calls: self.constrain_calls,
            shard: None,
        }
    }

    /// Whether `other` is another shard of the same run.
    fn same_run(&self, other: &Self) -> bool {
        Self {
            shard: other.shard,
            ..self.clone()
        } == *other
    }

    fn categories(&self, path: &Path) -> Result<Vec<Category>> {
        self.categories
            .iter()
            .map(|name| {
                name.parse()
                    .map_err(|e: crate::category::UnknownCategory| EvalError::Results {
                        path: path.to_owned(),
                        message: e.to_string(),
                    })
            })
            .collect()
    }
}

/// The manifest in `out`, if any; a malformed one is an error naming it.
fn existing(out: &Path) -> Result<Option<ShardManifest>> {
    let path = out.join(FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| EvalError::io(&path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| EvalError::data(&path, e.line(), e.to_string()))
}

/// Checks `manifest` (this run's, `None` when unsharded) against what `out`
/// holds, then records it.
pub fn record(out: &Path, manifest: Option<&ShardManifest>) -> Result<()> {
    let path = out.join(FILE);
    let refuse = |message: String| {
        Err(EvalError::Results {
            path: path.clone(),
            message,
        })
    };
    match (existing(out)?, manifest) {
        (Some(held), Some(asked)) if held == *asked => Ok(()),
        (Some(held), _) => refuse(format!(
            "{} holds shard {} of an `eval bfcl` run with other settings; resume it with the same command and --shard {}, or use a new --out",
            out.display(),
            held.shard,
            held.shard
        )),
        (None, Some(asked)) if out.join("result").exists() => refuse(format!(
            "{} holds an unsharded run; write shard {} to a new --out",
            out.display(),
            asked.shard
        )),
        (None, Some(asked)) => {
            let text = serde_json::to_string_pretty(asked).expect("manifests serialise");
            std::fs::create_dir_all(out).map_err(|e| EvalError::io(out, e))?;
            write_atomic(&path, format!("{text}\n").as_bytes()).map_err(|e| EvalError::io(&path, e))
        }
        (None, None) => Ok(()),
    }
}

/// A merged run's scores, as `eval bfcl` reports them.
pub struct Merged {
    pub score: DirectoryScore,
    pub rows: Vec<SummaryRow>,
}

/// Joins the `eval bfcl --shard K/N` folders `dirs` (any order) into `out`
/// (`result/` and `score/`), which must not exist or be empty. `data` is the
/// BFCL data the shards ran on.
pub fn merge(dirs: &[PathBuf], data: &Path, out: &Path) -> Result<Merged> {
    let mut shards = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let manifest = existing(dir)?.ok_or_else(|| EvalError::Results {
            path: dir.join(FILE),
            message: "missing: the folder was not written by `toolgrad eval bfcl --shard K/N`"
                .into(),
        })?;
        shards.push((dir.clone(), manifest.shard, manifest));
    }
    let shards = check_complete(shards)?;
    let (first_dir, _, first) = &shards[0];
    if let Some((dir, _, _)) = shards.iter().find(|(_, _, m)| !first.same_run(m)) {
        return Err(EvalError::Results {
            path: dir.join(FILE),
            message: format!(
                "differs from {}: {} and {} are not shards of one run (same model, categories and settings)",
                first_dir.join(FILE).display(),
                dir.display(),
                first_dir.display()
            ),
        });
    }
    let settings = first.settings();
    let staged = StagedDir::new(out).map_err(|e| EvalError::io(out, e))?;
    let results = staged.path().join("result");
    for category in first.categories(&first_dir.join(FILE))? {
        let mut order: Vec<String> = load_category(data, category)?
            .into_iter()
            .map(|e| e.id)
            .collect();
        if let Some(limit) = settings.limit {
            order.truncate(limit);
        }
        let mut lines: HashMap<String, String> = HashMap::new();
        for (dir, shard, _) in &shards {
            let mine = shard.select(order.iter());
            let path = result_path(&dir.join("result"), category);
            let held = shard_lines(&path, mine.is_empty())?;
            for id in &mine {
                if !held.contains_key(id.as_str()) {
                    return Err(EvalError::Results {
                        path: path.clone(),
                        message: format!(
                            "shard {shard} has no answer for {id}; re-run its command to finish it"
                        ),
                    });
                }
            }
            if let Some(id) = held.keys().find(|id| !mine.contains(id)) {
                return Err(EvalError::Results {
                    path: path.clone(),
                    message: format!("holds {id}, which is not shard {shard}'s"),
                });
            }
            lines.extend(held);
        }
        let mut text = String::new();
        for id in &order {
            if let Some(line) = lines.get(id) {
                text.push_str(line);
                text.push('\n');
            }
        }
        let path = result_path(&results, category);
        std::fs::create_dir_all(&results).map_err(|e| EvalError::io(&results, e))?;
        write_atomic(&path, text.as_bytes()).map_err(|e| EvalError::io(&path, e))?;
    }
    let score = score_directory(data, &results, settings.score_options())?;
    let rows = summarize(&score.scores, settings.missing_policy());
    write_report(&staged.path().join("score"), &score.scores, &rows)?;
    staged.commit().map_err(|e| EvalError::io(out, e))?;
    Ok(Merged { score, rows })
}

/// Id → line of a shard's finished result file (absent: no lines, allowed
/// only when the shard has no entries of the category).
fn shard_lines(path: &Path, may_be_absent: bool) -> Result<HashMap<String, String>> {
    let mut lines = HashMap::new();
    if may_be_absent && !path.exists() {
        return Ok(lines);
    }
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
    for (index, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let record: ResultRecord = serde_json::from_str(line)
            .map_err(|e| EvalError::data(path, index + 1, format!("not a result record: {e}")))?;
        if lines.insert(record.id.clone(), line.to_owned()).is_some() {
            return Err(EvalError::data(
                path,
                index + 1,
                format!(
                    "{} is answered twice: the shard did not finish; re-run its command",
                    record.id
                ),
            ));
        }
    }
    Ok(lines)
}
