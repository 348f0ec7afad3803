//! One sequence being generated, between model steps: picking each token from
//! the logits (sampling and constraint), end-of-turn and length limits, stop
//! sequences and streaming. The single-sequence loop and the batcher both
//! drive it, so a sequence produces the same text alone or in a batch.

use crate::constrain::{accepts, Constraint};
use crate::engine::{FinishReason, GenerateParams, Generation};
use crate::error::{ModelError, Result};
use crate::sampling::Sampler;
use crate::tokenizer::TextTokenizer;

pub struct Decoding {
    params: GenerateParams,
    sampler: Sampler,
    constraint: Option<Box<dyn Constraint>>,
    prompt_tokens: usize,
    max_tokens: usize,
    /// The output so far, possibly ending inside a UTF-8 character.
    bytes: Vec<u8>,
    /// Bytes of `bytes` already passed to `on_text`.
    emitted: usize,
    completion: usize,
    finish: Option<FinishReason>,
}

impl Decoding {
    /// A sequence after a prompt of `prompt_tokens`, with room for `room` more.
    pub fn new(
        prompt_tokens: usize,
        room: usize,
        params: &GenerateParams,
        constraint: Option<Box<dyn Constraint>>,
    ) -> Self {
        Self {
            sampler: Sampler::new(params.sampling.clone()),
            max_tokens: params.max_tokens.min(room),
            params: params.clone(),
            constraint,
            prompt_tokens,
            bytes: Vec::new(),
            emitted: 0,
            completion: 0,
            finish: None,
        }
    }

    /// Whether another thread asked this generation to stop.
    pub fn is_cancelled(&self) -> bool {
        self.params.is_cancelled()
    }

    /// Takes the logits after the last token: the next token to run through
    /// the model, or `None` when the sequence has finished.
    pub fn next(
        &mut self,
        tokenizer: &TextTokenizer,
        logits: &[f32],
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Option<u32>> {
        if self.params.is_cancelled() {
            return Err(ModelError::Cancelled);
        }
        if self.completion >= self.max_tokens {
            return Ok(self.stop(FinishReason::Length));
        }
        if self.constraint.as_ref().is_some_and(|c| c.is_closed()) {
            return Ok(self.stop(FinishReason::Stop));
        }
        let eos = tokenizer.eos_id;
        let token = {
            let c = self.constraint.as_deref();
            self.sampler.pick(logits, &mut |t| match c {
                None => true,
                Some(c) if tokenizer.is_special(t) => t == eos && c.is_complete(),
                Some(c) => accepts(c, tokenizer.bytes(t)),
            })
        };
        let Some(token) = token else {
            return Err(ModelError::Constraint(
                "no token of the vocabulary can continue the constrained output".into(),
            ));
        };
        self.completion += 1;
        if tokenizer.is_special(token) && !self.params.ignore_eos {
            return Ok(self.stop(FinishReason::Stop));
        }
        let piece = tokenizer.bytes(token);
        if let Some(c) = self.constraint.as_mut() {
            for &b in piece {
                c.advance(b);
            }
        }
        self.bytes.extend_from_slice(piece);
        let text = valid_prefix(&self.bytes);
        if let Some(cut) = first_stop(text, &self.params.stop) {
            // The token that completes a stop sequence may also carry text
            // before it: emit that once, here, and not again at the end.
            let upto = cut.max(self.emitted);
            on_text(&text[self.emitted..upto]);
            self.emitted = upto;
            self.bytes.truncate(cut);
            return Ok(self.stop(FinishReason::Stop));
        }
        let safe = text.len() - held_back(text, &self.params.stop);
        if safe > self.emitted {
            on_text(&text[self.emitted..safe]);
            self.emitted = safe;
        }
        Ok(Some(token))
    }

    fn stop(&mut self, reason: FinishReason) -> Option<u32> {
        self.finish = Some(reason);
        None
    }

    /// The finished generation; text still held back is passed to `on_text`.
    pub fn finish(self, on_text: &mut dyn FnMut(&str)) -> Generation {
        let text = String::from_utf8_lossy(&self.bytes).into_owned();
        if self.emitted < text.len() && text.is_char_boundary(self.emitted) {
            on_text(&text[self.emitted..]);
        }
        Generation {
            text,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion,
            finish: self.finish.unwrap_or(FinishReason::Length),
        }
    }
}

/// The longest prefix of `bytes` that is valid UTF-8.
fn valid_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
    }
}

fn first_stop(text: &str, stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()))
        .min()
}

/// Bytes at the end of `text` that could be the start of a stop sequence.
fn held_back(text: &str, stops: &[String]) -> usize {
    stops
        .iter()
        .flat_map(|s| {
            (1..s.len())
                .filter(|&n| s.is_char_boundary(n))
                .map(move |n| &s[..n])
        })
        .filter(|prefix| text.ends_with(prefix))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_sequences_are_found_and_held_back() {
        let stops = vec!["</s>".to_string(), "\n\n".to_string()];
        assert_eq!(first_stop("abc</s>d", &stops), Some(3));
        assert_eq!(first_stop("a\n\nb</s>", &stops), Some(1));
        assert_eq!(held_back("abc</", &stops), 2);
        assert_eq!(held_back("abc\n", &stops), 1);
        assert_eq!(held_back("abc", &stops), 0);
        assert_eq!(held_back("x\u{e9}", &["\u{e9}t".to_string()]), 2);
    }

    #[test]
    fn partial_utf8_is_not_emitted() {
        let bytes = "é".as_bytes();
        assert_eq!(valid_prefix(&bytes[..1]), "");
        assert_eq!(valid_prefix(bytes), "é");
    }
}
