//! Writing a query and a response from executed chains with per-tool phrase
//! templates. Every concrete value comes from a step's arguments or observation.

use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::Value;
use toolgrad_core::text::truncate_chars;

use toolgrad_tools::ToolHints;

const STARTERS: &[&str] = &[
    "Could you {}?",
    "Please {}.",
    "I need you to {}.",
    "Can you {}?",
];
const THEN: &[&str] = &[", then ", ", and after that ", ", and then "];
const ALSO: &[&str] = &[
    "Also, {}.",
    "Separately, {}.",
    "On top of that, {}.",
    "While you're at it, {}.",
];
const ANSWER_OPENERS: &[&str] = &["Here is what I found.", "Done.", "Here you go."];

fn openers(domain: &str) -> &'static [&'static str] {
    match domain {
        "geography" => &["I'm planning a trip.", "I'm sketching out a travel route."],
        "time" => &["I'm sorting out my schedule.", "I'm planning some dates."],
        "business" => &[
            "I'm preparing a report on our shop.",
            "I'm looking into our store's records.",
        ],
        "math" => &[
            "I'm working through some numbers.",
            "I'm doing some financial planning.",
        ],
        "statistics" => &[
            "I have some data to analyse.",
            "I'm crunching a few figures.",
        ],
        "units" => &[
            "I need a quick conversion.",
            "I'm converting some measurements.",
        ],
        "countries" => &[
            "I'm reading up on some countries.",
            "I'm preparing for an international project.",
        ],
        "text" => &[
            "I'm editing some text.",
            "I'm cleaning up a piece of writing.",
        ],
        "files" => &["I'm going through my files.", "I'm tidying up my notes."],
        "sun" => &[
            "I'm planning an outdoor photo shoot.",
            "I want to make the most of the daylight.",
        ],
        _ => &["I have a few things to look up."],
    }
}

/// A step to phrase: the tool's hints, its arguments and its parsed observation.
pub struct Phrased<'a> {
    pub hints: &'a ToolHints,
    pub args: &'a Value,
    pub output: Value,
    /// Arguments to name by reference ("that city") instead of by value: they
    /// come from an earlier observation, which the agentic query must not state.
    pub by_reference: Vec<&'a str>,
}

/// How a request refers to a value of `kind` that an earlier result supplies.
fn reference(kind: &str) -> String {
    match kind {
        "date" | "sales_date" | "datetime" => "that date".into(),
        "timezone" => "that time zone".into(),
        "latitude" | "longitude" => "those coordinates".into(),
        "numbers" | "xs" | "ys" => "those numbers".into(),
        "integer" | "value" | "percent" | "rate_percent" => "that number".into(),
        "amount" => "that amount".into(),
        "text" => "that text".into(),
        "file_path" => "that file".into(),
        "country_code" => "that country".into(),
        "customer_id" => "that customer".into(),
        "order_id" => "that order".into(),
        "product_id" => "that product".into(),
        // Templates name the unit: "for {months} months".
        "day_count" | "years" | "months" => "that many".into(),
        other => format!("that {}", other.replace('_', " ")),
    }
}

/// Writes the query: an opener, then each chain's asks joined in order.
pub fn query(chains: &[Vec<Phrased>], rng: &mut impl Rng) -> Option<String> {
    let first = chains.first()?.first()?;
    let mut text = pick(openers(first.hints.domain), rng).to_owned();
    for (i, chain) in chains.iter().enumerate() {
        let asks: Vec<String> = chain
            .iter()
            .map(|step| fill_any(step.hints.asks, step, rng, 200))
            .collect::<Option<_>>()?;
        let mut sentence = asks[0].clone();
        for ask in &asks[1..] {
            sentence.push_str(pick(THEN, rng));
            sentence.push_str(ask);
        }
        let frame = if i == 0 {
            pick(STARTERS, rng)
        } else {
            pick(ALSO, rng)
        };
        text.push(' ');
        text.push_str(&frame.replacen("{}", &sentence, 1));
    }
    Some(text)
}

/// Writes the response: one answer sentence per step, in chain order.
pub fn response(chains: &[Vec<Phrased>], rng: &mut impl Rng) -> Option<String> {
    let mut text = pick(ANSWER_OPENERS, rng).to_owned();
    for step in chains.iter().flatten() {
        text.push(' ');
        text.push_str(&fill_any(step.hints.tells, step, rng, 160)?);
    }
    Some(text)
}

fn pick<'a>(items: &[&'a str], rng: &mut impl Rng) -> &'a str {
    items.choose(rng).copied().unwrap_or("")
}

/// The first template, from a random start, whose placeholders all resolve.
fn fill_any(templates: &[&str], step: &Phrased, rng: &mut impl Rng, cap: usize) -> Option<String> {
    if templates.is_empty() {
        return None;
    }
    let start = rng.random_range(0..templates.len());
    (0..templates.len())
        .map(|k| templates[(start + k) % templates.len()])
        .find_map(|template| fill(template, step, cap))
}

/// Replaces `{name}` with the argument or output of that name.
pub fn fill(template: &str, step: &Phrased, cap: usize) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}')? + open;
        let name = &rest[open + 1..close];
        if step.by_reference.contains(&name) {
            let kind = step
                .hints
                .param_kinds
                .iter()
                .find(|(param, _)| *param == name)
                .map_or(name, |(_, kind)| *kind);
            let phrase = reference(kind);
            // "(that x, that x)" and "that x, that x" read as one reference.
            let repeated = format!("{phrase}, ");
            if out.ends_with(&repeated) {
                out.truncate(out.len() - repeated.len());
            }
            out.push_str(&phrase);
            rest = &rest[close + 1..];
            let bracketed = format!("({phrase}");
            if out.ends_with(&bracketed) && rest.starts_with(')') {
                let open_at = out.len() - bracketed.len();
                out.remove(open_at);
                rest = &rest[1..];
            }
            continue;
        }
        let value = step
            .args
            .get(name)
            .filter(|v| !v.is_null())
            .or_else(|| step.output.get(name).filter(|v| !v.is_null()))?;
        out.push_str(&format_value(value, cap));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Human-readable value: integers without `.0`, lists as "a, b and c",
/// records as "first (rest, ...)", long text cut at `cap` characters.
pub fn format_value(value: &Value, cap: usize) -> String {
    match value {
        Value::String(s) => {
            let mut flat = s.replace('\n', " / ");
            if truncate_chars(&mut flat, cap) {
                flat.push('…');
            }
            flat
        }
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
            _ => n.to_string(),
        },
        Value::Array(items) => {
            // Requests (long `cap`) quote every item; answers summarise.
            let limit = if cap >= 200 { items.len() } else { 5 };
            let shown: Vec<String> = items
                .iter()
                .take(limit)
                .map(|v| format_value(v, cap))
                .collect();
            // A cut list says how long it is: a count the observation holds.
            match shown.len() {
                0 => "nothing".to_owned(),
                _ if items.len() > limit => {
                    format!("{}, … ({} in all)", shown.join(", "), items.len())
                }
                1 => shown[0].clone(),
                n => format!("{} and {}", shown[..n - 1].join(", "), shown[n - 1]),
            }
        }
        Value::Object(map) => {
            let mut values = map.values().map(|v| format_value(v, cap));
            let head = values.next().unwrap_or_default();
            let rest: Vec<String> = values.collect();
            if rest.is_empty() {
                head
            } else {
                format!("{head} ({})", rest.join(", "))
            }
        }
        Value::Bool(b) => b.to_string(),
        Value::Null => "none".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_read_naturally() {
        assert_eq!(format_value(&json!(84.0), 100), "84");
        assert_eq!(format_value(&json!(2.5), 100), "2.5");
        assert_eq!(format_value(&json!(["a", "b", "c"]), 100), "a, b and c");
        assert_eq!(
            format_value(&json!([{"word": "tea", "count": 2}]), 100),
            "tea (2)"
        );
        assert_eq!(format_value(&json!("abcdef"), 3), "abc…");
    }

    #[test]
    fn templates_take_arguments_then_outputs_and_refuse_unknown_names() {
        let hints = ToolHints {
            domain: "geography",
            param_kinds: vec![],
            outputs: vec![],
            asks: &[],
            tells: &[],
        };
        let args = json!({"city_a": "Paris", "city_b": "Rome"});
        let mut step = Phrased {
            hints: &hints,
            args: &args,
            output: json!({"distance": 1105.8, "unit": "km"}),
            by_reference: vec![],
        };
        assert_eq!(
            fill("{city_a} to {city_b}: {distance} {unit}", &step, 100).unwrap(),
            "Paris to Rome: 1105.8 km"
        );
        assert_eq!(fill("{missing}", &step, 100), None);
        step.by_reference = vec!["city_b"];
        assert_eq!(
            fill("how far {city_a} is from {city_b}", &step, 100).unwrap(),
            "how far Paris is from that city b"
        );
    }

    #[test]
    fn coordinates_by_reference_read_as_one_phrase() {
        let hints = ToolHints {
            domain: "geography",
            param_kinds: vec![("lat", "latitude"), ("lon", "longitude")],
            outputs: vec![],
            asks: &[],
            tells: &[],
        };
        let args = json!({"lat": 38.7, "lon": -9.1});
        let step = Phrased {
            hints: &hints,
            args: &args,
            output: Value::Null,
            by_reference: vec!["lat", "lon"],
        };
        assert_eq!(
            fill("the nearest city to ({lat}, {lon})", &step, 100).unwrap(),
            "the nearest city to those coordinates"
        );
        assert_eq!(
            fill("the nearest city to {lat}, {lon}", &step, 100).unwrap(),
            "the nearest city to those coordinates"
        );
    }
}
