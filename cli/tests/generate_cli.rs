//! `toolgrad generate` and `toolgrad verify` end to end: the offline default,
//! an LLM run against the mock endpoint killed with SIGKILL midway and
//! resumed (same dataset as an uninterrupted run), and verify's exit codes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use toolgrad_testkit::{serve, MockOptions};

mod common;

use common::{generate_command, run_blocking, TOOLGRAD};

fn generate(config: &Path, out: &Path) -> std::process::Output {
    generate_command(config, out, &[]).output().unwrap()
}

/// `generate` off the async runtime, so the in-process mock keeps serving.
async fn generate_blocking(config: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    run_blocking(generate_command(config, out, extra)).await
}

fn verify(dataset: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(TOOLGRAD)
        .arg("verify")
        .arg(dataset)
        .args(extra)
        .output()
        .unwrap()
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn offline_default_verifies_and_verify_names_broken_lines() {
    let out = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/generate-offline.toml");
    let run = generate(&config, out.path());
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let check = verify(out.path(), &[]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        stdout.contains("48/48 samples passed (100.0 %)"),
        "{stdout}"
    );

    // Tamper with one recorded observation and break another line.
    let dataset = out.path().join("dataset.jsonl");
    let text = std::fs::read_to_string(&dataset).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut record: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    record["api_use_chains"]["api_use_chain_1"]["intermediate_steps"][0][1] =
        "{\"made\": \"up\"}".into();
    lines[1] = record.to_string();
    lines[3] = "{\"query\": ".into();
    // A query value no call takes, and a response number nothing observed.
    let mut record: serde_json::Value = serde_json::from_str(&lines[5]).unwrap();
    record["query"] = format!("{} Also for 98765.", record["query"].as_str().unwrap()).into();
    record["response"] = "The answer is 31337.".into();
    lines[5] = record.to_string();
    std::fs::write(&dataset, lines.join("\n") + "\n").unwrap();
    let check = verify(out.path(), &["--strict"]);
    assert_eq!(check.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("different observation"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 4") && stderr.contains("not a dataset record"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 6")
            && stderr.contains("[query values] the query states 98765")
            && stderr.contains("[response values] the response states 31337"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(stdout.contains("45/48"), "{stdout}");
    let tally = |name: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(tally("query values").contains("46/47"), "{stdout}");
    assert!(tally("re-execution").contains("46/47"), "{stdout}");
    // Without --strict the text checks are reported, not failed.
    let lenient = verify(out.path(), &[]);
    assert_eq!(lenient.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&lenient.stdout).contains("46/48"));
    assert!(String::from_utf8_lossy(&lenient.stderr).contains("line 6 (00006), passed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_llm_run_resumes_to_the_uninterrupted_dataset() {
    let options = MockOptions {
        latency: Duration::from_millis(40),
        ..MockOptions::default()
    };
    let server = serve(options, 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.toml");
    std::fs::write(
        &config,
        format!(
            r#"
num_seeds = 16
num_apis = 10
num_proposals = 2
max_iter = 3
concurrency = 2
[policy]
proposer = "llm"
executor = "llm"
selector = "llm"
inverse = "llm"
[llm]
base_url = "{}"
model = "mock"
temperature = 1.0
input_usd_per_million = 0.1
output_usd_per_million = 0.4
[[tools]]
kind = "builtin"
"#,
            server.base_url()
        ),
    )
    .unwrap();
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    let run = generate_blocking(&config, &whole, &[]).await;
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let mut child = generate_command(&config, &killed, &[])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while files_in(&killed.join("metadata")) < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run made no progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done = files_in(&killed.join("metadata"));
    assert!(done < 16, "killed too late to test anything");
    assert!(!killed.join("dataset.jsonl").exists());
    // Whatever was written under a final name is complete.
    for folder in ["data", "trace", "metadata"] {
        for entry in std::fs::read_dir(killed.join(folder)).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !name.starts_with('.') {
                let text = std::fs::read_to_string(entry.path()).unwrap();
                serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }

    let resumed = generate_blocking(&config, &killed, &[]).await;
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("({done} resumed)")), "{stderr}");
    let read = |d: &Path| std::fs::read(d.join("dataset.jsonl")).unwrap();
    assert_eq!(read(&whole), read(&killed));
    assert!(!read(&whole).is_empty());

    // `--replay` on the uninterrupted run's cache: same bytes, no request served.
    let replay_config = dir.path().join("replay.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let cache = whole.join("cache");
    std::fs::write(
        &replay_config,
        format!("{text}\n[cache]\ndir = {:?}\n", cache.display().to_string()),
    )
    .unwrap();
    let replayed = dir.path().join("replayed");
    let served = server.requests();
    let run = generate_blocking(&replay_config, &replayed, &["--replay"]).await;
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(server.requests(), served);
    assert_eq!(read(&whole), read(&replayed));

    // `--replay <recorded run>` names its source; the config stays as it was.
    let again = dir.path().join("again");
    let whole_arg: &'static str = Box::leak(whole.display().to_string().into_boxed_str());
    let extra: &'static [&'static str] = Box::leak(vec!["--replay", whole_arg].into_boxed_slice());
    let run = generate_blocking(&config, &again, extra).await;
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(server.requests(), served);
    assert_eq!(read(&whole), read(&again));

    // A replay of a run that recorded nothing fails loudly, not with 0 samples.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(empty.join("cache")).unwrap();
    std::fs::write(empty.join("cache/llm.jsonl"), "").unwrap();
    let empty_arg: &'static str = Box::leak(empty.display().to_string().into_boxed_str());
    let extra: &'static [&'static str] = Box::leak(vec!["--replay", empty_arg].into_boxed_slice());
    let run = generate_blocking(&config, &dir.path().join("none"), extra).await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no recorded reply") && stderr.contains("config or the code changed"),
        "{stderr}"
    );
}
