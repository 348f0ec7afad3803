//! Decoder for prompt-mode replies in the Java category.
//!
//! Like the official handler: wrap in brackets, drop the first and last character,
//! parse with tree-sitter-java 0.21, fail on any `ERROR` node, and take the first
//! method invocation. `name=value` arguments keep the value's source text (string
//! and character literals lose their quotes at the top level); bare identifiers,
//! class literals and sets are positional and land under the `None` key.
//!
//! The official code slices the reply with tree-sitter's *byte* offsets as if they
//! were character indices; [`Source::text`] reproduces that on non-ASCII replies.

use std::cell::RefCell;

use tree_sitter::{Node, Parser};

use super::python::wrap_in_brackets;
use super::{ArgName, Call, DecodeError, Decoded};
use crate::pystr::{drop_first_and_last, py_slice};
use crate::value::Value;

thread_local! {
    static PARSER: RefCell<Parser> = RefCell::new({
        let mut parser = Parser::new();
        parser
            .set_language(&tree_sitter_java::language())
            .expect("the bundled Java grammar matches the tree-sitter runtime");
        parser
    });
}

pub fn decode_prompt_reply(raw: &str) -> Result<Decoded, DecodeError> {
    // The official handler drops the first and last character: the brackets.
    let source = drop_first_and_last(&wrap_in_brackets(raw));
    parse_function_call(&source)
}

struct Source {
    chars: Vec<char>,
}

impl Source {
    fn text(&self, node: Node) -> String {
        py_slice(&self.chars, node.start_byte(), node.end_byte())
    }
}

fn parse_function_call(source_code: &str) -> Result<Decoded, DecodeError> {
    let tree = PARSER
        .with(|parser| parser.borrow_mut().parse(source_code, None))
        .ok_or_else(|| DecodeError::new("tree-sitter could not parse the Java source"))?;
    let root = tree.root_node();
    if root.to_sexp().contains("ERROR") {
        return Err(DecodeError::new("Error parsing java the source code."));
    }
    // The official traversal is recursive and stops at Python's recursion limit.
    if tree_depth(root) > MAX_TREE_DEPTH {
        return Err(DecodeError::new("maximum recursion depth exceeded"));
    }
    let source = Source {
        chars: source_code.chars().collect(),
    };
    match find_invocation(&source, root)? {
        Some(call) => Ok(Decoded::Calls(vec![call])),
        None => Ok(Decoded::WrongFormat),
    }
}

/// Deeper syntax trees than this exhaust Python's default recursion limit of 1,000
/// in the official traversal (and would strain our stack).
const MAX_TREE_DEPTH: usize = 950;

/// The depth of a syntax tree, walked without recursion.
fn tree_depth(root: Node) -> usize {
    let mut cursor = root.walk();
    let (mut depth, mut deepest) = (0usize, 0usize);
    loop {
        if cursor.goto_first_child() {
            depth += 1;
            deepest = deepest.max(depth);
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return deepest;
            }
            depth -= 1;
        }
    }
}

/// Depth-first, pre-order search for the first method invocation.
fn find_invocation(source: &Source, node: Node) -> Result<Option<Call>, DecodeError> {
    if node.kind() == "method_invocation" {
        let name = node
            .child_by_field_name("name")
            .map(|n| source.text(n))
            .unwrap_or_default();
        let name = match node.child_by_field_name("object") {
            Some(object) => format!("{}.{name}", source.text(object)),
            None => name,
        };
        return match node.child_by_field_name("arguments") {
            Some(arguments) => Ok(Some(Call {
                name,
                args: extract_arguments(source, arguments)?,
            })),
            None => Ok(None),
        };
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        if let Some(call) = find_invocation(source, child)? {
            return Ok(Some(call));
        }
    }
    Ok(None)
}

fn extract_arguments(
    source: &Source,
    arguments: Node,
) -> Result<Vec<(ArgName, Value)>, DecodeError> {
    let mut args: Vec<(ArgName, Value)> = Vec::new();
    let mut cursor = arguments.walk();
    for child in arguments.children(&mut cursor) {
        let (name, value) = match child.kind() {
            "assignment_expression" => {
                let (Some(name), Some(value)) = (child.child(0), child.child(2)) else {
                    return Err(DecodeError::new("incomplete assignment in Java arguments"));
                };
                (
                    Some(source.text(name)),
                    traverse(source, Some(value), false)?,
                )
            }
            "identifier" | "class_literal" | "set" => (None, traverse(source, Some(child), false)?),
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

/// The official `traverse_node`: the source text of a value, rebuilt for a few node kinds.
fn traverse(source: &Source, node: Option<Node>, nested: bool) -> Result<String, DecodeError> {
    let node = node.ok_or_else(|| DecodeError::new("'NoneType' object has no attribute 'type'"))?;
    Ok(match node.kind() {
        "string_literal" | "character_literal" if nested => source.text(node),
        "string_literal" | "character_literal" => {
            let text: Vec<char> = source.text(node).chars().collect();
            py_slice(&text, 1, text.len().saturating_sub(1))
        }
        "identifier" | "class_literal" | "type_identifier" | "method_invocation" => {
            source.text(node)
        }
        "array_creation_expression" => format!(
            "new {}[]{}",
            traverse(source, node.child_by_field_name("type"), true)?,
            traverse(source, node.child_by_field_name("value"), true)?
        ),
        "object_creation_expression" => {
            let type_text = traverse(source, node.child_by_field_name("type"), true)?;
            match node.child_by_field_name("arguments") {
                Some(arguments) => {
                    let mut cursor = arguments.walk();
                    let texts = arguments
                        .children(&mut cursor)
                        .filter(|c| !matches!(c.kind(), "," | "(" | ")"))
                        .map(|c| traverse(source, Some(c), true))
                        .collect::<Result<Vec<_>, _>>()?;
                    format!("new {type_text}({})", texts.join(", "))
                }
                None => format!("new {type_text}()"),
            }
        }
        "set" => {
            let mut cursor = node.walk();
            let items = node
                .children(&mut cursor)
                .filter(|c| !matches!(c.kind(), "," | "set"))
                .map(|c| traverse(source, Some(c), true))
                .collect::<Result<Vec<_>, _>>()?;
            format!("{{{}}}", items.join(", "))
        }
        _ if node.child_count() > 0 => {
            let mut cursor = node.walk();
            node.children(&mut cursor)
                .map(|c| traverse(source, Some(c), true))
                .collect::<Result<String, _>>()?
        }
        _ => source.text(node),
    })
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
            render("[GeometryPresentation.createPresentation(controller=mapController, parent=mapArea)]"),
            "GeometryPresentation.createPresentation(controller='mapController', parent='mapArea')"
        );
        assert_eq!(
            render("[f(s=\"a b\", n=5L, arr=new int[] {1, 2})]"),
            "f(s='a b', n='5L', arr='new int[]{1,2}')"
        );
        assert_eq!(
            render("[f(m=new HashMap<String, Integer>() {{ put(\"a\", 1); }})]"),
            "f(m='new HashMap<String,Integer>()')"
        );
    }

    #[test]
    fn positional_identifiers_use_the_none_key() {
        assert_eq!(
            render("[obj.f(x, n=new int[] {1})]"),
            "obj.f(None='x', n='new int[]{1}')"
        );
    }

    #[test]
    fn rejects_syntax_errors_and_repeated_names() {
        assert!(decode_prompt_reply("[f(a=1,,)]").is_err());
        assert!(decode_prompt_reply("[f(a=1, a=2)]").is_err());
        // tree-sitter's error recovery decides: a short `f(a=1)` is an ERROR node.
        assert!(decode_prompt_reply("[f(a=1)]").is_err());
        assert!(decode_prompt_reply("[x]").is_err());
        let deep = format!("[A.f(a={}1{})]", "(".repeat(2000), ")".repeat(2000));
        assert!(decode_prompt_reply(&deep).is_err());
    }
}
