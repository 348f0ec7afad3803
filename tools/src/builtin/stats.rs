//! Descriptive statistics, percentiles, correlation and simple regression.

use serde_json::{json, Value};

use super::spec::{req, round, Args, Builtin, Ty};
use super::Env;

pub const TOOLS: &[Builtin] = &[
    Builtin {
        name: "describe_numbers",
        domain: "statistics",
        description: "Count, sum, mean, median, standard deviation, minimum and maximum of a list of numbers.",
        params: &[req("numbers", Ty::NumList, "numbers", "The numbers to summarise.")],
        outputs: &[("mean", "value"), ("median", "value"), ("sum", "value"), ("max", "value")],
        asks: &[
            "give me summary statistics (mean, median, spread) for {numbers}",
            "summarise the numbers {numbers} with their average, median and standard deviation",
        ],
        tells: &[
            "Across {count} values the mean is {mean}, the median {median}, and the standard deviation {std_dev} (range {min} to {max}, sum {sum}).",
            "Those {count} numbers sum to {sum}; mean {mean}, median {median}, standard deviation {std_dev}.",
        ],
        run: describe_numbers,
    },
    Builtin {
        name: "percentile",
        domain: "statistics",
        description: "The p-th percentile (linear interpolation) of a list of numbers.",
        params: &[
            req("numbers", Ty::NumList, "numbers", "The data."),
            req("p", Ty::Num, "percent", "Percentile between 0 and 100."),
        ],
        outputs: &[("value", "value")],
        asks: &["find the {p}th percentile of {numbers}", "tell me the {p}th percentile of the values {numbers}"],
        tells: &["The {p}th percentile is {value}.", "{value} is the {p}th percentile of those values."],
        run: percentile,
    },
    Builtin {
        name: "correlation",
        domain: "statistics",
        description: "Pearson correlation coefficient of two equally long lists.",
        params: &[
            req("xs", Ty::NumList, "xs", "First variable."),
            req("ys", Ty::NumList, "ys", "Second variable, same length."),
        ],
        outputs: &[],
        asks: &["check how strongly {xs} and {ys} are correlated", "compute the Pearson correlation between {xs} and {ys}"],
        tells: &["The Pearson correlation is {pearson_r} over {n} pairs.", "Those series correlate with r = {pearson_r}."],
        run: correlation,
    },
    Builtin {
        name: "linear_regression",
        domain: "statistics",
        description: "Least-squares line y = slope * x + intercept, with R squared.",
        params: &[
            req("xs", Ty::NumList, "xs", "Predictor values."),
            req("ys", Ty::NumList, "ys", "Response values, same length."),
        ],
        outputs: &[],
        asks: &["fit a straight line through x = {xs} and y = {ys}", "run a linear regression of {ys} on {xs}"],
        tells: &[
            "The best-fit line is y = {slope}x + {intercept} (R² = {r_squared}).",
            "Regression gives slope {slope}, intercept {intercept}, R² {r_squared}.",
        ],
        run: linear_regression,
    },
];

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn describe_numbers(_: &Env, args: &Args) -> Result<Value, String> {
    let xs = args.numbers("numbers")?;
    let m = mean(&xs);
    let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64;
    let s = sorted(&xs);
    Ok(json!({
        "count": xs.len(),
        "sum": round(xs.iter().sum(), 4),
        "mean": round(m, 4),
        "median": round(quantile(&s, 0.5), 4),
        "std_dev": round(var.sqrt(), 4),
        "min": s[0],
        "max": s[s.len() - 1],
    }))
}

fn percentile(_: &Env, args: &Args) -> Result<Value, String> {
    let xs = args.numbers("numbers")?;
    let p = args.f64("p")?;
    if !(0.0..=100.0).contains(&p) {
        return Err("p must be between 0 and 100".into());
    }
    Ok(json!({ "p": p, "value": round(quantile(&sorted(&xs), p / 100.0), 4), "count": xs.len() }))
}

fn pairs(args: &Args) -> Result<(Vec<f64>, Vec<f64>), String> {
    let (xs, ys) = (args.numbers("xs")?, args.numbers("ys")?);
    if xs.len() != ys.len() || xs.len() < 2 {
        return Err(format!(
            "xs and ys must have the same length of at least 2 (got {} and {})",
            xs.len(),
            ys.len()
        ));
    }
    Ok((xs, ys))
}

fn moments(xs: &[f64], ys: &[f64]) -> (f64, f64, f64) {
    let (mx, my) = (mean(xs), mean(ys));
    let sxy = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let syy = ys.iter().map(|y| (y - my).powi(2)).sum();
    (sxy, sxx, syy)
}

fn correlation(_: &Env, args: &Args) -> Result<Value, String> {
    let (xs, ys) = pairs(args)?;
    let (sxy, sxx, syy) = moments(&xs, &ys);
    if sxx == 0.0 || syy == 0.0 {
        return Err("a constant series has no correlation".into());
    }
    Ok(json!({ "n": xs.len(), "pearson_r": round(sxy / (sxx * syy).sqrt(), 4) }))
}

fn linear_regression(_: &Env, args: &Args) -> Result<Value, String> {
    let (xs, ys) = pairs(args)?;
    let (sxy, sxx, syy) = moments(&xs, &ys);
    if sxx == 0.0 {
        return Err("xs must not be constant".into());
    }
    let slope = sxy / sxx;
    let intercept = mean(&ys) - slope * mean(&xs);
    let r2 = if syy == 0.0 {
        1.0
    } else {
        sxy * sxy / (sxx * syy)
    };
    Ok(json!({
        "n": xs.len(),
        "slope": round(slope, 4),
        "intercept": round(intercept, 4),
        "r_squared": round(r2, 4),
    }))
}
