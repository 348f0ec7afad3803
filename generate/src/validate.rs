//! The rule-based observation validator: decides whether an executed call's
//! observation is a real, useful result (the reference's hidden-error rules,
//! with every list and switch configurable).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Validator settings (`[validator]` in a run config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidatorConfig {
    /// `false` accepts every observation the tool returned (the ablation);
    /// left out of the serialised config when on, so older runs' hashes stay.
    #[serde(skip_serializing_if = "is_on")]
    pub enabled: bool,
    /// Substrings that mark a failure wherever they appear (case-insensitive).
    pub error_phrases: Vec<String>,
    /// Words that mark a failure in plain-text replies and in error-ish JSON fields.
    pub error_keywords: Vec<String>,
    /// Reject an observation that contains an error keyword anywhere, as the
    /// reference does (very conservative).
    pub keywords_anywhere: bool,
    /// JSON keys that carry only metadata, never content.
    pub metadata_keys: Vec<String>,
}

impl Default for ValidatorConfig {
    fn default() -> Self {
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        Self {
            enabled: true,
            error_phrases: strings(&[
                "payment required",
                "403 forbidden",
                "401 unauthorized",
                "api rate limit exceeded",
                "too many requests",
                "internal server error",
                "service unavailable",
                "bad gateway",
                "gateway timeout",
                "you are not subscribed",
                "blocked user",
                "invalid api key",
                "quota exceeded",
                "endpoint does not exist",
                "access denied",
            ]),
            error_keywords: strings(&[
                "error",
                "failed",
                "failure",
                "invalid",
                "not found",
                "exception",
                "unauthorized",
                "forbidden",
            ]),
            keywords_anywhere: true,
            metadata_keys: strings(&[
                "status", "code", "message", "count", "page", "total", "limit", "offset",
                "success", "ok", "meta",
            ]),
        }
    }
}

/// Every string value of a JSON document (not its keys), one per line.
fn string_values(value: &Value, out: &mut String) {
    match value {
        Value::String(text) => {
            out.push_str(text);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|v| string_values(v, out)),
        Value::Object(map) => map.values().for_each(|v| string_values(v, out)),
        _ => {}
    }
}

/// Why an observation was rejected; `None` from [`Validator::check`] means valid.
pub type Rejection = String;

fn is_on(enabled: &bool) -> bool {
    *enabled
}

/// Applies [`ValidatorConfig`] to observations.
#[derive(Debug, Clone)]
pub struct Validator {
    config: ValidatorConfig,
}

impl Validator {
    pub fn new(mut config: ValidatorConfig) -> Self {
        for list in [
            &mut config.error_phrases,
            &mut config.error_keywords,
            &mut config.metadata_keys,
        ] {
            for item in list.iter_mut() {
                *item = item.to_lowercase();
            }
        }
        Self { config }
    }

    /// `None` when the observation is a valid result, else the reason.
    pub fn check(&self, observation: &str) -> Option<Rejection> {
        if !self.config.enabled {
            return None;
        }
        let text = observation.trim();
        if text.is_empty() || matches!(text, "{}" | "[]" | "None" | "null" | "\"\"") {
            return Some("empty result".into());
        }
        if looks_binary(text) {
            return Some("binary content".into());
        }
        if text.starts_with('<') {
            return Some("HTML or XML instead of data".into());
        }
        let lower = text.to_lowercase();
        if let Some(phrase) = self
            .config
            .error_phrases
            .iter()
            .find(|p| lower.contains(*p))
        {
            return Some(format!("contains the error phrase `{phrase}`"));
        }
        // Keywords apply to what the observation says, never to its key names:
        // ToolBench's `{"error": "", "response": ...}` names an empty error.
        let mut said = lower.clone();
        match serde_json::from_str::<Value>(text) {
            Ok(value) => {
                if let Some(reason) = self.check_json(&value) {
                    return Some(reason);
                }
                said.clear();
                string_values(&value, &mut said);
                said = said.to_lowercase();
            }
            Err(_) if !text.starts_with(['{', '[']) => {
                if let Some(word) = self.keyword_in(&lower) {
                    return Some(format!("plain-text reply mentions `{word}`"));
                }
            }
            Err(_) => {}
        }
        if self.config.keywords_anywhere {
            if let Some(word) = self.keyword_in(&said) {
                return Some(format!("mentions `{word}`"));
            }
        }
        None
    }

    fn keyword_in(&self, lower: &str) -> Option<&str> {
        self.config
            .error_keywords
            .iter()
            .find(|k| lower.contains(k.as_str()))
            .map(String::as_str)
    }

    fn check_json(&self, value: &Value) -> Option<Rejection> {
        if is_empty(value) {
            return Some("empty JSON result".into());
        }
        let Value::Object(map) = value else {
            return None;
        };
        if map.len() == 1 && map.values().all(is_empty) {
            return Some("a single key with an empty value".into());
        }
        let is_meta = |k: &String| self.config.metadata_keys.contains(&k.to_lowercase());
        if map.keys().all(is_meta) {
            return Some("only metadata fields".into());
        }
        let content: Vec<&Value> = map
            .iter()
            .filter(|(k, _)| !is_meta(k))
            .map(|(_, v)| v)
            .collect();
        if content.iter().all(|v| is_empty(v)) {
            return Some("metadata with empty content".into());
        }
        for (key, field) in map {
            let key = key.to_lowercase();
            if matches!(key.as_str(), "error" | "errors")
                && field.as_str().is_some_and(|s| !s.trim().is_empty())
            {
                return Some(format!("field `{key}` is set"));
            }
            if matches!(
                key.as_str(),
                "error" | "errors" | "message" | "detail" | "notice"
            ) {
                if let Some(text) = field.as_str() {
                    if let Some(word) = self.keyword_in(&text.to_lowercase()) {
                        return Some(format!("field `{key}` reports `{word}`"));
                    }
                } else if key.starts_with("error") && !is_empty(field) && !field.is_boolean() {
                    return Some(format!("field `{key}` is set"));
                }
            }
            if matches!(key.as_str(), "success" | "ok") && field == &Value::Bool(false) {
                return Some(format!("`{key}` is false"));
            }
            if key.contains("status") || key == "code" {
                let bad_text = field.as_str().is_some_and(|s| {
                    matches!(s.to_lowercase().as_str(), "error" | "failed" | "fail")
                });
                let bad_code = field.as_u64().is_some_and(|c| c >= 400);
                if bad_text || bad_code {
                    return Some(format!("`{key}` is {field}"));
                }
            }
        }
        if let Some(code) = map
            .get("meta")
            .and_then(|m| m.get("status"))
            .and_then(Value::as_u64)
        {
            if code >= 400 {
                return Some(format!("meta.status is {code}"));
            }
        }
        None
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.iter().all(is_empty),
        Value::Object(map) => map.is_empty() || map.values().all(is_empty),
        _ => false,
    }
}

fn looks_binary(text: &str) -> bool {
    let head: String = text.chars().take(100).collect();
    let magic = ["\u{89}PNG", "%PDF", "\u{FFFD}\u{FFFD}\u{FFFD}", "GIF8"];
    magic.iter().any(|m| head.starts_with(m))
        || head
            .chars()
            .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            .count()
            > 20
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Option<Rejection> {
        Validator::new(ValidatorConfig::default()).check(text)
    }

    #[test]
    fn real_results_pass() {
        assert_eq!(check(r#"{"city": "Lisbon", "distance": 502.3}"#), None);
        assert_eq!(check("The sun rises at 06:12."), None);
        assert_eq!(check(r#"{"status": 200, "items": [1, 2]}"#), None);
    }

    #[test]
    fn hidden_errors_are_caught() {
        for bad in [
            "",
            "{}",
            "[]",
            "None",
            "<html><body>oops</body></html>",
            r#"{"message": "API rate limit exceeded"}"#,
            r#"{"success": false, "data": [1]}"#,
            r#"{"status": "error", "data": [1]}"#,
            r#"{"code": 404, "data": [1]}"#,
            r#"{"results": []}"#,
            r#"{"status": 200, "count": 0}"#,
            r#"{"status": 200, "items": []}"#,
            r#"{"meta": {"status": 500}, "data": [1]}"#,
            r#"{"error": "Quota reached", "response": "partial"}"#,
            "Request failed, try again",
            r#"{"name": "x", "note": "resource not found"}"#,
        ] {
            assert!(check(bad).is_some(), "accepted {bad:?}");
        }
    }

    #[test]
    fn toolbench_observations_with_an_empty_error_field_pass() {
        // The ToolBench source's own shape: an empty `error` is no error, and
        // keywords apply to values, not to key names.
        assert_eq!(
            check(r#"{"error": "", "response": "{\"symbol\": \"AAPL\", \"price\": 189.5}"}"#),
            None
        );
        assert_eq!(check(r#"{"error_rate": 0.2, "errors_fixed": 3}"#), None);
        assert!(check(r#"{"error": "", "response": "Internal error, retry"}"#).is_some());
    }

    #[test]
    fn keyword_anywhere_rule_can_be_switched_off() {
        let lenient = Validator::new(ValidatorConfig {
            keywords_anywhere: false,
            ..ValidatorConfig::default()
        });
        let text = r#"{"title": "Error Correction Codes", "pages": 312}"#;
        assert!(check(text).is_some());
        assert_eq!(lenient.check(text), None);
    }
}
