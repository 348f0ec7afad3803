//! The OpenAI-compatible client against the mock endpoint (with injected 5xx
//! faults), and the record/replay cache: a replayed run reproduces the
//! dataset byte for byte without contacting any LLM, and keys never leak.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use toolgrad_core::llm::openai::{OpenAiClient, OpenAiConfig};
use toolgrad_generate::engine::LoopConfig;
use toolgrad_generate::llm::ReplayCache;
use toolgrad_generate::run::run;
use toolgrad_testkit::{serve, MockOptions};

const SECRET: &str = "sk-test-never-stored-0123456789";

fn client(base_url: &str) -> Arc<OpenAiClient> {
    let mut config = OpenAiConfig::new(base_url, "mock-model");
    config.api_key = Some(SECRET.into());
    config.initial_backoff = Duration::from_millis(5);
    config.max_backoff = Duration::from_millis(20);
    config.max_retries = 4;
    config.timeout = Duration::from_secs(5);
    config.concurrency = 8;
    Arc::new(OpenAiClient::new(config).unwrap())
}

fn loop_config() -> LoopConfig {
    LoopConfig {
        num_apis: 10,
        num_proposals: 2,
        max_iter: 3,
        gradient_memory: 0,
    }
}

async fn generate(base_url: &str, cache_dir: &Path, replay_only: bool, out: &Path) {
    let cache = Arc::new(ReplayCache::open(cache_dir, replay_only).unwrap());
    let engine = common::llm_engine(
        common::role_llm(client(base_url), Some(cache)),
        loop_config(),
    );
    let summary = run(Arc::new(engine), &[1, 2, 3], 3, out, false)
        .await
        .unwrap();
    assert_eq!(summary.accepted + summary.failed, 3);
    assert!(summary.accepted >= 1, "{summary:?}");
}

#[tokio::test]
async fn recorded_runs_replay_byte_for_byte_without_an_llm() {
    let options = MockOptions {
        latency: Duration::from_millis(2),
        fail_every: 4,
        ..MockOptions::default()
    };
    let server = serve(options, 0).await.unwrap();
    let (recorded, replayed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cache_dir = recorded.path().join("cache");
    generate(&server.base_url(), &cache_dir, false, recorded.path()).await;
    let served = server.requests();
    assert!(served > 0);

    // Replay only, against an address where nothing listens.
    generate("http://127.0.0.1:9/v1", &cache_dir, true, replayed.path()).await;
    assert_eq!(
        server.requests(),
        served,
        "replay must not reach the endpoint"
    );
    let read = |dir: &Path| std::fs::read(dir.join("dataset.jsonl")).unwrap();
    assert_eq!(read(recorded.path()), read(replayed.path()));

    for file in walk(recorded.path()) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            !text.contains(SECRET),
            "{} holds the API key",
            file.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn a_replay_miss_is_an_error_not_a_call() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(ReplayCache::open(dir.path(), true).unwrap());
    let engine = common::llm_engine(
        common::role_llm(client("http://127.0.0.1:9/v1"), Some(cache)),
        loop_config(),
    );
    let outcome = engine.run_seed(1).await;
    assert!(!outcome.metadata.accepted);
    let reason = outcome.trace[0].early_next.as_deref().unwrap();
    assert!(reason.contains("replay cache has no reply"), "{reason}");
}

#[tokio::test]
async fn a_server_without_structured_outputs_gets_a_forced_tool_call() {
    let options = MockOptions {
        reject_response_format: true,
        ..MockOptions::default()
    };
    let server = serve(options, 0).await.unwrap();
    let llm = common::role_llm(client(&server.base_url()), None);
    let engine = common::llm_engine(llm.clone(), loop_config());
    let outcome = engine.run_seed(5).await;
    assert!(
        outcome.metadata.accepted,
        "{:?}",
        outcome.trace[0].early_next
    );
    assert!(outcome
        .workflow
        .unwrap()
        .query
        .starts_with("Scripted query"));
    // One refusal moved every role of this client to tool calls, once.
    assert_eq!(llm.fallback.load(std::sync::atomic::Ordering::Relaxed), 1);
}

/// A replay through the run config needs neither the API key nor the model:
/// `setup` gives every role a backend that contacts nothing.
#[tokio::test]
async fn a_replay_needs_no_key_and_no_model() {
    let server = serve(MockOptions::default(), 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let var = "TOOLGRAD_TEST_REPLAY_KEY";
    let text = |base_url: &str| {
        format!(
            "num_seeds = 3\nnum_apis = 10\nnum_proposals = 2\nmax_iter = 3\n\
             [policy]\nproposer = \"llm\"\nexecutor = \"llm\"\nselector = \"llm\"\ninverse = \"llm\"\n\
             [llm]\nbase_url = \"{base_url}\"\nmodel = \"mock\"\napi_key_env = \"{var}\"\n\
             [cache]\ndir = \"{}\"\n[[tools]]\nkind = \"builtin\"\n",
            dir.path().join("cache").display()
        )
    };
    let config_path = Path::new("replay.toml");
    let record =
        toolgrad_generate::config::GenerateConfig::parse(&text(&server.base_url()), config_path)
            .unwrap();
    std::env::set_var(var, "sk-recording");
    let recorded = dir.path().join("recorded");
    let engine = toolgrad_generate::setup::engine(&record, &recorded)
        .await
        .unwrap();
    run(Arc::new(engine), &record.seeds(), 2, &recorded, false)
        .await
        .unwrap();
    std::env::remove_var(var);

    let mut replay = toolgrad_generate::config::GenerateConfig::parse(
        &text("http://127.0.0.1:9/v1"),
        config_path,
    )
    .unwrap();
    replay.cache.mode = toolgrad_generate::config::CacheMode::Replay;
    let replayed = dir.path().join("replayed");
    let engine = toolgrad_generate::setup::engine(&replay, &replayed)
        .await
        .unwrap();
    run(Arc::new(engine), &replay.seeds(), 2, &replayed, false)
        .await
        .unwrap();
    let read = |d: &Path| std::fs::read(d.join("dataset.jsonl")).unwrap();
    assert_eq!(read(&recorded), read(&replayed));

    // A local model that does not exist is never loaded in a replay.
    let local = text("x").replace(
        "base_url = \"x\"\nmodel = \"mock\"",
        "backend = \"local\"\nmodel_path = \"/nonexistent/model.gguf\"",
    );
    let mut local = toolgrad_generate::config::GenerateConfig::parse(&local, config_path).unwrap();
    local.cache.mode = toolgrad_generate::config::CacheMode::Replay;
    assert!(
        toolgrad_generate::setup::engine(&local, &dir.path().join("local"))
            .await
            .is_ok()
    );
}

/// A backend whose every reply is new, as sampling at temperature 1 is.
struct Fresh(std::sync::atomic::AtomicU64);

impl toolgrad_core::llm::ChatModel for Fresh {
    async fn chat(
        &self,
        _request: &toolgrad_core::llm::ChatRequest,
    ) -> Result<toolgrad_core::llm::ChatResponse, toolgrad_core::llm::LlmError> {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(toolgrad_core::llm::ChatResponse {
            content: Some(format!("reply {n}")),
            tool_calls: Vec::new(),
            usage: Default::default(),
            latency: Duration::ZERO,
            attempts: 1,
        })
    }
}

#[tokio::test]
async fn identical_requests_in_flight_share_one_reply_so_replay_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(ReplayCache::open(dir.path(), false).unwrap());
    let llm = common::role_llm(Arc::new(Fresh(Default::default())), Some(cache.clone()));
    let request = || {
        let mut request = toolgrad_core::llm::ChatRequest::default();
        request
            .messages
            .push(toolgrad_core::llm::ChatMessage::new("user", "same"));
        request
    };
    let counters = toolgrad_generate::policy::Counters::default();
    let (a, b) = tokio::join!(
        llm.call(request(), &counters),
        llm.call(request(), &counters)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.content, b.content, "both callers see the recorded reply");
    assert_eq!(cache.len(), 1);
    let replay = Arc::new(ReplayCache::open(dir.path(), true).unwrap());
    let replayed = common::role_llm(Arc::new(Fresh(Default::default())), Some(replay));
    let c = replayed.call(request(), &counters).await.unwrap();
    assert_eq!(c.content, a.content);
}
