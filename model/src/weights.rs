//! Weight sources and sinks: GGUF (dequantised, Q/K rows un-permuted back to HF
//! order) and HF safetensors, plus export of a model to an HF-layout directory.

use std::path::{Path, PathBuf};

use burn::tensor::Tensor;
use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};

use crate::config::LlamaConfig;
use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;
use crate::host::f32_values;
use crate::llama::{Llama, WeightSource};

/// GGUF tensor name for an HF weight name.
fn gguf_name(hf: &str) -> Option<String> {
    match hf {
        "model.embed_tokens.weight" => return Some("token_embd.weight".into()),
        "model.norm.weight" => return Some("output_norm.weight".into()),
        "lm_head.weight" => return Some("output.weight".into()),
        _ => {}
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, name) = rest.split_once('.')?;
    let mapped = match name {
        "input_layernorm.weight" => "attn_norm",
        "self_attn.q_proj.weight" => "attn_q",
        "self_attn.k_proj.weight" => "attn_k",
        "self_attn.v_proj.weight" => "attn_v",
        "self_attn.o_proj.weight" => "attn_output",
        "post_attention_layernorm.weight" => "ffn_norm",
        "mlp.gate_proj.weight" => "ffn_gate",
        "mlp.up_proj.weight" => "ffn_up",
        "mlp.down_proj.weight" => "ffn_down",
        _ => return None,
    };
    Some(format!("blk.{layer}.{mapped}.weight"))
}

/// llama.cpp's converter interleaves the two RoPE halves of every head's Q/K
/// rows; `permute(rows, true)` undoes that, `permute(rows, false)` redoes it.
pub fn permute_rope_rows(w: &[f32], heads: usize, cols: usize, to_hf: bool) -> Vec<f32> {
    let head_dim = w.len() / cols / heads;
    let half = head_dim / 2;
    let mut out = vec![0f32; w.len()];
    for h in 0..heads {
        for j in 0..half {
            for t in 0..2 {
                let interleaved = h * head_dim + 2 * j + t;
                let halves = h * head_dim + t * half + j;
                let (src, dst) = if to_hf {
                    (interleaved, halves)
                } else {
                    (halves, interleaved)
                };
                out[dst * cols..(dst + 1) * cols].copy_from_slice(&w[src * cols..(src + 1) * cols]);
            }
        }
    }
    out
}

/// Weights of a GGUF file in HF naming.
pub struct GgufWeights<'a> {
    pub file: &'a GgufFile,
    pub config: &'a LlamaConfig,
}

impl WeightSource for GgufWeights<'_> {
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let gname = gguf_name(name).ok_or_else(|| ModelError::Tensor {
            path: self.file.path().to_path_buf(),
            tensor: name.into(),
            message: "has no GGUF counterpart".into(),
        })?;
        let data = self.file.tensor_f32(&gname, shape)?;
        let heads = if gname.ends_with("attn_q.weight") {
            self.config.num_attention_heads
        } else if gname.ends_with("attn_k.weight") {
            self.config.num_key_value_heads
        } else {
            return Ok(data);
        };
        Ok(permute_rope_rows(&data, heads, shape[1], true))
    }
}

/// One or more HF `*.safetensors` files, memory-mapped.
pub struct SafetensorsWeights {
    files: Vec<(PathBuf, Mmap)>,
}

impl SafetensorsWeights {
    /// Opens every `*.safetensors` file in `dir`.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        let entries = std::fs::read_dir(dir).map_err(|e| ModelError::io(dir, e))?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(ModelError::Safetensors {
                path: dir.to_path_buf(),
                message: "no *.safetensors file".into(),
            });
        }
        let mut files = Vec::new();
        for path in paths {
            let file = std::fs::File::open(&path).map_err(|e| ModelError::io(&path, e))?;
            // SAFETY: read-only map of a file we do not modify while it is open.
            let map = unsafe { Mmap::map(&file) }.map_err(|e| ModelError::io(&path, e))?;
            SafeTensors::deserialize(&map).map_err(|e| ModelError::Safetensors {
                path: path.clone(),
                message: e.to_string(),
            })?;
            files.push((path, map));
        }
        Ok(Self { files })
    }
}

impl WeightSource for SafetensorsWeights {
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        for (path, map) in &self.files {
            let st = SafeTensors::deserialize(map).map_err(|e| ModelError::Safetensors {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let Ok(view) = st.tensor(name) else { continue };
            let bad = |message: String| ModelError::Tensor {
                path: path.clone(),
                tensor: name.into(),
                message,
            };
            if view.shape() != shape {
                return Err(bad(format!("shape {:?}, expected {shape:?}", view.shape())));
            }
            return view_values(path, name, &view);
        }
        Err(ModelError::Tensor {
            path: self.files[0].0.clone(),
            tensor: name.into(),
            message: "missing from every safetensors file".into(),
        })
    }
}

/// Floating-point type of exported weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportDtype {
    F32,
    Bf16,
}

fn tensor_bytes(values: &[f32], dtype: ExportDtype) -> Vec<u8> {
    match dtype {
        ExportDtype::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ExportDtype::Bf16 => values
            .iter()
            .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
            .collect(),
    }
}

/// A tensor ready to be written: its name, shape and values.
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

impl NamedTensor {
    /// Reads `tensor` back to the host.
    pub fn read<const D: usize>(name: impl Into<String>, tensor: Tensor<D>) -> Result<Self> {
        let shape = tensor.dims().to_vec();
        Ok(Self {
            name: name.into(),
            shape,
            values: f32_values(tensor)?,
        })
    }
}

/// Writes `tensors` as one safetensors file (a temporary name first, then
/// renamed), with `metadata` in its header.
pub fn save_safetensors(
    path: &Path,
    tensors: &[NamedTensor],
    dtype: ExportDtype,
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<()> {
    let st_dtype = match dtype {
        ExportDtype::F32 => Dtype::F32,
        ExportDtype::Bf16 => Dtype::BF16,
    };
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| tensor_bytes(&t.values, dtype))
        .collect();
    let bad = |e: safetensors::SafeTensorError| ModelError::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, data)| {
            safetensors::tensor::TensorView::new(st_dtype, t.shape.clone(), data)
                .map(|view| (t.name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let serialized = safetensors::serialize(views, metadata).map_err(bad)?;
    toolgrad_core::fsutil::write_atomic(path, &serialized).map_err(|e| ModelError::io(path, e))
}

/// Every tensor of a safetensors file as `f32`, by name (F32, F16 or BF16).
pub fn load_safetensors(path: &Path) -> Result<Vec<NamedTensor>> {
    let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| ModelError::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        out.push(NamedTensor {
            values: view_values(path, &name, &view)?,
            shape: view.shape().to_vec(),
            name,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn view_values(
    path: &Path,
    name: &str,
    view: &safetensors::tensor::TensorView,
) -> Result<Vec<f32>> {
    let bytes = view.data();
    match view.dtype() {
        Dtype::F32 => Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()),
        Dtype::F16 => Ok(bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect()),
        Dtype::BF16 => Ok(bytes
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect()),
        other => Err(ModelError::Tensor {
            path: path.to_path_buf(),
            tensor: name.into(),
            message: format!("dtype {other:?} is not supported (F32, F16, BF16)"),
        }),
    }
}

/// Writes `model.safetensors` and `config.json` in HF layout into `dir`
/// (each file written to a temporary name first, then renamed). A model with
/// unmerged LoRA adapters is refused: merge them first.
pub fn export_hf(
    model: &Llama,
    config: &LlamaConfig,
    dir: &Path,
    dtype: ExportDtype,
) -> Result<()> {
    if model.has_lora() {
        return Err(ModelError::Lora(
            "the model still has unmerged adapters; merge them before exporting".into(),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    let mut tensors = Vec::new();
    for (name, t) in model.named_weights() {
        let mut tensor = NamedTensor::read(name, t)?;
        // Vectors (norm weights) were lifted to one row; store them as 1-D.
        if tensor.name.ends_with("norm.weight") {
            tensor.shape.remove(0);
        }
        tensors.push(tensor);
    }
    let metadata = Some([("format".to_string(), "pt".to_string())].into());
    save_safetensors(&dir.join("model.safetensors"), &tensors, dtype, metadata)?;
    let mut hf = config.to_hf_json();
    hf["torch_dtype"] = serde_json::json!(match dtype {
        ExportDtype::F32 => "float32",
        ExportDtype::Bf16 => "bfloat16",
    });
    let json = serde_json::to_vec_pretty(&hf).map_err(|e| ModelError::Safetensors {
        path: dir.join("config.json"),
        message: e.to_string(),
    })?;
    let path = dir.join("config.json");
    toolgrad_core::fsutil::write_atomic(&path, &json).map_err(|e| ModelError::io(path, e))
}
