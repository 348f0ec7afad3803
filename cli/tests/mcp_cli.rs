//! MCP both ways: toolgrad's own MCP server (`toolgrad tools mcp`) used
//! through the rmcp client source, restarted after it is killed, and the npm
//! reference servers (filesystem, memory) that `scripts/setup.sh` installs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use toolgrad_tools::builtin::BuiltinSource;
use toolgrad_tools::mcp::McpSource;
use toolgrad_tools::{CallLimits, ToolBox, ToolError, ToolSource};

const TOOLGRAD: &str = env!("CARGO_BIN_EXE_toolgrad");

fn npm_server(name: &str) -> String {
    let path: PathBuf = toolgrad_core::paths::cache_dir()
        .join("npm/node_modules/.bin")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup.sh",
        path.display()
    );
    path.display().to_string()
}

#[tokio::test]
async fn the_builtin_library_served_over_mcp_answers_like_the_library() {
    let args = vec!["tools".to_string(), "mcp".to_string()];
    let mcp = McpSource::connect("toolgrad", TOOLGRAD, &args, &BTreeMap::new(), None, true)
        .await
        .unwrap();
    let local = BuiltinSource::new(None).unwrap();
    assert_eq!(mcp.tools().len(), local.tools().len());
    assert_eq!(mcp.tools()[0].parameters, local.tools()[0].parameters);
    let call = json!({"city_a": "Lisbon", "city_b": "Rome"});
    let remote = mcp.call("distance_between_cities", &call).await.unwrap();
    assert_eq!(remote, local.run("distance_between_cities", &call).unwrap());
    let error = mcp
        .call("city_info", &json!({"city": "Atlantis"}))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("Atlantis"), "{error}");
}

#[tokio::test]
async fn a_dead_mcp_server_is_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let script = format!(
        "echo $$ > {}; exec {TOOLGRAD} tools mcp",
        pid_file.display()
    );
    let args = vec!["-c".to_string(), script];
    let mcp = McpSource::connect("restartable", "bash", &args, &BTreeMap::new(), None, true)
        .await
        .unwrap();
    let call = json!({"date": "2026-06-21"});
    let first = mcp.call("day_of_week", &call).await.unwrap();
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-9", pid.trim()])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(mcp.call("day_of_week", &call).await.unwrap(), first);
    let new_pid = std::fs::read_to_string(&pid_file).unwrap();
    assert_ne!(new_pid, pid, "a new server process answered");
}

#[tokio::test]
async fn reference_filesystem_server_through_the_toolbox() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("favorite_cities.txt"), "Kyoto\nPorto\n").unwrap();
    let root_path = root.path().display().to_string();
    let allow = vec!["read_text_file".to_string(), "list_directory".to_string()];
    let mcp = McpSource::connect(
        "fs",
        &npm_server("mcp-server-filesystem"),
        std::slice::from_ref(&root_path),
        &BTreeMap::new(),
        Some(&allow),
        true,
    )
    .await
    .unwrap();
    assert_eq!(mcp.tools().len(), 2);
    let source: Arc<dyn ToolSource> = Arc::new(mcp);
    let toolbox = ToolBox::new(vec![source], CallLimits::default()).unwrap();
    let listing = toolbox
        .call("list_directory", &json!({"path": root_path}))
        .await
        .unwrap();
    assert!(listing.contains("favorite_cities.txt"), "{listing}");
    let file = format!("{root_path}/favorite_cities.txt");
    let text = toolbox
        .call("read_text_file", &json!({"path": file}))
        .await
        .unwrap();
    assert!(text.contains("Porto"), "{text}");
    // Schema-checked before it reaches the server.
    assert!(toolbox.call("read_text_file", &json!({})).await.is_err());
    assert_eq!(toolbox.spec("read_text_file").unwrap().source, "mcp:fs");
}

#[tokio::test]
async fn reference_memory_server_keeps_a_knowledge_graph() {
    let dir = tempfile::tempdir().unwrap();
    let env = BTreeMap::from([(
        "MEMORY_FILE_PATH".to_string(),
        dir.path().join("memory.jsonl").display().to_string(),
    )]);
    let mcp = McpSource::connect(
        "memory",
        &npm_server("mcp-server-memory"),
        &[],
        &env,
        None,
        false,
    )
    .await
    .unwrap();
    assert!(mcp.tools().iter().any(|t| t.name == "create_entities"));
    let entity = json!({"entities": [{"name": "Lisbon", "entityType": "city", "observations": ["capital of Portugal"]}]});
    mcp.call("create_entities", &entity).await.unwrap();
    let graph = mcp.call("read_graph", &json!({})).await.unwrap();
    assert!(graph.contains("capital of Portugal"), "{graph}");
}

#[tokio::test]
async fn an_mcp_server_gets_no_secret_from_our_environment() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("env.txt");
    // The variable stands for OPENAI_API_KEY, TOOLBENCH_KEY and the like.
    std::env::set_var("TOOLGRAD_TEST_SECRET_KEY", "sk-should-not-leak");
    let script = format!("env > \"$DUMP\"; exec {TOOLGRAD} tools mcp");
    let env = BTreeMap::from([("DUMP".to_string(), dump.display().to_string())]);
    let args = vec!["-c".to_string(), script];
    let mcp = McpSource::connect("env", "bash", &args, &env, None, true)
        .await
        .unwrap();
    assert!(!mcp.tools().is_empty());
    let seen = std::fs::read_to_string(&dump).unwrap();
    assert!(!seen.contains("sk-should-not-leak"), "{seen}");
    assert!(seen.lines().any(|l| l.starts_with("PATH=")), "{seen}");
    assert!(seen.lines().any(|l| l.starts_with("DUMP=")), "{seen}");
}

#[test]
fn the_builtin_mcp_server_introduces_itself_as_toolgrad() {
    use std::io::{BufRead, BufReader, Write};
    let mut child = std::process::Command::new(TOOLGRAD)
        .args(["tools", "mcp"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"}}});
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{initialize}").unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    let reply: serde_json::Value = serde_json::from_str(&line).unwrap();
    let info = &reply["result"]["serverInfo"];
    assert_eq!(info["name"], "toolgrad", "{reply}");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
}

/// A minimal MCP server in Python: `refuse` answers a JSON-RPC error, `hang`
/// never answers; every start appends the process id to `$STARTS`.
const FLAKY_SERVER: &str = r#"
import json, os, sys
with open(os.environ["STARTS"], "a") as f:
    f.write(f"{os.getpid()}\n")
for line in sys.stdin:
    msg = json.loads(line)
    method, mid = msg.get("method"), msg.get("id")
    if method == "initialize":
        result = {"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
                  "serverInfo": {"name": "flaky", "version": "0"}}
    elif method == "tools/list":
        result = {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in ("hang", "refuse")]}
    elif method == "tools/call" and msg["params"]["name"] == "refuse":
        print(json.dumps({"jsonrpc": "2.0", "id": mid, "error": {"code": -32000, "message": "refused"}}), flush=True)
        continue
    else:
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": mid, "result": result}), flush=True)
"#;

#[tokio::test]
async fn a_server_error_keeps_the_server_and_a_hung_server_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let starts = dir.path().join("starts.txt");
    let script = dir.path().join("flaky.py");
    std::fs::write(&script, FLAKY_SERVER).unwrap();
    let env = BTreeMap::from([("STARTS".to_string(), starts.display().to_string())]);
    let args = vec![script.display().to_string()];
    let mcp = McpSource::connect("flaky", "python3", &args, &env, None, true)
        .await
        .unwrap();
    let source: Arc<dyn ToolSource> = Arc::new(mcp);
    let limits = CallLimits {
        timeout: std::time::Duration::from_millis(400),
        ..CallLimits::default()
    };
    let toolbox = ToolBox::new(vec![source], limits).unwrap();
    let pids = || -> Vec<String> {
        std::fs::read_to_string(&starts)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    // An error the server answers is the call's: no restart, no retry.
    let error = toolbox.call("refuse", &json!({})).await.unwrap_err();
    assert!(matches!(error, ToolError::Failed { .. }), "{error}");
    assert_eq!(pids().len(), 1);
    // A hung call times out and the server is killed...
    let error = toolbox.call("hang", &json!({})).await.unwrap_err();
    assert!(matches!(error, ToolError::Timeout { .. }), "{error}");
    let first = pids()[0].clone();
    let started = std::time::Instant::now();
    while std::path::Path::new(&format!("/proc/{first}")).exists() {
        assert!(
            started.elapsed().as_secs() < 10,
            "the hung server still runs"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // ...and the next call gets a fresh one.
    let _ = toolbox.call("refuse", &json!({})).await;
    assert_eq!(pids().len(), 2);
}
