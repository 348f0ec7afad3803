//! The DFS baseline (ToolBench's DFSDT) with scripted LLMs: an accepted
//! sample that verifies, backtracking (after a give-up and at the depth
//! limit) with the diversity prompt, the judge's verdicts, the call budget,
//! malformed replies, and resume and replay through `run`.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use toolgrad_core::llm::{
    ChatModel, ChatRequest, ChatResponse, FunctionCall, LlmError, ToolCall, Usage,
};
use toolgrad_generate::config::{DfsConfig, Method};
use toolgrad_generate::dfs::search::{NodeOutcome, FINISH};
use toolgrad_generate::dfs::{DfsEngine, DfsRoles, DfsTrace};
use toolgrad_generate::engine::LoopConfig;
use toolgrad_generate::llm::{DynChat, ReplayCache};
use toolgrad_generate::run::{replay_misses, run};
use toolgrad_generate::validate::{Validator, ValidatorConfig};
use toolgrad_generate::verify::check_sample;
use toolgrad_testkit::scripted::{scripted_reply, ScriptedLlm};

type Reply = (Option<String>, Vec<ToolCall>);
type Rule = Box<dyn Fn(&ChatRequest) -> Option<Reply> + Send + Sync>;

/// Answers by `rule`, else as the scripted LLM does; keeps every request.
struct Script {
    rule: Rule,
    requests: Mutex<Vec<ChatRequest>>,
    calls: AtomicU64,
}

impl Script {
    fn new(rule: impl Fn(&ChatRequest) -> Option<Reply> + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            rule: Box::new(rule),
            requests: Mutex::new(Vec::new()),
            calls: AtomicU64::new(0),
        })
    }

    fn solver_requests(&self) -> Vec<ChatRequest> {
        let requests = self.requests.lock().unwrap();
        requests.iter().filter(|r| is_solver(r)).cloned().collect()
    }
}

impl ChatModel for Script {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.requests.lock().unwrap().push(request.clone());
        let (content, tool_calls) = (self.rule)(request).unwrap_or_else(|| scripted_reply(request));
        Ok(ChatResponse {
            content,
            tool_calls,
            usage: Usage {
                prompt_tokens: 100,
                completion_tokens: 10,
            },
            latency: Duration::ZERO,
            attempts: 1,
        })
    }
}

fn is_solver(request: &ChatRequest) -> bool {
    request
        .tools
        .iter()
        .any(|t| t["function"]["name"] == FINISH)
}

fn structured_name(request: &ChatRequest) -> Option<&str> {
    request.response_format.as_ref()?["json_schema"]["name"].as_str()
}

fn tool_replies(request: &ChatRequest) -> Vec<&str> {
    request
        .messages
        .iter()
        .filter(|m| m.role == "tool")
        .filter_map(|m| m.content.as_deref())
        .collect()
}

const DIVERSITY: &str = "This is not the first time you try this task";

fn has_diversity(request: &ChatRequest) -> bool {
    request.messages.iter().any(|m| {
        m.content
            .as_deref()
            .is_some_and(|c| c.starts_with(DIVERSITY))
    })
}

fn call(name: &str, arguments: &str) -> Option<Reply> {
    let call = ToolCall {
        id: "c1".into(),
        kind: "function".into(),
        function: FunctionCall {
            name: name.into(),
            arguments: arguments.into(),
        },
    };
    Some((Some("Let me think.".into()), vec![call]))
}

fn answer(text: &str) -> Option<Reply> {
    call(
        FINISH,
        &json!({"return_type": "give_answer", "final_answer": text}).to_string(),
    )
}

fn give_up() -> Option<Reply> {
    call(FINISH, r#"{"return_type": "give_up_and_restart"}"#)
}

fn verdict(status: &str) -> Option<Reply> {
    Some((
        Some(json!({"reason": format!("Scripted {status}."), "answer_status": status}).to_string()),
        Vec::new(),
    ))
}

fn engine(chat: Arc<dyn DynChat>, config: DfsConfig, num_apis: usize) -> DfsEngine {
    let llm = common::role_llm(chat, None);
    DfsEngine {
        config,
        num_apis,
        max_iter: 4,
        roles: DfsRoles {
            query_writer: llm.clone(),
            solver: llm.clone(),
            judge: llm,
        },
        toolbox: Arc::new(common::builtin_toolbox()),
        validator: Validator::new(ValidatorConfig::default()),
    }
}

/// Every built-in tool is sampled, so scripts may call any of them.
const ALL: usize = 1000;

/// Looks Lisbon up, then answers from it.
fn straight(request: &ChatRequest) -> Option<Reply> {
    if !is_solver(request) {
        return None;
    }
    match tool_replies(request).len() {
        0 => call("city_info", r#"{"city": "Lisbon"}"#),
        _ => answer("Lisbon is in Portugal (PT), in the Europe/Lisbon time zone."),
    }
}

fn assert_counts_add_up(trace: &DfsTrace, llm_calls: u64, tool_calls: u64) {
    let c = trace.calls;
    assert_eq!(
        c.query_llm_calls + c.solver_llm_calls + c.judge_llm_calls,
        llm_calls,
        "{c:?}"
    );
    assert_eq!(
        c.solver_llm_calls,
        trace.tree.len() as u64,
        "one node per solver call"
    );
    assert_eq!(c.tool_calls, tool_calls);
}

#[tokio::test]
async fn scripted_seeds_become_verifiable_one_chain_workflows_and_every_call_counts() {
    let validator = Validator::new(ValidatorConfig::default());
    let mut accepted = 0;
    for seed in 1..=6 {
        let llm = Arc::new(ScriptedLlm::default());
        let dfs = engine(llm.clone(), DfsConfig::default(), 10);
        let outcome = dfs.run_seed(seed).await;
        let (trace, metadata) = (&outcome.trace, &outcome.metadata);
        assert_eq!(metadata.method, Method::Dfs);
        assert_eq!(metadata.llm_calls, llm.calls.load(Ordering::Relaxed));
        let executed = trace
            .tree
            .iter()
            .filter(|n| matches!(n.outcome, NodeOutcome::Tool { .. }))
            .count() as u64;
        assert_counts_add_up(trace, metadata.llm_calls, executed);
        assert_eq!(metadata.tool_calls, executed);
        assert_eq!(metadata.iterations, trace.tree.len() as u64);
        assert!(metadata.cost_usd > 0.0);

        // The same sample as ToolGrad's first iteration of the same seed.
        let loop_config = LoopConfig {
            num_apis: 10,
            num_proposals: 2,
            max_iter: 4,
            gradient_memory: 0,
        };
        let toolgrad = common::llm_engine(
            common::role_llm(Arc::new(ScriptedLlm::default()), None),
            loop_config,
        );
        let first = &toolgrad.run_seed(seed).await.trace[0];
        assert_eq!(trace.sampled_apis, first.sampled_apis);

        let written = trace.query.as_ref().unwrap();
        assert!(written.query.starts_with("Scripted DFS query"));
        assert!(written
            .related_apis
            .iter()
            .all(|a| trace.sampled_apis.contains(a)));
        let Some(workflow) = outcome.workflow else {
            assert!(metadata.failure.is_some());
            continue;
        };
        accepted += 1;
        assert!(metadata.accepted && metadata.failure.is_none());
        assert!(workflow.agentic_query.is_none());
        assert_eq!(
            metadata.agentic_query_error.as_deref(),
            Some(toolgrad_generate::dfs::NO_AGENTIC_QUERY)
        );
        assert_eq!(workflow.query, written.query);
        assert_eq!(workflow.chain_ids(), vec!["api_use_chain_1".to_owned()]);
        let last = trace.tree[*trace.kept_path.last().unwrap()].clone();
        let NodeOutcome::Answer { final_answer } = last.outcome else {
            panic!("the kept path ends in an answer: {last:?}");
        };
        assert_eq!(workflow.response, final_answer);
        let kept_steps = trace
            .kept_path
            .iter()
            .filter(|&&id| {
                matches!(
                    &trace.tree[id].outcome,
                    NodeOutcome::Tool { step: Some(_), .. }
                )
            })
            .count();
        assert_eq!(workflow.num_steps(), kept_steps);
        assert_eq!(metadata.num_steps, kept_steps);
        assert_eq!(trace.judgements.len() as u64, trace.calls.judge_llm_calls);
        assert_eq!(
            check_sample(&workflow, &dfs.toolbox, &validator).await,
            Vec::<String>::new()
        );
        // Same seed, same sample.
        assert_eq!(dfs.run_seed(seed).await.workflow, Some(workflow));
    }
    assert!(accepted >= 1, "no scripted seed was accepted");
}

#[tokio::test]
async fn a_give_up_abandons_its_state_and_the_next_child_sees_the_diversity_prompt() {
    let script = Script::new(|request| {
        if !is_solver(request) {
            return None;
        }
        match (tool_replies(request).len(), has_diversity(request)) {
            (0, false) => call("gcd_lcm", r#"{"a": 12, "b": 18}"#),
            (1, _) if tool_replies(request)[0].contains("\"gcd\"") => give_up(),
            (0, true) => call("city_info", r#"{"city": "Lisbon"}"#),
            _ => answer("Lisbon is in Portugal."),
        }
    });
    let dfs = engine(script.clone(), DfsConfig::default(), ALL);
    let outcome = dfs.run_seed(1).await;
    assert!(outcome.metadata.accepted, "{:?}", outcome.metadata.failure);
    let tree = &outcome.trace.tree;
    let parents: Vec<Option<usize>> = tree.iter().map(|n| n.parent).collect();
    assert_eq!(parents, vec![None, Some(0), None, Some(2)]);
    assert_eq!(tree[1].outcome, NodeOutcome::GiveUp);
    assert!(tree[1].pruned.as_deref().unwrap().contains("gave up"));
    assert!(tree[0]
        .pruned
        .as_deref()
        .unwrap()
        .contains("gave up and restarted"));
    assert_eq!(outcome.trace.kept_path, vec![2, 3]);

    // The second expansion of the root saw the first child's call and output.
    let prompt = tree[2].diversity_prompt.as_deref().unwrap();
    assert!(prompt.starts_with(DIVERSITY), "{prompt}");
    assert!(
        prompt.contains("gcd_lcm") && prompt.contains("\\\"gcd\\\":6"),
        "{prompt}"
    );
    assert!(tree[0].diversity_prompt.is_none() && tree[3].diversity_prompt.is_none());
    let solver = script.solver_requests();
    assert_eq!(solver.len(), 4);
    let flags: Vec<bool> = solver.iter().map(has_diversity).collect();
    assert_eq!(
        flags,
        vec![false, false, true, false],
        "only that expansion sees it"
    );
    // Every solver request must call a function.
    assert!(solver
        .iter()
        .all(|r| r.tool_choice == Some(json!("required"))));

    // Only the kept path's call is in the sample.
    let workflow = outcome.workflow.unwrap();
    let tools: Vec<&str> = workflow.steps().map(|s| s.action().tool.as_str()).collect();
    assert_eq!(tools, vec!["city_info"]);
    assert_eq!(
        outcome.metadata.tool_calls, 2,
        "the abandoned call counts too"
    );
    assert_counts_add_up(&outcome.trace, outcome.metadata.llm_calls, 2);
}

#[tokio::test]
async fn a_chain_at_the_depth_limit_returns_to_its_parent_which_tries_again() {
    let script = Script::new(|request| {
        if !is_solver(request) {
            return None;
        }
        match (tool_replies(request).len(), has_diversity(request)) {
            (0, _) => call("gcd_lcm", r#"{"a": 12, "b": 18}"#),
            (1, false) => call("gcd_lcm", r#"{"a": 4, "b": 6}"#),
            _ => answer("The GCD of 12 and 18 is 6 and their LCM is 36."),
        }
    });
    let config = DfsConfig {
        max_depth: 2,
        ..DfsConfig::default()
    };
    let dfs = engine(script.clone(), config, ALL);
    let outcome = dfs.run_seed(2).await;
    assert!(outcome.metadata.accepted, "{:?}", outcome.metadata.failure);
    let tree = &outcome.trace.tree;
    assert_eq!(tree.len(), 3);
    assert_eq!((tree[1].parent, tree[1].depth), (Some(0), 2));
    assert!(tree[1]
        .pruned
        .as_deref()
        .unwrap()
        .contains("depth limit of 2"));
    assert_eq!(tree[2].parent, Some(0));
    let prompt = tree[2].diversity_prompt.as_deref().unwrap();
    assert!(prompt.contains(r#"{\"a\": 4, \"b\": 6}"#), "{prompt}");
    assert!(
        prompt.contains("again, your former observation:"),
        "{prompt}"
    );
    assert_eq!(outcome.trace.kept_path, vec![0, 2]);
    let workflow = outcome.workflow.unwrap();
    assert_eq!(workflow.num_steps(), 1);
    assert_eq!(
        workflow.steps().next().unwrap().action().tool_input,
        json!({"a": 12, "b": 18})
    );
}

#[tokio::test]
async fn the_judge_decides_and_its_calls_are_counted() {
    for (first, second, accepted) in [
        ("Unsolved", None, false),
        ("Solved", None, true),
        ("Unsure", Some("Solved"), true),
        ("Unsure", Some("Unsure"), false),
    ] {
        let script = Script::new(move |request| match structured_name(request) {
            Some("check_answer_status") => verdict(first),
            Some("parse_answer_status") => verdict(second.unwrap_or("Solved")),
            _ => straight(request),
        });
        let dfs = engine(script.clone(), DfsConfig::default(), ALL);
        let outcome = dfs.run_seed(3).await;
        let metadata = &outcome.metadata;
        assert_eq!(metadata.accepted, accepted, "{first} {second:?}");
        let judge_calls = 1 + u64::from(second.is_some());
        assert_eq!(outcome.trace.calls.judge_llm_calls, judge_calls);
        assert_eq!(outcome.trace.judgements.len() as u64, judge_calls);
        assert_eq!(metadata.llm_calls, 1 + 2 + judge_calls);
        assert_eq!(metadata.llm_calls, script.calls.load(Ordering::Relaxed));
        assert_eq!(metadata.tool_calls, 1);
        assert_eq!(metadata.prompt_tokens, 100 * metadata.llm_calls);
        if !accepted {
            let failure = metadata.failure.as_deref().unwrap();
            let last = second.unwrap_or(first);
            assert!(failure.starts_with(&format!("judge: {last}")), "{failure}");
            assert!(outcome.workflow.is_none());
        }
        if second.is_some() {
            // The detailed check reads the kept path's calls and observations.
            let requests = script.requests.lock().unwrap();
            let detailed = requests
                .iter()
                .find(|r| structured_name(r) == Some("parse_answer_status"))
                .unwrap();
            let prompt = detailed.messages[0].content.as_deref().unwrap();
            assert!(
                prompt.contains("answer_details") && prompt.contains("Europe/Lisbon"),
                "{prompt}"
            );
        }
    }
}

#[tokio::test]
async fn the_budget_of_solver_calls_ends_the_search() {
    let script = Script::new(|request| {
        is_solver(request)
            .then(|| call("gcd_lcm", r#"{"a": 12, "b": 18}"#))
            .flatten()
    });
    let config = DfsConfig {
        width: 2,
        max_depth: 10,
        max_llm_calls: 3,
    };
    let dfs = engine(script.clone(), config, ALL);
    let outcome = dfs.run_seed(4).await;
    let failure = outcome.metadata.failure.as_deref().unwrap();
    assert!(
        failure.contains("budget of 3 solver LLM calls"),
        "{failure}"
    );
    assert_eq!(outcome.trace.tree.len(), 3);
    assert_eq!(
        outcome.metadata.llm_calls,
        1 + 3,
        "no judge without an answer"
    );
    assert_eq!(outcome.metadata.tool_calls, 3);
    assert_counts_add_up(&outcome.trace, 4, 3);
}

/// A backend whose solver calls fail at the transport.
struct Unreachable;

impl ChatModel for Unreachable {
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        if is_solver(request) {
            return Err(LlmError::Transport {
                endpoint: "mock".into(),
                attempts: 3,
                message: "connection refused".into(),
            });
        }
        ScriptedLlm::default().chat(request).await
    }
}

#[tokio::test]
async fn malformed_replies_reject_the_seed_with_a_reason_never_a_panic() {
    let cases: Vec<(Rule, &str)> = vec![
        (
            Box::new(|r| {
                is_solver(r)
                    .then(|| Some((Some("I would say 42.".into()), Vec::new())))
                    .flatten()
            }),
            "no final answer: every branch failed",
        ),
        (
            Box::new(|r| {
                is_solver(r)
                    .then(|| call(FINISH, r#"{"return_type": "perhaps"}"#))
                    .flatten()
            }),
            "no final answer: every branch failed",
        ),
        (
            Box::new(|r| {
                if !is_solver(r) {
                    return None;
                }
                match tool_replies(r).len() {
                    0 => call("no_such_tool", "{}"),
                    1 => call("gcd_lcm", "{a: "),
                    _ => answer("42"),
                }
            }),
            "execution failed: no tool call on the kept path succeeded",
        ),
        (
            Box::new(|r| is_solver(r).then(|| answer("   ")).flatten()),
            "execution failed: the final answer is empty",
        ),
        (
            Box::new(|r| {
                (structured_name(r) == Some("DfsQuery"))
                    .then(|| Some((Some("not JSON at all".into()), Vec::new())))
                    .flatten()
            }),
            "query writer: unusable structured reply",
        ),
        (
            Box::new(|r| {
                (structured_name(r) == Some("DfsQuery"))
                    .then(|| Some((Some(json!({"query": "Tell me about Lisbon.", "related_apis": ["city_info"]}).to_string()), Vec::new())))
                    .flatten()
            }),
            "query writer: the query relates to 1 distinct APIs (2 to 5 allowed)",
        ),
        (
            Box::new(|r| match structured_name(r) {
                Some("check_answer_status") => Some((
                    Some(json!({"reason": "?", "answer_status": "Maybe"}).to_string()),
                    Vec::new(),
                )),
                _ => straight(r),
            }),
            "judge: unusable structured reply",
        ),
    ];
    for (rule, wanted) in cases {
        let script = Arc::new(Script {
            rule,
            requests: Mutex::new(Vec::new()),
            calls: AtomicU64::new(0),
        });
        let dfs = engine(script.clone(), DfsConfig::default(), ALL);
        let outcome = dfs.run_seed(5).await;
        let failure = outcome.metadata.failure.clone().unwrap_or_default();
        assert!(
            failure.starts_with(wanted),
            "wanted {wanted:?}, got {failure:?}"
        );
        assert!(!outcome.metadata.accepted && outcome.workflow.is_none());
        assert_eq!(
            outcome.metadata.llm_calls,
            script.calls.load(Ordering::Relaxed)
        );
        assert_eq!(outcome.trace.failure.as_deref(), Some(failure.as_str()));
    }
    let outcome = engine(Arc::new(Unreachable), DfsConfig::default(), ALL)
        .run_seed(5)
        .await;
    let failure = outcome.metadata.failure.unwrap();
    assert!(
        failure.contains("solver LLM") && failure.contains("connection refused"),
        "{failure}"
    );
    assert_eq!(
        outcome.metadata.llm_calls, 1,
        "the failed call got no reply to count"
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn a_dfs_run_resumes_after_a_lost_seed_and_replays_without_an_llm() {
    let dir = tempfile::tempdir().unwrap();
    let (out, cache_dir) = (dir.path().join("run"), dir.path().join("cache"));
    let seeds = [1, 2, 3, 4];
    let scripted = Arc::new(ScriptedLlm::default());
    let recording = |chat: Arc<dyn DynChat>, replay_only: bool| {
        let mut dfs = engine(chat, DfsConfig::default(), 10);
        let cache = Arc::new(ReplayCache::open(&cache_dir, replay_only).unwrap());
        for llm in [
            &mut dfs.roles.query_writer,
            &mut dfs.roles.solver,
            &mut dfs.roles.judge,
        ] {
            llm.cache = Some(cache.clone());
        }
        Arc::new(dfs)
    };
    let summary = run(recording(scripted.clone(), false), &seeds, 2, &out, false)
        .await
        .unwrap();
    assert_eq!(summary.method, Method::Dfs);
    assert_eq!(summary.accepted + summary.failed, 4);
    assert!(summary.accepted >= 1, "{summary:?}");
    let dataset = read(&out.join("dataset.jsonl"));
    assert_eq!(dataset.lines().count(), summary.accepted);
    let summary_file: Value = serde_json::from_str(&read(&out.join("summary.json"))).unwrap();
    assert_eq!(summary_file["method"], "dfs");
    let trace: Value = serde_json::from_str(&read(&out.join("trace/00002.json"))).unwrap();
    assert!(
        trace["tree"].is_array() && trace["calls"]["query_llm_calls"] == 1,
        "{trace}"
    );
    let metadata = out.join("metadata/00002.json");
    let before: Value = serde_json::from_str(&read(&metadata)).unwrap();
    assert_eq!(before["method"], "dfs");
    let served = scripted.calls.load(Ordering::Relaxed);

    // Seed 2 is lost: only it runs again, from the recorded replies.
    std::fs::remove_file(&metadata).unwrap();
    let again = run(recording(scripted.clone(), false), &seeds, 2, &out, false)
        .await
        .unwrap();
    assert_eq!(again.resumed, 3);
    assert_eq!(read(&out.join("dataset.jsonl")), dataset);
    assert_eq!(
        scripted.calls.load(Ordering::Relaxed),
        served,
        "every reply was cached"
    );
    let mut after: Value = serde_json::from_str(&read(&metadata)).unwrap();
    after["wall_time_s"] = before["wall_time_s"].clone();
    assert_eq!(after, before);

    // A replay reproduces the dataset without reaching any backend.
    let replayed = dir.path().join("replayed");
    run(
        recording(Arc::new(Unreachable), true),
        &seeds,
        2,
        &replayed,
        false,
    )
    .await
    .unwrap();
    assert_eq!(read(&replayed.join("dataset.jsonl")), dataset);
    assert!(replay_misses(&replayed, &seeds).is_empty());

    // A replay of an empty recording names its misses.
    let empty = tempfile::tempdir().unwrap();
    let mut dfs = engine(Arc::new(Unreachable), DfsConfig::default(), 10);
    dfs.roles.query_writer.cache = Some(Arc::new(ReplayCache::open(empty.path(), true).unwrap()));
    let missed = empty.path().join("out");
    run(Arc::new(dfs), &[1], 1, &missed, false).await.unwrap();
    let misses = replay_misses(&missed, &[1]);
    assert_eq!(misses.len(), 1);
    assert!(
        misses[0].1.contains("replay cache has no reply"),
        "{misses:?}"
    );
}

#[test]
fn the_scripted_llm_knows_the_dfs_names() {
    use toolgrad_testkit::scripted;
    assert_eq!(scripted::DFS_QUERY, toolgrad_generate::dfs::query::OUTPUT);
    assert_eq!(scripted::DFS_CHECK, toolgrad_generate::dfs::judge::CHECK);
    assert_eq!(scripted::DFS_PARSE, toolgrad_generate::dfs::judge::PARSE);
    assert_eq!(scripted::DFS_FINISH, toolgrad_generate::dfs::search::FINISH);
}
