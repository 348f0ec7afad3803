//! `toolgrad verify`: re-executes every recorded step of a dataset against
//! its tool source and checks the structure. Deterministic tools must
//! reproduce the recorded observation exactly; others must still succeed and
//! pass the validator. The pass rate is measured, never assumed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{GenerateError, Result};
use crate::run::DatasetRecord;
use crate::tools::ToolBox;
use crate::validate::Validator;
use crate::workflow::Workflow;

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

/// Verifies every line of the dataset.
pub async fn verify(path: &Path, toolbox: &ToolBox, validator: &Validator) -> Result<VerifyReport> {
    let dataset = dataset_path(path);
    let text = std::fs::read_to_string(&dataset).map_err(|e| GenerateError::io(&dataset, e))?;
    let mut report = VerifyReport {
        dataset: dataset.display().to_string(),
        ..VerifyReport::default()
    };
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let verdict = match serde_json::from_str::<DatasetRecord>(line) {
            Ok(record) => {
                let problems = check_sample(&record.workflow, toolbox, validator).await;
                report.steps_reexecuted += record.workflow.num_steps();
                SampleVerdict {
                    line: index + 1,
                    id: record.id,
                    passed: problems.is_empty(),
                    steps: record.workflow.num_steps(),
                    problems,
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
        if verdict.passed {
            report.passed += 1;
        } else {
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
    let mut problems = Vec::new();
    if workflow.query.trim().is_empty() {
        problems.push("empty query".to_owned());
    }
    if workflow.response.trim().is_empty() {
        problems.push("empty response".to_owned());
    }
    if workflow.api_use_chains.is_empty() {
        problems.push("no chains".to_owned());
    }
    for (n, (key, chain)) in workflow.api_use_chains.iter().enumerate() {
        let expected = format!("api_use_chain_{}", n + 1);
        if key != &expected || chain.chain_id != *key {
            problems.push(format!(
                "chain `{key}` (id `{}`) should be `{expected}`",
                chain.chain_id
            ));
        }
        if chain.intermediate_steps.is_empty() {
            problems.push(format!("{key} has no steps"));
        }
        for (i, step) in chain.intermediate_steps.iter().enumerate() {
            let at = format!("{key} step {}", i + 1);
            let action = step.action();
            let Some(spec) = toolbox.spec(&action.tool) else {
                problems.push(format!(
                    "{at}: tool `{}` is not offered by any source",
                    action.tool
                ));
                continue;
            };
            if spec.source != action.source {
                problems.push(format!(
                    "{at}: recorded source `{}` but `{}` comes from `{}`",
                    action.source, action.tool, spec.source
                ));
            }
            match toolbox.call(&action.tool, &action.tool_input).await {
                Err(error) => problems.push(format!("{at}: re-execution failed: {error}")),
                Ok(observation) if spec.deterministic && observation != step.observation() => {
                    problems.push(format!(
                        "{at}: `{}` returned a different observation on re-execution",
                        action.tool
                    ))
                }
                Ok(observation) => {
                    if let Some(reason) = validator.check(&observation) {
                        problems.push(format!("{at}: re-executed observation rejected: {reason}"));
                    }
                }
            }
        }
    }
    problems
}
