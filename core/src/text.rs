//! Cutting text to a number of characters (not bytes), for snippets in
//! errors, capped tool output and quoted values.

/// Cuts `text` to its first `limit` characters; true when something was cut.
pub fn truncate_chars(text: &mut String, limit: usize) -> bool {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => {
            text.truncate(cut);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_character_boundaries() {
        let mut text = "héllo".to_owned();
        assert!(truncate_chars(&mut text, 2));
        assert_eq!(text, "hé");
        assert!(!truncate_chars(&mut text, 2));
        assert!(!truncate_chars(&mut text, 9));
        assert_eq!(text, "hé");
    }
}
