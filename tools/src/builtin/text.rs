//! Text processing: counts, numbers in text, slugs, case, frequent words.

use serde_json::{json, Value};

use super::spec::{opt, req, Args, Builtin, Ty};
use super::Env;

const CASES: &[&str] = &["upper", "lower", "title"];
const STOP_WORDS: &[&str] = &[
    "the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "for", "by", "from", "with", "is",
    "it", "was", "this", "that", "we", "our", "me", "each",
];

pub const TOOLS: &[Builtin] = &[
    Builtin {
        name: "word_count",
        domain: "text",
        description: "Counts words, characters, lines and sentences of a text.",
        params: &[req("text", Ty::Str, "text", "The text to count.")],
        outputs: &[],
        asks: &[
            "count the words and sentences in \"{text}\"",
            "tell me how long this text is: \"{text}\"",
        ],
        tells: &[
            "It has {words} words, {characters} characters and {sentences} sentences.",
            "That text runs to {words} words over {lines} lines.",
        ],
        run: word_count,
    },
    Builtin {
        name: "extract_numbers",
        domain: "text",
        description: "Extracts every number that appears in a text, in order.",
        params: &[req("text", Ty::Str, "text", "The text to scan.")],
        outputs: &[("numbers", "numbers")],
        asks: &[
            "pull out all the numbers from \"{text}\"",
            "list every number mentioned in \"{text}\"",
        ],
        tells: &[
            "The numbers in it are {numbers}.",
            "I found these numbers: {numbers}.",
        ],
        run: extract_numbers,
    },
    Builtin {
        name: "slugify",
        domain: "text",
        description: "Turns a text into a lowercase URL slug.",
        params: &[req(
            "text",
            Ty::Str,
            "text",
            "The text to turn into a slug.",
        )],
        outputs: &[("slug", "slug")],
        asks: &[
            "make a URL slug out of \"{text}\"",
            "turn \"{text}\" into a web-friendly slug",
        ],
        tells: &["The slug is `{slug}`.", "Use `{slug}` as the URL slug."],
        run: slugify,
    },
    Builtin {
        name: "change_case",
        domain: "text",
        description: "Converts a text to upper, lower or title case.",
        params: &[
            req("text", Ty::Str, "text", "The text to convert."),
            req("case", Ty::Enum(CASES), "case", "Target case."),
        ],
        outputs: &[("result", "text")],
        asks: &[
            "rewrite \"{text}\" in {case} case",
            "put \"{text}\" into {case} case",
        ],
        tells: &[
            "In {case} case it reads: \"{result}\".",
            "Here it is in {case} case: \"{result}\".",
        ],
        run: change_case,
    },
    Builtin {
        name: "top_words",
        domain: "text",
        description: "The most frequent words of a text (ignoring common stop words).",
        params: &[
            req("text", Ty::Str, "text", "The text to analyse."),
            opt(
                "limit",
                Ty::Int,
                "word_limit",
                "How many words to return, 1 to 20 (default 5).",
            ),
        ],
        outputs: &[("top[].word", "search_term")],
        asks: &[
            "find the most frequent words in \"{text}\"",
            "tell me which words come up most often in \"{text}\"",
        ],
        tells: &["The most frequent words are {top}.", "Top words: {top}."],
        run: top_words,
    },
];

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-')
        .filter(|w| !w.is_empty())
}

fn word_count(_: &Env, args: &Args) -> Result<Value, String> {
    let text = args.str("text")?;
    let sentences = text
        .split(['.', '!', '?'])
        .filter(|s| s.chars().any(char::is_alphanumeric))
        .count();
    Ok(json!({
        "words": words(text).count(),
        "characters": text.chars().count(),
        "lines": text.lines().count(),
        "sentences": sentences,
    }))
}

fn extract_numbers(_: &Env, args: &Args) -> Result<Value, String> {
    let text = args.str("text")?;
    let mut numbers = Vec::new();
    let mut current = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        let in_number =
            c.is_ascii_digit() || (c == '.' && !current.is_empty() && !current.contains('.'));
        if in_number || (c == '-' && current.is_empty()) {
            current.push(c);
        } else {
            let token = current.trim_end_matches('.');
            if let Ok(n) = token.parse::<f64>() {
                numbers.push(n);
            }
            current.clear();
            if c == '-' {
                current.push(c);
            }
        }
    }
    if numbers.is_empty() {
        return Err("the text contains no numbers".into());
    }
    Ok(json!({ "count": numbers.len(), "numbers": numbers }))
}

fn slugify(_: &Env, args: &Args) -> Result<Value, String> {
    let text = args.str("text")?;
    let slug = words(text)
        .map(|w| {
            w.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if slug.is_empty() {
        return Err("the text has no letters or digits for a slug".into());
    }
    Ok(json!({ "text": text, "slug": slug }))
}

fn change_case(_: &Env, args: &Args) -> Result<Value, String> {
    let text = args.str("text")?;
    let case = args.str("case")?;
    let result = match case {
        "upper" => text.to_uppercase(),
        "lower" => text.to_lowercase(),
        "title" => text
            .split(' ')
            .map(|w| {
                let mut chars = w.chars();
                match chars.next() {
                    Some(first) => first
                        .to_uppercase()
                        .chain(chars.flat_map(char::to_lowercase))
                        .collect(),
                    None => String::new(),
                }
            })
            .collect::<Vec<String>>()
            .join(" "),
        other => return Err(format!("unknown case `{other}`; use upper, lower or title")),
    };
    Ok(json!({ "case": case, "result": result }))
}

fn top_words(_: &Env, args: &Args) -> Result<Value, String> {
    let text = args.str("text")?;
    let limit = match args.opt_i64("limit")? {
        None => 5,
        Some(n @ 1..=20) => n as usize,
        Some(n) => {
            return Err(format!(
                "argument `limit` must be between 1 and 20, got {n}"
            ))
        }
    };
    let mut counts: Vec<(String, usize)> = Vec::new();
    for word in words(text) {
        let word = word.to_lowercase();
        if word.len() < 3 || STOP_WORDS.contains(&word.as_str()) || word.parse::<f64>().is_ok() {
            continue;
        }
        match counts.iter_mut().find(|(w, _)| *w == word) {
            Some((_, n)) => *n += 1,
            None => counts.push((word, 1)),
        }
    }
    if counts.is_empty() {
        return Err("the text has no words to count".into());
    }
    // Stable sort: ties keep their first-appearance order.
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let top: Vec<Value> = counts
        .into_iter()
        .take(limit)
        .map(|(word, count)| json!({ "word": word, "count": count }))
        .collect();
    Ok(json!({ "top": top }))
}
