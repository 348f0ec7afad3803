//! MCP over stdio with the official `rmcp` SDK, both ways:
//! [`McpSource`] uses any MCP server as a tool source (restarting it if it
//! dies), and [`serve_builtin`] exposes the built-in library as an MCP server.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RunningService, ServiceError};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ErrorData, RoleClient, RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::builtin::BuiltinSource;
use crate::{SourceError, ToolError, ToolSource, ToolSpec};

type Client = RunningService<RoleClient, ()>;

/// How to (re)start the server.
#[derive(Debug, Clone)]
struct Launch {
    command: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
}

impl Launch {
    async fn start(&self) -> Result<Client, String> {
        // A third-party server gets a clean environment: API keys in ours never
        // reach it. It gets the path, home and locale, and what the config names.
        let inherited = std::env::vars().filter(|(name, _)| inherit(name));
        let transport = TokioChildProcess::new(
            tokio::process::Command::new(&self.command).configure(|cmd| {
                cmd.env_clear()
                    .envs(inherited)
                    .args(&self.args)
                    .envs(&self.env);
            }),
        )
        .map_err(|e| format!("cannot start `{}`: {e}", self.command))?;
        ().serve(transport)
            .await
            .map_err(|e| format!("`{}` did not complete the MCP handshake: {e}", self.command))
    }
}

/// The variables of our environment an MCP server inherits.
fn inherit(name: &str) -> bool {
    matches!(
        name,
        "PATH" | "HOME" | "LANG" | "LANGUAGE" | "TZ" | "TMPDIR"
    ) || name.starts_with("LC_")
}

/// Why a call got no result.
enum Failure {
    /// The server could not be started, or its pipe is gone.
    Transport(String),
    /// The server answered with an error (or did not answer in protocol).
    Server(String),
}

/// The running server, and how many have been started.
#[derive(Default)]
struct Slot {
    client: Option<Client>,
    generation: u64,
}

impl Slot {
    /// Drops (and so kills) the server if it is still the one of `generation`.
    fn stop(&mut self, generation: u64) {
        if self.generation == generation {
            self.client = None;
        }
    }
}

/// Armed while a call is on the wire: if the call's future is dropped there
/// (a timeout), the server that took it is stopped.
struct HangGuard {
    slot: Arc<Mutex<Slot>>,
    generation: Option<u64>,
}

impl Drop for HangGuard {
    fn drop(&mut self) {
        let Some(generation) = self.generation else {
            return;
        };
        let slot = self.slot.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { slot.lock().await.stop(generation) });
        }
    }
}

/// A running MCP server used as a tool source.
pub struct McpSource {
    name: String,
    launch: Launch,
    client: Arc<Mutex<Slot>>,
    specs: Vec<ToolSpec>,
}

impl McpSource {
    /// Starts the server and lists its tools (only `allow`ed ones, if given).
    pub async fn connect(
        name: &str,
        command: &str,
        args: &[String],
        env: &BTreeMap<String, String>,
        allow: Option<&[String]>,
        deterministic: bool,
    ) -> Result<Self, SourceError> {
        let launch = Launch {
            command: command.to_owned(),
            args: args.to_vec(),
            env: env.clone(),
        };
        let failed = |message: String| SourceError::Mcp {
            server: name.to_owned(),
            message,
        };
        let client = launch.start().await.map_err(failed)?;
        let tools = client
            .list_all_tools()
            .await
            .map_err(|e| failed(format!("listing tools: {e}")))?;
        let source = format!("mcp:{name}");
        let specs: Vec<ToolSpec> = tools
            .into_iter()
            .filter(|t| allow.is_none_or(|a| a.iter().any(|n| n == t.name.as_ref())))
            .map(|tool| ToolSpec {
                name: tool.name.to_string(),
                description: tool.description.as_deref().unwrap_or_default().to_owned(),
                parameters: Value::Object((*tool.input_schema).clone()),
                source: source.clone(),
                family: source.clone(),
                deterministic,
                hints: None,
            })
            .collect();
        if let Some(missing) =
            allow.and_then(|a| a.iter().find(|n| !specs.iter().any(|s| &s.name == *n)))
        {
            return Err(failed(format!("it has no tool `{missing}`")));
        }
        Ok(Self {
            name: source,
            launch,
            client: Arc::new(Mutex::new(Slot {
                client: Some(client),
                generation: 1,
            })),
            specs,
        })
    }

    /// One call on the running server (started first if there is none), with
    /// the generation of the server that took it.
    async fn call_once(
        &self,
        tool: &str,
        args: &Value,
        guard: &mut HangGuard,
    ) -> (u64, Result<CallToolResult, Failure>) {
        let mut slot = self.client.lock().await;
        if slot.client.is_none() {
            match self.launch.start().await {
                Ok(client) => {
                    slot.client = Some(client);
                    slot.generation += 1;
                }
                Err(message) => return (slot.generation, Err(Failure::Transport(message))),
            }
        }
        let generation = slot.generation;
        let Some(client) = slot.client.as_ref() else {
            return (generation, Err(Failure::Transport("no server".into())));
        };
        let mut params = CallToolRequestParams::new(tool.to_owned());
        if let Value::Object(map) = args {
            params = params.with_arguments(map.clone());
        }
        let peer = client.peer().clone();
        drop(slot);
        guard.generation = Some(generation);
        let result = peer.call_tool(params).await.map_err(|e| match e {
            ServiceError::TransportSend(_) | ServiceError::TransportClosed => {
                Failure::Transport(e.to_string())
            }
            other => Failure::Server(other.to_string()),
        });
        (generation, result)
    }

    /// Calls the tool. Only when the transport died is the server restarted
    /// and the call tried once more; an error the server answers is the call's.
    /// A call abandoned midway (the tool box's timeout) kills the server, which
    /// may hang, and the next call starts a new one.
    async fn call_with_restart(&self, tool: &str, args: &Value) -> Result<String, ToolError> {
        let mut guard = HangGuard {
            slot: self.client.clone(),
            generation: None,
        };
        let (generation, first) = self.call_once(tool, args, &mut guard).await;
        let outcome = match first {
            Err(Failure::Transport(_)) => {
                self.client.lock().await.stop(generation);
                self.call_once(tool, args, &mut guard).await.1
            }
            other => other,
        };
        guard.generation = None;
        let result = outcome.map_err(|failure| match failure {
            Failure::Transport(message) => ToolError::Unavailable {
                source_name: self.name.clone(),
                message,
            },
            Failure::Server(message) => ToolError::Failed {
                tool: tool.to_owned(),
                message,
            },
        })?;
        let text = render(&result);
        if result.is_error == Some(true) {
            return Err(ToolError::Failed {
                tool: tool.to_owned(),
                message: text,
            });
        }
        Ok(text)
    }
}

/// The text blocks of a result, or its structured content when it has no text.
fn render(result: &CallToolResult) -> String {
    let texts: Vec<&str> = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|t| t.text.as_str()))
        .collect();
    if texts.is_empty() {
        result
            .structured_content
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default()
    } else {
        texts.join("\n")
    }
}

impl ToolSource for McpSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn tools(&self) -> &[ToolSpec] {
        &self.specs
    }

    fn call<'a>(
        &'a self,
        tool: &'a str,
        args: &'a Value,
    ) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(self.call_with_restart(tool, args))
    }
}

/// The built-in library as an MCP server.
#[derive(Clone)]
pub struct BuiltinServer {
    source: Arc<BuiltinSource>,
}

impl BuiltinServer {
    pub fn new(source: Arc<BuiltinSource>) -> Self {
        Self { source }
    }
}

impl ServerHandler for BuiltinServer {
    fn get_info(&self) -> ServerConfig {
        // Our own name and version, not the SDK's (`rmcp`).
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_server_info(
            Implementation::new("toolgrad", env!("CARGO_PKG_VERSION"))
                .with_title("toolgrad built-in tool library"),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self
            .source
            .tools()
            .iter()
            .map(|spec| {
                let schema = spec.parameters.as_object().cloned().unwrap_or_default();
                Tool::new(spec.name.clone(), spec.description.clone(), schema)
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = Value::Object(request.arguments.unwrap_or_default());
        let result = match self.source.run(&request.name, &args) {
            Ok(observation) => CallToolResult::success(vec![ContentBlock::text(observation)]),
            Err(error) => CallToolResult::error(vec![ContentBlock::text(error.to_string())]),
        };
        Ok(result.into())
    }
}

/// Serves the built-in library over stdin/stdout until the client hangs up.
pub async fn serve_builtin(source: Arc<BuiltinSource>) -> Result<(), SourceError> {
    let failed = |message: String| SourceError::Mcp {
        server: "toolgrad (stdio)".into(),
        message,
    };
    let service = BuiltinServer::new(source)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| failed(format!("handshake: {e}")))?;
    service.waiting().await.map_err(|e| failed(e.to_string()))?;
    Ok(())
}
