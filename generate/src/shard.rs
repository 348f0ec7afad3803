//! `shard.json`: which slice of the seeds a run folder holds, written by
//! `toolgrad generate --shard K/N` and read by [`crate::merge`]. Seed `i` of
//! the config's seeds (0-based) belongs to shard `i mod N + 1`
//! ([`toolgrad_core::shard::Shard`]). A folder never mixes slices: resuming a
//! shard folder with another `--shard` (or none), or sharding into a folder
//! that holds an unsharded run, is refused.

use std::path::Path;

use serde::{Deserialize, Serialize};
use toolgrad_core::fsutil::write_atomic;
use toolgrad_core::shard::Shard;

use crate::error::{GenerateError, Result};

/// The manifest's file name inside a run folder.
pub const FILE: &str = "shard.json";

/// What `shard.json` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    shard: Shard,
}

/// The shard `dir` holds, if it is a shard folder; a malformed manifest is
/// an error naming it.
fn existing(dir: &Path) -> Result<Option<Shard>> {
    let path = dir.join(FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| GenerateError::io(&path, e))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| GenerateError::data(&path, e.line(), e.to_string()))?;
    Ok(Some(manifest.shard))
}

/// The shard a folder of `toolgrad generate --shard K/N` holds.
pub fn read(dir: &Path) -> Result<Shard> {
    existing(dir)?.ok_or_else(|| {
        GenerateError::io(
            &dir.join(FILE),
            "missing: the folder was not written by `toolgrad generate --shard K/N`",
        )
    })
}

/// Checks `shard` against what `out` already holds, then records it.
pub fn record(out: &Path, shard: Option<Shard>) -> Result<()> {
    let path = out.join(FILE);
    match (existing(out)?, shard) {
        (Some(held), Some(asked)) if held == asked => Ok(()),
        (Some(held), _) => Err(GenerateError::config(
            &path,
            format!(
                "{} holds shard {held} of a run; resume it with --shard {held}, or use a new --out",
                out.display()
            ),
        )),
        (None, Some(asked)) if out.join("config.hash").exists() => Err(GenerateError::config(
            &path,
            format!(
                "{} holds an unsharded run; write shard {asked} to a new --out",
                out.display()
            ),
        )),
        (None, Some(asked)) => {
            let text = serde_json::to_string_pretty(&Manifest { shard: asked })
                .map_err(|e| GenerateError::io(&path, e))?;
            write_atomic(&path, format!("{text}\n").as_bytes())
                .map_err(|e| GenerateError::io(&path, e))
        }
        (None, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_keeps_its_slice() {
        let dir = tempfile::tempdir().unwrap();
        let one: Shard = "1/2".parse().unwrap();
        record(dir.path(), Some(one)).unwrap();
        record(dir.path(), Some(one)).unwrap();
        assert_eq!(read(dir.path()).unwrap(), one);
        for other in [Some("2/2".parse().unwrap()), None] {
            let error = record(dir.path(), other).unwrap_err().to_string();
            assert!(error.contains("resume it with --shard 1/2"), "{error}");
        }

        let unsharded = tempfile::tempdir().unwrap();
        std::fs::write(unsharded.path().join("config.hash"), "abc\n").unwrap();
        let error = record(unsharded.path(), Some(one)).unwrap_err().to_string();
        assert!(error.contains("holds an unsharded run"), "{error}");
        record(unsharded.path(), None).unwrap();
        let error = read(unsharded.path()).unwrap_err().to_string();
        assert!(error.contains("--shard K/N"), "{error}");
    }
}
