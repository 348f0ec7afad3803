//! The rule policy's intents: coherent needs a person has, each a small plan
//! over the built-in tools. A plan step names its tool, where each argument
//! comes from (a value pool, a literal choice, the same value as an earlier
//! step, or an earlier observation through a link declared meaningful here),
//! whether it may repeat with one argument varied (BFCL's parallel shape),
//! and how a user asks for it and how the answer tells it.
//!
//! Templates: `{param}` is the step's argument in its [`Form`] (the varied
//! argument of a repeated step becomes a list), `{n:one|many}` picks by the
//! number of calls, `{@field}` is an observation field and `{@field|form}`
//! writes it in a form (`date`, `datetime`, `zone`, `money`, `percent`,
//! `country`, `currency`, `unit`). Asks are clauses that fit "Can you tell me
//! ___?"; `asks_ref` are used in the multi-turn query, which must not state a
//! value that an observation supplies.

use super::surface::Form;

/// Where an argument's value comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// A value pool of the built-in library (`city`, `date`, ...).
    Pool(&'static str),
    Str(&'static [&'static str]),
    Int(&'static [i64]),
    Num(&'static [f64]),
    /// A pool value drawn once per sample: every step that names it shares it.
    Shared(&'static str),
    /// The same value as an argument of an earlier step: `(step, param)`.
    Same(&'static str, &'static str),
    /// A value an earlier step observed: `(step, path)`, where a path is
    /// `field`, `list[first].field` or `list[last].field`. The call continues
    /// that step's chain.
    From(&'static str, &'static str),
    /// A value of the pool of `param` (a `Pool` argument of the same call)
    /// that sorts after it: an end date after the start date.
    After(&'static str),
    /// A point near a city of the table: `latitude` or `longitude`.
    Near(&'static str),
}

/// One argument of a plan step.
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    pub param: &'static str,
    pub source: Source,
    pub form: Form,
    /// The chance that an optional argument is given (1 for required ones).
    pub chance: f64,
}

const fn arg(param: &'static str, source: Source, form: Form) -> Arg {
    Arg {
        param,
        source,
        form,
        chance: 1.0,
    }
}

const fn maybe(param: &'static str, source: Source, form: Form, chance: f64) -> Arg {
    Arg {
        param,
        source,
        form,
        chance,
    }
}

/// One step of an intent's plan.
#[derive(Debug)]
pub struct PlanStep {
    pub id: &'static str,
    pub tool: &'static str,
    pub args: &'static [Arg],
    /// The step that must have run first.
    pub after: Option<&'static str>,
    /// How many more calls may follow the first, each with `vary` changed.
    pub repeat: usize,
    pub vary: Option<&'static str>,
    pub asks: &'static [&'static str],
    pub asks_ref: &'static [&'static str],
    pub tells: &'static [&'static str],
}

impl PlanStep {
    /// Does an argument come from an observation?
    pub fn is_linked(&self) -> bool {
        self.args
            .iter()
            .any(|a| matches!(a.source, Source::From(..)))
    }

    pub fn arg(&self, param: &str) -> Option<&Arg> {
        self.args.iter().find(|a| a.param == param)
    }
}

/// A need and its plan.
#[derive(Debug)]
pub struct Intent {
    pub name: &'static str,
    /// Context sentences; placeholders name arguments of the first call.
    pub openers: &'static [&'static str],
    pub steps: &'static [PlanStep],
}

impl Intent {
    pub fn step(&self, id: &str) -> Option<&PlanStep> {
        self.steps.iter().find(|s| s.id == id)
    }

    pub fn step_of_tool(&self, tool: &str) -> Option<(usize, &PlanStep)> {
        self.steps.iter().enumerate().find(|(_, s)| s.tool == tool)
    }

    /// The most calls the plan can make.
    pub fn capacity(&self) -> usize {
        self.steps.iter().map(|s| 1 + s.repeat).sum()
    }
}

use Form::{
    Compounding, Country, Currency, Date, DateTime, Language, Money, Ordinal, Percent, Quoted, Raw,
    Unit, Zone,
};
use Source::{After, From, Int, Near, Num, Pool, Same, Shared, Str};

/// Every intent of the built-in library.
pub const INTENTS: &[Intent] = &[
    Intent {
        name: "trip",
        openers: &[
            "I'm flying from {city_a} to {city_b} next month.",
            "We're planning a trip from {city_a} to {city_b}.",
            "We live in {city_a} and are thinking about a holiday in {city_b}.",
            "My sister is moving from {city_a} to {city_b}.",
            "",
        ],
        steps: &[
            PlanStep {
                id: "distance",
                tool: "distance_between_cities",
                args: &[
                    arg("city_a", Pool("city"), Raw),
                    arg("city_b", Pool("city"), Raw),
                    maybe("unit", Str(&["mi", "nmi"]), Unit, 0.4),
                ],
                after: None,
                repeat: 0,
                vary: None,
                asks: &[
                    "how far {city_a} is from {city_b}",
                    "the distance between {city_a} and {city_b}",
                    "how far {city_a} is from {city_b} in {unit}",
                    "how many kilometres separate {city_a} and {city_b}",
                    "how long the trip from {city_a} to {city_b} is as the crow flies",
                    "the distance from {city_a} to {city_b} in {unit}",
                ],
                asks_ref: &[],
                tells: &[
                    "{city_a} and {city_b} are {@distance} {@unit|unit} apart.",
                    "It is about {@distance} {@unit|unit} from {city_a} to {city_b}.",
                ],
            },
            PlanStep {
                id: "zone",
                tool: "city_info",
                args: &[arg("city", Same("distance", "city_b"), Raw)],
                after: Some("distance"),
                repeat: 0,
                vary: None,
                asks: &[
                    "which time zone {city} is in",
                    "what country and time zone {city} belongs to",
                    "which time zone they use there",
                ],
                asks_ref: &[],
                tells: &["{city} is in {@country_code|country} and keeps {@timezone} time."],
            },
            PlanStep {
                id: "offset",
                tool: "timezone_offset",
                args: &[
                    arg("timezone", From("zone", "timezone"), Zone),
                    arg("date", Pool("date"), Date),
                ],
                after: Some("zone"),
                repeat: 0,
                vary: None,
                asks: &["the UTC offset of {timezone} time on {date}"],
                asks_ref: &["its UTC offset on {date}", "how far its clocks are from UTC on {date}"],
                tells: &["On {date} its clocks are at UTC{@utc_offset} ({@abbreviation})."],
            },
            PlanStep {
                id: "daylight",
                tool: "sun_times_in_city",
                args: &[
                    arg("city", Same("distance", "city_b"), Raw),
                    arg("date", Pool("date"), Date),
                ],
                after: Some("distance"),
                repeat: 0,
                vary: None,
                asks: &[
                    "when the sun rises and sets in {city} on {date}",
                    "how many hours of daylight {city} gets on {date}",
                    "how much daylight they get there on {date}",
                ],
                asks_ref: &[],
                tells: &[
                    "In {city} on {date} the sun rises at {@sunrise_local} and sets at {@sunset_local}.",
                    "{city} gets {@day_length_hours} hours of daylight on {date}.",
                ],
            },
        ],
    },
    Intent {
        name: "daylight",
        openers: &[
            "I'm planning a photography trip around {date}.",
            "I want to compare daylight across a few cities.",
            "I'm choosing where to spend the longest day of my holiday.",
            "I'm planning an early-morning hike.",
            "",
        ],
        steps: &[
            PlanStep {
                id: "sun",
                tool: "sun_times_in_city",
                args: &[arg("city", Pool("city"), Raw), arg("date", Pool("date"), Date)],
                after: None,
                repeat: 2,
                vary: Some("city"),
                asks: &[
                    "when the sun rises and sets in {city} on {date}",
                    "the sunrise and sunset times for {city} on {date}",
                    "how long the day lasts in {city} on {date}",
                    "what time the sun comes up in {city} on {date}",
                    "how many hours of daylight {city} {n:gets|get} on {date}",
                ],
                asks_ref: &[],
                tells: &[
                    "In {city} the sun rises at {@sunrise_local} and sets at {@sunset_local} ({@day_length_hours} hours of daylight).",
                    "{city}: sunrise {@sunrise_local}, sunset {@sunset_local}.",
                ],
            },
            PlanStep {
                id: "weekday",
                tool: "day_of_week",
                args: &[arg("date", Same("sun", "date"), Date)],
                after: Some("sun"),
                repeat: 0,
                vary: None,
                asks: &[
                    "what day of the week {date} is",
                    "which weekday {date} falls on",
                    "what day of the week that is",
                ],
                asks_ref: &[],
                tells: &["{date} is a {@weekday}."],
            },
        ],
    },
    Intent {
        name: "meeting",
        openers: &[
            "I'm setting up a video call with colleagues abroad.",
            "Our team is spread over several time zones.",
            "I need to send a meeting invite to people in other countries.",
            "I have a call booked for {datetime} {from_timezone} time.",
            "",
        ],
        steps: &[
            PlanStep {
                id: "convert",
                tool: "convert_timezone",
                args: &[
                    arg("datetime", Pool("datetime"), DateTime),
                    arg("from_timezone", Pool("timezone"), Zone),
                    arg("to_timezone", Pool("timezone"), Zone),
                ],
                after: None,
                repeat: 2,
                vary: Some("to_timezone"),
                asks: &[
                    "what time it will be in {to_timezone} when it is {datetime} in {from_timezone}",
                    "what {datetime} in {from_timezone} is in {to_timezone} time",
                    "the local time in {to_timezone} for {datetime} {from_timezone} time",
                ],
                asks_ref: &[],
                tells: &[
                    "{datetime} in {from_timezone} is {@converted|datetime} in {to_timezone}.",
                    "In {to_timezone} it will be {@converted|datetime} ({@to_abbreviation}).",
                ],
            },
            PlanStep {
                id: "offset",
                tool: "timezone_offset",
                args: &[
                    arg("timezone", Same("convert", "from_timezone"), Zone),
                    arg("date", Pool("date"), Date),
                ],
                after: Some("convert"),
                repeat: 0,
                vary: None,
                asks: &[
                    "the UTC offset of {timezone} on {date}",
                    "how far my clocks are from UTC on {date}",
                ],
                asks_ref: &[],
                tells: &["{timezone} is at UTC{@utc_offset} ({@abbreviation}) on {date}."],
            },
        ],
    },
    Intent {
        name: "cities",
        openers: &[
            "I'm writing a short guide to a few cities.",
            "I'm comparing places I could move to.",
            "My geography quiz needs a few facts.",
            "",
        ],
        steps: &[
            PlanStep {
                id: "city",
                tool: "city_info",
                args: &[arg("city", Pool("city"), Raw)],
                after: None,
                repeat: 2,
                vary: Some("city"),
                asks: &[
                    "which country and time zone {city} {n:is|are} in",
                    "the coordinates and time zone of {city}",
                    "where exactly {city} {n:is|are} on the map",
                ],
                asks_ref: &[],
                tells: &[
                    "{city} lies at {@latitude}, {@longitude} in {@country_code|country}, on {@timezone} time.",
                ],
            },
            PlanStep {
                id: "neighbours",
                tool: "cities_in_country",
                args: &[arg("country_code", From("city", "country_code"), Country)],
                after: Some("city"),
                repeat: 0,
                vary: None,
                asks: &["which cities of {country_code} you know about"],
                asks_ref: &["which other cities of that country you know about"],
                tells: &["In that country I know of {@cities}."],
            },
        ],
    },
    Intent {
        name: "whereabouts",
        openers: &[
            "I'm at a campsite and my GPS says {latitude}, {longitude}.",
            "A friend sent me the coordinates {latitude}, {longitude}.",
            "",
        ],
        steps: &[
            PlanStep {
                id: "nearest",
                tool: "nearest_city",
                args: &[
                    arg("latitude", Near("latitude"), Raw),
                    arg("longitude", Near("longitude"), Raw),
                ],
                after: None,
                repeat: 0,
                vary: None,
                asks: &[
                    "which city is closest to {latitude}, {longitude}",
                    "the nearest city to the point ({latitude}, {longitude})",
                    "what town I'm closest to at latitude {latitude}, longitude {longitude}",
                ],
                asks_ref: &[],
                tells: &["The nearest city is {@city} in {@country_code|country}, {@distance} km away."],
            },
            PlanStep {
                id: "sunset",
                tool: "sun_times_in_city",
                args: &[
                    arg("city", From("nearest", "city"), Raw),
                    arg("date", Pool("date"), Date),
                ],
                after: Some("nearest"),
                repeat: 1,
                vary: Some("date"),
                asks: &["when the sun sets in {city} on {date}"],
                asks_ref: &["when the sun sets there on {date}"],
                tells: &["On {date} the sun sets at {@sunset_local} in {city}."],
            },
        ],
    },
    Intent {
        name: "countries",
        openers: &[
            "I'm preparing for an international project.",
            "I'm reading up on a few countries before a trip.",
            "I'm pricing a product for several markets.",
            "",
        ],
        steps: &[
            PlanStep {
                id: "country",
                tool: "country_info",
                args: &[arg("country_code", Pool("country_code"), Country)],
                after: None,
                repeat: 2,
                vary: Some("country_code"),
                asks: &[
                    "which currency {country_code} {n:uses|use}",
                    "the official name and currency of {country_code}",
                    "what money people pay with in {country_code}",
                ],
                asks_ref: &[],
                tells: &["{country_code} is officially {@name} and pays in {@currency_code}."],
            },
            PlanStep {
                id: "currency",
                tool: "currency_info",
                args: &[arg("currency_code", From("country", "currency_code"), Currency)],
                after: Some("country"),
                repeat: 0,
                vary: None,
                asks: &["the symbol and decimal places of {currency_code}"],
                asks_ref: &["the symbol and decimal places of that currency"],
                tells: &["The {@name} is written {@symbol} and has {@minor_units} decimal places."],
            },
        ],
    },
    Intent {
        name: "languages",
        openers: &[
            "I'm labelling the language menu of a website.",
            "I'm making flash cards for a language class.",
            "",
        ],
        steps: &[PlanStep {
            id: "language",
            tool: "language_info",
            args: &[arg("language_code", Pool("language_code"), Language)],
            after: None,
            repeat: 2,
            vary: Some("language_code"),
            asks: &[
                "what {language_code} {n:is|are} called by {n:its|their} own speakers",
                "the native name of {language_code}",
                "how to write {language_code} in {n:that language|those languages}",
            ],
            asks_ref: &[],
            tells: &["{language_code} calls itself {@autonym}."],
        }],
    },
    Intent {
        name: "deadline",
        openers: &[
            "A contract I signed on {date} gives me {days} days to respond.",
            "My visa starts on {date} and is valid for {days} days.",
            "I'm starting a {days}-day project on {date}.",
            "The invoice dated {date} is due in {days} days.",
            "",
        ],
        steps: &[
            PlanStep {
                id: "due",
                tool: "add_days",
                args: &[arg("date", Pool("date"), Date), arg("days", Int(&[10, 14, 21, 30, 45, 60, 90]), Raw)],
                after: None,
                repeat: 0,
                vary: None,
                asks: &[
                    "which date is {days} days after {date}",
                    "the date {days} days from {date}",
                    "what the date will be {days} days after {date}",
                ],
                asks_ref: &[],
                tells: &["{days} days after {date} is {@result_date|date}."],
            },
            PlanStep {
                id: "weekday",
                tool: "day_of_week",
                args: &[arg("date", From("due", "result_date"), Date)],
                after: Some("due"),
                repeat: 0,
                vary: None,
                asks: &["what weekday {date} falls on"],
                asks_ref: &["which weekday that falls on", "whether that day is a weekend"],
                tells: &["{date} is a {@weekday}."],
            },
            PlanStep {
                id: "workdays",
                tool: "business_days_between",
                args: &[
                    arg("start_date", Same("due", "date"), Date),
                    arg("end_date", From("due", "result_date"), Date),
                ],
                after: Some("due"),
                repeat: 0,
                vary: None,
                asks: &["how many working days there are between {start_date} and {end_date}"],
                asks_ref: &["how many working days that leaves me"],
                tells: &["That leaves {@business_days} working days."],
            },
        ],
    },
    Intent {
        name: "span",
        openers: &[
            "Our project runs from {start_date} to {end_date}.",
            "I'm on leave from {start_date} until {end_date}.",
            "We rented a cottage from {start_date} to {end_date}.",
            "",
        ],
        steps: &[
            PlanStep {
                id: "days",
                tool: "days_between",
                args: &[
                    arg("start_date", Pool("date"), Date),
                    arg("end_date", After("start_date"), Date),
                ],
                after: None,
                repeat: 0,
                vary: None,
                asks: &[
                    "how many days there are between {start_date} and {end_date}",
                    "how long it is from {start_date} to {end_date} in days",
                    "how many days {start_date} to {end_date} is",
                ],
                asks_ref: &[],
                tells: &["From {start_date} to {end_date} is {@days} days."],
            },
            PlanStep {
                id: "workdays",
                tool: "business_days_between",
                args: &[
                    arg("start_date", Same("days", "start_date"), Date),
                    arg("end_date", Same("days", "end_date"), Date),
                ],
                after: Some("days"),
                repeat: 0,
                vary: None,
                asks: &[
                    "how many working days fall between {start_date} and {end_date}",
                    "how many of those are working days",
                    "how many working days that is",
                ],
                asks_ref: &[],
                tells: &["{@business_days} of them are working days."],
            },
            PlanStep {
                id: "weekday",
                tool: "day_of_week",
                args: &[arg("date", Same("days", "end_date"), Date)],
                after: Some("days"),
                repeat: 0,
                vary: None,
                asks: &["what day of the week {date} is", "what weekday the last day falls on"],
                asks_ref: &[],
                tells: &["{date} is a {@weekday}."],
            },
        ],
    },
    Intent {
        name: "calendar",
        openers: &[
            "I'm planning birthday parties for the family.",
            "I'm checking a few dates for my calendar.",
            "I'm picking a day for our team dinner.",
            "",
        ],
        steps: &[PlanStep {
            id: "weekday",
            tool: "day_of_week",
            args: &[arg("date", Pool("date"), Date)],
            after: None,
            repeat: 2,
            vary: Some("date"),
            asks: &[
                "what day of the week {date} {n:is|are}",
                "which weekday {date} {n:falls|fall} on",
                "whether {date} {n:is a weekday or a weekend|are weekdays or weekends}",
            ],
            asks_ref: &[],
            tells: &["{date} is a {@weekday}."],
        }],
    },
    Intent {
        name: "savings",
        openers: &[
            "I'm thinking about putting {principal} into a savings account.",
            "My grandmother left me {principal} and I'd like to invest it.",
            "I've saved {principal} and want to see how it could grow.",
            "",
        ],
        steps: &[
            PlanStep {
                id: "grow",
                tool: "compound_interest",
                args: &[
                    arg("principal", Num(&[5000.0, 10000.0, 12000.0, 25000.0, 40000.0]), Money),
                    arg("annual_rate_percent", Pool("rate_percent"), Percent),
                    arg("years", Pool("years"), Raw),
                    maybe("compounds_per_year", Int(&[1, 4, 12, 365]), Compounding, 0.5),
                ],
                after: None,
                repeat: 1,
                vary: Some("annual_rate_percent"),
                asks: &[
                    "what {principal} grows to after {years} years at {annual_rate_percent}",
                    "how much interest {principal} earns in {years} years at {annual_rate_percent}",
                    "how much {principal} would be worth in {years} years at {annual_rate_percent} a year",
                    "what {principal} grows to after {years} years at {annual_rate_percent}, {compounds_per_year}",
                    "how much interest {principal} earns over {years} years at {annual_rate_percent} {compounds_per_year}",
                ],
                asks_ref: &[],
                tells: &[
                    "At {annual_rate_percent} it grows to {@final_amount|money}, {@interest_earned|money} of it interest.",
                    "After {years} years at {annual_rate_percent} you would have {@final_amount|money}.",
                ],
            },
            PlanStep {
                id: "borrow",
                tool: "loan_payment",
                args: &[
                    arg("principal", Same("grow", "principal"), Money),
                    arg("annual_rate_percent", Pool("rate_percent"), Percent),
                    arg("months", Int(&[12, 24, 36, 60]), Raw),
                ],
                after: Some("grow"),
                repeat: 0,
                vary: None,
                asks: &[
                    "what I would pay each month if I borrowed {principal} over {months} months at {annual_rate_percent} instead",
                    "the monthly payment if I borrowed that sum over {months} months at {annual_rate_percent}",
                ],
                asks_ref: &[],
                tells: &["Borrowing it would cost {@monthly_payment|money} a month."],
            },
        ],
    },
    Intent {
        name: "mortgage",
        openers: &[
            "We're buying a flat and need to borrow {principal}.",
            "I'm comparing loan offers for {principal}.",
            "The bank offered me {principal} at {annual_rate_percent}.",
            "",
        ],
        steps: &[PlanStep {
            id: "payment",
            tool: "loan_payment",
            args: &[
                arg("principal", Num(&[180000.0, 250000.0, 320000.0, 450000.0]), Money),
                arg("annual_rate_percent", Pool("rate_percent"), Percent),
                arg("months", Int(&[120, 180, 240, 300, 360]), Raw),
            ],
            after: None,
            repeat: 2,
            vary: Some("months"),
            asks: &[
                "the monthly payment on {principal} at {annual_rate_percent} over {months} months",
                "what I would pay each month to borrow {principal} at {annual_rate_percent} for {months} months",
                "how much a {months}-month loan of {principal} at {annual_rate_percent} costs per month",
            ],
            asks_ref: &[],
            tells: &[
                "Over {months} months the payment is {@monthly_payment|money} a month, {@total_interest|money} of interest in all.",
            ],
        }],
    },
    Intent {
        name: "prices",
        openers: &[
            "Our supplier changed some prices this year.",
            "I'm tracking how prices moved since last year.",
            "My rent and a few bills changed recently.",
            "",
        ],
        steps: &[PlanStep {
            id: "change",
            tool: "percentage_change",
            args: &[
                arg("old_value", Num(&[19.99, 45.0, 89.5, 120.0, 240.0]), Money),
                arg("new_value", Num(&[24.5, 52.0, 79.9, 135.0, 210.0]), Money),
            ],
            after: None,
            repeat: 1,
            vary: Some("new_value"),
            asks: &[
                "the percentage change from {old_value} to {new_value}",
                "by how many percent a price went up or down going from {old_value} to {new_value}",
                "how big a change going from {old_value} to {new_value} is in percent",
            ],
            asks_ref: &[],
            tells: &["From {old_value} to {new_value} is a change of {@percent_change} percent."],
        }],
    },
    Intent {
        name: "homework",
        openers: &[
            "I'm helping my kid with maths homework.",
            "I'm checking the answers to a number theory worksheet.",
            "I'm writing a puzzle for a maths club.",
            "",
        ],
        steps: &[
            PlanStep {
                id: "factors",
                tool: "prime_factors",
                args: &[arg("n", Int(&[84, 98, 144, 360, 1001, 1234, 2026, 5040, 7776, 9240]), Raw)],
                after: None,
                repeat: 2,
                vary: Some("n"),
                asks: &[
                    "the prime factorisation of {n}",
                    "which primes multiply to {n}",
                    "whether {n} {n:is|are} prime, and {n:its|their} prime factors",
                ],
                asks_ref: &[],
                tells: &["{n} = {@factors}."],
            },
            PlanStep {
                id: "gcd",
                tool: "gcd_lcm",
                args: &[arg("a", Same("factors", "n"), Raw), arg("b", Int(&[18, 42, 60, 126, 210, 252]), Raw)],
                after: Some("factors"),
                repeat: 0,
                vary: None,
                asks: &[
                    "the greatest common divisor and least common multiple of {a} and {b}",
                    "its GCD and LCM with {b}",
                ],
                asks_ref: &[],
                tells: &["Their GCD is {@gcd} and their LCM is {@lcm}."],
            },
        ],
    },
    Intent {
        name: "data",
        openers: &[
            "I logged some measurements this week.",
            "I have a short list of figures from a spreadsheet.",
            "My fitness tracker exported these readings.",
            "",
        ],
        steps: &[
            PlanStep {
                id: "summary",
                tool: "describe_numbers",
                args: &[arg("numbers", Pool("numbers"), Raw)],
                after: None,
                repeat: 0,
                vary: None,
                asks: &[
                    "the mean, median and spread of {numbers}",
                    "a quick summary of these values: {numbers}",
                    "the average and the range of {numbers}",
                ],
                asks_ref: &[],
                tells: &["The mean is {@mean}, the median {@median}, from {@min} to {@max}."],
            },
            PlanStep {
                id: "percentile",
                tool: "percentile",
                args: &[
                    arg("numbers", Same("summary", "numbers"), Raw),
                    arg("p", Pool("percent"), Ordinal),
                ],
                after: Some("summary"),
                repeat: 2,
                vary: Some("p"),
                asks: &[
                    "the {p} {n:percentile|percentiles} of {numbers}",
                    "their {p} {n:percentile|percentiles}",
                ],
                asks_ref: &[],
                tells: &["The {p} percentile is {@value}."],
            },
        ],
    },
    Intent {
        name: "kitchen",
        openers: &[
            "I'm baking from a European recipe.",
            "My grandmother's recipe is all in metric.",
            "I'm cooking for friends in the US.",
            "",
        ],
        steps: &[
            PlanStep {
                id: "mass",
                tool: "convert_mass",
                args: &[
                    arg("value", Num(&[125.0, 200.0, 250.0, 350.0, 500.0]), Raw),
                    arg("from_unit", Str(&["g"]), Unit),
                    arg("to_unit", Str(&["oz", "lb"]), Unit),
                ],
                after: None,
                repeat: 1,
                vary: Some("value"),
                asks: &[
                    "what {value} {from_unit} {n:is|are} in {to_unit}",
                    "how many {to_unit} {value} {from_unit} {n:comes|come} to",
                    "{value} {from_unit} of flour in {to_unit}",
                ],
                asks_ref: &[],
                tells: &["{value} {from_unit} is {@result} {to_unit}."],
            },
            PlanStep {
                id: "volume",
                tool: "convert_volume",
                args: &[
                    arg("value", Num(&[150.0, 250.0, 300.0, 500.0, 750.0]), Raw),
                    arg("from_unit", Str(&["ml"]), Unit),
                    arg("to_unit", Str(&["cup_us", "fl_oz_us"]), Unit),
                ],
                after: None,
                repeat: 1,
                vary: Some("value"),
                asks: &[
                    "what {value} {from_unit} {n:is|are} in {to_unit}",
                    "how many {to_unit} make {value} {from_unit}",
                    "{value} {from_unit} of milk in {to_unit}",
                ],
                asks_ref: &[],
                tells: &["{value} {from_unit} is {@result} {to_unit}."],
            },
            PlanStep {
                id: "oven",
                tool: "convert_temperature",
                args: &[
                    arg("value", Num(&[160.0, 180.0, 200.0, 220.0]), Raw),
                    arg("from_unit", Str(&["celsius"]), Unit),
                    arg("to_unit", Str(&["fahrenheit"]), Unit),
                ],
                after: None,
                repeat: 0,
                vary: None,
                asks: &[
                    "what an oven temperature of {value} {from_unit} is in {to_unit}",
                    "what {value} degrees {from_unit} is in {to_unit}",
                    "the {to_unit} setting for an oven at {value} {from_unit}",
                ],
                asks_ref: &[],
                tells: &["{value} {from_unit} is {@result} {to_unit}."],
            },
        ],
    },
    Intent {
        name: "running",
        openers: &[
            "I'm training for a race.",
            "I'm logging my runs.",
            "My running club posts distances in miles.",
            "",
        ],
        steps: &[PlanStep {
            id: "length",
            tool: "convert_length",
            args: &[
                arg("value", Num(&[5.0, 10.0, 15.0, 21.0975, 42.195]), Raw),
                arg("from_unit", Str(&["km"]), Unit),
                arg("to_unit", Str(&["mi"]), Unit),
            ],
            after: None,
            repeat: 2,
            vary: Some("value"),
            asks: &["what {value} {from_unit} {n:is|are} in {to_unit}", "how many {to_unit} {value} {from_unit} {n:is|are}"],
            asks_ref: &[],
            tells: &["{value} {from_unit} is {@result} {to_unit}."],
        }],
    },
    Intent {
        name: "customer",
        openers: &[
            "A customer with the account {customer_id} just called our support line.",
            "I'm reviewing the account of customer {customer_id}.",
            "Customer {customer_id} emailed about a delivery.",
            "",
        ],
        steps: &[
            PlanStep {
                id: "profile",
                tool: "get_customer",
                args: &[arg("customer_id", Shared("customer_id"), Raw)],
                after: None,
                repeat: 0,
                vary: None,
                asks: &[
                    "who customer {customer_id} is and where they live",
                    "the name and city on the account {customer_id}",
                    "who they are and where they live",
                ],
                asks_ref: &[],
                tells: &["{customer_id} is {@name} from {@city}, a customer since {@joined|date}."],
            },
            PlanStep {
                id: "orders",
                tool: "list_customer_orders",
                args: &[arg("customer_id", Shared("customer_id"), Raw)],
                after: None,
                repeat: 0,
                vary: None,
                asks: &[
                    "which orders customer {customer_id} has placed",
                    "the order history of account {customer_id}",
                    "which orders they have placed",
                ],
                asks_ref: &[],
                tells: &["{customer_id} has placed {@order_count} orders."],
            },
            PlanStep {
                id: "order",
                tool: "get_order",
                args: &[arg("order_id", From("orders", "orders[last].order_id"), Raw)],
                after: Some("orders"),
                repeat: 0,
                vary: None,
                asks: &["what is in order {order_id} and whether it has shipped"],
                asks_ref: &["what is in their most recent order and whether it has shipped"],
                tells: &["Order {order_id} is {@status}; it holds {@items}."],
            },
            PlanStep {
                id: "product",
                tool: "get_product",
                args: &[arg("product_id", From("order", "items[first].product_id"), Raw)],
                after: Some("order"),
                repeat: 0,
                vary: None,
                asks: &["what product {product_id} is and what it costs"],
                asks_ref: &["what the first item in it costs"],
                tells: &["{product_id} is the {@name} at {@unit_price|money}."],
            },
        ],
    },
    Intent {
        name: "sales",
        openers: &[
            "I'm preparing the quarterly report for our shop.",
            "The board wants our sales numbers.",
            "We're planning next season's stock.",
            "",
        ],
        steps: &[
            PlanStep {
                id: "summary",
                tool: "sales_summary",
                args: &[
                    arg("start_date", Pool("sales_date"), Date),
                    arg("end_date", After("start_date"), Date),
                ],
                after: None,
                repeat: 0,
                vary: None,
                asks: &[
                    "how much revenue we made between {start_date} and {end_date}",
                    "our sales from {start_date} to {end_date}",
                    "how many orders came in from {start_date} to {end_date} and what they were worth",
                ],
                asks_ref: &[],
                tells: &["From {start_date} to {end_date} we took {@orders} orders worth {@revenue|money}."],
            },
            PlanStep {
                id: "best",
                tool: "get_product",
                args: &[arg("product_id", From("summary", "top_product_id"), Raw)],
                after: Some("summary"),
                repeat: 0,
                vary: None,
                asks: &["what product {product_id} is and what it sells for"],
                asks_ref: &["what the best seller was and what it sells for"],
                tells: &["The best seller was the {@name} ({product_id}) at {@unit_price|money}."],
            },
        ],
    },
    Intent {
        name: "catalogue",
        openers: &["I'm updating our online shop.", "A customer asked about our range.", ""],
        steps: &[PlanStep {
            id: "range",
            tool: "list_products",
            args: &[arg("category", Pool("category"), Raw)],
            after: None,
            repeat: 1,
            vary: Some("category"),
            asks: &[
                "which {category} products we sell and at what prices",
                "our {category} range with prices",
                "what we have in stock under {category}",
            ],
            asks_ref: &[],
            tells: &["In {category} we sell {@products}."],
        }],
    },
    Intent {
        name: "writing",
        openers: &[
            "Here is a line from our newsletter: {text}",
            "I wrote this note: {text}",
            "Take this sentence: {text}",
            "A friend texted me {text}",
        ],
        steps: &[
            PlanStep {
                id: "count",
                tool: "word_count",
                args: &[arg("text", Shared("text"), Quoted)],
                after: None,
                repeat: 0,
                vary: None,
                asks: &["how many words and sentences it has", "how long it is in words"],
                asks_ref: &[],
                tells: &["It has {@words} words in {@sentences} sentences."],
            },
            PlanStep {
                id: "case",
                tool: "change_case",
                args: &[
                    arg("text", Shared("text"), Quoted),
                    arg("case", Str(&["upper", "title"]), Raw),
                ],
                after: None,
                repeat: 0,
                vary: None,
                asks: &["what it looks like in {case} case"],
                asks_ref: &[],
                tells: &["In {case} case: {@result}"],
            },
            PlanStep {
                id: "words",
                tool: "top_words",
                args: &[
                    arg("text", Shared("text"), Quoted),
                    maybe("limit", Int(&[2, 3]), Raw, 0.5),
                ],
                after: None,
                repeat: 0,
                vary: None,
                asks: &[
                    "which words it uses most",
                    "the {limit} words it uses most",
                    "its {limit} most frequent words",
                ],
                asks_ref: &[],
                tells: &["Its most frequent words are {@top}."],
            },
            PlanStep {
                id: "slug",
                tool: "slugify",
                args: &[arg("text", Shared("text"), Quoted)],
                after: None,
                repeat: 0,
                vary: None,
                asks: &["a URL slug for it"],
                asks_ref: &[],
                tells: &["A slug for it is {@slug}."],
            },
            PlanStep {
                id: "numbers",
                tool: "extract_numbers",
                args: &[arg("text", Shared("text"), Quoted)],
                after: None,
                repeat: 0,
                vary: None,
                asks: &["which numbers it mentions"],
                asks_ref: &[],
                tells: &["It mentions {@numbers}."],
            },
            PlanStep {
                id: "stats",
                tool: "describe_numbers",
                args: &[arg("numbers", From("numbers", "numbers"), Raw)],
                after: Some("numbers"),
                repeat: 0,
                vary: None,
                asks: &["the average of {numbers}"],
                asks_ref: &["their average"],
                tells: &["Their mean is {@mean}."],
            },
        ],
    },
    Intent {
        name: "workspace",
        openers: &[
            "I'm tidying up my workspace.",
            "I'm looking for something in my notes.",
            "I'm preparing a handover of my documents.",
            "",
        ],
        steps: &[
            PlanStep {
                id: "search",
                tool: "search_files",
                args: &[arg("query", Pool("search_term"), Raw)],
                after: None,
                repeat: 0,
                vary: None,
                asks: &[
                    "which of my files mention \"{query}\"",
                    "where \"{query}\" comes up in my files",
                    "which documents talk about \"{query}\"",
                ],
                asks_ref: &[],
                tells: &["\"{query}\" appears {@match_count} times."],
            },
            PlanStep {
                id: "size",
                tool: "file_info",
                args: &[arg("path", From("search", "matches[first].path"), Raw)],
                after: Some("search"),
                repeat: 0,
                vary: None,
                asks: &["how long {path} is"],
                asks_ref: &["how long the first file that matches is"],
                tells: &["{path} has {@lines} lines and {@words} words."],
            },
            PlanStep {
                id: "list",
                tool: "list_files",
                args: &[arg("directory", Pool("directory"), Raw)],
                after: None,
                repeat: 0,
                vary: None,
                asks: &["which files are in my {directory} folder"],
                asks_ref: &[],
                tells: &["The {directory} folder holds {@files}."],
            },
        ],
    },
];
