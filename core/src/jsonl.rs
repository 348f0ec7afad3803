//! Append-only JSONL files that survive a kill: every record is one line
//! written whole ([`append_line`]), so a kill mid-write can only leave a final
//! line without its newline. Readers here drop that torn tail and name the
//! line of any other bad record. [`JsonlStore`] keeps keyed records in memory
//! over such a file (the LLM record/replay cache, the ToolBench response cache).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::fsutil::{append_line, write_atomic};

/// Why a JSONL file could not be read or extended.
#[derive(Debug, thiserror::Error)]
pub enum JsonlError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}:{line}: {message}", path.display())]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl JsonlError {
    fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// The complete lines of `text`: everything up to its last newline.
pub fn complete_lines(text: &str) -> &str {
    &text[..text.rfind('\n').map_or(0, |end| end + 1)]
}

/// Reads a JSONL file about to be appended to (empty when it does not exist).
/// A torn last line is cut from the file, atomically, so the next append
/// starts on a fresh line; the complete lines are returned.
pub fn open_for_append(path: &Path) -> Result<String, JsonlError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| JsonlError::io(dir, e))?;
            }
            return Ok(String::new());
        }
        Err(e) => return Err(JsonlError::io(path, e)),
    };
    let complete = complete_lines(&text);
    if complete.len() != text.len() {
        write_atomic(path, complete.as_bytes()).map_err(|e| JsonlError::io(path, e))?;
    }
    Ok(complete.to_owned())
}

/// A record with a content address.
pub trait Keyed {
    fn key(&self) -> &str;
}

/// Keyed records of one JSONL file, loaded into memory; new keys are appended.
pub struct JsonlStore<T> {
    path: PathBuf,
    entries: Mutex<HashMap<String, T>>,
}

impl<T: Keyed + Serialize + DeserializeOwned + Clone> JsonlStore<T> {
    /// Opens (or starts) the file; the last record of a key wins.
    pub fn open(path: &Path) -> Result<Self, JsonlError> {
        let text = open_for_append(path)?;
        let mut entries = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let record: T = serde_json::from_str(line).map_err(|e| JsonlError::Line {
                path: path.to_owned(),
                line: i + 1,
                message: e.to_string(),
            })?;
            entries.insert(record.key().to_owned(), record);
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
    pub fn put(&self, record: T) -> Result<(), JsonlError> {
        let line = serde_json::to_string(&record)
            .map_err(|e| JsonlError::io(&self.path, io::Error::other(e)))?;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.contains_key(record.key()) {
            return Ok(());
        }
        append_line(&self.path, &line).map_err(|e| JsonlError::io(&self.path, e))?;
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

    fn record(key: &str, value: u32) -> Record {
        Record {
            key: key.into(),
            value,
        }
    }

    #[test]
    fn a_torn_tail_is_cut_and_garbage_elsewhere_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.jsonl");
        let good = r#"{"key":"a","value":1}"#;
        // A torn tail is dropped even when what is left of it parses.
        for torn in ["{\"key\": \"b\", \"val", r#"{"key":"b","value":9}"#] {
            std::fs::write(&path, format!("{good}\n{torn}")).unwrap();
            let store = JsonlStore::<Record>::open(&path).unwrap();
            assert_eq!((store.len(), store.get("b")), (1, None));
            assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{good}\n"));
        }
        let store = JsonlStore::<Record>::open(&path).unwrap();
        store.put(record("b", 2)).unwrap();
        store.put(record("b", 3)).unwrap();
        let reopened = JsonlStore::<Record>::open(&path).unwrap();
        assert_eq!(reopened.get("b"), Some(record("b", 2)));
        assert_eq!(reopened.len(), 2);

        std::fs::write(&path, format!("garbage\n{good}\n")).unwrap();
        let error = JsonlStore::<Record>::open(&path).err().unwrap();
        assert!(error.to_string().contains("store.jsonl:1"), "{error}");
    }

    #[test]
    fn a_missing_file_starts_empty_in_a_new_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/deeper/store.jsonl");
        assert_eq!(open_for_append(&path).unwrap(), "");
        assert!(path.parent().unwrap().is_dir() && !path.exists());
        assert_eq!(complete_lines("a\nb\nc"), "a\nb\n");
        assert_eq!(complete_lines("half"), "");
    }
}
