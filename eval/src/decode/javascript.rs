//! Decoder for prompt-mode replies in the JavaScript category.
//!
//! Like the official handler: wrap in brackets, drop the first and last character,
//! parse with tree-sitter-javascript 0.21, fail on any `ERROR` node, and decode the
//! first call expression that is a direct child of a top-level expression statement.
//! `name=value` arguments keep the value's source text (one pair of surrounding
//! quotes removed); bare identifiers and `true` are positional (`None` key).

use std::cell::RefCell;

use tree_sitter::{Node, Parser};

use super::python::wrap_in_brackets;
use super::{ArgName, Call, DecodeError, Decoded};
use crate::pystr::{drop_first_and_last, unquote};
use crate::value::Value;

thread_local! {
    static PARSER: RefCell<Parser> = RefCell::new({
        let mut parser = Parser::new();
        parser
            .set_language(&tree_sitter_javascript::language())
            .expect("the bundled JavaScript grammar matches the tree-sitter runtime");
        parser
    });
}

pub fn decode_prompt_reply(raw: &str) -> Result<Decoded, DecodeError> {
    // The official handler drops the first and last character: the brackets.
    let source = drop_first_and_last(&wrap_in_brackets(raw));
    parse_function_call(&source)
}

fn parse_function_call(source: &str) -> Result<Decoded, DecodeError> {
    let tree = PARSER
        .with(|parser| parser.borrow_mut().parse(source, None))
        .ok_or_else(|| DecodeError::new("tree-sitter could not parse the JavaScript source"))?;
    let root = tree.root_node();
    if root.to_sexp().contains("ERROR") {
        return Err(DecodeError::new("Error js parsing the source code."));
    }
    if root.kind() != "program" {
        return Ok(Decoded::WrongFormat);
    }
    let text = |node: Node| {
        source
            .get(node.start_byte()..node.end_byte())
            .unwrap_or_default()
            .to_owned()
    };
    let mut cursor = root.walk();
    for statement in root
        .children(&mut cursor)
        .filter(|c| c.kind() == "expression_statement")
    {
        let mut inner = statement.walk();
        let first_call = statement
            .children(&mut inner)
            .find(|c| c.kind() == "call_expression");
        if let Some(call) = first_call {
            let (Some(function), Some(arguments)) = (call.child(0), call.child(1)) else {
                return Err(DecodeError::new("incomplete call expression"));
            };
            let args = extract_arguments(arguments, &text)?;
            return Ok(Decoded::Calls(vec![Call {
                name: text(function),
                args,
            }]));
        }
    }
    Ok(Decoded::WrongFormat)
}

fn extract_arguments(
    arguments: Node,
    text: &impl Fn(Node) -> String,
) -> Result<Vec<(ArgName, Value)>, DecodeError> {
    let mut args: Vec<(ArgName, Value)> = Vec::new();
    let mut cursor = arguments.walk();
    for child in arguments.children(&mut cursor) {
        let (name, value) = match child.kind() {
            "assignment_expression" => {
                let (Some(name), Some(value)) = (child.child(0), child.child(2)) else {
                    return Err(DecodeError::new(
                        "incomplete assignment in JavaScript arguments",
                    ));
                };
                (Some(text(name)), strip_quotes(text(value)))
            }
            "identifier" | "true" => (None, text(child)),
            _ => continue,
        };
        if args.iter().any(|(existing, _)| *existing == name) {
            return Err(DecodeError::new(
                "Error: Multiple arguments with the same name are not supported.",
            ));
        }
        args.push((name, Value::Str(value)));
    }
    Ok(args)
}

/// Removes one pair of matching surrounding quotes, as `value[1:-1]` does.
fn strip_quotes(value: String) -> String {
    unquote(&value, &['"', '\'']).unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(raw: &str) -> String {
        match decode_prompt_reply(raw) {
            Ok(Decoded::Calls(calls)) => calls.iter().map(Call::to_string).collect(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn keeps_argument_source_text() {
        assert_eq!(
            render("[extractLastTransactionId(filepath='/var/log/db.log', status=['completed', 'failed'], n=5)]"),
            "extractLastTransactionId(filepath='/var/log/db.log', status=\"['completed', 'failed']\", n='5')"
        );
        assert_eq!(render("[a.b(x=\"q\")]"), "a.b(x='q')");
    }

    #[test]
    fn only_a_top_level_call_counts() {
        assert!(matches!(
            decode_prompt_reply("[x]"),
            Ok(Decoded::WrongFormat)
        ));
        assert!(matches!(
            decode_prompt_reply("[f(a=1), g(b=2)]"),
            Ok(Decoded::WrongFormat)
        ));
        assert!(decode_prompt_reply("[f(a=)]").is_err());
        assert!(decode_prompt_reply("[f(a=1, a=2)]").is_err());
    }
}
