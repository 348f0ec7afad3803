//! Baseline datasets → [`Sample`]s: xLAM (APIGen), ToolACE, Glaive v2, Hermes
//! function calling v1 and ToolBench answer trees, one module per format (each
//! module's top comment gives the layout it reads).
//!
//! Rules common to every importer:
//!
//! - A file is a JSON array (row *n* is element *n*, reported as line *n*), a
//!   single JSON object (one row, line 1) or JSONL (one row per non-blank line,
//!   reported by its 1-based line number). ToolBench reads one JSON object per
//!   file instead (problems name the file, line 0).
//! - Every row becomes a sample, a counted skip ([`Imported::skipped`]) or a
//!   malformed row ([`Imported::malformed`]); nothing is dropped silently and
//!   hostile input never panics. A file that cannot be read, or is neither JSON
//!   nor JSONL at all, is a [`FormatError`] naming the path.
//! - `id` is `<source>-<row id>` where the source has ids, else `<source>-<line>`.
//! - `query` is the first user message. Multi-turn sources (ToolACE, Glaive,
//!   Hermes) import the first user turn and what follows it up to the next user
//!   turn; later exchanges are not imported.
//! - `tools` keep the order given; `parameters` become JSON Schema objects
//!   (`"type": "object"`, a `properties` object, a `required` array) with
//!   Python type names (`str`, `int`, `List[int]`, `dict`, ...) mapped to JSON
//!   Schema types; a type name with no JSON Schema counterpart (`Any`,
//!   `Callable`) leaves the property untyped.
//! - `calls` are every call in order, all rounds flattened; call arguments must
//!   be a JSON object or a string holding one (`""` counts as `{}`).
//! - `chain_lengths`: one round → all ones; several rounds → one chain of all
//!   calls.
//! - `trace` is set only where the source records observations: one round per
//!   assistant call turn with the outputs that follow it. A round whose number
//!   of observations differs from its number of calls makes the row malformed.
//! - `negative` is set only for Glaive rows whose assistant answers the first
//!   user turn without calling any of the functions it has.

mod glaive;
mod hermes;
mod toolace;
mod toolbench;
mod xlam;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::error::{FormatError, Result};
use crate::sample::{Call, Function, Round, Sample, Trace};

/// A published dataset layout that [`import`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Xlam,
    Toolace,
    Glaive,
    Hermes,
    Toolbench,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Xlam,
        Format::Toolace,
        Format::Glaive,
        Format::Hermes,
        Format::Toolbench,
    ];

    /// The lower-case name, also the samples' `source`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Xlam => "xlam",
            Format::Toolace => "toolace",
            Format::Glaive => "glaive",
            Format::Hermes => "hermes",
            Format::Toolbench => "toolbench",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = FormatError;

    fn from_str(text: &str) -> Result<Self> {
        Format::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                FormatError::Invalid(format!(
                    "unknown dataset format {text:?} (expected one of {})",
                    names.join(", ")
                ))
            })
    }
}

/// A row that became no sample, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line (JSONL) or element index + 1 (JSON array); 0 for ToolBench,
    /// whose message names the file.
    pub line: usize,
    pub message: String,
}

/// What one import produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Imported {
    pub samples: Vec<Sample>,
    /// Rows (ToolBench: files) read, whatever became of them.
    pub rows: usize,
    /// Well-formed rows that hold no sample for this schema.
    pub skipped: Vec<Problem>,
    /// Rows that do not follow the format.
    pub malformed: Vec<Problem>,
}

/// Reads a dataset file (or, for ToolBench, a directory of answer files).
pub fn import(format: Format, path: &Path) -> Result<Imported> {
    match format {
        Format::Xlam => import_rows(path, xlam::row),
        Format::Toolace => import_rows(path, toolace::row),
        Format::Glaive => import_rows(path, glaive::row),
        Format::Hermes => import_rows(path, hermes::row),
        Format::Toolbench => toolbench::import(path),
    }
}

/// What one row became; `Err` is a malformed row's message.
pub(crate) type RowResult = std::result::Result<Outcome, String>;

pub(crate) enum Outcome {
    Sample(Box<Sample>),
    Skip(String),
}

impl Imported {
    pub(crate) fn record(&mut self, line: usize, result: RowResult) {
        self.rows += 1;
        match result {
            Ok(Outcome::Sample(sample)) => self.samples.push(*sample),
            Ok(Outcome::Skip(message)) => self.skipped.push(Problem { line, message }),
            Err(message) => self.malformed.push(Problem { line, message }),
        }
    }
}

fn import_rows(
    path: &Path,
    convert: fn(usize, &Map<String, Value>) -> RowResult,
) -> Result<Imported> {
    let mut imported = Imported::default();
    for (line, row) in read_rows(path)? {
        let result = match row {
            Ok(Value::Object(object)) => convert(line, &object),
            Ok(_) => Err("row is not a JSON object".to_owned()),
            Err(message) => Err(message),
        };
        imported.record(line, result);
    }
    Ok(imported)
}

/// The rows of a JSON array, single JSON object or JSONL file, each with its line.
fn read_rows(path: &Path) -> Result<Vec<(usize, std::result::Result<Value, String>)>> {
    let text = std::fs::read_to_string(path).map_err(|e| FormatError::io(path, e))?;
    let body = text.trim_start_matches('\u{feff}');
    if body.trim().is_empty() {
        return Err(FormatError::data(path, 0, "empty file: no rows"));
    }
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Array(items)) => {
            return Ok(items
                .into_iter()
                .enumerate()
                .map(|(i, item)| (i + 1, Ok(item)))
                .collect())
        }
        Ok(object @ Value::Object(_)) => return Ok(vec![(1, Ok(object))]),
        Ok(_) => {
            return Err(FormatError::data(
                path,
                1,
                "not a JSON array, object or JSONL",
            ))
        }
        Err(error) if body.trim_start().starts_with('[') => {
            return Err(FormatError::data(
                path,
                error.line(),
                format!("not a valid JSON array: {error}"),
            ))
        }
        Err(_) => {}
    }
    let mut rows = Vec::new();
    let mut parsed = 0usize;
    for (i, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row = serde_json::from_str::<Value>(line).map_err(|e| format!("invalid JSON: {e}"));
        parsed += usize::from(row.is_ok());
        rows.push((i + 1, row));
    }
    if parsed == 0 {
        return Err(FormatError::data(
            path,
            1,
            "neither JSON nor JSONL: no line parses as JSON",
        ));
    }
    Ok(rows)
}

// ---- fields ----------------------------------------------------------------

/// A required string field.
pub(crate) fn str_field<'a>(
    row: &'a Map<String, Value>,
    key: &str,
) -> std::result::Result<&'a str, String> {
    match row.get(key) {
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(format!("`{key}` is {}, not a string", kind(other))),
        None => Err(format!("no `{key}` field")),
    }
}

/// The row's own id (a string or a number), if any.
pub(crate) fn row_id(row: &Map<String, Value>) -> Option<String> {
    match row.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => Some(id.trim().to_owned()),
        Some(Value::Number(id)) => Some(id.to_string()),
        _ => None,
    }
}

pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// ---- literals --------------------------------------------------------------

/// JSON text, or failing that a Python literal (single quotes, `True`, `None`).
pub(crate) fn json_or_python(text: &str) -> Option<Value> {
    serde_json::from_str(text.trim())
        .ok()
        .or_else(|| python_literal(text))
}

/// A Python literal, read by decoding `[_(v=<literal>)]` with the BFCL decoder.
pub(crate) fn python_literal(text: &str) -> Option<Value> {
    use toolgrad_eval::decode::{python::decode_prompt_reply, Decoded};
    let source = format!("[_(v={})]", text.trim());
    match decode_prompt_reply(&source) {
        Ok(Decoded::Calls(calls)) => match calls.as_slice() {
            [call] if call.name == "_" && call.args.len() == 1 => {
                call.arg("v").map(toolgrad_eval::value::Value::to_json)
            }
            _ => None,
        },
        _ => None,
    }
}

// ---- tools -----------------------------------------------------------------

/// A candidate function from a `{name, description, parameters}` object whose
/// parameters are (roughly) JSON Schema.
pub(crate) fn function(
    object: &Map<String, Value>,
    family: String,
) -> std::result::Result<Function, String> {
    let name = match object.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_owned(),
        _ => return Err("a function has no name".to_owned()),
    };
    let description = match object.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => return Err(format!("function `{name}`: description is {}", kind(other))),
    };
    let parameters = parameters_schema(object.get("parameters"))
        .map_err(|e| format!("function `{name}`: {e}"))?;
    Ok(Function {
        name,
        description,
        parameters,
        family,
    })
}

/// A function's parameters as a JSON Schema object with `type`, `properties`
/// and `required`; missing parameters are an empty object.
pub(crate) fn parameters_schema(parameters: Option<&Value>) -> std::result::Result<Value, String> {
    let mut schema = match parameters {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(object)) => object.clone(),
        Some(other) => return Err(format!("parameters are {}, not an object", kind(other))),
    };
    match schema.get("properties") {
        None | Some(Value::Null) => {
            schema.insert("properties".to_owned(), Value::Object(Map::new()));
        }
        Some(Value::Object(_)) => {}
        Some(other) => return Err(format!("parameters.properties is {}", kind(other))),
    }
    match schema.get("required") {
        None | Some(Value::Null) => {
            schema.insert("required".to_owned(), Value::Array(Vec::new()));
        }
        Some(Value::Array(names)) if names.iter().all(Value::is_string) => {}
        Some(_) => return Err("parameters.required is not an array of names".to_owned()),
    }
    // `type` first, as JSON Schema is usually written; `dict` and the like are objects.
    let mut ordered = Map::new();
    ordered.insert("type".to_owned(), Value::from("object"));
    if let Value::Object(normalized) = normalize_schema(Value::Object(schema)) {
        for (key, value) in normalized {
            if key != "type" {
                ordered.insert(key, value);
            }
        }
    }
    Ok(Value::Object(ordered))
}

/// Maps Python / loose type names to JSON Schema types through a schema's
/// structure (`properties`, `items`, `additionalProperties`, `anyOf`, ...).
pub(crate) fn normalize_schema(schema: Value) -> Value {
    let Value::Object(mut object) = schema else {
        return schema;
    };
    if let Some(Value::String(name)) = object.get("type") {
        let mut fragment = python_type(name).schema;
        let mut merged = Map::new();
        if let Some(json_type) = fragment.remove("type") {
            merged.insert("type".to_owned(), json_type);
        }
        for (key, value) in object {
            if key != "type" {
                merged.insert(key, value);
            }
        }
        for (key, value) in fragment {
            merged.entry(key).or_insert(value);
        }
        object = merged;
    }
    for (key, value) in object.iter_mut() {
        match key.as_str() {
            "properties" | "patternProperties" | "definitions" | "$defs" => {
                if let Value::Object(children) = value {
                    for child in children.values_mut() {
                        *child = normalize_schema(std::mem::take(child));
                    }
                }
            }
            "items" | "additionalProperties" | "not" => {
                *value = match std::mem::take(value) {
                    Value::Array(items) => {
                        Value::Array(items.into_iter().map(normalize_schema).collect())
                    }
                    other => normalize_schema(other),
                };
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                if let Value::Array(items) = value {
                    for item in items.iter_mut() {
                        *item = normalize_schema(std::mem::take(item));
                    }
                }
            }
            _ => {}
        }
    }
    Value::Object(object)
}

/// A Python type annotation as a JSON Schema fragment.
pub(crate) struct PyType {
    /// `{"type": ...}`, with `items` for typed lists; empty for an unknown type.
    pub schema: Map<String, Value>,
    /// `Optional[...]` or a `", optional"` suffix.
    pub optional: bool,
}

/// Reads `str`, `int, optional`, `List[int]`, `Optional[Dict[str, Any]]`,
/// `Union[int, float]`, JSON Schema names and the like.
pub(crate) fn python_type(text: &str) -> PyType {
    let mut text = text.trim();
    let mut optional = false;
    let lower = text.to_ascii_lowercase();
    if lower.ends_with("optional") && text.contains(',') {
        if let Some((head, _)) = text.rsplit_once(',') {
            text = head.trim();
            optional = true;
        }
    }
    let (schema, inner_optional) = type_fragment(text, 0);
    PyType {
        schema,
        optional: optional || inner_optional,
    }
}

fn type_fragment(text: &str, depth: usize) -> (Map<String, Value>, bool) {
    let mut schema = Map::new();
    if depth > 16 {
        return (schema, false);
    }
    let text = text.trim();
    let (outer, args) = match text.find('[') {
        Some(open) if text.ends_with(']') => (
            &text[..open],
            split_top_level(&text[open + 1..text.len() - 1]),
        ),
        _ => (text, Vec::new()),
    };
    let outer = outer
        .trim()
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match outer.as_str() {
        "optional" => {
            let (inner, _) = args
                .first()
                .map(|a| type_fragment(a, depth + 1))
                .unwrap_or_default();
            return (inner, true);
        }
        "union" => {
            let mut types: Vec<Value> = Vec::new();
            let mut optional = false;
            for arg in &args {
                let (fragment, _) = type_fragment(arg, depth + 1);
                match fragment.get("type") {
                    Some(Value::String(name)) if name == "null" => optional = true,
                    Some(name @ Value::String(_)) if !types.contains(name) => {
                        types.push(name.clone())
                    }
                    Some(Value::String(_)) => {}
                    _ => return (Map::new(), optional),
                }
            }
            match types.len() {
                0 => {}
                1 => {
                    if let Some(only) = types.pop() {
                        schema.insert("type".to_owned(), only);
                    }
                }
                _ => {
                    schema.insert("type".to_owned(), Value::Array(types));
                }
            }
            return (schema, optional);
        }
        _ => {}
    }
    let Some(json_type) = json_type_name(&outer) else {
        return (schema, false);
    };
    schema.insert("type".to_owned(), Value::from(json_type));
    if let (true, [arg]) = (json_type == "array" && outer != "tuple", args.as_slice()) {
        let (items, _) = type_fragment(arg, depth + 1);
        if !items.is_empty() {
            schema.insert("items".to_owned(), Value::Object(items));
        }
    }
    (schema, false)
}

fn json_type_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "str" | "string" | "text" | "char" => "string",
        "int" | "integer" | "long" => "integer",
        "float" | "number" | "double" | "decimal" => "number",
        "bool" | "boolean" => "boolean",
        "list" | "array" | "tuple" | "set" | "frozenset" | "sequence" | "iterable" => "array",
        "dict" | "object" | "dictionary" | "mapping" | "map" => "object",
        "null" | "none" | "nonetype" => "null",
        _ => return None,
    })
}

/// Splits `a, Dict[b, c], d` at its top-level commas.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = text[start..].trim();
    if !last.is_empty() {
        parts.push(last);
    }
    parts
}

// ---- calls and samples -----------------------------------------------------

/// Call arguments: a JSON object, or a string holding one (`""` is `{}`).
pub(crate) fn arguments(value: Option<&Value>) -> std::result::Result<Map<String, Value>, String> {
    match value {
        Some(Value::Object(object)) => Ok(object.clone()),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(Map::new()),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(object)) => Ok(object),
            Ok(other) => Err(format!("arguments hold {}, not an object", kind(&other))),
            Err(e) => Err(format!("arguments are not valid JSON: {e}")),
        },
        Some(other) => Err(format!("arguments are {}, not an object", kind(other))),
        None => Err("a call has no arguments".to_owned()),
    }
}

/// A `{name, arguments}` object as a call.
pub(crate) fn call_object(value: &Value) -> std::result::Result<Call, String> {
    let Value::Object(object) = value else {
        return Err(format!("a call is {}, not an object", kind(value)));
    };
    let name = match object.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_owned(),
        _ => return Err("a call has no name".to_owned()),
    };
    let arguments =
        arguments(object.get("arguments")).map_err(|e| format!("call `{name}`: {e}"))?;
    Ok(Call { name, arguments })
}

/// The parts of a sample every importer fills the same way.
pub(crate) struct Draft {
    pub id: String,
    pub source: &'static str,
    pub query: String,
    pub tools: Vec<Function>,
    /// Assistant call turns, each with the observations that followed it.
    pub rounds: Vec<Round>,
    /// The final assistant text, where there is one.
    pub answer: String,
    pub negative: bool,
}

impl Draft {
    /// Flattens the rounds into calls, chains and (where observed) a trace.
    pub(crate) fn finish(self) -> RowResult {
        let observed = self
            .rounds
            .iter()
            .any(|round| !round.observations.is_empty());
        if observed {
            for (i, round) in self.rounds.iter().enumerate() {
                if round.observations.len() != round.calls.len() {
                    return Err(format!(
                        "round {}: {} call(s) but {} observation(s)",
                        i + 1,
                        round.calls.len(),
                        round.observations.len()
                    ));
                }
            }
        }
        let calls: Vec<Call> = self
            .rounds
            .iter()
            .flat_map(|r| r.calls.iter().cloned())
            .collect();
        let chain_lengths = if self.rounds.len() > 1 {
            vec![calls.len()]
        } else {
            vec![1; calls.len()]
        };
        let trace = observed.then(|| Trace {
            query: self.query.clone(),
            rounds: self.rounds,
            answer: self.answer,
        });
        Ok(Outcome::Sample(Box::new(Sample {
            id: self.id,
            source: self.source.to_owned(),
            query: self.query,
            tools: self.tools,
            calls,
            chain_lengths,
            negative: self.negative,
            trace,
        })))
    }
}
