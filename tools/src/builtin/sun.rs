//! Sunrise and sunset (the `sunrise` crate's solar equation), in UTC or local time.

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde_json::{json, Value};
use sunrise::{Coordinates, SolarDay, SolarEvent};

use super::spec::{req, round, Args, Builtin, Ty};
use super::Env;

pub const TOOLS: &[Builtin] = &[
    Builtin {
        name: "sunrise_sunset",
        domain: "sun",
        description: "Sunrise and sunset in UTC, and the day length, at a point on a date.",
        params: &[
            req("latitude", Ty::Num, "latitude", "Latitude in degrees."),
            req("longitude", Ty::Num, "longitude", "Longitude in degrees."),
            req("date", Ty::Str, "date", "YYYY-MM-DD."),
        ],
        outputs: &[("day_length_hours", "hours")],
        asks: &[
            "tell me when the sun rises and sets at {latitude}, {longitude} on {date}",
            "get sunrise and sunset times for the point {latitude}, {longitude} on {date}",
        ],
        tells: &[
            "On {date} at {latitude}, {longitude} the sun rises at {sunrise_utc} UTC and sets at {sunset_utc} UTC, {day_length_hours} hours of daylight.",
            "Sunrise is {sunrise_utc} UTC and sunset {sunset_utc} UTC there on {date} ({day_length_hours} h of daylight).",
        ],
        run: sunrise_sunset,
    },
    Builtin {
        name: "sun_times_in_city",
        domain: "sun",
        description: "Local sunrise and sunset times in a city of the city table on a date.",
        params: &[
            req("city", Ty::Str, "city", "City name."),
            req("date", Ty::Str, "date", "YYYY-MM-DD."),
        ],
        outputs: &[("day_length_hours", "hours"), ("timezone", "timezone")],
        asks: &["find out when the sun rises and sets in {city} on {date}", "tell me the local sunrise and sunset in {city} on {date}"],
        tells: &[
            "In {city} on {date} the sun rises at {sunrise_local} and sets at {sunset_local} local time ({day_length_hours} hours of daylight).",
            "{city} gets sunrise at {sunrise_local} and sunset at {sunset_local} on {date}.",
        ],
        run: sun_times_in_city,
    },
];

struct SunTimes {
    rise: chrono::DateTime<chrono::Utc>,
    set: chrono::DateTime<chrono::Utc>,
}

fn sun_times(lat: f64, lon: f64, date: NaiveDate) -> Result<SunTimes, String> {
    let coords = Coordinates::new(lat, lon)
        .ok_or_else(|| format!("({lat}, {lon}) is not a valid latitude/longitude"))?;
    let day = SolarDay::new(coords, date);
    let rise = day.event_time(SolarEvent::Sunrise);
    let set = day.event_time(SolarEvent::Sunset);
    match (rise, set) {
        (Some(rise), Some(set)) => Ok(SunTimes { rise, set }),
        _ => Err(format!(
            "the sun does not rise and set at ({lat}, {lon}) on {date} (polar day or night)"
        )),
    }
}

fn hours(times: &SunTimes) -> f64 {
    round((times.set - times.rise).num_seconds() as f64 / 3600.0, 2)
}

fn sunrise_sunset(_: &Env, args: &Args) -> Result<Value, String> {
    let (lat, lon) = (args.f64("latitude")?, args.f64("longitude")?);
    let date = args.date("date")?;
    let times = sun_times(lat, lon, date)?;
    Ok(json!({
        "latitude": lat,
        "longitude": lon,
        "date": date.to_string(),
        "sunrise_utc": times.rise.format("%H:%M").to_string(),
        "sunset_utc": times.set.format("%H:%M").to_string(),
        "day_length_hours": hours(&times),
    }))
}

fn sun_times_in_city(env: &Env, args: &Args) -> Result<Value, String> {
    let city = env.city(args.str("city")?)?;
    let date = args.date("date")?;
    let tz: Tz = city
        .timezone
        .parse()
        .map_err(|_| format!("bad time zone {} in the city table", city.timezone))?;
    let times = sun_times(city.latitude, city.longitude, date)?;
    Ok(json!({
        "city": city.name,
        "date": date.to_string(),
        "timezone": city.timezone,
        "sunrise_local": times.rise.with_timezone(&tz).format("%H:%M").to_string(),
        "sunset_local": times.set.with_timezone(&tz).format("%H:%M").to_string(),
        "day_length_hours": hours(&times),
    }))
}
