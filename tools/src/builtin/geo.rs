//! Geography over the shipped city table: lookups, great-circle distances,
//! nearest city.

use serde_json::{json, Value};

use super::spec::{opt, req, round, Args, Builtin, Ty};

const DISTANCE_UNITS: &[&str] = &["km", "mi", "nmi"];
use super::Env;

pub const TOOLS: &[Builtin] = &[
    Builtin {
        name: "city_info",
        domain: "geography",
        description: "Country, coordinates and time zone of a city in the city table.",
        params: &[req("city", Ty::Str, "city", "City name, e.g. Lisbon.")],
        outputs: &[
            ("country_code", "country_code"),
            ("latitude", "latitude"),
            ("longitude", "longitude"),
            ("timezone", "timezone"),
        ],
        asks: &["look up where {city} is and which time zone it uses", "get the coordinates and country of {city}"],
        tells: &[
            "{city} is in {country_code} at {latitude}, {longitude}, in the {timezone} time zone.",
            "{city} ({country_code}) lies at latitude {latitude}, longitude {longitude} and keeps {timezone} time.",
        ],
        run: city_info,
    },
    Builtin {
        name: "distance_between_cities",
        domain: "geography",
        description: "Great-circle distance in km between two cities of the city table.",
        params: &[
            req("city_a", Ty::Str, "city", "First city."),
            req("city_b", Ty::Str, "city", "Second city."),
            opt("unit", Ty::Enum(DISTANCE_UNITS), "length_unit", "Unit of the result (default km)."),
        ],
        outputs: &[("distance", "length"), ("unit", "length_unit")],
        asks: &["find out how far {city_a} is from {city_b}", "tell me the distance between {city_a} and {city_b}"],
        tells: &["{city_a} and {city_b} are {distance} {unit} apart.", "It is {distance} {unit} from {city_a} to {city_b} as the crow flies."],
        run: distance_between_cities,
    },
    Builtin {
        name: "distance_between_coordinates",
        domain: "geography",
        description: "Great-circle (haversine) distance in km between two points.",
        params: &[
            req("lat1", Ty::Num, "latitude", "Latitude of the first point."),
            req("lon1", Ty::Num, "longitude", "Longitude of the first point."),
            req("lat2", Ty::Num, "latitude", "Latitude of the second point."),
            req("lon2", Ty::Num, "longitude", "Longitude of the second point."),
        ],
        outputs: &[("distance", "length"), ("unit", "length_unit")],
        asks: &["measure the distance from ({lat1}, {lon1}) to ({lat2}, {lon2})", "compute how far the point {lat1}, {lon1} is from {lat2}, {lon2}"],
        tells: &["The two points are {distance} {unit} apart.", "From ({lat1}, {lon1}) to ({lat2}, {lon2}) is {distance} {unit}."],
        run: distance_between_coordinates,
    },
    Builtin {
        name: "nearest_city",
        domain: "geography",
        description: "The city of the city table closest to a point.",
        params: &[
            req("latitude", Ty::Num, "latitude", "Latitude in degrees."),
            req("longitude", Ty::Num, "longitude", "Longitude in degrees."),
        ],
        outputs: &[("city", "city"), ("country_code", "country_code")],
        asks: &["find the nearest big city to {latitude}, {longitude}", "tell me which city is closest to the coordinates {latitude}, {longitude}"],
        tells: &["The nearest city to {latitude}, {longitude} is {city} ({country_code}), {distance} km away.", "{city} in {country_code} is the closest city, {distance} km from that point."],
        run: nearest_city,
    },
    Builtin {
        name: "cities_in_country",
        domain: "geography",
        description: "Cities of the city table in a country (ISO 3166 alpha-2 code).",
        params: &[req("country_code", Ty::Str, "country_code", "Two-letter country code, e.g. DE.")],
        outputs: &[("cities", "city_list"), ("cities[]", "city")],
        asks: &["list the major cities you know in {country_code}", "tell me which cities in {country_code} are covered"],
        tells: &["Cities in {country_code}: {cities}.", "For {country_code} the table has {cities}."],
        run: cities_in_country,
    },
];

/// Haversine distance in km on a sphere of radius 6371 km.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
}

fn check_point(lat: f64, lon: f64) -> Result<(), String> {
    if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) {
        Ok(())
    } else {
        Err(format!("({lat}, {lon}) is not a valid latitude/longitude"))
    }
}

fn city_info(env: &Env, args: &Args) -> Result<Value, String> {
    let city = env.city(args.str("city")?)?;
    Ok(json!({
        "city": city.name,
        "country_code": city.country_code,
        "latitude": city.latitude,
        "longitude": city.longitude,
        "timezone": city.timezone,
    }))
}

fn distance_between_cities(env: &Env, args: &Args) -> Result<Value, String> {
    let a = env.city(args.str("city_a")?)?;
    let b = env.city(args.str("city_b")?)?;
    let unit = args.opt_str("unit")?.unwrap_or("km");
    let km_per_unit = match unit {
        "km" => 1.0,
        "mi" => 1.609_344,
        "nmi" => 1.852,
        other => {
            return Err(format!(
                "argument `unit` must be km, mi or nmi, got `{other}`"
            ))
        }
    };
    let km = haversine_km(a.latitude, a.longitude, b.latitude, b.longitude);
    Ok(
        json!({ "city_a": a.name, "city_b": b.name, "distance": round(km / km_per_unit, 1), "unit": unit }),
    )
}

fn distance_between_coordinates(_: &Env, args: &Args) -> Result<Value, String> {
    let (lat1, lon1) = (args.f64("lat1")?, args.f64("lon1")?);
    let (lat2, lon2) = (args.f64("lat2")?, args.f64("lon2")?);
    check_point(lat1, lon1)?;
    check_point(lat2, lon2)?;
    Ok(json!({ "distance": round(haversine_km(lat1, lon1, lat2, lon2), 1), "unit": "km" }))
}

fn nearest_city(env: &Env, args: &Args) -> Result<Value, String> {
    let (lat, lon) = (args.f64("latitude")?, args.f64("longitude")?);
    check_point(lat, lon)?;
    let (city, km) = env
        .cities
        .iter()
        .map(|c| (c, haversine_km(lat, lon, c.latitude, c.longitude)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .ok_or("the city table is empty")?;
    Ok(json!({
        "latitude": lat,
        "longitude": lon,
        "city": city.name,
        "country_code": city.country_code,
        "distance": round(km, 1),
    }))
}

fn cities_in_country(env: &Env, args: &Args) -> Result<Value, String> {
    let code = args.str("country_code")?.trim().to_ascii_uppercase();
    let cities: Vec<&str> = env
        .cities
        .iter()
        .filter(|c| c.country_code == code)
        .map(|c| c.name.as_str())
        .collect();
    if cities.is_empty() {
        return Err(format!(
            "no cities for country code `{code}` in the city table"
        ));
    }
    Ok(json!({ "country_code": code, "cities": cities }))
}
