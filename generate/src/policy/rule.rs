//! The rule-based role policy: deterministic, seeded, no model.
//!
//! - Proposer: continues chains by typed data flow (an output of kind K feeds a
//!   parameter of kind K and a compatible JSON type) or starts independent ones.
//! - Executor: fills arguments from earlier observations, else from real value
//!   pools of the tool's domain.
//! - Selector: prefers data-flow continuations and unused tools, and says why.
//! - Inverse predictor: phrase templates over the executed chains.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

use super::phrasing::{self, Phrased};
use super::{
    report_from, Context, DataFlow, Executor, Gradient, InversePredictor, Proposal, ProposalSet,
    Proposer, QueryResponse, Report, RoleError, Selector,
};
use crate::derived::{derived_values, DerivedValue};
use crate::tools::builtin::Env;
use crate::tools::{ToolBox, ToolSpec};
use crate::workflow::{ChainTarget, Workflow, MAX_CHAINS};

/// Chains longer than this are no longer preferred for continuation.
const LONG_CHAIN: usize = 4;

/// Past this many chains the selector only continues chains: more independent
/// sub-tasks would turn the query into a checklist.
const MAX_INDEPENDENT_CHAINS: usize = 3;

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

/// A value some earlier step produced.
#[derive(Debug, Clone)]
struct Binding {
    chain_id: String,
    step: usize,
    tool: String,
    path: String,
    kind: String,
    value: Value,
}

fn bindings(workflow: &Workflow, toolbox: &ToolBox) -> Vec<Binding> {
    let mut out = Vec::new();
    for (chain_id, chain) in &workflow.api_use_chains {
        for (index, step) in chain.intermediate_steps.iter().enumerate() {
            let tool = &step.action().tool;
            let Some(hints) = toolbox.spec(tool).and_then(|s| s.hints.as_ref()) else {
                continue;
            };
            let Ok(output) = serde_json::from_str::<Value>(step.observation()) else {
                continue;
            };
            for (path, kind) in &hints.outputs {
                for value in extract(&output, path, kind) {
                    out.push(Binding {
                        chain_id: chain_id.clone(),
                        step: index,
                        tool: tool.clone(),
                        path: path.to_string(),
                        kind: kind.to_string(),
                        value,
                    });
                }
            }
        }
    }
    out
}

/// Values at `path`; `list[].field` yields each element's field, or one list of
/// them when the kind is `numbers`.
fn extract(output: &Value, path: &str, kind: &str) -> Vec<Value> {
    let Some((head, rest)) = path.split_once("[]") else {
        return output
            .get(path)
            .filter(|v| !v.is_null())
            .cloned()
            .into_iter()
            .collect();
    };
    let Some(items) = output.get(head).and_then(Value::as_array) else {
        return Vec::new();
    };
    let field = rest.trim_start_matches('.');
    let values: Vec<Value> = items
        .iter()
        .filter_map(|item| {
            if field.is_empty() {
                Some(item)
            } else {
                item.get(field)
            }
        })
        .filter(|v| !v.is_null())
        .cloned()
        .collect();
    if kind == "numbers" {
        if values.is_empty() || !values.iter().all(Value::is_number) {
            return Vec::new();
        }
        return vec![Value::Array(values)];
    }
    values
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

    fn poolable(&self, slot: &Slot) -> bool {
        !self.pool(slot).is_empty()
    }
}

fn used_tools(workflow: &Workflow) -> HashSet<String> {
    workflow.steps().map(|s| s.action().tool.clone()).collect()
}

impl Proposer for RulePolicy {
    fn propose<'a>(&'a self, cx: &'a Context<'a>) -> BoxFuture<'a, Result<ProposalSet, RoleError>> {
        Box::pin(async move {
            let mut rng = seeded(&[cx.seed, cx.step, 1]);
            let found = bindings(cx.workflow, cx.toolbox);
            let used = used_tools(cx.workflow);
            // (score, tool, chain to continue)
            let mut candidates: Vec<(f64, String, Option<String>)> = Vec::new();
            for name in cx.sampled {
                let Some(spec) = cx.toolbox.spec(name) else {
                    continue;
                };
                let slots = slots(spec);
                let novelty = if used.contains(name) { 0.0 } else { 1.0 };
                for (chain_id, chain) in &cx.workflow.api_use_chains {
                    // A tool does not continue its own output (no round trips).
                    let last = chain
                        .intermediate_steps
                        .last()
                        .map(|s| s.action().tool.as_str());
                    if last == Some(name.as_str()) {
                        continue;
                    }
                    let fed = slots
                        .iter()
                        .filter(|slot| {
                            found.iter().any(|b| {
                                &b.chain_id == chain_id
                                    && &b.tool != name
                                    && slot.kind.as_deref() == Some(b.kind.as_str())
                                    && fits(&slot.schema, &b.value)
                            })
                        })
                        .count();
                    let rest_poolable = slots.iter().all(|s| self.poolable(s) || fed > 0);
                    if fed > 0 && rest_poolable {
                        let length_penalty = if chain.intermediate_steps.len() >= LONG_CHAIN {
                            3.0
                        } else {
                            0.0
                        };
                        let score =
                            3.0 + fed as f64 + novelty - length_penalty + rng.random::<f64>();
                        candidates.push((score, name.clone(), Some(chain_id.clone())));
                    }
                }
                if !slots.is_empty() && slots.iter().all(|s| self.poolable(s)) {
                    let room = if cx.workflow.api_use_chains.len() >= MAX_CHAINS {
                        -5.0
                    } else {
                        0.0
                    };
                    let score = 1.5 * novelty + room + rng.random::<f64>() * 2.0;
                    candidates.push((score, name.clone(), None));
                }
            }
            candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut chosen_tools = HashSet::new();
            let mut proposals = Vec::new();
            for (_, tool, chain) in candidates {
                if proposals.len() == self.num_proposals {
                    break;
                }
                if !chosen_tools.insert(tool.clone()) {
                    continue;
                }
                let spec = cx.toolbox.spec(&tool).expect("candidate tools are known");
                let instruction = match &chain {
                    Some(chain_id) => format!(
                        "Use {tool} on values returned earlier in {chain_id}: {}",
                        spec.description
                    ),
                    None => format!("Use {tool}: {}", spec.description),
                };
                proposals.push(Proposal {
                    id: format!("p{}", proposals.len() + 1),
                    instruction,
                    apis: vec![tool],
                    source_chain: chain,
                });
            }
            if proposals.is_empty() {
                return Err(RoleError::new(
                    "proposer",
                    "no sampled tool can be called with known values",
                ));
            }
            let continuing = proposals
                .iter()
                .filter(|p| p.source_chain.is_some())
                .count();
            Ok(ProposalSet {
                reason: format!(
                    "{continuing} proposal(s) continue a chain by data flow, {} start new sub-tasks",
                    proposals.len() - continuing
                ),
                proposals,
            })
        })
    }
}

impl RulePolicy {
    /// Arguments for `spec`: from `chain`'s outputs where kinds match, else pools.
    fn fill(
        &self,
        spec: &ToolSpec,
        found: &[Binding],
        chain: Option<&str>,
        rng: &mut StdRng,
    ) -> Option<(Value, Vec<DataFlow>)> {
        let mut args = Map::new();
        let mut flow = Vec::new();
        let mut taken: Vec<Value> = Vec::new();
        let mut last_step: Option<(String, usize)> = None;
        let pair_index = rng.random_range(0..1_000_000usize);
        for slot in slots(spec) {
            let from_chain = chain.and_then(|chain_id| {
                let mut matching: Vec<&Binding> = found
                    .iter()
                    .filter(|b| {
                        b.chain_id == chain_id
                            && b.tool != spec.name
                            && slot.kind.as_deref() == Some(b.kind.as_str())
                            && fits(&slot.schema, &b.value)
                            && !taken.contains(&b.value)
                    })
                    .collect();
                // Prefer the step that fed the previous parameter, then the latest step.
                matching.sort_by_key(|b| {
                    let same = last_step.as_ref() == Some(&(b.chain_id.clone(), b.step));
                    (!same, std::cmp::Reverse(b.step))
                });
                matching.first().map(|b| (*b).clone())
            });
            let value = match from_chain {
                Some(binding) => {
                    flow.push(DataFlow {
                        param: slot.name.clone(),
                        chain_id: binding.chain_id.clone(),
                        from_tool: binding.tool.clone(),
                        from_path: binding.path.clone(),
                    });
                    last_step = Some((binding.chain_id.clone(), binding.step));
                    binding.value
                }
                None => {
                    let pool: Vec<Value> = self
                        .pool(&slot)
                        .into_iter()
                        .filter(|v| !taken.contains(v))
                        .collect();
                    if pool.is_empty() {
                        return None;
                    }
                    let paired = matches!(slot.kind.as_deref(), Some("latitude" | "longitude"));
                    let index = if paired {
                        pair_index
                    } else {
                        rng.random_range(0..pool.len())
                    };
                    pool[index % pool.len()].clone()
                }
            };
            taken.push(value.clone());
            args.insert(slot.name, value);
        }
        Some((Value::Object(args), flow))
    }
}

impl Executor for RulePolicy {
    fn execute<'a>(&'a self, cx: &'a Context<'a>, proposal: &'a Proposal) -> BoxFuture<'a, Report> {
        Box::pin(async move {
            let found = bindings(cx.workflow, cx.toolbox);
            let mut rng = seeded(&[cx.seed, cx.step, hash_str(&proposal.id)]);
            let (mut attempts, mut steps, mut flows) = (Vec::new(), Vec::new(), Vec::new());
            for turn in 0..3 {
                let Some(tool) = proposal.apis.get(turn % proposal.apis.len().max(1)) else {
                    break;
                };
                let Some(spec) = cx.toolbox.spec(tool) else {
                    attempts.push(super::Attempt {
                        tool: tool.clone(),
                        tool_input: Value::Null,
                        observation_preview: None,
                        rejected: Some(format!("unknown tool `{tool}`")),
                    });
                    continue;
                };
                // Later turns draw fresh values from the pools.
                let chain = if turn == 0 {
                    proposal.source_chain.as_deref()
                } else {
                    None
                };
                let Some((args, flow)) = self.fill(spec, &found, chain, &mut rng) else {
                    break;
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
            let used = used_tools(cx.workflow);
            let full = cx.workflow.api_use_chains.len() >= MAX_CHAINS.min(MAX_INDEPENDENT_CHAINS);
            let mut best: Option<(u32, &Report)> = None;
            for report in reports {
                let Some(step) = &report.step else { continue };
                let duplicate = cx.workflow.steps().any(|s| {
                    s.action().tool == step.action().tool
                        && s.action().tool_input == step.action().tool_input
                });
                if duplicate || (full && report.data_flow.is_empty()) {
                    continue;
                }
                let score = 2 * u32::from(!report.data_flow.is_empty())
                    + u32::from(!used.contains(&step.action().tool));
                if best.is_none_or(|(s, _)| score > s) {
                    best = Some((score, report));
                }
            }
            let Some((_, report)) = best else {
                return Ok(Gradient {
                    chosen: None,
                    reason: "no successful report adds a new, non-duplicate call".into(),
                    target: ChainTarget::NewChain,
                    evidence: Vec::new(),
                });
            };
            let tool = &report
                .step
                .as_ref()
                .expect("chosen reports succeeded")
                .action()
                .tool;
            let mut evidence: Vec<String> = report
                .data_flow
                .iter()
                .map(|f| {
                    format!(
                        "`{}` ← {}/{}.{}",
                        f.param, f.chain_id, f.from_tool, f.from_path
                    )
                })
                .collect();
            if !used.contains(tool) {
                evidence.push(format!("{tool} is not used in the workflow yet"));
            }
            let (target, reason) = match report.data_flow.first() {
                Some(flow) => (
                    ChainTarget::Append(flow.chain_id.clone()),
                    format!(
                        "Report {} calls {tool} on data that {} produced, so it continues {}.",
                        report.id, flow.from_tool, flow.chain_id
                    ),
                ),
                None => (
                    ChainTarget::NewChain,
                    format!(
                        "Report {} calls {tool} as a self-contained sub-task, so it starts a new chain.",
                        report.id
                    ),
                ),
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

impl InversePredictor for RulePolicy {
    fn predict<'a>(
        &'a self,
        cx: &'a Context<'a>,
    ) -> BoxFuture<'a, Result<QueryResponse, RoleError>> {
        Box::pin(async move {
            let mut rng = seeded(&[cx.seed, cx.step, 3]);
            let chains = phrased(cx, &[])?;
            Ok(QueryResponse {
                query: phrasing::query(&chains, &mut rng).ok_or_else(missing_value)?,
                response: phrasing::response(&chains, &mut rng).ok_or_else(missing_value)?,
            })
        })
    }

    fn predict_agentic<'a>(
        &'a self,
        cx: &'a Context<'a>,
    ) -> BoxFuture<'a, Result<String, RoleError>> {
        Box::pin(async move {
            // The same generator as the flat query's last rewrite, so the two
            // variants differ only where a value comes from an observation.
            let mut rng = seeded(&[cx.seed, cx.step, 3]);
            let derived = derived_values(cx.workflow);
            let chains = phrased(cx, &derived)?;
            phrasing::query(&chains, &mut rng).ok_or_else(missing_value)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extract_reads_fields_lists_and_number_columns() {
        let output = json!({"city": "Lyon", "orders": [{"order_id": "O-1", "total": 3.5}, {"order_id": "O-2", "total": 4}]});
        assert_eq!(extract(&output, "city", "city"), vec![json!("Lyon")]);
        assert_eq!(
            extract(&output, "orders[].order_id", "order_id"),
            vec![json!("O-1"), json!("O-2")]
        );
        assert_eq!(
            extract(&output, "orders[].total", "numbers"),
            vec![json!([3.5, 4])]
        );
        assert!(extract(&output, "missing", "city").is_empty());
    }

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

#[cfg(test)]
mod role_tests {
    use super::*;
    use crate::policy::Counters;
    use crate::tools::builtin::BuiltinSource;
    use crate::tools::{CallLimits, ToolBox, ToolSource};
    use crate::validate::{Validator, ValidatorConfig};
    use crate::workflow::{Action, Step};
    use serde_json::json;

    fn setup() -> (RulePolicy, ToolBox, Workflow) {
        let builtin = BuiltinSource::new(None).unwrap();
        let policy = RulePolicy::new(Some(builtin.env().clone()), 3);
        let source: Arc<dyn ToolSource> = Arc::new(builtin);
        let toolbox = ToolBox::new(vec![source], CallLimits::default()).unwrap();
        let mut workflow = Workflow::default();
        let observation = r#"{"customer_id":"C-1003","name":"Camille Martin","city":"Lyon","email":"x","joined":"2024-04-22"}"#;
        let step = Step(
            Action::new("get_customer", json!({"customer_id": "C-1003"}), "builtin"),
            observation.into(),
        );
        workflow.apply(step, &ChainTarget::NewChain);
        (policy, toolbox, workflow)
    }

    #[tokio::test]
    async fn data_flow_continues_the_chain_that_produced_the_value() {
        let (policy, toolbox, workflow) = setup();
        let validator = Validator::new(ValidatorConfig::default());
        let counters = Counters::default();
        let sampled = vec!["city_info".to_string(), "day_of_week".to_string()];
        let cx = Context {
            seed: 1,
            step: 2,
            workflow: &workflow,
            sampled: &sampled,
            toolbox: &toolbox,
            validator: &validator,
            memory: &[],
            counters: &counters,
        };
        let set = policy.propose(&cx).await.unwrap();
        let city = set
            .proposals
            .iter()
            .find(|p| p.apis == ["city_info"])
            .unwrap();
        assert_eq!(city.source_chain.as_deref(), Some("api_use_chain_1"));

        let reports = vec![
            policy.execute(&cx, &set.proposals[1]).await,
            policy.execute(&cx, &set.proposals[0]).await,
        ];
        // Both continue the customer's chain: city_info on their city, day_of_week on their join date.
        let city = reports
            .iter()
            .find(|r| r.step.as_ref().unwrap().action().tool == "city_info")
            .unwrap();
        assert_eq!(
            city.step.as_ref().unwrap().action().tool_input,
            json!({"city": "Lyon"})
        );
        let day = reports
            .iter()
            .find(|r| r.step.as_ref().unwrap().action().tool == "day_of_week")
            .unwrap();
        assert_eq!(
            day.step.as_ref().unwrap().action().tool_input,
            json!({"date": "2024-04-22"})
        );
        let gradient = policy.select(&cx, &reports).await.unwrap();
        assert_eq!(
            gradient.target,
            ChainTarget::Append("api_use_chain_1".into())
        );
        assert!(
            gradient.reason.contains("get_customer"),
            "{}",
            gradient.reason
        );
        assert!(gradient.evidence[0].contains("api_use_chain_1/get_customer."));

        // Without data flow a report starts a new chain; a flowing one wins over it.
        let mut independent = city.clone();
        independent.id = "p9".into();
        independent.data_flow.clear();
        let mixed = vec![independent.clone(), city.clone()];
        let gradient = policy.select(&cx, &mixed).await.unwrap();
        assert_eq!(gradient.chosen.as_deref(), Some(city.id.as_str()));
        let gradient = policy
            .select(&cx, std::slice::from_ref(&independent))
            .await
            .unwrap();
        assert_eq!(gradient.target, ChainTarget::NewChain);
        let flowing = city;
        let step = flowing.step.as_ref().unwrap();

        // A call already in the workflow is never chosen again.
        let mut repeated = workflow.clone();
        repeated.apply(step.clone(), &ChainTarget::Append("api_use_chain_1".into()));
        let cx = Context {
            workflow: &repeated,
            ..cx
        };
        let only_flowing = vec![flowing.clone()];
        let gradient = policy.select(&cx, &only_flowing).await.unwrap();
        assert_eq!(gradient.chosen, None);
    }
}
