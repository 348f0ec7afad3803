//! Scoring speed: judging every entry of the 13 BFCL single-turn categories
//! (3,641 reference replies) in-process, and decoding alone.

use criterion::{criterion_group, criterion_main, Criterion};
use toolgrad_benchmarks::bfcl_data_dir;
use toolgrad_eval::category::Category;
use toolgrad_eval::dataset::{load_category, Entry};
use toolgrad_eval::decode::python::decode_prompt_reply;
use toolgrad_eval::reference::{reference_reply, ReferenceAnswers};
use toolgrad_eval::score::{judge_entry, ScoreOptions};

fn all_entries() -> Vec<(Category, Entry, serde_json::Value)> {
    let data = bfcl_data_dir();
    Category::ALL
        .iter()
        .flat_map(|&category| {
            load_category(&data, category)
                .expect("BFCL data loads")
                .into_iter()
                .map(move |entry| {
                    let reply = reference_reply(&entry, category, ReferenceAnswers::GroundTruth);
                    (category, entry, serde_json::Value::String(reply))
                })
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let entries = all_entries();
    c.bench_function("judge 13 categories (3,641 entries)", |b| {
        b.iter(|| {
            entries
                .iter()
                .filter(|(category, entry, reply)| {
                    judge_entry(*category, entry, reply, ScoreOptions::default()).valid
                })
                .count()
        })
    });
    let replies: Vec<&str> = entries
        .iter()
        .filter(|(category, ..)| *category == Category::LiveMultiple)
        .filter_map(|(_, _, reply)| reply.as_str())
        .collect();
    c.bench_function("decode live_multiple replies (1,053)", |b| {
        b.iter(|| {
            replies
                .iter()
                .filter(|r| decode_prompt_reply(r).is_ok())
                .count()
        })
    });
    let data = bfcl_data_dir();
    c.bench_function("load live_multiple data", |b| {
        b.iter(|| load_category(&data, Category::LiveMultiple).unwrap().len())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
