//! Builds a run from its config: tool sources into a [`ToolBox`], each role's
//! policy (rule or LLM), the LLM clients and the record/replay cache, for
//! ToolGrad ([`engine`]) or the DFS baseline ([`dfs_engine`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use toolgrad_core::llm::openai::{OpenAiClient, OpenAiConfig};
use toolgrad_core::llm::{ChatRequest, ChatResponse, LlmError};

use crate::config::{
    Backend, CacheMode, GenerateConfig, LlmSettings, Method, PolicyKind, Role, StructuredMode,
    ToolSourceConfig,
};
use crate::dfs::{DfsEngine, DfsRoles};
use crate::engine::Engine;
use crate::error::{GenerateError, Result};
use crate::llm::{DynChat, ReplayCache, RoleLlm, RoleSettings};
use crate::policy::llm::LlmPolicy;
use crate::policy::random::RandomSelector;
use crate::policy::rule::RulePolicy;
use crate::policy::{Executor, InversePredictor, Proposer, Roles, Selector};
use crate::run::Generator;
use crate::validate::Validator;
use toolgrad_tools::builtin::{BuiltinSource, Env};
use toolgrad_tools::mcp::McpSource;
use toolgrad_tools::toolbench::ToolbenchSource;
use toolgrad_tools::{CallLimits, ToolBox, ToolSource};

/// The tool sources of a config, connected, plus the built-in data (for pools).
pub async fn toolbox(
    config: &GenerateConfig,
    cache_dir: &Path,
) -> Result<(ToolBox, Option<Arc<Env>>)> {
    let mut sources: Vec<Arc<dyn ToolSource>> = Vec::new();
    let mut env = None;
    for source in &config.tools {
        match source {
            ToolSourceConfig::Builtin { domains } => {
                let builtin = BuiltinSource::new(domains.as_deref())?;
                env = Some(builtin.env().clone());
                sources.push(Arc::new(builtin));
            }
            ToolSourceConfig::Mcp {
                name,
                command,
                args,
                env: vars,
                allow,
                deterministic,
            } => {
                let mcp =
                    McpSource::connect(name, command, args, vars, allow.as_deref(), *deterministic)
                        .await?;
                sources.push(Arc::new(mcp));
            }
            ToolSourceConfig::Toolbench {
                catalog,
                endpoint,
                key_env,
            } => {
                let key = std::env::var(key_env).ok();
                let has_key = key.is_some();
                let toolbench =
                    ToolbenchSource::load(catalog, endpoint, key, &cache_dir.join("toolbench"))?;
                if has_key && toolbench.sends_key_in_clear() {
                    eprintln!(
                        "warning: {endpoint} is plain HTTP: {key_env} travels unencrypted (the reference's endpoint)"
                    );
                }
                sources.push(Arc::new(toolbench));
            }
        }
    }
    let limits = CallLimits {
        timeout: Duration::from_secs_f64(config.limits.tool_timeout_s),
        max_output_chars: config.limits.max_output_chars,
    };
    let toolbox = ToolBox::new(sources, limits)?;
    Ok((toolbox, env))
}

/// Backends already built, keyed by what identifies them: roles that name the
/// same endpoint (or model file) share one client, its concurrency limit and
/// rate limit, and a local model is loaded once.
type Backends = HashMap<String, Arc<dyn DynChat>>;

fn backend_key(settings: &LlmSettings) -> String {
    let s = settings;
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        s.backend,
        s.base_url,
        s.model,
        s.api_key_env,
        s.model_path,
        s.concurrency,
        s.requests_per_minute,
        s.max_retries,
        s.timeout_s
    )
}

/// The backend of a replay: every reply comes from the cache, so no key is
/// read, no model is loaded and no endpoint is contacted.
struct ReplayOnly;

impl DynChat for ReplayOnly {
    fn chat_dyn<'a>(
        &'a self,
        _request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        Box::pin(async {
            Err(LlmError::Transport {
                endpoint: "replay".into(),
                attempts: 0,
                message: "a replay contacts no LLM".into(),
            })
        })
    }
}

fn role_llm(
    settings: &LlmSettings,
    cache: Option<Arc<ReplayCache>>,
    backends: &mut Backends,
) -> Result<RoleLlm> {
    let replay = cache.as_ref().is_some_and(|c| c.replay_only());
    let key = backend_key(settings);
    let chat = match backends.get(&key) {
        Some(chat) => chat.clone(),
        None if replay => Arc::new(ReplayOnly),
        None => {
            let chat = backend(settings)?;
            backends.insert(key, chat.clone());
            chat
        }
    };
    let model = settings.model.clone().unwrap_or_else(|| {
        settings
            .model_path
            .as_ref()
            .map_or("local".into(), |p| p.display().to_string())
    });
    Ok(RoleLlm {
        chat,
        cache,
        fallback: Default::default(),
        settings: RoleSettings {
            model,
            temperature: settings.temperature,
            max_tokens: settings.max_tokens,
            structured: settings
                .structured_output
                .unwrap_or(StructuredMode::JsonSchema),
            format_retries: settings.format_retries.unwrap_or(2),
            input_usd_per_million: settings.input_usd_per_million.unwrap_or(0.0),
            output_usd_per_million: settings.output_usd_per_million.unwrap_or(0.0),
        },
    })
}

fn backend(settings: &LlmSettings) -> Result<Arc<dyn DynChat>> {
    let chat: Arc<dyn DynChat> = match settings.backend.unwrap_or(Backend::Openai) {
        Backend::Openai => {
            let base_url = settings.base_url.clone().unwrap_or_default();
            let mut client =
                OpenAiConfig::new(base_url, settings.model.clone().unwrap_or_default());
            if let Some(var) = &settings.api_key_env {
                client.api_key =
                    Some(std::env::var(var).map_err(|_| GenerateError::MissingKey(var.clone()))?);
            }
            if let Some(n) = settings.concurrency {
                client.concurrency = n;
            }
            if let Some(n) = settings.max_retries {
                client.max_retries = n;
            }
            if let Some(s) = settings.timeout_s {
                client.timeout = Duration::from_secs_f64(s);
            }
            client.requests_per_minute = settings.requests_per_minute;
            Arc::new(OpenAiClient::new(client)?)
        }
        Backend::Local => local_backend(
            &settings
                .model_path
                .clone()
                .unwrap_or_else(toolgrad_core::paths::default_model_path),
        )?,
    };
    Ok(chat)
}

/// The burn engine on a GGUF file or exported model folder.
#[cfg(feature = "local")]
fn local_backend(path: &Path) -> Result<Arc<dyn DynChat>> {
    let engine =
        toolgrad_model::engine::Engine::load(path).map_err(|e| GenerateError::LocalModel {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    let local = toolgrad_model::chat_engine::LocalModel::new(engine).map_err(|e| {
        GenerateError::LocalModel {
            path: path.to_owned(),
            message: e.to_string(),
        }
    })?;
    Ok(Arc::new(local))
}

/// Built without the `local` feature: the config must name an endpoint.
#[cfg(not(feature = "local"))]
fn local_backend(path: &Path) -> Result<Arc<dyn DynChat>> {
    Err(GenerateError::LocalModel {
        path: path.to_owned(),
        message: "this build of toolgrad-generate has no local backend (feature `local`)".into(),
    })
}

/// The generator of the config's method.
pub async fn generator(config: &GenerateConfig, out: &Path) -> Result<Arc<dyn Generator>> {
    Ok(match config.method {
        Method::Toolgrad => Arc::new(engine(config, out).await?),
        Method::Dfs => Arc::new(dfs_engine(config, out).await?),
    })
}

/// The cache folder: the config's, else `<out>/cache`.
fn cache_dir(config: &GenerateConfig, out: &Path) -> std::path::PathBuf {
    config
        .cache
        .dir
        .clone()
        .unwrap_or_else(|| out.join("cache"))
}

/// The LLM record/replay cache, when the config asks an LLM and keeps one.
fn replay_cache(config: &GenerateConfig, cache_dir: &Path) -> Result<Option<Arc<ReplayCache>>> {
    Ok(match config.cache.mode {
        CacheMode::Off => None,
        mode if config.uses_llm() => Some(Arc::new(ReplayCache::open(
            cache_dir,
            mode == CacheMode::Replay,
        )?)),
        _ => None,
    })
}

/// The DFS baseline for a config; its cache goes where [`engine`]'s does.
pub async fn dfs_engine(config: &GenerateConfig, out: &Path) -> Result<DfsEngine> {
    let cache_dir = cache_dir(config, out);
    let (toolbox, _) = toolbox(config, &cache_dir).await?;
    let cache = replay_cache(config, &cache_dir)?;
    let mut backends = Backends::new();
    let mut llm = |role: Role| role_llm(&config.llm.for_role(role), cache.clone(), &mut backends);
    Ok(DfsEngine {
        config: config.dfs_config(),
        num_apis: config.num_apis,
        max_iter: config.max_iter,
        roles: DfsRoles {
            query_writer: llm(Role::QueryWriter)?,
            solver: llm(Role::Solver)?,
            judge: llm(Role::Judge)?,
        },
        toolbox: Arc::new(toolbox),
        validator: Validator::new(config.validator.clone()),
    })
}

/// The engine for a config, writing its LLM cache under `out` unless the config names a dir.
pub async fn engine(config: &GenerateConfig, out: &Path) -> Result<Engine> {
    let cache_dir = cache_dir(config, out);
    let (toolbox, env) = toolbox(config, &cache_dir).await?;
    let cache = replay_cache(config, &cache_dir)?;
    let rule = RulePolicy::new(env, config.num_proposals);
    let mut backends = Backends::new();
    let mut llm_policy = |role: Role| -> Result<LlmPolicy> {
        Ok(LlmPolicy {
            llm: role_llm(&config.llm.for_role(role), cache.clone(), &mut backends)?,
            num_proposals: config.num_proposals,
        })
    };
    let policy = &config.policy;
    // `GenerateConfig::check` lets `random` play the selector only.
    let proposer: Box<dyn Proposer> = match policy.proposer {
        PolicyKind::Rule | PolicyKind::Random => Box::new(rule.clone()),
        PolicyKind::Llm => Box::new(llm_policy(Role::Proposer)?),
    };
    let executor: Box<dyn Executor> = match policy.executor {
        PolicyKind::Rule | PolicyKind::Random => Box::new(rule.clone()),
        PolicyKind::Llm => Box::new(llm_policy(Role::Executor)?),
    };
    let selector: Box<dyn Selector> = match policy.selector {
        PolicyKind::Rule => Box::new(rule.clone()),
        PolicyKind::Random => Box::new(RandomSelector),
        PolicyKind::Llm => Box::new(llm_policy(Role::Selector)?),
    };
    let inverse: Box<dyn InversePredictor> = match policy.inverse {
        PolicyKind::Rule | PolicyKind::Random => Box::new(rule),
        PolicyKind::Llm => Box::new(llm_policy(Role::Inverse)?),
    };
    Ok(Engine {
        config: config.loop_config(),
        roles: Roles {
            proposer,
            executor,
            selector,
            inverse,
        },
        toolbox: Arc::new(toolbox),
        validator: Validator::new(config.validator.clone()),
    })
}
