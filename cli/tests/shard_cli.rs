//! `--shard K/N` and `toolgrad merge`: an offline generate run and an
//! `eval bfcl` run against a scripted endpoint, each run whole and as shards;
//! the merged folder must equal the whole run's file for file, byte for byte
//! (apart from the measured `wall_time_s` and `latency`), and merges of
//! folders that are not one run must be refused with the folder named.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

// This binary drives no in-process mock, so it needs no `run_blocking`.
#[allow(dead_code)]
mod common;

use common::{generate_command, TOOLGRAD};
use toolgrad_core::llm::ChatRequest;
use toolgrad_testkit::{serve_in_thread, MockOptions, Reply, Responder};

fn toolgrad(args: &[&str]) -> Output {
    Command::new(TOOLGRAD).args(args).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn succeeded(output: Output) -> Output {
    assert!(output.status.success(), "{}", stderr(&output));
    output
}

/// Fails with the command's exit code 2 and an error containing every part.
fn refused(output: Output, parts: &[&str]) {
    let error = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{error}");
    for part in parts {
        assert!(error.contains(part), "expected `{part}` in: {error}");
    }
}

fn merge(out: &Path, shards: &[&Path], extra: &[&str]) -> Output {
    let mut command = Command::new(TOOLGRAD);
    command
        .arg("merge")
        .arg("--out")
        .arg(out)
        .args(shards)
        .args(extra);
    command.output().unwrap()
}

/// Every file under `dir` (hidden ones too), relative, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `text` with the value of every `"<field>":` blanked; nothing else changes.
fn mask(text: &str, field: &str) -> String {
    let key = format!("\"{field}\":");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&key) {
        let value = &rest[at + key.len()..];
        let end = value.find([',', '}', '\n']).unwrap_or(value.len());
        out.push_str(&rest[..at + key.len()]);
        out.push('_');
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

/// Asserts that the two folders hold the same files with the same bytes,
/// `masked` fields apart; returns how many files were compared.
fn assert_same_folders(whole: &Path, merged: &Path, masked: &str) -> usize {
    let names = files(whole);
    assert_eq!(names, files(merged), "the same files");
    for name in &names {
        let (a, b) = (
            std::fs::read(whole.join(name)).unwrap(),
            std::fs::read(merged.join(name)).unwrap(),
        );
        if a != b {
            let (a, b) = (String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
            assert_eq!(
                mask(&a, masked),
                mask(&b, masked),
                "{} differs beyond `{masked}`",
                name.display()
            );
        }
    }
    names.len()
}

fn offline_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/generate-offline-short.toml")
}

fn generate(out: &Path, extra: &[&str]) -> Output {
    generate_command(&offline_config(), out, extra)
        .output()
        .unwrap()
}

#[test]
fn two_generate_shards_merge_into_the_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let seeds = ["--num-seeds", "7"];
    succeeded(generate(&path("whole"), &seeds));
    for k in ["1", "2"] {
        let shard = format!("{k}/2");
        succeeded(generate(
            &path(&format!("shard{k}")),
            &[&seeds[..], &["--shard", &shard]].concat(),
        ));
    }
    let shard1: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("shard1/summary.json")).unwrap())
            .unwrap();
    assert_eq!(shard1["seeds"], 4, "seeds 1, 3, 5, 7");
    assert!(path("shard2/metadata/00002.json").exists());
    assert!(!path("shard2/metadata/00001.json").exists());

    // Any order of the folders.
    succeeded(merge(
        &path("merged"),
        &[&path("shard2"), &path("shard1")],
        &[],
    ));
    let compared = assert_same_folders(&path("whole"), &path("merged"), "wall_time_s");
    assert!(compared >= 7 * 2 + 5, "{compared} files");
    let dataset = std::fs::read_to_string(path("merged/dataset.jsonl")).unwrap();
    assert!(dataset.lines().count() >= 5, "{dataset}");
    assert!(
        !path("merged/shard.json").exists(),
        "the merged run is unsharded"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        4,
        "no staging folder left"
    );
    succeeded(toolgrad(&["verify", path("merged").to_str().unwrap()]));

    // A shard resumed as another shard, or a whole run resumed as a shard.
    refused(
        generate(&path("shard1"), &[&seeds[..], &["--shard", "2/2"]].concat()),
        &["holds shard 1/2", "--shard 1/2"],
    );
    refused(
        generate(&path("whole"), &[&seeds[..], &["--shard", "1/2"]].concat()),
        &["holds an unsharded run"],
    );
}

#[test]
fn merges_of_folders_that_are_not_one_run_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    for bad in ["0/2", "3/2", "2", "x/y"] {
        refused(
            generate(&path("bad"), &["--num-seeds", "2", "--shard", bad]),
            &["--shard", "1 <= K <= N"],
        );
    }
    assert!(!path("bad").exists());
    for (name, seeds, shard) in [
        ("one", "4", "1/2"),
        ("two", "4", "2/2"),
        ("other", "5", "2/2"),
        ("three", "4", "2/3"),
    ] {
        succeeded(generate(
            &path(name),
            &["--num-seeds", seeds, "--shard", shard],
        ));
    }
    let (one, two, other, three) = (path("one"), path("two"), path("other"), path("three"));
    let out = path("merged");
    refused(merge(&out, &[&one], &[]), &["shard 2/2 is missing"]);
    refused(
        merge(&out, &[&one, &two, &two], &[]),
        &["both shard 2/2", two.to_str().unwrap()],
    );
    refused(
        merge(&out, &[&one, &other], &[]),
        &[
            other.to_str().unwrap(),
            "config.toml",
            "not shards of one run",
        ],
    );
    refused(
        merge(&out, &[&one, &three], &[]),
        &[three.to_str().unwrap(), "is shard 2/3"],
    );
    succeeded(generate(&path("whole"), &["--num-seeds", "4"]));
    refused(
        merge(&out, &[&path("whole"), &two], &[]),
        &["whole/shard.json", "--shard K/N"],
    );
    let stale = path("stale");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("x"), "").unwrap();
    refused(merge(&stale, &[&one, &two], &[]), &["stale", "not empty"]);
    // An unfinished shard: a seed's metadata is gone.
    std::fs::remove_file(two.join("metadata/00004.json")).unwrap();
    refused(
        merge(&out, &[&one, &two], &[]),
        &["00004.json", "has not finished seed 4"],
    );
    refused(
        merge(&out, &[&path("nothing")], &[]),
        &["not a shard folder"],
    );
    assert!(!out.exists(), "a refused merge writes nothing");
}

/// A BFCL data dir: five simple_python entries ("<n>!?", ground truth
/// `math.factorial(number=n)` for even entries, n + 1 for odd ones) and three
/// irrelevance entries.
fn dataset(dir: &Path) {
    let doc = r#"{"name": "math.factorial", "description": "N!", "parameters": {"type": "dict", "properties": {"number": {"type": "integer", "description": "N."}}, "required": ["number"]}}"#;
    let question = |id: &str, n: usize| {
        format!(
            r#"{{"id": "{id}", "question": [[{{"role": "user", "content": "{n}!?"}}]], "function": [{doc}]}}"#
        )
    };
    let (mut questions, mut answers, mut irrelevance) =
        (String::new(), String::new(), String::new());
    for i in 0..5 {
        questions += &question(&format!("simple_python_{i}"), i);
        questions.push('\n');
        let truth = if i % 2 == 0 { i } else { i + 1 };
        answers += &format!(
            r#"{{"id": "simple_python_{i}", "ground_truth": [{{"math.factorial": {{"number": [{truth}]}}}}]}}"#
        );
        answers.push('\n');
    }
    for i in 0..3 {
        irrelevance += &question(&format!("irrelevance_{i}"), i + 10);
        irrelevance.push('\n');
    }
    std::fs::create_dir_all(dir.join("possible_answer")).unwrap();
    std::fs::write(dir.join("BFCL_v4_simple_python.json"), questions).unwrap();
    std::fs::write(
        dir.join("possible_answer/BFCL_v4_simple_python.json"),
        answers,
    )
    .unwrap();
    std::fs::write(dir.join("BFCL_v4_irrelevance.json"), irrelevance).unwrap();
}

/// A chat-completions server on 127.0.0.1 that answers "<n>!?" with
/// `[math.factorial(number=<n>)]`, and n ≥ 11 with a refusal.
fn serve_factorial() -> String {
    let reply = |request: &ChatRequest| {
        let asked = request
            .messages
            .last()
            .and_then(|m| m.content.as_deref())
            .unwrap_or_default();
        let n: u64 = asked.trim_end_matches("!?").parse().unwrap_or(0);
        let content = if n >= 11 {
            "I cannot help with that.".to_owned()
        } else {
            format!("[math.factorial(number={n})]")
        };
        Reply::text(content, 40 + n, 9)
    };
    let options = MockOptions {
        responder: Responder::new(reply),
        ..MockOptions::default()
    };
    serve_in_thread(options).unwrap().base_url()
}

#[test]
fn eval_bfcl_shards_merge_into_the_unsharded_run_and_score_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let data = path("data");
    dataset(&data);
    let config = path("models.toml");
    std::fs::write(
        &config,
        format!(
            "[models.mock]\nbase_url = \"{}\"\nmodel = \"m\"\n",
            serve_factorial()
        ),
    )
    .unwrap();
    let bfcl = |out: &Path, extra: &[&str]| {
        let mut command = Command::new(TOOLGRAD);
        command
            .args(["eval", "bfcl", "--model", "mock", "--config"])
            .arg(&config)
            .args(["--categories", "simple_python,irrelevance", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(out)
            .args(extra);
        command.output().unwrap()
    };
    let data_arg = ["--data", data.to_str().unwrap()];

    // A full run, and a --limit run where shard 2/2 has no entries at all.
    for (name, limit) in [("full", &[][..]), ("smoke", &["--limit", "1"][..])] {
        let whole = path(&format!("{name}-whole"));
        succeeded(bfcl(&whole, limit));
        for k in ["1", "2"] {
            let shard = format!("{k}/2");
            let out = path(&format!("{name}-shard{k}"));
            succeeded(bfcl(&out, &[limit, &["--shard", &shard]].concat()));
        }
        let merged = path(&format!("{name}-merged"));
        let output = succeeded(merge(
            &merged,
            &[
                &path(&format!("{name}-shard2")),
                &path(&format!("{name}-shard1")),
            ],
            &data_arg,
        ));
        let compared = assert_same_folders(&whole, &merged, "latency");
        assert_eq!(compared, 2 + 2 + 2, "result, verdicts, summary.csv/.md");
        let table = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(table.contains("| simple_python |"), "{table}");

        // `eval score` on either gives the same output.
        let scored: Vec<(Vec<u8>, PathBuf)> = [&whole, &merged]
            .iter()
            .map(|run| {
                let out = run.with_extension("rescored");
                let output = succeeded(toolgrad(&[
                    "eval",
                    "score",
                    "--data",
                    data.to_str().unwrap(),
                    "--results",
                    run.join("result").to_str().unwrap(),
                    "--out",
                    out.to_str().unwrap(),
                ]));
                (output.stdout, out)
            })
            .collect();
        assert_eq!(scored[0].0, scored[1].0);
        assert_same_folders(&scored[0].1, &scored[1].1, "none");
    }
    let csv = std::fs::read_to_string(path("full-merged/score/summary.csv")).unwrap();
    assert!(csv.contains("simple_python,60.00,3,5,0,5"), "{csv}");
    let results =
        std::fs::read_to_string(path("full-merged/result/BFCL_v4_simple_python_result.json"))
            .unwrap();
    let ids: Vec<String> = results
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "dataset order: {ids:?}"
    );

    // Shards of different runs, a missing shard, a resume as another shard.
    let (one, smoke_two) = (path("full-shard1"), path("smoke-shard2"));
    refused(
        merge(&path("bad"), &[&one, &smoke_two], &data_arg),
        &[smoke_two.to_str().unwrap(), "not shards of one run"],
    );
    refused(
        merge(&path("bad"), &[&one], &data_arg),
        &["shard 2/2 is missing"],
    );
    refused(
        merge(&path("bad"), &[&path("full-whole"), &one], &data_arg),
        &["full-whole/shard.json", "--shard K/N"],
    );
    refused(bfcl(&one, &["--shard", "2/2"]), &["holds shard 1/2"]);
    refused(bfcl(&one, &[]), &["holds shard 1/2"]);
    refused(
        bfcl(&path("full-whole"), &["--shard", "1/2"]),
        &["holds an unsharded run"],
    );
    assert!(!path("bad").exists());
}
