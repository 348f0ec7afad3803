//! A deterministic byte mutator in the style of libFuzzer's: bit flips, random
//! and "interesting" bytes, inserted and deleted runs, copies within the input,
//! splices with another seed and dictionary tokens. It is ours (about 80 lines)
//! because libFuzzer and AFL need a nightly, instrumented build, and the campaign
//! must also run on stable in CI; both run the same targets.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Tokens the parsers treat specially, inserted whole.
const DICTIONARY: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"(",
    b")",
    b"\"",
    b"'",
    b"\\",
    b"\\u",
    b"\\ud800",
    b",",
    b":",
    b"=",
    b"\n",
    b"\r\n",
    b"\0",
    b"null",
    b"None",
    b"true",
    b"True",
    b"-1",
    b"1e309",
    b"NaN",
    b"inf",
    b"-0",
    b"18446744073709551615",
    b"9223372036854775808",
    b"0x",
    b"\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\x00\x00\x00\x80",
    b"\xf0\x9f\x98",
    b"\xc3",
    b"<tool_call>",
    b"</tool_call>",
    b"\"type\"",
    b"\"anyOf\"",
    b"\"properties\"",
    b"\"items\"",
    b"\"required\"",
    b"\"enum\"",
    b"[[",
    b"]]",
    b"=[",
    b"{{",
    b"#",
];

/// Mutates seeds into fresh inputs, reproducibly from one seed number.
pub struct Mutator {
    rng: StdRng,
    max_len: usize,
}

impl Mutator {
    pub fn new(seed: u64, max_len: usize) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            max_len,
        }
    }

    /// A new input: one of `seeds` with 1 to 8 mutations applied.
    pub fn next(&mut self, seeds: &[Vec<u8>]) -> Vec<u8> {
        let mut data = match seeds.len() {
            0 => Vec::new(),
            n => seeds[self.rng.random_range(0..n)].clone(),
        };
        for _ in 0..self.rng.random_range(1..=8) {
            self.mutate_once(&mut data, seeds);
        }
        data.truncate(self.max_len);
        data
    }

    fn mutate_once(&mut self, data: &mut Vec<u8>, seeds: &[Vec<u8>]) {
        let len = data.len();
        let at = |rng: &mut StdRng, n: usize| if n == 0 { 0 } else { rng.random_range(0..n) };
        match self.rng.random_range(0..9) {
            0 if len > 0 => {
                let i = at(&mut self.rng, len);
                data[i] ^= 1 << self.rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = at(&mut self.rng, len);
                data[i] = self.rng.random();
            }
            2 if len > 0 => {
                let i = at(&mut self.rng, len);
                data[i] = [0u8, 1, 0x7f, 0x80, 0xff][self.rng.random_range(0..5)];
            }
            3 => {
                let i = at(&mut self.rng, len + 1);
                let run = self.rng.random_range(1..=16);
                let bytes: Vec<u8> = (0..run).map(|_| self.rng.random()).collect();
                data.splice(i..i, bytes);
            }
            4 if len > 0 => {
                let start = at(&mut self.rng, len);
                let end = (start + self.rng.random_range(1..=64)).min(len);
                data.drain(start..end);
            }
            5 if len > 0 => {
                let start = at(&mut self.rng, len);
                let end = (start + self.rng.random_range(1..=64)).min(len);
                let copy = data[start..end].to_vec();
                let to = at(&mut self.rng, data.len() + 1);
                data.splice(to..to, copy);
            }
            6 if !seeds.is_empty() => {
                let other = &seeds[self.rng.random_range(0..seeds.len())];
                let cut = at(&mut self.rng, len + 1);
                let from = at(&mut self.rng, other.len() + 1);
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            7 if len > 0 => data.truncate(at(&mut self.rng, len)),
            _ => {
                let token = DICTIONARY[self.rng.random_range(0..DICTIONARY.len())];
                let i = at(&mut self.rng, len + 1);
                data.splice(i..i, token.iter().copied());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_inputs_and_they_differ_from_the_seed() {
        let seeds = vec![b"{\"a\": [1, 2, 3]}".to_vec()];
        let run = |seed| {
            let mut m = Mutator::new(seed, 1 << 16);
            (0..50).map(|_| m.next(&seeds)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(7).iter().filter(|i| **i != seeds[0]).count() > 40);
    }
}
