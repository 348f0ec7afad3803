//! Prefix reuse: the KV caches of recently prefilled prompts, so that a prompt
//! that starts like one of them (BFCL's system prompt before the function
//! list, generate's role instructions) skips that part of the prefill.
//!
//! Reuse changes no result, to the bit. Prefill runs in blocks that start at
//! multiples of [`BLOCK`] (absolute positions, with or without reuse), and a
//! reused prefix is cut at such a multiple. Every block a reused cache holds
//! was therefore computed from the same tokens, the same earlier cache and the
//! same shapes as a fresh prefill would compute it, so no kernel's order of
//! summation can differ.

use std::collections::VecDeque;

use crate::cache::KvCache;

/// Prefill block, and the granularity of reuse, in tokens.
pub const BLOCK: usize = 128;

/// `ids`, placed after `start` positions, cut into prefill blocks that end
/// at multiples of [`BLOCK`] (absolute positions); none is empty.
pub fn blocks(start: usize, ids: &[u32]) -> Vec<&[u32]> {
    let mut out = Vec::with_capacity(ids.len() / BLOCK + 2);
    let mut at = 0;
    while at < ids.len() {
        let end = (at + BLOCK - (start + at) % BLOCK).min(ids.len());
        out.push(&ids[at..end]);
        at = end;
    }
    out
}

/// Prompts kept. A 600-token prompt of SmolLM2-135M holds about 28 MB of keys
/// and values.
pub const ENTRIES: usize = 4;

/// The most recently prefilled prompts with their caches, newest first.
pub struct PrefixCache {
    entries: VecDeque<(Vec<u32>, KvCache)>,
    capacity: usize,
    /// Prompt tokens whose prefill reuse skipped, over the engine's life.
    reused_tokens: u64,
}

impl PrefixCache {
    /// A store of `capacity` prompts (0 turns reuse off).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::with_capacity(capacity),
            capacity,
            reused_tokens: 0,
        }
    }

    /// The longest stored prefix of `prompt` that can be reused: at least one
    /// block, a multiple of [`BLOCK`], and shorter than `prompt` (its last
    /// token must run to give logits). Returns a cache of exactly those
    /// positions; the entry it came from becomes the newest.
    pub fn reuse(&mut self, prompt: &[u32]) -> Option<KvCache> {
        let limit = prompt.len().saturating_sub(1);
        let (index, shared) = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, (ids, cache))| {
                let common = ids.iter().zip(prompt).take_while(|(a, b)| a == b).count();
                let usable = common.min(limit).min(cache.len());
                (i, usable - usable % BLOCK)
            })
            .max_by_key(|&(i, shared)| (shared, std::cmp::Reverse(i)))?;
        if shared == 0 {
            return None;
        }
        let entry = self.entries.remove(index)?;
        let reused = entry.1.truncated(shared);
        self.entries.push_front(entry);
        self.reused_tokens += shared as u64;
        Some(reused)
    }

    /// Keeps `prompt` and its cache (holding exactly the prompt's positions),
    /// dropping the oldest entry when full.
    pub fn insert(&mut self, prompt: &[u32], cache: &KvCache) {
        if self.capacity == 0 || cache.len() != prompt.len() {
            return;
        }
        self.entries.retain(|(ids, _)| ids != prompt);
        self.entries.push_front((prompt.to_vec(), cache.clone()));
        self.entries.truncate(self.capacity);
    }

    /// How many prompts are kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Prompt tokens not prefilled because a stored prefix covered them.
    pub fn reused_tokens(&self) -> u64 {
        self.reused_tokens
    }

    /// Forgets every prompt (the weights changed).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
