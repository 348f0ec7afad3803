//! Decoder for prompt-mode Python call lists: `[f(a=1), mod.g(b='x')]`.
//!
//! Mirrors BFCL's `default_decode_ast_prompting` + `ast_parse`: strip backticks,
//! newlines and spaces, add missing brackets, parse as a Python expression, and
//! resolve every call's keyword arguments to values. Positional arguments are
//! dropped unread, nested calls with keywords become `{name: {args}}`, nested
//! calls without keywords and subscripts become their source text, and binary
//! operations are evaluated. Everything else the official resolver rejects
//! (attributes, f-strings, comprehensions, lambdas, sets, ...) is an error.

use rustpython_parser::lexer::LexicalErrorType;
use rustpython_parser::{ast, Mode, ParseErrorType};

use super::{ArgName, Call, DecodeError, Decoded};
use crate::eval_expr::evaluate;
use crate::pystr::py_strip;
use crate::value::{dict_insert, Value};

/// Decodes a raw prompt-mode reply, exactly as BFCL's Python handler does.
pub fn decode_prompt_reply(raw: &str) -> Result<Decoded, DecodeError> {
    let wrapped = wrap_in_brackets(raw);
    let source = py_strip(&wrapped).trim_matches('\'');
    parse_call_list(source).map(Decoded::Calls)
}

/// `result.strip("`\n ")`, then a `[` prefix and `]` suffix where missing.
pub(crate) fn wrap_in_brackets(raw: &str) -> String {
    let body = raw.trim_matches(['`', '\n', ' ']);
    let mut text = String::with_capacity(body.len() + 2);
    if !body.starts_with('[') {
        text.push('[');
    }
    text.push_str(body);
    if !body.ends_with(']') {
        text.push(']');
    }
    text
}

fn parse_call_list(source: &str) -> Result<Vec<Call>, DecodeError> {
    if source.contains('\0') {
        return Err(DecodeError::new(
            "source code string cannot contain null bytes",
        ));
    }
    check_nesting(source)?;
    let (module, renamed) = parse_allowing_repeated_keywords(source)?;
    let ast::Mod::Expression(expression) = module else {
        return Err(DecodeError::new("not an expression"));
    };
    let resolver = Resolver { renamed: &renamed };
    match *expression.body {
        ast::Expr::Call(call) => Ok(vec![resolver.call(&call)?]),
        ast::Expr::List(ast::ExprList { elts, .. })
        | ast::Expr::Tuple(ast::ExprTuple { elts, .. })
        | ast::Expr::Set(ast::ExprSet { elts, .. }) => elts
            .iter()
            .map(|elt| match elt {
                ast::Expr::Call(call) => resolver.call(call),
                _ => Err(DecodeError::new("list element is not a function call")),
            })
            .collect(),
        _ => Err(DecodeError::new(
            "expression is neither a call nor a list of calls",
        )),
    }
}

/// CPython's tokenizer allows 200 nested brackets, and its AST builder fails on
/// prefix-operator chains deeper than its recursion limit (about 2,980 in a
/// positional argument with CPython 3.11; the exact figure depends on the caller's
/// stack). Checking both up front also keeps a
/// hostile reply from exhausting our stack.
fn check_nesting(source: &str) -> Result<(), DecodeError> {
    const MAX_BRACKETS: usize = 200;
    const MAX_PREFIX_CHAIN: usize = 2981;
    let mut depth = 0usize;
    let mut chain = 0usize;
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                // Skip a string literal (single or triple quoted) with its escapes.
                let triple = chars.peek() == Some(&c) && {
                    let mut ahead = chars.clone();
                    ahead.next();
                    ahead.peek() == Some(&c)
                };
                if triple {
                    chars.next();
                    chars.next();
                }
                let mut run = 0;
                while let Some(d) = chars.next() {
                    if d == '\\' {
                        chars.next();
                        run = 0;
                    } else if d == c {
                        run += 1;
                        if !triple || run == 3 {
                            break;
                        }
                    } else {
                        run = 0;
                    }
                }
                chain = 0;
            }
            '#' => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_BRACKETS {
                    return Err(DecodeError::new("too many nested parentheses"));
                }
                chain = 0;
            }
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                chain = 0;
            }
            '-' | '+' | '~' => {
                chain += 1;
                if chain > MAX_PREFIX_CHAIN {
                    return Err(DecodeError::new(
                        "maximum recursion depth exceeded during ast construction",
                    ));
                }
            }
            c if c.is_whitespace() => {}
            _ => chain = 0,
        }
    }
    Ok(())
}

/// Parses like CPython's `ast.parse(mode="eval")`, which (unlike our parser)
/// accepts a repeated keyword argument: each repeat is renamed to a placeholder
/// and re-parsed; the placeholders map back to the original names.
fn parse_allowing_repeated_keywords(
    source: &str,
) -> Result<(ast::Mod, Vec<(String, String)>), DecodeError> {
    let mut text = source.to_owned();
    let mut renamed: Vec<(String, String)> = Vec::new();
    loop {
        match rustpython_parser::parse(&text, Mode::Expression, "<unknown>") {
            Ok(module) => return Ok((module, renamed)),
            Err(error) => {
                let start = usize::from(error.offset);
                let repeated = match &error.error {
                    ParseErrorType::Lexical(LexicalErrorType::DuplicateKeywordArgumentError(
                        name,
                    )) if text.get(start..start + name.len()) == Some(name.as_str()) => {
                        name.clone()
                    }
                    other => return Err(DecodeError::new(format!("invalid syntax: {other}"))),
                };
                let placeholder = format!("__toolgrad_repeated_{}__", renamed.len());
                text.replace_range(start..start + repeated.len(), &placeholder);
                renamed.push((placeholder, repeated));
            }
        }
    }
}

/// Resolves AST nodes to values, as the official `resolve_ast_call` / `resolve_ast_by_type`.
struct Resolver<'a> {
    renamed: &'a [(String, String)],
}

impl Resolver<'_> {
    /// The dotted name of a call and its keyword arguments; positional ones are dropped.
    fn call(&self, call: &ast::ExprCall) -> Result<Call, DecodeError> {
        let mut parts = Vec::new();
        let mut func = call.func.as_ref();
        while let ast::Expr::Attribute(attribute) = func {
            parts.push(attribute.attr.as_str());
            func = attribute.value.as_ref();
        }
        if let ast::Expr::Name(name) = func {
            parts.push(name.id.as_str());
        }
        parts.reverse();
        let mut args: Vec<(ArgName, Value)> = Vec::new();
        for keyword in &call.keywords {
            let value = self.value(&keyword.value)?;
            let name = keyword
                .arg
                .as_ref()
                .map(|id| self.original_name(id.as_str()));
            match args.iter_mut().find(|(existing, _)| *existing == name) {
                Some(slot) => slot.1 = value,
                None => args.push((name, value)),
            }
        }
        Ok(Call {
            name: parts.join("."),
            args,
        })
    }

    fn value(&self, expr: &ast::Expr) -> Result<Value, DecodeError> {
        Ok(match expr {
            ast::Expr::Constant(constant) => constant_value(&constant.value)?,
            // The official resolver negates the operand's constant whatever the operator is.
            ast::Expr::UnaryOp(unary) => match unary.operand.as_ref() {
                ast::Expr::Constant(constant) => negate(constant_value(&constant.value)?)?,
                _ => return Err(DecodeError::new("unsupported unary operand")),
            },
            ast::Expr::List(list) => Value::List(self.all(&list.elts)?),
            ast::Expr::Tuple(tuple) => Value::Tuple(self.all(&tuple.elts)?),
            ast::Expr::Dict(dict) => {
                let mut entries = Vec::new();
                for (key, value) in dict.keys.iter().zip(&dict.values) {
                    let key = match key {
                        Some(key) => self.value(key)?,
                        None => {
                            return Err(DecodeError::new("unsupported AST type: dict unpacking"))
                        }
                    };
                    let value = self.value(value)?;
                    if !key.is_hashable() {
                        return Err(DecodeError::new(format!("unhashable dict key {key}")));
                    }
                    dict_insert(&mut entries, key, value);
                }
                Value::Dict(entries)
            }
            ast::Expr::BinOp(_) => evaluate(expr)?,
            ast::Expr::Name(name) => Value::Str(name.id.to_string()),
            ast::Expr::Call(call) if call.keywords.is_empty() => Value::Str(expr.to_string()),
            ast::Expr::Call(call) => {
                let nested = self.call(call)?;
                let args = nested.args_dict();
                Value::Dict(vec![(Value::Str(nested.name), args)])
            }
            ast::Expr::Subscript(subscript) => {
                Value::Str(format!("{}[{}]", subscript.value, subscript.slice))
            }
            _ => return Err(DecodeError::new("unsupported AST type")),
        })
    }

    fn all(&self, exprs: &[ast::Expr]) -> Result<Vec<Value>, DecodeError> {
        exprs.iter().map(|e| self.value(e)).collect()
    }

    fn original_name(&self, name: &str) -> String {
        self.renamed
            .iter()
            .find(|(placeholder, _)| placeholder == name)
            .map(|(_, original)| original.clone())
            .unwrap_or_else(|| name.to_owned())
    }
}

pub(crate) fn constant_value(constant: &ast::Constant) -> Result<Value, DecodeError> {
    Ok(match constant {
        ast::Constant::None => Value::None,
        ast::Constant::Bool(b) => Value::Bool(*b),
        ast::Constant::Str(s) => Value::Str(s.clone()),
        ast::Constant::Bytes(b) => Value::Bytes(b.clone()),
        ast::Constant::Int(i) => {
            let text = i.to_string();
            text.parse::<i128>()
                .map(Value::Int)
                .unwrap_or(Value::BigInt(text))
        }
        ast::Constant::Float(f) => Value::Float(*f),
        ast::Constant::Complex { real, imag } => Value::Complex(*real, *imag),
        ast::Constant::Ellipsis => Value::Str("...".into()),
        ast::Constant::Tuple(items) => {
            Value::Tuple(items.iter().map(constant_value).collect::<Result<_, _>>()?)
        }
    })
}

/// Python's unary minus.
pub(crate) fn negate(value: Value) -> Result<Value, DecodeError> {
    Ok(match value {
        Value::Bool(b) => Value::Int(-(b as i128)),
        Value::Int(i) => Value::Int(-i),
        Value::BigInt(s) => match s.strip_prefix('-') {
            Some(positive) => Value::BigInt(positive.to_owned()),
            None => Value::BigInt(format!("-{s}")),
        },
        Value::Float(f) => Value::Float(-f),
        Value::Complex(re, im) => Value::Complex(-re, -im),
        other => {
            return Err(DecodeError::new(format!(
                "bad operand type for unary -: '{}'",
                other.py_type().name()
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(raw: &str) -> Vec<Call> {
        match decode_prompt_reply(raw) {
            Ok(Decoded::Calls(calls)) => calls,
            other => panic!("{raw:?} decoded to {other:?}"),
        }
    }

    fn render(raw: &str) -> String {
        calls(raw)
            .iter()
            .map(Call::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn fails(raw: &str) -> bool {
        decode_prompt_reply(raw).is_err()
    }

    #[test]
    fn decodes_lists_bare_calls_and_dotted_names() {
        assert_eq!(render("[f(a=1, b='x'), g()]"), "f(a=1, b='x'); g()");
        assert_eq!(
            render("math.factorial(number=5)"),
            "math.factorial(number=5)"
        );
        assert_eq!(render("  ```[a.b.c(x=True)]```\n"), "a.b.c(x=True)");
    }

    #[test]
    fn decodes_literals_of_every_kind() {
        assert_eq!(
            render("[f(a=-3, b=-2.5, c=None, d=[1, [2, (3, 4)]], e={'k': [1.0]}, s=\"it's\\n\")]"),
            "f(a=-3, b=-2.5, c=None, d=[1, [2, (3, 4)]], e={'k': [1.0]}, s=\"it's\\n\")"
        );
        assert_eq!(
            render("[f(x=1e3, y=0x10, z=1_000)]"),
            "f(x=1000.0, y=16, z=1000)"
        );
    }

    #[test]
    fn follows_the_official_resolver_quirks() {
        // Positional arguments are dropped; a unary plus negates, as in the official code.
        assert_eq!(render("[f(1, 2, a=+5)]"), "f(a=-5)");
        // Bare names become strings, nested keyword-less calls their source text.
        assert_eq!(
            render("[f(a=x, b=np.array([1,2]))]"),
            "f(a='x', b='np.array([1, 2])')"
        );
        // Nested calls with keywords become {name: {args}}; binary operations are evaluated.
        assert_eq!(
            render("[f(a=g(b=1), c=2**3, d='a'+'b')]"),
            "f(a={'g': {'b': 1}}, c=8, d='ab')"
        );
        assert_eq!(render("[f(a=data[0])]"), "f(a='data[0]')");
        // A repeated keyword keeps its first position and its last value.
        assert_eq!(render("[f(a=1, b=2, a=3)]"), "f(a=3, b=2)");
        assert_eq!(render("[]"), "");
        // Brackets inside strings do not count towards the nesting limit.
        let many = "(".repeat(300);
        assert_eq!(
            render(&format!("[f(a='{many}')]")),
            format!("f(a='{many}')")
        );
    }

    #[test]
    fn rejects_what_the_official_rejects() {
        for raw in [
            "```python\n[f(a=1)]\n```",
            "Sure! f(a=1)",
            "[f(a=1), 2]",
            "[f(a=math.pi)]",
            "[f(a=f'x')]",
            "[f(a={1, 2})]",
            "[f(a=lambda: 1)]",
            "[f(a=-x)]",
            "[f(a=[i for i in y])]",
            &format!("{}{}", "[".repeat(201), "]".repeat(201)),
            &format!("[f(a={}1)]", "-".repeat(7000)),
            "[f(a={[1]: 2})]",
            "[f(a=1/0)]",
            "I cannot help with that.",
            "[f(a=1)]\0",
        ] {
            assert!(fails(raw), "{raw:?} should fail to decode");
        }
    }
}
