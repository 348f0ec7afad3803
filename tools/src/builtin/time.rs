//! Dates, calendars and time zones (chrono, with the IANA database from chrono-tz).

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Weekday};
use chrono_tz::Tz;
use serde_json::{json, Value};

use super::spec::{req, Args, Builtin, Ty};
use super::Env;

pub const TOOLS: &[Builtin] = &[
    Builtin {
        name: "convert_timezone",
        domain: "time",
        description: "Converts a local date and time from one IANA time zone to another.",
        params: &[
            req("datetime", Ty::Str, "datetime", "Local time as YYYY-MM-DDTHH:MM:SS."),
            req("from_timezone", Ty::Str, "timezone", "IANA zone of the given time, e.g. Europe/Paris."),
            req("to_timezone", Ty::Str, "timezone", "IANA zone to convert to."),
        ],
        outputs: &[("converted", "datetime"), ("to_timezone", "timezone")],
        asks: &[
            "tell me what time it is in {to_timezone} when it is {datetime} in {from_timezone}",
            "convert {datetime} {from_timezone} time into {to_timezone} time",
        ],
        tells: &[
            "{datetime} in {from_timezone} is {converted} in {to_timezone}.",
            "When it is {datetime} in {from_timezone}, it is {converted} in {to_timezone}.",
        ],
        run: convert_timezone,
    },
    Builtin {
        name: "days_between",
        domain: "time",
        description: "Number of days from one date to another (negative if the end is earlier).",
        params: &[
            req("start_date", Ty::Str, "date", "YYYY-MM-DD."),
            req("end_date", Ty::Str, "date", "YYYY-MM-DD."),
        ],
        outputs: &[("days", "day_count")],
        asks: &["count the days from {start_date} to {end_date}", "tell me how many days lie between {start_date} and {end_date}"],
        tells: &["There are {days} days from {start_date} to {end_date}.", "{start_date} to {end_date} spans {days} days."],
        run: days_between,
    },
    Builtin {
        name: "add_days",
        domain: "time",
        description: "The date a number of days after (or before, if negative) a given date.",
        params: &[
            req("date", Ty::Str, "date", "YYYY-MM-DD."),
            req("days", Ty::Int, "day_count", "Days to add; negative goes back."),
        ],
        outputs: &[("result_date", "date")],
        asks: &["find the date {days} days after {date}", "tell me which date falls {days} days after {date}"],
        tells: &["{days} days after {date} is {result_date}.", "Counting {days} days from {date} lands on {result_date}."],
        run: add_days,
    },
    Builtin {
        name: "day_of_week",
        domain: "time",
        description: "The weekday, ISO week number and day of the year of a date.",
        params: &[req("date", Ty::Str, "date", "YYYY-MM-DD.")],
        outputs: &[("weekday", "weekday")],
        asks: &["tell me which day of the week {date} is", "check what weekday {date} falls on"],
        tells: &["{date} is a {weekday} (ISO week {iso_week}).", "{date} falls on a {weekday}, day {day_of_year} of the year."],
        run: day_of_week,
    },
    Builtin {
        name: "business_days_between",
        domain: "time",
        description: "Number of Monday-to-Friday days from a start date (inclusive) to an end date (exclusive).",
        params: &[
            req("start_date", Ty::Str, "date", "YYYY-MM-DD."),
            req("end_date", Ty::Str, "date", "YYYY-MM-DD, after the start."),
        ],
        outputs: &[("business_days", "day_count")],
        asks: &["count the working days between {start_date} and {end_date}", "tell me how many weekdays there are from {start_date} to {end_date}"],
        tells: &["There are {business_days} working days between {start_date} and {end_date}.", "From {start_date} to {end_date} you get {business_days} weekdays."],
        run: business_days_between,
    },
    Builtin {
        name: "timezone_offset",
        domain: "time",
        description: "UTC offset and abbreviation of an IANA time zone at noon on a given date.",
        params: &[
            req("timezone", Ty::Str, "timezone", "IANA zone, e.g. Asia/Tokyo."),
            req("date", Ty::Str, "date", "YYYY-MM-DD."),
        ],
        outputs: &[("utc_offset", "utc_offset")],
        asks: &["tell me the UTC offset of {timezone} on {date}", "check which UTC offset {timezone} uses on {date}"],
        tells: &["On {date}, {timezone} is at UTC{utc_offset} ({abbreviation}).", "{timezone} uses UTC{utc_offset} ({abbreviation}) on {date}."],
        run: timezone_offset,
    },
];

fn zone(args: &Args, field: &str) -> Result<Tz, String> {
    let name = args.str(field)?;
    name.parse::<Tz>()
        .map_err(|_| format!("`{field}`: `{name}` is not an IANA time zone"))
}

fn convert_timezone(_: &Env, args: &Args) -> Result<Value, String> {
    let text = args.str("datetime")?;
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .map_err(|_| format!("`datetime` must look like 2026-03-14T09:30:00, got `{text}`"))?;
    let (from, to) = (zone(args, "from_timezone")?, zone(args, "to_timezone")?);
    let at = from
        .from_local_datetime(&local)
        .earliest()
        .ok_or_else(|| format!("{text} does not exist in {from} (a clock change)"))?;
    let converted = at.with_timezone(&to);
    Ok(json!({
        "datetime": text,
        "from_timezone": from.name(),
        "to_timezone": to.name(),
        "converted": converted.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "to_abbreviation": converted.format("%Z").to_string(),
    }))
}

fn days_between(_: &Env, args: &Args) -> Result<Value, String> {
    let (start, end) = (args.date("start_date")?, args.date("end_date")?);
    Ok(json!({
        "start_date": start.to_string(),
        "end_date": end.to_string(),
        "days": (end - start).num_days(),
    }))
}

fn add_days(_: &Env, args: &Args) -> Result<Value, String> {
    let date = args.date("date")?;
    let days = args.i64("days")?;
    if days.abs() > 100_000 {
        return Err("days must be within ±100000".into());
    }
    let result = date
        .checked_add_signed(Duration::days(days))
        .ok_or("the result falls outside the supported calendar")?;
    Ok(json!({ "date": date.to_string(), "days": days, "result_date": result.to_string() }))
}

fn day_of_week(_: &Env, args: &Args) -> Result<Value, String> {
    let date = args.date("date")?;
    Ok(json!({
        "date": date.to_string(),
        "weekday": weekday_name(date.weekday()),
        "iso_week": date.iso_week().week(),
        "day_of_year": date.ordinal(),
    }))
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

fn business_days_between(_: &Env, args: &Args) -> Result<Value, String> {
    let (start, end): (NaiveDate, NaiveDate) = (args.date("start_date")?, args.date("end_date")?);
    if end < start || (end - start).num_days() > 40_000 {
        return Err("end_date must be after start_date and within about a century".into());
    }
    let business_days = start
        .iter_days()
        .take_while(|d| *d < end)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .count();
    Ok(json!({
        "start_date": start.to_string(),
        "end_date": end.to_string(),
        "business_days": business_days,
    }))
}

fn timezone_offset(_: &Env, args: &Args) -> Result<Value, String> {
    let tz = zone(args, "timezone")?;
    let date = args.date("date")?;
    let noon = date.and_hms_opt(12, 0, 0).ok_or("bad date")?;
    let at = tz
        .from_local_datetime(&noon)
        .earliest()
        .ok_or("noon does not exist on that date")?;
    let seconds = at.offset().fix().local_minus_utc();
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.abs() / 60;
    Ok(json!({
        "timezone": tz.name(),
        "date": date.to_string(),
        "utc_offset": format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60),
        "abbreviation": at.format("%Z").to_string(),
    }))
}
