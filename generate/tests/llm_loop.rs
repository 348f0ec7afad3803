//! The loop driven by LLM-backed roles: a scripted LLM (in-process) and
//! malformed replies, which must never crash a seed.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use toolgrad_core::llm::{ChatModel, ChatRequest, ChatResponse, LlmError};
use toolgrad_generate::engine::LoopConfig;
use toolgrad_generate::validate::{Validator, ValidatorConfig};
use toolgrad_generate::verify::check_sample;
use toolgrad_testkit::scripted::ScriptedLlm;

fn config() -> LoopConfig {
    LoopConfig {
        num_apis: 12,
        num_proposals: 3,
        max_iter: 4,
        gradient_memory: 2,
    }
}

#[tokio::test]
async fn scripted_llm_grows_verifiable_workflows_and_traces_the_gradient() {
    let llm = Arc::new(ScriptedLlm::default());
    let engine = common::llm_engine(common::role_llm(llm.clone(), None), config());
    let outcome = engine.run_seed(3).await;
    assert!(outcome.metadata.accepted, "{:?}", outcome.metadata);
    let workflow = outcome.workflow.unwrap();
    assert!(workflow.query.starts_with("Scripted query"));
    // The multi-turn query comes from its own prompt, after the loop.
    let agentic = workflow.agentic_query.as_deref().unwrap();
    assert!(agentic.starts_with("Scripted agentic query"), "{agentic}");
    assert!(workflow.num_steps() >= 1);
    // Every recorded step re-executes to the same observation.
    let validator = Validator::new(ValidatorConfig::default());
    assert_eq!(
        check_sample(&workflow, &engine.toolbox, &validator).await,
        Vec::<String>::new()
    );
    // The trace holds the gradient of each successful iteration, with its reason.
    assert_eq!(outcome.trace.len(), 4);
    let with_gradient = outcome
        .trace
        .iter()
        .filter(|t| t.gradient.is_some())
        .count();
    assert!(with_gradient >= 1);
    for iteration in &outcome.trace {
        assert!(iteration.sampled_apis.len() == 12);
        if let Some(gradient) = &iteration.gradient {
            assert_eq!(gradient.reason, "Scripted choice.");
        }
    }
    // Accounting: every call counted, priced from the configured rates.
    assert_eq!(
        outcome.metadata.llm_calls,
        llm.calls.load(Ordering::Relaxed)
    );
    assert!(outcome.metadata.cost_usd > 0.0);
    assert!(outcome.metadata.tool_calls >= 1);
    // Same seed, same workflow.
    let again = engine.run_seed(3).await.workflow.unwrap();
    assert_eq!(again, workflow);
}

/// Breaks every `every`-th reply in a given way.
struct Faulty {
    inner: ScriptedLlm,
    every: u64,
    n: AtomicU64,
    fault: Fault,
}

#[derive(Clone, Copy)]
enum Fault {
    NotJson,
    /// `} ok {`: the last `}` comes before the first `{` (once a panic).
    ClosingBraceFirst,
    OffSchema,
    UnknownTool,
    UnknownReportId,
    BadArguments,
    TransportError,
}

impl ChatModel for Faulty {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let mut response = self.inner.chat(request).await?;
        if !self
            .n
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(self.every)
        {
            return Ok(response);
        }
        match self.fault {
            Fault::NotJson if response.content.is_some() => {
                response.content = Some("I think {".into())
            }
            Fault::ClosingBraceFirst if response.content.is_some() => {
                response.content = Some("} ok {".into())
            }
            Fault::OffSchema if request.response_format.is_some() => {
                response.content = Some("{\"surprise\": 1}".into())
            }
            Fault::UnknownTool if !response.tool_calls.is_empty() => {
                response.tool_calls[0].function.name = "no_such_tool".into()
            }
            Fault::BadArguments if !response.tool_calls.is_empty() => {
                response.tool_calls[0].function.arguments = "{city: ".into()
            }
            Fault::UnknownReportId
                if request
                    .response_format
                    .as_ref()
                    .is_some_and(|f| f["json_schema"]["name"] == "ApiSelection") =>
            {
                let mut value: serde_json::Value =
                    serde_json::from_str(response.content.as_deref().unwrap()).unwrap();
                value["id"] = "p99".into();
                response.content = Some(value.to_string());
            }
            Fault::TransportError => {
                return Err(LlmError::Transport {
                    endpoint: "mock".into(),
                    attempts: 1,
                    message: "connection reset".into(),
                })
            }
            _ => {}
        }
        Ok(response)
    }
}

#[tokio::test]
async fn malformed_replies_fail_steps_not_seeds() {
    for (fault, every) in [
        (Fault::NotJson, 2),
        (Fault::ClosingBraceFirst, 2),
        (Fault::ClosingBraceFirst, 1),
        (Fault::OffSchema, 2),
        (Fault::UnknownTool, 1),
        (Fault::UnknownReportId, 1),
        (Fault::BadArguments, 1),
        (Fault::TransportError, 3),
    ] {
        let llm = Arc::new(Faulty {
            inner: ScriptedLlm::default(),
            every,
            n: AtomicU64::new(0),
            fault,
        });
        let engine = common::llm_engine(common::role_llm(llm, None), config());
        let outcome = engine.run_seed(11).await;
        assert_eq!(outcome.trace.len(), 4, "every iteration runs");
        let early: Vec<&String> = outcome
            .trace
            .iter()
            .filter_map(|t| t.early_next.as_ref())
            .collect();
        match fault {
            // Every tool call is broken: no step can succeed.
            Fault::UnknownTool | Fault::BadArguments => {
                assert!(!outcome.metadata.accepted);
                assert!(
                    early.iter().all(|e| e.contains("every execution failed")),
                    "{early:?}"
                );
                let attempts: Vec<_> = outcome
                    .trace
                    .iter()
                    .flat_map(|t| &t.executions)
                    .flat_map(|r| &r.attempts)
                    .collect();
                assert!(!attempts.is_empty());
                let wanted = if matches!(fault, Fault::UnknownTool) {
                    "unknown tool"
                } else {
                    "not JSON"
                };
                assert!(attempts
                    .iter()
                    .all(|a| a.rejected.as_deref().is_some_and(|r| r.contains(wanted))));
            }
            // A hallucinated report id breaks the selector's enum: never selected.
            Fault::UnknownReportId => {
                assert!(!outcome.metadata.accepted);
                assert!(
                    early
                        .iter()
                        .all(|e| e.contains("selector: unusable structured reply")),
                    "{early:?}"
                );
            }
            // Format faults are retried or end one iteration early.
            _ => {
                if let Some(workflow) = &outcome.workflow {
                    assert!(workflow.num_steps() >= 1);
                }
            }
        }
    }
}

/// Keeps the `tool_choice` of every request that offers tools.
#[derive(Default)]
struct Recording {
    inner: ScriptedLlm,
    tool_choices: std::sync::Mutex<Vec<(usize, Option<serde_json::Value>)>>,
}

impl ChatModel for Recording {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        if !request.tools.is_empty() && request.response_format.is_none() {
            let turn = request
                .messages
                .iter()
                .filter(|m| m.role == "assistant")
                .count();
            self.tool_choices
                .lock()
                .unwrap()
                .push((turn, request.tool_choice.clone()));
        }
        self.inner.chat(request).await
    }
}

#[tokio::test]
async fn the_executor_requires_a_tool_call_on_its_first_turn_only() {
    let llm = Arc::new(Recording::default());
    let engine = common::llm_engine(common::role_llm(llm.clone(), None), config());
    assert!(engine.run_seed(5).await.metadata.accepted);
    let choices = llm.tool_choices.lock().unwrap().clone();
    assert!(choices.iter().any(|(turn, _)| *turn == 0), "{choices:?}");
    for (turn, choice) in &choices {
        match turn {
            0 => assert_eq!(choice.as_ref(), Some(&serde_json::json!("required"))),
            _ => assert_eq!(choice, &None, "turn {turn}"),
        }
    }
}
