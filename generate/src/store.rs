//! An append-only JSONL file of keyed records, loaded into memory: the
//! storage behind the LLM record/replay cache and the ToolBench response
//! cache. A torn last line (a kill mid-write) is dropped; a bad line elsewhere
//! is an error naming it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;
use toolgrad_core::fsutil::{append_line, write_atomic};

use crate::error::{GenerateError, Result};

/// A record with a content address.
pub trait Keyed {
    fn key(&self) -> &str;
}

pub struct JsonlStore<T> {
    path: PathBuf,
    entries: Mutex<HashMap<String, T>>,
}

impl<T: Keyed + Serialize + DeserializeOwned + Clone> JsonlStore<T> {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| GenerateError::io(dir, e))?;
        }
        let mut entries = HashMap::new();
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|e| GenerateError::io(path, e))?;
            let complete = text.is_empty() || text.ends_with('\n');
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                match serde_json::from_str::<T>(line) {
                    Ok(record) => {
                        entries.insert(record.key().to_owned(), record);
                    }
                    Err(_) if i + 1 == lines.len() && !complete => {}
                    Err(e) => return Err(GenerateError::data(path, i + 1, e.to_string())),
                }
            }
            if !complete {
                // Drop the torn tail so later appends start on a fresh line.
                let keep = text.rfind('\n').map_or(0, |i| i + 1);
                write_atomic(path, &text.as_bytes()[..keep])
                    .map_err(|e| GenerateError::io(path, e))?;
            }
        }
        Ok(Self {
            path: path.to_owned(),
            entries: Mutex::new(entries),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, key: &str) -> Option<T> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    /// Appends the record unless its key is already stored.
    pub fn put(&self, record: T) -> Result<()> {
        let line = serde_json::to_string(&record).map_err(|e| GenerateError::io(&self.path, e))?;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.contains_key(record.key()) {
            return Ok(());
        }
        append_line(&self.path, &line).map_err(|e| GenerateError::io(&self.path, e))?;
        entries.insert(record.key().to_owned(), record);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Record {
        key: String,
        value: u32,
    }

    impl Keyed for Record {
        fn key(&self) -> &str {
            &self.key
        }
    }

    #[test]
    fn a_torn_tail_is_dropped_and_garbage_elsewhere_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.jsonl");
        let good = r#"{"key":"a","value":1}"#;
        std::fs::write(&path, format!("{good}\n{{\"key\": \"b\", \"val")).unwrap();
        let store = JsonlStore::<Record>::open(&path).unwrap();
        assert_eq!(store.len(), 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{good}\n"));
        store
            .put(Record {
                key: "b".into(),
                value: 2,
            })
            .unwrap();
        store
            .put(Record {
                key: "b".into(),
                value: 3,
            })
            .unwrap();
        let reopened = JsonlStore::<Record>::open(&path).unwrap();
        assert_eq!(reopened.get("b").unwrap().value, 2);
        assert_eq!(reopened.len(), 2);

        std::fs::write(&path, format!("garbage\n{good}\n")).unwrap();
        let error = JsonlStore::<Record>::open(&path).err().unwrap();
        assert!(error.to_string().contains("store.jsonl:1"), "{error}");
    }
}
