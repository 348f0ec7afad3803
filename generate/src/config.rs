//! The TOML run config of `toolgrad generate` (see `configs/generate-*.toml`):
//! the method (ToolGrad or the DFS baseline), loop and search settings, which
//! policy plays each role, the LLM behind each role, tool sources, call
//! limits, the record/replay cache and the validator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toolgrad_core::seconds;

use crate::engine::LoopConfig;
use crate::error::{GenerateError, Result};
use crate::validate::ValidatorConfig;

/// Which generator a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The answer-first loop ([`crate::engine`]).
    #[default]
    Toolgrad,
    /// The query-first baseline, ToolBench's DFSDT ([`crate::dfs`]).
    Dfs,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Toolgrad => "toolgrad",
            Method::Dfs => "dfs",
        }
    }

    fn is_toolgrad(&self) -> bool {
        *self == Method::Toolgrad
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Method {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "toolgrad" => Ok(Method::Toolgrad),
            "dfs" => Ok(Method::Dfs),
            other => Err(format!(
                "unknown method `{other}` (expected `toolgrad` or `dfs`)"
            )),
        }
    }
}

/// `[dfs]`: the search limits of the DFS baseline (ToolBench's DFSDT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DfsConfig {
    /// Children tried per node before backtracking (ToolBench's `tree_beam_size`).
    pub width: usize,
    /// Solver replies per chain, root to leaf, each one function call (a tool
    /// or `Finish`). ToolBench counts 12 tree nodes, and a function-calling
    /// reply makes 2 (action and its input), or 3 with a thought.
    pub max_depth: usize,
    /// Solver LLM calls per query (ToolBench passes 200); query writing and
    /// judging are counted but not limited by it.
    pub max_llm_calls: u64,
}

impl Default for DfsConfig {
    fn default() -> Self {
        Self {
            width: 2,
            max_depth: 6,
            max_llm_calls: 60,
        }
    }
}

/// Which implementation plays a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    Rule,
    Llm,
    /// The selector only: a uniformly random successful report, no
    /// gradient (the ablation).
    Random,
}

/// `[policy]`: one entry per role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub proposer: PolicyKind,
    pub executor: PolicyKind,
    pub selector: PolicyKind,
    pub inverse: PolicyKind,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            proposer: PolicyKind::Rule,
            executor: PolicyKind::Rule,
            selector: PolicyKind::Rule,
            inverse: PolicyKind::Rule,
        }
    }
}

impl PolicyConfig {
    pub fn uses_llm(&self) -> bool {
        [self.proposer, self.executor, self.selector, self.inverse].contains(&PolicyKind::Llm)
    }
}

/// How structured outputs are requested from a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredMode {
    /// `response_format: {type: json_schema, strict: true}`.
    JsonSchema,
    /// One forced tool whose parameters are the schema.
    ToolCall,
    /// The schema in the prompt; the reply is parsed, validated and retried.
    Prompt,
}

/// Which backend serves a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// Any OpenAI-compatible endpoint.
    Openai,
    /// The local burn engine on a GGUF file or HF directory.
    Local,
}

/// `[llm]` and `[llm.<role>]`: every field optional so a role table overrides only what it sets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmSettings {
    pub backend: Option<Backend>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    /// The environment variable holding the API key (the key itself never goes in a config).
    pub api_key_env: Option<String>,
    /// For the local backend: a GGUF file or exported directory (default: the SmolLM2 file).
    pub model_path: Option<PathBuf>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    pub structured_output: Option<StructuredMode>,
    /// Extra attempts when a reply is malformed or breaks the schema.
    pub format_retries: Option<u32>,
    pub input_usd_per_million: Option<f64>,
    pub output_usd_per_million: Option<f64>,
    pub concurrency: Option<usize>,
    pub requests_per_minute: Option<u32>,
    pub max_retries: Option<u32>,
    pub timeout_s: Option<f64>,
}

impl LlmSettings {
    /// `self` with unset fields taken from `base`.
    pub fn over(&self, base: &LlmSettings) -> LlmSettings {
        macro_rules! pick {
            ($($f:ident),*) => { LlmSettings { $($f: self.$f.clone().or_else(|| base.$f.clone())),* } };
        }
        pick!(
            backend,
            base_url,
            model,
            api_key_env,
            model_path,
            temperature,
            max_tokens,
            structured_output,
            format_retries,
            input_usd_per_million,
            output_usd_per_million,
            concurrency,
            requests_per_minute,
            max_retries,
            timeout_s
        )
    }
}

/// `[llm]` with optional per-role tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmConfig {
    #[serde(flatten)]
    pub default: LlmSettings,
    #[serde(default)]
    pub proposer: Option<LlmSettings>,
    #[serde(default)]
    pub executor: Option<LlmSettings>,
    #[serde(default)]
    pub selector: Option<LlmSettings>,
    #[serde(default)]
    pub inverse: Option<LlmSettings>,
    /// The DFS baseline's query writer, solver and judge (left out of the
    /// serialised config when unset, so older run hashes stay valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_writer: Option<LlmSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solver: Option<LlmSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<LlmSettings>,
}

/// A role that may ask an LLM, as `[llm.<role>]` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Proposer,
    Executor,
    Selector,
    Inverse,
    QueryWriter,
    Solver,
    Judge,
}

impl Role {
    /// The roles of the answer-first loop.
    pub const TOOLGRAD: [Role; 4] = [
        Role::Proposer,
        Role::Executor,
        Role::Selector,
        Role::Inverse,
    ];
    /// The roles of the query-first DFS baseline.
    pub const DFS: [Role; 3] = [Role::QueryWriter, Role::Solver, Role::Judge];

    /// The name of the role's `[llm.<name>]` table.
    pub fn name(self) -> &'static str {
        match self {
            Role::Proposer => "proposer",
            Role::Executor => "executor",
            Role::Selector => "selector",
            Role::Inverse => "inverse",
            Role::QueryWriter => "query_writer",
            Role::Solver => "solver",
            Role::Judge => "judge",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl LlmConfig {
    /// The role's settings: its own table over the `[llm]` defaults.
    pub fn for_role(&self, role: Role) -> LlmSettings {
        let table = match role {
            Role::Proposer => &self.proposer,
            Role::Executor => &self.executor,
            Role::Selector => &self.selector,
            Role::Inverse => &self.inverse,
            Role::QueryWriter => &self.query_writer,
            Role::Solver => &self.solver,
            Role::Judge => &self.judge,
        };
        table
            .as_ref()
            .map_or_else(|| self.default.clone(), |t| t.over(&self.default))
    }
}

/// `[[tools]]`: one tool source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ToolSourceConfig {
    /// The built-in library, optionally only some domains.
    Builtin {
        #[serde(default)]
        domains: Option<Vec<String>>,
    },
    /// An MCP server started as a child process, spoken to over stdio.
    Mcp {
        name: String,
        command: String,
        #[serde(default)]
        args: Vec<String>,
        #[serde(default)]
        env: BTreeMap<String, String>,
        /// Only these tools (default: all the server lists).
        #[serde(default)]
        allow: Option<Vec<String>>,
        /// Whether the same call always returns the same text (for `verify`).
        #[serde(default)]
        deterministic: bool,
    },
    /// A ToolBench `tools/` catalog, called over HTTP with `TOOLBENCH_KEY`.
    Toolbench {
        catalog: PathBuf,
        #[serde(default = "default_toolbench_endpoint")]
        endpoint: String,
        #[serde(default = "default_toolbench_key_env")]
        key_env: String,
    },
}

fn default_toolbench_endpoint() -> String {
    "http://8.130.32.149:8080/rapidapi".into()
}

fn default_toolbench_key_env() -> String {
    "TOOLBENCH_KEY".into()
}

/// `[limits]`: applied to every tool call.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub tool_timeout_s: f64,
    pub max_output_chars: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            tool_timeout_s: 10.0,
            max_output_chars: 4096,
        }
    }
}

/// Whether LLM replies are recorded, replayed, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheMode {
    /// Replay hits, call and record misses.
    #[default]
    Record,
    /// Replay only; a miss is an error (no LLM is contacted).
    Replay,
    Off,
}

/// `[cache]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    pub mode: CacheMode,
    /// Default: `<out>/cache`.
    pub dir: Option<PathBuf>,
}

/// A whole run config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateConfig {
    /// `toolgrad` (default) or `dfs`; left out of the serialised config when
    /// default, so the hashes of older runs stay valid.
    #[serde(default, skip_serializing_if = "Method::is_toolgrad")]
    pub method: Method,
    #[serde(default = "one")]
    pub seed_start: u64,
    pub num_seeds: u64,
    #[serde(default = "LoopConfig::default_num_apis")]
    pub num_apis: usize,
    #[serde(default = "LoopConfig::default_num_proposals")]
    pub num_proposals: usize,
    #[serde(default = "LoopConfig::default_max_iter")]
    pub max_iter: u64,
    #[serde(default)]
    pub gradient_memory: usize,
    /// Seeds generated at the same time.
    #[serde(default = "eight")]
    pub concurrency: usize,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub llm: LlmConfig,
    #[serde(default = "builtin_only")]
    pub tools: Vec<ToolSourceConfig>,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub cache: CacheConfig,
    #[serde(default)]
    pub validator: ValidatorConfig,
    /// `[dfs]`; unset means the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dfs: Option<DfsConfig>,
}

fn one() -> u64 {
    1
}

fn eight() -> usize {
    8
}

fn builtin_only() -> Vec<ToolSourceConfig> {
    vec![ToolSourceConfig::Builtin { domains: None }]
}

impl LoopConfig {
    fn default_num_apis() -> usize {
        Self::default().num_apis
    }
    fn default_num_proposals() -> usize {
        Self::default().num_proposals
    }
    fn default_max_iter() -> u64 {
        Self::default().max_iter
    }
}

impl GenerateConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| GenerateError::io(path, e))?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let config: Self =
            toml::from_str(text).map_err(|e| GenerateError::config(path, e.to_string()))?;
        config.check(path)?;
        Ok(config)
    }

    /// Checks the settings together; [`GenerateConfig::parse`] calls it, and
    /// so must a caller that changes fields afterwards (`--method`).
    pub fn check(&self, path: &Path) -> Result<()> {
        let fail = |m: &str| Err(GenerateError::config(path, m));
        if self.num_seeds == 0 {
            return fail("`num_seeds` must be at least 1");
        }
        if self.num_apis == 0 || self.num_proposals == 0 || self.max_iter == 0 {
            return fail("`num_apis`, `num_proposals` and `max_iter` must be at least 1");
        }
        if self.concurrency == 0 {
            return fail("`concurrency` must be at least 1");
        }
        if self.tools.is_empty() {
            return fail("`tools` lists no tool source");
        }
        let positive_seconds = |s: f64| seconds::valid(s) && s > 0.0;
        if !positive_seconds(self.limits.tool_timeout_s) {
            return fail(
                "`limits.tool_timeout_s` must be a positive number of seconds (at most 1e9)",
            );
        }
        let policy = &self.policy;
        if [policy.proposer, policy.executor, policy.inverse].contains(&PolicyKind::Random) {
            return fail("`random` plays only the selector (`policy.selector = \"random\"`)");
        }
        let dfs = self.dfs_config();
        if self.method == Method::Dfs && (dfs.width == 0 || dfs.max_depth == 0) {
            return fail("`dfs.width` and `dfs.max_depth` must be at least 1");
        }
        if self.method == Method::Dfs && dfs.max_llm_calls == 0 {
            return fail("`dfs.max_llm_calls` must be at least 1");
        }
        for role in Role::TOOLGRAD.into_iter().chain(Role::DFS) {
            let settings = self.llm.for_role(role);
            if settings.timeout_s.is_some_and(|s| !positive_seconds(s)) {
                return Err(GenerateError::config(
                    path,
                    format!("`timeout_s` of role `{role}` must be a positive number of seconds (at most 1e9)"),
                ));
            }
            let is_llm = match (self.method, role) {
                (Method::Dfs, role) => Role::DFS.contains(&role),
                (Method::Toolgrad, Role::Proposer) => self.policy.proposer == PolicyKind::Llm,
                (Method::Toolgrad, Role::Executor) => self.policy.executor == PolicyKind::Llm,
                (Method::Toolgrad, Role::Selector) => self.policy.selector == PolicyKind::Llm,
                (Method::Toolgrad, Role::Inverse) => self.policy.inverse == PolicyKind::Llm,
                (Method::Toolgrad, _) => false,
            };
            let openai = settings.backend.unwrap_or(Backend::Openai) == Backend::Openai;
            if is_llm && openai && (settings.base_url.is_none() || settings.model.is_none()) {
                return Err(GenerateError::config(
                    path,
                    format!("role `{role}` uses an LLM: set `llm.base_url` and `llm.model` (or `[llm.{role}]`)"),
                ));
            }
        }
        Ok(())
    }

    pub fn loop_config(&self) -> LoopConfig {
        LoopConfig {
            num_apis: self.num_apis,
            num_proposals: self.num_proposals,
            max_iter: self.max_iter,
            gradient_memory: self.gradient_memory,
        }
    }

    pub fn dfs_config(&self) -> DfsConfig {
        self.dfs.unwrap_or_default()
    }

    /// Whether any LLM is asked (so replies are cached).
    pub fn uses_llm(&self) -> bool {
        self.method == Method::Dfs || self.policy.uses_llm()
    }

    pub fn seeds(&self) -> Vec<u64> {
        (self.seed_start..self.seed_start + self.num_seeds).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_paper_and_roles_override_the_default_llm() {
        let text = r#"
            num_seeds = 3
            [policy]
            proposer = "llm"
            executor = "rule"
            selector = "llm"
            inverse = "llm"
            [llm]
            base_url = "http://127.0.0.1:1/v1"
            model = "small"
            temperature = 1.0
            [llm.selector]
            model = "big"
        "#;
        let config = GenerateConfig::parse(text, Path::new("x.toml")).unwrap();
        assert_eq!(config.loop_config(), LoopConfig::default());
        assert_eq!(config.seeds(), vec![1, 2, 3]);
        let selector = config.llm.for_role(Role::Selector);
        assert_eq!(selector.model.as_deref(), Some("big"));
        assert_eq!(selector.temperature, Some(1.0));
        assert_eq!(
            config.llm.for_role(Role::Proposer).model.as_deref(),
            Some("small")
        );
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let err = GenerateConfig::parse("num_seeds = 0", Path::new("a.toml")).unwrap_err();
        assert!(err.to_string().contains("num_seeds"), "{err}");
        let err =
            GenerateConfig::parse("num_seeds = 1\nnum_apiz = 3", Path::new("a.toml")).unwrap_err();
        assert!(err.to_string().contains("num_apiz"), "{err}");
        let err = GenerateConfig::parse("num_seeds = 1\n[policy]\nproposer = \"llm\"\nexecutor = \"rule\"\nselector = \"rule\"\ninverse = \"rule\"", Path::new("a.toml")).unwrap_err();
        assert!(err.to_string().contains("llm.base_url"), "{err}");
    }

    #[test]
    fn the_dfs_method_has_its_own_table_roles_and_checks() {
        let llm = "[llm]\nbase_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\n";
        let text = format!("method = \"dfs\"\nnum_seeds = 2\n[dfs]\nwidth = 3\n{llm}[llm.judge]\nmodel = \"judge\"\n");
        let config = GenerateConfig::parse(&text, Path::new("d.toml")).unwrap();
        assert_eq!(config.method, Method::Dfs);
        assert!(config.uses_llm());
        let dfs = config.dfs_config();
        assert_eq!((dfs.width, dfs.max_depth, dfs.max_llm_calls), (3, 6, 60));
        assert_eq!(
            config.llm.for_role(Role::Judge).model.as_deref(),
            Some("judge")
        );
        assert_eq!(
            config.llm.for_role(Role::Solver).model.as_deref(),
            Some("m")
        );

        // The DFS roles need an endpoint; the ToolGrad policy table does not matter.
        let err = GenerateConfig::parse("method = \"dfs\"\nnum_seeds = 1\n", Path::new("d.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("query_writer") && err.contains("llm.base_url"),
            "{err}"
        );
        for (table, field) in [
            ("width = 0", "dfs.width"),
            ("max_llm_calls = 0", "dfs.max_llm_calls"),
        ] {
            let text = format!("method = \"dfs\"\nnum_seeds = 1\n[dfs]\n{table}\n{llm}");
            let err = GenerateConfig::parse(&text, Path::new("d.toml")).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
        let err = GenerateConfig::parse("method = \"bfs\"\nnum_seeds = 1\n", Path::new("d.toml"))
            .unwrap_err();
        assert!(err.to_string().contains("method"), "{err}");
        assert_eq!("dfs".parse::<Method>(), Ok(Method::Dfs));
        assert!("x"
            .parse::<Method>()
            .unwrap_err()
            .contains("`toolgrad` or `dfs`"));
    }

    #[test]
    fn a_toolgrad_config_serialises_without_the_new_fields() {
        // Older run directories hash these serialisations: new fields at their
        // defaults must not appear in them.
        let config = GenerateConfig::parse("num_seeds = 1", Path::new("t.toml")).unwrap();
        let value = serde_json::to_value(&config).unwrap();
        for key in ["method", "dfs"] {
            assert!(value.get(key).is_none(), "{key} in {value}");
        }
        for role in Role::DFS {
            assert!(
                value["llm"].get(role.name()).is_none(),
                "llm.{role} in {value}"
            );
        }
    }

    #[test]
    fn every_role_reads_the_table_of_its_name() {
        let roles: Vec<Role> = Role::TOOLGRAD.into_iter().chain(Role::DFS).collect();
        let tables: String = roles
            .iter()
            .map(|role| format!("[{role}]\nmodel = \"{role}\"\n"))
            .collect();
        let config: LlmConfig = toml::from_str(&format!("model = \"default\"\n{tables}")).unwrap();
        for role in roles {
            assert_eq!(config.for_role(role).model.as_deref(), Some(role.name()));
        }
    }

    #[test]
    fn infinite_or_odd_timeouts_are_refused_not_a_panic() {
        let tools = "[[tools]]\nkind = \"builtin\"\n";
        for (table, bad) in [
            ("[limits]\ntool_timeout_s", "inf"),
            ("[limits]\ntool_timeout_s", "nan"),
            ("[limits]\ntool_timeout_s", "1e20"),
            ("[llm]\nbackend = \"local\"\ntimeout_s", "inf"),
            ("[llm]\nbackend = \"local\"\ntimeout_s", "-1.0"),
        ] {
            let text = format!("num_seeds = 1\n{tools}{table} = {bad}\n");
            let err = GenerateConfig::parse(&text, Path::new("t.toml")).unwrap_err();
            assert!(err.to_string().contains("timeout_s"), "{bad}: {err}");
        }
    }
}
