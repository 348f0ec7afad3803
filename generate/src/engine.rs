//! One generation session (one seed): `max_iter` iterations of
//! sample APIs → propose → execute (concurrently) → select (the textual
//! gradient) → update the chains → inverse-predict query and response, with
//! the reference's early-next-iteration rules. Every iteration is traced.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::config::Method;
use crate::policy::{Context, Counters, Gradient, ProposalSet, Report, Roles};
use crate::validate::Validator;
use crate::workflow::{UpdateOutcome, Workflow};
use toolgrad_tools::ToolBox;

/// Loop settings; the defaults follow the paper.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoopConfig {
    pub num_apis: usize,
    pub num_proposals: usize,
    pub max_iter: u64,
    /// How many of the last selector reasons the proposer sees (0 = off).
    pub gradient_memory: usize,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            num_apis: 50,
            num_proposals: 3,
            max_iter: 10,
            gradient_memory: 0,
        }
    }
}

/// What one iteration did, for auditing and plotting.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IterationTrace {
    pub step: u64,
    pub sampled_apis: Vec<String>,
    pub proposals: Option<ProposalSet>,
    pub executions: Vec<Report>,
    pub gradient: Option<Gradient>,
    pub update: Option<UpdateOutcome>,
    /// Why the iteration ended early, if it did.
    pub early_next: Option<String>,
    /// Whether the inverse predictor rewrote query and response.
    pub rewrote_query: bool,
}

/// Per-seed accounting, saved as `metadata/<seed>.json`; both methods write it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeedMetadata {
    pub seed: u64,
    /// Which generator made the seed (absent in older files: ToolGrad).
    #[serde(default)]
    pub method: Method,
    pub accepted: bool,
    pub failure: Option<String>,
    /// ToolGrad: loop iterations. DFS: tree expansions (solver replies).
    pub iterations: u64,
    pub num_apis: usize,
    /// ToolGrad: proposals per iteration. DFS: the tree width.
    pub num_proposals: usize,
    pub num_chains: usize,
    pub num_steps: usize,
    pub llm_calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    pub tool_calls: u64,
    pub wall_time_s: f64,
    /// Why the multi-turn format's query could not be written (the sample is
    /// still accepted; the agentic format skips it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agentic_query_error: Option<String>,
}

/// A finished session; `T` is the method's trace (ToolGrad: its iterations).
pub struct SeedOutcome<T = Vec<IterationTrace>> {
    pub workflow: Option<Workflow>,
    pub trace: T,
    pub metadata: SeedMetadata,
}

/// The loop with its roles, tools and validator.
pub struct Engine {
    pub config: LoopConfig,
    pub roles: Roles,
    pub toolbox: Arc<ToolBox>,
    pub validator: Validator,
}

/// The reference's per-iteration reseed: `seed * max_iter + step`.
pub fn sample_apis(
    names: &[String],
    num_apis: usize,
    seed: u64,
    max_iter: u64,
    step: u64,
) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(max_iter).wrapping_add(step));
    let amount = num_apis.min(names.len());
    rand::seq::index::sample(&mut rng, names.len(), amount)
        .into_iter()
        .map(|i| names[i].clone())
        .collect()
}

impl Engine {
    pub async fn run_seed(&self, seed: u64) -> SeedOutcome {
        let started = Instant::now();
        let counters = Counters::default();
        let mut workflow: Option<Workflow> = None;
        let mut trace = Vec::new();
        let mut memory: Vec<String> = Vec::new();
        let mut last_rewrite = 0;
        for step in 1..=self.config.max_iter {
            let record = self
                .iterate(seed, step, &mut workflow, &memory, &counters)
                .await;
            if record.rewrote_query {
                last_rewrite = step;
            }
            if let Some(gradient) = &record.gradient {
                memory.push(gradient.reason.clone());
                let keep = self.config.gradient_memory;
                if memory.len() > keep {
                    memory.drain(..memory.len() - keep);
                }
            }
            trace.push(record);
        }
        let accepted = workflow
            .as_ref()
            .is_some_and(|w| w.num_steps() > 0 && !w.query.trim().is_empty());
        let mut agentic_query_error = None;
        if let Some(finished) = workflow.as_mut().filter(|_| accepted) {
            match self
                .agentic_query(seed, last_rewrite, finished, &counters)
                .await
            {
                Ok(query) => finished.agentic_query = Some(query),
                Err(error) => agentic_query_error = Some(error.to_string()),
            }
        }
        let metadata = SeedMetadata {
            seed,
            method: Method::Toolgrad,
            accepted,
            failure: (!accepted).then(|| "every iteration failed: empty data sample".to_owned()),
            iterations: self.config.max_iter,
            num_apis: self.config.num_apis,
            num_proposals: self.config.num_proposals,
            num_chains: workflow.as_ref().map_or(0, |w| w.api_use_chains.len()),
            num_steps: workflow.as_ref().map_or(0, Workflow::num_steps),
            llm_calls: Counters::get(&counters.llm_calls),
            prompt_tokens: Counters::get(&counters.prompt_tokens),
            completion_tokens: Counters::get(&counters.completion_tokens),
            cost_usd: Counters::get(&counters.cost_micro_usd) as f64 / 1e6,
            tool_calls: Counters::get(&counters.tool_calls),
            wall_time_s: started.elapsed().as_secs_f64(),
            agentic_query_error,
        };
        SeedOutcome {
            workflow: workflow.filter(|_| accepted),
            trace,
            metadata,
        }
    }

    /// The multi-turn format's query for the finished workflow, written with
    /// the context of the iteration that last rewrote the flat query.
    async fn agentic_query(
        &self,
        seed: u64,
        step: u64,
        workflow: &Workflow,
        counters: &Counters,
    ) -> Result<String, crate::policy::RoleError> {
        let cx = Context {
            seed,
            step,
            workflow,
            sampled: &[],
            toolbox: &self.toolbox,
            validator: &self.validator,
            memory: &[],
            counters,
        };
        let query = self.roles.inverse.predict_agentic(&cx).await?;
        let derived = crate::derived::derived_values(workflow);
        let leaks = crate::derived::leaked(&query, &derived);
        if let Some(first) = leaks.first() {
            return Err(crate::policy::RoleError::new(
                "agentic query",
                format!(
                    "the query states {} ({} of {}), which an observation supplies",
                    first.value, first.param, first.chain_id
                ),
            ));
        }
        Ok(query)
    }

    async fn iterate(
        &self,
        seed: u64,
        step: u64,
        workflow: &mut Option<Workflow>,
        memory: &[String],
        counters: &Counters,
    ) -> IterationTrace {
        let sampled = sample_apis(
            self.toolbox.names(),
            self.config.num_apis,
            seed,
            self.config.max_iter,
            step,
        );
        let current = workflow.clone().unwrap_or_default();
        let mut record = IterationTrace {
            step,
            sampled_apis: sampled.clone(),
            ..IterationTrace::default()
        };
        let cx = Context {
            seed,
            step,
            workflow: &current,
            sampled: &sampled,
            toolbox: &self.toolbox,
            validator: &self.validator,
            memory,
            counters,
        };

        let proposals = match self.roles.proposer.propose(&cx).await {
            Ok(set) => set,
            Err(error) => return early(record, error.to_string()),
        };
        record.proposals = Some(proposals.clone());
        if let Some(problem) = proposal_problem(&proposals, &sampled) {
            return early(record, problem);
        }

        let reports = join_all(
            proposals
                .proposals
                .iter()
                .map(|p| self.roles.executor.execute(&cx, p)),
        )
        .await;
        record.executions = reports.clone();
        let successful: Vec<Report> = reports.into_iter().filter(|r| r.success).collect();
        if successful.is_empty() {
            return early(record, "every execution failed".into());
        }

        let gradient = match self.roles.selector.select(&cx, &successful).await {
            Ok(gradient) => gradient,
            Err(error) => return early(record, error.to_string()),
        };
        record.gradient = Some(gradient.clone());
        let Some(chosen) = gradient.chosen.as_ref() else {
            return early(record, "the selector chose nothing".into());
        };
        let Some(step_taken) = successful
            .iter()
            .find(|r| &r.id == chosen)
            .and_then(|r| r.step.clone())
        else {
            return early(
                record,
                format!("the selector chose an unknown report `{chosen}`"),
            );
        };

        let mut updated = current.clone();
        let outcome = updated.apply(step_taken, &gradient.target);
        record.update = Some(outcome.clone());
        if let UpdateOutcome::Refused { reason } = outcome {
            return early(record, format!("chain update refused: {reason}"));
        }

        let cx = Context {
            workflow: &updated,
            ..cx
        };
        match self.roles.inverse.predict(&cx).await {
            Ok(written) => {
                updated.query = written.query;
                updated.response = written.response;
                *workflow = Some(updated);
                record.rewrote_query = true;
            }
            Err(error) => record.early_next = Some(error.to_string()),
        }
        record
    }
}

fn early(mut record: IterationTrace, reason: String) -> IterationTrace {
    record.early_next = Some(reason);
    record
}

/// The proposal set is void when empty, when a proposal names more than 3
/// APIs or none, or names an API outside this iteration's sample.
fn proposal_problem(set: &ProposalSet, sampled: &[String]) -> Option<String> {
    if set.proposals.is_empty() {
        return Some("the proposer returned no proposals".into());
    }
    let allowed: HashSet<&String> = sampled.iter().collect();
    for proposal in &set.proposals {
        if proposal.apis.is_empty() || proposal.apis.len() > 3 {
            return Some(format!(
                "proposal {} names {} APIs (1 to 3 allowed)",
                proposal.id,
                proposal.apis.len()
            ));
        }
        if let Some(api) = proposal.apis.iter().find(|a| !allowed.contains(a)) {
            return Some(format!(
                "proposal {} names `{api}`, which was not sampled",
                proposal.id
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_reseeded_per_step_and_stays_in_range() {
        let names: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
        let a = sample_apis(&names, 50, 7, 10, 1);
        assert_eq!(a, sample_apis(&names, 50, 7, 10, 1));
        assert_ne!(a, sample_apis(&names, 50, 7, 10, 2));
        assert_eq!(a.len(), 50);
        let unique: HashSet<&String> = a.iter().collect();
        assert_eq!(unique.len(), 50);
        assert_eq!(sample_apis(&names[..5], 50, 7, 10, 1).len(), 5);
    }
}
