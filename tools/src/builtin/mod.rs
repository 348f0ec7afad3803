//! The built-in offline tool library: 45 tools in 10 domains, each computing
//! its answer from shipped data (a city table, ISO tables from crates, a SQLite
//! sample shop, a read-only file workspace) or from plain logic. Nothing is
//! invented at call time, so every call is deterministic and re-verifiable.

mod business;
mod countries;
mod files;
mod geo;
mod math;
mod spec;
mod stats;
mod sun;
mod text;
mod time;
mod units;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use serde_json::{json, Value};

pub use spec::{Args, Builtin, Param, Ty};

use crate::{SourceError, ToolError, ToolHints, ToolSource, ToolSpec};

/// The source name recorded in every built-in action.
pub const SOURCE: &str = "builtin";

/// One row of the shipped city table.
#[derive(Debug, Clone)]
pub struct City {
    pub name: String,
    pub country_code: String,
    pub latitude: f64,
    pub longitude: f64,
    pub timezone: String,
}

/// The shipped data the tools read.
pub struct Env {
    pub cities: Vec<City>,
    pub db: Mutex<rusqlite::Connection>,
    /// Workspace path → file text (read-only).
    pub files: BTreeMap<&'static str, &'static str>,
}

const CITIES: &str = include_str!("../../data/cities.tsv");
const BUSINESS_SQL: &str = include_str!("../../data/business.sql");
const WORKSPACE: &[(&str, &str)] = &[
    (
        "notes/reading_list.txt",
        include_str!("../../data/workspace/notes/reading_list.txt"),
    ),
    (
        "notes/garden_log.txt",
        include_str!("../../data/workspace/notes/garden_log.txt"),
    ),
    (
        "reports/q1_sales.txt",
        include_str!("../../data/workspace/reports/q1_sales.txt"),
    ),
    (
        "reports/team_hours.txt",
        include_str!("../../data/workspace/reports/team_hours.txt"),
    ),
    (
        "recipes/pancakes.txt",
        include_str!("../../data/workspace/recipes/pancakes.txt"),
    ),
    (
        "travel/itinerary.txt",
        include_str!("../../data/workspace/travel/itinerary.txt"),
    ),
];

impl Env {
    pub fn load() -> Result<Self, SourceError> {
        let cities = parse_cities(CITIES).map_err(|message| SourceError::BuiltinData {
            file: "data/cities.tsv",
            message,
        })?;
        let data = |message: rusqlite::Error| SourceError::BuiltinData {
            file: "data/business.sql",
            message: message.to_string(),
        };
        let db = rusqlite::Connection::open_in_memory().map_err(data)?;
        db.execute_batch(BUSINESS_SQL).map_err(data)?;
        Ok(Self {
            cities,
            db: Mutex::new(db),
            files: WORKSPACE.iter().copied().collect(),
        })
    }

    pub fn city(&self, name: &str) -> Result<&City, String> {
        self.cities
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| format!("no city named `{name}` in the city table"))
    }

    /// Real values of a semantic kind, in a fixed order (the executor's value pools).
    pub fn pool(&self, kind: &str) -> Vec<Value> {
        let strings = |items: &[&str]| items.iter().map(|s| json!(s)).collect::<Vec<_>>();
        let numbers = |items: &[f64]| items.iter().map(|x| json!(x)).collect::<Vec<_>>();
        let integers = |items: &[i64]| items.iter().map(|x| json!(x)).collect::<Vec<_>>();
        match kind {
            "city" => self.cities.iter().map(|c| json!(c.name)).collect(),
            "latitude" => self.cities.iter().map(|c| json!(c.latitude)).collect(),
            "longitude" => self.cities.iter().map(|c| json!(c.longitude)).collect(),
            "country_code" => unique(self.cities.iter().map(|c| c.country_code.clone())),
            "timezone" => unique(self.cities.iter().map(|c| c.timezone.clone())),
            "country_name" => unique(
                self.cities
                    .iter()
                    .filter_map(|c| celes::Country::from_alpha2(&c.country_code).ok())
                    .map(|c| c.long_name.to_owned()),
            ),
            "currency_code" => strings(&["EUR", "USD", "JPY", "GBP", "CHF", "BRL", "INR", "KRW"]),
            "language_code" => strings(&["en", "fr", "de", "es", "ja", "pt", "it", "ko", "sv"]),
            "date" => strings(&[
                "2026-03-14",
                "2026-06-21",
                "2026-09-02",
                "2026-12-24",
                "2027-01-15",
                "2026-01-09",
                "2026-02-27",
                "2026-04-03",
                "2026-05-18",
                "2026-07-30",
                "2026-08-11",
                "2026-10-05",
                "2026-11-23",
                "2027-03-01",
                "2027-05-20",
                "2027-07-15",
            ]),
            "sales_date" => strings(&["2025-01-06", "2025-04-01", "2025-07-01", "2025-10-01"]),
            "datetime" => strings(&[
                "2026-03-14T09:30:00",
                "2026-07-01T18:45:00",
                "2026-02-10T08:00:00",
                "2026-04-22T14:15:00",
                "2026-05-05T16:30:00",
                "2026-09-17T07:45:00",
                "2026-10-29T11:00:00",
                "2026-12-03T20:00:00",
            ]),
            "day_count" => integers(&[7, 30, 45, 90]),
            "amount" => numbers(&[1500.0, 2400.0, 12000.0, 250000.0]),
            "rate_percent" => numbers(&[3.5, 4.25, 5.0, 6.75]),
            "years" => integers(&[2, 5, 10]),
            "months" => integers(&[12, 36, 60, 360]),
            "integer" => integers(&[84, 360, 1001, 2026, 9240]),
            "percent" => integers(&[10, 25, 50, 90]),
            "length" => numbers(&[5.0, 42.195, 100.0, 1609.0]),
            "mass" => numbers(&[0.5, 2.0, 70.0, 250.0]),
            "temperature" => numbers(&[-5.0, 21.5, 37.0, 100.0]),
            "volume" => numbers(&[0.25, 1.5, 4.0, 20.0]),
            "value" => numbers(&[120.0, 135.0, 89.5, 240.0]),
            "numbers" => vec![
                json!([12.5, 4.0, 0.0, 7.5, 18.0, 3.5, 0.0]),
                json!([38.5, 41.0, 36.0, 44.5, 40.0]),
                json!([18250, 16890, 21430]),
                json!([72.4, 71.8, 71.1, 70.9, 70.2]),
                json!([5.2, 7.8, 6.1, 10.4, 8.0, 12.3]),
                json!([3, 1, 4, 1, 5, 9, 2, 6]),
                json!([129.99, 89.5, 240.0, 45.25]),
                json!([21.5, 23.0, 19.5, 25.5, 22.0, 24.5, 20.0]),
            ],
            "xs" => vec![json!([1, 2, 3, 4, 5, 6])],
            "ys" => vec![json!([2.1, 3.9, 6.2, 8.1, 9.8, 12.2])],
            "text" => strings(&[
                "The quick brown fox jumps over the lazy dog. It was 3 degrees outside.",
                "Our store opened in 2019 with 4 employees. Today we have 27.",
                "Meet me at 7:30 near gate 12. Bring 2 tickets!",
                "Spring sale: 3 notebooks for the price of 2 until May 31.",
                "The library reopens on Monday with 1200 new books and 6 reading rooms.",
                "Our team planted 48 trees along the river this weekend.",
                "Please water the tomatoes twice a day while I am away for 10 days.",
                "The train to Porto leaves at 8:15 from platform 4.",
                "We sold 350 cups of coffee at the fair. Next year we want 500.",
                "Grandma turns 90 on Sunday, and 23 cousins are coming.",
                "Remember to back up the 3 laptops before Friday.",
            ]),
            "file_path" => self.files.keys().map(|p| json!(p)).collect(),
            "directory" => unique(
                self.files
                    .keys()
                    .filter_map(|p| p.split_once('/').map(|(dir, _)| dir.to_owned())),
            ),
            "search_term" => strings(&["revenue", "Lisbon", "grams", "pages", "2026"]),
            "product_id" => self.column("SELECT product_id FROM products ORDER BY product_id"),
            "customer_id" => self.column("SELECT customer_id FROM customers ORDER BY customer_id"),
            "order_id" => self.column("SELECT order_id FROM orders ORDER BY order_id"),
            _ => Vec::new(),
        }
    }

    fn column(&self, sql: &str) -> Vec<Value> {
        let db = self.db.lock().unwrap_or_else(|e| e.into_inner());
        let Ok(mut statement) = db.prepare(sql) else {
            return Vec::new();
        };
        statement
            .query_map([], |row| row.get::<_, String>(0))
            .map(|rows| rows.filter_map(Result::ok).map(|s| json!(s)).collect())
            .unwrap_or_default()
    }
}

fn unique(items: impl Iterator<Item = String>) -> Vec<Value> {
    let mut seen = Vec::<String>::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen.into_iter().map(Value::String).collect()
}

fn parse_cities(text: &str) -> Result<Vec<City>, String> {
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let at = |what: &str| format!("line {}: {what}", i + 1);
            let fields: Vec<&str> = line.split('\t').collect();
            let [name, country_code, latitude, longitude, timezone] = fields[..] else {
                return Err(at("expected 5 tab-separated fields"));
            };
            Ok(City {
                name: name.to_owned(),
                country_code: country_code.to_owned(),
                latitude: latitude.parse().map_err(|_| at("bad latitude"))?,
                longitude: longitude.parse().map_err(|_| at("bad longitude"))?,
                timezone: timezone.to_owned(),
            })
        })
        .collect()
}

/// Every built-in tool.
pub fn catalogue() -> Vec<&'static Builtin> {
    [
        math::TOOLS,
        stats::TOOLS,
        units::TOOLS,
        time::TOOLS,
        geo::TOOLS,
        countries::TOOLS,
        text::TOOLS,
        business::TOOLS,
        files::TOOLS,
        sun::TOOLS,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The built-in library as a [`ToolSource`].
pub struct BuiltinSource {
    env: Arc<Env>,
    tools: Vec<&'static Builtin>,
    specs: Vec<ToolSpec>,
}

impl BuiltinSource {
    /// All tools, or only those whose domain is listed.
    pub fn new(domains: Option<&[String]>) -> Result<Self, SourceError> {
        let env = Arc::new(Env::load()?);
        let tools: Vec<&'static Builtin> = catalogue()
            .into_iter()
            .filter(|t| domains.is_none_or(|d| d.iter().any(|d| d == t.domain)))
            .collect();
        let specs = tools
            .iter()
            .map(|tool| ToolSpec {
                name: tool.name.to_owned(),
                description: tool.description.to_owned(),
                parameters: tool.schema(&env),
                source: SOURCE.to_owned(),
                family: format!("{SOURCE}:{}", tool.domain),
                deterministic: true,
                hints: Some(Arc::new(ToolHints {
                    domain: tool.domain,
                    param_kinds: tool.params.iter().map(|p| (p.name, p.kind)).collect(),
                    outputs: tool.outputs.to_vec(),
                    asks: tool.asks,
                    tells: tool.tells,
                })),
            })
            .collect();
        Ok(Self { env, tools, specs })
    }

    pub fn env(&self) -> &Arc<Env> {
        &self.env
    }

    /// Runs a tool synchronously; the observation is the result's JSON text.
    pub fn run(&self, tool: &str, args: &Value) -> Result<String, ToolError> {
        let builtin = self
            .tools
            .iter()
            .find(|t| t.name == tool)
            .ok_or_else(|| ToolError::UnknownTool(tool.to_owned()))?;
        let value = (builtin.run)(&self.env, &Args(args)).map_err(|message| ToolError::Failed {
            tool: tool.to_owned(),
            message,
        })?;
        Ok(value.to_string())
    }
}

impl ToolSource for BuiltinSource {
    fn name(&self) -> &str {
        SOURCE
    }

    fn tools(&self) -> &[ToolSpec] {
        &self.specs
    }

    fn call<'a>(
        &'a self,
        tool: &'a str,
        args: &'a Value,
    ) -> BoxFuture<'a, Result<String, ToolError>> {
        Box::pin(async move { self.run(tool, args) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflowing_arithmetic_is_a_tool_error_not_a_panic_or_a_wrong_value() {
        let source = BuiltinSource::new(None).unwrap();
        let big = serde_json::json!({"a": i64::MAX - 1, "b": i64::MAX - 2});
        let error = source.run("gcd_lcm", &big).unwrap_err().to_string();
        assert!(error.contains("64-bit"), "{error}");
        let fine = source
            .run("gcd_lcm", &serde_json::json!({"a": 4, "b": 6}))
            .unwrap();
        assert!(fine.contains("\"lcm\":12"), "{fine}");
        let edge = serde_json::json!({"date": "+262142-12-31", "days": 100000});
        let error = source.run("add_days", &edge).unwrap_err().to_string();
        assert!(error.contains("calendar"), "{error}");
    }

    #[test]
    fn the_library_is_large_varied_and_well_formed() {
        let tools = catalogue();
        assert!(tools.len() >= 40, "{} tools", tools.len());
        let mut domains: Vec<&str> = tools.iter().map(|t| t.domain).collect();
        domains.sort();
        domains.dedup();
        assert!(domains.len() >= 8, "{domains:?}");
        let mut names: Vec<&str> = tools.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), tools.len(), "tool names must be unique");
        for tool in &tools {
            assert!(
                !tool.asks.is_empty() && !tool.tells.is_empty(),
                "{}",
                tool.name
            );
        }
    }

    #[test]
    fn every_tool_runs_on_values_from_its_pools() {
        let source = BuiltinSource::new(None).unwrap();
        for tool in catalogue() {
            let mut args = serde_json::Map::new();
            let required: Vec<&Param> = tool.params.iter().filter(|p| p.required).collect();
            for (i, param) in required.iter().enumerate() {
                // The n-th parameter of a kind takes the n-th pool value.
                let nth = required[..i]
                    .iter()
                    .filter(|p| p.kind == param.kind)
                    .count();
                let value = match param.ty {
                    Ty::Enum(values) => json!(values[nth % values.len()]),
                    _ => source
                        .env
                        .pool(param.kind)
                        .into_iter()
                        .nth(nth)
                        .unwrap_or_else(|| {
                            panic!("{}: no pool for kind {}", tool.name, param.kind)
                        }),
                };
                args.insert(param.name.to_owned(), value);
            }
            let args = Value::Object(args);
            let first = source.run(tool.name, &args);
            let observation = first.unwrap_or_else(|e| panic!("{}({args}): {e}", tool.name));
            assert_eq!(source.run(tool.name, &args).unwrap(), observation);
            let value: Value = serde_json::from_str(&observation).unwrap();
            for (path, _) in tool.outputs {
                let head = path.split("[]").next().unwrap();
                assert!(
                    value.get(head).is_some(),
                    "{}: output `{path}` missing in {observation}",
                    tool.name
                );
            }
        }
    }
}
