//! The LLM-backed roles, as in the paper: structured outputs whose tool names
//! and ids are enums built from this iteration's sample, tool names aliased
//! where a provider limits them, and a tool-calling executor agent with at
//! most 3 turns. Malformed replies are retried, then count as a failed step.

use std::collections::HashMap;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use toolgrad_core::llm::{ChatMessage, ChatRequest};

use super::{
    report_from, Attempt, Context, Executor, Gradient, InversePredictor, Proposal, ProposalSet,
    Proposer, QueryResponse, Report, RoleError, Selector,
};
use crate::derived::{derived_values, leaked};
use crate::llm::RoleLlm;
use crate::workflow::{ChainTarget, Workflow};

/// Providers limit tool names (about 64 characters, a restricted alphabet).
const MAX_NAME: usize = 64;

/// The name a model sees: the real one, or `tool_` + 8 hex digits of its SHA-256.
pub fn alias(name: &str) -> String {
    let plain = name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        return name.to_owned();
    }
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("tool_{hex}")
}

/// Alias → real name for a set of tools.
fn alias_map(names: &[String]) -> HashMap<String, String> {
    names.iter().map(|n| (alias(n), n.clone())).collect()
}

/// The workflow as the prompts show it.
fn render_workflow(workflow: &Workflow) -> String {
    if workflow.api_use_chains.is_empty() {
        return "None".to_owned();
    }
    serde_json::to_string_pretty(&json!({
        "query": workflow.query,
        "api_use_chains": workflow.api_use_chains.iter().map(|(id, chain)| {
            (id.clone(), Value::Array(chain.intermediate_steps.iter().map(|s| json!({
                "tool": alias(&s.action().tool),
                "tool_input": s.action().tool_input,
                "observation": s.observation(),
            })).collect()))
        }).collect::<serde_json::Map<String, Value>>(),
        "response": workflow.response,
    }))
    .expect("workflows serialise")
}

/// The LLM-backed policy: one [`RoleLlm`] per role.
pub struct LlmPolicy {
    pub llm: RoleLlm,
    pub num_proposals: usize,
}

const PROPOSER_PROMPT: &str = "You augment an API-use workflow with more APIs from a library, so that it supports a more advanced task.
Propose {n} different next steps. Each proposal has an id, an instruction and at most 3 APIs chosen by name from the library.
Rules for instructions: write an imperative, actionable command for an executor agent (\"Get ...\", \"Use ...\", \"Retrieve ...\") with concrete input values; do not describe or refer to earlier executions or their results by anything but their values.
Prefer steps that use values returned by the workflow's observations, or independent sub-tasks that a real user would combine with it.

Current workflow:
{workflow}

API library:
{library}
{memory}";

const EXECUTOR_PROMPT: &str = "Explore an API according to this plan: {plan}
Call the tools with concrete arguments. If a result looks wrong or empty, retry with different inputs. Then report whether the result serves the plan.";

const SELECTOR_PROMPT: &str = "Choose the one API report that best augments the workflow, or \"none\" if nothing is useful.
Then decide where it goes: append to an existing chain when the call logically continues it (its input reuses data from an earlier response, or its purpose depends on an earlier result); use \"-1\" to start a new chain when it is independent.

Current workflow:
{workflow}

Successful API reports:
{reports}";

const INVERSE_PROMPT: &str = "You generate training data for a tool-use model. Given executed API chains, write only the user query and the final response.
Query: sound like a real person; never mention APIs, tools or functions; include the concrete values used as tool inputs (IDs, places, numbers, dates); give a realistic motivation; require every call implicitly, woven into one need rather than a checklist.
Response: synthesise all results naturally, cite the concrete data from the observations, and never talk about tools.

Executed chains:
{chains}";

const AGENTIC_PROMPT: &str = "You generate training data for a tool-use model that calls tools over several turns and reads each result before its next call. Given executed API chains, write only the user query.
Query: sound like a real person; never mention APIs, tools or functions; state the inputs the user knows (the values of the first calls: IDs, places, numbers, dates); never state a value that a later call takes from an earlier result, because the assistant must find it itself. These values come from results and must not appear in the query: {derived}
Weave every call into one need rather than a checklist, and refer to what the first results supply indirectly (\"the nearest city\", \"that date\").

Executed chains:
{chains}";

/// A reply's string field, trimmed; empty when missing.
fn text_field(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().trim().to_owned()
}

/// The chains as the inverse prompts show them (real tool names).
fn chains_json(workflow: &Workflow) -> String {
    let chains: serde_json::Map<String, Value> = workflow
        .api_use_chains
        .iter()
        .map(|(id, chain)| {
            let steps: Vec<Value> = chain
                .intermediate_steps
                .iter()
                .map(|s| json!({"tool": s.action().tool, "tool_input": s.action().tool_input, "observation": s.observation()}))
                .collect();
            (id.clone(), Value::Array(steps))
        })
        .collect();
    serde_json::to_string_pretty(&chains).expect("json")
}

impl Proposer for LlmPolicy {
    fn propose<'a>(&'a self, cx: &'a Context<'a>) -> BoxFuture<'a, Result<ProposalSet, RoleError>> {
        Box::pin(async move {
            let aliases = alias_map(cx.sampled);
            let library: serde_json::Map<String, Value> = cx
                .sampled
                .iter()
                .filter_map(|name| cx.toolbox.spec(name))
                .map(|spec| {
                    let name = alias(&spec.name);
                    let entry = json!({"name": name, "description": spec.description, "args": spec.parameters});
                    (name, entry)
                })
                .collect();
            let names: Vec<&String> = library.keys().collect();
            let schema = json!({
                "type": "object",
                "properties": {
                    "reason": {"type": "string"},
                    "proposals": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "instruction": {"type": "string"},
                            "api": {"type": "array", "maxItems": 3, "items": {
                                "type": "object",
                                "properties": {"name": {"type": "string", "enum": names}},
                                "required": ["name"],
                                "additionalProperties": false,
                            }},
                        },
                        "required": ["id", "instruction", "api"],
                        "additionalProperties": false,
                    }},
                },
                "required": ["reason", "proposals"],
                "additionalProperties": false,
            });
            let memory = if cx.memory.is_empty() {
                String::new()
            } else {
                format!(
                    "\nFeedback from earlier selections:\n- {}",
                    cx.memory.join("\n- ")
                )
            };
            let prompt = PROPOSER_PROMPT
                .replace("{n}", &self.num_proposals.to_string())
                .replace("{workflow}", &render_workflow(cx.workflow))
                .replace(
                    "{library}",
                    &serde_json::to_string_pretty(&library).expect("json"),
                )
                .replace("{memory}", &memory);
            let value = self
                .llm
                .structured(
                    "proposer",
                    vec![ChatMessage::new("user", prompt)],
                    "ApiProposalAll",
                    &schema,
                    cx.counters,
                )
                .await?;
            let mut proposals = Vec::new();
            for (i, item) in value["proposals"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let apis: Vec<String> = item["api"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a["name"].as_str())
                    .filter_map(|a| aliases.get(a).cloned())
                    .collect();
                let mut instruction = item["instruction"].as_str().unwrap_or_default().to_owned();
                for (short, real) in &aliases {
                    if short != real {
                        instruction = instruction.replace(short.as_str(), real);
                    }
                }
                proposals.push(Proposal {
                    id: format!("p{}", i + 1),
                    instruction,
                    apis,
                    source_chain: None,
                    plan_step: None,
                });
            }
            Ok(ProposalSet {
                reason: value["reason"].as_str().unwrap_or_default().to_owned(),
                proposals,
            })
        })
    }
}

impl Executor for LlmPolicy {
    fn execute<'a>(&'a self, cx: &'a Context<'a>, proposal: &'a Proposal) -> BoxFuture<'a, Report> {
        Box::pin(async move {
            let aliases = alias_map(&proposal.apis);
            let tools: Vec<Value> = proposal
                .apis
                .iter()
                .filter_map(|name| cx.toolbox.spec(name))
                .map(|spec| spec.openai_tool(&alias(&spec.name)))
                .collect();
            let mut messages = vec![
                ChatMessage::new("system", "You are a helpful assistant."),
                ChatMessage::new(
                    "user",
                    EXECUTOR_PROMPT.replace("{plan}", &proposal.instruction),
                ),
            ];
            let (mut attempts, mut steps) = (Vec::new(), Vec::new());
            let mut failure = None;
            for turn in 0..3 {
                // The first turn must call a tool: executing the plan is the
                // executor's whole job, and a local model is then constrained to a call.
                let request = ChatRequest {
                    messages: messages.clone(),
                    tools: tools.clone(),
                    tool_choice: (turn == 0 && !tools.is_empty()).then(|| json!("required")),
                    ..ChatRequest::default()
                };
                let response = match self.llm.call(request, cx.counters).await {
                    Ok(response) => response,
                    Err(error) => {
                        failure = Some(format!("executor LLM: {error}"));
                        break;
                    }
                };
                if response.tool_calls.is_empty() {
                    break;
                }
                let mut assistant =
                    ChatMessage::new("assistant", response.content.clone().unwrap_or_default());
                assistant.content = response.content.clone();
                assistant.tool_calls = response.tool_calls.clone();
                messages.push(assistant);
                for call in &response.tool_calls {
                    let reply = match (
                        aliases.get(&call.function.name),
                        serde_json::from_str::<Value>(&call.function.arguments),
                    ) {
                        (None, _) => {
                            attempts.push(Attempt {
                                tool: call.function.name.clone(),
                                tool_input: Value::Null,
                                observation_preview: None,
                                rejected: Some(format!("unknown tool `{}`", call.function.name)),
                            });
                            format!("Error: there is no tool named `{}`.", call.function.name)
                        }
                        (Some(_), Err(e)) => {
                            attempts.push(Attempt {
                                tool: call.function.name.clone(),
                                tool_input: Value::String(call.function.arguments.clone()),
                                observation_preview: None,
                                rejected: Some(format!("arguments are not JSON: {e}")),
                            });
                            format!("Error: the arguments are not valid JSON ({e}).")
                        }
                        (Some(real), Ok(args)) => {
                            let (attempt, step) = cx.execute(real, args).await;
                            let reply = match (&step, &attempt.rejected) {
                                (Some(step), _) => step.observation().to_owned(),
                                (None, Some(reason)) => format!("Error: {reason}"),
                                (None, None) => "Error: no result".to_owned(),
                            };
                            attempts.push(attempt);
                            steps.extend(step);
                            reply
                        }
                    };
                    let mut tool_message = ChatMessage::new("tool", reply);
                    tool_message.tool_call_id = Some(call.id.clone());
                    messages.push(tool_message);
                }
            }
            let mut report = report_from(&proposal.id, attempts, steps, Vec::new());
            if report.step.is_none() {
                if let Some(failure) = failure {
                    report.error_message = Some(failure);
                }
            }
            report
        })
    }
}

impl Selector for LlmPolicy {
    fn select<'a>(
        &'a self,
        cx: &'a Context<'a>,
        reports: &'a [Report],
    ) -> BoxFuture<'a, Result<Gradient, RoleError>> {
        Box::pin(async move {
            let mut ids: Vec<String> = reports.iter().map(|r| r.id.clone()).collect();
            ids.push("none".into());
            let mut chains = cx.workflow.chain_ids();
            chains.push("-1".into());
            let shown: Vec<Value> = reports
                .iter()
                .filter_map(|r| {
                    let step = r.step.as_ref()?;
                    Some(json!({
                        "id": r.id,
                        "tool": alias(&step.action().tool),
                        "tool_input": step.action().tool_input,
                        "observation": step.observation(),
                    }))
                })
                .collect();
            let schema = json!({
                "type": "object",
                "properties": {
                    "id": {"type": "string", "enum": ids},
                    "reason": {"type": "string"},
                    "which_chain": {"type": "string", "enum": chains},
                },
                "required": ["id", "reason", "which_chain"],
                "additionalProperties": false,
            });
            let prompt = SELECTOR_PROMPT
                .replace("{workflow}", &render_workflow(cx.workflow))
                .replace(
                    "{reports}",
                    &serde_json::to_string_pretty(&shown).expect("json"),
                );
            let value = self
                .llm
                .structured(
                    "selector",
                    vec![ChatMessage::new("user", prompt)],
                    "ApiSelection",
                    &schema,
                    cx.counters,
                )
                .await?;
            let id = value["id"].as_str().unwrap_or("none");
            let chain = value["which_chain"].as_str().unwrap_or("-1");
            Ok(Gradient {
                chosen: (id != "none").then(|| id.to_owned()),
                reason: value["reason"].as_str().unwrap_or_default().to_owned(),
                target: if chain == "-1" {
                    ChainTarget::NewChain
                } else {
                    ChainTarget::Append(chain.to_owned())
                },
                evidence: Vec::new(),
            })
        })
    }
}

impl InversePredictor for LlmPolicy {
    fn predict<'a>(
        &'a self,
        cx: &'a Context<'a>,
    ) -> BoxFuture<'a, Result<QueryResponse, RoleError>> {
        Box::pin(async move {
            let schema = json!({
                "type": "object",
                "properties": {"query": {"type": "string"}, "response": {"type": "string"}},
                "required": ["query", "response"],
                "additionalProperties": false,
            });
            let prompt = INVERSE_PROMPT.replace("{chains}", &chains_json(cx.workflow));
            let value = self
                .llm
                .structured(
                    "inverse predictor",
                    vec![ChatMessage::new("user", prompt)],
                    "WorkflowQueryResponse",
                    &schema,
                    cx.counters,
                )
                .await?;
            let query = text_field(&value, "query");
            let response = text_field(&value, "response");
            if query.is_empty() || response.is_empty() {
                return Err(RoleError::new(
                    "inverse predictor",
                    "empty query or response",
                ));
            }
            Ok(QueryResponse { query, response })
        })
    }

    fn predict_agentic<'a>(
        &'a self,
        cx: &'a Context<'a>,
    ) -> BoxFuture<'a, Result<String, RoleError>> {
        Box::pin(async move {
            let derived = derived_values(cx.workflow);
            let listed: Vec<String> = derived.iter().map(|d| d.value.to_string()).collect();
            let schema = json!({
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
                "additionalProperties": false,
            });
            let prompt = AGENTIC_PROMPT
                .replace(
                    "{derived}",
                    &if listed.is_empty() {
                        "none".to_owned()
                    } else {
                        listed.join(", ")
                    },
                )
                .replace("{chains}", &chains_json(cx.workflow));
            let mut messages = vec![ChatMessage::new("user", prompt)];
            // One correction round: a query that states a derived value is
            // shown its leaks and asked again; a second leak fails the step.
            for attempt in 0..2 {
                let value = self
                    .llm
                    .structured(
                        "agentic query",
                        messages.clone(),
                        "AgenticQuery",
                        &schema,
                        cx.counters,
                    )
                    .await?;
                let query = text_field(&value, "query");
                if query.is_empty() {
                    return Err(RoleError::new("agentic query", "empty query"));
                }
                let leaks: Vec<String> = leaked(&query, &derived)
                    .iter()
                    .map(|d| d.value.to_string())
                    .collect();
                if leaks.is_empty() {
                    return Ok(query);
                }
                if attempt == 1 {
                    return Err(RoleError::new(
                        "agentic query",
                        format!("the query states values from results: {}", leaks.join(", ")),
                    ));
                }
                messages.push(ChatMessage::new("assistant", value.to_string()));
                messages.push(ChatMessage::new(
                    "user",
                    format!("Your query states values that come from results: {}. Rewrite it without them.", leaks.join(", ")),
                ));
            }
            Err(RoleError::new("agentic query", "no query"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_stay_and_long_ones_get_stable_aliases() {
        assert_eq!(alias("city_info"), "city_info");
        let long = "Finance-twelve_data-average_true_range_indicator_for_a_symbol_with_interval";
        let a = alias(long);
        assert!(a.starts_with("tool_") && a.len() == 13, "{a}");
        assert_eq!(a, alias(long));
        assert_ne!(alias("Sports/odd name"), "Sports/odd name");
    }
}
