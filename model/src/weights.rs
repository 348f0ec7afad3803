//! Weight sources and sinks: GGUF (dequantised, Q/K rows un-permuted back to HF
//! order) and HF safetensors, plus export of a model to an HF-layout directory.

use std::path::{Path, PathBuf};

use burn::tensor::Tensor;
use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};

use crate::config::LlamaConfig;
use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;
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
            let bytes = view.data();
            return match view.dtype() {
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
                other => Err(bad(format!(
                    "dtype {other:?} is not supported (F32, F16, BF16)"
                ))),
            };
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

fn tensor_bytes(t: Tensor<2>, dtype: ExportDtype) -> Vec<u8> {
    let values = t.into_data().try_into_vec::<f32>().unwrap_or_default();
    match dtype {
        ExportDtype::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ExportDtype::Bf16 => values
            .iter()
            .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
            .collect(),
    }
}

/// Writes `model.safetensors` and `config.json` in HF layout into `dir`
/// (each file written to a temporary name first, then renamed).
pub fn export_hf(
    model: &Llama,
    config: &LlamaConfig,
    dir: &Path,
    dtype: ExportDtype,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    let st_dtype = match dtype {
        ExportDtype::F32 => Dtype::F32,
        ExportDtype::Bf16 => Dtype::BF16,
    };
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = model
        .named_weights()
        .into_iter()
        .map(|(name, t)| {
            let dims = t.dims();
            // Vectors (norm weights) were lifted to one row; store them as 1-D.
            let shape = if name.ends_with("norm.weight") {
                vec![dims[1]]
            } else {
                dims.to_vec()
            };
            (name, shape, tensor_bytes(t, dtype))
        })
        .collect();
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            safetensors::tensor::TensorView::new(st_dtype, shape.clone(), bytes)
                .map(|view| (name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ModelError::Safetensors {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
    let metadata = Some([("format".to_string(), "pt".to_string())].into());
    let bytes = safetensors::serialize(views, metadata).map_err(|e| ModelError::Safetensors {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        toolgrad_core::fsutil::write_atomic(&path, bytes).map_err(|e| ModelError::io(path, e))
    };
    write("model.safetensors", &bytes)?;
    let json = serde_json::to_vec_pretty(&config.to_hf_json()).unwrap_or_default();
    write("config.json", &json)
}
