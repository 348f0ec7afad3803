//! A bounded fuzz campaign in CI: every target on its seeds and a few thousand
//! mutated inputs (`TOOLGRAD_FUZZ_INPUTS` to change), with no panic allowed.
//! A failing input is saved under `target/fuzz-crashes/` for `fuzz_campaign --replay`.

use std::path::Path;

use toolgrad_fuzz::targets::TARGETS;

#[test]
fn no_target_panics_on_mutated_inputs() {
    let inputs = std::env::var("TOOLGRAD_FUZZ_INPUTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3_000);
    let crashes = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-crashes");
    toolgrad_fuzz::quiet_panics();
    let mut failures = Vec::new();
    for target in TARGETS {
        let report = toolgrad_fuzz::run(target, inputs, 1, &crashes).unwrap();
        eprintln!(
            "{:<24} {:>3} seeds {:>7} inputs {:>6.0}/s {} panics",
            report.target,
            report.seeds,
            report.inputs,
            report.inputs as f64 / report.elapsed.as_secs_f64(),
            report.panics
        );
        // SmolLM2's header is there once scripts/setup.sh has run.
        assert!(
            report.seeds > 0 || report.target == "gguf_smollm2_header",
            "{} has no seeds",
            report.target
        );
        if report.panics > 0 {
            failures.push(format!("{}: {:?}", report.target, report.crashes));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
