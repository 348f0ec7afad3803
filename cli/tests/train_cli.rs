//! `toolgrad train` as a user runs it: killed with SIGKILL mid-run and started
//! again with the same command, it ends where an uninterrupted run ends.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use toolgrad_model::synthetic::{write_synthetic_gguf, SyntheticSpec};

const TOOLGRAD: &str = env!("CARGO_BIN_EXE_toolgrad");

fn train_command(dir: &Path, out: &str) -> Command {
    let mut command = Command::new(TOOLGRAD);
    command
        .args(["train", "--config"])
        .arg(dir.join("train.toml"))
        .arg("--data")
        .arg(dir.join("sft.jsonl"))
        .arg("--model")
        .arg(dir.join("tiny.gguf"))
        .arg("--out")
        .arg(dir.join(out))
        .env("RAYON_NUM_THREADS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn final_losses(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {} {:.6}",
                v["kind"],
                v["step"],
                v["loss"].as_f64().unwrap()
            )
        })
        .collect()
}

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_loss() {
    let dir = tempfile::tempdir().unwrap();
    write_synthetic_gguf(&dir.path().join("tiny.gguf"), &SyntheticSpec::default()).unwrap();
    let lines: Vec<String> = (0..8)
        .map(|i| {
            serde_json::json!({"messages": [
                {"role": "user", "content": format!("add {i} and {}", i + 1)},
                {"role": "assistant", "content": format!("[add(a={i}, b={})]", i + 1)},
            ]})
            .to_string()
        })
        .collect();
    std::fs::write(dir.path().join("sft.jsonl"), lines.join("\n")).unwrap();
    std::fs::write(
        dir.path().join("train.toml"),
        "method = \"lora\"\nmax_len = 64\nbatch_size = 2\nepochs = 60\nlearning_rate = 1e-3\n\
         save_every = 1\neval_fraction = 0.25\neval_every = 7\n\
         lora = { rank = 4, alpha = 8.0, dropout = 0.1, targets = [\"q_proj\", \"v_proj\", \"down_proj\"] }\n",
    )
    .unwrap();

    assert!(train_command(dir.path(), "straight")
        .status()
        .unwrap()
        .success());

    let mut child = train_command(dir.path(), "killed").spawn().unwrap();
    let latest = dir.path().join("killed/checkpoints/latest");
    let started = Instant::now();
    loop {
        let step = std::fs::read_to_string(&latest).unwrap_or_default();
        if step.as_str() >= "step-000005" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !dir.path().join("killed/train.json").exists(),
        "the run was killed before it finished"
    );
    assert!(train_command(dir.path(), "killed")
        .status()
        .unwrap()
        .success());
    assert_eq!(
        final_losses(&dir.path().join("killed")),
        final_losses(&dir.path().join("straight"))
    );
    assert!(dir.path().join("killed/model/model.safetensors").exists());
}
