//! Seed inputs for every target, taken from real data where the cache has it
//! (BFCL entries and their ground truth, the shipped configs, a GGUF file our
//! writer produced), and the scratch folder file-reading targets write to.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use toolgrad_eval::category::Category;
use toolgrad_eval::dataset::{load_category, Entry};
use toolgrad_eval::pyrepr::str_repr;
use toolgrad_model::quant::GgmlType;
use toolgrad_model::synthetic::{write_synthetic_gguf, SyntheticSpec};

/// BFCL entries judged in the reply targets: the first few of each AST and
/// irrelevance category of the cached data.
const CATEGORIES: &[&str] = &[
    "simple_python",
    "simple_java",
    "simple_javascript",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
];
const ENTRIES_PER_CATEGORY: usize = 4;

/// A scratch folder for targets that read files.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> std::io::Result<Self> {
        Ok(Self {
            dir: tempfile::tempdir()?,
        })
    }

    /// Writes `data` to `<scratch>/<name>`; `None` if the disk refuses.
    pub fn write(&self, name: &str, data: &[u8]) -> Option<PathBuf> {
        let path = self.dir.path().join(name);
        std::fs::write(&path, data).ok().map(|()| path)
    }
}

/// The cached BFCL entries, or none when the data is not set up.
pub fn bfcl_entries() -> Vec<(Category, Entry)> {
    let dir = toolgrad_core::paths::bfcl_data_dir();
    CATEGORIES
        .iter()
        .filter_map(|name| name.parse::<Category>().ok())
        .flat_map(|category| {
            load_category(&dir, category)
                .unwrap_or_default()
                .into_iter()
                .take(ENTRIES_PER_CATEGORY)
                .map(move |entry| (category, entry))
        })
        .collect()
}

/// A JSON value as a Python literal.
fn python_literal(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => str_repr(s),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(python_literal)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", str_repr(k), python_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Each entry's first acceptable answer, as `(name, {param: value})` calls.
fn first_answers(entry: &Entry) -> Vec<(String, serde_json::Map<String, Value>)> {
    entry
        .ground_truth
        .iter()
        .map(|call| {
            let args = call
                .params
                .iter()
                .filter_map(|(name, options)| {
                    let options = options.to_json();
                    let first = options.as_array()?.first()?.clone();
                    (first != "").then(|| (name.clone(), first))
                })
                .collect();
            (call.name.clone(), args)
        })
        .collect()
}

fn python_reply(entry: &Entry) -> String {
    let calls: Vec<String> = first_answers(entry)
        .into_iter()
        .map(|(name, args)| {
            let args: Vec<String> = args
                .iter()
                .map(|(k, v)| format!("{k}={}", python_literal(v)))
                .collect();
            format!("{name}({})", args.join(", "))
        })
        .collect();
    format!("[{}]", calls.join(", "))
}

fn replies() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = bfcl_entries()
        .iter()
        .map(|(_, entry)| python_reply(entry).into_bytes())
        .collect();
    seeds.extend(
        [
            "[math.factorial(number=5)]",
            "```python\n[get_weather(city='Paris', unit=\"celsius\"), f(x=[1, 2.5e3, None, {'a': (1, 2)}])]\n```",
            "[Calculator.add(a=\"1\", b=\"new ArrayList<>(Arrays.asList(1, 2))\")]",
            "[getSum(nums=\"[1, 2, 3]\", opts=\"{key: 'v', n: -1.5}\")]",
            "I cannot help with that.",
            "[]",
        ]
        .map(|s| s.as_bytes().to_vec()),
    );
    seeds
}

fn fc_replies() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = bfcl_entries()
        .iter()
        .map(|(_, entry)| {
            let calls: Vec<Value> = first_answers(entry)
                .into_iter()
                .map(|(name, args)| json!({name: Value::Object(args).to_string()}))
                .collect();
            Value::Array(calls).to_string().into_bytes()
        })
        .collect();
    seeds.push(br#"[{"math.factorial": "{\"number\": 5}"}, {"f": {"x": [1, 2]}}]"#.to_vec());
    seeds.push(br#""I cannot help with that.""#.to_vec());
    seeds
}

fn gguf_files() -> Vec<Vec<u8>> {
    let Ok(dir) = tempfile::tempdir() else {
        return Vec::new();
    };
    [GgmlType::F32, GgmlType::Q8_0, GgmlType::Q4_0]
        .into_iter()
        .enumerate()
        .filter_map(|(i, kind)| {
            let path = dir.path().join(format!("{i}.gguf"));
            let spec = SyntheticSpec {
                kind,
                layers: 1,
                context: 64,
                ..SyntheticSpec::default()
            };
            write_synthetic_gguf(&path, &spec).ok()?;
            std::fs::read(&path).ok()
        })
        .collect()
}

/// The first `limit` bytes of the cached SmolLM2 file (its header and
/// tokenizer metadata), when it is there.
fn smollm2_header(limit: usize) -> Option<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(toolgrad_core::paths::default_model_path()).ok()?;
    let mut head = Vec::with_capacity(limit);
    file.take(limit as u64).read_to_end(&mut head).ok()?;
    Some(head)
}

const SCHEMAS: &[&str] = &[
    r#"{"type": "object", "properties": {"unit": {"enum": ["C", "F"]}, "days": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3}}, "required": ["unit"], "additionalProperties": false}"#,
    r#"{"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": ["number", "null"]}, "minItems": 1}]}"#,
    r#"{"type": "object", "properties": {"a": {"const": 1}, "b": {"type": "boolean", "nullable": true}, "c": {"oneOf": [{"type": "object"}, {"type": "integer"}]}}}"#,
];

const OUTPUTS: &[&str] = &[
    r#"{"unit": "C", "days": 3, "tags": ["a", "b"]}"#,
    r#"["x", 1.5e-3, null]"#,
    r#"{"a": 1, "b": null, "c": {"k": [true, "\u00e9\n"]}}"#,
];

fn schema_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for schema in SCHEMAS {
        for output in OUTPUTS {
            seeds.push([schema.as_bytes(), b"\0", output.as_bytes()].concat());
        }
    }
    seeds
}

fn call_list_seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = bfcl_entries()
        .iter()
        // The call-list grammar is Python's; Java and JavaScript replies differ.
        .filter(|(_, entry)| !entry.id.starts_with("simple_java"))
        .map(|(_, entry)| {
            let functions = Value::Array(entry.functions_json.clone()).to_string();
            [functions.as_bytes(), b"\0", python_reply(entry).as_bytes()].concat()
        })
        .collect();
    let weather = r#"[{"name": "get_weather", "parameters": {"type": "object", "properties": {"unit": {"enum": ["C", "F"]}, "city": {"type": "string"}}, "required": ["city"]}}]"#;
    seeds.push(format!("{weather}\0[get_weather(city='Paris', unit='C')]").into_bytes());
    seeds.push(
        format!("{weather}\0<tool_call>\n{{\"name\": \"get_weather\", \"arguments\": {{\"city\": \"Paris\"}}}}\n</tool_call>")
            .into_bytes(),
    );
    seeds
}

fn config_seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect();
    seeds.push(
        b"[models.m]\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\nconcurrency = 2\nmax_retries = 1\ninitial_backoff_s = 0.5\ntimeout_s = 1e9\n"
            .to_vec(),
    );
    seeds
}

fn jsonl_seeds() -> Vec<Vec<u8>> {
    let cache = r#"{"key":"ab12","content":"{\"answer\": 1}","tool_calls":[{"id":"call_0","type":"function","function":{"name":"add","arguments":"{\"a\":1}"}}],"usage":{"prompt_tokens":10,"completion_tokens":3}}"#;
    let result = r#"{"id":"simple_python_0","result":"[math.factorial(number=5)]","input_token_count":50,"output_token_count":9,"latency":0.5}"#;
    let sft = r#"{"messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"5!?"},{"role":"assistant","content":null,"tool_calls":[{"type":"function","function":{"name":"factorial","arguments":{"n":5}}}]},{"role":"tool","content":"120"},{"role":"assistant","content":"120."}],"tools":"[{\"type\": \"function\", \"function\": {\"name\": \"factorial\", \"parameters\": {\"type\": \"object\"}}}]"}"#;
    vec![
        format!("{cache}\n{cache}\n").into_bytes(),
        format!("{result}\n{result}\n{}", &result[..30]).into_bytes(),
        format!("{sft}\n{sft}\n").into_bytes(),
        format!("{cache}\n{result}\n{sft}\n").into_bytes(),
    ]
}

/// The seed corpus of a target.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "bfcl_prompt_reply" => replies(),
        "bfcl_fc_reply" => fc_replies(),
        "gguf_reader" => gguf_files(),
        "gguf_smollm2_header" => smollm2_header(3_500_000).into_iter().collect(),
        "json_schema_constraint" => schema_seeds(),
        "call_list_constraint" => call_list_seeds(),
        "config_loaders" => config_seeds(),
        "jsonl_stores" => jsonl_seeds(),
        _ => Vec::new(),
    }
}
