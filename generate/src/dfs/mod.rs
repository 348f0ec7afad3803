//! The query-first baseline, ToolBench's DFSDT: tools sampled with
//! ToolGrad's sampler and seeds, a query the LLM writes for them
//! ([`query`]), a depth-first tool-calling agent with backtracking over the
//! same [`ToolBox`] and validator ([`search`]), and ToolEval's pass-rate
//! judgement ([`judge`]). An accepted sample is a one-chain workflow (the kept
//! path's validated calls), so `verify` and `format` treat it as ToolGrad's.

pub mod judge;
pub mod query;
pub mod search;

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::{DfsConfig, Method};
use crate::engine::{sample_apis, SeedMetadata, SeedOutcome};
use crate::llm::RoleLlm;
use crate::policy::{Context, Counters};
use crate::run::{Generator, SeedTrace};
use crate::validate::Validator;
use crate::workflow::{Chain, Workflow};
use judge::{AnswerStatus, Judgement};
use query::WrittenQuery;
use search::{Node, NodeOutcome};
use toolgrad_tools::ToolBox;

/// Why an accepted DFS sample has no multi-turn query (the agentic format skips it).
pub const NO_AGENTIC_QUERY: &str =
    "the DFS baseline writes no multi-turn query: its query states every input, as ToolBench's do";

/// The LLM behind each of the baseline's three jobs.
pub struct DfsRoles {
    pub query_writer: RoleLlm,
    pub solver: RoleLlm,
    pub judge: RoleLlm,
}

/// The baseline with its LLMs, tools and validator.
pub struct DfsEngine {
    pub config: DfsConfig,
    /// APIs sampled per seed; with `max_iter`, the sample is the one ToolGrad's
    /// first iteration of the same seed draws.
    pub num_apis: usize,
    pub max_iter: u64,
    pub roles: DfsRoles,
    pub toolbox: Arc<ToolBox>,
    pub validator: Validator,
}

/// The calls of one seed by phase, taken from its counters; they add up to
/// the metadata's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseCalls {
    pub query_llm_calls: u64,
    pub solver_llm_calls: u64,
    pub judge_llm_calls: u64,
    pub tool_calls: u64,
}

/// What one seed did, saved as `trace/<seed>.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DfsTrace {
    pub sampled_apis: Vec<String>,
    pub query: Option<WrittenQuery>,
    /// Every solver reply, in the order the search made them.
    pub tree: Vec<Node>,
    /// Why the search ended.
    pub stop: Option<String>,
    /// Node ids from the root's child to the final answer.
    pub kept_path: Vec<usize>,
    pub judgements: Vec<Judgement>,
    pub calls: PhaseCalls,
    /// Why the seed was rejected.
    pub failure: Option<String>,
}

impl DfsEngine {
    pub async fn run_seed(&self, seed: u64) -> SeedOutcome<DfsTrace> {
        let started = Instant::now();
        let counters = Counters::default();
        let sampled = sample_apis(self.toolbox.names(), self.num_apis, seed, self.max_iter, 1);
        let mut trace = DfsTrace {
            sampled_apis: sampled.clone(),
            ..DfsTrace::default()
        };
        let result = self.solve(seed, &sampled, &counters, &mut trace).await;
        let llm_calls = Counters::get(&counters.llm_calls);
        trace.calls.judge_llm_calls = llm_calls
            .saturating_sub(trace.calls.query_llm_calls)
            .saturating_sub(trace.calls.solver_llm_calls);
        trace.calls.tool_calls = Counters::get(&counters.tool_calls);
        let (workflow, failure) = match result {
            Ok(workflow) => (Some(workflow), None),
            Err(reason) => (None, Some(reason)),
        };
        trace.failure = failure.clone();
        let metadata = SeedMetadata {
            seed,
            method: Method::Dfs,
            accepted: workflow.is_some(),
            failure,
            iterations: trace.tree.len() as u64,
            num_apis: self.num_apis,
            num_proposals: self.config.width,
            num_chains: workflow.as_ref().map_or(0, |w| w.api_use_chains.len()),
            num_steps: workflow.as_ref().map_or(0, Workflow::num_steps),
            llm_calls,
            prompt_tokens: Counters::get(&counters.prompt_tokens),
            completion_tokens: Counters::get(&counters.completion_tokens),
            cost_usd: Counters::get(&counters.cost_micro_usd) as f64 / 1e6,
            tool_calls: trace.calls.tool_calls,
            wall_time_s: started.elapsed().as_secs_f64(),
            agentic_query_error: workflow.as_ref().map(|_| NO_AGENTIC_QUERY.to_owned()),
        };
        SeedOutcome {
            workflow,
            trace,
            metadata,
        }
    }

    /// Query, search, judge: the accepted workflow, or why the seed fails.
    async fn solve(
        &self,
        seed: u64,
        sampled: &[String],
        counters: &Counters,
        trace: &mut DfsTrace,
    ) -> Result<Workflow, String> {
        let llm_calls = || Counters::get(&counters.llm_calls);
        let written =
            query::write(&self.roles.query_writer, &self.toolbox, sampled, counters).await;
        trace.calls.query_llm_calls = llm_calls();
        let written = written.map_err(|e| e.to_string())?;
        trace.query = Some(written.clone());

        let empty = Workflow::default();
        let cx = Context {
            seed,
            step: 1,
            workflow: &empty,
            sampled,
            toolbox: &self.toolbox,
            validator: &self.validator,
            memory: &[],
            counters,
        };
        let outcome = search::search(&self.roles.solver, &cx, &written.query, self.config).await;
        trace.calls.solver_llm_calls = llm_calls() - trace.calls.query_llm_calls;
        trace.tree = outcome.tree;
        trace.stop = Some(outcome.stop.clone());
        let Some(answer) = outcome.answer else {
            return Err(format!("no final answer: {}", outcome.stop));
        };
        trace.kept_path = search::path(&trace.tree, Some(answer));
        let kept: Vec<&Node> = trace
            .kept_path
            .iter()
            .filter_map(|&id| trace.tree.get(id))
            .collect();
        let final_answer = kept
            .iter()
            .find_map(|n| match &n.outcome {
                NodeOutcome::Answer { final_answer } => Some(final_answer.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let steps: Vec<_> = kept
            .iter()
            .filter_map(|n| match &n.outcome {
                NodeOutcome::Tool { step, .. } => step.as_deref().cloned(),
                _ => None,
            })
            .collect();
        if final_answer.is_empty() {
            return Err("execution failed: the final answer is empty".into());
        }
        if steps.is_empty() {
            return Err("execution failed: no tool call on the kept path succeeded".into());
        }
        let detail = path_detail(&kept, &final_answer);
        let status = judge::judge(
            &self.roles.judge,
            &written.query,
            &final_answer,
            &detail,
            counters,
            &mut trace.judgements,
        )
        .await
        .map_err(|e| e.to_string())?;
        if status != AnswerStatus::Solved {
            let reason = trace
                .judgements
                .last()
                .map(|j| j.reason.clone())
                .unwrap_or_default();
            return Err(format!("judge: {status:?} ({reason})"));
        }
        let chain_id = "api_use_chain_1".to_owned();
        let mut workflow = Workflow {
            query: written.query,
            response: final_answer,
            ..Workflow::default()
        };
        workflow.api_use_chains.insert(
            chain_id.clone(),
            Chain {
                chain_id,
                intermediate_steps: steps,
            },
        );
        Ok(workflow)
    }
}

/// The kept path as ToolEval's detailed judgement reads it: the final answer
/// and each node's thought, call and (cut) observation.
fn path_detail(kept: &[&Node], final_answer: &str) -> Value {
    let details: Vec<Value> = kept
        .iter()
        .flat_map(|node| {
            let mut messages = Vec::new();
            if let Some(thought) = &node.thought {
                messages.push(json!({"role": "assistant", "message": thought}));
            }
            if let (Some(call), NodeOutcome::Tool { observation, .. }) = (&node.call, &node.outcome)
            {
                messages.push(json!({
                    "role": "tool",
                    "name": call.name,
                    "arguments": call.arguments,
                    "message": observation,
                }));
            }
            messages
        })
        .collect();
    json!({"final_answer": final_answer, "answer_details": details})
}

impl Generator for DfsEngine {
    fn method(&self) -> Method {
        Method::Dfs
    }

    fn toolbox(&self) -> &ToolBox {
        &self.toolbox
    }

    fn generate(&self, seed: u64) -> BoxFuture<'_, SeedOutcome<SeedTrace>> {
        Box::pin(async move {
            let outcome = self.run_seed(seed).await;
            SeedOutcome {
                workflow: outcome.workflow,
                trace: SeedTrace::Dfs(Box::new(outcome.trace)),
                metadata: outcome.metadata,
            }
        })
    }
}
