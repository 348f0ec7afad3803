//! The no-gradient ablation (`selector = "random"`): the selector picks one
//! successful report uniformly at random, seeded by seed and step, and gives
//! no reason for it. Only the chain target is still derived from the report's
//! data flow, since appending a call that uses no earlier result would break
//! the chain.

use futures_util::future::BoxFuture;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Context, Gradient, Report, RoleError, Selector};
use crate::workflow::ChainTarget;

/// Mixed into the seed so the choice is independent of the tool sampling.
const STREAM: u64 = 0x5e1e_c7ed_0000_0001;

#[derive(Debug, Clone, Copy, Default)]
pub struct RandomSelector;

impl Selector for RandomSelector {
    fn select<'a>(
        &'a self,
        cx: &'a Context<'a>,
        reports: &'a [Report],
    ) -> BoxFuture<'a, Result<Gradient, RoleError>> {
        Box::pin(async move {
            let candidates: Vec<&Report> = reports.iter().filter(|r| r.step.is_some()).collect();
            if candidates.is_empty() {
                return Ok(Gradient {
                    chosen: None,
                    reason: "random choice: no successful report".into(),
                    target: ChainTarget::NewChain,
                    evidence: Vec::new(),
                });
            }
            let mut rng = StdRng::seed_from_u64(cx.seed ^ STREAM ^ cx.step.rotate_left(32));
            let report = candidates[rng.random_range(0..candidates.len())];
            let target = match report.data_flow.first() {
                Some(flow) => ChainTarget::Append(flow.chain_id.clone()),
                None => ChainTarget::NewChain,
            };
            Ok(Gradient {
                chosen: Some(report.id.clone()),
                reason: format!("random choice: report {}", report.id),
                target,
                evidence: Vec::new(),
            })
        })
    }
}
