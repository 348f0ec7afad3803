//! The scripted LLM: it answers every role of ToolGrad's loop (proposer,
//! executor, selector, inverse predictor) and of the DFS baseline (query
//! writer, solver, judge) deterministically from the request alone, so tests
//! run the real pipeline without a model. It recognises a role by the name of
//! the structured output asked for, or by the tools offered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use toolgrad_core::llm::{
    ChatModel, ChatRequest, ChatResponse, FunctionCall, LlmError, ToolCall, Usage,
};

/// The DFS baseline's structured outputs and its `Finish` tool, as
/// `toolgrad-generate` names them (its tests check that the names agree).
pub const DFS_QUERY: &str = "DfsQuery";
pub const DFS_CHECK: &str = "check_answer_status";
pub const DFS_PARSE: &str = "parse_answer_status";
pub const DFS_FINISH: &str = "Finish";

fn hash(text: &str) -> u64 {
    let digest = Sha256::digest(text.as_bytes());
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// A placeholder argument for a schema: enum, example, default, else by type.
fn argument(schema: &Value) -> Value {
    if let Some(v) = schema["enum"].as_array().and_then(|a| a.first()) {
        return v.clone();
    }
    if let Some(v) = schema["examples"].as_array().and_then(|a| a.first()) {
        return v.clone();
    }
    if let Some(v) = schema.get("default") {
        return v.clone();
    }
    match schema["type"].as_str() {
        Some("number") | Some("integer") => json!(1),
        Some("boolean") => json!(true),
        Some("array") => json!([1, 2]),
        Some("object") => json!({}),
        _ => json!("example"),
    }
}

fn strings(schema: &Value) -> Vec<String> {
    schema
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// The names of the structured outputs of the loop and of the DFS baseline.
pub const STRUCTURED: [&str; 7] = [
    "ApiProposalAll",
    "ApiSelection",
    "WorkflowQueryResponse",
    "AgenticQuery",
    DFS_QUERY,
    DFS_CHECK,
    DFS_PARSE,
];

/// The scripted reply to a request: `(content, tool_calls)`.
pub fn scripted_reply(request: &ChatRequest) -> (Option<String>, Vec<ToolCall>) {
    let seed = hash(&serde_json::to_string(&request.messages).unwrap_or_default());
    if let Some(format) = &request.response_format {
        let name = format["json_schema"]["name"].as_str().unwrap_or_default();
        let content = structured(name, &format["json_schema"]["schema"], seed);
        return (Some(content.to_string()), Vec::new());
    }
    // Structured output requested as one forced tool call.
    if let [tool] = &request.tools[..] {
        let name = tool["function"]["name"].as_str().unwrap_or_default();
        if STRUCTURED.contains(&name) {
            let arguments = structured(name, &tool["function"]["parameters"], seed).to_string();
            let call = ToolCall {
                id: format!("call_{}", seed % 10_000),
                kind: "function".into(),
                function: FunctionCall {
                    name: name.to_owned(),
                    arguments,
                },
            };
            return (None, vec![call]);
        }
    }
    let finish = request
        .tools
        .iter()
        .any(|t| t["function"]["name"] == DFS_FINISH);
    if finish {
        return solver_turn(request, seed);
    }
    executor_turn(request, seed)
}

/// A structured answer named `name` that satisfies `schema`.
fn structured(name: &str, schema: &Value, seed: u64) -> Value {
    match name {
        "ApiProposalAll" => {
            let names = strings(
                &schema["properties"]["proposals"]["items"]["properties"]["api"]["items"]
                    ["properties"]["name"]["enum"],
            );
            let proposals: Vec<Value> = (0..3.min(names.len()))
                    .map(|i| {
                        let api = &names[(seed as usize + i * 7) % names.len()];
                        json!({"id": format!("{i}"), "instruction": format!("Use {api} with typical inputs."), "api": [{"name": api}]})
                    })
                    .collect();
            json!({"reason": "Scripted proposals.", "proposals": proposals})
        }
        "ApiSelection" => {
            let ids = strings(&schema["properties"]["id"]["enum"]);
            let chains = strings(&schema["properties"]["which_chain"]["enum"]);
            json!({
                "id": ids[seed as usize % (ids.len() - 1).max(1)],
                "reason": "Scripted choice.",
                "which_chain": chains[seed as usize % chains.len()],
            })
        }
        "AgenticQuery" => json!({"query": format!("Scripted agentic query #{}", seed % 1000)}),
        DFS_QUERY => {
            let names = strings(&schema["properties"]["related_apis"]["items"]["enum"]);
            let picked: Vec<&String> = (0..2.min(names.len()))
                .map(|i| &names[(seed as usize + i) % names.len()])
                .collect();
            let listed: Vec<&str> = picked.iter().map(|n| n.as_str()).collect();
            json!({
                "query": format!("Scripted DFS query #{}: use {}.", seed % 1000, listed.join(" and ")),
                "related_apis": picked,
            })
        }
        DFS_CHECK | DFS_PARSE => {
            json!({"reason": "Scripted judgement.", "answer_status": "Solved"})
        }
        _ => json!({
            "query": format!("Scripted query #{}", seed % 1000),
            "response": "Scripted response.",
        }),
    }
}

/// The executor agent: call the first tool once, then finish.
fn executor_turn(request: &ChatRequest, seed: u64) -> (Option<String>, Vec<ToolCall>) {
    let answered = request.messages.last().is_some_and(|m| m.role == "tool");
    let Some(tool) = request.tools.first().filter(|_| !answered) else {
        return (Some("Done.".into()), Vec::new());
    };
    (None, vec![placeholder_call(tool, seed)])
}

/// Whether a tool reply the DFS solver saw reports a failure (`{"error": "..."}`).
fn failed(observation: &str) -> bool {
    serde_json::from_str::<Value>(observation)
        .ok()
        .and_then(|v| v["error"].as_str().map(|e| !e.is_empty()))
        .unwrap_or(false)
}

/// The DFS solver: calls, in order, the offered tools that the query names
/// (else one chosen by the request's hash), skipping those the diversity
/// prompt lists as tried; gives up and restarts after a failed call; once
/// every planned tool has succeeded, `Finish`es with an answer quoting the
/// last observation.
fn solver_turn(request: &ChatRequest, seed: u64) -> (Option<String>, Vec<ToolCall>) {
    let content = |m: &toolgrad_core::llm::ChatMessage| m.content.clone().unwrap_or_default();
    let query = request
        .messages
        .iter()
        .find(|m| m.role == "user")
        .map(content)
        .unwrap_or_default();
    let tried = request
        .messages
        .last()
        .filter(|m| m.role == "user")
        .map(content)
        .filter(|c| c.starts_with("This is not the first time"))
        .unwrap_or_default();
    let tools: Vec<&Value> = request
        .tools
        .iter()
        .filter(|t| t["function"]["name"] != DFS_FINISH)
        .collect();
    let name = |t: &Value| {
        t["function"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let mut plan: Vec<(usize, &Value)> = tools
        .iter()
        .filter_map(|t| query.find(&name(t)).map(|at| (at, *t)))
        .collect();
    plan.sort_by_key(|(at, _)| *at);
    if plan.is_empty() && !tools.is_empty() {
        plan.push((0, tools[seed as usize % tools.len()]));
    }
    // (tool, succeeded) for every call so far, from the history.
    let mut called: Vec<(String, bool)> = Vec::new();
    let mut pending = None;
    for message in &request.messages {
        if let Some(call) = message.tool_calls.first() {
            pending = Some(call.function.name.clone());
        }
        if message.role == "tool" {
            let ok = !failed(message.content.as_deref().unwrap_or_default());
            called.push((pending.take().unwrap_or_default(), ok));
        }
    }
    let finish = |arguments: Value| {
        let call = ToolCall {
            id: format!("call_{}", seed % 10_000),
            kind: "function".into(),
            function: FunctionCall {
                name: DFS_FINISH.to_owned(),
                arguments: arguments.to_string(),
            },
        };
        (Some("Scripted thought.".to_owned()), vec![call])
    };
    let give_up = || finish(json!({"return_type": "give_up_and_restart"}));
    if called.last().is_some_and(|(_, ok)| !ok) {
        return give_up();
    }
    let next = plan.iter().map(|(_, t)| *t).find(|t| {
        let n = name(t);
        !called.iter().any(|(c, _)| *c == n) && !tried.contains(&format!("\"name\": \"{n}\""))
    });
    match next {
        Some(tool) => (
            Some("Scripted thought.".to_owned()),
            vec![placeholder_call(tool, seed)],
        ),
        None if called.is_empty() => give_up(),
        None => {
            let last = request
                .messages
                .iter()
                .rev()
                .find(|m| m.role == "tool")
                .map(content)
                .unwrap_or_default();
            let quoted: String = last.chars().take(200).collect();
            finish(
                json!({"return_type": "give_answer", "final_answer": format!("Scripted answer: {quoted}")}),
            )
        }
    }
}

/// A call of `tool` with a placeholder for every required argument.
fn placeholder_call(tool: &Value, seed: u64) -> ToolCall {
    let function = &tool["function"];
    let params = &function["parameters"];
    let args: serde_json::Map<String, Value> = strings(&params["required"])
        .into_iter()
        .map(|name| {
            let value = argument(&params["properties"][&name]);
            (name, value)
        })
        .collect();
    ToolCall {
        id: format!("call_{}", seed % 10_000),
        kind: "function".into(),
        function: FunctionCall {
            name: function["name"].as_str().unwrap_or_default().to_owned(),
            arguments: Value::Object(args).to_string(),
        },
    }
}

/// About one token per four characters of prompt, and 20 completion tokens.
pub fn usage(request: &ChatRequest) -> Usage {
    let prompt: usize = request
        .messages
        .iter()
        .map(|m| m.content.as_deref().map_or(0, str::len))
        .sum();
    Usage {
        prompt_tokens: (prompt / 4) as u64,
        completion_tokens: 20,
    }
}

/// The scripted LLM as an in-process [`ChatModel`]; counts its calls.
#[derive(Default)]
pub struct ScriptedLlm {
    pub calls: AtomicU64,
}

impl ChatModel for ScriptedLlm {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let (content, tool_calls) = scripted_reply(request);
        Ok(ChatResponse {
            content,
            tool_calls,
            usage: usage(request),
            latency: Duration::ZERO,
            attempts: 1,
        })
    }
}
