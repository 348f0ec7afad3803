//! Conversations to token ids with an assistant-only loss mask, through the
//! model's own chat template (the renderer inference uses), so a training
//! prompt and an inference prompt are the same tokens.

use toolgrad_model::chat::ChatTemplate;
use toolgrad_model::tokenizer::TextTokenizer;

use crate::data::Conversation;
use crate::error::Result;

/// One tokenised sample: `labels[i]` says whether token `i` is learned
/// (predicted from the tokens before it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub line: usize,
    pub ids: Vec<u32>,
    pub labels: Vec<bool>,
}

impl Encoded {
    /// Tokens that carry loss.
    pub fn loss_tokens(&self) -> usize {
        self.labels.iter().skip(1).filter(|&&l| l).count()
    }
}

/// What tokenisation kept and cut.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EncodeStats {
    pub samples: usize,
    /// Samples longer than `max_len`, cut at the end.
    pub truncated: usize,
    /// Tokens those cuts removed.
    pub cut_tokens: usize,
    /// Lines of samples left with no learned token after the cut (skipped).
    pub dropped_lines: Vec<usize>,
    pub tokens: usize,
    pub loss_tokens: usize,
}

/// Renders and tokenises `conversation`: the learned tokens are exactly the
/// assistant replies and their closing `<|im_end|>`.
pub fn encode(
    conversation: &Conversation,
    template: &ChatTemplate,
    tokenizer: &TextTokenizer,
) -> Result<Encoded> {
    let rendered = template.render_conversation(&conversation.messages, &conversation.tools);
    let (ids, offsets) = tokenizer.encode_with_offsets(&rendered.text)?;
    let labels = offsets
        .iter()
        .map(|&(start, end)| {
            end > start && rendered.assistant.iter().any(|span| span.contains(&start))
        })
        .collect();
    Ok(Encoded {
        line: conversation.line,
        ids,
        labels,
    })
}

/// Encodes every conversation, cutting each to `max_len` tokens; samples the
/// cut leaves without a learned token are dropped and listed.
pub fn encode_all(
    conversations: &[Conversation],
    template: &ChatTemplate,
    tokenizer: &TextTokenizer,
    max_len: usize,
) -> Result<(Vec<Encoded>, EncodeStats)> {
    let mut stats = EncodeStats::default();
    let mut out = Vec::with_capacity(conversations.len());
    for conversation in conversations {
        let mut sample = encode(conversation, template, tokenizer)?;
        if sample.ids.len() > max_len {
            stats.truncated += 1;
            stats.cut_tokens += sample.ids.len() - max_len;
            sample.ids.truncate(max_len);
            sample.labels.truncate(max_len);
        }
        if sample.loss_tokens() == 0 {
            stats.dropped_lines.push(sample.line);
            continue;
        }
        stats.samples += 1;
        stats.tokens += sample.ids.len();
        stats.loss_tokens += sample.loss_tokens();
        out.push(sample);
    }
    Ok((out, stats))
}
