//! The rule-based role policy: deterministic, seeded, no model.
//!
//! Each seed carries out one intent ([`super::intents`]): a need a person has,
//! planned over the built-in tools ([`super::plan`]).
//! - Proposer: the plan steps that may run next, most wanted first.
//! - Executor: fills a step's arguments from value pools, from the user's
//!   earlier values, or from an earlier observation through a declared link.
//! - Selector: the most wanted report that succeeded with a new call; a linked
//!   call continues its source's chain, any other starts a chain; it says why.
//! - Inverse predictor: writes the intent's request and answer
//!   ([`super::request`]), or per-tool templates for calls outside a plan.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::SeedableRng;
use serde_json::{Map, Value};

use super::intents::{PlanStep, Source};
use super::phrasing::{self, Phrased};
use super::plan::Plan;
use super::request;
use super::{
    report_from, Context, Executor, Gradient, InversePredictor, Proposal, ProposalSet, Proposer,
    QueryResponse, Report, RoleError, Selector,
};
use crate::derived::{derived_values, DerivedValue};
use crate::workflow::{ChainTarget, Workflow, MAX_CHAINS};
use toolgrad_tools::builtin::Env;
use toolgrad_tools::{ToolBox, ToolSpec};

/// A seeded generator from a list of integers (seed, step, proposal, ...).
pub fn seeded(parts: &[u64]) -> StdRng {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for part in parts {
        state = (state ^ part).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        state ^= state >> 31;
    }
    StdRng::seed_from_u64(state)
}

/// FNV-1a of a text: a stable seed part for ids and names.
pub fn hash_str(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Does `value` satisfy the parameter's JSON schema type (and enum)?
fn fits(schema: &Value, value: &Value) -> bool {
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        return options.contains(value);
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => value.is_string(),
        Some("number") => value.is_number(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("array") => value
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_number)),
        Some("boolean") => value.is_boolean(),
        _ => true,
    }
}

/// A required parameter: name, semantic kind and schema.
struct Slot {
    name: String,
    kind: Option<String>,
    schema: Value,
}

fn slots(spec: &ToolSpec) -> Vec<Slot> {
    spec.required_params()
        .into_iter()
        .map(|name| Slot {
            kind: spec.hints.as_ref().and_then(|h| {
                h.param_kinds
                    .iter()
                    .find(|(p, _)| *p == name)
                    .map(|(_, k)| k.to_string())
            }),
            schema: spec.parameters["properties"][&name].clone(),
            name,
        })
        .collect()
}

/// The rule-based policy for all four roles.
#[derive(Clone)]
pub struct RulePolicy {
    env: Option<Arc<Env>>,
    num_proposals: usize,
}

impl RulePolicy {
    /// `env` gives the built-in value pools; other sources use schema enums and examples.
    pub fn new(env: Option<Arc<Env>>, num_proposals: usize) -> Self {
        Self { env, num_proposals }
    }

    fn pool(&self, slot: &Slot) -> Vec<Value> {
        if let Some(options) = slot.schema.get("enum").and_then(Value::as_array) {
            return options.clone();
        }
        if let (Some(env), Some(kind)) = (&self.env, &slot.kind) {
            let values = env.pool(kind);
            if !values.is_empty() {
                return values;
            }
        }
        let mut values: Vec<Value> = slot.schema["examples"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if let Some(default) = slot.schema.get("default") {
            values.push(default.clone());
        }
        values
    }

    /// The seed's plan, when the built-in library is at hand.
    fn plan(&self, cx: &Context) -> Option<(Plan, &Env)> {
        let env = self.env.as_deref()?;
        Plan::for_seed(cx.seed, cx.toolbox).map(|plan| (plan, env))
    }

    /// Arguments from the value pools alone, for a proposal no plan step
    /// carries (another policy's proposer wrote it).
    fn fill_from_pools(&self, spec: &ToolSpec, rng: &mut StdRng) -> Option<Value> {
        let mut args = Map::new();
        for slot in slots(spec) {
            let taken: Vec<&Value> = args.values().collect();
            let pool: Vec<Value> = self
                .pool(&slot)
                .into_iter()
                .filter(|v| !taken.contains(&v) && fits(&slot.schema, v))
                .collect();
            let value = pool.choose(rng)?.clone();
            args.insert(slot.name, value);
        }
        Some(Value::Object(args))
    }
}

/// Pool values for a plan's `kind`: the library's pools, else the enum of
/// the tool's parameter of that name.
fn plan_pools<'a>(env: &'a Env, toolbox: &'a ToolBox) -> impl Fn(&str, &str) -> Vec<Value> + 'a {
    move |tool, kind| {
        let values = env.pool(kind);
        if !values.is_empty() {
            return values;
        }
        toolbox
            .spec(tool)
            .and_then(|s| s.parameters["properties"][kind]["enum"].as_array().cloned())
            .unwrap_or_default()
    }
}

/// Does the step draw any value (so that variants of it differ)?
fn draws(step: &PlanStep) -> bool {
    step.vary.is_some()
        || step.args.iter().any(|a| {
            !matches!(
                a.source,
                Source::Same(..) | Source::From(..) | Source::Shared(_)
            )
        })
}

impl Proposer for RulePolicy {
    fn propose<'a>(&'a self, cx: &'a Context<'a>) -> BoxFuture<'a, Result<ProposalSet, RoleError>> {
        Box::pin(async move {
            let (plan, _) = self.plan(cx).ok_or_else(|| {
                RoleError::new("proposer", "no intent has all its tools in this toolbox")
            })?;
            let name = plan.intent.name;
            let progress = plan.progress(cx.workflow).ok_or_else(|| {
                RoleError::new(
                    "proposer",
                    format!("the workflow holds a call outside the `{name}` plan"),
                )
            })?;
            let made: usize = progress.iter().map(Vec::len).sum();
            let options: Vec<usize> = plan
                .options(&progress)
                .into_iter()
                .filter(|&i| cx.sampled.iter().any(|t| t == plan.intent.steps[i].tool))
                .collect();
            // The last gradient names the steps still missing, most wanted
            // first: the proposal acts on the first of them that may run now.
            let wanted = cx.memory.last().and_then(|reason| {
                missing_steps(reason)
                    .into_iter()
                    .find_map(|id| plan.index(&id).filter(|i| options.contains(i)))
            });
            let options: Vec<usize> = match wanted {
                Some(w) => std::iter::once(w)
                    .chain(options.iter().copied().filter(|&i| i != w))
                    .collect(),
                None => options,
            };
            let Some(&best) = options.first() else {
                let why = if made >= plan.target {
                    format!(
                        "the `{name}` request is complete ({made} of {} planned calls)",
                        plan.target
                    )
                } else {
                    format!("no next step of the `{name}` request was sampled this iteration")
                };
                return Err(RoleError::new("proposer", why));
            };
            let mut picks: Vec<usize> = options.iter().copied().take(self.num_proposals).collect();
            if draws(&plan.intent.steps[best]) {
                while picks.len() < self.num_proposals {
                    picks.push(best);
                }
            }
            let proposals = picks
                .iter()
                .enumerate()
                .map(|(k, &i)| {
                    let step = &plan.intent.steps[i];
                    let description = cx
                        .toolbox
                        .spec(step.tool)
                        .map_or("", |s| s.description.as_str());
                    let source_chain = step.args.iter().find_map(|a| match a.source {
                        Source::From(from, _) => plan
                            .index(from)
                            .and_then(|j| progress[j].first())
                            .map(|c| c.chain_id.to_owned()),
                        _ => None,
                    });
                    let verb = if progress[i].is_empty() {
                        "call"
                    } else {
                        "repeat with another value"
                    };
                    let cue = if Some(i) == wanted {
                        " The last gradient says it is still missing."
                    } else {
                        ""
                    };
                    Proposal {
                        id: format!("p{}", k + 1),
                        instruction: format!(
                            "Step `{}` of the `{name}` request ({verb}): {description}{cue}",
                            step.id
                        ),
                        apis: vec![step.tool.to_owned()],
                        source_chain,
                        plan_step: Some(step.id.to_owned()),
                    }
                })
                .collect();
            Ok(ProposalSet {
                reason: format!(
                    "the `{name}` request has {made} of {} planned calls; {} step(s) may run next",
                    plan.target,
                    options.len()
                ),
                proposals,
            })
        })
    }
}

impl Executor for RulePolicy {
    fn execute<'a>(&'a self, cx: &'a Context<'a>, proposal: &'a Proposal) -> BoxFuture<'a, Report> {
        Box::pin(async move {
            let mut rng = seeded(&[cx.seed, cx.step, hash_str(&proposal.id)]);
            let (mut attempts, mut steps, mut flows) = (Vec::new(), Vec::new(), Vec::new());
            let planned = proposal.plan_step.as_deref().and_then(|id| {
                let (plan, env) = self.plan(cx)?;
                let index = plan.index(id)?;
                Some((plan, env, index))
            });
            for _ in 0..3 {
                let Some(tool) = proposal.apis.first() else {
                    break;
                };
                let filled = match &planned {
                    Some((plan, env, index)) => plan
                        .progress(cx.workflow)
                        .ok_or_else(|| "the workflow holds a call outside the plan".to_owned())
                        .and_then(|progress| {
                            plan.fill(
                                *index,
                                &progress,
                                &plan_pools(env, cx.toolbox),
                                env,
                                &mut rng,
                            )
                        }),
                    None => cx
                        .toolbox
                        .spec(tool)
                        .and_then(|spec| self.fill_from_pools(spec, &mut rng))
                        .map(|args| (args, Vec::new()))
                        .ok_or_else(|| format!("no known values fill the parameters of `{tool}`")),
                };
                let (args, flow) = match filled {
                    Ok(filled) => filled,
                    Err(reason) => {
                        attempts.push(super::Attempt {
                            tool: tool.clone(),
                            tool_input: Value::Null,
                            observation_preview: None,
                            rejected: Some(reason),
                        });
                        break;
                    }
                };
                let (attempt, step) = cx.execute(tool, args).await;
                attempts.push(attempt);
                if let Some(step) = step {
                    steps.push(step);
                    flows = flow;
                    break;
                }
            }
            report_from(&proposal.id, attempts, steps, flows)
        })
    }
}

impl Selector for RulePolicy {
    fn select<'a>(
        &'a self,
        cx: &'a Context<'a>,
        reports: &'a [Report],
    ) -> BoxFuture<'a, Result<Gradient, RoleError>> {
        Box::pin(async move {
            let full = cx.workflow.api_use_chains.len() >= MAX_CHAINS;
            // Reports arrive in proposal order, which is the plan's order of preference.
            let chosen = reports.iter().find(|report| {
                report.step.as_ref().is_some_and(|step| {
                    let duplicate = cx.workflow.steps().any(|s| {
                        s.action().tool == step.action().tool
                            && s.action().tool_input == step.action().tool_input
                    });
                    !(duplicate || full && report.data_flow.is_empty())
                })
            });
            let Some(report) = chosen else {
                return Ok(Gradient {
                    chosen: None,
                    reason: "no successful report adds a new, non-duplicate call".into(),
                    target: ChainTarget::NewChain,
                    evidence: Vec::new(),
                });
            };
            let tool = report
                .step
                .as_ref()
                .map_or("", |s| s.action().tool.as_str());
            let plan = self.plan(cx).map(|(plan, _)| plan);
            let purpose = match &plan {
                Some(plan) => match plan.intent.step_of_tool(tool) {
                    Some((_, step)) => {
                        format!("step `{}` of the `{}` request", step.id, plan.intent.name)
                    }
                    None => format!("a call outside the `{}` request", plan.intent.name),
                },
                None => "a call".to_owned(),
            };
            let missing = plan
                .as_ref()
                .and_then(|plan| still_missing(plan, cx.workflow, tool));
            let evidence: Vec<String> = report
                .data_flow
                .iter()
                .map(|f| {
                    format!(
                        "`{}` ← {}/{}.{}",
                        f.param, f.chain_id, f.from_tool, f.from_path
                    )
                })
                .collect();
            let (target, reason) = match report.data_flow.first() {
                Some(flow) => (
                    ChainTarget::Append(flow.chain_id.clone()),
                    format!(
                        "Report {} calls {tool} ({purpose}) on what {} returned, so it continues {}.",
                        report.id, flow.from_tool, flow.chain_id
                    ),
                ),
                None => (
                    ChainTarget::NewChain,
                    format!(
                        "Report {} calls {tool} ({purpose}) with values the user gives, so it starts a new chain.",
                        report.id
                    ),
                ),
            };
            let reason = match missing {
                Some(missing) => format!("{reason} {missing}"),
                None => reason,
            };
            Ok(Gradient {
                chosen: Some(report.id.clone()),
                reason,
                target,
                evidence,
            })
        })
    }
}

/// What the selector's reason says is left of the plan once the chosen call
/// (to `tool`) joins the workflow: "Still missing: `a` (tool_a), `b` (tool_b)."
/// or "The `name` request is complete."; `None` when the workflow holds a
/// call outside the plan.
fn still_missing(plan: &Plan, workflow: &Workflow, tool: &str) -> Option<String> {
    let mut calls: Vec<usize> = plan.progress(workflow)?.iter().map(Vec::len).collect();
    if let Some((i, _)) = plan.intent.step_of_tool(tool) {
        calls[i] += 1;
    }
    let next = plan.options_for(&calls);
    if next.is_empty() {
        return Some(format!("The `{}` request is complete.", plan.intent.name));
    }
    let named: Vec<String> = next
        .iter()
        .map(|&i| {
            let step = &plan.intent.steps[i];
            format!("`{}` ({})", step.id, step.tool)
        })
        .collect();
    Some(format!("{MISSING}{}.", named.join(", ")))
}

const MISSING: &str = "Still missing: ";

/// The step ids a reason written by [`still_missing`] names, in its order.
fn missing_steps(reason: &str) -> Vec<String> {
    let Some((_, list)) = reason.split_once(MISSING) else {
        return Vec::new();
    };
    list.split(", ")
        .filter_map(|item| item.strip_prefix('`')?.split_once('`'))
        .map(|(id, _)| id.to_owned())
        .collect()
}

/// The chains as phrase inputs; arguments listed in `derived` are named by
/// reference instead of by value.
fn phrased<'a>(
    cx: &'a Context<'a>,
    derived: &'a [DerivedValue],
) -> Result<Vec<Vec<Phrased<'a>>>, RoleError> {
    cx.workflow
        .api_use_chains
        .iter()
        .map(|(chain_id, chain)| {
            chain
                .intermediate_steps
                .iter()
                .enumerate()
                .map(|(index, step)| {
                    let tool = &step.action().tool;
                    let hints = cx
                        .toolbox
                        .spec(tool)
                        .and_then(|s| s.hints.as_deref())
                        .ok_or_else(|| {
                            RoleError::new(
                                "inverse predictor",
                                format!("no phrase templates for `{tool}`"),
                            )
                        })?;
                    let by_reference = derived
                        .iter()
                        .filter(|d| &d.chain_id == chain_id && d.step == index)
                        .map(|d| d.param.as_str())
                        .collect();
                    Ok(Phrased {
                        hints,
                        args: &step.action().tool_input,
                        output: serde_json::from_str(step.observation()).unwrap_or(Value::Null),
                        by_reference,
                    })
                })
                .collect::<Result<_, RoleError>>()
        })
        .collect()
}

fn missing_value() -> RoleError {
    RoleError::new(
        "inverse predictor",
        "a template refers to a value the step lacks",
    )
}

impl RulePolicy {
    /// The plan's wording when every call belongs to the seed's intent, else
    /// the per-tool templates.
    fn write(&self, cx: &Context, agentic: bool) -> Result<QueryResponse, RoleError> {
        let mut rng = seeded(&[cx.seed, cx.step, 3]);
        let role = "inverse predictor";
        if let Some((plan, _)) = self.plan(cx) {
            if let Some(progress) = plan.progress(cx.workflow) {
                let query = request::query(&plan, &progress, agentic, &mut rng)
                    .map_err(|e| RoleError::new(role, e))?;
                let response = if agentic {
                    String::new()
                } else {
                    request::response(&plan, &progress, &mut rng)
                        .map_err(|e| RoleError::new(role, e))?
                };
                return Ok(QueryResponse { query, response });
            }
        }
        let derived = if agentic {
            derived_values(cx.workflow)
        } else {
            Vec::new()
        };
        let chains = phrased(cx, &derived)?;
        let query = phrasing::query(&chains, &mut rng).ok_or_else(missing_value)?;
        let response = if agentic {
            String::new()
        } else {
            phrasing::response(&chains, &mut rng).ok_or_else(missing_value)?
        };
        Ok(QueryResponse { query, response })
    }
}

impl InversePredictor for RulePolicy {
    fn predict<'a>(
        &'a self,
        cx: &'a Context<'a>,
    ) -> BoxFuture<'a, Result<QueryResponse, RoleError>> {
        Box::pin(async move { self.write(cx, false) })
    }

    fn predict_agentic<'a>(
        &'a self,
        cx: &'a Context<'a>,
    ) -> BoxFuture<'a, Result<String, RoleError>> {
        // The same generator as the flat query's last rewrite, so the two
        // variants differ only where a value comes from an observation.
        Box::pin(async move { self.write(cx, true).map(|written| written.query) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use serde_json::json;

    #[test]
    fn fits_checks_json_types_and_enums() {
        assert!(fits(&json!({"type": "integer"}), &json!(3)));
        assert!(!fits(&json!({"type": "integer"}), &json!(3.5)));
        assert!(fits(
            &json!({"type": "string", "enum": ["km"]}),
            &json!("km")
        ));
        assert!(!fits(
            &json!({"type": "string", "enum": ["km"]}),
            &json!("mi")
        ));
        assert!(!fits(&json!({"type": "array"}), &json!([])));
    }

    #[test]
    fn seeded_generators_are_reproducible_and_distinct() {
        let a: u64 = seeded(&[1, 2]).random();
        assert_eq!(a, seeded(&[1, 2]).random::<u64>());
        assert_ne!(a, seeded(&[2, 1]).random::<u64>());
    }
}
