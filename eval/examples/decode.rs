//! Decodes prompt-mode replies read from stdin (one JSON string per line) and
//! prints, per line, the decoded calls in Python `repr` form or `ERROR`.
//! Used by `benchmarks/parity/decoder_cases.py` to diff against the official decoder.
//!
//! Usage: cargo run --release --example decode -- [python|java|javascript] < replies.jsonl

use std::io::{BufRead, Write};

use toolgrad_eval::decode::{java, javascript, python, Call, Decoded};
use toolgrad_eval::value::Value;

fn main() {
    let language = std::env::args().nth(1).unwrap_or_else(|| "python".into());
    let decode = match language.as_str() {
        "python" => python::decode_prompt_reply,
        "java" => java::decode_prompt_reply,
        "javascript" => javascript::decode_prompt_reply,
        other => {
            eprintln!("unknown language {other:?}: use python, java or javascript");
            std::process::exit(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (number, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.expect("stdin is readable");
        let reply: String = match serde_json::from_str(&line) {
            Ok(reply) => reply,
            Err(e) => {
                eprintln!("line {}: not a JSON string: {e}", number + 1);
                std::process::exit(2);
            }
        };
        let rendered = match decode(&reply) {
            Ok(Decoded::Calls(calls)) => repr_calls(&calls),
            Ok(Decoded::WrongFormat) => "WRONG_FORMAT".into(),
            Err(_) => "ERROR".into(),
        };
        writeln!(out, "{rendered}").expect("stdout is writable");
    }
}

/// `repr([{name: {arg: value}}])` as Python prints the official decoder's output.
fn repr_calls(calls: &[Call]) -> String {
    let items: Vec<Value> = calls
        .iter()
        .map(|call| Value::Dict(vec![(Value::Str(call.name.clone()), call.args_dict())]))
        .collect();
    Value::List(items).to_string()
}
