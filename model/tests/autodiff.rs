//! The inference model is also the training model: on an autodiff device the
//! same module computes a next-token loss whose gradients reach every projection.

use burn::tensor::{Int, Tensor, TensorData};
use toolgrad_model::config::LlamaConfig;
use toolgrad_model::gguf::GgufFile;
use toolgrad_model::llama::Llama;
use toolgrad_model::synthetic::{write_synthetic_gguf, SyntheticSpec};
use toolgrad_model::weights::GgufWeights;

#[test]
fn gradients_flow_through_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    write_synthetic_gguf(&path, &SyntheticSpec::default()).unwrap();
    let file = GgufFile::open(&path).unwrap();
    let config = LlamaConfig::from_gguf(&file).unwrap();
    let device = toolgrad_model::device::cpu().autodiff();
    let model = Llama::load(
        &config,
        &GgufWeights {
            file: &file,
            config: &config,
        },
        &device,
    )
    .unwrap();

    let ids: Vec<i64> = vec![40, 41, 42, 43, 44, 45, 46];
    let seq = ids.len() - 1;
    let inputs: Tensor<2, Int> =
        Tensor::from_data(TensorData::new(ids[..seq].to_vec(), [1, seq]), &device);
    let targets: Tensor<1, Int> =
        Tensor::from_data(TensorData::new(ids[1..].to_vec(), [seq]), &device);
    let logits = model
        .forward(inputs)
        .unwrap()
        .reshape([seq, config.vocab_size]);
    let log_probs = burn::tensor::activation::log_softmax(logits, 1);
    let loss = log_probs.gather(1, targets.unsqueeze_dim(1)).mean().neg();
    let value: f32 = loss.clone().into_scalar::<f32>();
    assert!(value.is_finite() && value > 0.0, "loss {value}");

    let grads = loss.backward();
    let layer = &model.layers[0];
    for (name, param) in [
        ("q_proj", &layer.self_attn.q_proj.weight),
        ("k_proj", &layer.self_attn.k_proj.weight),
        ("v_proj", &layer.self_attn.v_proj.weight),
        ("o_proj", &layer.self_attn.o_proj.weight),
        ("gate_proj", &layer.mlp.gate_proj.weight),
        ("down_proj", &layer.mlp.down_proj.weight),
        ("embed_tokens", &model.embed_tokens),
    ] {
        let grad = param
            .grad(&grads)
            .unwrap_or_else(|| panic!("{name} has no gradient"));
        let norm: f32 = grad.abs().sum().into_scalar::<f32>();
        assert!(norm > 0.0 && norm.is_finite(), "{name}: |grad| = {norm}");
    }
}
