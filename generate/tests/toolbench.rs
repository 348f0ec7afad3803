//! The ToolBench catalog source: layout and schema conversion from fixtures,
//! calls against a mock ToolBench server on 127.0.0.1, and the response cache.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use toolgrad_generate::engine::LoopConfig;
use toolgrad_testkit::scripted::ScriptedLlm;
use toolgrad_tools::toolbench::ToolbenchSource;
use toolgrad_tools::{CallLimits, ToolBox, ToolError, ToolSource};

mod common;

fn catalog() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/toolbench/tools"
    ))
}

#[test]
fn catalog_parameters_become_real_json_schema() {
    let cache = tempfile::tempdir().unwrap();
    let source =
        ToolbenchSource::load(catalog(), "http://127.0.0.1:9/rapidapi", None, cache.path())
            .unwrap();
    let names: Vec<&str> = source.tools().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Finance-get_12data-atr",
            "Weather-open_weather_13-current_weather_by_city"
        ]
    );
    let atr = &source.tools()[0].parameters;
    assert_eq!(
        atr["required"],
        json!(["symbol", "interval"]),
        "optional parameters stay optional"
    );
    assert_eq!(
        atr["properties"]["time_period"],
        json!({"type": "number", "description": "Periods", "default": 14})
    );
    assert_eq!(atr["properties"]["adjusted"]["type"], "boolean");
    assert_eq!(atr["properties"]["start"]["type"], "string");
    let weather = &source.tools()[1].parameters;
    // A default that does not fit its type is dropped.
    assert!(weather["properties"]["days"].get("default").is_none());
    assert!(source.tools()[1]
        .description
        .starts_with("This is an api, Current Weather (by city), from tool"));
}

#[test]
fn a_broken_catalog_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("Data")).unwrap();
    std::fs::write(dir.path().join("Data/bad.json"), "{\"api_list\": 3}").unwrap();
    let error = ToolbenchSource::load(dir.path(), "http://x", None, dir.path())
        .err()
        .unwrap();
    assert!(error.to_string().contains("Data/bad.json"), "{error}");
}

#[tokio::test]
async fn calls_go_to_the_server_with_the_key_and_are_cached() {
    let hits = Arc::new(AtomicU64::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/rapidapi",
        post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                let key_ok = headers.get("toolbench_key").and_then(|v| v.to_str().ok()) == Some("tb-key");
                if !key_ok {
                    return Json(json!({"error": "Unauthorized", "response": ""}));
                }
                Json(json!({
                    "error": "",
                    "response": format!("{} in {}: 14 C", body["api_name"].as_str().unwrap(), body["tool_input"]["city"].as_str().unwrap()),
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/rapidapi", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let cache = tempfile::tempdir().unwrap();
    let tool = "Weather-open_weather_13-current_weather_by_city";
    let args = json!({"city": "Oslo"});
    let source =
        ToolbenchSource::load(catalog(), &endpoint, Some("tb-key".into()), cache.path()).unwrap();
    let observation = source.call(tool, &args).await.unwrap();
    assert_eq!(
        observation,
        r#"{"error":"","response":"current_weather_by_city in Oslo: 14 C"}"#
    );

    // Without a key, a cached call still answers; an uncached one cannot.
    let keyless = ToolbenchSource::load(catalog(), &endpoint, None, cache.path()).unwrap();
    assert_eq!(keyless.call(tool, &args).await.unwrap(), observation);
    assert_eq!(hits.load(Ordering::Relaxed), 1);
    let error = keyless
        .call(tool, &json!({"city": "Rome"}))
        .await
        .unwrap_err();
    assert!(matches!(error, ToolError::Unavailable { .. }), "{error}");

    // A wrong key reaches the server, whose error the validator rejects.
    let other_cache = tempfile::tempdir().unwrap();
    let wrong = ToolbenchSource::load(
        catalog(),
        &endpoint,
        Some("nope".into()),
        other_cache.path(),
    )
    .unwrap();
    let observation = wrong.call(tool, &json!({"city": "Lima"})).await.unwrap();
    let validator = toolgrad_generate::validate::Validator::new(Default::default());
    assert!(validator.check(&observation).is_some(), "{observation}");
}

/// A mock ToolBench server that answers every call in ToolBench's shape.
async fn answering_server() -> String {
    let app = Router::new().route(
        "/rapidapi",
        post(|Json(body): Json<Value>| async move {
            Json(json!({
                "error": "",
                "response": format!("{} for {}: 14 C", body["api_name"], body["tool_input"]),
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/rapidapi", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    endpoint
}

#[tokio::test]
async fn the_loop_accepts_toolbench_observations_with_the_default_validator() {
    let endpoint = answering_server().await;
    let cache = tempfile::tempdir().unwrap();
    let source: Arc<dyn ToolSource> = Arc::new(
        ToolbenchSource::load(catalog(), &endpoint, Some("tb-key".into()), cache.path()).unwrap(),
    );
    let config = LoopConfig {
        num_apis: 2,
        num_proposals: 2,
        max_iter: 2,
        gradient_memory: 0,
    };
    let mut engine = common::llm_engine(
        common::role_llm(Arc::new(ScriptedLlm::default()), None),
        config,
    );
    engine.toolbox = Arc::new(ToolBox::new(vec![source], CallLimits::default()).unwrap());
    let mut accepted = 0;
    for seed in 1..=4 {
        let outcome = engine.run_seed(seed).await;
        if let Some(workflow) = outcome.workflow {
            accepted += 1;
            for step in workflow.steps() {
                assert!(step.observation().starts_with(r#"{"error":"","response":"#));
            }
        }
    }
    assert!(accepted >= 1, "no ToolBench sample was accepted");
}

#[tokio::test]
async fn failed_toolbench_calls_are_not_cached() {
    let hits = Arc::new(AtomicU64::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/rapidapi",
        post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                Json(json!({"error": "Rate limit", "response": ""}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/rapidapi", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let cache = tempfile::tempdir().unwrap();
    let source =
        ToolbenchSource::load(catalog(), &endpoint, Some("k".into()), cache.path()).unwrap();
    assert!(
        !source.sends_key_in_clear(),
        "loopback is not sent anywhere"
    );
    let tool = "Weather-open_weather_13-current_weather_by_city";
    for _ in 0..2 {
        source.call(tool, &json!({"city": "Oslo"})).await.unwrap();
    }
    assert_eq!(
        hits.load(Ordering::Relaxed),
        2,
        "the failure was replayed from the cache"
    );
    let remote = ToolbenchSource::load(
        catalog(),
        "http://8.130.32.149:8080/rapidapi",
        None,
        cache.path(),
    )
    .unwrap();
    assert!(remote.sends_key_in_clear());
}
