//! Result files in the format `bfcl generate` writes, written resumably.
//!
//! Each answered entry is appended as one complete JSON line
//! (`{"id", "result", "input_token_count", "output_token_count", "latency"}`), so
//! a killed run loses at most the requests in flight; a re-run reads the ids
//! already present and skips them. [`ResultFile::finish`] rewrites the file sorted
//! in dataset order, atomically.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toolgrad_core::fsutil::{append_line, write_atomic};
use toolgrad_core::jsonl::{open_for_append, JsonlError};

use crate::error::{EvalError, Result};

/// One line of a BFCL result file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResultRecord {
    pub id: String,
    /// A prompt-mode reply (string) or native tool calls (`[{name: arguments}]`).
    pub result: serde_json::Value,
    pub input_token_count: u64,
    pub output_token_count: u64,
    /// Seconds.
    pub latency: f64,
    /// Set when the request failed for good; the official evaluator ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub struct ResultFile {
    path: PathBuf,
    done: HashSet<String>,
}

impl ResultFile {
    /// Opens (or starts) a result file and reads the ids it already holds. A
    /// final line cut off by a kill is dropped; any other bad line is an error.
    pub fn open(path: &Path) -> Result<Self> {
        let mut done = HashSet::new();
        let complete = open_for_append(path).map_err(|e| match e {
            JsonlError::Io { path, source } => EvalError::io(&path, source),
            JsonlError::Line {
                path,
                line,
                message,
            } => EvalError::data(&path, line, message),
        })?;
        for (index, line) in complete
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let record: ResultRecord = serde_json::from_str(line).map_err(|e| {
                EvalError::data(path, index + 1, format!("not a result record: {e}"))
            })?;
            if record.error.is_none() {
                done.insert(record.id);
            }
        }
        Ok(Self {
            path: path.to_owned(),
            done,
        })
    }

    pub fn is_done(&self, id: &str) -> bool {
        self.done.contains(id)
    }

    pub fn append(&mut self, record: &ResultRecord) -> Result<()> {
        let line = serde_json::to_string(record).expect("records serialize");
        append_line(&self.path, &line).map_err(|e| EvalError::io(&self.path, e))?;
        if record.error.is_none() {
            self.done.insert(record.id.clone());
        }
        Ok(())
    }

    /// Rewrites the file in dataset order, keeping the last record of each id and
    /// dropping failed attempts that a later record answered. Ids that `order`
    /// lacks (a `--limit` run over a folder with a full run) keep their lines,
    /// after the ordered ones: a written answer is never dropped.
    /// A file never appended to (a shard with no entries of the category)
    /// is written empty.
    pub fn finish(&self, order: &[String]) -> Result<()> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(EvalError::io(&self.path, e)),
        };
        let mut latest: std::collections::HashMap<String, String> =
            std::collections::HashMap::new();
        let mut seen: Vec<String> = Vec::new();
        for (index, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let record: ResultRecord = serde_json::from_str(line).map_err(|e| {
                EvalError::data(&self.path, index + 1, format!("not a result record: {e}"))
            })?;
            let keep = match latest.get(&record.id) {
                Some(previous) => record.error.is_none() || previous.contains("\"error\":"),
                None => true,
            };
            if !latest.contains_key(&record.id) {
                seen.push(record.id.clone());
            }
            if keep {
                latest.insert(record.id, line.to_owned());
            }
        }
        let ordered: HashSet<&String> = order.iter().collect();
        let unlisted = seen.iter().filter(|id| !ordered.contains(id));
        let mut sorted = String::with_capacity(text.len());
        for id in order.iter().chain(unlisted) {
            if let Some(line) = latest.get(id) {
                sorted.push_str(line);
                sorted.push('\n');
            }
        }
        write_atomic(&self.path, sorted.as_bytes()).map_err(|e| EvalError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, error: Option<&str>) -> ResultRecord {
        ResultRecord {
            id: id.into(),
            result: serde_json::json!("[f(a=1)]"),
            input_token_count: 1,
            output_token_count: 2,
            latency: 0.5,
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn resumes_from_complete_lines_and_sorts_on_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("BFCL_v4_simple_python_result.json");
        let mut file = ResultFile::open(&path).unwrap();
        file.append(&record("b", None)).unwrap();
        file.append(&record("a", Some("HTTP 500"))).unwrap();
        // A kill in the middle of a write leaves a partial last line.
        std::fs::write(
            &path,
            std::fs::read_to_string(&path).unwrap() + "{\"id\": \"c\", \"res",
        )
        .unwrap();

        let mut reopened = ResultFile::open(&path).unwrap();
        assert!(reopened.is_done("b") && !reopened.is_done("a") && !reopened.is_done("c"));
        reopened.append(&record("a", None)).unwrap();
        reopened
            .finish(&["a".into(), "b".into(), "c".into()])
            .unwrap();
        let ids: Vec<String> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<ResultRecord>(l).unwrap())
            .map(|r| format!("{}{}", r.id, if r.error.is_some() { "!" } else { "" }))
            .collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn a_limited_run_keeps_every_line_already_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("BFCL_v4_simple_python_result.json");
        let mut file = ResultFile::open(&path).unwrap();
        for id in ["a", "b", "c"] {
            file.append(&record(id, None)).unwrap();
        }
        // A smoke run over the first entry only.
        file.finish(&["a".into()]).unwrap();
        let ids: Vec<String> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<ResultRecord>(l).unwrap().id)
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }
}
