//! Countries, currencies and languages from ISO tables shipped in crates
//! (`celes` for ISO 3166, `iso_currency` for ISO 4217, `isolang` for ISO 639).

use iso_currency::{Country as CurrencyCountry, Currency};
use isolang::Language;
use serde_json::{json, Value};

use super::spec::{req, Args, Builtin, Ty};
use super::Env;

pub const TOOLS: &[Builtin] = &[
    Builtin {
        name: "country_info",
        domain: "countries",
        description: "Name, ISO codes and main currency of a country given its alpha-2 code.",
        params: &[req(
            "country_code",
            Ty::Str,
            "country_code",
            "ISO 3166 alpha-2 code, e.g. FR.",
        )],
        outputs: &[("name", "country_name"), ("currency_code", "currency_code")],
        asks: &[
            "tell me the full name and currency of the country with code {country_code}",
            "look up country {country_code} and which currency it uses",
        ],
        tells: &[
            "{country_code} is {name} ({alpha3}); its currency is {currency_code}.",
            "Country code {country_code} stands for {name}, which pays in {currency_code}.",
        ],
        run: country_info,
    },
    Builtin {
        name: "country_code_lookup",
        domain: "countries",
        description: "ISO 3166 alpha-2 and alpha-3 codes of a country given its English name.",
        params: &[req(
            "country_name",
            Ty::Str,
            "country_name",
            "English country name, e.g. Japan.",
        )],
        outputs: &[("country_code", "country_code")],
        asks: &[
            "find the ISO country code of {country_name}",
            "tell me the two-letter code for {country_name}",
        ],
        tells: &[
            "{country_name} has the ISO code {country_code} ({alpha3}).",
            "The country code of {country_name} is {country_code}.",
        ],
        run: country_code_lookup,
    },
    Builtin {
        name: "currency_info",
        domain: "countries",
        description: "Name, symbol, minor units and users of an ISO 4217 currency.",
        params: &[req(
            "currency_code",
            Ty::Str,
            "currency_code",
            "Three-letter code, e.g. EUR.",
        )],
        outputs: &[("name", "currency_name"), ("used_in[]", "country_code")],
        asks: &[
            "tell me about the currency {currency_code}: its name, symbol and decimal places",
            "look up the currency {currency_code}",
        ],
        tells: &[
            "{currency_code} is the {name} (symbol {symbol}, {minor_units} decimal places).",
            "The {name} ({currency_code}, {symbol}) uses {minor_units} decimals.",
        ],
        run: currency_info,
    },
    Builtin {
        name: "language_info",
        domain: "countries",
        description:
            "English name, native name and ISO 639-3 code of a language given its ISO 639-1 code.",
        params: &[req(
            "language_code",
            Ty::Str,
            "language_code",
            "Two-letter ISO 639-1 code, e.g. pt.",
        )],
        outputs: &[("name", "language_name")],
        asks: &[
            "tell me which language has the code {language_code} and what it calls itself",
            "look up the language code {language_code}",
        ],
        tells: &[
            "{language_code} is {name}, natively {autonym} (ISO 639-3: {iso639_3}).",
            "The code {language_code} means {name} ({autonym}).",
        ],
        run: language_info,
    },
];

fn country(code: &str) -> Result<celes::Country, String> {
    celes::Country::from_alpha2(code.trim())
        .map_err(|_| format!("`{code}` is not an ISO 3166 alpha-2 country code"))
}

fn main_currency(alpha2: &str) -> Option<Currency> {
    let country: CurrencyCountry = alpha2.parse().ok()?;
    Currency::from_country(country)
        .into_iter()
        .find(|c| c.flags().is_empty())
}

fn country_info(_: &Env, args: &Args) -> Result<Value, String> {
    let c = country(args.str("country_code")?)?;
    Ok(json!({
        "country_code": c.alpha2,
        "name": c.long_name,
        "alpha3": c.alpha3,
        "numeric_code": c.code,
        "currency_code": main_currency(c.alpha2).map(|cur| cur.code()),
    }))
}

fn country_code_lookup(_: &Env, args: &Args) -> Result<Value, String> {
    let name = args.str("country_name")?;
    let c = celes::Country::from_name(name.trim())
        .or_else(|_| celes::Country::from_alias(name.trim()))
        .map_err(|_| format!("no country named `{name}`"))?;
    Ok(json!({ "country_name": c.long_name, "country_code": c.alpha2, "alpha3": c.alpha3 }))
}

fn currency_info(_: &Env, args: &Args) -> Result<Value, String> {
    let code = args.str("currency_code")?.trim().to_ascii_uppercase();
    let currency = Currency::from_code(&code)
        .ok_or_else(|| format!("`{code}` is not an ISO 4217 currency code"))?;
    let used_in: Vec<String> = currency
        .used_by()
        .iter()
        .map(|c| format!("{c:?}"))
        .collect();
    Ok(json!({
        "currency_code": currency.code(),
        "name": currency.name(),
        "symbol": currency.symbol().to_string(),
        "minor_units": currency.exponent(),
        "used_in": used_in,
    }))
}

fn language_info(_: &Env, args: &Args) -> Result<Value, String> {
    let code = args.str("language_code")?.trim().to_ascii_lowercase();
    let language = Language::from_639_1(&code)
        .ok_or_else(|| format!("`{code}` is not an ISO 639-1 language code"))?;
    Ok(json!({
        "language_code": code,
        "name": language.to_name(),
        "autonym": language.to_autonym(),
        "iso639_3": language.to_639_3(),
    }))
}
