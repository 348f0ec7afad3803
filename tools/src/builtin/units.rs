//! Unit conversion for length, mass, temperature and volume.

use serde_json::{json, Value};

use super::spec::{req, round, Args, Builtin, Ty};
use super::Env;

const LENGTH: &[(&str, f64)] = &[
    ("km", 1000.0),
    ("m", 1.0),
    ("mi", 1609.344),
    ("ft", 0.3048),
    ("nmi", 1852.0),
];
const MASS: &[(&str, f64)] = &[
    ("kg", 1.0),
    ("g", 0.001),
    ("lb", 0.453_592_37),
    ("oz", 0.028_349_523_125),
];
const VOLUME: &[(&str, f64)] = &[
    ("l", 1.0),
    ("ml", 0.001),
    ("gal_us", 3.785_411_784),
    ("cup_us", 0.236_588_236_5),
    ("fl_oz_us", 0.029_573_529_562_5),
];
const LENGTH_UNITS: &[&str] = &["km", "m", "mi", "ft", "nmi"];
const MASS_UNITS: &[&str] = &["kg", "g", "lb", "oz"];
const VOLUME_UNITS: &[&str] = &["l", "ml", "gal_us", "cup_us", "fl_oz_us"];
const TEMPERATURE_UNITS: &[&str] = &["celsius", "fahrenheit", "kelvin"];

pub const TOOLS: &[Builtin] = &[
    Builtin {
        name: "convert_length",
        domain: "units",
        description: "Converts a length or distance between km, m, mi, ft and nmi.",
        params: &[
            req("value", Ty::Num, "length", "The length to convert."),
            req(
                "from_unit",
                Ty::Enum(LENGTH_UNITS),
                "length_unit",
                "Unit of the value.",
            ),
            req(
                "to_unit",
                Ty::Enum(LENGTH_UNITS),
                "length_unit",
                "Unit to convert to.",
            ),
        ],
        outputs: &[("result", "length"), ("to_unit", "length_unit")],
        asks: &[
            "convert {value} {from_unit} into {to_unit}",
            "tell me what {value} {from_unit} is in {to_unit}",
        ],
        tells: &[
            "{value} {from_unit} is {result} {to_unit}.",
            "That comes to {result} {to_unit} ({value} {from_unit}).",
        ],
        run: convert_length,
    },
    Builtin {
        name: "convert_mass",
        domain: "units",
        description: "Converts a mass between kg, g, lb and oz.",
        params: &[
            req("value", Ty::Num, "mass", "The mass to convert."),
            req(
                "from_unit",
                Ty::Enum(MASS_UNITS),
                "mass_unit",
                "Unit of the value.",
            ),
            req(
                "to_unit",
                Ty::Enum(MASS_UNITS),
                "mass_unit",
                "Unit to convert to.",
            ),
        ],
        outputs: &[("result", "mass"), ("to_unit", "mass_unit")],
        asks: &[
            "convert {value} {from_unit} to {to_unit}",
            "tell me how many {to_unit} {value} {from_unit} is",
        ],
        tells: &[
            "{value} {from_unit} equals {result} {to_unit}.",
            "In {to_unit}, {value} {from_unit} is {result}.",
        ],
        run: convert_mass,
    },
    Builtin {
        name: "convert_temperature",
        domain: "units",
        description: "Converts a temperature between celsius, fahrenheit and kelvin.",
        params: &[
            req(
                "value",
                Ty::Num,
                "temperature",
                "The temperature to convert.",
            ),
            req(
                "from_unit",
                Ty::Enum(TEMPERATURE_UNITS),
                "temperature_unit",
                "Scale of the value.",
            ),
            req(
                "to_unit",
                Ty::Enum(TEMPERATURE_UNITS),
                "temperature_unit",
                "Scale to convert to.",
            ),
        ],
        outputs: &[("result", "temperature"), ("to_unit", "temperature_unit")],
        asks: &[
            "convert {value} degrees {from_unit} to {to_unit}",
            "tell me what {value} {from_unit} is in {to_unit}",
        ],
        tells: &[
            "{value} {from_unit} is {result} {to_unit}.",
            "That temperature is {result} in {to_unit}.",
        ],
        run: convert_temperature,
    },
    Builtin {
        name: "convert_volume",
        domain: "units",
        description: "Converts a volume between l, ml, gal_us, cup_us and fl_oz_us.",
        params: &[
            req("value", Ty::Num, "volume", "The volume to convert."),
            req(
                "from_unit",
                Ty::Enum(VOLUME_UNITS),
                "volume_unit",
                "Unit of the value.",
            ),
            req(
                "to_unit",
                Ty::Enum(VOLUME_UNITS),
                "volume_unit",
                "Unit to convert to.",
            ),
        ],
        outputs: &[("result", "volume"), ("to_unit", "volume_unit")],
        asks: &[
            "convert {value} {from_unit} into {to_unit}",
            "tell me how much {value} {from_unit} is in {to_unit}",
        ],
        tells: &[
            "{value} {from_unit} is {result} {to_unit}.",
            "Converted, {value} {from_unit} makes {result} {to_unit}.",
        ],
        run: convert_volume,
    },
];

fn factor(table: &[(&str, f64)], unit: &str, field: &str) -> Result<f64, String> {
    table
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, f)| *f)
        .ok_or_else(|| format!("unknown {field} `{unit}`"))
}

fn linear(table: &[(&str, f64)], args: &Args) -> Result<Value, String> {
    let value = args.f64("value")?;
    let (from, to) = (args.str("from_unit")?, args.str("to_unit")?);
    let result = value * factor(table, from, "from_unit")? / factor(table, to, "to_unit")?;
    Ok(json!({ "value": value, "from_unit": from, "to_unit": to, "result": round(result, 4) }))
}

fn convert_length(_: &Env, args: &Args) -> Result<Value, String> {
    linear(LENGTH, args)
}

fn convert_mass(_: &Env, args: &Args) -> Result<Value, String> {
    linear(MASS, args)
}

fn convert_volume(_: &Env, args: &Args) -> Result<Value, String> {
    linear(VOLUME, args)
}

fn convert_temperature(_: &Env, args: &Args) -> Result<Value, String> {
    let value = args.f64("value")?;
    let (from, to) = (args.str("from_unit")?, args.str("to_unit")?);
    let kelvin = match from {
        "celsius" => value + 273.15,
        "fahrenheit" => (value - 32.0) * 5.0 / 9.0 + 273.15,
        "kelvin" => value,
        other => return Err(format!("unknown from_unit `{other}`")),
    };
    if kelvin < 0.0 {
        return Err("the temperature is below absolute zero".into());
    }
    let result = match to {
        "celsius" => kelvin - 273.15,
        "fahrenheit" => (kelvin - 273.15) * 9.0 / 5.0 + 32.0,
        "kelvin" => kelvin,
        other => return Err(format!("unknown to_unit `{other}`")),
    };
    Ok(json!({ "value": value, "from_unit": from, "to_unit": to, "result": round(result, 2) }))
}
