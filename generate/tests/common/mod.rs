//! Shared helpers: an engine over the built-in tools with any chat backend.

use std::sync::Arc;

use toolgrad_generate::config::StructuredMode;
use toolgrad_generate::engine::{Engine, LoopConfig};
use toolgrad_generate::llm::{DynChat, ReplayCache, RoleLlm, RoleSettings};
use toolgrad_generate::policy::llm::LlmPolicy;
use toolgrad_generate::policy::Roles;
use toolgrad_generate::validate::{Validator, ValidatorConfig};
use toolgrad_tools::builtin::BuiltinSource;
use toolgrad_tools::{CallLimits, ToolBox, ToolSource};

pub fn builtin_toolbox() -> ToolBox {
    let source: Arc<dyn ToolSource> = Arc::new(BuiltinSource::new(None).unwrap());
    ToolBox::new(vec![source], CallLimits::default()).unwrap()
}

pub fn role_llm(chat: Arc<dyn DynChat>, cache: Option<Arc<ReplayCache>>) -> RoleLlm {
    RoleLlm {
        chat,
        cache,
        fallback: Default::default(),
        settings: RoleSettings {
            model: "scripted".into(),
            temperature: Some(1.0),
            max_tokens: None,
            structured: StructuredMode::JsonSchema,
            format_retries: 1,
            input_usd_per_million: 0.10,
            output_usd_per_million: 0.40,
        },
    }
}

/// An engine whose four roles are all LLM-backed by `llm`.
pub fn llm_engine(llm: RoleLlm, config: LoopConfig) -> Engine {
    let policy = || {
        Box::new(LlmPolicy {
            llm: llm.clone(),
            num_proposals: config.num_proposals,
        })
    };
    Engine {
        config,
        roles: Roles {
            proposer: policy(),
            executor: policy(),
            selector: policy(),
            inverse: policy(),
        },
        toolbox: Arc::new(builtin_toolbox()),
        validator: Validator::new(ValidatorConfig::default()),
    }
}
