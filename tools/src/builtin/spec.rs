//! How a built-in tool is declared: typed parameters with semantic kinds,
//! output paths with kinds, phrase templates, and the function that runs it.

use serde_json::{json, Map, Value};

use super::Env;

/// A parameter's JSON type.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    Str,
    Num,
    Int,
    NumList,
    Enum(&'static [&'static str]),
}

/// One parameter. `kind` names the semantic type used for data flow and value pools.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub ty: Ty,
    pub kind: &'static str,
    pub description: &'static str,
    pub required: bool,
}

pub const fn req(
    name: &'static str,
    ty: Ty,
    kind: &'static str,
    description: &'static str,
) -> Param {
    Param {
        name,
        ty,
        kind,
        description,
        required: true,
    }
}

pub const fn opt(
    name: &'static str,
    ty: Ty,
    kind: &'static str,
    description: &'static str,
) -> Param {
    Param {
        required: false,
        ..req(name, ty, kind, description)
    }
}

pub type RunFn = fn(&Env, &Args) -> Result<Value, String>;

/// A built-in tool.
pub struct Builtin {
    pub name: &'static str,
    pub domain: &'static str,
    pub description: &'static str,
    pub params: &'static [Param],
    /// Output path → kind; `list[].field` names each element's field.
    pub outputs: &'static [(&'static str, &'static str)],
    pub asks: &'static [&'static str],
    pub tells: &'static [&'static str],
    pub run: RunFn,
}

impl Builtin {
    /// The JSON Schema of the arguments, with real example values from the pools.
    pub fn schema(&self, env: &Env) -> Value {
        let mut properties = Map::new();
        for param in self.params {
            let mut schema = match param.ty {
                Ty::Str => json!({"type": "string"}),
                Ty::Num => json!({"type": "number"}),
                Ty::Int => json!({"type": "integer"}),
                Ty::NumList => json!({"type": "array", "items": {"type": "number"}, "minItems": 1}),
                Ty::Enum(values) => json!({"type": "string", "enum": values}),
            };
            schema["description"] = json!(param.description);
            if !matches!(param.ty, Ty::Enum(_)) {
                let examples: Vec<Value> = env.pool(param.kind).into_iter().take(3).collect();
                if !examples.is_empty() {
                    schema["examples"] = Value::Array(examples);
                }
            }
            properties.insert(param.name.to_owned(), schema);
        }
        let required: Vec<&str> = self
            .params
            .iter()
            .filter(|p| p.required)
            .map(|p| p.name)
            .collect();
        json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }
}

/// Typed access to a call's arguments, with errors that name the field.
pub struct Args<'a>(pub &'a Value);

impl Args<'_> {
    fn get(&self, name: &str) -> Result<&Value, String> {
        self.0
            .get(name)
            .filter(|v| !v.is_null())
            .ok_or_else(|| format!("missing argument `{name}`"))
    }

    pub fn str(&self, name: &str) -> Result<&str, String> {
        self.get(name)?
            .as_str()
            .ok_or_else(|| format!("argument `{name}` must be a string"))
    }

    pub fn f64(&self, name: &str) -> Result<f64, String> {
        let value = self
            .get(name)?
            .as_f64()
            .ok_or_else(|| format!("argument `{name}` must be a number"))?;
        if value.is_finite() {
            Ok(value)
        } else {
            Err(format!("argument `{name}` must be finite"))
        }
    }

    pub fn i64(&self, name: &str) -> Result<i64, String> {
        self.get(name)?
            .as_i64()
            .ok_or_else(|| format!("argument `{name}` must be an integer"))
    }

    pub fn opt_str(&self, name: &str) -> Result<Option<&str>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.str(name).map(Some),
        }
    }

    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.i64(name).map(Some),
        }
    }

    pub fn numbers(&self, name: &str) -> Result<Vec<f64>, String> {
        let values = self
            .get(name)?
            .as_array()
            .ok_or_else(|| format!("argument `{name}` must be a list of numbers"))?;
        if values.is_empty() {
            return Err(format!("argument `{name}` must not be empty"));
        }
        values
            .iter()
            .map(|v| {
                v.as_f64()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| format!("argument `{name}` must hold only numbers"))
            })
            .collect()
    }

    pub fn date(&self, name: &str) -> Result<chrono::NaiveDate, String> {
        let text = self.str(name)?;
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| format!("argument `{name}` must be a date like 2026-03-14, got `{text}`"))
    }
}

/// Rounds for display: results are meant to be read and quoted.
pub fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    let rounded = (value * scale).round() / scale;
    if rounded == 0.0 {
        0.0
    } else {
        rounded
    }
}
