//! `toolgrad merge` for generate runs: joins the N folders of
//! `toolgrad generate --shard K/N` into the folder one machine would have
//! written.
//!
//! The shards must be one run: each holds `shard.json` ([`crate::shard`]),
//! together they hold every K of the same N once, and their `config.toml`,
//! `config.hash` and `tools.json` are byte-identical (so are the merged ones).
//! Every seed of each shard's slice must be finished (its `metadata/` file
//! exists). The per-seed files are copied as they are; `dataset.jsonl` and
//! `summary.json` are rebuilt over all seeds by the code that writes them at
//! the end of a run, so they equal an unsharded run's. Two fields measure a
//! machine rather than the data: `summary.json`'s `wall_time_s` becomes the
//! longest shard's (the job's wall time when the shards run at once) and
//! `resumed` the shards' sum. LLM caches (`cache/**/*.jsonl`) are joined in
//! shard order, one record per key, the first kept; their line order is
//! arrival order, so not even two unsharded runs share it.
//!
//! The folder is built under a hidden sibling name and renamed into place.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use toolgrad_core::jsonl::complete_lines;
use toolgrad_core::shard::{check_complete, StagedDir};

use crate::config::GenerateConfig;
use crate::error::{GenerateError, Result};
use crate::run::{file, finish, RunSummary};

/// The files of a shard folder that must be the same in every shard.
const SHARED: [&str; 3] = ["config.toml", "config.hash", crate::catalog::FILE];

/// What a shard folder holds besides its seeds.
struct ShardRun {
    /// The bytes of [`SHARED`], in order.
    shared: Vec<Vec<u8>>,
    summary: RunSummary,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| GenerateError::io(path, e))
}

impl ShardRun {
    fn read(dir: &Path) -> Result<Self> {
        let shared = SHARED
            .iter()
            .map(|name| read(&dir.join(name)))
            .collect::<Result<_>>()?;
        let path = dir.join("summary.json");
        if !path.exists() {
            return Err(GenerateError::io(
                &path,
                "missing: the shard has not finished; re-run its command",
            ));
        }
        let summary = serde_json::from_slice(&read(&path)?)
            .map_err(|e| GenerateError::data(&path, e.line(), e.to_string()))?;
        Ok(Self { shared, summary })
    }
}

/// Joins the shard folders `dirs` (any order) into `out`, which must not
/// exist or be empty, and returns the merged run's summary.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<RunSummary> {
    let mut shards = Vec::with_capacity(dirs.len());
    for dir in dirs {
        shards.push((dir.clone(), crate::shard::read(dir)?, ShardRun::read(dir)?));
    }
    let shards = check_complete(shards)?;
    let (first_dir, _, first) = &shards[0];
    for (dir, _, run) in &shards[1..] {
        if let Some(i) = (0..SHARED.len()).find(|&i| run.shared[i] != first.shared[i]) {
            return Err(GenerateError::config(
                &dir.join(SHARED[i]),
                format!(
                    "differs from {}: {} and {} are not shards of one run (same config, same --num-seeds)",
                    first_dir.join(SHARED[i]).display(),
                    dir.display(),
                    first_dir.display()
                ),
            ));
        }
    }
    let config_path = first_dir.join(SHARED[0]);
    let text = String::from_utf8(first.shared[0].clone())
        .map_err(|e| GenerateError::config(&config_path, e.to_string()))?;
    let config = GenerateConfig::parse(&text, &config_path)?;
    let seeds = config.seeds();

    let staged = StagedDir::new(out).map_err(|e| GenerateError::io(out, e))?;
    let root = staged.path();
    for (name, bytes) in SHARED.iter().zip(&first.shared) {
        write(&root.join(name), bytes)?;
    }
    // The lock file every run leaves behind, so the layouts match.
    write(&root.join(".lock"), b"")?;
    for folder in ["data", "trace", "metadata"] {
        let dir = root.join(folder);
        std::fs::create_dir_all(&dir).map_err(|e| GenerateError::io(&dir, e))?;
    }
    for (dir, shard, _) in &shards {
        for seed in shard.select(seeds.iter().copied()) {
            if !file(dir, "metadata", seed).exists() {
                return Err(GenerateError::io(
                    &file(dir, "metadata", seed),
                    format!(
                        "missing: shard {shard} has not finished seed {seed}; re-run its command"
                    ),
                ));
            }
            for folder in ["data", "trace", "metadata"] {
                let from = file(dir, folder, seed);
                if folder != "data" || from.exists() {
                    write(&file(root, folder, seed), &read(&from)?)?;
                }
            }
        }
    }
    let shard_dirs: Vec<&Path> = shards.iter().map(|(dir, _, _)| dir.as_path()).collect();
    merge_caches(&shard_dirs, &root.join("cache"), Path::new(""))?;
    let resumed = shards.iter().map(|(_, _, run)| run.summary.resumed).sum();
    let wall_time_s = shards
        .iter()
        .map(|(_, _, run)| run.summary.wall_time_s)
        .fold(0.0, f64::max);
    let summary = finish(root, config.method, &seeds, resumed, wall_time_s)?;
    staged.commit().map_err(|e| GenerateError::io(out, e))?;
    Ok(summary)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| GenerateError::io(dir, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| GenerateError::io(path, e))
}

/// Joins `<shard>/cache/<relative>` of every shard into `<merged>/<relative>`:
/// JSONL stores one record per `key` (the first shard's wins), other files
/// as the first shard that has them.
fn merge_caches(shards: &[&Path], merged: &Path, relative: &Path) -> Result<()> {
    let mut names: Vec<(PathBuf, bool)> = Vec::new();
    for shard in shards {
        let dir = shard.join("cache").join(relative);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.map_err(|e| GenerateError::io(&dir, e))?;
            let name = relative.join(entry.file_name());
            let is_dir = entry.path().is_dir();
            if !names.iter().any(|(n, _)| *n == name) {
                names.push((name, is_dir));
            }
        }
    }
    names.sort();
    for (name, is_dir) in names {
        let target = merged.join(&name);
        let sources: Vec<PathBuf> = shards
            .iter()
            .map(|shard| shard.join("cache").join(&name))
            .filter(|path| path.exists())
            .collect();
        if is_dir {
            std::fs::create_dir_all(&target).map_err(|e| GenerateError::io(&target, e))?;
            merge_caches(shards, merged, &name)?;
        } else if name.extension().is_some_and(|e| e == "jsonl") {
            write(&target, &join_jsonl(&sources)?)?;
        } else if let Some(first) = sources.first() {
            write(&target, &read(first)?)?;
        }
    }
    Ok(())
}

/// The complete lines of `sources`, in order, keeping the first per `key`.
fn join_jsonl(sources: &[PathBuf]) -> Result<Vec<u8>> {
    let mut keys = HashSet::new();
    let mut joined = String::new();
    for path in sources {
        let text = String::from_utf8(read(path)?)
            .map_err(|e| GenerateError::data(path, 0, e.to_string()))?;
        // A line without its newline is a write a kill cut short.
        for (i, line) in complete_lines(&text).lines().enumerate() {
            let record: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| GenerateError::data(path, i + 1, e.to_string()))?;
            let Some(key) = record.get("key").and_then(|k| k.as_str()) else {
                return Err(GenerateError::data(
                    path,
                    i + 1,
                    "a cache record has no `key`",
                ));
            };
            if keys.insert(key.to_owned()) {
                joined.push_str(line);
                joined.push('\n');
            }
        }
    }
    Ok(joined.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches_join_one_record_per_key_in_shard_order() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (dir.path().join("one"), dir.path().join("two"));
        let put = |shard: &Path, name: &str, text: &str| {
            let path = shard.join("cache").join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        put(
            &one,
            "llm.jsonl",
            "{\"key\":\"a\",\"v\":1}\n{\"key\":\"b\",\"v\":1}\n",
        );
        // The same request answered in both shards, and a write a kill cut short.
        put(
            &two,
            "llm.jsonl",
            "{\"key\":\"b\",\"v\":2}\n{\"key\":\"c\",\"v\":2}\n{\"key\":",
        );
        put(
            &two,
            "toolbench/responses.jsonl",
            "{\"key\":\"x\",\"v\":2}\n",
        );
        let merged = dir.path().join("merged");
        merge_caches(&[&one, &two], &merged, Path::new("")).unwrap();
        assert_eq!(
            std::fs::read_to_string(merged.join("llm.jsonl")).unwrap(),
            "{\"key\":\"a\",\"v\":1}\n{\"key\":\"b\",\"v\":1}\n{\"key\":\"c\",\"v\":2}\n"
        );
        assert_eq!(
            std::fs::read_to_string(merged.join("toolbench/responses.jsonl")).unwrap(),
            "{\"key\":\"x\",\"v\":2}\n"
        );

        put(&two, "llm.jsonl", "{\"key\":\"b\"}\nnot json\n");
        let error = merge_caches(&[&one, &two], &merged, Path::new(""))
            .unwrap_err()
            .to_string();
        assert!(error.contains("two/cache/llm.jsonl:2"), "{error}");
    }
}
