//! The offline default (built-in tools, rule policy): every sample passes
//! verification, queries quote the chains' own values, runs are reproducible,
//! and a re-run resumes instead of redoing work.

use std::path::Path;
use std::sync::Arc;

use toolgrad_generate::config::{GenerateConfig, Method};
use toolgrad_generate::derived::{derived_values, leaked};
use toolgrad_generate::policy::surface::renderings;
use toolgrad_generate::run::{run, DatasetRecord};
use toolgrad_generate::validate::Validator;

fn offline_config(seeds: u64) -> GenerateConfig {
    let text = include_str!("../../configs/generate-offline.toml");
    let mut config =
        GenerateConfig::parse(text, Path::new("configs/generate-offline.toml")).unwrap();
    config.num_seeds = seeds;
    config
}

async fn generate(config: &GenerateConfig, out: &Path) -> toolgrad_generate::run::RunSummary {
    let engine = Arc::new(toolgrad_generate::setup::engine(config, out).await.unwrap());
    run(engine, &config.seeds(), config.concurrency, out, false)
        .await
        .unwrap()
}

fn records(out: &Path) -> Vec<DatasetRecord> {
    std::fs::read_to_string(out.join("dataset.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn offline_default_yields_verified_faithful_reproducible_data() {
    let config = offline_config(48);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let summary = generate(&config, a.path()).await;
    assert_eq!(summary.accepted, 48, "{summary:?}");
    assert!(summary.mean_steps_per_sample >= 1.0, "{summary:?}");

    let (toolbox, _) = toolgrad_generate::setup::toolbox(&config, a.path())
        .await
        .unwrap();
    let report = toolgrad_generate::verify::verify(
        a.path(),
        &toolbox,
        &Validator::new(config.validator.clone()),
        true,
    )
    .await
    .unwrap();
    assert_eq!(
        (report.samples, report.passed),
        (48, 48),
        "{:?}",
        report.failures
    );
    // Every check ran and passed on its own; the trace's data-flow claims
    // were checked against the observations they name.
    use toolgrad_generate::verify::Check;
    assert_eq!(report.checks.len(), Check::ALL.len());
    for tally in &report.checks {
        assert_eq!(tally.failed, 0, "{tally:?}");
        let floor = if tally.check == Check::ChainedArguments {
            4
        } else {
            48
        };
        assert!(tally.checked >= floor, "{tally:?}");
    }

    let samples = records(a.path());
    let mut chained = 0;
    for record in &samples {
        let workflow = &record.workflow;
        for chain in workflow.api_use_chains.values() {
            chained += usize::from(chain.intermediate_steps.len() > 1);
            for step in &chain.intermediate_steps {
                // Every argument is stated in the query, in one of the forms
                // people write it in ("March 14, 2026" for 2026-03-14).
                for value in step.action().tool_input.as_object().unwrap().values() {
                    assert!(
                        renderings(value)
                            .iter()
                            .any(|r| workflow.query.contains(r.as_str())),
                        "query lacks {value}: {}",
                        workflow.query
                    );
                }
            }
        }
        assert!(
            !workflow.query.contains('{') && !workflow.response.contains('{'),
            "unfilled template"
        );
    }
    assert!(chained > 0, "no chain continues by data flow");

    // Every sample has a multi-turn query, and it states no value that an
    // observation supplies; where such values exist it differs from the flat one.
    let mut by_reference = 0;
    for record in &samples {
        let workflow = &record.workflow;
        let agentic = workflow.agentic_query.as_deref().expect("an agentic query");
        let derived = derived_values(workflow);
        assert!(
            leaked(agentic, &derived).is_empty(),
            "{agentic} states one of {derived:?}"
        );
        if !derived.is_empty() {
            by_reference += 1;
            assert_ne!(agentic, workflow.query);
        }
    }
    assert!(
        by_reference > 0,
        "no sample takes a value from an observation"
    );

    // The catalog travels with the data: the whole library, with families.
    let catalog = toolgrad_generate::catalog::read(&a.path().join("tools.json")).unwrap();
    assert_eq!(catalog.len(), toolbox.len());
    assert!(catalog.iter().all(|t| t.family.starts_with("builtin:")));

    // Same config, fresh directory: byte-identical dataset.
    generate(&config, b.path()).await;
    let read = |dir: &Path| std::fs::read(dir.join("dataset.jsonl")).unwrap();
    assert_eq!(read(a.path()), read(b.path()));

    // A re-run skips every finished seed; losing one seed's files redoes only it.
    std::fs::remove_file(a.path().join("metadata/00004.json")).unwrap();
    let stale = a.path().join("trace/.00004.json.tmp999");
    std::fs::write(&stale, "{\"torn").unwrap();
    let resumed = generate(&config, a.path()).await;
    assert_eq!(resumed.resumed, 47);
    assert!(
        !stale.exists(),
        "a killed run's temporary file is cleaned up"
    );
    assert_eq!(read(a.path()), read(b.path()));
}

#[test]
fn the_shipped_configs_parse() {
    for name in [
        "generate-offline.toml",
        "generate-offline-short.toml",
        "generate-local-llm.toml",
        "generate-paper-toolgrad.toml",
        "generate-paper-dfs.toml",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../configs")
            .join(name);
        GenerateConfig::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // The paper's two settings: the same seeds, tool samples and LLM, two methods.
    let load = |name: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../configs")
            .join(name);
        GenerateConfig::load(&path).unwrap()
    };
    let (toolgrad, dfs) = (
        load("generate-paper-toolgrad.toml"),
        load("generate-paper-dfs.toml"),
    );
    assert_eq!(
        (toolgrad.method, dfs.method),
        (Method::Toolgrad, Method::Dfs)
    );
    for config in [&toolgrad, &dfs] {
        assert_eq!(
            (
                config.num_seeds,
                config.num_apis,
                config.num_proposals,
                config.max_iter
            ),
            (500, 50, 3, 10)
        );
        assert_eq!(
            config.llm.default.model.as_deref(),
            Some("gemini-2.5-flash-lite")
        );
        assert_eq!(config.llm.default.temperature, Some(1.0));
    }
    assert_eq!(toolgrad.seeds(), dfs.seeds());
    assert_eq!(toolgrad.llm, dfs.llm);
}

#[tokio::test]
async fn the_random_selector_ablation_gives_no_reason_and_its_data_still_verifies() {
    use toolgrad_generate::config::PolicyKind;
    let mut config = offline_config(16);
    config.policy.selector = PolicyKind::Random;
    let dir = tempfile::tempdir().unwrap();
    let summary = generate(&config, dir.path()).await;
    assert!(summary.accepted >= 12, "{summary:?}");
    let (toolbox, _) = toolgrad_generate::setup::toolbox(&config, dir.path())
        .await
        .unwrap();
    let report = toolgrad_generate::verify::verify(
        dir.path(),
        &toolbox,
        &Validator::new(config.validator.clone()),
        true,
    )
    .await
    .unwrap();
    assert_eq!(report.passed, report.samples, "{:?}", report.failures);
    let mut chosen = 0;
    for entry in std::fs::read_dir(dir.path().join("trace")).unwrap() {
        let trace: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        for iteration in trace.as_array().unwrap() {
            let gradient = &iteration["gradient"];
            if gradient.is_null() {
                continue;
            }
            let reason = gradient["reason"].as_str().unwrap();
            assert!(reason.starts_with("random choice"), "{iteration}");
            assert!(!reason.contains("request"), "{reason}");
            chosen += usize::from(gradient["chosen"].is_string());
        }
    }
    assert!(chosen >= 16, "{chosen} random choices");

    // Random plays the selector only, and the run config says so.
    let text = "num_seeds = 1\n[policy]\nproposer = \"random\"\nexecutor = \"rule\"\nselector = \"rule\"\ninverse = \"rule\"\n";
    let error = GenerateConfig::parse(text, Path::new("x.toml")).unwrap_err();
    assert!(
        error.to_string().contains("plays only the selector"),
        "{error}"
    );
}

#[tokio::test]
async fn the_validator_switched_off_keeps_what_it_would_reject() {
    let mut config = offline_config(1);
    config.validator.enabled = false;
    let validator = Validator::new(config.validator.clone());
    assert_eq!(
        validator.check("{\"error\": \"Internal Server Error\"}"),
        None
    );
    assert_eq!(validator.check(""), None);
    let on = Validator::new(offline_config(1).validator);
    assert!(on.check("{\"error\": \"Internal Server Error\"}").is_some());
    // Off is written out; on (the default) is not, so older runs' config
    // hashes stay.
    let written = toml::to_string(&config).unwrap();
    assert!(written.contains("enabled = false"), "{written}");
    assert!(!toml::to_string(&offline_config(1))
        .unwrap()
        .contains("enabled"));
}
