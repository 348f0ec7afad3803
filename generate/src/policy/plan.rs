//! One seed's intent and how far its workflow has carried it out: which plan
//! steps ran (matched by tool), which may run next, and the arguments of a
//! step's next call. Everything is a function of the seed and the workflow, so
//! every role of the rule policy reaches the same plan on its own.

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;
use serde_json::{Map, Value};

use super::intents::{Intent, PlanStep, Source, INTENTS};
use super::rule::{hash_str, seeded};
use super::surface::Style;
use super::DataFlow;
use crate::workflow::{Step, Workflow};
use toolgrad_tools::builtin::Env;
use toolgrad_tools::ToolBox;

/// One call of the workflow that a plan step made.
#[derive(Debug, Clone, Copy)]
pub struct Call<'w> {
    pub chain_id: &'w str,
    /// Position among all the workflow's calls, in workflow order.
    pub order: usize,
    pub step: &'w Step,
}

impl Call<'_> {
    pub fn args(&self) -> &Value {
        &self.step.action().tool_input
    }

    pub fn observation(&self) -> Value {
        serde_json::from_str(self.step.observation()).unwrap_or(Value::Null)
    }
}

/// The calls of each plan step, indexed like the intent's steps.
pub type Progress<'w> = Vec<Vec<Call<'w>>>;

/// A seed's intent, how many calls it aims at, and whether steps repeat.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub intent: &'static Intent,
    pub target: usize,
    /// Whether repeatable steps repeat (BFCL's parallel shape).
    pub parallel: bool,
    /// Whether steps not yet called come before repeats of called ones, so
    /// that a repeated step shares the request with others (BFCL's parallel
    /// multiple shape) instead of filling it alone.
    pub breadth_first: bool,
    seed: u64,
}

impl Plan {
    /// The seed's plan among the intents whose tools the toolbox has.
    pub fn for_seed(seed: u64, toolbox: &ToolBox) -> Option<Plan> {
        let usable: Vec<&'static Intent> = INTENTS
            .iter()
            .filter(|intent| intent.steps.iter().all(|s| toolbox.spec(s.tool).is_some()))
            .collect();
        let mut rng = seeded(&[seed, 0x1A7E]);
        let intent = *usable.choose(&mut rng)?;
        let parallel = rng.random_bool(0.75);
        let capacity: usize = intent
            .steps
            .iter()
            .map(|s| 1 + if parallel { s.repeat } else { 0 })
            .sum();
        let target = match rng.random::<f64>() {
            x if x < 0.25 => 1,
            x if x < 0.55 => 2,
            x if x < 0.85 => 3,
            _ => 4,
        };
        Some(Plan {
            intent,
            target: target.min(capacity),
            parallel,
            breadth_first: seeded(&[seed, 0xB4EA]).random_bool(0.5),
            seed,
        })
    }

    /// The calls of each step; `None` when a call is not part of the plan.
    pub fn progress<'w>(&self, workflow: &'w Workflow) -> Option<Progress<'w>> {
        let mut progress: Progress = vec![Vec::new(); self.intent.steps.len()];
        let mut order = 0;
        for (chain_id, chain) in &workflow.api_use_chains {
            for step in &chain.intermediate_steps {
                let (index, _) = self.intent.step_of_tool(&step.action().tool)?;
                progress[index].push(Call {
                    chain_id,
                    order,
                    step,
                });
                order += 1;
            }
        }
        Some(progress)
    }

    fn limit(&self, step: &PlanStep) -> usize {
        1 + if self.parallel { step.repeat } else { 0 }
    }

    /// Steps that may run next, most wanted first; empty once the target is met.
    pub fn options(&self, progress: &Progress) -> Vec<usize> {
        self.options_for(&progress.iter().map(Vec::len).collect::<Vec<_>>())
    }

    /// [`Self::options`] given how many calls each step has made.
    pub fn options_for(&self, calls: &[usize]) -> Vec<usize> {
        let made: usize = calls.iter().sum();
        if made >= self.target || calls.len() != self.intent.steps.len() {
            return Vec::new();
        }
        let mut order: Vec<usize> = (0..self.intent.steps.len()).collect();
        order.shuffle(&mut seeded(&[self.seed, 0x0FDE]));
        if self.breadth_first {
            order.sort_by_key(|&i| calls[i]);
        }
        order
            .into_iter()
            .filter(|&i| {
                let step = &self.intent.steps[i];
                let ready = step
                    .after
                    .is_none_or(|after| self.index(after).is_some_and(|j| calls[j] > 0));
                ready && calls[i] < self.limit(step)
            })
            .collect()
    }

    /// The sample's surface style: one for its query, answer and multi-turn query.
    pub fn style(&self) -> Style {
        Style::new(&mut seeded(&[self.seed, 0x57]))
    }

    pub fn index(&self, id: &str) -> Option<usize> {
        self.intent.steps.iter().position(|s| s.id == id)
    }

    /// Arguments for the next call of step `index`, and the data flow behind
    /// them. A repeat keeps the first call's arguments and varies one.
    pub fn fill(
        &self,
        index: usize,
        progress: &Progress,
        pools: &dyn Fn(&str, &str) -> Vec<Value>,
        env: &Env,
        rng: &mut StdRng,
    ) -> Result<(Value, Vec<DataFlow>), String> {
        let step = &self.intent.steps[index];
        if let Some(first) = progress[index].first() {
            let vary = step
                .vary
                .ok_or_else(|| format!("step `{}` does not repeat", step.id))?;
            let arg = step
                .arg(vary)
                .ok_or_else(|| format!("step `{}` varies an unknown argument", step.id))?;
            let used: Vec<&Value> = progress[index]
                .iter()
                .filter_map(|c| c.args().get(vary))
                .collect();
            let fresh: Vec<Value> = self
                .choices(step.tool, vary, arg.source, pools)
                .into_iter()
                .filter(|v| !used.contains(&v))
                .collect();
            let value = fresh
                .choose(rng)
                .cloned()
                .ok_or_else(|| format!("no unused value is left for `{vary}`"))?;
            let mut args = first.args().clone();
            args[vary] = value;
            return Ok((args, Vec::new()));
        }
        let mut args = Map::new();
        let mut flow = Vec::new();
        let mut near: Option<usize> = None;
        for arg in step.args {
            if arg.chance < 1.0 && !rng.random_bool(arg.chance) {
                continue;
            }
            let value = match arg.source {
                Source::Same(from, param) => self
                    .first_call(from, progress)?
                    .args()
                    .get(param)
                    .cloned()
                    .ok_or_else(|| format!("step `{from}` has no argument `{param}`"))?,
                Source::From(from, path) => {
                    let call = self.first_call(from, progress)?;
                    let value = extract(&call.observation(), path)
                        .ok_or_else(|| format!("step `{from}` observed nothing at `{path}`"))?;
                    flow.push(DataFlow {
                        param: arg.param.to_owned(),
                        chain_id: call.chain_id.to_owned(),
                        from_tool: call.step.action().tool.clone(),
                        from_path: path.to_owned(),
                    });
                    value
                }
                Source::Shared(kind) => {
                    let values = pools(step.tool, kind);
                    let mut shared = seeded(&[self.seed, hash_str(kind)]);
                    values
                        .choose(&mut shared)
                        .cloned()
                        .ok_or_else(|| format!("the pool `{kind}` is empty"))?
                }
                Source::After(other) => {
                    let start = args
                        .get(other)
                        .cloned()
                        .ok_or_else(|| format!("`{}` needs `{other}` first", arg.param))?;
                    let source = step
                        .arg(other)
                        .map(|a| a.source)
                        .ok_or_else(|| format!("no argument `{other}`"))?;
                    let later: Vec<Value> = self
                        .choices(step.tool, other, source, pools)
                        .into_iter()
                        .filter(|v| sorts_after(v, &start))
                        .collect();
                    later
                        .choose(rng)
                        .cloned()
                        .ok_or_else(|| format!("no value sorts after `{start}`"))?
                }
                Source::Near(axis) => {
                    let city = *near.get_or_insert_with(|| rng.random_range(0..env.cities.len()));
                    let city = env
                        .cities
                        .get(city)
                        .ok_or_else(|| "the city table is empty".to_owned())?;
                    let base = if axis == "latitude" {
                        city.latitude
                    } else {
                        city.longitude
                    };
                    let jitter: f64 = rng.random_range(-0.3..0.3);
                    Value::from(((base + jitter) * 100.0).round() / 100.0)
                }
                source => {
                    let taken: Vec<&Value> = args.values().collect();
                    let fresh: Vec<Value> = self
                        .choices(step.tool, arg.param, source, pools)
                        .into_iter()
                        .filter(|v| !taken.contains(&v))
                        .collect();
                    fresh
                        .choose(rng)
                        .cloned()
                        .ok_or_else(|| format!("no value for `{}`", arg.param))?
                }
            };
            args.insert(arg.param.to_owned(), value);
        }
        Ok((Value::Object(args), flow))
    }

    fn first_call<'p, 'w>(
        &self,
        id: &str,
        progress: &'p Progress<'w>,
    ) -> Result<&'p Call<'w>, String> {
        self.index(id)
            .and_then(|i| progress[i].first())
            .ok_or_else(|| format!("step `{id}` has not run"))
    }

    /// The values a pool-like source offers.
    fn choices(
        &self,
        tool: &str,
        param: &str,
        source: Source,
        pools: &dyn Fn(&str, &str) -> Vec<Value>,
    ) -> Vec<Value> {
        match source {
            Source::Pool(kind) | Source::Shared(kind) => {
                let values = pools(tool, kind);
                if values.is_empty() {
                    pools(tool, param)
                } else {
                    values
                }
            }
            Source::Str(items) => items.iter().map(|s| Value::from(*s)).collect(),
            Source::Int(items) => items.iter().map(|&x| Value::from(x)).collect(),
            Source::Num(items) => items.iter().map(|&x| Value::from(x)).collect(),
            _ => Vec::new(),
        }
    }
}

fn sorts_after(value: &Value, start: &Value) -> bool {
    match (value, start) {
        (Value::String(a), Value::String(b)) => a > b,
        (a, b) => a.as_f64().zip(b.as_f64()).is_some_and(|(a, b)| a > b),
    }
}

/// Reads `field`, `list[first].field`, `list[last].field` or `list[first]`.
pub fn extract(output: &Value, path: &str) -> Option<Value> {
    let Some((head, rest)) = path.split_once('[') else {
        return output.get(path).filter(|v| !v.is_null()).cloned();
    };
    let (which, field) = rest.split_once(']')?;
    let items = output.get(head)?.as_array()?;
    let item = match which {
        "first" => items.first()?,
        "last" => items.last()?,
        _ => return None,
    };
    let field = field.trim_start_matches('.');
    let value = if field.is_empty() {
        item
    } else {
        item.get(field)?
    };
    (!value.is_null()).then(|| value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_read_fields_and_list_ends() {
        let output =
            json!({"top": "P-1", "orders": [{"id": "O-1"}, {"id": "O-2"}], "files": ["a", "b"]});
        assert_eq!(extract(&output, "top"), Some(json!("P-1")));
        assert_eq!(extract(&output, "orders[last].id"), Some(json!("O-2")));
        assert_eq!(extract(&output, "orders[first].id"), Some(json!("O-1")));
        assert_eq!(extract(&output, "files[first]"), Some(json!("a")));
        assert_eq!(extract(&output, "orders[2].id"), None);
        assert_eq!(extract(&output, "missing"), None);
    }
}
