//! DFSDT, ToolBench's depth-first search with backtracking over a
//! tool-calling agent. Every solver reply is one node: one tool call (run
//! through [`Context::execute`], so the validator, timeouts and counters are
//! ToolGrad's) or a call to `Finish`. A node is expanded up to `width` times;
//! every expansion after the first sees DFSDT's diversity prompt listing the
//! earlier children. A chain that reaches `max_depth` replies, or a reply
//! that calls no function properly, returns to its parent, which tries its
//! next child; `give_up_and_restart` abandons the state it was called from and
//! resumes one level higher; the first `give_answer` ends the search, and so
//! does the budget of solver calls.

use std::collections::HashMap;

use futures_util::future::BoxFuture;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use toolgrad_core::llm::{ChatMessage, ChatRequest, ChatResponse, FunctionCall, ToolCall};
use toolgrad_core::text::truncate_chars;

use crate::config::DfsConfig;
use crate::llm::RoleLlm;
use crate::policy::llm::alias;
use crate::policy::Context;
use crate::workflow::Step;

/// The function that ends an attempt.
pub const FINISH: &str = "Finish";

/// Observations are cut to this many characters before the solver sees them (ToolBench's 1024).
pub const OBSERVATION_CHARS: usize = 1024;

/// What ToolBench answers a `give_up_and_restart`.
const GIVE_UP_OUTPUT: &str = "{\"response\":\"chose to give up and restart\"}";

fn finish_tool() -> Value {
    json!({
        "type": "function",
        "function": {
            "name": FINISH,
            "description": "If you believe that you have obtained a result that can answer the task, please call this function to provide the final answer. Alternatively, if you recognize that you are unable to proceed with the task in the current state, call this function to restart. Remember: you must ALWAYS call this function at the end of your attempt, and the only part that will be shown to the user is the final answer, so it should contain sufficient information.",
            "parameters": {
                "type": "object",
                "properties": {
                    "return_type": {"type": "string", "enum": ["give_answer", "give_up_and_restart"]},
                    "final_answer": {"type": "string", "description": "The final answer you want to give the user. You should have this field if \"return_type\"==\"give_answer\""},
                },
                "required": ["return_type"],
            },
        },
    })
}

fn system_prompt(tools: &str) -> String {
    format!(
        "You are AutoGPT, you can use many tools(functions) to do the following task.
First I will give you the task description, and your task start.
At each step, you need to give your thought to analyze the status now and what to do next, with a function call to actually excute your step.
After the call, you will get the call result, and you are now in a new state.
Then you will analyze your status now, then decide what to do next...
After many (Thought-call) pairs, you finally perform the task, then you can give your finial answer.
Remember: 
1.the state change is irreversible, you can't go back to one of the former state, if you want to restart the task, say \"I give up and restart\".
2.All the thought is short, at most in 5 sentence.
3.You can do more then one trys, so if your plan is to continusly try some conditions, you can do one of the conditions per try.
Let's Begin!
Task description: You should use functions to help handle the real time user querys. Remember:
1.ALWAYS call \"Finish\" function at the end of the task. And the final answer should contain enough information to show to the user,If you can't handle the task, or you find that function calls always fail(the function is not valid now), use function Finish->give_up_and_restart.
2.Do not use origin tool names, use only subfunctions' names.
You have access of the following tools:
{tools}"
    )
}

fn diversity_prompt(previous_candidate: &str) -> String {
    format!(
        "This is not the first time you try this task, all previous trails failed.
Before you generate my thought for this state, I will first show you your previous actions for this state, and then you must generate actions that is different from all of them. Here are some previous actions candidates:
{previous_candidate}
Remember you are now in the intermediate state of a trail, you will first analyze the now state and previous action candidates, then make actions that is different from all the previous."
    )
}

/// What a reply did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeOutcome {
    /// A tool call: `step` when it ran and its observation passed the
    /// validator, else `rejected`; `observation` is what the solver saw next.
    Tool {
        /// The real tool name, when the call named a known one.
        tool: Option<String>,
        step: Option<Box<Step>>,
        rejected: Option<String>,
        observation: String,
    },
    /// `Finish` with `give_answer`.
    Answer { final_answer: String },
    /// `Finish` with `give_up_and_restart`.
    GiveUp,
    /// No usable function call.
    Unparseable { reason: String },
}

/// One solver reply in the tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: usize,
    /// The node this reply continues; `None`: the root (the query).
    pub parent: Option<usize>,
    /// Replies from the root to this one, this one included.
    pub depth: usize,
    /// The diversity prompt this expansion, and only this one, saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diversity_prompt: Option<String>,
    /// The reply's text beside its call (ToolBench's thought).
    pub thought: Option<String>,
    /// The call as the model wrote it (the name it was shown, arguments as text).
    pub call: Option<FunctionCall>,
    pub outcome: NodeOutcome,
    /// Why the search left this node without an answer.
    pub pruned: Option<String>,
}

/// The finished search.
pub struct SearchOutcome {
    pub tree: Vec<Node>,
    /// Why it ended.
    pub stop: String,
    /// The node that gave the final answer.
    pub answer: Option<usize>,
}

/// Node ids from the root's child down to `node`.
pub fn path(tree: &[Node], node: Option<usize>) -> Vec<usize> {
    let mut ids = Vec::new();
    let mut at = node;
    while let Some(id) = at {
        ids.push(id);
        at = tree.get(id).and_then(|n| n.parent);
    }
    ids.reverse();
    ids
}

/// How far a finished subtree sends the search back up.
enum Flow {
    /// A final answer, or the budget is spent.
    Stop,
    /// Return this many levels: 1 = the parent tries its next child.
    Back(u32),
}

struct Search<'a> {
    llm: &'a RoleLlm,
    cx: &'a Context<'a>,
    limits: DfsConfig,
    /// Name shown → real name.
    aliases: HashMap<String, String>,
    tools: Vec<Value>,
    root: Vec<ChatMessage>,
    tree: Vec<Node>,
    /// The messages each node adds to its children's history.
    appended: Vec<Vec<ChatMessage>>,
    solver_calls: u64,
    answer: Option<usize>,
    stop: Option<String>,
}

/// Solves `query` with the tools of `cx.sampled`.
pub async fn search(
    llm: &RoleLlm,
    cx: &Context<'_>,
    query: &str,
    limits: DfsConfig,
) -> SearchOutcome {
    let specs: Vec<_> = cx
        .sampled
        .iter()
        .filter_map(|n| cx.toolbox.spec(n))
        .filter(|s| alias(&s.name) != FINISH)
        .collect();
    let aliases = specs
        .iter()
        .map(|s| (alias(&s.name), s.name.clone()))
        .collect();
    let mut tools: Vec<Value> = specs
        .iter()
        .map(|s| s.openai_tool(&alias(&s.name)))
        .collect();
    tools.push(finish_tool());
    let mut families: IndexMap<&str, Vec<String>> = IndexMap::new();
    for spec in &specs {
        families
            .entry(spec.family.as_str())
            .or_default()
            .push(alias(&spec.name));
    }
    let listing: Vec<String> = families
        .iter()
        .enumerate()
        .map(|(i, (family, names))| format!("{}.{family}: functions {}", i + 1, names.join(", ")))
        .collect();
    let root = vec![
        ChatMessage::new("system", system_prompt(&listing.join("\n"))),
        ChatMessage::new("user", format!("{query}\nBegin!\n")),
    ];
    let mut state = Search {
        llm,
        cx,
        limits,
        aliases,
        tools,
        root,
        tree: Vec::new(),
        appended: Vec::new(),
        solver_calls: 0,
        answer: None,
        stop: None,
    };
    // The root's own flow says nothing more: an answer or the budget sets `stop`.
    state.expand(None).await;
    let stop = state
        .stop
        .take()
        .unwrap_or_else(|| "every branch failed: the search tree is exhausted".to_owned());
    SearchOutcome {
        tree: state.tree,
        stop,
        answer: state.answer,
    }
}

fn cut(mut text: String) -> String {
    truncate_chars(&mut text, OBSERVATION_CHARS);
    text
}

/// What the solver sees after a failed call (ToolBench's error shape).
fn error_observation(reason: &str, response: Option<&str>) -> String {
    cut(json!({"error": reason, "response": response.unwrap_or_default()}).to_string())
}

impl Search<'_> {
    fn expand(&mut self, node: Option<usize>) -> BoxFuture<'_, Flow> {
        Box::pin(async move {
            if let Some(flow) = node.and_then(|id| self.leaf(id)) {
                return flow;
            }
            for _ in 0..self.limits.width {
                if self.solver_calls >= self.limits.max_llm_calls {
                    self.stop = Some(format!(
                        "the budget of {} solver LLM calls is spent",
                        self.limits.max_llm_calls
                    ));
                    return Flow::Stop;
                }
                let diversity = self.diversity(node);
                let mut messages = self.history(node);
                if let Some(prompt) = &diversity {
                    messages.push(ChatMessage::new("user", prompt.clone()));
                }
                let request = ChatRequest {
                    messages,
                    tools: self.tools.clone(),
                    // Every valid reply is a function call: a tool or `Finish`.
                    tool_choice: Some(json!("required")),
                    ..ChatRequest::default()
                };
                self.solver_calls += 1;
                let response = match self.llm.call(request, self.cx.counters).await {
                    Ok(response) => response,
                    Err(error) => {
                        self.stop = Some(format!("solver LLM: {error}"));
                        return Flow::Stop;
                    }
                };
                let child = self.add(node, response, diversity).await;
                match self.expand(Some(child)).await {
                    Flow::Stop => return Flow::Stop,
                    Flow::Back(levels) if levels > 1 => {
                        self.prune(node, "a call from this state gave up and restarted".into());
                        return Flow::Back(levels - 1);
                    }
                    Flow::Back(_) => {}
                }
            }
            self.prune(node, format!("all {} expansions failed", self.limits.width));
            Flow::Back(1)
        })
    }

    /// The flow of a node that is not expanded, or `None` to expand it.
    fn leaf(&mut self, id: usize) -> Option<Flow> {
        let max_depth = self.limits.max_depth;
        let node = self.tree.get_mut(id)?;
        let (flow, reason) = match &node.outcome {
            NodeOutcome::Answer { .. } => {
                self.answer = Some(id);
                self.stop = Some("a final answer was given".into());
                return Some(Flow::Stop);
            }
            NodeOutcome::GiveUp => (Flow::Back(2), "gave up and restarted".to_owned()),
            NodeOutcome::Unparseable { reason } => {
                (Flow::Back(1), format!("unusable reply: {reason}"))
            }
            NodeOutcome::Tool { .. } if node.depth >= max_depth => (
                Flow::Back(1),
                format!("the chain reached the depth limit of {max_depth} replies"),
            ),
            NodeOutcome::Tool { .. } => return None,
        };
        node.pruned = Some(reason);
        Some(flow)
    }

    fn prune(&mut self, node: Option<usize>, reason: String) {
        if let Some(node) = node.and_then(|id| self.tree.get_mut(id)) {
            node.pruned.get_or_insert(reason);
        }
    }

    /// The conversation up to and including `node`.
    fn history(&self, node: Option<usize>) -> Vec<ChatMessage> {
        let mut messages = self.root.clone();
        for id in path(&self.tree, node) {
            messages.extend(self.appended.get(id).into_iter().flatten().cloned());
        }
        messages
    }

    /// DFSDT's prompt when `node` already has children: their calls and outputs.
    fn diversity(&self, node: Option<usize>) -> Option<String> {
        let candidates: Vec<Value> = self
            .tree
            .iter()
            .filter(|child| child.parent == node)
            .filter_map(|child| {
                let call = child.call.as_ref()?;
                let output = match &child.outcome {
                    NodeOutcome::Tool { observation, .. } => observation.clone(),
                    NodeOutcome::GiveUp => GIVE_UP_OUTPUT.to_owned(),
                    _ => return None,
                };
                Some(json!({"name": call.name, "arguments": call.arguments, "function_output": output}))
            })
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let mut listed = serde_json::to_string_pretty(&candidates).unwrap_or_default();
        listed.push('\n');
        if let Some(NodeOutcome::Tool { observation, .. }) =
            node.and_then(|id| self.tree.get(id)).map(|n| &n.outcome)
        {
            listed.push_str(&format!("again, your former observation: {observation}\n"));
        }
        Some(diversity_prompt(&listed))
    }

    /// Turns a reply into a child of `parent` (running its tool call) and returns its id.
    async fn add(
        &mut self,
        parent: Option<usize>,
        response: ChatResponse,
        diversity_prompt: Option<String>,
    ) -> usize {
        let id = self.tree.len();
        let depth = parent.and_then(|p| self.tree.get(p)).map_or(0, |p| p.depth) + 1;
        let thought = response.content.filter(|c| !c.trim().is_empty());
        // ToolBench's function_call carries one call: the first is taken.
        let call = response.tool_calls.into_iter().next();
        let (outcome, appended) = match &call {
            None => (
                NodeOutcome::Unparseable {
                    reason: "the reply calls no function".into(),
                },
                Vec::new(),
            ),
            Some(call) if call.function.name == FINISH => {
                (finish(&call.function.arguments), Vec::new())
            }
            Some(call) => {
                let outcome = self.run_tool(&call.function).await;
                let call_id = if call.id.is_empty() {
                    format!("call_{id}")
                } else {
                    call.id.clone()
                };
                let mut assistant = ChatMessage::new("assistant", "");
                assistant.content = thought.clone();
                assistant.tool_calls = vec![ToolCall {
                    id: call_id.clone(),
                    kind: "function".into(),
                    function: call.function.clone(),
                }];
                let observation = match &outcome {
                    NodeOutcome::Tool { observation, .. } => observation.clone(),
                    _ => String::new(),
                };
                let mut reply = ChatMessage::new("tool", observation);
                reply.tool_call_id = Some(call_id);
                (outcome, vec![assistant, reply])
            }
        };
        self.tree.push(Node {
            id,
            parent,
            depth,
            diversity_prompt,
            thought,
            call: call.map(|c| c.function),
            outcome,
            pruned: None,
        });
        self.appended.push(appended);
        id
    }

    async fn run_tool(&self, call: &FunctionCall) -> NodeOutcome {
        let Some(real) = self.aliases.get(&call.name) else {
            let reason = format!("No such function name: {}", call.name);
            return NodeOutcome::Tool {
                tool: None,
                step: None,
                observation: error_observation(&reason, None),
                rejected: Some(reason),
            };
        };
        let arguments = if call.arguments.trim().is_empty() {
            Ok(json!({}))
        } else {
            serde_json::from_str::<Value>(&call.arguments)
        };
        let args = match arguments {
            Ok(args) => args,
            Err(error) => {
                let reason = format!("the arguments are not JSON: {error}");
                return NodeOutcome::Tool {
                    tool: Some(real.clone()),
                    step: None,
                    observation: error_observation(&reason, None),
                    rejected: Some(reason),
                };
            }
        };
        let (attempt, step) = self.cx.execute(real, args).await;
        let observation = match (&step, &attempt.rejected) {
            (Some(step), _) => cut(step.observation().to_owned()),
            (None, reason) => error_observation(
                reason.as_deref().unwrap_or("no result"),
                attempt.observation_preview.as_deref(),
            ),
        };
        NodeOutcome::Tool {
            tool: Some(real.clone()),
            rejected: if step.is_some() {
                None
            } else {
                attempt.rejected
            },
            step: step.map(Box::new),
            observation,
        }
    }
}

/// A `Finish` call's outcome from its arguments.
fn finish(arguments: &str) -> NodeOutcome {
    let args: Value = match serde_json::from_str(arguments) {
        Ok(args) => args,
        Err(error) => {
            return NodeOutcome::Unparseable {
                reason: format!("the arguments of {FINISH} are not JSON: {error}"),
            }
        }
    };
    match args["return_type"].as_str() {
        Some("give_answer") => NodeOutcome::Answer {
            final_answer: match &args["final_answer"] {
                Value::String(text) => text.trim().to_owned(),
                Value::Null => String::new(),
                other => other.to_string(),
            },
        },
        Some("give_up_and_restart") => NodeOutcome::GiveUp,
        other => NodeOutcome::Unparseable {
            reason: format!(
                "{FINISH} needs `return_type` give_answer or give_up_and_restart, not {}",
                other.map_or("nothing".to_owned(), |o| format!("`{o}`"))
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_arguments_are_read_without_panics() {
        assert_eq!(
            finish(r#"{"return_type": "give_answer", "final_answer": " 42 "}"#),
            NodeOutcome::Answer {
                final_answer: "42".into()
            }
        );
        assert_eq!(
            finish(r#"{"return_type": "give_up_and_restart"}"#),
            NodeOutcome::GiveUp
        );
        for bad in [
            "",
            "{",
            "[]",
            r#"{"return_type": "maybe"}"#,
            r#"{"final_answer": "x"}"#,
        ] {
            assert!(
                matches!(finish(bad), NodeOutcome::Unparseable { .. }),
                "{bad}"
            );
        }
        assert_eq!(
            finish(r#"{"return_type": "give_answer", "final_answer": {"a": 1}}"#),
            NodeOutcome::Answer {
                final_answer: "{\"a\":1}".into()
            }
        );
    }

    #[test]
    fn observations_are_cut_to_toolbench_length() {
        let long = "é".repeat(5000);
        assert_eq!(cut(long).chars().count(), OBSERVATION_CHARS);
        let shown = error_observation("boom", Some("partial"));
        let value: Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(value["error"], "boom");
        assert_eq!(value["response"], "partial");
    }
}
