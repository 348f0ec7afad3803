//! A `toolgrad generate` run (`dataset.jsonl` + `tools.json`) → samples:
//! candidates (the used tools plus shuffled distractors, some of them from the
//! used tools' families when `near_distractors` asks for it), irrelevance
//! negatives that exclude every used tool's family, the multi-turn trace, and a
//! train/test split by workflow.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;
use serde_json::{Map, Value};
use toolgrad_core::text::truncate_chars;
use toolgrad_generate::catalog::{self, CatalogTool};
use toolgrad_generate::derived::{derived_values, leaked};
use toolgrad_generate::policy::rule::{hash_str, seeded};
use toolgrad_generate::run::DatasetRecord;
use toolgrad_generate::workflow::Workflow;

use crate::config::FormatConfig;
use crate::error::{FormatError, Result};
use crate::names::callable;
use crate::sample::{Call, Function, Round, Sample, Trace};

/// A run's records and its tool catalog.
pub struct Run {
    pub records: Vec<DatasetRecord>,
    pub catalog: Vec<CatalogTool>,
}

/// Reads `<dir>/dataset.jsonl` and `<dir>/tools.json`; errors name the file and line.
pub fn load(dir: &Path) -> Result<Run> {
    let dataset = dir.join("dataset.jsonl");
    let text = std::fs::read_to_string(&dataset).map_err(|e| FormatError::io(&dataset, e))?;
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: DatasetRecord = serde_json::from_str(line)
            .map_err(|e| FormatError::data(&dataset, index + 1, e.to_string()))?;
        records.push(record);
    }
    let tools = dir.join(catalog::FILE);
    if !tools.exists() {
        return Err(FormatError::io(
            &tools,
            "missing: this run predates the tool catalog; resume it with `toolgrad generate` \
             (same --config and --out) to write it",
        ));
    }
    let catalog = catalog::read(&tools).map_err(|e| FormatError::Invalid(e.to_string()))?;
    Ok(Run { records, catalog })
}

/// Which split a workflow (and its negative) belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// What formatting a run produced, and what it left out and why.
pub struct Built {
    pub samples: Vec<(Split, Sample)>,
    /// Workflows without a usable multi-turn query (`id: reason`).
    pub agentic_skipped: Vec<String>,
    /// Negatives that could not be built (`id: reason`).
    pub negatives_skipped: Vec<String>,
    /// Records that cannot become a sample (`id: reason`).
    pub malformed: Vec<String>,
}

/// Cuts every `description` in a schema to `cap` characters.
fn cap_descriptions(schema: &mut Value, cap: usize) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(text) if key == "description" => {
                        truncate_chars(text, cap);
                    }
                    _ => cap_descriptions(value, cap),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| cap_descriptions(v, cap)),
        _ => {}
    }
}

/// The candidate as a model sees it.
pub fn function(tool: &CatalogTool, cap: usize) -> Function {
    let mut description = tool.description.clone();
    truncate_chars(&mut description, cap);
    let mut parameters = tool.parameters.clone();
    cap_descriptions(&mut parameters, cap);
    Function {
        name: callable(&tool.name),
        description,
        parameters,
        family: tool.family.clone(),
    }
}

/// `n` tools from `pool`, minus those whose model-facing name is taken.
fn distractors<'a>(
    pool: &[&'a CatalogTool],
    taken: &mut HashSet<String>,
    n: usize,
    rng: &mut StdRng,
) -> Vec<&'a CatalogTool> {
    let mut shuffled = pool.to_vec();
    shuffled.shuffle(rng);
    shuffled
        .into_iter()
        .filter(|tool| taken.insert(callable(&tool.name)))
        .take(n)
        .collect()
}

/// `n` tools from `pool`, each one drawn with probability `near_share` from
/// the tools of `families` (while any is left) and otherwise from the rest
/// (while any is left), minus those whose model-facing name is taken.
fn mixed_distractors<'a>(
    pool: &[&'a CatalogTool],
    families: &HashSet<&str>,
    near_share: f64,
    taken: &mut HashSet<String>,
    n: usize,
    rng: &mut StdRng,
) -> Vec<&'a CatalogTool> {
    let (near, far): (Vec<&CatalogTool>, Vec<&CatalogTool>) = pool
        .iter()
        .partition(|tool| families.contains(tool.family.as_str()));
    let mut near = distractors(&near, taken, n, rng);
    let mut far = distractors(&far, taken, n, rng);
    let mut chosen = Vec::with_capacity(n);
    while chosen.len() < n && !(near.is_empty() && far.is_empty()) {
        let from_near = far.is_empty() || (!near.is_empty() && rng.random_bool(near_share));
        let tool = if from_near { near.pop() } else { far.pop() };
        chosen.extend(tool);
    }
    chosen
}

fn used_tools(workflow: &Workflow) -> Vec<String> {
    let mut seen = HashSet::new();
    workflow
        .steps()
        .map(|s| s.action().tool.clone())
        .filter(|name| seen.insert(name.clone()))
        .collect()
}

fn arguments(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// The multi-turn trace: round `k` makes the `k`-th call of every chain.
fn trace(workflow: &Workflow, query: String) -> Trace {
    let depth = workflow
        .api_use_chains
        .values()
        .map(|c| c.intermediate_steps.len())
        .max()
        .unwrap_or(0);
    let rounds = (0..depth)
        .map(|k| {
            let steps: Vec<_> = workflow
                .api_use_chains
                .values()
                .filter_map(|c| c.intermediate_steps.get(k))
                .collect();
            Round {
                calls: steps
                    .iter()
                    .map(|s| Call {
                        name: callable(&s.action().tool),
                        arguments: arguments(&s.action().tool_input),
                    })
                    .collect(),
                observations: steps.iter().map(|s| s.observation().to_owned()).collect(),
            }
        })
        .collect();
    Trace {
        query,
        rounds,
        answer: workflow.response.clone(),
    }
}

/// The agentic query, if the workflow has one that states no derived value.
fn agentic_query(workflow: &Workflow) -> Result<String, String> {
    let query = workflow
        .agentic_query
        .clone()
        .ok_or("no agentic query (its writer failed: see `agentic_query_error` in metadata/<id>.json; or the run predates it)")?;
    let derived = derived_values(workflow);
    match leaked(&query, &derived).first() {
        Some(leak) => Err(format!(
            "the agentic query states {}, which an observation supplies",
            leak.value
        )),
        None => Ok(query),
    }
}

/// Which of `n` items (records or imported samples) form the test split: a
/// seeded `test_ratio` share.
pub fn test_members(n: usize, config: &FormatConfig) -> HashSet<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut seeded(&[config.seed, 1]));
    let num_test = (n as f64 * config.test_ratio).round() as usize;
    order[..num_test.min(n)].iter().copied().collect()
}

/// Formats every record of a run into samples.
pub fn build(run: &Run, config: &FormatConfig) -> Result<Built> {
    let by_name: HashMap<&str, &CatalogTool> =
        run.catalog.iter().map(|t| (t.name.as_str(), t)).collect();
    // The distractor pool, in a fixed order: every sample draws from it.
    let mut distractor_pool: Vec<&CatalogTool> = by_name.values().copied().collect();
    distractor_pool.sort_by(|a, b| a.name.cmp(&b.name));
    let test = test_members(run.records.len(), config);
    let mut built = Built {
        samples: Vec::new(),
        agentic_skipped: Vec::new(),
        negatives_skipped: Vec::new(),
        malformed: Vec::new(),
    };
    for split in [Split::Train, Split::Test] {
        let members: Vec<usize> = (0..run.records.len())
            .filter(|i| test.contains(i) == (split == Split::Test))
            .collect();
        let num_negatives = (members.len() as f64 * config.negative_ratio) as usize;
        let mut negative_rng = seeded(&[config.seed, 2, split as u64]);
        let negatives: HashSet<usize> = members
            .choose_multiple(&mut negative_rng, num_negatives.min(members.len()))
            .copied()
            .collect();
        for &i in &members {
            let record = &run.records[i];
            let mut sample = match positive(record, &by_name, &distractor_pool, config) {
                Ok(sample) => sample,
                Err(reason) => {
                    built.malformed.push(format!("{}: {reason}", record.id));
                    continue;
                }
            };
            let agentic = agentic_query(&record.workflow);
            match &agentic {
                Ok(query) => sample.trace = Some(trace(&record.workflow, query.clone())),
                Err(reason) => built
                    .agentic_skipped
                    .push(format!("{}: {reason}", record.id)),
            }
            built.samples.push((split, sample));
            if negatives.contains(&i) {
                match negative(record, &run.catalog, config, agentic.ok()) {
                    Ok(sample) => built.samples.push((split, sample)),
                    Err(reason) => built
                        .negatives_skipped
                        .push(format!("{}: {reason}", record.id)),
                }
            }
        }
    }
    Ok(built)
}

fn positive(
    record: &DatasetRecord,
    by_name: &HashMap<&str, &CatalogTool>,
    catalog: &[&CatalogTool],
    config: &FormatConfig,
) -> Result<Sample, String> {
    let workflow = &record.workflow;
    if let Some(step) = workflow
        .steps()
        .find(|s| !s.action().tool_input.is_object())
    {
        return Err(format!(
            "the arguments of `{}` are not a JSON object",
            step.action().tool
        ));
    }
    let used: Vec<&CatalogTool> = used_tools(workflow)
        .iter()
        .map(|name| {
            by_name
                .get(name.as_str())
                .copied()
                .ok_or_else(|| format!("tool `{name}` is not in tools.json"))
        })
        .collect::<Result<_, String>>()?;
    let mut taken: HashSet<String> = HashSet::new();
    for tool in &used {
        if !taken.insert(callable(&tool.name)) {
            return Err(format!(
                "two used tools share the callable name `{}`",
                callable(&tool.name)
            ));
        }
    }
    let used_names: HashSet<&str> = used.iter().map(|t| t.name.as_str()).collect();
    let pool: Vec<&CatalogTool> = catalog
        .iter()
        .copied()
        .filter(|t| !used_names.contains(t.name.as_str()))
        .collect();
    let mut rng = seeded(&[config.seed, 3, hash_str(&record.id)]);
    let wanted = config.candidate_count(&mut rng).saturating_sub(used.len());
    let mut candidates = used.clone();
    if config.near_distractors > 0.0 {
        let families: HashSet<&str> = used.iter().map(|t| t.family.as_str()).collect();
        candidates.extend(mixed_distractors(
            &pool,
            &families,
            config.near_distractors,
            &mut taken,
            wanted,
            &mut rng,
        ));
    } else {
        candidates.extend(distractors(&pool, &mut taken, wanted, &mut rng));
    }
    candidates.shuffle(&mut rng);
    Ok(Sample {
        id: record.id.clone(),
        source: "toolgrad".into(),
        query: workflow.query.clone(),
        tools: candidates
            .iter()
            .map(|t| function(t, config.description_cap))
            .collect(),
        calls: workflow
            .steps()
            .map(|s| Call {
                name: callable(&s.action().tool),
                arguments: arguments(&s.action().tool_input),
            })
            .collect(),
        chain_lengths: workflow
            .api_use_chains
            .values()
            .map(|c| c.intermediate_steps.len())
            .collect(),
        negative: false,
        trace: None,
    })
}

/// The irrelevance sample: the same query, candidates from other families only.
fn negative(
    record: &DatasetRecord,
    catalog: &[CatalogTool],
    config: &FormatConfig,
    agentic: Option<String>,
) -> Result<Sample, String> {
    let used: HashSet<String> = used_tools(&record.workflow).into_iter().collect();
    let families: HashSet<&str> = catalog
        .iter()
        .filter(|t| used.contains(&t.name))
        .map(|t| t.family.as_str())
        .collect();
    let pool: Vec<&CatalogTool> = catalog
        .iter()
        .filter(|t| !used.contains(&t.name) && !families.contains(t.family.as_str()))
        .collect();
    if pool.is_empty() {
        return Err("every tool of the catalog shares a family with a used tool".into());
    }
    let mut rng = seeded(&[config.seed, 4, hash_str(&record.id)]);
    let mut taken = HashSet::new();
    let count = config.candidate_count(&mut rng);
    let candidates = distractors(&pool, &mut taken, count, &mut rng);
    Ok(Sample {
        id: format!("{}-neg", record.id),
        source: "toolgrad".into(),
        query: record.workflow.query.clone(),
        tools: candidates
            .iter()
            .map(|t| function(t, config.description_cap))
            .collect(),
        calls: Vec::new(),
        chain_lengths: Vec::new(),
        negative: true,
        trace: agentic.map(|query| Trace {
            query,
            rounds: Vec::new(),
            answer: config.refusal.clone(),
        }),
    })
}
