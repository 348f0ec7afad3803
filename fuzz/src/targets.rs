//! The fuzz targets: each takes arbitrary bytes to one parser of untrusted
//! input and must return (with an error or not) without panicking. Inputs with
//! two parts (a schema and an output, say) are split at the first NUL byte.
//! Targets that read files write the input to a scratch file first, because
//! that is how the product meets these inputs.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};
use toolgrad_eval::category::Category;
use toolgrad_eval::dataset::Entry;
use toolgrad_eval::decode::ResultFormat;
use toolgrad_eval::score::{judge_entry, ScoreOptions};
use toolgrad_model::constrain::json_schema::json_constraint;
use toolgrad_model::constrain::python_calls::python_calls_constraint;
use toolgrad_model::constrain::tool_call::tool_call_constraint;
use toolgrad_model::constrain::Constraint;

use crate::seeds::{bfcl_entries, Scratch};

/// A target: its name and the function under test.
pub struct Target {
    pub name: &'static str,
    pub what: &'static str,
    pub run: fn(&[u8], &Scratch),
    /// A campaign of N inputs gives this target N / `divisor` (its inputs are
    /// megabytes, not bytes).
    pub divisor: u64,
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "bfcl_prompt_reply",
        what: "BFCL Python, Java and JavaScript decoders and the AST checker on a text reply",
        run: bfcl_prompt_reply,
        divisor: 1,
    },
    Target {
        name: "bfcl_fc_reply",
        what: "BFCL FC decoder and the AST checker on a tool-call list",
        run: bfcl_fc_reply,
        divisor: 1,
    },
    Target {
        name: "gguf_reader",
        what: "GGUF header, metadata, model config, tokenizer and tensor reads",
        run: gguf_reader,
        divisor: 1,
    },
    Target {
        name: "gguf_smollm2_header",
        what: "the GGUF reader on SmolLM2's real header and tokenizer metadata (first 3.5 MB)",
        run: gguf_reader,
        divisor: 50,
    },
    Target {
        name: "json_schema_constraint",
        what: "JSON-Schema recogniser: compile an arbitrary schema, feed arbitrary bytes",
        run: json_schema_constraint,
        divisor: 1,
    },
    Target {
        name: "call_list_constraint",
        what: "BFCL call-list and <tool_call> recognisers on arbitrary functions and bytes",
        run: call_list_constraint,
        divisor: 1,
    },
    Target {
        name: "config_loaders",
        what: "generate, train, format and eval-endpoint TOML configs",
        run: config_loaders,
        divisor: 1,
    },
    Target {
        name: "jsonl_stores",
        what: "LLM replay cache, BFCL result files (resume and score) and SFT training data",
        run: jsonl_stores,
        divisor: 1,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// The BFCL entries the replies are judged against, loaded once.
fn entries() -> &'static [(Category, Entry)] {
    static ENTRIES: OnceLock<Vec<(Category, Entry)>> = OnceLock::new();
    ENTRIES.get_or_init(bfcl_entries)
}

fn judge_all(result: &Value, format: ResultFormat) {
    let options = ScoreOptions {
        format,
        ..ScoreOptions::default()
    };
    for (category, entry) in entries() {
        let _ = judge_entry(*category, entry, result, options);
    }
}

fn bfcl_prompt_reply(data: &[u8], _: &Scratch) {
    judge_all(&Value::String(text(data)), ResultFormat::Prompt);
}

/// A JSON input is the whole tool-call list; other bytes become the
/// arguments string of one call, which the decoder must parse itself.
fn bfcl_fc_reply(data: &[u8], _: &Scratch) {
    let value = serde_json::from_slice::<Value>(data)
        .unwrap_or_else(|_| json!([{"math.factorial": text(data)}]));
    judge_all(&value, ResultFormat::ToolCalls);
    judge_all(&value, ResultFormat::Auto);
}

fn gguf_reader(data: &[u8], scratch: &Scratch) {
    use toolgrad_model::config::LlamaConfig;
    use toolgrad_model::gguf::GgufFile;
    use toolgrad_model::tokenizer::TextTokenizer;
    let Some(path) = scratch.write("model.gguf", data) else {
        return;
    };
    let Ok(file) = GgufFile::open(&path) else {
        return;
    };
    let _ = LlamaConfig::from_gguf(&file);
    if let Ok(tokenizer) = TextTokenizer::from_gguf(&file) {
        if let Ok(ids) = tokenizer.encode("Hello <tool_call> 12.5 ünïcode") {
            let _ = tokenizer.decode(&ids);
        }
    }
    for name in [
        "token_embd.weight",
        "output_norm.weight",
        "blk.0.attn_q.weight",
    ] {
        if let Ok(entry) = file.tensor_entry(name) {
            let shape = entry.shape.clone();
            let _ = file.tensor_f32(name, &shape);
        }
    }
}

/// Feeds `output` to a constraint the way decoding does: probe, then advance.
fn feed(mut constraint: Box<dyn Constraint>, output: &[u8]) {
    for &byte in output {
        let _ = toolgrad_model::constrain::accepts(constraint.as_ref(), &[byte]);
        if !constraint.advance(byte) {
            break;
        }
        let _ = (constraint.is_complete(), constraint.is_closed());
    }
}

/// `schema NUL output`; when the schema part is not JSON, the whole input is
/// output for one of the seed schemas, so most inputs reach the recogniser.
fn json_schema_constraint(data: &[u8], _: &Scratch) {
    let (schema, output) = split(data);
    let (schema, output) = match serde_json::from_slice::<Value>(schema) {
        Ok(schema) => (schema, output),
        Err(_) => (fallback(SEED_SCHEMAS, data.len()), data),
    };
    if let Ok(machine) = json_constraint(&schema) {
        feed(Box::new(machine), output);
    }
}

const SEED_SCHEMAS: &[&str] = &[
    r#"{"type": "object", "properties": {"unit": {"enum": ["C", "F"]}, "days": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}}, "required": ["unit"]}"#,
    r#"{"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": ["number", "null"]}}]}"#,
    r#"{"type": "object"}"#,
];

const SEED_FUNCTIONS: &[&str] = &[
    r#"[{"name": "get_weather", "parameters": {"type": "dict", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "hourly": {"type": "boolean"}}, "required": ["city"]}}]"#,
    r#"[{"name": "math.hypot", "parameters": {"type": "dict", "properties": {"xs": {"type": "array", "items": {"type": "float"}}, "opts": {"type": "dict"}}}}, {"name": "f", "parameters": {"type": "dict", "properties": {}}}]"#,
];

fn fallback(options: &[&str], pick: usize) -> Value {
    serde_json::from_str(options[pick % options.len()]).unwrap_or(Value::Null)
}

/// `functions NUL output`, with the same fallback as [`json_schema_constraint`].
fn call_list_constraint(data: &[u8], _: &Scratch) {
    let (functions, output) = split(data);
    let (functions, output) = match serde_json::from_slice::<Value>(functions) {
        Ok(functions) => (functions, output),
        Err(_) => (fallback(SEED_FUNCTIONS, data.len()), data),
    };
    let functions = match functions {
        Value::Array(list) => list,
        other => vec![other],
    };
    if let Ok(machine) = python_calls_constraint(&functions) {
        feed(Box::new(machine), output);
    }
    let tools: Vec<Value> = functions
        .iter()
        .map(|f| json!({"type": "function", "function": f}))
        .collect();
    if let Ok(constraint) = tool_call_constraint(&tools) {
        feed(Box::new(constraint), output);
    }
}

fn config_loaders(data: &[u8], scratch: &Scratch) {
    let text = text(data);
    let _ = toolgrad_generate::config::GenerateConfig::parse(&text, Path::new("fuzz.toml"));
    let Some(path) = scratch.write("config.toml", data) else {
        return;
    };
    let _ = toolgrad_train::config::TrainConfig::load(&path);
    let _ = toolgrad_format::config::FormatConfig::load(&path);
    let _ = toolgrad_eval::runner::config::load_endpoint(&path, "m");
}

fn jsonl_stores(data: &[u8], scratch: &Scratch) {
    let Some(cache) = scratch.write("llm.jsonl", data) else {
        return;
    };
    if let Some(dir) = cache.parent() {
        let _ = toolgrad_generate::llm::ReplayCache::open(dir, true);
    }
    let _ = toolgrad_eval::runner::results::ResultFile::open(&cache);
    let _ = toolgrad_eval::score::read_result_file(&cache);
    let _ = toolgrad_train::data::read_jsonl(&cache);
}

/// Where a failing input is kept for reproduction: `<dir>/<target>-<n>.bin`.
pub fn crash_path(dir: &Path, target: &str, n: u64) -> PathBuf {
    dir.join(format!("{target}-{n}.bin"))
}
