//! People's forms of tool values: how a user would write what a call takes.
//! "2026-03-14" is "March 14, 2026", "Europe/Lisbon" is "Lisbon", "JP" is
//! "Japan", 250000 is "$250,000". One [`Style`] per sample keeps a query
//! consistent; seeds vary it across samples. [`renderings`] lists every form a
//! value can take, so a test can check that a query states each argument.

use rand::Rng;
use serde_json::Value;

use super::phrasing::format_value;

/// How an argument or observation value is written in a query or answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// As the tool takes it (names, ids, plain numbers).
    Raw,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DDTHH:MM:SS`.
    DateTime,
    /// An IANA zone, written as its city.
    Zone,
    Money,
    Percent,
    /// An ISO 3166 alpha-2 code, written as the country.
    Country,
    /// An ISO 4217 code, written as the currency.
    Currency,
    /// An ISO 639-1 code, written as the language.
    Language,
    /// A unit code (`mi`, `cup_us`, `celsius`), written as the unit.
    Unit,
    /// Compounding periods per year, written as "quarterly".
    Compounding,
    /// A whole number written as an ordinal: `90` as "90th".
    Ordinal,
    /// A text, quoted.
    Quoted,
}

/// The surface choices of one sample.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    date: usize,
    money: usize,
    percent: usize,
    unit: usize,
}

impl Style {
    pub fn new(rng: &mut impl Rng) -> Self {
        Self {
            date: rng.random_range(0..DATE_STYLES),
            money: rng.random_range(0..MONEY_STYLES),
            percent: rng.random_range(0..2),
            unit: rng.random_range(0..2),
        }
    }

    /// Every combination, for [`renderings`].
    fn all() -> impl Iterator<Item = Style> {
        (0..DATE_STYLES).flat_map(|date| {
            (0..MONEY_STYLES).flat_map(move |money| {
                (0..2).flat_map(move |percent| {
                    (0..2).map(move |unit| Style {
                        date,
                        money,
                        percent,
                        unit,
                    })
                })
            })
        })
    }
}

const DATE_STYLES: usize = 4;
const MONEY_STYLES: usize = 4;
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Writes `value` in `form`; `None` when the value does not have that shape.
pub fn render(form: Form, value: &Value, style: Style) -> Option<String> {
    match form {
        Form::Raw => Some(format_value(value, 200)),
        Form::Date => date(value.as_str()?, style.date),
        Form::DateTime => {
            let (day, time) = value.as_str()?.split_once('T')?;
            let day = date(day, style.date)?;
            let mut parts = time.split(':');
            let hour: u32 = parts.next()?.parse().ok()?;
            let minute: u32 = parts.next()?.parse().ok()?;
            Some(if style.date.is_multiple_of(2) {
                let (h12, half) = match hour {
                    0 => (12, "am"),
                    1..=11 => (hour, "am"),
                    12 => (12, "pm"),
                    _ => (hour - 12, "pm"),
                };
                format!("{h12}:{minute:02} {half} on {day}")
            } else {
                format!("{hour:02}:{minute:02} on {day}")
            })
        }
        Form::Zone => Some(value.as_str()?.rsplit('/').next()?.replace('_', " ")),
        Form::Money => {
            let amount = grouped(value.as_f64()?);
            Some(match style.money {
                0 => format!("${amount}"),
                1 => format!("{amount} dollars"),
                2 => format!("€{amount}"),
                _ => format!("{amount} euros"),
            })
        }
        Form::Percent => {
            let number = format_value(value, 200);
            value.as_f64()?;
            Some(if style.percent == 0 {
                format!("{number}%")
            } else {
                format!("{number} percent")
            })
        }
        Form::Country => country(value.as_str()?),
        Form::Currency => table(CURRENCIES, value.as_str()?),
        Form::Language => table(LANGUAGES, value.as_str()?),
        Form::Unit => {
            let code = value.as_str()?;
            let (_, long, short) = UNITS.iter().find(|(c, _, _)| *c == code)?;
            Some(if style.unit == 0 { long } else { short }.to_string())
        }
        Form::Compounding => table(
            &[
                ("1", "compounded yearly"),
                ("2", "compounded twice a year"),
                ("4", "compounded quarterly"),
                ("12", "compounded monthly"),
                ("365", "compounded daily"),
            ],
            &value.as_i64()?.to_string(),
        ),
        Form::Ordinal => {
            let n = value.as_u64()?;
            Some(format!("{n}{}", ordinal(u32::try_from(n % 100).ok()?)))
        }
        Form::Quoted => Some(format!("\"{}\"", value.as_str()?)),
    }
}

/// Every way [`render`] can write `value`, over all forms and styles.
pub fn renderings(value: &Value) -> Vec<String> {
    const FORMS: [Form; 13] = [
        Form::Raw,
        Form::Date,
        Form::DateTime,
        Form::Zone,
        Form::Money,
        Form::Percent,
        Form::Country,
        Form::Currency,
        Form::Language,
        Form::Unit,
        Form::Compounding,
        Form::Ordinal,
        Form::Quoted,
    ];
    let mut out: Vec<String> = Vec::new();
    for form in FORMS {
        for style in Style::all() {
            if let Some(text) = render(form, value, style) {
                if !out.contains(&text) {
                    out.push(text);
                }
            }
        }
    }
    out
}

fn date(text: &str, style: usize) -> Option<String> {
    let parsed = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    use chrono::Datelike;
    let month = MONTHS[parsed.month0() as usize];
    let (day, year) = (parsed.day(), parsed.year());
    Some(match style {
        0 => format!("{month} {day}, {year}"),
        1 => format!("{day} {month} {year}"),
        2 => format!("{month} {day}{}, {year}", ordinal(day)),
        _ => format!("{} {day}, {year}", &month[..3]),
    })
}

fn ordinal(day: u32) -> &'static str {
    match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// `1234567.5` → `1,234,567.50`; whole amounts keep no decimals.
fn grouped(amount: f64) -> String {
    let cents = (amount.abs() * 100.0).round() as u64;
    let (whole, fraction) = (cents / 100, cents % 100);
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if fraction != 0 {
        out.push_str(&format!(".{fraction:02}"));
    }
    if amount < 0.0 {
        out.insert(0, '-');
    }
    out
}

fn table(rows: &[(&str, &str)], key: &str) -> Option<String> {
    rows.iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

/// A country as people name it: short forms where the ISO name is formal.
fn country(code: &str) -> Option<String> {
    const SHORT: &[(&str, &str)] = &[
        ("GB", "the UK"),
        ("US", "the US"),
        ("KR", "South Korea"),
        ("RU", "Russia"),
        ("AE", "the UAE"),
        ("NL", "the Netherlands"),
        ("CZ", "the Czech Republic"),
    ];
    if let Some(name) = table(SHORT, code) {
        return Some(name);
    }
    celes::Country::from_alpha2(code)
        .ok()
        .map(|c| c.long_name.to_owned())
}

const CURRENCIES: &[(&str, &str)] = &[
    ("EUR", "the euro"),
    ("USD", "the US dollar"),
    ("JPY", "the Japanese yen"),
    ("GBP", "the British pound"),
    ("CHF", "the Swiss franc"),
    ("BRL", "the Brazilian real"),
    ("INR", "the Indian rupee"),
    ("KRW", "the South Korean won"),
];

const LANGUAGES: &[(&str, &str)] = &[
    ("en", "English"),
    ("fr", "French"),
    ("de", "German"),
    ("es", "Spanish"),
    ("ja", "Japanese"),
    ("pt", "Portuguese"),
    ("it", "Italian"),
    ("ko", "Korean"),
    ("sv", "Swedish"),
];

/// Unit code, long name, short name.
const UNITS: &[(&str, &str, &str)] = &[
    ("km", "kilometres", "km"),
    ("m", "metres", "m"),
    ("mi", "miles", "miles"),
    ("ft", "feet", "ft"),
    ("nmi", "nautical miles", "nautical miles"),
    ("kg", "kilograms", "kg"),
    ("g", "grams", "g"),
    ("lb", "pounds", "lb"),
    ("oz", "ounces", "oz"),
    ("l", "litres", "litres"),
    ("ml", "millilitres", "ml"),
    ("gal_us", "US gallons", "US gallons"),
    ("cup_us", "cups", "cups"),
    ("fl_oz_us", "fluid ounces", "fl oz"),
    ("celsius", "Celsius", "°C"),
    ("fahrenheit", "Fahrenheit", "°F"),
    ("kelvin", "kelvin", "K"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn style(date: usize, money: usize) -> Style {
        Style {
            date,
            money,
            percent: 1,
            unit: 0,
        }
    }

    #[test]
    fn dates_times_and_zones_read_as_people_write_them() {
        let d = json!("2026-03-01");
        assert_eq!(
            render(Form::Date, &d, style(0, 0)).unwrap(),
            "March 1, 2026"
        );
        assert_eq!(render(Form::Date, &d, style(1, 0)).unwrap(), "1 March 2026");
        assert_eq!(
            render(Form::Date, &d, style(2, 0)).unwrap(),
            "March 1st, 2026"
        );
        assert_eq!(render(Form::Date, &d, style(3, 0)).unwrap(), "Mar 1, 2026");
        assert_eq!(render(Form::Date, &json!("2026-13-01"), style(0, 0)), None);
        let t = json!("2026-07-01T18:45:00");
        assert_eq!(
            render(Form::DateTime, &t, style(0, 0)).unwrap(),
            "6:45 pm on July 1, 2026"
        );
        assert_eq!(
            render(Form::DateTime, &t, style(1, 0)).unwrap(),
            "18:45 on 1 July 2026"
        );
        let zone = json!("America/Argentina/Buenos_Aires");
        assert_eq!(
            render(Form::Zone, &zone, style(0, 0)).unwrap(),
            "Buenos Aires"
        );
    }

    #[test]
    fn amounts_codes_and_units_read_naturally() {
        let money = json!(268099.73);
        assert_eq!(
            render(Form::Money, &money, style(0, 0)).unwrap(),
            "$268,099.73"
        );
        assert_eq!(
            render(Form::Money, &json!(250000), style(0, 3)).unwrap(),
            "250,000 euros"
        );
        assert_eq!(
            render(Form::Percent, &json!(3.5), style(0, 0)).unwrap(),
            "3.5 percent"
        );
        assert_eq!(
            render(Form::Country, &json!("JP"), style(0, 0)).unwrap(),
            "Japan"
        );
        assert_eq!(
            render(Form::Country, &json!("GB"), style(0, 0)).unwrap(),
            "the UK"
        );
        assert_eq!(
            render(Form::Currency, &json!("CHF"), style(0, 0)).unwrap(),
            "the Swiss franc"
        );
        assert_eq!(
            render(Form::Unit, &json!("cup_us"), style(0, 0)).unwrap(),
            "cups"
        );
        assert_eq!(
            render(Form::Compounding, &json!(4), style(0, 0)).unwrap(),
            "compounded quarterly"
        );
        assert_eq!(render(Form::Currency, &json!("XXX"), style(0, 0)), None);
    }

    #[test]
    fn renderings_cover_every_style() {
        let all = renderings(&json!("2026-03-14"));
        for expected in [
            "2026-03-14",
            "March 14, 2026",
            "14 March 2026",
            "March 14th, 2026",
        ] {
            assert!(all.contains(&expected.to_string()), "{all:?}");
        }
        assert!(renderings(&json!(1500)).contains(&"$1,500".to_string()));
    }
}
