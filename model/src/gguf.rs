//! Reading GGUF files: metadata and tensor directory through `gguf-rs`, tensor
//! bytes through a memory map, with every offset and size checked against the file.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use gguf_rs::{ByteOrder, GGUFContainer};
use memmap2::Mmap;
use serde_json::Value;

use crate::error::{ModelError, Result};
use crate::gguf_scan::check_tensor_types;
use crate::quant::{self, GgmlType};

/// The most entries a `tokenizer.*` array may have (real vocabularies hold
/// 32k–260k tokens); a larger claim is cut there, then refused by the
/// tokenizer's own checks.
const MAX_TOKENIZER_ARRAY: u64 = 4_000_000;

const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// Where one tensor lives in the file, and how it is stored.
#[derive(Debug, Clone)]
pub struct TensorEntry {
    pub kind: GgmlType,
    /// Row-major dimensions (outermost first), i.e. GGUF's `ne` reversed.
    pub shape: Vec<usize>,
    start: usize,
    len: usize,
}

/// An open GGUF file.
pub struct GgufFile {
    path: PathBuf,
    metadata: BTreeMap<String, Value>,
    tensors: HashMap<String, Result<TensorEntry, String>>,
    map: Mmap,
}

impl GgufFile {
    pub fn open(path: &Path) -> Result<Self> {
        let bad = |message: String| ModelError::Gguf {
            path: path.to_path_buf(),
            message,
        };
        let mut file = std::fs::File::open(path).map_err(|e| ModelError::io(path, e))?;
        let mut magic = [0u8; 4];
        file.read_exact(&mut magic)
            .map_err(|_| bad("shorter than the 4-byte magic".into()))?;
        if &magic != GGUF_MAGIC {
            return Err(bad(format!("bad magic {magic:02x?}, expected \"GGUF\"")));
        }
        // SAFETY: the map is read-only and the file is not modified while open;
        // a concurrent truncation by another process is outside our control, as
        // for every mmap-based model loader.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| ModelError::io(path, e))?;
        check_tensor_types(&map).map_err(|e| bad(format!("header: {e}")))?;
        let reader = BufReader::with_capacity(1 << 20, file);
        // Tokenizer arrays longer than any real vocabulary are not read in full.
        // The scan above removes the one panic known in gguf-rs; should the
        // crate panic on another input, the file is refused all the same.
        let decoded = std::panic::catch_unwind(move || {
            GGUFContainer::new(ByteOrder::LE, Box::new(reader), MAX_TOKENIZER_ARRAY).decode()
        });
        let model = match decoded {
            Ok(decoded) => decoded.map_err(|e| bad(format!("header: {e}")))?,
            Err(_) => return Err(bad("header: the GGUF reader gave up on it".into())),
        };
        let data_offset = model.data_offset() as usize;
        let mut tensors = HashMap::new();
        for t in model.tensors() {
            let entry = (|| {
                let kind = GgmlType::from_id(t.kind)?;
                let shape: Vec<usize> = t.shape.iter().rev().map(|&d| d as usize).collect();
                let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
                let len = count
                    .and_then(|n| kind.byte_len(n))
                    .ok_or_else(|| format!("shape {shape:?} does not fit {kind:?} blocks"))?;
                let start = data_offset
                    .checked_add(t.offset as usize)
                    .filter(|s| s.checked_add(len).is_some_and(|end| end <= map.len()))
                    .ok_or_else(|| {
                        format!(
                            "data at offset {} + {len} bytes lies past the end of the file ({} bytes): truncated?",
                            t.offset,
                            map.len()
                        )
                    })?;
                Ok(TensorEntry {
                    kind,
                    shape,
                    start,
                    len,
                })
            })();
            tensors.insert(t.name.clone(), entry);
        }
        Ok(Self {
            path: path.to_path_buf(),
            metadata: model.metadata().clone(),
            tensors,
            map,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn metadata(&self, key: &str) -> Option<&Value> {
        self.metadata.get(key)
    }

    fn field_error(&self, field: &str, message: impl Into<String>) -> ModelError {
        ModelError::Config {
            path: self.path.clone(),
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn require_str(&self, key: &str) -> Result<&str> {
        self.metadata(key)
            .and_then(Value::as_str)
            .ok_or_else(|| self.field_error(key, "missing or not a string"))
    }

    pub fn require_usize(&self, key: &str) -> Result<usize> {
        self.metadata(key)
            .and_then(Value::as_u64)
            .map(|v| v as usize)
            .ok_or_else(|| self.field_error(key, "missing or not an unsigned integer"))
    }

    pub fn optional_f64(&self, key: &str) -> Result<Option<f64>> {
        match self.metadata(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.field_error(key, "not a number")),
        }
    }

    pub fn string_array(&self, key: &str) -> Result<Vec<String>> {
        let values = self
            .metadata(key)
            .and_then(Value::as_array)
            .ok_or_else(|| self.field_error(key, "missing or not an array"))?;
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.field_error(&format!("{key}[{i}]"), "not a string"))
            })
            .collect()
    }

    pub fn tensor_entry(&self, name: &str) -> Result<&TensorEntry> {
        match self.tensors.get(name) {
            Some(Ok(entry)) => Ok(entry),
            Some(Err(message)) => Err(self.tensor_error(name, message.clone())),
            None => Err(self.tensor_error(name, "missing from the file".into())),
        }
    }

    fn tensor_error(&self, name: &str, message: String) -> ModelError {
        ModelError::Tensor {
            path: self.path.clone(),
            tensor: name.into(),
            message,
        }
    }

    /// Dequantises a tensor to `f32`, checking its shape against `expected`.
    pub fn tensor_f32(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>> {
        let entry = self.tensor_entry(name)?;
        if entry.shape != expected {
            return Err(self.tensor_error(
                name,
                format!("shape {:?}, expected {expected:?}", entry.shape),
            ));
        }
        let mut out = vec![0f32; expected.iter().product()];
        quant::dequantize(
            entry.kind,
            &self.map[entry.start..entry.start + entry.len],
            &mut out,
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GGUF v3 header with no tensors and one string-array key that claims
    /// `len` entries but holds none.
    fn header_with_array(key: &str, len: u64) -> Vec<u8> {
        let mut bytes = b"GGUF".to_vec();
        bytes.extend(3u32.to_le_bytes());
        bytes.extend(0u64.to_le_bytes()); // tensors
        bytes.extend(1u64.to_le_bytes()); // metadata entries
        bytes.extend((key.len() as u64).to_le_bytes());
        bytes.extend(key.as_bytes());
        bytes.extend(9u32.to_le_bytes()); // array
        bytes.extend(8u32.to_le_bytes()); // of strings
        bytes.extend(len.to_le_bytes());
        bytes
    }

    /// Found by the fuzz campaign: gguf-rs reached `unreachable!` on type id 40.
    #[test]
    fn tensor_type_id_40_is_an_error_naming_the_tensor_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("count.gguf");
        std::fs::write(&path, crate::gguf_scan::header_with_tensor(3, 40)).unwrap();
        let error = GgufFile::open(&path).err().expect("refused").to_string();
        assert!(
            error.contains("count.gguf") && error.contains("tensor `w`"),
            "{error}"
        );
    }

    #[test]
    fn an_array_longer_than_the_file_is_an_error_not_an_allocation() {
        let dir = tempfile::tempdir().unwrap();
        for len in [u64::MAX, MAX_TOKENIZER_ARRAY + 1, 1_000] {
            let path = dir.path().join("bad.gguf");
            std::fs::write(&path, header_with_array("tokenizer.ggml.tokens", len)).unwrap();
            let error = GgufFile::open(&path)
                .err()
                .expect("a bad header")
                .to_string();
            assert!(error.contains("bad.gguf"), "{len}: {error}");
        }
    }
}
