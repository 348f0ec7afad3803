//! Decoder for native tool calls, as the OpenAI-style FC handler stores them:
//! `[{"name": "{\"arg\": 1}"}, ...]`, each call one object whose value is the
//! JSON-encoded arguments string.

use super::{Call, DecodeError, Decoded};
use crate::value::Value;

pub fn decode_tool_calls(tool_calls: &[serde_json::Value]) -> Result<Decoded, DecodeError> {
    let mut calls = Vec::with_capacity(tool_calls.len());
    let mut well_formed = true;
    for (index, item) in tool_calls.iter().enumerate() {
        let Some((name, arguments)) = item.as_object().and_then(|object| object.iter().next())
        else {
            return Err(DecodeError::new(format!(
                "tool call {index} is not an object with a function name"
            )));
        };
        let Some(arguments) = arguments.as_str() else {
            return Err(DecodeError::new(format!(
                "arguments of tool call {index} ({name}) are not a JSON string"
            )));
        };
        let parsed: serde_json::Value = serde_json::from_str(arguments).map_err(|e| {
            DecodeError::new(format!(
                "arguments of tool call {index} ({name}) are not JSON: {e}"
            ))
        })?;
        match Value::from(&parsed) {
            Value::Dict(entries) => calls.push(Call {
                name: name.clone(),
                args: entries
                    .into_iter()
                    .map(|(k, v)| (k.as_str().map(str::to_owned), v))
                    .collect(),
            }),
            _ => well_formed = false,
        }
    }
    Ok(if well_formed {
        Decoded::Calls(calls)
    } else {
        Decoded::WrongFormat
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_json_argument_strings() {
        let calls = json!([{"spotify.play": "{\"artist\": \"Taylor Swift\", \"duration\": 20}"}]);
        let Ok(Decoded::Calls(calls)) = decode_tool_calls(calls.as_array().unwrap()) else {
            panic!("expected calls")
        };
        assert_eq!(
            calls[0].to_string(),
            "spotify.play(artist='Taylor Swift', duration=20)"
        );
    }

    #[test]
    fn rejects_malformed_tool_calls() {
        for bad in [
            json!(["f"]),
            json!([{}]),
            json!([{"f": {"a": 1}}]),
            json!([{"f": "{bad"}]),
        ] {
            assert!(decode_tool_calls(bad.as_array().unwrap()).is_err(), "{bad}");
        }
        let not_a_dict = json!([{"f": "[1, 2]"}]);
        assert!(matches!(
            decode_tool_calls(not_a_dict.as_array().unwrap()),
            Ok(Decoded::WrongFormat)
        ));
    }
}
