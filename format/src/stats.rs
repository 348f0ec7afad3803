//! Dataset statistics: size, call shape, tool coverage, query length and
//! diversity, and near-duplicate rates (MinHash over queries and over
//! tool-chain signatures), for the dataset card and `toolgrad report dataset`.

use std::collections::HashSet;

use datasketch_minhash_lsh::{MinHash, MinHashLsh};
use serde::Serialize;

use crate::sample::Sample;

/// MinHash permutations and the similarity at which two items are near-duplicates.
const NUM_PERM: usize = 128;
pub const NEAR_DUPLICATE_JACCARD: f64 = 0.8;

/// One dataset's row of the statistics table.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DatasetStats {
    pub name: String,
    pub samples: usize,
    pub negatives: usize,
    /// Means over positive samples.
    pub calls_per_sample: f64,
    pub chains_per_sample: f64,
    pub mean_chain_depth: f64,
    pub max_chain_depth: usize,
    /// Share of positives with a function called more than once (BFCL's parallel shape).
    pub parallel_share: f64,
    /// How the positives split over BFCL's non-live AST shapes.
    pub shapes: ShapeShares,
    /// Share of positives that list a function they leave uncalled from the
    /// family of one they call: a related distractor, as BFCL's `multiple`
    /// lists; 0 when the source names no families.
    pub related_distractor_share: f64,
    pub unique_tools: usize,
    /// Distinct families of the called tools; 0 when the source names none.
    pub unique_domains: usize,
    pub query_words_mean: f64,
    pub query_words_p50: usize,
    pub query_words_p90: usize,
    pub distinct_1: f64,
    pub distinct_2: f64,
    /// Share of queries with a near-duplicate (estimated Jaccard ≥ 0.8 on word 3-grams).
    pub near_duplicate_queries: f64,
    /// Share of positives with a near-duplicate tool-chain signature.
    pub near_duplicate_chains: f64,
}

/// A positive sample's call shape, in BFCL's non-live AST terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One call, and the prompt lists only its function (`simple_*`).
    Simple,
    /// One call, chosen among several listed functions (`multiple`).
    Multiple,
    /// One function called several times (`parallel`).
    Parallel,
    /// Several functions, at least one of them called more than once
    /// (`parallel_multiple` as its name says).
    ParallelMultiple,
    /// Several functions, each called once (BFCL files these under
    /// `parallel_multiple` too).
    Distinct,
}

impl Shape {
    /// The shape of a positive sample: the calls of its flat target and the
    /// number of functions its prompt lists.
    pub fn of(sample: &Sample) -> Shape {
        let mut names: Vec<&str> = sample.calls.iter().map(|c| c.name.as_str()).collect();
        let calls = names.len();
        names.sort_unstable();
        names.dedup();
        match (calls, names.len()) {
            (0 | 1, _) if sample.tools.len() <= 1 => Shape::Simple,
            (0 | 1, _) => Shape::Multiple,
            (_, 1) => Shape::Parallel,
            (c, d) if c > d => Shape::ParallelMultiple,
            _ => Shape::Distinct,
        }
    }
}

/// Shares of the positives in each [`Shape`]; they sum to 1 when there are positives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ShapeShares {
    pub simple: f64,
    pub multiple: f64,
    pub parallel: f64,
    pub parallel_multiple: f64,
    pub distinct: f64,
}

fn shape_shares(positives: &[&Sample]) -> ShapeShares {
    let mut counts = [0usize; 5];
    for sample in positives {
        counts[Shape::of(sample) as usize] += 1;
    }
    let share = |n: usize| n as f64 / positives.len().max(1) as f64;
    ShapeShares {
        simple: share(counts[Shape::Simple as usize]),
        multiple: share(counts[Shape::Multiple as usize]),
        parallel: share(counts[Shape::Parallel as usize]),
        parallel_multiple: share(counts[Shape::ParallelMultiple as usize]),
        distinct: share(counts[Shape::Distinct as usize]),
    }
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// The `q`-quantile by the nearest-rank method.
fn percentile(sorted: &[usize], q: f64) -> usize {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn distinct(tokens: &[Vec<String>], n: usize) -> f64 {
    let mut total = 0usize;
    let mut unique = HashSet::new();
    for words in tokens {
        for gram in words.windows(n) {
            total += 1;
            unique.insert(gram.join(" "));
        }
    }
    if total == 0 {
        0.0
    } else {
        unique.len() as f64 / total as f64
    }
}

/// The share of items that have at least one other item whose shingle sets
/// have an estimated Jaccard similarity of at least [`NEAR_DUPLICATE_JACCARD`].
/// LSH finds the candidates; each is confirmed on the signatures.
pub fn near_duplicate_rate(shingles: &[HashSet<String>]) -> f64 {
    let items: Vec<(usize, MinHash)> = shingles
        .iter()
        .enumerate()
        .filter(|(_, set)| !set.is_empty())
        .map(|(i, set)| {
            let mut hash = <MinHash>::new(NUM_PERM, Some(1));
            let mut sorted: Vec<&String> = set.iter().collect();
            sorted.sort();
            for shingle in sorted {
                hash.update(shingle);
            }
            (i, hash)
        })
        .collect();
    if items.len() < 2 {
        return 0.0;
    }
    let Ok(mut lsh) = <MinHashLsh<usize>>::new(NUM_PERM, None, Some(NEAR_DUPLICATE_JACCARD)) else {
        return 0.0;
    };
    for (key, hash) in &items {
        if lsh.insert(*key, hash).is_err() {
            return 0.0;
        }
    }
    let by_key: std::collections::HashMap<usize, &MinHash> =
        items.iter().map(|(k, h)| (*k, h)).collect();
    let duplicated = items
        .iter()
        .filter(|(key, hash)| {
            let candidates = lsh.query(hash).unwrap_or_default();
            candidates.iter().any(|other| {
                other != key
                    && by_key
                        .get(other)
                        .and_then(|o| hash.clone().jaccard(o).ok())
                        .is_some_and(|j| f64::from(j) >= NEAR_DUPLICATE_JACCARD)
            })
        })
        .count();
    duplicated as f64 / shingles.len() as f64
}

fn query_shingles(words: &[String]) -> HashSet<String> {
    if words.len() < 3 {
        return words.iter().cloned().collect();
    }
    words.windows(3).map(|w| w.join(" ")).collect()
}

/// The tool-chain signature: each chain's tool sequence, and each tool.
fn chain_shingles(sample: &Sample) -> HashSet<String> {
    let mut set = HashSet::new();
    let mut calls = sample.calls.iter();
    for &length in &sample.chain_lengths {
        let chain: Vec<&str> = calls
            .by_ref()
            .take(length)
            .map(|c| c.name.as_str())
            .collect();
        for name in &chain {
            set.insert(format!("tool:{name}"));
        }
        set.insert(format!("chain:{}", chain.join(">")));
    }
    set
}

/// Whether `sample` lists an uncalled function of a called function's family.
fn lists_related_distractor(sample: &Sample) -> bool {
    let called = |name: &str| sample.calls.iter().any(|c| c.name == name);
    let families: HashSet<&str> = sample
        .tools
        .iter()
        .filter(|t| !t.family.is_empty() && called(&t.name))
        .map(|t| t.family.as_str())
        .collect();
    sample
        .tools
        .iter()
        .any(|t| !called(&t.name) && families.contains(t.family.as_str()))
}

/// The statistics of one dataset.
pub fn describe(name: &str, samples: &[Sample]) -> DatasetStats {
    let positives: Vec<&Sample> = samples.iter().filter(|s| !s.negative).collect();
    let queries: Vec<Vec<String>> = positives.iter().map(|s| words(&s.query)).collect();
    let mut lengths: Vec<usize> = queries.iter().map(Vec::len).collect();
    lengths.sort_unstable();
    let depths: Vec<usize> = positives
        .iter()
        .flat_map(|s| s.chain_lengths.iter().copied())
        .collect();
    let called: HashSet<&str> = positives
        .iter()
        .flat_map(|s| s.calls.iter().map(|c| c.name.as_str()))
        .collect();
    let domains: HashSet<&str> = positives
        .iter()
        .flat_map(|s| {
            s.tools
                .iter()
                .filter(|t| !t.family.is_empty() && s.calls.iter().any(|c| c.name == t.name))
                .map(|t| t.family.as_str())
        })
        .collect();
    let parallel = positives
        .iter()
        .filter(|s| {
            let mut seen = HashSet::new();
            s.calls.iter().any(|c| !seen.insert(c.name.as_str()))
        })
        .count();
    let related_distractor = positives
        .iter()
        .filter(|s| lists_related_distractor(s))
        .count();
    let query_sets: Vec<HashSet<String>> = queries.iter().map(|w| query_shingles(w)).collect();
    let chain_sets: Vec<HashSet<String>> = positives.iter().map(|s| chain_shingles(s)).collect();
    let share = |n: usize| {
        if positives.is_empty() {
            0.0
        } else {
            n as f64 / positives.len() as f64
        }
    };
    DatasetStats {
        name: name.to_owned(),
        samples: samples.len(),
        negatives: samples.len() - positives.len(),
        calls_per_sample: mean(positives.iter().map(|s| s.calls.len() as f64)),
        chains_per_sample: mean(positives.iter().map(|s| s.chain_lengths.len() as f64)),
        mean_chain_depth: mean(depths.iter().map(|&d| d as f64)),
        max_chain_depth: depths.iter().copied().max().unwrap_or(0),
        parallel_share: share(parallel),
        shapes: shape_shares(&positives),
        related_distractor_share: share(related_distractor),
        unique_tools: called.len(),
        unique_domains: domains.len(),
        query_words_mean: mean(lengths.iter().map(|&l| l as f64)),
        query_words_p50: percentile(&lengths, 0.5),
        query_words_p90: percentile(&lengths, 0.9),
        distinct_1: distinct(&queries, 1),
        distinct_2: distinct(&queries, 2),
        near_duplicate_queries: near_duplicate_rate(&query_sets),
        near_duplicate_chains: near_duplicate_rate(&chain_sets),
    }
}

/// The statistics as a markdown table.
pub fn markdown(rows: &[DatasetStats]) -> String {
    let mut out = String::from(
        "| dataset | samples | negatives | calls/sample | chains/sample | chain depth (mean / max) | parallel | tools | domains | query words (mean / p50 / p90) | distinct-1 | distinct-2 | near-dup queries | near-dup chains |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} / {} | {:.1} % | {} | {} | {:.1} / {} / {} | {:.3} | {:.3} | {:.1} % | {:.1} % |\n",
            r.name, r.samples, r.negatives, r.calls_per_sample, r.chains_per_sample,
            r.mean_chain_depth, r.max_chain_depth, 100.0 * r.parallel_share, r.unique_tools,
            r.unique_domains, r.query_words_mean, r.query_words_p50, r.query_words_p90,
            r.distinct_1, r.distinct_2, 100.0 * r.near_duplicate_queries,
            100.0 * r.near_duplicate_chains,
        ));
    }
    out
}

/// The BFCL shape histogram of each dataset as a markdown table.
pub fn shapes_markdown(rows: &[DatasetStats]) -> String {
    let mut out = String::from(
        "| dataset | simple | multiple | parallel | parallel multiple | several, none repeated | lists a related uncalled function |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let s = &r.shapes;
        out.push_str(&format!(
            "| {} | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.1} % |\n",
            r.name,
            100.0 * s.simple,
            100.0 * s.multiple,
            100.0 * s.parallel,
            100.0 * s.parallel_multiple,
            100.0 * s.distinct,
            100.0 * r.related_distractor_share,
        ));
    }
    out
}

/// The statistics as CSV (RFC 4180 quoting of the name).
pub fn csv(rows: &[DatasetStats]) -> String {
    let mut out = String::from(
        "dataset,samples,negatives,calls_per_sample,chains_per_sample,mean_chain_depth,max_chain_depth,parallel_share,unique_tools,unique_domains,query_words_mean,query_words_p50,query_words_p90,distinct_1,distinct_2,near_duplicate_queries,near_duplicate_chains,shape_simple,shape_multiple,shape_parallel,shape_parallel_multiple,shape_distinct,related_distractor_share\n",
    );
    for r in rows {
        out.push_str(&format!(
            "\"{}\",{},{},{:.4},{:.4},{:.4},{},{:.4},{},{},{:.4},{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4}\n",
            r.name.replace('"', "\"\""),
            r.samples,
            r.negatives,
            r.calls_per_sample,
            r.chains_per_sample,
            r.mean_chain_depth,
            r.max_chain_depth,
            r.parallel_share,
            r.unique_tools,
            r.unique_domains,
            r.query_words_mean,
            r.query_words_p50,
            r.query_words_p90,
            r.distinct_1,
            r.distinct_2,
            r.near_duplicate_queries,
            r.near_duplicate_chains,
            r.shapes.simple,
            r.shapes.multiple,
            r.shapes.parallel,
            r.shapes.parallel_multiple,
            r.shapes.distinct,
            r.related_distractor_share,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> HashSet<String> {
        query_shingles(&words(text))
    }

    #[test]
    fn near_duplicates_are_found_and_distinct_texts_are_not() {
        let base = "please find out how far lisbon is from madrid and then tell me the local time there tomorrow morning";
        let sets = vec![
            set(base),
            set(&format!("{base} please")),
            set("what is the greatest common divisor of 2026 and 360 for my homework tonight"),
            set("convert 12 miles into kilometres and round the answer to two decimals for me"),
        ];
        let rate = near_duplicate_rate(&sets);
        assert!((rate - 0.5).abs() < 1e-9, "{rate}");
        assert_eq!(near_duplicate_rate(&sets[2..]), 0.0);
    }

    fn shaped(listed: usize, calls: &[&str]) -> Sample {
        let function = |name: String| crate::sample::Function {
            name,
            description: String::new(),
            parameters: serde_json::json!({"type": "object"}),
            family: String::new(),
        };
        Sample {
            id: String::new(),
            source: String::new(),
            query: String::new(),
            tools: (0..listed).map(|i| function(format!("f{i}"))).collect(),
            calls: calls
                .iter()
                .map(|name| crate::sample::Call {
                    name: (*name).into(),
                    arguments: Default::default(),
                })
                .collect(),
            chain_lengths: vec![1; calls.len()],
            negative: false,
            trace: None,
        }
    }

    #[test]
    fn a_related_distractor_is_an_uncalled_function_of_a_called_family() {
        let mut sample = shaped(3, &["f0"]);
        let families = ["math", "text", "math"];
        for (tool, family) in sample.tools.iter_mut().zip(families) {
            tool.family = family.into();
        }
        assert!(lists_related_distractor(&sample));
        sample.tools[2].family = "time".into();
        assert!(!lists_related_distractor(&sample));
        // Unnamed families relate nothing.
        for tool in &mut sample.tools {
            tool.family.clear();
        }
        assert!(!lists_related_distractor(&sample));
    }

    #[test]
    fn call_shapes_follow_bfcl_categories() {
        assert_eq!(Shape::of(&shaped(1, &["a"])), Shape::Simple);
        assert_eq!(Shape::of(&shaped(3, &["a"])), Shape::Multiple);
        assert_eq!(Shape::of(&shaped(1, &["a", "a"])), Shape::Parallel);
        assert_eq!(Shape::of(&shaped(3, &["a", "a", "a"])), Shape::Parallel);
        assert_eq!(
            Shape::of(&shaped(3, &["a", "b", "a"])),
            Shape::ParallelMultiple
        );
        assert_eq!(Shape::of(&shaped(3, &["a", "b"])), Shape::Distinct);
        let samples = [
            shaped(1, &["a"]),
            shaped(2, &["a"]),
            shaped(2, &["a", "b", "b"]),
        ];
        let shares = shape_shares(&samples.iter().collect::<Vec<_>>());
        assert_eq!(shares.simple, 1.0 / 3.0);
        assert_eq!(shares.multiple, 1.0 / 3.0);
        assert_eq!(shares.parallel_multiple, 1.0 / 3.0);
        assert_eq!(shares.parallel + shares.distinct, 0.0);
        assert_eq!(shape_shares(&[]), ShapeShares::default());
    }

    #[test]
    fn diversity_and_percentiles() {
        let tokens = vec![words("a b a b"), words("c d")];
        assert!((distinct(&tokens, 1) - 4.0 / 6.0).abs() < 1e-9);
        assert!((distinct(&tokens, 2) - 3.0 / 4.0).abs() < 1e-9);
        assert_eq!(percentile(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), 9);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
