//! Prefill and decode speed of candle's quantized Llama on a GGUF file, measured
//! like `toolgrad model bench`: fixed pseudo-random prompts, greedy decoding,
//! median of runs. Prints one JSON object.
//!
//! Usage: candle-peer MODEL.gguf PROMPT_LENGTHS(comma-separated) DECODE_TOKENS RUNS

use std::time::Instant;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn argmax(logits: &Tensor) -> anyhow::Result<u32> {
    let v: Vec<f32> = logits.squeeze(0)?.to_vec1()?;
    Ok((0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap_or(0) as u32)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() == 5, "usage: candle-peer MODEL.gguf LENGTHS DECODE RUNS");
    let lengths: Vec<usize> = args[2].split(',').map(str::parse).collect::<Result<_, _>>()?;
    let decode: usize = args[3].parse()?;
    let runs: usize = args[4].parse()?;
    let device = Device::Cpu;
    let mut file = std::fs::File::open(&args[1])?;
    let content = gguf_file::Content::read(&mut file)?;
    let mut model = ModelWeights::from_gguf(content, &mut file, &device)?;
    let mut out = vec![("\"engine\"".to_string(), "\"candle 0.11.1 quantized_llama\"".to_string())];
    for &n in &lengths {
        let tokens: Vec<u32> = (0..n).map(|i| ((i * 7919) % 40000 + 200) as u32).collect();
        let mut times = Vec::new();
        for _ in 0..runs {
            let input = Tensor::new(tokens.as_slice(), &device)?.unsqueeze(0)?;
            let start = Instant::now();
            argmax(&model.forward(&input, 0)?)?;
            times.push(start.elapsed().as_secs_f64());
        }
        out.push((format!("\"prefill_{n}_tok_s\""), format!("{}", n as f64 / median(times))));
    }
    let mut times = Vec::new();
    for _ in 0..runs {
        let prompt = [1u32, 9690, 198, 2683];
        let mut next = argmax(&model.forward(&Tensor::new(&prompt[..], &device)?.unsqueeze(0)?, 0)?)?;
        let start = Instant::now();
        for i in 0..decode {
            let input = Tensor::new(&[next], &device)?.unsqueeze(0)?;
            next = argmax(&model.forward(&input, prompt.len() + i)?)?;
        }
        times.push(start.elapsed().as_secs_f64() / decode as f64);
    }
    out.push(("\"decode_tok_s\"".into(), format!("{}", 1.0 / median(times))));
    let body: Vec<String> = out.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
    println!("{{{}}}", body.join(", "));
    Ok(())
}
