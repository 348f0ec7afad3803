//! Q4_K and Q6_K dequantisation against the `gguf` Python package's, on random
//! blocks (fixture written by benchmarks/model/make_kquant_fixture.py).

use toolgrad_model::quant::{dequantize, GgmlType};

#[test]
fn k_quants_match_the_gguf_reference() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/kquants.json"
    ))
    .unwrap();
    let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
    for case in fixture["cases"].as_array().unwrap() {
        let kind = match case["type"].as_str().unwrap() {
            "Q4_K" => GgmlType::Q4K,
            "Q6_K" => GgmlType::Q6K,
            other => panic!("unexpected type {other}"),
        };
        let hex = case["hex"].as_str().unwrap();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let expected: Vec<f32> = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let mut values = vec![0f32; expected.len()];
        dequantize(kind, &bytes, &mut values);
        for (i, (a, b)) in values.iter().zip(&expected).enumerate() {
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                "{kind:?}[{i}]: {a} vs {b}"
            );
        }
    }
}
