//! `--shard K/N`: one of N deterministic slices of a run's seeds or entries,
//! so that N machines (a Slurm job array, a Kubernetes Indexed Job) split one
//! run without talking to each other. Position `i` (0-based, in run order)
//! belongs to shard `i mod N + 1`, whatever the timing; `toolgrad merge`
//! joins the N folders into what one machine would have written.
//!
//! Also here: the check that a set of shard folders is one whole run (the same
//! N, every K exactly once), and [`StagedDir`], which builds a merged folder
//! beside its destination and renames it into place, so no reader ever sees
//! half of one.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Shard `index` of `count` (1-based: `1 <= index <= count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ShardFields")]
pub struct Shard {
    index: u64,
    count: u64,
}

/// The serialised form, checked on the way in.
#[derive(Deserialize)]
struct ShardFields {
    index: u64,
    count: u64,
}

impl TryFrom<ShardFields> for Shard {
    type Error = ShardError;

    fn try_from(fields: ShardFields) -> Result<Self, ShardError> {
        Shard::new(fields.index, fields.count)
    }
}

/// Why a shard or a set of shard folders is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("expected K/N with 1 <= K <= N (e.g. 1/4), got `{0}`")]
    Syntax(String),
    #[error("{} is shard {shard} but {} is shard {first}: they split the run differently", dir.display(), first_dir.display())]
    Counts {
        dir: PathBuf,
        shard: Shard,
        first_dir: PathBuf,
        first: Shard,
    },
    #[error("{} and {} are both shard {shard}", first.display(), second.display())]
    Duplicate {
        first: PathBuf,
        second: PathBuf,
        shard: Shard,
    },
    #[error("shard {0} is missing: pass every shard folder of the run")]
    Missing(Shard),
    #[error("no shard folders given")]
    Empty,
}

impl Shard {
    /// Shard `index` of `count`; refused unless `1 <= index <= count`.
    pub fn new(index: u64, count: u64) -> Result<Self, ShardError> {
        if index == 0 || index > count {
            return Err(ShardError::Syntax(format!("{index}/{count}")));
        }
        Ok(Self { index, count })
    }

    /// K, 1-based.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// N.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether the item at `position` (0-based, in run order) is this shard's.
    pub fn includes(&self, position: usize) -> bool {
        position as u64 % self.count == self.index - 1
    }

    /// This shard's items of `items`, in order.
    pub fn select<T>(&self, items: impl IntoIterator<Item = T>) -> Vec<T> {
        items
            .into_iter()
            .enumerate()
            .filter(|(position, _)| self.includes(*position))
            .map(|(_, item)| item)
            .collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Self, ShardError> {
        let syntax = || ShardError::Syntax(text.to_owned());
        let (index, count) = text.trim().split_once('/').ok_or_else(syntax)?;
        let index = index.trim().parse().map_err(|_| syntax())?;
        let count = count.trim().parse().map_err(|_| syntax())?;
        Shard::new(index, count).map_err(|_| syntax())
    }
}

/// Checks that `shards` (folder, shard) are one whole run: the same N and
/// every K from 1 to N exactly once. Returns them sorted by K.
pub fn check_complete<T>(
    mut shards: Vec<(PathBuf, Shard, T)>,
) -> Result<Vec<(PathBuf, Shard, T)>, ShardError> {
    let (first_dir, first) = match shards.first() {
        Some((dir, shard, _)) => (dir.clone(), *shard),
        None => return Err(ShardError::Empty),
    };
    if let Some((dir, shard, _)) = shards.iter().find(|(_, s, _)| s.count != first.count) {
        return Err(ShardError::Counts {
            dir: dir.clone(),
            shard: *shard,
            first_dir,
            first,
        });
    }
    shards.sort_by_key(|(_, shard, _)| shard.index);
    if let Some(pair) = shards.windows(2).find(|w| w[0].1 == w[1].1) {
        return Err(ShardError::Duplicate {
            first: pair[0].0.clone(),
            second: pair[1].0.clone(),
            shard: pair[0].1,
        });
    }
    if let Some(index) = (1..=first.count).find(|k| shards.iter().all(|(_, s, _)| s.index != *k)) {
        return Err(ShardError::Missing(Shard {
            index,
            count: first.count,
        }));
    }
    Ok(shards)
}

/// A folder built under a hidden sibling name and renamed to its destination
/// by [`StagedDir::commit`]; dropped uncommitted, it is removed.
pub struct StagedDir {
    staging: PathBuf,
    out: PathBuf,
    committed: bool,
}

impl StagedDir {
    /// Starts building `out`, which must not exist or be an empty folder.
    pub fn new(out: &Path) -> io::Result<Self> {
        if out.exists() && fs::read_dir(out)?.next().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the folder is not empty; merge into a new --out",
            ));
        }
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent)?;
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".to_owned());
        let staging = parent.join(format!(".{name}.staging{}", std::process::id()));
        if staging.exists() {
            fs::remove_dir_all(&staging)?;
        }
        fs::create_dir(&staging)?;
        Ok(Self {
            staging,
            out: out.to_owned(),
            committed: false,
        })
    }

    /// Where to write the folder's files.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Renames the built folder to its destination (replacing an empty one).
    pub fn commit(mut self) -> io::Result<()> {
        fs::rename(&self.staging, &self.out)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_refuses_everything_else() {
        let shard: Shard = "2/3".parse().unwrap();
        assert_eq!((shard.index(), shard.count()), (2, 3));
        assert_eq!(shard.to_string(), "2/3");
        for bad in ["0/2", "3/2", "1/0", "2", "a/b", "1/2/3", "", "-1/2"] {
            let error = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(error.contains("1 <= K <= N"), "{bad}: {error}");
        }
        let json: Result<Shard, _> = serde_json::from_str(r#"{"index": 0, "count": 2}"#);
        assert!(json.is_err(), "a manifest cannot smuggle in shard 0");
    }

    #[test]
    fn every_position_goes_to_exactly_one_shard() {
        let shards: Vec<Shard> = (1..=3).map(|k| Shard::new(k, 3).unwrap()).collect();
        let slices: Vec<Vec<usize>> = shards.iter().map(|s| s.select(0..8)).collect();
        assert_eq!(slices, [vec![0, 3, 6], vec![1, 4, 7], vec![2, 5]]);
    }

    #[test]
    fn a_set_must_hold_every_shard_once() {
        let set = |specs: &[&str]| {
            let shards = specs
                .iter()
                .map(|s| (PathBuf::from(format!("d{s}")), s.parse().unwrap(), ()))
                .collect();
            check_complete(shards).map(|v| v.iter().map(|s| s.1.index()).collect::<Vec<_>>())
        };
        assert_eq!(set(&["2/2", "1/2"]).unwrap(), [1, 2]);
        assert!(matches!(set(&["1/2"]), Err(ShardError::Missing(s)) if s.index() == 2));
        let duplicate = set(&["1/2", "2/2", "2/2"]).unwrap_err().to_string();
        assert!(duplicate.contains("both shard 2/2"), "{duplicate}");
        let counts = set(&["1/2", "2/3"]).unwrap_err().to_string();
        assert!(counts.contains("d2/3 is shard 2/3"), "{counts}");
        assert_eq!(set(&[]), Err(ShardError::Empty));
    }

    #[test]
    fn a_staged_folder_appears_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("merged");
        let staged = StagedDir::new(&out).unwrap();
        fs::write(staged.path().join("a"), "1").unwrap();
        drop(staged);
        assert!(!out.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "no debris");

        fs::create_dir(&out).unwrap();
        let staged = StagedDir::new(&out).unwrap();
        fs::write(staged.path().join("a"), "1").unwrap();
        staged.commit().unwrap();
        assert_eq!(fs::read_to_string(out.join("a")).unwrap(), "1");
        assert!(StagedDir::new(&out).is_err(), "a full folder is refused");
    }
}
