//! ToolBench / RapidAPI tools: the `tools/<Category>/<tool>.json` catalog
//! layout, its parameters converted to real JSON-schema types (optional ones
//! stay optional, defaults kept), and calls over HTTP with `TOOLBENCH_KEY`
//! through an append-only response cache so runs can be replayed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use toolgrad_core::text::truncate_chars;

use crate::{SourceError, ToolError, ToolSource, ToolSpec};
use toolgrad_core::jsonl::{JsonlStore, Keyed};

pub const SOURCE: &str = "toolbench";

/// The reference's name standardisation.
pub fn standardize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let keep = c.is_alphanumeric() || c == '_';
        let c = if keep {
            c.to_lowercase().next().unwrap_or(c)
        } else {
            '_'
        };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_matches('_').to_owned();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("get_{out}")
    } else {
        out
    }
}

#[derive(Debug, Deserialize)]
struct ToolFile {
    #[serde(default)]
    tool_description: Option<String>,
    #[serde(default)]
    api_list: Vec<ApiEntry>,
}

#[derive(Debug, Deserialize)]
struct ApiEntry {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    required_parameters: Vec<ParamEntry>,
    #[serde(default)]
    optional_parameters: Vec<ParamEntry>,
}

#[derive(Debug, Deserialize)]
struct ParamEntry {
    name: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    default: Option<Value>,
}

/// A ToolBench parameter type as a JSON-schema fragment.
fn param_schema(param: &ParamEntry) -> Value {
    let kind = param.kind.trim().to_ascii_uppercase();
    let mut description = param.description.clone().unwrap_or_default();
    let mut schema = match kind.as_str() {
        "STRING" | "CREDENTIALS" | "SELECT" | "ENUM" => json!({"type": "string"}),
        "NUMBER" => json!({"type": "number"}),
        "INTEGER" | "INT" => json!({"type": "integer"}),
        "FLOAT" | "DOUBLE" => json!({"type": "number"}),
        "BOOLEAN" | "BOOL" => json!({"type": "boolean"}),
        "ARRAY" | "LIST" => json!({"type": "array"}),
        "OBJECT" | "DICT" | "JSON" | "MAP" => json!({"type": "object"}),
        "DATE" | "DATEPICKER" => {
            description.push_str(" (a date, YYYY-MM-DD)");
            json!({"type": "string"})
        }
        "DATETIME" | "TIME" => {
            description.push_str(" (a date and time)");
            json!({"type": "string"})
        }
        "GEOPOINT" => {
            description.push_str(" (latitude,longitude)");
            json!({"type": "string"})
        }
        "FILE" | "BINARY" => json!({}),
        _ => json!({"type": "string"}),
    };
    schema["description"] = json!(description.trim());
    if let Some(default) = param
        .default
        .as_ref()
        .filter(|d| !d.is_null() && d != &&json!(""))
    {
        let fits = jsonschema::is_valid(&schema, default);
        if fits {
            schema["default"] = default.clone();
        }
    }
    schema
}

/// Where a catalog API is called.
#[derive(Debug, Clone)]
struct Route {
    category: String,
    tool_name: String,
    api_name: String,
}

/// A cached reply of the ToolBench server.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedObservation {
    key: String,
    observation: String,
}

impl Keyed for CachedObservation {
    fn key(&self) -> &str {
        &self.key
    }
}

/// The ToolBench catalog as a tool source.
pub struct ToolbenchSource {
    specs: Vec<ToolSpec>,
    routes: HashMap<String, Route>,
    endpoint: String,
    key: Option<String>,
    http: reqwest::Client,
    cache: JsonlStore<CachedObservation>,
}

impl ToolbenchSource {
    /// Reads every `<catalog>/<Category>/<tool>.json`; errors name the file.
    pub fn load(
        catalog: &Path,
        endpoint: &str,
        key: Option<String>,
        cache_dir: &Path,
    ) -> Result<Self, SourceError> {
        let mut specs = Vec::new();
        let mut routes = HashMap::new();
        let read_dir = |dir: &Path| -> Result<Vec<PathBuf>, SourceError> {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| SourceError::file(dir, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            Ok(entries)
        };
        for category_dir in read_dir(catalog)?.into_iter().filter(|p| p.is_dir()) {
            let category = category_dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            for file in read_dir(&category_dir)?
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
            {
                let text =
                    std::fs::read_to_string(&file).map_err(|e| SourceError::file(&file, e))?;
                let tool: ToolFile = serde_json::from_str(&text).map_err(|e| {
                    SourceError::file(&file, format!("not a ToolBench tool file: {e}"))
                })?;
                let tool_name =
                    standardize(&file.file_stem().unwrap_or_default().to_string_lossy());
                for api in &tool.api_list {
                    let api_name = standardize(&api.name);
                    let name = format!("{category}-{tool_name}-{api_name}");
                    let mut properties = Map::new();
                    for p in api
                        .required_parameters
                        .iter()
                        .chain(&api.optional_parameters)
                    {
                        properties.insert(p.name.clone(), param_schema(p));
                    }
                    let required: Vec<&str> = api
                        .required_parameters
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect();
                    let mut description = format!(
                        "This is an api, {}, from tool, {tool_name}, in category, {category}. {} {}",
                        api.name,
                        api.description.as_deref().unwrap_or_default(),
                        tool.tool_description.as_deref().unwrap_or_default()
                    );
                    truncate_chars(&mut description, 1024);
                    specs.push(ToolSpec {
                        name: name.clone(),
                        description: description.trim().to_owned(),
                        parameters: json!({"type": "object", "properties": properties, "required": required}),
                        source: SOURCE.to_owned(),
                        family: format!("{category}-{tool_name}"),
                        deterministic: false,
                        hints: None,
                    });
                    routes.insert(
                        name,
                        Route {
                            category: category.clone(),
                            tool_name: tool_name.clone(),
                            api_name,
                        },
                    );
                }
            }
        }
        if specs.is_empty() {
            return Err(SourceError::file(
                catalog,
                "no ToolBench APIs found (expected <Category>/<tool>.json files)",
            ));
        }
        let cache = JsonlStore::open(&cache_dir.join("responses.jsonl"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SourceError::Http(e.to_string()))?;
        Ok(Self {
            specs,
            routes,
            endpoint: endpoint.to_owned(),
            key,
            http,
            cache,
        })
    }

    /// SHA-256 of the tool and its arguments as canonical JSON (keys sorted at
    /// every level), so that the same call in another key order is a hit.
    fn cache_key(tool: &str, args: &Value) -> String {
        let digest = Sha256::digest(format!("{tool}\n{}", canonical(args)).as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether the endpoint sends the key unencrypted to a remote host (the
    /// reference's default does).
    pub fn sends_key_in_clear(&self) -> bool {
        let rest = self.endpoint.strip_prefix("http://");
        rest.is_some_and(|host| !(host.starts_with("127.0.0.1") || host.starts_with("localhost")))
    }

    async fn fetch(&self, tool: &str, args: &Value) -> Result<String, ToolError> {
        let key = Self::cache_key(tool, args);
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit.observation);
        }
        let route = self
            .routes
            .get(tool)
            .ok_or_else(|| ToolError::UnknownTool(tool.to_owned()))?;
        let unavailable = |message: String| ToolError::Unavailable {
            source_name: SOURCE.into(),
            message,
        };
        let secret = self.key.as_ref().ok_or_else(|| {
            unavailable("TOOLBENCH_KEY is not set and the call is not cached".into())
        })?;
        let body = json!({
            "category": route.category,
            "tool_name": route.tool_name,
            "api_name": route.api_name,
            "tool_input": args,
            "strip": "",
            "toolbench_key": secret,
        });
        let response = self
            .http
            .post(&self.endpoint)
            .header("toolbench_key", secret)
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                unavailable(if e.is_timeout() {
                    "timed out".into()
                } else {
                    e.without_url().to_string()
                })
            })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        if !status.is_success() {
            return Err(ToolError::Failed {
                tool: tool.to_owned(),
                message: format!("HTTP {status}"),
            });
        }
        let reply: Value = serde_json::from_str(&text).map_err(|_| ToolError::Failed {
            tool: tool.to_owned(),
            message: "the server's reply is not JSON".into(),
        })?;
        let observation = json!({
            "error": reply.get("error").cloned().unwrap_or(json!("")),
            "response": reply.get("response").cloned().unwrap_or(json!("")),
        })
        .to_string();
        // A failed call is not kept: the next run asks again.
        let failed = reply
            .get("error")
            .is_some_and(|e| !e.is_null() && e.as_str().is_none_or(|s| !s.trim().is_empty()));
        if !failed {
            let record = CachedObservation {
                key,
                observation: observation.clone(),
            };
            self.cache
                .put(record)
                .map_err(|e| unavailable(e.to_string()))?;
        }
        Ok(observation)
    }
}

/// JSON with the keys of every object sorted.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

impl ToolSource for ToolbenchSource {
    fn name(&self) -> &str {
        SOURCE
    }

    fn tools(&self) -> &[ToolSpec] {
        &self.specs
    }

    fn call<'a>(
        &'a self,
        tool: &'a str,
        args: &'a Value,
    ) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(self.fetch(tool, args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys_ignore_key_order() {
        let a = json!({"symbol": "AAPL", "opts": {"x": 1, "y": [1, {"b": 2, "a": 1}]}});
        let b = json!({"opts": {"y": [1, {"a": 1, "b": 2}], "x": 1}, "symbol": "AAPL"});
        assert_eq!(
            ToolbenchSource::cache_key("t", &a),
            ToolbenchSource::cache_key("t", &b)
        );
        assert_ne!(
            ToolbenchSource::cache_key("t", &a),
            ToolbenchSource::cache_key("u", &a)
        );
    }

    #[test]
    fn names_are_standardised_like_the_reference() {
        assert_eq!(standardize("Twelve Data"), "twelve_data");
        assert_eq!(standardize("  ATR--indicator!! "), "atr_indicator");
        assert_eq!(standardize("3d-models"), "get_3d_models");
    }

    #[test]
    fn types_become_json_schema_and_defaults_must_fit() {
        let p = |kind: &str, default: Option<Value>| ParamEntry {
            name: "x".into(),
            kind: kind.into(),
            description: Some("d".into()),
            default,
        };
        assert_eq!(
            param_schema(&p("NUMBER", Some(json!(5))))["default"],
            json!(5)
        );
        assert_eq!(param_schema(&p("BOOLEAN", None))["type"], "boolean");
        assert!(param_schema(&p("NUMBER", Some(json!("five"))))
            .get("default")
            .is_none());
        assert_eq!(param_schema(&p("whatever", None))["type"], "string");
        assert!(param_schema(&p("DATE", None))["description"]
            .as_str()
            .unwrap()
            .contains("YYYY"));
    }
}
