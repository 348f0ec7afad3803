//! The grounding checks of `verify`, beyond re-execution:
//! - **query values**: every number and every quoted string the flat query
//!   states is an argument of some call, in one of the forms people write it
//!   in ([`renderings`]);
//! - **chained arguments**: every argument the trace says was filled from an
//!   earlier observation equals what that observation holds at the claimed
//!   path;
//! - **response values**: every number the response states appears in an
//!   observation or an argument (rounded to the digits the response gives),
//!   or is the length of an observed list.
//!
//! Free text has no value markup, so the query and response checks read
//! numbers and quoted strings, the values a checker can find without guessing.

use std::collections::HashSet;

use regex::Regex;
use serde_json::Value;

use crate::policy::plan::extract;
use crate::policy::surface::renderings;
use crate::policy::DataFlow;
use crate::run::SeedTrace;
use crate::workflow::Workflow;

/// A number as a text writes it: its value and how many decimals it gives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Written {
    pub value: f64,
    pub decimals: i32,
}

fn number_pattern() -> &'static Regex {
    static PATTERN: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?").expect("a valid pattern")
    })
}

fn quoted_pattern() -> &'static Regex {
    static PATTERN: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    PATTERN.get_or_init(|| Regex::new(r#""([^"\n]{1,200})""#).expect("a valid pattern"))
}

/// The numbers in a text (`1,250.50` is one number; `2026-03-14` is three).
pub fn numbers(text: &str) -> Vec<Written> {
    number_pattern()
        .find_iter(text)
        .filter_map(|m| {
            let digits = m.as_str().replace(',', "");
            let decimals = digits.split_once('.').map_or(0, |(_, f)| f.len() as i32);
            digits.parse().ok().map(|value| Written { value, decimals })
        })
        .collect()
}

/// The scalar leaves of a value.
fn leaves<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
        Value::Object(map) => map.values().for_each(|v| leaves(v, out)),
        Value::Number(_) | Value::String(_) => out.push(value),
        _ => {}
    }
}

/// Everything a set of values can be written as: each leaf's renderings.
#[derive(Default)]
struct Forms {
    numbers: Vec<f64>,
    texts: HashSet<String>,
}

impl Forms {
    fn add(&mut self, value: &Value) {
        let mut found = Vec::new();
        leaves(value, &mut found);
        for leaf in found {
            let mut forms = renderings(leaf);
            if let Value::String(s) = leaf {
                forms.push(s.clone());
            }
            for form in forms {
                self.numbers.extend(numbers(&form).iter().map(|n| n.value));
                self.texts
                    .insert(form.trim().trim_matches('"').to_lowercase());
            }
        }
    }

    /// An observation: its JSON leaves and list lengths, or its text as one
    /// string.
    fn add_observation(&mut self, observation: &str) {
        match serde_json::from_str::<Value>(observation) {
            Ok(value) => {
                self.add(&value);
                self.add_lengths(&value);
            }
            Err(_) => self.add(&Value::String(observation.to_owned())),
        }
    }

    fn add_lengths(&mut self, value: &Value) {
        match value {
            Value::Array(items) => {
                self.numbers.push(items.len() as f64);
                items.iter().for_each(|v| self.add_lengths(v));
            }
            Value::Object(map) => map.values().for_each(|v| self.add_lengths(v)),
            _ => {}
        }
    }

    fn has_exact(&self, n: &Written) -> bool {
        self.numbers.contains(&n.value)
    }

    /// `n` is some known number rounded to the decimals `n` shows.
    fn has_rounded(&self, n: &Written) -> bool {
        let half = 0.5 * 10f64.powi(-n.decimals);
        self.numbers
            .iter()
            .any(|&x| (x - n.value).abs() <= half * (1.0 + 1e-9))
    }
}

fn arguments(workflow: &Workflow) -> Forms {
    let mut forms = Forms::default();
    for step in workflow.steps() {
        forms.add(&step.action().tool_input);
    }
    forms
}

/// Numbers and quoted strings the query states that no call takes.
pub fn query_values(workflow: &Workflow) -> Vec<String> {
    let forms = arguments(workflow);
    let mut problems: Vec<String> = numbers(&workflow.query)
        .iter()
        .filter(|n| !forms.has_exact(n))
        .map(|n| format!("the query states {} but no call takes it", n.value))
        .collect();
    for quoted in quoted_pattern().captures_iter(&workflow.query) {
        let text = quoted[1].trim().to_lowercase();
        if !forms.texts.contains(&text) {
            problems.push(format!(
                "the query quotes \"{}\" but no call takes it",
                &quoted[1]
            ));
        }
    }
    problems
}

/// Numbers the response states that no observation or argument holds.
pub fn response_values(workflow: &Workflow) -> Vec<String> {
    let mut forms = arguments(workflow);
    for step in workflow.steps() {
        forms.add_observation(step.observation());
    }
    numbers(&workflow.response)
        .iter()
        .filter(|n| !forms.has_rounded(n))
        .map(|n| {
            format!(
                "the response states {} but no observation or argument holds it",
                n.value
            )
        })
        .collect()
}

/// One claim of the trace: a call of `tool` with `tool_input` took `flow.param`
/// from an earlier observation.
struct Claim<'a> {
    tool: &'a str,
    tool_input: &'a Value,
    flow: &'a DataFlow,
}

fn claims(trace: &SeedTrace) -> Vec<Claim<'_>> {
    let SeedTrace::Toolgrad(iterations) = trace else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for iteration in iterations {
        let Some(chosen) = iteration.gradient.as_ref().and_then(|g| g.chosen.as_ref()) else {
            continue;
        };
        let Some(report) = iteration.executions.iter().find(|r| &r.id == chosen) else {
            continue;
        };
        let Some(step) = &report.step else {
            continue;
        };
        for flow in &report.data_flow {
            out.push(Claim {
                tool: &step.action().tool,
                tool_input: &step.action().tool_input,
                flow,
            });
        }
    }
    out
}

/// Whether two argument values are equal, numbers by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Chained arguments of `workflow` that are not what the trace says they
/// came from; also how many claims were checked.
pub fn chained_arguments(workflow: &Workflow, trace: &SeedTrace) -> (usize, Vec<String>) {
    let mut checked = 0;
    let mut problems = Vec::new();
    for claim in claims(trace) {
        let flow = claim.flow;
        let Some(chain) = workflow.api_use_chains.get(&flow.chain_id) else {
            continue;
        };
        let steps = &chain.intermediate_steps;
        let Some(at) = steps.iter().position(|s| {
            s.action().tool == claim.tool && &s.action().tool_input == claim.tool_input
        }) else {
            // The call did not end up in this chain (a later iteration
            // replaced it); nothing to check.
            continue;
        };
        checked += 1;
        let Some(value) = claim.tool_input.get(&flow.param) else {
            problems.push(format!(
                "{} step {}: the trace says `{}` came from {}, but the call has no `{}`",
                flow.chain_id,
                at + 1,
                flow.param,
                flow.from_tool,
                flow.param
            ));
            continue;
        };
        let matches = steps[..at]
            .iter()
            .filter(|s| s.action().tool == flow.from_tool)
            .filter_map(|s| serde_json::from_str::<Value>(s.observation()).ok())
            .any(|observed| extract(&observed, &flow.from_path).is_some_and(|v| same(&v, value)));
        if !matches {
            problems.push(format!(
                "{} step {}: `{}` = {value} is not what an earlier {} call observed at `{}`",
                flow.chain_id,
                at + 1,
                flow.param,
                flow.from_tool,
                flow.from_path
            ));
        }
    }
    (checked, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{Action, Chain, Step};
    use serde_json::json;

    fn workflow(query: &str, steps: Vec<Step>, response: &str) -> Workflow {
        let mut workflow = Workflow {
            query: query.into(),
            response: response.into(),
            ..Workflow::default()
        };
        workflow.api_use_chains.insert(
            "api_use_chain_1".into(),
            Chain {
                chain_id: "api_use_chain_1".into(),
                intermediate_steps: steps,
            },
        );
        workflow
    }

    fn step(tool: &str, input: Value, observation: Value) -> Step {
        Step(Action::new(tool, input, "builtin"), observation.to_string())
    }

    #[test]
    fn numbers_read_thousands_decimals_and_dates() {
        let found: Vec<f64> = numbers("$1,250.50 on 2026-03-14, 3 times")
            .iter()
            .map(|n| n.value)
            .collect();
        assert_eq!(found, [1250.5, 2026.0, 3.0, 14.0, 3.0]);
        assert_eq!(numbers("1.25")[0].decimals, 2);
    }

    #[test]
    fn query_values_come_from_arguments_in_any_written_form() {
        let steps = vec![step(
            "date_after",
            json!({"date": "2026-03-14", "days": 70}),
            json!({"date": "2026-05-23"}),
        )];
        let good = workflow(
            "What is the date 70 days after March 14, 2026?",
            steps.clone(),
            "It is 2026-05-23.",
        );
        assert!(query_values(&good).is_empty(), "{:?}", query_values(&good));
        assert!(response_values(&good).is_empty());
        let bad = workflow(
            "What is the date 71 days after \"Pi Day\" 2026?",
            steps,
            "It is May 24.",
        );
        let problems = query_values(&bad);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("71") && problems[1].contains("Pi Day"));
        let problems = response_values(&bad);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("24"));
    }

    #[test]
    fn response_numbers_may_round_observations() {
        let steps = vec![step(
            "distance_between_cities",
            json!({"from": "Lisbon", "to": "Porto"}),
            json!({"km": 274.3172}),
        )];
        let rounded = workflow(
            "Lisbon to Porto?",
            steps.clone(),
            "About 274.3 km, or 274 km.",
        );
        assert!(response_values(&rounded).is_empty());
        let wrong = workflow("Lisbon to Porto?", steps, "About 275.0 km.");
        assert_eq!(response_values(&wrong).len(), 1);
        let factors = vec![step(
            "prime_factors",
            json!({"n": 96}),
            json!({"factors": [2, 2, 2, 2, 2, 3]}),
        )];
        let counted = workflow("Factor 96.", factors.clone(), "2, 2, … (6 in all).");
        assert!(response_values(&counted).is_empty());
        let miscounted = workflow("Factor 96.", factors, "2, 2, … (7 in all).");
        assert_eq!(response_values(&miscounted).len(), 1);
    }
}
