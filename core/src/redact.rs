//! Credentials out of text that we keep: a server's error body (a 401 that
//! echoes part of the key) reaches traces, logs and BFCL result files, so
//! anything shaped like a secret is replaced before it is stored.

use std::sync::LazyLock;

use regex::Regex;

/// What a credential is replaced with.
pub const MASK: &str = "[redacted]";

static SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?:",
        // Bearer tokens and `Authorization:` values.
        r"\bbearer\s+[A-Za-z0-9._~+/=-]{8,}",
        // Provider key formats: OpenAI, Anthropic, Google, GitHub, Slack, AWS, Hugging Face.
        r"|\bsk-[A-Za-z0-9_*-]{6,}",
        r"|\bAIza[0-9A-Za-z_-]{20,}",
        r"|\bgh[pousr]_[A-Za-z0-9]{16,}",
        r"|\bxox[abprs]-[A-Za-z0-9-]{10,}",
        r"|\bAKIA[0-9A-Z]{16}\b",
        r"|\bhf_[A-Za-z0-9]{16,}",
        // `api_key=...`, `"token": "..."`, `password: ...`.
        r#"|\b(?:api[_-]?key|access[_-]?token|token|secret|password|toolbench[_-]?key)\b["']?\s*[:=]\s*["']?[^\s"',}]{4,}"#,
        r")"
    ))
    .expect("the secret pattern compiles")
});

/// `text` with every credential-shaped run replaced by [`MASK`].
pub fn redact(text: &str) -> String {
    SECRET.replace_all(text, MASK).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_error_bodies_are_masked() {
        let body = r#"{"error": {"message": "Incorrect API key provided: sk-proj-AbC123xyz*****9876. See https://platform.openai.com"}}"#;
        let clean = redact(body);
        assert!(!clean.contains("AbC123"), "{clean}");
        assert!(clean.contains("Incorrect API key provided"), "{clean}");
        for secret in [
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc",
            "key=AIzaSyA1234567890abcdefghijklmnop",
            "token ghp_abcdefghijklmnop1234",
            "api_key=tb-123456789",
            r#""toolbench_key": "abcd1234efgh""#,
        ] {
            let clean = redact(secret);
            assert!(clean.contains(MASK), "{secret} → {clean}");
        }
        assert_eq!(
            redact("rate limit reached, retry in 2 s"),
            "rate limit reached, retry in 2 s"
        );
    }
}
