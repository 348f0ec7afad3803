//! `toolgrad verify`: re-executes every recorded step of a dataset against
//! its tool source and checks the structure. Deterministic tools must
//! reproduce the recorded observation exactly; others must still succeed and
//! pass the validator. Then the grounding checks ([`crate::grounding`]): the
//! query's values are arguments, chained arguments are what the trace says
//! they came from, and the response's numbers were observed. Each check is
//! counted on its own; the pass rate is measured, never assumed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{GenerateError, Result};
use crate::grounding;
use crate::run::{DatasetRecord, SeedTrace};
use crate::validate::Validator;
use crate::workflow::Workflow;
use toolgrad_tools::ToolBox;

/// The checks verify runs on each sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Query, response and chains present and named in order.
    Structure,
    /// Every step re-executes (deterministic tools to the same observation).
    Reexecution,
    /// The query's numbers and quoted strings are arguments of its calls.
    QueryValues,
    /// Chained arguments equal the observations the trace says they came from.
    ChainedArguments,
    /// The response's numbers appear in observations or arguments.
    ResponseValues,
}

impl Check {
    /// Whether a failure of this check fails the sample without `strict`:
    /// structure, re-execution and data flow are facts about the record;
    /// the query and response checks read free text, where an LLM may state
    /// a count or a rounded figure, so they fail a sample only when strict.
    pub fn always_fails(self) -> bool {
        !matches!(self, Check::QueryValues | Check::ResponseValues)
    }
}

impl Check {
    pub const ALL: [Check; 5] = [
        Check::Structure,
        Check::Reexecution,
        Check::QueryValues,
        Check::ChainedArguments,
        Check::ResponseValues,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Check::Structure => "structure",
            Check::Reexecution => "re-execution",
            Check::QueryValues => "query values",
            Check::ChainedArguments => "chained arguments",
            Check::ResponseValues => "response values",
        }
    }
}

/// How one check went over the dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckTally {
    pub check: Check,
    /// Samples the check applied to (chained arguments: samples with a trace
    /// that claims at least one).
    pub checked: usize,
    pub failed: usize,
}

/// The verdict on one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleVerdict {
    pub line: usize,
    pub id: String,
    pub passed: bool,
    pub steps: usize,
    pub problems: Vec<String>,
}

/// The verdict on a dataset, saved as `verify.json` beside it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub dataset: String,
    pub samples: usize,
    pub passed: usize,
    pub pass_rate: f64,
    pub steps_reexecuted: usize,
    /// Whether the query and response checks failed samples too.
    #[serde(default)]
    pub strict: bool,
    /// One tally per check, in [`Check::ALL`] order.
    #[serde(default)]
    pub checks: Vec<CheckTally>,
    /// Every sample with a problem; `passed` says whether it still passed.
    pub failures: Vec<SampleVerdict>,
}

/// `dir/dataset.jsonl` for a directory, else the path itself.
pub fn dataset_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("dataset.jsonl")
    } else {
        path.to_owned()
    }
}

/// The trace of a record, when the dataset sits in a run folder that has
/// one; a trace that does not parse is a problem of its own.
fn trace_of(dataset: &Path, id: &str) -> std::result::Result<Option<SeedTrace>, String> {
    let Some(dir) = dataset.parent() else {
        return Ok(None);
    };
    let path = dir.join("trace").join(format!("{id}.json"));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{}: not a trace: {e}", path.display()))
}

/// The grounding problems of a workflow, tagged by check; also whether the
/// chained-argument check had anything to check.
fn grounding_problems(
    workflow: &Workflow,
    trace: Option<&SeedTrace>,
) -> (bool, Vec<(Check, String)>) {
    let mut problems: Vec<(Check, String)> = Vec::new();
    let tag = |check: Check, list: Vec<String>| list.into_iter().map(move |p| (check, p));
    problems.extend(tag(Check::QueryValues, grounding::query_values(workflow)));
    let mut chained = false;
    if let Some(trace) = trace {
        let (checked, found) = grounding::chained_arguments(workflow, trace);
        chained = checked > 0;
        problems.extend(tag(Check::ChainedArguments, found));
    }
    problems.extend(tag(
        Check::ResponseValues,
        grounding::response_values(workflow),
    ));
    (chained, problems)
}

/// Verifies every line of the dataset; `strict` also fails samples on the
/// query and response checks ([`Check::always_fails`]).
pub async fn verify(
    path: &Path,
    toolbox: &ToolBox,
    validator: &Validator,
    strict: bool,
) -> Result<VerifyReport> {
    let dataset = dataset_path(path);
    let text = std::fs::read_to_string(&dataset).map_err(|e| GenerateError::io(&dataset, e))?;
    let mut report = VerifyReport {
        dataset: dataset.display().to_string(),
        strict,
        checks: Check::ALL
            .iter()
            .map(|&check| CheckTally {
                check,
                checked: 0,
                failed: 0,
            })
            .collect(),
        ..VerifyReport::default()
    };
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let verdict = match serde_json::from_str::<DatasetRecord>(line) {
            Ok(record) => {
                let mut problems = tagged_problems(&record.workflow, toolbox, validator).await;
                let (chained, grounding) = match trace_of(&dataset, &record.id) {
                    Ok(trace) => grounding_problems(&record.workflow, trace.as_ref()),
                    Err(problem) => (true, vec![(Check::ChainedArguments, problem)]),
                };
                problems.extend(grounding);
                for tally in &mut report.checks {
                    let applies = tally.check != Check::ChainedArguments || chained;
                    tally.checked += usize::from(applies);
                    tally.failed += usize::from(problems.iter().any(|(c, _)| *c == tally.check));
                }
                report.steps_reexecuted += record.workflow.num_steps();
                let passed = problems
                    .iter()
                    .all(|(check, _)| !(strict || check.always_fails()));
                SampleVerdict {
                    line: index + 1,
                    id: record.id,
                    passed,
                    steps: record.workflow.num_steps(),
                    problems: problems
                        .into_iter()
                        .map(|(check, p)| format!("[{}] {p}", check.name()))
                        .collect(),
                }
            }
            Err(error) => SampleVerdict {
                line: index + 1,
                id: String::new(),
                passed: false,
                steps: 0,
                problems: vec![format!("not a dataset record: {error}")],
            },
        };
        report.samples += 1;
        report.passed += usize::from(verdict.passed);
        if !verdict.problems.is_empty() {
            report.failures.push(verdict);
        }
    }
    report.pass_rate = if report.samples == 0 {
        0.0
    } else {
        report.passed as f64 / report.samples as f64
    };
    Ok(report)
}

/// Structure and re-execution problems of one workflow (empty = passed).
pub async fn check_sample(
    workflow: &Workflow,
    toolbox: &ToolBox,
    validator: &Validator,
) -> Vec<String> {
    tagged_problems(workflow, toolbox, validator)
        .await
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

async fn tagged_problems(
    workflow: &Workflow,
    toolbox: &ToolBox,
    validator: &Validator,
) -> Vec<(Check, String)> {
    let mut problems: Vec<(Check, String)> = Vec::new();
    let mut structure = |p: String| problems.push((Check::Structure, p));
    if workflow.query.trim().is_empty() {
        structure("empty query".to_owned());
    }
    if workflow.response.trim().is_empty() {
        structure("empty response".to_owned());
    }
    if workflow.api_use_chains.is_empty() {
        structure("no chains".to_owned());
    }
    for (n, (key, chain)) in workflow.api_use_chains.iter().enumerate() {
        let expected = format!("api_use_chain_{}", n + 1);
        if key != &expected || chain.chain_id != *key {
            problems.push((
                Check::Structure,
                format!(
                    "chain `{key}` (id `{}`) should be `{expected}`",
                    chain.chain_id
                ),
            ));
        }
        if chain.intermediate_steps.is_empty() {
            problems.push((Check::Structure, format!("{key} has no steps")));
        }
        for (i, step) in chain.intermediate_steps.iter().enumerate() {
            let at = format!("{key} step {}", i + 1);
            let action = step.action();
            let Some(spec) = toolbox.spec(&action.tool) else {
                problems.push((
                    Check::Reexecution,
                    format!("{at}: tool `{}` is not offered by any source", action.tool),
                ));
                continue;
            };
            if spec.source != action.source {
                problems.push((
                    Check::Reexecution,
                    format!(
                        "{at}: recorded source `{}` but `{}` comes from `{}`",
                        action.source, action.tool, spec.source
                    ),
                ));
            }
            match toolbox.call(&action.tool, &action.tool_input).await {
                Err(error) => problems.push((
                    Check::Reexecution,
                    format!("{at}: re-execution failed: {error}"),
                )),
                Ok(observation) if spec.deterministic && observation != step.observation() => {
                    problems.push((
                        Check::Reexecution,
                        format!(
                            "{at}: `{}` returned a different observation on re-execution",
                            action.tool
                        ),
                    ))
                }
                Ok(observation) => {
                    if let Some(reason) = validator.check(&observation) {
                        problems.push((
                            Check::Reexecution,
                            format!("{at}: re-executed observation rejected: {reason}"),
                        ));
                    }
                }
            }
        }
    }
    problems
}
