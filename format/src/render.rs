//! Samples → one JSON line per format.
//!
//! - `bfcl-python`: `{"id", "messages": [system, user, assistant]}`; the system
//!   prompt is BFCL's prompt-mode one, built by the function `eval bfcl` uses,
//!   and the assistant turn is the flat Python call list, which
//!   [`check_python_target`] decodes back with BFCL's own decoder.
//! - `openai-tools`: `{"id", "messages", "tools"}`; the assistant turn holds
//!   `tool_calls`. `tools` and every call's `arguments` are JSON strings, as in
//!   OpenAI's API: Arrow (`datasets`) would otherwise merge every row's schemas
//!   into one struct and fill each with the others' fields. TRL's SFTTrainer
//!   reads `tools` as a JSON string. A tool-call turn's `content` is `""`, not
//!   `null`: chat templates that trim or concatenate it would print `None`.
//! - `sharegpt`: `{"id", "conversations": [{"from", "value"}], "tools"}` with
//!   `system`/`human`/`gpt` turns holding the bfcl-python texts.
//! - `agentic`: OpenAI messages of the multi-turn trace: the user's agentic
//!   query, one assistant turn of `tool_calls` per round followed by one `tool`
//!   message per call (the recorded observation), then the final answer.

use serde_json::{json, Value};
use toolgrad_eval::decode::python::decode_prompt_reply;
use toolgrad_eval::decode::Decoded;
use toolgrad_eval::runner::prompt::{docs_with_language_hints, system_prompt};
use toolgrad_eval::value::Value as PyValue;
use toolgrad_eval::Category;

use crate::config::OutputFormat;
use crate::sample::{Call, Function, Sample};

/// The BFCL prompt-mode system prompt for a candidate list, exactly as
/// `toolgrad eval bfcl` sends it in the Python categories.
pub fn bfcl_system_prompt(tools: &[Function]) -> String {
    let docs: Vec<Value> = tools
        .iter()
        .map(|f| json!({"name": f.name, "description": f.description, "parameters": f.parameters}))
        .collect();
    system_prompt(&docs_with_language_hints(&docs, Category::SimplePython))
}

/// `f(a=1, b='x')` with Python literal syntax (`repr` of every value).
fn python_call(call: &Call) -> String {
    let args: Vec<String> = call
        .arguments
        .iter()
        .map(|(name, value)| format!("{name}={}", PyValue::from(value)))
        .collect();
    format!("{}({})", call.name, args.join(", "))
}

/// The flat call list `[f(a=1), g(b='x')]`; `[]` for no call.
pub fn python_target(calls: &[Call]) -> String {
    let calls: Vec<String> = calls.iter().map(python_call).collect();
    format!("[{}]", calls.join(", "))
}

/// Decodes `target` with BFCL's decoder and compares it with `calls`: names,
/// argument names, values and their JSON types.
pub fn check_python_target(target: &str, calls: &[Call]) -> Result<(), String> {
    let decoded = match decode_prompt_reply(target) {
        Ok(Decoded::Calls(decoded)) => decoded,
        Ok(Decoded::WrongFormat) => return Err(format!("`{target}` is not a call list")),
        Err(error) => return Err(format!("`{target}` does not decode: {error}")),
    };
    if decoded.len() != calls.len() {
        return Err(format!(
            "`{target}` decodes to {} calls, not {}",
            decoded.len(),
            calls.len()
        ));
    }
    for (got, want) in decoded.iter().zip(calls) {
        let args: serde_json::Map<String, Value> = got
            .args
            .iter()
            .map(|(name, value)| (name.clone().unwrap_or_default(), value.to_json()))
            .collect();
        if got.name != want.name || args != want.arguments {
            return Err(format!(
                "`{target}` decodes to {}({}) instead of {}",
                got.name,
                Value::Object(args),
                want.name
            ));
        }
    }
    Ok(())
}

fn openai_tools(tools: &[Function]) -> String {
    let tools: Vec<Value> = tools
        .iter()
        .map(|f| {
            json!({"type": "function", "function": {
                "name": f.name, "description": f.description, "parameters": f.parameters,
            }})
        })
        .collect();
    Value::Array(tools).to_string()
}

fn tool_calls(calls: &[Call], first_id: usize) -> Vec<Value> {
    calls
        .iter()
        .enumerate()
        .map(|(i, call)| {
            json!({
                "id": format!("call_{}", first_id + i),
                "type": "function",
                "function": {"name": call.name, "arguments": Value::Object(call.arguments.clone()).to_string()},
            })
        })
        .collect()
}

fn message(role: &str, content: &str) -> Value {
    json!({"role": role, "content": content})
}

/// The sample in `format`, or `None` when the format needs what it lacks (the
/// agentic format needs a trace). `refusal` answers an irrelevance sample in
/// the formats whose answer is text.
pub fn render(sample: &Sample, format: OutputFormat, refusal: &str) -> Option<Value> {
    let system = || bfcl_system_prompt(&sample.tools);
    let line = match format {
        OutputFormat::BfclPython => json!({
            "id": sample.id,
            "messages": [
                message("system", &system()),
                message("user", &sample.query),
                message("assistant", &python_target(&sample.calls)),
            ],
        }),
        OutputFormat::OpenaiTools => {
            let answer = if sample.calls.is_empty() {
                json!({"role": "assistant", "content": refusal})
            } else {
                json!({"role": "assistant", "content": "", "tool_calls": tool_calls(&sample.calls, 0)})
            };
            json!({
                "id": sample.id,
                "messages": [message("user", &sample.query), answer],
                "tools": openai_tools(&sample.tools),
            })
        }
        OutputFormat::Sharegpt => json!({
            "id": sample.id,
            "conversations": [
                {"from": "system", "value": system()},
                {"from": "human", "value": sample.query},
                {"from": "gpt", "value": python_target(&sample.calls)},
            ],
            "tools": openai_tools(&sample.tools),
        }),
        OutputFormat::Agentic => {
            let trace = sample.trace.as_ref()?;
            let mut messages = vec![message("user", &trace.query)];
            let mut next_id = 0;
            for round in &trace.rounds {
                messages.push(json!({
                    "role": "assistant", "content": "",
                    "tool_calls": tool_calls(&round.calls, next_id),
                }));
                for (i, (call, observation)) in
                    round.calls.iter().zip(&round.observations).enumerate()
                {
                    messages.push(json!({
                        "role": "tool",
                        "tool_call_id": format!("call_{}", next_id + i),
                        "name": call.name,
                        "content": observation,
                    }));
                }
                next_id += round.calls.len();
            }
            messages.push(message("assistant", &trace.answer));
            json!({
                "id": sample.id,
                "messages": messages,
                "tools": openai_tools(&sample.tools),
            })
        }
    };
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn call(name: &str, args: Value) -> Call {
        let arguments: Map<String, Value> = args.as_object().cloned().unwrap();
        Call {
            name: name.into(),
            arguments,
        }
    }

    #[test]
    fn python_targets_decode_back_to_the_same_calls() {
        let calls = vec![
            call(
                "f",
                json!({"a": 1, "b": "it's \"x\"", "c": 2.0, "d": [1, {"k": null}], "e": true}),
            ),
            call("g", json!({})),
            call(
                "h",
                json!({"text": "é\n\u{1F600}", "big": 12345678901234i64, "neg": -0.5}),
            ),
        ];
        let target = python_target(&calls);
        assert!(
            target.starts_with("[f(a=1, b='it\\'s \"x\"', c=2.0"),
            "{target}"
        );
        check_python_target(&target, &calls).unwrap();
        assert_eq!(python_target(&[]), "[]");
        check_python_target("[]", &[]).unwrap();
        // A float written as an integer is not the executed call.
        let error = check_python_target("[g(x=2)]", &[call("g", json!({"x": 2.0}))]).unwrap_err();
        assert!(error.contains("instead of"), "{error}");
    }
}
