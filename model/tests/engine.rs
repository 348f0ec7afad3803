//! The engine end to end on a tiny random model that each test writes itself:
//! GGUF reading in every supported type, incremental decoding against the full
//! forward pass, the Q8 decode path, HF export and reload, generation options,
//! constrained output, and the errors bad files produce.

use std::path::{Path, PathBuf};

use burn::tensor::{Int, Tensor, TensorData};
use toolgrad_core::llm::ChatMessage;
use toolgrad_eval::decode::Decoded;
use toolgrad_model::chat_engine::ChatOptions;
use toolgrad_model::engine::{Engine, FinishReason, GenerateParams};
use toolgrad_model::quant::GgmlType;
use toolgrad_model::sampling::SamplingParams;
use toolgrad_model::synthetic::{write_synthetic_gguf, SyntheticSpec};
use toolgrad_model::weights::ExportDtype;

fn write(dir: &Path, name: &str, spec: SyntheticSpec) -> PathBuf {
    let path = dir.join(name);
    write_synthetic_gguf(&path, &spec).unwrap();
    path
}

fn tiny(dir: &Path) -> Engine {
    Engine::load(&write(dir, "tiny.gguf", SyntheticSpec::default())).unwrap()
}

/// The tiny model with its f32 weights kept.
fn tiny_dense(dir: &Path) -> Engine {
    Engine::load_dense(&write(dir, "tiny.gguf", SyntheticSpec::default())).unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn full_forward(engine: &Engine, ids: &[u32]) -> Vec<Vec<f32>> {
    let data: Vec<i64> = ids.iter().map(|&t| t as i64).collect();
    let tokens: Tensor<2, Int> =
        Tensor::from_data(TensorData::new(data, [1, ids.len()]), &engine.device);
    let logits = engine
        .model()
        .expect("a dense engine")
        .forward(tokens)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    logits
        .chunks(engine.config.vocab_size)
        .map(<[f32]>::to_vec)
        .collect()
}

#[test]
fn every_weight_type_loads_and_agrees_with_f32() {
    let dir = tempfile::tempdir().unwrap();
    let reference = Engine::load(&write(
        dir.path(),
        "f32.gguf",
        SyntheticSpec {
            kind: GgmlType::F32,
            ..Default::default()
        },
    ))
    .unwrap();
    let ids = reference.tokenizer.encode("the theater").unwrap();
    let expected = reference.next_logits(&ids).unwrap();
    for (kind, tolerance) in [
        (GgmlType::F16, 0.05),
        (GgmlType::Q8_0, 0.3),
        (GgmlType::Q4_1, 2.0),
        (GgmlType::Q4_0, 2.0),
    ] {
        let path = write(
            dir.path(),
            &format!("{kind:?}.gguf"),
            SyntheticSpec {
                kind,
                ..Default::default()
            },
        );
        let mut engine = Engine::load_dense(&path).unwrap();
        engine.use_f32_decoding().unwrap();
        let diff = max_diff(&engine.next_logits(&ids).unwrap(), &expected);
        assert!(diff < tolerance, "{kind:?}: max |diff| {diff}");
    }
}

#[test]
fn incremental_decoding_matches_the_full_forward_pass() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = tiny_dense(dir.path());
    engine.use_f32_decoding().unwrap();
    let ids = engine
        .tokenizer
        .encode("<|im_start|>user\nthe answer is 42<|im_end|>")
        .unwrap();
    let full = full_forward(&engine, &ids);
    // Every prefix, run from a fresh cache, ends with the full pass's logits at that position.
    for n in [1, 2, ids.len() / 2, ids.len()] {
        let step = engine.next_logits(&ids[..n]).unwrap();
        assert!(max_diff(&step, &full[n - 1]) < 1e-3, "prefix {n}");
    }
    // A greedy generation equals argmax over full passes of the growing sequence.
    let params = GenerateParams {
        max_tokens: 6,
        ignore_eos: true,
        ..Default::default()
    };
    let generation = engine.generate(&ids, &params, None, &mut |_| {}).unwrap();
    let mut seq = ids.clone();
    for _ in 0..6 {
        let last = full_forward(&engine, &seq).pop().unwrap();
        let best = (0..last.len())
            .max_by(|&a, &b| last[a].total_cmp(&last[b]))
            .unwrap();
        seq.push(best as u32);
    }
    assert_eq!(engine.tokenizer.decode(&seq[ids.len()..]), generation.text);
}

#[test]
fn quantised_decoding_stays_close_to_f32() {
    // Q4_1 weights are held exactly: only the activation is quantised.
    for (kind, bound) in [(GgmlType::Q8_0, 0.15), (GgmlType::Q4_1, 0.15)] {
        let dir = tempfile::tempdir().unwrap();
        let spec = SyntheticSpec {
            kind,
            ..SyntheticSpec::default()
        };
        let path = write(dir.path(), "tiny.gguf", spec);
        let engine = Engine::load(&path).unwrap();
        assert!(engine.is_packed(), "64-wide weights are packed");
        let ids = engine.tokenizer.encode("in the").unwrap();
        let packed = engine.next_logits(&ids[..1]).unwrap();
        let mut dense = Engine::load_dense(&path).unwrap();
        dense.use_f32_decoding().unwrap();
        let exact = dense.next_logits(&ids[..1]).unwrap();
        let diff = max_diff(&packed, &exact);
        assert!(diff < bound, "{kind:?}: {diff}");
    }
}

/// A Q8_0 or Q4_1 file loads lean: packed copies that give its weights back
/// exactly and nothing else. Its prefill (a layer at a time, each layer's
/// weights dequantised for the call) gives the dense engine's logits up to
/// the order of summation, across block boundaries and for one-token prompts.
#[test]
fn exact_quantised_files_load_lean_and_prefill_as_the_dense_engine_does() {
    let dir = tempfile::tempdir().unwrap();
    for kind in [GgmlType::Q8_0, GgmlType::Q4_1] {
        let spec = SyntheticSpec {
            kind,
            context: 1024,
            ..SyntheticSpec::default()
        };
        let path = write(dir.path(), &format!("{kind:?}.gguf"), spec);
        let mut lean = Engine::load(&path).unwrap();
        let dense = Engine::load_dense(&path).unwrap();
        assert!(lean.is_lean() && lean.model().is_none(), "{kind:?}");
        assert!(!dense.is_lean() && dense.is_packed(), "{kind:?}");
        for len in [1, 2, 127, 128, 129, 300] {
            let prompt = byte_prompt(len as u64, len);
            let (a, b) = (
                lean.next_logits(&prompt).unwrap(),
                dense.next_logits(&prompt).unwrap(),
            );
            let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
            let diff = max_diff(&a, &b);
            assert!(
                diff <= 1e-4 * scale.max(1.0),
                "{kind:?}, {len} tokens: {diff}"
            );
        }
        // What needs the f32 module says how to get it.
        let error = lean.use_f32_decoding().unwrap_err().to_string();
        assert!(error.contains("Engine::load_dense"), "{error}");
        let error = lean
            .export(&dir.path().join("out"), ExportDtype::F32)
            .unwrap_err()
            .to_string();
        assert!(error.contains("Engine::load_dense"), "{error}");
    }
    // Weights off every grid keep the f32 module.
    for kind in [GgmlType::F32, GgmlType::F16] {
        let spec = SyntheticSpec {
            kind,
            ..SyntheticSpec::default()
        };
        let engine = Engine::load(&write(dir.path(), &format!("{kind:?}.gguf"), spec)).unwrap();
        assert!(!engine.is_lean(), "{kind:?}");
    }
}

#[test]
fn hf_export_reloads_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = tiny_dense(dir.path());
    engine.use_f32_decoding().unwrap();
    let out = dir.path().join("hf");
    engine.export(&out, ExportDtype::F32).unwrap();
    for file in [
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let mut reloaded = Engine::load(&out).unwrap();
    reloaded.use_f32_decoding().unwrap();
    assert_eq!(reloaded.config, engine.config);
    let ids = engine
        .tokenizer
        .encode("<|im_start|>the rain in spain")
        .unwrap();
    assert_eq!(
        reloaded
            .tokenizer
            .encode("<|im_start|>the rain in spain")
            .unwrap(),
        ids
    );
    assert_eq!(reloaded.tokenizer.eos_id, engine.tokenizer.eos_id);
    assert_eq!(
        reloaded.next_logits(&ids).unwrap(),
        engine.next_logits(&ids).unwrap()
    );
    // bf16 export loads too, within bf16 rounding.
    let bf = dir.path().join("bf16");
    engine.export(&bf, ExportDtype::Bf16).unwrap();
    let mut half = Engine::load(&bf).unwrap();
    half.use_f32_decoding().unwrap();
    assert!(
        max_diff(
            &half.next_logits(&ids).unwrap(),
            &engine.next_logits(&ids).unwrap()
        ) < 0.5
    );
}

#[test]
fn tokenizer_round_trips_text_and_specials() {
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny(dir.path());
    let text = "<|im_start|>user\nthe 2 ünïcode \"keys\": 12<|im_end|>";
    let ids = engine.tokenizer.encode(text).unwrap();
    assert_eq!(ids[0], engine.tokenizer.token_id("<|im_start|>").unwrap());
    assert!(engine.tokenizer.is_special(ids[0]));
    assert_eq!(engine.tokenizer.decode(&ids), text);
    // Digits are split one by one (the smollm pre-tokenizer).
    let digits = engine.tokenizer.encode("12").unwrap();
    assert_eq!(digits.len(), 2);
}

#[test]
fn sampling_is_seeded_and_stop_sequences_cut() {
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny(dir.path());
    let ids = engine.tokenizer.encode("the").unwrap();
    let sampled = |seed| {
        let params = GenerateParams {
            sampling: SamplingParams {
                temperature: 1.0,
                top_p: 0.95,
                seed,
            },
            max_tokens: 12,
            ignore_eos: true,
            ..Default::default()
        };
        engine
            .generate(&ids, &params, None, &mut |_| {})
            .unwrap()
            .text
    };
    assert_eq!(sampled(3), sampled(3));
    assert_ne!(sampled(3), sampled(4));
    // Stop at a piece of the unconstrained greedy text: the text ends right before it.
    let free = GenerateParams {
        max_tokens: 12,
        ignore_eos: true,
        ..Default::default()
    };
    let text = engine
        .generate(&ids, &free, None, &mut |_| {})
        .unwrap()
        .text;
    let stop: String = text.chars().skip(3).take(2).collect();
    let params = GenerateParams {
        stop: vec![stop.clone()],
        ..free.clone()
    };
    let mut streamed = String::new();
    let cut = engine
        .generate(&ids, &params, None, &mut |t| streamed.push_str(t))
        .unwrap();
    assert_eq!(cut.finish, FinishReason::Stop);
    assert_eq!(cut.text, text[..text.find(&stop).unwrap()]);
    assert_eq!(streamed, cut.text);
}

#[test]
fn json_schema_output_always_parses() {
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny(dir.path());
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "unit": {"enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer"},
            "exact": {"type": "boolean"},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3},
            "note": {"type": ["null", "boolean"]}
        },
        "required": ["unit", "days", "exact"],
        "additionalProperties": false
    });
    let format =
        serde_json::json!({"type": "json_schema", "json_schema": {"name": "t", "schema": schema}});
    for seed in 0..4 {
        let options = ChatOptions {
            temperature: Some(1.0),
            seed: Some(seed),
            max_tokens: Some(200),
            ..Default::default()
        };
        let reply = engine
            .chat(
                &[ChatMessage::new("user", "weather?")],
                &[],
                Some(&format),
                &options,
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(
            reply.finish,
            FinishReason::Stop,
            "seed {seed}: {:?}",
            reply.content
        );
        let value: serde_json::Value =
            serde_json::from_str(reply.content.as_deref().unwrap()).unwrap();
        assert!(["celsius", "fahrenheit"].contains(&value["unit"].as_str().unwrap()));
        assert!(value["days"].is_number() && !value["days"].to_string().contains(['.', 'e']));
        assert!(value["exact"].is_boolean());
    }
}

#[test]
fn python_call_lists_decode_with_the_bfcl_decoder() {
    let dir = tempfile::tempdir().unwrap();
    let engine = tiny(dir.path());
    let functions = vec![
        serde_json::json!({"name": "set_unit", "parameters": {"type": "dict",
        "properties": {"unit": {"type": "string", "enum": ["C", "F"]}, "exact": {"type": "boolean"}},
        "required": ["unit"]}}),
    ];
    let format = serde_json::json!({"type": "python_calls", "functions": functions});
    let mut closed = 0;
    for seed in 0..6 {
        let options = ChatOptions {
            temperature: Some(0.8),
            seed: Some(seed),
            max_tokens: Some(120),
            ..Default::default()
        };
        let reply = engine
            .chat(
                &[ChatMessage::new("user", "unit?")],
                &[],
                Some(&format),
                &options,
                &mut |_| {},
            )
            .unwrap();
        if reply.finish != FinishReason::Stop {
            continue; // a list may still be growing when the budget ends
        }
        closed += 1;
        let text = reply.content.unwrap();
        let decoded = toolgrad_eval::decode::python::decode_prompt_reply(&text)
            .unwrap_or_else(|e| panic!("seed {seed}: {text:?} does not decode: {e}"));
        let Decoded::Calls(calls) = decoded else {
            panic!("{text:?}")
        };
        for call in calls {
            assert_eq!(call.name, "set_unit", "{text}");
            assert!(call.arg("unit").is_some(), "{text}");
        }
    }
    assert!(closed > 0, "no list closed within the budget");
}

#[test]
fn bad_files_give_errors_that_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.gguf", SyntheticSpec::default());
    let bytes = std::fs::read(&good).unwrap();
    let err = |path: &Path| {
        Engine::load(path)
            .err()
            .expect("load must fail")
            .to_string()
    };

    let truncated = dir.path().join("truncated.gguf");
    std::fs::write(&truncated, &bytes[..bytes.len() - 1000]).unwrap();
    let message = err(&truncated);
    assert!(
        message.contains("truncated.gguf") && message.contains("past the end"),
        "{message}"
    );

    let header_cut = dir.path().join("header.gguf");
    std::fs::write(&header_cut, &bytes[..200]).unwrap();
    assert!(err(&header_cut).contains("not a usable GGUF file"));

    let not_gguf = dir.path().join("model.gguf.txt");
    std::fs::write(&not_gguf, b"hello world").unwrap();
    assert!(err(&not_gguf).contains("bad magic"));

    let mut arch = bytes.clone();
    let at = arch.windows(5).position(|w| w == b"llama").unwrap();
    arch[at..at + 5].copy_from_slice(b"gemmx");
    let arch_path = dir.path().join("arch.gguf");
    std::fs::write(&arch_path, &arch).unwrap();
    assert!(err(&arch_path).contains("unsupported architecture `gemmx`"));

    assert!(err(&dir.path().join("missing.gguf")).contains("missing.gguf"));

    // The tensor directory entry: name, n_dims (u32), dims (u64 each), type (u32).
    let mut quant = bytes.clone();
    let name = b"blk.0.attn_q.weight";
    let at = quant.windows(name.len()).position(|w| w == name).unwrap() + name.len();
    let type_at = at + 4 + 2 * 8;
    quant[type_at..type_at + 4].copy_from_slice(&13u32.to_le_bytes());
    let quant_path = dir.path().join("quant.gguf");
    std::fs::write(&quant_path, &quant).unwrap();
    let message = err(&quant_path);
    assert!(
        message.contains("blk.0.attn_q.weight") && message.contains("Q5_K"),
        "{message}"
    );

    // An HF directory whose config claims fewer embedding rows than the tokenizer has.
    let engine = Engine::load_dense(&good).unwrap();
    let hf = dir.path().join("hf");
    engine.export(&hf, ExportDtype::F32).unwrap();
    let config_path = hf.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["vocab_size"] = serde_json::json!(100);
    std::fs::write(&config_path, config.to_string()).unwrap();
    let message = err(&hf);
    assert!(
        message.contains("vocab_size") && message.contains("embedding only 100 rows"),
        "{message}"
    );

    let long = vec![65u32; engine.config.max_position_embeddings];
    let message = engine.next_logits(&long).unwrap_err().to_string();
    assert!(
        message.contains("256 tokens") && message.contains("context holds 256"),
        "{message}"
    );
}

/// The path `generate`'s executor takes: a `ChatRequest` with `tool_choice`
/// through [`LocalModel`]'s `ChatModel` implementation always gets a call.
#[tokio::test]
async fn a_local_model_asked_for_a_required_tool_call_always_calls_one() {
    use toolgrad_core::llm::{ChatModel, ChatRequest};
    use toolgrad_model::chat_engine::LocalModel;
    let dir = tempfile::tempdir().unwrap();
    // The tools section of the prompt is ~500 tokens of this byte-level vocabulary.
    let spec = SyntheticSpec {
        context: 1024,
        ..SyntheticSpec::default()
    };
    let model =
        LocalModel::new(Engine::load(&write(dir.path(), "tiny.gguf", spec)).unwrap()).unwrap();
    let tools = vec![
        serde_json::json!({"type": "function", "function": {"name": "set_unit",
        "parameters": {"type": "object", "properties": {"unit": {"enum": ["C", "F"]}}, "required": ["unit"]}}}),
    ];
    for (temperature, choice) in [
        (0.0, serde_json::json!("required")),
        (1.0, serde_json::json!("required")),
        (
            1.0,
            serde_json::json!({"type": "function", "function": {"name": "set_unit"}}),
        ),
    ] {
        let request = ChatRequest {
            messages: vec![ChatMessage::new("user", "unit?")],
            tools: tools.clone(),
            tool_choice: Some(choice),
            temperature: Some(temperature),
            max_tokens: Some(120),
            ..ChatRequest::default()
        };
        let reply = model.chat(&request).await.unwrap();
        assert_eq!(reply.tool_calls.len(), 1, "{reply:?}");
        assert_eq!(reply.tool_calls[0].function.name, "set_unit");
        let arguments: serde_json::Value =
            serde_json::from_str(&reply.tool_calls[0].function.arguments).unwrap();
        assert!(["C", "F"].contains(&arguments["unit"].as_str().unwrap()));
    }
    let bad = ChatRequest {
        messages: vec![ChatMessage::new("user", "unit?")],
        tools,
        tool_choice: Some(serde_json::json!("always")),
        ..ChatRequest::default()
    };
    let error = model.chat(&bad).await.unwrap_err().to_string();
    assert!(error.contains("tool_choice"), "{error}");
}

/// A prompt of `len` byte tokens drawn from `seed`.
fn byte_prompt(seed: u64, len: usize) -> Vec<u32> {
    (0..len as u64)
        .map(|i| ((seed.wrapping_mul(2654435761) ^ i.wrapping_mul(40503)) % 251) as u32)
        .collect()
}

#[test]
fn prefix_reuse_gives_the_same_logits_to_the_bit() {
    let dir = tempfile::tempdir().unwrap();
    let spec = || SyntheticSpec {
        context: 1024,
        ..SyntheticSpec::default()
    };
    let path = write(dir.path(), "long.gguf", spec());
    // Lean (packed weights only) and dense (f32 module) prefill alike.
    for load in [Engine::load, Engine::load_dense] {
        prefix_reuse_is_exact(load(&path).unwrap(), load(&path).unwrap());
    }
}

fn prefix_reuse_is_exact(reusing: Engine, mut fresh: Engine) {
    fresh.set_prefix_entries(0);

    let shared = byte_prompt(1, 300);
    let with_suffix = |seed: u64, len: usize| {
        let mut prompt = shared.clone();
        prompt.extend(byte_prompt(seed, len));
        prompt
    };
    let prompts = [
        with_suffix(2, 40),
        with_suffix(3, 250),    // reuses 256 of the first prompt's 340 tokens
        shared[..200].to_vec(), // reuses one block
        with_suffix(2, 40),     // the first again: reuses 256, not 339
        byte_prompt(9, 150),    // shares nothing
    ];
    for (i, prompt) in prompts.iter().enumerate() {
        let a = reusing.next_logits(prompt).unwrap();
        let b = fresh.next_logits(prompt).unwrap();
        assert!(
            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "prompt {i}: logits differ by up to {}",
            max_diff(&a, &b)
        );
    }
    assert_eq!(reusing.reused_prompt_tokens(), 256 + 128 + 256);
    assert_eq!(fresh.reused_prompt_tokens(), 0);

    // Greedy generation continues from a reused cache exactly as from a fresh one.
    let params = GenerateParams {
        max_tokens: 24,
        ignore_eos: true,
        ..GenerateParams::default()
    };
    let prompt = with_suffix(4, 60);
    let a = reusing
        .generate(&prompt, &params, None, &mut |_| {})
        .unwrap();
    let b = fresh.generate(&prompt, &params, None, &mut |_| {}).unwrap();
    assert_eq!(a.text, b.text);
    assert_eq!(reusing.reused_prompt_tokens(), 256 + 128 + 256 + 256);
}

/// Continuous batching changes no answer: requests that join and leave the
/// batch at different steps get, to the byte, what the engine alone gives
/// them (greedy, sampled, constrained, stopped), and a bad request fails alone.
#[test]
fn batched_requests_get_the_answers_of_the_engine_alone() {
    use std::sync::{Arc, Mutex};
    use toolgrad_model::batch::{Batcher, Job};
    use toolgrad_model::constrain::json_schema::json_constraint;

    let dir = tempfile::tempdir().unwrap();
    let spec = || SyntheticSpec {
        context: 512,
        ..SyntheticSpec::default()
    };
    let path = write(dir.path(), "batch.gguf", spec());
    let alone = Engine::load(&path).unwrap();
    let batcher = Batcher::start(Engine::load(&path).unwrap(), 3).unwrap();

    let params = |max_tokens: usize, temperature: f32, stop: &[&str]| GenerateParams {
        sampling: SamplingParams {
            temperature,
            top_p: 0.9,
            seed: max_tokens as u64,
        },
        max_tokens,
        stop: stop.iter().map(|s| s.to_string()).collect(),
        ignore_eos: true,
        cancel: None,
    };
    let schema = serde_json::json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
    let requests: Vec<(Vec<u32>, GenerateParams, bool)> = vec![
        (byte_prompt(1, 40), params(30, 0.0, &[]), false),
        (byte_prompt(2, 140), params(12, 0.0, &[]), false),
        (byte_prompt(3, 9), params(45, 1.0, &[]), false),
        (byte_prompt(4, 70), params(25, 0.0, &[]), true),
        (byte_prompt(5, 20), params(40, 0.0, &["a", "e"]), false),
        (byte_prompt(6, 600), params(5, 0.0, &[]), false), // longer than the context
        (byte_prompt(7, 33), params(18, 0.7, &[]), false),
    ];
    let mut pending = Vec::new();
    for (prompt, params, constrained) in &requests {
        let streamed = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&streamed);
        let receiver = batcher.submit(Job {
            prompt: prompt.clone(),
            params: params.clone(),
            constraint: constrained.then(|| Box::new(json_constraint(&schema).unwrap()) as _),
            on_text: Box::new(move |text| sink.lock().unwrap().push_str(text)),
        });
        pending.push((receiver, streamed));
    }
    for (i, ((receiver, streamed), (prompt, params, constrained))) in
        pending.into_iter().zip(&requests).enumerate()
    {
        let constraint = constrained.then(|| Box::new(json_constraint(&schema).unwrap()) as _);
        let expected = alone.generate(prompt, params, constraint, &mut |_| {});
        let got = receiver.blocking_recv().unwrap();
        match (expected, got) {
            (Ok(expected), Ok(got)) => {
                assert_eq!(got.generation.text, expected.text, "request {i}");
                assert_eq!(got.generation.finish, expected.finish, "request {i}");
                assert_eq!(
                    got.generation.completion_tokens, expected.completion_tokens,
                    "request {i}"
                );
                assert_eq!(
                    *streamed.lock().unwrap(),
                    expected.text,
                    "request {i} streamed"
                );
            }
            (Err(expected), Err(got)) => assert_eq!(got.to_string(), expected.to_string()),
            (expected, got) => panic!("request {i}: alone {expected:?}, batched {got:?}"),
        }
    }
    assert!(
        batcher.largest_batch() >= 2,
        "the requests never shared a step ({})",
        batcher.largest_batch()
    );
    assert!(batcher.largest_batch() <= 3);
}

/// The batched step itself: every sequence's logits equal those of its own
/// single-sequence step, bit for bit, and every cache grows by one position;
/// with Q8_0 weights and with Q4_1 weights (held exactly as Q4_1, the
/// embedding and so the head as Q8_0).
#[test]
fn a_batched_step_gives_each_sequence_its_single_step_logits_to_the_bit() {
    for kind in [GgmlType::Q8_0, GgmlType::Q4_1] {
        batched_step_equals_single_steps(kind);
    }
}

fn batched_step_equals_single_steps(kind: GgmlType) {
    use toolgrad_model::cache::KvCache;
    use toolgrad_model::host::f32_values;
    use toolgrad_model::packed::Packed;

    let dir = tempfile::tempdir().unwrap();
    let spec = SyntheticSpec {
        kind,
        ..SyntheticSpec::default()
    };
    let engine = Engine::load_dense(&write(dir.path(), "tiny.gguf", spec)).unwrap();
    let model = engine.model().unwrap();
    let packed = Packed::from_model(model, &engine.config).unwrap().unwrap();
    let projections = 4 * model.layers.len();
    let q4_1 = if kind == GgmlType::Q4_1 {
        projections
    } else {
        0
    };
    assert_eq!(packed.q4_1_count(), (q4_1, projections + 1), "{kind:?}");
    let table = f32_values(model.embed_tokens.val()).unwrap();
    let d = engine.config.hidden_size;
    let rows = |ids: &[u32]| -> Vec<Vec<f32>> {
        ids.iter()
            .map(|&t| table[t as usize * d..(t as usize + 1) * d].to_vec())
            .collect()
    };
    let run = |ids: &[u32], cache: &mut KvCache| {
        packed.decode(rows(ids), &mut [cache]).unwrap().remove(0)
    };
    let prompts = [byte_prompt(1, 5), byte_prompt(2, 31), byte_prompt(3, 12)];
    let mut singles: Vec<KvCache> = Vec::new();
    for prompt in &prompts {
        let mut cache = KvCache::new(model.layers.len());
        // One token at a time, as decoding does after the prompt.
        for &token in prompt {
            run(&[token], &mut cache);
        }
        singles.push(cache);
    }
    let mut batched = singles.clone();
    let next = [7u32, 200, 45];
    let expected: Vec<Vec<f32>> = next
        .iter()
        .zip(singles.iter_mut())
        .map(|(&t, cache)| run(&[t], cache))
        .collect();
    let mut caches: Vec<&mut KvCache> = batched.iter_mut().collect();
    let got = packed.decode(rows(&next), &mut caches).unwrap();
    for (i, (a, b)) in got.iter().zip(&expected).enumerate() {
        assert!(
            a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "sequence {i}: logits differ by up to {}",
            max_diff(a, b)
        );
    }
    for (cache, prompt) in batched.iter().zip(&prompts) {
        assert_eq!(cache.len(), prompt.len() + 1);
    }
    let error = packed
        .decode(
            rows(&next[..2]),
            &mut batched.iter_mut().collect::<Vec<_>>(),
        )
        .unwrap_err();
    assert!(
        error.to_string().contains("2 tokens and 3 caches"),
        "{error}"
    );
}
