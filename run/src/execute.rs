//! Running a plan: each stage folder holds `stage.json` (its key, its command,
//! whether it finished, and provenance). A finished stage with the same key is
//! skipped; an unfinished one with the same key resumes (every `toolgrad`
//! command resumes its own work); a folder written under another key is
//! cleared and the stage runs again.
//!
//! A stage runs under an exclusive lock on `<stage folder>.lock`, so several
//! `toolgrad run`s of one config share the work: each skips a stage another
//! process holds, and the stages that need it, and takes the next free one.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use toolgrad_core::fsutil::{try_lock, write_atomic};

use crate::error::{Result, RunError};
use crate::plan::{file_hash, Kind, Plan, Stage};

pub const MARKER: &str = "stage.json";

/// Where and how a stage ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub toolgrad_version: String,
    pub git_commit: Option<String>,
    pub run_config: PathBuf,
    pub run_config_sha256: String,
    pub model_sha256: Option<String>,
    pub hostname: Option<String>,
    pub os: String,
    pub arch: String,
    pub cpus: usize,
    pub started_unix_s: u64,
    pub finished_unix_s: Option<u64>,
}

/// `stage.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    pub stage: String,
    pub key: String,
    pub done: bool,
    pub command: Vec<String>,
    pub provenance: Provenance,
}

/// Runs one stage's command.
pub trait Exec {
    fn run(&mut self, stage: &Stage) -> std::result::Result<(), String>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Cached,
    Ran,
    Resumed,
    /// Left for later by `--until`.
    Skipped,
    /// Being run by another process.
    Busy,
    /// Needs a stage that another process is still running.
    Waiting,
}

impl Outcome {
    /// Whether the stage's output is complete after this run.
    fn finished(self) -> bool {
        matches!(self, Outcome::Cached | Outcome::Ran | Outcome::Resumed)
    }
}

/// Takes the stage's lock, or `None` when another process holds it.
fn lock(stage: &Stage) -> Result<Option<std::fs::File>> {
    let mut name = stage.dir.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    try_lock(&path).map_err(|e| RunError::io(&path, e))
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Re-run stages of this kind and everything downstream of them.
    pub from: Option<Kind>,
    /// Stop after the stages of this kind (`generate` on a cluster, say,
    /// and training elsewhere).
    pub until: Option<Kind>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn git_commit(dir: &Path) -> Option<String> {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

fn read_marker(dir: &Path) -> Result<Option<Marker>> {
    let path = dir.join(MARKER);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| RunError::config(&path, e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RunError::io(&path, e)),
    }
}

/// Whether a stage folder holds a finished stage.
pub fn is_done(dir: &Path) -> Result<bool> {
    Ok(read_marker(dir)?.is_some_and(|m| m.done))
}

fn write_marker(dir: &Path, marker: &Marker) -> Result<()> {
    let path = dir.join(MARKER);
    let mut text =
        serde_json::to_string_pretty(marker).map_err(|e| RunError::config(&path, e.to_string()))?;
    text.push('\n');
    write_atomic(&path, text.as_bytes()).map_err(|e| RunError::io(&path, e))
}

fn is_empty_dir(dir: &Path) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(RunError::io(dir, e)),
    }
}

fn clear(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RunError::io(dir, e)),
    }
}

/// Writes the stage's derived config, if it has one.
fn write_derived(stage: &Stage) -> Result<()> {
    let Some(derived) = &stage.derived else {
        return Ok(());
    };
    write_atomic(&derived.path, derived.text.as_bytes()).map_err(|e| RunError::io(&derived.path, e))
}

/// Writes each `head.to`: the first lines of `head.from`.
fn write_head(stage: &Stage) -> Result<()> {
    for head in &stage.head {
        let text = std::fs::read_to_string(&head.from).map_err(|e| RunError::io(&head.from, e))?;
        let mut out: String = text.lines().take(head.lines).collect::<Vec<_>>().join("\n");
        out.push('\n');
        write_atomic(&head.to, out.as_bytes()).map_err(|e| RunError::io(&head.to, e))?;
    }
    Ok(())
}

/// Runs every stage that is not done, in order; `log` gets one line per stage.
pub fn execute(
    plan: &Plan,
    run_config: &Path,
    options: &Options,
    exec: &mut dyn Exec,
    log: &mut dyn FnMut(String),
) -> Result<Vec<Outcome>> {
    let forced = match options.from {
        Some(kind) => plan.downstream_of(kind),
        None => vec![false; plan.stages.len()],
    };
    let config_hash = file_hash(run_config)?;
    let commit = run_config.parent().and_then(git_commit);
    let mut outcomes = Vec::new();
    let total = plan.stages.len();
    for (i, stage) in plan.stages.iter().enumerate() {
        let at = format!("[{}/{total}] {}", i + 1, stage.id);
        if options.until.is_some_and(|until| stage.kind > until) {
            log(format!("{at}: skipped (--until)"));
            outcomes.push(Outcome::Skipped);
            continue;
        }
        let unfinished = stage.deps.iter().find_map(|&d| {
            outcomes
                .get(d)
                .filter(|o: &&Outcome| !o.finished())
                .map(|&o| (d, o))
        });
        if let Some((dep, dep_outcome)) = unfinished {
            if dep_outcome == Outcome::Skipped {
                log(format!("{at}: skipped (needs {})", plan.stages[dep].id));
                outcomes.push(Outcome::Skipped);
            } else {
                log(format!("{at}: waits on {}", plan.stages[dep].id));
                outcomes.push(Outcome::Waiting);
            }
            continue;
        }
        let Some(_lock) = lock(stage)? else {
            log(format!("{at}: running in another process"));
            outcomes.push(Outcome::Busy);
            continue;
        };
        let marker = read_marker(&stage.dir)?;
        let same = marker.as_ref().filter(|m| m.key == stage.key);
        let outcome = match (forced[i], same) {
            (false, Some(m)) if m.done => Outcome::Cached,
            (false, Some(_)) => Outcome::Resumed,
            _ => {
                if marker.is_some() {
                    clear(&stage.dir)?;
                } else if !is_empty_dir(&stage.dir)? {
                    return Err(RunError::Stage {
                        stage: stage.id.clone(),
                        message: format!(
                            "{} holds files this run did not write; move it away or choose another --out",
                            stage.dir.display()
                        ),
                    });
                }
                Outcome::Ran
            }
        };
        if outcome == Outcome::Cached {
            log(format!("{at}: done (cached)"));
            outcomes.push(outcome);
            continue;
        }
        log(format!(
            "{at}: {} · toolgrad {}",
            if outcome == Outcome::Resumed {
                "resuming"
            } else {
                "running"
            },
            stage.argv.join(" ")
        ));
        std::fs::create_dir_all(&stage.dir).map_err(|e| RunError::io(&stage.dir, e))?;
        let provenance = Provenance {
            toolgrad_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: commit.clone(),
            run_config: run_config.to_owned(),
            run_config_sha256: config_hash.clone(),
            model_sha256: match &stage.model {
                Some(path) if path.is_file() => Some(file_hash(path)?),
                _ => None,
            },
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned()),
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            started_unix_s: now(),
            finished_unix_s: None,
        };
        let mut marker = Marker {
            stage: stage.id.clone(),
            key: stage.key.clone(),
            done: false,
            command: stage.argv.clone(),
            provenance,
        };
        write_marker(&stage.dir, &marker)?;
        write_head(stage)?;
        write_derived(stage)?;
        exec.run(stage).map_err(|message| RunError::Stage {
            stage: stage.id.clone(),
            message: format!("{message}; run the same command again to resume"),
        })?;
        marker.done = true;
        marker.provenance.finished_unix_s = Some(now());
        write_marker(&stage.dir, &marker)?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}
