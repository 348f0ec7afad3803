//! The generated sample: a user query, named chains of executed tool calls and
//! the final response, serialised in the reference code's JSON layout
//! (`api_use_chains.<id>.intermediate_steps = [[action, observation], ...]`).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// At most this many chains per workflow, as in the reference.
pub const MAX_CHAINS: usize = 10;

/// One executed call: which tool, with which arguments, from which source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// The tool's real (un-aliased) name.
    pub tool: String,
    pub tool_input: serde_json::Value,
    /// The tool source that executed it (`builtin`, `mcp:<name>`, `toolbench`).
    pub source: String,
    /// `Invoking: `name` with `{...}``, as the reference logs it.
    pub log: String,
}

impl Action {
    pub fn new(tool: &str, tool_input: serde_json::Value, source: &str) -> Self {
        let log = format!("\nInvoking: `{tool}` with `{tool_input}`\n");
        Self {
            tool: tool.to_owned(),
            tool_input,
            source: source.to_owned(),
            log,
        }
    }
}

/// An action and the observation its execution returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step(pub Action, pub String);

impl Step {
    pub fn action(&self) -> &Action {
        &self.0
    }
    pub fn observation(&self) -> &str {
        &self.1
    }
}

/// An ordered list of executed calls; later steps may use earlier results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chain {
    pub chain_id: String,
    pub intermediate_steps: Vec<Step>,
}

/// The sample: query, chains and response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub query: String,
    pub api_use_chains: IndexMap<String, Chain>,
    pub response: String,
    /// The query of the multi-turn format: it states no observation-derived
    /// value ([`crate::derived`]). Absent in runs made before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agentic_query: Option<String>,
}

/// Where the selector puts the chosen call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainTarget {
    NewChain,
    Append(String),
}

/// What a chain update did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum UpdateOutcome {
    Appended {
        chain_id: String,
    },
    NewChain {
        chain_id: String,
    },
    /// The chain cap was reached or the target chain does not exist.
    Refused {
        reason: String,
    },
}

impl Workflow {
    pub fn chain_ids(&self) -> Vec<String> {
        self.api_use_chains.keys().cloned().collect()
    }

    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.api_use_chains
            .values()
            .flat_map(|chain| chain.intermediate_steps.iter())
    }

    pub fn num_steps(&self) -> usize {
        self.steps().count()
    }

    /// The deterministic chain update: append to `target` or open
    /// `api_use_chain_{n+1}`; refused past [`MAX_CHAINS`] or for an unknown chain.
    pub fn apply(&mut self, step: Step, target: &ChainTarget) -> UpdateOutcome {
        match target {
            ChainTarget::Append(id) => match self.api_use_chains.get_mut(id) {
                Some(chain) => {
                    chain.intermediate_steps.push(step);
                    UpdateOutcome::Appended {
                        chain_id: id.clone(),
                    }
                }
                None => UpdateOutcome::Refused {
                    reason: format!("no chain named {id}"),
                },
            },
            ChainTarget::NewChain if self.api_use_chains.len() >= MAX_CHAINS => {
                UpdateOutcome::Refused {
                    reason: format!("the workflow already has {MAX_CHAINS} chains"),
                }
            }
            ChainTarget::NewChain => {
                let chain_id = format!("api_use_chain_{}", self.api_use_chains.len() + 1);
                self.api_use_chains.insert(
                    chain_id.clone(),
                    Chain {
                        chain_id: chain_id.clone(),
                        intermediate_steps: vec![step],
                    },
                );
                UpdateOutcome::NewChain { chain_id }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(tool: &str) -> Step {
        Step(Action::new(tool, json!({"x": 1}), "builtin"), "{}".into())
    }

    #[test]
    fn update_appends_opens_and_caps_chains() {
        let mut workflow = Workflow::default();
        assert_eq!(
            workflow.apply(step("a"), &ChainTarget::NewChain),
            UpdateOutcome::NewChain {
                chain_id: "api_use_chain_1".into()
            }
        );
        let target = ChainTarget::Append("api_use_chain_1".into());
        assert!(matches!(
            workflow.apply(step("b"), &target),
            UpdateOutcome::Appended { .. }
        ));
        assert!(matches!(
            workflow.apply(step("b"), &ChainTarget::Append("nope".into())),
            UpdateOutcome::Refused { .. }
        ));
        for _ in 1..MAX_CHAINS {
            workflow.apply(step("c"), &ChainTarget::NewChain);
        }
        assert!(matches!(
            workflow.apply(step("d"), &ChainTarget::NewChain),
            UpdateOutcome::Refused { .. }
        ));
        assert_eq!(workflow.api_use_chains.len(), MAX_CHAINS);
        assert_eq!(workflow.num_steps(), MAX_CHAINS + 1);
    }

    #[test]
    fn serialises_in_the_reference_layout() {
        let mut workflow = Workflow::default();
        workflow.apply(step("a"), &ChainTarget::NewChain);
        let value = serde_json::to_value(&workflow).unwrap();
        let first = &value["api_use_chains"]["api_use_chain_1"]["intermediate_steps"][0];
        assert_eq!(first[0]["tool"], "a");
        assert_eq!(first[1], "{}");
        let back: Workflow = serde_json::from_value(value).unwrap();
        assert_eq!(back, workflow);
    }
}
