//! The four agent roles of an iteration, each behind a trait with an
//! LLM-backed implementation ([`llm`]) and a deterministic rule-based one
//! ([`rule`]): proposer, executor, selector (the textual gradient; [`random`]
//! for the no-gradient ablation) and inverse predictor. Also the data they
//! exchange, which the trace records.

pub mod intents;
pub mod llm;
mod phrasing;
pub mod plan;
pub mod random;
mod request;
pub mod rule;
pub mod surface;

use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::validate::Validator;
use crate::workflow::{Action, ChainTarget, Step, Workflow};
use toolgrad_tools::{ToolBox, ToolError};

/// One proposed sub-task: an instruction and at most 3 APIs to try.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: String,
    pub instruction: String,
    pub apis: Vec<String>,
    /// The chain whose results the rule policy means to reuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_chain: Option<String>,
    /// The rule policy's plan step this proposal carries out ([`intents`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_step: Option<String>,
}

/// The proposer's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposalSet {
    pub reason: String,
    pub proposals: Vec<Proposal>,
}

/// An argument filled from an earlier observation: the data-flow evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFlow {
    pub param: String,
    pub chain_id: String,
    pub from_tool: String,
    pub from_path: String,
}

/// One executed call inside an executor's episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub tool: String,
    pub tool_input: serde_json::Value,
    /// The first 200 characters of the observation, when there was one.
    pub observation_preview: Option<String>,
    /// Why the call failed or its observation was rejected.
    pub rejected: Option<String>,
}

/// What one executor achieved for one proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub id: String,
    pub success: bool,
    /// The last call whose observation passed validation.
    pub step: Option<Step>,
    pub num_tool_calls: usize,
    pub attempts: Vec<Attempt>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_flow: Vec<DataFlow>,
    pub error_message: Option<String>,
}

/// The selector's output: which report improves the workflow and where it goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gradient {
    /// The chosen report id, or `None` for "nothing useful".
    pub chosen: Option<String>,
    pub reason: String,
    pub target: ChainTarget,
    /// Facts the choice rests on (data-flow edges, novelty).
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// The inverse predictor's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryResponse {
    pub query: String,
    pub response: String,
}

/// Why a role produced nothing usable this iteration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{role}: {message}")]
pub struct RoleError {
    pub role: &'static str,
    pub message: String,
}

impl RoleError {
    pub fn new(role: &'static str, message: impl Into<String>) -> Self {
        Self {
            role,
            message: message.into(),
        }
    }
}

/// Counters shared by every role of one seed.
#[derive(Debug, Default)]
pub struct Counters {
    pub llm_calls: AtomicU64,
    pub prompt_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
    /// Cost in micro-dollars.
    pub cost_micro_usd: AtomicU64,
    pub tool_calls: AtomicU64,
}

impl Counters {
    pub fn add(&self, counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Everything a role may look at during one iteration.
pub struct Context<'a> {
    pub seed: u64,
    pub step: u64,
    pub workflow: &'a Workflow,
    /// This iteration's sampled tool names.
    pub sampled: &'a [String],
    pub toolbox: &'a ToolBox,
    pub validator: &'a Validator,
    /// The last selector reasons (gradient memory), newest last.
    pub memory: &'a [String],
    pub counters: &'a Counters,
}

impl Context<'_> {
    /// Executes one call, counts it, and validates the observation.
    pub async fn execute(
        &self,
        tool: &str,
        tool_input: serde_json::Value,
    ) -> (Attempt, Option<Step>) {
        self.counters.add(&self.counters.tool_calls, 1);
        let outcome = self.toolbox.call(tool, &tool_input).await;
        let (preview, rejected, step) = match outcome {
            Ok(observation) => {
                let preview = Some(observation.chars().take(200).collect());
                match self.validator.check(&observation) {
                    None => {
                        let source = self
                            .toolbox
                            .spec(tool)
                            .map(|s| s.source.clone())
                            .unwrap_or_default();
                        let action = Action::new(tool, tool_input.clone(), &source);
                        (preview, None, Some(Step(action, observation)))
                    }
                    Some(reason) => (preview, Some(format!("rejected: {reason}")), None),
                }
            }
            Err(ToolError::UnknownTool(name)) => {
                (None, Some(format!("unknown tool `{name}`")), None)
            }
            Err(error) => (None, Some(error.to_string()), None),
        };
        let attempt = Attempt {
            tool: tool.to_owned(),
            tool_input,
            observation_preview: preview,
            rejected,
        };
        (attempt, step)
    }
}

/// Turns a list of attempts into a report: the last valid step wins.
pub fn report_from(
    id: &str,
    attempts: Vec<Attempt>,
    steps: Vec<Step>,
    data_flow: Vec<DataFlow>,
) -> Report {
    let step = steps.into_iter().last();
    let error_message = match &step {
        Some(_) => None,
        None => Some(
            attempts
                .iter()
                .rev()
                .find_map(|a| a.rejected.clone())
                .unwrap_or_else(|| "no tool was called".into()),
        ),
    };
    Report {
        id: id.to_owned(),
        success: step.is_some(),
        num_tool_calls: attempts.len(),
        step,
        attempts,
        data_flow,
        error_message,
    }
}

pub trait Proposer: Send + Sync {
    fn propose<'a>(&'a self, cx: &'a Context<'a>) -> BoxFuture<'a, Result<ProposalSet, RoleError>>;
}

pub trait Executor: Send + Sync {
    fn execute<'a>(&'a self, cx: &'a Context<'a>, proposal: &'a Proposal) -> BoxFuture<'a, Report>;
}

pub trait Selector: Send + Sync {
    fn select<'a>(
        &'a self,
        cx: &'a Context<'a>,
        reports: &'a [Report],
    ) -> BoxFuture<'a, Result<Gradient, RoleError>>;
}

pub trait InversePredictor: Send + Sync {
    /// Writes query and response for `cx.workflow` (already updated).
    fn predict<'a>(
        &'a self,
        cx: &'a Context<'a>,
    ) -> BoxFuture<'a, Result<QueryResponse, RoleError>>;

    /// Writes the query of the multi-turn (agentic) format for the finished
    /// `cx.workflow`: the same request, but it states no value that comes from
    /// an observation ([`crate::derived`]); the assistant reads those itself.
    fn predict_agentic<'a>(
        &'a self,
        cx: &'a Context<'a>,
    ) -> BoxFuture<'a, Result<String, RoleError>>;
}

/// The four roles of a run.
pub struct Roles {
    pub proposer: Box<dyn Proposer>,
    pub executor: Box<dyn Executor>,
    pub selector: Box<dyn Selector>,
    pub inverse: Box<dyn InversePredictor>,
}
