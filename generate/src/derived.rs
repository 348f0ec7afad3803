//! Which argument values a workflow's calls took from earlier observations, and
//! whether a text states them.
//!
//! The multi-turn (agentic) format replays a workflow in rounds: round `k` makes
//! the `k`-th call of every chain and then sees its observations. A value is
//! *observation-derived* when a step uses it, an earlier step of the same chain
//! observed it (chains are where data flows; independent chains share values
//! only by coincidence), and no call of the workflow takes it from the user: a
//! value the user states somewhere, or a word inside a text the user states, is
//! known. The agentic query must not state such a value: the model is meant to
//! read it from the observation.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::workflow::Workflow;

/// One scalar an argument took from an earlier round's observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DerivedValue {
    pub chain_id: String,
    /// The step's index in its chain (= its round).
    pub step: usize,
    /// The top-level argument that holds it.
    pub param: String,
    pub value: Value,
}

/// A scalar in a canonical form: numbers by value, text case-folded.
fn key(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => n.as_f64().map(|x| format!("n:{x}")),
        Value::String(s) if !s.trim().is_empty() => Some(format!("s:{}", s.trim().to_lowercase())),
        _ => None,
    }
}

/// The scalar leaves (numbers and non-empty strings) of a value.
fn leaves<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
        Value::Object(map) => map.values().for_each(|v| leaves(v, out)),
        Value::Number(_) | Value::String(_) if key(value).is_some() => out.push(value),
        _ => {}
    }
}

/// What earlier observations contain: parsed JSON leaves, or the raw text.
#[derive(Default)]
struct Observed {
    keys: HashSet<String>,
    text: String,
}

impl Observed {
    fn add(&mut self, observation: &str) {
        match serde_json::from_str::<Value>(observation) {
            Ok(parsed) => {
                let mut found = Vec::new();
                leaves(&parsed, &mut found);
                self.keys.extend(found.into_iter().filter_map(key));
            }
            Err(_) => {
                self.text.push_str(&observation.to_lowercase());
                self.text.push('\n');
            }
        }
    }

    fn contains(&self, value: &Value) -> bool {
        let Some(k) = key(value) else {
            return false;
        };
        self.keys.contains(&k)
            || match value {
                Value::String(s) if s.trim().chars().count() >= 3 => {
                    self.text.contains(&s.trim().to_lowercase())
                }
                Value::Number(_) => mentions(&self.text, value),
                _ => false,
            }
    }
}

/// Every observation-derived value of `workflow`, in chain order.
pub fn derived_values(workflow: &Workflow) -> Vec<DerivedValue> {
    let mut stated: HashSet<String> = HashSet::new();
    let mut stated_texts: Vec<String> = Vec::new();
    let mut candidates = Vec::new();
    for (chain_id, chain) in &workflow.api_use_chains {
        let mut observed = Observed::default();
        for (index, step) in chain.intermediate_steps.iter().enumerate() {
            for (param, value) in step.action().tool_input.as_object().into_iter().flatten() {
                let mut found = Vec::new();
                leaves(value, &mut found);
                for leaf in found {
                    if observed.contains(leaf) {
                        candidates.push(DerivedValue {
                            chain_id: chain_id.clone(),
                            step: index,
                            param: param.clone(),
                            value: leaf.clone(),
                        });
                    } else if let Some(k) = key(leaf) {
                        stated.insert(k);
                        if let Value::String(text) = leaf {
                            stated_texts.push(text.clone());
                        }
                    }
                }
            }
            observed.add(step.observation());
        }
    }
    candidates.retain(|d| {
        key(&d.value).is_some_and(|k| !stated.contains(&k))
            && !stated_texts.iter().any(|text| mentions(text, &d.value))
    });
    candidates
}

/// The ways a text may write a scalar: the string itself; a number as written in
/// JSON and, when integral, without a fractional part.
fn renderings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.trim().to_lowercase()],
        Value::Number(n) => {
            let mut forms = vec![n.to_string()];
            if let Some(x) = n.as_f64() {
                if x.fract() == 0.0 && x.abs() < 1e15 {
                    forms.push(format!("{}", x as i64));
                }
            }
            forms
        }
        _ => Vec::new(),
    }
}

/// Whether `text` states `value` as a whole token (case-insensitive, except for
/// codes of up to 3 characters such as `IN`, which would match the word "in";
/// a number must not be part of a longer number, a word not part of a longer word).
pub fn mentions(text: &str, value: &Value) -> bool {
    let code = value
        .as_str()
        .is_some_and(|s| s.trim().chars().count() <= 3);
    let haystack = if code {
        text.to_owned()
    } else {
        text.to_lowercase()
    };
    let needles = match value {
        Value::String(s) if code => vec![s.trim().to_owned()],
        _ => renderings(value),
    };
    needles.iter().any(|needle| {
        if needle.is_empty() {
            return false;
        }
        haystack.match_indices(needle.as_str()).any(|(at, _)| {
            let before = haystack[..at].chars().next_back();
            let after_text = &haystack[at + needle.len()..];
            let mut after = after_text.chars();
            let next = after.next();
            // A number inside a date, time or path (`2026-03-14`, `09:30`) is not that number.
            let glue: &[char] = if value.is_number() {
                &['_', '-', ':', '/']
            } else {
                &['_']
            };
            let joined =
                |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || glue.contains(&c));
            // `2.5` inside `12.5` or `2.55`; a trailing full stop is punctuation.
            let decimal_tail =
                next == Some('.') && after.next().is_some_and(|c| c.is_ascii_digit());
            let decimal_head = before == Some('.')
                && haystack[..at.saturating_sub(1)]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_digit());
            !joined(before) && !joined(next) && !decimal_tail && !decimal_head
        })
    })
}

/// The derived values `text` states (empty when the text is clean).
pub fn leaked<'a>(text: &str, derived: &'a [DerivedValue]) -> Vec<&'a DerivedValue> {
    derived
        .iter()
        .filter(|d| mentions(text, &d.value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{Action, ChainTarget, Step};
    use serde_json::json;

    fn step(tool: &str, args: Value, observation: Value) -> Step {
        Step(Action::new(tool, args, "builtin"), observation.to_string())
    }

    #[test]
    fn values_from_earlier_rounds_are_derived_unless_the_user_states_them() {
        let mut workflow = Workflow::default();
        workflow.apply(
            step(
                "city_info",
                json!({"city": "Lisbon"}),
                json!({"city": "Lisbon", "timezone": "Europe/Lisbon", "population": 545000}),
            ),
            &ChainTarget::NewChain,
        );
        let chain = ChainTarget::Append("api_use_chain_1".into());
        workflow.apply(
            step(
                "local_time",
                json!({"timezone": "Europe/Lisbon", "city": "Lisbon"}),
                json!({"time": "09:30"}),
            ),
            &chain,
        );
        workflow.apply(
            step(
                "double",
                json!({"x": 545000, "note": "the population of lisbon"}),
                json!({"y": 1090000}),
            ),
            &ChainTarget::NewChain,
        );
        let derived = derived_values(&workflow);
        // Chain 2 observed nothing before its call: 545000 is the user's, and
        // "Lisbon" is a word of a text the user states.
        assert_eq!(derived.len(), 1, "{derived:?}");
        assert_eq!(derived[0].param, "timezone");
        assert_eq!(derived[0].value, json!("Europe/Lisbon"));
        assert_eq!(derived[0].step, 1);
    }

    #[test]
    fn mentions_match_whole_tokens_only() {
        assert!(mentions("It is 84 km.", &json!(84.0)));
        assert!(mentions("in europe/lisbon time", &json!("Europe/Lisbon")));
        assert!(!mentions("the year 2084", &json!(84)));
        assert!(!mentions("on 2026-03-14 at 09:30", &json!(2026)));
        assert!(!mentions("on 2026-03-14 at 09:30", &json!(30)));
        assert!(mentions("from 2026 to 2027", &json!(2026)));
        assert!(!mentions("12.5 litres", &json!(2.5)));
        assert!(!mentions("2.55 litres", &json!(2.5)));
        assert!(mentions("about 2.5.", &json!(2.5)));
        assert!(!mentions("Parisian cafés", &json!("Paris")));
        assert!(!mentions("cities in India", &json!("IN")));
        assert!(mentions("cities in IN", &json!("IN")));
    }
}
