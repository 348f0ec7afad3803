//! The rule policy's intents: the catalogue is consistent with the tool
//! library (real tools and parameters, links only where an output's kind is
//! the parameter's kind), and 500 offline seeds read like one person's request
//! each: short, in people's forms, with parallel calls and optional arguments,
//! and no impossible quantities.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use toolgrad_generate::config::GenerateConfig;
use toolgrad_generate::policy::intents::{Intent, PlanStep, Source, INTENTS};
use toolgrad_generate::run::{run, DatasetRecord};
use toolgrad_tools::builtin::BuiltinSource;
use toolgrad_tools::{CallLimits, ToolBox, ToolSource};

fn library() -> ToolBox {
    let source: Arc<dyn ToolSource> = Arc::new(BuiltinSource::new(None).unwrap());
    ToolBox::new(vec![source], CallLimits::default()).unwrap()
}

/// The steps that surely ran before `step`: its `after` chain.
fn before<'a>(intent: &'a Intent, step: &PlanStep) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut next = step.after;
    while let Some(id) = next {
        let earlier = intent
            .step(id)
            .unwrap_or_else(|| panic!("{}: no step `{id}`", intent.name));
        out.push(earlier.id);
        next = earlier.after;
    }
    out
}

#[test]
fn every_plan_step_calls_a_real_tool_and_links_only_matching_kinds() {
    let toolbox = library();
    let mut tools_used = HashSet::new();
    for intent in INTENTS {
        let mut tools = HashSet::new();
        assert!(!intent.steps.is_empty(), "{}", intent.name);
        for step in intent.steps {
            let at = format!("{}/{}", intent.name, step.id);
            assert!(
                tools.insert(step.tool),
                "{at}: the tool appears twice in the intent"
            );
            tools_used.insert(step.tool);
            let spec = toolbox
                .spec(step.tool)
                .unwrap_or_else(|| panic!("{at}: no tool `{}`", step.tool));
            let hints = spec.hints.as_ref().unwrap();
            let kind_of = |param: &str| {
                hints
                    .param_kinds
                    .iter()
                    .find(|(p, _)| *p == param)
                    .map(|(_, k)| *k)
            };
            for required in spec.required_params() {
                assert!(
                    step.arg(&required).is_some(),
                    "{at}: required `{required}` has no source"
                );
            }
            let earlier = before(intent, step);
            for arg in step.args {
                assert!(
                    spec.parameters["properties"].get(arg.param).is_some(),
                    "{at}: `{}` is not a parameter of {}",
                    arg.param,
                    step.tool
                );
                match arg.source {
                    Source::From(from, path) => {
                        assert!(
                            earlier.contains(&from),
                            "{at}: `{from}` may not have run first"
                        );
                        let source = intent.step(from).unwrap();
                        let source_hints =
                            toolbox.spec(source.tool).unwrap().hints.clone().unwrap();
                        let declared = path.replace("[first]", "[]").replace("[last]", "[]");
                        let out_kind = source_hints
                            .outputs
                            .iter()
                            .find(|(p, _)| *p == declared)
                            .map(|(_, k)| *k)
                            .unwrap_or_else(|| {
                                panic!("{at}: {} declares no output `{declared}`", source.tool)
                            });
                        assert_eq!(
                            Some(out_kind),
                            kind_of(arg.param),
                            "{at}: `{}` ← {path}",
                            arg.param
                        );
                    }
                    Source::Same(from, param) => {
                        assert!(
                            earlier.contains(&from),
                            "{at}: `{from}` may not have run first"
                        );
                        assert!(
                            intent.step(from).unwrap().arg(param).is_some(),
                            "{at}: `{from}` has no `{param}`"
                        );
                    }
                    Source::After(other) => {
                        assert!(
                            matches!(step.arg(other).map(|a| a.source), Some(Source::Pool(_))),
                            "{at}"
                        );
                    }
                    _ => {}
                }
            }
            assert_eq!(
                step.repeat > 0,
                step.vary.is_some(),
                "{at}: repeat and vary go together"
            );
            if let Some(vary) = step.vary {
                assert!(step.arg(vary).is_some(), "{at}: varies an unknown argument");
            }
            assert!(!step.asks.is_empty() && !step.tells.is_empty(), "{at}");
            if step.is_linked() {
                assert!(
                    !step.asks_ref.is_empty(),
                    "{at}: a linked step needs asks_ref"
                );
                for template in step.asks_ref {
                    for arg in step
                        .args
                        .iter()
                        .filter(|a| matches!(a.source, Source::From(..)))
                    {
                        assert!(
                            !template.contains(&format!("{{{}}}", arg.param)),
                            "{at}: `{template}` states a value an observation supplies"
                        );
                    }
                }
            }
        }
    }
    assert!(
        tools_used.len() >= 35,
        "the intents use only {} tools",
        tools_used.len()
    );
}

async fn offline(seeds: u64, out: &Path) -> Vec<DatasetRecord> {
    let text = include_str!("../../configs/generate-offline.toml");
    let mut config =
        GenerateConfig::parse(text, Path::new("configs/generate-offline.toml")).unwrap();
    config.num_seeds = seeds;
    let engine = Arc::new(
        toolgrad_generate::setup::engine(&config, out)
            .await
            .unwrap(),
    );
    run(engine, &config.seeds(), config.concurrency, out, false)
        .await
        .unwrap();
    std::fs::read_to_string(out.join("dataset.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The shape of a written date: leading day, ordinal suffix, short month.
fn date_shape(text: &str) -> (bool, bool, bool) {
    let ordinal = ["st,", "nd,", "rd,", "th,"]
        .iter()
        .any(|s| text.contains(s));
    let short = text.split(' ').next().is_some_and(|w| w.len() == 3);
    (
        text.starts_with(|c: char| c.is_ascii_digit()),
        ordinal,
        short,
    )
}

#[tokio::test]
async fn offline_requests_read_like_one_persons_need() {
    let dir = tempfile::tempdir().unwrap();
    let records = offline(500, dir.path()).await;
    assert_eq!(records.len(), 500);
    let mut words: Vec<usize> = Vec::new();
    let (mut parallel, mut optional) = (0, 0);
    let mut date_shapes = HashSet::new();
    let mut intents_seen = HashSet::new();
    for record in &records {
        let workflow = &record.workflow;
        let query = &workflow.query;
        let tools: Vec<&str> = workflow.steps().map(|s| s.action().tool.as_str()).collect();
        // One need: every call belongs to one intent's plan.
        let intent = INTENTS
            .iter()
            .find(|i| tools.iter().all(|t| i.step_of_tool(t).is_some()))
            .unwrap_or_else(|| panic!("{}: {tools:?} fit no single intent", record.id));
        intents_seen.insert(intent.name);
        words.push(query.split_whitespace().count());
        let unique: HashSet<&&str> = tools.iter().collect();
        parallel += usize::from(unique.len() < tools.len());
        // Machine forms stay out of the request.
        for zone in [
            "Europe/",
            "America/",
            "Asia/",
            "Africa/",
            "Australia/",
            "Pacific/",
        ] {
            assert!(!query.contains(zone), "{}: {query}", record.id);
        }
        assert!(
            !query.contains("T09:") && !query.contains(":00:00"),
            "{}: {query}",
            record.id
        );
        for step in workflow.steps() {
            let action = step.action();
            let args = action.tool_input.as_object().unwrap();
            optional += usize::from(
                ["compounds_per_year", "unit", "limit"]
                    .iter()
                    .any(|k| args.contains_key(*k)),
            );
            for value in args.values().filter_map(Value::as_str) {
                let iso =
                    value.len() == 10 && value.as_bytes()[4] == b'-' && value.as_bytes()[7] == b'-';
                if iso {
                    assert!(!query.contains(value), "{}: ISO date in {query}", record.id);
                    let written =
                        toolgrad_generate::policy::surface::renderings(&Value::from(value))
                            .into_iter()
                            .find(|r| r != value && query.contains(r.as_str()))
                            .unwrap_or_else(|| {
                                panic!("{}: {value} is not stated in {query}", record.id)
                            });
                    date_shapes.insert(date_shape(&written));
                }
            }
            // No impossible quantities: spans and distances are never negative.
            let observed: Value = serde_json::from_str(step.observation()).unwrap();
            for key in ["days", "business_days", "distance"] {
                if let Some(x) = observed.get(key).and_then(Value::as_f64) {
                    assert!(x >= 0.0, "{}: {key} = {x} from {}", record.id, action.tool);
                }
            }
        }
    }
    // The gradient: a linked call continues the chain its value came from,
    // any other call starts a chain, and a finished request stops the loop.
    let (mut appended, mut complete) = (0, 0);
    for entry in std::fs::read_dir(dir.path().join("trace")).unwrap() {
        let trace: Value =
            serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        for iteration in trace.as_array().unwrap() {
            let early = iteration["early_next"].as_str().unwrap_or_default();
            complete += usize::from(early.contains("is complete"));
            let Some(chosen) = iteration["gradient"]["chosen"].as_str() else {
                continue;
            };
            let report = iteration["executions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == chosen)
                .unwrap();
            let update = &iteration["update"];
            match report["data_flow"].as_array().and_then(|f| f.first()) {
                Some(flow) => {
                    appended += 1;
                    assert_eq!(update["kind"], "appended", "{iteration}");
                    assert_eq!(update["chain_id"], flow["chain_id"], "{iteration}");
                }
                None => assert_eq!(update["kind"], "new_chain", "{iteration}"),
            }
            assert!(
                iteration["gradient"]["reason"]
                    .as_str()
                    .unwrap()
                    .contains(" request)"),
                "{iteration}"
            );
        }
    }
    assert!(appended >= 25, "{appended} linked calls");
    // The textual gradient feeds back: each reason names the steps still
    // missing, and the next proposal acts on the first of them it can run.
    let mut acted = 0;
    for entry in std::fs::read_dir(dir.path().join("trace")).unwrap() {
        let trace: Value =
            serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        let iterations = trace.as_array().unwrap();
        for pair in iterations.windows(2) {
            let Some(reason) = pair[0]["gradient"]["reason"].as_str() else {
                continue;
            };
            if pair[0]["gradient"]["chosen"].is_null() {
                continue;
            }
            assert!(
                reason.contains("Still missing: `") || reason.contains("request is complete."),
                "{reason}"
            );
            let Some(first) = pair[1]["proposals"]["proposals"][0]["instruction"].as_str() else {
                continue;
            };
            if first.ends_with("The last gradient says it is still missing.") {
                let step = first.split('`').nth(1).unwrap();
                let named = reason.split("Still missing: ").nth(1).unwrap();
                assert!(named.contains(&format!("`{step}`")), "{reason} / {first}");
                acted += 1;
            }
        }
    }
    assert!(
        acted >= 100,
        "only {acted} proposals acted on the last gradient"
    );
    assert!(
        complete >= 400,
        "{complete} iterations saw a finished request"
    );

    words.sort_unstable();
    let median = words[words.len() / 2];
    assert!(
        (15..=60).contains(&median),
        "median query length {median} words"
    );
    assert!(
        *words.last().unwrap() <= 100,
        "a query of {} words",
        words.last().unwrap()
    );
    assert!(
        parallel >= 75,
        "only {parallel} of 500 samples call one function several times"
    );
    assert!(optional >= 20, "optional arguments used {optional} times");
    assert!(
        date_shapes.len() >= 3,
        "dates are written in {date_shapes:?} only"
    );
    assert!(
        intents_seen.len() >= 20,
        "{} intents seen",
        intents_seen.len()
    );
}
