//! Writing a plan's query and answer the way a person would: an opener that
//! fits the need, one clause per plan step (a repeated step's varied argument
//! becomes a list), values in people's forms ([`super::surface`]), and a
//! check that the query states every argument the calls take.

use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::Value;

use super::intents::{Arg, PlanStep, Source};
use super::phrasing::format_value;
use super::plan::{Call, Plan, Progress};
use super::surface::{render, Form, Style};

const FRAMES: &[&str] = &[
    "Can you tell me {}?",
    "Could you find out {}?",
    "I'd like to know {}.",
    "Please work out {}.",
    "I need to know {}.",
    "Do you know {}?",
    "Could you check {}?",
    "Help me figure out {}.",
    "Tell me {}, please.",
    "Would you work out {}?",
    "Can you look into {}?",
    "Could you calculate {}?",
    "Please look up {}.",
    "I'm curious about {}.",
    "I'd appreciate knowing {}.",
];
const ALSO: &[&str] = &[
    "I'd also like to know {}.",
    "Also, could you tell me {}?",
    "And while you're at it, {}?",
    "Then please check {}.",
    "After that, I'm curious about {}.",
    "One more thing: could you work out {}?",
];
const JOIN: &[&str] = &[" and ", ", and also ", ", as well as "];
const ANSWER_OPENERS: &[&str] = &["Here is what I found.", "Sure.", "Here you go.", ""];

/// How many template draws a query may take to state every argument.
const ATTEMPTS: usize = 12;

/// The steps that ran, in the order of their first call.
fn groups<'p, 'w>(
    plan: &Plan,
    progress: &'p Progress<'w>,
) -> Vec<(&'static PlanStep, &'p [Call<'w>])> {
    let mut groups: Vec<(&PlanStep, &[Call])> = plan
        .intent
        .steps
        .iter()
        .zip(progress.iter())
        .filter(|(_, calls)| !calls.is_empty())
        .map(|(step, calls)| (step, calls.as_slice()))
        .collect();
    groups.sort_by_key(|(_, calls)| calls[0].order);
    groups
}

/// The query; in `agentic` mode, linked steps use their `asks_ref` clauses and
/// their linked arguments need not be stated.
pub fn query(
    plan: &Plan,
    progress: &Progress,
    agentic: bool,
    rng: &mut impl Rng,
) -> Result<String, String> {
    let groups = groups(plan, progress);
    let (first_step, first_calls) = *groups.first().ok_or("the workflow has no call")?;
    let style = plan.style();
    for _ in 0..ATTEMPTS {
        let openers: Vec<String> = plan
            .intent
            .openers
            .iter()
            .filter_map(|t| fill(t, first_step, first_calls, style, None))
            .collect();
        let opener = openers.choose(rng).cloned().unwrap_or_default();
        let mut clauses = Vec::new();
        for (step, calls) in &groups {
            let templates = if agentic && step.is_linked() && !step.asks_ref.is_empty() {
                step.asks_ref
            } else {
                step.asks
            };
            clauses.push(
                clause(templates, step, calls, style, rng)
                    .ok_or_else(|| format!("no ask of `{}` fits its arguments", step.tool))?,
            );
        }
        let text = join(&opener, &clauses, rng);
        let stated = groups.iter().all(|(step, calls)| {
            calls.iter().all(|call| {
                step.args
                    .iter()
                    .filter(|a| !(agentic && matches!(a.source, Source::From(..))))
                    .all(|a| states(&text, a, call.args(), style))
            })
        });
        if stated {
            return Ok(text);
        }
    }
    Err(format!(
        "no wording of the `{}` request states every argument",
        plan.intent.name
    ))
}

/// One answer sentence per call, from its observation.
pub fn response(plan: &Plan, progress: &Progress, rng: &mut impl Rng) -> Result<String, String> {
    let style = plan.style();
    let mut text = ANSWER_OPENERS.choose(rng).copied().unwrap_or("").to_owned();
    for (step, calls) in groups(plan, progress) {
        for call in calls {
            let observation = call.observation();
            let tells: Vec<String> = step
                .tells
                .iter()
                .filter_map(|t| {
                    fill(
                        t,
                        step,
                        std::slice::from_ref(call),
                        style,
                        Some(&observation),
                    )
                })
                .collect();
            let tell = tells.choose(rng).ok_or_else(|| {
                format!("no answer template of `{}` fits its observation", step.tool)
            })?;
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&capitalised(tell));
        }
    }
    Ok(text)
}

/// Does `text` state the call's value of `arg` (when the call has one)?
fn states(text: &str, arg: &Arg, args: &Value, style: Style) -> bool {
    match args.get(arg.param) {
        None | Some(Value::Null) => true,
        Some(value) => render(arg.form, value, style).is_some_and(|r| text.contains(&r)),
    }
}

/// A clause from the templates that render, preferring those that name every
/// argument the call has (an optional argument given is an argument asked for).
fn clause(
    templates: &[&str],
    step: &PlanStep,
    calls: &[Call],
    style: Style,
    rng: &mut impl Rng,
) -> Option<String> {
    // Values the user states elsewhere (shared with an earlier step) need not
    // be repeated; the query as a whole is checked to state them.
    let present: Vec<&str> = step
        .args
        .iter()
        .filter(|a| !matches!(a.source, Source::Same(..) | Source::Shared(_)))
        .filter(|a| calls[0].args().get(a.param).is_some())
        .map(|a| a.param)
        .collect();
    let rendered: Vec<(bool, String)> = templates
        .iter()
        .filter_map(|t| {
            let covers = present.iter().all(|p| t.contains(&format!("{{{p}}}")));
            fill(t, step, calls, style, None).map(|text| (covers, text))
        })
        .collect();
    let covering: Vec<&String> = rendered
        .iter()
        .filter(|(c, _)| *c)
        .map(|(_, t)| t)
        .collect();
    let pool: Vec<&String> = if covering.is_empty() {
        rendered.iter().map(|(_, t)| t).collect()
    } else {
        covering
    };
    pool.choose(rng).map(|s| s.to_string())
}

fn join(opener: &str, clauses: &[String], rng: &mut impl Rng) -> String {
    let mut body = String::new();
    let separate = clauses.len() > 1 && rng.random_bool(0.35);
    let (main, extra) = if separate {
        clauses.split_at(clauses.len() - 1)
    } else {
        clauses.split_at(clauses.len())
    };
    let mut joined = String::new();
    for (i, clause) in main.iter().enumerate() {
        if i > 0 {
            let last = i == main.len() - 1;
            joined.push_str(if last {
                JOIN.choose(rng).copied().unwrap_or(" and ")
            } else {
                ", "
            });
        }
        joined.push_str(clause);
    }
    let frame = FRAMES.choose(rng).copied().unwrap_or("{}?");
    body.push_str(&frame.replacen("{}", &joined, 1));
    for clause in extra {
        let frame = ALSO.choose(rng).copied().unwrap_or("{}?");
        body.push(' ');
        body.push_str(&frame.replacen("{}", clause, 1));
    }
    if opener.is_empty() {
        body
    } else {
        format!("{opener} {body}")
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn form_named(name: &str) -> Option<Form> {
    Some(match name {
        "date" => Form::Date,
        "datetime" => Form::DateTime,
        "zone" => Form::Zone,
        "money" => Form::Money,
        "percent" => Form::Percent,
        "country" => Form::Country,
        "currency" => Form::Currency,
        "unit" => Form::Unit,
        _ => return None,
    })
}

/// Renders one template; `None` when a placeholder has no value.
fn fill(
    template: &str,
    step: &PlanStep,
    calls: &[Call],
    style: Style,
    observation: Option<&Value>,
) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}')? + open;
        let name = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if let Some(choice) = name.strip_prefix("n:") {
            let (one, many) = choice.split_once('|')?;
            out.push_str(if calls.len() > 1 { many } else { one });
            continue;
        }
        if let Some(field) = name.strip_prefix('@') {
            let (field, form) = match field.split_once('|') {
                Some((field, form)) => (field, Some(form_named(form)?)),
                None => (field, None),
            };
            let value = observation?.get(field).filter(|v| !v.is_null())?;
            out.push_str(&match form {
                Some(form) => render(form, value, style)?,
                None => format_value(value, 160),
            });
            continue;
        }
        let form = step.arg(name).map_or(Form::Raw, |a| a.form);
        let varied = step.vary == Some(name) && calls.len() > 1;
        if varied {
            let items: Vec<String> = calls
                .iter()
                .map(|c| c.args().get(name).and_then(|v| render(form, v, style)))
                .collect::<Option<_>>()?;
            out.push_str(&list(&items));
        } else {
            let value = calls.first()?.args().get(name).filter(|v| !v.is_null())?;
            out.push_str(&render(form, value, style)?);
        }
    }
    out.push_str(rest);
    Some(out)
}

/// "a, b and c"; items that hold commas are set off with semicolons.
fn list(items: &[String]) -> String {
    let sep = if items.iter().any(|i| i.contains(',')) {
        "; "
    } else {
        ", "
    };
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [head @ .., last] => format!("{} and {last}", head.join(sep)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_lists() {
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            list(&items(&["Lisbon", "Oslo", "Cairo"])),
            "Lisbon, Oslo and Cairo"
        );
        assert_eq!(
            list(&items(&["March 14, 2026", "June 21, 2026"])),
            "March 14, 2026 and June 21, 2026"
        );
        assert_eq!(
            list(&items(&["March 14, 2026", "June 21, 2026", "May 5, 2026"])),
            "March 14, 2026; June 21, 2026 and May 5, 2026"
        );
    }
}
