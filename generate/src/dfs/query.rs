//! The DFS baseline's query writer: ToolBench's query-generation prompt,
//! adapted to one query per seed over the sampled APIs, answered as a
//! structured `{query, related_apis}` whose API names are an enum of the sample.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use toolgrad_core::llm::ChatMessage;
use toolgrad_core::text::truncate_chars;

use crate::llm::RoleLlm;
use crate::policy::llm::alias;
use crate::policy::{Counters, RoleError};
use toolgrad_tools::ToolBox;

/// The structured output's name.
pub const OUTPUT: &str = "DfsQuery";

/// The most APIs a query may relate to (ToolBench asks for 2 to 5).
const MAX_RELATED: usize = 5;

const ROLE: &str = "query writer";

const SYSTEM: &str = "You are QueryGPT, a helpful assistant who can strictly follow my instructions to generate diverse real queries.";

fn prompt(apis: &str) -> String {
    format!(
        "You will be provided with several APIs, their descriptions and the parameters each API takes. \
Your task is to create ONE varied, innovative and detailed user query that employs 2 to 5 of these APIs. \
For instance, given the APIs 'get_all_climate_change_news', 'look_up_climate_today' and 'historical_climate', your query should articulate something akin to: \
first, determine today's weather, then verify how often it rains in Ohio in September, and finally, find news about climate change to help me understand whether the climate will change anytime soon. \
A query that only uses one API will not be accepted. \
Additionally, you must incorporate the input parameters required for each API call. To achieve this, generate concrete values for required parameters such as places, dates, amounts, identifiers or coordinates. \
For instance, don't merely say 'a city', name it; don't just mention 'an amount', state it. \
Note that you shouldn't ask 'which API to use', rather, simply state your needs that can be addressed by these APIs. \
You should also avoid asking for the input parameters required by the API call, but instead directly provide the parameters in your query. \
You should first think about possible related API combinations, then give your query. \
related_apis are the APIs that can be used for the query; they have to strictly come from the provided API names.\n\
Deliver your response as a JSON object: {{\"query\": \"...\", \"related_apis\": [\"api1\", \"api2\", ...]}}\n\n\
APIs:\n{apis}"
    )
}

/// A query and the APIs it was written for (real names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WrittenQuery {
    pub query: String,
    pub related_apis: Vec<String>,
}

/// Asks for one query over `sampled`; an unusable reply is the seed's error.
pub async fn write(
    llm: &RoleLlm,
    toolbox: &ToolBox,
    sampled: &[String],
    counters: &Counters,
) -> Result<WrittenQuery, RoleError> {
    let specs: Vec<_> = sampled.iter().filter_map(|n| toolbox.spec(n)).collect();
    if specs.is_empty() {
        return Err(RoleError::new(ROLE, "no tools were sampled"));
    }
    let aliases: HashMap<String, String> = specs
        .iter()
        .map(|s| (alias(&s.name), s.name.clone()))
        .collect();
    let names: Vec<String> = specs.iter().map(|s| alias(&s.name)).collect();
    let apis: Vec<Value> = specs
        .iter()
        .map(|s| json!({"name": alias(&s.name), "description": s.description, "parameters": s.parameters}))
        .collect();
    let schema = json!({
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "related_apis": {"type": "array", "items": {"type": "string", "enum": names}},
        },
        "required": ["query", "related_apis"],
        "additionalProperties": false,
    });
    let listing = serde_json::to_string_pretty(&apis).unwrap_or_default();
    let messages = vec![
        ChatMessage::new("system", SYSTEM),
        ChatMessage::new("user", prompt(&listing)),
    ];
    let value = llm
        .structured(ROLE, messages, OUTPUT, &schema, counters)
        .await?;
    let query = value["query"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if query.is_empty() {
        return Err(RoleError::new(ROLE, "the query is empty"));
    }
    let mut related: Vec<String> = Vec::new();
    for name in value["related_apis"].as_array().into_iter().flatten() {
        if let Some(real) = name.as_str().and_then(|n| aliases.get(n)) {
            if !related.contains(real) {
                related.push(real.clone());
            }
        }
    }
    let least = specs.len().min(2);
    if related.len() < least || related.len() > MAX_RELATED {
        let mut quoted = query.clone();
        if truncate_chars(&mut quoted, 160) {
            quoted.push('…');
        }
        return Err(RoleError::new(
            ROLE,
            format!(
                "the query relates to {} distinct APIs ({least} to {MAX_RELATED} allowed): {quoted:?}",
                related.len()
            ),
        ));
    }
    Ok(WrittenQuery {
        query,
        related_apis: related,
    })
}
