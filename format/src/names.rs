//! Function names a model can write in every format: a Python identifier
//! (BFCL's decoder parses `name(...)` as Python), at most 64 characters (the
//! OpenAI tools limit). ToolBench names such as `Finance-twelve_data-atr` keep
//! their words with `_` for every other character; names too long for the
//! limit get the generator's stable `tool_xxxxxxxx` alias.

use toolgrad_generate::policy::llm::alias;

const MAX_NAME: usize = 64;

/// Python's keywords, which cannot name a call.
const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// The model-facing name of a tool.
pub fn callable(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    if out.len() > MAX_NAME {
        return alias(name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_python_identifiers() {
        assert_eq!(callable("city_info"), "city_info");
        assert_eq!(
            callable("Finance-twelve_data-atr"),
            "Finance_twelve_data_atr"
        );
        assert_eq!(callable("read.file"), "read_file");
        assert_eq!(callable("3d-model"), "_3d_model");
        assert_eq!(callable("class"), "class_");
        let long = "x".repeat(80);
        assert!(callable(&long).starts_with("tool_"));
    }
}
