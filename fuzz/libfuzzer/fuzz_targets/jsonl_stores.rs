//! libFuzzer entry for the `jsonl_stores` target of toolgrad-fuzz.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toolgrad_fuzz::{seeds::Scratch, targets::target};

thread_local! {
    static SCRATCH: Scratch = Scratch::new().expect("a scratch folder");
}

fuzz_target!(|data: &[u8]| {
    let run = target("jsonl_stores").expect("a known target").run;
    SCRATCH.with(|scratch| run(data, scratch));
});
