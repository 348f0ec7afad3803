//! Loading BFCL question and possible-answer files (JSON Lines despite `.json`).
//!
//! Questions live in `<data>/BFCL_v4_<category>.json`, ground truth in
//! `<data>/possible_answer/BFCL_v4_<category>.json`. Answer lines are aligned with
//! question lines by position, as the official evaluator aligns them; a mismatch
//! of ids or counts is an error naming both files.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::category::{Category, Judge};
use crate::error::{EvalError, Result};
use crate::value::Value;

/// One test entry with its functions and, for AST categories, its ground truth.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    /// Turns of chat messages; single-turn entries have exactly one turn.
    pub question: Vec<Vec<Message>>,
    pub functions: Vec<FunctionDoc>,
    /// The function docs exactly as in the file, for building prompts.
    pub functions_json: Vec<serde_json::Value>,
    /// Expected calls; empty for relevance and irrelevance entries.
    pub ground_truth: Vec<ExpectedCall>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// The parts of a function doc the checker reads.
#[derive(Debug, Clone)]
pub struct FunctionDoc {
    pub name: String,
    pub properties: Vec<(String, ParamDoc)>,
    pub required: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ParamDoc {
    pub ty: String,
    /// `items.type` for array-like parameters.
    pub items_type: Option<String>,
}

impl FunctionDoc {
    pub fn param(&self, name: &str) -> Option<&ParamDoc> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
    }
}

/// One expected call: a function name and, per parameter, the value of the ground
/// truth (a list of acceptable values; `""` among them means "may be omitted").
#[derive(Debug, Clone)]
pub struct ExpectedCall {
    pub name: String,
    pub params: Vec<(String, Value)>,
}

#[derive(Deserialize)]
struct RawQuestion {
    id: String,
    question: Vec<Vec<Message>>,
    function: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawAnswer {
    id: String,
    ground_truth: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct RawDoc {
    name: String,
    #[serde(default)]
    parameters: RawParameters,
}

#[derive(Deserialize, Default)]
struct RawParameters {
    #[serde(default)]
    properties: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    required: Vec<String>,
}

/// Checks that a directory holds BFCL data, with the fix in the error.
pub fn require_data_dir(dir: &Path) -> Result<()> {
    if dir.join("possible_answer").is_dir() {
        return Ok(());
    }
    Err(EvalError::MissingData {
        path: dir.to_owned(),
    })
}

/// Paths of one category's files under a BFCL data directory.
pub fn question_path(data_dir: &Path, category: Category) -> PathBuf {
    data_dir.join(category.data_file_name())
}

pub fn answer_path(data_dir: &Path, category: Category) -> PathBuf {
    data_dir
        .join("possible_answer")
        .join(category.data_file_name())
}

/// Loads every entry of a category, with ground truth for AST categories.
pub fn load_category(data_dir: &Path, category: Category) -> Result<Vec<Entry>> {
    let questions_file = question_path(data_dir, category);
    let questions: Vec<RawQuestion> = read_json_lines(&questions_file)?;
    let mut entries = Vec::with_capacity(questions.len());
    for (index, raw) in questions.into_iter().enumerate() {
        let functions = raw
            .function
            .iter()
            .map(parse_doc)
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(|message| EvalError::data(&questions_file, index + 1, message))?;
        entries.push(Entry {
            id: raw.id,
            question: raw.question,
            functions,
            functions_json: raw.function,
            ground_truth: Vec::new(),
        });
    }
    if category.judge() == Judge::Ast {
        attach_ground_truth(data_dir, category, &mut entries)?;
    }
    Ok(entries)
}

fn attach_ground_truth(data_dir: &Path, category: Category, entries: &mut [Entry]) -> Result<()> {
    let answers_file = answer_path(data_dir, category);
    let answers: Vec<RawAnswer> = read_json_lines(&answers_file)?;
    if answers.len() != entries.len() {
        return Err(EvalError::Mismatch(format!(
            "{} has {} entries but {} has {}",
            question_path(data_dir, category).display(),
            entries.len(),
            answers_file.display(),
            answers.len()
        )));
    }
    for (index, (entry, answer)) in entries.iter_mut().zip(answers).enumerate() {
        if entry.id != answer.id {
            return Err(EvalError::data(
                &answers_file,
                index + 1,
                format!(
                    "id `{}` does not match question id `{}` on the same line",
                    answer.id, entry.id
                ),
            ));
        }
        entry.ground_truth = answer
            .ground_truth
            .iter()
            .map(parse_expected_call)
            .collect::<std::result::Result<_, _>>()
            .map_err(|message| EvalError::data(&answers_file, index + 1, message))?;
    }
    Ok(())
}

fn parse_doc(json: &serde_json::Value) -> std::result::Result<FunctionDoc, String> {
    let raw = RawDoc::deserialize(json).map_err(|e| format!("bad function doc: {e}"))?;
    let properties = raw
        .parameters
        .properties
        .into_iter()
        .map(|(name, schema)| {
            let ty = schema
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("string")
                .to_owned();
            let items_type = schema
                .get("items")
                .and_then(|items| items.get("type"))
                .and_then(|t| t.as_str())
                .map(str::to_owned);
            (name, ParamDoc { ty, items_type })
        })
        .collect();
    Ok(FunctionDoc {
        name: raw.name,
        properties,
        required: raw.parameters.required,
    })
}

impl ExpectedCall {
    /// One ground-truth call, `{"name": {"param": [acceptable values]}}`.
    pub fn from_json(call: &serde_json::Value) -> std::result::Result<Self, String> {
        let object = call
            .as_object()
            .ok_or("a ground-truth call must be an object")?;
        parse_expected_call(object)
    }
}

fn parse_expected_call(
    call: &serde_json::Map<String, serde_json::Value>,
) -> std::result::Result<ExpectedCall, String> {
    let (name, params) = match (call.len(), call.iter().next()) {
        (1, Some(entry)) => entry,
        _ => return Err("each ground-truth call must be an object with one function name".into()),
    };
    let params = params
        .as_object()
        .ok_or_else(|| format!("ground-truth arguments of `{name}` are not an object"))?;
    Ok(ExpectedCall {
        name: name.clone(),
        params: params
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v)))
            .collect(),
    })
}

/// Reads a JSON Lines file; blank lines are skipped, a bad line is an error naming it.
pub fn read_json_lines<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_owned(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|e| EvalError::data(path, index + 1, e.to_string()))
        })
        .collect()
}
