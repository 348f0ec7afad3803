//! Evaluates the literal arithmetic the official decoder hands to Python's `eval`.
//!
//! BFCL resolves a binary operation in an argument (`2**3`, `'a' + 'b'`,
//! `60 * 60`) with `eval(ast.unparse(node))`. This evaluator covers literal
//! operands with Python's numeric rules (floor division, sign of `%`, `int ** -n`
//! is a float, `bool` promotes to `int`) and sequence concatenation and repetition.
//! Names and calls fail, as they raise `NameError` there.

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{ToPrimitive, Zero};
use rustpython_parser::ast::{self, Operator, UnaryOp};

use crate::decode::python::{constant_value, negate};
use crate::decode::DecodeError;
use crate::value::{dict_insert, Value};

/// The largest sequence a repetition may build before we call it an error.
const MAX_REPEAT_LEN: usize = 1 << 24;

/// The deepest expression CPython 3.11 compiles inside the official `eval`
/// (measured: a chain of 328 additions, or 327 unary minuses under one addition).
const MAX_EVAL_DEPTH: usize = 329;

pub fn evaluate(expr: &ast::Expr) -> Result<Value, DecodeError> {
    evaluate_at(expr, 1)
}

fn evaluate_at(expr: &ast::Expr, depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_EVAL_DEPTH {
        return Err(DecodeError::new(
            "maximum recursion depth exceeded during compilation",
        ));
    }
    let evaluate = |e: &ast::Expr| evaluate_at(e, depth + 1);
    let evaluate_all =
        |exprs: &[ast::Expr]| exprs.iter().map(evaluate).collect::<Result<Vec<_>, _>>();
    match expr {
        ast::Expr::Constant(constant) => constant_value(&constant.value),
        ast::Expr::UnaryOp(unary) => {
            let operand = evaluate(&unary.operand)?;
            match unary.op {
                UnaryOp::USub => negate(operand),
                UnaryOp::UAdd => match operand {
                    Value::Bool(b) => Ok(Value::Int(b as i128)),
                    v @ (Value::Int(_)
                    | Value::BigInt(_)
                    | Value::Float(_)
                    | Value::Complex(..)) => Ok(v),
                    other => Err(type_error("unary +", &other, &other)),
                },
                UnaryOp::Invert => match operand {
                    Value::Bool(b) => Ok(Value::Int(!(b as i128))),
                    Value::Int(i) => Ok(Value::Int(!i)),
                    other => Err(type_error("unary ~", &other, &other)),
                },
                UnaryOp::Not => Ok(Value::Bool(!truthy(&operand))),
            }
        }
        ast::Expr::BinOp(binop) => {
            let left = evaluate(&binop.left)?;
            let right = evaluate(&binop.right)?;
            binary(binop.op, left, right)
        }
        ast::Expr::List(list) => Ok(Value::List(evaluate_all(&list.elts)?)),
        ast::Expr::Tuple(tuple) => Ok(Value::Tuple(evaluate_all(&tuple.elts)?)),
        ast::Expr::Dict(dict) => {
            let mut entries = Vec::new();
            for (key, value) in dict.keys.iter().zip(&dict.values) {
                let Some(key) = key else {
                    return Err(DecodeError::new(
                        "dict unpacking in an evaluated expression",
                    ));
                };
                let key = evaluate(key)?;
                if !key.is_hashable() {
                    return Err(DecodeError::new(format!("unhashable dict key {key}")));
                }
                let value = evaluate(value)?;
                dict_insert(&mut entries, key, value);
            }
            Ok(Value::Dict(entries))
        }
        ast::Expr::Name(name) => Err(DecodeError::new(format!(
            "name '{}' is not defined",
            name.id
        ))),
        _ => Err(DecodeError::new(format!("cannot evaluate `{expr}`"))),
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::None => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::BigInt(_) => true,
        Value::Float(f) => *f != 0.0,
        Value::Complex(re, im) => *re != 0.0 || *im != 0.0,
        Value::Str(s) => !s.is_empty(),
        Value::Bytes(b) => !b.is_empty(),
        Value::List(items) | Value::Tuple(items) => !items.is_empty(),
        Value::Dict(entries) => !entries.is_empty(),
    }
}

fn type_error(op: &str, left: &Value, right: &Value) -> DecodeError {
    DecodeError::new(format!(
        "unsupported operand type(s) for {op}: '{}' and '{}'",
        left.py_type().name(),
        right.py_type().name()
    ))
}

fn overflow() -> DecodeError {
    DecodeError::new("integer result too large")
}

fn zero_division() -> DecodeError {
    DecodeError::new("division by zero")
}

/// A number as Python's arithmetic sees it.
enum Operand {
    Int(BigInt),
    Float(f64),
}

fn operand(value: &Value) -> Option<Operand> {
    match value {
        Value::Bool(b) => Some(Operand::Int(BigInt::from(*b as u8))),
        Value::Int(i) => Some(Operand::Int(BigInt::from(*i))),
        Value::BigInt(text) => text.parse().ok().map(Operand::Int),
        Value::Float(f) => Some(Operand::Float(*f)),
        _ => None,
    }
}

fn binary(op: Operator, left: Value, right: Value) -> Result<Value, DecodeError> {
    let symbol = op_symbol(op);
    if let (Value::Bool(a), Value::Bool(b)) = (&left, &right) {
        match op {
            Operator::BitAnd => return Ok(Value::Bool(a & b)),
            Operator::BitOr => return Ok(Value::Bool(a | b)),
            Operator::BitXor => return Ok(Value::Bool(a ^ b)),
            _ => {}
        }
    }
    if let (Some(a), Some(b)) = (operand(&left), operand(&right)) {
        return match (a, b) {
            (Operand::Int(a), Operand::Int(b)) => int_binary(op, &a, &b),
            (a, b) => float_binary(op, as_float(a)?, as_float(b)?),
        }
        .map_err(|e| {
            if e.message.is_empty() {
                type_error(symbol, &left, &right)
            } else {
                e
            }
        });
    }
    match (op, &left, &right) {
        (Operator::Add, Value::Str(a), Value::Str(b)) => Ok(Value::Str(format!("{a}{b}"))),
        (Operator::Add, Value::Bytes(a), Value::Bytes(b)) => {
            Ok(Value::Bytes([a.as_slice(), b].concat()))
        }
        (Operator::Add, Value::List(a), Value::List(b)) => {
            Ok(Value::List([a.as_slice(), b].concat()))
        }
        (Operator::Add, Value::Tuple(a), Value::Tuple(b)) => {
            Ok(Value::Tuple([a.as_slice(), b].concat()))
        }
        (
            Operator::Mult,
            seq @ (Value::Str(_) | Value::Bytes(_) | Value::List(_) | Value::Tuple(_)),
            count,
        )
        | (
            Operator::Mult,
            count,
            seq @ (Value::Str(_) | Value::Bytes(_) | Value::List(_) | Value::Tuple(_)),
        ) if matches!(count, Value::Int(_) | Value::BigInt(_) | Value::Bool(_)) => {
            let times = match operand(count) {
                Some(Operand::Int(n)) => n.to_i128().ok_or_else(overflow)?,
                _ => return Err(type_error(symbol, &left, &right)),
            };
            repeat(seq, times)
        }
        _ => Err(type_error(symbol, &left, &right)),
    }
}

fn as_float(operand: Operand) -> Result<f64, DecodeError> {
    match operand {
        Operand::Int(i) => big_to_f64(&i),
        Operand::Float(f) => Ok(f),
    }
}

fn repeat(seq: &Value, times: i128) -> Result<Value, DecodeError> {
    let times = usize::try_from(times.max(0)).map_err(|_| overflow())?;
    let len = match seq {
        Value::Str(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::List(items) | Value::Tuple(items) => items.len(),
        _ => 0,
    };
    if len.saturating_mul(times) > MAX_REPEAT_LEN {
        return Err(DecodeError::new("repetition result too large"));
    }
    Ok(match seq {
        Value::Str(s) => Value::Str(s.repeat(times)),
        Value::Bytes(b) => Value::Bytes(b.repeat(times)),
        Value::List(items) => Value::List(repeat_items(items, times)),
        Value::Tuple(items) => Value::Tuple(repeat_items(items, times)),
        other => {
            return Err(DecodeError::new(format!(
                "can't multiply sequence of type '{}'",
                other.py_type().name()
            )))
        }
    })
}

fn repeat_items(items: &[Value], times: usize) -> Vec<Value> {
    (0..times).flat_map(|_| items.iter().cloned()).collect()
}

/// Largest integer result (in bits) we build; Python has no limit, but a model
/// writing `2**10**9` is not asking for a value.
const MAX_INT_BITS: u64 = 1 << 16;

fn int_binary(op: Operator, a: &BigInt, b: &BigInt) -> Result<Value, DecodeError> {
    let zero = BigInt::zero();
    let result = match op {
        Operator::Add => a + b,
        Operator::Sub => a - b,
        Operator::Mult => a * b,
        Operator::Div | Operator::FloorDiv | Operator::Mod if *b == zero => {
            return Err(zero_division())
        }
        Operator::Div => return Ok(Value::Float(big_to_f64(a)? / big_to_f64(b)?)),
        Operator::FloorDiv => a.div_floor(b),
        Operator::Mod => a.mod_floor(b),
        Operator::Pow if *b < zero => {
            if *a == zero {
                return Err(DecodeError::new("0.0 cannot be raised to a negative power"));
            }
            return Ok(Value::Float(big_to_f64(a)?.powf(big_to_f64(b)?)));
        }
        Operator::Pow => {
            let exponent = b.to_u32().ok_or_else(overflow)?;
            if a.bits().saturating_mul(u64::from(exponent)) > MAX_INT_BITS {
                return Err(overflow());
            }
            a.pow(exponent)
        }
        Operator::LShift | Operator::RShift if *b < zero => {
            return Err(DecodeError::new("negative shift count"))
        }
        Operator::LShift => {
            let shift = b
                .to_u64()
                .filter(|s| a.bits() + s <= MAX_INT_BITS)
                .ok_or_else(overflow)?;
            a << shift
        }
        Operator::RShift => a >> b.to_u64().unwrap_or(u64::MAX).min(MAX_INT_BITS),
        Operator::BitAnd => a & b,
        Operator::BitOr => a | b,
        Operator::BitXor => a ^ b,
        Operator::MatMult => return Err(DecodeError::new("")),
    };
    Ok(int_value(result))
}

/// An integer result as a [`Value`]: `Int` when it fits, `BigInt` text otherwise.
fn int_value(i: BigInt) -> Value {
    i.to_i128()
        .map(Value::Int)
        .unwrap_or_else(|| Value::BigInt(i.to_string()))
}

fn big_to_f64(i: &BigInt) -> Result<f64, DecodeError> {
    i.to_f64()
        .filter(|f| f.is_finite())
        .ok_or_else(|| DecodeError::new("integer too large to convert to float"))
}

fn float_binary(op: Operator, a: f64, b: f64) -> Result<Value, DecodeError> {
    let result = match op {
        Operator::Add => a + b,
        Operator::Sub => a - b,
        Operator::Mult => a * b,
        Operator::Div | Operator::FloorDiv | Operator::Mod if b == 0.0 => {
            return Err(DecodeError::new("float division by zero"))
        }
        Operator::Div => a / b,
        Operator::FloorDiv => ((a - python_fmod(a, b)) / b).floor(),
        Operator::Mod => python_fmod(a, b),
        Operator::Pow if a == 0.0 && b < 0.0 => {
            return Err(DecodeError::new("0.0 cannot be raised to a negative power"))
        }
        Operator::Pow if a < 0.0 && b.fract() != 0.0 => {
            return Err(DecodeError::new("complex results are not supported"))
        }
        Operator::Pow => a.powf(b),
        _ => return Err(DecodeError::new("")),
    };
    if result.is_infinite() && a.is_finite() && b.is_finite() {
        return Err(DecodeError::new("numerical result out of range"));
    }
    Ok(Value::Float(result))
}

/// `a % b` with the sign of `b`, as Python's float modulo.
fn python_fmod(a: f64, b: f64) -> f64 {
    let r = a % b;
    if r != 0.0 && (r < 0.0) != (b < 0.0) {
        r + b
    } else {
        r
    }
}

fn op_symbol(op: Operator) -> &'static str {
    match op {
        Operator::Add => "+",
        Operator::Sub => "-",
        Operator::Mult => "*",
        Operator::MatMult => "@",
        Operator::Div => "/",
        Operator::Mod => "%",
        Operator::Pow => "** or pow()",
        Operator::LShift => "<<",
        Operator::RShift => ">>",
        Operator::BitOr => "|",
        Operator::BitXor => "^",
        Operator::BitAnd => "&",
        Operator::FloorDiv => "//",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(source: &str) -> Result<String, DecodeError> {
        let expr =
            match rustpython_parser::parse(source, rustpython_parser::Mode::Expression, "<t>") {
                Ok(ast::Mod::Expression(e)) => e.body,
                other => panic!("{source}: {other:?}"),
            };
        evaluate(&expr).map(|v| v.to_string())
    }

    #[test]
    fn integer_arithmetic_follows_python() {
        assert_eq!(eval("-7 // 2").unwrap(), "-4");
        assert_eq!(eval("-7 % 3").unwrap(), "2");
        assert_eq!(eval("7 % -3").unwrap(), "-2");
        assert_eq!(eval("2 ** -1").unwrap(), "0.5");
        assert_eq!(eval("7 / 2").unwrap(), "3.5");
        assert_eq!(eval("True + True").unwrap(), "2");
        assert_eq!(eval("True & False").unwrap(), "False");
        assert_eq!(eval("60 * 60 * 24").unwrap(), "86400");
        assert_eq!(
            eval("2 ** 200").unwrap(),
            "1606938044258990275541962092341162602522202993782792835301376"
        );
        assert_eq!(eval("2 ** 200 // 2 ** 199").unwrap(), "2");
    }

    #[test]
    fn float_and_sequence_arithmetic_follows_python() {
        assert_eq!(eval("-7.5 // 2").unwrap(), "-4.0");
        assert_eq!(eval("-1.0 % 3").unwrap(), "2.0");
        assert_eq!(eval("'ab' * 2 + 'c'").unwrap(), "'ababc'");
        assert_eq!(eval("[1] * 3").unwrap(), "[1, 1, 1]");
        assert_eq!(eval("(1,) + (2,)").unwrap(), "(1, 2)");
    }

    #[test]
    fn errors_where_python_raises() {
        assert!(eval("1 / 0").is_err());
        assert!(eval("x + 1").is_err());
        assert!(eval("'a' + 1").is_err());
        assert!(eval("None + 1").is_err());
        assert!(eval(&format!("{}1", "1+".repeat(328))).is_ok());
        assert!(eval(&format!("{}1", "1+".repeat(329))).is_err());
    }
}
