//! Text ↔ token ids through the `tokenizers` crate, loaded from a `tokenizer.json`
//! or built from the vocabulary and merges a GGUF file carries; plus the raw
//! bytes of every token, which streaming and constrained decoding work on.

use std::path::Path;

use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};

use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;

/// GGUF `token_type` of control tokens (`<|im_start|>` and the like).
const TOKEN_TYPE_CONTROL: u64 = 3;

/// `(start, end)` byte offsets of a token in the text it came from.
pub type ByteSpan = (usize, usize);

pub struct TextTokenizer {
    inner: Tokenizer,
    /// Raw bytes of each token id; special tokens hold their literal text.
    token_bytes: Vec<Vec<u8>>,
    special: Vec<bool>,
    pub eos_id: u32,
}

/// GPT-2's reversible byte → printable-char table (index: the byte).
pub fn byte_level_chars() -> Vec<char> {
    let mut extra = 0u32;
    (0..=255u8)
        .map(|b| {
            let printable = (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE;
            if printable {
                char::from(b)
            } else {
                extra += 1;
                char::from_u32(255 + extra).unwrap_or('\u{FFFD}')
            }
        })
        .collect()
}

fn byte_level_decoder() -> std::collections::HashMap<char, u8> {
    byte_level_chars()
        .into_iter()
        .enumerate()
        .map(|(b, c)| (c, b as u8))
        .collect()
}

fn tok_err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Tokenizer(e.to_string())
}

impl TextTokenizer {
    /// Builds a byte-level BPE tokenizer from `tokenizer.ggml.*` metadata.
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let model = file.require_str("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(tok_err(format!(
                "{}: tokenizer.ggml.model `{model}` is not supported (gpt2 byte-level BPE)",
                file.path().display()
            )));
        }
        let tokens = file.string_array("tokenizer.ggml.tokens")?;
        let merges = file.string_array("tokenizer.ggml.merges")?;
        let types: Vec<u64> = file
            .metadata("tokenizer.ggml.token_type")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().map(|t| t.as_u64().unwrap_or(1)).collect())
            .unwrap_or_default();
        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let merges = merges
            .iter()
            .enumerate()
            .map(|(i, m)| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .ok_or_else(|| {
                        tok_err(format!("tokenizer.ggml.merges[{i}] `{m}` is not `a b`"))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| {
                tok_err(format!(
                    "{}: tokenizer.ggml.merges: {e}",
                    file.path().display()
                ))
            })?;
        let mut inner = Tokenizer::new(bpe);
        let byte_level = ByteLevel::new(false, true, true);
        match file.metadata("tokenizer.ggml.pre").and_then(|v| v.as_str()) {
            // SmolLM's pre-tokenizer splits digits one by one before the GPT-2 regex.
            Some("smollm") => inner.with_pre_tokenizer(Some(Sequence::new(vec![
                Digits::new(true).into(),
                byte_level.into(),
            ]))),
            None | Some("default" | "gpt2" | "gpt-2") => inner.with_pre_tokenizer(Some(byte_level)),
            // Another regex (llama-bpe, qwen2, ...) would split text differently
            // and silently change every token id.
            Some(other) => {
                return Err(tok_err(format!(
                    "{}: tokenizer.ggml.pre `{other}` is not implemented (smollm, gpt2, default)",
                    file.path().display()
                )))
            }
        };
        inner.with_decoder(Some(ByteLevel::default()));
        let specials = control_tokens(&tokens, &types)
            .map_err(|message| tok_err(format!("{}: {message}", file.path().display())))?;
        inner.add_special_tokens(specials).map_err(tok_err)?;
        let eos_id = file.require_usize("tokenizer.ggml.eos_token_id")? as u32;
        Self::finish(inner, eos_id)
    }

    /// Loads an HF `tokenizer.json`; `eos` names the end-of-turn token.
    pub fn from_file(path: &Path, eos: &str) -> Result<Self> {
        let inner =
            Tokenizer::from_file(path).map_err(|e| tok_err(format!("{}: {e}", path.display())))?;
        let eos_id = inner
            .token_to_id(eos)
            .ok_or_else(|| tok_err(format!("{}: no token `{eos}`", path.display())))?;
        Self::finish(inner, eos_id)
    }

    fn finish(inner: Tokenizer, eos_id: u32) -> Result<Self> {
        let size = inner.get_vocab_size(true);
        let decoder = byte_level_decoder();
        let special_ids: std::collections::HashSet<u32> = inner
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(id, _)| id)
            .collect();
        let mut token_bytes = Vec::with_capacity(size);
        let mut special = Vec::with_capacity(size);
        for id in 0..size as u32 {
            let text = inner.id_to_token(id).unwrap_or_default();
            let is_special = special_ids.contains(&id);
            let bytes = if is_special {
                text.into_bytes()
            } else {
                text.chars()
                    .map(|c| decoder.get(&c).copied())
                    .collect::<Option<Vec<u8>>>()
                    .unwrap_or_else(|| text.into_bytes())
            };
            token_bytes.push(bytes);
            special.push(is_special);
        }
        Ok(Self {
            inner,
            token_bytes,
            special,
            eos_id,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.token_bytes.len()
    }

    /// Token ids of `text`; special tokens written in the text are recognised.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self
            .inner
            .encode(text, false)
            .map_err(tok_err)?
            .get_ids()
            .to_vec())
    }

    /// Token ids of `text` and the byte range of `text` each one covers.
    pub fn encode_with_offsets(&self, text: &str) -> Result<(Vec<u32>, Vec<ByteSpan>)> {
        let encoding = self.inner.encode(text, false).map_err(tok_err)?;
        Ok((encoding.get_ids().to_vec(), encoding.get_offsets().to_vec()))
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|&id| self.bytes(id).iter().copied())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The raw bytes a token stands for.
    pub fn bytes(&self, id: u32) -> &[u8] {
        self.token_bytes.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// Whether `id` is a control token (never part of constrained output).
    pub fn is_special(&self, id: u32) -> bool {
        self.special.get(id as usize).copied().unwrap_or(false)
    }

    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Saves the tokenizer as an HF `tokenizer.json`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = self.inner.to_string(true).map_err(tok_err)?;
        toolgrad_core::fsutil::write_atomic(path, json.as_bytes())
            .map_err(|e| ModelError::io(path, e))
    }
}

/// The control tokens, by `tokenizer.ggml.token_type`; the two arrays must
/// have one entry per token (a hostile file may claim otherwise).
fn control_tokens(
    tokens: &[String],
    types: &[u64],
) -> std::result::Result<Vec<AddedToken>, String> {
    if !types.is_empty() && types.len() != tokens.len() {
        return Err(format!(
            "tokenizer.ggml.token_type has {} entries but tokenizer.ggml.tokens has {}",
            types.len(),
            tokens.len()
        ));
    }
    Ok(types
        .iter()
        .zip(tokens)
        .filter(|(&t, _)| t == TOKEN_TYPE_CONTROL)
        .map(|(_, token)| AddedToken::from(token.clone(), true))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_types_that_do_not_match_the_tokens_are_an_error() {
        let tokens: Vec<String> = ["a", "<|im_end|>"].iter().map(|t| t.to_string()).collect();
        let specials = control_tokens(&tokens, &[1, TOKEN_TYPE_CONTROL]).unwrap();
        assert_eq!(specials.len(), 1);
        let error = control_tokens(&tokens, &[1, 1, TOKEN_TYPE_CONTROL])
            .err()
            .unwrap();
        assert!(error.contains("token_type has 3 entries"), "{error}");
        assert!(control_tokens(&tokens, &[]).unwrap().is_empty());
    }
}
