//! The trainer end to end on a tiny random model written by each test: it
//! overfits, masks the prompt, packs without leaking, resumes exactly, merges
//! and exports faithfully, and stops with a clear error on bad input.

mod common;

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use toolgrad_core::llm::ChatMessage;
use toolgrad_model::engine::Engine;
use toolgrad_model::host::f32_values;
use toolgrad_model::llama::SequenceLayout;
use toolgrad_train::config::{Method, TrainConfig};
use toolgrad_train::data::{read_jsonl, Conversation};
use toolgrad_train::encode::encode;
use toolgrad_train::params::map_trainable;
use toolgrad_train::trainer::train;
use toolgrad_train::TrainError;

use common::{dataset, handful, quick, request, sample, tiny_model, train_losses};

#[test]
fn a_tiny_model_overfits_a_handful_of_samples() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let data = dataset(dir.path(), &handful());
    for method in [Method::Full, Method::Lora] {
        let out = dir.path().join(format!("{method:?}"));
        let report = train(&request(&model, &data, &out, quick(method))).unwrap();
        let losses = train_losses(&out);
        let first = losses[0];
        let last = report.final_loss.unwrap();
        assert!(
            last < 0.35 * first,
            "{method:?}: loss {first:.3} → {last:.3} ({losses:?})"
        );
        assert!(out.join("loss.png").metadata().unwrap().len() > 1000);
        assert!(out.join("model/model.safetensors").exists());
        assert_eq!(
            out.join("adapter/adapter_config.json").exists(),
            method == Method::Lora
        );
        if method == Method::Lora {
            assert!(report.trainable_params < report.total_params / 2);
        } else {
            assert_eq!(report.trainable_params, report.total_params);
        }
    }
}

#[test]
fn the_loss_covers_assistant_tokens_and_the_prompt_matches_inference() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::load(&tiny_model(dir.path())).unwrap();
    let messages = vec![
        ChatMessage::new("system", "Be brief."),
        ChatMessage::new("user", "the sum of 2 and 3"),
        ChatMessage::new("assistant", "[add(a=2, b=3)]"),
        ChatMessage::new("user", "and 4 and 4?"),
        ChatMessage::new("assistant", "[add(a=4, b=4)]"),
    ];
    let conversation = Conversation {
        line: 1,
        messages: messages.clone(),
        tools: vec![serde_json::json!({"type": "function", "function": {"name": "add"}})],
    };
    let encoded = encode(&conversation, &engine.template, &engine.tokenizer).unwrap();
    // The learned tokens are the two replies with their end-of-turn token.
    let learned: Vec<u32> = encoded
        .ids
        .iter()
        .zip(&encoded.labels)
        .filter(|(_, &l)| l)
        .map(|(&id, _)| id)
        .collect();
    assert_eq!(
        engine.tokenizer.decode(&learned),
        "[add(a=2, b=3)]<|im_end|>[add(a=4, b=4)]<|im_end|>"
    );
    assert_eq!(
        learned
            .iter()
            .filter(|&&t| t == engine.tokenizer.eos_id)
            .count(),
        2
    );
    // Up to each reply, training sees the tokens inference would be prompted with.
    for turns in [2, 4] {
        let prompt = engine
            .template
            .render(&messages[..turns], &conversation.tools);
        let ids = engine.tokenizer.encode(&prompt).unwrap();
        assert_eq!(&encoded.ids[..ids.len()], ids.as_slice(), "{turns} turns");
        assert!(!encoded.labels[ids.len() - 1] && encoded.labels[ids.len()]);
        let first_reply = engine
            .tokenizer
            .encode("[add(a=2, b=3)]<|im_end|>")
            .unwrap()
            .len();
        let before = encoded.labels[..ids.len()].iter().filter(|&&l| l).count();
        assert_eq!(before, if turns == 2 { 0 } else { first_reply });
    }
}

#[test]
fn packed_samples_compute_what_they_compute_alone() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::load_dense(&tiny_model(dir.path())).unwrap();
    let model = engine.model().unwrap();
    let device = toolgrad_model::device::cpu();
    let a: Vec<i64> = vec![40, 41, 42, 43, 44];
    let b: Vec<i64> = vec![50, 51, 52];
    let run_rows = |rows: usize, tokens: Vec<i64>, positions: Vec<usize>, segments: Vec<u32>| {
        let n = tokens.len() / rows;
        let ids: Tensor<2, Int> = Tensor::from_data(TensorData::new(tokens, [rows, n]), &device);
        let layout = SequenceLayout {
            positions,
            segments,
        };
        f32_values(model.hidden_packed(ids, &layout).unwrap()).unwrap()
    };
    let run = |tokens, positions, segments| run_rows(1, tokens, positions, segments);
    let alone = run(b.clone(), vec![0, 1, 2], vec![0, 0, 0]);
    let packed = run(
        [a.clone(), b.clone()].concat(),
        vec![0, 1, 2, 3, 4, 0, 1, 2],
        vec![0, 0, 0, 0, 0, 1, 1, 1],
    );
    let d = engine.config.hidden_size;
    let diff = alone
        .iter()
        .zip(&packed[5 * d..])
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-5, "b packed after a differs by {diff}");
    // Two rows take the dense segment mask instead of per-sample spans: b in
    // the second row, then two padding tokens (each its own segment).
    let padded = run_rows(
        2,
        [a.clone(), b.clone(), vec![0, 0]].concat(),
        vec![0, 1, 2, 3, 4, 0, 1, 2, 0, 0],
        vec![0, 0, 0, 0, 0, 0, 0, 0, 1 << 30, (1 << 30) + 1],
    );
    let diff = alone
        .iter()
        .zip(&padded[5 * d..8 * d])
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-5, "b in a padded second row differs by {diff}");
    // And a really would leak into b without the segment mask.
    let leaky = run([a, b].concat(), vec![0, 1, 2, 3, 4, 0, 1, 2], vec![0; 8]);
    let leak = alone
        .iter()
        .zip(&leaky[5 * d..])
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(leak > 1e-3, "the check cannot see a leak ({leak})");
}

#[test]
fn merged_lora_gives_the_adapters_logits() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_model(dir.path());
    let device = toolgrad_model::device::cpu().autodiff();
    let parts = Engine::load_parts(&path, &device).unwrap();
    let spec = toolgrad_model::lora::LoraSpec {
        rank: 4,
        alpha: 8.0,
        dropout: 0.1,
        ..Default::default()
    };
    let model = parts.model.with_lora(&spec, 7, &device).unwrap();
    // B starts at zero; give every factor a value so the adapter matters.
    let mut k = 0f32;
    let model = map_trainable(model, &mut |_, value| {
        k += 1.0;
        Some(value.ones_like() * (0.01 * k))
    })
    .valid();
    let ids: Tensor<2, Int> = Tensor::from_data(
        TensorData::new(vec![40i64, 41, 42, 43], [1, 4]),
        &toolgrad_model::device::cpu(),
    );
    let adapted = f32_values(model.forward(ids.clone()).unwrap()).unwrap();
    let base = f32_values(
        Engine::load_dense(&path)
            .unwrap()
            .model()
            .unwrap()
            .forward(ids.clone())
            .unwrap(),
    )
    .unwrap();
    let merged = f32_values(model.merge_lora().unwrap().forward(ids).unwrap()).unwrap();
    let max_diff = |x: &[f32], y: &[f32]| {
        x.iter()
            .zip(y)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max)
    };
    assert!(
        max_diff(&adapted, &merged) < 1e-4,
        "{}",
        max_diff(&adapted, &merged)
    );
    assert!(
        max_diff(&adapted, &base) > 1e-2,
        "the adapter changed nothing"
    );
}

#[test]
fn the_export_reloads_with_the_trained_logits() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let data = dataset(dir.path(), &handful());
    let out = dir.path().join("run");
    let config = TrainConfig {
        epochs: 2,
        lora: toolgrad_model::lora::LoraSpec {
            rank: 4,
            alpha: 8.0,
            dropout: 0.0,
            ..Default::default()
        },
        ..quick(Method::Lora)
    };
    train(&request(&model, &data, &out, config)).unwrap();
    let exported = Engine::load(&out.join("model")).unwrap();
    let base = Engine::load(&model).unwrap();
    let ids = [40u32, 41, 42, 43];
    let a = exported.next_logits(&ids).unwrap();
    let b = base.next_logits(&ids).unwrap();
    assert!(
        a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-3),
        "training changed nothing"
    );
    // The adapter applied to the base by hand gives the merged export.
    let adapter =
        toolgrad_model::weights::load_safetensors(&out.join("adapter/adapter_model.safetensors"))
            .unwrap();
    let names: Vec<&str> = adapter.iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains(&"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
    assert!(names.contains(&"base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"));
    assert_eq!(names.len(), 2 * 7 * 2);
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("adapter/adapter_config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["r"], 4);
    let tokenizer: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("model/tokenizer_config.json")).unwrap(),
    )
    .unwrap();
    assert!(tokenizer["chat_template"]
        .as_str()
        .unwrap()
        .contains("<tools>"));
}

fn error_of(lines: &[String], config: TrainConfig) -> (TrainError, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let data = dataset(dir.path(), lines);
    let out = dir.path().join("run");
    let error = train(&request(&model, &data, &out, config)).unwrap_err();
    (error, dir.keep())
}

#[test]
fn bad_input_stops_with_a_clear_error() {
    let no_reply = serde_json::json!({"messages": [{"role": "user", "content": "hi"}]}).to_string();
    for (lines, needle) in [
        (vec![], "holds no samples"),
        (
            vec![sample("q", "[a()]"), no_reply],
            "sft.jsonl:2: no assistant turn",
        ),
        (
            vec![sample("q", "[a()]"), "{oops".into()],
            "sft.jsonl:2: not JSON",
        ),
    ] {
        let (error, _) = error_of(&lines, quick(Method::Lora));
        assert!(error.to_string().contains(needle), "{needle}: {error}");
    }
    let short = TrainConfig {
        max_len: 8,
        ..quick(Method::Lora)
    };
    let (error, _) = error_of(&handful(), short);
    assert!(error.to_string().contains("max_len = 8"), "{error}");
    assert!(read_jsonl(Path::new("/nonexistent/x.jsonl")).is_err());
}

#[test]
fn a_diverging_loss_stops_training_and_keeps_the_checkpoint() {
    let config = TrainConfig {
        learning_rate: 1e30,
        max_grad_norm: 0.0,
        save_every: 1,
        ..quick(Method::Full)
    };
    let (error, dir) = error_of(&handful(), config.clone());
    let TrainError::NonFinite { step, .. } = error else {
        panic!("expected a non-finite loss, got {error}");
    };
    assert!(step >= 2, "the first step cannot diverge yet");
    let run = dir.join("run");
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).unwrap();
    assert_eq!(latest, format!("step-{:06}", step - 1));
    let loaded = toolgrad_train::checkpoint::load_latest(&run, &toolgrad_model::device::cpu())
        .unwrap()
        .unwrap();
    assert_eq!(loaded.state.step, step - 1);
    assert!(!run.join("model").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn block_recompute_gives_the_whole_graph_gradients() {
    use toolgrad_train::batch::pack;
    use toolgrad_train::step::{micro_grads, StepSpec};
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_model(dir.path());
    let device = toolgrad_model::device::cpu().autodiff();
    let parts = Engine::load_parts(&path, &device).unwrap();
    let samples: Vec<_> = handful()
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let mut c =
                toolgrad_train::data::read_jsonl(&dataset(dir.path(), std::slice::from_ref(line)))
                    .unwrap()
                    .remove(0);
            c.line = i + 1;
            encode(&c, &parts.template, &parts.tokenizer).unwrap()
        })
        .collect();
    let refs: Vec<_> = samples.iter().collect();
    let batch = pack(&refs, true);
    let head = parts.model.head_weight().val().inner();
    let grads = |recompute: bool| {
        let spec = StepSpec {
            device: &device,
            head: &head,
            head_param: Some("embed_tokens"),
            scale: 1.0 / batch.loss_tokens() as f32,
            chunk: 7,
            seed: 3,
            recompute,
        };
        let out = micro_grads(&parts.model, &batch, &spec).unwrap();
        let mut by_name = std::collections::BTreeMap::<String, Vec<f32>>::new();
        for (name, g) in out.grads {
            let values = f32_values(g).unwrap();
            let entry = by_name
                .entry(name)
                .or_insert_with(|| vec![0.0; values.len()]);
            entry.iter_mut().zip(values).for_each(|(a, b)| *a += b);
        }
        (out.loss_sum, by_name)
    };
    let (loss_a, a) = grads(false);
    let (loss_b, b) = grads(true);
    assert!((loss_a - loss_b).abs() < 1e-4 * loss_a.abs());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert!(a.len() >= 2 * 9 + 2, "{} parameters got gradients", a.len());
    for (name, ga) in &a {
        let gb = &b[name];
        let scale = ga.iter().map(|v| v.abs()).fold(1e-6, f32::max);
        let diff = ga
            .iter()
            .zip(gb)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(diff <= 1e-4 * scale, "{name}: {diff} of {scale}");
    }
}
