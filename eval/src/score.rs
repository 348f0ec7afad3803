//! Scoring BFCL result files: one verdict per result line, per-category counts.
//!
//! A result file is JSON Lines `{"id", "result", ...}` as `bfcl generate` writes
//! it. Each entry is decoded (by the category's language for prompt replies, or
//! as native tool calls) and judged like `eval_runner.py` judges it. Ids missing
//! from a result file are counted as missing; unknown or repeated ids and
//! malformed lines are errors naming the file and line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::category::{Category, Judge, Language, OTHER_BFCL_CATEGORIES};
use crate::checker::{check_calls, CheckOptions};
use crate::dataset::{load_category, Entry};
use crate::decode::{decode_result, Decoded, ResultFormat};
use crate::error::{EvalError, Result};

/// The judgement of one result line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verdict {
    pub id: String,
    pub valid: bool,
    pub error_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Verdict {
    fn pass(id: &str) -> Self {
        Verdict {
            id: id.to_owned(),
            valid: true,
            error_type: None,
            error: None,
        }
    }

    fn fail(id: &str, error_type: &str, error: impl Into<String>) -> Self {
        Verdict {
            id: id.to_owned(),
            valid: false,
            error_type: Some(error_type.to_owned()),
            error: Some(error.into()),
        }
    }
}

/// How results are decoded and checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScoreOptions {
    pub format: ResultFormat,
    pub check: CheckOptions,
}

/// Judges one raw `result` value against a dataset entry.
pub fn judge_entry(
    category: Category,
    entry: &Entry,
    result: &serde_json::Value,
    options: ScoreOptions,
) -> Verdict {
    let id = entry.id.as_str();
    match category.judge() {
        Judge::Irrelevance | Judge::Relevance => {
            let contains_call = match decode_result(result, Language::Python, options.format) {
                Ok(decoded) => !decoded.is_empty_output(),
                Err(_) => false,
            };
            match (category.judge(), contains_call) {
                (Judge::Irrelevance, false) | (Judge::Relevance, true) => Verdict::pass(id),
                (Judge::Irrelevance, true) => Verdict::fail(
                    id,
                    "irrelevance_error:decoder_success",
                    "Valid syntax. Successfully decode AST when it should not.",
                ),
                _ => Verdict::fail(
                    id,
                    "relevance_error:decoder_failed",
                    "Invalid syntax. Failed to decode AST when it should have.",
                ),
            }
        }
        Judge::Ast => match decode_result(result, category.language(), options.format) {
            Err(e) => Verdict::fail(
                id,
                "ast_decoder:decoder_failed",
                format!("Invalid syntax. Failed to decode AST. {e}"),
            ),
            Ok(Decoded::WrongFormat) => Verdict::fail(
                id,
                "ast_decoder:decoder_wrong_output_format",
                "Did not output in the specified format.",
            ),
            Ok(Decoded::Calls(calls)) => match check_calls(
                category.ast_checker(),
                &entry.functions,
                &calls,
                &entry.ground_truth,
                category.language(),
                options.check,
            ) {
                Ok(()) => Verdict::pass(id),
                Err(failure) => Verdict::fail(id, failure.error_type, failure.message),
            },
        },
    }
}

/// One line of a result file, as far as scoring needs it.
#[derive(Debug, Deserialize)]
pub struct ResultLine {
    pub id: String,
    pub result: serde_json::Value,
}

/// The verdicts of one category and the ids it lacked.
#[derive(Debug, Clone)]
pub struct CategoryScore {
    pub category: Category,
    pub verdicts: Vec<Verdict>,
    /// Dataset ids with no result line.
    pub missing: Vec<String>,
    /// Entries in the dataset.
    pub total: usize,
}

impl CategoryScore {
    pub fn correct(&self) -> usize {
        self.verdicts.iter().filter(|v| v.valid).count()
    }
}

/// Reads a result file; every line must be a JSON object with `id` and `result`.
pub fn read_result_file(path: &Path) -> Result<Vec<(usize, ResultLine)>> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str::<ResultLine>(line)
                .map(|parsed| (index + 1, parsed))
                .map_err(|e| {
                    EvalError::data(
                        path,
                        index + 1,
                        format!("not a result line ({{\"id\", \"result\"}}): {e}"),
                    )
                })
        })
        .collect()
}

/// Scores one category's result lines against its dataset entries.
pub fn score_lines(
    category: Category,
    entries: &[Entry],
    lines: &[(usize, ResultLine)],
    results_path: &Path,
    options: ScoreOptions,
) -> Result<CategoryScore> {
    let index: HashMap<&str, &Entry> = entries.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(lines.len());
    for (line_number, line) in lines {
        if !index.contains_key(line.id.as_str()) {
            return Err(EvalError::data(
                results_path,
                *line_number,
                format!("id `{}` is not in the {category} dataset", line.id),
            ));
        }
        if let Some(first) = seen.insert(line.id.as_str(), *line_number) {
            return Err(EvalError::data(
                results_path,
                *line_number,
                format!("id `{}` appears again (first on line {first})", line.id),
            ));
        }
    }
    let verdicts = lines
        .par_iter()
        .map(|(_, line)| judge_entry(category, index[line.id.as_str()], &line.result, options))
        .collect();
    let missing = entries
        .iter()
        .filter(|e| !seen.contains_key(e.id.as_str()))
        .map(|e| e.id.clone())
        .collect();
    Ok(CategoryScore {
        category,
        verdicts,
        missing,
        total: entries.len(),
    })
}

/// The result files found under a directory.
#[derive(Debug, Default)]
pub struct ResultFiles {
    /// Single-turn result files, one per category, in category order.
    pub single_turn: Vec<(Category, PathBuf)>,
    /// Result files of other BFCL categories (multi-turn, agentic), not scored here.
    pub other_bfcl: Vec<PathBuf>,
}

/// Finds `BFCL_v4_<category>_result.json` files anywhere under a directory. A file
/// named for a category BFCL does not have is an error.
pub fn find_result_files(results_dir: &Path) -> Result<ResultFiles> {
    let mut files = ResultFiles::default();
    let mut pending = vec![results_dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let read = std::fs::read_dir(&dir).map_err(|e| EvalError::io(&dir, e))?;
        for item in read {
            let path = item.map_err(|e| EvalError::io(&dir, e))?.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let category = match Category::from_result_file_name(name) {
                None => continue,
                Some(Ok(category)) => category,
                Some(Err(unknown)) if OTHER_BFCL_CATEGORIES.contains(&unknown.0.as_str()) => {
                    files.other_bfcl.push(path);
                    continue;
                }
                Some(Err(unknown)) => {
                    return Err(EvalError::Results {
                        path,
                        message: unknown.to_string(),
                    });
                }
            };
            if let Some((_, other)) = files.single_turn.iter().find(|(c, _)| *c == category) {
                return Err(EvalError::Results {
                    path: path.clone(),
                    message: format!(
                        "a second result file for {category} (first: {})",
                        other.display()
                    ),
                });
            }
            files.single_turn.push((category, path));
        }
    }
    files.single_turn.sort_by_key(|(category, _)| *category);
    files.other_bfcl.sort();
    Ok(files)
}

/// What scoring a directory produced.
#[derive(Debug)]
pub struct DirectoryScore {
    pub scores: Vec<CategoryScore>,
    /// Result files of BFCL categories outside single-turn, left unscored.
    pub skipped: Vec<PathBuf>,
}

/// Scores every single-turn result file found under `results_dir`.
pub fn score_directory(
    data_dir: &Path,
    results_dir: &Path,
    options: ScoreOptions,
) -> Result<DirectoryScore> {
    let files = find_result_files(results_dir)?;
    if files.single_turn.is_empty() {
        return Err(EvalError::Results {
            path: results_dir.to_owned(),
            message: "no single-turn BFCL_v4_<category>_result.json files found".into(),
        });
    }
    let scores = files
        .single_turn
        .par_iter()
        .map(|(category, path)| {
            let entries = load_category(data_dir, *category)?;
            let lines = read_result_file(path)?;
            score_lines(*category, &entries, &lines, path, options)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DirectoryScore {
        scores,
        skipped: files.other_bfcl,
    })
}
