//! The baseline importers against small fixtures written in each published
//! layout (`tests/fixtures/import/`): exact calls, tool schemas, traces, counts
//! and the lines of malformed rows.

use std::path::PathBuf;

use serde_json::{json, Value};
use toolgrad_format::import::{import, Format, Imported, Problem};
use toolgrad_format::sample::{Call, Round, Sample};
use toolgrad_format::FormatError;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

fn load(format: Format, name: &str) -> Imported {
    match import(format, &fixture(name)) {
        Ok(imported) => imported,
        Err(e) => panic!("{name}: {e}"),
    }
}

fn call(name: &str, arguments: Value) -> Call {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object");
    };
    Call {
        name: name.to_owned(),
        arguments,
    }
}

fn sample<'a>(imported: &'a Imported, id: &str) -> &'a Sample {
    imported
        .samples
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no sample {id}; have {:?}", ids(imported)))
}

fn ids(imported: &Imported) -> Vec<&str> {
    imported.samples.iter().map(|s| s.id.as_str()).collect()
}

fn lines(problems: &[Problem]) -> Vec<usize> {
    problems.iter().map(|p| p.line).collect()
}

fn round(calls: Vec<Call>, observations: &[&str]) -> Round {
    Round {
        calls,
        observations: observations.iter().map(|o| (*o).to_owned()).collect(),
    }
}

// ---- xLAM ------------------------------------------------------------------

#[test]
fn xlam_counts_and_malformed_lines() {
    let imported = load(Format::Xlam, "xlam.json");
    assert_eq!(imported.rows, 6);
    assert_eq!(ids(&imported), ["xlam-0", "xlam-1", "xlam-3"]);
    assert_eq!(lines(&imported.skipped), [5]);
    assert_eq!(lines(&imported.malformed), [3, 6]);
    assert!(imported.malformed[0]
        .message
        .contains("`answers` is not valid JSON"));
    assert!(imported.malformed[1].message.contains("not an object"));
    assert!(imported
        .samples
        .iter()
        .all(|s| s.source == "xlam" && s.trace.is_none() && !s.negative));
}

#[test]
fn xlam_calls_are_independent() {
    let imported = load(Format::Xlam, "xlam.json");
    let first = sample(&imported, "xlam-0");
    assert_eq!(
        first.query,
        "Where can I find live giveaways for beta access and games?"
    );
    assert_eq!(
        first.calls,
        [
            call("live_giveaways_by_type", json!({"type": "beta"})),
            call("live_giveaways_by_type", json!({"type": "game"})),
        ]
    );
    assert_eq!(first.chain_lengths, [1, 1]);
    // A parameter named `type` is a parameter, not the schema's type; its default makes it optional.
    assert_eq!(
        first.tools[0].parameters,
        json!({"type": "object", "properties": {"type": {"type": "string",
            "description": "The type of giveaways to retrieve (e.g., game, loot, beta).", "default": "game"}},
            "required": []})
    );
    let search = sample(&imported, "xlam-3");
    assert_eq!(
        search.calls,
        [call("search", json!({"q": "rust serde tutorials"}))]
    );
}

#[test]
fn xlam_python_types_become_json_schema() {
    let imported = load(Format::Xlam, "xlam.json");
    let invest = sample(&imported, "xlam-1");
    assert_eq!(invest.tools.len(), 2);
    assert_eq!(invest.tools[0].name, "find_max_subarray_sum");
    assert_eq!(
        invest.tools[0].parameters,
        json!({"type": "object", "properties": {"nums": {"type": "array", "items": {"type": "integer"},
            "description": "The input list of integers."}}, "required": ["nums"]})
    );
    let params = &invest.tools[1].parameters;
    assert_eq!(
        params["required"],
        json!(["initial_amount", "interest_rate"])
    );
    assert_eq!(params["properties"]["initial_amount"]["type"], "integer");
    assert_eq!(params["properties"]["interest_rate"]["type"], "number");
    assert_eq!(params["properties"]["num_years"]["type"], "integer");
    assert_eq!(params["properties"]["num_years"]["default"], 10);
    assert_eq!(params["properties"]["compound"]["type"], "boolean");
    assert_eq!(params["properties"]["compound"]["default"], true);
    assert_eq!(params["properties"]["metadata"]["type"], "object");
    assert_eq!(
        invest.calls,
        [call(
            "calculate_investment_return",
            json!({"initial_amount": 1000, "interest_rate": 0.05, "num_years": 3})
        )]
    );
}

// ---- ToolACE ---------------------------------------------------------------

#[test]
fn toolace_counts_and_malformed_lines() {
    let imported = load(Format::Toolace, "toolace.jsonl");
    assert_eq!(imported.rows, 6);
    assert_eq!(ids(&imported), ["toolace-1", "toolace-2", "toolace-6"]);
    assert_eq!(lines(&imported.skipped), [3]);
    assert_eq!(lines(&imported.malformed), [4, 5]);
    assert!(imported.malformed[0].message.contains("does not decode"));
    assert!(imported.malformed[1]
        .message
        .contains("2 call(s) but 1 observation(s)"));
}

#[test]
fn toolace_parallel_calls_with_spaced_names() {
    let imported = load(Format::Toolace, "toolace.jsonl");
    let paris = sample(&imported, "toolace-1");
    assert_eq!(
        paris.query,
        "What's the 3-day forecast and air quality in Paris?"
    );
    let calls = vec![
        call("Get Weather Forecast", json!({"city": "Paris", "days": 3})),
        call(
            "getAirQuality",
            json!({"city": "Paris", "pollutants": ["pm25", "o3"]}),
        ),
    ];
    assert_eq!(paris.calls, calls);
    assert_eq!(paris.chain_lengths, [1, 1]);
    let trace = paris.trace.as_ref().expect("a trace");
    assert_eq!(trace.query, paris.query);
    assert_eq!(
        trace.rounds,
        [round(
            calls,
            &[
                r#"{"name":"Get Weather Forecast","results":{"forecast":["sunny","cloudy","rain"]}}"#,
                r#"{"name":"getAirQuality","results":{"aqi":42}}"#,
            ]
        )]
    );
    assert_eq!(
        trace.answer,
        "Paris will be sunny, then cloudy, then rainy; the air quality index is 42 (good)."
    );
    // `dict` is an object; the function-level `"required": null` is ignored.
    assert_eq!(
        paris.tools[0].parameters,
        json!({"type": "object", "properties": {
            "city": {"type": "string", "description": "City name."},
            "days": {"type": "integer", "description": "Number of days."},
            "hourly": {"type": "boolean", "description": "Hourly detail.", "default": false}},
            "required": ["city"]})
    );
    assert_eq!(
        paris.tools[1].parameters["properties"]["pollutants"]["items"],
        json!({"type": "string"})
    );
}

#[test]
fn toolace_sequential_rounds_form_one_chain() {
    let imported = load(Format::Toolace, "toolace.jsonl");
    let booking = sample(&imported, "toolace-2");
    assert_eq!(booking.chain_lengths, [2]);
    let search = call(
        "Search Flights",
        json!({"origin": "SFO", "destination": "JFK"}),
    );
    let book = call("Book Flight", json!({"flight_id": "UA100"}));
    assert_eq!(booking.calls, [search.clone(), book.clone()]);
    let trace = booking.trace.as_ref().expect("a trace");
    assert_eq!(
        trace.rounds,
        [
            round(
                vec![search],
                &[
                    r#"{"name":"Search Flights","results":{"flights":[{"id":"UA100"},{"id":"DL200"}]}}"#
                ]
            ),
            round(
                vec![book],
                &[r#"{"name":"Book Flight","results":{"confirmation":"XK42"}}"#]
            ),
        ]
    );
    assert_eq!(
        trace.answer,
        "Booked UA100; your confirmation code is XK42."
    );
    // A call with no recorded output: no trace.
    let delhi = sample(&imported, "toolace-6");
    assert!(delhi.trace.is_none());
    assert_eq!(
        delhi.calls,
        [call(
            "getAirQuality",
            json!({"city": "Delhi", "pollutants": ["pm25"]})
        )]
    );
    assert_eq!(delhi.chain_lengths, [1]);
}

// ---- Glaive ----------------------------------------------------------------

#[test]
fn glaive_counts_negatives_and_skips() {
    let imported = load(Format::Glaive, "glaive.jsonl");
    assert_eq!(imported.rows, 5);
    assert_eq!(ids(&imported), ["glaive-1", "glaive-2", "glaive-5"]);
    assert_eq!(lines(&imported.skipped), [3]);
    assert_eq!(lines(&imported.malformed), [4]);
    let pizza = sample(&imported, "glaive-2");
    assert!(pizza.negative);
    assert!(pizza.calls.is_empty() && pizza.chain_lengths.is_empty() && pizza.trace.is_none());
    assert_eq!(pizza.query, "Can you order me a pizza?");
    assert_eq!(pizza.tools[0].name, "get_news");
}

#[test]
fn glaive_single_quoted_arguments_and_trace() {
    let imported = load(Format::Glaive, "glaive.jsonl");
    let convert = sample(&imported, "glaive-1");
    assert!(!convert.negative);
    assert_eq!(
        convert.query,
        "Hi, I need to convert 500 US dollars to Euros. Can you help me with that?"
    );
    let expected = call(
        "convert_currency",
        json!({"amount": 500, "from_currency": "USD", "to_currency": "EUR"}),
    );
    // Only the first exchange: the second user turn's call is not imported.
    assert_eq!(convert.calls, std::slice::from_ref(&expected));
    assert_eq!(convert.chain_lengths, [1]);
    let trace = convert.trace.as_ref().expect("a trace");
    assert_eq!(
        trace.rounds,
        [round(
            vec![expected],
            &[r#"{"converted_amount": 425.5, "from_currency": "USD", "to_currency": "EUR"}"#]
        )]
    );
    assert_eq!(
        trace.answer,
        "Sure, 500 US dollars is approximately 425.50 Euros."
    );
    assert_eq!(
        convert.tools[0].parameters["required"],
        json!(["amount", "from_currency", "to_currency"])
    );
    assert_eq!(
        convert.tools[0].parameters["properties"]["amount"]["type"],
        "number"
    );

    let text = sample(&imported, "glaive-5");
    assert_eq!(text.chain_lengths, [2]);
    assert_eq!(
        text.calls,
        [
            call("find_contact", json!({"name": "Alice"})),
            call(
                "send_sms",
                json!({"to": "+1-555-0100", "message": "I'm running late"})
            ),
        ]
    );
    let trace = text.trace.as_ref().expect("a trace");
    assert_eq!(trace.rounds.len(), 2);
    assert_eq!(trace.rounds[1].observations, [r#"{"status": "sent"}"#]);
    assert_eq!(trace.answer, "I've let Alice know you're running late.");
}

// ---- Hermes ----------------------------------------------------------------

#[test]
fn hermes_counts_and_malformed_lines() {
    let imported = load(Format::Hermes, "hermes.jsonl");
    assert_eq!(imported.rows, 5);
    assert_eq!(
        ids(&imported),
        [
            "hermes-85f6c398-69c7-4df2-aed1-29d614a93a26",
            "hermes-b2a7e1f0-home-0001"
        ]
    );
    assert_eq!(lines(&imported.skipped), [3]);
    assert_eq!(lines(&imported.malformed), [4, 5]);
    assert!(imported.malformed[0]
        .message
        .contains("2 call(s) but 1 observation(s)"));
    assert!(imported.malformed[1].message.contains("<tool_call>"));
}

#[test]
fn hermes_python_literal_tools_and_calls() {
    let imported = load(Format::Hermes, "hermes.jsonl");
    let stock = sample(&imported, "hermes-85f6c398-69c7-4df2-aed1-29d614a93a26");
    let names: Vec<&str> = stock.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["get_stock_price", "get_company_news"]);
    assert_eq!(
        stock.tools[0].parameters,
        json!({"type": "object", "properties": {
            "symbol": {"type": "string", "description": "Ticker symbol."},
            "include_history": {"type": "boolean", "description": "Include price history."},
            "limit": {"type": "integer", "description": "History length.", "default": null}},
            "required": ["symbol"]})
    );
    assert_eq!(
        stock.calls,
        [
            call(
                "get_stock_price",
                json!({"symbol": "TSLA", "include_history": true, "limit": null})
            ),
            call("get_company_news", json!({"symbol": "TSLA"})),
        ]
    );
    assert_eq!(stock.chain_lengths, [1, 1]);
    assert!(stock.trace.is_none());
}

#[test]
fn hermes_json_tools_and_trace() {
    let imported = load(Format::Hermes, "hermes.jsonl");
    let home = sample(&imported, "hermes-b2a7e1f0-home-0001");
    assert_eq!(home.query, "Set the living room to 21 degrees.");
    assert_eq!(home.tools.len(), 2);
    assert_eq!(
        home.tools[1].parameters,
        json!({"type": "object", "properties": {"door": {"type": "string"}}, "required": ["door"]})
    );
    let thermostat = call(
        "set_thermostat",
        json!({"room": "living room", "celsius": 21}),
    );
    assert_eq!(home.calls, std::slice::from_ref(&thermostat));
    let trace = home.trace.as_ref().expect("a trace");
    assert_eq!(
        trace.rounds,
        [round(
            vec![thermostat],
            &[r#"{"name": "set_thermostat", "content": {"status": "ok", "celsius": 21}}"#]
        )]
    );
    assert_eq!(
        trace.answer,
        "The living room thermostat is now set to 21 °C."
    );
}

// ---- ToolBench -------------------------------------------------------------

#[test]
fn toolbench_directory_counts_and_problems() {
    let imported = load(Format::Toolbench, "toolbench");
    assert_eq!(imported.rows, 6);
    assert_eq!(
        ids(&imported),
        [
            "toolbench-G1_answer-10_ChatGPT_DFS_woFilter_w2",
            "toolbench-G2_answer-10_ChatGPT_DFS_woFilter_w2",
        ]
    );
    let named = |problems: &[Problem]| -> Vec<String> {
        problems
            .iter()
            .map(|p| {
                assert_eq!(p.line, 0);
                p.message
                    .split(": ")
                    .next()
                    .unwrap_or_default()
                    .replace('\\', "/")
            })
            .collect()
    };
    assert_eq!(
        named(&imported.skipped),
        [
            "G1_answer/11_ChatGPT_DFS_woFilter_w2.json",
            "G1_answer/69_ChatGPT_DFS_woFilter_w2.json"
        ]
    );
    assert!(imported.skipped[0].message.ends_with("valid_data is false"));
    assert!(imported.skipped[1].message.contains("give_up_and_restart"));
    assert_eq!(
        named(&imported.malformed),
        [
            "G1_answer/57_ChatGPT_DFS_woFilter_w2.json",
            "G1_answer/59_ChatGPT_DFS_woFilter_w2.json"
        ]
    );
    assert!(imported.malformed[0]
        .message
        .contains("arguments are not valid JSON"));
    assert!(imported.malformed[1].message.contains("invalid JSON"));
}

#[test]
fn toolbench_trace_without_finish() {
    let imported = load(Format::Toolbench, "toolbench");
    let agency = sample(&imported, "toolbench-G1_answer-10_ChatGPT_DFS_woFilter_w2");
    assert!(agency
        .query
        .starts_with("Can you retrieve the contact details of the 'Gondrand'"));
    let names: Vec<&str> = agency.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "transitaire_for_transitaires",
            "transitaires_for_transitaires"
        ]
    );
    assert!(agency.tools.iter().all(|t| t.family == "transitaires"));
    assert_eq!(agency.tools[1].parameters["type"], "object");
    let list = call("transitaires_for_transitaires", json!({}));
    let one = call(
        "transitaire_for_transitaires",
        json!({"is_id": "ACT_AGENCE_CALEDONIENNE_DE_TRANSIT"}),
    );
    assert_eq!(agency.calls, [list.clone(), one.clone()]);
    assert_eq!(agency.chain_lengths, [2]);
    let trace = agency.trace.as_ref().expect("a trace");
    assert_eq!(trace.rounds.len(), 2);
    assert_eq!(trace.rounds[0].calls, [list]);
    assert_eq!(trace.rounds[1].calls, [one]);
    assert!(trace.rounds[0].observations[0].contains("EKVF"));
    assert!(trace.rounds[1].observations[0].contains("sales@act.nc"));
    assert_eq!(
        trace.answer,
        "The 'Gondrand' customs agency: ACT - Agence Calédonienne de Transit, 98800, sales@act.nc, +687 27.55.48."
    );

    let movie = sample(&imported, "toolbench-G2_answer-10_ChatGPT_DFS_woFilter_w2");
    assert_eq!(movie.tools.len(), 1);
    assert_eq!(movie.tools[0].family, "streaming_availability");
    assert_eq!(
        movie.tools[0].parameters["required"],
        json!(["services", "country"])
    );
    assert_eq!(movie.chain_lengths, [1]);
    assert_eq!(
        movie.calls,
        [call(
            "search_basic_free_for_streaming_availability",
            json!({"services": "netflix", "country": "US", "keyword": "thriller"})
        )]
    );
}

#[test]
fn toolbench_reads_one_file() {
    let imported = load(
        Format::Toolbench,
        "toolbench/G2_answer/10_ChatGPT_DFS_woFilter_w2.json",
    );
    assert_eq!(imported.rows, 1);
    assert_eq!(
        ids(&imported),
        ["toolbench-G2_answer-10_ChatGPT_DFS_woFilter_w2"]
    );
    let broken = import(
        Format::Toolbench,
        &fixture("toolbench/G1_answer/59_ChatGPT_DFS_woFilter_w2.json"),
    );
    assert!(matches!(broken, Err(FormatError::Data { .. })));
}

// ---- common ------------------------------------------------------------------

#[test]
fn format_names_round_trip() {
    for format in Format::ALL {
        assert_eq!(format.name().parse::<Format>().ok(), Some(format));
        assert_eq!(format.to_string(), format.name());
    }
    assert_eq!("ToolACE".parse::<Format>().ok(), Some(Format::Toolace));
    assert!("sharegpt".parse::<Format>().is_err());
}

#[test]
fn unreadable_or_non_json_files_are_errors_naming_the_path() {
    let missing = fixture("no-such-file.jsonl");
    let error = import(Format::Xlam, &missing).expect_err("a missing file");
    assert!(matches!(error, FormatError::Io { .. }));
    assert!(error.to_string().contains("no-such-file.jsonl"));

    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "query,tools,answers\nhello,world,!\n").expect("write");
    let error = import(Format::Glaive, &text).expect_err("not JSON");
    assert!(error.to_string().contains("notes.txt"));

    let array = dir.path().join("cut.json");
    std::fs::write(&array, "[{\"query\": \"x\"},\n{\"query\": ").expect("write");
    assert!(matches!(
        import(Format::Xlam, &array),
        Err(FormatError::Data { line: 2, .. })
    ));

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    assert!(import(Format::Toolbench, &empty).is_err());
}

#[test]
fn hostile_rows_are_malformed_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hostile.jsonl");
    let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
    let rows = [
        json!(null).to_string(),
        json!([1, 2]).to_string(),
        json!({"query": 5}).to_string(),
        json!({"query": "q", "tools": "[{\"parameters\": 3}]", "answers": "[]"}).to_string(),
        json!({"query": "q", "tools": "[]", "answers": deep}).to_string(),
        "{not json".to_owned(),
        json!({"system": "SYSTEM: x -\n{\"name\": \"f\"} {", "chat": "USER: a\n\n\nASSISTANT: <functioncall> '"}).to_string(),
        json!({"conversations": [{"from": "system", "value": "<tools>[_(]"}, {"from": "human", "value": "q"}]}).to_string(),
        json!({"system": "Here is a list of functions in JSON format that you can invoke: [{\"name\": \"f\"}]",
               "conversations": [{"from": "user", "value": "q"}, {"from": "assistant", "value": format!("[f(a={}1{})]", "(".repeat(300), ")".repeat(300))}]}).to_string(),
    ];
    std::fs::write(&path, rows.join("\n")).expect("write");
    for format in [
        Format::Xlam,
        Format::Toolace,
        Format::Glaive,
        Format::Hermes,
    ] {
        let imported = import(format, &path).expect("rows");
        assert_eq!(imported.rows, rows.len(), "{format}");
        assert_eq!(
            imported.samples.len() + imported.skipped.len() + imported.malformed.len(),
            rows.len()
        );
        assert!(
            imported.malformed.iter().any(|p| p.line == 6),
            "{format}: the non-JSON line"
        );
    }
}
