//! ToolEval's pass-rate judgement of a DFS answer: `check_answer_status`
//! over the query and the final answer, and, when that is `Unsure`, one
//! `parse_answer_status` over the whole kept path. Only `Solved` passes: an
//! answer still `Unsure` after the detailed check fails.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use toolgrad_core::llm::ChatMessage;

use crate::llm::RoleLlm;
use crate::policy::{Counters, RoleError};

/// ToolEval's verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnswerStatus {
    Solved,
    Unsolved,
    Unsure,
}

/// One judge call: which of ToolEval's functions, its verdict and reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    pub function: String,
    pub answer_status: AnswerStatus,
    pub reason: String,
}

/// The first judgement's structured output: query and final answer only.
pub const CHECK: &str = "check_answer_status";
/// The detailed judgement: query and the kept path's calls and observations.
pub const PARSE: &str = "parse_answer_status";

const ROLE: &str = "judge";

fn check_prompt(query: &str, answer: &str) -> String {
    format!(
        "Giving the query and answer, you need give `answer_status` of the answer by following rules:
1. If the answer is a sorry message or not a positive/straight response for the given query, return \"Unsolved\".
2. If the answer is a positive/straight response for the given query, you have to further check.
2.1 If the answer is not sufficient to determine whether the solve the query or not, return \"Unsure\".
2.2 If you are confident that the answer is sufficient to determine whether the solve the query or not, return \"Solved\" or \"Unsolved\".

Query:
{query}
Answer:
{answer}"
    )
}

fn parse_prompt(query: &str, answer: &str) -> String {
    format!(
        "Giving the query and the correspond execution detail of an answer, you need give `answer_status` of the answer by following rules:
1. If all 'tool' nodes' message indicate that there are errors happened, return \"Unsolved\"
2. If you find the information in the \"final_answer\" is not true/valid according to the messages in 'tool' nodes, return \"Unsolved\"
3. If you are unable to verify the authenticity and validity of the information, return \"Unsure\"
4. If there are 'tool' node in the chain contains successful func calling and those calling indeed solve the query, return \"Solved\"

Query:
{query}
Answer:
{answer}"
    )
}

async fn ask(
    llm: &RoleLlm,
    function: &str,
    prompt: String,
    counters: &Counters,
) -> Result<Judgement, RoleError> {
    let schema = json!({
        "type": "object",
        "properties": {
            "reason": {"type": "string"},
            "answer_status": {"type": "string", "enum": ["Solved", "Unsolved", "Unsure"]},
        },
        "required": ["reason", "answer_status"],
        "additionalProperties": false,
    });
    let value = llm
        .structured(
            ROLE,
            vec![ChatMessage::new("user", prompt)],
            function,
            &schema,
            counters,
        )
        .await?;
    let answer_status = serde_json::from_value(value["answer_status"].clone())
        .map_err(|e| RoleError::new(ROLE, format!("bad answer_status: {e}")))?;
    Ok(Judgement {
        function: function.to_owned(),
        answer_status,
        reason: value["reason"].as_str().unwrap_or_default().to_owned(),
    })
}

/// Judges `final_answer`; every judgement made is pushed onto `made`, and the
/// verdict is the last one's.
pub async fn judge(
    llm: &RoleLlm,
    query: &str,
    final_answer: &str,
    detail: &Value,
    counters: &Counters,
    made: &mut Vec<Judgement>,
) -> Result<AnswerStatus, RoleError> {
    let first = ask(llm, CHECK, check_prompt(query, final_answer), counters).await?;
    made.push(first.clone());
    if first.answer_status != AnswerStatus::Unsure {
        return Ok(first.answer_status);
    }
    let detail = serde_json::to_string_pretty(detail).unwrap_or_default();
    let second = ask(llm, PARSE, parse_prompt(query, &detail), counters).await?;
    made.push(second.clone());
    Ok(second.answer_status)
}
