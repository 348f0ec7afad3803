//! Resume equivalence, alone in its test binary: dropout draws from the
//! backend's process-wide generator, which trainings running in parallel
//! threads of one process would share.

mod common;

use toolgrad_train::config::{Method, TrainConfig};
use toolgrad_train::trainer::train;

use common::{dataset, handful, quick, request, tiny_model, train_losses};

fn resumable() -> TrainConfig {
    TrainConfig {
        epochs: 4,
        save_every: 2,
        eval_fraction: 0.34,
        eval_every: 3,
        lora: toolgrad_model::lora::LoraSpec {
            rank: 4,
            alpha: 8.0,
            dropout: 0.1,
            ..Default::default()
        },
        ..quick(Method::Lora)
    }
}

#[test]
fn a_stopped_run_resumes_to_the_same_loss() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let data = dataset(dir.path(), &handful());
    let straight = dir.path().join("straight");
    let whole = train(&request(&model, &data, &straight, resumable())).unwrap();

    let split = dir.path().join("split");
    let mut first = request(&model, &data, &split, resumable());
    first.stop_after = Some(3);
    let part = train(&first).unwrap();
    assert_eq!(part.steps, 3);
    assert!(
        !split.join("model").exists(),
        "a stopped run does not export"
    );
    let rest = train(&request(&model, &data, &split, resumable())).unwrap();
    assert_eq!(rest.resumed_from, Some(3));
    assert_eq!(
        format!("{:.6}", rest.final_loss.unwrap()),
        format!("{:.6}", whole.final_loss.unwrap())
    );
    assert_eq!(rest.eval_loss, whole.eval_loss);
    assert_eq!(train_losses(&split), train_losses(&straight));

    // Another config does not resume into the same folder.
    let other = TrainConfig {
        learning_rate: 5e-3,
        ..resumable()
    };
    let error = train(&request(&model, &data, &split, other)).unwrap_err();
    assert!(error.to_string().contains("another config"), "{error}");
}
