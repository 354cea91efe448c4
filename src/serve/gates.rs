//! Safe-window gates (preconditions) in `/ready`: every gate of the configuration that applies
//! in the server's environment is evaluated read-only (the engine's
//! [`migration_engine::run::gates::evaluate`]) and reported. A failing gate is a `precondition`
//! reason (503) while migrations are pending: the schema cannot be brought current now. With
//! nothing pending it is reported but does not make the database unready: in a running plant
//! robots move all the time, and an application must not drop out of service for that.
//! Migration requests need nothing here: the engine's runner checks the gates itself before
//! it changes anything.

use migration_engine::Runner;
use migration_engine::run::gates::{GateResult, GateStatus, evaluate};

use crate::serve::state::AppState;

/// Every configured gate that applies in the server's environment, evaluated now.
pub async fn results(state: &AppState, runner: &Runner) -> Vec<GateResult> {
    let o = state.options();
    let mut results = evaluate(runner.connection(), &o.config, o.environment).await;
    for r in &mut results {
        r.saw = o.url.scrub(&r.saw);
    }
    results
}

/// The failing gates among `results`: each gate's name and what to tell the operator.
pub fn failing(state: &AppState, results: &[GateResult]) -> Vec<(String, String)> {
    let o = state.options();
    results
        .iter()
        .filter(|r| r.status == GateStatus::Fail)
        .map(|r| {
            (
                r.name.clone(),
                o.url.scrub(&format!(
                    "safe-window gate {}: a migration would be refused now; wait for a safe state \
                     (or skip the gate with \"skip_gates\", which the history records)",
                    r.describe()
                )),
            )
        })
        .collect()
}
