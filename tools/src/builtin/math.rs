//! Arithmetic a person asks for: percentage change, interest, loans, factors.

use serde_json::{json, Value};

use super::spec::{opt, req, round, Args, Builtin, Ty};
use super::Env;

pub const TOOLS: &[Builtin] = &[
    Builtin {
        name: "percentage_change",
        domain: "math",
        description: "Computes the absolute and percentage change from an old value to a new value.",
        params: &[
            req("old_value", Ty::Num, "value", "The starting value."),
            req("new_value", Ty::Num, "value", "The final value."),
        ],
        outputs: &[],
        asks: &[
            "work out the percentage change from {old_value} to {new_value}",
            "tell me by how many percent {old_value} changes when it becomes {new_value}",
        ],
        tells: &[
            "Going from {old_value} to {new_value} is a change of {change}, or {percent_change}%.",
            "The change from {old_value} to {new_value} is {percent_change}% ({change}).",
        ],
        run: percentage_change,
    },
    Builtin {
        name: "compound_interest",
        domain: "math",
        description: "Grows a principal at an annual interest rate, compounded a number of times per year.",
        params: &[
            req("principal", Ty::Num, "amount", "The starting amount."),
            req("annual_rate_percent", Ty::Num, "rate_percent", "Yearly interest rate in percent."),
            req("years", Ty::Int, "years", "How many years it grows."),
            opt("compounds_per_year", Ty::Int, "compounds", "Compounding periods per year (default 12)."),
        ],
        outputs: &[("final_amount", "amount"), ("interest_earned", "amount")],
        asks: &[
            "calculate what {principal} grows to after {years} years at {annual_rate_percent}% interest",
            "tell me how much interest {principal} earns over {years} years at an annual rate of {annual_rate_percent}%",
        ],
        tells: &[
            "At {annual_rate_percent}% for {years} years, {principal} grows to {final_amount}, earning {interest_earned} in interest.",
            "{principal} invested for {years} years at {annual_rate_percent}% becomes {final_amount} (interest: {interest_earned}).",
        ],
        run: compound_interest,
    },
    Builtin {
        name: "loan_payment",
        domain: "math",
        description: "Computes the fixed monthly payment of an amortising loan.",
        params: &[
            req("principal", Ty::Num, "amount", "The amount borrowed."),
            req("annual_rate_percent", Ty::Num, "rate_percent", "Yearly interest rate in percent."),
            req("months", Ty::Int, "months", "Number of monthly payments."),
        ],
        outputs: &[],
        asks: &[
            "figure out the monthly payment on a loan of {principal} at {annual_rate_percent}% over {months} months",
            "work out what I would pay each month to borrow {principal} for {months} months at {annual_rate_percent}%",
        ],
        tells: &[
            "Borrowing {principal} at {annual_rate_percent}% over {months} months costs {monthly_payment} a month, {total_paid} in total ({total_interest} of interest).",
            "The monthly payment would be {monthly_payment}; over {months} months you pay {total_paid}, of which {total_interest} is interest.",
        ],
        run: loan_payment,
    },
    Builtin {
        name: "prime_factors",
        domain: "math",
        description: "Factorises a positive integer into primes.",
        params: &[req("n", Ty::Int, "integer", "The integer to factorise (2 to 10^12).")],
        outputs: &[("factors", "integers")],
        asks: &["break {n} down into its prime factors", "find the prime factorisation of {n}"],
        tells: &["{n} factors into the primes {factors}.", "The prime factors of {n} are {factors}."],
        run: prime_factors,
    },
    Builtin {
        name: "gcd_lcm",
        domain: "math",
        description: "Greatest common divisor and least common multiple of two positive integers.",
        params: &[
            req("a", Ty::Int, "integer", "First integer."),
            req("b", Ty::Int, "integer", "Second integer."),
        ],
        outputs: &[],
        asks: &[
            "find the greatest common divisor and least common multiple of {a} and {b}",
            "tell me the GCD and LCM of {a} and {b}",
        ],
        tells: &[
            "The GCD of {a} and {b} is {gcd} and their LCM is {lcm}.",
            "{a} and {b} share a greatest common divisor of {gcd}; their least common multiple is {lcm}.",
        ],
        run: gcd_lcm,
    },
];

fn percentage_change(_: &Env, args: &Args) -> Result<Value, String> {
    let old = args.f64("old_value")?;
    let new = args.f64("new_value")?;
    if old == 0.0 {
        return Err("old_value must not be zero".into());
    }
    Ok(json!({
        "old_value": old,
        "new_value": new,
        "change": round(new - old, 4),
        "percent_change": round((new - old) / old.abs() * 100.0, 2),
    }))
}

fn compound_interest(_: &Env, args: &Args) -> Result<Value, String> {
    let principal = args.f64("principal")?;
    let rate = args.f64("annual_rate_percent")? / 100.0;
    let years = args.i64("years")?;
    let n = args.opt_i64("compounds_per_year")?.unwrap_or(12);
    if !(1..=365).contains(&n) || !(0..=100).contains(&years) {
        return Err("compounds_per_year must be 1..365 and years 0..100".into());
    }
    let amount = principal * (1.0 + rate / n as f64).powf((n * years) as f64);
    Ok(json!({
        "principal": principal,
        "annual_rate_percent": rate * 100.0,
        "years": years,
        "compounds_per_year": n,
        "final_amount": round(amount, 2),
        "interest_earned": round(amount - principal, 2),
    }))
}

fn loan_payment(_: &Env, args: &Args) -> Result<Value, String> {
    let principal = args.f64("principal")?;
    let monthly_rate = args.f64("annual_rate_percent")? / 1200.0;
    let months = args.i64("months")?;
    if !(1..=1200).contains(&months) {
        return Err("months must be between 1 and 1200".into());
    }
    let payment = if monthly_rate == 0.0 {
        principal / months as f64
    } else {
        principal * monthly_rate / (1.0 - (1.0 + monthly_rate).powf(-(months as f64)))
    };
    let total = payment * months as f64;
    Ok(json!({
        "principal": principal,
        "months": months,
        "monthly_payment": round(payment, 2),
        "total_paid": round(total, 2),
        "total_interest": round(total - principal, 2),
    }))
}

fn prime_factors(_: &Env, args: &Args) -> Result<Value, String> {
    let n = args.i64("n")?;
    if !(2..=1_000_000_000_000).contains(&n) {
        return Err("n must be between 2 and 10^12".into());
    }
    let (mut rest, mut factors, mut p) = (n, Vec::new(), 2);
    while p * p <= rest {
        while rest % p == 0 {
            factors.push(p);
            rest /= p;
        }
        p += 1;
    }
    if rest > 1 {
        factors.push(rest);
    }
    Ok(json!({ "n": n, "factors": factors, "is_prime": factors.len() == 1 }))
}

fn gcd_lcm(_: &Env, args: &Args) -> Result<Value, String> {
    let (a, b) = (args.i64("a")?, args.i64("b")?);
    if a <= 0 || b <= 0 {
        return Err("a and b must be positive".into());
    }
    let (mut x, mut y) = (a, b);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    let lcm = (a / x)
        .checked_mul(b)
        .ok_or("the LCM exceeds the 64-bit integer range")?;
    Ok(json!({ "a": a, "b": b, "gcd": x, "lcm": lcm }))
}
